// phasor-wasi: `phasor run` for WASI runtimes (docs/wasi.md). Reads a .plsm model from a preopened directory
// and events from stdin (NDJSON as in shared/spec/formats.md, or the binary records of wasi/binary.ts), runs
// them through the same engine code as the library's wasm, and writes the NDJSON `phasor run` writes, byte for
// byte: per event {"seq","i","t","y"} or, with --emit last, per sequence {"seq","n","y","label"}; --hidden adds
// "h". Bad arguments or input: a message "phasor-wasi: file:line: reason" on stderr and exit status 2; a line
// longer than --max-line-bytes (default 1 MiB, as `phasor run`) is refused before it is held whole. With --learn,
// the readout learns from the events' labels as the library's fixed-engine stream.learning does (wasi/learning.ts).
//
//   wasmtime run --dir . build/phasor-wasi.wasm -- --model m.plsm < events.ndjson

import { args_get, args_sizes_get, errno, proc_exit } from "bindings/wasi_snapshot_preview1";
import { HEADER_META_AT, HEADER_META_BYTES, JSON_MAX_NESTING } from "./contract/plsm";
import { REASON_TIME_RANGE, errorLen, errorPtr, refusalReason, refusalTime } from "./errors";
import { readoutBytes } from "./fixed/readout-learning";
import { modelCreate } from "./index";
import { Model, S_SATURATED, isFixed, layerAt } from "./model";
import { POLICY_REJECT, pushEvent, readState, streamAllocBytes, streamReset } from "./stream";
import { BINARY_HEADER_BYTES, BINARY_VERSION, isBinary, recordBytes } from "./wasi/binary";
import { parseNumber, numberEnd } from "./wasi/decimal";
import {
  Input, NOT_REGULAR_DIRECTORY, closeInPlace, commitPartial, dropPartial, ensure, errnoReason, notRegular, openError, openFile,
  openInPlace, openInput, openPartial, preopenOf, readMore,
} from "./wasi/files";
import { trim, trimmedEnd, trimmedStart } from "./wasi/json";
import { META_NOT_JSON, META_NOT_OBJECT, META_OK, META_TOO_DEEP, hasNames, metaTwice, nameOffsets, readMetadata } from "./wasi/labels";
import {
  C_MIN, DEFAULT_C, ETA_MAX, ETA_MIN, labelFits, learnLabel, learningStart, outputInUse, readoutLoadBytes, readoutSaved,
} from "./wasi/learning";
import { eventLabel, eventT, readEvent, seqKind, seqNumber } from "./wasi/ndjson";
import { SEQ_NONE, SEQ_NUMBER, finish, finishedAt, putSeqJson, seqKey } from "./wasi/sequences";
import {
  Writer, flush, newWriter, putByte, putBytes, putInt, putJsonString, putNumber, putNumbers, putPrintable, putText,
} from "./wasi/writer";

const EXIT_RUNTIME = 1;
const EXIT_BAD = 2;

const out = newWriter(1, 1 << 16);
/** the message being written, printed by stop() with what it quotes of the input made printable */
const err = newWriter(-1, 256);
const stderr = newWriter(2, 1 << 12);
/** scratch text: a message's reason, a JSON key, the seq of the line being read */
const reason = newWriter(-1, 256);
const key = newWriter(-1, 64);
const seqText = newWriter(-1, 64);
/** the key of the seq of the event being taken, and of the current sequence */
const eventKey = newWriter(-1, 64);
const currentKey = newWriter(-1, 64);
/** the current seq as printed: null, an integer or a quoted string */
const currentJson = newWriter(-1, 64);
const names = newWriter(-1, 64);

// Flags
let modelPath: usize = 0;
let modelPathLength = -1;
let eventsPath: usize = 0;
let eventsPathLength = -1;
let emitLast = false;
let withHidden = false;
/** --max-line-bytes: the longest NDJSON line taken, in bytes, its line end not counted (host/engine/events.ts has the
 * same default and bound, DEFAULT_MAX_LINE_BYTES and MAX_LINE_BYTES_LIMIT) */
const DEFAULT_MAX_LINE_BYTES: i32 = 1 << 20;
const MAX_LINE_BYTES_LIMIT: i32 = 1 << 28;
let maxLineBytes = DEFAULT_MAX_LINE_BYTES;
/** --learn ETA [--learn-c C]: the readout learns from the labels; --readout-in and --readout-out: its bytes */
let learning = false;
let eta: f64 = 0;
let learnC: f64 = DEFAULT_C;
let readoutInPath: usize = 0;
let readoutInPathLength = -1;
let readoutOutPath: usize = 0;
let readoutOutPathLength = -1;
/** --readout-write in-place: --readout-out's file is emptied and written, not replaced (readoutSaveFile) */
let readoutInPlace = false;

// The model and its one stream
let model: Model = changetype<Model>(0);
let stream: usize = 0;
let x: usize = 0;
let y: usize = 0;
let h: usize = 0;
let lastHidden = 0;

