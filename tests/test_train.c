/* test_train.c: CUnit suites for the trainer (runtime/train/): the data
 * files and their windows, the optimizer, checkpoints, the progress line,
 * and the command lines of tfm_train_main (train, grad, eval).
 *
 * The model's generated training code is not needed: the suites drive a
 * bigram model written here as a tfm_train_api, whose loss and gradient are
 * exact in a few lines.  Its tensors are a [vocab, vocab] table (2-D, so
 * decayed) and a [vocab] bias (1-D, not), and the logits after token x are
 *
 *     logits[j] = table[x][j] + bias[j]
 *
 * A matching tfm_model_api (the same forward) writes the sample at the end.
 * Hooks make a step fail on purpose: a NaN loss, a NaN gradient, or a
 * raise(SIGINT) as if Ctrl-C came during it.
 *
 * add_train_suites() registers the suites.  Files go to a mkdtemp
 * directory that the suite cleanup removes.
 */
#include <CUnit/CUnit.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tfm.h"
#include "tfm_internal.h"
#include "train.h"
#include "testutil.h"

/* ---- Temporary files ---------------------------------------------------- */

static char tr_dir[TEST_DIR_MAX];

static int tr_dir_open(void)
{
	return test_dir_open(tr_dir, "train");
}

static int tr_dir_close(void)
{
	return test_dir_close(tr_dir);
}

static const char *tr_path(const char *name)
{
	return test_path(tr_dir, name);
}

static int tr_write(const char *path, const void *data, size_t n)
{
	FILE *fp = fopen(path, "wb");
	int ok;

	if (fp == NULL)
		return -1;
	ok = fwrite(data, 1, n, fp) == n;
	return fclose(fp) == 0 && ok ? 0 : -1;
}

/* The whole of a file, malloc'ed, or NULL. */
static unsigned char *tr_read(const char *path, size_t *n)
{
	FILE *fp = fopen(path, "rb");
	unsigned char *b;
	long k;

	*n = 0;
	if (fp == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	k = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	b = malloc(k > 0 ? (size_t)k : 1);
	if (b != NULL && fread(b, 1, (size_t)k, fp) != (size_t)k) {
		free(b);
		b = NULL;
	}
	fclose(fp);
	*n = b ? (size_t)k : 0;
	return b;
}

/* 1 when the two files hold the same bytes. */
static int tr_same_file(const char *a, const char *b)
{
	size_t na, nb;
	unsigned char *x = tr_read(a, &na), *y = tr_read(b, &nb);
	int same = x != NULL && y != NULL && na == nb && memcmp(x, y, na) == 0;

	if (!same)
		fprintf(stderr, "\n    %s (%zu bytes) and %s (%zu bytes) differ\n", a, na, b, nb);
	free(x);
	free(y);
	return same;
}

/* A .npy file: magic, version, header dict (padded to 64 with '\n'), data. */
static int tr_npy(const char *path, int major, const char *dict, const void *data, size_t n)
{
	unsigned char buf[8192];
	size_t pre = major == 1 ? 10 : 12, len = strlen(dict), total;

	total = (pre + len + 1 + 63) / 64 * 64;
	if (total + n > sizeof buf)
		return -1;
	memcpy(buf, "\x93NUMPY", 6);
	buf[6] = (unsigned char)major;
	buf[7] = 0;
	memset(buf + 8, 0, pre - 8);
	buf[8] = (unsigned char)((total - pre) & 0xff);
	buf[9] = (unsigned char)((total - pre) >> 8);
	memcpy(buf + pre, dict, len);
	memset(buf + pre + len, ' ', total - pre - len);
	buf[total - 1] = '\n';
	memcpy(buf + total, data, n);
	return tr_write(path, buf, total + n);
}

/* ---- The bigram model ------------------------------------------------------ */

#define FK_MAX_VOCAB 512

static tfm_tensor_decl fk_decl[2];
static tfm_train_api fk_train;
static tfm_model_api fk_model;
static int fk_opens, fk_closes, fk_mopens, fk_mcloses;
static int fk_steps;		/* step calls */
static int fk_train_steps;	/* of them, with gradients (the run's own; tr_run resets it) */
static int fk_all_steps;	/* step calls, never reset */
static int fk_nan_at = -1;	/* the training step that returns a NaN loss */
static int fk_nan_grad_at = -1;	/* ... a NaN gradient */
static int fk_sigint_at = -1;	/* ... that raises SIGINT */
static int fk_last_dropout;
static uint64_t fk_last_seed;

typedef struct fk_inst {
	float *table, *bias;	/* [vocab, vocab], [vocab] */
	float *dtable, *dbias;
	int batch, seq;
} fk_inst;

static int fk_open(void **inst, float *const *w, float *const *g, int batch, int seq, int threads,
                   tfm_error *e)
{
	fk_inst *m = calloc(1, sizeof *m);

	*inst = NULL;
	if (m == NULL)
		return tfm_fail(e, "fake: out of memory");
	if (seq < 1 || seq > fk_train.max_seq || batch < 1 || threads < 1) {
		free(m);
		return tfm_fail(e, "fake: open of [%d, %d] on %d threads", batch, seq, threads);
	}
	m->table = w[0];
	m->bias = w[1];
	m->dtable = g[0];
	m->dbias = g[1];
	m->batch = batch;
	m->seq = seq;
	fk_opens++;
	*inst = m;
	return 0;
}

static void fk_close(void *inst)
{
	fk_closes++;
	free(inst);
}

/* The mean cross-entropy of the windows, and its gradient when grads. */
static int fk_step(void *inst, const int *tokens, int grads, int dropout, uint64_t seed,
                   double *loss, tfm_error *e)
{
	fk_inst *m = inst;
	int V = fk_train.vocab, B = m->batch, T = m->seq;
	double sum = 0, p[FK_MAX_VOCAB];

	fk_steps++;
	fk_all_steps++;
	if (grads) {
		fk_train_steps++;
		fk_last_dropout = dropout;
		fk_last_seed = seed;
	}
	if (grads) {
		memset(m->dtable, 0, (size_t)V * (size_t)V * sizeof(float));
		memset(m->dbias, 0, (size_t)V * sizeof(float));
	}
	for (int b = 0; b < B; b++)
		for (int t = 0; t < T; t++) {
			int x = tokens[b * (T + 1) + t], y = tokens[b * (T + 1) + t + 1];
			double mx = -INFINITY, z = 0;
			if (x < 0 || x >= V || y < 0 || y >= V)
				return tfm_fail(e, "fake: window %d position %d: id out of range", b, t);
			for (int j = 0; j < V; j++) {
				p[j] = (double)m->table[x * V + j] + (double)m->bias[j];
				mx = fmax(mx, p[j]);
			}
			for (int j = 0; j < V; j++)
				z += exp(p[j] - mx);
			sum += mx + log(z) - p[y];
			if (grads)
				for (int j = 0; j < V; j++) {
					double d = (exp(p[j] - mx) / z - (j == y)) / ((double)B * T);
					m->dtable[x * V + j] += (float)d;
					m->dbias[j] += (float)d;
				}
		}
	*loss = sum / ((double)B * T);
	if (grads && fk_train_steps == fk_nan_at)
		*loss = NAN;
	if (grads && fk_train_steps == fk_nan_grad_at)
		m->dbias[0] = NAN;
	if (grads && fk_train_steps == fk_sigint_at)
		raise(SIGINT);
	return 0;
}

typedef struct fk_minst {
	const float *table, *bias;
	float logits[FK_MAX_VOCAB];
	int pos;
} fk_minst;

static int fk_mopen(void **inst, void *const *w, int threads, tfm_error *e)
{
	fk_minst *m = calloc(1, sizeof *m);

	if (m == NULL)
		return tfm_fail(e, "fake: out of memory");
	m->table = w[0];
	m->bias = w[1];
	fk_mopens++;
	*inst = m;
	return 0;
}

static void fk_mclose(void *inst)
{
	fk_mcloses++;
	free(inst);
}

static void fk_mreset(void *inst)
{
	((fk_minst *)inst)->pos = 0;
}

static const float *fk_forward(void *inst, const int *tokens, int n, int pos, int all,
                               tfm_error *e)
{
	fk_minst *m = inst;
	int V = fk_model.vocab, x = tokens[n - 1];

	if (all || pos != m->pos || pos + n > fk_model.max_seq || x < 0 || x >= V) {
		tfm_fail(e, "fake: forward of %d at %d", n, pos);
		return NULL;
	}
	for (int j = 0; j < V; j++)
		m->logits[j] = m->table[x * V + j] + m->bias[j];
	m->pos = pos + n;
	return m->logits;
}

/* Sets up the fake for vocab V and max_seq S. */
static void fk_setup(int V, int S)
{
	fk_decl[0] = (tfm_tensor_decl){ "table.weight", 2, { V, V }, TFM_F32 };
	fk_decl[1] = (tfm_tensor_decl){ "table.bias", 1, { V, 0 }, TFM_F32 };
	fk_train = (tfm_train_api){
		.name = "bigram", .vocab = V, .max_seq = S, .tensors = fk_decl, .n_tensors = 2,
		.dropout = 0, .z_loss = 0, .weight_decay = 0.1,
		.open = fk_open, .close = fk_close, .step = fk_step,
	};
	fk_model = (tfm_model_api){
		.name = "bigram", .vocab = V, .max_seq = S, .tensors = fk_decl, .n_tensors = 2,
		.target = "fake", .open = fk_mopen, .close = fk_mclose, .reset = fk_mreset,
		.forward = fk_forward,
	};
	fk_nan_at = fk_nan_grad_at = fk_sigint_at = -1;
	fk_steps = 0;
}

/* The loss of the bigram over one window ids[n] in double, and its
 * gradient (dtable [V, V], dbias [V]) when not NULL. */
static double fk_reference(const float *table, const float *bias, const int *ids, int n, int V,
                           double *dtable, double *dbias)
{
	double sum = 0;

	if (dtable) {
		memset(dtable, 0, (size_t)V * V * sizeof *dtable);
		memset(dbias, 0, (size_t)V * sizeof *dbias);
	}
	for (int t = 0; t + 1 < n; t++) {
		double z = 0;
		for (int j = 0; j < V; j++)
			z += exp((double)table[ids[t] * V + j] + bias[j]);
		sum += log(z) - ((double)table[ids[t] * V + ids[t + 1]] + bias[ids[t + 1]]);
		if (dtable)
			for (int j = 0; j < V; j++) {
				double d = (exp((double)table[ids[t] * V + j] + bias[j]) / z - (j == ids[t + 1]))
				           / (n - 1);
				dtable[ids[t] * V + j] += d;
				dbias[j] += d;
			}
	}
	return sum / (n - 1);
}

/* ---- Running tfm_train_main ------------------------------------------------ */

static char tr_out[65536], tr_err[65536];
static const char *tr_argv0 = "tfmc";	/* argv[0] of tr_run */

/* Runs tfm_train_main(command) on the fake with the NULL-terminated
 * arguments (argv[0] "tfmc"), stdout and stderr captured; its status. */
static int tr_run(const char *command, ...)
{
	char *argv[64];
	test_capture cap;
	int argc = 0, rc;
	const char *arg;
	va_list ap;

	argv[argc++] = (char *)tr_argv0;
	va_start(ap, command);
	while ((arg = va_arg(ap, const char *)) != NULL && argc < 63)
		argv[argc++] = (char *)arg;
	va_end(ap);
	argv[argc] = NULL;

	if (test_capture_begin(&cap, tr_dir) != 0)
		return -1;
	fk_opens = fk_closes = fk_mopens = fk_mcloses = 0;
	fk_train_steps = 0;
	rc = tfm_train_main(argc, argv, command, &fk_train, &fk_model);
	test_capture_end(&cap, tr_out, sizeof tr_out, tr_err, sizeof tr_err);
	CU_ASSERT_EQUAL(fk_opens, fk_closes);
	CU_ASSERT_EQUAL(fk_mopens, fk_mcloses);
	return rc;
}

#define ASSERT_INT(got, want) do { \
	long long g_ = (long long)(got), w_ = (long long)(want); \
	if (g_ != w_) \
		fprintf(stderr, "\n    %s: got %lld, want %lld\n", #got, g_, w_); \
	CU_ASSERT_EQUAL(g_, w_); \
} while (0)

#define ASSERT_NEAR(got, want, tol) do { \
	double g_ = (got), w_ = (want); \
	if (!(fabs(g_ - w_) <= (tol))) \
		fprintf(stderr, "\n    %s: got %.17g, want %.17g (tolerance %g)\n", #got, g_, w_, \
		        (double)(tol)); \
	CU_ASSERT(fabs(g_ - w_) <= (tol)); \
} while (0)

