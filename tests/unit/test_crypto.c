/*
 * test_crypto.c - unit tests for src/base/crypto.c's encryption: AES-256-GCM
 * seal and open (round trip, tampering, wrong key or AAD, known answer),
 * hex, and the server key file (creation, mode, form, races).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/crypto.h"

static const unsigned char key1[BASE_KEY_LEN] = {
    1,	2,  3,	4,  5,	6,  7,	8,  9,	10, 11, 12, 13, 14, 15, 16,
    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

#define AAD "sipward-account-token-v1:MA_AAAAAAAA"
#define PT "0123456789abcdefghijABCDEFGHIJ0123456789"

/* Seals PT under key1 with AAD into box (len in *n). */
static void seal(unsigned char *box, size_t cap, size_t *n)
{
	assert_int_equal(
	    base_aead_seal(key1, AAD, strlen(AAD), PT, strlen(PT), box, cap, n),
	    0);
	assert_int_equal(*n, strlen(PT) + BASE_AEAD_OVERHEAD);
}

/* Opens box under key/aad; returns the result, the text in out. */
static int open_box(const unsigned char *key, const char *aad,
		    const unsigned char *box, size_t n, char *out, size_t cap)
{
	size_t len = 0;
	int err;

	memset(out, 'Z', cap);
	err = base_aead_open(key, aad, strlen(aad), box, n,
			     (unsigned char *)out, cap - 1, &len);
	if (!err)
		out[len] = '\0';
	return err;
}

static void test_aead_round_trip(void **state)
{
	unsigned char box[128];
	char out[128];
	size_t n;

	(void)state;
	seal(box, sizeof(box), &n);
	assert_int_equal(open_box(key1, AAD, box, n, out, sizeof(out)), 0);
	assert_string_equal(out, PT);
	/* The plaintext is not in the box. */
	assert_null(memmem(box, n, PT, strlen(PT)));
	assert_null(memmem(box, n, "0123456789", 10));
}

/* Each encryption draws a new nonce: same input, different boxes. */
static void test_aead_fresh_nonce(void **state)
{
	unsigned char a[128], b[128];
	size_t na, nb;

	(void)state;
	seal(a, sizeof(a), &na);
	seal(b, sizeof(b), &nb);
	assert_int_equal(na, nb);
	assert_memory_not_equal(a, b, BASE_AEAD_NONCE_LEN);
	assert_memory_not_equal(a + BASE_AEAD_NONCE_LEN,
				b + BASE_AEAD_NONCE_LEN,
				na - BASE_AEAD_NONCE_LEN);
}

/* Flipping any one bit (nonce, ciphertext or tag) is refused. */
static void test_aead_tampered(void **state)
{
	unsigned char box[128];
	char out[128];
	size_t n;

	(void)state;
	seal(box, sizeof(box), &n);
	for (size_t i = 0; i < n; i++) {
		for (int bit = 0; bit < 8; bit += 7) {
			box[i] ^= (unsigned char)(1u << bit);
			assert_int_equal(
			    open_box(key1, AAD, box, n, out, sizeof(out)),
			    EBADMSG);
			/* Nothing of the plaintext is left in out. */
			assert_null(memmem(out, sizeof(out), "0123456789", 10));
			box[i] ^= (unsigned char)(1u << bit);
		}
	}
	/* Truncated, or with a byte added. */
	assert_int_equal(open_box(key1, AAD, box, n - 1, out, sizeof(out)),
			 EBADMSG);
	box[n] = 0;
	assert_int_equal(open_box(key1, AAD, box, n + 1, out, sizeof(out)),
			 EBADMSG);
	assert_int_equal(
	    open_box(key1, AAD, box, BASE_AEAD_OVERHEAD - 1, out, sizeof(out)),
	    EBADMSG);
	assert_int_equal(open_box(key1, AAD, box, 0, out, sizeof(out)),
			 EBADMSG);
	/* Untouched, it still opens. */
	assert_int_equal(open_box(key1, AAD, box, n, out, sizeof(out)), 0);
}

/* Another account's AAD, or none: refused. */
static void test_aead_wrong_aad(void **state)
{
	unsigned char box[128];
	char out[128];
	size_t n;

	(void)state;
	seal(box, sizeof(box), &n);
	assert_int_equal(open_box(key1, "sipward-account-token-v1:MA_BBBBBBBB",
				  box, n, out, sizeof(out)),
			 EBADMSG);
	assert_int_equal(open_box(key1, "", box, n, out, sizeof(out)), EBADMSG);
	assert_int_equal(open_box(key1, AAD "x", box, n, out, sizeof(out)),
			 EBADMSG);
}

