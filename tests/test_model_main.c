/* test_model_main.c: CUnit suites for runtime/weights.c (tfm_weights_*) and
 * runtime/main.c (tfm_main, the command line of a model program).
 *
 * tfm_main is driven through a fake model defined here: vocab 10, max_seq 8,
 * tensors "emb.weight" [10, 4] and "norm.weight" [4], whose logits after
 * token `tok` at position `pos` are
 *
 *     logits[j] = emb[tok][j % 4] + (j == (tok + 1) % 10 ? 5 : 0) + 0.01 pos
 *
 * so greedy decoding counts up from the last prompt token.  Each call of
 * tfm_main has its stdout and stderr sent to files (dup2) and read back.
 *
 * add_model_main_suites() registers the suites.  Files go to a mkdtemp
 * directory that the suite cleanup removes.
 */
#include <CUnit/CUnit.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tfm.h"
#include "testutil.h"


/* ---- Temporary files ---------------------------------------------------- */

static char mm_dir[TEST_DIR_MAX]; /* the suite's mkdtemp directory */

static int mm_dir_open(void)
{
	return test_dir_open(mm_dir, "mm");
}

static int mm_dir_close(void)
{
	return test_dir_close(mm_dir);
}

/* A path in the temporary directory. */
static const char *mm_path(const char *name)
{
	return test_path(mm_dir, name);
}

/* ---- The fake model ----------------------------------------------------- */

#define FAKE_VOCAB   10
#define FAKE_MAX_SEQ 8
#define FAKE_DIM     4

static const tfm_tensor_decl fake_tensors[] = {
	{ "emb.weight", 2, { FAKE_VOCAB, FAKE_DIM }, TFM_F32 },
	{ "norm.weight", 1, { FAKE_DIM, 0 }, TFM_F32 },
};

typedef struct fake_inst {
	const float *emb;  /* [vocab, dim] */
	const float *norm; /* [dim] */
	int next_pos;      /* the position the cache expects next */
	float logits[FAKE_MAX_SEQ * FAKE_VOCAB]; /* [max_seq, vocab] */
} fake_inst;

static int fake_opens, fake_closes; /* to check that every open is closed */
static int fake_threads;            /* n_threads of the last open */
static int fake_fail_pos = -1;      /* forward fails when it reaches this position */
static int fake_forwards;           /* forward calls */

static int fake_open(void **inst, void *const *weights, int n_threads, tfm_error *e)
{
	fake_inst *m;

	*inst = NULL;
	if (weights == NULL || weights[0] == NULL || weights[1] == NULL)
		return tfm_fail(e, "fake: no weights");
	m = calloc(1, sizeof *m);
	if (m == NULL)
		return tfm_fail(e, "fake: out of memory");
	m->emb = weights[0];
	m->norm = weights[1];
	fake_threads = n_threads;
	fake_opens++;
	*inst = m;
	return 0;
}

static void fake_close(void *inst)
{
	fake_closes++;
	free(inst);
}

static void fake_reset(void *inst)
{
	((fake_inst *)inst)->next_pos = 0;
}

/* The logit j after token tok at position pos. */
static float fake_logit(const float *emb, int tok, int pos, int j)
{
	return emb[tok * FAKE_DIM + j % FAKE_DIM] + (j == (tok + 1) % FAKE_VOCAB ? 5.0f : 0.0f)
	       + 0.01f * (float)pos;
}

static const float *fake_forward(void *inst, const int *tokens, int n, int pos, int all,
                                 tfm_error *e)
{
	fake_inst *m = inst;
	float *out;
	int t, j;

	fake_forwards++;
	if (n < 1 || pos != m->next_pos || pos + n > FAKE_MAX_SEQ) {
		tfm_fail(e, "fake: forward of %d tokens at %d (expected at %d)", n, pos, m->next_pos);
		return NULL;
	}
	for (t = 0; t < n; t++) {
		if (tokens[t] < 0 || tokens[t] >= FAKE_VOCAB) {
			tfm_fail(e, "fake: token %d out of range", tokens[t]);
			return NULL;
		}
		if (pos + t == fake_fail_pos) {
			tfm_fail(e, "fake: failure injected at position %d", pos + t);
			return NULL;
		}
	}
	for (t = 0; t < n; t++) {
		out = &m->logits[(all ? t : 0) * FAKE_VOCAB];
		for (j = 0; j < FAKE_VOCAB; j++)
			out[j] = fake_logit(m->emb, tokens[t], pos + t, j);
	}
	m->next_pos = pos + n;
	return m->logits;
}

static const tfm_model_api fake_api = {
	.name = "fake",
	.vocab = FAKE_VOCAB,
	.max_seq = FAKE_MAX_SEQ,
	.tensors = fake_tensors,
	.n_tensors = 2,
	.target = "fake-isa",
	.open = fake_open,
	.close = fake_close,
	.reset = fake_reset,
	.forward = fake_forward,
};