/* A run that must fail with status rc and exactly the message msg. */
#define ASSERT_FAILS(rc, msg, ...) do { \
	ASSERT_INT(tr_run(__VA_ARGS__, (const char *)NULL), rc); \
	ASSERT_MSG(tr_err, msg "\n"); \
} while (0)

/* The ids 0, 1, ..., V-1, 0, 1, ... as a uint16 .bin of n ids. */
static const char *tr_cycle_bin(const char *name, int n, int V)
{
	unsigned char *b = malloc(2 * (size_t)n);
	const char *path = tr_path(name);
	static char keep[64][TEST_DIR_MAX + 64];
	static int k;

	for (int i = 0; i < n; i++) {
		b[2 * i] = (unsigned char)(i % V);
		b[2 * i + 1] = (unsigned char)((i % V) >> 8);
	}
	CU_ASSERT_EQUAL(tr_write(path, b, 2 * (size_t)n), 0);
	free(b);
	k = (k + 1) % 64;
	snprintf(keep[k], sizeof keep[k], "%s", path);
	return keep[k];
}

/* ---- The optimizer --------------------------------------------------------- */

static const tfm_tensor_decl op_decl[] = {
	{ "w.weight", 2, { 3, 5 }, TFM_F32 },
	{ "w.bias", 1, { 5, 0 }, TFM_F32 },
	{ "s", 0, { 0, 0 }, TFM_F32 },
};

/* AdamW of section 5 in double: one step on w, m, v of n values. */
static void ref_adamw(double *w, const double *g, double *m, double *v, int n, double lr,
                      double b1, double b2, double eps, double wd, long t)
{
	for (int i = 0; i < n; i++) {
		if (wd > 0)
			w[i] -= lr * wd * w[i];
		m[i] = b1 * m[i] + (1 - b1) * g[i];
		v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
		w[i] -= lr * (m[i] / (1 - pow(b1, (double)t))) / (sqrt(v[i] / (1 - pow(b2, (double)t))) + eps);
	}
}

static void test_adamw_reference(void)
{
	tfm_params p;
	tfm_error e = { { 0 } };
	tfm_adamw o = { 0.9, 0.95, 1e-8, 0.1 };
	double w[21], g[21], m[21] = { 0 }, v[21] = { 0 }, worst = 0, worst_m = 0, worst_v = 0;
	int off[3] = { 0, 15, 20 };

	CU_ASSERT_EQUAL_FATAL(tfm_params_alloc(&p, op_decl, 3, 1, &e), 0);
	ASSERT_INT(p.total, 21);
	CU_ASSERT_EQUAL((uintptr_t)p.w[1] % 64, 0);
	CU_ASSERT_EQUAL((uintptr_t)p.v[2] % 64, 0);
	for (int i = 0; i < 21; i++)
		w[i] = 0.3 * sin(i + 1.0);
	for (int k = 0; k < 3; k++)
		for (size_t j = 0; j < p.nelem[k]; j++)
			p.w[k][j] = (float)w[off[k] + (int)j];
	for (int i = 0; i < 21; i++)
		w[i] = (float)w[i];
	for (long t = 1; t <= 5; t++) {
		double lr = 1e-2 * (double)t;
		for (int i = 0; i < 21; i++)
			g[i] = (float)(0.5 * cos(1.7 * i + (double)t) * (i % 4 ? 1 : 1e-3));
		for (int k = 0; k < 3; k++)
			for (size_t j = 0; j < p.nelem[k]; j++)
				p.g[k][j] = (float)g[off[k] + (int)j];
		tfm_adamw_step(&p, &o, t, lr);
		ref_adamw(w, g, m, v, 15, lr, 0.9, 0.95, 1e-8, 0.1, t);      /* 2-D: decayed */
		ref_adamw(w + 15, g + 15, m + 15, v + 15, 6, lr, 0.9, 0.95, 1e-8, 0, t); /* not */
	}
	for (int k = 0; k < 3; k++)
		for (size_t j = 0; j < p.nelem[k]; j++) {
			int i = off[k] + (int)j;
			worst = fmax(worst, fabs(p.w[k][j] - w[i]));
			worst_m = fmax(worst_m, fabs(p.m[k][j] - m[i]));
			worst_v = fmax(worst_v, fabs(p.v[k][j] - v[i]) / (v[i] + 1e-30));
		}
	fprintf(stderr, "\n    adamw: max |w - ref| %.3g, |m - ref| %.3g, relative |v - ref| %.3g ",
	        worst, worst_m, worst_v);
	CU_ASSERT(worst < 1e-6);
	CU_ASSERT(worst_m < 1e-7);
	CU_ASSERT(worst_v < 1e-5);
	tfm_params_free(&p);
}

/* With no gradient AdamW moves nothing but decay: 2-D tensors shrink by
 * exactly (1 - lr wd), the others stay as they are. */
static void test_adamw_decay_2d_only(void)
{
	tfm_params p;
	tfm_error e = { { 0 } };
	tfm_adamw o = { 0.9, 0.95, 1e-8, 0.5 };

	CU_ASSERT_EQUAL_FATAL(tfm_params_alloc(&p, op_decl, 3, 1, &e), 0);
	for (int k = 0; k < 3; k++)
		for (size_t j = 0; j < p.nelem[k]; j++)
			p.w[k][j] = 1.0f + (float)j;
	tfm_adamw_step(&p, &o, 1, 0.1);
	for (size_t j = 0; j < 15; j++)
		ASSERT_NEAR(p.w[0][j], (1.0 + (double)j) * (1 - 0.1 * 0.5), 1e-6);
	for (size_t j = 0; j < 5; j++)
		ASSERT_NEAR(p.w[1][j], 1.0 + (double)j, 0);
	ASSERT_NEAR(p.w[2][0], 1.0, 0);
	tfm_params_free(&p);
}

static void test_clip(void)
{
	tfm_params p;
	tfm_error e = { { 0 } };
	double n;

	CU_ASSERT_EQUAL_FATAL(tfm_params_alloc(&p, op_decl, 3, 0, &e), 0);
	CU_ASSERT_PTR_NULL(p.m);
	p.g[0][0] = 3;	/* n = sqrt(9 + 16 + 144) = 13 */
	p.g[1][4] = 4;
	p.g[2][0] = 12;
	n = tfm_grad_norm(&p);
	ASSERT_NEAR(n, 13, 0);
	ASSERT_NEAR(tfm_grad_clip(&p, n, 0), 1, 0);	/* off */
	ASSERT_NEAR(p.g[2][0], 12, 0);
	ASSERT_NEAR(tfm_grad_clip(&p, n, 13), 1, 0);	/* n = clip: nothing */
	ASSERT_NEAR(p.g[2][0], 12, 0);
	ASSERT_NEAR(tfm_grad_clip(&p, n, 1), 1 / (13 + 1e-6), 1e-15);
	ASSERT_NEAR(p.g[0][0], 3 / (13 + 1e-6), 1e-7);
	ASSERT_NEAR(p.g[1][4], 4 / (13 + 1e-6), 1e-7);
	ASSERT_NEAR(p.g[2][0], 12 / (13 + 1e-6), 1e-7);
	ASSERT_NEAR(tfm_grad_norm(&p), 13 / (13 + 1e-6), 1e-6);
	tfm_params_free(&p);
}

