/* export.c: `tfmc export SPEC [--weights W] [--weight-dtype T] -o model.gguf`.
 *
 * A model as a GGUF file llama.cpp loads: the architecture whose math is
 * the spec's (MODEL_REFERENCE.md section 6 read backwards), its {arch}.
 * hyperparameters, the tensors under llama.cpp's names in the program's
 * types (f32 or bf16, or GGML's blocks, quantized as they load by GGML's
 * reference rounding).  llama.cpp's llama architecture rotates adjacent
 * pairs (rope_style = interleaved): a half-style model exported as llama
 * has its q and k rows permuted as llama.cpp's own converter permutes
 * Hugging Face's, so that the same heads come out.  A model no llama.cpp
 * architecture computes (post-norm, LayerNorm, learned positions, ...) is
 * refused, naming the key.
 *
 * The vocabulary: with no tokenizer, tokenizer.ggml.model "none" and
 * {arch}.vocab_size; a byte-level BPE tokenizer.json is written as
 * tokenizer.ggml.model "gpt2" (tokens, types, merges, BOS and EOS).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "export.h"
#include "build.h"

/* The llama.cpp architecture that computes m, or NULL with why[size]. */
static const char *export_arch(const Model *m, char *why, size_t size)
{
	const char *bad = m->norm != NORM_RMSNORM ? "norm = layernorm"
	                : m->norm_place == PLACE_POST ? "norm_place = post"
	                : m->block != BLOCK_SERIAL ? "block = parallel"
	                : m->position != POS_ROPE ? "a position other than rope"
	                : m->activation != ACT_SWIGLU && m->activation != ACT_GEGLU ? "activation relu or gelu"
	                : m->activation == ACT_GEGLU && m->gelu != GELU_TANH ? "gelu = erf"
	                : m->bias && !m->qkv_bias ? "bias without qkv_bias" : NULL;
	const int gemma = m->activation == ACT_GEGLU;

	if (!bad && gemma && (m->embed_scale != SCALE_SQRT || m->rope_style != ROPE_HALF || m->qk_norm || m->qkv_bias))
		bad = "a GeGLU model unlike Gemma (embed_scale sqrt, rope_style half, no qk_norm or biases)";
	if (!bad && !gemma && (m->embed_scale != SCALE_NONE || m->norm_place == PLACE_DOUBLE || m->attn_softcap > 0
	                       || m->logit_softcap > 0))
		bad = "a SwiGLU model with Gemma's embed_scale, double norms or soft-caps";
	if (!bad && gemma && m->norm_place != PLACE_DOUBLE && (m->attn_softcap > 0 || m->logit_softcap > 0))
		bad = "soft-caps without norm_place = double (Gemma 2 has both)";
	if (!bad && m->qk_norm && (m->qkv_bias || m->bias || m->rope_style != ROPE_HALF))
		bad = "qk_norm with biases or interleaved RoPE (Qwen3 has neither)";
	if (!bad && m->qkv_bias && !m->bias && m->rope_style != ROPE_HALF)
		bad = "qkv_bias with interleaved RoPE (Qwen2's is half)";
	if (!bad && m->bias)
		bad = "bias = true (biases on every linear layer)";
	if (bad) {
		snprintf(why, size, "no llama.cpp architecture computes %s (llama, qwen2, qwen3, gemma, gemma2 do not)",
		         bad);
		return NULL;
	}
	if (gemma)
		return m->norm_place == PLACE_DOUBLE ? "gemma2" : "gemma";
	if (m->qk_norm)
		return "qwen3";
	if (m->qkv_bias)
		return "qwen2";
	return "llama";
}

typedef struct KvList {
	tfm_gguf_out_kv kv[64];
	size_t n;
	char keys[64][96];
} KvList;

