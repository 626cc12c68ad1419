/*
 * Address-range dispatch for port I/O and MMIO. A device registers a range with a small ops
 * struct; accesses are routed by address to (device, offset within the range). Unassigned
 * addresses read as all ones and ignore writes (as on a PC bus).
 */
#ifndef SOFTVM_MACHINE_IOBUS_H
#define SOFTVM_MACHINE_IOBUS_H
#include <stdint.h>

struct io_ops {
	uint64_t (*read)(void *dev, uint64_t off, unsigned size);
	void (*write)(void *dev, uint64_t off, unsigned size, uint64_t val);
};

struct io_range {
	uint64_t base, len;
	const struct io_ops *ops;
	void *dev;
	const char *name;
};

#define IOBUS_MAX 64

struct iobus {
	struct io_range r[IOBUS_MAX];
	unsigned n;
	struct io_range *last; /* one-entry cache: devices are hit in runs */
};

/* Registers [base, base+len). Returns 0, or -EEXIST on overlap, -ENOSPC when full. */
int iobus_register(struct iobus *b, uint64_t base, uint64_t len, const struct io_ops *ops, void *dev,
		   const char *name);
void iobus_unregister(struct iobus *b, uint64_t base);
struct io_range *iobus_find(struct iobus *b, uint64_t addr);
uint64_t iobus_read(struct iobus *b, uint64_t addr, unsigned size);
void iobus_write(struct iobus *b, uint64_t addr, unsigned size, uint64_t val);
#endif
