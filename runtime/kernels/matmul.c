/* matmul.c: the matrix products of inference, y = x w^T (+ b), with weights
 * in f32, bfloat16 or one of GGML's quantized formats; built once per
 * instruction set like the rest of runtime/kernels/ (kernels.c's header
 * comment says how).
 *
 * Decode (n = 1) is a stream of weights that must run at memory bandwidth:
 * a row at a time, four accumulators, one sequential stream (mm_row).
 * Prefill (n > 1) is a register-tiled product: a tile of MR rows x NR tokens
 * kept in MR * NR accumulators over a chunk of at most KC columns, so each
 * weight load feeds NR tokens and each token load MR rows.  The tokens'
 * chunk is packed tile by tile into one sequential stream; the rows' chunk
 * of a tile stays in L1 while every token tile passes, and a panel of MC
 * rows stays in L2 while blocks of TB tokens pass.
 *
 * Weights come as floats or as bfloat16 (matmul_bf16), widened to floats
 * as they are loaded (a shift: exact), so the arithmetic is the same; the
 * flag BF is a constant wherever the kernels are inlined.  Quantized
 * weights (matmul_q) are widened block by block (the section below).
 *
 * In a prefill every output y[t, r] is computed the same way whatever the
 * tile or the thread: per chunk of columns (split as mm_chunk says),
 * lane-wise fused products in column order, one reduction tree (reduce4),
 * then added to the bias (or 0) and the chunks before it.  Decode sums a
 * row in four interleaved parts (mm_row).  Neither depends on the thread
 * count; a token decoded alone agrees with the same token in a prefill to
 * rounding (it used to agree to the bit, with eight rows read at once, one
 * accumulator each: half the speed in bf16).
 */
#include "kernels_isa.h"
#include "tfm_internal.h"

/* ---- The matrix products' numbers ---------------------------------------------- */

/* MR x NR: the prefill tile, MR * NR accumulators plus NR token vectors and
 * a weight vector in the registers.  KC: the most columns per chunk, so that
 * a tile's MR rows of a chunk (MR * KC floats) sit in half of a 32 KB L1. */
#if ISA == ISA_avx512
#define MR 8
#define NR 3
#define KC 512
#elif ISA == ISA_avx2
#define MR 4
#define NR 3
#define KC 1024
#else
#define MR 4
#define NR 2		/* no FMA: a product needs a register too */
#define KC 1024
#endif

#define MC 64		/* rows per panel: MC * KC floats stay in L2 */
#define TB (32 * NR)	/* tokens per block that a tile of rows meets */
#define PF_BF16 1024	/* decode: bf16 weights prefetched this many bytes ahead */
#define TR 8		/* the most rows of any tile: MR <= TR, a multiple of 4 */
#define SPLIT 16	/* rows are split over threads in multiples of this (a cache line of y) */

/* Weights: w + i as floats, or as bfloat16 widened to floats when bf. */
typedef unsigned short vh_u __attribute__((vector_size(VL * 2), aligned(2), may_alias));
typedef int vi __attribute__((vector_size(VL * 4)));

INLINE vf wload(const void *w, const int bf, size_t i)
{
	if (bf)
		return (vf)(__builtin_convertvector(*(const vh_u *)((const tfm_bf16 *)w + i), vi) << 16);
	return vload((const float *)w + i);
}

/* The first m (0 < m < VL) weights at w + i, the other lanes 0. */
INLINE vf wload_part(const void *w, const int bf, size_t i, int m)
{
	if (bf) {
		tfm_bf16 h[VL] = { 0 };
		memcpy(h, (const tfm_bf16 *)w + i, sizeof h[0] * (size_t)m);
		return wload(h, 1, 0);
	}
	return vload_part((const float *)w + i, m);
}

/* ---- Matrix products ------------------------------------------------------- */

typedef struct matmul_job {
	float *y;		/* [n, rows] */
	const float *x;		/* [n, cols] */
	const void *w;		/* [rows, cols], float or (bf16 set) tfm_bf16 */
	const float *b;		/* [rows] or NULL */
	int n, rows, cols;
	int bf16;
	int dtype;		/* TFM_F32, TFM_BF16 or a quantized TFM_Q type */
	int wrow0;		/* the row of y that w's first row is (a dequantized panel's) */
	const float *xsum;	/* decode with Q4_K (and Q4_0 in AVX2): the sums of x over each 32 columns */
	const float *f16;	/* quantized: tfm_f16_table */
} matmul_job;

/* One tile, R <= TR rows x T <= NR tokens, over kl columns of a chunk:
 * y[t, r] = (first ? b[r] or 0 : y[t, r]) + w[r, chunk] . x[t, chunk].
 * w, x and y point at the tile's first row, token and column.  The vector
 * of token j at column k is at x + j * xj + k / VL * xs: xj = the row
 * length and xs = VL for x as the caller laid it out, xj = VL and
 * xs = NR * VL for a packed block (mm_pack).  w is floats, or bfloat16 when
 * BF is set.  When pf is not NULL, the R * kl weights there are prefetched
 * into L2 at the pace of the loop.  R, T and BF are constants where this is
 * inlined, so acc lives in registers. */
