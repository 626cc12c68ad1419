/*
 * String instructions (string.c). MOVSD and CMPSD are also SSE2 mnemonics in Zydis: the family
 * that registers those mnemonics last must hand the operand-less encodings (A5, A7: i->nops == 0)
 * to string_select so that the string forms keep working.
 */
#ifndef SOFTVM_CPU_STRING_OPS_H
#define SOFTVM_CPU_STRING_OPS_H
#include "core.h"

insn_fn string_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo);
#endif
