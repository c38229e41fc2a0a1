/* test_kernels.c: CUnit suite for the runtime's precompiled kernels
 * (runtime/kernels/kernels.c, runtime/kernels/kernels_dispatch.c).
 *
 * Every kernel of every instruction set this CPU runs is compared with a
 * naive double-precision reference written here, over shapes chosen to hit
 * the edges: sizes of 1, sizes that are not a multiple of any vector width,
 * tile or chunk, rows enough for several panels and threads, more tokens
 * than a packed block.  A set the CPU lacks is skipped with a note.  Each
 * test prints the largest difference it saw, per set.
 *
 * Bounds: |got - ref| <= 1e-5 * max(1, max |ref|) over an output (matmul,
 * norm, attention), which is float rounding of sums of at most a few
 * thousand terms of size 1 with room to spare; per element for the
 * activations, which are not sums.  Results must also be bit-identical
 * whatever the thread count; matmul's decode (a token alone) sums in
 * another order than its prefill and is held to the same bound.
 * matmul_bf16 must give the bits that matmul gives, decode and prefill,
 * for the same weights widened to f32.
 *
 * add_kernel_suites() registers the suite; tests/test_main.c runs it.
 */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfm.h"
#include "testutil.h"


static const char *const kt_isas[] = { "scalar", "avx2", "avx512" };
#define KT_N_ISAS ((int)(sizeof kt_isas / sizeof kt_isas[0]))

/* Pools of 1, 2 and 3 threads, and NULL, opened by the suite. */
static tfm_pool *kt_pool[4];
static const int kt_pool_threads[4] = { 1, 1, 2, 3 };	/* kt_pool[0] is NULL */

static int kt_open(void)
{
	for (int i = 1; i < 4; i++)
		if (tfm_pool_open(&kt_pool[i], kt_pool_threads[i], NULL) != 0)
			return -1;
	return 0;
}

static int kt_close(void)
{
	for (int i = 1; i < 4; i++) {
		tfm_pool_close(kt_pool[i]);
		kt_pool[i] = NULL;
	}
	return 0;
}

/* The kernels for set i, or NULL with a note when this CPU lacks it. */
static const tfm_kernels *kt_kernels(int i)
{
	const tfm_kernels *k = tfm_kernels_for(kt_isas[i]);

	if (k == NULL)
		printf("\n    %-7s not run: this CPU lacks it", kt_isas[i]);
	return k;
}

/* ---- Data ------------------------------------------------------------------ */

static uint64_t kt_rng = 88172645463325252ull;

/* Uniform in [lo, hi), from a fixed xorshift sequence. */
static float kt_uniform(float lo, float hi)
{
	kt_rng ^= kt_rng << 13;
	kt_rng ^= kt_rng >> 7;
	kt_rng ^= kt_rng << 17;
	return lo + (hi - lo) * (float)((kt_rng >> 40) / 16777216.0);
}

static float *kt_random(size_t n, float lo, float hi)
{
	float *p = malloc((n ? n : 1) * sizeof *p);

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	for (size_t i = 0; i < n; i++)
		p[i] = kt_uniform(lo, hi);
	return p;
}

/* max |got - ref| / max(1, max |ref|) over n values */
static double kt_rel_diff(const float *got, const double *ref, size_t n)
{
	double d = 0, scale = 1;

	for (size_t i = 0; i < n; i++) {
		d = fmax(d, fabs((double)got[i] - ref[i]));
		scale = fmax(scale, fabs(ref[i]));
	}
	return d / scale;
}

static void kt_report(const char *what, const char *isa, double d)
{
	printf("\n    %-10s %-7s max |diff| / max(1, max |ref|) = %.2e", what, isa, d);
}

/* ---- Dispatch ---------------------------------------------------------------- */

static void test_dispatch(void)
{
	const tfm_kernels *best = tfm_kernels_for(NULL);

	CU_ASSERT_PTR_NOT_NULL_FATAL(best);
	CU_ASSERT_PTR_NOT_NULL(tfm_kernels_for("scalar"));
	CU_ASSERT_PTR_NULL(tfm_kernels_for("neon"));
	CU_ASSERT_PTR_NULL(tfm_kernels_for(""));
	CU_ASSERT_PTR_NULL(tfm_kernels_for("AVX2"));
	for (int i = 0; i < KT_N_ISAS; i++) {
		const tfm_kernels *k = tfm_kernels_for(kt_isas[i]);
		if (k == NULL)
			continue;
		CU_ASSERT_STRING_EQUAL(k->isa, kt_isas[i]);
		CU_ASSERT(k->matmul && k->matmul_bf16 && k->norm && k->attention && k->glu && k->act);
		CU_ASSERT(k->gemm && k->bias_backward && k->norm_backward && k->rope &&
		          k->attention_backward && k->attention_window && k->glu_backward && k->act_backward && k->softcap &&
		          k->softcap_backward && k->add && k->dropout && k->dropout_backward &&
		          k->cross_entropy && k->embed_backward && k->adamw && k->sumsq && k->scale);
	}
	/* NULL picks the widest set the CPU runs */
	for (int i = KT_N_ISAS - 1; i >= 0; i--)
		if (tfm_kernels_for(kt_isas[i])) {
			CU_ASSERT_STRING_EQUAL(best->isa, kt_isas[i]);
			break;
		}
	printf("\n    best on this CPU: %s\n", best->isa);
}

/* ---- Matrix products ------------------------------------------------------------ */

static double kt_mm_worst[KT_N_ISAS];

/* Checks y = w x (+ b) for one shape on every set and every pool; w is
 * offset by one element so that it is only 4-byte (f32) or 2-byte (bf16)
 * aligned.  With bf16, w is rounded to bf16 and the product is checked in
 * both kernels: matmul on the rounded floats, matmul_bf16 on the bf16. */
static void kt_matmul_case(int n, int rows, int cols, int bias, int bf16)
{
	float *x = kt_random((size_t)n * cols, -1, 1);
	float *wbuf = kt_random((size_t)rows * cols + 1, -1, 1), *w = wbuf + 1;
	float *b = bias ? kt_random((size_t)rows, -1, 1) : NULL;
	double *ref = malloc(sizeof *ref * (size_t)n * rows);
	float *y = malloc(sizeof *y * (size_t)n * rows);
	float *y0 = malloc(sizeof *y0 * (size_t)n * rows);
	float *y1 = malloc(sizeof *y1 * (size_t)rows);
	float *yb = malloc(sizeof *yb * (size_t)n * rows);
	tfm_bf16 *hbuf = malloc(sizeof *hbuf * ((size_t)rows * cols + 1)), *h = hbuf + 1;

	CU_ASSERT_FATAL(ref && y && y0 && y1 && yb && hbuf);
	for (size_t i = 0; bf16 && i < (size_t)rows * cols; i++) {
		h[i] = tfm_f32_to_bf16(w[i]);
		w[i] = tfm_bf16_to_f32(h[i]);
	}
	for (int t = 0; t < n; t++)
		for (int r = 0; r < rows; r++) {
			double s = b ? b[r] : 0;
			for (int k = 0; k < cols; k++)
				s += (double)w[(size_t)r * cols + k] * x[(size_t)t * cols + k];
			ref[(size_t)t * rows + r] = s;
		}
	for (int i = 0; i < KT_N_ISAS; i++) {
		const tfm_kernels *k = tfm_kernels_for(kt_isas[i]);
		if (k == NULL)
			continue;
		for (int p = 0; p < 4; p++) {
			memset(y, 0xff, sizeof *y * (size_t)n * rows);	/* NaN: every output written */
			k->matmul(kt_pool[p], y, x, w, b, n, rows, cols);
			if (bf16) {	/* the bf16 kernel: the same bits, prefill and decode */
				memset(yb, 0xff, sizeof *yb * (size_t)n * rows);
				k->matmul_bf16(kt_pool[p], yb, x, h, b, n, rows, cols);
				CU_ASSERT(memcmp(yb, y, sizeof *y * (size_t)n * rows) == 0);
				k->matmul(kt_pool[p], y1, x, w, b, 1, rows, cols);
				memset(yb, 0xff, sizeof *yb * (size_t)rows);
				k->matmul_bf16(kt_pool[p], yb, x, h, b, 1, rows, cols);
				CU_ASSERT(memcmp(yb, y1, sizeof *y1 * (size_t)rows) == 0);
			}
			double d = kt_rel_diff(y, ref, (size_t)n * rows);
			kt_mm_worst[i] = fmax(kt_mm_worst[i], d);
			if (!(d <= 1e-5))
				printf("\n    matmul %s n %d rows %d cols %d bias %d pool %d: %.2e",
				       kt_isas[i], n, rows, cols, bias, p, d);
			CU_ASSERT(d <= 1e-5);
			if (p == 0)
				memcpy(y0, y, sizeof *y * (size_t)n * rows);
			else
				CU_ASSERT(memcmp(y0, y, sizeof *y * (size_t)n * rows) == 0);
		}
		/* a token alone (decode): within the bound, the same bits at any
		 * thread count */
		for (int t = 0; t < n; t += n > 8 ? n / 5 + 1 : 1) {
			k->matmul(kt_pool[0], y, x + (size_t)t * cols, w, b, 1, rows, cols);
			for (int p = 1; p < 4; p++) {
				k->matmul(kt_pool[p], y1, x + (size_t)t * cols, w, b, 1, rows, cols);
				CU_ASSERT(memcmp(y1, y, sizeof *y1 * (size_t)rows) == 0);
			}
			double d = kt_rel_diff(y1, ref + (size_t)t * rows, (size_t)rows);
			kt_mm_worst[i] = fmax(kt_mm_worst[i], d);
			CU_ASSERT(d <= 1e-5);
		}
	}
	free(x);
	free(wbuf);
	free(hbuf);
	free(yb);
	free(b);
	free(ref);
	free(y);
	free(y0);
	free(y1);
}