INLINE void mm_tile(const int R, const int T, const int BF, float *y, const float *x,
                    const void *w, const float *b, int ldy, size_t xj, size_t xs, int ldw, int kl,
                    int first, const void *pf)
{
	const int es = BF ? 2 : 4;	/* bytes per weight */
	vf acc[TR][NR];
	int k;

#pragma GCC unroll 8
	for (int i = 0; i < TR; i++)
#pragma GCC unroll 8
		for (int j = 0; j < NR; j++)
			acc[i][j] = (vf){ 0 };
	for (k = 0; k + VL <= kl; k += VL, x += xs) {
		vf xv[NR];
		if (pf)
#pragma GCC unroll 8
			for (int l = 0; l < R * VL * es; l += 64)
				__builtin_prefetch((const char *)pf + (size_t)k * R * es + l, 0, 2);
#pragma GCC unroll 8
		for (int j = 0; j < T; j++)
			xv[j] = vload(x + j * xj);
#pragma GCC unroll 8
		for (int i = 0; i < R; i++) {
			vf wv = wload(w, BF, (size_t)i * ldw + k);
#pragma GCC unroll 8
			for (int j = 0; j < T; j++)
				acc[i][j] = vfma(wv, xv[j], acc[i][j]);
		}
	}
	if (k < kl) {
		vf xv[NR];
#pragma GCC unroll 8
		for (int j = 0; j < T; j++)
			xv[j] = vload_part(x + j * xj, kl - k);
#pragma GCC unroll 8
		for (int i = 0; i < R; i++) {
			vf wv = wload_part(w, BF, (size_t)i * ldw + k, kl - k);
#pragma GCC unroll 8
			for (int j = 0; j < T; j++)
				acc[i][j] = vfma(wv, xv[j], acc[i][j]);
		}
	}
#pragma GCC unroll 8
	for (int j = 0; j < T; j++) {
		float *yt = y + (size_t)j * ldy;
#pragma GCC unroll 8
		for (int i0 = 0; i0 < R; i0 += 4) {
			/* rows R.. of the group are zeros: exact */
			v4 s = reduce4(acc[i0][j], acc[i0 + 1][j], acc[i0 + 2][j], acc[i0 + 3][j]);
#pragma GCC unroll 4
			for (int i = 0; i < 4; i++)
				if (i0 + i < R)
					yt[i0 + i] = (first ? (b ? b[i0 + i] : 0.0f) : yt[i0 + i]) + s[i];
		}
	}
}

/* The columns per chunk for rows of `cols`: at most KC, as even as the
 * vectors allow, so no chunk is a short remainder.  A function of cols
 * alone, so every path splits a row the same way. */
static int mm_chunk(int cols)
{
	const int chunks = (cols + KC - 1) / KC;
	const int kc = (cols + chunks - 1) / chunks;

	return (kc + VL - 1) / VL * VL;
}

/* Copies tokens 0..tb-1 of x (rows of ldx floats), columns 0..kl-1, into
 * xp tile by tile: tile q holds tokens q*NR.., and for each VL columns the
 * NR tokens' vectors one after another, so the tile kernel reads one
 * sequential stream, whatever the caller's row length (a power of two
 * would make every row fall into the same L1 set).  The last partial
 * vector is padded with zeros. */
static void mm_pack(float *xp, const float *x, int tb, int kl, int ldx)
{
	const int steps = (kl + VL - 1) / VL;

	for (int t = 0; t < tb; t++) {
		const float *xt = x + (size_t)t * ldx;
		float *p = xp + ((size_t)(t / NR) * steps * NR + t % NR) * VL;
		int k = 0;

		for (; k + VL <= kl; k += VL, p += NR * VL)
			vstore(p, vload(xt + k));
		if (k < kl)
			vstore(p, vload_part(xt + k, kl - k));
	}
}

/* y[0..len-1] = (first ? b or 0 : y) + s */
static void mm_merge(float *y, const float *s, const float *b, int len, int first)
{
	int r = 0;

	if (!first)
		for (; r + VL <= len; r += VL)
			vstore(y + r, vload(y + r) + vload(s + r));
	else if (b)
		for (; r + VL <= len; r += VL)
			vstore(y + r, vload(b + r) + vload(s + r));
	for (; r < len; r++)
		y[r] = (first ? (b ? b[r] : 0.0f) : y[r]) + s[r];
}

/* Prefill: rows r0..r1-1 of every token.  xp holds the packed tokens:
 * all n of a chunk when all is set, [n rounded up to NR, KC], else tbmax
 * (a multiple of NR) at a time, [tbmax, KC]; ys, [tbmax, MC], stages sums.
 * For each chunk of columns and panel of MC rows (whose chunk stays in L2
 * meanwhile), each tile of MR rows (in L1, the next one prefetched) meets
 * every tile of NR tokens of a block of tbmax.  The tiles write their sums
 * to ys and the block is added to y at once: y's rows can be a power of
 * two apart, and then a tile's rows of y all fall into one L1 set.  BF:
 * the weights are bfloat16 (m->bf16), a constant where this is inlined. */
