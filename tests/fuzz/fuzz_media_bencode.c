/*
 * fuzz_media_bencode.c - libFuzzer harness for the ng reply decoder: the
 * input is what follows the cookie in an rtpengine reply. Traps on broken
 * invariants: an accepted value spans the whole input; walking it with
 * media_bnext and encoding it again with the encoder gives back the input
 * byte for byte (the decoder accepts one spelling per value); a dictionary
 * media_bdict_parse accepts has unique keys, each found by media_bdict_get.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/rtpe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                         \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "invariant failed: %s (line %d)\n", \
				#cond, __LINE__);                           \
			__builtin_trap();                                   \
		}                                                           \
	} while (0)

/* Encodes v again into b, walking containers with media_bnext. */
static void reencode(struct media_benc *b, const struct media_bval *v,
		     unsigned depth)
{
	struct media_bval item;
	size_t pos = 0;
	int r;

	CHECK(depth <= MEDIA_BENC_DEPTH_MAX);
	switch (v->kind) {
	case MEDIA_B_INT:
		media_benc_int(b, v->i);
		return;
	case MEDIA_B_STR:
		media_benc_str(b, v->p, v->n);
		return;
	case MEDIA_B_LIST:
		media_benc_list(b);
		break;
	case MEDIA_B_DICT:
		media_benc_dict(b);
		break;
	}
	for (unsigned k = 0; (r = media_bnext(v, &pos, &item)) == 0; k++) {
		if (v->kind == MEDIA_B_DICT && k % 2 == 0)
			CHECK(item.kind == MEDIA_B_STR);
		reencode(b, &item, depth + 1);
	}
	CHECK(r == ENOENT);
	media_benc_end(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct media_bval v;
	struct media_bdict *d;
	struct media_benc b;
	char *buf;
	size_t len;

	if (media_bdecode(s, size, &v) != 0) {
		d = malloc(sizeof(*d));
		if (d)
			CHECK(media_bdict_parse(s, size, d) == EBADMSG);
		free(d);
		return 0;
	}
	if (v.kind == MEDIA_B_LIST || v.kind == MEDIA_B_DICT)
		CHECK(v.p == s && v.n == size);
	buf = malloc(size + 1);
	d = malloc(sizeof(*d));
	if (!buf || !d)
		goto out;
	media_benc_init(&b, buf, size + 1);
	reencode(&b, &v, 0);
	CHECK(media_benc_finish(&b, &len) == 0);
	CHECK(len == size && memcmp(buf, data, size) == 0);
	if (media_bdict_parse(s, size, d) == 0) {
		CHECK(v.kind == MEDIA_B_DICT);
		CHECK(d->n <= MEDIA_BENC_DICT_MAX);
		for (unsigned i = 0; i < d->n; i++) {
			char key[64];
			CHECK(d->e[i].key.kind == MEDIA_B_STR);
			if (d->e[i].key.n >= sizeof(key) ||
			    memchr(d->e[i].key.p, '\0', d->e[i].key.n))
				continue;
			memcpy(key, d->e[i].key.p, d->e[i].key.n);
			key[d->e[i].key.n] = '\0';
			CHECK(media_bdict_get(d, key) == &d->e[i].val);
		}
	}
out:
	free(buf);
	free(d);
	return 0;
}
