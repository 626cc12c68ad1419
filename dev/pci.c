/*
 * PCI bus 0 with configuration mechanism #1 (PCI Local Bus spec 3.0 §3.2.2.3.2): CONFIG_ADDRESS
 * at 0xcf8 (dword accesses only; bit 31 enables, bus 23:16, device 15:11, function 10:8, register
 * 7:2) and CONFIG_DATA at 0xcfc-0xcff (byte, word or dword at any of the four offsets). Reads of
 * functions that do not exist, of other buses, or with the enable bit clear return all ones, and
 * writes are dropped (master abort). Byte port 0xcf9 is the PIIX3 reset control register
 * (82371SB datasheet §4.1.4): setting RCPU (bit 2) resets the system.
 *
 * A function's configuration space is 256 bytes with a write mask and a write-1-to-clear mask per
 * byte (type 0 header, §6.1). BARs (§6.2.5.1) are sized by writing all ones (their low address
 * bits are read-only zero); the bus keeps each BAR registered on the machine's port or MMIO bus
 * at its current address while the command register enables that space, and re-evaluates every
 * BAR after each write to a command register or BAR, so a BAR that collided with another one gets
 * mapped once the other moves away. BARs that would wrap, or end at the very top of their space
 * (the all-ones pattern left by sizing), do not decode.
 *
 * The chipset functions are those of QEMU's default PC, which Linux knows well: the i440FX host
 * bridge (82441FX PMC) and the PIIX3 ISA bridge with its PIRQ route registers. Not modelled: the
 * 440FX's PAM/SMRAM/DRAM registers (there is no BIOS to shadow; they read as zero), PCI-to-PCI
 * bridges and other buses, expansion ROMs (ROM BAR reads zero), mechanism #2, ECAM.
 */
#include <errno.h>
#include <string.h>

#include "pci.h"

#define CONFIG_ADDRESS_ENABLE 0x80000000u
#define CONFIG_ADDRESS_MASK 0x80fffffcu /* reserved bits 30:24 and 1:0 read as zero */

#define PCI_COMMAND_WMASK (PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY | \
			   PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE)

#define PIIX_RC_SRST 0x02 /* full (hard) reset rather than CPU init */
#define PIIX_RC_RCPU 0x04 /* 0 -> 1 resets */
#define PIIX_PIRQRC 0x60
#define PIIX_PIRQRC_DISABLE 0x80

static void put8(struct pci_device *d, unsigned off, uint8_t v) { d->config[off] = v; }
static void put16(struct pci_device *d, unsigned off, uint16_t v)
{
	d->config[off] = (uint8_t)v;
	d->config[off + 1] = (uint8_t)(v >> 8);
}
static void put32(struct pci_device *d, unsigned off, uint32_t v)
{
	put16(d, off, (uint16_t)v);
	put16(d, off + 2, (uint16_t)(v >> 16));
}
static uint16_t get16(const struct pci_device *d, unsigned off)
{
	return (uint16_t)(d->config[off] | d->config[off + 1] << 8);
}
static uint32_t get32(const struct pci_device *d, unsigned off)
{
	return get16(d, off) | (uint32_t)get16(d, off + 2) << 16;
}
static void mask16(uint8_t *m, unsigned off, uint16_t v)
{
	m[off] = (uint8_t)v;
	m[off + 1] = (uint8_t)(v >> 8);
}
static void mask32(uint8_t *m, unsigned off, uint32_t v)
{
	mask16(m, off, (uint16_t)v);
	mask16(m, off + 2, (uint16_t)(v >> 16));
}

void pci_device_init(struct pci_device *d, const char *name, uint16_t vendor, uint16_t device, uint32_t class_code,
		     uint8_t revision, uint8_t header_type)
{
	memset(d, 0, sizeof(*d));
	d->name = name;
	for (int k = 0; k < PCI_NUM_BARS; k++)
		d->bar[k].mapped_at = PCI_BAR_UNMAPPED;
	put16(d, PCI_VENDOR_ID, vendor);
	put16(d, PCI_DEVICE_ID, device);
	put8(d, PCI_REVISION_ID, revision);
	put8(d, PCI_CLASS_PROG, (uint8_t)class_code);
	put16(d, PCI_CLASS_DEVICE, (uint16_t)(class_code >> 8));
	put8(d, PCI_HEADER_TYPE, header_type);
	put16(d, PCI_STATUS, PCI_STATUS_DEVSEL_MEDIUM);
	mask16(d->wmask, PCI_COMMAND, PCI_COMMAND_WMASK);
	mask16(d->w1cmask, PCI_STATUS, PCI_STATUS_ERRORS);
	d->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
	d->wmask[PCI_LATENCY_TIMER] = 0xff;
	d->wmask[PCI_INTERRUPT_LINE] = 0xff;
}