static void test_matmul(void)
{
	static const int sizes[] = { 1, 3, 7, 17, 97, 100, 288, 768 };
	static const int ns[] = { 1, 2, 3, 7 };
	/* many tokens (more than a packed block), several chunks of columns */
	static const int big[][3] = {
		{ 17, 97, 288 }, { 97, 100, 768 }, { 100, 288, 97 }, { 128, 64, 1024 },
		{ 130, 288, 100 }, { 130, 17, 1100 }, { 5, 33, 2100 }, { 49, 70, 3000 },
		{ 4, 1, 1 }, { 130, 1, 7 }, { 130, 3, 1 },
	};
	int nsz = (int)(sizeof sizes / sizeof sizes[0]), c = 0;

	for (int a = 0; a < nsz; a++)
		for (int bb = 0; bb < nsz; bb++)
			for (int j = 0; j < (int)(sizeof ns / sizeof ns[0]); j++, c++)
				kt_matmul_case(ns[j], sizes[a], sizes[bb], c % 2, c % 3 == 0);
	for (int j = 0; j < (int)(sizeof big / sizeof big[0]); j++) {
		kt_matmul_case(big[j][0], big[j][1], big[j][2], 0, 0);
		kt_matmul_case(big[j][0], big[j][1], big[j][2], 1, 1);
	}
	for (int i = 0; i < KT_N_ISAS; i++)
		if (kt_kernels(i))
			kt_report("matmul", kt_isas[i], kt_mm_worst[i]);
	printf("\n");
}

/* Nothing to do: nothing written, nothing read; no columns: the bias. */
static void test_empty(void)
{
	float y[6] = { 7, 7, 7, 7, 7, 7 }, b[3] = { 1, 2, 3 }, x[2] = { 1, 1 };
	tfm_attention a = { 0 };

	a.n_head = a.n_kv_head = a.head_dim = a.max_seq = 1;
	a.scale = 1;
	for (int i = 0; i < KT_N_ISAS; i++) {
		const tfm_kernels *k = tfm_kernels_for(kt_isas[i]);
		if (k == NULL)
			continue;
		for (int p = 0; p < 4; p++) {
			k->matmul(kt_pool[p], NULL, NULL, NULL, NULL, 0, 3, 5);
			k->matmul(kt_pool[p], NULL, NULL, NULL, NULL, 2, 0, 5);
			k->attention(kt_pool[p], &a);	/* n = 0 */
			k->matmul(kt_pool[p], y, x, x, b, 2, 3, 0);
			CU_ASSERT(y[0] == 1 && y[1] == 2 && y[2] == 3 && y[3] == 1 && y[5] == 3);
			k->matmul(kt_pool[p], y, x, x, NULL, 2, 3, 0);
			CU_ASSERT(y[0] == 0 && y[4] == 0);
		}
		k->norm(NULL, NULL, NULL, NULL, 0, 8, 1e-5f);
		k->glu(NULL, NULL, 0, TFM_ACT_SILU);
		k->act(NULL, 0, TFM_ACT_RELU);
		/* training: k = 0 is C = 0, or C as it was; the rest do nothing */
		for (int p = 0; p < 4; p++) {
			float c[6] = { 7, 7, 7, 7, 7, 7 };
			tfm_attention_grad g = { 0 };
			g.n_head = g.n_kv_head = g.head_dim = 1;
			k->gemm(kt_pool[p], 0, 0, 0, 3, 5, NULL, 5, NULL, 3, NULL, 3, 0);
			k->gemm(kt_pool[p], 1, 1, 2, 0, 5, NULL, 2, NULL, 5, NULL, 1, 1);
			k->gemm(kt_pool[p], 0, 0, 2, 2, 0, NULL, 1, NULL, 2, c, 3, 1);
			CU_ASSERT(c[0] == 7 && c[4] == 7);
			k->gemm(kt_pool[p], 0, 0, 2, 2, 0, NULL, 1, NULL, 2, c, 3, 0);
			CU_ASSERT(c[0] == 0 && c[1] == 0 && c[2] == 7 && c[3] == 0 && c[4] == 0 && c[5] == 7);
			k->norm_backward(kt_pool[p], NULL, NULL, NULL, NULL, NULL, NULL, 0, 8, 1e-5f);
			k->attention_backward(kt_pool[p], &g);	/* n = 0 */
			tfm_attention w = { 0 };
			w.n_head = w.n_kv_head = w.head_dim = 1;
			k->attention_window(kt_pool[p], &w);	/* n = 0 */
			CU_ASSERT(k->cross_entropy(kt_pool[p], NULL, NULL, NULL, 0, 10, 0.1f, 1) == 0);
			k->embed_backward(kt_pool[p], NULL, NULL, NULL, 0, 8, 1);
		}
		k->bias_backward(y, NULL, 0, 3);
		CU_ASSERT(y[0] == 0);
		k->rope(NULL, 0, 8, 2, 4, NULL, NULL, 0, 0);
		k->glu_backward(NULL, NULL, NULL, NULL, NULL, 0, TFM_ACT_SILU);
		k->act_backward(NULL, NULL, NULL, 0, TFM_ACT_RELU);
		k->softcap(NULL, 0, 30);
		k->softcap_backward(NULL, NULL, NULL, 0, 30);
		k->add(NULL, NULL, NULL, 0);
		k->dropout(NULL, NULL, 0, 0.5f, 1);
		k->dropout_backward(NULL, NULL, 0, 0.5f, 1);
		k->adamw(NULL, NULL, NULL, NULL, 0, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.1f, 0.05f);
		CU_ASSERT(k->sumsq(NULL, 0) == 0);
		k->scale(NULL, 0, 2);
	}
}

/* ---- Norms ------------------------------------------------------------------------ */

static void test_norm(void)
{
	static const int widths[] = { 1, 5, 8, 20, 288, 1000 };
	const int rows = 3;
	const float eps = 1e-5f;

	for (int i = 0; i < KT_N_ISAS; i++) {
		const tfm_kernels *k = kt_kernels(i);
		double worst[2] = { 0, 0 };
		if (k == NULL)
			continue;
		for (int j = 0; j < (int)(sizeof widths / sizeof widths[0]); j++)
			for (int layer = 0; layer < 2; layer++) {
				const int width = widths[j];
				const size_t len = (size_t)rows * width;
				float *in = kt_random(len, -2, 3);
				float *w = kt_random((size_t)width, 0.5f, 1.5f);
				float *b = layer ? kt_random((size_t)width, -1, 1) : NULL;
				float *out = malloc(sizeof *out * len);
				double *ref = malloc(sizeof *ref * len);
				CU_ASSERT_FATAL(out && ref);
				for (int r = 0; r < rows; r++) {
					const float *x = in + (size_t)r * width;
					double mean = 0, ss = 0;
					if (layer) {
						for (int c = 0; c < width; c++)
							mean += x[c];
						mean /= width;
					}
					for (int c = 0; c < width; c++)
						ss += (x[c] - mean) * (x[c] - mean);
					double inv = 1 / sqrt(ss / width + eps);
					for (int c = 0; c < width; c++)
						ref[(size_t)r * width + c] = (x[c] - mean) * inv * w[c] + (b ? b[c] : 0);
				}
				k->norm(out, in, w, b, rows, width, eps);
				double d = kt_rel_diff(out, ref, len);
				CU_ASSERT(d <= 1e-5);
				worst[layer] = fmax(worst[layer], d);
				/* in place gives the same bits */
				k->norm(in, in, w, b, rows, width, eps);
				CU_ASSERT(memcmp(in, out, sizeof *out * len) == 0);
				free(in);
				free(w);
				free(b);
				free(out);
				free(ref);
			}
		kt_report("rmsnorm", kt_isas[i], worst[0]);
		kt_report("layernorm", kt_isas[i], worst[1]);
	}
	printf("\n");
}

/* ---- Attention ------------------------------------------------------------------------ */

/* The reference: out[t, h] = softmax(q . K * scale, soft-capped) V, in double,
 * the probabilities dropped and rescaled when a->dropout > 0; k and v as
 * the cache lays them out, [n_kv_head, max_seq, head_dim], as floats. */
static void kt_attention_ref(const tfm_attention *a, const float *k, const float *v, double *out)
{
	const int d = a->head_dim, qd = a->n_head * d;
	double *s = malloc(sizeof *s * (size_t)(a->pos + a->n));

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	for (int t = 0; t < a->n; t++)
		for (int h = 0; h < a->n_head; h++) {
			const int g = h / (a->n_head / a->n_kv_head), len = a->pos + t + 1;
			const size_t head = (size_t)g * a->max_seq * d;
			const float *q = a->q + (size_t)t * qd + (size_t)h * d;
			double mx = -INFINITY, sum = 0;
			for (int j = 0; j < len; j++) {
				const float *kr = k + head + (size_t)j * d;
				double dot = 0;
				for (int c = 0; c < d; c++)
					dot += (double)q[c] * kr[c];
				dot *= a->scale;
				if (a->softcap > 0)
					dot = a->softcap * tanh(dot / a->softcap);
				s[j] = dot;
				mx = fmax(mx, dot);
			}
			for (int j = 0; j < len; j++)
				sum += s[j] = exp(s[j] - mx);
			/* dropout: mask element (h * L + pos + t) * L + j, L = pos + n */
			for (int j = 0; a->dropout > 0 && j < len; j++) {
				const uint64_t L = (uint64_t)(a->pos + a->n);
				const uint64_t e = ((uint64_t)h * L + (uint64_t)(a->pos + t)) * L + (uint64_t)j;
				s[j] *= tfm_dropout_keep(a->seed, e, a->dropout) ? 1 / (1 - (double)a->dropout) : 0;
			}
			for (int c = 0; c < d; c++) {
				double o = 0;
				for (int j = 0; j < len; j++)
					o += s[j] * v[head + (size_t)j * d + c];
				out[(size_t)t * qd + (size_t)h * d + c] = o / sum;
			}
		}
	free(s);
}

