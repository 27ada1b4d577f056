/* test_media_rtpe.c - the rtpengine ng client: bencode both ways, hostile
 * replies, and offer / answer / delete against a real rtpengine started
 * here (userspace only, on loopback, on a free port). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/time.h"
#include "media/rtpe.h"

extern char **environ;

#define RTPENGINE "/usr/bin/rtpengine"
#define START_MS 15000 /* bound on the wait for rtpengine's first pong */
#define TIMEOUT_MS 3000

/* ---- bencode ---- */

static int dec(const char *s, struct media_bval *v)
{
	return media_bdecode(s, strlen(s), v);
}

static void encode_round_trip(void **state)
{
	char buf[256];
	struct media_benc b;
	struct media_bdict d;
	struct media_bval v, item;
	const struct media_bval *g;
	size_t len, pos = 0;

	(void)state;
	media_benc_init(&b, buf, sizeof(buf));
	media_benc_dict(&b);
	media_benc_cstr(&b, "command");
	media_benc_cstr(&b, "ping");
	media_benc_cstr(&b, "n");
	media_benc_int(&b, INT64_MIN);
	media_benc_cstr(&b, "m");
	media_benc_int(&b, INT64_MAX);
	media_benc_cstr(&b, "z");
	media_benc_int(&b, 0);
	media_benc_cstr(&b, "bin");
	media_benc_str(&b, "a\0b", 3);
	media_benc_cstr(&b, "empty");
	media_benc_cstr(&b, "");
	media_benc_cstr(&b, "flags");
	media_benc_list(&b);
	media_benc_cstr(&b, "generate mid");
	media_benc_dict(&b);
	media_benc_end(&b);
	media_benc_list(&b);
	media_benc_end(&b);
	media_benc_end(&b);
	media_benc_end(&b);
	assert_int_equal(media_benc_finish(&b, &len), 0);
	assert_memory_equal(buf,
			    "d7:command4:ping1:ni-9223372036854775808e"
			    "1:mi9223372036854775807e1:zi0e3:bin3:a\0b"
			    "5:empty0:5:flagsl12:generate middeleee",
			    len);

	assert_int_equal(media_bdict_parse(buf, len, &d), 0);
	assert_int_equal(d.n, 7);
	g = media_bdict_get(&d, "command");
	assert_non_null(g);
	assert_int_equal(g->kind, MEDIA_B_STR);
	assert_int_equal(g->n, 4);
	assert_memory_equal(g->p, "ping", 4);
	assert_int_equal(media_bdict_get(&d, "n")->i, INT64_MIN);
	assert_int_equal(media_bdict_get(&d, "m")->i, INT64_MAX);
	assert_int_equal(media_bdict_get(&d, "bin")->n, 3);
	assert_int_equal(media_bdict_get(&d, "empty")->n, 0);
	assert_null(media_bdict_get(&d, "absent"));
	assert_null(media_bdict_get(&d, "comman"));
	g = media_bdict_get(&d, "flags");
	assert_int_equal(g->kind, MEDIA_B_LIST);
	assert_int_equal(media_bdecode(g->p, g->n, &v), 0);
	assert_int_equal(v.kind, MEDIA_B_LIST);
	assert_int_equal(media_bnext(g, &pos, &item), 0);
	assert_int_equal(item.kind, MEDIA_B_STR);
	assert_memory_equal(item.p, "generate mid", 12);
	assert_int_equal(media_bnext(g, &pos, &item), 0);
	assert_int_equal(item.kind, MEDIA_B_DICT);
	assert_int_equal(item.n, 2);
	assert_int_equal(media_bnext(g, &pos, &item), 0);
	assert_int_equal(item.kind, MEDIA_B_LIST);
	assert_int_equal(media_bnext(g, &pos, &item), ENOENT);
	assert_int_equal(media_bnext(&d.e[0].val, &pos, &item), EBADMSG);

	/* The encoder's errors stick and are reported at the end. */
	media_benc_init(&b, buf, 10);
	media_benc_dict(&b);
	media_benc_cstr(&b, "a long key");
	media_benc_end(&b);
	assert_int_equal(media_benc_finish(&b, &len), EMSGSIZE);
	media_benc_init(&b, buf, sizeof(buf));
	media_benc_list(&b);
	assert_int_equal(media_benc_finish(&b, &len), EINVAL);
	media_benc_end(&b);
	media_benc_end(&b);
	assert_int_equal(media_benc_finish(&b, &len), EINVAL);
	media_benc_init(&b, buf, sizeof(buf));
	for (int i = 0; i <= MEDIA_BENC_DEPTH_MAX; i++)
		media_benc_list(&b);
	assert_int_equal(media_benc_finish(&b, &len), EINVAL);
}

