/*
 * The libslirp backend (net/slirp.c) driven with hand-built Ethernet frames, as a guest NIC would
 * send them, and real sockets on the host's loopback (no traffic leaves the machine):
 * ARP for the gateway, DHCP discover/offer and request/ack (10.0.2.15, router 10.0.2.2, DNS
 * 10.0.2.3), a TCP connection from the guest to a listener on 127.0.0.1 through 10.0.2.2 with
 * data both ways, a UDP datagram to the host, a host forward (host connect -> SYN to the guest's
 * port), a host forward on a port in use (clear error), and malformed frames (no crash).
 *
 * Waiting for sockets uses poll() with bounded retries: the checks do not depend on timing.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "machine/timer.h"
#include "net/net.h"
#include "tests/test.h"

static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static uint8_t gw_mac[6];
static struct timer_list timers;

/* Frames the backend delivered to the "NIC". */
#define MAXF 256
static struct {
	uint8_t *data;
	size_t len;
} got[MAXF];
static unsigned ngot;

static void nic_receive(void *nic, const uint8_t *frame, size_t len)
{
	if (ngot == MAXF)
		return;
	got[ngot].data = malloc(len);
	memcpy(got[ngot].data, frame, len);
	got[ngot].len = len;
	ngot++;
}

static void clear_frames(void)
{
	for (unsigned k = 0; k < ngot; k++)
		free(got[k].data);
	ngot = 0;
}

static void pump(struct net_backend *be, int max_ms)
{
	struct net_pollset ps = { 0 };
	int t = max_ms;
	net_poll_fill(be, &ps, &t);
	if (t < 0 || t > max_ms)
		t = max_ms;
	int r = poll(ps.fds, ps.n, t);
	net_poll_done(be, &ps, r < 0);
	net_pollset_free(&ps);
	timers_run(&timers, clock_ns());
}

/* ---- frame building ---- */

static size_t eth(uint8_t *f, const uint8_t *dst, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, guest_mac, 6);
	f[12] = (uint8_t)(type >> 8);
	f[13] = (uint8_t)type;
	return 14;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static uint32_t ip4(const char *s)
{
	struct in_addr a;
	inet_pton(AF_INET, s, &a);
	return ntohl(a.s_addr);
}

/* IPv4 header + L4 payload (with its checksum computed over the pseudo-header for TCP/UDP). */
static size_t ipv4(uint8_t *p, uint8_t proto, uint32_t src, uint32_t dst, const uint8_t *l4, size_t l4len,
		   unsigned csum_off)
{
	memset(p, 0, 20);
	p[0] = 0x45;
	put16(p + 2, (uint16_t)(20 + l4len));
	put16(p + 4, 0x1234);
	p[8] = 64;
	p[9] = proto;
	put32(p + 12, src);
	put32(p + 16, dst);
	put16(p + 10, net_csum_fold(net_csum_add(0, p, 20)));
	memcpy(p + 20, l4, l4len);
	uint8_t pseudo[12];
	put32(pseudo, src);
	put32(pseudo + 4, dst);
	pseudo[8] = 0;
	pseudo[9] = proto;
	put16(pseudo + 10, (uint16_t)l4len);
	uint32_t s = net_csum_add(0, pseudo, 12);
	put16(p + 20 + csum_off, 0);
	/* Both ranges start on even offsets; the pseudo-header is 12 bytes, so sums simply add. */
	s = net_csum_add(s, p + 20, l4len);
	uint16_t c = net_csum_fold(s);
	if (proto == 17 && c == 0)
		c = 0xffff;
	put16(p + 20 + csum_off, c);
	return 20 + l4len;
}

static size_t tcp_frame(uint8_t *f, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, uint32_t seq,
			uint32_t ack, uint8_t flags, const void *data, size_t dlen)
{
	uint8_t t[20 + 1500];
	memset(t, 0, 20);
	put16(t, sport);
	put16(t + 2, dport);
	put32(t + 4, seq);
	put32(t + 8, ack);
	t[12] = 5 << 4;
	t[13] = flags;
	put16(t + 14, 65535);
	memcpy(t + 20, data, dlen);
	size_t n = eth(f, gw_mac, 0x0800);
	return n + ipv4(f + n, 6, src, dst, t, 20 + dlen, 16);
}

static size_t udp_frame(uint8_t *f, const uint8_t *dmac, uint32_t src, uint16_t sport, uint32_t dst,
			uint16_t dport, const void *data, size_t dlen)
{
	uint8_t u[8 + 1500];
	put16(u, sport);
	put16(u + 2, dport);
	put16(u + 4, (uint16_t)(8 + dlen));
	memcpy(u + 8, data, dlen);
	size_t n = eth(f, dmac, 0x0800);
	return n + ipv4(f + n, 17, src, dst, u, 8 + dlen, 6);
}

