/* ir.c: the forward pass of MODEL_REFERENCE.md section 2 as a list of
 * operations.  This file is the one place that reads the model's variant
 * keys (norm_place, block, activation, position, ...) to decide what runs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ir.h"

const char *const op_name[OP__COUNT] = {
#define X(kind, name) name,
	OPS(X)
#undef X
};

const char *const buffer_name[BUF__COUNT] = {
#define X(id, name, width) name,
	BUFFERS(X)
#undef X
};

static Op *emit(Program *p, int kind, int layer, int out, const char *label)
{
	if (p->n_ops == p->cap_ops) {
		int cap = p->cap_ops ? 2 * p->cap_ops : 64;
		Op *ops = realloc(p->ops, sizeof *ops * (size_t)cap);
		if (!ops)
			abort();
		p->ops = ops;
		p->cap_ops = cap;
	}
	Op *op = &p->ops[p->n_ops++];
	memset(op, 0, sizeof *op);
	op->kind = kind;
	op->layer = layer;
	op->out = out;
	op->a = op->b = op->w = op->bias = -1;
	op->cols = out >= 0 ? p->width[out] : 0;
	snprintf(op->label, sizeof op->label, "%s", label);
	return op;
}

static int tensor(const Program *p, int role, int layer)
{
	return model_tensor_index(&p->m, role, layer);
}

/* out = norm(a) with the norm weights of role (and role+1, its bias). */
static void norm(Program *p, int layer, int out, int a, int role, const char *label)
{
	Op *op = emit(p, OP_NORM, layer, out, label);
	op->a = a;
	op->w = tensor(p, role, layer);
	op->bias = tensor(p, role + 1, layer);	/* the .bias follows its .weight */
	op->heads = 1;
	op->fn = p->m.norm;
	op->f = p->m.norm_eps;
}

/* out = w . a (+ bias) */
static Op *matmul(Program *p, int layer, int out, int a, int w_role, int b_role, const char *label)
{
	Op *op = emit(p, OP_MATMUL, layer, out, label);
	op->a = a;
	op->w = tensor(p, w_role, layer);
	op->bias = b_role >= 0 ? tensor(p, b_role, layer) : -1;
	op->rows = p->tensors[op->w].shape[0];
	op->cols = p->tensors[op->w].shape[1];
	return op;
}

/* out = Attn(in): section 2, "Attention". */
static void attention(Program *p, int l, int in, int out)
{
	const Model *m = &p->m;

	matmul(p, l, B_Q, in, T_WQ, T_BQ, "q = Wq x (+bq)");
	matmul(p, l, B_K, in, T_WK, T_BK, "k = Wk x (+bk)");
	matmul(p, l, B_V, in, T_WV, T_BV, "v = Wv x (+bv)");
	if (m->qk_norm) {
		norm(p, l, B_Q, B_Q, T_Q_NORM, "q = q_norm(q), every query head");
		p->ops[p->n_ops - 1].heads = (int)m->n_head;
		p->ops[p->n_ops - 1].cols = m->head_dim;
		norm(p, l, B_K, B_K, T_K_NORM, "k = k_norm(k), every key head");
		p->ops[p->n_ops - 1].heads = (int)m->n_kv_head;
		p->ops[p->n_ops - 1].cols = m->head_dim;
	}
	if (m->position == POS_ROPE) {
		Op *op = emit(p, OP_ROPE, l, B_Q, "rotate the query heads (RoPE)");
		op->heads = (int)m->n_head;
		op->cols = m->head_dim;
		op->fn = m->rope_style;
		op->f = m->rope_theta;
		op = emit(p, OP_ROPE, l, B_K, "rotate the key heads (RoPE)");
		op->heads = (int)m->n_kv_head;
		op->cols = m->head_dim;
		op->fn = m->rope_style;
		op->f = m->rope_theta;
	}
	Op *op = emit(p, OP_KV_STORE, l, -1, "append k and v to the cache");
	op->a = B_K;
	op->b = B_V;
	op->cols = p->width[B_K];
	op = emit(p, OP_ATTENTION, l, B_ATT, m->attn_softcap > 0
	          ? "att = softmax(softcap(q k / sqrt(head_dim))) v, causal"
	          : "att = softmax(q k / sqrt(head_dim)) v, causal");
	op->a = B_Q;
	op->f = m->attn_softcap;
	op->heads = (int)m->n_head;
	matmul(p, l, out, B_ATT, T_WO, T_BO, "attention output: Wo att (+bo)");
}

