/* emit_internal.h: what the emitter's files share: the state of one
 * emission and the helpers that print C. */
#ifndef EMIT_INTERNAL_H
#define EMIT_INTERNAL_H

#include <stdio.h>
#include "emit.h"
#include "grad.h"

typedef struct Emitter {
	FILE *f;
	const Program *p;
	const Model *m;
	const Target *t;
	const EmitInfo *info;
} Emitter;

/* Prints to the emitter's file. */
void emit_out(Emitter *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The shortest float literal that reads back as (float)v, "0.5f"; in one
 * of four rotating buffers. */
const char *emit_flt(double v);
/* s as a C string literal. */
void emit_c_string(Emitter *e, const char *s);

/* The training code of emit_train.c: the declarations for the header, and
 * the forward and backward of a batch with the model's tfm_train_api. */
void emit_train_header(Emitter *e);
void emit_train(Emitter *e, const TrainProgram *tp);

#endif
