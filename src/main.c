/*
 * main.c - the sipward command line: argument parsing, wiring of the layers,
 * signals. The only file that chooses a store backend.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <systemd/sd-daemon.h>

#include "api/admin.h"
#include "api/api.h"
#include "base/addr.h"
#include "base/beat.h"
#include "base/crypto.h"
#include "base/id.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/time.h"
#include "call/engine.h"
#include "cfg/cfg.h"
#include "http/server.h"
#include "registrar/registrar.h"
#include "sip/path.h"
#include "sip/transport.h"
#include "store/store.h"
#include "svc/svc.h"

#ifndef SIPWARD_VERSION
#define SIPWARD_VERSION "0.0.0"
#endif

#define EXIT_USAGE 2

static void usage(FILE *out)
{
	fprintf(out, "usage: sipward serve [--config FILE] [--db URL] [--http "
		     "HOST:PORT]\n"
		     "                     [--sip HOST:PORT] [--domain NAME]\n"
		     "       sipward account create [--config FILE] [--db URL] "
		     "[--name NAME]\n"
		     "                              [--domain NAME]\n"
		     "       sipward account rotate-token AUTH_ID [--config "
		     "FILE] [--db URL]\n"
		     "       sipward db copy --from URL --to URL\n"
		     "       sipward db backup --db sqlite:PATH --to FILE "
		     "[--force]\n"
		     "       sipward --help | --version\n\n"
		     "--db takes sqlite:PATH (default sqlite:sipward.db) or a "
		     "postgresql:// URL.\n"
		     "Every option can also be set in the config file as "
		     "'name = value'\n"
		     "or in the environment as SIPWARD_<NAME>:\n");
	cfg_print_help(out);
}

/* Prints "sipward: WHY 'ARG' (see sipward --help)" on one line. */
static int bad_usage(const char *why, const char *arg)
{
	fprintf(stderr, "sipward: %s '%s' (see sipward --help)\n", why, arg);
	return EXIT_USAGE;
}

/* The flags that take no value. */
#define BARE_FLAGS "force"

struct flags {
	const char *config;
	const char *db, *http, *sip, *domain, *name, *from, *to;
	const char *force; /* "yes" when given: it takes no value */
};

/* Whether word is one of the space-separated words of list. */
static bool word_in(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; *p;) {
		size_t k = strcspn(p, " ");
		if (k == n && strncmp(p, word, n) == 0)
			return true;
		p += k;
		p += *p == ' ';
	}
	return false;
}

/*
 * Parses --flag VALUE / --flag=VALUE for the flags in `allowed` (a list of
 * names separated by spaces), and when pos is not NULL one argument that is
 * no flag, anywhere, into *pos. Returns 0 or EXIT_USAGE after printing why.
 */
static int parse_flags(int argc, char **argv, const char *allowed,
		       struct flags *f, const char **pos)
{
	static const struct {
		const char *name;
		size_t off;
	} table[] = {
	    {"config", offsetof(struct flags, config)},
	    {"db", offsetof(struct flags, db)},
	    {"http", offsetof(struct flags, http)},
	    {"sip", offsetof(struct flags, sip)},
	    {"domain", offsetof(struct flags, domain)},
	    {"name", offsetof(struct flags, name)},
	    {"from", offsetof(struct flags, from)},
	    {"to", offsetof(struct flags, to)},
	    {"force", offsetof(struct flags, force)},
	};

	for (int i = 0; i < argc; i++) {
		char name[32];
		const char *arg = argv[i], *value, *eq;
		size_t k, n = sizeof(table) / sizeof(table[0]);

		if (strncmp(arg, "--", 2) != 0 && pos && !*pos &&
		    arg[0] != '-') {
			*pos = arg;
			continue;
		}
		if (strncmp(arg, "--", 2) != 0)
			return bad_usage("unexpected argument", arg);
		eq = strchr(arg, '=');
		k = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
		if (k == 0 || k >= sizeof(name))
			return bad_usage("unknown flag", arg);
		memcpy(name, arg + 2, k);
		name[k] = '\0';
		for (k = 0; k < n; k++)
			if (strcmp(table[k].name, name) == 0)
				break;
		if (k == n || !word_in(allowed, name))
			return bad_usage("unknown flag", arg);
		if (word_in(BARE_FLAGS, name)) {
			if (eq)
				return bad_usage("flag takes no value", arg);
			value = "yes";
		} else if (eq) {
			value = eq + 1;
		} else {
			if (i + 1 >= argc)
				return bad_usage("missing value for flag", arg);
			value = argv[++i];
		}
		*(const char **)((char *)f + table[k].off) = value;
	}
	return 0;
}

/* Builds the configuration: defaults, file, environment, then flags. */
static int load_cfg(const struct flags *f, struct cfg *c)
{
	char err[512];
	const struct {
		const char *name, *value;
	} over[] = {{"db", f->db},
		    {"http", f->http},
		    {"sip", f->sip},
		    {"domain", f->domain}};
	enum base_log_level lvl;
	enum base_log_format fmt;

	cfg_defaults(c);
	if (f->config && cfg_load_file(c, f->config, err, sizeof(err))) {
		fprintf(stderr, "sipward: config: %s\n", err);
		return EXIT_USAGE;
	}
	if (cfg_load_env(c, err, sizeof(err))) {
		fprintf(stderr, "sipward: %s\n", err);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(over) / sizeof(over[0]); i++) {
		if (over[i].value &&
		    cfg_set(c, over[i].name, over[i].value, err, sizeof(err))) {
			fprintf(stderr, "sipward: --%s\n", err);
			return EXIT_USAGE;
		}
	}
	/* Every option's form and the rules between options: one place. */
	if (cfg_validate(c, err, sizeof(err))) {
		fprintf(stderr, "sipward: %s\n", err);
		return EXIT_USAGE;
	}
	base_log_level_parse(c->log_level, &lvl);
	base_log_level_set(lvl);
	base_log_format_parse(c->log_format, &fmt);
	base_log_format_set(fmt);
	return 0;
}