static void test_schedule(void)
{
	tfm_schedule c = { TFM_SCHEDULE_COSINE, 1e-3, 1e-4, 10, 110 };
	tfm_schedule k = { TFM_SCHEDULE_CONSTANT, 1e-3, 1e-4, 10, 110 };
	tfm_schedule none = { TFM_SCHEDULE_COSINE, 2.0, 0.0, 0, 4 };
	tfm_schedule all = { TFM_SCHEDULE_COSINE, 1.0, 0.0, 5, 5 };

	ASSERT_NEAR(tfm_schedule_lr(&c, 1), 1e-4, 1e-18);	/* lr t / W */
	ASSERT_NEAR(tfm_schedule_lr(&c, 5), 5e-4, 1e-18);
	ASSERT_NEAR(tfm_schedule_lr(&c, 10), 1e-3, 0);		/* t = W: the peak */
	ASSERT_NEAR(tfm_schedule_lr(&c, 11),
	            1e-4 + 0.5 * 9e-4 * (1 + cos(M_PI * 1 / 100)), 1e-18);
	ASSERT_NEAR(tfm_schedule_lr(&c, 60), 1e-4 + 0.5 * 9e-4, 1e-18); /* halfway */
	ASSERT_NEAR(tfm_schedule_lr(&c, 110), 1e-4, 1e-18);	/* t = S: the floor */
	ASSERT_NEAR(tfm_schedule_lr(&c, 200), 1e-4, 0);
	ASSERT_NEAR(tfm_schedule_lr(&k, 1), 1e-4, 1e-18);
	ASSERT_NEAR(tfm_schedule_lr(&k, 10), 1e-3, 0);
	ASSERT_NEAR(tfm_schedule_lr(&k, 11), 1e-3, 0);
	ASSERT_NEAR(tfm_schedule_lr(&k, 110), 1e-3, 0);
	ASSERT_NEAR(tfm_schedule_lr(&none, 1), 1.0 + cos(M_PI / 4), 1e-15);
	ASSERT_NEAR(tfm_schedule_lr(&none, 4), 0, 1e-15);
	ASSERT_NEAR(tfm_schedule_lr(&all, 5), 1.0, 0);		/* warm-up to the last step */
}

/* ---- Data files ------------------------------------------------------------ */

/* Parses bytes as format with vocab; the message on failure, "" on success. */
static const char *tr_parse(const void *b, size_t n, int format, int vocab, tfm_data *d)
{
	static tfm_error e;

	memset(&e, 0, sizeof e);
	if (tfm_data_parse(d, b, n, format, "f", NULL, vocab, &e) == 0)
		return "";
	CU_ASSERT_PTR_NULL(d->ids);
	return e.msg;
}

/* ASSERT_MSG evaluates its argument more than once: parse once. */
#define ASSERT_PARSE(b, n, format, vocab, d, want) do { \
	const char *m_ = tr_parse(b, n, format, vocab, d); \
	ASSERT_MSG(m_, want); \
} while (0)

static void test_data_npy(void)
{
	int32_t i4[5] = { 3, 1, 4, 1, 5 };
	int64_t i8[3] = { 9, 0, 2 };
	uint16_t u2[4] = { 7, 7, 0, 65535 };
	tfm_data d;
	tfm_error e = { { 0 } };

	CU_ASSERT_EQUAL(tr_npy(tr_path("a.npy"), 1,
	                       "{'descr': '<i4', 'fortran_order': False, 'shape': (5,), }", i4, sizeof i4), 0);
	CU_ASSERT_EQUAL_FATAL(tfm_data_read(&d, tr_path("a.npy"), NULL, 10, &e), 0);
	ASSERT_INT(d.n, 5);
	ASSERT_INT(d.format, TFM_DATA_NPY);
	ASSERT_INT(d.bytes, 0);
	CU_ASSERT(d.ids[0] == 3 && d.ids[2] == 4 && d.ids[4] == 5);
	tfm_data_free(&d);

	CU_ASSERT_EQUAL(tr_npy(tr_path("b.npy"), 2,
	                       "{\"shape\": (3,), \"fortran_order\": False, \"descr\": \"<i8\"}", i8, sizeof i8), 0);
	CU_ASSERT_EQUAL_FATAL(tfm_data_read(&d, tr_path("b.npy"), NULL, 10, &e), 0);
	CU_ASSERT(d.n == 3 && d.ids[0] == 9 && d.ids[1] == 0 && d.ids[2] == 2);
	tfm_data_free(&d);

	CU_ASSERT_EQUAL(tr_npy(tr_path("c.npy"), 3,
	                       "{'descr': '<u2', 'fortran_order': False, 'shape': (4,)}", u2, sizeof u2), 0);
	CU_ASSERT_EQUAL_FATAL(tfm_data_read(&d, tr_path("c.npy"), NULL, 65536, &e), 0);
	CU_ASSERT(d.n == 4 && d.ids[3] == 65535 && d.ids[0] == 7);
	tfm_data_free(&d);
	/* The magic, not the name, says .npy. */
	CU_ASSERT_EQUAL(tr_npy(tr_path("c.data"), 1,
	                       "{'descr': '<u2', 'fortran_order': False, 'shape': (4,)}", u2, sizeof u2), 0);
	CU_ASSERT_EQUAL(tfm_data_read(&d, tr_path("c.data"), NULL, 10, &e), -1);
	ASSERT_HAS(e.msg, "token id 65535 at position 3 is out of range: the model's vocab is 10 (ids 0 to 9)");
	tfm_data_free(&d);
}

/* Every bad .npy, each with its message. */
static void test_data_npy_errors(void)
{
	static const struct {
		const char *dict;
		size_t data;	/* bytes of int32 data after the header */
		const char *msg;
	} cases[] = {
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8,
		  "f: the .npy array has dtype '<f4'; token ids must be int32 ('<i4'), int64 ('<i8') or uint16 ('<u2')" },
		{ "{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }", 8,
		  "f: the .npy array is big-endian ('>i4'): save it little-endian" },
		{ "{'descr': '<i4', 'fortran_order': True, 'shape': (2,), }", 8,
		  "f: the .npy array is in Fortran order: save it in C order" },
		{ "{'descr': '<i4', 'fortran_order': False, 'shape': (1, 2), }", 8,
		  "f: the .npy array has 2 dimensions: token ids are a 1-D array (flatten it)" },
		{ "{'descr': '<i4', 'fortran_order': False, 'shape': (), }", 4,
		  "f: the .npy array is a scalar (shape ()): token ids are a 1-D array" },
		{ "{'descr': '<i4', 'fortran_order': False, 'shape': (0,), }", 0,
		  "f: the .npy array is empty: there are no tokens" },
		{ "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", 8,
		  "f: the .npy array of 3 ids needs 12 bytes of data, the file has 8: truncated file?" },
		{ "{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }", 8,
		  "f: the .npy file has 4 bytes after its 1 ids" },
		{ "{'descr': '<i4', 'fortran_order': False, 'shape': (2), }", 8,
		  "f: the .npy header's 'shape' is not a tuple of integers" },
		{ "{'descr': '<i4', 'shape': (2,), }", 8, "f: the .npy header lacks 'fortran_order'" },
		{ "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), 'x': 1}", 8,
		  "f: the .npy header has an unknown key 'x'" },
		{ "{'descr': '<i4', 'descr': '<i4', 'fortran_order': False, 'shape': (2,)}", 8,
		  "f: the .npy header has a second key 'descr'" },
		{ "{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (2,)}", 8,
		  "f: the .npy header's 'descr' is not a string (a structured dtype?)" },
		{ "{'descr': '<i4', 'fortran_order': 0, 'shape': (2,)}", 8,
		  "f: the .npy header's 'fortran_order' is not True or False" },
		{ "['descr']", 8, "f: the .npy header is not a dict literal" },
		{ "{'descr': '<i4', 'fortran_order': False, 'shape': (2,)} x", 8,
		  "f: the .npy header has text after its dict" },
	};
	int32_t data[4] = { 1, 2, 3, 4 };
	tfm_data d;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t n;
		unsigned char *b;
		CU_ASSERT_EQUAL(tr_npy(tr_path("bad.npy"), 1, cases[i].dict, data, cases[i].data), 0);
		b = tr_read(tr_path("bad.npy"), &n);
		ASSERT_PARSE(b, n, TFM_DATA_NPY, 10, &d, cases[i].msg);
		free(b);
	}
	{
		unsigned char b[64] = "\x93NUMPY\x01\x00\x40\x00{'descr'";
		ASSERT_PARSE(b, 20, TFM_DATA_NPY, 10, &d,
		           "f: the .npy header (64 bytes) runs past the end of the file (20 bytes): truncated file?");
		b[6] = 4;
		ASSERT_PARSE(b, 20, TFM_DATA_NPY, 10, &d,
		           "f: .npy version 4.0 is not one this reads (1.0, 2.0, 3.0)");
		ASSERT_PARSE("NUMPY", 5, TFM_DATA_NPY, 10, &d,
		           "f: not a .npy file (it does not begin with \\x93NUMPY)");
		ASSERT_PARSE("", 0, TFM_DATA_NPY, 10, &d, "f: the file is empty: there are no tokens");
	}
	{
		int32_t neg[2] = { 1, -3 };
		int64_t big[2] = { 1, (int64_t)1 << 40 };
		size_t n;
		unsigned char *b;
		CU_ASSERT_EQUAL(tr_npy(tr_path("neg.npy"), 1,
		                       "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", neg, 8), 0);
		b = tr_read(tr_path("neg.npy"), &n);
		ASSERT_PARSE(b, n, TFM_DATA_NPY, 10, &d,
		           "f: token id -3 at position 1 is out of range: the model's vocab is 10 (ids 0 to 9)");
		free(b);
		CU_ASSERT_EQUAL(tr_npy(tr_path("big.npy"), 1,
		                       "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", big, 16), 0);
		b = tr_read(tr_path("big.npy"), &n);
		ASSERT_PARSE(b, n, TFM_DATA_NPY, 10, &d,
		           "f: token id 1099511627776 at position 1 is out of range: the model's vocab is 10 (ids 0 to 9)");
		free(b);
	}
}

