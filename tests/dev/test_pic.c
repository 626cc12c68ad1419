/* 8259A PIC pair: initialization words, masking, priorities, EOI forms, cascade, edge/level
 * (ELCR), auto-EOI, poll mode, IRR/ISR reads and spurious interrupts. */
#include <string.h>

#include "dev/pic.h"
#include "tests/test.h"

static int intr;

static void intr_changed(void *opaque, bool level)
{
	intr = level;
}

/* The io_ops registered by pic_init are reached through a private iobus. */
static struct iobus bus;

static uint8_t in(uint16_t port)
{
	return (uint8_t)iobus_read(&bus, port, 1);
}

static void out(uint16_t port, uint8_t v)
{
	iobus_write(&bus, port, 1, v);
}

/* Linux's init sequence: ICW1 edge + ICW4, vectors 0x30/0x38, cascade on IRQ 2, 8086 mode. */
static void init_pair(struct pic *p, int auto_eoi)
{
	memset(&bus, 0, sizeof(bus));
	pic_init(p, &bus, intr_changed, NULL);
	out(0x20, 0x11);
	out(0x21, 0x30);
	out(0x21, 0x04);
	out(0x21, auto_eoi ? 0x03 : 0x01);
	out(0xa0, 0x11);
	out(0xa1, 0x38);
	out(0xa1, 0x02);
	out(0xa1, auto_eoi ? 0x03 : 0x01);
	out(0x21, 0x00);
	out(0xa1, 0x00);
}

int main(void)
{
	struct pic p;
	init_pair(&p, 0);

	CHECK(!intr && in(0x21) == 0 && in(0xa1) == 0, "pic: after init: no INTR, masks clear");
	pic_set_irq(&p, 1, 1);
	CHECK(intr, "pic: IRQ 1 raises INTR");
	int v = pic_ack(&p);
	CHECK(v == 0x31, "pic: acknowledge gives vector base + 1 (%x)", v);
	out(0x20, 0x0b); /* OCW3: read ISR */
	CHECK(in(0x20) == 0x02, "pic: IRQ 1 in service");
	pic_set_irq(&p, 1, 0);
	out(0x20, 0x20); /* non-specific EOI */
	CHECK(in(0x20) == 0x00, "pic: EOI clears ISR");

	/* Priority: IRQ 0 beats IRQ 3; IRQ 3 waits while 0 is in service. */
	pic_set_irq(&p, 3, 1);
	pic_set_irq(&p, 0, 1);
	CHECK(pic_ack(&p) == 0x30, "pic: IRQ 0 has the highest priority");
	CHECK(!intr, "pic: lower-priority IRQ 3 blocked while IRQ 0 is in service");
	out(0x20, 0x60); /* specific EOI for IRQ 0 */
	CHECK(intr && pic_ack(&p) == 0x33, "pic: specific EOI unblocks IRQ 3");
	out(0x20, 0x20);
	pic_set_irq(&p, 0, 0);
	pic_set_irq(&p, 3, 0);

	/* Edge triggering: a held line does not re-trigger after EOI. */
	pic_set_irq(&p, 4, 1);
	pic_ack(&p);
	out(0x20, 0x20);
	CHECK(!intr, "pic: edge-triggered line held high does not fire again");
	pic_set_irq(&p, 4, 0);
	pic_set_irq(&p, 4, 1);
	CHECK(intr, "pic: a new rising edge fires");
	pic_ack(&p);
	out(0x20, 0x20);
	pic_set_irq(&p, 4, 0);

	/* Level triggering through the ELCR: the request stays while the line is high. */
	out(0x4d0, 0x20); /* IRQ 5 level */
	CHECK(in(0x4d0) == 0x20, "pic: ELCR1 readback");
	out(0x4d0, 0x07);
	CHECK(in(0x4d0) == 0x00, "pic: IRQ 0-2 cannot be level-triggered");
	out(0x4d0, 0x20);
	pic_set_irq(&p, 5, 1);
	pic_ack(&p);
	out(0x20, 0x20);
	CHECK(intr, "pic: level-triggered line still high after EOI fires again");
	pic_set_irq(&p, 5, 0);
	CHECK(!intr, "pic: dropping the level line withdraws the request");
	pic_ack(&p); /* whatever is pending: spurious */
	out(0x20, 0x20);

	/* Masking */
	out(0x21, 0x40);
	pic_set_irq(&p, 6, 1);
	CHECK(!intr, "pic: masked IRQ 6 does not raise INTR");
	out(0x20, 0x0a); /* read IRR */
	CHECK(in(0x20) & 0x40, "pic: masked request visible in IRR");
	out(0x21, 0x00);
	CHECK(intr && pic_ack(&p) == 0x36, "pic: unmasking delivers it");
	out(0x20, 0x20);
	pic_set_irq(&p, 6, 0);

	/* Cascade: slave IRQ 10 arrives through master IRQ 2. */
	pic_set_irq(&p, 10, 1);
	CHECK(intr, "pic: slave IRQ raises INTR through the cascade");
	v = pic_ack(&p);
	CHECK(v == 0x3a, "pic: slave vector (%x)", v);
	out(0x20, 0x0b);
	out(0xa0, 0x0b);
	CHECK(in(0x20) == 0x04 && in(0xa0) == 0x04, "pic: IRQ 2 in service on the master, IRQ 2 (10) on the slave");
	out(0xa0, 0x20);
	out(0x20, 0x20);
	pic_set_irq(&p, 10, 0);

	/* Spurious: acknowledge with nothing pending gives IRQ 7. */
	CHECK(pic_ack(&p) == 0x37, "pic: spurious acknowledge returns IRQ 7's vector");

	/* Poll mode (OCW3 bit 2). */
	pic_set_irq(&p, 3, 1);
	out(0x20, 0x0c);
	uint8_t pv = in(0x20);
	CHECK(pv == 0x83, "pic: poll returns 0x80 | IRQ (%02x)", pv);
	out(0x20, 0x20);
	pic_set_irq(&p, 3, 0);

	/* Auto-EOI: nothing stays in service. */
	init_pair(&p, 1);
	pic_set_irq(&p, 1, 1);
	pic_ack(&p);
	out(0x20, 0x0b);
	CHECK(in(0x20) == 0x00, "pic: auto-EOI leaves ISR clear");
	pic_set_irq(&p, 1, 0);

	/* Rotation on non-specific EOI: IRQ 1 becomes lowest priority. */
	init_pair(&p, 0);
	pic_set_irq(&p, 1, 1);
	pic_ack(&p);
	pic_set_irq(&p, 1, 0);
	out(0x20, 0xa0); /* rotate on non-specific EOI */
	pic_set_irq(&p, 1, 1);
	pic_set_irq(&p, 4, 1);
	CHECK(pic_ack(&p) == 0x34, "pic: after rotation IRQ 4 beats IRQ 1");
	TEST_EXIT();
}
