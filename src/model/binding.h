/*
 * binding.h - registrar bindings (RFC 3261 section 10.3) as data: the rules
 * that turn an endpoint's current bindings and one REGISTER into its new
 * bindings. No I/O: svc runs this inside one store transaction.
 */
#ifndef MODEL_BINDING_H
#define MODEL_BINDING_H

#include <stdbool.h>
#include <stdint.h>

#define MODEL_BINDINGS_MAX 32	  /* hard cap on contacts per endpoint */
#define MODEL_CONTACT_URI_MAX 512 /* bytes */
#define MODEL_CALL_ID_MAX 256
#define MODEL_UA_MAX 256
#define MODEL_RECEIVED_MAX 64
#define MODEL_TRANSPORT_MAX 8
#define MODEL_Q_MAX 8
#define MODEL_PATH_MAX 256

struct model_binding {
	int64_t endpoint_ref;
	char contact[MODEL_CONTACT_URI_MAX + 1];
	char q[MODEL_Q_MAX];
	int64_t expires_ms; /* absolute */
	char call_id[MODEL_CALL_ID_MAX + 1];
	uint32_t cseq;
	char user_agent[MODEL_UA_MAX + 1];
	char received[MODEL_RECEIVED_MAX];   /* "ip:port" or "[ip6]:port" */
	char transport[MODEL_TRANSPORT_MAX]; /* "UDP", "TCP" */
	int64_t updated_ms;
	/*
	 * For a TCP binding, the URI of the node holding its connection
	 * ("<sip:HOST:PORT;lr;sw=TOKEN>", RFC 3327's Path), "" when none. The
	 * token names the connection: never shown by the API, never logged.
	 */
	char path[MODEL_PATH_MAX];
};

/* One Contact of a REGISTER. */
struct model_reg_contact {
	const char *uri; /* NUL-terminated */
	const char *q;	 /* NUL-terminated, "" when absent */
	int64_t expires; /* the contact's expires parameter, -1 when absent */
};

struct model_reg_request {
	const char *call_id;
	uint32_t cseq;
	bool star;	 /* Contact: * */
	int64_t expires; /* the Expires header, -1 when absent */
	const struct model_reg_contact *contacts;
	unsigned ncontacts;
	const char *user_agent, *received, *transport;
	const char *path; /* NULL or "" when none */
	int64_t now_ms;
};

struct model_reg_limits {
	uint32_t min_expires, max_expires, default_expires;
	unsigned max_contacts;
};

/*
 * Computes the endpoint's bindings after req, from its live bindings cur.
 * Writes them to next (room for MODEL_BINDINGS_MAX). Returns 0; EINVAL for
 * a malformed request (Contact: * with other contacts or a non-zero
 * Expires, or a contact too long); ERANGE when an expiry is below the
 * minimum (the request is refused whole: answer 423 with Min-Expires);
 * EALREADY when a binding has the same Call-ID and a CSeq not higher than
 * the stored one (out of order); E2BIG when more than max_contacts would
 * be bound.
 */
/*
 * Whether two contact URIs are the same binding (RFC 3261 19.1.4: scheme,
 * host, port and parameters case-insensitive, the user part exact).
 */
bool model_contact_eq(const char *a, const char *b);

int model_register_apply(const struct model_binding *cur, unsigned ncur,
			 const struct model_reg_request *req,
			 const struct model_reg_limits *lim,
			 struct model_binding *next, unsigned *nnext);

#endif