static void test_data_bin_text(void)
{
	unsigned char bin[6] = { 1, 0, 0x2c, 1, 9, 0 }; /* 1, 300, 9 */
	tfm_data d;
	tfm_error e = { { 0 } };

	ASSERT_PARSE(bin, 6, TFM_DATA_BIN, 301, &d, "");
	CU_ASSERT(d.n == 3 && d.ids[0] == 1 && d.ids[1] == 300 && d.ids[2] == 9);
	ASSERT_INT(d.format, TFM_DATA_BIN);
	tfm_data_free(&d);
	ASSERT_PARSE(bin, 6, TFM_DATA_BIN, 300, &d,
	           "f: token id 300 at position 1 is out of range: the model's vocab is 300 (ids 0 to 299)");
	ASSERT_PARSE(bin, 5, TFM_DATA_BIN, 301, &d,
	           "f: 5 bytes are not a whole number of uint16 token ids (a .bin holds raw little-endian uint16)");
	ASSERT_PARSE(bin, 0, TFM_DATA_BIN, 301, &d, "f: the file is empty: there are no tokens");

	ASSERT_PARSE("h\xc3\xa9!", 4, TFM_DATA_TEXT, 256, &d, "");
	CU_ASSERT(d.n == 4 && d.ids[0] == 'h' && d.ids[1] == 0xc3 && d.ids[2] == 0xa9 && d.ids[3] == '!');
	ASSERT_INT(d.format, TFM_DATA_BYTES);
	ASSERT_INT(d.bytes, 4);
	tfm_data_free(&d);
	ASSERT_PARSE("hi", 2, TFM_DATA_TEXT, 200, &d,
	           "f: text without a tokenizer is read as bytes (ids 0-255), but the model's vocab is 200: "
	           "give a tokenizer, or train a model with vocab >= 256");
	ASSERT_PARSE("", 0, TFM_DATA_TEXT, 256, &d, "f: the file is empty: there are no tokens");

	/* Formats by name: .bin raw, anything else text. */
	CU_ASSERT_EQUAL(tr_write(tr_path("d.bin"), bin, 6), 0);
	CU_ASSERT_EQUAL(tfm_data_read(&d, tr_path("d.bin"), NULL, 301, &e), 0);
	ASSERT_INT(d.n, 3);
	tfm_data_free(&d);
	CU_ASSERT_EQUAL(tr_write(tr_path("d.txt"), bin, 6), 0);
	CU_ASSERT_EQUAL(tfm_data_read(&d, tr_path("d.txt"), NULL, 301, &e), 0);
	ASSERT_INT(d.n, 6);
	ASSERT_INT(d.format, TFM_DATA_BYTES);
	tfm_data_free(&d);
	CU_ASSERT_EQUAL(tfm_data_read(&d, tr_path("missing.txt"), NULL, 301, &e), -1);
	ASSERT_HAS(e.msg, "missing.txt: cannot open: No such file or directory");
}

/* Text through a real tokenizer: the ids are the tokenizer's, no BOS. */
static void test_data_tokenized(void)
{
	const char *text = "Good news!  A fortune is a short text.\n";
	tfm_tokenizer *tok;
	tfm_data d;
	tfm_error e = { { 0 } };
	int *want;
	size_t n;

	CU_ASSERT_EQUAL_FATAL(tfm_tokenizer_open(&tok, "examples/fortune/tokenizer.bin", &e), 0);
	CU_ASSERT_EQUAL_FATAL(tfm_tokenizer_encode(tok, text, strlen(text), 0, &want, &n, &e), 0);
	CU_ASSERT_EQUAL(tr_write(tr_path("t.txt"), text, strlen(text)), 0);
	CU_ASSERT_EQUAL_FATAL(tfm_data_read(&d, tr_path("t.txt"), tok, 512, &e), 0);
	ASSERT_INT(d.format, TFM_DATA_TEXT);
	ASSERT_INT(d.bytes, strlen(text));
	ASSERT_INT(d.n, n);
	CU_ASSERT(d.n == n && memcmp(d.ids, want, n * sizeof *want) == 0);
	tfm_data_free(&d);
	CU_ASSERT_EQUAL(tfm_data_read(&d, tr_path("t.txt"), tok, 100, &e), -1);
	ASSERT_HAS(e.msg, "is out of range: the model's vocab is 100 (ids 0 to 99)");
	CU_ASSERT_EQUAL(tr_write(tr_path("bad.txt"), "ok \xff", 4), 0);
	CU_ASSERT_EQUAL(tfm_data_read(&d, tr_path("bad.txt"), tok, 512, &e), -1);
	ASSERT_HAS(e.msg, "bad.txt: ");
	free(want);
	tfm_tokenizer_close(tok);
}

static void test_windows(void)
{
	int ids[40], a[3 * 9], b[3 * 9], seen[32] = { 0 };
	uint64_t s1 = tfm_windows_seed(7), s2 = tfm_windows_seed(7), s3 = tfm_windows_seed(8);
	int differ = 0;

	for (int i = 0; i < 40; i++)
		ids[i] = i;
	CU_ASSERT(s1 != s3);
	for (int k = 0; k < 50; k++) {
		tfm_windows_draw(&s1, ids, 40, 3, 8, a);
		tfm_windows_draw(&s2, ids, 40, 3, 8, b);
		CU_ASSERT(memcmp(a, b, sizeof a) == 0);	/* the same seed, the same windows */
		tfm_windows_draw(&s3, ids, 40, 3, 8, b);
		differ |= memcmp(a, b, sizeof a) != 0;
		for (int w = 0; w < 3; w++) {
			int s = a[w * 9];
			CU_ASSERT(s >= 0 && s <= 31);	/* 40 - 8 - 1 */
			if (s >= 0 && s <= 31)
				seen[s]++;
			for (int t = 0; t < 9; t++)
				CU_ASSERT_EQUAL(a[w * 9 + t], s + t);
		}
	}
	CU_ASSERT(differ);
	for (int s = 0; s < 32; s++)
		CU_ASSERT(seen[s] > 0);	/* 150 draws reach every start */
	/* Exactly T + 1 tokens: the single window 0..T. */
	for (int k = 0; k < 10; k++) {
		tfm_windows_draw(&s1, ids, 9, 3, 8, a);
		for (int t = 0; t < 27; t++)
			CU_ASSERT_EQUAL(a[t], t % 9);
	}
	/* The generator's state is one word: a copy continues the same. */
	s2 = s1;
	tfm_windows_draw(&s1, ids, 40, 3, 8, a);
	tfm_windows_draw(&s2, ids, 40, 3, 8, b);
	CU_ASSERT(memcmp(a, b, sizeof a) == 0);
	CU_ASSERT_EQUAL(tfm_rng_below(&s1, 1), 0);
}

/* ---- Evaluation ------------------------------------------------------------ */

/* Known weights: table[x][j] = 0.1 (x - j) + 0.05 j, bias[j] = 0.01 j. */
static void tr_known_weights(float *table, float *bias, int V)
{
	for (int x = 0; x < V; x++)
		for (int j = 0; j < V; j++)
			table[x * V + j] = 0.1f * (float)(x - j) + 0.05f * (float)j;
	for (int j = 0; j < V; j++)
		bias[j] = 0.01f * (float)j;
}

static const char *tr_known_file(int V)
{
	float *table = malloc((size_t)V * V * sizeof *table), bias[FK_MAX_VOCAB];
	const void *data[2] = { table, bias };

	tr_known_weights(table, bias, V);
	CU_ASSERT_EQUAL(tfm_file_write(tr_path("known.safetensors"), fk_decl, 2, data, NULL), 0);
	free(table);
	return tr_path("known.safetensors");
}

/* tfm_evaluate covers every target once: whole batches, a smaller batch
 * and a shorter last window, against the sum over one long window. */
static void test_evaluate(void)
{
	const int V = 7;
	int ids[50];
	float table[49], bias[7], *w[2] = { table, bias }, g[56], *gp[2] = { g, g + 49 };
	double nats, want;
	size_t count;
	tfm_error e = { { 0 } };

	fk_setup(V, 16);
	tr_known_weights(table, bias, V);
	for (int i = 0; i < 50; i++)
		ids[i] = (i * i + 3 * i) % V;
	want = fk_reference(table, bias, ids, 50, V, NULL, NULL) * 49;
	/* 49 targets in windows of 5: 9 whole windows (batches of 2: 4 and 1
	 * more), then a window of 4. */
	fk_opens = fk_closes = fk_steps = 0;
	CU_ASSERT_EQUAL(tfm_evaluate(&fk_train, NULL, w, gp, 2, 5, 1, ids, 50, &nats, &count, &e), 0);
	ASSERT_INT(count, 49);
	ASSERT_NEAR(nats, want, 1e-9);
	ASSERT_INT(fk_steps, 4 + 1 + 1);
	ASSERT_INT(fk_opens, 3);
	ASSERT_INT(fk_closes, 3);
	/* A window of exactly the data. */
	CU_ASSERT_EQUAL(tfm_evaluate(&fk_train, NULL, w, gp, 4, 7, 1, ids, 8, &nats, &count, &e), 0);
	ASSERT_INT(count, 7);
	ASSERT_NEAR(nats, fk_reference(table, bias, ids, 8, V, NULL, NULL) * 7, 1e-9);
}

/* eval's figures: the mean, the perplexity and bits per byte of a text. */
static void test_eval_command(void)
{
	char text[301];
	int ids[300];
	double mean;
	char want[256];
	float *table = malloc(256 * 256 * sizeof *table), bias[256];

	fk_setup(256, 64);
	for (int i = 0; i < 300; i++)
		text[i] = (char)("the quick brown fox "[i % 20]);
	text[300] = '\0';
	for (int i = 0; i < 300; i++)
		ids[i] = (unsigned char)text[i];
	CU_ASSERT_EQUAL(tr_write(tr_path("e.txt"), text, 300), 0);
	tr_known_file(256);
	tr_known_weights(table, bias, 256);
	mean = fk_reference(table, bias, ids, 300, 256, NULL, NULL);
	ASSERT_INT(tr_run("eval", "--weights", tr_path("known.safetensors"), "--data", tr_path("e.txt"),
	                  "--seq", "64", "--batch", "3", NULL), 0);
	snprintf(want, sizeof want, "loss        %.9g nats/token\n", mean);
	ASSERT_HAS(tr_out, want);
	snprintf(want, sizeof want, "perplexity  %.9g\n", exp(mean));
	ASSERT_HAS(tr_out, want);
	{
		/* printed to 9 digits: compare the numbers */
		const char *p = strstr(tr_out, "loss        ");
		double got = p ? strtod(p + 12, NULL) : 0;
		ASSERT_NEAR(got, mean, 1e-7);
		p = strstr(tr_out, "bits/byte   ");
		got = p ? strtod(p + 12, NULL) : 0;
		ASSERT_NEAR(got, mean * 299 / M_LN2 / 300, 1e-7);
	}
	ASSERT_HAS(tr_out, "300 tokens (text as bytes), 299 predicted in windows of 64\n");
	ASSERT_HAS(tr_out, "(300 bytes)\n");
	ASSERT_MSG(tr_err, "");
	free(table);
}

