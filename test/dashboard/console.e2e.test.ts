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

/** The upload's orchestration as the console's API answers it. */
async function consoleView(t: TestStack, uploadId: string): Promise<{ runtimeStatus: string; actions: string[]; rewindable: boolean }> {
  const response = await t.api(`/api/uploads/${uploadId}/orchestration`, { token: await t.token({ operator: true }) });
  return response.status === 200 ? ((await response.json()) as { runtimeStatus: string; actions: string[]; rewindable: boolean }) : { runtimeStatus: `HTTP ${response.status}`, actions: [], rewindable: false };
}

/**
 * The operator console against the local stack: uploads whose activation the database refuses (permission denied,
 * which no retry can fix) fail their orchestrations on that step. The console shows an Operator.Admin where and why;
 * once the cause is gone the admin rewinds one (only the failed step runs again) and sees it complete, and restarts
 * the other. An Operator.Read user sees no action and gets 403 from the action routes.
 */
describe('operator console in chromium', () => {
  let t: TestStack;
  let browser: Browser;
  let uploadId = '';
  let restartedId = '';
  /** The console's audited actions on an upload: outcome, which action, ids, roles. */
  const actionsAudited = async (id: string) => (await t.pool.query<{ outcome: number; action: string; object_ids: string[]; roles: string[] }>(
    "SELECT outcome, action, object_ids, roles FROM bulkflow.audit_records WHERE route = 'orchestrationAction' AND $1 = ANY(object_ids) ORDER BY id", [id],
  )).rows.map((r) => [r.outcome, r.action, r.object_ids, r.roles]);

  beforeAll(async () => {
    [t, browser] = await Promise.all([startTestStack(), launchChromium(CHROMIUM_ARGS)]);
    // Activation writes the state's active upload: without that right it fails, and the orchestration with it.
    await t.pool.query('REVOKE INSERT, UPDATE ON bulkflow.active_uploads FROM bulkflow_app');
    const put = async (state: string, name: string) => {
      const response = await t.api(`/api/states/${state}/uploads/${name}`, { method: 'PUT', token: await t.token({ states: [state] }), body: `${CSV_HEADER}\n${validRows(0, 500)}` });
      expect(response.status).toBe(202);
      return ((await response.json()) as { uploadId: string }).uploadId;
    };
    [uploadId, restartedId] = await Promise.all([put('CA', 'console.csv'), put('TX', 'console.csv')]);
    for (const id of [uploadId, restartedId]) {
      await waitFor('the orchestration to fail', async () => ((await consoleView(t, id)).runtimeStatus === 'Failed' ? true : undefined), 150_000);
    }
    await t.pool.query('GRANT INSERT, UPDATE ON bulkflow.active_uploads TO bulkflow_app');
  }, 240_000);
  afterAll(async () => {
    await browser?.close();
    await t?.stop();
  });

  it('shows an admin where and why the upload failed; a rewind after the cause is gone completes it, audited, once', async () => {
    const page = await browser.newPage();
    await signIn(page, dashboardUrl(t.url), 'Sign in as an operator admin');
    await page.goto(`${dashboardUrl(t.url)}#/upload/${uploadId}`);
    await page.locator('#console').waitFor({ state: 'visible' });
    await expect.poll(() => page.locator('#console-status').textContent()).toContain('Failed');
    // Where: the activation step, on its one attempt (a refused right is not retried); why: the database's refusal.
    const failedRow = page.locator('#timeline tbody tr.failed');
    await expect.poll(() => failedRow.locator('th').textContent()).toBe('activateUpload');
    expect(await failedRow.locator('td').nth(1).textContent()).toBe('1');
    expect(await failedRow.locator('td').nth(5).textContent()).toMatch(/42501|permission denied/);
    expect(await page.locator('#console-failure').textContent()).toMatch(/Why it stopped: .*(activateUpload|42501|permission denied)/);
    const steps = await page.$$eval('#timeline tbody th', (cells) => cells.map((c) => c.textContent));
    expect(steps.slice(0, 2)).toEqual(['registerUpload', 'planUpload']);
    expect(steps).toContain('commitChunk');
    expect(steps.at(-1)).toBe('activateUpload');
    await expect.poll(() => page.locator('#action-rewind').isVisible()).toBe(true);
    expect(await page.locator('#action-restart').isVisible()).toBe(true);
    expect(await page.locator('#action-terminate').isVisible()).toBe(false);
    expect(await page.locator('#console-help').textContent()).toContain('committed chunks stay committed');
    const ledger = () => t.pool.query('SELECT chunk_no, rows_committed, committed_at FROM bulkflow.chunk_ledger WHERE upload_id = $1 ORDER BY chunk_no', [uploadId]).then((r) => r.rows);
    const ledgerBefore = await ledger();
    expect(ledgerBefore.length).toBeGreaterThan(0);

    await page.locator('#action-rewind').click();
    await expect.poll(() => page.locator('#console-status').textContent(), { timeout: 90_000 }).toContain('Completed');
    await expect.poll(() => page.locator('#summary').textContent(), { timeout: 30_000 }).toContain('complete');
    expect(await page.locator('#console-actions').isVisible()).toBe(false);
    const status = (await (await t.api(`/api/uploads/${uploadId}`)).json()) as { status: string; rowsCommitted: number; isActive: boolean };
    expect([status.status, status.rowsCommitted, status.isActive]).toEqual(['complete', 500, true]);
    // Only the failed step ran again: the timeline has each earlier step once, and activation completed after it failed.
    const after = await page.$$eval('#timeline tbody th', (cells) => cells.map((c) => c.textContent));
    expect(after.slice(0, after.indexOf('activateUpload'))).toEqual(steps.slice(0, steps.indexOf('activateUpload')));
    expect(after.slice(after.indexOf('activateUpload'))).toEqual(['activateUpload', 'publishOutbox', 'deleteUploadBlob']);
    expect(await ledger()).toEqual(ledgerBefore);

    // Repeating it changes nothing: the orchestration is no longer Failed.
    const again = await t.api(`/api/uploads/${uploadId}/orchestration/rewind`, { method: 'POST', token: await t.token({ admin: true }) });
    expect(again.status).toBe(409);
    expect(await actionsAudited(uploadId)).toEqual([[202, 'rewind', [uploadId], ['Operator.Admin']], [409, 'rewind', [uploadId], ['Operator.Admin']]]);

    // The audit trail page shows the admin what was done, the action named.
    await page.goto(`${dashboardUrl(t.url)}#/audit/CA`);
    const auditRows = () => page.$$eval('#audit-list tbody tr', (rows) => rows.map((row) => [...row.querySelectorAll('td')].map((td) => td.textContent)));
    await expect.poll(async () => (await auditRows()).filter((cells) => cells[5] === 'POST orchestrationAction (rewind)').map((cells) => cells[8])).toEqual(['409', '202']);
    await page.close();
  }, 200_000);

  it('restarts the other failed upload from its first step; it completes too', async () => {
    const admin = await t.token({ admin: true });
    expect((await t.api(`/api/uploads/${restartedId}/orchestration/restart`, { method: 'POST', token: admin })).status).toBe(202);
    await waitFor('the restarted orchestration to complete', async () => ((await consoleView(t, restartedId)).runtimeStatus === 'Completed' ? true : undefined), 90_000);
    const status = (await (await t.api(`/api/uploads/${restartedId}`)).json()) as { status: string; rowsCommitted: number };
    expect([status.status, status.rowsCommitted]).toEqual(['complete', 500]);
    expect((await t.api(`/api/uploads/${restartedId}/orchestration/restart`, { method: 'POST', token: admin })).status).toBe(409);
    expect(await actionsAudited(restartedId)).toEqual([[202, 'restart', [restartedId], ['Operator.Admin']], [409, 'restart', [restartedId], ['Operator.Admin']]]);
  }, 120_000);

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
    const caToken = await t.token({ states: ['CA'] });
    const state = await t.api(`/api/uploads/${uploadId}/orchestration`, { token: caToken });
    expect(state.status).toBe(403);
    // The status API links each caller to what it may follow: an operator to these steps, a state to no console.
    const operatorToken = await t.token({ operator: true });
    const asOperator = (await (await t.api(`/api/uploads/${uploadId}`, { token: operatorToken })).json()) as { links: Record<string, string> };
    expect(asOperator.links.orchestration).toBe(`/api/uploads/${uploadId}/orchestration`);
    expect((await t.api(asOperator.links.orchestration!, { token: operatorToken })).status).toBe(200);
    const asState = (await (await t.api(`/api/uploads/${uploadId}`, { token: caToken })).json()) as { links: Record<string, string> };
    expect(asState.links).toEqual({ self: `/api/uploads/${uploadId}`, errors: `/api/uploads/${uploadId}/errors` });
    await page.close();
  });
});
