/* ACPI tables: the AML emitter's encodings, the DSDT against the bytes the reference ASL compiler
 * (ACPICA iasl -oa) produces for the same ASL, a structural walk of the DSDT, and every table the
 * way an OS reads it: RSDP found by the legacy scan with both checksums, XSDT/RSDT entries, FADT
 * fields and their X_ twins, FACS, MADT entries, HPET, and all checksums. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "dev/acpi_pm.h"
#include "machine/acpi.h"
#include "machine/aml.h"
#include "tests/test.h"

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static int bytes_are(const struct aml *a, const uint8_t *want, size_t n)
{
	return !a->err && a->len == n && !memcmp(a->buf, want, n);
}

#define EXPECT_AML(stmt, name, ...)                                                  \
	do {                                                                         \
		static const uint8_t want_[] = { __VA_ARGS__ };                      \
		struct aml a_;                                                       \
		aml_init(&a_);                                                       \
		{                                                                    \
			struct aml *a = &a_;                                         \
			stmt;                                                        \
		}                                                                    \
		CHECK(bytes_are(&a_, want_, sizeof(want_)), "AML %s", name);         \
		aml_free(&a_);                                                       \
	} while (0)

static void test_aml_encodings(void)
{
	EXPECT_AML(aml_integer(a, 0), "Zero -> ZeroOp", 0x00);
	EXPECT_AML(aml_integer(a, 1), "One -> OneOp", 0x01);
	EXPECT_AML(aml_integer(a, 5), "5 -> ByteConst", 0x0a, 0x05);
	EXPECT_AML(aml_integer(a, 0xff), "0xff -> ByteConst", 0x0a, 0xff);
	EXPECT_AML(aml_integer(a, 0x100), "0x100 -> WordConst", 0x0b, 0x00, 0x01);
	EXPECT_AML(aml_integer(a, 0x12345678), "DWordConst", 0x0c, 0x78, 0x56, 0x34, 0x12);
	EXPECT_AML(aml_integer(a, 0x100000000ull), "QWordConst", 0x0e, 0, 0, 0, 0, 1, 0, 0, 0);
	EXPECT_AML(aml_string(a, "AB"), "String", 0x0d, 'A', 'B', 0);
	EXPECT_AML(aml_eisaid(a, "PNP0A03"), "EisaId(PNP0A03)", 0x0c, 0x41, 0xd0, 0x0a, 0x03);
	EXPECT_AML(aml_eisaid(a, "PNP0C0F"), "EisaId(PNP0C0F)", 0x0c, 0x41, 0xd0, 0x0c, 0x0f);
	EXPECT_AML(aml_name_string(a, "_SB"), "NameSeg padded with _", '_', 'S', 'B', '_');
	EXPECT_AML(aml_name_string(a, "\\_S5"), "root NameSeg", '\\', '_', 'S', '5', '_');
	EXPECT_AML(aml_name_string(a, "\\_SB.PCI0"), "DualNamePath", '\\', 0x2e, '_', 'S', 'B', '_', 'P', 'C',
		   'I', '0');
	EXPECT_AML(aml_name_string(a, "_SB.PCI0.ISA"), "MultiNamePath", 0x2f, 3, '_', 'S', 'B', '_', 'P', 'C', 'I',
		   '0', 'I', 'S', 'A', '_');
	EXPECT_AML(aml_name_string(a, "^^AB"), "parent prefixes", '^', '^', 'A', 'B', '_', '_');
	EXPECT_AML(aml_name_string(a, "\\"), "root alone is RootChar NullName", '\\', 0x00);
	/* \_S5 as in QEMU's and every firmware's DSDT: Name (\_S5, Package (4) {5, 5, 0, 0}) */
	EXPECT_AML(
		{
			aml_name(a, "\\_S5");
			size_t m = aml_package_begin(a, 4);
			aml_integer(a, 5);
			aml_integer(a, 5);
			aml_integer(a, 0);
			aml_integer(a, 0);
			aml_end(a, m);
		},
		"Name(\\_S5, Package(4){5,5,0,0})", 0x08, '\\', '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0a, 0x05, 0x0a,
		0x05, 0x00, 0x00);
	EXPECT_AML(
		{
			size_t m = aml_device_begin(a, "FOO");
			aml_end(a, m);
		},
		"empty Device", 0x5b, 0x82, 0x05, 'F', 'O', 'O', '_');
	EXPECT_AML(aml_buffer(a, "\x79\x00", 2), "Buffer", 0x11, 0x05, 0x0a, 0x02, 0x79, 0x00);

	EXPECT_AML(
		{
			size_t m = aml_method_begin(a, "_SRS", 1, 1);
			aml_end(a, m);
		},
		"Method(_SRS, 1, Serialized) {}", 0x14, 0x06, '_', 'S', 'R', 'S', 0x09);
	EXPECT_AML(
		{
			size_t i = aml_if_begin(a);
			aml_byte(a, AML_LNOT);
			aml_byte(a, AML_ARG0 + 1);
			aml_byte(a, AML_RETURN);
			aml_byte(a, AML_LOCAL0 + 2);
			aml_end(a, i);
		},
		"If (LNot (Arg1)) { Return (Local2) }", 0xa0, 0x05, 0x92, 0x69, 0xa4, 0x62);
	EXPECT_AML(aml_opregion(a, "PIRQ", AML_REGION_PCI_CONFIG, 0x60, 4), "OperationRegion(PIRQ, PCI_Config, 0x60, 4)",
		   0x5b, 0x80, 'P', 'I', 'R', 'Q', 0x02, 0x0a, 0x60, 0x0a, 0x04);
	EXPECT_AML(
		{
			size_t f = aml_field_begin(a, "REG", AML_FIELD_BYTE_ACC);
			aml_field_entry(a, "AB", 8);
			aml_field_entry(a, "WIDE", 0x123);
			aml_end(a, f);
		},
		"Field(REG, ByteAcc) { AB, 8, WIDE, 0x123 }", 0x5b, 0x81, 0x11, 'R', 'E', 'G', '_', 0x01, 'A', 'B', '_', '_',
		0x08, 'W', 'I', 'D', 'E', 0x43, 0x12);
	EXPECT_AML(res_interrupt(a, RES_IRQ_SHARED, (const uint32_t[]){ 5, 10 }, 2),
		   "Interrupt(ResourceConsumer, Level, ActiveHigh, Shared) {5, 10}", 0x89, 0x0a, 0x00, 0x09, 0x02, 5, 0, 0, 0,
		   10, 0, 0, 0);
	EXPECT_AML(res_interrupt(a, RES_IRQ_EDGE | RES_IRQ_ACTIVE_LOW, (const uint32_t[]){ 1 }, 1),
		   "Interrupt(ResourceConsumer, Edge, ActiveLow, Exclusive) {1}", 0x89, 0x06, 0x00, 0x07, 0x01, 1, 0, 0, 0);

	struct aml a;
	const char *bad[] = { "1ABC", "ABCDE", "A.", "a", "AB..C", "A-B" };
	for (unsigned k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		aml_init(&a);
		aml_name_string(&a, bad[k]);
		CHECK(a.err == -EINVAL, "invalid name \"%s\" is an error", bad[k]);
		aml_free(&a);
	}
	aml_init(&a);
	aml_eisaid(&a, "PNP0A0G");
	CHECK(a.err == -EINVAL, "invalid EISA id is an error");
	aml_free(&a);
}

