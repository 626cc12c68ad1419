/*
 * Trampoline for running a differential-test snippet on the real processor (see native.c).
 *
 * dt_native_enter(frame) saves the host's callee-saved registers, stack pointer and x87/SSE state,
 * loads the snippet's x87/SSE state (FXRSTOR), RFLAGS and all 16 GPRs from the frame and jumps to
 * the snippet at DT_CODE. The snippet's copy ends with an absolute indirect jump to
 * dt_native_return, which stores the GPRs, RFLAGS and FXSAVE image back into the frame and returns
 * to the host as if dt_native_enter had returned. No snippet register can be trusted on the way
 * back (RSP included), so the way home goes through the globals below.
 *
 * A snippet may load segment registers, and loading FS or GS replaces the base glibc keeps its
 * thread pointer in, so the way back restores the host's selectors and FS/GS bases (set up by
 * native.c) before any C code runs; the signal handler calls dt_native_restore_segs first too.
 *
 * Frame layout (struct dt_native_frame in native.c): fx[512] at 0, gpr[16] at 512, rflags at 640.
 */
	.intel_syntax noprefix

	.set FRAME_GPR, 512
	.set FRAME_RFLAGS, 640
	.set DT_CODE, 0x20000000

	.bss
	.balign 16
	.globl dt_native_host_fx
dt_native_host_fx:
	.space 512
dt_native_host_rsp:
	.space 8
dt_native_frame_ptr:
	.space 8
dt_native_scratch:
	.space 8
	.globl dt_native_host_sel, dt_native_host_fsbase, dt_native_host_gsbase, dt_native_seg_loads
dt_native_seg_loads: /* nonzero when the snippet may load a segment register */
	.space 8
dt_native_host_sel: /* DS, ES, FS, GS */
	.space 8
dt_native_host_fsbase:
	.space 8
dt_native_host_gsbase:
	.space 8

	.section .rodata
	.balign 8
dt_native_entry:
	.quad DT_CODE

	.text
	.globl dt_native_enter
	.type dt_native_enter, @function
dt_native_enter:
	push rbx
	push rbp
	push r12
	push r13
	push r14
	push r15
	sub rsp, 8
	mov [rip + dt_native_host_rsp], rsp
	mov [rip + dt_native_frame_ptr], rdi
	fxsave [rip + dt_native_host_fx]
	fxrstor [rdi]
	push qword ptr [rdi + FRAME_RFLAGS]
	popfq
	/* From here on only MOVs: they leave the flags alone. RDI (the frame) goes last. */
	mov rax, [rdi + FRAME_GPR + 0 * 8]
	mov rcx, [rdi + FRAME_GPR + 1 * 8]
	mov rdx, [rdi + FRAME_GPR + 2 * 8]
	mov rbx, [rdi + FRAME_GPR + 3 * 8]
	mov rsp, [rdi + FRAME_GPR + 4 * 8]
	mov rbp, [rdi + FRAME_GPR + 5 * 8]
	mov rsi, [rdi + FRAME_GPR + 6 * 8]
	mov r8, [rdi + FRAME_GPR + 8 * 8]
	mov r9, [rdi + FRAME_GPR + 9 * 8]
	mov r10, [rdi + FRAME_GPR + 10 * 8]
	mov r11, [rdi + FRAME_GPR + 11 * 8]
	mov r12, [rdi + FRAME_GPR + 12 * 8]
	mov r13, [rdi + FRAME_GPR + 13 * 8]
	mov r14, [rdi + FRAME_GPR + 14 * 8]
	mov r15, [rdi + FRAME_GPR + 15 * 8]
	mov rdi, [rdi + FRAME_GPR + 7 * 8]
	jmp qword ptr [rip + dt_native_entry]
	.size dt_native_enter, . - dt_native_enter

	.globl dt_native_return
	.type dt_native_return, @function
dt_native_return:
	mov [rip + dt_native_scratch], rax
	mov rax, [rip + dt_native_frame_ptr]
	mov [rax + FRAME_GPR + 1 * 8], rcx
	mov [rax + FRAME_GPR + 2 * 8], rdx
	mov [rax + FRAME_GPR + 3 * 8], rbx
	mov [rax + FRAME_GPR + 4 * 8], rsp
	mov [rax + FRAME_GPR + 5 * 8], rbp
	mov [rax + FRAME_GPR + 6 * 8], rsi
	mov [rax + FRAME_GPR + 7 * 8], rdi
	mov [rax + FRAME_GPR + 8 * 8], r8
	mov [rax + FRAME_GPR + 9 * 8], r9
	mov [rax + FRAME_GPR + 10 * 8], r10
	mov [rax + FRAME_GPR + 11 * 8], r11
	mov [rax + FRAME_GPR + 12 * 8], r12
	mov [rax + FRAME_GPR + 13 * 8], r13
	mov [rax + FRAME_GPR + 14 * 8], r14
	mov [rax + FRAME_GPR + 15 * 8], r15
	mov rcx, [rip + dt_native_scratch]
	mov [rax + FRAME_GPR + 0 * 8], rcx
	mov rsp, [rip + dt_native_host_rsp]
	pushfq
	pop rcx
	mov [rax + FRAME_RFLAGS], rcx
	fxsave [rax]
	fxrstor [rip + dt_native_host_fx]
	cld
	cmp byte ptr [rip + dt_native_seg_loads], 0
	je 1f
	call dt_native_restore_segs
1:
	add rsp, 8
	pop r15
	pop r14
	pop r13
	pop r12
	pop rbp
	pop rbx
	ret
	.size dt_native_return, . - dt_native_return

	/* Clobbers RAX, RCX, RDX, RSI, RDI, R11. */
	.globl dt_native_restore_segs
	.type dt_native_restore_segs, @function
dt_native_restore_segs:
	mov ax, [rip + dt_native_host_sel + 0]
	mov ds, ax
	mov ax, [rip + dt_native_host_sel + 2]
	mov es, ax
	mov ax, [rip + dt_native_host_sel + 4]
	mov fs, ax
	mov ax, [rip + dt_native_host_sel + 6]
	mov gs, ax
	mov eax, 158 /* arch_prctl(ARCH_SET_FS, base) */
	mov edi, 0x1002
	mov rsi, [rip + dt_native_host_fsbase]
	syscall
	mov eax, 158 /* arch_prctl(ARCH_SET_GS, base) */
	mov edi, 0x1001
	mov rsi, [rip + dt_native_host_gsbase]
	syscall
	ret
	.size dt_native_restore_segs, . - dt_native_restore_segs

	.section .note.GNU-stack, "", @progbits
