/*
 * model.h - accounts, applications and endpoints: their structs, limits and
 * the checks of single values (api-contract.md); which field uses which
 * check, and every other field rule, is in field.h. No I/O here.
 */
#ifndef MODEL_MODEL_H
#define MODEL_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MODEL_AUTH_ID_MAX 16
#define MODEL_DOMAIN_MAX 254
#define MODEL_NAME_MAX 129 /* account name, bytes */
#define MODEL_USERNAME_MAX 64
#define MODEL_PASSWORD_MIN 8
#define MODEL_PASSWORD_MAX 128
#define MODEL_ALIAS_MAX 128 /* code points */
#define MODEL_APP_NAME_MAX 128
#define MODEL_URL_MAX 2048 /* bytes */
#define MODEL_TEXT_BYTES (128 * 4 + 1)
#define MODEL_ENDPOINT_ID_DIGITS 15
#define MODEL_APP_ID_DIGITS 17
#define MODEL_ID_MAX 24
#define MODEL_HASH_MAX 65
#define MODEL_METHOD_MAX 5
/*
 * An account token encrypted at rest: "v1:" and the hex of a 12-byte nonce,
 * the ciphertext of a token of at most 64 bytes and a 16-byte tag.
 */
#define MODEL_TOKEN_ENC_MAX (3 + 2 * (12 + 64 + 16) + 1)

struct model_account {
	int64_t id;
	char auth_id[MODEL_AUTH_ID_MAX];
	char name[MODEL_NAME_MAX];
	char domain[MODEL_DOMAIN_MAX];
	char token_sha256[MODEL_HASH_MAX];
	/* The token sealed under the server key (svc/account.c); "" none. */
	char token_enc[MODEL_TOKEN_ENC_MAX];
	int64_t created_ms;
};

struct model_app {
	int64_t id;
	int64_t account_id;
	char app_id[MODEL_ID_MAX];
	char app_name[MODEL_TEXT_BYTES];
	char answer_url[MODEL_URL_MAX + 1];
	char answer_method[MODEL_METHOD_MAX];
	char hangup_url[MODEL_URL_MAX + 1]; /* "" when unset */
	char hangup_method[MODEL_METHOD_MAX];
	char fallback_answer_url[MODEL_URL_MAX + 1];
	char fallback_method[MODEL_METHOD_MAX];
	char message_url[MODEL_URL_MAX + 1];
	char message_method[MODEL_METHOD_MAX];
	bool default_endpoint_app;
	int64_t created_ms;
	int64_t updated_ms;
};

/* The application summary embedded in an endpoint object. */
struct model_app_ref {
	char app_id[MODEL_ID_MAX]; /* "" when the endpoint has none */
	char app_name[MODEL_TEXT_BYTES];
	char answer_url[MODEL_URL_MAX + 1];
	char answer_method[MODEL_METHOD_MAX];
};

/* The allow_* flags, indexing model_endpoint.allow (names: field.h). */
enum model_allow {
	MODEL_ALLOW_VOICE,
	MODEL_ALLOW_MESSAGE,
	MODEL_ALLOW_VIDEO,
	MODEL_ALLOW_SAME_DOMAIN,
	MODEL_ALLOW_OTHER_DOMAINS,
	MODEL_ALLOW_PHONES,
	MODEL_ALLOW_APPS,
	MODEL_ALLOW_COUNT
};

struct model_endpoint {
	int64_t id;
	int64_t account_id;
	char endpoint_id[MODEL_ID_MAX];
	char username[MODEL_USERNAME_MAX + 1];
	char domain[MODEL_DOMAIN_MAX];
	char alias[MODEL_TEXT_BYTES];
	char ha1_md5[MODEL_HASH_MAX];
	char ha1_sha256[MODEL_HASH_MAX];
	int64_t app_ref; /* internal id of the application, 0 for none */
	struct model_app_ref app;
	bool allow[MODEL_ALLOW_COUNT];
	int64_t created_ms;
	int64_t updated_ms;
};

/* Validation errors, one per offending field, collected to report at once. */
#define MODEL_ERRORS_MAX 64
struct model_errors {
	unsigned n;
	struct {
		char name[48];	 /* the field's name, when it fits */
		char *long_name; /* else a malloc'd copy */
		char msg[160];
	} e[MODEL_ERRORS_MAX];
};

/*
 * Records that `field` is wrong and why (printf format); keeps the first
 * entry of a field. The name is kept whole (never cut, so two long names
 * are never merged); bytes that are not valid UTF-8 are written as %XX so
 * that the name can be a JSON key.
 */
void model_errors_add(struct model_errors *errs, const char *field,
		      const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The name of entry i. */
const char *model_errors_field(const struct model_errors *errs, unsigned i);

/* Frees what model_errors_add allocated; errs is then empty. */
void model_errors_free(struct model_errors *errs);

/*
 * Each check returns 0 or EINVAL and, on EINVAL, adds the reason to errs
 * under `field`. `s` is NUL-free text of len bytes.
 */
int model_username_check(const char *s, size_t len, const char *field,
			 struct model_errors *errs);
int model_password_check(const char *s, size_t len, const char *field,
			 struct model_errors *errs);
int model_alias_check(const char *s, size_t len, const char *field,
		      struct model_errors *errs);
int model_app_name_check(const char *s, size_t len, const char *field,
			 struct model_errors *errs);
/* An absolute http:// or https:// URL with a host, no spaces or controls. */
int model_url_check(const char *s, size_t len, const char *field,
		    struct model_errors *errs);
/* "GET" or "POST" (any case); writes the upper-case form to out (cap >= 5). */
int model_method_check(const char *s, const char *field, char *out, size_t cap,
		       struct model_errors *errs);
/* A SIP domain: 1-253 of letters, digits, '-', '.'. */
int model_domain_check(const char *s, const char *field,
		       struct model_errors *errs);
/* A decimal id of 1..MODEL_ID_MAX-1 digits. Returns 0 or EINVAL only. */
int model_id_check(const char *s);

#endif
