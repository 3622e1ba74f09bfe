// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), the .plsm checksum; table built once on first use.
// host/model/plsm.ts computes the same in TypeScript for the files it writes; the two cannot share code.

let tableReady = false;

/** The one-page build's table of 16 entries (crc32), static data before its arena; none in the other builds. */
const HALF_TABLE: usize = isDefined(PHASOR_MCU_PAGE) ? memory.data(64) : 0;

/** A table entry: the register `bits` steps on from n (8 for a byte's table, 4 for half a byte's). */
@inline function entry(n: u32, bits: i32): u32 {
  for (let k = 0; k < bits; k++) n = n & 1 ? 0xedb88320 ^ (n >>> 1) : n >>> 1;
  return n;
}

/** The table's address, built on the first call; static data reserved only in a build that calls it. */
function crcTable(): usize {
  const table = memory.data(1024);
  if (!tableReady) {
    for (let n: u32 = 0; n < 256; n++) store<u32>(table + (<usize>n << 2), entry(n, 8));
    tableReady = true;
  }
  return table;
}

export function crc32(ptr: usize, len: usize): u32 {
  let c: u32 = 0xffffffff;
  // The one-page build (docs/embedding.md) goes half a byte at a time, with a table of 16 entries built at each
  // call (its only caller is init, once per image): the 256-entry table's kilobyte is arena there. The other
  // microcontroller builds go bit by bit, in the fewest bytes of code: their 8 KB hold the row pairs' kernel
  // (fixed/sums.ts), and init checks an image once.
  if (isDefined(PHASOR_MCU) && !isDefined(PHASOR_MCU_PAGE)) {
    for (let i: usize = 0; i < len; i++) {
      c ^= load<u8>(ptr + i);
      for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & (0 - (c & 1)));
    }
  } else if (isDefined(PHASOR_MCU_PAGE)) {
    const half = HALF_TABLE;
    for (let n: u32 = 0; n < 16; n++) store<u32>(half + (<usize>n << 2), entry(n, 4));
    for (let i: usize = 0; i < len; i++) {
      c ^= load<u8>(ptr + i);
      c = load<u32>(half + (<usize>(c & 15) << 2)) ^ (c >>> 4);
      c = load<u32>(half + (<usize>(c & 15) << 2)) ^ (c >>> 4);
    }
  } else {
    const table = crcTable();
    for (let i: usize = 0; i < len; i++) {
      c = load<u32>(table + (<usize>((c ^ load<u8>(ptr + i)) & 0xff) << 2)) ^ (c >>> 8);
    }
  }
  return c ^ 0xffffffff;
}
