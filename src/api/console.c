/*
 * console.c - the web console at /console/ on the API listener: the files
 * of console/ embedded at build time (console.h), and config.json, what the
 * softphone needs to know of this server (its WebSocket listeners).
 *
 * No authentication here: the files are public, like any web page; the
 * console then calls the REST API with the credentials the user types,
 * exactly as every other client does. Every answer carries a strict
 * Content-Security-Policy (no inline script or style, nothing from another
 * origin, WebSockets for SIP), an ETag (a request with If-None-Match that
 * matches gets 304) and `Cache-Control: no-cache`: the browser keeps the
 * files and asks each time whether they changed, so an upgraded server is
 * never mixed with an old page.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/console.h"
#include "api/internal.h"

#define CONSOLE_PREFIX "/console/"

/* Sent with every file (HTTP_RESP_RAW_MAX bytes at most). */
static const char SECURITY_HEADERS[] =
    "Content-Security-Policy: default-src 'none'; script-src 'self'; "
    "style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; "
    "media-src 'self' blob: mediastream:; font-src 'self'; "
    "manifest-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "Referrer-Policy: no-referrer\r\n"
    "Cross-Origin-Opener-Policy: same-origin\r\n";
_Static_assert(sizeof(SECURITY_HEADERS) <= HTTP_RESP_RAW_MAX,
	       "the console's headers fit the response head");

bool api_console_path(const char *path)
{
	return strcmp(path, "/console") == 0 ||
	       strncmp(path, CONSOLE_PREFIX, sizeof(CONSOLE_PREFIX) - 1) == 0;
}

/* Whether If-None-Match (a list of entity tags, or *) names etag. */
static bool etag_matches(const char *inm, const char *etag)
{
	size_t n = strlen(etag);

	while (inm && *inm) {
		while (*inm == ' ' || *inm == '\t' || *inm == ',')
			inm++;
		if (*inm == '*')
			return true;
		if (strncmp(inm, "W/", 2) == 0) /* weak comparison (RFC 9110) */
			inm += 2;
		if (strncmp(inm, etag, n) == 0 &&
		    (inm[n] == '\0' || inm[n] == ',' || inm[n] == ' ' ||
		     inm[n] == '\t'))
			return true;
		inm = strchr(inm, ',');
	}
	return false;
}

/* Answers with a copy of data (or 304 when the client has it). */
static void reply_file(struct api_ctx *c, const char *type,
		       const unsigned char *data, size_t len, const char *etag)
{
	struct http_resp *r = c->resp;
	const char *inm = http_req_header(c->req, "If-None-Match");
	bool fresh = etag && inm && etag_matches(inm, etag);

	if (!fresh) {
		r->body = malloc(len ? len : 1);
		if (!r->body) {
			api_reply_error(c, 500, "internal error",
					"Out of memory", NULL);
			return;
		}
		memcpy(r->body, data, len);
		r->body_len = len;
		r->content_type = type;
	}
	r->status = fresh ? 304 : 200;
	r->head_raw = SECURITY_HEADERS;
	http_resp_header(r, "Cache-Control", "no-cache");
	if (etag)
		http_resp_header(r, "ETag", "%s", etag);
}

/* "host" and port of a SIP WebSocket listener, as config.json shows it. */
static void put_listener(json_t *o, const char *key, const char *listen,
			 unsigned port)
{
	char host[80] = "";
	const char *colon;
	size_t n;

	if (!listen[0] || !port) {
		json_object_set_new(o, key, json_null());
		return;
	}
	/* HOST:PORT or [v6]:PORT; a wildcard address means "the host the
	 * browser reached us by", which only the page knows. */
	colon = strrchr(listen, ':');
	n = colon ? (size_t)(colon - listen) : strlen(listen);
	if (n >= 2 && listen[0] == '[' && listen[n - 1] == ']') {
		listen++;
		n -= 2;
	}
	if (n < sizeof(host)) {
		memcpy(host, listen, n);
		host[n] = '\0';
	}
	json_object_set_new(o, key,
			    json_pack("{s:o,s:I}", "host",
				      !host[0] ||
					      strcmp(host, "0.0.0.0") == 0 ||
					      strcmp(host, "::") == 0
					  ? json_null()
					  : json_string(host),
				      "port", (json_int_t)port));
}

static void reply_config(struct api_ctx *c)
{
	const struct api *a = c->api;
	json_t *o = json_object();
	char *text;
	size_t len;

	if (o) {
		put_listener(o, "sip_ws", a->cfg->sip_ws,
			     atomic_load(&a->ws_port));
		put_listener(o, "sip_wss", a->cfg->sip_wss,
			     atomic_load(&a->wss_port));
	}
	text = o ? api_json_dump(o, &len) : NULL;
	json_decref(o);
	if (!text) {
		api_reply_error(c, 500, "internal error", "Out of memory",
				NULL);
		return;
	}
	reply_file(c, "application/json", (const unsigned char *)text, len,
		   NULL);
	free(text);
}

void api_console(struct api_ctx *c)
{
	const char *path = c->req->path, *m = c->req->method;

	if (strcmp(m, "GET") != 0) { /* HEAD comes as GET */
		api_reply_error(c, 405, "method not allowed",
				"The console is read with GET", NULL);
		http_resp_header(c->resp, "Allow", "GET, HEAD");
		return;
	}
	if (strcmp(path, "/console") == 0) {
		c->resp->status = 301;
		http_resp_header(c->resp, "Location", CONSOLE_PREFIX);
		return;
	}
	path += sizeof(CONSOLE_PREFIX) - 1;
	if (!*path)
		path = "index.html";
	if (strcmp(path, "config.json") == 0) {
		reply_config(c);
		return;
	}
	for (size_t i = 0; i < console_assets_n; i++) {
		const struct console_asset *f = &console_assets[i];
		if (strcmp(f->path, path) == 0) {
			reply_file(c, f->type, f->data, f->len, f->etag);
			return;
		}
	}
	api_reply_error(c, 404, "not found", "No such file in the console",
			NULL);
}

void api_set_sip_ports(struct api *a, unsigned ws, unsigned wss)
{
	atomic_store(&a->ws_port, ws);
	atomic_store(&a->wss_port, wss);
}