/* Attention over a cache of floats and of halves, filled by kv_store from
 * rows of k and v as the forward makes them: within 1e-5 of the double
 * reference on the cache's values (halves as floats), the same bits at
 * every thread count. */
static void test_attention(void)
{
	/* 16 query heads on one key/value head: more queries than a pass takes;
	 * head_dim 80, 96 and 256: whole vectors past a group of eight */
	static const int heads[][2] = { { 4, 4 }, { 4, 2 }, { 4, 1 }, { 6, 3 }, { 1, 1 }, { 16, 1 } };
	static const int dims[] = { 4, 8, 12, 20, 48, 64, 80, 96, 128, 256 };
	/* pos, n: one token or several, past the first block of keys (128) or not */
	static const int chunks[][2] = { { 0, 1 }, { 0, 5 }, { 7, 1 }, { 13, 6 }, { 40, 9 },
	                                 { 150, 1 }, { 60, 11 }, { 0, 70 }, { 120, 12 }, { 255, 2 } };
	/* soft-cap and dropout: off, the cap, both */
	static const float caps[] = { 0.0f, 1.5f, 1.5f }, drops[] = { 0.0f, 0.0f, 0.3f };
	double worst[2][KT_N_ISAS] = { { 0 } };

	for (int hi = 0; hi < (int)(sizeof heads / sizeof heads[0]); hi++)
	for (int di = 0; di < (int)(sizeof dims / sizeof dims[0]); di++)
	for (int ci = 0; ci < (int)(sizeof chunks / sizeof chunks[0]); ci++)
	for (int si = 0; si < 3; si++)
	for (int half = 0; half < 2; half++) {
		tfm_attention a = { 0 };
		const int d = dims[di];
		a.n_head = heads[hi][0];
		a.n_kv_head = heads[hi][1];
		a.head_dim = d;
		a.pos = chunks[ci][0];
		a.n = chunks[ci][1];
		a.max_seq = a.pos + a.n + 3;
		a.scale = 1.0f / sqrtf((float)d);
		a.softcap = caps[si];
		a.dropout = drops[si];
		a.seed = 1234567 + (uint64_t)ci;
		a.kv_dtype = half ? TFM_F16 : TFM_F32;
		const int kvd = a.n_kv_head * d, len = a.pos + a.n;
		const size_t qn = (size_t)a.n * a.n_head * d, kvn = (size_t)a.max_seq * kvd;
		const size_t es = half ? 2 : 4;
		float *q = kt_random(qn, -3, 3);	/* scores of a few units: the cap matters */
		float *k = kt_random((size_t)len * kvd, -1, 1), *v = kt_random((size_t)len * kvd, -1, 1);
		float *kf = malloc(sizeof *kf * kvn), *vf = malloc(sizeof *vf * kvn);
		unsigned char *kc = malloc(es * kvn), *vc = malloc(es * kvn);
		float *out = malloc(sizeof *out * qn), *out0 = malloc(sizeof *out0 * qn);
		float *scores = malloc(sizeof *scores * (size_t)a.max_seq * 3);
		double *ref = malloc(sizeof *ref * qn);
		CU_ASSERT_FATAL(kf && vf && kc && vc && out && out0 && scores && ref);
		/* the cache's values as floats, rows past the last position NaN:
		 * never read, or they would show */
		for (int g = 0; g < a.n_kv_head; g++)
			for (int j = 0; j < a.max_seq; j++)
				for (int c = 0; c < d; c++) {
					const size_t at = ((size_t)g * a.max_seq + (size_t)j) * d + (size_t)c;
					const size_t from = (size_t)j * kvd + (size_t)g * d + (size_t)c;
					kf[at] = j >= len ? NAN : half ? (float)(_Float16)k[from] : k[from];
					vf[at] = j >= len ? NAN : half ? (float)(_Float16)v[from] : v[from];
				}
		a.q = q;
		a.k_cache = kc;
		a.v_cache = vc;
		a.scores = scores;
		kt_attention_ref(&a, kf, vf, ref);
		for (int i = 0; i < KT_N_ISAS; i++) {
			const tfm_kernels *kern = tfm_kernels_for(kt_isas[i]);
			if (kern == NULL)
				continue;
			/* the cache as the forward fills it: the first pos rows, then
			 * the chunk's, the rest NaN */
			memset(kc, 0xff, es * kvn);
			memset(vc, 0xff, es * kvn);
			kern->kv_store(kc, vc, k, v, a.pos, 0, a.n_kv_head, d, a.max_seq, a.kv_dtype);
			kern->kv_store(kc, vc, k + (size_t)a.pos * kvd, v + (size_t)a.pos * kvd, a.n, a.pos,
			               a.n_kv_head, d, a.max_seq, a.kv_dtype);
			for (size_t j = 0; j < kvn; j++) {
				float kx, vx;
				if (half) {
					_Float16 hk, hv;
					memcpy(&hk, kc + 2 * j, 2);
					memcpy(&hv, vc + 2 * j, 2);
					kx = (float)hk;
					vx = (float)hv;
				} else {
					memcpy(&kx, kc + 4 * j, 4);
					memcpy(&vx, vc + 4 * j, 4);
				}
				if (!(isnan(kf[j]) ? isnan(kx) && isnan(vx) : kx == kf[j] && vx == vf[j])) {
					CU_FAIL("kv_store did not write the cache as attention reads it");
					break;
				}
			}
			for (int p = 0; p < 3; p++) {	/* NULL, 1 and 2 threads */
				a.out = out;
				memset(out, 0xff, sizeof *out * qn);
				kern->attention(kt_pool[p], &a);
				double dd = kt_rel_diff(out, ref, qn);
				worst[half][i] = fmax(worst[half][i], dd);
				if (!(dd <= 1e-5))
					printf("\n    attention %s %s heads %d/%d dim %d pos %d n %d cap %g drop %g "
					       "pool %d: %.2e", kt_isas[i], half ? "f16" : "f32", a.n_head, a.n_kv_head, d,
					       a.pos, a.n, a.softcap, a.dropout, p, dd);
				CU_ASSERT(dd <= 1e-5);
				if (p == 0)
					memcpy(out0, out, sizeof *out * qn);
				else
					CU_ASSERT(memcmp(out0, out, sizeof *out * qn) == 0);
			}
		}
		free(q);
		free(k);
		free(v);
		free(kf);
		free(vf);
		free(kc);
		free(vc);
		free(out);
		free(out0);
		free(scores);
		free(ref);
	}
	for (int half = 0; half < 2; half++)
		for (int i = 0; i < KT_N_ISAS; i++)
			if (kt_kernels(i))
				kt_report(half ? "attention, f16 cache" : "attention", kt_isas[i], worst[half][i]);
	printf("\n");
}

/* ---- Activations ------------------------------------------------------------------------ */

static double kt_act_ref(double x, int act)
{
	switch (act) {
	case TFM_ACT_RELU:
		return x > 0 ? x : 0;
	case TFM_ACT_SILU:
		return x / (1 + exp(-x));
	case TFM_ACT_GELU_TANH:
		return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
	case TFM_ACT_GELU_ERF:
		return 0.5 * x * (1 + erf(x / sqrt(2)));
	}
	return NAN;
}

static void test_activations(void)
{
	static const char *const names[] = { "relu", "silu", "gelu tanh", "gelu erf" };
	static const float special[] = { 0.0f, -0.0f, 1e-3f, -1e-3f, 1.0f, -1.0f, 30.0f, -30.0f,
	                                 100.0f, -100.0f, 1e-30f, -1e-30f };
	const long n = 1001;
	float *x = kt_random((size_t)n, -12, 12), *g = kt_random((size_t)n, -2, 2);
	float *h = malloc(sizeof *h * (size_t)n);

	CU_ASSERT_FATAL(h != NULL);
	memcpy(x, special, sizeof special);
	for (int i = 0; i < KT_N_ISAS; i++) {
		const tfm_kernels *k = kt_kernels(i);
		if (k == NULL)
			continue;
		for (int act = TFM_ACT_RELU; act <= TFM_ACT_GELU_ERF; act++) {
			double da = 0, dg = 0;
			if (act != TFM_ACT_SILU) {	/* act: relu, gelu tanh, gelu erf */
				memcpy(h, x, sizeof *h * (size_t)n);
				k->act(h, n, act);
				for (long j = 0; j < n; j++) {
					double r = kt_act_ref(x[j], act);
					da = fmax(da, fabs(h[j] - r) / fmax(1, fabs(r)));
				}
				CU_ASSERT(da <= 1e-5);
			}
			if (act != TFM_ACT_RELU) {	/* glu: silu, gelu tanh, gelu erf */
				memcpy(h, g, sizeof *h * (size_t)n);
				k->glu(h, x, n, act);
				for (long j = 0; j < n; j++) {
					double r = kt_act_ref(x[j], act) * g[j];
					dg = fmax(dg, fabs(h[j] - r) / fmax(1, fabs(r)));
				}
				CU_ASSERT(dg <= 1e-5);
			}
			printf("\n    %-10s %-7s max |diff| / max(1, |ref|): act %.2e, glu %.2e",
			       names[act], kt_isas[i], da, dg);
		}
	}
	free(x);
	free(g);
	free(h);
	printf("\n");
}

