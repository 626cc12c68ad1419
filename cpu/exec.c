/*
 * The execution loop and the pre-decoded code cache.
 *
 * Guest code is decoded once into blocks: runs of struct insn that start at a guest-physical
 * address and end at a control transfer, a mode-changing instruction, the end of the 4 KiB page
 * or MAX_BLOCK_INSNS. Blocks are found by (physical address, decode mode) in a hash table, so a
 * page mapped at two virtual addresses shares its blocks and a new CR3 does not throw them away.
 * Each block lives in a bump-allocated arena; when the arena is full everything is dropped at
 * once (the guest's working set is then re-decoded).
 *
 * Self-modifying code: every physical page with blocks is a "code page". TLB write entries for a
 * code page carry TLB_SLOW, so a guest write to it reaches code_invalidate_phys() first, which
 * drops the page's blocks and ends the current block after the writing instruction. DMA writes
 * arrive through cpu_notify_phys_write().
 *
 * Interrupts, NMIs and stop requests are checked between blocks; instructions that may unmask
 * them (STI, POPF, IRET, MOV to CR8 ...) end their block. Exceptions longjmp back here.
 *
 * A block is an array of handler calls with pre-resolved operands: the same form a later JIT
 * takes as input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "core.h"
#include "decode.h"
#include "exec.h"

#define MAX_BLOCK_INSNS 64
#define ARENA_SIZE (16u << 20)
#define BLOCK_HASH_BITS 15
#define PAGE_HASH_BITS 12
#define NSUCC 4 /* successor links per block */

/* A cached "where execution went next" link (block chaining without patching code): checked
 * before the jump cache, it stays in the cache lines the block just used. */
struct block_link {
	uint64_t la;
	uint64_t key;
	struct block *b;
};

struct block {
	uint64_t paddr;
	struct block *hnext; /* hash chain */
	struct block *pnext; /* blocks on the same code page */
	struct block_link succ[NSUCC]; /* a block leaves at its end or at any taken Jcc */
	uint8_t mode;
	uint8_t valid;
	uint16_t ninsn;
	uint8_t succ_next;   /* which succ slot the next miss replaces */
	uint8_t pad[3];
	struct insn insn[];
};

struct code_page {
	uint64_t ppage;
	struct block *blocks;
	struct code_page *next;
};

/* Direct-mapped cache from (linear RIP, mode, privilege) to block, so the common block-to-block
 * step skips the TLB probe and the hash walk. Entries carry the TLB generation they were made
 * under: any TLB flush (CR3, INVLPG, mode change) makes them all stale at once. */
#define JC_BITS 12
#define jc_entry block_link

struct code_cache {
	uint8_t *arena;
	size_t used;
	struct jc_entry jc[1u << JC_BITS];
	struct block *hash[1u << BLOCK_HASH_BITS];
	struct code_page *pages[1u << PAGE_HASH_BITS];
};

static inline unsigned block_hash(uint64_t paddr, unsigned mode)
{
	uint64_t h = (paddr ^ (paddr >> 13) ^ ((uint64_t)mode << 7)) * 0x9e3779b97f4a7c15ull;
	return (unsigned)(h >> (64 - BLOCK_HASH_BITS));
}

static inline unsigned page_hash(uint64_t ppage)
{
	return (unsigned)(((ppage >> 12) * 0x9e3779b97f4a7c15ull) >> (64 - PAGE_HASH_BITS));
}

