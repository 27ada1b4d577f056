/* addr.h - "HOST:PORT" / "[V6]:PORT" listen addresses (numeric only). */
#ifndef BASE_ADDR_H
#define BASE_ADDR_H

#include <sys/socket.h>

/*
 * Parses a numeric IPv4 "a.b.c.d:port" or IPv6 "[addr]:port" into ss.
 * Returns 0 or EINVAL.
 */
int base_addr_parse(const char *text, struct sockaddr_storage *ss,
		    socklen_t *len);

/* Writes "ip" (no port) of sa into out. Returns out. */
char *base_addr_ip(const struct sockaddr *sa, char *out, size_t cap);

#endif
