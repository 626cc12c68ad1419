/*
 * Host side of a character stream: listening Unix socket, output file or a connected fd. See
 * chardev.h. All descriptors are non-blocking; sockets are written with MSG_NOSIGNAL so a client
 * that vanishes mid-write is a disconnect, not a SIGPIPE.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "machine/chardev.h"

void chardev_init(struct chardev *c)
{
	memset(c, 0, sizeof(*c));
	c->kind = CHARDEV_NONE;
	c->listen_fd = c->fd = -1;
	c->idx_listen = c->idx_fd = -1;
}

static int alloc_buf(struct chardev *c)
{
	if (!c->buf)
		c->buf = malloc(CHARDEV_BUF_SIZE);
	return c->buf ? 0 : -1;
}

/* Is someone listening on the socket file at path? (A stale file from a killed softvm is not.) */
static bool socket_in_use(const struct sockaddr_un *sa)
{
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return false;
	bool used = connect(s, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
	close(s);
	return used;
}

int chardev_listen(struct chardev *c, const char *path, char *err, size_t errlen)
{
	chardev_init(c);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (!*path || strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: a socket path must have 1 to %zu bytes", path, sizeof(sa.sun_path) - 1);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s: exists and is not a socket", path);
			return -1;
		}
		if (socket_in_use(&sa)) {
			snprintf(err, errlen, "%s: another program is listening there", path);
			return -1;
		}
		unlink(path);
	}
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0 || alloc_buf(c) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(s < 0 ? errno : ENOMEM));
		if (s >= 0)
			close(s);
		return -1;
	}
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 4) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(s);
		chardev_close(c);
		return -1;
	}
	c->kind = CHARDEV_SOCKET;
	c->listen_fd = s;
	memcpy(c->path, sa.sun_path, sizeof(c->path));
	return 0;
}

int chardev_open_file(struct chardev *c, const char *path, char *err, size_t errlen)
{
	chardev_init(c);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK | O_CLOEXEC, 0644);
	if (fd < 0 || alloc_buf(c) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(fd < 0 ? errno : ENOMEM));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	c->kind = CHARDEV_FILE;
	c->fd = fd;
	return 0;
}

int chardev_open_fd(struct chardev *c, int fd)
{
	chardev_init(c);
	if (alloc_buf(c) < 0)
		return -ENOMEM;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	struct stat st;
	c->is_socket = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
	c->kind = CHARDEV_FD;
	c->fd = fd;
	c->pending = CHARDEV_EV_CONNECTED;
	c->clients = 1;
	return 0;
}

/* The client left (or failed): forget it and its buffered output. */
static void drop_client(struct chardev *c)
{
	if (c->fd < 0 || c->kind == CHARDEV_FILE)
		return;
	close(c->fd);
	c->fd = -1;
	c->idx_fd = -1;
	c->dropped += c->len;
	c->head = c->len = 0;
	c->peer_gone = false;
	c->pending = (c->pending & ~CHARDEV_EV_CONNECTED) | CHARDEV_EV_DISCONNECTED;
}

void chardev_close(struct chardev *c)
{
	if (c->fd >= 0)
		close(c->fd);
	if (c->listen_fd >= 0) {
		close(c->listen_fd);
		if (c->path[0])
			unlink(c->path);
	}
	free(c->buf);
	chardev_init(c);
}

bool chardev_connected(const struct chardev *c)
{
	return c->fd >= 0;
}

size_t chardev_room(const struct chardev *c)
{
	return chardev_connected(c) ? CHARDEV_BUF_SIZE - c->len : 0;
}

/* One non-blocking write; returns bytes written, 0 if it would block, -1 on a fatal error. */
static ssize_t raw_write(struct chardev *c, const uint8_t *p, size_t len)
{
	for (;;) {
		ssize_t n = c->is_socket ? send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT) : write(c->fd, p, len);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	}
}

/* The descriptor cannot be written any more: a client is dropped, a file stops taking output. */
static void write_failed(struct chardev *c)
{
	if (c->kind == CHARDEV_FILE) {
		close(c->fd);
		c->fd = -1;
		c->idx_fd = -1;
		c->dropped += c->len;
		c->head = c->len = 0;
	} else {
		drop_client(c);
	}
}

/* Writes buffered output while the descriptor takes it. */
static void flush(struct chardev *c)
{
	while (c->len && c->fd >= 0) {
		size_t chunk = CHARDEV_BUF_SIZE - c->head;
		if (chunk > c->len)
			chunk = c->len;
		ssize_t n = raw_write(c, c->buf + c->head, chunk);
		if (n < 0) {
			write_failed(c);
			return;
		}
		if (n == 0)
			return;
		c->head = (c->head + (size_t)n) % CHARDEV_BUF_SIZE;
		c->len -= (size_t)n;
	}
	if (!c->len)
		c->head = 0;
}

