/*
 * Local APIC, xAPIC mode (Intel SDM vol. 3 ch. 11).
 *
 * Modelled: ID, version (6 LVT entries), TPR/APR/PPR and the acceptance rule (the highest IRR
 * vector is delivered when its priority class is above PPR's, §11.8.3.1), EOI with the EOI
 * broadcast to the IOAPICs for vectors whose TMR bit is set, LDR/DFR (flat and cluster logical
 * destinations), SVR (software enable, spurious vector, focus bit stored), ISR/TMR/IRR, ESR with
 * its write-to-latch protocol and the error LVT, ICR (fixed and lowest-priority IPIs to this APIC
 * by destination or shorthand, NMI; INIT and SIPI are counted for later SMP), the local vector
 * table (masks, delivery modes fixed/NMI/ExtINT, remote IRR for level-triggered LINT pins), LINT0
 * as the 8259's INTR in ExtINT (virtual-wire) mode, and the timer in one-shot, periodic and
 * TSC-deadline modes. The timer counts LAPIC_TIMER_HZ divided by DCR; its counter is computed
 * from the host clock (no work while it runs) and a machine timer fires at expiry. With
 * IA32_APIC_BASE.EN clear the APIC is off: LINT0 is the processor's INTR pin and LINT1 its NMI pin.
 *
 * Not modelled: x2APIC, thermal and performance-counter interrupts (their LVT entries are stored
 * but no source raises them), SMI and INIT to this processor (recorded, not acted on), focus
 * processor checking, EOI-broadcast suppression (not reported in the version register), the
 * input pins' polarity (inputs are taken as asserted levels, as with the IOAPIC).
 */
#include <errno.h>
#include <string.h>

#include "lapic.h"

#define APIC_VERSION (0x14u | (LVT_COUNT - 1u) << 16)

/* Register offsets */
enum {
	REG_ID = 0x020, REG_VERSION = 0x030, REG_TPR = 0x080, REG_APR = 0x090, REG_PPR = 0x0a0,
	REG_EOI = 0x0b0, REG_RRD = 0x0c0, REG_LDR = 0x0d0, REG_DFR = 0x0e0, REG_SVR = 0x0f0,
	REG_ISR = 0x100, REG_TMR = 0x180, REG_IRR = 0x200, REG_ESR = 0x280, REG_ICR_LO = 0x300,
	REG_ICR_HI = 0x310, REG_LVT = 0x320, REG_TIMER_INITIAL = 0x380, REG_TIMER_CURRENT = 0x390,
	REG_TIMER_DCR = 0x3e0,
};

#define SVR_ENABLE (1u << 8)
#define LVT_MASKED (1u << 16)
#define LVT_LEVEL (1u << 15)
#define LVT_REMOTE_IRR (1u << 14)
#define LVT_DM(v) (((v) >> 8) & 7)
#define LVT_TIMER_MODE(v) (((v) >> 17) & 3)
enum { TIMER_ONESHOT = 0, TIMER_PERIODIC = 1, TIMER_TSC_DEADLINE = 2 };

/* ESR bits (§11.5.3) */
#define ESR_SEND_ILLEGAL_VECTOR (1u << 5)
#define ESR_RECV_ILLEGAL_VECTOR (1u << 6)
#define ESR_ILLEGAL_REGISTER (1u << 7)

/* Writable bits of each LVT entry: vector, delivery mode, polarity, trigger, mask, timer mode. */
static const uint32_t lvt_writable[LVT_COUNT] = {
	[LVT_TIMER] = 0x000700ff, [LVT_THERMAL] = 0x000107ff, [LVT_PERF] = 0x000107ff,
	[LVT_LINT0] = 0x0001a7ff, [LVT_LINT1] = 0x0001a7ff, [LVT_ERROR] = 0x000100ff,
};

/* ---- 256-bit vector sets ---- */

static bool vec_test(const uint32_t *set, unsigned v)
{
	return set[v >> 5] >> (v & 31) & 1;
}

static void vec_set(uint32_t *set, unsigned v)
{
	set[v >> 5] |= 1u << (v & 31);
}

static void vec_clear(uint32_t *set, unsigned v)
{
	set[v >> 5] &= ~(1u << (v & 31));
}