/* The weights written to files: emb[i][k] = 0.1 i + 0.01 k, norm 1. */
static void fake_weights(float *emb, float *norm)
{
	int i, k;

	for (i = 0; i < FAKE_VOCAB; i++)
		for (k = 0; k < FAKE_DIM; k++)
			emb[i * FAKE_DIM + k] = 0.1f * (float)i + 0.01f * (float)k;
	for (k = 0; k < FAKE_DIM; k++)
		norm[k] = 1.0f;
}

static int fake_write(const char *path)
{
	float emb[FAKE_VOCAB * FAKE_DIM], norm[FAKE_DIM];
	const void *data[2] = { emb, norm };

	fake_weights(emb, norm);
	return tfm_file_write(path, fake_tensors, 2, data, NULL);
}

/* ---- Running tfm_main --------------------------------------------------- */

static char mm_out[8192], mm_err[8192]; /* what the last run printed */

/* Runs tfm_main on the fake model with the NULL-terminated arguments (argv[0]
 * is "fake"), capturing stdout and stderr; returns its exit status. */
static int mm_run(const char *arg, ...)
{
	char *argv[32];
	test_capture cap;
	int argc = 0, rc;
	va_list ap;

	argv[argc++] = "fake";
	va_start(ap, arg);
	for (; arg != NULL && argc < 31; arg = va_arg(ap, const char *))
		argv[argc++] = (char *)arg;
	va_end(ap);
	argv[argc] = NULL;

	if (test_capture_begin(&cap, mm_dir) != 0)
		return -1;
	rc = tfm_main(argc, argv, &fake_api);
	test_capture_end(&cap, mm_out, sizeof mm_out, mm_err, sizeof mm_err);
	CU_ASSERT_EQUAL(fake_opens, fake_closes);
	return rc;
}

/* Checks a usage error: exit status 2, nothing on stdout, and exactly the
 * message "fake: error: MSG\n" on stderr. */
#define ASSERT_USAGE(msg, ...) do { \
	CU_ASSERT_EQUAL(mm_run(__VA_ARGS__, (const char *)NULL), 2); \
	ASSERT_MSG(mm_err, "fake: error: " msg "\n"); \
	ASSERT_MSG(mm_out, ""); \
} while (0)

/* ---- Reading .npy -------------------------------------------------------- */

/* Reads a float32 .npy file of shape [rows, cols] written by tfm_npy_write
 * into data[cap]; returns the number of values or -1. */
static long mm_read_npy(const char *path, long *rows, long *cols, float *data, size_t cap)
{
	unsigned char head[10];
	char dict[512], *shape;
	size_t hlen, n;
	FILE *fp;

	fp = fopen(path, "rb");
	if (fp == NULL)
		return -1;
	if (fread(head, 1, 10, fp) != 10 || memcmp(head, "\x93NUMPY\x01\x00", 8) != 0)
		goto fail;
	hlen = (size_t)head[8] | (size_t)head[9] << 8;
	if (hlen >= sizeof dict || fread(dict, 1, hlen, fp) != hlen)
		goto fail;
	dict[hlen] = '\0';
	if (strstr(dict, "'descr': '<f4'") == NULL
	    || (shape = strstr(dict, "'shape': (")) == NULL
	    || sscanf(shape, "'shape': (%ld, %ld)", rows, cols) != 2)
		goto fail;
	n = fread(data, sizeof *data, cap, fp);
	fclose(fp);
	return (long)n;
fail:
	fclose(fp);
	return -1;
}

/* ---- tfm_weights_random -------------------------------------------------- */

static const tfm_tensor_decl mm_decl[] = {
	{ "tok_embeddings.weight", 2, { 37, 24 }, TFM_F32 },
	{ "layers.0.attention_norm.weight", 1, { 24, 0 }, TFM_F32 },
	{ "layers.0.attention_norm.bias", 1, { 24, 0 }, TFM_F32 },
	{ "layers.0.attention.wq.weight", 2, { 24, 24 }, TFM_F32 },
	{ "layers.0.attention.wq.bias", 1, { 24, 0 }, TFM_F32 },
	{ "norm.weight", 1, { 24, 0 }, TFM_F32 },
	{ "output.weight", 2, { 3, 5 }, TFM_F32 },
};
#define MM_N ((int)(sizeof mm_decl / sizeof mm_decl[0]))

static size_t mm_nelem(const tfm_tensor_decl *d)
{
	size_t n = 1;
	int k;

	for (k = 0; k < d->ndim; k++)
		n *= (size_t)d->shape[k];
	return n;
}

