/* import.c: `tfmc import SRC -o NAME.tfm`.
 *
 * Writes a spec that runs SRC's weights with its tokenizer: every key
 * spelled out, a comment saying where it came from, `weights` and
 * `tokenizer` lines pointing at the source's own files (relative to the
 * spec), and an `allow` line for each rule of thumb the model breaks.
 *
 * Nothing is copied that can be read as stored.  A llama2.c .bin, a GGUF
 * file (its quantized blocks too) and a Llama, Mistral, Qwen2 or Qwen3
 * folder are read in place, shards included; a GGUF file's byte-level BPE
 * vocabulary becomes a tokenizer folder beside the spec.  The tensors that must change (Gemma's norms, stored w for
 * 1 + w; GPT-2's Conv1D matrices, stored [in, out] with q, k and v fused)
 * go to NAME.converted.safetensors beside the spec, and its `weights` line
 * comes first, so that they override the originals.  The import then reads
 * the spec back, checks it, and binds every tensor as `tfmc run` will: an
 * import that succeeds is one that runs.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "import.h"
#include "build.h"
#include "check.h"
#include "ir.h"

#define MAX_CONFIG ((size_t)16 << 20)

/* ---- Paths ------------------------------------------------------------------ */

/* path as an absolute path, ".", ".." and repeated '/' folded. */
static int absolute(const char *path, char *out, size_t size)
{
	char cwd[PATH_MAX], tmp[2 * PATH_MAX], *parts[512], *save = NULL;
	int n = 0;
	size_t used = 0;

	if (path[0] == '/')
		snprintf(tmp, sizeof tmp, "%s", path);
	else if (!getcwd(cwd, sizeof cwd) || snprintf(tmp, sizeof tmp, "%s/%s", cwd, path) >= (int)sizeof tmp)
		return -1;
	for (char *p = strtok_r(tmp, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
		if (strcmp(p, ".") == 0)
			continue;
		if (strcmp(p, "..") == 0) {
			n -= n > 0;
			continue;
		}
		if (n == (int)(sizeof parts / sizeof parts[0]))
			return -1;
		parts[n++] = p;
	}
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		int k = snprintf(out + used, size - used, "/%s", parts[i]);
		if (k < 0 || (size_t)k >= size - used)
			return -1;
		used += (size_t)k;
	}
	if (n == 0)
		snprintf(out, size, "/");
	return 0;
}

/* The path of `to` from the directory `from`, both absolute. */
static void relative(const char *from, const char *to, char *out, size_t size)
{
	size_t common = 0, used = 0;

	/* The longest common prefix that ends at a '/' of both. */
	for (size_t i = 0; from[i] && from[i] == to[i]; i++)
		if (from[i + 1] == '\0' ? to[i + 1] == '/' || to[i + 1] == '\0' : from[i + 1] == '/' && to[i + 1] == '/')
			common = i + 1;
	out[0] = '\0';
	for (const char *p = from + common; *p; p++)
		if (*p == '/' && used + 4 < size) {
			memcpy(out + used, "../", 3);
			used += 3;
			out[used] = '\0';
		}
	snprintf(out + used, size - used, "%s", to[common] == '/' ? to + common + 1 : to + common);
	if (out[0] == '\0')
		snprintf(out, size, ".");
}

static int is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int exists(const char *path)
{
	return access(path, R_OK) == 0;
}

/* The model's name from NAME.tfm: a C identifier. */
static int model_name(const char *out, char *name, size_t size, tfm_error *e)
{
	const char *base = strrchr(out, '/') ? strrchr(out, '/') + 1 : out;
	size_t n = strlen(base) - 4, j = 0;
	const char *problem;

	if (n == 0 || n + 2 >= size)
		return tfm_fail(e, "-o %s: the file name gives no model name (at most %zu characters)", out,
		                size - 3);
	if (base[0] >= '0' && base[0] <= '9')
		name[j++] = 'm', name[j++] = '_';
	for (size_t i = 0; i < n; i++) {
		char c = base[i];
		name[j++] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ? c : '_';
	}
	name[j] = '\0';
	if ((problem = model_name_problem(name, (int)j)) != NULL)
		return tfm_fail(e, "-o %s: the model would be called '%s', which %s: choose another file name",
		                out, name, problem);
	return 0;
}

