/* train_main.c: the command lines of `tfmc train`, `tfmc grad` and
 * `tfmc eval`, tfm_train_main.
 *
 * Like tfm_main (runtime/main.c) this is a command line: it prints, and it
 * returns the process exit status: 0 on success, 1 when the run fails (data,
 * weights, a loss that is not finite, output files), 2 on a bad command
 * line, and 130 for a training run stopped by Ctrl-C (SIGINT), which saves
 * a checkpoint first.  Every message is one line "PROG COMMAND: error: ..."
 * on stderr.  Progress goes to stderr; results (the loss, the figures of an
 * evaluation, the final losses and the sample) to stdout.
 *
 * argv[0] is how the command was typed before its options, as the usage
 * line and the hint to resume an interrupted run show it ("tfmc train
 * specs/x.tfm"); a bare program name ("tfmc") gets the command added.
 * PROG is that first word's file name.
 *
 * The options are one table, TFM_TRAIN_OPTS: it gives the parser, each
 * command's --help, and which settings a checkpoint keeps (a resumed run
 * takes them from the checkpoint, and giving another value is an error).
 * Every option but --help takes a value, as the next argument or, for the
 * long ones, after '=' (--lr=3e-4); the last of a repeated option wins.
 */
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tfm.h"
#include "tfm_internal.h"
#include "train.h"

#define TFM_TRAIN_MAX_AUTO_THREADS 64
#define TFM_TRAIN_DEFAULT_SEQ      256
#define TFM_TRAIN_LOSS_WINDOW      10   /* the final train loss: the mean of as many last steps */
#define TFM_TRAIN_SAMPLE_PROMPT    16   /* tokens of the data that prompt the sample, at most */
#define TFM_TRAIN_REDRAW           0.1  /* seconds between redraws of the terminal's line */
#define TFM_NO_MAX                 ((double)LONG_MAX) /* a count's bound when it has none */

enum { K_PATH, K_TEXT, K_COUNT, K_NUM, K_SEED, K_SCHEDULE };

/* X(id, name, metavar, kind, field, commands, kept in checkpoints, lo, hi,
 *   what a value must be, help (lines after the first indented)) */
#define TFM_TRAIN_OPTS(X) \
X(DATA_T, "--data", "FILE", K_PATH, data, TFM_CMD_TRAIN | TFM_CMD_COMPARE, 0, 0, 0, "", \
  "the training data: a .npy of int32, int64 or uint16 ids (1-D), a\n" \
  ".bin of raw little-endian uint16 ids (nanoGPT's), or UTF-8 text,\n" \
  "tokenized by the tokenizer, else read as bytes (ids 0-255)") \
X(DATA_E, "--data", "FILE", K_PATH, data, TFM_CMD_EVAL, 0, 0, 0, "", \
  "the data to evaluate, all of it: a .npy of int32, int64 or uint16\n" \
  "ids, a .bin of uint16 ids, or UTF-8 text (tokenized, or bytes)") \
X(TOKENS, "--tokens", "IDS", K_TEXT, tokens, TFM_CMD_GRAD, 0, 0, 0, "", \
  "the window: comma-separated token ids, 2 to max_seq + 1 of them, or\n" \
  "a data file as train's --data reads (inputs IDS[:-1], targets IDS[1:])") \
X(VAL, "--val", "FILE", K_PATH, val, TFM_CMD_TRAIN | TFM_CMD_COMPARE, 0, 0, 0, "", \
  "the validation data, as --data (default:~the last 10% of --data, when\n" \
  "that and the rest each hold a window)") \
X(TOKENIZER, "--tokenizer", "PATH", K_PATH, tokenizer, TFM_CMD_TRAIN | TFM_CMD_GRAD | TFM_CMD_EVAL | TFM_CMD_COMPARE, 0, 0, 0, "", \
  "a tokenizer.json, a llama2.c tokenizer.bin or a model folder, for text\n" \
  "data (and the sample) (default:~the spec's `tokenizer`)") \
X(WEIGHTS_T, "--weights", "PATH", K_PATH, weights, TFM_CMD_TRAIN, 0, 0, 0, "", \
  "the weights to start from (default:~random, as `tfmc init` makes them\n" \
  "with --seed)") \
X(WEIGHTS_GE, "--weights", "PATH", K_PATH, weights, TFM_CMD_GRAD | TFM_CMD_EVAL, 0, 0, 0, "", \
  "the weights (default:~the spec's `weights`, else random ones from\n" \
  "--seed, as `tfmc init` makes them)") \
X(OUT_T, "-o", "PATH", K_PATH, out, TFM_CMD_TRAIN, 0, 0, 0, "", \
  "where the trained weights go, F32 (required)") \
X(OUT_G, "-o", "PATH", K_PATH, out, TFM_CMD_GRAD, 0, 0, 0, "", \
  "where the gradients go (required)") \
X(STEPS, "--steps", "N", K_COUNT, steps, TFM_CMD_TRAIN, 1, 1, TFM_NO_MAX, "a count of steps (1 or more)", \
  "optimizer steps (default:~1000)") \
X(BATCH_T, "--batch", "B", K_COUNT, batch, TFM_CMD_TRAIN | TFM_CMD_COMPARE, 1, 1, 1 << 20, "a count of windows (1 or more)", \
  "windows per step (default:~16)") \
X(BATCH_E, "--batch", "B", K_COUNT, batch, TFM_CMD_EVAL, 0, 1, 1 << 20, "a count of windows (1 or more)", \
  "windows evaluated at once (default:~16)") \
X(SEQ_T, "--seq", "T", K_COUNT, seq, TFM_CMD_TRAIN | TFM_CMD_COMPARE, 1, 1, INT_MAX - 1, "a count of tokens (1 or more)", \
  "tokens per window, at most max_seq (default:~256, or max_seq when\n" \
  "smaller)") \
X(SEQ_E, "--seq", "T", K_COUNT, seq, TFM_CMD_EVAL, 0, 1, INT_MAX - 1, "a count of tokens (1 or more)", \
  "tokens per window, at most max_seq; the last window takes what is\n" \
  "left (default:~256, or max_seq when smaller)") \
X(LR, "--lr", "LR", K_NUM, lr, TFM_CMD_TRAIN | TFM_CMD_COMPARE, 1, DBL_TRUE_MIN, INFINITY, "a number > 0", \
  "the peak learning rate (default:~0.001)") \
X(MIN_LR, "--min-lr", "LR", K_NUM, min_lr, TFM_CMD_TRAIN | TFM_CMD_COMPARE, 1, 0, INFINITY, "a number >= 0", \
  "where the cosine schedule ends, at most --lr (default:~lr~/~10)") \
X(WARMUP, "--warmup", "W", K_COUNT, warmup, TFM_CMD_TRAIN | TFM_CMD_COMPARE, 1, 0, TFM_NO_MAX, "a count of steps (0 or more)", \
  "steps of linear warm-up, at most --steps (default:~steps~/~10, at most\n" \
  "100)") \
X(SCHEDULE, "--schedule", "S", K_SCHEDULE, schedule, TFM_CMD_TRAIN | TFM_CMD_COMPARE, 1, 0, 0, "cosine or constant", \
  "after the warm-up: cosine (down to --min-lr at the last step) or\n" \
  "constant (default:~cosine)") \
X(GRAD_CLIP, "--grad-clip", "C", K_NUM, grad_clip, TFM_CMD_TRAIN | TFM_CMD_COMPARE, 1, 0, INFINITY, "a number >= 0 (0 is off)", \
  "scale the gradient down to norm C when it is longer; 0 is off\n" \
  "(default:~1)") \
X(BETA1, "--beta1", "B", K_NUM, beta1, TFM_CMD_TRAIN | TFM_CMD_COMPARE, 1, 0, 1, "a number in [0, 1)", \
  "AdamW's beta1 (default:~0.9)") \
X(BETA2, "--beta2", "B", K_NUM, beta2, TFM_CMD_TRAIN | TFM_CMD_COMPARE, 1, 0, 1, "a number in [0, 1)", \
  "AdamW's beta2 (default:~0.95)") \
X(ADAM_EPS, "--adam-eps", "E", K_NUM, adam_eps, TFM_CMD_TRAIN | TFM_CMD_COMPARE, 1, DBL_TRUE_MIN, INFINITY, "a number > 0", \
  "AdamW's epsilon (default:~1e-8)") \
X(SEED_T, "--seed", "S", K_SEED, seed, TFM_CMD_TRAIN, 1, 0, 0, "", \
  "seeds the random weights, the windows and the dropout masks\n" \
  "(default:~42)") \
