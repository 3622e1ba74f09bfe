// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), the .plsm checksum; table built once on first use.
// host/model/plsm.ts computes the same in TypeScript for the files it writes; the two cannot share code.

const table = memory.data(1024);
let tableReady = false;

function buildTable(): void {
  for (let n: u32 = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    store<u32>(table + (<usize>n << 2), c);
  }
  tableReady = true;
}

export function crc32(ptr: usize, len: usize): u32 {
  let c: u32 = 0xffffffff;
  if (isDefined(PHASOR_MCU)) {
    // bit by bit: the microcontroller build checks one image, once per init, and has no room to spare for a table
    for (let i: usize = 0; i < len; i++) {
      c ^= load<u8>(ptr + i);
      for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & (0 - (c & 1)));
    }
    return c ^ 0xffffffff;
  }
  if (!tableReady) buildTable();
  for (let i: usize = 0; i < len; i++) {
    c = load<u32>(table + (<usize>((c ^ load<u8>(ptr + i)) & 0xff) << 2)) ^ (c >>> 8);
  }
  return c ^ 0xffffffff;
}
