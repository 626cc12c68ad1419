/*
 * ACPI Machine Language emitter (ACPI 6.5 ch. 20) and resource descriptors (§6.4). Only the
 * encodings softvm's DSDT needs; see aml.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "machine/aml.h"

#define AML_ZERO_OP 0x00
#define AML_ONE_OP 0x01
#define AML_NAME_OP 0x08
#define AML_BYTE_PREFIX 0x0a
#define AML_WORD_PREFIX 0x0b
#define AML_DWORD_PREFIX 0x0c
#define AML_STRING_PREFIX 0x0d
#define AML_QWORD_PREFIX 0x0e
#define AML_SCOPE_OP 0x10
#define AML_BUFFER_OP 0x11
#define AML_PACKAGE_OP 0x12
#define AML_DUAL_NAME_PREFIX 0x2e
#define AML_MULTI_NAME_PREFIX 0x2f
#define AML_EXT_OP_PREFIX 0x5b
#define AML_METHOD_OP 0x14
#define AML_IF_OP 0xa0
#define AML_OPREGION_OP 0x80 /* after ExtOpPrefix */
#define AML_FIELD_OP 0x81    /* after ExtOpPrefix */
#define AML_DEVICE_OP 0x82   /* after ExtOpPrefix */
#define AML_ROOT_CHAR '\\'
#define AML_PARENT_PREFIX '^'

void aml_init(struct aml *a)
{
	memset(a, 0, sizeof(*a));
}

void aml_free(struct aml *a)
{
	free(a->buf);
	aml_init(a);
}

static int aml_reserve(struct aml *a, size_t n)
{
	if (a->err)
		return -1;
	if (a->len + n <= a->cap)
		return 0;
	size_t cap = a->cap ? a->cap : 256;
	while (cap < a->len + n)
		cap *= 2;
	uint8_t *p = realloc(a->buf, cap);
	if (!p) {
		a->err = -ENOMEM;
		return -1;
	}
	a->buf = p;
	a->cap = cap;
	return 0;
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (aml_reserve(a, n) < 0)
		return;
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

static void aml_le(struct aml *a, uint64_t v, unsigned n)
{
	uint8_t b[8];
	for (unsigned k = 0; k < n; k++)
		b[k] = (uint8_t)(v >> (8 * k));
	aml_bytes(a, b, n);
}

static int lead_name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || c == '_';
}

static int name_char(char c)
{
	return lead_name_char(c) || (c >= '0' && c <= '9');
}

/* NameString := <RootChar NamePath> | <PrefixPath NamePath>; segments are 4 characters. */
void aml_name_string(struct aml *a, const char *path)
{
	char segs[255][4];
	unsigned nseg = 0;
	const char *p = path;
	if (*p == AML_ROOT_CHAR)
		aml_byte(a, *p++);
	else
		while (*p == AML_PARENT_PREFIX)
			aml_byte(a, *p++);
	while (*p) {
		unsigned k = 0;
		if (nseg == 255 || !lead_name_char(*p)) {
			a->err = a->err ? a->err : -EINVAL;
			return;
		}
		while (*p && *p != '.') {
			if (k == 4 || !name_char(*p)) {
				a->err = a->err ? a->err : -EINVAL;
				return;
			}
			segs[nseg][k++] = *p++;
		}
		while (k < 4)
			segs[nseg][k++] = '_';
		nseg++;
		if (*p == '.' && !*++p) {
			a->err = a->err ? a->err : -EINVAL;
			return;
		}
	}
	if (nseg == 0) {
		aml_byte(a, 0); /* NullName */
		return;
	}
	if (nseg == 2)
		aml_byte(a, AML_DUAL_NAME_PREFIX);
	else if (nseg > 2) {
		aml_byte(a, AML_MULTI_NAME_PREFIX);
		aml_byte(a, (uint8_t)nseg);
	}
	aml_bytes(a, segs, 4 * nseg);
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0)
		aml_byte(a, AML_ZERO_OP);
	else if (v == 1)
		aml_byte(a, AML_ONE_OP);
	else if (v <= 0xff) {
		aml_byte(a, AML_BYTE_PREFIX);
		aml_le(a, v, 1);
	} else if (v <= 0xffff) {
		aml_byte(a, AML_WORD_PREFIX);
		aml_le(a, v, 2);
	} else if (v <= 0xffffffff) {
		aml_byte(a, AML_DWORD_PREFIX);
		aml_le(a, v, 4);
	} else {
		aml_byte(a, AML_QWORD_PREFIX);
		aml_le(a, v, 8);
	}
}