/* ---- Converting the tensors that cannot be read as stored ------------------ */

typedef struct Converted {
	tfm_tensor_decl decl[4096];
	void *data[4096];
	char *names[4096];
	int n;
	const char *what;	/* for the log: which conversions */
} Converted;

static void converted_free(Converted *c)
{
	for (int i = 0; i < c->n; i++) {
		free(c->data[i]);
		free(c->names[i]);
	}
	c->n = 0;
}

static size_t dtype_size(int dtype)
{
	return dtype == TFM_F32 ? 4 : 2;
}

static int add_converted(Converted *c, const char *key, int dtype, int ndim, size_t rows, size_t cols,
                         void *data, tfm_error *e)
{
	if (c->n == (int)(sizeof c->decl / sizeof c->decl[0]) || !(c->names[c->n] = strdup(key))) {
		free(data);
		return tfm_fail(e, "too many tensors to convert");
	}
	c->decl[c->n] = (tfm_tensor_decl){ c->names[c->n], ndim, { (long)rows, (long)cols }, dtype };
	c->data[c->n++] = data;
	return 0;
}

/* out[c][r] = in[r][c] for a [rows, cols] matrix of esize-byte elements,
 * columns c0..c0+n of it. */
static void transpose(unsigned char *out, const unsigned char *in, size_t rows, size_t cols, size_t c0,
                      size_t n, size_t esize)
{
	for (size_t c = 0; c < n; c++)
		for (size_t r = 0; r < rows; r++)
			memcpy(out + (c * rows + r) * esize, in + (r * cols + c0 + c) * esize, esize);
}

/* The converted form of tensor i of f (which tfm_hf_map gave op). */
static int convert_one(Converted *c, const tfm_file *f, int i, int op, const char *key, const Model *m,
                       tfm_error *e)
{
	tfm_tensor_info t;
	const char *L = tfm_file_label(f);

	tfm_file_info(f, i, &t);
	if (t.dtype >= TFM_FOREIGN)
		return tfm_fail(e, "%s: tensor '%.200s' has dtype %s: only F32, F16 and BF16 are supported", L,
		                t.name, tfm_dtype_name(t.dtype));
	size_t es = dtype_size(t.dtype);
	if (op == TFM_HF_PLUS_ONE) {
		float *w;
		if (t.ndim != 1)
			return tfm_fail(e, "%s: tensor '%.200s' has %d dimensions, expected a vector", L, t.name, t.ndim);
		if (!(w = malloc((t.nelem ? t.nelem : 1) * sizeof *w)))
			return tfm_fail(e, "out of memory");
		tfm_file_read_f32(f, i, w);
		for (size_t j = 0; j < t.nelem; j++)
			w[j] = 1.0f + w[j];
		c->what = "Gemma's norms as 1 + w";
		return add_converted(c, key, TFM_F32, 1, t.shape[0], 0, w, e);
	}
	if (op == TFM_HF_TRANSPOSE) {
		unsigned char *w;
		if (t.ndim != 2)
			return tfm_fail(e, "%s: tensor '%.200s' has %d dimensions, expected a matrix [in, out]", L,
			                t.name, t.ndim);
		if (!(w = malloc(t.nbytes ? t.nbytes : 1)))
			return tfm_fail(e, "out of memory");
		transpose(w, t.data, t.shape[0], t.shape[1], 0, t.shape[1], es);
		c->what = "GPT-2's Conv1D matrices transposed, c_attn split into q, k and v";
		return add_converted(c, key, t.dtype, 2, t.shape[1], t.shape[0], w, e);
	}
	/* SPLIT_QKV: [d, 3d] (or a bias [3d]) into q, k and v. */
	size_t d = (size_t)m->d_model;
	char kk[160];
	const char *kinds = "qkv";
	if ((t.ndim == 2 && (t.shape[0] != d || t.shape[1] != 3 * d)) || (t.ndim == 1 && t.shape[0] != 3 * d)
	    || t.ndim < 1 || t.ndim > 2)
		return tfm_fail(e, "%s: tensor '%.200s' has shape [%zu%s%zu], expected [%zu, %zu] (or [%zu] for the "
		                "bias): d_model (n_embd) %zu, then q, k and v", L, t.name, t.shape[0],
		                t.ndim == 2 ? ", " : "", t.ndim == 2 ? t.shape[1] : 0, d, 3 * d, 3 * d, d);
	for (int part = 0; part < 3; part++) {
		unsigned char *w = malloc(d * (t.ndim == 2 ? d : 1) * es);
		char *at;
		if (!w)
			return tfm_fail(e, "out of memory");
		if (t.ndim == 2)
			transpose(w, t.data, d, 3 * d, part * d, d, es);
		else
			memcpy(w, (const unsigned char *)t.data + part * d * es, d * es);
		snprintf(kk, sizeof kk, "%s", key);
		if ((at = strstr(kk, ".wq.")) != NULL)
			at[2] = kinds[part];
		if (add_converted(c, kk, t.dtype, t.ndim, d, t.ndim == 2 ? d : 0, w, e))
			return -1;
	}
	c->what = "GPT-2's Conv1D matrices transposed, c_attn split into q, k and v";
	return 0;
}

