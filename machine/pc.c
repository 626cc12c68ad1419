/*
 * The PC machine: builds guest RAM, the buses, the CPU and the devices from a pc_config, loads the
 * kernel, and runs the vCPU loop.
 *
 * Threading: one thread runs the CPU and every device (no locks on the device paths). The loop
 * runs the CPU in slices, fires expired device timers and polls the console between slices; when
 * the guest halts it sleeps in poll() until the next timer deadline or console input, so an idle
 * guest costs close to no host CPU.
 *
 * Memory map (below 4 GiB): RAM from 0 to min(RAM, 3 GiB) with the legacy holes described in the
 * e820 map (640 KiB-1 MiB reserved for VGA and BIOS areas), the PCI hole from 3 GiB, local APIC at
 * 0xfee00000, IOAPIC at 0xfec00000; RAM above 3 GiB continues at 4 GiB.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block/drive.h"
#include "boot/linux.h"
#include "boot/multiboot.h"
#include "cpu/cpu.h"
#include "dev/acpi_pm.h"
#include "dev/fw_cfg.h"
#include "dev/hpet.h"
#include "dev/i8042.h"
#include "dev/ioapic.h"
#include "dev/lapic.h"
#include "dev/pci.h"
#include "dev/pic.h"
#include "dev/pit.h"
#include "dev/port92.h"
#include "dev/rtc.h"
#include "dev/uart.h"
#include "machine/acpi.h"
#include "machine/chardev.h"
#include "machine/iobus.h"
#include "machine/pc.h"
#include "machine/ram.h"
#include "machine/timer.h"
#include "net/net.h"
#include "virtio/net.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/pci.h"
#include "virtio/rng.h"

#define SLICE_INSNS 200000
#define CONSOLE_POLL_NS 2000000 /* console input latency while the guest is busy */

struct pc {
	struct pc_config cfg;
	struct guest_ram ram;
	struct iobus pio, mmio;
	struct timer_list timers;
	struct cpu *cpu;
	struct pic pic;
	struct lapic lapic;
	struct ioapic ioapic;
	struct pit pit;
	struct uart com1;
	struct rtc rtc;
	struct i8042 i8042;
	struct port92 port92;
	struct fw_cfg fw_cfg;
	struct pci_bus pci;
	struct pci_device pci_host, pci_isa;
	struct hpet hpet;
	struct acpi_pm acpi_pm;
	/* virtio: completions from I/O threads, and the PCI functions (slots 3 and up) */
	struct virtio_host virtio;
	struct virtio_pci *virtio_pci[PC_MAX_VIRTIO];
	unsigned virtio_count;
	struct virtio_rng *rng;
	struct virtio_blk *blk[PC_MAX_DRIVES]; /* --drive, in order */
	struct drive drive[PC_MAX_DRIVES];
	unsigned nblk;
	/* --net: a virtio-net NIC and its user-mode backend each */
	struct virtio_net *nic[PC_MAX_NICS];
	struct net_backend *net_be[PC_MAX_NICS];
	unsigned nnics;
	struct net_pollset pollset; /* fds of one poll_host() call */
	struct virtio_console *vcon; /* --device virtio-console / virtserialport: all ports on one device */
	struct chardev serial_chr;   /* --console socket:PATH */
	bool serial_socket;
	bool hpet_legacy; /* HPET legacy replacement route: the PIT is cut off IRQ0 */
	uint8_t pirq_level[4];     /* PCI PIRQA..D line levels */
	uint16_t pirq_irq_active;  /* ISA IRQs currently driven high by PIRQs */

	struct e820_entry e820[E820_MAX];
	unsigned e820_count;

	volatile int exit_requested;
	int exit_status;
	bool reset_requested;
	bool escape; /* Ctrl-A seen on the console */
	uint64_t last_console_poll;
};

/* ---- CPU bus ---- */

static uint8_t *bus_ram_ptr(void *opaque, uint64_t gpa, bool write)
{
	struct pc *pc = opaque;
	return ram_range(&pc->ram, gpa & ~0xfffull, 0x1000);
}

static uint64_t bus_mmio_read(void *opaque, uint64_t gpa, unsigned size)
{
	struct pc *pc = opaque;
	return iobus_read(&pc->mmio, gpa, size);
}

static void bus_mmio_write(void *opaque, uint64_t gpa, unsigned size, uint64_t val)
{
	struct pc *pc = opaque;
	iobus_write(&pc->mmio, gpa, size, val);
}

static uint32_t bus_io_in(void *opaque, uint16_t port, unsigned size)
{
	struct pc *pc = opaque;
	return (uint32_t)iobus_read(&pc->pio, port, size);
}

static void bus_io_out(void *opaque, uint16_t port, unsigned size, uint32_t val)
{
	struct pc *pc = opaque;
	iobus_write(&pc->pio, port, size, val);
}

/* INTA goes to the local APIC; it asks the 8259 for ExtINT vectors (or passes INTA straight
 * through when IA32_APIC_BASE.EN is clear). */
