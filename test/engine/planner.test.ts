import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planChunks, WholeFileError, type ByteSource } from '../../src/engine/index.js';
import { FIRST_CHUNK_BYTES } from '../../src/engine/ingestPolicy.js';
import { CopyEncoder, type RowReject } from '../../src/engine/copyEncoder.js';
import { RecordScanner, type ScannedRecord } from '../../src/engine/recordScanner.js';

/** An in-memory ByteSource that hands out bytes in small, uneven pieces (as a network stream would). */
function memorySource(bytes: Buffer, pieceSize = 7): ByteSource {
  return {
    size: async () => bytes.length,
    async *stream(start, end) {
      for (let at = start; at < end; at += pieceSize) yield bytes.subarray(at, Math.min(end, at + pieceSize));
    },
  };
}

const plainField = fc.stringMatching(/^[a-z0-9 ]{0,6}$/);
const quotedField = fc
  .array(fc.constantFrom('a', 'b', ',', '""', '\n', '\r\n', ' ', 'é'), { maxLength: 6 })
  .map((parts) => `"${parts.join('')}"`);
const record = fc.array(fc.oneof(plainField, quotedField), { minLength: 1, maxLength: 4 }).map((fields) => fields.join(','));

interface GeneratedCsv {
  bytes: Buffer;
  /** Byte offset and physical line of each data record. */
  records: { start: number; line: number }[];
}

const csvFile = fc
  .record({
    records: fc.array(fc.tuple(record, fc.boolean()), { minLength: 1, maxLength: 40 }),
    crlf: fc.boolean(),
    bom: fc.boolean(),
    trailingNewline: fc.boolean(),
  })
  .map(({ records, crlf, bom, trailingNewline }): GeneratedCsv => {
    const eol = crlf ? '\r\n' : '\n';
    let text = `lds_hash,participant_id${eol}`;
    const starts: { start: number; line: number }[] = [];
    records.forEach(([body, blankBefore], index) => {
      // A record that is empty text would be a blank line, which is not a record.
      const content = body === '' ? '""' : body;
      if (blankBefore) text += eol;
      const prefix = (bom ? '\uFEFF' : '') + text;
      starts.push({ start: Buffer.byteLength(prefix), line: prefix.split('\n').length });
      text += content + (index < records.length - 1 || trailingNewline ? eol : '');
    });
    return { bytes: Buffer.from((bom ? '\uFEFF' : '') + text), records: starts };
  });

const bytesOf = (r: ScannedRecord) => r.buf!.subarray(r.from, r.to);

function scanAll(bytes: Buffer, start: number, end: number, firstLine: number): ScannedRecord[] {
  const found: ScannedRecord[] = [];
  const scanner = new RecordScanner({ startOffset: start, startLine: firstLine, maxRecordBytes: 1 << 20, capture: true }, (r) => found.push({ ...r }));
  scanner.push(bytes.subarray(start, end));
  scanner.end();
  return found;
}

describe('planChunks (properties)', () => {
  it('tiles the data region exactly, cuts only at record starts, and numbers lines right', async () => {
    await fc.assert(
      fc.asyncProperty(csvFile, fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 13 }), async (csv, target, piece) => {
        const plan = await planChunks(memorySource(csv.bytes, piece), { targetChunkBytes: target });
        const headerEnd = csv.bytes.indexOf(0x0a) + 1;
        expect(plan.chunks[0]!.byteStart).toBe(headerEnd);
        expect(plan.chunks.at(-1)!.byteEnd).toBe(csv.bytes.length);
        plan.chunks.forEach((chunk, i) => {
          expect(chunk.chunkNo).toBe(i);
          if (i > 0) {
            expect(chunk.byteStart).toBe(plan.chunks[i - 1]!.byteEnd);
            expect(csv.records.map((r) => r.start)).toContain(chunk.byteStart);
          }
          const linesBefore = csv.bytes.subarray(0, chunk.byteStart).toString('latin1').split('\n').length;
          expect(chunk.firstLine).toBe(linesBefore);
        });
        expect(plan.rowsTotal).toBe(csv.records.length);
        expect(plan.chunks.reduce((sum, c) => sum + c.rows, 0)).toBe(csv.records.length);

        // Scanning each chunk on its own finds the file's records, on their lines, in order.
        const scanned = plan.chunks.flatMap((c) => {
          const found = scanAll(csv.bytes, c.byteStart, c.byteEnd, c.firstLine);
          expect(found.length).toBe(c.rows);
          return found;
        });
        expect(scanned.map((r) => [r.start, r.line])).toEqual(csv.records.map((r) => [r.start, r.line]));

        // And csv-parse agrees on the records and their fields.
        const reference = parse(csv.bytes, { bom: true, relax_column_count: true, skip_empty_lines: true }) as string[][];
        const ours = scanned.map((r) => (parse(bytesOf(r), { relax_column_count: true }) as string[][])[0]);
        expect(ours).toEqual(reference.slice(1));
      }),
      { numRuns: 300 },
    );
  });
});