INLINE void mm_rows_batch(const int BF, const matmul_job *m, int r0, int r1, float *xp, float *ys,
                          int tbmax, int all)
{
	const int n = m->n, cols = m->cols, rows = m->rows, kc = mm_chunk(cols);
	const size_t es = BF ? 2 : 4;	/* bytes per weight */

	for (int k0 = 0; k0 < cols; k0 += kc) {
		const int kl = cols - k0 < kc ? cols - k0 : kc;
		const int lines = (int)((kl * es + 63) / 64);	/* cache lines of a row's chunk */
		const size_t tile = (size_t)(kl + VL - 1) / VL * NR * VL; /* floats per packed tile */
		if (all)
			mm_pack(xp, m->x + k0, n, kl, cols);
		for (int p0 = r0; p0 < r1; p0 += MC) {
			const int pl = r1 - p0 < MC ? r1 - p0 : MC;
			for (int t0 = 0; t0 < n; t0 += tbmax) {
				const int tb = n - t0 < tbmax ? n - t0 : tbmax;
				const int nq = (tb + NR - 1) / NR;
				const float *xb = all ? xp + (size_t)(t0 / NR) * tile : xp;
				if (!all)
					mm_pack(xp, m->x + (size_t)t0 * cols + k0, tb, kl, cols);
				for (int r = 0; r < pl; r += MR) {
					const char *w = (const char *)m->w + ((size_t)(p0 + r - m->wrow0) * cols + k0) * es;
					const int R = pl - r < MR ? pl - r : MR;
					for (int q = 0; q < nq; q++) {
						const float *x = xb + (size_t)q * tile;
						float *y = ys + (size_t)q * NR * MC + r;
						const int T = tb - q * NR < NR ? tb - q * NR : NR;

						/* the next tile of rows into L2, a share per token tile */
						for (int i = MR; i < 2 * MR && r + i < pl; i++)
							for (int l = q * lines / nq; l < (q + 1) * lines / nq; l++)
								__builtin_prefetch(w + (size_t)i * cols * es + l * 64, 0, 2);

/* A switch over every (R, T): each case is its own unrolled tile. */
#define TILE(R_, T_) case (R_) * 16 + (T_): \
	mm_tile(R_, T_, BF, y, x, w, NULL, MC, VL, NR * VL, cols, kl, 1, NULL); break;
#define TILES_T(R_) TILE(R_, 1) TILE(R_, 2) TILES_T3(R_)
#if NR == 3
#define TILES_T3(R_) TILE(R_, 3)
#else
#define TILES_T3(R_)
#endif
						switch (R * 16 + T) {
						TILES_T(1) TILES_T(2) TILES_T(3) TILES_T(4)
#if MR == 8
						TILES_T(5) TILES_T(6) TILES_T(7) TILES_T(8)
#endif
						}
					}
				}
				for (int t = 0; t < tb; t++)
					mm_merge(m->y + (size_t)(t0 + t) * rows + p0, ys + (size_t)t * MC,
					         m->b ? m->b + p0 : NULL, pl, k0 == 0);
			}
		}
	}
}

/* One row of w (floats, or bfloat16 when BF) times x over cols: four
 * accumulators over lanes k, k + VL, k + 2 VL, k + 3 VL keep the FMAs
 * independent, summed (a0 + a1) + (a2 + a3).  bf16 weights are prefetched
 * PF_BF16 bytes ahead. */
INLINE vf mm_row(const int BF, const void *w, const float *x, int cols)
{
	const int es = BF ? 2 : 4;	/* bytes per weight */
	vf a0 = { 0 }, a1 = { 0 }, a2 = { 0 }, a3 = { 0 };
	int k = 0;

	for (; k + 4 * VL <= cols; k += 4 * VL) {
		if (BF)
#pragma GCC unroll 4
			for (int l = 0; l < 4 * VL * es; l += 64)
				__builtin_prefetch((const char *)w + (size_t)k * es + PF_BF16 + l, 0, 3);
		a0 = vfma(wload(w, BF, (size_t)k), vload(x + k), a0);
		a1 = vfma(wload(w, BF, (size_t)k + VL), vload(x + k + VL), a1);
		a2 = vfma(wload(w, BF, (size_t)k + 2 * VL), vload(x + k + 2 * VL), a2);
		a3 = vfma(wload(w, BF, (size_t)k + 3 * VL), vload(x + k + 3 * VL), a3);
	}
	for (; k + VL <= cols; k += VL)
		a0 = vfma(wload(w, BF, (size_t)k), vload(x + k), a0);
	if (k < cols)
		a0 = vfma(wload_part(w, BF, (size_t)k, cols - k), vload_part(x + k, cols - k), a0);
	return (a0 + a1) + (a2 + a3);
}

/* Decode: y[r] for rows r0..r1-1 of a single token, one row after another,
 * so that w is one sequential stream the hardware prefetchers follow
 * (several rows interleaved ran slower on an EPYC, bf16 by 40%), four rows
 * to a reduction.  A token decoded alone is thus summed in another order
 * than in a prefill tile: the two agree to rounding, not to the bit. */
INLINE void mm_rows_single(const int BF, const matmul_job *m, int r0, int r1)
{
	const int cols = m->cols;
	const size_t es = BF ? 2 : 4;	/* bytes per weight */

	for (int r = r0; r < r1; r += 4) {
		const int R = r1 - r < 4 ? r1 - r : 4;
		vf s[4] = { { 0 }, { 0 }, { 0 }, { 0 } };

		for (int i = 0; i < R; i++)
			s[i] = mm_row(BF, (const char *)m->w + (size_t)(r + i) * cols * es, m->x, cols);
		v4 sum = reduce4(s[0], s[1], s[2], s[3]);
		for (int i = 0; i < R; i++)
			m->y[r + i] = (m->b ? m->b[r + i] : 0.0f) + sum[i];
	}
}

/* Rows r0..r1-1 of every token, weights bfloat16 when BF.  For prefill,
 * the tokens are packed once per chunk into space from the heap (too big
 * for a thread's stack), or if that fails, a few at a time on the stack. */
INLINE void mm_rows(const int BF, const matmul_job *m, int r0, int r1)
{
	const size_t packed = (size_t)(m->n + NR - 1) / NR * NR * KC;
	float *buf;

	if (m->n == 1) {
		mm_rows_single(BF, m, r0, r1);
		return;
	}
	buf = tfm_alloc(sizeof(float) * (packed + TB * MC));
	if (buf) {
		mm_rows_batch(BF, m, r0, r1, buf, buf + packed, TB, 1);
		tfm_free(buf);
	} else {
		float small[NR * (KC + MC)] __attribute__((aligned(64)));
		mm_rows_batch(BF, m, r0, r1, small, small + NR * KC, NR, 0);
	}
}

