/* text.c - a strict UTF-8 decoder used by every validation rule. */
#include "base/text.h"

#include <errno.h>
#include <stdint.h>

int base_text_scan(const char *s, size_t len, size_t *count, bool *printable)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n = 0;
	bool pr = true;

	while (i < len) {
		uint32_t cp;
		unsigned need;
		unsigned char c = p[i];

		if (c < 0x80) {
			cp = c;
			need = 0;
		} else if (c >= 0xc2 && c <= 0xdf) {
			cp = c & 0x1f;
			need = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			cp = c & 0x0f;
			need = 2;
		} else if (c >= 0xf0 && c <= 0xf4) {
			cp = c & 0x07;
			need = 3;
		} else {
			return EILSEQ;
		}
		if (len - i - 1 < need)
			return EILSEQ;
		for (unsigned k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return EILSEQ;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return EILSEQ;
		if (cp <= 0x1f || (cp >= 0x7f && cp <= 0x9f))
			pr = false;
		i += need + 1;
		n++;
	}
	*count = n;
	*printable = pr;
	return 0;
}

int base_text_check(const char *s, size_t len, size_t min, size_t max)
{
	size_t n;
	bool pr;

	if (base_text_scan(s, len, &n, &pr) != 0 || !pr)
		return EILSEQ;
	if (n < min || n > max)
		return ERANGE;
	return 0;
}

int base_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
