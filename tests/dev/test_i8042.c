/* i8042 controller, PS/2 keyboard and mouse, port 0x92: controller commands, command byte,
 * keyboard and mouse command replies, scan code translation, interrupts, the reset line. */
#include <string.h>

#include "dev/i8042.h"
#include "dev/port92.h"
#include "tests/test.h"

static struct iobus pio;
static struct i8042 kbc;
static struct port92 p92;
static int level[16], edges[16], resets;

static void set_irq(void *ctx, unsigned line, int l)
{
	if (l && !level[line])
		edges[line]++;
	level[line] = l;
}

static void on_reset(void *opaque)
{
	resets++;
}

static uint8_t status(void) { return (uint8_t)iobus_read(&pio, 0x64, 1); }
static uint8_t data(void) { return (uint8_t)iobus_read(&pio, 0x60, 1); }
static void cmd(uint8_t v) { iobus_write(&pio, 0x64, 1, v); }
static void put(uint8_t v) { iobus_write(&pio, 0x60, 1, v); }

/* Reads every byte waiting into buf (as a polling driver does); returns the count. */
static unsigned drain(uint8_t *buf, unsigned max)
{
	unsigned n = 0;
	while ((status() & 1) && n < max)
		buf[n++] = data();
	return n;
}

static bool reply_is(const uint8_t *want, unsigned n)
{
	uint8_t got[64];
	unsigned m = drain(got, sizeof(got));
	return m == n && !memcmp(got, want, n);
}

static void setup(void)
{
	memset(&pio, 0, sizeof(pio));
	memset(level, 0, sizeof(level));
	memset(edges, 0, sizeof(edges));
	resets = 0;
	i8042_init(&kbc, &pio, (struct irq){ set_irq, NULL, 1 }, (struct irq){ set_irq, NULL, 12 }, on_reset, NULL);
	port92_init(&p92, &pio, on_reset, NULL);
}

static void test_controller(void)
{
	setup();
	CHECK(status() == 0x14, "power-on status: unlocked, system flag, output buffer empty");
	cmd(0xaa);
	CHECK((status() & 0x09) == 0x09, "after a command: OBF and the command bit");
	CHECK(data() == 0x55 && !(status() & 1), "self-test 0xaa answers 0x55, reading empties the buffer");
	cmd(0xab);
	CHECK(data() == 0x00, "keyboard interface test passes");
	cmd(0xa9);
	CHECK(data() == 0x00, "aux interface test passes");
	cmd(0x20);
	CHECK(data() == 0x65, "command byte: translate, system, aux disabled, keyboard interrupt");
	cmd(0x60);
	put(0x47);
	CHECK(!(status() & 0x08), "a data write clears the command bit");
	cmd(0x20);
	CHECK(data() == 0x47, "command byte write/read (0x60/0x20)");
	cmd(0x60);
	put(0x40);
	CHECK(!(status() & 0x04), "status system flag follows command byte bit 2");
	cmd(0x6f);
	put(0x99);
	cmd(0x2f);
	CHECK(data() == 0x99, "internal RAM bytes 0x0f via 0x6f/0x2f");
	cmd(0xad);
	cmd(0x20);
	CHECK(data() & 0x10, "0xad disables the keyboard interface");
	cmd(0xae);
	cmd(0x20);
	CHECK(!(data() & 0x10), "0xae enables it");
	cmd(0xa7);
	cmd(0x20);
	CHECK(data() & 0x20, "0xa7 disables the aux interface");
	cmd(0xa8);
	cmd(0x20);
	CHECK(!(data() & 0x20), "0xa8 enables it");
	cmd(0xa4);
	CHECK(data() == 0xf1, "no password installed");
	cmd(0x12); /* unknown */
	CHECK(!(status() & 1), "unknown controller commands are ignored");
	cmd(0xd2);
	put(0x77);
	CHECK((status() & 0x21) == 0x01 && data() == 0x77, "0xd2 writes the keyboard output buffer");
	cmd(0xd3);
	put(0x5a);
	CHECK((status() & 0x21) == 0x21 && data() == 0x5a, "0xd3 (aux loop) returns the byte as aux data");
}

