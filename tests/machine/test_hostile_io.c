/*
 * A hostile guest against the whole PC's devices (no CPU: the test makes the guest's accesses
 * through pc_access_read/write, see tests/machine/hostile.h). Seeded and deterministic
 * (HOSTILE_SEED=n picks another seed; HOSTILE_SCALE=n runs n times longer):
 *
 *  1. every I/O port 0..0xffff read at sizes 1, 2 and 4 and written with random values;
 *  2. the LAPIC, IOAPIC and HPET pages: every offset read and written at sizes 1/2/4/8, plus the
 *     bytes around each range;
 *  3. the virtio functions' BARs (common, ISR, device, notify, MSI-X table and PBA) likewise;
 *  4. random PCI configuration writes on every function: BARs moved onto each other, onto RAM,
 *     onto the LAPIC, IOAPIC and HPET, sized with all ones, decoding toggled, capabilities
 *     scribbled on, with accesses through the old and new windows;
 *  5. virtio drivers from hell: random features, queue sizes and ring addresses (RAM, straddling
 *     its end, past it, MMIO, wrapping), random descriptors (lengths, flags, next, indirect
 *     tables, addresses as above), avail indices running ahead, notifies, status changes and
 *     resets at random moments, the rings rewritten while the device works on them;
 *  6. all of the above mixed, with guest-requested system resets (0xcf9, 0x92, i8042).
 *
 * After each phase the process is alive, and at the end: guest RAM's neighbours were not touched
 * (PROT_NONE guard pages around it; `make asan` checks the heap), the machine can be reset, and
 * afterwards the timers run (LAPIC timer interrupt in IRR, HPET counter moving, PIT reaching the
 * 8259's IRR) and the virtio-rng, virtio-blk, virtio-net and virtio-console devices serve a
 * well-formed request correctly.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <string.h>
#include <time.h>

#include "dev/hpet.h"
#include "machine/timer.h"
#include "tests/machine/hostile.h"
#include "tests/test.h"

static struct hm_machine M;
static unsigned scale = 1;
static const char *phase = "setup";

static void watchdog(int sig)
{
	static const char msg[] = "FAIL: watchdog: the machine hung in phase ";
	if (write(2, msg, sizeof(msg) - 1) < 0 || write(2, phase, strlen(phase)) < 0 || write(2, "\n", 1) < 0) {
		/* nothing more to do */
	}
	_exit(1);
}

static double now_s(void)
{
	return clock_ns() / 1e9;
}

static uint64_t rd(bool port, uint64_t a, unsigned size)
{
	return pc_access_read(M.pc, port, a, size);
}

static void wr(bool port, uint64_t a, unsigned size, uint64_t v)
{
	pc_access_write(M.pc, port, a, size, v);
}

static unsigned rand_size(void)
{
	return 1u << hm_below(4);
}

/* Random values with a bias to the interesting ones. */
static uint64_t rand_val(void)
{
	switch (hm_below(8)) {
	case 0: return 0;
	case 1: return ~0ull;
	case 2: return hm_below(256);
	case 3: return 1ull << hm_below(64);
	default: return hm_rand();
	}
}

/* A guest-physical address a hostile driver might hand a device. */
static uint64_t rand_gpa(void)
{
	uint64_t ram = M.ram->size;
	switch (hm_below(12)) {
	case 0: return 0;
	case 1: return ram - hm_below(64);                       /* straddling the end of RAM */
	case 2: return ram + hm_below(1u << 20);                 /* past it */
	case 3: return 0xfee00000ull + hm_below(0x1000);         /* LAPIC */
	case 4: return 0xfec00000ull + hm_below(0x1000);         /* IOAPIC */
	case 5: return HM_BAR4_BASE + hm_below(0x20000);         /* virtio BARs */
	case 6: return ~0ull - hm_below(0x1000);                 /* wrapping */
	case 7: return hm_rand();
	case 8: return 0x100000000ull + hm_below(1u << 20);      /* "high RAM" that is not there */
	default: return hm_below(ram);                           /* RAM */
	}
}

static uint32_t rand_len(void)
{
	switch (hm_below(6)) {
	case 0: return 0;
	case 1: return ~0u - (uint32_t)hm_below(16);
	case 2: return (uint32_t)hm_rand();
	case 3: return (uint32_t)M.ram->size;
	default: return (uint32_t)hm_below(0x3000);
	}
}

static void poll_some(void)
{
	pc_poll(M.pc);
}

static void put_desc(uint64_t table, unsigned k, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next);
static void put_avail(uint64_t avail, uint16_t slot, uint16_t head, uint16_t idx);

/* ---- 1. ports ---- */

static void phase_ports(void)
{
	phase = "ports";
	for (uint32_t p = 0; p <= 0xffff; p++) {
		for (unsigned s = 1; s <= 4; s <<= 1)
			(void)rd(true, p, s);
		wr(true, p, rand_size() & 7 ? rand_size() & 7 : 1, rand_val());
		if ((p & 0xff) == 0xff)
			poll_some();
	}
	/* Then the decoded ones again, many times, in random order (the legacy devices' state
	 * machines: PIT latches, RTC index, i8042 commands, UART divisor latch, fw_cfg DMA, ...). */
	static const uint16_t live[][2] = {
		{ 0x20, 2 }, { 0x40, 4 }, { 0x60, 1 }, { 0x61, 1 }, { 0x64, 1 }, { 0x70, 2 }, { 0x92, 1 },
		{ 0xa0, 2 }, { 0x3f8, 8 }, { 0x4d0, 2 }, { 0x510, 12 }, { 0x600, 16 }, { 0xcf8, 8 },
	};
	for (unsigned n = 0; n < 200000 * scale; n++) {
		unsigned k = (unsigned)hm_below(sizeof(live) / sizeof(live[0]));
		uint16_t p = (uint16_t)(live[k][0] + hm_below(live[k][1] + 3) - 1);
		unsigned s = rand_size();
		if (s == 8)
			s = 4;
		if (hm_below(2))
			(void)rd(true, p, s);
		else
			wr(true, p, s, rand_val());
		if (!(n & 1023))
			poll_some();
	}
	CHECK(1, "ports: every port read and written at every size, then the live ones 200000 times");
}

