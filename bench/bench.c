/* bench.c: `make bench`, the speed of tfmc's generated code on this machine
 * and how close it comes to the machine's limits (issue 6).
 *
 * For every spec of specs/bench (or those named on the command line) it
 * writes random weights with `tfmc init`, emits the C (to report its size),
 * times `tfmc build`, and then runs the protocol of a model program's
 * --bench mode (runtime/main.c, tfm_bench: a prefill of 128 tokens and a
 * greedy decode of positions 1..255) several times, at 1 and 2 threads, in
 * the AOT program, in `tfmc run` (the JIT) and in the AOT program built
 * with --weight-dtype bf16 on weights written in bf16, each run a fresh
 * process.
 * Before that it measures the machine: read bandwidth at 1 GiB and at each
 * model's weight size, and the FP32 FMA peak (machine.c).  Then, with no
 * spec named (or alone with --train-only), training: `tfmc train` and
 * PyTorch eager (bench/torch_train.py) on specs/bench/s15.tfm and
 * specs/bench/train/b128.tfm (the section Training).  It prints a
 * Markdown report for the README, or with --json the same figures for
 * programs.  Progress goes to stderr.
 *
 * It is a program that prints figures, never a test: nothing here judges
 * them.  Run it from the top of the tree (it calls ./tfmc).
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "machine.h"

#define MAX_MODELS   16
#define MAX_RUNS     20
#define N_THREADS    2		/* thread counts 1..N_THREADS */
#define GIB          (1024.0 * 1024.0 * 1024.0)
#define MIB          (1024.0 * 1024.0)
#define HUGE_PAGE    ((size_t)2 << 20)

/* The ways a spec runs: the program of `tfmc build`, `tfmc run`, and the
 * program of `tfmc build --weight-dtype bf16`. */
enum { AOT, JIT, BF16, N_ENGINES };
static const char *const engine_name[N_ENGINES] = { "aot", "jit", "aot-bf16" };

/* The instruction sets of the FMA peak, best first. */
enum { N_ISAS = 3 };
static const char *const isa_name[N_ISAS] = { "avx512", "avx2", "scalar" };

/* What issue 6 quotes for llama2.c and llama.cpp: tok/s at 1 and 2 threads,
 * measured on another machine (2 cores, AVX-512 with BF16), with that
 * machine's limits.  Printed beside ours, never as our measurements. */
static const struct quoted {
	const char *name;
	double llama2c[2], llamacpp[2], llamacpp_bf16[2], llamacpp_prefill[2];
} quoted[] = {
	{ "s15",  { 398, 780 },   { 295, 506 },   { 326, 518 },   { 3585, 6499 } },
	{ "s42",  { 78, 136 },    { 94, 182 },    { 148, 306 },   { 998, 1819 } },
	{ "s110", { 31.6, 59.3 }, { 30.7, 60.0 }, { 49.5, 89.0 }, { 337, 641 } },
	{ "g213", { 16.0, 30.5 }, { 16.9, 31.5 }, { 23.7, 43.9 }, { 162, 302 } },
};
static const double quoted_dram_bw[2] = { 16.1e9, 31.4e9 };	/* bytes/s */
static const double quoted_llc_bw[2] = { 29e9, 54e9 };		/* buffers up to ~96 MiB */
static const double quoted_llc_bytes = 96 * MIB;
static const double quoted_fma_peak = 240e9;			/* FLOP/s per core, AVX-512 */

/* The runs of one engine at one thread count. */
typedef struct series {
	double decode[MAX_RUNS];	/* tok/s of each successful run */
	double prefill[MAX_RUNS];
	double other[MAX_RUNS];		/* CPUs busy with other work during the run */
	int n;				/* successful runs */
	int failed;			/* runs that failed */
	long rss_kib;			/* the largest peak RSS of the runs */
	int prefill_n, decode_n;	/* tokens, as the program reported */
	char target[32];		/* the instruction set it reported */
	char how[40];			/* "AOT", "JIT", "run (cc)" */
	char hash[16];			/* tokens_hash of the first run */
	int hash_differs;		/* a later run decoded other tokens */
	char error[300];		/* the last failure */
} series;

typedef struct model {
	char spec[PATH_MAX];
	char name[64];
	long vocab, d_model, max_seq;
	double params, weight_bytes;	/* f32 */
	double weight_bytes16;		/* with --weight-dtype bf16 */
	double flops0, flops_pos;	/* forward FLOPs per token: flops0 + flops_pos per cached position */
	double kv_bytes;		/* the f32 KV cache's bytes per position */
	double bw[N_THREADS];		/* read bandwidth at weight_bytes, 1..N_THREADS threads */
	double bw_other[N_THREADS];	/* the other load while it was measured */
	double bw16[N_THREADS];		/* read bandwidth at weight_bytes16 */
	double bw16_other[N_THREADS];
	double bw_med[N_THREADS], bw16_med[N_THREADS];	/* the same, of the median pass */
	long c_bytes;			/* the generated C, -1 when it failed */
	double build_s;			/* tfmc build, wall; < 0 when it failed */
	double init_s;
	double ready_ms[MAX_RUNS];	/* JIT: parse, check, codegen and compile, ms */
	int n_ready;
	series s[N_ENGINES][N_THREADS];
} model;

typedef struct options {
	const char *tfmc;
	int runs, json, jit, keep, timeout;
	const char *specs[MAX_MODELS];
	int n_specs;
	int train;		/* TRAIN_NONE, TRAIN_TOO or TRAIN_ONLY */
	int train_runs;		/* runs of every training series */
	const char *python;	/* the python3 that has Debian's python3-torch */
	int torch_blas;		/* 1: OpenBLAS for PyTorch (tools/openblas.sh); 0: the system's */
} options;

/* The training figures: after the models (the default, with no SPEC
 * given), not at all, or alone. */
enum { TRAIN_NONE, TRAIN_TOO, TRAIN_ONLY };

static char workdir[PATH_MAX];

/* ---- Processes ----------------------------------------------------------- */

/* Runs argv with stdout and stderr to the files out and err; returns the
 * exit status (128 + the signal when killed), -1 if it could not start.
 * The child is killed (SIGALRM, whose timer survives exec) after timeout
 * seconds.  *ru gets its resource use, its waited-for children included,
 * *wall its wall-clock time. */
static int run(char *const argv[], const char *out, const char *err, int timeout,
               struct rusage *ru, double *wall)
{
	double t0 = machine_now();
	struct rusage dummy;
	pid_t pid;
	int st;

	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int fe = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
			_exit(127);
		close(fo);
		close(fe);
		alarm((unsigned)timeout);
		execvp(argv[0], argv);
		fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	while (wait4(pid, &st, 0, ru ? ru : &dummy) < 0)
		if (errno != EINTR)
			return -1;
	if (wall)
		*wall = machine_now() - t0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* CPU seconds the whole machine has been busy (every CPU, /proc/stat:
 * user, nice, system, irq, softirq and steal), or -1 when unknown. */
static double machine_busy(void)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");
	long hz = sysconf(_SC_CLK_TCK);
	int n;

	if (f == NULL)
		return -1;
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
	           &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n != 8 || hz <= 0)
		return -1;
	return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)hz;
}

static double tv_seconds(struct timeval tv)
{
	return (double)tv.tv_sec + 1e-6 * (double)tv.tv_usec;
}

/* The whole of a small file, NUL-terminated (NULL when unreadable). */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0
	    || (buf = malloc((size_t)n + 1)) == NULL) {
		fclose(f);
		return NULL;
	}
	n = (long)fread(buf, 1, (size_t)n, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* What a failed step said, for its error message: the first line of the
 * file at path that has "error:" in it, else its last non-empty line. */
static void last_line(const char *path, char *out, size_t size)
{
	char *s = slurp(path), *end, *start;

	snprintf(out, size, "(no message)");
	if (s == NULL)
		return;
	if ((start = strstr(s, "error:")) != NULL) {
		while (start > s && start[-1] != '\n')
			start--;
		end = start + strcspn(start, "\n");
	} else {
		end = s + strlen(s);
		while (end > s && (end[-1] == '\n' || end[-1] == ' '))
			end--;
		*end = '\0';
		start = strrchr(s, '\n');
		start = start ? start + 1 : s;
	}
	*end = '\0';
	if (*start)
		snprintf(out, size, "%s", start);
	free(s);
}

static void path_in(char *out, size_t size, const char *name, const char *suffix)
{
	snprintf(out, size, "%s/%s%s", workdir, name, suffix);
}

/* Runs a tfmc step; on failure reports its last line of stderr and
 * returns -1. */
static int tfmc_step(char *const argv[], const char *what, const options *o, double *wall)
{
	char out[PATH_MAX + 16], err[PATH_MAX + 16], msg[300];
	int rc;

	path_in(out, sizeof out, "step", ".out");
	path_in(err, sizeof err, "step", ".err");
	rc = run(argv, out, err, o->timeout, NULL, wall);
	if (rc != 0) {
		last_line(err, msg, sizeof msg);
		fprintf(stderr, "bench: error: %s failed (exit %d): %s\n", what, rc, msg);
		return -1;
	}
	return 0;
}

/* ---- The model's figures, from `tfmc show` -------------------------------- */

/* A number with thousands separators at q ("6,912"); *rest gets what
 * follows it. */
static int show_digits(const char *q, double *out, const char **rest)
{
	double v = 0;
	int digits = 0;

	for (; (*q >= '0' && *q <= '9') || (*q == ',' && digits); q++)
		if (*q != ',') {
			v = v * 10 + (*q - '0');
			digits++;
		}
	if (!digits)
		return -1;
	*out = v;
	if (rest)
		*rest = q;
	return 0;
}

/* The number after "key" at the start of a line (after spaces) of text;
 * what follows it in *rest. */
static int show_number(const char *text, const char *key, double *out, const char **rest)
{
	size_t k = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		const char *q = p;
		while (*q == ' ')
			q++;
		if (strncmp(q, key, k) != 0 || (q[k] != ' ' && q[k] != '='))
			continue;
		q += k;
		while (*q == ' ' || *q == '=')
			q++;
		return show_digits(q, out, rest);
	}
	return -1;
}

static int model_show(model *m, const options *o)
{
	char out[PATH_MAX + 16], err[PATH_MAX + 16], msg[300];
	char *argv[] = { (char *)o->tfmc, "show", m->spec, NULL };
	const char *rest;
	double v;
	char *text;
	int rc;

	path_in(out, sizeof out, "show", ".out");
	path_in(err, sizeof err, "show", ".err");
	if ((rc = run(argv, out, err, o->timeout, NULL, NULL)) != 0) {
		last_line(err, msg, sizeof msg);
		fprintf(stderr, "bench: error: tfmc show %s failed (exit %d): %s\n", m->spec, rc, msg);
		return -1;
	}
	if ((text = slurp(out)) == NULL)
		return -1;
	rc = -1;
	if (sscanf(text, "model %63s", m->name) != 1)
		goto done;
	if (show_number(text, "vocab", &v, NULL))
		goto done;
	m->vocab = (long)v;
	if (show_number(text, "d_model", &v, NULL))
		goto done;
	m->d_model = (long)v;
	if (show_number(text, "max_seq", &v, NULL))
		goto done;
	m->max_seq = (long)v;
	if (show_number(text, "parameters", &m->params, NULL))
		goto done;
	if (show_number(text, "FLOPs per token", &m->flops0, &rest))
		goto done;
	/* "30,375,936 + 6,912 per cached position": the second term is
	 * absent for a model without attention over a cache. */
	if (strncmp(rest, " + ", 3) == 0 && show_digits(rest + 3, &v, &rest) == 0
	    && strncmp(rest, " per cached position", 20) == 0)
		m->flops_pos = v;
	if (show_number(text, "KV cache", &m->kv_bytes, NULL))
		goto done;
	if (show_number(text, "weights", &m->weight_bytes, &rest) || strncmp(rest, " bytes in f32, ", 15) != 0
	    || show_digits(rest + 15, &m->weight_bytes16, &rest) || strncmp(rest, " bytes with --weight-dtype bf16", 31) != 0)
		goto done;
	rc = 0;
done:
	if (rc)
		fprintf(stderr, "bench: error: cannot read the cost of %s from `tfmc show`\n", m->spec);
	free(text);
	return rc;
}

