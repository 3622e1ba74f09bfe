/*
 * The microcontroller build driven through the standard WebAssembly C API (phasor_mcu.h). The contract with the
 * module is docs/embedding.md's export table: the image goes to modelBuffer(), init(length) lays the model out in
 * the arena, each event's inputs go to inputBuffer() before push(t), and output() returns where y is.
 */
#include "phasor_mcu.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* init, push, learn and readoutLoad statuses (docs/embedding.md, "Exports"; docs/on-device-learning.md;
 * assembly/contract/calls.ts, which test/hosts-share-the-module-contract.test.ts holds these to) */
enum { MCU_REJECTED = -1, MCU_REFUSED = -2, MCU_NO_MODEL = -3, MCU_TOO_BIG = -4 };
/* what learn answers when it takes the step: eta, or the smaller cap */
enum { MCU_LEARN_STEPPED = 0, MCU_LEARN_CAPPED = 1 };

/* .plsm header fields (docs/plsm.md, "Header"; assembly/contract/plsm.ts): little-endian u32 and u16 at these offsets */
enum {
  PLSM_KIND_AT = 6, PLSM_FILE_BYTES_AT = 8, PLSM_INPUT_SIZE_AT = 12, PLSM_LAYER_COUNT_AT = 16, PLSM_OUTPUT_SIZE_AT = 20,
  PLSM_READOUT_MODE_AT = 24, PLSM_INPUT_FRAC_AT = 32, PLSM_HEADER_BYTES = 64
};
/* layer descriptors from PLSM_HEADER_BYTES, each with its u32 flags; bit PLSM_LAYER_INT8: int8 gate weights */
enum { PLSM_LAYER_DESC_BYTES = 64, PLSM_LAYER_FLAGS_AT = 8, PLSM_LAYER_INT8 = 2 };
#define PLSM_KIND_FIXED 1

static phasor_status fail(phasor_mcu *mcu, phasor_status status, const char *format, ...) {
  va_list args;
  va_start(args, format);
  vsnprintf(mcu->error, sizeof mcu->error, format, args);
  va_end(args);
  return status;
}

static uint32_t read_u32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A name's length without the NUL that WAMR (2.4) counts into export and import names, which the standard does
 * not. */
static int name_length(const wasm_name_t *name) {
  return (int)(name->size > 0 && name->data[name->size - 1] == '\0' ? name->size - 1 : name->size);
}

static int name_is(const wasm_name_t *name, const char *text) {
  size_t length = strlen(text);
  return (size_t)name_length(name) == length && memcmp(name->data, text, length) == 0;
}

/* The text of a trap, which it consumes. Engines end the message with a NUL, which is not printed. */
static phasor_status trapped(phasor_mcu *mcu, wasm_trap_t *trap, const char *where) {
  wasm_message_t message;
  wasm_trap_message(trap, &message);
  size_t length = message.size;
  if (length > 0 && message.data[length - 1] == '\0') length--;
  fail(mcu, PHASOR_ENGINE, "the module trapped in %s: %.*s", where, (int)length, message.data);
  wasm_byte_vec_delete(&message);
  wasm_trap_delete(trap);
  return PHASOR_ENGINE;
}

/* One export of the module: its name, where phasor_mcu keeps it, and its signature as value kinds
 * ('i' i32, 'd' f64). */
typedef struct {
  const char *name;
  size_t field;
  const char *params;
  const char *results;
} export_spec;

#define FUNCTION(name, field, params, results) {name, offsetof(phasor_mcu, field), params, results}
static const export_spec FUNCTIONS[] = {
    FUNCTION("modelBuffer", model_buffer, "", "i"),
    FUNCTION("arenaBytes", arena_bytes, "", "i"),
    FUNCTION("arenaUsed", arena_used, "", "i"),
    FUNCTION("arenaNeeded", arena_needed, "", "i"),
    FUNCTION("init", init, "i", "i"),
    FUNCTION("inputBuffer", input_buffer, "", "i"),
    FUNCTION("push", push, "d", "i"),
    FUNCTION("output", output, "", "i"),
    FUNCTION("reset", reset, "", ""),
};
#define FUNCTION_COUNT (sizeof FUNCTIONS / sizeof FUNCTIONS[0])