// The current sequence
let started = false;
let count: i64 = 0;
let lastT: f64 = 0;
let lastPlace: i64 = 0;
// input values the fixed engine saturated (model.ts, S_SATURATED): in the sequences before the current one, in it so
// far (its stream's count), and the line (record) of the first
let saturatedBefore: i64 = 0;
let seqSaturated: i64 = 0;
let firstSaturated: i64 = -1;
/** a "last" readout learns, when its sequence ends, from the sequence's last label (NaN: none), read at this place */
let pendingLabel: f64 = NaN;
let pendingPlace: i64 = 0;
/** y holds the sequence's last output already: an "every" readout learned from its event after it (--emit last) */
let outputHeld = false;

/** What messages call the input ("stdin" or its path) and whether places are lines or binary records. */
let inputName: usize = 0;
let inputNameLength = 0;
let binaryInput = false;

function startMessage(): void {
  putText(err, "phasor-wasi: ");
}

/**
 * Ends the run: what stdout holds goes out, then the message on stderr, one line whatever it quotes (control
 * characters escaped, invalid UTF-8 as U+FFFD, as `phasor run` prints it); returns the exit status.
 */
function stop(status: i32): i32 {
  flush(out);
  putSaturationWarning();
  putPrintable(stderr, err.buffer, err.length);
  putByte(stderr, 10);
  flush(stderr);
  return status;
}

/**
 * The inputs the run saturated, in `phasor run`'s words (host/engine/input-range.ts, saturationWarning), on stderr
 * before the run's last message or its end; once.
 */
function putSaturationWarning(): void {
  const total = saturatedBefore + seqSaturated;
  if (total == 0) return;
  saturatedBefore = 0;
  seqSaturated = 0;
  const w = warning;
  w.length = 0;
  putText(w, "phasor-wasi: warning: ");
  putInt(w, total);
  putText(w, total == 1 ? " input value was" : " input values were");
  putText(w, " beyond what the model's fixed-point input holds (|x| at most 32767 / 2^");
  putInt(w, model.inputFrac);
  putText(w, " = ");
  putNumber(w, 32767 / Math.pow(2, <f64>model.inputFrac));
  putText(w, ", set from its calibration events) and saturated to it");
  if (firstSaturated >= 0) {
    putText(w, ", the first at ");
    putBytes(w, inputName, inputNameLength);
    putText(w, binaryInput ? ":record " : ":");
    putInt(w, firstSaturated);
  }
  putText(w, ": quantize the model again on calibration events that span the inputs' range, or run the float model");
  // the input's name as any message quotes it: one line, control characters escaped
  putPrintable(stderr, w.buffer, w.length);
  putByte(stderr, 10);
}
const warning = newWriter(-1, 256);

/** "phasor-wasi: <input>:<line>: <reason>" (or ":record <n>" for binary input) and exit status 2. */
function badEvent(place: i64): i32 {
  startMessage();
  putBytes(err, inputName, inputNameLength);
  putText(err, binaryInput ? ":record " : ":");
  putInt(err, place);
  putText(err, ": ");
  putBytes(err, reason.buffer, reason.length);
  return stop(EXIT_BAD);
}

function badArguments(text: string): i32 {
  startMessage();
  putText(err, text);
  return stop(EXIT_BAD);
}

// ---- arguments ----

const USAGE =
  "usage: phasor-wasi --model M.plsm [--events E] [--emit every|last] [--hidden] [--max-line-bytes N]\n" +
  "                   [--learn ETA [--learn-c C]] [--readout-in FILE] [--readout-out FILE [--readout-write replace|in-place]]\n\n" +
  "Runs a quantized model over events and prints NDJSON on stdout, as `phasor run` does. Events come from stdin\n" +
  "(or --events, a file in a preopened directory): NDJSON lines, or binary records (docs/wasi.md).\n" +
  '--emit every (default): one line per event {"seq","i","t","y"}; --emit last: one line per sequence\n' +
  '{"seq","n","y","label"}; --hidden adds "h", the last layer\'s hidden state. --max-line-bytes N: the longest\n' +
  "NDJSON line taken, in bytes (default 1048576, 1 MiB; at most 268435456). The model path is looked up in the\n" +
  "runtime's preopened directories (wasmtime run --dir .).\n" +
  '--learn ETA: the readout learns from the events\' "label" (a class, or the target value of a readout of one\n' +
  "output), each output printed before its label is learned: one step of eta in [2^-24, 1024], capped at\n" +
  "c 2 / lambda (--learn-c C in [2^-16, 1], default 0.9), after each sequence for a \"last\" readout (from its\n" +
  "last label), after each labelled event for an \"every\" one (docs/on-device-learning.md). --readout-in FILE\n" +
  "starts from a saved readout; --readout-out FILE saves the readout in use when the run ends well: whole, by a\n" +
  "new file renamed over FILE (--readout-write replace, the default), or by emptying FILE and writing it\n" +
  "(--readout-write in-place: for a runtime whose WASI has no path_rename, such as wasm3's \"simple\" one).\n";