/* ---- Training: helpers ------------------------------------------------------------------- */

/* The training kernels are held to the bounds above: |got - ref| <= tol *
 * max(1, max |ref|) over an output, tol 1e-5 for sums (2e-5 for the
 * attention's gradients, sums of products of sums), per element for the
 * elementwise ones.  Gradients are also compared with central finite
 * differences of a double-precision forward written here (step 1e-4,
 * whose own error is far below the bounds).  Everything that takes a pool
 * must give the same bits with NULL, 1, 2 and 3 threads. */

static double *kt_dup(const float *x, size_t n)
{
	double *d = malloc(sizeof *d * (n ? n : 1));

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	for (size_t i = 0; i < n; i++)
		d[i] = x[i];
	return d;
}

static float *kt_copy(const float *x, size_t n)
{
	float *y = malloc(sizeof *y * (n ? n : 1));

	CU_ASSERT_PTR_NOT_NULL_FATAL(y);
	memcpy(y, x, sizeof *y * n);
	return y;
}

/* The largest error of one kernel over its cases, per set, and its report. */
typedef struct kt_worst {
	double d[KT_N_ISAS];
} kt_worst;

static void kt_note(kt_worst *w, int isa, double d, double tol, const char *what)
{
	w->d[isa] = fmax(w->d[isa], d);
	if (!(d <= tol))
		printf("\n    %s %s: %.2e > %.0e", what, kt_isas[isa], d, tol);
	CU_ASSERT(d <= tol);
}

static void kt_reports(const char *what, const kt_worst *w)
{
	for (int i = 0; i < KT_N_ISAS; i++)
		if (tfm_kernels_for(kt_isas[i]))
			kt_report(what, kt_isas[i], w->d[i]);
}

/* ---- Training: gemm --------------------------------------------------------------------------- */

static kt_worst kt_gemm_worst;

/* One product on every set and pool: C = op(A) op(B) (+ C), A, B, C with
 * row strides longer than their rows; the strides' padding of C must stay. */
static void kt_gemm_case(int ta, int tb, int m, int n, int k, int acc)
{
	const int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 5, ldc = n + 2;
	const size_t na = (size_t)(ta ? k : m) * lda, nb = (size_t)(tb ? n : k) * ldb;
	const size_t nc = (size_t)m * ldc;
	float *a = kt_random(na, -1, 1), *b = kt_random(nb, -1, 1), *c0 = kt_random(nc, -1, 1);
	float *c = malloc(sizeof *c * nc), *first = malloc(sizeof *first * nc);
	double *ref = malloc(sizeof *ref * (size_t)m * n);
	float *got = malloc(sizeof *got * (size_t)m * n);

	CU_ASSERT_FATAL(c && first && ref && got);
	for (int i = 0; i < m; i++)
		for (int j = 0; j < n; j++) {
			double sum = acc ? c0[(size_t)i * ldc + j] : 0;
			for (int p = 0; p < k; p++)
				sum += (double)(ta ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p]) *
				       (tb ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j]);
			ref[(size_t)i * n + j] = sum;
		}
	for (int s = 0; s < KT_N_ISAS; s++) {
		const tfm_kernels *kk = tfm_kernels_for(kt_isas[s]);
		if (kk == NULL)
			continue;
		for (int p = 0; p < 4; p++) {
			memcpy(c, c0, sizeof *c * nc);
			kk->gemm(kt_pool[p], ta, tb, m, n, k, a, lda, b, ldb, c, ldc, acc);
			int pad = 1;
			for (int i = 0; i < m; i++) {
				memcpy(got + (size_t)i * n, c + (size_t)i * ldc, sizeof *got * (size_t)n);
				pad &= memcmp(c + (size_t)i * ldc + n, c0 + (size_t)i * ldc + n, 2 * sizeof *c) == 0;
			}
			CU_ASSERT(pad);
			char what[96];
			snprintf(what, sizeof what, "gemm ta %d tb %d m %d n %d k %d acc %d pool %d", ta, tb,
			         m, n, k, acc, p);
			kt_note(&kt_gemm_worst, s, kt_rel_diff(got, ref, (size_t)m * n), 1e-5, what);
			if (p == 0)
				memcpy(first, c, sizeof *c * nc);
			else
				CU_ASSERT(memcmp(first, c, sizeof *c * nc) == 0);
		}
	}
	free(a);
	free(b);
	free(c0);
	free(c);
	free(first);
	free(ref);
	free(got);
}

static void test_gemm(void)
{
	static const int sizes[] = { 1, 3, 17, 50 };
	/* several k-blocks, panels and tiles at every edge; the s15 shapes scaled */
	static const int big[][3] = {
		{ 97, 100, 500 }, { 300, 70, 1000 }, { 33, 290, 777 }, { 130, 49, 1600 },
		{ 2, 700, 401 }, { 700, 3, 385 }, { 64, 96, 384 }, { 200, 288, 288 },
	};
	int c = 0;

	for (int t = 0; t < 4; t++)
		for (int i = 0; i < 4; i++)
			for (int j = 0; j < 4; j++)
				for (int l = 0; l < 4; l++, c++)
					kt_gemm_case(t & 1, t >> 1, sizes[i], sizes[j], sizes[l], c % 2);
	for (int i = 0; i < (int)(sizeof big / sizeof big[0]); i++)
		for (int t = 0; t < 4; t++)
			kt_gemm_case(t & 1, t >> 1, big[i][0], big[i][1], big[i][2], (i + t) % 2);
	kt_reports("gemm", &kt_gemm_worst);
	printf("\n");
}

/* ---- Training: bias, norm ------------------------------------------------------------------- */

static void test_bias_backward(void)
{
	static const int shapes[][2] = { { 1, 1 }, { 5, 7 }, { 64, 288 }, { 300, 1000 }, { 2048, 33 } };
	kt_worst w = { { 0 } };

	for (int c = 0; c < (int)(sizeof shapes / sizeof shapes[0]); c++) {
		const int n = shapes[c][0], width = shapes[c][1];
		float *dy = kt_random((size_t)n * width, -1, 1), *db0 = kt_random((size_t)width, -1, 1);
		double *ref = kt_dup(db0, (size_t)width);
		for (int r = 0; r < n; r++)
			for (int j = 0; j < width; j++)
				ref[j] += dy[(size_t)r * width + j];
		for (int i = 0; i < KT_N_ISAS; i++) {
			const tfm_kernels *k = tfm_kernels_for(kt_isas[i]);
			if (k == NULL)
				continue;
			float *db = kt_copy(db0, (size_t)width);
			k->bias_backward(db, dy, n, width);
			kt_note(&w, i, kt_rel_diff(db, ref, (size_t)width), 1e-5, "bias_backward");
			free(db);
		}
		free(dy);
		free(db0);
		free(ref);
	}
	kt_reports("bias", &w);
	printf("\n");
}

/* sum of dout * norm(in) over the rows, in double: the loss whose gradient
 * norm_backward gives. */
static double kt_norm_loss(const double *in, const double *w, const double *b, const float *dout,
                           int rows, int width, double eps)
{
	double loss = 0;

	for (int r = 0; r < rows; r++) {
		const double *x = in + (size_t)r * width;
		double mean = 0, ss = 0;
		if (b) {
			for (int c = 0; c < width; c++)
				mean += x[c];
			mean /= width;
		}
		for (int c = 0; c < width; c++)
			ss += (x[c] - mean) * (x[c] - mean);
		const double inv = 1 / sqrt(ss / width + eps);
		for (int c = 0; c < width; c++)
			loss += dout[(size_t)r * width + c] * ((x[c] - mean) * inv * w[c] + (b ? b[c] : 0));
	}
	return loss;
}

/* d loss / d x[i] for i < n by central differences (x perturbed in place). */
#define KT_FD_STEP 1e-4
#define KT_FD(x, n, out, expr) do { \
	for (size_t fd_i = 0; fd_i < (size_t)(n); fd_i++) { \
		const double fd_x = (x)[fd_i]; \
		(x)[fd_i] = fd_x + KT_FD_STEP; \
		const double fd_p = (expr); \
		(x)[fd_i] = fd_x - KT_FD_STEP; \
		const double fd_m = (expr); \
		(x)[fd_i] = fd_x; \
		(out)[fd_i] = (fd_p - fd_m) / (2 * KT_FD_STEP); \
	} \
} while (0)