/* ---- grad ---------------------------------------------------------------------- */

static void test_grad_command(void)
{
	const int V = 11, ids[6] = { 3, 1, 4, 1, 5, 9 };
	float table[121], bias[11];
	double dt[121], db[11], loss, worst = 0;
	void *out[2];
	tfm_file *f;
	tfm_error e = { { 0 } };
	const char *s;

	fk_setup(V, 8);
	tr_known_file(V);
	tr_known_weights(table, bias, V);
	loss = fk_reference(table, bias, ids, 6, V, dt, db);
	ASSERT_INT(tr_run("grad", "--weights", tr_path("known.safetensors"), "--tokens", "3, 1,4,1,5,9",
	                  "-o", tr_path("g.safetensors"), NULL), 0);
	ASSERT_INT(fk_last_dropout, 0);
	CU_ASSERT_EQUAL_FATAL(tfm_file_open(&f, tr_path("g.safetensors"), &e), 0);
	ASSERT_INT(tfm_file_count(f), 2);
	ASSERT_INT(tfm_file_dtype(f, "table.weight"), TFM_F32);
	ASSERT_INT(tfm_file_dtype(f, "table.bias"), TFM_F32);
	CU_ASSERT_EQUAL(tfm_file_bind(f, fk_decl, 2, out, &e), 0); /* names and shapes */
	s = tfm_file_meta(f, "loss");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	ASSERT_NEAR(strtod(s, NULL), loss, 1e-12);
	{
		char want[64];
		snprintf(want, sizeof want, "loss %s\n", s);
		ASSERT_MSG(tr_out, want);
		CU_ASSERT(strlen(s) >= 15); /* %.17g: full precision */
	}
	for (int i = 0; i < 121; i++)
		worst = fmax(worst, fabs(((float *)out[0])[i] - dt[i]));
	for (int i = 0; i < 11; i++)
		worst = fmax(worst, fabs(((float *)out[1])[i] - db[i]));
	fprintf(stderr, "\n    grad: max |g - ref| %.3g ", worst);
	CU_ASSERT(worst < 1e-7);
	tfm_file_close(f);

	/* From a file, and the errors. */
	{
		unsigned char bin[12] = { 3, 0, 1, 0, 4, 0, 1, 0, 5, 0, 9, 0 };
		CU_ASSERT_EQUAL(tr_write(tr_path("w.bin"), bin, 12), 0);
		ASSERT_INT(tr_run("grad", "--weights", tr_path("known.safetensors"), "--tokens",
		                  tr_path("w.bin"), "-o", tr_path("g2.safetensors"), NULL), 0);
		CU_ASSERT(tr_same_file(tr_path("g.safetensors"), tr_path("g2.safetensors")));
	}
	ASSERT_FAILS(2, "tfmc grad: error: --tokens: 1 tokens make a window of 0, but a window holds 1 to max_seq (8) tokens: give 2 to 9 ids",
	             "grad", "--tokens", "3", "-o", tr_path("g3.safetensors"));
	ASSERT_FAILS(2, "tfmc grad: error: --tokens: 10 tokens make a window of 9, but a window holds 1 to max_seq (8) tokens: give 2 to 9 ids",
	             "grad", "--tokens", "1,2,3,4,5,6,7,8,9,10", "-o", tr_path("g3.safetensors"));
	ASSERT_FAILS(2, "tfmc grad: error: --tokens: token id 11 at position 1 is out of range: the model's vocab is 11 (ids 0 to 10)",
	             "grad", "--tokens", "1,11", "-o", tr_path("g3.safetensors"));
	ASSERT_FAILS(2, "tfmc grad: error: --tokens: the item at position 1 is empty",
	             "grad", "--tokens", "1,,2", "-o", tr_path("g3.safetensors"));
	ASSERT_FAILS(2, "tfmc grad: error: --tokens: the list is empty: give 2 or more token ids, as in --tokens 1,5,9",
	             "grad", "--tokens", "", "-o", tr_path("g3.safetensors"));
	ASSERT_FAILS(2, "tfmc grad: error: -o PATH is required (see --help)", "grad", "--tokens", "1,2");
	ASSERT_FAILS(2, "tfmc grad: error: --steps is not an option of grad (see --help)",
	             "grad", "--steps", "3", "--tokens", "1,2", "-o", "x");
	ASSERT_FAILS(1, "tfmc grad: error: /nonexistent/g.safetensors: cannot be written: No such file or directory",
	             "grad", "--tokens", "1,2", "-o", "/nonexistent/g.safetensors");
	CU_ASSERT(access(tr_path("g3.safetensors"), F_OK) != 0);
}

/* ---- train ---------------------------------------------------------------------- */

/* The fake's windows: a cycle 0..V-1 of 200 ids in a .bin. */
static void test_train_basic(void)
{
	const char *data;
	tfm_file *f;
	tfm_error e = { { 0 } };
	void *w[2];

	fk_setup(16, 32);
	data = tr_cycle_bin("cycle.bin", 200, 16);
	ASSERT_INT(tr_run("train", "--data", data, "-o", tr_path("out.safetensors"), "--steps", "30",
	                  "--batch", "4", "--seq", "8", "--lr", "0.05", "--eval-every", "10",
	                  "--log", tr_path("log.csv"), "--sample", "12", NULL), 0);
	ASSERT_HAS(tr_err, "tfmc train: bigram: 272 parameters; 180 training tokens (.bin uint16 ids), "
	           "20 validation tokens (the last 10%); 30 steps of 4 x 8 tokens, ");
	ASSERT_HAS(tr_err, "tfmc train: starting from random weights\n");
	ASSERT_HAS(tr_err, "step 1/30  loss ");
	ASSERT_HAS(tr_err, "step 10/30  loss ");
	ASSERT_HAS(tr_err, "step 30/30  loss ");
	CU_ASSERT(strstr(tr_err, "step 2/30") == NULL);	/* not a terminal: every 10 */
	ASSERT_HAS(tr_out, "trained 30 steps in ");
	ASSERT_HAS(tr_out, "train loss ");
	ASSERT_HAS(tr_out, "val loss   ");
	ASSERT_HAS(tr_out, "sample, token ids (the first 16 are the data's):\n");
	ASSERT_INT(fk_last_dropout, 0);	/* the spec has no dropout */
	{
		/* The cycle is learned: the val loss is far below ln 16. */
		const char *p = strstr(tr_out, "val loss   ");
		double v = p ? strtod(p + 11, NULL) : 99;
		CU_ASSERT(v < 2.0);
		if (!(v < 2.0))
			fprintf(stderr, "\n    val loss %g\n", v);
	}
	/* The weights: F32, the model's names, run as they are. */
	CU_ASSERT_EQUAL_FATAL(tfm_file_open(&f, tr_path("out.safetensors"), &e), 0);
	CU_ASSERT_EQUAL(tfm_file_bind(f, fk_decl, 2, w, &e), 0);
	ASSERT_INT(tfm_file_dtype(f, "table.weight"), TFM_F32);
	tfm_file_close(f);
	/* No checkpoint unless asked for. */
	CU_ASSERT(access(tr_path("out.safetensors.ckpt"), F_OK) != 0);
	CU_ASSERT(access(tr_path("out.safetensors.tmp"), F_OK) != 0);
	/* The log: a header and 30 rows; val where measured (10, 20, 30). */
	{
		const char *log = test_slurp(tr_path("log.csv"));
		int rows = 0, vals = 0;
		ASSERT_HAS(log, "step,lr,train_loss,grad_norm,tokens_per_s,val_loss\n1,");
		for (const char *p = strchr(log, '\n'); p && p[1]; p = strchr(p + 1, '\n')) {
			const char *end = strchr(p + 1, '\n');
			rows++;
			vals += end && end[-1] != ',';
		}
		ASSERT_INT(rows, 30);
		ASSERT_INT(vals, 3);
		/* step 3's lr: warm-up of 3 steps (30 / 10) to 0.05 */
		ASSERT_HAS(log, "\n3,0.05,");
		ASSERT_HAS(log, "\n2,0.0333333333,");
	}
}

/* The sample of byte-level text prints bytes, escaping the others. */
static void test_train_sample_bytes(void)
{
	char text[400];

	fk_setup(256, 32);
	for (int i = 0; i < 400; i++)
		text[i] = "ab\x01\n"[i % 4];
	CU_ASSERT_EQUAL(tr_write(tr_path("s.txt"), text, 400), 0);
	ASSERT_INT(tr_run("train", "--data", tr_path("s.txt"), "-o", tr_path("s.safetensors"),
	                  "--steps", "60", "--batch", "4", "--seq", "16", "--lr", "0.1", "--sample", "8", NULL), 0);
	ASSERT_HAS(tr_out, "sample (the first 16 bytes are the data's):\nab\\x01\nab\\x01\nab\\x01\nab\\x01\n");
	ASSERT_INT(fk_mopens, 1);
}

static void test_train_split_and_val(void)
{
	fk_setup(16, 32);
	/* 50 tokens: 10% is 5, too few for a window of 9: no validation. */
	ASSERT_INT(tr_run("train", "--data", tr_cycle_bin("c50.bin", 50, 16), "-o",
	                  tr_path("o.safetensors"), "--steps", "2", "--seq", "8", "--sample", "0", NULL), 0);
	ASSERT_HAS(tr_err, "tfmc train: note: no validation: the last 10% of ");
	ASSERT_HAS(tr_err, "'s 50 tokens and the rest do not each hold a window of 9 tokens (give --val FILE)\n");
	CU_ASSERT(strstr(tr_out, "val loss") == NULL);
	/* --val: all of --data trains. */
	ASSERT_INT(tr_run("train", "--data", tr_cycle_bin("c50.bin", 50, 16), "--val",
	                  tr_cycle_bin("v.bin", 20, 16), "-o", tr_path("o.safetensors"), "--steps", "2",
	                  "--seq", "8", "--sample", "0", NULL), 0);
	ASSERT_HAS(tr_err, "50 training tokens (.bin uint16 ids), 20 validation tokens (");
	ASSERT_HAS(tr_out, "val loss   ");
	/* Exactly seq + 1 tokens train, on the one window. */
	ASSERT_INT(tr_run("train", "--data", tr_cycle_bin("c9.bin", 9, 16), "-o",
	                  tr_path("o.safetensors"), "--steps", "2", "--seq", "8", "--sample", "0", NULL), 0);
	ASSERT_HAS(tr_err, "9 training tokens");
}

