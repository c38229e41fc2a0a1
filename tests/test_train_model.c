/* test_train_model.c: the trainer on real models' training code, compiled
 * by the JIT (test_train.c drives the trainer with a hand-written bigram;
 * test_grad.c checks single gradients).
 *
 *   - AdamW replayed: every golden case's three steps on its batch, from
 *     its weights, with its schedule and clipping (NAME.adamw.safetensors,
 *     computed in float64 by tests/reference/grad_ref.py), through
 *     tfm_trainer_step_on: the losses, learning rates, gradient norms and
 *     the weights after the third step.
 *   - Dropout: off, the step is the golden one; on, the loss moves, is the
 *     same for the same seed at 1 and 2 threads, and changes with the seed.
 *   - End to end: `tfmc train` on a byte-level model and a text Debian
 *     ships (fortunes' computers file) for 300 steps: its validation loss
 *     well below the text's unigram entropy, `tfmc eval` agreeing with it,
 *     and a run saved, stopped and resumed equal to one that never stopped.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <CUnit/CUnit.h>
#include "check.h"
#include "jit.h"
#include "testutil.h"
#include "tfm.h"
#include "tfm_internal.h"
#include "train.h"

#define GOLDEN "tests/golden"
#define FORTUNES "/usr/share/games/fortunes/computers"

static char dir[TEST_DIR_MAX];

/* A golden case's training code through the JIT; 0 or -1. */
typedef struct Compiled {
	Diags d;
	Front fe;
	Program p;
	Jit j;
} Compiled;

static int compile(Compiled *c, const char *spec)
{
	Resolved r;
	tfm_error e;

	diag_init(&c->d);
	front_init(&c->fe, &c->d);
	if (front_load(&c->fe, spec, (Loc){ 0 }) != 0 || check_select(&c->fe, spec, NULL, &r) != 0) {
		front_free(&c->fe);
		diag_free(&c->d);
		return -1;
	}
	if (ir_build(&r.m, DTYPE_F32, &c->p) != 0) {
		front_free(&c->fe);
		diag_free(&c->d);
		return -1;
	}
	if (jit_compile_train(&c->p, spec, NULL, &c->j, &e) != 0) {
		printf("\n    %s: %s", spec, e.msg);
		ir_free(&c->p);
		front_free(&c->fe);
		diag_free(&c->d);
		return -1;
	}
	return 0;
}

static void uncompile(Compiled *c)
{
	jit_free(&c->j);
	ir_free(&c->p);
	front_free(&c->fe);
	diag_free(&c->d);
}

/* NAME.batch: windows of seq + 1 ids, one per line. */
static int read_batch(const char *path, int *tok, int max, int *windows, int *seq)
{
	FILE *f = fopen(path, "r");
	char line[8192];
	int n = 0;

	*windows = *seq = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		int k = 0;
		for (char *p = strtok(line, ",\n"); p; p = strtok(NULL, ",\n"))
			if (n < max)
				tok[n++] = atoi(p), k++;
		if (k > 0)
			*seq = k - 1, ++*windows;
	}
	fclose(f);
	return *windows > 0 && n == *windows * (*seq + 1) ? 0 : -1;
}

/* The k-th of the comma-separated numbers of a metadata value. */
static double nth(const char *list, int k)
{
	const char *p = list;

	for (int i = 0; i < k && p; i++)
		if ((p = strchr(p, ',')) != NULL)
			p++;
	return p ? strtod(p, NULL) : NAN;
}

static double meta_num(const tfm_file *f, const char *key)
{
	const char *v = tfm_file_meta(f, key);

	return v ? strtod(v, NULL) : NAN;
}

/* Opens the trainer for a golden case: its batch as the data, its weights
 * loaded, the settings of its .adamw file (a, which stays open). */
