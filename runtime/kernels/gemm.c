/* gemm.c: the general matrix product of training, C = op(A) op(B) (+ C),
 * built once per instruction set like kernels.c (kernels_isa.h).
 *
 * BLIS's scheme, for row-major C.  The product is cut into blocks of at
 * most KC steps of k (k-blocks): for each, a block of op(B), KC x NC, is
 * packed into micro-panels of NR columns (each k step's NR floats
 * together, NR = GV vectors).  The micro-kernel keeps an MR x NR tile of C
 * in MR * GV vector registers; each k step loads GV vectors of B and
 * broadcasts MR floats of A, MR * GV fused multiply-adds.  MR rows of op(A)
 * over a k-block (MR * KC floats) stay in L1 while every B micro-panel of
 * the block passes under them from L2, where the packed B block stays.
 * op(A) stored [m, k] (the dX += dY W of training) is read in place, a row
 * per broadcast stream; stored [k, m] (ta, the dW += dY^T X), it is packed
 * by blocks of MC rows into micro-panels of MR rows (each k step's MR
 * floats together).  op(B) stored [n, k] (tb) is transposed as it is
 * packed.
 *
 * Every element of C is computed the same way wherever its tile falls and
 * whichever thread computes it: for each k-block in order, a chain of
 * fused multiply-adds over the block's steps in order, from 0, then added
 * to C (or, the first block of a product without accumulate, stored).
 * The k-blocks are a function of k alone (gm_kblocks), tiles at the edges
 * are computed whole from zero-padded panels, and threads split C, never
 * k: so the bits do not depend on the thread count.
 *
 * The packed blocks live in a workspace of each thread's own, taken with
 * tfm_alloc once per call (the blocks' size: at most KC * (MC + NC)
 * floats, 1.2 MB with AVX-512); when that fails, the same arithmetic runs
 * from a small one on the stack, one micro-panel of each (slower: A's
 * panels are packed again for every B panel).
 */
#include "kernels_isa.h"

/* MR x NR = MR x GV vectors: the tile.  AVX-512: 8 x 48 in 24 accumulators
 * and 3 vectors of B, A's broadcasts folded into the FMAs; per k step 8
 * broadcasts and 3 loads of B (192 bytes from L2) for 24 FMAs.  AVX2:
 * 6 x 16 in 12 accumulators, 2 of B, 1 broadcast.  Scalar (a product and an
 * add, no FMA): 4 x 8, with a register for the products.  KC: the steps of
 * a k-block, so that an A micro-panel (MR * KC floats) sits in a third of
 * L1 and a B block (KC * NC floats) in half of L2. */
#if ISA == ISA_avx512
#define GM_MR 8
#define GM_GV 3
#define GM_KC 384
#elif ISA == ISA_avx2
#define GM_MR 6
#define GM_GV 2
#define GM_KC 384
#else
#define GM_MR 4
#define GM_GV 2
#define GM_KC 256
#endif
#define GM_NR (GM_GV * VL)
#define GM_PF 16	/* B is prefetched this many k steps ahead */
#define GM_PFA 8	/* A, when packed (ta), this many of its rows ahead */
/* MC: rows of a packed A block; NC: columns of a packed B block, at most
 * (the blocks of a product are as even as the tiles allow). */
#define GM_MC (24 * GM_MR)
#define GM_NC (12 * GM_NR)

/* The k-blocks of a product of depth k: ceil(k / GM_KC) of them, as even
 * as can be; block b is steps gm_kstart(k, b) .. gm_kstart(k, b + 1) - 1. */
static int gm_kblocks(int k)
{
	return (k + GM_KC - 1) / GM_KC;
}

static int gm_kstart(int k, int b)
{
	return (int)((long)k * b / gm_kblocks(k));
}

/* The tile's sums over kc steps: acc[i][v] = sum over p of A[i][p] * b[p][v]
 * for the packed B micro-panel b (kc x NR) and A's MR rows read where they
 * are: A[i][p] at a[i * as + p * ps], with (as, ps) = (1, MR) for a packed
 * micro-panel and (lda, 1) for rows of A in place, row i at ra[i].  ROWS
 * is a constant where this is inlined. */