/* The forward FLOPs of the prefill per token: n tokens at positions
 * 0..n-1, the one at position p attending to p+1 cached positions, with the
 * classifier (2 * vocab * d_model) computed for the last token only, as the
 * prefill returns the last token's logits.  `tfmc show`'s FLOPs per token
 * counts the classifier for every token. */
static double prefill_flops_per_token(const model *m, int n)
{
	double cls = 2.0 * (double)m->vocab * (double)m->d_model;

	if (n < 1)
		return 0;
	return (n * (m->flops0 - cls) + cls + m->flops_pos * n * (n + 1) / 2.0) / n;
}

/* ---- Statistics ----------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

typedef struct stats {
	double median, min, max;
} stats;

static stats stats_of(const double *v, int n)
{
	double s[MAX_RUNS];
	stats r = { 0, 0, 0 };

	if (n < 1)
		return r;
	memcpy(s, v, sizeof *v * (size_t)n);
	qsort(s, (size_t)n, sizeof *s, cmp_double);
	r.min = s[0];
	r.max = s[n - 1];
	r.median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	return r;
}

/* ---- Running the protocol ---------------------------------------------- */

/* The value of key=VALUE in the program's bench line. */
static int bench_field(const char *line, const char *key, char *out, size_t size)
{
	size_t k = strlen(key);

	for (const char *p = line; (p = strstr(p, key)) != NULL; p += k)
		if ((p == line || p[-1] == ' ') && p[k] == '=') {
			size_t n = strcspn(p + k + 1, " \n");
			if (n >= size)
				n = size - 1;
			memcpy(out, p + k + 1, n);
			out[n] = '\0';
			return 0;
		}
	return -1;
}

/* One run of the protocol, added to s. */
static void run_once(model *m, int engine, int threads, const options *o, int rep)
{
	series *s = &m->s[engine][threads - 1];
	char weights[PATH_MAX + 32], prog[PATH_MAX + 32], out[PATH_MAX + 16], err[PATH_MAX + 16];
	char th[16], decode[32], prefill[32], pn[16], dn[16], hash[16], *text, *line, *errtext;
	struct rusage ru;
	double busy0, busy1, wall, other = -1;
	int rc;

	path_in(weights, sizeof weights, m->name, engine == BF16 ? "-bf16.safetensors" : ".safetensors");
	path_in(prog, sizeof prog, m->name, engine == BF16 ? "-bf16" : "");
	path_in(out, sizeof out, "run", ".out");
	path_in(err, sizeof err, "run", ".err");
	snprintf(th, sizeof th, "%d", threads);
	char *aot[] = { prog, "--weights", weights, "--bench", "--threads", th, NULL };
	char *jit[] = { (char *)o->tfmc, "run", m->spec, "--weights", weights, "--bench",
	                "--threads", th, NULL };

	memset(&ru, 0, sizeof ru);
	busy0 = machine_busy();
	rc = run(engine == JIT ? jit : aot, out, err, o->timeout, &ru, &wall);
	busy1 = machine_busy();
	/* What the machine did besides this run: its busy CPU time less the
	 * run's own, per second. */
	if (busy0 >= 0 && busy1 >= 0 && wall > 0) {
		other = (busy1 - busy0 - tv_seconds(ru.ru_utime) - tv_seconds(ru.ru_stime)) / wall;
		if (other < 0)
			other = 0;
	}
	text = slurp(out);
	line = text ? strstr(text, "bench ") : NULL;
	if (rc != 0 || line == NULL || bench_field(line, "decode_tok_s", decode, sizeof decode)
	    || bench_field(line, "prefill_tok_s", prefill, sizeof prefill)) {
		char msg[256];
		last_line(err, msg, sizeof msg);
		snprintf(s->error, sizeof s->error, "exit %d: %s", rc, msg);
		s->failed++;
		fprintf(stderr, "bench: %s %s %dt run %d: failed: %s\n", m->name,
		        engine_name[engine], threads, rep + 1, s->error);
		free(text);
		return;
	}
	s->decode[s->n] = strtod(decode, NULL);
	s->prefill[s->n] = strtod(prefill, NULL);
	s->other[s->n] = other;
	if (ru.ru_maxrss > s->rss_kib)
		s->rss_kib = ru.ru_maxrss;
	if (bench_field(line, "prefill_n", pn, sizeof pn) == 0)
		s->prefill_n = atoi(pn);
	if (bench_field(line, "decode_n", dn, sizeof dn) == 0)
		s->decode_n = atoi(dn);
	if (bench_field(line, "target", s->target, sizeof s->target) != 0)
		snprintf(s->target, sizeof s->target, "?");
	if (bench_field(line, "tokens_hash", hash, sizeof hash) == 0) {
		if (s->n == 0)
			snprintf(s->hash, sizeof s->hash, "%s", hash);
		else if (strcmp(hash, s->hash) != 0)
			s->hash_differs = 1;
	}
	errtext = slurp(err);
	if (engine != JIT)
		snprintf(s->how, sizeof s->how, engine == BF16 ? "AOT bf16" : "AOT");
	else if (errtext && (strstr(errtext, "system C compiler") || strstr(errtext, "system compiler")))
		snprintf(s->how, sizeof s->how, "run (cc)");
	else
		snprintf(s->how, sizeof s->how, "JIT");
	free(errtext);
	fprintf(stderr, "bench: %s %-3s %dt run %d: decode %8.2f tok/s, prefill %8.1f tok/s, "
	        "peak RSS %.0f MiB, other load %.2f CPUs\n", m->name, engine_name[engine], threads,
	        rep + 1, s->decode[s->n], s->prefill[s->n], (double)ru.ru_maxrss / 1024, other);
	s->n++;
	free(text);
}

/* The JIT's time from spec to runnable code: what `tfmc run --timings`
 * reports for parse and check, codegen and JIT compile, over several runs
 * that decode nothing. */
static void ready_bench(model *m, const options *o, const char *weights)
{
	char out[PATH_MAX + 16], err[PATH_MAX + 16];
	char *argv[] = { (char *)o->tfmc, "run", m->spec, "--weights", (char *)weights, "--timings",
	                 "-n", "0", "--threads", "1", NULL };

	path_in(out, sizeof out, "ready", ".out");
	path_in(err, sizeof err, "ready", ".err");
	m->n_ready = 0;
	for (int i = 0; i < 7 && m->n_ready < MAX_RUNS; i++) {
		double check, emit, jit;
		char *text, *p;
		if (run(argv, out, err, o->timeout, NULL, NULL) != 0)
			return;
		text = slurp(err);
		p = text ? strstr(text, "timings: parse and check ") : NULL;
		if (p && sscanf(p, "timings: parse and check %lf ms, codegen %lf ms, JIT compile %lf ms",
		                &check, &emit, &jit) == 3)
			m->ready_ms[m->n_ready++] = check + emit + jit;
		free(text);
	}
	unlink(out);
	unlink(err);
	if (m->n_ready)
		fprintf(stderr, "bench: %s: spec to runnable code (JIT) %.1f ms, median of %d\n", m->name,
		        stats_of(m->ready_ms, m->n_ready).median, m->n_ready);
}

/* Weights, the emitted C, the build, then the runs: rep by rep, each rep
 * every thread count and engine in turn, so that a slow spell of a shared
 * machine spreads over all of them rather than falling on one. */
static void model_bench(model *m, const options *o, int threads_max)
{
	char weights[PATH_MAX + 32], prog[PATH_MAX + 32], csrc[PATH_MAX + 32];
	char weights16[PATH_MAX + 32], prog16[PATH_MAX + 32];
	char *init[] = { (char *)o->tfmc, "init", m->spec, "-o", weights, NULL };
	char *emit[] = { (char *)o->tfmc, m->spec, "-o", csrc, NULL };
	char *build[] = { (char *)o->tfmc, "build", m->spec, "-o", prog, NULL };
	char *init16[] = { (char *)o->tfmc, "init", m->spec, "-o", weights16, "--weight-dtype", "bf16", NULL };
	char *build16[] = { (char *)o->tfmc, "build", m->spec, "-o", prog16, "--weight-dtype", "bf16", NULL };
	struct stat st;
	int bf16 = 0;

	path_in(weights, sizeof weights, m->name, ".safetensors");
	path_in(prog, sizeof prog, m->name, "");
	path_in(csrc, sizeof csrc, m->name, ".c");
	path_in(weights16, sizeof weights16, m->name, "-bf16.safetensors");
	path_in(prog16, sizeof prog16, m->name, "-bf16");
	m->c_bytes = -1;
	m->build_s = -1;
	if (tfmc_step(init, "tfmc init", o, &m->init_s) != 0)
		return;
	bf16 = tfmc_step(init16, "tfmc init --weight-dtype bf16", o, NULL) == 0
	       && tfmc_step(build16, "tfmc build --weight-dtype bf16", o, NULL) == 0;
	sync(); /* the weights written back now, not during a timed run */
	if (tfmc_step(emit, "tfmc (emit C)", o, NULL) == 0 && stat(csrc, &st) == 0)
		m->c_bytes = (long)st.st_size;
	if (tfmc_step(build, "tfmc build", o, &m->build_s) != 0)
		m->build_s = -1;
	fprintf(stderr, "bench: %s: %.0f parameters, init %.1f s, generated C %ld bytes, tfmc build %.2f s\n",
	        m->name, m->params, m->init_s, m->c_bytes, m->build_s);
	if (o->jit)
		ready_bench(m, o, weights);
	for (int rep = 0; rep < o->runs; rep++)
		for (int t = 1; t <= threads_max; t++)
			for (int e = 0; e < N_ENGINES; e++) {
				if (e == AOT && m->build_s < 0)
					continue;
				if (e == JIT && !o->jit)
					continue;
				if (e == BF16 && !bf16)
					continue;
				run_once(m, e, t, o, rep);
			}
	/* The weights of the big models are most of a GiB: gone as soon as
	 * they are measured. */
	if (!o->keep) {
		unlink(weights);
		unlink(prog);
		unlink(weights16);
		unlink(prog16);
		unlink(csrc);
		path_in(csrc, sizeof csrc, m->name, ".h");
		unlink(csrc);
	}
}

/* ---- Long contexts and the quantized formats ------------------------------------ */

/* The number after "key=" on the line of a run's stdout that starts with
 * tag, from one run of argv; -1 when the run failed (said on stderr). */
static double bench_value(char *const argv[], const char *tag, const char *key, const options *o)
{
	char out[PATH_MAX + 16], err[PATH_MAX + 16], v[32], msg[300];
	char *text, *line;
	double r = -1;

	path_in(out, sizeof out, "run", ".out");
	path_in(err, sizeof err, "run", ".err");
	int rc = run(argv, out, err, o->timeout, NULL, NULL);
	text = slurp(out);
	line = text ? strstr(text, tag) : NULL;
	if (rc == 0 && line && bench_field(line, key, v, sizeof v) == 0)
		r = strtod(v, NULL);
	else {
		last_line(err, msg, sizeof msg);
		fprintf(stderr, "bench: %s %s failed (exit %d): %s\n", argv[0], argv[1], rc, msg);
	}
	free(text);
	return r;
}

/* Long contexts: s110 with max_seq 4096, its decode after a context of 100
 * tokens and of 4000 (the program's --bench-context), with a cache of
 * floats and of halves (--kv-dtype f16); best of two runs each. */
#define CTX_MAX_SEQ 4096
static const int ctx_at[2] = { 100, 4000 };

typedef struct context_figures {
	int done;
	double tok_s[2][N_THREADS][2];	/* [f16 cache][threads - 1][context]; 0 failed */
	double weight_bytes, kv_bytes_per_pos;	/* f32 */
} context_figures;

/* spec with its max_seq set to CTX_MAX_SEQ, written to path. */
static int spec_with_max_seq(const char *spec, const char *path)
{
	char *text = slurp(spec), *k = text ? strstr(text, "max_seq") : NULL;
	FILE *f;

	if (!k || !strchr(k, '=')) {
		free(text);
		return -1;
	}
	char *num = strchr(k, '=') + 1;
	num += strspn(num, " \t");
	const size_t digits = strspn(num, "0123456789");
	if (!(f = fopen(path, "w"))) {
		free(text);
		return -1;
	}
	fprintf(f, "%.*s%d%s", (int)(num - text), text, CTX_MAX_SEQ, num + digits);
	free(text);
	return fclose(f) == 0 ? 0 : -1;
}