static int vec_highest(const uint32_t *set)
{
	for (int k = 7; k >= 0; k--)
		if (set[k])
			return k * 32 + 31 - __builtin_clz(set[k]);
	return -1;
}

/* ---- state helpers ---- */

static bool hw_enabled(const struct lapic *l)
{
	return l->apic_base & APIC_BASE_ENABLE;
}

static bool sw_enabled(const struct lapic *l)
{
	return l->svr & SVR_ENABLE;
}

/* Processor priority (§11.8.3.1). */
static uint32_t ppr(const struct lapic *l)
{
	int isrv = vec_highest(l->isr);
	uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0;
	return (l->tpr & 0xf0) >= isr_class ? l->tpr & 0xff : isr_class;
}

/* Arbitration priority (§11.6.2.4 for the P6 family; kept for readers of the register). */
static uint32_t apr(const struct lapic *l)
{
	int irrv = vec_highest(l->irr), isrv = vec_highest(l->isr);
	uint32_t hi = (uint32_t)(irrv > isrv ? irrv : isrv);
	if (irrv < 0 && isrv < 0)
		hi = 0;
	return (l->tpr & 0xf0) >= (hi & 0xf0) ? l->tpr & 0xff : hi & 0xf0;
}

/* The vector the APIC would deliver now, or -1. */
static int deliverable_vector(const struct lapic *l)
{
	int v = vec_highest(l->irr);
	if (v < 0 || ((uint32_t)v & 0xf0) <= (ppr(l) & 0xf0))
		return -1;
	return v;
}

static bool lint0_extint(const struct lapic *l)
{
	uint32_t lvt = l->lvt[LVT_LINT0];
	return !(lvt & LVT_MASKED) && LVT_DM(lvt) == APIC_DM_EXTINT && l->lint_level[0];
}

bool lapic_has_intr(const struct lapic *l)
{
	if (!hw_enabled(l))
		return l->lint_level[0];
	return deliverable_vector(l) >= 0 || l->extint_pending || lint0_extint(l);
}

static void update(struct lapic *l)
{
	bool out = lapic_has_intr(l);
	if (out != l->output) {
		l->output = out;
		if (l->cb.intr_changed)
			l->cb.intr_changed(l->cb.opaque, out);
	}
}

static void raise_error(struct lapic *l, uint32_t bits);

/* Accepts a fixed interrupt into IRR (§11.8.3); TMR records its trigger mode. */
static void accept(struct lapic *l, unsigned vector, bool level)
{
	if (vector < 16) {
		raise_error(l, ESR_RECV_ILLEGAL_VECTOR);
		return;
	}
	vec_set(l->irr, vector);
	if (level)
		vec_set(l->tmr, vector);
	else
		vec_clear(l->tmr, vector);
}

static void raise_error(struct lapic *l, uint32_t bits)
{
	l->esr_pending |= bits;
	uint32_t lvt = l->lvt[LVT_ERROR];
	/* An illegal error vector would report itself again: deliver nothing then. */
	if (!(lvt & LVT_MASKED) && (lvt & 0xff) >= 16)
		accept(l, lvt & 0xff, false);
}

static void nmi(struct lapic *l)
{
	if (l->cb.nmi)
		l->cb.nmi(l->cb.opaque);
}

/* A message that reached this APIC. */
static void deliver_local(struct lapic *l, unsigned mode, unsigned vector, bool level)
{
	switch (mode) {
	case APIC_DM_FIXED:
	case APIC_DM_LOWEST:
		/* A software-disabled APIC holds what is pending but takes nothing new (§11.4.7.2). */
		if (sw_enabled(l))
			accept(l, vector, level);
		break;
	case APIC_DM_NMI: nmi(l); break;
	case APIC_DM_INIT: l->init_count++; break;
	case APIC_DM_SIPI:
		l->sipi_count++;
		l->last_sipi_vector = (uint8_t)vector;
		break;
	case APIC_DM_EXTINT: l->extint_pending = true; break;
	default: break; /* SMI: no SMM */
	}
}

