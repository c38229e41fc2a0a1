/* machine_avx2.c: the AVX2 + FMA kernels of the machine figures (compiled
 * with -mavx2 -mfma; machine.c calls them only when the CPU has both). */
#include <immintrin.h>

#include "machine.h"

/* Eight accumulators, so that the adds (latency 3-4 cycles) never wait on
 * each other and the loads set the pace. */
float machine_sum_avx2(const float *p, size_t n)
{
	__m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
	__m256 s4 = s0, s5 = s0, s6 = s0, s7 = s0;
	float out[8], r = 0;

	for (size_t i = 0; i < n; i += 64) {
		s0 = _mm256_add_ps(s0, _mm256_load_ps(p + i));
		s1 = _mm256_add_ps(s1, _mm256_load_ps(p + i + 8));
		s2 = _mm256_add_ps(s2, _mm256_load_ps(p + i + 16));
		s3 = _mm256_add_ps(s3, _mm256_load_ps(p + i + 24));
		s4 = _mm256_add_ps(s4, _mm256_load_ps(p + i + 32));
		s5 = _mm256_add_ps(s5, _mm256_load_ps(p + i + 40));
		s6 = _mm256_add_ps(s6, _mm256_load_ps(p + i + 48));
		s7 = _mm256_add_ps(s7, _mm256_load_ps(p + i + 56));
	}
	s0 = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
	s4 = _mm256_add_ps(_mm256_add_ps(s4, s5), _mm256_add_ps(s6, s7));
	_mm256_storeu_ps(out, _mm256_add_ps(s0, s4));
	for (int k = 0; k < 8; k++)
		r += out[k];
	return r;
}

/* 12 independent chains of 8-lane FMAs: two FMA pipes of latency 4-5
 * cycles need at least 10 in flight.  Each chain converges to 1 (a = a*b + c
 * with b = 1 - c), so no value becomes denormal or infinite. */
#define AVX2_CHAINS 12

double machine_fma_avx2(long iters, float *sink)
{
	const __m256 b = _mm256_set1_ps(0.9999f), c = _mm256_set1_ps(0.0001f);
	__m256 a[AVX2_CHAINS];
	float out[8];

	for (int k = 0; k < AVX2_CHAINS; k++)
		a[k] = _mm256_set1_ps(0.5f + 0.01f * (float)k);
	for (long i = 0; i < iters; i++) {
		/* Written out so that every chain stays in a register. */
		a[0] = _mm256_fmadd_ps(a[0], b, c);
		a[1] = _mm256_fmadd_ps(a[1], b, c);
		a[2] = _mm256_fmadd_ps(a[2], b, c);
		a[3] = _mm256_fmadd_ps(a[3], b, c);
		a[4] = _mm256_fmadd_ps(a[4], b, c);
		a[5] = _mm256_fmadd_ps(a[5], b, c);
		a[6] = _mm256_fmadd_ps(a[6], b, c);
		a[7] = _mm256_fmadd_ps(a[7], b, c);
		a[8] = _mm256_fmadd_ps(a[8], b, c);
		a[9] = _mm256_fmadd_ps(a[9], b, c);
		a[10] = _mm256_fmadd_ps(a[10], b, c);
		a[11] = _mm256_fmadd_ps(a[11], b, c);
	}
	for (int k = 1; k < AVX2_CHAINS; k++)
		a[0] = _mm256_add_ps(a[0], a[k]);
	_mm256_storeu_ps(out, a[0]);
	*sink = out[0] + out[7];
	return 2.0 * 8 * AVX2_CHAINS * (double)iters;
}
