/* matmul_i8.c: the int8 mode's decode (--activations int8), what llama.cpp
 * computes: the token's x rounded to 8 bits, each block of weights times
 * its block of x as an integer dot product, exact in int32, then scaled.
 * Built once per instruction set like the rest of runtime/kernels/
 * (kernels.c's header comment says how); avx2 and avx512 run the same AVX2
 * code, scalar the same integers a byte at a time.
 *
 * x is rounded as llama.cpp rounds it for each weight type:
 *   Q8_0, Q4_0 weights: blocks of 32 as Q8_0 (its AVX2 quantize_row_q8_0):
 *     d = amax / 127 kept as a half, q = x * (127 / amax) rounded to the
 *     nearest integer, ties to even;
 *   Q4_K, Q6_K weights: blocks of 256 as Q8_K (quantize_row_q8_K_ref): with
 *     m the first x of the largest magnitude and s = -127 / m,
 *     q = min(127, round(s x)), d = 1 / s (a float), and the sums of q over
 *     each 16 (bsum).
 * Then y[r] = sum over blocks of d_w d_x sum(q_w q_x), with Q4_0's nibbles
 * taken as q_w + 8 and Q6_K's 6 bits as q_w + 32 (8 or 32 times the sums of
 * q_x taken off in the integers), and Q4_K's (d sc_j) q - (dmin m_j) summed
 * over a super-block in the integers with the 6-bit scales, the mins times
 * the sums of q_x over 32.  That is the dequantized weights times the
 * rounded x, the sums exact and the scaling in float once per block (per
 * super-block for the K types): the logits of a separate, documented mode,
 * not the golden ones (README, Quantized weights).  A batch (n > 1) is
 * matmul_q's, with f32 activations.
 *
 * The AVX2 kernels take one row at a time, as one stream (matmul.c's decode
 * says why), with vpmaddubsw (unsigned bytes times signed ones, pairs summed
 * in int16) and vpmaddwd (pairs of those summed in int32, or times int16
 * scales).  Each format's bytes are turned into unsigned bytes the cheapest
 * way its layout allows: Q4_0 two blocks at a time (the 16 bytes of each
 * side by side, their low and their high nibbles each one vector, against
 * x laid out to match once per token), Q8_0 with the sign moved onto x.
 */
#include "kernels_isa.h"
#include "tfm_internal.h"

#define PF_I8 4096	/* weights prefetched this many bytes ahead */
#define SPLIT 16	/* rows are split over threads in multiples of this */
#define I8_STACK_BYTES 32768	/* x's rounding on the stack when it fits: rows up to about 9800 wide */

/* x rounded for one weight type: what every row's product reads. */
typedef struct i8_act {
	int dtype, cols;
	signed char *q;		/* [cols] the rounded x, in order */
	float *d;		/* [cols / 32] Q8_0's d (a half's value), or [cols / 256] Q8_K's */
	short *bsum;		/* Q8_K: [cols / 16] sums of q over 16 */
	short *bsum32;		/* Q8_K: [cols / 32] sums of q over 32 (Q4_K's mins) */
	/* Q4_0: block pairs (b, b + 1), the last alone when the count is odd,
	 * as the weights' nibbles come (see row_q4_0): */
	signed char *qp;	/* [pairs * 64] b's q 0-15, b+1's 0-15, b's 16-31, b+1's 16-31 */
	float *dp;		/* [pairs * 8] b's d four times, then b+1's */
	short *c;		/* [pairs * 16] 8 times the sum of qp[2l], qp[2l+1], qp[32+2l],
				 * qp[33+2l]: lane l's share of the nibbles' 8s */
} i8_act;

/* The nearest integer to v, ties to even, for |v| < 2^22: GGML's
 * nearest_int, and what the AVX2 rounding gives. */
INLINE float round_even(float v)
{
	return (v + 12582912.0f) - 12582912.0f;
}

/* The largest |x| of n, or NaN when one is NaN or infinite: the block's
 * scale then makes the products NaN, as the f32 mode's would be, and its
 * q are 0 (no NaN is converted to an integer). */
static float amax_of(const float *x, int n)
{
	float amax = 0.0f;

	for (int j = 0; j < n; j++) {
		if (!isfinite(x[j]))
			return NAN;
		amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
	}
	return amax;
}

