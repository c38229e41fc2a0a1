/* formats.h: weight files of other software, read as tfm_files whose
 * tensors bind under MODEL_REFERENCE.md section 3's names.
 *
 * What the runtime's readers and `tfmc import` share: the llama2.c header,
 * and the one table of how Hugging Face names and stores each tensor of
 * each architecture tfmc reads. */
#ifndef FORMATS_H
#define FORMATS_H

#include <stddef.h>
#include "tfm_internal.h"

/* ---- llama2.c .bin (llama2c.c) ----------------------------------------- */

typedef struct tfm_llama2c_config {
	int version;		/* 0 (legacy) or 1 */
	int dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
	int shared_classifier;	/* the output head is the token embedding */
} tfm_llama2c_config;

/* 1 when data starts with the version 1 magic. */
int tfm_llama2c_probe(const void *data, size_t size);
/* Reads the header of the size bytes at data (which must outlive *f) and
 * lists its tensors in place under section 3's names; the file's size must
 * be exactly what the header implies. */
int tfm_llama2c_parse(tfm_file **f, tfm_llama2c_config *c, const void *data, size_t size,
                      const char *label, tfm_error *e);
int tfm_llama2c_open(tfm_file **f, tfm_llama2c_config *c, const char *path, tfm_error *e);

/* ---- Hugging Face checkpoints (hf.c) ------------------------------------ */

/* HF_ARCH(id, architectures name, ties embeddings by default) */
#define HF_ARCHS(X) \
X(LLAMA,   "LlamaForCausalLM",   0) \
X(MISTRAL, "MistralForCausalLM", 0) \
X(QWEN2,   "Qwen2ForCausalLM",   0) \
X(QWEN3,   "Qwen3ForCausalLM",   0) \
X(GEMMA,   "GemmaForCausalLM",   1) \
X(GEMMA2,  "Gemma2ForCausalLM",  1) \
X(GPT2,    "GPT2LMHeadModel",    1)

enum {
#define X(id, name, tied) TFM_HF_##id,
	HF_ARCHS(X)
#undef X
	TFM_HF__COUNT
};

extern const char *const tfm_hf_arch_name[TFM_HF__COUNT];
extern const int tfm_hf_arch_tied[TFM_HF__COUNT];
/* TFM_HF_ id of an architectures name, or -1. */
int tfm_hf_arch(const char *name);

/* What a stored tensor needs to become section 3's. */
enum {
	TFM_HF_SAME,		/* used as stored */
	TFM_HF_PLUS_ONE,	/* Gemma's norms: stored w means 1 + w */
	TFM_HF_TRANSPOSE,	/* GPT-2's Conv1D: stored [in, out] */
	TFM_HF_SPLIT_QKV,	/* GPT-2's c_attn: q, k, v side by side, stored [in, 3*out] */
	TFM_HF_IGNORE,		/* not a weight: a mask buffer, RoPE's inv_freq, a tied head's copy */
	TFM_HF_UNKNOWN		/* not a name of this architecture */
};

/* Maps the stored name of arch's checkpoint to section 3: returns a
 * TFM_HF_ operation and writes the section 3 name into key[cap] (for
 * SPLIT_QKV the name of q; k and v follow from it).  tied: the config ties
 * the output head to the embedding. */
int tfm_hf_map(int arch, int tied, const char *stored, char *key, size_t cap);
/* Why an operation keeps a tensor from being used in place (static text). */
const char *tfm_hf_why(int op);

/* What config.json says that the weights' reader needs. */
typedef struct tfm_hf_config {
	int arch;		/* TFM_HF_ */
	int tied;		/* tie_word_embeddings, or the architecture's default */
} tfm_hf_config;

/* Reads the architecture and the tying from config.json's text[len]. */
int tfm_hf_config_parse(tfm_hf_config *c, const char *text, size_t len, const char *label,
                        tfm_error *e);

/* A model.safetensors.index.json: the shards and which tensor each holds. */
typedef struct tfm_hf_index {
	char **files;		/* [n_files] shard file names, in order of first mention */
	int n_files;
	char **names;		/* [n_names] tensor names */
	int *file_of;		/* [n_names] index into files */
	int *sorted;		/* [n_names] indices of names, in name order */
	int n_names;
} tfm_hf_index;

/* Parses an index's text[len]; shard names must be plain file names (no
 * '/'), as the hub writes them beside the index. */
int tfm_hf_index_parse(tfm_hf_index *x, const char *text, size_t len, const char *label,
                       tfm_error *e);
void tfm_hf_index_free(tfm_hf_index *x);

/* A Hugging Face checkpoint opened for reading: its config and its
 * safetensors files (one, or the shards of an index, each checked against
 * the index), every tensor keyed and kinded by tfm_hf_map. */
typedef struct tfm_hf_checkpoint {
	tfm_hf_config config;
	tfm_file **files;	/* [n_files], owned */
	int n_files;
} tfm_hf_checkpoint;

/* path: a folder holding config.json and model.safetensors or
 * model.safetensors.index.json, that index, or a safetensors file beside
 * a config.json. */
int tfm_hf_open(tfm_hf_checkpoint *ck, const char *path, tfm_error *e);
void tfm_hf_close(tfm_hf_checkpoint *ck);

#endif
