/* Local APIC: every register's reset value and writable bits, acceptance and priority (IRR, ISR,
 * TPR, PPR), EOI and its broadcast for level-triggered vectors, ESR, destinations, IPIs, the LVT
 * with LINT0 in ExtINT mode and LINT1 as NMI, the APIC disabled through IA32_APIC_BASE, and the
 * timer in one-shot, periodic and TSC-deadline modes on a fake clock. */
#include <string.h>

#include "cpu/system.h"
#include "dev/lapic.h"
#include "tests/test.h"

#define US 1000ull

static uint64_t fake_ns = 1000000000ull;
static bool intr;
static int intr_changes, nmis, extint_acks, eois;
static uint8_t last_eoi;
static int pic_vector = 0x30;

static uint64_t now_fn(void) { return fake_ns; }

static void cb_intr(void *o, bool level)
{
	intr = level;
	intr_changes++;
}
static void cb_nmi(void *o) { nmis++; }
static int cb_extint(void *o)
{
	extint_acks++;
	return pic_vector;
}
static void cb_eoi(void *o, uint8_t v)
{
	eois++;
	last_eoi = v;
}
static uint64_t cb_tsc(void *o) { return fake_ns * 2; } /* a 2 GHz TSC */

static struct timer_list timers;
static struct lapic l;

static uint32_t rd(unsigned off) { return (uint32_t)lapic_mmio_ops.read(&l, off, 4); }
static void wr(unsigned off, uint32_t v) { lapic_mmio_ops.write(&l, off, 4, v); }

static void advance(uint64_t ns)
{
	fake_ns += ns;
	timers_run(&timers, fake_ns);
}

static void setup(void)
{
	struct lapic_callbacks cb = { NULL, cb_intr, cb_nmi, cb_extint, cb_eoi, cb_tsc, 2000000000ull };
	memset(&timers, 0, sizeof(timers));
	intr = false;
	intr_changes = nmis = extint_acks = eois = 0;
	lapic_init(&l, NULL, &timers, &cb, now_fn, LAPIC_DEFAULT_BASE | APIC_BASE_ENABLE | APIC_BASE_BSP);
}

static void setup_enabled(void)
{
	setup();
	wr(0xf0, 0x1ff);
}

static bool irr(unsigned v) { return rd(0x200 + (v / 32) * 0x10) >> (v % 32) & 1; }
static bool isr(unsigned v) { return rd(0x100 + (v / 32) * 0x10) >> (v % 32) & 1; }
static bool tmr(unsigned v) { return rd(0x180 + (v / 32) * 0x10) >> (v % 32) & 1; }

static void fixed(unsigned v, bool level)
{
	struct apic_msg m = { .vector = (uint8_t)v, .delivery_mode = APIC_DM_FIXED, .dest = 0, .level = level };
	lapic_deliver(&l, &m);
}

static uint32_t esr(void)
{
	wr(0x280, 0);
	return rd(0x280);
}

static void test_reset_values(void)
{
	setup();
	CHECK(rd(0x20) == 0, "ID resets to 0");
	CHECK(rd(0x30) == 0x00050014, "version 0x14 with 6 LVT entries (max LVT 5)");
	CHECK(rd(0x80) == 0 && rd(0xa0) == 0, "TPR and PPR reset to 0");
	CHECK(rd(0xd0) == 0, "LDR resets to 0");
	CHECK(rd(0xe0) == 0xffffffff, "DFR resets to all ones (flat model)");
	CHECK(rd(0xf0) == 0xff, "SVR resets to 0xff (software disabled)");
	bool masked = true;
	for (unsigned off = 0x320; off <= 0x370; off += 0x10)
		masked &= rd(off) == 0x10000;
	CHECK(masked, "every LVT entry resets to masked");
	CHECK(rd(0x300) == 0 && rd(0x310) == 0, "ICR resets to 0");
	CHECK(rd(0x380) == 0 && rd(0x390) == 0 && rd(0x3e0) == 0, "timer registers reset to 0");
	CHECK(!lapic_has_intr(&l) && lapic_intr_ack(&l) == -1, "nothing pending after reset");
	CHECK(LAPIC_TIMER_HZ == SYS_CRYSTAL_HZ, "timer clock is the crystal CPUID leaf 0x15 reports");
}

