/* test_finetune.c: the fine-tuning API (tfm.h, runtime/train/finetune.c)
 * and examples/finetune.
 *
 * - A step of tfm_finetune_step is a step of the trainer (tfm_trainer_step)
 *   on the same windows, bit for bit: the same losses, and the weights that
 *   tfm_finetune_save writes equal to the trainer's, over steps that warm
 *   up, clip and drop out (a golden spec with dropout, its training code
 *   compiled by the JIT).
 * - Bad options, a bad batch and a missing file are errors that say so.
 * - examples/finetune builds with its own Makefile, its loss over the text
 *   falls, and `tfmc run --weights` runs the file it saved.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <CUnit/CUnit.h>
#include "check.h"
#include "jit.h"
#include "target.h"
#include "testutil.h"
#include "tfm.h"
#include "tfm_internal.h"
#include "train.h"

#define SPEC "tests/golden/double_serial_ln_swiglu_learned_qkln_bias.tfm"	/* dropout 0.1 */

static char dir[TEST_DIR_MAX];
static Jit jit;			/* SPEC's code, compiled by the suite's setup */
static int have_jit;

/* The spec's training code, compiled by the JIT into *j; 0 or -1. */
static int compile_spec(Jit *j)
{
	Diags d;
	Front fe;
	Resolved r;
	Program p;
	tfm_error e;
	int rc = -1;

	diag_init(&d);
	front_init(&fe, &d);
	if (front_load(&fe, SPEC, (Loc){ 0 }) == 0 && check_select(&fe, SPEC, NULL, &r) == 0 &&
	    ir_build(&r.m, DTYPE_F32, &p) == 0) {
		rc = jit_compile_train(&p, SPEC, NULL, j, &e);
		if (rc != 0)
			printf("\n    %s", e.msg);
		ir_free(&p);
	}
	front_free(&fe);
	diag_free(&d);
	return rc;
}

/* tfm_finetune_step against tfm_trainer_step: the same windows (drawn by
 * the trainer's generator from the same seed), the same settings. */
