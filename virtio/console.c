/*
 * virtio-console (virtio 1.2 §5.3), device ID 3, with VIRTIO_CONSOLE_F_SIZE and
 * VIRTIO_CONSOLE_F_MULTIPORT.
 *
 * Ports: port 0 is the console (when configured) and further ports carry names (PORT_NAME), the
 * way QEMU's virtconsole and virtserialport lay them out; max_nr_ports is the number of slots.
 * Each port has a receiveq and a transmitq (queues 0/1 for port 0, 4/5 for port 1, ...), and the
 * control queues 2 (device to driver) and 3 (driver to device) carry the port handshake as
 * Linux's virtio_console driver runs it: the driver sends DEVICE_READY; the device answers with
 * DEVICE_ADD per port; the driver sends PORT_READY per port; the device answers with
 * CONSOLE_PORT (+ RESIZE when F_SIZE was accepted) for the console, PORT_NAME for named ports
 * and PORT_OPEN(1) when a host client is attached. The driver sends PORT_OPEN when a guest
 * program opens or closes the port (the hvc console opens itself). Host clients coming and
 * going are PORT_OPEN(1/0) to the driver, which makes guest reads see end of file and writes
 * wait while nobody listens. Without MULTIPORT only port 0 exists, on queues 0/1.
 *
 * Flow: host input is read only while the port's guest side is open and the driver has receive
 * buffers (so the guest never discards it); output from the console port is never held back
 * (Linux's hvc put_chars spins until the device returns the buffer), so it is dropped when no
 * client is attached or the client's buffer is full; output from a named port is held (the chain
 * stays unreturned) while a connected client's buffer is full, which blocks the guest writer.
 *
 * Guest values: control messages shorter than 8 bytes, for ports that do not exist or with
 * unknown events are counted and ignored; the driver's repeated requests cannot make the device
 * queue more than VIRTIO_CONSOLE_CTRL_BACKLOG replies; transmit chains longer than
 * VIRTIO_CONSOLE_TX_CHAIN_MAX are dropped unread. Left out: EMERG_WRITE, port hot-plug
 * (DEVICE_REMOVE), console resize at run time.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/console.h"

/* Offsets in struct virtio_console_config (§5.3.4). */
#define CFG_COLS 0
#define CFG_ROWS 2
#define CFG_MAX_NR_PORTS 4
#define CFG_EMERG_WR 8
#define CFG_LEN 12

#define BAD_ID 0xffffffffu
#define CHUNK 4096
#define RX_BUDGET 65536 /* host bytes moved into the guest per call */

static uint16_t ld16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t ld32(const uint8_t *p) { return ld16(p) | (uint32_t)ld16(p + 2) << 16; }
static void st16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void st32(uint8_t *p, uint32_t v) { st16(p, (uint16_t)v); st16(p + 2, (uint16_t)(v >> 16)); }

static unsigned rxq(unsigned id) { return id ? 2 * id + 2 : 0; }
static unsigned txq(unsigned id) { return rxq(id) + 1; }

static bool multiport(const struct virtio_console *vc)
{
	return virtio_has_feature(&vc->vdev, VIRTIO_CONSOLE_F_MULTIPORT);
}