/* ---- frame parsing ---- */

struct parsed {
	uint16_t type;
	uint8_t proto;
	uint32_t src, dst;
	uint16_t sport, dport;
	const uint8_t *l4, *payload;
	size_t l4len, plen;
	bool csum_ok;
};

static bool parse_ip(const uint8_t *f, size_t len, struct parsed *p)
{
	memset(p, 0, sizeof(*p));
	if (len < 14)
		return false;
	p->type = get16(f + 12);
	if (p->type != 0x0800 || len < 34)
		return false;
	const uint8_t *ip = f + 14;
	unsigned ihl = (ip[0] & 15) * 4u, tot = get16(ip + 2);
	if (tot > len - 14 || ihl < 20 || tot < ihl)
		return false;
	p->proto = ip[9];
	p->src = get32(ip + 12);
	p->dst = get32(ip + 16);
	p->l4 = ip + ihl;
	p->l4len = tot - ihl;
	uint8_t pseudo[12];
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = p->proto;
	put16(pseudo + 10, (uint16_t)p->l4len);
	bool ipok = net_csum_fold(net_csum_add(0, ip, ihl)) == 0;
	p->csum_ok = ipok && net_csum_fold(net_csum_add(net_csum_add(0, pseudo, 12), p->l4, p->l4len)) == 0;
	if ((p->proto == 6 && p->l4len >= 20) || (p->proto == 17 && p->l4len >= 8)) {
		p->sport = get16(p->l4);
		p->dport = get16(p->l4 + 2);
		size_t h = p->proto == 6 ? (p->l4[12] >> 4) * 4u : 8;
		p->payload = p->l4 + h;
		p->plen = p->l4len - h;
	}
	return true;
}

/* ---- the tests ---- */

static struct net_backend *be;

static int free_port(int type)
{
	int s = socket(AF_INET, type, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	bind(s, (struct sockaddr *)&a, sizeof(a));
	getsockname(s, (struct sockaddr *)&a, &l);
	close(s);
	return ntohs(a.sin_port);
}

static void test_arp(void)
{
	uint8_t f[64] = { 0 };
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	size_t n = eth(f, bcast, 0x0806);
	uint8_t *a = f + n;
	put16(a, 1);      /* Ethernet */
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 1);  /* request */
	memcpy(a + 8, guest_mac, 6);
	put32(a + 14, ip4("10.0.2.15"));
	put32(a + 24, ip4("10.0.2.2"));
	clear_frames();
	net_send(be, f, 60);
	bool ok = false;
	for (unsigned k = 0; k < ngot; k++) {
		const uint8_t *r = got[k].data;
		if (got[k].len >= 42 && get16(r + 12) == 0x0806 && get16(r + 20) == 2 && get32(r + 28) == ip4("10.0.2.2") &&
		    !memcmp(r + 32, guest_mac, 6) && !memcmp(r, guest_mac, 6)) {
			memcpy(gw_mac, r + 22, 6);
			ok = true;
		}
	}
	CHECK(ok, "ARP: 10.0.2.2 answers the guest's request");
}

/* BOOTP/DHCP (RFC 2131) from the guest's MAC; returns the option 53 message type of the reply
 * (0 if none) and its yiaddr. */
static int dhcp(uint8_t type, uint32_t *yiaddr, uint32_t *router, uint32_t *dns, uint32_t *mask)
{
	uint8_t b[300] = { 0 };
	b[0] = 1;
	b[1] = 1;
	b[2] = 6;
	put32(b + 4, 0xdeadbeef);
	memcpy(b + 28, guest_mac, 6);
	put32(b + 236, 0x63825363);
	uint8_t *o = b + 240;
	*o++ = 53, *o++ = 1, *o++ = type;
	if (type == 3) {
		*o++ = 50, *o++ = 4;
		put32(o, ip4("10.0.2.15"));
		o += 4;
	}
	*o++ = 255;
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t f[600];
	size_t n = udp_frame(f, bcast, 0, 68, 0xffffffff, 67, b, sizeof(b));
	clear_frames();
	net_send(be, f, n);
	for (unsigned k = 0; k < ngot; k++) {
		struct parsed p;
		if (!parse_ip(got[k].data, got[k].len, &p) || p.proto != 17 || p.dport != 68 || p.plen < 240)
			continue;
		const uint8_t *r = p.payload;
		if (r[0] != 2 || get32(r + 4) != 0xdeadbeef || get32(r + 236) != 0x63825363)
			continue;
		*yiaddr = get32(r + 16);
		int mt = 0;
		for (size_t i = 240; i + 1 < p.plen && r[i] != 255;) {
			if (r[i] == 0) {
				i++;
				continue;
			}
			uint8_t code = r[i], len = r[i + 1];
			if (i + 2 + len > p.plen)
				break;
			const uint8_t *v = r + i + 2;
			if (code == 53 && len == 1)
				mt = v[0];
			if (code == 3 && len >= 4)
				*router = get32(v);
			if (code == 6 && len >= 4)
				*dns = get32(v);
			if (code == 1 && len == 4)
				*mask = get32(v);
			i += 2 + len;
		}
		return mt;
	}
	return 0;
}

