/*
 * Instruction family: system instructions (SDM vol. 2; vol. 3 ch. 2, 5, 9).
 *
 * Descriptor-table registers (LGDT/LIDT/SGDT/SIDT), control and debug registers (MOV CRn/DRn,
 * CLTS, LMSW, SMSW), TLB and cache control (INVLPG, WBINVD, INVD), HLT, CLI/STI, MSR, TSC and
 * performance-counter reads, CPUID, the fast system calls (SYSCALL/SYSRET, SYSENTER/SYSEXIT,
 * SWAPGS) and port I/O (IN/OUT). The model is an Intel processor: SYSCALL and SYSRET exist only
 * in 64-bit mode (CSTAR is kept but never used), SYSRET loads a flat SS.
 *
 * Left out: UMIP, VME/PVI (CR4 bits reserved, so the virtual-interrupt paths of CLI/STI are
 * dormant), PCID, SMEP/SMAP, debug breakpoints (DR0-DR7 are stored; only DR7.GD acts), the CR8
 * link to a local APIC's TPR (CR8 is stored), performance counters (RDPMC always faults).
 */
#include "system.h"

#define CR0_VALID (CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_NW | CR0_CD | CR0_PG)
/* CR4 bits of the features CPUID advertises (cpuid.c): everything else is reserved. */
#define CR4_VALID (CR4_TSD | CR4_DE | CR4_PSE | CR4_PAE | CR4_MCE | CR4_PGE | CR4_PCE | CR4_OSFXSR | CR4_OSXMMEXCPT)

#define DR6_BD (1ull << 13)
#define DR7_GD (1ull << 13)

/* Segment attributes loaded by the fast system calls (SDM vol. 2, SYSCALL/SYSENTER pseudocode):
 * flat, accessed; code type 11, data type 3. */
#define ATTR_CODE64 (0x9b | SEG_ATTR_L | SEG_ATTR_G)
#define ATTR_CODE32 (0x9b | SEG_ATTR_DB | SEG_ATTR_G)
#define ATTR_DATA (0x93 | SEG_ATTR_DB | SEG_ATTR_G)
#define ATTR_DPL3 (3u << SEG_ATTR_DPL_SHIFT)

static inline void need_cpl0(struct cpu *c)
{
	if (c->cpl)
		cpu_gp(c, 0);
}

static inline unsigned iopl(const struct cpu *c)
{
	return (c->s.rflags & F_IOPL) >> F_IOPL_SHIFT;
}

/* Operand size 16 for instructions whose size depends only on CS.D and 0x66 (LGDT and friends). */
static inline bool osize16(const struct cpu *c, const struct insn *i)
{
	return (c->code_size == 2) != !!(i->pfx & PFX_OSIZE);
}

/* ---- descriptor-table registers ---- */

/* LGDT/LIDT: 16-bit limit, then a 24-bit (16-bit operand size), 32-bit or, in 64-bit mode,
 * 64-bit base. A non-canonical base faults as KVM and hardware do. */
static void lgdt_lidt(struct cpu *c, const struct insn *i)
{
	need_cpl0(c);
	uint8_t buf[10];
	bool lm = c->mode == CPU_MODE_LONG64;
	mem_read_buf(c, i->mem.seg, insn_ea(c, i), buf, lm ? 10 : 6);
	uint16_t limit = (uint16_t)(buf[0] | buf[1] << 8);
	uint64_t base = 0;
	for (int k = lm ? 7 : 3; k >= 0; k--)
		base = base << 8 | buf[2 + k];
	if (lm && !sys_canonical(base))
		cpu_gp(c, 0);
	if (!lm && osize16(c, i))
		base &= 0xffffff;
	struct cpu_dtable *t = i->mnem == ZYDIS_MNEMONIC_LGDT ? &c->s.gdtr : &c->s.idtr;
	t->limit = limit;
	t->base = base;
}

/* SGDT/SIDT store the full 32-bit base in legacy modes whatever the operand size (SDM SGDT). */
static void sgdt_sidt(struct cpu *c, const struct insn *i)
{
	const struct cpu_dtable *t = i->mnem == ZYDIS_MNEMONIC_SGDT ? &c->s.gdtr : &c->s.idtr;
	bool lm = c->mode == CPU_MODE_LONG64;
	uint8_t buf[10];
	buf[0] = (uint8_t)t->limit;
	buf[1] = (uint8_t)(t->limit >> 8);
	for (int k = 0; k < 8; k++)
		buf[2 + k] = (uint8_t)(t->base >> (8 * k));
	mem_write_buf(c, i->mem.seg, insn_ea(c, i), buf, lm ? 10 : 6);
}