static int golden_trainer(tfm_trainer *tr, const tfm_train_api *api, const char *g, int *tok,
                          int threads, tfm_file **a)
{
	char path[512];
	int windows, seq;
	tfm_weights w;
	tfm_error e;

	snprintf(path, sizeof path, GOLDEN "/%.127s.batch", g);
	if (read_batch(path, tok, 4096, &windows, &seq) != 0)
		return -1;
	snprintf(path, sizeof path, GOLDEN "/%.127s.adamw.safetensors", g);
	if (tfm_file_open(a, path, &e) != 0) {
		printf("\n    %s", e.msg);
		return -1;
	}
	if (tfm_trainer_init(tr, api, windows, seq, threads, 1, tok, (size_t)windows * (size_t)(seq + 1),
	                     &e) != 0) {
		printf("\n    %s", e.msg);
		tfm_file_close(*a);
		return -1;
	}
	const char *sched = tfm_file_meta(*a, "schedule");
	tr->sched = (tfm_schedule){ sched && strcmp(sched, "cosine") == 0 ? TFM_SCHEDULE_COSINE
	                                                                  : TFM_SCHEDULE_CONSTANT,
	                            meta_num(*a, "lr"), meta_num(*a, "min_lr"),
	                            (long)meta_num(*a, "warmup"), (long)meta_num(*a, "total_steps") };
	tr->adam = (tfm_adamw){ meta_num(*a, "beta1"), meta_num(*a, "beta2"), meta_num(*a, "eps"),
	                        meta_num(*a, "weight_decay") };
	tr->clip = meta_num(*a, "clip");
	snprintf(path, sizeof path, GOLDEN "/%.127s.safetensors", g);
	if (tfm_weights_load(&w, &(tfm_model_api){ .name = g, .tensors = api->tensors,
	                                           .n_tensors = api->n_tensors }, path, &e) != 0) {
		printf("\n    %s", e.msg);
		tfm_trainer_free(tr);
		tfm_file_close(*a);
		return -1;
	}
	for (int i = 0; i < api->n_tensors; i++)
		memcpy(tr->p.w[i], w.data[i], tr->p.nelem[i] * sizeof(float));
	tfm_weights_free(&w);
	if (tfm_trainer_start(tr, &e) != 0) {
		printf("\n    %s", e.msg);
		tfm_trainer_free(tr);
		tfm_file_close(*a);
		return -1;
	}
	return 0;
}

/* 1 if name is one of the comma-separated names of list. */
static int listed(const char *list, const char *name)
{
	size_t k = strlen(name);

	for (const char *p = list; *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] != 0))
		if (strncmp(p, name, k) == 0 && (p[k] == ',' || p[k] == 0))
			return 1;
	return 0;
}

/* The weights after three steps, against the golden ones.  An element
 * moves by about lr each step whatever its gradient's size (Adam divides
 * by sqrt(v)), so an error in a gradient g, which the golden files allow
 * up to 1e-4 of its tensor's largest G, moves the step by about lr times
 * that error over |g|: the bound on an element is sum(lr_t) (1e-3 +
 * 1e-3 G / |g|), g from the first step's golden gradient; where that is
 * above 2 sum(lr_t) the gradient is at the level of rounding and only
 * |diff| <= 2.2 sum(lr_t) is asked (the element moved by at most lr_t
 * plus its decay each step).  The tensors whose gradient is 0 in exact arithmetic (the metadata's
 * zero_grad_tensors: a key bias, which softmax ignores) hold rounding
 * noise, which Adam turns into steps of +-lr: they are left out. */
