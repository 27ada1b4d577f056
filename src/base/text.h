/* text.h - the contract's text rules: valid UTF-8, code points, printable. */
#ifndef BASE_TEXT_H
#define BASE_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Checks that s (len bytes) is valid UTF-8 (no overlongs, surrogates or
 * values above U+10FFFF) and stores the number of code points in *count and
 * whether every code point is printable (none in U+0000-U+001F or
 * U+007F-U+009F) in *printable. Returns 0 or EILSEQ.
 */
int base_text_scan(const char *s, size_t len, size_t *count, bool *printable);

/*
 * Returns 0 when s is valid, printable UTF-8 of min..max code points;
 * EILSEQ for invalid UTF-8 or control characters; ERANGE for the length.
 */
int base_text_check(const char *s, size_t len, size_t min, size_t max);

/* The value of hex digit c (0-15, either case), or -1. */
int base_hex_digit(char c);

#endif
