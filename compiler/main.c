/* main.c: the tfmc command line.  The only file that prints diagnostics and
 * chooses exit codes: 0 clean (warnings allowed), 1 errors (or warnings
 * under -Werror), 2 bad usage or unreadable input. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "check.h"
#include "build.h"
#include "compare.h"
#include "emit.h"
#include "jit.h"
#include "import.h"
#include "export.h"
#include "tensors.h"
#include "tfm.h"

enum { EXIT_OK = 0, EXIT_ERRORS = 1, EXIT_USAGE = 2 };

typedef struct Options {
	const char *command;
	const char *files[64];
	int n_files;
	const char *model;	/* --model */
	const char *output;	/* -o */
	const char *target;	/* --target */
	int json;		/* --diagnostics-format=json */
	long long seed;		/* init --seed */
	long long max_seq;	/* import --max-seq, 0 when not given */
	const char *tokenizer;	/* import --tokenizer */
	int decode;		/* tokenize --decode */
	int train;		/* emit --train */
	int special;		/* tokenize --add-special, --skip-special */
	const char *train_text[64];	/* tokenize --train FILE... */
	int n_train_text;
	long long vocab;	/* tokenize --vocab */
	const char *special_tok[64];	/* tokenize --special TOKEN... */
	int n_special_tok;
	char *pass[128];	/* run: the model program's own options */
	int n_pass;
	int watch;		/* run --watch */
	int timings;		/* run --timings */
	int weight_dtype;	/* --weight-dtype: DTYPE_, or -1 when not given */
	int int8_act;		/* --activations int8 */
	int kv_f16;		/* --kv-dtype f16 */
	Diags diags;
} Options;

static void usage(FILE *f)
{
	fprintf(f,
"usage: tfmc COMMAND [options] FILE...\n"
"\n"
"commands:\n"
"  check FILE...          check specs against the design rules\n"
"  show FILE              the resolved model, its cost and its tensors\n"
"  explain NAME           the rationale of a warning, or the meaning of a key\n"
"  FILE -o MODEL.c        emit the model as C (MODEL.c and MODEL.h)\n"
"  build FILE -o PROGRAM  emit, compile with the system C compiler, link a program\n"
"  run FILE [options]     run the model at once: compiled in process (libtcc)\n"
"                         --watch: again whenever FILE changes\n"
"                         --timings: where the time to the first token went\n"
"  init FILE -o W.safetensors|W.gguf [--seed S]\n"
"                         random weights with exactly the model's tensors\n"
"  tokenize TOKENIZER [TEXT_FILE] [--add-special]\n"
"                         the ids of a UTF-8 text (or standard input), comma-\n"
"                         separated; TOKENIZER: a tokenizer.json, a llama2.c\n"
"                         tokenizer.bin or a model folder\n"
"  tokenize TOKENIZER --decode [IDS_FILE] [--skip-special]\n"
"                         the text of comma-separated ids\n"
"  tokenize --train TEXT_FILE [--train F]... --vocab N -o tokenizer.json\n"
"                         train a byte-level BPE tokenizer of N ids on the texts;\n"
"                         --special TOKEN (repeatable; default <|endoftext|>)\n"
"  import SRC -o NAME.tfm [--max-seq N] [--tokenizer PATH]\n"
"                         a spec for a llama2.c .bin, a GGUF file or a Hugging\n"
"                         Face folder, its weights read in place where they can be\n"
"  export FILE [--weights W] [--weight-dtype T] [--tokenizer PATH] -o M.gguf\n"
"                         the model as a GGUF file llama.cpp runs\n"
"  train FILE --data DATA -o OUT.safetensors [options]\n"
"                         train the model (tfmc train FILE --help for the options)\n"
"  grad FILE --weights W --tokens IDS -o G.safetensors\n"
"                         the loss of one window and its gradients\n"
"  eval FILE --weights W --data DATA\n"
"                         cross-entropy, perplexity and bits per byte on a file\n"
"  compare SPEC... --data DATA [--steps N | --tokens N | --minutes M] [--seeds N]\n"
"                         train several models for one budget on the same data;\n"
"                         a table and plots (tfmc compare --help)\n"
"  FILE -o MODEL.c --train\n"
"                         emit the training code too (NAME_train_api)\n"
"\n"
"options:\n"
"  --model NAME           the model to use (default: the first in FILE)\n"
"  --target T             native (default), scalar, avx2 or avx512\n"
"  --weight-dtype f32|bf16|q8_0|q4_0|q4_K|q6_K\n"
"                         how the program holds matrices and embeddings (emit,\n"
"                         build, run, init): GGML's blocks for the q types, made\n"
"                         at load from f32 or bf16 weights; run keeps bf16 and\n"
"                         quantized matrices as --weights stores them\n"
"  --activations f32|int8 int8: decode rounds the token to 8 bits for quantized\n"
"                         matrices and multiplies integers, as llama.cpp does\n"
"                         (faster; not the f32 model's logits)\n"
"  --kv-dtype f32|f16     how the KV cache holds keys and values (emit, build,\n"
"                         run): f16 halves its bytes, rounding them (not the f32\n"
"                         model's logits)\n"
"  -Wall                  also the style warnings (post-norm, layernorm, ...)\n"
"  -WNAME, -Wno-NAME      turn one warning on or off\n"
"  -Werror                make warnings errors\n"
"  --diagnostics-format=json|text\n"
"                         print diagnostics as JSON (for editors) or as text\n"
"  --help, --version\n"
"\n"
"run options (also those of a built program; PROGRAM --help):\n"
"  --weights W.safetensors  (default: random weights, as tfmc init makes them)\n"
"  --tokens 1,5,9         the prompt            --logits OUT.npy  its logits\n"
"  -n N                   tokens to generate    --threads N\n"
"  --temperature T, --top-k K, --top-p P, --seed S\n"
"\n"
"warnings:\n");
	for (int i = 0; i < WARNING__COUNT; i++)
		fprintf(f, "  -W%-20s %s%s\n", warning_info[i].name, warning_info[i].summary,
		        warning_info[i].on ? "" : "");
	fprintf(f, "\nkeys (tfmc explain KEY for more):\n");
	for (int i = 0; i < KEY__COUNT; i++)
		fprintf(f, "  %-16s %s\n", key_info[i].name, key_info[i].meaning);
	fprintf(f, "\nExit status: 0 clean, 1 errors, 2 bad usage or unreadable input.\n");
}

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "tfmc: error: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(see tfmc --help)\n");
	return EXIT_USAGE;
}