static int bus_intr_ack(void *opaque)
{
	struct pc *pc = opaque;
	return lapic_intr_ack(&pc->lapic);
}

/* MSRs the CPU leaves to the machine: IA32_TSC_DEADLINE lives in the local APIC. */
static bool bus_msr_read(void *opaque, uint32_t msr, uint64_t *val)
{
	struct pc *pc = opaque;
	if (msr != MSR_IA32_TSC_DEADLINE)
		return false;
	*val = lapic_read_tsc_deadline(&pc->lapic);
	return true;
}

static bool bus_msr_write(void *opaque, uint32_t msr, uint64_t val)
{
	struct pc *pc = opaque;
	if (msr != MSR_IA32_TSC_DEADLINE)
		return false;
	lapic_write_tsc_deadline(&pc->lapic, val);
	return true;
}


/* ---- interrupt wiring ---- */

/* The 8259's INTR output feeds the local APIC's LINT0 and IOAPIC pin 0 (as on ICH chipsets). */
static void pic_intr_changed(void *opaque, bool level)
{
	struct pc *pc = opaque;
	lapic_set_lint(&pc->lapic, 0, level);
	ioapic_set_irq(&pc->ioapic, 0, level);
}

static void lapic_intr_changed(void *opaque, bool level)
{
	struct pc *pc = opaque;
	if (pc->cpu)
		cpu_set_intr(pc->cpu, level);
}

static void lapic_nmi(void *opaque)
{
	struct pc *pc = opaque;
	if (pc->cpu)
		cpu_nmi(pc->cpu);
}

static int lapic_extint_ack(void *opaque)
{
	struct pc *pc = opaque;
	return pic_ack(&pc->pic);
}

static void lapic_eoi_broadcast(void *opaque, uint8_t vector)
{
	struct pc *pc = opaque;
	ioapic_eoi(&pc->ioapic, vector);
}

static uint64_t lapic_tsc(void *opaque)
{
	struct pc *pc = opaque;
	return pc->cpu ? cpu_read_tsc(pc->cpu) : 0;
}

/* The APIC bus: one processor. */
static void apic_bus_deliver(void *opaque, const struct apic_msg *m)
{
	struct pc *pc = opaque;
	lapic_deliver(&pc->lapic, m);
}

/* IA32_APIC_BASE lives in the CPU's state: the machine follows it between CPU slices. */
static void sync_apic_base(struct pc *pc)
{
	struct cpu_state s;
	cpu_get_state(pc->cpu, &s);
	if (s.apic_base != pc->lapic.apic_base)
		lapic_set_base(&pc->lapic, s.apic_base);
}

/* What the BIOS leaves in the interrupt controllers when it starts the kernel: the local APIC
 * enabled at IA32_APIC_BASE with the 8259 connected through LINT0 (virtual-wire mode). */
static void apic_firmware_setup(struct pc *pc)
{
	sync_apic_base(pc);
	lapic_bios_init(&pc->lapic);
}

/* ISA interrupt line -> PIC and IOAPIC. IRQ 0 reaches IOAPIC pin 2 (the MADT's interrupt source
 * override says so); pin 0 is the 8259's INTR. */
static void isa_set_irq(void *ctx, unsigned line, int level)
{
	struct pc *pc = ctx;
	pic_set_irq(&pc->pic, line, level);
	if (line != 2)
		ioapic_set_irq(&pc->ioapic, line == 0 ? 2 : line, level);
}


static struct irq isa_irq(struct pc *pc, unsigned line)
{
	return (struct irq){ isa_set_irq, pc, line };
}

/* The PIT's OUT0 reaches IRQ0 only while the HPET's legacy replacement route does not own it
 * (IA-PC HPET 1.0a §2.3.9.2.1). */
static void pit_set_irq(void *ctx, unsigned line, int level)
{
	struct pc *pc = ctx;
	if (!pc->hpet_legacy)
		isa_set_irq(ctx, line, level);
}

/* Likewise the RTC is cut off IRQ8 under the legacy replacement route. */
static void rtc_set_irq(void *ctx, unsigned line, int level)
{
	struct pc *pc = ctx;
	if (!pc->hpet_legacy)
		isa_set_irq(ctx, line, level);
}

static void hpet_legacy_changed(void *ctx, bool on)
{
	struct pc *pc = ctx;
	pc->hpet_legacy = on;
}

/* IOAPIC inputs above the ISA range (HPET timers routed to 20-23). */
static void gsi_set_irq(void *ctx, unsigned line, int level)
{
	struct pc *pc = ctx;
	ioapic_set_irq(&pc->ioapic, line, level);
}

/* PIIX3 reset control register (0xcf9) with RCPU set. */
static void pci_reset_request(void *ctx)
{
	struct pc *pc = ctx;
	pc->reset_requested = true;
	cpu_request_stop(pc->cpu);
}

