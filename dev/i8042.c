/*
 * Intel 8042 keyboard controller as on a PS/2-compatible PC (IBM PS/2 Hardware Interface
 * Technical Reference, "Keyboard/Auxiliary Device Controller"; A. Brouwer, "Keyboard scancodes",
 * for commands and the set 2 -> set 1 translation), with a PS/2 MF2 keyboard and a standard PS/2
 * mouse (3-byte packets, IntelliMouse wheel after the 200/100/80 rate knock).
 *
 * Everything is instantaneous: a byte written is processed at once (IBF always reads 0) and device
 * replies are queued; the next queued byte enters the output buffer as soon as the guest reads
 * the previous one. IRQ 1 follows "output buffer full with keyboard data" and IRQ 12 "with aux
 * data", each gated by its enable bit in the command byte. The reset line (output port bit 0,
 * pulse command 0xfe) calls the machine's reset callback. A20 (output port bit 1, commands
 * 0xdd/0xdf) is kept as state only: the machine does not mask address line 20.
 * Not modelled: parity/timeout errors (no device ever fails), keyboard typematic repeat, scan
 * code sets 1 and 3 as separate tables (set changes are accepted and reported; injected codes
 * are sent as given), password security, the keyboard inhibit switch.
 */
#include <string.h>

#include "i8042.h"

#define STS_OBF 0x01
#define STS_IBF 0x02
#define STS_SYS 0x04
#define STS_CMD 0x08 /* last write was to port 0x64 */
#define STS_UNLOCKED 0x10
#define STS_AUXB 0x20

#define CTR_KBDINT 0x01
#define CTR_AUXINT 0x02
#define CTR_SYS 0x04
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20
#define CTR_XLATE 0x40

#define OUT_RESET 0x01 /* active low: 0 holds the CPU in reset */
#define OUT_A20 0x02
#define OUT_KBD_OBF 0x10
#define OUT_AUX_OBF 0x20

#define PS2_ACK 0xfa
#define PS2_RESEND 0xfe
#define PS2_BAT_OK 0xaa

#define SRC_KBD 0
#define SRC_AUX 1

/* The 8042's set 2 -> set 1 translation for codes 0x00-0x7f; above, 0x83 (F7) becomes 0x41, 0x84
 * (SysRq) 0x54, and every other byte passes unchanged. A set-2 0xf0 break prefix is absorbed
 * and sets bit 7 of the translated code that follows. */
static const uint8_t xlate_table[128] = {
	0xff, 0x43, 0x41, 0x3f, 0x3d, 0x3b, 0x3c, 0x58, 0x64, 0x44, 0x42, 0x40, 0x3e, 0x0f, 0x29, 0x59,
	0x65, 0x38, 0x2a, 0x70, 0x1d, 0x10, 0x02, 0x5a, 0x66, 0x71, 0x2c, 0x1f, 0x1e, 0x11, 0x03, 0x5b,
	0x67, 0x2e, 0x2d, 0x20, 0x12, 0x05, 0x04, 0x5c, 0x68, 0x39, 0x2f, 0x21, 0x14, 0x13, 0x06, 0x5d,
	0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5e, 0x6a, 0x72, 0x32, 0x24, 0x16, 0x08, 0x09, 0x5f,
	0x6b, 0x33, 0x25, 0x17, 0x18, 0x0b, 0x0a, 0x60, 0x6c, 0x34, 0x35, 0x26, 0x27, 0x19, 0x0c, 0x61,
	0x6d, 0x73, 0x28, 0x74, 0x1a, 0x0d, 0x62, 0x6e, 0x3a, 0x36, 0x1c, 0x1b, 0x75, 0x2b, 0x63, 0x76,
	0x55, 0x56, 0x77, 0x78, 0x79, 0x7a, 0x0e, 0x7b, 0x7c, 0x4f, 0x7d, 0x4b, 0x47, 0x7e, 0x7f, 0x6f,
	0x52, 0x53, 0x50, 0x4c, 0x4d, 0x48, 0x01, 0x45, 0x57, 0x4e, 0x51, 0x4a, 0x37, 0x49, 0x46, 0x54,
};

static uint8_t xlate(uint8_t b)
{
	if (b < 0x80)
		return xlate_table[b];
	if (b == 0x83)
		return 0x41;
	if (b == 0x84)
		return 0x54;
	return b;
}

