/*
 * A guest that dirties a range of its RAM over and over, for migration tests: every page of the
 * range gets a new value in each sweep, so every dirty-bitmap sync finds the whole range dirty.
 *
 * Options on the kernel command line (QEMU's -append), sizes with an optional K, M or G:
 *   dirty=SIZE  bytes to dirty (default 16M; 0 dirties nothing)
 *   at=ADDR     where the range starts (default 32M, above the kernel at 1 MiB)
 * It says what it does on the debug console (I/O port 0xe9, QEMU's isa-debugcon), one line, once
 * the first sweep is done: "guest: dirtying SIZE bytes at ADDR" or "guest: error: ...".
 */
typedef unsigned int u32;
typedef unsigned long long u64;

#define MULTIBOOT_LOADER_MAGIC 0x2BADB002u
#define MB_INFO_MEMORY (1u << 0)
#define MB_INFO_CMDLINE (1u << 2)
#define PAGE_SIZE 4096u

/* The start of Multiboot's information block: only the members read here. */
struct multiboot_info {
	u32 flags;
	u32 mem_lower; /* KiB below 1 MiB */
	u32 mem_upper; /* KiB above 1 MiB */
	u32 boot_device;
	u32 cmdline; /* physical address of a NUL-terminated string */
};

static void outb(unsigned short port, unsigned char value)
{
	__asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

static void print(const char *text)
{
	while (*text)
		outb(0xe9, (unsigned char)*text++);
}

static void print_hex(u32 value)
{
	char digits[11] = "0x";
	for (int i = 0; i < 8; i++)
		digits[2 + i] = "0123456789abcdef"[(value >> (28 - 4 * i)) & 15];
	digits[10] = 0;
	print(digits);
}

static int starts_with(const char *text, const char *prefix)
{
	while (*prefix)
		if (*text++ != *prefix++)
			return 0;
	return 1;
}

/* Reads "123", "64K", "16M" or "1G" up to a space; returns 0 when it is not a size below 4 GiB. */
static int parse_size(const char *text, u32 *out)
{
	u64 value = 0;
	int digits = 0;
	while (*text >= '0' && *text <= '9') {
		value = value * 10 + (u64)(*text++ - '0');
		digits++;
		if (value >= (1ull << 32))
			return 0;
	}
	if (digits == 0)
		return 0;
	switch (*text) {
	case 'K': value <<= 10; text++; break;
	case 'M': value <<= 20; text++; break;
	case 'G': value <<= 30; text++; break;
	}
	if ((*text != 0 && *text != ' ') || value >= (1ull << 32))
		return 0;
	*out = (u32)value;
	return 1;
}

static void fail(const char *why)
{
	print("guest: error: ");
	print(why);
	print("\n");
	for (;;)
		__asm__ volatile("cli; hlt");
}

void guest_main(u32 magic, const struct multiboot_info *info)
{
	u32 size = 16u << 20, start = 32u << 20;
	if (magic != MULTIBOOT_LOADER_MAGIC)
		fail("not started by a Multiboot loader");
	if (info->flags & MB_INFO_CMDLINE) {
		/* QEMU passes the kernel's file name, a space, then the -append text: read each word. */
		for (const char *p = (const char *)info->cmdline; *p; p++) {
			if (p != (const char *)info->cmdline && p[-1] != ' ')
				continue;
			if (starts_with(p, "dirty=") && !parse_size(p + 6, &size))
				fail("dirty= must be a size such as 16M");
			if (starts_with(p, "at=") && !parse_size(p + 3, &start))
				fail("at= must be an address such as 32M");
		}
	}
	if (start % PAGE_SIZE != 0)
		fail("at= must be a multiple of 4K");
	if (!(info->flags & MB_INFO_MEMORY))
		fail("the loader gave no memory size");
	u64 ram_end = (1ull << 20) + ((u64)info->mem_upper << 10);
	if (start < (2u << 20) || (u64)start + size > ram_end)
		fail("the range must lie between 2M and the end of RAM");

	volatile u32 *const first = (volatile u32 *)start;
	const u32 pages = (size + PAGE_SIZE - 1) / PAGE_SIZE;
	for (u32 sweep = 1;; sweep++) {
		/* One word per page dirties the page; the value changes each sweep, never zero. */
		for (u32 page = 0; page < pages; page++)
			first[page * (PAGE_SIZE / 4)] = sweep ^ page ^ 0x5a5a0000u;
		if (sweep == 1) {
			print("guest: dirtying ");
			print_hex(size);
			print(" bytes at ");
			print_hex(start);
			print("\n");
		}
	}
}