X(SEED_GE, "--seed", "S", K_SEED, seed, TFM_CMD_GRAD | TFM_CMD_EVAL, 0, 0, 0, "", \
  "seeds the random weights (default:~42)") \
X(THREADS, "--threads", "N", K_COUNT, threads, TFM_CMD_TRAIN | TFM_CMD_GRAD | TFM_CMD_EVAL | TFM_CMD_COMPARE, 0, 1, TFM_MAX_THREADS, \
  "a count of threads from 1 to 256", \
  "threads to run on, 1..256 (default:~the online CPUs, at most 64)") \
X(EVAL_EVERY, "--eval-every", "N", K_COUNT, eval_every, TFM_CMD_TRAIN, 0, 0, TFM_NO_MAX, \
  "a count of steps (0 or more)", \
  "measure the validation loss every N steps, and at the end; 0: at the\n" \
  "end only (default:~100)") \
X(LOG, "--log", "FILE", K_PATH, log, TFM_CMD_TRAIN, 0, 0, 0, "", \
  "write a CSV with a row per step: step, lr, train_loss, grad_norm\n" \
  "(before clipping), tokens_per_s, val_loss (where measured); a resumed\n" \
  "run appends to it") \
X(CHECKPOINT, "--checkpoint", "PATH", K_PATH, checkpoint, TFM_CMD_TRAIN, 0, 0, 0, "", \
  "where the run's full state is saved (default:~OUT.ckpt): at the end,\n" \
  "every --save-every steps, and on Ctrl-C") \
X(SAVE_EVERY, "--save-every", "K", K_COUNT, save_every, TFM_CMD_TRAIN, 0, 0, TFM_NO_MAX, \
  "a count of steps (0 or more)", \
  "save the checkpoint every K steps (default:~0, only on Ctrl-C, and at\n" \
  "the end when --checkpoint or --save-every is given)") \
X(RESUME, "--resume", "PATH", K_PATH, resume, TFM_CMD_TRAIN, 0, 0, 0, "", \
  "continue the run saved in the checkpoint PATH, bit for bit as if it\n" \
  "had never stopped: --steps, --batch, --seq, the schedule, AdamW's\n" \
  "settings, --grad-clip and --seed come from it, and --data must be its\n" \
  "data") \
X(SAMPLE, "--sample", "N", K_COUNT, sample, TFM_CMD_TRAIN, 0, 0, INT_MAX, "a count of tokens (0 or more)", \
  "at the end, print N tokens that the trained model writes after the\n" \
  "start of the validation data; 0: none (default:~64)") \
X(STEPS_C, "--steps", "N", K_COUNT, steps, TFM_CMD_COMPARE, 0, 1, TFM_NO_MAX, "a count of steps (1 or more)", \
  "the budget as optimizer steps, the same for every model (default:\n" \
  "1000; one of --steps, --tokens and --minutes)") \
X(TOKENS_C, "--tokens", "N", K_COUNT, budget_tokens, TFM_CMD_COMPARE, 0, 1, TFM_NO_MAX, \
  "a count of tokens (1 or more)", \
  "the budget as training tokens: N / (B x T) steps, rounded up") \
X(MINUTES, "--minutes", "M", K_NUM, minutes, TFM_CMD_COMPARE, 0, DBL_TRUE_MIN, INFINITY, \
  "a number of minutes > 0", \
  "the budget as wall time per model and seed: the steps that fit, from\n" \
  "the time of three steps timed first; a run stops at M minutes") \
X(SEEDS, "--seeds", "N", K_COUNT, seeds, TFM_CMD_COMPARE, 0, 1, 1000, "a count of seeds from 1 to 1000", \
  "train each model N times, with the seeds S, S + 1, ...: the mean and\n" \
  "standard deviation over them (default:~1)") \
X(SEED_C, "--seed", "S", K_SEED, seed, TFM_CMD_COMPARE, 0, 0, 0, "", \
  "the first seed of the random weights, the windows and the dropout\n" \
  "masks; a seed gives every model the same windows (default:~42)") \
X(EVAL_EVERY_C, "--eval-every", "N", K_COUNT, eval_every, TFM_CMD_COMPARE, 0, 0, TFM_NO_MAX, \
  "a count of steps (0 or more)", \
  "measure the validation loss every N steps, and at the end: the plots'\n" \
  "points (default:~steps~/~10)") \
X(OUT_C, "--out", "DIR", K_PATH, out_dir, TFM_CMD_COMPARE, 0, 0, 0, "", \
  "the folder (made if need be) for each run's CSV log, summary.csv and\n" \
  "the plots val_loss_tokens.svg and val_loss_flops.svg (default:\n" \
  "compare.out)") \
X(PRINT_EVERY, "--print-every", "N", K_COUNT, print_every, TFM_CMD_TRAIN, 0, 1, TFM_NO_MAX, \
  "a count of steps (1 or more)", \
  "when stderr is not a terminal, print progress every N steps (default:\n" \
  "10)")

enum {
#define X(id, name, mv, kind, field, cmds, kept, lo, hi, what, help) O_##id,
	TFM_TRAIN_OPTS(X)
#undef X
	O__COUNT
};

static const struct tfm_topt {
	const char *name, *metavar;
	int kind;
	size_t offset;
	int cmds, kept;
	double lo, hi;
	const char *what, *help;
} tfm_topts_table[O__COUNT] = {
#define X(id, name, mv, kind, field, cmds, kept, lo, hi, what, help) \
	{ name, mv, kind, offsetof(tfm_topts, field), cmds, kept, lo, hi, what, help },
	TFM_TRAIN_OPTS(X)
#undef X
};

static const char *const tfm_schedules[] = { "cosine", "constant" };

static int tfm_cmd_bit(const char *command)
{
	return strcmp(command, "train") == 0 ? TFM_CMD_TRAIN : strcmp(command, "grad") == 0 ? TFM_CMD_GRAD
	       : strcmp(command, "eval") == 0 ? TFM_CMD_EVAL : 0;
}

/* ---- Usage -------------------------------------------------------------------- */

#define TFM_USAGE_INDENT 22
#define TFM_USAGE_WIDTH  79

/* Each option of cmd: its name and metavar, then its help filled to
 * TFM_USAGE_WIDTH columns (the help's line breaks are spaces, and a '~' is
 * a space no line breaks at). */
void tfm_topts_usage(FILE *fp, int cmd)
{
	for (int i = 0; i < O__COUNT; i++) {
		const struct tfm_topt *o = &tfm_topts_table[i];
		const char *h = o->help;
		char left[40];
		int col = TFM_USAGE_INDENT;

		if (!(o->cmds & cmd))
			continue;
		snprintf(left, sizeof left, "%s %s", o->name, o->metavar);
		fprintf(fp, "  %-*s ", TFM_USAGE_INDENT - 3, left);
		while (*h) {
			size_t k = strcspn(h, " \n");
			if (col > TFM_USAGE_INDENT && col + 1 + (int)k > TFM_USAGE_WIDTH) {
				fprintf(fp, "\n%*s", TFM_USAGE_INDENT, "");
				col = TFM_USAGE_INDENT;
			} else if (col > TFM_USAGE_INDENT) {
				fputc(' ', fp);
				col++;
			}
			for (size_t j = 0; j < k; j++)
				fputc(h[j] == '~' ? ' ' : h[j], fp);
			col += (int)k;
			h += k;
			h += strspn(h, " \n");
		}
		fputc('\n', fp);
	}
	fputs("  -h, --help          print this help and exit\n", fp);
}

static void tfm_train_usage(FILE *fp, const char *invocation, int cmd, const tfm_train_api *api)
{
	const char *name = api->name ? api->name : "?";

	switch (cmd) {
	case TFM_CMD_TRAIN:
		fprintf(fp,
"usage: %s --data FILE -o OUT [options]\n"
"\n"
"Trains the model %s (vocab %d, max_seq %d) with AdamW on windows of\n"
"FILE, and writes the trained weights to OUT as F32, for `tfmc run --weights\n"
"OUT`.  The spec gives weight_decay %g (on the 2-D tensors only), dropout %g\n"
"and z_loss %g.\n"
"\n", invocation, name, api->vocab, api->max_seq, api->weight_decay, api->dropout, api->z_loss);
		break;
	case TFM_CMD_GRAD:
		fprintf(fp,
"usage: %s --tokens IDS -o OUT [options]\n"
"\n"
"Computes the loss of the model %s (vocab %d, max_seq %d) on one window,\n"
"inputs IDS[:-1] and targets IDS[1:], without dropout, and its gradient with\n"
"respect to every tensor.  Writes to OUT one F32 tensor per tensor of the model,\n"
"of the same name and shape, and the loss in the file's metadata (\"loss\", as\n"
"%%.17g); prints the loss.\n"
"\n", invocation, name, api->vocab, api->max_seq);
		break;
	default:
		fprintf(fp,
"usage: %s --data FILE [options]\n"
"\n"
"Evaluates the model %s (vocab %d, max_seq %d) on the whole of FILE in\n"
"non-overlapping windows, and prints the mean cross-entropy in nats per\n"
"predicted token, the perplexity, and for text the bits per byte (the total\n"
"nats / ln 2 / the text's bytes).\n"
"\n", invocation, name, api->vocab, api->max_seq);
		break;
	}
	tfm_topts_usage(fp, cmd);
	if (cmd == TFM_CMD_TRAIN)
		fputs(
"\n"
"Progress goes to stderr, a line rewritten in place on a terminal; the final\n"
"losses and the sample to stdout.  Ctrl-C saves the checkpoint at the end of\n"
"the current step and prints how to resume.\n"
"Exit status: 0 on success, 1 if the run fails (data, weights, a loss or\n"
"gradient that is not finite, output files), 2 on a bad command line, 130\n"
"when interrupted.\n", fp);
	else
		fputs("\nExit status: 0 on success, 1 if the run fails, 2 on a bad command line.\n", fp);
}

