/*
 * A bare-metal Multiboot v1 test kernel for softvm (built by tests/boot/test_multiboot.c with
 * `as --32` and `ld -m elf_i386 -T mb_kernel.ld`; with --defsym AOUT=1 and --oformat binary it
 * becomes a flat image described by the a.out kludge header fields).
 *
 * It checks what the loader and the machine hand it and reports on COM1, then leaves through
 * QEMU's isa-debug-exit port (0xf4): 0x21 when every check passed (softvm exits with status
 * (0x21 << 1) | 1 = 67), otherwise the number of the first failed check.
 *
 * Expected setup (see the test): 32 MiB of RAM, two modules: the first holds "MODULE-ONE\n"
 * (11 bytes), the second starts with "MODULE-TWO" and is 5000 bytes long.
 *
 * Checks: 1 EAX magic; 2 info flags; 3 mem_lower; 4 mem_upper against fw_cfg's RAM size;
 * 5 boot loader name; 6 mods_count; 7-9 module 0; 10-13 module 1; 14 memory map;
 * 15 fw_cfg signature; 16 fw_cfg ID; 17-18 fw_cfg "etc/e820"; 19-20 fw_cfg DMA; 22 segments.
 */
	.set MB_MAGIC, 0x1BADB002
.ifdef AOUT
	.set MB_FLAGS, 0x00010003 /* page-aligned modules, memory info, address fields */
.else
	.set MB_FLAGS, 0x00000003
.endif
	.set COM1, 0x3f8
	.set EXIT_PORT, 0xf4
	.set FW_CFG_SEL, 0x510
	.set FW_CFG_DATA, 0x511
	.set FW_CFG_DMA, 0x514
	.set PASS_CODE, 0x21

	/* After a cmp: continue when equal, otherwise fail with check number n. */
	.macro EXPECT_EQ n
	je 9f
	mov $\n, %eax
	jmp fail
9:
	.endm

	.code32
	.text
	.globl _start
_start:
	jmp entry

	.p2align 2
mb_header:
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)
.ifdef AOUT
	.long mb_header /* header_addr */
	.long _start    /* load_addr */
	.long load_end  /* load_end_addr */
	.long bss_end   /* bss_end_addr */
	.long entry     /* entry_addr */
.endif

entry:
	mov $stack_top, %esp
	mov %ebx, info
	cmp $0x2BADB002, %eax
	EXPECT_EQ 1
	/* the spec's entry state: interrupts off, flat 4 GiB segments */
	pushf
	pop %eax
	and $0x200, %eax
	cmp $0, %eax
	EXPECT_EQ 22
	mov %ds, %ax
	lsl %ax, %ecx
	cmp $0xffffffff, %ecx
	EXPECT_EQ 22
	mov %cs, %ax
	lsl %ax, %ecx
	cmp $0xffffffff, %ecx
	EXPECT_EQ 22

	mov $msg_hello, %esi
	call puts

	mov info, %ebx
	mov 0(%ebx), %eax
	and $0x24d, %eax /* memory, cmdline, mods, mmap, boot loader name */
	cmp $0x24d, %eax
	EXPECT_EQ 2

	mov $msg_cmdline, %esi
	call puts
	mov 16(%ebx), %esi
	call puts
	call newline

	cmpl $639, 4(%ebx)
	EXPECT_EQ 3

	/* mem_upper * 1 KiB + 1 MiB must be fw_cfg's RAM size (below 3 GiB) */
	mov $3, %ax
	call fw_select
	call fw_read32_le
	mov %eax, %ecx
	call fw_read32_le
	cmp $0, %eax
	EXPECT_EQ 4
	mov 8(%ebx), %eax
	shl $10, %eax
	add $0x100000, %eax
	cmp %ecx, %eax
	EXPECT_EQ 4

	mov 64(%ebx), %esi
	mov $str_softvm, %edi
	call streq
	EXPECT_EQ 5

	cmpl $2, 20(%ebx)
	EXPECT_EQ 6
	mov 24(%ebx), %ebp /* mods_addr */

	/* module 0: page-aligned, 11 bytes, "MODULE-ONE" */
	mov 0(%ebp), %eax
	test $0xfff, %eax
	EXPECT_EQ 7
	mov 4(%ebp), %ecx
	sub %eax, %ecx
	cmp $11, %ecx
	EXPECT_EQ 8
	mov %eax, %esi
	mov $str_mod1, %edi
	call startswith
	EXPECT_EQ 9
	mov $msg_mod, %esi
	call puts
	mov 8(%ebp), %esi
	call puts
	call newline

	/* module 1: page-aligned above module 0, 5000 bytes, "MODULE-TWO" */
	mov 16(%ebp), %eax
	test $0xfff, %eax
	EXPECT_EQ 10
	cmp 4(%ebp), %eax
	setae %cl
	cmp $1, %cl
	EXPECT_EQ 11
	mov 20(%ebp), %ecx
	sub %eax, %ecx
	cmp $5000, %ecx
	EXPECT_EQ 12
	mov %eax, %esi
	mov $str_mod2, %edi
	call startswith
	EXPECT_EQ 13
	mov $msg_mod, %esi
	call puts
	mov 24(%ebp), %esi
	call puts
	call newline

	/* memory map: an available range at 1 MiB as long as mem_upper says */
	mov 44(%ebx), %ecx
	mov 48(%ebx), %esi
	lea (%esi,%ecx), %edi
	xor %edx, %edx
