/* emit.c: from the operation list to C.
 *
 * The output is one translation unit per model: a banner (the resolved
 * spec, its cost, how to build and use it), the dimensions as constants, the
 * instance struct with every weight named as in MODEL_REFERENCE.md, the
 * kernels specialised to the model's shapes, and the forward pass unrolled
 * layer by layer, one labelled statement per operation of the IR.
 *
 * What is unrolled, and why: the layer stack, because each layer's
 * statements then name their own weights and a reader sees the model; the
 * inner loops of the matrix products get constant trip counts (the
 * compiler unrolls and schedules them).  Prefill products are
 * register-tiled (rows x tokens, so each load feeds several FMAs); decode
 * products read w row after row with four accumulators, one sequential
 * stream: measured on s42, 55 -> 69 tok/s against eight interleaved rows.
 * Elementwise operations (norms, activations, RoPE) are plain loops over
 * constants: they are a few percent of the work, and the compiler
 * vectorises them.
 *
 * Attention is not specialised: its length grows with the position and it
 * reads the KV cache, not the weights, so constants buy nothing there.
 * Every target calls the runtime's kernel of its own instruction set
 * (tfm_kernels.attention), which streams the cache in blocks shared by the
 * queries of a GQA group; it replaced a per-head loop emitted here that
 * kept the output in memory (s15 decode: attention from 8.8% of the time
 * to 6.2%, 150 -> 160 tok/s). */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "emit_internal.h"
#include "tfm.h"


#define BATCH_MAX 128		/* tokens per chunk of a long prompt */
#define DECODE_ACC 4		/* accumulators per row when decoding */
/* Decode prefetches bf16 weights this many bytes ahead, a line at a time:
 * on s110, 40 -> 47 tok/s at 1 thread (256 to 2048 bytes all help, 1024
 * most).  f32 weights are not prefetched: 256 bytes ahead changed nothing
 * and 512 or more lost up to 20%. */
#define DECODE_PF_BF16 1024

void emit_out(Emitter *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(e->f, fmt, ap);
	va_end(ap);
}

/* A target spelling filled in; a few rotating buffers so that several can
 * appear in one emit_out() call. */
static const char *sp(const char *fmt, ...)
{
	static char bufs[8][256];
	static int next;
	char *b = bufs[next++ & 7];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b, 256, fmt, ap);
	va_end(ap);
	return b;
}

/* The C field name of a tensor: "layers.3.attention.wq.bias" -> wq_bias,
 * "attention_norm.weight" -> attention_norm, "tok_embeddings.weight" ->
 * tok_embeddings. */
static const char *field(const Tensor *t, char buf[64])
{
	const char *s = t->name;
	int n = 0;

	if (t->layer >= 0)
		s = strchr(strchr(s, '.') + 1, '.') + 1;
	if (strncmp(s, "attention.", 10) == 0)
		s += 10;
	else if (strncmp(s, "feed_forward.", 13) == 0)
		s += 13;
	for (; *s && n < 63; s++)
		buf[n++] = *s == '.' ? '_' : *s;
	buf[n] = 0;
	if (n > 7 && strcmp(buf + n - 7, "_weight") == 0)
		buf[n - 7] = 0;
	return buf;
}

/* How C code refers to tensor i of the instance m. */
static const char *tensor_ref(const Emitter *e, int i)
{
	static char bufs[4][96];
	static int next;
	char f[64], *b = bufs[next++ & 3];
	const Tensor *t = &e->p->tensors[i];

	if (t->layer >= 0)
		snprintf(b, 96, "m->layer[%d].%s", t->layer, field(t, f));
	else
		snprintf(b, 96, "m->%s", field(t, f));
	return b;
}

/* How p holds its matrices and embeddings, for comments: "all f32", or
 * their types ("matrices and embeddings in q4_K (10) and q6_K (3) ...").
 * Static text. */
static const char *weights_held(const Program *p)
{
	static char buf[256];
	int count[64] = { 0 }, kinds = 0;
	size_t used;

	for (int i = 0; i < p->n_tensors; i++)
		if (p->tensors[i].ndim == 2 && p->tensors[i].dtype >= 0 && p->tensors[i].dtype < 64)
			kinds += count[p->tensors[i].dtype]++ == 0;
	if (kinds == 1 && count[DTYPE_F32])
		return "all f32";
	used = (size_t)snprintf(buf, sizeof buf, "matrices and embeddings in");
	for (int k = 0, seen = 0; k < n_weight_dtypes; k++) {
		if (!count[weight_dtypes[k].id])
			continue;
		used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s", seen++ ? (seen == kinds ? " and " : ", ") : " ",
		                         weight_dtypes[k].name);
		if (kinds > 1)
			used += (size_t)snprintf(buf + used, sizeof buf - used, " (%d)", count[weight_dtypes[k].id]);
	}
	snprintf(buf + used, sizeof buf - used, "\n * (widened to f32 as they are read), vectors in f32");
	return buf;
}

/* The C type of tensor i's elements. */
static const char *tensor_type(const Emitter *e, int i)
{
	return dtype_info(e->p->tensors[i].dtype)->c_type;
}

/* 1 when tensor i is held in one of GGML's quantized formats. */
static int tensor_quant(const Emitter *e, int i)
{
	return dtype_is_quant(e->p->tensors[i].dtype);
}

/* Element j (C text) of tensor i as a float. */
static const char *tensor_elem(const Emitter *e, int i, const char *j)
{
	return e->p->tensors[i].dtype == DTYPE_BF16 ? sp("tfm_bf16_to_f32(%s[%s])", tensor_ref(e, i), j)
	                                            : sp("%s[%s]", tensor_ref(e, i), j);
}

/* The name of the matrix-product kernel of op (a shape and a weight type). */
static const char *matmul_name(const Emitter *e, const Op *op)
{
	return sp("matmul_%s%lldx%lld", e->p->tensors[op->w].dtype == DTYPE_BF16 ? "bf16_" : "",
	          op->rows, op->cols);
}

/* A float constant as C source: the shortest text that reads back as the
 * same float, with the f suffix. */
const char *emit_flt(double v)
{
	static char bufs[4][40];
	static int next;
	char *b = bufs[next++ & 3];

	for (int prec = 1; prec <= 9; prec++) {
		snprintf(b, 40, "%.*g", prec, v);
		if ((float)strtod(b, NULL) == (float)v)
			break;
	}
	if (!strpbrk(b, ".eEn"))
		strcat(b, ".0");
	strcat(b, "f");
	return b;
}

/* s as a C string literal, every byte that is not plain printable ASCII
 * (and the quote, the backslash and '?', against trigraphs) escaped. */
void emit_c_string(Emitter *e, const char *s)
{
	emit_out(e, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\' || *p == '?')
			emit_out(e, "\\%c", *p);
		else if (*p >= 32 && *p < 127)
			emit_out(e, "%c", *p);
		else
			emit_out(e, "\\%03o", *p);
	}
	emit_out(e, "\"");
}

static uint64_t fnv1a(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
	return h;
}

static void upper(const char *s, char *buf, size_t size)
{
	size_t i;
	for (i = 0; s[i] && i + 1 < size; i++)
		buf[i] = (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : s[i]);
	buf[i] = 0;
}

/* ---- Banner ---------------------------------------------------------------- */

/* A path as comment text: "*" followed by "/" would end the comment. */
static const char *comment_safe(const char *s)
{
	return strstr(s, "*/") ? "(a path that cannot appear in a C comment)" : s;
}

