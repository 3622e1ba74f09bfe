/* Reads doubles as 16 hex digits of their bits, one per line, and prints each as host/c/js_number.c prints it. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "js_number.h"

int main(void) {
  char line[64];
  char text[JS_NUMBER_CHARS];
  while (fgets(line, sizeof line, stdin)) {
    uint64_t bits;
    double value;
    if (sscanf(line, "%" SCNx64, &bits) != 1) return 2;
    memcpy(&value, &bits, sizeof value);
    js_number(value, text);
    puts(text);
  }
  return 0;
}