static void context_bench(context_figures *cf, const model *m, const options *o, int threads_max)
{
	char spec[PATH_MAX + 32], weights[PATH_MAX + 32], prog[2][PATH_MAX + 32], th[16], at[16];
	char *init[] = { (char *)o->tfmc, "init", spec, "-o", weights, NULL };
	char *build[2][8] = { { (char *)o->tfmc, "build", spec, "-o", prog[0], NULL },
	                      { (char *)o->tfmc, "build", spec, "-o", prog[1], "--kv-dtype", "f16", NULL } };

	path_in(spec, sizeof spec, "s110_4k", ".tfm");
	path_in(weights, sizeof weights, "s110_4k", ".safetensors");
	path_in(prog[0], sizeof prog[0], "s110_4k", "");
	path_in(prog[1], sizeof prog[1], "s110_4k", "-kv16");
	if (spec_with_max_seq(m->spec, spec) != 0 || tfmc_step(init, "tfmc init (long contexts)", o, NULL) != 0
	    || tfmc_step(build[0], "tfmc build (long contexts)", o, NULL) != 0
	    || tfmc_step(build[1], "tfmc build --kv-dtype f16", o, NULL) != 0)
		return;
	sync();
	cf->weight_bytes = m->weight_bytes;
	cf->kv_bytes_per_pos = m->kv_bytes;
	for (int rep = 0; rep < 2; rep++)
		for (int t = 1; t <= threads_max; t++)
			for (int kv = 0; kv < 2; kv++)
				for (int c = 0; c < 2; c++) {
					char *argv[] = { prog[kv], "--weights", weights, "--bench-context", at,
					                 "--threads", th, NULL };
					snprintf(th, sizeof th, "%d", t);
					snprintf(at, sizeof at, "%d", ctx_at[c]);
					const double v = bench_value(argv, "bench_context ", "decode_tok_s", o);
					fprintf(stderr, "bench: s110 max_seq %d, %s cache, %dt, after %d tokens: decode %.2f tok/s\n",
					        CTX_MAX_SEQ, kv ? "f16" : "f32", t, ctx_at[c], v);
					if (v > cf->tok_s[kv][t - 1][c])
						cf->tok_s[kv][t - 1][c] = v;
				}
	cf->done = 1;
	if (!o->keep) {
		unlink(weights);
		unlink(prog[0]);
		unlink(prog[1]);
		unlink(spec);
	}
}

static void print_context(const context_figures *cf, int threads_max)
{
	printf("\n### Long contexts\n\ns110 with max_seq %d (AOT, f32 weights, %.0f MB): decode tok/s after a "
	       "context of %d and of %d tokens (`PROGRAM --bench-context N`: 64 greedy steps timed), best of 2 "
	       "runs; the KV cache read per token at %d is %.0f MB in floats, %.0f MB in halves.\n\n",
	       CTX_MAX_SEQ, cf->weight_bytes / 1e6, ctx_at[0], ctx_at[1], ctx_at[1],
	       cf->kv_bytes_per_pos * ctx_at[1] / 1e6, cf->kv_bytes_per_pos * ctx_at[1] / 2e6);
	printf("| KV cache | threads | after %d | after %d | slowdown | bandwidth bound on the slowdown |\n"
	       "|---|---|---|---|---|---|\n", ctx_at[0], ctx_at[1]);
	for (int kv = 0; kv < 2; kv++)
		for (int t = 1; t <= threads_max; t++) {
			const double a = cf->tok_s[kv][t - 1][0], b = cf->tok_s[kv][t - 1][1];
			const double per = cf->kv_bytes_per_pos / (kv ? 2 : 1);
			/* weights plus the cache, at 4000 over at 100, if both read at one rate */
			const double bound = (cf->weight_bytes + per * ctx_at[1]) / (cf->weight_bytes + per * ctx_at[0]);
			printf("| %s | %d | %.2f | %.2f | %.2fx | %.2fx |\n", kv ? "f16" : "f32", t, a, b,
			       a > 0 && b > 0 ? a / b : 0.0, bound);
		}
}

/* The quantized formats through the AOT program and the JIT: s110 in each,
 * random weights written as GGUF by tfmc init, read in place; decode at one
 * thread, in the f32 mode and the int8 mode; medians of the runs. */
static const char *const qfmt[] = { "q8_0", "q4_0", "q4_K", "q6_K" };
#define N_QFMT 4

typedef struct quant_figures {
	int done;
	double tok_s[N_QFMT][2][2][MAX_RUNS];	/* [format][int8][jit][run] */
	int n[N_QFMT][2][2];
} quant_figures;

static void quant_bench(quant_figures *qf, const model *m, const options *o)
{
	char weights[N_QFMT][PATH_MAX + 128], prog[N_QFMT][2][PATH_MAX + 128], suffix[32];

	for (int f = 0; f < N_QFMT; f++) {
		snprintf(suffix, sizeof suffix, "-%s.gguf", qfmt[f]);
		path_in(weights[f], sizeof weights[f], m->name, suffix);
		char *init[] = { (char *)o->tfmc, "init", (char *)m->spec, "-o", weights[f], "--weight-dtype",
		                 (char *)qfmt[f], NULL };
		if (tfmc_step(init, "tfmc init (quantized)", o, NULL) != 0)
			return;
		for (int i8 = 0; i8 < 2; i8++) {
			snprintf(suffix, sizeof suffix, "-%s%s", qfmt[f], i8 ? "-int8" : "");
			path_in(prog[f][i8], sizeof prog[f][i8], m->name, suffix);
			char *build[] = { (char *)o->tfmc, "build", (char *)m->spec, "-o", prog[f][i8], "--weight-dtype",
			                  (char *)qfmt[f], "--activations", i8 ? "int8" : "f32", NULL };
			if (tfmc_step(build, "tfmc build (quantized)", o, NULL) != 0)
				return;
		}
	}
	sync();
	for (int rep = 0; rep < o->runs; rep++)
		for (int f = 0; f < N_QFMT; f++)
			for (int i8 = 0; i8 < 2; i8++)
				for (int jit = 0; jit < 2; jit++) {
					char *aot[] = { prog[f][i8], "--weights", weights[f], "--bench", "--threads", "1", NULL };
					char *run_[] = { (char *)o->tfmc, "run", (char *)m->spec, "--weights", weights[f], "--bench",
					                 "--threads", "1", "--activations", i8 ? "int8" : "f32", NULL };
					if (jit && !o->jit)
						continue;
					const double v = bench_value(jit ? run_ : aot, "bench ", "decode_tok_s", o);
					fprintf(stderr, "bench: %s %s%s %s 1t run %d: decode %.2f tok/s\n", m->name, qfmt[f],
					        i8 ? " int8" : "", jit ? "jit" : "aot", rep + 1, v);
					if (v > 0)
						qf->tok_s[f][i8][jit][qf->n[f][i8][jit]++] = v;
				}
	qf->done = 1;
	for (int f = 0; f < N_QFMT && !o->keep; f++) {
		unlink(weights[f]);
		unlink(prog[f][0]);
		unlink(prog[f][1]);
	}
}

static void print_quant(const quant_figures *qf, const model *m)
{
	printf("\n### The quantized formats: AOT and JIT\n\n%s in each format (random weights from `tfmc init "
	       "--weight-dtype T`, a GGUF file read in place), decode tok/s at one thread, medians of the runs; "
	       "the int8 mode is `--activations int8`:\n\n", m->name);
	printf("| format | mode | AOT | JIT | JIT / AOT |\n|---|---|---|---|---|\n");
	for (int f = 0; f < N_QFMT; f++)
		for (int i8 = 0; i8 < 2; i8++) {
			const double a = qf->n[f][i8][0] ? stats_of(qf->tok_s[f][i8][0], qf->n[f][i8][0]).median : 0;
			const double j = qf->n[f][i8][1] ? stats_of(qf->tok_s[f][i8][1], qf->n[f][i8][1]).median : 0;
			printf("| %s | %s | %.2f | %.2f | %.2f |\n", qfmt[f], i8 ? "int8" : "f32", a, j,
			       a > 0 ? j / a : 0.0);
		}
}

/* ---- The report ------------------------------------------------------------- */

static const struct quoted *quoted_for(const char *name)
{
	for (size_t i = 0; i < sizeof quoted / sizeof quoted[0]; i++)
		if (strcmp(quoted[i].name, name) == 0)
			return &quoted[i];
	return NULL;
}

/* A rate with three or four significant digits. */
static const char *fmt_rate(char *buf, size_t size, double v)
{
	snprintf(buf, size, v >= 1000 ? "%.0f" : v >= 100 ? "%.1f" : v >= 10 ? "%.2f" : "%.3f", v);
	return buf;
}

static const char *fmt_bytes(char *buf, size_t size, double b)
{
	if (b >= GIB)
		snprintf(buf, size, "%.2f GiB", b / GIB);
	else if (b >= MIB)
		snprintf(buf, size, "%.1f MiB", b / MIB);
	else
		snprintf(buf, size, "%.0f KiB", b / 1024);
	return buf;
}

/* The figures of a report. */
typedef struct machine_figures {
	machine_cpu cpu;
	char tfmc_version[64], cc[128], date[32];
	char load_start[64], load_end[64];	/* /proc/loadavg: was anything else running? */
	double fma[N_ISAS][N_THREADS];	/* FLOP/s of 1..N_THREADS threads together; 0: no such ISA */
	double fma_other[N_ISAS][N_THREADS];
	int fma_best;			/* the ISA of the peak */
	double fma_peak[N_THREADS];	/* fma[fma_best] */
	double bw_gib[N_THREADS];	/* read bandwidth of a 1 GiB buffer */
	double bw_gib_other[N_THREADS];
	int threads_max;
	double elapsed;
} machine_figures;

/* The decode's fraction of the roofline: weight bytes per token times
 * tokens per second over the read bandwidth at that size and threads, of
 * the best pass (or, with median set, of the median pass); the bytes and
 * the size those of the engine's weights (bf16 for BF16). */
static double decode_roofline(const model *m, int e, int t, double tok_s, int median)
{
	double bytes = e == BF16 ? m->weight_bytes16 : m->weight_bytes;
	double bw = median ? (e == BF16 ? m->bw16_med : m->bw_med)[t - 1]
	                   : (e == BF16 ? m->bw16 : m->bw)[t - 1];

	return bw > 0 ? bytes * tok_s / bw : 0;
}

/* The prefill's fraction of FMA peak: FLOPs per second over the peak of
 * one core times the threads. */
static double prefill_peak(const model *m, const series *s, int t, double tok_s,
                           const machine_figures *mf)
{
	return mf->fma_peak[0] > 0
	       ? prefill_flops_per_token(m, s->prefill_n) * tok_s / (mf->fma_peak[0] * t) : 0;
}

/* A cell of the quoted table: engine e's median decode at t threads and its
 * share of the roofline, or a dash when it did not run. */
static void print_decode_cell(const model *m, int e, int t)
{
	const series *s = &m->s[e][t - 1];
	char a[64];

	if (s->n > 0) {
		double dec = stats_of(s->decode, s->n).median;
		printf("%s (%.0f%%) | ", fmt_rate(a, sizeof a, dec), 100 * decode_roofline(m, e, t, dec, 0));
	} else {
		printf("– | ");
	}
}

