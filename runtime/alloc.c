/* alloc.c: aligned allocation for weights, activations and caches. */
#include <stdlib.h>
#include <sys/mman.h>
#include "tfm.h"

/* Blocks of this size or more are aligned to 2 MiB and offered to the
 * kernel as transparent huge pages: streaming weights through 4 KiB pages
 * costs a TLB miss every 4 KiB, and decode is one long stream. */
#define HUGE_MIN (8u << 20)
#define HUGE_ALIGN (2u << 20)

void *tfm_alloc(size_t size)
{
	void *p = NULL;

	if (size == 0)
		size = 64;
	if (posix_memalign(&p, size >= HUGE_MIN ? HUGE_ALIGN : 64, size) != 0)
		return NULL;
#ifdef MADV_HUGEPAGE
	if (size >= HUGE_MIN)
		madvise(p, size / HUGE_ALIGN * HUGE_ALIGN, MADV_HUGEPAGE);
#endif
	return p;
}

void tfm_free(void *p)
{
	free(p);
}
