/* emit.h: printing a Program as C for one target. */
#ifndef EMIT_H
#define EMIT_H

#include <stdio.h>
#include "ir.h"
#include "target.h"

typedef struct EmitInfo {
	const char *spec_path;	/* where the model came from, for the banner */
	const char *header_name;	/* the name model.c includes, "model.h" */
	const char *kernel_isa;	/* target "kernels": which set; NULL: the best at run time */
	int train;		/* also the training code (emit_train.c) */
} EmitInfo;

/* Writes the model's C source to c and its header to h (h NULL: the header
 * goes at the top of c, one self-contained text).  The output depends only
 * on the program, the target and info: the same input gives the same bytes. */
void emit_c(const Program *p, const Target *t, const EmitInfo *info, FILE *c, FILE *h);

#endif