static void banner(Emitter *e, const EmitInfo *info, const char *file_kind)
{
	const Model *m = e->m;
	char *spec = NULL;
	size_t len = 0;
	FILE *s = open_memstream(&spec, &len);
	Cost c;

	model_write_tfm(m, s, "");
	fclose(s);
	model_cost(m, &c);
	emit_out(e, "/* %s.%s: model %s, generated by tfmc %s for target %s.\n", m->name, file_kind,
	    m->name, TFM_VERSION, e->t->name);
	emit_out(e, " * From %s; do not edit: change the spec and run tfmc again.\n", info->spec_path);
	emit_out(e, " *\n * The resolved model (spec hash %016llx):\n *\n",
	    (unsigned long long)fnv1a(spec, len));
	for (char *line = strtok(spec, "\n"); line; line = strtok(NULL, "\n"))
		emit_out(e, " *   %s\n", line);
	free(spec);
	long long bytes = 0;
	for (int i = 0; i < e->p->n_tensors; i++) {
		const Tensor *t = &e->p->tensors[i];
		bytes += dtype_bytes(t->dtype, t->shape[0], t->ndim == 2 ? t->shape[1] : 1);
	}
	const int kv16 = e->p->kv_dtype == DTYPE_F16;
	emit_out(e, " *\n * Cost: %lld parameters (%lld embedding); %lld FLOPs per token plus %lld per\n"
	    " * cached position; KV cache %lld bytes per position (%s).\n * Weights: %lld bytes, %s.\n",
	    c.params, c.params_embedding, c.flops_linear, c.flops_attn_per_ctx,
	    kv16 ? c.kv_bytes_per_token / 2 : c.kv_bytes_per_token, kv16 ? "f16" : "f32", bytes, weights_held(e->p));
	for (int i = 0; i < e->p->n_weights; i++)
		emit_out(e, " * %s %s\n", i ? "          " : "Weights at:", comment_safe(e->p->weights[i]));
	if (e->p->tokenizer)
		emit_out(e, " * Tokenizer: %s\n", comment_safe(e->p->tokenizer));
}

/* ---- Header ---------------------------------------------------------------- */

static void emit_header(Emitter *e, const EmitInfo *info)
{
	const char *n = e->m->name;
	char up[80];

	upper(n, up, sizeof up);
	banner(e, info, "h");
	emit_out(e, " *\n"
	    " * Use (compile %s.c with -I<tfmc>/runtime and link <tfmc>/build/libtfmrt.a\n"
	    " * " TFM_LIBS "; or let `tfmc build` do it):\n"
	    " *\n"
	    " *     tfm_error err;\n"
	    " *     %s *m;\n"
	    " *     if (%s_open(&m, \"weights.safetensors\", 2, &err)) { puts(err.msg); exit(1); }\n"
	    " *     int prompt[] = { 1, 15043 };\n"
	    " *     const float *logits = %s_forward(m, prompt, 2, 0, 0, &err);   // [%s_VOCAB]\n"
	    " *     ...\n"
	    " *     %s_close(m);\n"
	    " */\n", n, n, n, n, up, n);
	emit_out(e, "#ifndef %s_H\n#define %s_H\n\n#include <stddef.h>\n#include \"tfm.h\"\n\n", up, up);
	emit_out(e, "#define %s_VOCAB %lld\n#define %s_MAX_SEQ %lld\n#define %s_D_MODEL %lld\n"
	    "#define %s_N_LAYER %lld\n\n", up, e->m->vocab, up, e->m->max_seq, up, e->m->d_model, up,
	    e->m->n_layer);
	emit_out(e, "/* One instance of the model: its weights (borrowed or owned), its KV cache\n"
	    " * and its working buffers.  Instances share nothing: several may live in\n"
	    " * one process, each used by one thread at a time. */\n"
	    "typedef struct %s %s;\n\n", n, n);
	emit_out(e, "/* Creates an instance from its weights: a safetensors file, a Hugging Face\n"
	    " * checkpoint folder or a llama2.c .bin (mapped; tensors stored as the model\n"
	    " * holds them (%s) used in place, others converted), checked\n"
	    " * against the tensor list, with a pool of n_threads threads.  0, or -1\n"
	    " * with a message in err.\n", weights_held(e->p));
	emit_out(e, " * weights_path NULL: the files the spec names (`weights`; %s). */\n", e->p->n_weights
	    ? "recorded at emit time" : "none for this model");
	emit_out(e, "int %s_open(%s **m, const char *weights_path, int n_threads, tfm_error *err);\n\n", n, n);
	emit_out(e, "/* The same over a safetensors image in memory, which must outlive m. */\n"
	    "int %s_open_memory(%s **m, const void *data, size_t size, int n_threads, tfm_error *err);\n\n",
	    n, n);
	emit_out(e, "/* The same over tensors already in memory, in the order of %s_api.tensors,\n"
	    " * each of the type it declares (used in place: they must outlive m). */\n"
	    "int %s_open_tensors(%s **m, void *const *weights, int n_threads, tfm_error *err);\n\n",
	    n, n, n);
	emit_out(e, "/* Forgets the KV cache: the next forward may start at position 0. */\n"
	    "void %s_reset(%s *m);\n\n", n, n);
	emit_out(e, "/* Runs tokens[0..n-1] at positions pos..pos+n-1 and returns the logits:\n"
	    " * [n, %s_VOCAB] when all is non-zero, else [1, %s_VOCAB] for the last token.\n"
	    " * Token ids must be in [0, %s_VOCAB) and pos + n <= %s_MAX_SEQ.  The\n"
	    " * logits stay valid until the next call; NULL with a message in err on\n"
	    " * bad input. */\n"
	    "const float *%s_forward(%s *m, const int *tokens, int n, int pos, int all, tfm_error *err);\n\n",
	    up, up, up, up, n, n);
	emit_out(e, "void %s_close(%s *m);\n\n", n, n);
	emit_out(e, "/* Opens the model's tokenizer: path (a tokenizer.json, a llama2.c\n"
	    " * tokenizer.bin or a model folder), or when NULL the one the spec names\n"
	    " * (%s).  Then tfm_tokenizer_encode(t, text, len, 1, ...) gives a\n"
	    " * prompt's ids with the BOS its configuration adds, tfm_tokenizer_decode\n"
	    " * the text of ids, tfm_tokenizer_is_eos the end of a generation, and\n"
	    " * tfm_tokenizer_close frees it (tfm.h). */\n"
	    "int %s_tokenizer_open(tfm_tokenizer **t, const char *path, tfm_error *err);\n\n",
	    e->p->tokenizer ? "recorded at emit time" : "none for this model", n);
	emit_out(e, "/* The same model for code that knows no model (tfm_main, tfmc run). */\n"
	    "extern const tfm_model_api %s_api;\n\n", n);
	if (info->train)
		emit_train_header(e);
	emit_out(e, "#endif\n");
}

/* ---- Kernels ---------------------------------------------------------------- */

/* One register tile of a matrix product: `nr` rows of w (w0.., from row r)
 * times `nt` tokens of x (from token t), accumulated over the whole row in
 * nr * nt vector registers; each load of w feeds nt FMAs and each load of x
 * nr.  The k loop has a constant trip count; the last partial vector uses
 * the target's masked load. */
