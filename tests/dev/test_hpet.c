/* HPET registers, counter and comparators against a fake clock (IA-PC HPET 1.0a). */
#include <string.h>

#include "dev/hpet.h"
#include "tests/test.h"

static uint64_t fake_now = 1000000000;
static uint64_t fake_clock(void) { return fake_now; }

static struct timer_list timers;
static struct hpet h;

/* Line recorder: index 0/1 legacy IRQ0/IRQ8, 2 + n route n. */
static int level[40];
static unsigned rises[40];
static void line_set(void *ctx, unsigned line, int lv)
{
	if (lv && !level[line])
		rises[line]++;
	level[line] = lv;
}

static unsigned legacy_calls;
static bool legacy_on;
static void legacy_changed(void *ctx, bool on)
{
	legacy_calls++;
	legacy_on = on;
}

static uint64_t rd(unsigned off) { return hpet_mmio_read(&h, off, 8); }
static uint32_t rd32(unsigned off) { return (uint32_t)hpet_mmio_read(&h, off, 4); }
static void wr(unsigned off, uint64_t v) { hpet_mmio_write(&h, off, 8, v); }
static void wr32(unsigned off, uint32_t v) { hpet_mmio_write(&h, off, 4, v); }

/* Advances the fake clock to t (ns since the start of the test) and runs due timers. */
static void run_until(uint64_t t)
{
	fake_now = 1000000000 + t;
	timers_run(&timers, fake_now);
}

#define GEN_CONF 0x10
#define GINTR_STA 0x20
#define MAIN_CNT 0xf0
#define TN_CONF(n) (0x100 + 0x20 * (n))
#define TN_CMP(n) (0x108 + 0x20 * (n))
#define TN_FSB(n) (0x110 + 0x20 * (n))

#define LEVEL 0x2
#define ENB 0x4
#define PERIODIC 0x8
#define VAL_SET 0x40
#define MODE32 0x100
#define ROUTE(n) ((uint64_t)(n) << 9)

static void setup(void)
{
	struct hpet_wiring w = { .legacy_changed = legacy_changed };
	w.legacy[0] = (struct irq){ line_set, NULL, 0 };
	w.legacy[1] = (struct irq){ line_set, NULL, 1 };
	for (unsigned r = 20; r < 24; r++)
		w.route[r] = (struct irq){ line_set, NULL, 2 + r };
	w.route[5] = (struct irq){ line_set, NULL, 2 + 5 }; /* wired but not allowed */
	w.route_cap = 0x00f00004; /* 2 and 20-23; 2 is not wired */
	memset(&timers, 0, sizeof(timers));
	memset(level, 0, sizeof(level));
	memset(rises, 0, sizeof(rises));
	fake_now = 1000000000;
	hpet_init(&h, NULL, HPET_BASE, &timers, &w, fake_clock);
}

