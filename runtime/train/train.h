/* train.h: what the trainer's files (runtime/train/) share with each other
 * and with their tests: the data files and their windows (data.c), the
 * optimizer and its schedule (optim.c), one training step and evaluation
 * (trainer.c), checkpoints (checkpoint.c) and the progress line
 * (progress.c), and the options of the command lines (train_main.c), which
 * tfmc compare (compiler/compare.c) shares.  tfm_train_main (train_main.c)
 * is the only one here that prints.
 *
 * MODEL_REFERENCE.md section 5 is the contract for all of it.
 */
#ifndef TFM_TRAIN_H
#define TFM_TRAIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tfm.h"

/* ---- Data (data.c) ------------------------------------------------------ */

/* How a data file is read. */
enum {
	TFM_DATA_NPY,	/* a NumPy .npy: 1-D, C order, little-endian int32, int64 or uint16 */
	TFM_DATA_BIN,	/* raw little-endian uint16 ids (nanoGPT's train.bin) */
	TFM_DATA_TEXT,	/* UTF-8 text: tokenized, or as bytes (ids 0-255) without a tokenizer */
	TFM_DATA_BYTES	/* what a TFM_DATA_TEXT file read without a tokenizer is */
};

/* A data file's token ids, every one checked to be in [0, vocab). */
typedef struct tfm_data {
	int *ids;	/* [n] malloc'ed */
	size_t n;
	int format;	/* TFM_DATA_NPY, _BIN, _TEXT (tokenized) or _BYTES */
	size_t bytes;	/* _TEXT, _BYTES: the text's size in bytes; else 0 */
} tfm_data;

/* The format of the file path whose first size bytes are head: .npy by its
 * magic or its name, .bin by its name, anything else text. */
int tfm_data_format(const char *path, const void *head, size_t size);

/* Reads the size bytes at bytes as a file of `format` (TFM_DATA_NPY, _BIN or
 * _TEXT; text through tok, or as bytes when tok is NULL) into d, checking
 * every id against vocab.  Messages begin with label and name what is wrong:
 * the header field, the dtype, the position of an id out of range. */
int tfm_data_parse(tfm_data *d, const void *bytes, size_t size, int format, const char *label,
                   tfm_tokenizer *tok, int vocab, tfm_error *e);
/* The same for the file at path, its format from tfm_data_format. */
int tfm_data_read(tfm_data *d, const char *path, tfm_tokenizer *tok, int vocab, tfm_error *e);
void tfm_data_free(tfm_data *d);

/* FNV-1a (64 bits) of the ids as little-endian uint32: what a checkpoint
 * records of the data it was trained on. */
uint64_t tfm_data_hash(const int *ids, size_t n);

/* The window generator: splitmix64, its whole state one uint64_t. */
uint64_t tfm_windows_seed(uint64_t seed);
/* A uniform integer in [0, n), n >= 1 (rejection: no modulo bias). */
uint64_t tfm_rng_below(uint64_t *state, uint64_t n);
/* Draws batch windows of seq + 1 consecutive tokens of ids[n] (n >= seq + 1)
 * into tokens[batch, seq + 1]: each start uniform in [0, n - seq - 1], so
 * that data of exactly seq + 1 tokens has the single window 0..seq. */
void tfm_windows_draw(uint64_t *state, const int *ids, size_t n, int batch, int seq,
                      int *tokens);

/* ---- The optimizer (optim.c) -------------------------------------------- */

/* The learning rate over `steps` steps: warm-up to lr over `warmup` steps,
 * then constant or cosine down to min_lr. */
typedef struct tfm_schedule {
	int kind;		/* TFM_SCHEDULE_* (tfm.h) */
	double lr, min_lr;
	long warmup, steps;	/* 0 <= warmup <= steps */
} tfm_schedule;

/* lr_t for step t = 1, 2, ... (section 5); steps past the end get min_lr
 * (cosine) or lr (constant). */
double tfm_schedule_lr(const tfm_schedule *s, long t);

/* The tensors of a model as a trainer holds them: weights, gradients and
 * (with the optimizer) AdamW's moments, each tensor 64-byte aligned. */
typedef struct tfm_params {
	const tfm_tensor_decl *decl;	/* [n] */
	int n;
	size_t *nelem;			/* [n] */
	size_t total;			/* the sum of nelem */
	float **w, **g, **m, **v;	/* [n] each [nelem[i]]; m, v NULL without the optimizer */
	void *block;			/* the one allocation they are in */
} tfm_params;

/* Allocates and zeroes them; decl must be F32 tensors of ndim 0..2. */
int tfm_params_alloc(tfm_params *p, const tfm_tensor_decl *decl, int n, int with_optim,
                     tfm_error *e);
void tfm_params_free(tfm_params *p);

/* AdamW's settings (section 5): weight_decay applies to 2-D tensors only. */
typedef struct tfm_adamw {
	double beta1, beta2, eps, weight_decay;
} tfm_adamw;

