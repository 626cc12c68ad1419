/*
 * Guest memory access: segmentation checks, the software TLB and the page walker.
 *
 * Every guest access goes through mem_* (segment-relative) or lin_* (linear). The fast path is one
 * TLB probe: a tag compare and a load through a host pointer. A miss walks the guest page tables
 * (32-bit, PAE or 4-level paging: SDM vol. 3 ch. 4), checks permissions, sets accessed and dirty
 * bits, asks the bus for the host page and fills the entry. Pages that are not RAM (MMIO, ROM
 * writes) and RAM pages holding cached code keep TLB_SLOW in their tag so every access takes the
 * slow path: the device callback, or the code-cache invalidation before the write.
 *
 * Not modelled: alignment checking (#AC), SMEP/SMAP/PKU (not advertised in CPUID), PCID.
 */
#include "core.h"

#define MAXPHYADDR 40
#define PHYS_MASK (((1ull << MAXPHYADDR) - 1) & ~0xfffull)

enum acc { ACC_READ, ACC_WRITE, ACC_EXEC };

/* ---- segmentation ---- */

void seg_cache_update(struct cpu *c, unsigned sreg)
{
	const struct cpu_seg *s = &c->s.seg[sreg];
	struct seg_cache *sc = &c->sc[sreg];

	if (sreg > S_GS)
		return;
	if (c->mode == CPU_MODE_LONG64) {
		/* SDM vol. 3 §3.4.4: only FS and GS bases apply; no limit or type checks. */
		sc->base = sreg >= S_FS ? s->base : 0;
		sc->lo = 0;
		sc->hi = ~0ull;
		sc->readable = sc->writable = 1;
		return;
	}
	sc->base = (uint32_t)s->base;
	if (c->mode == CPU_MODE_REAL || c->mode == CPU_MODE_VM86) {
		sc->lo = 0;
		sc->hi = s->limit;
		sc->readable = sc->writable = 1;
		return;
	}
	if (!(s->attr & SEG_ATTR_P) || !(s->attr & SEG_ATTR_S)) {
		/* Null or unusable selector: any access faults (#GP(0), or #SS(0) for SS). */
		sc->lo = 1;
		sc->hi = 0;
		sc->readable = sc->writable = 0;
		return;
	}
	unsigned type = s->attr & SEG_ATTR_TYPE;
	if (type & 8) { /* code */
		sc->readable = !!(type & 2);
		sc->writable = 0;
	} else {
		sc->readable = 1;
		sc->writable = !!(type & 2);
	}
	if (!(type & 8) && (type & 4)) { /* expand-down data */
		sc->lo = (uint64_t)s->limit + 1;
		sc->hi = (s->attr & SEG_ATTR_DB) ? 0xffffffffull : 0xffffull;
	} else {
		sc->lo = 0;
		sc->hi = s->limit;
	}
}

__attribute__((noreturn)) static void seg_fault(struct cpu *c, unsigned seg)
{
	cpu_raise(c, seg == S_SS ? EXC_SS : EXC_GP, 0);
}

static inline uint64_t seg_linear(struct cpu *c, unsigned seg, uint64_t off, unsigned size, bool write)
{
	const struct seg_cache *sc = &c->sc[seg];
	if (!c->seg_checks)
		return sc->base + off;
	if (unlikely(!(write ? sc->writable : sc->readable) || off < sc->lo || off + size - 1 > sc->hi))
		seg_fault(c, seg);
	return (sc->base + off) & 0xffffffffull;
}

static inline bool canonical(uint64_t la)
{
	return (uint64_t)((int64_t)(la << 16) >> 16) == la;
}

/* ---- physical access for the walker ---- */

static uint64_t phys_read(struct cpu *c, uint64_t pa, unsigned size)
{
	uint8_t *p = c->bus.ram_ptr(c->bus.opaque, pa & ~0xfffull, false);
	if (!p)
		return c->bus.mmio_read(c->bus.opaque, pa, size);
	uint64_t v = 0;
	memcpy(&v, p + (pa & 0xfff), size);
	return v;
}

