import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { setImmediate as yieldToIo } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type KeyFilter, type KeyWords } from './keyFilter.js';

/**
 * One range's probe as the worker sees it: the keys and every window's words in memory shared with the main thread
 * (copied there once per range, ~6 MB at most, a few ms against ~250 ms of probing), and a counter both threads take
 * windows from, so each probes as many as it gets to: neither waits for a share sized in advance.
 */
export interface ProbeJob {
  id: number;
  /** Int32Array(1): the next window to probe (a value past the last: none left). */
  claims: SharedArrayBuffer;
  keys: SharedArrayBuffer;
  keyWords: number;
  words: SharedArrayBuffer;
  windows: Array<{ offset: number; length: number; blocks: number; firstBlock: number }>;
}

/** The worker's answer: the key positions each window it probed may hold, in key order. */
export type ProbeFound = Array<[window: number, positions: Uint32Array<ArrayBuffer>]>;

/**
 * The process's one probe worker thread, started by the first run that needs it and kept for the next (a start costs
 * ~50 ms). It keeps the process alive only while a job is out. A worker that fails (fails to start, throws, exits,
 * runs out of its heap) fails the jobs it holds, and the next job starts a new one.
 */
export class ProbeWorker {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, { resolve: (found: ProbeFound) => void; reject: (error: Error) => void }>();
  private nextId = 0;

  constructor(private readonly url: URL) {}

  /** The job's answer; rejects when the worker fails before answering. */
  probe(job: Omit<ProbeJob, 'id'>): Promise<ProbeFound> {
    let worker: Worker;
    try {
      worker = this.worker ?? this.start();
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const id = this.nextId++;
    const answer = new Promise<ProbeFound>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    if (this.pending.size === 1) worker.ref();
    worker.postMessage({ ...job, id } satisfies ProbeJob);
    return answer;
  }

  /** Ends the worker (a test's teardown; a process ends without it). */
  async close(): Promise<void> {
    await this.worker?.terminate();
  }

  private start(): Worker {
    // A small heap: the worker holds one job's answer at a time (the shared memory is the main thread's).
    const worker = new Worker(this.url, { resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 2 } });
    worker.unref();
    const fail = (error: Error) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      // The probe's answer stays the same (the main thread probes alone), only slower: say so, with the code only.
      if (this.pending.size > 0) console.warn(`candidate probe worker failed: ${(error as { code?: string }).code ?? error.name}; probing on the main thread`);
      for (const { reject } of this.pending.values()) reject(error);
      this.pending.clear();
    };
    worker.on('message', ({ id, found }: { id: number; found: ProbeFound }) => {
      const job = this.pending.get(id);
      this.pending.delete(id);
      if (this.pending.size === 0) worker.unref();
      job?.resolve(found);
    });
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`candidate probe worker exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }
}

const WORKER_URL = new URL('./candidateProbe.worker.js', import.meta.url);
let processWorker: ProbeWorker | undefined;

/**
 * The process's probe worker, when a second thread can pay: the host has more than one core and the worker's compiled
 * file is there (not when the engine runs from its TypeScript sources).
 */
export function sharedProbeWorker(): ProbeWorker | undefined {
  if (availableParallelism() < 2 || !existsSync(fileURLToPath(WORKER_URL))) return undefined;
  return (processWorker ??= new ProbeWorker(WORKER_URL));
}

/** Memory shared with the worker for one run's ranges, grown as a range needs. */
export class SharedProbeMemory {
  private keys = new SharedArrayBuffer(0);
  private words = new SharedArrayBuffer(0);

  /** The job for these keys and windows: both copied into the shared memory. */
  job(keys: KeyWords, windows: readonly KeyFilter[]): Omit<ProbeJob, 'id'> {
    const total = windows.reduce((sum, window) => sum + window.words.length, 0);
    if (this.keys.byteLength < keys.byteLength) this.keys = new SharedArrayBuffer(keys.byteLength);
    if (this.words.byteLength < 4 * total) this.words = new SharedArrayBuffer(4 * total);
    new Uint32Array(this.keys).set(keys);
    const words = new Uint32Array(this.words);
    let offset = 0;
    const shared = windows.map((window) => {
      words.set(window.words, offset);
      const part = { offset, length: window.words.length, blocks: window.blocks, firstBlock: window.firstBlock };
      offset += window.words.length;
      return part;
    });
    return { claims: new SharedArrayBuffer(4), keys: this.keys, keyWords: keys.length, words: this.words, windows: shared };
  }
}

/**
 * The positions of the keys each window may hold (mayHoldOf), window by window. With a worker, the main thread and the
 * worker take windows from one counter; the main thread yields after each (a few ms) so the next range's reads come
 * in meanwhile. When the worker fails, the main thread probes the windows it has no answer for (the answer is the
 * same), and `onFailure` is told.
 */
export async function probeRange(
  keys: KeyWords,
  windows: readonly KeyFilter[],
  helper?: { worker: ProbeWorker; memory: SharedProbeMemory; onFailure: (error: unknown) => void },
): Promise<Array<ArrayLike<number>>> {
  if (!helper) return windows.map((window) => window.mayHoldOf(keys));
  const found: Array<ArrayLike<number> | undefined> = new Array(windows.length);
  const job = helper.memory.job(keys, windows);
  const claims = new Int32Array(job.claims);
  const theirs = helper.worker.probe(job);
  // Told even when the main thread took every window (a worker that failed to start took none).
  theirs.catch(helper.onFailure);
  let mine = 0;
  for (let w = Atomics.add(claims, 0, 1); w < windows.length; w = Atomics.add(claims, 0, 1), mine++) {
    found[w] = windows[w]!.mayHoldOf(keys);
    await yieldToIo();
  }
  if (mine < windows.length) {
    try {
      for (const [w, positions] of await theirs) found[w] = positions;
    } catch {
      for (const [w, window] of windows.entries()) found[w] ??= window.mayHoldOf(keys);
    }
  }
  return found as Array<ArrayLike<number>>;
}
