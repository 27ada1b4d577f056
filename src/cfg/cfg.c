/*
 * cfg.c - the one table of every option (type, default, bounds, check,
 * secrecy, documentation) and its three sources (file, environment,
 * flags). `sipward --help` and the table of docs/config.md are printed
 * from it (cfg_print_help, cfg_print_markdown).
 */
#include "cfg/cfg.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/addr.h"
#include "base/log.h"

enum opt_type { OPT_STR, OPT_INT };

struct opt {
	const char *name;
	enum opt_type type;
	size_t off;
	const char *def;
	long min, max;	  /* integers: inclusive bounds */
	const char *form; /* strings: the accepted form, for the docs */
	/*
	 * Checks the final value (after every source) and, for rules between
	 * options, the others it depends on: 0, or EINVAL with one sentence
	 * in err.
	 */
	int (*check)(const struct cfg *c, const struct opt *o, char *err,
		     size_t cap);
	bool secret; /* never printed or logged */
	bool empty;  /* strings: "" may be set (to turn a default off) */
	const char *doc;
};

/* The value of string option o in c. */
static const char *str_of(const struct cfg *c, const struct opt *o)
{
	return (const char *)c + o->off;
}

static int check_db(const struct cfg *c, const struct opt *o, char *err,
		    size_t cap)
{
	const char *v = str_of(c, o);

	if ((strncmp(v, "sqlite:", 7) == 0 && v[7]) ||
	    strncmp(v, "postgresql://", 13) == 0 ||
	    strncmp(v, "postgres://", 11) == 0)
		return 0;
	snprintf(err, cap,
		 "db: unsupported database URL (use sqlite:PATH or "
		 "postgresql://...)");
	return EINVAL;
}

static int check_addr(const struct cfg *c, const struct opt *o, char *err,
		      size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	if (base_addr_parse(str_of(c, o), &ss, &sl) == 0)
		return 0;
	snprintf(err, cap, "%s: not a numeric HOST:PORT: '%.64s'", o->name,
		 str_of(c, o));
	return EINVAL;
}

/* "" or a numeric host with an optional port, not a wildcard address. */
static int check_advertise(const struct cfg *c, const struct opt *o, char *err,
			   size_t cap)
{
	const char *v = str_of(c, o);
	struct sockaddr_storage ss;
	socklen_t sl;
	char hp[CFG_STR_MAX + 8];
	bool ok;

	if (!v[0])
		return 0;
	ok = base_addr_parse(v, &ss, &sl) == 0;
	if (!ok) {
		snprintf(hp, sizeof(hp), "%s:5060", v);
		ok = base_addr_parse(hp, &ss, &sl) == 0;
	}
	if (ok && !strchr(v, '[') && strchr(v, ':') &&
	    strchr(v, ':') != strrchr(v, ':'))
		ok = false; /* IPv6 takes brackets */
	if (ok && (strncmp(v, "0.0.0.0", 7) == 0 || strncmp(v, "[::]", 4) == 0))
		ok = false;
	if (ok)
		return 0;
	snprintf(err, cap,
		 "%s: not a numeric HOST or HOST:PORT of this node: '%.64s'",
		 o->name, v);
	return EINVAL;
}

/* "" (off) or a numeric HOST:PORT. */
static int check_addr_opt(const struct cfg *c, const struct opt *o, char *err,
			  size_t cap)
{
	return str_of(c, o)[0] ? check_addr(c, o, err, cap) : 0;
}

/* Like check_addr_opt, and never the API's own address. */
static int check_admin(const struct cfg *c, const struct opt *o, char *err,
		       size_t cap)
{
	const char *v = str_of(c, o), *port = strrchr(v, ':');
	int rc = check_addr_opt(c, o, err, cap);

	if (!rc && v[0] && strcmp(v, c->http) == 0 && port &&
	    strcmp(port, ":0") != 0) {
		snprintf(err, cap,
			 "%s: the admin listener cannot share the API's "
			 "address '%.64s'",
			 o->name, v);
		rc = EINVAL;
	}
	return rc;
}

/* "" or an absolute path. */
static int check_log_file(const struct cfg *c, const struct opt *o, char *err,
			  size_t cap)
{
	const char *v = str_of(c, o);

	if (!v[0] || v[0] == '/')
		return 0;
	snprintf(err, cap, "%s: must be an absolute path: '%.64s'", o->name, v);
	return EINVAL;
}

static int check_log_level(const struct cfg *c, const struct opt *o, char *err,
			   size_t cap)
{
	enum base_log_level lvl;

	if (base_log_level_parse(str_of(c, o), &lvl) == 0)
		return 0;
	snprintf(err, cap, "log_level: must be debug, info, warn or error");
	return EINVAL;
}

static int check_log_format(const struct cfg *c, const struct opt *o, char *err,
			    size_t cap)
{
	enum base_log_format f;

	if (base_log_format_parse(str_of(c, o), &f) == 0)
		return 0;
	snprintf(err, cap, "log_format: must be logfmt or json");
	return EINVAL;
}

static int check_nonce_secret(const struct cfg *c, const struct opt *o,
			      char *err, size_t cap)
{
	const char *v = str_of(c, o);
	size_t n = strlen(v);

	if (strcmp(v, "auto") == 0 || (n >= 16 && n <= 64))
		return 0;
	/* Never the value: it is a secret. */
	snprintf(err, cap,
		 "sip_nonce_secret: must be auto or 16-64 characters");
	return EINVAL;
}

