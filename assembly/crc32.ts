// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), the .plsm checksum; table built once on first use.
// host/model/plsm.ts computes the same in TypeScript for the files it writes; the two cannot share code.

let tableReady = false;

/** The table's address, built on the first call; static data reserved only in a build that calls it. */
function crcTable(): usize {
  const table = memory.data(1024);
  if (!tableReady) {
    for (let n: u32 = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      store<u32>(table + (<usize>n << 2), c);
    }
    tableReady = true;
  }
  return table;
}

export function crc32(ptr: usize, len: usize): u32 {
  let c: u32 = 0xffffffff;
  // The one-page build (docs/embedding.md) goes bit by bit: a table's kilobyte is arena there, and init, once per
  // image, is its only caller.
  if (isDefined(PHASOR_MCU_PAGE)) {
    for (let i: usize = 0; i < len; i++) {
      c ^= load<u8>(ptr + i);
      for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & (0 - (c & 1)));
    }
  } else {
    const table = crcTable();
    for (let i: usize = 0; i < len; i++) {
      c = load<u32>(table + (<usize>((c ^ load<u8>(ptr + i)) & 0xff) << 2)) ^ (c >>> 8);
    }
  }
  return c ^ 0xffffffff;
}
