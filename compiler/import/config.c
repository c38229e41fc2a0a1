/* config.c: a Hugging Face config.json, or a llama2.c header, as a Model.
 *
 * MODEL_REFERENCE.md section 6 gives the mapping; transformers' modeling
 * code decides what a field means where the page is silent (head_dim is
 * read for every architecture that has it, GPT-2's n_inner, Gemma's
 * hidden_activation).  A field that changes the math is either mapped to a
 * key or refused by name: a RoPE scaling rule, a sliding window shorter
 * than the context, partial rotary, an attention scale other than
 * 1/sqrt(head_dim), biases on some linears but not others.  Fields that
 * only concern training, generation or bookkeeping are read past; any
 * other field is reported as unknown, and the import says it assumed it
 * harmless.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "import.h"

/* Fields that change nothing tfmc computes. */
static const char *const harmless[] = {
	"architectures", "model_type", "transformers_version", "torch_dtype", "dtype",
	"bos_token_id", "eos_token_id", "pad_token_id", "sep_token_id", "decoder_start_token_id",
	"initializer_range", "use_cache", "attention_dropout", "hidden_dropout", "_name_or_path",
	"attn_pdrop", "embd_pdrop", "resid_pdrop", "summary_activation", "summary_first_dropout",
	"summary_proj_to_labels", "summary_type", "summary_use_proj", "task_specific_params",
	"cache_implementation", "pretraining_tp", "reorder_and_upcast_attn", "output_attentions",
	"output_hidden_states", "return_dict", "id2label", "label2id", "problem_type",
	"tokenizer_class", "prefix", "_attn_implementation", "attn_implementation",
	"quantization_config_ignored", "gradient_checkpointing", "n_ctx", "tie_word_embeddings",
	"max_window_layers", "use_sliding_window", "layer_types", "rms_norm_eps",
};

typedef struct Reader {
	cJSON *root;
	const char *label;
	tfm_error *e;
	const char *used[64];	/* the fields read */
	int n_used;
} Reader;

static void mark(Reader *r, const char *name)
{
	if (r->n_used < (int)(sizeof r->used / sizeof r->used[0]))
		r->used[r->n_used++] = name;
}

/* The field name, or NULL when absent or null. */
static const cJSON *field(Reader *r, const char *name)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(r->root, name);

	mark(r, name);
	return j && !cJSON_IsNull(j) ? j : NULL;
}

/* An integer field in [lo, hi]; absent: def, or an error when required. */
static int get_int(Reader *r, const char *name, int required, long long def, long long lo,
                   long long hi, long long *out)
{
	const cJSON *j = field(r, name);

	if (!j) {
		if (required)
			return tfm_fail(r->e, "%s: the field \"%s\" is missing", r->label, name);
		*out = def;
		return 0;
	}
	if (!cJSON_IsNumber(j) || j->valuedouble != floor(j->valuedouble) || j->valuedouble < (double)lo
	    || j->valuedouble > (double)hi)
		return tfm_fail(r->e, "%s: \"%s\" must be an integer from %lld to %lld", r->label, name, lo, hi);
	*out = (long long)j->valuedouble;
	return 0;
}

static int get_float(Reader *r, const char *name, double def, double *out)
{
	const cJSON *j = field(r, name);

	if (!j) {
		*out = def;
		return 0;
	}
	if (!cJSON_IsNumber(j) || !isfinite(j->valuedouble))
		return tfm_fail(r->e, "%s: \"%s\" must be a number", r->label, name);
	*out = j->valuedouble;
	return 0;
}

static int get_bool(Reader *r, const char *name, int def, int *out)
{
	const cJSON *j = field(r, name);

	if (!j) {
		*out = def;
		return 0;
	}
	if (!cJSON_IsBool(j))
		return tfm_fail(r->e, "%s: \"%s\" must be true or false", r->label, name);
	*out = cJSON_IsTrue(j);
	return 0;
}

/* A string field; absent: def (may be NULL). */
static int get_str(Reader *r, const char *name, const char *def, const char **out)
{
	const cJSON *j = field(r, name);

	if (!j) {
		*out = def;
		return 0;
	}
	if (!cJSON_IsString(j))
		return tfm_fail(r->e, "%s: \"%s\" must be a string", r->label, name);
	*out = j->valuestring;
	return 0;
}

