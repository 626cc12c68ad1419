/*
 * A whole PC for hostile-guest tests and the device fuzzer (tests/machine/test_hostile_io.c,
 * fuzz/fuzz_devices.c), driven without its CPU through pc_access_read/write and pc_poll: a
 * virtio-rng, a
 * virtio-blk on a scratch raw image, a virtio-net and a virtio-console with a console port and a
 * named port on scratch files, and PCI helpers that act as a guest driver would.
 *
 * The virtio-net NIC's backend is not slirp: this file defines net_slirp_create (so the linker
 * takes it instead of net/slirp.c's) as an echo backend that counts the frames the guest sends
 * and hands each one straight back to the NIC, synchronously, as slirp does for an ARP or ICMP
 * reply. Nothing a hostile frame says ever reaches the host's network.
 */
#ifndef SOFTVM_TESTS_MACHINE_HOSTILE_H
#define SOFTVM_TESTS_MACHINE_HOSTILE_H
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "block/drive.h"
#include "dev/pci.h"
#include "machine/pc.h"
#include "machine/ram.h"
#include "net/net.h"
#include "virtio/console.h"
#include "virtio/pci.h"
#include "virtio/virtio.h"

/* ---- deterministic random numbers (splitmix64) ---- */

static uint64_t hm_seed;

static uint64_t hm_rand(void)
{
	uint64_t z = (hm_seed += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t hm_below(uint64_t n)
{
	return n ? hm_rand() % n : 0;
}

/* ---- the echo network backend ---- */

struct hm_echo {
	struct net_backend be;
	uint64_t frames, bytes;
	unsigned depth;
};

static uint64_t hm_net_frames;

static void hm_echo_send(struct net_backend *be, const uint8_t *frame, size_t len)
{
	struct hm_echo *e = (struct hm_echo *)be;
	e->frames++;
	e->bytes += len;
	hm_net_frames++;
	if (e->depth == 0) { /* one level: the NIC's receive path must cope with being entered from send */
		e->depth++;
		net_deliver(be, frame, len);
		e->depth--;
	}
}

static void hm_echo_poll_fill(struct net_backend *be, struct net_pollset *ps, int *timeout_ms) {}
static void hm_echo_poll_done(struct net_backend *be, const struct net_pollset *ps, bool error) {}

static void hm_echo_destroy(struct net_backend *be)
{
	free(be);
}

static const struct net_backend_ops hm_echo_ops = { hm_echo_send, hm_echo_poll_fill, hm_echo_poll_done,
						    hm_echo_destroy };

struct net_backend *net_slirp_create(const struct net_config *c, struct timer_list *timers,
				     uint64_t (*clock)(void), char *err, size_t errlen)
{
	struct hm_echo *e = calloc(1, sizeof(*e));
	if (!e) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	e->be.ops = &hm_echo_ops;
	return &e->be;
}

/* ---- the machine ---- */

#define HM_RAM_SIZE (8u << 20)
#define HM_DISK_SIZE (1u << 20)
#define HM_MAX_FN 8

/* Where the helpers place the virtio functions' BARs (inside the PCI hole). */
#define HM_BAR4_BASE 0xe0000000ull /* + 0x10000 * index: common, ISR, device, notify */
#define HM_BAR1_BASE 0xe0008000ull /* + 0x10000 * index: MSI-X table and PBA */

struct hm_fn {
	unsigned devfn;
	uint16_t device_id; /* virtio device ID (PCI device ID - 0x1040) */
	unsigned nqueues;
	uint64_t bar4, bar1;
};

struct hm_machine {
	struct pc *pc;
	const struct guest_ram *ram;
	char dir[64];
	char disk[128], hvc[128], port1[128];
	struct hm_fn fn[HM_MAX_FN];
	unsigned nfn;
	bool guard_before, guard_after;
};

static struct net_config hm_nic;
static struct drive_config hm_drive;
static struct virtio_console_port_config hm_vcon[2];

/* Whether the host page at addr is mapped without any access (guest RAM's guard pages). */
static bool hm_guarded(const void *addr)
{
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		return false;
	char line[512];
	bool guarded = false;
	uintptr_t a = (uintptr_t)addr;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char perms[8];
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && a >= lo && a < hi) {
			guarded = strncmp(perms, "---", 3) == 0;
			break;
		}
	}
	fclose(f);
	return guarded;
}

static uint32_t hm_cfg_read(struct hm_machine *m, unsigned devfn, unsigned off, unsigned size)
{
	pc_access_write(m->pc, true, 0xcf8, 4, 0x80000000u | devfn << 8 | (off & 0xfc));
	return (uint32_t)pc_access_read(m->pc, true, 0xcfc + (off & 3), size);
}