static void phys_write(struct cpu *c, uint64_t pa, unsigned size, uint64_t v)
{
	uint8_t *p = c->bus.ram_ptr(c->bus.opaque, pa & ~0xfffull, true);
	if (!p) {
		c->bus.mmio_write(c->bus.opaque, pa, size, v);
		return;
	}
	memcpy(p + (pa & 0xfff), &v, size);
}

/* ---- page walk ---- */

struct walk {
	uint64_t paddr;     /* physical page */
	bool writable;      /* for this privilege (U or S with CR0.WP rules applied) */
	bool executable;
	bool dirty;
	bool global;
	uint8_t shift;      /* log2 of the page size */
};

/* Set in walk()'s result on a fault, since a page-fault error code can itself be 0. */
#define WALK_FAULT 0x80000000u

/*
 * Walks the page tables for la. Returns 0 and fills w, or WALK_FAULT | the page-fault error code.
 * side_effects=false is for debugger reads: no accessed/dirty updates.
 */
static uint32_t walk(struct cpu *c, uint64_t la, enum acc acc, bool user, struct walk *w, bool side_effects)
{
	bool nxe = c->s.efer & EFER_NXE;
	bool wp = c->s.cr0 & CR0_WP;
	uint32_t err_base = WALK_FAULT | (acc == ACC_WRITE ? PF_W : 0) | (user ? PF_U : 0);
	uint64_t entries[4], addrs[4];
	int n = 0, entry_size;
	bool rw = true, us = true, xd = false;
	uint64_t pa = 0;

	if ((c->s.cr4 & CR4_PAE) && nxe && acc == ACC_EXEC)
		err_base |= PF_I;

	w->shift = 12;
	if (c->s.efer & EFER_LMA || (c->s.cr4 & CR4_PAE)) {
		entry_size = 8;
		uint64_t table;
		int level;
		/* Bits 51:MAXPHYADDR are reserved; 62:52 are ignored (free for software). */
		uint64_t rsvd_hi = ((1ull << 52) - 1) & ~((1ull << MAXPHYADDR) - 1);
		if (!(c->s.efer & EFER_LMA))
			rsvd_hi |= 0x7ff0000000000000ull; /* PAE paging: 62:52 are reserved too */
		if (!nxe)
			rsvd_hi |= 1ull << 63;
		if (c->s.efer & EFER_LMA) {
			table = c->s.cr3 & PHYS_MASK;
			level = 4;
		} else {
			/* PAE: the PDPTE (SDM vol. 3 §4.4.1); read at walk time rather than cached at CR3 load. */
			uint64_t pdpte_addr = (c->s.cr3 & 0xffffffe0ull) + ((la >> 30) & 3) * 8;
			uint64_t pdpte = phys_read(c, pdpte_addr, 8);
			if (!(pdpte & 1))
				return err_base;
			if (pdpte & (rsvd_hi | 0x1e6 | (1ull << 63))) /* PDPTE bit 63 is reserved even with NXE */
				return err_base | PF_P | PF_RSVD;
			table = pdpte & PHYS_MASK;
			level = 2;
		}
		for (; level >= 1; level--) {
			uint64_t addr = table + ((la >> (12 + 9 * (level - 1))) & 511) * 8;
			uint64_t e = phys_read(c, addr, 8);
			if (!(e & 1))
				return err_base;
			uint64_t rsvd = rsvd_hi;
			bool leaf = level == 1;
			if (level == 4 && (e & 0x80))
				rsvd |= 0x80; /* PS reserved in PML4E */
			else if ((level == 3 || level == 2) && (e & 0x80)) {
				leaf = true;
				rsvd |= level == 3 ? 0x3fffe000ull : 0x1fe000ull;
			}
			if (e & rsvd)
				return err_base | PF_P | PF_RSVD;
			entries[n] = e;
			addrs[n++] = addr;
			rw &= !!(e & 2);
			us &= !!(e & 4);
			xd |= nxe && (e >> 63);
			if (leaf) {
				uint64_t page_mask = (1ull << (12 + 9 * (level - 1))) - 1;
				pa = ((e & PHYS_MASK) & ~page_mask) | (la & page_mask & ~0xfffull);
				w->shift = 12 + 9 * (level - 1);
				break;
			}
			table = e & PHYS_MASK;
		}
	} else {
		/* 32-bit paging (SDM vol. 3 §4.3) */
		entry_size = 4;
		uint64_t pde_addr = (c->s.cr3 & 0xfffff000ull) + ((la >> 22) & 0x3ff) * 4;
		uint64_t pde = phys_read(c, pde_addr, 4);
		if (!(pde & 1))
			return err_base;
		entries[n] = pde;
		addrs[n++] = pde_addr;
		rw = pde & 2;
		us = pde & 4;
		if ((pde & 0x80) && (c->s.cr4 & CR4_PSE)) {
			if (pde & (1u << 21)) /* PSE-36: bits beyond MAXPHYADDR-32 (we use 40) reserved */
				return err_base | PF_P | PF_RSVD;
			pa = (pde & 0xffc00000ull) | (((pde >> 13) & 0xff) << 32) | (la & 0x3ff000ull);
			w->shift = 22;
		} else {
			uint64_t pte_addr = (pde & 0xfffff000ull) + ((la >> 12) & 0x3ff) * 4;
			uint64_t pte = phys_read(c, pte_addr, 4);
			if (!(pte & 1))
				return err_base;
			entries[n] = pte;
			addrs[n++] = pte_addr;
			rw &= !!(pte & 2);
			us &= !!(pte & 4);
			pa = pte & 0xfffff000ull;
		}
	}

	/* Permission checks (SDM vol. 3 §4.6). */
	bool writable = user ? rw : (rw || !wp);
	if ((user && !us) || (acc == ACC_WRITE && !writable) || (acc == ACC_EXEC && xd))
		return err_base | PF_P;

	uint64_t leaf = entries[n - 1];
	if (side_effects) {
		for (int k = 0; k < n; k++) {
			uint64_t e = entries[k] | 0x20; /* accessed */
			if (k == n - 1 && acc == ACC_WRITE)
				e |= 0x40; /* dirty */
			if (e != entries[k])
				phys_write(c, addrs[k], entry_size, e);
			entries[k] = e;
		}
		leaf = entries[n - 1];
	}
	w->paddr = pa;
	w->writable = writable;
	w->executable = !xd;
	w->dirty = leaf & 0x40;
	w->global = (leaf & 0x100) && (c->s.cr4 & CR4_PGE);
	return 0;
}

