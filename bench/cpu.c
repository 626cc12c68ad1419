/*
 * CPU benchmark (not a test): guest instructions per second for a few fixed loops, each run in
 * softvm (64-bit user mode, as a Linux process sees it) and natively, with the slowdown.
 *
 * The loops are plain functions in this file (SysV ABI: RDI = data buffer, RSI = iterations, only
 * caller-saved registers). Natively they are called directly; in softvm their bytes are copied to
 * guest RAM and entered with a return address pointing at an INT3, whose exception exit ends the
 * run. Guest instruction counts come from softvm's instruction counter; the native MIPS figure
 * divides that same count by the native time, so both columns count the same work.
 *
 * Usage: build/bench/cpu [scale] [--guest-only] [loop...]
 * scale multiplies the iteration counts (default 1); --guest-only skips the native runs (whose
 * repeat-until-0.2-s loop would make instruction counts under callgrind vary); naming loops runs
 * only those. `valgrind --tool=callgrind build/bench/cpu 0.1 --guest-only alu` then gives a
 * repeatable host-instruction count for a loop.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu/cpu.h"

/* ---- the loops ---- */

__asm__(".pushsection .text.bench, \"ax\"\n"
	".intel_syntax noprefix\n"

	/* Integer ALU: dependent and independent register arithmetic. */
	".globl bench_alu, bench_alu_end\n"
	"bench_alu:\n"
	"	mov eax, 1\n"
	"	mov edx, 3\n"
	"	mov r8d, 5\n"
	"	mov rcx, rsi\n"
	"1:	add rax, rdx\n"
	"	sub rdx, r8\n"
	"	xor r8, rax\n"
	"	and r9, rax\n"
	"	or r10, rdx\n"
	"	shl r11, 1\n"
	"	lea r9, [rax + rdx * 2]\n"
	"	cmp r10, r11\n"
	"	adc r11, 7\n"
	"	dec rcx\n"
	"	jnz 1b\n"
	"	ret\n"
	"bench_alu_end:\n"

	/* Memory: loads, read-modify-write, stores and the stack over a 8 KiB window. */
	".globl bench_mem, bench_mem_end\n"
	"bench_mem:\n"
	"	mov rcx, rsi\n"
	"	xor eax, eax\n"
	"1:	mov rdx, [rdi + rax * 8]\n"
	"	add [rdi + rax * 8 + 4096], rdx\n"
	"	mov r8, [rdi + 8]\n"
	"	mov [rdi + 16], r8\n"
	"	movzx r9d, byte ptr [rdi + rax + 24]\n"
	"	mov [rdi + rax * 2 + 1024], r9w\n"
	"	push rdx\n"
	"	pop r10\n"
	"	inc eax\n"
	"	and eax, 511\n"
	"	dec rcx\n"
	"	jnz 1b\n"
	"	ret\n"
	"bench_mem_end:\n"

	/* Branches: data-dependent conditional jumps on a xorshift sequence, CALL/RET. */
	".globl bench_branch, bench_branch_end\n"
	"bench_branch:\n"
	"	mov rcx, rsi\n"
	"	mov eax, 12345\n"
	"	xor r8d, r8d\n"
	"1:	mov rdx, rax\n"
	"	shl rdx, 13\n"
	"	xor rax, rdx\n"
	"	mov rdx, rax\n"
	"	shr rdx, 7\n"
	"	xor rax, rdx\n"
	"	test al, 1\n"
	"	jz 2f\n"
	"	add r8, 1\n"
	"2:	test al, 2\n"
	"	jnz 3f\n"
	"	sub r8, 3\n"
	"3:	cmp al, 0x80\n"
	"	ja 4f\n"
	"	call 5f\n"
	"4:	dec rcx\n"
	"	jnz 1b\n"
	"	ret\n"
	"5:	inc r9\n"
	"	ret\n"
	"bench_branch_end:\n"

	/* String operations: REP MOVSB / STOSB of 4 KiB and REP MOVSQ of 4 KiB per iteration. */
	".globl bench_string, bench_string_end\n"
	"bench_string:\n"
	"	mov r8, rsi\n"
	"	mov r9, rdi\n"
	"	cld\n"
	"1:	mov rsi, r9\n"
	"	lea rdi, [r9 + 8192]\n"
	"	mov ecx, 4096\n"
	"	rep movsb\n"
	"	lea rdi, [r9 + 16384]\n"
	"	mov ecx, 4096\n"
	"	mov eax, r8d\n"
	"	rep stosb\n"
	"	mov rsi, r9\n"
	"	lea rdi, [r9 + 24576]\n"
	"	mov ecx, 512\n"
	"	rep movsq\n"
	"	dec r8\n"
	"	jnz 1b\n"
	"	mov rdi, r9\n"
	"	ret\n"
	"bench_string_end:\n"

	/* x87: load, multiply, add from memory, square root, store; the stack stays balanced. */
	".globl bench_x87, bench_x87_end\n"
	"bench_x87:\n"
	"	fld qword ptr [rdi]\n"
	"	fld qword ptr [rdi + 8]\n"
	"	mov rcx, rsi\n"
	"1:	fld st(0)\n"
	"	fmul st(0), st(2)\n"
	"	fadd qword ptr [rdi + 16]\n"
	"	fsqrt\n"
	"	fstp qword ptr [rdi + 24]\n"
	"	fxch st(1)\n"
	"	fxch st(1)\n"
	"	fild dword ptr [rdi + 32]\n"
	"	faddp st(1), st(0)\n"
	"	fld st(0)\n"
	"	fistp dword ptr [rdi + 36]\n"
	"	fsub qword ptr [rdi + 40]\n"
	"	dec rcx\n"
	"	jnz 1b\n"
	"	fstp st(0)\n"
	"	fstp st(0)\n"
	"	ret\n"
	"bench_x87_end:\n"

	/* SSE: packed single, scalar double, conversion and packed integer arithmetic. */
	".globl bench_sse, bench_sse_end\n"
	"bench_sse:\n"
	"	movups xmm0, [rdi + 256]\n"
	"	movups xmm1, [rdi + 272]\n"
	"	movsd xmm2, [rdi + 288]\n"
	"	pxor xmm5, xmm5\n"
	"	mov rcx, rsi\n"
	"1:	movaps xmm3, xmm0\n"
	"	mulps xmm3, xmm1\n"
	"	addps xmm3, xmm1\n"
	"	movups [rdi + 320], xmm3\n"
	"	movsd xmm4, xmm2\n"
	"	mulsd xmm4, xmm2\n"
	"	addsd xmm4, xmm2\n"
	"	sqrtsd xmm4, xmm4\n"
	"	cvttsd2si eax, xmm4\n"
	"	paddd xmm5, xmm1\n"
	"	pand xmm5, xmm0\n"
	"	dec rcx\n"
	"	jnz 1b\n"
	"	ret\n"
	"bench_sse_end:\n"

	".att_syntax prefix\n"
	".popsection\n");

