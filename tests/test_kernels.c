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
 * the probabilities dropped and rescaled when a->dropout > 0. */
static void kt_attention_ref(const tfm_attention *a, double *out)
{
	const int d = a->head_dim, kvd = a->n_kv_head * d, qd = a->n_head * d;
	double *s = malloc(sizeof *s * (size_t)(a->pos + a->n));

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	for (int t = 0; t < a->n; t++)
		for (int h = 0; h < a->n_head; h++) {
			const int g = h / (a->n_head / a->n_kv_head), len = a->pos + t + 1;
			const float *q = a->q + (size_t)t * qd + (size_t)h * d;
			double mx = -INFINITY, sum = 0;
			for (int j = 0; j < len; j++) {
				const float *kr = a->k_cache + (size_t)j * kvd + (size_t)g * d;
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
					o += s[j] * a->v_cache[(size_t)j * kvd + (size_t)g * d + c];
				out[(size_t)t * qd + (size_t)h * d + c] = o / sum;
			}
		}
	free(s);
}

static void test_attention(void)
{
	static const int heads[][2] = { { 4, 4 }, { 4, 2 }, { 4, 1 }, { 6, 3 }, { 1, 1 } };
	static const int dims[] = { 4, 8, 12, 20, 48, 64 };
	/* pos, n: one token or several, past the first block of keys (64) or not */
	static const int chunks[][2] = { { 0, 1 }, { 0, 5 }, { 7, 1 }, { 13, 6 }, { 40, 9 },
	                                 { 150, 1 }, { 60, 11 }, { 0, 70 } };
	/* soft-cap and dropout: off, the cap, both */
	static const float caps[] = { 0.0f, 1.5f, 1.5f }, drops[] = { 0.0f, 0.0f, 0.3f };
	double worst[KT_N_ISAS] = { 0 };

	for (int hi = 0; hi < (int)(sizeof heads / sizeof heads[0]); hi++)
	for (int di = 0; di < (int)(sizeof dims / sizeof dims[0]); di++)
	for (int ci = 0; ci < (int)(sizeof chunks / sizeof chunks[0]); ci++)
	for (int si = 0; si < 3; si++) {
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
		const size_t qn = (size_t)a.n * a.n_head * d, kvn = (size_t)a.max_seq * a.n_kv_head * d;
		float *q = kt_random(qn, -3, 3);	/* scores of a few units: the cap matters */
		float *kc = kt_random(kvn, -1, 1), *vc = kt_random(kvn, -1, 1);
		/* rows past the last position are never read: NaN would show */
		for (size_t j = (size_t)(a.pos + a.n) * a.n_kv_head * d; j < kvn; j++)
			kc[j] = vc[j] = NAN;
		float *out = malloc(sizeof *out * qn), *out0 = malloc(sizeof *out0 * qn);
		float *scores = malloc(sizeof *scores * (size_t)a.max_seq * 3);
		double *ref = malloc(sizeof *ref * qn);
		CU_ASSERT_FATAL(out && out0 && scores && ref);
		a.q = q;
		a.k_cache = kc;
		a.v_cache = vc;
		a.scores = scores;
		kt_attention_ref(&a, ref);
		for (int i = 0; i < KT_N_ISAS; i++) {
			const tfm_kernels *k = tfm_kernels_for(kt_isas[i]);
			if (k == NULL)
				continue;
			for (int p = 0; p < 3; p++) {	/* NULL, 1 and 2 threads */
				a.out = out;
				memset(out, 0xff, sizeof *out * qn);
				k->attention(kt_pool[p], &a);
				double dd = kt_rel_diff(out, ref, qn);
				worst[i] = fmax(worst[i], dd);
				if (!(dd <= 1e-5))
					printf("\n    attention %s heads %d/%d dim %d pos %d n %d cap %g drop %g "
					       "pool %d: %.2e", kt_isas[i], a.n_head, a.n_kv_head, d, a.pos, a.n,
					       a.softcap, a.dropout, p, dd);
				CU_ASSERT(dd <= 1e-5);
				if (p == 0)
					memcpy(out0, out, sizeof *out * qn);
				else
					CU_ASSERT(memcmp(out0, out, sizeof *out * qn) == 0);
			}
		}
		free(q);
		free(kc);
		free(vc);
		free(out);
		free(out0);
		free(scores);
		free(ref);
	}
	for (int i = 0; i < KT_N_ISAS; i++)
		if (kt_kernels(i))
			kt_report("attention", kt_isas[i], worst[i]);
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
	    || !CU_add_test(s, "activations: act and glu", test_activations))
		return -1;
	return 0;
}
