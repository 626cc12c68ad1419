/* Instruction family: mov (being written; see core.h for the handler contract). */
#include "core.h"

void mov_init(void)
{
}
