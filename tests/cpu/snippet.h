/*
 * Differential-test snippets, written in assembly (GNU as, Intel syntax) and run both natively
 * and in softvm from the same random registers, flags and data (see harness.h).
 *
 *   #include "snippet.h"
 *   SNIPPET add_rr, F_ALL
 *       add rax, rbx
 *   END_SNIPPET add_rr
 *
 * The second argument is the mask of RFLAGS bits to compare (leave out the flags the SDM calls
 * undefined for that instruction). A snippet may use any GPR and the stack; RSP points into the
 * data area. The harness copies the snippet's bytes to DT_CODE in both runs (so no RIP-relative
 * references to other sections) and runs them to their end. DT_DATA (0x10000000) is DT_DATA_SIZE bytes of random data at the same address in
 * both runs: load pointers into it yourself (mov rbx, DT_DATA + 123). Each test binary
 * tests/cpu/diff_X.c is linked with tests/cpu/diff_X.S when that file exists.
 */
#ifndef SOFTVM_SNIPPET_H
#define SOFTVM_SNIPPET_H

#define DT_DATA 0x10000000
#define DT_DATA_SIZE 0x3000 /* three pages: page-crossing operands at DT_DATA + 0xffc etc. */
#define DT_CODE 0x20000000

#define F_CF 0x001
#define F_PF 0x004
#define F_AF 0x010
#define F_ZF 0x040
#define F_SF 0x080
#define F_OF 0x800
#define F_DF 0x400
#define F_ALL 0x8d5 /* CF PF AF ZF SF OF */

#ifdef __ASSEMBLER__
.intel_syntax noprefix
/* Snippets are data to the harness: the test binary needs no executable stack. */
.pushsection .note.GNU-stack, "", @progbits
.popsection

.macro SNIPPET name, flags, opts=0
	.pushsection .rodata.snippet_names, "a"
	.Lname_\name: .asciz "\name"
	.popsection
	.pushsection snippets, "aw"
	.balign 8
	.quad .Lname_\name, .Lstart_\name, .Lend_\name, \flags, \opts
	.popsection
	.pushsection .text.snippet, "ax"
	.balign 16
	.Lstart_\name:
.endm

.macro END_SNIPPET name
	.Lend_\name:
	.popsection
.endm
#endif
#endif