/* ---- Values ------------------------------------------------------------------ */

/* Parses the value s of option o into the field of opts; `label` names it
 * in messages ("--lr", or the checkpoint's key). */
static int tfm_topt_value(const struct tfm_topt *o, const char *label, const char *s,
                          tfm_topts *opts, tfm_error *e)
{
	char *field = (char *)opts + o->offset, *end;

	switch (o->kind) {
	case K_PATH:
		if (*s == '\0')
			return tfm_fail(e, "%s: empty file name", label);
		/* fall through */
	case K_TEXT:
		*(const char **)(void *)field = s;
		return 0;
	case K_COUNT: {
		long v;
		errno = 0;
		v = strtol(s, &end, 10);
		if (*s == '\0' || *s == ' ' || *s == '\t' || end == s || *end != '\0' || errno == ERANGE
		    || v < (long)o->lo || (double)v > o->hi)
			return tfm_fail(e, "%s: expected %s, got '%.100s'", label, o->what, s);
		*(long *)(void *)field = v;
		return 0;
	}
	case K_NUM: {
		/* In [lo, hi): "> 0" is lo = the least positive double. */
		double v = strtod(s, &end);
		if (*s == '\0' || *s == ' ' || *s == '\t' || end == s || *end != '\0' || !isfinite(v)
		    || v < o->lo || v >= o->hi)
			return tfm_fail(e, "%s: expected %s, got '%.100s'", label, o->what, s);
		*(double *)(void *)field = v;
		return 0;
	}
	case K_SEED: {
		unsigned long long v;
		errno = 0;
		v = strtoull(s, &end, 10);
		if (*s < '0' || *s > '9' || *end != '\0' || errno == ERANGE)
			return tfm_fail(e, "%s: expected an integer from 0 to %llu, got '%.100s'", label,
			                (unsigned long long)UINT64_MAX, s);
		*(uint64_t *)(void *)field = (uint64_t)v;
		return 0;
	}
	default: /* K_SCHEDULE */
		for (long k = 0; k < 2; k++)
			if (strcmp(s, tfm_schedules[k]) == 0) {
				*(long *)(void *)field = k;
				return 0;
			}
		return tfm_fail(e, "%s: expected %s, got '%.100s'", label, o->what, s);
	}
}

/* The value of option o in opts as text (what a checkpoint records). */
static const char *tfm_topt_text(const struct tfm_topt *o, const tfm_topts *opts, char *buf,
                                 size_t cap)
{
	const char *field = (const char *)opts + o->offset;

	switch (o->kind) {
	case K_COUNT:
		snprintf(buf, cap, "%ld", *(const long *)(const void *)field);
		break;
	case K_NUM:
		snprintf(buf, cap, "%.17g", *(const double *)(const void *)field);
		break;
	case K_SEED:
		snprintf(buf, cap, "%" PRIu64, *(const uint64_t *)(const void *)field);
		break;
	case K_SCHEDULE:
		snprintf(buf, cap, "%s", tfm_schedules[*(const long *)(const void *)field]);
		break;
	default:
		snprintf(buf, cap, "%s", *(const char *const *)(const void *)field);
		break;
	}
	return buf;
}

/* The option arg names, for command cmd: its index, or -1 when it names
 * none of any command (*other set when it is another command's). */
static int tfm_find_opt(const char *arg, int cmd, const char **val, int *other)
{
	*other = 0;
	for (int i = 0; i < O__COUNT; i++)
		if (tfm_is_opt(arg, tfm_topts_table[i].name, val)) {
			if (tfm_topts_table[i].cmds & cmd)
				return i;
			*other = 1;
		}
	return -1;
}

int tfm_topts_arg(int argc, char **argv, int *i, int cmd, const char *command, tfm_topts *o,
                  tfm_error *e)
{
	const char *arg = argv[*i], *val;
	int k, other;

	k = tfm_find_opt(arg, cmd, &val, &other);
	if (k < 0) {
		if (other)
			return tfm_fail(e, "%.100s is not an option of %s (see --help)", arg, command);
		if (arg[0] == '-')
			return tfm_fail(e, "unknown option '%.100s' (see --help)", arg);
		return tfm_fail(e, "unexpected argument '%.100s' (see --help)", arg);
	}
	if (val == NULL) {
		if (*i + 1 == argc)
			return tfm_fail(e, "%s: missing value (see --help)", tfm_topts_table[k].name);
		val = argv[++*i];
	}
	return tfm_topt_value(&tfm_topts_table[k], tfm_topts_table[k].name, val, o, e);
}

static int tfm_parse_targs(int argc, char **argv, int cmd, const char *command, tfm_topts *o,
                           char *given, tfm_error *e)
{
	for (int i = 1; i < argc; i++) {
		const char *val;
		int other, k;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			o->help = 1;
			return 0;
		}
		k = tfm_find_opt(argv[i], cmd, &val, &other);
		if (tfm_topts_arg(argc, argv, &i, cmd, command, o, e) != 0)
			return -1;
		given[k] = 1;
	}
	return 0;
}

int tfm_train_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > TFM_TRAIN_MAX_AUTO_THREADS ? TFM_TRAIN_MAX_AUTO_THREADS : (int)n;
}

/* ---- Shared steps ------------------------------------------------------------ */

/* The tokenizer: --tokenizer, else the spec's; NULL when there is none. */
int tfm_train_tokenizer(tfm_tokenizer **tok, const tfm_topts *o, const tfm_model_api *model,
                        tfm_error *e)
{
	const char *path = o->tokenizer ? o->tokenizer : model ? model->tokenizer : NULL;

	*tok = NULL;
	return path ? tfm_tokenizer_open(tok, path, e) : 0;
}

/* Fills p->w: from paths (--weights, or the spec's when spec_weights),
 * else random from seed (with a note on stderr). */
int tfm_train_weights(tfm_params *p, const tfm_topts *o, const tfm_model_api *model,
                      int spec_weights, const char *prefix, tfm_error *e)
{
	const char *const *paths = NULL;
	tfm_weights w = { 0 };
	int n_paths = 0;

	if (o->weights != NULL) {
		paths = &o->weights;
		n_paths = 1;
	} else if (spec_weights && model != NULL && model->weights != NULL) {
		paths = model->weights;
		while (paths[n_paths] != NULL)
			n_paths++;
	}
	if (n_paths > 0) {
		if (tfm_weights_open(&w, paths, n_paths, p->decl, p->n, e) != 0)
			return -1;
	} else {
		if (spec_weights)
			fprintf(stderr, "%s: note: no --weights given: random weights (seed %" PRIu64 ")\n",
			        prefix, o->seed);
		if (tfm_weights_random(&w, p->decl, p->n, o->seed, e) != 0)
			return -1;
	}
	for (int i = 0; i < p->n; i++)
		memcpy(p->w[i], w.data[i], p->nelem[i] * sizeof(float));
	tfm_weights_free(&w);
	return 0;
}

/* A string of only digits, signs, commas and blanks, with a digit: a list
 * of ids rather than a file name. */
static int tfm_is_id_list(const char *s)
{
	return strspn(s, "0123456789-+, \t") == strlen(s) && strpbrk(s, "0123456789") != NULL;
}

