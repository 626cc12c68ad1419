/* 16550A UART: registers, divisor latch, FIFO, interrupts and their OUT2 gating, loopback. */
#include <string.h>

#include "dev/uart.h"
#include "tests/test.h"

static int irq_level;
static uint8_t txbuf[256];
static size_t txlen;

static void set_irq(void *ctx, unsigned line, int level)
{
	irq_level = level;
}

static void tx(void *opaque, const uint8_t *buf, size_t len)
{
	memcpy(txbuf + txlen, buf, len);
	txlen += len;
}

static uint8_t rd(struct uart *u, unsigned reg)
{
	return (uint8_t)uart_ops.read(u, reg, 1);
}

static void wr(struct uart *u, unsigned reg, uint8_t v)
{
	uart_ops.write(u, reg, 1, v);
}

int main(void)
{
	struct uart u;
	struct uart_backend be = { tx, NULL };
	uart_init(&u, NULL, 0x3f8, (struct irq){ set_irq, NULL, 4 }, &be);

	CHECK(rd(&u, 5) == 0x60, "uart: LSR after reset: THR and transmitter empty, no data (%02x)", rd(&u, 5));
	CHECK((rd(&u, 2) & 0x0f) == 0x01, "uart: IIR after reset: no interrupt pending");
	CHECK((rd(&u, 6) & 0xb0) == 0xb0, "uart: MSR shows CTS, DSR, DCD of a connected terminal");

	/* Divisor latch */
	wr(&u, 3, 0x80);
	wr(&u, 0, 0x01);
	wr(&u, 1, 0x02);
	CHECK(rd(&u, 0) == 0x01 && rd(&u, 1) == 0x02, "uart: DLAB exposes the divisor latch");
	wr(&u, 3, 0x03);
	CHECK(rd(&u, 3) == 0x03 && rd(&u, 1) == 0x00, "uart: DLAB off: IER back, LCR 8N1");

	/* Transmit goes to the backend */
	wr(&u, 0, 'h');
	wr(&u, 0, 'i');
	CHECK(txlen == 2 && !memcmp(txbuf, "hi", 2), "uart: THR writes reach the backend");

	/* Scratch */
	wr(&u, 7, 0x5a);
	CHECK(rd(&u, 7) == 0x5a, "uart: scratch register");

	/* Receive FIFO and data-available interrupt, gated by OUT2 */
	wr(&u, 1, 0x01); /* ERBFI */
	uint8_t in[20];
	for (int k = 0; k < 20; k++)
		in[k] = (uint8_t)('a' + k);
	size_t took = uart_receive(&u, in, sizeof(in));
	CHECK(took == UART_FIFO_SIZE, "uart: the receive FIFO holds 16 bytes (%zu)", took);
	CHECK(!irq_level, "uart: no IRQ without OUT2");
	wr(&u, 4, 0x08); /* OUT2 */
	CHECK(irq_level == 1 && (rd(&u, 2) & 0x0f) == 0x04, "uart: OUT2 lets the data-available interrupt out");
	CHECK(rd(&u, 5) & 0x01, "uart: LSR.DR with data");
	int ok = 1;
	for (int k = 0; k < UART_FIFO_SIZE; k++)
		ok &= rd(&u, 0) == 'a' + k;
	CHECK(ok, "uart: bytes come out in order");
	CHECK(!(rd(&u, 5) & 0x01) && irq_level == 0, "uart: empty FIFO: DR clear, IRQ low");

	/* THRE interrupt: raised when enabled with THR empty, acknowledged by reading IIR */
	wr(&u, 1, 0x02);
	CHECK(irq_level == 1 && (rd(&u, 2) & 0x0f) == 0x02, "uart: enabling ETBEI with THR empty raises THRE");
	CHECK(irq_level == 0 && (rd(&u, 2) & 0x0f) == 0x01, "uart: reading IIR acknowledged THRE");
	wr(&u, 0, 'x');
	CHECK(irq_level == 1, "uart: THRE again after a transmitted byte");
	rd(&u, 2);

	/* FIFO enable shows in IIR, FCR clears the receive FIFO */
	uart_receive(&u, (const uint8_t *)"zz", 2);
	wr(&u, 2, 0x07);
	CHECK((rd(&u, 2) & 0xc0) == 0xc0, "uart: IIR reports FIFOs enabled");
	CHECK(!(rd(&u, 5) & 0x01), "uart: FCR bit 1 clears the receive FIFO");

	/* Loopback: TX returns on RX, modem lines follow MCR */
	txlen = 0;
	wr(&u, 1, 0x00);
	wr(&u, 4, 0x10 | 0x08 | 0x02 | 0x01); /* LOOP OUT2 RTS DTR */
	wr(&u, 0, 'L');
	CHECK(txlen == 0 && (rd(&u, 5) & 1) && rd(&u, 0) == 'L', "uart: loopback returns the byte, backend sees nothing");
	uint8_t msr = rd(&u, 6);
	CHECK((msr & 0xf0) == (0x10 | 0x20 | 0x80), "uart: loopback MSR: CTS=RTS, DSR=DTR, DCD=OUT2 (%02x)", msr);
	wr(&u, 4, 0x08);

	/* Modem-status interrupt after a line change */
	wr(&u, 1, 0x08);
	wr(&u, 4, 0x18);
	CHECK((rd(&u, 2) & 0x0f) == 0x00 && irq_level == 1, "uart: MSR delta raises the modem-status interrupt");
	rd(&u, 6);
	CHECK(irq_level == 0, "uart: reading MSR clears the deltas");

	uart_reset(&u);
	CHECK(rd(&u, 1) == 0 && rd(&u, 4) == 0 && !irq_level, "uart: reset clears IER, MCR and the IRQ");
	TEST_EXIT();
}
