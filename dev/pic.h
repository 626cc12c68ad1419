/*
 * Intel 8259A programmable interrupt controller pair (master at 0x20, slave at 0xa0 cascaded on
 * IRQ 2) with the ELCR edge/level registers at 0x4d0/0x4d1.
 */
#ifndef SOFTVM_DEV_PIC_H
#define SOFTVM_DEV_PIC_H
#include <stdbool.h>
#include <stdint.h>

#include "machine/iobus.h"

struct pic_chip {
	uint8_t irr, isr, imr;
	uint8_t last_level;   /* input line levels, for edge detection */
	uint8_t vector_base;  /* ICW2 */
	uint8_t icw_step;     /* 0: ready; 2..4: expecting ICW2..ICW4 */
	uint8_t icw4_needed, single, auto_eoi, special_mask, poll, read_isr, rotate_on_aeoi;
	uint8_t priority_add; /* lowest-priority rotation: IRQ with highest priority */
	uint8_t elcr, elcr_mask;
};

struct pic {
	struct pic_chip chip[2];
	/* INTR output changed: the machine forwards it to the CPU (or the local APIC's LINT0). */
	void (*intr_changed)(void *opaque, bool level);
	void *opaque;
	bool output;
};

int pic_init(struct pic *p, struct iobus *pio, void (*intr_changed)(void *, bool), void *opaque);
void pic_reset(struct pic *p);
/* Sets ISA interrupt line irq (0..15) to level. */
void pic_set_irq(struct pic *p, unsigned irq, int level);
/* Interrupt acknowledge cycle: the vector to deliver (spurious 7/15 if nothing is left). */
int pic_ack(struct pic *p);
bool pic_has_intr(const struct pic *p);
#endif