/* ---- Quantized weights ----------------------------------------------------------
 *
 * GGML's blocks (runtime/formats/quant.c says how each lays out a row).
 * The products are of the f32 model on the dequantized weights: each
 * weight is widened to a float as GGML's dequantize_row_* computes it, or
 * the block's scales are applied to sums of q x instead (d sum(q x) for
 * d q), which differs from the first only by the rounding of the sums.
 * Decode reads a row's blocks once, in order, one stream.  Prefill
 * dequantizes a panel of rows into floats (a few hundred KB, in L2) and
 * runs the float tiles over it, so the widening is paid once for every
 * token of the batch. */

/* Decode prefetches quantized weights this many bytes ahead (as bf16's
 * PF_BF16): without it, a row's first load of each line waits on memory. */
#define PF_Q 4096

/* Rows up to this many columns keep Q4_K's sums of x on the caller's
 * stack (2 KB). */
#define MQ_STACK_COLS 16384

typedef unsigned char vb16 __attribute__((vector_size(16)));
typedef signed char vsb16 __attribute__((vector_size(16)));
typedef unsigned char vb16_u __attribute__((vector_size(16), aligned(1), may_alias));

/* GGML's half-precision scales, exactly: tfm_f16_table's entry (a load,
 * and the broadcast of it another, where converting would take two vector
 * instructions per block). */
INLINE float qf16(const float *f16, const unsigned char *p)
{
	return f16[p[0] | p[1] << 8];
}

INLINE vb16 load16(const unsigned char *p)
{
	return *(const vb16_u *)p;
}

/* 16 bytes as 16 floats, signed or unsigned, in 16 / VL vectors: one
 * widening instruction per vector (GCC turns a generic conversion of byte
 * vectors into a byte at a time). */
INLINE void widen_s8(vb16 v, vf *out)
{
#if ISA == ISA_avx512
	out[0] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32((__m128i)v));
#elif ISA == ISA_avx2
	out[0] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32((__m128i)v));
	out[1] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128((__m128i)v, 8)));
#else
	const vsb16 sv = (vsb16)v;
	for (int j = 0; j < 16 / VL; j++)
		for (int i = 0; i < VL; i++)
			out[j][i] = (float)sv[VL * j + i];
#endif
}

INLINE void widen_u8(vb16 v, vf *out)
{
#if ISA == ISA_avx512
	out[0] = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32((__m128i)v));
#elif ISA == ISA_avx2
	out[0] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32((__m128i)v));
	out[1] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128((__m128i)v, 8)));
#else
	for (int j = 0; j < 16 / VL; j++)
		for (int i = 0; i < VL; i++)
			out[j][i] = (float)v[VL * j + i];
#endif
}

/* The sum of a vector's lanes. */
INLINE float vsum(vf a)
{
	const vf z = { 0 };
	return reduce4(a, z, z, z)[0];
}

/* q[0..15] . x[0..15] lane-wise, added to acc (or, first, the products alone). */
INLINE vf fma16(const vf *q, const float *x, vf acc, int first)
{
	vf s = first ? q[0] * vload(x) : vfma(q[0], vload(x), acc);
#pragma GCC unroll 4
	for (int j = 1; j < 16 / VL; j++)
		s = vfma(q[j], vload(x + VL * j), s);
	return s;
}

/* w . x over one row of cols weights of each type.  A block's (or a
 * sub-block's) q . x is summed lane-wise in one register, then scaled into
 * one of four accumulators (two blocks at a time), so that consecutive
 * blocks do not wait on each other; the scales come from f16. */
#if ISA == ISA_avx2
/* 8 bytes at p as 8 int32 lanes, signed or not: one widening load. */
INLINE __m256i wide8(const unsigned char *p, int sign)
{
	const __m128i v = _mm_loadl_epi64((const __m128i *)p);
	return sign ? _mm256_cvtepi8_epi32(v) : _mm256_cvtepu8_epi32(v);
}
#endif

/* One block of 32 of Q8_0 (Q8 set: int8 q) or Q4_0 (nibbles, q - 8).
 * AVX2 widens 8 bytes straight from memory (Q4_0: both nibbles of them,
 * weights l and l + 16), in two partial sums. */
INLINE void q32_block(const int Q8, const unsigned char *w, const float *x, const float *xsum, int blk,
                      const float *f16, vf *acc)
{
#if ISA == ISA_avx2
	vf s0, s1;
	if (Q8) {
		s0 = _mm256_cvtepi32_ps(wide8(w + 2, 1)) * vload(x);
		s1 = _mm256_cvtepi32_ps(wide8(w + 10, 1)) * vload(x + 8);
		s0 = vfma(_mm256_cvtepi32_ps(wide8(w + 18, 1)), vload(x + 16), s0);
		s1 = vfma(_mm256_cvtepi32_ps(wide8(w + 26, 1)), vload(x + 24), s1);
	} else {
		/* the nibbles as they are, q + 8: sum(q x) = sum((q + 8) x) - 8 sum(x),
		 * the block's sum of x (xsum[blk]) a lane's share at a time */
		const __m256i a = wide8(w + 2, 0), b = wide8(w + 10, 0), m4 = _mm256_set1_epi32(15);
		s0 = _mm256_cvtepi32_ps(_mm256_and_si256(a, m4)) * vload(x) - _mm256_broadcast_ss(xsum + blk);
		s1 = _mm256_cvtepi32_ps(_mm256_and_si256(b, m4)) * vload(x + 8);
		s0 = vfma(_mm256_cvtepi32_ps(_mm256_srli_epi32(a, 4)), vload(x + 16), s0);
		s1 = vfma(_mm256_cvtepi32_ps(_mm256_srli_epi32(b, 4)), vload(x + 24), s1);
	}
	*acc = vfma(vbroadcast(qf16(f16, w)), s0 + s1, *acc);
#else
	vf q[16 / VL], s = { 0 };
	const vb16 v = load16(w + 2);

	widen_s8(Q8 ? v : (vb16)((vsb16)(v & 0xf) - 8), q);
	s = fma16(q, x, s, 1);
	widen_s8(Q8 ? load16(w + 18) : (vb16)((vsb16)(v >> 4) - 8), q);
	s = fma16(q, x + 16, s, 0);
	*acc = vfma(vbroadcast(qf16(f16, w)), s, *acc);
#endif
}

