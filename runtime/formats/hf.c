/* hf.c: Hugging Face checkpoints: config.json's architecture, the shards
 * of model.safetensors.index.json, and the one table of how each
 * architecture names and stores section 3's tensors (MODEL_REFERENCE.md
 * section 6).
 *
 * A Llama, Mistral, Qwen2 or Qwen3 checkpoint is read in place: its
 * safetensors files are mapped as they are and every tensor binds under
 * its section 3 name.  Gemma's norms (stored w for 1 + w) and GPT-2's
 * Conv1D matrices (stored [in, out], q, k and v fused) cannot be used as
 * stored; they bind only once `tfmc import` has written them converted into
 * a file that comes before the checkpoint, and a model that would read
 * them raw is refused with a message that says so.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "formats.h"

#define HF_MAX_JSON ((size_t)64 << 20)	/* config.json and index files are small */

const char *const tfm_hf_arch_name[TFM_HF__COUNT] = {
#define X(id, name, tied) name,
	HF_ARCHS(X)
#undef X
};

const int tfm_hf_arch_tied[TFM_HF__COUNT] = {
#define X(id, name, tied) tied,
	HF_ARCHS(X)
#undef X
};

int tfm_hf_arch(const char *name)
{
	for (int i = 0; i < TFM_HF__COUNT; i++)
		if (strcmp(tfm_hf_arch_name[i], name) == 0)
			return i;
	return -1;
}

/* ---- The names ------------------------------------------------------------ */

/* Which architectures a row of the table is for. */
#define F_LLAMA  (1 << TFM_HF_LLAMA | 1 << TFM_HF_MISTRAL | 1 << TFM_HF_QWEN2 | 1 << TFM_HF_QWEN3)
#define F_GEMMA  (1 << TFM_HF_GEMMA)
#define F_GEMMA2 (1 << TFM_HF_GEMMA2)
#define F_GEMMAS (F_GEMMA | F_GEMMA2)
#define F_DECODER (F_LLAMA | F_GEMMAS)
#define F_GPT2   (1 << TFM_HF_GPT2)

/* HF_NAME(architectures, stored name, section 3 name, operation): "%d" is
 * the layer.  GPT-2's names are listed without their optional
 * "transformer." prefix (the hub's own gpt2 files have none). */
