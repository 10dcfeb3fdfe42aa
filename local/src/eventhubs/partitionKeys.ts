/**
 * Partition key -> partition id, by the same hash the @azure/event-hubs SDK uses client-side in
 * EventHubBufferedProducerClient (Jenkins lookup3 "hashlittle2", folded to a signed 16-bit value).
 * Using the SDK's function means a key lands on the same partition whether the producer sends the
 * key to the endpoint or maps it itself. The SDK does not export it, so it is ported here.
 */
export function partitionForKey(partitionKey: string, partitionCount: number): number {
  const { b, c } = lookup3(Buffer.from(partitionKey, 'utf8'));
  const hash = new Int16Array([c ^ b])[0] ?? 0;
  return Math.abs(hash % partitionCount);
}

function lookup3(data: Buffer): { b: number; c: number } {
  let a: number;
  let b: number;
  let c: number;
  a = b = c = 0xdeadbeef + data.length;
  let index = 0;
  let size = data.length;
  while (size > 12) {
    a += data.readUInt32LE(index);
    b += data.readUInt32LE(index + 4);
    c += data.readUInt32LE(index + 8);
    a -= c; a ^= (c << 4) | (c >>> 28); c += b;
    b -= a; b ^= (a << 6) | (a >>> 26); a += c;
    c -= b; c ^= (b << 8) | (b >>> 24); b += a;
    a -= c; a ^= (c << 16) | (c >>> 16); c += b;
    b -= a; b ^= (a << 19) | (a >>> 13); a += c;
    c -= b; c ^= (b << 4) | (b >>> 28); b += a;
    index += 12;
    size -= 12;
  }
  const byte = (at: number): number => data[index + at] ?? 0;
  // Tail of 0..12 bytes, as the original's fall-through switch.
  if (size === 0) return { b: b >>> 0, c: c >>> 0 };
  if (size === 12) {
    a += data.readUInt32LE(index);
    b += data.readUInt32LE(index + 4);
    c += data.readUInt32LE(index + 8);
  } else if (size >= 8) {
    if (size >= 11) c += byte(10) << 16;
    if (size >= 10) c += byte(9) << 8;
    if (size >= 9) c += byte(8);
    b += data.readUInt32LE(index + 4);
    a += data.readUInt32LE(index);
  } else if (size >= 4) {
    if (size >= 7) b += byte(6) << 16;
    if (size >= 6) b += byte(5) << 8;
    if (size >= 5) b += byte(4);
    a += data.readUInt32LE(index);
  } else {
    if (size >= 3) a += byte(2) << 16;
    if (size >= 2) a += byte(1) << 8;
    a += byte(0);
  }
  c ^= b; c -= (b << 14) | (b >>> 18);
  a ^= c; a -= (c << 11) | (c >>> 21);
  b ^= a; b -= (a << 25) | (a >>> 7);
  c ^= b; c -= (b << 16) | (b >>> 16);
  a ^= c; a -= (c << 4) | (c >>> 28);
  b ^= a; b -= (a << 14) | (a >>> 18);
  c ^= b; c -= (b << 24) | (b >>> 8);
  return { b: b >>> 0, c: c >>> 0 };
}