/* Q8_0 and Q4_0, blocks of 32 of bs bytes, four at a time; xsum: Q4_0's
 * sums of x over each 32 columns. */
INLINE float q32_dot(const int Q8, const unsigned char *w, const float *x, const float *xsum, const float *f16,
                     int cols)
{
	const int bs = Q8 ? 34 : 18;
	vf acc[4] = { { 0 }, { 0 }, { 0 }, { 0 } };
	int k = 0;

	for (; k + 128 <= cols; k += 128, w += 4 * bs) {
#pragma GCC unroll 4
		for (int l = 0; l < 4 * bs; l += 64)
			__builtin_prefetch(w + PF_Q + l, 0, 3);
#pragma GCC unroll 4
		for (int i = 0; i < 4; i++)
			q32_block(Q8, w + i * bs, x + k + 32 * i, xsum, k / 32 + i, f16, &acc[i]);
	}
	for (; k < cols; k += 32, w += bs)
		q32_block(Q8, w, x + k, xsum, k / 32, f16, &acc[0]);
	return vsum((acc[0] + acc[1]) + (acc[2] + acc[3]));
}

/* Q4_K: sub-block s contributes (d sc_s) sum(q x) - (dmin m_s) sum(x), the
 * sums of x over each 32 columns (xsum) made once per token.  AVX2 decodes
 * a super-block's eight scales and mins at once (tfm_q4k_scales) into two
 * vectors, takes the mins' share as one product with xsum's eight, and
 * widens 8 bytes of nibbles at a time straight from memory (weights l and
 * l + 32 of 64). */
#if ISA == ISA_avx2
static float q4_k_dot(const unsigned char *w, const float *x, const float *xsum, const float *f16, int cols)
{
	const __m256i m4 = _mm256_set1_epi32(15);
	vf acc[2] = { { 0 }, { 0 } }, mins = { 0 };
	float scale[8] __attribute__((aligned(32)));

	for (int k = 0; k < cols; k += 256, w += 144) {
		uint32_t u[4];
		__builtin_prefetch(w + PF_Q, 0, 3);
		__builtin_prefetch(w + PF_Q + 64, 0, 3);
		__builtin_prefetch(w + PF_Q + 128, 0, 3);
		tfm_q4k_scales(w + 4, u);
		const __m256 sc = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)u)));
		const __m256 mn = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(u + 2))));
		_mm256_store_ps(scale, sc * vbroadcast(qf16(f16, w)));
		mins = vfma(mn * vbroadcast(qf16(f16, w + 2)), vload(xsum + k / 32), mins);
#pragma GCC unroll 4
		for (int i = 0; i < 4; i++) {
			const float *xk = x + k + 64 * i;
			vf lo0, lo1, hi0, hi1;
			__m256i v = wide8(w + 16 + 32 * i, 0);
			lo0 = _mm256_cvtepi32_ps(_mm256_and_si256(v, m4)) * vload(xk);
			hi0 = _mm256_cvtepi32_ps(_mm256_srli_epi32(v, 4)) * vload(xk + 32);
			v = wide8(w + 24 + 32 * i, 0);
			lo1 = _mm256_cvtepi32_ps(_mm256_and_si256(v, m4)) * vload(xk + 8);
			hi1 = _mm256_cvtepi32_ps(_mm256_srli_epi32(v, 4)) * vload(xk + 40);
			v = wide8(w + 32 + 32 * i, 0);
			lo0 = vfma(_mm256_cvtepi32_ps(_mm256_and_si256(v, m4)), vload(xk + 16), lo0);
			hi0 = vfma(_mm256_cvtepi32_ps(_mm256_srli_epi32(v, 4)), vload(xk + 48), hi0);
			v = wide8(w + 40 + 32 * i, 0);
			lo1 = vfma(_mm256_cvtepi32_ps(_mm256_and_si256(v, m4)), vload(xk + 24), lo1);
			hi1 = vfma(_mm256_cvtepi32_ps(_mm256_srli_epi32(v, 4)), vload(xk + 56), hi1);
			acc[i & 1] = vfma(_mm256_broadcast_ss(scale + 2 * i), lo0 + lo1, acc[i & 1]);
			acc[i & 1] = vfma(_mm256_broadcast_ss(scale + 2 * i + 1), hi0 + hi1, acc[i & 1]);
		}
	}
	return vsum(acc[0] + acc[1]) - vsum(mins);
}
#else
static float q4_k_dot(const unsigned char *w, const float *x, const float *xsum, const float *f16, int cols)
{
	vf acc[4] = { { 0 }, { 0 }, { 0 }, { 0 } };
	float mins = 0.0f;

	for (int k = 0; k < cols; k += 256, w += 144) {
		const float d = qf16(f16, w), dmin = qf16(f16, w + 2);
		float scale[8], low = 0.0f;
		__builtin_prefetch(w + PF_Q, 0, 3);
		__builtin_prefetch(w + PF_Q + 64, 0, 3);
		__builtin_prefetch(w + PF_Q + 128, 0, 3);
		for (int j = 0; j < 8; j++) {
			int sc, m;
			tfm_q4k_scale_min(j, w + 4, &sc, &m);
			scale[j] = d * (float)sc;
			low += dmin * (float)m * xsum[k / 32 + j];
		}
		mins += low;
#pragma GCC unroll 4
		for (int i = 0; i < 4; i++) {
			vf q[16 / VL], s0 = { 0 }, s1 = { 0 };
			const float *xk = x + k + 64 * i;
			const vb16 v0 = load16(w + 16 + 32 * i), v1 = load16(w + 16 + 32 * i + 16);
			widen_u8(v0 & 0xf, q);
			s0 = fma16(q, xk, s0, 1);
			widen_u8(v1 & 0xf, q);
			s0 = fma16(q, xk + 16, s0, 0);
			widen_u8(v0 >> 4, q);
			s1 = fma16(q, xk + 32, s1, 1);
			widen_u8(v1 >> 4, q);
			s1 = fma16(q, xk + 48, s1, 0);
			acc[i] = vfma(vbroadcast(scale[2 * i]), s0, acc[i]);
			acc[i] = vfma(vbroadcast(scale[2 * i + 1]), s1, acc[i]);
		}
	}
	return vsum((acc[0] + acc[1]) + (acc[2] + acc[3])) - mins;
}
#endif

