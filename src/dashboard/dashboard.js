// The upload dashboard: reads the status API (../states, ../uploads) and polls it while uploads run. It signs its
// user in (signIn.js) and sends the token as a bearer header; what it shows is what the API lets that user read:
// a state user sees their own states, an operator every state. Row values never reach this page, except what match
// records are for: a state user's own matches, with both states' participant and case ids and dispositions (never a
// hash), and the form that records the user's own state's disposition.
import { accessToken, forgetToken, signedInAs, signInConfig, startSignIn } from './signIn.js';
import { setupUpload } from './upload.js';

// One overview call per poll keeps a user well inside the API's per-caller rate limit (60 a minute by default).
const FAST_POLL_MS = 2500; // while an upload on screen is pending or running
const SLOW_POLL_MS = 5000; // otherwise, to notice new uploads soon
const UPLOADS_PER_STATE = 10;
const DOWNLOAD_PAGE = 1000; // the errors API's largest page
const PAIRS_REFRESH_MS = 15_000; // match counts change only after an upload activates: every few overview polls
const MATCH_PAGE = 50;

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const number = new Intl.NumberFormat('en-US');
const time = new Intl.DateTimeFormat('en-US', { dateStyle: 'medium', timeStyle: 'medium' });

class RateLimited extends Error {
  constructor(seconds) {
    super(`The API asks to slow down; trying again in ${seconds} s.`);
    this.retryAfterMs = seconds * 1000;
  }
}

let signInRetried = false;

/**
 * GET (or, with `send`, another method and a JSON body) an API path relative to the route prefix (the page lives at
 * {prefix}/dashboard/), with the user's token.
 */
async function api(path, query = {}, send = undefined) {
  const url = new URL(`../${path}`, location.href);
  url.search = '';
  for (const [name, value] of Object.entries(query)) if (value !== undefined && value !== null && value !== '') url.searchParams.set(name, String(value));
  const token = await accessToken();
  const headers = { accept: 'application/json', authorization: `Bearer ${token}`, ...(send ? { 'content-type': send.type, ...send.headers } : {}) };
  const response = await fetch(url, { method: send?.method ?? 'GET', headers, cache: 'no-store', ...(send ? { body: JSON.stringify(send.body) } : {}) });
  if (response.status === 401 && !signInRetried) {
    // Expired or revoked: sign in again, once per page load (a second refusal is shown, not looped on).
    signInRetried = true;
    forgetToken();
    return startSignIn();
  }
  if (response.status === 429) throw new RateLimited(Number(response.headers.get('retry-after')) || 5);
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    throw Object.assign(new Error(`${problem.title ?? `HTTP ${response.status}`}${problem.detail ? `: ${problem.detail}` : ''}`), { status: response.status });
  }
  return response.json();
}