int main(void)
{
	setup();

	/* capabilities */
	uint64_t cap = rd(0);
	CHECK(cap >> 32 == 100000000, "period 100000000 fs (10 MHz)");
	CHECK(((cap >> 16) & 0xffff) == 0x8086, "vendor 8086");
	CHECK((cap & (1 << 15)) && (cap & (1 << 13)), "legacy route capable, 64-bit counter");
	CHECK(((cap >> 8) & 0x1f) == 2 && (cap & 0xff) == 1, "3 timers, revision 1");
	CHECK(rd32(4) == 100000000, "32-bit read of the high half");
	wr(0, 0);
	CHECK(rd(0) == cap, "capabilities read-only");
	for (int n = 0; n < 3; n++) {
		uint64_t c = rd(TN_CONF(n));
		CHECK((c & 0x30) == 0x30 && !(c & (1 << 15)), "timer %d: periodic and 64-bit capable, no FSB", n);
		CHECK(c >> 32 == 0x00f00000, "timer %d: routes only the wired allowed inputs 20-23", n);
	}
	CHECK(rd(TN_CMP(0)) == ~0ull, "comparators reset to all ones");

	/* main counter */
	run_until(5000);
	CHECK(rd(MAIN_CNT) == 0, "counter halted after reset");
	wr(MAIN_CNT, 1000);
	CHECK(rd(MAIN_CNT) == 1000, "counter writable while halted");
	wr(GEN_CONF, 1);
	run_until(5000 + 12345);
	CHECK(rd(MAIN_CNT) == 1000 + 123, "counter follows the clock at 10 MHz: %llu", (unsigned long long)rd(MAIN_CNT));
	wr(GEN_CONF, 0);
	run_until(100000);
	CHECK(rd(MAIN_CNT) == 1123, "halting freezes the count");
	wr32(MAIN_CNT + 4, 0x2);
	CHECK(rd(MAIN_CNT) == 0x200000000ull + 1123, "32-bit write to the high half");
	CHECK(rd32(MAIN_CNT + 4) == 2 && rd32(MAIN_CNT) == 1123, "32-bit halves readable");
	wr(MAIN_CNT, 0);

	/* one-shot, edge, routed */
	wr(TN_CONF(2), ENB | ROUTE(21));
	CHECK(((rd(TN_CONF(2)) >> 9) & 0x1f) == 21, "route 21 taken");
	wr(TN_CONF(2), ENB | ROUTE(5));
	CHECK(((rd(TN_CONF(2)) >> 9) & 0x1f) == 21, "route 5 not in the capability: refused");
	wr(TN_CONF(2), ENB | ROUTE(21) | (1 << 14));
	CHECK(!(rd(TN_CONF(2)) & (1 << 14)), "FSB enable does not stick");
	wr(TN_CMP(2), 1000);
	wr(GEN_CONF, 1); /* counter starts at t=100000 */
	run_until(100000 + 99999);
	CHECK(rises[2 + 21] == 0, "no interrupt before the match");
	run_until(100000 + 100000);
	CHECK(rises[2 + 21] == 1 && level[2 + 21] == 0, "one-shot edge pulse on route 21 at the match");
	CHECK(rd(GINTR_STA) == 0, "edge timers leave the status bit alone");
	run_until(100000 + 10000000);
	CHECK(rises[2 + 21] == 1, "64-bit one-shot does not repeat");
	CHECK(rd(TN_CMP(2)) == 1000, "one-shot comparator unchanged");

	/* level-triggered */
	uint64_t c0 = rd(MAIN_CNT);
	wr(TN_CONF(2), LEVEL | ENB | ROUTE(22));
	wr(TN_CMP(2), c0 + 50);
	run_until(100000 + 10000000 + 5000);
	CHECK(level[2 + 22] == 1 && (rd(GINTR_STA) & 4), "level: status set and line held");
	wr(GINTR_STA, 1); /* other timers' bits */
	CHECK(level[2 + 22] == 1, "writing 0 to its status bit keeps it");
	wr(TN_CONF(2), LEVEL | ROUTE(22));
	CHECK(level[2 + 22] == 0 && (rd(GINTR_STA) & 4), "interrupt disable drops the line, status stays");
	wr(TN_CONF(2), LEVEL | ENB | ROUTE(22));
	CHECK(level[2 + 22] == 1, "re-enabled: line back");
	wr(GEN_CONF, 0);
	CHECK(level[2 + 22] == 0, "halting the HPET drops the line");
	wr(GEN_CONF, 1);
	CHECK(level[2 + 22] == 1, "enabling again restores it");
	wr32(GINTR_STA, 4);
	CHECK(level[2 + 22] == 0 && !(rd(GINTR_STA) & 4), "write 1 clears status and the line");
	c0 = rd(MAIN_CNT);
	wr(TN_CONF(2), LEVEL | ROUTE(22)); /* interrupt disabled: status still set at the match */
	wr(TN_CMP(2), c0 + 10);
	run_until(100000 + 10000000 + 5000 + 1000);
	CHECK((rd(GINTR_STA) & 4) && level[2 + 22] == 0, "match with interrupt disabled sets status only");
	wr(TN_CONF(2), 0);
	CHECK(!(rd(GINTR_STA) & 4), "switching to edge clears the status bit");

	/* periodic, legacy replacement, Linux's programming sequence */
	setup();
	wr(GEN_CONF, 3);
	CHECK(legacy_calls == 1 && legacy_on, "legacy replacement reported to the machine");
	run_until(1000); /* counter 10 */
	uint64_t now_cnt = rd(MAIN_CNT);
	wr(TN_CONF(0), ENB | PERIODIC | VAL_SET | MODE32);
	wr32(TN_CMP(0), (uint32_t)(now_cnt + 100));
	wr32(TN_CMP(0), 100);
	CHECK(!(rd(TN_CONF(0)) & VAL_SET), "VAL_SET clears after the comparator write");
	CHECK(rd(TN_CMP(0)) == now_cnt + 100, "second write sets only the period");
	unsigned ok = 0;
	for (int k = 1; k <= 5; k++) {
		run_until(1000 + 100 * 100 * (uint64_t)k);
		ok += rises[0] == (unsigned)k && rd(TN_CMP(0)) == now_cnt + 100 * (uint64_t)(k + 1);
	}
	CHECK(ok == 5, "periodic: one IRQ0 per period, comparator steps by the period");
	CHECK(rises[2 + 20] == 0 && rises[1] == 0, "legacy timer 0 only drives IRQ0");
	run_until(1000 + 100 * 100 * 15 + 50 * 100);
	CHECK(rises[0] == 6 && rd(TN_CMP(0)) == now_cnt + 100 * 16, "missed periods skipped with one interrupt");
	wr(TN_CONF(0), ENB | PERIODIC | MODE32);
	run_until(1000 + 100 * 100 * 16);
	CHECK(rises[0] == 7, "still periodic after a config write without VAL_SET");

	/* timer 1 in legacy mode drives IRQ8, whatever its route */
	uint64_t c1 = rd(MAIN_CNT);
	wr(TN_CONF(1), ENB | ROUTE(20));
	wr(TN_CMP(1), c1 + 30);
	run_until(1000 + 100 * 100 * 16 + 3000);
	CHECK(rises[1] == 1 && rises[2 + 20] == 0, "legacy: timer 1 -> IRQ8");
	wr(GEN_CONF, 1);
	CHECK(legacy_calls == 2 && !legacy_on, "legacy off reported");
	c1 = rd(MAIN_CNT);
	wr(TN_CMP(1), c1 + 30);
	run_until(1000 + 100 * 100 * 16 + 6000);
	CHECK(rises[1] == 1 && rises[2 + 20] == 1, "legacy off: timer 1 -> its route");
	wr(TN_CONF(0), 0);
	wr(TN_CONF(1), 0);

	/* 32-bit mode wrap */
	setup();
	wr(MAIN_CNT, 0xffffff00);
	wr(TN_CONF(2), ENB | MODE32 | ROUTE(23));
	wr(TN_CMP(2), 0x100000010ull);
	CHECK(rd(TN_CMP(2)) == 0x10, "32-bit mode keeps 32 bits of the comparator");
	wr(GEN_CONF, 1);
	run_until(0x10f * 100);
	CHECK(rises[2 + 23] == 0, "32-bit: not before the wrap");
	run_until(0x110 * 100);
	CHECK(rises[2 + 23] == 1, "32-bit: matches low 32 bits after the counter wraps them");
	CHECK(timers_next(&timers) == fake_now + (1ull << 32) * 100, "32-bit one-shot rearms 2^32 ticks later");
	/* the main counter itself wrapping at 2^64 */
	setup();
	wr(MAIN_CNT, ~0ull - 0xff);
	wr(TN_CONF(2), ENB | MODE32 | ROUTE(23));
	wr(TN_CMP(2), 0x10);
	wr(GEN_CONF, 1);
	run_until(0x10f * 100);
	CHECK(rises[2 + 23] == 0 && rd(MAIN_CNT) == 0xf, "64-bit counter wraps to 0");
	run_until(0x110 * 100);
	CHECK(rises[2 + 23] == 1, "32-bit timer matches across the 64-bit wrap");
	/* the same comparator in 64-bit mode: the counter passed 0x10 long ago */
	setup();
	wr(MAIN_CNT, 0xffffff00);
	wr(TN_CONF(2), ENB | ROUTE(23));
	wr(TN_CMP(2), 0x10);
	wr(GEN_CONF, 1);
	CHECK(timers_next(&timers) == UINT64_MAX, "64-bit comparator behind the counter never matches");
	wr(TN_CMP(2), 0x100000010ull);
	run_until(0x110 * 100);
	CHECK(rises[2 + 23] == 1 && timers_next(&timers) == UINT64_MAX, "64-bit comparator across 2^32, once");

	/* 32-bit periodic wraps its comparator */
	setup();
	wr(MAIN_CNT, 0xffffff00);
	wr(TN_CONF(2), ENB | PERIODIC | VAL_SET | MODE32 | ROUTE(23));
	wr(TN_CMP(2), 0xffffff80);
	wr(TN_CMP(2), 0x100);
	wr(GEN_CONF, 1);
	run_until(0x80 * 100);
	run_until(0x180 * 100);
	CHECK(rises[2 + 23] == 2 && rd(TN_CMP(2)) == 0x180, "32-bit periodic comparator wraps: %#llx",
	      (unsigned long long)rd(TN_CMP(2)));

	/* halted HPET fires nothing */
	setup();
	wr(TN_CONF(2), ENB | ROUTE(20));
	wr(TN_CMP(2), 5);
	run_until(1000000);
	CHECK(rises[2 + 20] == 0 && timers_next(&timers) == UINT64_MAX, "no timers while halted");
	wr(GEN_CONF, 1);
	run_until(1000000 + 500);
	CHECK(rises[2 + 20] == 1, "enabling starts the count");
	wr(MAIN_CNT, 0);
	run_until(1000000 + 500 + 400);
	CHECK(rises[2 + 20] == 1, "not before the rewritten counter reaches the comparator");
	run_until(1000000 + 500 + 500);
	CHECK(rises[2 + 20] == 2, "counter written while running: matches again");

	/* bad accesses */
	CHECK(hpet_mmio_read(&h, 0x3fc, 8) == ~0ull && hpet_mmio_read(&h, 0x400, 4) == 0xffffffff,
	      "accesses crossing a register or past the block read all ones");
	uint64_t before = rd(MAIN_CNT);
	hpet_mmio_write(&h, 0xf4, 8, 0); /* crosses a register: ignored */
	CHECK(before && rd(MAIN_CNT) == before, "a write crossing a register is ignored");
	CHECK(rd(TN_FSB(0)) == 0, "FSB route register reads 0");
	TEST_EXIT();
}