static void test_norm_backward(void)
{
	static const int shapes[][2] = { { 1, 1 }, { 3, 5 }, { 2, 20 }, { 4, 288 }, { 600, 33 },
	                                 { 1100, 8 } };
	const float eps = 1e-5f;
	kt_worst w[2] = { { { 0 } }, { { 0 } } }, fd[2] = { { { 0 } }, { { 0 } } };

	for (int c = 0; c < (int)(sizeof shapes / sizeof shapes[0]); c++)
	for (int ln = 0; ln < 2; ln++) {
		const int rows = shapes[c][0], width = shapes[c][1];
		const size_t len = (size_t)rows * width;
		float *in = kt_random(len, -2, 3), *dout = kt_random(len, -1, 1);
		float *wt = kt_random((size_t)width, 0.5f, 1.5f);
		float *b = ln ? kt_random((size_t)width, -1, 1) : NULL;
		float *din0 = kt_random(len, -1, 1), *dw0 = kt_random((size_t)width, -1, 1);
		float *db0 = kt_random((size_t)width, -1, 1);
		double *ref_in = kt_dup(din0, len), *ref_w = kt_dup(dw0, (size_t)width);
		double *ref_b = kt_dup(db0, (size_t)width);
		double *din_fd = NULL;

		/* the reference: the gradient of the loss, analytically in double */
		for (int r = 0; r < rows; r++) {
			const float *x = in + (size_t)r * width, *dy = dout + (size_t)r * width;
			double mean = 0, ss = 0, sg = 0, sgx = 0;
			if (ln) {
				for (int j = 0; j < width; j++)
					mean += x[j];
				mean /= width;
			}
			for (int j = 0; j < width; j++)
				ss += (x[j] - mean) * (x[j] - mean);
			const double inv = 1 / sqrt(ss / width + eps);
			for (int j = 0; j < width; j++) {
				const double xh = (x[j] - mean) * inv, g = (double)dy[j] * wt[j];
				sg += g;
				sgx += g * xh;
				ref_w[j] += dy[j] * xh;
				ref_b[j] += dy[j];
			}
			for (int j = 0; j < width; j++) {
				const double xh = (x[j] - mean) * inv, g = (double)dy[j] * wt[j];
				ref_in[(size_t)r * width + j] +=
				    inv * (g - (ln ? sg / width : 0) - xh * sgx / width);
			}
		}
		/* and, where it is cheap, the same by finite differences */
		if (len <= 400) {
			double *xd = kt_dup(in, len), *wd = kt_dup(wt, (size_t)width);
			double *bd = b ? kt_dup(b, (size_t)width) : NULL;
			din_fd = malloc(sizeof *din_fd * len);
			CU_ASSERT_PTR_NOT_NULL_FATAL(din_fd);
			KT_FD(xd, len, din_fd, kt_norm_loss(xd, wd, bd, dout, rows, width, eps));
			for (size_t j = 0; j < len; j++)
				din_fd[j] += din0[j];
			free(xd);
			free(wd);
			free(bd);
		}
		for (int i = 0; i < KT_N_ISAS; i++) {
			const tfm_kernels *k = tfm_kernels_for(kt_isas[i]);
			float *f_in = NULL, *f_w = NULL, *f_b = NULL;
			if (k == NULL)
				continue;
			for (int p = 0; p < 4; p++) {
				float *dx = kt_copy(din0, len), *dw = kt_copy(dw0, (size_t)width);
				float *db = ln ? kt_copy(db0, (size_t)width) : NULL;
				k->norm_backward(kt_pool[p], dx, dw, db, dout, in, wt, rows, width, eps);
				kt_note(&w[ln], i, kt_rel_diff(dx, ref_in, len), 1e-5, "norm_backward din");
				kt_note(&w[ln], i, kt_rel_diff(dw, ref_w, (size_t)width), 1e-5, "norm_backward dw");
				if (ln)
					kt_note(&w[ln], i, kt_rel_diff(db, ref_b, (size_t)width), 1e-5,
					        "norm_backward db");
				if (din_fd)
					kt_note(&fd[ln], i, kt_rel_diff(dx, din_fd, len), 1e-5,
					        "norm_backward din vs differences");
				if (p == 0) {
					f_in = dx, f_w = dw, f_b = db;
					continue;
				}
				CU_ASSERT(memcmp(dx, f_in, sizeof *dx * len) == 0);
				CU_ASSERT(memcmp(dw, f_w, sizeof *dw * (size_t)width) == 0);
				CU_ASSERT(!ln || memcmp(db, f_b, sizeof *db * (size_t)width) == 0);
				free(dx);
				free(dw);
				free(db);
			}
			free(f_in);
			free(f_w);
			free(f_b);
		}
		free(in);
		free(dout);
		free(wt);
		free(b);
		free(din0);
		free(dw0);
		free(db0);
		free(ref_in);
		free(ref_w);
		free(ref_b);
		free(din_fd);
	}
	kt_reports("rms bwd", &w[0]);
	kt_reports("rms fd", &fd[0]);
	kt_reports("ln bwd", &w[1]);
	kt_reports("ln fd", &fd[1]);
	printf("\n");
}

/* ---- Training: RoPE ------------------------------------------------------------------------- */

static void test_rope(void)
{
	static const int dims[] = { 2, 8, 12, 48, 66 };
	kt_worst w = { { 0 } };

	for (int di = 0; di < (int)(sizeof dims / sizeof dims[0]); di++)
	for (int style = 0; style < 2; style++)
	for (int inv = 0; inv < 2; inv++) {
		const int n = 7, heads = 3, d = dims[di], half = d / 2, ld = heads * d + 5;
		const size_t len = (size_t)n * ld;
		float *x0 = kt_random(len, -2, 2), *cs = malloc(sizeof *cs * (size_t)n * half);
		float *sn = malloc(sizeof *sn * (size_t)n * half);
		double *ref = kt_dup(x0, len);
		CU_ASSERT_FATAL(cs && sn);
		for (int t = 0; t < n; t++)
			for (int i = 0; i < half; i++) {
				const double a = (t + 3) * pow(10000, -2.0 * i / d);
				cs[t * half + i] = (float)cos(a);
				sn[t * half + i] = (float)sin(a);
			}
		for (int t = 0; t < n; t++)
			for (int h = 0; h < heads; h++)
				for (int i = 0; i < half; i++) {
					const size_t o = (size_t)t * ld + (size_t)h * d;
					const size_t iu = o + (style ? 2 * i : i), iw = o + (style ? 2 * i + 1 : i + half);
					const double c = cs[t * half + i], s = inv ? -sn[t * half + i] : sn[t * half + i];
					const double u = x0[iu], v = x0[iw];
					ref[iu] = u * c - v * s;
					ref[iw] = u * s + v * c;
				}
		for (int i = 0; i < KT_N_ISAS; i++) {
			const tfm_kernels *k = tfm_kernels_for(kt_isas[i]);
			if (k == NULL)
				continue;
			float *x = kt_copy(x0, len);
			k->rope(x, n, ld, heads, d, cs, sn, style, inv);
			kt_note(&w, i, kt_rel_diff(x, ref, len), 1e-6, "rope");
			/* the inverse undoes it */
			k->rope(x, n, ld, heads, d, cs, sn, style, !inv);
			double *back = kt_dup(x0, len);
			kt_note(&w, i, kt_rel_diff(x, back, len), 1e-6, "rope and its inverse");
			free(back);
			free(x);
		}
		free(x0);
		free(cs);
		free(sn);
		free(ref);
	}
	kt_reports("rope", &w);
	printf("\n");
}

/* ---- Training: attention's backward ------------------------------------------------------------ */

/* One window's attention, in double: out (or, with dout, returns the
 * loss sum dout . out), q [n, H d], k, v [n, KV d], causal, positions
 * 0..n-1, the dropout masks of the kernels (att_dropout_row's element
 * (h n + t) n + s).  With dq set, also the gradients of that loss,
 * analytically, added to dq, dk, dv. */
typedef struct kt_att {
	int n, n_head, n_kv_head, head_dim;
	double scale, softcap, dropout;
	uint64_t seed;
} kt_att;

static double kt_att_ref(const kt_att *a, const double *q, const double *k, const double *v,
                         const float *dout, double *out, double *dq, double *dk, double *dv)
{
	const int n = a->n, d = a->head_dim, kvd = a->n_kv_head * d, qd = a->n_head * d;
	double *c = malloc(sizeof *c * (size_t)n), *p = malloc(sizeof *p * (size_t)n);
	double *keep = malloc(sizeof *keep * (size_t)n), *dp = malloc(sizeof *dp * (size_t)n);
	double loss = 0;

	CU_ASSERT_FATAL(c && p && keep && dp);
	for (int h = 0; h < a->n_head; h++)
		for (int t = 0; t < n; t++) {
			const int g = h / (a->n_head / a->n_kv_head);
			const double *qt = q + (size_t)t * qd + (size_t)h * d;
			double mx = -INFINITY, sum = 0, D = 0;
			for (int s = 0; s <= t; s++) {
				double dot = 0;
				for (int j = 0; j < d; j++)
					dot += qt[j] * k[(size_t)s * kvd + (size_t)g * d + j];
				dot *= a->scale;
				if (a->softcap > 0)
					dot = a->softcap * tanh(dot / a->softcap);
				c[s] = dot;
				mx = fmax(mx, dot);
			}
			for (int s = 0; s <= t; s++)
				sum += p[s] = exp(c[s] - mx);
			for (int s = 0; s <= t; s++) {
				p[s] /= sum;
				const uint64_t e = ((uint64_t)h * n + (uint64_t)t) * n + (uint64_t)s;
				keep[s] = a->dropout > 0 ? (tfm_dropout_keep(a->seed, e, (float)a->dropout)
				                            ? 1 / (1 - a->dropout) : 0) : 1;
			}
			for (int j = 0; j < d; j++) {
				double o = 0;
				for (int s = 0; s <= t; s++)
					o += p[s] * keep[s] * v[(size_t)s * kvd + (size_t)g * d + j];
				if (out)
					out[(size_t)t * qd + (size_t)h * d + j] = o;
				if (dout)
					loss += dout[(size_t)t * qd + (size_t)h * d + j] * o;
			}
			if (!dq)
				continue;
			const float *dy = dout + (size_t)t * qd + (size_t)h * d;
			for (int s = 0; s <= t; s++) {
				double x = 0;
				for (int j = 0; j < d; j++)
					x += dy[j] * v[(size_t)s * kvd + (size_t)g * d + j];
				dp[s] = x * keep[s];
				D += p[s] * dp[s];
			}
			for (int s = 0; s <= t; s++) {
				double ds = p[s] * (dp[s] - D);
				if (a->softcap > 0)
					ds *= 1 - (c[s] / a->softcap) * (c[s] / a->softcap);
				ds *= a->scale;
				for (int j = 0; j < d; j++) {
					const size_t ks = (size_t)s * kvd + (size_t)g * d + j;
					dq[(size_t)t * qd + (size_t)h * d + j] += ds * k[ks];
					dk[ks] += ds * qt[j];
					dv[ks] += p[s] * keep[s] * dy[j];
				}
			}
		}
	free(c);
	free(p);
	free(keep);
	free(dp);
	return loss;
}

