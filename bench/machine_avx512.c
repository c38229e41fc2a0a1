/* machine_avx512.c: the AVX-512F FMA peak kernel (compiled with -mavx512f
 * -mfma; machine.c calls it only when the CPU has AVX-512F). */
#include <immintrin.h>

#include "machine.h"

/* 16 independent chains of 16-lane FMAs: two FMA pipes of latency 4
 * cycles need 8 in flight, and 16 leaves room for cores with longer
 * latency.  Each chain converges to 1, as in machine_avx2.c. */
#define AVX512_CHAINS 16

double machine_fma_avx512(long iters, float *sink)
{
	const __m512 b = _mm512_set1_ps(0.9999f), c = _mm512_set1_ps(0.0001f);
	__m512 a[AVX512_CHAINS];

	for (int k = 0; k < AVX512_CHAINS; k++)
		a[k] = _mm512_set1_ps(0.5f + 0.01f * (float)k);
	for (long i = 0; i < iters; i++) {
		a[0] = _mm512_fmadd_ps(a[0], b, c);
		a[1] = _mm512_fmadd_ps(a[1], b, c);
		a[2] = _mm512_fmadd_ps(a[2], b, c);
		a[3] = _mm512_fmadd_ps(a[3], b, c);
		a[4] = _mm512_fmadd_ps(a[4], b, c);
		a[5] = _mm512_fmadd_ps(a[5], b, c);
		a[6] = _mm512_fmadd_ps(a[6], b, c);
		a[7] = _mm512_fmadd_ps(a[7], b, c);
		a[8] = _mm512_fmadd_ps(a[8], b, c);
		a[9] = _mm512_fmadd_ps(a[9], b, c);
		a[10] = _mm512_fmadd_ps(a[10], b, c);
		a[11] = _mm512_fmadd_ps(a[11], b, c);
		a[12] = _mm512_fmadd_ps(a[12], b, c);
		a[13] = _mm512_fmadd_ps(a[13], b, c);
		a[14] = _mm512_fmadd_ps(a[14], b, c);
		a[15] = _mm512_fmadd_ps(a[15], b, c);
	}
	for (int k = 1; k < AVX512_CHAINS; k++)
		a[0] = _mm512_add_ps(a[0], a[k]);
	*sink = _mm512_reduce_add_ps(a[0]);
	return 2.0 * 16 * AVX512_CHAINS * (double)iters;
}
