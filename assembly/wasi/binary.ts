// The compact binary event stream (docs/wasi.md, "Binary events"): a 16-byte header, then fixed-size records,
// all little-endian.
//
//   header: "PLEV" | u16 version = 1 | u16 flags = 0 | u32 inputSize | u32 zero
//   record: f64 t | u32 seq | f32 x[inputSize]

export const BINARY_MAGIC: u32 = 0x56454c50; // "PLEV"
export const BINARY_VERSION: i32 = 1;
export const BINARY_HEADER_BYTES: i32 = 16;

/** Bytes of one record for this input size. */
@inline export function recordBytes(inputSize: i32): i32 {
  return 12 + 4 * inputSize;
}

/** Whether the first bytes of an input are the binary magic (an NDJSON line never starts with "PLEV"). */
export function isBinary(p: usize, n: i32): bool {
  return n >= 4 && load<u32>(p) == BINARY_MAGIC;
}
