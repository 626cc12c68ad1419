/* IOAPIC: ID/version/arbitration registers, the redirection table's writable and read-only bits,
 * edge and level pins, masking, remote IRR and EOI (broadcast and EOI register), and the route
 * through a real local APIC with the machine's EOI broadcast. */
#include <string.h>

#include "dev/ioapic.h"
#include "tests/test.h"

static struct ioapic io;
static struct apic_msg msgs[64];
static int nmsg;

static void collect(void *o, const struct apic_msg *m)
{
	if (nmsg < 64)
		msgs[nmsg] = *m;
	nmsg++;
}

static uint32_t rd(unsigned reg)
{
	ioapic_mmio_ops.write(&io, 0x00, 4, reg);
	return (uint32_t)ioapic_mmio_ops.read(&io, 0x10, 4);
}

static void wr(unsigned reg, uint32_t v)
{
	ioapic_mmio_ops.write(&io, 0x00, 4, reg);
	ioapic_mmio_ops.write(&io, 0x10, 4, v);
}

static void set_rte(unsigned pin, uint64_t e)
{
	wr(0x11 + 2 * pin, (uint32_t)(e >> 32));
	wr(0x10 + 2 * pin, (uint32_t)e);
}

static uint64_t get_rte(unsigned pin)
{
	return (uint64_t)rd(0x11 + 2 * pin) << 32 | rd(0x10 + 2 * pin);
}

static void setup(void)
{
	ioapic_init(&io, NULL, IOAPIC_DEFAULT_BASE, collect, NULL);
	nmsg = 0;
}

static void test_registers(void)
{
	setup();
	CHECK(rd(0x01) == 0x00170020, "version 0x20, 24 entries");
	CHECK(rd(0x00) == 0, "ID resets to 0");
	wr(0x00, 0xffffffff);
	CHECK(rd(0x00) == 0x0f000000, "ID: bits 27:24");
	CHECK(rd(0x02) == 0x0f000000, "arbitration ID follows the ID");
	wr(0x01, 0);
	CHECK(rd(0x01) == 0x00170020, "version is read-only");
	bool masked = true;
	for (unsigned p = 0; p < IOAPIC_PINS; p++)
		masked &= get_rte(p) == 0x10000;
	CHECK(masked, "every entry resets to masked");
	set_rte(5, 0xffffffffffffffffull);
	CHECK(get_rte(5) == 0xff0000000001afffull, "writable bits; delivery status and remote IRR read-only");
	ioapic_mmio_ops.write(&io, 0x00, 4, 0x14);
	CHECK(ioapic_mmio_ops.read(&io, 0x00, 4) == 0x14, "IOREGSEL reads back");
	CHECK(rd(0x40) == 0 && rd(0xff) == 0, "registers past the table read 0");
	wr(0x40, 0x1234);
	CHECK(nmsg == 0, "writes past the table ignored");
	ioapic_set_irq(&io, 24, 1);
	ioapic_set_irq(&io, 1000, 1);
	CHECK(nmsg == 0, "out-of-range pins ignored");
}

static void test_edge(void)
{
	setup();
	ioapic_set_irq(&io, 4, 1);
	ioapic_set_irq(&io, 4, 0);
	CHECK(nmsg == 0, "masked pin sends nothing");
	set_rte(4, 0x0300000000000834ull); /* logical dest 3, vector 0x34, lowest priority off, logical */
	CHECK(nmsg == 0, "unmasking an edge pin sends nothing");
	ioapic_set_irq(&io, 4, 1);
	CHECK(nmsg == 1 && msgs[0].vector == 0x34 && msgs[0].dest == 3 && msgs[0].dest_logical &&
		      msgs[0].delivery_mode == APIC_DM_FIXED && !msgs[0].level,
	      "rising edge sends the entry's message");
	ioapic_set_irq(&io, 4, 1);
	CHECK(nmsg == 1, "held high: one message");
	ioapic_set_irq(&io, 4, 0);
	ioapic_set_irq(&io, 4, 1);
	CHECK(nmsg == 2, "next edge, next message");
	CHECK(!(get_rte(4) & 0x4000), "edge pins never set remote IRR");
	ioapic_set_irq(&io, 4, 0);
	set_rte(4, 0x0300000000010834ull);
	ioapic_set_irq(&io, 4, 1);
	set_rte(4, 0x0300000000000834ull);
	CHECK(nmsg == 2, "an edge on a masked pin is lost");
	set_rte(6, 0x0000000000000100ull | 0x41); /* lowest priority */
	ioapic_set_irq(&io, 6, 1);
	CHECK(nmsg == 3 && msgs[2].delivery_mode == APIC_DM_LOWEST && !msgs[2].dest_logical, "lowest priority, physical");
}