void pci_set_subsystem(struct pci_device *d, uint16_t vendor, uint16_t id)
{
	put16(d, PCI_SUBSYSTEM_VENDOR_ID, vendor);
	put16(d, PCI_SUBSYSTEM_ID, id);
}

int pci_set_bar(struct pci_device *d, int n, enum pci_bar_type type, uint64_t size, bool prefetchable,
		const struct io_ops *ops, void *opaque, const char *name)
{
	if (n < 0 || n >= PCI_NUM_BARS || (type == PCI_BAR_MEM64 && n == PCI_NUM_BARS - 1))
		return -EINVAL;
	uint64_t min = type == PCI_BAR_IO ? 4 : 16;
	uint64_t limit = type == PCI_BAR_IO ? 0x100 : type == PCI_BAR_MEM32 ? 0x80000000ull : 1ull << 62;
	if (type == PCI_BAR_NONE || !size || size > limit)
		return -EINVAL;
	uint64_t s = min;
	while (s < size)
		s <<= 1;
	struct pci_bar *b = &d->bar[n];
	*b = (struct pci_bar){ s, (uint8_t)type, prefetchable, ops, opaque, name, PCI_BAR_UNMAPPED };
	unsigned off = PCI_BASE_ADDRESS_0 + 4 * n;
	uint32_t flags;
	switch (type) {
	case PCI_BAR_IO:
		flags = 0x1;
		mask32(d->wmask, off, (uint32_t)~(s - 1) & 0xfffc); /* 16-bit I/O decode (§6.2.5.1) */
		break;
	case PCI_BAR_MEM32:
		flags = prefetchable ? 0x8 : 0;
		mask32(d->wmask, off, (uint32_t)~(s - 1));
		break;
	default:
		flags = 0x4 | (prefetchable ? 0x8 : 0);
		mask32(d->wmask, off, (uint32_t)~(s - 1));
		mask32(d->wmask, off + 4, (uint32_t)(~(s - 1) >> 32));
		d->bar[n + 1] = (struct pci_bar){ .mapped_at = PCI_BAR_UNMAPPED };
		break;
	}
	put32(d, off, flags);
	return 0;
}

void pci_set_interrupt_pin(struct pci_device *d, unsigned pin)
{
	put8(d, PCI_INTERRUPT_PIN, pin <= 4 ? (uint8_t)pin : 0);
}

int pci_add_capability(struct pci_device *d, uint8_t id, unsigned len)
{
	unsigned off = d->cap_next ? d->cap_next : 0x40; /* after the standard header */
	if (len < 2 || off + len > PCI_CONFIG_SPACE_SIZE)
		return -ENOSPC;
	put8(d, off, id);
	put8(d, off + 1, 0);
	if (d->cap_last)
		put8(d, d->cap_last + 1, (uint8_t)off);
	else
		put8(d, PCI_CAPABILITY_LIST, (uint8_t)off);
	put16(d, PCI_STATUS, get16(d, PCI_STATUS) | PCI_STATUS_CAP_LIST);
	d->cap_last = (uint8_t)off;
	d->cap_next = (uint8_t)((off + len + 3) & ~3u);
	if (off + len + 3 > 0xff)
		d->cap_next = 0xff; /* full: the next add fails */
	return (int)off;
}

/* ---- BAR mapping ---- */

/* The address BAR n should decode at now, or PCI_BAR_UNMAPPED. */
static uint64_t bar_target(const struct pci_device *d, int n)
{
	const struct pci_bar *b = &d->bar[n];
	uint16_t cmd = get16(d, PCI_COMMAND);
	unsigned off = PCI_BASE_ADDRESS_0 + 4 * n;
	uint64_t addr, last;
	switch (b->type) {
	case PCI_BAR_IO:
		if (!(cmd & PCI_COMMAND_IO))
			return PCI_BAR_UNMAPPED;
		addr = get32(d, off) & ~(uint64_t)3;
		last = addr + b->size - 1;
		if (!addr || last >= 0xffff)
			return PCI_BAR_UNMAPPED;
		return addr;
	case PCI_BAR_MEM32:
		if (!(cmd & PCI_COMMAND_MEMORY))
			return PCI_BAR_UNMAPPED;
		addr = get32(d, off) & ~(uint64_t)0xf;
		last = addr + b->size - 1;
		if (!addr || last >= 0xffffffffull)
			return PCI_BAR_UNMAPPED;
		return addr;
	case PCI_BAR_MEM64:
		if (!(cmd & PCI_COMMAND_MEMORY))
			return PCI_BAR_UNMAPPED;
		addr = ((uint64_t)get32(d, off + 4) << 32 | get32(d, off)) & ~(uint64_t)0xf;
		last = addr + b->size - 1;
		if (!addr || last < addr || last == UINT64_MAX || last == 0xffffffffull)
			return PCI_BAR_UNMAPPED;
		return addr;
	default:
		return PCI_BAR_UNMAPPED;
	}
}

