/* kernels.c: the runtime's precompiled kernels (matrix products, norms,
 * attention, activations), written once and built once per instruction set.
 *
 * The Makefile compiles this file three times, with -DTFM_ISA=scalar, avx2
 * or avx512 and that set's -m flags (and so the training's gemm.c and
 * train.c); every external name gets the set as a suffix (NAME(x) is
 * x_avx2), and each build defines one table, tfm_kernels_<isa>, here at the
 * end, that tfm_kernels_for (kernels_dispatch.c) hands out after checking
 * the CPU.  The code is GNU C vector extensions over a vector type vf of VL
 * floats; an instruction set is a few numbers and hooks (kernels_isa.h):
 * the width, fused multiply-add, loads and stores of a partial vector; the
 * tile shapes are each file's.  "scalar" is the x86-64 baseline: 16-byte
 * vectors, which SSE2 (or any target GCC knows) handles, with a separate
 * multiply and add.
 *
 * Matrix products are the hot loops.  Decode (n = 1) is a stream of weights
 * that must run at memory bandwidth: a row at a time, four accumulators,
 * one sequential stream (mm_row).  Prefill (n > 1) is a
 * register-tiled product: a tile of MR rows x NR tokens kept in MR * NR
 * accumulators over a chunk of at most KC columns, so each weight load
 * feeds NR tokens and each token load MR rows.  The tokens' chunk is packed
 * tile by tile into one sequential stream; the rows' chunk of a tile stays
 * in L1 while every token tile passes, and a panel of MC rows stays in L2
 * while blocks of TB tokens pass.
 *
 * Weights come as floats or as bfloat16 (matmul_bf16), widened to floats
 * as they are loaded (a shift: exact), so the arithmetic is the same; the
 * flag BF is a constant wherever the kernels are inlined.
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
					const char *w = (const char *)m->w + ((size_t)(p0 + r) * cols + k0) * es;
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
	if (m->bf16)
		mm_rows(1, m, r0, r1);
	else
		mm_rows(0, m, r0, r1);
}

static void mm_run(tfm_pool *pool, float *y, const float *x, const void *w, int bf16,
                   const float *b, int n, int rows, int cols)
{
	matmul_job m = { y, x, w, b, n, rows, cols, bf16 };

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

static void NAME(matmul)(tfm_pool *pool, float *y, const float *x, const float *w,
                         const float *b, int n, int rows, int cols)
{
	mm_run(pool, y, x, w, 0, b, n, rows, cols);
}

static void NAME(matmul_bf16)(tfm_pool *pool, float *y, const float *x, const tfm_bf16 *w,
                              const float *b, int n, int rows, int cols)
{
	mm_run(pool, y, x, w, 1, b, n, rows, cols);
}

/* ---- Norms ------------------------------------------------------------------ */

static void NAME(norm)(float *out, const float *in, const float *w, const float *b,
                       int rows, int width, float eps)
{
	for (int r = 0; r < rows; r++) {
		const float *x = in + (size_t)r * width;
		float *o = out + (size_t)r * width;
		float mean = 0.0f, inv;
		int k = 0;

		if (b) {
			mean = row_sum(x, width, 0, 0.0f) / (float)width;
			inv = 1.0f / sqrtf(row_sum(x, width, 1, mean) / (float)width + eps);
			const vf mv = vsplat(mean), iv = vsplat(inv);
			for (; k + VL <= width; k += VL)
				vstore(o + k, vfma((vload(x + k) - mv) * iv, vload(w + k), vload(b + k)));
			for (; k < width; k++)
				o[k] = (x[k] - mean) * inv * w[k] + b[k];
		} else {
			inv = 1.0f / sqrtf(row_sum(x, width, 1, 0.0f) / (float)width + eps);
			const vf iv = vsplat(inv);
			for (; k + VL <= width; k += VL)
				vstore(o + k, vload(x + k) * iv * vload(w + k));
			for (; k < width; k++)
				o[k] = x[k] * inv * w[k];
		}
	}
}

/* ---- Attention ---------------------------------------------------------------- */

/* Attention reads every cached key and value of its key/value head once per
 * query: from memory, for a long context.  So the queries that share a
 * key/value head (the heads of a GQA group, and the tokens of a chunk) go
 * through the cache together, AG at a time, one block of AB keys after
 * another: each block is read from memory once, then from cache.  (A head's
 * rows are n_kv_head * head_dim floats apart in the cache: short pieces far
 * apart, which this machine's memory serves at about a quarter of its
 * sequential bandwidth.)  The softmax
 * is the streaming one: a running maximum and sum per query, the output
 * rescaled when the maximum grows, so no query needs its scores of earlier
 * blocks.  Each query's arithmetic is the same whichever queries share its
 * pass, so results do not depend on the thread count. */
#define AB 64		/* keys per block */
#define AG 8		/* queries per pass */

/* Brings cache rows s0.. (up to AB of them, below end) into L2: the first
 * query of a pass calls it for the next block.  Rows of a few hundred bytes,
 * a power of two apart, are a pattern the hardware prefetchers miss. */
