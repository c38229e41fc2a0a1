/* emit_train.c: the training code of a model: the forward of a batch of B
 * windows of T tokens and its backward, as calls to the runtime's training
 * kernels (tfm_kernels: the same for every target; the dimensions are
 * constants, B and T arrive when an instance opens), behind the model's
 * tfm_train_api.
 *
 * The statements follow the training program of grad.c: the forward in
 * order, then each operation's backward in reverse.  V(c) is the value at
 * column c of the arena, a [B*T, width] block; a gradient is zeroed just
 * before the first backward statement that adds to it. */
#include <math.h>
#include <string.h>
#include "emit_internal.h"

/* The arena block at column c, as C. */
static const char *col(long long c)
{
	static char bufs[8][48];
	static int next;
	char *b = bufs[next++ & 7];

	snprintf(b, 48, "V(%lld)", c);
	return b;
}

#define VA(tp, v) col((tp)->values[v].act)
#define VG(tp, v) col((tp)->values[v].grad)

static const char *act_name(const Op *op)
{
	if (op->kind == OP_GLU && op->fn == ACT_SWIGLU)
		return "TFM_ACT_SILU";
	if (op->fn == ACT_RELU)
		return "TFM_ACT_RELU";
	return op->f == GELU_ERF ? "TFM_ACT_GELU_ERF" : "TFM_ACT_GELU_TANH";
}

/* The weight (or gradient, g) of tensor i. */
static const char *wt(const Emitter *e, int i, int g)
{
	static char bufs[8][128];
	static int next;
	char *b = bufs[next++ & 7];

	if (i < 0)
		return "NULL";
	snprintf(b, 128, "s->%s[%d]", g ? "g" : "w", i);
	(void)e;
	return b;
}

static void copy_if_apart(Emitter *e, const TrainProgram *tp, int out, int in)
{
	if (tp->values[out].act != tp->values[in].act)
		emit_out(e, "\tmemcpy(%s, %s, sizeof(float) * N * %lld);\n", VA(tp, out), VA(tp, in),
		         tp->values[in].width);
}

/* ---- The forward ---------------------------------------------------------------- */