/* x as Q8_0 blocks of 32 (and, for Q4_0, their pairs). */
static void act_q8_0(const float *x, const float *f16, i8_act *a)
{
	const int nb = a->cols / 32;

	for (int b = 0; b < nb; b++) {
		const float *xb = x + 32 * b, amax = amax_of(xb, 32);
		const float id = amax > 0.0f ? 127.0f / amax : 0.0f;	/* 0 for NaN too */
		a->d[b] = f16[tfm_f32_to_f16(amax / 127.0f)];
		for (int j = 0; j < 32; j++)
			a->q[32 * b + j] = id != 0.0f ? (signed char)(int)round_even(xb[j] * id) : 0;
	}
	if (a->dtype != TFM_Q4_0)
		return;
	for (int p = 0; p < (nb + 1) / 2; p++) {
		const int b = 2 * p, two = b + 1 < nb;
		signed char *qp = a->qp + 64 * p;
		for (int l = 0; l < 16; l++) {
			qp[l] = a->q[32 * b + l];
			qp[16 + l] = two ? a->q[32 * b + 32 + l] : 0;
			qp[32 + l] = a->q[32 * b + 16 + l];
			qp[48 + l] = two ? a->q[32 * b + 48 + l] : 0;
		}
		for (int l = 0; l < 16; l++)
			a->c[16 * p + l] = (short)(8 * (qp[2 * l] + qp[2 * l + 1] + qp[32 + 2 * l] + qp[33 + 2 * l]));
		for (int l = 0; l < 4; l++) {
			a->dp[8 * p + l] = a->d[b];
			a->dp[8 * p + 4 + l] = two ? a->d[b + 1] : 0.0f;
		}
	}
}

/* x as Q8_K blocks of 256. */
static void act_q8_k(const float *x, i8_act *a)
{
	for (int i = 0; i < a->cols / 256; i++) {
		const float *xb = x + 256 * i;
		signed char *q = a->q + 256 * i;
		const float amax = amax_of(xb, 256);
		float max = 0.0f;
		for (int j = 0; j < 256 && amax > 0.0f; j++)
			if (fabsf(xb[j]) == amax) {	/* the first of the largest magnitude */
				max = xb[j];
				break;
			}
		const float s = amax > 0.0f ? -127.0f / max : 0.0f;
		for (int j = 0; j < 256; j++) {
			const int v = s != 0.0f ? (int)round_even(s * xb[j]) : 0;
			q[j] = (signed char)(v < 127 ? v : 127);
		}
		a->d[i] = amax > 0.0f ? 1.0f / s : amax;	/* 0, or NaN */
		for (int g = 0; g < 16; g++) {
			int sum = 0;
			for (int j = 0; j < 16; j++)
				sum += q[16 * g + j];
			a->bsum[16 * i + g] = (short)sum;
		}
		for (int g = 0; g < 8; g++)
			a->bsum32[8 * i + g] = (short)(a->bsum[16 * i + 2 * g] + a->bsum[16 * i + 2 * g + 1]);
	}
}

/* A block's half-precision scale as a float: tfm_f16_table's entry, where
 * a broadcast can read it (a load, no vector instruction). */
INLINE const float *wdp(const float *f16, const unsigned char *p)
{
	unsigned short h;
	memcpy(&h, p, sizeof h);
	return f16 + h;
}

INLINE float wd(const float *f16, const unsigned char *p)
{
	return *wdp(f16, p);
}

#if ISA == ISA_avx2 || ISA == ISA_avx512

INLINE __m256i ld256(const void *p)
{
	return _mm256_loadu_si256((const __m256i *)p);
}

INLINE __m128i ld128(const void *p)
{
	return _mm_loadu_si128((const __m128i *)p);
}

INLINE float hsum8(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

INLINE void prefetch(const unsigned char *w, int bytes)
{
	for (int l = 0; l < bytes; l += 64)
		_mm_prefetch((const char *)w + PF_I8 + l, _MM_HINT_T0);
}

/* Q8_0: 34-byte blocks, a half then 32 signed bytes; |w| times x with w's
 * sign (2 x 128 x 127 < 2^15, w = -128 included: no saturation), two
 * blocks a step. */
static float row_q8_0(const unsigned char *w, const i8_act *a, const float *f16)
{
	const int nb = a->cols / 32;
	const __m256i ones = _mm256_set1_epi16(1);
	__m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
	int b = 0;

#define Q8_0_BLOCK(acc, wb, b_)                                                                        \
	do {                                                                                           \
		const __m256i wv = ld256((wb) + 2), xv = ld256(a->q + 32 * (b_));                     \
		const __m256i p = _mm256_madd_epi16(                                                    \
		    _mm256_maddubs_epi16(_mm256_sign_epi8(wv, wv), _mm256_sign_epi8(xv, wv)), ones);    \
		acc = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(p), _mm256_broadcast_ss(a->d + (b_))), \
		                      _mm256_broadcast_ss(wdp(f16, wb)), acc);                           \
	} while (0)
	for (; b + 2 <= nb; b += 2, w += 68) {
		prefetch(w, 128);
		Q8_0_BLOCK(acc0, w, b);
		Q8_0_BLOCK(acc1, w + 34, b + 1);
	}
	if (b < nb)
		Q8_0_BLOCK(acc0, w, b);