@inline function argIs(p: usize, n: i32, text: string): bool {
  if (n != text.length) return false;
  for (let i = 0; i < n; i++) if (<i32>load<u8>(p + <usize>i) != text.charCodeAt(i)) return false;
  return true;
}

// The flags that take a value, and the bit of each in `given`
const FLAG_MODEL = 1;
const FLAG_EVENTS = 2;
const FLAG_EMIT = 4;
const FLAG_LIMIT = 8;
const FLAG_LEARN = 16;
const FLAG_LEARN_C = 32;
const FLAG_READOUT_IN = 64;
const FLAG_READOUT_OUT = 128;
const FLAG_READOUT_WRITE = 256;

function flagOf(a: usize, n: i32): i32 {
  if (argIs(a, n, "--model")) return FLAG_MODEL;
  if (argIs(a, n, "--events")) return FLAG_EVENTS;
  if (argIs(a, n, "--emit")) return FLAG_EMIT;
  if (argIs(a, n, "--max-line-bytes")) return FLAG_LIMIT;
  if (argIs(a, n, "--learn")) return FLAG_LEARN;
  if (argIs(a, n, "--learn-c")) return FLAG_LEARN_C;
  if (argIs(a, n, "--readout-in")) return FLAG_READOUT_IN;
  if (argIs(a, n, "--readout-out")) return FLAG_READOUT_OUT;
  if (argIs(a, n, "--readout-write")) return FLAG_READOUT_WRITE;
  return 0;
}

/** Reads the flags; 0, or the exit status of a mistake (or of --help). */
function readArguments(): i32 {
  const sizes = memory.data(8, 4);
  if (args_sizes_get(sizes, sizes + 4) != errno.SUCCESS) return badArguments("cannot read the arguments");
  const argc = <i32>load<u32>(sizes);
  const pointers = heap.alloc(<usize>argc << 2);
  const text = heap.alloc(<usize>load<u32>(sizes, 4));
  if (args_get(pointers, text) != errno.SUCCESS) return badArguments("cannot read the arguments");
  for (let i = 1; i < argc; i++) {
    const a = <usize>load<u32>(pointers + (<usize>i << 2));
    const n = lengthOf(a);
    if (argIs(a, n, "--help") || argIs(a, n, "-h")) {
      putText(out, USAGE);
      flush(out);
      return -1;
    }
  }
  let given = 0;
  for (let i = 1; i < argc; i++) {
    const a = <usize>load<u32>(pointers + (<usize>i << 2));
    const n = lengthOf(a);
    if (n < 2 || load<u8>(a) != 45 || load<u8>(a, 1) != 45) {
      startMessage();
      putText(err, 'unexpected argument "');
      putBytes(err, a, n);
      putText(err, '" (flags start with --)');
      return stop(EXIT_BAD);
    }
    let nameLength = 2;
    while (nameLength < n && load<u8>(a + <usize>nameLength) != 61) nameLength++; // up to "="
    const inline = nameLength < n;
    let value: usize = 0;
    let valueLength = 0;
    if (argIs(a, nameLength, "--hidden")) {
      if (inline) return badArguments("--hidden takes no value");
      if (withHidden) return badArguments("--hidden is given twice");
      withHidden = true;
      continue;
    }
    const flag = flagOf(a, nameLength);
    if (flag == 0) {
      startMessage();
      putText(err, "unknown flag ");
      putBytes(err, a, nameLength);
      putText(err, " (accepted: --model, --events, --emit, --hidden, --max-line-bytes, --learn, --learn-c, --readout-in, --readout-out, --readout-write)");
      return stop(EXIT_BAD);
    }
    if (given & flag) {
      startMessage();
      putBytes(err, a, nameLength);
      putText(err, " is given twice");
      return stop(EXIT_BAD);
    }
    given |= flag;
    if (inline) {
      value = a + <usize>nameLength + 1;
      valueLength = n - nameLength - 1;
    } else {
      const next = i + 1 < argc ? <usize>load<u32>(pointers + (<usize>(i + 1) << 2)) : 0;
      if (next == 0 || (lengthOf(next) >= 2 && load<u8>(next) == 45 && load<u8>(next, 1) == 45)) {
        startMessage();
        putBytes(err, a, nameLength);
        putText(err, " needs a value");
        return stop(EXIT_BAD);
      }
      value = next;
      valueLength = lengthOf(next);
      i++;
    }
    if (valueLength == 0) {
      startMessage();
      putBytes(err, a, nameLength);
      putText(err, " needs a non-empty value");
      return stop(EXIT_BAD);
    }
    if (flag == FLAG_MODEL) {
      modelPath = value;
      modelPathLength = valueLength;
    } else if (flag == FLAG_EVENTS) {
      eventsPath = value;
      eventsPathLength = valueLength;
    } else if (flag == FLAG_READOUT_IN) {
      readoutInPath = value;
      readoutInPathLength = valueLength;
    } else if (flag == FLAG_READOUT_OUT) {
      readoutOutPath = value;
      readoutOutPathLength = valueLength;
    } else if (flag == FLAG_LIMIT) {
      maxLineBytes = lineLimit(value, valueLength);
      if (maxLineBytes < 0) {
        startMessage();
        putText(err, "--max-line-bytes must be an integer in [1, ");
        putInt(err, MAX_LINE_BYTES_LIMIT);
        putText(err, "]");
        return badValue(value, valueLength);
      }
    } else if (flag == FLAG_LEARN || flag == FLAG_LEARN_C) {
      const v = numberOf(value, valueLength);
      const low = flag == FLAG_LEARN ? ETA_MIN : C_MIN;
      const high = flag == FLAG_LEARN ? ETA_MAX : 1.0;
      if (!(v >= low && v <= high)) {
        startMessage();
        putText(err, flag == FLAG_LEARN ? "--learn (the step eta) must be a number in [2^-24, 1024]" : "--learn-c (the cap's c) must be a number in [2^-16, 1]");
        return badValue(value, valueLength);
      }
      if (flag == FLAG_LEARN) {
        learning = true;
        eta = v;
      } else {
        learnC = v;
      }
    } else if (flag == FLAG_READOUT_WRITE) {
      if (argIs(value, valueLength, "in-place")) readoutInPlace = true;
      else if (!argIs(value, valueLength, "replace")) {
        startMessage();
        putText(err, "--readout-write must be one of replace, in-place");
        return badValue(value, valueLength);
      }
    } else {
      if (argIs(value, valueLength, "last")) emitLast = true;
      else if (!argIs(value, valueLength, "every")) {
        startMessage();
        putText(err, "--emit must be one of every, last");
        return badValue(value, valueLength);
      }
    }
  }
  if (modelPathLength < 0) return badArguments("missing --model M (quantized model, .plsm)");
  if ((given & FLAG_LEARN_C) && !learning) return badArguments("--learn-c needs --learn ETA (the step the readout learns with)");
  if ((given & FLAG_READOUT_WRITE) && readoutOutPathLength < 0) return badArguments("--readout-write needs --readout-out FILE (the file it says how to write)");
  if (readoutOutPathLength >= 0 && !preopenOf(readoutOutPath, readoutOutPathLength)) {
    startPathMessage(readoutOutPath, readoutOutPathLength);
    putText(err, "cannot write the readout: no preopened directory holds it (give the runtime --dir)");
    return stop(EXIT_BAD);
  }
  // the readout is renamed over its file when the run ends: a pipe or a device there would be replaced, not written
  // (in place it is written to, as a shell's `>` writes)
  const kind = readoutOutPathLength >= 0 && !readoutInPlace ? notRegular(readoutOutPath, readoutOutPathLength) : 0;
  if (kind != 0) {
    startPathMessage(readoutOutPath, readoutOutPathLength);
    putText(err, kind == NOT_REGULAR_DIRECTORY ? "cannot write the readout there: it is a directory" : "cannot write the readout there: not a regular file");
    return stop(EXIT_BAD);
  }
  return 0;
}

