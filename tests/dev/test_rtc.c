/* MC146818A RTC/CMOS: time registers in every format, UIP window, setting the clock, divider
 * reset, periodic/alarm/update interrupts with register C, CMOS memory sizes and checksum, NMI
 * bit. A fake monotonic clock and a fake wall clock make every check exact. */
#define _GNU_SOURCE
#include <string.h>
#include <time.h>

#include "dev/rtc.h"
#include "tests/test.h"

#define NS 1000000000ull

static uint64_t fake_now;
static int64_t fake_wall;
static int irq_level, irq_edges;

static uint64_t now_fn(void) { return fake_now; }
static int64_t wall_fn(void) { return fake_wall; }

static void set_irq(void *ctx, unsigned line, int level)
{
	if (level && !irq_level)
		irq_edges++;
	irq_level = level;
}

static struct iobus pio;
static struct timer_list timers;
static struct rtc rtc;

static uint8_t rd(unsigned idx)
{
	iobus_write(&pio, 0x70, 1, idx);
	return (uint8_t)iobus_read(&pio, 0x71, 1);
}

static void wr(unsigned idx, uint8_t v)
{
	iobus_write(&pio, 0x70, 1, idx);
	iobus_write(&pio, 0x71, 1, v);
}

/* Advances the fake clock, running device timers at each deadline on the way. */
static void advance(uint64_t ns)
{
	uint64_t end = fake_now + ns;
	for (;;) {
		uint64_t next = timers_next(&timers);
		if (next > end)
			break;
		if (next > fake_now)
			fake_now = next;
		timers_run(&timers, fake_now);
	}
	fake_now = end;
	timers_run(&timers, fake_now);
}

static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = s };
	return (int64_t)timegm(&tm);
}

static void setup(uint64_t below, uint64_t above, int64_t wall_ns)
{
	memset(&pio, 0, sizeof(pio));
	memset(&timers, 0, sizeof(timers));
	irq_level = irq_edges = 0;
	fake_now = 7777 * NS + 123456789; /* monotonic time unrelated to the wall clock */
	fake_wall = wall_ns;
	struct rtc_config cfg = { .ram_below_4g = below, .ram_above_4g = above, .cpus = 2, .now = now_fn, .wall = wall_fn };
	rtc_init(&rtc, &pio, &timers, (struct irq){ set_irq, NULL, 8 }, &cfg);
}

static bool time_is(uint8_t y, uint8_t mo, uint8_t d, uint8_t h, uint8_t mi, uint8_t s)
{
	return rd(9) == y && rd(8) == mo && rd(7) == d && rd(4) == h && rd(2) == mi && rd(0) == s;
}

static void test_formats(void)
{
	/* 2024-02-29 23:59:58.5 UTC, a Thursday */
	setup(512u << 20, 0, utc(2024, 2, 29, 23, 59, 58) * (int64_t)NS + 500000000);
	CHECK(rd(0x0a) == 0x26 && rd(0x0b) == 0x02 && rd(0x0d) == 0x80, "power-on A=26 B=02 D=80 (VRT)");
	CHECK(time_is(0x24, 0x02, 0x29, 0x23, 0x59, 0x58), "BCD 24h shows the host date");
	CHECK(rd(6) == 5 && rd(0x32) == 0x20, "weekday (Thursday=5) and century 0x20");
	CHECK(rtc_time(&rtc) == utc(2024, 2, 29, 23, 59, 58), "rtc_time is the host time");
	advance(NS / 2 - 1);
	CHECK(rd(0) == 0x58, "second not yet over 1 ns before the update");
	advance(1);
	CHECK(rd(0) == 0x59, "update exactly at the host's second boundary");
	advance(NS);
	CHECK(time_is(0x24, 0x03, 0x01, 0x00, 0x00, 0x00) && rd(6) == 6, "rolls over a leap day into March");

	wr(0x0b, 0x06); /* binary, 24 h */
	CHECK(time_is(24, 3, 1, 0, 0, 0) && rd(0x32) == 20, "binary mode");
	wr(0x0b, 0x00); /* BCD, 12 h */
	CHECK(rd(4) == 0x12, "12h mode: midnight reads 12 AM");
	advance(13 * 3600 * NS);
	CHECK(rd(4) == 0x81, "12h mode: 13:00 reads 1 PM (bit 7)");
	wr(0x0b, 0x04); /* binary 12 h */
	CHECK(rd(4) == 0x81, "binary 12h 1 PM");
	advance(11 * 3600 * NS - 1);
	CHECK(rd(4) == (0x80 | 11) && rd(2) == 59, "binary 12h 11:59 PM");
	wr(0x0b, 0x02);
	CHECK(rd(4) == 0x23, "back to BCD 24h");
}

