/*
 * I/O permission checks for IN, OUT, INS and OUTS (SDM vol. 1 §19.5).
 *
 * Real mode: always allowed. Protected and long mode: allowed when CPL <= IOPL, otherwise (and
 * always in virtual-8086 mode) every bit of the I/O permission bitmap covering the accessed
 * ports must be clear. The bitmap starts at the 16-bit offset stored at TSS+0x66; the processor
 * reads two bytes of it, and both must lie within the TSS limit.
 */
#include "system.h"

#define TSS_IOMAP_OFFSET 0x66
#define TSS_MIN_LIMIT 0x67

void io_check(struct cpu *c, uint16_t port, unsigned size)
{
	if (c->mode == CPU_MODE_REAL)
		return;
	if (c->mode != CPU_MODE_VM86 && c->cpl <= ((c->s.rflags & F_IOPL) >> F_IOPL_SHIFT))
		return;

	const struct cpu_seg *tr = &c->s.seg[S_TR];
	unsigned type = tr->attr & SEG_ATTR_TYPE;
	/* Only a 32-bit (or 64-bit) TSS has a bitmap; the 16-bit TSS has none. */
	if (!(tr->attr & SEG_ATTR_P) || (tr->attr & SEG_ATTR_S) || (type != 9 && type != 11) ||
	    tr->limit < TSS_MIN_LIMIT)
		cpu_gp(c, 0);
	uint32_t off = (uint32_t)lin_read(c, tr->base + TSS_IOMAP_OFFSET, 2, true) + port / 8u;
	if (off + 1 > tr->limit)
		cpu_gp(c, 0);
	uint32_t bits = (uint32_t)lin_read(c, tr->base + off, 2, true);
	if (bits & (((1u << size) - 1) << (port & 7)))
		cpu_gp(c, 0);
}
