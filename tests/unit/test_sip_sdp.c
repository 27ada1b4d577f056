/* test_sip_sdp.c - unit tests for src/sip/sdp.c: refusing video streams. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sip/sdp.h"

/* Runs the edit on a copy of in (malloc'd to its length, so ASan sees any
 * read past it) into an output of cap bytes; checks the result text. */
static void expect(const char *in, size_t cap, int rc, const char *want)
{
	size_t len = strlen(in), outlen = 12345;
	char *src = malloc(len ? len : 1), *out = malloc(cap ? cap : 1);

	assert_non_null(src);
	assert_non_null(out);
	memcpy(src, in, len);
	memset(out, '#', cap ? cap : 1);
	assert_int_equal(sip_sdp_refuse_video(src, len, out, cap, &outlen), rc);
	if (rc == 0) {
		assert_int_equal(outlen, strlen(want));
		assert_memory_equal(out, want, outlen);
	} else {
		/* nothing written on failure */
		assert_int_equal(outlen, 12345);
		for (size_t i = 0; i < cap; i++)
			assert_int_equal(out[i], '#');
	}
	free(src);
	free(out);
}

static const char audio_only[] = "v=0\r\n"
				 "o=- 20518 0 IN IP4 192.0.2.1\r\n"
				 "s=-\r\n"
				 "c=IN IP4 192.0.2.1\r\n"
				 "t=0 0\r\n"
				 "m=audio 49170 RTP/AVP 0 8 101\r\n"
				 "a=rtpmap:101 telephone-event/8000\r\n"
				 "a=sendrecv\r\n";

static void test_audio_only_unchanged(void **state)
{
	(void)state;
	expect(audio_only, sizeof(audio_only), 0, audio_only);
	/* exactly enough room */
	expect(audio_only, strlen(audio_only), 0, audio_only);
	/* one byte short */
	expect(audio_only, strlen(audio_only) - 1, ERANGE, NULL);
}

static void test_audio_video(void **state)
{
	(void)state;
	expect("v=0\r\n"
	       "o=- 1 1 IN IP4 192.0.2.1\r\n"
	       "s=call\r\n"
	       "c=IN IP4 192.0.2.1\r\n"
	       "t=0 0\r\n"
	       "m=audio 49170 RTP/AVP 0\r\n"
	       "a=rtpmap:0 PCMU/8000\r\n"
	       "m=video 51372 RTP/AVP 31 32\r\n"
	       "a=rtpmap:31 H261/90000\r\n"
	       "a=rtpmap:32 MPV/90000\r\n",
	       4096, 0,
	       "v=0\r\n"
	       "o=- 1 1 IN IP4 192.0.2.1\r\n"
	       "s=call\r\n"
	       "c=IN IP4 192.0.2.1\r\n"
	       "t=0 0\r\n"
	       "m=audio 49170 RTP/AVP 0\r\n"
	       "a=rtpmap:0 PCMU/8000\r\n"
	       "m=video 0 RTP/AVP 31 32\r\n"
	       "a=rtpmap:31 H261/90000\r\n"
	       "a=rtpmap:32 MPV/90000\r\n");
}

/* Two video lines (a browser's camera and screen), LF line ends, a port
 * count, an already refused one, a media type in capitals. */
static void test_two_video_lf(void **state)
{
	(void)state;
	expect("v=0\n"
	       "o=- 46117 2 IN IP4 127.0.0.1\n"
	       "s=-\n"
	       "t=0 0\n"
	       "a=group:BUNDLE 0 1 2\n"
	       "m=audio 9 UDP/TLS/RTP/SAVPF 111\n"
	       "a=mid:0\n"
	       "m=video 9 UDP/TLS/RTP/SAVPF 96 97\n"
	       "a=mid:1\n"
	       "m=video 50000/2 RTP/AVP 98\n"
	       "a=mid:2\n"
	       "m=VIDEO 7 RTP/AVP 99\n"
	       "m=video 0 RTP/AVP 100\n"
	       "a=m=video 1234 x\n",
	       4096, 0,
	       "v=0\n"
	       "o=- 46117 2 IN IP4 127.0.0.1\n"
	       "s=-\n"
	       "t=0 0\n"
	       "a=group:BUNDLE 0 1 2\n"
	       "m=audio 9 UDP/TLS/RTP/SAVPF 111\n"
	       "a=mid:0\n"
	       "m=video 0 UDP/TLS/RTP/SAVPF 96 97\n"
	       "a=mid:1\n"
	       "m=video 0/2 RTP/AVP 98\n"
	       "a=mid:2\n"
	       "m=VIDEO 0 RTP/AVP 99\n"
	       "m=video 0 RTP/AVP 100\n"
	       "a=m=video 1234 x\n");
}

/* Mixed line ends, no final line end, other media types kept. */
static void test_line_ends(void **state)
{
	(void)state;
	expect("v=0\r\nm=video 5000 RTP/AVP 96\nm=videox 5002 RTP/AVP 9\r\n"
	       "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
	       "m=video 5004 RTP/AVP 97",
	       4096, 0,
	       "v=0\r\nm=video 0 RTP/AVP 96\nm=videox 5002 RTP/AVP 9\r\n"
	       "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
	       "m=video 0 RTP/AVP 97");
	expect("v=0", 3, 0, "v=0");
	expect("v=\n", 3, 0, "v=\n");
}

static void test_refused(void **state)
{
	static const char *const bad[] = {
	    "",
	    "v",
	    "o=- 1 1 IN IP4 192.0.2.1\r\nv=0\r\n", /* v= not first */
	    "\r\nv=0\r\n",
	    " v=0\r\n",
	    "V=0\r\n",
	    "<html>v=0</html>",
	    "v=0\r\nm=video RTP/AVP 96\r\n", /* no port */
	    "v=0\r\nm=video  5000 RTP/AVP 96\r\n",
	    "v=0\r\nm=video 5000\r\n",
	    "v=0\r\nm=video 5000",
	    "v=0\r\nm=video 50a0 RTP/AVP 96\r\n",
	    "v=0\r\nm=video -1 RTP/AVP 96\r\n",
	    "v=0\r\nm=video ",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect(bad[i], 4096, EINVAL, NULL);

	/* a NUL anywhere */
	{
		static const char nul[] =
		    "v=0\r\ns=a\0b\r\nm=audio 1 RTP/AVP 0\r\n";
		char out[64];
		size_t n = 0;

		assert_int_equal(sip_sdp_refuse_video(nul, sizeof(nul) - 1, out,
						      sizeof(out), &n),
				 EINVAL);
		assert_int_equal(
		    sip_sdp_refuse_video(NULL, 0, out, sizeof(out), &n),
		    EINVAL);
	}
}

/* The output shrinks by the port's digits less one; the cap is checked
 * against that, not the input's length. */
static void test_cap(void **state)
{
	static const char in[] = "v=0\r\nm=video 51372 RTP/AVP 31\r\n";
	static const char want[] = "v=0\r\nm=video 0 RTP/AVP 31\r\n";

	(void)state;
	expect(in, sizeof(want) - 1, 0, want);
	expect(in, sizeof(want) - 2, ERANGE, NULL);
	expect(in, 0, ERANGE, NULL);
}

/* out may be in: an edit in place gives the same text. */
static void test_in_place(void **state)
{
	char buf[256];
	static const char in[] = "v=0\nm=video 51372 RTP/AVP 31\n"
				 "m=audio 4000 RTP/AVP 0\nm=video 6 RTP/AVP 9\n"
				 "a=x\n";
	static const char want[] = "v=0\nm=video 0 RTP/AVP 31\n"
				   "m=audio 4000 RTP/AVP 0\nm=video 0 RTP/AVP "
				   "9\na=x\n";
	size_t n;

	(void)state;
	memcpy(buf, in, sizeof(in) - 1);
	assert_int_equal(
	    sip_sdp_refuse_video(buf, sizeof(in) - 1, buf, sizeof(buf), &n), 0);
	assert_int_equal(n, sizeof(want) - 1);
	assert_memory_equal(buf, want, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_audio_only_unchanged),
	    cmocka_unit_test(test_audio_video),
	    cmocka_unit_test(test_two_video_lf),
	    cmocka_unit_test(test_line_ends),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_cap),
	    cmocka_unit_test(test_in_place),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