describe('planChunks (chunk sizes)', () => {
  it('cuts the first chunk at about FIRST_CHUNK_BYTES, so its rows commit early, and the others at the target', async () => {
    const row = `${'a'.repeat(128)},P1\n`; // 131 bytes
    const bytes = Buffer.from(`lds_hash,participant_id\n${row.repeat(Math.ceil((20 * FIRST_CHUNK_BYTES) / row.length))}`);
    const target = 4 * FIRST_CHUNK_BYTES;
    const plan = await planChunks(memorySource(bytes, 64 * 1024), { targetChunkBytes: target });
    const sizes = plan.chunks.map((c) => c.byteEnd - c.byteStart);
    expect(sizes[0]).toBeGreaterThanOrEqual(FIRST_CHUNK_BYTES);
    expect(sizes[0]).toBeLessThan(FIRST_CHUNK_BYTES + row.length);
    for (const size of sizes.slice(1, -1)) {
      expect(size).toBeGreaterThanOrEqual(target);
      expect(size).toBeLessThan(target + row.length);
    }
    // A target below FIRST_CHUNK_BYTES holds for every chunk.
    const small = await planChunks(memorySource(bytes, 64 * 1024), { targetChunkBytes: 1000 });
    expect(small.chunks[0]!.byteEnd - small.chunks[0]!.byteStart).toBeLessThan(1000 + row.length);
  });
});

describe('CopyEncoder field counts (property)', () => {
  it('rejects exactly the records whose field count differs from the header, naming their count', async () => {
    await fc.assert(
      fc.asyncProperty(csvFile, async (csv) => {
        const headerEnd = csv.bytes.indexOf(0x0a) + 1;
        const encoder = new CopyEncoder({ startOffset: headerEnd, startLine: 2, maxRecordBytes: 1 << 20, header: ['lds_hash', 'participant_id'] });
        encoder.resume();
        const done = new Promise((resolve, reject) => encoder.on('end', resolve).on('error', reject));
        encoder.end(csv.bytes.subarray(headerEnd));
        await done;
        const reference = (parse(csv.bytes, { bom: true, relax_column_count: true, skip_empty_lines: true }) as string[][]).slice(1);
        const expected = reference.flatMap((fields, i): RowReject[] =>
          fields.length === 2 ? [] : [{ line: csv.records[i]!.line, column: null, code: 'field_count', fields: fields.length }]);
        expect(encoder.rejects.filter((r) => r.code === 'field_count')).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });
});

describe('planChunks (whole-file errors)', () => {
  const header = 'lds_hash,participant_id\n';
  const cases: [string, Buffer, string, number | undefined][] = [
    ['an empty file', Buffer.alloc(0), 'empty_file', undefined],
    ['only blank lines', Buffer.from('\n\r\n\n'), 'empty_file', undefined],
    ['a header only', Buffer.from('\uFEFFlds_hash,participant_id\r\n\r\n'), 'header_only', undefined],
    ['no header', Buffer.from(`${'a'.repeat(128)},P1\n`), 'no_header', 1],
    ['a duplicate column', Buffer.from('lds_hash,participant_id,LDS_HASH\nx,y,z\n'), 'duplicate_column', 1],
    ['a missing required column', Buffer.from('lds_hash,case_id\nx,y\n'), 'missing_column', 1],
    ['invalid UTF-8', Buffer.concat([Buffer.from(`${header}a,b\nc,`), Buffer.from([0xc3, 0x28]), Buffer.from('\n')]), 'invalid_utf8', 3],
    ['a NUL byte', Buffer.from(`${header}a,b\n\nc,\0\n`), 'nul_byte', 4],
    ['an unterminated quote', Buffer.from(`${header}a,b\nc,"d\ne,f\n`), 'unterminated_quote', 3],
  ];
  for (const [name, bytes, code, line] of cases) {
    it(`rejects ${name} as ${code}`, async () => {
      const error = await planChunks(memorySource(bytes, 3)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WholeFileError);
      expect((error as WholeFileError).code).toBe(code);
      expect((error as WholeFileError).line).toBe(line);
      expect((error as WholeFileError).message.length).toBeGreaterThan(10);
    });
  }

  it('rejects a line longer than the limit, naming it', async () => {
    const bytes = Buffer.from(`${header}a,b\n${'x'.repeat(100)},c\nd,e\n`);
    const error = await planChunks(memorySource(bytes), { maxLineBytes: 64 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'line_too_long', line: 3 });
    await expect(planChunks(memorySource(bytes), { maxLineBytes: 200 })).resolves.toMatchObject({ rowsTotal: 3 });
  });

  it('lists unknown columns as warnings and matches names in any order and case', async () => {
    const plan = await planChunks(memorySource(Buffer.from(' Participant_ID ,notes,LDS_HASH\nP1,x,h\n')));
    expect(plan.columns).toEqual(['participant_id', 'notes', 'lds_hash']);
    expect(plan.warnings).toEqual([{ code: 'unknown_column', column: 'notes' }]);
  });
});

describe('RecordScanner', () => {
  it('treats a CR at the end of one read and an LF at the start of the next as one line break', () => {
    const found: ScannedRecord[] = [];
    const scanner = new RecordScanner({ startOffset: 0, startLine: 1, maxRecordBytes: 100, capture: true }, (r) => found.push({ ...r }));
    for (const piece of ['a,b\r', '\nc,d\r', 'x\n\r', '\n', 'e,f\r']) scanner.push(Buffer.from(piece));
    scanner.end();
    expect(found.map((r) => [r.line, r.strayCarriageReturn, bytesOf(r).toString()])).toEqual([
      [1, false, 'a,b'],
      [2, true, 'c,d\rx'],
      [4, false, 'e,f'],
    ]);
  });

  it('reports a stray carriage return, keeps CRLF as one line break, and counts quoted line breaks', () => {
    const bytes = Buffer.from('a,"x\r\ny"\r\nb\rc,d\r\n\r\ne,f');
    const found = scanAll(bytes, 0, bytes.length, 1);
    expect(found.map((r) => [r.line, r.strayCarriageReturn, bytesOf(r).toString()])).toEqual([
      [1, false, 'a,"x\r\ny"'],
      [3, true, 'b\rc,d'],
      [5, false, 'e,f'],
    ]);
  });
});
