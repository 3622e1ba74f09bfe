/*
 * phasor_host: `phasor run` in C on the standard WebAssembly C API (docs/embedding.md). It runs the
 * microcontroller build (build/phasor-mcu.wasm) over a CSV event file and prints one NDJSON line per event,
 * {"seq","i","t","y"}, the bytes `phasor run --model M.plsm --events E.csv` prints.
 *
 *   phasor_host --module build/phasor-mcu.wasm --model m.plsm --events e.csv      (- reads stdin)
 *
 * --max-line-bytes N caps an event line as `phasor run --max-line-bytes` does (default 1 MiB, at most 256 MiB): a
 * longer line is refused with its file, line and `phasor run`'s words, before it is held whole.
 *
 * Without --module it runs build/phasor-mcu.wasm, or build/phasor-mcu-int8.wasm for a model with int8 weights.
 *
 * With --learn ETA it runs the learning build (build/phasor-mcu-learn.wasm, docs/on-device-learning.md) and
 * fine-tunes the readout from the events' label column as a device would: the outputs are printed first, then a
 * "last" readout learns at the end of each sequence from the sequence's last label, an "every" readout after each
 * event that has one (a class for a model of 2 or more outputs, the target value for one output). --learn-c sets
 * the cap's c (default 0.9); --readout-in loads a saved readout first, --readout-out saves the readout at the end.
 *
 * Built with -DPHASOR_EMBEDDED, it takes the module and the model from the arrays `phasor export-c` writes
 * (phasor_model.h, phasor_model.c) instead of files, as firmware would, and only --events is given.
 *
 * Exit status as the phasor command's (shared/spec/formats.md): 0 success, 2 bad arguments or input files (a
 * module that is not the MCU build, a model it rejects or that does not fit its arena, a bad event line), 1 a
 * failure of the engine or of stdout. Messages go to stderr as `phasor_host: where: what`. The files read whole
 * (module, model, readout) must be regular files within a bound, as the phasor command's (host/files.ts).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csv_events.h"
#include "js_number.h"
#include "phasor_mcu.h"

#ifdef PHASOR_EMBEDDED
#include "phasor_model.h"
#endif

enum { EXIT_BAD_INPUT = 2, EXIT_RUNTIME = 1 };

#ifdef PHASOR_EMBEDDED
static const char USAGE[] = "usage: phasor_host --events E.csv [--max-line-bytes N] [learning flags]   (module and model are built in: phasor export-c)\n"
                            "learning: [--learn ETA [--learn-c C]] [--readout-in FILE] [--readout-out FILE]\n";
#else
static const char USAGE[] = "usage: phasor_host [--module build/phasor-mcu.wasm] --model M.plsm --events E.csv [--max-line-bytes N] [learning flags]\n"
                            "learning: [--learn ETA [--learn-c C]] [--readout-in FILE] [--readout-out FILE]\n";
#endif

typedef struct {
  const char *module;
  const char *model;
  const char *events;
  const char *max_line_bytes_text;
  const char *learn, *learn_c, *readout_in, *readout_out;
  double eta, c;
  size_t max_line_bytes;
} arguments;

/* Input values the module saturated to the model's input format (phasor_mcu.input_frac) in the run so far, with the
 * line of the first: the module runs them as the bound, as the library's fixed engine does, and the run says so once,
 * before its first message after them or at the end of the events, in phasor run's words (host/engine/input-range.ts). */
static struct {
  unsigned long long count;
  unsigned long first_line;
  int32_t frac;
  const char *name;
} saturated;

/* Counts the inputs of one event the module saturates: round half up of x 2^frac beyond +-32767, as the engine's
 * fixedEvent computes it from the same f32 (assembly/fixed/engine.ts). */
static void count_saturated(const float *x, uint32_t n, int32_t frac, const char *name, unsigned long line) {
  for (uint32_t i = 0; i < n; i++) {
    double q = floor(ldexp((double)x[i], frac) + 0.5);
    if (q > 32767 || q < -32767) {
      if (saturated.count++ == 0) {
        saturated.first_line = line;
        saturated.frac = frac;
        saturated.name = name;
      }
    }
  }
}

