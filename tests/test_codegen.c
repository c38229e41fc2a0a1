/* test_codegen.c: the generated C, run against the NumPy goldens.
 *
 * For every golden spec and every target, tfmc emits the model, the system
 * compiler builds it as a shared object, and the test loads it with dlopen
 * and drives it through its tfm_model_api: the logits of a whole prompt
 * must match the golden ones within 1e-4 * max(1, max |ref|), at 1 and 2
 * threads, and so must the logits of the same prompt fed one token at a
 * time.  Each is built twice: with f32 weights, and with the matrices and
 * embeddings held in bf16 (--weight-dtype bf16), checked against logits the
 * reference computed from the same weights rounded to bf16.  A target this
 * machine cannot run is still compiled. */
#include <dlfcn.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <CUnit/CUnit.h>
#include "build.h"
#include "check.h"
#include "jit.h"
#include "target.h"
#include "testutil.h"
#include "tfm.h"

#define GOLDEN "tests/golden"

static char dir[64];

static int read_tokens(const char *path, int *tok, int max)
{
	FILE *f = fopen(path, "r");
	int n = 0;
	if (!f)
		return 0;
	while (n < max && fscanf(f, "%d", &tok[n]) == 1) {
		n++;
		if (fgetc(f) != ',')
			break;
	}
	fclose(f);
	return n;
}

/* The weight types a model is built with: f32, and bf16 matrices. */
static const char *const dtypes[2] = { "f32", "bf16" };

/* Emits spec for target t, weights held as dtypes[bf16], and builds it as a
 * shared object; returns its handle. */
static void *build(const char *spec, const char *name, const Target *t, int bf16, const char *cc)
{
	char so[256];

	snprintf(so, sizeof so, "%s/%s_%s_%s_%s.so", dir, name, t->name, dtypes[bf16], cc);
	if (test_sh("./tfmc %s -o %s/%s_%s_%s.c --target %s --weight-dtype %s 2>/dev/null", spec, dir, name,
	       t->name, dtypes[bf16], t->name, dtypes[bf16]))
		return NULL;
	if (test_sh("%s -std=%s -O1 -fPIC -shared -Wall -Wextra -pedantic -Werror %s -Iruntime %s/%s_%s_%s.c -o %s",
	       cc, t->std, t->cflags, dir, name, t->name, dtypes[bf16], so))
		return NULL;
	return dlopen(so, RTLD_NOW | RTLD_LOCAL);
}

typedef struct Golden {
	char name[128];
	int tok[64], n;
	float *logits;		/* from the weights as stored */
	float *logits_bf16;	/* from them with the 2-D tensors rounded to bf16 */
	float *logits_kvf16;	/* from them with a KV cache of halves */
	long rows, cols;
} Golden;

static int golden_load(Golden *g, const char *name)
{
	char path[512];
	long rows, cols;

	snprintf(g->name, sizeof g->name, "%s", name);
	snprintf(path, sizeof path, GOLDEN "/%s.tokens", name);
	g->n = read_tokens(path, g->tok, 64);
	snprintf(path, sizeof path, GOLDEN "/%s.logits.npy", name);
	g->logits = test_npy_read(path, &g->rows, &g->cols);
	snprintf(path, sizeof path, GOLDEN "/%s.logits_bf16.npy", name);
	g->logits_bf16 = test_npy_read(path, &rows, &cols);
	if (!g->logits_bf16)	/* the quantized goldens have none */
		rows = g->rows, cols = g->cols;
	if (g->rows != rows || g->cols != cols)
		return -1;
	snprintf(path, sizeof path, GOLDEN "/%s.logits_kvf16.npy", name);
	g->logits_kvf16 = test_npy_read(path, &rows, &cols);
	if (!g->logits_kvf16)
		rows = g->rows, cols = g->cols;
	return g->logits && g->n == g->rows && rows == g->rows && cols == g->cols ? 0 : -1;
}

static void golden_free(Golden *g)
{
	free(g->logits);
	free(g->logits_bf16);
	free(g->logits_kvf16);
}

/* Checks one built model on the weights at path against the logits want
 * (of golden g's tokens): prefill and token by token; label says what the
 * model holds its weights as. */
