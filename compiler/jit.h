/* jit.h: compiling a generated model in process, with libtcc. */
#ifndef JIT_H
#define JIT_H

#include "ir.h"
#include "tfm.h"

typedef struct Jit {
	void *tcc;			/* TCCState, alive as long as the code is */
	const tfm_model_api *api;	/* the compiled model */
	const tfm_train_api *train_api;	/* its training code, with jit_compile_train */
	double seconds_emit, seconds_compile;
} Jit;

/* 1 when this tfmc was built with libtcc. */
int jit_available(void);

/* Emits p in the "kernels" style (calls into the runtime's precompiled
 * kernels for kernel_isa, NULL: the best at run time) and compiles it in
 * memory.  0, or -1 with the compiler's message in e. */
int jit_compile(const Program *p, const char *spec_path, const char *kernel_isa, Jit *j,
                tfm_error *e);
/* The same with the model's training code too (tfmc train, grad, eval). */
int jit_compile_train(const Program *p, const char *spec_path, const char *kernel_isa, Jit *j,
                      tfm_error *e);
void jit_free(Jit *j);

#endif
