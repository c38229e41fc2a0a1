/* tensors.h: the tensors of a model (MODEL_REFERENCE.md section 3) and
 * what the model costs: parameters, FLOPs, cache and weight bytes. */
#ifndef TENSORS_H
#define TENSORS_H

#include "model.h"

/* TENSOR(role, name, rows, cols, present when): cols 0 means a vector.
 * GLOBAL_TENSORS come once; LAYER_TENSORS once per layer, named
 * "layers.{i}.<name>".  The order is the order of section 3. */
#define LN (m->norm == NORM_LAYERNORM)
#define QD (m->n_head * m->head_dim)
#define KVD (m->n_kv_head * m->head_dim)
#define GLOBAL_TENSORS(X) \
X(TOK_EMB,     "tok_embeddings.weight", m->vocab,   m->d_model, 1) \
X(POS_EMB,     "pos_embeddings.weight", m->max_seq, m->d_model, m->position == POS_LEARNED)
#define LAYER_TENSORS(X) \
X(ATTN_NORM,   "attention_norm.weight",      m->d_model, 0, 1) \
X(ATTN_NORM_B, "attention_norm.bias",        m->d_model, 0, LN) \
X(ATTN_POST,   "attention_post_norm.weight", m->d_model, 0, m->norm_place == PLACE_DOUBLE) \
X(ATTN_POST_B, "attention_post_norm.bias",   m->d_model, 0, m->norm_place == PLACE_DOUBLE && LN) \
X(FFN_NORM,    "ffn_norm.weight",            m->d_model, 0, m->block == BLOCK_SERIAL) \
X(FFN_NORM_B,  "ffn_norm.bias",              m->d_model, 0, m->block == BLOCK_SERIAL && LN) \
X(FFN_POST,    "ffn_post_norm.weight",       m->d_model, 0, m->norm_place == PLACE_DOUBLE) \
X(FFN_POST_B,  "ffn_post_norm.bias",         m->d_model, 0, m->norm_place == PLACE_DOUBLE && LN) \
X(WQ,          "attention.wq.weight",        QD, m->d_model, 1) \
X(BQ,          "attention.wq.bias",          QD, 0, m->qkv_bias) \
X(WK,          "attention.wk.weight",        KVD, m->d_model, 1) \
X(BK,          "attention.wk.bias",          KVD, 0, m->qkv_bias) \
X(WV,          "attention.wv.weight",        KVD, m->d_model, 1) \
X(BV,          "attention.wv.bias",          KVD, 0, m->qkv_bias) \
X(WO,          "attention.wo.weight",        m->d_model, QD, 1) \
X(BO,          "attention.wo.bias",          m->d_model, 0, m->bias) \
X(Q_NORM,      "attention.q_norm.weight",    m->head_dim, 0, m->qk_norm) \
X(Q_NORM_B,    "attention.q_norm.bias",      m->head_dim, 0, m->qk_norm && LN) \
X(K_NORM,      "attention.k_norm.weight",    m->head_dim, 0, m->qk_norm) \
X(K_NORM_B,    "attention.k_norm.bias",      m->head_dim, 0, m->qk_norm && LN) \
X(W_GATE,      "feed_forward.w_gate.weight", m->d_ff, m->d_model, model_is_glu(m)) \
X(B_GATE,      "feed_forward.w_gate.bias",   m->d_ff, 0, model_is_glu(m) && m->bias) \
X(W_UP,        "feed_forward.w_up.weight",   m->d_ff, m->d_model, 1) \
X(B_UP,        "feed_forward.w_up.bias",     m->d_ff, 0, m->bias) \
X(W_DOWN,      "feed_forward.w_down.weight", m->d_model, m->d_ff, 1) \
X(B_DOWN,      "feed_forward.w_down.bias",   m->d_model, 0, m->bias)
#define FINAL_TENSORS(X) \
X(NORM,        "norm.weight",                m->d_model, 0, m->norm_place != PLACE_POST) \
X(NORM_B,      "norm.bias",                  m->d_model, 0, m->norm_place != PLACE_POST && LN) \
X(OUTPUT,      "output.weight",              m->vocab, m->d_model, !m->tie_embeddings)

enum {
#define X(role, name, rows, cols, when) T_##role,
	GLOBAL_TENSORS(X) LAYER_TENSORS(X) FINAL_TENSORS(X)
#undef X
	TENSOR_ROLE__COUNT
};

typedef struct Tensor {
	char name[64];
	int role;		/* T_ constant */
	int layer;		/* -1 outside the layer stack */
	int ndim;
	long long shape[2];
	int dtype;		/* DTYPE_ how a model holds it in memory (set by ir_build) */
} Tensor;

/* Element types of weights in memory, numbered as the runtime's TFM_F32,
 * TFM_BF16 and GGML's quantized TFM_Q types (tfm.h); weight_dtypes[] says what
 * each is called and how its rows are blocked. */
enum {
	DTYPE_F32 = 0, DTYPE_BF16 = 1, DTYPE_F16 = 2,	/* f16: a KV cache's, never a weight's */
	DTYPE_Q8_0 = 15, DTYPE_Q4_0, DTYPE_Q4_K, DTYPE_Q6_K
};

typedef struct Dtype {
	int id;			/* DTYPE_ */
	const char *name;	/* as --weight-dtype takes it: "q4_K" */
	const char *c_name;	/* the runtime's: "TFM_Q4_K" */
	const char *c_type;	/* of an element, or of the bytes of blocks */
	int block, block_bytes;	/* weights per block and its bytes (1 and 4 for f32) */
} Dtype;

extern const Dtype weight_dtypes[];
extern const int n_weight_dtypes;
/* The entry of a DTYPE_, or NULL; the DTYPE_ of a name, or -1. */
const Dtype *dtype_info(int id);
int dtype_by_name(const char *name);
/* 1 for the block-quantized types. */
int dtype_is_quant(int id);
/* Bytes of a tensor of this shape (its rows whole blocks). */
long long dtype_bytes(int id, long long rows, long long cols);

/* The tensors of m in section 3's order.  Returns how many there are;
 * out (may be NULL) receives at most max of them. */
int model_tensors(const Model *m, Tensor *out, int max);
/* Index of (role, layer) in that list, or -1 when the model lacks it. */
int model_tensor_index(const Model *m, int role, int layer);

typedef struct Cost {
	long long params, params_embedding, params_other;
	long long flops_linear;		/* 2 * linear weights per token */
	long long flops_attn_per_ctx;	/* attention FLOPs per token per cached position */
	long long kv_bytes_per_token;	/* f32 K and V over all layers */
} Cost;

void model_cost(const Model *m, Cost *c);

#endif