static void test_registers(void)
{
	setup();
	wr(0x20, 0x05123456);
	CHECK(rd(0x20) == 0x05000000, "ID: bits 31:24 only");
	wr(0x20, 0);
	wr(0x80, 0xfff);
	CHECK(rd(0x80) == 0xff, "TPR: bits 7:0");
	wr(0x80, 0);
	wr(0xd0, 0x12345678);
	CHECK(rd(0xd0) == 0x12000000, "LDR: bits 31:24");
	wr(0xe0, 0);
	CHECK(rd(0xe0) == 0x0fffffff, "DFR: model bits 31:28, the rest reads as ones");
	wr(0xf0, 0xffffffff);
	CHECK(rd(0xf0) == 0x3ff, "SVR: vector, enable and focus bits");
	wr(0x310, 0xffffffff);
	CHECK(rd(0x310) == 0xff000000, "ICR high: destination field only");
	wr(0x30, 0);
	CHECK(rd(0x30) == 0x00050014, "version is read-only");
	wr(0x3e0, 0xff);
	CHECK(rd(0x3e0) == 0xb, "DCR: bits 0, 1, 3");
	wr(0x350, 0xffffffff);
	CHECK(rd(0x350) == 0x1a7ff, "LINT0 writable bits (vector, mode, polarity, trigger, mask)");
	wr(0x370, 0xffffffff);
	CHECK(rd(0x370) == 0x100ff, "error LVT writable bits");
	wr(0x320, 0xffffffff);
	CHECK(rd(0x320) == 0x700ff, "timer LVT writable bits (vector, mask, mode)");
	CHECK((lapic_mmio_ops.read(&l, 0x30, 1) & 0xff) == 0x14 && lapic_mmio_ops.read(&l, 0x32, 1) == 0x05,
	      "byte reads return part of the register");
	lapic_mmio_ops.write(&l, 0x81, 1, 0x55);
	lapic_mmio_ops.write(&l, 0x84, 4, 0x55);
	CHECK(rd(0x80) == 0, "unaligned and narrow writes are ignored");
}

static void test_software_disable(void)
{
	setup();
	wr(0x350, 0x700);
	CHECK(rd(0x350) == 0x10700, "software-disabled: LVT mask cannot be cleared");
	fixed(0x40, false);
	CHECK(!irr(0x40), "software-disabled: fixed interrupts are not accepted");
	wr(0xf0, 0x1ff);
	wr(0x350, 0x700);
	CHECK(rd(0x350) == 0x700, "software-enabled: LVT can be unmasked");
	fixed(0x40, false);
	CHECK(irr(0x40), "software-enabled: fixed interrupt accepted");
	wr(0xf0, 0xff);
	CHECK(rd(0x350) == 0x10700, "software disable masks every LVT entry");
	CHECK(irr(0x40) && lapic_has_intr(&l), "pending interrupts are held while software-disabled");
}

static void test_priority(void)
{
	setup_enabled();
	fixed(0x41, false);
	CHECK(irr(0x41) && !tmr(0x41), "edge interrupt: IRR set, TMR clear");
	CHECK(intr && lapic_has_intr(&l), "INTR raised");
	CHECK(lapic_intr_ack(&l) == 0x41, "ack returns the vector");
	CHECK(!irr(0x41) && isr(0x41), "ack moves IRR to ISR");
	CHECK(!intr, "INTR drops after ack");
	CHECK(rd(0xa0) == 0x40, "PPR = ISR class when above TPR");
	fixed(0x45, false);
	CHECK(!intr && lapic_intr_ack(&l) == -1, "same priority class as in-service: blocked");
	fixed(0x51, false);
	CHECK(intr, "higher class than in-service: deliverable");
	CHECK(lapic_intr_ack(&l) == 0x51, "highest vector first");
	CHECK(rd(0xa0) == 0x50, "PPR follows the highest in-service vector");
	wr(0xb0, 0);
	CHECK(!isr(0x51) && isr(0x41), "EOI clears the highest ISR bit only");
	CHECK(!intr, "0x45 still blocked by 0x41 in service");
	wr(0xb0, 0);
	CHECK(intr && lapic_intr_ack(&l) == 0x45, "after both EOIs 0x45 is delivered");
	wr(0xb0, 0);
	CHECK(eois == 0, "edge-triggered EOIs are not broadcast");

	wr(0x80, 0x50);
	CHECK(rd(0xa0) == 0x50, "PPR = TPR when nothing is in service");
	fixed(0x5f, false);
	CHECK(!intr, "TPR 0x50 blocks class 5");
	fixed(0x60, false);
	CHECK(intr && lapic_intr_ack(&l) == 0x60, "TPR 0x50 lets class 6 through");
	CHECK(rd(0xa0) == 0x60, "PPR = ISR class above TPR");
	wr(0xb0, 0);
	wr(0x80, 0x4f);
	CHECK(rd(0xa0) == 0x4f, "PPR keeps TPR's low bits");
	CHECK(intr && lapic_intr_ack(&l) == 0x5f, "lowering TPR releases a held vector");
	CHECK(rd(0x90) == 0x50, "APR: highest of TPR, IRR and ISR classes");
	wr(0xb0, 0);
	CHECK(rd(0x90) == 0x4f, "APR = TPR when nothing is pending");
}