void import_defaults(Model *m)
{
	memset(m, 0, sizeof *m);
	for (int k = 0; k < KEY__COUNT; k++) {
		const KeyInfo *ki = &key_info[k];
		if (ki->defkind != D_LITERAL)
			continue;
		switch (ki->type) {
		case T_INT: *model_int(m, k) = strtoll(ki->deftext, NULL, 10); break;
		case T_FLOAT: *model_float(m, k) = strtod(ki->deftext, NULL); break;
		case T_BOOL: *model_enum(m, k) = strcmp(ki->deftext, "true") == 0; break;
		case T_ENUM:
			*model_enum(m, k) = choice_lookup(k, ki->deftext, (int)strlen(ki->deftext));
			break;
		}
	}
}

/* RoPE as transformers configures it: rope_theta, and no rope_scaling
 * (or rope_parameters, transformers 5's name) of another type than
 * "default". */
static int read_rope(Reader *r, Model *m)
{
	const cJSON *scaling = field(r, "rope_scaling"), *params = field(r, "rope_parameters");
	const cJSON *sets[2] = { scaling, params };
	double frac;

	if (get_float(r, "rope_theta", 10000.0, &m->rope_theta))
		return -1;
	for (int i = 0; i < 2; i++) {
		const cJSON *s = sets[i], *type, *theta;
		const char *name = i ? "rope_parameters" : "rope_scaling";
		if (!s)
			continue;
		if (!cJSON_IsObject(s))
			return tfm_fail(r->e, "%s: \"%s\" must be an object or null", r->label, name);
		type = cJSON_GetObjectItemCaseSensitive(s, "rope_type");
		if (!type)
			type = cJSON_GetObjectItemCaseSensitive(s, "type");
		if (type && (!cJSON_IsString(type) || strcmp(type->valuestring, "default") != 0))
			return tfm_fail(r->e, "%s: \"%s\" of type '%.40s' rescales RoPE's frequencies, and tfmc "
			                "has no key for it", r->label, name,
			                cJSON_IsString(type) ? type->valuestring : "?");
		if (!type && i == 0)
			return tfm_fail(r->e, "%s: \"rope_scaling\" without a type: tfmc cannot tell how it "
			                "rescales RoPE", r->label);
		theta = cJSON_GetObjectItemCaseSensitive(s, "rope_theta");
		if (theta) {
			if (!cJSON_IsNumber(theta) || !(theta->valuedouble > 0))
				return tfm_fail(r->e, "%s: \"%s\".rope_theta must be a positive number", r->label, name);
			m->rope_theta = theta->valuedouble;
		}
		if (cJSON_GetObjectItemCaseSensitive(s, "partial_rotary_factor"))
			return tfm_fail(r->e, "%s: \"%s\".partial_rotary_factor: tfmc rotates whole heads",
			                r->label, name);
	}
	if (get_float(r, "partial_rotary_factor", 1.0, &frac))
		return -1;
	if (frac != 1.0)
		return tfm_fail(r->e, "%s: \"partial_rotary_factor\" is %g: RoPE on part of each head has no key "
		                "(tfmc rotates whole heads)", r->label, frac);
	if (!(m->rope_theta > 0))
		return tfm_fail(r->e, "%s: \"rope_theta\" must be positive", r->label);
	return 0;
}

/* max_seq: the config's context, or the shorter one asked for. */
static int read_context(Reader *r, const char *name, long long ask, Model *m)
{
	long long n;

	if (get_int(r, name, 1, 0, 1, 1LL << 24, &n))
		return -1;
	if (ask > n)
		return tfm_fail(r->e, "%s: --max-seq %lld is longer than the model's context (%s = %lld)",
		                r->label, ask, name, n);
	m->max_seq = ask > 0 ? ask : n;
	return 0;
}