static void test_random_fill(void)
{
	tfm_weights w;
	tfm_error e = { { 0 } };
	size_t j, n;
	int i;

	CU_ASSERT_EQUAL_FATAL(tfm_weights_random(&w, mm_decl, MM_N, 42, &e), 0);
	CU_ASSERT_EQUAL(w.n, MM_N);
	CU_ASSERT_EQUAL(w.n_files, 0);
	CU_ASSERT_PTR_NOT_NULL(w.owned);
	for (i = 0; i < MM_N; i++) {
		n = mm_nelem(&mm_decl[i]);
		CU_ASSERT_EQUAL((uintptr_t)w.data[i] % 64, 0);
		if (i > 0) { /* disjoint, in order */
			CU_ASSERT((float *)w.data[i] >= (float *)w.data[i - 1] + mm_nelem(&mm_decl[i - 1]));
		}
		for (j = 0; j < n; j++) {
			float x = ((float *)w.data[i])[j];
			if (mm_decl[i].ndim == 2) {
				CU_ASSERT(x != 0 && fabsf(x) < 0.2f);
			} else if (strstr(mm_decl[i].name, "norm.weight")) {
				CU_ASSERT_EQUAL(x, 1.0f);
			} else {
				CU_ASSERT_EQUAL(x, 0.0f);
			}
		}
	}
	tfm_weights_free(&w);
	CU_ASSERT_PTR_NULL(w.data);
	CU_ASSERT_PTR_NULL(w.owned);
	tfm_weights_free(&w); /* twice is harmless */
}

static void test_random_determinism(void)
{
	tfm_weights a, b, c;
	tfm_error e = { { 0 } };
	int i, differ = 0;

	CU_ASSERT_EQUAL_FATAL(tfm_weights_random(&a, mm_decl, MM_N, 7, &e), 0);
	CU_ASSERT_EQUAL_FATAL(tfm_weights_random(&b, mm_decl, MM_N, 7, &e), 0);
	CU_ASSERT_EQUAL_FATAL(tfm_weights_random(&c, mm_decl, MM_N, 8, &e), 0);
	for (i = 0; i < MM_N; i++) {
		size_t bytes = mm_nelem(&mm_decl[i]) * sizeof(float);
		CU_ASSERT_EQUAL(memcmp(a.data[i], b.data[i], bytes), 0);
		if (mm_decl[i].ndim == 2) {
			CU_ASSERT_NOT_EQUAL(memcmp(a.data[i], c.data[i], bytes), 0);
			differ++;
		}
	}
	CU_ASSERT_EQUAL(differ, 3);
	/* Two tensors of one shape but different names differ. */
	CU_ASSERT_NOT_EQUAL(memcmp(a.data[0], a.data[3], 24 * sizeof(float)), 0);
	tfm_weights_free(&a);
	tfm_weights_free(&b);
	tfm_weights_free(&c);
}

/* A tensor's values depend on the seed, its name and its size only, and are
 * the same on every machine: these are the first values for seed 42. */
static void test_random_golden(void)
{
	static const tfm_tensor_decl one[] = { { "output.weight", 2, { 3, 5 }, TFM_F32 } };
	static const uint32_t want[4] = { 0x3d043f70, 0x3b031644, 0xbc30ab3c, 0xbd0a6b81 };
	tfm_weights a, b;
	tfm_error e = { { 0 } };
	uint32_t u;
	int j;

	CU_ASSERT_EQUAL_FATAL(tfm_weights_random(&a, one, 1, 42, &e), 0);
	CU_ASSERT_EQUAL_FATAL(tfm_weights_random(&b, mm_decl, MM_N, 42, &e), 0);
	CU_ASSERT_EQUAL(memcmp(a.data[0], b.data[MM_N - 1], 15 * sizeof(float)), 0);
	for (j = 0; j < 4; j++) {
		memcpy(&u, (float *)a.data[0] + j, 4);
		if (u != want[j])
			fprintf(stderr, "\n    value %d: got 0x%08x (%.9g), want 0x%08x\n", j,
			        (unsigned)u, (double)((float *)a.data[0])[j], (unsigned)want[j]);
		CU_ASSERT_EQUAL(u, want[j]);
	}
	tfm_weights_free(&a);
	tfm_weights_free(&b);
}

/* Random bf16 tensors hold the f32 values rounded; vectors stay exact. */
static void test_random_bf16(void)
{
	static const tfm_tensor_decl f32[] = { { "output.weight", 2, { 33, 17 }, TFM_F32 },
	                                       { "norm.weight", 1, { 17 }, TFM_F32 } };
	static const tfm_tensor_decl bf16[] = { { "output.weight", 2, { 33, 17 }, TFM_BF16 },
	                                        { "norm.weight", 1, { 17 }, TFM_BF16 } };
	tfm_weights a, b;
	tfm_error e = { { 0 } };
	int bad = 0;

	CU_ASSERT_EQUAL_FATAL(tfm_weights_random(&a, f32, 2, 9, &e), 0);
	CU_ASSERT_EQUAL_FATAL(tfm_weights_random(&b, bf16, 2, 9, &e), 0);
	for (int j = 0; j < 33 * 17; j++)
		bad += ((tfm_bf16 *)b.data[0])[j] != tfm_f32_to_bf16(((float *)a.data[0])[j]);
	for (int j = 0; j < 17; j++)
		bad += ((tfm_bf16 *)b.data[1])[j] != 0x3f80;	/* 1.0 */
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL((uintptr_t)b.data[1] % 64, 0);
	tfm_weights_free(&a);
	tfm_weights_free(&b);
}