static void check_logits(const tfm_model_api *api, const Golden *g, const char *path, const float *want,
                         const char *target, const char *held, int threads)
{
	char label[48];
	tfm_weights w;
	tfm_error e;
	void *inst;
	double tol = 1e-4 * fmax(1.0, test_max_abs(want, g->rows * g->cols));

	int loaded = tfm_weights_load(&w, api, path, &e);
	if (loaded != 0)
		printf("\n    %s", e.msg);
	CU_ASSERT_EQUAL_FATAL(loaded, 0);
	CU_ASSERT_EQUAL_FATAL(api->open(&inst, w.data, threads, &e), 0);
	CU_ASSERT_EQUAL(api->vocab, g->cols);

	const float *l = api->forward(inst, g->tok, g->n, 0, 1, &e);
	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	double d = test_max_diff(l, want, g->rows * g->cols);
	snprintf(label, sizeof label, "%s %s", target, held);
	printf("\n    %-56s %-16s %d thread%s  prefill max |diff| %.2e", g->name, label, threads,
	       threads > 1 ? "s" : " ", d);
	CU_ASSERT(d <= tol);

	/* The last row alone. */
	l = api->forward(inst, g->tok, g->n, 0, 0, &e);
	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT(test_max_diff(l, want + (g->n - 1) * g->cols, g->cols) <= tol);

	/* One token at a time. */
	api->reset(inst);
	double dd = 0;
	for (int t = 0; t < g->n; t++) {
		l = api->forward(inst, &g->tok[t], 1, t, 0, &e);
		CU_ASSERT_PTR_NOT_NULL_FATAL(l);
		dd = fmax(dd, test_max_diff(l, want + t * g->cols, g->cols));
	}
	printf(", decode %.2e", dd);
	CU_ASSERT(dd <= tol);

	/* Bad input: a clear error, no crash. */
	int bad[2] = { 0, (int)api->vocab };
	CU_ASSERT_PTR_NULL(api->forward(inst, bad, 2, 0, 0, &e));
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "is out of range"));
	bad[1] = -1;
	CU_ASSERT_PTR_NULL(api->forward(inst, bad, 2, 0, 0, &e));
	CU_ASSERT_PTR_NULL(api->forward(inst, bad, 1, api->max_seq, 0, &e));
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "max_seq"));
	CU_ASSERT_PTR_NULL(api->forward(inst, bad, 0, 0, 0, &e));
	api->close(inst);
	tfm_weights_free(&w);
}

/* Checks one built model against its golden (the bf16 one when the model
 * holds bf16 weights). */
static void check_golden(const tfm_model_api *api, const Golden *g, const char *target, int threads)
{
	char path[512];
	int bf16 = api->tensors[0].dtype == TFM_BF16;	/* tok_embeddings */

	snprintf(path, sizeof path, GOLDEN "/%s.safetensors", g->name);
	check_logits(api, g, path, bf16 ? g->logits_bf16 : g->logits, target, dtypes[bf16], threads);
}

static void test_goldens(void)
{
	FILE *f = fopen(GOLDEN "/INDEX", "r");
	char name[128];

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	while (fscanf(f, "%127s", name) == 1) {
		Golden g;
		char spec[256];
		CU_ASSERT_EQUAL_FATAL(golden_load(&g, name), 0);
		snprintf(spec, sizeof spec, GOLDEN "/%s.tfm", name);
		for (int i = 0; i < 2 * n_targets; i++) {
			const Target *t = &targets[i / 2];
			void *so = build(spec, name, t, i % 2, "gcc");
			CU_ASSERT_PTR_NOT_NULL(so);
			if (!so) {
				printf("\n    %s %s %s: build failed: %s", name, t->name, dtypes[i % 2], dlerror());
				continue;
			}
			char sym[160];
			snprintf(sym, sizeof sym, "%s_api", name);
			const tfm_model_api *api = dlsym(so, sym);
			CU_ASSERT_PTR_NOT_NULL(api);
			if (api && t->supported()) {
				check_golden(api, &g, t->name, 1);
				check_golden(api, &g, t->name, 2);
			} else if (api) {
				printf("\n    %-56s %-7s %-8s compiled; not run (this CPU lacks it)", name, t->name,
				       dtypes[i % 2]);
			}
			dlclose(so);
		}
		golden_free(&g);
	}
	fclose(f);
	printf("\n");
}

/* A golden spec's program, as the JIT tests compile it: its front end, and
 * its operations with f32 weights. */
typedef struct GoldenProgram {
	Diags d;
	Front fe;
	Program p;
} GoldenProgram;

static void golden_program(GoldenProgram *gp, const char *spec)
{
	Resolved r;

	diag_init(&gp->d);
	front_init(&gp->fe, &gp->d);
	CU_ASSERT_EQUAL_FATAL(front_load(&gp->fe, spec, (Loc){ 0 }), 0);
	CU_ASSERT_EQUAL_FATAL(check_select(&gp->fe, spec, NULL, &r), 0);
	CU_ASSERT_EQUAL_FATAL(ir_build(&r.m, DTYPE_F32, &gp->p), 0);
}

static void golden_program_free(GoldenProgram *gp)
{
	ir_free(&gp->p);
	front_free(&gp->fe);
	diag_free(&gp->d);
}

/* The JIT: the same goldens through libtcc and the runtime's kernels, for
 * every kernel set this CPU runs. */
