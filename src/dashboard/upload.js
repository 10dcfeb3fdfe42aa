// Upload from the page: the resumable upload API every client uses (README: resumable uploads in parts). The whole
// file's SHA-256 is computed first, in slices (hash-wasm, sha256.js: Web Crypto cannot hash incrementally), and sent
// when the upload opens, so the server verifies the file before storing it. The file goes up in parts, three at once,
// each with its SHA-256 as Content-Digest; the session's URL is kept in localStorage under the file's name, size and
// date, so after a reload picking the same file again sends only the parts the server does not hold yet. Once
// committed, the page opens the upload's own view, which shows ingestion.
import { accessToken } from './signIn.js';

const PARALLEL = 3;
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** Problem details as the rest of the page shows them. */
async function refusal(response) {
  const problem = await response.json().catch(() => ({}));
  return Object.assign(new Error(`${problem.title ?? `HTTP ${response.status}`}${problem.detail ? `: ${problem.detail}` : ''}`), { status: response.status, problem });
}

async function call(method, url, body) {
  const headers = { accept: 'application/json', authorization: `Bearer ${await accessToken()}`, ...(body ? { 'content-type': 'application/json' } : {}) };
  const response = await fetch(url, { method, headers, cache: 'no-store', ...(body ? { body: JSON.stringify(body) } : {}) });
  if (!response.ok) throw await refusal(response);
  return response.json();
}

/** One part by XMLHttpRequest: fetch reports no upload progress. */
async function sendPart(url, blob, digest, onBytes) {
  const token = await accessToken();
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', url);
    xhr.setRequestHeader('authorization', `Bearer ${token}`);
    xhr.setRequestHeader('content-digest', `sha-256=:${digest}:`);
    xhr.upload.onprogress = (event) => onBytes(event.loaded);
    xhr.onload = () => (xhr.status === 200 ? resolve(undefined) : reject(Object.assign(new Error(`part refused: HTTP ${xhr.status}`), { status: xhr.status })));
    xhr.onerror = () => reject(new Error('the connection was lost'));
    xhr.send(blob);
  });
}

async function sha256Base64(blob) {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer()));
  let binary = '';
  for (const byte of digest) binary += String.fromCharCode(byte);
  return btoa(binary);
}

const SLICE = 8 * 2 ** 20;

/** The whole file's SHA-256 (hex), read slice by slice so memory stays flat; null where WebAssembly is unavailable. */
async function fileSha256(file, report) {
  if (!globalThis.hashwasm) return null;
  const hasher = await globalThis.hashwasm.createSHA256();
  hasher.init();
  for (let offset = 0; offset < file.size; offset += SLICE) {
    hasher.update(new Uint8Array(await file.slice(offset, offset + SLICE).arrayBuffer()));
    report(Math.min(file.size, offset + SLICE), file.size, 0, 'hashing');
  }
  return hasher.digest('hex');
}

const storageKey = (state, file) => `bulkflow.upload:${state}:${file.name}:${file.size}:${file.lastModified}`;