static void warn_saturated(void) {
  if (saturated.count == 0) return;
  char bound[JS_NUMBER_CHARS];
  js_number(32767 / ldexp(1, saturated.frac), bound);
  fprintf(stderr, "phasor_host: warning: %llu input %s beyond what the model's fixed-point input holds (|x| at most 32767 / 2^%d = %s, "
          "set from its calibration events) and saturated to it, the first at %s:%lu: quantize the model again on calibration "
          "events that span the inputs' range, or run the float model\n", saturated.count, saturated.count == 1 ? "value was" : "values were",
          (int)saturated.frac, bound, saturated.name, saturated.first_line);
  saturated.count = 0;
}

static int complain(int status, const char *format, ...) __attribute__((format(printf, 2, 3)));

static int complain(int status, const char *format, ...) {
  warn_saturated();
  va_list args;
  va_start(args, format);
  fputs("phasor_host: ", stderr);
  vfprintf(stderr, format, args);
  fputc('\n', stderr);
  va_end(args);
  return status;
}

/* Whether text is a whole number in C's notation (strtod); *value gets it. */
static int number_is(const char *text, double *value) {
  char *end;
  errno = 0;
  *value = strtod(text, &end);
  return end != text && *end == '\0' && errno == 0;
}

/* `--name value` and `--name=value`, as the phasor command takes them. 0, or the exit status. */
static int parse_arguments(int argc, char **argv, arguments *a) {
  struct {
    const char *name;
    const char **value;
  } flags[] = {
#ifndef PHASOR_EMBEDDED
      {"module", &a->module},
      {"model", &a->model},
#endif
      {"events", &a->events},
      {"max-line-bytes", &a->max_line_bytes_text},
      {"learn", &a->learn},
      {"learn-c", &a->learn_c},
      {"readout-in", &a->readout_in},
      {"readout-out", &a->readout_out},
  };
  size_t flag_count = sizeof flags / sizeof flags[0];
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      fputs(USAGE, stdout);
      exit(0);
    }
    if (strncmp(arg, "--", 2) != 0) return complain(EXIT_BAD_INPUT, "unexpected argument \"%s\" (flags start with --)\n%s", arg, USAGE);
    const char *equals = strchr(arg, '=');
    size_t length = equals ? (size_t)(equals - arg - 2) : strlen(arg + 2);
    size_t f = 0;
    while (f < flag_count && !(strlen(flags[f].name) == length && strncmp(flags[f].name, arg + 2, length) == 0)) f++;
    if (f == flag_count) return complain(EXIT_BAD_INPUT, "unknown flag %.*s\n%s", (int)length + 2, arg, USAGE);
    if (*flags[f].value) return complain(EXIT_BAD_INPUT, "--%s is given twice", flags[f].name);
    const char *value = equals ? equals + 1 : (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0 ? argv[++i] : NULL);
    if (!value || !*value) return complain(EXIT_BAD_INPUT, "--%s needs a value\n%s", flags[f].name, USAGE);
    *flags[f].value = value;
  }
  if (a->learn_c && !a->learn) return complain(EXIT_BAD_INPUT, "--learn-c needs --learn ETA");
  a->c = 0.9;
  a->max_line_bytes = CSV_DEFAULT_MAX_LINE_BYTES;
  double limit;
  if (a->max_line_bytes_text) {
    if (!(number_is(a->max_line_bytes_text, &limit) && limit == floor(limit) && limit >= 1 && limit <= CSV_MAX_LINE_BYTES_LIMIT)) {
      return complain(EXIT_BAD_INPUT, "--max-line-bytes must be an integer in [1, %u] (got \"%s\")", CSV_MAX_LINE_BYTES_LIMIT, a->max_line_bytes_text);
    }
    a->max_line_bytes = (size_t)limit;
  }
  /* the ranges the module's learn takes (docs/on-device-learning.md, section 1), checked here as the WASI command
   * checks them: the module would refuse only the first step, after outputs, and a file without labels not at all */
  if (a->learn && !(number_is(a->learn, &a->eta) && a->eta >= 0x1p-24 && a->eta <= 1024)) {
    return complain(EXIT_BAD_INPUT, "--learn (the step eta) must be a number in [2^-24, 1024] (got \"%s\")", a->learn);
  }
  if (a->learn_c && !(number_is(a->learn_c, &a->c) && a->c >= 0x1p-16 && a->c <= 1)) {
    return complain(EXIT_BAD_INPUT, "--learn-c (the cap's c) must be a number in [2^-16, 1] (got \"%s\")", a->learn_c);
  }
