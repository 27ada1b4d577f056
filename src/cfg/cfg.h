/*
 * cfg.h - every sipward option in one table (name, type, default, bounds,
 * doc). Values come from the built-in default, then the config file, then
 * SIPWARD_<NAME> environment variables, then command-line flags.
 */
#ifndef CFG_CFG_H
#define CFG_CFG_H

#include <stdbool.h>
#include <stdio.h>

#define CFG_STR_MAX 512

struct cfg {
	char db[CFG_STR_MAX];
	char http[CFG_STR_MAX];
	char admin_http[CFG_STR_MAX];
	long ready_timeout;
	long shutdown_timeout;
	char log_file[CFG_STR_MAX];
	char sip[CFG_STR_MAX];
	char sip_advertise[CFG_STR_MAX];
	char sip_tls[CFG_STR_MAX];
	char sip_ws[CFG_STR_MAX];
	char sip_wss[CFG_STR_MAX];
	char tls_cert_file[CFG_STR_MAX];
	char tls_key_file[CFG_STR_MAX];
	long sip_ws_ping;
	long sip_udp_rcvbuf;
	char rtpengine_ng[CFG_STR_MAX];
	char rtpengine_always[CFG_STR_MAX];
	long rtpengine_timeout;
	char domain[CFG_STR_MAX];
	char log_level[CFG_STR_MAX];
	char log_format[CFG_STR_MAX];
	long body_max;
	long http_threads;
	long http_write_threads;
	long http_conn_max;
	long http_conn_per_addr;
	long http_timeout;
	long http_request_timeout;
	long store_timeout;
	long auth_fail_max;
	long auth_fail_addr_max;
	long auth_fail_window;
	long auth_fail_penalty;
	char secret_key[CFG_STR_MAX];
	char key_file[CFG_STR_MAX];
	char sip_nonce_secret[CFG_STR_MAX];
	char sip_digest_algorithms[CFG_STR_MAX];
	long sip_nonce_ttl;
	long sip_min_expires;
	long sip_max_expires;
	long sip_default_expires;
	long sip_max_contacts;
	long sip_msg_max;
	long sip_tcp_max;
	long sip_tcp_per_addr;
	long sip_tcp_idle;
	long sip_sweep_interval;
	long sip_auth_fail_max;
	long sip_auth_fail_window;
	long sip_auth_fail_penalty;
	long sip_auth_fail_addr_max;
	long sip_challenge_rate;
	long sip_workers;
	long sip_queue_max;
	long cdr_retention_days;
	long ring_timeout;
	long calls_max;
	long calls_max_per_account;
	char webhook_allow_private[CFG_STR_MAX];
	char sip_gateway[CFG_STR_MAX];
	char sip_gateway_username[CFG_STR_MAX];
	char sip_gateway_password[CFG_STR_MAX];
	char dns_servers[CFG_STR_MAX];
	char sip_allow_private_domains[CFG_STR_MAX];
	long dns_timeout;
};

/* Fills c with the built-in defaults. */
void cfg_defaults(struct cfg *c);

/*
 * Sets option `name` from its text form. Returns 0, ENOENT for an unknown
 * name, EINVAL for a value of the wrong form or ERANGE out of bounds; on
 * error, c is unchanged and err (cap bytes) holds one sentence.
 */
int cfg_set(struct cfg *c, const char *name, const char *value, char *err,
	    size_t cap);

/*
 * Reads "name = value" lines ('#' starts a comment) from path. Returns 0 or
 * an errno with a sentence naming the file and line in err.
 */
int cfg_load_file(struct cfg *c, const char *path, char *err, size_t cap);

/* Applies every SIPWARD_<NAME> variable present in the environment. */
int cfg_load_env(struct cfg *c, char *err, size_t cap);

/* Whether option `name` holds a secret (never printed or logged). */
bool cfg_is_secret(const char *name);

/*
 * Checks the final configuration, once every source is applied: each
 * option's own form (addresses, URLs, lists) and the rules between options
 * (sip_min_expires <= sip_default_expires <= sip_max_expires). Returns 0,
 * or EINVAL with one sentence in err (never a secret's value).
 */
int cfg_validate(const struct cfg *c, char *err, size_t cap);

/* Prints every option with its bounds, default and documentation. */
void cfg_print_help(FILE *out);

/* Prints the options table of docs/config.md (markdown). */
void cfg_print_markdown(FILE *out);

#endif
