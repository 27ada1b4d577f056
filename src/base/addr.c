/* addr.c - numeric socket address parsing and printing. */
#include "base/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

int base_addr_parse(const char *text, struct sockaddr_storage *ss,
		    socklen_t *len)
{
	char host[64];
	const char *colon, *h = text;
	size_t hl;
	char *end;
	long port;

	memset(ss, 0, sizeof(*ss));
	if (text[0] == '[') {
		const char *rb = strchr(text, ']');
		if (!rb || rb[1] != ':')
			return EINVAL;
		h = text + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon)
			return EINVAL;
		hl = (size_t)(colon - text);
	}
	if (hl == 0 || hl >= sizeof(host))
		return EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (colon[1] < '0' || colon[1] > '9')
		return EINVAL; /* no sign, no space */
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || *end || port > 65535)
		return EINVAL;
	if (text[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return EINVAL;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return EINVAL;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len = sizeof(*s4);
	}
	return 0;
}

char *base_addr_ip(const struct sockaddr *sa, char *out, size_t cap)
{
	const void *a = NULL;

	out[0] = '\0';
	if (sa && sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa && sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	if (a && !inet_ntop(sa->sa_family, a, out, (socklen_t)cap))
		out[0] = '\0';
	return out;
}
