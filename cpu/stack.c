/* Instruction family: stack (being written; see core.h for the handler contract). */
#include "core.h"

void stack_init(void)
{
}