#define HF_PROJ(X, p, s) \
X(F_DECODER, "model.layers.%d.self_attn." p "_proj.weight", "layers.%d.attention.w" s ".weight", TFM_HF_SAME) \
X(F_DECODER, "model.layers.%d.self_attn." p "_proj.bias",   "layers.%d.attention.w" s ".bias",   TFM_HF_SAME)
#define HF_MLP(X, p) \
X(F_DECODER, "model.layers.%d.mlp." p "_proj.weight", "layers.%d.feed_forward.w_" p ".weight", TFM_HF_SAME) \
X(F_DECODER, "model.layers.%d.mlp." p "_proj.bias",   "layers.%d.feed_forward.w_" p ".bias",   TFM_HF_SAME)
#define HF_NAMES(X) \
X(F_DECODER, "model.embed_tokens.weight",                  "tok_embeddings.weight",               TFM_HF_SAME) \
X(F_LLAMA,   "model.norm.weight",                          "norm.weight",                         TFM_HF_SAME) \
X(F_GEMMAS,  "model.norm.weight",                          "norm.weight",                         TFM_HF_PLUS_ONE) \
X(F_DECODER, "lm_head.weight",                             "output.weight",                       TFM_HF_SAME) \
X(F_LLAMA,   "model.layers.%d.input_layernorm.weight",     "layers.%d.attention_norm.weight",     TFM_HF_SAME) \
X(F_GEMMAS,  "model.layers.%d.input_layernorm.weight",     "layers.%d.attention_norm.weight",     TFM_HF_PLUS_ONE) \
X(F_LLAMA,   "model.layers.%d.post_attention_layernorm.weight", "layers.%d.ffn_norm.weight",      TFM_HF_SAME) \
X(F_GEMMA,   "model.layers.%d.post_attention_layernorm.weight", "layers.%d.ffn_norm.weight",      TFM_HF_PLUS_ONE) \
X(F_GEMMA2,  "model.layers.%d.post_attention_layernorm.weight", "layers.%d.attention_post_norm.weight", TFM_HF_PLUS_ONE) \
X(F_GEMMA2,  "model.layers.%d.pre_feedforward_layernorm.weight", "layers.%d.ffn_norm.weight",     TFM_HF_PLUS_ONE) \
X(F_GEMMA2,  "model.layers.%d.post_feedforward_layernorm.weight", "layers.%d.ffn_post_norm.weight", TFM_HF_PLUS_ONE) \
HF_PROJ(X, "q", "q") HF_PROJ(X, "k", "k") HF_PROJ(X, "v", "v") HF_PROJ(X, "o", "o") \
X(F_LLAMA,   "model.layers.%d.self_attn.q_norm.weight",    "layers.%d.attention.q_norm.weight",   TFM_HF_SAME) \
X(F_LLAMA,   "model.layers.%d.self_attn.k_norm.weight",    "layers.%d.attention.k_norm.weight",   TFM_HF_SAME) \
X(F_DECODER, "model.layers.%d.self_attn.rotary_emb.inv_freq", "",                                 TFM_HF_IGNORE) \
HF_MLP(X, "gate") HF_MLP(X, "up") HF_MLP(X, "down") \
X(F_GPT2,    "wte.weight",                                 "tok_embeddings.weight",               TFM_HF_SAME) \
X(F_GPT2,    "wpe.weight",                                 "pos_embeddings.weight",               TFM_HF_SAME) \
X(F_GPT2,    "h.%d.ln_1.weight",                           "layers.%d.attention_norm.weight",     TFM_HF_SAME) \
X(F_GPT2,    "h.%d.ln_1.bias",                             "layers.%d.attention_norm.bias",       TFM_HF_SAME) \
X(F_GPT2,    "h.%d.ln_2.weight",                           "layers.%d.ffn_norm.weight",           TFM_HF_SAME) \
X(F_GPT2,    "h.%d.ln_2.bias",                             "layers.%d.ffn_norm.bias",             TFM_HF_SAME) \
X(F_GPT2,    "ln_f.weight",                                "norm.weight",                         TFM_HF_SAME) \
X(F_GPT2,    "ln_f.bias",                                  "norm.bias",                           TFM_HF_SAME) \
X(F_GPT2,    "h.%d.attn.c_attn.weight",                    "layers.%d.attention.wq.weight",       TFM_HF_SPLIT_QKV) \
X(F_GPT2,    "h.%d.attn.c_attn.bias",                      "layers.%d.attention.wq.bias",         TFM_HF_SPLIT_QKV) \
X(F_GPT2,    "h.%d.attn.c_proj.weight",                    "layers.%d.attention.wo.weight",       TFM_HF_TRANSPOSE) \
X(F_GPT2,    "h.%d.attn.c_proj.bias",                      "layers.%d.attention.wo.bias",         TFM_HF_SAME) \
X(F_GPT2,    "h.%d.mlp.c_fc.weight",                       "layers.%d.feed_forward.w_up.weight",  TFM_HF_TRANSPOSE) \
X(F_GPT2,    "h.%d.mlp.c_fc.bias",                         "layers.%d.feed_forward.w_up.bias",    TFM_HF_SAME) \
X(F_GPT2,    "h.%d.mlp.c_proj.weight",                     "layers.%d.feed_forward.w_down.weight", TFM_HF_TRANSPOSE) \
X(F_GPT2,    "h.%d.mlp.c_proj.bias",                       "layers.%d.feed_forward.w_down.bias",  TFM_HF_SAME) \
X(F_GPT2,    "h.%d.attn.bias",                             "",                                    TFM_HF_IGNORE) \
X(F_GPT2,    "h.%d.attn.masked_bias",                      "",                                    TFM_HF_IGNORE) \
X(F_GPT2,    "lm_head.weight",                             "output.weight",                       TFM_HF_SAME)

static const struct hf_name {
	int archs;
	const char *stored, *key;
	int op;
} hf_names[] = {
#define X(archs, stored, key, op) { archs, stored, key, op },
	HF_NAMES(X)
#undef X
};

/* Matches name against pattern, whose one "%d" is a layer number written
 * without leading zeros. */
static int hf_match(const char *pattern, const char *name, int *layer)
{
	*layer = -1;
	while (*pattern) {
		if (pattern[0] == '%' && pattern[1] == 'd') {
			long v = 0;
			const char *start = name;
			while (*name >= '0' && *name <= '9' && v < 1000000)
				v = v * 10 + (*name++ - '0');
			if (name == start || (start[0] == '0' && name - start > 1) || v >= 1000000)
				return 0;
			*layer = (int)v;
			pattern += 2;
		} else if (*pattern++ != *name++) {
			return 0;
		}
	}
	return *name == '\0';
}