/* Picks the backend for the db URL. */
static const struct store_ops *backend(const char *url)
{
	if (strncmp(url, "sqlite:", 7) == 0 && url[7])
		return &store_sqlite_ops;
	if (strncmp(url, "postgresql://", 13) == 0 ||
	    strncmp(url, "postgres://", 11) == 0)
		return &store_pg_ops;
	return NULL;
}

static int open_svc(const struct cfg *c, struct svc **out)
{
	const struct store_ops *ops = backend(c->db);
	int err;

	if (!ops) {
		fprintf(stderr, "sipward: --db: unsupported database URL (use "
				"sqlite:PATH or postgresql://...)\n");
		return EXIT_USAGE;
	}
	err = svc_open(out, ops, c->db);
	if (err == EPROTO) {
		fprintf(stderr, "sipward: the database schema is newer than "
				"this sipward knows; upgrade sipward\n");
		return 1;
	}
	if (err) {
		fprintf(stderr, "sipward: cannot open the database: %s\n",
			strerror(err));
		return 1;
	}
	return 0;
}

/*
 * Reads the server key into key (BASE_KEY_LEN bytes), by the rule of
 * operations.md ("The server key"): secret_key when it is set; else the
 * file key_file, or with key_file = auto the file PATH.key beside a
 * sqlite:PATH database, made with a random key when missing; else (auto
 * with PostgreSQL) none, with a warning. *have says whether there is one.
 * Returns 0, or exit status 1 after printing why a key file is refused.
 */
static int load_key(const struct cfg *c, unsigned char *key, bool *have)
{
	char path[CFG_STR_MAX + 8], why[CFG_STR_MAX + 256], q[CFG_STR_MAX + 16];
	bool created = false;
	int err;

	*have = false;
	if (strcmp(c->secret_key, "none") != 0) {
		/* cfg_validate checked that it is 64 hex digits. */
		if (base_key_parse(c->secret_key, strlen(c->secret_key), key))
			return EXIT_USAGE;
		*have = true;
		LOG_INFO("server_key", "source=secret_key");
		return 0;
	}
	if (strcmp(c->key_file, "auto") != 0) {
		snprintf(path, sizeof(path), "%s", c->key_file);
	} else if (strncmp(c->db, "sqlite:", 7) == 0) {
		snprintf(path, sizeof(path), "%s.key", c->db + 7);
	} else {
		LOG_WARN("server_key_missing",
			 "msg=\"no secret_key or key_file: account tokens are "
			 "stored as hashes only, and webhooks go unsigned\"");
		return 0;
	}
	err = base_key_file_load(path, true, key, &created, why, sizeof(why));
	if (err) {
		fprintf(stderr, "sipward: %s\n", why);
		return 1;
	}
	*have = true;
	LOG_INFO("server_key", "source=key_file path=%s created=%s",
		 base_log_quote(path, q, sizeof(q)), created ? "yes" : "no");
	return 0;
}

/*
 * Opens the store and gives it the server key, read first (a refused key
 * file changes nothing); secret_key's text is wiped from c once read.
 * Returns 0 or an exit status.
 */
static int open_svc_key(struct cfg *c, struct svc **out)
{
	unsigned char key[BASE_KEY_LEN];
	bool have = false;
	int rc = load_key(c, key, &have);

	base_wipe(c->secret_key, sizeof(c->secret_key));
	if (!rc)
		rc = open_svc(c, out);
	if (!rc && have && svc_key_set(*out, key, sizeof(key)))
		rc = 1;
	base_wipe(key, sizeof(key));
	return rc;
}

/* Prints an account and its token (shown this once) on stdout as JSON. */
static int print_account(const struct model_account *a, char *token)
{
	json_t *o;
	char *text;

	o = json_pack("{s:s, s:s, s:s}", "auth_id", a->auth_id, "auth_token",
		      token, "domain", a->domain);
	text = o ? json_dumps(o, JSON_PRESERVE_ORDER) : NULL;
	base_wipe(token, strlen(token));
	if (!text) {
		json_decref(o);
		return 1;
	}
	printf("%s\n", text);
	fflush(stdout);
	base_wipe(text, strlen(text));
	free(text);
	base_wipe((char *)json_string_value(json_object_get(o, "auth_token")),
		  BASE_TOKEN_LEN);
	json_decref(o);
	return 0;
}

/* Creates an account and prints it (with its token, once) on stdout. */
static int create_account(struct svc *s, const char *name, const char *domain)
{
	struct model_account a;
	char token[64];
	int err;

	err = svc_account_create(s, name, domain, &a, token, sizeof(token));
	if (err == EINVAL) {
		fprintf(stderr, "sipward: invalid domain or name\n");
		return EXIT_USAGE;
	}
	if (err) {
		fprintf(stderr, "sipward: cannot create the account: %s\n",
			strerror(err));
		return 1;
	}
	return print_account(&a, token);
}