static void emit_tile(Emitter *e, int nr, int nt, long long rows, long long cols, int bf16,
                      const char *ind)
{
	const Target *t = e->t;
	const char *wl = bf16 ? t->load_bf16 : t->load, *wlt = bf16 ? t->load_bf16_tail : t->load_tail;
	long long main_len = cols / t->lanes * t->lanes;
	int tail = (int)(cols - main_len);

	for (int j = 0; j < nt; j++)
		emit_out(e, "%sconst float *x%d = x + (size_t)(t + %d) * %lld;\n", ind, j, j, cols);
	emit_out(e, "%s%s ", ind, t->vec);
	for (int i = 0; i < nr; i++)
		for (int j = 0; j < nt; j++)
			emit_out(e, "%sa%d%d = %s", i || j ? ", " : "", i, j, t->zero);
	emit_out(e, ";\n");
	for (int part = 0; part < 2; part++) {
		if (part == 0 && !main_len)
			continue;
		if (part == 1 && !tail)
			continue;
		if (part == 0)
			emit_out(e, "%sfor (int k = 0; k < %lld; k += %d) {\n", ind, main_len, t->lanes);
		else
			emit_out(e, "%s{\n%s\tconst int k = %lld;\n", ind, ind, main_len);
		for (int j = 0; j < nt; j++)
			emit_out(e, "%s\t%s v%d = %s;\n", ind, t->vec, j,
			    part ? sp(t->load_tail, sp("x%d + k", j), tail) : sp(t->load, sp("x%d + k", j)));
		for (int i = 0; i < nr; i++) {
			emit_out(e, "%s\t%s u%d = %s;\n", ind, t->vec, i,
			    part ? sp(wlt, sp("w%d + k", i), tail) : sp(wl, sp("w%d + k", i)));
			for (int j = 0; j < nt; j++) {
				char acc[24];
				snprintf(acc, sizeof acc, "a%d%d", i, j);
				emit_out(e, "%s\t%s = %s;\n", ind, acc, sp(t->fma, sp("u%d", i), sp("v%d", j), acc));
			}
		}
		emit_out(e, "%s}\n", ind);
	}
	for (int i = 0; i < nr; i++)
		for (int j = 0; j < nt; j++)
			emit_out(e, "%sy[(size_t)(t + %d) * %lld + r + %d] = %s%s%d%d%s + (b ? b[r + %d] : 0.0f);\n", ind, j, rows,
			    i, t->lanes > 1 ? "hsum(" : "", "a", i, j, t->lanes > 1 ? ")" : "", i);
}

/* y[t, r] = w[r, :] . x[t, :] (+ b[r]) for one shape of w.  Tokens go in
 * blocks whose rows of x stay in the L2 cache while every row block of w
 * passes over them; inside, register tiles of tile_rows x tile_tokens.
 * With one token (decode) this streams tile_rows rows of w at a time. */
static void emit_matmul_kernel(Emitter *e, const Op *op)
{
	const Target *t = e->t;
	const long long rows = op->rows, cols = op->cols;
	const int bf16 = e->p->tensors[op->w].dtype == DTYPE_BF16;
	const char *wl = bf16 ? t->load_bf16 : t->load, *wlt = bf16 ? t->load_bf16_tail : t->load_tail;
	const char *wtype = tensor_type(e, op->w);
	int nr = t->tile_rows, nt = t->tile_tokens;
	/* A block of x: as many tokens as fit in 256 KiB, a multiple of the tile. */
	long long block = (256 * 1024 / 4) / cols / nt * nt;

	if (block < nt)
		block = nt;
	emit_out(e, "/* y[t, r] = w[r, :] . x[t, :] (+ b[r]) for t < n and r0 <= r < r1; w is [%lld, %lld]%s. */\n",
	    rows, cols, bf16 ? ", bfloat16" : "");
	emit_out(e, "static void %s(float *restrict y, const float *restrict x, const void *restrict wp,\n"
	    "\tconst float *restrict b, int n, int r0, int r1)\n{\n\tconst %s *w = wp;\n\n",
	    matmul_name(e, op), wtype);
	/* Decode: one token; w is read row after row, one sequential stream
	 * the prefetchers follow, with DECODE_ACC accumulators per row so the
	 * FMAs do not wait on each other. */
	if (t->lanes > 1 && cols >= DECODE_ACC * t->lanes) {
		long long step = (long long)DECODE_ACC * t->lanes, main_len = cols / step * step;
		emit_out(e, "\tif (n == 1) {\n\t\tfor (int r = r0; r < r1; r++) {\n"
		    "\t\t\tconst %s *wr = w + (size_t)r * %lld;\n\t\t\t%s ", wtype, cols, t->vec);
		for (int i = 0; i < DECODE_ACC; i++)
			emit_out(e, "%sa%d = %s", i ? ", " : "", i, t->zero);
		emit_out(e, ";\n\t\t\tint k = 0;\n\n\t\t\tfor (; k < %lld; k += %lld) {\n", main_len, step);
		for (long long l = 0; bf16 && l < step * 2; l += 64)
			emit_out(e, "\t\t\t\t__builtin_prefetch((const char *)(wr + k) + %lld, 0, 3);\n", DECODE_PF_BF16 + l);
		for (int i = 0; i < DECODE_ACC; i++)
			emit_out(e, "\t\t\t\ta%d = %s;\n", i, sp(t->fma, sp(wl, sp("wr + k + %d", i * t->lanes)),
			                                         sp(t->load, sp("x + k + %d", i * t->lanes)), sp("a%d", i)));
		emit_out(e, "\t\t\t}\n");
		for (long long k = main_len; k < cols; k += t->lanes) {
			int n_left = cols - k < t->lanes ? (int)(cols - k) : t->lanes;
			if (n_left == t->lanes)
				emit_out(e, "\t\t\ta0 = %s;\n", sp(t->fma, sp(wl, sp("wr + %lld", k)), sp(t->load, sp("x + %lld", k)), "a0"));
			else
				emit_out(e, "\t\t\ta0 = %s;\n", sp(t->fma, sp(wlt, sp("wr + %lld", k), n_left),
				                                    sp(t->load_tail, sp("x + %lld", k), n_left), "a0"));
		}
		emit_out(e, "\t\t\ty[r] = hsum(");
		for (int i = 0; i < DECODE_ACC; i++)
			emit_out(e, i ? " + a%d" : "a%d", i);
		emit_out(e, ") + (b ? b[r] : 0.0f);\n\t\t}\n\t\treturn;\n\t}\n");
	}
	emit_out(e, "\tfor (int t0 = 0; t0 < n; t0 += %lld) {\n\t\tint t1 = t0 + %lld < n ? t0 + %lld : n, r = r0;\n\n",
	    block, block, block);
	for (int rb = nr; rb >= 1; rb = rb > 1 ? 1 : 0) {
		emit_out(e, "\t\tfor (; r + %d <= r1; r += %d) {\n\t\t\tconst %s *w0 = w + (size_t)r * %lld", rb, rb,
		    wtype, cols);
		for (int i = 1; i < rb; i++)
			emit_out(e, ", *w%d = w%d + %lld", i, i - 1, cols);
		emit_out(e, ";\n\t\t\tint t = t0;\n\n");
		for (int tb = rb == nr ? nt : 1; tb >= 1; tb = tb > 1 ? 1 : 0) {
			emit_out(e, "\t\t\tfor (; t + %d <= t1; t += %d) {\n", tb, tb);
			emit_tile(e, rb, tb, rows, cols, bf16, "\t\t\t\t");
			emit_out(e, "\t\t\t}\n");
		}
		emit_out(e, "\t\t}\n");
	}
	emit_out(e, "\t}\n}\n\n");
}

