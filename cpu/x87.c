/* Instruction family: x87 (being written; see core.h for the handler contract). */
#include "core.h"

void x87_init(void)
{
}