static void forward_op(Emitter *e, const TrainProgram *tp, const TOp *t)
{
	const Op *op = t->op;
	const Model *m = e->m;
	const Value *out = t->out >= 0 ? &tp->values[t->out] : NULL;

	emit_out(e, "\t/* %s */\n", t->label);
	switch (t->kind) {
	case OP_EMBED:
		emit_out(e, "\tfor (size_t r = 0; r < N; r++)\n\t\tfor (int k = 0; k < D_MODEL; k++)\n"
		         "\t\t\t%s[r * D_MODEL + k] = %s[(size_t)s->in[r] * D_MODEL + k]%s%s;\n",
		         col(out->act), wt(e, op->w, 0), op->f != 1.0 ? " * " : "",
		         op->f != 1.0 ? emit_flt(op->f) : "");
		break;
	case OP_POS_ADD:
		emit_out(e, "\tfor (size_t r = 0; r < N; r++)\n\t\tfor (int k = 0; k < D_MODEL; k++)\n"
		         "\t\t\t%s[r * D_MODEL + k] += %s[(size_t)s->pos[r] * D_MODEL + k];\n", col(out->act),
		         op->fn == POS_LEARNED ? wt(e, op->w, 0) : "s->sine");
		break;
	case OP_NORM:
		emit_out(e, "\ts->kern->norm(%s, %s, %s, %s, N * %d, %lld, %s);\n", col(out->act),
		         VA(tp, t->in[0]), wt(e, op->w, 0), wt(e, op->bias, 0), op->heads, op->cols,
		         emit_flt(op->f));
		break;
	case OP_MATMUL:
		/* y = x W^T (+ b) as the gemm of the backward's products, W [rows, cols]
		 * read as op(B) = W^T: over B * T rows it runs nearer the FMA peak than
		 * the inference matmul, made for a few hundred tokens */
		if (op->bias >= 0)
			emit_out(e, "\tfor (size_t r = 0; r < N; r++)\n"
			         "\t\tmemcpy(%s + r * %lld, %s, sizeof(float) * %lld);\n", col(out->act), op->rows,
			         wt(e, op->bias, 0), op->rows);
		emit_out(e, "\ts->kern->gemm(s->pool, 0, 1, (int)N, %lld, %lld, %s, %lld, %s, %lld, %s, %lld, %d);"
		         "\t/* %s */\n", op->rows, op->cols, VA(tp, t->in[0]), op->cols, wt(e, op->w, 0), op->cols,
		         col(out->act), op->rows, op->bias >= 0, e->p->tensors[op->w].name);
		break;
	case OP_ROPE:
		copy_if_apart(e, tp, t->out, t->in[0]);
		emit_out(e, "\tfor (int b = 0; b < s->batch; b++)\n"
		         "\t\ts->kern->rope(%s + (size_t)b * T * %lld, T, %lld, %d, HEAD_DIM, s->rope_cos, s->rope_sin, %d, 0);\n",
		         col(out->act), out->width, out->width, op->heads, op->fn == ROPE_INTERLEAVED);
		break;
	case OP_ATTENTION:
		emit_out(e, "\tfor (int b = 0; b < s->batch; b++) {\n"
		         "\t\ttfm_attention a = { .q = %s + (size_t)b * T * Q_DIM, .k_cache = %s + (size_t)b * T * KV_DIM,\n"
		         "\t\t\t.v_cache = %s + (size_t)b * T * KV_DIM, .out = %s + (size_t)b * T * Q_DIM,\n"
		         "\t\t\t.scores = s->scratch, .n = T, .pos = 0, .n_head = N_HEAD, .n_kv_head = N_KV_HEAD,\n"
		         "\t\t\t.head_dim = HEAD_DIM, .max_seq = T, .scale = %s, .softcap = %s, .dropout = p,\n"
		         "\t\t\t.seed = tfm_mix64(seed ^ %dull) + (uint64_t)b };\n"
		         "\t\ts->kern->attention_window(s->pool, &a);\n\t}\n",
		         VA(tp, t->in[0]), VA(tp, t->in[1]), VA(tp, t->in[2]), col(out->act),
		         emit_flt(1.0 / sqrt((double)m->head_dim)), emit_flt(op->f), t->site);
		break;
	case OP_GLU:
		copy_if_apart(e, tp, t->out, t->in[0]);
		emit_out(e, "\ttrain_ew_run(s, 0, %s, NULL, %s, NULL, NULL, (long)N * D_FF, %s);\n", col(out->act),
		         VA(tp, t->in[1]), act_name(op));
		break;
	case OP_ACT:
		copy_if_apart(e, tp, t->out, t->in[0]);
		emit_out(e, "\ts->kern->act(%s, (long)N * D_FF, %s);\n", col(out->act), act_name(op));
		break;
	case OP_ADD:
		emit_out(e, "\ttrain_ew_run(s, 1, %s, NULL, %s, %s, NULL, (long)N * %lld, 0);\n", col(out->act),
		         VA(tp, t->in[0]), VA(tp, t->in[1]), out->width);
		break;
	case OP_SOFTCAP:
		copy_if_apart(e, tp, t->out, t->in[0]);
		emit_out(e, "\ts->kern->softcap(%s, (long)N * VOCAB, %s);\n", col(out->act), emit_flt(op->f));
		break;
	case TOP_DROPOUT:
		emit_out(e, "\ts->kern->dropout(%s, %s, (long)N * %lld, p, tfm_mix64(seed ^ %dull));\n",
		         col(out->act), VA(tp, t->in[0]), out->width, t->site);
		break;
	case TOP_LOSS:
		emit_out(e, "\t*loss = s->kern->cross_entropy(s->pool, %s, grads ? %s : NULL, s->tgt, (int)N, VOCAB, "
		         "%s, 1.0f / (float)N) / (double)N;\n", VA(tp, t->in[0]), VG(tp, t->in[0]),
		         emit_flt(m->z_loss));
		break;
	}
}

/* ---- The backward ---------------------------------------------------------------- */