/* A sliding window no shorter than the context is full attention. */
static int read_window(Reader *r, const Model *m, int on)
{
	long long w;

	if (get_int(r, "sliding_window", 0, 0, 0, 1LL << 30, &w))
		return -1;
	if (on && w > 0 && w < m->max_seq)
		return tfm_fail(r->e, "%s: \"sliding_window\" is %lld, shorter than the context (max_seq %lld): "
		                "tfmc has no key for windowed attention; import with --max-seq %lld or less",
		                r->label, w, m->max_seq, w);
	return 0;
}

/* The Llama-family decoders: Llama, Mistral, Qwen2, Qwen3, Gemma, Gemma 2. */
static int read_decoder(Reader *r, int arch, long long max_seq, Model *m)
{
	long long n_head, n_kv, hd, hidden;
	int attn_bias, mlp_bias;
	const char *act = NULL;
	const int gemma = arch == TFM_HF_GEMMA || arch == TFM_HF_GEMMA2;

	if (get_int(r, "vocab_size", 1, 0, 1, 1 << 24, &m->vocab)
	    || get_int(r, "hidden_size", 1, 0, 1, 1 << 20, &hidden)
	    || get_int(r, "num_hidden_layers", 1, 0, 1, 4096, &m->n_layer)
	    || get_int(r, "num_attention_heads", 1, 0, 1, 4096, &n_head)
	    || get_int(r, "num_key_value_heads", 0, n_head, 1, 4096, &n_kv)
	    || get_int(r, "intermediate_size", 1, 0, 1, 1 << 24, &m->d_ff)
	    || read_context(r, "max_position_embeddings", max_seq, m)
	    || get_float(r, "rms_norm_eps", 1e-6, &m->norm_eps)
	    || read_rope(r, m))
		return -1;
	m->d_model = hidden;
	m->n_head = n_head;
	m->n_kv_head = n_kv;
	if (get_int(r, "head_dim", 0, 0, 1, 1 << 16, &hd))
		return -1;
	if (hd == 0) {
		if (hidden % n_head != 0)
			return tfm_fail(r->e, "%s: hidden_size %lld is not divisible by num_attention_heads %lld, "
			                "and there is no head_dim", r->label, hidden, n_head);
		hd = hidden / n_head;
	}
	m->head_dim = hd;
	m->norm = NORM_RMSNORM;
	m->norm_place = arch == TFM_HF_GEMMA2 ? PLACE_DOUBLE : PLACE_PRE;
	m->block = BLOCK_SERIAL;
	m->position = POS_ROPE;
	m->rope_style = ROPE_HALF;
	if (get_bool(r, "tie_word_embeddings", tfm_hf_arch_tied[arch], &m->tie_embeddings))
		return -1;

	/* The feed-forward: SwiGLU with silu, GeGLU with a GeLU. */
	if (gemma) {
		/* transformers runs Gemma's hidden_activation and ignores
		 * hidden_act, which the hub's Gemma 1 configs set to "gelu". */
		mark(r, "hidden_act");
		if (get_str(r, "hidden_activation", "gelu_pytorch_tanh", &act))
			return -1;
		m->activation = ACT_GEGLU;
		if (strcmp(act, "gelu_pytorch_tanh") == 0 || strcmp(act, "gelu_new") == 0)
			m->gelu = GELU_TANH;
		else if (strcmp(act, "gelu") == 0)
			m->gelu = GELU_ERF;
		else
			return tfm_fail(r->e, "%s: \"hidden_activation\" '%.40s' is not a GeLU tfmc has "
			                "(gelu_pytorch_tanh, gelu)", r->label, act);
		m->embed_scale = SCALE_SQRT;
	} else {
		if (get_str(r, "hidden_act", "silu", &act))
			return -1;
		if (strcmp(act, "silu") != 0 && strcmp(act, "swish") != 0)
			return tfm_fail(r->e, "%s: \"hidden_act\" '%.40s' in a gated feed-forward: tfmc has "
			                "silu (swiglu) here", r->label, act);
		m->activation = ACT_SWIGLU;
	}

	/* Biases: Qwen2 has them on q, k and v alone; attention_bias puts them
	 * on q, k, v and o, mlp_bias on the feed-forward. */
	if (get_bool(r, "attention_bias", 0, &attn_bias) || get_bool(r, "mlp_bias", 0, &mlp_bias))
		return -1;
	if (arch == TFM_HF_QWEN2) {
		if (attn_bias || mlp_bias)
			return tfm_fail(r->e, "%s: Qwen2 with \"%s\": tfmc has q, k and v biases alone (qkv_bias) "
			                "or biases everywhere (bias)", r->label, attn_bias ? "attention_bias" : "mlp_bias");
		m->qkv_bias = 1;
	} else if (attn_bias != mlp_bias) {
		return tfm_fail(r->e, "%s: \"attention_bias\" is %s and \"mlp_bias\" %s: tfmc has biases on "
		                "every linear layer (bias) or on q, k and v alone (qkv_bias), not %s",
		                r->label, attn_bias ? "true" : "false", mlp_bias ? "true" : "false",
		                attn_bias ? "on the attention alone" : "on the feed-forward alone");
	} else {
		m->bias = m->qkv_bias = attn_bias;
	}
	m->qk_norm = arch == TFM_HF_QWEN3;

	/* Windows, the attention scale and the soft-caps. */
	if (arch == TFM_HF_QWEN2 || arch == TFM_HF_QWEN3) {
		int use;
		long long from;
		if (get_bool(r, "use_sliding_window", 0, &use)
		    || get_int(r, "max_window_layers", 0, m->n_layer, 0, 1 << 20, &from))
			return -1;
		/* transformers windows the layers from max_window_layers on. */
		if (read_window(r, m, use && from < m->n_layer))
			return -1;
	} else if (read_window(r, m, arch != TFM_HF_LLAMA || field(r, "sliding_window"))) {
		return -1;
	}
	if (arch == TFM_HF_GEMMA2) {
		long long scalar;
		if (get_int(r, "query_pre_attn_scalar", 0, hd, 1, 1 << 20, &scalar)
		    || get_float(r, "attn_logit_softcapping", 0, &m->attn_softcap)
		    || get_float(r, "final_logit_softcapping", 0, &m->logit_softcap))
			return -1;
		if (scalar != hd)
			return tfm_fail(r->e, "%s: \"query_pre_attn_scalar\" is %lld, not head_dim (%lld): the "
			                "attention scale would be 1/sqrt(%lld), and tfmc scales by 1/sqrt(head_dim)",
			                r->label, scalar, hd, scalar);
		if (m->attn_softcap < 0 || m->logit_softcap < 0)
			return tfm_fail(r->e, "%s: the soft-caps must not be negative", r->label);
	}
	return 0;
}

