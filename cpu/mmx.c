/* Instruction family: mmx (being written; see core.h for the handler contract). */
#include "core.h"

void mmx_init(void)
{
}
