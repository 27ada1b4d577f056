/*
 * admin.h - the admin listener's handler: /metrics, /healthz, /readyz
 * (docs/operations.md). Not the REST API: no authentication, its own port.
 */
#ifndef API_ADMIN_H
#define API_ADMIN_H

#include <stdbool.h>

#include "http/server.h"
#include "svc/svc.h"

struct api_admin;

/* Readiness asks the store a query that must answer within timeout_ms. */
int api_admin_new(struct api_admin **out, struct svc *s, unsigned timeout_ms);
void api_admin_free(struct api_admin *a);

/* Whether the SIP sockets are bound (not ready until they are). */
void api_admin_set_sip_bound(struct api_admin *a, bool bound);

/* The node is stopping: /readyz answers 503 from now on. */
void api_admin_set_draining(struct api_admin *a);

/* The http_handler of the admin listener (ctx is the struct api_admin). */
void api_admin_handle(void *ctx, const struct http_req *req,
		      struct http_resp *resp);

#endif
