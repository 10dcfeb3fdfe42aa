import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardUrl } from '../../src/functions/dashboard.js';
import { launchChromium } from '../support/browser.js';
import { startTestStack, waitFor, type TestStack } from '../support/localStack.js';
import { CSV_HEADER, validRows } from '../support/uploads.js';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'];

async function signIn(page: Page, url: string, button: 'Sign in as an operator' | 'Sign in as an operator admin'): Promise<void> {
  await page.goto(url);
  await page.getByRole('heading', { name: 'Local sign-in' }).waitFor();
  await page.getByRole('button', { name: button, exact: true }).click();
  await page.locator('#who').waitFor({ state: 'visible' });
}

/**
 * The operator console against the local stack: an upload whose activation the database refuses fails its
 * orchestration (after the step's retries); the console shows where and why; an Operator.Admin restarts it once the
 * cause is gone and sees it complete. An Operator.Read user sees no action and gets 403 from the action routes.
 */
describe('operator console in chromium', () => {
  let t: TestStack;
  let browser: Browser;
  let uploadId = '';

  beforeAll(async () => {
    [t, browser] = await Promise.all([startTestStack(), launchChromium(CHROMIUM_ARGS)]);
    // Activation writes the state's active upload: without that right it fails on every attempt.
    await t.pool.query('REVOKE INSERT, UPDATE ON bulkflow.active_uploads FROM bulkflow_app');
    const token = await t.token({ states: ['CA'] });
    const put = await t.api('/api/states/CA/uploads/console.csv', { method: 'PUT', token, body: `${CSV_HEADER}\n${validRows(0, 500)}` });
    expect(put.status).toBe(202);
    uploadId = ((await put.json()) as { uploadId: string }).uploadId;
    await waitFor('the orchestration to fail', async () => {
      const response = await t.api(`/api/uploads/${uploadId}/orchestration`, { token: await t.token({ operator: true }) });
      return response.status === 200 && ((await response.json()) as { runtimeStatus: string }).runtimeStatus === 'Failed' ? true : undefined;
    }, 150_000);
    await t.pool.query('GRANT INSERT, UPDATE ON bulkflow.active_uploads TO bulkflow_app');
  }, 240_000);
  afterAll(async () => {
    await browser?.close();
    await t?.stop();
  });

  it('shows an admin where and why the upload failed; a restart after the cause is gone completes it, audited', async () => {
    const page = await browser.newPage();
    await signIn(page, dashboardUrl(t.url), 'Sign in as an operator admin');
    await page.goto(`${dashboardUrl(t.url)}#/upload/${uploadId}`);
    await page.locator('#console').waitFor({ state: 'visible' });
    await expect.poll(() => page.locator('#console-status').textContent()).toContain('Failed');
    // Where: the activation step failed after its retries; why: the database's refusal, as the step reported it.
    const failedRow = page.locator('#timeline tbody tr.failed');
    await expect.poll(() => failedRow.locator('th').textContent()).toBe('activateUpload');
    expect(Number(await failedRow.locator('td').nth(1).textContent())).toBeGreaterThan(1);
    expect(await failedRow.locator('td').nth(5).textContent()).toMatch(/42501|permission denied/);
    expect(await page.locator('#console-failure').textContent()).toMatch(/Why it stopped: .*activateUpload|Why it stopped: .*42501|permission denied/);
    const steps = await page.$$eval('#timeline tbody th', (cells) => cells.map((c) => c.textContent));
    expect(steps.slice(0, 2)).toEqual(['registerUpload', 'planUpload']);
    expect(steps).toContain('commitChunk');
    await expect.poll(() => page.locator('#action-restart').isVisible()).toBe(true);
    expect(await page.locator('#action-terminate').isVisible()).toBe(false);

    // Rewind: this host's storage provider cannot (Azure's can); the page says so and changes nothing.
    await page.locator('#action-rewind').click();
    await expect.poll(() => page.locator('#problem').textContent()).toContain('Rewind not supported');

    await page.locator('#action-restart').click();
    await expect.poll(() => page.locator('#console-status').textContent(), { timeout: 90_000 }).toContain('Completed');
    await expect.poll(() => page.locator('#summary').textContent(), { timeout: 30_000 }).toContain('complete');
    expect(await page.locator('#console-actions').isVisible()).toBe(false);
    const status = (await (await t.api(`/api/uploads/${uploadId}`)).json()) as { status: string; rowsCommitted: number; isActive: boolean };
    expect([status.status, status.rowsCommitted]).toEqual(['complete', 500]);

    // Each action is in the audit trail: the rewind refused by the host (501) and the restart (202).
    const { rows } = await t.pool.query<{ route: string; outcome: number; object_ids: string[]; roles: string[] }>(
      "SELECT route, outcome, object_ids, roles FROM bulkflow.audit_records WHERE route = 'orchestrationAction' ORDER BY id");
    expect(rows.map((r) => [r.outcome, r.object_ids, r.roles])).toEqual([[501, [uploadId], ['Operator.Admin']], [202, [uploadId], ['Operator.Admin']]]);
    // Repeating the restart changes nothing: the orchestration no longer is in a state it applies to.
    const again = await t.api(`/api/uploads/${uploadId}/orchestration/restart`, { method: 'POST', token: await t.token({ admin: true }) });
    expect(again.status).toBe(409);
    await page.close();
  }, 200_000);

  it('shows an Operator.Read user the steps and no action; the action routes answer it 403', async () => {
    const page = await browser.newPage();
    await signIn(page, dashboardUrl(t.url), 'Sign in as an operator');
    await page.goto(`${dashboardUrl(t.url)}#/upload/${uploadId}`);
    await expect.poll(() => page.locator('#timeline tbody tr').count()).toBeGreaterThan(3);
    expect(await page.locator('#console-actions').isVisible()).toBe(false);
    for (const action of ['rewind', 'restart', 'terminate']) {
      expect(await page.locator(`#action-${action}`).isVisible()).toBe(false);
      const refused = await t.api(`/api/uploads/${uploadId}/orchestration/${action}`, { method: 'POST', token: await t.token({ operator: true }) });
      expect(refused.status, action).toBe(403);
    }
    const state = await t.api(`/api/uploads/${uploadId}/orchestration`, { token: await t.token({ states: ['CA'] }) });
    expect(state.status).toBe(403);
    await page.close();
  });
});