static void test_jit_goldens(void)
{
	FILE *f = fopen(GOLDEN "/INDEX", "r");
	char name[128];

	if (!jit_available()) {
		printf("\n    this tfmc was built without libtcc: JIT not tested");
		return;
	}
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	while (fscanf(f, "%127s", name) == 1) {
		Golden g;
		GoldenProgram gp;
		Program *p = &gp.p;
		char spec[256];

		CU_ASSERT_EQUAL_FATAL(golden_load(&g, name), 0);
		snprintf(spec, sizeof spec, GOLDEN "/%s.tfm", name);
		golden_program(&gp, spec);
		for (int i = 0; i < 2 * n_targets; i++) {
			const Target *t = &targets[i / 2];
			Jit j;
			tfm_error e;
			char label[32];
			if (!tfm_kernels_for(t->name))
				continue;
			ir_set_weight_dtype(p, i % 2 ? DTYPE_BF16 : DTYPE_F32);
			CU_ASSERT_EQUAL(jit_compile(p, spec, t->name, &j, &e), 0);
			if (!j.api) {
				printf("\n    %s: %s", name, e.msg);
				continue;
			}
			snprintf(label, sizeof label, "jit/%s", t->name);
			check_golden(j.api, &g, label, 1);
			check_golden(j.api, &g, label, 2);
			jit_free(&j);
		}
		golden_program_free(&gp);
		golden_free(&g);
	}
	fclose(f);
	printf("\n");
}

/* --kv-dtype f16: every golden through the JIT with a cache of halves, on
 * every kernel set this CPU runs, against the reference's logits with its
 * keys and values rounded the same way (which differ from the f32 cache's:
 * the rounding shows); an AOT program the same; a bad value a usage error. */
static int npy_matches(const char *name, const char *g, const char *kind);

static void test_kv_dtype(void)
{
	FILE *f = fopen(GOLDEN "/INDEX", "r");
	char name[128], path[256];
	double apart = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	while (jit_available() && fscanf(f, "%127s", name) == 1) {
		Golden g;
		GoldenProgram gp;
		char spec[256];

		CU_ASSERT_EQUAL_FATAL(golden_load(&g, name), 0);
		CU_ASSERT_PTR_NOT_NULL_FATAL(g.logits_kvf16);
		apart = fmax(apart, test_max_diff(g.logits, g.logits_kvf16, g.rows * g.cols));
		snprintf(spec, sizeof spec, GOLDEN "/%s.tfm", name);
		golden_program(&gp, spec);
		gp.p.kv_dtype = DTYPE_F16;
		for (int i = 0; i < n_targets; i++) {
			Jit j;
			tfm_error e;
			char label[32];
			if (!tfm_kernels_for(targets[i].name))
				continue;
			CU_ASSERT_EQUAL(jit_compile(&gp.p, spec, targets[i].name, &j, &e), 0);
			if (!j.api) {
				printf("\n    %s: %s", name, e.msg);
				continue;
			}
			snprintf(label, sizeof label, "jit/%s", targets[i].name);
			snprintf(path, sizeof path, GOLDEN "/%s.safetensors", name);
			for (int threads = 1; threads <= 2; threads++)
				check_logits(j.api, &g, path, g.logits_kvf16, label, "f32, kv f16", threads);
			jit_free(&j);
		}
		golden_program_free(&gp);
		golden_free(&g);
	}
	fclose(f);
	printf("\n    the f16 cache's logits against the f32 one's, the largest difference: %.2e", apart);
	CU_ASSERT(apart > 1e-3);

	const char *gn = "pre_serial_rms_swiglu_rope_half_zloss_softcap_nodecay";
	CU_ASSERT_EQUAL(test_sh("./tfmc build " GOLDEN "/%s.tfm -o %s/kv16 --kv-dtype f16 2>/dev/null", gn, dir), 0);
	CU_ASSERT_EQUAL(test_sh("%s/kv16 --weights " GOLDEN "/%s.safetensors --tokens $(cat " GOLDEN "/%s.tokens) "
	                        "--logits %s/kv16.npy -n 0 2>/dev/null", dir, gn, gn, dir), 0);
	CU_ASSERT(npy_matches("kv16.npy", gn, "logits_kvf16"));
	CU_ASSERT_EQUAL(test_sh("./tfmc %s/%s.tfm -o %s/kv16.c --kv-dtype=f16 2>/dev/null && grep -q 'KV_DTYPE TFM_F16' "
	                        "%s/kv16.c", GOLDEN, gn, dir, dir), 0);
	CU_ASSERT_EQUAL(test_sh("./tfmc build specs/llama_small.tfm -o %s/x --kv-dtype bf16 2>%s/err.txt", dir, dir), 2);
	snprintf(path, sizeof path, "%s/err.txt", dir);
	CU_ASSERT_PTR_NOT_NULL(strstr(test_slurp(path), "--kv-dtype: expected f32 or f16, got 'bf16'"));
	printf("\n");
}

