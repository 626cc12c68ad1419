/*
 * The PC: guest RAM, the port and MMIO buses, the CPU and the legacy devices wired together, and
 * the vCPU loop that runs the CPU, fires device timers and sleeps when the guest halts.
 */
#ifndef SOFTVM_MACHINE_PC_H
#define SOFTVM_MACHINE_PC_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PC_MAX_NICS 8

struct net_config;

#define PC_MAX_DRIVES 8

struct drive_config;
struct virtio_console_port_config;

/* The machine description: what the CLI (and later the API) fills and the builder consumes. */
struct pc_config {
	uint64_t ram_size;
	const char *kernel;  /* bzImage or Multiboot kernel */
	const char *initrd;  /* may be NULL */
	const char *append;  /* kernel command line, may be NULL */
	bool debug_exit;     /* isa-debug-exit at port 0xf4 */
	bool no_host_unpack; /* boot the kernel's own decompressor */
	int console_in;      /* fd the serial console reads (-1: none) */
	int console_out;     /* fd the serial console writes (-1: discard) */
	bool console_escapes; /* Ctrl-A x / Ctrl-A h on the input */
	FILE *trace;         /* per-instruction trace, or NULL */
	const struct net_config *nics; /* one virtio-net NIC with user networking each (net/net.h) */
	unsigned nnics;      /* <= PC_MAX_NICS */
	const struct drive_config *drives; /* one virtio-blk device each (block/drive.h) */
	unsigned ndrives;    /* <= PC_MAX_DRIVES */
	/* virtio-console ports (virtio/console.h): the console and named ports, one device */
	const struct virtio_console_port_config *vcon_ports;
	unsigned nvcon_ports;
	const char *console_socket; /* serial console on a listening Unix socket at this path (NULL: console_in/out) */
	bool virtio_rng;     /* a virtio-rng device (entropy from the host's getrandom) */
};

#define PC_MAX_VIRTIO 16 /* virtio PCI functions */

struct pc;

/* Builds the machine and loads the kernel. Returns NULL with a one-line message in err. */
struct pc *pc_create(const struct pc_config *cfg, char *err, size_t errlen);
/* Runs until the guest powers off, the debug-exit port is written, or the user quits.
 * Returns the process exit status (0 for a guest power-off). */
int pc_run(struct pc *pc);
void pc_destroy(struct pc *pc);

/* From any thread: makes pc_run() return with status. */
void pc_request_exit(struct pc *pc, int status);
/* The guest powered off (ACPI S5): prints "softvm: guest powered off" on the console and makes
 * pc_run() return 0. vCPU thread only (it writes the console). */
void pc_request_poweroff(struct pc *pc);

/* The machine without its CPU, for tests and fuzzers (tests/machine/test_hostile_io.c,
 * fuzz/fuzz_devices.c): pc_config.kernel may then be NULL (the CPU stays at its reset vector).
 * pc_access_read/write make one access as the CPU would: a port (addr & 0xffff), or guest-physical
 * memory (RAM, else a device's MMIO); size 1, 2, 4 or 8. pc_poll runs one round of the vCPU
 * loop's device work: expired timers, finished I/O, host sockets, and a reset the guest asked for. */
struct guest_ram;
uint64_t pc_access_read(struct pc *pc, bool port, uint64_t addr, unsigned size);
void pc_access_write(struct pc *pc, bool port, uint64_t addr, unsigned size, uint64_t val);
void pc_poll(struct pc *pc);
const struct guest_ram *pc_guest_ram(const struct pc *pc);
#endif
