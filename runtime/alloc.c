/* alloc.c: aligned allocation for weights, activations and caches. */
#include <stdlib.h>
#include "tfm.h"

void *tfm_alloc(size_t size)
{
	void *p = NULL;

	if (size == 0)
		size = 64;
	if (posix_memalign(&p, 64, size) != 0)
		return NULL;
	return p;
}

void tfm_free(void *p)
{
	free(p);
}