static void test_dhcp(void)
{
	uint32_t y = 0, r = 0, d = 0, m = 0;
	int t = dhcp(1, &y, &r, &d, &m);
	CHECK(t == 2, "DHCP: DISCOVER gets an OFFER (type %d)", t);
	CHECK(y == ip4("10.0.2.15"), "DHCP: offered address is 10.0.2.15");
	CHECK(r == ip4("10.0.2.2") && d == ip4("10.0.2.3") && m == 0xffffff00,
	      "DHCP: router 10.0.2.2, DNS 10.0.2.3, mask 255.255.255.0");
	y = r = d = m = 0;
	t = dhcp(3, &y, &r, &d, &m);
	CHECK(t == 5 && y == ip4("10.0.2.15"), "DHCP: REQUEST gets an ACK for 10.0.2.15");
}

/* Finds a TCP frame to the guest from sport to dport with the given flags (all of them set). */
static const struct parsed *find_tcp(struct parsed *p, uint16_t sport, uint16_t dport, uint8_t flags)
{
	for (unsigned k = 0; k < ngot; k++) {
		if (parse_ip(got[k].data, got[k].len, p) && p->proto == 6 && p->sport == sport && p->dport == dport &&
		    (p->l4[13] & flags) == flags)
			return p;
	}
	return NULL;
}

static void test_tcp_to_host(void)
{
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	bind(ls, (struct sockaddr *)&a, sizeof(a));
	getsockname(ls, (struct sockaddr *)&a, &al);
	listen(ls, 1);
	uint16_t port = ntohs(a.sin_port);
	uint32_t g = ip4("10.0.2.15"), h = ip4("10.0.2.2"), iss = 1000;

	uint8_t f[1600];
	clear_frames();
	size_t n = tcp_frame(f, g, 40000, h, port, iss, 0, 0x02 /* SYN */, NULL, 0);
	net_send(be, f, n);
	struct parsed p;
	const struct parsed *synack = NULL;
	for (int k = 0; k < 500 && !synack; k++) {
		pump(be, 10);
		synack = find_tcp(&p, port, 40000, 0x12);
	}
	CHECK(synack && get32(p.l4 + 8) == iss + 1 && p.src == h && p.csum_ok,
	      "TCP: SYN to 10.0.2.2:%u gets a SYN-ACK from the host's loopback listener", port);
	int cs = -1;
	struct pollfd pf = { .fd = ls, .events = POLLIN };
	if (poll(&pf, 1, 5000) > 0)
		cs = accept(ls, NULL, NULL);
	CHECK(cs >= 0, "TCP: the listener on 127.0.0.1 accepted slirp's connection");
	if (!synack || cs < 0) {
		close(ls);
		if (cs >= 0)
			close(cs);
		return;
	}
	uint32_t their = get32(p.l4 + 4) + 1;
	clear_frames();
	n = tcp_frame(f, g, 40000, h, port, iss + 1, their, 0x18 /* PSH|ACK */, "hello", 5);
	net_send(be, f, n);
	char buf[64] = { 0 };
	ssize_t r = -1;
	for (int k = 0; k < 500; k++) {
		pump(be, 10);
		pf = (struct pollfd){ .fd = cs, .events = POLLIN };
		if (poll(&pf, 1, 0) > 0) {
			r = read(cs, buf, sizeof(buf) - 1);
			break;
		}
	}
	CHECK(r == 5 && !memcmp(buf, "hello", 5), "TCP: guest data reaches the host socket");

	if (write(cs, "world!", 6) != 6)
		perror("write");
	const struct parsed *data = NULL;
	for (int k = 0; k < 500 && !data; k++) {
		pump(be, 10);
		for (unsigned i = 0; i < ngot && !data; i++)
			if (parse_ip(got[i].data, got[i].len, &p) && p.proto == 6 && p.sport == port && p.plen == 6)
				data = &p;
	}
	CHECK(data && !memcmp(p.payload, "world!", 6) && p.csum_ok && get32(p.l4 + 4) == their,
	      "TCP: host data reaches the guest with valid checksums");
	close(cs);
	close(ls);
}

