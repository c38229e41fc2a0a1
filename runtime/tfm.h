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

/* How tensors are stored: in files all of them; in memory, as a model
 * reads its weights, every one but TFM_F16 (all but TFM_F32 for matrices
 * and embeddings only).  The quantized types are GGML's blocks, bit for bit
 * (runtime/formats/quant.c), as GGUF files hold them; between TFM_F16 and
 * them lie types a file may hold and no model reads (tfm_internal.h). */
enum { TFM_F32, TFM_BF16, TFM_F16 };
enum {
	TFM_Q8_0 = 15,	/* blocks of 32 weights in 34 bytes: f16 d, int8 q[32] */
	TFM_Q4_0,	/* blocks of 32 in 18: f16 d, 16 bytes of nibbles */
	TFM_Q4_K,	/* blocks of 256 in 144: f16 d and dmin, 6-bit scales and mins, nibbles */
	TFM_Q6_K	/* blocks of 256 in 210: 4 + 2 bits of q, int8 scales, f16 d */
};

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

/* GGML's quantized blocks (runtime/formats/quant.c).  1 for TFM_Q8_0 ..
 * TFM_Q6_K; the bytes of n elements of dtype, n whole blocks (0 if not);
 * n elements (whole blocks) decoded to floats as GGML's dequantize_row_*
 * computes them, or encoded by GGML's reference rounding
 * (quantize_row_*_ref, llama.cpp's without an importance matrix): 0, or -1
 * for another type or a partial block. */
int tfm_dtype_is_quant(int dtype);
size_t tfm_dtype_row_bytes(int dtype, size_t n);
int tfm_dequantize(int dtype, const void *src, float *dst, size_t n);
int tfm_quantize(int dtype, const float *src, void *dst, size_t n);

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
	const void *k_cache;	/* attention: this layer's cache, [n_kv_head, max_seq,
				 * head_dim] of kv_dtype (a head's positions one after
				 * another, so that its queries stream them);
				 * attention_window: the window's keys, [n, n_kv_head *
				 * head_dim] floats */
	const void *v_cache;	/* the values, the same way */
	float *out;		/* [n, n_head * head_dim] */
	float *scores;		/* attention_window's working space
				 * (tfm_attention_grad_scratch); attention needs none */
	int n, pos;		/* tokens pos..pos+n-1; token t sees cache rows 0..pos+t */
	int n_head, n_kv_head, head_dim, max_seq;
	float scale;		/* 1 / sqrt(head_dim) */
	float softcap;		/* 0: off, else s = softcap * tanh(s / softcap) */
	float dropout;		/* training: the probabilities' dropout p (< 1); 0 off */
	uint64_t seed;		/* its masks' seed (tfm_dropout_keep; the element index
				 * is the attention kernel's comment's) */
	int kv_dtype;		/* attention: the cache's TFM_F32 or TFM_F16 */
} tfm_attention;

/* What the backward of attention reads and writes, for one layer and one
 * window of n tokens at positions 0..n-1 attending causally to each other
 * (training: keys and values are the window's own). */
typedef struct tfm_attention_grad {
	const float *q;		/* [n, n_head * head_dim] as the forward read them (after RoPE) */
	const float *k, *v;	/* [n, n_kv_head * head_dim] */
	const float *out;	/* [n, n_head * head_dim] the forward's output */
	const float *dout;	/* [n, n_head * head_dim] */
	float *dq;		/* [n, n_head * head_dim], accumulated (+=) */
	float *dk, *dv;		/* [n, n_kv_head * head_dim], accumulated (+=) */
	float *scratch;		/* working space: tfm_attention_grad_scratch floats */
	int n, n_head, n_kv_head, head_dim;
	float scale, softcap;	/* as the forward's */
	float dropout;		/* as the forward's, with the same seed: the same masks */
	uint64_t seed;
} tfm_attention_grad;

/* Floats of scratch the backward of attention needs for n tokens, with
 * n_threads = tfm_pool_threads of the pool it runs on: each thread's blocks
 * of 64 queries' scores and their gradients, [2, 64, n], and k^T and v^T of
 * a key/value head, [2, head_dim, n]. */
static inline long tfm_attention_grad_scratch(int n, int n_head, int head_dim, int n_threads)
{
	(void)n_head;
	return (long)n_threads * (2L * (64 + head_dim) * n + 64);
}

/* Dropout masks from a counter, so that any thread computes any element's
 * and the same seed gives the same masks whatever the thread count:
 * element i of the mask of seed is kept with probability 1 - p. */
