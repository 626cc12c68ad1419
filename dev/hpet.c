/*
 * High Precision Event Timer (IA-PC HPET specification 1.0a, registers §2.3). One timer block at
 * 0xfed00000 with a 64-bit main counter at 10 MHz and three 64-bit comparators, all periodic
 * capable. The main counter follows the host clock: while enabled it is counter_base plus the
 * ticks since start_ns, so reading it costs nothing; a host timer is armed per comparator for its
 * next match only.
 *
 * Comparators match when the main counter reaches them (in 32-bit mode, when its low 32 bits
 * equal the comparator, so a one-shot 32-bit timer fires again every 2^32 ticks). In periodic mode
 * each match adds the period to the comparator; a write to the comparator sets the period, and
 * also the comparator itself when Tn_VAL_SET_CNF is set (which then clears), the sequence Linux
 * uses (§2.3.9.2.2). Missed periods (the VM was stopped) are skipped with one interrupt.
 * Interrupts are edge (a pulse per match) or level (Tn_INT_STS set per match, the line held until
 * software writes 1 to the status bit; status is set even with Tn_INT_ENB_CNF clear, §2.3.6).
 * Routing: the legacy replacement route sends timer 0 to IRQ0 and timer 1 to IRQ8; otherwise a
 * timer drives the IOAPIC input in Tn_INT_ROUTE_CNF, restricted to the inputs the machine wired.
 * Not modelled: FSB (MSI) delivery (Tn_FSB_INT_DEL_CAP is 0), timers without 64-bit support.
 */
#include <string.h>

#include "hpet.h"

#define HPET_GCAP_ID 0x000
#define HPET_GEN_CONF 0x010
#define HPET_GINTR_STA 0x020
#define HPET_MAIN_CNT 0x0f0
#define HPET_TIMER0 0x100 /* Tn registers at 0x100 + 0x20 * n */
#define HPET_TN_CONF 0x00
#define HPET_TN_CMP 0x08
#define HPET_TN_FSB 0x10

#define HPET_CAP_REV_ID 0x01
#define HPET_CAP_COUNT_SIZE (1ull << 13)
#define HPET_CAP_LEG_RT (1ull << 15)
#define HPET_CAP_VENDOR_INTEL 0x8086ull

#define HPET_CFG_ENABLE 0x1ull
#define HPET_CFG_LEGACY 0x2ull

#define TN_INT_TYPE_LEVEL (1ull << 1)
#define TN_INT_ENB (1ull << 2)
#define TN_TYPE_PERIODIC (1ull << 3)
#define TN_PER_INT_CAP (1ull << 4)
#define TN_SIZE_CAP (1ull << 5)
#define TN_VAL_SET (1ull << 6)
#define TN_32MODE (1ull << 8)
#define TN_ROUTE_SHIFT 9
#define TN_ROUTE_MASK (0x1full << TN_ROUTE_SHIFT)
#define TN_FSB_EN (1ull << 14)
#define TN_FSB_CAP (1ull << 15)
#define TN_WMASK (TN_INT_TYPE_LEVEL | TN_INT_ENB | TN_TYPE_PERIODIC | TN_VAL_SET | TN_32MODE | TN_ROUTE_MASK)

#define MAX_ARM_TICKS (1ull << 52) /* beyond ~14 years a match is never */

static uint64_t ns_to_ticks(uint64_t ns)
{
	return (uint64_t)(((unsigned __int128)ns * 1000000u) / HPET_PERIOD_FS);
}

static uint64_t ticks_to_ns(uint64_t ticks)
{
	return (uint64_t)(((unsigned __int128)ticks * HPET_PERIOD_FS + 999999u) / 1000000u);
}

static bool enabled(const struct hpet *h) { return h->config & HPET_CFG_ENABLE; }

static uint64_t counter_at(const struct hpet *h, uint64_t now)
{
	if (!enabled(h) || now <= h->start_ns)
		return h->counter_base;
	return h->counter_base + ns_to_ticks(now - h->start_ns);
}

uint64_t hpet_counter(const struct hpet *h)
{
	return counter_at(h, h->now());
}

