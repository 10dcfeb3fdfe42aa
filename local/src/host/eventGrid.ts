import type { IncomingMessage, ServerResponse } from 'node:http';
import { disabledReason, errorText, findFunction, type Invoker } from './invoke.js';
import type { HostLogger } from './logger.js';
import type { AppRegistry } from './registry.js';

const VALIDATION_EVENT = 'Microsoft.EventGrid.SubscriptionValidationEvent';

type EventObject = Record<string, unknown>;

/** Why a webhook body cannot be delivered, or undefined when every event has the fields its schema requires. */
export function malformedReason(events: unknown): string | undefined {
  if (!Array.isArray(events)) return 'the body must be a JSON array of events';
  for (const [index, event] of events.entries()) {
    if (!event || typeof event !== 'object' || Array.isArray(event)) return `event ${index} is not a JSON object`;
    const e = event as EventObject;
    const isCloudEvent = typeof e.specversion === 'string';
    const required = isCloudEvent ? ['id', 'source', 'type'] : ['id', 'subject', 'eventType', 'eventTime', 'dataVersion'];
    // Storage events carry `dataVersion: ""`: present but empty is valid, only non-strings are not.
    const missing = required.filter((key) => typeof e[key] !== 'string' || (e[key] === '' && key !== 'dataVersion'));
    if (missing.length) return `event ${index} (${isCloudEvent ? 'CloudEvents 1.0' : 'Event Grid'} schema) lacks ${missing.join(', ')}`;
  }
  return undefined;
}

/**
 * `POST /runtime/webhooks/EventGrid?functionName=NAME`, like the Event Grid extension: Event Grid schema or
 * CloudEvents 1.0, one invocation per event, 202 when all succeed, 500 when one throws (so the sender retries).
 */
export class EventGridWebhook {
  constructor(private readonly registry: AppRegistry, private readonly invoker: Invoker, private readonly logger: HostLogger) {}

  async handle(request: IncomingMessage, response: ServerResponse, url: URL, body: Buffer): Promise<void> {
    if (request.method === 'OPTIONS') {
      // CloudEvents webhook abuse-protection handshake.
      const origin = request.headers['webhook-request-origin'];
      response.writeHead(200, origin ? { 'WebHook-Allowed-Origin': String(origin), 'WebHook-Allowed-Rate': '*' } : {}).end();
      return;
    }
    if (request.method !== 'POST') return sendText(response, 405, 'use POST');
    const name = url.searchParams.get('functionName') ?? '';
    const fn = findFunction(this.registry, 'eventGridTrigger', name);
    if (!fn) return sendText(response, 404, disabledReason(this.registry, name) ?? `no Event Grid triggered function named "${name}"`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      return sendText(response, 400, 'the body is not valid JSON');
    }
    const events = Array.isArray(parsed) || !parsed || typeof parsed !== 'object' || !('specversion' in parsed) ? parsed : [parsed];
    const reason = malformedReason(events);
    if (reason) return sendText(response, 400, reason);
    const list = events as EventObject[];
    const validation = list.find((e) => e.eventType === VALIDATION_EVENT);
    if (validation) {
      const code = (validation.data as { validationCode?: unknown } | undefined)?.validationCode;
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ validationResponse: code }));
      return;
    }
    for (const event of list) {
      const result = await this.invoker.invoke(fn, { trigger: { json: JSON.stringify(event) } });
      if (result.error !== undefined) {
        this.logger.error('function failed', { function: fn.name, eventId: String(event.id), error: errorText(result.error) });
        return sendText(response, 500, `function "${fn.name}" failed for event ${String(event.id)}`);
      }
      this.logger.info('executed', { function: fn.name, eventId: String(event.id), ms: Math.round(result.durationMs) });
    }
    response.writeHead(202).end();
  }
}

export function sendText(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(text);
}
