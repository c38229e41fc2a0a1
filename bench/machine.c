/* machine.c: the machine's limits for `make bench`: read bandwidth at a
 * given size and thread count, and the FP32 FMA peak.  The baseline
 * kernels (SSE2, part of every x86-64) live here; the AVX2 and AVX-512
 * ones in their own files, called only when machine_cpu_probe found the
 * instructions.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "machine.h"

double machine_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double machine_best_time(void (*fn)(void *), void *ctx, double seconds)
{
	double best = 1e30, spent = 0;
	int runs = 0;

	fn(ctx);
	while (runs < 3 || (spent < seconds && runs < 1000)) {
		const double t0 = machine_now();
		fn(ctx);
		const double t = machine_now() - t0;
		best = t < best ? t : best;
		spent += t;
		runs++;
	}
	return best;
}

void machine_cpu_probe(machine_cpu *c)
{
	char line[512];
	FILE *f;
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	memset(c, 0, sizeof *c);
	snprintf(c->model, sizeof c->model, "?");
	c->cpus = n < 1 ? 1 : (int)n;
	if ((f = fopen("/proc/cpuinfo", "r")) != NULL) {
		while (fgets(line, sizeof line, f))
			if (strncmp(line, "model name", 10) == 0) {
				char *v = strchr(line, ':');
				if (v) {
					v += 1 + (v[1] == ' ');
					v[strcspn(v, "\n")] = '\0';
					snprintf(c->model, sizeof c->model, "%s", v);
				}
				break;
			}
		fclose(f);
	}
#if defined(__x86_64__) || defined(__i386__)
	__builtin_cpu_init();
	c->avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	c->avx512 = __builtin_cpu_supports("avx512f");
#endif
}

/* ---- Kernels of the baseline ------------------------------------------- */

float machine_sum_sse2(const float *p, size_t n)
{
#if defined(__SSE2__)
	__m128 s0 = _mm_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
	float out[4];

	for (size_t i = 0; i < n; i += 16) {
		s0 = _mm_add_ps(s0, _mm_load_ps(p + i));
		s1 = _mm_add_ps(s1, _mm_load_ps(p + i + 4));
		s2 = _mm_add_ps(s2, _mm_load_ps(p + i + 8));
		s3 = _mm_add_ps(s3, _mm_load_ps(p + i + 12));
	}
	_mm_storeu_ps(out, _mm_add_ps(_mm_add_ps(s0, s1), _mm_add_ps(s2, s3)));
	return out[0] + out[1] + out[2] + out[3];
#else
	float s[8] = { 0 };

	for (size_t i = 0; i < n; i += 8)
		for (int k = 0; k < 8; k++)
			s[k] += p[i + k];
	return s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
#endif
}

/* Scalar chains: what a CPU without AVX2 and FMA gives, a mul and an add. */
double machine_fma_scalar(long iters, float *sink)
{
	float a[8];

	for (int k = 0; k < 8; k++)
		a[k] = 0.5f + 0.01f * (float)k;
	for (long i = 0; i < iters; i++)
		for (int k = 0; k < 8; k++)
			a[k] = a[k] * 0.9999f + 0.0001f;
	*sink = a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7];
	return 2.0 * 8 * (double)iters;
}

/* A thread that cannot start leaves the others waiting at a barrier that
 * counts on it: nothing to measure then, and nothing to return to. */
static void machine_no_threads(int threads)
{
	fprintf(stderr, "bench: error: cannot start %d threads\n", threads);
	exit(1);
}

/* ---- Read bandwidth ------------------------------------------------------ */

static int machine_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

#define BW_MIN_PASSES 5
#define BW_MAX_PASSES 200
#define BW_MAX_THREADS 64

typedef struct bw_run {
	pthread_barrier_t barrier;
	float (*sum)(const float *, size_t);
	const float *buf;
	size_t n;		/* floats in buf */
	int threads;
	int passes;		/* timed passes; set by thread 0 after the first */
	double seconds;		/* what the timed passes should take in all */
	double best;		/* seconds of the fastest pass */
	double times[BW_MAX_PASSES];	/* seconds of each timed pass */
	volatile float sink[BW_MAX_THREADS];
} bw_run;

typedef struct bw_arg {
	bw_run *r;
	int id;
} bw_arg;

/* One thread's share of every pass: its slice of the buffer, between two
 * barriers; thread 0 times the whole from the first barrier to the second. */