struct code_cache *code_cache_create(void)
{
	struct code_cache *cc = calloc(1, sizeof(*cc));
	if (!cc)
		return NULL;
	/* Reserved, not committed: untouched arena pages cost the host nothing. */
	cc->arena = mmap(NULL, ARENA_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (cc->arena == MAP_FAILED) {
		free(cc);
		return NULL;
	}
	return cc;
}

void code_cache_destroy(struct code_cache *cc)
{
	if (!cc)
		return;
	munmap(cc->arena, ARENA_SIZE);
	free(cc);
}

void code_cache_flush(struct cpu *c)
{
	struct code_cache *cc = c->cc;
	cc->used = 0;
	memset(cc->hash, 0, sizeof(cc->hash));
	memset(cc->pages, 0, sizeof(cc->pages));
	c->tlb_gen++; /* the jump cache points into the arena */
	c->exit_block = 1;
}

static void *arena_alloc(struct cpu *c, size_t size)
{
	struct code_cache *cc = c->cc;
	size = (size + 15) & ~(size_t)15;
	if (cc->used + size > ARENA_SIZE)
		code_cache_flush(c);
	void *p = cc->arena + cc->used;
	cc->used += size;
	return p;
}

static struct code_page *code_page_find(struct code_cache *cc, uint64_t ppage)
{
	for (struct code_page *p = cc->pages[page_hash(ppage)]; p; p = p->next)
		if (p->ppage == ppage)
			return p;
	return NULL;
}

bool code_page_has_code(struct cpu *c, uint64_t ppage)
{
	return code_page_find(c->cc, ppage & ~0xfffull) != NULL;
}

static void invalidate_page(struct cpu *c, uint64_t ppage)
{
	struct code_cache *cc = c->cc;
	struct code_page **pp = &cc->pages[page_hash(ppage)];
	while (*pp && (*pp)->ppage != ppage)
		pp = &(*pp)->next;
	struct code_page *page = *pp;
	if (!page)
		return;
	*pp = page->next;
	for (struct block *b = page->blocks; b; b = b->pnext) {
		struct block **hp = &cc->hash[block_hash(b->paddr, b->mode)];
		while (*hp && *hp != b)
			hp = &(*hp)->hnext;
		if (*hp)
			*hp = b->hnext;
		b->valid = 0;
	}
	c->exit_block = 1;
}

void code_invalidate_phys(struct cpu *c, uint64_t paddr, uint64_t len)
{
	if (!len)
		return;
	uint64_t last = (paddr + len - 1) & ~0xfffull;
	for (uint64_t p = paddr & ~0xfffull; p <= last && p >= (paddr & ~0xfffull); p += 0x1000)
		invalidate_page(c, p);
}

/* A page just became a code page: its TLB write entries must take the slow path from now on. */
static void code_page_protect(struct cpu *c, uint64_t ppage)
{
	for (int u = 0; u < 2; u++)
		for (unsigned k = 0; k < TLB_SIZE; k++) {
			struct tlb_entry *e = &c->tlb[u][k];
			if (e->paddr == ppage && e->tag_w != TLB_INVALID)
				e->tag_w |= TLB_SLOW;
		}
}

static struct block *block_build(struct cpu *c, uint64_t paddr, const uint8_t *page, unsigned mode)
{
	struct code_cache *cc = c->cc;
	uint64_t ppage = paddr & ~0xfffull;
	struct code_page *cp = code_page_find(cc, ppage);
	if (!cp) {
		/* Allocate the page record before the block so a flush cannot orphan it. */
		cp = arena_alloc(c, sizeof(*cp));
		cp->ppage = ppage;
		cp->blocks = NULL;
		unsigned h = page_hash(ppage);
		cp->next = cc->pages[h];
		cc->pages[h] = cp;
		code_page_protect(c, ppage);
	}
	size_t before = cc->used;
	struct block *b = arena_alloc(c, sizeof(*b) + MAX_BLOCK_INSNS * sizeof(struct insn));
	if (cc->used < before) {
		/* The arena was flushed: cp went with it. Start over on an empty cache. */
		cc->used = 0;
		memset(cc->hash, 0, sizeof(cc->hash));
		memset(cc->pages, 0, sizeof(cc->pages));
		return block_build(c, paddr, page, mode);
	}
	unsigned off = paddr & 0xfff, n = 0;
	while (n < MAX_BLOCK_INSNS && off < 0x1000) {
		struct insn *i = &b->insn[n];
		int len = insn_decode(mode, page + off, 0x1000 - off, i);
		if (len == 0)
			break; /* crosses into the next page: executed uncached */
		n++;
		if (len < 0 || (i->flags & INSN_ENDS_BLOCK))
			break;
		off += len;
	}
	if (n == 0) {
		cc->used = before;
		return NULL;
	}
	cc->used = before + ((sizeof(*b) + n * sizeof(struct insn) + 15) & ~(size_t)15);
	b->paddr = paddr;
	b->mode = mode;
	b->valid = 1;
	b->ninsn = n;
	memset(b->succ, 0, sizeof(b->succ));
	b->succ_next = 0;
	unsigned h = block_hash(paddr, mode);
	b->hnext = cc->hash[h];
	cc->hash[h] = b;
	b->pnext = cp->blocks;
	cp->blocks = b;
	return b;
}

/* The linear address of the next instruction, with the CS limit check of non-64-bit modes. */
static inline uint64_t fetch_linear(struct cpu *c)
{
	if (c->mode == CPU_MODE_LONG64)
		return c->s.rip;
	if (unlikely(c->s.rip > c->s.seg[S_CS].limit))
		cpu_gp(c, 0);
	return (c->s.seg[S_CS].base + c->s.rip) & 0xffffffffull;
}

/* What besides the linear address decides which block runs there. */
static inline uint64_t lookup_key(const struct cpu *c)
{
	return c->tlb_gen << 8 | (uint64_t)c->dec_mode << 1 | (c->cpl == 3);
}

/* The block at linear address la when prev's successor links do not have it: the jump cache,
 * then the TLB and the hash table, then decoding. */
static __attribute__((noinline)) struct block *block_lookup_slow(struct cpu *c, struct block *prev, uint64_t la)
{
	uint64_t ppage, key = lookup_key(c);
	unsigned mode = c->dec_mode;
	struct jc_entry *j = &c->cc->jc[(la ^ (la >> JC_BITS)) & ((1u << JC_BITS) - 1)];
	if (likely(j->la == la && j->key == key && j->b->valid)) {
		if (prev && prev->valid) {
			prev->succ[prev->succ_next] = *j;
			prev->succ_next = (prev->succ_next + 1) % NSUCC;
		}
		return j->b;
	}

	const uint8_t *page = mmu_fetch_page(c, la, &ppage);
	uint64_t paddr = ppage | (la & 0xfff);
	struct block *b;
	for (b = c->cc->hash[block_hash(paddr, mode)]; b; b = b->hnext)
		if (b->paddr == paddr && b->mode == mode)
			break;
	if (!b) {
		if (!page)
			return NULL; /* executing from MMIO: uncached */
		uint64_t gen = c->tlb_gen;
		b = block_build(c, paddr, page, mode);
		if (c->tlb_gen != gen)
			prev = NULL; /* the arena was flushed: prev is gone */
		if (!b)
			return NULL;
		key = lookup_key(c); /* building may flush */
	}
	j->la = la;
	j->key = key;
	j->b = b;
	if (prev && prev->valid) {
		prev->succ[prev->succ_next] = *j;
		prev->succ_next = (prev->succ_next + 1) % NSUCC;
	}
	return b;
}

/* Fetches the instruction at RIP byte-wise (page-crossing or MMIO code) and decodes it. */
static void fetch_uncached(struct cpu *c, struct insn *i, uint8_t *bytes)
{
	uint64_t la = fetch_linear(c);
	unsigned n = 0;
	for (int part = 0; part < 2; part++) {
		uint64_t ppage;
		const uint8_t *page = mmu_fetch_page(c, la + n, &ppage);
		unsigned off = (la + n) & 0xfff, avail = 0x1000 - off;
		if (avail > 15 - n)
			avail = 15 - n;
		for (unsigned k = 0; k < avail; k++)
			bytes[n + k] = page ? page[off + k] : (uint8_t)c->bus.mmio_read(c->bus.opaque, ppage | (off + k), 1);
		n += avail;
		int len = insn_decode(c->dec_mode, bytes, n, i);
		if (len != 0)
			return;
	}
}

static void exec_one_uncached(struct cpu *c)
{
	struct insn i;
	uint8_t bytes[16];
	fetch_uncached(c, &i, bytes);
	c->next_rip = c->s.rip + i.len;
	i.fn(c, &i);
	c->s.rip = c->next_rip;
	c->icount++;
}

static const uint32_t has_error_code = (1u << EXC_DF) | (1u << EXC_TS) | (1u << EXC_NP) | (1u << EXC_SS) |
				       (1u << EXC_GP) | (1u << EXC_PF) | (1u << EXC_AC);
static const uint32_t contributory = (1u << EXC_DE) | (1u << EXC_TS) | (1u << EXC_NP) | (1u << EXC_SS) | (1u << EXC_GP);

void cpu_raise(struct cpu *c, int vec, uint32_t err)
{
	c->exc_vec = vec;
	c->exc_err = err;
	c->exc_has_err = vec < 32 && ((has_error_code >> vec) & 1);
	siglongjmp(c->jmp, 1);
}

void cpu_raise_noerr(struct cpu *c, int vec)
{
	cpu_raise(c, vec, 0);
}

void cpu_soft_interrupt(struct cpu *c, int vec)
{
	if (vec < 32 && (c->exc_exits & (1u << vec)))
		cpu_raise_noerr(c, vec);
	cpu_deliver(c, vec, false, 0, true, c->next_rip);
	c->exit_block = 1;
}

/* Delivers the exception recorded by cpu_raise() with the double-fault rules (SDM vol. 3 §6.15,
 * table 6-5). Returns an exit reason, or -1 to keep running. */
static int handle_exception(struct cpu *c)
{
	int vec = c->exc_vec;
	uint32_t err = c->exc_err;
	bool has_err = c->exc_has_err;

	c->exit_block = 1;
	/* Every delivery spends budget: a guest whose handlers fault again and again must still let
	 * cpu_run() return (the run loop only counts instructions that complete). */
	c->icount++;
	if ((unsigned)vec < 32 && (c->exc_exits & (1u << vec))) {
		c->in_delivery = 0;
		return CPU_EXIT_EXCEPTION;
	}
	if (c->in_delivery) {
		int first = c->first_exc;
		if (first == EXC_DF) {
			c->in_delivery = 0;
			c->triple_fault = 1;
			return CPU_EXIT_TRIPLE_FAULT;
		}
		if (first >= 0 && (((contributory >> first) & 1 && (contributory >> vec) & 1) ||
				   (first == EXC_PF && (vec == EXC_PF || (contributory >> vec) & 1)))) {
			vec = EXC_DF;
			err = 0;
			has_err = true;
		}
	}
	c->in_delivery = 1;
	c->first_exc = vec;
	c->halted = 0;
	if (vec == EXC_DB || vec == EXC_BP || vec == EXC_OF) {
		/* traps already point past the instruction */
	}
	cpu_deliver(c, vec, has_err, err, false, c->s.rip);
	c->in_delivery = 0;
	return -1;
}

/* Takes a pending NMI or external interrupt if the CPU can; called between blocks. */
static void check_interrupts(struct cpu *c)
{
	if (c->intr_shadow) {
		/* The instruction after STI / MOV SS runs first; then the interrupt is recognized, so
		 * run exactly one instruction before looking again (SDM vol. 3 §6.8.3). */
		c->intr_shadow = 0;
		c->single_insn = 1;
		return;
	}
	if (c->nmi_pending && !c->nmi_blocked) {
		c->nmi_pending = 0;
		c->nmi_blocked = 1;
		c->halted = 0;
		c->in_delivery = 1;
		c->first_exc = -1;
		cpu_deliver(c, EXC_NMI, false, 0, false, c->s.rip);
		c->in_delivery = 0;
		return;
	}
	if (c->intr_line && (c->s.rflags & F_IF)) {
		int vec = c->bus.intr_ack ? c->bus.intr_ack(c->bus.opaque) : -1;
		if (vec < 0 || vec > 255)
			return;
		c->halted = 0;
		c->in_delivery = 1;
		c->first_exc = -1;
		c->icount++;
		cpu_deliver(c, vec, false, 0, false, c->s.rip);
		c->in_delivery = 0;
	}
}

/* Runs one instruction decoded afresh, with the trace line and the TF single-step trap. */
static void step_one(struct cpu *c)
{
	bool tf = c->s.rflags & F_TF;
	if (c->trace)
		cpu_trace_line(c, c->trace);
	exec_one_uncached(c);
	if (tf) {
		c->s.dr[6] |= 1u << 14; /* BS */
		cpu_raise_noerr(c, EXC_DB);
	}
}

/* c->events bits that need the slow path between blocks. */
#define EVENTS_SLOW ((1ull << 48) - 1) /* the bytes intr_line .. single_insn */
_Static_assert(offsetof(struct cpu, single_insn) - offsetof(struct cpu, intr_line) == 5 &&
		       offsetof(struct cpu, exit_block) - offsetof(struct cpu, intr_line) == 6,
	       "EVENTS_SLOW covers intr_line .. single_insn");

/* The loop proper; entered afresh after every exception (its locals do not survive longjmp). */
static __attribute__((noinline)) enum cpu_exit run_loop(struct cpu *c, uint64_t end)
{
	struct block *prev = NULL;

	for (;;) {
		bool one = false;
		if (unlikely(c->events & EVENTS_SLOW)) {
			if (unlikely(c->stop_requested)) {
				__atomic_store_n(&c->stop_requested, 0, __ATOMIC_RELAXED);
				return CPU_EXIT_STOP;
			}
			/* The budget first: a delivery that faults every time must still end the run. */
			if (unlikely(c->icount >= end))
				return CPU_EXIT_BUDGET;
			if (c->nmi_pending | c->intr_line | c->intr_shadow)
				check_interrupts(c);
			if (c->halted)
				return CPU_EXIT_HLT;
			one = c->single_insn;
			c->single_insn = 0;
		} else if (unlikely(c->icount >= end)) {
			return CPU_EXIT_BUDGET;
		}
		if (unlikely(c->trace || (c->s.rflags & F_TF))) {
			c->exit_block = 0;
			step_one(c); /* one instruction: what single_insn asks for anyway */
			prev = NULL;
			continue;
		}
		uint64_t la = fetch_linear(c);
		struct block *b = NULL;
		if (prev) {
			uint64_t key = lookup_key(c);
			for (unsigned k = 0; k < NSUCC; k++) {
				const struct block_link *l = &prev->succ[k];
				if (l->la == la && l->key == key && l->b->valid) {
					b = l->b;
					break;
				}
			}
		}
		if (!b)
			b = block_lookup_slow(c, prev, la);
		c->exit_block = 0;
		prev = b;
		if (unlikely(!b)) {
			exec_one_uncached(c);
			continue;
		}
		const struct insn *i = b->insn, *last = b->insn + b->ninsn;
		if (unlikely(one))
			last = i + 1;
		do {
			c->next_rip = c->s.rip + i->len;
			i->fn(c, i);
			c->s.rip = c->next_rip;
			i++;
		} while (i < last && likely(!c->exit_block));
		/* (an exception inside the block skips this: icount is approximate by design) */
		c->icount += (uint64_t)(i - b->insn);
	}
}

/* SOFTVM_STOP_AFTER=N (debugging, profiling): the process exits once the guest has run about N
 * instructions (checked per cpu_run slice), so a profile of a boot prefix is repeatable. */
static void stop_after_check(struct cpu *c)
{
	static bool read;
	static uint64_t limit; /* 0: none */
	if (unlikely(!read)) {
		const char *s = getenv("SOFTVM_STOP_AFTER");
		limit = s ? strtoull(s, NULL, 0) : 0;
		read = true;
	}
	if (unlikely(limit && c->icount >= limit)) {
		fprintf(stderr, "softvm: SOFTVM_STOP_AFTER: stopped after %llu guest instructions\n",
			(unsigned long long)c->icount);
		exit(0);
	}
}

enum cpu_exit cpu_run(struct cpu *c, uint64_t max_insns)
{
	uint64_t end = c->icount + max_insns;