/* The quantized goldens (QUANT_INDEX, make_quant_golden.py): GGUF files whose
 * matrices mix Q8_0, Q4_0, Q4_K and Q6_K, used in place, against logits the
 * reference computed from its own dequantization.  Through the JIT on every
 * kernel set this CPU runs, at 1 and 2 threads; as an f32 program (the
 * blocks dequantized at load); and emitted for every target, the types
 * taken from the spec's weights, built by gcc with -Werror. */
static void test_quant_goldens(void)
{
	FILE *f = fopen(GOLDEN "/QUANT_INDEX", "r");
	char name[128], golden_dir[4096];

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_PTR_NOT_NULL_FATAL(realpath(GOLDEN, golden_dir));
	while (fscanf(f, "%127s", name) == 1) {
		Golden g;
		char spec[256], gguf[4400], wspec[512];
		GoldenProgram gp;
		Program *p = &gp.p;
		tfm_error e;
		int *stored, quant = 0;

		CU_ASSERT_EQUAL_FATAL(golden_load(&g, name), 0);
		snprintf(spec, sizeof spec, GOLDEN "/%s.tfm", name);
		snprintf(gguf, sizeof gguf, "%s/%s.gguf", golden_dir, name);
		golden_program(&gp, spec);
		tfm_tensor_decl *decl = build_decls(p);
		stored = malloc(sizeof *stored * (size_t)p->n_tensors);
		CU_ASSERT_FATAL(decl && stored);
		const char *path = gguf;
		CU_ASSERT_EQUAL_FATAL(tfm_weights_stored_dtypes(&path, 1, decl, p->n_tensors, stored, &e), 0);
		free(decl);
		for (int dtype_pass = 0; dtype_pass < 2; dtype_pass++) {
			/* pass 0: the matrices as stored; pass 1: an f32 program */
			for (int i = 0; i < p->n_tensors; i++) {
				p->tensors[i].dtype = dtype_pass == 0 && p->tensors[i].ndim == 2 ? stored[i] : DTYPE_F32;
				quant += dtype_pass == 0 && dtype_is_quant(p->tensors[i].dtype);
			}
			for (int k = 0; k < n_targets; k++) {
				Jit j;
				char label[32];
				if (!tfm_kernels_for(targets[k].name) || (dtype_pass == 1 && k + 1 < n_targets))
					continue;
				CU_ASSERT_EQUAL(jit_compile(p, spec, targets[k].name, &j, &e), 0);
				if (!j.api) {
					printf("\n    %s: %s", name, e.msg);
					continue;
				}
				snprintf(label, sizeof label, "jit/%s", targets[k].name);
				for (int threads = 1; threads <= 2; threads++)
					check_logits(j.api, &g, gguf, g.logits, label, dtype_pass ? "f32" : "mixed q", threads);
				jit_free(&j);
			}
		}
		CU_ASSERT(quant >= 4);	/* the file's blocks are what was checked */
		/* Emitted: the spec naming its weights, so that each matrix is held
		 * as the file stores it. */
		snprintf(wspec, sizeof wspec, "%s/%s_w.tfm", dir, name);
		CU_ASSERT_EQUAL(test_sh("sed 's|^model %s {$|model %s {\\n    weights \"%s\"|' %s > %s", name, name, gguf,
		                        spec, wspec), 0);
		for (int k = 0; k < n_targets; k++) {
			const Target *t = &targets[k];
			char so[512], sym[160];
			snprintf(so, sizeof so, "%s/%s_%s_q.so", dir, name, t->name);
			CU_ASSERT_EQUAL(test_sh("./tfmc %s -o %s/%s_%s_q.c --target %s 2>/dev/null", wspec, dir, name,
			                        t->name, t->name), 0);
			CU_ASSERT_EQUAL(test_sh("grep -q matmul_q %s/%s_%s_q.c", dir, name, t->name), 0);
			CU_ASSERT_EQUAL(test_sh("gcc -std=%s -O1 -fPIC -shared -Wall -Wextra -pedantic -Werror %s -Iruntime "
			                        "%s/%s_%s_q.c -o %s", t->std, t->cflags, dir, name, t->name, so), 0);
			void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
			CU_ASSERT_PTR_NOT_NULL(h);
			if (!h)
				continue;
			snprintf(sym, sizeof sym, "%s_api", name);
			const tfm_model_api *api = dlsym(h, sym);
			CU_ASSERT_PTR_NOT_NULL(api);
			if (api && t->supported())
				check_logits(api, &g, gguf, g.logits, t->name, "mixed q", 2);
			dlclose(h);
		}
		free(stored);
		golden_program_free(&gp);
		golden_free(&g);
	}
	fclose(f);
	printf("\n");
}

/* The output is warning-free with gcc and clang (-Wall -Wextra -pedantic
 * -Werror), and the scalar target compiles with tcc as C99. */