static void test_reset_and_a20(void)
{
	setup();
	cmd(0xd0);
	CHECK(data() == 0x03, "output port: reset inactive, A20 on");
	CHECK(i8042_a20(&kbc), "A20 on at power-on");
	cmd(0xd1);
	put(0x01);
	CHECK(!i8042_a20(&kbc) && resets == 0, "output port write turns A20 off without reset");
	cmd(0xdf);
	CHECK(i8042_a20(&kbc), "0xdf enables A20");
	cmd(0xdd);
	CHECK(!i8042_a20(&kbc), "0xdd disables A20");
	cmd(0xd1);
	put(0x02);
	CHECK(resets == 1, "output port bit 0 low resets the CPU");
	cmd(0xff);
	CHECK(resets == 1, "pulse 0xff touches no line");
	cmd(0xfe);
	CHECK(resets == 2, "pulse 0xfe resets the CPU");
	cmd(0xf0);
	CHECK(resets == 3, "pulse 0xf0 includes the reset line");

	resets = 0;
	CHECK(iobus_read(&pio, 0x92, 1) == 0x02 && port92_a20(&p92), "port 0x92: A20 on");
	iobus_write(&pio, 0x92, 1, 0x00);
	CHECK(!port92_a20(&p92) && resets == 0 && iobus_read(&pio, 0x92, 1) == 0, "port 0x92 bit 1 clears A20");
	iobus_write(&pio, 0x92, 1, 0x03);
	CHECK(resets == 1 && port92_a20(&p92), "port 0x92 bit 0 is the fast reset");
	CHECK(iobus_read(&pio, 0x92, 1) == 0x02, "reset bit reads back 0 after the pulse");
	iobus_write(&pio, 0x92, 1, 0x01);
	CHECK(resets == 2, "each write of bit 0 pulses reset again");
}

static void test_keyboard(void)
{
	setup();
	put(0xff);
	CHECK(edges[1] == 1 && level[1], "keyboard reply raises IRQ 1 (interrupt enabled in the command byte)");
	CHECK(data() == 0xfa, "reset: ACK");
	CHECK(level[1] && edges[1] == 2, "IRQ 1 rises again for the next byte");
	CHECK(data() == 0xaa && !(status() & 1), "reset: BAT passed 0xaa");
	CHECK(edges[1] == 2 && !level[1], "IRQ 1 low when the buffer is empty");

	put(0xf2);
	CHECK(reply_is((const uint8_t[]){ 0xfa, 0xab, 0x41 }, 3), "identify, translated: fa ab 41");
	cmd(0x60);
	put(0x01); /* translation off, interrupts on */
	put(0xf2);
	CHECK(reply_is((const uint8_t[]){ 0xfa, 0xab, 0x83 }, 3), "identify, untranslated: fa ab 83");

	put(0xed);
	put(0x07);
	CHECK(reply_is((const uint8_t[]){ 0xfa, 0xfa }, 2) && kbc.kbd.leds == 7, "set LEDs: two ACKs");
	put(0xf0);
	put(0x00);
	CHECK(reply_is((const uint8_t[]){ 0xfa, 0xfa, 0x02 }, 3), "scan code set query: set 2");
	put(0xf0);
	put(0x03);
	CHECK(reply_is((const uint8_t[]){ 0xfa, 0xfa }, 2), "select set 3");
	put(0xf0);
	put(0x00);
	CHECK(reply_is((const uint8_t[]){ 0xfa, 0xfa, 0x03 }, 3), "query: set 3");
	put(0xf0);
	put(0x03);
	put(0xf4); /* a command before the previous reply was read: the keyboard drops the rest */
	CHECK(reply_is((const uint8_t[]){ 0xfa, 0xfa }, 2), "a new command discards unsent bytes");
	put(0xf0);
	put(0x09);
	CHECK(reply_is((const uint8_t[]){ 0xfa, 0xfe }, 2), "invalid scan code set: resend");
	put(0xf3);
	put(0x20);
	CHECK(reply_is((const uint8_t[]){ 0xfa, 0xfa }, 2) && kbc.kbd.typematic == 0x20, "typematic rate");
	put(0xee);
	CHECK(reply_is((const uint8_t[]){ 0xee }, 1), "echo");
	put(0x01);
	CHECK(reply_is((const uint8_t[]){ 0xfe }, 1), "unknown keyboard command: resend");

	put(0xf5);
	CHECK(reply_is((const uint8_t[]){ 0xfa }, 1), "disable scanning: ACK");
	CHECK(i8042_kbd_inject(&kbc, (const uint8_t[]){ 0x1c }, 1) == 0, "no keys while scanning is disabled");
	put(0xf4);
	CHECK(reply_is((const uint8_t[]){ 0xfa }, 1), "enable scanning: ACK");
	CHECK(i8042_kbd_inject(&kbc, (const uint8_t[]){ 0x1c, 0xf0, 0x1c }, 3) == 3, "keys taken while scanning");
	CHECK(reply_is((const uint8_t[]){ 0x1c, 0xf0, 0x1c }, 3), "untranslated: set-2 make and break as sent");

	cmd(0x60);
	put(0x41); /* translate */
	i8042_kbd_inject(&kbc, (const uint8_t[]){ 0x1c, 0xf0, 0x1c, 0xe0, 0x75, 0xe0, 0xf0, 0x75, 0x76 }, 9);
	CHECK(reply_is((const uint8_t[]){ 0x1e, 0x9e, 0xe0, 0x48, 0xe0, 0xc8, 0x01 }, 7),
	      "translated: A make/break, E0 Up make/break, Esc in set 1");

	/* interrupt gating and interface disable */
	cmd(0x60);
	put(0x40); /* no KBDINT */
	int e = edges[1];
	i8042_kbd_inject(&kbc, (const uint8_t[]){ 0x29 }, 1);
	CHECK((status() & 1) && edges[1] == e && !level[1], "no IRQ 1 with the interrupt disabled in the command byte");
	cmd(0x60);
	put(0x41);
	CHECK(level[1] && edges[1] == e + 1, "enabling the interrupt with data waiting raises IRQ 1");
	CHECK(data() == 0x39, "space bar translated");
	cmd(0xad);
	i8042_kbd_inject(&kbc, (const uint8_t[]){ 0x29 }, 1);
	CHECK(!(status() & 1), "keyboard data waits while the interface is disabled");
	cmd(0xae);
	CHECK((status() & 1) && data() == 0x39, "and arrives when it is enabled");

	uint8_t many[100];
	memset(many, 0x1c, sizeof(many));
	CHECK(i8042_kbd_inject(&kbc, many, sizeof(many)) == PS2_QUEUE_SIZE, "full keyboard buffer takes what fits");
	uint8_t got[128];
	CHECK(drain(got, sizeof(got)) == PS2_QUEUE_SIZE, "... and delivers it");
}