/* Every tensor of ck that cannot be read as stored, converted into c. */
static int convert_checkpoint(Converted *c, const tfm_hf_checkpoint *ck, const Model *m, tfm_error *e)
{
	char key[160];

	for (int k = 0; k < ck->n_files; k++)
		for (int i = 0; i < tfm_file_count(ck->files[k]); i++) {
			tfm_tensor_info t;
			tfm_file_info(ck->files[k], i, &t);
			int op = tfm_hf_map(ck->config.arch, ck->config.tied, t.name, key, sizeof key);
			if ((op == TFM_HF_PLUS_ONE || op == TFM_HF_TRANSPOSE || op == TFM_HF_SPLIT_QKV)
			    && convert_one(c, ck->files[k], i, op, key, m, e))
				return -1;
		}
	return 0;
}

/* ---- The spec ------------------------------------------------------------------ */

typedef struct Plan {
	Model m;
	char source[PATH_MAX];		/* the source as given */
	char from[1024];		/* what it is, for the comment */
	char weights[2][PATH_MAX];	/* absolute: the converted file, then the source */
	int n_weights;
	char tokenizer[PATH_MAX];	/* absolute, or empty */
} Plan;

/* The spec's text, with `allow` lines for the warnings in allows (one
 * "name message" per line) and the paths relative to dir. */
static char *spec_text(const Plan *p, const char *dir, const char *out, const char *allows)
{
	char *text = NULL, *keys = NULL, rel[PATH_MAX];
	size_t len = 0, klen = 0;
	FILE *f = open_memstream(&text, &len), *k;

	if (!f)
		return NULL;
	if (!(k = open_memstream(&keys, &klen))) {
		fclose(f);
		free(text);
		return NULL;
	}
	model_write_tfm(&p->m, k, "");
	fclose(k);
	fprintf(f, "# %s: imported by tfmc import from\n#   %s\n# %s.\n", out, p->source, p->from);
	fprintf(f, "# Every key is spelled out; each `allow` names a rule of thumb the model breaks.\n");
	/* model_write_tfm's first line opens the block, its last closes it. */
	char *body = strchr(keys, '\n'), *end = strrchr(keys, '}');
	fprintf(f, "%.*s\n", (int)(body - keys), keys);
	for (int i = 0; i < p->n_weights; i++) {
		relative(dir, p->weights[i], rel, sizeof rel);
		fprintf(f, "    weights   \"%s\"%s\n", rel,
		        i == 0 && p->n_weights > 1 ? "    # converted by tfmc import: read first" : "");
	}
	if (p->tokenizer[0]) {
		relative(dir, p->tokenizer, rel, sizeof rel);
		fprintf(f, "    tokenizer \"%s\"\n", rel);
	}
	fprintf(f, "\n%.*s", (int)(end - body - 1), body + 1);
	for (const char *a = allows; a && *a;) {
		const char *nl = strchr(a, '\n'), *sp = strchr(a, ' ');
		fprintf(f, "    allow %-16.*s# %.*s\n", (int)(sp - a), a, (int)(nl - sp - 1), sp + 1);
		a = nl + 1;
	}
	fprintf(f, "}\n");
	fclose(f);
	free(keys);
	return text;
}

/* Checks the spec text as tfmc check would; its warnings, "name message"
 * per line, go to *allows (malloc'ed).  Errors fail the import. */