static void test_uip(void)
{
	setup(512u << 20, 0, utc(2023, 7, 1, 10, 0, 0) * (int64_t)NS); /* exactly on a second */
	CHECK(!(rd(0x0a) & 0x80), "UIP clear right after an update");
	advance(NS - 244141 - 1);
	CHECK(!(rd(0x0a) & 0x80), "UIP clear 245 us before the update");
	advance(1);
	CHECK(rd(0x0a) & 0x80, "UIP set 244 us before the update");
	CHECK(rd(0) == 0x00, "seconds unchanged during UIP");
	advance(244140);
	CHECK((rd(0x0a) & 0x80) && rd(0) == 0x00, "UIP still set 1 ns before the update");
	advance(1);
	CHECK(!(rd(0x0a) & 0x80) && rd(0) == 0x01, "update done: UIP clear, new second");
	wr(0x0a, 0xa6);
	CHECK(rd(0x0a) == 0x26, "UIP is read-only");
	wr(0x0b, 0x82); /* SET */
	advance(NS - 100000);
	CHECK(!(rd(0x0a) & 0x80), "no UIP while SET holds the clock");
}

static void test_set_time(void)
{
	setup(512u << 20, 0, utc(2023, 7, 1, 10, 0, 0) * (int64_t)NS + 300000000);
	wr(0x0b, 0x92); /* SET with UIE */
	CHECK(rd(0x0b) == 0x82, "SET clears UIE");
	CHECK(time_is(0x23, 0x07, 0x01, 0x10, 0x00, 0x00), "SET freezes the current time into the registers");
	wr(9, 0x30); wr(8, 0x06); wr(7, 0x15); wr(4, 0x12); wr(2, 0x34); wr(0, 0x56);
	advance(5 * NS);
	CHECK(time_is(0x30, 0x06, 0x15, 0x12, 0x34, 0x56), "time held while SET");
	wr(0x0b, 0x02);
	CHECK(time_is(0x30, 0x06, 0x15, 0x12, 0x34, 0x56) && rd(6) == 7, "clock runs from the written time (Saturday)");
	CHECK(rtc_time(&rtc) == utc(2030, 6, 15, 12, 34, 56), "rtc_time follows the guest's setting");
	advance(700000000); /* the divider kept its phase: update at the host's second boundary */
	CHECK(rd(0) == 0x57, "counting goes on with the old phase");

	/* Linux's mc146818_set_time: divider reset, SET, write, clear SET, divider running. */
	wr(0x0a, 0x76);
	advance(3 * NS);
	CHECK(rd(0) == 0x57, "divider reset stops the clock");
	wr(0x0b, 0x82);
	wr(0, 0x00); wr(2, 0x00); wr(4, 0x08);
	wr(0x0b, 0x02);
	advance(NS);
	CHECK(rd(0) == 0x00, "still stopped while the divider is held in reset");
	wr(0x0a, 0x26);
	advance(499999999);
	CHECK(rd(0) == 0x00 && rd(4) == 0x08, "no update in the first half second after divider restart");
	advance(1);
	CHECK(rd(0) == 0x01, "first update half a second after divider restart");

	/* A write to a time register while running: counting continues from it. */
	wr(2, 0x45);
	CHECK(rd(2) == 0x45 && rd(0) == 0x01 && rd(4) == 0x08, "minute written while running");
	advance(NS);
	CHECK(rd(2) == 0x45 && rd(0) == 0x02, "counting continues after the write");

	/* Hostile values: nothing breaks, time stays in range. */
	wr(0x0b, 0x82);
	for (unsigned k = 0; k < 10; k++)
		if (k != 1 && k != 3 && k != 5)
			wr(k, 0xff);
	wr(0x32, 0xff);
	wr(0x0b, 0x02);
	int64_t t = rtc_time(&rtc);
	CHECK(t > 0 && t < utc(10000, 1, 1, 0, 0, 0), "garbage time registers give a bounded time");
	CHECK(rd(0) <= 0x59 && rd(2) <= 0x59 && rd(4) <= 0x23 && rd(8) <= 0x12, "registers read back as a valid time");
}

