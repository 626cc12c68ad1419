/*
 * ACPI table builder (ACPI 6.5 ch. 5; HPET: IA-PC HPET specification 1.0a §3.2.4).
 *
 * Layout, from base: RSDP (§5.2.5, revision 2, 36 bytes), FACS (§5.2.10, 64-byte aligned), DSDT
 * (§5.2.11.1), FADT (§5.2.9, revision 6), MADT (§5.2.12), HPET, RSDT, XSDT, each 16-byte aligned.
 * The FADT describes the dev/acpi_pm.h block: PM1a event and control blocks, a 32-bit PM timer,
 * the SCI, the reset register, no SMI_CMD (always in ACPI mode), no GPE blocks, C1 only.
 *
 * The DSDT is AML written with machine/aml.h: \_SB.PCI0 (a PNP0A03 host bridge for bus 0 with
 * its _CRS: buses 0-255, the 0xcf8 configuration ports, I/O 0-0xcf7 and 0xd00-0xffff, the VGA
 * window and the 32-bit PCI MMIO window), one ACPI0007 processor device per CPU (its _UID is the
 * MADT processor UID), and \_S5 with the sleep type dev/acpi_pm.c treats as soft-off.
 * PCI interrupt routing as on a 440FX/PIIX3 board: the _PRT sends INTx of slot s, pin p to
 * PIRQ (s + p) mod 4 (the swizzle of dev/pci.c), and PIRQA-D are interrupt link devices
 * LNKA-D (PNP0C0F) whose methods read and write the PIIX3's PIRQ route registers 0x60-0x63
 * through a PCI_Config operation region (82371SB datasheet §2.2.8: bit 7 disables the route,
 * bits 3:0 are the ISA IRQ). The MADT marks the link IRQs level, active high.
 * Left out: ISA PnP devices (Linux probes the legacy ones itself), sleep states other than S5.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dev/acpi_pm.h"
#include "machine/acpi.h"
#include "machine/aml.h"

#define OEM_ID "SOFTVM"
#define OEM_TABLE_ID "SOFTVM  "
#define CREATOR_ID "SVM "
#define HDR_LEN 36

#define FADT_REVISION 6
#define FADT_MINOR 5 /* ACPI 6.5 */
#define FADT_LEN 276
#define FACS_LEN 64
#define MADT_REVISION 5
#define HPET_LEN 56

/* FADT fixed feature flags (§5.2.9, table 5.10) and IA-PC boot architecture flags (table 5.11). */
#define FADT_F_WBINVD (1u << 0)
#define FADT_F_PROC_C1 (1u << 2)
#define FADT_F_PWR_BUTTON (1u << 4) /* set: the power button is NOT a fixed feature */
#define FADT_F_SLP_BUTTON (1u << 5) /* set: no fixed-feature sleep button */
#define FADT_F_FIX_RTC (1u << 6)    /* set: no RTC wake status in the fixed registers */
#define FADT_F_TMR_VAL_EXT (1u << 8)
#define FADT_F_RESET_REG_SUP (1u << 10)
#define IAPC_LEGACY_DEVICES (1u << 0)
#define IAPC_8042 (1u << 1)

/* Generic Address Structure (§5.2.3.2) address spaces and access sizes. */
#define GAS_SYSTEM_MEMORY 0
#define GAS_SYSTEM_IO 1
#define GAS_ACCESS_BYTE 1
#define GAS_ACCESS_WORD 2
#define GAS_ACCESS_DWORD 3

/* MADT (§5.2.12) */
#define MADT_PCAT_COMPAT (1u << 0)
#define MADT_LAPIC 0
#define MADT_IOAPIC 1
#define MADT_INT_OVERRIDE 2
#define MADT_LAPIC_NMI 4
#define MPS_INTI_ACTIVE_HIGH 0x1
#define MPS_INTI_ACTIVE_LOW 0x3
#define MPS_INTI_EDGE (0x1 << 2)
#define MPS_INTI_LEVEL (0x3 << 2)

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

uint8_t acpi_checksum(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t sum = 0;
	for (size_t k = 0; k < n; k++)
		sum = (uint8_t)(sum + b[k]);
	return sum;
}

/* System description table header (§5.2.6); the checksum is set by finish(). */
static void header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	put32(t + 4, len);
	t[8] = rev;
	t[9] = 0;
	memcpy(t + 10, OEM_ID, 6);
	memcpy(t + 16, OEM_TABLE_ID, 8);
	put32(t + 24, 1); /* OEM revision */
	memcpy(t + 28, CREATOR_ID, 4);
	put32(t + 32, 1); /* creator revision */
}

static void finish(uint8_t *t, uint32_t len)
{
	t[9] = (uint8_t)(0 - acpi_checksum(t, len));
}

static void gas(uint8_t *p, uint8_t space, uint8_t bit_width, uint8_t access, uint64_t addr)
{
	p[0] = space;
	p[1] = bit_width;
	p[2] = 0; /* bit offset */
	p[3] = access;
	put64(p + 4, addr);
}

static const uint32_t link_irqs[] = ACPI_PCI_LINK_IRQS;
#define NUM_LINK_IRQS (sizeof(link_irqs) / sizeof(link_irqs[0]))
static const char *const link_names[4] = { "LNKA", "LNKB", "LNKC", "LNKD" };
static const char *const pirq_fields[4] = { "PRQA", "PRQB", "PRQC", "PRQD" };
#define PIIX_PIRQRC 0x60 /* PIRQ route control registers A-D */
#define PIRQ_DISABLE 0x80
#define PIRQ_IRQ_MASK 0x0f

/* _PRT (§6.2.13): every slot's INTA-D to the link its PIRQ line is. */
static void dsdt_prt(struct aml *a)
{
	aml_name(a, "_PRT");
	size_t prt = aml_package_begin(a, 32 * 4);
	for (unsigned slot = 0; slot < 32; slot++) {
		for (unsigned pin = 0; pin < 4; pin++) {
			char link[16];
			snprintf(link, sizeof(link), "\\_SB.%s", link_names[(slot + pin) & 3]);
			size_t e = aml_package_begin(a, 4);
			aml_integer(a, (uint64_t)slot << 16 | 0xffff); /* any function of the slot */
			aml_integer(a, pin);
			aml_name_string(a, link);
			aml_integer(a, 0);
			aml_end(a, e);
		}
	}
	aml_end(a, prt);
}

/* And(<PIRQ field>, mask, no target) */
static void and_field(struct aml *a, const char *field, uint8_t mask)
{
	aml_byte(a, AML_AND);
	aml_name_string(a, field);
	aml_integer(a, mask);
	aml_byte(a, AML_NULL_TARGET);
}

/* Interrupt link k (§6.2.16, PNP0C0F) over the PIIX3 route register PRQx. */
static void dsdt_link(struct aml *a, unsigned k)
{
	const char *prq = pirq_fields[k];
	struct aml res;
	size_t dev = aml_device_begin(a, link_names[k]);
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0C0F");
	aml_name(a, "_UID");
	aml_integer(a, k);

	aml_init(&res);
	res_interrupt(&res, RES_IRQ_SHARED, link_irqs, NUM_LINK_IRQS);
	res_end(&res);
	aml_name(a, "_PRS");
	aml_buffer(a, res.buf, res.len);

	/* _STA: present and functioning (0x09), and enabled (0x0b) unless the route is off */
	size_t m = aml_method_begin(a, "_STA", 0, 0);
	size_t i = aml_if_begin(a);
	and_field(a, prq, PIRQ_DISABLE);
	aml_byte(a, AML_RETURN);
	aml_integer(a, 0x09);
	aml_end(a, i);
	aml_byte(a, AML_RETURN);
	aml_integer(a, 0x0b);
	aml_end(a, m);

	/* _DIS: Or(PRQx, 0x80, PRQx) */
	m = aml_method_begin(a, "_DIS", 0, 0);
	aml_byte(a, AML_OR);
	aml_name_string(a, prq);
	aml_integer(a, PIRQ_DISABLE);
	aml_name_string(a, prq);
	aml_end(a, m);

	/* _CRS: a one-interrupt template holding the routed IRQ, or 0 when the route is off.
	 * Serialized: it creates named objects. */
	m = aml_method_begin(a, "_CRS", 0, 1);
	uint32_t none = 0;
	aml_free(&res);
	res_interrupt(&res, RES_IRQ_SHARED, &none, 1);
	res_end(&res);
	aml_name(a, "RES");
	aml_buffer(a, res.buf, res.len);
	aml_byte(a, AML_CREATE_DWORD_FIELD); /* the interrupt number at byte 5 of the descriptor */
	aml_name_string(a, "RES");
	aml_integer(a, 5);
	aml_name_string(a, "IRQ");
	i = aml_if_begin(a);
	aml_byte(a, AML_LNOT);
	and_field(a, prq, PIRQ_DISABLE);
	aml_byte(a, AML_STORE);
	and_field(a, prq, PIRQ_IRQ_MASK);
	aml_name_string(a, "IRQ");
	aml_end(a, i);
	aml_byte(a, AML_RETURN);
	aml_name_string(a, "RES");
	aml_end(a, m);

	/* _SRS(Arg0): route to the interrupt of the template the OS passes (enables the route) */
	m = aml_method_begin(a, "_SRS", 1, 1);
	aml_byte(a, AML_CREATE_DWORD_FIELD);
	aml_byte(a, AML_ARG0);
	aml_integer(a, 5);
	aml_name_string(a, "IRQ");
	aml_byte(a, AML_STORE);
	aml_name_string(a, "IRQ");
	aml_name_string(a, prq);
	aml_end(a, m);

	if (res.err && !a->err)
		a->err = res.err;
	aml_free(&res);
	aml_end(a, dev);
}

