/* bench_decode.c: the decode kernels' speed, for `make bench`
 * (`make bench-decode` runs it alone): how close a token's matrix products
 * and its attention come to a plain read of the same bytes.
 *
 * Decode reads every weight once per token, so each product should stream
 * its matrix at the bandwidth of a plain read of it.  The products: s110's
 * (specs/bench/s110.tfm: 12 layers of wq, wk, wv, wo 768 x 768, w_gate and
 * w_up 2048 x 768, w_down 768 x 2048, then the 32000 x 768 classifier), laid
 * out one after another as a model holds them, in every weight format the
 * runtime has (f32, bf16, and GGML's q8_0, q4_0, q4_K, q6_K, the quantized
 * ones in the f32 mode and in the int8 mode), one token through all of them
 * (matmul, matmul_bf16, matmul_q, matmul_qi8 of the best kernel set the CPU
 * runs), and each shape alone (its 12 matrices in a row: the classifier
 * once); then attention over 12 layers' caches of 12 heads of 64 at
 * several positions, f32 and f16.  Each beside machine.c's plain read of a
 * buffer of those bytes, at 1 and 2 threads: the gap is the cost of the
 * switch from one matrix to the next, of the thread hand-offs, and of the
 * arithmetic where it does not hide under the loads.
 *
 * The weights are random bytes with every block scale a fixed half (0.01):
 * the kernels' speed does not depend on the values.  It prints figures and
 * judges none of them; each is the best of runs that take about
 * RUN_SECONDS, after one untimed run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine.h"
#include "tfm.h"

#define RUN_SECONDS 0.4
#define N_THREADS 2
#define HALF_001 0x211f	/* the half nearest 0.01 */

static const struct shape {
	const char *what;
	int rows, cols, per_layer;	/* per_layer 0: once, after the layers */
} shapes[] = {
	{ "wq, wk, wv, wo", 768, 768, 4 },
	{ "w_gate, w_up", 2048, 768, 2 },
	{ "w_down", 768, 2048, 1 },
	{ "classifier", 32000, 768, 0 },
};
#define N_SHAPES (int)(sizeof shapes / sizeof shapes[0])
#define N_LAYER 12

static const struct format {
	const char *name;
	int dtype, int8;
} formats[] = {
	{ "f32", TFM_F32, 0 }, { "bf16", TFM_BF16, 0 },
	{ "q8_0", TFM_Q8_0, 0 }, { "q8_0, int8", TFM_Q8_0, 1 },
	{ "q4_0", TFM_Q4_0, 0 }, { "q4_0, int8", TFM_Q4_0, 1 },
	{ "q4_K", TFM_Q4_K, 0 }, { "q4_K, int8", TFM_Q4_K, 1 },
	{ "q6_K", TFM_Q6_K, 0 }, { "q6_K, int8", TFM_Q6_K, 1 },
};
#define N_FORMATS (int)(sizeof formats / sizeof formats[0])

/* One matrix of the token's list: where it starts in the buffer. */
typedef struct mat {
	size_t at;
	int rows, cols;
} mat;

typedef struct decode_run {
	const tfm_kernels *k;
	tfm_pool *pool;
	const struct format *f;
	const unsigned char *w;
	const mat *m;
	int n;
	const float *x;
	float *y;
} decode_run;

static unsigned rnd(unsigned *s)
{
	*s = *s * 1664525u + 1013904223u;
	return *s >> 8;
}

static size_t row_bytes(int dtype, int cols)
{
	return dtype == TFM_F32 ? 4 * (size_t)cols : dtype == TFM_BF16 ? 2 * (size_t)cols
	                                            : tfm_dtype_row_bytes(dtype, (size_t)cols);
}

/* Random weights of dtype, each block's scales 0.01 (Q4_K's min too). */
static void fill(unsigned char *w, size_t bytes, int dtype, unsigned seed)
{
	size_t block = 0, off[2] = { 0, 0 };
	int n_off = 0;

	for (size_t i = 0; i < bytes; i++)
		w[i] = (unsigned char)rnd(&seed);
	switch (dtype) {
	case TFM_F32:	/* floats in [-1, 1): a random exponent would make subnormals */
		for (size_t i = 0; i + 4 <= bytes; i += 4) {
			float v = (float)rnd(&seed) / 8388608.0f - 1.0f;
			memcpy(w + i, &v, 4);
		}
		return;
	case TFM_BF16:	/* exponents 120..127: no subnormals, no infinities */
		for (size_t i = 1; i < bytes; i += 2)
			w[i] = (unsigned char)((w[i] & 0x80) | 0x3c | (w[i] & 3));
		return;
	case TFM_Q8_0: block = 34, off[0] = 0, n_off = 1; break;
	case TFM_Q4_0: block = 18, off[0] = 0, n_off = 1; break;
	case TFM_Q4_K: block = 144, off[0] = 0, off[1] = 2, n_off = 2; break;
	case TFM_Q6_K: block = 210, off[0] = 208, n_off = 1; break;
	}
	for (size_t b = 0; b + block <= bytes; b += block)
		for (int j = 0; j < n_off; j++) {
			w[b + off[j]] = HALF_001 & 0xff;
			w[b + off[j] + 1] = HALF_001 >> 8;
		}
}