/* The learning build's exports: all of them or none. */
static const export_spec LEARNING_FUNCTIONS[] = {
    FUNCTION("learn", learn, "idd", "i"),
    FUNCTION("targetBuffer", target_buffer, "", "i"),
    FUNCTION("readoutBuffer", readout_buffer, "", "i"),
    FUNCTION("readoutSize", readout_size, "", "i"),
    FUNCTION("readoutSave", readout_save, "", "i"),
    FUNCTION("readoutLoad", readout_load, "", "i"),
    FUNCTION("readoutReset", readout_reset, "", ""),
};
#define LEARNING_COUNT (sizeof LEARNING_FUNCTIONS / sizeof LEARNING_FUNCTIONS[0])

static char kind_letter(wasm_valkind_t kind) {
  switch (kind) {
    case WASM_I32: return 'i';
    case WASM_I64: return 'l';
    case WASM_F32: return 'f';
    case WASM_F64: return 'd';
    default: return 'r';
  }
}

/* The value kinds of a signature's params or results as letters, to compare with an export_spec. */
static void kinds(const wasm_valtype_vec_t *types, char *out, size_t room) {
  size_t n = 0;
  for (size_t k = 0; k < types->size && n + 1 < room; k++) out[n++] = kind_letter(wasm_valtype_kind(types->data[k]));
  out[n] = '\0';
}

static int signature_is(const wasm_func_t *func, const export_spec *spec) {
  char params[8], results[8];
  wasm_functype_t *type = wasm_func_type(func);
  kinds(wasm_functype_params(type), params, sizeof params);
  kinds(wasm_functype_results(type), results, sizeof results);
  wasm_functype_delete(type);
  return strcmp(params, spec->params) == 0 && strcmp(results, spec->results) == 0;
}

/* Finds every export the host needs in the instance, by the names the module's export types give them. */
static phasor_status bind_exports(phasor_mcu *mcu) {
  wasm_exporttype_vec_t types;
  wasm_module_exports(mcu->module, &types);
  wasm_instance_exports(mcu->instance, &mcu->exports);
  phasor_status status = PHASOR_OK;
  if (types.size != mcu->exports.size) {
    status = fail(mcu, PHASOR_ENGINE, "the engine lists %zu export types but gives %zu exports", types.size, mcu->exports.size);
  }
  for (size_t e = 0; status == PHASOR_OK && e < types.size; e++) {
    const wasm_name_t *name = wasm_exporttype_name(types.data[e]);
    wasm_extern_t *item = mcu->exports.data[e];
    if (name_is(name, "memory")) {
      mcu->memory = wasm_extern_as_memory(item);
      if (!mcu->memory) status = fail(mcu, PHASOR_BAD_MODULE, "its export \"memory\" is not a memory");
      continue;
    }
    for (size_t f = 0; f < FUNCTION_COUNT + LEARNING_COUNT; f++) {
      const export_spec *spec = f < FUNCTION_COUNT ? &FUNCTIONS[f] : &LEARNING_FUNCTIONS[f - FUNCTION_COUNT];
      if (!name_is(name, spec->name)) continue;
      const wasm_func_t *func = wasm_extern_as_func(item);
      if (!func || !signature_is(func, spec)) {
        status = fail(mcu, PHASOR_BAD_MODULE, "its export \"%s\" is not a function (%s) -> (%s) (i: i32, d: f64)",
                      spec->name, spec->params, spec->results);
        break;
      }
      *(const wasm_func_t **)((char *)mcu + spec->field) = func;
    }
  }
  wasm_exporttype_vec_delete(&types);
  if (status != PHASOR_OK) return status;
  if (!mcu->memory) return fail(mcu, PHASOR_BAD_MODULE, "it exports no \"memory\": not the MCU build (build/phasor-mcu.wasm)");
  for (size_t f = 0; f < FUNCTION_COUNT; f++) {
    if (!*(const wasm_func_t **)((char *)mcu + FUNCTIONS[f].field)) {
      return fail(mcu, PHASOR_BAD_MODULE, "it exports no function \"%s\": not the MCU build (build/phasor-mcu.wasm)", FUNCTIONS[f].name);
    }
  }
  for (size_t f = 0; mcu->learn && f < LEARNING_COUNT; f++) {
    if (!*(const wasm_func_t **)((char *)mcu + LEARNING_FUNCTIONS[f].field)) {
      return fail(mcu, PHASOR_BAD_MODULE, "it exports \"learn\" but no function \"%s\": not the learning build (build/phasor-mcu-learn.wasm)",
                  LEARNING_FUNCTIONS[f].name);
    }
  }
  return PHASOR_OK;
}