static void print_markdown(const model *ms, int n, const machine_figures *mf, const options *o)
{
	char a[64], b[64], c[64], d[64];

	printf("## tfmc speed (`make bench`)\n\n");
	printf("Machine: %s, %d CPUs online, %s; tfmc %s, %s; %s.\n\n", mf->cpu.model, mf->cpu.cpus,
	       mf->cpu.avx512 ? "AVX-512F and AVX2+FMA" : mf->cpu.avx2 ? "AVX2+FMA, no AVX-512" : "no AVX2",
	       mf->tfmc_version, mf->cc, mf->date);
	printf("- Load average (1, 5, 15 min) at the start: %s; at the end: %s.  The machine's "
	       "other work shows in these figures, most at 2 threads.\n", mf->load_start, mf->load_end);
	printf("- FP32 FMA peak per core: **%.1f GFLOP/s** (%s, 1 thread)", mf->fma_peak[0] / 1e9,
	       isa_name[mf->fma_best]);
	for (int k = 0; k < N_ISAS - 1; k++)	/* scalar only when nothing else runs */
		for (int t = 1; t <= mf->threads_max; t++)
			if (mf->fma[k][t - 1] > 0 && (k != mf->fma_best || t > 1))
				printf("; %s with %d thread%s: %.1f GFLOP/s (other load %.2f)", isa_name[k], t,
				       t > 1 ? "s" : "", mf->fma[k][t - 1] / 1e9, mf->fma_other[k][t - 1]);
	printf(".\n- Read bandwidth, 1 GiB buffer:");
	for (int t = 1; t <= mf->threads_max; t++)
		printf("%s **%.1f GB/s** (%d thread%s, other load %.2f)", t > 1 ? "," : "",
		       mf->bw_gib[t - 1] / 1e9, t, t > 1 ? "s" : "", mf->bw_gib_other[t - 1]);
	printf(".\n- Read bandwidth of a buffer of each model's weight size, 1 / %d threads, best pass "
	       "[median pass] (other load):", mf->threads_max);
	for (int i = 0; i < n; i++)
		for (int k = 0; k < 2; k++) {
			printf("%s %s %s%s:", i || k ? ";" : "", ms[i].name,
			       fmt_bytes(a, sizeof a, k ? ms[i].weight_bytes16 : ms[i].weight_bytes), k ? " (bf16)" : "");
			for (int t = 1; t <= mf->threads_max; t++)
				printf("%s%.1f [%.1f] (%.2f)", t > 1 ? " / " : " ", (k ? ms[i].bw16 : ms[i].bw)[t - 1] / 1e9,
				       (k ? ms[i].bw16_med : ms[i].bw_med)[t - 1] / 1e9,
				       (k ? ms[i].bw16_other : ms[i].bw_other)[t - 1]);
		}
	printf(" GB/s.\n- Each limit is the best of two measurements, before the models ran and after; "
	       "bandwidth the best of its passes (a plain vectorised sum), and the median pass's beside it: "
	       "on a shared machine the two differ, and a decode run, a median of runs of 255 tokens, "
	       "meets the typical bandwidth rather than the best.\n\n");

	printf("| model | parameters | f32 weights | FLOPs/token | generated C | `tfmc build` | spec to runnable, JIT |\n");
	printf("|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < n; i++) {
		const model *m = &ms[i];
		if (m->c_bytes >= 0)
			snprintf(c, sizeof c, "%.0f KB", (double)m->c_bytes / 1e3);
		else
			snprintf(c, sizeof c, "failed");
		if (m->build_s >= 0)
			snprintf(d, sizeof d, "%.1f s", m->build_s);
		else
			snprintf(d, sizeof d, "failed");
		char r[64] = "-";
		if (m->n_ready) {
			stats st = stats_of(m->ready_ms, m->n_ready);
			snprintf(r, sizeof r, "%.1f ms (%.1f–%.1f)", st.median, st.min, st.max);
		}
		printf("| %s | %.1fM | %s | %.0fM | %s | %s | %s |\n", m->name, m->params / 1e6,
		       fmt_bytes(a, sizeof a, m->weight_bytes), m->flops0 / 1e6, c, d, r);
	}

	printf("\n| model | engine | threads | decode tok/s | decode %% of roofline (of median pass) | prefill-128 tok/s | prefill %% of FMA peak | peak RSS | 2t / 1t decode | JIT / AOT decode | other load |\n");
	printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < n; i++)
		for (int e = 0; e < N_ENGINES; e++)
			for (int t = 1; t <= mf->threads_max; t++) {
				const model *m = &ms[i];
				const series *s = &m->s[e][t - 1];
				if (s->n == 0 && s->failed == 0)
					continue;
				if (s->n == 0) {
					printf("| %s | %s | %d | failed: %s | | | | | | | |\n", m->name,
					       engine_name[e], t, s->error);
					continue;
				}
				stats dec = stats_of(s->decode, s->n), pre = stats_of(s->prefill, s->n);
				const series *one = &m->s[e][0], *aot = &m->s[AOT][t - 1];
				printf("| %s | %s %s | %d | %s (%s–", m->name, s->how, s->target, t,
				       fmt_rate(a, sizeof a, dec.median), fmt_rate(b, sizeof b, dec.min));
				printf("%s) | %.0f%% (%.0f%%) | ", fmt_rate(a, sizeof a, dec.max),
				       100 * decode_roofline(m, e, t, dec.median, 0),
				       100 * decode_roofline(m, e, t, dec.median, 1));
				printf("%s (%s–", fmt_rate(a, sizeof a, pre.median), fmt_rate(b, sizeof b, pre.min));
				printf("%s) | %.0f%% | %.0f MiB | ", fmt_rate(a, sizeof a, pre.max),
				       100 * prefill_peak(m, s, t, pre.median, mf), (double)s->rss_kib / 1024);
				if (t > 1 && one->n > 0)
					printf("%.2f× ", dec.median / stats_of(one->decode, one->n).median);
				printf("| ");
				if (e == JIT && aot->n > 0)
					printf("%.2f ", dec.median / stats_of(aot->decode, aot->n).median);
				stats other = stats_of(s->other, s->n);
				printf("| %.2f (%.2f–%.2f) |%s%s\n", other.median, other.min, other.max,
				       s->failed ? " (failed runs: " : "", s->failed ? "see stderr)" : "");
				if (s->hash_differs)
					printf("|  | note: runs of %s %s decoded different tokens | | | | | | | | | |\n",
					       m->name, s->how);
			}

	printf("\nMedians of %d runs, min–max in parentheses; every run is a fresh process "
	       "(`PROGRAM --bench`, or `tfmc run SPEC --bench` for the JIT) on weights from "
	       "`tfmc init`.  Decode: greedy, one token at a time, positions 1..255 after a "
	       "one-token prompt.  Prefill: one forward of 128 tokens at position 0.  "
	       "**Roofline**: weight bytes per token (f32, or bf16 for `AOT bf16`) × tok/s ÷ the read "
	       "bandwidth of a buffer of the weights' size at the same thread count, of the best pass "
	       "(in parentheses: of the median pass; KV-cache reads not counted).  "
	       "**FMA peak**: the prefill's FLOPs (`tfmc show`'s FLOPs per token, with the "
	       "classifier counted for the last token only, as the prefill computes only its "
	       "logits) per second ÷ (the FMA peak of one core × threads).  Peak RSS from "
	       "wait4 (for the JIT, tfmc and the compiler included).  `run (cc)`: `tfmc run` "
	       "fell back to the system compiler (no JIT).  **Other load**: CPUs busy with "
	       "anything but the run itself while it ran (/proc/stat less the run's rusage; "
	       "steal included); on a %d-CPU machine, a run at 2 threads beside a load of 1 "
	       "is not measuring what it says.\n", o->runs, mf->cpu.cpus);

	printf("\nQuoted from issue 6, **not measured here**: llama2.c and llama.cpp on another "
	       "machine (2 cores, AVX-512 with BF16; read bandwidth 16.1 / 31.4 GB/s from DRAM "
	       "and about 29 / 54 GB/s up to ~96 MiB, FMA peak 240 GFLOP/s per core).  Their "
	       "percentages are derived from those quoted figures the same way as ours; ours "
	       "(tfmc AOT, medians of this run) are on this machine's limits.\n\n");
	printf("| model | threads | tfmc AOT decode | llama2.c f32 | llama.cpp f32 | tfmc AOT bf16 decode | llama.cpp bf16 | tfmc AOT prefill-128 | llama.cpp prefill-128 f32 |\n");
	printf("|---|---|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < n; i++) {
		const model *m = &ms[i];
		const struct quoted *q = quoted_for(m->name);
		if (q == NULL)
			continue;
		for (int t = 1; t <= 2 && t <= N_THREADS; t++) {
			const series *s = &m->s[AOT][t - 1];
			double bw = m->weight_bytes <= quoted_llc_bytes ? quoted_llc_bw[t - 1] : quoted_dram_bw[t - 1];
			double bw16 = m->weight_bytes / 2 <= quoted_llc_bytes ? quoted_llc_bw[t - 1] : quoted_dram_bw[t - 1];
			double pf = prefill_flops_per_token(m, 128);
			printf("| %s | %d | ", m->name, t);
			print_decode_cell(m, AOT, t);
			printf("%g (%.0f%%) | ", q->llama2c[t - 1],
			       100 * m->weight_bytes * q->llama2c[t - 1] / bw);
			printf("%g (%.0f%%) | ", q->llamacpp[t - 1],
			       100 * m->weight_bytes * q->llamacpp[t - 1] / bw);
			print_decode_cell(m, BF16, t);
			printf("%g (%.0f%%) | ", q->llamacpp_bf16[t - 1],
			       100 * m->weight_bytes / 2 * q->llamacpp_bf16[t - 1] / bw16);
			if (s->n > 0) {
				double pre = stats_of(s->prefill, s->n).median;
				printf("%s (%.0f%%) | ", fmt_rate(a, sizeof a, pre), 100 * prefill_peak(m, s, t, pre, mf));
			} else {
				printf("– | ");
			}
			printf("%g (%.0f%%) |\n", q->llamacpp_prefill[t - 1],
			       100 * pf * q->llamacpp_prefill[t - 1] / (quoted_fma_peak * t));
		}
	}
	printf("\nDecode: tok/s (%% of roofline); prefill: tok/s (%% of FMA peak).  "
	       "`make bench` took %.1f minutes.\n", mf->elapsed / 60);
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static void json_stats(const char *key, const double *v, int n)
{
	stats st = stats_of(v, n);

	printf("\"%s\": {\"median\": %.4g, \"min\": %.4g, \"max\": %.4g, \"runs\": [", key,
	       st.median, st.min, st.max);
	for (int i = 0; i < n; i++)
		printf("%s%.4g", i ? ", " : "", v[i]);
	printf("]}");
}

/* The training figures (the section Training, below). */
typedef struct train_figures train_figures;
static void print_train_json(const train_figures *tf, const machine_figures *mf);

/* The quantized formats' and the long contexts' figures, as JSON members
 * (each line ends with a comma: the report's members follow). */
static void print_s110_json(const quant_figures *qf, const context_figures *cf, int threads_max)
{
	if (qf->done) {
		printf("  \"quantized\": [");
		for (int f = 0, first = 1; f < N_QFMT; f++)
			for (int i8 = 0; i8 < 2; i8++)
				for (int jit = 0; jit < 2; jit++, first = 0) {
					printf("%s\n    {\"format\": \"%s\", \"activations\": \"%s\", \"engine\": \"%s\", \"threads\": 1, ",
					       first ? "" : ",", qfmt[f], i8 ? "int8" : "f32", jit ? "jit" : "aot");
					json_stats("decode_tok_s", qf->tok_s[f][i8][jit], qf->n[f][i8][jit]);
					printf("}");
				}
		printf("\n  ],\n");
	}
	if (cf->done) {
		printf("  \"long_context\": {\"max_seq\": %d, \"weight_bytes\": %.0f, \"kv_bytes_per_position\": %.0f, "
		       "\"runs\": [", CTX_MAX_SEQ, cf->weight_bytes, cf->kv_bytes_per_pos);
		for (int kv = 0, first = 1; kv < 2; kv++)
			for (int t = 1; t <= threads_max; t++)
				for (int c = 0; c < 2; c++, first = 0)
					printf("%s\n    {\"kv_dtype\": \"%s\", \"threads\": %d, \"context\": %d, \"decode_tok_s\": %.2f}",
					       first ? "" : ",", kv ? "f16" : "f32", t, ctx_at[c], cf->tok_s[kv][t - 1][c]);
		printf("\n  ]},\n");
	}
}

