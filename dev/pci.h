/*
 * PCI bus 0 behind configuration mechanism #1 (ports 0xcf8/0xcfc), the generic PCI function that
 * devices build on (configuration space with write masks, BARs that map themselves onto the
 * machine's port and MMIO buses, INTx, capability list), and the two chipset functions of an
 * i440FX PC: the host bridge at 00:00.0 and the PIIX3 PCI-to-ISA bridge at 00:01.0.
 */
#ifndef SOFTVM_DEV_PCI_H
#define SOFTVM_DEV_PCI_H
#include <stdbool.h>
#include <stdint.h>

#include "machine/iobus.h"

#define PCI_CONFIG_SPACE_SIZE 256
#define PCI_NUM_BARS 6
#define PCI_DEVFN(slot, fn) ((((slot) & 0x1f) << 3) | ((fn) & 7))
#define PCI_BAR_UNMAPPED UINT64_MAX

/* Type 0 header registers (PCI Local Bus 3.0 §6.1). */
#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_REVISION_ID 0x08
#define PCI_CLASS_PROG 0x09
#define PCI_CLASS_DEVICE 0x0a
#define PCI_CACHE_LINE_SIZE 0x0c
#define PCI_LATENCY_TIMER 0x0d
#define PCI_HEADER_TYPE 0x0e
#define PCI_BASE_ADDRESS_0 0x10
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID 0x2e
#define PCI_ROM_ADDRESS 0x30
#define PCI_CAPABILITY_LIST 0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN 0x3d

#define PCI_COMMAND_IO 0x0001
#define PCI_COMMAND_MEMORY 0x0002
#define PCI_COMMAND_MASTER 0x0004
#define PCI_COMMAND_PARITY 0x0040
#define PCI_COMMAND_SERR 0x0100
#define PCI_COMMAND_INTX_DISABLE 0x0400

#define PCI_STATUS_INTERRUPT 0x0008
#define PCI_STATUS_CAP_LIST 0x0010
#define PCI_STATUS_DEVSEL_MEDIUM 0x0200
/* Error bits, write-1-to-clear. */
#define PCI_STATUS_ERRORS 0xf900

#define PCI_HEADER_TYPE_MULTI_FUNCTION 0x80

enum pci_bar_type {
	PCI_BAR_NONE,
	PCI_BAR_IO,    /* port I/O, 16-bit decode */
	PCI_BAR_MEM32,
	PCI_BAR_MEM64, /* takes this BAR and the next */
};

struct pci_bar {
	uint64_t size;       /* power of two (>= 4 for I/O, >= 16 for memory); 0: unused */
	uint8_t type;        /* enum pci_bar_type */
	bool prefetchable;
	/* What the BAR decodes: registered on the bus at the BAR's address while it is enabled,
	 * with offsets relative to the BAR. May be NULL (then only bar_changed is told). */
	const struct io_ops *ops;
	void *opaque;
	const char *name;
	uint64_t mapped_at;  /* PCI_BAR_UNMAPPED while not decoding */
};

struct pci_bus;

struct pci_device {
	uint8_t config[PCI_CONFIG_SPACE_SIZE];
	uint8_t wmask[PCI_CONFIG_SPACE_SIZE];   /* bits the guest may write */
	uint8_t w1cmask[PCI_CONFIG_SPACE_SIZE]; /* bits the guest clears by writing 1 */
	uint8_t reset_config[PCI_CONFIG_SPACE_SIZE]; /* config at registration, restored on reset */
	struct pci_bar bar[PCI_NUM_BARS];
	struct pci_bus *bus;
	uint8_t devfn;
	uint8_t cap_next;    /* offset for the next capability (0: none added yet) */
	uint8_t cap_last;    /* offset of the last capability in the list */
	bool intx_level;     /* INTx as the device drives it (before the command register's disable) */
	bool intx_out;       /* what reaches the bus */
	const char *name;
	void *opaque;        /* the device model owning this function */
	/* Optional: runs after the generic handling of a guest config write (MSI-X enable, ...). */
	void (*config_write)(struct pci_device *d, unsigned off, unsigned size, uint32_t val);
	/* Optional: a BAR started decoding at addr, or stopped (addr == PCI_BAR_UNMAPPED). */
	void (*bar_changed)(struct pci_device *d, int bar, uint64_t addr);
	/* Optional: device-specific reset, after the config space is back to its reset value. */
	void (*reset)(struct pci_device *d);
};