typedef void loop_fn(void *data, uint64_t iters);

#define LOOP(name) extern const uint8_t bench_##name[], bench_##name##_end[]
LOOP(alu);
LOOP(mem);
LOOP(branch);
LOOP(string);
LOOP(x87);
LOOP(sse);

struct bench {
	const char *name;
	const uint8_t *start, *end;
	uint64_t iters; /* at scale 1: roughly 30 million guest instructions */
};

static const struct bench benches[] = {
	{ "alu", bench_alu, bench_alu_end, 2700000 },
	{ "mem", bench_mem, bench_mem_end, 2500000 },
	{ "branch", bench_branch, bench_branch_end, 2300000 },
	{ "string", bench_string, bench_string_end, 20000 },
	{ "x87", bench_x87, bench_x87_end, 2100000 },
	{ "sse", bench_sse, bench_sse_end, 2300000 },
};

#define DATA_SIZE (64 * 1024)

/* Inputs: doubles 1.5, 2.25, 0.75 at 0, 8, 16 and the int 3 at 32, 3.0 at 40 (x87); floats at 256
 * and 272, a double at 288 (SSE). The loops' results stay finite however long they run. */
static void data_init(uint8_t *d)
{
	for (unsigned k = 0; k < DATA_SIZE; k++)
		d[k] = (uint8_t)(k * 7 + 3);
	const double x87_in[] = { 1.5, 2.25, 0.75 };
	memcpy(d, x87_in, sizeof(x87_in));
	const int32_t three = 3;
	memcpy(d + 32, &three, 4);
	const double three_d = 3.0;
	memcpy(d + 40, &three_d, 8);
	const float sse_in[8] = { 1.0f, 0.5f, -2.0f, 3.0f, 1.0f, 1.0f, 0.25f, 0.5f };
	memcpy(d + 256, sse_in, sizeof(sse_in));
	memcpy(d + 288, &x87_in[1], 8);
}