/* ---- byte queues ---- */

static void q_clear(struct ps2_queue *q)
{
	q->head = q->count = 0;
}

static bool q_push(struct ps2_queue *q, uint8_t b)
{
	if (q->count == PS2_QUEUE_SIZE)
		return false;
	q->data[(q->head + q->count) % PS2_QUEUE_SIZE] = b;
	q->count++;
	return true;
}

static uint8_t q_pop(struct ps2_queue *q)
{
	uint8_t b = q->data[q->head];
	q->head = (q->head + 1) % PS2_QUEUE_SIZE;
	q->count--;
	return b;
}

static unsigned q_room(const struct ps2_queue *q)
{
	return PS2_QUEUE_SIZE - q->count;
}

/* ---- output buffer and interrupts ---- */

static uint8_t ctr(const struct i8042 *c)
{
	return c->ram[0];
}

static void update_irq(struct i8042 *c)
{
	bool full = c->status & STS_OBF, aux = c->status & STS_AUXB;
	bool l1 = full && !aux && (ctr(c) & CTR_KBDINT);
	bool l12 = full && aux && (ctr(c) & CTR_AUXINT);
	if (l1 != c->irq1_level) {
		c->irq1_level = l1;
		irq_set(&c->irq1, l1);
	}
	if (l12 != c->irq12_level) {
		c->irq12_level = l12;
		irq_set(&c->irq12, l12);
	}
}

static void load_out(struct i8042 *c, uint8_t b, int src)
{
	c->out = b;
	c->status |= STS_OBF;
	if (src == SRC_AUX)
		c->status |= STS_AUXB;
	else
		c->status &= ~STS_AUXB;
}

/* Moves the next waiting byte into an empty output buffer. */
static void refill(struct i8042 *c)
{
	if (c->status & STS_OBF)
		return;
	if (c->ctl_q.count) {
		int src = c->ctl_src[c->ctl_q.head];
		load_out(c, q_pop(&c->ctl_q), src);
	} else {
		while (!(ctr(c) & CTR_KBDDIS) && c->kbd.q.count) {
			uint8_t b = q_pop(&c->kbd.q);
			if (ctr(c) & CTR_XLATE) {
				if (b == 0xf0) {
					c->xlate_break = true;
					continue;
				}
				b = xlate(b) | (c->xlate_break ? 0x80 : 0);
				c->xlate_break = false;
			}
			load_out(c, b, SRC_KBD);
			break;
		}
		if (!(c->status & STS_OBF) && !(ctr(c) & CTR_AUXDIS) && c->aux.q.count)
			load_out(c, q_pop(&c->aux.q), SRC_AUX);
	}
	update_irq(c);
}

/* A reply from the controller itself (or a byte written with 0xd2/0xd3). */
static void ctl_reply(struct i8042 *c, uint8_t b, int src)
{
	unsigned slot = (c->ctl_q.head + c->ctl_q.count) % PS2_QUEUE_SIZE;
	if (q_push(&c->ctl_q, b))
		c->ctl_src[slot] = (uint8_t)src;
	refill(c);
}

/* ---- keyboard ---- */

static void kbd_send(struct i8042 *c, uint8_t b)
{
	c->kbd.last = b;
	q_push(&c->kbd.q, b);
}

static void kbd_defaults(struct ps2_kbd *k)
{
	k->set = 2;
	k->typematic = 0x2b; /* 10.9 characters/s after 500 ms */
	k->arg_cmd = 0;
}

