/*
 * fuzz_app_doc.c - libFuzzer harness for application documents
 * (app_doc_parse): any input is either refused with one sentence or
 * yields verbs whose every field is within the documented bounds. Traps
 * on broken invariants.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app/doc.h"
#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                         \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "invariant failed: %s (line %d)\n", \
				#cond, __LINE__);                           \
			__builtin_trap();                                   \
		}                                                           \
	} while (0)

static bool terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

static bool method_ok(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "POST") == 0;
}

static bool url_ok(const char *u)
{
	struct model_errors errs = {0};
	int rc = model_url_check(u, strlen(u), "url", &errs);

	model_errors_free(&errs);
	return rc == 0;
}

static void check_dial(const struct app_dial *d)
{
	CHECK(d->timeout <= APP_DIAL_TIMEOUT_MAX);
	CHECK(d->time_limit >= 1 && d->time_limit <= APP_DIAL_TIME_LIMIT_MAX);
	CHECK(terminated(d->caller_id, sizeof(d->caller_id)));
	CHECK(terminated(d->caller_name, sizeof(d->caller_name)));
	CHECK(terminated(d->action, sizeof(d->action)));
	CHECK(!d->action[0] || url_ok(d->action));
	CHECK(method_ok(d->method));
	CHECK(d->ntargets >= 1 && d->ntargets <= APP_DIAL_TARGETS_MAX);
	for (unsigned i = 0; i < d->ntargets; i++) {
		const char *t = d->targets[i].text;

		CHECK(terminated(t, sizeof(d->targets[i].text)));
		if (d->targets[i].user) {
			CHECK(strncasecmp(t, "sip:", 4) == 0);
			CHECK(strchr(t, '@'));
		} else {
			size_t n = strlen(t + (*t == '+'));

			CHECK(n >= 3 && n <= 20);
		}
		/* Nothing that could split a SIP header. */
		CHECK(!strpbrk(t, "\r\n <>\""));
	}
	CHECK(d->nheaders <= APP_DIAL_HEADERS_MAX);
	for (unsigned i = 0; i < d->nheaders; i++) {
		CHECK(strncmp(d->headers[i].name, "X-PH-", 5) == 0);
		CHECK(strlen(d->headers[i].name) <= APP_HEADER_NAME_MAX);
		CHECK(strlen(d->headers[i].value) >= 1);
		CHECK(!strpbrk(d->headers[i].name, "\r\n :,="));
		CHECK(!strpbrk(d->headers[i].value, "\r\n ,="));
	}
	CHECK(!strpbrk(d->caller_id, "\r\n <>\"@"));
	CHECK(!strpbrk(d->caller_name, "\r\n"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct app_doc *doc = NULL;
	char err[APP_DOC_ERR_MAX];
	int rc;

	memset(err, 'x', sizeof(err));
	rc = app_doc_parse((const char *)data, size, &doc, err, sizeof(err));
	CHECK(rc == 0 || rc == EBADMSG || rc == ENOMEM);
	if (rc) {
		CHECK(doc == NULL);
		if (rc == EBADMSG)
			CHECK(terminated(err, sizeof(err)) && err[0]);
		return 0;
	}
	CHECK(doc != NULL);
	CHECK(size <= APP_DOC_MAX);
	CHECK(doc->n <= APP_DOC_VERBS_MAX);
	for (unsigned i = 0; i < doc->n; i++) {
		const struct app_verb *v = &doc->verbs[i];

		CHECK(strcmp(app_verb_name(v->kind), "?") != 0);
		switch (v->kind) {
		case APP_VERB_DIAL:
			check_dial(&v->u.dial);
			break;
		case APP_VERB_HANGUP:
			CHECK(v->u.hangup == APP_HANGUP_NONE ||
			      v->u.hangup == APP_HANGUP_BUSY ||
			      v->u.hangup == APP_HANGUP_REJECTED);
			break;
		case APP_VERB_REDIRECT:
			CHECK(url_ok(v->u.redirect.url));
			CHECK(method_ok(v->u.redirect.method));
			break;
		case APP_VERB_WAIT:
			CHECK(v->u.wait >= 1 &&
			      v->u.wait <= APP_WAIT_LENGTH_MAX);
			break;
		}
	}
	app_doc_free(doc);
	return 0;
}