/* A run saved and resumed gives the bits of one that never stopped. */
static void test_train_resume_identical(void)
{
	const char *data;
	tfm_file *f;
	tfm_error e = { { 0 } };

	fk_setup(16, 32);
	fk_train.dropout = 0.1; /* the masks' seeds must follow too */
	data = tr_cycle_bin("r.bin", 300, 16);
#define TR_ARGS "--data", data, "--steps", "12", "--batch", "3", "--seq", "7", "--lr", "0.02", \
                "--warmup", "2", "--threads", "1", "--sample", "0", "--eval-every", "4"
	ASSERT_INT(tr_run("train", TR_ARGS, "-o", tr_path("a.safetensors"), "--checkpoint",
	                  tr_path("a.ckpt"), NULL), 0);
	ASSERT_INT(fk_last_dropout, 1);
	CU_ASSERT_EQUAL(fk_last_seed, tfm_step_seed(42, 12));
	/* Saved every 5 steps, stopped at 10 by a failure... */
	fk_nan_at = 10;
	ASSERT_INT(tr_run("train", TR_ARGS, "-o", tr_path("b.safetensors"), "--checkpoint",
	                  tr_path("b.ckpt"), "--save-every", "5", NULL), 1);
	{
		char want[1024];
		snprintf(want, sizeof want, "tfmc train: error: step 10: the loss is NaN: stopping; the "
		         "last checkpoint, %s (step 5), is intact\n", tr_path("b.ckpt"));
		ASSERT_HAS(tr_err, want);
	}
	fk_nan_at = -1;
	CU_ASSERT(access(tr_path("b.safetensors"), F_OK) != 0);
	CU_ASSERT_EQUAL_FATAL(tfm_file_open(&f, tr_path("b.ckpt"), &e), 0);
	ASSERT_MSG(tfm_file_meta(f, "step") ? tfm_file_meta(f, "step") : "", "5");
	tfm_file_close(f);
	/* ...then resumed from step 5: the same weights, bit for bit. */
	ASSERT_INT(tr_run("train", TR_ARGS, "-o", tr_path("b.safetensors"), "--checkpoint",
	                  tr_path("b.ckpt"), "--resume", tr_path("b.ckpt"), NULL), 0);
	ASSERT_HAS(tr_err, "resuming ");
	ASSERT_HAS(tr_err, " at step 5 of 12\n");
	ASSERT_HAS(tr_out, "trained 12 steps (7 in this run) in ");
	CU_ASSERT(tr_same_file(tr_path("a.safetensors"), tr_path("b.safetensors")));
	CU_ASSERT(tr_same_file(tr_path("a.ckpt"), tr_path("b.ckpt")));
	/* The settings come from the checkpoint when left out. */
	ASSERT_INT(tr_run("train", "--data", data, "--resume", tr_path("a.ckpt"), "-o",
	                  tr_path("c.safetensors"), "--sample", "0", "--threads", "3", NULL), 0);
	ASSERT_HAS(tr_err, "tfmc train: note: the checkpoint's run had --threads 1, this one has 3: "
	           "where the work splits over threads, its bits may differ from a run that never "
	           "stopped\n");
	ASSERT_HAS(tr_err, " at step 12 of 12\n");
	ASSERT_HAS(tr_err, "12 steps of 3 x 7 tokens");
	CU_ASSERT(tr_same_file(tr_path("a.safetensors"), tr_path("c.safetensors")));
	fk_train.dropout = 0;
#undef TR_ARGS
}

/* Ctrl-C: a checkpoint at the end of the step, how to resume, status 130;
 * then the resumed run ends as an uninterrupted one. */
static void test_train_sigint(void)
{
	const char *data;
	tfm_file *f;
	tfm_error e = { { 0 } };
	char want[2048];

	fk_setup(16, 32);
	data = tr_cycle_bin("i.bin", 300, 16);
#define TR_ARGS "--data", data, "--steps", "9", "--batch", "2", "--seq", "6", "--sample", "0", \
                "--eval-every", "0"
	ASSERT_INT(tr_run("train", TR_ARGS, "-o", tr_path("x.safetensors"), NULL), 0);
	struct sigaction before;	/* what SIGINT was (SIG_IGN when started in the background) */
	sigaction(SIGINT, NULL, &before);
	fk_sigint_at = 4;
	ASSERT_INT(tr_run("train", TR_ARGS, "-o", tr_path("y.safetensors"), NULL), 130);
	fk_sigint_at = -1;
	ASSERT_HAS(tr_err, "\ninterrupted: the checkpoint is saved at the end of this step "
	           "(Ctrl-C again to stop at once, without it)\n");
	snprintf(want, sizeof want, "tfmc train: interrupted after step 4 of 9: the run is saved in "
	         "%s; resume it with:\n  tfmc train --data %s --steps 9 --batch 2 --seq 6 --sample 0 "
	         "--eval-every 0 -o %s --resume %s\n", tr_path("y.safetensors.ckpt"), data,
	         tr_path("y.safetensors"), tr_path("y.safetensors.ckpt"));
	ASSERT_HAS(tr_err, want);
	CU_ASSERT(access(tr_path("y.safetensors"), F_OK) != 0);
	CU_ASSERT_EQUAL_FATAL(tfm_file_open(&f, tr_path("y.safetensors.ckpt"), &e), 0);
	ASSERT_MSG(tfm_file_meta(f, "step") ? tfm_file_meta(f, "step") : "", "4");
	tfm_file_close(f);
	/* The handler was put back: SIGINT is what it was before. */
	{
		struct sigaction sa;
		sigaction(SIGINT, NULL, &sa);
		CU_ASSERT(sa.sa_handler == before.sa_handler);
	}
	ASSERT_INT(tr_run("train", TR_ARGS, "-o", tr_path("y.safetensors"), "--resume",
	                  tr_path("y.safetensors.ckpt"), NULL), 0);
	CU_ASSERT(tr_same_file(tr_path("x.safetensors"), tr_path("y.safetensors")));
#undef TR_ARGS
}

/* A gradient that is not finite stops the run; the checkpoint is left as
 * it was. */
static void test_train_nonfinite(void)
{
	const char *data;
	unsigned char *before, *after;
	size_t nb, na;

	fk_setup(16, 32);
	data = tr_cycle_bin("n.bin", 100, 16);
	fk_nan_grad_at = 7;
	ASSERT_INT(tr_run("train", "--data", data, "--steps", "10", "--seq", "4", "--batch", "2",
	                  "--save-every", "3", "--eval-every", "0", "--sample", "0", "-o",
	                  tr_path("n.safetensors"), NULL), 1);
	ASSERT_HAS(tr_err, "tfmc train: error: step 7: the gradient is not finite (its norm is NaN; the loss ");
	{
		char want[1024];
		snprintf(want, sizeof want, "): stopping; the last checkpoint, %s (step 6), is intact\n",
		         tr_path("n.safetensors.ckpt"));
		ASSERT_HAS(tr_err, want);
	}
	before = tr_read(tr_path("n.safetensors.ckpt"), &nb);
	/* A NaN loss at the first step: no checkpoint to speak of. */
	fk_nan_grad_at = -1;
	fk_nan_at = 1;
	ASSERT_INT(tr_run("train", "--data", data, "--steps", "10", "--seq", "4", "--sample", "0", "-o",
	                  tr_path("n2.safetensors"), NULL), 1);
	ASSERT_HAS(tr_err, "\ntfmc train: error: step 1: the loss is NaN: stopping; no checkpoint was written\n");
	CU_ASSERT(access(tr_path("n2.safetensors"), F_OK) != 0);
	fk_nan_at = -1;
	after = tr_read(tr_path("n.safetensors.ckpt"), &na);
	CU_ASSERT(before != NULL && after != NULL && na == nb && memcmp(before, after, na) == 0);
	free(before);
	free(after);
}

/* The checkpoint's tensors and metadata, and reading one back. */
static void test_checkpoint_contents(void)
{
	static const char *const keys[] = {
		"format", "format_version", "model", "vocab", "max_seq", "dropout", "z_loss",
		"weight_decay", "step", "windows_rng", "steps", "batch", "seq", "lr", "min-lr", "warmup",
		"schedule", "grad-clip", "beta1", "beta2", "adam-eps", "seed", "data", "data_tokens",
		"data_hash", "threads",
	};
	tfm_trainer tr;
	tfm_file *f;
	tfm_error e = { { 0 } };
	const char *data;
	int ids[100];

	fk_setup(16, 32);
	data = tr_cycle_bin("k.bin", 100, 16);
	ASSERT_INT(tr_run("train", "--data", data, "--steps", "4", "--seq", "4", "--lr", "3e-3",
	                  "--schedule", "constant", "--checkpoint", tr_path("k.ckpt"), "--sample", "0",
	                  "-o", tr_path("k.safetensors"), NULL), 0);
	ASSERT_HAS(tr_out, "checkpoint ");
	CU_ASSERT_EQUAL_FATAL(tfm_file_open(&f, tr_path("k.ckpt"), &e), 0);
	ASSERT_INT(tfm_file_count(f), 6);
	CU_ASSERT(tfm_file_lookup(f, "table.weight") >= 0 && tfm_file_lookup(f, "table.bias") >= 0);
	CU_ASSERT(tfm_file_lookup(f, "adam.m.table.weight") >= 0 && tfm_file_lookup(f, "adam.v.table.bias") >= 0);
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		if (tfm_file_meta(f, keys[i]) == NULL)
			fprintf(stderr, "\n    no metadata key %s\n", keys[i]);
		CU_ASSERT_PTR_NOT_NULL(tfm_file_meta(f, keys[i]));
	}
	ASSERT_MSG(tfm_file_meta(f, "format"), "tfmc-train-checkpoint");
	ASSERT_MSG(tfm_file_meta(f, "model"), "bigram");
	ASSERT_MSG(tfm_file_meta(f, "step"), "4");
	ASSERT_MSG(tfm_file_meta(f, "lr"), "0.0030000000000000001");
	ASSERT_MSG(tfm_file_meta(f, "schedule"), "constant");
	ASSERT_MSG(tfm_file_meta(f, "warmup"), "0");
	ASSERT_MSG(tfm_file_meta(f, "weight_decay"), "0.10000000000000001");
	ASSERT_MSG(tfm_file_meta(f, "data_tokens"), "90");
	tfm_file_close(f);

	/* Loaded back through the library. */
	for (int i = 0; i < 100; i++)
		ids[i] = i % 16;
	CU_ASSERT_EQUAL_FATAL(tfm_trainer_init(&tr, &fk_train, 16, 4, 1, 42, ids, 90, &e), 0);
	CU_ASSERT_EQUAL_FATAL(tfm_checkpoint_open(&f, tr_path("k.ckpt"), &fk_train, &e), 0);
	CU_ASSERT_EQUAL(tfm_checkpoint_load(f, &tr, &e), 0);
	ASSERT_INT(tr.t, 4);
	CU_ASSERT(tr.p.v[0][0] > 0);
	tfm_file_close(f);
	/* Saved again, it is the same file. */
	{
		const char *extra[64];
		int k = 0;
		CU_ASSERT_EQUAL_FATAL(tfm_checkpoint_open(&f, tr_path("k.ckpt"), &fk_train, &e), 0);
		for (size_t i = 10; i < sizeof keys / sizeof keys[0]; i++) {
			extra[k++] = keys[i];
			extra[k++] = tfm_file_meta(f, keys[i]);
		}
		extra[k] = NULL;
		CU_ASSERT_EQUAL(tfm_checkpoint_write(tr_path("k2.ckpt"), &tr, extra, &e), 0);
		tfm_file_close(f);
		CU_ASSERT(tr_same_file(tr_path("k.ckpt"), tr_path("k2.ckpt")));
	}
	tfm_trainer_free(&tr);
}

