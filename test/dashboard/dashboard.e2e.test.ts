import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateParticipantsCsv } from '../../bench/generate.js';
import { dashboardUrl } from '../../src/functions/dashboard.js';
import type { UploadStatusBody } from '../../src/status/statusBody.js';
import { launchChromium } from '../support/browser.js';
import { startTestStack, waitFor, type TestStack } from '../support/localStack.js';
import { checkedFetch } from '../support/contract.js';
import { LOCK_CLASS } from '../../src/engine/advisoryLocks.js';
import { DEFAULT_MAX_CONCURRENT_COMMITS } from '../../src/engine/ingestPolicy.js';

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const ARTIFACTS = join(process.cwd(), 'test-results');
const axeSource = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

type RowError = { line: number; column: string | null; code: string; message: string };
type ErrorsPage = { rowsRejected: number; errors: RowError[]; next: string | null };

let operatorToken = '';
/** The API as an operator (reads every state). */
async function getJson<T>(url: string): Promise<T> {
  const response = await checkedFetch(url, { headers: { authorization: `Bearer ${operatorToken}` } });
  expect(response.status, url).toBe(200);
  return (await response.json()) as T;
}

/**
 * Opens the dashboard and signs in on the local issuer's page (the stand-in for Entra ID's sign-in) as an
 * operator or as a user of the given states; the page comes back with its token.
 */
async function signIn(page: Page, url: string, as: { operator: true } | { states: string }): Promise<void> {
  await page.goto(url);
  await page.getByRole('heading', { name: 'Local sign-in' }).waitFor();
  if ('operator' in as) {
    await page.getByRole('button', { name: 'Sign in as an operator', exact: true }).click();
  } else {
    await page.getByLabel(/State codes/).fill(as.states);
    await page.getByRole('button', { name: 'Sign in as a state user' }).click();
  }
  await page.locator('#who').waitFor({ state: 'visible' });
  expect(new URL(page.url()).search, 'the sign-in code is gone from the address').toBe('');
}

