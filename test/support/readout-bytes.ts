/**
 * An adapted readout's bytes read and written from the layout docs/on-device-learning.md (section 5) gives, not
 * from the code that writes them: header, O biases i64 Q25.38, O x H weights i32 Q8.23, CRC-32.
 */
import { crc32 } from "node:zlib";

export const READOUT_HEADER_BYTES = 32;

export interface ReadoutValues {
  /** O x H, row-major */
  V: Float64Array;
  d: Float64Array;
  /** the .plsm's CRC-32 it adapts */
  modelChecksum: number;
  steps: number;
}

export function readoutBytesLength(outputs: number, hidden: number): number {
  return READOUT_HEADER_BYTES + 8 * outputs + 4 * outputs * hidden + 4;
}

export function parseReadout(bytes: Uint8Array): ReadoutValues {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const O = view.getUint32(12, true);
  const H = view.getUint32(16, true);
  const d = Float64Array.from({ length: O }, (_, o) => Number(view.getBigInt64(READOUT_HEADER_BYTES + 8 * o, true)) * 2 ** -38);
  const w = READOUT_HEADER_BYTES + 8 * O;
  const V = Float64Array.from({ length: O * H }, (_, k) => view.getInt32(w + 4 * k, true) * 2 ** -23);
  return { V, d, modelChecksum: view.getUint32(8, true), steps: view.getUint32(20, true) };
}

/** The bytes of a readout with these values (rounded to the formats), for a model of the given .plsm checksum. */
export function readoutBytes(values: ReadoutValues): Uint8Array {
  const O = values.d.length;
  const H = values.V.length / O;
  const bytes = new Uint8Array(readoutBytesLength(O, H));
  const view = new DataView(bytes.buffer);
  view.setUint32(0, 0x4f524c50, true); // "PLRO"
  view.setUint16(4, 1, true);
  view.setUint32(8, values.modelChecksum, true);
  view.setUint32(12, O, true);
  view.setUint32(16, H, true);
  view.setUint32(20, values.steps, true);
  values.d.forEach((v, o) => view.setBigInt64(READOUT_HEADER_BYTES + 8 * o, BigInt(Math.round(v * 2 ** 38)), true));
  values.V.forEach((v, k) => view.setInt32(READOUT_HEADER_BYTES + 8 * O + 4 * k, Math.round(v * 2 ** 23), true));
  sealReadout(bytes);
  return bytes;
}

/** Writes the checksum of the bytes before it into the last four. */
export function sealReadout(bytes: Uint8Array): void {
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(bytes.length - 4, crc32(bytes.subarray(0, bytes.length - 4)), true);
}

/** The .plsm's CRC-32, its last four bytes (docs/plsm.md). */
export function plsmChecksum(image: Uint8Array): number {
  return new DataView(image.buffer, image.byteOffset).getUint32(image.length - 4, true);
}
