/*
 * String(number) in C. The digits come from the C library's own conversions, which glibc, newlib and musl make
 * exact (correctly rounded): for p = 1, 2, ... 17 significant digits, printf("%.*e") gives the p-digit decimal
 * nearest the double. The first p at which a p-digit decimal reads back (strtod) as the double is the shortest
 * length. At that p the nearest decimal is the one to print when it reads back; when it does not, the only other
 * p-digit decimal that can is its neighbour on the other side of the double (any other lies beyond one of the
 * two, and the doubles that read back as a value form an interval). That happens where the interval is lopsided,
 * at powers of two. 17 digits always read back.
 */
#include "js_number.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DIGITS 17

/* A decimal d1.d2...dp * 10^exponent, digits as characters. */
typedef struct {
  char digits[MAX_DIGITS + 1];
  int count;
  int exponent;
} decimal;

/* The p-digit decimal nearest to value (> 0), from printf's "d.ddde+XX". */
static void nearest(double value, int p, decimal *d) {
  char text[40];
  snprintf(text, sizeof text, "%.*e", p - 1, value);
  int n = 0;
  const char *c = text;
  for (; *c != 'e'; c++) {
    if (*c != '.') d->digits[n++] = *c;
  }
  d->digits[n] = '\0';
  d->count = n;
  d->exponent = atoi(c + 1);
}

static double read_back(const decimal *d) {
  char text[40];
  snprintf(text, sizeof text, "%c.%se%d", d->digits[0], d->digits + 1, d->exponent);
  return strtod(text, NULL);
}

/* The next p-digit decimal above (up) or below d. */
static void neighbour(decimal *d, int up) {
  int k = d->count - 1;
  if (up) {
    while (k >= 0 && d->digits[k] == '9') d->digits[k--] = '0';
    if (k >= 0) {
      d->digits[k]++;
    } else {
      d->digits[0] = '1'; /* 99..9 -> 100..0 one decade up */
      d->exponent++;
    }
  } else {
    while (k >= 0 && d->digits[k] == '0') d->digits[k--] = '9';
    d->digits[k]--;
    if (d->digits[0] == '0') {
      memset(d->digits, '9', (size_t)d->count); /* 100..0 -> 99..9 one decade down */
      d->exponent--;
    }
  }
}

static void shortest(double value, decimal *d) {
  for (int p = 1; p < MAX_DIGITS; p++) {
    nearest(value, p, d);
    double back = read_back(d);
    if (back == value) return;
    neighbour(d, back < value);
    if (read_back(d) == value) return;
  }
  nearest(value, MAX_DIGITS, d);
}

/* Number::toString steps 6 to 10: k digits with the point after the n-th. */
static size_t layout(const decimal *d, char *out) {
  int k = d->count;
  int n = d->exponent + 1;
  char *at = out;
  if (k <= n && n <= 21) {
    memcpy(at, d->digits, (size_t)k);
    at += k;
    for (int i = k; i < n; i++) *at++ = '0';
  } else if (0 < n && n <= 21) {
    memcpy(at, d->digits, (size_t)n);
    at += n;
    *at++ = '.';
    memcpy(at, d->digits + n, (size_t)(k - n));
    at += k - n;
  } else if (-6 < n && n <= 0) {
    *at++ = '0';
    *at++ = '.';
    for (int i = n; i < 0; i++) *at++ = '0';
    memcpy(at, d->digits, (size_t)k);
    at += k;
  } else {
    *at++ = d->digits[0];
    if (k > 1) {
      *at++ = '.';
      memcpy(at, d->digits + 1, (size_t)(k - 1));
      at += k - 1;
    }
    at += sprintf(at, "e%c%d", n - 1 < 0 ? '-' : '+', abs(n - 1));
  }
  *at = '\0';
  return (size_t)(at - out);
}

size_t js_number(double value, char *out) {
  if (isnan(value)) return (size_t)sprintf(out, "NaN");
  if (value == 0) return (size_t)sprintf(out, "0"); /* -0 too */
  size_t sign = 0;
  if (value < 0) {
    out[sign++] = '-';
    value = -value;
  }
  if (isinf(value)) return sign + (size_t)sprintf(out + sign, "Infinity");
  decimal d;
  shortest(value, &d);
  return sign + layout(&d, out + sign);
}