/* Logical and physical destination matching (§11.6.2). */
static bool dest_match(const struct lapic *l, bool logical, uint8_t dest)
{
	if (dest == 0xff)
		return true; /* broadcast in either mode */
	if (!logical)
		return dest == l->id;
	uint8_t ldr = (uint8_t)(l->ldr >> 24);
	if ((l->dfr >> 28) == 0xf)
		return (ldr & dest) != 0; /* flat */
	return (dest >> 4) == (ldr >> 4) && (dest & ldr & 0xf) != 0; /* cluster */
}

bool lapic_deliver(struct lapic *l, const struct apic_msg *m)
{
	if (!hw_enabled(l) || !dest_match(l, m->dest_logical, m->dest))
		return false;
	deliver_local(l, m->delivery_mode, m->vector, m->level);
	update(l);
	return true;
}

/* ---- MSI (added for virtio-pci) ---- */

/* SDM vol. 3 §11.11: address 0xfeeXXXXX with the destination in bits 19:12 and the
 * destination mode in bit 2 (bit 3, redirection hint, only matters for lowest priority among
 * several processors); data holds the vector (7:0), delivery mode (10:8) and trigger mode
 * (bit 15). A write outside the 0xfee00000 window is not an interrupt message. */
bool lapic_msi(struct lapic *l, uint64_t addr, uint32_t data)
{
	if ((addr >> 20) != 0xfee)
		return false;
	struct apic_msg m = {
		.vector = (uint8_t)data,
		.delivery_mode = (uint8_t)((data >> 8) & 7),
		.dest_logical = (addr >> 2) & 1,
		.dest = (uint8_t)(addr >> 12),
		.level = (data >> 15) & 1,
	};
	return lapic_deliver(l, &m);
}

/* ---- LINT pins ---- */

/* Evaluates a LINT pin after its level or its LVT entry changed; rising: the pin just rose. */
static void lint_eval(struct lapic *l, unsigned pin, bool rising)
{
	uint32_t *lvt = &l->lvt[LVT_LINT0 + pin];
	bool level = l->lint_level[pin];
	if (*lvt & LVT_MASKED)
		return;
	switch (LVT_DM(*lvt)) {
	case APIC_DM_FIXED:
		/* LINT1 is always edge-sensitive (§11.5.1). */
		if ((*lvt & LVT_LEVEL) && pin == 0) {
			if (level && !(*lvt & LVT_REMOTE_IRR)) {
				accept(l, *lvt & 0xff, true);
				*lvt |= LVT_REMOTE_IRR;
			}
		} else if (rising) {
			accept(l, *lvt & 0xff, false);
		}
		break;
	case APIC_DM_NMI:
		if (rising)
			nmi(l);
		break;
	default: break; /* ExtINT is a level pass-through (lapic_has_intr); SMI/INIT unmodelled */
	}
}

void lapic_set_lint(struct lapic *l, unsigned pin, bool level)
{
	if (pin > 1)
		return;
	bool rising = level && !l->lint_level[pin];
	l->lint_level[pin] = level;
	if (!hw_enabled(l)) {
		if (pin == 1 && rising)
			nmi(l); /* APIC off: LINT1 is the NMI pin */
	} else {
		lint_eval(l, pin, rising);
	}
	update(l);
}

/* ---- interrupt acknowledge and EOI ---- */

static int extint_ack(struct lapic *l)
{
	return l->cb.extint_ack ? l->cb.extint_ack(l->cb.opaque) : -1;
}

int lapic_intr_ack(struct lapic *l)
{
	int v;
	if (!hw_enabled(l)) {
		v = l->lint_level[0] ? extint_ack(l) : -1;
	} else if ((v = deliverable_vector(l)) >= 0) {
		vec_clear(l->irr, (unsigned)v);
		vec_set(l->isr, (unsigned)v);
	} else if (l->extint_pending || lint0_extint(l)) {
		/* ExtINT bypasses IRR/ISR: the 8259 supplies the vector (§11.5.1). */
		l->extint_pending = false;
		v = extint_ack(l);
	}
	update(l);
	return v;
}