void acpi_dsdt_body(struct aml *a, const struct acpi_config *cfg)
{
	size_t sb = aml_scope_begin(a, "\\_SB");

	size_t pci = aml_device_begin(a, "PCI0");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0A03");
	aml_name(a, "_UID");
	aml_integer(a, 0);
	aml_name(a, "_BBN");
	aml_integer(a, 0);
	struct aml crs;
	aml_init(&crs);
	res_word_bus(&crs, 0, 0xff);
	res_io(&crs, 0xcf8, 0xcf8, 1, 8); /* configuration mechanism #1, consumed by the bridge */
	res_word_io(&crs, 0x0000, 0x0cf7);
	res_word_io(&crs, 0x0d00, 0xffff);
	res_dword_mem(&crs, 0x000a0000, 0x000bffff, 1); /* legacy VGA window */
	if (cfg->pci_mem_end > cfg->pci_mem_start)
		res_dword_mem(&crs, cfg->pci_mem_start, cfg->pci_mem_end, 0);
	res_end(&crs);
	if (crs.err && !a->err)
		a->err = crs.err;
	aml_name(a, "_CRS");
	aml_buffer(a, crs.buf, crs.len);
	aml_free(&crs);
	if (cfg->piix_adr) {
		dsdt_prt(a);
		size_t isa = aml_device_begin(a, "ISA");
		aml_name(a, "_ADR");
		aml_integer(a, cfg->piix_adr);
		aml_opregion(a, "PIRQ", AML_REGION_PCI_CONFIG, PIIX_PIRQRC, 4);
		aml_end(a, isa);
	}
	aml_end(a, pci);

	if (cfg->piix_adr) {
		size_t f = aml_field_begin(a, "\\_SB.PCI0.ISA.PIRQ", AML_FIELD_BYTE_ACC);
		for (unsigned k = 0; k < 4; k++)
			aml_field_entry(a, pirq_fields[k], 8);
		aml_end(a, f);
		for (unsigned k = 0; k < 4; k++)
			dsdt_link(a, k);
	}

	/* Processor devices (§8.4): _UID matches the MADT's ACPI Processor UID. */
	for (unsigned k = 0; k < cfg->ncpus; k++) {
		char name[8];
		snprintf(name, sizeof(name), "C%03X", k & 0xfff);
		size_t cpu = aml_device_begin(a, name);
		aml_name(a, "_HID");
		aml_string(a, "ACPI0007");
		aml_name(a, "_UID");
		aml_integer(a, k);
		aml_end(a, cpu);
	}
	aml_end(a, sb);

	/* \_S5: {SLP_TYPa, SLP_TYPb, reserved, reserved} (§7.4.2) */
	aml_name(a, "\\_S5");
	size_t s5 = aml_package_begin(a, 4);
	aml_integer(a, ACPI_PM_SLP_TYP_S5);
	aml_integer(a, ACPI_PM_SLP_TYP_S5);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_end(a, s5);
}

static void build_facs(uint8_t *t)
{
	memset(t, 0, FACS_LEN);
	memcpy(t, "FACS", 4);
	put32(t + 4, FACS_LEN);
	/* hardware signature, waking vectors, global lock and flags stay 0 */
	t[32] = 2; /* version */
}