/* ---- TLB ---- */

static inline unsigned page_class(unsigned shift)
{
	return shift == 12 ? 0 : shift == 21 ? 1 : shift == 22 ? 2 : 3;
}

static inline uint64_t code_page_bit(uint64_t la, unsigned shift)
{
	return 1ull << (((la >> shift) * 0x9e3779b97f4a7c15ull) >> 58);
}

/* A bit in the 1024-bit Bloom mask tlb_large_pages for the large page (la >> shift). */
static inline void large_page_bit(uint64_t la, unsigned shift, unsigned *word, uint64_t *bit)
{
	unsigned h = (unsigned)((((la >> shift) ^ shift) * 0x9e3779b97f4a7c15ull) >> 54);
	*word = h / 64;
	*bit = 1ull << (h % 64);
}

static bool large_page_maybe_cached(struct cpu *c, uint64_t la)
{
	static const uint8_t shifts[3] = { 21, 22, 30 };
	for (unsigned k = 0; k < 3; k++) {
		unsigned w;
		uint64_t b;
		large_page_bit(la, shifts[k], &w, &b);
		if (c->tlb_large_pages[w] & b)
			return true;
	}
	return false;
}

static void code_pages_forget(struct cpu *c)
{
	c->tlb_gen++;
	memset(c->code_pages, 0, sizeof(c->code_pages));
}

