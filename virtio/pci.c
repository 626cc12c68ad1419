/*
 * virtio-pci modern transport (virtio 1.2 §4.1). The function carries vendor-specific
 * capabilities (§4.1.4) pointing into BAR 4: common configuration at 0, ISR at 0x1000, device
 * configuration at 0x2000, notifications at 0x3000 (queue q at q * 4). BAR 1 holds the MSI-X
 * table and PBA (PCI Local Bus 3.0 §6.8.2): vector 0..n for the configuration vector and the
 * per-queue vectors the driver assigns. Without MSI-X the function interrupts on INTA#, level,
 * while the ISR register is nonzero; reading ISR clears it (§4.1.4.5).
 *
 * Status follows §2.1 and §3.1: FEATURES_OK is refused (reads back clear) when the driver
 * accepted a bit that was not offered, left out VIRTIO_F_VERSION_1, or the device says no;
 * features are fixed once FEATURES_OK is set; writing 0 resets the device and every queue.
 * Queue registers only take writes while the queue is disabled.
 *
 * Left out: the VIRTIO_PCI_CAP_PCI_CFG access window (Linux does not use it), legacy and
 * transitional interfaces, VIRTIO_F_NOTIFICATION_DATA, VIRTIO_F_RING_RESET (queue_reset reads 0).
 */
#include <errno.h>
#include <string.h>

#include "virtio/pci.h"

#define PCI_VENDOR_REDHAT_QUMRANET 0x1af4
#define PCI_CAP_ID_VNDR 0x09
#define PCI_CAP_ID_MSIX 0x11
#define MSIX_CTRL_ENABLE 0x8000
#define MSIX_CTRL_MASKALL 0x4000
#define MSIX_ENTRY_CTRL_MASKBIT 1

/* cfg_type of the virtio capabilities (§4.1.4). */
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG 3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4

/* Feature bits the transport and the virtqueue code implement for every device. */
#define TRANSPORT_FEATURES                                                                      \
	(VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC) |                  \
	 VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX))

static uint64_t offered(const struct virtio_pci *p)
{
	return p->vdev->host_features | TRANSPORT_FEATURES;
}

/* ---- MSI-X ---- */

static uint16_t msix_ctrl(const struct virtio_pci *p)
{
	return (uint16_t)pci_config_read((struct pci_device *)&p->pci, (unsigned)p->msix_cap + 2, 2);
}

static bool msix_enabled(const struct virtio_pci *p)
{
	return (msix_ctrl(p) & MSIX_CTRL_ENABLE) != 0;
}

static uint32_t ld32(const uint8_t *b)
{
	uint32_t v;
	memcpy(&v, b, 4);
	return v;
}

static void msix_send(struct virtio_pci *p, unsigned v)
{
	const uint8_t *e = p->msix_table + 16 * v;
	if ((msix_ctrl(p) & MSIX_CTRL_MASKALL) || (ld32(e + 12) & MSIX_ENTRY_CTRL_MASKBIT)) {
		p->msix_pba[v / 8] |= (uint8_t)(1u << (v % 8));
		return;
	}
	p->msix_pba[v / 8] &= (uint8_t)~(1u << (v % 8));
	uint64_t addr = ld32(e) | (uint64_t)ld32(e + 4) << 32;
	if (p->msi)
		p->msi(p->msi_ctx, addr, ld32(e + 8));
}

/* A mask was cleared: pending vectors that are now unmasked fire (§6.8.2.9). */
static void msix_deliver_pending(struct virtio_pci *p)
{
	if (!msix_enabled(p))
		return;
	for (unsigned v = 0; v < p->nvectors; v++)
		if (p->msix_pba[v / 8] & (1u << (v % 8)))
			msix_send(p, v);
}

/* ---- interrupts ---- */

static void update_intx(struct virtio_pci *p)
{
	pci_set_irq(&p->pci, !msix_enabled(p) && p->isr != 0);
}

static void transport_notify(void *opaque, int q)
{
	struct virtio_pci *p = opaque;
	p->isr |= q < 0 ? VIRTIO_PCI_ISR_CONFIG : VIRTIO_PCI_ISR_QUEUE;
	if (msix_enabled(p)) {
		uint16_t v = q < 0 ? p->config_vector : p->vdev->vq[q].msix_vector;
		if (v < p->nvectors)
			msix_send(p, v);
		return;
	}
	update_intx(p);
}