static void test_compilers(void)
{
	static const char *specs[] = { "specs/llama_small.tfm", "specs/gpt2_small.tfm",
	                               "specs/gemma2_2b.tfm", "specs/transformer_base.tfm" };
	for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++)
		for (int j = 0; j < n_targets; j++) {
			const Target *t = &targets[j];
			CU_ASSERT_EQUAL(test_sh("./tfmc %s -o %s/c.c --target %s", specs[i], dir, t->name), 0);
			CU_ASSERT_EQUAL(test_sh("gcc -std=%s -O2 -Wall -Wextra -pedantic -Werror %s -Iruntime -c %s/c.c -o %s/c.o",
			                   t->std, t->cflags, dir, dir), 0);
			CU_ASSERT_EQUAL(test_sh("clang -std=%s -O2 -Wall -Wextra -pedantic -Werror %s -Iruntime -c %s/c.c -o %s/c.o",
			                   t->std, t->cflags, dir, dir), 0);
			if (t->lanes == 1)
				CU_ASSERT_EQUAL(test_sh("tcc -std=c99 -Wall -Werror -Iruntime -c %s/c.c -o %s/c.o", dir, dir), 0);
		}
}

/* The same input gives the same bytes, and generated/ holds the current
 * output for llama_small with its training code (a snapshot: review every
 * change to it). */
static void test_snapshot(void)
{
	CU_ASSERT_EQUAL(test_sh("./tfmc specs/llama_small.tfm -o %s/llama_small.c --target avx2 --train", dir), 0);
	CU_ASSERT_EQUAL(test_sh("./tfmc specs/llama_small.tfm -o %s/again.c --target avx2 --train", dir), 0);
	CU_ASSERT_EQUAL(test_sh("sed 's/again\\.h/llama_small.h/' %s/again.c | cmp -s - %s/llama_small.c", dir, dir), 0);
	int c = test_sh("cmp -s generated/llama_small.c %s/llama_small.c", dir);
	int h = test_sh("cmp -s generated/llama_small.h %s/llama_small.h", dir);
	if (c || h)
		printf("\n    generated/llama_small.[ch] differ from what tfmc emits now: review the change, then\n"
		       "    ./tfmc specs/llama_small.tfm -o generated/llama_small.c --target avx2 --train\n");
	CU_ASSERT_EQUAL(c, 0);
	CU_ASSERT_EQUAL(h, 0);
}

/* How far the .npy file `name` in the test directory is from golden g's
 * logits (kind "logits" or "logits_bf16"), in units of the golden tests'
 * tolerance; infinite when either is unreadable or the shapes differ. */
static double npy_distance(const char *name, const char *g, const char *kind)
{
	char path[256];
	long rows, cols, grows, gcols;
	double d = INFINITY;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	float *got = test_npy_read(path, &rows, &cols);
	snprintf(path, sizeof path, GOLDEN "/%s.%s.npy", g, kind);
	float *want = test_npy_read(path, &grows, &gcols);
	if (got && want && rows == grows && cols == gcols)
		d = test_max_diff(got, want, rows * cols) / (1e-4 * fmax(1, test_max_abs(want, rows * cols)));
	free(got);
	free(want);
	return d;
}

static int npy_matches(const char *name, const char *g, const char *kind)
{
	double d = npy_distance(name, g, kind);

	if (!(d <= 1))
		printf("\n    %s does not match the golden %s of %s (%.3g x the tolerance)", name, kind, g, d);
	return d <= 1;
}

static int npy_matches_golden(const char *name, const char *g)
{
	return npy_matches(name, g, "logits");
}

/* --weight-dtype: bf16 programs from any weights file, and tfmc run keeping
 * a bf16 file's matrices in bf16 unless told otherwise. */