/** Ends the message begun, what a flag's value must be, with the value given; exit status 2. */
function badValue(value: usize, valueLength: i32): i32 {
  putText(err, ' (got "');
  putBytes(err, value, valueLength);
  putText(err, '")');
  return stop(EXIT_BAD);
}

/** The JSON number that is the whole of [p, p + n), or NaN. */
function numberOf(p: usize, n: i32): f64 {
  const v = parseNumber(p, p + <usize>n);
  return numberEnd == p + <usize>n ? v : NaN;
}

/** The decimal integer in [1, MAX_LINE_BYTES_LIMIT] at [p, p + n), or -1. */
function lineLimit(p: usize, n: i32): i32 {
  let v: i64 = 0;
  for (let i = 0; i < n; i++) {
    const d = <i32>load<u8>(p + <usize>i) - 48;
    if (d < 0 || d > 9 || v > <i64>MAX_LINE_BYTES_LIMIT) return -1;
    v = v * 10 + d;
  }
  return v >= 1 && v <= <i64>MAX_LINE_BYTES_LIMIT ? <i32>v : -1;
}

function lengthOf(p: usize): i32 {
  let n = 0;
  while (load<u8>(p + <usize>n) != 0) n++;
  return n;
}

// ---- the model ----

/** "phasor-wasi: <path>: " */
function startPathMessage(path: usize, length: i32): void {
  startMessage();
  putBytes(err, path, length);
  putText(err, ": ");
}

function startModelMessage(): void {
  startPathMessage(modelPath, modelPathLength);
}