static const struct virtio_transport_ops transport_ops = { transport_notify };

/* ---- common configuration ---- */

static struct virtq *selected(struct virtio_pci *p)
{
	return p->queue_sel < p->vdev->num_queues ? &p->vdev->vq[p->queue_sel] : NULL;
}

static void put(uint8_t *img, unsigned off, uint64_t v, unsigned size)
{
	for (unsigned k = 0; k < size; k++)
		img[off + k] = (uint8_t)(v >> (8 * k));
}

static uint64_t common_read(struct virtio_pci *p, unsigned off, unsigned size)
{
	struct virtio_device *vd = p->vdev;
	uint8_t img[VIRTIO_PCI_COMMON_SIZE] = { 0 };
	uint64_t f = offered(p);
	put(img, VIRTIO_PCI_COMMON_DFSELECT, p->dfselect, 4);
	put(img, VIRTIO_PCI_COMMON_DF, p->dfselect < 2 ? (uint32_t)(f >> (32 * p->dfselect)) : 0, 4);
	put(img, VIRTIO_PCI_COMMON_GFSELECT, p->gfselect, 4);
	put(img, VIRTIO_PCI_COMMON_GF, p->gfselect < 2 ? (uint32_t)(vd->driver_features >> (32 * p->gfselect)) : 0,
	    4);
	put(img, VIRTIO_PCI_COMMON_MSIX, p->config_vector, 2);
	put(img, VIRTIO_PCI_COMMON_NUMQ, vd->num_queues, 2);
	put(img, VIRTIO_PCI_COMMON_STATUS, vd->status, 1);
	put(img, VIRTIO_PCI_COMMON_CFGGENERATION, vd->config_generation, 1);
	put(img, VIRTIO_PCI_COMMON_Q_SELECT, p->queue_sel, 2);
	struct virtq *vq = selected(p);
	if (vq) {
		put(img, VIRTIO_PCI_COMMON_Q_SIZE, vq->size, 2);
		put(img, VIRTIO_PCI_COMMON_Q_MSIX, vq->msix_vector, 2);
		put(img, VIRTIO_PCI_COMMON_Q_ENABLE, vq->enabled, 2);
		put(img, VIRTIO_PCI_COMMON_Q_NOFF, p->queue_sel, 2);
		put(img, VIRTIO_PCI_COMMON_Q_DESCLO, vq->desc_gpa, 8);
		put(img, VIRTIO_PCI_COMMON_Q_AVAILLO, vq->avail_gpa, 8);
		put(img, VIRTIO_PCI_COMMON_Q_USEDLO, vq->used_gpa, 8);
	}
	uint64_t v = 0;
	for (unsigned k = 0; k < size && off + k < sizeof(img); k++)
		v |= (uint64_t)img[off + k] << (8 * k);
	return v;
}

static void set_status(struct virtio_pci *p, uint8_t val)
{
	struct virtio_device *vd = p->vdev;
	if (val == 0) {
		virtio_device_reset(vd);
		p->config_vector = VIRTIO_MSI_NO_VECTOR;
		p->isr = 0;
		update_intx(p);
		return;
	}
	uint8_t old = vd->status;
	/* DEVICE_NEEDS_RESET is the device's to set; FEATURES_OK only sticks when accepted. */
	uint8_t st = (uint8_t)((val & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET) | (old & VIRTIO_STATUS_DEVICE_NEEDS_RESET));
	if ((st & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK)) {
		bool ok = !(vd->driver_features & ~offered(p)) && virtio_has_feature(vd, VIRTIO_F_VERSION_1);
		vd->status = st;
		if (ok && vd->ops && vd->ops->features_ok)
			ok = vd->ops->features_ok(vd);
		if (!ok)
			st &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
	}
	if ((st & VIRTIO_STATUS_DRIVER_OK) && !(st & VIRTIO_STATUS_FEATURES_OK))
		st &= (uint8_t)~VIRTIO_STATUS_DRIVER_OK; /* §3.1.1: no DRIVER_OK before FEATURES_OK */
	vd->status = st;
	if ((st & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK)) {
		if (vd->ops && vd->ops->driver_ok)
			vd->ops->driver_ok(vd);
		/* Buffers made available before DRIVER_OK are served now (§2.1.2: not before). */
		for (unsigned q = 0; q < vd->num_queues; q++)
			if (virtq_has_avail(vd, q) && vd->ops && vd->ops->queue_notify)
				vd->ops->queue_notify(vd, q);
	}
}

