/*
 * virtio-console (virtio 1.2 §5.3): a console port (the guest's /dev/hvc0) and named ports (the
 * guest's /dev/vportNpM, /sys/class/virtio-ports/vportNpM/name) for tools such as a guest agent.
 * Each port's host side is a chardev (machine/chardev.h): a Unix socket a tool connects to, or a
 * file that takes the guest's output.
 */
#ifndef SOFTVM_VIRTIO_CONSOLE_H
#define SOFTVM_VIRTIO_CONSOLE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "machine/chardev.h"
#include "virtio/virtio.h"

/* Feature bits (§5.3.3). */
#define VIRTIO_CONSOLE_F_SIZE 0
#define VIRTIO_CONSOLE_F_MULTIPORT 1
#define VIRTIO_CONSOLE_F_EMERG_WRITE 2

/* Control messages (§5.3.6.2): struct virtio_console_control { le32 id; le16 event; le16 value; }. */
#define VIRTIO_CONSOLE_DEVICE_READY 0
#define VIRTIO_CONSOLE_DEVICE_ADD 1
#define VIRTIO_CONSOLE_DEVICE_REMOVE 2
#define VIRTIO_CONSOLE_PORT_READY 3
#define VIRTIO_CONSOLE_CONSOLE_PORT 4
#define VIRTIO_CONSOLE_RESIZE 5
#define VIRTIO_CONSOLE_PORT_OPEN 6
#define VIRTIO_CONSOLE_PORT_NAME 7
#define VIRTIO_CONSOLE_CTRL_LEN 8

/* Queues: port 0 receiveq/transmitq, the control receiveq/transmitq, then ports 1, 2, ... */
#define VIRTIO_CONSOLE_CTRL_RXQ 2
#define VIRTIO_CONSOLE_CTRL_TXQ 3
#define VIRTIO_CONSOLE_QUEUE_SIZE 128

/* Port slots: two queues each plus the control pair fill VIRTIO_MAX_QUEUES. */
#define VIRTIO_CONSOLE_MAX_PORTS (VIRTIO_MAX_QUEUES / 2 - 1)
#define VIRTIO_CONSOLE_NAME_MAX 127
/* Control messages waiting for control receive buffers; more are dropped (a driver that keeps
 * asking without giving buffers). */
#define VIRTIO_CONSOLE_CTRL_BACKLOG 64
/* A transmit chain longer than this is dropped unread (Linux sends at most 32 KiB per chain). */
#define VIRTIO_CONSOLE_TX_CHAIN_MAX (1u << 20)

enum virtio_console_backend { VCON_BACKEND_NONE, VCON_BACKEND_SOCKET, VCON_BACKEND_FILE };

/* One port as the user describes it (softvm run --device ...). */
struct virtio_console_port_config {
	bool console;                 /* the console port (hvc); else a named port */
	char name[VIRTIO_CONSOLE_NAME_MAX + 1]; /* named port: e.g. org.softvm.agent.0 */
	enum virtio_console_backend backend;
	char path[4096];              /* socket or file path */
	uint16_t cols, rows;          /* console size (VIRTIO_CONSOLE_F_SIZE), 0: 80x25 */
};

struct virtio_console_port {
	bool present;
	bool console;
	char name[VIRTIO_CONSOLE_NAME_MAX + 1];
	struct chardev chr;
	bool ready;        /* the driver sent PORT_READY(1) (always, without MULTIPORT, for port 0) */
	bool guest_open;   /* the driver sent PORT_OPEN(1) */
	struct virtq_elem *tx_elem; /* a chain part-sent to a slow client */
	uint64_t tx_off;
	uint64_t rx_bytes, tx_bytes, tx_dropped;
};

struct virtio_console_ctrl {
	uint32_t id;
	uint16_t event, value;
	uint16_t extra_len;
	uint8_t extra[VIRTIO_CONSOLE_NAME_MAX + 1];
};

struct virtio_console {
	struct virtio_device vdev;
	unsigned nports;   /* port slots (max_nr_ports) */
	struct virtio_console_port port[VIRTIO_CONSOLE_MAX_PORTS];
	uint16_t cols, rows;
	struct virtio_console_ctrl ctrl[VIRTIO_CONSOLE_CTRL_BACKLOG]; /* ring, oldest at ctrl_head */
	unsigned ctrl_head, ctrl_count;
	uint64_t ctrl_errors;  /* malformed or unexpected control messages from the driver */
	uint64_t ctrl_dropped; /* control messages lost (backlog full, buffer too small) */
};

/* Parses a --device value: "virtio-console,socket=PATH|file=PATH[,cols=N,rows=N]" (the console
 * port) or "virtserialport,name=NAME,socket=PATH|file=PATH" (a named port). Returns 0, 1 if opt
 * names neither device (not ours), or -1 with a one-line message in err. */
int virtio_console_parse(const char *opt, struct virtio_console_port_config *pc, char *err, size_t errlen);

/* Fills the device for the transport and opens each port's socket or file: the console (at most
 * one) becomes port 0, named ports 1, 2, ... in order. Returns 0, or -1 with a message in err. */
int virtio_console_init(struct virtio_console *vc, const struct virtio_console_port_config *ports, unsigned n,
			char *err, size_t errlen);
/* Closes the ports' sockets and files. */
void virtio_console_free(struct virtio_console *vc);

/* The vCPU loop's poll: adds the ports' descriptors, then serves them after poll(). */
void virtio_console_poll_fill(struct virtio_console *vc, struct net_pollset *ps, int *timeout_ms);
void virtio_console_poll_done(struct virtio_console *vc, const struct net_pollset *ps);
#endif
