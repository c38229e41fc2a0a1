/* jit.c: the generated model compiled in memory by libtcc and run at once.
 *
 * tcc has no SIMD intrinsics and optimises little, so what it compiles is
 * shape-specialised glue: the forward pass of target "kernels", which calls
 * the runtime's precompiled kernels (tfm_kernels) for every heavy operation.
 * The runtime functions the glue calls are handed to tcc by address with
 * tcc_add_symbol; libc and libm come from the process. */
#include <stdlib.h>
#include <string.h>
#include "emit.h"
#include "jit.h"
#include "build.h"

#ifdef TFM_HAVE_LIBTCC
#include <libtcc.h>

#ifndef TFM_TCC_LIB_DIR
#define TFM_TCC_LIB_DIR "/usr/lib/x86_64-linux-gnu/tcc"
#endif

int jit_available(void)
{
	return 1;
}

/* The runtime, by name, as the generated code calls it. */
static const struct { const char *name; const void *addr; } runtime_symbols[] = {
#define S(f) { #f, (const void *)f }
	S(tfm_fail), S(tfm_alloc), S(tfm_free), S(tfm_pool_open), S(tfm_pool_close),
	S(tfm_pool_run), S(tfm_pool_threads), S(tfm_file_open), S(tfm_file_from_memory),
	S(tfm_file_bind), S(tfm_file_close), S(tfm_kernels_for), S(tfm_main),
	S(tfm_weights_open), S(tfm_weights_free), S(tfm_tokenizer_open), S(tfm_finetune_open),
	S(tfm_finetune_open_tensors), S(tfm_dequantize),
#undef S
};

static void on_error(void *opaque, const char *msg)
{
	tfm_error *e = opaque;
	size_t used = strlen(e->msg);
	snprintf(e->msg + used, sizeof e->msg - used, "%s%s", used ? "\n" : "", msg);
}

static int jit_build(const Program *p, const char *spec_path, const char *kernel_isa, int train, Jit *j,
                     tfm_error *e)
{
	char home[4096], inc[4200], sym[96], *src = NULL;
	size_t len = 0;
	EmitInfo info = { spec_path, NULL, kernel_isa, train };
	double t0 = tfm_now();
	TCCState *s;

	memset(j, 0, sizeof *j);
	e->msg[0] = 0;
	if (build_home(home, sizeof home, e))
		return -1;
	FILE *f = open_memstream(&src, &len);
	if (!f)
		return tfm_fail(e, "out of memory");
	emit_c(p, &target_kernels, &info, f, NULL);
	fclose(f);
	j->seconds_emit = tfm_now() - t0;

	t0 = tfm_now();
	if (!(s = tcc_new())) {
		free(src);
		return tfm_fail(e, "libtcc: cannot start a compiler");
	}
	tcc_set_error_func(s, e, on_error);
	tcc_set_lib_path(s, TFM_TCC_LIB_DIR);
	snprintf(inc, sizeof inc, "%s/runtime", home);
	tcc_add_include_path(s, inc);
	tcc_set_output_type(s, TCC_OUTPUT_MEMORY);
	for (size_t i = 0; i < sizeof runtime_symbols / sizeof runtime_symbols[0]; i++)
		tcc_add_symbol(s, runtime_symbols[i].name, runtime_symbols[i].addr);
	int rc = tcc_compile_string(s, src);
	free(src);
	if (rc == 0)
		rc = tcc_relocate(s, TCC_RELOCATE_AUTO);
	snprintf(sym, sizeof sym, "%s_api", p->m.name);
	if (rc == 0)
		j->api = tcc_get_symbol(s, sym);
	snprintf(sym, sizeof sym, "%s_train_api", p->m.name);
	if (rc == 0 && train)
		j->train_api = tcc_get_symbol(s, sym);
	if (rc != 0 || !j->api || (train && !j->train_api)) {
		char msg[sizeof e->msg];
		snprintf(msg, sizeof msg, "%s", e->msg);
		tcc_delete(s);
		return tfm_fail(e, "libtcc could not compile the generated code: %s", msg);
	}
	j->tcc = s;
	j->seconds_compile = tfm_now() - t0;
	return 0;
}

int jit_compile(const Program *p, const char *spec_path, const char *kernel_isa, Jit *j,
                tfm_error *e)
{
	return jit_build(p, spec_path, kernel_isa, 0, j, e);
}

int jit_compile_train(const Program *p, const char *spec_path, const char *kernel_isa, Jit *j,
                      tfm_error *e)
{
	return jit_build(p, spec_path, kernel_isa, 1, j, e);
}

void jit_free(Jit *j)
{
	if (j->tcc)
		tcc_delete(j->tcc);
	memset(j, 0, sizeof *j);
}

#else

int jit_available(void)
{
	return 0;
}

int jit_compile(const Program *p, const char *spec_path, const char *kernel_isa, Jit *j,
                tfm_error *e)
{
	(void)p, (void)spec_path, (void)kernel_isa;
	memset(j, 0, sizeof *j);
	return tfm_fail(e, "this tfmc was built without libtcc");
}

int jit_compile_train(const Program *p, const char *spec_path, const char *kernel_isa, Jit *j,
                      tfm_error *e)
{
	return jit_compile(p, spec_path, kernel_isa, j, e);
}

void jit_free(Jit *j)
{
	memset(j, 0, sizeof *j);
}

#endif