static void test_aead_wrong_key(void **state)
{
	unsigned char box[128], key2[BASE_KEY_LEN];
	char out[128];
	size_t n;

	(void)state;
	seal(box, sizeof(box), &n);
	for (size_t i = 0; i < BASE_KEY_LEN; i++) {
		memcpy(key2, key1, sizeof(key2));
		key2[i] ^= 0x80;
		assert_int_equal(open_box(key2, AAD, box, n, out, sizeof(out)),
				 EBADMSG);
	}
}

static void test_aead_caps(void **state)
{
	unsigned char box[128];
	char out[128];
	size_t n = 0;

	(void)state;
	/* One byte short of plaintext + overhead. */
	assert_int_equal(
	    base_aead_seal(key1, AAD, strlen(AAD), PT, strlen(PT), box,
			   strlen(PT) + BASE_AEAD_OVERHEAD - 1, &n),
	    ERANGE);
	seal(box, sizeof(box), &n);
	assert_int_equal(base_aead_open(key1, AAD, strlen(AAD), box, n,
					(unsigned char *)out, strlen(PT) - 1,
					&n),
			 ERANGE);
}

/*
 * Known answer (the GCM specification's test case 14: AES-256, zero key,
 * zero IV, one zero block): our tag and ciphertext layout open it, so the
 * format is plain AES-256-GCM with nonce | ciphertext | tag.
 */
static void test_aead_known_answer(void **state)
{
	static const char box_hex[] =
	    "000000000000000000000000"		/* nonce */
	    "cea7403d4d606b6e074ec5d3baf39d18"	/* ciphertext */
	    "d0d1c8a799996bf0265b98b5d48ab919"; /* tag */
	unsigned char zero_key[BASE_KEY_LEN] = {0}, box[64], out[32];
	size_t n = 0, len = 0;

	(void)state;
	assert_int_equal(
	    base_hex_decode(box_hex, strlen(box_hex), box, sizeof(box), &n), 0);
	assert_int_equal(n, 12 + 16 + 16);
	assert_int_equal(
	    base_aead_open(zero_key, NULL, 0, box, n, out, sizeof(out), &len),
	    0);
	assert_int_equal(len, 16);
	for (size_t i = 0; i < 16; i++)
		assert_int_equal(out[i], 0);
	box[n - 1] ^= 1;
	assert_int_equal(
	    base_aead_open(zero_key, NULL, 0, box, n, out, sizeof(out), &len),
	    EBADMSG);
}

static void test_hex(void **state)
{
	unsigned char b[4], raw[] = {0x00, 0x7f, 0xab, 0xff};
	char h[9];
	size_t n = 0;

	(void)state;
	assert_int_equal(base_hex_encode(raw, 4, h, sizeof(h)), 0);
	assert_string_equal(h, "007fabff");
	assert_int_equal(base_hex_encode(raw, 4, h, 8), ERANGE);
	assert_int_equal(base_hex_decode("007FABff", 8, b, sizeof(b), &n), 0);
	assert_int_equal(n, 4);
	assert_memory_equal(b, raw, 4);
	assert_int_equal(base_hex_decode("007", 3, b, sizeof(b), &n), EINVAL);
	assert_int_equal(base_hex_decode("0g", 2, b, sizeof(b), &n), EINVAL);
	assert_true(base_hex_lower("0123456789abcdef", 16));
	assert_true(base_hex_lower("", 0));
	assert_false(base_hex_lower("00AB", 4)); /* upper case: not ours */
	assert_false(base_hex_lower("0g", 2));
	assert_true(base_hex_lower("ab\0x", 2)); /* only n bytes */
	assert_int_equal(base_hex_decode("0011223344", 10, b, sizeof(b), &n),
			 ERANGE);
}

static void test_key_parse(void **state)
{
	char hex[BASE_KEY_HEX_LEN + 2];
	unsigned char k[BASE_KEY_LEN];

	(void)state;
	assert_int_equal(base_hex_encode(key1, sizeof(key1), hex, sizeof(hex)),
			 0);
	assert_int_equal(base_key_parse(hex, strlen(hex), k), 0);
	assert_memory_equal(k, key1, sizeof(k));
	assert_int_equal(base_key_parse(hex, 62, k), EINVAL);
	hex[10] = 'x';
	assert_int_equal(base_key_parse(hex, 64, k), EINVAL);
}

/* ---- the key file ---- */

struct dir {
	char path[64];
	char file[96];
};