static void print_json(const model *ms, int n, const machine_figures *mf, const options *o,
                       const train_figures *tf, const quant_figures *qf, const context_figures *cf)
{
	printf("{\n  \"machine\": {\"cpu\": ");
	json_str(mf->cpu.model);
	printf(", \"cpus\": %d, \"avx2\": %s, \"avx512\": %s, \"tfmc\": ", mf->cpu.cpus,
	       mf->cpu.avx2 ? "true" : "false", mf->cpu.avx512 ? "true" : "false");
	json_str(mf->tfmc_version);
	printf(", \"cc\": ");
	json_str(mf->cc);
	printf(", \"date\": ");
	json_str(mf->date);
	printf(", \"loadavg_start\": ");
	json_str(mf->load_start);
	printf(", \"loadavg_end\": ");
	json_str(mf->load_end);
	printf(",\n    \"fma_isa\": ");
	json_str(isa_name[mf->fma_best]);
	printf(", \"fma_peak_flops\": [");
	for (int t = 1; t <= mf->threads_max; t++)
		printf("%s%.4g", t > 1 ? ", " : "", mf->fma_peak[t - 1]);
	printf("],\n    \"fma\": [");
	int first = 1;
	for (int k = 0; k < N_ISAS; k++)
		for (int t = 1; t <= mf->threads_max; t++)
			if (mf->fma[k][t - 1] > 0) {
				printf("%s{\"isa\": \"%s\", \"threads\": %d, \"flops\": %.4g, \"other_load_cpus\": %.2f}",
				       first ? "" : ", ", isa_name[k], t, mf->fma[k][t - 1], mf->fma_other[k][t - 1]);
				first = 0;
			}
	printf("],\n    \"read_bw\": [");
	for (int t = 1; t <= mf->threads_max; t++)
		printf("%s{\"bytes\": %.0f, \"threads\": %d, \"bytes_per_s\": %.4g, \"other_load_cpus\": %.2f}",
		       t > 1 ? ", " : "", GIB, t, mf->bw_gib[t - 1], mf->bw_gib_other[t - 1]);
	for (int i = 0; i < n; i++)
		for (int t = 1; t <= mf->threads_max; t++)
			for (int k = 0; k < 2; k++)
				printf(",\n      {\"bytes\": %.0f, \"threads\": %d, \"bytes_per_s\": %.4g, "
				       "\"bytes_per_s_median_pass\": %.4g, \"other_load_cpus\": %.2f}",
				       k ? ms[i].weight_bytes16 : ms[i].weight_bytes, t, (k ? ms[i].bw16 : ms[i].bw)[t - 1],
				       (k ? ms[i].bw16_med : ms[i].bw_med)[t - 1], (k ? ms[i].bw16_other : ms[i].bw_other)[t - 1]);
	printf("]},\n  \"runs_per_series\": %d,\n  \"models\": [", o->runs);
	for (int i = 0; i < n; i++) {
		const model *m = &ms[i];
		printf("%s\n    {\"name\": ", i ? "," : "");
		json_str(m->name);
		printf(", \"spec\": ");
		json_str(m->spec);
		printf(", \"parameters\": %.0f, \"weight_bytes\": %.0f, \"weight_bytes_bf16\": %.0f, \"flops_per_token\": %.0f, "
		       "\"flops_per_cached_position\": %.0f, \"c_bytes\": %ld, \"build_s\": %.3f,\n"
		       "     \"jit_ready_ms\": %.2f,\n"
		       "     \"series\": [", m->params, m->weight_bytes, m->weight_bytes16, m->flops0, m->flops_pos,
		       m->c_bytes, m->build_s, m->n_ready ? stats_of(m->ready_ms, m->n_ready).median : -1.0);
		first = 1;
		for (int e = 0; e < N_ENGINES; e++)
			for (int t = 1; t <= mf->threads_max; t++) {
				const series *s = &m->s[e][t - 1];
				if (s->n == 0 && s->failed == 0)
					continue;
				printf("%s\n       {\"engine\": \"%s\", \"how\": ", first ? "" : ",", engine_name[e]);
				first = 0;
				json_str(s->how);
				printf(", \"target\": ");
				json_str(s->target);
				printf(", \"threads\": %d, \"failed_runs\": %d", t, s->failed);
				if (s->failed) {
					printf(", \"error\": ");
					json_str(s->error);
				}
				if (s->n > 0) {
					stats dec = stats_of(s->decode, s->n), pre = stats_of(s->prefill, s->n);
					printf(", \"prefill_n\": %d, \"decode_n\": %d, ", s->prefill_n, s->decode_n);
					json_stats("decode_tok_s", s->decode, s->n);
					printf(", ");
					json_stats("prefill_tok_s", s->prefill, s->n);
					printf(", ");
					json_stats("other_load_cpus", s->other, s->n);
					printf(", \"decode_roofline\": %.4f, \"decode_roofline_median_pass\": %.4f, "
					       "\"prefill_fma_peak\": %.4f, "
					       "\"peak_rss_bytes\": %.0f, \"tokens_hash\": \"%s\", \"same_tokens\": %s",
					       decode_roofline(m, e, t, dec.median, 0), decode_roofline(m, e, t, dec.median, 1),
					       prefill_peak(m, s, t, pre.median, mf),
					       (double)s->rss_kib * 1024, s->hash, s->hash_differs ? "false" : "true");
				}
				printf("}");
			}
		printf("]}");
	}
	printf("\n  ],\n");
	print_s110_json(qf, cf, mf->threads_max);
	if (tf && o->train != TRAIN_NONE)
		print_train_json(tf, mf);
	printf("  \"elapsed_s\": %.1f\n}\n", mf->elapsed);
}

/* ---- Main ------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f,
"usage: bench [--json] [--runs N] [--no-jit] [--keep] [--tfmc PATH] [--timeout S]\n"
"             [--no-train | --train-only] [--train-runs N] [--python PATH]\n"
"             [--torch-system-blas] [SPEC...]\n"
"\n"
"Measures tfmc's generated code on this machine against the machine's limits\n"
"(`make bench`, issue 6): for every SPEC (default: specs/bench/*.tfm), the\n"
"AOT program and `tfmc run` at 1 and 2 threads, each --runs times (default 3),\n"
"and the read bandwidth and FMA peak.  Then, when no SPEC is given, training:\n"
"`tfmc train` and PyTorch (bench/torch_train.py) on s15 and b128.  Run it from\n"
"the top of the tree.\n"
"\n"
"  --json       print the figures as JSON instead of Markdown\n"
"  --runs N     runs of every engine and thread count, 1..%d (default 3)\n"
"  --no-jit     measure only the AOT programs\n"
"  --keep       keep the working directory (weights, programs, C)\n"
"  --tfmc PATH  the tfmc to use (default ./tfmc)\n"
"  --timeout S  kill a step that takes longer than S seconds (default 600)\n"
"  --no-train   leave out the training figures\n"
"  --train-only only the training figures (and the FMA peak)\n"
"  --train-runs N  runs of every training series (default 3)\n"
"  --python PATH   the python3 with Debian's python3-torch (default /usr/bin/python3)\n"
"  --torch-system-blas  PyTorch with the system's BLAS, not tools/openblas.sh's\n", MAX_RUNS);
}

static int parse_args(int argc, char **argv, options *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--json") == 0)
			o->json = 1;
		else if (strcmp(a, "--no-jit") == 0)
			o->jit = 0;
		else if (strcmp(a, "--keep") == 0)
			o->keep = 1;
		else if (strcmp(a, "--no-train") == 0)
			o->train = TRAIN_NONE;
		else if (strcmp(a, "--train-only") == 0)
			o->train = TRAIN_ONLY;
		else if (strcmp(a, "--torch-system-blas") == 0)
			o->torch_blas = 0;
		else if (strcmp(a, "--python") == 0 && i + 1 < argc)
			o->python = argv[++i];
		else if (strcmp(a, "--train-runs") == 0 && i + 1 < argc) {
			char *end;
			long n = strtol(argv[++i], &end, 10);
			if (*argv[i] == '\0' || *end != '\0' || n < 1 || n > MAX_RUNS) {
				fprintf(stderr, "bench: error: --train-runs: expected a number from 1 to %d, got '%s'\n",
				        MAX_RUNS, argv[i]);
				return -1;
			}
			o->train_runs = (int)n;
		} else if ((strcmp(a, "--runs") == 0 || strcmp(a, "--tfmc") == 0 || strcmp(a, "--timeout") == 0)
		         && i + 1 < argc) {
			const char *v = argv[++i];
			if (strcmp(a, "--tfmc") == 0) {
				o->tfmc = v;
				continue;
			}
			char *end;
			long n = strtol(v, &end, 10);
			if (*v == '\0' || *end != '\0' || n < 1 || (a[2] == 'r' && n > MAX_RUNS)) {
				fprintf(stderr, "bench: error: %s: expected a number from 1%s, got '%s'\n", a,
				        a[2] == 'r' ? " to 20" : "", v);
				return -1;
			}
			if (a[2] == 'r')
				o->runs = (int)n;
			else
				o->timeout = (int)n;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			exit(0);
		} else if (a[0] == '-') {
			fprintf(stderr, "bench: error: unknown option or missing value '%s'\n", a);
			usage(stderr);
			return -1;
		} else if (o->n_specs == MAX_MODELS) {
			fprintf(stderr, "bench: error: more than %d specs\n", MAX_MODELS);
			return -1;
		} else {
			o->specs[o->n_specs++] = a;
		}
	}
	return 0;
}

/* The working directory goes when done, unless --keep; the models' files
 * went as soon as they were measured. */
static void remove_workdir(const options *o)
{
	const char *left[] = { "step.out", "step.err", "show.out", "show.err", "run.out", "run.err" };
	char path[PATH_MAX + 16];

	if (o->keep) {
		fprintf(stderr, "bench: kept %s\n", workdir);
		return;
	}
	for (size_t i = 0; i < sizeof left / sizeof left[0]; i++) {
		path_in(path, sizeof path, left[i], "");
		unlink(path);
	}
	if (rmdir(workdir) != 0)
		fprintf(stderr, "bench: note: cannot remove %s: %s\n", workdir, strerror(errno));
}

/* The first line of a command's output, or "?". */
static void first_line_of(const char *cmd, char *out, size_t size)
{
	FILE *p = popen(cmd, "r");

	snprintf(out, size, "?");
	if (p == NULL)
		return;
	if (fgets(out, (int)size, p) == NULL)
		snprintf(out, size, "?");
	out[strcspn(out, "\n")] = '\0';
	pclose(p);
}

/* The first three fields of /proc/loadavg, or "?". */
static void loadavg(char *out, size_t size)
{
	double a, b, c;
	FILE *f = fopen("/proc/loadavg", "r");

	snprintf(out, size, "?");
	if (f == NULL)
		return;
	if (fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3)
		snprintf(out, size, "%.2f, %.2f, %.2f", a, b, c);
	fclose(f);
}

/* CPU seconds this process has used, its threads included. */
static double self_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return tv_seconds(ru.ru_utime) + tv_seconds(ru.ru_stime);
}

/* The other load (CPUs busy with anything but this process) since *p,
 * which it resets. */
typedef struct load_probe {
	double busy, self, t;
} load_probe;

static void load_start(load_probe *p)
{
	p->busy = machine_busy();
	p->self = self_cpu();
	p->t = machine_now();
}

static double load_other(const load_probe *p)
{
	double busy = machine_busy(), dt = machine_now() - p->t, v;

	if (busy < 0 || p->busy < 0 || dt <= 0)
		return -1;
	v = (busy - p->busy - (self_cpu() - p->self)) / dt;
	return v < 0 ? 0 : v;
}

/* The machine's limits, measured again on every call, each kept when it
 * is better than before: the FMA peak of every instruction set the CPU
 * runs, and the read bandwidth at 1 GiB and at each model's weight size. */
