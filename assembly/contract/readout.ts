// The adapted readout's bytes (docs/on-device-learning.md, section 5): what the library's fixed engine and the
// learning microcontroller module write (assembly/fixed/readout-learning.ts) and what a host saves, loads and
// reads the step count from (host/engine/wasm.ts). The .plsm's own readout is assembly/contract/plsm.ts's.
//
// Compiled twice: by asc into every module, and by tsc into dist/assembly/contract/ for the host. So this file
// holds plain `export const` numbers only, which mean the same in AssemblyScript and TypeScript.

/** "PLRO", little-endian. */
export const READOUT_MAGIC = 0x4f524c50;
export const READOUT_VERSION = 1;

// Header, READOUT_HEADER_BYTES bytes: then O biases i64 Q25.38, O x H weights i32 Q8.23 row after row, and the
// CRC-32 of all before it.
export const READOUT_MAGIC_AT = 0; // u32
export const READOUT_VERSION_AT = 4; // u16, then u16 0
export const READOUT_MODEL_CRC_AT = 8; // u32: the checksum of the .plsm it adapts
export const READOUT_OUTPUTS_AT = 12; // u32: O
export const READOUT_HIDDEN_AT = 16; // u32: H of the last layer
export const READOUT_STEPS_AT = 20; // u32: learning steps applied, saturating
export const READOUT_RESERVED_AT = 24; // 8 bytes 0
export const READOUT_HEADER_BYTES = 32;

/** Fractional bits of the weights (Q8.23) and of the biases and outputs (Q25.38 = Q8.23 times h's Q0.15). */
export const READOUT_W_FRAC = 23;
export const READOUT_Z_FRAC = 38;