static tfm_gguf_out_kv *kv_add(KvList *l, const char *arch, const char *name, int type)
{
	tfm_gguf_out_kv *k = &l->kv[l->n];
	snprintf(l->keys[l->n], sizeof l->keys[0], "%s%s%s", arch ? arch : "", arch ? "." : "", name);
	memset(k, 0, sizeof *k);
	k->key = l->keys[l->n++];
	k->type = type;
	return k;
}

static void kv_uint(KvList *l, const char *arch, const char *name, uint64_t v)
{
	kv_add(l, arch, name, TFM_GGUF_UINT32)->u = v;
}

static void kv_float(KvList *l, const char *arch, const char *name, double v)
{
	kv_add(l, arch, name, TFM_GGUF_FLOAT32)->f = v;
}

static void kv_str(KvList *l, const char *arch, const char *name, const char *v)
{
	kv_add(l, arch, name, TFM_GGUF_STRING)->str = v;
}

/* The vocabulary of a byte-level BPE tokenizer.json, for GGUF. */
typedef struct Vocab {
	cJSON *root;
	const char **tokens;	/* [n] */
	int32_t *types;		/* [n] 1 normal, 3 control, 4 user-defined */
	const char **merges;	/* [n_merges] "a b" */
	char **owned;		/* merges written as "a b" from [a, b] pairs */
	size_t n, n_merges;
	const char *pre;
	long bos, eos;
	int add_bos;
} Vocab;

static void vocab_free(Vocab *v)
{
	for (size_t i = 0; v->owned && i < v->n_merges; i++)
		free(v->owned[i]);
	free(v->owned);
	free(v->tokens);
	free(v->types);
	free(v->merges);
	cJSON_Delete(v->root);
}

/* tokenizer.json at path (or in the folder path) as a Vocab: 0; 1 when it
 * is not byte-level BPE (with why); -1 on an error. */
