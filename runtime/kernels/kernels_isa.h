/* kernels_isa.h: the instruction set the kernels are built for, as numbers
 * and hooks, shared by every file of runtime/kernels/ that is built once per
 * set (kernels.c, matmul.c, gemm.c, train.c; see kernels.c's header comment).
 *
 * The Makefile compiles each such file three times, with -DTFM_ISA=scalar,
 * avx2 or avx512 and that set's -m flags.  NAME(x) gives an external name
 * the set's suffix (x_avx2).  The code is GNU C vector extensions over vf,
 * a vector of VL floats; what differs between the sets is here: the width,
 * fused multiply-add, loads and stores of a partial vector, a broadcast, a
 * square root, a maximum, and the one reduction tree every kernel uses.
 * "scalar" is the x86-64 baseline (16-byte vectors, which SSE2 or any
 * target GCC knows handles) with a separate multiply and add.
 */
#ifndef TFM_KERNELS_ISA_H
#define TFM_KERNELS_ISA_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tfm.h"
#include "tfm_internal.h"

/* ---- The instruction set: name, numbers, hooks -------------------------------- */

#define ISA_scalar 1
#define ISA_avx2 2
#define ISA_avx512 3

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define STR_(a) #a
#define STR(a) STR_(a)

#ifndef TFM_ISA
#error "the kernels are built once per instruction set: -DTFM_ISA=scalar|avx2|avx512 (see the Makefile)"
#endif
#define ISA CAT(ISA_, TFM_ISA)
#define NAME(x) CAT(x##_, TFM_ISA)

/* VL: floats per vector; NREG: vector registers (16 in SSE2 and AVX2, 32
 * in AVX-512). */
#if ISA == ISA_avx512
#if !defined(__AVX512F__) || !defined(__FMA__)
#error "the avx512 kernels need -mavx512f -mavx512bw -mavx512vl -mfma"
#endif
#include <immintrin.h>
#define VL 16
#define NREG 32
#elif ISA == ISA_avx2
#if !defined(__AVX2__) || !defined(__FMA__)
#error "the avx2 kernels need -mavx2 -mfma"
#endif
#include <immintrin.h>
#define VL 8
#define NREG 16
#elif ISA == ISA_scalar
#define VL 4
#define NREG 16
#else
#error "TFM_ISA must be scalar, avx2 or avx512"
#endif

#define INLINE static inline __attribute__((always_inline))

typedef float vf __attribute__((vector_size(VL * 4)));
typedef float vf_u __attribute__((vector_size(VL * 4), aligned(4), may_alias));
typedef float v4 __attribute__((vector_size(16)));

INLINE vf vload(const float *p) { return *(const vf_u *)p; }
INLINE void vstore(float *p, vf v) { *(vf_u *)p = v; }
INLINE vf vsplat(float s) { return (vf){0} + s; }

/* a * b + c, fused where the set has it. */
INLINE vf vfma(vf a, vf b, vf c)
{
#if ISA == ISA_avx512
	return _mm512_fmadd_ps(a, b, c);
#elif ISA == ISA_avx2
	return _mm256_fmadd_ps(a, b, c);
#else
	return a * b + c;
#endif
}

#if ISA == ISA_avx2
/* Lanes m.. of a mask that keeps the first m of 8. */
static const int lane_mask[16] = { -1, -1, -1, -1, -1, -1, -1, -1 };
#endif

/* The first m (0 < m < VL) floats at p, the other lanes 0; reads only those m. */
INLINE vf vload_part(const float *p, int m)
{
#if ISA == ISA_avx512
	return _mm512_maskz_loadu_ps((__mmask16)((1u << m) - 1), p);
#elif ISA == ISA_avx2
	return _mm256_maskload_ps(p, _mm256_loadu_si256((const __m256i *)(lane_mask + 8 - m)));
#else
	vf v = { 0 };
	for (int i = 0; i < m; i++)
		v[i] = p[i];
	return v;
#endif
}

/* Stores the first m (0 < m < VL) lanes of v at p. */
INLINE void vstore_part(float *p, vf v, int m)
{
#if ISA == ISA_avx512
	_mm512_mask_storeu_ps(p, (__mmask16)((1u << m) - 1), v);
#elif ISA == ISA_avx2
	_mm256_maskstore_ps(p, _mm256_loadu_si256((const __m256i *)(lane_mask + 8 - m)), v);
#else
	for (int i = 0; i < m; i++)
		p[i] = v[i];
#endif
}

/* VL halves (IEEE binary16) at p as floats, exactly; and VL floats as
 * halves, rounded to nearest even (F16C's conversions; on the baseline,
 * formats/quant.c's). */