static void eoi(struct lapic *l)
{
	int v = vec_highest(l->isr);
	if (v < 0)
		return;
	vec_clear(l->isr, (unsigned)v);
	if (vec_test(l->tmr, (unsigned)v) && l->cb.eoi_broadcast)
		l->cb.eoi_broadcast(l->cb.opaque, (uint8_t)v);
	/* A level-triggered LINT0 interrupt may be taken again once its remote IRR clears. */
	uint32_t *lvt = &l->lvt[LVT_LINT0];
	if ((*lvt & LVT_REMOTE_IRR) && (*lvt & 0xff) == (uint32_t)v) {
		*lvt &= ~LVT_REMOTE_IRR;
		lint_eval(l, 0, false);
	}
}

/* ---- IPIs ---- */

static void send_ipi(struct lapic *l)
{
	uint32_t lo = l->icr_lo;
	unsigned vector = lo & 0xff, mode = (lo >> 8) & 7, shorthand = (lo >> 18) & 3;
	bool logical = lo & (1u << 11), assert = lo & (1u << 14), level = lo & (1u << 15);
	bool self;

	l->ipi_count++;
	l->last_ipi_lo = lo;
	l->last_ipi_hi = l->icr_hi;
	if ((mode == APIC_DM_FIXED || mode == APIC_DM_LOWEST) && vector < 16)
		raise_error(l, ESR_SEND_ILLEGAL_VECTOR);
	/* INIT level de-assert only synchronizes arbitration IDs (§11.6.1). */
	if (mode == APIC_DM_INIT && level && !assert)
		return;
	switch (shorthand) {
	case 0: self = dest_match(l, logical, (uint8_t)(l->icr_hi >> 24)); break;
	case 1: self = mode == APIC_DM_FIXED; break; /* self: fixed only */
	case 2: self = true; break;
	default: self = false; break; /* all excluding self: no other processor yet */
	}
	if (self)
		deliver_local(l, mode, vector, mode == APIC_DM_FIXED || mode == APIC_DM_LOWEST ? level : false);
}

/* ---- timer ---- */

static unsigned timer_divisor(const struct lapic *l)
{
	unsigned v = ((l->timer_dcr >> 1) & 4) | (l->timer_dcr & 3);
	return v == 7 ? 1 : 2u << v;
}

static unsigned timer_mode(const struct lapic *l)
{
	return LVT_TIMER_MODE(l->lvt[LVT_TIMER]);
}

/* Host nanoseconds for n ticks of the undivided timer clock (rounded up). */
static uint64_t ticks_to_ns(uint64_t n)
{
	return (uint64_t)(((unsigned __int128)n * 1000000000u + LAPIC_TIMER_HZ - 1) / LAPIC_TIMER_HZ);
}

/* Counts of the divided clock since counting started. */
static uint64_t timer_elapsed(const struct lapic *l, uint64_t now)
{
	if (now <= l->timer_start_ns)
		return 0;
	uint64_t ticks = (uint64_t)(((unsigned __int128)(now - l->timer_start_ns) * LAPIC_TIMER_HZ) / 1000000000u);
	return ticks / timer_divisor(l);
}

static uint32_t timer_current_at(const struct lapic *l, uint64_t now)
{
	if (!l->timer_running || timer_mode(l) == TIMER_TSC_DEADLINE)
		return 0;
	uint64_t d = timer_elapsed(l, now), n = l->timer_initial;
	if (timer_mode(l) == TIMER_PERIODIC)
		return (uint32_t)(n - d % n);
	return d >= n ? 0 : (uint32_t)(n - d);
}

uint32_t lapic_timer_current(struct lapic *l)
{
	return timer_current_at(l, l->now());
}

/* Host time of the end of period k (k >= 1) since counting started. */
static uint64_t period_end(const struct lapic *l, uint64_t k)
{
	return l->timer_start_ns + ticks_to_ns(k * l->timer_initial * timer_divisor(l));
}

static uint64_t tsc_deadline_ns(const struct lapic *l, uint64_t now)
{
	uint64_t tsc = l->cb.tsc ? l->cb.tsc(l->cb.opaque) : 0;
	if (l->tsc_deadline <= tsc || !l->cb.tsc_hz)
		return now;
	unsigned __int128 ns = ((unsigned __int128)(l->tsc_deadline - tsc) * 1000000000u + l->cb.tsc_hz - 1) /
			       l->cb.tsc_hz;
	return ns > UINT64_MAX - now ? UINT64_MAX : now + (uint64_t)ns;
}