static struct iobus *bar_iobus(struct pci_bus *bus, const struct pci_bar *b)
{
	return b->type == PCI_BAR_IO ? bus->pio : bus->mmio;
}

static void bar_unmap(struct pci_device *d, int n)
{
	struct pci_bar *b = &d->bar[n];
	if (b->mapped_at == PCI_BAR_UNMAPPED)
		return;
	struct iobus *io = bar_iobus(d->bus, b);
	if (b->ops && io)
		iobus_unregister(io, b->mapped_at);
	b->mapped_at = PCI_BAR_UNMAPPED;
	if (d->bar_changed)
		d->bar_changed(d, n, PCI_BAR_UNMAPPED);
}

static void bar_map(struct pci_device *d, int n, uint64_t addr)
{
	struct pci_bar *b = &d->bar[n];
	struct iobus *io = bar_iobus(d->bus, b);
	if (b->ops) {
		/* A BAR placed over another device's range does not decode (the guest's mistake);
		 * it is retried at the next BAR or command write anywhere on the bus. */
		if (!io || iobus_register(io, addr, b->size, b->ops, b->opaque, b->name ? b->name : d->name) < 0)
			return;
	}
	b->mapped_at = addr;
	if (d->bar_changed)
		d->bar_changed(d, n, addr);
}

/* Brings every BAR on the bus to its target: unmaps first so that moves and swaps succeed. */
static void update_mappings(struct pci_bus *bus)
{
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned f = 0; f < 256; f++) {
			struct pci_device *d = bus->dev[f];
			if (!d)
				continue;
			for (int n = 0; n < PCI_NUM_BARS; n++) {
				if (d->bar[n].type == PCI_BAR_NONE)
					continue;
				uint64_t t = bar_target(d, n);
				if (pass == 0 && d->bar[n].mapped_at != t)
					bar_unmap(d, n);
				else if (pass == 1 && t != PCI_BAR_UNMAPPED && d->bar[n].mapped_at == PCI_BAR_UNMAPPED)
					bar_map(d, n, t);
			}
		}
	}
}

/* ---- INTx ---- */

static void update_intx(struct pci_device *d)
{
	bool out = d->intx_level && !(get16(d, PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE);
	uint16_t st = get16(d, PCI_STATUS) & ~PCI_STATUS_INTERRUPT;
	put16(d, PCI_STATUS, st | (d->intx_level ? PCI_STATUS_INTERRUPT : 0));
	unsigned pin = d->config[PCI_INTERRUPT_PIN];
	if (out == d->intx_out || !pin || !d->bus)
		return;
	d->intx_out = out;
	/* The usual swizzle of slots onto PIRQA..D (PCI-to-PCI bridge spec §9.1). */
	unsigned pirq = ((d->devfn >> 3) + pin - 1) & 3;
	struct pci_bus *b = d->bus;
	bool before = b->pirq_count[pirq] != 0;
	b->pirq_count[pirq] += out ? 1 : -1;
	bool after = b->pirq_count[pirq] != 0;
	if (before != after && b->set_pirq)
		b->set_pirq(b->ctx, pirq, after);
}

void pci_set_irq(struct pci_device *d, int level)
{
	d->intx_level = level != 0;
	update_intx(d);
}

/* ---- config space ---- */

uint32_t pci_config_read(struct pci_device *d, unsigned off, unsigned size)
{
	uint32_t v = 0;
	for (unsigned k = 0; k < size && off + k < PCI_CONFIG_SPACE_SIZE; k++)
		v |= (uint32_t)d->config[off + k] << (8 * k);
	return v;
}

void pci_config_write(struct pci_device *d, unsigned off, unsigned size, uint32_t val)
{
	bool remap = false;
	for (unsigned k = 0; k < size && off + k < PCI_CONFIG_SPACE_SIZE; k++) {
		unsigned a = off + k;
		uint8_t b = (uint8_t)(val >> (8 * k));
		d->config[a] = (uint8_t)((d->config[a] & ~d->wmask[a]) | (b & d->wmask[a]));
		d->config[a] &= (uint8_t)~(b & d->w1cmask[a]);
		if ((a >= PCI_COMMAND && a < PCI_COMMAND + 2) || (a >= PCI_BASE_ADDRESS_0 && a < PCI_BASE_ADDRESS_0 + 24))
			remap = true;
	}
	if (off < PCI_COMMAND + 2 && off + size > PCI_COMMAND + 1)
		update_intx(d); /* interrupt disable may have changed */
	if (remap && d->bus)
		update_mappings(d->bus);
	if (d->config_write)
		d->config_write(d, off, size, val);
}

/* ---- mechanism #1 ---- */

static struct pci_device *addressed(struct pci_bus *b)
{
	uint32_t a = b->config_address;
	if (!(a & CONFIG_ADDRESS_ENABLE) || ((a >> 16) & 0xff) != 0)
		return NULL;
	return b->dev[(a >> 8) & 0xff];
}

static uint64_t config_port_read(void *dev, uint64_t off, unsigned size)
{
	struct pci_bus *b = dev;
	uint64_t ones = size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
	if (off < 4) {
		if (off == 0 && size == 4)
			return b->config_address;
		if (off == 1 && size == 1)
			return b->reset_control;
		return ones; /* other accesses go to the ISA bus, where nothing answers */
	}
	struct pci_device *d = addressed(b);
	if (!d)
		return ones;
	unsigned byte = (unsigned)off - 4;
	unsigned n = byte + size > 4 ? 4 - byte : size; /* the data window is one dword */
	uint64_t v = pci_config_read(d, (b->config_address & 0xfc) + byte, n);
	if (n < size)
		v |= ones & ~((1ull << (8 * n)) - 1);
	return v;
}

static void config_port_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct pci_bus *b = dev;
	if (off < 4) {
		if (off == 0 && size == 4) {
			b->config_address = (uint32_t)val & CONFIG_ADDRESS_MASK;
		} else if (off == 1 && size == 1) {
			/* RCPU reads back as 0, so every write with it set is a 0 -> 1 transition. */
			b->reset_control = (uint8_t)val & PIIX_RC_SRST;
			if ((val & PIIX_RC_RCPU) && b->reset_request)
				b->reset_request(b->ctx);
		}
		return;
	}
	struct pci_device *d = addressed(b);
	if (!d)
		return;
	unsigned byte = (unsigned)off - 4;
	unsigned n = byte + size > 4 ? 4 - byte : size;
	pci_config_write(d, (b->config_address & 0xfc) + byte, n, (uint32_t)val);
}