static void test_level_eoi(void)
{
	setup_enabled();
	fixed(0x61, true);
	CHECK(irr(0x61) && tmr(0x61), "level interrupt: TMR set on acceptance");
	CHECK(lapic_intr_ack(&l) == 0x61, "level interrupt delivered");
	wr(0xb0, 0);
	CHECK(eois == 1 && last_eoi == 0x61, "EOI of a level vector is broadcast with the vector");
	fixed(0x61, false);
	CHECK(!tmr(0x61), "edge acceptance clears TMR");
	lapic_intr_ack(&l);
	wr(0xb0, 0);
	CHECK(eois == 1, "edge EOI not broadcast");
	wr(0xb0, 0);
	CHECK(eois == 1, "EOI with nothing in service does nothing");
}

static void test_esr(void)
{
	setup_enabled();
	fixed(5, false);
	CHECK(!irr(5), "vectors 0-15 are not accepted");
	CHECK(rd(0x280) == 0, "ESR reads the latched value: nothing before a write");
	wr(0x280, 0);
	CHECK(rd(0x280) == 0x40, "received illegal vector after the write latches it");
	wr(0x280, 0);
	CHECK(rd(0x280) == 0, "back-to-back writes clear ESR");
	wr(0x370, 0xfe);
	rd(0x2f0); /* CMCI LVT: absent with 6 entries */
	CHECK(esr() == 0x80, "reserved register: illegal register address");
	CHECK(irr(0xfe), "error LVT delivers its vector");
	wr(0x300, 0x4000 | 3);
	CHECK(esr() & 0x20, "IPI with an illegal vector: send illegal vector");
}

static void test_destinations(void)
{
	setup_enabled();
	wr(0x20, 0x03000000);
	struct apic_msg m = { .vector = 0x40, .delivery_mode = APIC_DM_FIXED };
	m.dest = 3;
	CHECK(lapic_deliver(&l, &m) && irr(0x40), "physical destination = APIC ID");
	m.dest = 2;
	m.vector = 0x41;
	CHECK(!lapic_deliver(&l, &m) && !irr(0x41), "other physical ID ignored");
	m.dest = 0xff;
	CHECK(lapic_deliver(&l, &m) && irr(0x41), "physical broadcast");
	m.dest_logical = true;
	wr(0xd0, 0x04000000);
	m.dest = 0x04;
	CHECK(lapic_deliver(&l, &m), "flat logical: LDR bit in the destination");
	m.dest = 0x0b;
	CHECK(!lapic_deliver(&l, &m), "flat logical: no common bit");
	wr(0xe0, 0x0fffffff); /* cluster */
	wr(0xd0, 0x21000000);
	m.dest = 0x23;
	CHECK(lapic_deliver(&l, &m), "cluster: same cluster, member bit set");
	m.dest = 0x31;
	CHECK(!lapic_deliver(&l, &m), "cluster: other cluster");
	m.dest = 0x22;
	CHECK(!lapic_deliver(&l, &m), "cluster: member bit clear");
	lapic_set_base(&l, LAPIC_DEFAULT_BASE | APIC_BASE_BSP);
	m.dest = 0xff;
	CHECK(!lapic_deliver(&l, &m), "hardware-disabled APIC takes no messages");
}

