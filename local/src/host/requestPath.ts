/**
 * The request path as the Functions host's web server (Kestrel) hands it to routing: percent-escapes that spell
 * valid UTF-8 are decoded; a malformed one (`%zz`, a cut or invalid UTF-8 sequence such as `%E0%A4%A`) and `%2F`
 * stay as they were written, so route values carry them literally and the function decides; only an escaped NUL
 * is refused (400, "The path contains null characters"). Route values are not decoded again.
 */
export function decodeRequestPath(rawPath: string): string {
  // The WHATWG URL parser leaves the path as ASCII with escapes; anything else is taken as its UTF-8 bytes.
  const raw = Buffer.from(rawPath, 'utf8');
  const out: number[] = [];
  for (let i = 0; i < raw.length;) {
    if (raw[i] !== 0x25 /* % */) {
      out.push(raw[i++]!);
      continue;
    }
    const decoded = utf8Sequence(raw, i);
    if (decoded === 'nul') throw new BadRequestPath('The path contains null characters.');
    out.push(...decoded.bytes);
    i = decoded.next;
  }
  return Buffer.from(out).toString('utf8');
}

/** A request path the host refuses before routing (answered 400). */
export class BadRequestPath extends Error {}

/**
 * The escapes at `start` as one UTF-8 character's bytes, or, when they do not spell one, the text scanned so far
 * unchanged (at least the `%`).
 */
function utf8Sequence(raw: Buffer, start: number): { bytes: number[]; next: number } | 'nul' {
  const first = escapedByte(raw, start);
  if (first === undefined) return { bytes: [raw[start]!], next: start + 1 };
  if (first === 0) return 'nul';
  const length = first < 0x80 ? 1 : (first & 0xe0) === 0xc0 ? 2 : (first & 0xf0) === 0xe0 ? 3 : (first & 0xf8) === 0xf0 ? 4 : 0;
  const literal = (end: number) => ({ bytes: [...raw.subarray(start, end)], next: end });
  if (length === 0) return literal(start + 3);
  const bytes = [first];
  let next = start + 3;
  while (bytes.length < length) {
    const byte = escapedByte(raw, next);
    if (byte === undefined || (byte & 0xc0) !== 0x80) return literal(next);
    bytes.push(byte);
    next += 3;
  }
  // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8 either.
  return validUtf8(bytes) ? { bytes, next } : literal(next);
}

/** The byte of a `%XX` escape at `at` (`%2F` excepted: a slash stays escaped), or undefined. */
function escapedByte(raw: Buffer, at: number): number | undefined {
  if (raw[at] !== 0x25) return undefined;
  const hex = raw.subarray(at + 1, at + 3).toString('latin1');
  if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
  const byte = parseInt(hex, 16);
  return byte === 0x2f ? undefined : byte;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function validUtf8(bytes: number[]): boolean {
  try {
    strictUtf8.decode(Uint8Array.from(bytes));
    return true;
  } catch {
    return false;
  }
}
