/* gguf_config.c: a GGUF file's metadata as a Model (MODEL_REFERENCE.md
 * section 6).
 *
 * The hyperparameters are llama.cpp's `{arch}.` keys (its llama-arch.cpp
 * names them); which variant keys an architecture sets is section 6's
 * table.  Whatever changes the math and has no key stops the import by
 * name: a RoPE scaling rule, rotary dimensions fewer than the head's, a
 * sliding window shorter than the context, mixture-of-experts, an
 * attention scale other than 1/sqrt(head_dim).  The tensors decide what
 * the metadata does not say: a missing output.weight is a tied head, and
 * Qwen2's q, k, v biases, or biases everywhere, are read off blk.0.
 * {arch}. keys tfmc does not know are listed in notes, and the import says
 * it took them to change nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "import.h"

/* The architectures, as general.architecture names them. */
enum { GG_LLAMA, GG_QWEN2, GG_QWEN3, GG_GEMMA, GG_GEMMA2, GG__COUNT };
static const char *const gg_arch_names[GG__COUNT] = { "llama", "qwen2", "qwen3", "gemma", "gemma2" };

/* The {arch}. keys read here (or known to change nothing). */
static const char *const gg_known[] = {
	"context_length", "embedding_length", "block_count", "feed_forward_length",
	"attention.head_count", "attention.head_count_kv", "attention.key_length",
	"attention.value_length", "attention.layer_norm_rms_epsilon", "rope.freq_base",
	"rope.dimension_count", "rope.scaling.type", "rope.scaling.factor",
	"rope.scaling.original_context_length", "rope.scaling.finetuned", "vocab_size",
	"attn_logit_softcapping", "final_logit_softcapping", "attention.sliding_window",
	"expert_count", "expert_used_count", "rope.dimension_sections",
	"attention.query_pre_attn_scalar",
};

typedef struct GgReader {
	const tfm_gguf *g;
	const char *label, *arch;
	tfm_error *e;
} GgReader;

static const char *gg_key(const GgReader *r, const char *name)
{
	static char buf[160];
	snprintf(buf, sizeof buf, "%s.%s", r->arch, name);
	return buf;
}

/* An integer {arch}.name in [lo, hi]; absent: def, or an error when required. */
static int gg_int(const GgReader *r, const char *name, int required, long long def, long long lo, long long hi,
                  long long *out)
{
	const char *key = gg_key(r, name);
	uint64_t v;

	if (tfm_gguf_find(r->g, key, NULL) != 0) {
		if (required)
			return tfm_fail(r->e, "%s: no metadata '%s': tfmc needs it for %s", r->label, key, r->arch);
		*out = def;
		return 0;
	}
	if (tfm_gguf_uint(r->g, key, &v) != 0 || v < (uint64_t)lo || v > (uint64_t)hi)
		return tfm_fail(r->e, "%s: metadata '%s' must be an integer in %lld..%lld", r->label, key, lo, hi);
	*out = (long long)v;
	return 0;
}

static int gg_float(const GgReader *r, const char *name, double def, double *out)
{
	const char *key = gg_key(r, name);
	uint64_t u;

	if (tfm_gguf_find(r->g, key, NULL) != 0) {
		*out = def;
		return 0;
	}
	tfm_gguf_value v;
	if (tfm_gguf_float(r->g, key, out) == 0) {
		/* A float32 as the shortest decimal that reads back as it (1e-05,
		 * not 9.999999747378752e-06): the value llama.cpp computes with. */
		if (tfm_gguf_find(r->g, key, &v) == 0 && v.type == TFM_GGUF_FLOAT32)
			for (int digits = 1; digits <= 9; digits++) {
				char buf[32];
				snprintf(buf, sizeof buf, "%.*g", digits, *out);
				if ((float)strtod(buf, NULL) == (float)*out) {
					*out = strtod(buf, NULL);
					break;
				}
			}
		return 0;
	}
	if (tfm_gguf_uint(r->g, key, &u) == 0) {	/* an integer where a float is meant */
		*out = (double)u;
		return 0;
	}
	return tfm_fail(r->e, "%s: metadata '%s' must be a number", r->label, key);
}

/* 1 when the file holds tensor name. */
static int gg_has(const tfm_gguf *g, const char *name)
{
	return tfm_file_lookup(tfm_gguf_file(g), name) >= 0;
}