/* Arms the machine timer for the next expiry, or disarms it. */
static void timer_arm(struct lapic *l)
{
	uint64_t now = l->now();
	if (timer_mode(l) == TIMER_TSC_DEADLINE) {
		if (l->tsc_deadline)
			timer_mod(l->timers, &l->timer, tsc_deadline_ns(l, now));
		else
			timer_del(l->timers, &l->timer);
		return;
	}
	if (!l->timer_running) {
		timer_del(l->timers, &l->timer);
		return;
	}
	uint64_t k = 1;
	if (timer_mode(l) == TIMER_PERIODIC)
		k = timer_elapsed(l, now) / l->timer_initial + 1;
	timer_mod(l->timers, &l->timer, period_end(l, k));
}

static void timer_fire(struct lapic *l)
{
	uint32_t lvt = l->lvt[LVT_TIMER];
	if (!(lvt & LVT_MASKED))
		accept(l, lvt & 0xff, false);
	update(l);
}

static void timer_expired(void *opaque)
{
	struct lapic *l = opaque;
	uint64_t now = l->now();
	switch (timer_mode(l)) {
	case TIMER_TSC_DEADLINE:
		if (!l->tsc_deadline)
			return;
		if (l->cb.tsc && l->cb.tsc(l->cb.opaque) < l->tsc_deadline) {
			timer_mod(l->timers, &l->timer, now + 1); /* clock rounding: not quite there */
			return;
		}
		l->tsc_deadline = 0; /* the MSR reads 0 once the timer fired (§11.5.4.1) */
		timer_fire(l);
		return;
	case TIMER_PERIODIC:
		if (!l->timer_running)
			return;
		timer_fire(l);
		timer_arm(l); /* periods missed while the host was away are merged into this one */
		return;
	default:
		if (!l->timer_running)
			return;
		if (now < period_end(l, 1)) {
			timer_arm(l);
			return;
		}
		l->timer_running = false;
		timer_fire(l);
		return;
	}
}

/* Stops counting where a one-shot count has run out (so mode changes do not revive it). */
static void timer_settle(struct lapic *l, uint64_t now)
{
	if (l->timer_running && timer_mode(l) == TIMER_ONESHOT && timer_elapsed(l, now) >= l->timer_initial)
		l->timer_running = false;
}

static void write_lvt_timer(struct lapic *l, uint32_t val)
{
	unsigned old_mode = timer_mode(l), new_mode = LVT_TIMER_MODE(val);
	uint64_t now = l->now();
	timer_settle(l, now);
	uint32_t cc = timer_current_at(l, now);
	l->lvt[LVT_TIMER] = val;
	/* Switching into or out of TSC-deadline mode disarms the timer (§11.5.4.1). */
	if (old_mode != new_mode && (old_mode == TIMER_TSC_DEADLINE || new_mode == TIMER_TSC_DEADLINE)) {
		l->tsc_deadline = 0;
		l->timer_running = false;
		l->timer_initial = 0;
	} else if (old_mode != new_mode && l->timer_running) {
		/* one-shot <-> periodic while counting: the count goes on from where it is */
		l->timer_start_ns = now - ticks_to_ns((uint64_t)(l->timer_initial - cc) * timer_divisor(l));
	}
	timer_arm(l);
}

static void write_timer_initial(struct lapic *l, uint32_t val)
{
	if (timer_mode(l) == TIMER_TSC_DEADLINE)
		return; /* ignored in TSC-deadline mode */
	l->timer_initial = val;
	l->timer_start_ns = l->now();
	l->timer_running = val != 0;
	timer_arm(l);
}

static void write_timer_dcr(struct lapic *l, uint32_t val)
{
	uint64_t now = l->now();
	timer_settle(l, now);
	uint32_t cc = timer_current_at(l, now);
	l->timer_dcr = val & 0xb;
	if (l->timer_running && timer_mode(l) != TIMER_TSC_DEADLINE) {
		/* the count goes on from where it is at the new rate */
		l->timer_start_ns = now - ticks_to_ns((uint64_t)(l->timer_initial - cc) * timer_divisor(l));
		timer_arm(l);
	}
}