int tfm_hf_map(int arch, int tied, const char *stored, char *key, size_t cap)
{
	if (arch == TFM_HF_GPT2 && strncmp(stored, "transformer.", 12) == 0)
		stored += 12;
	for (size_t i = 0; i < sizeof hf_names / sizeof hf_names[0]; i++) {
		const struct hf_name *r = &hf_names[i];
		int layer;
		if (!(r->archs & 1 << arch) || !hf_match(r->stored, stored, &layer))
			continue;
		/* A tied model's head is the embedding: a stored copy is not read. */
		if (tied && strcmp(r->key, "output.weight") == 0) {
			snprintf(key, cap, "%s", stored);
			return TFM_HF_IGNORE;
		}
		snprintf(key, cap, r->key, layer);
		return r->op;
	}
	snprintf(key, cap, "%s", stored);
	return TFM_HF_UNKNOWN;
}

const char *tfm_hf_why(int op)
{
	switch (op) {
	case TFM_HF_PLUS_ONE: return "Gemma stores a norm weight w that means 1 + w";
	case TFM_HF_TRANSPOSE: return "GPT-2 stores its Conv1D matrices as [in, out]";
	case TFM_HF_SPLIT_QKV: return "GPT-2 stores q, k and v fused in c_attn, as [in, 3*out]";
	default: return "it is not a weight";
	}
}

/* ---- config.json ---------------------------------------------------------- */

int tfm_hf_config_parse(tfm_hf_config *c, const char *text, size_t len, const char *label,
                        tfm_error *e)
{
	cJSON *root = cJSON_ParseWithLength(text, len);
	const cJSON *archs, *a, *tie;
	int rc = -1;

	memset(c, 0, sizeof *c);
	if (root == NULL)
		return tfm_fail(e, "%s: not valid JSON", label);
	if (!cJSON_IsObject(root)) {
		tfm_fail(e, "%s: not a JSON object", label);
		goto done;
	}
	archs = cJSON_GetObjectItemCaseSensitive(root, "architectures");
	if (!cJSON_IsArray(archs) || cJSON_GetArraySize(archs) != 1
	    || !cJSON_IsString(a = cJSON_GetArrayItem(archs, 0))) {
		tfm_fail(e, "%s: \"architectures\" must be a list of one name, as in [\"LlamaForCausalLM\"]",
		         label);
		goto done;
	}
	if ((c->arch = tfm_hf_arch(a->valuestring)) < 0) {
		tfm_fail(e, "%s: architecture '%.100s' is not one tfmc reads (", label, a->valuestring);
		for (int i = 0; i < TFM_HF__COUNT; i++) {
			size_t used = strlen(e ? e->msg : "");
			if (e)
				snprintf(e->msg + used, sizeof e->msg - used, "%s%s", i ? ", " : "",
				         tfm_hf_arch_name[i]);
		}
		if (e)
			snprintf(e->msg + strlen(e->msg), sizeof e->msg - strlen(e->msg), ")");
		goto done;
	}
	c->tied = tfm_hf_arch_tied[c->arch];
	tie = cJSON_GetObjectItemCaseSensitive(root, "tie_word_embeddings");
	if (tie != NULL) {
		if (!cJSON_IsBool(tie)) {
			tfm_fail(e, "%s: \"tie_word_embeddings\" must be true or false", label);
			goto done;
		}
		c->tied = cJSON_IsTrue(tie);
	}
	rc = 0;
done:
	cJSON_Delete(root);
	return rc;
}

/* ---- model.safetensors.index.json -------------------------------------- */

/* qsort takes no context: the names it compares are handed over in a
 * thread-local. */
static _Thread_local char **hf_sort_names;

static int hf_cmp_index(const void *a, const void *b)
{
	return strcmp(hf_sort_names[*(const int *)a], hf_sort_names[*(const int *)b]);
}

/* The position in x->names of name, or -1. */
static int hf_index_find(const tfm_hf_index *x, const char *name)
{
	int lo = 0, hi = x->n_names - 1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2, c = strcmp(name, x->names[x->sorted[mid]]);
		if (c == 0)
			return x->sorted[mid];
		if (c < 0)
			hi = mid - 1;
		else
			lo = mid + 1;
	}
	return -1;
}

void tfm_hf_index_free(tfm_hf_index *x)
{
	for (int i = 0; i < x->n_files; i++)
		free(x->files[i]);
	for (int i = 0; i < x->n_names; i++)
		free(x->names[i]);
	free(x->files);
	free(x->names);
	free(x->file_of);
	free(x->sorted);
	memset(x, 0, sizeof *x);
}

