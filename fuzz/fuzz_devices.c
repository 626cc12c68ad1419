/*
 * libFuzzer target: the whole PC's devices under a hostile guest (`make fuzz`). One machine
 * (tests/machine/hostile.h: legacy devices, LAPIC, IOAPIC, HPET, PCI, virtio-rng, -blk, -net
 * with an echo backend, -console on files) lives for the whole run; each input starts with a
 * guest-requested system reset and the virtio BARs mapped, then is read as a list of operations:
 *
 *   op byte: bits 0-3 the kind, bits 4-5 the access size (1 << n), bits 6-7 extra
 *   0  port read          u16 port
 *   1  port write         u16 port, u32 value
 *   2  MMIO read          u8 region, u16 offset
 *   3  MMIO write         u8 region, u16 offset, u64 value
 *   4  RAM write          u24 gpa, u8 n, n bytes (rings, descriptors, buffers)
 *   5  PCI config write   u8 devfn, u8 offset, u32 value
 *   6  PCI config read    u8 devfn, u8 offset
 *   7  virtio queue setup u8 function, u8 queue, u8 log2 size, u24 ring gpa (desc; avail and
 *                         used follow it), then DRIVER_OK (features: VERSION_1 + extra bits)
 *   8  virtio notify      u8 function, u8 queue
 *   9  descriptor         u24 table gpa, u8 index, u32 buffer gpa, u16 len, u8 flags, u8 next
 *   10 avail entry        u24 ring gpa, u8 slot, u8 head, u16 idx
 *   11 housekeeping       extra: 0 poll, 1 wait 1 ms and poll, 2 guest reset, 3 virtio reset
 *   12 raw MMIO           u64 address, u64 value (write when extra & 1)
 *   other                 ignored
 *
 * MMIO regions: 0 LAPIC, 1 IOAPIC, 2 HPET, 3-6 a virtio function's BAR 4 (common, ISR, device,
 * notify), 7-10 its BAR 1 (MSI-X); offsets wrap to the region's size plus a few bytes past it.
 * The machine's timers run on the host clock, and pc_poll runs every 32 operations.
 */
#include <stddef.h>
#include <stdint.h>

#include "dev/hpet.h"
#include "tests/machine/hostile.h"

static struct hm_machine M;
static bool ready;

struct reader {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct reader *r, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned k = 0; k < bytes; k++) {
		uint8_t b = 0;
		if (r->n) {
			b = *r->p++;
			r->n--;
		}
		v |= (uint64_t)b << (8 * k);
	}
	return v;
}

static bool region(unsigned reg, uint64_t *base, uint64_t *len)
{
	reg %= 11;
	if (reg == 0) {
		*base = 0xfee00000ull;
		*len = 0x1000;
	} else if (reg == 1) {
		*base = 0xfec00000ull;
		*len = 0x1000;
	} else if (reg == 2) {
		*base = HPET_BASE;
		*len = HPET_MMIO_SIZE;
	} else if (reg < 7) {
		if (!M.nfn)
			return false;
		*base = M.fn[(reg - 3) % M.nfn].bar4;
		*len = VIRTIO_PCI_BAR_SIZE;
	} else {
		if (!M.nfn)
			return false;
		*base = M.fn[(reg - 7) % M.nfn].bar1;
		*len = VIRTIO_PCI_MSIX_BAR_SIZE;
	}
	return true;
}

static struct hm_fn *fn_at(unsigned k)
{
	return M.nfn ? &M.fn[k % M.nfn] : NULL;
}

static void queue_setup(struct reader *r, unsigned size_bits)
{
	struct hm_fn *f = fn_at((unsigned)take(r, 1));
	unsigned q = (unsigned)take(r, 1) % (VIRTIO_MAX_QUEUES + 1);
	uint16_t size = (uint16_t)(1u << (take(r, 1) % 16));
	uint64_t desc = take(r, 3);
	if (!f)
		return;
	uint8_t st = (uint8_t)hm_common_read(&M, f, VIRTIO_PCI_COMMON_STATUS, 1);
	if (!(st & VIRTIO_STATUS_FEATURES_OK)) {
		uint64_t extra = size_bits & 1 ? VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC) : 0;
		extra |= size_bits & 2 ? VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX) : 0;
		st = hm_negotiate(&M, f, extra);
	}
	uint64_t avail = desc + 16ull * size, used = (avail + 6 + 2ull * size + 3) & ~3ull;
	hm_queue(&M, f, q, size, desc, avail, used);
	hm_common_write(&M, f, VIRTIO_PCI_COMMON_STATUS, 1, st | VIRTIO_STATUS_DRIVER_OK);
}

