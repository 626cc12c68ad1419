/* Instruction family: string (being written; see core.h for the handler contract). */
#include "core.h"

void string_init(void)
{
}
