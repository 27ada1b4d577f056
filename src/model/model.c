/* model.c - single-value checks and the error list, used by field.c. */
#include "model/model.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/text.h"

/* Length of the valid UTF-8 character at s (n bytes left), 0 if none. */
static size_t utf8_char(const char *s, size_t n)
{
	size_t count, len = (unsigned char)s[0] < 0x80	  ? 1
			    : (unsigned char)s[0] >= 0xf0 ? 4
			    : (unsigned char)s[0] >= 0xe0 ? 3
							  : 2;
	bool printable;

	if (len > n || base_text_scan(s, len, &count, &printable))
		return 0;
	return len;
}

/*
 * Writes field into out (cap bytes, when out is not NULL) with each byte
 * that is not part of valid UTF-8 as %XX. Returns the length it needs.
 */
static size_t escape_name(const char *field, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(field), w = 0;

	for (size_t i = 0; i < n;) {
		size_t k = utf8_char(field + i, n - i);
		if (k) {
			if (out && w + k < cap)
				memcpy(out + w, field + i, k);
			w += k;
			i += k;
			continue;
		}
		if (out && w + 3 < cap) {
			out[w] = '%';
			out[w + 1] = hex[(unsigned char)field[i] >> 4];
			out[w + 2] = hex[(unsigned char)field[i] & 15];
		}
		w += 3;
		i++;
	}
	if (out && w < cap)
		out[w] = '\0';
	return w;
}

const char *model_errors_field(const struct model_errors *errs, unsigned i)
{
	return errs->e[i].long_name ? errs->e[i].long_name : errs->e[i].name;
}

void model_errors_free(struct model_errors *errs)
{
	for (unsigned i = 0; i < errs->n; i++) {
		free(errs->e[i].long_name);
		errs->e[i].long_name = NULL;
	}
	errs->n = 0;
}

void model_errors_add(struct model_errors *errs, const char *field,
		      const char *fmt, ...)
{
	size_t need = escape_name(field, NULL, 0) + 1;
	char *long_name = NULL, *name;
	va_list ap;
	int n;

	if (errs->n >= MODEL_ERRORS_MAX)
		return;
	if (need > sizeof(errs->e[0].name)) {
		long_name = malloc(need);
		if (!long_name)
			return;
		name = long_name;
	} else {
		name = errs->e[errs->n].name;
	}
	escape_name(field, name, need);
	for (unsigned i = 0; i < errs->n; i++) {
		if (strcmp(model_errors_field(errs, i), name) == 0) {
			free(long_name);
			return;
		}
	}
	errs->e[errs->n].long_name = long_name;
	va_start(ap, fmt);
	n = vsnprintf(errs->e[errs->n].msg, sizeof(errs->e[0].msg), fmt, ap);
	va_end(ap);
	/* A message is ours and ASCII but for a quoted field: cut it whole. */
	if (n >= (int)sizeof(errs->e[0].msg)) {
		size_t m = sizeof(errs->e[0].msg) - 1;
		while (m > 0 &&
		       ((unsigned char)errs->e[errs->n].msg[m] & 0xc0) == 0x80)
			m--;
		errs->e[errs->n].msg[m] = '\0';
	}
	errs->n++;
}

int model_username_check(const char *s, size_t len, const char *field,
			 struct model_errors *errs)
{
	if (len < 1 || len > MODEL_USERNAME_MAX) {
		model_errors_add(errs, field,
				 "Username must be 1-%d characters",
				 MODEL_USERNAME_MAX);
		return EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_')) {
			model_errors_add(errs, field,
					 "Username may contain only letters, "
					 "digits and underscores");
			return EINVAL;
		}
	}
	return 0;
}

static int text_rule(const char *s, size_t len, size_t min, size_t max,
		     const char *what, const char *field,
		     struct model_errors *errs)
{
	int rc = base_text_check(s, len, min, max);

	if (rc == EILSEQ) {
		model_errors_add(errs, field,
				 "%s must be printable UTF-8 text without "
				 "control characters",
				 what);
		return EINVAL;
	}
	if (rc == ERANGE) {
		model_errors_add(errs, field, "%s must be %zu-%zu characters",
				 what, min, max);
		return EINVAL;
	}
	return 0;
}

int model_password_check(const char *s, size_t len, const char *field,
			 struct model_errors *errs)
{
	size_t n;
	bool pr;

	if (base_text_scan(s, len, &n, &pr) == 0 && pr) {
		if (n < MODEL_PASSWORD_MIN) {
			model_errors_add(errs, field,
					 "Password must be at least %d "
					 "characters",
					 MODEL_PASSWORD_MIN);
			return EINVAL;
		}
		if (n > MODEL_PASSWORD_MAX) {
			model_errors_add(errs, field,
					 "Password must be at most %d "
					 "characters",
					 MODEL_PASSWORD_MAX);
			return EINVAL;
		}
		return 0;
	}
	model_errors_add(errs, field,
			 "Password must be printable UTF-8 text without "
			 "control characters");
	return EINVAL;
}

int model_alias_check(const char *s, size_t len, const char *field,
		      struct model_errors *errs)
{
	return text_rule(s, len, 1, MODEL_ALIAS_MAX, "Alias", field, errs);
}

int model_app_name_check(const char *s, size_t len, const char *field,
			 struct model_errors *errs)
{
	return text_rule(s, len, 1, MODEL_APP_NAME_MAX, "Application name",
			 field, errs);
}

int model_url_check(const char *s, size_t len, const char *field,
		    struct model_errors *errs)
{
	size_t skip;
	const char *host;

	if (len > MODEL_URL_MAX) {
		model_errors_add(errs, field, "URL must be at most %d bytes",
				 MODEL_URL_MAX);
		return EINVAL;
	}
	if (len >= 7 && strncasecmp(s, "http://", 7) == 0)
		skip = 7;
	else if (len >= 8 && strncasecmp(s, "https://", 8) == 0)
		skip = 8;
	else
		goto bad;
	host = s + skip;
	if (skip == len || *host == '/' || *host == '?' || *host == '#' ||
	    *host == ':')
		goto bad;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f)
			goto bad;
	}
	return 0;
bad:
	model_errors_add(errs, field, "Must be an absolute http or https URL");
	return EINVAL;
}

int model_method_check(const char *s, const char *field, char *out, size_t cap,
		       struct model_errors *errs)
{
	if (strcasecmp(s, "GET") == 0) {
		snprintf(out, cap, "GET");
		return 0;
	}
	if (strcasecmp(s, "POST") == 0) {
		snprintf(out, cap, "POST");
		return 0;
	}
	model_errors_add(errs, field, "Must be GET or POST");
	return EINVAL;
}

int model_domain_check(const char *s, const char *field,
		       struct model_errors *errs)
{
	size_t len = strlen(s);

	if (len < 1 || len >= MODEL_DOMAIN_MAX)
		goto bad;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.'))
			goto bad;
	}
	/* Each dot-separated label: 1-63 characters, no '-' at either end. */
	for (const char *l = s; *l;) {
		size_t n = strcspn(l, ".");
		if (n == 0 || n > 63 || l[0] == '-' || l[n - 1] == '-')
			goto bad;
		l += n;
		if (*l == '.' && *++l == '\0')
			goto bad;
	}
	return 0;
bad:
	model_errors_add(errs, field,
			 "Domain must be 1-253 letters, digits, '-' or '.'");
	return EINVAL;
}

int model_id_check(const char *s)
{
	size_t len = strlen(s);

	if (len < 1 || len >= MODEL_ID_MAX)
		return EINVAL;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return EINVAL;
	return 0;
}