static void kbd_write(struct i8042 *c, uint8_t b)
{
	struct ps2_kbd *k = &c->kbd;
	if (k->arg_cmd) {
		uint8_t cmd = k->arg_cmd;
		k->arg_cmd = 0;
		switch (cmd) {
		case 0xed: k->leds = b & 7; kbd_send(c, PS2_ACK); break;
		case 0xf3: k->typematic = b & 0x7f; kbd_send(c, PS2_ACK); break;
		case 0xf0:
			if (b > 3) {
				kbd_send(c, PS2_RESEND);
				break;
			}
			kbd_send(c, PS2_ACK);
			if (b == 0)
				kbd_send(c, k->set);
			else
				k->set = b;
			break;
		}
		refill(c);
		return;
	}
	q_clear(&k->q); /* a command discards what the keyboard had not sent yet */
	switch (b) {
	case 0xed: /* set LEDs */
	case 0xf3: /* typematic rate */
	case 0xf0: /* scan code set */
		k->arg_cmd = b;
		kbd_send(c, PS2_ACK);
		break;
	case 0xee: kbd_send(c, 0xee); break; /* echo */
	case 0xf2: /* identify: MF2 keyboard */
		kbd_send(c, PS2_ACK);
		kbd_send(c, 0xab);
		kbd_send(c, 0x83);
		break;
	case 0xf4: k->scanning = true; kbd_send(c, PS2_ACK); break;
	case 0xf5: kbd_defaults(k); k->scanning = false; kbd_send(c, PS2_ACK); break;
	case 0xf6: kbd_defaults(k); k->scanning = true; kbd_send(c, PS2_ACK); break;
	case 0xf7: case 0xf8: case 0xf9: case 0xfa: case 0xfb: case 0xfc: case 0xfd:
		kbd_send(c, PS2_ACK); /* set-3 key types: accepted */
		break;
	case 0xfe: q_push(&k->q, k->last); break; /* resend */
	case 0xff: /* reset and self-test (BAT) */
		kbd_defaults(k);
		k->leds = 0;
		k->scanning = true;
		kbd_send(c, PS2_ACK);
		kbd_send(c, PS2_BAT_OK);
		break;
	default: kbd_send(c, PS2_RESEND); break;
	}
	refill(c);
}

size_t i8042_kbd_inject(struct i8042 *c, const uint8_t *codes, size_t n)
{
	if (!c->kbd.scanning)
		return 0;
	size_t k = 0;
	while (k < n && q_push(&c->kbd.q, codes[k]))
		k++;
	refill(c);
	return k;
}

/* ---- mouse ---- */

static void aux_send(struct i8042 *c, uint8_t b)
{
	c->aux.last = b;
	q_push(&c->aux.q, b);
}

static void aux_defaults(struct ps2_mouse *m)
{
	m->rate = 100;
	m->resolution = 2; /* 4 counts/mm */
	m->scale21 = false;
	m->enabled = false;
	m->remote = false;
	m->arg_cmd = 0;
}

static void aux_packet(struct i8042 *c, int dx, int dy, int dz)
{
	struct ps2_mouse *m = &c->aux;
	dx = dx < -256 ? -256 : dx > 255 ? 255 : dx;
	dy = dy < -256 ? -256 : dy > 255 ? 255 : dy;
	dz = dz < -8 ? -8 : dz > 7 ? 7 : dz;
	uint8_t b0 = 0x08 | (m->buttons & 7) | (dx < 0 ? 0x10 : 0) | (dy < 0 ? 0x20 : 0);
	aux_send(c, b0);
	aux_send(c, (uint8_t)dx);
	aux_send(c, (uint8_t)dy);
	if (m->id == 3)
		aux_send(c, (uint8_t)dz);
}

