/* main.c: the command line of a model program, tfm_main.
 *
 * `tfmc build` makes a program whose main() is one call to tfm_main with the
 * model's tfm_model_api, and `tfmc run` executes the same code: load or make
 * up the weights, forward a prompt in one call (the prefill), then generate
 * tokens one at a time (the decode), printing their ids to stdout as they
 * come and the timings to stderr.  Unlike the rest of the runtime this is a
 * command line: it prints, and it returns the process exit status: 0 on
 * success, 1 when running fails (weights, model, output files), 2 on a bad
 * command line.  Every message is one line "NAME: error: ..." on stderr.
 *
 * Every option but the flags (--help, --timings, --bench) takes a value,
 * given as the next argument or, for the long ones, after '=' (--seed=7);
 * the last of a repeated option wins.  --bench replaces the run by the
 * timing protocol of `make bench` (tfm_bench below).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tfm_internal.h"

#include "tfm.h"

#define TFM_MAIN_DEFAULT_N       16
#define TFM_MAIN_DEFAULT_TEXT    256
#define TFM_MAIN_MAX_AUTO_THREADS 64


/* The command line, parsed. */
typedef struct tfm_opts {
	const char *weights;    /* --weights, or NULL: random weights */
	const char *tokens;     /* --tokens, as given, or NULL */
	const char *prompt;     /* --prompt, or NULL */
	const char *tokenizer;  /* --tokenizer, or NULL: the spec's */
	const char *logits;     /* --logits, or NULL */
	long n_gen;             /* -n; -1 when not given */
	double temperature;
	long top_k;
	double top_p;
	uint64_t seed;
	long threads;           /* 0 when not given */
	int help;
	int timings;            /* --timings: where the time to the first token went */
	int bench;              /* --bench: the speed protocol of `make bench` */
	long bench_context;     /* --bench-context P: a decode after P tokens; 0 when not given */
} tfm_opts;

static void tfm_print_usage(FILE *fp, const char *prog, const tfm_model_api *api)
{
	fprintf(fp,
"usage: %s [options]\n"
"\n"
"Runs the model %s (vocab %d, max_seq %d, compiled for %s): forwards a prompt,\n"
"then generates tokens and prints them: text for --prompt, ids for --tokens.\n"
"\n"
"  --weights PATH     the weights: a .safetensors file, a Hugging Face model\n"
"                     folder, or a llama2.c .bin (default: the spec's `weights`,\n"
"                     else random weights from --seed, as `tfmc init` makes them)\n"
"  --prompt TEXT      the prompt as text, encoded with the tokenizer (BOS added\n"
"                     where its configuration says so); the generated text is\n"
"                     printed as it comes, until the end-of-sequence token\n"
"  --tokenizer PATH   a tokenizer.json, a llama2.c tokenizer.bin or a model\n"
"                     folder (default: the spec's `tokenizer`)\n"
"  --tokens IDS       the prompt, comma-separated token ids (default: 1); the\n"
"                     generated ids are printed\n"
"  --logits FILE      write the logits after every prompt token to FILE, a\n"
"                     float32 .npy of shape [n_tokens, vocab]\n"
"  -n N               generate N tokens after the prompt (default: %d for --tokens,\n"
"                     %d for --prompt, or as many as fit); the prompt and all\n"
"                     generated tokens but the last must fit in max_seq\n"
"  --temperature T    sampling temperature; 0 is greedy (default: 0)\n"
"  --top-k K          sample from the K most likely tokens only; 0 is off\n"
"                     (default: 0)\n"
"  --top-p P          sample from the smallest set of most likely tokens whose\n"
"                     probability reaches P, in (0, 1]; 1 is off (default: 1)\n"
"  --seed S           seed for sampling and for random weights (default: 42)\n"
"  --threads N        threads to run on, 1..%d (default: the online CPUs, at\n"
"                     most %d)\n"
"  --timings          print where the time to the first token went\n"
"  --bench            instead of the above, time a prefill of 128 tokens and a\n"
"                     greedy decode of positions 1..255 (fewer when max_seq is\n"
"                     smaller) and print one line of figures to stdout;\n"
"                     --tokens, --logits, -n and sampling are not used\n"
"  --bench-context P  instead of the above, forward a prompt of P tokens, time\n"
"                     64 greedy decode steps after it (fewer when max_seq is\n"
"                     smaller) and print one line of figures to stdout\n"
"  -h, --help         print this help and exit\n"
"\n"
"The generated text or ids (separated by spaces) go to stdout; timings to stderr.\n"
"Exit status: 0 on success, 1 if running fails, 2 on a bad command line.\n",
	        prog, api->name ? api->name : "?", api->vocab, api->max_seq,
	        api->target ? api->target : "?", TFM_MAIN_DEFAULT_N, TFM_MAIN_DEFAULT_TEXT,
	        TFM_MAX_THREADS, TFM_MAIN_MAX_AUTO_THREADS);
}

