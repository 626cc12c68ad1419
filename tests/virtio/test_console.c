/*
 * virtio-console (virtio/console.c) driven as Linux's virtio_console driver drives it: rings and
 * buffers in guest RAM, the handshake on the control queues (DEVICE_READY -> DEVICE_ADD per
 * port, PORT_READY -> CONSOLE_PORT + RESIZE / PORT_NAME + PORT_OPEN), and each port's host side
 * a socketpair the test holds the other end of. Checks data both ways, the guest-open gate on
 * input, host connect and disconnect as PORT_OPEN, the named port holding output for a full
 * client and the console port dropping it, the port-0-only mode without MULTIPORT, reset with a
 * held chain, and hostile drivers (short, unknown and misaddressed control messages, repeated
 * requests with no buffers, buffers too small, huge or write-only chains, queues that do not
 * exist). Also --device option parsing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "machine/ram.h"
#include "tests/test.h"
#include "virtio/console.h"
#include "virtio/virtio.h"

#define QSIZE 128
#define NQ 6 /* two ports: 0/1 port 0, 2/3 control, 4/5 port 1 */
#define RING_BASE 0x10000
#define RING_STRIDE 0x4000
#define BUF_BASE 0x100000

static struct guest_ram ram;
static struct virtio_host host;
static struct virtio_console vc;
static struct virtio_device *vdev = &vc.vdev;
static int peer[2] = { -1, -1 }; /* the test's ends of the ports' socketpairs */
static struct net_pollset ps;

static unsigned irqs[NQ];
static void tr_notify(void *opaque, int q)
{
	if (q >= 0 && q < NQ)
		irqs[q]++;
}
static const struct virtio_transport_ops tr = { tr_notify };

/* ---- a tiny split-ring driver ---- */

struct drv_q {
	uint16_t avail_idx, used_seen, next_desc;
};
static struct drv_q dq[NQ];
static uint64_t next_buf = BUF_BASE;

