/*
 * Instruction decoding: guest bytes -> Zydis -> softvm's compact struct insn.
 *
 * Zydis does the hard part (prefixes, ModRM/SIB, operand and address sizes, validity of each
 * encoding in each mode). We keep only what execution needs: the handler for the mnemonic, the
 * visible operands as (kind, size, register), the one memory operand, immediates and prefixes.
 * Mnemonics without a registered handler decode to a #UD handler, so CPUID never promises more
 * than the decoder table can run.
 */
#include <pthread.h>
#include <stdio.h>

#include "core.h"
#include "decode.h"

struct handler {
	insn_fn fn;
	insn_select_fn sel;
	uint8_t flags;
};

static struct handler handlers[ZYDIS_MNEMONIC_MAX_VALUE + 1];
static ZydisDecoder decoders[DEC_MODE_COUNT];
static ZydisFormatter formatter;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

void insn_register(ZydisMnemonic m, insn_fn fn, insn_select_fn sel, uint8_t flags)
{
	handlers[m] = (struct handler){ fn, sel, flags };
}

static void insn_ud(struct cpu *c, const struct insn *i)
{
	cpu_ud(c);
}

static void decode_init_once(void)
{
	static const struct { ZydisMachineMode m; ZydisStackWidth w; } modes[DEC_MODE_COUNT] = {
		[DEC_REAL16] = { ZYDIS_MACHINE_MODE_REAL_16, ZYDIS_STACK_WIDTH_16 },
		[DEC_PROT16] = { ZYDIS_MACHINE_MODE_LEGACY_16, ZYDIS_STACK_WIDTH_16 },
		[DEC_PROT32] = { ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32 },
		[DEC_COMPAT16] = { ZYDIS_MACHINE_MODE_LONG_COMPAT_16, ZYDIS_STACK_WIDTH_16 },
		[DEC_COMPAT32] = { ZYDIS_MACHINE_MODE_LONG_COMPAT_32, ZYDIS_STACK_WIDTH_32 },
		[DEC_LONG64] = { ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64 },
	};
	for (int k = 0; k < DEC_MODE_COUNT; k++) {
		ZydisDecoderInit(&decoders[k], modes[k].m, modes[k].w);
		/* We implement LZCNT/TZCNT (ABM/BMI1 bits in CPUID), so decode them as such. */
		ZydisDecoderEnableMode(&decoders[k], ZYDIS_DECODER_MODE_LZCNT, ZYAN_TRUE);
		ZydisDecoderEnableMode(&decoders[k], ZYDIS_DECODER_MODE_TZCNT, ZYAN_TRUE);
		ZydisDecoderEnableMode(&decoders[k], ZYDIS_DECODER_MODE_MPX, ZYAN_FALSE);
		ZydisDecoderEnableMode(&decoders[k], ZYDIS_DECODER_MODE_CET, ZYAN_FALSE);
	}
	ZydisFormatterInit(&formatter, ZYDIS_FORMATTER_STYLE_INTEL);
	alu_init();
	shift_init();
	muldiv_init();
	bitops_init();
	string_init();
	stack_init();
	branch_init();
	mov_init();
	system_init();
	x87_init();
	sse_init();
	sse3_init();
	sse4_init();
	mmx_init();
	seg_init();
	far_init();
}

void decode_init(void)
{
	pthread_once(&init_once, decode_init_once);
}

unsigned decode_mode(const struct cpu *c)
{
	switch (c->mode) {
	case CPU_MODE_LONG64: return DEC_LONG64;
	case CPU_MODE_COMPAT: return c->code_size == 4 ? DEC_COMPAT32 : DEC_COMPAT16;
	case CPU_MODE_PROT32: return DEC_PROT32;
	case CPU_MODE_PROT16: return DEC_PROT16;
	default: return DEC_REAL16;
	}
}

/* Zydis register -> (kind, our register number). Returns OPK_NONE for registers we do not model
 * as operands (flags, rip and the like). */
static unsigned map_reg(ZydisRegister r, uint8_t *num)
{
	ZydisRegisterClass cls = ZydisRegisterGetClass(r);
	int8_t id = ZydisRegisterGetId(r);
	switch (cls) {
	case ZYDIS_REGCLASS_GPR8:
		/* Zydis order: AL CL DL BL AH CH DH BH SPL BPL SIL DIL R8B..R15B */
		if (id < 4)
			*num = id;
		else if (id < 8)
			*num = 16 + (id - 4);
		else
			*num = id - 4;
		return OPK_GPR;
	case ZYDIS_REGCLASS_GPR16:
	case ZYDIS_REGCLASS_GPR32:
	case ZYDIS_REGCLASS_GPR64:
		*num = id;
		return OPK_GPR;
	case ZYDIS_REGCLASS_SEGMENT: *num = id; return OPK_SEG;
	case ZYDIS_REGCLASS_CONTROL: *num = id; return OPK_CR;
	case ZYDIS_REGCLASS_DEBUG: *num = id; return OPK_DR;
	case ZYDIS_REGCLASS_X87: *num = id; return OPK_ST;
	case ZYDIS_REGCLASS_MMX: *num = id; return OPK_MMX;
	case ZYDIS_REGCLASS_XMM: *num = id; return OPK_XMM;
	default: return OPK_NONE;
	}
}

static uint8_t map_mem_reg(ZydisRegister r)
{
	if (r == ZYDIS_REGISTER_NONE)
		return MEM_NOREG;
	if (r == ZYDIS_REGISTER_RIP || r == ZYDIS_REGISTER_EIP)
		return MEM_RIP;
	uint8_t n;
	if (map_reg(r, &n) != OPK_GPR)
		return MEM_NOREG;
	return n;
}

