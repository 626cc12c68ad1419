/*
 * Intel 8259A PIC pair (8259A datasheet; ELCR from the PIIX3 datasheet §4.1.10). Models ICW1-4
 * initialization, IMR, EOI/specific EOI and priority rotation, special mask mode, poll mode,
 * reading IRR/ISR, auto-EOI, edge and level triggering and the master/slave cascade on IRQ 2.
 * Not modelled: special fully nested mode, buffered mode (they change nothing on a PC).
 */
#include <string.h>

#include "pic.h"

/* Highest-priority set bit in mask with the chip's rotation; 8 if none. */
static int get_priority(const struct pic_chip *s, uint8_t mask)
{
	if (!mask)
		return 8;
	int pr = 0;
	while (!(mask & (1 << ((pr + s->priority_add) & 7))))
		pr++;
	return pr;
}

/* The IRQ (0..7) the chip would present, or -1. */
static int chip_pending(const struct pic_chip *s)
{
	uint8_t mask = s->irr & ~s->imr;
	int pr = get_priority(s, mask);
	if (pr == 8)
		return -1;
	/* In-service interrupts of higher priority block it, except in special mask mode. */
	uint8_t isr = s->isr;
	if (s->special_mask)
		isr &= ~s->imr;
	int cur = get_priority(s, isr);
	if (pr < cur)
		return (pr + s->priority_add) & 7;
	return -1;
}

static void update(struct pic *p)
{
	/* Slave output drives master input 2. */
	int slave = chip_pending(&p->chip[1]);
	if (slave >= 0)
		p->chip[0].irr |= 1 << 2;
	else if (!(p->chip[0].elcr & 4))
		p->chip[0].irr &= ~(1 << 2);
	bool out = chip_pending(&p->chip[0]) >= 0;
	if (out != p->output) {
		p->output = out;
		if (p->intr_changed)
			p->intr_changed(p->opaque, out);
	}
}

static void chip_set_irq(struct pic_chip *s, unsigned irq, int level)
{
	uint8_t bit = 1 << irq;
	if (s->elcr & bit) {
		/* level-triggered: IRR follows the line */
		if (level)
			s->irr |= bit;
		else
			s->irr &= ~bit;
	} else if (level && !(s->last_level & bit)) {
		s->irr |= bit; /* rising edge */
	}
	if (level)
		s->last_level |= bit;
	else
		s->last_level &= ~bit;
}

void pic_set_irq(struct pic *p, unsigned irq, int level)
{
	if (irq >= 16)
		return;
	chip_set_irq(&p->chip[irq >> 3], irq & 7, level);
	update(p);
}

bool pic_has_intr(const struct pic *p)
{
	return p->output;
}

/* Acknowledge irq on chip s: move it from IRR to ISR (or EOI at once in auto-EOI mode). */
static void chip_ack(struct pic_chip *s, int irq)
{
	uint8_t bit = 1 << irq;
	if (s->auto_eoi) {
		if (s->rotate_on_aeoi)
			s->priority_add = (irq + 1) & 7;
	} else {
		s->isr |= bit;
	}
	/* Edge-triggered requests are consumed; level ones stay while the line is high. */
	if (!(s->elcr & bit))
		s->irr &= ~bit;
}

int pic_ack(struct pic *p)
{
	int vec;
	int irq = chip_pending(&p->chip[0]);
	if (irq < 0) {
		vec = p->chip[0].vector_base + 7; /* spurious IRQ 7 */
	} else if (irq == 2) {
		int sirq = chip_pending(&p->chip[1]);
		chip_ack(&p->chip[0], 2);
		if (sirq < 0) {
			vec = p->chip[1].vector_base + 7; /* spurious IRQ 15 */
		} else {
			chip_ack(&p->chip[1], sirq);
			vec = p->chip[1].vector_base + sirq;
		}
	} else {
		chip_ack(&p->chip[0], irq);
		vec = p->chip[0].vector_base + irq;
	}
	update(p);
	return vec;
}

static void chip_reset(struct pic_chip *s)
{
	uint8_t elcr = s->elcr, mask = s->elcr_mask;
	memset(s, 0, sizeof(*s));
	s->elcr = elcr;
	s->elcr_mask = mask;
}

void pic_reset(struct pic *p)
{
	for (int k = 0; k < 2; k++) {
		chip_reset(&p->chip[k]);
		p->chip[k].elcr = 0;
	}
	update(p);
}