static void backward_op(Emitter *e, const TrainProgram *tp, int i)
{
	const TOp *t = &tp->ops[i];
	const Op *op = t->op;
	const Model *m = e->m;
	const Value *out = t->out >= 0 ? &tp->values[t->out] : NULL;

	if (t->kind == TOP_LOSS || (t->kind == OP_POS_ADD && op->fn != POS_LEARNED))
		return;
	emit_out(e, "\t/* backward of: %s */\n", t->label);
	for (int v = 0; v < tp->n_values; v++)
		if (tp->values[v].zero_at == i && tp->values[v].grad >= 0)
			emit_out(e, "\ttrain_ew_run(s, 3, %s, NULL, NULL, NULL, NULL, (long)N * %lld, 0);\t/* d%s = 0 */\n",
			         VG(tp, v), tp->values[v].width, tp->values[v].name);
	switch (t->kind) {
	case OP_EMBED:
		emit_out(e, "\ts->kern->embed_backward(s->pool, %s, %s, s->in, (int)N, D_MODEL, %s);\n",
		         wt(e, op->w, 1), col(out->grad), emit_flt(op->f));
		break;
	case OP_POS_ADD:
		emit_out(e, "\ts->kern->embed_backward(s->pool, %s, %s, s->pos, (int)N, D_MODEL, 1.0f);\n",
		         wt(e, op->w, 1), col(out->grad));
		break;
	case OP_NORM:
		emit_out(e, "\ts->kern->norm_backward(s->pool, %s, %s, %s, %s, %s, %s, N * %d, %lld, %s);\n",
		         VG(tp, t->in[0]), wt(e, op->w, 1), wt(e, op->bias, 1), col(out->grad), VA(tp, t->in[0]),
		         wt(e, op->w, 0), op->heads, op->cols, emit_flt(op->f));
		break;
	case OP_MATMUL:
		emit_out(e, "\ts->kern->gemm(s->pool, 0, 0, (int)N, %lld, %lld, %s, %lld, %s, %lld, %s, %lld, 1);\n",
		         op->cols, op->rows, col(out->grad), op->rows, wt(e, op->w, 0), op->cols,
		         VG(tp, t->in[0]), op->cols);
		emit_out(e, "\ts->kern->gemm(s->pool, 1, 0, %lld, %lld, (int)N, %s, %lld, %s, %lld, %s, %lld, 1);\n",
		         op->rows, op->cols, col(out->grad), op->rows, VA(tp, t->in[0]), op->cols,
		         wt(e, op->w, 1), op->cols);
		if (op->bias >= 0)
			emit_out(e, "\ts->kern->bias_backward(%s, %s, (int)N, %lld);\n", wt(e, op->bias, 1),
			         col(out->grad), op->rows);
		break;
	case OP_ROPE:
		emit_out(e, "\tfor (int b = 0; b < s->batch; b++)\n"
		         "\t\ts->kern->rope(%s + (size_t)b * T * %lld, T, %lld, %d, HEAD_DIM, s->rope_cos, s->rope_sin, %d, 1);\n",
		         col(out->grad), out->width, out->width, op->heads, op->fn == ROPE_INTERLEAVED);
		if (tp->values[t->in[0]].grad != out->grad)
			emit_out(e, "\ttrain_ew_run(s, 1, %s, NULL, %s, %s, NULL, (long)N * %lld, 0);\n",
			         VG(tp, t->in[0]), VG(tp, t->in[0]), col(out->grad), out->width);
		break;
	case OP_ATTENTION:
		emit_out(e, "\tfor (int b = 0; b < s->batch; b++) {\n"
		         "\t\ttfm_attention_grad a = { %s + (size_t)b * T * Q_DIM, %s + (size_t)b * T * KV_DIM,\n"
		         "\t\t\t%s + (size_t)b * T * KV_DIM, %s + (size_t)b * T * Q_DIM, %s + (size_t)b * T * Q_DIM,\n"
		         "\t\t\t%s + (size_t)b * T * Q_DIM, %s + (size_t)b * T * KV_DIM, %s + (size_t)b * T * KV_DIM,\n"
		         "\t\t\ts->scratch, T, N_HEAD, N_KV_HEAD, HEAD_DIM, %s, %s, p, tfm_mix64(seed ^ %dull) + (uint64_t)b };\n"
		         "\t\ts->kern->attention_backward(s->pool, &a);\n\t}\n",
		         VA(tp, t->in[0]), VA(tp, t->in[1]), VA(tp, t->in[2]), col(out->act), col(out->grad),
		         VG(tp, t->in[0]), VG(tp, t->in[1]), VG(tp, t->in[2]),
		         emit_flt(1.0 / sqrt((double)m->head_dim)), emit_flt(op->f), t->site);
		break;
	case OP_GLU:
		emit_out(e, "\ttrain_ew_run(s, 2, %s, %s, %s, %s, %s, (long)N * D_FF, %s);\n", VG(tp, t->in[1]),
		         VG(tp, t->in[0]), VA(tp, t->in[1]), VA(tp, t->in[0]), col(out->grad), act_name(op));
		break;
	case OP_ACT:
		emit_out(e, "\ts->kern->act_backward(%s, %s, %s, (long)N * D_FF, %s);\n", VG(tp, t->in[0]),
		         VA(tp, t->in[0]), col(out->grad), act_name(op));
		break;
	case OP_ADD:
		for (int k = 0; k < 2; k++)
			emit_out(e, "\ttrain_ew_run(s, 1, %s, NULL, %s, %s, NULL, (long)N * %lld, 0);\n",
			         VG(tp, t->in[k]), VG(tp, t->in[k]), col(out->grad), out->width);
		break;
	case OP_SOFTCAP:
		emit_out(e, "\ts->kern->softcap_backward(%s, %s, %s, (long)N * VOCAB, %s);\n", VG(tp, t->in[0]),
		         col(out->act), col(out->grad), emit_flt(op->f));
		break;
	case TOP_DROPOUT:
		emit_out(e, "\ts->kern->dropout_backward(%s, %s, (long)N * %lld, p, tfm_mix64(seed ^ %dull));\n",
		         VG(tp, t->in[0]), col(out->grad), out->width, t->site);
		break;
	}
}

