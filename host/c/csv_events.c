/*
 * The CSV event reader (csv_events.h), a line at a time in memory bounded by the line limit, apart from the ids of
 * the seqs already finished, which are kept to refuse one that comes back (as `phasor run` keeps them). Each check
 * mirrors host/engine/events.ts: the comments name the function there.
 */
#define _POSIX_C_SOURCE 200809L
#include "csv_events.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "js_number.h"

/* One field of a line: a slice of the line's text. */
typedef struct {
  const char *at;
  size_t length;
} slice;

/* A finished seq and the line of its last event. */
typedef struct {
  int used;
  seq_kind kind;
  int64_t integer;
  char *text;
  size_t length;
  unsigned long last_line;
} finished_seq;

struct csv_reader {
  FILE *in;
  const char *name;
  uint32_t input_size;
  unsigned long line_number;
  /* the line being read: at most max_line_bytes + 1 bytes, the last of which may be the CR of a CRLF */
  size_t max_line_bytes;
  char *line;
  size_t line_room;
  int header_seen;
  /* the header's layout: field count, and the field of x0..x{I-1}, seq and label (-1: absent) */
  size_t field_count;
  long *x_field;
  long seq_field, label_field;
  slice *fields;
  size_t field_room;
  char *unquoted;
  size_t unquoted_room;
  /* a number's text with a NUL, for strtod */
  char *number;
  size_t number_room;
  float *x;
  /* the seq and time of the last accepted event */
  int started;
  csv_seq seq;
  char *seq_text;
  size_t seq_room;
  double last_t;
  unsigned long last_line;
  finished_seq *finished;
  size_t finished_room, finished_count;
  char error[640];
};

/* ---- messages ---- */

static int failure(csv_reader *r, const char *format, ...) {
  int n = snprintf(r->error, sizeof r->error, "%s:%lu: ", r->name, r->line_number);
  va_list args;
  va_start(args, format);
  if (n >= 0 && (size_t)n < sizeof r->error) vsnprintf(r->error + n, sizeof r->error - (size_t)n, format, args);
  va_end(args);
  return -1;
}

/* One byte of a string as JSON.stringify writes it into piece (at most 7 bytes): quote, backslash and control
 * characters escaped, everything else (UTF-8 included) as it is. Returns the bytes written. */
static size_t json_char(unsigned char c, char *piece) {
  switch (c) {
    case '"': return (size_t)sprintf(piece, "\\\"");
    case '\\': return (size_t)sprintf(piece, "\\\\");
    case '\b': return (size_t)sprintf(piece, "\\b");
    case '\f': return (size_t)sprintf(piece, "\\f");
    case '\n': return (size_t)sprintf(piece, "\\n");
    case '\r': return (size_t)sprintf(piece, "\\r");
    case '\t': return (size_t)sprintf(piece, "\\t");
  }
  if (c < 0x20) return (size_t)sprintf(piece, "\\u%04x", c);
  piece[0] = (char)c;
  return 1;
}

/* Appends text JSON-escaped; returns the bytes it needs, writes what fits in room. */
static size_t json_escape(char *out, size_t room, const char *text, size_t length) {
  size_t n = 0;
  for (size_t k = 0; k < length; k++) {
    char piece[8];
    size_t m = json_char((unsigned char)text[k], piece);
    if (n + m < room) memcpy(out + n, piece, m);
    n += m;
  }
  return n;
}

/* JSON.stringify of a string, NUL-terminated in out. */
static void json_string(char *out, size_t room, const char *text, size_t length) {
  out[0] = '"';
  size_t n = 1 + json_escape(out + 1, room > 1 ? room - 1 : 0, text, length);
  if (n + 1 < room) {
    out[n++] = '"';
    out[n] = '\0';
  } else {
    out[room - 1] = '\0';
  }
}

