/* Port-I/O and MMIO dispatch by address range (see iobus.h). */
#include <errno.h>
#include <string.h>

#include "iobus.h"

int iobus_register(struct iobus *b, uint64_t base, uint64_t len, const struct io_ops *ops, void *dev,
		   const char *name)
{
	if (!len || base + len < base)
		return -EINVAL;
	for (unsigned k = 0; k < b->n; k++)
		if (base < b->r[k].base + b->r[k].len && b->r[k].base < base + len)
			return -EEXIST;
	if (b->n == IOBUS_MAX)
		return -ENOSPC;
	b->r[b->n++] = (struct io_range){ base, len, ops, dev, name };
	b->last = NULL;
	return 0;
}

void iobus_unregister(struct iobus *b, uint64_t base)
{
	for (unsigned k = 0; k < b->n; k++) {
		if (b->r[k].base == base) {
			memmove(&b->r[k], &b->r[k + 1], (b->n - k - 1) * sizeof(b->r[0]));
			b->n--;
			b->last = NULL;
			return;
		}
	}
}

struct io_range *iobus_find(struct iobus *b, uint64_t addr)
{
	struct io_range *l = b->last;
	if (l && addr - l->base < l->len)
		return l;
	for (unsigned k = 0; k < b->n; k++) {
		if (addr - b->r[k].base < b->r[k].len) {
			b->last = &b->r[k];
			return b->last;
		}
	}
	return NULL;
}

uint64_t iobus_read(struct iobus *b, uint64_t addr, unsigned size)
{
	struct io_range *r = iobus_find(b, addr);
	if (!r || !r->ops->read)
		return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
	return r->ops->read(r->dev, addr - r->base, size);
}

void iobus_write(struct iobus *b, uint64_t addr, unsigned size, uint64_t val)
{
	struct io_range *r = iobus_find(b, addr);
	if (r && r->ops->write)
		r->ops->write(r->dev, addr - r->base, size, val);
}
