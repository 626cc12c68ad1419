/* Instruction family: system (being written; see core.h for the handler contract). */
#include "core.h"

void system_init(void)
{
}
