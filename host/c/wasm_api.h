/*
 * The part of the standard WebAssembly C API (wasm.h, github.com/WebAssembly/wasm-c-api) that the Phasor C host
 * calls, declared here from the standard's documented signatures because the engine CI links against (the
 * shared library inside the wasmtime Python wheel) ships no headers. Any engine that implements the standard
 * exports these symbols: wasmtime, WAMR (whose own header, wasm_c_api.h, is used instead when building against it:
 * docs/embedding.md), V8, Wasmer.
 *
 * Only what the host uses is here. Objects are opaque; "own" in a comment means the caller must delete what it
 * receives (or passes ownership of what it gives). Vectors are built with the functions or the WASM_*_VEC macros,
 * never field by field, so that engines whose vectors carry more fields (WAMR's do) get them filled in.
 */
#ifndef PHASOR_WASM_API_H
#define PHASOR_WASM_API_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef char wasm_byte_t;

typedef struct wasm_engine_t wasm_engine_t;
typedef struct wasm_store_t wasm_store_t;
typedef struct wasm_module_t wasm_module_t;
typedef struct wasm_instance_t wasm_instance_t;
typedef struct wasm_extern_t wasm_extern_t;
typedef struct wasm_func_t wasm_func_t;
typedef struct wasm_memory_t wasm_memory_t;
typedef struct wasm_trap_t wasm_trap_t;
typedef struct wasm_ref_t wasm_ref_t;
typedef struct wasm_exporttype_t wasm_exporttype_t;
typedef struct wasm_importtype_t wasm_importtype_t;
typedef struct wasm_functype_t wasm_functype_t;
typedef struct wasm_valtype_t wasm_valtype_t;

/* Vectors: a length and a pointer to that many elements. */
typedef struct wasm_byte_vec_t {
  size_t size;
  wasm_byte_t *data;
} wasm_byte_vec_t;
typedef wasm_byte_vec_t wasm_name_t;
typedef wasm_byte_vec_t wasm_message_t;

typedef struct wasm_extern_vec_t {
  size_t size;
  wasm_extern_t **data;
} wasm_extern_vec_t;

typedef struct wasm_exporttype_vec_t {
  size_t size;
  wasm_exporttype_t **data;
} wasm_exporttype_vec_t;

typedef struct wasm_importtype_vec_t {
  size_t size;
  wasm_importtype_t **data;
} wasm_importtype_vec_t;

typedef struct wasm_valtype_vec_t {
  size_t size;
  wasm_valtype_t **data;
} wasm_valtype_vec_t;

/* Values: a kind tag and the value of that kind. */
typedef uint8_t wasm_valkind_t;
enum wasm_valkind_enum {
  WASM_I32 = 0,
  WASM_I64 = 1,
  WASM_F32 = 2,
  WASM_F64 = 3,
  WASM_ANYREF = 128,
  WASM_FUNCREF = 129,
};

typedef struct wasm_val_t {
  wasm_valkind_t kind;
  union {
    int32_t i32;
    int64_t i64;
    float f32;
    double f64;
    wasm_ref_t *ref;
  } of;
} wasm_val_t;

typedef struct wasm_val_vec_t {
  size_t size;
  wasm_val_t *data;
} wasm_val_vec_t;

typedef uint8_t wasm_externkind_t;
enum wasm_externkind_enum {
  WASM_EXTERN_FUNC = 0,
  WASM_EXTERN_GLOBAL = 1,
  WASM_EXTERN_TABLE = 2,
  WASM_EXTERN_MEMORY = 3,
};

#define WASM_EMPTY_VEC {0, NULL}
#define WASM_ARRAY_VEC(array) {sizeof(array) / sizeof(*(array)), array}
#define WASM_I32_VAL(i) {.kind = WASM_I32, .of = {.i32 = i}}
#define WASM_F64_VAL(z) {.kind = WASM_F64, .of = {.f64 = z}}
#define WASM_INIT_VAL {.kind = WASM_ANYREF, .of = {.ref = NULL}}

/* Runtime objects */
wasm_engine_t *wasm_engine_new(void); /* own */
void wasm_engine_delete(wasm_engine_t *);
wasm_store_t *wasm_store_new(wasm_engine_t *); /* own */
void wasm_store_delete(wasm_store_t *);

/* Byte vectors: new copies `size` bytes from `data`; new_uninitialized leaves them for the caller to fill. */
void wasm_byte_vec_new(wasm_byte_vec_t *out, size_t size, const wasm_byte_t *data); /* own out */
void wasm_byte_vec_new_uninitialized(wasm_byte_vec_t *out, size_t size);           /* own out */
void wasm_byte_vec_delete(wasm_byte_vec_t *);

/* Modules: compiled (or, on an interpreter, loaded) from a binary; NULL when the binary is not valid. */
wasm_module_t *wasm_module_new(wasm_store_t *, const wasm_byte_vec_t *binary); /* own */
void wasm_module_delete(wasm_module_t *);
void wasm_module_imports(const wasm_module_t *, wasm_importtype_vec_t *out); /* own out */
void wasm_module_exports(const wasm_module_t *, wasm_exporttype_vec_t *out); /* own out */
const wasm_name_t *wasm_importtype_module(const wasm_importtype_t *);
const wasm_name_t *wasm_importtype_name(const wasm_importtype_t *);
void wasm_importtype_vec_delete(wasm_importtype_vec_t *);
const wasm_name_t *wasm_exporttype_name(const wasm_exporttype_t *);
void wasm_exporttype_vec_delete(wasm_exporttype_vec_t *);

/* Instances: NULL on failure, with *trap set when instantiation trapped. The exports come in the order of
 * wasm_module_exports. */
wasm_instance_t *wasm_instance_new(wasm_store_t *, const wasm_module_t *, const wasm_extern_vec_t *imports,
                                   wasm_trap_t **trap); /* own result, own *trap */
void wasm_instance_delete(wasm_instance_t *);
void wasm_instance_exports(const wasm_instance_t *, wasm_extern_vec_t *out); /* own out */
void wasm_extern_vec_delete(wasm_extern_vec_t *);

/* Externs: what an instance exports; the as_ casts give NULL when the kind differs. */
wasm_externkind_t wasm_extern_kind(const wasm_extern_t *);
wasm_func_t *wasm_extern_as_func(wasm_extern_t *);
wasm_memory_t *wasm_extern_as_memory(wasm_extern_t *);

/* Functions: the signature, and a call that returns NULL, or the trap it raised. */
wasm_functype_t *wasm_func_type(const wasm_func_t *); /* own */
const wasm_valtype_vec_t *wasm_functype_params(const wasm_functype_t *);
const wasm_valtype_vec_t *wasm_functype_results(const wasm_functype_t *);
void wasm_functype_delete(wasm_functype_t *);
wasm_valkind_t wasm_valtype_kind(const wasm_valtype_t *);
wasm_trap_t *wasm_func_call(const wasm_func_t *, const wasm_val_vec_t *args, wasm_val_vec_t *results); /* own */

/* Linear memory: its bytes, valid until the memory grows (the MCU module's never does). */
wasm_byte_t *wasm_memory_data(wasm_memory_t *);
size_t wasm_memory_data_size(const wasm_memory_t *);

/* Traps: the message is a byte vector that engines end with a NUL. */
void wasm_trap_message(const wasm_trap_t *, wasm_message_t *out); /* own out */
void wasm_trap_delete(wasm_trap_t *);

#ifdef __cplusplus
}
#endif

#endif