/** Serious and critical axe-core findings on the page as shown (CSP stays on: the source goes in through DevTools). */
async function seriousViolations(page: Page): Promise<Array<{ id: string; impact: string; nodes: string[] }>> {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const result = await (globalThis as unknown as { axe: { run(): Promise<{ violations: Array<{ id: string; impact: string; nodes: Array<{ target: string[] }> }> }> } }).axe.run();
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')) }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** A <progress> element's current value (the DOM property: the page sets it, not the attribute). */
const valueOf = (progress: Locator) => progress.evaluate((p) => (p as unknown as { value: number }).value);

/** The rejected rows table as the page shows it. */
async function shownErrors(page: Page): Promise<RowError[]> {
  return page.$$eval('#errors tbody tr', (rows) => rows.map((row) => {
    const cells = [...row.querySelectorAll('td')].map((td) => td.textContent ?? '');
    return { line: Number(cells[0]), column: cells[1] === '–' ? null : cells[1]!, code: cells[2]!, message: cells[3]! };
  }));
}

describe('upload dashboard in chromium', () => {
  let t: TestStack;
  let browser: Browser;
  let page: Page;
  const pageProblems: string[] = [];

  /**
   * Runs `use` on a page of its own, signed in as a user of `states` (`watch` sees the page first); any error
   * the page throws fails the test.
   */
  async function asStateUser(states: string, use: (page: Page) => Promise<void>, watch?: (page: Page) => void): Promise<void> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const statePage = await context.newPage();
    const problems: string[] = [];
    statePage.on('pageerror', (error) => problems.push(error.message));
    watch?.(statePage);
    try {
      await signIn(statePage, dashboardUrl(t.url), { states });
      await use(statePage);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  }

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    [t, browser] = await Promise.all([
      // Small chunks one at a time: the upload spans several of the page's polls (2.5-5 s apart), so progress below
      // 100 % is seen (at 256 KiB an idle machine finished it between two polls; 64 KiB took 15-20 polls).
      // Every open record needs its states' action at once (MATCH_NEEDS_ACTION_DAYS 0).
      // Parts of 64 KiB: a file picked on the page goes up in several.
      startTestStack({ INGEST_CHUNK_BYTES: String(128 << 10), INGEST_MAX_CHUNKS_IN_FLIGHT: '1', MATCH_NEEDS_ACTION_DAYS: '0', UPLOAD_PART_BYTES: String(64 << 10) }),
      launchChromium(CHROMIUM_ARGS),
    ]);
    operatorToken = await t.token({ operator: true });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    // CSP violations and script errors surface here: the page must run under its own policy.
    page.on('console', (message) => { if (message.type() === 'error') pageProblems.push(message.text()); });
    page.on('pageerror', (error) => pageProblems.push(error.message));
    await signIn(page, dashboardUrl(t.url), { operator: true });
    expect(await page.locator('#who').textContent()).toBe('Signed in: operator (reads every state)');
  });
  afterAll(async () => {
    await browser?.close();
    await t?.stop();
  });

  it('serves the page and its assets with types and a CSP; nothing else', async () => {
    const url = dashboardUrl(t.url);
    expect(url).toBe(`${t.url}/api/dashboard/`);
    const html = await checkedFetch(url);
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(html.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await html.text()).toContain('<script type="module" src="dashboard.js">');
    expect((await checkedFetch(`${url}dashboard.js`)).headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect((await checkedFetch(`${url}dashboard.css`)).headers.get('content-type')).toBe('text/css; charset=utf-8');
    // hash-wasm's SHA-256, from the app's own dependency: WebAssembly, allowed to compile and nothing more.
    expect(html.headers.get('content-security-policy')).toContain("script-src 'self' 'wasm-unsafe-eval';");
    const sha256Script = await checkedFetch(`${url}sha256.js`);
    expect(sha256Script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await sha256Script.text()).toContain('createSHA256');

    // Relative asset URLs need the trailing slash: the bare path redirects, keeping the key.
    const bare = await checkedFetch(`${t.url}/api/dashboard?code=abc`, { redirect: 'manual' });
    expect(bare.status).toBe(308);
    expect(bare.headers.get('location')).toBe('/api/dashboard/?code=abc');

    for (const path of ['missing.js', '..%2F..%2Fpackage.json', 'dashboard.ts']) {
      expect((await checkedFetch(`${url}${path}`)).status, path).toBe(404);
    }
  });

  it('shows a CA upload with bad rows live to 100 %, its rejected rows as the API has them, paginated and as CSV; no serious axe findings', async () => {
    await page.goto(dashboardUrl(t.url));
    await page.locator('#no-uploads').waitFor({ state: 'visible' });
    // Every value any progress bar shows from now on, as the page sets it (no reloads happen below).
    await page.evaluate(`(() => {
      window.progressSeen = [];
      new MutationObserver((records) => { for (const r of records) if (r.target.localName === 'progress') window.progressSeen.push(r.target.value); })
        .observe(document.getElementById('states'), { subtree: true, attributes: true, attributeFilter: ['value'] });
    })()`);

    const file = join(t.stack.dataDir, `dashboard-${process.pid}.csv`);
    const generated = await generateParticipantsCsv(file, {
      rows: 100_000, badShare: 0.02, seed: 21, badKinds: ['lds_hash_format', 'closing_date_invalid', 'boolean_invalid', 'field_count'],
    });
    // Every commit slot held: the upload registers and plans, then its chunks wait (busy, retried) with the bar below
    // 100 % until the slots are released, so the page is seen showing it run however fast the machine loads 100k rows.
    const holder = await t.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock(hashtext($1), slot) FROM generate_series(0, $2 - 1) slot', [LOCK_CLASS.commitSlot, DEFAULT_MAX_CONCURRENT_COMMITS]);
      await t.uploads.getBlockBlobClient('ca/dashboard.csv').uploadFile(file);
      // The page picks the upload up without a reload.
      await waitFor('the bar to show the upload while its chunks wait', async () =>
        ((await page.evaluate('window.progressSeen')) as number[]).length > 0 || undefined, 60_000);
      await holder.query('COMMIT');
    } finally {
      await holder.query('ROLLBACK').catch(() => {});
      holder.release();
    }

    // Its bar climbs to 100 %.
    const row = page.locator('#state-CA tbody tr').first();
    await row.waitFor({ timeout: 60_000 });
    const progress = row.locator('progress');
    expect(await progress.getAttribute('aria-label')).toBe('Progress of ca/dashboard.csv');
    await waitFor('the progress bar to reach 100 % and the upload to complete', async () =>
      (await row.getAttribute('data-status')) === 'complete' && (await valueOf(progress)) === 100 ? true : undefined, 120_000);
    const seen = (await page.evaluate('window.progressSeen')) as number[];
    console.info(`dashboard progress values shown: ${seen.join(', ')}`);
    expect(seen.at(-1)).toBe(100);
    expect(seen.some((value) => value < 100), 'the bar showed the upload while it ran').toBe(true);

    const status = await getJson<UploadStatusBody>(`${t.url}/api/uploads?blob=${encodeURIComponent('ca/dashboard.csv')}`);
    expect(status).toMatchObject({ status: 'complete', isActive: true, rowsTotal: 100_000, rowsRejected: generated.badRows });
    expect(await row.getAttribute('data-upload-id')).toBe(status.uploadId);
    expect(await row.locator('.rejected').textContent()).toBe(generated.badRows.toLocaleString('en-US'));
    expect(await row.locator('.rows').textContent()).toBe('100,000 of 100,000');
    expect(await row.locator('.badge.active').textContent()).toBe('active');
    expect(await progress.getAttribute('aria-valuetext')).toContain(`${generated.badRows.toLocaleString('en-US')} rejected`);
    expect(await page.locator('#state-CA .state-meta').textContent()).toBe('Active upload: ca/dashboard.csv');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-overview.png'), fullPage: true });
    expect(await seriousViolations(page)).toEqual([]);

    // Keyboard only: focus the upload's link and press Enter.
    await row.getByRole('link').focus();
    await page.keyboard.press('Enter');
    await waitFor('the upload view', async () => ((await page.locator('#detail-title').textContent()) === 'Upload ca/dashboard.csv' ? true : undefined));
    expect(await page.evaluate('document.activeElement?.id')).toBe('detail-title');
    expect(await valueOf(page.locator('#detail-progress'))).toBe(100);

    const errorsUrl = `${t.url}${status.links.errors}`;
    const first = await getJson<ErrorsPage>(`${errorsUrl}?limit=100`);
    expect(first.errors).toHaveLength(100);
    await waitFor('the first page of rejected rows', async () => ((await shownErrors(page)).length === 100 ? true : undefined));
    expect(await shownErrors(page)).toEqual(first.errors);
    expect(await page.locator('#page-info').textContent()).toBe(`Rejected rows 1–100 of ${generated.badRows.toLocaleString('en-US')} (page 1).`);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-upload.png'), fullPage: true });
    expect(await seriousViolations(page)).toEqual([]);

    const second = await getJson<ErrorsPage>(`${errorsUrl}?limit=100&after=${encodeURIComponent(first.next!)}`);
    await page.locator('#next-page').focus();
    await page.keyboard.press('Enter');
    await waitFor('the second page of rejected rows', async () => ((await shownErrors(page))[0]?.line === second.errors[0]!.line ? true : undefined));
    expect(await shownErrors(page)).toEqual(second.errors);
    await page.locator('#prev-page').click();
    await waitFor('the first page again', async () => ((await shownErrors(page))[0]?.line === first.errors[0]!.line ? true : undefined));

    // The CSV download holds every rejected row the API pages through, in line order, and no values.
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#download').click()]);
    expect(download.suggestedFilename()).toBe(`${status.uploadId}-rejected-rows.csv`);
    const csv = (await readFile((await download.path())!, 'utf8')).trimEnd().split('\r\n');
    expect(csv[0]).toBe('line,column,code,message');
    expect(csv).toHaveLength(1 + generated.badRows);
    const all: RowError[] = [];
    for (let after: string | null = ''; after !== null;) {
      const body: ErrorsPage = await getJson<ErrorsPage>(`${errorsUrl}?limit=1000${after ? `&after=${encodeURIComponent(after)}` : ''}`);
      all.push(...body.errors);
      after = body.next;
    }
    expect(csv.slice(1).map((line) => Number(line.split(',')[0]))).toEqual(all.map((e) => e.line));
    expect(csv.join('\n')).not.toMatch(/[0-9a-f]{64}/i);

    // No link into the Durable Functions management API (on Azure it needs the host's system key): operators see the
    // orchestration in the console section instead.
    expect(await page.locator('a[href*="/runtime/webhooks/"]').count()).toBe(0);
    expect(pageProblems).toEqual([]);
  }, 240_000); // the upload spans many polls by design; on a loaded 2-core machine that is over a minute

  it('renders the API reference beside the dashboard from the app\'s own OpenAPI document, under the page\'s CSP', async () => {
    const document = (await (await checkedFetch(`${t.url}/api/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const operations = Object.values(document.paths).reduce((total, item) => total + Object.keys(item).length, 0);
    const reference = await browser.newPage();
    const problems: string[] = [];
    reference.on('console', (message) => { if (message.type() === 'error') problems.push(message.text()); });
    reference.on('pageerror', (error) => problems.push(error.message));
    try {
      await reference.goto(`${dashboardUrl(t.url)}api.html`);
      await waitFor('every operation listed', async () => ((await reference.locator('.opblock').count()) === operations ? true : undefined));
      expect(await reference.locator('.opblock-summary-path').allTextContents()).toContain('/api/states/{state}/uploads/{filename}');
      await reference.locator('.opblock-summary-path', { hasText: '/api/matches/{matchId}/dispositions/{state}' }).first().click();
      await waitFor('the operation\'s responses', async () => ((await reference.locator('.response-col_status', { hasText: '428' }).count()) > 0 ? true : undefined));
      expect(problems).toEqual([]);
    } finally {
      await reference.close();
    }
  });

  it('lists states newest activity first and filters to one state', async () => {
    const file = join(t.stack.dataDir, `dashboard-tx-${process.pid}.csv`);
    await generateParticipantsCsv(file, { rows: 1_000, seed: 5 });
    await t.uploads.getBlockBlobClient('tx/small.csv').uploadFile(file);
    await waitFor('the TX upload to complete', async () => {
      const response = await t.api(`/api/uploads?blob=${encodeURIComponent('tx/small.csv')}`);
      return response.ok && ((await response.json()) as UploadStatusBody).status === 'complete' ? true : undefined;
    });
    const { states } = await getJson<{ states: Array<{ state: string; uploads: number; activeUploadId: string | null; running: number }> }>(`${t.url}/api/states`);
    expect(states.map((s) => s.state)).toEqual(['TX', 'CA']);
    expect(states.every((s) => s.uploads === 1 && s.running === 0 && s.activeUploadId !== null)).toBe(true);

    await page.goto(dashboardUrl(t.url));
    await waitFor('both state sections', async () => ((await page.locator('#states > section').count()) === 2 ? true : undefined));
    expect(await page.locator('#states > section h2').allTextContents()).toEqual(['TX', 'CA']);
    await page.locator('#state-filter').selectOption('TX');
    await waitFor('the TX view', async () => ((await page.locator('#overview-title').textContent()) === 'Uploads for TX' ? true : undefined));
    await waitFor('only TX listed', async () => ((await page.locator('#states > section h2').allTextContents()).join() === 'TX' ? true : undefined));
    expect(page.url()).toMatch(/#\/state\/TX$/);
    expect(pageProblems).toEqual([]);
  });
  it('as a state user shows only that state; other states\' uploads are not found', async () => {
    const { states } = await getJson<{ states: Array<{ state: string; activeUploadId: string }> }>(`${t.url}/api/states`);
    const txUpload = states.find((s) => s.state === 'TX')!.activeUploadId;
    await asStateUser('CA', async (caPage) => {
      expect(await caPage.locator('#who').textContent()).toBe('Signed in: state CA');
      await waitFor('the CA section', async () => ((await caPage.locator('#states > section').count()) === 1 ? true : undefined));
      expect(await caPage.locator('#states > section h2').allTextContents()).toEqual(['CA']);
      expect(await caPage.locator('#state-filter option').allTextContents()).toEqual(['All states', 'CA']);
      expect(await caPage.content()).not.toContain(txUpload);

      await caPage.goto(`${dashboardUrl(t.url)}#/upload/${txUpload}`);
      await caPage.locator('#problem').waitFor({ state: 'visible' });
      expect(await caPage.locator('#problem').textContent()).toBe('Upload not found: there is no such upload among the uploads you may read');
      await caPage.goto(`${dashboardUrl(t.url)}#/state/TX`);
      await waitFor('the refusal', async () => ((await caPage.locator('#problem').textContent()) === 'You cannot read state TX, or it has no uploads.' ? true : undefined));
      expect(await caPage.locator('#states > section').count()).toBe(0);
      expect(await seriousViolations(caPage)).toEqual([]);
      await caPage.screenshot({ path: join(ARTIFACTS, 'dashboard-state-user.png'), fullPage: true });
    });
  });

  it('shows a state user its open matches page by page and the pair counts; an operator the counts only', async () => {
    // NV's file holds 60 of CA's active hashes: 60 CA–NV match records once NV's upload is active and matched.
    const { rows: shared } = await t.pool.query<{ hash: string }>(
      `SELECT encode(lds_hash, 'hex') AS hash FROM bulkflow.active_participants WHERE state = 'CA' ORDER BY participant_id LIMIT 60`);
    const nv = `lds_hash,participant_id,case_id\n${shared.map((r, i) => `${r.hash},NV${i},KNV${i}`).join('\n')}\n`;
    await t.uploads.getBlockBlobClient('nv/matches.csv').upload(nv, nv.length);
    await waitFor('the CA–NV match records', async () => {
      const { pairs } = await getJson<{ pairs: Array<{ stateA: string; stateB: string; open: number }> }>(`${t.url}/api/matches`);
      return pairs.some((p) => p.stateA === 'CA' && p.stateB === 'NV' && p.open === 60) ? true : undefined;
    });
    const pairRows = (p: Page) => p.$$eval('#pairs tbody tr', (rows) => rows.map((row) => [...row.querySelectorAll('td')].map((td) => td.textContent)));

    // The operator: counts per pair, no link to records, and the records refused.
    await page.goto(dashboardUrl(t.url));
    await waitFor('the pair counts', async () => ((await pairRows(page)).length === 1 ? true : undefined));
    expect(await pairRows(page)).toEqual([['CA–NV', '60', '0']]);
    expect(await page.locator('#match-links a').count()).toBe(0);
    await page.goto(`${dashboardUrl(t.url)}#/matches/CA`);
    await waitFor('the refusal', async () => ((await page.locator('#problem').textContent()) === 'Forbidden: your roles do not let you read the match records of state CA' ? true : undefined));
    expect(await page.locator('#match-list tbody tr').count()).toBe(0);

    const caToken = await t.token({ states: ['CA'] });
    const fromApi = async (after = '') => {
      const response = await t.api(`/api/states/ca/matches?limit=50${after ? `&after=${after}` : ''}`, { token: caToken });
      expect(response.status).toBe(200);
      return (await response.json()) as { matches: Array<{ matchId: string; participant: { participantId: string; caseId: string | null }; otherParticipant: { participantId: string; caseId: string | null } }>; next: string | null };
    };
    const expected = (page: Awaited<ReturnType<typeof fromApi>>) => page.matches.map((m) =>
      [m.matchId, 'NV', m.participant.participantId, m.participant.caseId ?? '–', m.otherParticipant.participantId, m.otherParticipant.caseId]);
    const shownMatches = (p: Page) => p.$$eval('#match-list tbody tr', (rows) => rows.map((row) => [...row.querySelectorAll('td')].slice(0, 6).map((td) => td.textContent)));

    await asStateUser('CA', async (caPage) => {
      await waitFor('the pair counts', async () => ((await pairRows(caPage)).length === 1 ? true : undefined));
      expect(await pairRows(caPage)).toEqual([['CA–NV', '60', '0']]);
      const link = caPage.getByRole('link', { name: 'Open matches of CA' });
      await link.focus();
      await caPage.keyboard.press('Enter');
      await waitFor('the matches view', async () => ((await caPage.locator('#matches-title').textContent()) === 'Open matches of CA' ? true : undefined));
      expect(await caPage.evaluate('document.activeElement?.id')).toBe('matches-title');

      // Two pages of 50 and 10, as the API pages them, each with NV's participant and case beside CA's own.
      const first = await fromApi();
      await waitFor('the first page of matches', async () => ((await shownMatches(caPage)).length === 50 ? true : undefined));
      expect(await shownMatches(caPage)).toEqual(expected(first));
      expect(await caPage.locator('#matches-info').textContent()).toBe('Open matches 1–50 (page 1).');
      expect(await seriousViolations(caPage)).toEqual([]);
      await caPage.screenshot({ path: join(ARTIFACTS, 'dashboard-matches.png'), fullPage: true });
      const second = await fromApi(first.next!);
      expect(second.matches).toHaveLength(10);
      await caPage.locator('#next-matches').click();
      await waitFor('the second page of matches', async () => ((await shownMatches(caPage)).length === 10 ? true : undefined));
      expect(await shownMatches(caPage)).toEqual(expected(second));
      expect(await caPage.locator('#next-matches').isDisabled()).toBe(true);
      expect(second.matches.map((m) => m.otherParticipant.participantId).concat(first.matches.map((m) => m.otherParticipant.participantId)).sort())
        .toEqual(Array.from({ length: 60 }, (_, i) => `NV${i}`).sort());
      // Ids are what match records are for; the hashes behind them never reach the page.
      expect(await caPage.content()).not.toMatch(/[0-9a-f]{128}/i);

      // Another state's records are refused.
      await caPage.goto(`${dashboardUrl(t.url)}#/matches/NV`);
      await waitFor('the refusal', async () => ((await caPage.locator('#problem').textContent()) === 'Forbidden: your roles do not let you read the match records of state NV' ? true : undefined));
    });
  });

  it('lists what needs a state user\'s action, shows a record with both sides\' dispositions, and records the user\'s own', async () => {
    // The 60 CA–NV records of the test before.
    const caToken = await t.token({ states: ['CA'] });
    const nvToken = await t.token({ states: ['NV'] });
    const needing = async (token: string) => {
      const response = await t.api('/api/states/ca/matches?status=needs-action&limit=1000', { token });
      return ((await response.json()) as { matches: Array<{ matchId: string }> }).matches;
    };
    expect(await needing(caToken)).toHaveLength(60);
    const cells = (p: Page) => p.$$eval('#dispositions tbody tr', (rows) => rows.map((row) => [...row.children].map((cell) => cell.textContent)));
    await asStateUser('CA', async (caPage) => {
      await caPage.getByRole('link', { name: 'Needs your action (CA)' }).click();
      await waitFor('the needs-action list', async () => ((await caPage.locator('#match-list tbody tr').count()) === 50 ? true : undefined));
      expect(await caPage.locator('#matches-title').textContent()).toBe('Needs your action: CA');
      expect(await caPage.locator('#matches-info').textContent()).toBe('Matches needing your action 1–50 (page 1).');

      // The first record: both sides, nothing recorded yet.
      const link = caPage.locator('#match-list tbody tr a').first();
      const matchId = (await link.textContent())!;
      await link.click();
      await waitFor('the record', async () => ((await cells(caPage)).length === 10 ? true : undefined));
      expect(await caPage.locator('#record-title').textContent()).toBe(`Match ${matchId}`);
      const shown = await cells(caPage);
      expect(shown[0]![1]).not.toBe('–');
      expect(shown[0]![2]).toMatch(/^NV\d+$/);
      expect(shown.slice(2).every((row) => row[1] === '–' && row[2] === '–')).toBe(true);
      expect(await seriousViolations(caPage)).toEqual([]);

      // CA records its initial action through the form.
      const today = new Date().toISOString().slice(0, 10);
      await caPage.getByLabel('Initial action', { exact: true }).selectOption('notice_sent');
      await caPage.getByLabel('Initial action date').fill(today);
      await caPage.getByRole('button', { name: 'Save' }).click();
      await waitFor('the saved disposition', async () => ((await cells(caPage))[2]![1] === 'Notice sent' ? true : undefined));
      expect((await cells(caPage))[3]).toEqual(['Initial action date', today, '–']);
      await caPage.screenshot({ path: join(ARTIFACTS, 'dashboard-match-record.png'), fullPage: true });
      const asNv = await t.api(`/api/matches/${matchId}`, { token: nvToken });
      expect(await asNv.json()).toMatchObject({ state: 'NV', otherDisposition: { initial_action_taken: 'notice_sent', initial_action_at: today } });
      expect((await needing(caToken)).map((m) => m.matchId)).not.toContain(matchId);
      expect(await needing(caToken)).toHaveLength(59);

      // Another CA caseworker saves first: the page's save is refused (412), and it shows the record as it now is.
      const other = await t.api(`/api/matches/${matchId}/dispositions/CA`, {
        token: caToken, method: 'PATCH', body: JSON.stringify({ vulnerable_individual: true }), headers: { 'content-type': 'application/json', 'if-match': '"1"' },
      });
      expect(other.status).toBe(200);
      await caPage.getByLabel('Final disposition', { exact: true }).selectOption('benefits_approved');
      await caPage.getByLabel('Final disposition date').fill(today);
      await caPage.getByRole('button', { name: 'Save' }).click();
      await waitFor('the conflict', async () => ((await caPage.locator('#problem').textContent())?.startsWith('The match changed since you opened it') ? true : undefined));
      await waitFor('the record as it now is', async () => ((await cells(caPage))[9]![1] === 'Yes' ? true : undefined));
      expect((await cells(caPage))[7]).toEqual(['Final disposition', '–', '–']);
      expect(await caPage.content()).not.toMatch(/[0-9a-f]{128}/i);
    });
  });

  it('shows a state user the audit of its own data, a real-time query with the persons it asked about and its hits; another state\'s audit refused', async () => {
    // NV asks about three applicants: one CA holds (a hit), two nobody holds. Its audit record touches NV and CA.
    const { rows: [held] } = await t.pool.query<{ hash: string }>(
      `SELECT encode(lds_hash, 'hex') AS hash FROM bulkflow.active_participants WHERE state = 'CA' ORDER BY participant_id LIMIT 1`);
    const nobody = (n: number) => createHash('sha512').update(`nobody ${n}`).digest('hex');
    const asked = await t.api('/api/states/NV/match-queries', {
      token: await t.token({ states: ['NV'] }), method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ data: [{ lds_hash: held!.hash }, { lds_hash: nobody(1) }, { lds_hash: nobody(2) }] }),
    });
    expect(asked.status).toBe(200);
    const auditRows = (p: Page) => p.$$eval('#audit-list tbody tr', (rows) => rows.map((row) => [...row.querySelectorAll('td')].map((td) => td.textContent ?? '')));
    await asStateUser('CA', async (caPage) => {
      await caPage.getByRole('link', { name: 'Audit trail' }).click();
      await waitFor('the audit trail', async () => ((await auditRows(caPage)).length > 0 ? true : undefined));
      expect(await caPage.locator('#audit-title').textContent()).toBe('Audit trail');
      // Columns: time, caller, client, roles, states, request, persons asked, records returned, outcome, ids.
      const rows = await auditRows(caPage);
      const query = rows.find((cells) => cells[5] === 'POST matchQuery')!;
      expect([query[3], query[4], query[6], query[7], query[8]]).toEqual(['State.NV', 'CA, NV', '3', '1', '200']);
      // CA's own disposition changes of the test before: no persons asked; the refused save (412) returned nothing.
      const changes = rows.filter((cells) => cells[5] === 'PATCH matchDisposition').map((cells) => cells.slice(6, 9));
      expect(changes).toEqual([['–', '–', '412'], ['–', '1', '200'], ['–', '1', '200']]);
      // Only records touching CA: every row names it.
      expect(rows.every((cells) => cells[4]!.split(', ').includes('CA'))).toBe(true);
      expect(await seriousViolations(caPage)).toEqual([]);
      expect(await caPage.content()).not.toMatch(/[0-9a-f]{128}/i);

      await caPage.locator('#audit-state').fill('nv');
      await caPage.getByRole('button', { name: 'Show' }).click();
      await waitFor('the refusal', async () => ((await caPage.locator('#problem').textContent()) === 'Forbidden: your roles do not let you read the audit of state NV' ? true : undefined));
    });
  });

  it('uploads a file a state user picks, in parts with its SHA-256, and after a reload mid-upload resumes it and shows its ingest to the end', async () => {
    const file = join(t.stack.dataDir, `picked-${process.pid}.csv`);
    await generateParticipantsCsv(file, { rows: 3_000, badShare: 0, seed: 9 });
    const bytes = await readFile(file);
    const wyToken = await t.token({ states: ['WY'] });
    const listed = async () =>
      ((await (await t.api('/api/states/WY/upload-sessions', { token: wyToken })).json()) as { sessions: Array<{ fileName: string; sha256: string | null; status: string; receivedBytes: number; partCount: number; url: string; uploadId?: string }> })
        .sessions.filter((s) => s.fileName === 'picked.csv');
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const wyPage = await context.newPage();
    const problems: string[] = [];
    wyPage.on('pageerror', (error) => problems.push(error.message));
    const partsSent: number[] = [];
    wyPage.on('request', (request) => {
      const part = /\/parts\/(\d+)$/.exec(request.url());
      if (part && request.method() === 'PUT') partsSent.push(Number(part[1]));
    });
    try {
      await signIn(wyPage, dashboardUrl(t.url), { states: 'WY' });
      await wyPage.locator('#upload-panel').waitFor({ state: 'visible' });
      // Parts 1 and 2 go through; the page's later parts hang, as on a connection that stalls, until it is reloaded.
      await wyPage.route(/\/parts\/(\d+)$/, (route) => (Number(/(\d+)$/.exec(route.request().url())![1]) <= 2 ? route.continue() : undefined));
      await wyPage.locator('#upload-file').setInputFiles({ name: 'picked.csv', mimeType: 'text/csv', buffer: bytes });
      const opened = await waitFor('two parts held', async () => {
        const [session] = await listed();
        return session && session.receivedBytes > 0 && session.receivedBytes === 2 * (64 << 10) ? session : undefined;
      });
      // The page sent the whole file's SHA-256 when it opened the upload.
      expect(opened.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
      expect(opened.status).toBe('open');
      // Reloaded mid-upload (the tab keeps its sign-in; the stalled parts never reached the server): picking the same
      // file again resumes the open upload.
      await wyPage.reload();
      await wyPage.unrouteAll({ behavior: 'ignoreErrors' });
      partsSent.length = 0;
      await wyPage.locator('#upload-panel').waitFor({ state: 'visible' });
      const [beforePick] = await listed();
      expect(beforePick!.receivedBytes).toBe(2 * (64 << 10));
      await wyPage.locator('#upload-file').setInputFiles({ name: 'picked.csv', mimeType: 'text/csv', buffer: bytes });
      // Committed: the page opens the upload's own view, which follows ingestion to the end.
      await waitFor('the upload view', async () => ((await wyPage.locator('#detail-title').textContent()) === 'Upload wy/picked.csv' ? true : undefined), 120_000);
      await waitFor('the upload to complete', async () => ((await valueOf(wyPage.locator('#detail-progress'))) === 100 ? true : undefined), 120_000);
      expect(partsSent.sort((a, b) => a - b)).toEqual(Array.from({ length: opened.partCount - 2 }, (_, i) => i + 3));
      const [committed] = await listed();
      expect(committed).toMatchObject({ url: opened.url, status: 'committed' });
      const status = await getJson<UploadStatusBody>(`${t.url}/api/uploads?blob=${encodeURIComponent('wy/picked.csv')}`);
      expect(status).toMatchObject({ uploadId: committed!.uploadId, status: 'complete', rowsCommitted: 3_000, rowsRejected: 0 });
      expect(await seriousViolations(wyPage)).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  }, 240_000);
});
