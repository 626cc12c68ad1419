/* End-to-end check of the differential-test harness with instructions that land first. */
#include "snippet.h"

SNIPPET smoke_mov, 0
	mov rax, rbx
	mov ecx, edx
	mov r8w, r9w
	mov r10b, r11b
	mov ah, bl
	mov rsi, 0x123456789abcdef0
	mov edi, -1
END_SNIPPET smoke_mov

SNIPPET smoke_mov_mem, 0
	mov rbx, DT_DATA + 0x100
	mov rax, [rbx]
	mov ecx, [rbx + 8]
	mov [rbx + 16], rdx
	mov word ptr [rbx + 24], si
	mov byte ptr [rbx + 0x1ff], 0x5a
	mov qword ptr [rbx + 0xefc], -2 /* crosses into the second page */
END_SNIPPET smoke_mov_mem

SNIPPET smoke_add, F_ALL
	add rax, rbx
END_SNIPPET smoke_add

SNIPPET smoke_add32, F_ALL
	add ecx, edx
END_SNIPPET smoke_add32

SNIPPET smoke_add8_mem, F_ALL
	mov rdi, DT_DATA + 0x40
	add [rdi], sil
END_SNIPPET smoke_add8_mem

SNIPPET smoke_loop, F_ALL
	mov ecx, 37
	xor eax, eax
	mov rax, 0
1:	add rax, rcx
	add rcx, -1
	jnz 1b
END_SNIPPET smoke_loop

SNIPPET smoke_jcc, 0
	xor esi, esi
	add rax, rbx
	jo 1f
	add rsi, 1
1:	add rcx, rdx
	jc 2f
	add rsi, 2
2:	add r8d, r9d
	js 3f
	add rsi, 4
3:	add r10w, r11w
	jle 4f
	add rsi, 8
4:	add r12b, r13b
	jp 5f
	add rsi, 16
5:
END_SNIPPET smoke_jcc

SNIPPET smoke_push_pop, 0
	push rax
	push rbx
	push 0x1234
	pop rcx
	pop rdx
	pop r15
	push qword ptr [rsp - 8]
	pop r14
END_SNIPPET smoke_push_pop

SNIPPET smoke_ud, 0
	add rax, rbx
	ud2
END_SNIPPET smoke_ud

SNIPPET smoke_pf, 0
	mov rbx, DT_DATA + DT_DATA_SIZE - 4
	mov rax, [rbx]
END_SNIPPET smoke_pf