static void test_pkglen(void)
{
	uint8_t e[4];
	CHECK(aml_pkglen_encode(e, 0) == 1 && e[0] == 1, "PkgLength of an empty body is 1");
	CHECK(aml_pkglen_encode(e, 62) == 1 && e[0] == 0x3f, "62-byte body: one byte 0x3f");
	CHECK(aml_pkglen_encode(e, 63) == 2 && e[0] == 0x41 && e[1] == 0x04,
	      "63-byte body: two bytes, length 65 = 0x41 0x04");
	CHECK(aml_pkglen_encode(e, 4093) == 2 && e[0] == 0x4f && e[1] == 0xff, "largest two-byte length 0xfff");
	CHECK(aml_pkglen_encode(e, 4094) == 3 && e[0] == 0x81 && e[1] == 0x00 && e[2] == 0x01,
	      "three-byte length 0x1001");
	CHECK(aml_pkglen_encode(e, (1u << 28) - 5) == 4 && e[0] == 0xcf && e[1] == 0xff && e[2] == 0xff && e[3] == 0xff,
	      "largest four-byte length");
	CHECK(aml_pkglen_encode(e, 1u << 28) == 0, "lengths of 2^28 and more cannot be encoded");

	/* A package long enough that its PkgLength needs two bytes: the body moves up by one. */
	struct aml a;
	aml_init(&a);
	size_t m = aml_package_begin(&a, 40);
	for (int k = 0; k < 40; k++)
		aml_integer(&a, 0x80 + k);
	aml_end(&a, m);
	/* body: NumElements (1) + 40 * 2 = 81; total 83 = 0x53 -> 0x43 0x05 */
	CHECK(!a.err && a.len == 84 && a.buf[0] == 0x12 && a.buf[1] == 0x43 && a.buf[2] == 0x05 && a.buf[3] == 40 &&
		      a.buf[4] == 0x0a && a.buf[5] == 0x80 && a.buf[83] == 0x80 + 39,
	      "two-byte PkgLength inserted before the body");
	aml_free(&a);
}

static void test_resources(void)
{
	EXPECT_AML(res_io(a, 0xcf8, 0xcf8, 1, 8), "IO(Decode16, 0xcf8, 0xcf8, 1, 8)", 0x47, 0x01, 0xf8, 0x0c, 0xf8,
		   0x0c, 0x01, 0x08);
	EXPECT_AML(res_word_bus(a, 0, 0xff), "WordBusNumber(0-0xff)", 0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0x00, 0x00,
		   0x00, 0x00, 0xff, 0x00, 0x00, 0x00, 0x00, 0x01);
	EXPECT_AML(res_word_io(a, 0xd00, 0xffff), "WordIO(0xd00-0xffff)", 0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0x00,
		   0x00, 0x00, 0x0d, 0xff, 0xff, 0x00, 0x00, 0x00, 0xf3);
	EXPECT_AML(res_dword_mem(a, 0xc0000000, 0xfebfffff, 0), "DWordMemory(NonCacheable, 0xc0000000-0xfebfffff)",
		   0x87, 0x17, 0x00, 0x00, 0x0c, 0x01, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0xc0, 0xff, 0xff, 0xbf, 0xfe, 0,
		   0, 0, 0, 0x00, 0x00, 0xc0, 0x3e);
	EXPECT_AML(res_end(a), "EndTag", 0x79, 0x00);
}

/*
 * The DSDT body for one CPU and the 0xc0000000-0xfebfffff window is byte for byte what
 * `iasl -oa` (ACPICA 20200925, optimizations off so root prefixes stay) makes of:
 *
 *   DefinitionBlock ("", "DSDT", 2, "SOFTVM", "SOFTVM  ", 1) {
 *     Scope (\_SB) {
 *       Device (PCI0) {
 *         Name (_HID, EisaId ("PNP0A03"))  Name (_UID, Zero)  Name (_BBN, Zero)
 *         Name (_CRS, ResourceTemplate () {
 *           WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, 0, 0xFF, 0, 0x100)
 *           IO (Decode16, 0x0CF8, 0x0CF8, 0x01, 0x08)
 *           WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0, 0, 0x0CF7, 0, 0x0CF8)
 *           WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0, 0x0D00, 0xFFFF, 0, 0xF300)
 *           DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadWrite,
 *                        0, 0x000A0000, 0x000BFFFF, 0, 0x00020000)
 *           DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,
 *                        0, 0xC0000000, 0xFEBFFFFF, 0, 0x3EC00000)
 *         })
 *       }
 *       Device (C000) { Name (_HID, "ACPI0007")  Name (_UID, Zero) }
 *     }
 *     Name (\_S5, Package (0x04) { 0x05, 0x05, Zero, Zero })
 *   }
 */
