import { fileURLToPath } from 'node:url';

export const fixtureApp = fileURLToPath(new URL('../fixtures/durable-app', import.meta.url));

export async function json(response: Response): Promise<unknown> {
  const text = await response.text();
  return text ? JSON.parse(text) : undefined;
}

/** Polls the management API's status URL until the instance leaves Pending/Running. */
export async function waitForStatus(statusUrl: string, timeoutMs = 30_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await fetch(statusUrl);
    const body = (await json(response)) as Record<string, unknown>;
    if (!['Pending', 'Running', 'ContinuedAsNew'].includes(String(body.runtimeStatus))) return body;
    if (Date.now() > deadline) throw new Error(`instance still ${String(body.runtimeStatus)} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
