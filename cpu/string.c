/*
 * String instructions: MOVS, STOS, LODS, CMPS, SCAS, INS, OUTS with REP/REPE/REPNE
 * (SDM vol. 2 under each name and "REP/REPE/REPZ/REPNE/REPNZ").
 *
 * Pointers rSI/rDI and the count rCX are used at the address size and wrap there; a 16-bit
 * address size changes only SI/DI/CX. The source is seg:rSI (DS or the override), the
 * destination always ES:rDI. A REP instruction runs at most a bounded number of iterations per
 * call and then re-executes itself (next_rip = rip) after ending the block, so that interrupts
 * are taken between chunks; registers are updated after every iteration, so a fault leaves them
 * describing exactly the iterations done, as on hardware.
 *
 * REP MOVS and REP STOS with DF=0 copy page-sized chunks of RAM at once; the chunk is cut where
 * a byte-at-a-time copy would read bytes it had written itself (destination just above the
 * source), at page, segment-limit and address-size wrap boundaries.
 */
#include "string_ops.h"

#define REP_BUDGET 4096 /* iterations (or 16-byte units of bulk copies) per call */

static inline bool has_rep(const struct insn *i)
{
	return i->pfx & (PFX_REP | PFX_REPNE);
}

static inline int64_t str_step(struct cpu *c, unsigned size)
{
	return (c->s.rflags & F_DF) ? -(int64_t)size : (int64_t)size;
}

/* Advances a pointer register by step, wrapping at the address size. */
static inline void ptr_add(struct cpu *c, unsigned reg, unsigned asize, int64_t step)
{
	gpr_set(c, reg, asize, gpr_get(c, reg, asize) + (uint64_t)step);
}

/* Ends the chunk: re-execute the instruction when iterations remain. */
static inline void rep_continue(struct cpu *c)
{
	c->next_rip = c->s.rip;
	c->icount += REP_BUDGET - 1; /* the chunk's iterations spend the run budget too */
	cpu_end_block(c);
}

/* ---- bulk helpers (DF = 0) ---- */

/* True when the TLB holds la's page as plain RAM for this access (no MMIO, no code on it). Only
 * then are bulk copies used: MMIO must see accesses of the element size. */
static bool ram_cached(struct cpu *c, uint64_t la, bool write)
{
	const struct tlb_entry *e = &c->tlb[c->cpl == 3][(la >> 12) & (TLB_SIZE - 1)];
	return (write ? e->tag_w : e->tag_r) == (la & ~0xfffull);
}

/*
 * How many bytes from seg:off upwards one bulk access may cover (at most max): stays inside the
 * page, the address size and the segment limit. 0 when the element path must handle it (it will
 * raise the fault or fill the TLB).
 */
static uint64_t bulk_room(struct cpu *c, unsigned seg, uint64_t off, unsigned asize, uint64_t max, bool write)
{
	const struct seg_cache *sc = &c->sc[seg];
	uint64_t la = sc->base + off;
	uint64_t room = 0x1000 - (la & 0xfff);
	if (asize < 8 && size_mask(asize) - off + 1 < room)
		room = size_mask(asize) - off + 1;
	if (c->seg_checks) {
		if (!(write ? sc->writable : sc->readable) || off < sc->lo || off > sc->hi)
			return 0;
		if (sc->hi - off + 1 < room)
			room = sc->hi - off + 1;
	}
	if (!ram_cached(c, la, write))
		return 0;
	return room < max ? room : max;
}

/* Copies up to n elements of MOVS forward in one go; returns the number copied (0: use the
 * element path). */
static uint64_t movs_bulk(struct cpu *c, const struct insn *i, uint64_t n)
{
	unsigned size = i->osize, as = i->asize, seg = i->mem.seg;
	uint8_t buf[0x1000];
	uint64_t si = gpr_get(c, R_RSI, as), di = gpr_get(c, R_RDI, as);
	uint64_t max = (n < sizeof(buf) / size ? n : sizeof(buf) / size) * size;
	max = bulk_room(c, seg, si, as, max, false);
	max = bulk_room(c, S_ES, di, as, max, true);
	/* Destination above the source by less than the chunk: element k would read what element
	 * k - d wrote, so only the first d bytes can be copied at once. */
	uint64_t sla = c->sc[seg].base + si, dla = c->sc[S_ES].base + di;
	if (dla > sla && dla - sla < max)
		max = dla - sla;
	uint64_t k = max / size;
	if (k < 2)
		return 0;
	mem_read_buf(c, seg, si, buf, (unsigned)(k * size));
	mem_write_buf(c, S_ES, di, buf, (unsigned)(k * size));
	gpr_set(c, R_RSI, as, si + k * size);
	gpr_set(c, R_RDI, as, di + k * size);
	gpr_set(c, R_RCX, as, n - k);
	return k;
}