/* Bytes of the UTF-8 sequence that starts with c (the text was checked to be UTF-8). */
static size_t utf8_length(unsigned char c) {
  return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

/* show() of host/engine/events.ts: a value's JSON, cut to 37 UTF-16 units and "..." when longer than 40. */
static const char *show(char *out, size_t room, const char *text, size_t length) {
  json_string(out, room, text, length);
  size_t units = 0, cut = 0;
  for (size_t k = 0; out[k]; k += utf8_length((unsigned char)out[k])) {
    size_t width = utf8_length((unsigned char)out[k]) == 4 ? 2 : 1;
    if (units + width <= 37) cut = k + utf8_length((unsigned char)out[k]);
    units += width;
  }
  if (units > 40 && cut + 4 <= room) strcpy(out + cut, "...");
  return out;
}

static const char *describe_seq(char *out, size_t room, const csv_seq *seq) {
  if (seq->kind == SEQ_NONE) {
    snprintf(out, room, "the events without seq");
  } else if (seq->kind == SEQ_INTEGER) {
    snprintf(out, room, "seq %lld", (long long)seq->integer);
  } else {
    memcpy(out, "seq ", 4);
    json_string(out + 4, room - 4, seq->text, seq->length);
  }
  return out;
}

void json_seq(FILE *out, const csv_seq *seq) {
  if (seq->kind == SEQ_NONE) {
    fputs("null", out);
  } else if (seq->kind == SEQ_INTEGER) {
    fprintf(out, "%lld", (long long)seq->integer);
  } else {
    fputc('"', out);
    for (size_t k = 0; k < seq->length; k++) {
      char piece[8];
      fwrite(piece, 1, json_char((unsigned char)seq->text[k], piece), out);
    }
    fputc('"', out);
  }
}

/* ---- text ---- */

/* 1 when text is well-formed UTF-8 (no overlong forms, no surrogates, nothing past U+10FFFF). */
static int is_utf8(const unsigned char *s, size_t n) {
  size_t k = 0;
  while (k < n) {
    unsigned char c = s[k];
    if (c < 0x80) {
      k++;
      continue;
    }
    size_t m = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (m == 0 || k + m > n) return 0;
    for (size_t j = 1; j < m; j++) {
      if ((s[k + j] & 0xC0) != 0x80) return 0;
    }
    if (c == 0xE0 && s[k + 1] < 0xA0) return 0; /* overlong */
    if (c == 0xED && s[k + 1] >= 0xA0) return 0; /* a surrogate */
    if (c == 0xF0 && s[k + 1] < 0x90) return 0; /* overlong */
    if (c == 0xF4 && s[k + 1] >= 0x90) return 0; /* past U+10FFFF */
    k += m;
  }
  return 1;
}

static uint32_t code_point(const unsigned char *s, size_t length) {
  if (length == 1) return s[0];
  if (length == 2) return (uint32_t)(s[0] & 0x1F) << 6 | (s[1] & 0x3F);
  if (length == 3) return (uint32_t)(s[0] & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
  return (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 | (uint32_t)(s[2] & 0x3F) << 6 | (s[3] & 0x3F);
}

/* JavaScript's WhiteSpace and LineTerminator, what String.prototype.trim removes (ECMA-262). */
static int js_white(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
         c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000 || c == 0xFEFF;
}

static slice trim(slice s) {
  const unsigned char *p = (const unsigned char *)s.at;
  size_t start = 0, end = s.length;
  while (start < end) {
    size_t m = utf8_length(p[start]);
    if (!js_white(code_point(p + start, m))) break;
    start += m;
  }
  while (end > start) {
    size_t k = end - 1;
    while (k > start && (p[k] & 0xC0) == 0x80) k--;
    if (!js_white(code_point(p + k, end - k))) break;
    end = k;
  }
  return (slice){s.at + start, end - start};
}

static int starts_with(slice s, const char *prefix) {
  size_t n = strlen(prefix);
  return s.length >= n && memcmp(s.at, prefix, n) == 0;
}

static int slice_is(slice s, const char *text) {
  return s.length == strlen(text) && memcmp(s.at, text, s.length) == 0;
}

/* ---- CSV fields (splitCsv, unquote, csvNumber, csvSeq) ---- */

static int add_field(csv_reader *r, size_t *count, slice field) {
  if (*count == r->field_room) {
    size_t room = r->field_room ? 2 * r->field_room : 16;
    slice *more = realloc(r->fields, room * sizeof *more);
    if (!more) return 0;
    r->fields = more;
    r->field_room = room;
  }
  r->fields[(*count)++] = field;
  return 1;
}

/* splitCsv: the fields of a line into r->fields, quoted ones with their quotes. 1, 0 for an unterminated quote
 * or text after a closing quote, -1 when out of memory. */
static int split(csv_reader *r, slice line, size_t *count) {
  const char *s = line.at;
  size_t n = line.length;
  *count = 0;
  if (!memchr(s, '"', n)) {
    size_t start = 0;
    for (size_t k = 0; k <= n; k++) {
      if (k == n || s[k] == ',') {
        if (!add_field(r, count, trim((slice){s + start, k - start}))) return -1;
        start = k + 1;
      }
    }
    return 1;
  }
  size_t i = 0;
  for (;;) {
    while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
    if (i < n && s[i] == '"') {
      size_t j = i + 1;
      for (;;) {
        const char *quote = memchr(s + j, '"', n - j);
        if (!quote) return 0;
        j = (size_t)(quote - s) + 1;
        if (j >= n || s[j] != '"') break;
        j++;
      }
      if (!add_field(r, count, (slice){s + i, j - i})) return -1;
      while (j < n && (s[j] == ' ' || s[j] == '\t')) j++;
      if (j == n) return 1;
      if (s[j] != ',') return 0;
      i = j + 1;
    } else {
      const char *comma = i < n ? memchr(s + i, ',', n - i) : NULL;
      if (!comma) return add_field(r, count, trim((slice){s + i, n - i})) ? 1 : -1;
      if (!add_field(r, count, trim((slice){s + i, (size_t)(comma - s) - i}))) return -1;
      i = (size_t)(comma - s) + 1;
    }
  }
}

/* unquote: a quoted field without its quotes and with "" as ", in a buffer of the reader's (valid until the next
 * call); any other field as it is. NULL when out of memory. */
static const char *unquote(csv_reader *r, slice field, size_t *length) {
  if (field.length == 0 || field.at[0] != '"') {
    *length = field.length;
    return field.at;
  }
  if (field.length + 1 > r->unquoted_room) {
    char *more = realloc(r->unquoted, field.length + 1);
    if (!more) return NULL;
    r->unquoted = more;
    r->unquoted_room = field.length + 1;
  }
  size_t n = 0;
  size_t end = field.length >= 2 ? field.length - 1 : 1;
  for (size_t k = 1; k < end; k++) {
    r->unquoted[n++] = field.at[k];
    if (field.at[k] == '"' && k + 1 < end && field.at[k + 1] == '"') k++;
  }
  r->unquoted[n] = '\0';
  *length = n;
  return r->unquoted;
}

static int is_digit(char c) {
  return c >= '0' && c <= '9';
}

/* DECIMAL of host/engine/events.ts: [+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)? */
static int is_decimal(const char *s, size_t n) {
  size_t k = 0;
  if (k < n && (s[k] == '+' || s[k] == '-')) k++;
  size_t before = 0, after = 0;
  while (k < n && is_digit(s[k])) k++, before++;
  if (k < n && s[k] == '.') {
    k++;
    while (k < n && is_digit(s[k])) k++, after++;
  }
  if (before == 0 && after == 0) return 0;
  if (k < n && (s[k] == 'e' || s[k] == 'E')) {
    k++;
    if (k < n && (s[k] == '+' || s[k] == '-')) k++;
    size_t exponent = 0;
    while (k < n && is_digit(s[k])) k++, exponent++;
    if (exponent == 0) return 0;
  }
  return k == n;
}

/* NON_FINITE of host/engine/events.ts: [+-]?(inf|infinity|nan), any case */
static int names_non_finite(const char *s, size_t n) {
  if (n > 0 && (s[0] == '+' || s[0] == '-')) s++, n--;
  const char *words[] = {"inf", "infinity", "nan"};
  for (size_t w = 0; w < 3; w++) {
    size_t m = strlen(words[w]);
    size_t k = 0;
    while (k < m && k < n && (s[k] | 0x20) == words[w][k]) k++;
    if (k == m && n == m) return 1;
  }
  return 0;
}

/* csvNumber: 1 and the value, or 0 with the reason (to follow the column's name) in `why`; -1 out of memory. */
static int csv_number(csv_reader *r, slice field, double *value, char *why, size_t room) {
  size_t n;
  const char *text = unquote(r, field, &n);
  if (!text) return -1;
  char shown[128];
  if (is_decimal(text, n)) {
    if (n + 1 > r->number_room) {
      char *more = realloc(r->number, n + 1);
      if (!more) return -1;
      r->number = more;
      r->number_room = n + 1;
    }
    memcpy(r->number, text, n);
    r->number[n] = '\0';
    *value = strtod(r->number, NULL); /* correctly rounded, as Number(); underflow gives the nearest, 0 included */
    if (isfinite(*value)) return 1;
    snprintf(why, room, "is not finite: %s", show(shown, sizeof shown, text, n));
    return 0;
  }
  if (names_non_finite(text, n)) {
    snprintf(why, room, "is not finite: %s", show(shown, sizeof shown, text, n));
  } else {
    snprintf(why, room, "is not a number: %s", show(shown, sizeof shown, text, n));
  }
  return 0;
}

/* The largest magnitude Number.isSafeInteger accepts, 2^53 - 1. */
#define MAX_SAFE_INTEGER 9007199254740991LL

/* csvSeq: an unquoted integer within the safe range is an integer id, anything else a string, empty is none. */
static int csv_seq_of(csv_reader *r, slice field, csv_seq *seq) {
  seq->kind = SEQ_NONE;
  if (field.length == 0) return 1;
  const char *s = field.at;
  size_t n = field.length;
  size_t k = s[0] == '-' ? 1 : 0;
  int integer = k < n;
  for (size_t j = k; j < n; j++) integer = integer && is_digit(s[j]);
  if (integer) {
    while (k + 1 < n && s[k] == '0') k++;
    if (n - k <= 16) { /* 2^53 - 1 has 16 digits: fewer cannot exceed it, and strtoll reads them exactly */
      char digits[20];
      memcpy(digits, s + k, n - k);
      digits[n - k] = '\0';
      long long value = strtoll(digits, NULL, 10);
      if (value <= MAX_SAFE_INTEGER) {
        seq->kind = SEQ_INTEGER;
        seq->integer = s[0] == '-' ? -value : value;
        return 1;
      }
    }
  }
  size_t length;
  const char *text = unquote(r, field, &length);
  if (!text) return -1;
  seq->kind = SEQ_STRING;
  seq->text = text;
  seq->length = length;
  return 1;
}

static int same_seq(const csv_seq *a, const csv_seq *b) {
  if (a->kind != b->kind) return 0;
  if (a->kind == SEQ_INTEGER) return a->integer == b->integer;
  if (a->kind == SEQ_STRING) return a->length == b->length && memcmp(a->text, b->text, a->length) == 0;
  return 1;
}

/* ---- finished seqs: an open-addressing hash set ---- */

static uint64_t seq_hash(const csv_seq *seq) {
  uint64_t h = 1469598103934665603ULL ^ (uint64_t)seq->kind;
  if (seq->kind == SEQ_INTEGER) {
    h = (h ^ (uint64_t)seq->integer) * 1099511628211ULL;
  } else if (seq->kind == SEQ_STRING) {
    for (size_t k = 0; k < seq->length; k++) h = (h ^ (unsigned char)seq->text[k]) * 1099511628211ULL;
  }
  return h ^ (h >> 29);
}

static finished_seq *find_finished(csv_reader *r, const csv_seq *seq) {
  if (r->finished_room == 0) return NULL;
  size_t mask = r->finished_room - 1;
  for (size_t k = seq_hash(seq) & mask;; k = (k + 1) & mask) {
    finished_seq *f = &r->finished[k];
    if (!f->used) return f;
    csv_seq kept = {f->kind, f->integer, f->text, f->length};
    if (same_seq(&kept, seq)) return f;
  }
}

static int add_finished(csv_reader *r, const csv_seq *seq, unsigned long last_line) {
  if (2 * (r->finished_count + 1) > r->finished_room) {
    size_t room = r->finished_room ? 2 * r->finished_room : 64;
    finished_seq *old = r->finished;
    size_t old_room = r->finished_room;
    r->finished = calloc(room, sizeof *r->finished);
    if (!r->finished) {
      r->finished = old;
      return 0;
    }
    r->finished_room = room;
    for (size_t k = 0; k < old_room; k++) {
      if (!old[k].used) continue;
      csv_seq kept = {old[k].kind, old[k].integer, old[k].text, old[k].length};
      *find_finished(r, &kept) = old[k];
    }
    free(old);
  }
  finished_seq *f = find_finished(r, seq);
  char *text = NULL;
  if (seq->kind == SEQ_STRING) {
    text = malloc(seq->length + 1);
    if (!text) return 0;
    memcpy(text, seq->text, seq->length);
  }
  *f = (finished_seq){1, seq->kind, seq->integer, text, seq->length, last_line};
  r->finished_count++;
  return 1;
}

/* ---- lines ---- */

csv_reader *csv_open(FILE *in, const char *name, uint32_t input_size, size_t max_line_bytes) {
  if (max_line_bytes < 1 || max_line_bytes > CSV_MAX_LINE_BYTES_LIMIT) return NULL;
  csv_reader *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->in = in;
  r->name = name;
  r->input_size = input_size;
  r->max_line_bytes = max_line_bytes;
  r->x_field = malloc(input_size * sizeof *r->x_field);
  r->x = malloc(input_size * sizeof *r->x);
  if (!r->x_field || !r->x) {
    csv_close(r);
    return NULL;
  }
  return r;
}

const char *csv_error(const csv_reader *r) {
  return r->error;
}

void csv_close(csv_reader *r) {
  if (!r) return;
  for (size_t k = 0; k < r->finished_room; k++) free(r->finished[k].text);
  free(r->finished);
  free(r->line);
  free(r->fields);
  free(r->unquoted);
  free(r->number);
  free(r->x_field);
  free(r->x);
  free(r->seq_text);
  free(r);
}

static int out_of_memory(csv_reader *r) {
  return failure(r, "out of memory");
}

/* The format's column names up to case, A-Z folded (host/misspelt.ts): 1 when the n bytes at a, folded, are the m
 * bytes at b. */
static unsigned char fold(char c) {
  unsigned char u = (unsigned char)c;
  return u >= 'A' && u <= 'Z' ? (unsigned char)(u + 32) : u;
}

static int same_folded(const char *a, size_t n, const char *b, size_t m) {
  if (n != m) return 0;
  for (size_t i = 0; i < n; i++) if (fold(a[i]) != (unsigned char)b[i]) return 0;
  return 1;
}

/* oneEditApart of host/misspelt.ts, a folded: a character inserted, removed or changed, or two neighbours swapped */
static int one_edit_apart(const char *a, size_t n, const char *b, size_t m) {
  if (n > m + 1 || m > n + 1) return 0;
  size_t i = 0;
  while (i < n && i < m && fold(a[i]) == (unsigned char)b[i]) i++;
  if (n > m) return same_folded(a + i + 1, n - i - 1, b + i, m - i);
  if (n < m) return same_folded(a + i, n - i, b + i + 1, m - i - 1);
  if (i == n || same_folded(a + i + 1, n - i - 1, b + i + 1, m - i - 1)) return 1;
  return i + 1 < n && fold(a[i]) == (unsigned char)b[i + 1] && fold(a[i + 1]) == (unsigned char)b[i] &&
         same_folded(a + i + 2, n - i - 2, b + i + 2, m - i - 2);
}

/* misspeltName of host/misspelt.ts for a column that is none of t, seq and label: the one it looks like misspelt
 * (the same up to case, or one edit from label), or NULL; a name with a byte outside printable ASCII looks like none */
static const char *misspelt_column(slice name) {
  static const char *const known[] = {"t", "seq", "label"};
  for (size_t k = 0; k < name.length; k++) {
    if ((unsigned char)name.at[k] < 0x20 || (unsigned char)name.at[k] > 0x7e) return NULL;
  }
  for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
    size_t m = strlen(known[k]);
    if (same_folded(name.at, name.length, known[k], m) || (m >= 4 && one_edit_apart(name.at, name.length, known[k], m))) return known[k];
  }
  return NULL;
}

/* the digits of a column x<k>: an index without leading zeros */
static int is_index(const char *digits, size_t n) {
  if (n == 0 || (digits[0] == '0' && n > 1)) return 0;
  for (size_t k = 0; k < n; k++) {
    if (!is_digit(digits[k])) return 0;
  }
  return 1;
}

/* why a column of the file's own may not look like one of the format's: the words of host/engine/events.ts */
#define OWN_COLUMN "(a column of your own must differ from the format's by more than case or one letter)"

/* csvHeader */
static int read_header(csv_reader *r, slice text) {
  size_t count;
  int split_ok = split(r, text, &count);
  if (split_ok < 0) return out_of_memory(r);
  if (split_ok == 0) return failure(r, "CSV header has an unterminated quote");
  uint32_t inputs = r->input_size;
  for (uint32_t k = 0; k < inputs; k++) r->x_field[k] = -1;
  r->seq_field = r->label_field = -1;
  for (size_t column = 1; column < count; column++) {
    size_t n;
    const char *name = unquote(r, r->fields[column], &n);
    if (!name) return out_of_memory(r);
    slice s = {name, n};
    int x_column = n >= 2 && name[0] == 'x' && is_index(name + 1, n - 1);
    if (slice_is(s, "t")) return failure(r, "CSV header has column \"t\" twice");
    if (x_column) {
      unsigned long long k = 0;
      for (size_t j = 1; j < n && k < inputs; j++) k = 10 * k + (unsigned long long)(name[j] - '0');
      if (k >= inputs) {
        return failure(r, "CSV column %.*s, but the model's inputSize is %u (x0..x%u)", (int)n, name, inputs, inputs - 1);
      }
      if (r->x_field[k] >= 0) return failure(r, "CSV header has column \"%.*s\" twice", (int)n, name);
      r->x_field[k] = (long)column;
    } else if (slice_is(s, "seq") || slice_is(s, "label")) {
      long *field = slice_is(s, "seq") ? &r->seq_field : &r->label_field;
      if (*field >= 0) return failure(r, "CSV header has column \"%.*s\" twice", (int)n, name);
      *field = (long)column;
    } else if (n >= 2 && name[0] == 'X' && is_index(name + 1, n - 1)) {
      /* x<k> up to case, whatever the inputSize */
      return failure(r, "CSV column \"%.*s\" looks like \"x%.*s\" misspelt " OWN_COLUMN, (int)n, name, (int)n - 1, name + 1);
    } else {
      const char *meant = misspelt_column(s);
      if (meant) return failure(r, "CSV column \"%.*s\" looks like \"%s\" misspelt " OWN_COLUMN, (int)n, name, meant);
    }
  }
  for (uint32_t k = 0; k < inputs; k++) {
    if (r->x_field[k] < 0) return failure(r, "CSV header has no column x%u (the model's inputSize is %u)", k, inputs);
  }
  r->field_count = count;
  r->header_seen = 1;
  return 0;
}

/* csvRow, then orderProblem: 1 and the event, or -1. */
static int read_row(csv_reader *r, slice text, csv_event *event) {
  size_t count;
  int split_ok = split(r, text, &count);
  if (split_ok < 0) return out_of_memory(r);
  if (split_ok == 0) return failure(r, "bad CSV row: unterminated quote or text after a closing quote");
  if (count != r->field_count) return failure(r, "bad CSV row: %zu fields, the header has %zu", count, r->field_count);
  char why[200];
  double t;
  int ok = csv_number(r, r->fields[0], &t, why, sizeof why);
  if (ok < 0) return out_of_memory(r);
  if (!ok) return failure(r, "t %s", why);
  for (uint32_t k = 0; k < r->input_size; k++) {
    double v;
    ok = csv_number(r, r->fields[r->x_field[k]], &v, why, sizeof why);
    if (ok < 0) return out_of_memory(r);
    if (!ok) return failure(r, "x%u %s", k, why);
    if (fabs(v) > (double)FLT_MAX) {
      return failure(r, "x%u is beyond the 32-bit float range (+-3.4e38) the engines take", k);
    }
    r->x[k] = (float)v;
  }
  /* the label before the seq, unlike host/engine/events.ts, so that the seq's unquoted text is not overwritten: the
   * seq cannot fail, so the same lines fail with the same messages */
  int has_label = r->label_field >= 0 && r->fields[r->label_field].length > 0;
  double label = 0;
  if (has_label) {
    ok = csv_number(r, r->fields[r->label_field], &label, why, sizeof why);
    if (ok < 0) return out_of_memory(r);
    if (!ok) return failure(r, "label %s", why);
  }
  csv_seq seq = {SEQ_NONE, 0, NULL, 0};
  if (r->seq_field >= 0 && csv_seq_of(r, r->fields[r->seq_field], &seq) < 0) return out_of_memory(r);

  char a[300], b[300];
  int new_seq = !r->started || !same_seq(&seq, &r->seq);
  if (new_seq) {
    finished_seq *ended = find_finished(r, &seq);
    if (ended && ended->used) {
      return failure(r, "%s appears again after %s: the events of one seq must be contiguous (it ended at line %lu)",
                     describe_seq(a, sizeof a, &seq), describe_seq(b, sizeof b, &r->seq), ended->last_line);
    }
  } else if (t < r->last_t) {
    char now[JS_NUMBER_CHARS], before[JS_NUMBER_CHARS];
    js_number(t, now);
    js_number(r->last_t, before);
    if (seq.kind == SEQ_NONE) return failure(r, "time goes backwards: t = %s after t = %s", now, before);
    return failure(r, "time goes backwards within %s: t = %s after t = %s", describe_seq(a, sizeof a, &seq), now, before);
  }
  if (new_seq && r->started && !add_finished(r, &r->seq, r->last_line)) return out_of_memory(r);
  if (new_seq && seq.kind == SEQ_STRING) {
    /* the text lies in the line or the unquote buffer, which the next line reuses: the reader keeps its own */
    if (seq.length + 1 > r->seq_room) {
      char *more = realloc(r->seq_text, seq.length + 1);
      if (!more) return out_of_memory(r);
      r->seq_text = more;
      r->seq_room = seq.length + 1;
    }
    memcpy(r->seq_text, seq.text, seq.length);
    seq.text = r->seq_text;
  } else if (!new_seq) {
    seq = r->seq;
  }
  r->started = 1;
  r->seq = seq;
  r->last_t = t;
  r->last_line = r->line_number;
  *event = (csv_event){t, r->x, seq, r->line_number, new_seq, has_label, label};
  return 1;
}

/* refuseLongLine of host/engine/events.ts: the line's number and phasor run's words */
static int long_line(csv_reader *r) {
  r->line_number++;
  return failure(r, "the line is longer than %zu bytes (the limit; --max-line-bytes raises it)", r->max_line_bytes);
}

/* The next line into r->line without its newline: 1 and its length, 0 at the end of the input, -1 for a read
 * error, a line over the limit or no memory (r->error says which). A byte at a time from stdio's buffer, so that a
 * line is taken as soon as its newline comes down a pipe. The limit does not count a CR before the newline
 * (tooLong of host/engine/events.ts), so a line may hold one byte more than it; one more than that is refused
 * there and then (refuseIfTooLongSoFar), before the rest of the line is read: the buffer never passes
 * max_line_bytes + 1 bytes, which CSV_MAX_LINE_BYTES_LIMIT keeps far from overflowing a size_t. */
static int read_line(csv_reader *r, size_t *length) {
  size_t n = 0;
  int c;
  while ((c = getc_unlocked(r->in)) != EOF && c != '\n') {
    if (n == r->max_line_bytes + 1) return long_line(r);
    if (n == r->line_room) {
      size_t room = r->line_room < 128 ? 128 : 2 * r->line_room;
      if (room > r->max_line_bytes + 1) room = r->max_line_bytes + 1;
      char *more = realloc(r->line, room);
      if (!more) return out_of_memory(r);
      r->line = more;
      r->line_room = room;
    }
    r->line[n++] = (char)c;
  }
  if (c == EOF && ferror(r->in)) {
    snprintf(r->error, sizeof r->error, "%s: cannot read: %s", r->name, strerror(errno));
    return -1;
  }
  if (c == EOF && n == 0) return 0;
  if (n == r->max_line_bytes + 1 && r->line[n - 1] != '\r') return long_line(r);
  *length = n;
  return 1;
}

int csv_next(csv_reader *r, csv_event *event) {
  for (;;) {
    errno = 0;
    size_t n = 0;
    int got = read_line(r, &n);
    if (got <= 0) return got;
    r->line_number++;
    if (n > 0 && r->line[n - 1] == '\r') n--;
    slice text = {r->line, n};
    if (r->line_number == 1 && starts_with(text, "\xEF\xBB\xBF")) text = (slice){text.at + 3, text.length - 3};
    if (!is_utf8((const unsigned char *)text.at, text.length)) {
      return failure(r, "not UTF-8 text (the C host refuses what node would read as U+FFFD)");
    }
    text = trim(text);
    if (text.length == 0) continue;
    if (!r->header_seen) {
      if (!starts_with(text, "t,")) {
        return failure(r, "not a CSV header: the C host reads CSV events, whose first line names the columns, "
                          "starting with \"t,\" (NDJSON is not read here)");
      }
      if (read_header(r, text) < 0) return -1;
      continue;
    }
    return read_row(r, text, event);
  }
}
