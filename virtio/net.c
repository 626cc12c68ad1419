/*
 * virtio-net device (virtio 1.2 §5.1) over a network backend (net/net.h).
 *
 * Modelled: receiveq1 and transmitq1 (no control queue, one queue pair), VIRTIO_NET_F_MAC,
 * VIRTIO_NET_F_STATUS (link always up), VIRTIO_NET_F_CSUM (the driver may leave a partial
 * checksum, completed here before the frame reaches the backend: slirp needs whole checksums),
 * VIRTIO_NET_F_GUEST_CSUM (received frames are marked DATA_VALID: the backend's checksums are
 * complete), VIRTIO_NET_F_MRG_RXBUF (a frame may span several receive chains, §5.1.6.4) and
 * VIRTIO_NET_F_HOST_TSO4/6: the driver may send TCP frames of up to 64 KiB, cut here into
 * segments of gso_size bytes with their own IP and TCP headers and checksums (what a NIC's
 * segmentation offload does), so the guest's TCP stack runs once per 64 KiB instead of once per
 * MTU; the backend (slirp) sees ordinary MTU-sized frames.
 * Left out: receive-side GSO, UFO, TSO with ECN, the control queue (promiscuous mode, MAC filtering,
 * VLAN filtering: every frame is delivered), multiqueue, RSS, MTU advice, link changes.
 *
 * Guest values are never trusted: a transmit chain shorter than the header plus an Ethernet
 * header, longer than VIRTIO_NET_MAX_FRAME, with a GSO type not negotiated or not matching the
 * frame's headers, or with a checksum position outside the frame is dropped (and counted); receive chains too small for a frame are given back
 * unused and the frame is dropped. While the driver has no receive buffers, up to
 * VIRTIO_NET_RX_BACKLOG frames wait; later ones are dropped (TCP resends them).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/net.h"

/* Offsets in struct virtio_net_config (§5.1.4) and struct virtio_net_hdr (§5.1.6). */
#define CFG_MAC 0
#define CFG_STATUS 6
#define CFG_MAX_VQ_PAIRS 8
#define CFG_LEN 10

#define HDR_FLAGS 0
#define HDR_GSO_TYPE 1
#define HDR_GSO_SIZE 4
#define HDR_CSUM_START 6
#define HDR_CSUM_OFFSET 8
#define HDR_NUM_BUFFERS 10

/* Most receive chains one frame may take with MRG_RXBUF (num_buffers is 16-bit; Linux gives
 * page-sized buffers, so a full frame takes a few dozen at the very most). */
#define RX_MAX_CHAINS 64

static uint16_t ld16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void st16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* ---- transmit ---- */

/* Completes a partial checksum (VIRTIO_NET_HDR_F_NEEDS_CSUM, §5.1.6.2): the driver left the
 * pseudo-header sum at csum_start + csum_offset; the sum from csum_start to the end goes there. */
