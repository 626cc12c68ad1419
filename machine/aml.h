/*
 * A small emitter for ACPI Machine Language (ACPI 6.5 ch. 20, "ACPI Machine Language
 * Specification"), enough to write the DSDT in C: name strings, integers, strings, EISA ids,
 * Name/Scope/Device/Package/Buffer, and ResourceTemplate descriptors (ch. 6.4) for a _CRS.
 *
 * Objects that carry a PkgLength (Scope, Device, Package) are opened with *_begin(), which
 * returns a mark, filled, and closed with aml_end(mark), which inserts the length encoding.
 * Allocation failures are sticky: the buffer records them in err and the caller checks once.
 */
#ifndef SOFTVM_MACHINE_AML_H
#define SOFTVM_MACHINE_AML_H
#include <stddef.h>
#include <stdint.h>

struct aml {
	uint8_t *buf;
	size_t len, cap;
	int err; /* -ENOMEM or -EINVAL once something failed; further output is dropped */
};

void aml_init(struct aml *a);
void aml_free(struct aml *a);

void aml_bytes(struct aml *a, const void *p, size_t n);
void aml_byte(struct aml *a, uint8_t b);

/* NameString (§20.2.2): "\\_SB.PCI0", "^FOO", "_S5" (segments shorter than 4 are padded with '_'). */
void aml_name_string(struct aml *a, const char *path);
/* The shortest of ZeroOp, OneOp, ByteConst, WordConst, DWordConst, QWordConst (§20.2.3). */
void aml_integer(struct aml *a, uint64_t v);
/* String (StringPrefix, ASCII, NUL). */
void aml_string(struct aml *a, const char *s);
/* EisaId("PNP0A03") as the DWordConst the ASL compiler produces; id must be 3 letters + 4 hex. */
void aml_eisaid(struct aml *a, const char *id);
/* Buffer (BufferOp PkgLength BufferSize bytes) holding data. */
void aml_buffer(struct aml *a, const void *data, size_t n);

/* Name(name, ...): emits NameOp and the name; the caller emits the object next. */
void aml_name(struct aml *a, const char *name);

size_t aml_scope_begin(struct aml *a, const char *name);
size_t aml_device_begin(struct aml *a, const char *name);
size_t aml_package_begin(struct aml *a, uint8_t num_elements);
/* Method(name, nargs, Serialized or NotSerialized) { ... } */
size_t aml_method_begin(struct aml *a, const char *name, unsigned nargs, int serialized);
/* If (predicate) { ... }: the caller emits the predicate, then the body, then aml_end. */
size_t aml_if_begin(struct aml *a);
/* OperationRegion(name, space, offset, len) */
void aml_opregion(struct aml *a, const char *name, uint8_t space, uint64_t offset, uint64_t len);
/* Field(region, flags) { entries }: aml_field_entry for each named field of bits bits. */
size_t aml_field_begin(struct aml *a, const char *region, uint8_t flags);
void aml_field_entry(struct aml *a, const char *name, unsigned bits);
/* Closes the object opened at mark by inserting its PkgLength (§20.2.4). */
void aml_end(struct aml *a, size_t mark);

/* Expression opcodes (§20.2.5), emitted with aml_byte and followed by their operands in
 * prefix order, e.g. Store(And(X, 0x0f), Y): AML_STORE AML_AND X 0x0f AML_NULL_TARGET Y. */
#define AML_NULL_TARGET 0x00
#define AML_LOCAL0 0x60 /* Local0..Local7: AML_LOCAL0 + n */
#define AML_ARG0 0x68   /* Arg0..Arg6: AML_ARG0 + n */
#define AML_STORE 0x70
#define AML_AND 0x7b
#define AML_OR 0x7d
#define AML_CREATE_DWORD_FIELD 0x8a /* source buffer, byte index, name */
#define AML_LNOT 0x92
#define AML_RETURN 0xa4
/* OperationRegion spaces and Field flags (§19.6.100, §19.6.48) */
#define AML_REGION_PCI_CONFIG 0x02
#define AML_FIELD_BYTE_ACC 0x01 /* NoLock, Preserve */

/* PkgLength encoding of a length that includes the encoding itself; returns its size (1-4),
 * or 0 if the value cannot be encoded. */
unsigned aml_pkglen_encode(uint8_t out[4], size_t body_len);

/* ResourceTemplate descriptors, appended to a byte array (ACPI 6.5 §6.4). End with res_end. */
enum { RES_PRODUCER = 0, RES_CONSUMER = 1 };
void res_io(struct aml *r, uint16_t min, uint16_t max, uint8_t align, uint8_t len);
void res_word_bus(struct aml *r, uint16_t min, uint16_t max);
void res_word_io(struct aml *r, uint16_t min, uint16_t max);
void res_dword_mem(struct aml *r, uint32_t min, uint32_t max, int cacheable);
/* Extended Interrupt descriptor (§6.4.3.6): consumer, with the given flags, n <= 255 interrupts. */
#define RES_IRQ_EDGE 0x02
#define RES_IRQ_ACTIVE_LOW 0x04
#define RES_IRQ_SHARED 0x08
void res_interrupt(struct aml *r, uint8_t flags, const uint32_t *irqs, unsigned n);
void res_end(struct aml *r);
#endif