static const uint8_t iasl_dsdt_body[] = {
	0x10, 0x49, 0x0b, 0x5c, 0x5f, 0x53, 0x42, 0x5f, 0x5b, 0x82, 0x44, 0x09, 0x50, 0x43, 0x49, 0x30, 0x08, 0x5f,
	0x48, 0x49, 0x44, 0x0c, 0x41, 0xd0, 0x0a, 0x03, 0x08, 0x5f, 0x55, 0x49, 0x44, 0x00, 0x08, 0x5f, 0x42, 0x42,
	0x4e, 0x00, 0x08, 0x5f, 0x43, 0x52, 0x53, 0x11, 0x42, 0x07, 0x0a, 0x6e, 0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00,
	0x00, 0x00, 0x00, 0x00, 0xff, 0x00, 0x00, 0x00, 0x00, 0x01, 0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08,
	0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0x00, 0x00, 0x00, 0x00, 0xf7, 0x0c, 0x00, 0x00, 0xf8, 0x0c, 0x88, 0x0d,
	0x00, 0x01, 0x0c, 0x03, 0x00, 0x00, 0x00, 0x0d, 0xff, 0xff, 0x00, 0x00, 0x00, 0xf3, 0x87, 0x17, 0x00, 0x00,
	0x0c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0xff, 0xff, 0x0b, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x02, 0x00, 0x87, 0x17, 0x00, 0x00, 0x0c, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0,
	0xff, 0xff, 0xbf, 0xfe, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x3e, 0x79, 0x00, 0x5b, 0x82, 0x1a, 0x43,
	0x30, 0x30, 0x30, 0x08, 0x5f, 0x48, 0x49, 0x44, 0x0d, 0x41, 0x43, 0x50, 0x49, 0x30, 0x30, 0x30, 0x37, 0x00,
	0x08, 0x5f, 0x55, 0x49, 0x44, 0x00, 0x08, 0x5c, 0x5f, 0x53, 0x35, 0x5f, 0x12, 0x08, 0x04, 0x0a, 0x05, 0x0a,
	0x05, 0x00, 0x00,
};

/* Pieces of the DSDT with PCI interrupt links, from `iasl -oa` of the same DSDT in ASL:
 *   Device (ISA) { Name (_ADR, 0x00010000)  OperationRegion (PIRQ, PCI_Config, 0x60, 0x04) }
 *   Field (\_SB.PCI0.ISA.PIRQ, ByteAcc, NoLock, Preserve) { PRQA, 8, PRQB, 8, PRQC, 8, PRQD, 8 }
 *   Device (LNKA) {
 *     Name (_HID, EisaId ("PNP0C0F"))  Name (_UID, Zero)
 *     Name (_PRS, ResourceTemplate () { Interrupt (ResourceConsumer, Level, ActiveHigh, Shared) {5, 10, 11} })
 *     Method (_STA, 0, NotSerialized) { If (And (PRQA, 0x80)) { Return (0x09) } Return (0x0B) }
 *     Method (_DIS, 0, NotSerialized) { Or (PRQA, 0x80, PRQA) }
 *     Method (_CRS, 0, Serialized) {
 *       Name (RES, ResourceTemplate () { Interrupt (ResourceConsumer, Level, ActiveHigh, Shared) {0} })
 *       CreateDWordField (RES, 0x05, IRQ)
 *       If (LNot (And (PRQA, 0x80))) { Store (And (PRQA, 0x0F), IRQ) }
 *       Return (RES)
 *     }
 *     Method (_SRS, 1, Serialized) { CreateDWordField (Arg0, 0x05, IRQ)  Store (IRQ, PRQA) }
 *   }
 *   Name (_PRT, Package (0x80) { Package (0x04) { 0xFFFF, Zero, \_SB.LNKA, Zero },
 *     Package (0x04) { 0xFFFF, One, \_SB.LNKB, Zero }, Package (0x04) { 0xFFFF, 0x02, \_SB.LNKC, Zero }, ...
 */