/* grad's --tokens as a list: comma-separated ids, each in [0, vocab). */
static int tfm_parse_id_list(const char *s, int vocab, tfm_data *d, tfm_error *e)
{
	size_t count = 1, i = 0;
	const char *p, *end;

	memset(d, 0, sizeof *d);
	for (p = s; *p; p++)
		count += *p == ',';
	if ((d->ids = malloc(count * sizeof *d->ids)) == NULL)
		return tfm_fail(e, "--tokens: out of memory");
	for (p = s;; p = end + 1, i++) {
		const char *a, *b;
		char *stop;
		long v;

		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		for (a = p; a < end && (*a == ' ' || *a == '\t'); a++)
			;
		for (b = end; b > a && (b[-1] == ' ' || b[-1] == '\t'); b--)
			;
		errno = 0;
		v = a == b ? 0 : strtol(a, &stop, 10);
		if (a == b || stop != b) {
			tfm_data_free(d);
			return tfm_fail(e, "--tokens: the item at position %zu is %s", i,
			                a == b ? "empty" : "not a token id (an integer)");
		}
		if (errno == ERANGE || v < 0 || v >= vocab) {
			tfm_data_free(d);
			return tfm_fail(e, "--tokens: token id %.*s at position %zu is out of range: the "
			                "model's vocab is %d (ids 0 to %d)", (int)(b - a < 40 ? b - a : 40), a,
			                i, vocab, vocab - 1);
		}
		d->ids[i] = (int)v;
		if (*end == '\0')
			break;
	}
	d->n = i + 1;
	d->format = TFM_DATA_NPY;
	return 0;
}

static const char *tfm_format_name(int format)
{
	static const char *const names[] = { ".npy ids", ".bin uint16 ids", "tokenized text",
	                                     "text as bytes" };
	return format >= 0 && format < 4 ? names[format] : "?";
}

/* ---- Text of a sample ------------------------------------------------------ */

/* The length of the valid UTF-8 sequence at s[n] (2 to 4), or 0. */
static int tfm_utf8_len(const unsigned char *s, size_t n)
{
	int k = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 && s[0] < 0xf0 ? 3
	        : s[0] >= 0xc2 && s[0] < 0xe0 ? 2 : 0;

	if (k == 0 || (size_t)k > n)
		return 0;
	for (int i = 1; i < k; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((k == 3 && s[0] == 0xe0 && s[1] < 0xa0) || (k == 3 && s[0] == 0xed && s[1] >= 0xa0)
	    || (k == 4 && s[0] == 0xf0 && s[1] < 0x90) || (k == 4 && s[0] == 0xf4 && s[1] >= 0x90))
		return 0;
	return k;
}

/* Writes s[n] to fp, newlines and tabs as they are, valid UTF-8 as it is,
 * any other control or stray byte as \xNN (a backslash as \\). */
static void tfm_put_escaped(FILE *fp, const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		int k;
		if (s[i] == '\\') {
			fputs("\\\\", fp);
			i++;
		} else if (s[i] == '\n' || s[i] == '\t' || (s[i] >= 0x20 && s[i] < 0x7f)) {
			fputc(s[i++], fp);
		} else if (s[i] >= 0x80 && (k = tfm_utf8_len(s + i, n - i)) > 0) {
			fwrite(s + i, 1, (size_t)k, fp);
			i += (size_t)k;
		} else {
			fprintf(fp, "\\x%02x", s[i++]);
		}
	}
}

/* The model's inference code over the trained weights: prompt[n_prompt],
 * then up to n_gen tokens sampled (temperature 0.8, top-p 0.95, seed),
 * written to stdout as text (tokenizer), bytes, or ids. */
static int tfm_sample_text(const tfm_model_api *model, const tfm_params *p, int threads,
                           const int *prompt, int n_prompt, int n_gen, int format,
                           tfm_tokenizer *tok, uint64_t seed, tfm_error *e)
{
	tfm_sampler s = { 0 };
	void **w = NULL;	/* [n] the weights as the model reads them */
	void *bf = NULL;	/* the bf16 copies, when it reads some */
	int *ids = NULL;	/* [n_prompt + n_gen] */
	float *logits = NULL;	/* [vocab] */
	void *inst = NULL;
	const float *out;
	int i, n = 0, rc = -1;
	size_t bf_total = 0;

	if (p->n < 1 || n_prompt < 1 || n_gen < 0)
		return tfm_fail(e, "nothing to sample from");
	if (model->n_tensors != p->n)
		return tfm_fail(e, "the inference code has %d tensors, the training code %d",
		                model->n_tensors, p->n);
	for (i = 0; i < p->n; i++) {
		const tfm_tensor_decl *a = &model->tensors[i], *b = &p->decl[i];
		if (strcmp(a->name, b->name) != 0 || a->ndim != b->ndim
		    || (a->ndim > 0 && a->shape[0] != b->shape[0]) || (a->ndim > 1 && a->shape[1] != b->shape[1]))
			return tfm_fail(e, "the inference code's tensor %d is '%s', the training code's '%s' "
			                "(or their shapes differ)", i, a->name, b->name);
		if (a->dtype == TFM_BF16)
			bf_total += p->nelem[i];
	}
	if ((w = calloc((size_t)p->n, sizeof *w)) == NULL
	    || (bf_total && (bf = malloc(bf_total * sizeof(tfm_bf16))) == NULL)
	    || (ids = malloc(((size_t)n_prompt + (size_t)n_gen) * sizeof *ids)) == NULL
	    || (logits = malloc((size_t)model->vocab * sizeof *logits)) == NULL) {
		tfm_fail(e, "out of memory");
		goto done;
	}
	bf_total = 0;
	for (i = 0; i < p->n; i++) {
		if (model->tensors[i].dtype == TFM_BF16) {
			tfm_bf16 *h = (tfm_bf16 *)bf + bf_total;
			for (size_t j = 0; j < p->nelem[i]; j++)
				h[j] = tfm_f32_to_bf16(p->w[i][j]);
			w[i] = h;
			bf_total += p->nelem[i];
		} else {
			w[i] = p->w[i];
		}
	}
	if (tfm_sampler_init(&s, model->vocab, 0.8f, 0, 0.95f, seed, e) != 0)
		goto done;
	if (model->open(&inst, w, threads, e) != 0) {
		inst = NULL;
		goto done;
	}
	memcpy(ids, prompt, (size_t)n_prompt * sizeof *ids);
	n = n_prompt;
	out = model->forward(inst, ids, n_prompt, 0, 0, e);
	for (i = 0; out != NULL && i < n_gen; i++) {
		memcpy(logits, out, (size_t)model->vocab * sizeof *logits);
		ids[n] = tfm_sample(&s, logits);
		if (tok != NULL && tfm_tokenizer_is_eos(tok, ids[n]))
			break;
		n++;
		if (i + 1 < n_gen)
			out = model->forward(inst, &ids[n - 1], 1, n - 1, 0, e);
	}
	if (out == NULL)
		goto done;

	if (tok != NULL) {
		int *known = malloc((size_t)n * sizeof *known);
		char *text;
		size_t len, k = 0;
		if (known == NULL) {
			tfm_fail(e, "out of memory");
			goto done;
		}
		for (i = 0; i < n; i++)
			if (ids[i] < tfm_tokenizer_vocab(tok))
				known[k++] = ids[i];
		if (tfm_tokenizer_decode(tok, known, k, TFM_DECODE_SKIP_SPECIAL, &text, &len, e) != 0) {
			free(known);
			goto done;
		}
		free(known);
		printf("sample (the first %d tokens are the data's):\n", n_prompt);
		tfm_put_escaped(stdout, (const unsigned char *)text, len);
		putchar('\n');
		free(text);
	} else if (format == TFM_DATA_BYTES) {
		/* Ids past 255 (a vocab larger than bytes) are shown as [id]. */
		unsigned char *b = malloc((size_t)n + 1);
		size_t k = 0;
		if (b == NULL) {
			tfm_fail(e, "out of memory");
			goto done;
		}
		printf("sample (the first %d bytes are the data's):\n", n_prompt);
		for (i = 0; i <= n; i++) {
			if (i < n && ids[i] < 256) {
				b[k++] = (unsigned char)ids[i];
				continue;
			}
			tfm_put_escaped(stdout, b, k);
			k = 0;
			if (i < n)
				printf("[%d]", ids[i]);
		}
		putchar('\n');
		free(b);
	} else {
		printf("sample, token ids (the first %d are the data's):\n", n_prompt);
		for (i = 0; i < n; i++)
			printf(i ? " %d" : "%d", ids[i]);
		putchar('\n');
	}
	rc = 0;
done:
	if (inst != NULL)
		model->close(inst);
	tfm_sampler_free(&s);
	free(w);
	free(bf);
	free(ids);
	free(logits);
	return rc;
}

/* ---- grad ----------------------------------------------------------------------- */