/* The i8042's reset line and port 0x92's fast reset: restart the guest. */
static void pc_request_reset(void *ctx)
{
	struct pc *pc = ctx;
	pc->reset_requested = true;
	if (pc->cpu)
		cpu_request_stop(pc->cpu);
}

/* ACPI S5: the guest powered itself off. */
static void acpi_poweroff(void *opaque)
{
	pc_request_poweroff(opaque);
}

/* ---- virtio ---- */

/* A device wrote guest RAM (virtqueue push): drop the CPU's cached code there. */
static void virtio_dma_written(void *opaque, uint64_t gpa, uint64_t len)
{
	struct pc *pc = opaque;
	cpu_notify_phys_write(pc->cpu, gpa, len);
}

/* An I/O thread completed a request: end the CPU slice so the loop pushes it soon. */
static void virtio_kick(void *opaque)
{
	struct pc *pc = opaque;
	if (pc->cpu)
		cpu_request_stop(pc->cpu);
}

/* MSI-X messages go to the local APIC (one processor). */
static void virtio_msi(void *ctx, uint64_t addr, uint32_t data)
{
	struct pc *pc = ctx;
	lapic_msi(&pc->lapic, addr, data);
}

/* Puts vdev on PCI bus 0 behind a virtio-pci function in the next free slot (3 and up). */
static int pc_add_virtio(struct pc *pc, struct virtio_device *vdev, uint32_t class_code)
{
	if (pc->virtio_count == PC_MAX_VIRTIO)
		return -ENOSPC;
	struct virtio_pci *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	int r = virtio_pci_init(p, vdev, &pc->virtio, &pc->pci, PCI_DEVFN(3 + pc->virtio_count, 0), class_code,
				virtio_msi, pc);
	if (r) {
		free(p);
		return r;
	}
	pc->virtio_pci[pc->virtio_count++] = p;
	return 0;
}

static int virtio_setup(struct pc *pc)
{
	int r = virtio_host_init(&pc->virtio, &pc->ram, virtio_dma_written, virtio_kick, pc);
	if (r || !pc->cfg.virtio_rng)
		return r;
	pc->rng = calloc(1, sizeof(*pc->rng));
	if (!pc->rng)
		return -ENOMEM;
	virtio_rng_init(pc->rng);
	return pc_add_virtio(pc, &pc->rng->vdev, 0x00ff00 /* unclassified, as QEMU */);
}

/* One virtio-blk device per --drive, after the other virtio functions (the guest names them vda,
 * vdb, ... in this order). Returns 0, or -1 with a one-line message naming the image in err. */
static int drives_setup(struct pc *pc, char *err, size_t errlen)
{
	for (unsigned k = 0; k < pc->cfg.ndrives && k < PC_MAX_DRIVES; k++) {
		const struct drive_config *dc = &pc->cfg.drives[k];
		struct drive *d = &pc->drive[k];
		if (drive_open(dc, d, err, errlen) < 0)
			return -1;
		struct virtio_blk *b = calloc(1, sizeof(*b));
		struct virtio_blk_options o = { dc->serial, d->probed_raw };
		int r = b ? virtio_blk_init(b, d->blk, &o) : -ENOMEM;
		if (r) {
			free(b);
			blk_close(d->blk);
			drive_unlock(d);
			snprintf(err, errlen, "%s: cannot start its virtio-blk device: %s", dc->path, strerror(-r));
			return -1;
		}
		pc->blk[pc->nblk++] = b;
		r = pc_add_virtio(pc, &b->vdev, 0x010000 /* mass storage, as QEMU's virtio-blk */);
		if (r) {
			snprintf(err, errlen, "%s: cannot add a virtio-blk PCI function: %s", dc->path, strerror(-r));
			return -1;
		}
	}
	return 0;
}

/* ---- small devices ---- */

/* isa-debug-exit (QEMU compatible): writing v ends softvm with status (v << 1) | 1. */
static void debug_exit_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct pc *pc = dev;
	pc_request_exit(pc, (int)(((val & 0x7f) << 1) | 1));
}

static const struct io_ops debug_exit_ops = { NULL, debug_exit_write };

/* --console socket:PATH (the serial console on a listening Unix socket), and one virtio-console
 * device carrying every --device virtio-console / virtserialport port. Errors name the option. */
static int chardevs_setup(struct pc *pc, char *err, size_t errlen)
{
	if (pc->cfg.console_socket) {
		char e[512];
		if (chardev_listen(&pc->serial_chr, pc->cfg.console_socket, e, sizeof(e)) < 0) {
			snprintf(err, errlen, "--console socket:%s", e);
			return -1;
		}
		pc->serial_socket = true;
	}
	if (!pc->cfg.nvcon_ports)
		return 0;
	pc->vcon = calloc(1, sizeof(*pc->vcon));
	if (!pc->vcon) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (virtio_console_init(pc->vcon, pc->cfg.vcon_ports, pc->cfg.nvcon_ports, err, errlen) < 0) {
		free(pc->vcon);
		pc->vcon = NULL;
		return -1;
	}
	int r = pc_add_virtio(pc, &pc->vcon->vdev, 0x078000 /* communication controller, as QEMU's virtio-serial */);
	if (r) {
		snprintf(err, errlen, "cannot add the virtio-console device: %s", strerror(-r));
		return -1;
	}
	return 0;
}