static int check_spec(const char *path, const char *text, char **allows, tfm_error *e)
{
	Diags d;
	Front fe;
	Resolved r;
	size_t len = 0;
	FILE *f = open_memstream(allows, &len);
	int rc = 0;

	if (!f)
		return tfm_fail(e, "out of memory");
	diag_init(&d);
	front_init(&fe, &d);
	front_load_text(&fe, path, text, strlen(text));
	if (d.n_errors == 0)
		check_select(&fe, path, NULL, &r);
	for (const Diag *g = d.head; g; g = g->next) {
		if (g->sev == SEV_ERROR && !rc)
			rc = tfm_fail(e, "the imported model fails tfmc's checks: %s", g->msg);
		else if (g->sev == SEV_WARNING)
			fprintf(f, "%s %s\n", warning_info[g->warning].name, g->msg);
	}
	fclose(f);
	front_free(&fe);
	diag_free(&d);
	return rc;
}

/* Binds every tensor of the model from the plan's files, as tfmc run will,
 * without reading them. */
static int check_binds(const Plan *p, tfm_error *e)
{
	Program prog;
	tfm_tensor_decl *d;
	const char *paths[2] = { p->weights[0], p->weights[1] };
	int rc;

	if (ir_build(&p->m, DTYPE_F32, &prog))
		return tfm_fail(e, "out of memory");
	d = build_decls(&prog);
	rc = d ? tfm_weights_check(paths, p->n_weights, d, prog.n_tensors, e) : tfm_fail(e, "out of memory");
	free(d);
	ir_free(&prog);
	return rc;
}

/* The recorded tokenizer opens, and its ids are the model's. */
static int check_tokenizer(const Plan *p, tfm_error *e)
{
	tfm_tokenizer *t;
	int n;

	if (!p->tokenizer[0])
		return 0;
	if (tfm_tokenizer_open(&t, p->tokenizer, e))
		return -1;
	n = tfm_tokenizer_vocab(t);
	tfm_tokenizer_close(t);
	if (n > p->m.vocab)
		return tfm_fail(e, "%s: the tokenizer has %d ids, more than the model's vocab (%lld): is it the "
		                "model's tokenizer?", p->tokenizer, n, p->m.vocab);
	return 0;
}

/* Writes text to path through a temporary file, so a failure leaves no
 * half-written spec. */
static int write_file(const char *path, const char *text, tfm_error *e)
{
	char tmp[PATH_MAX + 16];
	FILE *f;

	snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid());
	if (!(f = fopen(tmp, "w")))
		return tfm_fail(e, "cannot write %s: %s", path, strerror(errno));
	int bad = fputs(text, f) == EOF;
	bad |= fclose(f) != 0;
	if (bad || rename(tmp, path) != 0) {
		remove(tmp);
		return tfm_fail(e, "cannot write %s: %s", path, strerror(errno));
	}
	return 0;
}

/* ---- Sources ---------------------------------------------------------------- */

/* 1 when path is a GGUF file. */
static int is_gguf(const char *path)
{
	unsigned char head[4] = { 0 };
	FILE *fp = fopen(path, "rb");

	if (fp) {
		if (fread(head, 1, sizeof head, fp) != sizeof head)
			memset(head, 0, sizeof head);
		fclose(fp);
	}
	return tfm_gguf_probe(head, sizeof head);
}

/* A GGUF file: read in place; its vocabulary, when tfmc reads it, written
 * as a tokenizer folder beside the spec (tok_dir). */