static uint8_t chip_poll(struct pic *p, int k)
{
	struct pic_chip *s = &p->chip[k];
	int irq = chip_pending(s);
	if (irq < 0)
		return 0;
	/* Poll mode: acts as an acknowledge (datasheet "poll command"). */
	s->isr |= 1 << irq;
	if (!(s->elcr & (1 << irq)))
		s->irr &= ~(1 << irq);
	update(p);
	return 0x80 | irq;
}

static uint64_t pic_read(struct pic *p, int k, uint64_t off)
{
	struct pic_chip *s = &p->chip[k];
	if (s->poll) {
		s->poll = 0;
		return chip_poll(p, k);
	}
	if ((off & 1) == 0)
		return s->read_isr ? s->isr : s->irr;
	return s->imr;
}

static void pic_write(struct pic *p, int k, uint64_t off, uint64_t val)
{
	struct pic_chip *s = &p->chip[k];
	uint8_t v = (uint8_t)val;

	if ((off & 1) == 0) {
		if (v & 0x10) { /* ICW1 */
			chip_reset(s);
			s->icw_step = 2;
			s->icw4_needed = v & 1;
			s->single = !!(v & 2);
		} else if (v & 0x08) { /* OCW3 */
			if (v & 0x04)
				s->poll = 1;
			if (v & 0x02)
				s->read_isr = v & 1;
			if (v & 0x40)
				s->special_mask = (v >> 5) & 1;
		} else { /* OCW2 */
			unsigned cmd = v >> 5;
			int irq;
			switch (cmd) {
			case 0: /* rotate in auto-EOI clear */
			case 4: /* rotate in auto-EOI set */
				s->rotate_on_aeoi = cmd >> 2;
				break;
			case 1: /* non-specific EOI */
			case 5: /* rotate on non-specific EOI */
				irq = get_priority(s, s->isr);
				if (irq != 8) {
					irq = (irq + s->priority_add) & 7;
					s->isr &= ~(1 << irq);
					if (cmd == 5)
						s->priority_add = (irq + 1) & 7;
				}
				break;
			case 3: /* specific EOI */
				s->isr &= ~(1 << (v & 7));
				break;
			case 6: /* set priority */
				s->priority_add = (v + 1) & 7;
				break;
			case 7: /* rotate on specific EOI */
				s->isr &= ~(1 << (v & 7));
				s->priority_add = (v + 1) & 7;
				break;
			default: break;
			}
		}
	} else {
		switch (s->icw_step) {
		case 2:
			s->vector_base = v & 0xf8;
			s->icw_step = s->single ? (s->icw4_needed ? 4 : 0) : 3;
			break;
		case 3:
			s->icw_step = s->icw4_needed ? 4 : 0;
			break;
		case 4:
			s->auto_eoi = (v >> 1) & 1;
			s->icw_step = 0;
			break;
		default:
			s->imr = v; /* OCW1 */
			break;
		}
	}
	update(p);
}

static uint64_t elcr_read(void *dev, uint64_t off, unsigned size)
{
	struct pic *p = dev;
	return p->chip[off & 1].elcr;
}

static void elcr_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct pic *p = dev;
	struct pic_chip *s = &p->chip[off & 1];
	s->elcr = (uint8_t)val & s->elcr_mask;
	update(p);
}

static uint64_t master_read(void *dev, uint64_t off, unsigned size)
{
	return pic_read(dev, 0, off);
}

static void master_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	pic_write(dev, 0, off, val);
}

static uint64_t slave_read(void *dev, uint64_t off, unsigned size)
{
	return pic_read(dev, 1, off);
}

static void slave_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	pic_write(dev, 1, off, val);
}

static const struct io_ops master_ops = { master_read, master_write };
static const struct io_ops slave_ops = { slave_read, slave_write };
static const struct io_ops elcr_ops = { elcr_read, elcr_write };

int pic_init(struct pic *p, struct iobus *pio, void (*intr_changed)(void *, bool), void *opaque)
{
	memset(p, 0, sizeof(*p));
	p->intr_changed = intr_changed;
	p->opaque = opaque;
	/* IRQ 0, 1, 2 (master) and 8, 13 (slave) are always edge-triggered (PIIX3). */
	p->chip[0].elcr_mask = 0xf8;
	p->chip[1].elcr_mask = 0xde;
	pic_reset(p);
	if (!pio)
		return 0;
	int r = iobus_register(pio, 0x20, 2, &master_ops, p, "pic-master");
	if (!r)
		r = iobus_register(pio, 0xa0, 2, &slave_ops, p, "pic-slave");
	if (!r)
		r = iobus_register(pio, 0x4d0, 2, &elcr_ops, p, "elcr");
	return r;
}