static bool is32(const struct hpet_timer *t)
{
	return (t->config & TN_32MODE) || !(t->config & TN_SIZE_CAP);
}

static unsigned timer_index(const struct hpet_timer *t)
{
	return (unsigned)(t - t->hpet->t);
}

/* Output line a timer drives: 0/1 the legacy IRQ0/IRQ8, 2 + n IOAPIC input n. */
static unsigned line_of(const struct hpet *h, unsigned n)
{
	if ((h->config & HPET_CFG_LEGACY) && n < 2)
		return n;
	return 2 + (unsigned)((h->t[n].config & TN_ROUTE_MASK) >> TN_ROUTE_SHIFT);
}

static const struct irq *line_irq(const struct hpet *h, unsigned line)
{
	return line < 2 ? &h->wiring.legacy[line] : &h->wiring.route[line - 2];
}

/* Drives the level-triggered lines: high while a level timer's status bit is set, its interrupt
 * enabled and the HPET enabled. */
static void update_irqs(struct hpet *h)
{
	uint64_t want = 0;
	if (enabled(h)) {
		for (unsigned n = 0; n < HPET_NUM_TIMERS; n++) {
			const struct hpet_timer *t = &h->t[n];
			if ((t->config & TN_INT_TYPE_LEVEL) && (t->config & TN_INT_ENB) && (h->isr & (1ull << n)))
				want |= 1ull << line_of(h, n);
		}
	}
	uint64_t changed = want ^ h->lines_up;
	h->lines_up = want;
	for (unsigned l = 0; l < 2 + HPET_NUM_ROUTES; l++)
		if (changed & (1ull << l))
			irq_set(line_irq(h, l), (want >> l) & 1);
}

/* Ticks from main counter value c to the next value at which timer t matches (at least 1), or 0
 * if it never does. Modular, so a counter the guest set near 2^64 wraps like the hardware's. */
static uint64_t ticks_to_match(const struct hpet_timer *t, uint64_t c)
{
	if (is32(t))
		return (uint64_t)(uint32_t)((uint32_t)t->cmp - (uint32_t)c - 1u) + 1;
	return t->cmp > c ? t->cmp - c : 0;
}

static void arm(struct hpet_timer *t)
{
	struct hpet *h = t->hpet;
	if (!h->timers)
		return;
	timer_del(h->timers, &t->timer);
	/* An edge-triggered one-shot timer with its interrupt disabled has no visible effect. */
	if (!enabled(h) || !(t->config & (TN_INT_ENB | TN_TYPE_PERIODIC | TN_INT_TYPE_LEVEL)))
		return;
	uint64_t c = hpet_counter(h);
	uint64_t d = ticks_to_match(t, c);
	if (!d || d > MAX_ARM_TICKS)
		return;
	t->armed_match = c + d;
	timer_mod(h->timers, &t->timer, h->start_ns + ticks_to_ns(t->armed_match - h->counter_base));
}

static void arm_all(struct hpet *h)
{
	for (unsigned n = 0; n < HPET_NUM_TIMERS; n++)
		arm(&h->t[n]);
}

static void timer_fired(void *opaque)
{
	struct hpet_timer *t = opaque;
	struct hpet *h = t->hpet;
	unsigned n = timer_index(t);
	uint64_t c = hpet_counter(h);
	if (!enabled(h))
		return;
	if ((int64_t)(c - t->armed_match) < 0) { /* early (the clock disagrees with our rounding): wait on */
		arm(t);
		return;
	}
	if (t->config & TN_INT_TYPE_LEVEL) {
		h->isr |= 1ull << n;
		update_irqs(h);
	} else if (t->config & TN_INT_ENB) {
		unsigned l = line_of(h, n);
		if (!(h->lines_up & (1ull << l))) /* a line held high by a level timer has no edge */
			irq_pulse(line_irq(h, l));
	}
	if ((t->config & TN_TYPE_PERIODIC) && t->period) {
		/* The comparator matched at armed_match; step it past the counter. */
		uint64_t k = (c - t->armed_match) / t->period + 1;
		t->cmp += k * t->period;
		if (is32(t))
			t->cmp = (uint32_t)t->cmp;
	}
	arm(t);
}