static int plan_gguf(Plan *p, const ImportOptions *o, const char *tok_dir, FILE *log, tfm_error *e)
{
	char notes[2048], why[256];
	tfm_gguf *g;
	int rc;

	if (tfm_gguf_open(&g, o->src, e))
		return -1;
	rc = import_gguf_config(g, o->src, o->max_seq, &p->m, notes, sizeof notes, e);
	for (char *n = notes, *nl; rc == 0 && *n && (nl = strchr(n, '\n')); n = nl + 1)
		fprintf(log, "tfmc: note: %s: metadata '%.*s' is not one tfmc knows; taken not to change the math\n",
		        o->src, (int)(nl - n), n);
	if (rc == 0 && !o->tokenizer) {
		rc = import_gguf_tokenizer(g, o->src, tok_dir, why, sizeof why, e);
		if (rc == 0 && absolute(tok_dir, p->tokenizer, sizeof p->tokenizer))
			rc = tfm_fail(e, "%s: path too long", tok_dir);
		else if (rc == 1) {
			fprintf(log, "tfmc: note: %s: no tokenizer recorded: %s; give --tokenizer to record one\n",
			        o->src, why);
			rc = 0;
		}
	}
	if (rc == 0) {
		const char *arch;
		size_t len;
		tfm_gguf_string(g, "general.architecture", &arch, &len);
		snprintf(p->from, sizeof p->from, "A GGUF file (version %u, architecture %.*s), read in place%s",
		         (unsigned)tfm_gguf_version(g), (int)(len < 40 ? len : 40), arch,
		         p->tokenizer[0] ? ";\n# its vocabulary written as the tokenizer folder beside the spec" : "");
	}
	tfm_gguf_close(g);
	if (rc)
		return -1;
	if (absolute(o->src, p->weights[p->n_weights++], PATH_MAX))
		return tfm_fail(e, "%s: path too long", o->src);
	if (o->tokenizer && absolute(o->tokenizer, p->tokenizer, sizeof p->tokenizer))
		return tfm_fail(e, "%s: path too long", o->tokenizer);
	return 0;
}

static int plan_llama2c(Plan *p, const ImportOptions *o, FILE *log, tfm_error *e)
{
	tfm_llama2c_config c;
	tfm_file *f;
	char tok[PATH_MAX];

	if (tfm_llama2c_open(&f, &c, o->src, e))
		return -1;
	tfm_file_close(f);
	if (import_llama2c_config(&c, o->src, o->max_seq, &p->m, e))
		return -1;
	snprintf(p->from, sizeof p->from, "A llama2.c checkpoint, version %d, read in place", c.version);
	if (absolute(o->src, p->weights[p->n_weights++], PATH_MAX))
		return tfm_fail(e, "%s: path too long", o->src);
	/* llama2.c keeps its tokenizer.bin beside the model. */
	const char *tp = o->tokenizer;
	if (!tp) {
		const char *slash = strrchr(o->src, '/');
		snprintf(tok, sizeof tok, "%.*stokenizer.bin", slash ? (int)(slash - o->src + 1) : 0, o->src);
		if (exists(tok))
			tp = tok;
		else
			fprintf(log, "tfmc: note: no tokenizer.bin beside %s: give --tokenizer to record one\n",
			        o->src);
	}
	if (tp && absolute(tp, p->tokenizer, sizeof p->tokenizer))
		return tfm_fail(e, "%s: path too long", tp);
	return 0;
}

static int plan_hf(Plan *p, const ImportOptions *o, const char *conv_path, Converted *conv,
                   FILE *log, tfm_error *e)
{
	char cfg[PATH_MAX + 16], notes[2048], *text, tj[PATH_MAX + 16];
	size_t len;
	int arch, rc;
	tfm_hf_checkpoint ck;

	snprintf(cfg, sizeof cfg, "%s/config.json", o->src);
	if (!exists(cfg))
		return tfm_fail(e, "%s: not a llama2.c .bin, and no config.json in it: not a Hugging Face "
		                "checkpoint folder", o->src);
	if (tfm_read_text(cfg, MAX_CONFIG, "a config.json has", &text, &len, e))
		return -1;
	rc = import_hf_config(text, len, cfg, o->max_seq, &p->m, &arch, notes, sizeof notes, e);
	free(text);
	if (rc)
		return -1;
	for (char *n = notes, *nl; *n && (nl = strchr(n, '\n')); n = nl + 1)
		fprintf(log, "tfmc: note: %s: field \"%.*s\" is not one tfmc knows; taken not to change the math\n",
		        cfg, (int)(nl - n), n);
	if (tfm_hf_open(&ck, o->src, e))
		return -1;
	if (ck.config.arch != arch) {
		tfm_hf_close(&ck);
		return tfm_fail(e, "%s: changed while it was read", cfg);
	}
	rc = convert_checkpoint(conv, &ck, &p->m, e);
	snprintf(p->from, sizeof p->from, "A Hugging Face %s checkpoint, %d safetensors file%s read in place%s",
	         tfm_hf_arch_name[arch], ck.n_files, ck.n_files == 1 ? "" : "s",
	         conv->n ? ";\n# the tensors that must change converted into the first weights file" : "");
	tfm_hf_close(&ck);
	if (rc)
		return -1;
	if (conv->n && absolute(conv_path, p->weights[p->n_weights++], PATH_MAX))
		return tfm_fail(e, "%s: path too long", conv_path);
	if (absolute(o->src, p->weights[p->n_weights++], PATH_MAX))
		return tfm_fail(e, "%s: path too long", o->src);
	snprintf(tj, sizeof tj, "%s/tokenizer.json", o->src);
	if (o->tokenizer) {
		if (absolute(o->tokenizer, p->tokenizer, sizeof p->tokenizer))
			return tfm_fail(e, "%s: path too long", o->tokenizer);
	} else if (exists(tj)) {
		/* The folder: its tokenizer_config.json and config.json say BOS and EOS. */
		if (absolute(o->src, p->tokenizer, sizeof p->tokenizer))
			return tfm_fail(e, "%s: path too long", o->src);
	} else {
		fprintf(log, "tfmc: note: no tokenizer.json in %s: give --tokenizer to record one\n", o->src);
	}
	return 0;
}