phasor_status phasor_mcu_open(phasor_mcu *mcu, const uint8_t *module_bytes, size_t module_length) {
  memset(mcu, 0, sizeof *mcu);
  mcu->engine = wasm_engine_new();
  if (!mcu->engine) return fail(mcu, PHASOR_ENGINE, "the wasm engine could not be created");
  mcu->store = wasm_store_new(mcu->engine);
  if (!mcu->store) {
    phasor_mcu_close(mcu);
    return fail(mcu, PHASOR_ENGINE, "the wasm store could not be created");
  }
  wasm_byte_vec_t binary;
  wasm_byte_vec_new(&binary, module_length, (const wasm_byte_t *)module_bytes);
  mcu->module = wasm_module_new(mcu->store, &binary);
  wasm_byte_vec_delete(&binary);
  if (!mcu->module) {
    phasor_mcu_close(mcu);
    return fail(mcu, PHASOR_BAD_MODULE, "not a wasm module this engine can load (%zu bytes)", module_length);
  }

  wasm_importtype_vec_t imports;
  wasm_module_imports(mcu->module, &imports);
  if (imports.size > 0) {
    const wasm_name_t *from = wasm_importtype_module(imports.data[0]);
    const wasm_name_t *name = wasm_importtype_name(imports.data[0]);
    fail(mcu, PHASOR_BAD_MODULE, "it imports %zu things (the first: %.*s.%.*s), the MCU build (build/phasor-mcu.wasm) imports nothing",
         imports.size, name_length(from), from->data, name_length(name), name->data);
    wasm_importtype_vec_delete(&imports);
    phasor_mcu_close(mcu);
    return PHASOR_BAD_MODULE;
  }
  wasm_importtype_vec_delete(&imports);

  wasm_extern_vec_t none = WASM_EMPTY_VEC;
  wasm_trap_t *trap = NULL;
#ifdef PHASOR_WAMR_STACK_BYTES
  /* WAMR's extension of the standard call: the interpreter stack `phasor export-c` bounds, and no app heap (the
   * module allocates nothing); the standard call gives 32 KiB of each */
  mcu->instance = wasm_instance_new_with_args(mcu->store, mcu->module, &none, &trap, PHASOR_WAMR_STACK_BYTES, 0);
#else
  mcu->instance = wasm_instance_new(mcu->store, mcu->module, &none, &trap);
#endif
  if (!mcu->instance) {
    phasor_status status = trap ? trapped(mcu, trap, "instantiation") : fail(mcu, PHASOR_ENGINE, "the module could not be instantiated");
    phasor_mcu_close(mcu);
    return status;
  }
  phasor_status status = bind_exports(mcu);
  if (status != PHASOR_OK) phasor_mcu_close(mcu);
  return status;
}

/* Calls an export with at most one argument and one i32 result. */
static phasor_status call(phasor_mcu *mcu, const wasm_func_t *func, const char *name, const wasm_val_t *arg, int32_t *result) {
  wasm_val_t in[1] = {WASM_INIT_VAL};
  wasm_val_t out[1] = {WASM_INIT_VAL};
  wasm_val_vec_t args = WASM_ARRAY_VEC(in);
  wasm_val_vec_t results = WASM_ARRAY_VEC(out);
  wasm_val_vec_t nothing = WASM_EMPTY_VEC;
  wasm_val_vec_t nothing_back = WASM_EMPTY_VEC;
  if (arg) in[0] = *arg;
  wasm_trap_t *trap = wasm_func_call(func, arg ? &args : &nothing, result ? &results : &nothing_back);
  if (trap) return trapped(mcu, trap, name);
  if (result) *result = out[0].of.i32;
  return PHASOR_OK;
}

/* The address of `bytes` bytes of linear memory that an export handed out, checked to lie inside it. */
static uint8_t *region(phasor_mcu *mcu, uint32_t at, uint64_t bytes, const char *what) {
  size_t size = wasm_memory_data_size(mcu->memory);
  if (at == 0 || (uint64_t)at + bytes > size) {
    fail(mcu, PHASOR_ENGINE, "%s at address %u with %llu bytes lies outside the module's %zu bytes of memory", what, at,
         (unsigned long long)bytes, size);
    return NULL;
  }
  return (uint8_t *)wasm_memory_data(mcu->memory) + at;
}