	stop_after_check(c);

	if (sigsetjmp(c->jmp, 0)) {
		int r = handle_exception(c);
		if (r >= 0)
			return (enum cpu_exit)r;
	}
	return run_loop(c, end);
}

enum cpu_exit cpu_step(struct cpu *c)
{
	if (sigsetjmp(c->jmp, 0)) {
		int r = handle_exception(c);
		if (r >= 0)
			return (enum cpu_exit)r;
		return CPU_EXIT_BUDGET;
	}
	if (c->nmi_pending | c->intr_line | c->intr_shadow)
		check_interrupts(c);
	if (c->halted)
		return CPU_EXIT_HLT;
	c->exit_block = 0;
	step_one(c);
	return CPU_EXIT_BUDGET;
}

void cpu_set_trace(struct cpu *c, FILE *f)
{
	c->trace = f;
}

/*
 * Trace line format (stable; one line per instruction, before it executes):
 *   <cs>:<rip> <bytes> <disassembly> | rax=.. rbx=.. rcx=.. rdx=.. rsi=.. rdi=.. rbp=.. rsp=.. fl=..
 */
void cpu_trace_line(struct cpu *c, FILE *f)
{
	uint8_t bytes[16];
	char text[96], hex[40];
	unsigned n = 0;
	uint64_t la = c->mode == CPU_MODE_LONG64 ? c->s.rip : ((c->s.seg[S_CS].base + c->s.rip) & 0xffffffffull);
	while (n < 15 && cpu_read_virt(c, la + n, bytes + n, 1) == 0)
		n++;
	int len = insn_disasm(c->dec_mode, bytes, n, c->s.rip, text, sizeof(text));
	hex[0] = 0;
	for (int k = 0; k < (len > 0 ? len : 1) && k < (int)n && k < 15; k++)
		snprintf(hex + 2 * k, sizeof(hex) - 2 * k, "%02x", bytes[k]);
	uint64_t fl = flags_get(c);
	fprintf(f,
		"%04x:%016llx %-30s %-40s | rax=%llx rbx=%llx rcx=%llx rdx=%llx rsi=%llx rdi=%llx rbp=%llx rsp=%llx fl=%llx\n",
		c->s.seg[S_CS].sel, (unsigned long long)c->s.rip, hex, text, (unsigned long long)c->s.gpr[R_RAX],
		(unsigned long long)c->s.gpr[R_RBX], (unsigned long long)c->s.gpr[R_RCX],
		(unsigned long long)c->s.gpr[R_RDX], (unsigned long long)c->s.gpr[R_RSI],
		(unsigned long long)c->s.gpr[R_RDI], (unsigned long long)c->s.gpr[R_RBP],
		(unsigned long long)c->s.gpr[R_RSP], (unsigned long long)fl);
}