/* ---- Values ------------------------------------------------------------- */

/* An integer in [min, max], the whole of s; what names the expected value. */
static int tfm_parse_long(const char *opt, const char *s, long min, long max,
                          const char *what, long *out, tfm_error *e)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *s == ' ' || *s == '\t' || end == s || *end != '\0'
	    || errno == ERANGE || v < min || v > max)
		return tfm_fail(e, "%s: expected %s, got '%.100s'", opt, what, s);
	*out = v;
	return 0;
}

/* A finite number, the whole of s; range checks are the caller's. */
static int tfm_parse_double(const char *opt, const char *s, const char *what,
                            double *out, tfm_error *e)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (*s == '\0' || *s == ' ' || *s == '\t' || end == s || *end != '\0'
	    || !isfinite(v))
		return tfm_fail(e, "%s: expected %s, got '%.100s'", opt, what, s);
	*out = v;
	return 0;
}

static int tfm_parse_seed(const char *opt, const char *s, uint64_t *out, tfm_error *e)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno == ERANGE)
		return tfm_fail(e, "%s: expected an integer from 0 to %llu, got '%.100s'",
		                opt, (unsigned long long)UINT64_MAX, s);
	*out = (uint64_t)v;
	return 0;
}

static int tfm_is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Parses the comma-separated token ids of s into a new array *out[*n],
 * each checked against api's vocab, the whole against max_seq. */
static int tfm_parse_tokens(const char *s, const tfm_model_api *api, int **out,
                            int *n, tfm_error *e)
{
	const char *p, *a, *b, *end;
	char *stop;
	size_t count = 1;
	int i = 0;
	long v;
	int *t;

	*out = NULL;
	*n = 0;
	for (p = s; *p && tfm_is_space(*p); p++)
		;
	if (*p == '\0')
		return tfm_fail(e, "--tokens: the list is empty: give at least one token id, as in --tokens 1,5,9");
	for (p = s; *p; p++)
		count += *p == ',';
	if (count > (size_t)api->max_seq)
		return tfm_fail(e, "--tokens: the prompt has %zu tokens, more than max_seq (%d)",
		                count, api->max_seq);
	t = malloc(count * sizeof *t);
	if (t == NULL)
		return tfm_fail(e, "--tokens: out of memory");

	for (p = s;; p = end + 1, i++) {
		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		for (a = p; a < end && tfm_is_space(*a); a++)
			;
		for (b = end; b > a && tfm_is_space(b[-1]); b--)
			;
		if (a == b) {
			tfm_fail(e, "--tokens: the item at position %d of '%.100s' is empty", i, s);
			goto fail;
		}
		errno = 0;
		v = strtol(a, &stop, 10);
		if (stop != b) {
			tfm_fail(e, "--tokens: '%.*s' at position %d is not a token id (an integer)",
			         (int)(b - a < 100 ? b - a : 100), a, i);
			goto fail;
		}
		if (errno == ERANGE || v < 0 || v >= api->vocab) {
			tfm_fail(e, "--tokens: token id %.*s at position %d is out of range [0, %d)",
			         (int)(b - a < 100 ? b - a : 100), a, i, api->vocab);
			goto fail;
		}
		t[i] = (int)v;
		if (*end == '\0')
			break;
	}
	*out = t;
	*n = i + 1;
	return 0;
fail:
	free(t);
	return -1;
}