/* The checks the module makes without words for them (it has no error texts), made here first so that a wrong
 * file gets a message. */
static phasor_status check_header(phasor_mcu *mcu, const uint8_t *image, size_t length) {
  if (length < PLSM_HEADER_BYTES || memcmp(image, "PLSM", 4) != 0) {
    return fail(mcu, PHASOR_BAD_MODEL, "not a .plsm model: it does not start with the PLSM magic and a %d-byte header", PLSM_HEADER_BYTES);
  }
  unsigned kind = (unsigned)image[PLSM_KIND_AT] | (unsigned)image[PLSM_KIND_AT + 1] << 8;
  if (kind != PLSM_KIND_FIXED) {
    return fail(mcu, PHASOR_BAD_MODEL, "a .plsm of kind %u; the MCU build runs fixed-point models (kind 1, from phasor quantize)", kind);
  }
  uint32_t file_bytes = read_u32(image + PLSM_FILE_BYTES_AT);
  if (file_bytes != length) {
    return fail(mcu, PHASOR_BAD_MODEL, "its header says %u bytes but it has %zu: truncated or damaged", file_bytes, length);
  }
  return PHASOR_OK;
}

int phasor_plsm_int8(const uint8_t *image, size_t length) {
  if (length < PLSM_HEADER_BYTES) return 0;
  uint32_t layers = read_u32(image + PLSM_LAYER_COUNT_AT);
  for (uint32_t n = 0; n < layers && PLSM_HEADER_BYTES + (uint64_t)(n + 1) * PLSM_LAYER_DESC_BYTES <= length; n++) {
    if (read_u32(image + PLSM_HEADER_BYTES + n * PLSM_LAYER_DESC_BYTES + PLSM_LAYER_FLAGS_AT) & PLSM_LAYER_INT8) return 1;
  }
  return 0;
}

phasor_status phasor_mcu_load(phasor_mcu *mcu, const uint8_t *image, size_t length) {
  mcu->input_size = mcu->output_size = 0;
  mcu->input_at = 0;
  phasor_status status = check_header(mcu, image, length);
  if (status != PHASOR_OK) return status;
  int32_t at, total;
  if ((status = call(mcu, mcu->model_buffer, "modelBuffer", NULL, &at)) != PHASOR_OK) return status;
  if ((status = call(mcu, mcu->arena_bytes, "arenaBytes", NULL, &total)) != PHASOR_OK) return status;
  mcu->arena_bytes_total = (uint32_t)total;
  if (length > (uint32_t)total) {
    return fail(mcu, PHASOR_TOO_BIG, "the image alone is %zu bytes and the module's arena holds %u", length, (uint32_t)total);
  }
  uint8_t *arena = region(mcu, (uint32_t)at, (uint32_t)total, "the arena (modelBuffer, arenaBytes)");
  if (!arena) return PHASOR_ENGINE;
  memcpy(arena, image, length);

  wasm_val_t image_length = WASM_I32_VAL((int32_t)length);
  int32_t answer;
  if ((status = call(mcu, mcu->init, "init", &image_length, &answer)) != PHASOR_OK) return status;
  if (answer == MCU_REJECTED) {
    /* each MCU build runs one weight width (docs/embedding.md): the likeliest mistake gets named */
    int int8 = phasor_plsm_int8(image, length);
    return fail(mcu, PHASOR_BAD_MODEL, "init rejected the image: not a fixed-point .plsm, corrupted, out of range, or "
                "of the other weight width (its gate weights are %s, which build/%s runs; the MCU build has no "
                "messages; `phasor run` on the same file says which)", int8 ? "int8" : "int16",
                int8 ? "phasor-mcu-int8.wasm" : "phasor-mcu.wasm");
  }
  if (answer == MCU_TOO_BIG) {
    int32_t needed;
    if ((status = call(mcu, mcu->arena_needed, "arenaNeeded", NULL, &needed)) != PHASOR_OK) return status;
    if (needed == 0) {
      return fail(mcu, PHASOR_TOO_BIG, "the image (%zu bytes) and the model's records alone need more than the module's "
                  "%u-byte arena", length, (uint32_t)total);
    }
    return fail(mcu, PHASOR_TOO_BIG, "the model needs %u bytes of arena (the image is %zu of them) and the module's arena "
                "holds %u", (uint32_t)needed, length, (uint32_t)total);
  }
  if (answer != 0) return fail(mcu, PHASOR_ENGINE, "init answered %d, which docs/embedding.md rules out", answer);

  int32_t used, input_at;
  if ((status = call(mcu, mcu->arena_used, "arenaUsed", NULL, &used)) != PHASOR_OK) return status;
  if ((status = call(mcu, mcu->input_buffer, "inputBuffer", NULL, &input_at)) != PHASOR_OK) return status;
  uint32_t input_size = read_u32(image + PLSM_INPUT_SIZE_AT);
  if (!region(mcu, (uint32_t)input_at, (uint64_t)input_size * sizeof(float), "the input buffer")) return PHASOR_ENGINE;
  mcu->arena_bytes_used = (uint32_t)used;
  mcu->input_at = (uint32_t)input_at;
  mcu->input_size = input_size;
  mcu->output_size = read_u32(image + PLSM_OUTPUT_SIZE_AT);
  mcu->readout_every = read_u32(image + PLSM_READOUT_MODE_AT) == 1;
  mcu->model_crc = read_u32(image + length - 4);
  mcu->input_frac = (int32_t)read_u32(image + PLSM_INPUT_FRAC_AT);
  return PHASOR_OK;
}