static void emit_norm_kernel(Emitter *e, int fn, long long width)
{
	const char *kind = fn == NORM_RMSNORM ? "rmsnorm" : "layernorm";

	emit_out(e, "/* out[r] = %s(in[r]) over rows of %lld (out may be in). */\n", kind, width);
	emit_out(e, "static void %s_%lld(float *out, const float *in, const float *w, const float *b, int rows, float eps)\n{\n",
	    kind, width);
	emit_out(e, "\tfor (int r = 0; r < rows; r++) {\n");
	emit_out(e, "\t\tconst float *a = in + (size_t)r * %lld;\n\t\tfloat *o = out + (size_t)r * %lld;\n", width, width);
	if (fn == NORM_RMSNORM) {
		emit_out(e, "\t\tfloat ss = 0.0f;\n\t\tfor (int k = 0; k < %lld; k++)\n\t\t\tss += a[k] * a[k];\n", width);
		emit_out(e, "\t\tfloat s = 1.0f / sqrtf(ss / %lld.0f + eps);\n", width);
		emit_out(e, "\t\tfor (int k = 0; k < %lld; k++)\n\t\t\to[k] = a[k] * s * w[k];\n", width);
		emit_out(e, "\t\t(void)b;\n");
	} else {
		emit_out(e, "\t\tfloat mean = 0.0f, var = 0.0f;\n\t\tfor (int k = 0; k < %lld; k++)\n\t\t\tmean += a[k];\n", width);
		emit_out(e, "\t\tmean /= %lld.0f;\n\t\tfor (int k = 0; k < %lld; k++)\n\t\t\tvar += (a[k] - mean) * (a[k] - mean);\n",
		    width, width);
		emit_out(e, "\t\tfloat s = 1.0f / sqrtf(var / %lld.0f + eps);\n", width);
		emit_out(e, "\t\tfor (int k = 0; k < %lld; k++)\n\t\t\to[k] = (a[k] - mean) * s * w[k] + b[k];\n", width);
	}
	emit_out(e, "\t}\n}\n\n");
}

/* The parts every model has: elementwise helpers, threading glue. */
static void emit_common(Emitter *e)
{
	const Model *m = e->m;
	int act = m->activation;

	emit_out(e, "/* out += a, n floats. */\nstatic void add(float *restrict out, const float *restrict a, int n)\n{\n"
	    "\tfor (int i = 0; i < n; i++)\n\t\tout[i] += a[i];\n}\n\n");
	if (e->t->kernels)
		return;
	if ((act == ACT_GELU || act == ACT_GEGLU) && m->gelu == GELU_TANH)
		emit_out(e, "static float gelu_tanh(float x)\n{\n"
		    "\treturn 0.5f * x * (1.0f + tanhf(0.7978845608f * (x + 0.044715f * x * x * x)));\n}\n\n");
	if ((act == ACT_GELU || act == ACT_GEGLU) && m->gelu == GELU_ERF)
		emit_out(e, "static float gelu_erf(float x)\n{\n\treturn 0.5f * x * (1.0f + erff(x * 0.7071067812f));\n}\n\n");
	if (act == ACT_SWIGLU)
		emit_out(e, "static float silu(float x)\n{\n\treturn x / (1.0f + expf(-x));\n}\n\n");
	int float_matmuls = 0;	/* quantized products call the runtime's matmul_q */
	for (int i = 0; i < e->p->n_ops; i++)
		float_matmuls += e->p->ops[i].kind == OP_MATMUL && !tensor_quant(e, e->p->ops[i].w);
	if (!float_matmuls)
		return;
	emit_out(e, "/* A matrix product split by rows over the pool's threads. */\n"
	    "typedef void matmul_fn(float *restrict, const float *restrict, const void *restrict,\n"
	    "\tconst float *restrict, int, int, int);\n\n"
	    "typedef struct matmul_job {\n\tmatmul_fn *fn;\n\tfloat *y;\n\tconst float *x;\n\tconst void *w;\n"
	    "\tconst float *b;\n\tint n, rows;\n} matmul_job;\n\n"
	    "static void matmul_worker(void *ctx, int i, int nt)\n{\n"
	    "\tconst matmul_job *j = ctx;\n"
	    "\tint per = ((j->rows + nt - 1) / nt + %d) / %d * %d;\n"
	    "\tint r0 = i * per, r1 = r0 + per < j->rows ? r0 + per : j->rows;\n\n"
	    "\tif (r0 < r1)\n\t\tj->fn(j->y, j->x, j->w, j->b, j->n, r0, r1);\n}\n\n"
	    "static void matmul(tfm_pool *pool, matmul_fn *fn, float *y, const float *x, const void *w,\n"
	    "\tconst float *b, int n, int rows)\n{\n"
	    "\tmatmul_job j;\n\n\tj.fn = fn;\n\tj.y = y;\n\tj.x = x;\n\tj.w = w;\n\tj.b = b;\n\tj.n = n;\n\tj.rows = rows;\n"
	    "\ttfm_pool_run(pool, matmul_worker, &j);\n}\n\n",
	    e->t->tile_rows - 1, e->t->tile_rows, e->t->tile_rows);
}

/* ---- The instance --------------------------------------------------------- */

static void emit_struct(Emitter *e)
{
	const Program *p = e->p;
	char f[64];

	emit_out(e, "struct %s {\n\t/* Weights (MODEL_REFERENCE.md section 3), bound in place. */\n", e->m->name);
	for (int i = 0; i < p->n_tensors && p->tensors[i].layer < 0; i++)
		emit_out(e, "\tconst %s *%s;\t/* %s */\n", tensor_type(e, i), field(&p->tensors[i], f), p->tensors[i].name);
	emit_out(e, "\tstruct {\n");
	for (int i = 0; i < p->n_tensors; i++)
		if (p->tensors[i].layer == 0) {
			const Tensor *t = &p->tensors[i];
			if (t->ndim == 2)
				emit_out(e, "\t\tconst %s *%s;\t/* [%lld, %lld] */\n", tensor_type(e, i), field(t, f), t->shape[0],
				    t->shape[1]);
			else
				emit_out(e, "\t\tconst %s *%s;\t/* [%lld] */\n", tensor_type(e, i), field(t, f), t->shape[0]);
		}
	emit_out(e, "\t} layer[N_LAYER];\n");
	for (int i = 0; i < p->n_tensors; i++)
		if (p->tensors[i].layer < 0 && i > 0 && p->tensors[i - 1].layer >= 0) {
			for (int j = i; j < p->n_tensors; j++)
				emit_out(e, "\tconst %s *%s;\t/* %s */\n", tensor_type(e, j), field(&p->tensors[j], f),
				    p->tensors[j].name);
			break;
		}
	emit_out(e, "\n\t/* Run state. */\n");
	for (int b = 0; b < BUF__COUNT; b++)
		if (b != B_LOGITS)
			emit_out(e, "\tfloat *%s;\t/* [BATCH, %lld] */\n", buffer_name[b], p->width[b]);
	emit_out(e, "\tvoid *k_cache, *v_cache;\t/* [N_LAYER, N_KV_HEAD, MAX_SEQ, HEAD_DIM] of KV_DTYPE */\n");
	if (e->m->position == POS_ROPE)
		emit_out(e, "\tfloat *rope_cos, *rope_sin;\t/* [MAX_SEQ, HEAD_DIM / 2] */\n");
	emit_out(e, "\tfloat *logits;\t/* [logits_rows, VOCAB] */\n\tint logits_rows;\n");
	emit_out(e, "\tconst tfm_kernels *kern;\t/* the runtime's precompiled kernels: %s */\n",
	    e->t->kernels ? "every hot operation" : "attention");
	emit_out(e, "\ttfm_pool *pool;\n\ttfm_weights weights;\t/* when opened from files */\n"
	    "\ttfm_file *file;\t/* when opened from memory */\n\tvoid **bound;\t/* its tensors */\n};\n\n");
}