static void test_periodic(void)
{
	setup(512u << 20, 0, utc(2023, 7, 1, 10, 0, 0) * (int64_t)NS);
	/* PF is set even without PIE, and does not interrupt */
	rd(0x0c);
	advance(NS / 1024 + 1); /* 1024 Hz: the first period ends at 976562.5 ns */
	CHECK(rd(0x0c) == 0x40 && irq_edges == 0, "PF without PIE: flag, no interrupt");
	CHECK(rd(0x0c) == 0x00, "register C clears on read");

	static const struct { unsigned rate, hz; } rates[] = { { 6, 1024 }, { 15, 2 }, { 3, 8192 }, { 1, 256 }, { 2, 128 }, { 10, 64 } };
	for (unsigned k = 0; k < sizeof(rates) / sizeof(rates[0]); k++) {
		wr(0x0b, 0x02);
		rd(0x0c);
		wr(0x0a, (uint8_t)(0x20 | rates[k].rate));
		wr(0x0b, 0x42); /* PIE */
		irq_edges = 0;
		unsigned acked = 0;
		uint64_t end = fake_now + NS;
		while (fake_now < end) {
			advance(20000);
			if (irq_level) {
				uint8_t c = rd(0x0c);
				acked += (c & 0xc0) == 0xc0;
			}
		}
		CHECK((unsigned)irq_edges == rates[k].hz && acked == rates[k].hz, "rate %u: %u Hz periodic interrupts (got %d)",
		      rates[k].rate, rates[k].hz, irq_edges);
	}
	wr(0x0a, 0x20); /* rate 0: off */
	rd(0x0c);
	irq_edges = 0;
	advance(NS);
	CHECK(irq_edges == 0 && !(rd(0x0c) & 0x40), "rate 0: no periodic interrupt");

	/* IRQ stays asserted until register C is read, and re-enabling PIE with PF pending interrupts */
	wr(0x0b, 0x02);
	wr(0x0a, 0x26);
	rd(0x0c);
	advance(NS / 512);
	CHECK(!irq_level, "no IRQ with PIE clear");
	wr(0x0b, 0x42);
	CHECK(irq_level, "setting PIE with PF pending raises IRQ 8");
	advance(NS / 100);
	CHECK(irq_level && irq_edges == 1, "IRQ stays high until register C is read");
	CHECK(rd(0x0c) & 0x80 && !irq_level, "reading C lowers IRQ 8");
	wr(0x0b, 0x02);
	rtc_reset(&rtc);
}

static void test_update_and_alarm(void)
{
	setup(512u << 20, 0, utc(2023, 7, 1, 10, 0, 0) * (int64_t)NS + 600000000);
	rd(0x0c);
	wr(0x0b, 0x12); /* UIE */
	advance(399999999);
	CHECK(!irq_level, "no update interrupt before the second ends");
	advance(1);
	CHECK(irq_level && (rd(0x0c) & 0xb0) == 0x90 && !irq_level, "update-ended interrupt: C = IRQF|UF (PF too: rate 6 runs)");
	advance(NS);
	CHECK(irq_level && (rd(0x0c) & 0x90) == 0x90, "one update interrupt each second");
	wr(0x0b, 0x02);
	rd(0x0c);

	/* alarm at 10:00:05 (the clock reads 10:00:02) */
	wr(1, 0x05); wr(3, 0x00); wr(5, 0x10);
	wr(0x0b, 0x22); /* AIE */
	advance(2 * NS);
	CHECK(!irq_level, "no alarm at 10:00:04");
	advance(NS);
	CHECK(irq_level && rd(0) == 0x05, "alarm fires at the 10:00:05 update");
	CHECK((rd(0x0c) & 0xa0) == 0xa0, "C = IRQF|AF (and UF)");
	irq_edges = 0;
	advance(10 * NS);
	CHECK(irq_edges == 0, "exact alarm does not repeat within the day");
	/* don't-care seconds and hours: every second of minute 30 of any hour -> next at 10:30:00 */
	wr(1, 0xc0); wr(3, 0x30); wr(5, 0xff);
	rd(0x0c);
	advance((29 * 60 + 44) * NS); /* 10:00:15 -> 10:29:59 */
	CHECK(!irq_level, "don't-care alarm: nothing until the next matching minute");
	advance(NS);
	CHECK(irq_level && rd(4) == 0x10 && rd(2) == 0x30 && rd(0) == 0x00, "don't-care alarm fires at 10:30:00");
	rd(0x0c);
	advance(NS);
	CHECK(irq_level, "... and at 11:00:01");
	rd(0x0c);
	advance(59 * NS);
	rd(0x0c);
	advance(NS);
	CHECK(!irq_level && rd(2) == 0x31, "... but not at 10:31:00");
	/* alarm in 12-hour BCD format: 1 PM is 0x81 */
	wr(0x0b, 0x20); /* 12h, AIE */
	wr(1, 0x00); wr(3, 0x00); wr(5, 0x81);
	rd(0x0c);
	irq_edges = 0;
	advance(3 * 3600 * NS); /* 10:31 -> 13:31 */
	CHECK(irq_edges == 1 && (rd(0x0c) & 0x20), "12-hour alarm at 1 PM");
	rtc_reset(&rtc);
	CHECK(rd(0x0b) == 0x00 && !irq_level, "reset clears the interrupt enables");
}

