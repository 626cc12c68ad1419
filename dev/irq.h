/*
 * An interrupt line as a device sees it: a callback the machine wires to the interrupt
 * controllers (PIC and IOAPIC for ISA lines, MSI for PCI devices later). level is 0 or 1; edge
 * devices pulse (1 then 0).
 */
#ifndef SOFTVM_DEV_IRQ_H
#define SOFTVM_DEV_IRQ_H

struct irq {
	void (*set)(void *ctx, unsigned line, int level);
	void *ctx;
	unsigned line;
};

static inline void irq_set(const struct irq *i, int level)
{
	if (i->set)
		i->set(i->ctx, i->line, level);
}

static inline void irq_pulse(const struct irq *i)
{
	irq_set(i, 1);
	irq_set(i, 0);
}
#endif