/* ---- The command line -------------------------------------------------- */

/* tfm_internal.h */
int tfm_is_opt(const char *arg, const char *name, const char **inline_value)
{
	size_t k = strlen(name);

	if (strncmp(arg, name, k) != 0)
		return 0;
	if (arg[k] == '\0') {
		*inline_value = NULL;
		return 1;
	}
	if (arg[k] == '=' && name[1] == '-') {
		*inline_value = arg + k + 1;
		return 1;
	}
	return 0;
}

/* The options of a model program; each takes a value. */
static const char *const names[] = {
	"--weights", "--tokens", "--logits", "-n", "--temperature",
	"--top-k", "--top-p", "--seed", "--threads", "--prompt", "--tokenizer",
	"--bench-context",
};

int tfm_main_option(const char *arg)
{
	const char *val;

	if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0 || strcmp(arg, "--timings") == 0
	    || strcmp(arg, "--bench") == 0)
		return 1;
	for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
		if (tfm_is_opt(arg, names[k], &val))
			return val ? 1 : 2;
	return 0;
}

static int tfm_parse_args(int argc, char **argv, tfm_opts *o, tfm_error *e)
{
	const char *arg, *val;
	char what[64];
	size_t k;
	int i;

	for (i = 1; i < argc; i++) {
		arg = argv[i];
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			o->help = 1;
			return 0;
		}
		if (strcmp(arg, "--timings") == 0) {
			o->timings = 1;
			continue;
		}
		if (strcmp(arg, "--bench") == 0) {
			o->bench = 1;
			continue;
		}
		for (k = 0; k < sizeof names / sizeof names[0]; k++)
			if (tfm_is_opt(arg, names[k], &val))
				break;
		if (k == sizeof names / sizeof names[0]) {
			if (arg[0] == '-')
				return tfm_fail(e, "unknown option '%.100s' (see --help)", arg);
			return tfm_fail(e, "unexpected argument '%.100s': the prompt goes in --prompt or --tokens "
			                "(see --help)", arg);
		}
		if (val == NULL) {
			if (i + 1 == argc)
				return tfm_fail(e, "%s: missing value (see --help)", names[k]);
			val = argv[++i];
		}
		switch (k) {
		case 0:
			if (*val == '\0')
				return tfm_fail(e, "--weights: empty file name");
			o->weights = val;
			break;
		case 1:
			o->tokens = val;
			break;
		case 2:
			if (*val == '\0')
				return tfm_fail(e, "--logits: empty file name");
			o->logits = val;
			break;
		case 3:
			if (tfm_parse_long("-n", val, 0, INT_MAX, "a count of tokens (0 or more)",
			                   &o->n_gen, e) != 0)
				return -1;
			break;
		case 4:
			if (tfm_parse_double("--temperature", val, "a number >= 0 (0 is greedy)",
			                     &o->temperature, e) != 0)
				return -1;
			if (o->temperature < 0)
				return tfm_fail(e, "--temperature: expected a number >= 0 (0 is greedy), got '%.100s'",
				                val);
			break;
		case 5:
			if (tfm_parse_long("--top-k", val, 0, INT_MAX, "a count of tokens (0 is off)",
			                   &o->top_k, e) != 0)
				return -1;
			break;
		case 6:
			if (tfm_parse_double("--top-p", val, "a number in (0, 1] (1 is off)",
			                     &o->top_p, e) != 0)
				return -1;
			if (!(o->top_p > 0 && o->top_p <= 1))
				return tfm_fail(e, "--top-p: expected a number in (0, 1] (1 is off), got '%.100s'",
				                val);
			break;
		case 7:
			if (tfm_parse_seed("--seed", val, &o->seed, e) != 0)
				return -1;
			break;
		case 8:
			snprintf(what, sizeof what, "a count of threads from 1 to %d",
			         TFM_MAX_THREADS);
			if (tfm_parse_long("--threads", val, 1, TFM_MAX_THREADS, what,
			                   &o->threads, e) != 0)
				return -1;
			break;
		case 9:
			o->prompt = val;
			break;
		case 10:
			if (*val == '\0')
				return tfm_fail(e, "--tokenizer: empty file name");
			o->tokenizer = val;
			break;
		case 11:
			if (tfm_parse_long("--bench-context", val, 1, INT_MAX, "a count of tokens (1 or more)",
			                   &o->bench_context, e) != 0)
				return -1;
			break;
		}
	}
	if (o->prompt && o->tokens)
		return tfm_fail(e, "--prompt and --tokens both give the prompt: use one");
	return 0;
}

