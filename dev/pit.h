/*
 * Intel 8254 programmable interval timer at ports 0x40-0x43, plus the PC's port 0x61 (channel 2
 * gate, speaker, channel 2 output). Counters follow the host clock: a counter's value is computed
 * from the time it was loaded, so reading it costs nothing and no timer runs unless channel 0
 * has to interrupt.
 */
#ifndef SOFTVM_DEV_PIT_H
#define SOFTVM_DEV_PIT_H
#include <stdbool.h>
#include <stdint.h>

#include "dev/irq.h"
#include "machine/iobus.h"
#include "machine/timer.h"

#define PIT_FREQ 1193182u

struct pit_channel {
	uint32_t count;    /* reload value, 1..65536 */
	uint64_t load_ns;  /* when counting started (after the count was written or the gate rose) */
	uint8_t mode, rw_mode, bcd, gate;
	uint8_t write_hi_next, read_hi_next; /* lo/hi byte flip-flops */
	uint8_t latched, latch_hi_next, status_latched, status;
	uint16_t latch;
	uint8_t write_lo;  /* low byte written, waiting for the high byte */
	bool counting;     /* a count has been written */
	bool null_count;
};

struct pit {
	struct pit_channel ch[3];
	uint8_t port61;
	struct irq irq0;
	struct timer timer;
	struct timer_list *timers;
	uint64_t next_irq_ns;
	uint64_t (*now)(void); /* clock: clock_ns, or a test clock */
};

int pit_init(struct pit *p, struct iobus *pio, struct timer_list *timers, struct irq irq0, uint64_t (*now)(void));
void pit_reset(struct pit *p);
/* Counter value and OUT pin of channel ch now (for tests and port 0x61). */
uint16_t pit_read_counter(struct pit *p, int ch);
bool pit_out(struct pit *p, int ch);
#endif
