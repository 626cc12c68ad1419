/* Instruction family: alu (being written; see core.h for the handler contract). */
#include "core.h"

void alu_init(void)
{
}
