/*
 * virtio-net (virtio/net.c) driven as a driver would: rings and buffers in guest RAM, the queues
 * enabled through the virtio core, frames to and from a fake backend that records what it is
 * given. Checks the configuration space and features, transmit (header split across
 * descriptors, checksum completion for NEEDS_CSUM, and every malformed chain dropped and still
 * returned), receive (header fields, DATA_VALID, the backlog while the driver has no buffers and
 * its bound, chains too small, mergeable buffers across chains, partial buffers), and reset.
 */
#include <stdlib.h>
#include <string.h>

#include "machine/ram.h"
#include "net/net.h"
#include "tests/test.h"
#include "virtio/net.h"
#include "virtio/virtio.h"

#define QSIZE 256
#define RXQ_BASE 0x10000
#define TXQ_BASE 0x20000
#define BUF_BASE 0x100000

static struct guest_ram ram;
static struct virtio_host host;
static struct virtio_net vn;
static struct virtio_device *vdev = &vn.vdev;

/* ---- fake backend ---- */

#define MAXSENT 64
static uint8_t sent[MAXSENT][2048];
static size_t sent_len[MAXSENT];
static unsigned nsent;

static void fb_send(struct net_backend *be, const uint8_t *frame, size_t len)
{
	if (nsent < MAXSENT && len <= sizeof(sent[0])) {
		memcpy(sent[nsent], frame, len);
		sent_len[nsent] = len;
	}
	nsent++;
}
static void fb_fill(struct net_backend *be, struct net_pollset *ps, int *t) {}
static void fb_done(struct net_backend *be, const struct net_pollset *ps, bool e) {}
static void fb_destroy(struct net_backend *be) {}
static const struct net_backend_ops fb_ops = { fb_send, fb_fill, fb_done, fb_destroy };
static struct net_backend fb = { .ops = &fb_ops };

static unsigned irqs[2];
static void tr_notify(void *opaque, int q)
{
	if (q >= 0 && q < 2)
		irqs[q]++;
}
static const struct virtio_transport_ops tr = { tr_notify };

/* ---- a tiny split-ring driver ---- */

struct drv_q {
	uint64_t base;
	uint16_t avail_idx, used_seen, next_desc;
};
static struct drv_q dq[2] = { { RXQ_BASE, 0, 0, 0 }, { TXQ_BASE, 0, 0, 0 } };
static uint64_t next_buf = BUF_BASE;

static uint8_t *g(uint64_t gpa, uint64_t len)
{
	return ram_range(&ram, gpa, len);
}

static uint64_t desc_gpa(int q) { return dq[q].base; }
static uint64_t avail_gpa(int q) { return dq[q].base + 16 * QSIZE; }
static uint64_t used_gpa(int q) { return dq[q].base + 0x2000; }

