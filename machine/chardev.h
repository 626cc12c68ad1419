/*
 * The host side of a character stream (the serial console, a virtio-console port): a listening
 * Unix socket that one client at a time attaches to, an output file, or a descriptor that is
 * already connected (tests). Nothing here blocks: output goes straight to the client, or into a
 * bounded buffer while the client is slow (CHARDEV_BUF_SIZE), and whatever does not fit, or has
 * no client to go to, is dropped and counted, so the vCPU thread never waits for a tool. The owner
 * reads input only when it can take it (chardev_poll_fill's want_input), so a client that sends
 * more than the guest consumes waits in its own socket buffer instead of filling ours.
 *
 * The vCPU loop polls the descriptors with the machine's other host fds (net_pollset):
 * chardev_poll_fill before poll(), chardev_poll_done after it, which accepts a client, drains
 * buffered output, notices a client that left and reports all of it as CHARDEV_EV_* bits.
 */
#ifndef SOFTVM_MACHINE_CHARDEV_H
#define SOFTVM_MACHINE_CHARDEV_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/net.h"

#define CHARDEV_BUF_SIZE 65536 /* output held for a slow client */

enum chardev_kind {
	CHARDEV_NONE,   /* nothing attached: output dropped, no input */
	CHARDEV_SOCKET, /* listening Unix socket, one client at a time */
	CHARDEV_FILE,   /* output only */
	CHARDEV_FD,     /* a connected descriptor handed over (tests) */
};

/* chardev_poll_done results. When both connection bits are set, the old client left before
 * the new one came: handle DISCONNECTED first. */
#define CHARDEV_EV_CONNECTED 1u
#define CHARDEV_EV_DISCONNECTED 2u
#define CHARDEV_EV_READABLE 4u /* the client sent data: chardev_read it */
#define CHARDEV_EV_WRITABLE 8u /* buffered output drained: chardev_room() is back to the full size */

struct chardev {
	enum chardev_kind kind;
	int listen_fd;      /* CHARDEV_SOCKET: the listening socket, else -1 */
	int fd;             /* the client, the file or the handed-over fd; -1 when none */
	bool is_socket;     /* fd is a socket (send with MSG_NOSIGNAL) */
	bool peer_gone;     /* the client hung up with data unread: readable until the next poll */
	char path[108];     /* CHARDEV_SOCKET: the socket file, removed by chardev_close */
	uint8_t *buf;       /* pending output, a ring of CHARDEV_BUF_SIZE */
	size_t head, len;
	int idx_listen, idx_fd; /* pollset slots of the last chardev_poll_fill, -1 for none */
	unsigned pending;   /* events to report at the next chardev_poll_done */
	uint64_t dropped;   /* output bytes dropped (no client, or the buffer full) */
	uint64_t clients;   /* connections accepted */
};

/* A closed chardev (CHARDEV_NONE), safe to close or poll. */
void chardev_init(struct chardev *c);
/* Listens on a Unix stream socket at path. A stale socket file there (nobody listening) is
 * replaced; anything else is an error. Returns 0, or -1 with a one-line message in err. */
int chardev_listen(struct chardev *c, const char *path, char *err, size_t errlen);
/* Output to a file (created or truncated). Returns 0, or -1 with a message in err. */
int chardev_open_file(struct chardev *c, const char *path, char *err, size_t errlen);
/* Takes a connected descriptor (made non-blocking); reported as CONNECTED at the next poll. */
int chardev_open_fd(struct chardev *c, int fd);
/* Closes everything and removes the socket file. */
void chardev_close(struct chardev *c);

/* Whether a client is attached (or a file is open). */
bool chardev_connected(const struct chardev *c);
/* Bytes chardev_write accepts now without dropping any (0 when not connected). */
size_t chardev_room(const struct chardev *c);
/* Sends or buffers up to len bytes; the rest is dropped. Returns the bytes accepted. */
size_t chardev_write(struct chardev *c, const void *buf, size_t len);
/* Reads up to len bytes the client sent; 0 when there is nothing (or no client). A client that
 * left is closed here and reported at the next chardev_poll_done. */
size_t chardev_read(struct chardev *c, void *buf, size_t len);

/* Adds the descriptors to ps; want_input says whether the owner can take input now. Lowers
 * *timeout_ms to 0 when events are already pending. */
void chardev_poll_fill(struct chardev *c, struct net_pollset *ps, bool want_input, int *timeout_ms);
/* After poll() on ps (also after a failed or timed-out poll). Returns CHARDEV_EV_* bits. */
unsigned chardev_poll_done(struct chardev *c, const struct net_pollset *ps);
#endif