/* import_run with a zeroed plan p and no converted tensors in conv. */
static int import_into(const ImportOptions *o, Plan *p, Converted *conv, FILE *log, tfm_error *e)
{
	char out_abs[PATH_MAX], dir[PATH_MAX], conv_path[PATH_MAX + 32], tok_dir[PATH_MAX + 32], name[64];
	char *text = NULL, *allows = NULL;
	size_t n = strlen(o->out);
	int rc = -1;

	if (n < 5 || strcmp(o->out + n - 4, ".tfm") != 0)
		return tfm_fail(e, "-o %s: the spec must be a .tfm file", o->out);
	if (o->max_seq < 0)
		return tfm_fail(e, "--max-seq must be positive");
	if (access(o->src, R_OK) != 0)
		return tfm_fail(e, "%s: %s", o->src, strerror(errno));
	if (absolute(o->out, out_abs, sizeof out_abs))
		return tfm_fail(e, "%s: path too long", o->out);
	snprintf(dir, sizeof dir, "%s", out_abs);
	*strrchr(dir, '/') = '\0';
	if (!dir[0])
		strcpy(dir, "/");
	if (model_name(o->out, name, sizeof name, e))
		return -1;
	snprintf(conv_path, sizeof conv_path, "%.*s.converted.safetensors", (int)(n - 4), o->out);

	snprintf(p->source, sizeof p->source, "%s", o->src);
	snprintf(tok_dir, sizeof tok_dir, "%.*s.tokenizer", (int)(n - 4), o->out);
	if (is_dir(o->src))
		rc = plan_hf(p, o, conv_path, conv, log, e);
	else if (is_gguf(o->src))
		rc = plan_gguf(p, o, tok_dir, log, e);
	else
		rc = plan_llama2c(p, o, log, e);
	if (rc)
		return -1;
	snprintf(p->m.name, sizeof p->m.name, "%s", name);
	rc = -1;
	if (conv->n && tfm_file_write(conv_path, conv->decl, conv->n, (const void *const *)conv->data, e))
		goto done;
	/* Once without allows to find the warnings, then the spec itself. */
	if (!(text = spec_text(p, dir, o->out, NULL)) || check_spec(o->out, text, &allows, e))
		goto done;
	free(text);
	if (!(text = spec_text(p, dir, o->out, allows)) || check_binds(p, e) || check_tokenizer(p, e)
	    || write_file(o->out, text, e))
		goto done;
	if (conv->n)
		fprintf(log, "tfmc: wrote %s: %d tensors converted (%s)\n", conv_path, conv->n, conv->what);
	fprintf(log, "tfmc: wrote %s: model %s, from %s\n", o->out, p->m.name, o->src);
	rc = 0;
done:
	if (rc && conv->n)
		remove(conv_path);
	free(text);
	free(allows);
	return rc;
}

int import_run(const ImportOptions *o, FILE *log, tfm_error *e)
{
	Converted *conv = calloc(1, sizeof *conv);
	Plan *p = calloc(1, sizeof *p);
	int rc = conv && p ? import_into(o, p, conv, log, e) : tfm_fail(e, "out of memory");

	if (conv)
		converted_free(conv);
	free(conv);
	free(p);
	return rc;
}
