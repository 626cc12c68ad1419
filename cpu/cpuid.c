/*
 * CPUID (SDM vol. 2, CPUID) and the time-stamp counter.
 *
 * The model is a family 6 Intel-compatible processor that reports exactly what softvm executes:
 * the P6/SSE2 baseline (with PSE-36, which mmu.c implements) plus SSE3, SSSE3, SSE4.1, SSE4.2
 * (with CRC32), CX16, POPCNT, MOVBE, LAHF/SAHF in 64-bit mode, LZCNT, PREFETCHW, NX, 1 GiB pages,
 * SYSCALL, RDTSCP and long mode. Leaf 7 reports no extended features; MONITOR/MWAIT, XSAVE (and
 * with it AVX), x2APIC, PCID, VME and performance monitoring are absent.
 *
 * The TSC follows the host's CLOCK_MONOTONIC at SYS_TSC_HZ and is invariant (leaf 0x80000007).
 * Leaves 0x15/0x16 (and the hypervisor leaf 0x40000010) give its frequency so a guest need not
 * calibrate; Linux also takes the local APIC timer frequency from the 0x15 crystal clock, so the
 * machine's APIC timer should count at SYS_CRYSTAL_HZ.
 */
#include <time.h>

#include "system.h"

#define MAX_BASIC_LEAF 0x16
#define MAX_HV_LEAF 0x40000010
#define MAX_EXT_LEAF 0x80000008

/* Family 6, model 15, stepping 11 (a Core 2): late enough for Linux to assume a constant TSC,
 * early enough to carry no model-specific expectations beyond what CPUID says. */
#define CPU_SIGNATURE 0x000006fbu

/* Leaf 1 EDX / ECX */
#define F1D_FPU (1u << 0)
#define F1D_DE (1u << 2)
#define F1D_PSE (1u << 3)
#define F1D_TSC (1u << 4)
#define F1D_MSR (1u << 5)
#define F1D_PAE (1u << 6)
#define F1D_MCE (1u << 7)
#define F1D_CX8 (1u << 8)
#define F1D_APIC (1u << 9)
#define F1D_SEP (1u << 11)
#define F1D_MTRR (1u << 12)
#define F1D_PGE (1u << 13)
#define F1D_CMOV (1u << 15)
#define F1D_PAT (1u << 16)
#define F1D_PSE36 (1u << 17)
#define F1D_CLFSH (1u << 19)
#define F1D_MMX (1u << 23)
#define F1D_FXSR (1u << 24)
#define F1D_SSE (1u << 25)
#define F1D_SSE2 (1u << 26)
#define F1C_SSE3 (1u << 0)
#define F1C_SSSE3 (1u << 9)
#define F1C_CX16 (1u << 13)
#define F1C_SSE41 (1u << 19)
#define F1C_SSE42 (1u << 20)
#define F1C_MOVBE (1u << 22)
#define F1C_POPCNT (1u << 23)
#define F1C_TSC_DEADLINE (1u << 24) /* the machine's local APIC implements it (MSR 0x6e0) */
#define F1C_HYPERVISOR (1u << 31)
/* Leaf 0x80000001 ECX / EDX */
#define F81C_LAHF_LM (1u << 0)
#define F81C_ABM (1u << 5)
#define F81C_PREFETCHW (1u << 8)
#define F81D_SYSCALL (1u << 11)
#define F81D_NX (1u << 20)
#define F81D_PAGE1GB (1u << 26)
#define F81D_RDTSCP (1u << 27)
#define F81D_LM (1u << 29)

#define MISC_ENABLE_XD_DISABLE (1ull << 34)

static void put_str(uint32_t *regs, const char *s, unsigned nregs)
{
	char buf[16] = { 0 };
	size_t n = strlen(s);
	memcpy(buf, s, n < sizeof(buf) ? n : sizeof(buf));
	memcpy(regs, buf, 4 * nregs);
}

/* Leaf 4: deterministic cache parameters. L1D and L1I 32 KiB 8-way, L2 4 MiB 16-way, 64-byte
 * lines, one core and one thread per package. */
static void cache_leaf(uint32_t sub, uint32_t *r)
{
	static const struct { uint8_t type, level; uint16_t ways; uint32_t size; } caches[] = {
		{ 1, 1, 8, 32 << 10 }, /* data */
		{ 2, 1, 8, 32 << 10 }, /* instruction */
		{ 3, 2, 16, 4 << 20 }, /* unified */
	};
	if (sub >= sizeof(caches) / sizeof(caches[0]))
		return; /* type 0: no more caches */
	uint32_t line = 64, sets = caches[sub].size / (caches[sub].ways * line);
	r[0] = caches[sub].type | caches[sub].level << 5 | 1u << 8; /* self-initializing */
	r[1] = (caches[sub].ways - 1u) << 22 | (line - 1);
	r[2] = sets - 1;
}