#undef Q8_0_BLOCK
	return hsum8(_mm256_add_ps(acc0, acc1));
}

/* Q4_0: 18-byte blocks, a half then 16 bytes of nibbles (low: q 0-15,
 * high: 16-31), each q + 8.  Two blocks' 16 bytes side by side make one
 * vector of low nibbles and one of high ones, against x's pairs (qp): no
 * shuffle, and 8 sum(q_x) off lane by lane (c) before the int32 sum. */
static float row_q4_0(const unsigned char *w, const i8_act *a, const float *f16)
{
	const int nb = a->cols / 32;
	const __m256i m4 = _mm256_set1_epi8(0xf), ones = _mm256_set1_epi16(1);
	__m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
	int p = 0;

#define Q4_0_PAIR(acc, wv, p_, d0, d1)                                                                   \
	do {                                                                                         \
		const __m256i lo = _mm256_and_si256(wv, m4);                                         \
		const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(wv, 4), m4);                   \
		const signed char *xp = a->qp + 64 * (p_);                                           \
		const __m256i s = _mm256_sub_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(lo, ld256(xp)), \
		                                                    _mm256_maddubs_epi16(hi, ld256(xp + 32))), \
		                                   ld256(a->c + 16 * (p_)));                         \
		const __m256 dw = _mm256_blend_ps(_mm256_broadcast_ss(d0), _mm256_broadcast_ss(d1), 0xf0); \
		acc = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(s, ones)),  \
		                                    _mm256_loadu_ps(a->dp + 8 * (p_))), dw, acc);        \
	} while (0)
	for (; p + 2 <= nb / 2; p += 2, w += 72) {
		prefetch(w, 128);
		const __m256i v0 = _mm256_inserti128_si256(_mm256_castsi128_si256(ld128(w + 2)), ld128(w + 20), 1);
		const __m256i v1 = _mm256_inserti128_si256(_mm256_castsi128_si256(ld128(w + 38)), ld128(w + 56), 1);
		Q4_0_PAIR(acc0, v0, p, wdp(f16, w), wdp(f16, w + 18));
		Q4_0_PAIR(acc1, v1, p + 1, wdp(f16, w + 36), wdp(f16, w + 54));
	}
	for (; p < nb / 2; p++, w += 36) {
		const __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(ld128(w + 2)), ld128(w + 20), 1);
		Q4_0_PAIR(acc0, v, p, wdp(f16, w), wdp(f16, w + 18));
	}
	if (nb & 1) {	/* the last block alone: the other half's x is zeros */
		const __m256i v = _mm256_zextsi128_si256(ld128(w + 2));
		Q4_0_PAIR(acc0, v, p, wdp(f16, w), wdp(f16, w));
	}
#undef Q4_0_PAIR
	return hsum8(_mm256_add_ps(acc0, acc1));
}

/* Pairs of bytes (int16 lanes) that pick scale j of eight int16 for every
 * lane: k4_pick[j] as a vpshufb control. */
static const unsigned char k4_pick[8][32] __attribute__((aligned(32))) = {
#define PICK(j) { 2 * (j), 2 * (j) + 1, 2 * (j), 2 * (j) + 1, 2 * (j), 2 * (j) + 1, 2 * (j), 2 * (j) + 1, \
		  2 * (j), 2 * (j) + 1, 2 * (j), 2 * (j) + 1, 2 * (j), 2 * (j) + 1, 2 * (j), 2 * (j) + 1, \
		  2 * (j), 2 * (j) + 1, 2 * (j), 2 * (j) + 1, 2 * (j), 2 * (j) + 1, 2 * (j), 2 * (j) + 1, \
		  2 * (j), 2 * (j) + 1, 2 * (j), 2 * (j) + 1, 2 * (j), 2 * (j) + 1, 2 * (j), 2 * (j) + 1 }
	PICK(0), PICK(1), PICK(2), PICK(3), PICK(4), PICK(5), PICK(6), PICK(7)