/* ---- control registers ---- */

/*
 * PAE paging outside long mode loads the four PDPTEs into the processor when CR3 is written or
 * paging/PAE/PGE/PSE change; a present PDPTE with reserved bits set makes the MOV fault
 * (SDM vol. 3 §4.4.1). Reserved: bits 2:1, 8:5 and 63:MAXPHYADDR.
 */
static bool pdptes_ok(struct cpu *c, uint64_t cr3)
{
	uint64_t pa = cr3 & 0xffffffe0ull;
	const uint8_t *page = c->bus.ram_ptr ? c->bus.ram_ptr(c->bus.opaque, pa & ~0xfffull, false) : NULL;
	for (unsigned k = 0; k < 4; k++) {
		uint64_t e;
		if (page)
			memcpy(&e, page + (pa & 0xfff) + 8 * k, 8);
		else if (c->bus.mmio_read)
			e = c->bus.mmio_read(c->bus.opaque, pa + 8 * k, 8);
		else
			e = 0;
		if ((e & 1) && (e & (0x1e6ull | ~((1ull << SYS_MAXPHYADDR) - 1))))
			return false;
	}
	return true;
}

static void write_cr0(struct cpu *c, uint64_t v)
{
	uint64_t old = c->s.cr0, efer = c->s.efer;

	if (v >> 32)
		cpu_gp(c, 0);
	/* Low reserved bits are ignored and ET is hardwired to 1 (SDM vol. 3 §2.5). */
	v = (v & CR0_VALID) | CR0_ET;
	if ((v & CR0_PG) && !(v & CR0_PE))
		cpu_gp(c, 0);
	if ((v & CR0_NW) && !(v & CR0_CD))
		cpu_gp(c, 0);
	if (!(v & CR0_PG) && c->mode == CPU_MODE_LONG64)
		cpu_gp(c, 0); /* leaving long mode goes through compatibility mode (SDM vol. 3 §9.8.5.4) */
	if ((v & CR0_PG) && !(old & CR0_PG)) {
		if (efer & EFER_LME) {
			/* Activating IA-32e mode (SDM vol. 3 §9.8.5): needs PAE and a CS that is not 64-bit. */
			if (!(c->s.cr4 & CR4_PAE) || (c->s.seg[S_CS].attr & SEG_ATTR_L))
				cpu_gp(c, 0);
			efer |= EFER_LMA;
		} else if ((c->s.cr4 & CR4_PAE) && !pdptes_ok(c, c->s.cr3)) {
			cpu_gp(c, 0);
		}
	} else if (!(v & CR0_PG)) {
		efer &= ~EFER_LMA;
	}

	c->s.cr0 = v;
	c->s.efer = efer;
	if ((old ^ v) & (CR0_PG | CR0_WP | CR0_PE))
		tlb_flush_all(c);
	cpu_mode_changed(c);
}

static void write_cr3(struct cpu *c, uint64_t v)
{
	/* Without PCIDE every bit above MAXPHYADDR (bit 63 included) is reserved. */
	if (v >> SYS_MAXPHYADDR)
		cpu_gp(c, 0);
	if ((c->s.cr0 & CR0_PG) && (c->s.cr4 & CR4_PAE) && !(c->s.efer & EFER_LMA) && !pdptes_ok(c, v))
		cpu_gp(c, 0);
	c->s.cr3 = v;
	tlb_flush_nonglobal(c);
}

static void write_cr4(struct cpu *c, uint64_t v)
{
	uint64_t old = c->s.cr4;

	if (v & ~CR4_VALID)
		cpu_gp(c, 0);
	if ((c->s.efer & EFER_LMA) && !(v & CR4_PAE))
		cpu_gp(c, 0);
	if ((c->s.cr0 & CR0_PG) && (v & CR4_PAE) && !(c->s.efer & EFER_LMA) &&
	    ((old ^ v) & (CR4_PAE | CR4_PGE | CR4_PSE)) && !pdptes_ok(c, c->s.cr3))
		cpu_gp(c, 0);
	c->s.cr4 = v;
	if ((old ^ v) & (CR4_PGE | CR4_PAE | CR4_PSE))
		tlb_flush_all(c);
	cpu_end_block(c);
}

/* MOV CRn, r / MOV r, CRn (0F 22 / 0F 20). The GPR operand is 64-bit in 64-bit mode, else 32-bit. */
void mov_cr(struct cpu *c, const struct insn *i)
{
	bool to_cr = i->op[0].kind == OPK_CR;
	const struct operand *g = &i->op[to_cr ? 1 : 0];
	unsigned n = i->op[to_cr ? 0 : 1].reg;

	if (n != 0 && n != 2 && n != 3 && n != 4 && !(n == 8 && c->mode == CPU_MODE_LONG64))
		cpu_ud(c);
	need_cpl0(c);
	if (!to_cr) {
		uint64_t v;
		switch (n) {
		case 0: v = c->s.cr0; break;
		case 2: v = c->s.cr2; break;
		case 3: v = c->s.cr3; break;
		case 4: v = c->s.cr4; break;
		default: v = c->s.cr8; break;
		}
		gpr_set(c, g->reg, g->size, v);
		return;
	}
	uint64_t v = gpr_get(c, g->reg, g->size);
	switch (n) {
	case 0: write_cr0(c, v); break;
	case 2: c->s.cr2 = v; break;
	case 3: write_cr3(c, v); break;
	case 4: write_cr4(c, v); break;
	default:
		if (v & ~0xfull)
			cpu_gp(c, 0);
		c->s.cr8 = v;
		break;
	}
	cpu_end_block(c);
}

static void clts(struct cpu *c, const struct insn *i)
{
	need_cpl0(c);
	c->s.cr0 &= ~CR0_TS;
}

/* LMSW loads PE, MP, EM and TS; it can set PE but never clear it (SDM LMSW). */
static void lmsw(struct cpu *c, const struct insn *i)
{
	need_cpl0(c);
	uint64_t src = op_get(c, i, 0) & 0xf;
	write_cr0(c, (c->s.cr0 & ~0xeull) | src);
}

/* SMSW: a 16-bit store to memory; a register destination receives CR0 truncated to its size. */
static void smsw(struct cpu *c, const struct insn *i)
{
	op_set(c, i, 0, c->s.cr0 & size_mask(i->op[0].size));
}

/* ---- debug registers ---- */

/* MOV DRn, r / MOV r, DRn. DR4/DR5 alias DR6/DR7 unless CR4.DE; DR7.GD makes any access a #DB
 * fault with DR6.BD set (SDM vol. 3 §18.2.4). */
void mov_dr(struct cpu *c, const struct insn *i)
{
	bool to_dr = i->op[0].kind == OPK_DR;
	const struct operand *g = &i->op[to_dr ? 1 : 0];
	unsigned n = i->op[to_dr ? 0 : 1].reg;

	if (n > 7)
		cpu_ud(c);
	need_cpl0(c);
	if (n == 4 || n == 5) {
		if (c->s.cr4 & CR4_DE)
			cpu_ud(c);
		n += 2;
	}
	if (c->s.dr[7] & DR7_GD) {
		c->s.dr[6] |= DR6_BD;
		c->s.dr[7] &= ~DR7_GD;
		cpu_raise_noerr(c, EXC_DB);
	}
	if (!to_dr) {
		gpr_set(c, g->reg, g->size, c->s.dr[n]);
		return;
	}
	uint64_t v = gpr_get(c, g->reg, g->size);
	switch (n) {
	case 6:
		if (v >> 32)
			cpu_gp(c, 0);
		/* B0-B3, BD, BS, BT are writable; bits 4-11 and 16-31 read as 1, bit 12 as 0. */
		c->s.dr[6] = (v & 0xe00full) | 0xffff0ff0ull;
		break;
	case 7:
		if (v >> 32)
			cpu_gp(c, 0);
		/* Bit 10 reads as 1; bits 11, 12, 14, 15 read as 0. */
		c->s.dr[7] = (v & 0xffff23ffull) | 0x400;
		break;
	default:
		c->s.dr[n] = v;
		break;
	}
	cpu_end_block(c);
}

/* ---- TLB, caches, halt ---- */

static void invlpg(struct cpu *c, const struct insn *i)
{
	need_cpl0(c);
	uint64_t la = c->sc[i->mem.seg].base + insn_ea(c, i);
	if (c->mode != CPU_MODE_LONG64)
		la &= 0xffffffffull;
	tlb_flush_page(c, la);
}

/* WBINVD/INVD: caches are not modelled, so only the privilege check remains. */
static void wbinvd(struct cpu *c, const struct insn *i)
{
	need_cpl0(c);
}

static void hlt(struct cpu *c, const struct insn *i)
{
	need_cpl0(c);
	c->halted = 1;
	cpu_end_block(c);
}

/* ---- interrupt flag (SDM CLI/STI operation sections) ---- */

static void cli(struct cpu *c, const struct insn *i)
{
	bool vm = c->mode == CPU_MODE_VM86;
	if (c->mode == CPU_MODE_REAL || iopl(c) >= c->cpl)
		c->s.rflags &= ~(uint64_t)F_IF;
	else if ((vm && (c->s.cr4 & CR4_VME)) || (!vm && c->cpl == 3 && (c->s.cr4 & CR4_PVI)))
		c->s.rflags &= ~(uint64_t)F_VIF;
	else
		cpu_gp(c, 0);
}

static void sti(struct cpu *c, const struct insn *i)
{
	bool vm = c->mode == CPU_MODE_VM86;
	if (c->mode == CPU_MODE_REAL || iopl(c) >= c->cpl) {
		/* Interrupts stay blocked until the next instruction completes (SDM STI). */
		if (!(c->s.rflags & F_IF))
			c->intr_shadow = 1;
		c->s.rflags |= F_IF;
	} else if (((vm && (c->s.cr4 & CR4_VME)) || (!vm && c->cpl == 3 && (c->s.cr4 & CR4_PVI))) &&
		   !(c->s.rflags & F_VIP)) {
		c->s.rflags |= F_VIF;
	} else {
		cpu_gp(c, 0);
	}
	cpu_end_block(c);
}

/* ---- MSRs, TSC, performance counters, CPUID ---- */

static void rdmsr(struct cpu *c, const struct insn *i)
{
	need_cpl0(c);
	uint64_t v;
	if (!msr_read(c, (uint32_t)c->s.gpr[R_RCX], &v))
		cpu_gp(c, 0);
	gpr_set(c, R_RAX, 4, v);
	gpr_set(c, R_RDX, 4, v >> 32);
}

static void wrmsr(struct cpu *c, const struct insn *i)
{
	need_cpl0(c);
	uint64_t v = (uint32_t)c->s.gpr[R_RAX] | c->s.gpr[R_RDX] << 32;
	if (!msr_write(c, (uint32_t)c->s.gpr[R_RCX], v))
		cpu_gp(c, 0);
}

static void rdtsc(struct cpu *c, const struct insn *i)
{
	if ((c->s.cr4 & CR4_TSD) && c->cpl)
		cpu_gp(c, 0);
	uint64_t t = cpu_rdtsc(c);
	gpr_set(c, R_RAX, 4, t);
	gpr_set(c, R_RDX, 4, t >> 32);
	if (i->mnem == ZYDIS_MNEMONIC_RDTSCP)
		gpr_set(c, R_RCX, 4, c->s.tsc_aux);
}

/* RDPMC: CPUID leaf 0xA reports no counters, so every index is invalid and faults even where
 * the instruction is allowed (CPL 0, real mode or CR4.PCE). */
static void rdpmc(struct cpu *c, const struct insn *i)
{
	cpu_gp(c, 0);
}

static void cpuid(struct cpu *c, const struct insn *i)
{
	uint32_t r[4];
	cpuid_query(c, (uint32_t)c->s.gpr[R_RAX], (uint32_t)c->s.gpr[R_RCX], r);
	gpr_set(c, R_RAX, 4, r[0]);
	gpr_set(c, R_RBX, 4, r[1]);
	gpr_set(c, R_RCX, 4, r[2]);
	gpr_set(c, R_RDX, 4, r[3]);
}

/* ---- fast system calls ---- */

static void seg_flat(struct cpu *c, unsigned sreg, uint16_t sel, uint16_t attr)
{
	struct cpu_seg *s = &c->s.seg[sreg];
	s->sel = sel;
	s->base = 0;
	s->limit = 0xffffffff;
	s->attr = attr;
}