static const uint8_t iasl_isa[] = {
	0x5b, 0x82, 0x1a, 0x49, 0x53, 0x41, 0x5f, 0x08, 0x5f, 0x41, 0x44, 0x52, 0x0c, 0x00, 0x00, 0x01, 0x00, 0x5b,
	0x80, 0x50, 0x49, 0x52, 0x51, 0x02, 0x0a, 0x60, 0x0a, 0x04,
};
static const uint8_t iasl_field[] = {
	0x5b, 0x81, 0x29, 0x5c, 0x2f, 0x04, 0x5f, 0x53, 0x42, 0x5f, 0x50, 0x43, 0x49, 0x30, 0x49, 0x53, 0x41, 0x5f,
	0x50, 0x49, 0x52, 0x51, 0x01, 0x50, 0x52, 0x51, 0x41, 0x08, 0x50, 0x52, 0x51, 0x42, 0x08, 0x50, 0x52, 0x51,
	0x43, 0x08, 0x50, 0x52, 0x51, 0x44, 0x08,
};
static const uint8_t iasl_lnka[] = {
	0x5b, 0x82, 0x47, 0x0b, 0x4c, 0x4e, 0x4b, 0x41, 0x08, 0x5f, 0x48, 0x49, 0x44, 0x0c, 0x41, 0xd0, 0x0c, 0x0f,
	0x08, 0x5f, 0x55, 0x49, 0x44, 0x00, 0x08, 0x5f, 0x50, 0x52, 0x53, 0x11, 0x16, 0x0a, 0x13, 0x89, 0x0e, 0x00,
	0x09, 0x03, 0x05, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x0b, 0x00, 0x00, 0x00, 0x79, 0x00, 0x14, 0x16,
	0x5f, 0x53, 0x54, 0x41, 0x00, 0xa0, 0x0c, 0x7b, 0x50, 0x52, 0x51, 0x41, 0x0a, 0x80, 0x00, 0xa4, 0x0a, 0x09,
	0xa4, 0x0a, 0x0b, 0x14, 0x11, 0x5f, 0x44, 0x49, 0x53, 0x00, 0x7d, 0x50, 0x52, 0x51, 0x41, 0x0a, 0x80, 0x50,
	0x52, 0x51, 0x41, 0x14, 0x43, 0x04, 0x5f, 0x43, 0x52, 0x53, 0x08, 0x08, 0x52, 0x45, 0x53, 0x5f, 0x11, 0x0e,
	0x0a, 0x0b, 0x89, 0x06, 0x00, 0x09, 0x01, 0x00, 0x00, 0x00, 0x00, 0x79, 0x00, 0x8a, 0x52, 0x45, 0x53, 0x5f,
	0x0a, 0x05, 0x49, 0x52, 0x51, 0x5f, 0xa0, 0x17, 0x92, 0x7b, 0x50, 0x52, 0x51, 0x41, 0x0a, 0x80, 0x00, 0x70,
	0x7b, 0x50, 0x52, 0x51, 0x41, 0x0a, 0x0f, 0x00, 0x49, 0x52, 0x51, 0x5f, 0xa4, 0x52, 0x45, 0x53, 0x5f, 0x14,
	0x17, 0x5f, 0x53, 0x52, 0x53, 0x09, 0x8a, 0x68, 0x0a, 0x05, 0x49, 0x52, 0x51, 0x5f, 0x70, 0x49, 0x52, 0x51,
	0x5f, 0x50, 0x52, 0x51, 0x41,
};
static const uint8_t iasl_prt_start[] = {
	0x08, 0x5f, 0x50, 0x52, 0x54, 0x12, 0x4b, 0xa3, 0x80, 0x12, 0x11, 0x04, 0x0b, 0xff, 0xff, 0x00, 0x5c, 0x2e,
	0x5f, 0x53, 0x42, 0x5f, 0x4c, 0x4e, 0x4b, 0x41, 0x00, 0x12, 0x11, 0x04, 0x0b, 0xff, 0xff, 0x01, 0x5c, 0x2e,
	0x5f, 0x53, 0x42, 0x5f, 0x4c, 0x4e, 0x4b, 0x42, 0x00, 0x12, 0x12, 0x04, 0x0b, 0xff, 0xff, 0x0a, 0x02, 0x5c,
	0x2e, 0x5f, 0x53, 0x42, 0x5f, 0x4c, 0x4e, 0x4b, 0x43, 0x00,
};

static const struct acpi_config pc_cfg = {
	.ncpus = 1,
	.pm_base = ACPI_PM_BASE,
	.sci_irq = ACPI_PM_SCI_IRQ,
	.ioapic_base = ACPI_IOAPIC_BASE,
	.hpet_base = ACPI_HPET_BASE,
	.hpet_block_id = 0x8086a201,
	.pci_mem_start = 0xc0000000,
	.pci_mem_end = 0xfebfffff,
};

/* ---- a structural AML walk: the subset the DSDT uses, every length checked ---- */

struct walk {
	const uint8_t *p, *end;
	int ok;
	char path[128]; /* current scope */
	char found[64][64];
	unsigned nfound;
};

static unsigned pkglen(struct walk *w, size_t *len)
{
	if (w->p >= w->end)
		return w->ok = 0;
	unsigned n = (w->p[0] >> 6) + 1;
	if (w->p + n > w->end)
		return w->ok = 0;
	size_t v = n == 1 ? (w->p[0] & 0x3f) : (w->p[0] & 0x0f);
	for (unsigned k = 1; k < n; k++)
		v |= (size_t)w->p[k] << (4 + 8 * (k - 1));
	if (n > 1 && (w->p[0] & 0x30))
		w->ok = 0; /* bits 5:4 must be zero in multi-byte encodings */
	*len = v;
	w->p += n;
	return n;
}

/* Reads a NameString into out as a dotted path ("\\_SB_.PCI0"). */
static void name_string(struct walk *w, char *out, size_t outlen)
{
	size_t o = 0;
	while (w->p < w->end && (*w->p == '\\' || *w->p == '^') && o + 1 < outlen)
		out[o++] = (char)*w->p++;
	unsigned nseg = 1;
	if (w->p < w->end && *w->p == 0x2e) {
		nseg = 2;
		w->p++;
	} else if (w->p + 1 < w->end && *w->p == 0x2f) {
		nseg = w->p[1];
		w->p += 2;
	} else if (w->p < w->end && *w->p == 0x00) {
		nseg = 0;
		w->p++;
	}
	for (unsigned s = 0; s < nseg; s++) {
		if (w->p + 4 > w->end || o + 6 > outlen) {
			w->ok = 0;
			return;
		}
		if (s)
			out[o++] = '.';
		for (int k = 0; k < 4; k++) {
			char c = (char)w->p[k];
			if (!((c >= 'A' && c <= 'Z') || c == '_' || (k && c >= '0' && c <= '9')))
				w->ok = 0;
			out[o++] = c;
		}
		w->p += 4;
	}
	out[o] = 0;
}

static void data_object(struct walk *w);

static void skip_pkg(struct walk *w, int package)
{
	const uint8_t *start = w->p;
	size_t len;
	pkglen(w, &len);
	const uint8_t *end = start + len;
	if (!w->ok || end > w->end) {
		w->ok = 0;
		return;
	}
	if (package) { /* NumElements then that many data objects, exactly filling the package */
		unsigned n = *w->p++;
		const uint8_t *saved_end = w->end;
		w->end = end;
		for (unsigned k = 0; k < n && w->ok; k++)
			data_object(w);
		if (w->p != end)
			w->ok = 0;
		w->end = saved_end;
	}
	w->p = end;
}

