/*
 * System Control Port A (port 0x92), as on PS/2 and every later PC chipset (e.g. Intel PIIX4
 * datasheet, "Port 92h"): writing bit 0 from 0 to 1 pulses the CPU reset (the "fast reset"),
 * bit 1 gates A20. The reset goes to the machine's callback; A20 is kept as state only, since
 * softvm does not mask address line 20 (guests that boot through the Linux protocol or Multiboot
 * run with A20 on). Bit 3 (CMOS security lock) and the activity-LED bits 6-7 read back as written.
 */
#include <string.h>

#include "port92.h"

#define P92_RESET 0x01
#define P92_A20 0x02

static uint64_t port92_read(void *dev, uint64_t off, unsigned size)
{
	struct port92 *p = dev;
	return p->val & ~P92_RESET; /* the reset pulse is over by the time anyone reads */
}

static void port92_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct port92 *p = dev;
	uint8_t v = (uint8_t)val & (P92_RESET | P92_A20 | 0x08 | 0xc0);
	bool pulse = (v & P92_RESET) && !(p->val & P92_RESET);
	p->val = v & ~P92_RESET;
	if (pulse && p->reset)
		p->reset(p->reset_opaque);
}

static const struct io_ops port92_ops = { port92_read, port92_write };

bool port92_a20(const struct port92 *p)
{
	return p->val & P92_A20;
}

void port92_reset(struct port92 *p)
{
	p->val = P92_A20;
}

int port92_init(struct port92 *p, struct iobus *pio, void (*reset)(void *opaque), void *reset_opaque)
{
	memset(p, 0, sizeof(*p));
	p->reset = reset;
	p->reset_opaque = reset_opaque;
	port92_reset(p);
	return pio ? iobus_register(pio, 0x92, 1, &port92_ops, p, "port92") : 0;
}
