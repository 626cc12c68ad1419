/*
 * virtio-net device (virtio 1.2 §5.1) over a network backend (net/net.h).
 *
 * Modelled: receiveq1 and transmitq1 (no control queue, one queue pair), VIRTIO_NET_F_MAC,
 * VIRTIO_NET_F_STATUS (link always up), VIRTIO_NET_F_CSUM (the driver may leave a partial
 * checksum, completed here before the frame reaches the backend: slirp needs whole checksums),
 * VIRTIO_NET_F_GUEST_CSUM (received frames are marked DATA_VALID: the backend's checksums are
 * complete) and VIRTIO_NET_F_MRG_RXBUF (a frame may span several receive chains, §5.1.6.4).
 * Left out: GSO/TSO in either direction, the control queue (promiscuous mode, MAC filtering,
 * VLAN filtering: every frame is delivered), multiqueue, RSS, MTU advice, link changes.
 *
 * Guest values are never trusted: a transmit chain shorter than the header plus an Ethernet
 * header, longer than VIRTIO_NET_MAX_FRAME, with a GSO type or with a checksum position outside
 * the frame is dropped (and counted); receive chains too small for a frame are given back
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
	if (hdr[HDR_GSO_TYPE] != VIRTIO_NET_HDR_GSO_NONE)
		return false; /* no GSO feature was offered */
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
	if (!n->txbuf)
		return -ENOMEM;
	n->be = be;
	memcpy(n->mac, mac, ETH_ALEN);

	struct virtio_device *v = &n->vdev;
	v->name = "virtio-net";
	v->device_id = VIRTIO_ID_NET;
	v->host_features = VIRTIO_BIT(VIRTIO_NET_F_CSUM) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM) |
			   VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF) |
			   VIRTIO_BIT(VIRTIO_NET_F_STATUS);
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
	n->txbuf = NULL;
}