static void test_weight_dtype(void)
{
	const char *g = "pre_serial_ln_gelu_learned_tied_bias";	/* f32 weights */
	const char *gb = "pre_serial_ln_geglu_erf_rope_interleaved_bf16";	/* bf16 weights */
	char path[256];

	setenv("XDG_CACHE_HOME", dir, 1);
	/* A bf16 program rounds f32 weights as it loads them. */
	CU_ASSERT_EQUAL(test_sh("./tfmc build " GOLDEN "/%s.tfm -o %s/prog16 --weight-dtype bf16 2>/dev/null", g, dir), 0);
	CU_ASSERT_EQUAL(test_sh("%s/prog16 --weights " GOLDEN "/%s.safetensors --tokens $(cat " GOLDEN "/%s.tokens) "
	                   "--logits %s/b16.npy -n 0 2>/dev/null", dir, g, g, dir), 0);
	CU_ASSERT(npy_matches("b16.npy", g, "logits_bf16"));
	CU_ASSERT(npy_distance("b16.npy", g, "logits") > 1);	/* the rounding shows */

	/* run: a bf16 file keeps bf16 matrices, and says so. */
	CU_ASSERT_EQUAL(test_sh("./tfmc run " GOLDEN "/%s.tfm --weights " GOLDEN "/%s.safetensors --tokens $(cat "
	                   GOLDEN "/%s.tokens) --logits %s/auto.npy -n 0 --timings 2>%s/err.txt", gb, gb, gb, dir, dir), 0);
	snprintf(path, sizeof path, "%s/err.txt", dir);
	CU_ASSERT_PTR_NOT_NULL(strstr(test_slurp(path), "matrices bf16"));
	CU_ASSERT(npy_matches("auto.npy", gb, "logits"));
	CU_ASSERT_EQUAL(test_sh("./tfmc run " GOLDEN "/%s.tfm --weights " GOLDEN "/%s.safetensors -n 0 --timings "
	                   "--weight-dtype f32 2>%s/err.txt", gb, gb, dir), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(test_slurp(path), "matrices f32"));
	CU_ASSERT_EQUAL(test_sh("./tfmc run " GOLDEN "/%s.tfm --weights " GOLDEN "/%s.safetensors -n 0 --timings "
	                   "2>%s/err.txt", g, g, dir), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(test_slurp(path), "matrices f32"));

	/* init writes bf16 matrices (half the bytes) that run reads back as they are. */
	CU_ASSERT_EQUAL(test_sh("./tfmc init specs/llama_small.tfm -o %s/w16.safetensors --seed 1 --weight-dtype bf16 2>/dev/null",
	                   dir), 0);
	CU_ASSERT_EQUAL(test_sh("./tfmc init specs/llama_small.tfm -o %s/w32.safetensors --seed 1 2>/dev/null", dir), 0);
	CU_ASSERT_EQUAL(test_sh("test $(stat -c %%s %s/w16.safetensors) -lt $(( $(stat -c %%s %s/w32.safetensors) / 2 + 100000 ))",
	                   dir, dir), 0);
	CU_ASSERT_EQUAL(test_sh("./tfmc run specs/llama_small.tfm --weights %s/w16.safetensors -n 4 --seed 1 --timings "
	                   ">%s/a.txt 2>%s/err.txt", dir, dir, dir), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(test_slurp(path), "matrices bf16"));
	/* ...the same tokens as the f32 weights held in bf16, and as random bf16 weights */
	CU_ASSERT_EQUAL(test_sh("./tfmc run specs/llama_small.tfm --weights %s/w32.safetensors -n 4 --seed 1 "
	                   "--weight-dtype bf16 >%s/b.txt 2>/dev/null", dir, dir), 0);
	CU_ASSERT_EQUAL(test_sh("cmp -s %s/a.txt %s/b.txt", dir, dir), 0);
	CU_ASSERT_EQUAL(test_sh("./tfmc run specs/llama_small.tfm -n 4 --seed 1 --weight-dtype bf16 >%s/b.txt 2>/dev/null",
	                   dir), 0);
	CU_ASSERT_EQUAL(test_sh("cmp -s %s/a.txt %s/b.txt", dir, dir), 0);

	/* Bad values are usage errors. */
	CU_ASSERT_EQUAL(test_sh("./tfmc build specs/llama_small.tfm -o %s/x --weight-dtype f16 2>%s/err.txt", dir, dir), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(test_slurp(path), "--weight-dtype: expected f32, bf16, q8_0, q4_0, q4_K or q6_K, got 'f16'"));
	CU_ASSERT_EQUAL(test_sh("./tfmc build specs/llama_small.tfm -o %s/x --weight-dtype 2>%s/err.txt", dir, dir), 2);
}