/* train, grad and eval: the spec, then the options of tfm_train_main. */
static int is_train_command(const char *c)
{
	return c && (strcmp(c, "train") == 0 || strcmp(c, "grad") == 0 || strcmp(c, "eval") == 0);
}

/* The value of option name when a is it: "--name=V", or "--name" and the
 * next argument (*i moves on to it), "" when there is none; NULL when a is
 * another option. */
static const char *opt_value(const char *a, const char *name, int argc, char **argv, int *i)
{
	const size_t n = strlen(name);

	if (strncmp(a, name, n) != 0 || (a[n] != '\0' && a[n] != '='))
		return NULL;
	if (a[n] == '=')
		return a + n + 1;
	return *i + 1 < argc ? argv[++*i] : "";
}

static int parse_args(Options *o, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v;
		if (is_train_command(o->command) && o->n_files == 1 && strcmp(a, "--model") != 0
		    && strcmp(a, "--target") != 0 && strncmp(a, "-W", 2) != 0
		    && strncmp(a, "--diagnostics-format=", 21) != 0) {
			if (o->n_pass + 1 >= (int)(sizeof o->pass / sizeof o->pass[0]))
				return usage_error("%s", "too many options");
			o->pass[o->n_pass++] = argv[i];
			continue;
		}
		int take = o->command && strcmp(o->command, "run") == 0 ? tfm_main_option(a) : 0;
		if (take && strcmp(a, "--timings") == 0)
			o->timings = 1;
		if (o->command && strcmp(o->command, "run") == 0 && strcmp(a, "--watch") == 0) {
			o->watch = 1;
		} else if (take) {
			if (take == 2 && i + 1 >= argc)
				return usage_error("%s needs an argument", a);
			if (o->n_pass + 2 >= (int)(sizeof o->pass / sizeof o->pass[0]))
				return usage_error("%s", "too many options");
			o->pass[o->n_pass++] = argv[i];
			if (take == 2)
				o->pass[o->n_pass++] = argv[++i];
		} else if (o->command && strcmp(o->command, "export") == 0 && strcmp(a, "--weights") == 0) {
			if (i + 1 >= argc)
				return usage_error("%s needs an argument", a);
			if (o->n_pass + 2 >= (int)(sizeof o->pass / sizeof o->pass[0]))
				return usage_error("%s", "too many options");
			o->pass[o->n_pass++] = argv[i];
			o->pass[o->n_pass++] = argv[++i];
		} else if (strcmp(a, "--seed") == 0 && o->command && strcmp(o->command, "init") == 0) {
			char *end;
			if (i + 1 >= argc)
				return usage_error("%s needs an argument", a);
			o->seed = strtoll(argv[++i], &end, 10);
			if (*argv[i] == 0 || *end || o->seed < 0)
				return usage_error("--seed: expected a non-negative integer, got '%s'", argv[i]);
		} else if (o->command && (strcmp(o->command, "import") == 0 || strcmp(o->command, "export") == 0)
		           && (strcmp(a, "--max-seq") == 0 || strcmp(a, "--tokenizer") == 0)) {
			char *end;
			if (i + 1 >= argc)
				return usage_error("%s needs an argument", a);
			if (a[2] == 't') {
				o->tokenizer = argv[++i];
				continue;
			}
			o->max_seq = strtoll(argv[++i], &end, 10);
			if (*argv[i] == 0 || *end || o->max_seq < 1 || o->max_seq > (1 << 24))
				return usage_error("--max-seq: expected a context length from 1 to 16777216, got '%s'", argv[i]);
		} else if (o->command && strcmp(o->command, "tokenize") == 0
		           && (strcmp(a, "--train") == 0 || strcmp(a, "--vocab") == 0
		               || strcmp(a, "--special") == 0)) {
			char *end;
			if (i + 1 >= argc)
				return usage_error("%s needs an argument", a);
			if (a[2] == 'v') {
				o->vocab = strtoll(argv[++i], &end, 10);
				if (*argv[i] == 0 || *end || o->vocab < 1 || o->vocab > (1 << 22))
					return usage_error("--vocab: expected a vocabulary size from 1 to 4194304, got '%s'",
					                   argv[i]);
				continue;
			}
			const char **list = a[2] == 't' ? o->train_text : o->special_tok;
			int *n = a[2] == 't' ? &o->n_train_text : &o->n_special_tok;
			if (*n >= 64)
				return usage_error("too many %s options (the limit is 64)", a);
			list[(*n)++] = argv[++i];
		} else if (strcmp(a, "--train") == 0 && o->command && !is_train_command(o->command)
		           && strcmp(o->command, "run") != 0) {
			o->train = 1;
		} else if (o->command && strcmp(o->command, "tokenize") == 0 && strcmp(a, "--decode") == 0) {
			o->decode = 1;
		} else if (o->command && strcmp(o->command, "tokenize") == 0
		           && (strcmp(a, "--add-special") == 0 || strcmp(a, "--skip-special") == 0)) {
			o->special = 1;
		} else if ((v = opt_value(a, "--activations", argc, argv, &i)) != NULL) {
			if (strcmp(v, "f32") != 0 && strcmp(v, "int8") != 0)
				return usage_error("--activations: expected f32 or int8, got '%s'", v);
			o->int8_act = v[0] == 'i';
		} else if ((v = opt_value(a, "--kv-dtype", argc, argv, &i)) != NULL) {
			if (strcmp(v, "f32") != 0 && strcmp(v, "f16") != 0)
				return usage_error("--kv-dtype: expected f32 or f16, got '%s'", v);
			o->kv_f16 = v[1] == '1';
		} else if ((v = opt_value(a, "--weight-dtype", argc, argv, &i)) != NULL) {
			if ((o->weight_dtype = dtype_by_name(v)) < 0)
				return usage_error("--weight-dtype: expected f32, bf16, q8_0, q4_0, q4_K or q6_K, got '%s'", v);
		} else if (strcmp(a, "--model") == 0 || strcmp(a, "-o") == 0 || strcmp(a, "--target") == 0) {
			if (i + 1 >= argc)
				return usage_error("%s needs an argument", a);
			*(a[1] == 'o' ? &o->output : a[2] == 'm' ? &o->model : &o->target) = argv[++i];
		} else if (strncmp(a, "--diagnostics-format=", 21) == 0) {
			if (strcmp(a + 21, "json") == 0)
				o->json = 1;
			else if (strcmp(a + 21, "text") == 0)
				o->json = 0;
			else
				return usage_error("unknown diagnostics format '%s' (json or text)", a + 21);
		} else if (strncmp(a, "-W", 2) == 0) {
			if (diag_option(&o->diags, a)) {
				const char *near = warning_nearest(a + 2, (int)strlen(a + 2));
				fprintf(stderr, "tfmc: error: unknown warning option '%s'", a);
				if (near)
					fprintf(stderr, "; did you mean '-W%s'?", near);
				fprintf(stderr, "\n");
				return EXIT_USAGE;
			}
		} else if (a[0] == '-' && a[1]) {
			return usage_error("unknown option '%s'", a);
		} else if (!o->command) {
			o->command = a;
		} else if (o->n_files < (int)(sizeof o->files / sizeof o->files[0])) {
			o->files[o->n_files++] = a;
		} else {
			return usage_error("too many files (the limit is %s)", "64");
		}
	}
	return 0;
}

