/* bench_kernels.c: the training kernels' speed, for `make bench`: the gemm
 * (runtime/kernels/gemm.c) on the products of a training step of s15
 * (specs/bench/s15.tfm: d_model 288, d_ff 768, vocab 32000, batches of
 * B * T = 8 * 256 = 2048 rows), at 1 and 2 threads on every instruction set
 * the CPU runs, as GFLOP/s and as a share of the FMA peak that machine.c
 * measures (of one core times the threads, the same set); then attention's
 * backward on one s15 window and the loss over a batch's logits.
 *
 * It prints figures and judges none of them.  Each figure is the best of
 * runs that take about RUN_SECONDS together, after one untimed run: a
 * shared machine's other work only ever slows a run down.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine.h"
#include "tfm.h"

#define RUN_SECONDS 0.6
#define N_THREADS 2

static const char *const isas[] = { "avx512", "avx2", "scalar" };
#define N_ISAS 3

/* The s15 step's products: dX += dY W and dW += dY^T X of each linear. */
static const struct shape {
	const char *what;
	int ta, m, n, k;
} shapes[] = {
	{ "dX of wq, wk, wv, wo", 0, 2048, 288, 288 },
	{ "dW of wq, wk, wv, wo", 1, 288, 288, 2048 },
	{ "dX of w_gate, w_up", 0, 2048, 288, 768 },
	{ "dW of w_gate, w_up", 1, 768, 288, 2048 },
	{ "dX of w_down", 0, 2048, 768, 288 },
	{ "dW of w_down", 1, 288, 768, 2048 },
	{ "dX of the classifier", 0, 2048, 288, 32000 },
	{ "dW of the classifier", 1, 32000, 288, 2048 },
};
#define N_SHAPES (int)(sizeof shapes / sizeof shapes[0])

static float *random_floats(size_t n, unsigned seed)
{
	float *p = tfm_alloc(sizeof *p * n);

	if (p == NULL) {
		fprintf(stderr, "bench_kernels: out of memory\n");
		exit(1);
	}
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1664525u + 1013904223u;
		p[i] = (float)(seed >> 8) / 16777216.0f - 0.5f;
	}
	return p;
}

typedef struct gemm_run {
	const tfm_kernels *k;
	tfm_pool *pool;
	const struct shape *s;
	const float *a, *b;
	float *c;
} gemm_run;

static void run_gemm(void *ctx)
{
	const gemm_run *r = ctx;
	const struct shape *s = r->s;

	r->k->gemm(r->pool, s->ta, 0, s->m, s->n, s->k, r->a, s->ta ? s->m : s->k, r->b, s->n,
	           r->c, s->n, 1);
}

typedef struct att_run {
	const tfm_kernels *k;
	tfm_pool *pool;
	tfm_attention_grad g;
} att_run;

static void run_att(void *ctx)
{
	const att_run *r = ctx;

	r->k->attention_backward(r->pool, &r->g);
}

typedef struct ce_run {
	const tfm_kernels *k;
	tfm_pool *pool;
	const float *logits;
	float *dlogits;
	const int *targets;
	int rows, vocab;
} ce_run;

static void run_ce(void *ctx)
{
	const ce_run *r = ctx;

	r->k->cross_entropy(r->pool, r->logits, r->dlogits, r->targets, r->rows, r->vocab, 1e-4f,
	                    1.0f / (float)r->rows);
}