static int check_secret_key(const struct cfg *c, const struct opt *o, char *err,
			    size_t cap)
{
	const char *v = str_of(c, o);
	size_t n = strlen(v);
	bool hex = n == 64;

	for (size_t i = 0; hex && i < n; i++)
		hex = isxdigit((unsigned char)v[i]) != 0;
	if (strcmp(v, "none") == 0 || hex)
		return 0;
	/* Never the value: it is a secret. */
	snprintf(err, cap,
		 "secret_key: must be none or 64 hex digits (32 bytes)");
	return EINVAL;
}

static int check_algs(const struct cfg *c, const struct opt *o, char *err,
		      size_t cap)
{
	const char *p = str_of(c, o);
	bool seen[2] = {false, false};
	unsigned n = 0;

	while (*p) {
		size_t k = strcspn(p, ", ");
		int i = k == 3 && strncasecmp(p, "MD5", 3) == 0	      ? 0
			: k == 7 && strncasecmp(p, "SHA-256", 7) == 0 ? 1
								      : -1;
		if (k && (i < 0 || seen[i]))
			goto bad;
		if (k) {
			seen[i] = true;
			n++;
		}
		p += k;
		p += strspn(p, ", ");
	}
	if (n)
		return 0;
bad:
	snprintf(err, cap,
		 "sip_digest_algorithms: use MD5, SHA-256 or both, each once");
	return EINVAL;
}

/* A boolean option: true or false. */
static int check_bool(const struct cfg *c, const struct opt *o, char *err,
		      size_t cap)
{
	const char *v = (const char *)c + o->off;

	if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0)
		return 0;
	snprintf(err, cap, "%s: use true or false", o->name);
	return EINVAL;
}

/* sip_gateway: empty, or sip:IP:PORT (a numeric address). */
static int check_gateway(const struct cfg *c, const struct opt *o, char *err,
			 size_t cap)
{
	const char *v = (const char *)c + o->off;
	struct sockaddr_storage ss;
	socklen_t sl;

	if (!v[0])
		return 0;
	if (strncmp(v, "sip:", 4) == 0 && base_addr_parse(v + 4, &ss, &sl) == 0)
		return 0;
	snprintf(err, cap,
		 "%s: use sip:IP:PORT, e.g. sip:192.0.2.10:5060 or "
		 "sip:[2001:db8::1]:5060",
		 o->name);
	return EINVAL;
}

/* dns_servers: empty, or up to 8 comma-separated a.b.c.d[:PORT] or
 * [v6]:PORT (the form c-ares takes). */
static int check_dns_servers(const struct cfg *c, const struct opt *o,
			     char *err, size_t cap)
{
	const char *p = (const char *)c + o->off;
	unsigned n = 0;

	while (*p) {
		char item[80];
		size_t k = strcspn(p, ",");
		struct sockaddr_storage ss;
		socklen_t sl;
		struct in_addr a4;

		if (k == 0 || k >= sizeof(item) || ++n > 8)
			goto bad;
		memcpy(item, p, k);
		item[k] = '\0';
		if (base_addr_parse(item, &ss, &sl) != 0 &&
		    inet_pton(AF_INET, item, &a4) != 1)
			goto bad;
		p += k;
		if (*p == ',' && *++p == '\0')
			goto bad;
	}
	return 0;
bad:
	snprintf(err, cap,
		 "%s: use up to 8 comma-separated a.b.c.d, a.b.c.d:PORT or "
		 "[v6]:PORT, e.g. 192.0.2.53,127.0.0.1:5353",
		 o->name);
	return EINVAL;
}

/* sip_min_expires <= sip_default_expires <= sip_max_expires. */
static int check_expires(const struct cfg *c, const struct opt *o, char *err,
			 size_t cap)
{
	(void)o;
	if (c->sip_min_expires > c->sip_max_expires) {
		snprintf(err, cap,
			 "sip_min_expires (%ld) exceeds sip_max_expires (%ld)",
			 c->sip_min_expires, c->sip_max_expires);
		return EINVAL;
	}
	if (c->sip_default_expires < c->sip_min_expires ||
	    c->sip_default_expires > c->sip_max_expires) {
		snprintf(err, cap,
			 "sip_default_expires (%ld) must be between "
			 "sip_min_expires (%ld) and sip_max_expires (%ld)",
			 c->sip_default_expires, c->sip_min_expires,
			 c->sip_max_expires);
		return EINVAL;
	}
	return 0;
}

