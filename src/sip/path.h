/*
 * path.h - how a node names one of its TCP connections in a URI that other
 * nodes route through: "<sip:HOST:PORT;lr;sw=TOKEN>", stored with a TCP
 * binding as its path (RFC 3327) and put in the Record-Route of an INVITE
 * forwarded down that connection. The token carries the connection id, a
 * random number drawn when the process started and, for a Record-Route,
 * the address of the node upstream, all under an HMAC-SHA-256 with the
 * nodes' shared secret and the node's own address: no one else can make
 * one, and a token is good only at the node and process that made it.
 * Also the small parsing that stateless forwarding needs. No I/O.
 */
#ifndef SIP_PATH_H
#define SIP_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sip/msg.h"

#define SIP_PATH_SECRET_MAX 64
#define SIP_PATH_SELF_MAX 72 /* "HOST:PORT" or "[V6]:PORT" */
#define SIP_PATH_TOKEN_MAX 96
#define SIP_PATH_URI_MAX (SIP_PATH_SELF_MAX + SIP_PATH_TOKEN_MAX + 24)
/* The branch of the Via a node adds when it forwards: '-' never appears
 * in sip_build_branch's, so no transaction of ours has it. */
#define SIP_PATH_BRANCH_PREFIX "z9hG4bK-swp"
#define SIP_PATH_BRANCH_MAX 48

struct sip_path_key {
	unsigned char secret[SIP_PATH_SECRET_MAX];
	size_t secret_len;
	uint32_t epoch;		      /* random, drawn by sip_path_key_init */
	char self[SIP_PATH_SELF_MAX]; /* this node as others reach it; "" */
};

/*
 * Sets up k with secret (1 to SIP_PATH_SECRET_MAX bytes) and self
 * ("HOST:PORT", "[V6]:PORT", or "" when this node has no address others
 * can reach: then it makes no path). Returns 0, EINVAL or EIO.
 */
int sip_path_key_init(struct sip_path_key *k, const void *secret, size_t len,
		      const char *self);

/*
 * Writes the token for connection conn (and up, the node upstream, or
 * NULL) into out (cap > SIP_PATH_TOKEN_MAX is enough): lower-case hex.
 * Returns 0, EINVAL (no self, conn 0, up not IPv4/IPv6), ERANGE or EIO.
 */
int sip_path_token_make(const struct sip_path_key *k, uint64_t conn,
			const struct sockaddr *up, char *out, size_t cap);

/*
 * Checks a token. Returns 0 with *conn and, when the token names one, the
 * upstream address in *up (*uplen 0 when none); EACCES when it is not a
 * token this node made (malformed, wrong MAC: forged, or another node's);
 * ESTALE when this node made it in an earlier process (its connection is
 * gone). Outputs are written only on success.
 */
int sip_path_token_check(const struct sip_path_key *k, struct sip_str tok,
			 uint64_t *conn, struct sockaddr_storage *up,
			 socklen_t *uplen);

/* Writes "<sip:SELF;lr;sw=TOKEN>" into out. Returns as token_make. */
int sip_path_uri(const struct sip_path_key *k, uint64_t conn,
		 const struct sockaddr *up, char *out, size_t cap);

/*
 * Splits a comma-separated list of name-addrs (a Route value) at its
 * first element: *uri is the URI inside its < > (text between, absent
 * when the element has none), *rest what follows the comma with leading
 * whitespace skipped (absent when nothing). Commas inside < > or quotes
 * do not split. Returns 0 or EBADMSG (no '<', unterminated '<' or quote).
 */
int sip_route_split(struct sip_str list, struct sip_str *uri,
		    struct sip_str *rest);

/*
 * The value of parameter name (case-insensitive) in params (";a=b;c" or
 * "a=b;c"): p absent when there is no such parameter, n 0 when it has no
 * value.
 */
struct sip_str sip_param_get(struct sip_str params, const char *name);

/* True when u's host and port are k->self (numeric, exact). */
bool sip_path_is_self(const struct sip_path_key *k, const struct sip_uri *u);

/*
 * The address of the node a path names ("<sip:HOST:PORT;...>", host
 * numeric, port 5060 when absent), and whether it is k's own. Returns 0
 * or EINVAL.
 */
int sip_path_hop(const struct sip_path_key *k, const char *path,
		 struct sockaddr_storage *ss, socklen_t *len, bool *self);

/*
 * The branch of the Via this node adds when forwarding a request whose
 * top Via is v (or none: NULL): SIP_PATH_BRANCH_PREFIX and a MAC of v's
 * branch, sent-by, received and rport, so that a retransmission, its
 * CANCEL and its ACK get the same one (RFC 3261 16.11), and a response
 * carries back a Via below ours that we can check. Returns 0, ERANGE, EIO.
 */
int sip_path_branch(const struct sip_path_key *k, const struct sip_via *v,
		    char *out, size_t cap);

/* True when branch is what sip_path_branch makes for v. */
bool sip_path_branch_ok(const struct sip_path_key *k, struct sip_str branch,
			const struct sip_via *v);

#endif