static int tfm_cmd_grad(const tfm_topts *o, const char *prefix, const tfm_train_api *api,
                        const tfm_model_api *model, int threads, tfm_error *e)
{
	tfm_tokenizer *tok = NULL;
	tfm_params p = { 0 };
	tfm_data d = { 0 };
	void *inst = NULL;
	char loss_text[40], count[24];
	double loss;
	int rc = 1;

	if (*o->tokens == '\0') {
		tfm_fail(e, "--tokens: the list is empty: give 2 or more token ids, as in --tokens 1,5,9");
		return 2;
	}
	if (tfm_is_id_list(o->tokens)) {
		if (tfm_parse_id_list(o->tokens, api->vocab, &d, e) != 0)
			return 2;
	} else if (tfm_train_tokenizer(&tok, o, model, e) != 0
	           || tfm_data_read(&d, o->tokens, tok, api->vocab, e) != 0) {
		goto done;
	}
	if (d.n < 2 || d.n - 1 > (size_t)api->max_seq) {
		tfm_fail(e, "--tokens: %zu tokens make a window of %zu, but a window holds 1 to max_seq "
		         "(%d) tokens: give 2 to %d ids", d.n, d.n ? d.n - 1 : 0, api->max_seq,
		         api->max_seq + 1);
		rc = tfm_is_id_list(o->tokens) ? 2 : 1;
		goto done;
	}
	if (tfm_check_writable(o->out, e) != 0)
		goto done;
	if (tfm_params_alloc(&p, api->tensors, api->n_tensors, 0, e) != 0
	    || tfm_train_weights(&p, o, model, 1, prefix, e) != 0)
		goto done;
	if (api->open(&inst, p.w, p.g, 1, (int)d.n - 1, threads, e) != 0) {
		inst = NULL;
		goto done;
	}
	if (api->step(inst, d.ids, 1, 0, 0, &loss, e) != 0)
		goto done;
	snprintf(loss_text, sizeof loss_text, "%.17g", loss);
	snprintf(count, sizeof count, "%zu", d.n);
	{
		/* The gradients under the tensors' own declarations: every one is
		 * F32 already (tfm_params_alloc checks). */
		const char *meta[] = { "loss", loss_text, "model", api->name ? api->name : "",
		                       "tokens", count, NULL };
		if (tfm_write_atomic(o->out, p.decl, p.n, (const void *const *)p.g, meta, e) != 0)
			goto done;
	}
	printf("loss %s\n", loss_text);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		tfm_fail(e, "cannot write to standard output: %s", strerror(errno));
		goto done;
	}
	fprintf(stderr, "%s: gradients of %d tensors over %zu tokens written to %s\n", prefix, p.n,
	        d.n - 1, o->out);
	rc = 0;
done:
	if (inst != NULL)
		api->close(inst);
	tfm_params_free(&p);
	tfm_data_free(&d);
	tfm_tokenizer_close(tok);
	return rc;
}

/* ---- eval ----------------------------------------------------------------------- */

static int tfm_cmd_eval(const tfm_topts *o, const char *prefix, const tfm_train_api *api,
                        const tfm_model_api *model, int threads, tfm_error *e)
{
	tfm_tokenizer *tok = NULL;
	tfm_params p = { 0 };
	tfm_data d = { 0 };
	double nats, mean;
	size_t count;
	int rc = 1;

	if (tfm_train_tokenizer(&tok, o, model, e) != 0
	    || tfm_data_read(&d, o->data, tok, api->vocab, e) != 0)
		goto done;
	if (d.n < (size_t)o->seq + 1) {
		tfm_fail(e, "%s: %zu tokens are fewer than one window of --seq %ld (%ld tokens): give a "
		         "smaller --seq", o->data, d.n, o->seq, o->seq + 1);
		goto done;
	}
	if (tfm_params_alloc(&p, api->tensors, api->n_tensors, 0, e) != 0
	    || tfm_train_weights(&p, o, model, 1, prefix, e) != 0)
		goto done;
	if (tfm_evaluate(api, NULL, p.w, p.g, (int)o->batch, (int)o->seq, threads, d.ids, d.n, &nats,
	                 &count, e) != 0)
		goto done;
	mean = nats / (double)count;
	printf("%s: %zu tokens (%s), %zu predicted in windows of %ld\n", o->data, d.n,
	       tfm_format_name(d.format), count, o->seq);
	printf("loss        %.9g nats/token\n", mean);
	printf("perplexity  %.9g\n", exp(mean));
	if (d.bytes > 0)
		printf("bits/byte   %.9g (%zu bytes)\n", nats / M_LN2 / (double)d.bytes, d.bytes);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		tfm_fail(e, "cannot write to standard output: %s", strerror(errno));
		goto done;
	}
	rc = 0;
done:
	tfm_params_free(&p);
	tfm_data_free(&d);
	tfm_tokenizer_close(tok);
	return rc;
}

/* ---- train ------------------------------------------------------------------------ */

static volatile sig_atomic_t tfm_interrupted;

static void tfm_on_sigint(int sig)
{
	static const char msg[] = "\ninterrupted: the checkpoint is saved at the end of this step "
	                          "(Ctrl-C again to stop at once, without it)\n";
	(void)sig;
	tfm_interrupted = 1;
	if (write(2, msg, sizeof msg - 1) < 0)
		tfm_interrupted = 1;
}

/* Appends arg to buf[cap] (at *len), quoted for a POSIX shell when it needs it. */
void tfm_shell_word(char *buf, size_t cap, size_t *len, const char *arg)
{
	const char *safe = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./=:,+@%-";
	int k;

	if (*arg != '\0' && strspn(arg, safe) == strlen(arg)) {
		k = snprintf(buf + *len, cap - *len, " %s", arg);
	} else {
		k = snprintf(buf + *len, cap - *len, " '");
		if (k > 0 && (*len += (size_t)k) < cap) {
			for (; *arg && *len + 5 < cap; arg++) {
				if (*arg == '\'') {
					memcpy(buf + *len, "'\\''", 4);
					*len += 4;
				} else {
					buf[(*len)++] = *arg;
				}
			}
		}
		k = snprintf(buf + (*len < cap ? *len : cap - 1), cap - (*len < cap ? *len : cap - 1), "'");
	}
	if (k > 0)
		*len = *len + (size_t)k < cap ? *len + (size_t)k : cap - 1;
}

/* The command that resumes this run from ckpt: the same arguments, without
 * --weights and --resume, and with --resume ckpt. */
static void tfm_resume_command(char *buf, size_t cap, const char *invocation, int argc,
                               char **argv, const char *ckpt)
{
	size_t len = (size_t)snprintf(buf, cap, "%s", invocation);
	const char *val;
	int other;

	if (len >= cap)
		len = cap - 1;
	for (int i = 1; i < argc; i++) {
		int k = tfm_find_opt(argv[i], TFM_CMD_TRAIN, &val, &other);
		int skip = k == O_WEIGHTS_T || k == O_RESUME;
		if (!skip)
			tfm_shell_word(buf, cap, &len, argv[i]);
		if (k >= 0 && val == NULL && i + 1 < argc) {
			i++;
			if (!skip)
				tfm_shell_word(buf, cap, &len, argv[i]);
		}
	}
	tfm_shell_word(buf, cap, &len, "--resume");
	tfm_shell_word(buf, cap, &len, ckpt);
}

/* A resumed run's settings: those the checkpoint keeps come from it, and
 * one given on the command line must be the same.  Returns 0, 1 when the
 * checkpoint lacks one (the run's failure), 2 on a conflict (the command
 * line's). */
static int tfm_merge_resume(tfm_file *f, tfm_topts *o, const char *given, tfm_error *e)
{
	for (int i = 0; i < O__COUNT; i++) {
		const struct tfm_topt *t = &tfm_topts_table[i];
		tfm_topts ck = *o;
		char a[64], b[64], why[sizeof e->msg];
		const char *s;

		if (!t->kept)
			continue;
		if ((s = tfm_file_meta(f, t->name + 2)) == NULL) {
			tfm_fail(e, "%s: the checkpoint does not record %s", tfm_file_label(f), t->name);
			return 1;
		}
		if (tfm_topt_value(t, t->name, s, &ck, e) != 0) {
			snprintf(why, sizeof why, "%s", e->msg);
			tfm_fail(e, "%s: the checkpoint's %s", tfm_file_label(f), why);
			return 1;
		}
		tfm_topt_text(t, &ck, a, sizeof a);
		tfm_topt_text(t, o, b, sizeof b);
		if (given[i] && strcmp(a, b) != 0) {
			tfm_fail(e, "%s %s: the checkpoint's run has %s %s, and a resumed run keeps its "
			         "settings (leave the option out)", t->name, b, t->name, a);
			return 2;
		}
		memcpy((char *)o + t->offset, (char *)&ck + t->offset,
		       t->kind == K_NUM ? sizeof(double) : t->kind == K_SEED ? sizeof(uint64_t)
		                                                             : sizeof(long));
	}
	return 0;
}

