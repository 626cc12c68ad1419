/* Instruction family: bitops (being written; see core.h for the handler contract). */
#include "core.h"

void bitops_init(void)
{
}