void tlb_flush_all(struct cpu *c)
{
	memset(c->tlb, 0xff, sizeof(c->tlb));
	memset(c->tlb_large, 0, sizeof(c->tlb_large));
	memset(c->tlb_large_pages, 0, sizeof(c->tlb_large_pages));
	code_pages_forget(c);
}

void tlb_flush_nonglobal(struct cpu *c)
{
	code_pages_forget(c);
	for (int u = 0; u < 2; u++)
		for (unsigned k = 0; k < TLB_SIZE; k++)
			if (c->tlb[u][k].global != 1) {
				memset(&c->tlb[u][k], 0xff, sizeof(c->tlb[u][k]));
				c->tlb_large[u][k / 64] &= ~(1ull << (k % 64));
			}
}

static inline uint64_t entry_page(const struct tlb_entry *e)
{
	uint64_t tag = e->tag_r != TLB_INVALID ? e->tag_r : e->tag_w != TLB_INVALID ? e->tag_w : e->tag_x;
	return tag & ~TLB_SLOW;
}

/* INVLPG: drops the entries of the page holding la. A large page's entries are 4 KiB pieces of it
 * in any slot; the tlb_large bitmap finds them without scanning the whole TLB. */
void tlb_flush_page(struct cpu *c, uint64_t la)
{
	bool code = false;
	for (unsigned k = 0; k < 4; k++) {
		static const uint8_t shifts[4] = { 12, 21, 22, 30 };
		code |= (c->code_pages[k] & code_page_bit(la, shifts[k])) != 0;
	}
	if (code)
		code_pages_forget(c);
	unsigned slot = (la >> 12) & (TLB_SIZE - 1);
	for (int u = 0; u < 2; u++) {
		struct tlb_entry *e = &c->tlb[u][slot];
		if (e->shift != 0xff && entry_page(e) == (la & ~0xfffull)) {
			memset(e, 0xff, sizeof(*e));
			c->tlb_large[u][slot / 64] &= ~(1ull << (slot % 64));
		}
	}
	if (!large_page_maybe_cached(c, la))
		return;
	/* Drop the pieces of la's large page and rebuild the Bloom mask from the others. */
	memset(c->tlb_large_pages, 0, sizeof(c->tlb_large_pages));
	for (int u = 0; u < 2; u++) {
		for (unsigned w = 0; w < TLB_SIZE / 64; w++) {
			for (uint64_t bits = c->tlb_large[u][w]; bits; bits &= bits - 1) {
				unsigned k = w * 64 + __builtin_ctzll(bits);
				struct tlb_entry *e = &c->tlb[u][k];
				uint64_t page = entry_page(e);
				if ((page >> e->shift) == (la >> e->shift)) {
					memset(e, 0xff, sizeof(*e));
					c->tlb_large[u][w] &= ~(1ull << (k % 64));
				} else {
					unsigned lw;
					uint64_t lb;
					large_page_bit(page, e->shift, &lw, &lb);
					c->tlb_large_pages[lw] |= lb;
				}
			}
		}
	}
}

/* Fills the TLB entry for la after a miss; raises #PF on a fault. */
static struct tlb_entry *tlb_fill(struct cpu *c, uint64_t la, enum acc acc, bool user)
{
	struct walk w;
	uint64_t page = la & ~0xfffull;

	if (c->s.cr0 & CR0_PG) {
		uint32_t err = walk(c, la, acc, user, &w, true);
		if (err) {
			c->s.cr2 = la;
			cpu_raise(c, EXC_PF, err & ~WALK_FAULT);
		}
	} else {
		w = (struct walk){ .paddr = page & 0xffffffffull, .writable = true, .executable = true, .dirty = true,
				   .shift = 12 };
	}