2:	cmp %edi, %esi
	jae 4f
	cmpl $0x100000, 4(%esi)
	jne 3f
	cmpl $0, 8(%esi)
	jne 3f
	cmpl $1, 20(%esi)
	jne 3f
	cmpl $0, 16(%esi)
	jne 3f
	mov 12(%esi), %eax
	shr $10, %eax
	cmp 8(%ebx), %eax
	jne 3f
	mov $1, %edx
3:	add (%esi), %esi
	add $4, %esi
	jmp 2b
4:	cmp $1, %edx
	EXPECT_EQ 14

	/* fw_cfg: signature through the data port, ID with the DMA bit */
	mov $0, %ax
	call fw_select
	call fw_read32_le
	cmp $0x554d4551, %eax /* "QEMU" */
	EXPECT_EQ 15
	mov $1, %ax
	call fw_select
	call fw_read32_le
	cmp $3, %eax
	EXPECT_EQ 16

	/* fw_cfg file directory: find etc/e820, its first entry is RAM at 0 */
	mov $0x19, %ax
	call fw_select
	call fw_read32_le
	bswap %eax
	mov %eax, %ebp /* file count */
	xor %esi, %esi /* key of etc/e820 */
5:	test %ebp, %ebp
	jz 7f
	dec %ebp
	call fw_read32_le /* size (be) */
	call fw_read32_le /* select (be16), reserved */
	xchg %al, %ah
	movzwl %ax, %ecx
	mov $namebuf, %edi
	mov $56, %edx
6:	push %edx
	call fw_read8
	pop %edx
	mov %al, (%edi)
	inc %edi
	dec %edx
	jnz 6b
	push %esi
	mov $namebuf, %esi
	mov $str_e820, %edi
	call streq
	pop %esi
	jne 5b
	mov %ecx, %esi
	jmp 5b
7:	test %esi, %esi
	setnz %al
	cmp $1, %al
	EXPECT_EQ 17
	mov %si, %ax
	call fw_select
	call fw_read32_le /* base low */
	mov %eax, %ecx
	call fw_read32_le /* base high */
	or %eax, %ecx
	call fw_read32_le /* length low */
	mov %eax, %edx
	call fw_read32_le /* length high */
	call fw_read32_le /* type */
	cmp $0, %ecx
	EXPECT_EQ 18
	cmp $0x9fc00, %edx
	EXPECT_EQ 18
	cmp $1, %eax
	EXPECT_EQ 18

	/* fw_cfg DMA: the register reads "QEMU CFG"; select + read the signature into dmabuf */
	mov $FW_CFG_DMA, %dx
	in %dx, %eax
	cmp $0x554d4551, %eax
	EXPECT_EQ 19
	movl $0x0a000000, dmadesc     /* be32 control: key 0 << 16 | SELECT | READ */
	movl $0x04000000, dmadesc+4   /* be32 length 4 */
	movl $0, dmadesc+8            /* be64 address */
	mov $dmabuf, %eax
	bswap %eax
	mov %eax, dmadesc+12
	mov $FW_CFG_DMA, %dx
	xor %eax, %eax
	out %eax, %dx
	mov $dmadesc, %eax
	bswap %eax
	add $4, %dx
	out %eax, %dx
	cmpl $0, dmadesc
	EXPECT_EQ 20
	cmpl $0x554d4551, dmabuf
	EXPECT_EQ 20

	mov $msg_ok, %esi
	call puts
	mov $PASS_CODE, %al
	mov $EXIT_PORT, %dx
	out %al, %dx
	jmp halt

