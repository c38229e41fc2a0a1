/* target.h: an instruction set is data plus a few spellings, in the spirit
 * of QBE's Target.  The emitter writes every kernel through these strings;
 * adding NEON means one more entry in targets.c. */
#ifndef TARGET_H
#define TARGET_H

typedef struct Target {
	const char *name;	/* --target NAME */
	int lanes;		/* floats per vector; 1 for scalar C */
	int tile_rows, tile_tokens;	/* register tile of a matrix product */
	const char *std;	/* the C standard the output needs */
	const char *cflags;	/* what the compiler needs to accept it */
	const char *header;	/* #include line(s), or "" */
	const char *vec;	/* vector type */
	const char *zero;	/* an all-zero vector */
	const char *load;	/* load(ptr): unaligned load of `lanes` floats */
	const char *load_tail;	/* load_tail(ptr, n): the first n floats, the rest 0; %d is n */
	const char *load_bf16;	/* load_bf16(ptr): `lanes` bfloat16 widened to floats */
	const char *load_bf16_tail;	/* load_bf16_tail(ptr, n): the first n, the rest 0 */
	const char *splat;	/* splat(x): x in every lane */
	const char *fma;	/* fma(a, b, c) = a * b + c */
	const char *store;	/* store(ptr, v) */
	const char *store_tail;	/* store_tail(ptr, v, n): the first n lanes */
	const char *helpers;	/* static inline helpers the spellings use */
	int (*supported)(void);	/* can this machine run it? */
	/* 1: no kernels of its own; the code calls the runtime's precompiled
	 * ones (tfm_kernels), chosen when the model is opened.  What the JIT
	 * compiles, since tcc has no intrinsics. */
	int kernels;
} Target;

extern const Target targets[];
extern const int n_targets;

const Target *target_find(const char *name);	/* NULL if unknown; "native" picks */
extern const Target target_kernels;		/* calls into the runtime's kernels */
const Target *target_native(void);		/* the best this machine runs */

#endif