static void emit_constants(Emitter *e)
{
	const Model *m = e->m;

	emit_out(e, "#define VOCAB %lld\n#define D_MODEL %lld\n#define N_LAYER %lld\n#define N_HEAD %lld\n"
	    "#define N_KV_HEAD %lld\n#define HEAD_DIM %lld\n#define D_FF %lld\n#define MAX_SEQ %lld\n",
	    m->vocab, m->d_model, m->n_layer, m->n_head, m->n_kv_head, m->head_dim, m->d_ff, m->max_seq);
	emit_out(e, "#define Q_DIM (N_HEAD * HEAD_DIM)\n#define KV_DIM (N_KV_HEAD * HEAD_DIM)\n");
	emit_out(e, "#define KV_DTYPE %s\t/* the KV cache's elements, of KV_BYTES */\n#define KV_BYTES %d\n",
	    e->p->kv_dtype == DTYPE_F16 ? "TFM_F16" : "TFM_F32", e->p->kv_dtype == DTYPE_F16 ? 2 : 4);
	emit_out(e, "#define KV_LAYER(c, l) ((char *)(c) + (size_t)(l) * MAX_SEQ * KV_DIM * KV_BYTES)\n");
	emit_out(e, "#define BATCH %lld\t/* tokens per chunk of a long prompt */\n", m->max_seq < BATCH_MAX ? m->max_seq : BATCH_MAX);
	emit_out(e, "#define N_TENSORS %d\n\n", e->p->n_tensors);
}

static void emit_tensor_table(Emitter *e)
{
	const Program *p = e->p;

	emit_out(e, "static const tfm_tensor_decl tensors[N_TENSORS] = {\n");
	for (int i = 0; i < p->n_tensors; i++) {
		const Tensor *t = &p->tensors[i];
		emit_out(e, "\t{ \"%s\", %d, { %lld, %lld }, %s },\n", t->name, t->ndim, t->shape[0],
		    t->ndim == 2 ? t->shape[1] : 0, dtype_info(t->dtype)->c_name);
	}
	emit_out(e, "};\n\n");
}

/* ---- Operations ------------------------------------------------------------ */

static void emit_rope(Emitter *e)
{
	const Model *m = e->m;

	emit_out(e, "/* Rotates each of `heads` heads of x[t] (stride `stride`) by position pos+t:\n"
	    " * pairs (u, w) -> (u cos a - w sin a, u sin a + w cos a), a = (pos+t) theta^(-2i/HEAD_DIM),\n"
	    " * the pair of dimension i being %s. */\n",
	    m->rope_style == ROPE_HALF ? "(x[i], x[i + HEAD_DIM/2]) (rope_style = half)"
	                              : "(x[2i], x[2i+1]) (rope_style = interleaved)");
	emit_out(e, "static void rope(const struct %s *m, float *x, int n, int pos, int heads, int stride)\n{\n", m->name);
	emit_out(e, "\tfor (int t = 0; t < n; t++) {\n"
	    "\t\tconst float *c = m->rope_cos + (size_t)(pos + t) * (HEAD_DIM / 2);\n"
	    "\t\tconst float *s = m->rope_sin + (size_t)(pos + t) * (HEAD_DIM / 2);\n"
	    "\t\tfor (int h = 0; h < heads; h++) {\n"
	    "\t\t\tfloat *v = x + (size_t)t * stride + h * HEAD_DIM;\n"
	    "\t\t\tfor (int i = 0; i < HEAD_DIM / 2; i++) {\n");
	if (m->rope_style == ROPE_HALF)
		emit_out(e, "\t\t\t\tfloat u = v[i], w = v[i + HEAD_DIM / 2];\n"
		    "\t\t\t\tv[i] = u * c[i] - w * s[i];\n\t\t\t\tv[i + HEAD_DIM / 2] = u * s[i] + w * c[i];\n");
	else
		emit_out(e, "\t\t\t\tfloat u = v[2 * i], w = v[2 * i + 1];\n"
		    "\t\t\t\tv[2 * i] = u * c[i] - w * s[i];\n\t\t\t\tv[2 * i + 1] = u * s[i] + w * c[i];\n");
	emit_out(e, "\t\t\t}\n\t\t}\n\t}\n}\n\n");
}

/* A product with quantized weights, on every target: the runtime's
 * matmul_q (no shape-specialized loop of its own). */
static void emit_matmul_q(Emitter *e, const Op *op)
{
	const char *o = op->out >= 0 ? buffer_name[op->out] : "";
	const char *a = op->a >= 0 ? buffer_name[op->a] : "";
	const char *dt = dtype_info(e->p->tensors[op->w].dtype)->c_name;
	const char *k = e->p->int8_act ? "matmul_qi8" : "matmul_q";

	if (op->head_only)
		emit_out(e, "\tm->kern->%s(m->pool, logits, m->%s + (size_t)h0 * %lld, %s, %s, NULL, n - h0, %lld, %lld);\n",
		    k, a, op->cols, tensor_ref(e, op->w), dt, op->rows, op->cols);
	else
		emit_out(e, "\tm->kern->%s(m->pool, m->%s, m->%s, %s, %s, %s, n, %lld, %lld);\n", k, o, a,
		    tensor_ref(e, op->w), dt, op->bias >= 0 ? tensor_ref(e, op->bias) : "NULL", op->rows, op->cols);
}

/* The operations the runtime has kernels for, as calls into them; returns
 * 0 for the others, which stay inline. */
static int emit_kernel_call(Emitter *e, const Op *op)
{
	const char *o = op->out >= 0 ? buffer_name[op->out] : "";
	const char *a = op->a >= 0 ? buffer_name[op->a] : "";
	const char *gelu = op->f == GELU_ERF ? "TFM_ACT_GELU_ERF" : "TFM_ACT_GELU_TANH";
	const char *bf16 = op->w >= 0 && e->p->tensors[op->w].dtype == DTYPE_BF16 ? "_bf16" : "";

	switch (op->kind) {
	case OP_MATMUL:
		if (tensor_quant(e, op->w))	/* any target: the runtime's block kernels */
			emit_matmul_q(e, op);
		else if (op->head_only)
			emit_out(e, "\tm->kern->matmul%s(m->pool, logits, m->%s + (size_t)h0 * %lld, %s, NULL, n - h0, %lld, %lld);\n",
			    bf16, a, op->cols, tensor_ref(e, op->w), op->rows, op->cols);
		else
			emit_out(e, "\tm->kern->matmul%s(m->pool, m->%s, m->%s, %s, %s, n, %lld, %lld);\n", bf16, o, a,
			    tensor_ref(e, op->w), op->bias >= 0 ? tensor_ref(e, op->bias) : "NULL", op->rows, op->cols);
		return 1;
	case OP_NORM:
		if (op->head_only)
			emit_out(e, "\tm->kern->norm(m->%s + (size_t)h0 * %lld, m->%s + (size_t)h0 * %lld, %s, %s, n - h0, %lld, %s);\n",
			    o, op->cols, a, op->cols, tensor_ref(e, op->w),
			    op->bias >= 0 ? tensor_ref(e, op->bias) : "NULL", op->cols, emit_flt(op->f));
		else
			emit_out(e, "\tm->kern->norm(m->%s, m->%s, %s, %s, n * %d, %lld, %s);\n", o, a, tensor_ref(e, op->w),
			    op->bias >= 0 ? tensor_ref(e, op->bias) : "NULL", op->heads, op->cols, emit_flt(op->f));
		return 1;
	case OP_ATTENTION:
		emit_out(e, "\t{\n\t\ttfm_attention a = { .q = m->q, .k_cache = KV_LAYER(m->k_cache, %d),\n"
		    "\t\t\t.v_cache = KV_LAYER(m->v_cache, %d), .out = m->att, .n = n, .pos = pos,\n"
		    "\t\t\t.n_head = N_HEAD, .n_kv_head = N_KV_HEAD, .head_dim = HEAD_DIM, .max_seq = MAX_SEQ,\n"
		    "\t\t\t.scale = %s, .softcap = %s, .kv_dtype = KV_DTYPE };\n"
		    "\t\tm->kern->attention(m->pool, &a);\n\t}\n",
		    op->layer, op->layer, emit_flt(1.0 / sqrt((double)e->m->head_dim)), emit_flt(op->f));
		return 1;
	case OP_GLU:
		emit_out(e, "\tm->kern->glu(m->%s, m->%s, (long)n * D_FF, %s);\n", o, a,
		    op->fn == ACT_SWIGLU ? "TFM_ACT_SILU" : gelu);
		return 1;
	case OP_ACT:
		emit_out(e, "\tm->kern->act(m->%s, (long)n * D_FF, %s);\n", o, op->fn == ACT_RELU ? "TFM_ACT_RELU" : gelu);
		return 1;
	}
	return 0;
}

