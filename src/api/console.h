/*
 * console.h - the web console's files, embedded in the binary at build
 * time (scripts/embed-console.py writes the table from console/) and
 * served by the API at /console/ (api/console.c).
 */
#ifndef API_CONSOLE_H
#define API_CONSOLE_H

#include <stddef.h>

struct console_asset {
	const char *path; /* under /console/, e.g. "js/app.js" */
	const char *type; /* its Content-Type */
	const unsigned char *data;
	size_t len;
	const char *etag; /* quoted, from its SHA-256 */
};

extern const struct console_asset console_assets[];
extern const size_t console_assets_n;

#endif