/* Mean 0, standard deviation 0.02, and normal: 68.3% within one sigma. */
static void test_random_statistics(void)
{
	static const tfm_tensor_decl big[] = { { "layers.3.feed_forward.w_up.weight", 2, { 512, 512 }, TFM_F32 } };
	const size_t n = 512 * 512;
	tfm_weights w;
	tfm_error e = { { 0 } };
	double sum = 0, sq = 0, mean, sd;
	size_t j, within = 0;

	CU_ASSERT_EQUAL_FATAL(tfm_weights_random(&w, big, 1, 1234, &e), 0);
	for (j = 0; j < n; j++) {
		double x = ((float *)w.data[0])[j];
		sum += x;
		sq += x * x;
		within += fabs(x) < 0.02;
	}
	mean = sum / (double)n;
	sd = sqrt(sq / (double)n - mean * mean);
	fprintf(stderr, "\n    mean %.3g, std %.5g, %.4f within one sigma ", mean, sd,
	        (double)within / (double)n);
	CU_ASSERT(fabs(mean) < 0.0002);    /* 5 standard errors: 5 * 0.02 / 512 */
	CU_ASSERT(fabs(sd - 0.02) < 0.0002);
	CU_ASSERT(fabs((double)within / (double)n - 0.6827) < 0.005);
	tfm_weights_free(&w);
}

static void test_random_errors(void)
{
	static const tfm_tensor_decl huge[] = {
		{ "tok_embeddings.weight", 2, { 1000, 1000 }, TFM_F32 },
		{ "output.weight", 2, { 1L << 20, 1L << 14 }, TFM_F32 }, /* exactly 64 GiB */
	};
	static const tfm_tensor_decl overflow[] = { { "w", 2, { LONG_MAX, LONG_MAX }, TFM_F32 } };
	static const tfm_tensor_decl negative[] = { { "w", 2, { 4, -1 }, TFM_F32 } };
	static const tfm_tensor_decl bad_ndim[] = { { "w", 3, { 4, 4 }, TFM_F32 } };
	tfm_weights w;
	tfm_error e = { { 0 } };

	CU_ASSERT_EQUAL(tfm_weights_random(&w, huge, 2, 1, &e), -1);
	ASSERT_MSG(e.msg, "random weights: more than 64 GiB in all, reached at tensor "
	           "'output.weight': is a dimension wrong?");
	CU_ASSERT_PTR_NULL(w.data);
	CU_ASSERT_PTR_NULL(w.owned);
	CU_ASSERT_EQUAL(tfm_weights_random(&w, overflow, 1, 1, &e), -1);
	ASSERT_HAS(e.msg, "more than 64 GiB");
	CU_ASSERT_EQUAL(tfm_weights_random(&w, negative, 1, 1, &e), -1);
	ASSERT_MSG(e.msg, "random weights: tensor 'w' has a negative dimension (-1)");
	CU_ASSERT_EQUAL(tfm_weights_random(&w, bad_ndim, 1, 1, &e), -1);
	ASSERT_MSG(e.msg, "random weights: declaration 0 is malformed (name, ndim 0..2, F32, BF16, or a quantized matrix of whole blocks)");
	tfm_weights_free(&w);

	/* No tensors at all is fine. */
	CU_ASSERT_EQUAL(tfm_weights_random(&w, NULL, 0, 1, &e), 0);
	CU_ASSERT_EQUAL(w.n, 0);
	tfm_weights_free(&w);
}

/* ---- tfm_weights_load ---------------------------------------------------- */

static void test_load(void)
{
	float emb[FAKE_VOCAB * FAKE_DIM], norm[FAKE_DIM];
	const char *path = mm_path("fake.safetensors");
	tfm_weights w;
	tfm_error e = { { 0 } };

	CU_ASSERT_EQUAL_FATAL(fake_write(path), 0);
	fake_weights(emb, norm);
	CU_ASSERT_EQUAL_FATAL(tfm_weights_load(&w, &fake_api, path, &e), 0);
	CU_ASSERT_EQUAL(w.n, 2);
	CU_ASSERT_EQUAL(w.n_files, 1);
	CU_ASSERT_PTR_NULL(w.owned);
	CU_ASSERT_EQUAL(memcmp(w.data[0], emb, sizeof emb), 0);
	CU_ASSERT_EQUAL(memcmp(w.data[1], norm, sizeof norm), 0);
	tfm_weights_free(&w);
	CU_ASSERT_EQUAL(w.n_files, 0);
	CU_ASSERT_PTR_NULL(w.data);
}

