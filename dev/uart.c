/*
 * 16550A UART (PC16550D datasheet, registers §8). Transmission is instantaneous: a byte written to
 * THR goes to the backend at once, so THR/TSR are always empty from the guest's point of view and
 * the THR-empty interrupt fires right after each write when enabled. The receive side has the
 * 16-byte FIFO; the interrupt is "data available" whenever it holds anything (trigger levels and
 * the character timeout collapse into that). Loopback (MCR bit 4) routes TX to RX as Linux's
 * probe expects; the IRQ reaches the PIC only with OUT2 set, as on a PC.
 * Not modelled: baud-rate timing, parity/framing errors, break.
 */
#include <errno.h>
#include <string.h>

#include "uart.h"

#define UART_IER_RDI 0x01
#define UART_IER_THRI 0x02
#define UART_IER_RLSI 0x04
#define UART_IER_MSI 0x08

#define UART_IIR_NO_INT 0x01
#define UART_IIR_MSI 0x00
#define UART_IIR_THRI 0x02
#define UART_IIR_RDI 0x04
#define UART_IIR_FIFO 0xc0

#define UART_LCR_DLAB 0x80
#define UART_MCR_DTR 0x01
#define UART_MCR_RTS 0x02
#define UART_MCR_OUT1 0x04
#define UART_MCR_OUT2 0x08
#define UART_MCR_LOOP 0x10

#define UART_LSR_DR 0x01
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40

#define UART_MSR_DCTS 0x01
#define UART_MSR_DDSR 0x02
#define UART_MSR_TERI 0x04
#define UART_MSR_DDCD 0x08
#define UART_MSR_CTS 0x10
#define UART_MSR_DSR 0x20
#define UART_MSR_RI 0x40
#define UART_MSR_DCD 0x80
#define UART_MSR_DELTA 0x0f

#define UART_FCR_ENABLE 0x01
#define UART_FCR_CLEAR_RX 0x02

static unsigned pending_iir(const struct uart *u)
{
	if ((u->ier & UART_IER_RDI) && u->rx_count)
		return UART_IIR_RDI;
	if ((u->ier & UART_IER_THRI) && u->iir_thri_pending)
		return UART_IIR_THRI;
	if ((u->ier & UART_IER_MSI) && (u->msr & UART_MSR_DELTA))
		return UART_IIR_MSI;
	return UART_IIR_NO_INT;
}

static void update_irq(struct uart *u)
{
	/* OUT2 gates the interrupt onto the ISA bus on PC serial ports. */
	int level = pending_iir(u) != UART_IIR_NO_INT && (u->mcr & UART_MCR_OUT2);
	irq_set(&u->irq, level);
}

/* Modem status lines: the loopback wiring, or a connected terminal. */
static void update_msr(struct uart *u)
{
	uint8_t lines;
	if (u->mcr & UART_MCR_LOOP) {
		lines = ((u->mcr & UART_MCR_RTS) ? UART_MSR_CTS : 0) | ((u->mcr & UART_MCR_DTR) ? UART_MSR_DSR : 0) |
			((u->mcr & UART_MCR_OUT1) ? UART_MSR_RI : 0) | ((u->mcr & UART_MCR_OUT2) ? UART_MSR_DCD : 0);
	} else {
		lines = UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD;
	}
	uint8_t old = u->msr & 0xf0, delta = 0;
	if ((old ^ lines) & UART_MSR_CTS)
		delta |= UART_MSR_DCTS;
	if ((old ^ lines) & UART_MSR_DSR)
		delta |= UART_MSR_DDSR;
	if ((old ^ lines) & UART_MSR_DCD)
		delta |= UART_MSR_DDCD;
	if ((old & UART_MSR_RI) && !(lines & UART_MSR_RI))
		delta |= UART_MSR_TERI;
	u->msr = lines | (u->msr & UART_MSR_DELTA) | delta;
}

size_t uart_rx_room(const struct uart *u)
{
	return UART_FIFO_SIZE - u->rx_count;
}