static const struct opt opts[] = {
    {.name = "db",
     .type = OPT_STR,
     .off = offsetof(struct cfg, db),
     .def = "sqlite:sipward.db",
     .form = "`sqlite:PATH` or `postgresql://...` (also `postgres://`)",
     .check = check_db,
     .doc = "the store: `sqlite:PATH` (relative to the working directory) or "
	    "a libpq URI `postgresql://user:password@host:port/db?...`; any "
	    "other value makes `serve`, `account create` and `db copy` exit "
	    "with status 2. The URI's password is never logged"},
    {.name = "http",
     .type = OPT_STR,
     .off = offsetof(struct cfg, http),
     .def = "127.0.0.1:8080",
     .form = "numeric `a.b.c.d:PORT` or `[v6]:PORT`",
     .check = check_addr,
     .doc = "REST API listen address. Host names such as `localhost` are "
	    "refused. Port 0 picks a free port; the `event=started` log line "
	    "gives it as `http_port`"},
    {.name = "sip",
     .type = OPT_STR,
     .off = offsetof(struct cfg, sip),
     .def = "127.0.0.1:5060",
     .form = "same form as `http`",
     .check = check_addr,
     .doc = "SIP registrar listen address, UDP and TCP on the same port. Port"
	    " 0 picks a free port; the `event=started` log line gives it as "
	    "`sip_port`"},
    {.name = "sip_advertise",
     .type = OPT_STR,
     .off = offsetof(struct cfg, sip_advertise),
     .def = "",
     .empty = true,
     .form = "empty, or numeric `a.b.c.d[:PORT]` or `[v6][:PORT]`",
     .check = check_advertise,
     .doc = "this node's SIP address as the other nodes reach it, for a "
	    "node that listens on a wildcard address (`0.0.0.0`, `[::]`); "
	    "the port defaults to the `sip` port. Empty: the `sip` address "
	    "itself, and none with a wildcard. A phone registered over TCP "
	    "is reached by the other nodes through this address (its binding's"
	    " path, see calls.md); without one, only through this node. Our "
	    "Via and Contact name its host"},
    {.name = "sip_tls",
     .type = OPT_STR,
     .off = offsetof(struct cfg, sip_tls),
     .def = "",
     .empty = true,
     .form = "empty, or same form as `http`",
     .check = check_addr_opt,
     .doc = "SIP over TLS (RFC 3261 26.2, TLS 1.2 or later) listen address; "
	    "empty: none. Needs `tls_cert_file` and `tls_key_file`. Phones "
	    "register with `;transport=tls` and are shown with transport "
	    "`TLS`"},
    {.name = "sip_ws",
     .type = OPT_STR,
     .off = offsetof(struct cfg, sip_ws),
     .def = "",
     .empty = true,
     .form = "empty, or same form as `http`",
     .check = check_addr_opt,
     .doc = "SIP over WebSocket (RFC 7118) listen address, any request "
	    "path, subprotocol `sip` only; empty: none. Shown with transport "
	    "`WS`"},
    {.name = "sip_wss",
     .type = OPT_STR,
     .off = offsetof(struct cfg, sip_wss),
     .def = "",
     .empty = true,
     .form = "empty, or same form as `http`",
     .check = check_addr_opt,
     .doc = "SIP over secure WebSocket (WebSocket in TLS) listen address, "
	    "what browsers use (`wss://host:port`); empty: none. Needs "
	    "`tls_cert_file` and `tls_key_file`. Shown with transport `WSS`"},
    {.name = "tls_cert_file",
     .type = OPT_STR,
     .off = offsetof(struct cfg, tls_cert_file),
     .def = "",
     .empty = true,
     .form = "a path to a PEM file, or empty",
     .doc = "the certificate chain (PEM, the server's certificate first) of"
	    " `sip_tls` and `sip_wss`. Read at start and again on SIGHUP: "
	    "new connections get the new certificate, open ones, calls and "
	    "registrations carry on; a file that does not load keeps the old"
	    " one (logged `event=tls_reload_failed`)"},
    {.name = "tls_key_file",
     .type = OPT_STR,
     .off = offsetof(struct cfg, tls_key_file),
     .def = "",
     .empty = true,
     .form = "a path to a PEM file, or empty",
     .doc = "the private key (PEM, unencrypted) of `tls_cert_file`; read "
	    "with it. Never logged"},
    {.name = "sip_ws_ping",
     .type = OPT_INT,
     .off = offsetof(struct cfg, sip_ws_ping),
     .def = "30",
     .min = 0,
     .max = 3600,
     .doc = "seconds of silence after which a WebSocket connection gets a "
	    "ping frame (browsers answer it without their page's help, which"
	    " keeps NAT bindings and `sip_tcp_idle` from closing it); 0: "
	    "never"},
    {.name = "sip_udp_rcvbuf",
     .type = OPT_INT,
     .off = offsetof(struct cfg, sip_udp_rcvbuf),
     .def = "4194304",
     .min = 0,
     .max = 268435456,
     .doc = "bytes of the SIP UDP socket's receive buffer, where a burst of"
	    " REGISTERs (phones coming back after a power cut) waits while "
	    "they are handled; what does not fit is dropped by the kernel and"
	    " costs each phone a retransmission. Above "
	    "`net.core.rmem_max` it needs root (or CAP_NET_ADMIN); the size "
	    "obtained is logged (`event=sip_udp_rcvbuf`, a warning when "
	    "smaller). 0: the kernel's default (about 208 KiB)"},
    {.name = "rtpengine_ng",
     .type = OPT_STR,
     .off = offsetof(struct cfg, rtpengine_ng),
     .def = "127.0.0.1:22222",
     .form = "empty, or same form as `http`",
     .empty = true,
     .check = check_addr_opt,
     .doc = "rtpengine's ng control address (UDP). Calls between a "
	    "WebRTC leg (WS, WSS, or an `RTP/SAVPF` offer) and a plain RTP "
	    "leg have their media bridged by it; when it does not answer "
	    "within `rtpengine_timeout`, the leg to such a callee fails as if "
	    "it had answered `503` (the caller gets `500`, a Dial's action "
	    "`DialStatus=failed`), logged `event=rtpengine_failed` with "
	    "rtpengine's reason; nothing waits longer. Empty: never used, SDP "
	    "passes untouched"},
    {.name = "rtpengine_always",
     .type = OPT_STR,
     .off = offsetof(struct cfg, rtpengine_always),
     .def = "false",
     .form = "`true` or `false`",
     .check = check_bool,
     .doc = "`true`: every call's media goes through rtpengine (phones "
	    "behind NAT), not only calls between WebRTC and plain RTP"},
    {.name = "rtpengine_timeout",
     .type = OPT_INT,
     .off = offsetof(struct cfg, rtpengine_timeout),
     .def = "2",
     .min = 1,
     .max = 30,
     .doc = "seconds one rtpengine request may take, its retransmissions "
	    "included"},
    {.name = "domain",
     .type = OPT_STR,
     .off = offsetof(struct cfg, domain),
     .def = "sipward.localhost",
     .form = "1-253 characters in dot-separated labels of 1-63 letters, digits"
	     " and `-`, no `-` at either end of a label; stored in lower case",
     .doc = "SIP domain of accounts created by `account create` and of the "
	    "first account that `serve` creates. It is checked only when an "
	    "account is created"},
    {.name = "log_level",
     .type = OPT_STR,
     .off = offsetof(struct cfg, log_level),
     .def = "info",
     .form = "`debug`, `info`, `warn`, `error`",
     .check = check_log_level,
     .doc = "lowest level written. Logs are logfmt lines on stderr (or "
	    "JSON: `log_format`)"},
    {.name = "log_format",
     .type = OPT_STR,
     .off = offsetof(struct cfg, log_format),
     .def = "logfmt",
     .form = "`logfmt`, `json`",
     .check = check_log_format,
     .doc = "how log lines are written: `logfmt` (`ts=... level=info "
	    "event=http_request api_id=...`) or `json`, one object a line "
	    "with the same keys in the same order (`ts`, `level`, `event`, "
	    "then the event's fields), every value a string, control bytes "
	    "escaped and invalid UTF-8 as U+FFFD; a line stays one `write` "
	    "of at most 4096 bytes"},
    {.name = "body_max",
     .type = OPT_INT,
     .off = offsetof(struct cfg, body_max),
     .def = "65536",
     .min = 64,
     .max = 16777216,
     .doc = "largest request body in bytes. A larger one gets 413"},
    {.name = "http_threads",
     .type = OPT_INT,
     .off = offsetof(struct cfg, http_threads),
     .def = "0",
     .min = 0,
     .max = 256,
     .doc = "HTTP read workers (GET, HEAD). 0 means 4 per online CPU. Their "
	    "queue holds 64 requests per thread; past that a request is "
	    "answered 503 with `Retry-After`"},
    {.name = "http_write_threads",
     .type = OPT_INT,
     .off = offsetof(struct cfg, http_write_threads),
     .def = "0",
     .min = 0,
     .max = 1024,
     .doc = "HTTP workers for every other method. 0 means 16 per online CPU: "
	    "a write waits for its group commit, so more threads make fuller "
	    "groups (one fsync for many writes). Their queue holds 16 "
	    "requests per thread; past that a request is answered 503 with "
	    "`Retry-After`"},
    {.name = "http_conn_max",
     .type = OPT_INT,
     .off = offsetof(struct cfg, http_conn_max),
     .def = "4096",
     .min = 1,
     .max = 65536,
     .doc = "most concurrent HTTP connections; at the limit the connection "
	    "idle longest is closed to make room for a new one"},
    {.name = "http_conn_per_addr",
     .type = OPT_INT,
     .off = offsetof(struct cfg, http_conn_per_addr),
     .def = "64",
     .min = 1,
     .max = 65536,
     .doc = "most concurrent HTTP connections from one client address; more "
	    "are closed at once"},
    {.name = "admin_http",
     .type = OPT_STR,
     .off = offsetof(struct cfg, admin_http),
     .def = "127.0.0.1:9091",
     .empty = true,
     .form = "empty, or same form as `http`",
     .check = check_admin,
     .doc = "admin listen address: `GET /metrics` (Prometheus), `/healthz`, "
	    "`/readyz`, without authentication, so keep it on loopback or a "
	    "private network; empty: none. Must differ from `http`. Port 0 "
	    "picks a free port (`admin_port` in the `event=started` line)"},
    {.name = "ready_timeout",
     .type = OPT_INT,
     .off = offsetof(struct cfg, ready_timeout),
     .def = "2",
     .min = 1,
     .max = 60,
     .doc = "seconds the store has to answer `/readyz`'s query before the "
	    "node is reported not ready (`503`)"},
    {.name = "shutdown_timeout",
     .type = OPT_INT,
     .off = offsetof(struct cfg, shutdown_timeout),
     .def = "30",
     .min = 1,
     .max = 3600,
     .doc = "seconds `SIGTERM` may take: the listeners stop accepting, "
	    "requests and SIP transactions in progress finish, queued writes "
	    "commit, then the process exits 0; past this it exits 1 at once "
	    "(logged as `event=shutdown_timeout`)"},
    {.name = "log_file",
     .type = OPT_STR,
     .off = offsetof(struct cfg, log_file),
     .def = "",
     .empty = true,
     .form = "empty, or an absolute path",
     .check = check_log_file,
     .doc = "file the log is appended to, reopened on `SIGHUP` (after "
	    "logrotate moved it); empty: standard error (journald under "
	    "systemd)"},
    {.name = "http_timeout",
     .type = OPT_INT,
     .off = offsetof(struct cfg, http_timeout),
     .def = "60",
     .min = 1,
     .max = 3600,
     .doc = "seconds before an idle HTTP keep-alive connection is closed (and"
	    " the most a client may take to read a response)"},
    {.name = "http_request_timeout",
     .type = OPT_INT,
     .off = offsetof(struct cfg, http_request_timeout),
     .def = "10",
     .min = 1,
     .max = 3600,
     .doc = "seconds a whole request (head and body) may take to arrive from "
	    "its first byte, however slowly it trickles; then 408 (JSON) and "
	    "the connection is closed"},
    {.name = "store_timeout",
     .type = OPT_INT,
     .off = offsetof(struct cfg, store_timeout),
     .def = "3",
     .min = 1,
     .max = 600,
     .doc = "seconds a request may wait for the store (a lock, a PostgreSQL "
	    "server that does not answer) before its work is abandoned: the "
	    "answer is `503` with `Retry-After` and nothing changed. A commit"
	    " already under way is waited for (on PostgreSQL up to 60 s, then"
	    " 503 with the outcome unknown)"},
    {.name = "auth_fail_max",
     .type = OPT_INT,
     .off = offsetof(struct cfg, auth_fail_max),
     .def = "20",
     .min = 1,
     .max = 1000000,
     .doc = "wrong credentials for one `auth_id` from one IP address that "
	    "start a penalty for that pair"},
    {.name = "auth_fail_addr_max",
     .type = OPT_INT,
     .off = offsetof(struct cfg, auth_fail_addr_max),
     .def = "200",
     .min = 1,
     .max = 1000000,
     .doc = "wrong credentials from one IP address, whatever the `auth_id`, "
	    "that start a penalty for the whole address"},
    {.name = "auth_fail_window",
     .type = OPT_INT,
     .off = offsetof(struct cfg, auth_fail_window),
     .def = "60",
     .min = 1,
     .max = 86400,
     .doc = "seconds over which failed authentications are counted"},
    {.name = "auth_fail_penalty",
     .type = OPT_INT,
     .off = offsetof(struct cfg, auth_fail_penalty),
     .def = "60",
     .min = 1,
     .max = 86400,
     .doc = "seconds during which that pair or address gets 429 with `Retry-"
	    "After`"},
    {.name = "secret_key",
     .type = OPT_STR,
     .off = offsetof(struct cfg, secret_key),
     .def = "none",
     .form = "`none`, or 64 hex digits (32 bytes)",
     .check = check_secret_key,
     .secret = true,
     .doc = "the server key that encrypts account auth tokens at rest "
	    "(AES-256-GCM), so that webhooks can be signed with them: e.g. "
	    "the output of `openssl rand -hex 32`. Give every node the same "
	    "key. When set, `key_file` is not read; `none` reads the key from "
	    "`key_file`. Never printed, logged or stored in the database"},
    {.name = "key_file",
     .type = OPT_STR,
     .off = offsetof(struct cfg, key_file),
     .def = "auto",
     .form = "`auto`, or a file path",
     .doc =
	 "the file that holds the server key when `secret_key` is `none`: "
	 "64 hex digits (an optional final newline), a regular file that "
	 "neither group nor others may access (mode 0600 or 0400); any other "
	 "file stops `serve`, `account create` and `account rotate-token` "
	 "with exit status 1. A missing file is created with a random key, "
	 "mode 0600. `auto` is `PATH.key` beside a `sqlite:PATH` database, "
	 "and no key with PostgreSQL: tokens are then stored as hashes only, "
	 "webhooks go unsigned, and a warning is logged at start "
	 "(see operations.md)"},
    {.name = "sip_nonce_secret",
     .type = OPT_STR,
     .off = offsetof(struct cfg, sip_nonce_secret),
     .def = "auto",
     .form = "`auto`, or 16-64 characters",
     .check = check_nonce_secret,
     .secret = true,
     .doc = "key that signs SIP digest nonces. Give every node the same value"
	    " so that a nonce issued by one node is accepted by another. "
	    "`auto` draws a random key at each start (nonces then die with "
	    "the process, and a warning is logged). Never printed or logged"},
    {.name = "sip_digest_algorithms",
     .type = OPT_STR,
     .off = offsetof(struct cfg, sip_digest_algorithms),
     .def = "MD5,SHA-256",
     .form = "`MD5`, `SHA-256`, or both comma-separated",
     .check = check_algs,
     .doc = "the digest challenges offered, in this order. Many phones and "
	    "sipp use the first one they see; over WS and WSS MD5 goes last,"
	    " because browsers' SIP stacks (JsSIP, SIP.js) keep only the last"
	    " challenge and answer only MD5"},
    {.name = "sip_nonce_ttl",
     .type = OPT_INT,
     .off = offsetof(struct cfg, sip_nonce_ttl),
     .def = "300",
     .min = 10,
     .max = 86400,
     .doc = "seconds a nonce is valid; an older one with a correct digest "
	    "gets 401 with `stale=true`"},
    {.name = "sip_min_expires",
     .type = OPT_INT,
     .off = offsetof(struct cfg, sip_min_expires),
     .def = "60",
     .min = 1,
     .max = 86400,
     .doc = "shortest registration accepted; a shorter one gets 423 with "
	    "`Min-Expires`"},
    {.name = "sip_max_expires",
     .type = OPT_INT,
     .off = offsetof(struct cfg, sip_max_expires),
     .def = "3600",
     .min = 1,
     .max = 604800,
     .doc = "longest registration granted; longer requests are clamped to it"},
    {.name = "sip_default_expires",
     .type = OPT_INT,
     .off = offsetof(struct cfg, sip_default_expires),
     .def = "3600",
     .min = 1,
     .max = 604800,
     .check = check_expires,
     .doc = "registration length when the REGISTER gives neither an `Expires`"
	    " header nor a contact `expires`. It must lie between "
	    "`sip_min_expires` and `sip_max_expires`, and `sip_min_expires` "
	    "must not exceed `sip_max_expires`"},
    {.name = "sip_max_contacts",
     .type = OPT_INT,
     .off = offsetof(struct cfg, sip_max_contacts),
     .def = "10",
     .min = 1,
     .max = 32,
     .doc = "live contacts per endpoint; a REGISTER that would exceed it gets"
	    " 403"},
    {.name = "sip_msg_max",
     .type = OPT_INT,
     .off = offsetof(struct cfg, sip_msg_max),
     .def = "73728",
     .min = 512,
     .max = 131072,
     .doc = "largest SIP message in bytes (the default leaves room for a "
	    "MESSAGE body of 64 KiB, the contract's limit, past which it gets "
	    "`413`); larger datagrams are dropped, a larger TCP message "
	    "closes the connection. A TCP connection's buffer starts at 4 KiB "
	    "and grows to this only when a message needs it"},
    {.name = "sip_tcp_max",
     .type = OPT_INT,
     .off = offsetof(struct cfg, sip_tcp_max),
     .def = "8192",
     .min = 1,
     .max = 65536,
     .doc = "open SIP TCP connections in all. When all are taken, a new "
	    "connection closes the unregistered one idle longest (logged "
	    "`event=sip_tcp_evicted`); a connection is registered once a "
	    "REGISTER on it got a 200, and is never evicted (idle timeouts "
	    "still apply). Only when every connection is registered is a "
	    "newcomer refused"},
    {.name = "sip_tcp_per_addr",
     .type = OPT_INT,
     .off = offsetof(struct cfg, sip_tcp_per_addr),
     .def = "32",
     .min = 1,
     .max = 65536,
     .doc = "open SIP TCP connections per client IP address"},
    {.name = "sip_tcp_idle",
     .type = OPT_INT,
     .off = offsetof(struct cfg, sip_tcp_idle),
     .def = "300",
     .min = 5,
     .max = 86400,
     .doc = "seconds after which an idle SIP TCP connection is closed (keep-"
	    "alive pings count as activity)"},
    {.name = "sip_sweep_interval",
     .type = OPT_INT,
     .off = offsetof(struct cfg, sip_sweep_interval),
     .def = "10",
     .min = 1,
     .max = 3600,
     .doc = "seconds between sweeps that delete expired registrations "
	    "(expired ones are never shown meanwhile)"},
    {.name = "sip_auth_fail_max",
     .type = OPT_INT,
     .off = offsetof(struct cfg, sip_auth_fail_max),
     .def = "20",
     .min = 1,
     .max = 1000000,
     .doc = "failed SIP digest checks from one IP address for one username "
	    "(within `sip_auth_fail_window`) after which that username's "
	    "REGISTERs from that address are ignored, without an answer, for "
	    "`sip_auth_fail_penalty` seconds; other usernames from the "
	    "address, and the username from other addresses, are unaffected. "
	    "Only failures that present a nonce sipward issued to that "
	    "address for that realm count (a wrong password, an unknown user,"
	    " a replayed nonce count), never those anyone could forge from "
	    "someone else's address (a bad or foreign nonce, bad parameters, "
	    "a username that is not the To user). Logged once as "
	    "`event=sip_source_ignored src=... user=...`"},
    {.name = "sip_auth_fail_addr_max",
     .type = OPT_INT,
     .off = offsetof(struct cfg, sip_auth_fail_addr_max),
     .def = "200",
     .min = 1,
     .max = 1000000,
     .doc = "the same failures from one IP address, all usernames together, "
	    "after which every REGISTER from it is ignored for "
	    "`sip_auth_fail_penalty` seconds (OPTIONS is still answered); "
	    "logged once as `event=sip_source_ignored src=... seconds=...`"},
    {.name = "sip_challenge_rate",
     .type = OPT_INT,
     .off = offsetof(struct cfg, sip_challenge_rate),
     .def = "50",
     .min = 1,
     .max = 1000000,
     .doc = "401 challenges sent to one IP address per second, at most; past "
	    "it, requests that would be challenged get no answer for the rest"
	    " of that second, so that forged sources cannot turn sipward into"
	    " a UDP reflector at volume"},
    {.name = "sip_workers",
     .type = OPT_INT,
     .off = offsetof(struct cfg, sip_workers),
     .def = "0",
     .min = 0,
     .max = 256,
     .doc = "threads that do the store work of REGISTERs (credentials, "
	    "bindings) and the sweep of expired bindings, off the SIP "
	    "transport thread; 0 = 2 with SQLite (there REGISTERs go to the "
	    "store's one writer thread without them, several to a commit) and "
	    "4 per CPU (4-64) with PostgreSQL"},
    {.name = "sip_queue_max",
     .type = OPT_INT,
     .off = offsetof(struct cfg, sip_queue_max),
     .def = "1024",
     .min = 1,
     .max = 1000000,
     .doc = "REGISTERs waiting for a SIP worker; past it a REGISTER gets "
	    "`503` with `Retry-After` at once"},
    {.name = "ring_timeout",
     .type = OPT_INT,
     .off = offsetof(struct cfg, ring_timeout),
     .def = "60",
     .min = 1,
     .max = 3600,
     .doc = "seconds a call rings before it gives up: the caller gets `480` "
	    "and every phone still ringing a CANCEL (`<Dial timeout>` "
	    "defaults to it)"},
    {.name = "webhook_allow_private",
     .type = OPT_STR,
     .off = offsetof(struct cfg, webhook_allow_private),
     .def = "false",
     .form = "`true` or `false`",
     .check = check_bool,
     .doc = "whether webhooks (answer_url, action, hangup_url) may reach "
	    "loopback, private, link-local and unique-local addresses; "
	    "`false` refuses them (the call fails as a failed fetch), as a "
	    "multi-tenant service must; `make run` sets `true` for local "
	    "development"},
    {.name = "sip_gateway",
     .type = OPT_STR,
     .off = offsetof(struct cfg, sip_gateway),
     .def = "",
     .empty = true,
     .form = "`sip:IP:PORT`, or empty",
     .check = check_gateway,
     .doc = "the carrier that calls to phone numbers leave through (UDP); "
	    "empty: calls to numbers get `404`"},
    {.name = "sip_gateway_username",
     .type = OPT_STR,
     .off = offsetof(struct cfg, sip_gateway_username),
     .def = "",
     .empty = true,
     .form = "text, or empty",
     .doc = "the username sipward answers the gateway's digest challenge "
	    "(401 or 407) with"},
    {.name = "sip_gateway_password",
     .type = OPT_STR,
     .off = offsetof(struct cfg, sip_gateway_password),
     .def = "",
     .empty = true,
     .form = "text, or empty",
     .secret = true,
     .doc = "the password for the gateway's digest challenge. Never "
	    "printed or logged"},
    {.name = "dns_servers",
     .type = OPT_STR,
     .off = offsetof(struct cfg, dns_servers),
     .def = "",
     .empty = true,
     .form = "comma-separated `a.b.c.d`, `a.b.c.d:PORT` or `[v6]:PORT` (at "
	     "most 8), or empty",
     .check = check_dns_servers,
     .doc = "the DNS servers asked where calls to other domains go (RFC "
	    "3263: NAPTR, SRV, A/AAAA records); empty: those of "
	    "`/etc/resolv.conf`"},
    {.name = "dns_timeout",
     .type = OPT_INT,
     .off = offsetof(struct cfg, dns_timeout),
     .def = "5",
     .min = 1,
     .max = 60,
     .doc = "seconds that finding where a call to another domain goes may "
	    "take, all its DNS queries together; past it, and when a DNS "
	    "server fails, the caller gets `503`"},
    {.name = "sip_allow_private_domains",
     .type = OPT_STR,
     .off = offsetof(struct cfg, sip_allow_private_domains),
     .def = "false",
     .form = "`true` or `false`",
     .check = check_bool,
     .doc = "whether calls to other domains may go to loopback, private, "
	    "link-local and unique-local addresses (a numeric host, or what "
	    "a domain's DNS records say); `false` refuses them with `403`, so "
	    "that an endpoint cannot make sipward send SIP into the "
	    "operator's own network"},
    {.name = "calls_max_per_account",
     .type = OPT_INT,
     .off = offsetof(struct cfg, calls_max_per_account),
     .def = "100",
     .min = 1,
     .max = 1000000,
     .doc = "calls in progress for one account on this node, at most; one "
	    "more INVITE gets `503` with `Retry-After`"},
    {.name = "calls_max",
     .type = OPT_INT,
     .off = offsetof(struct cfg, calls_max),
     .def = "10000",
     .min = 1,
     .max = 1000000,
     .doc = "calls in progress on this node, at most; one more INVITE gets "
	    "`503` with `Retry-After`"},
    {.name = "sip_auth_fail_window",
     .type = OPT_INT,
     .off = offsetof(struct cfg, sip_auth_fail_window),
     .def = "60",
     .min = 1,
     .max = 86400,
     .doc = "seconds over which failed SIP digest checks are counted"},
    {.name = "sip_auth_fail_penalty",
     .type = OPT_INT,
     .off = offsetof(struct cfg, sip_auth_fail_penalty),
     .def = "60",
     .min = 1,
     .max = 86400,
     .doc = "seconds an (address, username) or an address over its limit is "
	    "ignored"},
    {.name = "cdr_retention_days",
     .type = OPT_INT,
     .off = offsetof(struct cfg, cdr_retention_days),
     .def = "90",
     .min = 1,
     .max = 3650,
     .doc = "days a call detail record (`GET Call/`) is kept after its leg "
	    "ended; older ones are deleted by a periodic sweep"},
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static const struct opt *find(const char *name)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (strcmp(opts[i].name, name) == 0)
			return &opts[i];
	return NULL;
}

