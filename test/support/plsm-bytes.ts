/**
 * Editing a .plsm's bytes the way the corruption suites do: a field rewritten, then the checksum made right again,
 * so that the structural checks, not the CRC, are what must catch the edit.
 */

/** CRC-32 (IEEE, reflected 0xEDB88320), written here from its definition rather than taken from host/model/plsm.ts. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of bytes) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

/** A copy of `bytes` changed by `edit`, with the checksum made right again. */
export function rewritten(bytes: Uint8Array, edit: (v: DataView) => void): Uint8Array {
  const copy = bytes.slice();
  const v = new DataView(copy.buffer, copy.byteOffset, copy.byteLength);
  edit(v);
  v.setUint32(copy.length - 4, crc32(copy.subarray(0, copy.length - 4)), true);
  return copy;
}