static void wr16(uint64_t gpa, uint16_t v) { uint8_t *p = g(gpa, 2); p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static uint16_t rd16(uint64_t gpa) { uint8_t *p = g(gpa, 2); return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(uint64_t gpa) { return rd16(gpa) | (uint32_t)rd16(gpa + 2) << 16; }

static uint64_t alloc_buf(uint32_t len)
{
	uint64_t a = next_buf;
	next_buf += (len + 15) & ~15u;
	return a;
}

/* Adds a chain of n buffers (gpa, len, writable) to queue q. Returns the head. */
static uint16_t add_chain(int q, unsigned n, const uint64_t *addr, const uint32_t *len, bool writable)
{
	uint16_t head = dq[q].next_desc;
	for (unsigned k = 0; k < n; k++) {
		uint16_t d = (uint16_t)(dq[q].next_desc++ % QSIZE);
		struct virtq_desc desc = { addr[k], len[k], (uint16_t)((writable ? VIRTQ_DESC_F_WRITE : 0) |
								  (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0)),
					   (uint16_t)((d + 1) % QSIZE) };
		memcpy(g(desc_gpa(q) + 16ull * d, 16), &desc, 16);
	}
	head %= QSIZE;
	wr16(avail_gpa(q) + 4 + 2ull * (dq[q].avail_idx % QSIZE), head);
	dq[q].avail_idx++;
	wr16(avail_gpa(q) + 2, dq[q].avail_idx);
	return head;
}

/* Next used entry of q: returns false if none; else its id and len. */
static bool take_used(int q, uint32_t *id, uint32_t *len)
{
	if (rd16(used_gpa(q) + 2) == dq[q].used_seen)
		return false;
	uint64_t e = used_gpa(q) + 4 + 8ull * (dq[q].used_seen % QSIZE);
	*id = rd32(e);
	*len = rd32(e + 4);
	dq[q].used_seen++;
	return true;
}

static void driver_start(uint64_t features)
{
	virtio_device_reset(vdev);
	for (int q = 0; q < 2; q++) {
		memset(g(dq[q].base, 0x3000), 0, 0x3000);
		dq[q].avail_idx = dq[q].used_seen = dq[q].next_desc = 0;
	}
	next_buf = BUF_BASE;
	nsent = 0;
	irqs[0] = irqs[1] = 0;
	vdev->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	vdev->driver_features = features;
	vdev->status |= VIRTIO_STATUS_FEATURES_OK;
	for (int q = 0; q < 2; q++) {
		vdev->vq[q].size = QSIZE;
		vdev->vq[q].desc_gpa = desc_gpa(q);
		vdev->vq[q].avail_gpa = avail_gpa(q);
		vdev->vq[q].used_gpa = used_gpa(q);
		virtq_enable(vdev, (unsigned)q);
	}
	vdev->status |= VIRTIO_STATUS_DRIVER_OK;
}

static void kick(int q)
{
	vdev->ops->queue_notify(vdev, (unsigned)q);
}

/* ---- transmit ---- */

static uint64_t hdr_with(uint8_t flags, uint8_t gso, uint16_t cstart, uint16_t coff)
{
	uint64_t a = alloc_buf(VIRTIO_NET_HDR_LEN);
	uint8_t *h = g(a, VIRTIO_NET_HDR_LEN);
	memset(h, 0, VIRTIO_NET_HDR_LEN);
	h[0] = flags;
	h[1] = gso;
	h[6] = (uint8_t)cstart, h[7] = (uint8_t)(cstart >> 8);
	h[8] = (uint8_t)coff, h[9] = (uint8_t)(coff >> 8);
	return a;
}

static uint64_t data_buf(const uint8_t *d, uint32_t len)
{
	uint64_t a = alloc_buf(len);
	memcpy(g(a, len), d, len);
	return a;
}

/* Sends one chain [hdr][frame] and returns how many frames reached the backend. */
static unsigned tx_chain(uint64_t hdr, uint32_t hdrlen, const uint8_t *frame, uint32_t len)
{
	unsigned before = nsent;
	uint64_t a[2] = { hdr, data_buf(frame, len) };
	uint32_t l[2] = { hdrlen, len };
	add_chain(1, 2, a, l, false);
	kick(1);
	return nsent - before;
}

/* An Ethernet + IPv4 + UDP frame from 10.0.2.15:1000 to 10.0.2.2:2000 with payload p; the UDP
 * checksum field holds the pseudo-header sum (as Linux leaves it for CHECKSUM_PARTIAL). */
static uint32_t udp_partial(uint8_t *f, const char *p)
{
	uint32_t plen = (uint32_t)strlen(p), ulen = 8 + plen;
	memset(f, 0, 42);
	memset(f, 0xff, 6);
	f[12] = 0x08;
	f[14] = 0x45;
	f[16] = (uint8_t)((20 + ulen) >> 8), f[17] = (uint8_t)(20 + ulen);
	f[22] = 64, f[23] = 17;
	const uint8_t ips[8] = { 10, 0, 2, 15, 10, 0, 2, 2 };
	memcpy(f + 26, ips, 8);
	f[34] = 1000 >> 8, f[35] = 1000 & 0xff, f[36] = 2000 >> 8, f[37] = 2000 & 0xff;
	f[38] = (uint8_t)(ulen >> 8), f[39] = (uint8_t)ulen;
	memcpy(f + 42, p, plen);
	uint8_t pseudo[12];
	memcpy(pseudo, ips, 8);
	pseudo[8] = 0, pseudo[9] = 17, pseudo[10] = (uint8_t)(ulen >> 8), pseudo[11] = (uint8_t)ulen;
	uint16_t ps = (uint16_t)~net_csum_fold(net_csum_add(0, pseudo, 12)); /* not inverted */
	f[40] = (uint8_t)(ps >> 8), f[41] = (uint8_t)ps;
	return 42 + plen;
}

static bool udp_csum_valid(const uint8_t *f, uint32_t len)
{
	uint32_t ulen = len - 34;
	uint8_t pseudo[12];
	memcpy(pseudo, f + 26, 8);
	pseudo[8] = 0, pseudo[9] = 17, pseudo[10] = (uint8_t)(ulen >> 8), pseudo[11] = (uint8_t)ulen;
	return net_csum_fold(net_csum_add(net_csum_add(0, pseudo, 12), f + 34, ulen)) == 0 && (f[40] | f[41]);
}

static void test_config(void)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef };
	CHECK(vdev->device_id == VIRTIO_ID_NET && vdev->num_queues == 2, "device id 1 with two queues");
	CHECK(!memcmp(vdev->config, mac, 6) && vdev->config[6] == VIRTIO_NET_S_LINK_UP && vdev->config[7] == 0,
	      "config: MAC and link up");
	uint64_t want = VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_STATUS) | VIRTIO_BIT(VIRTIO_NET_F_CSUM) |
			VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM) | VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF);
	CHECK((vdev->host_features & want) == want, "features: MAC, STATUS, CSUM, GUEST_CSUM, MRG_RXBUF");
	CHECK((vdev->host_features & VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4)) &&
		      (vdev->host_features & VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6)) &&
		      !(vdev->host_features & (VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_CTRL_VQ))),
	      "features: host TSO4/TSO6; no receive GSO, no control queue");
}

