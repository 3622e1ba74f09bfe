/*
 * Doubles printed as JavaScript's String(number) prints them (ECMA-262 Number::toString), so that the C host's
 * NDJSON is byte-identical to `phasor run`'s: the fewest significant digits that read back as the same double,
 * the nearest of those to it (the even one on a tie), and the same choice of plain or exponent notation.
 */
#ifndef PHASOR_JS_NUMBER_H
#define PHASOR_JS_NUMBER_H

#include <stddef.h>

/** Longest text js_number writes, "-1.2345678901234567e-308", and its NUL. */
#define JS_NUMBER_CHARS 26

/** Writes String(value) and a NUL to out (JS_NUMBER_CHARS bytes); returns the length. */
size_t js_number(double value, char *out);

#endif