static int set_opt(struct cfg *c, const struct opt *o, const char *value,
		   char *err, size_t cap)
{
	char *p = (char *)c + o->off;

	if (o->type == OPT_STR) {
		size_t n = strlen(value);
		if ((n == 0 && !o->empty) || n >= CFG_STR_MAX) {
			snprintf(err, cap, "%s: must be 1-%d characters",
				 o->name, CFG_STR_MAX - 1);
			return ERANGE;
		}
		for (size_t i = 0; i < n; i++) {
			if ((unsigned char)value[i] < 0x20 ||
			    value[i] == 0x7f) {
				snprintf(err, cap,
					 "%s: control characters not allowed",
					 o->name);
				return EINVAL;
			}
		}
		memcpy(p, value, n + 1);
		return 0;
	}
	char *end;
	long v;
	errno = 0;
	v = strtol(value, &end, 10);
	if (errno || end == value || *end != '\0' ||
	    !isdigit((unsigned char)value[0])) {
		snprintf(err, cap, "%s: not an integer: '%.64s'", o->name,
			 value);
		return EINVAL;
	}
	if (v < o->min || v > o->max) {
		snprintf(err, cap, "%s: must be between %ld and %ld", o->name,
			 o->min, o->max);
		return ERANGE;
	}
	memcpy(p, &v, sizeof(v));
	return 0;
}

