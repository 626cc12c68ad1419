/*
 * virtio-pci modern transport tests: the PCI function (IDs, capability list), common
 * configuration register semantics (feature windows, FEATURES_OK acceptance, queue setup,
 * reset), notifications, ISR read-to-clear with INTx, MSI-X table/PBA/masking, and virtio-rng
 * served end to end through the registers with a fake entropy source.
 */
#include <string.h>

#include "tests/test.h"
#include "virtio/pci.h"
#include "virtio/rng.h"

#define RAM_SIZE (16u << 20)
#define DESC 0x10000
#define AVAIL 0x20000
#define USED 0x30000
#define BUF 0x100000

static struct guest_ram ram;
static struct virtio_host host;
static struct virtio_pci vp;
static struct virtio_rng rng;
static struct pci_bus bus;
static struct iobus pio, mmio;
static unsigned msi_count, pirq_level[4];
static uint64_t msi_addr;
static uint32_t msi_data;

static void fake_msi(void *ctx, uint64_t addr, uint32_t data)
{
	msi_count++;
	msi_addr = addr;
	msi_data = data;
}

static void set_pirq(void *ctx, unsigned pirq, int level)
{
	pirq_level[pirq & 3] = (unsigned)level;
}

static ssize_t fake_fill(void *buf, size_t len)
{
	memset(buf, 0xa5, len);
	return (ssize_t)len;
}

static uint64_t rd(unsigned off, unsigned size) { return virtio_pci_bar_ops.read(&vp, off, size); }
static void wr(unsigned off, unsigned size, uint64_t v) { virtio_pci_bar_ops.write(&vp, off, size, v); }
static uint64_t mrd(unsigned off, unsigned size) { return virtio_pci_msix_ops.read(&vp, off, size); }
static void mwr(unsigned off, unsigned size, uint64_t v) { virtio_pci_msix_ops.write(&vp, off, size, v); }
static uint32_t cfg(unsigned off, unsigned size) { return pci_config_read(&vp.pci, off, size); }

static void w16(uint64_t gpa, uint16_t v) { ram_write(&ram, gpa, &v, 2); }
static uint16_t r16(uint64_t gpa) { uint16_t v = 0; ram_read(&ram, gpa, &v, 2); return v; }
static uint32_t r32(uint64_t gpa) { uint32_t v = 0; ram_read(&ram, gpa, &v, 4); return v; }

static void fresh(void)
{
	memset(ram.host, 0, 1 << 20);
	memset(&bus, 0, sizeof(bus));
	memset(&pio, 0, sizeof(pio));
	memset(&mmio, 0, sizeof(mmio));
	pci_bus_init(&bus, &pio, &mmio);
	bus.set_pirq = set_pirq;
	host.devices = NULL;
	virtio_rng_init(&rng);
	rng.fill = fake_fill;
	msi_count = 0;
	memset(pirq_level, 0, sizeof(pirq_level));
	int r = virtio_pci_init(&vp, &rng.vdev, &host, &bus, PCI_DEVFN(3, 0), 0x00ff00, fake_msi, NULL);
	if (r)
		printf("FAIL: virtio_pci_init %d\n", r);
}