/* One operation of the IR as one statement of the forward pass. */
static void emit_op(Emitter *e, const Op *op)
{
	const Program *p = e->p;
	const char *o = op->out >= 0 ? buffer_name[op->out] : "";
	const char *a = op->a >= 0 ? buffer_name[op->a] : "";
	/* Operations of the output head run on rows h0..n-1 only. */
	const char *rows = op->head_only ? "(n - h0)" : "n";

	emit_out(e, "\t/* %s */\n", op->label);
	if ((e->t->kernels || op->kind == OP_ATTENTION || (op->kind == OP_MATMUL && tensor_quant(e, op->w)))
	    && emit_kernel_call(e, op))
		return;
	switch (op->kind) {
	case OP_EMBED:
		if (tensor_quant(e, op->w)) {	/* a row of blocks, decoded as GGML decodes it */
			emit_out(e, "\tfor (int t = 0; t < n; t++) {\n\t\tfloat *x = m->x + (size_t)t * D_MODEL;\n\n"
			    "\t\ttfm_dequantize(%s, %s + (size_t)tok[t] * %lld, x, D_MODEL);\n",
			    dtype_info(e->p->tensors[op->w].dtype)->c_name, tensor_ref(e, op->w),
			    dtype_bytes(e->p->tensors[op->w].dtype, 1, e->m->d_model));
			if (op->f != 1.0)
				emit_out(e, "\t\tfor (int k = 0; k < D_MODEL; k++)\n\t\t\tx[k] *= %s;\n", emit_flt(op->f));
			emit_out(e, "\t}\n");
			break;
		}
		emit_out(e, "\tfor (int t = 0; t < n; t++)\n\t\tfor (int k = 0; k < D_MODEL; k++)\n"
		    "\t\t\tm->x[(size_t)t * D_MODEL + k] = %s%s%s;\n",
		    tensor_elem(e, op->w, "(size_t)tok[t] * D_MODEL + k"), op->f != 1.0 ? " * " : "",
		    op->f != 1.0 ? emit_flt(op->f) : "");
		break;
	case OP_POS_ADD:
		if (op->fn == POS_LEARNED && tensor_quant(e, op->w))
			emit_out(e, "\tfor (int t = 0; t < n; t++) {\n\t\tfloat row[D_MODEL];\n\n"
			    "\t\ttfm_dequantize(%s, %s + (size_t)(pos + t) * %lld, row, D_MODEL);\n"
			    "\t\tadd(m->x + (size_t)t * D_MODEL, row, D_MODEL);\n\t}\n",
			    dtype_info(e->p->tensors[op->w].dtype)->c_name, tensor_ref(e, op->w),
			    dtype_bytes(e->p->tensors[op->w].dtype, 1, e->m->d_model));
		else if (op->fn == POS_LEARNED && e->p->tensors[op->w].dtype == DTYPE_BF16)
			emit_out(e, "\tfor (int i = 0; i < n * D_MODEL; i++)\n\t\tm->x[i] += %s;\n",
			    tensor_elem(e, op->w, "(size_t)pos * D_MODEL + i"));
		else if (op->fn == POS_LEARNED)
			emit_out(e, "\tadd(m->x, %s + (size_t)pos * D_MODEL, n * D_MODEL);\n", tensor_ref(e, op->w));
		else
			emit_out(e, "\tfor (int t = 0; t < n; t++)\n\t\tfor (int i = 0; i < D_MODEL / 2; i++) {\n"
			    "\t\t\tdouble a = (pos + t) / pow(10000.0, 2.0 * i / D_MODEL);\n"
			    "\t\t\tm->x[(size_t)t * D_MODEL + 2 * i] += (float)sin(a);\n"
			    "\t\t\tm->x[(size_t)t * D_MODEL + 2 * i + 1] += (float)cos(a);\n\t\t}\n");
		break;
	case OP_NORM:
		if (op->head_only)
			emit_out(e, "\t%s_%lld(m->%s + (size_t)h0 * %lld, m->%s + (size_t)h0 * %lld, %s, %s, %s, %s);\n",
			    op->fn == NORM_RMSNORM ? "rmsnorm" : "layernorm", op->cols, o, op->cols, a, op->cols,
			    tensor_ref(e, op->w), op->bias >= 0 ? tensor_ref(e, op->bias) : "NULL", rows,
			    emit_flt(op->f));
		else
			emit_out(e, "\t%s_%lld(m->%s, m->%s, %s, %s, n * %d, %s);\n",
			    op->fn == NORM_RMSNORM ? "rmsnorm" : "layernorm", op->cols, o, a,
			    tensor_ref(e, op->w), op->bias >= 0 ? tensor_ref(e, op->bias) : "NULL", op->heads,
			    emit_flt(op->f));
		break;
	case OP_MATMUL:
		if (op->head_only)
			emit_out(e, "\tmatmul(m->pool, %s, logits, m->%s + (size_t)h0 * %lld, %s, NULL, %s, %lld);\n",
			    matmul_name(e, op), a, op->cols, tensor_ref(e, op->w), rows, op->rows);
		else
			emit_out(e, "\tmatmul(m->pool, %s, m->%s, m->%s, %s, %s, n, %lld);\n", matmul_name(e, op), o, a,
			    tensor_ref(e, op->w), op->bias >= 0 ? tensor_ref(e, op->bias) : "NULL", op->rows);
		break;
	case OP_ROPE:
		emit_out(e, "\trope(m, m->%s, n, pos, %d, %lld);\n", o, op->heads, p->width[op->out]);
		break;
	case OP_KV_STORE:
		emit_out(e, "\tm->kern->kv_store(KV_LAYER(m->k_cache, %d), KV_LAYER(m->v_cache, %d), m->k, m->v, n, pos,\n"
		    "\t\tN_KV_HEAD, HEAD_DIM, MAX_SEQ, KV_DTYPE);\n", op->layer, op->layer);
		break;
	case OP_GLU:
		emit_out(e, "\tfor (int i = 0; i < n * D_FF; i++)\n\t\tm->%s[i] *= %s(m->%s[i]);\n", o,
		    op->fn == ACT_SWIGLU ? "silu" : op->f == GELU_ERF ? "gelu_erf" : "gelu_tanh", a);
		break;
	case OP_ACT:
		if (op->fn == ACT_RELU)
			emit_out(e, "\tfor (int i = 0; i < n * D_FF; i++)\n\t\tm->%s[i] = m->%s[i] > 0.0f ? m->%s[i] : 0.0f;\n", o, o, o);
		else
			emit_out(e, "\tfor (int i = 0; i < n * D_FF; i++)\n\t\tm->%s[i] = %s(m->%s[i]);\n", o,
			    op->f == GELU_ERF ? "gelu_erf" : "gelu_tanh", o);
		break;
	case OP_ADD:
		emit_out(e, "\tadd(m->%s, m->%s, n * %lld);\n", o, a, p->width[op->out]);
		break;
	case OP_SOFTCAP:
		emit_out(e, "\tfor (int i = 0; i < %s * VOCAB; i++)\n\t\tlogits[i] = %s * tanhf(logits[i] / %s);\n", rows,
		    emit_flt(op->f), emit_flt(op->f));
		break;
	}
}