/* Prints what the run found; returns the exit status it calls for. */
static int report(Options *o, int unreadable)
{
	Diags *d = &o->diags;

	if (o->json)
		diag_print_json(d, stderr);
	else
		diag_print_text(d, stderr, isatty(2) && !getenv("NO_COLOR"));
	return unreadable ? EXIT_USAGE : d->n_errors ? EXIT_ERRORS : EXIT_OK;
}

static int load_all(Options *o, Front *fe)
{
	Loc none = { 0 };
	int unreadable = 0;

	for (int i = 0; i < o->n_files; i++)
		if (front_load(fe, o->files[i], none))
			unreadable = 1;
	return unreadable;
}

static int cmd_check(Options *o)
{
	Front fe;
	int unreadable, rc;

	if (o->n_files == 0)
		return usage_error("%s: no input files", "check");
	front_init(&fe, &o->diags);
	unreadable = load_all(o, &fe);
	/* Syntax errors stop here: checking a half-parsed model only adds noise. */
	if (!unreadable && o->diags.n_errors == 0)
		check_all(&fe);
	rc = report(o, unreadable);
	front_free(&fe);
	return rc;
}

/* 1234567 -> "1,234,567" */
static const char *commas(long long v, char *buf)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof tmp, "%lld", v < 0 ? -v : v), j = 0;

	if (v < 0)
		buf[j++] = '-';
	for (int i = 0; i < n; i++) {
		if (i && (n - i) % 3 == 0)
			buf[j++] = ',';
		buf[j++] = tmp[i];
	}
	buf[j] = 0;
	return buf;
}

static void print_value(FILE *f, const Model *m, int k)
{
	const KeyInfo *ki = &key_info[k];
	Model *mm = (Model *)m;

	switch (ki->type) {
	case T_INT: fprintf(f, "%lld", *model_int(mm, k)); break;
	case T_FLOAT: fprintf(f, "%g", *model_float(mm, k)); break;
	case T_BOOL: fprintf(f, "%s", *model_enum(mm, k) ? "true" : "false"); break;
	case T_ENUM: fprintf(f, "%s", choice_word(*model_enum(mm, k))); break;
	}
}

static void show_model(FILE *f, const Resolved *r)
{
	const Model *m = &r->m;
	Cost c;
	char a[32], b[32], e[32];
	int n = model_tensors(m, NULL, 0);
	Tensor *t = malloc(sizeof *t * (size_t)n);
	long long sum = 0;

	if (!t)
		abort();
	model_tensors(m, t, n);
	model_cost(m, &c);
	fprintf(f, "model %s    # %s:%d\n", m->name, r->loc.src->path, r->loc.line);
	for (int k = 0; k < KEY__COUNT; k++) {
		fprintf(f, "    %-16s = ", key_info[k].name);
		print_value(f, m, k);
		if (!r->key_loc[k].line)
			fprintf(f, "    # default: %s", key_info[k].deftext);
		else if (r->key_from[k] != r->decl)
			fprintf(f, "    # from %s", r->key_from[k]->name);
		fprintf(f, "\n");
	}
	for (const FileRef *w = r->weights; w; w = w->next)
		fprintf(f, "    weights            %s\n", w->path);
	if (r->tokenizer)
		fprintf(f, "    tokenizer          %s\n", r->tokenizer->path);
	fprintf(f, "\ncost\n");
	fprintf(f, "    parameters        %s (embedding %s, non-embedding %s)\n", commas(c.params, a),
	        commas(c.params_embedding, b), commas(c.params_other, e));
	fprintf(f, "    FLOPs per token   %s + %s per cached position (forward; %s at max_seq)\n",
	        commas(c.flops_linear, a), commas(c.flops_attn_per_ctx, b),
	        commas(c.flops_linear + c.flops_attn_per_ctx * m->max_seq, e));
	fprintf(f, "    KV cache          %s bytes per token, %s bytes at max_seq (f32)\n",
	        commas(c.kv_bytes_per_token, a), commas(c.kv_bytes_per_token * m->max_seq, b));
	long long vectors = 0;	/* --weight-dtype bf16 keeps these in f32 */
	for (int i = 0; i < n; i++)
		vectors += t[i].ndim == 2 ? 0 : t[i].shape[0];
	fprintf(f, "    weights           %s bytes in f32, %s bytes with --weight-dtype bf16\n",
	        commas(c.params * 4, a), commas(c.params * 2 + vectors * 2, b));
	fprintf(f, "\ntensors (%d)\n", n);
	for (int i = 0; i < n; i++) {
		long long size = t[i].shape[0] * (t[i].ndim == 2 ? t[i].shape[1] : 1);
		char shape[48];
		if (t[i].ndim == 2)
			snprintf(shape, sizeof shape, "[%lld, %lld]", t[i].shape[0], t[i].shape[1]);
		else
			snprintf(shape, sizeof shape, "[%lld]", t[i].shape[0]);
		fprintf(f, "    %-40s %-14s %15s\n", t[i].name, shape, commas(size, a));
		sum += size;
	}
	fprintf(f, "    %-40s %-14s %15s\n", "total", "", commas(sum, a));
	free(t);
}