/* ---- The instance and the api ------------------------------------------------ */

void emit_train_header(Emitter *e)
{
	const char *n = e->m->name;

	emit_out(e, "/* ---- Fine-tuning (tfmc --train) ----\n"
	         " * The model's training code: the loss of a batch and its gradient\n"
	         " * (MODEL_REFERENCE.md section 5), driven by the runtime's fine-tuning API\n"
	         " * (tfm.h, \"Fine-tuning\"), which adds the clipping, AdamW and schedule of\n"
	         " * `tfmc train`; its options' defaults are that command's:\n"
	         " *\n"
	         " *     tfm_finetune_options o;\n"
	         " *     tfm_finetune *ft;\n"
	         " *     double loss;\n"
	         " *     tfm_finetune_defaults(&o);\n"
	         " *     o.batch = 8; o.seq = 64; o.steps = 200; o.lr = 3e-4;\n"
	         " *     if (%s_finetune_open(&ft, NULL, &o, &err)) { puts(err.msg); exit(1); }\n"
	         " *     for (long s = 0; s < o.steps; s++) {\n"
	         " *         int tokens[8 * 65];   // 8 windows of seq + 1 ids of your data\n"
	         " *         ...\n"
	         " *         if (tfm_finetune_step(ft, tokens, &loss, &err)) ...\n"
	         " *     }\n"
	         " *     tfm_finetune_save(ft, \"tuned.safetensors\", &err);   // for %s_open\n"
	         " *     tfm_finetune_close(ft);\n"
	         " */\n\n", n, n);
	emit_out(e, "/* A training state from the weights at weights_path (a safetensors file, a\n"
	         " * Hugging Face folder or a llama2.c .bin, copied as f32), or when NULL the\n"
	         " * files the spec names (`weights`; %s); o NULL: the\n"
	         " * defaults.  Then tfm_finetune_step, _loss, _save and _close (tfm.h). */\n"
	         "int %s_finetune_open(tfm_finetune **ft, const char *weights_path, const tfm_finetune_options *o,\n"
	         "\ttfm_error *err);\n\n",
	         e->p->n_weights ? "recorded at emit time" : "none for this model", n);
	emit_out(e, "/* The training code for code that knows no model (tfm_finetune_open,\n"
	         " * tfmc train, grad and eval). */\n"
	         "extern const tfm_train_api %s_train_api;\n\n", n);
}