static void sys_call(struct cpu *c, const struct insn *i)
{
	if (c->mode != CPU_MODE_LONG64 || !(c->s.efer & EFER_SCE))
		cpu_ud(c);
	uint64_t fl = flags_get(c);
	uint16_t sel = (uint16_t)(c->s.star >> 32);
	c->s.gpr[R_RCX] = c->next_rip;
	c->s.gpr[R_R11] = fl;
	flags_set(c, fl & ~((uint32_t)c->s.sfmask | (uint64_t)F_RF));
	seg_flat(c, S_CS, sel & 0xfffc, ATTR_CODE64);
	seg_flat(c, S_SS, (uint16_t)(sel + 8), ATTR_DATA);
	c->next_rip = c->s.lstar;
	cpu_mode_changed(c);
}

/* SYSRET checks RCX before changing anything, so a non-canonical return address faults at CPL 0
 * (SDM SYSRET; the Intel behaviour). */
static void sys_ret(struct cpu *c, const struct insn *i)
{
	if (c->mode != CPU_MODE_LONG64 || !(c->s.efer & EFER_SCE))
		cpu_ud(c);
	need_cpl0(c);
	bool to64 = i->osize == 8;
	uint64_t rip = c->s.gpr[R_RCX];
	if (to64 && !sys_canonical(rip))
		cpu_gp(c, 0);
	if (!to64)
		rip = (uint32_t)rip;
	uint16_t sel = (uint16_t)(c->s.star >> 48);
	flags_set(c, (c->s.gpr[R_R11] & 0x3c7fd7) | 2);
	seg_flat(c, S_CS, (uint16_t)(to64 ? sel + 16 : sel) | 3, (to64 ? ATTR_CODE64 : ATTR_CODE32) | ATTR_DPL3);
	seg_flat(c, S_SS, (uint16_t)(sel + 8) | 3, ATTR_DATA | ATTR_DPL3);
	c->next_rip = rip;
	cpu_mode_changed(c);
}

static void sysenter(struct cpu *c, const struct insn *i)
{
	if (!(c->s.cr0 & CR0_PE) || !(c->s.sysenter_cs & 0xfffc))
		cpu_gp(c, 0);
	bool lm = c->s.efer & EFER_LMA;
	uint16_t sel = (uint16_t)c->s.sysenter_cs & 0xfffc;
	flags_set(c, flags_get(c) & ~(uint64_t)(F_VM | F_IF | F_RF));
	seg_flat(c, S_CS, sel, lm ? ATTR_CODE64 : ATTR_CODE32);
	seg_flat(c, S_SS, (uint16_t)(sel + 8), ATTR_DATA);
	c->s.gpr[R_RSP] = lm ? c->s.sysenter_esp : (uint32_t)c->s.sysenter_esp;
	c->next_rip = lm ? c->s.sysenter_eip : (uint32_t)c->s.sysenter_eip;
	cpu_mode_changed(c);
}

static void sysexit(struct cpu *c, const struct insn *i)
{
	if (!(c->s.cr0 & CR0_PE) || !(c->s.sysenter_cs & 0xfffc))
		cpu_gp(c, 0);
	need_cpl0(c);
	bool to64 = i->osize == 8;
	uint64_t rsp = c->s.gpr[R_RCX], rip = c->s.gpr[R_RDX];
	if (to64 && (!sys_canonical(rsp) || !sys_canonical(rip)))
		cpu_gp(c, 0);
	if (!to64) {
		rsp = (uint32_t)rsp;
		rip = (uint32_t)rip;
	}
	uint16_t sel = (uint16_t)((uint16_t)c->s.sysenter_cs + (to64 ? 32 : 16)) | 3;
	seg_flat(c, S_CS, sel, (to64 ? ATTR_CODE64 : ATTR_CODE32) | ATTR_DPL3);
	seg_flat(c, S_SS, (uint16_t)(sel + 8), ATTR_DATA | ATTR_DPL3);
	c->s.gpr[R_RSP] = rsp;
	c->next_rip = rip;
	cpu_mode_changed(c);
}

static void swapgs(struct cpu *c, const struct insn *i)
{
	if (c->mode != CPU_MODE_LONG64)
		cpu_ud(c);
	need_cpl0(c);
	uint64_t t = c->s.seg[S_GS].base;
	c->s.seg[S_GS].base = c->s.kernel_gs_base;
	c->s.kernel_gs_base = t;
	seg_cache_update(c, S_GS);
}

/* ---- port I/O ---- */