static int cmd_show(Options *o)
{
	Front fe;
	Resolved r;
	int unreadable, rc;

	if (o->n_files != 1)
		return usage_error("%s takes one spec file", "show");
	front_init(&fe, &o->diags);
	unreadable = load_all(o, &fe);
	if (!unreadable && o->diags.n_errors == 0 &&
	    check_select(&fe, o->files[0], o->model, &r) == 0 && o->diags.n_errors == 0)
		show_model(stdout, &r);
	rc = report(o, unreadable);
	front_free(&fe);
	return rc;
}

/* Loads, checks and selects the model of a one-file command; 0 or an exit status. */
static int load_one(Options *o, Front *fe, Resolved *r, const char *what)
{
	if (o->n_files != 1)
		return usage_error("%s takes one spec file", what);
	front_init(fe, &o->diags);
	if (load_all(o, fe)) {
		report(o, 1);
		return EXIT_USAGE;
	}
	if (o->diags.n_errors || check_select(fe, o->files[0], o->model, r) || o->diags.n_errors) {
		int rc = report(o, 0);
		return rc ? rc : EXIT_ERRORS;
	}
	return 0;
}

/* path made absolute against the working directory, into buf[size]: a
 * program may run from anywhere.  Nothing else is changed (no symbolic
 * link resolved), and the file need not exist yet. */
static const char *absolute(const char *path, char *buf, size_t size)
{
	char cwd[4096];

	if (path[0] == '/' || !getcwd(cwd, sizeof cwd)
	    || snprintf(buf, size, "%s/%s", cwd, strncmp(path, "./", 2) == 0 ? path + 2 : path) >= (int)size)
		snprintf(buf, size, "%s", path);
	return buf;
}

/* The spec's `weights` and `tokenizer` into p, as absolute paths. */
static int set_files(Program *p, const Resolved *r)
{
	static char bufs[IR_MAX_FILES + 1][4096];
	const char *w[IR_MAX_FILES];
	int n = 0;

	for (const FileRef *f = r->weights; f && n < IR_MAX_FILES; f = f->next, n++)
		w[n] = absolute(f->path, bufs[n], sizeof bufs[n]);
	return ir_set_files(p, w, n, r->tokenizer ? absolute(r->tokenizer->path, bufs[n], sizeof bufs[n]) : NULL);
}

/* The --weights file among the model program's options, or NULL. */
static const char *weights_option(const Options *o)
{
	for (int i = 0; i < o->n_pass; i++) {
		if (strcmp(o->pass[i], "--weights") == 0 && i + 1 < o->n_pass)
			return o->pass[i + 1];
		if (strncmp(o->pass[i], "--weights=", 10) == 0)
			return o->pass[i] + 10;
	}
	return NULL;
}

/* Without --weight-dtype, a program holds its matrices as its weights
 * store them: each quantized one in its own type (a GGUF file used in
 * place, Q4_K_M's mix and all), the others in bf16 when every unquantized
 * matrix is BF16 (widening them would only double the bytes each token
 * reads), else f32.  The weights are those of run's --weights, else the
 * spec's; unreadable ones are left for the run to report. */
static void weights_as_stored(const Options *o, Program *p)
{
	const char *opt = weights_option(o);
	const char *const *paths = opt ? &opt : (const char *const *)p->weights;
	int n = opt ? 1 : p->n_weights, bf16 = 0, other = 0;
	tfm_tensor_decl *d;
	int *stored;

	if (n == 0 || !(d = build_decls(p)))
		return;
	if (!(stored = malloc(sizeof *stored * (size_t)p->n_tensors))
	    || tfm_weights_stored_dtypes(paths, n, d, p->n_tensors, stored, NULL) != 0) {
		free(stored);
		free(d);
		return;
	}
	for (int i = 0; i < p->n_tensors; i++)
		if (p->tensors[i].ndim == 2 && !tfm_dtype_is_quant(stored[i]))
			*(stored[i] == TFM_BF16 ? &bf16 : &other) += 1;
	if (bf16 && !other)
		ir_set_weight_dtype(p, DTYPE_BF16);
	for (int i = 0; i < p->n_tensors; i++)
		if (p->tensors[i].ndim == 2 && tfm_dtype_is_quant(stored[i])
		    && p->tensors[i].shape[1] % dtype_info(stored[i])->block == 0)
			p->tensors[i].dtype = stored[i];
	free(stored);
	free(d);
}

/* How p holds its matrices, for messages: one type's name, or "mixed". */
static const char *matrices_dtype(const Program *p)
{
	int dt = -1;

	for (int i = 0; i < p->n_tensors; i++)
		if (p->tensors[i].ndim == 2) {
			if (dt >= 0 && p->tensors[i].dtype != dt)
				return "mixed";
			dt = p->tensors[i].dtype;
		}
	return dtype_info(dt < 0 ? DTYPE_F32 : dt)->name;
}

/* load_one, then the operation list of the model: what every command that
 * compiles or runs a model starts with.  The diagnostics so far are printed
 * and cleared.  0, or an exit status with nothing left to free but fe. */
static int load_program(Options *o, Front *fe, Program *p, const char *what)
{
	Resolved r;
	int rc = load_one(o, fe, &r, what);

	if (rc)
		return rc;
	report(o, 0);
	diag_free(&o->diags);
	diag_init(&o->diags);
	if (ir_build(&r.m, o->weight_dtype < 0 ? DTYPE_F32 : o->weight_dtype, p) || set_files(p, &r)) {
		fprintf(stderr, "tfmc: error: out of memory\n");
		return EXIT_ERRORS;
	}
	p->int8_act = o->int8_act;
	p->kv_dtype = o->kv_f16 ? DTYPE_F16 : DTYPE_F32;
	const Tensor *misfit = o->weight_dtype >= 0 ? ir_dtype_misfit(p, o->weight_dtype) : NULL;
	if (misfit) {
		const Dtype *dt = dtype_info(o->weight_dtype);
		fprintf(stderr, "tfmc: error: --weight-dtype %s: tensor '%s' has rows of %lld, not whole %s blocks "
		        "of %d%s\n", dt->name, misfit->name, misfit->shape[1], dt->name, dt->block,
		        dt->block == 256 ? " (q8_0 and q4_0 have blocks of 32)" : "");
		ir_free(p);
		return EXIT_ERRORS;
	}
	if (o->weight_dtype < 0)
		weights_as_stored(o, p);
	return 0;
}