int main(void)
{
	machine_cpu cpu;
	tfm_pool *pools[N_THREADS];
	double peak[N_ISAS];
	size_t most = 0;

	machine_cpu_probe(&cpu);
	for (int t = 0; t < N_THREADS; t++)
		if (tfm_pool_open(&pools[t], t + 1, NULL) != 0) {
			fprintf(stderr, "bench_kernels: cannot start %d threads\n", t + 1);
			return 1;
		}
	printf("## The training kernels (`make bench-kernels`)\n\n");
	printf("Machine: %s, %d CPUs online.  FP32 FMA peak of one core:", cpu.model, cpu.cpus);
	for (int i = 0; i < N_ISAS; i++) {
		peak[i] = tfm_kernels_for(isas[i]) ? machine_fma_peak(&cpu, isas[i], 1) : -1;
		if (peak[i] > 0)
			printf("%s %s %.1f GFLOP/s", i ? "," : "", isas[i], peak[i] / 1e9);
	}
	printf(".\n\ngemm, C += op(A) B, on the products of an s15 training step (B * T = 2048 "
	       "rows); best of runs, GFLOP/s (%% of the peak of one core times the threads):\n\n");
	printf("| product | (m, n, k) | A |");
	for (int i = 0; i < N_ISAS - 1; i++)
		for (int t = 1; t <= N_THREADS; t++)
			if (peak[i] > 0)
				printf(" %s, %d thread%s |", isas[i], t, t > 1 ? "s" : "");
	printf("\n|---|---|---|");
	for (int i = 0; i < N_ISAS - 1; i++)
		for (int t = 1; t <= N_THREADS; t++)
			if (peak[i] > 0)
				printf("---|");
	printf("\n");
	for (int s = 0; s < N_SHAPES; s++) {
		const size_t na = (size_t)shapes[s].m * shapes[s].k, nb = (size_t)shapes[s].k * shapes[s].n;
		most = na > most ? na : most;
		most = nb > most ? nb : most;
	}
	float *a = random_floats(most, 1), *b = random_floats(most, 2), *c = random_floats(most, 3);
	for (int s = 0; s < N_SHAPES; s++) {
		const struct shape *sh = &shapes[s];
		const double flops = 2.0 * sh->m * sh->n * (double)sh->k;
		printf("| %s | (%d, %d, %d) | %s |", sh->what, sh->m, sh->n, sh->k,
		       sh->ta ? "dY^T, [k, m]" : "dY, [m, k]");
		for (int i = 0; i < N_ISAS - 1; i++)
			for (int t = 1; t <= N_THREADS && peak[i] > 0; t++) {
				gemm_run r = { tfm_kernels_for(isas[i]), pools[t - 1], sh, a, b, c };
				const double gf = flops / machine_best_time(run_gemm, &r, RUN_SECONDS);
				printf(" %.1f (%.0f%%) |", gf / 1e9, 100 * gf / (peak[i] * t));
				fflush(stdout);
			}
		printf("\n");
	}
	tfm_free(a);
	tfm_free(b);
	tfm_free(c);

	/* attention's backward: one s15 window, 6 heads of 48, 256 positions */
	const int n = 256, heads = 6, d = 48;
	const size_t qn = (size_t)n * heads * d;
	float *q = random_floats(qn, 4), *k = random_floats(qn, 5), *v = random_floats(qn, 6);
	float *out = random_floats(qn, 7), *dout = random_floats(qn, 8);
	float *dq = random_floats(qn, 9), *dk = random_floats(qn, 10), *dv = random_floats(qn, 11);
	float *scratch = random_floats((size_t)tfm_attention_grad_scratch(n, heads, d, N_THREADS), 12);
	/* about 7 multiply-adds of head_dim per (query, key) pair seen */
	const double att_flops = 2.0 * 7 * d * heads * (n * (n + 1.0) / 2);
	printf("\nattention_backward, one s15 window (%d positions, %d heads of %d, causal; "
	       "about 7 head_dim-long multiply-adds per pair), best of runs:\n\n", n, heads, d);
	for (int i = 0; i < N_ISAS; i++) {
		const tfm_kernels *kk = tfm_kernels_for(isas[i]);
		if (kk == NULL)
			continue;
		printf("- %s:", isas[i]);
		for (int t = 1; t <= N_THREADS; t++) {
			att_run r = { kk, pools[t - 1], { q, k, v, out, dout, dq, dk, dv, scratch, n, heads,
			                                   heads, d, 0.144f, 0.0f, 0.0f, 0 } };
			const double sec = machine_best_time(run_att, &r, RUN_SECONDS);
			printf("%s %d thread%s %.2f ms (%.1f GFLOP/s)", t > 1 ? ";" : "", t, t > 1 ? "s" : "",
			       sec * 1e3, att_flops / sec / 1e9);
		}
		printf("\n");
	}
	tfm_free(q);
	tfm_free(k);
	tfm_free(v);
	tfm_free(out);
	tfm_free(dout);
	tfm_free(dq);
	tfm_free(dk);
	tfm_free(dv);
	tfm_free(scratch);

	/* the loss over a batch's logits, gradient in place */
	const int rows = 2048, vocab = 32000;
	float *logits = random_floats((size_t)rows * vocab, 13);
	int *targets = malloc(sizeof *targets * rows);
	if (targets == NULL)
		return 1;
	for (int r = 0; r < rows; r++)
		targets[r] = (r * 7919) % vocab;
	printf("\ncross_entropy with its gradient, %d rows of %d logits, best of runs:\n\n", rows, vocab);
	for (int i = 0; i < N_ISAS; i++) {
		const tfm_kernels *kk = tfm_kernels_for(isas[i]);
		if (kk == NULL)
			continue;
		printf("- %s:", isas[i]);
		for (int t = 1; t <= N_THREADS; t++) {
			/* in place, as a training step does it */
			ce_run r = { kk, pools[t - 1], logits, logits, targets, rows, vocab };
			const double sec = machine_best_time(run_ce, &r, RUN_SECONDS);
			printf("%s %d thread%s %.1f ms", t > 1 ? ";" : "", t, t > 1 ? "s" : "", sec * 1e3);
		}
		printf("\n");
	}
	tfm_free(logits);
	free(targets);
	for (int t = 0; t < N_THREADS; t++)
		tfm_pool_close(pools[t]);
	return 0;
}
