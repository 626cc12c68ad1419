/*
 * High Precision Event Timer (IA-PC HPET 1.0a): a 64-bit 10 MHz main counter and three
 * comparators at 0xfed00000, following the host clock.
 */
#ifndef SOFTVM_DEV_HPET_H
#define SOFTVM_DEV_HPET_H
#include <stdbool.h>
#include <stdint.h>

#include "dev/irq.h"
#include "machine/iobus.h"
#include "machine/timer.h"

#define HPET_BASE 0xfed00000ull
#define HPET_MMIO_SIZE 0x400
#define HPET_NUM_TIMERS 3
#define HPET_PERIOD_FS 100000000ull /* 10 MHz */
#define HPET_NUM_ROUTES 32          /* Tn_INT_ROUTE_CNF is 5 bits: IOAPIC inputs 0-31 */
/* GCAP_ID bits 31:0 (vendor 8086, legacy route capable, 64-bit, 3 timers, revision 1): the ACPI
 * HPET table's event timer block ID (HPET 1.0a §3.2.4). */
#define HPET_BLOCK_ID 0x8086a201u

struct hpet_timer {
	uint64_t config;   /* Tn_CONF_CAP: capability bits are fixed, configuration bits written */
	uint64_t cmp;      /* comparator (the next match in periodic mode) */
	uint64_t period;   /* periodic increment */
	uint64_t armed_match; /* main counter value the host timer is armed for */
	struct timer timer;
	struct hpet *hpet;
};

struct hpet_wiring {
	/* Legacy replacement route: timer 0 drives IRQ0 (PIC IRQ 0 and IOAPIC input 2), timer 1
	 * IRQ8 (PIC IRQ 8 and IOAPIC input 8). */
	struct irq legacy[2];
	/* Tn_INT_ROUTE_CNF targets, by IOAPIC input; only wired inputs (set != NULL) that are in
	 * route_cap are advertised in Tn_INT_ROUTE_CAP. */
	struct irq route[HPET_NUM_ROUTES];
	uint32_t route_cap;
	/* Optional: legacy replacement switched on or off; the machine disconnects the PIT from IRQ0
	 * and the RTC from IRQ8 while it is on (HPET 1.0a §2.3.9.2.1). */
	void (*legacy_changed)(void *ctx, bool on);
	void *ctx;
};

struct hpet {
	uint64_t config; /* GEN_CONF */
	uint64_t isr;    /* GINTR_STA */
	uint64_t counter_base; /* main counter at start_ns (the frozen value while halted) */
	uint64_t start_ns;
	struct hpet_timer t[HPET_NUM_TIMERS];
	uint64_t lines_up;     /* output lines held high: bit 0/1 legacy, 2+n route n */
	struct hpet_wiring wiring;
	struct timer_list *timers;
	uint64_t (*now)(void); /* clock: clock_ns, or a test clock */
};

/* Registers the MMIO window at base (HPET_BASE) on mmio (may be NULL for tests) and resets. */
int hpet_init(struct hpet *h, struct iobus *mmio, uint64_t base, struct timer_list *timers,
	      const struct hpet_wiring *w, uint64_t (*now)(void));
void hpet_reset(struct hpet *h);
/* The main counter now. */
uint64_t hpet_counter(const struct hpet *h);
/* Register access as the guest does it (for tests and ACPI). */
uint64_t hpet_mmio_read(void *dev, uint64_t off, unsigned size);
void hpet_mmio_write(void *dev, uint64_t off, unsigned size, uint64_t val);
#endif
