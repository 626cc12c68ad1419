/*
 * CPU object: creation, reset, architectural state in and out, and the derived mode.
 *
 * Everything the handlers need to know about the current mode (CPL, code and stack size, whether
 * segment limits apply) is derived here from CR0, EFER, RFLAGS.VM and the CS/SS descriptors, so
 * it is recomputed in one place whenever one of those changes.
 */
#include <stdlib.h>

#include "core.h"
#include "decode.h"
#include "exec.h"
#include "system.h"

void cpu_mode_changed(struct cpu *c)
{
	const struct cpu_seg *cs = &c->s.seg[S_CS], *ss = &c->s.seg[S_SS];

	if (!(c->s.cr0 & CR0_PE)) {
		c->mode = CPU_MODE_REAL;
		c->cpl = 0;
	} else if (c->s.rflags & F_VM) {
		c->mode = CPU_MODE_VM86;
		c->cpl = 3;
	} else {
		/* CPL is the RPL of CS in protected and long mode (SDM vol. 3 §5.5). */
		c->cpl = cs->sel & 3;
		if ((c->s.efer & EFER_LMA) && (cs->attr & SEG_ATTR_L))
			c->mode = CPU_MODE_LONG64;
		else if (c->s.efer & EFER_LMA)
			c->mode = CPU_MODE_COMPAT;
		else
			c->mode = (cs->attr & SEG_ATTR_DB) ? CPU_MODE_PROT32 : CPU_MODE_PROT16;
	}
	if (c->mode == CPU_MODE_LONG64) {
		c->code_size = 8;
		c->stack_size = 8;
	} else {
		c->code_size = (cs->attr & SEG_ATTR_DB) && c->mode != CPU_MODE_VM86 ? 4 : 2;
		c->stack_size = (ss->attr & SEG_ATTR_DB) && c->mode != CPU_MODE_VM86 ? 4 : 2;
	}
	c->seg_checks = c->mode != CPU_MODE_LONG64;
	c->dec_mode = decode_mode(c);
	for (unsigned s = S_ES; s <= S_GS; s++)
		seg_cache_update(c, s);
	c->exit_block = 1;
}

static void seg_reset(struct cpu_seg *s, uint16_t sel, uint64_t base, uint16_t attr)
{
	s->sel = sel;
	s->base = base;
	s->limit = 0xffff;
	s->attr = attr;
}

void cpu_reset(struct cpu *c)
{
	struct cpu_state *s = &c->s;
	memset(s, 0, sizeof(*s));
	/* SDM vol. 3 §9.1.1, table 9-1. */
	s->rflags = 2;
	s->rip = 0xfff0;
	s->cr0 = 0x60000010;
	seg_reset(&s->seg[S_CS], 0xf000, 0xffff0000, 0x9b);
	for (unsigned k = S_ES; k <= S_GS; k++)
		if (k != S_CS)
			seg_reset(&s->seg[k], 0, 0, 0x93);
	seg_reset(&s->seg[S_LDTR], 0, 0, 0x82);
	seg_reset(&s->seg[S_TR], 0, 0, 0x8b);
	s->gdtr.limit = s->idtr.limit = 0xffff;
	s->gpr[R_RDX] = 0x600; /* family 6 signature in EDX after reset */
	s->dr[6] = 0xffff0ff0;
	s->dr[7] = 0x400;
	s->pat = 0x0007040600070406ull;
	s->apic_base = 0xfee00000ull | (1u << 11) | (1u << 8); /* enabled, BSP */
	s->misc_enable = 1;                                     /* fast strings */
	s->fx.fcw = 0x40;
	s->fx.mxcsr = 0x1f80;
	s->fx.mxcsr_mask = 0xffff;

	c->lf.op = LF_NONE;
	cpu_tsc_write(c, 0); /* the TSC restarts at 0 on reset */
	c->halted = 0;
	c->intr_shadow = 0;
	c->nmi_blocked = 0;
	c->in_delivery = 0;
	c->triple_fault = 0;
	tlb_flush_all(c);
	code_cache_flush(c);
	cpu_mode_changed(c);
}

static uint8_t *no_ram(void *opaque, uint64_t gpa, bool write)
{
	return NULL;
}

