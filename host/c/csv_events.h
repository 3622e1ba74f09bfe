/*
 * CSV event files read the way `phasor run` reads them (shared/spec/formats.md, "Events"; host/engine/events.ts): a
 * header `t,x0,x1,...` with optional `seq` and `label` columns in any order after t (other columns ignored),
 * RFC 4180 quotes, blank lines skipped, a trailing CR and a leading byte-order mark dropped, fields trimmed of
 * JavaScript white space, numbers in decimal notation read to the nearest double. The same checks, in the same
 * order and with the same words: a bad line, a seq that comes back after another began, time going backwards
 * within a seq, are errors that name the file and line. The text must be UTF-8 (node would replace bad bytes;
 * this reader refuses them). A line longer than the limit is refused with `phasor run`'s words as soon as that
 * many bytes have come without a newline, so the reader never holds more than the limit and a byte of a line.
 */
#ifndef PHASOR_CSV_EVENTS_H
#define PHASOR_CSV_EVENTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The longest line taken by default and the most a limit may be, in bytes, the line end (\n or \r\n) not counted:
 * DEFAULT_MAX_LINE_BYTES and MAX_LINE_BYTES_LIMIT of host/engine/events.ts (test/c-host-matches-fixed-engine.test.ts
 * holds them equal). */
#define CSV_DEFAULT_MAX_LINE_BYTES (1u << 20)
#define CSV_MAX_LINE_BYTES_LIMIT (1u << 28)

typedef enum { SEQ_NONE, SEQ_INTEGER, SEQ_STRING } seq_kind;

/** A stream id: none, an integer within +-(2^53 - 1), or a string (UTF-8, not NUL-terminated). */
typedef struct {
  seq_kind kind;
  int64_t integer;
  const char *text;
  size_t length;
} csv_seq;

typedef struct {
  double t;
  /** input_size values, as the engines take them */
  const float *x;
  csv_seq seq;
  /** 1-based line in the file, blank lines and the header counted */
  unsigned long line;
  /** the first event of its seq: the state starts at zero */
  int starts_sequence;
  /** whether the event's label column holds a number, and the number (the sequence's class or target) */
  int has_label;
  double label;
} csv_event;

typedef struct csv_reader csv_reader;

/** A reader of `in`, named `name` in messages, taking lines of at most max_line_bytes (1 to CSV_MAX_LINE_BYTES_LIMIT);
 * NULL when out of memory or the limit is outside that range. */
csv_reader *csv_open(FILE *in, const char *name, uint32_t input_size, size_t max_line_bytes);

/** The next event: 1, 0 at the end of the file, -1 for a bad line or a read error (csv_error says which). The
 * event's x and seq stay valid until the next call. */
int csv_next(csv_reader *reader, csv_event *event);

/** `file:line: reason` of the last failure. */
const char *csv_error(const csv_reader *reader);

void csv_close(csv_reader *reader);

/** Writes a seq as JSON.stringify writes it: null, the integer, or the string with JSON's escapes. */
void json_seq(FILE *out, const csv_seq *seq);

#endif
