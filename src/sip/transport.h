/*
 * transport.h - SIP over UDP and TCP (RFC 3261 section 18) on one epoll
 * thread: datagrams, TCP streams framed by Content-Length, CRLF keep-alive
 * pings (RFC 5626 section 4.4.1), connection limits (in all and per
 * address, with eviction of idle unregistered connections) and idle
 * timeouts.
 * Knows nothing of registrations: every message goes to one callback.
 */
#ifndef SIP_TRANSPORT_H
#define SIP_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum sip_proto { SIP_UDP, SIP_TCP };

/* Where a message came from, and so where its response goes. */
struct sip_peer {
	enum sip_proto proto;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	uint64_t conn; /* TCP connection id, 0 for UDP (or TCP by address) */
};

struct sip_transport;

/*
 * Called on the transport thread for each message. msg (len bytes) may be
 * modified in place and is valid only during the call.
 */
typedef void (*sip_recv_fn)(void *ctx, struct sip_transport *t,
			    const struct sip_peer *from, char *msg, size_t len);

/* Called on the transport thread about once a second. */
typedef void (*sip_tick_fn)(void *ctx);

struct sip_transport_opts {
	const char *listen; /* "HOST:PORT" or "[V6]:PORT"; port 0 picks one */
	size_t msg_max;	    /* largest message, bytes */
	unsigned tcp_max;   /* open TCP connections in all; when all are
			       taken, the unregistered one idle longest
			       makes room for a newcomer */
	unsigned tcp_per_addr;
	unsigned tcp_idle_s;
};

/* Binds UDP and TCP and starts the thread. Returns 0, EINVAL or an errno. */
int sip_transport_start(struct sip_transport **out,
			const struct sip_transport_opts *o, sip_recv_fn recv,
			sip_tick_fn tick, void *ctx);

/* Stops the thread, closes every socket, frees t. */
void sip_transport_stop(struct sip_transport *t);

/*
 * Sends len bytes to peer: a datagram for UDP, on the same connection for
 * TCP (dropped when it has closed); TCP with conn 0 goes on the open
 * connection with peer's address, when there is one (ENOTCONN otherwise,
 * or dropped when queued). Safe from any thread: off the transport
 * thread, a TCP send is queued (bounded; EAGAIN when full) and made by the
 * transport thread, which a queued send wakes.
 */
int sip_transport_send(struct sip_transport *t, const struct sip_peer *to,
		       const char *buf, size_t len);

/*
 * Marks TCP connection conn as carrying a registration, so that it is never
 * evicted to make room for a new connection (idle timeouts still apply).
 * Safe from any thread; a connection that has closed is ignored.
 */
void sip_transport_conn_mark(struct sip_transport *t, uint64_t conn);

/*
 * Whether TCP connection conn is open (it may close right after). Safe
 * from any thread.
 */
bool sip_transport_conn_open(struct sip_transport *t, uint64_t conn);

/* The port actually bound (useful with port 0). */
unsigned sip_transport_port(const struct sip_transport *t);

#endif