static void test_adamw_goldens(void)
{
	static char names[64][128];
	static int tok[4096];
	int n = test_train_index(names, 64);
	double worst_w = 0, worst_loss = 0, worst_norm = 0, worst_lr = 0;

	CU_ASSERT(n > 10);
	for (int c = 0; c < n; c++) {
		char spec[256];
		Compiled cc;
		tfm_trainer tr;
		tfm_file *a;
		tfm_error e;

		snprintf(spec, sizeof spec, GOLDEN "/%.127s.tfm", names[c]);
		if (compile(&cc, spec) != 0) {
			CU_FAIL("the training code did not compile");
			continue;
		}
		/* The reference steps have no dropout: four cases' specs set it. */
		tfm_train_api api = *cc.j.train_api;
		api.dropout = 0;
		if (golden_trainer(&tr, &api, names[c], tok, 1, &a) != 0) {
			CU_FAIL("cannot set the case up");
			uncompile(&cc);
			continue;
		}
		const char *losses = tfm_file_meta(a, "losses"), *lrs = tfm_file_meta(a, "lrs");
		const char *norms = tfm_file_meta(a, "grad_norms");
		double lr_sum = 0, dw = 0, dl = 0, dn = 0, dlr = 0;
		int ok = losses && lrs && norms;
		for (int s = 0; ok && s < 3; s++) {
			tfm_step_info info;
			if (tfm_trainer_step_on(&tr, tok, &info, &e) != 0) {
				printf("\n    %s: %s", names[c], e.msg);
				ok = 0;
				break;
			}
			dl = fmax(dl, fabs(info.loss - nth(losses, s)) / fmax(1, fabs(nth(losses, s))));
			dn = fmax(dn, fabs(info.norm - nth(norms, s)) / nth(norms, s));
			dlr = fmax(dlr, fabs(info.lr - nth(lrs, s)) / nth(lrs, s));
			lr_sum += info.lr;
		}
		const char *zero = tfm_file_meta(a, "zero_grad_tensors");
		tfm_file *gf = NULL;
		char path[512];
		snprintf(path, sizeof path, GOLDEN "/%.127s.grads.safetensors", names[c]);
		if (tfm_file_open(&gf, path, &e) != 0)
			ok = 0;
		for (int i = 0; ok && i < api.n_tensors; i++) {
			if (zero && listed(zero, api.tensors[i].name))
				continue;
			size_t ne = tr.p.nelem[i];
			float *want = malloc(ne * sizeof *want), *g1 = malloc(ne * sizeof *g1);
			int k = tfm_file_lookup(a, api.tensors[i].name);
			int kg = tfm_file_lookup(gf, api.tensors[i].name);
			if (!want || !g1 || k < 0 || kg < 0 || tfm_file_read_f32(a, k, want) != 0
			    || tfm_file_read_f32(gf, kg, g1) != 0) {
				printf("\n    %s: no %s in the golden files", names[c], api.tensors[i].name);
				ok = 0;
			} else {
				double top = test_max_abs(g1, (long)ne), d = 0;
				for (size_t j = 0; j < ne; j++) {
					double bound = lr_sum * (1e-3 + 1e-3 * top / fabs(g1[j]));
					if (bound < 2 * lr_sum)
						d = fmax(d, fabs((double)tr.p.w[i][j] - want[j]) / bound);
					else	/* a gradient at the level of rounding: a step of up to lr each */
						d = fmax(d, fabs((double)tr.p.w[i][j] - want[j]) / (2.2 * lr_sum));
				}
				if (d > 1)
					printf("\n      %s: %.3g x the bound", api.tensors[i].name, d);
				dw = fmax(dw, d);
			}
			free(want);
			free(g1);
		}
		if (gf)
			tfm_file_close(gf);
		CU_ASSERT(ok);
		CU_ASSERT_EQUAL(tr.t, 3);
		CU_ASSERT(dl <= 1e-4 && dn <= 1e-4 && dlr <= 1e-12 && dw <= 1);
		printf("\n    %-54s loss %.1e  norm %.1e  lr %.1e  weights %.2f x bound", names[c], dl,
		       dn, dlr, dw);
		worst_w = fmax(worst_w, dw), worst_loss = fmax(worst_loss, dl);
		worst_norm = fmax(worst_norm, dn), worst_lr = fmax(worst_lr, dlr);
		tfm_trainer_free(&tr);
		tfm_file_close(a);
		uncompile(&cc);
	}
	printf("\n    worst: loss %.2e (relative), grad norm %.2e, lr %.2e, weights %.3f x their "
	       "bound (bounds 1e-4, 1e-4, 1e-12, 1)", worst_loss, worst_norm, worst_lr, worst_w);
}

/* Dropout through a spec that has it (p = 0.1): the mean of many seeds'
 * losses is near the loss without dropout (inverted dropout is unbiased in
 * expectation of the activations, so only near: the loss is not linear),
 * each seed gives the same loss at 1 and 2 threads, and seeds differ. */
