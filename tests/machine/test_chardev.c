/*
 * machine/chardev.c: a listening Unix socket with one client at a time (accept, data both ways,
 * a second client waiting its turn, hang-ups with and without unread data), bounded output to a
 * client that does not read (never blocking, drops counted, WRITABLE once drained), output with
 * no client, stale and busy socket files, bad paths, the socket file removed at close, and the
 * file backend. Everything is driven through the poll calls the vCPU loop makes.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "machine/chardev.h"
#include "tests/test.h"

static struct net_pollset ps;
static char dir[64], path[96];

/* One round of the vCPU loop's poll; waits up to ms for something to happen. */
static unsigned pump(struct chardev *c, bool want_input, int ms)
{
	int timeout = ms;
	net_pollset_clear(&ps);
	chardev_poll_fill(c, &ps, want_input, &timeout);
	poll(ps.fds, ps.n, timeout);
	return chardev_poll_done(c, &ps);
}

static int client(const char *p)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(p) < sizeof(sa.sun_path) - 1 ? strlen(p) : sizeof(sa.sun_path) - 1;
	memcpy(sa.sun_path, p, n);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(s);
		return -1;
	}
	return s;
}

static bool exists(const char *p)
{
	struct stat st;
	return lstat(p, &st) == 0;
}

static void test_socket(void)
{
	struct chardev c;
	char err[256], buf[64];
	CHECK(chardev_listen(&c, path, err, sizeof(err)) == 0 && exists(path), "listens at the path");
	CHECK(!chardev_connected(&c) && pump(&c, true, 0) == 0, "no client, no events");
	CHECK(chardev_write(&c, "lost", 4) == 0 && c.dropped == 4, "output with no client dropped and counted");

	int a = client(path);
	CHECK(a >= 0 && pump(&c, true, 1000) == CHARDEV_EV_CONNECTED && chardev_connected(&c), "client accepted");
	CHECK(chardev_write(&c, "abc", 3) == 3 && read(a, buf, sizeof(buf)) == 3 && !memcmp(buf, "abc", 3),
	      "output reaches the client");
	CHECK(write(a, "xyz", 3) == 3, "client writes");
	CHECK(pump(&c, false, 50) == 0, "input not wanted: not reported");
	CHECK(pump(&c, true, 1000) == CHARDEV_EV_READABLE, "input wanted: READABLE");
	CHECK(chardev_read(&c, buf, 2) == 2 && chardev_read(&c, buf + 2, 10) == 1 && !memcmp(buf, "xyz", 3),
	      "read in pieces");
	CHECK(chardev_read(&c, buf, 10) == 0 && chardev_connected(&c), "nothing more: 0, still connected");

	int b = client(path); /* waits in the backlog */
	CHECK(b >= 0 && !(pump(&c, true, 50) & CHARDEV_EV_CONNECTED), "second client waits while the first is attached");
	close(a);
	unsigned ev = pump(&c, true, 1000);
	CHECK(ev & CHARDEV_EV_DISCONNECTED && !chardev_connected(&c), "first client's hang-up: DISCONNECTED");
	ev = pump(&c, true, 1000);
	CHECK(ev == CHARDEV_EV_CONNECTED, "then the second is accepted");

	/* Hang-up with unread data: readable once more, then gone. */
	CHECK(write(b, "last", 4) == 4, "client sends and leaves");
	close(b);
	ev = pump(&c, true, 1000);
	CHECK(ev & CHARDEV_EV_READABLE, "READABLE after the hang-up");
	CHECK(chardev_read(&c, buf, sizeof(buf)) == 4 && !memcmp(buf, "last", 4), "its last bytes are read");
	CHECK(chardev_read(&c, buf, sizeof(buf)) == 0, "then end of file");
	CHECK(pump(&c, true, 0) & CHARDEV_EV_DISCONNECTED, "DISCONNECTED reported");

	/* Hang-up with unread data nobody takes: dropped at the next poll. */
	a = client(path);
	CHECK(pump(&c, false, 1000) == CHARDEV_EV_CONNECTED, "a third client");
	CHECK(write(a, "unread", 6) == 6, "it sends");
	close(a);
	pump(&c, false, 1000);
	ev = pump(&c, false, 0);
	CHECK(ev & CHARDEV_EV_DISCONNECTED && !chardev_connected(&c), "leaves with its data unread: dropped");

	/* A client that never reads: output is bounded and the writer never blocks. */
	a = client(path);
	pump(&c, false, 1000);
	int small = 4096;
	setsockopt(c.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(a, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	static uint8_t chunk[8192];
	uint64_t accepted = 0, offered = 0, d0 = c.dropped;
	for (unsigned k = 0; k < 128; k++) {
		memset(chunk, k, sizeof(chunk));
		accepted += chardev_write(&c, chunk, sizeof(chunk));
		offered += sizeof(chunk);
	}
	CHECK(accepted < offered && accepted >= CHARDEV_BUF_SIZE && c.dropped - d0 == offered - accepted,
	      "1 MiB to a stalled client: %llu accepted, the rest dropped and counted",
	      (unsigned long long)accepted);
	CHECK(chardev_room(&c) == 0 && c.len == CHARDEV_BUF_SIZE, "buffer full at its bound");
	uint64_t got = 0;
	bool writable = false;
	for (int round = 0; round < 10000 && got < accepted; round++) {
		ssize_t n = read(a, chunk, sizeof(chunk));
		if (n > 0)
			got += (uint64_t)n;
		writable |= (pump(&c, false, 10) & CHARDEV_EV_WRITABLE) != 0;
	}
	CHECK(got == accepted && writable && chardev_room(&c) == CHARDEV_BUF_SIZE,
	      "the client drains it: every accepted byte arrives, WRITABLE, room back");
	close(a);
	pump(&c, false, 1000);

	/* Output to a client that is gone: a disconnect, not SIGPIPE. */
	a = client(path);
	pump(&c, false, 1000);
	close(a);
	chardev_write(&c, "x", 1);
	chardev_write(&c, "y", 1);
	ev = pump(&c, false, 100);
	CHECK(ev & CHARDEV_EV_DISCONNECTED, "writing to a departed client: DISCONNECTED");

	chardev_close(&c);
	CHECK(!exists(path), "close removes the socket file");
}

static void test_paths(void)
{
	struct chardev c, d;
	char err[256];
	/* A stale socket file (a killed softvm left it) is replaced. */
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	bind(s, (struct sockaddr *)&sa, sizeof(sa));
	close(s);
	CHECK(exists(path) && chardev_listen(&c, path, err, sizeof(err)) == 0, "stale socket file replaced");
	err[0] = 0;
	CHECK(chardev_listen(&d, path, err, sizeof(err)) < 0 && strstr(err, "listening"), "busy socket: %s", err);
	chardev_close(&c);

	char file[160];
	snprintf(file, sizeof(file), "%s/plain", dir);
	FILE *f = fopen(file, "w");
	fclose(f);
	err[0] = 0;
	CHECK(chardev_listen(&c, file, err, sizeof(err)) < 0 && strstr(err, "not a socket") && exists(file),
	      "a regular file is left alone: %s", err);
	char longp[200];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = 0;
	err[0] = 0;
	CHECK(chardev_listen(&c, longp, err, sizeof(err)) < 0 && strstr(err, "bytes"), "path too long: %.40s...",
	      strstr(err, ":") ? strstr(err, ":") : err);
	err[0] = 0;
	CHECK(chardev_listen(&c, "/nonexistent-dir/x.sock", err, sizeof(err)) < 0 && err[0], "missing directory: %s",
	      err);

	/* The file backend: output only. */
	CHECK(chardev_open_file(&c, file, err, sizeof(err)) == 0 && chardev_connected(&c), "output file opened");
	CHECK(chardev_write(&c, "file output\n", 12) == 12, "written");
	char buf[32];
	CHECK(chardev_read(&c, buf, sizeof(buf)) == 0 && !(pump(&c, true, 0) & CHARDEV_EV_READABLE), "no input");
	chardev_close(&c);
	f = fopen(file, "r");
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	CHECK(n == 12 && !memcmp(buf, "file output\n", 12), "the file holds it");
	unlink(file);
	err[0] = 0;
	CHECK(chardev_open_file(&c, "/nonexistent-dir/out", err, sizeof(err)) < 0 && err[0], "bad file: %s", err);

	/* A closed chardev is inert. */
	chardev_init(&c);
	CHECK(!chardev_connected(&c) && chardev_write(&c, "x", 1) == 0 && pump(&c, true, 0) == 0, "closed: inert");
	chardev_close(&c);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/softvm-chardev-XXXXXX");
	if (!mkdtemp(dir)) {
		printf("FAIL: mkdtemp\n");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	test_socket();
	test_paths();
	net_pollset_free(&ps);
	rmdir(dir);
	TEST_EXIT();
}