function loadModel(): i32 {
  const fd = openFile(modelPath, modelPathLength, true);
  if (fd < 0) {
    startModelMessage();
    putText(err, "cannot read the model file: ");
    if (openError == 0) putText(err, "no preopened directory holds it (give the runtime --dir)");
    else putText(err, errnoReason(openError));
    return stop(EXIT_BAD);
  }
  const file = changetype<Input>(memory.data(offsetof<Input>(), 8));
  openInput(file, fd);
  while (readMore(file)) {
    if (file.end > (1 << 30)) break;
  }
  if (file.error != 0) {
    startModelMessage();
    putText(err, "cannot read the model file: ");
    putText(err, errnoReason(file.error));
    return stop(EXIT_BAD);
  }
  const bytes = file.buffer;
  const length = file.end;
  if (looksLikeJson(bytes, length)) {
    startModelMessage();
    putText(err, "a JSON float model: phasor-wasi runs a quantized model (.plsm); make one with `phasor quantize`");
    return stop(EXIT_BAD);
  }
  const handle = modelCreate(bytes, length);
  if (handle == 0) {
    startModelMessage();
    putBytes(err, errorPtr(), errorLen());
    return stop(EXIT_BAD);
  }
  model = changetype<Model>(handle);
  // the metadata: where host/model/plsm.ts reads labels, checked as it checks it
  const metaAt = <u64>load<u32>(bytes, HEADER_META_AT);
  const metaBytes = <u64>load<u32>(bytes, HEADER_META_BYTES);
  if (metaAt < 64 || metaAt + metaBytes > <u64>(length - 4)) {
    startModelMessage();
    putText(err, "metadata (offset ");
    putInt(err, metaAt);
    putText(err, ", ");
    putInt(err, metaBytes);
    putText(err, " bytes) lies outside the file");
    return stop(EXIT_BAD);
  }
  const metadata = readMetadata(bytes + <usize>metaAt, bytes + <usize>(metaAt + metaBytes), model.outputSize, names, key);
  if (metadata != META_OK) {
    startModelMessage();
    if (metadata == META_NOT_JSON) putText(err, "metadata is not valid JSON");
    else if (metadata == META_TOO_DEEP) {
      putText(err, "metadata nests arrays and objects more than ");
      putInt(err, JSON_MAX_NESTING);
      putText(err, " deep, which phasor-wasi does not read");
    }
    else if (metadata == META_NOT_OBJECT) putText(err, "metadata is not a JSON object");
    else {
      putText(err, 'metadata gives "');
      putText(err, metaTwice);
      putText(err, '" twice: JSON would keep only the last');
    }
    return stop(EXIT_BAD);
  }
  stream = heap.alloc(streamAllocBytes(model));
  streamReset(model, stream);
  x = heap.alloc(<usize>model.inputSize << 2);
  y = heap.alloc(<usize>model.outputSize << 3);
  lastHidden = layerAt(model, model.layerCount - 1).hiddenSize;
  h = heap.alloc(<usize>lastHidden << 3);
  if (!learning && readoutInPathLength < 0 && readoutOutPathLength < 0) return 0;
  if (!isFixed(model.kind)) {
    startModelMessage();
    putText(err, "a float model has no integer readout to learn: --learn and the readout flags need a fixed-point .plsm");
    return stop(EXIT_BAD);
  }
  learningStart(model);
  return readoutLoadFile();
}

/** --readout-in: the bytes of a saved readout of the model become the readout in use. 0, or the exit status. */
function readoutLoadFile(): i32 {
  if (readoutInPathLength < 0) return 0;
  const fd = openFile(readoutInPath, readoutInPathLength, true);
  if (fd < 0) {
    startPathMessage(readoutInPath, readoutInPathLength);
    putText(err, "cannot read the readout file: ");
    putText(err, openError == 0 ? "no preopened directory holds it (give the runtime --dir)" : errnoReason(openError));
    return stop(EXIT_BAD);
  }
  const file = changetype<Input>(memory.data(offsetof<Input>(), 8));
  openInput(file, fd);
  // no further than one byte past a readout's size: a longer file is refused without being held whole
  const size = <i32>readoutBytes(model);
  ensure(file, size + 1);
  if (file.error != 0) {
    startPathMessage(readoutInPath, readoutInPathLength);
    putText(err, "cannot read the readout file: ");
    putText(err, errnoReason(file.error));
    return stop(EXIT_BAD);
  }
  reason.length = 0;
  if (!readoutLoadBytes(model, file.buffer, file.end, reason)) {
    startPathMessage(readoutInPath, readoutInPathLength);
    putText(err, "not a readout this model can take: ");
    putBytes(err, reason.buffer, reason.length);
    return stop(EXIT_BAD);
  }
  return 0;
}

/**
 * --readout-out: the readout in use, written when the run ends well, whole: to a new file beside it, flushed to the
 * disk and renamed over it, so that a write that fails (a full disk, a file-size limit) or a device that stops
 * leaves the file as it was. With --readout-write in-place the file itself is emptied, written and flushed: a write
 * that fails leaves it cut short (the message says so). 0, or the exit status.
 */
