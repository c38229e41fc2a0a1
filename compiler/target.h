/* target.h: an instruction set is data plus a few spellings, in the spirit
 * of QBE's Target.  The emitter writes every kernel through these strings;
 * adding NEON means one more entry in targets.c. */
#ifndef TARGET_H
#define TARGET_H

typedef struct Target {
	const char *name;	/* --target NAME */
	int lanes;		/* floats per vector; 1 for scalar C */
	const char *std;	/* the C standard the output needs */
	const char *cflags;	/* what the compiler needs to accept it */
	const char *header;	/* #include line(s), or "" */
	const char *vec;	/* vector type */
	const char *zero;	/* an all-zero vector */
	const char *load;	/* load(ptr): unaligned load of `lanes` floats */
	const char *load_tail;	/* load_tail(ptr, n): the first n floats, the rest 0; %d is n */
	const char *splat;	/* splat(x): x in every lane */
	const char *fma;	/* fma(a, b, c) = a * b + c */
	const char *store;	/* store(ptr, v) */
	const char *store_tail;	/* store_tail(ptr, v, n): the first n lanes */
	const char *helpers;	/* static inline helpers the spellings use */
	int (*supported)(void);	/* can this machine run it? */
} Target;

extern const Target targets[];
extern const int n_targets;

const Target *target_find(const char *name);	/* NULL if unknown; "native" picks */
const Target *target_native(void);		/* the best this machine runs */

#endif