INLINE vf vload_f16(const uint16_t *p)
{
#if ISA == ISA_avx512
	return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
#elif ISA == ISA_avx2
	return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
#else
	vf v;
	for (int i = 0; i < VL; i++)
		v[i] = tfm_f16_to_f32(p[i]);
	return v;
#endif
}

INLINE void vstore_f16(uint16_t *p, vf v)
{
#if ISA == ISA_avx512
	_mm256_storeu_si256((__m256i *)p, _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#elif ISA == ISA_avx2
	_mm_storeu_si128((__m128i *)p, _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#else
	for (int i = 0; i < VL; i++)
		p[i] = tfm_f32_to_f16(v[i]);
#endif
}

#if VL == 16
#define VL_LANES(s) s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s
#elif VL == 8
#define VL_LANES(s) s, s, s, s, s, s, s, s
#else
#define VL_LANES(s) s, s, s, s
#endif

/* s in every lane: one broadcast (vsplat adds s to a zero vector, an extra
 * scalar add; a broadcast from memory folds into an AVX-512 FMA). */
INLINE vf vbroadcast(float s) { return (vf){ VL_LANES(s) }; }

#if VL == 16
#define VL_IOTA 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
#elif VL == 8
#define VL_IOTA 0, 1, 2, 3, 4, 5, 6, 7
#else
#define VL_IOTA 0, 1, 2, 3
#endif

/* x in its first m lanes (0 <= m <= VL), 0 in the others. */
INLINE vf vfirst(vf x, int m)
{
	typedef int vm __attribute__((vector_size(VL * 4)));
	return (vf)((vm)x & ((vm){ VL_IOTA } < m));
}

/* Lane-wise maximum and minimum; when a lane of b is NaN, that NaN. */
INLINE vf vmax(vf a, vf b)
{
#if ISA == ISA_avx512
	return _mm512_max_ps(a, b);
#elif ISA == ISA_avx2
	return _mm256_max_ps(a, b);
#else
	typedef int vm __attribute__((vector_size(VL * 4)));
	vm gt = a > b;
	return (vf)(((vm)a & gt) | ((vm)b & ~gt));
#endif
}

INLINE vf vmin(vf a, vf b)
{
#if ISA == ISA_avx512
	return _mm512_min_ps(a, b);
#elif ISA == ISA_avx2
	return _mm256_min_ps(a, b);
#else
	typedef int vm __attribute__((vector_size(VL * 4)));
	vm lt = a < b;
	return (vf)(((vm)a & lt) | ((vm)b & ~lt));
#endif
}

/* Lane-wise square root, correctly rounded as sqrtf. */
INLINE vf vsqrt(vf a)
{
#if ISA == ISA_avx512
	return _mm512_sqrt_ps(a);
#elif ISA == ISA_avx2
	return _mm256_sqrt_ps(a);
#else
	vf r;
	for (int i = 0; i < VL; i++)
		r[i] = sqrtf(a[i]);
	return r;
#endif
}

/* Lane-wise e^x to within a few ulp of expf: e^-88 and below are 0 (the
 * subnormals above it are rough), overflow is +inf, NaN stays NaN.  Cephes'
 * expf: x = n ln 2 + r, |r| <= ln 2 / 2, a degree-6 polynomial in r, times
 * 2^n made in two halves' exponent bits (so n = 128 and n = -127 need no
 * special case).  For the softmaxes of the training kernels, which take
 * e^x of every score: libm's expf is a call per float. */
INLINE vf vexp(vf x)
{
	typedef int vm __attribute__((vector_size(VL * 4)));
	const vf big = vbroadcast(12582912.0f);	/* 1.5 * 2^23: x + big rounds x to an integer */
	const vf xc = vmin(vbroadcast(88.8f), vmax(vbroadcast(-88.0f), x));
	const vf t = xc * vbroadcast(1.44269504088896341f) + big;
	const vf n = t - big;
	const vf r = (xc - n * vbroadcast(0.693359375f)) + n * vbroadcast(2.12194440e-4f);
	vf p = vbroadcast(1.9875691500e-4f);

	p = p * r + vbroadcast(1.3981999507e-3f);
	p = p * r + vbroadcast(8.3334519073e-3f);
	p = p * r + vbroadcast(4.1665795894e-2f);
	p = p * r + vbroadcast(1.6666665459e-1f);
	p = p * r + vbroadcast(5.0000001201e-1f);
	p = p * (r * r) + r + vbroadcast(1.0f);
	const vm ni = (vm)t - (vm)big, n1 = ni >> 1, n2 = ni - n1;	/* ni in [-127, 128] */
	vf y = p * (vf)((n1 + 127) << 23) * (vf)((n2 + 127) << 23);
	y = (vf)((vm)y & (x >= vbroadcast(-88.0f)));
	return (vf)(((vm)y & (x == x)) | ((vm)x & ~(x == x)));
}

/* The lane sums of a, b, c, d, as one vector {sum a, sum b, sum c, sum d}.
 * The same tree for every caller: halves folded down to 4 lanes, then
 * (x0 + x2) + (x1 + x3). */
INLINE v4 reduce4(vf a, vf b, vf c, vf d)
{
#if VL == 16
	typedef float v8 __attribute__((vector_size(32)));
	v8 a8 = __builtin_shufflevector(a, a, 0, 1, 2, 3, 4, 5, 6, 7) +
	        __builtin_shufflevector(a, a, 8, 9, 10, 11, 12, 13, 14, 15);
	v8 b8 = __builtin_shufflevector(b, b, 0, 1, 2, 3, 4, 5, 6, 7) +
	        __builtin_shufflevector(b, b, 8, 9, 10, 11, 12, 13, 14, 15);
	v8 c8 = __builtin_shufflevector(c, c, 0, 1, 2, 3, 4, 5, 6, 7) +
	        __builtin_shufflevector(c, c, 8, 9, 10, 11, 12, 13, 14, 15);
	v8 d8 = __builtin_shufflevector(d, d, 0, 1, 2, 3, 4, 5, 6, 7) +
	        __builtin_shufflevector(d, d, 8, 9, 10, 11, 12, 13, 14, 15);
#elif VL == 8
	vf a8 = a, b8 = b, c8 = c, d8 = d;
#endif
#if VL >= 8
	v4 a4 = __builtin_shufflevector(a8, a8, 0, 1, 2, 3) + __builtin_shufflevector(a8, a8, 4, 5, 6, 7);
	v4 b4 = __builtin_shufflevector(b8, b8, 0, 1, 2, 3) + __builtin_shufflevector(b8, b8, 4, 5, 6, 7);
	v4 c4 = __builtin_shufflevector(c8, c8, 0, 1, 2, 3) + __builtin_shufflevector(c8, c8, 4, 5, 6, 7);
	v4 d4 = __builtin_shufflevector(d8, d8, 0, 1, 2, 3) + __builtin_shufflevector(d8, d8, 4, 5, 6, 7);
#else
	v4 a4 = a, b4 = b, c4 = c, d4 = d;
#endif
	/* {a0+a2, b0+b2, a1+a3, b1+b3} and the same for c, d */
	v4 ab = __builtin_shufflevector(a4, b4, 0, 4, 1, 5) + __builtin_shufflevector(a4, b4, 2, 6, 3, 7);
	v4 cd = __builtin_shufflevector(c4, d4, 0, 4, 1, 5) + __builtin_shufflevector(c4, d4, 2, 6, 3, 7);
	return __builtin_shufflevector(ab, cd, 0, 1, 4, 5) + __builtin_shufflevector(ab, cd, 2, 3, 6, 7);
}

/* ---- Helpers of more than one file ------------------------------------------ */

/* Sum of v[0..width-1] (sq: of squares; else of v - c), four vector
 * accumulators and a scalar tail. */
INLINE float row_sum(const float *v, int width, int sq, float c)
{
	vf a0 = { 0 }, a1 = { 0 }, a2 = { 0 }, a3 = { 0 };
	const vf cv = vsplat(c);
	float s;
	int k = 0;

	for (; k + 4 * VL <= width; k += 4 * VL) {
		vf x0 = vload(v + k) - cv, x1 = vload(v + k + VL) - cv;
		vf x2 = vload(v + k + 2 * VL) - cv, x3 = vload(v + k + 3 * VL) - cv;
		if (sq) {
			a0 = vfma(x0, x0, a0);
			a1 = vfma(x1, x1, a1);
			a2 = vfma(x2, x2, a2);
			a3 = vfma(x3, x3, a3);
		} else {
			a0 += x0;
			a1 += x1;
			a2 += x2;
			a3 += x3;
		}
	}
	for (; k + VL <= width; k += VL) {
		vf x0 = vload(v + k) - cv;
		a0 = sq ? vfma(x0, x0, a0) : a0 + x0;
	}
	v4 r = reduce4(a0, a1, a2, a3);
	s = (r[0] + r[1]) + (r[2] + r[3]);
	for (; k < width; k++)
		s += sq ? (v[k] - c) * (v[k] - c) : v[k] - c;
	return s;
}

/* q . k for keys k0..k3 (rows of the cache), head_dim d. */
INLINE v4 dot4(const float *q, const float *k0, const float *k1, const float *k2,
               const float *k3, int d)
{
	vf a0 = { 0 }, a1 = { 0 }, a2 = { 0 }, a3 = { 0 };
	int k = 0;

	for (; k + VL <= d; k += VL) {
		vf qv = vload(q + k);
		a0 = vfma(vload(k0 + k), qv, a0);
		a1 = vfma(vload(k1 + k), qv, a1);
		a2 = vfma(vload(k2 + k), qv, a2);
		a3 = vfma(vload(k3 + k), qv, a3);
	}
	if (k < d) {
		vf qv = vload_part(q + k, d - k);
		a0 = vfma(vload_part(k0 + k, d - k), qv, a0);
		a1 = vfma(vload_part(k1 + k, d - k), qv, a1);
		a2 = vfma(vload_part(k2 + k, d - k), qv, a2);
		a3 = vfma(vload_part(k3 + k, d - k), qv, a3);
	}
	return reduce4(a0, a1, a2, a3);
}

/* act(x) for one float, as the forward computes it. */
INLINE float act1(float x, int act)
{
	switch (act) {
	case TFM_ACT_RELU:
		return x > 0.0f ? x : 0.0f;
	case TFM_ACT_SILU:
		return x / (1.0f + expf(-x));
	case TFM_ACT_GELU_TANH:
		return 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
	case TFM_ACT_GELU_ERF:
		return 0.5f * x * (1.0f + erff(x * 0.7071067811865476f));
	}
	return x;
}

/* Attention's dropout masks: the mask element of query head h at position
 * t and key position s, for a window of positions 0..len-1, is
 *   i = (h * len + t) * len + s,
 * this plus s: the forward (which passes len = pos + n) and the backward
 * (len = n, pos 0) draw the same masks for the same seed. */
static inline uint64_t att_dropout_row(int h, int len, int t)
{
	return ((uint64_t)h * (uint64_t)len + (uint64_t)t) * (uint64_t)len;
}

/* ---- The kernels of matmul.c, gemm.c and train.c, for kernels.c's table ---------- */

void NAME(matmul)(tfm_pool *pool, float *y, const float *x, const float *w,
                  const float *b, int n, int rows, int cols);
void NAME(matmul_bf16)(tfm_pool *pool, float *y, const float *x, const tfm_bf16 *w,
                       const float *b, int n, int rows, int cols);
void NAME(matmul_q)(tfm_pool *pool, float *y, const float *x, const void *w, int dtype,
                    const float *b, int n, int rows, int cols);
void NAME(matmul_qi8)(tfm_pool *pool, float *y, const float *x, const void *w, int dtype,
                      const float *b, int n, int rows, int cols);

void NAME(gemm)(tfm_pool *pool, int ta, int tb, int m, int n, int k, const float *a, int lda,
                const float *b, int ldb, float *c, int ldc, int accumulate);
void NAME(bias_backward)(float *db, const float *dy, int n, int width);
void NAME(norm_backward)(tfm_pool *pool, float *din, float *dw, float *db, const float *dout,
                         const float *in, const float *w, int rows, int width, float eps);
void NAME(rope)(float *x, int n, int ld, int heads, int head_dim, const float *cos,
                const float *sin, int interleaved, int inverse);
void NAME(attention_backward)(tfm_pool *pool, const tfm_attention_grad *a);
void NAME(attention_window)(tfm_pool *pool, const tfm_attention *a);
void NAME(glu_backward)(float *dgate, float *dup, const float *gate, const float *up,
                        const float *dh, long n, int act);
void NAME(act_backward)(float *dx, const float *x, const float *dh, long n, int act);
void NAME(softcap)(float *x, long n, float c);
void NAME(softcap_backward)(float *dx, const float *y, const float *dy, long n, float c);
void NAME(add)(float *y, const float *a, const float *b, long n);
void NAME(dropout)(float *y, const float *x, long n, float p, uint64_t seed);
void NAME(dropout_backward)(float *dx, const float *dy, long n, float p, uint64_t seed);
double NAME(cross_entropy)(tfm_pool *pool, const float *logits, float *dlogits, const int *targets,
                           int rows, int vocab, float z_loss, float scale);
void NAME(embed_backward)(tfm_pool *pool, float *dE, const float *dx, const int *ids, int n, int d,
                          float scale);
void NAME(adamw)(float *w, const float *g, float *m, float *v, long n, float lr, float beta1,
                 float beta2, float eps, float wd, float bc1, float bc2);
double NAME(sumsq)(const float *x, long n);
void NAME(scale)(float *x, long n, float s);

#endif
