/*
 * Differential tests, the real-processor side: runs a snippet natively at DT_CODE with the
 * registers, flags, x87/SSE state and data of a dt_state, and records what it left behind.
 *
 * The code and data live at the same fixed addresses softvm uses (DT_CODE, DT_DATA), each with a
 * PROT_NONE guard page on both sides, so a snippet that strays just past its data faults with #PF
 * here as in softvm. The snippet runs through the trampoline in native.S. Exceptions arrive as
 * signals: the handler (on its own stack, as the snippet may have trashed RSP) records the register
 * state from the ucontext and the x86 vector from the kernel's trap number, and siglongjmps home.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>
#include <asm/prctl.h>

#include "harness.h"

#define PAGE 4096ul
#define NATIVE_CODE_MAX (256 * 1024ul) /* room for the longest snippet plus its trailer */
#define RFLAGS_USER (F_ALL | F_DF)    /* never TF or AC: they would trap or fault on their own */

struct dt_native_frame {
	struct cpu_fxstate fx; /* offset 0: FXRSTOR/FXSAVE image */
	uint64_t gpr[16];      /* offset 512 */
	uint64_t rflags;       /* offset 640 */
};

_Static_assert(__builtin_offsetof(struct dt_native_frame, gpr) == 512, "native.S frame layout");
_Static_assert(__builtin_offsetof(struct dt_native_frame, rflags) == 640, "native.S frame layout");

void dt_native_enter(struct dt_native_frame *f);
extern const char dt_native_return[];
extern uint8_t dt_native_host_fx[512];
extern uint16_t dt_native_host_sel[4];
extern uint64_t dt_native_host_fsbase, dt_native_host_gsbase;
extern uint8_t dt_native_seg_loads;
void dt_native_restore_segs(void);

static struct dt_native_frame frame;
static sigjmp_buf native_jmp;
static volatile sig_atomic_t native_active;
static volatile sig_atomic_t native_signal;
static volatile unsigned long native_seq; /* counts native runs, for the watchdog */
static pthread_t native_thread;
static struct dt_state *native_st;
static const uint8_t *loaded_code;
static size_t loaded_len;

static void die(const char *what)
{
	perror(what);
	exit(2);
}

/* Maps [base - PAGE, base + size + PAGE) inaccessible and the middle with prot. */
static void map_fixed(uintptr_t base, size_t size, int prot)
{
	void *p = mmap((void *)(base - PAGE), size + 2 * PAGE, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED || p != (void *)(base - PAGE)) {
		fprintf(stderr, "native: cannot map %#lx (address in use?)\n", (unsigned long)base);
		exit(2);
	}
	if (prot != PROT_NONE && mprotect((void *)base, size, prot))
		die("native: mprotect");
}

/* x86 vector for a signal the snippet raised: Linux stores the trap number in the ucontext. */
static int signal_vector(int sig, const siginfo_t *si, long trapno)
{
	if (sig == SIGALRM) /* the watchdog: the snippet did not finish */
		return DT_EXC_BUDGET;
	if (si->si_code <= 0 || sig == SIGSYS) /* sent by a process, or a system call (see below) */
		return DT_EXC_OTHER;
	if (trapno >= 0 && trapno < 32)
		return (int)trapno;
	switch (sig) {
	case SIGILL: return 6;
	case SIGTRAP: return 3;
	default: return DT_EXC_OTHER;
	}
}

static bool vector_has_err(int vec)
{
	return vec == 8 || (vec >= 10 && vec <= 14) || vec == 17;
}

/* No stack protector: its canary lives behind FS, which the snippet may have replaced. */
__attribute__((no_stack_protector))
static void on_signal(int sig, siginfo_t *si, void *ucv)
{
	if (!native_active) {
		if (sig == SIGALRM) /* the watchdog, just after the snippet ended */
			return;
		/* A crash in the harness itself: let it happen the default way. */
		signal(sig, SIG_DFL);
		return;
	}
	dt_native_restore_segs();
	native_active = 0;
	native_signal = sig;
	ucontext_t *uc = ucv;
	const greg_t *g = uc->uc_mcontext.gregs;
	struct dt_state *st = native_st;
	static const int map[16] = {
		REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
		REG_R8, REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15,
	};
	for (int r = 0; r < 16; r++)
		st->gpr[r] = (uint64_t)g[map[r]];
	st->rflags = (uint64_t)g[REG_EFL];
	st->rip = (uint64_t)g[REG_RIP];
	st->exc = signal_vector(sig, si, g[REG_TRAPNO]);
	st->err = vector_has_err(st->exc) ? (uint32_t)g[REG_ERR] : 0;
	st->fault_addr = st->exc == 14 ? (uint64_t)(uintptr_t)si->si_addr : 0;
	if (uc->uc_mcontext.fpregs)
		memcpy(&st->fx, uc->uc_mcontext.fpregs, 512);
	siglongjmp(native_jmp, 1);
}

/*
 * A snippet's SYSCALL (or INT 0x80) would make a real system call with random registers: read
 * from stdin, exit, kill. A seccomp filter turns every system call made from the snippet's code
 * into SIGSYS, which ends the run like an exception (DT_EXC_OTHER).
 */
static void block_snippet_syscalls(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer) + 4),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 4),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer)),
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, DT_CODE, 0, 2),
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, DT_CODE + NATIVE_CODE_MAX + PAGE, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
		perror("native: seccomp (snippets could make real system calls)");
}