void emit_train(Emitter *e, const TrainProgram *tp)
{
	const Program *p = e->p;
	const Model *m = e->m;
	const char *n = m->name;

	emit_out(e, "/* ---- Training: the forward and backward of a batch ---- */\n\n");
	emit_out(e, "#define TRAIN_COLS %lld\t/* the arena: [B * T rows, TRAIN_COLS] of activations and gradients */\n",
	         tp->cols);
	emit_out(e, "#define V(c) (s->arena + N * (size_t)(c))\t/* the [B * T, width] block at column c */\n\n");
	emit_out(e, "static const tfm_tensor_decl train_tensors[N_TENSORS] = {\n");
	for (int i = 0; i < p->n_tensors; i++) {
		const Tensor *t = &p->tensors[i];
		emit_out(e, "\t{ \"%s\", %d, { %lld, %lld }, TFM_F32 },\n", t->name, t->ndim, t->shape[0],
		         t->ndim == 2 ? t->shape[1] : 0);
	}
	emit_out(e, "};\n\n");
	emit_out(e, "struct %s_train {\n\tconst tfm_kernels *kern;\n\ttfm_pool *pool;\n"
	         "\tint batch, seq;\t/* B windows of T tokens */\n\tsize_t rows;\t/* B * T */\n"
	         "\tfloat *const *w;\t/* [N_TENSORS] the weights, f32, read in place */\n"
	         "\tfloat *const *g;\t/* [N_TENSORS] their gradients */\n"
	         "\tfloat *arena;\t/* [B * T, TRAIN_COLS] */\n"
	         "\tfloat *scratch;\t/* attention's working space, forward and backward */\n"
	         "\tfloat *rope_cos, *rope_sin;\t/* [T, HEAD_DIM / 2] */\n"
	         "\tfloat *sine;\t/* [T, D_MODEL] sine positions */\n"
	         "\tint *in, *tgt, *pos;\t/* [B * T] each row's input, target and position */\n};\n\n", n);

	/* close and open */
	emit_out(e, "static void train_close(void *inst)\n{\n\tstruct %s_train *s = inst;\n\n\tif (!s)\n\t\treturn;\n"
	         "\ttfm_pool_close(s->pool);\n\ttfm_free(s->arena);\n\ttfm_free(s->scratch);\n"
	         "\ttfm_free(s->rope_cos);\n\ttfm_free(s->rope_sin);\n\ttfm_free(s->sine);\n"
	         "\tfree(s->in);\n\tfree(s->tgt);\n\tfree(s->pos);\n\tfree(s);\n}\n\n", n);
	emit_out(e, "static int train_open(void **inst, float *const *w, float *const *g, int batch, int seq,\n"
	         "                      int n_threads, tfm_error *err)\n{\n\tstruct %s_train *s;\n\n\t*inst = NULL;\n"
	         "\tif (batch < 1 || seq < 1 || seq > MAX_SEQ)\n"
	         "\t\treturn tfm_fail(err, \"batches of %%d windows of %%d tokens: the windows must be 1 to %%d "
	         "tokens (max_seq)\", batch, seq, MAX_SEQ);\n"
	         "\tif ((double)batch * seq * TRAIN_COLS * sizeof(float) > 1e15)\n"
	         "\t\treturn tfm_fail(err, \"batches of %%d windows of %%d tokens need too much memory\", batch, seq);\n"
	         "\tif (!(s = calloc(1, sizeof *s)))\n\t\treturn tfm_fail(err, \"out of memory\");\n"
	         "\ts->batch = batch;\n\ts->seq = seq;\n\ts->rows = (size_t)batch * seq;\n\ts->w = w;\n\ts->g = g;\n"
	         "\tif (!(s->kern = tfm_kernels_for(NULL)) || !s->kern->gemm) {\n"
	         "\t\ttfm_fail(err, \"the runtime has no training kernels for this CPU\");\n\t\tgoto fail;\n\t}\n"
	         "\tif (tfm_pool_open(&s->pool, n_threads, err))\n\t\tgoto fail;\n"
	         "\ts->arena = tfm_alloc(sizeof(float) * s->rows * TRAIN_COLS);\n"
	         "\ts->scratch = tfm_alloc(sizeof(float) * (size_t)tfm_attention_grad_scratch(seq, N_HEAD, "
	         "HEAD_DIM, tfm_pool_threads(s->pool)));\n"
	         "\ts->in = malloc(sizeof(int) * s->rows);\n\ts->tgt = malloc(sizeof(int) * s->rows);\n"
	         "\ts->pos = malloc(sizeof(int) * s->rows);\n"
	         "\tif (!s->arena || !s->scratch || !s->in || !s->tgt || !s->pos) {\n"
	         "\t\ttfm_fail(err, \"out of memory for batches of %%d windows of %%d tokens\", batch, seq);\n"
	         "\t\tgoto fail;\n\t}\n"
	         "\tfor (size_t r = 0; r < s->rows; r++)\n\t\ts->pos[r] = (int)(r %% (size_t)seq);\n", n);
	if (m->position == POS_ROPE)
		emit_out(e, "\t/* RoPE angles: a = t * theta^(-2i/HEAD_DIM), in double. */\n"
		         "\ts->rope_cos = tfm_alloc(sizeof(float) * (size_t)seq * (HEAD_DIM / 2));\n"
		         "\ts->rope_sin = tfm_alloc(sizeof(float) * (size_t)seq * (HEAD_DIM / 2));\n"
		         "\tif (!s->rope_cos || !s->rope_sin) {\n\t\ttfm_fail(err, \"out of memory\");\n\t\tgoto fail;\n\t}\n"
		         "\tfor (int t = 0; t < seq; t++)\n\t\tfor (int i = 0; i < HEAD_DIM / 2; i++) {\n"
		         "\t\t\tdouble a = t * pow(%s, -2.0 * i / HEAD_DIM);\n"
		         "\t\t\ts->rope_cos[t * (HEAD_DIM / 2) + i] = (float)cos(a);\n"
		         "\t\t\ts->rope_sin[t * (HEAD_DIM / 2) + i] = (float)sin(a);\n\t\t}\n",
		         model_float_text(m->rope_theta, (char[32]){ 0 }));
	if (m->position == POS_SINE)
		emit_out(e, "\t/* Sine positions: S(t)[2i] = sin(t / 10000^(2i/D_MODEL)), S(t)[2i+1] = cos. */\n"
		         "\tif (!(s->sine = tfm_alloc(sizeof(float) * (size_t)seq * D_MODEL))) {\n"
		         "\t\ttfm_fail(err, \"out of memory\");\n\t\tgoto fail;\n\t}\n"
		         "\tfor (int t = 0; t < seq; t++)\n\t\tfor (int i = 0; i < D_MODEL / 2; i++) {\n"
		         "\t\t\tdouble a = t / pow(10000.0, 2.0 * i / D_MODEL);\n"
		         "\t\t\ts->sine[(size_t)t * D_MODEL + 2 * i] = (float)sin(a);\n"
		         "\t\t\ts->sine[(size_t)t * D_MODEL + 2 * i + 1] = (float)cos(a);\n\t\t}\n");
	emit_out(e, "\t*inst = s;\n\treturn 0;\nfail:\n\ttrain_close(s);\n\treturn -1;\n}\n\n");

	/* the elementwise kernels over the pool's threads */
	emit_out(e, "/* glu, add, glu_backward and zeroing over the pool's threads, each a slice of\n"
	         " * whole 64-float pieces: an element's bits do not depend on the slice. */\n"
	         "typedef struct train_ew {\n\tconst tfm_kernels *k;\n\tint op, act;\t/* op: 0 glu, 1 add, 2 glu_backward, 3 y = 0 */\n"
	         "\tfloat *y, *z;\n\tconst float *a, *b, *c;\n\tlong n;\n} train_ew;\n\n"
	         "static void train_ew_part(void *ctx, int i, int nt)\n{\n\tconst train_ew *w = ctx;\n"
	         "\tconst long lo = w->n * i / nt / 64 * 64, hi = i + 1 == nt ? w->n : w->n * (i + 1) / nt / 64 * 64;\n\n"
	         "\tif (w->op == 0)\n\t\tw->k->glu(w->y + lo, w->a + lo, hi - lo, w->act);\n"
	         "\telse if (w->op == 1)\n\t\tw->k->add(w->y + lo, w->a + lo, w->b + lo, hi - lo);\n"
	         "\telse if (w->op == 2)\n\t\tw->k->glu_backward(w->y + lo, w->z + lo, w->a + lo, w->b + lo, w->c + lo, hi - lo, w->act);\n"
	         "\telse\n\t\tmemset(w->y + lo, 0, sizeof(float) * (size_t)(hi - lo));\n}\n\n"
	         "static void train_ew_run(const struct %s_train *s, int op, float *y, float *z, const float *a,\n"
	         "                         const float *b, const float *c, long n, int act)\n{\n"
	         "\ttrain_ew w = { s->kern, op, act, y, z, a, b, c, n };\n\n"
	         "\ttfm_pool_run(s->pool, train_ew_part, &w);\n}\n\n", n);

	/* step */
	emit_out(e, "/* One batch (tfm_train_api.step): the forward of section 5's loss, then\n"
	         " * with grads its backward, every operation's in reverse. */\n"
	         "static int train_step(void *inst, const int *tokens, int grads, int dropout, uint64_t seed,\n"
	         "                      double *loss, tfm_error *err)\n{\n"
	         "\tstruct %s_train *s = inst;\n\tconst size_t N = s->rows;\n\tconst int T = s->seq;\n", n);
	if (m->dropout > 0)
		emit_out(e, "\tconst float p = dropout ? %s : 0.0f;\t/* the spec's dropout, when asked for */\n\n",
		         emit_flt(m->dropout));
	else
		emit_out(e, "\tconst float p = 0.0f;\t/* the spec has no dropout */\n\n\t(void)dropout;\n");
	emit_out(e, "\t(void)p;\n\t(void)seed;\n"
	         "\tfor (int b = 0; b < s->batch; b++)\n\t\tfor (int t = 0; t <= T; t++) {\n"
	         "\t\t\tint id = tokens[(size_t)b * (T + 1) + t];\n"
	         "\t\t\tif (id < 0 || id >= VOCAB)\n"
	         "\t\t\t\treturn tfm_fail(err, \"token id %%d at window %%d, position %%d is out of range [0, %%d)\",\n"
	         "\t\t\t\t                id, b, t, VOCAB);\n"
	         "\t\t\tif (t < T)\n\t\t\t\ts->in[(size_t)b * T + t] = id;\n"
	         "\t\t\tif (t > 0)\n\t\t\t\ts->tgt[(size_t)b * T + t - 1] = id;\n\t\t}\n\n");
	for (int i = 0; i < tp->n_ops; i++) {
		if (i > 0 && tp->ops[i].op && tp->ops[i].op->layer >= 0 &&
		    (!tp->ops[i - 1].op || tp->ops[i - 1].op->layer != tp->ops[i].op->layer))
			emit_out(e, "\n\t/* ---- layer %d ---- */\n", tp->ops[i].op->layer);
		forward_op(e, tp, &tp->ops[i]);
	}
	emit_out(e, "\tif (!grads)\n\t\treturn 0;\n\n\t/* ---- the backward ---- */\n"
	         "\tfor (int i = 0; i < N_TENSORS; i++)\n"
	         "\t\tmemset(s->g[i], 0, sizeof(float) * (size_t)train_tensors[i].shape[0] *\n"
	         "\t\t       (size_t)(train_tensors[i].ndim == 2 ? train_tensors[i].shape[1] : 1));\n");
	for (int i = tp->n_ops - 1; i >= 0; i--)
		backward_op(e, tp, i);
	emit_out(e, "\treturn 0;\n}\n#undef V\n\n");

	char f1[32], f2[32], f3[32];
	emit_out(e, "const tfm_train_api %s_train_api = {\n\t\"%s\", VOCAB, MAX_SEQ, train_tensors, N_TENSORS,\n"
	         "\t%s, %s, %s,\n\ttrain_open, train_close, train_step,\n};\n\n", n, n,
	         model_float_text(m->dropout, f1), model_float_text(m->z_loss, f2),
	         model_float_text(m->weight_decay, f3));
	emit_out(e, "int %s_finetune_open(tfm_finetune **ft, const char *path, const tfm_finetune_options *o,\n"
	         "\ttfm_error *err)\n{\n\ttfm_weights w;\n\tint rc;\n\n\t*ft = NULL;\n"
	         "\tif (path)\n\t\treturn tfm_finetune_open(ft, &%s_train_api, path, o, err);\n"
	         "\tif (N_DEFAULT_WEIGHTS == 0)\n"
	         "\t\treturn tfm_fail(err, \"model %s: no weights path given, and its spec names none\");\n"
	         "\tif (tfm_weights_open(&w, default_weights, N_DEFAULT_WEIGHTS, train_tensors, N_TENSORS, err))\n"
	         "\t\treturn -1;\n"
	         "\trc = tfm_finetune_open_tensors(ft, &%s_train_api, (const float *const *)w.data, o, err);\n"
	         "\ttfm_weights_free(&w);\n\treturn rc;\n}\n\n", n, n, n, n);
}