INLINE void gm_tile(const int ROWS, int kc, const float *a, const float *const *ra,
                    const float *b, vf acc[GM_MR][GM_GV])
{
	const float *r[GM_MR];

#pragma GCC unroll 16
	for (int i = 0; i < GM_MR; i++) {
		r[i] = ROWS ? ra[i] : a + i;
#pragma GCC unroll 4
		for (int v = 0; v < GM_GV; v++)
			acc[i][v] = (vf){ 0 };
	}
#pragma GCC unroll 2
	for (int p = 0; p < kc; p++, b += GM_NR) {
		vf bv[GM_GV];
		__builtin_prefetch(b + GM_PF * GM_NR, 0, 3);
#pragma GCC unroll 4
		for (int v = 0; v < GM_GV; v++)
			bv[v] = vload(b + v * VL);
#pragma GCC unroll 16
		for (int i = 0; i < GM_MR; i++) {
			const vf av = vbroadcast(ROWS ? r[i][p] : a[(size_t)p * GM_MR + i]);
#pragma GCC unroll 4
			for (int v = 0; v < GM_GV; v++)
				acc[i][v] = vfma(av, bv[v], acc[i][v]);
		}
	}
}

/* C's tile at c (rows mr <= MR, columns nr <= NR, row stride ldc) gets the
 * sums: c = acc when store, else c = c + acc. */
INLINE void gm_update(float *c, int ldc, int mr, int nr, vf acc[GM_MR][GM_GV], int store)
{
	if (mr == GM_MR && nr == GM_NR) {
#pragma GCC unroll 16
		for (int i = 0; i < GM_MR; i++)
#pragma GCC unroll 4
			for (int v = 0; v < GM_GV; v++) {
				float *ci = c + (size_t)i * ldc + v * VL;
				vstore(ci, store ? acc[i][v] : vload(ci) + acc[i][v]);
			}
		return;
	}
	for (int i = 0; i < mr; i++)
		for (int v = 0; v * VL < nr; v++) {
			float *ci = c + (size_t)i * ldc + v * VL;
			const int m = nr - v * VL;
			if (m >= VL)
				vstore(ci, store ? acc[i][v] : vload(ci) + acc[i][v]);
			else
				vstore_part(ci, store ? acc[i][v] : vload_part(ci, m) + acc[i][v], m);
		}
}

/* One tile of C: gm_tile's sums, then gm_update.  Not inlined, so that
 * the accumulators, B's vectors and the broadcast are all that is live in
 * the loop: inlined into gm_region, GCC kept one of B's vectors on the
 * stack and read it back for every FMA (AVX-512, GCC 12). */
static __attribute__((noinline)) void gm_kernel(int rows, int kc, const float *a,
                                                const float *const *ra, const float *b, float *c,
                                                int ldc, int mr, int nr, int store)
{
	vf acc[GM_MR][GM_GV];

	/* C's tile, fetched while the FMAs run: far from the last k-block's
	 * visit (a dW of 32000 rows, the logits), it would come from memory
	 * only when added to */
	for (int i = 0; i < mr; i++)
		for (int j = 0; j < nr; j += 16)
			__builtin_prefetch(c + (size_t)i * ldc + j, 1, 3);
	if (rows)
		gm_tile(1, kc, a, ra, b, acc);
	else
		gm_tile(0, kc, a, ra, b, acc);
	gm_update(c, ldc, mr, nr, acc, store);
}

/* What a product reads and writes; C row-major, op(A) [m, k], op(B) [k, n]. */
typedef struct gm_job {
	int ta, tb, m, n, k;
	const float *a, *b;
	int lda, ldb;
	float *c;
	int ldc, accumulate;
	int split_rows;		/* threads split C's rows (else its columns) */
} gm_job;

/* Rows i0..i0+mc-1 of op(A), steps p0..p0+kc-1, into micro-panels of MR
 * rows at pa: panel q, step p, row i at pa[(q * kc + p) * MR + i]; rows
 * past mc are zeros.  Only for ta: A is [k, m], and a step's mc floats are
 * contiguous: read one step at a time (a row of A, far from the next),
 * each piece to its panel. */
