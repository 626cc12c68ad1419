/* ACPI PM block: PM1 status (write 1 to clear) and enable, the SCI as status & enable with
 * SCI_EN, PM1 control with SLP_TYP/SLP_EN (S5 -> power-off callback), the 3.579545 MHz timer with
 * TMR_STS on bit-31 transitions and its host timer, the reset register, and byte/word/dword
 * access widths. A fake clock makes every check exact. */
#include <string.h>

#include "dev/acpi_pm.h"
#include "tests/test.h"

#define NS 1000000000ull
#define PORT(off) (ACPI_PM_BASE + (off))
#define STS PORT(0)
#define EN PORT(2)
#define CNT PORT(ACPI_PM1_CNT_OFF)
#define TMR PORT(ACPI_PM_TMR_OFF)
#define RST PORT(ACPI_PM_RESET_OFF)

static uint64_t fake_now = 1000 * NS; /* not 0: the timer must count from its reset time */
static int sci_level, sci_edges, poweroffs, resets;

static uint64_t now_fn(void) { return fake_now; }

static void set_irq(void *ctx, unsigned line, int level)
{
	if (line != ACPI_PM_SCI_IRQ)
		return;
	if (level && !sci_level)
		sci_edges++;
	sci_level = level;
}

static void on_poweroff(void *opaque) { poweroffs++; }
static void on_reset(void *opaque) { resets++; }

static struct iobus pio;
static struct timer_list timers;
static struct acpi_pm pm;

static uint32_t in(unsigned port, unsigned size) { return (uint32_t)iobus_read(&pio, port, size); }
static void out(unsigned port, unsigned size, uint32_t v) { iobus_write(&pio, port, size, v); }

/* Timer ticks after ns nanoseconds, as the spec's frequency gives them (floor). */
static uint64_t ticks(uint64_t ns) { return (uint64_t)(((unsigned __int128)ns * ACPI_PM_TIMER_FREQ) / NS); }

/* Moves the clock to t, running device timers at their deadlines on the way. */
static void advance_to(uint64_t t)
{
	for (;;) {
		uint64_t next = timers_next(&timers);
		if (next > t)
			break;
		if (next > fake_now)
			fake_now = next;
		timers_run(&timers, fake_now);
	}
	fake_now = t;
	timers_run(&timers, fake_now);
}

static void test_reset_state(void)
{
	CHECK(in(STS, 2) == 0, "PM1_STS is 0 after reset");
	CHECK(in(EN, 2) == 0, "PM1_EN is 0 after reset");
	CHECK(in(CNT, 2) == PM1_SCI_EN, "PM1_CNT reads SCI_EN only (no SMI_CMD: always ACPI mode)");
	CHECK(in(TMR, 4) == 0, "timer reads 0 at its reset time");
	CHECK(sci_level == 0, "SCI low after reset");
	CHECK(in(PORT(6), 2) == 0 && in(PORT(0xd), 2) == 0, "reserved bytes read 0");
	CHECK(timers_next(&timers) == UINT64_MAX, "no host timer while TMR_EN is clear");
}

static void test_timer(void)
{
	uint64_t t0 = fake_now;
	fake_now = t0 + NS;
	CHECK(in(TMR, 4) == ACPI_PM_TIMER_FREQ, "timer counts 3579545 ticks per second (%u)", in(TMR, 4));
	fake_now = t0 + 279; /* one tick is 279.37 ns */
	CHECK(in(TMR, 4) == 0, "no tick before 279.4 ns");
	fake_now = t0 + 280;
	CHECK(in(TMR, 4) == 1, "first tick at 279.4 ns");
	fake_now = t0 + 123456789;
	uint32_t v = in(TMR, 4);
	CHECK(v == ticks(123456789), "timer = floor(ns * f / 1e9)");
	uint32_t bytes = in(TMR, 1) | in(TMR + 1, 1) << 8 | in(TMR + 2, 1) << 16 | (uint32_t)in(TMR + 3, 1) << 24;
	CHECK(bytes == v, "byte reads of the timer agree with the dword read");
	CHECK((in(TMR, 2) | (uint32_t)in(TMR + 2, 2) << 16) == v, "word reads of the timer agree");
	uint32_t a = in(TMR, 4);
	fake_now += 1000;
	CHECK(in(TMR, 4) - a == 3 || in(TMR, 4) - a == 4, "timer advances ~3.58 ticks per microsecond");
	a = in(TMR, 4);
	out(TMR, 4, 0);
	out(TMR + 2, 2, 0x1234);
	CHECK(in(TMR, 4) == a, "timer ignores writes");
	CHECK(acpi_pm_timer_value(&pm) == in(TMR, 4), "acpi_pm_timer_value() matches the port");
	/* 32 bits wrap after 2^32 / f = 1199.9 s */
	fake_now = t0 + 1200 * NS;
	CHECK(in(TMR, 4) == (uint32_t)ticks(1200 * NS), "timer wraps at 32 bits (%#x)", in(TMR, 4));
	fake_now += NS;
	acpi_pm_reset(&pm); /* restart the timer (and drop the TMR_STS the wrap set) for what follows */
}