/* One virtio-net NIC per --net, each with its own slirp (QEMU gives each -nic user its own
 * network too). Errors name the option: a host forward whose port is taken, say. */
static int net_setup(struct pc *pc, char *err, size_t errlen)
{
	for (unsigned k = 0; k < pc->cfg.nnics && k < PC_MAX_NICS; k++) {
		const struct net_config *c = &pc->cfg.nics[k];
		char e[256];
		struct net_backend *be = net_slirp_create(c, &pc->timers, clock_ns, e, sizeof(e));
		if (!be) {
			snprintf(err, errlen, "--net #%u: %s", k + 1, e);
			return -1;
		}
		struct virtio_net *n = calloc(1, sizeof(*n));
		int r = n ? virtio_net_init(n, be, c->mac) : -ENOMEM;
		if (!r)
			r = pc_add_virtio(pc, &n->vdev, 0x020000 /* Ethernet controller */);
		pc->nic[k] = n;
		pc->net_be[k] = be;
		pc->nnics = k + 1;
		if (r) {
			snprintf(err, errlen, "--net #%u: cannot add the virtio-net device: %s", k + 1, strerror(-r));
			return -1;
		}
	}
	return 0;
}

/* ---- console ---- */

static void console_tx(void *opaque, const uint8_t *buf, size_t len)
{
	struct pc *pc = opaque;
	if (pc->serial_socket) {
		chardev_write(&pc->serial_chr, buf, len); /* never blocks: dropped with no client */
		return;
	}
	if (pc->cfg.console_out < 0)
		return;
	while (len) {
		ssize_t n = write(pc->cfg.console_out, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

static void console_msg(struct pc *pc, const char *msg)
{
	if (pc->serial_socket)
		chardev_write(&pc->serial_chr, msg, strlen(msg));
	if (pc->cfg.console_out >= 0 && write(pc->cfg.console_out, msg, strlen(msg)) < 0) {
		/* nothing useful to do if the terminal is gone */
	}
}

/* --console socket:PATH: what the attached tool typed goes to the UART as it is (no Ctrl-A
 * escapes: a tool may send any byte). */
static void serial_socket_poll(struct pc *pc)
{
	uint8_t buf[UART_FIFO_SIZE];
	size_t room = uart_rx_room(&pc->com1);
	size_t n = chardev_read(&pc->serial_chr, buf, room < sizeof(buf) ? room : sizeof(buf));
	if (n)
		uart_receive(&pc->com1, buf, n);
}

/* Reads what the console has for the guest (as much as the UART FIFO takes). */
static void console_poll(struct pc *pc)
{
	if (pc->serial_socket) {
		serial_socket_poll(pc);
		return;
	}
	int fd = pc->cfg.console_in;
	if (fd < 0)
		return;
	size_t room = uart_rx_room(&pc->com1);
	if (!room)
		return;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	if (poll(&pfd, 1, 0) <= 0 || !(pfd.revents & (POLLIN | POLLHUP)))
		return;
	uint8_t buf[UART_FIFO_SIZE], out[UART_FIFO_SIZE];
	ssize_t n = read(fd, buf, room);
	if (n <= 0) {
		pc->cfg.console_in = -1; /* EOF: stop polling */
		return;
	}
	size_t m = 0;
	for (ssize_t k = 0; k < n; k++) {
		uint8_t ch = buf[k];
		if (pc->cfg.console_escapes && pc->escape) {
			pc->escape = false;
			if (ch == 'x') {
				console_msg(pc, "\r\nsoftvm: terminated by Ctrl-A x\r\n");
				pc_request_exit(pc, 0);
				return;
			}
			if (ch == 'h') {
				console_msg(pc, "\r\nCtrl-A h  print this help\r\nCtrl-A x  exit softvm\r\n"
						"Ctrl-A p  press the power button (ACPI)\r\n"
						"Ctrl-A a  send Ctrl-A to the guest\r\n");
				continue;
			}
			if (ch == 'p') {
				acpi_pm_power_button(&pc->acpi_pm);
				continue;
			}
			if (ch != 'a' && ch != 1)
				continue;
			ch = 1;
		} else if (pc->cfg.console_escapes && ch == 1) {
			pc->escape = true;
			continue;
		}
		out[m++] = ch;
	}
	uart_receive(&pc->com1, out, m);
}

/* ---- build ---- */

static void build_e820(struct pc *pc)
{
	struct e820_entry *e = pc->e820;
	unsigned n = 0;
	e[n++] = (struct e820_entry){ 0, 0x9fc00, E820_RAM };
	e[n++] = (struct e820_entry){ 0x9fc00, 0x400, E820_RESERVED };
	e[n++] = (struct e820_entry){ 0xe0000, 0x20000, E820_RESERVED };
	e[n++] = (struct e820_entry){ 0x100000, pc->ram.low_size - 0x100000, E820_RAM };
	if (pc->ram.size > pc->ram.low_size)
		e[n++] = (struct e820_entry){ RAM_HIGH_START, pc->ram.size - pc->ram.low_size, E820_RAM };
	pc->e820_count = n;
}

/* ACPI tables in the BIOS area the e820 map reserves (rebuilt at each boot: a reset clears RAM).
 * Returns the RSDP's address, or 0 if the tables could not be built. */
static uint64_t build_acpi(struct pc *pc)
{
	struct acpi_config c = {
		.ncpus = 1,
		.pm_base = ACPI_PM_BASE,
		.sci_irq = ACPI_PM_SCI_IRQ,
		.ioapic_base = (uint32_t)IOAPIC_DEFAULT_BASE,
		.hpet_base = (uint32_t)HPET_BASE,
		.hpet_block_id = (uint32_t)hpet_mmio_read(&pc->hpet, 0, 4),
		.pci_mem_start = (uint32_t)RAM_PCI_HOLE_START,
		.pci_mem_end = (uint32_t)IOAPIC_DEFAULT_BASE - 1,
		.piix_adr = 1 << 16, /* the PIIX3 at 00:01.0 (chipset_setup) routes PIRQA-D */
	};
	uint8_t *mem = ram_range(&pc->ram, ACPI_TABLES_BASE, ACPI_TABLES_SIZE);
	uint64_t rsdp = 0;
	if (!mem || acpi_build(&c, mem, ACPI_TABLES_BASE, ACPI_TABLES_SIZE, &rsdp) < 0)
		return 0;
	return rsdp;
}

static int load_kernel(struct pc *pc, char *err, size_t errlen)
{
	struct cpu_state s;
	cpu_reset(pc->cpu);
	if (!pc->cfg.kernel)
		return 0; /* no kernel (tests, fuzzers): the CPU stays at its reset vector */
	cpu_get_state(pc->cpu, &s);
	struct linux_boot b = {
		.kernel_path = pc->cfg.kernel,
		.initrd_path = pc->cfg.initrd,
		.cmdline = pc->cfg.append,
		.e820 = pc->e820,
		.e820_count = pc->e820_count,
		.acpi_rsdp = build_acpi(pc),
		.host_unpack = !pc->cfg.no_host_unpack,
	};
	if (multiboot_detect(pc->cfg.kernel)) {
		/* Multiboot first (its header decides); --initrd is then the module list. */
		struct multiboot_boot mb = {
			.kernel_path = pc->cfg.kernel,
			.modules = pc->cfg.initrd,
			.cmdline = pc->cfg.append,
			.e820 = pc->e820,
			.e820_count = pc->e820_count,
		};
		if (multiboot_load(&pc->ram, &mb, &s, err, errlen) < 0)
			return -1;
	} else if (linux_load(&pc->ram, &b, &s, err, errlen) < 0) {
		return -1;
	}
	cpu_set_state(pc->cpu, &s);
	return 0;
}

static void fw_cfg_dma_written(void *opaque, uint64_t gpa, uint64_t len)
{
	struct pc *pc = opaque;
	cpu_notify_phys_write(pc->cpu, gpa, len);
}

/* fw_cfg items as QEMU's PC machine sets them (one CPU). */
static int fw_cfg_setup(struct pc *pc)
{
	struct fw_cfg *f = &pc->fw_cfg;
	int r = fw_cfg_init(f, &pc->pio, &pc->ram);
	if (r)
		return r;
	f->dma_written = fw_cfg_dma_written;
	f->opaque = pc;
	r = fw_cfg_add_i64(f, FW_CFG_RAM_SIZE, pc->ram.size);
	if (!r)
		r = fw_cfg_add_i16(f, FW_CFG_NB_CPUS, 1);
	if (!r)
		r = fw_cfg_add_i16(f, FW_CFG_MAX_CPUS, 1);
	if (!r)
		r = fw_cfg_add_i16(f, FW_CFG_NOGRAPHIC, 1);
	if (r >= 0)
		r = fw_cfg_add_file(f, "etc/e820", pc->e820, pc->e820_count * sizeof(struct e820_entry));
	return r < 0 ? r : 0;
}

/*
 * PCI INTx: PIRQA..D reach the ISA IRQ that the PIIX3 route registers (0x60-0x63) name, as the
 * DSDT's link devices program them; several PIRQs may share one IRQ (wired-OR, level-triggered).
 * The routes are re-read on every change, so a guest that reprograms them is followed at the
 * next interrupt edge.
 */
static void pirq_update(struct pc *pc)
{
	uint16_t want = 0;
	for (unsigned p = 0; p < 4; p++) {
		int irq = pci_isa_bridge_pirq_route(&pc->pci_isa, p);
		if (pc->pirq_level[p] && irq >= 0 && irq < 16)
			want |= 1u << irq;
	}
	uint16_t changed = want ^ pc->pirq_irq_active;
	pc->pirq_irq_active = want;
	for (unsigned irq = 0; irq < 16; irq++)
		if (changed & (1u << irq))
			isa_set_irq(pc, irq, (want >> irq) & 1);
}

/* The guest reprogrammed a PIIX3 PIRQ route register (0x60-0x63): move asserted lines along. */
static void isa_bridge_config_write(struct pci_device *d, unsigned off, unsigned size, uint32_t val)
{
	if (off < 0x64 && off + size > 0x60 && d->bus)
		pirq_update(d->bus->ctx);
}

static void pci_set_pirq(void *ctx, unsigned pirq, int level)
{
	struct pc *pc = ctx;
	if (pirq >= 4)
		return;
	pc->pirq_level[pirq] = level != 0;
	pirq_update(pc);
}

/* PCI bus 0 with the i440FX host bridge at 00:00.0 and the PIIX3 ISA bridge at 00:01.0; the HPET. */
static int chipset_setup(struct pc *pc)
{
	int r = pci_bus_init(&pc->pci, &pc->pio, &pc->mmio);
	if (r)
		return r;
	pc->pci.reset_request = pci_reset_request;
	pc->pci.set_pirq = pci_set_pirq;
	pc->pci.ctx = pc;
	pci_host_bridge_init(&pc->pci_host);
	pci_isa_bridge_init(&pc->pci_isa);
	pc->pci_isa.config_write = isa_bridge_config_write;
	r = pci_register_device(&pc->pci, PCI_DEVFN(0, 0), &pc->pci_host);
	if (!r)
		r = pci_register_device(&pc->pci, PCI_DEVFN(1, 0), &pc->pci_isa);
	if (r)
		return r;
	struct hpet_wiring w = {
		.legacy = { isa_irq(pc, 0), isa_irq(pc, 8) },
		.route_cap = 0x00f00000,
		.legacy_changed = hpet_legacy_changed,
		.ctx = pc,
	};
	for (unsigned n = 20; n < 24; n++)
		w.route[n] = (struct irq){ gsi_set_irq, pc, n };
	return hpet_init(&pc->hpet, &pc->mmio, HPET_BASE, &pc->timers, &w, clock_ns);
}

struct pc *pc_create(const struct pc_config *cfg, char *err, size_t errlen)
{
	struct pc *pc = calloc(1, sizeof(*pc));
	if (!pc) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pc->cfg = *cfg;
	int r = ram_init(&pc->ram, cfg->ram_size);
	if (r < 0) {
		snprintf(err, errlen, "cannot reserve %llu MiB of guest RAM: %s", (unsigned long long)(cfg->ram_size >> 20),
			 strerror(-r));
		free(pc);
		return NULL;
	}
	build_e820(pc);

	struct cpu_bus bus = {
		.opaque = pc,
		.ram_ptr = bus_ram_ptr,
		.mmio_read = bus_mmio_read,
		.mmio_write = bus_mmio_write,
		.io_in = bus_io_in,
		.io_out = bus_io_out,
		.intr_ack = bus_intr_ack,
		.msr_read = bus_msr_read,
		.msr_write = bus_msr_write,
	};
	pc->cpu = cpu_create(&bus);
	if (!pc->cpu) {
		snprintf(err, errlen, "cannot create the CPU");
		pc_destroy(pc);
		return NULL;
	}
	cpu_set_trace(pc->cpu, cfg->trace);

	struct uart_backend be = { console_tx, pc };
	struct lapic_callbacks lcb = {
		.opaque = pc,
		.intr_changed = lapic_intr_changed,
		.nmi = lapic_nmi,
		.extint_ack = lapic_extint_ack,
		.eoi_broadcast = lapic_eoi_broadcast,
		.tsc = lapic_tsc,
		.tsc_hz = cpu_tsc_hz(),
	};
	r = lapic_init(&pc->lapic, &pc->mmio, &pc->timers, &lcb, clock_ns,
		       LAPIC_DEFAULT_BASE | APIC_BASE_ENABLE | APIC_BASE_BSP);
	if (!r)
		r = ioapic_init(&pc->ioapic, &pc->mmio, IOAPIC_DEFAULT_BASE, apic_bus_deliver, pc);
	if (!r)
		r = pic_init(&pc->pic, &pc->pio, pic_intr_changed, pc);
	if (!r)
		r = pit_init(&pc->pit, &pc->pio, &pc->timers, (struct irq){ pit_set_irq, pc, 0 }, clock_ns);
	if (!r)
		r = uart_init(&pc->com1, &pc->pio, 0x3f8, isa_irq(pc, 4), &be);
	if (!r) {
		struct rtc_config rc = {
			.ram_below_4g = pc->ram.low_size,
			.ram_above_4g = pc->ram.size - pc->ram.low_size,
			.cpus = 1,
			.ps2_mouse = true,
		};
		r = rtc_init(&pc->rtc, &pc->pio, &pc->timers, (struct irq){ rtc_set_irq, pc, 8 }, &rc);
	}
	if (!r)
		r = i8042_init(&pc->i8042, &pc->pio, isa_irq(pc, 1), isa_irq(pc, 12), pc_request_reset, pc);
	if (!r)
		r = port92_init(&pc->port92, &pc->pio, pc_request_reset, pc);
	if (!r && cfg->debug_exit)
		r = iobus_register(&pc->pio, 0xf4, 1, &debug_exit_ops, pc, "debug-exit");
	if (!r)
		r = fw_cfg_setup(pc);
	if (!r)
		r = chipset_setup(pc);
	if (!r)
		r = virtio_setup(pc);
	if (!r) {
		struct acpi_pm_callbacks acb = { acpi_poweroff, pc_request_reset, pc };
		r = acpi_pm_init(&pc->acpi_pm, &pc->pio, ACPI_PM_BASE, &pc->timers, isa_irq(pc, ACPI_PM_SCI_IRQ),
				 clock_ns, &acb);
	}
	if (r) {
		snprintf(err, errlen, "device setup failed: %s", strerror(-r));
		pc_destroy(pc);
		return NULL;
	}
	if (net_setup(pc, err, errlen) < 0) {
		pc_destroy(pc);
		return NULL;
	}
	if (chardevs_setup(pc, err, errlen) < 0) {
		pc_destroy(pc);
		return NULL;
	}
	if (drives_setup(pc, err, errlen) < 0 || load_kernel(pc, err, errlen) < 0) {
		pc_destroy(pc);
		return NULL;
	}
	apic_firmware_setup(pc);
	return pc;
}

void pc_destroy(struct pc *pc)
{
	if (!pc)
		return;
	/* Disks first: their I/O threads finish, flush and close while the CPU still exists (a
	 * completion kicks it). */
	for (unsigned k = 0; k < pc->nblk; k++) {
		virtio_blk_free(pc->blk[k]);
		drive_unlock(&pc->drive[k]);
	}
	/* The host's device list runs through the device structs, and completions still queued
	 * hang off them: drop those while every device exists (freeing them first was a
	 * use-after-free on every teardown with a drive). */
	if (pc->virtio.ram)
		virtio_host_free(&pc->virtio);
	for (unsigned k = 0; k < pc->nblk; k++)
		free(pc->blk[k]);
	cpu_destroy(pc->cpu);
	fw_cfg_free(&pc->fw_cfg);
	for (unsigned k = 0; k < pc->nnics; k++) {
		if (pc->nic[k])
			virtio_net_free(pc->nic[k]);
		free(pc->nic[k]);
		net_backend_destroy(pc->net_be[k]);
	}
	net_pollset_free(&pc->pollset);
	if (pc->vcon)
		virtio_console_free(pc->vcon);
	free(pc->vcon);
	if (pc->serial_socket)
		chardev_close(&pc->serial_chr);
	for (unsigned k = 0; k < pc->virtio_count; k++)
		free(pc->virtio_pci[k]);
	free(pc->rng);
	ram_free(&pc->ram);
	free(pc);
}

void pc_request_exit(struct pc *pc, int status)
{
	pc->exit_status = status;
	pc->exit_requested = 1;
	if (pc->cpu)
		cpu_request_stop(pc->cpu);
}

void pc_request_poweroff(struct pc *pc)
{
	console_msg(pc, "\r\nsoftvm: guest powered off\r\n");
	pc_request_exit(pc, 0);
}

static void pc_reset(struct pc *pc)
{
	char err[256];
	console_msg(pc, "\r\nsoftvm: guest reset\r\n");
	pic_reset(&pc->pic);
	pit_reset(&pc->pit);
	uart_reset(&pc->com1);
	rtc_reset(&pc->rtc);
	i8042_reset(&pc->i8042);
	port92_reset(&pc->port92);
	fw_cfg_reset(&pc->fw_cfg);
	pci_bus_reset(&pc->pci);
	hpet_reset(&pc->hpet);
	acpi_pm_reset(&pc->acpi_pm);
	lapic_reset(&pc->lapic);
	ioapic_reset(&pc->ioapic);
	/* Only now that the devices are reset (virtio-blk workers drained) may RAM be cleared:
	 * an in-flight disk read would otherwise land in the fresh memory. */
	memset(pc->ram.host, 0, pc->ram.low_size < (64u << 20) ? pc->ram.low_size : (64u << 20));
	if (load_kernel(pc, err, sizeof(err)) < 0) {
		fprintf(stderr, "softvm: reset failed: %s\n", err);
		pc_request_exit(pc, 1);
	}
	apic_firmware_setup(pc);
}

/* Polls the host side: the virtio eventfd (I/O threads finished requests, virtio/virtio.h
 * "Threading"), the console (to wake up: console_poll reads it) and the network backends'
 * sockets, for up to timeout_ms (0: only look). The backends then serve their ready sockets,
 * which may deliver frames to the guest. */
static void poll_host(struct pc *pc, int timeout_ms)
{
	struct net_pollset *ps = &pc->pollset;
	net_pollset_clear(ps);
	net_pollset_add(ps, pc->virtio.eventfd, POLLIN);
	if (pc->cfg.console_in >= 0)
		net_pollset_add(ps, pc->cfg.console_in, POLLIN);
	for (unsigned k = 0; k < pc->nnics; k++)
		net_poll_fill(pc->net_be[k], ps, &timeout_ms);
	if (pc->serial_socket)
		chardev_poll_fill(&pc->serial_chr, ps, uart_rx_room(&pc->com1) > 0, &timeout_ms);
	if (pc->vcon)
		virtio_console_poll_fill(pc->vcon, ps, &timeout_ms);
	int r = poll(ps->fds, ps->n, timeout_ms);
	for (unsigned k = 0; k < pc->nnics; k++)
		net_poll_done(pc->net_be[k], ps, r < 0);
	if (pc->serial_socket)
		chardev_poll_done(&pc->serial_chr, ps); /* input: console_poll reads it */
	if (pc->vcon)
		virtio_console_poll_done(pc->vcon, ps);
}

/* Sleeps until the next timer deadline or console input. */
static void wait_for_event(struct pc *pc)
{
	uint64_t now = clock_ns(), next = timers_next(&pc->timers);
	int timeout_ms = -1;
	if (next != UINT64_MAX)
		timeout_ms = next <= now ? 0 : (int)((next - now + 999999) / 1000000);
	if (timeout_ms > 1000 || timeout_ms < 0)
		timeout_ms = 1000; /* wake regularly: exit requests from other threads */
	poll_host(pc, timeout_ms);
}

int pc_run(struct pc *pc)
{
	while (!pc->exit_requested) {
		enum cpu_exit r = cpu_run(pc->cpu, SLICE_INSNS);
		sync_apic_base(pc);
		uint64_t now = clock_ns();
		timers_run(&pc->timers, now);
		virtio_host_poll(&pc->virtio);
		if (now - pc->last_console_poll >= CONSOLE_POLL_NS || r == CPU_EXIT_HLT) {
			pc->last_console_poll = now;
			if ((pc->nnics || pc->vcon || pc->serial_socket) && r != CPU_EXIT_HLT)
				poll_host(pc, 0); /* the network's sockets while the guest runs */
			console_poll(pc);
		}
		switch (r) {
		case CPU_EXIT_HLT:
			/* A timer or the console may have raised an interrupt since the CPU halted:
			 * then run it at once instead of sleeping. */
			if (cpu_halted(pc->cpu) && !cpu_can_wake(pc->cpu) && !pc->exit_requested) {
				wait_for_event(pc);
				timers_run(&pc->timers, clock_ns());
				virtio_host_poll(&pc->virtio);
				console_poll(pc);
			}
			break;
		case CPU_EXIT_TRIPLE_FAULT:
			console_msg(pc, "\r\nsoftvm: triple fault, resetting\r\n");
			pc->reset_requested = true;
			break;
		default: break;
		}
		if (pc->reset_requested) {
			pc->reset_requested = false;
			pc_reset(pc);
		}
	}
	return pc->exit_status;
}

/* ---- the machine without its CPU (tests and fuzzers) ---- */

/* An access as the CPU makes it: a port, or guest-physical memory (RAM, else MMIO). */
uint64_t pc_access_read(struct pc *pc, bool port, uint64_t addr, unsigned size)
{
	if (port)
		return bus_io_in(pc, (uint16_t)addr, size);
	uint64_t v = 0;
	if (size <= 8 && ram_read(&pc->ram, addr, &v, size))
		return v;
	return bus_mmio_read(pc, addr, size);
}

void pc_access_write(struct pc *pc, bool port, uint64_t addr, unsigned size, uint64_t val)
{
	if (port)
		bus_io_out(pc, (uint16_t)addr, size, (uint32_t)val);
	else if (size <= 8 && ram_write(&pc->ram, addr, &val, size))
		cpu_notify_phys_write(pc->cpu, addr, size);
	else
		bus_mmio_write(pc, addr, size, val);
}

/* One round of the vCPU loop's device work, without running the CPU. */
void pc_poll(struct pc *pc)
{
	sync_apic_base(pc);
	timers_run(&pc->timers, clock_ns());
	virtio_host_poll(&pc->virtio);
	if (pc->nnics || pc->vcon || pc->serial_socket)
		poll_host(pc, 0);
	console_poll(pc);
	if (pc->reset_requested) {
		pc->reset_requested = false;
		pc_reset(pc);
	}
}

const struct guest_ram *pc_guest_ram(const struct pc *pc)
{
	return &pc->ram;
}
