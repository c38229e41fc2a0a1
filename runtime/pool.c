/* pool.c: a persistent thread pool for splitting work across cores.
 *
 * tfm_pool_run is called for every matrix product of every token, thousands
 * of times a second, so the workers are created once and wait between runs.
 * A run publishes (fn, ctx) and bumps a generation counter; each worker
 * notices the new generation, runs its share and counts itself out; the
 * calling thread runs share 0 meanwhile, then waits until the count is 0.
 *
 * Waiting is done by spinning a short while (a run usually follows another
 * within microseconds) and then sleeping on a condition variable.  With more
 * threads than online CPUs nobody spins: a spinning thread would hold the CPU
 * that the thread it waits for needs.  The
 * generation and the count are C11 atomics; the mutex is only taken to sleep
 * and to wake sleepers, and every check-then-sleep happens under it, so no
 * wake-up is lost.  A new run starts only when every worker has finished the
 * previous one, so no worker can miss a generation.
 *
 * One thread at a time may call tfm_pool_run on a given pool.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tfm.h"

#define TFM_SPIN        2000  /* polls before sleeping: some tens of µs */

typedef struct tfm_worker {
	struct tfm_pool *pool;
	int i;
} tfm_worker;

struct tfm_pool {
	int n_threads;
	int spin;               /* polls before sleeping: TFM_SPIN, or 0 if oversubscribed */
	pthread_t *threads;     /* [n_threads - 1] the workers (share 0 is the caller's) */
	tfm_worker *workers;    /* [n_threads - 1] */
	pthread_mutex_t mu;
	pthread_cond_t wake;    /* workers sleep here for a new generation */
	pthread_cond_t done;    /* the caller sleeps here for pending == 0 */
	void (*fn)(void *ctx, int i, int n); /* the current run */
	void *ctx;
	atomic_ulong gen;       /* bumped once per run (and once to quit) */
	atomic_int pending;     /* workers still running the current run */
	atomic_int quit;
	atomic_int sleepers;    /* workers asleep or about to sleep on wake */
	int caller_asleep;      /* under mu: the caller waits on done */
};

static inline void tfm_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static void *tfm_worker_main(void *arg)
{
	tfm_worker *w = arg;
	struct tfm_pool *p = w->pool;
	unsigned long seen = 0; /* generation of the last run done */
	int k;

	for (;;) {
		for (k = 0; k < p->spin && atomic_load_explicit(&p->gen, memory_order_acquire) == seen; k++)
			tfm_cpu_relax();
		if (atomic_load_explicit(&p->gen, memory_order_acquire) == seen) {
			pthread_mutex_lock(&p->mu);
			atomic_fetch_add(&p->sleepers, 1);
			while (atomic_load(&p->gen) == seen)
				pthread_cond_wait(&p->wake, &p->mu);
			atomic_fetch_sub(&p->sleepers, 1);
			pthread_mutex_unlock(&p->mu);
		}
		seen = atomic_load_explicit(&p->gen, memory_order_acquire);
		if (atomic_load(&p->quit))
			return NULL;
		p->fn(p->ctx, w->i, p->n_threads);
		if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
			pthread_mutex_lock(&p->mu);
			if (p->caller_asleep)
				pthread_cond_signal(&p->done);
			pthread_mutex_unlock(&p->mu);
		}
	}
}

/* Starts a new generation: wakes the spinning workers and the sleeping ones. */
static void tfm_pool_publish(tfm_pool *p)
{
	/* seq_cst, paired with the worker's sleepers++ then gen check. */
	atomic_fetch_add(&p->gen, 1);
	if (atomic_load(&p->sleepers) > 0) {
		pthread_mutex_lock(&p->mu);
		pthread_cond_broadcast(&p->wake);
		pthread_mutex_unlock(&p->mu);
	}
}

int tfm_pool_open(tfm_pool **out, int n_threads, tfm_error *e)
{
	tfm_pool *p;
	long ncpu;
	int i;

	*out = NULL;
	if (n_threads < 1 || n_threads > TFM_MAX_THREADS)
		return tfm_fail(e, "thread pool: %d threads requested, must be 1..%d",
		                n_threads, TFM_MAX_THREADS);
	p = calloc(1, sizeof *p);
	if (p == NULL)
		return tfm_fail(e, "thread pool: out of memory");
	p->n_threads = n_threads;
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	p->spin = ncpu > 0 && n_threads <= ncpu ? TFM_SPIN : 0;
	p->threads = calloc((size_t)n_threads, sizeof *p->threads);
	p->workers = calloc((size_t)n_threads, sizeof *p->workers);
	if (p->threads == NULL || p->workers == NULL) {
		free(p->threads);
		free(p->workers);
		free(p);
		return tfm_fail(e, "thread pool: out of memory");
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->wake, NULL);
	pthread_cond_init(&p->done, NULL);
	atomic_init(&p->gen, 0);
	atomic_init(&p->pending, 0);
	atomic_init(&p->quit, 0);
	atomic_init(&p->sleepers, 0);
	for (i = 1; i < n_threads; i++) {
		int err;
		p->workers[i - 1].pool = p;
		p->workers[i - 1].i = i;
		err = pthread_create(&p->threads[i - 1], NULL, tfm_worker_main, &p->workers[i - 1]);
		if (err != 0) {
			p->n_threads = i; /* close joins only the workers started */
			tfm_pool_close(p);
			return tfm_fail(e, "thread pool: cannot start thread %d of %d: %s",
			                i + 1, n_threads, strerror(err));
		}
	}
	*out = p;
	return 0;
}

void tfm_pool_close(tfm_pool *p)
{
	int i;

	if (p == NULL)
		return;
	atomic_store(&p->quit, 1);
	pthread_mutex_lock(&p->mu);
	atomic_fetch_add(&p->gen, 1);
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->mu);
	for (i = 1; i < p->n_threads; i++)
		pthread_join(p->threads[i - 1], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->wake);
	pthread_cond_destroy(&p->done);
	free(p->threads);
	free(p->workers);
	free(p);
}

int tfm_pool_threads(const tfm_pool *p)
{
	return p ? p->n_threads : 1;
}

void tfm_pool_run(tfm_pool *p, void (*fn)(void *ctx, int i, int n), void *ctx)
{
	int k;

	if (p == NULL || p->n_threads == 1) {
		fn(ctx, 0, 1);
		return;
	}
	p->fn = fn;
	p->ctx = ctx;
	atomic_store_explicit(&p->pending, p->n_threads - 1, memory_order_relaxed);
	tfm_pool_publish(p);
	fn(ctx, 0, p->n_threads);
	for (k = 0; k < p->spin && atomic_load_explicit(&p->pending, memory_order_acquire) != 0; k++)
		tfm_cpu_relax();
	if (atomic_load_explicit(&p->pending, memory_order_acquire) != 0) {
		pthread_mutex_lock(&p->mu);
		p->caller_asleep = 1;
		while (atomic_load(&p->pending) != 0)
			pthread_cond_wait(&p->done, &p->mu);
		p->caller_asleep = 0;
		pthread_mutex_unlock(&p->mu);
	}
}