static void test_dropout_model(void)
{
	const char *g = "pre_serial_rms_gelu_sine_bias_gqa";
	static int tok[4096];
	char spec[256];
	Compiled cc;
	tfm_trainer t1, t2;
	tfm_file *a1, *a2;
	tfm_error e;
	double plain, l1, l2, sum = 0, sq = 0, first = NAN;
	int distinct = 0, same = 1;
	const int seeds = 64;

	snprintf(spec, sizeof spec, GOLDEN "/%s.tfm", g);
	CU_ASSERT_EQUAL_FATAL(compile(&cc, spec), 0);
	CU_ASSERT(cc.j.train_api->dropout == 0.1);
	CU_ASSERT_EQUAL_FATAL(golden_trainer(&t1, cc.j.train_api, g, tok, 1, &a1), 0);
	CU_ASSERT_EQUAL_FATAL(golden_trainer(&t2, cc.j.train_api, g, tok, 2, &a2), 0);
	/* No dropout: the golden loss. */
	CU_ASSERT_EQUAL(t1.api->step(t1.inst, tok, 0, 0, 0, &plain, &e), 0);
	CU_ASSERT(fabs(plain - nth(tfm_file_meta(a1, "losses"), 0)) <= 1e-4 * fabs(plain));
	for (int s = 0; s < seeds; s++) {
		uint64_t seed = tfm_step_seed(7, s + 1);
		CU_ASSERT_EQUAL(t1.api->step(t1.inst, tok, 1, 1, seed, &l1, &e), 0);
		CU_ASSERT_EQUAL(t2.api->step(t2.inst, tok, 1, 1, seed, &l2, &e), 0);
		same &= l1 == l2;
		distinct += s > 0 && l1 != first;
		if (s == 0)
			first = l1;
		sum += l1, sq += l1 * l1;
	}
	double mean = sum / seeds, sd = sqrt(fmax(0, sq / seeds - mean * mean));
	printf("\n    dropout 0.1: loss without %.6f, with over %d seeds %.6f +- %.6f (sd); 1 and 2 "
	       "threads %s; %d of %d seeds differ from the first", plain, seeds, mean, sd,
	       same ? "equal" : "DIFFER", distinct, seeds - 1);
	CU_ASSERT(same);
	CU_ASSERT(distinct == seeds - 1);
	CU_ASSERT(sd > 1e-4);
	/* The losses scatter about the plain one: within 4 sd of the mean of 64. */
	CU_ASSERT(fabs(mean - plain) < 4 * sd / sqrt(seeds) + 0.05 * plain);
	/* An evaluation step with the dropout flag off after those: the golden loss again. */
	CU_ASSERT_EQUAL(t1.api->step(t1.inst, tok, 0, 0, 0, &l1, &e), 0);
	CU_ASSERT_EQUAL(l1, plain);
	tfm_trainer_free(&t1);
	tfm_trainer_free(&t2);
	tfm_file_close(a1);
	tfm_file_close(a2);
	uncompile(&cc);
}

/* With dropout, the gradient is that of the loss with the step's masks:
 * the loss is then a fixed function of the weights, and its central
 * differences along a few directions (in double, step h) must match the
 * gradient's projection on them.  Case: dropout 0.1 in its spec, on the
 * residual branches and the attention probabilities. */
