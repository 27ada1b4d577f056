/*
 * party.c - for the call engine: a SIP party (an endpoint by username and
 * domain) with what routing a call needs: its flags, its application and
 * its live bindings, read in one transaction.
 */
#include <errno.h>
#include <string.h>

#include "base/crypto.h"
#include "svc/internal.h"

struct party_get {
	const char *username, *domain;
	bool bindings;
	struct svc_sip_party *out;
};

static int do_party(struct store *st, void *arg)
{
	struct party_get *g = arg;
	int err;

	err = st->ops->endpoint_get_by_user(st, g->username, g->domain,
					    &g->out->ep);
	if (!err && g->bindings)
		err = svc_bindings_read(st, g->out->ep.id, &g->out->bindings);
	return err;
}

int svc_sip_party(struct svc *s, const char *username, const char *domain,
		  bool bindings, struct svc_sip_party *out)
{
	struct party_get g = {username, domain, bindings, out};
	int err;

	out->bindings.n = 0;
	err = svc_txn_run(s, SVC_TXN_READ, do_party, &g);
	if (err)
		base_wipe(&out->ep, sizeof(out->ep));
	return err;
}