static uint64_t stos_bulk(struct cpu *c, const struct insn *i, uint64_t n)
{
	unsigned size = i->osize, as = i->asize;
	uint8_t buf[0x1000];
	uint64_t di = gpr_get(c, R_RDI, as);
	uint64_t max = (n < sizeof(buf) / size ? n : sizeof(buf) / size) * size;
	max = bulk_room(c, S_ES, di, as, max, true);
	uint64_t k = max / size;
	if (k < 2)
		return 0;
	uint64_t v = c->s.gpr[R_RAX];
	if (size == 1) {
		memset(buf, (uint8_t)v, k);
	} else {
		for (uint64_t j = 0; j < k; j++)
			memcpy(buf + j * size, &v, size); /* little-endian host: low bytes first */
	}
	mem_write_buf(c, S_ES, di, buf, (unsigned)(k * size));
	gpr_set(c, R_RDI, as, di + k * size);
	gpr_set(c, R_RCX, as, n - k);
	return k;
}

/* ---- MOVS, STOS, LODS ---- */

static inline void movs_one(struct cpu *c, const struct insn *i, int64_t step)
{
	unsigned size = i->osize, as = i->asize;
	uint64_t v = mem_read(c, i->mem.seg, gpr_get(c, R_RSI, as), size);
	mem_write(c, S_ES, gpr_get(c, R_RDI, as), size, v);
	ptr_add(c, R_RSI, as, step);
	ptr_add(c, R_RDI, as, step);
}

static inline void stos_one(struct cpu *c, const struct insn *i, int64_t step)
{
	unsigned as = i->asize;
	mem_write(c, S_ES, gpr_get(c, R_RDI, as), i->osize, c->s.gpr[R_RAX]);
	ptr_add(c, R_RDI, as, step);
}

static inline void lods_one(struct cpu *c, const struct insn *i, int64_t step)
{
	unsigned as = i->asize;
	gpr_set(c, R_RAX, i->osize, mem_read(c, i->mem.seg, gpr_get(c, R_RSI, as), i->osize));
	ptr_add(c, R_RSI, as, step);
}

/* ---- CMPS, SCAS ---- */

/* CMPS compares seg:[rSI] - ES:[rDI] (the source operand first, SDM CMPS). */
static inline void cmps_one(struct cpu *c, const struct insn *i, int64_t step)
{
	unsigned size = i->osize, as = i->asize;
	uint64_t a = mem_read(c, i->mem.seg, gpr_get(c, R_RSI, as), size);
	uint64_t b = mem_read(c, S_ES, gpr_get(c, R_RDI, as), size);
	lazy_set(c, LF_SUB, size, a - b, a, b);
	ptr_add(c, R_RSI, as, step);
	ptr_add(c, R_RDI, as, step);
}

static inline void scas_one(struct cpu *c, const struct insn *i, int64_t step)
{
	unsigned size = i->osize, as = i->asize;
	uint64_t a = c->s.gpr[R_RAX] & size_mask(size);
	uint64_t b = mem_read(c, S_ES, gpr_get(c, R_RDI, as), size);
	lazy_set(c, LF_SUB, size, a - b, a, b);
	ptr_add(c, R_RDI, as, step);
}

/*
 * The REP driver shared by MOVS, STOS, LODS, CMPS and SCAS: the count is tested before each
 * iteration and, for CMPS/SCAS, ZF after it (REPE repeats while equal, REPNE while not equal).
 * At most REP_BUDGET units of work run per call; then the instruction restarts (rep_continue) so
 * interrupts are taken between chunks. bulk, when given, moves whole runs up to a page boundary.
 * Always inlined: each handler gets its own copy with one/bulk known at compile time.
 */
