import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { fileByteSource, planChunks, DEFAULT_MAX_LINE_BYTES } from '../src/engine/index.js';
import { buildIndex, lookupIndexSql, participantIdIndexSql, vacuumSql } from '../src/engine/activateUpload.js';
import { COPY_COLUMNS, COPY_OPTIONS, CopyEncoder } from '../src/engine/copyEncoder.js';
import { uploadTable, withClient, withTransaction } from '../src/engine/db.js';
import { createUploadTable } from '../src/engine/planUpload.js';

/**
 * The same-work floor: what PostgreSQL alone needs to hold the rows the engine holds, as the engine holds them. The
 * file's rows are encoded once, beforehand and untimed, into the engine's binary COPY form (by the engine's own
 * encoder, so the table's content is the engine's); a round then times binary COPY of them into the engine's kind of
 * table in as many streams as the engine commits chunks at once, VACUUM (ANALYZE), and the engine's own two index
 * builds side by side, under the engine's settings. What it leaves out is exactly the engine's own work: reading and
 * checking the CSV, encoding, planning, the ledger, duplicate detection, the orchestration.
 */
export class SameWorkFloor {
  private constructor(
    private readonly parts: string[],
    readonly rows: number,
  ) {}

  /** Encodes `file` (a file without rejected rows) into `streams` binary COPY files beside it. */
  static async prepare(file: string, streams: number): Promise<SameWorkFloor> {
    const source = fileByteSource(file);
    const plan = await planChunks(source, { targetChunkBytes: 1 << 20 });
    const perStream = Math.ceil(plan.chunks.length / streams);
    const parts: string[] = [];
    let rows = 0;
    for (let s = 0; s * perStream < plan.chunks.length; s++) {
      const group = plan.chunks.slice(s * perStream, (s + 1) * perStream);
      const first = group[0]!;
      const last = group[group.length - 1]!;
      const encoder = new CopyEncoder({ startOffset: first.byteStart, startLine: first.firstLine, maxRecordBytes: DEFAULT_MAX_LINE_BYTES, header: plan.columns });
      const part = `${file}.floor-${s}.bin`;
      await pipeline(source.stream(first.byteStart, last.byteEnd), encoder, createWriteStream(part));
      if (encoder.rowsRejected > 0) throw new Error(`the floor's file has ${encoder.rowsRejected} rejected rows: it needs a clean file`);
      rows += encoder.records;
      parts.push(part);
    }
    return new SameWorkFloor(parts, rows);
  }

  /** One timed round on the pool's database; the table is dropped (and a checkpoint taken) after. */
  async measure(pool: pg.Pool): Promise<number> {
    const uploadId = `fl-${randomBytes(10).toString('hex')}`;
    const table = uploadTable(uploadId).qualified;
    await withClient(pool, (client) => createUploadTable(client, uploadId));
    try {
      const started = process.hrtime.bigint();
      await Promise.all(
        this.parts.map((part) =>
          withClient(pool, (client) =>
            pipeline(createReadStream(part, { highWaterMark: 256 * 1024 }), client.query(copyFrom(`COPY ${table} (${COPY_COLUMNS.join(', ')}) FROM STDIN ${COPY_OPTIONS}`))),
          ),
        ),
      );
      await pool.query(vacuumSql(uploadId));
      await Promise.all([participantIdIndexSql(uploadId), lookupIndexSql(uploadId)].map((sql) => withTransaction(pool, (client) => buildIndex(client, sql))));
      return Number(process.hrtime.bigint() - started) / 1e9;
    } finally {
      await pool.query(`DROP TABLE IF EXISTS ${table}`);
      await pool.query('CHECKPOINT');
    }
  }

  async remove(): Promise<void> {
    await Promise.all(this.parts.map((part) => rm(part, { force: true })));
  }
}