static kt_worst kt_atb_worst, kt_atb_fd, kt_atw_worst;

/* One window on every set and pool: the forward kernel's output, then the
 * backward against the reference (and finite differences when fd). */
static void kt_atb_case(int n, int n_head, int n_kv_head, int d, float cap, float drop, int fd)
{
	const int qd = n_head * d, kvd = n_kv_head * d;
	const size_t qn = (size_t)n * qd, kn = (size_t)n * kvd;
	kt_att r = { n, n_head, n_kv_head, d, 1 / sqrt((double)d), cap, drop, 99 + (uint64_t)n };
	float *q = kt_random(qn, -2, 2), *k = kt_random(kn, -1, 1), *v = kt_random(kn, -1, 1);
	float *dout = kt_random(qn, -1, 1);
	float *dq0 = kt_random(qn, -1, 1), *dk0 = kt_random(kn, -1, 1), *dv0 = kt_random(kn, -1, 1);
	double *qd_ = kt_dup(q, qn), *kd = kt_dup(k, kn), *vd = kt_dup(v, kn);
	double *rq = kt_dup(dq0, qn), *rk = kt_dup(dk0, kn), *rv = kt_dup(dv0, kn);
	double *fq = NULL, *fk = NULL, *fv = NULL;
	float *out = malloc(sizeof *out * qn), *wout = malloc(sizeof *wout * qn);
	double *ro = malloc(sizeof *ro * qn);
	const long scratch_n = tfm_attention_grad_scratch(n, n_head, d, 3) + 16;
	float *scratch = malloc(sizeof *scratch * (size_t)scratch_n);
	float *scores = malloc(sizeof *scores * (size_t)n * 3);
	char what[128];

	CU_ASSERT_FATAL(out && wout && ro && scratch && scores);
	snprintf(what, sizeof what, "attention_backward n %d heads %d/%d dim %d cap %g drop %g", n,
	         n_head, n_kv_head, d, cap, drop);
	kt_att_ref(&r, qd_, kd, vd, dout, NULL, rq, rk, rv);
	kt_att_ref(&r, qd_, kd, vd, NULL, ro, NULL, NULL, NULL);
	if (fd) {
		fq = kt_dup(dq0, qn);
		fk = kt_dup(dk0, kn);
		fv = kt_dup(dv0, kn);
		double *g = malloc(sizeof *g * (qn > kn ? qn : kn));
		CU_ASSERT_PTR_NOT_NULL_FATAL(g);
		KT_FD(qd_, qn, g, kt_att_ref(&r, qd_, kd, vd, dout, NULL, NULL, NULL, NULL));
		for (size_t i = 0; i < qn; i++)
			fq[i] += g[i];
		KT_FD(kd, kn, g, kt_att_ref(&r, qd_, kd, vd, dout, NULL, NULL, NULL, NULL));
		for (size_t i = 0; i < kn; i++)
			fk[i] += g[i];
		KT_FD(vd, kn, g, kt_att_ref(&r, qd_, kd, vd, dout, NULL, NULL, NULL, NULL));
		for (size_t i = 0; i < kn; i++)
			fv[i] += g[i];
		free(g);
	}
	for (int i = 0; i < KT_N_ISAS; i++) {
		const tfm_kernels *kk = tfm_kernels_for(kt_isas[i]);
		float *first[3] = { NULL, NULL, NULL };
		if (kk == NULL)
			continue;
		tfm_attention fa = { q, k, v, out, scores, n, 0, n_head, n_kv_head, d, n,
		                     (float)r.scale, cap, drop, r.seed, TFM_F32 };
		/* the training forward, attention_window, on every pool: the reference's
		 * output, the same bits at any thread count, nothing past its scratch */
		for (int p = 0; p < 4; p++) {
			const long need = tfm_attention_grad_scratch(n, n_head, d, kt_pool_threads[p]);
			for (long j = 0; j < scratch_n; j++)
				scratch[j] = NAN;
			tfm_attention wa = fa;
			wa.scores = scratch;
			for (size_t j = 0; j < qn; j++)
				out[j] = NAN;
			kk->attention_window(kt_pool[p], &wa);
			for (long j = need; j < scratch_n; j++)
				CU_ASSERT(isnan(scratch[j]));
			kt_note(&kt_atw_worst, i, kt_rel_diff(out, ro, qn), 2e-6, what);
			if (p == 0)
				memcpy(wout, out, sizeof *out * qn);
			else
				CU_ASSERT(memcmp(out, wout, sizeof *out * qn) == 0);
		}
		/* out: the forward's output, as the training forward makes it */
		for (int p = 0; p < 4; p++) {
			float *dq = kt_copy(dq0, qn), *dk = kt_copy(dk0, kn), *dv = kt_copy(dv0, kn);
			const long need = tfm_attention_grad_scratch(n, n_head, d, kt_pool_threads[p]);
			for (long j = 0; j < scratch_n; j++)
				scratch[j] = NAN;	/* read before written would show */
			tfm_attention_grad ga = { q, k, v, out, dout, dq, dk, dv, scratch, n, n_head,
			                          n_kv_head, d, (float)r.scale, cap, drop, r.seed };
			kk->attention_backward(kt_pool[p], &ga);
			for (long j = need; j < scratch_n; j++)
				CU_ASSERT(isnan(scratch[j]));	/* nothing past what it asked for */
			kt_note(&kt_atb_worst, i, kt_rel_diff(dq, rq, qn), 2e-5, what);
			kt_note(&kt_atb_worst, i, kt_rel_diff(dk, rk, kn), 2e-5, what);
			kt_note(&kt_atb_worst, i, kt_rel_diff(dv, rv, kn), 2e-5, what);
			if (fd) {
				kt_note(&kt_atb_fd, i, kt_rel_diff(dq, fq, qn), 2e-5, what);
				kt_note(&kt_atb_fd, i, kt_rel_diff(dk, fk, kn), 2e-5, what);
				kt_note(&kt_atb_fd, i, kt_rel_diff(dv, fv, kn), 2e-5, what);
			}
			if (p == 0) {
				first[0] = dq, first[1] = dk, first[2] = dv;
				continue;
			}
			CU_ASSERT(memcmp(dq, first[0], sizeof *dq * qn) == 0);
			CU_ASSERT(memcmp(dk, first[1], sizeof *dk * kn) == 0);
			CU_ASSERT(memcmp(dv, first[2], sizeof *dv * kn) == 0);
			free(dq);
			free(dk);
			free(dv);
		}
		for (int j = 0; j < 3; j++)
			free(first[j]);
	}
	free(q);
	free(k);
	free(v);
	free(dout);
	free(dq0);
	free(dk0);
	free(dv0);
	free(qd_);
	free(kd);
	free(vd);
	free(rq);
	free(rk);
	free(rv);
	free(fq);
	free(fk);
	free(fv);
	free(out);
	free(wout);
	free(ro);
	free(scratch);
	free(scores);
}

static void test_attention_backward(void)
{
	static const int heads[][2] = { { 4, 4 }, { 4, 2 }, { 4, 1 }, { 6, 3 }, { 1, 1 } };
	static const int dims[] = { 4, 12, 48, 64 };
	static const int ns[] = { 1, 2, 5, 17, 70 };
	static const float caps[] = { 0.0f, 1.5f, 0.0f, 1.5f }, drops[] = { 0.0f, 0.0f, 0.3f, 0.3f };

	for (int hi = 0; hi < (int)(sizeof heads / sizeof heads[0]); hi++)
		for (int di = 0; di < (int)(sizeof dims / sizeof dims[0]); di++)
			for (int ni = 0; ni < (int)(sizeof ns / sizeof ns[0]); ni++)
				for (int ci = 0; ci < 4; ci++)
					kt_atb_case(ns[ni], heads[hi][0], heads[hi][1], dims[di], caps[ci], drops[ci],
					            ns[ni] * dims[di] <= 100 && (hi + ci) % 2 == 0);
	/* windows of a few hundred and of 2048 positions */
	kt_atb_case(300, 4, 2, 20, 0.0f, 0.1f, 0);
	kt_atb_case(2048, 2, 1, 16, 1.5f, 0.1f, 0);
	kt_reports("att window", &kt_atw_worst);
	kt_reports("att bwd", &kt_atb_worst);
	kt_reports("att fd", &kt_atb_fd);
	printf("\n");
}

/* ---- Training: activations, soft-cap ------------------------------------------------------------- */

static double kt_act_grad_ref(double x, int act)
{
	switch (act) {
	case TFM_ACT_RELU:
		return x > 0 ? 1 : 0;
	case TFM_ACT_SILU: {
		const double s = 1 / (1 + exp(-x));
		return s * (1 + x * (1 - s));
	}
	case TFM_ACT_GELU_TANH: {
		const double k0 = sqrt(2 / M_PI), th = tanh(k0 * (x + 0.044715 * x * x * x));
		return 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * k0 * (1 + 3 * 0.044715 * x * x);
	}
	case TFM_ACT_GELU_ERF:
		return 0.5 * (1 + erf(x / sqrt(2))) + x * exp(-0.5 * x * x) / sqrt(2 * M_PI);
	}
	return NAN;
}

