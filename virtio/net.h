/*
 * virtio-net (virtio 1.2 §5.1): one receive and one transmit queue, a MAC address and link status
 * in the configuration space, checksum offload both ways and mergeable receive buffers. Frames go
 * to and come from a network backend (net/net.h).
 */
#ifndef SOFTVM_VIRTIO_NET_H
#define SOFTVM_VIRTIO_NET_H
#include <stdint.h>

#include "net/net.h"
#include "virtio/virtio.h"

/* Feature bits (virtio 1.2 §5.1.3). */
#define VIRTIO_NET_F_CSUM 0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MTU 3
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_HOST_TSO4 11
#define VIRTIO_NET_F_HOST_TSO6 12
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_F_CTRL_VQ 17

#define VIRTIO_NET_S_LINK_UP 1

/* struct virtio_net_hdr (§5.1.6): 12 bytes with VIRTIO_F_VERSION_1. */
#define VIRTIO_NET_HDR_LEN 12
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_NONE 0
#define VIRTIO_NET_HDR_GSO_TCPV4 1
#define VIRTIO_NET_HDR_GSO_TCPV6 4
#define VIRTIO_NET_HDR_GSO_ECN 0x80

#define VIRTIO_NET_RXQ 0
#define VIRTIO_NET_TXQ 1
#define VIRTIO_NET_QUEUE_SIZE 256

/* Largest frame carried either way: a TSO frame (an IP packet of up to 64 KiB) with its Ethernet
 * and VLAN headers; anything larger is refused. */
#define VIRTIO_NET_MAX_FRAME 65550
/* Frames held for the guest while it has no receive buffers; more are dropped (TCP resends). */
#define VIRTIO_NET_RX_BACKLOG 256

struct virtio_net_frame {
	uint8_t *data;
	uint32_t len;
};

struct virtio_net {
	struct virtio_device vdev;
	struct net_backend *be;
	uint8_t mac[ETH_ALEN];
	struct virtio_net_frame backlog[VIRTIO_NET_RX_BACKLOG]; /* ring, oldest at backlog_head */
	unsigned backlog_head, backlog_count;
	uint8_t *txbuf; /* header + frame of the chain being sent */
	uint8_t *segbuf; /* one segment of a TSO frame */
	uint64_t tx_frames, tx_errors, tx_segments, rx_frames, rx_dropped;
};

/* Fills the virtio device for the transport (virtio_pci_init takes &n->vdev) and attaches to be
 * (which may be NULL: the link is then up but frames go nowhere). Returns 0 or -ENOMEM. */
int virtio_net_init(struct virtio_net *n, struct net_backend *be, const uint8_t mac[ETH_ALEN]);
/* Frees the backlog; the backend stays the caller's. */
void virtio_net_free(struct virtio_net *n);
#endif