static void test_udp_to_host(void)
{
	int us = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	bind(us, (struct sockaddr *)&a, sizeof(a));
	getsockname(us, (struct sockaddr *)&a, &al);
	uint8_t f[200];
	size_t n = udp_frame(f, gw_mac, ip4("10.0.2.15"), 5555, ip4("10.0.2.2"), ntohs(a.sin_port), "ping", 4);
	net_send(be, f, n);
	char buf[16] = { 0 };
	ssize_t r = -1;
	for (int k = 0; k < 500; k++) {
		pump(be, 10);
		struct pollfd pf = { .fd = us, .events = POLLIN };
		if (poll(&pf, 1, 0) > 0) {
			r = recv(us, buf, sizeof(buf), 0);
			break;
		}
	}
	CHECK(r == 4 && !memcmp(buf, "ping", 4), "UDP: a datagram to 10.0.2.2 reaches a socket on 127.0.0.1");
	close(us);
}

static void test_hostfwd(uint16_t fwd_port)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(fwd_port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int r = connect(s, (struct sockaddr *)&a, sizeof(a));
	CHECK(r == 0 || errno == EINPROGRESS, "hostfwd: connecting to 127.0.0.1:%u", fwd_port);
	clear_frames();
	struct parsed p;
	const struct parsed *syn = NULL;
	for (int k = 0; k < 500 && !syn; k++) {
		pump(be, 10);
		for (unsigned i = 0; i < ngot && !syn; i++)
			if (parse_ip(got[i].data, got[i].len, &p) && p.proto == 6 && p.dport == 8080 && (p.l4[13] & 0x02))
				syn = &p;
	}
	CHECK(syn && p.dst == ip4("10.0.2.15") && p.csum_ok, "hostfwd: the host's connection becomes a SYN to 10.0.2.15:8080");
	close(s);
}

static void test_malformed(void)
{
	uint8_t f[2000];
	unsigned seed = 12345;
	for (int k = 0; k < 2000; k++) {
		size_t len = (size_t)(rand_r(&seed) % sizeof(f));
		for (size_t i = 0; i < len; i++)
			f[i] = (uint8_t)rand_r(&seed);
		if (k & 1) { /* plausible headers, random rest */
			eth(f, gw_mac, (k & 2) ? 0x0800 : 0x0806);
			if (len > 14)
				f[14] = 0x45;
		}
		net_send(be, f, len);
	}
	net_send(be, f, 0);
	pump(be, 0);
	memset(gw_mac, 0, sizeof(gw_mac));
	test_arp(); /* still answering */
	CHECK(gw_mac[0] == 0x52, "malformed frames: 2000 random frames, then ARP still works");
}

int main(void)
{
	char err[256];
	struct net_config c;
	uint16_t fwd = (uint16_t)free_port(SOCK_STREAM);
	char spec[128];
	snprintf(spec, sizeof(spec), "user,hostfwd=tcp:127.0.0.1:%u-:8080", fwd);
	if (net_parse_option(spec, 0, &c, err, sizeof(err)) < 0) {
		CHECK(0, "parse %s: %s", spec, err);
		TEST_EXIT();
	}
	be = net_slirp_create(&c, &timers, clock_ns, err, sizeof(err));
	CHECK(be != NULL, "slirp backend created (%s)", be ? "ok" : err);
	if (!be)
		TEST_EXIT();
	be->receive = nic_receive;
	be->nic = NULL;

	/* A second backend wanting the same host port fails with a message naming it. */
	struct net_backend *be2 = net_slirp_create(&c, &timers, clock_ns, err, sizeof(err));
	char want[64];
	snprintf(want, sizeof(want), "127.0.0.1:%u", fwd);
	CHECK(!be2 && strstr(err, want), "hostfwd on a port in use: clear error (%s)", be2 ? "created" : err);
	net_backend_destroy(be2);

	test_arp();
	test_dhcp();
	test_tcp_to_host();
	test_udp_to_host();
	test_hostfwd(fwd);
	test_malformed();
	clear_frames();
	net_backend_destroy(be);
	CHECK(timers.head == NULL, "destroy: slirp's timers are gone from the timer list");
	TEST_EXIT();
}