static void test_activation_backward(void)
{
	static const char *const names[] = { "relu", "silu", "gelu tanh", "gelu erf" };
	static const float special[] = { 0.0f, -0.0f, 1e-3f, -1e-3f, 1.0f, -1.0f, 30.0f, -30.0f,
	                                 100.0f, -100.0f, 1e-30f, -1e-30f };
	const long n = 1001;
	float *x = kt_random((size_t)n, -12, 12), *up = kt_random((size_t)n, -2, 2);
	float *dh = kt_random((size_t)n, -1, 1), *d0 = kt_random((size_t)n, -1, 1);
	float *d1 = kt_random((size_t)n, -1, 1);
	double fd_worst = 0;

	memcpy(x, special, sizeof special);
	/* the derivatives of the reference are those of kt_act_ref (away from
	 * relu's kink) */
	for (int act = TFM_ACT_RELU; act <= TFM_ACT_GELU_ERF; act++)
		for (long j = sizeof special / sizeof special[0]; j < n; j++) {
			const double h = 1e-5, xj = x[j];
			if (act == TFM_ACT_RELU && fabs(xj) < 1e-3)
				continue;
			const double fdv = (kt_act_ref(xj + h, act) - kt_act_ref(xj - h, act)) / (2 * h);
			fd_worst = fmax(fd_worst, fabs(fdv - kt_act_grad_ref(xj, act)));
		}
	CU_ASSERT(fd_worst < 1e-7);
	for (int i = 0; i < KT_N_ISAS; i++) {
		const tfm_kernels *k = kt_kernels(i);
		if (k == NULL)
			continue;
		for (int act = TFM_ACT_RELU; act <= TFM_ACT_GELU_ERF; act++) {
			double da = 0, dg = 0, du = 0;
			float *dx = kt_copy(d0, (size_t)n), *dgate = kt_copy(d0, (size_t)n);
			float *dup = kt_copy(d1, (size_t)n);
			k->act_backward(dx, x, dh, n, act);
			k->glu_backward(dgate, dup, x, up, dh, n, act);
			for (long j = 0; j < n; j++) {
				const double g = kt_act_grad_ref(x[j], act);
				const double ra = d0[j] + (double)dh[j] * g;
				const double rg = d0[j] + (double)dh[j] * up[j] * g;
				const double ru = d1[j] + (double)dh[j] * kt_act_ref(x[j], act);
				da = fmax(da, fabs(dx[j] - ra) / fmax(1, fabs(ra)));
				dg = fmax(dg, fabs(dgate[j] - rg) / fmax(1, fabs(rg)));
				du = fmax(du, fabs(dup[j] - ru) / fmax(1, fabs(ru)));
			}
			CU_ASSERT(da <= 1e-5 && dg <= 1e-5 && du <= 1e-5);
			printf("\n    %-10s %-7s max |diff| / max(1, |ref|): act' %.2e, glu' gate %.2e up %.2e",
			       names[act], kt_isas[i], da, dg, du);
			free(dx);
			free(dgate);
			free(dup);
		}
	}
	printf("\n    reference derivatives against differences: %.2e\n", fd_worst);
	free(x);
	free(up);
	free(dh);
	free(d0);
	free(d1);
}

static void test_softcap(void)
{
	const long n = 1003;
	const float c = 30.0f;
	float *x = kt_random((size_t)n, -100, 100), *dy = kt_random((size_t)n, -1, 1);
	float *d0 = kt_random((size_t)n, -1, 1);

	for (int i = 0; i < KT_N_ISAS; i++) {
		const tfm_kernels *k = kt_kernels(i);
		double df = 0, db = 0, dfd = 0;
		if (k == NULL)
			continue;
		float *y = kt_copy(x, (size_t)n), *dx = kt_copy(d0, (size_t)n);
		k->softcap(y, n, c);
		k->softcap_backward(dx, y, dy, n, c);
		for (long j = 0; j < n; j++) {
			const double r = c * tanh(x[j] / (double)c), t = tanh(x[j] / (double)c);
			const double g = d0[j] + dy[j] * (1 - t * t), h = 1e-4;
			const double fd = d0[j] + dy[j] * (c * tanh((x[j] + h) / c) - c * tanh((x[j] - h) / c)) / (2 * h);
			df = fmax(df, fabs(y[j] - r) / fmax(1, fabs(r)));
			db = fmax(db, fabs(dx[j] - g) / fmax(1, fabs(g)));
			dfd = fmax(dfd, fabs(dx[j] - fd) / fmax(1, fabs(fd)));
		}
		CU_ASSERT(df <= 1e-5 && db <= 1e-5 && dfd <= 1e-5);
		printf("\n    softcap    %-7s max |diff| / max(1, |ref|): forward %.2e, backward %.2e, "
		       "vs differences %.2e", kt_isas[i], df, db, dfd);
		free(y);
		free(dx);
	}
	free(x);
	free(dy);
	free(d0);
	printf("\n");
}

/* ---- Training: add, scale, sumsq, dropout ---------------------------------------------------------- */

static void test_elementwise(void)
{
	static const long ns[] = { 0, 1, 3, 17, 64, 1001 };

	for (int i = 0; i < KT_N_ISAS; i++) {
		const tfm_kernels *k = kt_kernels(i);
		double dsq = 0;
		if (k == NULL)
			continue;
		for (int c = 0; c < (int)(sizeof ns / sizeof ns[0]); c++) {
			const long n = ns[c];
			float *a = kt_random((size_t)n, -3, 3), *b = kt_random((size_t)n, -3, 3);
			float *y = malloc(sizeof *y * (size_t)(n + 1));
			CU_ASSERT_FATAL(y != NULL);
			int ok = 1;
			k->add(y, a, b, n);
			for (long j = 0; j < n; j++)
				ok &= y[j] == a[j] + b[j];
			k->add(a, a, b, n);	/* in place */
			ok &= memcmp(a, y, sizeof *y * (size_t)n) == 0;
			k->scale(y, n, -0.75f);
			for (long j = 0; j < n; j++)
				ok &= y[j] == a[j] * -0.75f;
			CU_ASSERT(ok);
			double ref = 0;
			for (long j = 0; j < n; j++)
				ref += (double)b[j] * b[j];
			const double got = k->sumsq(b, n);
			dsq = fmax(dsq, fabs(got - ref) / fmax(1, ref));
			CU_ASSERT(fabs(got - ref) <= 1e-12 * fmax(1, ref));
			free(a);
			free(b);
			free(y);
		}
		printf("\n    add, scale: exact; sumsq %-7s max |diff| / max(1, ref) = %.2e", kt_isas[i], dsq);
	}
	printf("\n");
}

static void test_dropout(void)
{
	const long n = 100003;
	const float p = 0.3f;
	float *x = kt_random((size_t)n, -2, 2), *dy = kt_random((size_t)n, -1, 1);
	float *d0 = kt_random((size_t)n, -1, 1);
	float *y = malloc(sizeof *y * (size_t)n);

	CU_ASSERT_FATAL(y != NULL);
	for (int i = 0; i < KT_N_ISAS; i++) {
		const tfm_kernels *k = kt_kernels(i);
		long kept = 0;
		double d = 0, db = 0;
		if (k == NULL)
			continue;
		float *dx = kt_copy(d0, (size_t)n);
		k->dropout(y, x, n, p, 42);
		k->dropout_backward(dx, dy, n, p, 42);
		for (long j = 0; j < n; j++) {
			const int keep = tfm_dropout_keep(42, (uint64_t)j, p);
			const double r = keep ? x[j] / (1 - (double)p) : 0;
			const double g = d0[j] + (keep ? dy[j] / (1 - (double)p) : 0);
			kept += keep;
			d = fmax(d, fabs(y[j] - r) / fmax(1, fabs(r)));
			db = fmax(db, fabs(dx[j] - g) / fmax(1, fabs(g)));
		}
		CU_ASSERT(d <= 1e-6 && db <= 1e-6);
		/* about 1 - p kept: 70000 +- 145 (one sigma) */
		CU_ASSERT(labs(kept - 70002) < 1500);
		/* in place, the same bits; p = 0, the input */
		float *z = kt_copy(x, (size_t)n);
		k->dropout(z, z, n, p, 42);
		CU_ASSERT(memcmp(z, y, sizeof *y * (size_t)n) == 0);
		k->dropout(y, x, n, 0.0f, 42);
		CU_ASSERT(memcmp(x, y, sizeof *y * (size_t)n) == 0);
		printf("\n    dropout    %-7s kept %ld of %ld at p = %.1f; max |diff| / max(1, |ref|): "
		       "forward %.2e, backward %.2e", kt_isas[i], kept, n, p, d, db);
		free(dx);
		free(z);
	}
	free(x);
	free(dy);
	free(d0);
	free(y);
	printf("\n");
}

/* ---- Training: the loss ------------------------------------------------------------------------------ */

/* The loss of section 5 for one row, in double, and its gradient (times
 * scale) into g when not NULL. */
static double kt_ce_ref(const double *l, int vocab, int target, double z, double scale, double *g)
{
	double mx = -INFINITY, sum = 0;

	for (int j = 0; j < vocab; j++)
		mx = fmax(mx, l[j]);
	for (int j = 0; j < vocab; j++)
		sum += exp(l[j] - mx);
	const double lse = mx + log(sum);
	for (int j = 0; g && j < vocab; j++)
		g[j] = scale * (exp(l[j] - lse) * (1 + 2 * z * lse) - (j == target));
	return lse - l[target] + z * lse * lse;
}