/* A training run: what tfm_cmd_train sets up, steps and tears down. */
typedef struct tfm_run {
	tfm_topts *o;
	const char *prefix;		/* of messages */
	const char *invocation;		/* the command as typed, before its options */
	int argc;
	char **argv;
	const tfm_train_api *api;
	const tfm_model_api *model;
	tfm_tokenizer *tok;		/* NULL: none */
	tfm_split sp;			/* the training and validation ids */
	uint64_t data_hash;		/* of the training ids */
	const char *ckpt;		/* the checkpoint's path */
	char *ckpt_owned;		/* OUT.ckpt, when that is it */
	int ckpt_at_end;		/* --checkpoint or --save-every given */
	FILE *log;
	tfm_trainer tr;
	long saved;			/* the step of the last checkpoint, -1: none */
	const char *saved_path;		/* and where it is */
	/* The steps of this run. */
	long start_step, last_eval;
	double val_loss, t_start, t_steps, last_draw;
	double losses[TFM_TRAIN_LOSS_WINDOW];
	long n_losses;
	int tty, line_open;
} tfm_run;

static int tfm_save(tfm_run *r, tfm_error *e)
{
	const char *extra[2 * (O__COUNT + 4) + 1];
	char text[O__COUNT][64], hash[24], n[24], threads[16];
	int k = 0;

	for (int i = 0; i < O__COUNT; i++)
		if (tfm_topts_table[i].kept) {
			extra[k++] = tfm_topts_table[i].name + 2;
			extra[k++] = tfm_topt_text(&tfm_topts_table[i], r->o, text[i], sizeof text[i]);
		}
	snprintf(hash, sizeof hash, "%016" PRIx64, r->data_hash);
	snprintf(n, sizeof n, "%zu", r->sp.n_train);
	snprintf(threads, sizeof threads, "%d", r->tr.threads);
	extra[k++] = "data";
	extra[k++] = r->o->data;
	extra[k++] = "data_tokens";
	extra[k++] = n;
	extra[k++] = "data_hash";
	extra[k++] = hash;
	extra[k++] = "threads";
	extra[k++] = threads;
	extra[k] = NULL;
	if (tfm_checkpoint_write(r->ckpt, &r->tr, extra, e) != 0)
		return -1;
	r->saved = r->tr.t;
	r->saved_path = r->ckpt;
	return 0;
}

/* The settings: from the checkpoint when resuming, then the defaults that
 * depend on others; 0, or the exit status. */
static int tfm_run_settings(tfm_run *r, const char *given, tfm_file **ck, tfm_error *e)
{
	tfm_topts *o = r->o;

	if (o->data == NULL || o->out == NULL) {
		tfm_fail(e, "%s is required (see --help)", o->data == NULL ? "--data FILE" : "-o PATH");
		return 2;
	}
	if (o->weights != NULL && o->resume != NULL) {
		tfm_fail(e, "--weights and --resume both give the starting weights: use one");
		return 2;
	}
	if (o->resume != NULL) {
		int rc;
		if (tfm_checkpoint_open(ck, o->resume, r->api, e) != 0)
			return 1;
		if ((rc = tfm_merge_resume(*ck, o, given, e)) != 0)
			return rc;
	}
	return tfm_topts_resolve(o, r->api->max_seq, e) != 0 ? 2 : 0;
}

int tfm_topts_resolve(tfm_topts *o, int max_seq, tfm_error *e)
{
	if (o->seq < 0)
		o->seq = max_seq < TFM_TRAIN_DEFAULT_SEQ ? max_seq : TFM_TRAIN_DEFAULT_SEQ;
	if (o->min_lr < 0)
		o->min_lr = o->lr / 10;
	if (o->warmup < 0 && o->steps > 0)
		o->warmup = o->steps / 10 < 100 ? o->steps / 10 : 100;
	if (o->seq > max_seq)
		return tfm_fail(e, "--seq %ld is more than the model's max_seq (%d)", o->seq, max_seq);
	if (o->min_lr > o->lr)
		return tfm_fail(e, "--min-lr %g is above --lr %g", o->min_lr, o->lr);
	if (o->steps > 0 && o->warmup > o->steps)
		return tfm_fail(e, "--warmup %ld is more than --steps %ld", o->warmup, o->steps);
	return 0;
}

void tfm_topts_apply(tfm_trainer *tr, const tfm_topts *o)
{
	tr->sched = (tfm_schedule){ (int)o->schedule, o->lr, o->min_lr, o->warmup, o->steps };
	tr->adam = (tfm_adamw){ o->beta1, o->beta2, o->adam_eps, tr->api->weight_decay };
	tr->clip = o->grad_clip;
}

int tfm_split_read(tfm_split *s, const tfm_topts *o, tfm_tokenizer *tok, int vocab,
                   const char *prefix, char *note, size_t cap, tfm_error *e)
{
	size_t window = (size_t)o->seq + 1, n;

	note[0] = '\0';
	if (tfm_data_read(&s->data, o->data, tok, vocab, e) != 0)
		return -1;
	n = s->data.n;
	s->train_ids = s->data.ids;
	s->n_train = n;
	if (o->val != NULL) {
		if (tfm_data_read(&s->val, o->val, tok, vocab, e) != 0)
			return -1;
		if (s->val.n < window)
			return tfm_fail(e, "%s: %zu tokens are fewer than one window of --seq %ld (%zu "
			                "tokens): give a smaller --seq", o->val, s->val.n, o->seq, window);
		s->val_ids = s->val.ids;
		s->n_val = s->val.n;
	} else if (n / 10 >= window && n - n / 10 >= window) {
		s->n_val = n / 10;
		s->n_train = n - s->n_val;
		s->val_ids = s->data.ids + s->n_train;
	} else {
		snprintf(note, cap, "%s: note: no validation: the last 10%% of %s's %zu tokens and the "
		         "rest do not each hold a window of %zu tokens (give --val FILE)\n", prefix,
		         o->data, n, window);
	}
	if (s->n_train < window)
		return tfm_fail(e, "%s: %zu tokens are fewer than one window of --seq %ld (%zu tokens): "
		                "give a smaller --seq", o->data, n, o->seq, window);
	return 0;
}

void tfm_split_free(tfm_split *s)
{
	tfm_data_free(&s->data);
	tfm_data_free(&s->val);
	memset(s, 0, sizeof *s);
}

/* The data, split into training and validation; a note in note[cap] when
 * there is no validation. */
static int tfm_run_data(tfm_run *r, char *note, size_t cap, tfm_error *e)
{
	note[0] = '\0';
	if (tfm_train_tokenizer(&r->tok, r->o, r->model, e) != 0
	    || tfm_split_read(&r->sp, r->o, r->tok, r->api->vocab, r->prefix, note, cap, e) != 0)
		return -1;
	r->data_hash = tfm_data_hash(r->sp.train_ids, r->sp.n_train);
	return 0;
}

/* The files it writes, checked before the first step rather than after
 * the last; the log opened. */
static int tfm_run_outputs(tfm_run *r, tfm_error *e)
{
	const tfm_topts *o = r->o;
	struct stat st;

	if (o->checkpoint != NULL) {
		r->ckpt = o->checkpoint;
	} else {
		size_t k = strlen(o->out);
		if ((r->ckpt_owned = malloc(k + 6)) == NULL)
			return tfm_fail(e, "out of memory");
		memcpy(r->ckpt_owned, o->out, k);
		memcpy(r->ckpt_owned + k, ".ckpt", 6);
		r->ckpt = r->ckpt_owned;
	}
	r->ckpt_at_end = o->checkpoint != NULL || o->save_every > 0;
	if (tfm_check_writable(o->out, e) != 0 || tfm_check_writable(r->ckpt, e) != 0)
		return -1;
	if (o->log == NULL)
		return 0;
	if ((r->log = fopen(o->log, o->resume ? "a" : "w")) == NULL)
		return tfm_fail(e, "%s: cannot create: %s", o->log, strerror(errno));
	if (fstat(fileno(r->log), &st) != 0 || st.st_size == 0)
		fputs("step,lr,train_loss,grad_norm,tokens_per_s,val_loss\n", r->log);
	return 0;
}

/* Section 5's state: from the checkpoint (whose data must be this data),
 * or the starting weights and t = 0. */