struct pci_bus {
	struct pci_device *dev[256]; /* by devfn */
	uint32_t config_address;     /* 0xcf8 */
	uint8_t reset_control;       /* 0xcf9, PIIX3 RC register */
	struct iobus *pio, *mmio;
	/* PCI interrupt lines PIRQA..D, each the wired-OR of the INTx pins swizzled onto it. */
	void (*set_pirq)(void *ctx, unsigned pirq, int level);
	/* The guest asked for a system reset through 0xcf9. */
	void (*reset_request)(void *ctx);
	void *ctx;
	uint8_t pirq_count[4];       /* functions asserting each PIRQ */
};

/* Builds a function's header: IDs, class (class << 8 | prog-if, 24 bits), revision, header
 * type; command, cache line size, latency timer and interrupt line writable. */
void pci_device_init(struct pci_device *d, const char *name, uint16_t vendor, uint16_t device, uint32_t class_code,
		     uint8_t revision, uint8_t header_type);
void pci_set_subsystem(struct pci_device *d, uint16_t vendor, uint16_t id);
/* Declares BAR n (n+1 too for PCI_BAR_MEM64). size is rounded up to a power of two. Returns 0 or
 * -EINVAL. Call before pci_register_device. */
int pci_set_bar(struct pci_device *d, int n, enum pci_bar_type type, uint64_t size, bool prefetchable,
		const struct io_ops *ops, void *opaque, const char *name);
/* Interrupt pin 1..4 (INTA..INTD), 0: none. */
void pci_set_interrupt_pin(struct pci_device *d, unsigned pin);
/* Appends a capability of len bytes (>= 2) with the given ID to the list. Returns its offset in
 * config space, or -ENOSPC. The caller fills the body and sets wmask for its writable fields. */
int pci_add_capability(struct pci_device *d, uint8_t id, unsigned len);
/* The device drives its INTx pin (level-triggered, shared). */
void pci_set_irq(struct pci_device *d, int level);

/* Config space access as the guest sees it (mechanism #1, ECAM later). off + size <= 256. */
uint32_t pci_config_read(struct pci_device *d, unsigned off, unsigned size);
void pci_config_write(struct pci_device *d, unsigned off, unsigned size, uint32_t val);

/* Registers the configuration ports 0xcf8-0xcff on pio. mmio receives memory BARs. */
int pci_bus_init(struct pci_bus *b, struct iobus *pio, struct iobus *mmio);
/* Puts d at devfn (bus 0). Returns 0, -EEXIST or -EINVAL. */
int pci_register_device(struct pci_bus *b, unsigned devfn, struct pci_device *d);
/* Resets every function (BARs unmapped, config back to its registration values). */
void pci_bus_reset(struct pci_bus *b);

/* ---- the chipset ---- */

/* Intel 82441FX PMC (440FX host bridge), 8086:1237, class 0x060000. */
void pci_host_bridge_init(struct pci_device *d);
/* Intel 82371SB PIIX3 function 0 (PCI-to-ISA bridge), 8086:7000, class 0x060100, with the PIRQ
 * route control registers 0x60-0x63. */
void pci_isa_bridge_init(struct pci_device *d);
/* The ISA IRQ PIRQ n (0..3 = A..D) is routed to by the PIIX3 registers, or -1 if disabled. */
int pci_isa_bridge_pirq_route(const struct pci_device *d, unsigned pirq);
#endif
