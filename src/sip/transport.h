/*
 * transport.h - SIP over UDP, TCP and TLS (RFC 3261 section 18), WebSocket
 * and secure WebSocket (RFC 7118) on one epoll thread: datagrams, streams
 * framed by Content-Length, WebSocket frames (sip/ws.h), CRLF keep-alive
 * pings (RFC 5626 section 4.4.1), connection limits (in all and per
 * address, with eviction of idle unregistered connections), handshake and
 * idle timeouts, and WebSocket pings. Every connection-oriented transport
 * is one kind of connection: a message, a reply or a request reaches a
 * peer over the connection it is on, framed as that connection needs.
 * Knows nothing of registrations: every message goes to one callback.
 */
#ifndef SIP_TRANSPORT_H
#define SIP_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum sip_proto { SIP_UDP, SIP_TCP, SIP_TLS, SIP_WS, SIP_WSS, SIP_PROTO_COUNT };

/* "UDP", "TCP", "TLS", "WS", "WSS": as in Via and in the API. */
const char *sip_proto_name(enum sip_proto p);

/* The protocol named (any case), or -1. */
int sip_proto_parse(const char *name, size_t len);

/* The value of a URI's transport parameter for p: "udp", "tcp", "tls",
 * "ws" (RFC 7118: WSS too). */
const char *sip_proto_param(enum sip_proto p);

/* Where a message came from, and so where its response goes. */
struct sip_peer {
	enum sip_proto proto;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	uint64_t conn; /* connection id, 0 for UDP (or a stream by address) */
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

/*
 * Called on the transport thread when a connection marked with
 * sip_transport_conn_mark closes (not at sip_transport_stop): peer is the
 * connection as its messages came (proto, address, id).
 */
typedef void (*sip_closed_fn)(void *ctx, const struct sip_peer *peer);

struct ssl_ctx_st; /* OpenSSL's SSL_CTX */

struct sip_transport_opts {
	const char *listen; /* "HOST:PORT" or "[V6]:PORT"; port 0 picks one */
	size_t msg_max;	    /* largest message, bytes */
	unsigned tcp_max;   /* open TCP connections in all; when all are
			       taken, the unregistered one idle longest
			       makes room for a newcomer */
	unsigned tcp_per_addr;
	unsigned tcp_idle_s;
	/* Connection-oriented listeners besides TCP (on the `listen` port):
	 * "HOST:PORT" each, NULL or "" for none. TLS and WSS need tls. */
	const char *listen_tls, *listen_ws, *listen_wss;
	struct ssl_ctx_st *tls; /* see sip_tls_ctx_new; the caller keeps its
				   reference, the transport takes its own */
	unsigned ws_ping_s;	/* a silent WebSocket gets a ping; 0: never */
	unsigned handshake_s;	/* a TLS or WebSocket handshake's time */
	int udp_rcvbuf;		/* the UDP socket's receive buffer, bytes;
				   0: the kernel's default */
	sip_closed_fn closed;	/* may be NULL */
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

/*
 * The kind of connection conn (SIP_TCP, SIP_TLS, SIP_WS, SIP_WSS) while it
 * is open, else -1. Safe from any thread.
 */
int sip_transport_conn_kind(struct sip_transport *t, uint64_t conn);

/* The port actually bound (useful with port 0): of UDP and TCP. */
unsigned sip_transport_port(const struct sip_transport *t);

/* The port bound for p, 0 when it has no listener. */
unsigned sip_transport_port_of(const struct sip_transport *t, enum sip_proto p);

/*
 * New connections of TLS and WSS use tls from now on (open ones keep
 * theirs). Safe from any thread; the transport takes its own reference.
 */
void sip_transport_set_tls(struct sip_transport *t, struct ssl_ctx_st *tls);

/*
 * Makes a TLS server context (TLS 1.2 and later) with the certificate
 * chain and private key of two PEM files. Returns 0, or an errno with one
 * sentence in why (never the key's content).
 */
int sip_tls_ctx_new(struct ssl_ctx_st **out, const char *cert_file,
		    const char *key_file, char *why, size_t cap);

/* Drops a reference to a context of sip_tls_ctx_new. */
void sip_tls_ctx_free(struct ssl_ctx_st *tls);

#endif