static void test_ipi(void)
{
	setup_enabled();
	wr(0x310, 0);
	wr(0x300, 0x40042); /* self shorthand, fixed 0x42 */
	CHECK(irr(0x42), "self IPI");
	wr(0x300, 0xc0043); /* all excluding self */
	CHECK(!irr(0x43), "all-excluding-self reaches nobody on one CPU");
	wr(0x300, 0x80044); /* all including self */
	CHECK(irr(0x44), "all-including-self reaches this APIC");
	wr(0x310, 0x00000000);
	wr(0x300, 0x00045);
	CHECK(irr(0x45), "physical destination 0 = this APIC");
	wr(0x310, 0x01000000);
	wr(0x300, 0x00046);
	CHECK(!irr(0x46) && l.last_ipi_hi == 0x01000000, "IPI to another APIC recorded, not delivered");
	wr(0x300, 0x8c046); /* level-triggered fixed to all including self */
	CHECK(irr(0x46) && tmr(0x46), "level-triggered IPI sets TMR");
	wr(0x310, 0);
	wr(0x300, 0x400); /* NMI to self */
	CHECK(nmis == 1, "NMI IPI");
	unsigned init = l.init_count;
	wr(0x310, 0x01000000);
	wr(0x300, 0xc500); /* INIT assert, level */
	wr(0x300, 0x8500); /* INIT de-assert */
	wr(0x300, 0x0612); /* SIPI vector 0x12 */
	CHECK(l.init_count == init && l.sipi_count == 0, "INIT/SIPI to other APICs only recorded");
	CHECK(l.last_ipi_lo == 0x0612 && l.ipi_count >= 9, "last IPI kept for SMP");
	wr(0x310, 0);
	wr(0x300, 0xc500);
	wr(0x300, 0x0634);
	CHECK(l.init_count == init + 1 && l.sipi_count == 1 && l.last_sipi_vector == 0x34, "INIT/SIPI counted");
	CHECK((rd(0x300) & 0x1000) == 0, "delivery status reads idle");
}

static void test_lint(void)
{
	setup();
	lapic_bios_init(&l);
	CHECK(rd(0xf0) == 0x1ff && rd(0x350) == 0x700 && rd(0x360) == 0x400, "BIOS state: virtual wire");
	lapic_set_lint(&l, 0, true);
	CHECK(intr, "8259 INTR through LINT0 (ExtINT)");
	CHECK(lapic_intr_ack(&l) == 0x30 && extint_acks == 1, "ExtINT ack asks the 8259");
	CHECK(!isr(0x30) && !irr(0x30), "ExtINT bypasses IRR/ISR");
	fixed(0x80, false);
	CHECK(lapic_intr_ack(&l) == 0x80 && extint_acks == 1, "APIC vectors before the 8259's");
	wr(0x350, 0x10700);
	CHECK(!intr, "masked LINT0 blocks the 8259");
	lapic_set_lint(&l, 0, false);
	wr(0x350, 0x700);
	CHECK(!intr, "LINT0 low: no interrupt");

	lapic_set_lint(&l, 1, true);
	CHECK(nmis == 1, "LINT1 NMI on the rising edge");
	lapic_set_lint(&l, 1, true);
	lapic_set_lint(&l, 1, false);
	CHECK(nmis == 1, "no NMI without a new edge");

	wr(0xb0, 0);
	wr(0x350, 0x8000 | 0x71); /* fixed, level */
	lapic_set_lint(&l, 0, true);
	CHECK(irr(0x71) && tmr(0x71) && (rd(0x350) & 0x4000), "level LINT0: accepted, remote IRR set");
	CHECK(lapic_intr_ack(&l) == 0x71, "LINT0 fixed vector delivered");
	lapic_set_lint(&l, 0, true);
	CHECK(!irr(0x71), "remote IRR holds further requests");
	wr(0xb0, 0);
	CHECK(irr(0x71), "EOI clears remote IRR and the still-high pin requests again");
	lapic_intr_ack(&l);
	lapic_set_lint(&l, 0, false);
	wr(0xb0, 0);
	CHECK(!irr(0x71) && !(rd(0x350) & 0x4000), "pin low: EOI just clears remote IRR");
	wr(0x360, 0x72); /* LINT1 fixed: edge */
	lapic_set_lint(&l, 1, true);
	CHECK(irr(0x72) && !tmr(0x72), "LINT1 fixed is edge-triggered");
}