#ifndef PHASOR_EMBEDDED
  if (!a->model) return complain(EXIT_BAD_INPUT, "missing --model M.plsm\n%s", USAGE);
#endif
  if (!a->events) return complain(EXIT_BAD_INPUT, "missing --events E.csv (- reads stdin)\n%s", USAGE);
  return 0;
}

/* What a file read whole may be, for the refusal: "the model file", its most bytes and why. */
typedef struct {
  const char *what;
  size_t max_bytes;
  const char *why;
} file_kind;

#ifndef PHASOR_EMBEDDED
/* The largest .plsm image a wasm engine holds (MAX_IMAGE_BYTES of host/model/plsm.ts): no model is larger. */
static const file_kind MODEL_FILE = {"the model file", (size_t)1 << 31, "the largest .plsm image a wasm engine holds"};
/* V8 compiles no larger module (kV8MaxWasmModuleSize); the MCU builds are tens of KiB. */
static const file_kind MODULE_FILE = {"the module", (size_t)1 << 30, "the largest module V8 compiles"};
#endif

/* A whole file in memory; NULL with a message printed. Anything but a regular file is refused before a byte is
 * read (a FIFO would wait for a writer, /dev/zero never end), and so is a file over the kind's bound: opened with
 * O_NONBLOCK, so that opening a FIFO returns at once, and checked on the open descriptor, as host/files.ts does. */
static uint8_t *read_file(const char *path, const file_kind *kind, size_t *length) {
  int fd = open(path, O_RDONLY | O_NONBLOCK);
  if (fd < 0) {
    complain(0, "%s: cannot read %s: %s", path, kind->what, strerror(errno));
    return NULL;
  }
  struct stat status;
  uint8_t *bytes = NULL;
  if (fstat(fd, &status) != 0) {
    complain(0, "%s: cannot read %s: %s", path, kind->what, strerror(errno));
  } else if (S_ISDIR(status.st_mode)) {
    complain(0, "%s: cannot read %s: it is a directory", path, kind->what);
  } else if (!S_ISREG(status.st_mode)) {
    const char *type = S_ISFIFO(status.st_mode) ? "a FIFO (named pipe)" : S_ISCHR(status.st_mode) ? "a character device"
                       : S_ISBLK(status.st_mode) ? "a block device" : "a socket";
    complain(0, "%s: cannot read %s: it is %s, not a regular file: %s is read whole, and a pipe or a device may never end",
             path, kind->what, type, kind->what);
  } else if ((uintmax_t)status.st_size > kind->max_bytes) {
    complain(0, "%s: cannot read %s: it holds %jd bytes, over the bound of %zu (%s)", path, kind->what,
             (intmax_t)status.st_size, kind->max_bytes, kind->why);
  } else {
    /* one byte more than the file states: a file that grew since is refused rather than read in part */
    size_t room = (size_t)status.st_size + 1, n = 0;
    ssize_t got = 1;
    bytes = malloc(room);
    while (bytes && n < room && (got = read(fd, bytes + n, room - n)) > 0) n += (size_t)got;
    if (!bytes || got < 0) {
      complain(0, "%s: cannot read %s: %s", path, kind->what, bytes ? strerror(errno) : "out of memory");
      free(bytes);
      bytes = NULL;
    } else if (n == room) {
      complain(0, "%s: cannot read %s: it grew while it was read", path, kind->what);
      free(bytes);
      bytes = NULL;
    }
    *length = n;
  }
  close(fd);
  return bytes;
}

static int exit_status(phasor_status status) {
  return status == PHASOR_ENGINE ? EXIT_RUNTIME : EXIT_BAD_INPUT;
}

