/**
 * Editing a .plsm's bytes the way the corruption suites do: a field rewritten, then the checksum made right again,
 * so that the structural checks, not the CRC, are what must catch the edit.
 */
import { HEADER_META_AT, HEADER_META_BYTES } from "../../assembly/contract/plsm.js";
import { withMetadata, type PlsmFile } from "../../host/model/plsm.js";

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

/**
 * A .plsm of `file` whose metadata is `text` as it stands, as a writer other than ours might write it (a name twice,
 * deep nesting), which withMetadata, writing JSON.stringify's text, cannot: room made by a long field of its own, then
 * `text` written over the metadata, padded with spaces, and the checksum made right.
 */
export function withMetadataText(file: PlsmFile, text: string): Uint8Array {
  const roomy = withMetadata(file, { ...file.meta, room: "x".repeat(text.length) });
  return rewritten(roomy, (v) => {
    const at = v.getUint32(HEADER_META_AT, true);
    const room = v.getUint32(HEADER_META_BYTES, true);
    for (let k = 0; k < room; k++) v.setUint8(at + k, k < text.length ? text.charCodeAt(k) : 32);
  });
}