static void gm_pack_a(float *pa, const gm_job *g, int i0, int mc, int p0, int kc)
{
	const int panels = (mc + GM_MR - 1) / GM_MR;
	const size_t panel = (size_t)kc * GM_MR;

	/* four panels at a time: 4 streams of stores (many panels' streams,
	 * a multiple of 4 KB apart, alias in the store buffer) */
	for (int q0 = 0; q0 < panels; q0 += 4) {
		const int q1 = q0 + 4 < panels ? q0 + 4 : panels;
		for (int p = 0; p < kc; p++) {
			const float *src = g->a + (size_t)(p0 + p) * g->lda + i0 + q0 * GM_MR;
			float *d = pa + q0 * panel + (size_t)p * GM_MR;
			/* rows far apart (a page or more): the prefetchers do not follow */
			if (p + GM_PFA < kc)
				for (int l = 0; l < (q1 - q0) * GM_MR; l += 16)
					__builtin_prefetch(src + (size_t)GM_PFA * g->lda + l, 0, 3);
			for (int q = q0; q < q1; q++, src += GM_MR, d += panel) {
				const int mr = mc - q * GM_MR;
				if (mr >= GM_MR)
					memcpy(d, src, sizeof(float) * GM_MR);
				else {
					int i = 0;
					for (; i < mr; i++)
						d[i] = src[i];
					for (; i < GM_MR; i++)
						d[i] = 0.0f;
				}
			}
		}
	}
}

/* Columns j0..j0+nc-1 of op(B), steps p0..p0+kc-1, into micro-panels of NR
 * columns at pb: panel q, step p, column j at pb[(q * kc + p) * NR + j];
 * columns past nc are zeros. */
static void gm_pack_b(float *pb, const gm_job *g, int j0, int nc, int p0, int kc)
{
	for (int q = 0; q * GM_NR < nc; q++, pb += (size_t)kc * GM_NR) {
		const int c0 = j0 + q * GM_NR, nr = nc - q * GM_NR < GM_NR ? nc - q * GM_NR : GM_NR;
		if (!g->tb) {	/* B is [k, n]: a step's NR columns are contiguous */
			const float *src = g->b + (size_t)p0 * g->ldb + c0;
			for (int p = 0; p < kc; p++, src += g->ldb) {
				float *d = pb + (size_t)p * GM_NR;
				if (nr == GM_NR) {
#pragma GCC unroll 4
					for (int v = 0; v < GM_GV; v++)
						vstore(d + v * VL, vload(src + v * VL));
				} else {
					for (int v = 0; v < GM_GV; v++) {
						const int m = nr - v * VL;
						vstore(d + v * VL, m >= VL ? vload(src + v * VL)
						                   : m > 0 ? vload_part(src + v * VL, m) : (vf){ 0 });
					}
				}
			}
		} else {	/* B is [n, k]: each column's steps are contiguous */
			for (int j = 0; j < GM_NR; j++) {
				if (j < nr) {
					const float *src = g->b + (size_t)(c0 + j) * g->ldb + p0;
					for (int p = 0; p < kc; p++)
						pb[(size_t)p * GM_NR + j] = src[p];
				} else {
					for (int p = 0; p < kc; p++)
						pb[(size_t)p * GM_NR + j] = 0.0f;
				}
			}
		}
	}
}

/* Blocks of at most `most` (a multiple of `unit`) covering len, as even
 * as whole units allow: the size of each. */
static int gm_even(int len, int most, int unit)
{
	const int blocks = (len + most - 1) / most;
	const int units = (len + unit - 1) / unit;

	return (units + blocks - 1) / blocks * unit;
}

/* C's rows r0..r1-1, columns c0..c1-1, in blocks of mcb rows (when ta)
 * and ncb columns, packed into pa (mcb * kc floats) and pb (kc * ncb).
 * op(A) is packed only when ta: A stored [m, k] is read in place, MR rows
 * at a time (their kc steps stay in L1 as a packed panel would, and a
 * transposing pack would cost a tenth of the product when n is a few
 * hundred); rows past the edge repeat the last one, and their sums are
 * not stored. */