static void test_dropout_gradient(void)
{
	const char *g = "pre_serial_rms_gelu_sine_bias_gqa";
	static int tok[4096];
	Compiled cc;
	tfm_trainer tr;
	tfm_file *a;
	tfm_error e;
	char spec[256];
	const uint64_t seed = tfm_step_seed(3, 1);
	double worst = 0;

	snprintf(spec, sizeof spec, GOLDEN "/%s.tfm", g);
	CU_ASSERT_EQUAL_FATAL(compile(&cc, spec), 0);
	CU_ASSERT_EQUAL_FATAL(golden_trainer(&tr, cc.j.train_api, g, tok, 2, &a), 0);
	const tfm_train_api *api = tr.api;
	double loss, lp, lm;
	CU_ASSERT_EQUAL_FATAL(api->step(tr.inst, tok, 1, 1, seed, &loss, &e), 0);
	/* The gradient, kept; the directions: +-1 per element, seeded. */
	float **g0 = calloc((size_t)tr.p.n, sizeof *g0), **w0 = calloc((size_t)tr.p.n, sizeof *w0);
	for (int i = 0; i < tr.p.n; i++) {
		g0[i] = malloc(tr.p.nelem[i] * sizeof **g0);
		w0[i] = malloc(tr.p.nelem[i] * sizeof **w0);
		memcpy(g0[i], tr.p.g[i], tr.p.nelem[i] * sizeof **g0);
		memcpy(w0[i], tr.p.w[i], tr.p.nelem[i] * sizeof **w0);
	}
	for (int dir = 0; dir < 4; dir++) {
		uint64_t r = 0x5eed0000ull + (uint64_t)dir;
		double dot = 0, norm = 0, h = 2e-3;
		for (int i = 0; i < tr.p.n; i++)
			for (size_t j = 0; j < tr.p.nelem[i]; j++) {
				double d = (tfm_mix64(r++) >> 63) ? 1.0 : -1.0;
				dot += d * g0[i][j], norm += g0[i][j] * (double)g0[i][j];
			}
		double sl[2];
		for (int sgn = 0; sgn < 2; sgn++) {
			r = 0x5eed0000ull + (uint64_t)dir;
			for (int i = 0; i < tr.p.n; i++)
				for (size_t j = 0; j < tr.p.nelem[i]; j++) {
					double d = (tfm_mix64(r++) >> 63) ? 1.0 : -1.0;
					tr.p.w[i][j] = (float)(w0[i][j] + (sgn ? -h : h) * d);
				}
			CU_ASSERT_EQUAL(api->step(tr.inst, tok, 0, 1, seed, &sl[sgn], &e), 0);
		}
		lp = sl[0], lm = sl[1];
		double fd = (lp - lm) / (2 * h);
		/* The weights moved by float32-rounded steps: the difference's error
		 * is the loss's rounding over 2h plus h^2 terms, against |dot|. */
		double rel = fabs(fd - dot) / fmax(fabs(dot), 1e-3 * sqrt(norm));
		printf("\n    dropout 0.1, direction %d: g.d %.6f, central difference %.6f (relative %.2e)", dir,
		       dot, fd, rel);
		worst = fmax(worst, rel);
	}
	/* Without the masks' agreement between the forward and the backward,
	 * these differ by the dropped terms: tens of percent. */
	CU_ASSERT(worst < 2e-2);
	for (int i = 0; i < tr.p.n; i++)
		free(g0[i]), free(w0[i]);
	free(g0);
	free(w0);
	tfm_trainer_free(&tr);
	tfm_file_close(a);
	uncompile(&cc);
}

/* tfmc grad on a golden model and the first window of its batch: the file
 * holds every tensor, its loss in the metadata, and the gradients the
 * training code gives for a batch of that one window. */
static void test_grad_command(void)
{
	const char *g = "pre_parallel_ln_gelu_erf_rope_half_gqa_bias";
	static int tok[4096];
	char spec[256], ids[4096] = "", gpath[TEST_DIR_MAX + 32], golden[256];
	Compiled cc;
	tfm_trainer tr;
	tfm_file *a, *gf;
	tfm_error e;
	double loss, worst = 0;

	snprintf(spec, sizeof spec, GOLDEN "/%s.tfm", g);
	snprintf(golden, sizeof golden, GOLDEN "/%s.safetensors", g);
	snprintf(gpath, sizeof gpath, "%s/g.safetensors", dir);
	CU_ASSERT_EQUAL_FATAL(compile(&cc, spec), 0);
	CU_ASSERT_EQUAL_FATAL(golden_trainer(&tr, cc.j.train_api, g, tok, 1, &a), 0);
	int seq = tr.seq;
	for (int i = 0; i <= seq; i++)
		snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s%d", i ? "," : "", tok[i]);
	tfm_trainer_free(&tr);
	tfm_file_close(a);
	CU_ASSERT_EQUAL_FATAL(test_sh("./tfmc grad %s --weights %s --tokens %s -o %s > %s/grad.out 2>&1",
	                              spec, golden, ids, gpath, dir), 0);
	/* The same window through the training code, a batch of one. */
	tfm_params p;
	tfm_weights w;
	void *inst;
	CU_ASSERT_EQUAL_FATAL(tfm_params_alloc(&p, cc.j.train_api->tensors, cc.j.train_api->n_tensors, 0, &e), 0);
	CU_ASSERT_EQUAL_FATAL(tfm_weights_load(&w, &(tfm_model_api){ .name = g,
	                      .tensors = cc.j.train_api->tensors, .n_tensors = cc.j.train_api->n_tensors },
	                      golden, &e), 0);
	for (int i = 0; i < p.n; i++)
		memcpy(p.w[i], w.data[i], p.nelem[i] * sizeof(float));
	tfm_weights_free(&w);
	CU_ASSERT_EQUAL_FATAL(cc.j.train_api->open(&inst, p.w, p.g, 1, seq, 1, &e), 0);
	CU_ASSERT_EQUAL(cc.j.train_api->step(inst, tok, 1, 0, 0, &loss, &e), 0);
	cc.j.train_api->close(inst);
	CU_ASSERT_EQUAL_FATAL(tfm_file_open(&gf, gpath, &e), 0);
	CU_ASSERT(tfm_file_meta(gf, "loss") && fabs(strtod(tfm_file_meta(gf, "loss"), NULL) - loss) <= 1e-6 * loss);
	CU_ASSERT_EQUAL(tfm_file_count(gf), p.n);
	for (int i = 0; i < p.n; i++) {
		int k = tfm_file_lookup(gf, p.decl[i].name);
		float *got = malloc(p.nelem[i] * sizeof *got);
		CU_ASSERT(k >= 0 && got && tfm_file_read_f32(gf, k, got) == 0);
		if (k >= 0 && got)
			worst = fmax(worst, test_max_diff(got, p.g[i], (long)p.nelem[i]) /
			                    fmax(test_max_abs(p.g[i], (long)p.nelem[i]), 1e-30));
		free(got);
	}
	printf("\n    tfmc grad on %s, one window of %d: loss %s, gradients within %.2e of the training "
	       "code's (relative to each tensor's largest)", g, seq,
	       tfm_file_meta(gf, "loss") ? tfm_file_meta(gf, "loss") : "?", worst);
	CU_ASSERT(worst <= 1e-5);
	tfm_file_close(gf);
	tfm_params_free(&p);
	uncompile(&cc);
}