/* GPT-2: learned positions, pre-norm LayerNorm, GeLU, biases, tied. */
static int read_gpt2(Reader *r, long long max_seq, Model *m)
{
	long long inner;
	int scale, by_layer;
	const char *act = NULL;

	if (get_int(r, "vocab_size", 1, 0, 1, 1 << 24, &m->vocab)
	    || get_int(r, "n_embd", 1, 0, 1, 1 << 20, &m->d_model)
	    || get_int(r, "n_layer", 1, 0, 1, 4096, &m->n_layer)
	    || get_int(r, "n_head", 1, 0, 1, 4096, &m->n_head)
	    || read_context(r, "n_positions", max_seq, m)
	    || get_int(r, "n_inner", 0, 4 * m->d_model, 1, 1 << 24, &inner)
	    || get_float(r, "layer_norm_epsilon", 1e-5, &m->norm_eps)
	    || get_str(r, "activation_function", "gelu_new", &act)
	    || get_bool(r, "scale_attn_weights", 1, &scale)
	    || get_bool(r, "scale_attn_by_inverse_layer_idx", 0, &by_layer))
		return -1;
	if (m->d_model % m->n_head != 0)
		return tfm_fail(r->e, "%s: n_embd %lld is not divisible by n_head %lld", r->label, m->d_model,
		                m->n_head);
	if (!scale)
		return tfm_fail(r->e, "%s: \"scale_attn_weights\" is false: attention without the 1/sqrt(head_dim) "
		                "scale has no key", r->label);
	if (by_layer)
		return tfm_fail(r->e, "%s: \"scale_attn_by_inverse_layer_idx\" scales each layer's attention "
		                "differently, and tfmc has no key for it", r->label);
	m->d_ff = inner;
	m->n_kv_head = m->n_head;
	m->head_dim = m->d_model / m->n_head;
	m->norm = NORM_LAYERNORM;
	m->norm_place = PLACE_PRE;
	m->block = BLOCK_SERIAL;
	m->position = POS_LEARNED;
	m->bias = m->qkv_bias = 1;
	m->tie_embeddings = 1;
	if (strcmp(act, "gelu_new") == 0 || strcmp(act, "gelu_pytorch_tanh") == 0) {
		m->activation = ACT_GELU;
		m->gelu = GELU_TANH;
	} else if (strcmp(act, "gelu") == 0) {
		m->activation = ACT_GELU;
		m->gelu = GELU_ERF;
	} else if (strcmp(act, "relu") == 0) {
		m->activation = ACT_RELU;
	} else {
		return tfm_fail(r->e, "%s: \"activation_function\" '%.40s' is not one tfmc has (gelu_new, "
		                "gelu, relu)", r->label, act);
	}
	return 0;
}