function element(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

const announce = (text) => { $('announcer').textContent = text; };
const showProblem = (error) => {
  $('problem').hidden = !error;
  $('problem').textContent = error ? error.message : '';
};

/**
 * A list the API reads page by page: `after` is the cursor that opens the page on screen (each page's body names
 * the next one). Its Previous/Next buttons (ids prev-NAME and next-NAME) take the place of `[data-pager=NAME]` in
 * the list's toolbar; `load` reads the page at `after` and calls `loaded`, and a turn announces #NAME-info.
 */
class CursorPages {
  constructor(name, load) {
    this.load = load;
    this.info = $(`${name}-info`);
    this.prev = element('button', { type: 'button', id: `prev-${name}`, textContent: 'Previous page' });
    this.next = element('button', { type: 'button', id: `next-${name}`, textContent: 'Next page' });
    this.prev.addEventListener('click', () => this.turn(-1));
    this.next.addEventListener('click', () => this.turn(1));
    /** @type {HTMLElement} */ (document.querySelector(`[data-pager="${name}"]`)).replaceWith(this.prev, this.next);
    this.reset();
  }

  reset() {
    this.cursors = ['']; // cursors[i] opens page i
    this.page = 0;
  }

  get after() {
    return this.cursors[this.page];
  }

  /** The page on screen, of `size` items, holds `count`: "from–to" of the whole list. */
  range(size, count) {
    const from = this.page * size + 1;
    return `${number.format(from)}–${number.format(from + count - 1)}`;
  }

  /** The page at `after` is on screen and `next` (null at the end) opens the one after it. */
  loaded(next) {
    this.cursors[this.page + 1] = next ?? undefined;
    this.cursors.length = this.page + 2;
    this.prev.disabled = this.page === 0;
    this.next.disabled = !next;
  }

  async turn(step) {
    this.page = Math.max(0, this.page + step);
    try {
      await this.load();
      announce(this.info.textContent);
    } catch (error) {
      showProblem(error);
    }
  }
}

const rowsDone = (u) => u.rowsCommitted + u.rowsRejected;
const running = (u) => u.status === 'pending' || u.status === 'running';
const rowsText = (u) => `${number.format(rowsDone(u))}${u.rowsTotal !== null ? ` of ${number.format(u.rowsTotal)}` : ''}`;
const uploadHash = (id) => `#/upload/${encodeURIComponent(id)}`;

// ---- routing -------------------------------------------------------------------------------

let timer = 0;
let generation = 0; // a view change makes older poll results stale

function route() {
  const [, view, arg] = location.hash.split('/');
  clearTimeout(timer);
  generation++;
  showProblem(null);
  const shown = view === 'audit' ? 'audit' : arg && ['upload', 'matches', 'needs-action', 'match'].includes(view) ? view : 'overview';
  $('overview').hidden = shown !== 'overview';
  $('audit').hidden = shown !== 'audit';
  $('detail').hidden = shown !== 'upload';
  $('matches').hidden = shown !== 'matches' && shown !== 'needs-action';
  $('record').hidden = shown !== 'match';
  if (shown === 'audit') openAudit(arg ? decodeURIComponent(arg).toUpperCase() : '');
  else if (shown === 'upload') openUpload(decodeURIComponent(arg));
  else if (shown === 'matches' || shown === 'needs-action') openMatches(decodeURIComponent(arg).toUpperCase(), shown);
  else if (shown === 'match') openRecord(decodeURIComponent(arg));
  else openOverview(view === 'state' && arg ? decodeURIComponent(arg).toUpperCase() : '');
}

function schedule(poll, fast, error) {
  const mine = generation;
  clearTimeout(timer);
  const delay = error instanceof RateLimited ? error.retryAfterMs : fast ? FAST_POLL_MS : SLOW_POLL_MS;
  timer = setTimeout(() => { if (mine === generation) poll(); }, delay);
}

// ---- overview: uploads per state, newest first, the active one marked ------------------------

let focusTitleOnLoad = true;
let pairs = [];
let pairsFetchedAt = 0;

function openOverview(state) {
  const title = $('overview-title');
  title.textContent = state ? `Uploads for ${state}` : 'Uploads';
  document.title = `${title.textContent} · bulkflow`;
  if (focusTitleOnLoad) title.focus();
  $('states').replaceChildren();
  pairsFetchedAt = 0;
  pollOverview(state);
}

async function pollOverview(state) {
  const mine = generation;
  try {
    // Every state the user may read, each with its newest uploads: one request per poll.
    const { states } = await api('states', { uploads: UPLOADS_PER_STATE });
    if (Date.now() - pairsFetchedAt >= PAIRS_REFRESH_MS) {
      ({ pairs } = await api('matches'));
      pairsFetchedAt = Date.now();
    }
    if (mine !== generation) return;
    renderPairs(state);
    fillStateFilter(states, state);
    const shown = state ? states.filter((s) => s.state === state) : states;
    if (state && shown.length === 0) throw new Error(`You cannot read state ${state}, or it has no uploads.`);
    const lists = shown.map((s) => ({ state: s.state, uploads: s.recentUploads }));
    showProblem(null);
    $('no-uploads').hidden = lists.some((list) => list.uploads.length > 0);
    renderStates(lists, new Map(states.map((s) => [s.state, s.activeUploadId])));
    schedule(() => pollOverview(state), lists.some((list) => list.uploads.some(running)));
  } catch (error) {
    if (mine !== generation) return;
    showProblem(error);
    schedule(() => pollOverview(state), false, error);
  }
}

function fillStateFilter(states, selected) {
  const select = /** @type {HTMLSelectElement} */ ($('state-filter'));
  const codes = [...new Set([...states.map((s) => s.state), ...(selected ? [selected] : [])])].sort();
  const current = [...select.options].slice(1).map((o) => o.value);
  if (current.join() !== codes.join()) {
    select.replaceChildren(element('option', { value: '', textContent: 'All states' }), ...codes.map((code) => element('option', { value: code, textContent: code })));
  }
  select.value = selected;
}

/** Updates sections and rows in place, so focus and scroll survive each poll. */
function renderStates(lists, activeIds) {
  const container = $('states');
  const sections = lists.map((list) => {
    const id = `state-${list.state}`;
    let section = document.getElementById(id);
    if (!section) {
      const tbody = element('tbody');
      section = element('section', { id },
        element('h2', { id: `${id}-title`, textContent: list.state }),
        element('p', { className: 'state-meta' }),
        element('table', {},
          element('caption', { className: 'visually-hidden', textContent: `Uploads for ${list.state}, newest first` }),
          element('thead', {}, element('tr', {}, ...['File', 'Status', 'Progress', 'Rows', 'Rows/s', 'Rejected', 'Started'].map((name) =>
            element('th', { scope: 'col', className: ['Rows', 'Rows/s', 'Rejected'].includes(name) ? 'num' : '', textContent: name })))),
          tbody));
      section.setAttribute('aria-labelledby', `${id}-title`);
    }
    // The active upload may be older than the newest few listed: the states summary always names it.
    const activeId = activeIds.get(list.state);
    const active = list.uploads.find((u) => u.uploadId === activeId);
    section.querySelector('.state-meta').replaceChildren(...(!activeId ? ['No active upload']
      : active ? [`Active upload: ${active.blobName}`]
        : ['Active upload: ', element('a', { href: uploadHash(activeId), textContent: activeId }), ' (older than those listed)']));
    renderUploadRows(section.querySelector('tbody'), list.uploads);
    return section;
  });
  if (sections.some((section, i) => container.children[i] !== section) || container.children.length !== sections.length) {
    container.replaceChildren(...sections);
  }
}

function renderUploadRows(tbody, uploads) {
  const rows = uploads.map((u) => {
    let row = tbody.querySelector(`tr[data-upload-id="${CSS.escape(u.uploadId)}"]`);
    if (!row) {
      const progress = element('progress', { max: 100 });
      progress.setAttribute('aria-label', `Progress of ${u.blobName}`);
      row = element('tr', {},
        element('td', { className: 'file' }, element('a', { href: uploadHash(u.uploadId), textContent: u.blobName })),
        element('td', { className: 'status' }),
        element('td', { className: 'progress' }, progress, ' ', element('span', { className: 'percent' })),
        element('td', { className: 'num rows' }),
        element('td', { className: 'num speed' }),
        element('td', { className: 'num rejected' }),
        element('td', { className: 'started', textContent: time.format(new Date(u.startedAt)) }));
      row.dataset.uploadId = u.uploadId;
    }
    const was = row.dataset.status;
    row.dataset.status = u.status;
    row.classList.toggle('active', u.isActive);
    row.querySelector('.status').replaceChildren(statusLabel(u));
    setProgress(row.querySelector('progress'), u);
    row.querySelector('.percent').textContent = `${u.percent} %`;
    row.querySelector('.rows').textContent = rowsText(u);
    row.querySelector('.speed').textContent = u.rowsPerSecond === null ? '–' : number.format(u.rowsPerSecond);
    row.querySelector('.rejected').textContent = number.format(u.rowsRejected);
    if (was && was !== u.status) announce(`${u.blobName}: ${u.status}`);
    return row;
  });
  if (rows.some((row, i) => tbody.children[i] !== row) || tbody.children.length !== rows.length) tbody.replaceChildren(...rows);
}

function statusLabel(u) {
  return element('span', {},
    element('span', { className: `status-${u.status}`, textContent: u.status }),
    u.isActive ? element('span', { className: 'badge active', textContent: 'active' }) : null);
}

function setProgress(progress, u) {
  progress.value = u.percent;
  progress.setAttribute('aria-valuetext', `${u.percent} %, ${rowsText(u)} rows, ${number.format(u.rowsRejected)} rejected`);
}

/** Match counts per state pair (of the filtered state), and a link to the open matches of each state the user holds. */
function renderPairs(state) {
  const shown = state ? pairs.filter((p) => p.stateA === state || p.stateB === state) : pairs;
  $('match-pairs').hidden = false;
  $('no-matches').hidden = shown.length > 0;
  $('pairs').hidden = shown.length === 0;
  $('pairs').querySelector('tbody').replaceChildren(...shown.map((p) => element('tr', {},
    element('td', { textContent: `${p.stateA}–${p.stateB}` }),
    element('td', { className: 'num', textContent: number.format(p.open) }),
    element('td', { className: 'num', textContent: number.format(p.closed) }))));
  // Operators read counts only; a state's own role reads its records.
  const held = (signedInAs()?.states ?? []).filter((s) => !state || s === state);
  $('match-links').replaceChildren(...held.flatMap((s, i) => [
    i ? ' · ' : '',
    element('a', { href: `#/matches/${s}`, textContent: `Open matches of ${s}` }), ' · ',
    element('a', { href: `#/needs-action/${s}`, textContent: `Needs your action (${s})` }),
  ]));
}

// ---- detail: one upload, its rejected rows paginated and downloadable ----------------------------

const errorPages = new CursorPages('page', () => loadErrorPage());
let detailId = '';
let shownRejected = -1;

function openUpload(id) {
  if (id !== detailId) {
    detailId = id;
    shownRejected = -1;
    errorPages.reset();
    $('errors').querySelector('tbody').replaceChildren();
    $('counts').querySelector('tbody').replaceChildren();
  }
  $('detail-title').textContent = 'Upload';
  pollUpload(true);
}

async function pollUpload(first = false) {
  const mine = generation;
  try {
    const upload = await api(`uploads/${encodeURIComponent(detailId)}`);
    if (mine !== generation) return;
    const title = $('detail-title');
    title.textContent = `Upload ${upload.blobName}`;
    document.title = `${title.textContent} · bulkflow`;
    if (first) title.focus();
    const progress = /** @type {HTMLProgressElement} */ ($('detail-progress'));
    setProgress(progress, upload);
    $('detail-percent').textContent = `${upload.percent} %`;
    renderSummary(upload);
    $('back').href = `#/state/${upload.state}`;
    $('counts').querySelector('tbody').replaceChildren(...Object.entries(upload.errorCounts).sort((a, b) => b[1] - a[1]).map(([code, n]) =>
      element('tr', {}, element('td', { textContent: code }), element('td', { className: 'num', textContent: number.format(n) }))));
    // Rows are rejected as chunks commit: refresh the page on screen when the count changed.
    if (first || upload.rowsRejected !== shownRejected) await loadErrorPage(mine);
    if (signedInAs()?.operator) await loadConsole(mine);
    shownRejected = upload.rowsRejected;
    schedule(() => pollUpload(), running(upload));
  } catch (error) {
    if (mine !== generation) return;
    showProblem(error);
    schedule(() => pollUpload(), false, error);
  }
}

function renderSummary(u) {
  const items = [
    ['Status', statusLabel(u)],
    ['State', u.state],
    ['File', u.blobName],
    ['Upload id', u.uploadId],
    ['Rows', rowsText(u)],
    ['Committed', number.format(u.rowsCommitted)],
    ['Rejected', number.format(u.rowsRejected)],
    ['Rows/s', u.rowsPerSecond === null ? '–' : number.format(u.rowsPerSecond)],
    ['Chunks', `${number.format(u.chunksDone)} of ${number.format(u.chunksTotal)}`],
    ['Started', time.format(new Date(u.startedAt))],
    ['Finished', u.completedAt ? time.format(new Date(u.completedAt)) : '–'],
    ...(u.error ? [['Error', `${u.error.code}${u.error.line ? ` (line ${u.error.line})` : ''}: ${u.error.message}`]] : []),
    ...u.warnings.map((w) => ['Warning', Object.values(w).join(' ')]),
    ['Orchestration', u.instanceId],
  ];
  $('summary').replaceChildren(...items.flatMap(([term, value]) => [element('dt', { textContent: term }), element('dd', {}, value)]));
}

async function loadErrorPage(mine = generation) {
  const limit = Number(/** @type {HTMLSelectElement} */ ($('page-size')).value);
  const body = await api(`uploads/${encodeURIComponent(detailId)}/errors`, { limit, after: errorPages.after });
  if (mine !== generation) return;
  errorPages.loaded(body.next);
  $('errors').querySelector('tbody').replaceChildren(...body.errors.map((e) => element('tr', {},
    element('td', { className: 'num', textContent: String(e.line) }),
    element('td', { textContent: e.column ?? '–' }),
    element('td', { textContent: e.code }),
    element('td', { textContent: e.message }))));
  $('page-info').textContent = body.errors.length === 0
    ? (errorPages.page === 0 ? 'No rejected rows.' : 'No more rejected rows.')
    : `Rejected rows ${errorPages.range(limit, body.errors.length)} of ${number.format(body.rowsRejected)} (page ${errorPages.page + 1}).`;
  /** @type {HTMLButtonElement} */ ($('download')).disabled = body.rowsRejected === 0;
}

const csvField = (value) => (/[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value);

/** Fetches every page of the errors API and saves it as CSV: line, column, code, message. */
async function downloadCsv() {
  const button = /** @type {HTMLButtonElement} */ ($('download'));
  button.disabled = true;
  announce('Preparing the CSV…');
  try {
    const lines = ['line,column,code,message'];
    let after = '';
    do {
      const body = await api(`uploads/${encodeURIComponent(detailId)}/errors`, { limit: DOWNLOAD_PAGE, after });
      for (const e of body.errors) lines.push([String(e.line), e.column ?? '', e.code, e.message].map(csvField).join(','));
      after = body.next;
    } while (after);
    const url = URL.createObjectURL(new Blob([`${lines.join('\r\n')}\r\n`], { type: 'text/csv' }));
    const link = element('a', { href: url, download: `${detailId}-rejected-rows.csv` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    announce(`Downloaded ${number.format(lines.length - 1)} rejected rows.`);
  } catch (error) {
    showProblem(error);
  } finally {
    button.disabled = false;
  }
}

// ---- matches: a state's open match records (or those needing its action), page by page -----------------

let matchState = '';
let matchKind = 'matches'; // or 'needs-action'
const matchPages = new CursorPages('matches', () => loadMatchPage());

const LABELS = {
  notice_sent: 'Notice sent', client_provided_required_verification: 'Client provided required verification',
  incorrect_client_information: 'Incorrect client information', system_error: 'System error', other: 'Other',
  benefits_approved: 'Benefits approved', benefits_denied: 'Benefits denied', benefits_terminated: 'Benefits terminated',
};
const initialAction = (d) => (d.initial_action_taken ? `${LABELS[d.initial_action_taken]}, ${d.initial_action_at}` : '–');

function openMatches(state, kind) {
  if (state !== matchState || kind !== matchKind) {
    matchState = state;
    matchKind = kind;
    matchPages.reset();
    $('match-list').querySelector('tbody').replaceChildren();
  }
  const title = $('matches-title');
  title.textContent = kind === 'needs-action' ? `Needs your action: ${state}` : `Open matches of ${state}`;
  document.title = `${title.textContent} · bulkflow`;
  /** @type {HTMLAnchorElement} */ ($('open-link')).href = `#/matches/${state}`;
  /** @type {HTMLAnchorElement} */ ($('needs-action-link')).href = `#/needs-action/${state}`;
  $('open-link').toggleAttribute('aria-current', kind === 'matches');
  $('needs-action-link').toggleAttribute('aria-current', kind === 'needs-action');
  title.focus();
  loadMatchPage();
}

async function loadMatchPage() {
  const mine = generation;
  const status = matchKind === 'needs-action' ? 'needs-action' : 'open';
  try {
    const body = await api(`states/${encodeURIComponent(matchState)}/matches`, { status, limit: MATCH_PAGE, after: matchPages.after });
    if (mine !== generation) return;
    matchPages.loaded(body.next);
    const id = (text) => text ?? '–';
    $('match-list').querySelector('tbody').replaceChildren(...body.matches.map((m) => element('tr', {},
      element('td', {}, element('a', { href: `#/match/${encodeURIComponent(m.matchId)}` }, element('code', { textContent: m.matchId }))),
      element('td', { textContent: m.otherState }),
      element('td', { textContent: id(m.participant.participantId) }),
      element('td', { textContent: id(m.participant.caseId) }),
      element('td', { textContent: id(m.otherParticipant.participantId) }),
      element('td', { textContent: id(m.otherParticipant.caseId) }),
      element('td', { textContent: initialAction(m.disposition) }),
      element('td', { textContent: initialAction(m.otherDisposition) }),
      element('td', { textContent: time.format(new Date(m.openedAt)) }))));
    const what = matchKind === 'needs-action' ? 'matches needing your action' : 'open matches';
    $('matches-info').textContent = body.matches.length === 0
      ? (matchPages.page === 0 ? `No ${what} for ${matchState}.` : `No more ${what}.`)
      : `${what[0].toUpperCase()}${what.slice(1)} ${matchPages.range(MATCH_PAGE, body.matches.length)} (page ${matchPages.page + 1}).`;
  } catch (error) {
    if (mine === generation) showProblem(error);
  }
}

// ---- record: one match, both sides' dispositions, and the form for the user's own side -------------------

const FIELDS = [
  ['initial_action_taken', 'Initial action'], ['initial_action_at', 'Initial action date'], ['invalid_match', 'Invalid match'],
  ['invalid_match_reason', 'Invalid match reason'], ['other_reasoning_for_invalid_match', 'Reason (other)'],
  ['final_disposition', 'Final disposition'], ['final_disposition_date', 'Final disposition date'], ['vulnerable_individual', 'Vulnerable individual'],
];
/** The record as last read: the form's change is sent against its version. */
let record = null;

const shownValue = (value) => (value === undefined ? '–' : typeof value === 'boolean' ? (value ? 'Yes' : 'No') : LABELS[value] ?? String(value));

async function openRecord(matchId) {
  const mine = generation;
  const title = $('record-title');
  title.textContent = `Match ${matchId}`;
  document.title = `${title.textContent} · bulkflow`;
  title.focus();
  try {
    const view = await api(`matches/${encodeURIComponent(matchId)}`);
    if (mine === generation) renderRecord(view);
  } catch (error) {
    if (mine === generation) showProblem(error);
  }
}

function renderRecord(view) {
  record = view;
  /** @type {HTMLAnchorElement} */ ($('record-back')).href = `#/matches/${view.state}`;
  const closed = view.status === 'closed';
  const why = { upload: `an upload of ${view.closedByState} no longer holds the person`, final_dispositions: 'both states reached a final disposition', invalid_match: 'a state marked it invalid' };
  $('record-summary').replaceChildren(
    element('dt', { textContent: 'Status' }), element('dd', { textContent: closed ? `Closed: ${why[view.closedReason] ?? view.closedReason}` : 'Open' }),
    element('dt', { textContent: 'States' }), element('dd', { textContent: `${view.state} (yours) and ${view.otherState}` }),
    element('dt', { textContent: 'Found by' }), element('dd', { textContent: `${view.initiator === 'query' ? 'a real-time query' : 'bulk matching'} of ${view.initiatingState}` }),
    element('dt', { textContent: 'Open since' }), element('dd', { textContent: time.format(new Date(view.openedAt)) }),
  );
  $('own-side').textContent = `${view.state} (yours)`;
  $('other-side').textContent = view.otherState;
  const rows = [
    ['Participant', view.participant.participantId ?? '–', view.otherParticipant.participantId ?? '–'],
    ['Case', view.participant.caseId ?? '–', view.otherParticipant.caseId ?? '–'],
    ...FIELDS.map(([field, label]) => [label, shownValue(view.disposition[field]), shownValue(view.otherDisposition[field])]),
  ];
  $('dispositions').querySelector('tbody').replaceChildren(...rows.map(([label, own, other]) =>
    element('tr', {}, element('th', { scope: 'row', textContent: label }), element('td', { textContent: own }), element('td', { textContent: other }))));
  $('disposition-form').hidden = closed;
  $('record-closed').hidden = !closed;
  for (const [field] of FIELDS) {
    const input = /** @type {HTMLInputElement} */ ($(`f-${field}`));
    const value = view.disposition[field];
    if (input.type === 'checkbox') input.checked = value === true;
    else input.value = value ?? '';
  }
}

/** The change to the user's own side: every field whose value differs from the record as read (cleared ones as null). */
function formChanges() {
  const changes = {};
  for (const [field] of FIELDS) {
    const input = /** @type {HTMLInputElement} */ ($(`f-${field}`));
    const before = record.disposition[field];
    if (input.type === 'checkbox') {
      // Unchecked and never recorded stays unrecorded.
      if (input.checked !== (before ?? false)) changes[field] = input.checked;
      continue;
    }
    const value = input.value.trim() || undefined;
    if (value !== before) changes[field] = value ?? null;
  }
  return changes;
}

async function saveDisposition(event) {
  event.preventDefault();
  if (!record) return;
  const button = /** @type {HTMLButtonElement} */ ($('save-disposition'));
  button.disabled = true;
  showProblem(null);
  try {
    const changes = formChanges();
    if (Object.keys(changes).length === 0) {
      announce('Nothing changed.');
      return;
    }
    const view = await api(`matches/${encodeURIComponent(record.matchId)}/dispositions/${record.state}`, {}, {
      method: 'PATCH', type: 'application/merge-patch+json', headers: { 'if-match': `"${record.version}"` }, body: changes,
    });
    renderRecord(view);
    announce('Disposition saved.');
  } catch (error) {
    if (error.status === 412) {
      // Someone else changed the record meanwhile: show theirs, keep nothing of ours unseen.
      await openRecord(record.matchId);
      showProblem(new Error('The match changed since you opened it (another caseworker saved first). It is shown as it is now: review it and save again.'));
    } else {
      showProblem(error);
    }
  } finally {
    button.disabled = false;
  }
}

// ---- operator console: the upload's orchestration as steps, and (Operator.Admin) its actions ---------------

const duration = (ms) => (ms === null ? '–' : ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`);

async function loadConsole(mine = generation) {
  let body;
  try {
    body = await api(`uploads/${encodeURIComponent(detailId)}/orchestration`);
  } catch (error) {
    if (mine !== generation) return;
    $('console').hidden = false;
    $('console-status').textContent = `No orchestration steps to show (${error.message}).`;
    $('timeline').querySelector('tbody').replaceChildren();
    $('console-actions').hidden = true;
    return;
  }
  if (mine !== generation) return;
  $('console').hidden = false;
  $('console-status').textContent = `Orchestration ${body.instanceId}: ${body.runtimeStatus}, last updated ${time.format(new Date(body.lastUpdatedTime))}.`;
  $('console-failure').hidden = !body.failure;
  $('console-failure').textContent = body.failure ? `Why it stopped: ${body.failure}` : '';
  $('timeline').querySelector('tbody').replaceChildren(...body.steps.map((step) => element('tr', { className: step.outcome === 'failed' ? 'failed' : '' },
    element('th', { scope: 'row', textContent: `${step.name}${step.kind === 'subOrchestration' ? ' (sub-orchestration)' : ''}` }),
    element('td', { className: 'num', textContent: number.format(step.completed) }),
    element('td', { className: 'num', textContent: number.format(step.failedAttempts) }),
    element('td', { textContent: step.outcome }),
    element('td', { textContent: step.startedAt ? time.format(new Date(step.startedAt)) : '–' }),
    element('td', { className: 'num', textContent: duration(step.durationMs) }),
    element('td', { textContent: step.reasons.join('; ') || '–' }))));
  const admin = signedInAs()?.admin === true;
  $('console-actions').hidden = !admin || body.actions.length === 0;
  for (const action of ['rewind', 'restart', 'terminate']) $(`action-${action}`).hidden = !admin || !body.actions.includes(action);
}

async function act(action) {
  const mine = generation;
  try {
    await api(`uploads/${encodeURIComponent(detailId)}/orchestration/${action}`, {}, { method: 'POST', type: 'application/json', body: {} });
    announce(`${action} requested`);
  } catch (error) {
    if (mine === generation) showProblem(error);
  }
  if (mine === generation) pollUpload();
}

// ---- audit trail: newest first, cursor pages ------------------------------------------------------

let auditState = '';
const auditPages = new CursorPages('audit', () => loadAuditPage());

function openAudit(state) {
  auditState = state;
  auditPages.reset();
  /** @type {HTMLInputElement} */ ($('audit-state')).value = state;
  const title = $('audit-title');
  title.textContent = state ? `Audit trail of ${state}` : 'Audit trail';
  document.title = `${title.textContent} · bulkflow`;
  title.focus();
  loadAuditPage();
}

async function loadAuditPage() {
  const mine = generation;
  try {
    const body = await api('audit', { state: auditState, limit: MATCH_PAGE, after: auditPages.after });
    if (mine !== generation) return;
    auditPages.loaded(body.next);
    $('audit-list').querySelector('tbody').replaceChildren(...body.records.map((r) => element('tr', {},
      element('td', { textContent: time.format(new Date(r.at)) }),
      element('td', {}, element('code', { textContent: r.callerId })),
      element('td', {}, element('code', { textContent: r.clientId })),
      element('td', { textContent: r.roles.join(', ') }),
      element('td', { textContent: r.states.join(', ') }),
      element('td', { textContent: `${r.method} ${r.route}${r.action ? ` (${r.action})` : ''}` }),
      element('td', { className: 'num', textContent: r.personsQueried === null ? '–' : number.format(r.personsQueried) }),
      element('td', { className: 'num', textContent: r.recordsReturned === null ? '–' : number.format(r.recordsReturned) }),
      element('td', { className: 'num', textContent: String(r.outcome) }),
      element('td', { textContent: r.objectIds.length > 3 ? `${r.objectIds.slice(0, 3).join(', ')} and ${r.objectIds.length - 3} more` : r.objectIds.join(', ') }))));
    $('audit-info').textContent = body.records.length === 0 ? 'No audit records.' : `Page ${auditPages.page + 1}, ${body.records.length} records.`;
  } catch (error) {
    if (mine === generation) showProblem(error);
  }
}

// ---- wiring -----------------------------------------------------------------------------------

$('state-filter').addEventListener('change', (event) => {
  const value = /** @type {HTMLSelectElement} */ (event.target).value;
  focusTitleOnLoad = false; // keep focus on the select for keyboard users
  location.hash = value ? `#/state/${value}` : '#/';
});
$('filter').addEventListener('submit', (event) => event.preventDefault());
$('page-size').addEventListener('change', () => { errorPages.reset(); errorPages.turn(0); });
$('download').addEventListener('click', downloadCsv);
for (const action of ['rewind', 'restart', 'terminate']) $(`action-${action}`).addEventListener('click', () => act(action));
$('audit-filter').addEventListener('submit', (event) => {
  event.preventDefault();
  const state = /** @type {HTMLInputElement} */ ($('audit-state')).value.trim();
  location.hash = state ? `#/audit/${encodeURIComponent(state.toUpperCase())}` : '#/audit';
});
$('disposition-form').addEventListener('submit', saveDisposition);
window.addEventListener('hashchange', () => { route(); focusTitleOnLoad = true; });
$('sign-out').addEventListener('click', async () => {
  forgetToken();
  const config = await signInConfig();
  const back = `${location.origin}${location.pathname}`;
  location.assign(`${config.authority}/oauth2/v2.0/logout?post_logout_redirect_uri=${encodeURIComponent(back)}`);
});

/** Signs in first (or finishes a sign-in that just came back), then shows who is signed in and the view. */
async function start() {
  try {
    await accessToken();
  } catch (error) {
    showProblem(error);
    return;
  }
  const who = signedInAs();
  if (who) {
    const roles = [...(who.admin ? ['operator admin (reads every state, acts on orchestrations)'] : who.operator ? ['operator (reads every state)'] : []), ...(who.states.length ? [`state ${who.states.join(', ')}`] : [])];
    $('who').textContent = `Signed in${who.name ? ` as ${who.name}` : ''}: ${roles.join('; ') || 'no bulkflow role'}`;
    $('who').hidden = false;
    $('sign-out').hidden = false;
    // A state user uploads for their own states through the same API as any other client.
    setupUpload(who.states);
  }
  route();
}
start();