static void test_cross_entropy(void)
{
	static const int shapes[][2] = { { 1, 1 }, { 3, 5 }, { 3, 17 }, { 7, 100 }, { 1100, 33 },
	                                 { 3, 32000 } };
	static const float zs[] = { 0.0f, 0.1f };
	kt_worst wl = { { 0 } }, wg = { { 0 } }, wf = { { 0 } };

	for (int c = 0; c < (int)(sizeof shapes / sizeof shapes[0]); c++)
	for (int zi = 0; zi < 2; zi++) {
		const int rows = shapes[c][0], vocab = shapes[c][1];
		const size_t len = (size_t)rows * vocab;
		const float z = zs[zi], scale = 1.0f / (float)rows;
		float *l = kt_random(len, -10, 10);
		int *tg = malloc(sizeof *tg * (size_t)rows);
		double *ld = NULL, *ref = malloc(sizeof *ref * len), *fd = NULL;
		double loss = 0, lscale = 0;
		CU_ASSERT_FATAL(tg && ref);
		/* a row far from 0: e^l overflows unless the maximum is subtracted */
		for (int j = 0; j < vocab && rows > 1; j++)
			l[(size_t)vocab + j] += 1000.0f;
		for (int r = 0; r < rows; r++)
			tg[r] = (int)((unsigned)(r * 7919 + 13) % (unsigned)vocab);
		ld = kt_dup(l, len);
		for (int r = 0; r < rows; r++) {
			const double lr = kt_ce_ref(ld + (size_t)r * vocab, vocab, tg[r], z, scale,
			                            ref + (size_t)r * vocab);
			loss += lr;
			lscale += fmax(1, fabs(lr));
		}
		if (len <= 600) {	/* the gradient of the loss by differences */
			fd = malloc(sizeof *fd * len);
			CU_ASSERT_PTR_NOT_NULL_FATAL(fd);
			for (int r = 0; r < rows; r++) {
				double *lr = ld + (size_t)r * vocab;
				KT_FD(lr, vocab, fd + (size_t)r * vocab,
				      scale * kt_ce_ref(lr, vocab, tg[r], z, 1, NULL));
			}
		}
		for (int i = 0; i < KT_N_ISAS; i++) {
			const tfm_kernels *k = tfm_kernels_for(kt_isas[i]);
			float *g0 = NULL;
			double loss0 = 0;
			if (k == NULL)
				continue;
			for (int p = 0; p < 4; p++) {
				float *g = malloc(sizeof *g * len);
				CU_ASSERT_FATAL(g != NULL);
				const double got = k->cross_entropy(kt_pool[p], l, g, tg, rows, vocab, z, scale);
				/* the loss alone, and in place over a copy of the logits: the same bits */
				float *lc = kt_copy(l, len);
				CU_ASSERT(k->cross_entropy(kt_pool[p], l, NULL, tg, rows, vocab, z, scale) == got);
				CU_ASSERT(k->cross_entropy(kt_pool[p], lc, lc, tg, rows, vocab, z, scale) == got);
				CU_ASSERT(memcmp(lc, g, sizeof *g * len) == 0);
				free(lc);
				kt_note(&wl, i, fabs(got - loss) / lscale, 1e-6, "cross_entropy loss");
				kt_note(&wg, i, kt_rel_diff(g, ref, len), 1e-6, "cross_entropy gradient");
				if (fd)
					kt_note(&wf, i, kt_rel_diff(g, fd, len), 1e-6,
					        "cross_entropy gradient vs differences");
				if (p == 0) {
					g0 = g;
					loss0 = got;
					continue;
				}
				CU_ASSERT(got == loss0);
				CU_ASSERT(memcmp(g, g0, sizeof *g * len) == 0);
				free(g);
			}
			free(g0);
		}
		free(l);
		free(tg);
		free(ld);
		free(ref);
		free(fd);
	}
	kt_reports("ce loss", &wl);
	kt_reports("ce grad", &wg);
	kt_reports("ce fd", &wf);
	printf("\n");
}

/* ---- Training: the embedding's backward, AdamW ---------------------------------------------------------- */

static void test_embed_backward(void)
{
	static const int ds[] = { 1, 7, 16, 33, 288 };
	const int n = 300, vocab = 11;
	kt_worst w = { { 0 } };

	for (int c = 0; c < (int)(sizeof ds / sizeof ds[0]); c++) {
		const int d = ds[c];
		float *dx = kt_random((size_t)n * d, -1, 1), *e0 = kt_random((size_t)vocab * d, -1, 1);
		int *ids = malloc(sizeof *ids * n);
		double *ref = kt_dup(e0, (size_t)vocab * d);
		CU_ASSERT_FATAL(ids != NULL);
		for (int t = 0; t < n; t++)
			ids[t] = (t * t + 3 * t) % vocab;	/* repeats */
		for (int t = 0; t < n; t++)
			for (int j = 0; j < d; j++)
				ref[(size_t)ids[t] * d + j] += 0.5 * dx[(size_t)t * d + j];
		for (int i = 0; i < KT_N_ISAS; i++) {
			const tfm_kernels *k = tfm_kernels_for(kt_isas[i]);
			float *first = NULL;
			if (k == NULL)
				continue;
			for (int p = 0; p < 4; p++) {
				float *e = kt_copy(e0, (size_t)vocab * d);
				k->embed_backward(kt_pool[p], e, dx, ids, n, d, 0.5f);
				kt_note(&w, i, kt_rel_diff(e, ref, (size_t)vocab * d), 1e-5, "embed_backward");
				if (p == 0) {
					first = e;
					continue;
				}
				CU_ASSERT(memcmp(e, first, sizeof *e * (size_t)vocab * d) == 0);
				free(e);
			}
			free(first);
		}
		free(dx);
		free(e0);
		free(ids);
		free(ref);
	}
	kt_reports("embed bwd", &w);
	printf("\n");
}

static void test_adamw(void)
{
	const long n = 1001;
	const float lr = 1e-2f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f;
	kt_worst w = { { 0 } };

	for (int decay = 0; decay < 2; decay++) {
		const float wd = decay ? 0.1f : 0.0f;
		float *w0 = kt_random((size_t)n, -1, 1);
		for (int i = 0; i < KT_N_ISAS; i++) {
			const tfm_kernels *k = tfm_kernels_for(kt_isas[i]);
			if (k == NULL)
				continue;
			float *wt = kt_copy(w0, (size_t)n), *m = calloc((size_t)n, sizeof *m);
			float *v = calloc((size_t)n, sizeof *v);
			double *rw = kt_dup(w0, (size_t)n), *rm = calloc((size_t)n, sizeof *rm);
			double *rv = calloc((size_t)n, sizeof *rv);
			CU_ASSERT_FATAL(m && v && rm && rv);
			kt_rng = 4242;	/* the same gradients on every set */
			for (int t = 1; t <= 3; t++) {
				float *g = kt_random((size_t)n, -1, 1);
				const double c1 = 1 - pow(b1, t), c2 = 1 - pow(b2, t);
				if (t == 2)
					g[0] = 0;	/* v and m small: eps matters */
				k->adamw(wt, g, m, v, n, lr, b1, b2, eps, wd, (float)c1, (float)c2);
				for (long j = 0; j < n; j++) {
					if (wd > 0)
						rw[j] -= (double)lr * wd * rw[j];
					rm[j] = b1 * rm[j] + (1 - (double)b1) * g[j];
					rv[j] = b2 * rv[j] + (1 - (double)b2) * g[j] * g[j];
					rw[j] -= lr * (rm[j] / c1) / (sqrt(rv[j] / c2) + eps);
				}
				free(g);
			}
			kt_note(&w, i, kt_rel_diff(wt, rw, (size_t)n), 1e-6, "adamw");
			free(wt);
			free(m);
			free(v);
			free(rw);
			free(rm);
			free(rv);
		}
		free(w0);
	}
	kt_reports("adamw", &w);
	printf("\n");
}

/* ---- Registration ---------------------------------------------------------------------- */

int add_kernel_suites(void)
{
	CU_pSuite s = CU_add_suite("runtime/kernels", kt_open, kt_close);

	if (s == NULL
	    || !CU_add_test(s, "dispatch", test_dispatch)
	    || !CU_add_test(s, "empty inputs", test_empty)
	    || !CU_add_test(s, "matmul, every shape, 0-3 threads", test_matmul)
	    || !CU_add_test(s, "norm: rmsnorm, layernorm", test_norm)
	    || !CU_add_test(s, "attention: MHA, GQA, MQA, soft-cap, dropout", test_attention)
	    || !CU_add_test(s, "activations: act and glu", test_activations)
	    || !CU_add_test(s, "gemm: transposes, strides, accumulate, 0-3 threads", test_gemm)
	    || !CU_add_test(s, "bias_backward", test_bias_backward)
	    || !CU_add_test(s, "norm_backward: rmsnorm, layernorm", test_norm_backward)
	    || !CU_add_test(s, "rope: half, interleaved, inverse", test_rope)
	    || !CU_add_test(s, "attention_backward: GQA, MQA, soft-cap, dropout",
	                    test_attention_backward)
	    || !CU_add_test(s, "act_backward, glu_backward", test_activation_backward)
	    || !CU_add_test(s, "softcap and its backward", test_softcap)
	    || !CU_add_test(s, "add, scale, sumsq", test_elementwise)
	    || !CU_add_test(s, "dropout and its backward", test_dropout)
	    || !CU_add_test(s, "cross_entropy: z_loss, stability, in place", test_cross_entropy)
	    || !CU_add_test(s, "embed_backward", test_embed_backward)
	    || !CU_add_test(s, "adamw", test_adamw))
		return -1;
	return 0;
}