/* out = FFN(in): section 2, "Feed-forward". */
static void feed_forward(Program *p, int l, int in, int out)
{
	const Model *m = &p->m;
	int act = m->activation == ACT_SWIGLU || m->activation == ACT_GEGLU ? m->activation : -1;

	if (act >= 0) {
		matmul(p, l, B_HG, in, T_W_GATE, T_B_GATE, "gate = W_gate x (+b)");
		matmul(p, l, B_HU, in, T_W_UP, T_B_UP, "up = W_up x (+b)");
		Op *op = emit(p, OP_GLU, l, B_HU, act == ACT_SWIGLU ? "hidden = silu(gate) * up"
		              : m->gelu == GELU_ERF ? "hidden = gelu_erf(gate) * up"
		                                    : "hidden = gelu_tanh(gate) * up");
		op->a = B_HG;
		op->fn = act;
		op->f = m->gelu;
	} else {
		matmul(p, l, B_HU, in, T_W_UP, T_B_UP, "hidden = W_up x (+b)");
		Op *op = emit(p, OP_ACT, l, B_HU, m->activation == ACT_RELU ? "hidden = relu(hidden)"
		              : m->gelu == GELU_ERF ? "hidden = gelu_erf(hidden)" : "hidden = gelu_tanh(hidden)");
		op->fn = m->activation;
		op->f = m->gelu;
	}
	matmul(p, l, out, B_HU, T_W_DOWN, T_B_DOWN, "feed-forward output: W_down hidden (+b)");
}

static void add(Program *p, int l, int out, int a, const char *label)
{
	Op *op = emit(p, OP_ADD, l, out, label);
	op->a = a;
}

/* One block, by `block` and `norm_place` (the table of section 2). */
static void layer(Program *p, int l)
{
	const Model *m = &p->m;
	int place = m->norm_place;

	if (m->block == BLOCK_SERIAL) {
		if (place == PLACE_POST) {
			attention(p, l, B_X_, B_AO);
			add(p, l, B_X_, B_AO, "x = x + Attn(x)");
			norm(p, l, B_X_, B_X_, T_ATTN_NORM, "x = N_a(x)");
			feed_forward(p, l, B_X_, B_FO);
			add(p, l, B_X_, B_FO, "x = x + FFN(x)");
			norm(p, l, B_X_, B_X_, T_FFN_NORM, "x = N_f(x)");
			return;
		}
		norm(p, l, B_XN, B_X_, T_ATTN_NORM, "xn = N_a(x)");
		attention(p, l, B_XN, B_AO);
		if (place == PLACE_DOUBLE)
			norm(p, l, B_AO, B_AO, T_ATTN_POST, "ao = P_a(ao)");
		add(p, l, B_X_, B_AO, "x = x + attention");
		norm(p, l, B_XN, B_X_, T_FFN_NORM, "xn = N_f(x)");
		feed_forward(p, l, B_XN, B_FO);
		if (place == PLACE_DOUBLE)
			norm(p, l, B_FO, B_FO, T_FFN_POST, "fo = P_f(fo)");
		add(p, l, B_X_, B_FO, "x = x + feed-forward");
		return;
	}
	/* parallel: both branches read the same input */
	int in = place == PLACE_POST ? B_X_ : B_XN;
	if (place != PLACE_POST)
		norm(p, l, B_XN, B_X_, T_ATTN_NORM, "xn = N_a(x), shared by both branches");
	attention(p, l, in, B_AO);
	feed_forward(p, l, in, B_FO);
	if (place == PLACE_DOUBLE) {
		norm(p, l, B_AO, B_AO, T_ATTN_POST, "ao = P_a(ao)");
		norm(p, l, B_FO, B_FO, T_FFN_POST, "fo = P_f(fo)");
	}
	add(p, l, B_X_, B_AO, "x = x + attention");
	add(p, l, B_X_, B_FO, "x = x + feed-forward");
	if (place == PLACE_POST)
		norm(p, l, B_X_, B_X_, T_ATTN_NORM, "x = N_a(x)");
}

static void widths(Program *p)
{
	const Model *m = &p->m;
	int i = 0;
#define X(id, name, w) p->width[i++] = (w);
	BUFFERS(X)
#undef X
}

