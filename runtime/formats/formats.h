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

/* ---- GGUF (gguf.c) ---------------------------------------------------------- */

#include <stdint.h>

/* Metadata value types, numbered as GGUF stores them. */
enum {
	TFM_GGUF_UINT8, TFM_GGUF_INT8, TFM_GGUF_UINT16, TFM_GGUF_INT16, TFM_GGUF_UINT32,
	TFM_GGUF_INT32, TFM_GGUF_FLOAT32, TFM_GGUF_BOOL, TFM_GGUF_STRING, TFM_GGUF_ARRAY,
	TFM_GGUF_UINT64, TFM_GGUF_INT64, TFM_GGUF_FLOAT64,
	TFM_GGUF__COUNT
};
/* "uint8" ... "float64", or "?". */
const char *tfm_gguf_type_name(int type);

/* One metadata value; strings and arrays point into the file's bytes. */
typedef struct tfm_gguf_value {
	int type;			/* TFM_GGUF_ */
	uint64_t u;			/* UINT8..UINT64, BOOL (0 or 1) */
	int64_t i;			/* INT8..INT64 */
	double f;			/* FLOAT32, FLOAT64 */
	const char *str;		/* STRING: [len] bytes, not NUL-terminated */
	size_t len;
	int elem_type;			/* ARRAY: the elements' TFM_GGUF_ type */
	uint64_t count;			/* ARRAY: how many */
	const unsigned char *items;	/* ARRAY: [bytes] the elements as stored */
	size_t bytes;
} tfm_gguf_value;

/* The elements of an array, in order (tfm_gguf_iter_next: 1 and the next
 * element in *v, 0 at the end).  Arrays of strings or arrays are walked,
 * so reading element i costs i steps: iterate, do not index. */
typedef struct tfm_gguf_iter {
	int type;
	uint64_t left;
	const unsigned char *p, *end;
} tfm_gguf_iter;
void tfm_gguf_iter_init(tfm_gguf_iter *it, const tfm_gguf_value *array);
int tfm_gguf_iter_next(tfm_gguf_iter *it, tfm_gguf_value *v);

/* A GGUF file (versions 2 and 3): its metadata and its tensors, as a
 * tfm_file under their GGUF names, shapes in section 3's order (GGUF's
 * dims reversed: dims {in, out} is [out, in]).  F32, F16, BF16 tensors
 * read as tfm's dtypes; Q8_0, Q4_0, Q4_K, Q6_K as TFM_Q8_0 ... */
typedef struct tfm_gguf tfm_gguf;

/* 1 when data starts with "GGUF". */
int tfm_gguf_probe(const void *data, size_t size);
/* Over the size bytes at data, which must outlive *g. */
int tfm_gguf_parse(tfm_gguf **g, const void *data, size_t size, const char *label,
                   tfm_error *e);
int tfm_gguf_open(tfm_gguf **g, const char *path, tfm_error *e);
void tfm_gguf_close(tfm_gguf *g);

/* The tensors; owned by g. */
tfm_file *tfm_gguf_file(const tfm_gguf *g);
/* The section 3 name of a tensor llama.cpp names `name` ("blk.3.attn_q.weight"
 * is "layers.3.attention.wq.weight") into key[cap]: 0, or -1 for a name
 * that is none of section 6's. */
int tfm_gguf_map_name(const char *name, char *key, size_t cap);
/* g's tensors, keyed by section 3's names (the others keep theirs, and a
 * model that does not use them refuses them by name), as a tfm_file that
 * owns the mapping; g is closed, whatever happens. */
int tfm_gguf_take_weights(tfm_gguf *g, tfm_file **f, tfm_error *e);
/* The other way: llama.cpp's name of section 3's key; 0, or -1. */
int tfm_gguf_name_of(const char *key, char *name, size_t cap);
uint32_t tfm_gguf_version(const tfm_gguf *g);
/* general.alignment, or the default 32. */
uint32_t tfm_gguf_alignment(const tfm_gguf *g);

/* The value of key (v may be NULL: is it there?); 0 or -1 when absent. */
int tfm_gguf_find(const tfm_gguf *g, const char *key, tfm_gguf_value *v);
/* Pair i in file order; its key is [*key_len] bytes, not NUL-terminated. */
size_t tfm_gguf_count(const tfm_gguf *g);
int tfm_gguf_kv(const tfm_gguf *g, size_t i, const char **key, size_t *key_len,
                tfm_gguf_value *v);
/* Typed lookups: -1 when key is absent or of another kind (uint: any
 * integer type, not negative; float: FLOAT32 or FLOAT64). */
int tfm_gguf_uint(const tfm_gguf *g, const char *key, uint64_t *x);
int tfm_gguf_float(const tfm_gguf *g, const char *key, double *x);
int tfm_gguf_string(const tfm_gguf *g, const char *key, const char **s, size_t *len);

/* Writing a GGUF file (version 3, aligned to 32): n_kv metadata pairs
 * and n_t tensors (2-D at most, shape in section 3's order, rows whole
 * blocks of dtype: F32, F16, BF16 or a quantized type), through a
 * temporary file renamed into place. */
typedef struct tfm_gguf_out_kv {
	const char *key;
	int type;		/* TFM_GGUF_ */
	uint64_t u;		/* unsigned integers and BOOL */
	int64_t i;		/* signed integers */
	double f;		/* FLOAT32, FLOAT64 */
	const char *str;	/* STRING (NUL-terminated) */
	int elem_type;		/* ARRAY: STRING (items: const char *const *), INT32 or FLOAT32 */
	size_t count;
	const void *items;
} tfm_gguf_out_kv;

typedef struct tfm_gguf_out_tensor {
	const char *name;
	int dtype, ndim;
	size_t shape[2];
	const void *data;
} tfm_gguf_out_tensor;

int tfm_gguf_write(const char *path, const tfm_gguf_out_kv *kv, size_t n_kv, const tfm_gguf_out_tensor *t,
                   size_t n_t, tfm_error *e);

#endif