static phasor_status no_model(phasor_mcu *mcu) {
  return fail(mcu, PHASOR_ENGINE, "no model: phasor_mcu_load has not succeeded");
}

phasor_status phasor_mcu_push(phasor_mcu *mcu, double t, const float *x) {
  if (!mcu->input_at) return no_model(mcu);
  memcpy((uint8_t *)wasm_memory_data(mcu->memory) + mcu->input_at, x, mcu->input_size * sizeof(float));
  wasm_val_t time = WASM_F64_VAL(t);
  int32_t answer;
  phasor_status status = call(mcu, mcu->push, "push", &time, &answer);
  if (status != PHASOR_OK) return status;
  if (answer == MCU_REFUSED) {
    return fail(mcu, PHASOR_REFUSED, "push refused the event at t = %.17g: t or an input is not finite, t is earlier "
                "than the previous event, or the sequence has run past 2^62 ticks", t);
  }
  if (answer == MCU_NO_MODEL) return no_model(mcu);
  if (answer != 0) return fail(mcu, PHASOR_ENGINE, "push answered %d, which docs/embedding.md rules out", answer);
  return PHASOR_OK;
}

phasor_status phasor_mcu_output(phasor_mcu *mcu, double *y) {
  if (!mcu->input_at) return no_model(mcu);
  int32_t at;
  phasor_status status = call(mcu, mcu->output, "output", NULL, &at);
  if (status != PHASOR_OK) return status;
  const uint8_t *values = region(mcu, (uint32_t)at, (uint64_t)mcu->output_size * sizeof(double), "the output");
  if (!values) return PHASOR_ENGINE;
  memcpy(y, values, mcu->output_size * sizeof(double));
  return PHASOR_OK;
}

phasor_status phasor_mcu_reset(phasor_mcu *mcu) {
  return call(mcu, mcu->reset, "reset", NULL, NULL);
}

int phasor_mcu_learns(const phasor_mcu *mcu) {
  return mcu->learn != NULL;
}

/* What a learning call needs: the learning build with a model. */
static phasor_status learning_ready(phasor_mcu *mcu) {
  if (!mcu->learn) return fail(mcu, PHASOR_BAD_MODULE, "the module does not learn: the learning build is build/phasor-mcu-learn.wasm");
  if (!mcu->input_at) return no_model(mcu);
  return PHASOR_OK;
}