/* ---- 2. platform MMIO ---- */

static void sweep_mmio(uint64_t base, uint64_t len, unsigned writes_per_offset)
{
	for (uint64_t a = base - 16; a < base + len + 16; a++) {
		for (unsigned s = 1; s <= 8; s <<= 1) {
			(void)rd(false, a, s);
			for (unsigned w = 0; w < writes_per_offset; w++)
				if (hm_below(4) == 0)
					wr(false, a, s, rand_val());
		}
		if ((a & 0xff) == 0)
			poll_some();
	}
}

static void phase_platform_mmio(void)
{
	phase = "platform mmio";
	sweep_mmio(0xfee00000ull, 0x1000, 1);
	sweep_mmio(0xfec00000ull, 0x1000, 1);
	sweep_mmio(0xfed00000ull, 0x400, 1);
	for (unsigned n = 0; n < 200000 * scale; n++) {
		static const uint64_t base[] = { 0xfee00000ull, 0xfec00000ull, 0xfed00000ull };
		static const uint64_t len[] = { 0x1000, 0x1000, 0x400 };
		unsigned k = (unsigned)hm_below(3);
		uint64_t a = base[k] + (hm_below(4) ? hm_below(len[k]) & ~3ull : hm_below(len[k]));
		unsigned s = rand_size();
		if (hm_below(2))
			(void)rd(false, a, s);
		else
			wr(false, a, s, rand_val());
		if (!(n & 1023))
			poll_some();
	}
	CHECK(1, "LAPIC, IOAPIC and HPET: every offset at every size, then 200000 random accesses");
}

/* ---- 3. virtio BARs ---- */

static void phase_virtio_bars(void)
{
	phase = "virtio bars";
	hm_map_all(&M);
	for (unsigned k = 0; k < M.nfn; k++) {
		struct hm_fn *f = &M.fn[k];
		for (uint64_t a = f->bar4; a < f->bar4 + VIRTIO_PCI_BAR_SIZE; a++) {
			uint64_t o = a - f->bar4;
			if ((o & 0xfff) >= 0x100 && (o & 0xfff) < 0xff0)
				continue; /* the structures sit at the start of each 4 KiB; sample the rest */
			for (unsigned s = 1; s <= 8; s <<= 1) {
				(void)rd(false, a, s);
				if (hm_below(3) == 0)
					wr(false, a, s, rand_val());
			}
		}
		for (uint64_t a = f->bar1 - 8; a < f->bar1 + VIRTIO_PCI_MSIX_BAR_SIZE + 8; a++)
			for (unsigned s = 1; s <= 8; s <<= 1) {
				(void)rd(false, a, s);
				if (hm_below(3) == 0)
					wr(false, a, s, rand_val());
			}
		poll_some();
	}
	CHECK(M.nfn == 4, "4 virtio functions found (rng, net, console, blk): %u", M.nfn);
	CHECK(1, "virtio BARs: every register offset at every size");
}

/* ---- 4. PCI configuration ---- */

static uint32_t rand_bar_value(void)
{
	switch (hm_below(9)) {
	case 0: return 0xffffffffu;                        /* sizing */
	case 1: return 0;                                  /* onto RAM at 0 */
	case 2: return (uint32_t)hm_below(M.ram->size);    /* onto RAM */
	case 3: return 0xfee00000u;                        /* onto the LAPIC */
	case 4: return 0xfec00000u;                        /* onto the IOAPIC */
	case 5: return 0xfed00000u;                        /* onto the HPET */
	case 6: return (uint32_t)(HM_BAR4_BASE + 0x10000 * hm_below(M.nfn) + hm_below(2) * 0x8000); /* another BAR */
	case 7: return (uint32_t)hm_below(0x10000);        /* I/O-ish */
	default: return (uint32_t)hm_rand();
	}
}

