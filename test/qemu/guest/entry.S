/*
 * The guest's entry: a Multiboot (version 1) header, then 32-bit code that sets up a stack and
 * calls guest_main(multiboot magic, multiboot info). QEMU's -kernel loads an ELF32 kernel that
 * carries this header itself, runs it in protected mode with paging off, and passes the -append
 * text in the info block.
 */
#define MULTIBOOT_MAGIC 0x1BADB002
/* Bit 0: modules page-aligned; bit 1: memory fields in the info block. No a.out kludge (bit 16): the loader reads the ELF headers. */
#define MULTIBOOT_FLAGS 0x00000003

	.section .multiboot, "a"
	.balign 4
	.long MULTIBOOT_MAGIC
	.long MULTIBOOT_FLAGS
	.long -(MULTIBOOT_MAGIC + MULTIBOOT_FLAGS)

	.section .text
	.code32
	.globl _start
_start:
	cli
	movl $stack_top, %esp
	pushl %ebx		/* struct multiboot_info * */
	pushl %eax		/* 0x2BADB002 when a Multiboot loader started us */
	call guest_main
halt:
	hlt
	jmp halt

	.section .bss
	.balign 16
	.space 16384
stack_top:

	.section .note.GNU-stack, "", @progbits
