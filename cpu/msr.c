/*
 * Model-specific registers the processor owns (SDM vol. 4, table 2-2 for family 6; vol. 3 ch. 11
 * for the MTRRs and PAT). msr_read/msr_write return false where WRMSR/RDMSR must raise #GP(0):
 * reserved bits, non-canonical addresses, invalid memory types, read-only registers. MSRs not
 * listed here go to the bus (x2APIC range and the like) when it has a handler.
 *
 * Machine check: no banks (MCG_CAP = 0). IA32_FEATURE_CONTROL is locked with nothing enabled.
 * MTRRs and PAT are stored and validated but do not change how memory behaves.
 */
#include "system.h"

#define APIC_BASE_BSP (1ull << 8)
#define APIC_BASE_EN (1ull << 11)
#define PHYS_ADDR_MASK (((1ull << SYS_MAXPHYADDR) - 1) & ~0xfffull)

/* MISC_ENABLE: fast strings, automatic thermal control, limit CPUID, XD disable are writable;
 * BTS and PEBS read as unavailable (bits 11, 12). */
#define MISC_ENABLE_WRITABLE ((1ull << 0) | (1ull << 3) | MISC_ENABLE_LIMIT_CPUID | (1ull << 34))
#define MISC_ENABLE_READ_ONE ((1ull << 11) | (1ull << 12))

#define MTRRCAP_VALUE (MTRR_VAR_COUNT | 1u << 8 | 1u << 10) /* 8 variable ranges, fixed, WC */

/* Memory types an MTRR may hold (UC, WC, WT, WP, WB) and PAT may hold (plus UC-). */
static bool mtrr_type_ok(unsigned t)
{
	return t == 0 || t == 1 || t == 4 || t == 5 || t == 6;
}

static bool pat_type_ok(unsigned t)
{
	return mtrr_type_ok(t) || t == 7;
}

static bool bytes_ok(uint64_t v, bool (*ok)(unsigned))
{
	for (unsigned k = 0; k < 8; k++)
		if (!ok((v >> (8 * k)) & 0xff))
			return false;
	return true;
}

/* Index into s.mtrr_fixed[] for a fixed-range MTRR, or -1. */
static int mtrr_fixed_index(uint32_t msr)
{
	switch (msr) {
	case MSR_IA32_MTRR_FIX64K_00000: return 0;
	case MSR_IA32_MTRR_FIX16K_80000: return 1;
	case MSR_IA32_MTRR_FIX16K_A0000: return 2;
	default:
		if (msr >= MSR_IA32_MTRR_FIX4K_C0000 && msr < MSR_IA32_MTRR_FIX4K_C0000 + 8)
			return 3 + (int)(msr - MSR_IA32_MTRR_FIX4K_C0000);
		return -1;
	}
}

static bool efer_write(struct cpu *c, uint64_t v)
{
	uint64_t old = c->s.efer, valid = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;

	if (c->s.misc_enable & (1ull << 34))
		valid &= ~EFER_NXE; /* XD disabled: NX is not reported, so NXE is reserved */
	if (v & ~valid)
		return false;
	/* LME cannot change while paging is on (SDM vol. 3 §9.8.5); LMA is read-only. */
	if (((v ^ old) & EFER_LME) && (c->s.cr0 & CR0_PG))
		return false;
	c->s.efer = (v & ~EFER_LMA) | (old & EFER_LMA);
	if ((old ^ v) & EFER_NXE)
		tlb_flush_all(c);
	cpu_mode_changed(c);
	return true;
}

static void seg_base_write(struct cpu *c, unsigned sreg, uint64_t v)
{
	c->s.seg[sreg].base = v;
	seg_cache_update(c, sreg);
}

bool msr_read(struct cpu *c, uint32_t msr, uint64_t *val)
{
	const struct cpu_state *s = &c->s;
	int fix;

	switch (msr) {
	case MSR_EFER: *val = s->efer; return true;
	case MSR_STAR: *val = s->star; return true;
	case MSR_LSTAR: *val = s->lstar; return true;
	case MSR_CSTAR: *val = s->cstar; return true;
	case MSR_FMASK: *val = s->sfmask; return true;
	case MSR_FS_BASE: *val = s->seg[S_FS].base; return true;
	case MSR_GS_BASE: *val = s->seg[S_GS].base; return true;
	case MSR_KERNEL_GS_BASE: *val = s->kernel_gs_base; return true;
	case MSR_TSC_AUX: *val = s->tsc_aux; return true;
	case MSR_IA32_TSC: *val = cpu_rdtsc(c); return true;
	case MSR_IA32_APIC_BASE: *val = s->apic_base; return true;
	case MSR_IA32_PAT: *val = s->pat; return true;
	case MSR_IA32_SYSENTER_CS: *val = s->sysenter_cs; return true;
	case MSR_IA32_SYSENTER_ESP: *val = s->sysenter_esp; return true;
	case MSR_IA32_SYSENTER_EIP: *val = s->sysenter_eip; return true;
	case MSR_IA32_MISC_ENABLE: *val = s->misc_enable | MISC_ENABLE_READ_ONE; return true;
	case MSR_IA32_MTRRCAP: *val = MTRRCAP_VALUE; return true;
	case MSR_IA32_MTRR_DEF_TYPE: *val = s->mtrr_def_type; return true;
	case MSR_IA32_MCG_CAP: *val = 0; return true;
	case MSR_IA32_MCG_STATUS: *val = 0; return true;
	case MSR_IA32_FEATURE_CONTROL: *val = 1; return true; /* locked, VMX off */
	case MSR_IA32_BIOS_SIGN_ID: *val = 0; return true;    /* microcode revision 0 */
	}
	if (msr >= MSR_IA32_MTRR_PHYSBASE0 && msr < MSR_IA32_MTRR_PHYSBASE0 + 2 * MTRR_VAR_COUNT) {
		*val = s->mtrr_var[msr - MSR_IA32_MTRR_PHYSBASE0];
		return true;
	}
	if ((fix = mtrr_fixed_index(msr)) >= 0) {
		*val = s->mtrr_fixed[fix];
		return true;
	}
	return c->bus.msr_read && c->bus.msr_read(c->bus.opaque, msr, val);
}