/* sqrt of the sum of every g^2, summed in double in tensor order. */
double tfm_grad_norm(const tfm_params *p);
/* Clipping (section 5): when clip > 0 and norm > clip, every g is
 * multiplied by clip / (norm + 1e-6).  Returns the factor, 1 when none. */
double tfm_grad_clip(tfm_params *p, double norm, double clip);
/* One AdamW update of every tensor at step t (1, 2, ...) with rate lr. */
void tfm_adamw_step(tfm_params *p, const tfm_adamw *o, long t, double lr);

/* ---- Training and evaluation (trainer.c) --------------------------------- */

/* Everything a step reads: section 5's state (the weights, m, v, t and the
 * window generator) and the settings that do not change over a run. */
typedef struct tfm_trainer {
	const tfm_train_api *api;
	tfm_params p;
	void *inst;		/* the api's instance for [batch, seq] */
	int batch, seq, threads;
	tfm_schedule sched;
	tfm_adamw adam;
	double clip;		/* 0: off */
	uint64_t seed;		/* of the dropout masks */
	long t;			/* steps done */
	uint64_t rng;		/* the window generator */
	const int *ids;		/* [n_ids] the training data */
	size_t n_ids;
	int *tokens;		/* [batch, seq + 1] the last batch */
} tfm_trainer;

/* What one step did. */
typedef struct tfm_step_info {
	long t;			/* the step, from 1 */
	double lr, loss, norm;	/* norm: of the gradient, before clipping */
	double seconds;
} tfm_step_info;

/* Allocates the state (zero moments, t = 0, the generator from seed) for
 * training on ids[n_ids] (NULL: none, every batch given to
 * tfm_trainer_step_on); the caller then fills p.w, and may load a
 * checkpoint over all of it, before tfm_trainer_start opens the instance. */
int tfm_trainer_init(tfm_trainer *tr, const tfm_train_api *api, int batch, int seq, int threads,
                     uint64_t seed, const int *ids, size_t n_ids, tfm_error *e);
int tfm_trainer_start(tfm_trainer *tr, tfm_error *e);
void tfm_trainer_free(tfm_trainer *tr);
/* Step t + 1: draws the windows, computes loss and gradients (dropout with
 * the masks of mix(seed, t + 1) when the spec has some), stops with
 * "step N: ..." on a loss or gradient that is not finite (the weights as
 * they were), else clips, updates and counts the step. */
int tfm_trainer_step(tfm_trainer *tr, tfm_step_info *info, tfm_error *e);
/* The same step on the batch tokens[batch, seq + 1] given, rather than
 * drawn from the data (the generator left as it is). */
int tfm_trainer_step_on(tfm_trainer *tr, const int *tokens, tfm_step_info *info, tfm_error *e);
/* The dropout seed of step t. */
uint64_t tfm_step_seed(uint64_t seed, long t);

/* Evaluation: the summed cross-entropy (*nats) over the *count targets of
 * ids[n] (n >= 2) in non-overlapping windows of seq tokens, windows
 * starting at 0, seq, 2 seq, ... with a shorter last one for what is left,
 * batched by `batch`; no dropout.  inst, when not NULL, is an instance for
 * [batch, seq] over w and g; others are opened as needed. */
int tfm_evaluate(const tfm_train_api *api, void *inst, float *const *w, float *const *g, int batch,
                 int seq, int threads, const int *ids, size_t n, double *nats, size_t *count,
                 tfm_error *e);

/* ---- The command lines' options and setup (train_main.c) ------------------ */

/* Which commands an option belongs to: `tfmc train`, `grad`, `eval`, and
 * `tfmc compare` (compiler/compare.c), which trains several models with
 * train's options. */
enum { TFM_CMD_TRAIN = 1, TFM_CMD_GRAD = 2, TFM_CMD_EVAL = 4, TFM_CMD_COMPARE = 8 };

/* The command line, parsed (train_main.c's table TFM_TRAIN_OPTS says what
 * each field is). */
typedef struct tfm_topts {
	const char *data, *val, *tokenizer, *weights, *tokens, *out, *log, *checkpoint, *resume;
	long steps, batch, seq, warmup, threads, eval_every, save_every, sample, print_every;
	double lr, min_lr, grad_clip, beta1, beta2, adam_eps;
	uint64_t seed;
	long schedule;		/* TFM_SCHEDULE_* */
	int help;
	/* compare's budget (one of steps, budget_tokens, minutes), seeds and folder */
	long budget_tokens, seeds;
	double minutes;
	const char *out_dir;
} tfm_topts;

/* train's defaults; those that depend on others (seq, min_lr, warmup) are
 * -1 until tfm_topts_resolve. */
void tfm_topts_defaults(tfm_topts *o);
/* Parses the option argv[*i] of command cmd (and its value, the next
 * argument or after '='), moving *i to its last argument; given[] (may be
 * NULL) is not touched here.  0, or -1 with a message ("unknown option",
 * "--lr: expected a number > 0, got 'x'"). */
