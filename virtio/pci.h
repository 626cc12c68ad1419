/*
 * virtio over PCI, modern interface only (virtio 1.2 §4.1): one PCI function per virtio device,
 * vendor 0x1af4, device 0x1040 + device id, revision 1, with the common, notify, ISR and device
 * configuration structures in a 64-bit memory BAR and MSI-X (table and PBA in a 32-bit memory
 * BAR); INTx pin A with the read-to-clear ISR register when MSI-X is off.
 */
#ifndef SOFTVM_VIRTIO_PCI_H
#define SOFTVM_VIRTIO_PCI_H
#include <stdint.h>

#include "dev/pci.h"
#include "virtio/virtio.h"

/* BAR layout. */
#define VIRTIO_PCI_MSIX_BAR 1
#define VIRTIO_PCI_BAR 4
#define VIRTIO_PCI_COMMON_OFF 0x0000
#define VIRTIO_PCI_ISR_OFF 0x1000
#define VIRTIO_PCI_DEVICE_OFF 0x2000
#define VIRTIO_PCI_NOTIFY_OFF 0x3000
#define VIRTIO_PCI_BAR_SIZE 0x4000
#define VIRTIO_PCI_NOTIFY_MULTIPLIER 4
#define VIRTIO_PCI_MSIX_PBA_OFF 0x800
#define VIRTIO_PCI_MSIX_BAR_SIZE 0x1000
#define VIRTIO_PCI_MAX_VECTORS (VIRTIO_MAX_QUEUES + 1)

/* Common configuration structure (§4.1.4.3). */
#define VIRTIO_PCI_COMMON_DFSELECT 0x00
#define VIRTIO_PCI_COMMON_DF 0x04
#define VIRTIO_PCI_COMMON_GFSELECT 0x08
#define VIRTIO_PCI_COMMON_GF 0x0c
#define VIRTIO_PCI_COMMON_MSIX 0x10
#define VIRTIO_PCI_COMMON_NUMQ 0x12
#define VIRTIO_PCI_COMMON_STATUS 0x14
#define VIRTIO_PCI_COMMON_CFGGENERATION 0x15
#define VIRTIO_PCI_COMMON_Q_SELECT 0x16
#define VIRTIO_PCI_COMMON_Q_SIZE 0x18
#define VIRTIO_PCI_COMMON_Q_MSIX 0x1a
#define VIRTIO_PCI_COMMON_Q_ENABLE 0x1c
#define VIRTIO_PCI_COMMON_Q_NOFF 0x1e
#define VIRTIO_PCI_COMMON_Q_DESCLO 0x20
#define VIRTIO_PCI_COMMON_Q_DESCHI 0x24
#define VIRTIO_PCI_COMMON_Q_AVAILLO 0x28
#define VIRTIO_PCI_COMMON_Q_AVAILHI 0x2c
#define VIRTIO_PCI_COMMON_Q_USEDLO 0x30
#define VIRTIO_PCI_COMMON_Q_USEDHI 0x34
#define VIRTIO_PCI_COMMON_Q_NDATA 0x38
#define VIRTIO_PCI_COMMON_Q_RESET 0x3a
#define VIRTIO_PCI_COMMON_SIZE 0x3c

#define VIRTIO_PCI_ISR_QUEUE 1
#define VIRTIO_PCI_ISR_CONFIG 2

struct virtio_pci {
	struct pci_device pci;
	struct virtio_device *vdev;
	uint32_t dfselect, gfselect;
	uint16_t queue_sel;
	uint16_t config_vector;
	uint8_t isr;
	int msix_cap;                  /* config space offset of the MSI-X capability */
	unsigned nvectors;
	uint8_t msix_table[VIRTIO_PCI_MAX_VECTORS * 16];
	uint8_t msix_pba[(VIRTIO_PCI_MAX_VECTORS + 7) / 8];
	/* Delivers an MSI message (the machine sends it to the local APIC). */
	void (*msi)(void *ctx, uint64_t addr, uint32_t data);
	void *msi_ctx;
};

/* Builds the PCI function for vdev (fields filled by the device model) and registers it at
 * devfn on bus. class_code is class << 16 | subclass << 8 | prog-if. Returns 0 or -errno. */
int virtio_pci_init(struct virtio_pci *p, struct virtio_device *vdev, struct virtio_host *h, struct pci_bus *bus,
		    unsigned devfn, uint32_t class_code, void (*msi)(void *ctx, uint64_t addr, uint32_t data),
		    void *msi_ctx);

/* The BARs' registers (offsets within the BAR), for tests. */
extern const struct io_ops virtio_pci_bar_ops;  /* VIRTIO_PCI_BAR */
extern const struct io_ops virtio_pci_msix_ops; /* VIRTIO_PCI_MSIX_BAR */
#endif