static inline uint64_t tfm_mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline int tfm_dropout_keep(uint64_t seed, uint64_t i, float p)
{
	return (tfm_mix64(seed ^ tfm_mix64(i + 0x9e3779b97f4a7c15ull)) >> 40)
	       >= (uint64_t)((double)p * 16777216.0);
}

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
	/* The same with w in one of GGML's quantized formats (dtype TFM_Q8_0,
	 * _Q4_0, _Q4_K, _Q6_K; cols a whole number of its blocks, each row
	 * tfm_dtype_row_bytes): y is what matmul gives for the dequantized
	 * weights up to the order of the additions. */
	void (*matmul_q)(tfm_pool *pool, float *y, const float *x, const void *w, int dtype,
	                 const float *b, int n, int rows, int cols);
	/* The int8 mode's: the same, but a single token (n = 1) is first
	 * rounded to 8 bits as llama.cpp rounds it for the weights' type (Q8_0
	 * blocks of 32 for Q8_0 and Q4_0, Q8_K blocks of 256 for Q4_K and Q6_K)
	 * and multiplied in integers, as llama.cpp does (matmul_i8.c); anything
	 * else is matmul_q. */
	void (*matmul_qi8)(tfm_pool *pool, float *y, const float *x, const void *w, int dtype,
	                   const float *b, int n, int rows, int cols);
	/* out[r] = rmsnorm(in[r]) * w, or layernorm(in[r]) * w + b when b is not
	 * NULL, over rows of `width`; out may equal in. */
	void (*norm)(float *out, const float *in, const float *w, const float *b,
	             int rows, int width, float eps);
	/* Causal attention, query heads split over the pool's threads; query
	 * head h reads key/value head h / (n_head / n_kv_head).  With
	 * dropout p > 0 (training) each probability is kept with probability
	 * 1 - p and scaled by 1 / (1 - p) (the softmax's sum is of them all):
	 * the mask of query head h, query t of the chunk and key s is element
	 * (h * L + pos + t) * L + s, L = pos + n, of tfm_dropout_keep's masks of
	 * seed.  The bits with p = 0 are those of a kernel without dropout. */
	void (*attention)(tfm_pool *pool, const tfm_attention *a);
	/* Writes the keys and values of tokens pos..pos+n-1 (k, v: [n, n_kv_head
	 * * head_dim]; pos + n <= max_seq, the caller's to check) into a layer's
	 * caches as attention reads them, as dtype (TFM_F32, or TFM_F16 rounded
	 * to nearest even). */
	void (*kv_store)(void *k_cache, void *v_cache, const float *k, const float *v, int n, int pos,
	                 int n_kv_head, int head_dim, int max_seq, int dtype);
	/* h[i] = act(gate[i]) * h[i] (TFM_ACT_SILU, _GELU_TANH, _GELU_ERF). */
	void (*glu)(float *h, const float *gate, long n, int act);
	/* h[i] = act(h[i]) (TFM_ACT_RELU, _GELU_TANH, _GELU_ERF). */
	void (*act)(float *h, long n, int act);

	/* ---- Training: the backward pass and the optimizer ----
	 * Activations are rows of the B windows of a batch, B * T rows.
	 * Gradients of activations and of weights are accumulated (+=), so that
	 * every use of a value adds its share; the caller zeroes them first.
	 * Work that splits over the pool's threads gives the same bits at any
	 * thread count unless said otherwise. */

	/* C[m, n] = op(A) op(B), or C += op(A) op(B) when accumulate: op(A) is
	 * [m, k], A stored [m, k] with row stride lda, or [k, m] when ta
	 * (transposed); op(B) is [k, n], B stored [k, n] (ldb), or [n, k] when
	 * tb.  Row-major.  The training products are
	 *   dX += dY W:    gemm(0, 0, n, cols, rows, dY, rows, W, cols, dX, cols, 1)
	 *   dW += dY^T X:  gemm(1, 0, rows, cols, n, dY, rows, X, cols, dW, cols, 1)
	 * k = 0 gives C = 0 (C as it was when accumulate).  The threads split
	 * C's rows or columns, never k. */
	void (*gemm)(tfm_pool *pool, int ta, int tb, int m, int n, int k, const float *a, int lda,
	             const float *b, int ldb, float *c, int ldc, int accumulate);
	/* db[c] += sum over the n rows of dy[r, c], c < width. */
	void (*bias_backward)(float *db, const float *dy, int n, int width);
	/* The backward of norm (out = norm(in) * w (+ b)): din[r] += ..., dw +=
	 * the sum over rows, db += the sum of dout when db is not NULL, which
	 * is layernorm (NULL: rmsnorm). */
	void (*norm_backward)(tfm_pool *pool, float *din, float *dw, float *db, const float *dout,
	                      const float *in, const float *w, int rows, int width, float eps);
	/* Rotates the `heads` heads of head_dim in each row t < n of x (row
	 * stride ld) by position t (RoPE, MODEL_REFERENCE.md section 2):
	 * cos, sin are [n, head_dim / 2], the angles pos * theta^(-2i/head_dim);
	 * interleaved pairs (x[2i], x[2i+1]), else (x[i], x[i + head_dim/2]).
	 * inverse rotates by -angle: the backward, in place on the gradient. */
	void (*rope)(float *x, int n, int ld, int heads, int head_dim, const float *cos,
	             const float *sin, int interleaved, int inverse);
	/* The backward of a window's causal attention (softmax recomputed from
	 * q and k, by blocks of queries as matrix products): the threads split
	 * the key/value heads; GQA and MQA as the forward's.  Dropout draws
	 * the forward's masks, pos = 0 and L = n.  The scratch holds no n^2. */
	void (*attention_backward)(tfm_pool *pool, const tfm_attention_grad *a);
	/* attention's forward for a window of training (pos = 0, the keys and
	 * values the window's own), by attention_backward's blocks of queries
	 * as matrix products: the same masks, the bits not attention's; scores
	 * is working space of tfm_attention_grad_scratch floats.  The threads
	 * split the key/value heads. */
	void (*attention_window)(tfm_pool *pool, const tfm_attention *a);
	/* The backward of h = act(gate) * up: dgate += dh * up * act'(gate),
	 * dup += dh * act(gate) (TFM_ACT_SILU, _GELU_TANH, _GELU_ERF). */
	void (*glu_backward)(float *dgate, float *dup, const float *gate, const float *up,
	                     const float *dh, long n, int act);
	/* The backward of h = act(x): dx += dh * act'(x) (TFM_ACT_RELU, _GELU_TANH,
	 * _GELU_ERF; relu'(0) = 0). */
	void (*act_backward)(float *dx, const float *x, const float *dh, long n, int act);
	/* x[i] = c * tanh(x[i] / c) */
	void (*softcap)(float *x, long n, float c);
	/* The backward of y = c * tanh(x / c) from y: dx += dy * (1 - (y / c)^2). */
	void (*softcap_backward)(float *dx, const float *y, const float *dy, long n, float c);
	/* y = a + b (y may be a or b). */
	void (*add)(float *y, const float *a, const float *b, long n);
	/* Inverted dropout: y = x * keep / (1 - p), keep = tfm_dropout_keep(seed, i, p)
	 * for element i of x (so each tensor needs a seed of its own), y may be
	 * x; and its backward, dx += dy * keep / (1 - p).  p = 0: y = x. */
	void (*dropout)(float *y, const float *x, long n, float p, uint64_t seed);
	void (*dropout_backward)(float *dx, const float *dy, long n, float p, uint64_t seed);
	/* The loss of section 5 over rows of logits [rows, vocab] (after the
	 * soft-cap) with targets[rows] in [0, vocab): returns the sum over rows of
	 * CE + z_loss * lse^2, in double, in row order; when dlogits is not NULL
	 * it receives scale * d(that sum)/d(logits) (dlogits may be logits).
	 * Each row's maximum is subtracted before e^x; rows split over the
	 * pool's threads. */
	double (*cross_entropy)(tfm_pool *pool, const float *logits, float *dlogits, const int *targets,
	                        int rows, int vocab, float z_loss, float scale);
	/* dE[ids[t]] += scale * dx[t], rows of width d, t < n; ids may repeat
	 * (the token embedding's backward, and the learned positions' with
	 * ids = positions).  Columns split over the pool's threads. */
	void (*embed_backward)(tfm_pool *pool, float *dE, const float *dx, const int *ids, int n, int d,
	                       float scale);
	/* AdamW on one tensor (MODEL_REFERENCE.md section 5): when wd > 0,
	 * w -= lr * wd * w; then m = beta1 m + (1 - beta1) g,
	 * v = beta2 v + (1 - beta2) g^2, w -= lr * (m / bc1) / (sqrt(v / bc2) + eps)
	 * with bc1 = 1 - beta1^t, bc2 = 1 - beta2^t, in torch.optim.AdamW's
	 * order of operations (w *= 1 - lr wd; w -= (lr / bc1) m /
	 * (sqrt(v) / sqrt(bc2) + eps)). */
	void (*adamw)(float *w, const float *g, float *m, float *v, long n, float lr, float beta1,
	              float beta2, float eps, float wd, float bc1, float bc2);
	/* The sum of x[i]^2, in double, in a fixed order. */
	double (*sumsq)(const float *x, long n);
	/* x *= s */
	void (*scale)(float *x, long n, float s);
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

