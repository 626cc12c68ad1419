/* Decoder interface used by the execution loop and the tracer (decode.c). */
#ifndef SOFTVM_CPU_DECODE_H
#define SOFTVM_CPU_DECODE_H
#include <stddef.h>
#include <stdint.h>

struct cpu;
struct insn;

/* Zydis decoders, one per code type. */
enum { DEC_REAL16, DEC_PROT16, DEC_PROT32, DEC_COMPAT16, DEC_COMPAT32, DEC_LONG64, DEC_MODE_COUNT };

void decode_init(void);
unsigned decode_mode(const struct cpu *c);
/* Decodes one instruction from avail bytes. Returns its length; 0 when more bytes are needed
 * (the instruction crosses the end of what was given); -1 when invalid (insn->fn raises #UD). */
int insn_decode(unsigned mode, const uint8_t *bytes, unsigned avail, struct insn *i);
/* Intel-syntax disassembly for traces. Returns the length or -1. */
int insn_disasm(unsigned mode, const uint8_t *bytes, unsigned avail, uint64_t rip, char *buf, size_t size);
#endif