#undef PICK
};

/* Q6_K's pair picks: for 32 weights of groups 2n and 2n + 1 (of 16),
 * scale 2n in the low lane's int16s, 2n + 1 in the high lane's. */
static const unsigned char k6_pick[4][32] __attribute__((aligned(32))) = {
#define PICK2(n) { 4 * (n), 4 * (n) + 1, 4 * (n), 4 * (n) + 1, 4 * (n), 4 * (n) + 1, 4 * (n), 4 * (n) + 1, \
		   4 * (n), 4 * (n) + 1, 4 * (n), 4 * (n) + 1, 4 * (n), 4 * (n) + 1, 4 * (n), 4 * (n) + 1, \
		   4 * (n) + 2, 4 * (n) + 3, 4 * (n) + 2, 4 * (n) + 3, 4 * (n) + 2, 4 * (n) + 3, 4 * (n) + 2, 4 * (n) + 3, \
		   4 * (n) + 2, 4 * (n) + 3, 4 * (n) + 2, 4 * (n) + 3, 4 * (n) + 2, 4 * (n) + 3, 4 * (n) + 2, 4 * (n) + 3 }
	PICK2(0), PICK2(1), PICK2(2), PICK2(3)
#undef PICK2
};

/* Q4_K: 144-byte super-blocks of 256: d and dmin (halves), 12 bytes of
 * 6-bit scales and mins, 128 bytes of nibbles (32 bytes: sub-block 2j in
 * the low nibbles, 2j + 1 in the high).  The products of a super-block are
 * summed in int32 with its scales (vpmaddwd by the scale), the mins times
 * the sums of q_x over 32 apart. */
static float row_q4_k(const unsigned char *w, const i8_act *a, const float *f16)
{
	const __m256i m4 = _mm256_set1_epi8(0xf);
	__m256 acc = _mm256_setzero_ps();
	__m128 accm = _mm_setzero_ps();

	for (int i = 0; i < a->cols / 256; i++, w += 144) {
		prefetch(w, 192);
		const float d = wd(f16, w) * a->d[i], dmin = wd(f16, w + 2) * a->d[i];
		uint32_t u[4];
		tfm_q4k_scales(w + 4, u);
		const __m256i sm = _mm256_cvtepu8_epi16(_mm_set_epi32((int)u[3], (int)u[2], (int)u[1], (int)u[0]));
		const __m128i mins = _mm_madd_epi16(_mm256_extracti128_si256(sm, 1), ld128(a->bsum32 + 8 * i));
		accm = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(mins), accm);
		const __m256i sc = _mm256_broadcastsi128_si256(_mm256_castsi256_si128(sm));
		const signed char *x = a->q + 256 * i;
		__m256i sum = _mm256_setzero_si256();
#pragma GCC unroll 4
		for (int j = 0; j < 4; j++) {
			const __m256i q = ld256(w + 16 + 32 * j);
			const __m256i lo = _mm256_maddubs_epi16(_mm256_and_si256(q, m4), ld256(x + 64 * j));
			const __m256i hi = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), ld256(x + 64 * j + 32));
			sum = _mm256_add_epi32(sum, _mm256_add_epi32(
			    _mm256_madd_epi16(lo, _mm256_shuffle_epi8(sc, ld256(k4_pick[2 * j]))),
			    _mm256_madd_epi16(hi, _mm256_shuffle_epi8(sc, ld256(k4_pick[2 * j + 1])))));
		}
		acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sum), acc);
	}
	__m128 m = _mm_add_ps(accm, _mm_movehl_ps(accm, accm));
	m = _mm_add_ss(m, _mm_movehdup_ps(m));
	return hsum8(acc) - _mm_cvtss_f32(m);
}

/* Q6_K: 210-byte super-blocks of 256: 128 bytes of low nibbles, 64 of high
 * 2-bit pairs, 16 signed 8-bit scales (one per 16), d (a half).  Per half of
 * 128, byte l of ql (64) and qh (32) hold weights l, l + 32, l + 64 and
 * l + 96 (each q + 32, 0..63: 2 x 63 x 127 < 2^15); 32 times the scaled
 * sums of q_x over 16 are taken off at the start. */