uint64_t lapic_read_tsc_deadline(struct lapic *l)
{
	return hw_enabled(l) && timer_mode(l) == TIMER_TSC_DEADLINE ? l->tsc_deadline : 0;
}

void lapic_write_tsc_deadline(struct lapic *l, uint64_t deadline)
{
	if (!hw_enabled(l) || timer_mode(l) != TIMER_TSC_DEADLINE)
		return; /* writes are ignored outside TSC-deadline mode */
	l->tsc_deadline = deadline;
	timer_arm(l);
}

/* ---- registers ---- */

static uint32_t reg_read(struct lapic *l, unsigned reg)
{
	switch (reg) {
	case REG_ID: return (uint32_t)l->id << 24;
	case REG_VERSION: return APIC_VERSION;
	case REG_TPR: return l->tpr;
	case REG_APR: return apr(l);
	case REG_PPR: return ppr(l);
	case REG_EOI: return 0; /* write-only; reads are harmless */
	case REG_RRD: return 0;
	case REG_LDR: return l->ldr;
	case REG_DFR: return l->dfr;
	case REG_SVR: return l->svr;
	case REG_ESR: return l->esr;
	case REG_ICR_LO: return l->icr_lo; /* delivery status: always idle */
	case REG_ICR_HI: return l->icr_hi;
	case REG_TIMER_INITIAL: return l->timer_initial;
	case REG_TIMER_CURRENT: return timer_current_at(l, l->now());
	case REG_TIMER_DCR: return l->timer_dcr;
	}
	if (reg >= REG_ISR && reg < REG_ISR + 0x80)
		return l->isr[(reg - REG_ISR) >> 4];
	if (reg >= REG_TMR && reg < REG_TMR + 0x80)
		return l->tmr[(reg - REG_TMR) >> 4];
	if (reg >= REG_IRR && reg < REG_IRR + 0x80)
		return l->irr[(reg - REG_IRR) >> 4];
	if (reg >= REG_LVT && reg < REG_LVT + 0x10 * LVT_COUNT)
		return l->lvt[(reg - REG_LVT) >> 4];
	raise_error(l, ESR_ILLEGAL_REGISTER);
	update(l);
	return 0;
}

static void write_svr(struct lapic *l, uint32_t val)
{
	l->svr = val & 0x3ff; /* spurious vector, APIC enable, focus checking */
	if (!sw_enabled(l)) {
		/* Software disable masks every LVT entry (§11.4.7.2). */
		for (int k = 0; k < LVT_COUNT; k++)
			l->lvt[k] |= LVT_MASKED;
	}
}

static void reg_write(struct lapic *l, unsigned reg, uint32_t val)
{
	switch (reg) {
	case REG_ID: l->id = (uint8_t)(val >> 24); return;
	case REG_TPR: l->tpr = val & 0xff; return;
	case REG_EOI: eoi(l); return;
	case REG_LDR: l->ldr = val & 0xff000000u; return;
	case REG_DFR: l->dfr = val | 0x0fffffffu; return;
	case REG_SVR: write_svr(l, val); return;
	case REG_ESR:
		/* A write latches the errors seen since the previous write (§11.5.3). */
		l->esr = l->esr_pending;
		l->esr_pending = 0;
		return;
	case REG_ICR_LO:
		l->icr_lo = val & 0x000ccfffu;
		send_ipi(l);
		return;
	case REG_ICR_HI: l->icr_hi = val & 0xff000000u; return;
	case REG_TIMER_INITIAL: write_timer_initial(l, val); return;
	case REG_TIMER_DCR: write_timer_dcr(l, val); return;
	case REG_VERSION:
	case REG_APR:
	case REG_PPR:
	case REG_RRD:
	case REG_TIMER_CURRENT:
		return; /* read-only */
	}
	if (reg >= REG_ISR && reg < REG_IRR + 0x80)
		return; /* ISR, TMR, IRR: read-only */
	if (reg >= REG_LVT && reg < REG_LVT + 0x10 * LVT_COUNT) {
		unsigned k = (reg - REG_LVT) >> 4;
		uint32_t v = val & lvt_writable[k];
		if (!sw_enabled(l))
			v |= LVT_MASKED;
		if (k == LVT_TIMER) {
			write_lvt_timer(l, v);
			return;
		}
		l->lvt[k] = v | (l->lvt[k] & LVT_REMOTE_IRR);
		if (k == LVT_LINT0 || k == LVT_LINT1)
			lint_eval(l, k - LVT_LINT0, false);
		return;
	}
	raise_error(l, ESR_ILLEGAL_REGISTER);
}