/* Q6_K: per half of 128, byte l of ql (64) and qh (32) hold weights l,
 * l + 32, l + 64 and l + 96, each group of 16 with its own scale.  AVX2
 * widens 8 bytes of each straight from memory and puts the four weights
 * together in int32 lanes. */
#if ISA == ISA_avx2
static float q6_k_dot(const unsigned char *w, const float *x, const float *f16, int cols)
{
	const __m256i m4 = _mm256_set1_epi32(15), m3 = _mm256_set1_epi32(3), m12 = _mm256_set1_epi32(12);
	const __m256i m48 = _mm256_set1_epi32(48), e32 = _mm256_set1_epi32(32);
	vf acc[2] = { { 0 }, { 0 } };

	for (int k = 0; k < cols; k += 256, w += 210) {
		const float d = qf16(f16, w + 208);
		const signed char *sc = (const signed char *)(w + 192);
		for (int l = 0; l < 256; l += 64)
			__builtin_prefetch(w + PF_Q + l, 0, 3);
#pragma GCC unroll 2
		for (int h = 0; h < 2; h++) {
			const unsigned char *ql = w + 64 * h, *qh = w + 128 + 32 * h;
			const float *xh = x + k + 128 * h;
#pragma GCC unroll 2
			for (int g = 0; g < 32; g += 16) {	/* weights l..l+15 of each of the four */
				vf s[4] = { { 0 }, { 0 }, { 0 }, { 0 } };
#pragma GCC unroll 2
				for (int l = g; l < g + 16; l += 8) {
					const __m256i a = wide8(ql + l, 0), b = wide8(ql + 32 + l, 0), t = wide8(qh + l, 0);
					const __m256i q[4] = {
						_mm256_or_si256(_mm256_and_si256(a, m4), _mm256_slli_epi32(_mm256_and_si256(t, m3), 4)),
						_mm256_or_si256(_mm256_and_si256(b, m4), _mm256_slli_epi32(_mm256_and_si256(t, m12), 2)),
						_mm256_or_si256(_mm256_srli_epi32(a, 4), _mm256_and_si256(t, m48)),
						_mm256_or_si256(_mm256_srli_epi32(b, 4), _mm256_and_si256(_mm256_srli_epi32(t, 2), m48)),
					};
#pragma GCC unroll 4
					for (int n = 0; n < 4; n++)
						s[n] = vfma(_mm256_cvtepi32_ps(_mm256_sub_epi32(q[n], e32)), vload(xh + 32 * n + l), s[n]);
				}
#pragma GCC unroll 4
				for (int n = 0; n < 4; n++)
					acc[n & 1] = vfma(vbroadcast(d * (float)sc[8 * h + 2 * n + g / 16]), s[n], acc[n & 1]);
			}
		}
	}
	return vsum(acc[0] + acc[1]);
}
#else
static float q6_k_dot(const unsigned char *w, const float *x, const float *f16, int cols)
{
	vf acc[4] = { { 0 }, { 0 }, { 0 }, { 0 } };

	for (int k = 0; k < cols; k += 256, w += 210) {
		const float d = qf16(f16, w + 208);
		const signed char *sc = (const signed char *)(w + 192);
		float scale[16];
		for (int l = 0; l < 256; l += 64)
			__builtin_prefetch(w + PF_Q + l, 0, 3);
		for (int g = 0; g < 16; g++)
			scale[g] = d * (float)sc[g];
#pragma GCC unroll 2
		for (int h = 0; h < 2; h++) {
			const unsigned char *ql = w + 64 * h, *qh = w + 128 + 32 * h;
			const float *xh = x + k + 128 * h;
#pragma GCC unroll 2
			for (int c = 0; c < 32; c += 16) {
				const vb16 lo = load16(ql + c), hi = load16(ql + 32 + c), top = load16(qh + c);
				const int g = 8 * h + c / 16;
				vf q[16 / VL], s = { 0 };
				widen_s8((vb16)((vsb16)((lo & 0xf) | ((top & 3) << 4)) - 32), q);
				s = fma16(q, xh + c, s, 1);
				acc[0] = vfma(vbroadcast(scale[g]), s, acc[0]);
				widen_s8((vb16)((vsb16)((hi & 0xf) | (((top >> 2) & 3) << 4)) - 32), q);
				s = fma16(q, xh + 32 + c, s, 1);
				acc[1] = vfma(vbroadcast(scale[g + 2]), s, acc[1]);
				widen_s8((vb16)((vsb16)((lo >> 4) | (((top >> 4) & 3) << 4)) - 32), q);
				s = fma16(q, xh + 64 + c, s, 1);
				acc[2] = vfma(vbroadcast(scale[g + 4]), s, acc[2]);
				widen_s8((vb16)((vsb16)((hi >> 4) | (((top >> 6) & 3) << 4)) - 32), q);
				s = fma16(q, xh + 96 + c, s, 1);
				acc[3] = vfma(vbroadcast(scale[g + 6]), s, acc[3]);
			}
		}
	}
	return vsum((acc[0] + acc[1]) + (acc[2] + acc[3]));
}
#endif

