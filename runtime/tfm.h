/* tfm.h: the tfmc runtime, the one header that generated code includes.
 *
 * The runtime is what every compiled model shares: reading weights from a
 * safetensors file, sampling, a thread pool, timing and .npy output.  It knows
 * nothing of the compiler.  Library code here never prints and never exits:
 * a function that can fail returns 0 on success or -1 with a message in its
 * tfm_error, and the caller decides what to do with it.
 */
#ifndef TFM_H
#define TFM_H

#include <stddef.h>
#include <stdint.h>

#define TFM_VERSION "0.1.0"

/* What a program linked with libtfmrt.a links after it (the tokenizer's
 * regexes and normalization, JSON, threads, libm). */
#define TFM_LIBS "-lpcre2-8 -lutf8proc -lcjson -lpthread -lm"

typedef struct tfm_error {
	char msg[512];
} tfm_error;

/* Formats a message into e (if e is not NULL) and returns -1. */
int tfm_fail(tfm_error *e, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

/* ---- Element types ----------------------------------------------------- */

/* How tensors are stored: in files all three; in memory, as a model reads
 * its weights, TFM_F32 or TFM_BF16 (matrices and embeddings only). */
enum { TFM_F32, TFM_BF16, TFM_F16 };

/* bfloat16: the top half of a float32's bits. */
typedef uint16_t tfm_bf16;

/* Exact: every bfloat16 is a float. */
static inline float tfm_bf16_to_f32(tfm_bf16 h)
{
	union { uint32_t u; float f; } v;

	v.u = (uint32_t)h << 16;
	return v.f;
}

/* Rounds to the nearest bfloat16, ties to even; NaN stays NaN (quiet). */
tfm_bf16 tfm_f32_to_bf16(float x);

/* ---- Weights: safetensors files --------------------------------------- */

/* One tensor a model expects: its name, shape (ndim 0..2) and the element
 * type it reads in memory (TFM_F32, the zero default, or TFM_BF16). */
typedef struct tfm_tensor_decl {
	const char *name;
	int ndim;
	long shape[2];
	int dtype;
} tfm_tensor_decl;

typedef struct tfm_file tfm_file;

/* Opens a safetensors file (mmap) and parses its header.  Fails with a
 * message naming the problem on a missing, truncated or malformed file. */
int tfm_file_open(tfm_file **f, const char *path, tfm_error *e);

/* The same over bytes already in memory; the bytes must outlive the file. */
int tfm_file_from_memory(tfm_file **f, const void *data, size_t size,
                         const char *label, tfm_error *e);

void tfm_file_close(tfm_file *f);

/* Binds the n tensors of decl to data of the types they declare: out[i]
 * points to decl[i]'s data (row-major, shape as declared), float or
 * tfm_bf16.  Checks that every declared tensor is present with its shape
 * and that the file holds no other tensor; errors name the tensor and both
 * shapes.  Data already of the declared type is used in place (zero-copy);
 * any other is converted (F16 and BF16 to f32 exactly, F32 and F16 to bf16
 * rounded to nearest even) into memory owned by f.  The pointers stay
 * valid until tfm_file_close. */
int tfm_file_bind(tfm_file *f, const tfm_tensor_decl *decl, int n,
                  void **out, tfm_error *e);

/* The type tensor `name` is stored in (TFM_F32, TFM_BF16, TFM_F16), or -1
 * when the file has no such tensor. */
int tfm_file_dtype(const tfm_file *f, const char *name);

/* Writes a safetensors file of n tensors, each F32 or BF16 as its decl
 * says, from data[i] of that type. */
int tfm_file_write(const char *path, const tfm_tensor_decl *decl, int n,
                   const void *const *data, tfm_error *e);

/* ---- Sampling ---------------------------------------------------------- */

typedef struct tfm_sampler {
	int vocab;
	float temperature; /* 0: greedy (argmax) */
	int top_k;         /* 0: off */
	float top_p;       /* 1 (or >= 1): off */
	uint64_t rng;      /* state of the random generator; seed it with tfm_sampler_init */
	void *scratch;     /* [vocab] working space, owned */
} tfm_sampler;

int tfm_sampler_init(tfm_sampler *s, int vocab, float temperature, int top_k,
                     float top_p, uint64_t seed, tfm_error *e);
void tfm_sampler_free(tfm_sampler *s);
/* Picks the next token from logits [vocab]; may modify logits. */
int tfm_sample(tfm_sampler *s, float *logits);

/* ---- Threads ----------------------------------------------------------- */

#define TFM_MAX_THREADS 256

typedef struct tfm_pool tfm_pool;

/* A persistent pool of n_threads workers (the caller counts as one). */
int tfm_pool_open(tfm_pool **p, int n_threads, tfm_error *e);
void tfm_pool_close(tfm_pool *p);
int tfm_pool_threads(const tfm_pool *p);
/* Runs fn(ctx, i, n) for i = 0..n-1, n = tfm_pool_threads(p), one call per
 * thread, and returns when all have finished.  p may be NULL: then fn runs
 * once with i = 0, n = 1. */
void tfm_pool_run(tfm_pool *p, void (*fn)(void *ctx, int i, int n), void *ctx);

/* ---- Memory ---------------------------------------------------------------- */

/* size bytes aligned to 64 (a cache line, an AVX-512 vector), contents
 * undefined; NULL when out of memory.  Large blocks are mapped lazily by the
 * system, so the unused tail of a KV cache costs no memory. */
void *tfm_alloc(size_t size);
void tfm_free(void *p);

/* ---- Output and timing -------------------------------------------------- */

/* Writes a float32 NumPy .npy file of shape [rows, cols]. */
int tfm_npy_write(const char *path, const float *data, long rows, long cols,
                  tfm_error *e);

/* Seconds from an arbitrary fixed point (monotonic clock). */
double tfm_now(void);

/* ---- Kernels ---------------------------------------------------------------- */

/* The hot operations, precompiled once per instruction set (kernels.c built
 * three times: scalar, AVX2+FMA, AVX-512F) for code that cannot carry its
 * own SIMD: the JIT, whose compiler (tcc) has no intrinsics.  Each takes
 * every dimension as an argument.  Rows of activations are contiguous; a
 * matrix w is [rows, cols], row-major (nn.Linear layout). */

enum { TFM_ACT_RELU, TFM_ACT_SILU, TFM_ACT_GELU_TANH, TFM_ACT_GELU_ERF };

/* What attention reads and writes, for one layer and one chunk of tokens. */
typedef struct tfm_attention {
	const float *q;		/* [n, n_head * head_dim] */
	const float *k_cache;	/* [max_seq, n_kv_head * head_dim], this layer's */
	const float *v_cache;	/* the same shape */
	float *out;		/* [n, n_head * head_dim] */
	float *scores;		/* [n_threads, max_seq] working space */
	int n, pos;		/* tokens pos..pos+n-1; token t sees cache rows 0..pos+t */
	int n_head, n_kv_head, head_dim, max_seq;
	float scale;		/* 1 / sqrt(head_dim) */
	float softcap;		/* 0: off, else s = softcap * tanh(s / softcap) */
} tfm_attention;

typedef struct tfm_kernels {
	const char *isa;	/* "scalar", "avx2", "avx512" */
	/* y[t, r] = w[r, :] . x[t, :] (+ b[r]) for t < n, r < rows; b may be NULL.
	 * Rows are split over the pool's threads. */
	void (*matmul)(tfm_pool *pool, float *y, const float *x, const float *w,
	               const float *b, int n, int rows, int cols);
	/* The same with w in bfloat16, widened to f32 as it is read: the
	 * products and sums are f32, so y is what matmul gives for the same
	 * (bf16-valued) weights up to the order of the additions. */
	void (*matmul_bf16)(tfm_pool *pool, float *y, const float *x, const tfm_bf16 *w,
	                    const float *b, int n, int rows, int cols);
	/* out[r] = rmsnorm(in[r]) * w, or layernorm(in[r]) * w + b when b is not
	 * NULL, over rows of `width`; out may equal in. */
	void (*norm)(float *out, const float *in, const float *w, const float *b,
	             int rows, int width, float eps);
	/* Causal attention, query heads split over the pool's threads; query
	 * head h reads key/value head h / (n_head / n_kv_head). */
	void (*attention)(tfm_pool *pool, const tfm_attention *a);
	/* h[i] = act(gate[i]) * h[i] (TFM_ACT_SILU, _GELU_TANH, _GELU_ERF). */
	void (*glu)(float *h, const float *gate, long n, int act);
	/* h[i] = act(h[i]) (TFM_ACT_RELU, _GELU_TANH, _GELU_ERF). */
	void (*act)(float *h, long n, int act);
} tfm_kernels;

/* The kernels for an instruction set by name, or NULL when unknown or when
 * this CPU cannot run it; NULL name: the best this CPU runs. */
const tfm_kernels *tfm_kernels_for(const char *isa);

/* ---- Tokenizers (runtime/text/) ---------------------------------------- */

/* Text to token ids and back, as Hugging Face's `tokenizers` does it for the
 * same tokenizer.json: BPE, byte-level (GPT-2, Llama 3, Qwen) or
 * SentencePiece-style (Llama 2, Mistral, Gemma), with the file's normalizer,
 * pre-tokenizer, added tokens, post-processor and decoder; or as llama2.c
 * does it for its tokenizer.bin. */
typedef struct tfm_tokenizer tfm_tokenizer;

/* Opens path: a tokenizer.json, a llama2.c tokenizer.bin, or a model folder
 * holding tokenizer.json (or tokenizer.bin); the folder's
 * tokenizer_config.json, config.json and generation_config.json, when
 * present, give the BOS and end-of-sequence conventions.  Where none names
 * an EOS token, the added tokens named </s>, <|endoftext|>, <eos>,
 * <|end_of_text|>, <|im_end|>, <|eot_id|>, <|eom_id|>, <end_of_turn> and
 * <|end|> end a sequence.  Fails with a message naming the file and the
 * problem.  A tokenizer keeps scratch space and a word cache: one encode or
 * decode at a time on each. */
int tfm_tokenizer_open(tfm_tokenizer **t, const char *path, tfm_error *e);
void tfm_tokenizer_close(tfm_tokenizer *t);

/* The number of ids: the largest id the tokenizer knows, plus 1. */
int tfm_tokenizer_vocab(const tfm_tokenizer *t);

/* Encodes text[len], UTF-8, into *ids[*n] (malloc'ed; the caller frees it).
 * add_special: add what the tokenizer's configuration puts around one
 * sequence (BOS for Llama 2 and Gemma, nothing for GPT-2 or Qwen): Hugging
 * Face's add_special_tokens=True.  Special-token strings in the text are
 * found as Hugging Face finds them.  Invalid UTF-8 is an error naming the
 * byte offset. */
int tfm_tokenizer_encode(tfm_tokenizer *t, const char *text, size_t len, int add_special,
                         int **ids, size_t *n, tfm_error *e);

enum {
	TFM_DECODE_SKIP_SPECIAL = 1,	/* leave special tokens out (skip_special_tokens) */
	TFM_DECODE_RAW = 2		/* the bytes as they are: no U+FFFD for invalid UTF-8 */
};

/* Decodes ids[n] into *text[*len] (malloc'ed and NUL-terminated), as Hugging
 * Face's decode does; flags: TFM_DECODE_*.  Without TFM_DECODE_RAW, bytes
 * that are not UTF-8 become U+FFFD, as in Hugging Face.  An id outside the
 * vocabulary is an error naming it. */
int tfm_tokenizer_decode(tfm_tokenizer *t, const int *ids, size_t n, int flags,
                         char **text, size_t *len, tfm_error *e);

/* The beginning-of-sequence id the configuration adds: the first id that
 * add_special puts before the text, or -1 when it puts none. */
int tfm_tokenizer_bos(const tfm_tokenizer *t);
/* 1 when id ends a generation: the end-of-sequence token and any other the
 * configuration lists (eos_token_id may be a list). */
int tfm_tokenizer_is_eos(const tfm_tokenizer *t, int id);

/* ---- Models -------------------------------------------------------------- */

/* What a generated model exports, so that code which knows no model (the
 * model program's command line, tfmc run, the JIT) can drive it.  Generated
 * code defines one `const tfm_model_api NAME_api`. */
typedef struct tfm_model_api {
	const char *name;
	int vocab, max_seq;
	const tfm_tensor_decl *tensors;	/* in MODEL_REFERENCE.md section 3 order */
	int n_tensors;
	const char *target;		/* the instruction set it was compiled for */
	/* Creates an instance over n_tensors arrays in the order of tensors,
	 * each of its declared type (used in place: they must outlive the
	 * instance). */
	int (*open)(void **inst, void *const *weights, int n_threads, tfm_error *e);
	void (*close)(void *inst);
	/* Forgets the cached keys and values: the next forward starts at pos 0. */
	void (*reset)(void *inst);
	/* Runs tokens[0..n-1] at positions pos..pos+n-1 (all ids checked, and
	 * pos + n <= max_seq) and returns logits: [n, vocab] when all is set,
	 * else [1, vocab] for the last token.  The pointer stays valid until the
	 * next call.  NULL with a message in e on bad input. */
	const float *(*forward)(void *inst, const int *tokens, int n, int pos, int all,
	                        tfm_error *e);
	/* Where the weights and the tokenizer are when the command line says
	 * nothing (the spec's `weights` and `tokenizer`): a NULL-terminated list
	 * of paths, the first file winning, and a path; NULL when none. */
	const char *const *weights;
	const char *tokenizer;
} tfm_model_api;

/* The weights of a model instance, whichever way they came. */
typedef struct tfm_weights {
	tfm_file **files;	/* [n_files] the files read, in order; none for random weights */
	int n_files;
	void **data;		/* [n_tensors] float or tfm_bf16, as declared */
	void *owned;		/* random weights, else NULL */
	int n;
	size_t bytes_in_place;	/* of the tensors used where the files map them */
	size_t bytes_converted;	/* of those converted into memory at load */
} tfm_weights;

/* Reads the n tensors of decl from the files at paths[n_paths], each
 * tensor from the first that has it (so a file of converted tensors put
 * first overrides the checkpoint after it).  A path is
 *   - a safetensors file with section 3's names (what tfmc writes);
 *   - a Hugging Face checkpoint: a folder with config.json and
 *     model.safetensors or model.safetensors.index.json and its shards, the
 *     index itself, or a safetensors file beside a config.json, its names
 *     mapped by MODEL_REFERENCE.md section 6;
 *   - a llama2.c checkpoint (.bin, version 0 or 1).
 * Tensors stored as declared are used in place, mapped from the files;
 * others are converted as tfm_file_bind says.  Errors name the file, the
 * tensor and what was expected. */
int tfm_weights_open(tfm_weights *w, const char *const *paths, int n_paths,
                     const tfm_tensor_decl *decl, int n, tfm_error *e);
/* Checks what tfm_weights_open would, reading no tensor: that every one of
 * decl is there with its shape and a type a model reads, and nothing else. */
int tfm_weights_check(const char *const *paths, int n_paths, const tfm_tensor_decl *decl,
                      int n, tfm_error *e);
/* The element type every 2-D tensor of decl is stored in at paths:
 * TFM_BF16 when all are BF16, else TFM_F32; -1 when they cannot be read. */
int tfm_weights_stored_dtype(const char *const *paths, int n_paths,
                             const tfm_tensor_decl *decl, int n, tfm_error *e);
/* Opens path and binds it to api's tensor list. */
int tfm_weights_load(tfm_weights *w, const tfm_model_api *api, const char *path,
                     tfm_error *e);
/* Random weights as `tfmc init` makes them: N(0, 0.02) for matrices and
 * embeddings, 1 for norm weights, 0 for biases; the same seed gives the
 * same weights on every machine.  A bf16 tensor holds the f32 values
 * rounded. */
int tfm_weights_random(tfm_weights *w, const tfm_tensor_decl *decl, int n,
                       uint64_t seed, tfm_error *e);
void tfm_weights_free(tfm_weights *w);

/* The command line of a model program (see tfm_main's usage text):
 * --weights, --tokens, --logits, -n, sampling, --threads.  Returns the
 * process exit status. */
int tfm_main(int argc, char **argv, const tfm_model_api *api);

/* How many arguments a model-program option takes up: 2 for "--seed 7", 1
 * for "--seed=7" or "--help", 0 when arg is not one of its options.  What
 * `tfmc run` uses to pass them through. */
int tfm_main_option(const char *arg);

#endif