/* A snippet that never ends natively (a loop without exit) would hang the test: a thread checks
 * every second that runs progress and interrupts one that has been running for 2 to 3 seconds. */
static void *watchdog(void *arg)
{
	unsigned long last = ~0ul;
	for (;;) {
		sleep(1);
		unsigned long seq = native_seq;
		if (native_active && seq == last) {
			pthread_kill(native_thread, SIGALRM);
			sleep(1);
		}
		last = seq;
	}
	return NULL;
}

static void native_setup(void)
{
	static bool done;
	if (done)
		return;
	done = true;
	__asm__ volatile("mov %%ds, %0" : "=m"(dt_native_host_sel[0]));
	__asm__ volatile("mov %%es, %0" : "=m"(dt_native_host_sel[1]));
	__asm__ volatile("mov %%fs, %0" : "=m"(dt_native_host_sel[2]));
	__asm__ volatile("mov %%gs, %0" : "=m"(dt_native_host_sel[3]));
	if (syscall(SYS_arch_prctl, ARCH_GET_FS, &dt_native_host_fsbase) ||
	    syscall(SYS_arch_prctl, ARCH_GET_GS, &dt_native_host_gsbase))
		die("native: arch_prctl");
	map_fixed(DT_DATA, DT_DATA_SIZE, PROT_READ | PROT_WRITE);
	map_fixed(DT_CODE, NATIVE_CODE_MAX, PROT_NONE);
	block_snippet_syscalls();

	static stack_t ss;
	ss.ss_size = 256 * 1024;
	ss.ss_sp = malloc(ss.ss_size);
	if (!ss.ss_sp || sigaltstack(&ss, NULL))
		die("native: sigaltstack");
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	static const int sigs[] = { SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGTRAP, SIGSYS, SIGALRM };
	for (size_t k = 0; k < sizeof(sigs) / sizeof(sigs[0]); k++)
		if (sigaction(sigs[k], &sa, NULL))
			die("native: sigaction");
	native_thread = pthread_self();
	pthread_t t;
	if (pthread_create(&t, NULL, watchdog, NULL))
		die("native: watchdog thread");
	pthread_detach(t);
}

/* Copies the snippet to DT_CODE, followed by `jmp [rip+0]; .quad dt_native_return`. Pages past
 * the copy stay inaccessible, code pages become read-only (softvm maps them that way too). */
static void load_code(const uint8_t *code, size_t len)
{
	if (code == loaded_code && len == loaded_len)
		return;
	size_t need = (len + 14 + PAGE - 1) & ~(PAGE - 1);
	if (need > NATIVE_CODE_MAX) {
		fprintf(stderr, "native: snippet of %zu bytes is too long\n", len);
		exit(2);
	}
	uint8_t *dst = (uint8_t *)DT_CODE;
	if (mprotect(dst, NATIVE_CODE_MAX, PROT_NONE) || mprotect(dst, need, PROT_READ | PROT_WRITE))
		die("native: mprotect code");
	memset(dst, 0, need);
	memcpy(dst, code, len);
	static const uint8_t jmp_abs[6] = { 0xff, 0x25, 0, 0, 0, 0 };
	memcpy(dst + len, jmp_abs, sizeof(jmp_abs));
	uint64_t ret = (uint64_t)(uintptr_t)dt_native_return;
	memcpy(dst + len + 6, &ret, 8);
	/* FS/GS change only through MOV Sreg (8E), POP FS/GS (0F A1/A9) or LFS/LGS (0F B4/B5); restoring
	 * them costs system calls, so only snippets containing such bytes anywhere pay for it. */
	dt_native_seg_loads = 0;
	for (size_t k = 0; k < len; k++)
		if (code[k] == 0x8e || code[k] == 0xa1 || code[k] == 0xa9 || code[k] == 0xb4 || code[k] == 0xb5)
			dt_native_seg_loads = 1;
	if (mprotect(dst, need, PROT_READ | PROT_EXEC))
		die("native: mprotect code");
	loaded_code = code;
	loaded_len = len;
}

void dt_run_native(const uint8_t *code, size_t len, struct dt_state *st)
{
	native_setup();
	load_code(code, len);
	memcpy((void *)DT_DATA, st->data, DT_DATA_SIZE);
	frame.fx = st->fx;
	frame.fx.mxcsr &= 0xffff; /* reserved MXCSR bits would make FXRSTOR fault */
	memcpy(frame.gpr, st->gpr, sizeof(frame.gpr));
	frame.rflags = (st->rflags & RFLAGS_USER) | 0x202;
	native_st = st;

	/* The signal mask is not saved (that is a system call per run): the exception path unblocks
	 * the signal that brought it there. */
	if (sigsetjmp(native_jmp, 0) == 0) {
		native_seq++;
		native_active = 1;
		dt_native_enter(&frame);
		native_active = 0;
		memcpy(st->gpr, frame.gpr, sizeof(st->gpr));
		st->rflags = frame.rflags;
		st->fx = frame.fx;
		st->exc = DT_EXC_NONE;
		st->err = 0;
		st->rip = DT_CODE + len;
		st->fault_addr = 0;
	} else {
		/* The signal handler ran with a fresh x87/SSE state: give the host its own back. */
		__asm__ volatile("fxrstor %0" : : "m"(*(const uint8_t(*)[512])dt_native_host_fx));
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, native_signal);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
	}
	memcpy(st->data, (const void *)DT_DATA, DT_DATA_SIZE);
}