static void test_tx(void)
{
	uint64_t feat = vdev->host_features | VIRTIO_BIT(VIRTIO_F_VERSION_1);
	driver_start(feat);
	uint8_t f[1600];
	for (int k = 0; k < 60; k++)
		f[k] = (uint8_t)(k * 7);
	CHECK(tx_chain(hdr_with(0, 0, 0, 0), VIRTIO_NET_HDR_LEN, f, 60) == 1 && sent_len[0] == 60 &&
		      !memcmp(sent[0], f, 60),
	      "tx: header + 60-byte frame reaches the backend unchanged");
	uint32_t id, len;
	CHECK(take_used(1, &id, &len) && id == 0 && len == 0 && irqs[1] == 1, "tx: chain returned (len 0), interrupt");

	/* Header split over three descriptors, the frame following in the last one. */
	uint64_t h = hdr_with(0, 0, 0, 0);
	uint64_t a[3] = { h, h + 5, data_buf(f, 70) };
	uint32_t l[3] = { 5, 7, 70 };
	add_chain(1, 3, a, l, false);
	kick(1);
	CHECK(nsent == 2 && sent_len[1] == 70 && !memcmp(sent[1], f, 70), "tx: header split across descriptors");
	take_used(1, &id, &len);

	uint32_t ul = udp_partial(f, "checksum me, please");
	CHECK(tx_chain(hdr_with(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 34, 6), VIRTIO_NET_HDR_LEN, f, ul) == 1 &&
		      udp_csum_valid(sent[2], ul),
	      "tx: NEEDS_CSUM completes the UDP checksum");
	/* Odd length: the last byte counts as the high half of a word. */
	ul = udp_partial(f, "odd length!");
	CHECK(tx_chain(hdr_with(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 34, 6), VIRTIO_NET_HDR_LEN, f, ul) == 1 &&
		      udp_csum_valid(sent[3], ul),
	      "tx: NEEDS_CSUM with an odd length");
	while (take_used(1, &id, &len))
		;

	/* Malformed chains: dropped, counted, still returned to the driver. */
	uint64_t errs = vn.tx_errors;
	unsigned used_before = dq[1].used_seen;
	CHECK(tx_chain(hdr_with(0, 0, 0, 0), VIRTIO_NET_HDR_LEN, f, 13) == 0, "tx: frame shorter than Ethernet dropped");
	CHECK(tx_chain(hdr_with(0, 0, 0, 0), 8, f, 0) == 0, "tx: chain shorter than the header dropped");
	CHECK(tx_chain(hdr_with(0, 1 /* TCPV4 */, 0, 0), VIRTIO_NET_HDR_LEN, f, 100) == 0, "tx: GSO type dropped");
	CHECK(tx_chain(hdr_with(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 90, 9), VIRTIO_NET_HDR_LEN, f, 100) == 0,
	      "tx: checksum field past the frame's end dropped");
	CHECK(tx_chain(hdr_with(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 100, 0), VIRTIO_NET_HDR_LEN, f, 100) == 0,
	      "tx: csum_start at the frame's end dropped");
	CHECK(tx_chain(hdr_with(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0xffff, 0xffff), VIRTIO_NET_HDR_LEN, f, 100) == 0,
	      "tx: csum_start/offset 0xffff dropped");
	/* A frame larger than the limit, described by one huge descriptor over RAM. */
	uint64_t big = alloc_buf(VIRTIO_NET_MAX_FRAME + 100);
	uint64_t ba[2] = { hdr_with(0, 0, 0, 0), big };
	uint32_t bl[2] = { VIRTIO_NET_HDR_LEN, VIRTIO_NET_MAX_FRAME + 1 };
	unsigned before = nsent;
	add_chain(1, 2, ba, bl, false);
	kick(1);
	CHECK(nsent == before, "tx: frame over VIRTIO_NET_MAX_FRAME dropped");
	unsigned returned = 0;
	while (take_used(1, &id, &len))
		returned++;
	CHECK(vn.tx_errors - errs == 7 && returned == 7 && dq[1].used_seen - used_before == 7,
	      "tx: all 7 bad chains counted and returned");

	/* NEEDS_CSUM without the CSUM feature negotiated is a driver bug: dropped. */
	driver_start(VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_NET_F_MAC));
	ul = udp_partial(f, "x");
	CHECK(tx_chain(hdr_with(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 34, 6), VIRTIO_NET_HDR_LEN, f, ul) == 0,
	      "tx: NEEDS_CSUM without VIRTIO_NET_F_CSUM dropped");
}

