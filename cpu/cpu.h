/*
 * softvm's x86-64 processor: the public interface.
 *
 * The CPU is a library. Its user (the machine, a test, a benchmark) creates a CPU, attaches a bus
 * (guest-physical memory and port I/O callbacks plus an interrupt-acknowledge hook), sets or reads
 * the architectural state and runs it for a number of instructions or until an event. The CPU never
 * sees a device: it sees RAM as host pointers handed out by the bus, everything else as callbacks.
 */
#ifndef SOFTVM_CPU_H
#define SOFTVM_CPU_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct cpu;

/* General-purpose register numbers, in encoding order. */
enum {
	R_RAX, R_RCX, R_RDX, R_RBX, R_RSP, R_RBP, R_RSI, R_RDI,
	R_R8, R_R9, R_R10, R_R11, R_R12, R_R13, R_R14, R_R15,
};

/* Segment registers in encoding order, then the system segments. */
enum { S_ES, S_CS, S_SS, S_DS, S_FS, S_GS, S_LDTR, S_TR, S_COUNT };

/*
 * A segment register with its hidden part. attr holds descriptor bits 40..47 in bits 0..7
 * (type, S, DPL, P) and bits 52..55 in bits 12..15 (AVL, L, D/B, G), as in VMX access rights.
 * limit is the byte-granular limit (G already applied).
 */
struct cpu_seg {
	uint16_t sel;
	uint16_t attr;
	uint32_t limit;
	uint64_t base;
};

#define SEG_ATTR_TYPE 0x000f
#define SEG_ATTR_S 0x0010
#define SEG_ATTR_DPL_SHIFT 5
#define SEG_ATTR_DPL 0x0060
#define SEG_ATTR_P 0x0080
#define SEG_ATTR_AVL 0x1000
#define SEG_ATTR_L 0x2000
#define SEG_ATTR_DB 0x4000
#define SEG_ATTR_G 0x8000

struct cpu_dtable {
	uint64_t base;
	uint16_t limit;
};

/* Layout of the FXSAVE area (SDM vol. 1 §10.5.1): also how x87/SSE state is read and written. */
struct cpu_fxstate {
	uint16_t fcw, fsw;
	uint8_t ftw; /* abridged tag: bit set = register valid */
	uint8_t rsvd1;
	uint16_t fop;
	uint64_t fip, fdp; /* 64-bit format */
	uint32_t mxcsr, mxcsr_mask;
	uint8_t st[8][16]; /* ST(i) in 80-bit format, padded to 16 bytes */
	uint8_t xmm[16][16];
	uint8_t rsvd2[96];
} __attribute__((aligned(16)));

/* The architectural state a user can read and write as a whole. */
struct cpu_state {
	uint64_t gpr[16];
	uint64_t rip;
	uint64_t rflags;
	struct cpu_seg seg[S_COUNT];
	struct cpu_dtable gdtr, idtr;
	uint64_t cr0, cr2, cr3, cr4, cr8;
	uint64_t dr[8];
	uint64_t efer;
	uint64_t star, lstar, cstar, sfmask, kernel_gs_base;
	uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
	uint64_t tsc;      /* time-stamp counter when read; loading the state sets it */
	uint64_t tsc_aux, pat, apic_base, misc_enable;
	uint64_t mtrr_def_type, mtrr_fixed[11], mtrr_var[16]; /* var: base/mask pairs */
	struct cpu_fxstate fx;
};

/* Why cpu_run() returned. */
enum cpu_exit {
	CPU_EXIT_BUDGET,       /* executed the requested number of instructions */
	CPU_EXIT_HLT,          /* HLT with interrupts that cannot wake it, or waiting for one */
	CPU_EXIT_STOP,         /* cpu_request_stop() was called */
	CPU_EXIT_TRIPLE_FAULT, /* shutdown: the machine decides whether to reset */
	CPU_EXIT_EXCEPTION,    /* an exception in the intercept mask was raised (not delivered) */
};