/* RoPE: the base, whole heads, no scaling rule. */
static int gg_rope(const GgReader *r, Model *m)
{
	const char *type;
	size_t len;
	double factor;
	long long dims;

	if (gg_float(r, "rope.freq_base", 10000.0, &m->rope_theta) || gg_float(r, "rope.scaling.factor", 1.0, &factor)
	    || gg_int(r, "rope.dimension_count", 0, m->head_dim, 1, 1 << 16, &dims))
		return -1;
	if (!(m->rope_theta > 0))
		return tfm_fail(r->e, "%s: '%s' must be positive", r->label, gg_key(r, "rope.freq_base"));
	if (tfm_gguf_string(r->g, gg_key(r, "rope.scaling.type"), &type, &len) == 0
	    && !(len == 4 && memcmp(type, "none", 4) == 0))
		return tfm_fail(r->e, "%s: '%s' is '%.*s': it rescales RoPE's frequencies, and tfmc has no key for it",
		                r->label, gg_key(r, "rope.scaling.type"), (int)(len < 40 ? len : 40), type);
	if (factor != 1.0 && factor != 0.0)
		return tfm_fail(r->e, "%s: '%s' is %g: RoPE scaling has no key in tfmc", r->label,
		                gg_key(r, "rope.scaling.factor"), factor);
	if (dims != m->head_dim)
		return tfm_fail(r->e, "%s: '%s' is %lld, not head_dim (%lld): RoPE on part of each head has no key "
		                "(tfmc rotates whole heads)", r->label, gg_key(r, "rope.dimension_count"), dims, m->head_dim);
	if (gg_has(r->g, "rope_freqs.weight"))
		return tfm_fail(r->e, "%s: tensor 'rope_freqs.weight' rescales RoPE's frequencies (Llama 3.1's rule), "
		                "and tfmc has no key for it", r->label);
	return 0;
}

/* Biases, read off the first block's tensors. */
static int gg_biases(const GgReader *r, int arch, Model *m)
{
	const int q = gg_has(r->g, "blk.0.attn_q.bias"), o = gg_has(r->g, "blk.0.attn_output.bias");
	const int f = gg_has(r->g, "blk.0.ffn_up.bias") || gg_has(r->g, "blk.0.ffn_down.bias");

	if (q && o && f) {
		m->bias = m->qkv_bias = 1;
	} else if (q && !o && !f) {
		m->qkv_bias = 1;
	} else if (q || o || f) {
		return tfm_fail(r->e, "%s: biases on %s%s%s alone: tfmc has biases on every linear layer (bias) or on "
		                "q, k and v alone (qkv_bias)", r->label, q ? "q, k, v " : "", o ? "the output " : "",
		                f ? "the feed-forward" : "");
	}
	if (arch == GG_QWEN2 && !q)
		return tfm_fail(r->e, "%s: a qwen2 model without 'blk.0.attn_q.bias': Qwen2 has q, k and v biases",
		                r->label);
	return 0;
}