/* ---- TCP segmentation offload ---- */

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) { return (uint32_t)be16(p) << 16 | be16(p + 2); }

/* Ethernet + IPv4 (or IPv6) + TCP with payload bytes k*7; flags PSH|ACK|FIN|CWR. */
static uint32_t tcp_big(uint8_t *f, bool v6, uint32_t payload)
{
	memset(f, 0, 14 + 40 + 20);
	f[12] = v6 ? 0x86 : 0x08, f[13] = v6 ? 0xdd : 0x00;
	size_t l4;
	if (!v6) {
		f[14] = 0x45;
		f[14 + 2] = (uint8_t)((40 + payload) >> 8), f[14 + 3] = (uint8_t)(40 + payload);
		f[14 + 4] = 0x12, f[14 + 5] = 0x34;
		f[14 + 8] = 64, f[14 + 9] = 6;
		const uint8_t a[8] = { 10, 0, 2, 15, 10, 0, 2, 2 };
		memcpy(f + 26, a, 8);
		l4 = 34;
	} else {
		f[14] = 0x60;
		f[14 + 4] = (uint8_t)((20 + payload) >> 8), f[14 + 5] = (uint8_t)(20 + payload);
		f[14 + 6] = 6, f[14 + 7] = 64;
		f[14 + 8] = 0xfe, f[14 + 9] = 0xc0, f[14 + 23] = 0x0f; /* fec0::f */
		f[14 + 24] = 0xfe, f[14 + 25] = 0xc0, f[14 + 39] = 0x02; /* fec0::2 */
		l4 = 54;
	}
	f[l4] = 0x9c, f[l4 + 1] = 0x40, f[l4 + 2] = 0x1f, f[l4 + 3] = 0x90;
	f[l4 + 4] = 0xff, f[l4 + 5] = 0xff, f[l4 + 6] = 0xfe, f[l4 + 7] = 0x00; /* seq wraps */
	f[l4 + 12] = 5 << 4;
	f[l4 + 13] = 0x80 | 0x10 | 0x08 | 0x01;
	f[l4 + 14] = 0xff;
	for (uint32_t k = 0; k < payload; k++)
		f[l4 + 20 + k] = (uint8_t)(k * 7);
	return (uint32_t)l4 + 20 + payload;
}