/* Lists the fields neither read nor known to be harmless. */
static void unknown_fields(Reader *r, char *notes, size_t size)
{
	const cJSON *item;
	size_t used = 0;

	if (size)
		notes[0] = '\0';
	cJSON_ArrayForEach(item, r->root) {
		int known = 0;
		for (int i = 0; i < r->n_used && !known; i++)
			known = strcmp(r->used[i], item->string) == 0;
		for (size_t i = 0; i < sizeof harmless / sizeof harmless[0] && !known; i++)
			known = strcmp(harmless[i], item->string) == 0;
		if (!known && used < size) {
			int k = snprintf(notes + used, size - used, "%.100s\n", item->string);
			used += k > 0 ? (size_t)k : 0;
		}
	}
	if (used >= size && size)
		notes[size - 1] = '\0';
}

int import_hf_config(const char *text, size_t len, const char *label, long long max_seq,
                     Model *m, int *arch, char *notes, size_t size, tfm_error *e)
{
	Reader r = { 0 };
	tfm_hf_config c;
	int rc;

	import_defaults(m);
	if (size)
		notes[0] = '\0';
	if (tfm_hf_config_parse(&c, text, len, label, e))
		return -1;
	*arch = c.arch;
	r.root = cJSON_ParseWithLength(text, len);
	r.label = label;
	r.e = e;
	if (!r.root)
		return tfm_fail(e, "%s: not valid JSON", label);
	rc = c.arch == TFM_HF_GPT2 ? read_gpt2(&r, max_seq, m) : read_decoder(&r, c.arch, max_seq, m);
	if (rc == 0 && !(m->norm_eps > 0))
		rc = tfm_fail(e, "%s: the norm epsilon must be positive", label);
	if (rc == 0)
		unknown_fields(&r, notes, size);
	cJSON_Delete(r.root);
	return rc;
}

int import_llama2c_config(const tfm_llama2c_config *c, const char *label, long long max_seq,
                          Model *m, tfm_error *e)
{
	import_defaults(m);
	if (max_seq > c->seq_len)
		return tfm_fail(e, "%s: --max-seq %lld is longer than the checkpoint's seq_len (%d)", label,
		                max_seq, c->seq_len);
	m->vocab = c->vocab_size;
	m->d_model = c->dim;
	m->n_layer = c->n_layers;
	m->n_head = c->n_heads;
	m->n_kv_head = c->n_kv_heads;
	m->head_dim = c->dim / c->n_heads;
	m->d_ff = c->hidden_dim;
	m->max_seq = max_seq > 0 ? max_seq : c->seq_len;
	m->norm = NORM_RMSNORM;
	m->norm_eps = 1e-5;
	m->norm_place = PLACE_PRE;
	m->activation = ACT_SWIGLU;
	m->block = BLOCK_SERIAL;
	m->position = POS_ROPE;
	m->rope_theta = 10000.0;
	m->rope_style = ROPE_INTERLEAVED;
	m->tie_embeddings = c->shared_classifier;
	return 0;
}