/* Driver initialization as §3.1.1 describes it, with the given features. Returns the status. */
static uint8_t driver_init(uint64_t features)
{
	wr(VIRTIO_PCI_COMMON_STATUS, 1, 0);
	wr(VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	wr(VIRTIO_PCI_COMMON_GF, 4, (uint32_t)features);
	wr(VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	wr(VIRTIO_PCI_COMMON_GF, 4, (uint32_t)(features >> 32));
	wr(VIRTIO_PCI_COMMON_STATUS, 1,
	   VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	return (uint8_t)rd(VIRTIO_PCI_COMMON_STATUS, 1);
}

static void queue_setup(uint16_t size, uint16_t vector)
{
	wr(VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	wr(VIRTIO_PCI_COMMON_Q_SIZE, 2, size);
	wr(VIRTIO_PCI_COMMON_Q_MSIX, 2, vector);
	wr(VIRTIO_PCI_COMMON_Q_DESCLO, 4, DESC);
	wr(VIRTIO_PCI_COMMON_Q_DESCHI, 4, 0);
	wr(VIRTIO_PCI_COMMON_Q_AVAILLO, 4, AVAIL);
	wr(VIRTIO_PCI_COMMON_Q_AVAILHI, 4, 0);
	wr(VIRTIO_PCI_COMMON_Q_USEDLO, 4, USED);
	wr(VIRTIO_PCI_COMMON_Q_USEDHI, 4, 0);
	wr(VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
}

static void driver_ok(void)
{
	wr(VIRTIO_PCI_COMMON_STATUS, 1,
	   VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
}

static uint16_t drv_avail;

static void post(uint16_t size, uint16_t head, uint64_t addr, uint32_t len)
{
	struct virtq_desc d = { addr, len, VIRTQ_DESC_F_WRITE, 0 };
	ram_write(&ram, DESC + 16ull * head, &d, sizeof(d));
	w16(AVAIL + 4 + 2u * (drv_avail % size), head);
	drv_avail++;
	w16(AVAIL + 2, drv_avail);
}

static void test_identity(void)
{
	fresh();
	CHECK(cfg(PCI_VENDOR_ID, 2) == 0x1af4 && cfg(PCI_DEVICE_ID, 2) == 0x1044, "IDs 1af4:1044 (0x1040 + rng)");
	CHECK(cfg(PCI_REVISION_ID, 1) == 1, "revision 1 (modern)");
	CHECK(cfg(PCI_REVISION_ID, 4) >> 8 == 0x00ff00, "class code");
	CHECK(cfg(PCI_INTERRUPT_PIN, 1) == 1, "interrupt pin A");
	CHECK(bus.dev[PCI_DEVFN(3, 0)] == &vp.pci, "registered at 00:03.0");
	/* BAR 4: 64-bit memory; sizing returns 16 KiB. */
	pci_config_write(&vp.pci, PCI_BASE_ADDRESS_0 + 16, 4, 0xffffffff);
	uint32_t lo = cfg(PCI_BASE_ADDRESS_0 + 16, 4);
	CHECK((lo & 6) == 4 && (lo & ~0xfu) == ~(uint32_t)(VIRTIO_PCI_BAR_SIZE - 1), "BAR 4 is 64-bit, 16 KiB");

	/* Walk the capabilities: MSI-X, then common/ISR/notify in BAR 4 (no device cfg: rng has none). */
	unsigned found = 0, msix = 0, guard = 0;
	for (unsigned c = cfg(PCI_CAPABILITY_LIST, 1); c && guard < 48; c = cfg(c + 1, 1), guard++) {
		unsigned id = cfg(c, 1);
		if (id == 0x11) {
			msix = c;
			CHECK((cfg(c + 2, 2) & 0x7ff) == 1, "MSI-X table size 2 (config + 1 queue)");
			CHECK(cfg(c + 4, 4) == VIRTIO_PCI_MSIX_BAR && cfg(c + 8, 4) == (VIRTIO_PCI_MSIX_PBA_OFF | 1),
			      "MSI-X table and PBA in BAR 1");
		} else if (id == 0x09) {
			unsigned type = cfg(c + 3, 1);
			CHECK(cfg(c + 4, 1) == VIRTIO_PCI_BAR, "virtio cap type %u in BAR 4", type);
			found |= 1u << type;
			if (type == 1)
				CHECK(cfg(c + 8, 4) == VIRTIO_PCI_COMMON_OFF && cfg(c + 12, 4) >= 0x38, "common cfg cap");
			if (type == 2)
				CHECK(cfg(c + 2, 1) >= 20 && cfg(c + 16, 4) == VIRTIO_PCI_NOTIFY_MULTIPLIER &&
					      cfg(c + 8, 4) == VIRTIO_PCI_NOTIFY_OFF,
				      "notify cap with notify_off_multiplier");
			if (type == 3)
				CHECK(cfg(c + 8, 4) == VIRTIO_PCI_ISR_OFF, "ISR cap");
		}
	}
	CHECK(msix && found == ((1u << 1) | (1u << 2) | (1u << 3)), "capabilities: MSI-X, common, notify, ISR");
}

static void test_common_cfg(void)
{
	fresh();
	wr(VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
	uint32_t f0 = (uint32_t)rd(VIRTIO_PCI_COMMON_DF, 4);
	wr(VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
	uint32_t f1 = (uint32_t)rd(VIRTIO_PCI_COMMON_DF, 4);
	wr(VIRTIO_PCI_COMMON_DFSELECT, 4, 7);
	CHECK(f1 == 1 && (f0 & (3u << 28)) == (3u << 28) && rd(VIRTIO_PCI_COMMON_DF, 4) == 0,
	      "features: VERSION_1, INDIRECT_DESC, EVENT_IDX offered; windows past 1 read 0");
	CHECK(rd(VIRTIO_PCI_COMMON_NUMQ, 2) == 1, "num_queues 1");
	wr(VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	CHECK(rd(VIRTIO_PCI_COMMON_Q_SIZE, 2) == 256 && rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2) == 0 &&
		      rd(VIRTIO_PCI_COMMON_Q_MSIX, 2) == VIRTIO_MSI_NO_VECTOR,
	      "queue 0: max size 256, disabled, no vector");
	wr(VIRTIO_PCI_COMMON_Q_SELECT, 2, 1);
	CHECK(rd(VIRTIO_PCI_COMMON_Q_SIZE, 2) == 0, "queue 1 does not exist: size 0");
	wr(VIRTIO_PCI_COMMON_Q_SIZE, 2, 16);
	CHECK(rd(VIRTIO_PCI_COMMON_Q_SIZE, 2) == 0, "writes to a missing queue ignored");

	CHECK(!(driver_init(0) & VIRTIO_STATUS_FEATURES_OK), "FEATURES_OK refused without VERSION_1");
	CHECK(!(driver_init(VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(40)) & VIRTIO_STATUS_FEATURES_OK),
	      "FEATURES_OK refused with a feature not offered");
	uint64_t want = VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX);
	CHECK(driver_init(want) & VIRTIO_STATUS_FEATURES_OK, "FEATURES_OK accepted with VERSION_1");
	wr(VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	wr(VIRTIO_PCI_COMMON_GF, 4, 0);
	CHECK(rng.vdev.driver_features == want && rd(VIRTIO_PCI_COMMON_GF, 4) == (uint32_t)want,
	      "driver features frozen after FEATURES_OK");

	queue_setup(6, 0);
	CHECK(rng.vdev.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET, "queue size 6 (not a power of two): NEEDS_RESET");
	driver_init(want);
	CHECK(!(rng.vdev.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) && rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2) == 0,
	      "status 0 resets: NEEDS_RESET and queue enable clear");
	queue_setup(16, 1);
	CHECK(rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2) == 1 && rd(VIRTIO_PCI_COMMON_Q_SIZE, 2) == 16 &&
		      rd(VIRTIO_PCI_COMMON_Q_DESCLO, 4) == DESC && rd(VIRTIO_PCI_COMMON_Q_USEDLO, 8) == USED &&
		      rd(VIRTIO_PCI_COMMON_Q_MSIX, 2) == 1 && rd(VIRTIO_PCI_COMMON_Q_NOFF, 2) == 0,
	      "queue 0 set up and enabled");
	wr(VIRTIO_PCI_COMMON_Q_SIZE, 2, 32);
	wr(VIRTIO_PCI_COMMON_Q_DESCLO, 4, 0x5000);
	CHECK(rd(VIRTIO_PCI_COMMON_Q_SIZE, 2) == 16 && rd(VIRTIO_PCI_COMMON_Q_DESCLO, 4) == DESC,
	      "queue registers read-only while enabled");
	wr(VIRTIO_PCI_COMMON_MSIX, 2, 5);
	CHECK(rd(VIRTIO_PCI_COMMON_MSIX, 2) == VIRTIO_MSI_NO_VECTOR, "config vector past the table reads NO_VECTOR");
	wr(VIRTIO_PCI_COMMON_MSIX, 2, 0);
	CHECK(rd(VIRTIO_PCI_COMMON_MSIX, 2) == 0, "config vector 0");
	CHECK(rd(VIRTIO_PCI_COMMON_STATUS, 1) == 0xb, "DRIVER_OK not yet set");
	wr(VIRTIO_PCI_COMMON_STATUS, 1, 0);
	CHECK(rd(VIRTIO_PCI_COMMON_STATUS, 1) == 0 && rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2) == 0 &&
		      rd(VIRTIO_PCI_COMMON_Q_SIZE, 2) == 256 && rd(VIRTIO_PCI_COMMON_MSIX, 2) == VIRTIO_MSI_NO_VECTOR &&
		      rng.vdev.driver_features == 0,
	      "writing 0 to status resets the device and its queues");
	/* DRIVER_OK without FEATURES_OK is not accepted. */
	wr(VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK);
	CHECK(!(rd(VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_STATUS_DRIVER_OK), "DRIVER_OK needs FEATURES_OK");
	/* Odd accesses do not crash and do not write. */
	wr(0x3f, 1, 0xff);
	wr(VIRTIO_PCI_COMMON_STATUS, 4, 0xffffffff);
	rd(0x3ffe, 8);
	CHECK(rd(VIRTIO_PCI_COMMON_STATUS, 1) != 0xff, "wrong-size status write ignored");
}

static void test_rng_intx(void)
{
	fresh();
	uint64_t want = VIRTIO_BIT(VIRTIO_F_VERSION_1);
	driver_init(want);
	queue_setup(8, VIRTIO_MSI_NO_VECTOR);
	drv_avail = 0;
	post(8, 2, BUF, 64);
	wr(VIRTIO_PCI_NOTIFY_OFF, 2, 0);
	CHECK(r16(USED + 2) == 0, "no processing before DRIVER_OK");
	driver_ok();
	CHECK(r16(USED + 2) == 1 && r32(USED + 4) == 2 && r32(USED + 8) == 64 && r32(BUF + 60) == 0xa5a5a5a5,
	      "DRIVER_OK serves the waiting request: 64 random bytes");
	CHECK(vp.pci.intx_level && (cfg(PCI_STATUS, 2) & PCI_STATUS_INTERRUPT), "INTx asserted (MSI-X off)");
	unsigned pirq = (3 + 1 - 1) & 3;
	CHECK(pirq_level[pirq] == 1, "INTA of slot 3 on PIRQD");
	CHECK(rd(VIRTIO_PCI_ISR_OFF, 1) == VIRTIO_PCI_ISR_QUEUE, "ISR: queue interrupt");
	CHECK(!vp.pci.intx_level && pirq_level[pirq] == 0 && rd(VIRTIO_PCI_ISR_OFF, 1) == 0,
	      "reading ISR clears it and deasserts INTx");
	post(8, 5, BUF + 0x1000, 4096);
	wr(VIRTIO_PCI_NOTIFY_OFF, 2, 0);
	CHECK(r16(USED + 2) == 2 && r32(USED + 12) == 5 && r32(USED + 16) == 4096 && rng.bytes_served == 64 + 4096,
	      "notify register serves the next request");
	rd(VIRTIO_PCI_ISR_OFF, 1);
	/* Config change: ISR bit 1. */
	virtio_config_changed(&rng.vdev);
	CHECK(rd(VIRTIO_PCI_ISR_OFF, 1) == VIRTIO_PCI_ISR_CONFIG, "config change: ISR bit 1");
	/* Notify for a missing queue or past the notify area is ignored. */
	wr(VIRTIO_PCI_NOTIFY_OFF + 4, 2, 1);
	wr(VIRTIO_PCI_NOTIFY_OFF + 0xffc, 2, 0);
	CHECK(r16(USED + 2) == 2, "stray notifications ignored");
	/* A hostile request (buffer outside RAM): NEEDS_RESET and a config interrupt, nothing used. */
	post(8, 1, RAM_SIZE - 4, 64);
	wr(VIRTIO_PCI_NOTIFY_OFF, 2, 0);
	CHECK(r16(USED + 2) == 2 && (rd(VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_STATUS_DEVICE_NEEDS_RESET) &&
		      rd(VIRTIO_PCI_ISR_OFF, 1) == VIRTIO_PCI_ISR_CONFIG,
	      "buffer outside RAM: DEVICE_NEEDS_RESET with a config interrupt");
	/* PCI bus reset brings everything back. */
	pci_bus_reset(&bus);
	CHECK(rd(VIRTIO_PCI_COMMON_STATUS, 1) == 0 && rd(VIRTIO_PCI_COMMON_Q_ENABLE, 2) == 0 && !vp.pci.intx_level,
	      "PCI reset resets the virtio device");
}

static void test_msix(void)
{
	fresh();
	driver_init(VIRTIO_BIT(VIRTIO_F_VERSION_1));
	queue_setup(8, 1);
	wr(VIRTIO_PCI_COMMON_MSIX, 2, 0);
	driver_ok();
	unsigned ctrl = (unsigned)vp.msix_cap + 2;
	CHECK(mrd(12, 4) == 1 && mrd(16 + 12, 4) == 1, "MSI-X vectors masked at reset");
	/* Program vector 1 (queue) and 0 (config), enable MSI-X. */
	mwr(16, 4, 0xfee01000);
	mwr(20, 4, 0);
	mwr(24, 4, 0x4041);
	mwr(0, 8, 0xfee00000);
	mwr(8, 4, 0x30);
	CHECK(mrd(16, 8) == 0xfee01000 && mrd(24, 4) == 0x4041, "table entries read back");
	pci_config_write(&vp.pci, ctrl, 2, 0x8000);
	CHECK((cfg(ctrl, 2) & 0xc000) == 0x8000, "MSI-X enable bit writable");
	drv_avail = 0;
	post(8, 0, BUF, 16);
	wr(VIRTIO_PCI_NOTIFY_OFF, 2, 0);
	CHECK(r16(USED + 2) == 1 && msi_count == 0 && (mrd(VIRTIO_PCI_MSIX_PBA_OFF, 4) & 2),
	      "masked vector: no message, PBA bit set");
	CHECK(!vp.pci.intx_level, "no INTx while MSI-X is enabled");
	mwr(16 + 12, 4, 0);
	CHECK(msi_count == 1 && msi_addr == 0xfee01000 && msi_data == 0x4041 &&
		      !(mrd(VIRTIO_PCI_MSIX_PBA_OFF, 4) & 2),
	      "unmasking delivers the pending message and clears PBA");
	post(8, 1, BUF, 16);
	wr(VIRTIO_PCI_NOTIFY_OFF, 2, 0);
	CHECK(msi_count == 2, "queue interrupt by MSI-X");
	/* Function mask holds everything. */
	pci_config_write(&vp.pci, ctrl, 2, 0xc000);
	mwr(12, 4, 0);
	virtio_config_changed(&rng.vdev);
	CHECK(msi_count == 2 && (mrd(VIRTIO_PCI_MSIX_PBA_OFF, 4) & 1), "function mask: config message pending");
	pci_config_write(&vp.pci, ctrl, 2, 0x8000);
	CHECK(msi_count == 3 && msi_addr == 0xfee00000 && msi_data == 0x30, "function unmask delivers it");
	/* PBA is read-only, writes past the table ignored. */
	mwr(VIRTIO_PCI_MSIX_PBA_OFF, 4, 0xff);
	mwr(0x7f0, 4, 0xffffffff);
	CHECK(mrd(VIRTIO_PCI_MSIX_PBA_OFF, 4) == 0 && mrd(0x7f0, 4) == 0, "PBA read-only; no entries past the table");
	/* Vector control: only the mask bit is writable. */
	mwr(12, 4, 0xfffffffe);
	CHECK(mrd(12, 4) == 0, "vector control reserved bits read 0");
	/* A queue with NO_VECTOR gets no message. */
	wr(VIRTIO_PCI_COMMON_STATUS, 1, 0);
	memset(ram.host + DESC, 0, USED + 0x1000 - DESC); /* the driver's fresh rings */
	driver_init(VIRTIO_BIT(VIRTIO_F_VERSION_1));
	queue_setup(8, VIRTIO_MSI_NO_VECTOR);
	driver_ok();
	drv_avail = 0;
	post(8, 0, BUF, 16);
	unsigned before = msi_count;
	wr(VIRTIO_PCI_NOTIFY_OFF, 2, 0);
	CHECK(r16(USED + 2) == 1 && msi_count == before && !vp.pci.intx_level,
	      "MSI-X on, queue without a vector: no interrupt at all");
}

int main(void)
{
	if (ram_init(&ram, RAM_SIZE) < 0 || virtio_host_init(&host, &ram, NULL, NULL, NULL) < 0) {
		printf("FAIL: setup\n");
		return 1;
	}
	test_identity();
	test_common_cfg();
	test_rng_intx();
	test_msix();
	virtio_host_free(&host);
	ram_free(&ram);
	TEST_EXIT();
}