function readoutSaveFile(): i32 {
  if (readoutOutPathLength < 0) return 0;
  const fd = readoutInPlace ? openInPlace(readoutOutPath, readoutOutPathLength) : openPartial(readoutOutPath, readoutOutPathLength);
  let error = openError;
  if (fd >= 0) {
    const size = <i32>readoutBytes(model);
    const file = newWriter(fd, size);
    putBytes(file, readoutSaved(model), size);
    if (readoutInPlace) {
      error = flush(file) ? closeInPlace(fd) : file.error;
      if (error == errno.SUCCESS) return 0;
    } else if (flush(file)) {
      error = commitPartial(fd);
      if (error == errno.SUCCESS) return 0;
    } else {
      error = file.error;
      dropPartial(fd);
    }
  }
  startPathMessage(readoutOutPath, readoutOutPathLength);
  putText(err, "cannot write the readout: ");
  if (error == 0) {
    putText(err, "no preopened directory holds it (give the runtime --dir)");
  } else if (readoutInPlace && fd >= 0) {
    putText(err, errnoReason(error));
    putText(err, " (written in place: the file is cut short)");
  } else if (fd < 0 && error == errno.EXIST) {
    putBytes(err, readoutOutPath, readoutOutPathLength);
    putText(err, ".partial is in the way (a run stopped while it wrote the readout leaves one): remove it");
  } else {
    putText(err, errnoReason(error));
  }
  return stop(EXIT_RUNTIME);
}

/** Whether a model file is JSON text (its first byte after white space is "{"), not a .plsm image. */
function looksLikeJson(bytes: usize, length: i32): bool {
  let i = 0;
  while (i < length && (load<u8>(bytes + <usize>i) == 32 || (load<u8>(bytes + <usize>i) >= 9 && load<u8>(bytes + <usize>i) <= 13))) i++;
  return i < length && load<u8>(bytes + <usize>i) == 123;
}

// ---- sequences and outputs ----

function describeSeq(w: Writer, seqKey: Writer): void {
  if (load<u8>(seqKey.buffer) == <u8>SEQ_NONE) {
    putText(w, "the events without seq");
  } else {
    putText(w, "seq ");
    putSeqJson(w, seqKey);
  }
}

function sameKey(a: Writer, b: Writer): bool {
  return a.length == b.length && memory.compare(a.buffer, b.buffer, <usize>a.length) == 0;
}

/** The --emit last line of the sequence that ends, then a "last" readout's step from its label. 0, or the exit
 * status of a step refused. */
function endSequence(): i32 {
  if (emitLast) sequenceLine();
  if (pendingLabel != pendingLabel) return 0;
  const label = pendingLabel;
  pendingLabel = NaN;
  return learnFrom(label, pendingPlace);
}

/** One learning step from a label that labelFits: 0, or the exit status of a step refused. */
function learnFrom(label: f64, place: i64): i32 {
  reason.length = 0;
  return learnLabel(model, stream, label, eta, learnC, reason) ? 0 : badEvent(place);
}

function sequenceLine(): void {
  if (!outputHeld) outputInUse(model, stream, y);
  let best = 0;
  for (let o = 1; o < model.outputSize; o++) if (load<f64>(y + (<usize>o << 3)) > load<f64>(y + (<usize>best << 3))) best = o;
  putText(out, '{"seq":');
  putBytes(out, currentJson.buffer, currentJson.length);
  putText(out, ',"n":');
  putInt(out, count);
  putText(out, ',"y":');
  putNumbers(out, y, model.outputSize);
  putText(out, ',"label":');
  putInt(out, best);
  if (hasNames) {
    const from = load<i32>(nameOffsets + (<usize>best << 2));
    const to = load<i32>(nameOffsets + (<usize>(best + 1) << 2));
    putText(out, ',"name":');
    putJsonString(out, names.buffer + <usize>from, to - from);
  }
  if (withHidden) {
    readState(model, stream, model.layerCount - 1, 0, h);
    putText(out, ',"h":');
    putNumbers(out, h, lastHidden);
  }
  putText(out, "}\n");
}

/**
 * Takes the event now in eventT, x and eventKey, from `place` (its line or record): the checks `phasor run`
 * makes (a seq may not come back; time may not go backwards within a seq), a new stream state when the seq
 * changes, the engine, and the output line. 0, or the exit status of a bad event.
 */