static void emit_forward(Emitter *e)
{
	const Program *p = e->p;
	const Model *m = e->m;
	int layer = -2;

	emit_out(e, "/* The forward pass over one chunk: tokens tok[0..n-1] at positions\n"
	    " * pos..pos+n-1, n <= BATCH.  Logits of rows h0..n-1 go to logits. */\n"
	    "static void forward_chunk(struct %s *m, const int *tok, int n, int pos, int h0, float *logits)\n{\n",
	    m->name);
	for (int i = 0; i < p->n_ops; i++) {
		const Op *op = &p->ops[i];
		if (op->layer != layer) {
			if (op->layer >= 0)
				emit_out(e, "\n\t/* ---- layer %d ---- */\n", op->layer);
			else if (layer >= 0)
				emit_out(e, "\n\t/* ---- output ---- */\n\tif (h0 >= n)\n\t\treturn;\n");
			else
				emit_out(e, "\n");
			layer = op->layer;
		}
		emit_op(e, op);
	}
	emit_out(e, "}\n\n");
}

static void emit_api(Emitter *e)
{
	const Model *m = e->m;
	const char *n = m->name;
	char f[64];

	emit_out(e, "int %s_open_tensors(struct %s **out, void *const *w, int n_threads, tfm_error *err)\n{\n", n, n);
	emit_out(e, "\tstruct %s *m = calloc(1, sizeof *m);\n\n\t*out = NULL;\n\tif (!m)\n\t\treturn tfm_fail(err, \"out of memory\");\n", n);
	for (int i = 0; i < e->p->n_tensors; i++)
		emit_out(e, "\t%s = w[%d];\n", tensor_ref(e, i), i);
	{
		/* The JIT's kernels: those it was told, or the best this CPU runs;
		 * the others': those of their own instruction set. */
		const char *isa = e->t->kernels ? e->info->kernel_isa : e->t->name;
		emit_out(e, "\tm->kern = tfm_kernels_for(%s%s%s);\n\tif (!m->kern) {\n"
		    "\t\ttfm_fail(err, \"this CPU cannot run the %s kernels\");\n\t\tgoto fail;\n\t}\n",
		    isa ? "\"" : "", isa ? isa : "NULL", isa ? "\"" : "", isa ? isa : "runtime's");
	}
	emit_out(e, "\tif (tfm_pool_open(&m->pool, n_threads, err))\n\t\tgoto fail;\n");
	for (int b = 0; b < BUF__COUNT; b++)
		if (b != B_LOGITS)
			emit_out(e, "\tm->%s = tfm_alloc(sizeof(float) * BATCH * %lld);\n", buffer_name[b], e->p->width[b]);
	emit_out(e, "\tm->k_cache = tfm_alloc((size_t)KV_BYTES * N_LAYER * MAX_SEQ * KV_DIM);\n"
	    "\tm->v_cache = tfm_alloc((size_t)KV_BYTES * N_LAYER * MAX_SEQ * KV_DIM);\n"
	    "\tm->logits = tfm_alloc(sizeof(float) * VOCAB);\n\tm->logits_rows = 1;\n");
	emit_out(e, "\tif (");
	for (int b = 0; b < BUF__COUNT; b++)
		if (b != B_LOGITS)
			emit_out(e, "!m->%s || ", buffer_name[b]);
	emit_out(e, "!m->k_cache || !m->v_cache || !m->logits) {\n"
	    "\t\ttfm_fail(err, \"out of memory for the buffers of %s\");\n\t\tgoto fail;\n\t}\n", n);
	if (m->position == POS_ROPE) {
		emit_out(e, "\t/* RoPE angles: a = pos * theta^(-2i/HEAD_DIM), in double. */\n"
		    "\tm->rope_cos = tfm_alloc(sizeof(float) * MAX_SEQ * (HEAD_DIM / 2));\n"
		    "\tm->rope_sin = tfm_alloc(sizeof(float) * MAX_SEQ * (HEAD_DIM / 2));\n"
		    "\tif (!m->rope_cos || !m->rope_sin) {\n\t\ttfm_fail(err, \"out of memory\");\n\t\tgoto fail;\n\t}\n"
		    "\tfor (int p = 0; p < MAX_SEQ; p++)\n\t\tfor (int i = 0; i < HEAD_DIM / 2; i++) {\n"
		    "\t\t\tdouble a = p * pow(%s, -2.0 * i / HEAD_DIM);\n"
		    "\t\t\tm->rope_cos[p * (HEAD_DIM / 2) + i] = (float)cos(a);\n"
		    "\t\t\tm->rope_sin[p * (HEAD_DIM / 2) + i] = (float)sin(a);\n\t\t}\n",
		    model_float_text(m->rope_theta, f));
	}
	emit_out(e, "\t*out = m;\n\treturn 0;\nfail:\n\t%s_close(m);\n\treturn -1;\n}\n\n", n);

	emit_out(e, "int %s_open_memory(struct %s **out, const void *data, size_t size, int n_threads, tfm_error *err)\n{\n"
	    "\ttfm_file *file;\n\tvoid **bound = malloc(sizeof *bound * N_TENSORS);\n\n\t*out = NULL;\n"
	    "\tif (!bound)\n\t\treturn tfm_fail(err, \"out of memory\");\n"
	    "\tif (tfm_file_from_memory(&file, data, size, \"memory\", err)) {\n\t\tfree(bound);\n\t\treturn -1;\n\t}\n"
	    "\tif (tfm_file_bind(file, tensors, N_TENSORS, bound, err) || %s_open_tensors(out, bound, n_threads, err)) {\n"
	    "\t\ttfm_file_close(file);\n\t\tfree(bound);\n\t\treturn -1;\n\t}\n"
	    "\t(*out)->file = file;\n\t(*out)->bound = bound;\n\treturn 0;\n}\n\n", n, n, n);
	emit_out(e, "/* The spec's `weights` and `tokenizer`: what %s_open and %s_tokenizer_open\n"
	    " * read when given no path. */\n#define N_DEFAULT_WEIGHTS %d\n"
	    "static const char *const default_weights[N_DEFAULT_WEIGHTS + 1] = {\n", n, n, e->p->n_weights);
	for (int i = 0; i < e->p->n_weights; i++) {
		emit_out(e, "\t");
		emit_c_string(e, e->p->weights[i]);
		emit_out(e, ",\n");
	}
	emit_out(e, "\t0\n};\n#define DEFAULT_TOKENIZER ");
	if (e->p->tokenizer)
		emit_c_string(e, e->p->tokenizer);
	else
		emit_out(e, "0");
	emit_out(e, "\n\n");
	emit_out(e, "int %s_open(struct %s **out, const char *path, int n_threads, tfm_error *err)\n{\n"
	    "\ttfm_weights w;\n\n\t*out = NULL;\n"
	    "\tif (!path && N_DEFAULT_WEIGHTS == 0)\n"
	    "\t\treturn tfm_fail(err, \"model %s: no weights path given, and its spec names none\");\n"
	    "\tif (tfm_weights_open(&w, path ? &path : default_weights, path ? 1 : N_DEFAULT_WEIGHTS, tensors,\n"
	    "\t                     N_TENSORS, err))\n\t\treturn -1;\n"
	    "\tif (%s_open_tensors(out, w.data, n_threads, err)) {\n"
	    "\t\ttfm_weights_free(&w);\n\t\treturn -1;\n\t}\n"
	    "\t(*out)->weights = w;\n\treturn 0;\n}\n\n", n, n, n, n);
	emit_out(e, "int %s_tokenizer_open(tfm_tokenizer **t, const char *path, tfm_error *err)\n{\n"
	    "\t*t = 0;\n\tif (!path && !(path = DEFAULT_TOKENIZER))\n"
	    "\t\treturn tfm_fail(err, \"model %s: no tokenizer path given, and its spec names none\");\n"
	    "\treturn tfm_tokenizer_open(t, path, err);\n}\n\n", n, n);

	emit_out(e, "void %s_reset(struct %s *m)\n{\n\t(void)m;\t/* positions past the last forward are never read */\n}\n\n", n, n);

	emit_out(e, "void %s_close(struct %s *m)\n{\n\tif (!m)\n\t\treturn;\n\ttfm_pool_close(m->pool);\n", n, n);
	for (int b = 0; b < BUF__COUNT; b++)
		if (b != B_LOGITS)
			emit_out(e, "\ttfm_free(m->%s);\n", buffer_name[b]);
	emit_out(e, "\ttfm_free(m->k_cache);\n\ttfm_free(m->v_cache);\n\ttfm_free(m->logits);\n");
	if (m->position == POS_ROPE)
		emit_out(e, "\ttfm_free(m->rope_cos);\n\ttfm_free(m->rope_sin);\n");
	emit_out(e, "\ttfm_weights_free(&m->weights);\n\tif (m->file)\n\t\ttfm_file_close(m->file);\n"
	    "\tfree(m->bound);\n\tfree(m);\n}\n\n");

	emit_out(e, "const float *%s_forward(struct %s *m, const int *tokens, int n, int pos, int all, tfm_error *err)\n{\n", n, n);
	emit_out(e, "\tint rows = all ? n : 1;\n\n"
	    "\tif (n < 1)\n\t\treturn tfm_fail(err, \"forward of %%d tokens: at least one is needed\", n), (const float *)0;\n"
	    "\tif (pos < 0 || pos > MAX_SEQ - n)\n"
	    "\t\treturn tfm_fail(err, \"positions %%d..%%d run past max_seq (%%d)\", pos, pos + n - 1, MAX_SEQ), (const float *)0;\n"
	    "\tfor (int i = 0; i < n; i++)\n\t\tif (tokens[i] < 0 || tokens[i] >= VOCAB)\n"
	    "\t\t\treturn tfm_fail(err, \"token id %%d at position %%d is out of range [0, %%d)\", tokens[i], pos + i, VOCAB),\n"
	    "\t\t\t       (const float *)0;\n"
	    "\tif (rows > m->logits_rows) {\n\t\tfloat *l = tfm_alloc(sizeof(float) * VOCAB * (size_t)rows);\n"
	    "\t\tif (!l)\n\t\t\treturn tfm_fail(err, \"out of memory for %%d rows of logits\", rows), (const float *)0;\n"
	    "\t\ttfm_free(m->logits);\n\t\tm->logits = l;\n\t\tm->logits_rows = rows;\n\t}\n"
	    "\tfor (int c = 0; c < n; c += BATCH) {\n"
	    "\t\tint nc = n - c < BATCH ? n - c : BATCH;\n"
	    "\t\t/* rows of this chunk whose logits are wanted: all, or the last token's */\n"
	    "\t\tint h0 = all ? 0 : c + nc == n ? nc - 1 : nc;\n"
	    "\t\tforward_chunk(m, tokens + c, nc, pos + c, h0, m->logits + (size_t)(all ? c : 0) * VOCAB);\n\t}\n"
	    "\treturn m->logits;\n}\n\n");

	emit_out(e, "static int api_open(void **inst, void *const *w, int n_threads, tfm_error *err)\n{\n"
	    "\treturn %s_open_tensors((struct %s **)inst, w, n_threads, err);\n}\n\n"
	    "static void api_close(void *inst)\n{\n\t%s_close(inst);\n}\n\n"
	    "static void api_reset(void *inst)\n{\n\t%s_reset(inst);\n}\n\n"
	    "static const float *api_forward(void *inst, const int *tokens, int n, int pos, int all, tfm_error *err)\n{\n"
	    "\treturn %s_forward(inst, tokens, n, pos, all, err);\n}\n\n", n, n, n, n, n);
	emit_out(e, "const tfm_model_api %s_api = {\n\t\"%s\", VOCAB, MAX_SEQ, tensors, N_TENSORS, \"%s\",\n"
	    "\tapi_open, api_close, api_reset, api_forward,\n\t%s, DEFAULT_TOKENIZER\n};\n\n", n, n,
	    e->t->name, e->p->n_weights ? "default_weights" : "0");
	emit_out(e, "#ifdef TFM_MAIN\n/* A program: the command line of tfm_main (--help lists it). */\n"
	    "int main(int argc, char **argv)\n{\n\treturn tfm_main(argc, argv, &%s_api);\n}\n#endif\n", n);
}