static int tfm_run_state(tfm_run *r, tfm_file *ck, tfm_error *e)
{
	const tfm_topts *o = r->o;

	if (tfm_trainer_init(&r->tr, r->api, (int)o->batch, (int)o->seq, (int)o->threads, o->seed,
	                     r->sp.train_ids, r->sp.n_train, e) != 0)
		return -1;
	tfm_topts_apply(&r->tr, o);
	if (ck != NULL) {
		const char *n = tfm_file_meta(ck, "data_tokens"), *h = tfm_file_meta(ck, "data_hash");
		char want_n[24], want_h[24];
		snprintf(want_n, sizeof want_n, "%zu", r->sp.n_train);
		snprintf(want_h, sizeof want_h, "%016" PRIx64, r->data_hash);
		if (n == NULL || h == NULL || strcmp(n, want_n) != 0 || strcmp(h, want_h) != 0)
			return tfm_fail(e, "%s: the checkpoint was trained on other data (%s tokens, hash "
			                "%s) than %s gives (%s tokens, hash %s): --data (and --val) must be "
			                "as they were", o->resume, n ? n : "?", h ? h : "?", o->data, want_n,
			                want_h);
		if (tfm_checkpoint_load(ck, &r->tr, e) != 0)
			return -1;
		r->saved = r->tr.t;
		r->saved_path = o->resume;
	} else if (tfm_train_weights(&r->tr.p, o, r->model, 0, r->prefix, e) != 0) {
		return -1;
	}
	return tfm_trainer_start(&r->tr, e);
}

/* The validation loss into r->val_loss. */
static int tfm_run_validate(tfm_run *r, tfm_error *e)
{
	double nats;
	size_t count;

	if (tfm_evaluate(r->api, r->tr.inst, r->tr.p.w, r->tr.p.g, r->tr.batch, r->tr.seq,
	                 r->tr.threads, r->sp.val_ids, r->sp.n_val, &nats, &count, e) != 0)
		return -1;
	r->val_loss = nats / (double)count;
	r->last_eval = r->tr.t;
	return 0;
}

/* Training tokens per second of this run so far. */
static double tfm_run_rate(const tfm_run *r)
{
	return r->t_steps > 0 ? (double)(r->o->batch * r->o->seq) * (double)(r->tr.t - r->start_step)
	                        / r->t_steps : 0.0;
}

/* The log's row and the progress line of the step just done. */
static void tfm_run_report(tfm_run *r, const tfm_step_info *info, int evaluated)
{
	const tfm_topts *o = r->o;
	tfm_progress p;
	char line[256];
	double now = tfm_now();

	if (r->log != NULL) {
		fprintf(r->log, "%ld,%.9g,%.9g,%.9g,%.1f,", info->t, info->lr, info->loss, info->norm,
		        info->seconds > 0 ? (double)(o->batch * o->seq) / info->seconds : 0.0);
		if (evaluated)
			fprintf(r->log, "%.9g", r->val_loss);
		fputc('\n', r->log);
		fflush(r->log);
	}
	p.step = info->t;
	p.steps = o->steps;
	p.loss = info->loss;
	p.val_loss = r->val_loss;
	p.tok_s = tfm_run_rate(r);
	p.elapsed = now - r->t_start;
	p.eta = p.elapsed / (double)(info->t - r->start_step) * (double)(o->steps - info->t);
	tfm_progress_line(line, sizeof line, &p);
	if (r->tty) {
		/* Rewritten in place, at most every TFM_TRAIN_REDRAW seconds; the
		 * lines of evaluations stay. */
		if (evaluated || info->t == o->steps || r->last_draw < 0
		    || now - r->last_draw >= TFM_TRAIN_REDRAW) {
			fprintf(stderr, "\r%s\033[K%s", line, evaluated ? "\n" : "");
			fflush(stderr);
			r->last_draw = now;
			r->line_open = !evaluated;
		}
	} else if (evaluated || info->t == o->steps || info->t == r->start_step + 1
	           || info->t % o->print_every == 0) {
		fprintf(stderr, "%s\n", line);
	}
}

/* Ends the terminal's progress line before other output. */
static void tfm_run_newline(tfm_run *r)
{
	if (r->line_open)
		fputc('\n', stderr);
	r->line_open = 0;
}

/* The steps up to --steps: 0 when done, 130 when Ctrl-C stopped them
 * (after saving), 1 on failure. */
static int tfm_run_steps(tfm_run *r, tfm_error *e)
{
	const tfm_topts *o = r->o;
	char note[600], msg[sizeof e->msg];

	while (r->tr.t < o->steps) {
		tfm_step_info info;
		int evaluated = 0;

		if (tfm_trainer_step(&r->tr, &info, e) != 0) {
			if (r->saved >= 0)
				snprintf(note, sizeof note, "the last checkpoint, %.400s (step %ld), is intact",
				         r->saved_path, r->saved);
			else
				snprintf(note, sizeof note, "no checkpoint was written");
			snprintf(msg, sizeof msg, "%.290s: stopping; %.200s", e->msg, note);
			snprintf(e->msg, sizeof e->msg, "%s", msg);
			return 1;
		}
		r->t_steps += info.seconds;
		r->losses[r->n_losses++ % TFM_TRAIN_LOSS_WINDOW] = info.loss;
		if (r->sp.n_val > 0 && ((o->eval_every > 0 && info.t % o->eval_every == 0) || info.t == o->steps)) {
			if (tfm_run_validate(r, e) != 0)
				return 1;
			evaluated = 1;
		}
		tfm_run_report(r, &info, evaluated);
		if (o->save_every > 0 && info.t % o->save_every == 0 && info.t < o->steps
		    && tfm_save(r, e) != 0)
			return 1;
		if (tfm_interrupted && info.t < o->steps) {
			char cmd[2048];
			tfm_run_newline(r);
			if ((r->saved != info.t || strcmp(r->saved_path, r->ckpt) != 0) && tfm_save(r, e) != 0)
				return 1;
			tfm_resume_command(cmd, sizeof cmd, r->invocation, r->argc, r->argv, r->ckpt);
			fprintf(stderr, "%s: interrupted after step %ld of %ld: the run is saved in %s; "
			        "resume it with:\n  %s\n", r->prefix, info.t, o->steps, r->ckpt, cmd);
			return 130;
		}
	}
	tfm_run_newline(r);
	return 0;
}

/* The end: the weights, the checkpoint, the figures and a sample. */
static int tfm_run_finish(tfm_run *r, tfm_error *e)
{
	const tfm_topts *o = r->o;
	tfm_tensor_decl *decl;
	char step[24], took[32];
	const char *meta[] = { "model", r->api->name ? r->api->name : "", "step", step, NULL };
	int rc;

	if (r->sp.n_val > 0 && r->last_eval != r->tr.t && tfm_run_validate(r, e) != 0)
		return -1;
	if ((decl = malloc((size_t)r->tr.p.n * sizeof *decl)) == NULL)
		return tfm_fail(e, "out of memory");
	for (int i = 0; i < r->tr.p.n; i++) {
		decl[i] = r->tr.p.decl[i];
		decl[i].dtype = TFM_F32;
	}
	snprintf(step, sizeof step, "%ld", r->tr.t);
	rc = tfm_write_atomic(o->out, decl, r->tr.p.n, (const void *const *)r->tr.p.w, meta, e);
	free(decl);
	if (rc != 0)
		return -1;
	if (r->ckpt_at_end && (r->saved != r->tr.t || strcmp(r->saved_path, r->ckpt) != 0)
	    && tfm_save(r, e) != 0)
		return -1;
	if (r->log != NULL) {
		int bad = ferror(r->log) != 0;
		bad |= fclose(r->log) != 0;
		r->log = NULL;
		if (bad)
			return tfm_fail(e, "%s: write failed: %s", o->log, strerror(errno));
	}

	printf("trained %ld steps", r->tr.t);
	if (o->resume != NULL)
		printf(" (%ld in this run)", r->tr.t - r->start_step);
	printf(" in %s, %.0f tok/s\n", tfm_duration(took, sizeof took, tfm_now() - r->t_start),
	       tfm_run_rate(r));
	if (r->n_losses > 0) {
		long k = r->n_losses < TFM_TRAIN_LOSS_WINDOW ? r->n_losses : TFM_TRAIN_LOSS_WINDOW;
		double s = 0;
		for (long i = 0; i < k; i++)
			s += r->losses[i];
		printf("train loss %.4f (the mean of the last %ld steps)\n", s / (double)k, k);
	}
	if (r->sp.n_val > 0)
		printf("val loss   %.4f (perplexity %.2f)\n", r->val_loss, exp(r->val_loss));
	printf("weights    %s\n", o->out);
	if (r->saved == r->tr.t)
		printf("checkpoint %s (step %ld)\n", r->saved_path, r->saved);
	fflush(stdout);
	if (o->sample > 0 && r->model != NULL) {
		const int *src = r->sp.n_val ? r->sp.val_ids : r->sp.train_ids;
		size_t avail = r->sp.n_val ? r->sp.n_val : r->sp.n_train;
		int n_prompt = TFM_TRAIN_SAMPLE_PROMPT, room, max_seq = r->model->max_seq;
		tfm_error se = { { 0 } };
		if (n_prompt > max_seq / 2)
			n_prompt = max_seq / 2 > 0 ? max_seq / 2 : 1;
		if ((size_t)n_prompt > avail)
			n_prompt = (int)avail;
		room = max_seq - n_prompt + 1;
		if (tfm_sample_text(r->model, &r->tr.p, (int)o->threads, src, n_prompt,
		                    o->sample < room ? (int)o->sample : room, r->sp.data.format, r->tok,
		                    o->seed, &se) != 0)
			fprintf(stderr, "%s: note: no sample: %s\n", r->prefix, se.msg);
	}
	if (fflush(stdout) != 0 || ferror(stdout))
		return tfm_fail(e, "cannot write to standard output: %s", strerror(errno));
	return 0;
}

