import { parentPort } from 'node:worker_threads';
import { type ProbeJob, type ProbeFound } from './candidateProbe.js';
import { KeyFilter } from './keyFilter.js';

/**
 * The candidate probe's worker thread (candidateProbe.ts): for each job, it takes windows from the job's shared claim
 * counter until none is left, probes the range's keys against each, and answers with the positions found per window.
 */
parentPort!.on('message', (job: ProbeJob) => {
  const claims = new Int32Array(job.claims);
  const keys = new Uint32Array(job.keys, 0, job.keyWords);
  const words = new Uint32Array(job.words);
  const found: ProbeFound = [];
  for (let w = Atomics.add(claims, 0, 1); w < job.windows.length; w = Atomics.add(claims, 0, 1)) {
    const { offset, length, blocks, firstBlock } = job.windows[w]!;
    found.push([w, Uint32Array.from(KeyFilter.ofWords(words.subarray(offset, offset + length), { blocks, firstBlock }).mayHoldOf(keys))]);
  }
  parentPort!.postMessage({ id: job.id, found }, found.map(([, positions]) => positions.buffer));
});