static void test_same_as_trainer(void)
{
	enum { B = 3, T = 12, N_IDS = 400, STEPS = 6 };
	const uint64_t seed = 5;
	int ids[N_IDS], tokens[B * (T + 1)];
	uint64_t rng = tfm_windows_seed(seed), z = 1;
	tfm_finetune_options o;
	tfm_finetune *ft = NULL;
	tfm_trainer tr;
	tfm_weights w;
	tfm_file *f = NULL;
	tfm_error e = { { 0 } };
	const tfm_train_api *api = jit.train_api;

	CU_ASSERT_FATAL(have_jit || !jit_available());
	if (!have_jit)
		return;
	for (int i = 0; i < N_IDS; i++)
		ids[i] = (int)(tfm_mix64(z++) % (uint64_t)api->vocab);

	tfm_finetune_defaults(&o);
	o.batch = B;
	o.seq = T;
	o.threads = 2;
	o.steps = 10;
	o.warmup = 2;
	o.lr = 3e-2;
	o.clip = 0.5;	/* below the gradient's norm: every step clips */
	o.seed = seed;
	CU_ASSERT_EQUAL_FATAL(tfm_finetune_open(&ft, api, NULL, &o, &e), 0);

	/* The trainer as tfmc train sets it up, from tfmc init's random weights. */
	CU_ASSERT_EQUAL_FATAL(tfm_trainer_init(&tr, api, B, T, 2, seed, ids, N_IDS, &e), 0);
	tr.sched = (tfm_schedule){ TFM_SCHEDULE_COSINE, o.lr, o.lr / 10, o.warmup, o.steps };
	tr.adam = (tfm_adamw){ o.beta1, o.beta2, o.eps, api->weight_decay };
	tr.clip = o.clip;
	CU_ASSERT_EQUAL_FATAL(tfm_weights_random(&w, api->tensors, api->n_tensors, seed, &e), 0);
	for (int i = 0; i < tr.p.n; i++)
		memcpy(tr.p.w[i], w.data[i], tr.p.nelem[i] * sizeof(float));
	CU_ASSERT_EQUAL_FATAL(tfm_trainer_start(&tr, &e), 0);

	int same_loss = 1, clipped = 0;
	for (int s = 0; s < STEPS; s++) {
		tfm_step_info info;
		double loss = -1;
		tfm_windows_draw(&rng, ids, N_IDS, B, T, tokens);
		CU_ASSERT_EQUAL(tfm_finetune_step(ft, tokens, &loss, &e), 0);
		CU_ASSERT_EQUAL(tfm_trainer_step(&tr, &info, &e), 0);
		same_loss &= memcmp(&loss, &info.loss, sizeof loss) == 0;
		clipped += info.norm > o.clip;
	}
	CU_ASSERT(same_loss);
	CU_ASSERT_EQUAL(clipped, STEPS);
	CU_ASSERT_EQUAL(tfm_finetune_steps_done(ft), STEPS);

	/* The saved weights are the trainer's, bit for bit. */
	const char *path = test_path(dir, "same.safetensors");
	CU_ASSERT_EQUAL_FATAL(tfm_finetune_save(ft, path, &e), 0);
	CU_ASSERT_EQUAL_FATAL(tfm_file_open(&f, path, &e), 0);
	void **saved = calloc((size_t)api->n_tensors, sizeof *saved);
	CU_ASSERT_EQUAL_FATAL(tfm_file_bind(f, api->tensors, api->n_tensors, saved, &e), 0);
	size_t differ = 0, moved = 0;
	for (int i = 0; i < tr.p.n; i++)
		for (size_t k = 0; k < tr.p.nelem[i]; k++) {
			const float *a = (const float *)saved[i] + k;
			differ += memcmp(a, &tr.p.w[i][k], sizeof *a) != 0;
			moved += *a != ((const float *)w.data[i])[k];
		}
	printf("\n    %d steps: %zu of %zu weights moved, %zu differ from the trainer's", STEPS, moved,
	       tr.p.total, differ);
	CU_ASSERT_EQUAL(differ, 0);
	CU_ASSERT(moved > tr.p.total / 2);
	ASSERT_MSG(tfm_file_meta(f, "step"), "6");
	tfm_weights_free(&w);
	free(saved);
	tfm_file_close(f);

	/* A validation loss changes nothing: the next steps still agree. */
	double val, loss;
	tfm_step_info info;
	CU_ASSERT_EQUAL(tfm_finetune_loss(ft, tokens, &val, &e), 0);
	tfm_windows_draw(&rng, ids, N_IDS, B, T, tokens);
	CU_ASSERT_EQUAL(tfm_finetune_step(ft, tokens, &loss, &e), 0);
	CU_ASSERT_EQUAL(tfm_trainer_step(&tr, &info, &e), 0);
	CU_ASSERT_EQUAL(memcmp(&loss, &info.loss, sizeof loss), 0);

	tfm_trainer_free(&tr);
	tfm_finetune_close(ft);
}

/* Bad options, a bad batch, a missing file. */
static void test_errors(void)
{
	tfm_finetune_options o;
	tfm_finetune *ft;
	tfm_error e = { { 0 } };
	const tfm_train_api *api = jit.train_api;

	if (!have_jit)
		return;
	static const char *const msgs[] = {
		"fine-tuning: seq is 17: windows are 1 to 16 tokens (the model's max_seq)",
		"fine-tuning: batch is 0: at least 1 window per step",
		"fine-tuning: warmup is 11: 0 to steps (10), or -1 for the default",
		"fine-tuning: min_lr is 0.5: 0 to lr (0.001), or -1 for lr / 10",
		"fine-tuning: beta1 0.9 and beta2 1 must each be in [0, 1)",
		"fine-tuning: threads is 300: 1 to 256, or 0 for the online CPUs",
	};
	for (int i = 0; i < (int)(sizeof msgs / sizeof msgs[0]); i++) {
		tfm_finetune_defaults(&o);
		o.steps = 10;
		switch (i) {
		case 0: o.seq = 17; break;
		case 1: o.batch = 0; break;
		case 2: o.warmup = 11; break;
		case 3: o.min_lr = 0.5; break;
		case 4: o.beta2 = 1; break;
		default: o.threads = 300; break;
		}
		ft = (tfm_finetune *)&o;	/* anything: a failed open sets it to NULL */
		CU_ASSERT_EQUAL(tfm_finetune_open(&ft, api, NULL, &o, &e), -1);
		CU_ASSERT_PTR_NULL(ft);
		ASSERT_MSG(e.msg, msgs[i]);
	}
	CU_ASSERT_EQUAL(tfm_finetune_open(&ft, api, test_path(dir, "none.safetensors"), NULL, &e), -1);
	CU_ASSERT_PTR_NULL(ft);
	ASSERT_HAS(e.msg, "none.safetensors");

	/* An id out of range: the step fails, names it, and counts nothing. */
	tfm_finetune_defaults(&o);
	o.batch = 2;
	o.seq = 4;
	o.threads = 1;
	CU_ASSERT_EQUAL_FATAL(tfm_finetune_open(&ft, api, NULL, &o, &e), 0);
	int tokens[2 * 5] = { 1, 2, 3, 4, 5, 6, 7, 71, 8, 9 };
	double loss;
	CU_ASSERT_EQUAL(tfm_finetune_step(ft, tokens, &loss, &e), -1);
	ASSERT_MSG(e.msg, "step 1: token id 71 at window 1, position 2 is out of range [0, 71)");
	CU_ASSERT_EQUAL(tfm_finetune_steps_done(ft), 0);
	tokens[7] = 70;
	CU_ASSERT_EQUAL(tfm_finetune_step(ft, tokens, &loss, &e), 0);
	CU_ASSERT_EQUAL(tfm_finetune_steps_done(ft), 1);
	CU_ASSERT_EQUAL(tfm_finetune_save(ft, test_path(dir, "no/such/dir/w.safetensors"), &e), -1);
	ASSERT_HAS(e.msg, "no/such/dir/w.safetensors");
	tfm_finetune_close(ft);
	tfm_finetune_close(NULL);
}