	struct tlb_entry *e = &c->tlb[user][(la >> 12) & (TLB_SIZE - 1)];
	uint64_t have = e->tag_r != TLB_INVALID ? e->tag_r : e->tag_w != TLB_INVALID ? e->tag_w : e->tag_x;
	if ((have & ~TLB_SLOW) != page || e->paddr != w.paddr) {
		memset(e, 0xff, sizeof(*e));
	}
	uint8_t *host = c->bus.ram_ptr(c->bus.opaque, w.paddr, false);
	e->paddr = w.paddr;
	e->global = w.global;
	e->shift = w.shift;
	unsigned slot = (la >> 12) & (TLB_SIZE - 1);
	if (w.shift > 12) {
		unsigned lw;
		uint64_t lb;
		large_page_bit(page, w.shift, &lw, &lb);
		c->tlb_large_pages[lw] |= lb;
		c->tlb_large[user][slot / 64] |= 1ull << (slot % 64);
	} else
		c->tlb_large[user][slot / 64] &= ~(1ull << (slot % 64));
	e->addend = host ? (uintptr_t)host - page : 0;
	e->tag_r = host ? page : page | TLB_SLOW;
	e->tag_x = w.executable ? e->tag_r : TLB_INVALID;
	/* A write entry needs the dirty bit already set, so the first write walks and sets it. */
	if (w.writable && (w.dirty || acc == ACC_WRITE)) {
		uint8_t *hw = host ? c->bus.ram_ptr(c->bus.opaque, w.paddr, true) : NULL;
		e->ram_w = hw && hw == host;
		e->tag_w = (e->ram_w && !code_page_has_code(c, w.paddr)) ? page : page | TLB_SLOW;
	} else {
		e->tag_w = TLB_INVALID;
		e->ram_w = 0;
	}
	return e;
}

static inline struct tlb_entry *tlb_entry_for(struct cpu *c, uint64_t la, bool user)
{
	return &c->tlb[user][(la >> 12) & (TLB_SIZE - 1)];
}

/* Read within one page. */
static uint64_t read_in_page(struct cpu *c, uint64_t la, unsigned size, bool user)
{
	uint64_t page = la & ~0xfffull;
	struct tlb_entry *e = tlb_entry_for(c, la, user);
	if ((e->tag_r & ~TLB_SLOW) != page || e->tag_r == TLB_INVALID)
		e = tlb_fill(c, la, ACC_READ, user);
	if (!(e->tag_r & TLB_SLOW))
		return load_host((const uint8_t *)(uintptr_t)(la + e->addend), size);
	return c->bus.mmio_read(c->bus.opaque, e->paddr | (la & 0xfff), size) & size_mask(size);
}

/* Makes sure la's page is writable, returning its entry (raises #PF). */
static struct tlb_entry *write_entry(struct cpu *c, uint64_t la, bool user)
{
	uint64_t page = la & ~0xfffull;
	struct tlb_entry *e = tlb_entry_for(c, la, user);
	if ((e->tag_w & ~TLB_SLOW) != page || e->tag_w == TLB_INVALID)
		e = tlb_fill(c, la, ACC_WRITE, user);
	return e;
}

static void write_in_page(struct cpu *c, uint64_t la, unsigned size, uint64_t v, bool user)
{
	struct tlb_entry *e = write_entry(c, la, user);
	if (e->tag_w & TLB_SLOW) {
		if (!e->ram_w) {
			c->bus.mmio_write(c->bus.opaque, e->paddr | (la & 0xfff), size, v & size_mask(size));
			return;
		}
		/* RAM holding cached code: drop the code first (self-modifying code). */
		code_invalidate_phys(c, e->paddr | (la & 0xfff), size);
		if (!code_page_has_code(c, e->paddr))
			e->tag_w = la & ~0xfffull;
	}
	store_host((uint8_t *)(uintptr_t)(la + e->addend), size, v);
}

static uint64_t lin_read_slow(struct cpu *c, uint64_t la, unsigned size, bool user)
{
	if (((la & 0xfff) + size) <= 0x1000)
		return read_in_page(c, la, size, user);
	/* Crosses a page: both pages must be readable. Read byte-wise, little-endian. */
	uint64_t v = 0;
	for (unsigned k = 0; k < size; k++)
		v |= read_in_page(c, la + k, 1, user) << (8 * k);
	return v;
}