static int cmd_account_create(int argc, char **argv)
{
	struct flags f = {0};
	struct cfg c;
	struct svc *s = NULL;
	int rc;

	rc = parse_flags(argc, argv, "config db name domain", &f, NULL);
	if (!rc)
		rc = load_cfg(&f, &c);
	if (!rc)
		rc = open_svc_key(&c, &s);
	if (!rc)
		rc = create_account(s, f.name ? f.name : "", c.domain);
	svc_close(s);
	return rc;
}

/* sipward account rotate-token AUTH_ID: a new token, printed once. */
static int cmd_account_rotate(int argc, char **argv)
{
	struct flags f = {0};
	struct model_account a;
	const char *auth_id = NULL;
	char token[64], q[96];
	struct cfg c;
	struct svc *s = NULL;
	int rc, err;

	rc = parse_flags(argc, argv, "config db", &f, &auth_id);
	if (!rc && !auth_id)
		rc = bad_usage("missing AUTH_ID after", "account rotate-token");
	if (!rc)
		rc = load_cfg(&f, &c);
	if (!rc)
		rc = open_svc_key(&c, &s);
	if (rc)
		goto out;
	err = svc_account_rotate_token(s, auth_id, &a, token, sizeof(token));
	if (err == ENOENT) {
		fprintf(stderr, "sipward: no account has auth_id %s\n",
			base_log_quote(auth_id, q, sizeof(q)));
		rc = 1;
	} else if (err) {
		fprintf(stderr, "sipward: cannot rotate the token: %s\n",
			strerror(err));
		rc = 1;
	} else {
		rc = print_account(&a, token);
	}
	base_wipe(token, sizeof(token));
out:
	svc_close(s);
	return rc;
}

/*
 * The hosts a digest uri may name for this registrar: the --sip host, or
 * with a wildcard host every address of this machine in its family.
 */
static void listen_hosts(const char *listen, struct registrar_opts *o)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct ifaddrs *ifs = NULL;
	bool any;

	if (base_addr_parse(listen, &ss, &sl))
		return;
	any = ss.ss_family == AF_INET6
		  ? memcmp(&((struct sockaddr_in6 *)&ss)->sin6_addr,
			   &in6addr_any, sizeof(in6addr_any)) == 0
		  : ((struct sockaddr_in *)&ss)->sin_addr.s_addr == INADDR_ANY;
	if (!any) {
		base_addr_ip((struct sockaddr *)&ss, o->listen_hosts[0],
			     sizeof(o->listen_hosts[0]));
		o->nlisten = 1;
		return;
	}
	if (getifaddrs(&ifs))
		return;
	for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != ss.ss_family ||
		    o->nlisten >=
			sizeof(o->listen_hosts) / sizeof(o->listen_hosts[0]))
			continue;
		base_addr_ip(i->ifa_addr, o->listen_hosts[o->nlisten],
			     sizeof(o->listen_hosts[0]));
		o->nlisten++;
	}
	freeifaddrs(ifs);
}

/* Builds the registrar's options from the configuration. */
static int registrar_opts(const struct cfg *c, struct registrar_opts *o,
			  unsigned char *secret, size_t cap)
{
	memset(o, 0, sizeof(*o));
	if (strcmp(c->sip_nonce_secret, "auto") == 0) {
		if (base_rand_fill(secret, 32))
			return 1;
		o->secret_len = 32;
		LOG_WARN("sip_nonce_secret_random",
			 "msg=\"nonces are valid on this process only; set "
			 "sip_nonce_secret to share them between nodes\"");
	} else {
		/* cfg_validate checked its length (16-64 <= cap). */
		size_t n = strlen(c->sip_nonce_secret);
		if (n > cap)
			return EXIT_USAGE;
		memcpy(secret, c->sip_nonce_secret, n);
		o->secret_len = n;
	}
	o->secret = secret;
	/* cfg_validate checked the list. */
	if (registrar_algs_parse(c->sip_digest_algorithms, o->algs, &o->nalgs))
		return EXIT_USAGE;
	o->nonce_ttl_s = c->sip_nonce_ttl;
	o->limits.min_expires = (uint32_t)c->sip_min_expires;
	o->limits.max_expires = (uint32_t)c->sip_max_expires;
	o->limits.default_expires = (uint32_t)c->sip_default_expires;
	o->limits.max_contacts = (unsigned)c->sip_max_contacts;
	o->sweep_interval_s = c->sip_sweep_interval;
	o->fail_max = c->sip_auth_fail_max;
	o->fail_addr_max = c->sip_auth_fail_addr_max;
	o->fail_window_s = c->sip_auth_fail_window;
	o->fail_penalty_s = c->sip_auth_fail_penalty;
	o->challenge_rate = c->sip_challenge_rate;
	o->store_timeout_ms = (int64_t)c->store_timeout * 1000;
	o->retry_after_s = c->store_timeout > 5 ? c->store_timeout : 5;
	o->queue_max = (unsigned)c->sip_queue_max;
	if (c->sip_workers) {
		o->workers = (unsigned)c->sip_workers;
	} else if (strncmp(c->db, "sqlite:", 7) == 0) {
		/* REGISTERs go to SQLite's writer thread without a worker
		 * (svc_register_async); the workers sweep and end closed
		 * connections' bindings. */
		o->workers = 2;
	} else {
		long n = 4 * sysconf(_SC_NPROCESSORS_ONLN);
		o->workers = (unsigned)(n >= 4 ? (n > 64 ? 64 : n) : 4);
	}
	listen_hosts(c->sip, o);
	return 0;
}