/* Checkpoints that are not this run's, or not whole. */
static void test_checkpoint_errors(void)
{
	const char *data;
	unsigned char *b;
	size_t n;
	char want[1024];

	fk_setup(16, 32);
	data = tr_cycle_bin("q.bin", 100, 16);
	ASSERT_INT(tr_run("train", "--data", data, "--steps", "3", "--seq", "4", "--checkpoint",
	                  tr_path("q.ckpt"), "--sample", "0", "-o", tr_path("q.safetensors"), NULL), 0);
	/* Truncated. */
	b = tr_read(tr_path("q.ckpt"), &n);
	CU_ASSERT_EQUAL(tr_write(tr_path("t.ckpt"), b, n - 100), 0);
	free(b);
	ASSERT_INT(tr_run("train", "--data", data, "--resume", tr_path("t.ckpt"), "-o",
	                  tr_path("q2.safetensors"), NULL), 1);
	ASSERT_HAS(tr_err, "t.ckpt: tensor 'adam.v.table.weight': data_offsets ");
	ASSERT_HAS(tr_err, "run past the end of the data ");
	ASSERT_HAS(tr_err, "truncated file?\n");
	/* Weights, not a checkpoint. */
	snprintf(want, sizeof want, "tfmc train: error: %s: not a tfmc training checkpoint (its metadata "
	         "has no \"format\": \"tfmc-train-checkpoint\"); weights to start from go in --weights\n",
	         tr_path("q.safetensors"));
	ASSERT_INT(tr_run("train", "--data", data, "--resume", tr_path("q.safetensors"), "-o",
	                  tr_path("q2.safetensors"), NULL), 1);
	ASSERT_MSG(tr_err, want);
	/* Another model: another name, or the same name and other tensors. */
	fk_train.name = "other";
	snprintf(want, sizeof want, "tfmc train: error: %s: a checkpoint of the model 'bigram', not of 'other'\n",
	         tr_path("q.ckpt"));
	ASSERT_INT(tr_run("train", "--data", data, "--resume", tr_path("q.ckpt"), "-o",
	                  tr_path("q2.safetensors"), NULL), 1);
	ASSERT_MSG(tr_err, want);
	fk_train.name = "bigram";
	fk_train.weight_decay = 0;
	snprintf(want, sizeof want, "tfmc train: error: %s: the checkpoint was trained with weight_decay "
	         "0.10000000000000001, the model's spec says 0: is it the same model?\n", tr_path("q.ckpt"));
	ASSERT_INT(tr_run("train", "--data", data, "--resume", tr_path("q.ckpt"), "-o",
	                  tr_path("q2.safetensors"), NULL), 1);
	ASSERT_MSG(tr_err, want);
	fk_train.weight_decay = 0.1;
	fk_decl[1].name = "table.b";
	ASSERT_INT(tr_run("train", "--data", data, "--resume", tr_path("q.ckpt"), "-o",
	                  tr_path("q2.safetensors"), NULL), 1);
	ASSERT_HAS(tr_err, "table.b");
	fk_decl[1].name = "table.bias";
	/* A setting that differs, and data that differs. */
	ASSERT_FAILS(2, "tfmc train: error: --lr 0.5: the checkpoint's run has --lr 0.001, and a resumed run keeps its settings (leave the option out)",
	             "train", "--data", data, "--resume", tr_path("q.ckpt"), "--lr", "0.5", "-o",
	             tr_path("q2.safetensors"));
	ASSERT_INT(tr_run("train", "--data", data, "--resume", tr_path("q.ckpt"), "--lr", "1e-3",
	                  "--seq", "4", "--sample", "0", "-o", tr_path("q2.safetensors"), NULL), 0);
	ASSERT_INT(tr_run("train", "--data", tr_cycle_bin("q3.bin", 101, 16), "--resume",
	                  tr_path("q.ckpt"), "-o", tr_path("q2.safetensors"), NULL), 1);
	ASSERT_HAS(tr_err, "q.ckpt: the checkpoint was trained on other data (90 tokens, hash ");
	ASSERT_HAS(tr_err, "(91 tokens, hash ");
	ASSERT_HAS(tr_err, "--data (and --val) must be as they were\n");
	ASSERT_FAILS(2, "tfmc train: error: --weights and --resume both give the starting weights: use one",
	             "train", "--data", data, "--resume", tr_path("q.ckpt"), "--weights",
	             tr_path("q.safetensors"), "-o", tr_path("q2.safetensors"));
}

/* Every bad command line and bad input of train, each with its message. */
static void test_train_errors(void)
{
	const char *data;
	char want[1024];

	fk_setup(16, 32);
	fk_all_steps = 0;
	data = tr_cycle_bin("z.bin", 100, 16);
	ASSERT_FAILS(2, "tfmc train: error: --data FILE is required (see --help)", "train", "-o", "x");
	ASSERT_FAILS(2, "tfmc train: error: -o PATH is required (see --help)", "train", "--data", data);
	ASSERT_FAILS(2, "tfmc train: error: --seq 33 is more than the model's max_seq (32)",
	             "train", "--data", data, "-o", "x", "--seq", "33");
	ASSERT_FAILS(2, "tfmc train: error: --lr: expected a number > 0, got '0'",
	             "train", "--data", data, "-o", "x", "--lr", "0");
	ASSERT_FAILS(2, "tfmc train: error: --beta2: expected a number in [0, 1), got '1'",
	             "train", "--data", data, "-o", "x", "--beta2", "1");
	ASSERT_FAILS(2, "tfmc train: error: --grad-clip: expected a number >= 0 (0 is off), got '-1'",
	             "train", "--data", data, "-o", "x", "--grad-clip=-1");
	ASSERT_FAILS(2, "tfmc train: error: --schedule: expected cosine or constant, got 'linear'",
	             "train", "--data", data, "-o", "x", "--schedule", "linear");
	ASSERT_FAILS(2, "tfmc train: error: --steps: expected a count of steps (1 or more), got '0'",
	             "train", "--data", data, "-o", "x", "--steps", "0");
	ASSERT_FAILS(2, "tfmc train: error: --threads: expected a count of threads from 1 to 256, got '300'",
	             "train", "--data", data, "-o", "x", "--threads", "300");
	ASSERT_FAILS(2, "tfmc train: error: --min-lr 0.1 is above --lr 0.001",
	             "train", "--data", data, "-o", "x", "--min-lr", "0.1");
	ASSERT_FAILS(2, "tfmc train: error: --warmup 20 is more than --steps 10",
	             "train", "--data", data, "-o", "x", "--steps", "10", "--warmup", "20");
	ASSERT_FAILS(2, "tfmc train: error: unknown option '--learning-rate' (see --help)",
	             "train", "--data", data, "-o", "x", "--learning-rate", "1");
	ASSERT_FAILS(2, "tfmc train: error: --tokens is not an option of train (see --help)",
	             "train", "--tokens", "1,2");
	ASSERT_FAILS(2, "tfmc train: error: unexpected argument 'spec.tfm' (see --help)",
	             "train", "spec.tfm");
	ASSERT_FAILS(2, "tfmc train: error: --log: missing value (see --help)",
	             "train", "--data", data, "-o", "x", "--log");
	/* The run's: data, output. */
	CU_ASSERT_EQUAL(tr_write(tr_path("empty.bin"), "", 0), 0);
	snprintf(want, sizeof want, "tfmc train: error: %s: the file is empty: there are no tokens\n",
	         tr_path("empty.bin"));
	ASSERT_INT(tr_run("train", "--data", tr_path("empty.bin"), "-o", tr_path("o"), NULL), 1);
	ASSERT_MSG(tr_err, want);
	snprintf(want, sizeof want, "tfmc train: error: %s: 20 tokens are fewer than one window of "
	         "--seq 20 (21 tokens): give a smaller --seq\n", tr_cycle_bin("z20.bin", 20, 16));
	ASSERT_INT(tr_run("train", "--data", tr_cycle_bin("z20.bin", 20, 16), "--seq", "20", "-o",
	                  tr_path("o"), NULL), 1);
	ASSERT_MSG(tr_err, want);
	snprintf(want, sizeof want, "tfmc train: error: %s: token id 16 at position 16 is out of range: "
	         "the model's vocab is 16 (ids 0 to 15)\n", tr_cycle_bin("z17.bin", 100, 17));
	ASSERT_INT(tr_run("train", "--data", tr_cycle_bin("z17.bin", 100, 17), "-o", tr_path("o"), NULL), 1);
	ASSERT_MSG(tr_err, want);
	CU_ASSERT_EQUAL(tr_write(tr_path("z.txt"), "some text", 9), 0);
	snprintf(want, sizeof want, "tfmc train: error: %s: text without a tokenizer is read as bytes "
	         "(ids 0-255), but the model's vocab is 16: give a tokenizer, or train a model with "
	         "vocab >= 256\n", tr_path("z.txt"));
	ASSERT_INT(tr_run("train", "--data", tr_path("z.txt"), "-o", tr_path("o"), NULL), 1);
	ASSERT_MSG(tr_err, want);
	ASSERT_FAILS(1, "tfmc train: error: /nonexistent/o.safetensors: cannot be written: No such file or directory",
	             "train", "--data", data, "--seq", "4", "-o", "/nonexistent/o.safetensors");
	snprintf(want, sizeof want, "tfmc train: error: %s: is a folder, not a file name\n", tr_dir);
	ASSERT_INT(tr_run("train", "--data", data, "--seq", "4", "-o", tr_dir, NULL), 1);
	ASSERT_MSG(tr_err, want);
	ASSERT_INT(fk_all_steps, 0); /* none of these trained */
	ASSERT_FAILS(2, "tfmc eval: error: --seq 40 is more than the model's max_seq (32)",
	             "eval", "--data", data, "--seq", "40");
	ASSERT_FAILS(2, "tfmc eval: error: --data FILE is required (see --help)", "eval");
	snprintf(want, sizeof want, "tfmc eval: error: %s: 20 tokens are fewer than one window of --seq "
	         "32 (33 tokens): give a smaller --seq\n", tr_cycle_bin("z20.bin", 20, 16));
	ASSERT_INT(tr_run("eval", "--data", tr_cycle_bin("z20.bin", 20, 16), NULL), 1);
	ASSERT_MSG(tr_err, want);
}