static void test_hw_disable(void)
{
	setup_enabled();
	fixed(0x40, false);
	wr(0x80, 0x20);
	lapic_set_base(&l, LAPIC_DEFAULT_BASE | APIC_BASE_BSP);
	CHECK(!irr(0x40) && rd(0x80) == 0 && rd(0xf0) == 0xff, "clearing EN resets the APIC");
	CHECK(!intr, "nothing pending");
	lapic_set_lint(&l, 0, true);
	CHECK(intr, "APIC off: the 8259 drives INTR directly");
	CHECK(lapic_intr_ack(&l) == 0x30 && extint_acks == 1, "APIC off: INTA goes to the 8259");
	lapic_set_lint(&l, 1, true);
	CHECK(nmis == 1, "APIC off: LINT1 is the NMI pin");
	CHECK(lapic_read_tsc_deadline(&l) == 0, "APIC off: TSC deadline reads 0");
	lapic_set_lint(&l, 0, false);
	lapic_set_base(&l, LAPIC_DEFAULT_BASE | APIC_BASE_BSP | APIC_BASE_ENABLE);
	CHECK(!intr && rd(0x350) == 0x10000, "re-enabled APIC starts from the reset state");

	struct iobus bus;
	memset(&bus, 0, sizeof(bus));
	struct lapic_callbacks cb = { NULL, cb_intr, cb_nmi, cb_extint, cb_eoi, cb_tsc, 2000000000ull };
	lapic_init(&l, &bus, &timers, &cb, now_fn, LAPIC_DEFAULT_BASE | APIC_BASE_ENABLE);
	CHECK(iobus_read(&bus, 0xfee00030, 4) == 0x00050014, "page registered at the base");
	lapic_set_base(&l, 0xfed00000ull | APIC_BASE_ENABLE);
	CHECK(iobus_read(&bus, 0xfed00030, 4) == 0x00050014 && iobus_read(&bus, 0xfee00030, 4) == 0xffffffff,
	      "relocated page");
	lapic_set_base(&l, 0xfed00000ull);
	CHECK(iobus_read(&bus, 0xfed00030, 4) == 0xffffffff, "disabled APIC: page gone");
}

static void test_timer_oneshot(void)
{
	setup_enabled();
	wr(0x3e0, 0xb); /* divide by 1: 25 MHz, 40 ns a count */
	wr(0x320, 0x50);
	wr(0x380, 1000);
	CHECK(rd(0x390) == 1000, "current count starts at the initial count");
	advance(20 * US);
	CHECK(rd(0x390) == 500, "counts at 25 MHz");
	CHECK(!irr(0x50), "no interrupt before expiry");
	advance(20 * US - 1);
	CHECK(!irr(0x50) && rd(0x390) == 1, "one count left 1 ns before expiry");
	advance(1);
	CHECK(irr(0x50) && intr, "one-shot expiry interrupts");
	CHECK(rd(0x390) == 0, "one-shot stays at 0");
	lapic_intr_ack(&l);
	wr(0xb0, 0);
	advance(100 * US);
	CHECK(!irr(0x50) && timers_next(&timers) == UINT64_MAX, "one-shot fires once");

	wr(0x3e0, 0x0); /* divide by 2 */
	wr(0x380, 1000);
	advance(40 * US);
	CHECK(rd(0x390) == 500, "divide by 2");
	wr(0x3e0, 0x8); /* divide by 32 */
	CHECK(rd(0x390) == 500, "changing the divider keeps the count");
	advance(32 * 40 * 100);
	CHECK(rd(0x390) == 400, "then counts at the new rate");
	wr(0x3e0, 0xa); /* divide by 128 */
	advance(128ull * 40 * 400 - 1);
	CHECK(!irr(0x50), "divide by 128: not yet");
	advance(1);
	CHECK(irr(0x50), "divide by 128: expiry");

	wr(0x380, 100);
	wr(0x380, 0);
	CHECK(rd(0x390) == 0 && timers_next(&timers) == UINT64_MAX, "initial count 0 stops the timer");
	wr(0x3e0, 0xb);
	lapic_intr_ack(&l);
	wr(0xb0, 0);
	wr(0x320, 0x10050);
	wr(0x380, 10);
	advance(1 * US);
	CHECK(!irr(0x50) && rd(0x390) == 0, "masked timer counts but does not interrupt");
}

