/* api.h - the Vobiz-compatible REST API: routing, auth, handlers. */
#ifndef API_API_H
#define API_API_H

#include "cfg/cfg.h"
#include "http/server.h"
#include "svc/svc.h"

struct api;

/* Creates the API over svc; cfg must outlive it. */
int api_new(struct api **out, struct svc *svc, const struct cfg *cfg);
void api_free(struct api *a);

/* The ports the SIP WebSocket listeners are bound to (0: none), which the
 * web console's softphone connects to. */
void api_set_sip_ports(struct api *a, unsigned ws, unsigned wss);

/* The http_handler: answers one request (ctx is the struct api). */
void api_handle(void *ctx, const struct http_req *req, struct http_resp *resp);

/* The http_inline_fn: reads, and the endpoint update (queued, answered
 * once durable), when the store's reads never wait and its writes queue
 * (SQLite). */
bool api_inline(void *ctx, const struct http_req *req);

#endif
