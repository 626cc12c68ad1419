/*
 * Differential tests, the softvm side and the driver: builds a 64-bit user-mode world for a
 * snippet (page tables, GDT, TSS in a few MiB of guest RAM), runs it in softvm from a dt_state,
 * draws random states, compares softvm's result with the real processor's (native.c) and runs every
 * snippet linked into the test binary.
 *
 * The guest sees what a Linux process sees: CPL 3, CS = 0x33, SS = 0x2b, null DS/ES/FS/GS, the
 * code read-only and executable at DT_CODE, the data read-write and no-execute at DT_DATA, nothing
 * else mapped at user level. The descriptor tables live at a supervisor-only address in the upper
 * half. Every exception stops the run (cpu_set_exception_exits); an INT3 after the snippet marks its
 * end.
 *
 * Environment: DT_RUNS=n overrides the number of random states per snippet, DT_ONLY=name runs one
 * snippet, DT_SEED=x runs only that state (as printed in a FAIL line), DT_TRACE=1 traces the softvm
 * runs to stderr.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define PAGE 4096ull
#define RAM_SIZE (4ull << 20)
#define RUN_BUDGET 5000000ull /* instructions: snippets may loop, but not forever */

/* Guest-physical layout. */
#define GPA_PML4 0x1000ull
#define GPA_PDPT_LO 0x2000ull
#define GPA_PD_LO 0x3000ull
#define GPA_PT_DATA 0x4000ull
#define GPA_PT_CODE 0x5000ull
#define GPA_PDPT_HI 0x6000ull
#define GPA_PD_HI 0x7000ull
#define GPA_PT_SYS 0x8000ull
#define GPA_GDT 0x9000ull
#define GPA_IDT 0xa000ull
#define GPA_TSS 0xb000ull
#define GPA_DATA 0x10000ull
#define GPA_CODE 0x100000ull
#define CODE_MAX_PAGES 64

/* Linear address of the system pages (GDT, IDT, TSS): supervisor-only, like a kernel's. */
#define SYS_LA 0xffffffff80000000ull

#define PTE_P 0x001ull
#define PTE_RW 0x002ull
#define PTE_US 0x004ull
#define PTE_A 0x020ull
#define PTE_D 0x040ull
#define PTE_NX (1ull << 63)

/* Linux's x86-64 GDT layout, so selectors read by a snippet match the native run. */
#define SEL_USER_DS 0x2b
#define SEL_USER_CS 0x33
#define SEL_TSS 0x40

struct guest {
	uint8_t *ram;
	struct cpu *cpu;
	const uint8_t *code; /* snippet loaded in ram and cached by cpu */
	size_t len;
};

static struct guest g;
static FILE *trace_file;

/* ---- bus ---- */

static uint8_t *bus_ram_ptr(void *opaque, uint64_t gpa, bool write)
{
	if (gpa >= RAM_SIZE)
		return NULL;
	return g.ram + (gpa & ~(PAGE - 1));
}

static uint64_t bus_mmio_read(void *opaque, uint64_t gpa, unsigned size)
{
	return ~0ull;
}

static void bus_mmio_write(void *opaque, uint64_t gpa, unsigned size, uint64_t val)
{
}

static uint32_t bus_io_in(void *opaque, uint16_t port, unsigned size)
{
	return ~0u;
}

static void bus_io_out(void *opaque, uint16_t port, unsigned size, uint32_t val)
{
}

static int bus_intr_ack(void *opaque)
{
	return -1;
}

static const struct cpu_bus bus = {
	.ram_ptr = bus_ram_ptr,
	.mmio_read = bus_mmio_read,
	.mmio_write = bus_mmio_write,
	.io_in = bus_io_in,
	.io_out = bus_io_out,
	.intr_ack = bus_intr_ack,
};

/* ---- the guest's world ---- */

static uint64_t *ram_u64(uint64_t gpa)
{
	return (uint64_t *)(g.ram + gpa);
}

static void pte_set(uint64_t table, unsigned idx, uint64_t val)
{
	ram_u64(table)[idx] = val;
}