static const Target *pick_target(const Options *o)
{
	const Target *t = target_find(o->target ? o->target : "native");
	if (!t) {
		fprintf(stderr, "tfmc: error: unknown target '%s'; the targets are native", o->target);
		for (int i = 0; i < n_targets; i++)
			fprintf(stderr, ", %s", targets[i].name);
		fprintf(stderr, "\n");
	}
	return t;
}

/* tfmc SPEC -o model.c: writes model.c and model.h. */
static int cmd_emit(Options *o)
{
	Front fe;
	Program prog;
	const Target *t;
	char hpath[4096], *hname;
	int rc;

	if (!o->output)
		return usage_error("%s", "no -o FILE.c: where should the C go?");
	size_t len = strlen(o->output);
	if (len < 3 || strcmp(o->output + len - 2, ".c") != 0 || len >= sizeof hpath)
		return usage_error("-o %s: the output must be a .c file", o->output);
	if (!(t = pick_target(o)))
		return EXIT_USAGE;
	if ((rc = load_program(o, &fe, &prog, "emitting C")) != 0) {
		front_free(&fe);
		return rc;
	}
	memcpy(hpath, o->output, len + 1);
	hpath[len - 1] = 'h';
	hname = strrchr(hpath, '/') ? strrchr(hpath, '/') + 1 : hpath;
	FILE *c = fopen(o->output, "w"), *h = fopen(hpath, "w");
	if (!c || !h) {
		fprintf(stderr, "tfmc: error: cannot write '%s': %s\n", !c ? o->output : hpath, strerror(errno));
		rc = EXIT_USAGE;
	} else {
		EmitInfo info = { o->files[0], hname, NULL, o->train };
		emit_c(&prog, t, &info, c, h);
		rc = ferror(c) || ferror(h) ? EXIT_ERRORS : 0;
		if (rc)
			fprintf(stderr, "tfmc: error: writing '%s' failed\n", o->output);
	}
	if (c)
		fclose(c);
	if (h)
		fclose(h);
	ir_free(&prog);
	front_free(&fe);
	return rc;
}

/* tfmc build SPEC -o PROGRAM */
static int cmd_build(Options *o)
{
	Front fe;
	Program prog;
	const Target *t;
	tfm_error e;
	double secs;
	int rc;

	if (!o->output)
		return usage_error("%s", "build: no -o PROGRAM");
	if (!(t = pick_target(o)))
		return EXIT_USAGE;
	if ((rc = load_program(o, &fe, &prog, "build")) != 0) {
		front_free(&fe);
		return rc;
	}
	if (build_program(&prog, t, o->files[0], o->output, &secs, &e)) {
		fprintf(stderr, "tfmc: error: %s\n", e.msg);
		rc = EXIT_ERRORS;
	} else {
		fprintf(stderr, "tfmc: built %s (model %s, target %s) in %.2f s\n", o->output,
		        prog.m.name, t->name, secs);
	}
	ir_free(&prog);
	front_free(&fe);
	return rc;
}

/* One run of a spec: check it, compile it (in process with libtcc, else
 * with cc into the cache), run it with the model program's options. */
static int run_spec(Options *o, Front *fe)
{
	static int said_fallback;
	double t0 = tfm_now(), t_check;
	const Target *t;
	Program prog;
	tfm_error e;
	char *argv[132];
	int rc;

	if (!(t = pick_target(o)))
		return EXIT_USAGE;
	if ((rc = load_program(o, fe, &prog, "run")) != 0)
		return rc;
	t_check = tfm_now() - t0;
	memcpy(argv + 1, o->pass, sizeof o->pass[0] * (size_t)o->n_pass);
	argv[o->n_pass + 1] = NULL;
	fflush(stdout);
	if (jit_available() && !getenv("TFMC_NO_JIT")) {
		Jit j;
		/* --target picks the kernels: native is the best this CPU runs. */
		const char *isa = o->target && strcmp(o->target, "native") != 0 ? t->name : NULL;
		if (jit_compile(&prog, o->files[0], isa, &j, &e)) {
			fprintf(stderr, "tfmc: error: %s\n", e.msg);
			rc = EXIT_ERRORS;
		} else {
			if (o->timings)
				fprintf(stderr, "timings: parse and check %.2f ms, codegen %.2f ms, JIT compile %.2f ms "
				        "(libtcc; kernels %s; matrices %s)\n", t_check * 1e3, j.seconds_emit * 1e3,
				        j.seconds_compile * 1e3, isa ? isa : "native", matrices_dtype(&prog));
			argv[0] = prog.m.name;
			rc = tfm_main(o->n_pass + 1, argv, j.api);
			jit_free(&j);
		}
	} else {
		char path[4096];
		int built;
		if (!said_fallback++)
			fprintf(stderr, "tfmc: %s: compiling with the system C compiler into a cache, "
			        "once per spec and target\n", jit_available() ? "TFMC_NO_JIT is set"
			        : "this tfmc was built without libtcc");
		t0 = tfm_now();
		if (build_cached(&prog, t, o->files[0], path, sizeof path, &built, &e)) {
			fprintf(stderr, "tfmc: error: %s\n", e.msg);
			rc = EXIT_ERRORS;
		} else {
			if (o->timings)
				fprintf(stderr, "timings: parse and check %.2f ms, codegen and cc %.2f ms (%s; matrices %s)\n",
				        t_check * 1e3, (tfm_now() - t0) * 1e3, built ? "compiled" : "cached",
				        matrices_dtype(&prog));
			argv[0] = path;
			rc = build_exec(argv);
		}
	}
	ir_free(&prog);
	return rc;
}

/* tfmc train|grad|eval SPEC [options]: the model's training code compiled
 * in process, then the trainer's command line (tfm_train_main). */