bool msr_write(struct cpu *c, uint32_t msr, uint64_t v)
{
	struct cpu_state *s = &c->s;
	int fix;

	switch (msr) {
	case MSR_EFER: return efer_write(c, v);
	case MSR_STAR: s->star = v; return true;
	case MSR_LSTAR:
		if (!sys_canonical(v))
			return false;
		s->lstar = v;
		return true;
	case MSR_CSTAR:
		if (!sys_canonical(v))
			return false;
		s->cstar = v;
		return true;
	case MSR_FMASK:
		if (v >> 32)
			return false;
		s->sfmask = v;
		return true;
	case MSR_FS_BASE:
	case MSR_GS_BASE:
		if (!sys_canonical(v))
			return false;
		seg_base_write(c, msr == MSR_FS_BASE ? S_FS : S_GS, v);
		return true;
	case MSR_KERNEL_GS_BASE:
		if (!sys_canonical(v))
			return false;
		s->kernel_gs_base = v;
		return true;
	case MSR_TSC_AUX:
		if (v >> 32)
			return false;
		s->tsc_aux = v;
		return true;
	case MSR_IA32_TSC: cpu_tsc_write(c, v); return true;
	case MSR_IA32_APIC_BASE:
		/* No x2APIC (EXTD, bit 10, is reserved); the BSP flag is read-only. */
		if (v & ~(APIC_BASE_BSP | APIC_BASE_EN | PHYS_ADDR_MASK))
			return false;
		s->apic_base = (v & ~APIC_BASE_BSP) | (s->apic_base & APIC_BASE_BSP);
		return true;
	case MSR_IA32_PAT:
		if (!bytes_ok(v, pat_type_ok))
			return false;
		s->pat = v;
		return true;
	case MSR_IA32_SYSENTER_CS: s->sysenter_cs = (uint32_t)v; return true;
	case MSR_IA32_SYSENTER_ESP:
	case MSR_IA32_SYSENTER_EIP:
		if (!sys_canonical(v))
			return false;
		if (msr == MSR_IA32_SYSENTER_ESP)
			s->sysenter_esp = v;
		else
			s->sysenter_eip = v;
		return true;
	case MSR_IA32_MISC_ENABLE:
		if (v & ~(MISC_ENABLE_WRITABLE | MISC_ENABLE_READ_ONE))
			return false;
		s->misc_enable = v & MISC_ENABLE_WRITABLE;
		return true;
	case MSR_IA32_MTRR_DEF_TYPE:
		/* type (7:0), FE (10), E (11) */
		if ((v & ~0xcffull) || !mtrr_type_ok(v & 0xff))
			return false;
		s->mtrr_def_type = v;
		return true;
	case MSR_IA32_MCG_STATUS:
		return v == 0; /* nothing to clear: no machine check is ever signalled */
	case MSR_IA32_BIOS_SIGN_ID:
		return true; /* writing 0 before CPUID asks for the microcode revision: no state */
	case MSR_IA32_MTRRCAP:
	case MSR_IA32_MCG_CAP:
	case MSR_IA32_FEATURE_CONTROL:
		return false; /* read-only, or locked */
	}
	if (msr >= MSR_IA32_MTRR_PHYSBASE0 && msr < MSR_IA32_MTRR_PHYSBASE0 + 2 * MTRR_VAR_COUNT) {
		unsigned k = msr - MSR_IA32_MTRR_PHYSBASE0;
		if (k & 1) { /* PHYSMASK: valid (11), mask */
			if (v & ~(PHYS_ADDR_MASK | 1ull << 11))
				return false;
		} else { /* PHYSBASE: type (7:0), base */
			if ((v & ~(PHYS_ADDR_MASK | 0xff)) || !mtrr_type_ok(v & 0xff))
				return false;
		}
		s->mtrr_var[k] = v;
		return true;
	}
	if ((fix = mtrr_fixed_index(msr)) >= 0) {
		if (!bytes_ok(v, mtrr_type_ok))
			return false;
		s->mtrr_fixed[fix] = v;
		return true;
	}
	return c->bus.msr_write && c->bus.msr_write(c->bus.opaque, msr, v);
}
