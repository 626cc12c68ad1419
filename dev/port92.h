/*
 * System Control Port A at 0x92 (PS/2 and later PCs): bit 0 fast reset, bit 1 A20 gate.
 */
#ifndef SOFTVM_DEV_PORT92_H
#define SOFTVM_DEV_PORT92_H
#include <stdbool.h>
#include <stdint.h>

#include "machine/iobus.h"

struct port92 {
	uint8_t val;
	void (*reset)(void *opaque); /* the guest asked for a CPU reset */
	void *reset_opaque;
};

int port92_init(struct port92 *p, struct iobus *pio, void (*reset)(void *opaque), void *reset_opaque);
void port92_reset(struct port92 *p);
/* Bit 1: A20 enabled. Kept as state only: the machine does not mask address line 20. */
bool port92_a20(const struct port92 *p);
#endif