static void test_timer_periodic(void)
{
	setup_enabled();
	wr(0x3e0, 0xb);
	wr(0x320, 0x20051); /* periodic */
	wr(0x380, 100);     /* 4 us */
	advance(4 * US);
	CHECK(irr(0x51), "first period");
	CHECK(rd(0x390) == 100, "count reloads");
	lapic_intr_ack(&l);
	wr(0xb0, 0);
	advance(1 * US);
	CHECK(rd(0x390) == 75, "counts down in the second period");
	advance(3 * US);
	CHECK(irr(0x51), "second period");
	lapic_intr_ack(&l);
	wr(0xb0, 0);
	advance(40 * US + 2 * US);
	CHECK(irr(0x51) && rd(0x390) == 50, "missed periods merge, phase kept");
	lapic_intr_ack(&l);
	wr(0xb0, 0);
	wr(0x320, 0x00051); /* to one-shot mid-period */
	advance(2 * US);
	CHECK(irr(0x51) && rd(0x390) == 0, "switched to one-shot: the current count runs out");
	lapic_intr_ack(&l);
	wr(0xb0, 0);
	advance(10 * US);
	CHECK(!irr(0x51), "and does not reload");
}

static void test_timer_tsc_deadline(void)
{
	setup_enabled();
	lapic_write_tsc_deadline(&l, fake_ns * 2 + 1000);
	CHECK(lapic_read_tsc_deadline(&l) == 0, "TSC deadline ignored outside TSC-deadline mode");
	wr(0x320, 0x40052);
	wr(0x380, 10);
	CHECK(rd(0x380) == 0 && rd(0x390) == 0, "initial count ignored in TSC-deadline mode");
	uint64_t dl = fake_ns * 2 + 2000; /* 1 us at 2 GHz */
	lapic_write_tsc_deadline(&l, dl);
	CHECK(lapic_read_tsc_deadline(&l) == dl, "deadline reads back");
	advance(US - 1);
	CHECK(!irr(0x52), "not before the deadline");
	advance(1);
	CHECK(irr(0x52), "interrupt at the deadline");
	CHECK(lapic_read_tsc_deadline(&l) == 0, "MSR reads 0 once fired");
	lapic_intr_ack(&l);
	wr(0xb0, 0);
	lapic_write_tsc_deadline(&l, fake_ns * 2 - 5);
	advance(0);
	CHECK(irr(0x52), "deadline in the past fires at once");
	lapic_intr_ack(&l);
	wr(0xb0, 0);
	lapic_write_tsc_deadline(&l, fake_ns * 2 + 2000);
	lapic_write_tsc_deadline(&l, 0);
	advance(2 * US);
	CHECK(!irr(0x52), "writing 0 disarms");
	lapic_write_tsc_deadline(&l, fake_ns * 2 + 2000);
	wr(0x320, 0x00052);
	CHECK(lapic_read_tsc_deadline(&l) == 0, "leaving TSC-deadline mode disarms");
	wr(0x320, 0x40052);
	advance(2 * US);
	CHECK(!irr(0x52) && lapic_read_tsc_deadline(&l) == 0, "and the deadline stays cleared");
	lapic_write_tsc_deadline(&l, UINT64_MAX);
	advance(1000000 * US);
	CHECK(!irr(0x52), "far deadline: no overflow");
}

int main(void)
{
	test_reset_values();
	test_registers();
	test_software_disable();
	test_priority();
	test_level_eoi();
	test_esr();
	test_destinations();
	test_ipi();
	test_lint();
	test_hw_disable();
	test_timer_oneshot();
	test_timer_periodic();
	test_timer_tsc_deadline();
	TEST_EXIT();
}