static int cmd_train(Options *o)
{
	Front fe;
	Program prog;
	const Target *t;
	tfm_error e;
	char *argv[132];
	Jit j;
	int rc;

	if (o->n_files != 1)
		return usage_error("%s takes one spec file, then its options", o->command);
	if (!(t = pick_target(o)))
		return EXIT_USAGE;
	o->weight_dtype = DTYPE_F32;	/* training holds f32 weights, and the sample reads them */
	if ((rc = load_program(o, &fe, &prog, o->command)) != 0) {
		front_free(&fe);
		return rc;
	}
	if (!jit_available()) {
		fprintf(stderr, "tfmc: error: %s needs the JIT: this tfmc was built without libtcc\n", o->command);
		rc = EXIT_ERRORS;
	} else if (jit_compile_train(&prog, o->files[0],
	                             o->target && strcmp(o->target, "native") != 0 ? t->name : NULL, &j, &e)) {
		fprintf(stderr, "tfmc: error: %s\n", e.msg);
		rc = EXIT_ERRORS;
	} else {
		/* "tfmc train SPEC [--model NAME]": the messages' prefix is its
		 * first two words, the usage and the hint to resume show it all. */
		char invocation[1200];
		snprintf(invocation, sizeof invocation, "tfmc %s %s%s%s", o->command, o->files[0],
		         o->model ? " --model " : "", o->model ? o->model : "");
		argv[0] = invocation;
		memcpy(argv + 1, o->pass, sizeof o->pass[0] * (size_t)o->n_pass);
		argv[o->n_pass + 1] = NULL;
		rc = tfm_train_main(o->n_pass + 1, argv, o->command, j.train_api, j.api);
		jit_free(&j);
	}
	ir_free(&prog);
	front_free(&fe);
	return rc;
}

/* The modification times of the files a run read, to watch them. */
typedef struct Watched {
	char paths[16][1024];
	struct timespec mtime[16];
	int n;
} Watched;

static void watch_snapshot(Watched *w)
{
	for (int i = 0; i < w->n; i++) {
		struct stat st;
		memset(&w->mtime[i], 0, sizeof w->mtime[i]);
		if (stat(w->paths[i], &st) == 0)
			w->mtime[i] = st.st_mtim;
	}
}

static int watch_changed(const Watched *w)
{
	for (int i = 0; i < w->n; i++) {
		struct stat st;
		struct timespec zero = { 0, 0 }, now = stat(w->paths[i], &st) == 0 ? st.st_mtim : zero;
		if (now.tv_sec != w->mtime[i].tv_sec || now.tv_nsec != w->mtime[i].tv_nsec)
			return 1;
	}
	return 0;
}

/* tfmc run SPEC [program options], once or, with --watch, whenever the spec
 * (or a file it includes) changes. */
static int cmd_run(Options *o)
{
	int rc;

	if (o->n_files != 1)
		return usage_error("%s takes one spec file", "run");
	for (;;) {
		Front fe;
		Watched w;

		memset(&fe, 0, sizeof fe);
		rc = run_spec(o, &fe);
		if (!o->watch) {
			front_free(&fe);
			return rc;
		}
		w.n = 0;
		snprintf(w.paths[w.n++], sizeof w.paths[0], "%s", o->files[0]);
		for (Source *s = fe.sources; s && w.n < 16; s = s->next)
			if (strcmp(s->path, o->files[0]) != 0)
				snprintf(w.paths[w.n++], sizeof w.paths[0], "%s", s->path);
		front_free(&fe);
		diag_free(&o->diags);
		diag_init(&o->diags);
		watch_snapshot(&w);
		fprintf(stderr, "tfmc: watching %s%s; edit it to run again (Ctrl-C stops)\n", o->files[0],
		        w.n > 1 ? " and its includes" : "");
		while (!watch_changed(&w)) {
			struct timespec nap = { 0, 100 * 1000 * 1000 };
			nanosleep(&nap, NULL);
		}
		/* Let an editor finish writing the file. */
		struct timespec settle = { 0, 50 * 1000 * 1000 };
		nanosleep(&settle, NULL);
		fprintf(stderr, "\ntfmc: %s changed: running again\n", o->files[0]);
	}
}

/* tfmc init SPEC -o FILE.safetensors [--seed S] */
static int cmd_init(Options *o)
{
	Front fe;
	Program prog;
	tfm_weights w;
	tfm_error e;
	tfm_tensor_decl *d;
	int rc;

	if (!o->output)
		return usage_error("%s", "init: no -o FILE.safetensors");
	if ((rc = load_program(o, &fe, &prog, "init")) != 0) {
		front_free(&fe);
		return rc;
	}
	const size_t olen = strlen(o->output);
	if (olen > 5 && strcmp(o->output + olen - 5, ".gguf") == 0) {	/* a GGUF file, any type */
		if (export_gguf_random(&prog, (uint64_t)o->seed, o->output, stderr, &e)) {
			fprintf(stderr, "tfmc: error: %s\n", e.msg);
			rc = EXIT_ERRORS;
		}
		ir_free(&prog);
		front_free(&fe);
		return rc;
	}
	if (dtype_is_quant(prog.weight_dtype)) {
		fprintf(stderr, "tfmc: error: init writes safetensors files, which hold f32 and bf16; for %s "
		        "blocks write a GGUF file (-o FILE.gguf), or quantize at load (--weight-dtype %s on emit, build "
		        "or run)\n", dtype_info(prog.weight_dtype)->name, dtype_info(prog.weight_dtype)->name);
		ir_free(&prog);
		front_free(&fe);
		return EXIT_ERRORS;
	}
	d = build_decls(&prog);
	if (!d || tfm_weights_random(&w, d, prog.n_tensors, (uint64_t)o->seed, &e) ||
	    tfm_file_write(o->output, d, prog.n_tensors, (const void *const *)w.data, &e)) {
		fprintf(stderr, "tfmc: error: %s\n", d ? e.msg : "out of memory");
		rc = EXIT_ERRORS;
	} else {
		fprintf(stderr, "tfmc: wrote %s: %d tensors of model %s (seed %lld%s)\n", o->output,
		        prog.n_tensors, prog.m.name, o->seed,
		        prog.weight_dtype == DTYPE_BF16 ? ", matrices in bf16" : "");
	}
	if (d)
		tfm_weights_free(&w);
	free(d);
	ir_free(&prog);
	front_free(&fe);
	return rc;
}