static void build_fadt(uint8_t *t, const struct acpi_config *cfg, uint32_t facs, uint32_t dsdt)
{
	uint16_t pm = cfg->pm_base;
	memset(t, 0, FADT_LEN);
	header(t, "FACP", FADT_LEN, FADT_REVISION);
	put32(t + 36, facs);
	put32(t + 40, dsdt);
	t[45] = 0;                        /* preferred PM profile: unspecified */
	put16(t + 46, cfg->sci_irq);
	put32(t + 48, 0);                 /* SMI_CMD: none, the hardware is always in ACPI mode */
	put32(t + 56, pm + ACPI_PM1_EVT_OFF);
	put32(t + 64, pm + ACPI_PM1_CNT_OFF);
	put32(t + 76, pm + ACPI_PM_TMR_OFF);
	t[88] = ACPI_PM1_EVT_LEN;
	t[89] = ACPI_PM1_CNT_LEN;
	t[91] = ACPI_PM_TMR_LEN;
	put16(t + 96, 0x0fff);            /* P_LVL2_LAT > 100: no C2 */
	put16(t + 98, 0x0fff);            /* P_LVL3_LAT > 1000: no C3 */
	t[108] = 0;                       /* CENTURY: no century register in CMOS */
	put16(t + 109, IAPC_LEGACY_DEVICES | IAPC_8042);
	put32(t + 112, FADT_F_WBINVD | FADT_F_PROC_C1 | FADT_F_SLP_BUTTON | FADT_F_FIX_RTC | FADT_F_TMR_VAL_EXT |
			       FADT_F_RESET_REG_SUP);
	gas(t + 116, GAS_SYSTEM_IO, 8, GAS_ACCESS_BYTE, pm + ACPI_PM_RESET_OFF);
	t[128] = ACPI_PM_RESET_VALUE;
	t[131] = FADT_MINOR;
	/* X_FIRMWARE_CTRL stays 0: §5.2.9 allows only one of the two FACS pointers (Linux would
	 * install the FACS twice). X_DSDT repeats DSDT, which the spec allows. */
	put64(t + 140, dsdt);
	gas(t + 148, GAS_SYSTEM_IO, ACPI_PM1_EVT_LEN * 8, GAS_ACCESS_WORD, pm + ACPI_PM1_EVT_OFF);
	gas(t + 172, GAS_SYSTEM_IO, ACPI_PM1_CNT_LEN * 8, GAS_ACCESS_WORD, pm + ACPI_PM1_CNT_OFF);
	gas(t + 208, GAS_SYSTEM_IO, ACPI_PM_TMR_LEN * 8, GAS_ACCESS_DWORD, pm + ACPI_PM_TMR_OFF);
	finish(t, FADT_LEN);
}

static uint32_t madt_len(const struct acpi_config *cfg)
{
	uint32_t n = 44 + 8 * cfg->ncpus + 6;
	if (cfg->ioapic_base)
		n += 12 + 2 * 10 + (cfg->piix_adr ? 10 * NUM_LINK_IRQS : 0);
	return n;
}

static void int_override(uint8_t *e, uint8_t irq, uint32_t gsi, uint16_t flags)
{
	e[0] = MADT_INT_OVERRIDE;
	e[1] = 10;
	e[2] = 0; /* bus: ISA */
	e[3] = irq;
	put32(e + 4, gsi);
	put16(e + 8, flags);
}

static void build_madt(uint8_t *t, const struct acpi_config *cfg)
{
	uint32_t len = madt_len(cfg);
	memset(t, 0, len);
	header(t, "APIC", len, MADT_REVISION);
	put32(t + 36, ACPI_LAPIC_BASE);
	put32(t + 40, MADT_PCAT_COMPAT); /* 8259s present: Linux masks them when it uses the APICs */
	uint8_t *e = t + 44;
	for (unsigned k = 0; k < cfg->ncpus; k++, e += 8) {
		e[0] = MADT_LAPIC;
		e[1] = 8;
		e[2] = (uint8_t)k; /* ACPI processor UID */
		e[3] = (uint8_t)k; /* APIC id */
		put32(e + 4, 1);   /* enabled */
	}
	if (cfg->ioapic_base) {
		e[0] = MADT_IOAPIC;
		e[1] = 12;
		e[2] = 0; /* IOAPIC id */
		put32(e + 4, cfg->ioapic_base);
		put32(e + 8, 0); /* GSI base */
		e += 12;
		/* The PIT's output is on IOAPIC pin 2 (pin 0 is the 8259's INTR); the SCI is level,
		 * active high (§5.2.12.5: an SCI not given here would be level, active low). */
		int_override(e, 0, 2, MPS_INTI_ACTIVE_HIGH | MPS_INTI_EDGE);
		e += 10;
		int_override(e, cfg->sci_irq, cfg->sci_irq, MPS_INTI_ACTIVE_HIGH | MPS_INTI_LEVEL);
		e += 10;
		/* the IRQs PCI interrupt links route to are level, active high, like the SCI */
		for (unsigned k = 0; cfg->piix_adr && k < NUM_LINK_IRQS; k++, e += 10)
			int_override(e, (uint8_t)link_irqs[k], link_irqs[k], MPS_INTI_ACTIVE_HIGH | MPS_INTI_LEVEL);
	}
	/* LINT1 of every processor is the NMI input (§5.2.12.7) */
	e[0] = MADT_LAPIC_NMI;
	e[1] = 6;
	e[2] = 0xff; /* all processors */
	put16(e + 3, 0);
	e[5] = 1; /* LINT1 */
	finish(t, len);
}