/* ---- the guest ---- */

#define RAM_SIZE (16ull << 20)
#define GPA_PML4 0x1000ull
#define GPA_PDPT 0x2000ull
#define GPA_PD 0x3000ull
#define GPA_GDT 0x4000ull
#define GUEST_CODE UINT64_C(0x100000)
#define GUEST_DATA 0x200000ull
#define GUEST_STACK_TOP 0x400000ull

static uint8_t *ram;

static uint8_t *bus_ram_ptr(void *opaque, uint64_t gpa, bool write)
{
	return gpa < RAM_SIZE ? ram + (gpa & ~0xfffull) : NULL;
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

/* Identity-maps the first GiB with 2 MiB user pages; a GDT with Linux's 64-bit user selectors. */
static void guest_init(void)
{
	ram = aligned_alloc(4096, RAM_SIZE);
	if (!ram) {
		perror("bench: guest RAM");
		exit(1);
	}
	memset(ram, 0, RAM_SIZE);
	uint64_t *pml4 = (uint64_t *)(ram + GPA_PML4), *pdpt = (uint64_t *)(ram + GPA_PDPT);
	uint64_t *pd = (uint64_t *)(ram + GPA_PD), *gdt = (uint64_t *)(ram + GPA_GDT);
	pml4[0] = GPA_PDPT | 0x27; /* P RW US A */
	pdpt[0] = GPA_PD | 0x27;
	for (uint64_t k = 0; k < 512; k++)
		pd[k] = (k << 21) | 0xe7; /* P RW US A D PS */
	gdt[5] = 0x00cff3000000ffffull; /* 0x2b: user data */
	gdt[6] = 0x00affb000000ffffull; /* 0x33: user code, 64-bit */
}

struct guest_result {
	bool ok;
	double secs;
	uint64_t insns;
	char why[96];
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void run_guest(const struct bench *b, uint64_t iters, struct guest_result *r)
{
	size_t len = (size_t)(b->end - b->start);
	memset(ram + GUEST_CODE, 0, 0x10000);
	memcpy(ram + GUEST_CODE, b->start, len);
	ram[GUEST_CODE + len] = 0xcc; /* the loop's RET lands here */
	data_init(ram + GUEST_DATA);
	uint64_t ret_addr = GUEST_CODE + len, rsp = GUEST_STACK_TOP - 8;
	memcpy(ram + rsp, &ret_addr, 8);

	struct cpu *c = cpu_create(&bus);
	if (!c) {
		snprintf(r->why, sizeof(r->why), "cpu_create failed");
		r->ok = false;
		return;
	}
	static struct cpu_state s;
	cpu_get_state(c, &s);
	memset(s.gpr, 0, sizeof(s.gpr));
	s.gpr[7] = GUEST_DATA; /* RDI */
	s.gpr[6] = iters;      /* RSI */
	s.gpr[4] = rsp;
	s.rip = GUEST_CODE;
	s.rflags = 0x202;
	for (unsigned k = S_ES; k <= S_GS; k++)
		s.seg[k] = (struct cpu_seg){ .sel = 0, .attr = 0, .limit = 0, .base = 0 };
	s.seg[S_CS] = (struct cpu_seg){ .sel = 0x33, .attr = 0xa0fb, .limit = 0xffffffff, .base = 0 };
	s.seg[S_SS] = (struct cpu_seg){ .sel = 0x2b, .attr = 0xc0f3, .limit = 0xffffffff, .base = 0 };
	s.seg[S_TR] = (struct cpu_seg){ .sel = 0, .attr = 0x8b, .limit = 0x67, .base = 0 };
	s.gdtr.base = GPA_GDT;
	s.gdtr.limit = 0x37;
	s.cr0 = 0x80010033;
	s.cr3 = GPA_PML4;
	s.cr4 = 0x620;
	s.efer = 0xd01;
	s.fx.fcw = 0x37f;
	s.fx.mxcsr = 0x1f80;
	cpu_set_state(c, &s);
	cpu_set_exception_exits(c, ~0u);

	uint64_t icount0 = cpu_icount(c);
	double t0 = now();
	enum cpu_exit why;
	do
		why = cpu_run(c, 1ull << 40);
	while (why == CPU_EXIT_BUDGET);
	r->secs = now() - t0;
	r->insns = cpu_icount(c) - icount0;
	cpu_get_state(c, &s);
	uint32_t err;
	int vec = cpu_last_exception(c, &err);
	/* The INT3 at the return address ends the run (#UD there: INT3 is not implemented yet). */
	r->ok = why == CPU_EXIT_EXCEPTION && (vec == 3 || vec == 6) && s.rip == ret_addr;
	if (!r->ok) {
		if (why == CPU_EXIT_EXCEPTION)
			snprintf(r->why, sizeof(r->why), "exception %d (err %#x) at +%#" PRIx64, vec, err,
				 s.rip - GUEST_CODE);
		else
			snprintf(r->why, sizeof(r->why), "exit %d at +%#" PRIx64, (int)why, s.rip - GUEST_CODE);
	}
	cpu_destroy(c);
}

/* Native seconds for iters iterations: repeated until the total is long enough to time. */
static double run_native(const struct bench *b, uint64_t iters, uint8_t *data)
{
	loop_fn *fn = (loop_fn *)(uintptr_t)b->start;
	unsigned reps = 0;
	double t = 0;
	do {
		data_init(data);
		double t0 = now();
		fn(data, iters);
		t += now() - t0;
		reps++;
	} while (t < 0.2);
	return t / reps;
}

static bool selected(const char *name, int argc, char **argv)
{
	bool any = false;
	for (int k = 1; k < argc; k++) {
		if (argv[k][0] == '-' || (argv[k][0] >= '0' && argv[k][0] <= '9') || argv[k][0] == '.')
			continue;
		any = true;
		if (!strcmp(argv[k], name))
			return true;
	}
	return !any;
}

int main(int argc, char **argv)
{
	double scale = argc > 1 ? atof(argv[1]) : 1.0;
	bool native = true;
	if (scale <= 0)
		scale = 1.0;
	for (int k = 1; k < argc; k++)
		if (!strcmp(argv[k], "--guest-only"))
			native = false;
	guest_init();
	uint8_t *data = aligned_alloc(4096, DATA_SIZE);
	if (!data)
		return 1;

	printf("softvm CPU benchmark: 64-bit user-mode loops, guest vs native (scale %g)\n", scale);
	printf("%-8s %14s %10s %12s %12s %10s\n", "loop", "guest insns", "softvm s", "softvm MIPS", "native MIPS",
	       "slowdown");
	for (size_t k = 0; k < sizeof(benches) / sizeof(benches[0]); k++) {
		const struct bench *b = &benches[k];
		if (!selected(b->name, argc, argv))
			continue;
		uint64_t iters = (uint64_t)(b->iters * scale);
		if (!iters)
			iters = 1;
		struct guest_result r;
		run_guest(b, iters, &r);
		if (!r.ok) {
			printf("%-8s %14" PRIu64 "   n/a: %s\n", b->name, r.insns, r.why);
			continue;
		}
		if (!native) {
			printf("%-8s %14" PRIu64 " %10.3f %12.1f\n", b->name, r.insns, r.secs, r.insns / r.secs / 1e6);
			fflush(stdout);
			continue;
		}
		double tn = run_native(b, iters, data);
		printf("%-8s %14" PRIu64 " %10.3f %12.1f %12.1f %9.1fx\n", b->name, r.insns, r.secs,
		       r.insns / r.secs / 1e6, r.insns / tn / 1e6, r.secs / tn);
		fflush(stdout);
	}
	free(data);
	free(ram);
	return 0;
}