int tfm_hf_index_parse(tfm_hf_index *x, const char *text, size_t len, const char *label,
                       tfm_error *e)
{
	cJSON *root = cJSON_ParseWithLength(text, len);
	const cJSON *map, *item;
	int n, rc = -1;

	memset(x, 0, sizeof *x);
	if (root == NULL)
		return tfm_fail(e, "%s: not valid JSON", label);
	map = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
	if (!cJSON_IsObject(root) || !cJSON_IsObject(map)) {
		tfm_fail(e, "%s: no \"weight_map\" object: not a model.safetensors.index.json?", label);
		goto done;
	}
	n = cJSON_GetArraySize(map);
	if (n == 0) {
		tfm_fail(e, "%s: \"weight_map\" is empty", label);
		goto done;
	}
	x->names = calloc((size_t)n, sizeof *x->names);
	x->file_of = calloc((size_t)n, sizeof *x->file_of);
	x->files = calloc((size_t)n, sizeof *x->files);
	if (!x->names || !x->file_of || !x->files) {
		tfm_fail(e, "%s: out of memory", label);
		goto done;
	}
	cJSON_ArrayForEach(item, map) {
		const char *f = cJSON_IsString(item) ? item->valuestring : NULL;
		int k;
		if (f == NULL || *f == '\0' || strchr(f, '/') || strcmp(f, ".") == 0 || strcmp(f, "..") == 0) {
			tfm_fail(e, "%s: weight_map entry '%.200s' must name a shard file beside the index, "
			         "as \"model-00001-of-00002.safetensors\"", label, item->string);
			goto done;
		}
		for (k = 0; k < x->n_files && strcmp(x->files[k], f) != 0; k++)
			;
		if (k == x->n_files && (x->files[x->n_files++] = strdup(f)) == NULL) {
			tfm_fail(e, "%s: out of memory", label);
			goto done;
		}
		if ((x->names[x->n_names] = strdup(item->string)) == NULL) {
			tfm_fail(e, "%s: out of memory", label);
			goto done;
		}
		x->file_of[x->n_names++] = k;
	}
	/* cJSON keeps duplicate keys: a tensor listed twice is an error. */
	if ((x->sorted = malloc((size_t)x->n_names * sizeof *x->sorted)) == NULL) {
		tfm_fail(e, "%s: out of memory", label);
		goto done;
	}
	for (int i = 0; i < x->n_names; i++)
		x->sorted[i] = i;
	hf_sort_names = x->names;
	qsort(x->sorted, (size_t)x->n_names, sizeof *x->sorted, hf_cmp_index);
	for (int i = 1; i < x->n_names; i++)
		if (strcmp(x->names[x->sorted[i - 1]], x->names[x->sorted[i]]) == 0) {
			tfm_fail(e, "%s: tensor '%.200s' appears twice in weight_map", label,
			         x->names[x->sorted[i]]);
			goto done;
		}
	rc = 0;
done:
	cJSON_Delete(root);
	if (rc)
		tfm_hf_index_free(x);
	return rc;
}

/* ---- Opening ---------------------------------------------------------------- */

void tfm_hf_close(tfm_hf_checkpoint *ck)
{
	for (int i = 0; i < ck->n_files; i++)
		tfm_file_close(ck->files[i]);
	free(ck->files);
	memset(ck, 0, sizeof *ck);
}

/* Keys and kinds every tensor of f by the table. */
static int hf_key_file(const tfm_hf_checkpoint *ck, tfm_file *f, tfm_error *e)
{
	char key[160];

	for (int i = 0; i < tfm_file_count(f); i++) {
		tfm_tensor_info t;
		tfm_file_info(f, i, &t);
		int op = tfm_hf_map(ck->config.arch, ck->config.tied, t.name, key, sizeof key);
		int kind = op == TFM_HF_SAME || op == TFM_HF_UNKNOWN ? TFM_BIND
		           : op == TFM_HF_IGNORE ? TFM_IGNORE : TFM_CONVERT;
		if (tfm_file_set_key(f, i, key, kind, kind == TFM_CONVERT ? tfm_hf_why(op) : NULL, e) != 0)
			return -1;
	}
	return tfm_file_index(f, e);
}

