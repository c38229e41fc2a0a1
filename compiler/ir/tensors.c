/* tensors.c: the tensor list of a model and what it costs, both derived
 * from the tables in tensors.h. */
#include <stdio.h>
#include <string.h>
#include "tensors.h"

static int add(Tensor *out, int n, int max, int role, int layer, const char *name,
               long long rows, long long cols)
{
	if (out && n < max) {
		Tensor *t = &out[n];
		if (layer >= 0)
			snprintf(t->name, sizeof t->name, "layers.%d.%s", layer, name);
		else
			snprintf(t->name, sizeof t->name, "%s", name);
		t->role = role;
		t->layer = layer;
		t->ndim = cols ? 2 : 1;
		t->shape[0] = rows;
		t->shape[1] = cols;
		t->dtype = DTYPE_F32;
	}
	return n + 1;
}

int model_tensors(const Model *m, Tensor *out, int max)
{
	int n = 0;

#define X(role, name, rows, cols, when) \
	if ((when) != 0) n = add(out, n, max, T_##role, -1, name, rows, cols);
	GLOBAL_TENSORS(X)
	for (int i = 0; i < m->n_layer; i++) {
#undef X
#define X(role, name, rows, cols, when) \
		if ((when) != 0) n = add(out, n, max, T_##role, i, name, rows, cols);
		LAYER_TENSORS(X)
	}
#undef X
#define X(role, name, rows, cols, when) \
	if ((when) != 0) n = add(out, n, max, T_##role, -1, name, rows, cols);
	FINAL_TENSORS(X)
#undef X
	return n;
}

/* Whether m has a tensor of this role (in each layer, for layer roles). */
static int present(const Model *m, int role)
{
	switch (role) {
#define X(role_, name, rows, cols, when) case T_##role_: return (when) != 0;
	GLOBAL_TENSORS(X) LAYER_TENSORS(X) FINAL_TENSORS(X)
#undef X
	}
	return 0;
}

enum { FIRST_LAYER_ROLE = T_ATTN_NORM, FIRST_FINAL_ROLE = T_NORM };

/* 0: global, 1: per layer, 2: final. */
static int group(int role)
{
	return role < FIRST_LAYER_ROLE ? 0 : role < FIRST_FINAL_ROLE ? 1 : 2;
}

int model_tensor_index(const Model *m, int role, int layer)
{
	int n_global = 0, per_layer = 0, before = 0;

	if (!present(m, role) || (role >= FIRST_LAYER_ROLE && role < FIRST_FINAL_ROLE &&
	                          (layer < 0 || layer >= m->n_layer)))
		return -1;
	for (int r = 0; r < TENSOR_ROLE__COUNT; r++) {
		int p = present(m, r);
		if (r < FIRST_LAYER_ROLE)
			n_global += p;
		else if (r < FIRST_FINAL_ROLE)
			per_layer += p;
		if (r < role && group(r) == group(role))
			before += p;
	}
	if (role < FIRST_LAYER_ROLE)
		return before;
	if (role < FIRST_FINAL_ROLE)
		return n_global + layer * per_layer + before;
	return n_global + (int)m->n_layer * per_layer + before;
}

void model_cost(const Model *m, Cost *c)
{
	memset(c, 0, sizeof *c);
#define X(role, name, rows, cols, when) \
	if (when) { \
		long long size = (long long)(rows) * ((cols) != 0 ? (cols) : 1); \
		int emb = T_##role == T_TOK_EMB || T_##role == T_POS_EMB || T_##role == T_OUTPUT; \
		int linear = (cols) != 0 && T_##role != T_TOK_EMB && T_##role != T_POS_EMB; \
		c->params += size * reps; \
		if (emb) c->params_embedding += size * reps; \
		if (linear) c->flops_linear += 2 * size * reps; \
	}
	long long reps = 1;
	GLOBAL_TENSORS(X)
	FINAL_TENSORS(X)
	reps = m->n_layer;
	LAYER_TENSORS(X)
#undef X
	/* A tied head is a matrix product all the same. */
	if (m->tie_embeddings)
		c->flops_linear += 2 * m->vocab * m->d_model;
	c->params_other = c->params - c->params_embedding;
	/* q.k and p.v: 2 FLOPs each per head dimension and cached position. */
	c->flops_attn_per_ctx = 4 * m->n_layer * m->n_head * m->head_dim;
	c->kv_bytes_per_token = 2 * m->n_layer * m->n_kv_head * m->head_dim * (long long)sizeof(float);
}

/* ---- Element types ------------------------------------------------------------ */

const Dtype weight_dtypes[] = {
	{ DTYPE_F32, "f32", "TFM_F32", "float", 1, 4 },
	{ DTYPE_BF16, "bf16", "TFM_BF16", "tfm_bf16", 1, 2 },
	{ DTYPE_Q8_0, "q8_0", "TFM_Q8_0", "unsigned char", 32, 34 },
	{ DTYPE_Q4_0, "q4_0", "TFM_Q4_0", "unsigned char", 32, 18 },
	{ DTYPE_Q4_K, "q4_K", "TFM_Q4_K", "unsigned char", 256, 144 },
	{ DTYPE_Q6_K, "q6_K", "TFM_Q6_K", "unsigned char", 256, 210 },
};
const int n_weight_dtypes = (int)(sizeof weight_dtypes / sizeof weight_dtypes[0]);

const Dtype *dtype_info(int id)
{
	for (int i = 0; i < n_weight_dtypes; i++)
		if (weight_dtypes[i].id == id)
			return &weight_dtypes[i];
	return NULL;
}

int dtype_by_name(const char *name)
{
	for (int i = 0; i < n_weight_dtypes; i++)
		if (strcmp(weight_dtypes[i].name, name) == 0)
			return weight_dtypes[i].id;
	return -1;
}

int dtype_is_quant(int id)
{
	const Dtype *d = dtype_info(id);
	return d && d->block > 1;
}

long long dtype_bytes(int id, long long rows, long long cols)
{
	const Dtype *d = dtype_info(id);
	return d ? rows * (cols / d->block) * d->block_bytes : 0;
}