/* tfmc init, build and run, as a user types them. */
static void test_commands(void)
{
	const char *g = "pre_serial_ln_gelu_learned_tied_bias";
	char *env = "XDG_CACHE_HOME";
	setenv(env, dir, 1);
	/* build: the AOT program reproduces the golden logits */
	CU_ASSERT_EQUAL(test_sh("./tfmc build " GOLDEN "/%s.tfm -o %s/prog 2>/dev/null", g, dir), 0);
	CU_ASSERT_EQUAL(test_sh("%s/prog --weights " GOLDEN "/%s.safetensors --tokens $(cat " GOLDEN "/%s.tokens) "
	                   "--logits %s/out.npy -n 0 2>/dev/null", dir, g, g, dir), 0);
	CU_ASSERT(npy_matches_golden("out.npy", g));
	char path[256];

	/* init + run: tokens on stdout, speeds on stderr */
	CU_ASSERT_EQUAL(test_sh("./tfmc init specs/llama_small.tfm -o %s/w.safetensors --seed 7 2>/dev/null", dir), 0);
	CU_ASSERT_EQUAL(test_sh("./tfmc run specs/llama_small.tfm --weights %s/w.safetensors --tokens 1,2,3 -n 5 "
	                   ">%s/out.txt 2>%s/err.txt", dir, dir, dir), 0);
	snprintf(path, sizeof path, "%s/out.txt", dir);
	int ids[8], k = 0;
	const char *s = test_slurp(path);
	for (int used; k < 8 && sscanf(s, "%d%n", &ids[k], &used) == 1; s += used)
		k++;
	CU_ASSERT_EQUAL(k, 5);
	snprintf(path, sizeof path, "%s/err.txt", dir);
	CU_ASSERT_PTR_NOT_NULL(strstr(test_slurp(path), "decode: 4 tokens"));
	/* Random weights when none are given, and the same ids from the same seed. */
	CU_ASSERT_EQUAL(test_sh("./tfmc run specs/llama_small.tfm -n 3 --seed 7 >%s/a.txt 2>/dev/null", dir), 0);
	CU_ASSERT_EQUAL(test_sh("./tfmc run specs/llama_small.tfm --weights %s/w.safetensors -n 3 >%s/b.txt 2>/dev/null",
	                   dir, dir), 0);
	CU_ASSERT_EQUAL(test_sh("cmp -s %s/a.txt %s/b.txt", dir, dir), 0);

	/* Without the JIT: the system compiler and the cache, said once. */
	CU_ASSERT_EQUAL(test_sh("TFMC_NO_JIT=1 ./tfmc run " GOLDEN "/%s.tfm --weights " GOLDEN "/%s.safetensors "
	                   "--tokens $(cat " GOLDEN "/%s.tokens) --logits %s/fb.npy -n 0 2>%s/err.txt", g, g, g, dir, dir), 0);
	snprintf(path, sizeof path, "%s/err.txt", dir);
	CU_ASSERT_PTR_NOT_NULL(strstr(test_slurp(path), "compiling with the system C compiler into a cache"));
	CU_ASSERT(npy_matches_golden("fb.npy", g));
	/* The JIT path gives the same logits. */
	CU_ASSERT_EQUAL(test_sh("./tfmc run " GOLDEN "/%s.tfm --weights " GOLDEN "/%s.safetensors "
	                   "--tokens $(cat " GOLDEN "/%s.tokens) --logits %s/jit.npy -n 0 --timings 2>%s/err.txt",
	                   g, g, g, dir, dir), 0);
	snprintf(path, sizeof path, "%s/err.txt", dir);
	if (jit_available())
		CU_ASSERT_PTR_NOT_NULL(strstr(test_slurp(path), "JIT compile"));
	CU_ASSERT(npy_matches_golden("jit.npy", g));

	/* Bad input: clear errors and the right exit status. */
	CU_ASSERT_EQUAL(test_sh("./tfmc run specs/llama_small.tfm --tokens 1,32000 -n 1 2>%s/err.txt", dir), 2);
	snprintf(path, sizeof path, "%s/err.txt", dir);
	CU_ASSERT_PTR_NOT_NULL(strstr(test_slurp(path), "token id 32000 at position 1 is out of range [0, 32000)"));
	CU_ASSERT_EQUAL(test_sh("head -c 1000 %s/w.safetensors > %s/cut.safetensors", dir, dir), 0);
	CU_ASSERT_EQUAL(test_sh("./tfmc run specs/llama_small.tfm --weights %s/cut.safetensors 2>%s/err.txt", dir, dir), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(test_slurp(path), "cut.safetensors"));
	CU_ASSERT_EQUAL(test_sh("./tfmc run specs/gpt2_small.tfm --weights %s/w.safetensors -n 1 2>%s/err.txt", dir, dir), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(test_slurp(path), "tensor"));
	CU_ASSERT_EQUAL(test_sh("./tfmc build specs/llama_small.tfm 2>/dev/null"), 2);
	CU_ASSERT_EQUAL(test_sh("./tfmc init specs/llama_small.tfm 2>/dev/null"), 2);
	CU_ASSERT_EQUAL(test_sh("./tfmc init specs/llama_small.tfm -o %s/x.safetensors --seed 7x 2>%s/err.txt", dir, dir), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(test_slurp(path), "--seed: expected a non-negative integer, got '7x'"));
	CU_ASSERT_EQUAL(test_sh("./tfmc init specs/llama_small.tfm -o /no/such/dir/x.safetensors 2>%s/err.txt", dir), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(test_slurp(path), "/no/such/dir/x.safetensors"));
	CU_ASSERT_EQUAL(test_sh("./tfmc specs/llama_small.tfm -o %s/x.txt 2>/dev/null", dir), 2);
	CU_ASSERT_EQUAL(test_sh("./tfmc specs/llama_small.tfm -o %s/x.c --target neon 2>/dev/null", dir), 2);
	CU_ASSERT_EQUAL(test_sh("./tfmc specs/llama_small.tfm -o /no/such/dir/x.c 2>/dev/null"), 2);
	unsetenv(env);
}

/* tfmc run --watch: runs, then runs again when the spec changes, and shows
 * the new diagnostics.  The test waits for output, never for a time. */
static int wait_for(const char *path, const char *text)
{
	for (int i = 0; i < 600; i++) {	/* up to a minute, in case the machine is busy */
		if (strstr(test_slurp(path), text))
			return 1;
		struct timespec nap = { 0, 100 * 1000 * 1000 };
		nanosleep(&nap, NULL);
	}
	return 0;
}