/* Reads all of a file, or standard input when path is NULL. */
static char *read_all(const char *path, size_t *len)
{
	FILE *f = path ? fopen(path, "rb") : stdin;
	char *buf = NULL;
	size_t cap = 0, n = 0, k;

	*len = 0;
	if (!f)
		return NULL;
	do {
		if (n + 65536 + 1 > cap) {
			char *b = realloc(buf, cap = 2 * cap + 65536 + 1);
			if (!b) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = b;
		}
		n += k = fread(buf + n, 1, 65536, f);
	} while (k == 65536);
	if (buf && ferror(f)) {
		free(buf);
		buf = NULL;
	}
	if (path)
		fclose(f);
	if (buf) {
		buf[n] = 0;
		*len = n;
	}
	return buf;
}

/* Comma-separated ids (spaces and newlines allowed around them) into a new
 * array; 0, or -1 with a message. */
static int parse_ids(const char *s, const char *what, int **out, size_t *n, tfm_error *e)
{
	size_t cap = 0, k = 0;
	int *ids = NULL;

	for (const char *p = s;;) {
		char *end;
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (!*p && k == 0)
			break;
		errno = 0;
		long v = strtol(p, &end, 10);
		if (end == p || errno || v < 0 || v > 2147483647L) {
			free(ids);
			return tfm_fail(e, "%s: item %zu ('%.*s') is not a token id", what, k,
			                (int)strcspn(p, ", \t\r\n") < 20 ? (int)strcspn(p, ", \t\r\n") : 20, p);
		}
		if (k == cap) {
			int *m = realloc(ids, (cap = 2 * cap + 256) * sizeof *m);
			if (!m) {
				free(ids);
				return tfm_fail(e, "out of memory");
			}
			ids = m;
		}
		ids[k++] = (int)v;
		for (p = end; *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'; p++)
			;
		if (!*p)
			break;
		if (*p++ != ',') {
			free(ids);
			return tfm_fail(e, "%s: expected ',' after item %zu, found '%c'", what, k - 1, p[-1]);
		}
	}
	*out = ids;
	*n = k;
	return 0;
}

static double seconds_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* tfmc tokenize --train TEXT_FILE... --vocab N -o tokenizer.json
 * [--special TOKEN]...: a byte-level BPE tokenizer trained on the texts. */
static int cmd_tokenize_train(Options *o)
{
	static const char *const dflt[] = { "<|endoftext|>" };
	tfm_bpe_text texts[64];
	tfm_bpe_stats st;
	tfm_error e;
	char *json = NULL;
	size_t len;
	int i, rc = EXIT_OK;

	if (o->n_files > 0 || o->decode || o->special)
		return usage_error("%s", "tokenize --train takes --train FILE, --vocab, --special and -o, "
		                   "no tokenizer");
	if (!o->vocab)
		return usage_error("%s", "tokenize --train: no --vocab N: how many ids should it have?");
	if (!o->output)
		return usage_error("%s", "tokenize --train: no -o tokenizer.json");
	const char *const *special = o->n_special_tok ? o->special_tok : dflt;
	int n_special = o->n_special_tok ? o->n_special_tok : 1;
	if (o->vocab < 256 + n_special) {
		fprintf(stderr, "tfmc: error: --vocab %lld is too small: the 256 bytes and %d special "
		        "token%s need %d ids\n(see tfmc --help)\n", o->vocab, n_special,
		        n_special == 1 ? "" : "s", 256 + n_special);
		return EXIT_USAGE;
	}
	for (i = 0; i < o->n_train_text; i++) {
		texts[i].name = o->train_text[i];
		if (!(texts[i].data = read_all(o->train_text[i], &texts[i].len))) {
			fprintf(stderr, "tfmc: error: cannot read %s: %s\n", o->train_text[i], strerror(errno));
			rc = EXIT_USAGE;
			break;
		}
	}
	int n_read = i;
	double t0 = seconds_now();
	if (rc == EXIT_OK && tfm_bpe_train(texts, n_read, (int)o->vocab, special, n_special, &json, &len,
	                                   &st, &e) != 0) {
		fprintf(stderr, "tfmc: error: %s\n", e.msg);
		rc = EXIT_ERRORS;
	}
	double secs = seconds_now() - t0;
	for (i = 0; i < n_read; i++)
		free((char *)texts[i].data);
	if (rc != EXIT_OK)
		return rc;
	FILE *f = fopen(o->output, "wb");
	int written = f && fwrite(json, 1, len, f) == len;
	if (f && fclose(f) != 0)
		written = 0;
	if (!written) {
		fprintf(stderr, "tfmc: error: cannot write '%s': %s\n", o->output, strerror(errno));
		free(json);
		return EXIT_USAGE;
	}
	free(json);
	fprintf(stderr, "tfmc: wrote %s: vocab %d (256 bytes, %d merges, %d special), from %zu bytes "
	        "of text (%zu words, %zu distinct) in %.2f s; %.4f tokens per byte on it\n", o->output,
	        st.vocab, st.merges, n_special, st.bytes, st.words, st.distinct, secs,
	        (double)st.tokens / (double)st.bytes);
	if (st.vocab < o->vocab)
		fprintf(stderr, "tfmc: note: the text has no more pairs to merge: vocab %d, not %lld\n",
		        st.vocab, o->vocab);
	return EXIT_OK;
}

/* tfmc tokenize TOKENIZER [TEXT_FILE]: the ids of a text, comma-separated;
 * tfmc tokenize TOKENIZER --decode [IDS_FILE]: the text of the ids. */
static int cmd_tokenize(Options *o)
{
	tfm_tokenizer *t;
	tfm_error e;
	const char *in = o->n_files > 1 ? o->files[1] : NULL;
	char *text = NULL;
	size_t len;
	int *ids = NULL, rc = EXIT_ERRORS;
	size_t n;

	if (o->n_train_text > 0)
		return cmd_tokenize_train(o);
	if (o->vocab || o->n_special_tok)
		return usage_error("%s", "tokenize: --vocab and --special go with --train TEXT_FILE");
	if (o->n_files < 1 || o->n_files > 2)
		return usage_error("%s takes a tokenizer and at most one input file", "tokenize");
	if (!(text = read_all(in, &len))) {
		fprintf(stderr, "tfmc: error: cannot read %s: %s\n", in ? in : "standard input", strerror(errno));
		return EXIT_USAGE;
	}
	if (tfm_tokenizer_open(&t, o->files[0], &e)) {
		fprintf(stderr, "tfmc: error: %s\n", e.msg);
		free(text);
		return EXIT_ERRORS;
	}
	if (o->decode) {
		char *out;
		size_t out_len;
		if (parse_ids(text, in ? in : "standard input", &ids, &n, &e) == 0
		    && tfm_tokenizer_decode(t, ids, n, o->special ? TFM_DECODE_SKIP_SPECIAL : 0, &out, &out_len,
		                            &e) == 0) {
			rc = fwrite(out, 1, out_len, stdout) == out_len ? EXIT_OK : EXIT_ERRORS;
			free(out);
		} else {
			fprintf(stderr, "tfmc: error: %s\n", e.msg);
		}
	} else if (tfm_tokenizer_encode(t, text, len, o->special, &ids, &n, &e) == 0) {
		for (size_t i = 0; i < n; i++)
			printf(i ? ",%d" : "%d", ids[i]);
		printf("\n");
		rc = EXIT_OK;
	} else {
		fprintf(stderr, "tfmc: error: %s%s\n", in ? "" : "standard input: ", e.msg);
	}
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "tfmc: error: cannot write to standard output\n");
		rc = EXIT_ERRORS;
	}
	free(ids);
	free(text);
	tfm_tokenizer_close(t);
	return rc;
}

