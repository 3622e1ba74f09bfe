// The .plsm file (docs/plsm.md) as both of its readers see it: the wasm reader (assembly/model.ts) and the host's
// writer and reader (host/model/plsm.ts) import these numbers from here, so a field moves in one place.
//
// Compiled twice: by asc into every module, and by tsc into dist/assembly/contract/ for the host. So this file
// holds plain `export const` numbers only, which mean the same in AssemblyScript (i32 or f64) and TypeScript.

/** "PLSM", little-endian. */
export const PLSM_MAGIC = 0x4d534c50;
export const PLSM_VERSION = 1;
/** Kinds: int16 weights (fixed-point engine), f32 weights (float engine). */
export const KIND_FIXED = 1;
export const KIND_FLOAT = 2;

// Header: 64 bytes at offset 0.
export const HEADER_BYTES = 64;
export const HEADER_VERSION = 4; // u16
export const HEADER_KIND = 6; // u16
export const HEADER_FILE_BYTES = 8; // u32, the checksum included
export const HEADER_INPUT_SIZE = 12; // u32
export const HEADER_LAYER_COUNT = 16; // u32
export const HEADER_OUTPUT_SIZE = 20; // u32
export const HEADER_READOUT_MODE = 24; // u32: 0 last, 1 every
export const HEADER_TICKS_LOG2 = 28; // i32, fixed
export const HEADER_INPUT_FRAC = 32; // i32, fixed: Q(inputFrac) layer-0 input
export const HEADER_READOUT_AT = 36; // u32, offset of the readout descriptor
export const HEADER_META_AT = 40; // u32, offset of the metadata
export const HEADER_META_BYTES = 44; // u32
/** The arrays and objects a JSON text may nest, its outermost included, in the metadata and in an event line:
 * phasor-wasi's JSON reader (assembly/wasi/json.ts) recurses and reads no deeper, so the host's writer writes no
 * metadata deeper, and its readers refuse a metadata or a line that is, as phasor-wasi does. */
export const JSON_MAX_NESTING = 512;

// Layer descriptors: 64 bytes each, from offset HEADER_BYTES.
export const LAYER_DESC_BYTES = 64;
export const LAYER_INPUT_SIZE = 0; // u32
export const LAYER_HIDDEN_SIZE = 4; // u32
export const LAYER_FLAGS = 8; // u32: bit 0, peepholes; bit 1, int8 gate weights
export const LAYER_P_FRAC = 12; // i32, fixed: Q(pFrac) peepholes
export const LAYER_W_AT = 16; // u32: H units x 4 gates x pad8(input) weights, unit-major
export const LAYER_U_AT = 20; // u32: H units x 4 gates x pad8(H) weights
export const LAYER_UNITS_AT = 24; // u32: H unit records
export const LAYER_TIME_AT = 28; // u32: H time records

/** Layer flags. LAYER_INT8: W and U hold int8 elements (1 byte each, rows still padded to 8 elements) in the same
 * per-row Q(wFrac) and Q(uFrac) formats, within +-INT8_LIMIT: the "16x8" scheme of TFLite Micro and CMSIS-NN, int8
 * weights against int16 inputs and h, i32 sums. Fixed files only; files written before it never set it. */
export const LAYER_PEEPHOLES = 1;
export const LAYER_INT8 = 2;
/** The largest |w_q| of an int8 weight: -128 is excluded, as the int16 formats exclude -32768, so every row's range
 * is symmetric (docs/fixed-point.md, "int8 weights"). */
export const INT8_LIMIT = 127;

// Unit record, 32 bytes. Fixed: biases i32[4] Q7.24, then wFrac i8[4] and uFrac i8[4] (each gate row's weight
// format), then peepholes i16[4] (i, f, o, 0) in Q(pFrac). Float: biases f32[4], then peepholes f32[4].
export const UNIT_RECORD_BYTES = 32;
export const UNIT_BIAS = 0;
export const UNIT_W_FRAC = 16;
export const UNIT_U_FRAC = 20;
export const UNIT_PEEPHOLE = 24;
export const UNIT_PEEPHOLE_FLOAT = 16;

// Time record, 32 bytes: tau f64, shift f64; fixed: phase step u64 (Q0.96's high 64 bits), halfOn u32 (r_on / 2 in
// Q0.32), step low u32 (Q0.96's low 32 bits); float: r_on f64.
export const TIME_RECORD_BYTES = 32;
export const TIME_TAU = 0;
export const TIME_SHIFT = 8;
export const TIME_STEP = 16;
export const TIME_HALF_ON = 24;
export const TIME_STEP_LOW = 28;
export const TIME_R_ON = 16;

// Readout descriptor, 32 bytes: offsets of V (O rows x pad8(H_last)) and of the O row records.
export const READOUT_DESC_BYTES = 32;
export const READOUT_V_AT = 0;
export const READOUT_ROWS_AT = 4;
// Row record, 8 bytes: fixed d i32 in Q(vFrac + 15) and vFrac i32; float d f32.
export const ROW_RECORD_BYTES = 8;
export const ROW_BIAS = 0;
export const ROW_V_FRAC = 4;

// Sizes and ranges every reader holds a file to.
export const MAX_LAYERS = 64;
export const MAX_SIZE = 65536;
/** Fractional bits of every weight, input and peephole format: Q(frac) with frac in FRAC_MIN..FRAC_MAX. */
export const FRAC_MIN = -16;
export const FRAC_MAX = 30;
/** Fractional bits of pre-activations and biases: Q7.24 in i32. */
export const PRE_FRAC = 24;
/** Fractional bits of the cell state: Q11.20 in i32. */
export const CELL_FRAC = 20;
/** The most ticks per time unit a fixed file may count: 2^40. */
export const MAX_TICKS_LOG2 = 40;
/** A fixed model's every open window r_on tau spans at least this many ticks: rounding an event's time to a tick
 * then moves k by at most 1 / 4096 = 2.4e-4 (plstm.md section 4 asks for 1e-3). */
export const MIN_OPEN_TICKS = 4096;
/** A fixed W or readout row's sum of |w_q| is at most this, so 32767 * sum fits in i32: no dot product can overflow
 * in any summation order, and the SIMD and scalar sums are the same integers (docs/fixed-point.md). */
export const ROW_L1_LIMIT = 65538;
/** A U row is bounded lane by lane instead (docs/fixed-point.md, "U h in 64 bits"): U h is summed in i64 in every
 * build, and the SIMD build's i32 partial sums are each "lane-chunk" of the row, the columns c of one chunk of
 * LANE_CHUNK_COLUMNS (c div 128 the same) with c mod 8 in {2 l, 2 l + 1} for one lane l of 0..3 (i32x4.dot_i16x8_s
 * adds columns 2 l and 2 l + 1 of every 8 into lane l). Each lane-chunk's sum of |w_q| is at most ROW_L1_LIMIT, so
 * its partial sum is an exact i32; the lanes and chunks are added in i64. A row within ROW_L1_LIMIT is within this
 * too: every file valid before is valid now, with the same sums. */
export const LANE_CHUNK_COLUMNS = 128;
/** The time-gate values every engine computes exactly (docs/fixed-point.md, "What the engines accept"): tau in
 * [2^-20, 2^42] time units, r_on in [2^-16, 1], so r_on / 2 in Q0.32 from 2^15 to 2^31. */
export const TAU_MIN = 9.5367431640625e-7;
export const TAU_MAX = 4398046511104.0;
export const R_ON_MIN = 0.0000152587890625;
export const HALF_ON_MIN = 0x8000;
export const HALF_ON_MAX = 0x80000000;