/* Checks one segment: lengths, checksums; returns its sequence number, payload and flags. */
static bool seg_ok(const uint8_t *s, size_t len, bool v6, uint32_t *seq, const uint8_t **pl, size_t *plen,
		   uint8_t *flags, uint16_t *id)
{
	size_t l4 = v6 ? 54 : 34;
	if (len < l4 + 20)
		return false;
	size_t tcplen = len - l4;
	uint8_t ps[12];
	uint32_t sum;
	if (!v6) {
		if (be16(s + 16) != len - 14 || net_csum_fold(net_csum_add(0, s + 14, 20)) != 0)
			return false;
		memcpy(ps, s + 26, 8);
		ps[8] = 0, ps[9] = 6, ps[10] = (uint8_t)(tcplen >> 8), ps[11] = (uint8_t)tcplen;
		sum = net_csum_add(0, ps, 12);
		*id = be16(s + 18);
	} else {
		if (be16(s + 18) != tcplen)
			return false;
		uint8_t p6[8] = { 0, 0, (uint8_t)(tcplen >> 8), (uint8_t)tcplen, 0, 0, 0, 6 };
		sum = net_csum_add(net_csum_add(0, s + 22, 32), p6, 8);
	}
	if (net_csum_fold(net_csum_add(sum, s + l4, tcplen)) != 0)
		return false;
	*seq = be32(s + l4 + 4);
	*flags = s[l4 + 13];
	*pl = s + l4 + 20;
	*plen = tcplen - 20;
	return true;
}

static void test_tso(void)
{
	static uint8_t f[8000];
	for (int v6 = 0; v6 < 2; v6++) {
		driver_start(vdev->host_features | VIRTIO_BIT(VIRTIO_F_VERSION_1));
		uint32_t len = tcp_big(f, v6, 3500);
		uint64_t h = hdr_with(VIRTIO_NET_HDR_F_NEEDS_CSUM, v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4,
				      v6 ? 54 : 34, 16);
		g(h + 4, 1)[0] = 1000 & 0xff, g(h + 5, 1)[0] = 1000 >> 8; /* gso_size */
		unsigned got = tx_chain(h, VIRTIO_NET_HDR_LEN, f, len);
		bool ok = got == 4;
		size_t total = 0;
		for (unsigned k = 0; ok && k < 4; k++) {
			uint32_t seq;
			const uint8_t *pl;
			size_t plen;
			uint8_t fl;
			uint16_t id = 0;
			ok = seg_ok(sent[k], sent_len[k], v6, &seq, &pl, &plen, &fl, &id) && plen == (k < 3 ? 1000u : 500u) &&
			     seq == 0xfffffe00u + 1000 * k && (v6 || id == 0x1234 + k);
			for (size_t i = 0; ok && i < plen; i++)
				ok = pl[i] == (uint8_t)((total + i) * 7);
			/* PSH and FIN on the last only, CWR on the first only, ACK everywhere. */
			ok = ok && (fl & 0x10) && !!(fl & 0x09) == (k == 3) && !!(fl & 0x80) == (k == 0);
			total += plen;
		}
		CHECK(ok && total == 3500, "TSO %s: 3500 bytes, gso_size 1000 -> 4 segments with their own lengths, %s"
			  "sequence numbers (wrapping), checksums and flags", v6 ? "IPv6" : "IPv4", v6 ? "" : "IDs, ");
	}
	/* Guest errors: TSO not negotiated, a UDP packet, mss too small, headers past the end. */
	driver_start(VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_NET_F_CSUM));
	uint32_t len = tcp_big(f, false, 2000);
	uint64_t errs = vn.tx_errors;
	CHECK(tx_chain(hdr_with(0, VIRTIO_NET_HDR_GSO_TCPV4, 0, 0), VIRTIO_NET_HDR_LEN, f, len) == 0,
	      "TSO without VIRTIO_NET_F_HOST_TSO4 dropped");
	driver_start(vdev->host_features | VIRTIO_BIT(VIRTIO_F_VERSION_1));
	uint64_t h = hdr_with(0, VIRTIO_NET_HDR_GSO_TCPV4, 0, 0);
	g(h + 4, 1)[0] = 100;
	f[23] = 17; /* UDP */
	CHECK(tx_chain(h, VIRTIO_NET_HDR_LEN, f, len) == 0, "TSO of a non-TCP packet dropped");
	f[23] = 6;
	h = hdr_with(0, VIRTIO_NET_HDR_GSO_TCPV6, 0, 0);
	g(h + 4, 1)[0] = 100;
	CHECK(tx_chain(h, VIRTIO_NET_HDR_LEN, f, len) == 0, "TSO6 type on an IPv4 frame dropped");
	h = hdr_with(0, VIRTIO_NET_HDR_GSO_TCPV4, 0, 0);
	g(h + 4, 1)[0] = 1;
	CHECK(tx_chain(h, VIRTIO_NET_HDR_LEN, f, len) == 0, "TSO with gso_size 1 dropped");
	h = hdr_with(0, VIRTIO_NET_HDR_GSO_TCPV4, 0, 0);
	g(h + 4, 1)[0] = 100;
	f[34 + 12] = 15 << 4; /* TCP data offset 60 bytes: past the end of an 80-byte frame */
	CHECK(tx_chain(h, VIRTIO_NET_HDR_LEN, f, 80) == 0, "TSO with the TCP header past the frame dropped");
	f[34 + 12] = 5 << 4;
	h = hdr_with(0, VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN, 0, 0);
	g(h + 4, 1)[0] = 100;
	CHECK(tx_chain(h, VIRTIO_NET_HDR_LEN, f, len) == 0, "TSO with ECN (not offered) dropped");
	CHECK(vn.tx_errors - errs == 6, "TSO: the 6 bad frames counted as errors");
}