/* sipward db copy --from URL --to URL */
static int cmd_db_copy(int argc, char **argv)
{
	struct flags f = {0};
	const struct store_ops *from, *to;
	struct svc_copy_stats st;
	int err, rc;

	rc = parse_flags(argc, argv, "from to", &f, NULL);
	if (rc)
		return rc;
	if (!f.from || !f.to)
		return bad_usage("db copy needs both flags:", "--from --to");
	from = backend(f.from);
	to = backend(f.to);
	if (!from || !to)
		return bad_usage("unsupported database URL:",
				 !from ? f.from : f.to);
	err = svc_db_copy(from, f.from, to, f.to, &st);
	if (err == EEXIST) {
		fprintf(stderr, "sipward: the target database already holds "
				"accounts; copy only into an empty one\n");
		return 1;
	}
	if (err == EPROTO) {
		fprintf(stderr, "sipward: a database schema is newer than this "
				"sipward knows\n");
		return 1;
	}
	if (err) {
		fprintf(stderr,
			"sipward: copy failed (%s); nothing was "
			"written\n",
			strerror(err));
		return 1;
	}
	printf("{\"accounts\": %lld, \"applications\": %lld, "
	       "\"endpoints\": %lld, \"registrations\": %lld}\n",
	       (long long)st.accounts, (long long)st.applications,
	       (long long)st.endpoints, (long long)st.registrations);
	return 0;
}

/* A path as a JSON string (one that is not UTF-8 cannot be one). */
static json_t *path_json(const char *path)
{
	json_t *j = json_string(path);

	return j ? j : json_string("(a path that is not UTF-8)");
}

/*
 * Prints db backup's line: where the copy is, its size, how long it took,
 * and the key file beside the database that it left out (a secret, backed
 * up on its own: docs/operations.md, "Backup and restore").
 */
static int print_backup(const char *to, const struct svc_backup_stats *st,
			const char *key)
{
	json_t *o;
	char *text;

	o = json_pack("{s:o, s:I, s:I, s:f}", "to", path_json(to), "pages",
		      (json_int_t)st->pages, "bytes", (json_int_t)st->bytes,
		      "seconds", (double)st->ms / 1000.0);
	if (o && key)
		json_object_set_new(o, "key_file_not_copied", path_json(key));
	text = o ? json_dumps(o, JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(4))
		 : NULL;
	json_decref(o);
	if (!text)
		return 1;
	printf("%s\n", text);
	free(text);
	if (key)
		fprintf(stderr,
			"sipward: the server key %s is not in the backup: it "
			"is a secret, back it up separately\n",
			key);
	return 0;
}

/* sipward db backup --db sqlite:PATH --to FILE [--force] */
static int cmd_db_backup(int argc, char **argv)
{
	struct flags f = {0};
	const struct store_ops *ops;
	struct svc_backup_stats st;
	char why[PATH_MAX * 2 + 256], key[PATH_MAX + 8];
	const char *to;
	struct stat sb;
	int err, rc;

	rc = parse_flags(argc, argv, "db to force", &f, NULL);
	if (rc)
		return rc;
	if (!f.db || !f.to)
		return bad_usage("db backup needs both flags:", "--db --to");
	ops = backend(f.db);
	if (!ops)
		return bad_usage("unsupported database URL:", f.db);
	/* --to is a file: a path, or sqlite:PATH as --db names one. */
	to = strncmp(f.to, "sqlite:", 7) == 0 ? f.to + 7 : f.to;
	if (!to[0] || (backend(f.to) && backend(f.to) != &store_sqlite_ops))
		return bad_usage("--to takes a file path, not", f.to);
	err = svc_db_backup(ops, f.db, to, f.force != NULL, &st, why,
			    sizeof(why));
	if (err == ENOTSUP) {
		fprintf(stderr, "sipward: db backup copies SQLite databases "
				"only; back up PostgreSQL with pg_dump "
				"(docs/operations.md, Backup and restore)\n");
		return EXIT_USAGE;
	}
	if (err == EEXIST) {
		fprintf(stderr,
			"sipward: %s exists; nothing was written (--force "
			"replaces it)\n",
			to);
		return 1;
	}
	if (err) {
		fprintf(stderr,
			"sipward: backup failed: %s; %s was not written\n", why,
			to);
		return 1;
	}
	snprintf(key, sizeof(key), "%s.key", f.db + 7);
	return print_backup(to, &st, stat(key, &sb) == 0 ? key : NULL);
}

/*
 * Where the SIP transport's messages go: REGISTER and OPTIONS (and what
 * cannot be a request) to the registrar, every other request and every
 * response to the call engine.
 */
struct sip_front {
	struct registrar *reg;
	struct call_engine *calls;
};

static bool for_registrar(const char *msg, size_t len)
{
	size_t i = 0;

	while (i < len && (msg[i] == '\r' || msg[i] == '\n'))
		i++;
	msg += i;
	len -= i;
	if (len >= 8 && memcmp(msg, "SIP/2.0 ", 8) == 0)
		return false;
	return (len >= 9 && memcmp(msg, "REGISTER ", 9) == 0) ||
	       (len >= 8 && memcmp(msg, "OPTIONS ", 8) == 0);
}

static void front_on_message(void *ctx, struct sip_transport *t,
			     const struct sip_peer *from, char *msg, size_t len)
{
	struct sip_front *f = ctx;

	if (f->calls && !for_registrar(msg, len))
		call_on_message(f->calls, t, from, msg, len);
	else
		registrar_on_message(f->reg, t, from, msg, len);
}

