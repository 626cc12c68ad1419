/* Instruction family: branch (being written; see core.h for the handler contract). */
#include "core.h"

void branch_init(void)
{
}