int tfm_topts_arg(int argc, char **argv, int *i, int cmd, const char *command, tfm_topts *o,
                  tfm_error *e);
/* Each option of cmd with its help, as --help lists them. */
void tfm_topts_usage(FILE *fp, int cmd);
/* The defaults that depend on others (seq from max_seq, min_lr, warmup from
 * steps), then the checks between options; 0, or -1 with a message.  While
 * steps is unknown (< 0: compare's --tokens and --minutes, before the
 * model's steps are), warmup is left as it is. */
int tfm_topts_resolve(tfm_topts *o, int max_seq, tfm_error *e);
/* The schedule, AdamW's settings (weight_decay from tr->api) and clipping of o into tr. */
void tfm_topts_apply(tfm_trainer *tr, const tfm_topts *o);

/* The online CPUs, at most 64: the default thread count. */
int tfm_train_threads(void);
/* The tokenizer: o->tokenizer, else the spec's; NULL when there is none. */
int tfm_train_tokenizer(tfm_tokenizer **tok, const tfm_topts *o, const tfm_model_api *model,
                        tfm_error *e);
/* Fills p->w: from o->weights (or the spec's when spec_weights), else
 * random from o->seed (with a note on stderr when spec_weights). */
int tfm_train_weights(tfm_params *p, const tfm_topts *o, const tfm_model_api *model,
                      int spec_weights, const char *prefix, tfm_error *e);

/* A run's data: o->data read through tok (ids checked against vocab) and
 * split into training and validation: o->val, else the last 10% when
 * that and the rest each hold a window of o->seq + 1 tokens, else none
 * (n_val 0, with a note beginning with prefix in note[cap]). */
typedef struct tfm_split {
	tfm_data data, val;	/* val: --val's; else empty */
	const int *train_ids;	/* [n_train] of data */
	const int *val_ids;	/* [n_val] of val or the end of data; n_val 0: none */
	size_t n_train, n_val;
} tfm_split;

int tfm_split_read(tfm_split *s, const tfm_topts *o, tfm_tokenizer *tok, int vocab,
                   const char *prefix, char *note, size_t cap, tfm_error *e);
void tfm_split_free(tfm_split *s);

/* Appends arg to buf[cap] (at *len) after a space, quoted for a POSIX
 * shell when it needs it. */
void tfm_shell_word(char *buf, size_t cap, size_t *len, const char *arg);

/* ---- Checkpoints (checkpoint.c) ------------------------------------------ */

#define TFM_CKPT_FORMAT "tfmc-train-checkpoint"
#define TFM_CKPT_VERSION "1"

/* Writes a safetensors file atomically: into path.tmp, flushed to disk
 * (fsync), then renamed over path (and the folder synced), so that path is
 * always either the old file or the whole new one. */
int tfm_write_atomic(const char *path, const tfm_tensor_decl *decl, int n,
                     const void *const *data, const char *const *meta, tfm_error *e);
/* Checks that path's folder lets a file be created there: what a run does
 * before it spends hours on output it cannot write. */
int tfm_check_writable(const char *path, tfm_error *e);

/* Writes the trainer's state to path (atomically): the weights under their
 * names, "adam.m.NAME" and "adam.v.NAME", and in "__metadata__" the format,
 * the model, t and the generator, then the pairs of extra (NULL-terminated,
 * may be NULL): the settings of the run. */
int tfm_checkpoint_write(const char *path, const tfm_trainer *tr, const char *const *extra,
                         tfm_error *e);
/* Opens path as a checkpoint of api's model: its format, model name,
 * vocab, max_seq and training keys are checked (a file that is not a
 * checkpoint, or of another model, is an error saying so). */
int tfm_checkpoint_open(tfm_file **f, const char *path, const tfm_train_api *api, tfm_error *e);
/* Loads an opened checkpoint into tr (allocated for the same api): every
 * tensor checked by name, shape and type F32, then t and the generator. */
int tfm_checkpoint_load(tfm_file *f, tfm_trainer *tr, tfm_error *e);

/* ---- The progress line (progress.c) -------------------------------------- */

typedef struct tfm_progress {
	long step, steps;
	double loss;		/* the last step's */
	double val_loss;	/* the last evaluation's; NAN when none yet */
	double tok_s;		/* training tokens per second so far */
	double elapsed;		/* seconds */
	double eta;		/* seconds; < 0 when unknown */
} tfm_progress;

/* "step 120/1000  loss 2.3456  val 2.4012  5321 tok/s  elapsed 0:01:23  ETA 0:09:45"
 * ("val" left out before the first evaluation, "ETA" when unknown) into
 * buf[cap]; returns its length. */
size_t tfm_progress_line(char *buf, size_t cap, const tfm_progress *p);
/* Seconds as H:MM:SS into buf[cap]. */
const char *tfm_duration(char *buf, size_t cap, double seconds);

#endif