void cpuid_query(struct cpu *c, uint32_t leaf, uint32_t sub, uint32_t out[4])
{
	uint32_t max_basic = (c->s.misc_enable & MISC_ENABLE_LIMIT_CPUID) ? 2 : MAX_BASIC_LEAF;
	uint32_t *r = out;

	r[0] = r[1] = r[2] = r[3] = 0;
	/* Out-of-range leaves return the highest basic leaf (Intel behaviour, SDM CPUID). */
	if ((leaf > max_basic && leaf < 0x40000000) || (leaf > MAX_HV_LEAF && leaf < 0x80000000) ||
	    leaf > MAX_EXT_LEAF)
		leaf = max_basic;

	switch (leaf) {
	case 0:
		r[0] = max_basic;
		put_str(&r[1], "Genu", 1);
		put_str(&r[3], "ineI", 1);
		put_str(&r[2], "ntel", 1);
		break;
	case 1:
		r[0] = CPU_SIGNATURE;
		r[1] = 8u << 8 | 1u << 16; /* CLFLUSH line 8 * 8 bytes, one logical processor, APIC ID 0 */
		r[2] = F1C_SSE3 | F1C_SSSE3 | F1C_CX16 | F1C_SSE41 | F1C_SSE42 | F1C_MOVBE | F1C_POPCNT |
		       F1C_TSC_DEADLINE | F1C_HYPERVISOR;
		r[3] = F1D_FPU | F1D_DE | F1D_PSE | F1D_TSC | F1D_MSR | F1D_PAE | F1D_MCE | F1D_CX8 | F1D_APIC |
		       F1D_SEP | F1D_MTRR | F1D_PGE | F1D_CMOV | F1D_PAT | F1D_PSE36 | F1D_CLFSH | F1D_MMX | F1D_FXSR |
		       F1D_SSE | F1D_SSE2;
		/* The APIC flag follows IA32_APIC_BASE.EN (SDM vol. 3 §10.4.3). */
		if (!(c->s.apic_base & (1u << 11)))
			r[3] &= ~F1D_APIC;
		break;
	case 2:
		/* One iteration; descriptors: 0xFF (see leaf 4), 0xB0 ITLB 4K 128 entries 4-way,
		 * 0xB3 DTLB 4K 128 entries 4-way, 0xF0 64-byte prefetching. */
		r[0] = 0xb3b0ff01;
		r[1] = 0xf0;
		break;
	case 4:
		cache_leaf(sub, r);
		break;
	case 0x15:
		/* TSC = crystal * EBX / EAX */
		r[0] = 1;
		r[1] = (uint32_t)(SYS_TSC_HZ / SYS_CRYSTAL_HZ);
		r[2] = SYS_CRYSTAL_HZ;
		break;
	case 0x16:
		r[0] = (uint32_t)(SYS_TSC_HZ / 1000000); /* base MHz */
		r[1] = r[0];                              /* maximum MHz */
		r[2] = 100;                               /* bus MHz */
		break;
	case 0x40000000:
		r[0] = MAX_HV_LEAF;
		put_str(&r[1], "softvm", 3);
		break;
	case 0x40000010:
		/* The timing leaf VMware and others use: TSC and APIC bus frequencies in kHz. */
		r[0] = (uint32_t)(SYS_TSC_HZ / 1000);
		r[1] = SYS_CRYSTAL_HZ / 1000;
		break;
	case 0x80000000:
		r[0] = MAX_EXT_LEAF;
		break;
	case 0x80000001:
		r[2] = F81C_LAHF_LM | F81C_ABM | F81C_PREFETCHW;
		r[3] = F81D_SYSCALL | F81D_NX | F81D_PAGE1GB | F81D_RDTSCP | F81D_LM;
		if (c->s.misc_enable & MISC_ENABLE_XD_DISABLE)
			r[3] &= ~F81D_NX;
		break;
	case 0x80000002:
	case 0x80000003:
	case 0x80000004: {
		static const char brand[48] = "softvm virtual CPU";
		memcpy(r, brand + 16 * (leaf - 0x80000002), 16);
		break;
	}
	case 0x80000006:
		r[2] = 4096u << 16 | 0x8u << 12 | 64; /* L2: 4096 KiB, 16-way, 64-byte lines */
		break;
	case 0x80000007:
		r[3] = 1u << 8; /* invariant TSC */
		break;
	case 0x80000008:
		r[0] = 48u << 8 | SYS_MAXPHYADDR;
		break;
	default:
		break; /* reserved or absent leaves within range read as zero */
	}
}

/* ---- time-stamp counter ----
 * The TSC follows the host's monotonic clock at SYS_TSC_HZ; a WRMSR to IA32_TSC (or a state load)
 * moves c->tsc_offset. */
static uint64_t host_ticks(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	unsigned __int128 ns = (unsigned __int128)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	return (uint64_t)(ns * SYS_TSC_HZ / 1000000000u);
}

uint64_t cpu_rdtsc(struct cpu *c)
{
	return host_ticks() + (uint64_t)c->tsc_offset;
}

void cpu_tsc_write(struct cpu *c, uint64_t value)
{
	c->tsc_offset = (int64_t)(value - host_ticks());
}

uint64_t cpu_read_tsc(struct cpu *c)
{
	return cpu_rdtsc(c);
}

uint64_t cpu_tsc_hz(void)
{
	return SYS_TSC_HZ;
}