void emit_c(const Program *p, const Target *t, const EmitInfo *info, FILE *c, FILE *h)
{
	Emitter e = { h ? h : c, p, &p->m, t, info };

	/* No header file (the JIT): its text goes first in the source. */
	emit_header(&e, info);
	e.f = c;
	banner(&e, info, "c");
	emit_out(&e, " *\n * Build: cc -std=%s -O2 %s%s-c %s.c -I<tfmc>/runtime\n", t->std, t->cflags,
	    *t->cflags ? " " : "", p->m.name);
	emit_out(&e, " * (with -DTFM_MAIN, and linked with <tfmc>/build/libtfmrt.a\n"
	    " * " TFM_LIBS ", it is a program: see tfm_main.)\n"
	    " * The API is in %s.\n */\n", info->header_name);
	emit_out(&e, "#include <math.h>\n#include <stdlib.h>\n#include <string.h>\n");
	if (*t->header)
		emit_out(&e, "%s\n", t->header);
	emit_out(&e, "#include \"tfm.h\"\n");
	if (h)
		emit_out(&e, "#include \"%s\"\n", info->header_name);
	emit_out(&e, "\n");
	emit_constants(&e);
	emit_tensor_table(&e);
	emit_struct(&e);
	if (*t->helpers)
		emit_out(&e, "%s\n", t->helpers);
	emit_common(&e);

	/* One kernel per distinct shape, in order of first use. */
	for (int i = 0; i < p->n_ops && !t->kernels; i++) {
		const Op *op = &p->ops[i];
		int seen = 0;
		for (int j = 0; j < i; j++) {
			const Op *o = &p->ops[j];
			seen |= o->kind == op->kind && o->rows == op->rows && o->cols == op->cols && o->fn == op->fn &&
			        (op->kind != OP_MATMUL || p->tensors[o->w].dtype == p->tensors[op->w].dtype);
		}
		if (seen)
			continue;
		if (op->kind == OP_MATMUL && !tensor_quant(&e, op->w))
			emit_matmul_kernel(&e, op);
		else if (op->kind == OP_NORM)
			emit_norm_kernel(&e, op->fn, op->cols);
	}
	if (p->m.position == POS_ROPE)
		emit_rope(&e);
	emit_forward(&e);
	emit_api(&e);
	if (info->train) {
		TrainProgram tp;
		if (train_build(p, &tp)) {
			emit_out(&e, "#error \"tfmc ran out of memory building the training code\"\n");
			return;
		}
		emit_train(&e, &tp);
		train_free(&tp);
	}
}