static void test_load_errors(void)
{
	static const tfm_tensor_decl wrong_shape[] = {
		{ "emb.weight", 2, { 10, 5 }, TFM_F32 },
		{ "norm.weight", 1, { 4, 0 }, TFM_F32 },
	};
	static const tfm_tensor_decl extra[] = {
		{ "emb.weight", 2, { 10, 4 }, TFM_F32 },
		{ "norm.weight", 1, { 4, 0 }, TFM_F32 },
		{ "norm.bias", 1, { 4, 0 }, TFM_F32 },
	};
	float data[64] = { 0 };
	const void *d[3] = { data, data, data };
	const char *path = mm_path("wrong.safetensors");
	char want[1200];
	tfm_weights w;
	tfm_error e = { { 0 } };

	CU_ASSERT_EQUAL_FATAL(tfm_file_write(path, wrong_shape, 2, d, &e), 0);
	CU_ASSERT_EQUAL(tfm_weights_load(&w, &fake_api, path, &e), -1);
	snprintf(want, sizeof want, "%s: tensor 'emb.weight' has shape [10, 5], expected [10, 4]",
	         path);
	ASSERT_MSG(e.msg, want);
	CU_ASSERT_PTR_NULL(w.data);
	CU_ASSERT_EQUAL(w.n_files, 0);
	tfm_weights_free(&w);

	CU_ASSERT_EQUAL_FATAL(tfm_file_write(path, extra, 3, d, &e), 0);
	CU_ASSERT_EQUAL(tfm_weights_load(&w, &fake_api, path, &e), -1);
	snprintf(want, sizeof want, "%s: unexpected tensor 'norm.bias' [4]: the model does not use it",
	         path);
	ASSERT_MSG(e.msg, want);

	CU_ASSERT_EQUAL_FATAL(tfm_file_write(path, extra, 1, d, &e), 0);
	CU_ASSERT_EQUAL(tfm_weights_load(&w, &fake_api, path, &e), -1);
	snprintf(want, sizeof want, "%s: missing tensor 'norm.weight' (expected shape [4])", path);
	ASSERT_MSG(e.msg, want);

	path = mm_path("absent.safetensors");
	CU_ASSERT_EQUAL(tfm_weights_load(&w, &fake_api, path, &e), -1);
	snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
	ASSERT_MSG(e.msg, want);
}

/* ---- tfm_main: runs that work --------------------------------------------- */

static void test_main_greedy(void)
{
	const char *path = mm_path("fake.safetensors");

	CU_ASSERT_EQUAL_FATAL(fake_write(path), 0);
	CU_ASSERT_EQUAL(mm_run("--weights", path, "--tokens", "1,5,7", "-n", "4",
	                       "--threads", "3", (const char *)NULL), 0);
	ASSERT_MSG(mm_out, "8 9 0 1\n");
	CU_ASSERT_EQUAL(fake_threads, 3);
	ASSERT_HAS(mm_err, "prefill: 3 tokens in ");
	ASSERT_HAS(mm_err, "; decode: 3 tokens in ");
	ASSERT_HAS(mm_err, " tok/s); 3 threads, fake-isa\n");
	CU_ASSERT_PTR_NULL(strstr(mm_err, "random")); /* no note with --weights */
	CU_ASSERT_PTR_NULL(strstr(mm_err, "error"));

	/* The longest run that fits: 3 + 6 - 1 = 8 positions; =value forms. */
	fake_forwards = 0;
	CU_ASSERT_EQUAL(mm_run("--tokens=1,5,7", "-n", "6", "--seed=3", (const char *)NULL), 0);
	ASSERT_MSG(mm_out, "8 9 0 1 2 3\n");
	CU_ASSERT_EQUAL(fake_forwards, 6); /* the prompt, then all but the last token */
}

/* --bench: prefill of min(128, max_seq) tokens, then decode to max_seq - 1,
 * one machine-readable line. */
static void test_main_bench(void)
{
	CU_ASSERT_EQUAL(tfm_main_option("--bench"), 1);
	CU_ASSERT_EQUAL(mm_run("--bench", "--threads", "1", (const char *)NULL), 0);
	ASSERT_HAS(mm_out, "bench model=fake ");
	ASSERT_HAS(mm_out, " prefill_n=8 decode_n=7 ");
	ASSERT_HAS(mm_out, "decode_tok_s=");
	ASSERT_HAS(mm_out, "prefill_tok_s=");

	/* --bench-context P: P tokens, then the decode steps that fit */
	CU_ASSERT_EQUAL(tfm_main_option("--bench-context"), 2);
	CU_ASSERT_EQUAL(mm_run("--bench-context", "5", "--threads", "1", (const char *)NULL), 0);
	ASSERT_HAS(mm_out, "bench_context model=fake ");
	ASSERT_HAS(mm_out, " context=5 decode_n=3 decode_tok_s=");
	CU_ASSERT_EQUAL(mm_run("--bench-context", "8", (const char *)NULL), 1);
	ASSERT_HAS(mm_err, "--bench-context: 8 tokens leave no position to decode in max_seq 8");
	CU_ASSERT_EQUAL(mm_run("--bench-context", "0", (const char *)NULL), 2);
	ASSERT_HAS(mm_err, "--bench-context: expected a count of tokens (1 or more), got '0'");
}