static void run_decode(void *ctx)
{
	const decode_run *r = ctx;

	for (int i = 0; i < r->n; i++) {
		const void *w = r->w + r->m[i].at;
		const int rows = r->m[i].rows, cols = r->m[i].cols;
		switch (r->f->dtype) {
		case TFM_F32:
			r->k->matmul(r->pool, r->y, r->x, w, NULL, 1, rows, cols);
			break;
		case TFM_BF16:
			r->k->matmul_bf16(r->pool, r->y, r->x, w, NULL, 1, rows, cols);
			break;
		default:
			(r->f->int8 ? r->k->matmul_qi8 : r->k->matmul_q)(r->pool, r->y, r->x, w, r->f->dtype, NULL,
			                                                  1, rows, cols);
		}
	}
}

typedef struct att_run {
	const tfm_kernels *k;
	tfm_pool *pool;
	tfm_attention a[N_LAYER];
} att_run;

static void run_att(void *ctx)
{
	const att_run *r = ctx;

	for (int l = 0; l < N_LAYER; l++)
		r->k->attention(r->pool, &r->a[l]);
}

/* "GB/s (% of the plain read)" of bytes in sec, read at bw. */
static void cell(size_t bytes, double sec, double bw)
{
	printf(" %.1f (%.0f%%) |", (double)bytes / sec / 1e9, 100.0 * (double)bytes / sec / bw);
	fflush(stdout);
}