/* tfmc import SRC -o NAME.tfm [--max-seq N] [--tokenizer PATH] */
/* tfmc export SPEC [--weights W] [--weight-dtype T] -o model.gguf */
static int cmd_export(Options *o)
{
	Front fe;
	Program prog;
	tfm_error e;
	int rc;

	if (!o->output)
		return usage_error("%s", "export: no -o model.gguf");
	if ((rc = load_program(o, &fe, &prog, "export")) != 0) {
		front_free(&fe);
		return rc;
	}
	const char *opt = weights_option(o);
	const char *const *paths = opt ? &opt : (const char *const *)prog.weights;
	if (export_gguf(&prog, paths, opt ? 1 : prog.n_weights, o->tokenizer ? o->tokenizer : prog.tokenizer,
	                o->output, stderr, &e)) {
		fprintf(stderr, "tfmc: error: %s\n", e.msg);
		rc = EXIT_ERRORS;
	}
	ir_free(&prog);
	front_free(&fe);
	return rc;
}

static int cmd_import(Options *o)
{
	tfm_error e;
	ImportOptions io = { o->n_files == 1 ? o->files[0] : NULL, o->output, o->max_seq, o->tokenizer };

	if (o->n_files != 1)
		return usage_error("%s takes one source: a llama2.c .bin, a GGUF file or a Hugging Face folder", "import");
	if (!o->output)
		return usage_error("%s", "import: no -o NAME.tfm");
	if (import_run(&io, stderr, &e)) {
		fprintf(stderr, "tfmc: error: %s\n", e.msg);
		return EXIT_ERRORS;
	}
	return EXIT_OK;
}

static int cmd_explain(Options *o)
{
	const char *name;
	int w, k;

	if (o->n_files != 1)
		return usage_error("%s takes one name: a warning or a key", "explain");
	name = o->files[0];
	if (strncmp(name, "-W", 2) == 0)
		name += 2;
	if ((w = warning_lookup(name, (int)strlen(name))) >= 0) {
		const WarningInfo *wi = &warning_info[w];
		printf("-W%s: %s\n\n%s.\n\n%s; silence it in a spec with 'allow %s', or with -Wno-%s.\n",
		       wi->name, wi->summary, wi->rule,
		       wi->on ? "On by default" : "A style warning, off by default and on with -Wall",
		       wi->name, wi->name);
		return EXIT_OK;
	}
	if ((k = key_lookup(name, (int)strlen(name))) >= 0) {
		const KeyInfo *ki = &key_info[k];
		static const char *types[] = { "integer", "number", "true or false", "one of" };
		printf("%s: %s\n\ntype: %s", ki->name, ki->meaning, types[ki->type]);
		for (int i = 0; i < CHOICE__COUNT; i++)
			if (choice_info[i].key == k)
				printf(" %s", choice_info[i].word);
		printf("\ndefault: %s\n", ki->deftext);
		return EXIT_OK;
	}
	const char *near = warning_nearest(name, (int)strlen(name));
	if (!near)
		near = key_nearest(name, (int)strlen(name));
	fprintf(stderr, "tfmc: error: no warning or key named '%s'", name);
	if (near)
		fprintf(stderr, "; did you mean '%s'?", near);
	fprintf(stderr, "\n");
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	Options o;
	int rc;

	memset(&o, 0, sizeof o);
	o.weight_dtype = -1;
	diag_init(&o.diags);
	/* compare: its own command line (compare.c), --help included. */
	if (argc > 1 && strcmp(argv[1], "compare") == 0)
		return compare_main(argc - 1, argv + 1);
	/* train, grad and eval SPEC --help: the trainer's own usage. */
	int own = argc > 1 && is_train_command(argv[1]) ? 3 : argc;
	for (int i = 1; i < argc && i < own; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return EXIT_OK;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("tfmc %s\n", TFM_VERSION);
			return EXIT_OK;
		}
	}
	if ((rc = parse_args(&o, argc, argv)) != 0)
		return rc;
	if (!o.command) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(o.command, "check") == 0)
		rc = cmd_check(&o);
	else if (strcmp(o.command, "show") == 0)
		rc = cmd_show(&o);
	else if (strcmp(o.command, "explain") == 0)
		rc = cmd_explain(&o);
	else if (strcmp(o.command, "build") == 0)
		rc = cmd_build(&o);
	else if (strcmp(o.command, "run") == 0)
		rc = cmd_run(&o);
	else if (strcmp(o.command, "init") == 0)
		rc = cmd_init(&o);
	else if (strcmp(o.command, "import") == 0)
		rc = cmd_import(&o);
	else if (strcmp(o.command, "export") == 0)
		rc = cmd_export(&o);
	else if (strcmp(o.command, "tokenize") == 0)
		rc = cmd_tokenize(&o);
	else if (is_train_command(o.command))
		rc = cmd_train(&o);
	else if (o.output || strstr(o.command, ".tfm")) {
		/* tfmc SPEC -o model.c */
		memmove(o.files + 1, o.files, sizeof o.files[0] * (size_t)o.n_files);
		o.files[0] = o.command;
		o.n_files++;
		rc = cmd_emit(&o);
	} else
		rc = usage_error("unknown command '%s'", o.command);
	diag_free(&o.diags);
	return rc;
}
