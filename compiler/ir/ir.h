/* ir.h: the model as a list of operations.
 *
 * ir_build turns a checked Model into a Program: the forward pass of
 * MODEL_REFERENCE.md section 2 as a flat list of operations over named
 * activation buffers and the model's tensors, each with its shapes.  Every
 * target prints this list; nothing after the IR looks at the model's keys
 * to decide what to compute. */
#ifndef IR_H
#define IR_H

#include <stdio.h>
#include "model.h"
#include "tensors.h"

/* OP(kind, name): the operations.  Every buffer holds one row per token of
 * the batch; "n" below is the number of tokens, positions pos..pos+n-1. */
#define OPS(X) \
X(EMBED,      "embed")      /* out[t] = tok_embeddings[token t] * scale */ \
X(POS_ADD,    "pos_add")    /* out[t] += pos_embeddings[pos+t]  or  S(pos+t) */ \
X(NORM,       "norm")       /* out[r] = norm(a[r]) * w (+ bias), r over n*heads rows of width cols */ \
X(MATMUL,     "matmul")     /* out[t] = w . a[t] (+ bias); w is [rows, cols] */ \
X(ROPE,       "rope")       /* rotate each of `heads` heads of out[t] by position pos+t */ \
X(KV_STORE,   "kv_store")   /* k_cache[layer][pos+t] = a[t]; v_cache[layer][pos+t] = b[t] */ \
X(ATTENTION,  "attention")  /* out[t] = causal attention of a[t] over the layer's cache */ \
X(GLU,        "glu")        /* out = act(a) * out, elementwise (act: silu or gelu) */ \
X(ACT,        "act")        /* out = act(out), elementwise (relu or gelu) */ \
X(ADD,        "add")        /* out += a */ \
X(SOFTCAP,    "softcap")    /* out = f * tanh(out / f) */

enum {
#define X(kind, name) OP_##kind,
	OPS(X)
#undef X
	OP__COUNT
};

/* BUFFER(id, name, width): the activation buffers, [max_seq, width]. */
#define BUFFERS(X) \
X(X_,     "x",      m->d_model)                 /* the residual stream */ \
X(XN,     "xn",     m->d_model)                 /* a normalised copy of x */ \
X(Q,      "q",      m->n_head * m->head_dim)    /* queries */ \
X(K,      "k",      m->n_kv_head * m->head_dim) /* keys of this batch */ \
X(V,      "v",      m->n_kv_head * m->head_dim) /* values of this batch */ \
X(ATT,    "att",    m->n_head * m->head_dim)    /* attention heads, concatenated */ \
X(AO,     "ao",     m->d_model)                 /* attention output */ \
X(FO,     "fo",     m->d_model)                 /* feed-forward output */ \
X(HG,     "hg",     m->d_ff)                    /* feed-forward gate */ \
X(HU,     "hu",     m->d_ff)                    /* feed-forward hidden */ \
X(LOGITS, "logits", m->vocab)                   /* output */

enum {
#define X(id, name, width) B_##id,
	BUFFERS(X)
#undef X
	BUF__COUNT
};

typedef struct Op {
	int kind;		/* OP_ */
	int layer;		/* -1 outside the layer stack */
	int out, a, b;		/* buffers (B_), -1 when unused */
	int w, bias;		/* tensor indices, -1 when unused */
	long long rows, cols;	/* MATMUL: w is [rows, cols]; NORM, ACT, GLU, ADD...: cols = width */
	int heads;		/* NORM: rows per token; ROPE: heads per token */
	int fn;			/* NORM: NORM_ choice; ACT, GLU: ACT_ choice; POS_ADD: POS_ choice */
	double f;		/* NORM: eps; SOFTCAP: cap; EMBED: scale; ROPE: theta */
	int head_only;		/* runs on the rows whose logits are wanted only */
	char label[80];		/* what it computes, for comments and traces */
} Op;

#define IR_MAX_FILES 8

typedef struct Program {
	Model m;
	Tensor *tensors;
	int n_tensors;
	Op *ops;
	int n_ops, cap_ops;
	long long width[BUF__COUNT];
	int weight_dtype;	/* DTYPE_ of matrices and embeddings; vectors are f32 */
	int int8_act;		/* the int8 mode: decode rounds x to 8 bits for quantized
				 * matrices (--activations int8; the runtime's matmul_qi8) */
	int kv_dtype;		/* DTYPE_F32 or DTYPE_F16: how the KV cache holds keys
				 * and values (--kv-dtype) */
	/* Where a program reads its weights and tokenizer when told nothing
	 * else (the spec's `weights` and `tokenizer`); owned, NULL if none. */
	char *weights[IR_MAX_FILES];	/* [n_weights], the first wins */
	int n_weights;
	char *tokenizer;
} Program;

extern const char *const op_name[OP__COUNT];
extern const char *const buffer_name[BUF__COUNT];

/* Builds the forward pass of m, its matrices and embeddings (the 2-D
 * tensors) held as weight_dtype (DTYPE_); returns 0, or -1 when out of
 * memory. */
int ir_build(const Model *m, int weight_dtype, Program *p);
/* Changes how p holds its matrices and embeddings. */
void ir_set_weight_dtype(Program *p, int weight_dtype);
/* The first 2-D tensor whose rows are not whole blocks of dtype (a
 * quantized type's 32 or 256), or NULL when all are. */
const Tensor *ir_dtype_misfit(const Program *p, int dtype);
/* Records where p's weights (n of them, at most IR_MAX_FILES) and tokenizer
 * (NULL: none) are; the strings are copied.  0, or -1 out of memory. */
int ir_set_files(Program *p, const char *const *weights, int n, const char *tokenizer);
void ir_free(Program *p);
/* Prints the operation list, one per line (tfmc show --ir, tests). */
void ir_print(const Program *p, FILE *f);

#endif