static void decode_valid(void **state)
{
	struct media_bval v;
	char deep[2 * MEDIA_BENC_DEPTH_MAX + 1];

	(void)state;
	assert_int_equal(dec("i0e", &v), 0);
	assert_int_equal(v.kind, MEDIA_B_INT);
	assert_int_equal(v.i, 0);
	assert_int_equal(dec("i-42e", &v), 0);
	assert_int_equal(v.i, -42);
	assert_int_equal(dec("i-9223372036854775808e", &v), 0);
	assert_int_equal(v.i, INT64_MIN);
	assert_int_equal(dec("0:", &v), 0);
	assert_int_equal(v.kind, MEDIA_B_STR);
	assert_int_equal(v.n, 0);
	assert_int_equal(dec("10:0123456789", &v), 0);
	assert_int_equal(v.n, 10);
	assert_int_equal(dec("le", &v), 0);
	assert_int_equal(v.kind, MEDIA_B_LIST);
	assert_int_equal(dec("de", &v), 0);
	assert_int_equal(v.kind, MEDIA_B_DICT);
	assert_int_equal(dec("d1:ad1:bl1:ci1eeee", &v), 0);
	assert_int_equal(v.n, 18);
	/* Keys in any order: rtpengine does not sort them. */
	assert_int_equal(dec("d1:bi1e1:ai2ee", &v), 0);
	/* Nesting up to the bound. */
	memset(deep, 'l', MEDIA_BENC_DEPTH_MAX);
	memset(deep + MEDIA_BENC_DEPTH_MAX, 'e', MEDIA_BENC_DEPTH_MAX);
	deep[2 * MEDIA_BENC_DEPTH_MAX] = '\0';
	assert_int_equal(dec(deep, &v), 0);
}

