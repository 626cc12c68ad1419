/*
 * Local APIC in xAPIC mode (Intel SDM vol. 3 ch. 11): the registers in the 4 KiB MMIO page at the
 * base IA32_APIC_BASE names, interrupt acceptance and priority, EOI, IPIs, the local vector table
 * and the APIC timer (one-shot, periodic, TSC-deadline). One processor: IPIs to other APIC IDs
 * are recorded, not delivered.
 */
#ifndef SOFTVM_DEV_LAPIC_H
#define SOFTVM_DEV_LAPIC_H
#include <stdbool.h>
#include <stdint.h>

#include "machine/iobus.h"
#include "machine/timer.h"

#define LAPIC_DEFAULT_BASE 0xfee00000ull
#define LAPIC_MMIO_SIZE 0x1000
/* The timer counts the core crystal clock, the frequency CPUID leaf 0x15 reports (cpu/cpuid.c),
 * so Linux takes it from there instead of calibrating. */
#define LAPIC_TIMER_HZ 25000000u
#define MSR_IA32_TSC_DEADLINE 0x6e0

/* IA32_APIC_BASE bits (the CPU owns the MSR; the machine tells the APIC). */
#define APIC_BASE_BSP (1ull << 8)
#define APIC_BASE_ENABLE (1ull << 11)

/* Delivery modes, as in the ICR, the LVT and the IOAPIC redirection table. */
enum {
	APIC_DM_FIXED = 0,
	APIC_DM_LOWEST = 1,
	APIC_DM_SMI = 2,
	APIC_DM_NMI = 4,
	APIC_DM_INIT = 5,
	APIC_DM_SIPI = 6,
	APIC_DM_EXTINT = 7,
};

/* An interrupt message on the APIC bus (from the IOAPIC, an IPI, later MSI). */
struct apic_msg {
	uint8_t vector;
	uint8_t delivery_mode; /* APIC_DM_* */
	bool dest_logical;     /* destination mode: logical (LDR/DFR) or physical (APIC ID) */
	uint8_t dest;
	bool level;            /* level-triggered: TMR is set and EOI is broadcast */
};

enum { LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR, LVT_COUNT };

struct lapic_callbacks {
	void *opaque;
	/* The processor's INTR input: an interrupt (or the 8259's ExtINT) is ready to be taken. */
	void (*intr_changed)(void *opaque, bool level);
	void (*nmi)(void *opaque);
	/* ExtINT acknowledge: the 8259's vector. */
	int (*extint_ack)(void *opaque);
	/* EOI of a level-triggered vector: the IOAPICs clear their remote IRR. */
	void (*eoi_broadcast)(void *opaque, uint8_t vector);
	/* The guest's time-stamp counter and its frequency (TSC-deadline mode). */
	uint64_t (*tsc)(void *opaque);
	uint64_t tsc_hz;
};

struct lapic {
	/* architectural registers */
	uint8_t id;
	uint32_t tpr, ldr, dfr, svr;
	uint32_t isr[8], tmr[8], irr[8];
	uint32_t esr, esr_pending; /* ESR as last latched; errors since the last ESR write */
	uint32_t icr_lo, icr_hi;
	uint32_t lvt[LVT_COUNT];
	uint32_t timer_initial, timer_dcr;
	uint64_t tsc_deadline;

	/* timer: counting started at timer_start_ns (host clock) from timer_initial */
	uint64_t timer_start_ns;
	bool timer_running;

	uint64_t apic_base;        /* IA32_APIC_BASE as last given */
	uint64_t mmio_base;        /* where the page is registered, 0 when not */
	bool lint_level[2];        /* LINT0/LINT1 input pins */
	bool extint_pending;       /* ExtINT message from the IOAPIC not yet acknowledged */
	bool output;               /* INTR as last reported */

	/* INIT/SIPI and IPIs to other processors, kept for SMP */
	uint32_t ipi_count, init_count, sipi_count;
	uint8_t last_sipi_vector;
	uint32_t last_ipi_lo, last_ipi_hi;

	struct iobus *mmio;
	struct timer timer;
	struct timer_list *timers;
	uint64_t (*now)(void);
	struct lapic_callbacks cb;
};

/* Creates the APIC with IA32_APIC_BASE = apic_base (registering its page at the base when
 * enabled) and its power-up state. mmio may be NULL (tests drive lapic_mmio_ops directly). */
int lapic_init(struct lapic *l, struct iobus *mmio, struct timer_list *timers, const struct lapic_callbacks *cb,
	       uint64_t (*now)(void), uint64_t apic_base);
/* Power-up / RESET state (SDM vol. 3 §11.4.7.1); the APIC ID is kept. */
void lapic_reset(struct lapic *l);
/* The state a PC BIOS leaves for the boot processor: software-enabled, LINT0 in ExtINT mode for
 * the 8259 (virtual-wire mode), LINT1 as NMI. */
void lapic_bios_init(struct lapic *l);
/* IA32_APIC_BASE changed (or may have): moves the page, and disables the APIC when EN is clear
 * (then LINT0 is the processor's INTR pin and the APIC loses its state). */
void lapic_set_base(struct lapic *l, uint64_t apic_base);

/* Input pins: LINT0 (the 8259's INTR on a PC) and LINT1 (NMI). */
void lapic_set_lint(struct lapic *l, unsigned pin, bool level);
/* A message from the APIC bus; returns true if this APIC is a destination. */
bool lapic_deliver(struct lapic *l, const struct apic_msg *m);
/* A PCI MSI/MSI-X message (address, data) as the chipset turns it into an APIC bus message;
 * returns true if this APIC is a destination. */
bool lapic_msi(struct lapic *l, uint64_t addr, uint32_t data);

/* The processor's INTR input, and its acknowledge cycle: the vector to take (now in service),
 * or -1 when nothing is deliverable. */
bool lapic_has_intr(const struct lapic *l);
int lapic_intr_ack(struct lapic *l);

/* IA32_TSC_DEADLINE (MSR 0x6e0). */
uint64_t lapic_read_tsc_deadline(struct lapic *l);
void lapic_write_tsc_deadline(struct lapic *l, uint64_t deadline);

/* The register page; offsets are from the APIC base. */
extern const struct io_ops lapic_mmio_ops;
/* Current-count register now (for tests). */
uint32_t lapic_timer_current(struct lapic *l);
#endif