void cfg_defaults(struct cfg *c)
{
	char err[64];

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < NOPTS; i++)
		set_opt(c, &opts[i], opts[i].def, err, sizeof(err));
}

int cfg_set(struct cfg *c, const char *name, const char *value, char *err,
	    size_t cap)
{
	const struct opt *o = find(name);

	if (!o) {
		snprintf(err, cap, "unknown option '%.64s'", name);
		return ENOENT;
	}
	return set_opt(c, o, value, err, cap);
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
			 e[-1] == '\n'))
		*--e = '\0';
	return s;
}

int cfg_load_file(struct cfg *c, const char *path, char *err, size_t cap)
{
	char line[CFG_STR_MAX + 128];
	char why[256];
	struct cfg tmp = *c;
	unsigned lineno = 0;
	int rc = 0;
	FILE *f;

	f = fopen(path, "r");
	if (!f) {
		rc = errno;
		snprintf(err, cap, "%.200s: %s", path, strerror(rc));
		return rc;
	}
	while (fgets(line, sizeof(line), f)) {
		char *s, *eq;
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, cap, "%.200s:%u: line too long", path,
				 lineno);
			rc = ERANGE;
			goto out;
		}
		s = trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, cap, "%.200s:%u: expected 'name = value'",
				 path, lineno);
			rc = EINVAL;
			goto out;
		}
		*eq = '\0';
		rc = cfg_set(&tmp, trim(s), trim(eq + 1), why, sizeof(why));
		if (rc) {
			snprintf(err, cap, "%.200s:%u: %s", path, lineno, why);
			goto out;
		}
	}
	if (ferror(f)) {
		snprintf(err, cap, "%.200s: read error", path);
		rc = EIO;
		goto out;
	}
	*c = tmp;