typedef void (*str_one_fn)(struct cpu *c, const struct insn *i, int64_t step);
typedef uint64_t (*str_bulk_fn)(struct cpu *c, const struct insn *i, uint64_t n);

static inline __attribute__((always_inline)) void rep_string(struct cpu *c, const struct insn *i, str_one_fn one,
							      str_bulk_fn bulk, bool test_zf)
{
	int64_t step = str_step(c, i->osize);
	if (!has_rep(i)) {
		one(c, i, step);
		return;
	}
	unsigned as = i->asize;
	bool want_zf = !(i->pfx & PFX_REPNE);
	uint64_t n = gpr_get(c, R_RCX, as);
	for (int budget = REP_BUDGET; n;) {
		if (budget <= 0) {
			rep_continue(c);
			return;
		}
		if (bulk && step > 0 && n > 1) {
			uint64_t k = bulk(c, i, n);
			if (k) {
				n -= k;
				budget -= (int)(k * i->osize / 16) + 1;
				continue;
			}
		}
		one(c, i, step);
		gpr_set(c, R_RCX, as, --n);
		budget--;
		if (test_zf && (c->lf.res == 0) != want_zf)
			return;
	}
}

static void movs(struct cpu *c, const struct insn *i)
{
	rep_string(c, i, movs_one, movs_bulk, false);
}

static void stos(struct cpu *c, const struct insn *i)
{
	rep_string(c, i, stos_one, stos_bulk, false);
}

static void lods(struct cpu *c, const struct insn *i)
{
	rep_string(c, i, lods_one, NULL, false);
}

static void cmps(struct cpu *c, const struct insn *i)
{
	rep_string(c, i, cmps_one, NULL, true);
}

static void scas(struct cpu *c, const struct insn *i)
{
	rep_string(c, i, scas_one, NULL, true);
}

/* ---- INS, OUTS ---- */

/* The destination is probed before the port is read, so that a fault does not lose input. */
static inline void ins_one(struct cpu *c, const struct insn *i, uint16_t port, int64_t step)
{
	unsigned size = i->osize, as = i->asize;
	uint64_t di = gpr_get(c, R_RDI, as);
	mem_probe_write(c, S_ES, di, size);
	uint32_t v = c->bus.io_in(c->bus.opaque, port, size);
	mem_write(c, S_ES, di, size, v);
	ptr_add(c, R_RDI, as, step);
}

static inline void outs_one(struct cpu *c, const struct insn *i, uint16_t port, int64_t step)
{
	unsigned size = i->osize, as = i->asize;
	uint32_t v = (uint32_t)mem_read(c, i->mem.seg, gpr_get(c, R_RSI, as), size);
	c->bus.io_out(c->bus.opaque, port, size, v);
	ptr_add(c, R_RSI, as, step);
}

static void ins(struct cpu *c, const struct insn *i)
{
	uint16_t port = (uint16_t)c->s.gpr[R_RDX];
	int64_t step = str_step(c, i->osize);
	if (!has_rep(i)) {
		io_check(c, port, i->osize);
		ins_one(c, i, port, step);
		return;
	}
	unsigned as = i->asize;
	uint64_t n = gpr_get(c, R_RCX, as);
	if (n)
		io_check(c, port, i->osize);
	for (int budget = REP_BUDGET; n; budget--) {
		if (budget <= 0) {
			rep_continue(c);
			return;
		}
		ins_one(c, i, port, step);
		gpr_set(c, R_RCX, as, --n);
	}
}

static void outs(struct cpu *c, const struct insn *i)
{
	uint16_t port = (uint16_t)c->s.gpr[R_RDX];
	int64_t step = str_step(c, i->osize);
	if (!has_rep(i)) {
		io_check(c, port, i->osize);
		outs_one(c, i, port, step);
		return;
	}
	unsigned as = i->asize;
	uint64_t n = gpr_get(c, R_RCX, as);
	if (n)
		io_check(c, port, i->osize);
	for (int budget = REP_BUDGET; n; budget--) {
		if (budget <= 0) {
			rep_continue(c);
			return;
		}
		outs_one(c, i, port, step);
		gpr_set(c, R_RCX, as, --n);
	}
}