static void decode_hostile(void **state)
{
	static const char *const bad[] = {
	    "",
	    "x",
	    "e",
	    "i",
	    "ie",
	    "i-e",
	    "i-0e",
	    "i-01e",
	    "i00e",
	    "i01e",
	    "i+1e",
	    "i 1e",
	    "i1",
	    "i1x",
	    "i9223372036854775808e",
	    "i-9223372036854775809e",
	    "i99999999999999999999999e",
	    "1",
	    "1:",
	    "2:a",
	    "01:a",
	    "00:",
	    "-1:a",
	    "1a",
	    "4294967296:abc",
	    "18446744073709551616:abc",
	    "99999999999999999999999999:abc",
	    "l",
	    "li1e",
	    "d",
	    "d1:a",
	    "d1:ae",
	    "di1ei2ee",
	    "dlei1ee",
	    "ddee",
	    "d1:ai1e1:b",
	    "i1ei2e",
	    "i1ee",
	    "lee",
	    "1:ax",
	    "de ",
	    "le\n",
	};
	struct media_bval v = {.kind = MEDIA_B_INT, .i = 77};
	struct media_bdict d;
	char deep[2 * MEDIA_BENC_DEPTH_MAX + 3];
	char *big;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (dec(bad[i], &v) != EBADMSG)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(v.i, 77); /* untouched */
		assert_int_equal(media_bdict_parse(bad[i], strlen(bad[i]), &d),
				 EBADMSG);
	}
	assert_int_equal(media_bdecode(NULL, 0, &v), EBADMSG);
	/* A NUL is a byte like any other inside a string, nowhere else. */
	assert_int_equal(media_bdecode("3:a\0b", 5, &v), 0);
	assert_int_equal(media_bdecode("i1\0e", 4, &v), EBADMSG);
	assert_int_equal(media_bdecode("le\0", 3, &v), EBADMSG);
	/* One level too deep, as lists and as dictionary values. */
	memset(deep, 'l', MEDIA_BENC_DEPTH_MAX + 1);
	memset(deep + MEDIA_BENC_DEPTH_MAX + 1, 'e', MEDIA_BENC_DEPTH_MAX + 1);
	deep[2 * MEDIA_BENC_DEPTH_MAX + 2] = '\0';
	assert_int_equal(dec(deep, &v), EBADMSG);
	/* Dictionaries as values: MEDIA_BENC_DEPTH_MAX deep, then one more. */
	for (int extra = 0; extra < 2; extra++) {
		char dd[8 * (MEDIA_BENC_DEPTH_MAX + 2)], *p = dd;
		int levels = MEDIA_BENC_DEPTH_MAX - 1 + extra;
		for (int i = 0; i < levels; i++)
			p += sprintf(p, "d1:k");
		p += sprintf(p, "de");
		for (int i = 0; i < levels; i++)
			*p++ = 'e';
		*p = '\0';
		assert_int_equal(dec(dd, &v), extra ? EBADMSG : 0);
	}
	/* A huge input is refused before it is read. */
	big = malloc(MEDIA_BENC_LEN_MAX + 16);
	assert_non_null(big);
	memset(big, 'x', MEDIA_BENC_LEN_MAX + 16);
	memcpy(big, "262150:", 7);
	assert_int_equal(media_bdecode(big, 262157, &v), EBADMSG);
	free(big);
	/* Dictionaries for lookup: a dictionary, each key once, capped. */
	assert_int_equal(media_bdict_parse("le", 2, &d), EBADMSG);
	assert_int_equal(media_bdict_parse("1:a", 3, &d), EBADMSG);
	assert_int_equal(media_bdict_parse("d1:ai1e1:ai2ee", 14, &d), EBADMSG);
	{
		char many[16 * (MEDIA_BENC_DICT_MAX + 2)], *p = many;
		p += sprintf(p, "d");
		for (int i = 0; i < MEDIA_BENC_DICT_MAX; i++)
			p += sprintf(p, "3:k%02di%de", i, i);
		p += sprintf(p, "e");
		assert_int_equal(media_bdict_parse(many, strlen(many), &d), 0);
		assert_int_equal(d.n, MEDIA_BENC_DICT_MAX);
		assert_int_equal(media_bdict_get(&d, "k63")->i, 63);
		p[-1] = '\0';
		p--;
		sprintf(p, "3:k99i0ee");
		assert_int_equal(media_bdict_parse(many, strlen(many), &d),
				 EBADMSG);
	}
}

/* ---- a fake ng server: for the cookie and the error reason ---- */

struct fake {
	int fd, port;
	pthread_t th;
	unsigned got; /* requests received */
};

/*
 * Ignores the first request (so that the client sends it again), then
 * answers with a wrong cookie, then with the right one: an error whose
 * reason holds control characters.
 */
static void *fake_run(void *arg)
{
	struct fake *f = arg;
	char buf[65536], reply[256];
	struct sockaddr_storage from;

	for (;;) {
		socklen_t fl = sizeof(from);
		ssize_t r = recvfrom(f->fd, buf, sizeof(buf) - 1, 0,
				     (struct sockaddr *)&from, &fl);
		char *sp;
		int n;
		if (r <= 0)
			return NULL;
		buf[r] = '\0';
		if (++f->got == 1)
			continue;
		sp = strchr(buf, ' ');
		if (!sp)
			return NULL;
		n = snprintf(reply, sizeof(reply),
			     "other d6:result2:ok3:sdp3:v=0e");
		sendto(f->fd, reply, (size_t)n, 0, (struct sockaddr *)&from,
		       fl);
		n = snprintf(reply, sizeof(reply),
			     "%.*s d6:result5:error12:error-reason"
			     "14:bad\r\n\x1b[1mthinge",
			     (int)(sp - buf), buf);
		sendto(f->fd, reply, (size_t)n, 0, (struct sockaddr *)&from,
		       fl);
		return NULL;
	}
}

