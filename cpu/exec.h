/* Code cache lifetime (exec.c), used by cpu.c. */
#ifndef SOFTVM_CPU_EXEC_H
#define SOFTVM_CPU_EXEC_H
struct cpu;
struct code_cache;
struct code_cache *code_cache_create(void);
void code_cache_destroy(struct code_cache *cc);
void code_cache_flush(struct cpu *c);
#endif