static int dir_setup(void **state)
{
	struct dir *d = calloc(1, sizeof(*d));

	if (!d)
		return -1;
	snprintf(d->path, sizeof(d->path), "/tmp/sipward-test-key-XXXXXX");
	if (!mkdtemp(d->path))
		return -1;
	snprintf(d->file, sizeof(d->file), "%s/db.key", d->path);
	*state = d;
	return 0;
}

static int dir_teardown(void **state)
{
	struct dir *d = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
	if (system(cmd) != 0)
		return -1;
	free(d);
	return 0;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void test_key_file_created(void **state)
{
	struct dir *d = *state;
	unsigned char k[BASE_KEY_LEN], k2[BASE_KEY_LEN];
	char why[256], text[80], cmd[160];
	struct stat sb;
	bool created = false;
	FILE *f;

	assert_int_equal(
	    base_key_file_load(d->file, false, k, &created, why, sizeof(why)),
	    ENOENT);
	assert_non_null(strstr(why, d->file));
	assert_int_equal(
	    base_key_file_load(d->file, true, k, &created, why, sizeof(why)),
	    0);
	assert_true(created);
	assert_int_equal(stat(d->file, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0600);
	f = fopen(d->file, "r");
	assert_non_null(f);
	assert_non_null(fgets(text, sizeof(text), f));
	fclose(f);
	assert_int_equal(strlen(text), BASE_KEY_HEX_LEN + 1);
	assert_int_equal(text[BASE_KEY_HEX_LEN], '\n');
	assert_int_equal(base_key_parse(text, BASE_KEY_HEX_LEN, k2), 0);
	assert_memory_equal(k, k2, sizeof(k));
	/* The next start reads the same key and makes nothing. */
	memset(k2, 0, sizeof(k2));
	assert_int_equal(
	    base_key_file_load(d->file, true, k2, &created, why, sizeof(why)),
	    0);
	assert_false(created);
	assert_memory_equal(k, k2, sizeof(k));
	/* No temporary file is left behind. */
	snprintf(cmd, sizeof(cmd), "test $(ls -A '%s' | wc -l) -eq 1", d->path);
	assert_int_equal(system(cmd), 0);
}

static void test_key_file_mode_refused(void **state)
{
	struct dir *d = *state;
	static const mode_t bad[] = {0640, 0604, 0644,	    0660,
				     0610, 0601, 0700 | 040};
	unsigned char k[BASE_KEY_LEN], k0[BASE_KEY_LEN];
	char why[256], hex[BASE_KEY_HEX_LEN + 2];

	assert_int_equal(base_hex_encode(key1, sizeof(key1), hex, sizeof(hex)),
			 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(d->file, hex, bad[i]);
		memset(k, 0x5a, sizeof(k));
		memcpy(k0, k, sizeof(k));
		why[0] = '\0';
		assert_int_equal(base_key_file_load(d->file, true, k, NULL, why,
						    sizeof(why)),
				 EPERM);
		assert_memory_equal(k, k0, sizeof(k));
		assert_non_null(strstr(why, d->file));
		assert_non_null(strstr(why, "group or others"));
		assert_null(strstr(why, hex));
	}
	/* 0600 and 0400 are accepted. */
	write_file(d->file, hex, 0400);
	assert_int_equal(
	    base_key_file_load(d->file, true, k, NULL, why, sizeof(why)), 0);
	assert_memory_equal(k, key1, sizeof(k));
	unlink(d->file);
	write_file(d->file, hex, 0600);
	assert_int_equal(
	    base_key_file_load(d->file, true, k, NULL, why, sizeof(why)), 0);
	assert_memory_equal(k, key1, sizeof(k));
}

static void test_key_file_malformed(void **state)
{
	struct dir *d = *state;
	static const char *const bad[] = {
	    "",
	    "\n",
	    "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
	    "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"
	    "\n\n",
	    "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"
	    "00",
	    " 0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2",
	    "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1fzz",
	    "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"
	    "\r\n",
	};
	unsigned char k[BASE_KEY_LEN];
	char why[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(d->file, bad[i], 0600);
		why[0] = '\0';
		assert_int_equal(base_key_file_load(d->file, true, k, NULL, why,
						    sizeof(why)),
				 EINVAL);
		assert_non_null(strstr(why, "does not hold a key"));
	}
	/* Upper case and one final newline are fine. */
	write_file(d->file,
		   "0102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D"
		   "1E1F20\n",
		   0600);
	assert_int_equal(
	    base_key_file_load(d->file, true, k, NULL, why, sizeof(why)), 0);
	assert_memory_equal(k, key1, sizeof(k));
}

static void test_key_file_not_regular(void **state)
{
	struct dir *d = *state;
	unsigned char k[BASE_KEY_LEN];
	char why[256];

	/* A directory, and a FIFO (which must not hang the start). */
	assert_int_equal(mkdir(d->file, 0700), 0);
	assert_int_equal(
	    base_key_file_load(d->file, true, k, NULL, why, sizeof(why)),
	    EINVAL);
	assert_non_null(strstr(why, "not a regular file"));
	rmdir(d->file);
	assert_int_equal(mkfifo(d->file, 0600), 0);
	assert_int_equal(
	    base_key_file_load(d->file, true, k, NULL, why, sizeof(why)),
	    EINVAL);
	assert_non_null(strstr(why, "not a regular file"));
	unlink(d->file);
	/* A directory that does not exist: the error names the path. */
	assert_int_equal(base_key_file_load("/nonexistent-dir/x/db.key", true,
					    k, NULL, why, sizeof(why)),
			 ENOENT);
	assert_non_null(strstr(why, "/nonexistent-dir/x/db.key"));
}

struct racer {
	const char *path;
	unsigned char key[BASE_KEY_LEN];
	int err;
	bool created;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	char why[256];

	r->err = base_key_file_load(r->path, true, r->key, &r->created, why,
				    sizeof(why));
	return NULL;
}

/* Starts racing to create the file: one makes it, all read the same key. */
static void test_key_file_race(void **state)
{
	struct dir *d = *state;
	enum { N = 8 };
	struct racer r[N];
	pthread_t t[N];
	int made = 0;

	for (int round = 0; round < 20; round++) {
		unlink(d->file);
		for (int i = 0; i < N; i++) {
			memset(&r[i], 0, sizeof(r[i]));
			r[i].path = d->file;
			assert_int_equal(
			    pthread_create(&t[i], NULL, race, &r[i]), 0);
		}
		made = 0;
		for (int i = 0; i < N; i++) {
			pthread_join(t[i], NULL);
			assert_int_equal(r[i].err, 0);
			made += r[i].created;
			assert_memory_equal(r[i].key, r[0].key, BASE_KEY_LEN);
		}
		assert_int_equal(made, 1);
	}
}

/* HMAC-SHA-256 against RFC 4231's vectors, with keys alternating on one
 * thread (a key set up once is reused only while it is the same key). */
static void test_hmac_rfc4231(void **state)
{
	static const struct {
		unsigned char key[131];
		size_t keylen;
		const char *data, *want;
	} v[] = {
	    {{[0 ... 19] = 0x0b},
	     20,
	     "Hi There",
	     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff"
	     "7"},
	    {"Jefe", 4, "what do ya want for nothing?",
	     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec384"
	     "3"},
	    {{[0 ... 130] = 0xaa},
	     131,
	     "Test Using Larger Than Block-Size Key - Hash Key First",
	     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f5"
	     "4"},
	};
	static const int order[] = {0, 0, 1, 0, 2, 2, 1, 1, 0, 2};
	unsigned char out[BASE_HMAC_LEN];
	char hex[2 * BASE_HMAC_LEN + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		int k = order[i];
		assert_int_equal(base_hmac_sha256(v[k].key, v[k].keylen,
						  v[k].data, strlen(v[k].data),
						  out),
				 0);
		for (int b = 0; b < BASE_HMAC_LEN; b++)
			snprintf(hex + 2 * b, 3, "%02x", out[b]);
		assert_string_equal(hex, v[k].want);
	}
}

int main(void)
{
#define K(fn) cmocka_unit_test_setup_teardown(fn, dir_setup, dir_teardown)
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_aead_round_trip),
	    cmocka_unit_test(test_aead_fresh_nonce),
	    cmocka_unit_test(test_aead_tampered),
	    cmocka_unit_test(test_aead_wrong_aad),
	    cmocka_unit_test(test_aead_wrong_key),
	    cmocka_unit_test(test_aead_caps),
	    cmocka_unit_test(test_aead_known_answer),
	    cmocka_unit_test(test_hex),
	    cmocka_unit_test(test_hmac_rfc4231),
	    cmocka_unit_test(test_key_parse),
	    K(test_key_file_created),
	    K(test_key_file_mode_refused),
	    K(test_key_file_malformed),
	    K(test_key_file_not_regular),
	    K(test_key_file_race),
	};

	return cmocka_run_group_tests_name("crypto", tests, NULL, NULL);
}