static int tfm_default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > TFM_MAIN_MAX_AUTO_THREADS ? TFM_MAIN_MAX_AUTO_THREADS : (int)n;
}

static double tfm_rate(long n, double seconds)
{
	return seconds > 0 ? (double)n / seconds : 0.0;
}

/* ---- --bench ------------------------------------------------------------ */

#define TFM_BENCH_PREFILL 128   /* tokens in the timed prefill */
#define TFM_BENCH_DECODE  256   /* positions of the decode, 0 (the prompt) included */

static int tfm_argmax(const float *x, int n)
{
	int best = 0;

	for (int i = 1; i < n; i++)
		if (x[i] > x[best])
			best = i;
	return best;
}

/* The speed protocol of `make bench` (bench/bench.c, issue 6) on an open
 * instance, its figures printed to stdout as one line of key=value pairs.
 *
 * First a warm-up, untimed: one token at position 0, which touches every
 * weight, so that neither timed part pays for the first touch of the
 * weights' pages (they are mmap'ed from the file) and both find the model
 * as a long-running program would.  Then the prefill: one forward of
 * min(128, max_seq) tokens at position 0, logits of the last token only,
 * timed.  Then the decode, from a one-token prompt: the prompt's forward at
 * position 0 untimed, then greedy (argmax) one-token forwards at positions
 * 1..min(255, max_seq - 1), timed together with the argmax of every step.
 * tokens_hash (FNV-1a of the decoded ids) lets the caller see that two
 * programs decoded the same tokens. */
static int tfm_bench(const tfm_model_api *api, void *inst, int threads,
                     double t_load, double t_open, tfm_error *e)
{
	int prompt[TFM_BENCH_PREFILL]; /* [n_prefill] any ids: the cost is the same */
	int n_prefill = api->max_seq < TFM_BENCH_PREFILL ? api->max_seq : TFM_BENCH_PREFILL;
	int last = (api->max_seq < TFM_BENCH_DECODE ? api->max_seq : TFM_BENCH_DECODE) - 1;
	int tok = 1, pos;
	uint32_t hash = 2166136261u;
	const float *logits;
	double t0, t_first, t_prefill, t_decode;

	for (int i = 0; i < n_prefill; i++)
		prompt[i] = (int)((1 + 7919L * i) % api->vocab);

	t0 = tfm_now();
	if (api->forward(inst, &tok, 1, 0, 0, e) == NULL)
		return -1;
	t_first = tfm_now() - t0;
	api->reset(inst);

	t0 = tfm_now();
	if (api->forward(inst, prompt, n_prefill, 0, 0, e) == NULL)
		return -1;
	t_prefill = tfm_now() - t0;
	api->reset(inst);

	if ((logits = api->forward(inst, &tok, 1, 0, 0, e)) == NULL)
		return -1;
	t0 = tfm_now();
	for (pos = 1; pos <= last; pos++) {
		tok = tfm_argmax(logits, api->vocab);
		hash = (hash ^ (uint32_t)tok) * 16777619u;
		if ((logits = api->forward(inst, &tok, 1, pos, 0, e)) == NULL)
			return -1;
	}
	t_decode = tfm_now() - t0;

	printf("bench model=%s target=%s threads=%d prefill_n=%d decode_n=%d "
	       "decode_tok_s=%.2f prefill_tok_s=%.2f decode_s=%.4f prefill_s=%.4f "
	       "first_s=%.4f load_s=%.4f open_s=%.4f tokens_hash=%08x\n",
	       api->name ? api->name : "?", api->target ? api->target : "?", threads,
	       n_prefill, last, tfm_rate(last, t_decode), tfm_rate(n_prefill, t_prefill),
	       t_decode, t_prefill, t_first, t_load, t_open, (unsigned)hash);
	if (fflush(stdout) != 0 || ferror(stdout))
		return tfm_fail(e, "cannot write to standard output: %s", strerror(errno));
	return 0;
}