static void front_on_closed(void *ctx, const struct sip_peer *peer)
{
	struct sip_front *f = ctx;

	registrar_on_closed(f->reg, peer);
}

/*
 * The TLS context of sip_tls and sip_wss from tls_cert_file and
 * tls_key_file: *out stays NULL when neither listens. Returns 0, or 1
 * with the reason printed.
 */
static int tls_load(const struct cfg *c, struct ssl_ctx_st **out)
{
	char why[CFG_STR_MAX + 160];

	*out = NULL;
	if (!c->sip_tls[0] && !c->sip_wss[0])
		return 0;
	if (sip_tls_ctx_new(out, c->tls_cert_file, c->tls_key_file, why,
			    sizeof(why))) {
		fprintf(stderr, "sipward: sip_tls/sip_wss: %s\n", why);
		return 1;
	}
	return 0;
}

/*
 * SIGHUP: the certificate and key again, for new TLS and WSS connections;
 * the old ones stay when the files do not load.
 */
static void tls_reload(const struct cfg *c, struct sip_transport *sip)
{
	char why[CFG_STR_MAX + 160];
	struct ssl_ctx_st *tls = NULL;

	if (!c->sip_tls[0] && !c->sip_wss[0])
		return;
	if (sip_tls_ctx_new(&tls, c->tls_cert_file, c->tls_key_file, why,
			    sizeof(why))) {
		LOG_WARN("tls_reload_failed", "reason=\"%s\"", why);
		return;
	}
	sip_transport_set_tls(sip, tls);
	sip_tls_ctx_free(tls);
	LOG_INFO("tls_reloaded", "cert=\"%s\"", c->tls_cert_file);
}

static void front_on_tick(void *ctx)
{
	struct sip_front *f = ctx;

	registrar_on_tick(f->reg);
}

/*
 * One digest authenticator for the registrar and the call engine, so that
 * a source's failures count against both; ro->auth points to it.
 */
static int shared_auth(struct registrar_opts *ro, struct sip_auth **out)
{
	struct sip_auth_opts ao = {.secret = ro->secret,
				   .secret_len = ro->secret_len,
				   .nonce_ttl_s = ro->nonce_ttl_s,
				   .nalgs = ro->nalgs,
				   .fail_max = ro->fail_max,
				   .fail_addr_max = ro->fail_addr_max,
				   .fail_window_s = ro->fail_window_s,
				   .fail_penalty_s = ro->fail_penalty_s,
				   .challenge_rate = ro->challenge_rate,
				   .nlisten = ro->nlisten};
	int err;

	memcpy(ao.algs, ro->algs, sizeof(ao.algs));
	memcpy(ao.listen_hosts, ro->listen_hosts, sizeof(ao.listen_hosts));
	err = sip_auth_new(out, &ao);
	if (!err)
		ro->auth = *out;
	return err;
}

/*
 * This node's SIP address as the other nodes reach it: sip_advertise (its
 * port the listen port when it names none), else the listen address
 * unless it is a wildcard; "" when there is none.
 */
static void self_address(const struct cfg *c, unsigned port, char *out,
			 size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	char ip[64], text[CFG_STR_MAX + 8];
	bool any;

	out[0] = '\0';
	snprintf(text, sizeof(text), "%s", c->sip_advertise);
	if (text[0] && base_addr_parse(text, &ss, &sl)) {
		/* a host alone (cfg_validate checked it parses with a port) */
		snprintf(text, sizeof(text), "%s:%u", c->sip_advertise, port);
		if (base_addr_parse(text, &ss, &sl))
			return;
	} else if (!text[0]) {
		if (base_addr_parse(c->sip, &ss, &sl))
			return;
		any = ss.ss_family == AF_INET6
			  ? memcmp(&((struct sockaddr_in6 *)&ss)->sin6_addr,
				   &in6addr_any, sizeof(in6addr_any)) == 0
			  : ((struct sockaddr_in *)&ss)->sin_addr.s_addr ==
				INADDR_ANY;
		if (any)
			return;
		if (ss.ss_family == AF_INET6)
			((struct sockaddr_in6 *)&ss)->sin6_port =
			    htons((uint16_t)port);
		else
			((struct sockaddr_in *)&ss)->sin_port =
			    htons((uint16_t)port);
	}
	base_addr_ip((struct sockaddr *)&ss, ip, sizeof(ip));
	snprintf(out, cap, "%s%s%s:%u", ss.ss_family == AF_INET6 ? "[" : "", ip,
		 ss.ss_family == AF_INET6 ? "]" : "",
		 ntohs(ss.ss_family == AF_INET6
			   ? ((struct sockaddr_in6 *)&ss)->sin6_port
			   : ((struct sockaddr_in *)&ss)->sin_port));
}

/*
 * The key of this node's path tokens: the nonce secret (shared by the
 * nodes) and this node's address (none: the key makes no tokens).
 */
static void path_key(const struct cfg *c, const struct registrar_opts *ro,
		     unsigned port, struct sip_path_key *k)
{
	char self[SIP_PATH_SELF_MAX + 8];

	self_address(c, port, self, sizeof(self));
	if (strlen(self) >= SIP_PATH_SELF_MAX)
		self[0] = '\0';
	if (sip_path_key_init(k, ro->secret, ro->secret_len, self))
		memset(k, 0, sizeof(*k));
	if (!k->self[0])
		LOG_INFO("sip_no_path",
			 "msg=\"listening on a wildcard address without "
			 "sip_advertise: phones on TCP connections here are "
			 "reached through this node only\"");
}