static const struct io_ops config_ops = { config_port_read, config_port_write };

int pci_bus_init(struct pci_bus *b, struct iobus *pio, struct iobus *mmio)
{
	memset(b, 0, sizeof(*b));
	b->pio = pio;
	b->mmio = mmio;
	if (!pio)
		return 0;
	return iobus_register(pio, 0xcf8, 8, &config_ops, b, "pci-config");
}

int pci_register_device(struct pci_bus *b, unsigned devfn, struct pci_device *d)
{
	if (devfn > 255)
		return -EINVAL;
	if (b->dev[devfn])
		return -EEXIST;
	d->bus = b;
	d->devfn = (uint8_t)devfn;
	memcpy(d->reset_config, d->config, sizeof(d->config));
	b->dev[devfn] = d;
	return 0;
}

static void device_reset(struct pci_device *d)
{
	for (int n = 0; n < PCI_NUM_BARS; n++)
		bar_unmap(d, n);
	memcpy(d->config, d->reset_config, sizeof(d->config));
	d->intx_level = false;
	update_intx(d);
	if (d->reset)
		d->reset(d);
}

void pci_bus_reset(struct pci_bus *b)
{
	b->config_address = 0;
	b->reset_control = 0;
	for (unsigned f = 0; f < 256; f++)
		if (b->dev[f])
			device_reset(b->dev[f]);
	update_mappings(b);
}

/* ---- chipset ---- */

void pci_host_bridge_init(struct pci_device *d)
{
	/* 82441FX datasheet §3.2: revision 02, PCICMD defaults to memory and bus master enabled. */
	pci_device_init(d, "i440fx", 0x8086, 0x1237, 0x060000, 0x02, 0x00);
	put16(d, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

void pci_isa_bridge_init(struct pci_device *d)
{
	/* 82371SB datasheet §2.2: function 0 of a multi-function device (IDE and USB are the others,
	 * which softvm does not have, so the header says single-function). */
	pci_device_init(d, "piix3", 0x8086, 0x7000, 0x060100, 0x00, 0x00);
	put16(d, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	for (unsigned k = 0; k < 4; k++) {
		/* PIRQRC[A:D]: bit 7 disables routing, bits 3:0 the ISA IRQ. */
		put8(d, PIIX_PIRQRC + k, PIIX_PIRQRC_DISABLE);
		d->wmask[PIIX_PIRQRC + k] = 0x8f;
	}
}

int pci_isa_bridge_pirq_route(const struct pci_device *d, unsigned pirq)
{
	if (pirq > 3)
		return -1;
	uint8_t v = d->config[PIIX_PIRQRC + pirq];
	unsigned irq = v & 0xf;
	/* IRQs 0-2, 8 and 13 are reserved: the PIIX3 does not route PIRQs there. */
	if ((v & PIIX_PIRQRC_DISABLE) || irq < 3 || irq == 8 || irq == 13)
		return -1;
	return (int)irq;
}
