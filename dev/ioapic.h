/*
 * I/O APIC (Intel 82093AA datasheet; version 0x20 as in the ICH chipsets, with the EOI register):
 * 24 interrupt input pins, each routed by its redirection table entry to the local APICs as an
 * APIC bus message.
 */
#ifndef SOFTVM_DEV_IOAPIC_H
#define SOFTVM_DEV_IOAPIC_H
#include <stdbool.h>
#include <stdint.h>

#include "dev/lapic.h"
#include "machine/iobus.h"

#define IOAPIC_DEFAULT_BASE 0xfec00000ull
#define IOAPIC_MMIO_SIZE 0x1000
#define IOAPIC_PINS 24

struct ioapic {
	uint8_t id;       /* bits 27:24 of the ID register */
	uint8_t regsel;   /* IOREGSEL */
	uint64_t redir[IOAPIC_PINS];
	uint32_t pin_level; /* input levels (asserted = 1) */
	/* Sends a message to the local APICs (the machine's APIC bus). */
	void (*deliver)(void *opaque, const struct apic_msg *m);
	void *opaque;
};

/* mmio may be NULL (tests drive ioapic_mmio_ops directly). */
int ioapic_init(struct ioapic *io, struct iobus *mmio, uint64_t base, void (*deliver)(void *, const struct apic_msg *),
		void *opaque);
void ioapic_reset(struct ioapic *io);
/* Input pin (0..23) asserted (1) or not (0). */
void ioapic_set_irq(struct ioapic *io, unsigned pin, int level);
/* A local APIC's EOI for a level-triggered vector: clears remote IRR on pins with that vector. */
void ioapic_eoi(struct ioapic *io, uint8_t vector);

extern const struct io_ops ioapic_mmio_ops;
#endif