/* Trains a byte-level BPE tokenizer on texts[n_texts] (UTF-8; each its own
 * document) into *json[*json_len] (malloc'ed, NUL-terminated): a
 * tokenizer.json with GPT-2's pipeline (ByteLevel with its regex) that
 * tfm_tokenizer_open reads back.  vocab ids in all: the 256 bytes, then the
 * merges (the highest pair count first, ties to the smallest pair of byte
 * strings), then special[n_special] as special added tokens.  Same input,
 * same bytes out.  Fails on an empty or non-UTF-8 text (naming it, its line
 * and byte) and on a vocab below 256 + n_special.  runtime/text/bpe_train.c */
typedef struct tfm_bpe_text {
	const char *name;	/* for messages */
	const char *data;
	size_t len;
} tfm_bpe_text;

typedef struct tfm_bpe_stats {
	int merges, vocab;	/* learned; ids written (fewer than asked when the text runs out) */
	size_t bytes;		/* of text */
	size_t words, distinct;	/* pre-tokenized words, and distinct ones */
	size_t tokens;		/* the text's tokens under the result (special tokens included) */
} tfm_bpe_stats;

int tfm_bpe_train(const tfm_bpe_text *texts, int n_texts, int vocab, const char *const *special,
                  int n_special, char **json, size_t *json_len, tfm_bpe_stats *st, tfm_error *e);

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
 *   - a llama2.c checkpoint (.bin, version 0 or 1);
 *   - a GGUF file, llama.cpp's names mapped by section 6.
 * Tensors stored as declared are used in place, mapped from the files;
 * others are converted as tfm_file_bind says.  Errors name the file, the
 * tensor and what was expected. */