static bool tx_complete_csum(uint8_t *frame, size_t len, unsigned start, unsigned off)
{
	if (start >= len || off > len - start || len - start - off < 2)
		return false;
	uint16_t c = net_csum_fold(net_csum_add(0, frame + start, len - start));
	/* UDP (offset 6) writes 0xffff for a sum of zero: 0 means "no checksum" there (RFC 768). */
	if (c == 0 && off == 6)
		c = 0xffff;
	frame[start + off] = (uint8_t)(c >> 8);
	frame[start + off + 1] = (uint8_t)c;
	return true;
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_CWR 0x80
#define TSO_MIN_MSS 64 /* below any real MSS (IPv4's minimum is 536): bounds the segment count */

/*
 * Cuts a TSO frame (VIRTIO_NET_HDR_GSO_TCPV4/TCPV6, §5.1.6.2) into segments of mss payload bytes:
 * each gets the original headers with its own IP length (and IPv4 ID and header checksum), TCP
 * sequence number and full TCP checksum; FIN and PSH stay on the last segment only, CWR on the
 * first (as NICs and Linux's software GSO do). The headers are parsed from the frame itself (the
 * header's hdr_len is only a hint): Ethernet with an optional VLAN tag, IPv4 with options or IPv6
 * without extension headers, then TCP. Returns false (nothing sent) if they do not add up.
 */
static bool tx_tso(struct virtio_net *n, bool v6, unsigned mss, const uint8_t *f, size_t len)
{
	size_t l3 = 14, l4;
	uint16_t type = be16(f + 12);
	if (type == 0x8100) {
		if (len < 18)
			return false;
		type = be16(f + 16);
		l3 = 18;
	}
	if (!v6) {
		if (type != 0x0800 || len < l3 + 20 || f[l3] >> 4 != 4 || f[l3 + 9] != 6)
			return false;
		l4 = l3 + (f[l3] & 15) * 4u;
		if (l4 < l3 + 20)
			return false;
	} else {
		if (type != 0x86dd || len < l3 + 40 || f[l3] >> 4 != 6 || f[l3 + 6] != 6)
			return false;
		l4 = l3 + 40;
	}
	if (len < l4 + 20)
		return false;
	size_t doff = (f[l4 + 12] >> 4) * 4u, hdrs = l4 + doff;
	if (doff < 20 || len < hdrs || mss < TSO_MIN_MSS)
		return false;
	size_t payload = len - hdrs;
	uint32_t seq0 = (uint32_t)be16(f + l4 + 4) << 16 | be16(f + l4 + 6);
	uint16_t id0 = v6 ? 0 : be16(f + l3 + 4);
	uint8_t flags0 = f[l4 + 13];
	uint8_t *s = n->segbuf;
	size_t off = 0;
	unsigned i = 0;
	do {
		size_t sl = payload - off < mss ? payload - off : mss;
		bool last = off + sl == payload;
		memcpy(s, f, hdrs);
		memcpy(s + hdrs, f + hdrs + off, sl);
		size_t tcplen = doff + sl;
		uint8_t pseudo[8];
		uint32_t sum;
		if (!v6) {
			put_be16(s + l3 + 2, (uint16_t)(l4 - l3 + tcplen));
			put_be16(s + l3 + 4, (uint16_t)(id0 + i));
			s[l3 + 10] = s[l3 + 11] = 0;
			put_be16(s + l3 + 10, net_csum_fold(net_csum_add(0, s + l3, l4 - l3)));
			sum = net_csum_add(0, s + l3 + 12, 8); /* source and destination */
			pseudo[0] = 0, pseudo[1] = 6;
			put_be16(pseudo + 2, (uint16_t)tcplen);
			sum = net_csum_add(sum, pseudo, 4);
		} else {
			put_be16(s + l3 + 4, (uint16_t)tcplen);
			sum = net_csum_add(0, s + l3 + 8, 32);
			pseudo[0] = pseudo[1] = 0;
			put_be16(pseudo + 2, (uint16_t)tcplen);
			pseudo[4] = pseudo[5] = pseudo[6] = 0, pseudo[7] = 6;
			sum = net_csum_add(sum, pseudo, 8);
		}
		uint32_t seq = seq0 + (uint32_t)off;
		put_be16(s + l4 + 4, (uint16_t)(seq >> 16));
		put_be16(s + l4 + 6, (uint16_t)seq);
		uint8_t fl = flags0;
		if (!last)
			fl &= (uint8_t)~(TCP_FIN | TCP_PSH);
		if (i)
			fl &= (uint8_t)~TCP_CWR;
		s[l4 + 13] = fl;
		s[l4 + 16] = s[l4 + 17] = 0;
		put_be16(s + l4 + 16, net_csum_fold(net_csum_add(sum, s + l4, tcplen)));
		if (n->be)
			net_send(n->be, s, hdrs + sl);
		n->tx_segments++;
		off += sl;
		i++;
	} while (off < payload);
	return true;
}

/* One chain: header then frame, both device-readable. Returns false to count an error. */
static bool tx_one(struct virtio_net *n, struct virtq_elem *e)
{
	if (e->out_len < VIRTIO_NET_HDR_LEN + 14 || e->out_len > VIRTIO_NET_HDR_LEN + VIRTIO_NET_MAX_FRAME)
		return false;
	size_t total = (size_t)e->out_len;
	if (virtq_elem_read(e, 0, n->txbuf, total) != total)
		return false;
	const uint8_t *hdr = n->txbuf;
	uint8_t *frame = n->txbuf + VIRTIO_NET_HDR_LEN;
	size_t len = total - VIRTIO_NET_HDR_LEN;
	uint8_t gso = hdr[HDR_GSO_TYPE];
	if (gso == VIRTIO_NET_HDR_GSO_TCPV4 || gso == VIRTIO_NET_HDR_GSO_TCPV6) {
		bool v6 = gso == VIRTIO_NET_HDR_GSO_TCPV6;
		if (!virtio_has_feature(&n->vdev, v6 ? VIRTIO_NET_F_HOST_TSO6 : VIRTIO_NET_F_HOST_TSO4))
			return false;
		return tx_tso(n, v6, ld16(hdr + HDR_GSO_SIZE), frame, len);
	}
	if (gso != VIRTIO_NET_HDR_GSO_NONE)
		return false; /* UDP fragmentation offload and ECN were not offered */
	if (hdr[HDR_FLAGS] & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (!virtio_has_feature(&n->vdev, VIRTIO_NET_F_CSUM))
			return false;
		if (!tx_complete_csum(frame, len, ld16(hdr + HDR_CSUM_START), ld16(hdr + HDR_CSUM_OFFSET)))
			return false;
	}
	if (n->be)
		net_send(n->be, frame, len);
	return true;
}

static void tx_flush(struct virtio_net *n)
{
	struct virtio_device *vdev = &n->vdev;
	bool any = false;
	do {
		virtq_set_notification(vdev, VIRTIO_NET_TXQ, false);
		struct virtq_elem *e;
		while ((e = virtq_pop(vdev, VIRTIO_NET_TXQ))) {
			if (tx_one(n, e))
				n->tx_frames++;
			else
				n->tx_errors++;
			virtq_push(vdev, e, 0);
			any = true;
		}
	} while (virtq_set_notification(vdev, VIRTIO_NET_TXQ, true));
	if (any)
		virtq_notify(vdev, VIRTIO_NET_TXQ);
}

/* ---- receive ---- */

enum rx_result {
	RX_PLACED,
	RX_NO_BUFFERS, /* the receive queue is empty */
	RX_SHORT,      /* MRG_RXBUF: some buffers, not enough yet (the driver is still adding) */
	RX_TOO_BIG,    /* the driver's chains can never hold this frame: drop it */
};

/* Writes one frame into the guest's receive chains; on failure nothing is consumed. */
static enum rx_result rx_place(struct virtio_net *n, const uint8_t *data, uint32_t len)
{
	struct virtio_device *vdev = &n->vdev;
	struct virtq_elem *chain[RX_MAX_CHAINS];
	unsigned count = 0;
	uint64_t need = (uint64_t)VIRTIO_NET_HDR_LEN + len, room = 0;
	bool mrg = virtio_has_feature(vdev, VIRTIO_NET_F_MRG_RXBUF);
	enum rx_result fail = RX_NO_BUFFERS;

	while (room < need) {
		if (count == (mrg ? RX_MAX_CHAINS : 1)) {
			fail = RX_TOO_BIG;
			break;
		}
		struct virtq_elem *e = virtq_pop(vdev, VIRTIO_NET_RXQ);
		if (!e) {
			fail = count ? RX_SHORT : RX_NO_BUFFERS;
			break;
		}
		chain[count++] = e;
		room += e->in_len;
	}
	if (room < need) {
		while (count)
			virtq_unpop(vdev, chain[--count]);
		return fail;
	}

	uint8_t hdr[VIRTIO_NET_HDR_LEN] = { 0 };
	if (virtio_has_feature(vdev, VIRTIO_NET_F_GUEST_CSUM))
		hdr[HDR_FLAGS] = VIRTIO_NET_HDR_F_DATA_VALID;
	st16(hdr + HDR_NUM_BUFFERS, (uint16_t)count);

	/* The header opens the first chain; the frame continues across the chains in order. */
	uint64_t done = 0; /* bytes of header + frame written */
	for (unsigned k = 0; k < count; k++) {
		struct virtq_elem *e = chain[k];
		uint64_t cap = e->in_len < need - done ? e->in_len : need - done, w = 0;
		if (done < VIRTIO_NET_HDR_LEN) {
			size_t c = (size_t)(VIRTIO_NET_HDR_LEN - done < cap ? VIRTIO_NET_HDR_LEN - done : cap);
			w = virtq_elem_write(e, 0, hdr + done, c);
		}
		if (w < cap)
			w += virtq_elem_write(e, w, data + (done + w - VIRTIO_NET_HDR_LEN), (size_t)(cap - w));
		done += cap;
		virtq_push(vdev, e, (uint32_t)w);
	}
	return RX_PLACED;
}

static bool rx_ready(const struct virtio_net *n)
{
	return n->vdev.status & VIRTIO_STATUS_DRIVER_OK && !(n->vdev.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

static void backlog_drop_head(struct virtio_net *n)
{
	free(n->backlog[n->backlog_head].data);
	n->backlog[n->backlog_head].data = NULL;
	n->backlog_head = (n->backlog_head + 1) % VIRTIO_NET_RX_BACKLOG;
	n->backlog_count--;
}

/* Moves backlog frames into receive buffers while there are some. */
static void rx_flush(struct virtio_net *n)
{
	struct virtio_device *vdev = &n->vdev;
	bool any = false, retried = false;
	while (n->backlog_count && rx_ready(n)) {
		struct virtio_net_frame *f = &n->backlog[n->backlog_head];
		enum rx_result r = rx_place(n, f->data, f->len);
		if (r == RX_PLACED) {
			n->rx_frames++;
			any = true;
		} else if (r == RX_TOO_BIG) {
			n->rx_dropped++;
		} else if (r == RX_SHORT || retried || !virtq_set_notification(vdev, VIRTIO_NET_RXQ, true)) {
			break; /* the driver's next kick on the receive queue resumes */
		} else {
			retried = true; /* buffers arrived meanwhile */
			continue;
		}
		backlog_drop_head(n);
	}
	if (any)
		virtq_notify(vdev, VIRTIO_NET_RXQ);
}

/* The backend has a frame for the guest. */
static void net_receive(void *opaque, const uint8_t *frame, size_t len)
{
	struct virtio_net *n = opaque;
	if (!rx_ready(n) || len < 14 || len > VIRTIO_NET_MAX_FRAME) {
		n->rx_dropped++;
		return;
	}
	if (!n->backlog_count) {
		enum rx_result r = rx_place(n, frame, (uint32_t)len);
		if (r == RX_PLACED) {
			n->rx_frames++;
			virtq_notify(&n->vdev, VIRTIO_NET_RXQ);
			return;
		}
		if (r == RX_TOO_BIG) {
			n->rx_dropped++;
			return;
		}
	}
	if (n->backlog_count == VIRTIO_NET_RX_BACKLOG) {
		n->rx_dropped++;
		return;
	}
	uint8_t *copy = malloc(len);
	if (!copy) {
		n->rx_dropped++;
		return;
	}
	memcpy(copy, frame, len);
	unsigned tail = (n->backlog_head + n->backlog_count) % VIRTIO_NET_RX_BACKLOG;
	n->backlog[tail] = (struct virtio_net_frame){ copy, (uint32_t)len };
	n->backlog_count++;
	/* Buffers may have arrived between the attempt above and now (EVENT_IDX race). */
	if (virtq_set_notification(&n->vdev, VIRTIO_NET_RXQ, true))
		rx_flush(n);
}

/* ---- device ops ---- */

static void vnet_queue_notify(struct virtio_device *vdev, unsigned q)
{
	struct virtio_net *n = vdev->opaque;
	if (q == VIRTIO_NET_TXQ)
		tx_flush(n);
	else if (q == VIRTIO_NET_RXQ)
		rx_flush(n);
}

static void vnet_reset(struct virtio_device *vdev)
{
	struct virtio_net *n = vdev->opaque;
	while (n->backlog_count)
		backlog_drop_head(n);
	n->backlog_head = 0;
}

static const struct virtio_device_ops vnet_ops = {
	.queue_notify = vnet_queue_notify,
	.reset = vnet_reset,
};

int virtio_net_init(struct virtio_net *n, struct net_backend *be, const uint8_t mac[ETH_ALEN])
{
	memset(n, 0, sizeof(*n));
	n->txbuf = malloc(VIRTIO_NET_HDR_LEN + VIRTIO_NET_MAX_FRAME);
	n->segbuf = malloc(VIRTIO_NET_MAX_FRAME);
	if (!n->txbuf || !n->segbuf) {
		free(n->txbuf);
		free(n->segbuf);
		return -ENOMEM;
	}
	n->be = be;
	memcpy(n->mac, mac, ETH_ALEN);

	struct virtio_device *v = &n->vdev;
	v->name = "virtio-net";
	v->device_id = VIRTIO_ID_NET;
	v->host_features = VIRTIO_BIT(VIRTIO_NET_F_CSUM) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM) |
			   VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF) |
			   VIRTIO_BIT(VIRTIO_NET_F_STATUS) | VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4) |
			   VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6);
	v->num_queues = 2;
	v->queue_max[VIRTIO_NET_RXQ] = VIRTIO_NET_QUEUE_SIZE;
	v->queue_max[VIRTIO_NET_TXQ] = VIRTIO_NET_QUEUE_SIZE;
	memcpy(v->config + CFG_MAC, mac, ETH_ALEN);
	st16(v->config + CFG_STATUS, VIRTIO_NET_S_LINK_UP);
	st16(v->config + CFG_MAX_VQ_PAIRS, 1);
	v->config_len = CFG_LEN;
	v->ops = &vnet_ops;
	v->opaque = n;

	if (be) {
		be->receive = net_receive;
		be->nic = n;
	}
	return 0;
}

void virtio_net_free(struct virtio_net *n)
{
	while (n->backlog_count)
		backlog_drop_head(n);
	if (n->be && n->be->nic == n) {
		n->be->receive = NULL;
		n->be->nic = NULL;
	}
	free(n->txbuf);
	free(n->segbuf);
	n->txbuf = n->segbuf = NULL;
}
