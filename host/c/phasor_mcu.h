/*
 * The microcontroller build of Phasor (build/phasor-mcu.wasm, docs/embedding.md) driven through the standard
 * WebAssembly C API: load the module, hand it a .plsm image, then push events and read outputs. This is the part
 * of the C host a device's firmware keeps; phasor_host.c adds files, CSV events and printing around it.
 *
 * With the learning build (build/phasor-mcu-learn.wasm, docs/on-device-learning.md) the phasor_mcu_learn and
 * phasor_mcu_readout calls fine-tune the readout on the device and hand its bytes in and out.
 *
 * Every call returns a status; on failure phasor_mcu.error says what went wrong, where and why. No call
 * allocates after phasor_mcu_open: the event path is copies into and out of the module's memory and wasm calls.
 * The values exchanged are little-endian f32 and f64, as wasm's are: the host must be little-endian too (ARM
 * Cortex-M, RISC-V, Xtensa and x86 are).
 */
#ifndef PHASOR_MCU_H
#define PHASOR_MCU_H

#include <stddef.h>
#include <stdint.h>

#ifdef PHASOR_WASM_HEADER
#include PHASOR_WASM_HEADER /* an engine's own header, e.g. -DPHASOR_WASM_HEADER='"wasm_c_api.h"' for WAMR */
#else
#include "wasm_api.h"
#endif

typedef enum phasor_status {
  PHASOR_OK = 0,
  /** not a module with the MCU build's imports and exports (phasor_mcu_open) */
  PHASOR_BAD_MODULE,
  /** init rejected the image: not a fixed-point .plsm, corrupted, or out of range (phasor_mcu_load) */
  PHASOR_BAD_MODEL,
  /** the image and what init lays out after it do not fit the module's arena (phasor_mcu_load) */
  PHASOR_TOO_BIG,
  /** push refused the event (not finite, earlier than the previous one, 2^62 ticks past the sequence's
   * start); learn refused a label, target, eta or c; readout_load refused the bytes. Nothing changed. */
  PHASOR_REFUSED,
  /** the engine failed: out of memory, a trap, or an answer the module's contract rules out */
  PHASOR_ENGINE,
} phasor_status;

typedef struct phasor_mcu {
  wasm_engine_t *engine;
  wasm_store_t *store;
  wasm_module_t *module;
  wasm_instance_t *instance;
  wasm_extern_vec_t exports;
  wasm_memory_t *memory;
  /* the module's exports (docs/embedding.md, "Exports") */
  const wasm_func_t *model_buffer, *arena_bytes, *arena_used, *arena_needed, *init, *input_buffer, *push,
      *output, *reset;
  /* the learning build's (NULL in the inference build): docs/on-device-learning.md, "The calls" */
  const wasm_func_t *learn, *target_buffer, *readout_buffer, *readout_size, *readout_save, *readout_load,
      *readout_reset;
  /** from the image's header (docs/plsm.md), after phasor_mcu_load; readout_every: 1 for an "every" readout */
  uint32_t input_size, output_size, readout_every;
  /** the CRC-32 the image ends with (docs/plsm.md): a saved readout names the model it adapts by it */
  uint32_t model_crc;
  /** the image's layer-0 input format, its fractional bits (docs/fixed-point.md): an input x runs as
   * round(x 2^input_frac) in i16, so one beyond 32767 / 2^input_frac runs saturated to that bound */
  int32_t input_frac;
  /** addresses in linear memory of the next event's inputSize f32 and of the outputSize f64 outputs */
  uint32_t input_at, output_at;
  /** bytes of the module's arena, and the bytes init took for the model (image included) */
  uint32_t arena_bytes_total, arena_bytes_used;
  /** why the last call failed, NUL-terminated */
  char error[320];
} phasor_mcu;

/** Loads and instantiates the module (its bytes are copied, the caller may free them). On failure everything
 * created so far is released again. */
phasor_status phasor_mcu_open(phasor_mcu *mcu, const uint8_t *module_bytes, size_t module_length);

/** Whether a .plsm image has int8 gate weights in any layer (docs/plsm.md, layer flags): those run on the int8
 * build, build/phasor-mcu-int8.wasm; the others on build/phasor-mcu.wasm. */
int phasor_plsm_int8(const uint8_t *image, size_t length);

/** Writes the .plsm image into the module's arena and lays out the model: the stream starts new. */
phasor_status phasor_mcu_load(phasor_mcu *mcu, const uint8_t *image, size_t length);

/** One event at time t (the model's time unit) with input_size inputs. */
phasor_status phasor_mcu_push(phasor_mcu *mcu, double t, const float *x);

/** y = V h + d for the current state, output_size values copied to y. */
phasor_status phasor_mcu_output(phasor_mcu *mcu, double *y);

/** A new sequence: h = c = 0 and no time origin. */
phasor_status phasor_mcu_reset(phasor_mcu *mcu);

/** Whether the module is the learning build, which the calls below need. */
int phasor_mcu_learns(const phasor_mcu *mcu);

/** One learning step from the current state towards class `label` (softmax cross-entropy), with step eta capped at
 * c 2 / lambda (0 < c <= 1). *capped (may be NULL) tells whether the cap was the step. */
phasor_status phasor_mcu_learn_class(phasor_mcu *mcu, int32_t label, double eta, double c, int *capped);

/** The same towards output_size target values (squared error). */
phasor_status phasor_mcu_learn_values(phasor_mcu *mcu, const double *targets, double eta, double c, int *capped);

/** The readout in use, as bytes, into `bytes` (room for `room`); *length gets their count. */
phasor_status phasor_mcu_readout_save(phasor_mcu *mcu, uint8_t *bytes, size_t room, size_t *length);

/** Takes the bytes of a readout_save of this model as the readout in use; refused bytes change nothing. */
phasor_status phasor_mcu_readout_load(phasor_mcu *mcu, const uint8_t *bytes, size_t length);

/** Back to the model's own (flashed) readout. */
phasor_status phasor_mcu_readout_reset(phasor_mcu *mcu);

void phasor_mcu_close(phasor_mcu *mcu);

#endif