/* ---- receive ---- */

static uint64_t rx_buf[QSIZE];
static uint32_t rx_len[QSIZE];

static void post_rx(uint32_t len)
{
	uint64_t a = alloc_buf(len);
	memset(g(a, len), 0xee, len);
	uint16_t head = add_chain(0, 1, &a, &len, true);
	rx_buf[head] = a;
	rx_len[head] = len;
}

static void frame_of(uint8_t *f, size_t len, uint8_t seed)
{
	for (size_t k = 0; k < len; k++)
		f[k] = (uint8_t)(seed + k * 13);
}

static void test_rx(void)
{
	uint64_t base = VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_NET_F_MAC);
	driver_start(base | VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM));
	uint8_t f[4000];
	uint32_t id, len;

	post_rx(1526);
	frame_of(f, 100, 1);
	net_deliver(&fb, f, 100);
	CHECK(take_used(0, &id, &len) && len == 112 && irqs[0] == 1, "rx: 100-byte frame -> 112 bytes used, interrupt");
	uint8_t *b = g(rx_buf[id], 112);
	CHECK(b[0] == VIRTIO_NET_HDR_F_DATA_VALID && b[1] == 0 && b[10] == 1 && b[11] == 0 && !memcmp(b + 12, f, 100),
	      "rx: header (DATA_VALID, num_buffers 1) and the frame");

	/* No buffers: frames wait in order, then flow when the driver adds buffers and kicks. */
	for (int k = 0; k < 3; k++) {
		frame_of(f, 60 + k, (uint8_t)(10 + k));
		net_deliver(&fb, f, 60 + k);
	}
	CHECK(vn.backlog_count == 3 && !take_used(0, &id, &len), "rx: no buffers: 3 frames held");
	for (int k = 0; k < 3; k++)
		post_rx(1526);
	kick(0);
	bool order = true;
	for (int k = 0; k < 3; k++) {
		frame_of(f, 60 + k, (uint8_t)(10 + k));
		order = order && take_used(0, &id, &len) && len == (uint32_t)(72 + k) && !memcmp(g(rx_buf[id] + 12, 60), f, 60 + k);
	}
	CHECK(order && vn.backlog_count == 0, "rx: held frames delivered in order after the kick");

	/* Bounded backlog. */
	uint64_t dropped = vn.rx_dropped;
	for (int k = 0; k < VIRTIO_NET_RX_BACKLOG + 10; k++)
		net_deliver(&fb, f, 64);
	CHECK(vn.backlog_count == VIRTIO_NET_RX_BACKLOG && vn.rx_dropped - dropped == 10,
	      "rx: backlog bounded at %d frames, the rest dropped", VIRTIO_NET_RX_BACKLOG);
	driver_start(base);
	CHECK(vn.backlog_count == 0, "reset: backlog emptied");

	/* Without MRG_RXBUF, a chain too small for the frame is left to the driver; the frame dropped. */
	post_rx(64);
	dropped = vn.rx_dropped;
	net_deliver(&fb, f, 100);
	CHECK(vn.rx_dropped - dropped == 1 && !take_used(0, &id, &len) && vn.backlog_count == 0,
	      "rx: chain too small: frame dropped, buffer kept");
	net_deliver(&fb, f, 40);
	CHECK(take_used(0, &id, &len) && len == 52 && g(rx_buf[id], 1)[0] == 0, "rx: the kept buffer takes the next frame (no DATA_VALID without GUEST_CSUM)");

	/* Out-of-range frames from a backend are refused. */
	dropped = vn.rx_dropped;
	net_deliver(&fb, f, 13);
	CHECK(vn.rx_dropped - dropped == 1, "rx: runt frame refused");

	/* Mergeable buffers: a 1000-byte frame over four 256-byte chains. */
	driver_start(base | VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF));
	post_rx(256);
	post_rx(256);
	frame_of(f, 1000, 77);
	net_deliver(&fb, f, 1000);
	CHECK(vn.backlog_count == 1 && !take_used(0, &id, &len), "mrg: two chains are not enough: frame held");
	post_rx(256);
	post_rx(256);
	kick(0);
	uint8_t got[1024];
	uint32_t total = 0, lens[4] = { 0 };
	unsigned nused = 0;
	uint16_t nbuf = 0;
	while (take_used(0, &id, &len) && nused < 4) {
		memcpy(got + total, g(rx_buf[id], len), len);
		if (!nused)
			nbuf = (uint16_t)(got[10] | got[11] << 8);
		lens[nused++] = len;
		total += len;
	}
	CHECK(nused == 4 && nbuf == 4 && lens[0] == 256 && lens[3] == 1012 - 768 && total == 1012 &&
		      !memcmp(got + 12, f, 1000),
	      "mrg: frame spans 4 chains, num_buffers 4, bytes in order");

	/* Not yet DRIVER_OK: frames are dropped. */
	virtio_device_reset(vdev);
	dropped = vn.rx_dropped;
	net_deliver(&fb, f, 100);
	CHECK(vn.rx_dropped - dropped == 1 && vn.backlog_count == 0, "rx before DRIVER_OK dropped");
}

