/*
 * Host time and device timers. Guest time follows the host's monotonic clock. Devices arm timers
 * with absolute deadlines in host nanoseconds; the vCPU thread runs expired timers between CPU
 * slices and sleeps until the earliest deadline when the guest halts. Single-threaded: timers
 * are only touched from the vCPU thread.
 */
#ifndef SOFTVM_MACHINE_TIMER_H
#define SOFTVM_MACHINE_TIMER_H
#include <stdbool.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t clock_ns(void);

struct timer {
	uint64_t expires;
	void (*cb)(void *opaque);
	void *opaque;
	struct timer *next;
	bool armed;
};

struct timer_list {
	struct timer *head; /* sorted by expires */
};

void timer_init(struct timer *t, void (*cb)(void *opaque), void *opaque);
/* (Re)arms t to fire at expires_ns (absolute, clock_ns() time base). */
void timer_mod(struct timer_list *l, struct timer *t, uint64_t expires_ns);
void timer_del(struct timer_list *l, struct timer *t);
/* Runs every timer due at now; returns the next deadline, or UINT64_MAX if none is armed. */
uint64_t timers_run(struct timer_list *l, uint64_t now);
uint64_t timers_next(const struct timer_list *l);
#endif