/* examples/finetune: its own Makefile, its loss falls, its file runs. */
static void test_example(void)
{
	char out[TEST_DIR_MAX + 64], tuned[TEST_DIR_MAX + 64];
	double before = 0, after = 0;

	/* Not the sanitizer flags of a check-asan run: a plain user build. */
	CU_ASSERT_EQUAL_FATAL(test_sh("env -u MAKEFLAGS -u MFLAGS -u CFLAGS -u LDFLAGS sh -c 'make -s -C "
	                              "examples/finetune clean && make -s -C examples/finetune' "
	                              ">/dev/null 2>&1"), 0);
	if (!target_find("avx2")->supported())
		goto done;
	snprintf(out, sizeof out, "%s/finetune.out", dir);
	snprintf(tuned, sizeof tuned, "%s/tuned.safetensors", dir);
	CU_ASSERT_EQUAL(test_sh("examples/finetune/finetune examples/finetune/almanac.txt 30 %s >%s",
	                        tuned, out), 0);
	const char *text = test_slurp(out), *p = strstr(text, "loss over the text: ");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	before = atof(p + strlen("loss over the text: "));
	p = strstr(p + 1, "loss over the text: ");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	after = atof(p + strlen("loss over the text: "));
	printf("\n    examples/finetune, 30 steps: loss over the text %.4f, then %.4f", before, after);
	CU_ASSERT(before > 2.0 && before < 3.0);	/* the fortune model's, about its val loss */
	CU_ASSERT(after < before - 1.0);
	ASSERT_HAS(text, "after:\n");
	/* The saved file is the model's weights: tfmc run reads it. */
	CU_ASSERT_EQUAL(test_sh("./tfmc run examples/finetune/fortune.tfm --weights %s --tokens 1 -n 4 "
	                        ">%s 2>/dev/null", tuned, out), 0);
	char mine[256];
	snprintf(mine, sizeof mine, "%s", test_slurp(out));
	int ids = 0;
	for (const char *s = mine; *s; s++)
		ids += *s >= '0' && *s <= '9' && (s[1] < '0' || s[1] > '9');
	CU_ASSERT_EQUAL(ids, 4);
	/* and they are not the original weights' */
	CU_ASSERT_EQUAL(test_sh("./tfmc run examples/finetune/fortune.tfm --tokens 1 -n 4 >%s 2>/dev/null",
	                        out), 0);
	CU_ASSERT(strcmp(mine, test_slurp(out)) != 0);
done:
	CU_ASSERT_EQUAL(test_sh("make -s -C examples/finetune clean >/dev/null"), 0);
}

static int setup(void)
{
	have_jit = jit_available() && compile_spec(&jit) == 0;
	return test_dir_open(dir, "finetune");
}

static int teardown(void)
{
	if (have_jit)
		jit_free(&jit);
	have_jit = 0;
	return test_dir_close(dir);
}

int add_finetune_suites(void)
{
	CU_pSuite s = CU_add_suite("finetune", setup, teardown);
	if (!s ||
	    !CU_add_test(s, "a step is the trainer's, bit for bit", test_same_as_trainer) ||
	    !CU_add_test(s, "bad options, batches and files", test_errors) ||
	    !CU_add_test(s, "examples/finetune builds, learns and saves", test_example))
		return -1;
	return 0;
}