static void data_object(struct walk *w)
{
	if (w->p >= w->end) {
		w->ok = 0;
		return;
	}
	uint8_t op = *w->p;
	if (op == '\\' || op == '^' || op == 0x2e || op == 0x2f || op == '_' || (op >= 'A' && op <= 'Z')) {
		char name[64]; /* a reference to a named object (a _PRT source, say) */
		name_string(w, name, sizeof(name));
		return;
	}
	w->p++;
	switch (op) {
	case 0x00: case 0x01: case 0xff: break;
	case 0x0a: w->p += 1; break;
	case 0x0b: w->p += 2; break;
	case 0x0c: w->p += 4; break;
	case 0x0e: w->p += 8; break;
	case 0x0d:
		while (w->p < w->end && *w->p)
			w->p++;
		w->p++;
		break;
	case 0x11: skip_pkg(w, 0); break;
	case 0x12: skip_pkg(w, 1); break;
	default: w->ok = 0;
	}
	if (w->p > w->end)
		w->ok = 0;
}

/* dst = a "." b, or "" when it does not fit */
static void join(char *dst, size_t n, const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la + 1 + lb + 1 > n) {
		dst[0] = 0;
		return;
	}
	memcpy(dst, a, la);
	dst[la] = '.';
	memcpy(dst + la + 1, b, lb + 1);
}

static void record(struct walk *w, const char *name)
{
	if (w->nfound < 64) {
		if (name[0] == '\\')
			snprintf(w->found[w->nfound++], 64, "%s", name);
		else
			join(w->found[w->nfound++], 64, w->path, name);
	}
}

static void term_list(struct walk *w)
{
	while (w->ok && w->p < w->end) {
		char name[64];
		uint8_t op = *w->p++;
		if (op == 0x08) { /* Name */
			name_string(w, name, sizeof(name));
			record(w, name);
			data_object(w);
		} else if (op == 0x14 || (op == 0x5b && w->p < w->end && *w->p == 0x81)) { /* Method, Field */
			if (op == 0x5b)
				w->p++;
			const uint8_t *start = w->p;
			size_t len;
			pkglen(w, &len);
			if (!w->ok || start + len > w->end) {
				w->ok = 0;
				return;
			}
			name_string(w, name, sizeof(name));
			if (op == 0x14)
				record(w, name); /* a Field's name is its region's */
			w->p = start + len;
		} else if (op == 0x5b && w->p < w->end && *w->p == 0x80) { /* OperationRegion */
			w->p++;
			name_string(w, name, sizeof(name));
			record(w, name);
			w->p++; /* space */
			data_object(w);
			data_object(w);
		} else if (op == 0x10 || (op == 0x5b && w->p < w->end && *w->p == 0x82)) { /* Scope, Device */
			if (op == 0x5b)
				w->p++;
			const uint8_t *start = w->p;
			size_t len;
			pkglen(w, &len);
			const uint8_t *end = start + len;
			if (!w->ok || end > w->end) {
				w->ok = 0;
				return;
			}
			name_string(w, name, sizeof(name));
			if (op != 0x10)
				record(w, name);
			char saved[128];
			memcpy(saved, w->path, sizeof(saved));
			if (name[0] == '\\')
				snprintf(w->path, sizeof(w->path), "%s", name);
			else
				join(w->path, sizeof(w->path), saved, name);
			const uint8_t *saved_end = w->end;
			w->end = end;
			term_list(w);
			w->end = saved_end;
			memcpy(w->path, saved, sizeof(saved));
			if (w->p != end)
				w->ok = 0;
		} else {
			w->ok = 0;
		}
	}
}

static int has(const struct walk *w, const char *name)
{
	for (unsigned k = 0; k < w->nfound; k++)
		if (!strcmp(w->found[k], name))
			return 1;
	return 0;
}

static void test_dsdt(void)
{
	struct aml a;
	aml_init(&a);
	acpi_dsdt_body(&a, &pc_cfg);
	CHECK(bytes_are(&a, iasl_dsdt_body, sizeof(iasl_dsdt_body)), "DSDT body matches iasl's encoding (%zu bytes)",
	      a.len);

	struct walk w = { .p = a.buf, .end = a.buf + a.len, .ok = 1, .path = "\\" };
	term_list(&w);
	CHECK(w.ok && w.p == w.end, "DSDT parses as a term list, every PkgLength exact");
	CHECK(has(&w, "\\_SB_.PCI0") && has(&w, "\\_SB_.PCI0._HID") && has(&w, "\\_SB_.PCI0._CRS") &&
		      has(&w, "\\_SB_.PCI0._BBN"),
	      "\\_SB.PCI0 with _HID, _BBN and _CRS");
	CHECK(has(&w, "\\_SB_.C000") && has(&w, "\\_S5_"), "processor device and \\_S5 present");
	aml_free(&a);

	struct acpi_config c = pc_cfg;
	c.ncpus = 3;
	aml_init(&a);
	acpi_dsdt_body(&a, &c);
	w = (struct walk){ .p = a.buf, .end = a.buf + a.len, .ok = 1, .path = "\\" };
	term_list(&w);
	CHECK(w.ok && has(&w, "\\_SB_.C000") && has(&w, "\\_SB_.C001") && has(&w, "\\_SB_.C002") &&
		      !has(&w, "\\_SB_.C003"),
	      "one processor device per CPU");
	aml_free(&a);

	/* the walker itself rejects a PkgLength one byte short */
	uint8_t broken[sizeof(iasl_dsdt_body)];
	memcpy(broken, iasl_dsdt_body, sizeof(broken));
	broken[sizeof(broken) - 8]--; /* the \_S5 package length */
	w = (struct walk){ .p = broken, .end = broken + sizeof(broken), .ok = 1, .path = "\\" };
	term_list(&w);
	CHECK(!w.ok, "walker rejects a wrong package length");
}

static int contains(const struct aml *a, const uint8_t *frag, size_t n)
{
	return !a->err && memmem(a->buf, a->len, frag, n) != NULL;
}

