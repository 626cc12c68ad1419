/*
 * ACPI firmware tables for the PC (ACPI 6.5 ch. 5): RSDP, XSDT and RSDT, FADT (with FACS and
 * DSDT), MADT and, when the machine has one, the HPET table. The tables describe the fixed
 * hardware of dev/acpi_pm.h, the interrupt controllers, and a PCI host bridge in the DSDT.
 */
#ifndef SOFTVM_MACHINE_ACPI_H
#define SOFTVM_MACHINE_ACPI_H
#include <stddef.h>
#include <stdint.h>

/* Where the PC keeps its tables: inside the BIOS area the e820 map reserves, so the RSDP is also
 * found by the legacy scan of 0xe0000-0xfffff. */
#define ACPI_TABLES_BASE 0xe0000
#define ACPI_TABLES_SIZE 0x10000

#define ACPI_LAPIC_BASE 0xfee00000u
#define ACPI_IOAPIC_BASE 0xfec00000u
#define ACPI_HPET_BASE 0xfed00000u

struct acpi_config {
	unsigned ncpus;         /* Processor Local APIC entries (APIC ids and processor UIDs 0..n-1), 1..255 */
	uint16_t pm_base;       /* the dev/acpi_pm.h block */
	uint8_t sci_irq;        /* ISA IRQ of the SCI (level, active high) */
	uint32_t ioapic_base;   /* 0: no IOAPIC (no IOAPIC entry, no interrupt source overrides) */
	uint32_t hpet_base;     /* 0: no HPET table */
	uint32_t hpet_block_id; /* the HPET's capabilities register, low 32 bits (HPET spec §3.2.4) */
	uint32_t pci_mem_start; /* the host bridge's 32-bit MMIO window, inclusive */
	uint32_t pci_mem_end;
	/* _ADR (device << 16 | function) of the PIIX3 ISA bridge whose registers 0x60-0x63 route
	 * PIRQA-D to ISA IRQs; 0: no PCI interrupt routing (no _PRT, no link devices). */
	uint32_t piix_adr;
};

/* The ISA IRQs the PCI interrupt links may be routed to (level, active high, shared). */
#define ACPI_PCI_LINK_IRQS { 5, 10, 11 }

/* Builds the tables into mem, which the guest sees at physical address base (16-byte aligned,
 * below 4 GiB). Returns the number of bytes used and sets *rsdp to the RSDP's address, or
 * returns a negative errno (-ENOSPC if size is too small, -EINVAL for a bad config). */
int acpi_build(const struct acpi_config *cfg, uint8_t *mem, uint64_t base, size_t size, uint64_t *rsdp);

/* Appends the DSDT's AML body (everything after the table header) to a; for tests. */
struct aml;
void acpi_dsdt_body(struct aml *a, const struct acpi_config *cfg);

/* Sum of n bytes modulo 256 (0 for a correctly checksummed table). */
uint8_t acpi_checksum(const void *p, size_t n);
#endif