void aml_string(struct aml *a, const char *s)
{
	aml_byte(a, AML_STRING_PREFIX);
	aml_bytes(a, s, strlen(s) + 1);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Compressed EISA id: three letters as 5-bit values (A = 1), then the product number, stored
 * big-endian ("PNP0A03" -> 41 d0 0a 03). */
void aml_eisaid(struct aml *a, const char *id)
{
	if (strlen(id) != 7) {
		a->err = a->err ? a->err : -EINVAL;
		return;
	}
	uint32_t v = 0;
	for (int k = 0; k < 3; k++) {
		if (id[k] < 'A' || id[k] > 'Z') {
			a->err = a->err ? a->err : -EINVAL;
			return;
		}
		v = (v << 5) | (uint32_t)(id[k] - 'A' + 1);
	}
	for (int k = 3; k < 7; k++) {
		int h = hexval(id[k]);
		if (h < 0) {
			a->err = a->err ? a->err : -EINVAL;
			return;
		}
		v = (v << 4) | (uint32_t)h;
	}
	/* v holds the 31 significant bits: bit 31 is reserved (0) */
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	aml_byte(a, AML_DWORD_PREFIX);
	aml_bytes(a, b, 4);
}

unsigned aml_pkglen_encode(uint8_t out[4], size_t body_len)
{
	/* One byte holds 6 bits; with n follow bytes the lead byte holds 4 bits and each follow
	 * byte 8 more. The length counts the encoding itself. */
	if (body_len + 1 <= 0x3f) {
		out[0] = (uint8_t)(body_len + 1);
		return 1;
	}
	for (unsigned n = 2; n <= 4; n++) {
		size_t total = body_len + n;
		if (total < ((size_t)1 << (4 + 8 * (n - 1)))) {
			out[0] = (uint8_t)(((n - 1) << 6) | (total & 0xf));
			for (unsigned k = 1; k < n; k++)
				out[k] = (uint8_t)(total >> (4 + 8 * (k - 1)));
			return n;
		}
	}
	return 0;
}

void aml_end(struct aml *a, size_t mark)
{
	uint8_t enc[4];
	if (a->err)
		return;
	unsigned n = aml_pkglen_encode(enc, a->len - mark);
	if (!n) {
		a->err = -EINVAL;
		return;
	}
	if (aml_reserve(a, n) < 0)
		return;
	memmove(a->buf + mark + n, a->buf + mark, a->len - mark);
	memcpy(a->buf + mark, enc, n);
	a->len += n;
}

void aml_buffer(struct aml *a, const void *data, size_t n)
{
	aml_byte(a, AML_BUFFER_OP);
	size_t mark = a->len;
	aml_integer(a, n);
	aml_bytes(a, data, n);
	aml_end(a, mark);
}

void aml_name(struct aml *a, const char *name)
{
	aml_byte(a, AML_NAME_OP);
	aml_name_string(a, name);
}

size_t aml_scope_begin(struct aml *a, const char *name)
{
	aml_byte(a, AML_SCOPE_OP);
	size_t mark = a->len;
	aml_name_string(a, name);
	return mark;
}

size_t aml_device_begin(struct aml *a, const char *name)
{
	aml_byte(a, AML_EXT_OP_PREFIX);
	aml_byte(a, AML_DEVICE_OP);
	size_t mark = a->len;
	aml_name_string(a, name);
	return mark;
}

size_t aml_package_begin(struct aml *a, uint8_t num_elements)
{
	aml_byte(a, AML_PACKAGE_OP);
	size_t mark = a->len;
	aml_byte(a, num_elements);
	return mark;
}

size_t aml_method_begin(struct aml *a, const char *name, unsigned nargs, int serialized)
{
	aml_byte(a, AML_METHOD_OP);
	size_t mark = a->len;
	aml_name_string(a, name);
	if (nargs > 7 && !a->err)
		a->err = -EINVAL;
	aml_byte(a, (uint8_t)((nargs & 7) | (serialized ? 0x08 : 0)));
	return mark;
}

size_t aml_if_begin(struct aml *a)
{
	aml_byte(a, AML_IF_OP);
	return a->len;
}

void aml_opregion(struct aml *a, const char *name, uint8_t space, uint64_t offset, uint64_t len)
{
	aml_byte(a, AML_EXT_OP_PREFIX);
	aml_byte(a, AML_OPREGION_OP);
	aml_name_string(a, name);
	aml_byte(a, space);
	aml_integer(a, offset);
	aml_integer(a, len);
}

size_t aml_field_begin(struct aml *a, const char *region, uint8_t flags)
{
	aml_byte(a, AML_EXT_OP_PREFIX);
	aml_byte(a, AML_FIELD_OP);
	size_t mark = a->len;
	aml_name_string(a, region);
	aml_byte(a, flags);
	return mark;
}

/* NamedField := NameSeg PkgLength, where the "length" is the field's width in bits and does
 * not count its own encoding (§20.2.5.2). */
void aml_field_entry(struct aml *a, const char *name, unsigned bits)
{
	size_t len = strlen(name);
	if (len == 0 || len > 4 || strchr(name, '.') || !bits || bits > 0xfff) {
		a->err = a->err ? a->err : -EINVAL;
		return;
	}
	aml_name_string(a, name);
	if (bits <= 0x3f) {
		aml_byte(a, (uint8_t)bits);
	} else {
		aml_byte(a, (uint8_t)(0x40 | (bits & 0xf)));
		aml_byte(a, (uint8_t)(bits >> 4));
	}
}

/* ---- resource descriptors (ACPI 6.5 §6.4) ---- */

#define RES_IO_TAG 0x47          /* small item 0x08, length 7 */
#define RES_END_TAG 0x79         /* small item 0x0f, length 1 */
#define RES_DWORD_ADDR_TAG 0x87  /* large item 0x07 */
#define RES_WORD_ADDR_TAG 0x88   /* large item 0x08 */
#define RES_TYPE_MEM 0
#define RES_TYPE_IO 1
#define RES_TYPE_BUS 2
/* General flags of address space descriptors: producer, positive decode, min and max fixed. */
#define RES_GEN_MIN_FIXED 0x04
#define RES_GEN_MAX_FIXED 0x08

void res_io(struct aml *r, uint16_t min, uint16_t max, uint8_t align, uint8_t len)
{
	uint8_t d[8] = { RES_IO_TAG, 0x01 /* 16-bit decode */, (uint8_t)min, (uint8_t)(min >> 8), (uint8_t)max,
			 (uint8_t)(max >> 8), align, len };
	aml_bytes(r, d, sizeof(d));
}

/* Word address space descriptor: granularity 0, translation 0, length = max - min + 1. */
static void res_word(struct aml *r, uint8_t type, uint8_t type_flags, uint16_t min, uint16_t max)
{
	aml_byte(r, RES_WORD_ADDR_TAG);
	aml_le(r, 13, 2);
	aml_byte(r, type);
	aml_byte(r, RES_GEN_MIN_FIXED | RES_GEN_MAX_FIXED);
	aml_byte(r, type_flags);
	aml_le(r, 0, 2);
	aml_le(r, min, 2);
	aml_le(r, max, 2);
	aml_le(r, 0, 2);
	aml_le(r, (uint32_t)max - min + 1, 2);
}

void res_word_bus(struct aml *r, uint16_t min, uint16_t max)
{
	res_word(r, RES_TYPE_BUS, 0, min, max);
}

void res_word_io(struct aml *r, uint16_t min, uint16_t max)
{
	res_word(r, RES_TYPE_IO, 0x03 /* ISA and non-ISA ranges (EntireRange) */, min, max);
}

void res_dword_mem(struct aml *r, uint32_t min, uint32_t max, int cacheable)
{
	aml_byte(r, RES_DWORD_ADDR_TAG);
	aml_le(r, 23, 2);
	aml_byte(r, RES_TYPE_MEM);
	aml_byte(r, RES_GEN_MIN_FIXED | RES_GEN_MAX_FIXED);
	aml_byte(r, (uint8_t)(0x01 /* read-write */ | (cacheable ? 0x02 : 0)));
	aml_le(r, 0, 4);
	aml_le(r, min, 4);
	aml_le(r, max, 4);
	aml_le(r, 0, 4);
	aml_le(r, (uint64_t)max - min + 1, 4);
}

#define RES_EXT_IRQ_TAG 0x89 /* large item 0x09 */

void res_interrupt(struct aml *r, uint8_t flags, const uint32_t *irqs, unsigned n)
{
	if (n == 0 || n > 255) {
		r->err = r->err ? r->err : -EINVAL;
		return;
	}
	aml_byte(r, RES_EXT_IRQ_TAG);
	aml_le(r, 2 + 4 * n, 2);
	aml_byte(r, (uint8_t)(0x01 /* consumer */ | (flags & (RES_IRQ_EDGE | RES_IRQ_ACTIVE_LOW | RES_IRQ_SHARED))));
	aml_byte(r, (uint8_t)n);
	for (unsigned k = 0; k < n; k++)
		aml_le(r, irqs[k], 4);
}

void res_end(struct aml *r)
{
	uint8_t d[2] = { RES_END_TAG, 0 }; /* checksum 0: "treated as if it were valid" */
	aml_bytes(r, d, sizeof(d));
}
