/*
 * I/O APIC (Intel 82093AA datasheet §3; the EOI register at offset 0x40 of version 0x20 parts,
 * as in the ICH I/O APIC). Registers through IOREGSEL (0x00) and IOWIN (0x10): ID, version
 * (0x20, 24 entries), arbitration ID and the redirection table (vector, delivery mode fixed /
 * lowest priority / SMI / NMI / INIT / ExtINT, destination mode, polarity, remote IRR, trigger
 * mode, mask, destination).
 *
 * Edge-triggered pins send a message on a rising edge of an unmasked pin; edges on a masked pin
 * are lost (datasheet, mask bit). Level-triggered pins in fixed or lowest-priority mode send while
 * the pin is asserted and remote IRR is clear, set remote IRR, and send again after the EOI (from
 * a local APIC's EOI broadcast or the EOI register) if the pin is still asserted; unmasking an
 * asserted level pin sends at once. NMI, SMI, INIT and ExtINT are always edge-triggered.
 *
 * Not modelled: the input polarity (inputs are asserted levels, as the machine's devices drive
 * them; the bit is stored), delivery status (messages are sent at once, so it reads idle),
 * arbitration on the APIC bus.
 */
#include <string.h>

#include "ioapic.h"

#define IOAPIC_VERSION (0x20u | (IOAPIC_PINS - 1u) << 16)

enum { IOREGSEL = 0x00, IOWIN = 0x10, IOEOI = 0x40 };
enum { REG_ID = 0x00, REG_VERSION = 0x01, REG_ARB = 0x02, REG_REDIR = 0x10 };

#define RTE_DM(e) (((e) >> 8) & 7)
#define RTE_DEST_LOGICAL (1ull << 11)
#define RTE_POLARITY (1ull << 13)
#define RTE_REMOTE_IRR (1ull << 14)
#define RTE_LEVEL (1ull << 15)
#define RTE_MASKED (1ull << 16)
/* vector, delivery mode, destination mode, polarity, trigger mode, mask, destination */
#define RTE_WRITABLE (0xff000000000000ffull | 0x700 | RTE_DEST_LOGICAL | RTE_POLARITY | RTE_LEVEL | RTE_MASKED)

static bool level_mode(uint64_t e)
{
	unsigned dm = RTE_DM(e);
	return (e & RTE_LEVEL) && (dm == APIC_DM_FIXED || dm == APIC_DM_LOWEST);
}

static void send(struct ioapic *io, unsigned pin)
{
	uint64_t e = io->redir[pin];
	struct apic_msg m = {
		.vector = (uint8_t)e,
		.delivery_mode = (uint8_t)RTE_DM(e),
		.dest_logical = e & RTE_DEST_LOGICAL,
		.dest = (uint8_t)(e >> 56),
		.level = level_mode(e),
	};
	if (m.level)
		io->redir[pin] |= RTE_REMOTE_IRR;
	if (io->deliver)
		io->deliver(io->opaque, &m);
}

/* Level pins: sends if the pin is asserted, unmasked and not waiting for an EOI. */
static void service_level(struct ioapic *io, unsigned pin)
{
	uint64_t e = io->redir[pin];
	if (level_mode(e) && !(e & RTE_MASKED) && !(e & RTE_REMOTE_IRR) && (io->pin_level >> pin & 1))
		send(io, pin);
}

void ioapic_set_irq(struct ioapic *io, unsigned pin, int level)
{
	if (pin >= IOAPIC_PINS)
		return;
	uint32_t bit = 1u << pin;
	bool rising = level && !(io->pin_level & bit);
	if (level)
		io->pin_level |= bit;
	else
		io->pin_level &= ~bit;
	uint64_t e = io->redir[pin];
	if (e & RTE_MASKED)
		return;
	if (level_mode(e))
		service_level(io, pin);
	else if (rising)
		send(io, pin);
}

void ioapic_eoi(struct ioapic *io, uint8_t vector)
{
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
		if ((io->redir[pin] & RTE_REMOTE_IRR) && (uint8_t)io->redir[pin] == vector) {
			io->redir[pin] &= ~RTE_REMOTE_IRR;
			service_level(io, pin);
		}
	}
}

static uint32_t reg_read(struct ioapic *io)
{
	unsigned r = io->regsel;
	switch (r) {
	case REG_ID: return (uint32_t)io->id << 24;
	case REG_VERSION: return IOAPIC_VERSION;
	case REG_ARB: return (uint32_t)io->id << 24; /* loaded from the ID */
	}
	if (r >= REG_REDIR && r < REG_REDIR + 2 * IOAPIC_PINS) {
		uint64_t e = io->redir[(r - REG_REDIR) >> 1];
		return (uint32_t)(r & 1 ? e >> 32 : e);
	}
	return 0;
}

static void reg_write(struct ioapic *io, uint32_t val)
{
	unsigned r = io->regsel;
	if (r == REG_ID) {
		io->id = (val >> 24) & 0xf;
		return;
	}
	if (r < REG_REDIR || r >= REG_REDIR + 2 * IOAPIC_PINS)
		return; /* version, arbitration ID: read-only */
	unsigned pin = (r - REG_REDIR) >> 1;
	uint64_t e = io->redir[pin];
	uint64_t v = r & 1 ? (e & 0xffffffffull) | (uint64_t)val << 32 : (e & ~0xffffffffull) | val;
	v = (v & RTE_WRITABLE) | (e & RTE_REMOTE_IRR);
	/* An edge-triggered entry has no remote IRR: switching to edge clears it (older Linux
	 * kernels clear a stuck remote IRR that way on I/O APICs without the EOI register). */
	if (!(v & RTE_LEVEL))
		v &= ~RTE_REMOTE_IRR;
	io->redir[pin] = v;
	service_level(io, pin);
}

static uint64_t ioapic_mmio_read(void *dev, uint64_t off, unsigned size)
{
	struct ioapic *io = dev;
	switch (off) {
	case IOREGSEL: return io->regsel;
	case IOWIN: return reg_read(io);
	default: return 0;
	}
}

static void ioapic_mmio_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct ioapic *io = dev;
	switch (off) {
	case IOREGSEL: io->regsel = (uint8_t)val; break;
	case IOWIN:
		if (size >= 4)
			reg_write(io, (uint32_t)val);
		break;
	case IOEOI: ioapic_eoi(io, (uint8_t)val); break;
	default: break;
	}
}

const struct io_ops ioapic_mmio_ops = { ioapic_mmio_read, ioapic_mmio_write };

void ioapic_reset(struct ioapic *io)
{
	io->id = 0;
	io->regsel = 0;
	for (unsigned k = 0; k < IOAPIC_PINS; k++)
		io->redir[k] = RTE_MASKED;
}

int ioapic_init(struct ioapic *io, struct iobus *mmio, uint64_t base, void (*deliver)(void *, const struct apic_msg *),
		void *opaque)
{
	memset(io, 0, sizeof(*io));
	io->deliver = deliver;
	io->opaque = opaque;
	ioapic_reset(io);
	return mmio ? iobus_register(mmio, base, IOAPIC_MMIO_SIZE, &ioapic_mmio_ops, io, "ioapic") : 0;
}