static void aux_write(struct i8042 *c, uint8_t b)
{
	struct ps2_mouse *m = &c->aux;
	if (m->arg_cmd) {
		uint8_t cmd = m->arg_cmd;
		m->arg_cmd = 0;
		if (cmd == 0xe8) {
			m->resolution = b & 3;
		} else { /* 0xf3 */
			m->rate = b;
			m->rates[0] = m->rates[1];
			m->rates[1] = m->rates[2];
			m->rates[2] = b;
			if (m->rates[0] == 200 && m->rates[1] == 100 && m->rates[2] == 80)
				m->id = 3;
		}
		aux_send(c, PS2_ACK);
		refill(c);
		return;
	}
	if (m->wrap && b != 0xec && b != 0xff) {
		aux_send(c, b); /* wrap mode echoes */
		refill(c);
		return;
	}
	q_clear(&m->q);
	switch (b) {
	case 0xe6: m->scale21 = false; aux_send(c, PS2_ACK); break;
	case 0xe7: m->scale21 = true; aux_send(c, PS2_ACK); break;
	case 0xe8: case 0xf3: m->arg_cmd = b; aux_send(c, PS2_ACK); break;
	case 0xe9: /* status request */
		aux_send(c, PS2_ACK);
		aux_send(c, (uint8_t)((m->remote ? 0x40 : 0) | (m->enabled ? 0x20 : 0) | (m->scale21 ? 0x10 : 0) |
				      (m->buttons & 1 ? 0x04 : 0) | (m->buttons & 4 ? 0x02 : 0) | (m->buttons & 2 ? 0x01 : 0)));
		aux_send(c, m->resolution);
		aux_send(c, m->rate);
		break;
	case 0xea: m->remote = false; aux_send(c, PS2_ACK); break;
	case 0xeb: aux_send(c, PS2_ACK); aux_packet(c, 0, 0, 0); break; /* read data */
	case 0xec: m->wrap = false; aux_send(c, PS2_ACK); break;
	case 0xee: m->wrap = true; aux_send(c, PS2_ACK); break;
	case 0xf0: m->remote = true; aux_send(c, PS2_ACK); break;
	case 0xf2: aux_send(c, PS2_ACK); aux_send(c, m->id); break;
	case 0xf4: m->enabled = true; aux_send(c, PS2_ACK); break;
	case 0xf5: m->enabled = false; aux_send(c, PS2_ACK); break;
	case 0xf6: aux_defaults(m); aux_send(c, PS2_ACK); break;
	case 0xfe: q_push(&m->q, m->last); break;
	case 0xff:
		aux_defaults(m);
		m->wrap = false;
		m->id = 0;
		memset(m->rates, 0, sizeof(m->rates));
		aux_send(c, PS2_ACK);
		aux_send(c, PS2_BAT_OK);
		aux_send(c, 0x00); /* device ID */
		break;
	default: aux_send(c, PS2_RESEND); break;
	}
	refill(c);
}

bool i8042_mouse_event(struct i8042 *c, int dx, int dy, int dz, unsigned buttons)
{
	struct ps2_mouse *m = &c->aux;
	m->buttons = buttons & 7;
	if (!m->enabled || m->remote || m->wrap || q_room(&m->q) < 4)
		return false;
	aux_packet(c, dx, dy, dz);
	refill(c);
	return true;
}

/* ---- controller ---- */

static void write_outport(struct i8042 *c, uint8_t v)
{
	c->outport = v;
	if (!(v & OUT_RESET) && c->reset)
		c->reset(c->reset_opaque);
}

static void write_ctr(struct i8042 *c, uint8_t v)
{
	c->ram[0] = v;
	if (v & CTR_SYS)
		c->status |= STS_SYS;
	else
		c->status &= ~STS_SYS;
	refill(c); /* an interface enabled again may have data waiting */
	update_irq(c);
}

static void controller_command(struct i8042 *c, uint8_t cmd)
{
	if (cmd >= 0x20 && cmd < 0x40) { /* read internal RAM; 0x20 is the command byte */
		ctl_reply(c, c->ram[cmd & 0x1f], SRC_KBD);
		return;
	}
	if (cmd >= 0x60 && cmd < 0x80) {
		c->pending = cmd;
		return;
	}
	if (cmd >= 0xf0) { /* pulse output lines low for 6 us: bit 0 is the CPU reset */
		if (!(cmd & 1) && c->reset)
			c->reset(c->reset_opaque);
		return;
	}
	switch (cmd) {
	case 0xa4: ctl_reply(c, 0xf1, SRC_KBD); break; /* no password installed */
	case 0xa7: write_ctr(c, ctr(c) | CTR_AUXDIS); break;
	case 0xa8: write_ctr(c, ctr(c) & ~CTR_AUXDIS); break;
	case 0xa9: ctl_reply(c, 0x00, SRC_KBD); break; /* aux interface test: no error */
	case 0xaa: /* controller self-test */
		c->status |= STS_SYS;
		ctl_reply(c, 0x55, SRC_KBD);
		break;
	case 0xab: ctl_reply(c, 0x00, SRC_KBD); break; /* keyboard interface test: no error */
	case 0xad: write_ctr(c, ctr(c) | CTR_KBDDIS); break;
	case 0xae: write_ctr(c, ctr(c) & ~CTR_KBDDIS); break;
	case 0xc0: ctl_reply(c, 0x80, SRC_KBD); break; /* input port: keyboard not inhibited */
	case 0xd0: {
		uint8_t v = c->outport & ~(OUT_KBD_OBF | OUT_AUX_OBF);
		if (c->status & STS_OBF)
			v |= c->status & STS_AUXB ? OUT_AUX_OBF : OUT_KBD_OBF;
		ctl_reply(c, v, SRC_KBD);
		break;
	}
	case 0xd1: /* write output port */
	case 0xd2: /* write keyboard output buffer */
	case 0xd3: /* write aux output buffer */
	case 0xd4: /* write to the aux device */
		c->pending = cmd;
		break;
	case 0xdd: c->outport &= ~OUT_A20; break;
	case 0xdf: c->outport |= OUT_A20; break;
	case 0xe0: ctl_reply(c, 0x00, SRC_KBD); break; /* test inputs */
	default: break; /* unknown commands are ignored */
	}
}