static int hf_add_file(tfm_hf_checkpoint *ck, const char *path, tfm_error *e)
{
	tfm_file **m = realloc(ck->files, (size_t)(ck->n_files + 1) * sizeof *m);

	if (m == NULL)
		return tfm_fail(e, "%s: out of memory", path);
	ck->files = m;
	if (tfm_file_open(&ck->files[ck->n_files], path, e) != 0)
		return -1;
	ck->n_files++;
	return hf_key_file(ck, ck->files[ck->n_files - 1], e);
}

/* Opens the shards an index names, in dir, and checks that each holds
 * exactly the tensors the index gives it. */
static int hf_open_index(tfm_hf_checkpoint *ck, const char *dir, const char *index_path,
                         tfm_error *e)
{
	tfm_hf_index x;
	char *text, path[4096];
	size_t len;
	int rc = -1;

	if (tfm_read_text(index_path, HF_MAX_JSON, "a model.safetensors.index.json has", &text, &len, e) != 0)
		return -1;
	if (tfm_hf_index_parse(&x, text, len, index_path, e) != 0) {
		free(text);
		return -1;
	}
	free(text);
	for (int k = 0; k < x.n_files; k++) {
		struct stat st;
		snprintf(path, sizeof path, "%s/%s", dir, x.files[k]);
		if (stat(path, &st) != 0) {
			tfm_fail(e, "%s names shard '%.200s', which is not there (%.200s: %s)", index_path,
			         x.files[k], path, strerror(errno));
			goto done;
		}
		if (hf_add_file(ck, path, e) != 0)
			goto done;
	}
	for (int i = 0; i < x.n_names; i++)
		if (tfm_file_lookup(ck->files[x.file_of[i]], x.names[i]) < 0) {
			tfm_fail(e, "%s: tensor '%.200s' is not in shard '%.200s', where %s puts it",
			         tfm_file_label(ck->files[x.file_of[i]]), x.names[i], x.files[x.file_of[i]],
			         index_path);
			goto done;
		}
	for (int k = 0; k < ck->n_files; k++)
		for (int j = 0; j < tfm_file_count(ck->files[k]); j++) {
			tfm_tensor_info t;
			tfm_file_info(ck->files[k], j, &t);
			int i = hf_index_find(&x, t.name);
			if (i < 0 || x.file_of[i] != k) {
				tfm_fail(e, "%s: tensor '%.200s' is in this shard, but %s %s", tfm_file_label(ck->files[k]),
				         t.name, index_path, i < 0 ? "does not list it" : "puts it in another");
				goto done;
			}
		}
	rc = 0;
done:
	tfm_hf_index_free(&x);
	return rc;
}

int tfm_hf_open(tfm_hf_checkpoint *ck, const char *path, tfm_error *e)
{
	char dir[4096], cfg[4200], file[4200], *text;
	struct stat st;
	size_t len, n;
	int rc;

	memset(ck, 0, sizeof *ck);
	if (stat(path, &st) != 0)
		return tfm_fail(e, "%s: %s", path, strerror(errno));
	n = strlen(path);
	if (n >= sizeof dir)
		return tfm_fail(e, "%.200s...: path too long", path);
	memcpy(dir, path, n + 1);
	if (!S_ISDIR(st.st_mode)) {
		char *slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
		else
			strcpy(dir, ".");
	}
	for (size_t k = strlen(dir); k > 1 && dir[k - 1] == '/'; k--)
		dir[k - 1] = '\0';
	snprintf(cfg, sizeof cfg, "%s/config.json", dir);
	if (access(cfg, R_OK) != 0)
		return tfm_fail(e, "%s: no config.json in %s to say which architecture the checkpoint is",
		                path, dir);
	if (tfm_read_text(cfg, HF_MAX_JSON, "a config.json has", &text, &len, e) != 0)
		return -1;
	rc = tfm_hf_config_parse(&ck->config, text, len, cfg, e);
	free(text);
	if (rc != 0)
		return -1;

	if (S_ISDIR(st.st_mode)) {
		snprintf(file, sizeof file, "%s/model.safetensors.index.json", dir);
		if (access(file, R_OK) == 0) {
			rc = hf_open_index(ck, dir, file, e);
		} else {
			snprintf(file, sizeof file, "%s/model.safetensors", dir);
			if (access(file, R_OK) != 0)
				return tfm_fail(e, "%s: no model.safetensors or model.safetensors.index.json", path);
			rc = hf_add_file(ck, file, e);
		}
	} else if (n > 5 && strcmp(path + n - 5, ".json") == 0) {
		rc = hf_open_index(ck, dir, path, e);
	} else {
		rc = hf_add_file(ck, path, e);
	}
	if (rc != 0)
		tfm_hf_close(ck);
	return rc;
}