/* ---- registers ---- */

static uint64_t deposit(uint64_t old, unsigned shift, unsigned size, uint64_t val)
{
	uint64_t mask = size >= 8 ? ~0ull : ((1ull << (8 * size)) - 1) << shift;
	return (old & ~mask) | ((val << shift) & mask);
}

/* (At file scope: clang refuses a declaration right after a case label before C2x.) */
_Static_assert(HPET_BLOCK_ID == (HPET_CAP_VENDOR_INTEL << 16 | HPET_CAP_LEG_RT | HPET_CAP_COUNT_SIZE |
				 (HPET_NUM_TIMERS - 1) << 8 | HPET_CAP_REV_ID),
	       "HPET_BLOCK_ID matches the capabilities");

static uint64_t read_reg(struct hpet *h, unsigned reg)
{
	switch (reg) {
	case HPET_GCAP_ID:
		return HPET_PERIOD_FS << 32 | HPET_BLOCK_ID;
	case HPET_GEN_CONF: return h->config;
	case HPET_GINTR_STA: return h->isr;
	case HPET_MAIN_CNT: return hpet_counter(h);
	}
	if (reg >= HPET_TIMER0 && reg < HPET_TIMER0 + 0x20 * HPET_NUM_TIMERS) {
		const struct hpet_timer *t = &h->t[(reg - HPET_TIMER0) / 0x20];
		switch ((reg - HPET_TIMER0) % 0x20) {
		case HPET_TN_CONF: return t->config;
		case HPET_TN_CMP: return t->cmp;
		default: return 0; /* Tn_FSB_INT_ROUTE: no FSB delivery */
		}
	}
	return 0; /* reserved */
}

static void write_timer_config(struct hpet *h, unsigned n, uint64_t val)
{
	struct hpet_timer *t = &h->t[n];
	uint64_t old = t->config;
	uint64_t v = (old & ~TN_WMASK) | (val & TN_WMASK);
	if (!(old & TN_PER_INT_CAP))
		v &= ~(TN_TYPE_PERIODIC | TN_VAL_SET);
	if (!(old & TN_SIZE_CAP))
		v &= ~TN_32MODE;
	/* A route the timer cannot use is not taken: the value read back differs (§2.3.8). */
	unsigned route = (unsigned)((v & TN_ROUTE_MASK) >> TN_ROUTE_SHIFT);
	if (!((old >> 32) & (1ull << route)))
		v = (v & ~TN_ROUTE_MASK) | (old & TN_ROUTE_MASK);
	if (v & TN_32MODE) {
		t->cmp = (uint32_t)t->cmp;
		t->period = (uint32_t)t->period;
	}
	if (!(v & TN_INT_TYPE_LEVEL))
		h->isr &= ~(1ull << n); /* status is only kept for level-triggered interrupts */
	t->config = v;
	update_irqs(h);
	arm(t);
}

static void write_comparator(struct hpet *h, unsigned n, unsigned shift, unsigned size, uint64_t val)
{
	struct hpet_timer *t = &h->t[n];
	bool periodic = t->config & TN_TYPE_PERIODIC;
	if (!periodic || (t->config & TN_VAL_SET))
		t->cmp = deposit(t->cmp, shift, size, val);
	if (periodic)
		t->period = deposit(t->period, shift, size, val);
	if (is32(t)) {
		t->cmp = (uint32_t)t->cmp;
		t->period = (uint32_t)t->period;
	}
	t->config &= ~TN_VAL_SET;
	arm(t);
}