/* TMR_STS is set when bit 31 changes: at 2^31 ticks (599.95 s) and again at 2^32. */
static void test_timer_status(void)
{
	uint64_t t0 = pm.tmr_start_ns;
	uint64_t msb_ns = t0 + (uint64_t)(((unsigned __int128)(1ull << 31) * NS + ACPI_PM_TIMER_FREQ - 1) /
					  ACPI_PM_TIMER_FREQ);
	fake_now = msb_ns - 1;
	CHECK(!(in(STS, 2) & PM1_TMR_STS), "TMR_STS clear before bit 31 sets");
	fake_now = msb_ns;
	CHECK(in(TMR, 4) == 0x80000000u, "timer reaches 0x80000000 at 599.95 s");
	CHECK(in(STS, 2) & PM1_TMR_STS, "TMR_STS set when bit 31 changes");
	CHECK(sci_level == 0, "no SCI while TMR_EN is clear");
	out(STS, 2, PM1_PWRBTN_STS);
	CHECK(in(STS, 2) & PM1_TMR_STS, "writing 1 to another bit leaves TMR_STS");
	out(STS, 2, PM1_TMR_STS);
	CHECK(!(in(STS, 2) & PM1_TMR_STS), "writing 1 to TMR_STS clears it");
	fake_now += NS;
	CHECK(!(in(STS, 2) & PM1_TMR_STS), "TMR_STS stays clear until the next transition");

	/* With TMR_EN the device arms a host timer for the next transition and raises the SCI
	 * there, without the guest reading anything. */
	out(EN, 2, PM1_TMR_EN);
	uint64_t next = t0 + (uint64_t)(((unsigned __int128)(1ull << 32) * NS + ACPI_PM_TIMER_FREQ - 1) /
					ACPI_PM_TIMER_FREQ);
	CHECK(timers_next(&timers) == next, "TMR_EN arms a host timer at the next bit-31 transition");
	advance_to(next - 1);
	CHECK(sci_level == 0, "no SCI before the transition");
	advance_to(next);
	CHECK(sci_level == 1, "SCI raised at the transition (timer overflow)");
	CHECK(in(STS, 2) & PM1_TMR_STS, "TMR_STS set by the host timer");
	CHECK(timers_next(&timers) > next, "host timer re-armed for the following transition");
	out(PORT(0), 1, PM1_TMR_STS);
	CHECK(sci_level == 0, "clearing TMR_STS (byte write) lowers the SCI");
	out(EN, 2, 0);
	CHECK(timers_next(&timers) == UINT64_MAX, "clearing TMR_EN stops the host timer");
}

static void test_power_button(void)
{
	acpi_pm_power_button(&pm);
	CHECK(in(STS, 2) & PM1_PWRBTN_STS, "power button sets PWRBTN_STS");
	CHECK(sci_level == 0, "no SCI while PWRBTN_EN is clear");
	int edges = sci_edges;
	out(EN, 2, PM1_PWRBTN_EN);
	CHECK(in(EN, 2) == PM1_PWRBTN_EN, "PWRBTN_EN reads back");
	CHECK(sci_level == 1 && sci_edges == edges + 1, "enabling a pending event raises the SCI");
	out(CNT, 2, 0);
	CHECK(sci_level == 0, "clearing SCI_EN lowers the SCI");
	out(CNT, 2, PM1_SCI_EN);
	CHECK(sci_level == 1, "setting SCI_EN raises it again");
	out(STS, 2, 0);
	CHECK(sci_level == 1 && (in(STS, 2) & PM1_PWRBTN_STS), "writing 0s to PM1_STS changes nothing");
	out(PORT(1), 1, PM1_PWRBTN_STS >> 8);
	CHECK(sci_level == 0 && !(in(STS, 2) & PM1_PWRBTN_STS), "byte write of 1 to PWRBTN_STS clears it");
	/* A dword write to the event block writes PM1_STS and PM1_EN together. */
	acpi_pm_power_button(&pm);
	out(PORT(0), 4, PM1_PWRBTN_STS | (uint32_t)PM1_TMR_EN << 16);
	CHECK(!(in(STS, 2) & PM1_PWRBTN_STS) && in(EN, 2) == PM1_TMR_EN && sci_level == 0,
	      "dword write clears PM1_STS bits and sets PM1_EN");
	out(EN, 2, 0xffff);
	CHECK(in(EN, 2) == (PM1_TMR_EN | PM1_GBL_EN | PM1_PWRBTN_EN | PM1_SLPBTN_EN | PM1_RTC_EN |
			    PM1_PCIEXP_WAKE_DIS),
	      "reserved PM1_EN bits read 0 (%#x)", in(EN, 2));
	out(EN, 2, 0);
	CHECK(in(PORT(0), 4) == 0, "dword read of the event block");
}