/* a number as phasor run prints it: String(value), null when not finite (JSON has no infinities) */
static void print_number(double value) {
  char text[JS_NUMBER_CHARS];
  if (isfinite(value)) {
    js_number(value, text);
    fputs(text, stdout);
  } else {
    fputs("null", stdout);
  }
}

/* A learning step towards a label read from the events (at `line` of `name`): a class for a model of 2 or more
 * outputs, the target value for one output. 0 or the exit status. */
static int learn_label(phasor_mcu *mcu, const arguments *a, double label, const char *name, unsigned long line) {
  phasor_status learned;
  if (mcu->output_size >= 2) {
    if (!(label >= 0 && label < mcu->output_size && label == floor(label))) {
      char text[JS_NUMBER_CHARS];
      js_number(label, text);
      return complain(EXIT_BAD_INPUT, "%s:%lu: label %s is not a class of this model (0 to %u)", name, line, text, mcu->output_size - 1);
    }
    learned = phasor_mcu_learn_class(mcu, (int32_t)label, a->eta, a->c, NULL);
  } else {
    learned = phasor_mcu_learn_values(mcu, &label, a->eta, a->c, NULL);
  }
  return learned == PHASOR_OK ? 0 : complain(exit_status(learned), "%s:%lu: %s", name, line, mcu->error);
}

/* Runs every event of the file, learning from its labels when a->learn; 0 or the exit status. */
static int run_events(phasor_mcu *mcu, const arguments *a, const char *path) {
  FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  const char *name = in == stdin ? "stdin" : path;
  if (!in) return complain(EXIT_BAD_INPUT, "%s: cannot open: %s", path, strerror(errno));
  csv_reader *reader = csv_open(in, name, mcu->input_size, a->max_line_bytes);
  double *y = malloc((mcu->output_size ? mcu->output_size : 1) * sizeof *y);
  int status = 0;
  if (!reader || !y) status = complain(EXIT_RUNTIME, "out of memory");
  unsigned long long i = 0;
  csv_event event;
  int got;
  /* a "last" readout learns from its sequence's last label when the sequence ends */
  int every = mcu->readout_every;
  int labelled = 0;
  double label = 0;
  /* the time of the sequence's first event, for the engine's refusal of one too far from it */
  double origin = 0;
  unsigned long label_line = 0;
  while (status == 0 && (got = csv_next(reader, &event)) > 0) {
    if (event.starts_sequence) {
      origin = event.t;
      if (a->learn && labelled) status = learn_label(mcu, a, label, name, label_line);
      labelled = 0;
      if (status) break;
      i = 0;
      phasor_status reset = phasor_mcu_reset(mcu);
      if (reset != PHASOR_OK) status = complain(exit_status(reset), "%s:%lu: %s", name, event.line, mcu->error);
    }
    phasor_status pushed = status ? PHASOR_OK : phasor_mcu_push(mcu, event.t, event.x);
    if (pushed == PHASOR_REFUSED) {
      /* the reader has checked t and x and the order of times: what is left is the length of the sequence, said in
       * phasor run's words (host/engine/stream-checks.ts, timeRangeError) */
      char t[JS_NUMBER_CHARS], first[JS_NUMBER_CHARS];
      js_number(event.t, t);
      js_number(origin, first);
      status = complain(EXIT_BAD_INPUT, "%s:%lu: event at t=%s: more than 2^62 ticks after the stream's first event (t=%s), "
                        "beyond what the engine's clock counts; start a new stream", name, event.line, t, first);
    } else if (pushed != PHASOR_OK) {
      status = complain(exit_status(pushed), "%s:%lu: %s", name, event.line, mcu->error);
    } else if (status == 0) {
      count_saturated(event.x, mcu->input_size, mcu->input_frac, name, event.line);
    }
    phasor_status read = status ? PHASOR_OK : phasor_mcu_output(mcu, y);
    if (read != PHASOR_OK) status = complain(exit_status(read), "%s:%lu: %s", name, event.line, mcu->error);
    if (status) break;
    fputs("{\"seq\":", stdout);
    json_seq(stdout, &event.seq);
    printf(",\"i\":%llu,\"t\":", i++);
    print_number(event.t);
    fputs(",\"y\":[", stdout);
    for (uint32_t k = 0; k < mcu->output_size; k++) {
      if (k) fputc(',', stdout);
      print_number(y[k]);
    }
    fputs("]}\n", stdout);
    if (event.has_label && a->learn) {
      if (every) {
        status = learn_label(mcu, a, event.label, name, event.line);
      } else {
        labelled = 1;
        label = event.label;
        label_line = event.line;
      }
    }
  }
  if (status == 0 && got < 0) status = complain(EXIT_BAD_INPUT, "%s", csv_error(reader));
  if (status == 0 && got == 0 && labelled) status = learn_label(mcu, a, label, name, label_line);
  warn_saturated();
  csv_close(reader);
  free(y);
  if (in != stdin) fclose(in);
  return status;
}

