/*
 * Intel 8254 PIT (8254 datasheet: modes 0-5, latch and read-back commands, lo/hi access) and the
 * AT port 0x61. Counters are derived from the host clock: value = f(now - load time). Channel 0
 * arms a host timer for its next interrupt (edge on IRQ 0) in modes 0, 2 and 3; channel 2's gate
 * is bit 0 of port 0x61 and its output is bit 5, which Linux polls to calibrate the TSC.
 * Not modelled: BCD counting (accepted, counted in binary), the speaker.
 */
#include <string.h>

#include "pit.h"

static uint64_t ticks_since(const struct pit *p, const struct pit_channel *c, uint64_t now)
{
	if (now <= c->load_ns)
		return 0;
	return (uint64_t)(((unsigned __int128)(now - c->load_ns) * PIT_FREQ) / 1000000000u);
}

static uint64_t ticks_to_ns(uint64_t ticks)
{
	return (uint64_t)(((unsigned __int128)ticks * 1000000000u + PIT_FREQ - 1) / PIT_FREQ);
}

static uint16_t counter_at(const struct pit *p, const struct pit_channel *c, uint64_t now)
{
	if (!c->counting)
		return 0;
	uint64_t d = ticks_since(p, c, now);
	uint32_t n = c->count;
	switch (c->mode) {
	case 0:
	case 1:
	case 4:
	case 5:
		return (uint16_t)(n - d); /* counts down through 0 and wraps */
	case 3:
		/* decrements by two, reloading each half period */
		return (uint16_t)((n - (2 * d) % n) & 0xfffe);
	default: /* mode 2 */
		return (uint16_t)(n - d % n);
	}
}

static bool out_at(const struct pit *p, const struct pit_channel *c, uint64_t now)
{
	if (!c->counting)
		return c->mode != 0;
	uint64_t d = ticks_since(p, c, now);
	uint32_t n = c->count;
	switch (c->mode) {
	case 0: return d >= n;
	case 1: return d >= n;
	case 2: return d % n != n - 1;
	case 3: return d % n < (n + 1) / 2;
	case 4:
	case 5: return d != n;
	default: return true;
	}
}

/* Next time (ns) channel 0's output rises, i.e. its interrupt, or 0 if none. */
static uint64_t next_irq(const struct pit *p, uint64_t now)
{
	const struct pit_channel *c = &p->ch[0];
	if (!c->counting || !c->gate)
		return 0;
	uint64_t d = ticks_since(p, c, now), n = c->count, t;
	switch (c->mode) {
	case 0:
		if (d >= n)
			return 0;
		t = n;
		break;
	case 2: t = (d / n + 1) * n; break;           /* OUT rises at the end of each period */
	case 3: t = (d / n + 1) * n; break;           /* rising edge at each period start */
	default: return 0;
	}
	return c->load_ns + ticks_to_ns(t);
}

static void arm(struct pit *p, uint64_t now)
{
	uint64_t t = next_irq(p, now);
	if (!p->timers)
		return;
	if (t) {
		p->next_irq_ns = t;
		timer_mod(p->timers, &p->timer, t);
	} else {
		timer_del(p->timers, &p->timer);
	}
}

static void pit_timer_cb(void *opaque)
{
	struct pit *p = opaque;
	irq_pulse(&p->irq0);
	/* Arm from the deadline just served (not from "now") so that late timers still produce
	 * one interrupt per period, up to a bound, instead of drifting. */
	uint64_t now = p->now();
	uint64_t from = p->next_irq_ns;
	if (now > from + 100000000u)
		from = now; /* more than 100 ms late: the guest was stopped; don't replay the backlog */
	arm(p, from);
}

uint16_t pit_read_counter(struct pit *p, int ch)
{
	return counter_at(p, &p->ch[ch], p->now());
}

bool pit_out(struct pit *p, int ch)
{
	return out_at(p, &p->ch[ch], p->now());
}

static void load_count(struct pit *p, int k, uint32_t v)
{
	struct pit_channel *c = &p->ch[k];
	c->count = v ? v : 0x10000;
	if (c->mode == 2 || c->mode == 3)
		if (c->count == 1)
			c->count = 2; /* 1 is illegal in these modes */
	c->load_ns = p->now();
	c->counting = true;
	c->null_count = false;
	if (k == 0)
		arm(p, c->load_ns);
}