static void hm_cfg_write(struct hm_machine *m, unsigned devfn, unsigned off, unsigned size, uint32_t val)
{
	pc_access_write(m->pc, true, 0xcf8, 4, 0x80000000u | devfn << 8 | (off & 0xfc));
	pc_access_write(m->pc, true, 0xcfc + (off & 3), size, val);
}

/* Finds the virtio functions on bus 0 as a guest enumerates them. */
static void hm_enumerate(struct hm_machine *m)
{
	m->nfn = 0;
	for (unsigned slot = 0; slot < 32 && m->nfn < HM_MAX_FN; slot++) {
		unsigned devfn = slot << 3;
		uint32_t id = hm_cfg_read(m, devfn, 0, 4);
		if ((id & 0xffff) != 0x1af4 || (id >> 16) < 0x1040)
			continue;
		struct hm_fn *f = &m->fn[m->nfn];
		f->devfn = devfn;
		f->device_id = (uint16_t)((id >> 16) - 0x1040);
		f->bar4 = HM_BAR4_BASE + 0x10000ull * m->nfn;
		f->bar1 = HM_BAR1_BASE + 0x10000ull * m->nfn;
		m->nfn++;
	}
}

/* Programs a virtio function's BARs where hm_enumerate planned them and enables memory decoding
 * and bus mastering; then reads its queue count. */