out:
	fclose(f);
	return rc;
}

int cfg_load_env(struct cfg *c, char *err, size_t cap)
{
	char var[64], why[256];
	struct cfg tmp = *c;

	for (size_t i = 0; i < NOPTS; i++) {
		size_t k = 0;
		const char *v;
		k = (size_t)snprintf(var, sizeof(var), "SIPWARD_");
		for (const char *p = opts[i].name; *p && k + 1 < sizeof(var);
		     p++)
			var[k++] = (char)toupper((unsigned char)*p);
		var[k] = '\0';
		v = getenv(var);
		if (!v)
			continue;
		int rc = set_opt(&tmp, &opts[i], v, why, sizeof(why));
		if (rc) {
			snprintf(err, cap, "environment %s: %s", var, why);
			return rc;
		}
	}
	*c = tmp;
	return 0;
}

bool cfg_is_secret(const char *name)
{
	const struct opt *o = find(name);

	return o && o->secret;
}

int cfg_validate(const struct cfg *c, char *err, size_t cap)
{
	for (size_t i = 0; i < NOPTS; i++) {
		int rc =
		    opts[i].check ? opts[i].check(c, &opts[i], err, cap) : 0;
		if (rc)
			return rc;
	}
	return 0;
}

/* Writes the words of s wrapped at width columns, continuing at indent. */
static void print_wrapped(FILE *out, const char *s, int indent, int width)
{
	int col = indent;

	while (*s) {
		int n = (int)strcspn(s, " ");
		if (col > indent && col + 1 + n > width) {
			fprintf(out, "\n%*s", indent, "");
			col = indent;
		} else if (col > indent) {
			fputc(' ', out);
			col++;
		}
		fprintf(out, "%.*s", n, s);
		col += n;
		s += n;
		s += strspn(s, " ");
	}
	fputc('\n', out);
}

void cfg_print_help(FILE *out)
{
	char line[CFG_STR_MAX + 64];

	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt *o = &opts[i];
		if (o->type == OPT_INT)
			snprintf(line, sizeof(line),
				 "(integer %ld-%ld, default %s)", o->min,
				 o->max, o->def);
		else
			snprintf(line, sizeof(line), "(default %s)", o->def);
		fprintf(out, "  %s %s\n", o->name, line);
		if (o->type == OPT_STR) {
			fprintf(out, "      ");
			print_wrapped(out, o->form, 6, 78);
		}
		fprintf(out, "      ");
		print_wrapped(out, o->doc, 6, 78);
	}
}

void cfg_print_markdown(FILE *out)
{
	fprintf(out, "| name | type | default | bounds | meaning |\n"
		     "|---|---|---|---|---|\n");
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt *o = &opts[i];
		fprintf(out, "| `%s` | %s | `%s` | ", o->name,
			o->type == OPT_INT ? "integer"
			: o->secret	   ? "string (secret)"
					   : "string",
			o->def);
		if (o->type == OPT_INT)
			fprintf(out, "%ld-%ld", o->min, o->max);
		else
			fputs(o->form, out);
		fprintf(out, " | %s |\n", o->doc);
	}
}