static void test_cmos(void)
{
	setup(512u << 20, 0, 0);
	CHECK(rd(0x15) == 0x80 && rd(0x16) == 0x02, "base memory 640 KiB");
	CHECK(rd(0x17) == 0xff && rd(0x18) == 0xff && rd(0x30) == 0xff && rd(0x31) == 0xff, "extended memory caps at 0xffff KiB");
	CHECK(rd(0x34) == 0x00 && rd(0x35) == 0x1f, "512 MiB: 496 MiB above 16 MiB in 64 KiB units (0x1f00)");
	CHECK(rd(0x5b) == 0 && rd(0x5c) == 0 && rd(0x5d) == 0, "no RAM above 4 GiB");
	CHECK(rd(0x14) == 0x02 && rd(0x5f) == 1, "equipment byte (FPU), CPU count - 1");
	CHECK(rd(0x32) == 0x19 && rd(9) == 0x70 && rd(8) == 1 && rd(7) == 1, "wall time 0 is 1970-01-01");
	unsigned sum = 0;
	for (unsigned k = 0x10; k <= 0x2d; k++)
		sum += rd(k);
	CHECK(((unsigned)rd(0x2e) << 8 | rd(0x2f)) == sum, "checksum of 0x10-0x2d at 0x2e/0x2f");

	setup(8u << 20, 0, 0);
	CHECK(rd(0x17) == 0x00 && rd(0x18) == 0x1c && rd(0x30) == 0x00 && rd(0x31) == 0x1c, "8 MiB: 7168 KiB extended");
	CHECK(rd(0x34) == 0 && rd(0x35) == 0, "8 MiB: nothing above 16 MiB");

	setup(3ull << 30, 6ull << 30, 0);
	CHECK(rd(0x34) == 0x00 && rd(0x35) == 0xbf, "3 GiB below 4 GiB: 0xbf00 units above 16 MiB");
	CHECK(rd(0x5b) == 0x00 && rd(0x5c) == 0x80 && rd(0x5d) == 0x01, "6 GiB above 4 GiB: 0x18000 units at 0x5b-0x5d");
	sum = 0;
	for (unsigned k = 0x10; k <= 0x2d; k++)
		sum += rd(k);
	CHECK(((unsigned)rd(0x2e) << 8 | rd(0x2f)) == sum, "checksum with 3 GiB");

	wr(0x40, 0xa5);
	wr(0x7f, 0x5a);
	CHECK(rd(0x40) == 0xa5 && rd(0x7f) == 0x5a, "CMOS RAM keeps written bytes");
	wr(0x0c, 0xff);
	wr(0x0d, 0x00);
	CHECK(rd(0x0c) == 0x00 && rd(0x0d) == 0x80, "C and D are read-only");

	iobus_write(&pio, 0x70, 1, 0x80 | 0x40);
	CHECK(rtc_nmi_disabled(&rtc) && iobus_read(&pio, 0x71, 1) == 0xa5, "bit 7 of port 0x70 disables NMI, low bits index");
	iobus_write(&pio, 0x70, 1, 0x40);
	CHECK(!rtc_nmi_disabled(&rtc), "NMI enabled again");
	iobus_write(&pio, 0x70, 1, 0xff);
	CHECK(iobus_read(&pio, 0x71, 1) == 0x5a, "index wraps into 0x00-0x7f");
}

int main(void)
{
	test_formats();
	test_uip();
	test_set_time();
	test_periodic();
	test_update_and_alarm();
	test_cmos();
	TEST_EXIT();
}