int tfm_weights_open(tfm_weights *w, const char *const *paths, int n_paths,
                     const tfm_tensor_decl *decl, int n, tfm_error *e);
/* Checks what tfm_weights_open would, reading no tensor: that every one of
 * decl is there with its shape and a type a model reads, and nothing else. */
int tfm_weights_check(const char *const *paths, int n_paths, const tfm_tensor_decl *decl,
                      int n, tfm_error *e);
/* The element type each tensor of decl is stored in at paths, into
 * dtypes[n] (TFM_ ids; -1 for one that is not there): 0, or -1 when the
 * files cannot be read. */
int tfm_weights_stored_dtypes(const char *const *paths, int n_paths,
                              const tfm_tensor_decl *decl, int n, int *dtypes, tfm_error *e);
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

/* ---- Training (runtime/train/) -------------------------------------------- */

/* What a model's training code exports: the forward and backward pass of
 * MODEL_REFERENCE.md section 5 over a batch, for code that knows no model
 * (tfmc train, grad and eval; NAME_train_* of an emitted model).  Generated
 * with `--train`, beside the tfm_model_api. */
typedef struct tfm_train_api {
	const char *name;
	int vocab, max_seq;
	const tfm_tensor_decl *tensors;	/* as the model's, every one F32 */
	int n_tensors;
	double dropout, z_loss, weight_decay;	/* the spec's training keys */
	/* An instance for batches of `batch` windows of `seq` tokens (seq <=
	 * max_seq), reading weights[n_tensors] in place (the trainer updates
	 * them between steps) and writing grads[n_tensors]. */
	int (*open)(void **inst, float *const *weights, float *const *grads, int batch, int seq,
	            int n_threads, tfm_error *e);
	void (*close)(void *inst);
	/* One batch: tokens [batch, seq + 1], each window's inputs w[0..seq-1]
	 * and targets w[1..seq].  The mean loss of section 5 goes to *loss;
	 * with grads set, the gradients overwrite grads; with dropout set (and
	 * the spec's p > 0), dropout applies with masks from seed.  0, or -1
	 * with a message (an id out of range names its window and position). */
	int (*step)(void *inst, const int *tokens, int grads, int dropout, uint64_t seed, double *loss,
	            tfm_error *e);
} tfm_train_api;