static uint64_t integer(struct walk *w)
{
	uint8_t op = w->p < w->end ? *w->p++ : 0xff;
	unsigned n = op == 0x0a ? 1 : op == 0x0b ? 2 : op == 0x0c ? 4 : op == 0x0e ? 8 : 0;
	if (op == 0x00 || op == 0x01)
		return op;
	if (!n || w->p + n > w->end) {
		w->ok = 0;
		return 0;
	}
	uint64_t v = 0;
	for (unsigned k = 0; k < n; k++)
		v |= (uint64_t)w->p[k] << (8 * k);
	w->p += n;
	return v;
}

static void test_dsdt_pci_links(void)
{
	struct acpi_config c = pc_cfg;
	c.piix_adr = 0x00010000;
	struct aml a;
	aml_init(&a);
	acpi_dsdt_body(&a, &c);
	CHECK(contains(&a, iasl_isa, sizeof(iasl_isa)), "\\_SB.PCI0.ISA with the PIRQ region matches iasl");
	CHECK(contains(&a, iasl_field, sizeof(iasl_field)), "PRQA-PRQD field matches iasl");
	CHECK(contains(&a, iasl_lnka, sizeof(iasl_lnka)), "LNKA with _PRS/_STA/_DIS/_CRS/_SRS matches iasl");
	CHECK(contains(&a, iasl_prt_start, sizeof(iasl_prt_start)), "_PRT header and first entries match iasl");

	struct walk w = { .p = a.buf, .end = a.buf + a.len, .ok = 1, .path = "\\" };
	term_list(&w);
	CHECK(w.ok && w.p == w.end, "DSDT with links parses, every PkgLength exact");
	int links = 1;
	for (unsigned k = 0; k < 4; k++) {
		char dev[32], m[40];
		snprintf(dev, sizeof(dev), "\\_SB_.LNK%c", 'A' + k);
		links &= has(&w, dev);
		static const char *const methods[] = { "_HID", "_UID", "_PRS", "_STA", "_DIS", "_CRS", "_SRS" };
		for (unsigned j = 0; j < 7; j++) {
			snprintf(m, sizeof(m), "%s.%s", dev, methods[j]);
			links &= has(&w, m);
		}
	}
	CHECK(links, "LNKA-LNKD each with _HID, _UID, _PRS, _STA, _DIS, _CRS, _SRS");
	CHECK(has(&w, "\\_SB_.PCI0._PRT") && has(&w, "\\_SB_.PCI0.ISA_._ADR") && has(&w, "\\_SB_.PCI0.ISA_.PIRQ"),
	      "PCI0 has _PRT and the ISA bridge with its PIRQ region");

	/* Every _PRT entry: slot s, pin p -> \_SB.LNK('A' + (s + p) % 4), source index 0. */
	static const uint8_t prt_name[] = { 0x08, '_', 'P', 'R', 'T', 0x12 };
	const uint8_t *p = memmem(a.buf, a.len, prt_name, sizeof(prt_name));
	int ok = p != NULL, entries = 0;
	if (p) {
		w = (struct walk){ .p = p + sizeof(prt_name), .end = a.buf + a.len, .ok = 1 };
		size_t len;
		pkglen(&w, &len);
		unsigned n = *w.p++;
		ok = n == 128;
		for (unsigned k = 0; ok && k < n; k++) {
			char name[64];
			ok = *w.p++ == 0x12;
			const uint8_t *start = w.p;
			pkglen(&w, &len);
			ok &= *w.p++ == 4;
			uint64_t adr = integer(&w), pin = integer(&w);
			name_string(&w, name, sizeof(name));
			uint64_t src = integer(&w);
			unsigned slot = (unsigned)(adr >> 16);
			char want[32];
			snprintf(want, sizeof(want), "\\_SB_.LNK%c", (int)('A' + ((slot + pin) & 3)));
			ok &= w.ok && w.p == start + len && (adr & 0xffff) == 0xffff && slot == k / 4 && pin == k % 4 &&
			      !strcmp(name, want) && src == 0;
			entries++;
		}
	}
	CHECK(ok && entries == 128, "_PRT: 32 slots x 4 pins, INTx of slot s pin p on LNK[(s + p) mod 4]");
	aml_free(&a);

	aml_init(&a);
	acpi_dsdt_body(&a, &pc_cfg);
	CHECK(!memmem(a.buf, a.len, prt_name, sizeof(prt_name)), "no _PRT without piix_adr");
	aml_free(&a);
}

/* ---- the tables as an OS finds them ---- */

#define BASE ACPI_TABLES_BASE
static uint8_t mem[ACPI_TABLES_SIZE];

static const uint8_t *at(uint64_t gpa, uint32_t len)
{
	if (gpa < BASE || gpa + len > BASE + sizeof(mem))
		return NULL;
	return mem + (gpa - BASE);
}

static const uint8_t *table(uint64_t gpa, const char *sig)
{
	const uint8_t *t = at(gpa, 36);
	if (!t || memcmp(t, sig, 4) || !at(gpa, rd32(t + 4)))
		return NULL;
	return t;
}

/* Linux's legacy scan: "RSD PTR " on a 16-byte boundary with a valid 20-byte checksum. */
static const uint8_t *scan_rsdp(void)
{
	for (size_t off = 0; off + 36 <= sizeof(mem); off += 16)
		if (!memcmp(mem + off, "RSD PTR ", 8) && acpi_checksum(mem + off, 20) == 0)
			return mem + off;
	return NULL;
}

static const uint8_t *xsdt_find(const uint8_t *xsdt, const char *sig)
{
	uint32_t n = (rd32(xsdt + 4) - 36) / 8;
	for (uint32_t k = 0; k < n; k++) {
		const uint8_t *t = table(rd64(xsdt + 36 + 8 * k), sig);
		if (t)
			return t;
	}
	return NULL;
}