/*
 * The bus the CPU runs on. ram_ptr returns a host pointer to the 4 KiB guest-physical page that
 * contains gpa, or NULL when the page is not RAM (then mmio_read/mmio_write are used). The
 * pointer must stay valid for the CPU's lifetime or until cpu_flush_tlb() is called; write is true
 * when the CPU wants to write (a ROM page returns NULL for write and is then handled by mmio_write).
 */
struct cpu_bus {
	void *opaque;
	uint8_t *(*ram_ptr)(void *opaque, uint64_t gpa, bool write);
	uint64_t (*mmio_read)(void *opaque, uint64_t gpa, unsigned size);
	void (*mmio_write)(void *opaque, uint64_t gpa, unsigned size, uint64_t val);
	uint32_t (*io_in)(void *opaque, uint16_t port, unsigned size);
	void (*io_out)(void *opaque, uint16_t port, unsigned size, uint32_t val);
	/* INTR acknowledge: returns the vector of the highest pending interrupt, or -1 if none. */
	int (*intr_ack)(void *opaque);
	/* MSRs the CPU does not own (x2APIC range, say). Return false to raise #GP. May be NULL. */
	bool (*msr_read)(void *opaque, uint32_t msr, uint64_t *val);
	bool (*msr_write)(void *opaque, uint32_t msr, uint64_t val);
};

struct cpu *cpu_create(const struct cpu_bus *bus);
void cpu_destroy(struct cpu *c);

/* Power-on / INIT state (SDM vol. 3 §9.1.1): real mode at F000:FFF0. */
void cpu_reset(struct cpu *c);

void cpu_get_state(struct cpu *c, struct cpu_state *s);
/* Setting the state also drops cached translations and decoded code, so memory may be loaded
 * freely before it. */
void cpu_set_state(struct cpu *c, const struct cpu_state *s);

/* Runs until max_insns instructions have executed or an event ends the run. */
enum cpu_exit cpu_run(struct cpu *c, uint64_t max_insns);

/* Executes exactly one instruction, decoded afresh (no code cache). */
enum cpu_exit cpu_step(struct cpu *c);

/* Writes one trace line for the instruction at the current RIP (stable format, see trace.c). */
void cpu_trace_line(struct cpu *c, FILE *f);
/* When set, cpu_run() executes one instruction at a time and writes a trace line before each. */
void cpu_set_trace(struct cpu *c, FILE *f);

/*
 * Exceptions whose vector bit is set in mask are not delivered through the IDT: cpu_run() stops
 * with CPU_EXIT_EXCEPTION and RIP at the faulting instruction (at the INT3/INTO/INT n itself for
 * those). For debuggers and tests. cpu_last_exception() returns the vector and error code.
 */
void cpu_set_exception_exits(struct cpu *c, uint32_t mask);
int cpu_last_exception(struct cpu *c, uint32_t *err);

/* Interrupt lines. INTR is level-triggered: the CPU calls bus->intr_ack when it can take it. */
void cpu_set_intr(struct cpu *c, bool level);
void cpu_nmi(struct cpu *c);
/* From any thread: makes cpu_run() return CPU_EXIT_STOP at the next block boundary. */
void cpu_request_stop(struct cpu *c);

/* True while the CPU sits in HLT (it leaves HLT when an interrupt is taken). */
bool cpu_halted(struct cpu *c);
/* True when an interrupt or NMI is pending that the CPU would take now: a halted CPU must then
 * run again rather than the machine sleeping. */
bool cpu_can_wake(struct cpu *c);

/* Guest-physical memory was written behind the CPU's back (DMA): drop cached code there. */
void cpu_notify_phys_write(struct cpu *c, uint64_t gpa, uint64_t len);
/* The bus mapping changed: drop every cached translation. */
void cpu_flush_tlb(struct cpu *c);

/* The guest's time-stamp counter now, and its fixed frequency (it follows the host clock). */
uint64_t cpu_read_tsc(struct cpu *c);
uint64_t cpu_tsc_hz(void);

/* Instructions executed since creation. */
uint64_t cpu_icount(struct cpu *c);

/* Reads guest-virtual memory as the CPU would at CPL 0 (for debuggers and tests). 0 or -1. */
int cpu_read_virt(struct cpu *c, uint64_t va, void *buf, unsigned len);

#endif