int main(void)
{
	const tfm_kernels *k = tfm_kernels_for(NULL);
	machine_cpu cpu;
	tfm_pool *pools[N_THREADS];
	mat m[N_LAYER * 7 + 1];
	int n = 0, passes;
	double median;

	machine_cpu_probe(&cpu);
	for (int t = 0; t < N_THREADS; t++)
		if (tfm_pool_open(&pools[t], t + 1, NULL) != 0) {
			fprintf(stderr, "bench_decode: cannot start %d threads\n", t + 1);
			return 1;
		}
	printf("## The decode kernels (`make bench-decode`)\n\n");
	printf("Machine: %s, %d CPUs online; the %s kernels.  s110's products for one token, every "
	       "format, against a plain read of the same bytes (GB/s, and %% of that read's), "
	       "at 1 and 2 threads; best of runs:\n\n", cpu.model, cpu.cpus, k->isa);
	printf("| format | bytes per token | token, 1 thread | token, 2 threads |");
	for (int s = 0; s < N_SHAPES; s++)
		printf(" %s (%d x %d), 1 thread |", shapes[s].what, shapes[s].rows, shapes[s].cols);
	printf(" plain read, 1 / 2 threads |\n|---|---|---|---|");
	for (int s = 0; s < N_SHAPES; s++)
		printf("---|");
	printf("---|\n");

	float *x = malloc(sizeof(float) * 2048), *y = malloc(sizeof(float) * 32000);
	unsigned seed = 7;
	if (!x || !y)
		return 1;
	for (int i = 0; i < 2048; i++)
		x[i] = (float)rnd(&seed) / 8388608.0f - 1.0f;
	for (int fi = 0; fi < N_FORMATS; fi++) {
		const struct format *f = &formats[fi];
		size_t total = 0;

		/* the token's order: layer by layer, then the classifier */
		n = 0;
		for (int l = 0; l <= N_LAYER; l++)
			for (int s = 0; s < N_SHAPES; s++) {
				const int count = l < N_LAYER ? shapes[s].per_layer : !shapes[s].per_layer;
				for (int j = 0; j < count; j++, n++) {
					m[n] = (mat){ total, shapes[s].rows, shapes[s].cols };
					total += row_bytes(f->dtype, m[n].cols) * (size_t)m[n].rows;
					total = (total + 63) & ~(size_t)63;
				}
			}
		unsigned char *w = tfm_alloc(total);
		if (!w) {
			fprintf(stderr, "bench_decode: out of memory for %zu bytes\n", total);
			return 1;
		}
		fill(w, total, f->dtype, 11 + (unsigned)fi);
		printf("| %s | %.1f MB |", f->name, (double)total / 1e6);
		double bw[N_THREADS];
		for (int t = 1; t <= N_THREADS; t++)
			bw[t - 1] = machine_read_bw(&cpu, (const float *)w, total, t, 0.3, &passes, &median);
		for (int t = 1; t <= N_THREADS; t++) {
			decode_run r = { k, pools[t - 1], f, w, m, n, x, y };
			cell(total, machine_best_time(run_decode, &r, RUN_SECONDS), bw[t - 1]);
		}
		/* each shape alone: its matrices one after another, a list of its own */
		for (int s = 0; s < N_SHAPES; s++) {
			mat ms[N_LAYER * 4];
			size_t bytes = 0;
			int c = 0;
			for (int i = 0; i < n; i++)
				if (m[i].rows == shapes[s].rows && m[i].cols == shapes[s].cols) {
					ms[c++] = m[i];
					bytes += row_bytes(f->dtype, m[i].cols) * (size_t)m[i].rows;
				}
			/* a plain read of as many bytes, from where they start */
			const double sbw = machine_read_bw(&cpu, (const float *)(w + ms[0].at), bytes, 1, 0.2,
			                                   &passes, &median);
			decode_run r = { k, pools[0], f, w, ms, c, x, y };
			cell(bytes, machine_best_time(run_decode, &r, RUN_SECONDS), sbw);
		}
		printf(" %.1f / %.1f |\n", bw[0] / 1e9, bw[1] / 1e9);
		tfm_free(w);
	}

	/* attention at a long context: 12 layers, 12 heads of 64, max_seq 4096 */
	static const int positions[] = { 100, 1000, 4000 };
	const int heads = 12, d = 64, max_seq = 4096;
	printf("\nAttention of one token over 12 layers' caches (12 heads of 64, max_seq %d), the "
	       "bytes of keys and values it reads, GB/s (%% of a plain read of them):\n\n", max_seq);
	printf("| cache | position | bytes per token | 1 thread | 2 threads |\n|---|---|---|---|---|\n");
	float *q = malloc(sizeof(float) * heads * d), *out = malloc(sizeof(float) * heads * d);
	float *scores = malloc(sizeof(float) * max_seq * N_THREADS);
	if (!q || !out || !scores)
		return 1;
	for (int i = 0; i < heads * d; i++)
		q[i] = (float)rnd(&seed) / 8388608.0f - 1.0f;
	for (int half = 0; half < 2; half++) {
		const size_t es = half ? 2 : 4, layer = (size_t)heads * max_seq * d * es;
		unsigned char *kc = tfm_alloc(layer * N_LAYER), *vc = tfm_alloc(layer * N_LAYER);
		if (!kc || !vc)
			return 1;
		fill(kc, layer * N_LAYER, half ? TFM_BF16 : TFM_F32, 3);	/* bf16's bytes are fine halves */
		fill(vc, layer * N_LAYER, half ? TFM_BF16 : TFM_F32, 5);
		for (int pi = 0; pi < 3; pi++) {
			const size_t bytes = 2 * (size_t)N_LAYER * heads * (size_t)(positions[pi] + 1) * d * es;
			printf("| %s | %d | %.1f MB |", half ? "f16" : "f32", positions[pi], (double)bytes / 1e6);
			for (int t = 1; t <= N_THREADS; t++) {
				att_run r = { k, pools[t - 1], { { 0 } } };
				for (int l = 0; l < N_LAYER; l++)
					r.a[l] = (tfm_attention){ .q = q, .k_cache = kc + l * layer, .v_cache = vc + l * layer,
					                          .out = out, .scores = scores, .n = 1, .pos = positions[pi],
					                          .n_head = heads, .n_kv_head = heads, .head_dim = d,
					                          .max_seq = max_seq, .scale = 0.125f,
					                          .kv_dtype = half ? TFM_F16 : TFM_F32 };
				/* the plain read: as many bytes of the keys (all of them, if fewer) */
				const size_t probe = bytes < layer * N_LAYER ? bytes : layer * N_LAYER;
				const double bw = machine_read_bw(&cpu, (const float *)kc, probe, t, 0.2, &passes, &median);
				cell(bytes, machine_best_time(run_att, &r, RUN_SECONDS), bw);
			}
			printf("\n");
		}
		tfm_free(kc);
		tfm_free(vc);
	}
	printf("\n");
	free(x);
	free(y);
	free(q);
	free(out);
	free(scores);
	for (int t = 0; t < N_THREADS; t++)
		tfm_pool_close(pools[t]);
	return 0;
}