static void *bw_thread(void *p)
{
	bw_arg *a = p;
	bw_run *r = a->r;
	size_t chunk = (r->n / (size_t)r->threads) & ~(size_t)63;
	size_t lo = chunk * (size_t)a->id;
	size_t hi = a->id == r->threads - 1 ? r->n : lo + chunk;
	double t0 = 0, t;

	for (int pass = 0;; pass++) {
		pthread_barrier_wait(&r->barrier);
		if (pass > r->passes)
			break;
		if (a->id == 0)
			t0 = machine_now();
		r->sink[a->id] += r->sum(r->buf + lo, hi - lo);
		pthread_barrier_wait(&r->barrier);
		if (a->id == 0) {
			t = machine_now() - t0;
			if (pass == 0) {
				/* The first pass is a warm-up and sets the count. */
				long k = t > 0 ? (long)(r->seconds / t) : BW_MAX_PASSES;
				r->passes = k < BW_MIN_PASSES ? BW_MIN_PASSES
				          : k > BW_MAX_PASSES ? BW_MAX_PASSES : (int)k;
			} else {
				r->times[pass - 1] = t;
				if (t < r->best)
					r->best = t;
			}
		}
	}
	return NULL;
}

double machine_read_bw(const machine_cpu *c, const float *buf, size_t bytes,
                       int threads, double seconds, int *passes, double *median)
{
	pthread_t tid[BW_MAX_THREADS];
	bw_arg arg[BW_MAX_THREADS];
	bw_run *r;
	double bw;

	if (threads < 1 || threads > BW_MAX_THREADS)
		return -1;
	if ((r = calloc(1, sizeof *r)) == NULL)
		return -1;
	r->sum = c->avx2 ? machine_sum_avx2 : machine_sum_sse2;
	r->buf = buf;
	r->n = bytes / sizeof(float);
	r->threads = threads;
	r->passes = 1;
	r->seconds = seconds;
	r->best = 1e30;
	pthread_barrier_init(&r->barrier, NULL, (unsigned)threads);
	for (int i = 0; i < threads; i++)
		arg[i] = (bw_arg){ r, i };
	for (int i = 1; i < threads; i++)
		if (pthread_create(&tid[i], NULL, bw_thread, &arg[i]) != 0)
			machine_no_threads(threads);
	bw_thread(&arg[0]);
	for (int i = 1; i < threads; i++)
		pthread_join(tid[i], NULL);
	pthread_barrier_destroy(&r->barrier);
	bw = (double)(r->n * sizeof(float)) / r->best;
	*passes = r->passes;
	qsort(r->times, (size_t)r->passes, sizeof r->times[0], machine_cmp);
	*median = (double)(r->n * sizeof(float)) / r->times[r->passes / 2];
	free(r);
	return bw;
}

/* ---- FMA peak --------------------------------------------------------------- */

typedef struct fma_arg {
	double (*fn)(long, float *);
	long iters;
	double flops;
	float sink;
	pthread_barrier_t *barrier;
} fma_arg;

static void *fma_thread(void *p)
{
	fma_arg *a = p;

	pthread_barrier_wait(a->barrier);
	a->flops = a->fn(a->iters, &a->sink);
	return NULL;
}

double machine_fma_peak(const machine_cpu *c, const char *isa, int threads)
{
	double (*fn)(long, float *);
	pthread_barrier_t barrier;
	pthread_t tid[BW_MAX_THREADS];
	fma_arg arg[BW_MAX_THREADS];
	double best = 0, t0, t, flops;
	long iters = 1000;
	float sink;

	if (strcmp(isa, "avx512") == 0 && c->avx512)
		fn = machine_fma_avx512;
	else if (strcmp(isa, "avx2") == 0 && c->avx2)
		fn = machine_fma_avx2;
	else if (strcmp(isa, "scalar") == 0)
		fn = machine_fma_scalar;
	else
		return -1;
	if (threads < 1 || threads > BW_MAX_THREADS)
		return -1;
	/* Iterations for about 0.2 s on one thread. */
	for (;;) {
		t0 = machine_now();
		fn(iters, &sink);
		t = machine_now() - t0;
		if (t > 0.02)
			break;
		iters *= 4;
	}
	iters = (long)((double)iters * 0.2 / t) + 1;
	for (int run = 0; run < 5; run++) {
		pthread_barrier_init(&barrier, NULL, (unsigned)threads);
		for (int i = 0; i < threads; i++)
			arg[i] = (fma_arg){ fn, iters, 0, 0, &barrier };
		for (int i = 1; i < threads; i++)
			if (pthread_create(&tid[i], NULL, fma_thread, &arg[i]) != 0)
				machine_no_threads(threads);
		/* The clock starts at the barrier, when every thread is ready. */
		pthread_barrier_wait(&barrier);
		t0 = machine_now();
		arg[0].flops = fn(iters, &arg[0].sink);
		for (int i = 1; i < threads; i++)
			pthread_join(tid[i], NULL);
		t = machine_now() - t0;
		pthread_barrier_destroy(&barrier);
		flops = 0;
		for (int i = 0; i < threads; i++)
			flops += arg[i].flops;
		if (flops / t > best)
			best = flops / t;
	}
	return best;
}
