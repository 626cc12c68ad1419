/* Instruction family: muldiv (being written; see core.h for the handler contract). */
#include "core.h"

void muldiv_init(void)
{
}
