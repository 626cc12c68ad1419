/* PCI configuration mechanism #1, the generic function (masks, BARs, INTx, capabilities) and the
 * i440FX/PIIX3 chipset functions, driven through the configuration ports. */
#include <errno.h>
#include <string.h>

#include "dev/pci.h"
#include "machine/iobus.h"
#include "tests/test.h"

static struct iobus pio, mmio;
static struct pci_bus bus;

static uint32_t cfg_read(unsigned devfn, unsigned reg, unsigned size)
{
	iobus_write(&pio, 0xcf8, 4, 0x80000000u | devfn << 8 | (reg & 0xfc));
	return (uint32_t)iobus_read(&pio, 0xcfc + (reg & 3), size);
}

static void cfg_write(unsigned devfn, unsigned reg, unsigned size, uint32_t val)
{
	iobus_write(&pio, 0xcf8, 4, 0x80000000u | devfn << 8 | (reg & 0xfc));
	iobus_write(&pio, 0xcfc + (reg & 3), size, val);
}

/* A device whose BARs record what reaches them. */
struct probe {
	uint64_t last_off;
	unsigned reads;
	uint64_t last_bar_addr[PCI_NUM_BARS];
	unsigned bar_events;
};

static uint64_t probe_read(void *dev, uint64_t off, unsigned size)
{
	struct probe *p = dev;
	p->last_off = off;
	p->reads++;
	return 0x5a;
}

static void probe_write(void *dev, uint64_t off, unsigned size, uint64_t val) { }

static const struct io_ops probe_ops = { probe_read, probe_write };

static void bar_changed(struct pci_device *d, int bar, uint64_t addr)
{
	struct probe *p = d->opaque;
	p->last_bar_addr[bar] = addr;
	p->bar_events++;
}

static unsigned pirq_level[4], pirq_calls, resets;
static void set_pirq(void *ctx, unsigned pirq, int level)
{
	pirq_level[pirq] = (unsigned)level;
	pirq_calls++;
}
static void reset_request(void *ctx) { resets++; }

static void make_probe_dev(struct pci_device *d, struct probe *p)
{
	pci_device_init(d, "probe", 0x1af4, 0x1041, 0x020000, 0x01, 0x00);
	d->opaque = p;
	d->bar_changed = bar_changed;
	pci_set_bar(d, 0, PCI_BAR_IO, 32, false, &probe_ops, p, "probe-io");
	pci_set_bar(d, 1, PCI_BAR_MEM32, 0x1000, false, &probe_ops, p, "probe-mem");
	pci_set_bar(d, 2, PCI_BAR_MEM64, 0x3000, true, &probe_ops, p, "probe-mem64"); /* rounds to 16 KiB */
	pci_set_interrupt_pin(d, 1);
}

