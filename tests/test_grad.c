/* test_grad.c: the training code the compiler derives (compiler/ir/grad.c,
 * compiler/emit/emit_train.c), against the hand-written NumPy backward of
 * tests/reference/grad_ref.py (itself checked against finite differences).
 *
 * For every golden case the model's training code is built twice, by the
 * JIT (on the kernels of each instruction set) and by the system compiler (emitted with --train, loaded with
 * dlopen), and run on the case's batch (NAME.batch) at 1 and 2 threads:
 * the loss must match the golden one and every gradient the golden
 * NAME.grads.safetensors, within 1e-4 of the largest gradient of its
 * tensor, or of 1e-3 of the model's largest where a tensor's is 0 (and
 * 1e-4 of max(1, |loss|) for the loss).  The cases are TRAIN_INDEX's. */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <CUnit/CUnit.h>
#include <cjson/cJSON.h>
#include "check.h"
#include "jit.h"
#include "target.h"
#include "testutil.h"
#include "tfm.h"

#define GOLDEN "tests/golden"

static char dir[TEST_DIR_MAX];

typedef struct Batch {
	int tok[4096];
	int windows, seq;	/* windows of seq + 1 ids */
} Batch;

static int read_batch(const char *path, Batch *b)
{
	FILE *f = fopen(path, "r");
	char line[8192];
	int n = 0;

	b->windows = b->seq = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		int k = 0;
		for (char *p = strtok(line, ",\n"); p; p = strtok(NULL, ",\n"))
			if (n < 4096)
				b->tok[n++] = atoi(p), k++;
		if (k == 0)
			continue;
		if (b->windows && k != b->seq + 1) {
			fclose(f);
			return -1;
		}
		b->seq = k - 1;
		b->windows++;
	}
	fclose(f);
	return b->windows ? 0 : -1;
}

/* The "loss" of a safetensors file's __metadata__. */
static double metadata_loss(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char len8[8];
	unsigned long long n = 0;
	double loss = NAN;

	if (!f || fread(len8, 1, 8, f) != 8) {
		if (f)
			fclose(f);
		return NAN;
	}
	for (int i = 7; i >= 0; i--)
		n = n << 8 | len8[i];
	char *hdr = calloc(1, n + 1);
	if (hdr && fread(hdr, 1, n, f) == n) {
		cJSON *root = cJSON_Parse(hdr);
		cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "__metadata__");
		cJSON *l = cJSON_GetObjectItemCaseSensitive(m, "loss");
		if (cJSON_IsString(l))
			loss = strtod(l->valuestring, NULL);
		cJSON_Delete(root);
	}
	free(hdr);
	fclose(f);
	return loss;
}

/* Runs api on case g's batch at `threads` and compares with the goldens;
 * returns the worst distance in units of the tolerance. */
static double check_case(const tfm_train_api *api, const char *g, int threads, const char *how)
{
	char path[512];
	Batch b;
	tfm_weights w, ref;
	tfm_error e;
	void *inst = NULL;
	float **grads = calloc((size_t)api->n_tensors, sizeof *grads);
	double loss = NAN, worst = INFINITY, want;
	const char *worst_name = "?";

	snprintf(path, sizeof path, GOLDEN "/%s.batch", g);
	if (read_batch(path, &b) != 0) {
		printf("\n    %s: no batch", g);
		free(grads);
		return INFINITY;
	}
	snprintf(path, sizeof path, GOLDEN "/%s.safetensors", g);
	if (tfm_weights_load(&w, &(tfm_model_api){ .name = g, .tensors = api->tensors, .n_tensors = api->n_tensors },
	                     path, &e) != 0) {
		printf("\n    %s: %s", g, e.msg);
		free(grads);
		return INFINITY;
	}
	snprintf(path, sizeof path, GOLDEN "/%s.grads.safetensors", g);
	want = metadata_loss(path);
	if (tfm_weights_load(&ref, &(tfm_model_api){ .name = g, .tensors = api->tensors, .n_tensors = api->n_tensors },
	                     path, &e) != 0) {
		printf("\n    %s: %s", g, e.msg);
		tfm_weights_free(&w);
		free(grads);
		return INFINITY;
	}
	for (int i = 0; i < api->n_tensors; i++) {
		const tfm_tensor_decl *d = &api->tensors[i];
		size_t n = (size_t)d->shape[0] * (size_t)(d->ndim == 2 ? d->shape[1] : 1);
		grads[i] = calloc(n ? n : 1, sizeof **grads);
	}
	if (api->open(&inst, (float *const *)w.data, grads, b.windows, b.seq, threads, &e) != 0 ||
	    api->step(inst, b.tok, 1, 0, 0, &loss, &e) != 0) {
		printf("\n    %s: %s", g, e.msg);
	} else {
		double top = 0;
		worst = fabs(loss - want) / (1e-4 * fmax(1, fabs(want)));
		worst_name = "the loss";
		for (int i = 0; i < api->n_tensors; i++) {
			const tfm_tensor_decl *d = &api->tensors[i];
			top = fmax(top, test_max_abs(ref.data[i], (long)d->shape[0] * (d->ndim == 2 ? d->shape[1] : 1)));
		}
		for (int i = 0; i < api->n_tensors; i++) {
			const tfm_tensor_decl *d = &api->tensors[i];
			long n = (long)d->shape[0] * (d->ndim == 2 ? d->shape[1] : 1);
			const float *r = ref.data[i];
			/* A tensor whose gradient is 0 in exact arithmetic (a key bias
			 * without RoPE: softmax ignores a shift) holds rounding noise:
			 * its scale is at least 1e-3 of the model's largest gradient. */
			double scale = fmax(test_max_abs(r, n), 1e-3 * top);
			double dist = test_max_diff(grads[i], r, n) / (1e-4 * scale);
			if (getenv("TFMC_TEST_VERBOSE") && dist > 1)
				printf("\n      %-44s %.3g x tol (max |ref| %.3g)", d->name, dist, test_max_abs(r, n));
			if (dist > worst || isnan(dist)) {
				worst = isnan(dist) ? INFINITY : dist;
				worst_name = d->name;
			}
		}
	}
	printf("\n    %-52s %-12s %d thread%s  loss %.9f (ref %.9f), worst %.3g x tol (%s)", g, how, threads,
	       threads == 1 ? " " : "s", loss, want, worst, worst_name);
	if (inst)
		api->close(inst);
	for (int i = 0; i < api->n_tensors; i++)
		free(grads[i]);
	free(grads);
	tfm_weights_free(&w);
	tfm_weights_free(&ref);
	return worst;
}

