/*
 * Intel 8042 keyboard controller at ports 0x60 (data) and 0x64 (status/command), with a PS/2
 * keyboard on its first port (IRQ 1) and a PS/2 mouse on its auxiliary port (IRQ 12).
 */
#ifndef SOFTVM_DEV_I8042_H
#define SOFTVM_DEV_I8042_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dev/irq.h"
#include "machine/iobus.h"

#define PS2_QUEUE_SIZE 32

struct ps2_queue {
	uint8_t data[PS2_QUEUE_SIZE];
	unsigned head, count;
};

struct ps2_kbd {
	struct ps2_queue q;
	uint8_t arg_cmd;  /* command waiting for its argument byte, 0 if none */
	uint8_t last;     /* last byte sent, for the resend command */
	bool scanning;
	uint8_t set, leds, typematic;
};

struct ps2_mouse {
	struct ps2_queue q;
	uint8_t arg_cmd, last;
	bool enabled, remote, wrap, scale21;
	uint8_t rate, resolution, id, buttons;
	uint8_t rates[3]; /* last three sample rates: the IntelliMouse knock 200, 100, 80 */
};

struct i8042 {
	uint8_t status;
	uint8_t ram[32];  /* ram[0] is the command byte */
	uint8_t outport;
	uint8_t out;      /* output buffer */
	uint8_t pending;  /* controller command waiting for a data byte, 0 if none */
	bool xlate_break; /* translation saw a set-2 0xf0 prefix */
	/* Controller replies and bytes written with 0xd2/0xd3, ahead of the devices' data. */
	struct ps2_queue ctl_q;
	uint8_t ctl_src[PS2_QUEUE_SIZE]; /* 0: keyboard side, 1: aux side, per ctl_q slot */
	struct ps2_kbd kbd;
	struct ps2_mouse aux;
	bool irq1_level, irq12_level;
	struct irq irq1, irq12;
	/* Called when the guest pulls the CPU reset line (0xfe or an output port write). */
	void (*reset)(void *opaque);
	void *reset_opaque;
};

int i8042_init(struct i8042 *c, struct iobus *pio, struct irq irq1, struct irq irq12, void (*reset)(void *opaque),
	       void *reset_opaque);
/* Power-on state (the machine's reset). */
void i8042_reset(struct i8042 *c);
/* Bytes as the keyboard sends them in its current scan code set (set 2 after reset; the
 * controller translates to set 1 when the command byte asks). Returns how many were taken:
 * none while the keyboard is not scanning, fewer when its buffer is full. */
size_t i8042_kbd_inject(struct i8042 *c, const uint8_t *codes, size_t n);
/* A mouse movement/button report (buttons: bit 0 left, 1 right, 2 middle; dy up is positive).
 * Returns false when the mouse is not streaming or its buffer is full. */
bool i8042_mouse_event(struct i8042 *c, int dx, int dy, int dz, unsigned buttons);
/* Output port bit 1 (A20 gate). A20 masking is not modelled: the state is only kept. */
bool i8042_a20(const struct i8042 *c);
#endif