static void fill_mem(struct insn *i, const ZydisDecodedOperand *o)
{
	i->mem.seg = o->mem.segment == ZYDIS_REGISTER_NONE ? S_DS
		: (uint8_t)ZydisRegisterGetId(o->mem.segment);
	i->mem.base = map_mem_reg(o->mem.base);
	i->mem.index = map_mem_reg(o->mem.index);
	i->mem.scale = o->mem.scale ? o->mem.scale : 1;
	i->mem.disp = o->mem.disp.value;
}

int insn_decode(unsigned mode, const uint8_t *bytes, unsigned avail, struct insn *i)
{
	ZydisDecodedInstruction zi;
	ZydisDecodedOperand zo[ZYDIS_MAX_OPERAND_COUNT];
	ZyanStatus st = ZydisDecoderDecodeFull(&decoders[mode], bytes, avail, &zi, zo);

	memset(i, 0, sizeof(*i));
	i->mem.base = i->mem.index = MEM_NOREG;
	if (st == ZYDIS_STATUS_NO_MORE_DATA)
		return avail >= 15 ? -1 : 0;
	if (ZYAN_FAILED(st)) {
		/* Undecodable: the handler raises #UD. The length only matters for traces. */
		i->fn = insn_ud;
		i->len = 1;
		i->flags = INSN_ENDS_BLOCK;
		return -1;
	}

	i->mnem = zi.mnemonic;
	i->len = zi.length;
	i->osize = zi.operand_width / 8 ? zi.operand_width / 8 : 1;
	i->asize = zi.address_width / 8;
	i->opcode = zi.opcode;
	if (zi.attributes & ZYDIS_ATTRIB_HAS_LOCK)
		i->pfx |= PFX_LOCK;
	if (zi.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE))
		i->pfx |= PFX_REP;
	if (zi.attributes & ZYDIS_ATTRIB_HAS_REPNE)
		i->pfx |= PFX_REPNE;
	if (zi.attributes & ZYDIS_ATTRIB_HAS_OPERANDSIZE)
		i->pfx |= PFX_OSIZE;
	if (zi.attributes & ZYDIS_ATTRIB_HAS_SEGMENT)
		i->pfx |= PFX_SEGOVR;

	/* Default segment for instructions whose memory operands are all hidden (string ops, XLAT):
	 * the source's segment, which honours an override. */
	i->mem.seg = S_DS;
	bool have_mem = false, have_imm = false;
	const ZydisDecodedOperand *hidden_mem = NULL;
	for (unsigned k = 0; k < zi.operand_count; k++) {
		const ZydisDecodedOperand *o = &zo[k];
		if (o->visibility == ZYDIS_OPERAND_VISIBILITY_HIDDEN) {
			/* The source of a string instruction (rSI) or XLAT (rBX) carries the segment,
			 * override included; the ES:rDI destination and stack operands do not. */
			if (o->type == ZYDIS_OPERAND_TYPE_MEMORY && !hidden_mem) {
				ZydisRegister b = o->mem.base;
				if (b == ZYDIS_REGISTER_RSI || b == ZYDIS_REGISTER_ESI || b == ZYDIS_REGISTER_SI ||
				    b == ZYDIS_REGISTER_RBX || b == ZYDIS_REGISTER_EBX || b == ZYDIS_REGISTER_BX)
					hidden_mem = o;
			}
			continue;
		}
		if (i->nops >= 3)
			break;
		struct operand *d = &i->op[i->nops];
		d->size = o->size / 8;
		switch (o->type) {
		case ZYDIS_OPERAND_TYPE_REGISTER:
			d->kind = map_reg(o->reg.value, &d->reg);
			if (d->kind == OPK_NONE)
				continue;
			break;
		case ZYDIS_OPERAND_TYPE_MEMORY:
			d->kind = OPK_MEM;
			if (!have_mem)
				fill_mem(i, o);
			have_mem = true;
			break;
		case ZYDIS_OPERAND_TYPE_POINTER:
			d->kind = OPK_PTR;
			i->imm = o->ptr.offset;
			i->imm2 = o->ptr.segment;
			break;
		case ZYDIS_OPERAND_TYPE_IMMEDIATE:
			d->kind = o->imm.is_relative ? OPK_REL : OPK_IMM;
			if (!have_imm)
				i->imm = o->imm.value.u;
			else
				i->imm2 = o->imm.value.u;
			have_imm = true;
			break;
		default:
			continue;
		}
		i->nops++;
	}
	if (!have_mem && hidden_mem) {
		fill_mem(i, hidden_mem);
		i->mem.base = i->mem.index = MEM_NOREG;
		i->mem.disp = 0;
	}

	const struct handler *h = &handlers[zi.mnemonic];
	i->flags = h->flags;
	i->fn = h->fn;
	if (h->sel)
		i->fn = h->sel(i, &zi, zo);
	if (!i->fn) {
		i->fn = insn_ud;
		i->flags |= INSN_ENDS_BLOCK;
	}
	return i->len;
}

int insn_disasm(unsigned mode, const uint8_t *bytes, unsigned avail, uint64_t rip, char *buf, size_t size)
{
	ZydisDecodedInstruction zi;
	ZydisDecodedOperand zo[ZYDIS_MAX_OPERAND_COUNT];
	if (ZYAN_FAILED(ZydisDecoderDecodeFull(&decoders[mode], bytes, avail, &zi, zo))) {
		snprintf(buf, size, "(bad)");
		return -1;
	}
	if (ZYAN_FAILED(ZydisFormatterFormatInstruction(&formatter, &zi, zo, zi.operand_count_visible, buf, size,
							 rip, NULL)))
		snprintf(buf, size, "(?)");
	return zi.length;
}