static void test_main_defaults(void)
{
	int n;

	/* Prompt "1", random weights from seed 42, as many tokens as fit (8). */
	CU_ASSERT_EQUAL(mm_run((const char *)NULL), 0);
	ASSERT_MSG(mm_out, "2 3 4 5 6 7 8 9\n");
	ASSERT_HAS(mm_err, "fake: note: no --weights given: running on random weights (seed 42)\n");
	ASSERT_HAS(mm_err, "prefill: 1 tokens in ");
	ASSERT_HAS(mm_err, "decode: 7 tokens in ");
	n = (int)sysconf(_SC_NPROCESSORS_ONLN);
	CU_ASSERT_EQUAL(fake_threads, n < 1 ? 1 : n > 64 ? 64 : n);

	/* -n 0 generates nothing and prints nothing. */
	CU_ASSERT_EQUAL(mm_run("-n", "0", "--tokens", "4", (const char *)NULL), 0);
	ASSERT_MSG(mm_out, "");
	ASSERT_HAS(mm_err, "decode: 0 tokens in ");

	/* A full prompt still leaves room for one token. */
	CU_ASSERT_EQUAL(mm_run("--tokens", "0,1,2,3,4,5,6,7", (const char *)NULL), 0);
	ASSERT_MSG(mm_out, "8\n");

	/* Spaces around ids are allowed; so are repeated options (last wins). */
	CU_ASSERT_EQUAL(mm_run("--tokens", " 2 , 3", "-n", "9", "-n", "2", (const char *)NULL), 0);
	ASSERT_MSG(mm_out, "4 5\n");
}

static void test_main_sampling(void)
{
	char first[sizeof mm_out];

	/* The same seed gives the same tokens; top-k 1 is greedy. */
	CU_ASSERT_EQUAL(mm_run("--temperature", "50", "--seed", "7", "-n", "7", (const char *)NULL), 0);
	snprintf(first, sizeof first, "%s", mm_out);
	CU_ASSERT_EQUAL(strlen(first), 14); /* 7 one-digit ids, spaces, newline */
	CU_ASSERT_EQUAL(mm_run("--temperature", "50", "--seed", "7", "-n", "7", (const char *)NULL), 0);
	ASSERT_MSG(mm_out, first);
	CU_ASSERT_EQUAL(mm_run("--temperature", "50", "--top-k", "1", "-n", "3",
	                       (const char *)NULL), 0);
	ASSERT_MSG(mm_out, "2 3 4\n");
	CU_ASSERT_EQUAL(mm_run("--temperature", "1", "--top-p", "0.5", "-n", "3",
	                       (const char *)NULL), 0);
	ASSERT_MSG(mm_out, "2 3 4\n");
}

static void test_main_logits(void)
{
	const char *path = mm_path("fake.safetensors"), *npy = mm_path("logits.npy");
	float emb[FAKE_VOCAB * FAKE_DIM], norm[FAKE_DIM], got[64];
	static const int prompt[3] = { 1, 5, 9 };
	long rows = 0, cols = 0, n;
	int t, j, bad = 0;

	CU_ASSERT_EQUAL_FATAL(fake_write(path), 0);
	fake_weights(emb, norm);
	CU_ASSERT_EQUAL(mm_run("--weights", path, "--tokens", "1,5,9", "--logits", npy,
	                       "-n", "2", (const char *)NULL), 0);
	ASSERT_MSG(mm_out, "0 1\n"); /* decoding goes on from the last row */
	n = mm_read_npy(npy, &rows, &cols, got, 64);
	CU_ASSERT_EQUAL(n, 3 * FAKE_VOCAB);
	CU_ASSERT_EQUAL(rows, 3);
	CU_ASSERT_EQUAL(cols, FAKE_VOCAB);
	for (t = 0; t < 3 && n == 3 * FAKE_VOCAB; t++)
		for (j = 0; j < FAKE_VOCAB; j++)
			bad += got[t * FAKE_VOCAB + j] != fake_logit(emb, prompt[t], t, j);
	CU_ASSERT_EQUAL(bad, 0);

	/* With -n 0, only the logits. */
	CU_ASSERT_EQUAL(mm_run("--weights", path, "--tokens", "3", "--logits", npy,
	                       "-n", "0", (const char *)NULL), 0);
	ASSERT_MSG(mm_out, "");
	n = mm_read_npy(npy, &rows, &cols, got, 64);
	CU_ASSERT_EQUAL(n, FAKE_VOCAB);
	CU_ASSERT_EQUAL(rows, 1);
	CU_ASSERT_EQUAL(got[4], fake_logit(emb, 3, 0, 4));
}

static void test_main_help(void)
{
	CU_ASSERT_EQUAL(mm_run("--help", (const char *)NULL), 0);
	CU_ASSERT_EQUAL(strncmp(mm_out, "usage: fake [options]\n", 22), 0);
	ASSERT_HAS(mm_out, "Runs the model fake (vocab 10, max_seq 8, compiled for fake-isa)");
	ASSERT_HAS(mm_out, "--weights PATH");
	ASSERT_HAS(mm_out, "--prompt TEXT");
	ASSERT_HAS(mm_out, "--tokenizer PATH");
	ASSERT_HAS(mm_out, "--top-p P");
	ASSERT_MSG(mm_err, "");
	/* Options are read in order up to --help; the prompt is not checked. */
	CU_ASSERT_EQUAL(mm_run("-n", "x", "--help", (const char *)NULL), 2);
	CU_ASSERT_EQUAL(mm_run("--tokens", "99", "--help", "--bogus", (const char *)NULL), 0);
}

/* ---- tfm_main: bad command lines (exit status 2) --------------------------- */