/** Uploads `file` for `state`; resolves to the committed upload's ids. */
async function upload(state, file, report) {
  const sessions = new URL(`../states/${state}/upload-sessions`, location.href).href;
  const key = storageKey(state, file);
  const { sessions: listed } = await call('GET', sessions);
  // Committed and refused sessions stay listed for a while; only live ones can be resumed.
  const open = listed.filter((s) => s.status === 'open' || s.status === 'verifying');
  // The session this browser opened before a reload, or any open one of the same name and size.
  const remembered = localStorage.getItem(key);
  const sha256 = await fileSha256(file, report);
  const same = (s) => s.fileName === file.name && s.size === file.size && (s.sha256 === null || sha256 === null || s.sha256 === sha256);
  let session = open.find((s) => s.url === remembered && same(s)) ?? open.find(same);
  if (!session) {
    const other = open.find((s) => s.fileName === file.name);
    if (other) throw new Error(`Another upload of ${file.name} is in progress for ${state} (a different file): wait for it or choose another name.`);
    session = await call('POST', sessions, { fileName: file.name, size: file.size, ...(sha256 ? { sha256 } : {}) });
  }
  localStorage.setItem(key, session.url);
  const resumed = session.receivedBytes;
  const flying = new Map();
  let sent = 0;
  const progress = () => {
    let inFlight = 0;
    for (const bytes of flying.values()) inFlight += bytes;
    report(resumed + sent + inFlight, file.size, resumed);
  };
  progress();
  const queue = [...session.missingParts];
  const worker = async () => {
    for (let n = queue.shift(); n !== undefined; n = queue.shift()) {
      const part = file.slice((n - 1) * session.partBytes, Math.min(file.size, n * session.partBytes));
      const digest = await sha256Base64(part);
      flying.set(n, 0);
      await sendPart(`${session.url}/parts/${n}`, part, digest, (bytes) => { flying.set(n, bytes); progress(); });
      flying.delete(n);
      sent += part.size;
      progress();
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, queue.length) }, worker));
  const committed = await untilCommitted(session.status === 'verifying' ? session : await call('POST', `${session.url}/commit`), report);
  localStorage.removeItem(key);
  return committed;
}

/** The server checks the whole file and stores it after the commit answers: the session is read until it settles. */
async function untilCommitted(accepted, report) {
  for (let session = accepted; ; session = await call('GET', accepted.url)) {
    if (session.status === 'committed') return session;
    if (session.status !== 'verifying') {
      throw new Error(`${session.failure?.title ?? 'Commit failed'}: ${session.failure?.detail ?? 'choose the same file again to commit it'}`);
    }
    report(session.size, session.size, 0, 'verifying');
    // Beside the page's own polling, inside the per-caller budget.
    await new Promise((resolve) => setTimeout(resolve, 3000));
  }
}

/** Shows the upload panel to a user who may upload for some state, and wires the picker and the drop zone. */
export function setupUpload(states) {
  if (states.length === 0) return;
  const select = /** @type {HTMLSelectElement} */ ($('upload-state'));
  select.replaceChildren(...states.map((code) => Object.assign(document.createElement('option'), { value: code, textContent: code })));
  $('upload-panel').hidden = false;
  const bar = /** @type {HTMLProgressElement} */ ($('upload-progress'));
  const status = $('upload-status');
  let busy = false;
  const start = async (file) => {
    if (!file || busy) return;
    busy = true;
    bar.hidden = false;
    bar.value = 0;
    status.textContent = `Uploading ${file.name}…`;
    try {
      const accepted = await upload(select.value, file, (done, total, resumed, phase) => {
        bar.value = Math.floor((done / total) * 100);
        const mib = (bytes) => (bytes / 2 ** 20).toFixed(1);
        status.textContent = phase === 'verifying'
          ? `Uploaded ${file.name}; the server is checking it (SHA-256) before storing it.`
          : phase === 'hashing'
          ? `Checking ${file.name} (SHA-256): ${mib(done)} of ${mib(total)} MiB`
          : `Uploading ${file.name}: ${mib(done)} of ${mib(total)} MiB${resumed > 0 ? ` (resumed: ${mib(resumed)} MiB were already there)` : ''}`;
      });
      status.textContent = `Uploaded ${file.name}; ingesting it now.`;
      location.hash = `#/upload/${encodeURIComponent(accepted.uploadId)}`;
    } catch (error) {
      status.textContent = `${error.message} Choose the same file again to resume.`;
    } finally {
      busy = false;
      /** @type {HTMLInputElement} */ ($('upload-file')).value = '';
    }
  };
  $('upload-file').addEventListener('change', (event) => start(/** @type {HTMLInputElement} */ (event.target).files?.[0]));
  const zone = $('drop-zone');
  zone.addEventListener('dragover', (event) => { event.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    zone.classList.remove('over');
    start(event.dataTransfer?.files?.[0]);
  });
}