static void config_chaos(unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		unsigned devfn;
		if (M.nfn && hm_below(4))
			devfn = M.fn[hm_below(M.nfn)].devfn;
		else
			devfn = (unsigned)hm_below(hm_below(8) ? 0x30 : 256);
		unsigned off, size = 1u << hm_below(3);
		uint32_t v;
		switch (hm_below(6)) {
		case 0:
			off = PCI_BASE_ADDRESS_0 + 4 * (unsigned)hm_below(6);
			size = 4;
			v = rand_bar_value();
			break;
		case 1:
			off = PCI_COMMAND;
			v = (uint32_t)hm_below(0x10000);
			break;
		case 2:
			off = 0x40 + (unsigned)hm_below(0xc0); /* capabilities: MSI-X control, virtio caps */
			v = (uint32_t)rand_val();
			break;
		default:
			off = (unsigned)hm_below(256);
			v = (uint32_t)rand_val();
			break;
		}
		if (hm_below(8) == 0)
			(void)hm_cfg_read(&M, devfn, off, size);
		else
			hm_cfg_write(&M, devfn, off, size, v);
		/* Raw mechanism #1 abuse too: bad CONFIG_ADDRESS values, odd data port widths. */
		if (hm_below(16) == 0) {
			wr(true, 0xcf8, 4, hm_rand());
			wr(true, 0xcfc + hm_below(4), rand_size() & 7 ? rand_size() & 7 : 4, rand_val());
		}
		/* Accesses wherever BARs might now be. */
		for (unsigned k = 0; k < 4; k++) {
			uint64_t a = hm_below(2) ? rand_bar_value() + hm_below(0x4000) : rand_gpa();
			unsigned s = rand_size();
			if (hm_below(2))
				(void)rd(false, a, s);
			else if (a < 0xfee00000ull || a >= 0xfee01000ull || hm_below(4) == 0)
				wr(false, a, s, rand_val());
		}
		if (!(i & 255))
			poll_some();
	}
}

static void phase_pci_config(void)
{
	phase = "pci config";
	config_chaos(100000 * scale);
	CHECK(1, "PCI configuration: 100000 random writes (BARs over each other, RAM, LAPIC, IOAPIC, HPET)");
}

/* ---- 5. virtio rings ---- */

/* Random descriptors, avail ring and used ring contents at the queue's addresses (when they are
 * RAM at all). */
static void scribble_ring(uint64_t desc, uint64_t avail, uint64_t used, uint16_t size, uint16_t idx)
{
	unsigned n = size ? size : 16;
	if (n > 256)
		n = 256;
	for (unsigned d = 0; d < n; d++) {
		uint8_t *p = hm_ram(&M, desc + 16ull * d, 16);
		if (!p)
			break;
		uint64_t addr = rand_gpa();
		uint32_t len = rand_len();
		uint16_t flags = (uint16_t)(hm_below(4) ? hm_below(8) : hm_rand());
		uint16_t next = (uint16_t)(hm_below(4) ? hm_below(n) : hm_rand());
		if (flags & VIRTQ_DESC_F_INDIRECT && hm_below(2)) {
			/* an indirect table in RAM, itself full of random descriptors */
			uint64_t t = hm_below(M.ram->size - 0x4000);
			len = 16 * (uint32_t)(1 + hm_below(64));
			addr = t;
			for (unsigned j = 0; j < len / 16; j++) {
				uint8_t *q = hm_ram(&M, t + 16ull * j, 16);
				uint64_t a2 = rand_gpa();
				uint32_t l2 = rand_len();
				uint16_t f2 = (uint16_t)hm_below(8), n2 = (uint16_t)hm_below(len / 16 + 2);
				memcpy(q, &a2, 8);
				memcpy(q + 8, &l2, 4);
				memcpy(q + 12, &f2, 2);
				memcpy(q + 14, &n2, 2);
			}
		}
		memcpy(p, &addr, 8);
		memcpy(p + 8, &len, 4);
		memcpy(p + 12, &flags, 2);
		memcpy(p + 14, &next, 2);
	}
	uint8_t *a = hm_ram(&M, avail, 4 + 2ull * n + 2);
	if (a) {
		uint16_t fl = (uint16_t)hm_below(2);
		memcpy(a, &fl, 2);
		memcpy(a + 2, &idx, 2);
		for (unsigned k = 0; k < n; k++) {
			uint16_t h = (uint16_t)(hm_below(4) ? hm_below(n) : hm_rand());
			memcpy(a + 4 + 2 * k, &h, 2);
		}
		uint16_t ev = (uint16_t)hm_rand();
		memcpy(a + 4 + 2 * n, &ev, 2);
	}
	uint8_t *u = hm_ram(&M, used, 4);
	if (u && hm_below(4) == 0) {
		uint32_t junk = (uint32_t)hm_rand();
		memcpy(u, &junk, 4);
	}
}

static uint64_t ring_addr(void)
{
	/* mostly plausible RAM (so chains get walked), sometimes anything */
	return hm_below(3) ? (hm_below(M.ram->size - 0x10000) & ~0xfull) : rand_gpa();
}