function takeEvent(t: f64, place: i64): i32 {
  const newSeq = !started || !sameKey(eventKey, currentKey);
  if (newSeq) {
    const endedAt = finishedAt(eventKey);
    if (endedAt >= 0) {
      reason.length = 0;
      describeSeq(reason, eventKey);
      putText(reason, " appears again after ");
      describeSeq(reason, currentKey);
      putText(reason, binaryInput ? ": the events of one seq must be contiguous (it ended at record " : ": the events of one seq must be contiguous (it ended at line ");
      putInt(reason, endedAt);
      putText(reason, ")");
      return badEvent(place);
    }
  } else if (t < lastT) {
    reason.length = 0;
    putText(reason, "time goes backwards");
    if (load<u8>(eventKey.buffer) != <u8>SEQ_NONE) {
      putText(reason, " within ");
      describeSeq(reason, eventKey);
    }
    putText(reason, ": t = ");
    putNumber(reason, t);
    putText(reason, " after t = ");
    putNumber(reason, lastT);
    return badEvent(place);
  }
  // a label is checked before the event changes anything, and learned from after the output it follows
  const label = learning ? eventLabel : NaN;
  if (label == label) {
    reason.length = 0;
    if (!labelFits(model, label, reason)) return badEvent(place);
  }
  if (newSeq) {
    if (started) {
      const ended = endSequence();
      if (ended != 0) return ended;
      finish(currentKey, lastPlace);
    }
    started = true;
    currentKey.length = 0;
    putBytes(currentKey, eventKey.buffer, eventKey.length);
    currentJson.length = 0;
    putSeqJson(currentJson, currentKey);
    count = 0;
    saturatedBefore += seqSaturated;
    seqSaturated = 0;
    streamReset(model, stream);
  }
  if (pushEvent(model, stream, t, x, POLICY_REJECT) != 0) {
    reason.length = 0;
    if (refusalReason() == REASON_TIME_RANGE) {
      // in phasor run's words (host/engine/stream-checks.ts, timeRangeError), its numbers as JavaScript prints them
      putText(reason, "event at t=");
      putNumber(reason, t);
      putText(reason, ": more than 2^62 ticks after the stream's first event (t=");
      putNumber(reason, refusalTime());
      putText(reason, "), beyond what the engine's clock counts; start a new stream");
    } else {
      putBytes(reason, errorPtr(), errorLen());
    }
    return badEvent(place);
  }
  outputHeld = false;
  const saturated = load<i64>(stream + S_SATURATED);
  if (saturated != seqSaturated) {
    seqSaturated = saturated;
    if (firstSaturated < 0) firstSaturated = place;
  }
  if (!emitLast) {
    outputInUse(model, stream, y);
    putText(out, '{"seq":');
    putBytes(out, currentJson.buffer, currentJson.length);
    putText(out, ',"i":');
    putInt(out, count);
    putText(out, ',"t":');
    putNumber(out, t);
    putText(out, ',"y":');
    putNumbers(out, y, model.outputSize);
    if (withHidden) {
      readState(model, stream, model.layerCount - 1, 0, h);
      putText(out, ',"h":');
      putNumbers(out, h, lastHidden);
    }
    putText(out, "}\n");
  }
  count++;
  lastT = t;
  lastPlace = place;
  if (label != label) return 0;
  if (model.readoutMode == READOUT_EVERY) {
    if (emitLast) {
      outputInUse(model, stream, y);
      outputHeld = true;
    }
    return learnFrom(label, place);
  }
  pendingLabel = label;
  pendingPlace = place;
  return 0;
}
/** Model.readoutMode of a readout of every event (docs/plsm.md) */
const READOUT_EVERY = 1;

// ---- input ----

function badRead(input: Input): i32 {
  startMessage();
  putBytes(err, inputName, inputNameLength);
  putText(err, ": cannot read: ");
  putText(err, errnoReason(input.error));
  return stop(EXIT_BAD);
}

/** The message `phasor run` gives for a line over the limit (host/engine/events.ts). */
function longLine(line: i64): i32 {
  reason.length = 0;
  putText(reason, "the line is longer than ");
  putInt(reason, maxLineBytes);
  putText(reason, " bytes (the limit; --max-line-bytes raises it)");
  return badEvent(line);
}

function runLines(input: Input): i32 {
  let line: i64 = 0;
  let decided = false;
  let scanned = 0; // bytes after input.start already searched for a newline
  while (true) {
    let newline = input.start + scanned;
    while (newline < input.end && load<u8>(input.buffer + <usize>newline) != 10) newline++;
    if (newline == input.end) {
      scanned = input.end - input.start;
      // longer than the limit even if its last byte is the "\r" of a CRLF: refused before it is held whole
      if (scanned > maxLineBytes + 1) return longLine(line + 1);
      if (readMore(input)) continue;
      if (input.error != 0) return badRead(input);
      if (input.start == input.end) return 0;
      newline = input.end;
    }
    const lineStart = input.buffer + <usize>input.start;
    let lineEnd = input.buffer + <usize>newline;
    input.start = newline < input.end ? newline + 1 : newline;
    scanned = 0;
    line++;
    if (lineEnd > lineStart && load<u8>(lineEnd - 1) == 13) lineEnd--;
    if (lineEnd - lineStart > <usize>maxLineBytes) return longLine(line);
    trim(lineStart, lineEnd);
    if (trimmedStart == trimmedEnd) continue;
    if (!decided) {
      decided = true;
      if (trimmedEnd - trimmedStart >= 2 && load<u8>(trimmedStart) == 116 && load<u8>(trimmedStart, 1) == 44) {
        reason.length = 0;
        putText(reason, "CSV events are not read by phasor-wasi: convert them to NDJSON (formats.md)");
        return badEvent(line);
      }
    }
    reason.length = 0;
    if (!readEvent(lineStart, trimmedStart, trimmedEnd, x, model.inputSize, key, seqText, reason)) return badEvent(line);
    seqKey(eventKey, seqKind, seqNumber, seqText);
    const status = takeEvent(eventT, line);
    if (status != 0) return status;
    if (out.error != 0) return 0;
  }
}