static void test_tables(void)
{
	uint64_t rsdp = 0;
	memset(mem, 0xaa, sizeof(mem));
	struct acpi_config cfg = pc_cfg;
	cfg.piix_adr = 0x00010000; /* as pc.c builds them */
	int used = acpi_build(&cfg, mem, BASE, sizeof(mem), &rsdp);
	CHECK(used > 0 && used < 8192, "tables built (%d bytes)", used);

	const uint8_t *r = scan_rsdp();
	CHECK(r && BASE + (uint64_t)(r - mem) == rsdp, "legacy scan finds the RSDP at the returned address");
	if (!r)
		return;
	CHECK(r[15] == 2 && rd32(r + 20) == 36, "RSDP revision 2, length 36");
	CHECK(acpi_checksum(r, 36) == 0, "RSDP extended checksum");
	CHECK(!memcmp(r + 9, "SOFTVM", 6), "RSDP OEM id");

	const uint8_t *xsdt = table(rd64(r + 24), "XSDT"), *rsdt = table(rd32(r + 16), "RSDT");
	CHECK(xsdt && rsdt, "RSDP points at the XSDT and the RSDT");
	if (!xsdt || !rsdt)
		return;
	uint32_t n = (rd32(xsdt + 4) - 36) / 8;
	CHECK(n == 3 && rd32(rsdt + 4) == 36 + 4 * n, "XSDT and RSDT list the same 3 tables");
	for (uint32_t k = 0; k < n; k++)
		CHECK(rd64(xsdt + 36 + 8 * k) == rd32(rsdt + 36 + 4 * k), "XSDT entry %u = RSDT entry %u", k, k);

	const uint8_t *fadt = xsdt_find(xsdt, "FACP"), *madt = xsdt_find(xsdt, "APIC"),
		      *hpet = xsdt_find(xsdt, "HPET");
	CHECK(fadt && madt && hpet, "XSDT lists FADT, MADT and HPET");
	if (!fadt || !madt || !hpet)
		return;
	const uint8_t *all[] = { xsdt, rsdt, fadt, madt, hpet };
	for (unsigned k = 0; k < 5; k++) {
		CHECK(acpi_checksum(all[k], rd32(all[k] + 4)) == 0, "%.4s checksum", (const char *)all[k]);
		CHECK(!memcmp(all[k] + 10, "SOFTVM", 6), "%.4s OEM id", (const char *)all[k]);
		CHECK((uint64_t)(all[k] - mem) % 8 == 0, "%.4s 8-byte aligned", (const char *)all[k]);
	}

	/* FADT (§5.2.9) */
	CHECK(rd32(fadt + 4) == 276 && fadt[8] == 6, "FADT revision 6, 276 bytes");
	CHECK(rd16(fadt + 46) == 9, "SCI_INT 9");
	CHECK(rd32(fadt + 48) == 0, "no SMI_CMD (hardware always in ACPI mode)");
	CHECK(rd32(fadt + 56) == 0x600 && fadt[88] == 4, "PM1a_EVT_BLK 0x600, 4 bytes");
	CHECK(rd32(fadt + 64) == 0x604 && fadt[89] == 2, "PM1a_CNT_BLK 0x604, 2 bytes");
	CHECK(rd32(fadt + 76) == 0x608 && fadt[91] == 4, "PM_TMR_BLK 0x608, 4 bytes");
	CHECK(rd32(fadt + 60) == 0 && rd32(fadt + 68) == 0 && rd32(fadt + 72) == 0 && rd32(fadt + 80) == 0,
	      "no PM1b, PM2 or GPE0 blocks");
	CHECK(rd16(fadt + 96) > 100 && rd16(fadt + 98) > 1000, "C2 and C3 unsupported");
	uint32_t flags = rd32(fadt + 112);
	CHECK((flags & 0x1) && (flags & 0x4), "flags: WBINVD, PROC_C1");
	CHECK(!(flags & 0x10) && (flags & 0x20), "flags: fixed power button, no sleep button");
	CHECK((flags & 0x100) && (flags & 0x400), "flags: TMR_VAL_EXT (32-bit timer), RESET_REG_SUP");
	CHECK(!(flags & (1u << 20)), "not hardware-reduced");
	CHECK(rd16(fadt + 109) == 3, "IAPC_BOOT_ARCH: LEGACY_DEVICES | 8042");
	const uint8_t *rr = fadt + 116;
	CHECK(rr[0] == 1 && rr[1] == 8 && rr[2] == 0 && rr[3] == 1 && rd64(rr + 4) == 0x60c,
	      "RESET_REG: system I/O byte at 0x60c");
	CHECK(fadt[128] == ACPI_PM_RESET_VALUE, "RESET_VALUE 6");
	CHECK(rd64(fadt + 132) == 0, "X_FIRMWARE_CTRL 0 when FIRMWARE_CTRL is set (only one may be)");
	CHECK(rd64(fadt + 140) == rd32(fadt + 40), "X_DSDT equals DSDT");
	static const struct {
		unsigned legacy, x, len_off;
	} blocks[] = { { 56, 148, 88 }, { 64, 172, 89 }, { 76, 208, 91 } };
	for (unsigned k = 0; k < 3; k++) {
		const uint8_t *g = fadt + blocks[k].x;
		CHECK(g[0] == 1 && g[1] == fadt[blocks[k].len_off] * 8 && g[2] == 0 && rd64(g + 4) == rd32(fadt + blocks[k].legacy),
		      "X_ block at FADT offset %u matches its legacy address and length", blocks[k].x);
	}
	CHECK(fadt[160] == 0 && rd64(fadt + 164) == 0 && rd64(fadt + 224) == 0, "X_PM1b and X_GPE0 empty");

	/* FACS (§5.2.10): 64-byte aligned, 64 bytes, no checksum */
	const uint8_t *facs = at(rd32(fadt + 36), 64);
	CHECK(facs && rd32(fadt + 36) % 64 == 0 && !memcmp(facs, "FACS", 4) && rd32(facs + 4) == 64,
	      "FACS: 64-byte aligned, signature, length 64");

	/* DSDT */
	const uint8_t *dsdt = table(rd32(fadt + 40), "DSDT");
	CHECK(dsdt && dsdt[8] == 2 && acpi_checksum(dsdt, rd32(dsdt + 4)) == 0, "DSDT revision 2, checksum");
	struct aml body;
	aml_init(&body);
	acpi_dsdt_body(&body, &cfg);
	CHECK(dsdt && rd32(dsdt + 4) == 36 + body.len && !memcmp(dsdt + 36, body.buf, body.len),
	      "DSDT in memory holds the AML body");
	aml_free(&body);

	/* MADT (§5.2.12) */
	uint32_t mlen = rd32(madt + 4);
	CHECK(rd32(madt + 36) == 0xfee00000 && rd32(madt + 40) == 1, "MADT: local APIC at 0xfee00000, PCAT_COMPAT");
	int nlapic = 0, nioapic = 0, nnmi = 0, irq0 = 0, irq9 = 0, links = 0, bad = 0;
	uint32_t off = 44;
	while (off + 2 <= mlen) {
		const uint8_t *e = madt + off;
		if (e[1] < 2 || off + e[1] > mlen) {
			bad = 1;
			break;
		}
		switch (e[0]) {
		case 0:
			nlapic++;
			bad |= e[1] != 8 || e[2] != 0 || e[3] != 0 || rd32(e + 4) != 1;
			break;
		case 1:
			nioapic++;
			bad |= e[1] != 12 || e[2] != 0 || rd32(e + 4) != 0xfec00000 || rd32(e + 8) != 0;
			break;
		case 2:
			bad |= e[1] != 10 || e[2] != 0;
			if (e[3] == 0)
				irq0 = rd32(e + 4) == 2 && rd16(e + 8) == 0x5;
			else if (e[3] == 9)
				irq9 = rd32(e + 4) == 9 && rd16(e + 8) == 0xd;
			else if (e[3] == 5 || e[3] == 10 || e[3] == 11)
				links += rd32(e + 4) == e[3] && rd16(e + 8) == 0xd;
			else
				bad = 1;
			break;
		case 4:
			nnmi++;
			bad |= e[1] != 6 || e[2] != 0xff || e[5] != 1;
			break;
		default: bad = 1;
		}
		off += e[1];
	}
	CHECK(!bad && off == mlen, "MADT entries well formed and filling the table exactly");
	CHECK(nlapic == 1, "one Processor Local APIC (UID 0, APIC id 0, enabled)");
	CHECK(nioapic == 1, "one IOAPIC (id 0 at 0xfec00000, GSI base 0)");
	CHECK(irq0, "override IRQ0 -> GSI2, edge, active high");
	CHECK(irq9, "override IRQ9 (SCI) -> GSI9, level, active high");
	CHECK(links == 3, "overrides IRQ5/10/11 (PCI links) -> same GSI, level, active high");
	CHECK(nnmi == 1, "LINT1 is NMI on all processors");

	/* HPET */
	CHECK(rd32(hpet + 4) == 56 && rd32(hpet + 36) == 0x8086a201, "HPET: 56 bytes, event timer block id");
	CHECK(hpet[40] == 0 && hpet[41] == 64 && rd64(hpet + 44) == 0xfed00000, "HPET base 0xfed00000 in memory space");
	CHECK(hpet[52] == 0 && rd16(hpet + 53) == 0x80, "HPET number 0, minimum tick 128");

	/* Nothing written past what acpi_build reported. */
	int clean = 1;
	for (size_t k = (size_t)used; k < sizeof(mem); k++)
		clean &= mem[k] == 0xaa;
	CHECK(clean, "nothing written past the reported size");
}