#define TFM_BENCH_CONTEXT_STEPS 64	/* decode steps timed after the context */
#define TFM_BENCH_CONTEXT_CHUNK 256	/* the context is forwarded this many tokens at a time */

/* --bench-context P: how decode slows down as the KV cache grows.  P tokens
 * (the prefill's ids) forwarded in chunks, untimed but for the total, then
 * 64 greedy one-token forwards at positions P..P+63 (as many as max_seq
 * leaves), timed with their argmax: each reads the weights and P.. rows of
 * every layer's cache. */
static int tfm_bench_context(const tfm_model_api *api, void *inst, int threads, long ctx,
                             tfm_error *e)
{
	int chunk[TFM_BENCH_CONTEXT_CHUNK];
	const float *logits = NULL;
	double t0, t_context, t_decode;
	long steps = api->max_seq - ctx;

	if (steps < 1)
		return tfm_fail(e, "--bench-context: %ld tokens leave no position to decode in max_seq %d",
		                ctx, api->max_seq);
	if (steps > TFM_BENCH_CONTEXT_STEPS)
		steps = TFM_BENCH_CONTEXT_STEPS;
	t0 = tfm_now();
	for (long pos = 0; pos < ctx; pos += TFM_BENCH_CONTEXT_CHUNK) {
		const int n = ctx - pos < TFM_BENCH_CONTEXT_CHUNK ? (int)(ctx - pos) : TFM_BENCH_CONTEXT_CHUNK;
		for (int i = 0; i < n; i++)
			chunk[i] = (int)((1 + 7919L * (pos + i)) % api->vocab);
		if ((logits = api->forward(inst, chunk, n, (int)pos, 0, e)) == NULL)
			return -1;
	}
	t_context = tfm_now() - t0;
	t0 = tfm_now();
	for (long i = 0; i < steps; i++) {
		int tok = tfm_argmax(logits, api->vocab);
		if ((logits = api->forward(inst, &tok, 1, (int)(ctx + i), 0, e)) == NULL)
			return -1;
	}
	t_decode = tfm_now() - t0;
	printf("bench_context model=%s target=%s threads=%d context=%ld decode_n=%ld decode_tok_s=%.2f "
	       "decode_s=%.4f context_s=%.4f\n", api->name ? api->name : "?", api->target ? api->target : "?",
	       threads, ctx, steps, tfm_rate(steps, t_decode), t_decode, t_context);
	if (fflush(stdout) != 0 || ferror(stdout))
		return tfm_fail(e, "cannot write to standard output: %s", strerror(errno));
	return 0;
}

/* ---- Text ------------------------------------------------------------------ */

/* The length of the longest prefix of s[n] that does not end inside a
 * UTF-8 sequence: what can be printed before the next token completes it. */