static uint64_t no_mmio_read(void *opaque, uint64_t gpa, unsigned size)
{
	return ~0ull >> (64 - 8 * size);
}

static void no_mmio_write(void *opaque, uint64_t gpa, unsigned size, uint64_t val)
{
}

static uint32_t no_io_in(void *opaque, uint16_t port, unsigned size)
{
	return ~0u >> (32 - 8 * size);
}

static void no_io_out(void *opaque, uint16_t port, unsigned size, uint32_t val)
{
}

struct cpu *cpu_create(const struct cpu_bus *bus)
{
	decode_init();
	struct cpu *c = aligned_alloc(64, (sizeof(struct cpu) + 63) & ~(size_t)63);
	if (!c)
		return NULL;
	memset(c, 0, sizeof(*c));
	c->bus = *bus;
	/* Every callback is callable: missing ones behave like an empty bus. */
	if (!c->bus.ram_ptr)
		c->bus.ram_ptr = no_ram;
	if (!c->bus.mmio_read)
		c->bus.mmio_read = no_mmio_read;
	if (!c->bus.mmio_write)
		c->bus.mmio_write = no_mmio_write;
	if (!c->bus.io_in)
		c->bus.io_in = no_io_in;
	if (!c->bus.io_out)
		c->bus.io_out = no_io_out;
	c->cc = code_cache_create();
	if (!c->cc) {
		free(c);
		return NULL;
	}
	cpu_reset(c);
	return c;
}

void cpu_destroy(struct cpu *c)
{
	if (!c)
		return;
	code_cache_destroy(c->cc);
	free(c);
}

void cpu_get_state(struct cpu *c, struct cpu_state *s)
{
	flags_get(c);
	c->s.tsc = cpu_rdtsc(c);
	*s = c->s;
	s->rflags |= 2;
}

void cpu_set_state(struct cpu *c, const struct cpu_state *s)
{
	c->s = *s;
	c->s.rflags = (c->s.rflags | 2) & 0x3f7fd7ull; /* reserved bits read as 0, bit 1 as 1 */
	c->lf.op = LF_NONE;
	cpu_tsc_write(c, s->tsc);
	c->halted = 0;
	tlb_flush_all(c);
	/* Callers set state after loading memory (boot loaders, tests, snapshots): drop cached code. */
	code_cache_flush(c);
	cpu_mode_changed(c);
}

void cpu_set_intr(struct cpu *c, bool level)
{
	c->intr_line = level;
}

void cpu_nmi(struct cpu *c)
{
	c->nmi_pending = 1;
}

void cpu_request_stop(struct cpu *c)
{
	__atomic_store_n(&c->stop_requested, 1, __ATOMIC_RELEASE);
}

bool cpu_halted(struct cpu *c)
{
	return c->halted;
}

bool cpu_can_wake(struct cpu *c)
{
	return (c->nmi_pending && !c->nmi_blocked) || (c->intr_line && (c->s.rflags & F_IF));
}

void cpu_flush_tlb(struct cpu *c)
{
	tlb_flush_all(c);
}

uint64_t cpu_icount(struct cpu *c)
{
	return c->icount;
}

void cpu_set_exception_exits(struct cpu *c, uint32_t mask)
{
	c->exc_exits = mask;
}

int cpu_last_exception(struct cpu *c, uint32_t *err)
{
	if (err)
		*err = c->exc_err;
	return c->exc_vec;
}

void cpu_notify_phys_write(struct cpu *c, uint64_t gpa, uint64_t len)
{
	code_invalidate_phys(c, gpa, len);
}

int cpu_read_virt(struct cpu *c, uint64_t va, void *buf, unsigned len)
{
	uint8_t *out = buf;
	while (len) {
		int64_t pa = mmu_translate_debug(c, va);
		if (pa < 0)
			return -1;
		unsigned chunk = 0x1000 - (va & 0xfff);
		if (chunk > len)
			chunk = len;
		uint8_t *p = c->bus.ram_ptr(c->bus.opaque, (uint64_t)pa & ~0xfffull, false);
		if (!p)
			return -1;
		memcpy(out, p + (pa & 0xfff), chunk);
		out += chunk;
		va += chunk;
		len -= chunk;
	}
	return 0;
}