static void build_hpet(uint8_t *t, const struct acpi_config *cfg)
{
	memset(t, 0, HPET_LEN);
	header(t, "HPET", HPET_LEN, 1);
	put32(t + 36, cfg->hpet_block_id);
	gas(t + 40, GAS_SYSTEM_MEMORY, 64, 0, cfg->hpet_base);
	t[52] = 0;             /* HPET number */
	put16(t + 53, 0x80);   /* minimum clock ticks in periodic mode */
	t[55] = 0;             /* no page protection */
	finish(t, HPET_LEN);
}

static size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) & ~(a - 1);
}

int acpi_build(const struct acpi_config *cfg, uint8_t *mem, uint64_t base, size_t size, uint64_t *rsdp)
{
	if (!cfg->ncpus || cfg->ncpus > 255 || (base & 15) || base + size > 0x100000000ull)
		return -EINVAL;

	struct aml dsdt;
	aml_init(&dsdt);
	acpi_dsdt_body(&dsdt, cfg);
	if (dsdt.err) {
		int err = dsdt.err;
		aml_free(&dsdt);
		return err;
	}

	size_t off_facs = 64;
	size_t off_dsdt = off_facs + FACS_LEN;
	size_t dsdt_len = HDR_LEN + dsdt.len;
	size_t off_fadt = align_up(off_dsdt + dsdt_len, 16);
	size_t off_madt = align_up(off_fadt + FADT_LEN, 16);
	size_t off_hpet = align_up(off_madt + madt_len(cfg), 16);
	size_t off_rsdt = cfg->hpet_base ? align_up(off_hpet + HPET_LEN, 16) : off_hpet;
	unsigned nent = cfg->hpet_base ? 3 : 2;
	size_t off_xsdt = align_up(off_rsdt + HDR_LEN + 4 * nent, 16);
	size_t end = off_xsdt + HDR_LEN + 8 * nent;
	if (end > size) {
		aml_free(&dsdt);
		return -ENOSPC;
	}
	memset(mem, 0, end);

	build_facs(mem + off_facs);

	header(mem + off_dsdt, "DSDT", (uint32_t)dsdt_len, 2); /* revision 2: 64-bit integers */
	memcpy(mem + off_dsdt + HDR_LEN, dsdt.buf, dsdt.len);
	finish(mem + off_dsdt, (uint32_t)dsdt_len);
	aml_free(&dsdt);

	build_fadt(mem + off_fadt, cfg, (uint32_t)(base + off_facs), (uint32_t)(base + off_dsdt));
	build_madt(mem + off_madt, cfg);
	uint64_t entries[3] = { base + off_fadt, base + off_madt, base + off_hpet };
	if (cfg->hpet_base)
		build_hpet(mem + off_hpet, cfg);

	uint8_t *t = mem + off_rsdt;
	header(t, "RSDT", (uint32_t)(HDR_LEN + 4 * nent), 1);
	for (unsigned k = 0; k < nent; k++)
		put32(t + HDR_LEN + 4 * k, (uint32_t)entries[k]);
	finish(t, HDR_LEN + 4 * nent);

	t = mem + off_xsdt;
	header(t, "XSDT", (uint32_t)(HDR_LEN + 8 * nent), 1);
	for (unsigned k = 0; k < nent; k++)
		put64(t + HDR_LEN + 8 * k, entries[k]);
	finish(t, HDR_LEN + 8 * nent);

	/* RSDP (§5.2.5.3): the first checksum covers the ACPI 1.0 part (20 bytes), the extended
	 * checksum the whole structure. */
	t = mem;
	memcpy(t, "RSD PTR ", 8);
	memcpy(t + 9, OEM_ID, 6);
	t[15] = 2;
	put32(t + 16, (uint32_t)(base + off_rsdt));
	put32(t + 20, 36);
	put64(t + 24, base + off_xsdt);
	t[8] = (uint8_t)(0 - acpi_checksum(t, 20));
	t[32] = (uint8_t)(0 - acpi_checksum(t, 36));

	*rsdp = base;
	return (int)end;
}