/* learn(label, eta, c): label -1 takes the targets the caller wrote at targetBuffer(). */
static phasor_status learn(phasor_mcu *mcu, int32_t label, double eta, double c, int *capped) {
  wasm_val_t in[3] = {WASM_I32_VAL(label), WASM_F64_VAL(eta), WASM_F64_VAL(c)};
  wasm_val_t out[1] = {WASM_INIT_VAL};
  wasm_val_vec_t args = WASM_ARRAY_VEC(in);
  wasm_val_vec_t results = WASM_ARRAY_VEC(out);
  wasm_trap_t *trap = wasm_func_call(mcu->learn, &args, &results);
  if (trap) return trapped(mcu, trap, "learn");
  int32_t answer = out[0].of.i32;
  if (answer == MCU_REFUSED) {
    return fail(mcu, PHASOR_REFUSED, "learn refused the step: the class is not an output of the model, a target is not finite or "
                "beyond +-2^23, eta is not in [2^-24, 1024] or c not in [2^-16, 1] (eta %.17g, c %.17g)", eta, c);
  }
  if (answer == MCU_NO_MODEL) return no_model(mcu);
  if (answer != MCU_LEARN_STEPPED && answer != MCU_LEARN_CAPPED) {
    return fail(mcu, PHASOR_ENGINE, "learn answered %d, which docs/on-device-learning.md rules out", answer);
  }
  if (capped) *capped = answer == MCU_LEARN_CAPPED;
  return PHASOR_OK;
}

phasor_status phasor_mcu_learn_class(phasor_mcu *mcu, int32_t label, double eta, double c, int *capped) {
  phasor_status status = learning_ready(mcu);
  if (status != PHASOR_OK) return status;
  if (label < 0) return fail(mcu, PHASOR_REFUSED, "class %d is not an output of the model", label);
  return learn(mcu, label, eta, c, capped);
}

phasor_status phasor_mcu_learn_values(phasor_mcu *mcu, const double *targets, double eta, double c, int *capped) {
  phasor_status status = learning_ready(mcu);
  if (status != PHASOR_OK) return status;
  int32_t at;
  if ((status = call(mcu, mcu->target_buffer, "targetBuffer", NULL, &at)) != PHASOR_OK) return status;
  uint8_t *buffer = region(mcu, (uint32_t)at, (uint64_t)mcu->output_size * sizeof(double), "the target buffer");
  if (!buffer) return PHASOR_ENGINE;
  memcpy(buffer, targets, mcu->output_size * sizeof(double));
  return learn(mcu, -1, eta, c, capped);
}

/* Where the readout's bytes pass and how many there are. */
static phasor_status readout_region(phasor_mcu *mcu, uint8_t **at, uint32_t *length) {
  phasor_status status = learning_ready(mcu);
  if (status != PHASOR_OK) return status;
  int32_t buffer = 0, size = 0;
  if ((status = call(mcu, mcu->readout_buffer, "readoutBuffer", NULL, &buffer)) != PHASOR_OK) return status;
  if ((status = call(mcu, mcu->readout_size, "readoutSize", NULL, &size)) != PHASOR_OK) return status;
  *at = region(mcu, (uint32_t)buffer, (uint32_t)size, "the readout buffer");
  *length = (uint32_t)size;
  return *at ? PHASOR_OK : PHASOR_ENGINE;
}

phasor_status phasor_mcu_readout_save(phasor_mcu *mcu, uint8_t *bytes, size_t room, size_t *length) {
  uint8_t *at;
  uint32_t size;
  phasor_status status = readout_region(mcu, &at, &size);
  if (status != PHASOR_OK) return status;
  if (room < size) return fail(mcu, PHASOR_REFUSED, "the readout has %u bytes and the caller's buffer holds %zu", size, room);
  int32_t answer;
  if ((status = call(mcu, mcu->readout_save, "readoutSave", NULL, &answer)) != PHASOR_OK) return status;
  if ((uint32_t)answer != size) return fail(mcu, PHASOR_ENGINE, "readoutSave answered %d for a readout of %u bytes", answer, size);
  memcpy(bytes, at, size);
  *length = size;
  return PHASOR_OK;
}

/* A saved readout's layout (docs/on-device-learning.md, section 5): header fields, the first bias, the bias bound */
enum { READOUT_MAGIC = 0x4f524c50, READOUT_VERSION = 1, READOUT_MODEL_CRC_AT = 8, READOUT_OUTPUTS_AT = 12, READOUT_HIDDEN_AT = 16 };
enum { READOUT_RESERVED_AT = 24, READOUT_BIASES_AT = 32, READOUT_FIXED_BYTES = 36 };
static const int64_t READOUT_BIAS_MAX = ((int64_t)1 << 46) - 1;

