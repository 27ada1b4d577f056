/* cfg.c - the option table and its three sources (file, environment, flags). */
#include "cfg/cfg.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum opt_type { OPT_STR, OPT_INT };

struct opt {
	const char *name;
	enum opt_type type;
	size_t off;
	const char *def;
	long min, max;
	const char *doc;
};

static const struct opt opts[] = {
    {.name = "db",
     .type = OPT_STR,
     .off = offsetof(struct cfg, db),
     .def = "sqlite:sipward.db",
     .min = 0,
     .max = 0,
     .doc = "store: sqlite:PATH (embedded SQLite) or postgresql://... (libpq "
	    "URI)"},
    {.name = "http",
     .type = OPT_STR,
     .off = offsetof(struct cfg, http),
     .def = "127.0.0.1:8080",
     .min = 0,
     .max = 0,
     .doc = "REST API listen address HOST:PORT"},
    {.name = "sip",
     .type = OPT_STR,
     .off = offsetof(struct cfg, sip),
     .def = "127.0.0.1:5060",
     .min = 0,
     .max = 0,
     .doc = "SIP listen address HOST:PORT (UDP and TCP)"},
    {.name = "domain",
     .type = OPT_STR,
     .off = offsetof(struct cfg, domain),
     .def = "sipward.localhost",
     .min = 0,
     .max = 0,
     .doc = "SIP domain given to accounts created without --domain"},
    {.name = "log_level",
     .type = OPT_STR,
     .off = offsetof(struct cfg, log_level),
     .def = "info",
     .min = 0,
     .max = 0,
     .doc = "lowest log level written: debug|info|warn|error"},
    {.name = "body_max",
     .type = OPT_INT,
     .off = offsetof(struct cfg, body_max),
     .def = "65536",
     .min = 64,
     .max = 16777216,
     .doc = "largest request body in bytes"},
    {.name = "http_threads",
     .type = OPT_INT,
     .off = offsetof(struct cfg, http_threads),
     .def = "0",
     .min = 0,
     .max = 256,
     .doc = "HTTP read workers (GET, HEAD); 0 means 4 per CPU"},
    {.name = "http_write_threads",
     .type = OPT_INT,
     .off = offsetof(struct cfg, http_write_threads),
     .def = "0",
     .min = 0,
     .max = 1024,
     .doc = "HTTP workers for every other method; 0 means 16 per CPU "
	    "(writers wait for a group commit, so more threads make fuller "
	    "groups)"},
    {.name = "http_conn_max",
     .type = OPT_INT,
     .off = offsetof(struct cfg, http_conn_max),
     .def = "4096",
     .min = 1,
     .max = 65536,
     .doc = "most concurrent HTTP connections; at the limit the longest-idle "
	    "one is closed for a new one"},
    {.name = "http_conn_per_addr",
     .type = OPT_INT,
     .off = offsetof(struct cfg, http_conn_per_addr),
     .def = "64",
     .min = 1,
     .max = 65536,
     .doc = "most concurrent HTTP connections from one client address; more "
	    "are closed at once"},
    {.name = "http_timeout",
     .type = OPT_INT,
     .off = offsetof(struct cfg, http_timeout),
     .def = "60",
     .min = 1,
     .max = 3600,
     .doc = "idle HTTP keep-alive timeout between requests, seconds"},
    {.name = "http_request_timeout",
     .type = OPT_INT,
     .off = offsetof(struct cfg, http_request_timeout),
     .def = "10",
     .min = 1,
     .max = 3600,
     .doc = "seconds a whole request (head and body) may take to arrive from "
	    "its first byte; then 408 and close"},
    {.name = "store_timeout",
     .type = OPT_INT,
     .off = offsetof(struct cfg, store_timeout),
     .def = "3",
     .min = 1,
     .max = 600,
     .doc = "seconds a request may wait for the store (an API write, a "
	    "REGISTER) before it is answered 503 with Retry-After and changes "
	    "nothing"},
    {.name = "auth_fail_max",
     .type = OPT_INT,
     .off = offsetof(struct cfg, auth_fail_max),
     .def = "20",
     .min = 1,
     .max = 1000000,
     .doc = "wrong credentials for one auth_id from one address before that "
	    "pair gets a penalty"},
    {.name = "auth_fail_addr_max",
     .type = OPT_INT,
     .off = offsetof(struct cfg, auth_fail_addr_max),
     .def = "200",
     .min = 1,
     .max = 1000000,
     .doc = "wrong credentials from one address, whatever the auth_id, "
	    "before the whole address gets a penalty"},
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
     .doc = "seconds an address is answered 429 after too many failures"},
    {.name = "sip_nonce_secret",
     .type = OPT_STR,
     .off = offsetof(struct cfg, sip_nonce_secret),
     .def = "auto",
     .min = 0,
     .max = 0,
     .doc = "secret that signs SIP nonces, the same on every node (16+ "
	    "characters); auto: random per process"},
    {.name = "sip_digest_algorithms",
     .type = OPT_STR,
     .off = offsetof(struct cfg, sip_digest_algorithms),
     .def = "MD5,SHA-256",
     .min = 0,
     .max = 0,
     .doc = "digest challenges offered, in order: MD5, SHA-256 or both"},
    {.name = "sip_nonce_ttl",
     .type = OPT_INT,
     .off = offsetof(struct cfg, sip_nonce_ttl),
     .def = "300",
     .min = 10,
     .max = 86400,
     .doc = "seconds a nonce stays valid before it is stale"},
    {.name = "sip_min_expires",
     .type = OPT_INT,
     .off = offsetof(struct cfg, sip_min_expires),
     .def = "60",
     .min = 1,
     .max = 86400,
     .doc = "shortest registration accepted (423 below), seconds"},
    {.name = "sip_max_expires",
     .type = OPT_INT,
     .off = offsetof(struct cfg, sip_max_expires),
     .def = "3600",
     .min = 1,
     .max = 604800,
     .doc = "longest registration granted (longer ones are clamped), seconds"},
    {.name = "sip_default_expires",
     .type = OPT_INT,
     .off = offsetof(struct cfg, sip_default_expires),
     .def = "3600",
     .min = 1,
     .max = 604800,
     .doc = "registration length when a REGISTER names none, seconds"},
    {.name = "sip_max_contacts",
     .type = OPT_INT,
     .off = offsetof(struct cfg, sip_max_contacts),
     .def = "10",
     .min = 1,
     .max = 32,
     .doc = "live contacts per endpoint"},
    {.name = "sip_msg_max",
     .type = OPT_INT,
     .off = offsetof(struct cfg, sip_msg_max),
     .def = "8192",
     .min = 512,
     .max = 65535,
     .doc = "largest SIP message, bytes"},
    {.name = "sip_tcp_max",
     .type = OPT_INT,
     .off = offsetof(struct cfg, sip_tcp_max),
     .def = "8192",
     .min = 1,
     .max = 65536,
     .doc = "open SIP TCP connections; when all are taken, the unregistered "
	    "connection idle longest is closed for a newcomer"},
    {.name = "sip_tcp_per_addr",
     .type = OPT_INT,
     .off = offsetof(struct cfg, sip_tcp_per_addr),
     .def = "32",
     .min = 1,
     .max = 65536,
     .doc = "open SIP TCP connections per client address"},
    {.name = "sip_tcp_idle",
     .type = OPT_INT,
     .off = offsetof(struct cfg, sip_tcp_idle),
     .def = "300",
     .min = 5,
     .max = 86400,
     .doc = "seconds before an idle SIP TCP connection is closed"},
    {.name = "sip_sweep_interval",
     .type = OPT_INT,
     .off = offsetof(struct cfg, sip_sweep_interval),
     .def = "10",
     .min = 1,
     .max = 3600,
     .doc = "seconds between sweeps of expired registrations"},
    {.name = "sip_auth_fail_max",
     .type = OPT_INT,
     .off = offsetof(struct cfg, sip_auth_fail_max),
     .def = "20",
     .min = 1,
     .max = 1000000,
     .doc = "failed SIP digest checks (with a nonce issued to that address) "
	    "from one address for one user before that user's REGISTERs from "
	    "there are ignored for a while"},
    {.name = "sip_auth_fail_addr_max",
     .type = OPT_INT,
     .off = offsetof(struct cfg, sip_auth_fail_addr_max),
     .def = "200",
     .min = 1,
     .max = 1000000,
     .doc = "failed SIP digest checks from one address, all users together, "
	    "before all its REGISTERs are ignored for a while"},
    {.name = "sip_challenge_rate",
     .type = OPT_INT,
     .off = offsetof(struct cfg, sip_challenge_rate),
     .def = "50",
     .min = 1,
     .max = 1000000,
     .doc = "401 challenges sent to one address per second, at most (no "
	    "answer past it)"},
    {.name = "sip_workers",
     .type = OPT_INT,
     .off = offsetof(struct cfg, sip_workers),
     .def = "0",
     .min = 0,
     .max = 256,
     .doc = "threads doing the store work of REGISTERs; 0 = 2 with SQLite, "
	    "4 per CPU with PostgreSQL"},
    {.name = "sip_queue_max",
     .type = OPT_INT,
     .off = offsetof(struct cfg, sip_queue_max),
     .def = "1024",
     .min = 1,
     .max = 1000000,
     .doc = "REGISTERs waiting for a SIP worker; past it, 503 at once"},
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
     .doc = "seconds an address's (or an address and user's) REGISTERs are "
	    "ignored after too many failures"},
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
		if (n == 0 || n >= CFG_STR_MAX) {
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
	return strcmp(name, "sip_nonce_secret") == 0;
}

void cfg_print_help(FILE *out)
{
	for (size_t i = 0; i < NOPTS; i++)
		fprintf(out, "  %-18s %s (default %s)\n", opts[i].name,
			opts[i].doc, opts[i].def);
}