static uint64_t pit_io_read(void *dev, uint64_t off, unsigned size)
{
	struct pit *p = dev;
	if (off == 3)
		return 0xff; /* control word register is write-only */
	struct pit_channel *c = &p->ch[off];
	if (c->status_latched) {
		c->status_latched = 0;
		return c->status;
	}
	uint16_t v;
	if (c->latched) {
		v = c->latch;
		if (c->rw_mode == 3 && !c->latch_hi_next) {
			c->latch_hi_next = 1;
			return v & 0xff;
		}
		c->latched = 0;
		c->latch_hi_next = 0;
		return c->rw_mode == 2 || (c->rw_mode == 3) ? v >> 8 : v & 0xff;
	}
	v = counter_at(p, c, p->now());
	switch (c->rw_mode) {
	case 1: return v & 0xff;
	case 2: return v >> 8;
	default:
		c->read_hi_next ^= 1;
		return c->read_hi_next ? (v & 0xff) : (v >> 8);
	}
}

static void latch(struct pit *p, struct pit_channel *c)
{
	if (c->latched)
		return;
	c->latch = counter_at(p, c, p->now());
	c->latched = 1;
	c->latch_hi_next = 0;
	if (c->rw_mode != 3)
		c->latch_hi_next = 1;
}

static void pit_io_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct pit *p = dev;
	uint8_t v = (uint8_t)val;
	if (off == 3) {
		unsigned sc = v >> 6;
		if (sc == 3) { /* read-back command */
			for (int k = 0; k < 3; k++) {
				if (!(v & (2 << k)))
					continue;
				struct pit_channel *c = &p->ch[k];
				if (!(v & 0x20))
					latch(p, c);
				if (!(v & 0x10) && !c->status_latched) {
					c->status = (out_at(p, c, p->now()) ? 0x80 : 0) | (c->null_count ? 0x40 : 0) |
						    c->rw_mode << 4 | c->mode << 1 | c->bcd;
					c->status_latched = 1;
				}
			}
			return;
		}
		struct pit_channel *c = &p->ch[sc];
		unsigned rw = (v >> 4) & 3;
		if (rw == 0) { /* counter latch command */
			latch(p, c);
			return;
		}
		c->rw_mode = rw;
		c->mode = (v >> 1) & 7;
		if (c->mode > 5)
			c->mode -= 4; /* 6 and 7 alias 2 and 3 */
		c->bcd = v & 1;
		c->write_hi_next = 0;
		c->read_hi_next = 0;
		c->latched = 0;
		c->counting = false; /* writing the control word stops the count until a new one */
		c->null_count = true;
		if (sc == 0)
			arm(p, p->now());
		return;
	}
	struct pit_channel *c = &p->ch[off];
	switch (c->rw_mode) {
	case 1: load_count(p, off, v); break;
	case 2: load_count(p, off, (uint32_t)v << 8); break;
	default:
		if (!c->write_hi_next) {
			c->write_lo = v;
			c->write_hi_next = 1;
		} else {
			c->write_hi_next = 0;
			load_count(p, off, c->write_lo | (uint32_t)v << 8);
		}
		break;
	}
}

static uint64_t port61_read(void *dev, uint64_t off, unsigned size)
{
	struct pit *p = dev;
	uint64_t now = p->now();
	uint8_t v = p->port61 & 0x0f;
	if (out_at(p, &p->ch[2], now))
		v |= 0x20;
	/* Bit 4 toggles with the DRAM refresh (every 15 us); some delay loops watch it. */
	if ((now / 15085) & 1)
		v |= 0x10;
	return v;
}

static void port61_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct pit *p = dev;
	struct pit_channel *c = &p->ch[2];
	uint8_t gate = val & 1;
	/* A rising gate restarts the count in modes 1, 2, 3 and 5 (and resumes in 0 and 4). */
	if (gate && !c->gate && c->counting && c->mode != 0 && c->mode != 4)
		c->load_ns = p->now();
	c->gate = gate;
	p->port61 = (uint8_t)val & 0x0f;
}

static const struct io_ops pit_ops = { pit_io_read, pit_io_write };
static const struct io_ops port61_ops = { port61_read, port61_write };

void pit_reset(struct pit *p)
{
	for (int k = 0; k < 3; k++) {
		memset(&p->ch[k], 0, sizeof(p->ch[k]));
		p->ch[k].gate = k != 2; /* channels 0 and 1 are always gated on */
		p->ch[k].rw_mode = 3;
	}
	p->port61 = 0;
	if (p->timers)
		timer_del(p->timers, &p->timer);
}

int pit_init(struct pit *p, struct iobus *pio, struct timer_list *timers, struct irq irq0, uint64_t (*now)(void))
{
	memset(p, 0, sizeof(*p));
	p->timers = timers;
	p->irq0 = irq0;
	p->now = now ? now : clock_ns;
	timer_init(&p->timer, pit_timer_cb, p);
	pit_reset(p);
	if (!pio)
		return 0;
	int r = iobus_register(pio, 0x40, 4, &pit_ops, p, "pit");
	if (!r)
		r = iobus_register(pio, 0x61, 1, &port61_ops, p, "port61");
	return r;
}