static void lin_write_slow(struct cpu *c, uint64_t la, unsigned size, uint64_t v, bool user)
{
	if (((la & 0xfff) + size) <= 0x1000) {
		write_in_page(c, la, size, v, user);
		return;
	}
	/* Both pages are checked before either is written, so a fault leaves memory untouched. */
	/* A fault on the second page reports that page's first byte in CR2. */
	write_entry(c, la, user);
	write_entry(c, (la + size - 1) & ~0xfffull, user);
	for (unsigned k = 0; k < size; k++)
		write_in_page(c, la + k, 1, v >> (8 * k), user);
}

static inline uint64_t lin_read_fast(struct cpu *c, uint64_t la, unsigned size, bool user)
{
	struct tlb_entry *e = tlb_entry_for(c, la, user);
	if (likely(e->tag_r == (la & ~0xfffull) && (la & 0xfff) + size <= 0x1000))
		return load_host((const uint8_t *)(uintptr_t)(la + e->addend), size);
	return lin_read_slow(c, la, size, user);
}

static inline void lin_write_fast(struct cpu *c, uint64_t la, unsigned size, uint64_t v, bool user)
{
	struct tlb_entry *e = tlb_entry_for(c, la, user);
	if (likely(e->tag_w == (la & ~0xfffull) && (la & 0xfff) + size <= 0x1000)) {
		store_host((uint8_t *)(uintptr_t)(la + e->addend), size, v);
		return;
	}
	lin_write_slow(c, la, size, v, user);
}

/* 64-bit mode: a non-canonical address faults with #SS(0) for stack references, else #GP(0). */
static inline void check_canonical(struct cpu *c, unsigned seg, uint64_t la)
{
	if (!c->seg_checks && unlikely(!canonical(la)))
		cpu_raise(c, seg == S_SS ? EXC_SS : EXC_GP, 0);
}

uint64_t mem_read_slow(struct cpu *c, unsigned seg, uint64_t off, unsigned size)
{
	uint64_t la = seg_linear(c, seg, off, size, false);
	bool user = c->cpl == 3;
	struct tlb_entry *e = tlb_entry_for(c, la, user);
	if (likely(e->tag_r == (la & ~0xfffull) && (la & 0xfff) + size <= 0x1000))
		return load_host((const uint8_t *)(uintptr_t)(la + e->addend), size);
	check_canonical(c, seg, la);
	check_canonical(c, seg, la + size - 1);
	return lin_read_slow(c, la, size, user);
}

void mem_write_slow(struct cpu *c, unsigned seg, uint64_t off, unsigned size, uint64_t val)
{
	uint64_t la = seg_linear(c, seg, off, size, true);
	bool user = c->cpl == 3;
	struct tlb_entry *e = tlb_entry_for(c, la, user);
	if (likely(e->tag_w == (la & ~0xfffull) && (la & 0xfff) + size <= 0x1000)) {
		store_host((uint8_t *)(uintptr_t)(la + e->addend), size, val);
		return;
	}
	check_canonical(c, seg, la);
	check_canonical(c, seg, la + size - 1);
	lin_write_slow(c, la, size, val, user);
}

void mem_probe_write(struct cpu *c, unsigned seg, uint64_t off, unsigned size)
{
	uint64_t la = seg_linear(c, seg, off, size, true);
	bool user = c->cpl == 3;
	check_canonical(c, seg, la);
	check_canonical(c, seg, la + size - 1);
	write_entry(c, la, user);
	if ((la & 0xfff) + size > 0x1000)
		write_entry(c, (la + size - 1) & ~0xfffull, user);
}