size_t chardev_write(struct chardev *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	if (!chardev_connected(c)) {
		c->dropped += len;
		return 0;
	}
	size_t done = 0;
	if (!c->len) {
		ssize_t n = raw_write(c, p, len);
		if (n < 0) {
			write_failed(c);
			c->dropped += len;
			return 0;
		}
		done = (size_t)n;
	}
	size_t rest = len - done, room = CHARDEV_BUF_SIZE - c->len;
	size_t take = rest < room ? rest : room;
	for (size_t k = 0; k < take;) {
		size_t tail = (c->head + c->len) % CHARDEV_BUF_SIZE;
		size_t chunk = CHARDEV_BUF_SIZE - tail;
		if (chunk > take - k)
			chunk = take - k;
		memcpy(c->buf + tail, p + done + k, chunk);
		c->len += chunk;
		k += chunk;
	}
	c->dropped += rest - take;
	return done + take;
}

size_t chardev_read(struct chardev *c, void *buf, size_t len)
{
	if (c->fd < 0 || c->kind == CHARDEV_FILE || !len)
		return 0;
	for (;;) {
		ssize_t n = c->is_socket ? recv(c->fd, buf, len, MSG_DONTWAIT) : read(c->fd, buf, len);
		if (n > 0)
			return (size_t)n;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !c->peer_gone)
			return 0;
		drop_client(c); /* end of file, an error, or a departed client's data all read */
		return 0;
	}
}

void chardev_poll_fill(struct chardev *c, struct net_pollset *ps, bool want_input, int *timeout_ms)
{
	c->idx_listen = c->idx_fd = -1;
	if (c->peer_gone)
		drop_client(c); /* the owner had its chance at what the client sent before leaving */
	if (c->pending)
		*timeout_ms = 0;
	if (c->listen_fd >= 0 && c->fd < 0)
		c->idx_listen = net_pollset_add(ps, c->listen_fd, POLLIN);
	if (c->fd < 0)
		return;
	short ev = 0;
	if (want_input && c->kind != CHARDEV_FILE)
		ev |= POLLIN;
	if (c->len)
		ev |= POLLOUT;
	/* A socket client is always polled: a hang-up is reported even with no events asked. */
	if (ev || c->kind != CHARDEV_FILE)
		c->idx_fd = net_pollset_add(ps, c->fd, ev);
}

unsigned chardev_poll_done(struct chardev *c, const struct net_pollset *ps)
{
	unsigned ev = 0;
	if (c->idx_fd >= 0 && (unsigned)c->idx_fd < ps->n && ps->fds[c->idx_fd].fd == c->fd) {
		short re = ps->fds[c->idx_fd].revents;
		if (re & POLLOUT && c->len) {
			flush(c);
			if (!c->len && c->fd >= 0)
				ev |= CHARDEV_EV_WRITABLE;
		}
		if (re & POLLIN && c->fd >= 0)
			ev |= CHARDEV_EV_READABLE;
		if (re & (POLLHUP | POLLERR | POLLNVAL) && c->fd >= 0) {
			int unread = 0;
			if (re & (POLLERR | POLLNVAL) || c->kind == CHARDEV_FILE || ioctl(c->fd, FIONREAD, &unread) < 0 ||
			    unread <= 0) {
				write_failed(c);
				ev &= ~(CHARDEV_EV_READABLE | CHARDEV_EV_WRITABLE);
			} else {
				/* The owner may read what it sent before it left (until its end, or until the
				 * next chardev_poll_fill, which drops the client). */
				c->peer_gone = true;
				c->dropped += c->len;
				c->head = c->len = 0;
				ev |= CHARDEV_EV_READABLE;
			}
		}
	}
	c->idx_fd = -1;
	if (c->idx_listen >= 0 && (unsigned)c->idx_listen < ps->n && ps->fds[c->idx_listen].revents & POLLIN &&
	    c->fd < 0) {
		int fd = accept4(c->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			c->fd = fd;
			c->is_socket = true;
			c->clients++;
			c->pending |= CHARDEV_EV_CONNECTED;
		}
	}
	c->idx_listen = -1;
	ev |= c->pending;
	c->pending = 0;
	if (!(ev & CHARDEV_EV_CONNECTED) && c->fd < 0)
		ev &= ~(CHARDEV_EV_READABLE | CHARDEV_EV_WRITABLE);
	return ev;
}