/* Starts the call engine with the registrar's store and auth settings. */
static int start_calls(const struct cfg *c, struct svc *s,
		       const struct registrar_opts *ro,
		       struct call_engine **out)
{
	struct call_opts co = {
	    .auth = ro->auth,
	    .workers = ro->workers,
	    .queue_max = ro->queue_max,
	    .store_timeout_ms = ro->store_timeout_ms,
	    .retry_after_s = ro->retry_after_s,
	    .ring_timeout_s = (unsigned)c->ring_timeout,
	    .calls_max = (unsigned)c->calls_max,
	    .calls_max_per_account = (unsigned)c->calls_max_per_account,
	    .cdr_retention_days = c->cdr_retention_days,
	    .webhook_allow_private =
		strcmp(c->webhook_allow_private, "true") == 0,
	    .msg_max = (size_t)c->sip_msg_max,
	    .nlisten = ro->nlisten};

	memcpy(co.listen_hosts, ro->listen_hosts, sizeof(co.listen_hosts));
	if (c->sip_gateway[0]) /* cfg_validate checked "sip:IP:PORT" */
		snprintf(co.gw_host, sizeof(co.gw_host), "%.63s",
			 c->sip_gateway + 4);
	snprintf(co.gw_user, sizeof(co.gw_user), "%s", c->sip_gateway_username);
	snprintf(co.dns_servers, sizeof(co.dns_servers), "%s", c->dns_servers);
	co.dns_timeout_ms = (unsigned)c->dns_timeout * 1000;
	co.far_allow_private =
	    strcmp(c->sip_allow_private_domains, "true") == 0;
	snprintf(co.rtpe_addr, sizeof(co.rtpe_addr), "%.63s", c->rtpengine_ng);
	co.rtpe_always = strcmp(c->rtpengine_always, "true") == 0;
	co.rtpe_timeout_ms = (unsigned)c->rtpengine_timeout * 1000;
	snprintf(co.gw_password, sizeof(co.gw_password), "%s",
		 c->sip_gateway_password);
	int rc;

	/* Our Via and Contact name the first address we listen on, or the
	 * one we advertise to the other nodes. */
	snprintf(co.via_host, sizeof(co.via_host), "%s",
		 ro->nlisten ? ro->listen_hosts[0] : "127.0.0.1");
	if (c->sip_advertise[0]) {
		struct sockaddr_storage ss;
		socklen_t sl;
		char hp[CFG_STR_MAX + 8];

		snprintf(hp, sizeof(hp), "%s", c->sip_advertise);
		if (base_addr_parse(hp, &ss, &sl))
			snprintf(hp, sizeof(hp), "%s:5060", c->sip_advertise);
		if (!base_addr_parse(hp, &ss, &sl))
			base_addr_ip((struct sockaddr *)&ss, co.via_host,
				     sizeof(co.via_host));
	}
	rc = call_engine_new(out, s, &co);
	base_wipe(co.gw_password, sizeof(co.gw_password));
	return rc;
}

/*
 * log_file: the log (standard error) appended to that file from now on;
 * called again on SIGHUP, after logrotate moved the file away. Returns 0
 * or an errno (the log stays where it was).
 */
