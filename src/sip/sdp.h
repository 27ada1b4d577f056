/*
 * sdp.h - the few SDP (RFC 4566, RFC 3264) edits a B2BUA makes to the
 * bodies it passes between its legs. Text in, text out: nothing is parsed
 * beyond the lines an edit touches, and every other byte is kept.
 */
#ifndef SIP_SDP_H
#define SIP_SDP_H

#include <stddef.h>

/*
 * Copies the SDP body in (len bytes) to out (cap bytes), refusing every
 * video stream (RFC 3264 section 6): the port of each `m=video` line (the
 * media type matched case-insensitively) becomes 0, and the rest of that
 * line ("/2" port counts, the transport, the formats) and every other line
 * are kept byte for byte, LF or CRLF line ends alike. *outlen is the
 * length written (at most len; out is not NUL-terminated). out may be in
 * itself (an in-place edit). Returns 0, EINVAL when in does not look like
 * SDP (its first line is not `v=...`, it holds a NUL, or an m=video line
 * has no port digits followed by a space or '/'), or ERANGE when cap is
 * too small; *outlen and out are written only on success.
 */
int sip_sdp_refuse_video(const char *in, size_t len, char *out, size_t cap,
			 size_t *outlen);

#endif