static void write_reg(struct hpet *h, unsigned reg, unsigned shift, unsigned size, uint64_t val)
{
	uint64_t now = h->now();
	switch (reg) {
	case HPET_GEN_CONF: {
		uint64_t old = h->config;
		uint64_t v = deposit(old, shift, size, val) & (HPET_CFG_ENABLE | HPET_CFG_LEGACY);
		if ((v ^ old) & HPET_CFG_ENABLE) {
			if (v & HPET_CFG_ENABLE) {
				h->start_ns = now;
			} else {
				h->counter_base = counter_at(h, now); /* halt: freeze the count */
			}
		}
		h->config = v;
		update_irqs(h);
		arm_all(h);
		if (((v ^ old) & HPET_CFG_LEGACY) && h->wiring.legacy_changed)
			h->wiring.legacy_changed(h->wiring.ctx, v & HPET_CFG_LEGACY);
		return;
	}
	case HPET_GINTR_STA:
		h->isr &= ~(deposit(0, shift, size, val) & ((1ull << HPET_NUM_TIMERS) - 1));
		update_irqs(h);
		return;
	case HPET_MAIN_CNT:
		/* Software should halt the counter first (§2.3.7); a write while running restarts the
		 * count from the written value. */
		h->counter_base = deposit(counter_at(h, now), shift, size, val);
		h->start_ns = now;
		arm_all(h);
		return;
	}
	if (reg >= HPET_TIMER0 && reg < HPET_TIMER0 + 0x20 * HPET_NUM_TIMERS) {
		unsigned n = (reg - HPET_TIMER0) / 0x20;
		switch ((reg - HPET_TIMER0) % 0x20) {
		case HPET_TN_CONF: write_timer_config(h, n, deposit(h->t[n].config, shift, size, val)); break;
		case HPET_TN_CMP: write_comparator(h, n, shift, size, val); break;
		default: break; /* Tn_FSB_INT_ROUTE: no FSB delivery */
		}
	}
}

/* Registers are 64 bits wide; 32-bit (and, leniently, smaller) accesses reach part of one. */
uint64_t hpet_mmio_read(void *dev, uint64_t off, unsigned size)
{
	struct hpet *h = dev;
	unsigned shift = (unsigned)(off & 7) * 8;
	if (off >= HPET_MMIO_SIZE || !size || size > 8 || (off & 7) + size > 8)
		return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
	uint64_t v = read_reg(h, (unsigned)(off & ~7ull)) >> shift;
	return size >= 8 ? v : v & ((1ull << (8 * size)) - 1);
}

void hpet_mmio_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct hpet *h = dev;
	if (off >= HPET_MMIO_SIZE || !size || size > 8 || (off & 7) + size > 8)
		return;
	write_reg(h, (unsigned)(off & ~7ull), (unsigned)(off & 7) * 8, size, val);
}

static const struct io_ops hpet_ops = { hpet_mmio_read, hpet_mmio_write };

void hpet_reset(struct hpet *h)
{
	for (unsigned n = 0; n < HPET_NUM_TIMERS; n++) {
		struct hpet_timer *t = &h->t[n];
		if (h->timers)
			timer_del(h->timers, &t->timer);
		uint32_t routes = 0;
		for (unsigned r = 0; r < HPET_NUM_ROUTES; r++)
			if (h->wiring.route[r].set && (h->wiring.route_cap & (1u << r)))
				routes |= 1u << r;
		t->config = (uint64_t)routes << 32 | TN_PER_INT_CAP | TN_SIZE_CAP;
		t->cmp = ~0ull;
		t->period = 0;
		t->armed_match = 0;
	}
	bool was_legacy = h->config & HPET_CFG_LEGACY;
	h->config = 0;
	h->isr = 0;
	h->counter_base = 0;
	h->start_ns = h->now();
	update_irqs(h);
	if (was_legacy && h->wiring.legacy_changed)
		h->wiring.legacy_changed(h->wiring.ctx, false);
}

int hpet_init(struct hpet *h, struct iobus *mmio, uint64_t base, struct timer_list *timers,
	      const struct hpet_wiring *w, uint64_t (*now)(void))
{
	memset(h, 0, sizeof(*h));
	if (w)
		h->wiring = *w;
	h->timers = timers;
	h->now = now ? now : clock_ns;
	for (unsigned n = 0; n < HPET_NUM_TIMERS; n++) {
		h->t[n].hpet = h;
		timer_init(&h->t[n].timer, timer_fired, &h->t[n]);
	}
	hpet_reset(h);
	if (!mmio)
		return 0;
	return iobus_register(mmio, base, HPET_MMIO_SIZE, &hpet_ops, h, "hpet");
}