static int vocab_read(Vocab *v, const char *path, long long n_vocab, char *why, size_t size, tfm_error *e)
{
	char file[4200], *text;
	size_t len;
	const cJSON *model, *vocab, *merges, *pre, *x;

	memset(v, 0, sizeof *v);
	v->bos = v->eos = -1;
	len = strlen(path);
	if (len > 5 && strcmp(path + len - 5, ".json") == 0)
		snprintf(file, sizeof file, "%s", path);
	else
		snprintf(file, sizeof file, "%s/tokenizer.json", path);
	FILE *probe = fopen(file, "r");
	if (!probe) {
		snprintf(why, size, "%.200s is not a tokenizer.json (nor a folder with one)", path);
		return 1;
	}
	fclose(probe);
	if (tfm_read_text(file, (size_t)256 << 20, "a tokenizer.json has", &text, &len, e))
		return -1;
	v->root = cJSON_ParseWithLength(text, len);
	free(text);
	if (!v->root)
		return tfm_fail(e, "%s: not JSON", file);
	model = cJSON_GetObjectItemCaseSensitive(v->root, "model");
	vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
	merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
	pre = cJSON_GetObjectItemCaseSensitive(v->root, "pre_tokenizer");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(pre, "type");
	if (!cJSON_IsObject(vocab) || !cJSON_IsArray(merges) || !cJSON_IsString(type)) {
		snprintf(why, size, "%.200s is not a BPE tokenizer.json", file);
		return 1;
	}
	/* the pre-tokenizer, as llama.cpp names it */
	if (strcmp(type->valuestring, "ByteLevel") == 0) {
		v->pre = "gpt-2";
	} else if (strcmp(type->valuestring, "Sequence") == 0) {
		const cJSON *split = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(pre, "pretokenizers"), 0);
		const cJSON *re = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(split, "pattern"), "Regex");
		if (cJSON_IsString(re) && strstr(re->valuestring, "\\p{N}{1,3}"))
			v->pre = "llama-bpe";
		else if (cJSON_IsString(re) && strstr(re->valuestring, "|\\p{N}|"))
			v->pre = "qwen2";
	}
	if (!v->pre) {
		snprintf(why, size, "%.150s: its pre-tokenizer is none llama.cpp has by name (gpt-2, llama-bpe, qwen2)", file);
		return 1;
	}
	v->n = (size_t)n_vocab;
	v->tokens = calloc(v->n, sizeof *v->tokens);
	v->types = calloc(v->n, sizeof *v->types);
	v->n_merges = (size_t)cJSON_GetArraySize(merges);
	v->merges = calloc(v->n_merges + 1, sizeof *v->merges);
	v->owned = calloc(v->n_merges + 1, sizeof *v->owned);
	if (!v->tokens || !v->types || !v->merges || !v->owned)
		return tfm_fail(e, "out of memory");
	cJSON_ArrayForEach(x, vocab) {
		if (cJSON_IsNumber(x) && x->valuedouble >= 0 && x->valuedouble < (double)v->n) {
			v->tokens[(size_t)x->valuedouble] = x->string;
			v->types[(size_t)x->valuedouble] = 1;
		}
	}
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(v->root, "added_tokens")) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(x, "id"), *c = cJSON_GetObjectItemCaseSensitive(x, "content");
		if (cJSON_IsNumber(id) && cJSON_IsString(c) && id->valuedouble >= 0 && id->valuedouble < (double)v->n) {
			v->tokens[(size_t)id->valuedouble] = c->valuestring;
			v->types[(size_t)id->valuedouble] =
			    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x, "special")) ? 3 : 4;
		}
	}
	/* ids the tokenizer leaves out (a vocab padded past it) get placeholders */
	for (size_t i = 0; i < v->n; i++)
		if (!v->tokens[i]) {
			char buf[32];
			snprintf(buf, sizeof buf, "[PAD%zu]", i);
			cJSON *s = cJSON_CreateString(buf);
			cJSON_AddItemToObject(v->root, buf, s);
			v->tokens[i] = s->valuestring;
			v->types[i] = 5;	/* unused */
		}
	size_t k = 0;
	cJSON_ArrayForEach(x, merges) {
		if (cJSON_IsString(x)) {
			v->merges[k++] = x->valuestring;
		} else if (cJSON_IsArray(x) && cJSON_GetArraySize(x) == 2) {
			const char *a = cJSON_GetArrayItem(x, 0)->valuestring, *b = cJSON_GetArrayItem(x, 1)->valuestring;
			if (!a || !b)
				continue;
			size_t la = strlen(a), lb = strlen(b);
			char *m = malloc(la + lb + 2);
			if (!m)
				return tfm_fail(e, "out of memory");
			memcpy(m, a, la);
			m[la] = ' ';
			memcpy(m + la + 1, b, lb + 1);
			v->owned[k] = m;
			v->merges[k++] = m;
		}
	}
	v->n_merges = k;
	return 0;
}

/* Rows r of a [rows, row_bytes] matrix of heads of hd rows, permuted for
 * llama.cpp's adjacent-pair RoPE: new row h hd + 2i + a = old row
 * h hd + a hd / 2 + i (convert_hf_to_gguf.py's LlamaModel.permute). */
static void *permute_heads(const void *w, size_t rows, size_t row_bytes, size_t hd)
{
	unsigned char *out = malloc(rows * row_bytes);

	if (!out)
		return NULL;
	for (size_t r = 0; r < rows; r++) {
		const size_t h = r / hd, j = r % hd, i = j / 2, a = j % 2;
		memcpy(out + r * row_bytes, (const unsigned char *)w + (h * hd + a * (hd / 2) + i) * row_bytes, row_bytes);
	}
	return out;
}

/* export_gguf over weights already bound (w NULL: open weights[n_weights]). */
static int export_with(const Program *p, tfm_weights *given, const char *const *weights, int n_weights,
                       const char *tokenizer, const char *out, FILE *log, tfm_error *e);