/* A row of cols quantized weights as floats, GGML's values to the bit:
 * formats/quant.c's products and differences, lane by lane (no fused
 * multiply-add: the kernels are built without contraction). */
static void mq_dequant_row(int dtype, const unsigned char *w, float *y, int cols, const float *f16)
{
	vf q[16 / VL];

	switch (dtype) {
	case TFM_Q8_0:
		for (int k = 0; k < cols; k += 32, w += 34) {
			const vf d = vbroadcast(qf16(f16, w));
			for (int h = 0; h < 2; h++) {
				widen_s8(load16(w + 2 + 16 * h), q);
				for (int j = 0; j < 16 / VL; j++)
					vstore(y + k + 16 * h + VL * j, q[j] * d);
			}
		}
		break;
	case TFM_Q4_0:
		for (int k = 0; k < cols; k += 32, w += 18) {
			const vf d = vbroadcast(qf16(f16, w));
			const vb16 v = load16(w + 2);
			widen_s8((vb16)((vsb16)(v & 0xf) - 8), q);
			for (int j = 0; j < 16 / VL; j++)
				vstore(y + k + VL * j, q[j] * d);
			widen_s8((vb16)((vsb16)(v >> 4) - 8), q);
			for (int j = 0; j < 16 / VL; j++)
				vstore(y + k + 16 + VL * j, q[j] * d);
		}
		break;
	case TFM_Q4_K:
		for (int k = 0; k < cols; k += 256, w += 144) {
			const float d = qf16(f16, w), dmin = qf16(f16, w + 2);
			for (int i = 0; i < 4; i++)
				for (int half = 0; half < 2; half++) {
					int sc, m;
					tfm_q4k_scale_min(2 * i + half, w + 4, &sc, &m);
					const vf step = vbroadcast(d * (float)sc), low = vbroadcast(dmin * (float)m);
					for (int c = 0; c < 32; c += 16) {
						const vb16 v = load16(w + 16 + 32 * i + c);
						widen_u8(half ? v >> 4 : v & 0xf, q);
						for (int j = 0; j < 16 / VL; j++)
							vstore(y + k + 64 * i + 32 * half + c + VL * j, q[j] * step - low);
					}
				}
		}
		break;
	default:	/* TFM_Q6_K */
		for (int k = 0; k < cols; k += 256, w += 210) {
			const float d = qf16(f16, w + 208);
			const signed char *sc = (const signed char *)(w + 192);
			for (int h = 0; h < 2; h++)
				for (int c = 0; c < 32; c += 16) {
					const vb16 lo = load16(w + 64 * h + c), hi = load16(w + 64 * h + 32 + c);
					const vb16 top = load16(w + 128 + 32 * h + c);
					const vb16 g[4] = { (lo & 0xf) | ((top & 3) << 4), (hi & 0xf) | (((top >> 2) & 3) << 4),
					                    (lo >> 4) | (((top >> 4) & 3) << 4), (hi >> 4) | (((top >> 6) & 3) << 4) };
					for (int n = 0; n < 4; n++) {
						const vf s = vbroadcast(d * (float)sc[8 * h + c / 16 + 2 * n]);
						widen_s8((vb16)((vsb16)g[n] - 32), q);
						for (int j = 0; j < 16 / VL; j++)
							vstore(y + k + 128 * h + 32 * n + c + VL * j, s * q[j]);
					}
				}
		}
	}
}

/* One row of a quantized type times x. */
INLINE float mq_dot(const matmul_job *m, const unsigned char *w)
{
	switch (m->dtype) {
	case TFM_Q8_0:
		return q32_dot(1, w, m->x, NULL, m->f16, m->cols);
	case TFM_Q4_0:
		return q32_dot(0, w, m->x, m->xsum, m->f16, m->cols);
	case TFM_Q4_K:
		return q4_k_dot(w, m->x, m->xsum, m->f16, m->cols);
	default:
		return q6_k_dot(w, m->x, m->f16, m->cols);
	}
}

/* w . x a chunk of 256 weights at a time through a buffer on the stack:
 * when the heap has no room for a panel. */
static float mq_dot_small(int dtype, const unsigned char *w, const float *x, int cols)
{
	float buf[256], s = 0.0f;
	size_t block, bytes;

	tfm_dtype_block(dtype, &block, &bytes);
	for (int k = 0; k < cols; k += 256) {
		const int len = cols - k < 256 ? cols - k : 256;
		tfm_dequantize(dtype, w + (size_t)k / block * bytes, buf, (size_t)len);
		for (int j = 0; j < len; j++)
			s += buf[j] * x[k + j];
	}
	return s;
}