static void test_help(void)
{
	fk_setup(16, 32);
	ASSERT_INT(tr_run("train", "--help", NULL), 0);
	ASSERT_HAS(tr_out, "usage: tfmc train --data FILE -o OUT [options]\n\nTrains the model bigram (vocab 16, max_seq 32)");
	ASSERT_HAS(tr_out, "  --grad-clip C       scale the gradient down to norm C when it is longer; 0 is\n"
	                   "                      off (default: 1)\n");
	ASSERT_HAS(tr_out, "  --resume PATH       continue the run saved in the checkpoint PATH");
	CU_ASSERT(strstr(tr_out, "--tokens") == NULL);
	ASSERT_INT(tr_run("grad", "-h", NULL), 0);
	ASSERT_HAS(tr_out, "usage: tfmc grad --tokens IDS -o OUT [options]\n");
	CU_ASSERT(strstr(tr_out, "--lr") == NULL);
	ASSERT_INT(tr_run("eval", "--help", NULL), 0);
	ASSERT_HAS(tr_out, "usage: tfmc eval --data FILE [options]\n");
	ASSERT_HAS(tr_out, "  --batch B           windows evaluated at once (default: 16)\n");
	/* Every line fits in 80 columns. */
	for (const char *cmd[] = { "train", "grad", "eval" }, **c = cmd; c < cmd + 3; c++) {
		tr_run(*c, "--help", NULL);
		for (const char *p = tr_out, *q; *p; p = q + 1) {
			q = strchr(p, '\n');
			if (q == NULL)
				break;
			if (q - p > 80)
				fprintf(stderr, "\n    too long: %.*s\n", (int)(q - p), p);
			CU_ASSERT(q - p <= 80);
		}
	}
	/* argv[0]: how the command was typed, or the program's name. */
	tr_argv0 = "/usr/local/bin/tfmc train specs/x.tfm";
	ASSERT_INT(tr_run("train", "--help", NULL), 0);
	ASSERT_HAS(tr_out, "usage: /usr/local/bin/tfmc train specs/x.tfm --data FILE -o OUT [options]\n");
	ASSERT_FAILS(2, "tfmc train: error: -o PATH is required (see --help)", "train", "--data", "x");
	tr_argv0 = "fortune";
	ASSERT_FAILS(2, "fortune eval: error: --data FILE is required (see --help)", "eval");
	tr_argv0 = "tfmc";
	ASSERT_INT(tr_run("fit", NULL), 2);
	ASSERT_MSG(tr_err, "tfmc fit: error: the command is train, grad or eval\n");
}

static void test_progress_line(void)
{
	char buf[256], d[32];
	tfm_progress p = { 120, 1000, 2.34561, 2.40119, 5321.4, 83.2, 585.0 };

	tfm_progress_line(buf, sizeof buf, &p);
	ASSERT_MSG(buf, "step 120/1000  loss 2.3456  val 2.4012  5321 tok/s  elapsed 0:01:23  ETA 0:09:45");
	p.val_loss = NAN;
	p.eta = -1;
	p.elapsed = 3725;
	tfm_progress_line(buf, sizeof buf, &p);
	ASSERT_MSG(buf, "step 120/1000  loss 2.3456  5321 tok/s  elapsed 1:02:05");
	ASSERT_INT(tfm_progress_line(buf, 10, &p), 9);
	ASSERT_MSG(buf, "step 120/");
	ASSERT_MSG(tfm_duration(d, sizeof d, 0.4), "0:00:00");
	ASSERT_MSG(tfm_duration(d, sizeof d, 359999), "99:59:59");
}

/* The safetensors metadata: written, read back, absent, of other types. */
static void test_safetensors_metadata(void)
{
	static const float x[2] = { 1, 2 };
	static const tfm_tensor_decl d[] = { { "x", 1, { 2, 0 }, TFM_F32 } };
	const void *data[] = { x };
	const char *meta[] = { "a", "1", "b", "two \"quoted\"", NULL };
	tfm_file *f;
	tfm_error e = { { 0 } };
	const char *hdr = "{\"__metadata__\":{\"k\":\"v\",\"n\":3},\"x\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}";
	unsigned char buf[256] = { 0 };

	CU_ASSERT_EQUAL(tfm_file_write_meta(tr_path("m.safetensors"), d, 1, data, meta, &e), 0);
	CU_ASSERT_EQUAL_FATAL(tfm_file_open(&f, tr_path("m.safetensors"), &e), 0);
	ASSERT_MSG(tfm_file_meta(f, "a"), "1");
	ASSERT_MSG(tfm_file_meta(f, "b"), "two \"quoted\"");
	CU_ASSERT_PTR_NULL(tfm_file_meta(f, "c"));
	ASSERT_INT(tfm_file_count(f), 1);
	tfm_file_close(f);
	CU_ASSERT_EQUAL(tfm_file_write(tr_path("m2.safetensors"), d, 1, data, &e), 0);
	CU_ASSERT_EQUAL_FATAL(tfm_file_open(&f, tr_path("m2.safetensors"), &e), 0);
	CU_ASSERT_PTR_NULL(tfm_file_meta(f, "a"));
	tfm_file_close(f);
	CU_ASSERT(strstr(test_slurp(tr_path("m2.safetensors")), "__metadata__") == NULL);
	/* Members that are not strings are left out, not refused. */
	buf[0] = (unsigned char)strlen(hdr);
	memcpy(buf + 8, hdr, strlen(hdr));
	CU_ASSERT_EQUAL_FATAL(tfm_file_from_memory(&f, buf, 8 + strlen(hdr), "mem", &e), 0);
	ASSERT_MSG(tfm_file_meta(f, "k"), "v");
	CU_ASSERT_PTR_NULL(tfm_file_meta(f, "n"));
	tfm_file_close(f);
	{
		const char *bad[] = { "a", NULL, NULL };
		char want[1024];
		snprintf(want, sizeof want, "%s: metadata key 'a' has no value", tr_path("m3.safetensors"));
		CU_ASSERT_EQUAL(tfm_file_write_meta(tr_path("m3.safetensors"), d, 1, data, bad, &e), -1);
		ASSERT_MSG(e.msg, want);
	}
}

/* ---- Registration -------------------------------------------------------------- */

typedef struct tr_test {
	const char *name;
	void (*fn)(void);
} tr_test;

static const tr_test tr_optim_tests[] = {
	{ "AdamW against section 5 in double", test_adamw_reference },
	{ "AdamW decays the 2-D tensors only", test_adamw_decay_2d_only },
	{ "gradient norm and clipping", test_clip },
	{ "schedules at their boundaries", test_schedule },
	{ NULL, NULL },
};

static const tr_test tr_data_tests[] = {
	{ ".npy of int32, int64, uint16 (versions 1, 2, 3)", test_data_npy },
	{ "bad .npy files, each with its message", test_data_npy_errors },
	{ ".bin and text as bytes, and their errors", test_data_bin_text },
	{ "text through a tokenizer", test_data_tokenized },
	{ "windows: seeded, uniform, one window of T + 1", test_windows },
	{ NULL, NULL },
};

static const tr_test tr_main_tests[] = {
	{ "evaluation covers every target once", test_evaluate },
	{ "eval: loss, perplexity, bits per byte", test_eval_command },
	{ "grad: the file, its loss, the gradients", test_grad_command },
	{ "train: progress, log, weights, sample", test_train_basic },
	{ "train: the sample of byte-level text", test_train_sample_bytes },
	{ "train: the validation split", test_train_split_and_val },
	{ "train: saved and resumed, bit for bit", test_train_resume_identical },
	{ "train: Ctrl-C saves and says how to resume", test_train_sigint },
	{ "train: a gradient that is not finite stops it", test_train_nonfinite },
	{ "checkpoint: tensors and metadata", test_checkpoint_contents },
	{ "checkpoint: truncated, another model, other data", test_checkpoint_errors },
	{ "bad command lines and inputs", test_train_errors },
	{ "--help of each command", test_help },
	{ "the progress line", test_progress_line },
	{ "safetensors __metadata__", test_safetensors_metadata },
	{ NULL, NULL },
};

static int tr_add(const char *name, const tr_test *tests)
{
	CU_pSuite s = CU_add_suite(name, tr_dir_open, tr_dir_close);

	if (s == NULL)
		return -1;
	for (const tr_test *t = tests; t->name != NULL; t++)
		if (CU_add_test(s, t->name, t->fn) == NULL)
			return -1;
	return 0;
}

int add_train_suites(void)
{
	if (tr_add("runtime/train/optim", tr_optim_tests) != 0
	    || tr_add("runtime/train/data", tr_data_tests) != 0
	    || tr_add("runtime/train/main", tr_main_tests) != 0)
		return -1;
	return 0;
}