static int measure_machine(machine_figures *mf, model *ms, int n)
{
	size_t buf_bytes = (size_t)GIB;
	load_probe lp;
	float *buf;
	double v;

	fprintf(stderr, "bench: %s, %d CPUs; measuring FMA peak and read bandwidth\n", mf->cpu.model,
	        mf->cpu.cpus);
	for (int k = 0; k < N_ISAS; k++) {
		if (k == N_ISAS - 1 && (mf->cpu.avx2 || mf->cpu.avx512))
			continue;	/* scalar: only what a CPU without AVX2 has */
		for (int t = 1; t <= mf->threads_max; t++) {
			load_start(&lp);
			v = machine_fma_peak(&mf->cpu, isa_name[k], t);
			if (v > mf->fma[k][t - 1]) {
				mf->fma[k][t - 1] = v;
				mf->fma_other[k][t - 1] = load_other(&lp);
			}
			if (v > 0)
				fprintf(stderr, "bench: FMA %s, %d thread%s: %.1f GFLOP/s\n", isa_name[k], t,
				        t > 1 ? "s" : "", v / 1e9);
		}
	}
	for (mf->fma_best = 0; mf->fma_best < N_ISAS - 1 && mf->fma[mf->fma_best][0] <= 0; mf->fma_best++)
		;
	memcpy(mf->fma_peak, mf->fma[mf->fma_best], sizeof mf->fma_peak);

	for (int i = 0; i < n; i++)
		if (ms[i].weight_bytes > (double)buf_bytes)
			buf_bytes = (size_t)ms[i].weight_bytes;
	/* In 2 MiB pages where the system gives them, as the runtime keeps
	 * the weights: a TLB miss every 4 KiB would lower the limit. */
	buf_bytes = (buf_bytes + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
	if ((buf = aligned_alloc(HUGE_PAGE, buf_bytes)) == NULL) {
		fprintf(stderr, "bench: error: cannot allocate %zu bytes for the bandwidth buffer\n", buf_bytes);
		return -1;
	}
#ifdef MADV_HUGEPAGE
	madvise(buf, buf_bytes, MADV_HUGEPAGE);
#endif
	for (size_t i = 0; i < buf_bytes / sizeof *buf; i++)
		buf[i] = (float)(i & 1023) * 0.001f;
	for (int j = -1; j < 2 * n; j++)	/* -1: 1 GiB; then each model's f32 and bf16 sizes */
		for (int t = 1; t <= mf->threads_max; t++) {
			int i = j < 0 ? -1 : j / 2, k = j < 0 ? 0 : j % 2;
			double wb = i < 0 ? GIB : k ? ms[i].weight_bytes16 : ms[i].weight_bytes;
			size_t bytes = (size_t)wb & ~(size_t)255;
			double *best = i < 0 ? &mf->bw_gib[t - 1] : k ? &ms[i].bw16[t - 1] : &ms[i].bw[t - 1];
			double *other = i < 0 ? &mf->bw_gib_other[t - 1] : k ? &ms[i].bw16_other[t - 1]
			                                                     : &ms[i].bw_other[t - 1];
			double med, dummy = 0;
			double *best_med = i < 0 ? &dummy : k ? &ms[i].bw16_med[t - 1] : &ms[i].bw_med[t - 1];
			int passes;
			load_start(&lp);
			v = machine_read_bw(&mf->cpu, buf, bytes, t, i < 0 ? 1.0 : 0.5, &passes, &med);
			if (v > *best) {
				*best = v;
				*other = load_other(&lp);
			}
			if (med > *best_med)
				*best_med = med;
			fprintf(stderr, "bench: read bandwidth %.1f MiB (%s), %d thread%s: %.2f GB/s best, %.2f median "
			        "of %d passes\n", (double)bytes / MIB, i < 0 ? "1 GiB" : ms[i].name, t, t > 1 ? "s" : "",
			        v / 1e9, med / 1e9, passes);
		}
	free(buf);
	return 0;
}

/* ---- Training ---------------------------------------------------------------- */

/* The training figures: tokens/s of a full step (forward, backward, AdamW)
 * of `tfmc train` and of PyTorch eager (bench/torch_train.py) on the same
 * specs, batch and sequence, at 1 and 2 threads, run by run in turn so that
 * a slow spell of the machine falls on both; and how far each is from the
 * FMA peak.
 *
 * FLOPs per token of a step, as `tfmc show` counts the forward (flops0 =
 * 2 x the matrix-product parameters, the classifier included; flops_pos =
 * 4 x n_layer x n_head x head_dim per position attended to) and a backward
 * as twice a forward:
 *
 *     3 x (flops0 + flops_pos x (T + 1) / 2)
 *   = 6 x P_matmul + 6 x n_layer x n_head x head_dim x (T + 1)
 *
 * where causal attention over T tokens has the token at position t score
 * t + 1 keys (q.k, 2 x head_dim FLOPs each, per head) and sum t + 1 values
 * (2 x head_dim more): 4 x n_head x head_dim x (t + 1) per layer, whose
 * mean over t = 0..T-1 is 2 x n_head x head_dim x (T + 1).  Norms, RoPE,
 * softmax, the loss and AdamW are not counted. */

#define TRAIN_BATCH   8
#define TRAIN_SEQ     256
#define TRAIN_STEPS   3		/* timed steps of a run, after one untimed */
#define TRAIN_IDS     (1 << 16)	/* tokens of the random data file */
#define MAX_TRAIN     4

static const char *const train_specs[] = { "specs/bench/s15.tfm", "specs/bench/train/b128.tfm" };

/* tfmc; PyTorch with t threads of its own and one of OpenBLAS (t x 1); and
 * PyTorch with one thread of its own and t of OpenBLAS (1 x t, t > 1 only:
 * at 1 thread the two are the same). */
enum { TR_TFMC, TR_TORCH, TR_TORCH_BLAS, N_TRAIN };
static const char *const train_engine[N_TRAIN] = { "tfmc", "torch", "torch-blas" };

typedef struct train_series {
	double tok_s[MAX_RUNS];		/* of each successful run */
	double other[MAX_RUNS];		/* CPUs busy with other work during it */
	int n, failed;
	long rss_kib;			/* the largest peak RSS of the runs */
	char error[300];		/* the last failure */
} train_series;

typedef struct train_model {
	model m;			/* name, vocab, parameters, FLOPs, from `tfmc show` */
	long n_layer, n_head, head_dim;
	double flops;			/* FLOPs per token of a step at TRAIN_SEQ */
	char data[PATH_MAX + 96];	/* random ids, raw uint16 */
	char val[PATH_MAX + 96];	/* one window of them, the validation data */
	train_series s[N_TRAIN][N_THREADS];
} train_model;

struct train_figures {
	train_model tm[MAX_TRAIN];
	int n;
	int tfmc;			/* `tfmc train` runs */
	char tfmc_error[300];
	int torch;			/* /usr/bin/python3 imports torch */
	char torch_error[300];
	char torch_version[32];
	char libpath[PATH_MAX];		/* OpenBLAS's folder for LD_LIBRARY_PATH; "" for the system BLAS */
	char openblas_error[300];	/* why not */
	char blas[32], blas_core[32];	/* what torch_train.py reported */
	int torch_runs;			/* runs of each PyTorch series */
	double elapsed;			/* s */
};

/* The number after "key" among show's model keys ("    head_dim  = 48"). */
static long train_key(const char *text, const char *key)
{
	double v;

	return show_number(text, key, &v, NULL) == 0 ? (long)v : -1;
}

/* The spec's figures from `tfmc show`, and its data file: TRAIN_IDS random
 * ids below vocab (a fixed LCG), raw little-endian uint16 as tfmc train
 * reads a .bin. */
static int train_setup(train_model *tm, const char *spec, const options *o)
{
	char out[PATH_MAX + 96], err[PATH_MAX + 16];
	char *argv[] = { (char *)o->tfmc, "show", (char *)spec, NULL };
	unsigned short *ids;
	uint64_t x = 0x9e3779b97f4a7c15u;
	char *text;
	FILE *f;
	int ok;

	snprintf(tm->m.spec, sizeof tm->m.spec, "%s", spec);
	if (model_show(&tm->m, o) != 0)
		return -1;
	path_in(out, sizeof out, "show", ".out");
	path_in(err, sizeof err, "show", ".err");
	if (run(argv, out, err, o->timeout, NULL, NULL) != 0 || (text = slurp(out)) == NULL)
		return -1;
	tm->n_layer = train_key(text, "n_layer");
	tm->n_head = train_key(text, "n_head");
	tm->head_dim = train_key(text, "head_dim");
	free(text);
	if (tm->n_layer < 1 || tm->n_head < 1 || tm->head_dim < 1 || tm->m.vocab > 65536) {
		fprintf(stderr, "bench: error: cannot read the shape of %s from `tfmc show`\n", spec);
		return -1;
	}
	tm->flops = 3 * (tm->m.flops0 + tm->m.flops_pos * (TRAIN_SEQ + 1) / 2.0);
	path_in(out, sizeof out, tm->m.name, "-train.bin");
	snprintf(tm->data, sizeof tm->data, "%s", out);
	path_in(out, sizeof out, tm->m.name, "-val.bin");
	snprintf(tm->val, sizeof tm->val, "%s", out);
	if ((ids = malloc(sizeof *ids * TRAIN_IDS)) == NULL)
		return -1;
	for (int i = 0; i < TRAIN_IDS; i++) {
		x = x * 6364136223846793005u + 1442695040888963407u;
		ids[i] = (unsigned short)((x >> 33) % (uint64_t)tm->m.vocab);	/* little-endian hosts */
	}
	/* The validation data one window, so that the loss tfmc train
	 * measures at the end takes no time. */
	for (int k = 0; k < 2; k++) {
		const char *path = k ? tm->val : tm->data;
		size_t n = k ? TRAIN_SEQ + 1 : TRAIN_IDS;
		ok = (f = fopen(path, "wb")) != NULL && fwrite(ids, sizeof *ids, n, f) == n;
		if (f && fclose(f) != 0)
			ok = 0;
		if (!ok) {
			fprintf(stderr, "bench: error: cannot write %s: %s\n", path, strerror(errno));
			break;
		}
	}
	free(ids);
	return ok ? 0 : -1;
}

/* A run of argv, its wall time, peak RSS and the other load during it. */
static int train_run(char *const argv[], const char *out, const char *err, const options *o,
                     double *wall, long *rss_kib, double *other)
{
	struct rusage ru;
	double busy0, busy1;
	int rc;

	memset(&ru, 0, sizeof ru);
	busy0 = machine_busy();
	rc = run(argv, out, err, o->timeout, &ru, wall);
	busy1 = machine_busy();
	*other = -1;
	if (busy0 >= 0 && busy1 >= 0 && *wall > 0) {
		*other = (busy1 - busy0 - tv_seconds(ru.ru_utime) - tv_seconds(ru.ru_stime)) / *wall;
		if (*other < 0)
			*other = 0;
	}
	*rss_kib = ru.ru_maxrss;
	return rc;
}

static void train_failed(train_series *s, const char *what, const train_model *tm, int t, int rep,
                         int rc, const char *err)
{
	char msg[256];

	last_line(err, msg, sizeof msg);
	snprintf(s->error, sizeof s->error, "exit %d: %s", rc, msg);
	s->failed++;
	fprintf(stderr, "bench: train %s %s %dt run %d: failed: %s\n", tm->m.name, what, t, rep + 1, s->error);
}

static void train_add(train_series *s, double tok_s, long rss_kib, double other)
{
	s->tok_s[s->n] = tok_s;
	s->other[s->n] = other;
	if (rss_kib > s->rss_kib)
		s->rss_kib = rss_kib;
	s->n++;
}

/* One run of `tfmc train` at t threads, 1 + TRAIN_STEPS steps: the median
 * of its steps but the first (which meets the arena's first page faults)
 * from the step times its --log writes, as PyTorch's run below times its
 * steps.  The run's start-up (the JIT, the data) and its end (the
 * validation loss, the weights written) are outside the steps. */
static void train_tfmc_once(train_model *tm, int t, const options *o, int rep)
{
	train_series *s = &tm->s[TR_TFMC][t - 1];
	char out[PATH_MAX + 16], err[PATH_MAX + 16], log[PATH_MAX + 96], weights[PATH_MAX + 96];
	char th[16], steps[16], batch[16], seq[16], *text, *p;
	double wall, other, v[MAX_RUNS];
	long rss;
	int rc, n = 0;

	path_in(out, sizeof out, "train", ".out");
	path_in(err, sizeof err, "train", ".err");
	path_in(log, sizeof log, tm->m.name, "-train.csv");
	path_in(weights, sizeof weights, tm->m.name, "-trained.safetensors");
	snprintf(th, sizeof th, "%d", t);
	snprintf(steps, sizeof steps, "%d", 1 + TRAIN_STEPS);
	snprintf(batch, sizeof batch, "%d", TRAIN_BATCH);
	snprintf(seq, sizeof seq, "%d", TRAIN_SEQ);
	char *argv[] = { (char *)o->tfmc, "train", tm->m.spec, "--data", tm->data, "--val", tm->val, "-o", weights,
	                 "--steps", steps, "--batch", batch, "--seq", seq, "--threads", th,
	                 "--lr", "1e-3", "--grad-clip", "1", "--eval-every", "0", "--sample", "0",
	                 "--log", log, NULL };
	unlink(log);
	rc = train_run(argv, out, err, o, &wall, &rss, &other);
	text = rc == 0 ? slurp(log) : NULL;
	/* "step,lr,train_loss,grad_norm,tokens_per_s,val_loss" rows; a
	 * header, if any, is not a number. */
	for (p = text; p && *p && n < MAX_RUNS; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		char *f = p, *end;
		long step = strtol(f, &end, 10);
		if (end == f || *end != ',' || step < 2)
			continue;
		for (int k = 0; k < 4 && f; k++)
			f = strchr(f + 1, ',');
		if (f && (v[n] = strtod(f + 1, &end)) > 0 && end != f + 1)
			n++;
	}
	free(text);
	unlink(log);
	unlink(weights);
	if (rc != 0) {
		train_failed(s, "tfmc", tm, t, rep, rc, err);
		return;
	}
	if (n == 0) {
		snprintf(s->error, sizeof s->error, "no step times in its --log");
		s->failed++;
		fprintf(stderr, "bench: train %s tfmc %dt run %d: failed: %s\n", tm->m.name, t, rep + 1, s->error);
		return;
	}
	train_add(s, stats_of(v, n).median, rss, other);
	fprintf(stderr, "bench: train %s tfmc %dt run %d: %.0f tok/s (median of %d steps), %.1f s in all, "
	        "peak RSS %.0f MiB, other load %.2f CPUs\n", tm->m.name, t, rep + 1, s->tok_s[s->n - 1], n,
	        wall, (double)rss / 1024, other);
}

/* One run of bench/torch_train.py: engine TR_TORCH (t threads of PyTorch's,
 * one of OpenBLAS's) or TR_TORCH_BLAS (1 x t). */
static void train_torch_once(train_model *tm, int engine, int t, train_figures *tf, const options *o,
                             int rep)
{
	train_series *s = &tm->s[engine][t - 1];
	char out[PATH_MAX + 16], err[PATH_MAX + 16], env[PATH_MAX + 32], tt[16], bt[16];
	char batch[16], seq[16], steps[16], tok[32], core[32], *text, *line;
	double wall, other;
	long rss;
	int rc, a = 0;
	char *argv[32];

	path_in(out, sizeof out, "torch", ".out");
	path_in(err, sizeof err, "torch", ".err");
	snprintf(tt, sizeof tt, "%d", engine == TR_TORCH ? t : 1);
	snprintf(bt, sizeof bt, "%d", engine == TR_TORCH ? 1 : t);
	snprintf(batch, sizeof batch, "%d", TRAIN_BATCH);
	snprintf(seq, sizeof seq, "%d", TRAIN_SEQ);
	/* With the reference BLAS a step of s15 takes most of a minute: one. */
	snprintf(steps, sizeof steps, "%d", tf->libpath[0] ? TRAIN_STEPS : 1);
	snprintf(env, sizeof env, "LD_LIBRARY_PATH=%s", tf->libpath);
	argv[a++] = "env";
	if (tf->libpath[0])
		argv[a++] = env;
	argv[a++] = (char *)o->python;
	argv[a++] = "bench/torch_train.py";
	argv[a++] = tm->m.spec;
	argv[a++] = "--batch";
	argv[a++] = batch;
	argv[a++] = "--seq";
	argv[a++] = seq;
	argv[a++] = "--torch-threads";
	argv[a++] = tt;
	argv[a++] = "--blas-threads";
	argv[a++] = bt;
	argv[a++] = "--warmup";
	argv[a++] = "1";
	argv[a++] = "--steps";
	argv[a++] = steps;
	argv[a++] = "--budget";	/* seconds of timed steps: fewer steps on a slow spell */
	argv[a++] = "10";
	argv[a] = NULL;
	rc = train_run(argv, out, err, o, &wall, &rss, &other);
	text = slurp(out);
	line = text ? strstr(text, "torch_train ") : NULL;
	if (rc != 0 || line == NULL || bench_field(line, "tok_s", tok, sizeof tok) != 0) {
		train_failed(s, engine == TR_TORCH ? "torch" : "torch-blas", tm, t, rep, rc, err);
		free(text);
		return;
	}
	train_add(s, strtod(tok, NULL), rss, other);
	if (bench_field(line, "blas", tf->blas, sizeof tf->blas) != 0)
		snprintf(tf->blas, sizeof tf->blas, "?");
	if (bench_field(line, "blas_core", core, sizeof core) == 0)
		snprintf(tf->blas_core, sizeof tf->blas_core, "%s", core);
	if (bench_field(line, "torch", tf->torch_version, sizeof tf->torch_version) != 0)
		snprintf(tf->torch_version, sizeof tf->torch_version, "?");
	fprintf(stderr, "bench: train %s torch %s x %s run %d: %.0f tok/s (%s), peak RSS %.0f MiB, "
	        "other load %.2f CPUs\n", tm->m.name, tt, bt, rep + 1, s->tok_s[s->n - 1], tf->blas,
	        (double)rss / 1024, other);
	free(text);
}

/* Can this tfmc train (a step of one short window of tm's model), and this
 * python import torch?  OpenBLAS for it, from tools/openblas.sh (whose
 * messages go to stderr). */
static void train_probe(train_figures *tf, const train_model *tm, const options *o)
{
	char out[PATH_MAX + 16], err[PATH_MAX + 16], cmd[PATH_MAX + 64], weights[PATH_MAX + 96];
	char *torch[] = { (char *)o->python, "-c", "import torch; print(torch.__version__)", NULL };
	int rc;

	path_in(out, sizeof out, "probe", ".out");
	path_in(err, sizeof err, "probe", ".err");
	path_in(weights, sizeof weights, "probe", ".safetensors");
	char *train[] = { (char *)o->tfmc, "train", (char *)tm->m.spec, "--data", (char *)tm->data,
	                  "--val", (char *)tm->val, "-o", weights,
	                  "--steps", "1", "--batch", "1", "--seq", "16", "--threads", "1", "--eval-every", "0",
	                  "--sample", "0", NULL };
	rc = run(train, out, err, o->timeout, NULL, NULL);
	unlink(weights);
	tf->tfmc = rc == 0;
	if (!tf->tfmc) {
		char msg[256];
		last_line(err, msg, sizeof msg);
		snprintf(tf->tfmc_error, sizeof tf->tfmc_error, "`tfmc train` of one step: exit %d: %s", rc, msg);
		fprintf(stderr, "bench: note: no tfmc training figures: %s\n", tf->tfmc_error);
	}
	rc = run(torch, out, err, o->timeout, NULL, NULL);
	tf->torch = rc == 0;
	if (!tf->torch) {
		last_line(err, tf->torch_error, sizeof tf->torch_error);
		fprintf(stderr, "bench: note: %s cannot import torch (%s): no PyTorch figures (Debian's "
		        "python3-torch has them)\n", o->python, tf->torch_error);
	} else if (o->torch_blas) {
		snprintf(cmd, sizeof cmd, "sh tools/openblas.sh");
		first_line_of(cmd, tf->libpath, sizeof tf->libpath);
		if (tf->libpath[0] != '/') {
			tf->libpath[0] = '\0';
			snprintf(tf->openblas_error, sizeof tf->openblas_error, "tools/openblas.sh could not unpack "
			         "Debian's libopenblas0-pthread (see its message above)");
		}
	} else {
		snprintf(tf->openblas_error, sizeof tf->openblas_error, "--torch-system-blas");
	}
	if (tf->torch && !tf->libpath[0])
		fprintf(stderr, "bench: note: PyTorch with the system's BLAS (%s)\n", tf->openblas_error);
	unlink(out);
	unlink(err);
}

/* The training figures: each spec's set-up, then the runs rep by rep, each
 * rep every spec, thread count and engine in turn.  With the reference
 * BLAS, PyTorch runs once per series (a step of s15 takes most of a
 * minute). */
static void train_bench(train_figures *tf, const options *o, int threads_max)
{
	const char *left[] = { "train.out", "train.err", "torch.out", "torch.err" };
	char path[PATH_MAX + 16];
	double t0 = machine_now();

	for (size_t i = 0; i < sizeof train_specs / sizeof train_specs[0] && tf->n < MAX_TRAIN; i++)
		if (train_setup(&tf->tm[tf->n], train_specs[i], o) == 0)
			tf->n++;
	if (tf->n == 0)
		return;
	train_probe(tf, &tf->tm[tf->n - 1], o);
	tf->torch_runs = tf->libpath[0] ? o->train_runs : 1;
	if (tf->tfmc || tf->torch)
		for (int rep = 0; rep < o->train_runs; rep++)
			for (int i = 0; i < tf->n; i++)
				for (int t = 1; t <= threads_max; t++) {
					if (tf->tfmc)
						train_tfmc_once(&tf->tm[i], t, o, rep);
					if (!tf->torch || rep >= tf->torch_runs)
						continue;
					train_torch_once(&tf->tm[i], TR_TORCH, t, tf, o, rep);
					if (t > 1)
						train_torch_once(&tf->tm[i], TR_TORCH_BLAS, t, tf, o, rep);
				}
	for (int i = 0; i < tf->n; i++) {
		unlink(tf->tm[i].data);
		unlink(tf->tm[i].val);
	}
	for (size_t i = 0; i < sizeof left / sizeof left[0]; i++) {
		path_in(path, sizeof path, left[i], "");
		unlink(path);
	}
	tf->elapsed = machine_now() - t0;
	fprintf(stderr, "bench: training figures in %.1f minutes\n", tf->elapsed / 60);
}

static double train_median(const train_series *s)
{
	return s->n ? stats_of(s->tok_s, s->n).median : 0;
}

static double train_peak(const train_model *tm, double tok_s, int t, const machine_figures *mf)
{
	return mf->fma_peak[0] > 0 ? tm->flops * tok_s / (mf->fma_peak[0] * t) : 0;
}

/* The PyTorch series of the best median at t threads, or -1. */
static int train_torch_best(const train_model *tm, int t)
{
	double a = train_median(&tm->s[TR_TORCH][t - 1]), b = train_median(&tm->s[TR_TORCH_BLAS][t - 1]);

	if (a <= 0 && b <= 0)
		return -1;
	return b > a ? TR_TORCH_BLAS : TR_TORCH;
}

/* "1234 (1200–1300)", or the failure. */
static void train_cell(const train_series *s, char *buf, size_t size)
{
	char a[32], b[32], c[32];

	if (s->n == 0) {
		snprintf(buf, size, s->failed ? "failed: %s" : "–", s->error);
		return;
	}
	stats st = stats_of(s->tok_s, s->n);
	if (s->n == 1)
		snprintf(buf, size, "%s", fmt_rate(a, sizeof a, st.median));
	else
		snprintf(buf, size, "%s (%s–%s)", fmt_rate(a, sizeof a, st.median), fmt_rate(b, sizeof b, st.min),
		         fmt_rate(c, sizeof c, st.max));
}

static void print_train_markdown(const train_figures *tf, const machine_figures *mf, const options *o)
{
	char a[300], b[300], blas[400];

	if (tf->libpath[0])
		snprintf(blas, sizeof blas, "OpenBLAS (Debian's libopenblas0-pthread, %s kernels, through "
		         "LD_LIBRARY_PATH from tools/openblas.sh)", tf->blas_core[0] ? tf->blas_core : "?");
	else
		snprintf(blas, sizeof blas, "the system's BLAS (%s): %s", tf->blas[0] ? tf->blas : "?",
		         tf->openblas_error);
	printf("\n## Training (`make bench`)\n\n");
	printf("A full step (forward, cross-entropy, backward, gradient clipping, AdamW) at batch %d × %d, "
	       "%s threads; FMA peak per core %.1f GFLOP/s (%s).  ", TRAIN_BATCH, TRAIN_SEQ,
	       mf->threads_max > 1 ? "1 and 2" : "1", mf->fma_peak[0] / 1e9, isa_name[mf->fma_best]);
	if (tf->torch)
		printf("PyTorch %s eager (`%s`) with %s.\n\n", tf->torch_version, o->python, blas);
	else
		printf("No PyTorch: %s cannot import torch (%s).\n\n", o->python, tf->torch_error);
	if (!tf->tfmc)
		printf("`tfmc train` did not run: %s\n\n", tf->tfmc_error);

	printf("| model | parameters | FLOPs/token (step) | threads | tfmc tok/s | %% of FMA peak | peak RSS "
	       "| 2t / 1t | PyTorch threads × BLAS threads | PyTorch tok/s | %% of FMA peak | peak RSS "
	       "| tfmc / PyTorch | other load, tfmc / PyTorch |\n");
	printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < tf->n; i++) {
		const train_model *tm = &tf->tm[i];
		for (int t = 1; t <= mf->threads_max; t++) {
			const train_series *ts = &tm->s[TR_TFMC][t - 1];
			double tok = train_median(ts), one = train_median(&tm->s[TR_TFMC][0]);
			int best = train_torch_best(tm, t);
			for (int e = TR_TORCH; e < N_TRAIN; e++) {
				const train_series *ps = &tm->s[e][t - 1];
				double ptok = train_median(ps);
				if (e == TR_TORCH_BLAS && t == 1)
					continue;
				if (e == TR_TORCH) {
					train_cell(ts, a, sizeof a);
					printf("| %s | %.2fM | %.1fM | %d | %s | ", tm->m.name, tm->m.params / 1e6,
					       tm->flops / 1e6, t, a);
					if (tok > 0)
						printf("%.0f%% | %.0f MiB | ", 100 * train_peak(tm, tok, t, mf),
						       (double)ts->rss_kib / 1024);
					else
						printf("| | ");
					if (t > 1 && tok > 0 && one > 0)
						printf("%.2f× ", tok / one);
					printf("| ");
				} else {
					printf("| %s | | | %d | | | | | ", tm->m.name, t);
				}
				train_cell(ps, b, sizeof b);
				printf("%s%d × %d%s | %s | ", e == best && t > 1 ? "**" : "", e == TR_TORCH ? t : 1,
				       e == TR_TORCH ? 1 : t, e == best && t > 1 ? "**" : "", tf->torch ? b : "–");
				if (ptok > 0)
					printf("%.0f%% | %.0f MiB | ", 100 * train_peak(tm, ptok, t, mf), (double)ps->rss_kib / 1024);
				else
					printf("| | ");
				if (tok > 0 && ptok > 0)
					printf("%.2f× ", tok / ptok);
				if (e == TR_TORCH && ts->n)
					printf("| %.2f / ", stats_of(ts->other, ts->n).median);
				else
					printf("| / ");
				if (ps->n)
					printf("%.2f |\n", stats_of(ps->other, ps->n).median);
				else
					printf("|\n");
			}
		}
	}
	printf("\nMedians of %d runs (PyTorch: %d), min–max in parentheses; every run a fresh process, tfmc's "
	       "and PyTorch's in turn.  **tok/s**: %d × %d tokens per step over the time of a step.  tfmc: "
	       "`tfmc train SPEC --data RANDOM_IDS --steps %d --batch %d --seq %d --threads N --log CSV`, "
	       "the median of its steps' times (in the CSV) but the first's.  PyTorch: `bench/torch_train.py`, the median of "
	       "%d steps after 1 untimed (fewer past 10 s); at 2 threads both ways to spend them, PyTorch's own threads "
	       "(`torch.set_num_threads`) or OpenBLAS's (`OPENBLAS_NUM_THREADS`), the best in bold.  "
	       "**FLOPs/token (step)** = 6 × the matrix-product parameters (the classifier included) "
	       "+ 6 × n_layer × n_head × head_dim × (T + 1) for causal attention over T = %d tokens (the "
	       "token at position t scores and sums t + 1 keys and values, 4 × head_dim FLOPs each, per "
	       "head; a backward is twice a forward); norms, softmax, the loss and AdamW not counted.  "
	       "**%% of FMA peak**: FLOPs/token × tok/s ÷ (the FMA peak of one core × threads).  "
	       "Peak RSS from wait4 (tfmc: its JIT included; PyTorch: the Python process).  "
	       "The training part took %.1f minutes.\n",
	       o->train_runs, tf->torch_runs, TRAIN_BATCH, TRAIN_SEQ, 1 + TRAIN_STEPS, TRAIN_BATCH, TRAIN_SEQ,
	       tf->libpath[0] ? TRAIN_STEPS : 1, TRAIN_SEQ, tf->elapsed / 60);
}