static void test_mouse(void)
{
	setup();
	cmd(0x60);
	put(0x47); /* both interrupts, translate; aux enabled */
	cmd(0xd4);
	put(0xff);
	CHECK(level[12] && !level[1] && (status() & 0x21) == 0x21, "mouse reply: aux data raises IRQ 12");
	CHECK(reply_is((const uint8_t[]){ 0xfa, 0xaa, 0x00 }, 3), "mouse reset: fa aa 00 (not translated)");
	CHECK(edges[12] == 3, "one IRQ 12 edge per byte");
	cmd(0xd4);
	put(0xf2);
	CHECK(reply_is((const uint8_t[]){ 0xfa, 0x00 }, 2), "mouse ID 0");
	static const uint8_t knock[] = { 200, 100, 80 };
	unsigned acks = 0;
	for (int k = 0; k < 3; k++) {
		uint8_t buf[4];
		cmd(0xd4);
		put(0xf3);
		acks += drain(buf, sizeof(buf));
		cmd(0xd4);
		put(knock[k]);
		acks += drain(buf, sizeof(buf));
	}
	CHECK(acks == 6, "rate commands ACK each byte");
	cmd(0xd4);
	put(0xf2);
	CHECK(reply_is((const uint8_t[]){ 0xfa, 0x03 }, 2), "IntelliMouse knock: ID 3");
	cmd(0xd4);
	put(0xe8);
	cmd(0xd4);
	put(0x03);
	CHECK(reply_is((const uint8_t[]){ 0xfa, 0xfa }, 2), "set resolution");
	cmd(0xd4);
	put(0xe9);
	CHECK(reply_is((const uint8_t[]){ 0xfa, 0x00, 0x03, 80 }, 4), "status: disabled, res 3, rate 80");
	cmd(0xd4);
	put(0xe1);
	CHECK(reply_is((const uint8_t[]){ 0xfe }, 1), "unknown mouse command: resend");
	CHECK(!i8042_mouse_event(&kbc, 1, 1, 0, 0), "no packets before streaming is enabled");
	cmd(0xd4);
	put(0xf4);
	CHECK(reply_is((const uint8_t[]){ 0xfa }, 1), "enable streaming");
	CHECK(i8042_mouse_event(&kbc, 5, -3, -1, 1), "movement accepted");
	CHECK(reply_is((const uint8_t[]){ 0x29, 0x05, 0xfd, 0xff }, 4), "4-byte IntelliMouse packet");
	cmd(0x60);
	put(0x65); /* aux disabled, IRQ 12 off */
	i8042_mouse_event(&kbc, 1, 0, 0, 0);
	CHECK(!(status() & 1) && !level[12], "aux data waits while the aux interface is disabled");
	cmd(0xa8);
	CHECK((status() & 0x21) == 0x21 && !level[12], "and arrives when enabled, IRQ 12 still masked");
}

int main(void)
{
	test_controller();
	test_reset_and_a20();
	test_keyboard();
	test_mouse();
	TEST_EXIT();
}