static float row_q6_k(const unsigned char *w, const i8_act *a, const float *f16)
{
	const __m256i m4 = _mm256_set1_epi8(0xf), m3 = _mm256_set1_epi8(3);
	const __m256i m12 = _mm256_set1_epi8(12), m48 = _mm256_set1_epi8(48);
	__m256 acc = _mm256_setzero_ps();

	for (int i = 0; i < a->cols / 256; i++, w += 210) {
		prefetch(w, 256);
		const float d = wd(f16, w + 208) * a->d[i];
		const __m256i sc = _mm256_cvtepi8_epi16(ld128(w + 192));
		const signed char *x = a->q + 256 * i;
		__m256i sum = _mm256_sub_epi32(_mm256_setzero_si256(),
		                               _mm256_slli_epi32(_mm256_madd_epi16(sc, ld256(a->bsum + 16 * i)), 5));
#pragma GCC unroll 2
		for (int h = 0; h < 2; h++) {
			const __m256i l0 = ld256(w + 64 * h), l1 = ld256(w + 64 * h + 32), hb = ld256(w + 128 + 32 * h);
			const __m256i s = h ? _mm256_permute2x128_si256(sc, sc, 0x11) : _mm256_permute2x128_si256(sc, sc, 0x00);
			const __m256i q[4] = {
				_mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hb, m3), 4)),
				_mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(hb, m12), 2)),
				_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(hb, m48)),
				_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
				                _mm256_and_si256(_mm256_srli_epi16(hb, 2), m48)),
			};
#pragma GCC unroll 4
			for (int n = 0; n < 4; n++)
				sum = _mm256_add_epi32(sum, _mm256_madd_epi16(
				    _mm256_maddubs_epi16(q[n], ld256(x + 128 * h + 32 * n)),
				    _mm256_shuffle_epi8(s, ld256(k6_pick[n]))));
		}
		acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sum), acc);
	}
	return hsum8(acc);
}

#else

/* The baseline: the same integer sums a byte at a time, scaled the same way
 * per block (the order of the float sums differs). */
static float row_q8_0(const unsigned char *w, const i8_act *a, const float *f16)
{
	float acc = 0.0f;

	for (int b = 0; b < a->cols / 32; b++, w += 34) {
		int s = 0;
		for (int j = 0; j < 32; j++)
			s += (signed char)w[2 + j] * a->q[32 * b + j];
		acc += (float)s * a->d[b] * wd(f16, w);
	}
	return acc;
}

static float row_q4_0(const unsigned char *w, const i8_act *a, const float *f16)
{
	float acc = 0.0f;

	for (int b = 0; b < a->cols / 32; b++, w += 18) {
		const signed char *x = a->q + 32 * b;
		int s = 0;
		for (int j = 0; j < 16; j++)
			s += ((w[2 + j] & 0xf) - 8) * x[j] + ((w[2 + j] >> 4) - 8) * x[16 + j];
		acc += (float)s * a->d[b] * wd(f16, w);
	}
	return acc;
}

static float row_q4_k(const unsigned char *w, const i8_act *a, const float *f16)
{
	float acc = 0.0f;

	for (int i = 0; i < a->cols / 256; i++, w += 144) {
		const signed char *x = a->q + 256 * i;
		uint32_t u[4];
		unsigned char sm[16];
		int sum = 0, mins = 0;
		tfm_q4k_scales(w + 4, u);
		memcpy(sm, u, 16);
		for (int j = 0; j < 8; j++) {
			int s = 0;
			for (int l = 0; l < 32; l++) {
				const unsigned char byte = w[16 + 32 * (j / 2) + l];
				s += (j & 1 ? byte >> 4 : byte & 0xf) * x[32 * j + l];
			}
			sum += sm[j] * s;
			mins += sm[8 + j] * a->bsum32[8 * i + j];
		}
		acc += wd(f16, w) * a->d[i] * (float)sum - wd(f16, w + 2) * a->d[i] * (float)mins;
	}
	return acc;
}

static float row_q6_k(const unsigned char *w, const i8_act *a, const float *f16)
{
	float acc = 0.0f;

	for (int i = 0; i < a->cols / 256; i++, w += 210) {
		const signed char *x = a->q + 256 * i, *sc = (const signed char *)(w + 192);
		int sum = 0;
		for (int h = 0; h < 2; h++)
			for (int l = 0; l < 32; l++) {
				const unsigned char lo = w[64 * h + l], hi = w[64 * h + 32 + l], top = w[128 + 32 * h + l];
				const int q[4] = { (lo & 0xf) | (top & 3) << 4, (hi & 0xf) | ((top >> 2) & 3) << 4,
				                   (lo >> 4) | ((top >> 4) & 3) << 4, (hi >> 4) | ((top >> 6) & 3) << 4 };
				for (int n = 0; n < 4; n++)
					sum += sc[8 * h + 2 * n + l / 16] * (q[n] - 32) * x[128 * h + 32 * n + l];
			}
		acc += wd(f16, w + 208) * a->d[i] * (float)sum;
	}
	return acc;
}

