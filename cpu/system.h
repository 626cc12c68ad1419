/*
 * System registers shared by system.c (privileged instructions), msr.c (model-specific registers),
 * cpuid.c (CPUID and the time-stamp counter) and io.c (I/O permission checks). MSR numbers keep
 * the SDM's names (vol. 4, table 2-2).
 */
#ifndef SOFTVM_CPU_SYSTEM_H
#define SOFTVM_CPU_SYSTEM_H
#include "core.h"

/* The model: 40 physical and 48 linear address bits (CPUID 0x80000008), a 2 GHz invariant TSC
 * fed by a 25 MHz crystal (CPUID 0x15/0x16). */
#define SYS_MAXPHYADDR 40
#define SYS_TSC_HZ 2000000000ull
#define SYS_CRYSTAL_HZ 25000000u

#define MSR_IA32_TSC 0x10
#define MSR_IA32_APIC_BASE 0x1b
#define MSR_IA32_FEATURE_CONTROL 0x3a
#define MSR_IA32_BIOS_SIGN_ID 0x8b
#define MSR_IA32_MTRRCAP 0xfe
#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MCG_CAP 0x179
#define MSR_IA32_MCG_STATUS 0x17a
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_IA32_MTRR_PHYSBASE0 0x200 /* ..0x20f: base/mask pairs */
#define MSR_IA32_MTRR_FIX64K_00000 0x250
#define MSR_IA32_MTRR_FIX16K_80000 0x258
#define MSR_IA32_MTRR_FIX16K_A0000 0x259
#define MSR_IA32_MTRR_FIX4K_C0000 0x268 /* ..0x26f */
#define MSR_IA32_PAT 0x277
#define MSR_IA32_MTRR_DEF_TYPE 0x2ff
#define MSR_EFER 0xc0000080
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_FMASK 0xc0000084
#define MSR_FS_BASE 0xc0000100
#define MSR_GS_BASE 0xc0000101
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MSR_TSC_AUX 0xc0000103

#define MTRR_VAR_COUNT 8
/* IA32_MISC_ENABLE bit 22: CPUID reports at most leaf 2 (SDM vol. 4 table 2-2). */
#define MISC_ENABLE_LIMIT_CPUID (1ull << 22)

/* 48-bit linear addresses: bits 63..47 equal. */
static inline bool sys_canonical(uint64_t a)
{
	return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

/* MOV to/from control and debug registers: mov.c's MOV selector dispatches here. */
void mov_cr(struct cpu *c, const struct insn *i);
void mov_dr(struct cpu *c, const struct insn *i);

/* Changes the TSC so that it reads value now (WRMSR IA32_TSC). */
void cpu_tsc_write(struct cpu *c, uint64_t value);

#endif