static void test_main_bad_numbers(void)
{
	ASSERT_USAGE("-n: expected a count of tokens (0 or more), got '5x'", "-n", "5x");
	ASSERT_USAGE("-n: expected a count of tokens (0 or more), got '-1'", "-n", "-1");
	ASSERT_USAGE("-n: expected a count of tokens (0 or more), got ''", "-n", "");
	ASSERT_USAGE("-n: expected a count of tokens (0 or more), got 'lots'", "-n", "lots");
	ASSERT_USAGE("-n: expected a count of tokens (0 or more), got '99999999999999999999'",
	             "-n", "99999999999999999999");
	ASSERT_USAGE("--threads: expected a count of threads from 1 to 256, got '0'",
	             "--threads", "0");
	ASSERT_USAGE("--threads: expected a count of threads from 1 to 256, got '2.5'",
	             "--threads", "2.5");
	ASSERT_USAGE("--threads: expected a count of threads from 1 to 256, got '1000'",
	             "--threads=1000");
	ASSERT_USAGE("--temperature: expected a number >= 0 (0 is greedy), got '-0.5'",
	             "--temperature", "-0.5");
	ASSERT_USAGE("--temperature: expected a number >= 0 (0 is greedy), got 'hot'",
	             "--temperature", "hot");
	ASSERT_USAGE("--temperature: expected a number >= 0 (0 is greedy), got 'inf'",
	             "--temperature", "inf");
	ASSERT_USAGE("--temperature: expected a number >= 0 (0 is greedy), got '0.7 '",
	             "--temperature", "0.7 ");
	ASSERT_USAGE("--top-k: expected a count of tokens (0 is off), got '-3'", "--top-k", "-3");
	ASSERT_USAGE("--top-p: expected a number in (0, 1] (1 is off), got '0'", "--top-p", "0");
	ASSERT_USAGE("--top-p: expected a number in (0, 1] (1 is off), got '1.5'", "--top-p", "1.5");
	ASSERT_USAGE("--top-p: expected a number in (0, 1] (1 is off), got 'nan'", "--top-p", "nan");
	ASSERT_USAGE("--seed: expected an integer from 0 to 18446744073709551615, got '-1'",
	             "--seed", "-1");
	ASSERT_USAGE("--seed: expected an integer from 0 to 18446744073709551615, got '12a'",
	             "--seed", "12a");
	ASSERT_USAGE("--seed: expected an integer from 0 to 18446744073709551615, got "
	             "'18446744073709551616'", "--seed", "18446744073709551616");
	CU_ASSERT_EQUAL(mm_run("--seed", "18446744073709551615", "-n", "1", (const char *)NULL), 0);
}

static void test_main_bad_tokens(void)
{
	ASSERT_USAGE("--tokens: the list is empty: give at least one token id, as in --tokens 1,5,9",
	             "--tokens", "");
	ASSERT_USAGE("--tokens: the list is empty: give at least one token id, as in --tokens 1,5,9",
	             "--tokens", "  ");
	ASSERT_USAGE("--tokens: the item at position 0 of ',,' is empty", "--tokens", ",,");
	ASSERT_USAGE("--tokens: the item at position 1 of '1,,2' is empty", "--tokens", "1,,2");
	ASSERT_USAGE("--tokens: the item at position 2 of '1,2,' is empty", "--tokens", "1,2,");
	ASSERT_USAGE("--tokens: '5x' at position 1 is not a token id (an integer)",
	             "--tokens", "3,5x");
	ASSERT_USAGE("--tokens: '1 2' at position 0 is not a token id (an integer)",
	             "--tokens", "1 2");
	ASSERT_USAGE("--tokens: token id 10 at position 2 is out of range [0, 10)",
	             "--tokens", "3,4,10");
	ASSERT_USAGE("--tokens: token id -1 at position 0 is out of range [0, 10)",
	             "--tokens", "-1");
	ASSERT_USAGE("--tokens: token id 99999999999999999999 at position 0 is out of range [0, 10)",
	             "--tokens", "99999999999999999999");
	ASSERT_USAGE("--tokens: the prompt has 9 tokens, more than max_seq (8)",
	             "--tokens", "1,1,1,1,1,1,1,1,1");
	ASSERT_USAGE("-n: 7 tokens do not fit after a prompt of 3: max_seq is 8, so at most 6 "
	             "can be generated", "--tokens", "1,2,3", "-n", "7");
	ASSERT_USAGE("-n: 2 tokens do not fit after a prompt of 8: max_seq is 8, so at most 1 "
	             "can be generated", "--tokens", "1,1,1,1,1,1,1,1", "-n", "2");
}

