/* machine/ basics: port/MMIO range dispatch (overlaps, unassigned reads as all ones), the timer
 * list (ordering, re-arming from a callback, deletion) and guest RAM range checks. */
#include <errno.h>
#include <malloc.h>

#include "machine/iobus.h"
#include "machine/pc.h"
#include "machine/ram.h"
#include "machine/timer.h"
#include "tests/test.h"

static uint64_t last_off;
static uint64_t dev_read(void *dev, uint64_t off, unsigned size)
{
	last_off = off;
	return 0x1234 + off;
}
static void dev_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	*(uint64_t *)dev = val;
	last_off = off;
}
static const struct io_ops ops = { dev_read, dev_write };

static int order[8], norder;
static struct timer_list tl;
static struct timer t1, t2, t3;
static void cb(void *opaque)
{
	int id = (int)(intptr_t)opaque;
	order[norder++] = id;
	if (id == 2 && norder < 4)
		timer_mod(&tl, &t2, t2.expires + 100); /* periodic re-arm from the callback */
}

int main(void)
{
	struct iobus b = { 0 };
	uint64_t sink = 0;
	CHECK(iobus_register(&b, 0x100, 8, &ops, &sink, "a") == 0, "iobus: register");
	CHECK(iobus_register(&b, 0x104, 8, &ops, &sink, "b") == -EEXIST, "iobus: overlapping range refused");
	CHECK(iobus_register(&b, ~0ull - 2, 8, &ops, &sink, "c") == -EINVAL, "iobus: range wrapping the address space refused");
	CHECK(iobus_read(&b, 0x103, 2) == 0x1237 && last_off == 3, "iobus: read reaches the device at its offset");
	iobus_write(&b, 0x107, 1, 0x55);
	CHECK(sink == 0x55 && last_off == 7, "iobus: write reaches the device");
	CHECK(iobus_read(&b, 0x108, 1) == 0xff && iobus_read(&b, 0xff, 2) == 0xffff && iobus_read(&b, 0, 4) == 0xffffffff &&
		      iobus_read(&b, 0, 8) == ~0ull,
	      "iobus: unassigned addresses read as all ones");
	iobus_unregister(&b, 0x100);
	CHECK(iobus_read(&b, 0x100, 1) == 0xff, "iobus: unregistered range is gone");

	timer_init(&t1, cb, (void *)1);
	timer_init(&t2, cb, (void *)2);
	timer_init(&t3, cb, (void *)3);
	timer_mod(&tl, &t1, 300);
	timer_mod(&tl, &t2, 100);
	timer_mod(&tl, &t3, 200);
	timer_del(&tl, &t3);
	CHECK(timers_next(&tl) == 100, "timer: earliest deadline first");
	uint64_t next = timers_run(&tl, 350);
	/* t2: 100, re-armed to 200, then 300, where it queues behind t1 (equal deadlines run in arming order). */
	CHECK(norder == 4 && order[0] == 2 && order[1] == 2 && order[2] == 1 && order[3] == 2 && next == UINT64_MAX,
	      "timer: due timers run in order, re-arming from the callback works, deleted ones do not run (%d: %d %d %d %d, next %llu)",
	      norder, order[0], order[1], order[2], order[3], (unsigned long long)next);
	timer_del(&tl, &t2);
	CHECK(timers_next(&tl) == UINT64_MAX, "timer: nothing armed");

	struct guest_ram r;
	CHECK(ram_init(&r, 100) == -EINVAL, "ram: sizes below 1 MiB refused");
	CHECK(ram_init(&r, 3584ull << 20) == 0, "ram: 3.5 GiB reserved lazily");
	CHECK(r.low_size == 0xc0000000ull, "ram: low RAM ends at the PCI hole");
	CHECK(ram_range(&r, 0xbffff000, 0x1000) != NULL && ram_range(&r, 0xbffff000, 0x1001) == NULL,
	      "ram: a range may not run into the PCI hole");
	CHECK(ram_range(&r, 0x100000000ull, 0x1000) == r.host + r.low_size, "ram: RAM above 4 GiB continues the mapping");
	CHECK(ram_range(&r, 0x100000000ull + (512u << 20) - 8, 16) == NULL, "ram: past the end of high RAM");
	CHECK(ram_range(&r, ~0ull - 4, 8) == NULL, "ram: wrapping range refused");
	uint8_t x = 7, y = 0;
	CHECK(ram_write(&r, 0x100000000ull + 5, &x, 1) && ram_read(&r, 0x100000000ull + 5, &y, 1) && y == 7,
	      "ram: write and read back above 4 GiB");
	ram_free(&r);

	/* pc_destroy with virtio devices: the completion lists are emptied while the devices still
	 * exist (glibc fills freed memory with the perturb byte, so a walk over freed devices reads
	 * garbage pointers and crashes here). */
	struct pc_config cfg = { .ram_size = 16 << 20, .console_in = -1, .console_out = -1, .virtio_rng = true };
	char err[256];
	struct pc *pc = pc_create(&cfg, err, sizeof(err));
	CHECK(pc != NULL, "pc: a machine with virtio-rng and no kernel builds (%s)", pc ? "ok" : err);
	mallopt(M_PERTURB, 0x5a);
	pc_destroy(pc);
	mallopt(M_PERTURB, 0);
	CHECK(1, "pc: pc_destroy with a virtio device returns");
	TEST_EXIT();
}