/* --train-only: the machine's lines of the report, then the training. */
static void print_train_only(const train_figures *tf, const machine_figures *mf, const options *o)
{
	printf("Machine: %s, %d CPUs online, %s; tfmc %s; %s.  Load average (1, 5, 15 min) at the "
	       "start: %s; at the end: %s.\n", mf->cpu.model, mf->cpu.cpus,
	       mf->cpu.avx512 ? "AVX-512F and AVX2+FMA" : mf->cpu.avx2 ? "AVX2+FMA, no AVX-512" : "no AVX2",
	       mf->tfmc_version, mf->date, mf->load_start, mf->load_end);
	print_train_markdown(tf, mf, o);
}

static void print_train_json(const train_figures *tf, const machine_figures *mf)
{
	printf("  \"training\": {\"batch\": %d, \"seq\": %d, \"tfmc_train\": %s, \"torch\": ", TRAIN_BATCH,
	       TRAIN_SEQ, tf->tfmc ? "true" : "false");
	json_str(tf->torch ? tf->torch_version : "");
	printf(", \"blas\": ");
	json_str(tf->libpath[0] ? "openblas" : tf->blas);
	printf(", \"blas_core\": ");
	json_str(tf->blas_core);
	printf(", \"elapsed_s\": %.1f,\n    \"models\": [", tf->elapsed);
	for (int i = 0; i < tf->n; i++) {
		const train_model *tm = &tf->tm[i];
		int first = 1;
		printf("%s\n      {\"name\": ", i ? "," : "");
		json_str(tm->m.name);
		printf(", \"spec\": ");
		json_str(tm->m.spec);
		printf(", \"parameters\": %.0f, \"flops_per_token\": %.0f, \"series\": [", tm->m.params, tm->flops);
		for (int e = 0; e < N_TRAIN; e++)
			for (int t = 1; t <= mf->threads_max; t++) {
				const train_series *s = &tm->s[e][t - 1];
				if (s->n == 0 && s->failed == 0)
					continue;
				printf("%s\n         {\"engine\": \"%s\", \"threads\": %d, \"torch_threads\": %d, "
				       "\"blas_threads\": %d, \"failed_runs\": %d", first ? "" : ",", train_engine[e], t,
				       e == TR_TFMC ? 0 : e == TR_TORCH ? t : 1, e == TR_TFMC ? 0 : e == TR_TORCH ? 1 : t,
				       s->failed);
				first = 0;
				if (s->failed) {
					printf(", \"error\": ");
					json_str(s->error);
				}
				if (s->n) {
					printf(", ");
					json_stats("tok_s", s->tok_s, s->n);
					printf(", ");
					json_stats("other_load_cpus", s->other, s->n);
					printf(", \"fma_peak\": %.4f, \"peak_rss_bytes\": %.0f",
					       train_peak(tm, train_median(s), t, mf), (double)s->rss_kib * 1024);
				}
				printf("}");
			}
		printf("]}");
	}
	printf("\n    ]},\n");
}

