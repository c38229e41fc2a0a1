/* grad.h: training: the forward pass of a batch with what its backward
 * needs kept, and the backward pass derived from it.
 *
 * train_build reads a Program's forward operations (ir.c, the one place that
 * reads the variant keys) and gives each activation of a batch its own value
 * (SSA: an operation that worked in place in inference writes a new value),
 * then derives the backward: every operation's vector-Jacobian product, in
 * reverse order.  Nothing in it knows an architecture: a variant that runs
 * forward trains.
 *
 * Values are [rows, width] blocks, rows being the B * T tokens of a batch,
 * which is known only when a training instance opens; so every value and
 * every gradient has a place in one arena counted in columns (units of
 * rows floats), given by a first-fit allocator over the time each is live:
 * an activation from the operation that writes it to the last operation,
 * forward or backward, that reads it; a gradient from the first backward
 * operation that adds to it to the one that consumes it. */
#ifndef GRAD_H
#define GRAD_H

#include "ir.h"

/* The operations of training beyond the forward's: DROPOUT (a sub-layer's
 * output before it joins the residual stream) and LOSS (section 5's loss
 * and the gradient of the logits, at the end of the forward). */
enum { TOP_DROPOUT = OP__COUNT, TOP_LOSS, TOP__COUNT };

typedef struct Value {
	long long width;	/* floats per row */
	long long act;		/* column of the activation in the arena */
	long long grad;		/* column of its gradient, -1 when it has none */
	int def;		/* the training op that writes it */
	int grad_written;	/* its gradient is written, not added to, first (no zeroing) */
	int zero_at;		/* the backward step before which its gradient is zeroed, -1 */
	char name[16];		/* for comments: "x3", "q", "logits" */
} Value;

/* One operation of training: a forward operation over values. */
typedef struct TOp {
	int kind;		/* OP_ or TOP_ */
	const Op *op;		/* the inference operation (tensors, fn, f, label); NULL for TOP_ */
	int out;		/* the value written; for POS_ADD the one added to in place */
	int in[3];		/* the values read (-1 unused): see train_build */
	int site;		/* dropout: a number unique to the site, for its masks' seed */
	char label[80];
} TOp;

typedef struct TrainProgram {
	const Program *p;
	Value *values;
	int n_values;
	TOp *ops;		/* the forward, in order; the backward runs them in reverse */
	int n_ops;
	long long cols;		/* the arena's columns */
	int dropout;		/* the spec has dropout: DROPOUT ops, and dropout in attention */
} TrainProgram;

/* Builds the training program of p; 0, or -1 when out of memory. */
int train_build(const Program *p, TrainProgram *tp);
void train_free(TrainProgram *tp);
/* Prints the values and operations, one per line (tests, tfmc show --train). */
void train_print(const TrainProgram *tp, FILE *f);

#endif