static void test_variants(void)
{
	uint64_t rsdp;
	struct acpi_config c = pc_cfg;
	c.hpet_base = 0;
	c.ioapic_base = 0;
	memset(mem, 0, sizeof(mem));
	CHECK(acpi_build(&c, mem, BASE, sizeof(mem), &rsdp) > 0, "tables without HPET and IOAPIC");
	const uint8_t *xsdt = table(rd64(mem + 24), "XSDT");
	CHECK(xsdt && rd32(xsdt + 4) == 36 + 16 && !xsdt_find(xsdt, "HPET"), "no HPET table when hpet_base is 0");
	const uint8_t *madt = xsdt ? xsdt_find(xsdt, "APIC") : NULL;
	CHECK(madt && rd32(madt + 4) == 44 + 8 + 6 && acpi_checksum(madt, rd32(madt + 4)) == 0,
	      "MADT without IOAPIC has only the local APIC and its NMI entry");

	c = pc_cfg;
	c.ncpus = 4;
	memset(mem, 0, sizeof(mem));
	CHECK(acpi_build(&c, mem, BASE, sizeof(mem), &rsdp) > 0, "tables for 4 CPUs");
	xsdt = table(rd64(mem + 24), "XSDT");
	madt = xsdt ? xsdt_find(xsdt, "APIC") : NULL;
	int ok = madt != NULL;
	for (unsigned k = 0; ok && k < 4; k++) {
		const uint8_t *e = madt + 44 + 8 * k;
		ok = e[0] == 0 && e[2] == k && e[3] == k && rd32(e + 4) == 1;
	}
	CHECK(ok, "one enabled Processor Local APIC per CPU, UID = APIC id");

	CHECK(acpi_build(&pc_cfg, mem, BASE, 256, &rsdp) == -ENOSPC, "too small a region is -ENOSPC");
	c = pc_cfg;
	c.ncpus = 0;
	CHECK(acpi_build(&c, mem, BASE, sizeof(mem), &rsdp) == -EINVAL, "no CPUs is -EINVAL");
	CHECK(acpi_build(&pc_cfg, mem, BASE + 8, sizeof(mem), &rsdp) == -EINVAL, "unaligned base is -EINVAL");
}

int main(void)
{
	test_aml_encodings();
	test_pkglen();
	test_resources();
	test_dsdt();
	test_dsdt_pci_links();
	test_tables();
	test_variants();
	TEST_EXIT();
}