static int udp_bound(int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static const char plain_offer[] = "v=0\r\n"
				  "o=phone 1000 1 IN IP4 127.0.0.1\r\n"
				  "s=-\r\n"
				  "c=IN IP4 127.0.0.1\r\n"
				  "t=0 0\r\n"
				  "m=audio 40000 RTP/AVP 0 101\r\n"
				  "a=rtpmap:0 PCMU/8000\r\n"
				  "a=rtpmap:101 telephone-event/8000\r\n"
				  "a=fmtp:101 0-16\r\n"
				  "a=sendrecv\r\n";

static const char plain_answer[] = "v=0\r\n"
				   "o=phone 2000 1 IN IP4 127.0.0.1\r\n"
				   "s=-\r\n"
				   "c=IN IP4 127.0.0.1\r\n"
				   "t=0 0\r\n"
				   "m=audio 40010 RTP/AVP 0\r\n"
				   "a=rtpmap:0 PCMU/8000\r\n"
				   "a=sendrecv\r\n";

/* What Chromium offers for a JsSIP call with a microphone (trimmed). */
static const char webrtc_offer[] =
    "v=0\r\n"
    "o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=group:BUNDLE 0\r\n"
    "a=extmap-allow-mixed\r\n"
    "a=msid-semantic: WMS 5d9a3f6c-0b61-4b8e-9d3b-2c1f8a7e6b21\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 0 126\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=rtcp:9 IN IP4 0.0.0.0\r\n"
    "a=candidate:1467250027 1 udp 2122260223 127.0.0.1 46243 typ host "
    "generation 0 network-id 1\r\n"
    "a=ice-ufrag:Xb7k\r\n"
    "a=ice-pwd:4ZcD8jQ2mN5pR7tV9wYa1bCe\r\n"
    "a=ice-options:trickle\r\n"
    "a=fingerprint:sha-256 "
    "7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:"
    "43:F0:A1:58:D0:A1:2C:19:08\r\n"
    "a=setup:actpass\r\n"
    "a=mid:0\r\n"
    "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
    "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
    "a=sendrecv\r\n"
    "a=msid:5d9a3f6c-0b61-4b8e-9d3b-2c1f8a7e6b21 "
    "8c2e4a71-3f5d-4b9a-a6c0-1e2f3d4c5b6a\r\n"
    "a=rtcp-mux\r\n"
    "a=rtpmap:111 opus/48000/2\r\n"
    "a=rtcp-fb:111 transport-cc\r\n"
    "a=fmtp:111 minptime=10;useinbandfec=1\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:126 telephone-event/8000\r\n"
    "a=ssrc:3735928559 cname:q8Hd2kLmP0sTzX4v\r\n";

static void fake_server(void **state)
{
	struct fake f = {0};
	struct media_rtpe_req q = {.call_id = "c",
				   .from_tag = "f",
				   .kind = MEDIA_PLAIN,
				   .sdp = plain_offer,
				   .sdp_len = sizeof(plain_offer) - 1};
	char addr[32], out[512], why[256];
	size_t n = 0;

	(void)state;
	f.fd = udp_bound(&f.port);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", f.port);
	assert_int_equal(pthread_create(&f.th, NULL, fake_run, &f), 0);
	why[0] = '\0';
	assert_int_equal(media_rtpe_offer(addr, 5000, &q, out, sizeof(out), &n,
					  why, sizeof(why)),
			 EPROTO);
	pthread_join(f.th, NULL);
	close(f.fd);
	assert_int_equal(f.got, 2); /* sent again after the first was lost */
	assert_int_equal(n, 0);	    /* outputs only on success */
	assert_non_null(strstr(why, "refused: bad[1mthing"));
	for (const char *p = why; *p; p++)
		assert_true(*p >= 0x20 && *p < 0x7f);
}

static void refusals(void **state)
{
	struct media_rtpe_req q = {.call_id = "c",
				   .from_tag = "f",
				   .kind = MEDIA_PLAIN,
				   .sdp = plain_offer,
				   .sdp_len = sizeof(plain_offer) - 1};
	char out[64], why[256];
	size_t n;
	int port, fd;

	(void)state;
	assert_int_equal(media_rtpe_offer("localhost:2223", 100, &q, out,
					  sizeof(out), &n, why, sizeof(why)),
			 EINVAL);
	assert_true(why[0]);
	assert_int_equal(media_rtpe_offer("127.0.0.1:0", 100, &q, out,
					  sizeof(out), &n, why, sizeof(why)),
			 EINVAL);
	assert_int_equal(media_rtpe_ping(NULL, 100), EINVAL);
	assert_int_equal(media_rtpe_ping("127.0.0.1:1", 0), EINVAL);
	q.call_id = "";
	assert_int_equal(media_rtpe_offer("127.0.0.1:9", 100, &q, out,
					  sizeof(out), &n, why, sizeof(why)),
			 EINVAL);
	q.call_id = "c";
	assert_int_equal(media_rtpe_answer("127.0.0.1:9", 100, &q, out,
					   sizeof(out), &n, why, sizeof(why)),
			 EINVAL); /* an answer needs a to-tag */
	assert_int_equal(
	    media_rtpe_delete("127.0.0.1:9", 100, NULL, "f", why, sizeof(why)),
	    EINVAL);

	/* (e) Nothing listens: retried until the deadline, then ETIMEDOUT
	 * (the ICMP port unreachable is not an answer). */
	fd = udp_bound(&port);
	close(fd);
	{
		char addr[32];
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
		why[0] = '\0';
		assert_int_equal(media_rtpe_offer(addr, 600, &q, out,
						  sizeof(out), &n, why,
						  sizeof(why)),
				 ETIMEDOUT);
		assert_non_null(strstr(why, "no reply from rtpengine"));
		assert_int_equal(media_rtpe_ping(addr, 300), ETIMEDOUT);
		snprintf(addr, sizeof(addr), "[::1]:%d", port);
		assert_int_equal(media_rtpe_ping(addr, 300), ETIMEDOUT);
	}
}

/* ---- a real rtpengine ---- */

static struct {
	pid_t pid;
	char dir[64], log[96], addr[32];
} rt;

static void dump_log(void)
{
	char buf[4096];
	FILE *f = fopen(rt.log, "r");
	size_t n;

	if (!f)
		return;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	fprintf(stderr, "---- rtpengine's log (%s) ----\n%s\n", rt.log, buf);
}

static int rt_start(void **state)
{
	char listen[64], pidfile[96], pmin[32], pmax[32];
	char *argv[] = {RTPENGINE,
			"--config-file=none",
			"--foreground",
			"--table=-1",
			"--interface=127.0.0.1",
			listen,
			"--log-stderr",
			"--log-level=6",
			pidfile,
			pmin,
			pmax,
			"--delete-delay=0",
			NULL};
	posix_spawn_file_actions_t fa;
	int64_t until;
	int port, fd, base;

	(void)state;
	if (access(RTPENGINE, X_OK) != 0) {
		fprintf(stderr,
			"test_media_rtpe: %s is missing: install the Debian "
			"package rtpengine-daemon (deps/debian-packages.txt)\n",
			RTPENGINE);
		return -1;
	}
	snprintf(rt.dir, sizeof(rt.dir), "/tmp/sipward-rtpe-XXXXXX");
	if (!mkdtemp(rt.dir))
		return -1;
	snprintf(rt.log, sizeof(rt.log), "%s/rtpengine.log", rt.dir);
	fd = udp_bound(&port);
	close(fd); /* free now; rtpengine binds it next */
	snprintf(rt.addr, sizeof(rt.addr), "127.0.0.1:%d", port);
	snprintf(listen, sizeof(listen), "--listen-ng=%s", rt.addr);
	snprintf(pidfile, sizeof(pidfile), "--pidfile=%s/pid", rt.dir);
	/* A media range of 200 ports of our own, away from other runs. */
	base = 20000 + (int)(getpid() % 100) * 200;
	snprintf(pmin, sizeof(pmin), "--port-min=%d", base);
	snprintf(pmax, sizeof(pmax), "--port-max=%d", base + 199);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, rt.log,
					 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (posix_spawn(&rt.pid, RTPENGINE, &fa, NULL, argv, environ)) {
		posix_spawn_file_actions_destroy(&fa);
		fprintf(stderr, "test_media_rtpe: cannot start %s\n",
			RTPENGINE);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	until = base_time_mono_ms() + START_MS;
	while (media_rtpe_ping(rt.addr, 200) != 0) {
		if (waitpid(rt.pid, NULL, WNOHANG) == rt.pid ||
		    base_time_mono_ms() >= until) {
			fprintf(stderr,
				"test_media_rtpe: rtpengine did not answer a "
				"ping on %s within %d ms\n",
				rt.addr, START_MS);
			dump_log();
			kill(rt.pid, SIGKILL);
			waitpid(rt.pid, NULL, 0);
			rt.pid = 0;
			return -1;
		}
	}
	return 0;
}

static int rt_stop(void **state)
{
	char path[128];
	int64_t until = base_time_mono_ms() + 5000;

	(void)state;
	if (rt.pid > 0) {
		kill(rt.pid, SIGTERM);
		while (waitpid(rt.pid, NULL, WNOHANG) == 0) {
			if (base_time_mono_ms() >= until) {
				kill(rt.pid, SIGKILL);
				waitpid(rt.pid, NULL, 0);
				break;
			}
			usleep(20000);
		}
		rt.pid = 0;
	}
	snprintf(path, sizeof(path), "%s/pid", rt.dir);
	unlink(path);
	unlink(rt.log);
	rmdir(rt.dir);
	return 0;
}

static void has(const char *sdp, const char *what)
{
	if (!strstr(sdp, what))
		fail_msg("no \"%s\" in:\n%s", what, sdp);
}

static void lacks(const char *sdp, const char *what)
{
	if (strstr(sdp, what))
		fail_msg("\"%s\" in:\n%s", what, sdp);
}

/* (a) A phone's offer made for a browser. */
static void offer_to_webrtc(void **state)
{
	struct media_rtpe_req q = {.call_id = "call-a",
				   .from_tag = "from-a",
				   .kind = MEDIA_WEBRTC,
				   .sdp = plain_offer,
				   .sdp_len = sizeof(plain_offer) - 1};
	char out[4096], why[256];
	size_t n = 0;

	(void)state;
	if (media_rtpe_offer(rt.addr, TIMEOUT_MS, &q, out, sizeof(out), &n, why,
			     sizeof(why)))
		fail_msg("offer: %s", why);
	assert_int_equal(strlen(out), n);
	has(out, " UDP/TLS/RTP/SAVPF 0 101\r\n");
	has(out, "a=ice-ufrag:");
	has(out, "a=ice-pwd:");
	has(out, "a=candidate:");
	has(out, "a=fingerprint:sha-256 ");
	has(out, "a=setup:actpass\r\n");
	has(out, "a=rtcp-mux\r\n");
	has(out, "a=mid:");
	lacks(out, "a=crypto:");
	lacks(out, "RTP/AVP");
	/* Too small a buffer for it. */
	q.call_id = "call-a2";
	why[0] = '\0';
	assert_int_equal(media_rtpe_offer(rt.addr, TIMEOUT_MS, &q, out, 100, &n,
					  why, sizeof(why)),
			 EMSGSIZE);
	assert_true(why[0]);
	assert_int_equal(media_rtpe_delete(rt.addr, TIMEOUT_MS, "call-a",
					   "from-a", why, sizeof(why)),
			 0);
	assert_int_equal(media_rtpe_delete(rt.addr, TIMEOUT_MS, "call-a2",
					   "from-a", why, sizeof(why)),
			 0);
}

/* (b), (c), (d): a browser calls a phone, the phone answers, hang up. */
static void webrtc_to_plain(void **state)
{
	struct media_rtpe_req q = {.call_id = "call-b",
				   .from_tag = "from-b",
				   .kind = MEDIA_PLAIN,
				   .sdp = webrtc_offer,
				   .sdp_len = sizeof(webrtc_offer) - 1};
	char out[4096], why[256];
	size_t n = 0;

	(void)state;
	if (media_rtpe_offer(rt.addr, TIMEOUT_MS, &q, out, sizeof(out), &n, why,
			     sizeof(why)))
		fail_msg("offer: %s", why);
	has(out, "m=audio ");
	has(out, " RTP/AVP 111 0 126\r\n");
	has(out, "c=IN IP4 127.0.0.1\r\n");
	lacks(out, "SAVP");
	lacks(out, "a=ice-");
	lacks(out, "a=candidate");
	lacks(out, "a=fingerprint");
	lacks(out, "a=setup");
	lacks(out, "a=crypto");
	lacks(out, "a=rtcp-mux");
	lacks(out, "0.0.0.0");

	q.to_tag = "to-b";
	q.kind = MEDIA_WEBRTC;
	q.sdp = plain_answer;
	q.sdp_len = sizeof(plain_answer) - 1;
	if (media_rtpe_answer(rt.addr, TIMEOUT_MS, &q, out, sizeof(out), &n,
			      why, sizeof(why)))
		fail_msg("answer: %s", why);
	has(out, " UDP/TLS/RTP/SAVPF 0\r\n");
	has(out, "a=setup:active\r\n");
	has(out, "a=fingerprint:sha-256 ");
	has(out, "a=ice-ufrag:");
	has(out, "a=candidate:");
	has(out, "a=rtcp-mux\r\n");
	has(out, "a=mid:0\r\n"); /* the browser's own mid */
	lacks(out, "a=crypto:");

	assert_int_equal(media_rtpe_delete(rt.addr, TIMEOUT_MS, "call-b",
					   "from-b", why, sizeof(why)),
			 0);
	why[0] = '\0';
	assert_int_equal(media_rtpe_delete(rt.addr, TIMEOUT_MS, "call-b",
					   "from-b", why, sizeof(why)),
			 ENOENT);
	has(why, "not found");
}

/* rtpengine's own refusals come back as EPROTO with its reason. */
static void rtpengine_errors(void **state)
{
	struct media_rtpe_req q = {.call_id = "call-x",
				   .from_tag = "from-x",
				   .to_tag = "to-x",
				   .kind = MEDIA_PLAIN,
				   .sdp = plain_answer,
				   .sdp_len = sizeof(plain_answer) - 1};
	char out[4096], why[256];
	size_t n = 0;

	(void)state;
	why[0] = '\0';
	assert_int_equal(media_rtpe_answer(rt.addr, TIMEOUT_MS, &q, out,
					   sizeof(out), &n, why, sizeof(why)),
			 EPROTO);
	has(why, "Unknown call-id");
	q.sdp = "garbage";
	q.sdp_len = 7;
	assert_int_equal(media_rtpe_offer(rt.addr, TIMEOUT_MS, &q, out,
					  sizeof(out), &n, why, sizeof(why)),
			 EPROTO);
	has(why, "Failed to parse SDP");
}

/* (f) Offers from several worker threads at once. */
#define THREADS 4
#define PER_THREAD 5

struct worker {
	int id, failures;
	char why[256];
};

static void *work(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < PER_THREAD; i++) {
		char cid[32], out[4096], why[256];
		struct media_rtpe_req q = {
		    .call_id = cid,
		    .from_tag = "from-t",
		    .kind = i % 2 ? MEDIA_WEBRTC : MEDIA_PLAIN,
		    .sdp = i % 2 ? plain_offer : webrtc_offer,
		    .sdp_len = i % 2 ? sizeof(plain_offer) - 1
				     : sizeof(webrtc_offer) - 1};
		size_t n;
		snprintf(cid, sizeof(cid), "call-t%d-%d", w->id, i);
		if (media_rtpe_offer(rt.addr, TIMEOUT_MS, &q, out, sizeof(out),
				     &n, why, sizeof(why)) ||
		    !strstr(out, i % 2 ? "SAVPF" : "RTP/AVP") ||
		    media_rtpe_delete(rt.addr, TIMEOUT_MS, cid, "from-t", why,
				      sizeof(why))) {
			w->failures++;
			snprintf(w->why, sizeof(w->why), "%s", why);
		}
	}
	return NULL;
}

static void concurrent(void **state)
{
	pthread_t th[THREADS];
	struct worker w[THREADS];

	(void)state;
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){.id = i};
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < THREADS; i++)
		if (w[i].failures)
			fail_msg("thread %d: %d failures, last: %s", i,
				 w[i].failures, w[i].why);
}

int main(void)
{
	const struct CMUnitTest pure[] = {
	    cmocka_unit_test(encode_round_trip), cmocka_unit_test(decode_valid),
	    cmocka_unit_test(decode_hostile),	 cmocka_unit_test(fake_server),
	    cmocka_unit_test(refusals),
	};
	const struct CMUnitTest real[] = {
	    cmocka_unit_test(offer_to_webrtc),
	    cmocka_unit_test(webrtc_to_plain),
	    cmocka_unit_test(rtpengine_errors),
	    cmocka_unit_test(concurrent),
	};
	int failed =
	    cmocka_run_group_tests_name("bencode and client", pure, NULL, NULL);

	failed += cmocka_run_group_tests_name("against rtpengine", real,
					      rt_start, rt_stop);
	return failed ? 1 : 0;
}