/* "KEY   NUMBER" from a command's output, NAN when absent. */
static double output_number(const char *out, const char *key)
{
	const char *p = strstr(out, key);

	return p ? strtod(p + strlen(key), NULL) : NAN;
}

/* The entropy in nats of the bytes of p[n] as a unigram distribution. */
static double unigram_entropy(const unsigned char *p, size_t n)
{
	double count[256] = { 0 }, h = 0;

	for (size_t i = 0; i < n; i++)
		count[p[i]]++;
	for (int c = 0; c < 256; c++)
		if (count[c] > 0)
			h -= count[c] / (double)n * log(count[c] / (double)n);
	return h;
}

static int same_file(const char *a, const char *b)
{
	return test_sh("cmp -s %s %s", a, b) == 0;
}

static void test_fortunes(void)
{
	FILE *f = fopen(FORTUNES, "rb");
	static unsigned char text[1 << 20];
	size_t n;

	if (!f) {
		CU_FAIL("no " FORTUNES ": the Debian package fortunes (make installs it)");
		return;
	}
	n = fread(text, 1, sizeof text, f);
	fclose(f);
	CU_ASSERT_FATAL(n > 100000);
	/* The validation part is the last 10% of the ids, the bytes here. */
	double h = unigram_entropy(text + n - n / 10, n / 10);
	char out[TEST_DIR_MAX + 64], drop[TEST_DIR_MAX + 64];	/* test_path's buffers rotate */
	snprintf(out, sizeof out, "%s/fortunes.out", dir);
	snprintf(drop, sizeof drop, "%s/drop.tfm", dir);
	/* The model with dropout, which the resumed run must replay too. */
	f = fopen(drop, "w");
	CU_ASSERT_FATAL(f != NULL);
	fprintf(f, "include \"%s/specs/bench/train/b128.tfm\"\nmodel b128d extends b128 {\n"
	        "    dropout = 0.1\n}\n", getenv("PWD") ? getenv("PWD") : ".");
	fclose(f);
#define FT_ARGS "./tfmc train %s --model b128d --data " FORTUNES " --steps 300 --batch 8 --seq 64 --lr 3e-3 " \
                "--threads 2 --seed 5 --eval-every 100 --sample 48"
	int rc;
	CU_ASSERT_EQUAL_FATAL(test_sh(FT_ARGS " -o %s/a.safetensors --checkpoint %s/a.ckpt --log %s/a.csv "
	                              "> %s 2>&1", drop, dir, dir, dir, out), 0);
	const char *o = test_slurp(out);
	double val = output_number(o, "val loss"), train = output_number(o, "train loss");
	printf("\n    byte-level b128 (dropout 0.1), 300 steps of 8 x 64 on fortunes' computers (%zu "
	       "bytes): train %.4f, val %.4f nats; the validation text's unigram entropy %.4f nats",
	       n, train, val, h);
	CU_ASSERT(val < h - 0.5);
	ASSERT_HAS(o, "sample (the first 16 bytes are the data's):");
	/* The log: a header and 300 rows. */
	const char *csv = test_slurp(test_path(dir, "a.csv"));
	int rows = 0;
	for (const char *p = csv; (p = strchr(p, '\n')) != NULL; p++)
		rows++;
	CU_ASSERT_EQUAL(rows, 301);
	/* tfmc eval on the validation part alone, in the same windows, gives the
	 * run's val loss and, bytes being tokens, bits per byte = nats / ln 2. */
	f = fopen(test_path(dir, "val.txt"), "wb");
	CU_ASSERT_FATAL(f != NULL);
	fwrite(text + n - n / 10, 1, n / 10, f);
	fclose(f);
	rc = test_sh("./tfmc eval %s --model b128d --weights %s/a.safetensors --data %s/val.txt --seq 64 "
	             "> %s 2>&1", drop, dir, dir, out);
	o = test_slurp(out);
	if (rc != 0)
		printf("\n    tfmc eval: %s", o);
	CU_ASSERT_EQUAL(rc, 0);
	double ev = output_number(o, "loss"), bpb = output_number(o, "bits/byte");
	printf("\n    tfmc eval on that part: %.6f nats, %.6f bits per byte", ev, bpb);
	CU_ASSERT(fabs(ev - val) < 1e-4);
	/* bits per byte: the nats of the predicted bytes over all of them. */
	CU_ASSERT(fabs(bpb - ev * (double)(n / 10 - 1) / (double)(n / 10) / log(2)) < 1e-6);
	/* The same run interrupted by Ctrl-C (SIGINT) partway, then resumed
	 * from the checkpoint it saved: the same bits as the run that never
	 * stopped, weights and checkpoint.  The signal goes when the log shows
	 * 20 steps done, so that it comes while the run trains, however fast. */
	rc = test_sh(FT_ARGS " -o %s/b.safetensors --checkpoint %s/b.ckpt --log %s/b.csv > %s 2>&1 & "
	             "pid=$!; while [ \"$(cat %s/b.csv 2>/dev/null | wc -l)\" -lt 21 ] && "
	             "kill -0 $pid 2>/dev/null; do sleep 0.02; done; kill -INT $pid; wait $pid",
	             drop, dir, dir, dir, out, dir);
	o = test_slurp(out);
	ASSERT_HAS(o, "interrupted: ");
	CU_ASSERT_EQUAL(rc, 130);
	double stopped = output_number(o, "interrupted after step ");
	CU_ASSERT_EQUAL(test_sh(FT_ARGS " -o %s/b.safetensors --checkpoint %s/b.ckpt --resume %s/b.ckpt "
	                        "> %s 2>&1", drop, dir, dir, dir, out), 0);
	o = test_slurp(out);
	ASSERT_HAS(o, "resuming ");
	printf("\n    interrupted near step %g, resumed: weights %s, checkpoints %s", stopped,
	       same_file(test_path(dir, "a.safetensors"), test_path(dir, "b.safetensors")) ? "equal" : "DIFFER",
	       same_file(test_path(dir, "a.ckpt"), test_path(dir, "b.ckpt")) ? "equal" : "DIFFER");
	CU_ASSERT(same_file(test_path(dir, "a.safetensors"), test_path(dir, "b.safetensors")));
	CU_ASSERT(same_file(test_path(dir, "a.ckpt"), test_path(dir, "b.ckpt")));
#undef FT_ARGS
}

static int setup(void)
{
	return test_dir_open(dir, "trainmodel");
}

static int teardown(void)
{
	return test_dir_close(dir);
}

int add_train_model_suites(void)
{
	CU_pSuite s = CU_add_suite("runtime/train on models", setup, teardown);

	if (!s || !CU_add_test(s, "AdamW: three steps of every golden case", test_adamw_goldens) ||
	    !CU_add_test(s, "dropout: unbiased, seeded, the same at 1 and 2 threads", test_dropout_model) ||
	    !CU_add_test(s, "dropout: the gradient of the loss with the step's masks", test_dropout_gradient) ||
	    !CU_add_test(s, "tfmc grad: the file, its loss, its gradients", test_grad_command) ||
	    !CU_add_test(s, "tfmc train on fortunes, eval, resume", test_fortunes))
		return -1;
	return 0;
}