#endif

typedef struct i8_job {
	float *y;
	const unsigned char *w;
	const float *b;
	const i8_act *a;
	const float *f16;
	int rows;
	size_t row_bytes;
} i8_job;

static void i8_part(void *ctx, int i, int nt)
{
	const i8_job *j = ctx;
	const int blocks = (j->rows + SPLIT - 1) / SPLIT;
	const int r0 = (int)((long)blocks * i / nt) * SPLIT;
	int r1 = (int)((long)blocks * (i + 1) / nt) * SPLIT;

	if (r1 > j->rows)
		r1 = j->rows;
	for (int r = r0; r < r1; r++) {
		const unsigned char *w = j->w + (size_t)r * j->row_bytes;
		float s;
		switch (j->a->dtype) {
		case TFM_Q8_0:
			s = row_q8_0(w, j->a, j->f16);
			break;
		case TFM_Q4_0:
			s = row_q4_0(w, j->a, j->f16);
			break;
		case TFM_Q4_K:
			s = row_q4_k(w, j->a, j->f16);
			break;
		default:
			s = row_q6_k(w, j->a, j->f16);
		}
		j->y[r] = (j->b ? j->b[r] : 0.0f) + s;
	}
}

/* Lays x's rounding out in buf (its first 32-byte boundary on), and
 * returns the bytes it takes from there; with a NULL, only the bytes.  In
 * order: dp, d, c, bsum, bsum32, q (cols bytes) and qp (a pair's 64 bytes
 * each, 32 more than q when the count of blocks is odd). */
static size_t i8_act_layout(i8_act *a, void *buf, int dtype, int cols)
{
	const size_t pairs = ((size_t)cols / 32 + 1) / 2;
	const size_t size[7] = { pairs * 8 * sizeof(float), (size_t)cols / 32 * sizeof(float),
	                         pairs * 16 * sizeof(short), (size_t)cols / 16 * sizeof(short),
	                         (size_t)cols / 32 * sizeof(short), (size_t)cols, pairs * 64 };
	size_t at[7], total = 0;

	for (int i = 0; i < 7; i++) {
		at[i] = total;
		total += size[i];
	}
	if (a) {
		char *p = (char *)(((uintptr_t)buf + 31) & ~(uintptr_t)31);
		a->dtype = dtype;
		a->cols = cols;
		a->dp = (float *)(p + at[0]);
		a->d = (float *)(p + at[1]);
		a->c = (short *)(p + at[2]);
		a->bsum = (short *)(p + at[3]);
		a->bsum32 = (short *)(p + at[4]);
		a->q = (signed char *)(p + at[5]);
		a->qp = (signed char *)(p + at[6]);
	}
	return total;
}

void NAME(matmul_qi8)(tfm_pool *pool, float *y, const float *x, const void *w, int dtype,
                      const float *b, int n, int rows, int cols)
{
	const int k_type = dtype == TFM_Q4_K || dtype == TFM_Q6_K;
	unsigned char small[I8_STACK_BYTES] __attribute__((aligned(32)));
	i8_act a;

	if (n != 1 || rows <= 0 || cols <= 0 || cols % (k_type ? 256 : 32) != 0
	    || (dtype != TFM_Q8_0 && dtype != TFM_Q4_0 && !k_type)) {
		NAME(matmul_q)(pool, y, x, w, dtype, b, n, rows, cols);
		return;
	}
	const size_t need = i8_act_layout(NULL, NULL, dtype, cols) + 31;
	void *buf = need <= sizeof small ? small : tfm_alloc(need);
	if (!buf) {	/* no room to round x: the f32 mode */
		NAME(matmul_q)(pool, y, x, w, dtype, b, n, rows, cols);
		return;
	}
	i8_act_layout(&a, buf, dtype, cols);
	const float *f16 = tfm_f16_table();
	if (k_type)
		act_q8_k(x, &a);
	else
		act_q8_0(x, f16, &a);
	i8_job j = { y, w, b, &a, f16, rows, tfm_dtype_row_bytes(dtype, (size_t)cols) };
	tfm_pool_run(pool, i8_part, &j);
	if (buf != small)
		tfm_free(buf);
}