static void test_level(void)
{
	setup();
	set_rte(9, 0x000000000000a000ull | 0x49); /* level, active low (stored), vector 0x49 */
	ioapic_set_irq(&io, 9, 1);
	CHECK(nmsg == 1 && msgs[0].level && msgs[0].vector == 0x49, "level pin sends a level message");
	CHECK(get_rte(9) & 0x4000, "remote IRR set");
	ioapic_set_irq(&io, 9, 0);
	ioapic_set_irq(&io, 9, 1);
	CHECK(nmsg == 1, "remote IRR holds the pin until EOI");
	ioapic_eoi(&io, 0x48);
	CHECK(nmsg == 1 && (get_rte(9) & 0x4000), "EOI for another vector changes nothing");
	ioapic_eoi(&io, 0x49);
	CHECK(nmsg == 2 && (get_rte(9) & 0x4000), "EOI with the pin still asserted: sent again");
	ioapic_set_irq(&io, 9, 0);
	ioapic_eoi(&io, 0x49);
	CHECK(nmsg == 2 && !(get_rte(9) & 0x4000), "EOI with the pin low: remote IRR clears, nothing sent");
	set_rte(9, 0x000000000001a049ull);
	ioapic_set_irq(&io, 9, 1);
	CHECK(nmsg == 2, "masked level pin sends nothing");
	set_rte(9, 0x000000000000a049ull);
	CHECK(nmsg == 3, "unmasking an asserted level pin sends");
	ioapic_mmio_ops.write(&io, 0x40, 4, 0x49);
	CHECK(nmsg == 4, "EOI register (version 0x20) acts like the broadcast");
	set_rte(9, 0x0000000000002049ull);
	CHECK(!(get_rte(9) & 0x4000), "switching to edge clears remote IRR");
	set_rte(10, 0x000000000000c400ull); /* NMI, level requested */
	ioapic_set_irq(&io, 10, 1);
	CHECK(nmsg == 5 && msgs[4].delivery_mode == APIC_DM_NMI && !msgs[4].level && !(get_rte(10) & 0x4000),
	      "NMI is always edge");
	ioapic_set_irq(&io, 10, 1);
	CHECK(nmsg == 5, "NMI: no repeat while held");
	set_rte(0, 0x0000000000000700ull);
	ioapic_set_irq(&io, 0, 1);
	CHECK(nmsg == 6 && msgs[5].delivery_mode == APIC_DM_EXTINT, "ExtINT message");
	ioapic_reset(&io);
	CHECK(get_rte(9) == 0x10000, "reset masks every entry");
}

/* ---- through a local APIC ---- */

static struct lapic lapic;
static struct timer_list timers;
static uint64_t now_fn(void) { return 1000000000ull; }
static void route(void *o, const struct apic_msg *m) { lapic_deliver(&lapic, m); }
static void broadcast(void *o, uint8_t v) { ioapic_eoi(&io, v); }
static int pic_ack(void *o) { return 0x38; }

static void test_to_lapic(void)
{
	struct lapic_callbacks cb = { .extint_ack = pic_ack, .eoi_broadcast = broadcast };
	lapic_init(&lapic, NULL, &timers, &cb, now_fn, LAPIC_DEFAULT_BASE | APIC_BASE_ENABLE);
	lapic_bios_init(&lapic);
	ioapic_init(&io, NULL, IOAPIC_DEFAULT_BASE, route, NULL);

	set_rte(2, 0x0000000000000030ull);  /* ISA IRQ 0 (timer) on pin 2, edge, to APIC 0 */
	set_rte(11, 0x000000000000a061ull); /* a PCI-style level pin */
	ioapic_set_irq(&io, 2, 1);
	ioapic_set_irq(&io, 2, 0);
	CHECK(lapic_has_intr(&lapic) && lapic_intr_ack(&lapic) == 0x30, "edge pin reaches the APIC");
	lapic_mmio_ops.write(&lapic, 0xb0, 4, 0);
	ioapic_set_irq(&io, 11, 1);
	CHECK(lapic_intr_ack(&lapic) == 0x61, "level pin reaches the APIC");
	lapic_mmio_ops.write(&lapic, 0xb0, 4, 0);
	CHECK(lapic_intr_ack(&lapic) == 0x61, "EOI broadcast with the pin still asserted: delivered again");
	ioapic_set_irq(&io, 11, 0);
	lapic_mmio_ops.write(&lapic, 0xb0, 4, 0);
	CHECK(!lapic_has_intr(&lapic) && !(get_rte(11) & 0x4000), "pin released: EOI clears remote IRR");
	set_rte(12, 0x0500000000000062ull); /* physical dest 5: not this APIC */
	ioapic_set_irq(&io, 12, 1);
	CHECK(!lapic_has_intr(&lapic), "other destination: not accepted");
	set_rte(0, 0x0000000000000700ull); /* ExtINT from the 8259 */
	lapic_mmio_ops.write(&lapic, 0x350, 4, 0x10700); /* LINT0 masked */
	ioapic_set_irq(&io, 0, 1);
	CHECK(lapic_has_intr(&lapic) && lapic_intr_ack(&lapic) == 0x38, "ExtINT through the IOAPIC: the 8259's vector");
	CHECK(!lapic_has_intr(&lapic), "ExtINT consumed by the acknowledge");
}

int main(void)
{
	test_registers();
	test_edge();
	test_level();
	test_to_lapic();
	TEST_EXIT();
}