/* Registers sit at 16-byte boundaries and are accessed as aligned 32-bit words (§11.4.1);
 * narrower reads return part of the word, other writes are ignored. */
static uint64_t lapic_mmio_read(void *dev, uint64_t off, unsigned size)
{
	struct lapic *l = dev;
	unsigned sub = off & 0xf;
	if (sub >= 4)
		return 0;
	uint64_t v = reg_read(l, off & 0xff0) >> (8 * sub);
	return size >= 4 ? v : v & ((1ull << (8 * size)) - 1);
}

static void lapic_mmio_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct lapic *l = dev;
	if ((off & 0xf) || size < 4)
		return;
	reg_write(l, off & 0xff0, (uint32_t)val);
	update(l);
}

const struct io_ops lapic_mmio_ops = { lapic_mmio_read, lapic_mmio_write };

/* ---- lifecycle ---- */

void lapic_reset(struct lapic *l)
{
	timer_del(l->timers, &l->timer);
	l->tpr = l->ldr = 0;
	l->dfr = 0xffffffffu;
	l->svr = 0xff;
	memset(l->isr, 0, sizeof(l->isr));
	memset(l->tmr, 0, sizeof(l->tmr));
	memset(l->irr, 0, sizeof(l->irr));
	l->esr = l->esr_pending = 0;
	l->icr_lo = l->icr_hi = 0;
	for (int k = 0; k < LVT_COUNT; k++)
		l->lvt[k] = LVT_MASKED;
	l->timer_initial = l->timer_dcr = 0;
	l->timer_running = false;
	l->timer_start_ns = 0;
	l->tsc_deadline = 0;
	l->extint_pending = false;
	update(l);
}

void lapic_bios_init(struct lapic *l)
{
	l->svr = SVR_ENABLE | 0xff;
	l->lvt[LVT_LINT0] = APIC_DM_EXTINT << 8;
	l->lvt[LVT_LINT1] = APIC_DM_NMI << 8;
	update(l);
}

void lapic_set_base(struct lapic *l, uint64_t apic_base)
{
	uint64_t old = l->apic_base;
	uint64_t page = (apic_base & APIC_BASE_ENABLE) ? apic_base & 0x000ffffffffff000ull : 0;
	l->apic_base = apic_base;
	if (page != l->mmio_base && l->mmio) {
		if (l->mmio_base)
			iobus_unregister(l->mmio, l->mmio_base);
		/* A base on top of another device leaves the page unreachable, as on real hardware
		 * where the result is undefined. */
		l->mmio_base = page && !iobus_register(l->mmio, page, LAPIC_MMIO_SIZE, &lapic_mmio_ops, l, "lapic")
				       ? page
				       : 0;
	}
	/* Clearing EN loses the APIC's state (§11.4.3). */
	if ((old & APIC_BASE_ENABLE) && !(apic_base & APIC_BASE_ENABLE))
		lapic_reset(l);
	update(l);
}

int lapic_init(struct lapic *l, struct iobus *mmio, struct timer_list *timers, const struct lapic_callbacks *cb,
	       uint64_t (*now)(void), uint64_t apic_base)
{
	memset(l, 0, sizeof(*l));
	l->mmio = mmio;
	l->timers = timers;
	l->now = now;
	l->cb = *cb;
	timer_init(&l->timer, timer_expired, l);
	lapic_reset(l);
	lapic_set_base(l, apic_base);
	if (mmio && (apic_base & APIC_BASE_ENABLE) && !l->mmio_base)
		return -EEXIST;
	return 0;
}