static void att_prefetch(const float *k, const float *v, int s0, int end, int ld, int d)
{
	for (int s = s0; s < end && s < s0 + AB; s++) {
		const float *kr = k + (size_t)s * ld, *vr = v + (size_t)s * ld;
		for (int c = 0; c < d; c += 16) {
			__builtin_prefetch(kr + c, 0, 2);
			__builtin_prefetch(vr + c, 0, 2);
		}
		__builtin_prefetch(kr + d - 1, 0, 2);
		__builtin_prefetch(vr + d - 1, 0, 2);
	}
}

/* o = o * c + sum of p[s] * v[s] for s < len, v's rows ld apart, head_dim d;
 * four keys per pass over o. */
static void att_accumulate(float *o, float c, const float *p, const float *v, int len, int ld, int d)
{
	const vf cv = vsplat(c);
	int k = 0;

	for (; k < d; k += VL) {
		const int m = d - k < VL ? d - k : VL;
		vf acc = (m == VL ? vload(o + k) : vload_part(o + k, m)) * cv;
		int s = 0;
		for (; s + 4 <= len; s += 4) {
			const float *v0 = v + (size_t)s * ld + k;
			if (m == VL) {
				acc = vfma(vsplat(p[s]), vload(v0), acc);
				acc = vfma(vsplat(p[s + 1]), vload(v0 + ld), acc);
				acc = vfma(vsplat(p[s + 2]), vload(v0 + 2 * ld), acc);
				acc = vfma(vsplat(p[s + 3]), vload(v0 + 3 * ld), acc);
			} else {
				acc = vfma(vsplat(p[s]), vload_part(v0, m), acc);
				acc = vfma(vsplat(p[s + 1]), vload_part(v0 + ld, m), acc);
				acc = vfma(vsplat(p[s + 2]), vload_part(v0 + 2 * ld, m), acc);
				acc = vfma(vsplat(p[s + 3]), vload_part(v0 + 3 * ld, m), acc);
			}
		}
		for (; s < len; s++) {
			const float *v0 = v + (size_t)s * ld + k;
			acc = vfma(vsplat(p[s]), m == VL ? vload(v0) : vload_part(v0, m), acc);
		}
		if (m == VL)
			vstore(o + k, acc);
		else
			vstore_part(o + k, acc, m);
	}
}

/* Queries (tokens tt[i], heads hh[i]), i < nq <= AG, all of key/value head
 * g: out = softmax(q . K * scale, soft-capped) V over cache rows
 * 0..pos+tt[i].  With dropout p > 0, each probability is kept with
 * probability 1 - p and scaled by 1 / (1 - p), the mask of key s for query
 * head h at position t being tfm_dropout_keep(seed, att_dropout_row(...) + s,
 * p): the normalizer sums them all, the values only the kept ones. */
static void att_pass(const tfm_attention *a, int g, const int *tt, const int *hh, int nq)
{
	const int d = a->head_dim, kvd = a->n_kv_head * d, qd = a->n_head * d;
	const float *kc = a->k_cache + (size_t)g * d, *vc = a->v_cache + (size_t)g * d;
	float sc[AG][AB], mx[AG], sum[AG], corr[AG];
	int len[AG], maxlen = 0;

	for (int i = 0; i < nq; i++) {
		len[i] = a->pos + tt[i] + 1;
		maxlen = len[i] > maxlen ? len[i] : maxlen;
		mx[i] = -INFINITY;
		sum[i] = 0.0f;
		memset(a->out + (size_t)tt[i] * qd + (size_t)hh[i] * d, 0, (size_t)d * sizeof(float));
	}
	for (int s0 = 0; s0 < maxlen; s0 += AB) {
		const float *kb = kc + (size_t)s0 * kvd, *vb = vc + (size_t)s0 * kvd;

		att_prefetch(kc, vc, s0 + AB, maxlen, kvd, d);

		/* scores, and the new maximum of each query */
		for (int i = 0; i < nq; i++) {
			const float *q = a->q + (size_t)tt[i] * qd + (size_t)hh[i] * d;
			const int bl = len[i] - s0 < AB ? len[i] - s0 : AB;
			float *s = sc[i], m = mx[i];
			int j = 0;
			if (bl <= 0)
				continue;
			for (; j + 4 <= bl; j += 4) {
				const float *k0 = kb + (size_t)j * kvd;
				v4 v = dot4(q, k0, k0 + kvd, k0 + 2 * kvd, k0 + 3 * kvd, d);
				memcpy(s + j, &v, sizeof v);
			}
			for (; j < bl; j++) {
				const float *k0 = kb + (size_t)j * kvd;
				s[j] = dot4(q, k0, k0, k0, k0, d)[0];
			}
			for (j = 0; j < bl; j++) {
				float x = s[j] * a->scale;
				if (a->softcap > 0.0f)
					x = a->softcap * tanhf(x / a->softcap);
				s[j] = x;
				m = x > m ? x : m;
			}
			corr[i] = expf(mx[i] - m);	/* 0 on the first block */
			mx[i] = m;
			float bs = 0.0f;
			for (j = 0; j < bl; j++) {
				s[j] = expf(s[j] - m);
				bs += s[j];
			}
			sum[i] = sum[i] * corr[i] + bs;
			if (a->dropout > 0.0f) {	/* the sum is of all, the values of the kept */
				const uint64_t row = att_dropout_row(hh[i], a->pos + a->n, a->pos + tt[i])
				                     + (uint64_t)s0;
				const float keep = 1.0f / (1.0f - a->dropout);
				for (j = 0; j < bl; j++)
					s[j] = tfm_dropout_keep(a->seed, row + (uint64_t)j, a->dropout)
					       ? s[j] * keep : 0.0f;
			}
		}
		/* the values */
		for (int i = 0; i < nq; i++) {
			const int bl = len[i] - s0 < AB ? len[i] - s0 : AB;
			if (bl > 0)
				att_accumulate(a->out + (size_t)tt[i] * qd + (size_t)hh[i] * d, corr[i],
				               sc[i], vb, bl, kvd, d);
		}
	}
	for (int i = 0; i < nq; i++) {
		float *o = a->out + (size_t)tt[i] * qd + (size_t)hh[i] * d;
		const float inv = 1.0f / sum[i];
		for (int k = 0; k < d; k++)
			o[k] *= inv;
	}
}

