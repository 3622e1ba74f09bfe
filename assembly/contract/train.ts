// The trainer module's calls (assembly/train.ts) as both of their sides see them: the module and the host's
// Trainer (host/training/trainer.ts) import these numbers from here, so a key, a code or a bound moves in one place.
// The export names themselves are checked against the build when the host instantiates it (TRAINER_FUNCTIONS,
// requireExports in host/engine/wasm-source.ts).
//
// Compiled twice: by asc into the trainer modules, and by tsc into dist/assembly/contract/ for the host. So this
// file holds plain `export const` numbers only, which mean the same in AssemblyScript (i32 or f64) and TypeScript.

// The shape the host writes into trainDescriptor() before trainCreate, one i32 a word: these head words, then
// DESCRIPTOR_LAYER_WORDS per layer (its hidden size, then its flags).
export const DESCRIPTOR_LAYER_COUNT = 0;
export const DESCRIPTOR_INPUT_SIZE = 1;
export const DESCRIPTOR_OUTPUT_SIZE = 2;
/** READOUT_LAST or READOUT_EVERY */
export const DESCRIPTOR_READOUT_MODE = 3;
/** LOSS_CROSS_ENTROPY or LOSS_MSE */
export const DESCRIPTOR_LOSS = 4;
/** ORIGIN_SEQUENCE or ORIGIN_ABSOLUTE */
export const DESCRIPTOR_TIME_ORIGIN = 5;
export const DESCRIPTOR_BATCH_SIZE = 6;
/** the most events in one sequence */
export const DESCRIPTOR_MAX_LENGTH = 7;
/**
 * 1: training skips a unit at an event where its gate is closed, as if the leak alpha were 0 there (the unit keeps
 * its state, and no gradient passes through its gates); 0: every unit at every event, with the layer's leak
 */
export const DESCRIPTOR_SKIP_CLOSED = 8;
export const DESCRIPTOR_HEAD_WORDS = 9;
export const DESCRIPTOR_LAYER_WORDS = 2;
/** A layer's flags: it has peepholes, it trains r_on, it learns tau itself instead of log tau. */
export const LAYER_PEEPHOLE = 1;
export const LAYER_TRAINS_R_ON = 2;
export const LAYER_TAU_DIRECT = 4;

export const READOUT_LAST = 0;
export const READOUT_EVERY = 1;
export const LOSS_CROSS_ENTROPY = 0;
/** mean squared error */
export const LOSS_MSE = 1;
/** phase and its derivatives on t - (the sequence's first timestamp) */
export const ORIGIN_SEQUENCE = 0;
/** phase on the timestamps as given */
export const ORIGIN_ABSOLUTE = 1;
/** trainConfigure's optimizer: SGD with heavy-ball momentum, or Adam */
export const OPTIMIZER_SGD = 0;
export const OPTIMIZER_ADAM = 1;

// The shapes trainCreate accepts.
export const MAX_TRAIN_LAYERS = 64;
/** the most inputs, outputs, units of a layer and sequences of a batch */
export const MAX_TRAIN_SIZE = 65536;
/** the most events in one sequence */
export const MAX_TRAIN_LENGTH = 1 << 24;

// The ranges of the parameters that have one, which the module clips them back into after every update
// (plstm.md section 5): a trained r_on, and a directly learned tau in the model's time unit.
export const TRAINED_R_ON_MIN = 0.01;
export const TRAINED_R_ON_MAX = 1.0;
/** positive (plstm.md section 6: never 0), and above the stability guard's probes (3e-3 along a unit vector) */
export const TRAINED_TAU_MIN = 0.01;

// What trainInfo(tr, key) reports.
export const TI_PARAM_COUNT = 0;
export const TI_THETA = 1;
export const TI_GRAD = 2;
export const TI_MOMENT1 = 3;
export const TI_MOMENT2 = 4;
export const TI_IN_LENGTHS = 5;
export const TI_IN_T = 6;
export const TI_IN_X = 7;
export const TI_IN_LABELS = 8;
export const TI_IN_TARGETS = 9;
export const TI_PREDICTED = 10;
export const TI_ARENA_BYTES = 11;
export const TI_PARAMETER_BYTES = 12;
export const TI_INPUT_BYTES = 13;
export const TI_STEP_COUNT = 14;
export const TI_GRAD_NORM = 15;
/** paramCount f32: the learning-rate multiplier of every parameter (the host writes them) */
export const TI_LR_SCALE = 16;
/** the fraction of (event, unit) pairs the last pass over a batch computed: 1 unless closed units were skipped */
export const TI_UNITS_COMPUTED = 17;

// What trainLayerInfo(tr, layer, key) reports: element offsets of a layer's groups in theta, and where its r_on
// lives. V and d are the readout's, whatever the layer.
export const TL_OFF_W = 0;
export const TL_OFF_U = 1;
export const TL_OFF_B = 2;
/** p_i, then p_f and p_o, H each */
export const TL_OFF_PEEPHOLE = 3;
/** log tau, or tau when the layer learns tau itself */
export const TL_OFF_TAU = 4;
export const TL_OFF_SHIFT = 5;
/** hiddenSize f64 r_on values, written by the host when r_on is fixed (from theta when it is trained) */
export const TL_R_ON = 6;
export const TL_OFF_V = 7;
export const TL_OFF_D = 8;
/** -1 unless the layer trains r_on */
export const TL_OFF_R_ON = 9;