static uint8_t *g(uint64_t gpa, uint64_t len) { return ram_range(&ram, gpa, len); }
static uint64_t desc_gpa(int q) { return RING_BASE + (uint64_t)q * RING_STRIDE; }
static uint64_t avail_gpa(int q) { return desc_gpa(q) + 16 * QSIZE; }
static uint64_t used_gpa(int q) { return desc_gpa(q) + 0x2000; }
static void wr16(uint64_t gpa, uint16_t v) { uint8_t *p = g(gpa, 2); p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static uint16_t rd16(uint64_t gpa) { uint8_t *p = g(gpa, 2); return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(uint64_t gpa) { return rd16(gpa) | (uint32_t)rd16(gpa + 2) << 16; }

static uint64_t alloc_buf(uint32_t len)
{
	uint64_t a = next_buf;
	next_buf += (len + 15) & ~15u;
	if (next_buf > (8u << 20))
		next_buf = BUF_BASE, a = BUF_BASE, next_buf += (len + 15) & ~15u;
	return a;
}

/* Adds a chain of n buffers to queue q; returns the head descriptor. */
static uint16_t add_chain(int q, unsigned n, const uint64_t *addr, const uint32_t *len, bool writable)
{
	uint16_t head = (uint16_t)(dq[q].next_desc % QSIZE);
	for (unsigned k = 0; k < n; k++) {
		uint16_t d = (uint16_t)(dq[q].next_desc++ % QSIZE);
		struct virtq_desc desc = { addr[k], len[k],
					   (uint16_t)((writable ? VIRTQ_DESC_F_WRITE : 0) | (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0)),
					   (uint16_t)((d + 1) % QSIZE) };
		memcpy(g(desc_gpa(q) + 16ull * d, 16), &desc, 16);
	}
	wr16(avail_gpa(q) + 4 + 2ull * (dq[q].avail_idx % QSIZE), head);
	dq[q].avail_idx++;
	wr16(avail_gpa(q) + 2, dq[q].avail_idx);
	return head;
}

static uint64_t add_buf(int q, uint32_t len, bool writable)
{
	uint64_t a = alloc_buf(len);
	add_chain(q, 1, &a, &len, writable);
	return a;
}

static uint16_t last_id;
/* Next used entry of q: false if none; else its buffer's length written. */
static bool take_used(int q, uint32_t *len)
{
	if (rd16(used_gpa(q) + 2) == dq[q].used_seen)
		return false;
	uint64_t e = used_gpa(q) + 4 + 8ull * (dq[q].used_seen % QSIZE);
	last_id = (uint16_t)rd32(e);
	*len = rd32(e + 4);
	dq[q].used_seen++;
	return true;
}

static unsigned used_count(int q)
{
	return (uint16_t)(rd16(used_gpa(q) + 2) - dq[q].used_seen);
}

static void kick(int q) { vdev->ops->queue_notify(vdev, (unsigned)q); }

/* Polls the ports' host sides once, as the vCPU loop does. */
static void pump(void)
{
	int timeout = 0;
	net_pollset_clear(&ps);
	virtio_console_poll_fill(&vc, &ps, &timeout);
	poll(ps.fds, ps.n, 0);
	virtio_console_poll_done(&vc, &ps);
}

/* ---- control queue helpers ---- */

static uint64_t ctrl_rx_bufs[QSIZE]; /* by head descriptor */

static void give_ctrl_rx(unsigned n)
{
	for (unsigned k = 0; k < n; k++) {
		uint64_t a = alloc_buf(4096);
		uint32_t l = 4096;
		uint16_t h = add_chain(VIRTIO_CONSOLE_CTRL_RXQ, 1, &a, &l, true);
		ctrl_rx_bufs[h] = a;
	}
	kick(VIRTIO_CONSOLE_CTRL_RXQ);
}

struct msg {
	uint32_t id;
	uint16_t event, value;
	uint32_t len;
	char extra[256];
};

static bool next_msg(struct msg *m)
{
	uint32_t len;
	if (!take_used(VIRTIO_CONSOLE_CTRL_RXQ, &len))
		return false;
	memset(m, 0, sizeof(*m));
	m->len = len;
	uint64_t a = ctrl_rx_bufs[last_id];
	if (len >= 8) {
		m->id = rd32(a);
		m->event = rd16(a + 4);
		m->value = rd16(a + 6);
		if (len > 8 && len - 8 < sizeof(m->extra))
			memcpy(m->extra, g(a + 8, len - 8), len - 8);
	}
	return true;
}

/* Sends a control message of len bytes (8 normally) and checks the device returned it at once. */
static bool send_ctrl(uint32_t id, uint16_t event, uint16_t value, uint32_t len)
{
	uint64_t a = alloc_buf(16);
	uint8_t *p = g(a, 16);
	memset(p, 0, 16);
	p[0] = (uint8_t)id, p[1] = (uint8_t)(id >> 8), p[2] = (uint8_t)(id >> 16), p[3] = (uint8_t)(id >> 24);
	p[4] = (uint8_t)event, p[5] = (uint8_t)(event >> 8);
	p[6] = (uint8_t)value, p[7] = (uint8_t)(value >> 8);
	add_chain(VIRTIO_CONSOLE_CTRL_TXQ, 1, &a, &len, false);
	kick(VIRTIO_CONSOLE_CTRL_TXQ);
	uint32_t ul;
	return take_used(VIRTIO_CONSOLE_CTRL_TXQ, &ul);
}

static void drain_msgs(void)
{
	struct msg m;
	while (next_msg(&m))
		;
}

/* ---- setup ---- */

static void setup_device(bool with_console)
{
	struct virtio_console_port_config cfg[2];
	memset(cfg, 0, sizeof(cfg));
	unsigned n = 0;
	if (with_console) {
		cfg[n].console = true;
		cfg[n].cols = 100;
		cfg[n].rows = 30;
		n++;
	}
	strcpy(cfg[n].name, "org.softvm.agent.0");
	n++;
	char err[256];
	int r = virtio_console_init(&vc, cfg, n, err, sizeof(err));
	if (r)
		printf("  init: %s\n", err);
	vdev->tr = &tr;
	virtio_device_init(vdev, &host);
}

/* Attaches a fresh socketpair to port k; the test keeps peer[k]. */
static void attach(unsigned k)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	chardev_close(&vc.port[k].chr);
	chardev_open_fd(&vc.port[k].chr, sv[0]);
	if (peer[k] >= 0)
		close(peer[k]);
	peer[k] = sv[1];
	fcntl(peer[k], F_SETFL, O_NONBLOCK);
}

static void driver_start(uint64_t features)
{
	virtio_device_reset(vdev);
	for (int q = 0; q < NQ; q++) {
		memset(g(desc_gpa(q), RING_STRIDE), 0, RING_STRIDE);
		dq[q] = (struct drv_q){ 0, 0, 0 };
		irqs[q] = 0;
	}
	next_buf = BUF_BASE;
	vdev->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	vdev->driver_features = features | VIRTIO_BIT(VIRTIO_F_VERSION_1);
	vdev->status |= VIRTIO_STATUS_FEATURES_OK;
	for (int q = 0; q < NQ; q++) {
		vdev->vq[q].size = QSIZE;
		vdev->vq[q].desc_gpa = desc_gpa(q);
		vdev->vq[q].avail_gpa = avail_gpa(q);
		vdev->vq[q].used_gpa = used_gpa(q);
		virtq_enable(vdev, (unsigned)q);
	}
	vdev->status |= VIRTIO_STATUS_DRIVER_OK;
	vdev->ops->driver_ok(vdev);
}

static size_t peer_read(int k, char *buf, size_t len)
{
	size_t got = 0;
	for (int tries = 0; tries < 100 && got < len; tries++) {
		ssize_t n = read(peer[k], buf + got, len - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

/* Guest writes s on port id's transmit queue. */
static void guest_write(unsigned id, const char *s)
{
	int q = id ? 2 * (int)id + 3 : 1;
	uint32_t len = (uint32_t)strlen(s);
	uint64_t a = alloc_buf(len);
	memcpy(g(a, len), s, len);
	add_chain(q, 1, &a, &len, false);
	kick(q);
}

/* The multiport handshake with both ports attached; leaves port 1 closed in the guest. */
static void handshake(void)
{
	driver_start(VIRTIO_BIT(VIRTIO_CONSOLE_F_MULTIPORT) | VIRTIO_BIT(VIRTIO_CONSOLE_F_SIZE));
	pump(); /* reports the connections: nothing for the driver before PORT_READY */
	give_ctrl_rx(32);
	send_ctrl(0xffffffffu, VIRTIO_CONSOLE_DEVICE_READY, 1, 8);
	drain_msgs();
	send_ctrl(0, VIRTIO_CONSOLE_PORT_READY, 1, 8);
	send_ctrl(1, VIRTIO_CONSOLE_PORT_READY, 1, 8);
	send_ctrl(0, VIRTIO_CONSOLE_PORT_OPEN, 1, 8); /* hvc opens the console itself */
	drain_msgs();
}

/* ---- tests ---- */

static void test_config(void)
{
	setup_device(true);
	CHECK(vdev->device_id == VIRTIO_ID_CONSOLE, "device id 3");
	CHECK(vdev->host_features == (VIRTIO_BIT(VIRTIO_CONSOLE_F_SIZE) | VIRTIO_BIT(VIRTIO_CONSOLE_F_MULTIPORT)),
	      "features: SIZE and MULTIPORT");
	CHECK(vdev->num_queues == 6, "6 queues for 2 ports (%u)", vdev->num_queues);
	CHECK(vdev->config_len == 12, "config space 12 bytes");
	CHECK(vdev->config[0] == 100 && vdev->config[2] == 30, "cols 100 rows 30 in config");
	CHECK(vdev->config[4] == 2 && !vdev->config[5], "max_nr_ports 2");
	for (unsigned k = 0; k < 12; k++)
		if (vdev->config_wmask[k])
			CHECK(0, "config byte %u writable", k);
	virtio_console_free(&vc);

	struct virtio_console_port_config named = { 0 };
	strcpy(named.name, "a");
	char err[256];
	virtio_console_init(&vc, &named, 1, err, sizeof(err));
	CHECK(vdev->host_features == VIRTIO_BIT(VIRTIO_CONSOLE_F_MULTIPORT) && !vc.port[0].present,
	      "named ports only: no SIZE, port 0 absent");
	virtio_console_free(&vc);
}

static void test_handshake(void)
{
	setup_device(true);
	attach(0);
	attach(1);
	driver_start(VIRTIO_BIT(VIRTIO_CONSOLE_F_MULTIPORT) | VIRTIO_BIT(VIRTIO_CONSOLE_F_SIZE));
	pump();
	struct msg m;
	CHECK(!next_msg(&m), "no control message before DEVICE_READY");
	give_ctrl_rx(16);
	CHECK(send_ctrl(0xffffffffu, VIRTIO_CONSOLE_DEVICE_READY, 1, 8), "DEVICE_READY returned at once");
	bool a0 = next_msg(&m) && m.id == 0 && m.event == VIRTIO_CONSOLE_DEVICE_ADD && m.len == 8;
	bool a1 = next_msg(&m) && m.id == 1 && m.event == VIRTIO_CONSOLE_DEVICE_ADD;
	CHECK(a0 && a1 && !next_msg(&m), "DEVICE_ADD for ports 0 and 1");
	CHECK(irqs[VIRTIO_CONSOLE_CTRL_RXQ] > 0, "control receive interrupt");

	send_ctrl(0, VIRTIO_CONSOLE_PORT_READY, 1, 8);
	bool cp = next_msg(&m) && m.id == 0 && m.event == VIRTIO_CONSOLE_CONSOLE_PORT && m.value == 1;
	bool rs = next_msg(&m) && m.id == 0 && m.event == VIRTIO_CONSOLE_RESIZE && m.len == 12 &&
		  (uint8_t)m.extra[0] == 100 && (uint8_t)m.extra[2] == 30;
	bool op = next_msg(&m) && m.id == 0 && m.event == VIRTIO_CONSOLE_PORT_OPEN && m.value == 1;
	CHECK(cp, "PORT_READY(0) -> CONSOLE_PORT");
	CHECK(rs, "RESIZE cols 100 rows 30 (struct virtio_console_resize)");
	CHECK(op && !next_msg(&m), "PORT_OPEN(0, 1): a client is attached");

	send_ctrl(1, VIRTIO_CONSOLE_PORT_READY, 1, 8);
	bool nm = next_msg(&m) && m.id == 1 && m.event == VIRTIO_CONSOLE_PORT_NAME &&
		  m.len == 8 + strlen("org.softvm.agent.0") && !strcmp(m.extra, "org.softvm.agent.0");
	op = next_msg(&m) && m.id == 1 && m.event == VIRTIO_CONSOLE_PORT_OPEN && m.value == 1;
	CHECK(nm, "PORT_READY(1) -> PORT_NAME org.softvm.agent.0 (no NUL)");
	CHECK(op && !next_msg(&m), "PORT_OPEN(1, 1)");

	/* Without SIZE accepted there is no RESIZE. */
	driver_start(VIRTIO_BIT(VIRTIO_CONSOLE_F_MULTIPORT));
	give_ctrl_rx(16);
	send_ctrl(0xffffffffu, VIRTIO_CONSOLE_DEVICE_READY, 1, 8);
	drain_msgs();
	send_ctrl(0, VIRTIO_CONSOLE_PORT_READY, 1, 8);
	cp = next_msg(&m) && m.event == VIRTIO_CONSOLE_CONSOLE_PORT;
	op = next_msg(&m) && m.event == VIRTIO_CONSOLE_PORT_OPEN;
	CHECK(cp && op && !next_msg(&m), "no RESIZE without F_SIZE");

	/* Host clients come and go: PORT_OPEN follows. */
	handshake();
	close(peer[1]);
	peer[1] = -1;
	pump();
	bool closed = next_msg(&m) && m.id == 1 && m.event == VIRTIO_CONSOLE_PORT_OPEN && m.value == 0;
	CHECK(closed && !next_msg(&m), "client left: PORT_OPEN(1, 0)");
	attach(1);
	pump();
	op = next_msg(&m) && m.id == 1 && m.event == VIRTIO_CONSOLE_PORT_OPEN && m.value == 1;
	CHECK(op, "client back: PORT_OPEN(1, 1)");
	virtio_console_free(&vc);
}

static void test_data(void)
{
	setup_device(true);
	attach(0);
	attach(1);
	handshake();
	char buf[256] = { 0 };

	guest_write(0, "hello console\n");
	uint32_t len;
	CHECK(take_used(1, &len) && len == 0, "console chain returned at once");
	CHECK(peer_read(0, buf, 14) == 14 && !memcmp(buf, "hello console\n", 14), "console output reaches the client");
	guest_write(1, "to the agent");
	CHECK(peer_read(1, buf, 12) == 12 && !memcmp(buf, "to the agent", 12), "named port output reaches the client");

	/* Host to guest on the console: it is open (hvc). */
	uint64_t rb = add_buf(0, 4096, true);
	kick(0);
	CHECK(write(peer[0], "ls\n", 3) == 3, "client types");
	pump();
	CHECK(take_used(0, &len) && len == 3 && !memcmp(g(rb, 3), "ls\n", 3), "console input in the receive buffer");

	/* The named port is not open in the guest: input waits in the socket. */
	uint64_t rb1 = add_buf(4, 4096, true);
	kick(4);
	CHECK(write(peer[1], "ping\n", 5) == 5, "client writes to the agent port");
	pump();
	CHECK(!used_count(4), "input held while the guest has the port closed");
	send_ctrl(1, VIRTIO_CONSOLE_PORT_OPEN, 1, 8);
	CHECK(take_used(4, &len) && len == 5 && !memcmp(g(rb1, 5), "ping\n", 5), "delivered when the guest opens it");

	/* Input larger than the guest's buffers: split, and waits for more buffers. */
	char big[10000];
	for (unsigned k = 0; k < sizeof(big); k++)
		big[k] = (char)('a' + k % 26);
	CHECK(write(peer[1], big, sizeof(big)) == (ssize_t)sizeof(big), "client sends 10000 bytes");
	uint64_t b1 = add_buf(4, 4096, true), b2 = add_buf(4, 4096, true);
	kick(4);
	pump();
	uint32_t l1 = 0, l2 = 0;
	bool two = take_used(4, &l1) && take_used(4, &l2) && !used_count(4);
	CHECK(two && l1 == 4096 && l2 == 4096 && !memcmp(g(b1, 4096), big, 4096) && !memcmp(g(b2, 4096), big + 4096, 4096),
	      "two buffers filled in order");
	uint64_t b3 = add_buf(4, 4096, true);
	kick(4);
	CHECK(take_used(4, &l1) && l1 == 10000 - 8192 && !memcmp(g(b3, l1), big + 8192, l1),
	      "the rest when the driver adds a buffer");

	/* Guest closes: input waits again. */
	send_ctrl(1, VIRTIO_CONSOLE_PORT_OPEN, 0, 8);
	add_buf(4, 4096, true);
	kick(4);
	CHECK(write(peer[1], "x", 1) == 1, "client writes");
	pump();
	CHECK(!used_count(4), "closed again: held");

	/* Client leaves: its unread bytes still reach an open port, then PORT_OPEN(0). */
	send_ctrl(1, VIRTIO_CONSOLE_PORT_OPEN, 1, 8);
	CHECK(take_used(4, &len) && len == 1, "held byte delivered on open");
	CHECK(write(peer[1], "bye", 3) == 3, "client sends and leaves");
	close(peer[1]);
	peer[1] = -1;
	drain_msgs();
	uint64_t b4 = add_buf(4, 4096, true);
	kick(4);
	pump();
	pump();
	struct msg m;
	bool got = take_used(4, &len) && len == 3 && !memcmp(g(b4, 3), "bye", 3);
	bool closed = next_msg(&m) && m.id == 1 && m.event == VIRTIO_CONSOLE_PORT_OPEN && m.value == 0;
	CHECK(got && closed, "last bytes before the hang-up delivered, then PORT_OPEN(1, 0)");
	/* Output with no client on a named port is dropped, the chain returned. */
	guest_write(1, "nobody");
	CHECK(take_used(5, &len) && vc.port[1].tx_dropped >= 6, "no client: named port output dropped");
	virtio_console_free(&vc);
}

/* Fills the client's socket until the chardev's buffer is full too. */
static void test_flow(void)
{
	setup_device(true);
	attach(0);
	attach(1);
	int small = 4096;
	setsockopt(peer[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	setsockopt(vc.port[1].chr.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	handshake();
	static char chunk[32768];
	unsigned sent = 0, returned = 0;
	uint32_t len;
	for (unsigned k = 0; k < 16; k++) {
		memset(chunk, 'A' + k, sizeof(chunk));
		uint64_t a = alloc_buf(sizeof(chunk));
		uint32_t l = sizeof(chunk);
		memcpy(g(a, l), chunk, l);
		add_chain(5, 1, &a, &l, false);
		sent++;
	}
	kick(5);
	while (take_used(5, &len))
		returned++;
	CHECK(returned < sent && vc.port[1].tx_elem, "named port holds chains while the client is full (%u of %u back)",
	      returned, sent);
	CHECK(vc.port[1].tx_dropped == 0, "nothing dropped");
	/* The client reads everything; the chains come back and the bytes arrive in order. */
	static char all[16 * 32768];
	size_t got = 0;
	for (int round = 0; round < 10000 && got < sizeof(all); round++) {
		ssize_t n = read(peer[1], all + got, sizeof(all) - got);
		if (n > 0)
			got += (size_t)n;
		pump();
	}
	while (take_used(5, &len))
		returned++;
	bool order = got == sizeof(all);
	for (size_t k = 0; order && k < sizeof(all); k++)
		order = all[k] == (char)('A' + k / 32768);
	CHECK(order && returned == sent, "all 512 KiB delivered in order, every chain returned");

	/* The console port never holds: a full client loses output, the guest goes on. */
	setsockopt(peer[0], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	setsockopt(vc.port[0].chr.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	returned = 0;
	for (unsigned k = 0; k < 8; k++) {
		uint64_t a = alloc_buf(sizeof(chunk));
		uint32_t l = sizeof(chunk);
		add_chain(1, 1, &a, &l, false);
		kick(1);
		returned += take_used(1, &len);
	}
	CHECK(returned == 8 && !vc.port[0].tx_elem && vc.port[0].tx_dropped > 0,
	      "console port returns every chain, drops what the client cannot take");

	/* Reset with a chain held: freed, state cleared. */
	uint64_t a = alloc_buf(sizeof(chunk));
	uint32_t l = sizeof(chunk);
	for (unsigned k = 0; k < 4; k++)
		add_chain(5, 1, &a, &l, false);
	kick(5);
	CHECK(vc.port[1].tx_elem != NULL, "named port holds a chain again");
	virtio_device_reset(vdev);
	CHECK(!vc.port[1].tx_elem && !vc.port[1].ready && !vc.port[1].guest_open && !vc.ctrl_count,
	      "reset frees the held chain and the port state");
	virtio_console_free(&vc);
}

static void test_no_multiport(void)
{
	setup_device(true);
	attach(0);
	attach(1);
	driver_start(VIRTIO_BIT(VIRTIO_CONSOLE_F_SIZE));
	pump();
	guest_write(0, "plain");
	char buf[8];
	uint32_t len;
	CHECK(take_used(1, &len) && peer_read(0, buf, 5) == 5 && !memcmp(buf, "plain", 5),
	      "without MULTIPORT port 0 carries output");
	uint64_t rb = add_buf(0, 64, true);
	kick(0);
	CHECK(write(peer[0], "in", 2) == 2, "client types");
	pump();
	CHECK(take_used(0, &len) && len == 2 && !memcmp(g(rb, 2), "in", 2), "and input, with no handshake");
	/* Control and port 1 queues are dead without MULTIPORT. */
	give_ctrl_rx(4);
	send_ctrl(0xffffffffu, VIRTIO_CONSOLE_DEVICE_READY, 1, 8);
	struct msg m;
	CHECK(!next_msg(&m) && !used_count(VIRTIO_CONSOLE_CTRL_TXQ), "control queues ignored");
	guest_write(1, "x");
	CHECK(!used_count(5) && !peer_read(1, buf, 1), "port 1 queues ignored");
	virtio_console_free(&vc);
}

static void test_hostile(void)
{
	setup_device(true);
	attach(0);
	attach(1);
	driver_start(VIRTIO_BIT(VIRTIO_CONSOLE_F_MULTIPORT) | VIRTIO_BIT(VIRTIO_CONSOLE_F_SIZE));
	pump();
	struct msg m;
	uint32_t len;

	/* Control messages the device must shrug off; each still comes back. */
	uint64_t e0 = vc.ctrl_errors;
	CHECK(send_ctrl(0xffffffffu, VIRTIO_CONSOLE_DEVICE_READY, 1, 4), "short control message returned");
	CHECK(send_ctrl(7, VIRTIO_CONSOLE_PORT_READY, 1, 8), "PORT_READY for a port that does not exist returned");
	CHECK(send_ctrl(0xffffffffu, VIRTIO_CONSOLE_PORT_OPEN, 1, 8), "PORT_OPEN for id ~0 returned");
	CHECK(send_ctrl(0, 99, 1, 8), "unknown event returned");
	CHECK(send_ctrl(0, VIRTIO_CONSOLE_RESIZE, 1, 8), "device-only event from the driver returned");
	CHECK(send_ctrl(1, VIRTIO_CONSOLE_PORT_OPEN, 1, 8), "PORT_OPEN before PORT_READY returned");
	CHECK(send_ctrl(0xffffffffu, VIRTIO_CONSOLE_DEVICE_READY, 0, 8), "DEVICE_READY(0) returned");
	CHECK(vc.ctrl_errors - e0 == 7 && !vc.ctrl_count, "7 errors counted, nothing queued");
	CHECK(!vc.port[1].guest_open, "PORT_OPEN before PORT_READY ignored");

	/* DEVICE_READY over and over with no control buffers: the replies stay bounded. */
	for (int k = 0; k < 200; k++)
		send_ctrl(0xffffffffu, VIRTIO_CONSOLE_DEVICE_READY, 1, 8);
	CHECK(vc.ctrl_count == VIRTIO_CONSOLE_CTRL_BACKLOG && vc.ctrl_dropped == 400 - VIRTIO_CONSOLE_CTRL_BACKLOG,
	      "control backlog bounded at %d (%u queued, %llu dropped)", VIRTIO_CONSOLE_CTRL_BACKLOG, vc.ctrl_count,
	      (unsigned long long)vc.ctrl_dropped);
	give_ctrl_rx(VIRTIO_CONSOLE_CTRL_BACKLOG);
	unsigned n = 0;
	while (next_msg(&m))
		n++;
	CHECK(n == VIRTIO_CONSOLE_CTRL_BACKLOG && !vc.ctrl_count, "backlog delivered when buffers come");

	/* A control receive buffer too small for PORT_NAME: returned empty, message dropped. */
	uint64_t small = alloc_buf(8);
	uint32_t sl = 8;
	uint16_t h = add_chain(VIRTIO_CONSOLE_CTRL_RXQ, 1, &small, &sl, true);
	ctrl_rx_bufs[h] = small;
	kick(VIRTIO_CONSOLE_CTRL_RXQ);
	uint64_t d0 = vc.ctrl_dropped;
	send_ctrl(1, VIRTIO_CONSOLE_PORT_READY, 1, 8);
	bool empty = next_msg(&m) && m.len == 0;
	CHECK(empty && vc.ctrl_dropped == d0 + 1, "PORT_NAME into an 8-byte buffer: dropped, buffer returned empty");
	CHECK(!next_msg(&m), "PORT_OPEN waits for the next buffer");
	give_ctrl_rx(2);
	CHECK(next_msg(&m) && m.event == VIRTIO_CONSOLE_PORT_OPEN, "then delivered");

	/* Transmit chain over the limit (descriptors aliasing the same RAM): dropped unread. */
	uint64_t a[3] = { BUF_BASE, BUF_BASE, BUF_BASE };
	uint32_t l[3] = { 512 << 10, 512 << 10, 512 << 10 };
	add_chain(1, 3, a, l, false);
	kick(1);
	char buf[16];
	CHECK(take_used(1, &len) && vc.port[0].tx_dropped == 3u * (512 << 10) && !peer_read(0, buf, 1),
	      "1.5 MiB transmit chain returned unread");

	/* Receive chain with no writable buffer; transmit chain with only writable ones. */
	send_ctrl(1, VIRTIO_CONSOLE_PORT_OPEN, 1, 8);
	add_buf(4, 64, false);
	kick(4);
	CHECK(write(peer[1], "q", 1) == 1, "client writes");
	pump();
	CHECK(take_used(4, &len) && len == 0, "read-only receive chain returned with nothing written");
	add_buf(5, 64, true);
	kick(5);
	CHECK(take_used(5, &len) && len == 0, "write-only transmit chain returned");

	/* Queues that do not exist, and a notify beyond them. */
	kick(6);
	kick(15);
	CHECK(1, "notify on missing queues ignored");

	/* A descriptor outside guest RAM breaks the queue, not softvm. */
	uint64_t bad = 1ull << 40;
	uint32_t bl = 16;
	add_chain(5, 1, &bad, &bl, false);
	kick(5);
	CHECK(vdev->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET, "descriptor outside RAM: DEVICE_NEEDS_RESET");
	pump();
	guest_write(0, "after");
	CHECK(!used_count(1), "no processing after NEEDS_RESET");

	/* Before DRIVER_OK nothing moves. */
	virtio_device_reset(vdev);
	vdev->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
	kick(3);
	kick(1);
	pump();
	CHECK(!vc.ctrl_count, "nothing before DRIVER_OK");
	virtio_console_free(&vc);
}

static void test_parse(void)
{
	struct virtio_console_port_config c;
	char err[256] = "";
	CHECK(virtio_console_parse("virtio-console,socket=/tmp/x.sock", &c, err, sizeof(err)) == 0 && c.console &&
		      c.backend == VCON_BACKEND_SOCKET && !strcmp(c.path, "/tmp/x.sock"),
	      "virtio-console,socket=PATH");
	CHECK(virtio_console_parse("virtio-console,file=/tmp/o,cols=132,rows=43", &c, err, sizeof(err)) == 0 &&
		      c.backend == VCON_BACKEND_FILE && c.cols == 132 && c.rows == 43,
	      "virtio-console,file=,cols=,rows=");
	CHECK(virtio_console_parse("virtserialport,name=org.softvm.agent.0,socket=/tmp/a", &c, err, sizeof(err)) == 0 &&
		      !c.console && !strcmp(c.name, "org.softvm.agent.0"),
	      "virtserialport,name=,socket=");
	CHECK(virtio_console_parse("virtio-rng", &c, err, sizeof(err)) == 1, "other devices are not ours");
	CHECK(virtio_console_parse("virtio-consoles,socket=x", &c, err, sizeof(err)) == 1, "prefix is not a match");
	static const char *bad[] = {
		"virtio-console", "virtio-console,socket=", "virtio-console,socket=a,file=b", "virtio-console,bogus=1",
		"virtio-console,cols=0,socket=a", "virtio-console,rows=x,socket=a", "virtio-console,name=a,socket=b",
		"virtserialport,socket=a", "virtserialport,name=a/b,socket=c", "virtserialport,name=a,cols=3,socket=b",
		"virtserialport,name,socket=a",
	};
	for (unsigned k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		err[0] = 0;
		int r = virtio_console_parse(bad[k], &c, err, sizeof(err));
		CHECK(r == -1 && err[0] && !strchr(err, '\n'), "rejected: %s (%s)", bad[k], err);
	}
	/* Two consoles, duplicate names: init says so. */
	struct virtio_console_port_config two[2];
	virtio_console_parse("virtio-console,file=/dev/null", &two[0], err, sizeof(err));
	two[1] = two[0];
	CHECK(virtio_console_init(&vc, two, 2, err, sizeof(err)) == -1 && strstr(err, "only one"), "two consoles: %s",
	      err);
	virtio_console_parse("virtserialport,name=n,file=/dev/null", &two[0], err, sizeof(err));
	two[1] = two[0];
	CHECK(virtio_console_init(&vc, two, 2, err, sizeof(err)) == -1 && strstr(err, "twice"), "same name twice: %s",
	      err);
	struct virtio_console_port_config many[VIRTIO_CONSOLE_MAX_PORTS];
	for (unsigned k = 0; k < VIRTIO_CONSOLE_MAX_PORTS; k++) {
		memset(&many[k], 0, sizeof(many[k]));
		snprintf(many[k].name, sizeof(many[k].name), "p%u", k);
	}
	CHECK(virtio_console_init(&vc, many, VIRTIO_CONSOLE_MAX_PORTS, err, sizeof(err)) == -1 && strstr(err, "at most"),
	      "too many ports: %s", err);
	CHECK(virtio_console_init(&vc, many, VIRTIO_CONSOLE_MAX_PORTS - 1, err, sizeof(err)) == 0 &&
		      vdev->num_queues == VIRTIO_MAX_QUEUES,
	      "%d named ports fill %d queues", VIRTIO_CONSOLE_MAX_PORTS - 1, VIRTIO_MAX_QUEUES);
	virtio_console_free(&vc);
}

int main(void)
{
	if (ram_init(&ram, 16 << 20) < 0 || virtio_host_init(&host, &ram, NULL, NULL, NULL) < 0) {
		printf("FAIL: setup\n");
		return 1;
	}
	test_config();
	test_handshake();
	test_data();
	test_flow();
	test_no_multiport();
	test_hostile();
	test_parse();
	net_pollset_free(&ps);
	virtio_host_free(&host);
	ram_free(&ram);
	TEST_EXIT();
}