/* CRC-32 (IEEE, reflected, as zlib's): bit by bit, since only a refused readout is checked here */
static uint32_t crc32_ieee(const uint8_t *bytes, size_t length) {
  uint32_t crc = 0xffffffffu;
  for (size_t i = 0; i < length; i++) {
    crc ^= bytes[i];
    for (int bit = 0; bit < 8; bit++) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

/* Why readoutLoad refused `size` bytes (the size of this model's readout): its checks (assembly/fixed/readout-learning.ts,
 * readoutCheck) in their order and words, which the microcontroller build has no bytes to say. */
static const char *readout_problem(const phasor_mcu *mcu, const uint8_t *bytes, uint32_t size) {
  if (read_u32(bytes) != READOUT_MAGIC || read_u32(bytes + 4) != READOUT_VERSION || read_u32(bytes + READOUT_RESERVED_AT) != 0 ||
      read_u32(bytes + READOUT_RESERVED_AT + 4) != 0) {
    return "not an adapted readout (magic, version 1 or reserved bytes)";
  }
  if (read_u32(bytes + size - 4) != crc32_ieee(bytes, size - 4)) return "the checksum does not match: the bytes are damaged";
  uint32_t outputs = mcu->output_size;
  /* size = 36 + 8 O + 4 O H gives this model's H */
  uint32_t hidden = (size - READOUT_FIXED_BYTES - 8 * outputs) / (4 * outputs);
  if (read_u32(bytes + READOUT_MODEL_CRC_AT) != mcu->model_crc || read_u32(bytes + READOUT_OUTPUTS_AT) != outputs ||
      read_u32(bytes + READOUT_HIDDEN_AT) != hidden) {
    return "adapted from another model (its checksum or sizes differ)";
  }
  for (uint32_t o = 0; o < outputs; o++) {
    const uint8_t *at = bytes + READOUT_BIASES_AT + 8 * o;
    int64_t bias = (int64_t)((uint64_t)read_u32(at) | (uint64_t)read_u32(at + 4) << 32);
    if (bias > READOUT_BIAS_MAX || bias < -READOUT_BIAS_MAX) return "a bias is beyond +-(2^46 - 1) in Q25.38";
  }
  return "the module's checks refused it, and none of docs/on-device-learning.md's says why";
}

phasor_status phasor_mcu_readout_load(phasor_mcu *mcu, const uint8_t *bytes, size_t length) {
  uint8_t *at;
  uint32_t size;
  phasor_status status = readout_region(mcu, &at, &size);
  if (status != PHASOR_OK) return status;
  /* in phasor-wasi's words (assembly/wasi/learning.ts, readoutLoadBytes) */
  if (length > size) return fail(mcu, PHASOR_REFUSED, "not a readout this model can take: longer than an adapted readout of this model (%u bytes)", size);
  if (length < size) return fail(mcu, PHASOR_REFUSED, "not a readout this model can take: %zu bytes, an adapted readout of this model has %u", length, size);
  memcpy(at, bytes, size);
  int32_t answer;
  if ((status = call(mcu, mcu->readout_load, "readoutLoad", NULL, &answer)) != PHASOR_OK) return status;
  if (answer == MCU_REJECTED) return fail(mcu, PHASOR_REFUSED, "not a readout this model can take: %s", readout_problem(mcu, bytes, size));
  if (answer != 0) return fail(mcu, PHASOR_ENGINE, "readoutLoad answered %d, which docs/on-device-learning.md rules out", answer);
  return PHASOR_OK;
}

phasor_status phasor_mcu_readout_reset(phasor_mcu *mcu) {
  phasor_status status = learning_ready(mcu);
  return status != PHASOR_OK ? status : call(mcu, mcu->readout_reset, "readoutReset", NULL, NULL);
}

/* Releases everything, keeping the message of the failure that led here. */
void phasor_mcu_close(phasor_mcu *mcu) {
  if (mcu->exports.data) wasm_extern_vec_delete(&mcu->exports);
  if (mcu->instance) wasm_instance_delete(mcu->instance);
  if (mcu->module) wasm_module_delete(mcu->module);
  if (mcu->store) wasm_store_delete(mcu->store);
  if (mcu->engine) wasm_engine_delete(mcu->engine);
  char error[sizeof mcu->error];
  memcpy(error, mcu->error, sizeof error);
  memset(mcu, 0, sizeof *mcu);
  memcpy(mcu->error, error, sizeof error);
}