static unsigned pml4_idx(uint64_t la) { return (la >> 39) & 511; }
static unsigned pdpt_idx(uint64_t la) { return (la >> 30) & 511; }
static unsigned pd_idx(uint64_t la) { return (la >> 21) & 511; }
static unsigned pt_idx(uint64_t la) { return (la >> 12) & 511; }

static uint64_t seg_desc(uint32_t base, uint32_t limit, unsigned type_s_dpl_p, unsigned flags)
{
	return (limit & 0xffffull) | ((uint64_t)(base & 0xffffff) << 16) | ((uint64_t)type_s_dpl_p << 40) |
	       ((uint64_t)((limit >> 16) & 0xf) << 48) | ((uint64_t)flags << 52) | ((uint64_t)(base >> 24) << 56);
}

static void guest_init(void)
{
	if (g.ram)
		return;
	g.ram = aligned_alloc(PAGE, RAM_SIZE);
	if (!g.ram) {
		perror("harness: guest RAM");
		exit(2);
	}
	memset(g.ram, 0, RAM_SIZE);
	const uint64_t up = PTE_P | PTE_RW | PTE_US | PTE_A;

	/* Low half: DT_DATA and DT_CODE, 4 KiB pages. */
	pte_set(GPA_PML4, pml4_idx(DT_DATA), GPA_PDPT_LO | up);
	pte_set(GPA_PDPT_LO, pdpt_idx(DT_DATA), GPA_PD_LO | up);
	pte_set(GPA_PD_LO, pd_idx(DT_DATA), GPA_PT_DATA | up);
	pte_set(GPA_PD_LO, pd_idx(DT_CODE), GPA_PT_CODE | up);
	for (unsigned k = 0; k < DT_DATA_SIZE / PAGE; k++)
		pte_set(GPA_PT_DATA, pt_idx(DT_DATA) + k, (GPA_DATA + k * PAGE) | up | PTE_D | PTE_NX);

	/* Upper half: GDT, IDT, TSS, supervisor-only. */
	const uint64_t sup = PTE_P | PTE_RW | PTE_A;
	pte_set(GPA_PML4, pml4_idx(SYS_LA), GPA_PDPT_HI | sup);
	pte_set(GPA_PDPT_HI, pdpt_idx(SYS_LA), GPA_PD_HI | sup);
	pte_set(GPA_PD_HI, pd_idx(SYS_LA), GPA_PT_SYS | sup);
	pte_set(GPA_PT_SYS, 0, GPA_GDT | sup | PTE_D | PTE_NX);
	pte_set(GPA_PT_SYS, 1, GPA_IDT | sup | PTE_D | PTE_NX);
	pte_set(GPA_PT_SYS, 2, GPA_TSS | sup | PTE_D | PTE_NX);

	uint64_t *gdt = ram_u64(GPA_GDT);
	gdt[1] = seg_desc(0, 0xfffff, 0x9b, 0xc); /* kernel code 32 */
	gdt[2] = seg_desc(0, 0xfffff, 0x9b, 0xa); /* kernel code 64 */
	gdt[3] = seg_desc(0, 0xfffff, 0x93, 0xc); /* kernel data */
	gdt[4] = seg_desc(0, 0xfffff, 0xfb, 0xc); /* user code 32 (0x23) */
	gdt[5] = seg_desc(0, 0xfffff, 0xf3, 0xc); /* user data (0x2b) */
	gdt[6] = seg_desc(0, 0xfffff, 0xfb, 0xa); /* user code 64 (0x33) */
	uint64_t tss_la = SYS_LA + 2 * PAGE;
	gdt[SEL_TSS / 8] = seg_desc((uint32_t)tss_la, 0x67, 0x8b, 0);
	gdt[SEL_TSS / 8 + 1] = tss_la >> 32;
	/* No I/O permission bitmap: the map base lies past the TSS limit, so IN/OUT at CPL 3 #GP. */
	g.ram[GPA_TSS + 0x66] = 0x68;
}

/* Puts the snippet at DT_CODE followed by INT3 and maps exactly the pages it needs. A new
 * snippet gets a fresh CPU, so no decoded block of the previous one can survive. */