static void driver_from_hell(struct hm_fn *f)
{
	uint64_t features = hm_below(4) ? hm_rand() : 0;
	uint8_t st = hm_negotiate(&M, f, features);
	if (!(st & VIRTIO_STATUS_FEATURES_OK) && hm_below(2)) /* then with what the device offers */
		st = hm_negotiate(&M, f, VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC) | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX) |
						 (hm_below(2) ? 0xffffffffull & hm_rand() : 0));
	uint64_t q_desc[VIRTIO_MAX_QUEUES], q_avail[VIRTIO_MAX_QUEUES], q_used[VIRTIO_MAX_QUEUES];
	uint16_t q_size[VIRTIO_MAX_QUEUES];
	unsigned nq = f->nqueues + (unsigned)hm_below(2); /* and one that does not exist */
	if (nq > VIRTIO_MAX_QUEUES)
		nq = VIRTIO_MAX_QUEUES;
	for (unsigned q = 0; q < nq; q++) {
		uint16_t size = hm_below(4) ? (uint16_t)(1u << hm_below(9)) : (uint16_t)hm_rand();
		q_size[q] = size;
		q_desc[q] = ring_addr();
		q_avail[q] = hm_below(4) ? q_desc[q] + 16ull * size : ring_addr();
		q_used[q] = hm_below(4) ? ((q_avail[q] + 6 + 2ull * size + 3) & ~3ull) : ring_addr();
		hm_common_write(&M, f, VIRTIO_PCI_COMMON_Q_MSIX, 2, hm_below(4));
		hm_queue(&M, f, q, size, q_desc[q], q_avail[q], q_used[q]);
		scribble_ring(q_desc[q], q_avail[q], q_used[q], size, (uint16_t)hm_below(size + 4));
	}
	hm_common_write(&M, f, VIRTIO_PCI_COMMON_MSIX, 2, hm_below(3));
	/* MSI-X on, vectors pointing anywhere. */
	if (hm_below(2)) {
		for (unsigned v = 0; v < 4; v++) {
			wr(false, f->bar1 + 16 * v, 4, hm_below(2) ? 0xfee00000u : (uint32_t)hm_rand());
			wr(false, f->bar1 + 16 * v + 8, 4, hm_below(2) ? 0x30 + v : (uint32_t)hm_rand());
			wr(false, f->bar1 + 16 * v + 12, 4, hm_below(4) ? 0 : 1);
		}
		unsigned cap = hm_cfg_read(&M, f->devfn, PCI_CAPABILITY_LIST, 1);
		hm_cfg_write(&M, f->devfn, cap + 2, 2, hm_below(4) ? 0x8000 : 0xc000);
	}
	hm_common_write(&M, f, VIRTIO_PCI_COMMON_STATUS, 1, st | VIRTIO_STATUS_DRIVER_OK);
	unsigned rounds = 1 + (unsigned)hm_below(20);
	for (unsigned r = 0; r < rounds; r++) {
		unsigned q = (unsigned)hm_below(nq + 1);
		if (q < nq && hm_below(2))
			scribble_ring(q_desc[q], q_avail[q], q_used[q], q_size[q], (uint16_t)hm_rand());
		hm_notify(&M, f, q);
		switch (hm_below(16)) {
		case 0: hm_common_write(&M, f, VIRTIO_PCI_COMMON_STATUS, 1, 0); break; /* reset mid-flight */
		case 1: hm_common_write(&M, f, VIRTIO_PCI_COMMON_STATUS, 1, hm_rand()); break;
		case 2: hm_cfg_write(&M, f->devfn, PCI_COMMAND, 2, 0); break; /* bus master off */
		case 3: (void)pc_access_read(M.pc, false, f->bar4 + VIRTIO_PCI_ISR_OFF, 1); break;
		case 4: wr(false, f->bar4 + VIRTIO_PCI_DEVICE_OFF + hm_below(64), rand_size(), rand_val()); break;
		default: break;
		}
		poll_some();
		if (hm_below(4) == 0)
			hm_map(&M, f);
	}
}

/* A driver that mostly follows the rules, so chains get popped and served, with hostile
 * contents: request headers, sectors, frame headers and control messages at and past their
 * limits, buffers of odd lengths, and now and then one broken descriptor. */
#define PLAUS_RINGS 0x200000ull /* queue q's rings at + 0x10000 * q */
#define PLAUS_BUFS 0x400000ull  /* buffers anywhere in [PLAUS_BUFS, RAM end) */

static uint64_t plaus_buf(uint32_t len)
{
	uint64_t room = M.ram->size - PLAUS_BUFS;
	if (len >= room)
		len = (uint32_t)room;
	return PLAUS_BUFS + hm_below(room - len + 1);
}

static void fill_random(uint64_t gpa, uint32_t len)
{
	uint8_t *p = hm_ram(&M, gpa, len);
	for (uint32_t k = 0; p && k < len; k++)
		p[k] = (uint8_t)hm_rand();
}

/* The first readable buffer's contents for a request to device `id` on queue q. */
static void plausible_header(uint16_t id, unsigned q, uint64_t gpa, uint32_t len)
{
	uint8_t h[64] = { 0 };
	for (unsigned k = 0; k < sizeof(h); k++)
		h[k] = (uint8_t)hm_rand();
	if (id == VIRTIO_ID_BLOCK) {
		static const uint32_t types[] = { 0, 1, 4, 8, 11, 13, 16, 2, 0xffffffffu };
		uint32_t t = types[hm_below(sizeof(types) / sizeof(types[0]))];
		uint64_t sector = hm_below(2) ? hm_below(HM_DISK_SIZE / 512 + 8) : hm_rand();
		memcpy(h, &t, 4);
		memcpy(h + 8, &sector, 8);
		/* discard / write zeroes segments: sector, num_sectors, flags */
		uint64_t s2 = hm_below(HM_DISK_SIZE / 512 + 4);
		uint32_t n2 = (uint32_t)(hm_below(2) ? hm_below(64) : hm_rand()), fl = (uint32_t)hm_below(4);
		memcpy(h + 16, &s2, 8);
		memcpy(h + 24, &n2, 4);
		memcpy(h + 28, &fl, 4);
	} else if (id == VIRTIO_ID_NET && q == 1) {
		h[0] = (uint8_t)hm_below(8);          /* flags: NEEDS_CSUM, DATA_VALID, RSC_INFO */
		static const uint8_t gso[] = { 0, 1, 3, 4, 5, 0x80, 0x81 };
		h[1] = gso[hm_below(sizeof(gso))];
		uint16_t w[4] = { (uint16_t)hm_below(100), (uint16_t)hm_below(2000), (uint16_t)hm_below(100),
				  (uint16_t)hm_below(64) };
		if (hm_below(4) == 0)
			w[hm_below(4)] = (uint16_t)hm_rand();
		memcpy(h + 2, w, 8);                  /* hdr_len, gso_size, csum_start, csum_offset */
		/* Ethernet + IPv4/IPv6 + TCP-looking frame after the 12-byte header */
		memset(h + 12, 0xff, 6);
		h[24] = hm_below(2) ? 0x08 : 0x86;
		h[25] = h[24] == 0x08 ? 0x00 : 0xdd;
		h[26] = h[24] == 0x08 ? (uint8_t)(0x45 + hm_below(3)) : 0x60;
	} else if (id == VIRTIO_ID_CONSOLE && q == 3) {
		uint32_t pid = (uint32_t)(hm_below(4) ? hm_below(4) : hm_rand());
		uint16_t ev = (uint16_t)(hm_below(8) ? hm_below(9) : hm_rand()), val = (uint16_t)hm_below(3);
		memcpy(h, &pid, 4);
		memcpy(h + 4, &ev, 2);
		memcpy(h + 6, &val, 2);
	}
	uint8_t *p = hm_ram(&M, gpa, len < sizeof(h) ? len : sizeof(h));
	if (p)
		memcpy(p, h, len < sizeof(h) ? len : sizeof(h));
}

