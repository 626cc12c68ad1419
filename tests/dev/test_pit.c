/* 8254 PIT and port 0x61 against a fake clock: modes 0, 2 and 3, latch and read-back commands,
 * lo/hi access, channel 2 gate and output (the TSC calibration path), IRQ 0 timing. */
#include "dev/pit.h"
#include "tests/test.h"

static uint64_t now_ns;
static int irq_pulses;

static uint64_t fake_now(void)
{
	return now_ns;
}

static void set_irq(void *ctx, unsigned line, int level)
{
	if (level)
		irq_pulses++;
}

static struct iobus bus;

static uint8_t in(uint16_t port)
{
	return (uint8_t)iobus_read(&bus, port, 1);
}

static void out(uint16_t port, uint8_t v)
{
	iobus_write(&bus, port, 1, v);
}

/* ns for n PIT ticks */
static uint64_t ticks(uint64_t n)
{
	return n * 1000000000ull / PIT_FREQ;
}

int main(void)
{
	struct pit p;
	struct timer_list timers = { 0 };
	now_ns = 1000000000ull;
	pit_init(&p, &bus, &timers, (struct irq){ set_irq, NULL, 0 }, fake_now);

	/* Mode 2 (rate generator) on channel 0, count 1193 (~1 kHz), lo/hi. */
	out(0x43, 0x34);
	out(0x40, 1193 & 0xff);
	out(0x40, 1193 >> 8);
	CHECK(timers_next(&timers) != UINT64_MAX, "pit: channel 0 arms a timer for IRQ 0");
	now_ns += ticks(100);
	out(0x43, 0x00); /* latch channel 0 */
	uint16_t c = in(0x40) | in(0x40) << 8;
	CHECK(c >= 1090 && c <= 1094, "pit: mode 2 counter after 100 ticks (%u)", c);
	/* The latched value stays until read, even as time passes. */
	out(0x43, 0x00);
	now_ns += ticks(50);
	uint16_t c2 = in(0x40) | in(0x40) << 8;
	CHECK(c2 == c, "pit: the latch freezes the value while time passes (%u, %u)", c2, c);
	/* Periodic interrupts: run 10 periods' worth of timers. */
	irq_pulses = 0;
	for (int k = 0; k < 10; k++) {
		now_ns += ticks(1193);
		timers_run(&timers, now_ns);
	}
	CHECK(irq_pulses == 10, "pit: mode 2 gives one IRQ 0 per period (%d)", irq_pulses);

	/* Mode 0 (interrupt on terminal count): one interrupt, OUT goes high. */
	out(0x43, 0x30);
	out(0x40, 100);
	out(0x40, 0);
	CHECK(!pit_out(&p, 0), "pit: mode 0 OUT low while counting");
	irq_pulses = 0;
	now_ns += ticks(101);
	timers_run(&timers, now_ns);
	CHECK(irq_pulses == 1 && pit_out(&p, 0), "pit: mode 0 terminal count: one IRQ, OUT high");
	now_ns += ticks(1000);
	timers_run(&timers, now_ns);
	CHECK(irq_pulses == 1, "pit: mode 0 does not repeat");

	/* Read-back command: status of channel 0 (OUT high, mode 0, lo/hi access). */
	out(0x43, 0xe2); /* read-back, latch status only, channel 0 */
	uint8_t st = in(0x40);
	CHECK(st == (0x80 | 0x30 | 0x00), "pit: read-back status (%02x)", st);

	/* Channel 2 through port 0x61: gate, mode 0, OUT on bit 5 (Linux's TSC calibration). */
	out(0x61, 0x00);
	out(0x43, 0xb0); /* channel 2, lo/hi, mode 0 */
	out(0x42, 0xff);
	out(0x42, 0xff);
	out(0x61, 0x01); /* gate on */
	CHECK(!(in(0x61) & 0x20), "pit: channel 2 OUT low right after the gate rises");
	now_ns += ticks(0x10000);
	CHECK(in(0x61) & 0x20, "pit: channel 2 OUT high after the full count");
	CHECK((in(0x61) & 0x0f) == 0x01, "pit: port 0x61 keeps the gate bit");

	/* Mode 3 square wave: OUT high for the first half of the period. */
	out(0x43, 0x36);
	out(0x40, 100);
	out(0x40, 0);
	now_ns += ticks(10);
	bool first_half = pit_out(&p, 0);
	now_ns += ticks(50);
	bool second_half = pit_out(&p, 0);
	CHECK(first_half && !second_half, "pit: mode 3 square wave halves");

	/* Byte access modes: lo only. */
	out(0x43, 0x14); /* channel 0, lo byte only, mode 2 */
	out(0x40, 50);
	now_ns += ticks(10);
	uint8_t lo = in(0x40);
	CHECK(lo >= 38 && lo <= 41, "pit: lo-byte-only access (%u)", lo);

	pit_reset(&p);
	CHECK(timers_next(&timers) == UINT64_MAX, "pit: reset disarms the timer");
	TEST_EXIT();
}