static void set_addr_half(uint64_t *a, unsigned off, unsigned size, uint64_t val)
{
	if (size == 8 && !(off & 4)) {
		*a = val;
	} else if (size == 4) {
		if (off & 4)
			*a = (*a & 0xffffffffull) | (uint64_t)(uint32_t)val << 32;
		else
			*a = (*a & ~0xffffffffull) | (uint32_t)val;
	}
}

static void common_write(struct virtio_pci *p, unsigned off, unsigned size, uint64_t val)
{
	struct virtio_device *vd = p->vdev;
	struct virtq *vq = selected(p);
	bool features_fixed = (vd->status & VIRTIO_STATUS_FEATURES_OK) != 0;
	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		if (size == 4)
			p->dfselect = (uint32_t)val;
		return;
	case VIRTIO_PCI_COMMON_GFSELECT:
		if (size == 4)
			p->gfselect = (uint32_t)val;
		return;
	case VIRTIO_PCI_COMMON_GF:
		if (size == 4 && p->gfselect < 2 && !features_fixed) {
			unsigned sh = 32 * p->gfselect;
			vd->driver_features = (vd->driver_features & ~(0xffffffffull << sh)) | ((uint64_t)(uint32_t)val << sh);
		}
		return;
	case VIRTIO_PCI_COMMON_MSIX:
		if (size == 2)
			p->config_vector = val < p->nvectors ? (uint16_t)val : VIRTIO_MSI_NO_VECTOR;
		return;
	case VIRTIO_PCI_COMMON_STATUS:
		if (size == 1)
			set_status(p, (uint8_t)val);
		return;
	case VIRTIO_PCI_COMMON_Q_SELECT:
		if (size == 2)
			p->queue_sel = (uint16_t)val;
		return;
	}
	if (!vq || vq->enabled)
		return; /* queue registers: only the selected, existing, not yet enabled queue */
	switch (off) {
	case VIRTIO_PCI_COMMON_Q_SIZE:
		/* Kept as written; virtq_enable refuses a size that is not a power of two <= max. */
		if (size == 2)
			vq->size = (uint16_t)val;
		return;
	case VIRTIO_PCI_COMMON_Q_MSIX:
		if (size == 2)
			vq->msix_vector = val < p->nvectors ? (uint16_t)val : VIRTIO_MSI_NO_VECTOR;
		return;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		if (size == 2 && val == 1)
			virtq_enable(vd, p->queue_sel);
		return;
	case VIRTIO_PCI_COMMON_Q_DESCLO:
	case VIRTIO_PCI_COMMON_Q_DESCHI:
		set_addr_half(&vq->desc_gpa, off, size, val);
		return;
	case VIRTIO_PCI_COMMON_Q_AVAILLO:
	case VIRTIO_PCI_COMMON_Q_AVAILHI:
		set_addr_half(&vq->avail_gpa, off, size, val);
		return;
	case VIRTIO_PCI_COMMON_Q_USEDLO:
	case VIRTIO_PCI_COMMON_Q_USEDHI:
		set_addr_half(&vq->used_gpa, off, size, val);
		return;
	}
}

/* ---- BAR 4 ---- */

static uint64_t bar_read(void *dev, uint64_t off, unsigned size)
{
	struct virtio_pci *p = dev;
	struct virtio_device *vd = p->vdev;
	if (off < VIRTIO_PCI_COMMON_SIZE)
		return common_read(p, (unsigned)off, size);
	if (off >= VIRTIO_PCI_ISR_OFF && off < VIRTIO_PCI_ISR_OFF + 4) {
		if (off != VIRTIO_PCI_ISR_OFF)
			return 0;
		uint8_t v = p->isr;
		p->isr = 0;
		update_intx(p);
		return v;
	}
	if (off >= VIRTIO_PCI_DEVICE_OFF && off < VIRTIO_PCI_DEVICE_OFF + vd->config_len) {
		unsigned o = (unsigned)(off - VIRTIO_PCI_DEVICE_OFF);
		if (vd->ops && vd->ops->config_read)
			vd->ops->config_read(vd, o, size);
		uint64_t v = 0;
		for (unsigned k = 0; k < size && o + k < vd->config_len; k++)
			v |= (uint64_t)vd->config[o + k] << (8 * k);
		return v;
	}
	return 0;
}