int main(void)
{
	static struct pci_device host, isa, dev, dev2;
	static struct probe p1, p2;

	CHECK(pci_bus_init(&bus, &pio, &mmio) == 0, "bus registers 0xcf8-0xcff");
	bus.set_pirq = set_pirq;
	bus.reset_request = reset_request;
	pci_host_bridge_init(&host);
	pci_isa_bridge_init(&isa);
	make_probe_dev(&dev, &p1);
	make_probe_dev(&dev2, &p2);
	CHECK(pci_register_device(&bus, PCI_DEVFN(0, 0), &host) == 0, "host bridge at 00:00.0");
	CHECK(pci_register_device(&bus, PCI_DEVFN(1, 0), &isa) == 0, "ISA bridge at 00:01.0");
	CHECK(pci_register_device(&bus, PCI_DEVFN(3, 0), &dev) == 0, "device at 00:03.0");
	CHECK(pci_register_device(&bus, PCI_DEVFN(4, 0), &dev2) == 0, "device at 00:04.0");
	CHECK(pci_register_device(&bus, PCI_DEVFN(4, 0), &dev2) == -EEXIST, "devfn taken");

	/* CONFIG_ADDRESS */
	iobus_write(&pio, 0xcf8, 4, 0xffffffff);
	CHECK(iobus_read(&pio, 0xcf8, 4) == 0x80fffffc, "CONFIG_ADDRESS reserved bits read 0: %#x",
	      (unsigned)iobus_read(&pio, 0xcf8, 4));
	iobus_write(&pio, 0xcf8, 4, 0x80000000);
	iobus_write(&pio, 0xcfb, 1, 0x01); /* Linux's pci_check_type1 does this */
	iobus_write(&pio, 0xcf8, 2, 0x1234);
	CHECK(iobus_read(&pio, 0xcf8, 4) == 0x80000000, "byte/word writes do not reach CONFIG_ADDRESS");
	CHECK(iobus_read(&pio, 0xcf8, 1) == 0xff && iobus_read(&pio, 0xcfa, 2) == 0xffff,
	      "byte/word reads of 0xcf8 are not CONFIG_ADDRESS");

	/* identification */
	CHECK(cfg_read(0, 0, 4) == 0x12378086, "host bridge ID 8086:1237");
	CHECK(cfg_read(0, 8, 4) == 0x06000002, "host bridge class 0x060000 rev 2");
	CHECK(cfg_read(PCI_DEVFN(1, 0), 0, 4) == 0x70008086, "ISA bridge ID 8086:7000");
	CHECK(cfg_read(PCI_DEVFN(1, 0), 8, 4) >> 8 == 0x060100, "ISA bridge class 0x060100");
	CHECK(cfg_read(0, 0x0e, 1) == 0 && cfg_read(PCI_DEVFN(1, 0), 0x0e, 1) == 0, "header type 0, single function");

	/* byte and word accesses at every CONFIG_DATA offset */
	CHECK(cfg_read(0, 0, 1) == 0x86 && cfg_read(0, 1, 1) == 0x80 && cfg_read(0, 2, 1) == 0x37 &&
		      cfg_read(0, 3, 1) == 0x12,
	      "byte reads at 0xcfc-0xcff");
	CHECK(cfg_read(0, 0, 2) == 0x8086 && cfg_read(0, 2, 2) == 0x1237, "word reads at 0xcfc/0xcfe");
	CHECK(cfg_read(0, 1, 2) == 0x3780, "unaligned word read at 0xcfd");
	iobus_write(&pio, 0xcf8, 4, 0x80000000);
	CHECK(iobus_read(&pio, 0xcff, 2) == 0xff12, "word at 0xcff: the byte past the window reads 0xff");
	CHECK(iobus_read(&pio, 0xcfe, 4) == 0xffff1237, "dword at 0xcfe: the bytes past the window read 0xff");

	/* non-existent functions, other buses, enable bit */
	CHECK(cfg_read(PCI_DEVFN(2, 0), 0, 4) == 0xffffffff, "empty slot reads all ones");
	CHECK(cfg_read(PCI_DEVFN(0, 1), 0, 4) == 0xffffffff, "missing function reads all ones");
	CHECK(cfg_read(PCI_DEVFN(31, 7), 0, 2) == 0xffff, "00:1f.7 word reads all ones");
	iobus_write(&pio, 0xcf8, 4, 0x80010000);
	CHECK(iobus_read(&pio, 0xcfc, 4) == 0xffffffff, "bus 1 reads all ones");
	iobus_write(&pio, 0xcf8, 4, 0x00000000);
	CHECK(iobus_read(&pio, 0xcfc, 4) == 0xffffffff, "enable bit clear: data reads all ones");
	iobus_write(&pio, 0xcf8, 4, 0x00000004);
	iobus_write(&pio, 0xcfc, 2, 0x0007);
	CHECK(cfg_read(0, 4, 2) == (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER), "enable bit clear: writes dropped");
	cfg_write(PCI_DEVFN(2, 0), 4, 2, 0xffff); /* must not crash */

	/* read-only and writable registers */
	cfg_write(0, 0, 4, 0);
	CHECK(cfg_read(0, 0, 4) == 0x12378086, "vendor/device are read-only");
	cfg_write(0, 8, 4, 0);
	CHECK(cfg_read(0, 8, 4) == 0x06000002, "class/revision are read-only");
	cfg_write(PCI_DEVFN(3, 0), 0x3c, 1, 11);
	CHECK(cfg_read(PCI_DEVFN(3, 0), 0x3c, 1) == 11, "interrupt line writable");
	cfg_write(PCI_DEVFN(3, 0), 0x3d, 1, 3);
	CHECK(cfg_read(PCI_DEVFN(3, 0), 0x3d, 1) == 1, "interrupt pin read-only (INTA)");
	cfg_write(PCI_DEVFN(3, 0), 0x0c, 1, 0x10);
	CHECK(cfg_read(PCI_DEVFN(3, 0), 0x0c, 1) == 0x10, "cache line size writable");
	cfg_write(PCI_DEVFN(3, 0), 4, 2, 0xffff);
	CHECK(cfg_read(PCI_DEVFN(3, 0), 4, 2) == 0x0547, "command: only implemented bits stick: %#x",
	      cfg_read(PCI_DEVFN(3, 0), 4, 2));
	cfg_write(PCI_DEVFN(3, 0), 4, 2, 0);
	dev.config[PCI_STATUS + 1] |= 0x30; /* received target/master abort */
	cfg_write(PCI_DEVFN(3, 0), 6, 2, 0x1000);
	CHECK((cfg_read(PCI_DEVFN(3, 0), 6, 2) & 0x3000) == 0x2000, "status error bits are write-1-to-clear");
	cfg_write(PCI_DEVFN(3, 0), 4, 4, 0x20000000); /* dword write to command+status clears the other */
	CHECK((cfg_read(PCI_DEVFN(3, 0), 6, 2) & 0x3000) == 0, "dword write reaches status");
	CHECK(cfg_read(PCI_DEVFN(3, 0), 6, 2) & PCI_STATUS_DEVSEL_MEDIUM, "DEVSEL timing kept");
	cfg_write(PCI_DEVFN(3, 0), 0x0d, 1, 0x40);
	CHECK(cfg_read(PCI_DEVFN(3, 0), 0x0c, 4) == 0x00004010, "byte write in the middle of a dword");

	/* BAR sizing */
	unsigned d3 = PCI_DEVFN(3, 0);
	CHECK(cfg_read(d3, 0x10, 4) == 0x1, "I/O BAR type bit");
	CHECK(cfg_read(d3, 0x18, 4) == 0xc, "64-bit prefetchable BAR type bits");
	for (unsigned r = 0x10; r <= 0x24; r += 4)
		cfg_write(d3, r, 4, 0xffffffff);
	CHECK(cfg_read(d3, 0x10, 4) == 0x0000ffe1, "I/O BAR of 32 bytes sizes as 0xffe1: %#x", cfg_read(d3, 0x10, 4));
	CHECK(cfg_read(d3, 0x14, 4) == 0xfffff000, "memory BAR of 4 KiB sizes as 0xfffff000");
	CHECK(cfg_read(d3, 0x18, 4) == 0xffffc00c && cfg_read(d3, 0x1c, 4) == 0xffffffff,
	      "64-bit BAR rounds 12 KiB to 16 KiB");
	CHECK(cfg_read(d3, 0x20, 4) == 0 && cfg_read(d3, 0x24, 4) == 0, "unused BARs read 0");
	cfg_write(d3, 0x30, 4, 0xffffffff);
	CHECK(cfg_read(d3, 0x30, 4) == 0, "no expansion ROM");
	CHECK(p1.bar_events == 0, "nothing mapped while decoding is off");

	/* decoding the sizing pattern with decode on maps nothing */
	cfg_write(d3, 4, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
	CHECK(dev.bar[0].mapped_at == PCI_BAR_UNMAPPED && dev.bar[1].mapped_at == PCI_BAR_UNMAPPED &&
		      dev.bar[2].mapped_at == PCI_BAR_UNMAPPED,
	      "all-ones BARs do not decode");
	cfg_write(d3, 4, 2, 0);

	/* mapping */
	cfg_write(d3, 0x10, 4, 0xc000);
	cfg_write(d3, 0x14, 4, 0xfebf0000);
	cfg_write(d3, 0x18, 4, 0x0);
	cfg_write(d3, 0x1c, 4, 0x1);
	CHECK(iobus_read(&pio, 0xc004, 1) == 0xff, "I/O BAR silent with command.IO clear");
	cfg_write(d3, 4, 2, PCI_COMMAND_IO);
	CHECK(p1.last_bar_addr[0] == 0xc000, "bar_changed told of the I/O BAR at 0xc000");
	CHECK(iobus_read(&pio, 0xc005, 1) == 0x5a && p1.last_off == 5, "I/O BAR decodes with offsets");
	CHECK(iobus_read(&mmio, 0xfebf0000, 4) == 0xffffffff, "memory BAR silent with command.MEM clear");
	cfg_write(d3, 4, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
	CHECK(iobus_read(&mmio, 0xfebf0010, 4) == 0x5a && p1.last_off == 0x10, "32-bit memory BAR decodes");
	CHECK(iobus_read(&mmio, 0x100000000ull + 0x3ffc, 4) == 0x5a && p1.last_off == 0x3ffc,
	      "64-bit BAR decodes above 4 GiB");
	CHECK(iobus_read(&mmio, 0x100004000ull, 4) == 0xffffffff, "64-bit BAR ends at its size");
	cfg_write(d3, 0x14, 4, 0xfebe0000); /* move while decoding */
	CHECK(iobus_read(&mmio, 0xfebf0000, 4) == 0xffffffff && iobus_read(&mmio, 0xfebe0000, 4) == 0x5a,
	      "moved BAR leaves its old address");
	CHECK(p1.last_bar_addr[1] == 0xfebe0000, "bar_changed told of the move");
	unsigned before = p1.bar_events;
	cfg_write(d3, 4, 2, PCI_COMMAND_IO);
	CHECK(iobus_read(&mmio, 0xfebe0000, 4) == 0xffffffff && p1.last_bar_addr[1] == PCI_BAR_UNMAPPED &&
		      p1.last_bar_addr[2] == PCI_BAR_UNMAPPED && p1.bar_events == before + 2,
	      "clearing command.MEM unmaps both memory BARs");
	CHECK(iobus_read(&pio, 0xc000, 1) == 0x5a, "I/O BAR stays");
	cfg_write(d3, 4, 1, 0);
	CHECK(iobus_read(&pio, 0xc000, 1) == 0xff, "byte write to command clears IO decode");
	cfg_write(d3, 0x10, 4, 0xfff0); /* would end at 0xffff */
	cfg_write(d3, 4, 2, PCI_COMMAND_IO);
	CHECK(dev.bar[0].mapped_at == PCI_BAR_UNMAPPED, "I/O BAR reaching 0xffff does not decode");
	cfg_write(d3, 0x10, 4, 0xcf0); /* over the config ports */
	CHECK(dev.bar[0].mapped_at == PCI_BAR_UNMAPPED && cfg_read(0, 0, 4) == 0x12378086,
	      "BAR over 0xcf8 does not steal the config ports");

	/* collisions between BARs resolve when one moves */
	unsigned d4 = PCI_DEVFN(4, 0);
	cfg_write(d3, 0x10, 4, 0xc000);
	cfg_write(d4, 0x10, 4, 0xc000);
	cfg_write(d4, 4, 2, PCI_COMMAND_IO);
	CHECK(dev2.bar[0].mapped_at == PCI_BAR_UNMAPPED && iobus_read(&pio, 0xc000, 1) == 0x5a && p1.reads,
	      "second BAR at a taken address does not decode");
	unsigned r2 = p2.reads;
	cfg_write(d3, 0x10, 4, 0xd000);
	CHECK(dev2.bar[0].mapped_at == 0xc000, "it decodes once the other moves away");
	iobus_read(&pio, 0xc001, 1);
	CHECK(p2.reads == r2 + 1, "and the accesses reach it");

	/* INTx */
	pci_set_irq(&dev, 1);
	CHECK(pirq_level[3] == 1, "00:03.0 INTA drives PIRQD");
	CHECK(cfg_read(d3, 6, 2) & PCI_STATUS_INTERRUPT, "status.interrupt set");
	pci_set_irq(&dev2, 1); /* 00:04.0 INTA -> PIRQA */
	CHECK(pirq_level[0] == 1, "00:04.0 INTA drives PIRQA");
	pci_set_irq(&dev, 0);
	CHECK(pirq_level[3] == 0 && !(cfg_read(d3, 6, 2) & PCI_STATUS_INTERRUPT), "deassert");
	cfg_write(d4, 4, 2, PCI_COMMAND_IO | PCI_COMMAND_INTX_DISABLE);
	CHECK(pirq_level[0] == 0 && (cfg_read(d4, 6, 2) & PCI_STATUS_INTERRUPT), "INTx disable masks the pin, status stays");
	cfg_write(d4, 4, 2, PCI_COMMAND_IO);
	CHECK(pirq_level[0] == 1, "INTx disable cleared: pin asserted again");
	pci_set_irq(&dev2, 0);

	/* capabilities */
	struct pci_device cdev;
	pci_device_init(&cdev, "caps", 0x1af4, 0x1000, 0xff0000, 0, 0);
	CHECK(!(cdev.config[PCI_STATUS] & PCI_STATUS_CAP_LIST), "no capability list at first");
	int c1 = pci_add_capability(&cdev, 0x09, 14);
	int c2 = pci_add_capability(&cdev, 0x11, 12);
	CHECK(c1 == 0x40 && c2 == 0x50, "capabilities at 0x40 and 0x50 (dword aligned)");
	CHECK(cdev.config[PCI_CAPABILITY_LIST] == 0x40 && cdev.config[0x41] == 0x50 && cdev.config[0x51] == 0 &&
		      cdev.config[0x50] == 0x11 && (cdev.config[PCI_STATUS] & PCI_STATUS_CAP_LIST),
	      "capability chain");
	CHECK(pci_add_capability(&cdev, 0x09, 200) == -ENOSPC, "capability past 256 bytes refused");

	/* PIIX3 PIRQ route control and reset control */
	unsigned d1 = PCI_DEVFN(1, 0);
	CHECK(cfg_read(d1, 0x60, 4) == 0x80808080, "PIRQRC default disabled");
	CHECK(pci_isa_bridge_pirq_route(&isa, 0) == -1, "disabled PIRQ has no IRQ");
	cfg_write(d1, 0x60, 1, 0x0b);
	cfg_write(d1, 0x62, 1, 0x7a);
	CHECK(pci_isa_bridge_pirq_route(&isa, 0) == 11 && cfg_read(d1, 0x62, 1) == 0x0a, "PIRQA -> IRQ 11; reserved bits");
	cfg_write(d1, 0x61, 1, 0x08);
	CHECK(pci_isa_bridge_pirq_route(&isa, 1) == -1, "IRQ 8 cannot take a PIRQ");
	iobus_write(&pio, 0xcf9, 1, 0x02);
	CHECK(resets == 0 && iobus_read(&pio, 0xcf9, 1) == 0x02, "0xcf9 SRST alone does not reset");
	iobus_write(&pio, 0xcf9, 1, 0x06);
	CHECK(resets == 1, "0xcf9 RCPU resets");
	iobus_write(&pio, 0xcf8, 4, 0x80000000);
	CHECK(resets == 1 && iobus_read(&pio, 0xcf8, 4) == 0x80000000, "dword at 0xcf8 is not the reset register");

	/* reset */
	pci_bus_reset(&bus);
	CHECK(dev2.bar[0].mapped_at == PCI_BAR_UNMAPPED && iobus_read(&pio, 0xc000, 1) == 0xff, "reset unmaps BARs");
	CHECK(cfg_read(d3, 0x10, 4) == 0x1 && cfg_read(d3, 4, 2) == 0 && cfg_read(d3, 0x3c, 1) == 0,
	      "reset restores BARs, command and interrupt line");
	CHECK(cfg_read(0, 4, 2) == (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER), "host bridge command after reset");
	CHECK(cfg_read(d1, 0x60, 4) == 0x80808080, "PIRQRC after reset");
	TEST_EXIT();
}