function runRecords(input: Input): i32 {
  const I = model.inputSize;
  reason.length = 0;
  if (!ensure(input, BINARY_HEADER_BYTES)) {
    if (input.error != 0) return badRead(input);
    putText(reason, "the binary header is cut short");
    return badEvent(0);
  }
  const header = input.buffer + <usize>input.start;
  const version = <i32>load<u16>(header, 4);
  const flags = <i32>load<u16>(header, 6);
  const inputSize = <i64>load<u32>(header, 8);
  if (version != BINARY_VERSION) {
    putText(reason, "unsupported binary event version ");
    putInt(reason, version);
    putText(reason, " (this reader knows version 1)");
    return badEvent(0);
  }
  if (flags != 0 || load<u32>(header, 12) != 0) {
    putText(reason, "the binary header's flags and reserved bytes must be zero");
    return badEvent(0);
  }
  if (inputSize != <i64>I) {
    putText(reason, "the events have inputSize ");
    putInt(reason, inputSize);
    putText(reason, ", the model's inputSize is ");
    putInt(reason, I);
    return badEvent(0);
  }
  if (learning) {
    putText(reason, "binary records carry no labels: --learn needs NDJSON events with a \"label\"");
    return badEvent(0);
  }
  input.start += BINARY_HEADER_BYTES;
  const size = recordBytes(I);
  let record: i64 = 0;
  while (true) {
    if (!ensure(input, size)) {
      if (input.error != 0) return badRead(input);
      const left = input.end - input.start;
      if (left == 0) return 0;
      reason.length = 0;
      putText(reason, "the input ends inside the record (");
      putInt(reason, left);
      putText(reason, " of ");
      putInt(reason, size);
      putText(reason, " bytes)");
      return badEvent(record + 1);
    }
    record++;
    const at = input.buffer + <usize>input.start;
    input.start += size;
    const t = load<f64>(at);
    if (!isFinite(t)) {
      reason.length = 0;
      putText(reason, "t is not finite");
      return badEvent(record);
    }
    seqText.length = 0;
    seqKey(eventKey, SEQ_NUMBER, <f64>load<u32>(at, 8), seqText);
    memory.copy(x, at + 12, <usize>I << 2);
    const status = takeEvent(t, record);
    if (status != 0) return status;
    if (out.error != 0) return 0;
  }
}

function run(): i32 {
  const status = readArguments();
  if (status != 0) return status < 0 ? 0 : status;
  const loaded = loadModel();
  if (loaded != 0) return loaded;
  let fd = 0;
  if (eventsPathLength < 0 || argIs(eventsPath, eventsPathLength, "-")) {
    inputName = changetype<usize>(STDIN);
    inputNameLength = 5;
  } else {
    inputName = eventsPath;
    inputNameLength = eventsPathLength;
    fd = openFile(eventsPath, eventsPathLength);
    if (fd < 0) {
      startMessage();
      putBytes(err, eventsPath, eventsPathLength);
      putText(err, ": cannot open: ");
      if (openError == 0) putText(err, "no preopened directory holds it (give the runtime --dir)");
      else putText(err, errnoReason(openError));
      return stop(EXIT_BAD);
    }
  }
  const input = changetype<Input>(memory.data(offsetof<Input>(), 8));
  openInput(input, fd);
  ensure(input, 4);
  binaryInput = isBinary(input.buffer + <usize>input.start, input.end - input.start);
  const result = binaryInput ? runRecords(input) : runLines(input);
  if (result != 0) return result;
  if (started && out.error == 0) {
    const ended = endSequence();
    if (ended != 0) return ended;
  }
  flush(out);
  putSaturationWarning();
  flush(stderr);
  if (out.error == errno.PIPE && readoutOutPathLength < 0) return 0; // the reader went away (`| head`): stop quietly, as the CLI does
  if (out.error != 0) {
    startMessage();
    putText(err, "cannot write to stdout: ");
    putText(err, errnoReason(out.error));
    if (readoutOutPathLength >= 0) putText(err, " (the events were not all run: the readout is not written)");
    return stop(EXIT_RUNTIME);
  }
  return readoutSaveFile();
}
const STDIN = memory.data<u8>([115, 116, 100, 105, 110]);

const exitStatus = run();
if (exitStatus != 0) proc_exit(exitStatus);