size_t uart_receive(struct uart *u, const uint8_t *buf, size_t len)
{
	size_t n = 0;
	while (n < len && u->rx_count < UART_FIFO_SIZE) {
		u->rbr_fifo[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] = buf[n++];
		u->rx_count++;
	}
	if (n)
		update_irq(u);
	return n;
}

void uart_reset(struct uart *u)
{
	u->rx_head = u->rx_count = 0;
	u->ier = 0;
	u->iir_thri_pending = 0;
	u->lcr = 0;
	u->mcr = 0;
	u->msr = 0;
	u->scr = 0;
	u->fcr = 0;
	u->divisor = 12; /* 9600 baud */
	update_msr(u);
	u->msr &= ~UART_MSR_DELTA;
	update_irq(u);
}

static uint64_t uart_read(void *dev, uint64_t off, unsigned size)
{
	struct uart *u = dev;
	uint8_t v = 0xff;
	switch (off) {
	case 0:
		if (u->lcr & UART_LCR_DLAB) {
			v = u->divisor & 0xff;
		} else if (u->rx_count) {
			v = u->rbr_fifo[u->rx_head];
			u->rx_head = (u->rx_head + 1) % UART_FIFO_SIZE;
			u->rx_count--;
			update_irq(u);
		} else {
			v = 0;
		}
		break;
	case 1: v = (u->lcr & UART_LCR_DLAB) ? u->divisor >> 8 : u->ier; break;
	case 2:
		v = pending_iir(u);
		/* Reading IIR while THRE is the reported source acknowledges it. */
		if (v == UART_IIR_THRI) {
			u->iir_thri_pending = 0;
			update_irq(u);
		}
		if (u->fcr & UART_FCR_ENABLE)
			v |= UART_IIR_FIFO;
		break;
	case 3: v = u->lcr; break;
	case 4: v = u->mcr; break;
	case 5: v = UART_LSR_THRE | UART_LSR_TEMT | (u->rx_count ? UART_LSR_DR : 0); break;
	case 6:
		v = u->msr;
		u->msr &= ~UART_MSR_DELTA;
		update_irq(u);
		break;
	case 7: v = u->scr; break;
	}
	return v;
}

static void uart_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct uart *u = dev;
	uint8_t v = (uint8_t)val;
	switch (off) {
	case 0:
		if (u->lcr & UART_LCR_DLAB) {
			u->divisor = (u->divisor & 0xff00) | v;
			break;
		}
		if (u->mcr & UART_MCR_LOOP)
			uart_receive(u, &v, 1);
		else if (u->be.tx)
			u->be.tx(u->be.opaque, &v, 1);
		u->iir_thri_pending = 1; /* sent at once: THR is empty again */
		update_irq(u);
		break;
	case 1:
		if (u->lcr & UART_LCR_DLAB) {
			u->divisor = (uint16_t)((u->divisor & 0xff) | v << 8);
			break;
		}
		/* Enabling the THRE interrupt while THR is empty raises it (datasheet §8.6.3). */
		if ((v & UART_IER_THRI) && !(u->ier & UART_IER_THRI))
			u->iir_thri_pending = 1;
		u->ier = v & 0x0f;
		update_irq(u);
		break;
	case 2:
		u->fcr = v & 0xc9;
		if (v & UART_FCR_CLEAR_RX) {
			u->rx_head = u->rx_count = 0;
			update_irq(u);
		}
		break;
	case 3: u->lcr = v; break;
	case 4:
		u->mcr = v & 0x1f;
		update_msr(u);
		update_irq(u);
		break;
	case 7: u->scr = v; break;
	default: break; /* LSR and MSR are read-only */
	}
}

const struct io_ops uart_ops = { uart_read, uart_write };

int uart_init(struct uart *u, struct iobus *pio, uint16_t base, struct irq irq, const struct uart_backend *be)
{
	memset(u, 0, sizeof(*u));
	u->irq = irq;
	if (be)
		u->be = *be;
	uart_reset(u);
	return pio ? iobus_register(pio, base, 8, &uart_ops, u, "uart") : 0;
}
