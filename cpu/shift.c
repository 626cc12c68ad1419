/* Instruction family: shift (being written; see core.h for the handler contract). */
#include "core.h"

void shift_init(void)
{
}