static uint32_t plaus_len(void)
{
	switch (hm_below(8)) {
	case 0: return (uint32_t)hm_below(16);
	case 1: return 512 * (uint32_t)(1 + hm_below(8));
	case 2: return (uint32_t)hm_below(0x11000);
	default: return (uint32_t)hm_below(2048);
	}
}

/* One chain at descriptors [first, first + n) of a direct table, or through an indirect table. */
static uint16_t plausible_chain(struct hm_fn *f, unsigned q, uint64_t desc, uint16_t size, uint16_t first,
				bool use_indirect)
{
	unsigned n_out = (unsigned)hm_below(4), n_in = (unsigned)hm_below(4);
	if (f->device_id == VIRTIO_ID_RNG || (f->device_id == VIRTIO_ID_NET && q == 0) ||
	    (f->device_id == VIRTIO_ID_CONSOLE && (q % 2) == 0 && q != 3)) {
		if (hm_below(4))
			n_out = 0; /* receive queues: writable buffers */
		n_in += 1;
	} else if (hm_below(4)) {
		n_out += 1;
		if (f->device_id == VIRTIO_ID_BLOCK)
			n_in += 1; /* the status byte */
	}
	unsigned n = n_out + n_in;
	if (!n)
		n = n_in = 1;
	uint64_t table = desc;
	unsigned base = first, tsize = size;
	if (use_indirect) {
		table = plaus_buf(16 * n);
		base = 0;
		tsize = n;
	} else if (n > size) {
		n = size;
		if (n_out > n)
			n_out = n;
		n_in = n - n_out;
	}
	for (unsigned k = 0; k < n; k++) {
		uint32_t len = plaus_len();
		if (f->device_id == VIRTIO_ID_BLOCK && k == 0 && n_out)
			len = hm_below(8) ? 16 : (uint32_t)hm_below(32);
		if (f->device_id == VIRTIO_ID_BLOCK && k == n - 1 && n_in && hm_below(8))
			len = 1;
		uint64_t gpa = plaus_buf(len);
		if (k == 0 && n_out)
			plausible_header(f->device_id, q, gpa, len);
		else if (k < n_out)
			fill_random(gpa, len < 256 ? len : 256);
		uint16_t flags = (uint16_t)((k >= n_out ? VIRTQ_DESC_F_WRITE : 0) | (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
		uint16_t next = (uint16_t)((base + k + 1) % tsize);
		if (hm_below(200) == 0) { /* one broken descriptor now and then */
			gpa = rand_gpa();
			len = rand_len();
			flags = (uint16_t)hm_rand();
			next = (uint16_t)hm_rand();
		}
		put_desc(table, (base + k) % tsize, gpa, len, flags, next);
	}
	if (use_indirect) {
		put_desc(desc, first, table, 16 * n, VIRTQ_DESC_F_INDIRECT, 0);
		return 1;
	}
	return (uint16_t)n;
}

static void driver_plausible(struct hm_fn *f)
{
	uint64_t offered = 0;
	hm_common_write(&M, f, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	for (unsigned half = 0; half < 2; half++) {
		hm_common_write(&M, f, VIRTIO_PCI_COMMON_DFSELECT, 4, half);
		offered |= hm_common_read(&M, f, VIRTIO_PCI_COMMON_DF, 4) << (32 * half);
	}
	uint64_t want = offered & (hm_rand() | hm_rand());
	uint8_t st = hm_negotiate(&M, f, want);
	if (!(st & VIRTIO_STATUS_FEATURES_OK))
		return;
	bool indirect = want & VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC);
	uint16_t size[VIRTIO_MAX_QUEUES], avail_idx[VIRTIO_MAX_QUEUES] = { 0 }, next_desc[VIRTIO_MAX_QUEUES] = { 0 };
	for (unsigned q = 0; q < f->nqueues; q++) {
		hm_common_write(&M, f, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
		uint16_t max = (uint16_t)hm_common_read(&M, f, VIRTIO_PCI_COMMON_Q_SIZE, 2);
		uint16_t sz = 1;
		while (sz < max && sz < 256 && hm_below(4))
			sz <<= 1;
		size[q] = sz;
		uint64_t r = PLAUS_RINGS + 0x10000ull * q;
		memset(hm_ram(&M, r, 0x10000), 0, 0x10000);
		hm_common_write(&M, f, VIRTIO_PCI_COMMON_Q_MSIX, 2, hm_below(f->nqueues + 2));
		hm_queue(&M, f, q, sz, r, r + 0x1000, r + 0x2000);
	}
	hm_common_write(&M, f, VIRTIO_PCI_COMMON_MSIX, 2, 0);
	if (hm_below(2)) {
		for (unsigned v = 0; v <= f->nqueues; v++) {
			wr(false, f->bar1 + 16 * v, 4, 0xfee00000u);
			wr(false, f->bar1 + 16 * v + 8, 4, 0x30 + v);
			wr(false, f->bar1 + 16 * v + 12, 4, hm_below(4) ? 0 : 1);
		}
		unsigned cap = hm_cfg_read(&M, f->devfn, PCI_CAPABILITY_LIST, 1);
		hm_cfg_write(&M, f->devfn, cap + 2, 2, 0x8000);
	}
	hm_common_write(&M, f, VIRTIO_PCI_COMMON_STATUS, 1, st | VIRTIO_STATUS_DRIVER_OK);
	unsigned rounds = 1 + (unsigned)hm_below(30);
	for (unsigned r = 0; r < rounds; r++) {
		unsigned q = (unsigned)hm_below(f->nqueues);
		uint64_t ring = PLAUS_RINGS + 0x10000ull * q;
		unsigned chains = 1 + (unsigned)hm_below(size[q]);
		for (unsigned c = 0; c < chains; c++) {
			uint16_t used = plausible_chain(f, q, ring, size[q], next_desc[q], indirect && hm_below(3) == 0);
			put_avail(ring + 0x1000, avail_idx[q] % size[q], next_desc[q], (uint16_t)(avail_idx[q] + 1));
			avail_idx[q]++;
			next_desc[q] = (uint16_t)((next_desc[q] + used) % size[q]);
		}
		hm_notify(&M, f, q);
		if (hm_below(32) == 0)
			hm_common_write(&M, f, VIRTIO_PCI_COMMON_STATUS, 1, 0); /* reset with requests in flight */
		poll_some();
	}
}

static void phase_virtio_rings(void)
{
	phase = "virtio rings";
	hm_map_all(&M);
	double t0 = now_s();
	unsigned n = 0;
	for (n = 0; n < 3000 * scale; n++) {
		if (hm_below(2))
			driver_from_hell(&M.fn[hm_below(M.nfn)]);
		else
			driver_plausible(&M.fn[hm_below(M.nfn)]);
		if (hm_below(64) == 0) {
			hm_reset(&M);
			hm_map_all(&M);
		}
	}
	CHECK(1, "virtio: %u hostile driver sessions in %.1f s, %llu frames echoed", n, now_s() - t0,
	      (unsigned long long)hm_net_frames);
}

/* ---- 6. everything mixed ---- */

static void phase_mixed(void)
{
	phase = "mixed";
	for (unsigned n = 0; n < 200000 * scale; n++) {
		switch (hm_below(10)) {
		case 0: config_chaos(1); break;
		case 1:
			if (hm_below(16) == 0)
				driver_from_hell(&M.fn[hm_below(M.nfn)]);
			break;
		case 2: {
			static const uint16_t resets[][2] = { { 0xcf9, 0x06 }, { 0x92, 0x01 }, { 0x64, 0xfe } };
			if (hm_below(256) == 0) {
				unsigned k = (unsigned)hm_below(3);
				wr(true, resets[k][0], 1, resets[k][1]);
			}
			break;
		}
		case 3:
		case 4: {
			uint16_t p = (uint16_t)hm_rand();
			if (hm_below(2))
				p = (uint16_t)(hm_below(2) ? 0x500 + hm_below(0x200) : hm_below(0x100));
			if (hm_below(2))
				(void)rd(true, p, rand_size() & 7 ? rand_size() & 7 : 1);
			else
				wr(true, p, rand_size() & 7 ? rand_size() & 7 : 1, rand_val());
			break;
		}
		default: {
			uint64_t a = hm_below(2) ? 0xfec00000ull + hm_below(0x201000) : rand_gpa();
			if (hm_below(2))
				(void)rd(false, a, rand_size());
			else
				wr(false, a, rand_size(), rand_val());
			break;
		}
		}
		if (!(n & 255))
			poll_some();
	}
	CHECK(1, "mixed: 200000 operations with guest-requested resets");
}

/* ---- the checks afterwards ---- */

#define LAPIC 0xfee00000ull

static bool poll_until(bool (*cond)(void), double seconds)
{
	double end = now_s() + seconds;
	while (!cond()) {
		if (now_s() > end)
			return false;
		pc_poll(M.pc);
		usleep(100);
	}
	return true;
}

static bool lapic_irr_0x40(void)
{
	return rd(false, LAPIC + 0x200 + 0x10 * (0x40 / 32), 4) & 1;
}

static bool pic_irr_irq0(void)
{
	wr(true, 0x20, 1, 0x0a); /* OCW3: read IRR */
	return rd(true, 0x20, 1) & 1;
}

static void check_timers(void)
{
	phase = "timers";
	/* LAPIC timer: one-shot, vector 0x40, divide by 1, 1000 ticks. */
	wr(false, LAPIC + 0xf0, 4, 0x1ff); /* SVR: enabled */
	wr(false, LAPIC + 0x3e0, 4, 0xb);
	wr(false, LAPIC + 0x320, 4, 0x40);
	wr(false, LAPIC + 0x380, 4, 1000);
	CHECK(poll_until(lapic_irr_0x40, 2.0), "after the abuse and a reset, the LAPIC timer still fires");

	/* HPET main counter runs once enabled. */
	wr(false, HPET_BASE + 0x10, 8, 1);
	uint64_t c0 = rd(false, HPET_BASE + 0xf0, 8);
	usleep(2000);
	pc_poll(M.pc);
	uint64_t c1 = rd(false, HPET_BASE + 0xf0, 8);
	CHECK(c1 > c0, "HPET main counter runs (%llu -> %llu)", (unsigned long long)c0, (unsigned long long)c1);
	wr(false, HPET_BASE + 0x10, 8, 0);

	/* PIT channel 0, mode 2, ~1 ms: IRQ0 reaches the 8259's IRR. */
	wr(true, 0x20, 1, 0x11); /* ICW1..4: master at vector 0x20 */
	wr(true, 0x21, 1, 0x20);
	wr(true, 0x21, 1, 0x04);
	wr(true, 0x21, 1, 0x01);
	wr(true, 0x43, 1, 0x34);
	wr(true, 0x40, 1, 0xa9);
	wr(true, 0x40, 1, 0x04);
	CHECK(poll_until(pic_irr_irq0, 2.0), "the PIT still raises IRQ0 at the 8259");
}

static volatile uint64_t used_at;
static volatile uint16_t used_want;

static bool used_reached(void)
{
	uint8_t *u = hm_ram(&M, used_at, 4);
	uint16_t idx;
	memcpy(&idx, u + 2, 2);
	return idx == used_want;
}

static void put_desc(uint64_t table, unsigned k, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *p = hm_ram(&M, table + 16ull * k, 16);
	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

static void put_avail(uint64_t avail, uint16_t slot, uint16_t head, uint16_t idx)
{
	uint8_t *a = hm_ram(&M, avail, 4 + 2ull * (slot + 1));
	memset(a, 0, 2);
	memcpy(a + 4 + 2 * slot, &head, 2);
	memcpy(a + 2, &idx, 2);
}

static uint32_t used_len(uint64_t used, unsigned slot)
{
	uint32_t l;
	memcpy(&l, hm_ram(&M, used + 4 + 8ull * slot + 4, 4), 4);
	return l;
}

/* Rings for the checks: queue q of a function at 0x100000 + 0x10000 * q. */
#define RING(q) (0x100000ull + 0x10000ull * (q))
#define DESC(q) RING(q)
#define AVAIL(q) (RING(q) + 0x1000)
#define USED(q) (RING(q) + 0x2000)
#define BUF(q) (RING(q) + 0x4000)

static bool setup_device(struct hm_fn *f, uint64_t features, unsigned nq)
{
	uint8_t st = hm_negotiate(&M, f, features);
	if (!(st & VIRTIO_STATUS_FEATURES_OK))
		return false;
	memset(hm_ram(&M, RING(0), 0x10000ull * nq), 0, 0x10000ull * nq);
	for (unsigned q = 0; q < nq; q++)
		hm_queue(&M, f, q, 16, DESC(q), AVAIL(q), USED(q));
	hm_common_write(&M, f, VIRTIO_PCI_COMMON_STATUS, 1, st | VIRTIO_STATUS_DRIVER_OK);
	return hm_common_read(&M, f, VIRTIO_PCI_COMMON_STATUS, 1) == (st | VIRTIO_STATUS_DRIVER_OK);
}

static bool wait_used(uint64_t used, uint16_t want)
{
	used_at = used;
	used_want = want;
	return poll_until(used_reached, 5.0);
}

static void check_devices_after_reset(void)
{
	phase = "devices after reset";
	hm_reset(&M);
	/* Reset leaves BARs unmapped and the functions quiet. */
	bool quiet = true;
	for (unsigned k = 0; k < M.nfn; k++) {
		struct hm_fn *f = &M.fn[k];
		quiet &= hm_cfg_read(&M, f->devfn, PCI_COMMAND, 2) == 0;
		quiet &= hm_cfg_read(&M, f->devfn, PCI_BASE_ADDRESS_0 + 4 * VIRTIO_PCI_BAR, 4) == 0xc; /* 64-bit, prefetchable */
	}
	CHECK(quiet, "after a guest reset every virtio function is back to its reset configuration");
	hm_map_all(&M);
	for (unsigned k = 0; k < M.nfn; k++)
		CHECK(hm_common_read(&M, &M.fn[k], VIRTIO_PCI_COMMON_STATUS, 1) == 0, "virtio %u: status 0 after reset",
		      M.fn[k].device_id);

	/* virtio-rng: 64 random bytes. */
	struct hm_fn *f = hm_find(&M, VIRTIO_ID_RNG);
	if (f && setup_device(f, 0, 1)) {
		memset(hm_ram(&M, BUF(0), 64), 0, 64);
		put_desc(DESC(0), 0, BUF(0), 64, VIRTQ_DESC_F_WRITE, 0);
		put_avail(AVAIL(0), 0, 0, 1);
		hm_notify(&M, f, 0);
		bool ok = wait_used(USED(0), 1) && used_len(USED(0), 0) == 64;
		uint8_t zero[64] = { 0 };
		CHECK(ok && memcmp(hm_ram(&M, BUF(0), 64), zero, 64) != 0, "virtio-rng serves 64 random bytes");
	} else {
		CHECK(0, "virtio-rng set up after the reset");
	}

	/* virtio-blk: read sector 7. */
	f = hm_find(&M, VIRTIO_ID_BLOCK);
	if (f && setup_device(f, 0, 1)) {
		uint8_t hdr[16] = { 0 };
		uint64_t sector = 7;
		memcpy(hdr + 8, &sector, 8); /* type 0: read */
		memcpy(hm_ram(&M, BUF(0), 16), hdr, 16);
		memset(hm_ram(&M, BUF(0) + 0x100, 513), 0xee, 513);
		put_desc(DESC(0), 0, BUF(0), 16, VIRTQ_DESC_F_NEXT, 1);
		put_desc(DESC(0), 1, BUF(0) + 0x100, 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
		put_desc(DESC(0), 2, BUF(0) + 0x300, 1, VIRTQ_DESC_F_WRITE, 0);
		*hm_ram(&M, BUF(0) + 0x300, 1) = 0xee;
		put_avail(AVAIL(0), 0, 0, 1);
		hm_notify(&M, f, 0);
		bool ok = wait_used(USED(0), 1);
		CHECK(ok && *hm_ram(&M, BUF(0) + 0x300, 1) == 0 &&
			      memcmp(hm_ram(&M, BUF(0) + 0x100, 8), "SECTOR7", 8) == 0,
		      "virtio-blk reads sector 7 correctly");
	} else {
		CHECK(0, "virtio-blk set up after the reset");
	}

	/* virtio-net: a frame sent on tx comes back on rx through the echo backend. */
	f = hm_find(&M, VIRTIO_ID_NET);
	if (f && setup_device(f, 0, 2)) {
		/* rx buffer first (queue 0), then a 12-byte header + 60-byte frame on tx (queue 1) */
		put_desc(DESC(0), 0, BUF(0), 2048, VIRTQ_DESC_F_WRITE, 0);
		put_avail(AVAIL(0), 0, 0, 1);
		hm_notify(&M, f, 0);
		uint8_t *tx = hm_ram(&M, BUF(1), 12 + 60);
		memset(tx, 0, 12);
		for (unsigned k = 0; k < 60; k++)
			tx[12 + k] = (uint8_t)(k * 7 + 1);
		put_desc(DESC(1), 0, BUF(1), 12 + 60, 0, 0);
		put_avail(AVAIL(1), 0, 0, 1);
		hm_notify(&M, f, 1);
		bool ok = wait_used(USED(1), 1) && wait_used(USED(0), 1) && used_len(USED(0), 0) == 12 + 60 &&
			  memcmp(hm_ram(&M, BUF(0) + 12, 60), tx + 12, 60) == 0;
		CHECK(ok, "virtio-net sends a frame and receives its echo");
	} else {
		CHECK(0, "virtio-net set up after the reset");
	}

	/* virtio-console: port 0 output reaches its file. */
	f = hm_find(&M, VIRTIO_ID_CONSOLE);
	if (f && setup_device(f, 0, 2)) {
		static const char msg[] = "hostile-io: console still works\n";
		memcpy(hm_ram(&M, BUF(1), sizeof(msg) - 1), msg, sizeof(msg) - 1);
		put_desc(DESC(1), 0, BUF(1), sizeof(msg) - 1, 0, 0);
		put_avail(AVAIL(1), 0, 0, 1);
		hm_notify(&M, f, 1);
		bool ok = wait_used(USED(1), 1);
		char buf[65536];
		int fd = open(M.hvc, O_RDONLY);
		off_t end = fd >= 0 ? lseek(fd, 0, SEEK_END) : 0; /* the message is at the end */
		ssize_t n = fd >= 0 ? pread(fd, buf, sizeof(buf) - 1, end > 4096 ? end - 4096 : 0) : -1;
		if (fd >= 0)
			close(fd);
		buf[n > 0 ? n : 0] = 0;
		CHECK(ok && n >= (ssize_t)sizeof(msg) - 1 && memmem(buf, (size_t)n, msg, sizeof(msg) - 1),
		      "virtio-console port 0 writes its file (used: %s, file %lld bytes)", ok ? "yes" : "no", (long long)end);
	} else {
		CHECK(0, "virtio-console set up after the reset");
	}
}

int main(int argc, char **argv)
{
	const char *s = getenv("HOSTILE_SEED");
	hm_seed = s ? strtoull(s, NULL, 0) : 1;
	const char *sc = getenv("HOSTILE_SCALE");
	scale = sc && atoi(sc) > 0 ? (unsigned)atoi(sc) : 1;
	printf("hostile-io: seed %llu, scale %u\n", (unsigned long long)hm_seed, scale);
	signal(SIGALRM, watchdog);
	alarm(120 * scale);

	if (!hm_create(&M, HM_RAM_SIZE, false)) {
		CHECK(0, "the machine is built");
		TEST_EXIT();
	}
	CHECK(1, "machine built without a kernel (guard pages: before %s, after %s)", M.guard_before ? "yes" : "no",
	      M.guard_after ? "yes" : "no");
	double t0 = now_s();
	phase_ports();
	phase_platform_mmio();
	phase_virtio_bars();
	phase_pci_config();
	hm_reset(&M);
	hm_map_all(&M);
	phase_virtio_rings();
	phase_mixed();
	printf("hostile-io: abuse took %.1f s\n", now_s() - t0);
	check_devices_after_reset();
	check_timers();
	phase = "destroy";
	hm_destroy(&M);
	CHECK(1, "the machine is torn down");
	TEST_EXIT();
}