static void gm_region(const gm_job *g, int r0, int r1, int c0, int c1, int mcb, int ncb,
                      float *pa, float *pb)
{
	const int nkb = gm_kblocks(g->k);

	for (int jc = c0; jc < c1; jc += ncb) {
		const int nc = c1 - jc < ncb ? c1 - jc : ncb;
		for (int kb = 0; kb < nkb; kb++) {
			const int p0 = gm_kstart(g->k, kb), kc = gm_kstart(g->k, kb + 1) - p0;
			const int store = kb == 0 && !g->accumulate;
			gm_pack_b(pb, g, jc, nc, p0, kc);
			for (int ic = r0; ic < r1; ic += mcb) {
				const int mc = r1 - ic < mcb ? r1 - ic : mcb;
				if (g->ta)
					gm_pack_a(pa, g, ic, mc, p0, kc);
				for (int ir = 0; ir < mc; ir += GM_MR) {
					const int mr = mc - ir < GM_MR ? mc - ir : GM_MR;
					const float *a = pa + (size_t)ir * kc, *ra[GM_MR];
					for (int i = 0; i < GM_MR; i++)
						ra[i] = g->a + (size_t)(ic + ir + (i < mr ? i : mr - 1)) * g->lda + p0;
					for (int jr = 0; jr < nc; jr += GM_NR) {
						const int nr = nc - jr < GM_NR ? nc - jr : GM_NR;
						gm_kernel(!g->ta, kc, a, ra, pb + (size_t)jr * kc,
						          g->c + (size_t)(ic + ir) * g->ldc + jc + jr, g->ldc, mr, nr,
						          store);
					}
				}
			}
		}
	}
}

/* Thread i's share of C: whole tiles of rows or of columns. */
static void gm_part(void *ctx, int i, int nt)
{
	const gm_job *g = ctx;
	const int unit = g->split_rows ? GM_MR : GM_NR, len = g->split_rows ? g->m : g->n;
	const int tiles = (len + unit - 1) / unit;
	const int t0 = (int)((long)tiles * i / nt) * unit;
	int t1 = (int)((long)tiles * (i + 1) / nt) * unit;
	float *ws;

	if (t1 > len)
		t1 = len;
	if (t0 >= t1)
		return;
	const int r0 = g->split_rows ? t0 : 0, r1 = g->split_rows ? t1 : g->m;
	const int c0 = g->split_rows ? 0 : t0, c1 = g->split_rows ? g->n : t1;
	const int kc = (g->k + gm_kblocks(g->k) - 1) / gm_kblocks(g->k);	/* the longest k-block */
	const int mcb = g->ta ? gm_even(r1 - r0, GM_MC, GM_MR) : r1 - r0;
	const int ncb = gm_even(c1 - c0, GM_NC, GM_NR);
	const size_t na = g->ta ? (size_t)mcb * kc : 0;

	ws = tfm_alloc(sizeof(float) * (na + (size_t)kc * ncb));
	if (ws) {
		gm_region(g, r0, r1, c0, c1, mcb, ncb, ws, ws + na);
		tfm_free(ws);
	} else {
		float pa[GM_MR * GM_KC] __attribute__((aligned(64)));
		float pb[GM_KC * GM_NR] __attribute__((aligned(64)));
		gm_region(g, r0, r1, c0, c1, g->ta ? GM_MR : r1 - r0, GM_NR, pa, pb);
	}
}

void NAME(gemm)(tfm_pool *pool, int ta, int tb, int m, int n, int k, const float *a, int lda,
                const float *b, int ldb, float *c, int ldc, int accumulate)
{
	gm_job g = { ta, tb, m, n, k, a, b, lda, ldb, c, ldc, accumulate, 0 };

	if (m <= 0 || n <= 0)
		return;
	if (k <= 0) {	/* empty sums */
		if (!accumulate)
			for (int i = 0; i < m; i++)
				memset(c + (size_t)i * ldc, 0, sizeof(float) * (size_t)n);
		return;
	}
	/* rows, unless there are fewer tiles of them than of columns */
	g.split_rows = (m + GM_MR - 1) / GM_MR >= (n + GM_NR - 1) / GM_NR;
	tfm_pool_run(pool, gm_part, &g);
}