/* The command lines of `tfmc train`, `tfmc grad` and `tfmc eval` (command
 * is "train", "grad" or "eval") for a model with its training code and its
 * inference code (for the sample at the end).  Returns the exit status. */
int tfm_train_main(int argc, char **argv, const char *command, const tfm_train_api *train,
                   const tfm_model_api *model);

/* ---- Fine-tuning: training a model inside a C program -------------------- */

/* A model's training state: its weights, AdamW's moments and the step
 * count, with the training code of a tfm_train_api (NAME_train_api, which
 * `tfmc SPEC -o NAME.c --train` emits).  A step is one of `tfmc train`'s,
 * on a batch the program gives: the same loss, clipping, AdamW and schedule
 * (MODEL_REFERENCE.md section 5), bit for bit. */
typedef struct tfm_finetune tfm_finetune;

/* The learning rate's schedule. */
enum { TFM_SCHEDULE_COSINE, TFM_SCHEDULE_CONSTANT };

/* How a model is fine-tuned.  Fill one with tfm_finetune_defaults, then
 * change what you need; the defaults are those of `tfmc train`. */
typedef struct tfm_finetune_options {
	int batch;		/* windows per step (16) */
	int seq;		/* tokens per window, 1..max_seq (0: 256, or max_seq when smaller) */
	int threads;		/* 1..TFM_MAX_THREADS (0: the online CPUs, at most 64) */
	long steps;		/* the schedule's length (1000); later steps keep its last rate */
	long warmup;		/* steps of linear warm-up, at most steps (-1: steps / 10, at most 100) */
	int schedule;		/* TFM_SCHEDULE_COSINE (the default) or TFM_SCHEDULE_CONSTANT */
	double lr;		/* the peak learning rate (1e-3) */
	double min_lr;		/* where the cosine ends, at most lr (-1: lr / 10) */
	double clip;		/* the gradient's norm is clipped to this (1.0; 0: off) */
	double beta1, beta2;	/* AdamW's (0.9, 0.95) */
	double eps;		/* AdamW's (1e-8) */
	uint64_t seed;		/* the dropout masks, and random weights without a path (42) */
} tfm_finetune_options;

void tfm_finetune_defaults(tfm_finetune_options *o);

/* A training state for api's model from the weights at weights_path (what
 * tfm_weights_open reads: a safetensors file, a Hugging Face folder, a
 * llama2.c .bin; copied, as f32), or when NULL random weights as `tfmc init
 * --seed o->seed` makes them.  o NULL: the defaults.  0, or -1 with a
 * message in e naming the option or the file. */
int tfm_finetune_open(tfm_finetune **ft, const tfm_train_api *api, const char *weights_path,
                      const tfm_finetune_options *o, tfm_error *e);
/* The same from tensors in memory, f32, in the order of api->tensors (copied). */
int tfm_finetune_open_tensors(tfm_finetune **ft, const tfm_train_api *api,
                              const float *const *weights, const tfm_finetune_options *o,
                              tfm_error *e);

/* One optimizer step on tokens[batch * (seq + 1)]: each window of seq + 1
 * ids gives the inputs w[0..seq-1] and the targets w[1..seq].  *loss is the
 * batch's mean loss before the update.  An id out of range, or a loss or
 * gradient that is not finite, is an error ("step N: ...") that leaves the
 * weights as they were. */
int tfm_finetune_step(tfm_finetune *ft, const int *tokens, double *loss, tfm_error *e);
/* The mean loss of tokens[batch * (seq + 1)] under the current weights, no
 * dropout, nothing updated: a validation batch. */
int tfm_finetune_loss(tfm_finetune *ft, const int *tokens, double *loss, tfm_error *e);
/* The steps done so far. */
long tfm_finetune_steps_done(const tfm_finetune *ft);

/* Writes the current weights to path as an F32 safetensors file of the
 * model's tensors (atomically: path is the old file or the whole new one),
 * which NAME_open and `tfmc run --weights` read; the metadata records the
 * model and the step. */
int tfm_finetune_save(tfm_finetune *ft, const char *path, tfm_error *e);
void tfm_finetune_close(tfm_finetune *ft);

/* How many arguments a model-program option takes up: 2 for "--seed 7", 1
 * for "--seed=7" or "--help", 0 when arg is not one of its options.  What
 * `tfmc run` uses to pass them through. */
int tfm_main_option(const char *arg);

#endif