/* A broken ring (a descriptor outside RAM) stops the queue; the device keeps going safely. */
static void test_hostile(void)
{
	driver_start(vdev->host_features | VIRTIO_BIT(VIRTIO_F_VERSION_1));
	uint64_t a[2] = { hdr_with(0, 0, 0, 0), 0xfffffff000ull };
	uint32_t l[2] = { VIRTIO_NET_HDR_LEN, 100 };
	add_chain(1, 2, a, l, false);
	kick(1);
	CHECK(nsent == 0 && (vdev->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET), "hostile: tx buffer outside RAM -> needs reset");
	uint8_t f[100] = { 0 };
	post_rx(1526);
	net_deliver(&fb, f, 100);
	CHECK(vn.backlog_count == 0, "hostile: device needing reset drops rx");
	/* Available index far ahead of the ring. */
	driver_start(vdev->host_features | VIRTIO_BIT(VIRTIO_F_VERSION_1));
	wr16(avail_gpa(0) + 2, 5000);
	net_deliver(&fb, f, 100);
	kick(0);
	CHECK(vdev->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET, "hostile: rx avail idx past the ring -> needs reset");
	driver_start(vdev->host_features | VIRTIO_BIT(VIRTIO_F_VERSION_1));
	uint8_t fr[64] = { 0 };
	CHECK(tx_chain(hdr_with(0, 0, 0, 0), VIRTIO_NET_HDR_LEN, fr, 64) == 1, "hostile: works again after reset");
}

int main(void)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef };
	if (ram_init(&ram, 64 << 20) < 0 || virtio_host_init(&host, &ram, NULL, NULL, NULL) < 0) {
		CHECK(0, "setup");
		TEST_EXIT();
	}
	CHECK(virtio_net_init(&vn, &fb, mac) == 0 && fb.nic == &vn && fb.receive, "virtio_net_init attaches to the backend");
	vdev->tr = &tr;
	virtio_device_init(vdev, &host);
	test_config();
	test_tx();
	test_tso();
	test_rx();
	test_hostile();
	virtio_net_free(&vn);
	CHECK(fb.receive == NULL, "virtio_net_free detaches from the backend");
	virtio_host_free(&host);
	ram_free(&ram);
	TEST_EXIT();
}