static void guest_load_code(const uint8_t *code, size_t len)
{
	if (g.cpu && code == g.code && len == g.len)
		return;
	size_t pages = (len + 1 + PAGE - 1) / PAGE;
	if (pages > CODE_MAX_PAGES) {
		fprintf(stderr, "harness: snippet of %zu bytes is too long\n", len);
		exit(2);
	}
	memset(g.ram + GPA_CODE, 0, (g.len + 1 + PAGE - 1) & ~(PAGE - 1)); /* the previous snippet */
	memcpy(g.ram + GPA_CODE, code, len);
	g.ram[GPA_CODE + len] = 0xcc;
	for (unsigned k = 0; k < CODE_MAX_PAGES; k++)
		pte_set(GPA_PT_CODE, pt_idx(DT_CODE) + k,
			k < pages ? (GPA_CODE + k * PAGE) | PTE_P | PTE_US | PTE_A : 0);
	if (g.cpu)
		cpu_destroy(g.cpu);
	g.cpu = cpu_create(&bus);
	if (!g.cpu) {
		fprintf(stderr, "harness: cpu_create failed\n");
		exit(2);
	}
	cpu_set_exception_exits(g.cpu, ~0u);
	g.code = code;
	g.len = len;
}

static void set_seg(struct cpu_seg *s, uint16_t sel, uint64_t base, uint32_t limit, uint16_t attr)
{
	s->sel = sel;
	s->base = base;
	s->limit = limit;
	s->attr = attr;
}

static bool vector_has_err(int vec)
{
	return vec == 8 || (vec >= 10 && vec <= 14) || vec == 17;
}

void dt_run_softvm(const uint8_t *code, size_t len, struct dt_state *st)
{
	guest_init();
	guest_load_code(code, len);
	memcpy(g.ram + GPA_DATA, st->data, DT_DATA_SIZE);

	struct cpu *c = g.cpu;
	static struct cpu_state s;
	cpu_reset(c);
	cpu_get_state(c, &s); /* reset values for everything set up below (PAT, DR6/7, MSRs) */
	memcpy(s.gpr, st->gpr, sizeof(s.gpr));
	s.rip = DT_CODE;
	s.rflags = (st->rflags & (F_ALL | F_DF)) | 0x202; /* IF set, as in a Linux process */
	for (unsigned k = S_ES; k <= S_GS; k++)
		set_seg(&s.seg[k], 0, 0, 0, 0);
	set_seg(&s.seg[S_CS], SEL_USER_CS, 0, 0xffffffff, 0xa0fb);
	set_seg(&s.seg[S_SS], SEL_USER_DS, 0, 0xffffffff, 0xc0f3);
	set_seg(&s.seg[S_LDTR], 0, 0, 0, 0);
	set_seg(&s.seg[S_TR], SEL_TSS, SYS_LA + 2 * PAGE, 0x67, 0x8b);
	s.gdtr.base = SYS_LA;
	s.gdtr.limit = (SEL_TSS + 16) - 1;
	s.idtr.base = SYS_LA + PAGE;
	s.idtr.limit = 0xfff;
	s.cr0 = 0x80010033; /* PG WP NE ET MP PE, as Linux runs */
	s.cr2 = 0;
	s.cr3 = GPA_PML4;
	s.cr4 = 0x620; /* OSXMMEXCPT OSFXSR PAE */
	s.efer = 0xd01; /* NXE LMA LME SCE */
	s.fx = st->fx;
	s.fx.mxcsr_mask = 0xffff;
	cpu_set_state(c, &s);
	cpu_set_trace(c, trace_file);

	enum cpu_exit why = cpu_run(c, RUN_BUDGET);
	uint32_t err = 0;
	int vec = cpu_last_exception(c, &err);
	cpu_get_state(c, &s);
	memcpy(st->gpr, s.gpr, sizeof(st->gpr));
	st->rflags = s.rflags;
	st->fx = s.fx;
	st->rip = s.rip;
	st->err = 0;
	st->fault_addr = 0;
	switch (why) {
	case CPU_EXIT_EXCEPTION:
		/* Reaching the INT3 after the snippet means it ran to its end (#UD there only means
		 * INT3 itself is not implemented yet). */
		if ((vec == 3 || vec == 6) && s.rip == DT_CODE + len) {
			st->exc = DT_EXC_NONE;
		} else {
			st->exc = vec;
			st->err = vector_has_err(vec) ? err : 0;
			st->fault_addr = vec == 14 ? s.cr2 : 0;
		}
		break;
	case CPU_EXIT_BUDGET: st->exc = DT_EXC_BUDGET; break;
	case CPU_EXIT_HLT: st->exc = DT_EXC_HLT; break;
	case CPU_EXIT_TRIPLE_FAULT: st->exc = DT_EXC_TRIPLE; break;
	default: st->exc = DT_EXC_OTHER; break;
	}
	memcpy(st->data, g.ram + GPA_DATA, DT_DATA_SIZE);
}