/* Every golden case through the JIT's training code, on the kernels of
 * each instruction set the machine has. */
static void test_jit(void)
{
	static char names[64][128];
	int n = test_train_index(names, 64);

	CU_ASSERT(n > 10);
	for (int i = 0; i < n; i++) {
		char spec[256];
		Diags d;
		Front fe;
		Resolved r;
		Program p;
		Jit j;
		tfm_error e;

		snprintf(spec, sizeof spec, GOLDEN "/%.127s.tfm", names[i]);
		diag_init(&d);
		front_init(&fe, &d);
		CU_ASSERT_EQUAL_FATAL(front_load(&fe, spec, (Loc){ 0 }), 0);
		CU_ASSERT_EQUAL_FATAL(check_select(&fe, spec, NULL, &r), 0);
		CU_ASSERT_EQUAL_FATAL(ir_build(&r.m, DTYPE_F32, &p), 0);
		for (int k = 0; k < n_targets; k++) {
			char how[32];
			if (!tfm_kernels_for(targets[k].name))
				continue;	/* the machine lacks it */
			if (jit_compile_train(&p, spec, targets[k].name, &j, &e) != 0) {
				printf("\n    %s: %s", names[i], e.msg);
				CU_FAIL("the JIT could not compile the training code");
				continue;
			}
			snprintf(how, sizeof how, "jit %s", targets[k].name);
			for (int threads = 1; threads <= 2; threads++)
				CU_ASSERT(check_case(j.train_api, names[i], threads, how) <= 1);
			jit_free(&j);
		}
		ir_free(&p);
		front_free(&fe);
		diag_free(&d);
	}
}

/* The same emitted with --train and built by the system compiler. */
static void test_aot(void)
{
	static char names[64][128];
	int n = test_train_index(names, 64);
	const Target *t = target_find("native");

	for (int i = 0; i < n; i++) {
		char sym[160], so[TEST_DIR_MAX + 160];
		snprintf(so, sizeof so, "%s/%.127s.so", dir, names[i]);
		if (test_sh("./tfmc " GOLDEN "/%s.tfm -o %s/%s.c --train --target %s 2>/dev/null && "
		            "cc -std=%s -O1 -fPIC -shared -Wall -Wextra -Werror %s -Iruntime %s/%s.c -o %s",
		            names[i], dir, names[i], t->name, t->std, t->cflags, dir, names[i], so) != 0) {
			CU_FAIL("tfmc --train output did not build");
			continue;
		}
		void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
		snprintf(sym, sizeof sym, "%.127s_train_api", names[i]);
		const tfm_train_api *api = h ? dlsym(h, sym) : NULL;
		CU_ASSERT_PTR_NOT_NULL(api);
		if (api)
			for (int threads = 1; threads <= 2; threads++)
				CU_ASSERT(check_case(api, names[i], threads, t->name) <= 1);
		if (h)
			dlclose(h);
	}
}

static int setup(void)
{
	return test_dir_open(dir, "grad");
}

static int teardown(void)
{
	test_sh("rm -rf %s", dir);
	dir[0] = 0;
	return 0;
}

int add_grad_suites(void)
{
	CU_pSuite s = CU_add_suite("compiler/grad", setup, teardown);

	if (!s || !CU_add_test(s, "gradients of every golden case through the JIT", test_jit) ||
	    !CU_add_test(s, "the same through tfmc --train and cc", test_aot))
		return -1;
	return 0;
}