static void bar_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct virtio_pci *p = dev;
	struct virtio_device *vd = p->vdev;
	if (off < VIRTIO_PCI_COMMON_SIZE) {
		common_write(p, (unsigned)off, size, val);
	} else if (off >= VIRTIO_PCI_DEVICE_OFF && off < VIRTIO_PCI_DEVICE_OFF + vd->config_len) {
		unsigned o = (unsigned)(off - VIRTIO_PCI_DEVICE_OFF);
		bool any = false;
		for (unsigned k = 0; k < size && o + k < vd->config_len; k++) {
			uint8_t m = vd->config_wmask[o + k];
			vd->config[o + k] = (uint8_t)((vd->config[o + k] & ~m) | ((uint8_t)(val >> (8 * k)) & m));
			any |= m != 0;
		}
		if (any && vd->ops && vd->ops->config_write)
			vd->ops->config_write(vd, o, size);
	} else if (off >= VIRTIO_PCI_NOTIFY_OFF &&
		   off < VIRTIO_PCI_NOTIFY_OFF + (uint64_t)VIRTIO_PCI_NOTIFY_MULTIPLIER * vd->num_queues) {
		/* The address names the queue (§4.1.4.4); the value is only checked. */
		unsigned q = (unsigned)(off - VIRTIO_PCI_NOTIFY_OFF) / VIRTIO_PCI_NOTIFY_MULTIPLIER;
		if (vd->vq[q].enabled && !vd->vq[q].broken && (vd->status & VIRTIO_STATUS_DRIVER_OK) && vd->ops &&
		    vd->ops->queue_notify)
			vd->ops->queue_notify(vd, q);
	}
}

const struct io_ops virtio_pci_bar_ops = { bar_read, bar_write };

/* ---- BAR 1: MSI-X table and PBA ---- */

static uint64_t msix_read(void *dev, uint64_t off, unsigned size)
{
	struct virtio_pci *p = dev;
	const uint8_t *src;
	uint64_t len;
	if (off < VIRTIO_PCI_MSIX_PBA_OFF) {
		src = p->msix_table;
		len = 16ull * p->nvectors;
	} else {
		src = p->msix_pba;
		off -= VIRTIO_PCI_MSIX_PBA_OFF;
		len = sizeof(p->msix_pba);
	}
	uint64_t v = 0;
	for (unsigned k = 0; k < size; k++)
		if (off + k < len)
			v |= (uint64_t)src[off + k] << (8 * k);
	return v;
}

static void msix_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct virtio_pci *p = dev;
	if (off >= 16ull * p->nvectors)
		return; /* the PBA is read-only */
	for (unsigned k = 0; k < size && off + k < 16ull * p->nvectors; k++) {
		uint64_t a = off + k;
		if ((a & 15) >= 12 && (a & 15) != 12)
			continue; /* vector control: only the mask bit is writable */
		uint8_t b = (uint8_t)(val >> (8 * k));
		p->msix_table[a] = (a & 15) == 12 ? (uint8_t)(b & MSIX_ENTRY_CTRL_MASKBIT) : b;
	}
	msix_deliver_pending(p);
}

const struct io_ops virtio_pci_msix_ops = { msix_read, msix_write };

/* ---- PCI function ---- */

static void pci_config_written(struct pci_device *d, unsigned off, unsigned size, uint32_t val)
{
	struct virtio_pci *p = d->opaque;
	unsigned ctrl = (unsigned)p->msix_cap + 2;
	if (off < ctrl + 2 && off + size > ctrl) {
		update_intx(p);
		msix_deliver_pending(p);
	}
}

static void msix_reset(struct virtio_pci *p)
{
	memset(p->msix_table, 0, sizeof(p->msix_table));
	memset(p->msix_pba, 0, sizeof(p->msix_pba));
	for (unsigned v = 0; v < p->nvectors; v++)
		p->msix_table[16 * v + 12] = MSIX_ENTRY_CTRL_MASKBIT; /* masked at reset */
}

static void pci_reset(struct pci_device *d)
{
	struct virtio_pci *p = d->opaque;
	virtio_device_reset(p->vdev);
	p->dfselect = p->gfselect = 0;
	p->queue_sel = 0;
	p->config_vector = VIRTIO_MSI_NO_VECTOR;
	p->isr = 0;
	msix_reset(p);
	update_intx(p);
}

