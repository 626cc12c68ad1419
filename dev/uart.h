/*
 * 16550A UART (National Semiconductor PC16550D datasheet): the PC's COM ports, used as the guest's
 * serial console.
 */
#ifndef SOFTVM_DEV_UART_H
#define SOFTVM_DEV_UART_H
#include <stddef.h>
#include <stdint.h>

#include "dev/irq.h"
#include "machine/iobus.h"

#define UART_FIFO_SIZE 16

struct uart_backend {
	/* Bytes the guest transmitted. */
	void (*tx)(void *opaque, const uint8_t *buf, size_t len);
	void *opaque;
};

struct uart {
	uint8_t rbr_fifo[UART_FIFO_SIZE];
	unsigned rx_head, rx_count;
	uint8_t ier, iir_thri_pending, lcr, mcr, lsr, msr, scr, fcr;
	uint16_t divisor;
	struct irq irq;
	struct uart_backend be;
};

/* Registers the 8 ports at base (0x3f8 for COM1) and resets the device. Returns 0 or -errno. */
int uart_init(struct uart *u, struct iobus *pio, uint16_t base, struct irq irq, const struct uart_backend *be);
void uart_reset(struct uart *u);
/* Feeds received bytes (console input); returns how many fit in the receive FIFO. */
size_t uart_receive(struct uart *u, const uint8_t *buf, size_t len);
/* Free space in the receive FIFO. */
size_t uart_rx_room(const struct uart *u);

extern const struct io_ops uart_ops;
#endif
