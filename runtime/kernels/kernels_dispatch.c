/* kernels_dispatch.c: picks the kernel table for an instruction set.
 *
 * kernels.c is built once per set (tfm_kernels_scalar, _avx2, _avx512);
 * this file, built for the baseline x86-64 like the rest of the runtime,
 * hands out a table only when the CPU (and the operating system, which must
 * save the wider registers) can run it.  GCC's __builtin_cpu_supports checks
 * both; F16C (the halves of a KV cache), which every CPU with AVX2 has, is
 * read off CPUID, whose name for it not every compiler's builtin knows.
 */
#include <stddef.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "tfm.h"

extern const tfm_kernels tfm_kernels_scalar;
extern const tfm_kernels tfm_kernels_avx2;
extern const tfm_kernels tfm_kernels_avx512;

static int cpu_scalar(void)
{
	return 1;
}

static int cpu_avx2(void)
{
#if defined(__x86_64__) || defined(__i386__)
	unsigned a, b, c, d;

	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
	       && __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
#else
	return 0;
#endif
}

static int cpu_avx512(void)
{
#if defined(__x86_64__) || defined(__i386__)
	return cpu_avx2() && __builtin_cpu_supports("avx512f") &&
	       __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
#else
	return 0;
#endif
}

/* Every set, from the baseline up: the last one the CPU runs is the best. */
static const struct {
	const tfm_kernels *k;
	int (*runs)(void);
} kernel_sets[] = {
	{ &tfm_kernels_scalar, cpu_scalar },
	{ &tfm_kernels_avx2, cpu_avx2 },
	{ &tfm_kernels_avx512, cpu_avx512 },
};

const tfm_kernels *tfm_kernels_for(const char *isa)
{
	const tfm_kernels *best = NULL;
	size_t i;

	for (i = 0; i < sizeof kernel_sets / sizeof kernel_sets[0]; i++) {
		if (isa != NULL && strcmp(isa, kernel_sets[i].k->isa) != 0)
			continue;
		if (kernel_sets[i].runs())
			best = kernel_sets[i].k;
	}
	return best;
}