static void teardown(void)
{
	if (ready)
		hm_destroy(&M);
	ready = false;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	hm_seed = 1;
	ready = hm_create(&M, 4u << 20, true);
	atexit(teardown); /* the scratch disk image and its directory */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ready)
		__builtin_trap(); /* the machine could not be built: nothing to fuzz */
	hm_reset(&M);
	hm_map_all(&M);
	struct reader r = { data, size };
	unsigned ops = 0;
	while (r.n) {
		unsigned op = (unsigned)take(&r, 1);
		unsigned sz = 1u << ((op >> 4) & 3), extra = op >> 6;
		switch (op & 15) {
		case 0:
			(void)pc_access_read(M.pc, true, take(&r, 2), sz > 4 ? 4 : sz);
			break;
		case 1: {
			uint64_t port = take(&r, 2);
			pc_access_write(M.pc, true, port, sz > 4 ? 4 : sz, take(&r, 4));
			break;
		}
		case 2:
		case 3: {
			uint64_t base, len;
			unsigned reg = (unsigned)take(&r, 1);
			uint64_t off = take(&r, 2);
			uint64_t val = (op & 15) == 3 ? take(&r, 8) : 0;
			if (!region(reg, &base, &len))
				break;
			uint64_t a = base + off % (len + 16);
			if ((op & 15) == 2)
				(void)pc_access_read(M.pc, false, a, sz);
			else
				pc_access_write(M.pc, false, a, sz, val);
			break;
		}
		case 4: {
			uint64_t gpa = take(&r, 3);
			unsigned n = (unsigned)take(&r, 1);
			uint8_t buf[256];
			for (unsigned k = 0; k < n; k++)
				buf[k] = (uint8_t)take(&r, 1);
			uint8_t *p = hm_ram(&M, gpa, n);
			if (p)
				memcpy(p, buf, n);
			break;
		}
		case 5: {
			unsigned devfn = (unsigned)take(&r, 1), off = (unsigned)take(&r, 1);
			hm_cfg_write(&M, devfn, off, sz > 4 ? 4 : sz, (uint32_t)take(&r, 4));
			break;
		}
		case 6: {
			unsigned devfn = (unsigned)take(&r, 1), off = (unsigned)take(&r, 1);
			(void)hm_cfg_read(&M, devfn, off, sz > 4 ? 4 : sz);
			break;
		}
		case 7:
			queue_setup(&r, extra);
			break;
		case 8: {
			struct hm_fn *f = fn_at((unsigned)take(&r, 1));
			unsigned q = (unsigned)take(&r, 1) % (VIRTIO_MAX_QUEUES + 1);
			if (f)
				hm_notify(&M, f, q);
			break;
		}
		case 9: {
			uint64_t table = take(&r, 3);
			unsigned idx = (unsigned)take(&r, 1);
			uint64_t addr = take(&r, 4);
			uint32_t len = (uint32_t)take(&r, 2);
			uint16_t flags = (uint16_t)take(&r, 1), next = (uint16_t)take(&r, 1);
			if (extra & 1)
				len <<= 8; /* big buffers too */
			uint8_t *p = hm_ram(&M, table + 16ull * idx, 16);
			if (p) {
				memcpy(p, &addr, 8);
				memcpy(p + 8, &len, 4);
				memcpy(p + 12, &flags, 2);
				memcpy(p + 14, &next, 2);
			}
			break;
		}
		case 10: {
			uint64_t ring = take(&r, 3);
			unsigned slot = (unsigned)take(&r, 1);
			uint16_t head = (uint16_t)take(&r, 1), idx = (uint16_t)take(&r, 2);
			uint8_t *p = hm_ram(&M, ring, 4 + 2ull * (slot + 1));
			if (p) {
				memcpy(p + 4 + 2 * slot, &head, 2);
				memcpy(p + 2, &idx, 2);
			}
			break;
		}
		case 11:
			if (extra == 1)
				usleep(1000);
			if (extra == 2) {
				hm_reset(&M);
				hm_map_all(&M);
			} else if (extra == 3 && M.nfn) {
				hm_common_write(&M, fn_at((unsigned)take(&r, 1)), VIRTIO_PCI_COMMON_STATUS, 1, 0);
			}
			pc_poll(M.pc);
			break;
		case 12: {
			uint64_t a = take(&r, 8), v = take(&r, 8);
			if (extra & 1)
				pc_access_write(M.pc, false, a, sz, v);
			else
				(void)pc_access_read(M.pc, false, a, sz);
			break;
		}
		default:
			break;
		}
		if (!(++ops & 31))
			pc_poll(M.pc);
	}
	pc_poll(M.pc);
	return 0;
}