static size_t tfm_utf8_complete(const char *s, size_t n)
{
	size_t i = n, k = 0;

	/* Back over at most 3 continuation bytes to the lead byte. */
	while (i > 0 && k < 3 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
		i--, k++;
	if (i == 0)
		return n;
	unsigned char c = (unsigned char)s[i - 1];
	size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
	return need > k + 1 && c >= 0xc0 ? i - 1 : n;
}

/* What the text of ids[n] adds to the *printed bytes already shown: decodes
 * them all (special tokens left out) and writes the bytes past *printed,
 * holding back a UTF-8 sequence that a later token may finish (all of it
 * when final).  Ids the model has and the tokenizer does not (Qwen pads its
 * vocabulary) have no text, as in Hugging Face's decode; text[] is where
 * the others are gathered. */
static int tfm_stream(tfm_tokenizer *tok, const int *ids, size_t n, int *known, size_t *printed,
                      int final, tfm_error *e)
{
	char *text;
	size_t len, end, k = 0;

	for (size_t i = 0; i < n; i++)
		if (ids[i] < tfm_tokenizer_vocab(tok))
			known[k++] = ids[i];
	if (tfm_tokenizer_decode(tok, known, k, TFM_DECODE_SKIP_SPECIAL | TFM_DECODE_RAW, &text, &len,
	                         e) != 0)
		return -1;
	end = final ? len : tfm_utf8_complete(text, len);
	if (end > *printed) {
		fwrite(text + *printed, 1, end - *printed, stdout);
		*printed = end;
	}
	free(text);
	return fflush(stdout) != 0 ? tfm_fail(e, "cannot write to standard output: %s", strerror(errno)) : 0;
}

/* The prompt's ids from its text, checked against the model. */
static int tfm_encode_prompt(tfm_tokenizer *tok, const char *text, const tfm_model_api *api,
                             int **ids, int *n, tfm_error *e)
{
	size_t count;

	if (tfm_tokenizer_encode(tok, text, strlen(text), 1, ids, &count, e) != 0)
		return -1;
	if (count == 0) {
		free(*ids);
		*ids = NULL;
		return tfm_fail(e, "--prompt: the text encodes to no tokens, and the tokenizer adds no BOS: "
		                "give some text");
	}
	if (count > (size_t)api->max_seq) {
		free(*ids);
		*ids = NULL;
		return tfm_fail(e, "--prompt: the text is %zu tokens, more than max_seq (%d)", count,
		                api->max_seq);
	}
	for (size_t i = 0; i < count; i++)
		if ((*ids)[i] < 0 || (*ids)[i] >= api->vocab) {
			int id = (*ids)[i];
			free(*ids);
			*ids = NULL;
			return tfm_fail(e, "--prompt: the tokenizer gives id %d (token %zu), but the model's vocab "
			                "is %d: is it the model's tokenizer?", id, i, api->vocab);
		}
	*n = (int)count;
	return 0;
}

int tfm_main(int argc, char **argv, const tfm_model_api *api)
{
	tfm_opts o = { .n_gen = -1, .top_p = 1, .seed = 42 };
	tfm_weights w = { 0 };
	tfm_sampler sampler = { 0 };
	tfm_tokenizer *tok = NULL;
	tfm_error e = { { 0 } };
	const char *prog = api->name ? api->name : "model", *slash;
	const char *tok_path;
	const float *logits;
	float *last = NULL; /* [vocab] the logits tfm_sample may change */
	void *inst = NULL;
	int *tokens = NULL; /* [n_tokens + n_gen] the prompt, then what is generated */
	int *known = NULL;  /* [n_tokens + n_gen] those the tokenizer has */
	int n_tokens = 0, tok_id, rc = 2, threads, n_weights = 0;
	long i, fit;
	size_t printed = 0;
	double t0, t_prefill, t_decode, t_load, t_open, t_tok = 0;

	if (argc > 0 && argv[0] != NULL && argv[0][0] != '\0') {
		slash = strrchr(argv[0], '/');
		prog = slash ? slash + 1 : argv[0];
	}

	/* The command line: exit status 2 for anything wrong with it. */
	if (tfm_parse_args(argc, argv, &o, &e) != 0)
		goto error;
	if (o.help) {
		tfm_print_usage(stdout, prog, api);
		fflush(stdout);
		return 0;
	}
	if (!o.prompt && tfm_parse_tokens(o.tokens ? o.tokens : "1", api, &tokens, &n_tokens, &e) != 0)
		goto error;
	tok_path = o.tokenizer ? o.tokenizer : api->tokenizer;
	if (o.prompt && !tok_path) {
		tfm_fail(&e, "--prompt needs a tokenizer: give --tokenizer PATH (a tokenizer.json, a llama2.c "
		         "tokenizer.bin or a model folder), or name one in the spec with `tokenizer \"PATH\"`");
		goto error;
	}
	for (const char *const *p = api->weights; p && *p; p++)
		n_weights++;

	/* Running it: exit status 1 for anything that fails from here. */
	rc = 1;
	if (o.prompt) {
		t0 = tfm_now();
		if (tfm_tokenizer_open(&tok, tok_path, &e) != 0
		    || tfm_encode_prompt(tok, o.prompt, api, &tokens, &n_tokens, &e) != 0)
			goto error;
		t_tok = tfm_now() - t0;
	}
	fit = (long)api->max_seq - n_tokens + 1; /* the last token is never forwarded */
	if (o.n_gen < 0) {
		long want = o.prompt ? TFM_MAIN_DEFAULT_TEXT : TFM_MAIN_DEFAULT_N;
		o.n_gen = fit < want ? fit : want;
	} else if (o.n_gen > fit) {
		tfm_fail(&e, "-n: %ld tokens do not fit after a prompt of %d: max_seq is %d, so at most %ld can be generated",
		         o.n_gen, n_tokens, api->max_seq, fit);
		rc = 2;
		goto error;
	}
	{
		int *all = realloc(tokens, ((size_t)n_tokens + (size_t)o.n_gen) * sizeof *all);
		if (all == NULL || (known = malloc(((size_t)n_tokens + (size_t)o.n_gen) * sizeof *known)) == NULL) {
			if (all)
				tokens = all;
			tfm_fail(&e, "out of memory");
			goto error;
		}
		tokens = all;
	}
	threads = o.threads > 0 ? (int)o.threads : tfm_default_threads();

	if (tfm_sampler_init(&sampler, api->vocab, (float)o.temperature, (int)o.top_k,
	                     (float)o.top_p, o.seed, &e) != 0)
		goto error;
	last = malloc((size_t)api->vocab * sizeof *last);
	if (last == NULL) {
		tfm_fail(&e, "out of memory");
		goto error;
	}
	t0 = tfm_now();
	if (o.weights != NULL || n_weights > 0) {
		const char *const *paths = o.weights ? &o.weights : api->weights;
		if (tfm_weights_open(&w, paths, o.weights ? 1 : n_weights, api->tensors, api->n_tensors,
		                     &e) != 0)
			goto error;
	} else {
		fprintf(stderr, "%s: note: no --weights given: running on random weights (seed %llu)\n",
		        prog, (unsigned long long)o.seed);
		if (tfm_weights_random(&w, api->tensors, api->n_tensors, o.seed, &e) != 0)
			goto error;
	}
	t_load = tfm_now() - t0;
	t0 = tfm_now();
	if (api->open(&inst, w.data, threads, &e) != 0) {
		inst = NULL;
		goto error;
	}
	t_open = tfm_now() - t0;
	if (o.bench) {
		if (tfm_bench(api, inst, threads, t_load, t_open, &e) != 0)
			goto error;
		rc = 0;
		goto done;
	}
	if (o.bench_context) {
		if (tfm_bench_context(api, inst, threads, o.bench_context, &e) != 0)
			goto error;
		rc = 0;
		goto done;
	}

	t0 = tfm_now();
	logits = api->forward(inst, tokens, n_tokens, 0, o.logits != NULL, &e);
	t_prefill = tfm_now() - t0;
	if (logits == NULL)
		goto error;
	if (o.logits != NULL) {
		if (tfm_npy_write(o.logits, logits, n_tokens, api->vocab, &e) != 0)
			goto error;
		logits += (size_t)(n_tokens - 1) * (size_t)api->vocab;
	}
	if (tok != NULL) {
		/* The prompt as given, then what the model adds to its text. */
		char *text;
		size_t len;
		if (tfm_tokenizer_decode(tok, tokens, (size_t)n_tokens,
		                         TFM_DECODE_SKIP_SPECIAL | TFM_DECODE_RAW, &text, &len, &e) != 0)
			goto error;
		free(text);
		printed = len;
		fputs(o.prompt, stdout);
		fflush(stdout);
	}

	t0 = tfm_now();
	for (i = 0; i < o.n_gen; i++) {
		memcpy(last, logits, (size_t)api->vocab * sizeof *last);
		tok_id = tfm_sample(&sampler, last);
		if (tok != NULL) {
			if (tfm_tokenizer_is_eos(tok, tok_id))
				break;
			tokens[n_tokens + i] = tok_id;
			if (tfm_stream(tok, tokens, (size_t)n_tokens + (size_t)i + 1, known, &printed, 0, &e) != 0)
				goto error;
		} else {
			printf(i ? " %d" : "%d", tok_id);
			fflush(stdout);
		}
		if (i + 1 < o.n_gen) {
			logits = api->forward(inst, &tok_id, 1, n_tokens + (int)i, 0, &e);
			if (logits == NULL) {
				putchar('\n');
				goto error;
			}
		}
	}
	t_decode = tfm_now() - t0;
	if (tok != NULL && tfm_stream(tok, tokens, (size_t)n_tokens + (size_t)i, known, &printed, 1, &e) != 0)
		goto error;
	if (o.n_gen > 0 || tok != NULL)
		putchar('\n');
	if (fflush(stdout) != 0 || ferror(stdout)) {
		tfm_fail(&e, "cannot write to standard output: %s", strerror(errno));
		goto error;
	}
	if (o.timings) {
		char how[160];
		if (w.n_files)
			snprintf(how, sizeof how, "%d file%s mapped, %zu bytes used in place, %zu converted",
			         w.n_files, w.n_files == 1 ? "" : "s", w.bytes_in_place, w.bytes_converted);
		else
			snprintf(how, sizeof how, "random");
		fprintf(stderr, "timings: weights %.2f ms (%s), open %.2f ms, first token %.2f ms%s",
		        t_load * 1e3, how, t_open * 1e3, t_prefill * 1e3, tok ? "" : "\n");
	}
	if (o.timings && tok)
		fprintf(stderr, ", tokenizer %.2f ms\n", t_tok * 1e3);
	/* The last generated token is sampled, never forwarded: the decode
	 * rate counts forward steps (fewer when the end-of-sequence token
	 * stopped the text). */
	{
		long steps = i < o.n_gen ? i : o.n_gen > 0 ? o.n_gen - 1 : 0;
		fprintf(stderr, "prefill: %d tokens in %.2f ms (%.1f tok/s); "
		        "decode: %ld tokens in %.2f ms (%.1f tok/s); %d threads, %s%s\n",
		        n_tokens, t_prefill * 1e3, tfm_rate(n_tokens, t_prefill), steps, t_decode * 1e3,
		        tfm_rate(steps, t_decode), threads, api->target ? api->target : "?",
		        tok && i < o.n_gen ? "; stopped at end of sequence" : "");
	}
	rc = 0;
	goto done;

error:
	fflush(stdout);
	fprintf(stderr, "%s: error: %s\n", prog, e.msg);
done:
	if (inst != NULL)
		api->close(inst);
	tfm_weights_free(&w);
	tfm_sampler_free(&sampler);
	tfm_tokenizer_close(tok);
	free(last);
	free(tokens);
	free(known);
	return rc;
}