/* The floats per dequantized panel: 256 KB, so that the panel and a block
 * of tokens share the L2. */
#define MQ_PANEL (64 * 1024)

/* Rows r0..r1-1 of quantized weights.  Decode: row after row.  Prefill:
 * panels of P rows dequantized by formats/quant.c's rows (GGML's values to
 * the bit) then multiplied as floats. */
static void mq_rows(const matmul_job *m, int r0, int r1)
{
	const size_t row_bytes = tfm_dtype_row_bytes(m->dtype, (size_t)m->cols);
	const int n = m->n, cols = m->cols;

	if (n == 1) {
		for (int r = r0; r < r1; r++)
			m->y[r] = (m->b ? m->b[r] : 0.0f) + mq_dot(m, (const unsigned char *)m->w + (size_t)r * row_bytes);
		return;
	}
	int P = MQ_PANEL / cols / MR * MR;
	if (P < MR)
		P = MR;
	if (P > MC)
		P = MC;
	const size_t packed = (size_t)(n + NR - 1) / NR * NR * KC;
	float *buf = tfm_alloc(sizeof(float) * ((size_t)P * cols + packed + TB * MC));
	if (!buf) {	/* no room for a panel: each row a block at a time, on the stack */
		for (int r = r0; r < r1; r++)
			for (int t = 0; t < n; t++)
				m->y[(size_t)t * m->rows + r] = (m->b ? m->b[r] : 0.0f)
				    + mq_dot_small(m->dtype, (const unsigned char *)m->w + (size_t)r * row_bytes,
				                   m->x + (size_t)t * cols, cols);
		return;
	}
	for (int p = r0; p < r1; p += P) {
		const int pl = r1 - p < P ? r1 - p : P;
		matmul_job panel = *m;
		for (int i = 0; i < pl; i++)
			mq_dequant_row(m->dtype, (const unsigned char *)m->w + (size_t)(p + i) * row_bytes,
			               buf + (size_t)i * cols, cols, m->f16);
		panel.w = buf;
		panel.wrow0 = p;
		panel.bf16 = 0;
		panel.dtype = TFM_F32;
		mm_rows_batch(0, &panel, p, p + pl, buf + (size_t)P * cols, buf + (size_t)P * cols + packed, TB, 1);
	}
	tfm_free(buf);
}

/* Thread i's share of the rows, whole blocks of SPLIT. */
static void mm_part(void *ctx, int i, int nt)
{
	const matmul_job *m = ctx;
	const int blocks = (m->rows + SPLIT - 1) / SPLIT;
	const int r0 = (int)((long)blocks * i / nt) * SPLIT;
	int r1 = (int)((long)blocks * (i + 1) / nt) * SPLIT;

	if (r1 > m->rows)
		r1 = m->rows;
	if (r0 >= r1)
		return;
	if (tfm_dtype_is_quant(m->dtype))
		mq_rows(m, r0, r1);
	else if (m->bf16)
		mm_rows(1, m, r0, r1);
	else
		mm_rows(0, m, r0, r1);
}

static void mm_run(tfm_pool *pool, float *y, const float *x, const void *w, int bf16,
                   const float *b, int n, int rows, int cols)
{
	matmul_job m = { y, x, w, b, n, rows, cols, bf16, bf16 ? TFM_BF16 : TFM_F32, 0, NULL, NULL };

	if (n <= 0 || rows <= 0)
		return;
	if (cols <= 0) {	/* empty sums */
		for (int t = 0; t < n; t++)
			for (int r = 0; r < rows; r++)
				y[(size_t)t * rows + r] = b ? b[r] : 0.0f;
		return;
	}
	tfm_pool_run(pool, mm_part, &m);
}

void NAME(matmul)(tfm_pool *pool, float *y, const float *x, const float *w,
                  const float *b, int n, int rows, int cols)
{
	mm_run(pool, y, x, w, 0, b, n, rows, cols);
}

void NAME(matmul_bf16)(tfm_pool *pool, float *y, const float *x, const tfm_bf16 *w,
                       const float *b, int n, int rows, int cols)
{
	mm_run(pool, y, x, w, 1, b, n, rows, cols);
}


void NAME(matmul_q)(tfm_pool *pool, float *y, const float *x, const void *w, int dtype,
                    const float *b, int n, int rows, int cols)
{
	matmul_job m = { y, x, w, b, n, rows, cols, 0, dtype, 0, NULL, tfm_f16_table() };
	float small[MQ_STACK_COLS / 32], *xsum = NULL;

	if (n <= 0 || rows <= 0 || !tfm_dtype_is_quant(dtype))
		return;
	if (n == 1 && (dtype == TFM_Q4_K || (dtype == TFM_Q4_0 && ISA == ISA_avx2))) {
		xsum = cols <= MQ_STACK_COLS ? small : tfm_alloc(sizeof(float) * (size_t)(cols / 32 + 1));
		if (!xsum) {	/* no room for the sums: a block at a time */
			const size_t row_bytes = tfm_dtype_row_bytes(dtype, (size_t)cols);
			for (int r = 0; r < rows; r++)
				y[r] = (b ? b[r] : 0.0f)
				       + mq_dot_small(dtype, (const unsigned char *)w + (size_t)r * row_bytes, x, cols);
			return;
		}
		for (int g = 0; g < cols / 32; g++) {
			vf s = vload(x + 32 * g);
			for (int c = VL; c < 32; c += VL)
				s += vload(x + 32 * g + c);
			xsum[g] = vsum(s);
		}
		m.xsum = xsum;
	}
	tfm_pool_run(pool, mm_part, &m);
	if (xsum != small)
		tfm_free(xsum);
}