/* eax = number of the failed check */
fail:
	mov %eax, %ebx
	mov $msg_fail, %esi
	call puts
	mov %bl, %al
	shr $4, %al
	call puthex
	mov %bl, %al
	call puthex
	call newline
	mov %bl, %al
	mov $EXIT_PORT, %dx
	out %al, %dx
halt:
	cli
	hlt
	jmp halt

/* al = byte for COM1 (waits for an empty transmitter) */
putc:
	push %edx
	push %eax
	mov $COM1+5, %dx
1:	in %dx, %al
	test $0x20, %al
	jz 1b
	pop %eax
	mov $COM1, %dx
	out %al, %dx
	pop %edx
	ret

newline:
	mov $'\n', %al
	jmp putc

/* low nibble of al as a hex digit */
puthex:
	and $0xf, %al
	add $'0', %al
	cmp $'9', %al
	jbe putc
	add $'a'-'9'-1, %al
	jmp putc

/* esi = NUL-terminated string */
puts:
	push %esi
1:	mov (%esi), %al
	test %al, %al
	jz 2f
	call putc
	inc %esi
	jmp 1b
2:	pop %esi
	ret

/* ZF set when the strings at esi and edi are equal */
streq:
	push %esi
	push %edi
1:	mov (%esi), %al
	cmp (%edi), %al
	jne 2f
	inc %esi
	inc %edi
	test %al, %al
	jnz 1b
2:	pop %edi
	pop %esi
	ret

/* ZF set when the bytes at esi start with the string at edi */
startswith:
	push %esi
	push %edi
1:	mov (%edi), %al
	test %al, %al
	jz 2f
	cmp (%esi), %al
	jne 2f
	inc %esi
	inc %edi
	jmp 1b
2:	pop %edi
	pop %esi
	ret

/* ax = fw_cfg key */
fw_select:
	push %edx
	mov $FW_CFG_SEL, %dx
	out %ax, %dx
	pop %edx
	ret

/* al = next byte of the selected item (clobbers dx) */
fw_read8:
	mov $FW_CFG_DATA, %dx
	in %dx, %al
	ret

/* eax = next 4 bytes of the selected item, little-endian */
fw_read32_le:
	push %ebx
	push %ecx
	push %edx
	xor %ebx, %ebx
	xor %ecx, %ecx
1:	call fw_read8
	movzbl %al, %eax
	shl %cl, %eax
	or %eax, %ebx
	add $8, %cl
	cmp $32, %cl
	jne 1b
	mov %ebx, %eax
	pop %edx
	pop %ecx
	pop %ebx
	ret

msg_hello:	.asciz "softvm multiboot test kernel\n"
msg_cmdline:	.asciz "cmdline: "
msg_mod:	.asciz "module: "
msg_ok:		.asciz "ALL CHECKS PASSED\n"
msg_fail:	.asciz "FAILED CHECK 0x"
str_softvm:	.asciz "softvm"
str_mod1:	.asciz "MODULE-ONE"
str_mod2:	.asciz "MODULE-TWO"
str_e820:	.asciz "etc/e820"

	.bss
	.p2align 4
info:		.skip 4
namebuf:	.skip 64
dmadesc:	.skip 16
dmabuf:		.skip 16
		.p2align 4
stack:		.skip 4096
stack_top:
