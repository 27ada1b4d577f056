/* sdp.c - SDP edits for the B2BUA: refusing video streams (see sdp.h). */
#include "sip/sdp.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

/*
 * When [s, e) is an m= line of media type video, sets [*ps, *pe) to its
 * port digits and returns 0; returns ENOENT for any other line and EINVAL
 * for an m=video line without a port.
 */
static int video_port(const char *s, const char *e, const char **ps,
		      const char **pe)
{
	const char *p;

	if (e - s < 8 || s[0] != 'm' || s[1] != '=' ||
	    strncasecmp(s + 2, "video", 5) != 0 || s[7] != ' ')
		return ENOENT;
	p = s + 8;
	*ps = p;
	while (p < e && *p >= '0' && *p <= '9')
		p++;
	if (p == *ps || p == e || (*p != ' ' && *p != '/'))
		return EINVAL;
	*pe = p;
	return 0;
}

/*
 * One pass over the lines of in: counts the bytes out into *n, and when
 * out is set writes them (memmove: out may be in, never ahead of it).
 */
static int edit(const char *in, size_t len, char *out, size_t *n)
{
	const char *p = in, *end = in + len;
	size_t w = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl + 1 : end; /* the line, its LF too */
		const char *ps, *pe;
		int err = video_port(p, nl ? nl : end, &ps, &pe);

		if (err == EINVAL)
			return err;
		if (err == 0) {
			/* "m=video " + "0" + the rest from after the digits */
			if (out) {
				memmove(out + w, p, (size_t)(ps - p));
				out[w + (size_t)(ps - p)] = '0';
				memmove(out + w + (size_t)(ps - p) + 1, pe,
					(size_t)(le - pe));
			}
			w += (size_t)(ps - p) + 1 + (size_t)(le - pe);
		} else {
			if (out)
				memmove(out + w, p, (size_t)(le - p));
			w += (size_t)(le - p);
		}
		p = le;
	}
	*n = w;
	return 0;
}

int sip_sdp_refuse_video(const char *in, size_t len, char *out, size_t cap,
			 size_t *outlen)
{
	size_t n;
	int err;

	if (!in || len < 2 || in[0] != 'v' || in[1] != '=' ||
	    memchr(in, '\0', len))
		return EINVAL;
	err = edit(in, len, NULL, &n);
	if (err)
		return err;
	if (n > cap)
		return ERANGE;
	edit(in, len, out, &n);
	*outlen = n;
	return 0;
}