/* The queries are numbered key/value head first, then token, then head
 * within the group; thread i takes a contiguous share and goes through
 * it in passes of up to AG queries of one key/value head. */
static void attention_part(void *ctx, int i, int nt)
{
	const tfm_attention *a = ctx;
	const int group = a->n_head / a->n_kv_head;
	const long per_g = (long)a->n * group, total = per_g * a->n_kv_head;
	const long j1 = total * (i + 1) / nt;
	int tt[AG], hh[AG];

	for (long j = total * i / nt; j < j1;) {
		const int g = (int)(j / per_g);
		int nq = 0;
		for (; nq < AG && j < j1 && j / per_g == g; nq++, j++) {
			tt[nq] = (int)(j % per_g / group);
			hh[nq] = g * group + (int)(j % group);
		}
		att_pass(a, g, tt, hh, nq);
	}
}

static void NAME(attention)(tfm_pool *pool, const tfm_attention *a)
{
	if (a->n <= 0 || a->n_head <= 0)
		return;
	tfm_pool_run(pool, attention_part, (void *)a);
}

/* ---- Activations ---------------------------------------------------------------- */

static void NAME(glu)(float *h, const float *gate, long n, int act)
{
	/* One loop per function, so each is a plain loop the compiler can see. */
	switch (act) {
	case TFM_ACT_SILU:
		for (long i = 0; i < n; i++)
			h[i] *= act1(gate[i], TFM_ACT_SILU);
		break;
	case TFM_ACT_GELU_TANH:
		for (long i = 0; i < n; i++)
			h[i] *= act1(gate[i], TFM_ACT_GELU_TANH);
		break;
	case TFM_ACT_GELU_ERF:
		for (long i = 0; i < n; i++)
			h[i] *= act1(gate[i], TFM_ACT_GELU_ERF);
		break;
	}
}

static void NAME(act)(float *h, long n, int act)
{
	switch (act) {
	case TFM_ACT_RELU:
		for (long i = 0; i < n; i++)
			h[i] = act1(h[i], TFM_ACT_RELU);
		break;
	case TFM_ACT_SILU:
		for (long i = 0; i < n; i++)
			h[i] = act1(h[i], TFM_ACT_SILU);
		break;
	case TFM_ACT_GELU_TANH:
		for (long i = 0; i < n; i++)
			h[i] = act1(h[i], TFM_ACT_GELU_TANH);
		break;
	case TFM_ACT_GELU_ERF:
		for (long i = 0; i < n; i++)
			h[i] = act1(h[i], TFM_ACT_GELU_ERF);
		break;
	}
}

/* ---- The table ---------------------------------------------------------------- */

extern const tfm_kernels NAME(tfm_kernels);

const tfm_kernels NAME(tfm_kernels) = {
	.isa = STR(TFM_ISA),
	.matmul = NAME(matmul),
	.matmul_bf16 = NAME(matmul_bf16),
	.norm = NAME(norm),
	.attention = NAME(attention),
	.glu = NAME(glu),
	.act = NAME(act),
	/* training: gemm.c and train.c */
	.gemm = NAME(gemm),
	.bias_backward = NAME(bias_backward),
	.norm_backward = NAME(norm_backward),
	.rope = NAME(rope),
	.attention_backward = NAME(attention_backward),
	.attention_window = NAME(attention_window),
	.glu_backward = NAME(glu_backward),
	.act_backward = NAME(act_backward),
	.softcap = NAME(softcap),
	.softcap_backward = NAME(softcap_backward),
	.add = NAME(add),
	.dropout = NAME(dropout),
	.dropout_backward = NAME(dropout_backward),
	.cross_entropy = NAME(cross_entropy),
	.embed_backward = NAME(embed_backward),
	.adamw = NAME(adamw),
	.sumsq = NAME(sumsq),
	.scale = NAME(scale),
};