static int add_virtio_cap(struct pci_device *d, uint8_t type, uint32_t off, uint32_t len, unsigned caplen)
{
	int c = pci_add_capability(d, PCI_CAP_ID_VNDR, caplen);
	if (c < 0)
		return c;
	d->config[c + 2] = (uint8_t)caplen;
	d->config[c + 3] = type;
	d->config[c + 4] = VIRTIO_PCI_BAR;
	memcpy(&d->config[c + 8], &off, 4);
	memcpy(&d->config[c + 12], &len, 4);
	return c;
}

int virtio_pci_init(struct virtio_pci *p, struct virtio_device *vdev, struct virtio_host *h, struct pci_bus *bus,
		    unsigned devfn, uint32_t class_code, void (*msi)(void *ctx, uint64_t addr, uint32_t data),
		    void *msi_ctx)
{
	memset(p, 0, sizeof(*p));
	if (vdev->num_queues == 0 || vdev->num_queues > VIRTIO_MAX_QUEUES || vdev->config_len > 0x1000)
		return -EINVAL;
	p->vdev = vdev;
	p->msi = msi;
	p->msi_ctx = msi_ctx;
	p->nvectors = vdev->num_queues + 1;
	p->config_vector = VIRTIO_MSI_NO_VECTOR;
	virtio_device_init(vdev, h);
	vdev->tr = &transport_ops;
	vdev->tr_opaque = p;

	struct pci_device *d = &p->pci;
	pci_device_init(d, vdev->name ? vdev->name : "virtio", PCI_VENDOR_REDHAT_QUMRANET, 0x1040 + vdev->device_id,
			class_code, 1, 0);
	pci_set_subsystem(d, PCI_VENDOR_REDHAT_QUMRANET, 0x1100 /* QEMU's value; modern drivers ignore it */);
	d->opaque = p;
	d->config_write = pci_config_written;
	d->reset = pci_reset;
	pci_set_interrupt_pin(d, 1);
	int r = pci_set_bar(d, VIRTIO_PCI_MSIX_BAR, PCI_BAR_MEM32, VIRTIO_PCI_MSIX_BAR_SIZE, false, &virtio_pci_msix_ops,
			    p, "virtio-msix");
	if (!r)
		r = pci_set_bar(d, VIRTIO_PCI_BAR, PCI_BAR_MEM64, VIRTIO_PCI_BAR_SIZE, true, &virtio_pci_bar_ops, p,
				"virtio");
	if (r)
		return r;

	/* MSI-X capability: table at BAR 1 offset 0, PBA at 0x800; enable and function mask writable. */
	int c = pci_add_capability(d, PCI_CAP_ID_MSIX, 12);
	if (c < 0)
		return c;
	p->msix_cap = c;
	uint16_t ctrl = (uint16_t)(p->nvectors - 1);
	memcpy(&d->config[c + 2], &ctrl, 2);
	uint32_t table = VIRTIO_PCI_MSIX_BAR, pba = VIRTIO_PCI_MSIX_PBA_OFF | VIRTIO_PCI_MSIX_BAR;
	memcpy(&d->config[c + 4], &table, 4);
	memcpy(&d->config[c + 8], &pba, 4);
	d->wmask[c + 3] = (MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL) >> 8;

	if ((r = add_virtio_cap(d, VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_COMMON_OFF, VIRTIO_PCI_COMMON_SIZE, 16)) < 0 ||
	    (r = add_virtio_cap(d, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_ISR_OFF, 1, 16)) < 0)
		return r;
	/* Only devices with a configuration space have the capability (§4.1.4.6). */
	if (vdev->config_len &&
	    (r = add_virtio_cap(d, VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_DEVICE_OFF, vdev->config_len, 16)) < 0)
		return r;
	if ((r = add_virtio_cap(d, VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_NOTIFY_OFF,
				VIRTIO_PCI_NOTIFY_MULTIPLIER * vdev->num_queues, 20)) < 0)
		return r;
	uint32_t mult = VIRTIO_PCI_NOTIFY_MULTIPLIER;
	memcpy(&d->config[r + 16], &mult, 4);
	msix_reset(p);
	return bus ? pci_register_device(bus, devfn, d) : 0;
}