int import_gguf_config(const tfm_gguf *g, const char *label, long long max_seq, Model *m, char *notes,
                       size_t size, tfm_error *e)
{
	GgReader r = { g, label, NULL, e };
	const char *arch;
	size_t len, used = 0;
	long long hidden, n_head, n_kv, hd, ctx, vocab, experts, window, vlen;
	int a;

	import_defaults(m);
	notes[0] = '\0';
	if (tfm_gguf_string(g, "general.architecture", &arch, &len) != 0)
		return tfm_fail(e, "%s: no string 'general.architecture': not a model GGUF file (a vocabulary alone?)",
		                label);
	for (a = 0; a < GG__COUNT; a++)
		if (strlen(gg_arch_names[a]) == len && memcmp(gg_arch_names[a], arch, len) == 0)
			break;
	if (a == GG__COUNT)
		return tfm_fail(e, "%s: architecture '%.*s' is not one tfmc imports (llama, qwen2, qwen3, gemma, gemma2)",
		                label, (int)(len < 40 ? len : 40), arch);
	r.arch = gg_arch_names[a];

	if (gg_int(&r, "embedding_length", 1, 0, 1, 1 << 20, &hidden)
	    || gg_int(&r, "block_count", 1, 0, 1, 4096, &m->n_layer)
	    || gg_int(&r, "feed_forward_length", 1, 0, 1, 1 << 24, &m->d_ff)
	    || gg_int(&r, "attention.head_count", 1, 0, 1, 4096, &n_head)
	    || gg_int(&r, "attention.head_count_kv", 0, n_head, 1, 4096, &n_kv)
	    || gg_int(&r, "context_length", 1, 0, 1, 1LL << 24, &ctx)
	    || gg_int(&r, "expert_count", 0, 0, 0, 1 << 20, &experts)
	    || gg_float(&r, "attention.layer_norm_rms_epsilon", 1e-5, &m->norm_eps))
		return -1;
	if (experts > 0)
		return tfm_fail(e, "%s: '%s' is %lld: a mixture of experts, which tfmc has no key for", label,
		                gg_key(&r, "expert_count"), experts);
	if (max_seq > ctx)
		return tfm_fail(e, "%s: --max-seq %lld is longer than the model's context (%s = %lld)", label, max_seq,
		                gg_key(&r, "context_length"), ctx);
	m->max_seq = max_seq > 0 ? max_seq : ctx;
	if (hidden % n_head != 0 && tfm_gguf_find(g, gg_key(&r, "attention.key_length"), NULL) != 0)
		return tfm_fail(e, "%s: embedding_length %lld is not divisible by head_count %lld, and there is no "
		                "attention.key_length", label, hidden, n_head);
	if (gg_int(&r, "attention.key_length", 0, hidden / n_head, 1, 1 << 16, &hd)
	    || gg_int(&r, "attention.value_length", 0, hd, 1, 1 << 16, &vlen))
		return -1;
	if (vlen != hd)
		return tfm_fail(e, "%s: attention.key_length %lld and value_length %lld differ: tfmc has one head_dim",
		                label, hd, vlen);
	m->d_model = hidden;
	m->n_head = n_head;
	m->n_kv_head = n_kv;
	m->head_dim = hd;
	if (gg_rope(&r, m))
		return -1;

	/* The vocabulary: the key, else the tokenizer's list, else the embedding's rows. */
	tfm_gguf_value toks;
	tfm_tensor_info emb;
	int ie = tfm_file_lookup(tfm_gguf_file(g), "token_embd.weight");
	if (ie < 0)
		return tfm_fail(e, "%s: no tensor 'token_embd.weight'", label);
	tfm_file_info(tfm_gguf_file(g), ie, &emb);
	if (tfm_gguf_find(g, "tokenizer.ggml.tokens", &toks) == 0 && toks.type == TFM_GGUF_ARRAY)
		vocab = (long long)toks.count;
	else
		vocab = (long long)emb.shape[0];
	if (gg_int(&r, "vocab_size", 0, vocab, 1, 1 << 24, &vocab))
		return -1;
	if (emb.ndim != 2 || (long long)emb.shape[0] != vocab)
		return tfm_fail(e, "%s: 'token_embd.weight' has %zu rows, and the vocabulary %lld ids", label,
		                emb.shape[0], vocab);
	m->vocab = vocab;

	/* The variant keys of section 6. */
	m->norm = NORM_RMSNORM;
	m->norm_place = a == GG_GEMMA2 ? PLACE_DOUBLE : PLACE_PRE;
	m->block = BLOCK_SERIAL;
	m->position = POS_ROPE;
	m->rope_style = a == GG_LLAMA ? ROPE_INTERLEAVED : ROPE_HALF;
	m->tie_embeddings = !gg_has(g, "output.weight");
	m->qk_norm = a == GG_QWEN3;
	if (a == GG_GEMMA || a == GG_GEMMA2) {
		m->activation = ACT_GEGLU;
		m->gelu = GELU_TANH;
		m->embed_scale = SCALE_SQRT;
	} else {
		m->activation = ACT_SWIGLU;
	}
	if (gg_biases(&r, a, m))
		return -1;
	if (gg_int(&r, "attention.sliding_window", 0, 0, 0, 1LL << 30, &window))
		return -1;
	if (window > 0 && window < m->max_seq)
		return tfm_fail(e, "%s: '%s' is %lld, shorter than the context (max_seq %lld): tfmc has no key for "
		                "windowed attention; import with --max-seq %lld or less", label,
		                gg_key(&r, "attention.sliding_window"), window, m->max_seq, window);
	if (a == GG_GEMMA2) {
		long long scalar;
		if (gg_float(&r, "attn_logit_softcapping", 0, &m->attn_softcap)
		    || gg_float(&r, "final_logit_softcapping", 0, &m->logit_softcap)
		    || gg_int(&r, "attention.query_pre_attn_scalar", 0, hd, 1, 1 << 20, &scalar))
			return -1;
		if (scalar != hd)
			return tfm_fail(e, "%s: query_pre_attn_scalar is %lld, not head_dim (%lld): tfmc scales attention "
			                "by 1/sqrt(head_dim)", label, scalar, hd);
		if (m->attn_softcap < 0 || m->logit_softcap < 0)
			return tfm_fail(e, "%s: the soft-caps must not be negative", label);
	}

	/* The {arch}. keys nobody read. */
	for (size_t i = 0; i < tfm_gguf_count(g); i++) {
		const char *key;
		size_t klen, alen = strlen(r.arch);
		tfm_gguf_value v;
		tfm_gguf_kv(g, i, &key, &klen, &v);
		if (klen <= alen + 1 || memcmp(key, r.arch, alen) != 0 || key[alen] != '.')
			continue;
		size_t k = 0;
		for (; k < sizeof gg_known / sizeof gg_known[0]; k++)
			if (strlen(gg_known[k]) == klen - alen - 1 && memcmp(gg_known[k], key + alen + 1, klen - alen - 1) == 0)
				break;
		if (k == sizeof gg_known / sizeof gg_known[0] && used + klen + 2 < size)
			used += (size_t)snprintf(notes + used, size - used, "%.*s\n", (int)klen, key);
	}
	return 0;
}