void mem_read_buf(struct cpu *c, unsigned seg, uint64_t off, void *buf, unsigned size)
{
	if (!size)
		return;
	uint64_t la = seg_linear(c, seg, off, size, false);
	bool user = c->cpl == 3;
	uint8_t *out = buf;
	check_canonical(c, seg, la);
	check_canonical(c, seg, la + size - 1);
	while (size) {
		unsigned chunk = 0x1000 - (la & 0xfff);
		if (chunk > size)
			chunk = size;
		struct tlb_entry *e = tlb_entry_for(c, la, user);
		if ((e->tag_r & ~TLB_SLOW) != (la & ~0xfffull) || e->tag_r == TLB_INVALID)
			e = tlb_fill(c, la, ACC_READ, user);
		if (!(e->tag_r & TLB_SLOW)) {
			memcpy(out, (const void *)(uintptr_t)(la + e->addend), chunk);
		} else {
			for (unsigned k = 0; k < chunk; k++)
				out[k] = (uint8_t)c->bus.mmio_read(c->bus.opaque, e->paddr | ((la + k) & 0xfff), 1);
		}
		out += chunk;
		la += chunk;
		size -= chunk;
	}
}

void mem_write_buf(struct cpu *c, unsigned seg, uint64_t off, const void *buf, unsigned size)
{
	if (!size)
		return;
	uint64_t la = seg_linear(c, seg, off, size, true);
	bool user = c->cpl == 3;
	const uint8_t *in = buf;
	check_canonical(c, seg, la);
	check_canonical(c, seg, la + size - 1);
	/* Check every page first so a fault leaves memory untouched. */
	for (uint64_t p = la & ~0xfffull; p <= ((la + size - 1) & ~0xfffull); p += 0x1000)
		write_entry(c, p < la ? la : p, user);
	while (size) {
		unsigned chunk = 0x1000 - (la & 0xfff);
		if (chunk > size)
			chunk = size;
		struct tlb_entry *e = write_entry(c, la, user);
		if (!(e->tag_w & TLB_SLOW)) {
			memcpy((void *)(uintptr_t)(la + e->addend), in, chunk);
		} else {
			for (unsigned k = 0; k < chunk; k++)
				write_in_page(c, la + k, 1, in[k], user);
		}
		in += chunk;
		la += chunk;
		size -= chunk;
	}
}

uint64_t lin_read(struct cpu *c, uint64_t la, unsigned size, bool sys)
{
	if (c->mode != CPU_MODE_LONG64)
		la &= 0xffffffffull;
	else if (!canonical(la))
		cpu_gp(c, 0);
	return lin_read_fast(c, la, size, !sys && c->cpl == 3);
}

void lin_write(struct cpu *c, uint64_t la, unsigned size, uint64_t val, bool sys)
{
	if (c->mode != CPU_MODE_LONG64)
		la &= 0xffffffffull;
	else if (!canonical(la))
		cpu_gp(c, 0);
	lin_write_fast(c, la, size, val, !sys && c->cpl == 3);
}

const uint8_t *mmu_fetch_page(struct cpu *c, uint64_t la, uint64_t *paddr)
{
	bool user = c->cpl == 3;
	uint64_t page = la & ~0xfffull;
	if (c->mode == CPU_MODE_LONG64 && !canonical(la))
		cpu_gp(c, 0);
	struct tlb_entry *e = tlb_entry_for(c, la, user);
	if ((e->tag_x & ~TLB_SLOW) != page || e->tag_x == TLB_INVALID) {
		e = tlb_fill(c, la, ACC_EXEC, user);
		if (e->tag_x == TLB_INVALID) {
			/* Only reachable when the walk allowed execution; keep the compiler honest. */
			c->s.cr2 = la;
			cpu_raise(c, EXC_PF, PF_P | PF_I | (user ? PF_U : 0));
		}
	}
	*paddr = e->paddr;
	c->code_pages[page_class(e->shift)] |= code_page_bit(la, e->shift);
	if (e->tag_x & TLB_SLOW)
		return NULL;
	return (const uint8_t *)(uintptr_t)(page + e->addend);
}

int64_t mmu_translate_debug(struct cpu *c, uint64_t la)
{
	struct walk w;
	if (!(c->s.cr0 & CR0_PG))
		return (int64_t)(la & 0xffffffffull);
	if (walk(c, la, ACC_READ, false, &w, false))
		return -1;
	return (int64_t)(w.paddr | (la & 0xfff));
}