static int cmp_params(const void *a, const void *b)
{
	const model *x = a, *y = b;

	return (x->params > y->params) - (x->params < y->params);
}

int main(int argc, char **argv)
{
	static model ms[MAX_MODELS];
	static machine_figures mf;
	static train_figures tf;
	static context_figures cf;
	static quant_figures qf;
	options o = { "./tfmc", 3, 0, 1, 0, 600, { 0 }, 0, -1, 3, "/usr/bin/python3", 1 };
	glob_t g = { 0 };
	double t_start = machine_now();
	char cmd[PATH_MAX + 32];
	time_t now = time(NULL);
	int n = 0;

	if (parse_args(argc, argv, &o) != 0)
		return 2;
	if (o.train < 0)	/* the training figures come with the whole bench */
		o.train = o.n_specs ? TRAIN_NONE : TRAIN_TOO;
	if (access(o.tfmc, X_OK) != 0) {
		fprintf(stderr, "bench: error: cannot run %s: %s (build it with make, or give --tfmc)\n",
		        o.tfmc, strerror(errno));
		return 2;
	}
	if (o.n_specs == 0 && o.train != TRAIN_ONLY) {
		if (glob("specs/bench/*.tfm", 0, NULL, &g) != 0 || g.gl_pathc == 0) {
			fprintf(stderr, "bench: error: no specs in specs/bench/ (run it from the top of the tree)\n");
			return 2;
		}
		for (size_t i = 0; i < g.gl_pathc && o.n_specs < MAX_MODELS; i++)
			o.specs[o.n_specs++] = g.gl_pathv[i];
	}
	snprintf(workdir, sizeof workdir, "%s/tfmc-bench-XXXXXX",
	         getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(workdir) == NULL) {
		fprintf(stderr, "bench: error: cannot make a directory %s: %s\n", workdir, strerror(errno));
		return 1;
	}
	fprintf(stderr, "bench: working in %s\n", workdir);

	for (int i = 0; i < o.n_specs; i++) {
		snprintf(ms[n].spec, sizeof ms[n].spec, "%s", o.specs[i]);
		if (model_show(&ms[n], &o) == 0)
			n++;
	}
	if (n == 0 && o.train != TRAIN_ONLY) {
		remove_workdir(&o);
		return 1;
	}
	qsort(ms, (size_t)n, sizeof ms[0], cmp_params);

	/* The machine, before any model runs. */
	loadavg(mf.load_start, sizeof mf.load_start);
	machine_cpu_probe(&mf.cpu);
	mf.threads_max = mf.cpu.cpus < N_THREADS ? mf.cpu.cpus : N_THREADS;
	snprintf(cmd, sizeof cmd, "%s --version 2>/dev/null", o.tfmc);
	first_line_of(cmd, mf.tfmc_version, sizeof mf.tfmc_version);
	if (strncmp(mf.tfmc_version, "tfmc ", 5) == 0)
		memmove(mf.tfmc_version, mf.tfmc_version + 5, strlen(mf.tfmc_version + 5) + 1);
	first_line_of("${CC:-cc} --version 2>/dev/null", mf.cc, sizeof mf.cc);
	strftime(mf.date, sizeof mf.date, "%Y-%m-%d", gmtime(&now));
	if (measure_machine(&mf, ms, n) != 0)
		return 1;
	for (int i = 0; i < n; i++)
		model_bench(&ms[i], &o, mf.threads_max);
	/* s110's long contexts and quantized formats, when it is measured */
	for (int i = 0; i < n; i++)
		if (strcmp(ms[i].name, "s110") == 0) {
			quant_bench(&qf, &ms[i], &o);
			context_bench(&cf, &ms[i], &o, mf.threads_max);
		}
	if (o.train != TRAIN_NONE)
		train_bench(&tf, &o, mf.threads_max);
	/* Again, in case something else was running the first time: a limit
	 * is the best the machine did. */
	if (measure_machine(&mf, ms, n) != 0)
		return 1;

	mf.elapsed = machine_now() - t_start;
	loadavg(mf.load_end, sizeof mf.load_end);
	if (o.json)
		print_json(ms, n, &mf, &o, &tf, &qf, &cf);
	else if (o.train == TRAIN_ONLY)
		print_train_only(&tf, &mf, &o);
	else
		print_markdown(ms, n, &mf, &o);
	for (int i = 0; i < n && !o.json && o.train != TRAIN_ONLY; i++)
		if (strcmp(ms[i].name, "s110") == 0) {
			if (qf.done)
				print_quant(&qf, &ms[i]);
			if (cf.done)
				print_context(&cf, mf.threads_max);
		}
	if (!o.json && o.train == TRAIN_TOO)
		print_train_markdown(&tf, &mf, &o);

	remove_workdir(&o);
	globfree(&g);
	fprintf(stderr, "bench: done in %.1f minutes\n", mf.elapsed / 60);
	return fflush(stdout) != 0 || ferror(stdout) ? 1 : 0;
}