static void test_sleep(void)
{
	out(CNT, 2, PM1_SCI_EN | ACPI_PM_SLP_TYP_S5 << PM1_SLP_TYP_SHIFT);
	CHECK(poweroffs == 0, "SLP_TYP without SLP_EN does not sleep");
	CHECK(in(CNT, 2) == (PM1_SCI_EN | ACPI_PM_SLP_TYP_S5 << PM1_SLP_TYP_SHIFT), "SLP_TYP reads back");
	out(CNT, 2, PM1_SCI_EN | 1 << PM1_SLP_TYP_SHIFT | PM1_SLP_EN);
	CHECK(poweroffs == 0, "SLP_EN with a sleep type other than S5 is ignored");
	CHECK(!(in(CNT, 2) & PM1_SLP_EN), "SLP_EN reads 0");
	/* ACPICA's sequence (hwsleep.c): SLP_TYP first, then SLP_TYP | SLP_EN. */
	out(CNT, 2, PM1_SCI_EN | ACPI_PM_SLP_TYP_S5 << PM1_SLP_TYP_SHIFT);
	out(CNT, 2, PM1_SCI_EN | ACPI_PM_SLP_TYP_S5 << PM1_SLP_TYP_SHIFT | PM1_SLP_EN);
	CHECK(poweroffs == 1, "SLP_EN with SLP_TYP = S5 calls the power-off callback once");
	out(CNT + 1, 1, (ACPI_PM_SLP_TYP_S5 << PM1_SLP_TYP_SHIFT | PM1_SLP_EN) >> 8);
	CHECK(poweroffs == 2, "byte write of SLP_TYP | SLP_EN to the high byte powers off");
	out(CNT, 2, PM1_SCI_EN | PM1_GBL_RLS);
	CHECK(in(CNT, 2) == PM1_SCI_EN, "GBL_RLS is write-only");
}

static void test_reset_register(void)
{
	out(RST, 1, 0x02);
	CHECK(resets == 0, "reset register ignores values other than the FADT's RESET_VALUE");
	out(RST, 1, ACPI_PM_RESET_VALUE);
	CHECK(resets == 1, "writing RESET_VALUE (6) calls the reset callback");
	CHECK(in(RST, 1) == 0, "reset register reads 0");

	acpi_pm_power_button(&pm);
	out(EN, 2, PM1_PWRBTN_EN | PM1_TMR_EN);
	CHECK(sci_level == 1, "SCI up before device reset");
	acpi_pm_reset(&pm);
	CHECK(sci_level == 0 && in(STS, 2) == 0 && in(EN, 2) == 0 && in(CNT, 2) == PM1_SCI_EN,
	      "device reset clears status and enables and lowers the SCI");
	CHECK(timers_next(&timers) == UINT64_MAX, "device reset stops the host timer");
	CHECK(in(TMR, 4) == 0, "device reset restarts the timer");
}

/* Accesses a hostile guest can make: wide reads at the end of the block, every size anywhere. */
static void test_odd_accesses(void)
{
	for (unsigned off = 0; off < ACPI_PM_LEN; off++)
		for (unsigned size = 1; size <= 4; size *= 2) {
			(void)in(PORT(off), size);
			if (off != ACPI_PM_RESET_OFF && off != ACPI_PM1_CNT_OFF && off != ACPI_PM1_CNT_OFF + 1)
				out(PORT(off), size, 0);
		}
	CHECK(iobus_read(&pio, PORT(0xe), 4) >> 16 == 0xffff, "bytes past the block read as all ones");
	CHECK(poweroffs == 2 && resets == 1, "no callbacks from stray accesses");
}

int main(void)
{
	struct acpi_pm_callbacks cb = { on_poweroff, on_reset, NULL };
	struct irq sci = { set_irq, NULL, ACPI_PM_SCI_IRQ };
	CHECK(acpi_pm_init(&pm, &pio, ACPI_PM_BASE, &timers, sci, now_fn, &cb) == 0, "init registers the block");
	test_reset_state();
	test_timer();
	test_timer_status();
	test_power_button();
	test_sleep();
	test_reset_register();
	test_odd_accesses();
	TEST_EXIT();
}