static bool running(const struct virtio_console *vc)
{
	uint8_t s = vc->vdev.status;
	return (s & VIRTIO_STATUS_DRIVER_OK) && !(s & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

/* Port ids the driver may use: all slots with MULTIPORT, port 0 alone without. */
static struct virtio_console_port *port_by_id(struct virtio_console *vc, uint32_t id)
{
	if (id >= vc->nports || (!multiport(vc) && id))
		return NULL;
	return &vc->port[id];
}

/* ---- control messages to the driver ---- */

/* Moves queued control messages into the driver's control receive buffers. */
static void ctrl_flush(struct virtio_console *vc)
{
	struct virtio_device *vdev = &vc->vdev;
	bool any = false;
	while (vc->ctrl_count && running(vc) && multiport(vc)) {
		struct virtq_elem *e = virtq_pop(vdev, VIRTIO_CONSOLE_CTRL_RXQ);
		if (!e)
			break;
		const struct virtio_console_ctrl *m = &vc->ctrl[vc->ctrl_head];
		uint8_t buf[VIRTIO_CONSOLE_CTRL_LEN + VIRTIO_CONSOLE_NAME_MAX + 1];
		size_t len = VIRTIO_CONSOLE_CTRL_LEN + m->extra_len;
		st32(buf, m->id);
		st16(buf + 4, m->event);
		st16(buf + 6, m->value);
		memcpy(buf + VIRTIO_CONSOLE_CTRL_LEN, m->extra, m->extra_len);
		if (e->in_len >= len) {
			virtq_elem_write(e, 0, buf, len);
			virtq_push(vdev, e, (uint32_t)len);
		} else {
			vc->ctrl_dropped++; /* Linux gives page-sized buffers: a driver error */
			virtq_push(vdev, e, 0);
		}
		vc->ctrl_head = (vc->ctrl_head + 1) % VIRTIO_CONSOLE_CTRL_BACKLOG;
		vc->ctrl_count--;
		any = true;
	}
	if (any)
		virtq_notify(vdev, VIRTIO_CONSOLE_CTRL_RXQ);
}

static void ctrl_send(struct virtio_console *vc, uint32_t id, uint16_t event, uint16_t value, const void *extra,
		      size_t extra_len)
{
	if (!multiport(vc))
		return;
	if (vc->ctrl_count == VIRTIO_CONSOLE_CTRL_BACKLOG || extra_len > VIRTIO_CONSOLE_NAME_MAX + 1) {
		vc->ctrl_dropped++;
		return;
	}
	struct virtio_console_ctrl *m = &vc->ctrl[(vc->ctrl_head + vc->ctrl_count) % VIRTIO_CONSOLE_CTRL_BACKLOG];
	m->id = id;
	m->event = event;
	m->value = value;
	m->extra_len = (uint16_t)extra_len;
	if (extra_len)
		memcpy(m->extra, extra, extra_len);
	vc->ctrl_count++;
	ctrl_flush(vc);
}

/* ---- data ---- */

static bool port_rx_ready(struct virtio_console *vc, unsigned id)
{
	const struct virtio_console_port *p = &vc->port[id];
	if (!running(vc) || !p->present || !p->ready)
		return false;
	return multiport(vc) ? p->guest_open : id == 0;
}

/* Host input into the port's receive buffers, while there are both. */
static void port_rx(struct virtio_console *vc, unsigned id)
{
	struct virtio_device *vdev = &vc->vdev;
	struct virtio_console_port *p = &vc->port[id];
	bool any = false;
	size_t budget = RX_BUDGET;
	uint8_t buf[CHUNK];
	while (budget && port_rx_ready(vc, id) && chardev_connected(&p->chr)) {
		struct virtq_elem *e = virtq_pop(vdev, rxq(id));
		if (!e)
			break;
		size_t want = e->in_len < sizeof(buf) ? (size_t)e->in_len : sizeof(buf);
		if (want > budget)
			want = budget;
		size_t got = want ? chardev_read(&p->chr, buf, want) : 0;
		if (!got && want) {
			virtq_unpop(vdev, e);
			break;
		}
		virtq_elem_write(e, 0, buf, got);
		virtq_push(vdev, e, (uint32_t)got);
		p->rx_bytes += got;
		budget -= got ? got : 1; /* a chain with no writable room still costs */
		any = true;
	}
	if (any)
		virtq_notify(vdev, rxq(id));
}

/* Guest output to the host side. Returns false when the port waits for a slow client. */
static void port_tx(struct virtio_console *vc, unsigned id)
{
	struct virtio_device *vdev = &vc->vdev;
	struct virtio_console_port *p = &vc->port[id];
	bool any = false;
	uint8_t buf[CHUNK];
	for (;;) {
		if (!p->tx_elem) {
			p->tx_elem = virtq_pop(vdev, txq(id));
			p->tx_off = 0;
			if (!p->tx_elem)
				break;
			if (p->tx_elem->out_len > VIRTIO_CONSOLE_TX_CHAIN_MAX || !p->present) {
				p->tx_dropped += p->tx_elem->out_len;
				p->tx_off = p->tx_elem->out_len;
			}
		}
		struct virtq_elem *e = p->tx_elem;
		/* Named ports keep the chain while a client is there but cannot take more. */
		bool hold = !p->console && chardev_connected(&p->chr);
		while (p->tx_off < e->out_len) {
			size_t room = chardev_room(&p->chr);
			if (!room) {
				if (hold)
					goto wait;
				p->tx_dropped += e->out_len - p->tx_off;
				p->chr.dropped += e->out_len - p->tx_off;
				p->tx_off = e->out_len;
				break;
			}
			uint64_t left = e->out_len - p->tx_off;
			size_t n = left < sizeof(buf) ? (size_t)left : sizeof(buf);
			if (n > room)
				n = room;
			n = virtq_elem_read(e, p->tx_off, buf, n);
			if (!n)
				break;
			size_t w = chardev_write(&p->chr, buf, n);
			p->tx_bytes += w;
			p->tx_dropped += n - w;
			p->tx_off += n;
		}
		virtq_push(vdev, e, 0);
		p->tx_elem = NULL;
		any = true;
	}
wait:
	if (any)
		virtq_notify(vdev, txq(id));
}

/* ---- control messages from the driver ---- */

static void port_announce(struct virtio_console *vc, unsigned id)
{
	struct virtio_console_port *p = &vc->port[id];
	if (p->console) {
		ctrl_send(vc, id, VIRTIO_CONSOLE_CONSOLE_PORT, 1, NULL, 0);
		if (virtio_has_feature(&vc->vdev, VIRTIO_CONSOLE_F_SIZE)) {
			uint8_t size[4]; /* struct virtio_console_resize { le16 cols; le16 rows; } */
			st16(size, vc->cols);
			st16(size + 2, vc->rows);
			ctrl_send(vc, id, VIRTIO_CONSOLE_RESIZE, 0, size, sizeof(size));
		}
	}
	if (p->name[0])
		ctrl_send(vc, id, VIRTIO_CONSOLE_PORT_NAME, 1, p->name, strlen(p->name));
	if (chardev_connected(&p->chr))
		ctrl_send(vc, id, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL, 0);
}

static void ctrl_message(struct virtio_console *vc, uint32_t id, uint16_t event, uint16_t value)
{
	if (event == VIRTIO_CONSOLE_DEVICE_READY) {
		if (id != BAD_ID || value != 1) {
			vc->ctrl_errors++; /* value 0: the driver failed to set up */
			return;
		}
		for (unsigned k = 0; k < vc->nports; k++)
			if (vc->port[k].present)
				ctrl_send(vc, k, VIRTIO_CONSOLE_DEVICE_ADD, 1, NULL, 0);
		return;
	}
	struct virtio_console_port *p = port_by_id(vc, id);
	if (!p || !p->present) {
		vc->ctrl_errors++;
		return;
	}
	switch (event) {
	case VIRTIO_CONSOLE_PORT_READY:
		if (value != 1) {
			vc->ctrl_errors++; /* the driver could not add the port */
			p->ready = false;
			break;
		}
		p->ready = true;
		port_announce(vc, id);
		break;
	case VIRTIO_CONSOLE_PORT_OPEN:
		if (!p->ready) {
			vc->ctrl_errors++;
			break;
		}
		p->guest_open = value != 0;
		if (p->guest_open)
			port_rx(vc, id);
		break;
	default:
		vc->ctrl_errors++;
		break;
	}
}

static void ctrl_tx(struct virtio_console *vc)
{
	struct virtio_device *vdev = &vc->vdev;
	struct virtq_elem *e;
	bool any = false;
	while ((e = virtq_pop(vdev, VIRTIO_CONSOLE_CTRL_TXQ))) {
		uint8_t m[VIRTIO_CONSOLE_CTRL_LEN];
		/* Returned first: the driver spins on this buffer, and the reply may need the queue. */
		bool ok = virtq_elem_read(e, 0, m, sizeof(m)) == sizeof(m);
		virtq_push(vdev, e, 0);
		any = true;
		if (ok)
			ctrl_message(vc, ld32(m), ld16(m + 4), ld16(m + 6));
		else
			vc->ctrl_errors++;
	}
	if (any)
		virtq_notify(vdev, VIRTIO_CONSOLE_CTRL_TXQ);
}

/* ---- device ops ---- */

static void vcon_queue_notify(struct virtio_device *vdev, unsigned q)
{
	struct virtio_console *vc = vdev->opaque;
	if (q == VIRTIO_CONSOLE_CTRL_RXQ || q == VIRTIO_CONSOLE_CTRL_TXQ) {
		if (!multiport(vc))
			return;
		if (q == VIRTIO_CONSOLE_CTRL_RXQ)
			ctrl_flush(vc);
		else
			ctrl_tx(vc);
		return;
	}
	unsigned id = q < 2 ? 0 : q / 2 - 1;
	if (!port_by_id(vc, id))
		return;
	if (q & 1)
		port_tx(vc, id);
	else
		port_rx(vc, id);
}

/* Without MULTIPORT, port 0 needs no handshake. */
static void vcon_driver_ok(struct virtio_device *vdev)
{
	struct virtio_console *vc = vdev->opaque;
	if (!multiport(vc))
		vc->port[0].ready = vc->port[0].guest_open = true;
}

static void vcon_reset(struct virtio_device *vdev)
{
	struct virtio_console *vc = vdev->opaque;
	for (unsigned k = 0; k < vc->nports; k++) {
		struct virtio_console_port *p = &vc->port[k];
		if (p->tx_elem)
			virtq_elem_free(p->tx_elem);
		p->tx_elem = NULL;
		p->ready = p->guest_open = false;
	}
	vc->ctrl_head = vc->ctrl_count = 0;
}

static const struct virtio_device_ops vcon_ops = {
	.queue_notify = vcon_queue_notify,
	.driver_ok = vcon_driver_ok,
	.reset = vcon_reset,
};

/* ---- host side ---- */

static bool port_wants_input(struct virtio_console *vc, unsigned id)
{
	return port_rx_ready(vc, id) && virtq_has_avail(&vc->vdev, rxq(id));
}

void virtio_console_poll_fill(struct virtio_console *vc, struct net_pollset *ps, int *timeout_ms)
{
	for (unsigned k = 0; k < vc->nports; k++)
		if (vc->port[k].present)
			chardev_poll_fill(&vc->port[k].chr, ps, port_wants_input(vc, k), timeout_ms);
}

void virtio_console_poll_done(struct virtio_console *vc, const struct net_pollset *ps)
{
	for (unsigned k = 0; k < vc->nports; k++) {
		struct virtio_console_port *p = &vc->port[k];
		if (!p->present)
			continue;
		unsigned ev = chardev_poll_done(&p->chr, ps);
		bool announce = multiport(vc) && p->ready && running(vc);
		if (ev & CHARDEV_EV_DISCONNECTED && announce)
			ctrl_send(vc, k, VIRTIO_CONSOLE_PORT_OPEN, 0, NULL, 0);
		if (ev & CHARDEV_EV_CONNECTED && announce && chardev_connected(&p->chr))
			ctrl_send(vc, k, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL, 0);
		if (ev & CHARDEV_EV_READABLE)
			port_rx(vc, k);
		if (p->tx_elem && (ev & (CHARDEV_EV_WRITABLE | CHARDEV_EV_DISCONNECTED) || chardev_room(&p->chr)))
			port_tx(vc, k);
	}
}

/* ---- setup ---- */

static bool name_ok(const char *s)
{
	if (!*s || strlen(s) > VIRTIO_CONSOLE_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '.' ||
		      *s == '_' || *s == '-'))
			return false;
	return true;
}

static int parse_u16(const char *v, uint16_t *out)
{
	char *end;
	errno = 0;
	unsigned long x = strtoul(v, &end, 10);
	if (errno || end == v || *end || x == 0 || x > 9999)
		return -1;
	*out = (uint16_t)x;
	return 0;
}

int virtio_console_parse(const char *opt, struct virtio_console_port_config *pc, char *err, size_t errlen)
{
	memset(pc, 0, sizeof(*pc));
	const char *comma = strchr(opt, ',');
	size_t dlen = comma ? (size_t)(comma - opt) : strlen(opt);
	if (dlen == strlen("virtio-console") && !strncmp(opt, "virtio-console", dlen))
		pc->console = true;
	else if (!(dlen == strlen("virtserialport") && !strncmp(opt, "virtserialport", dlen)))
		return 1;
	const char *what = pc->console ? "virtio-console" : "virtserialport";
	char *copy = strdup(comma ? comma + 1 : "");
	if (!copy) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int r = 0;
	char *save = NULL;
	for (char *kv = strtok_r(copy, ",", &save); kv && !r; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		const char *v = eq ? eq + 1 : "";
		if (eq)
			*eq = 0;
		if (!eq || !*v) {
			snprintf(err, errlen, "'%s' needs a value (KEY=VALUE)", kv);
			r = -1;
		} else if (!strcmp(kv, "socket") || !strcmp(kv, "file")) {
			if (pc->backend != VCON_BACKEND_NONE) {
				snprintf(err, errlen, "give one of socket= or file=, once");
				r = -1;
			} else if (strlen(v) >= sizeof(pc->path)) {
				snprintf(err, errlen, "%s: path too long", kv);
				r = -1;
			} else {
				pc->backend = !strcmp(kv, "socket") ? VCON_BACKEND_SOCKET : VCON_BACKEND_FILE;
				strcpy(pc->path, v);
			}
		} else if (!strcmp(kv, "name") && !pc->console) {
			if (!name_ok(v)) {
				snprintf(err, errlen, "name=%s: expected 1 to %d of A-Z a-z 0-9 . _ -", v,
					 VIRTIO_CONSOLE_NAME_MAX);
				r = -1;
			} else {
				strcpy(pc->name, v);
			}
		} else if ((!strcmp(kv, "cols") || !strcmp(kv, "rows")) && pc->console) {
			if (parse_u16(v, kv[0] == 'c' ? &pc->cols : &pc->rows) < 0) {
				snprintf(err, errlen, "%s=%s: expected a number from 1 to 9999", kv, v);
				r = -1;
			}
		} else {
			snprintf(err, errlen, "unknown %s option '%s' (known: %s)", what, kv,
				 pc->console ? "socket, file, cols, rows" : "name, socket, file");
			r = -1;
		}
	}
	free(copy);
	if (!r && pc->backend == VCON_BACKEND_NONE) {
		snprintf(err, errlen, "%s needs socket=PATH or file=PATH", what);
		r = -1;
	}
	if (!r && !pc->console && !pc->name[0]) {
		snprintf(err, errlen, "virtserialport needs name=NAME, e.g. name=org.softvm.agent.0");
		r = -1;
	}
	return r;
}

static int open_backend(struct virtio_console_port *p, const struct virtio_console_port_config *c, char *err,
			size_t errlen)
{
	char e[512];
	int r = 0;
	if (c->backend == VCON_BACKEND_SOCKET)
		r = chardev_listen(&p->chr, c->path, e, sizeof(e));
	else if (c->backend == VCON_BACKEND_FILE)
		r = chardev_open_file(&p->chr, c->path, e, sizeof(e));
	if (r < 0)
		snprintf(err, errlen, "%s %s: %s", c->console ? "virtio-console" : "virtserialport",
			 c->console ? "port" : c->name, e);
	return r;
}

int virtio_console_init(struct virtio_console *vc, const struct virtio_console_port_config *ports, unsigned n,
			char *err, size_t errlen)
{
	memset(vc, 0, sizeof(*vc));
	vc->nports = 1;
	for (unsigned k = 0; k < VIRTIO_CONSOLE_MAX_PORTS; k++)
		chardev_init(&vc->port[k].chr);
	vc->cols = 80;
	vc->rows = 25;
	for (unsigned k = 0; k < n; k++) {
		const struct virtio_console_port_config *c = &ports[k];
		struct virtio_console_port *p;
		if (c->console) {
			p = &vc->port[0];
			if (p->present) {
				snprintf(err, errlen, "only one virtio-console (console port) per VM");
				goto fail;
			}
			if (c->cols)
				vc->cols = c->cols;
			if (c->rows)
				vc->rows = c->rows;
		} else {
			if (vc->nports == VIRTIO_CONSOLE_MAX_PORTS) {
				snprintf(err, errlen, "virtserialport %s: at most %d named ports", c->name,
					 VIRTIO_CONSOLE_MAX_PORTS - 1);
				goto fail;
			}
			for (unsigned j = 1; j < vc->nports; j++)
				if (!strcmp(vc->port[j].name, c->name)) {
					snprintf(err, errlen, "virtserialport %s: the name is used twice", c->name);
					goto fail;
				}
			if (!name_ok(c->name)) {
				snprintf(err, errlen, "virtserialport: bad name '%s'", c->name);
				goto fail;
			}
			p = &vc->port[vc->nports++];
			strcpy(p->name, c->name);
		}
		p->present = true;
		p->console = c->console;
		if (open_backend(p, c, err, errlen) < 0)
			goto fail;
	}

	struct virtio_device *v = &vc->vdev;
	v->name = "virtio-console";
	v->device_id = VIRTIO_ID_CONSOLE;
	v->host_features = VIRTIO_BIT(VIRTIO_CONSOLE_F_MULTIPORT);
	if (vc->port[0].present)
		v->host_features |= VIRTIO_BIT(VIRTIO_CONSOLE_F_SIZE);
	v->num_queues = 2 * (vc->nports + 1);
	for (unsigned q = 0; q < v->num_queues; q++)
		v->queue_max[q] = VIRTIO_CONSOLE_QUEUE_SIZE;
	st16(v->config + CFG_COLS, vc->cols);
	st16(v->config + CFG_ROWS, vc->rows);
	st32(v->config + CFG_MAX_NR_PORTS, vc->nports);
	v->config_len = CFG_LEN;
	v->ops = &vcon_ops;
	v->opaque = vc;
	return 0;
fail:
	virtio_console_free(vc);
	return -1;
}

void virtio_console_free(struct virtio_console *vc)
{
	for (unsigned k = 0; k < VIRTIO_CONSOLE_MAX_PORTS; k++) {
		struct virtio_console_port *p = &vc->port[k];
		if (p->tx_elem)
			virtq_elem_free(p->tx_elem);
		p->tx_elem = NULL;
		chardev_close(&p->chr);
	}
}