/* ---- decoding ---- */

/*
 * The decoder keeps the segment of a hidden memory operand only when it is not ES or SS, which
 * loses an ES: or SS: override on the source; take the segment of the rSI-based operand from
 * Zydis directly.
 */
insn_fn string_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	if (i->nops != 0)
		return NULL; /* SSE2 MOVSD/CMPSD forms are not ours */
	i->mem.seg = S_DS;
	for (unsigned k = 0; k < zi->operand_count; k++) {
		const ZydisDecodedOperand *o = &zo[k];
		if (o->type != ZYDIS_OPERAND_TYPE_MEMORY || o->mem.segment == ZYDIS_REGISTER_NONE)
			continue;
		ZydisRegister b = o->mem.base;
		if (b == ZYDIS_REGISTER_SI || b == ZYDIS_REGISTER_ESI || b == ZYDIS_REGISTER_RSI)
			i->mem.seg = (uint8_t)ZydisRegisterGetId(o->mem.segment);
	}
	switch (i->mnem) {
	case ZYDIS_MNEMONIC_MOVSB: case ZYDIS_MNEMONIC_MOVSW: case ZYDIS_MNEMONIC_MOVSD: case ZYDIS_MNEMONIC_MOVSQ:
		return movs;
	case ZYDIS_MNEMONIC_STOSB: case ZYDIS_MNEMONIC_STOSW: case ZYDIS_MNEMONIC_STOSD: case ZYDIS_MNEMONIC_STOSQ:
		return stos;
	case ZYDIS_MNEMONIC_LODSB: case ZYDIS_MNEMONIC_LODSW: case ZYDIS_MNEMONIC_LODSD: case ZYDIS_MNEMONIC_LODSQ:
		return lods;
	case ZYDIS_MNEMONIC_CMPSB: case ZYDIS_MNEMONIC_CMPSW: case ZYDIS_MNEMONIC_CMPSD: case ZYDIS_MNEMONIC_CMPSQ:
		return cmps;
	case ZYDIS_MNEMONIC_SCASB: case ZYDIS_MNEMONIC_SCASW: case ZYDIS_MNEMONIC_SCASD: case ZYDIS_MNEMONIC_SCASQ:
		return scas;
	case ZYDIS_MNEMONIC_INSB: case ZYDIS_MNEMONIC_INSW: case ZYDIS_MNEMONIC_INSD:
		return ins;
	case ZYDIS_MNEMONIC_OUTSB: case ZYDIS_MNEMONIC_OUTSW: case ZYDIS_MNEMONIC_OUTSD:
		return outs;
	}
	return NULL;
}

void string_init(void)
{
	static const ZydisMnemonic m[] = {
		ZYDIS_MNEMONIC_MOVSB, ZYDIS_MNEMONIC_MOVSW, ZYDIS_MNEMONIC_MOVSD, ZYDIS_MNEMONIC_MOVSQ,
		ZYDIS_MNEMONIC_STOSB, ZYDIS_MNEMONIC_STOSW, ZYDIS_MNEMONIC_STOSD, ZYDIS_MNEMONIC_STOSQ,
		ZYDIS_MNEMONIC_LODSB, ZYDIS_MNEMONIC_LODSW, ZYDIS_MNEMONIC_LODSD, ZYDIS_MNEMONIC_LODSQ,
		ZYDIS_MNEMONIC_CMPSB, ZYDIS_MNEMONIC_CMPSW, ZYDIS_MNEMONIC_CMPSD, ZYDIS_MNEMONIC_CMPSQ,
		ZYDIS_MNEMONIC_SCASB, ZYDIS_MNEMONIC_SCASW, ZYDIS_MNEMONIC_SCASD, ZYDIS_MNEMONIC_SCASQ,
		ZYDIS_MNEMONIC_INSB, ZYDIS_MNEMONIC_INSW, ZYDIS_MNEMONIC_INSD,
		ZYDIS_MNEMONIC_OUTSB, ZYDIS_MNEMONIC_OUTSW, ZYDIS_MNEMONIC_OUTSD,
	};
	for (size_t k = 0; k < sizeof(m) / sizeof(m[0]); k++)
		insn_register(m[k], NULL, string_select, 0);
}