static int log_open(const struct cfg *c)
{
	int fd, err = 0;

	if (!c->log_file[0])
		return 0;
	fd = open(c->log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return errno;
	if (dup2(fd, STDERR_FILENO) < 0)
		err = errno;
	close(fd);
	return err;
}

/* SIGHUP: the log file and the TLS certificate again. */
static void reload(const struct cfg *c, struct sip_transport *sip)
{
	int err;

	sd_notify(0, "RELOADING=1\nSTATUS=reloading");
	err = log_open(c);
	if (err)
		LOG_WARN("log_reopen_failed", "file=\"%s\" error=\"%s\"",
			 c->log_file, strerror(err));
	else if (c->log_file[0])
		LOG_INFO("log_reopened", "file=\"%s\"", c->log_file);
	tls_reload(c, sip);
	sd_notify(0, "READY=1\nSTATUS=serving");
}

/*
 * Feeds systemd's watchdog (WatchdogSec) while every event loop turns: a
 * loop whose last beat is older than half the watchdog period is stuck,
 * and the watchdog then starves, so that systemd restarts the process.
 */
static void watchdog_feed(int64_t period_ms, bool *starving)
{
	const char *stuck = base_beat_stale(base_time_mono_ms(), period_ms / 2);

	if (!stuck) {
		sd_notify(0, "WATCHDOG=1");
		*starving = false;
		return;
	}
	if (!*starving)
		LOG_ERROR("loop_stuck",
			  "loop=%s msg=\"an event loop has not turned for %lld "
			  "ms: the watchdog is no longer fed\"",
			  stuck, (long long)(period_ms / 2));
	*starving = true;
}

/*
 * Waits for SIGTERM or SIGINT (returned), handling SIGHUP meanwhile and
 * feeding the watchdog when systemd asked for one (WATCHDOG_USEC).
 */
static int serve_until_stopped(const struct cfg *c, const sigset_t *set,
			       struct sip_transport *sip)
{
	uint64_t wd_us = 0;
	int64_t period_ms = 0, next_ms = 0;
	bool starving = false;
	int sig;

	if (sd_watchdog_enabled(0, &wd_us) > 0 && wd_us >= 2000)
		period_ms = (int64_t)(wd_us / 1000);
	for (;;) {
		struct timespec ts;
		int64_t now = base_time_mono_ms();

		if (period_ms && now >= next_ms) {
			watchdog_feed(period_ms, &starving);
			next_ms = now + period_ms / 3;
		}
		ts.tv_sec = period_ms ? (next_ms - now) / 1000 : 3600;
		ts.tv_nsec =
		    period_ms ? (long)((next_ms - now) % 1000) * 1000000L : 0;
		sig = sigtimedwait(set, NULL, &ts);
		if (sig < 0)
			continue; /* the timeout (EAGAIN), or EINTR */
		if (sig != SIGHUP)
			return sig;
		reload(c, sip);
	}
}

static long shutdown_s;

/* Ends the process when SIGTERM's drain takes over shutdown_timeout. */
static void *shutdown_guard(void *arg)
{
	struct timespec ts = {.tv_sec = shutdown_s};

	(void)arg;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	LOG_ERROR("shutdown_timeout",
		  "seconds=%ld msg=\"the drain did not end in time: exiting\"",
		  shutdown_s);
	base_log_flush();
	_exit(1);
	return NULL;
}

/* Starts shutdown_guard (detached: exiting first ends it). */
static void guard_shutdown(long seconds)
{
	pthread_t t;

	shutdown_s = seconds;
	if (pthread_create(&t, NULL, shutdown_guard, NULL) == 0)
		pthread_detach(t);
}

/*
 * The admin listener (admin_http; none when empty): one loop and one
 * worker, since a scrape or a probe every few seconds is all it serves.
 */
static int start_admin(const struct cfg *c, struct svc *s,
		       struct api_admin **admin, struct http_server **srv)
{
	struct http_opts o = {.listen = c->admin_http,
			      .body_max = 4096,
			      .threads = 1,
			      .write_threads = 1,
			      .loops = 1,
			      .conn_max = 64,
			      .conn_per_addr = 16,
			      .timeout_s = 60,
			      .request_timeout_s = 10};

	*admin = NULL;
	*srv = NULL;
	if (!c->admin_http[0])
		return 0;
	if (api_admin_new(admin, s, (unsigned)c->ready_timeout * 1000))
		return 1;
	if (http_server_start(srv, &o, api_admin_handle, *admin)) {
		fprintf(stderr, "sipward: cannot listen on %s (admin_http)\n",
			c->admin_http);
		return 1;
	}
	return 0;
}

static int cmd_serve(int argc, char **argv)
{
	struct flags f = {0};
	struct cfg c;
	struct svc *s = NULL;
	struct api *a = NULL;
	struct http_server *srv = NULL, *admin_srv = NULL;
	struct api_admin *admin = NULL;
	struct http_opts ho;
	struct registrar *reg = NULL;
	struct registrar_opts ro;
	struct sip_auth *auth = NULL;
	struct call_engine *calls = NULL;
	struct sip_front front = {0};
	struct sip_transport *sip = NULL;
	struct sip_transport_opts so;
	struct ssl_ctx_st *tls = NULL;
	unsigned char secret[64];
	static struct sip_path_key pk; /* read by threads until exit */
	sigset_t set;
	int64_t n = 0;
	int rc, sig = 0;
	long threads, wthreads, cpus;

	rc = parse_flags(argc, argv, "config db http sip domain", &f, NULL);
	if (!rc)
		rc = load_cfg(&f, &c);
	if (rc)
		return rc;
	rc = log_open(&c);
	if (rc) {
		fprintf(stderr, "sipward: log_file %s: %s\n", c.log_file,
			strerror(rc));
		return 1;
	}
	/* Block the stop signals before any thread starts. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	rc = open_svc_key(&c, &s);
	if (rc)
		goto out;
	if (svc_key_check(s) == EBADMSG)
		LOG_WARN(
		    "server_key_mismatch",
		    "msg=\"the server key does not open the newest sealed "
		    "account token: it is not the key that the other nodes "
		    "use, or it changed (sipward account rotate-token "
		    "seals new tokens)\"");
	rc = api_new(&a, s, &c);
	if (rc) {
		rc = 1;
		goto out;
	}
	cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (cpus < 1)
		cpus = 1;
	threads = c.http_threads ? c.http_threads : 4 * cpus;
	wthreads = c.http_write_threads ? c.http_write_threads : 16 * cpus;
	ho = (struct http_opts){.listen = c.http,
				.body_max = (size_t)c.body_max,
				.threads = (unsigned)threads,
				.write_threads = (unsigned)wthreads,
				.conn_max = (unsigned)c.http_conn_max,
				.conn_per_addr = (unsigned)c.http_conn_per_addr,
				.timeout_s = (unsigned)c.http_timeout,
				.request_timeout_s =
				    (unsigned)c.http_request_timeout,
				/* what never blocks runs on the loops */
				.inline_ok = api_inline};
	if (http_server_start(&srv, &ho, api_handle, a)) {
		fprintf(stderr, "sipward: cannot listen on %s\n", c.http);
		rc = 1;
		goto out;
	}
	rc = start_admin(&c, s, &admin, &admin_srv);
	if (rc)
		goto out;
	rc = registrar_opts(&c, &ro, secret, sizeof(secret));
	if (!rc)
		rc = shared_auth(&ro, &auth) ? 1 : 0;
	if (!rc)
		rc = registrar_new(&reg, s, &ro) ? 1 : 0;
	if (!rc)
		rc = start_calls(&c, s, &ro, &calls) ? 1 : 0;
	if (rc) {
		base_wipe(secret, sizeof(secret));
		goto out;
	}
	if (tls_load(&c, &tls)) {
		rc = 1;
		base_wipe(secret, sizeof(secret));
		goto out;
	}
	front = (struct sip_front){.reg = reg, .calls = calls};
	so = (struct sip_transport_opts){.listen = c.sip,
					 .msg_max = (size_t)c.sip_msg_max,
					 .tcp_max = (unsigned)c.sip_tcp_max,
					 .tcp_per_addr =
					     (unsigned)c.sip_tcp_per_addr,
					 .tcp_idle_s = (unsigned)c.sip_tcp_idle,
					 .listen_tls = c.sip_tls,
					 .listen_ws = c.sip_ws,
					 .listen_wss = c.sip_wss,
					 .tls = tls,
					 .ws_ping_s = (unsigned)c.sip_ws_ping,
					 .udp_rcvbuf = (int)c.sip_udp_rcvbuf,
					 .closed = front_on_closed};
	if (sip_transport_start(&sip, &so, front_on_message, front_on_tick,
				&front)) {
		fprintf(stderr,
			"sipward: cannot listen for SIP on %s%s%s%s%s%s%s\n",
			c.sip, c.sip_tls[0] ? ", " : "", c.sip_tls,
			c.sip_ws[0] ? ", " : "", c.sip_ws,
			c.sip_wss[0] ? ", " : "", c.sip_wss);
		rc = 1;
		goto out;
	}
	registrar_set_port(reg, sip_transport_port(sip));
	api_set_sip_ports(a, sip_transport_port_of(sip, SIP_WS),
			  sip_transport_port_of(sip, SIP_WSS));
	if (admin)
		api_admin_set_sip_bound(admin, true);
	path_key(&c, &ro, sip_transport_port(sip), &pk);
	base_wipe(secret, sizeof(secret));
	registrar_set_path(reg, &pk);
	call_engine_set_transport(calls, sip, sip_transport_port(sip), &pk);
	/* The first account, once both listeners are up: printed once. */
	if (svc_account_count(s, &n) == 0 && n == 0) {
		rc = create_account(s, "first account", c.domain);
		if (rc)
			goto out;
	}
	LOG_INFO("started",
		 "version=%s http=%s http_port=%u admin_port=%u sip=%s "
		 "sip_port=%u sip_tls_port=%u sip_ws_port=%u sip_wss_port=%u "
		 "db_backend=%s threads=%ld write_threads=%ld sip_workers=%u",
		 SIPWARD_VERSION, c.http, http_server_port(srv),
		 admin_srv ? http_server_port(admin_srv) : 0, c.sip,
		 sip_transport_port(sip), sip_transport_port_of(sip, SIP_TLS),
		 sip_transport_port_of(sip, SIP_WS),
		 sip_transport_port_of(sip, SIP_WSS), backend(c.db)->name,
		 threads, wthreads, ro.workers);
	sd_notify(0, "READY=1\nSTATUS=serving");
	sig = serve_until_stopped(&c, &set, sip);
	LOG_INFO("stopping", "signal=%d shutdown_timeout=%ld", sig,
		 c.shutdown_timeout);
	sd_notify(0, "STOPPING=1\nSTATUS=draining");
	guard_shutdown(c.shutdown_timeout);
	if (admin)
		api_admin_set_draining(admin);
out:
	/* The API drains first (its requests need the store only), then
	 * SIP; /readyz answers 503 (draining) until both are done. */
	http_server_stop(srv);
	registrar_stop_workers(reg); /* they send on sip */
	call_engine_stop(calls);
	sip_transport_stop(sip);
	http_server_stop(admin_srv); /* its gauges read what is freed below */
	sip_tls_ctx_free(tls);
	call_engine_free(calls);
	registrar_free(reg);
	sip_auth_free(auth);
	api_admin_free(admin);
	api_free(a);
	svc_close(s);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	/* Not in the usage: what `make docs` puts in docs/config.md. */
	if (strcmp(argv[1], "--config-doc") == 0) {
		cfg_print_markdown(stdout);
		return 0;
	}
	/* Not in the usage either: the metric table of docs/operations.md. */
	if (strcmp(argv[1], "--metrics-doc") == 0) {
		char *doc;
		size_t len;

		if (metric_doc(&doc, &len))
			return 1;
		fwrite(doc, 1, len, stdout);
		free(doc);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("sipward %s\n", SIPWARD_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "serve") == 0) {
		/*
		 * Fixed malloc thresholds: with glibc's moving ones, a
		 * thread's arena gave its top back to the kernel (madvise)
		 * after most requests and grew it again on the next, a third
		 * of a list page's CPU. Up to 1 MiB free stays per arena.
		 */
		mallopt(M_MMAP_THRESHOLD, 1 << 20);
		mallopt(M_TRIM_THRESHOLD, 1 << 20);
		return cmd_serve(argc - 2, argv + 2);
	}
	if (strcmp(argv[1], "db") == 0 && argc >= 3 &&
	    strcmp(argv[2], "copy") == 0)
		return cmd_db_copy(argc - 3, argv + 3);
	if (strcmp(argv[1], "db") == 0 && argc >= 3 &&
	    strcmp(argv[2], "backup") == 0)
		return cmd_db_backup(argc - 3, argv + 3);
	if (strcmp(argv[1], "account") == 0 && argc >= 3 &&
	    strcmp(argv[2], "create") == 0)
		return cmd_account_create(argc - 3, argv + 3);
	if (strcmp(argv[1], "account") == 0 && argc >= 3 &&
	    strcmp(argv[2], "rotate-token") == 0)
		return cmd_account_rotate(argc - 3, argv + 3);
	return bad_usage("unknown command", argv[1]);
}