static void test_main_bad_usage(void)
{
	ASSERT_USAGE("unknown option '--bogus' (see --help)", "--bogus");
	ASSERT_USAGE("unknown option '-x' (see --help)", "-x", "3");
	ASSERT_USAGE("unknown option '-n=3' (see --help)", "-n=3");
	ASSERT_USAGE("unknown option '--tokensx' (see --help)", "--tokensx", "1");
	ASSERT_USAGE("unexpected argument '1,2': the prompt goes in --prompt or --tokens (see --help)", "1,2");
	ASSERT_USAGE("--tokens: missing value (see --help)", "--tokens");
	ASSERT_USAGE("-n: missing value (see --help)", "--tokens", "1", "-n");
	ASSERT_USAGE("--weights: empty file name", "--weights", "");
	ASSERT_USAGE("--logits: empty file name", "--logits=");
	CU_ASSERT_EQUAL(fake_opens, fake_closes);
}

/* ---- tfm_main: runs that fail (exit status 1) ----------------------------- */

static void test_main_runtime_errors(void)
{
	const char *good = mm_path("fake.safetensors");
	const char *bad = mm_path("wrong.safetensors");
	static const tfm_tensor_decl wrong[] = {
		{ "emb.weight", 2, { 10, 4 }, TFM_F32 },
		{ "norm.weight", 1, { 5, 0 }, TFM_F32 },
	};
	float data[64] = { 0 };
	const void *d[2] = { data, data };
	char want[1200];

	CU_ASSERT_EQUAL_FATAL(tfm_file_write(bad, wrong, 2, d, NULL), 0);
	CU_ASSERT_EQUAL(mm_run("--weights", bad, (const char *)NULL), 1);
	snprintf(want, sizeof want, "fake: error: %s: tensor 'norm.weight' has shape [5], expected [4]\n",
	         bad);
	ASSERT_MSG(mm_err, want);
	ASSERT_MSG(mm_out, "");

	CU_ASSERT_EQUAL(mm_run("--weights", mm_path("absent.safetensors"), (const char *)NULL), 1);
	ASSERT_HAS(mm_err, "absent.safetensors: cannot open: No such file or directory\n");
	CU_ASSERT_EQUAL(strncmp(mm_err, "fake: error: ", 13), 0);

	/* A forward that fails in the prefill, then in the decode. */
	CU_ASSERT_EQUAL_FATAL(fake_write(good), 0);
	fake_fail_pos = 1;
	CU_ASSERT_EQUAL(mm_run("--weights", good, "--tokens", "1,2,3", (const char *)NULL), 1);
	ASSERT_MSG(mm_err, "fake: error: fake: failure injected at position 1\n");
	ASSERT_MSG(mm_out, "");
	fake_fail_pos = 4;
	CU_ASSERT_EQUAL(mm_run("--weights", good, "--tokens", "1,2,3", "-n", "4",
	                       (const char *)NULL), 1);
	ASSERT_MSG(mm_out, "4 5\n"); /* what came out before the failure */
	ASSERT_MSG(mm_err, "fake: error: fake: failure injected at position 4\n");
	fake_fail_pos = -1;

	/* An .npy that cannot be written. */
	CU_ASSERT_EQUAL(mm_run("--logits", mm_path("no/such/dir.npy"), (const char *)NULL), 1);
	ASSERT_HAS(mm_err, "no/such/dir.npy: cannot create: No such file or directory\n");
	ASSERT_MSG(mm_out, "");
	CU_ASSERT_EQUAL(fake_opens, fake_closes);
}

/* ---- Registration ---------------------------------------------------------- */

typedef struct mm_test {
	const char *name;
	void (*fn)(void);
} mm_test;

static const mm_test mm_weights_tests[] = {
	{ "random: matrices, norms, biases, alignment", test_random_fill },
	{ "random: same seed same bits, another differs", test_random_determinism },
	{ "random: the same values on every machine", test_random_golden },
	{ "random: bf16 tensors are the f32 values rounded", test_random_bf16 },
	{ "random: mean 0, std 0.02, normal", test_random_statistics },
	{ "random: absurd sizes and bad declarations", test_random_errors },
	{ "load: a file from tfm_file_write", test_load },
	{ "load: mismatched and missing files", test_load_errors },
	{ NULL, NULL },
};

static const mm_test mm_main_tests[] = {
	{ "greedy decoding with --weights", test_main_greedy },
	{ "defaults, -n 0, a full prompt", test_main_defaults },
	{ "sampling options", test_main_sampling },
	{ "--logits writes every prompt position", test_main_logits },
	{ "--help", test_main_help },
	{ "--bench: the benchmark protocol", test_main_bench },
	{ "bad numbers: exit 2", test_main_bad_numbers },
	{ "bad --tokens and -n: exit 2", test_main_bad_tokens },
	{ "bad options: exit 2", test_main_bad_usage },
	{ "weights and forward failures: exit 1", test_main_runtime_errors },
	{ NULL, NULL },
};

static int mm_add(const char *name, const mm_test *tests)
{
	CU_pSuite s = CU_add_suite(name, mm_dir_open, mm_dir_close);
	const mm_test *t;

	if (s == NULL)
		return -1;
	for (t = tests; t->name != NULL; t++)
		if (CU_add_test(s, t->name, t->fn) == NULL)
			return -1;
	return 0;
}

int add_model_main_suites(void)
{
	if (mm_add("runtime/weights", mm_weights_tests) != 0
	    || mm_add("runtime/main", mm_main_tests) != 0)
		return -1;
	return 0;
}