int export_gguf(const Program *p, const char *const *weights, int n_weights, const char *tokenizer, const char *out,
                FILE *log, tfm_error *e)
{
	return export_with(p, NULL, weights, n_weights, tokenizer, out, log, e);
}

int export_gguf_random(const Program *p, uint64_t seed, const char *out, FILE *log, tfm_error *e)
{
	tfm_tensor_decl *decl = build_decls(p);
	tfm_weights w;
	int rc;

	if (!decl)
		return tfm_fail(e, "out of memory");
	if (tfm_weights_random(&w, decl, p->n_tensors, seed, e)) {
		free(decl);
		return -1;
	}
	rc = export_with(p, &w, NULL, 0, NULL, out, log, e);
	tfm_weights_free(&w);
	free(decl);
	return rc;
}

static int export_with(const Program *p, tfm_weights *given, const char *const *weights, int n_weights,
                       const char *tokenizer, const char *out, FILE *log, tfm_error *e)
{
	const Model *m = &p->m;
	char why[256];
	const char *arch = export_arch(m, why, sizeof why);
	tfm_tensor_decl *decl = NULL;
	tfm_gguf_out_tensor *ts = NULL;
	void **owned = NULL;
	tfm_weights w = { 0 };
	KvList *kv = calloc(1, sizeof *kv);
	Vocab voc = { 0 };
	char (*names)[96] = NULL;
	int rc = -1, have_vocab = 0;

	if (!kv)
		return tfm_fail(e, "out of memory");
	if (!arch) {
		free(kv);
		return tfm_fail(e, "%s: %s", m->name, why);
	}
	if (n_weights == 0 && !given) {
		free(kv);
		return tfm_fail(e, "%s: export needs weights: --weights W, or the spec's weights", m->name);
	}
	if (!(decl = build_decls(p)) || !(ts = calloc((size_t)p->n_tensors, sizeof *ts))
	    || !(owned = calloc((size_t)p->n_tensors, sizeof *owned))
	    || !(names = calloc((size_t)p->n_tensors, sizeof *names))) {
		tfm_fail(e, "out of memory");
		goto done;
	}
	if (given)
		w = *given;
	else if (tfm_weights_open(&w, weights, n_weights, decl, p->n_tensors, e))
		goto done;
	const int permute = strcmp(arch, "llama") == 0 && m->rope_style == ROPE_HALF;
	for (int i = 0; i < p->n_tensors; i++) {
		const Tensor *t = &p->tensors[i];
		if (tfm_gguf_name_of(t->name, names[i], sizeof names[i]) != 0) {
			tfm_fail(e, "%s: tensor '%s' has no llama.cpp name", m->name, t->name);
			goto done;
		}
		ts[i] = (tfm_gguf_out_tensor){ names[i], t->dtype, t->ndim,
		                               { (size_t)t->shape[0], t->ndim == 2 ? (size_t)t->shape[1] : 0 },
		                               w.data[i] };
		if (permute && (t->role == T_WQ || t->role == T_WK)) {
			const size_t rb = tfm_dtype_row_bytes(t->dtype, (size_t)t->shape[1]);
			if (!(owned[i] = permute_heads(w.data[i], (size_t)t->shape[0], rb, (size_t)m->head_dim))) {
				tfm_fail(e, "out of memory");
				goto done;
			}
			ts[i].data = owned[i];
		}
	}

	/* The metadata llama.cpp's loader reads for arch. */
	kv_str(kv, NULL, "general.architecture", arch);
	kv_str(kv, NULL, "general.name", m->name);
	kv_uint(kv, arch, "context_length", (uint64_t)m->max_seq);
	kv_uint(kv, arch, "embedding_length", (uint64_t)m->d_model);
	kv_uint(kv, arch, "block_count", (uint64_t)m->n_layer);
	kv_uint(kv, arch, "feed_forward_length", (uint64_t)m->d_ff);
	kv_uint(kv, arch, "attention.head_count", (uint64_t)m->n_head);
	kv_uint(kv, arch, "attention.head_count_kv", (uint64_t)m->n_kv_head);
	kv_uint(kv, arch, "attention.key_length", (uint64_t)m->head_dim);
	kv_uint(kv, arch, "attention.value_length", (uint64_t)m->head_dim);
	kv_float(kv, arch, "attention.layer_norm_rms_epsilon", m->norm_eps);
	kv_float(kv, arch, "rope.freq_base", m->rope_theta);
	kv_uint(kv, arch, "rope.dimension_count", (uint64_t)m->head_dim);
	kv_uint(kv, arch, "vocab_size", (uint64_t)m->vocab);
	if (strcmp(arch, "gemma2") == 0) {
		kv_float(kv, arch, "attn_logit_softcapping", m->attn_softcap);
		kv_float(kv, arch, "final_logit_softcapping", m->logit_softcap);
		kv_uint(kv, arch, "attention.sliding_window", (uint64_t)m->max_seq);
	}
	if (tokenizer) {
		int r = vocab_read(&voc, tokenizer, m->vocab, why, sizeof why, e);
		if (r < 0)
			goto done;
		if (r == 1)
			fprintf(log, "tfmc: note: %s: %s: the file has no vocabulary\n", out, why);
		have_vocab = r == 0;
	}
	if (have_vocab) {
		tfm_gguf_out_kv *a;
		kv_str(kv, NULL, "tokenizer.ggml.model", "gpt2");
		kv_str(kv, NULL, "tokenizer.ggml.pre", voc.pre);
		a = kv_add(kv, NULL, "tokenizer.ggml.tokens", TFM_GGUF_ARRAY);
		a->elem_type = TFM_GGUF_STRING, a->count = voc.n, a->items = voc.tokens;
		a = kv_add(kv, NULL, "tokenizer.ggml.token_type", TFM_GGUF_ARRAY);
		a->elem_type = TFM_GGUF_INT32, a->count = voc.n, a->items = voc.types;
		a = kv_add(kv, NULL, "tokenizer.ggml.merges", TFM_GGUF_ARRAY);
		a->elem_type = TFM_GGUF_STRING, a->count = voc.n_merges, a->items = voc.merges;
		tfm_tokenizer *tk;
		if (tfm_tokenizer_open(&tk, tokenizer, e) == 0) {
			int bos = tfm_tokenizer_bos(tk);
			if (bos >= 0)
				kv_uint(kv, NULL, "tokenizer.ggml.bos_token_id", (uint64_t)bos);
			kv_add(kv, NULL, "tokenizer.ggml.add_bos_token", TFM_GGUF_BOOL)->u = bos >= 0;
			for (int id = 0; id < tfm_tokenizer_vocab(tk); id++)
				if (tfm_tokenizer_is_eos(tk, id)) {
					kv_uint(kv, NULL, "tokenizer.ggml.eos_token_id", (uint64_t)id);
					break;
				}
			tfm_tokenizer_close(tk);
		}
	} else {
		kv_str(kv, NULL, "tokenizer.ggml.model", "none");
	}
	if (tfm_gguf_write(out, kv->kv, kv->n, ts, (size_t)p->n_tensors, e))
		goto done;
	fprintf(log, "tfmc: wrote %s: %s architecture, %d tensors%s%s\n", out, arch, p->n_tensors,
	        permute ? " (q and k rows permuted for llama.cpp's RoPE)" : "",
	        have_vocab ? ", with its vocabulary" : ", no vocabulary");
	rc = 0;
done:
	for (int i = 0; owned && i < p->n_tensors; i++)
		free(owned[i]);
	free(owned);
	free(names);
	free(ts);
	free(decl);
	if (!given)
		tfm_weights_free(&w);
	vocab_free(&voc);
	free(kv);
	return rc;
}