static void data_write(struct i8042 *c, uint8_t v)
{
	uint8_t cmd = c->pending;
	c->pending = 0;
	if (cmd >= 0x60 && cmd < 0x80) {
		if (cmd == 0x60)
			write_ctr(c, v);
		else
			c->ram[cmd & 0x1f] = v;
		return;
	}
	switch (cmd) {
	case 0xd1: write_outport(c, v); break;
	case 0xd2: ctl_reply(c, v, SRC_KBD); break;
	case 0xd3: ctl_reply(c, v, SRC_AUX); break;
	case 0xd4: aux_write(c, v); break;
	default:
		/* Data for the keyboard; sending enables the keyboard interface, as on the 8042. */
		if (ctr(c) & CTR_KBDDIS)
			c->ram[0] &= ~CTR_KBDDIS;
		kbd_write(c, v);
		break;
	}
}

static uint64_t data_read(void *dev, uint64_t off, unsigned size)
{
	struct i8042 *c = dev;
	uint8_t v = c->out;
	c->status &= ~(STS_OBF | STS_AUXB);
	update_irq(c);
	refill(c);
	return v;
}

static void data_port_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct i8042 *c = dev;
	c->status &= ~STS_CMD;
	data_write(c, (uint8_t)val);
}

static uint64_t status_read(void *dev, uint64_t off, unsigned size)
{
	struct i8042 *c = dev;
	return c->status;
}

static void command_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct i8042 *c = dev;
	c->status |= STS_CMD;
	c->pending = 0;
	controller_command(c, (uint8_t)val);
}

static const struct io_ops data_ops = { data_read, data_port_write };
static const struct io_ops command_ops = { status_read, command_write };

bool i8042_a20(const struct i8042 *c)
{
	return c->outport & OUT_A20;
}

void i8042_reset(struct i8042 *c)
{
	if (c->irq1_level)
		irq_set(&c->irq1, 0);
	if (c->irq12_level)
		irq_set(&c->irq12, 0);
	c->irq1_level = c->irq12_level = false;
	memset(c->ram, 0, sizeof(c->ram));
	/* What a BIOS leaves: translation on, keyboard interrupt on, aux port disabled. */
	c->ram[0] = CTR_XLATE | CTR_SYS | CTR_KBDINT | CTR_AUXDIS;
	c->status = STS_UNLOCKED | STS_SYS;
	c->outport = OUT_RESET | OUT_A20;
	c->out = 0;
	c->pending = 0;
	c->xlate_break = false;
	q_clear(&c->ctl_q);
	memset(&c->kbd, 0, sizeof(c->kbd));
	kbd_defaults(&c->kbd);
	c->kbd.scanning = true;
	memset(&c->aux, 0, sizeof(c->aux));
	aux_defaults(&c->aux);
}

int i8042_init(struct i8042 *c, struct iobus *pio, struct irq irq1, struct irq irq12, void (*reset)(void *opaque),
	       void *reset_opaque)
{
	memset(c, 0, sizeof(*c));
	c->irq1 = irq1;
	c->irq12 = irq12;
	c->reset = reset;
	c->reset_opaque = reset_opaque;
	i8042_reset(c);
	if (!pio)
		return 0;
	int r = iobus_register(pio, 0x60, 1, &data_ops, c, "i8042-data");
	if (!r)
		r = iobus_register(pio, 0x64, 1, &command_ops, c, "i8042-cmd");
	return r;
}