/* IN AL/AX/EAX, imm8 | DX */
static void in(struct cpu *c, const struct insn *i)
{
	unsigned size = i->op[0].size;
	uint16_t port = i->op[1].kind == OPK_IMM ? (uint8_t)i->imm : (uint16_t)c->s.gpr[R_RDX];
	io_check(c, port, size);
	uint32_t v = c->bus.io_in ? c->bus.io_in(c->bus.opaque, port, size) : 0xffffffffu;
	gpr_set(c, R_RAX, size, v);
}

/* OUT imm8 | DX, AL/AX/EAX */
static void out(struct cpu *c, const struct insn *i)
{
	unsigned size = i->op[1].size;
	uint16_t port = i->op[0].kind == OPK_IMM ? (uint8_t)i->imm : (uint16_t)c->s.gpr[R_RDX];
	io_check(c, port, size);
	if (c->bus.io_out)
		c->bus.io_out(c->bus.opaque, port, size, (uint32_t)gpr_get(c, R_RAX, size));
}

static insn_fn select_in(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	return i->nops == 2 && i->op[0].kind == OPK_GPR ? in : NULL;
}

static insn_fn select_out(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	return i->nops == 2 && i->op[1].kind == OPK_GPR ? out : NULL;
}

/* Instructions whose only encoding has a memory operand (LGDT, INVLPG...): a register form is #UD. */
static insn_fn select_mem(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	const struct handler_by_mnem {
		uint16_t mnem;
		insn_fn fn;
	} table[] = {
		{ ZYDIS_MNEMONIC_LGDT, lgdt_lidt }, { ZYDIS_MNEMONIC_LIDT, lgdt_lidt },
		{ ZYDIS_MNEMONIC_SGDT, sgdt_sidt }, { ZYDIS_MNEMONIC_SIDT, sgdt_sidt },
		{ ZYDIS_MNEMONIC_INVLPG, invlpg },
	};
	if (i->nops < 1 || i->op[0].kind != OPK_MEM)
		return NULL;
	for (unsigned k = 0; k < sizeof(table) / sizeof(table[0]); k++)
		if (table[k].mnem == i->mnem)
			return table[k].fn;
	return NULL;
}

void system_init(void)
{
	insn_register(ZYDIS_MNEMONIC_LGDT, NULL, select_mem, 0);
	insn_register(ZYDIS_MNEMONIC_LIDT, NULL, select_mem, 0);
	insn_register(ZYDIS_MNEMONIC_SGDT, NULL, select_mem, 0);
	insn_register(ZYDIS_MNEMONIC_SIDT, NULL, select_mem, 0);
	insn_register(ZYDIS_MNEMONIC_INVLPG, NULL, select_mem, INSN_ENDS_BLOCK);
	insn_register(ZYDIS_MNEMONIC_CLTS, clts, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_LMSW, lmsw, NULL, INSN_ENDS_BLOCK);
	insn_register(ZYDIS_MNEMONIC_SMSW, smsw, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_WBINVD, wbinvd, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_INVD, wbinvd, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_HLT, hlt, NULL, INSN_ENDS_BLOCK);
	insn_register(ZYDIS_MNEMONIC_CLI, cli, NULL, INSN_ENDS_BLOCK);
	insn_register(ZYDIS_MNEMONIC_STI, sti, NULL, INSN_ENDS_BLOCK);
	insn_register(ZYDIS_MNEMONIC_RDMSR, rdmsr, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_WRMSR, wrmsr, NULL, INSN_ENDS_BLOCK);
	insn_register(ZYDIS_MNEMONIC_RDTSC, rdtsc, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_RDTSCP, rdtsc, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_RDPMC, rdpmc, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_CPUID, cpuid, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_SYSCALL, sys_call, NULL, INSN_ENDS_BLOCK);
	insn_register(ZYDIS_MNEMONIC_SYSRET, sys_ret, NULL, INSN_ENDS_BLOCK);
	insn_register(ZYDIS_MNEMONIC_SYSENTER, sysenter, NULL, INSN_ENDS_BLOCK);
	insn_register(ZYDIS_MNEMONIC_SYSEXIT, sysexit, NULL, INSN_ENDS_BLOCK);
	insn_register(ZYDIS_MNEMONIC_SWAPGS, swapgs, NULL, 0);
	/* Device side effects (interrupt lines, DMA into code) are seen at the next block. */
	insn_register(ZYDIS_MNEMONIC_IN, NULL, select_in, INSN_ENDS_BLOCK);
	insn_register(ZYDIS_MNEMONIC_OUT, NULL, select_out, INSN_ENDS_BLOCK);
}