static int tfm_cmd_train(tfm_topts *o, const char *given, const char *prefix,
                         const char *invocation, int argc, char **argv, const tfm_train_api *api,
                         const tfm_model_api *model, tfm_error *e)
{
	tfm_run r = {
		.o = o, .prefix = prefix, .invocation = invocation, .argc = argc, .argv = argv, .api = api, .model = model,
		.saved = -1, .last_eval = -1, .val_loss = NAN, .last_draw = -1, .tty = isatty(2),
	};
	const tfm_kernels *k = tfm_kernels_for(NULL);
	struct sigaction sa, old_sa;
	tfm_file *ck = NULL;
	const char *threads_then = NULL;	/* the checkpoint's thread count */
	char note[600], threads_buf[24];
	int rc, sigint_set;

	if ((rc = tfm_run_settings(&r, given, &ck, e)) != 0)
		goto done;
	rc = 1;
	if (tfm_run_data(&r, note, sizeof note, e) != 0 || tfm_run_outputs(&r, e) != 0
	    || tfm_run_state(&r, ck, e) != 0)
		goto done;
	if (ck != NULL && (threads_then = tfm_file_meta(ck, "threads")) != NULL) {
		snprintf(threads_buf, sizeof threads_buf, "%.20s", threads_then);
		threads_then = threads_buf;
	}
	tfm_file_close(ck);
	ck = NULL;

	fputs(note, stderr);
	fprintf(stderr, "%s: %s: %zu parameters; %zu training tokens (%s)", prefix,
	        api->name ? api->name : "?", r.tr.p.total, r.sp.n_train, tfm_format_name(r.sp.data.format));
	if (r.sp.n_val)
		fprintf(stderr, ", %zu validation tokens (%s)", r.sp.n_val, o->val ? o->val : "the last 10%");
	fprintf(stderr, "; %ld steps of %ld x %ld tokens, %ld thread%s, kernels %s\n", o->steps,
	        o->batch, o->seq, o->threads, o->threads == 1 ? "" : "s", k ? k->isa : "?");
	if (o->resume != NULL) {
		fprintf(stderr, "%s: resuming %s at step %ld of %ld\n", prefix, o->resume, r.tr.t,
		        o->steps);
		if (threads_then != NULL && strtol(threads_then, NULL, 10) != o->threads)
			fprintf(stderr, "%s: note: the checkpoint's run had --threads %s, this one has %ld: "
			        "where the work splits over threads, its bits may differ from a run that "
			        "never stopped\n", prefix, threads_then, o->threads);
	} else
		fprintf(stderr, "%s: starting from %s\n", prefix, o->weights ? o->weights : "random weights");

	/* Ctrl-C sets a flag that the loop reads after each step; a second
	 * one, with the handler reset, stops the process at once. */
	tfm_interrupted = 0;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = tfm_on_sigint;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESETHAND;
	sigint_set = sigaction(SIGINT, &sa, &old_sa) == 0;
	r.start_step = r.tr.t;
	r.t_start = tfm_now();
	rc = tfm_run_steps(&r, e);
	if (sigint_set)
		sigaction(SIGINT, &old_sa, NULL);
	if (rc == 0)
		rc = tfm_run_finish(&r, e) != 0;
done:
	tfm_run_newline(&r);
	if (r.log != NULL)
		fclose(r.log);
	tfm_file_close(ck);
	tfm_trainer_free(&r.tr);
	tfm_split_free(&r.sp);
	tfm_tokenizer_close(r.tok);
	free(r.ckpt_owned);
	return rc;
}

void tfm_topts_defaults(tfm_topts *o)
{
	*o = (tfm_topts){
		.steps = 1000, .batch = 16, .seq = -1, .lr = 1e-3, .min_lr = -1, .warmup = -1,
		.schedule = TFM_SCHEDULE_COSINE, .grad_clip = 1.0, .beta1 = 0.9, .beta2 = 0.95,
		.adam_eps = 1e-8, .seed = 42, .eval_every = 100, .sample = 64, .print_every = 10,
		.seeds = 1,
	};
}

/* ---- The entry point ----------------------------------------------------------- */

/* What argv0 makes of the names: argv0 is how the command was typed before
 * its options, "tfmc train specs/x.tfm" (or just a program's name, "tfmc",
 * to which the command is added).  The usage line and the resume hint show
 * that, invocation; messages begin with the program's name and the
 * command, prefix ("tfmc train"). */
static void tfm_names(const char *argv0, const char *command, char *prefix, size_t pcap,
                      char *invocation, size_t icap)
{
	const char *name, *p;
	size_t k, n = strlen(command);
	int named = 0;

	if (argv0 == NULL || *argv0 == '\0')
		argv0 = "tfmc";
	k = strcspn(argv0, " ");	/* the first word: the program */
	name = argv0;
	for (p = argv0; p < argv0 + k; p++)
		if (*p == '/')
			name = p + 1;
	snprintf(prefix, pcap, "%.*s %s", (int)(argv0 + k - name), name, command);
	for (p = argv0 + k; (p = strstr(p, command)) != NULL; p += n)
		if (p[-1] == ' ' && (p[n] == ' ' || p[n] == '\0'))
			named = 1;
	if (named)
		snprintf(invocation, icap, "%s", argv0);
	else
		snprintf(invocation, icap, "%s %s", argv0, command);
}

int tfm_train_main(int argc, char **argv, const char *command, const tfm_train_api *train,
                   const tfm_model_api *model)
{
	tfm_topts o;
	char given[O__COUNT] = { 0 }, prefix[160], invocation[1024];
	tfm_error e = { { 0 } };
	int cmd = command ? tfm_cmd_bit(command) : 0, rc = 2, threads;

	tfm_topts_defaults(&o);
	tfm_names(argc > 0 ? argv[0] : NULL, command ? command : "?", prefix, sizeof prefix,
	          invocation, sizeof invocation);
	if (cmd == 0 || train == NULL) {
		fprintf(stderr, "%s: error: the command is train, grad or eval\n", prefix);
		return 2;
	}
	if (tfm_parse_targs(argc, argv, cmd, command, &o, given, &e) != 0)
		goto error;
	if (o.help) {
		tfm_train_usage(stdout, invocation, cmd, train);
		fflush(stdout);
		return 0;
	}
	threads = o.threads > 0 ? (int)o.threads : tfm_train_threads();
	o.threads = threads;
	if (cmd == TFM_CMD_TRAIN) {
		rc = tfm_cmd_train(&o, given, prefix, invocation, argc, argv, train, model, &e);
	} else if (cmd == TFM_CMD_GRAD) {
		if (o.tokens == NULL || o.out == NULL) {
			tfm_fail(&e, "%s is required (see --help)", o.tokens == NULL ? "--tokens IDS" : "-o PATH");
			goto error;
		}
		rc = tfm_cmd_grad(&o, prefix, train, model, threads, &e);
	} else {
		if (o.data == NULL) {
			tfm_fail(&e, "--data FILE is required (see --help)");
			goto error;
		}
		if (o.seq < 0)
			o.seq = train->max_seq < TFM_TRAIN_DEFAULT_SEQ ? train->max_seq : TFM_TRAIN_DEFAULT_SEQ;
		if (o.seq > train->max_seq) {
			tfm_fail(&e, "--seq %ld is more than the model's max_seq (%d)", o.seq, train->max_seq);
			goto error;
		}
		rc = tfm_cmd_eval(&o, prefix, train, model, threads, &e);
	}
	if (rc == 0 || rc == 130)
		return rc;
error:
	fflush(stdout);
	fprintf(stderr, "%s: error: %s\n", prefix, e.msg);
	return rc;
}