int ir_build(const Model *m, int weight_dtype, Program *p)
{
	memset(p, 0, sizeof *p);
	p->m = *m;
	p->n_tensors = model_tensors(m, NULL, 0);
	p->tensors = malloc(sizeof *p->tensors * (size_t)p->n_tensors);
	if (!p->tensors)
		return -1;
	model_tensors(m, p->tensors, p->n_tensors);
	ir_set_weight_dtype(p, weight_dtype);
	widths(p);

	Op *op = emit(p, OP_EMBED, -1, B_X_, m->embed_scale == SCALE_SQRT
	              ? "x = tok_embeddings[token] * sqrt(d_model)" : "x = tok_embeddings[token]");
	op->w = tensor(p, T_TOK_EMB, -1);
	op->f = m->embed_scale == SCALE_SQRT ? sqrt((double)m->d_model) : 1.0;
	if (m->position == POS_LEARNED || m->position == POS_SINE) {
		op = emit(p, OP_POS_ADD, -1, B_X_, m->position == POS_LEARNED
		          ? "x = x + pos_embeddings[pos]" : "x = x + S(pos), sine positions");
		op->fn = m->position;
		op->w = m->position == POS_LEARNED ? tensor(p, T_POS_EMB, -1) : -1;
	}
	for (int l = 0; l < m->n_layer; l++)
		layer(p, l);
	if (m->norm_place != PLACE_POST) {
		norm(p, -1, B_X_, B_X_, T_NORM, "x = N_final(x)");
		p->ops[p->n_ops - 1].head_only = 1;
	}
	op = matmul(p, -1, B_LOGITS, B_X_, m->tie_embeddings ? T_TOK_EMB : T_OUTPUT, -1,
	            m->tie_embeddings ? "logits = tok_embeddings . x (tied)" : "logits = output . x");
	op->head_only = 1;
	if (m->logit_softcap > 0) {
		op = emit(p, OP_SOFTCAP, -1, B_LOGITS, "logits = c * tanh(logits / c)");
		op->f = m->logit_softcap;
		op->head_only = 1;
	}
	return 0;
}

void ir_set_weight_dtype(Program *p, int weight_dtype)
{
	p->weight_dtype = weight_dtype;
	for (int i = 0; i < p->n_tensors; i++)
		p->tensors[i].dtype = p->tensors[i].ndim == 2 ? weight_dtype : DTYPE_F32;
}

const Tensor *ir_dtype_misfit(const Program *p, int dtype)
{
	const Dtype *d = dtype_info(dtype);

	for (int i = 0; d && i < p->n_tensors; i++)
		if (p->tensors[i].ndim == 2 && p->tensors[i].shape[1] % d->block != 0)
			return &p->tensors[i];
	return NULL;
}

int ir_set_files(Program *p, const char *const *weights, int n, const char *tokenizer)
{
	for (int i = 0; i < p->n_weights; i++)
		free(p->weights[i]);
	free(p->tokenizer);
	p->n_weights = 0;
	p->tokenizer = NULL;
	for (int i = 0; i < n && i < IR_MAX_FILES; i++) {
		if (!(p->weights[i] = strdup(weights[i])))
			return -1;
		p->n_weights++;
	}
	if (tokenizer && !(p->tokenizer = strdup(tokenizer)))
		return -1;
	return 0;
}

void ir_free(Program *p)
{
	for (int i = 0; i < p->n_weights; i++)
		free(p->weights[i]);
	free(p->tokenizer);
	free(p->tensors);
	free(p->ops);
	memset(p, 0, sizeof *p);
}

void ir_print(const Program *p, FILE *f)
{
	for (int i = 0; i < p->n_ops; i++) {
		const Op *op = &p->ops[i];
		fprintf(f, "%4d  %-10s", i, op_name[op->kind]);
		if (op->layer >= 0)
			fprintf(f, " L%-3d", op->layer);
		else
			fprintf(f, "     ");
		fprintf(f, " %-6s", op->out >= 0 ? buffer_name[op->out] : "-");
		fprintf(f, " %-6s", op->a >= 0 ? buffer_name[op->a] : "");
		if (op->w >= 0)
			fprintf(f, " %s", p->tensors[op->w].name);
		if (op->kind == OP_MATMUL)
			fprintf(f, " [%lld, %lld]", op->rows, op->cols);
		fprintf(f, "   # %s\n", op->label);
	}
}