/* --readout-in: the bytes of a saved readout of this model. 0 or the exit status. */
static int load_readout(phasor_mcu *mcu, const char *path) {
  /* a readout is saved out of the module's arena (save_readout): none is larger */
  const file_kind readout = {"the readout file", mcu->arena_bytes_total, "the module's arena, which a readout is saved from"};
  size_t length;
  uint8_t *bytes = read_file(path, &readout, &length);
  if (!bytes) return EXIT_BAD_INPUT;
  phasor_status loaded = phasor_mcu_readout_load(mcu, bytes, length);
  free(bytes);
  return loaded == PHASOR_OK ? 0 : complain(exit_status(loaded), "%s: %s", path, mcu->error);
}

/* 0 when PATH may take a readout: a regular file, or no file yet. Anything else (a device, a pipe, a folder) would be
 * replaced by the rename of save_readout, not written to: as root, --readout-out /dev/null replaced the device. */
static int check_readout_out(const char *path) {
  struct stat kind;
  if (stat(path, &kind) != 0) return 0;
  if (S_ISREG(kind.st_mode)) return 0;
  return complain(EXIT_BAD_INPUT, "%s: cannot write the readout there: %s", path, S_ISDIR(kind.st_mode) ? "it is a directory" : "not a regular file");
}

/* --readout-out: the readout in use, written whole to a new file beside PATH, flushed to the disk and then renamed
 * to PATH, so that a write that fails (a full disk, a file-size limit) or a machine that stops leaves PATH as it
 * was. The new file's name carries the process id and is created only if no file has it, so that no file of the
 * user's, nor another run's, is emptied or moved. 0 or the exit status. */
static int save_readout(phasor_mcu *mcu, const char *path) {
  int status = check_readout_out(path);
  if (status) return status;
  uint8_t *bytes = malloc(mcu->arena_bytes_total);
  /* PATH.PID.partial: a pid has at most 20 digits */
  size_t partial_size = strlen(path) + sizeof ".18446744073709551615.partial";
  char *partial = malloc(partial_size);
  size_t length;
  phasor_status saved = bytes && partial ? phasor_mcu_readout_save(mcu, bytes, mcu->arena_bytes_total, &length) : PHASOR_ENGINE;
  if (!bytes || !partial) {
    status = complain(EXIT_RUNTIME, "out of memory");
  } else if (saved != PHASOR_OK) {
    status = complain(exit_status(saved), "%s: %s", path, mcu->error);
  } else {
    snprintf(partial, partial_size, "%s.%ld.partial", path, (long)getpid());
    int out = open(partial, O_WRONLY | O_CREAT | O_EXCL, 0666);
    int written = out >= 0;
    for (size_t done = 0; written && done < length;) {
      ssize_t n = write(out, bytes + done, length - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) written = 0;
      else done += (size_t)n;
    }
    if (written && fsync(out) != 0) written = 0;
    int error = errno;
    if (out >= 0 && close(out) != 0 && written) {
      written = 0;
      error = errno;
    }
    if (written && rename(partial, path) != 0) {
      written = 0;
      error = errno;
    }
    if (!written) {
      if (out >= 0) remove(partial);
      status = complain(EXIT_RUNTIME, "%s: cannot write: %s", path, strerror(error));
    }
  }
  free(partial);
  free(bytes);
  return status;
}