/* ---- random states ---- */

static uint64_t rng_next(uint64_t *s)
{
	/* splitmix64 */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A number below n from 32 random bits, without a division. */
static uint64_t below(uint64_t x, uint64_t n)
{
	return ((x & 0xffffffffull) * n) >> 32;
}

static const uint64_t edge_values[] = {
	0, 1, 2, 3, 7, 8, 15, 16, 31, 32, 33, 63, 64, 65, 0x7f, 0x80, 0x81, 0xff, 0x100, 0x7fff, 0x8000, 0x8001,
	0xffff, 0x10000, 0x7fffffff, 0x80000000, 0x80000001, 0xffffffff, 0x100000000ull,
	0x7fffffffffffffffull, 0x8000000000000000ull, 0x8000000000000001ull, ~0ull, ~1ull,
	0xffffffffffffff80ull, 0xffffffffffff8000ull, 0xffffffff80000000ull, 0xffffffff7fffffffull,
	0x5555555555555555ull, 0xaaaaaaaaaaaaaaaaull, 0x0123456789abcdefull, 0xfedcba9876543210ull,
	0x00000000ffffff7full, 0x000000007fff8000ull, 0x0000ffff00000000ull,
};
#define N_EDGE (sizeof(edge_values) / sizeof(edge_values[0]))

/* A register or memory value: often an edge value or near one, often small, sometimes a
 * random value of 8, 16 or 32 significant bits (sign-extended or not), else fully random. */
static uint64_t rand_value(uint64_t *r)
{
	uint64_t x = rng_next(r);
	uint64_t v = rng_next(r);
	switch (x & 7) {
	case 0:
	case 1: return edge_values[below(x >> 8, N_EDGE)];
	case 2: return edge_values[below(x >> 8, N_EDGE)] + below(x >> 40, 5) - 2;
	case 3: return (x >> 8) & 1 ? below(v, 70) : -below(v, 70);
	case 4: {
		static const unsigned bits[] = { 8, 16, 32 };
		unsigned b = bits[below(x >> 8, 3)];
		v &= (1ull << b) - 1;
		if ((x >> 12) & 1 && (v >> (b - 1)) & 1)
			v |= ~0ull << b; /* sign-extended */
		return v;
	}
	default: return v;
	}
}

static uint64_t float_bits(uint64_t *r, bool dbl)
{
	static const double specials[] = {
		0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 3.0, 10.0, 1e-30, 1e30, 1.5, -2.5, 65536.0, 0.1, 1.0 / 3,
		__builtin_inf(), -__builtin_inf(), __builtin_nan(""), 2147483648.0, -2147483649.0, 9.2e18,
	};
	uint64_t x = rng_next(r);
	double d;
	switch (x & 3) {
	case 0: d = specials[(x >> 8) % (sizeof(specials) / sizeof(specials[0]))]; break;
	case 1: d = (double)((int64_t)((x >> 8) % 2001) - 1000) / (double)(1u << ((x >> 20) % 12)); break;
	case 2: d = (double)((x >> 8) % 100000) * 1e-3 * (((x >> 40) & 1) ? -1 : 1); break;
	default: {
		/* denormals and extremes */
		uint64_t bits = dbl ? (x >> 12) | ((x & 8) << 60) : ((x >> 12) & 0x7fffff) | ((x & 8) << 28);
		if (x & 4)
			bits |= dbl ? 0x7fe0000000000000ull : 0x7f000000ull;
		return bits;
	}
	}
	if (dbl) {
		uint64_t b;
		memcpy(&b, &d, 8);
		return b;
	}
	float f = (float)d;
	uint32_t b;
	memcpy(&b, &f, 4);
	return b;
}

/* XMM halves: random bits, two floats, a double, or an integer edge value. */
static uint64_t rand_xmm_half(uint64_t *r)
{
	switch (rng_next(r) & 3) {
	case 0: return rng_next(r);
	case 1: return float_bits(r, false) | float_bits(r, false) << 32;
	case 2: return float_bits(r, true);
	default: return rand_value(r);
	}
}

/* Seeds 0..3 are edge-case register sets (zero, all ones, sign boundaries, small values);
 * any other seed gives random registers. Data and XMM registers are random in all. */
void dt_random_state(struct dt_state *st, uint64_t seed)
{
	uint64_t r = seed * 0x2545f4914f6cdd1dull + 0x1234567;
	memset(st, 0, sizeof(*st));
	static const uint64_t sign_bounds[] = {
		0x80, 0x8000, 0x80000000, 0x8000000000000000ull, 0x7f, 0x7fff, 0x7fffffff, 0x7fffffffffffffffull,
	};
	for (unsigned k = 0; k < 16; k++) {
		switch (seed) {
		case 0: st->gpr[k] = 0; break;
		case 1: st->gpr[k] = ~0ull; break;
		case 2: st->gpr[k] = sign_bounds[k % 8]; break;
		case 3: st->gpr[k] = k + 1; break;
		default: st->gpr[k] = rand_value(&r); break;
		}
	}
	st->gpr[R_RSP] = DT_DATA + 0x2800;
	switch (seed) {
	case 0: st->rflags = 0; break;
	case 1: st->rflags = F_ALL; break;
	case 2: st->rflags = F_SF | F_OF; break;
	case 3: st->rflags = F_CF; break;
	default:
		st->rflags = rng_next(&r) & F_ALL;
		if ((rng_next(&r) & 15) == 0)
			st->rflags |= F_DF;
		break;
	}
	st->rflags |= 2;
	st->exc = DT_EXC_NONE;

	/* Data: a quarter edge-ish values (rand_value), the rest random bits. */
	for (unsigned off = 0; off < DT_DATA_SIZE; off += 8) {
		uint64_t v = rng_next(&r);
		if ((v & 3) == 0)
			v = rand_value(&r);
		memcpy(st->data + off, &v, 8);
	}

	st->fx.fcw = 0x37f;
	st->fx.mxcsr = 0x1f80;
	st->fx.mxcsr_mask = 0xffff;
	for (unsigned k = 0; k < 16; k++) {
		uint64_t lo = rand_xmm_half(&r), hi = rand_xmm_half(&r);
		memcpy(st->fx.xmm[k], &lo, 8);
		memcpy(st->fx.xmm[k] + 8, &hi, 8);
	}
}

/* ---- comparison ---- */

static unsigned cur_run;
static uint64_t cur_seed;
static bool in_run_all;
static unsigned fail_lines;
#define MAX_FAIL_LINES 8

__attribute__((format(printf, 2, 3)))
static void fail_line(const char *name, const char *fmt, ...)
{
	fail_lines++;
	if (fail_lines > MAX_FAIL_LINES)
		return;
	if (in_run_all)
		printf("FAIL: %s (run %u, seed %#" PRIx64 "): ", name, cur_run, cur_seed);
	else
		printf("FAIL: %s: ", name);
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static const char *exc_name(int exc, char *buf, size_t size)
{
	static const char *const names[32] = {
		[0] = "#DE", [1] = "#DB", [2] = "NMI", [3] = "#BP", [4] = "#OF", [5] = "#BR", [6] = "#UD",
		[7] = "#NM", [8] = "#DF", [10] = "#TS", [11] = "#NP", [12] = "#SS", [13] = "#GP", [14] = "#PF",
		[16] = "#MF", [17] = "#AC", [18] = "#MC", [19] = "#XM",
	};
	switch (exc) {
	case DT_EXC_NONE: return "none";
	case DT_EXC_BUDGET: return "no end (budget or watchdog)";
	case DT_EXC_HLT: return "HLT exit";
	case DT_EXC_TRIPLE: return "triple fault";
	case DT_EXC_OTHER: return "unexpected exit";
	}
	if (exc >= 0 && exc < 32 && names[exc])
		return names[exc];
	snprintf(buf, size, "vector %d", exc);
	return buf;
}

static const char *const gpr_names[16] = {
	"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
};

static void hex_bytes(char *out, const uint8_t *p, unsigned n)
{
	/* most significant byte first, as a number */
	for (unsigned k = 0; k < n; k++)
		sprintf(out + 2 * k, "%02x", p[n - 1 - k]);
}

#define FSW_CC 0x4700 /* C3 C2 C1 C0 */

static void compare_fx(const char *name, const struct cpu_fxstate *a, const struct cpu_fxstate *b, uint64_t opts)
{
	char x[40], y[40];
	uint16_t fsw_mask = (opts & DT_OPT_NO_FCC) ? (uint16_t)~FSW_CC : 0xffff;
	if (a->fcw != b->fcw)
		fail_line(name, "fcw native=%#x softvm=%#x", a->fcw, b->fcw);
	if ((a->fsw ^ b->fsw) & fsw_mask)
		fail_line(name, "fsw native=%#x softvm=%#x", a->fsw, b->fsw);
	if (a->ftw != b->ftw)
		fail_line(name, "ftw native=%#x softvm=%#x", a->ftw, b->ftw);
	if (a->mxcsr != b->mxcsr)
		fail_line(name, "mxcsr native=%#x softvm=%#x", a->mxcsr, b->mxcsr);
	/* ST(i) only where the tag says the register holds a value: empty ones are stale bits. */
	unsigned top = (a->fsw >> 11) & 7;
	for (unsigned k = 0; k < 8; k++) {
		unsigned phys = (top + k) & 7;
		if (!((a->ftw | b->ftw) >> phys & 1))
			continue;
		if (memcmp(a->st[k], b->st[k], 10)) {
			hex_bytes(x, a->st[k], 10);
			hex_bytes(y, b->st[k], 10);
			fail_line(name, "st(%u) native=%s softvm=%s", k, x, y);
		}
	}
	for (unsigned k = 0; k < 16; k++) {
		if (memcmp(a->xmm[k], b->xmm[k], 16)) {
			hex_bytes(x, a->xmm[k], 16);
			hex_bytes(y, b->xmm[k], 16);
			fail_line(name, "xmm%u native=%s softvm=%s", k, x, y);
		}
	}
}

static void compare_data(const char *name, const uint8_t *a, const uint8_t *b)
{
	unsigned shown = 0;
	if (!memcmp(a, b, DT_DATA_SIZE))
		return;
	for (unsigned off = 0; off < DT_DATA_SIZE && shown < 3; off++) {
		if (a[off] == b[off])
			continue;
		unsigned start = off & ~7u;
		char x[20], y[20];
		hex_bytes(x, a + start, 8);
		hex_bytes(y, b + start, 8);
		fail_line(name, "data qword at DT_DATA+%#x native=%s softvm=%s", start, x, y);
		shown++;
		off = start + 7;
	}
}

bool dt_compare(const char *name, const struct dt_state *n, const struct dt_state *s, uint64_t flags_mask,
		uint64_t opts)
{
	char b1[24], b2[24];
	fail_lines = 0;
	if (n->exc == DT_EXC_BUDGET || s->exc == DT_EXC_BUDGET) {
		/* Ran out of time natively (watchdog) or of instructions in softvm: a snippet must end. */
		fail_line(name, "did not finish: native=%s softvm=%s", exc_name(n->exc, b1, sizeof(b1)),
			  exc_name(s->exc, b2, sizeof(b2)));
	} else if (n->exc != s->exc) {
		fail_line(name, "exception native=%s at %#" PRIx64 " softvm=%s at %#" PRIx64,
			  exc_name(n->exc, b1, sizeof(b1)), n->rip, exc_name(s->exc, b2, sizeof(b2)), s->rip);
	} else if (n->exc >= 0) {
		/* Traps (#DB, #BP, #OF) report the next instruction natively but the trapping one in
		 * softvm's exception exit; faults report the faulting instruction in both. */
		bool trap = n->exc == 1 || n->exc == 3 || n->exc == 4;
		if (!trap && n->rip != s->rip)
			fail_line(name, "%s at native=%#" PRIx64 " softvm=%#" PRIx64, exc_name(n->exc, b1, sizeof(b1)),
				  n->rip, s->rip);
		if (n->err != s->err)
			fail_line(name, "%s error code native=%#x softvm=%#x", exc_name(n->exc, b1, sizeof(b1)), n->err,
				  s->err);
		if (n->exc == 14 && n->fault_addr != s->fault_addr)
			fail_line(name, "#PF address native=%#" PRIx64 " softvm=%#" PRIx64, n->fault_addr,
				  s->fault_addr);
	}
	for (unsigned k = 0; k < 16; k++)
		if (n->gpr[k] != s->gpr[k])
			fail_line(name, "%s native=%#" PRIx64 " softvm=%#" PRIx64, gpr_names[k], n->gpr[k], s->gpr[k]);
	if ((n->rflags ^ s->rflags) & flags_mask)
		fail_line(name, "rflags (mask %#" PRIx64 ") native=%#" PRIx64 " softvm=%#" PRIx64, flags_mask,
			  n->rflags & flags_mask, s->rflags & flags_mask);
	compare_data(name, n->data, s->data);
	if (!(opts & DT_OPT_NO_FX))
		compare_fx(name, &n->fx, &s->fx, opts);
	if (fail_lines > MAX_FAIL_LINES)
		printf("FAIL: %s: ... %u more differences\n", name, fail_lines - MAX_FAIL_LINES);
	return fail_lines == 0;
}

/* ---- driver ---- */

static uint64_t name_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	while (*s)
		h = (h ^ (uint8_t)*s++) * 0x100000001b3ull;
	return h;
}

/* Seed of run k of a snippet: the edge-case states first, then random states that depend on the
 * snippet's name, so adding a snippet does not change the states the others see. */
static uint64_t run_seed(const char *name, unsigned k)
{
	if (k < 4)
		return k;
	uint64_t r = name_hash(name) ^ ((uint64_t)k << 32);
	return rng_next(&r) | 16;
}

int dt_run_all(unsigned runs)
{
	const char *env = getenv("DT_RUNS");
	if (env && *env)
		runs = (unsigned)strtoul(env, NULL, 0);
	const char *only = getenv("DT_ONLY");
	if (only && !*only)
		only = NULL;
	const char *seed_env = getenv("DT_SEED");
	bool one_seed = seed_env && *seed_env;
	uint64_t the_seed = one_seed ? strtoull(seed_env, NULL, 0) : 0;
	const char *tr = getenv("DT_TRACE");
	trace_file = tr && *tr && strcmp(tr, "0") ? stderr : NULL;

	static struct dt_state init, native, soft;
	int failures = 0;
	unsigned matched = 0;
	in_run_all = true;
	for (const struct snippet *sn = __start_snippets; sn < __stop_snippets; sn++) {
		if (only && strcmp(only, sn->name))
			continue;
		matched++;
		size_t len = (size_t)(sn->end - sn->start);
		bool ok = true;
		unsigned n_runs = one_seed ? 1 : runs;
		for (unsigned k = 0; k < n_runs && ok; k++) {
			uint64_t seed = one_seed ? the_seed : run_seed(sn->name, k);
			cur_run = k;
			cur_seed = seed;
			dt_random_state(&init, seed);
			native = init;
			soft = init;
			dt_run_native(sn->start, len, &native);
			dt_run_softvm(sn->start, len, &soft);
			ok = dt_compare(sn->name, &native, &soft, sn->flags_mask, sn->opts);
			if (!ok)
				printf("  reproduce: DT_ONLY=%s DT_SEED=%#" PRIx64 " DT_TRACE=1\n", sn->name, seed);
		}
		if (ok)
			printf("PASS: %s\n", sn->name);
		else
			failures++;
	}
	in_run_all = false;
	if (only && !matched) {
		printf("FAIL: DT_ONLY=%s: no such snippet\n", only);
		failures++;
	}
	fflush(stdout);
	return failures;
}
