/* id.c - unbiased random identifiers (rejection sampling over getrandom). */
#include "base/id.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

/* Reads n bytes from the kernel's CSPRNG. */
static int getrandom_all(unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t r = getrandom(p, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return EIO;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/*
 * Each thread keeps a small pool of kernel random bytes, so that a request
 * costs no system call for its ids; bytes handed out are wiped from it.
 */
#define POOL 512
static __thread unsigned char rnd_pool[POOL];
static __thread size_t rnd_left;

int base_rand_fill(void *buf, size_t n)
{
	unsigned char *p = buf;

	if (n > POOL)
		return getrandom_all(p, n);
	while (n > 0) {
		size_t k;
		if (rnd_left == 0) {
			if (getrandom_all(rnd_pool, POOL))
				return EIO;
			rnd_left = POOL;
		}
		k = n < rnd_left ? n : rnd_left;
		memcpy(p, rnd_pool + POOL - rnd_left, k);
		memset(rnd_pool + POOL - rnd_left, 0, k);
		rnd_left -= k;
		p += k;
		n -= k;
	}
	return 0;
}

/* Writes n characters drawn uniformly from alphabet (len < 256). */
static int pick(char *out, size_t n, const char *alphabet, unsigned len)
{
	unsigned char pool[64];
	unsigned limit = 256 - 256 % len;
	size_t have = 0, used = 0;

	while (n > 0) {
		if (used == have) {
			if (base_rand_fill(pool, sizeof(pool)) != 0)
				return EIO;
			have = sizeof(pool);
			used = 0;
		}
		unsigned b = pool[used++];
		if (b >= limit)
			continue;
		*out++ = alphabet[b % len];
		n--;
	}
	return 0;
}

int base_id_uuid(char *out, size_t cap)
{
	unsigned char b[16];
	int err;

	if (cap < BASE_UUID_LEN + 1)
		return ERANGE;
	err = base_rand_fill(b, sizeof(b));
	if (err)
		return err;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	/* 8-4-4-4-12 lower-case hex digits (one per request: no printf) */
	for (int i = 0; i < 16; i++) {
		static const char hex[] = "0123456789abcdef";
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*out++ = '-';
		*out++ = hex[b[i] >> 4];
		*out++ = hex[b[i] & 15];
	}
	*out = '\0';
	return 0;
}

int base_id_decimal(char *out, size_t cap, unsigned digits)
{
	int err;

	if (digits == 0 || cap <= digits)
		return ERANGE;
	err = pick(out, 1, "123456789", 9);
	if (!err)
		err = pick(out + 1, digits - 1, "0123456789", 10);
	if (err)
		return err;
	out[digits] = '\0';
	return 0;
}

int base_id_auth(char *out, size_t cap)
{
	int err;

	if (cap < BASE_AUTH_ID_LEN + 1)
		return ERANGE;
	out[0] = 'M';
	out[1] = 'A';
	out[2] = '_';
	err = pick(out + 3, 8, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 36);
	if (err)
		return err;
	out[BASE_AUTH_ID_LEN] = '\0';
	return 0;
}

int base_id_token(char *out, size_t cap)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				"abcdefghijklmnopqrstuvwxyz0123456789";
	int err;

	if (cap < BASE_TOKEN_LEN + 1)
		return ERANGE;
	err = pick(out, BASE_TOKEN_LEN, a, 62);
	if (err)
		return err;
	out[BASE_TOKEN_LEN] = '\0';
	return 0;
}