static void test_watch(void)
{
	char spec[256], err[256], cmd[1024];
	FILE *f;

	snprintf(spec, sizeof spec, "%s/w.tfm", dir);
	snprintf(err, sizeof err, "%s/watch.err", dir);
	f = fopen(spec, "w");
	fputs("model w { vocab = 32000 d_model = 64 n_layer = 2 n_head = 4 max_seq = 16 d_ff = 192\n"
	      "  allow aspect-ratio }\n", f);
	fclose(f);
	snprintf(cmd, sizeof cmd, "./tfmc run --watch %s -n 2 --threads 1 >%s/watch.out 2>%s & echo $! >%s/watch.pid",
	         spec, dir, err, dir);
	CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
	CU_ASSERT(wait_for(err, "watching"));
	/* An edit with an error: the diagnostic appears. */
	f = fopen(spec, "w");
	fputs("model w { vocab = 32000 d_model = 64 n_layer = 2 n_head = 5 max_seq = 16 d_ff = 192\n"
	      "  allow aspect-ratio }\n", f);
	fclose(f);
	CU_ASSERT(wait_for(err, "d_model (64) is not divisible by n_head (5)"));
	/* Fixed again: it runs again. */
	f = fopen(spec, "w");
	fputs("model w { vocab = 32000 d_model = 64 n_layer = 2 n_head = 8 max_seq = 16 d_ff = 192\n"
	      "  allow aspect-ratio }\n", f);
	fclose(f);
	CU_ASSERT(wait_for(err, "running again"));
	char out[256];
	snprintf(out, sizeof out, "%s/watch.out", dir);
	int runs = 0;
	for (int i = 0; i < 600 && runs < 2; i++) {
		const char *s = test_slurp(out);
		runs = 0;
		for (const char *p = s; (p = strchr(p, '\n')); p++)
			runs++;
		struct timespec nap = { 0, 100 * 1000 * 1000 };
		nanosleep(&nap, NULL);
	}
	CU_ASSERT_EQUAL(runs, 2);	/* two runs printed their ids */
	test_sh("kill $(cat %s/watch.pid)", dir);
}

/* examples/embed: a user's own Makefile around the generated code. */
static void test_example(void)
{
	/* Not the sanitizer flags of a check-asan run: a plain user build. */
	CU_ASSERT_EQUAL(test_sh("env -u MAKEFLAGS -u MFLAGS -u CFLAGS -u LDFLAGS sh -c 'make -s -C examples/embed clean && "
	                   "make -s -C examples/embed' >/dev/null 2>&1"), 0);
	/* Its text is the greedy continuation that examples/fortune/train.py's
	 * own torch model wrote into expected.txt (line 4, escaped). */
	if (target_find("avx2")->supported()) {
		char want[1024], path[128];
		FILE *f = fopen("examples/fortune/expected.txt", "r");
		int line = 0;
		want[0] = 0;
		while (f && line < 4 && fgets(want, sizeof want, f))
			line++;
		if (f)
			fclose(f);
		want[strcspn(want, "\n")] = 0;
		for (char *p = want; (p = strchr(p, '\\')) != NULL; p++) {
			*p = p[1] == 'n' ? '\n' : p[1] == 't' ? '\t' : p[1];
			memmove(p + 1, p + 2, strlen(p + 2) + 1);
		}
		strcat(want, "\n");
		snprintf(path, sizeof path, "%s/chat.txt", dir);
		CU_ASSERT_EQUAL(test_sh("examples/embed/chat >%s", path), 0);
		ASSERT_MSG(test_slurp(path), want);
	}
	CU_ASSERT_EQUAL(test_sh("make -s -C examples/embed clean >/dev/null"), 0);
}

static int setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/tfmc-codegen-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void)
{
	return test_sh("rm -rf %s", dir);
}

int add_codegen_suites(void)
{
	CU_pSuite s = CU_add_suite("codegen", setup, teardown);
	if (!s ||
	    !CU_add_test(s, "goldens, every target, prefill and decode", test_goldens) ||
	    !CU_add_test(s, "goldens through the JIT and every kernel set", test_jit_goldens) ||
	    !CU_add_test(s, "quantized goldens: GGUF in place, JIT and every target", test_quant_goldens) ||
	    !CU_add_test(s, "--kv-dtype f16: a cache of halves, JIT and AOT", test_kv_dtype) ||
	    !CU_add_test(s, "--weight-dtype bf16: build, run, init", test_weight_dtype) ||
	    !CU_add_test(s, "gcc, clang and tcc compile the output cleanly", test_compilers) ||
	    !CU_add_test(s, "snapshot of generated/llama_small", test_snapshot) ||
	    !CU_add_test(s, "tfmc init, build and run", test_commands) ||
	    !CU_add_test(s, "tfmc run --watch", test_watch) ||
	    !CU_add_test(s, "examples/embed builds with its own Makefile", test_example))
		return -1;
	return 0;
}