static void hm_map(struct hm_machine *m, struct hm_fn *f)
{
	hm_cfg_write(m, f->devfn, PCI_BASE_ADDRESS_0 + 4 * VIRTIO_PCI_MSIX_BAR, 4, (uint32_t)f->bar1);
	hm_cfg_write(m, f->devfn, PCI_BASE_ADDRESS_0 + 4 * VIRTIO_PCI_BAR, 4, (uint32_t)f->bar4);
	hm_cfg_write(m, f->devfn, PCI_BASE_ADDRESS_0 + 4 * VIRTIO_PCI_BAR + 4, 4, (uint32_t)(f->bar4 >> 32));
	hm_cfg_write(m, f->devfn, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	f->nqueues = (unsigned)pc_access_read(m->pc, false, f->bar4 + VIRTIO_PCI_COMMON_NUMQ, 2);
	if (f->nqueues > VIRTIO_MAX_QUEUES)
		f->nqueues = VIRTIO_MAX_QUEUES;
}

static void hm_map_all(struct hm_machine *m)
{
	for (unsigned k = 0; k < m->nfn; k++)
		hm_map(m, &m->fn[k]);
}

static uint64_t hm_common_read(struct hm_machine *m, struct hm_fn *f, unsigned off, unsigned size)
{
	return pc_access_read(m->pc, false, f->bar4 + VIRTIO_PCI_COMMON_OFF + off, size);
}

static void hm_common_write(struct hm_machine *m, struct hm_fn *f, unsigned off, unsigned size, uint64_t val)
{
	pc_access_write(m->pc, false, f->bar4 + VIRTIO_PCI_COMMON_OFF + off, size, val);
}

static void hm_notify(struct hm_machine *m, struct hm_fn *f, unsigned q)
{
	pc_access_write(m->pc, false, f->bar4 + VIRTIO_PCI_NOTIFY_OFF + VIRTIO_PCI_NOTIFY_MULTIPLIER * q, 2, q);
}

/* Resets the device and negotiates features (VERSION_1 always added). Returns the status read
 * back (FEATURES_OK set when the device accepted). */
static uint8_t hm_negotiate(struct hm_machine *m, struct hm_fn *f, uint64_t features)
{
	hm_common_write(m, f, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	hm_common_write(m, f, VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	features |= VIRTIO_BIT(VIRTIO_F_VERSION_1);
	for (unsigned half = 0; half < 2; half++) {
		hm_common_write(m, f, VIRTIO_PCI_COMMON_GFSELECT, 4, half);
		hm_common_write(m, f, VIRTIO_PCI_COMMON_GF, 4, (uint32_t)(features >> (32 * half)));
	}
	hm_common_write(m, f, VIRTIO_PCI_COMMON_STATUS, 1,
			VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	return (uint8_t)hm_common_read(m, f, VIRTIO_PCI_COMMON_STATUS, 1);
}

/* Sets queue q up (size, ring addresses) and enables it. */
static void hm_queue(struct hm_machine *m, struct hm_fn *f, unsigned q, uint16_t size, uint64_t desc, uint64_t avail,
		     uint64_t used)
{
	hm_common_write(m, f, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
	hm_common_write(m, f, VIRTIO_PCI_COMMON_Q_SIZE, 2, size);
	hm_common_write(m, f, VIRTIO_PCI_COMMON_Q_DESCLO, 8, desc);
	hm_common_write(m, f, VIRTIO_PCI_COMMON_Q_AVAILLO, 4, (uint32_t)avail);
	hm_common_write(m, f, VIRTIO_PCI_COMMON_Q_AVAILHI, 4, (uint32_t)(avail >> 32));
	hm_common_write(m, f, VIRTIO_PCI_COMMON_Q_USEDLO, 4, (uint32_t)used);
	hm_common_write(m, f, VIRTIO_PCI_COMMON_Q_USEDHI, 4, (uint32_t)(used >> 32));
	hm_common_write(m, f, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
}

static struct hm_fn *hm_find(struct hm_machine *m, uint16_t device_id)
{
	for (unsigned k = 0; k < m->nfn; k++)
		if (m->fn[k].device_id == device_id)
			return &m->fn[k];
	return NULL;
}

/* Guest RAM as the host sees it (for the rings the helpers build). */
static uint8_t *hm_ram(struct hm_machine *m, uint64_t gpa, uint64_t len)
{
	return ram_range(m->ram, gpa, len);
}

/* The guest asks for a system reset through the PIIX3 (0xcf9); pc_poll carries it out. */
static void hm_reset(struct hm_machine *m)
{
	pc_access_write(m->pc, true, 0xcf9, 1, 0x06);
	pc_poll(m->pc);
}

/* Builds the machine. Returns false with a message on stderr. The virtio-console ports write
 * files in a scratch directory, or /dev/null with to_null (long fuzzing runs). */
static bool hm_create(struct hm_machine *m, uint64_t ram_size, bool to_null)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->dir, sizeof(m->dir), "/tmp/softvm-hostile-XXXXXX");
	if (!mkdtemp(m->dir)) {
		perror("mkdtemp");
		return false;
	}
	snprintf(m->disk, sizeof(m->disk), "%s/disk.raw", m->dir);
	snprintf(m->hvc, sizeof(m->hvc), "%s", to_null ? "/dev/null" : m->dir);
	snprintf(m->port1, sizeof(m->port1), "%s", to_null ? "/dev/null" : m->dir);
	if (!to_null) {
		strcat(m->hvc, "/hvc0.out");
		strcat(m->port1, "/port1.out");
	}
	int fd = open(m->disk, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, HM_DISK_SIZE) < 0) {
		perror(m->disk);
		return false;
	}
	/* Sector k starts with "SECTOR" and k, so reads can be checked. */
	for (unsigned k = 0; k < HM_DISK_SIZE / 512; k++) {
		char s[16];
		int n = snprintf(s, sizeof(s), "SECTOR%u", k);
		if (pwrite(fd, s, (size_t)n, 512ull * k) != n) {
			perror(m->disk);
			close(fd);
			return false;
		}
	}
	close(fd);

	memset(&hm_nic, 0, sizeof(hm_nic));
	memcpy(hm_nic.mac, "\x52\x54\x00\x12\x34\x56", 6);
	memset(&hm_drive, 0, sizeof(hm_drive));
	snprintf(hm_drive.path, sizeof(hm_drive.path), "%s", m->disk);
	hm_drive.format = BLK_FMT_RAW;
	memset(hm_vcon, 0, sizeof(hm_vcon));
	hm_vcon[0].console = true;
	hm_vcon[0].backend = VCON_BACKEND_FILE;
	snprintf(hm_vcon[0].path, sizeof(hm_vcon[0].path), "%s", m->hvc);
	snprintf(hm_vcon[1].name, sizeof(hm_vcon[1].name), "org.softvm.hostile");
	hm_vcon[1].backend = VCON_BACKEND_FILE;
	snprintf(hm_vcon[1].path, sizeof(hm_vcon[1].path), "%s", m->port1);

	struct pc_config cfg = {
		.ram_size = ram_size,
		.kernel = NULL, /* no kernel: the CPU is never run */
		.console_in = -1,
		.console_out = -1,
		.virtio_rng = true,
		.nics = &hm_nic,
		.nnics = 1,
		.drives = &hm_drive,
		.ndrives = 1,
		.vcon_ports = hm_vcon,
		.nvcon_ports = 2,
	};
	char err[512];
	m->pc = pc_create(&cfg, err, sizeof(err));
	if (!m->pc) {
		fprintf(stderr, "pc_create: %s\n", err);
		return false;
	}
	m->ram = pc_guest_ram(m->pc);
	m->guard_before = hm_guarded(m->ram->host - 1);
	m->guard_after = hm_guarded(m->ram->host + m->ram->size);
	hm_enumerate(m);
	hm_map_all(m);
	return true;
}

static void hm_destroy(struct hm_machine *m)
{
	pc_destroy(m->pc);
	m->pc = NULL;
	unlink(m->disk);
	if (strncmp(m->hvc, "/dev/", 5))
		unlink(m->hvc);
	if (strncmp(m->port1, "/dev/", 5))
		unlink(m->port1);
	rmdir(m->dir);
}
#endif
