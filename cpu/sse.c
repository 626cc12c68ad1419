/* Instruction family: sse (being written; see core.h for the handler contract). */
#include "core.h"

void sse_init(void)
{
}