int main(int argc, char **argv) {
  /* a reader that goes away (| head) ends the output quietly, as with the phasor command */
  signal(SIGPIPE, SIG_IGN);
  /* a file-size limit makes a write fail, which save_readout reports, instead of ending the process half way */
  signal(SIGXFSZ, SIG_IGN);
  static char out_buffer[1 << 16];
  setvbuf(stdout, out_buffer, _IOFBF, sizeof out_buffer);

  arguments a = {0};
  /* stdout's failure was said already */
  int stdout_failed = 0;
  int status = parse_arguments(argc, argv, &a);
  if (status) return status;

#ifdef PHASOR_EMBEDDED
  const char *module_name = "the embedded module";
  const char *model_name = "the embedded model";
  const uint8_t *module = phasor_model_wasm, *model = phasor_model_plsm;
  size_t module_length = phasor_model_wasm_length, model_length = phasor_model_plsm_length;
#else
  size_t module_length, model_length;
  uint8_t *model = read_file(a.model, &MODEL_FILE, &model_length);
  if (!model) return EXIT_BAD_INPUT;
  /* the default module: the learning build, or the inference build of the model's weight width */
  int learns = a.learn || a.readout_in || a.readout_out, int8 = phasor_plsm_int8(model, model_length);
  if (learns && int8) {
    free(model);
    return complain(EXIT_BAD_INPUT, "%s: its gate weights are int8, and the learning build (build/phasor-mcu-learn.wasm) "
                    "runs int16 weights only: quantize the model without --weights int8 to learn on the device", a.model);
  }
  if (!a.module) a.module = learns ? "build/phasor-mcu-learn.wasm" : int8 ? "build/phasor-mcu-int8.wasm" : "build/phasor-mcu.wasm";
  const char *module_name = a.module, *model_name = a.model;
  uint8_t *module = read_file(a.module, &MODULE_FILE, &module_length);
  if (!module) {
    free(model);
    return EXIT_BAD_INPUT;
  }
#endif

  phasor_mcu mcu;
  phasor_status opened = phasor_mcu_open(&mcu, module, module_length);
  if (opened != PHASOR_OK) {
    status = complain(exit_status(opened), "%s: %s", module_name, mcu.error);
  } else {
    phasor_status loaded = phasor_mcu_load(&mcu, model, model_length);
    if (loaded != PHASOR_OK) status = complain(exit_status(loaded), "%s: %s", model_name, mcu.error);
    else if ((a.learn || a.readout_in || a.readout_out) && !phasor_mcu_learns(&mcu)) {
      status = complain(EXIT_BAD_INPUT, "%s: the module does not learn: --learn and the readout flags need the learning build "
                        "(build/phasor-mcu-learn.wasm)", module_name);
    } else {
      /* a file --readout-out cannot take is said before the events run, not after */
      status = a.readout_out ? check_readout_out(a.readout_out) : 0;
      if (status == 0 && a.readout_in) status = load_readout(&mcu, a.readout_in);
      if (status == 0) status = run_events(&mcu, &a, a.events);
      /* the outputs before the readout: a run whose outputs were lost has failed and writes no readout, so that it
       * can be run again from the same readout (--readout-in F --readout-out F) without learning twice from the
       * same events. A reader that went away (| head) is no failure, as below. */
      if (status == 0 && a.readout_out && (fflush(stdout) != 0 || ferror(stdout)) && errno != EPIPE) {
        status = complain(EXIT_RUNTIME, "cannot write to stdout: %s (the readout is not written)", strerror(errno));
        stdout_failed = 1;
      }
      if (status == 0 && a.readout_out) status = save_readout(&mcu, a.readout_out);
    }
    phasor_mcu_close(&mcu);
  }
#ifndef PHASOR_EMBEDDED
  free(module);
  free(model);
#endif

  if (!stdout_failed && (fflush(stdout) != 0 || ferror(stdout))) {
    if (errno == EPIPE) return status;
    return complain(EXIT_RUNTIME, "cannot write to stdout: %s", strerror(errno));
  }
  return status;
}
