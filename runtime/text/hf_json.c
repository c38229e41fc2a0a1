/* hf_json.c: reading a Hugging Face tokenizer.json (with cJSON) into the
 * structures of tok_internal.h.  Every problem is an error naming the file,
 * the field (as a path: model.merges[3]) and what is wrong with it.
 *
 * What is read, as Hugging Face reads it:
 *   model           BPE only: vocab, merges ("a b" strings or [a, b] pairs;
 *                   a name not in the vocabulary is an error), unk_token,
 *                   fuse_unk, byte_fallback, ignore_merges,
 *                   continuing_subword_prefix, end_of_word_suffix
 *   added_tokens    added as AddedVocabulary::add_tokens does, in order: a
 *                   token's id is the vocabulary's id for its content when
 *                   there is one, else the next free id past the vocabulary
 *                   (the "id" field only warns in Hugging Face, and is not
 *                   used here either)
 *   normalizer, pre_tokenizer, post_processor, decoder  (see normalize.c,
 *                   pretok.c, decode.c; post_processor: TemplateProcessing's
 *                   single template, ByteLevel, RobertaProcessing,
 *                   BertProcessing, Sequence)
 * Ignored: truncation and padding (ids are never cut or padded here), BPE
 * dropout (the ids are those of dropout 0), "version" other than "1.0" is
 * an error as in Hugging Face.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

typedef struct jctx {
	tfm_tokenizer *t;
	tfm_error *e;
} jctx;

static int jerr(jctx *c, const char *where, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 3, 4)))
#endif
	;

static int jerr(jctx *c, const char *where, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return tfm_fail(c->e, "%s: %s: %s", c->t->name, where, msg);
}

static const char *jtype(const cJSON *x)
{
	if (cJSON_IsString(x))
		return "a string";
	if (cJSON_IsNumber(x))
		return "a number";
	if (cJSON_IsBool(x))
		return "a boolean";
	if (cJSON_IsNull(x))
		return "null";
	if (cJSON_IsArray(x))
		return "an array";
	return "an object";
}

/* where.key, in buf. */
static const char *jpath(char *buf, size_t n, const char *where, const char *key)
{
	snprintf(buf, n, "%s%s%s", where, *where ? "." : "", key);
	return buf;
}

static const cJSON *jget(const cJSON *obj, const char *key)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsNull(x) ? NULL : x;
}

/* A string field, or NULL when absent or null (an error when required). */
static int jstr(jctx *c, const cJSON *obj, const char *key, const char *where, int required,
                const char **out)
{
	const cJSON *x = jget(obj, key);
	char p[256];

	*out = NULL;
	if (x == NULL)
		return required ? jerr(c, jpath(p, sizeof p, where, key), "missing") : 0;
	if (!cJSON_IsString(x))
		return jerr(c, jpath(p, sizeof p, where, key), "expected a string, got %s", jtype(x));
	*out = x->valuestring;
	return 0;
}

static int jbool(jctx *c, const cJSON *obj, const char *key, const char *where, int dflt, int *out)
{
	const cJSON *x = jget(obj, key);
	char p[256];

	*out = dflt;
	if (x == NULL)
		return 0;
	if (!cJSON_IsBool(x))
		return jerr(c, jpath(p, sizeof p, where, key), "expected true or false, got %s",
		            jtype(x));
	*out = cJSON_IsTrue(x);
	return 0;
}

/* An integer in [lo, hi] held by x; path names it. */
static int jint_of(jctx *c, const cJSON *x, const char *path, double lo, double hi, int *out)
{
	double v;

	if (!cJSON_IsNumber(x))
		return jerr(c, path, "expected an integer, got %s", jtype(x));
	v = x->valuedouble;
	if (!isfinite(v) || v != floor(v))
		return jerr(c, path, "expected an integer, got %g", v);
	if (v < lo || v > hi)
		return jerr(c, path, "%.0f is outside [%.0f, %.0f]", v, lo, hi);
	*out = (int)v;
	return 0;
}

static int jint(jctx *c, const cJSON *obj, const char *key, const char *where, int dflt,
                double lo, double hi, int *out)
{
	const cJSON *x = jget(obj, key);
	char p[256];

	*out = dflt;
	return x == NULL ? 0 : jint_of(c, x, jpath(p, sizeof p, where, key), lo, hi, out);
}

static int jobject(jctx *c, const cJSON *x, const char *where)
{
	return cJSON_IsObject(x) ? 0 : jerr(c, where, "expected an object, got %s", jtype(x));
}

static int jarray(jctx *c, const cJSON *obj, const char *key, const char *where, int required,
                  const cJSON **out)
{
	const cJSON *x = jget(obj, key);
	char p[256];

	*out = NULL;
	if (x == NULL)
		return required ? jerr(c, jpath(p, sizeof p, where, key), "missing") : 0;
	if (!cJSON_IsArray(x))
		return jerr(c, jpath(p, sizeof p, where, key), "expected an array, got %s", jtype(x));
	*out = x;
	return 0;
}

/* The "type" of a component. */
static int jtypename(jctx *c, const cJSON *x, const char *where, const char **type)
{
	if (jobject(c, x, where) != 0)
		return -1;
	return jstr(c, x, "type", where, 1, type);
}

static int jdup(jctx *c, const char *s, size_t len, char **out)
{
	if ((*out = malloc(len + 1)) == NULL)
		return tok_oom(c->e);
	memcpy(*out, s, len);
	(*out)[len] = '\0';
	return 0;
}

/* One character (a Rust char field). */
static int jchar(jctx *c, const cJSON *obj, const char *key, const char *where, int32_t dflt,
                 int32_t *out)
{
	const char *s;
	size_t n, k;
	char p[256];

	*out = dflt;
	if (jstr(c, obj, key, where, 0, &s) != 0)
		return -1;
	if (s == NULL)
		return 0;
	n = strlen(s);
	k = n > 0 ? tok_utf8_next(s, n, out) : 0;
	if (n == 0 || k != n)
		return jerr(c, jpath(p, sizeof p, where, key), "expected one character, got \"%s\"", s);
	return 0;
}

/* A pattern: {"String": s} or {"Regex": r}. */
static int jpattern(jctx *c, const cJSON *obj, const char *where, tok_regex **re)
{
	const cJSON *x = jget(obj, "pattern");
	const char *s;
	char p[256], q[300];

	jpath(p, sizeof p, where, "pattern");
	if (x == NULL)
		return jerr(c, p, "missing");
	if (jobject(c, x, p) != 0)
		return -1;
	if (cJSON_GetObjectItemCaseSensitive(x, "String") != NULL) {
		if (jstr(c, x, "String", p, 1, &s) != 0)
			return -1;
		snprintf(q, sizeof q, "%s: %s.String", c->t->name, p);
		return tok_regex_new(re, s, strlen(s), 1, q, c->e);
	}
	if (cJSON_GetObjectItemCaseSensitive(x, "Regex") != NULL) {
		if (jstr(c, x, "Regex", p, 1, &s) != 0)
			return -1;
		snprintf(q, sizeof q, "%s: %s.Regex", c->t->name, p);
		return tok_regex_new(re, s, strlen(s), 0, q, c->e);
	}
	return jerr(c, p, "expected {\"String\": ...} or {\"Regex\": ...}");
}

static int jprepend(jctx *c, const cJSON *x, const char *where, int *out)
{
	const char *s;
	int aps;
	char p[256];

	if (jstr(c, x, "prepend_scheme", where, 0, &s) != 0)
		return -1;
	if (s == NULL) {	/* the older form */
		if (jbool(c, x, "add_prefix_space", where, 1, &aps) != 0)
			return -1;
		*out = aps ? TOK_PREPEND_ALWAYS : TOK_PREPEND_NEVER;
		return 0;
	}
	if (strcmp(s, "always") == 0)
		*out = TOK_PREPEND_ALWAYS;
	else if (strcmp(s, "first") == 0)
		*out = TOK_PREPEND_FIRST;
	else if (strcmp(s, "never") == 0)
		*out = TOK_PREPEND_NEVER;
	else
		return jerr(c, jpath(p, sizeof p, where, "prepend_scheme"),
		            "\"%s\" is not one of always, first, never", s);
	return 0;
}

/* ---- The model ------------------------------------------------------------- */

int tok_set_piece(tfm_tokenizer *t, int id, const char *s, size_t len)
{
	size_t *off;
	uint32_t *plen;
	unsigned char *sp;
	int n, i;

	if (id >= t->n_vocab) {
		n = t->n_vocab ? t->n_vocab : 256;
		while (n <= id)
			n = n > TOK_MAX_ID / 2 ? TOK_MAX_ID + 1 : n * 2;
		if ((off = realloc(t->piece_off, (size_t)n * sizeof *off)) == NULL)
			return -1;
		t->piece_off = off;
		if ((plen = realloc(t->piece_len, (size_t)n * sizeof *plen)) == NULL)
			return -1;
		t->piece_len = plen;
		if ((sp = realloc(t->special, (size_t)n)) == NULL)
			return -1;
		t->special = sp;
		for (i = t->n_vocab; i < n; i++) {
			t->piece_len[i] = UINT32_MAX;
			t->special[i] = 0;
		}
		t->n_vocab = n;	/* trimmed to the largest id in tok_finish */
	}
	t->piece_off[id] = t->pieces.len;
	t->piece_len[id] = (uint32_t)len;
	return tok_buf_add(&t->pieces, s, len);
}

int tok_token_id(const tfm_tokenizer *t, const char *s, size_t len)
{
	int id = tok_map_get(&t->added_ids, s, len);
	return id >= 0 ? id : tok_map_get(&t->bpe.vocab, s, len);
}

/* The id of model.merges[i]'s token s[len], or -1 with a message. */
static int jvocab_id(jctx *c, const char *s, size_t len, size_t i)
{
	int id = tok_map_get(&c->t->bpe.vocab, s, len);
	char where[64];

	if (id < 0) {
		snprintf(where, sizeof where, "model.merges[%zu]", i);
		return jerr(c, where, "\"%.*s\" is not in the vocabulary", (int)(len > 100 ? 100 : len), s);
	}
	return id;
}

static int jmerges(jctx *c, const cJSON *merges)
{
	tok_bpe *m = &c->t->bpe;
	const cJSON *x;
	char where[64];
	tok_buf cat = { 0 };
	const char *a, *b, *sp;
	size_t la, lb, i = 0;
	uint32_t rank = 0;
	int ia, ib, ic;

	for (x = merges->child; x != NULL; x = x->next, i++) {
		if (cJSON_IsString(x)) {
			a = x->valuestring;
			if (strncmp(a, "#version", 8) == 0)
				continue;	/* a merges.txt header, as Hugging Face skips it */
			if ((sp = strchr(a, ' ')) == NULL || strchr(sp + 1, ' ') != NULL)
				goto bad;
			la = (size_t)(sp - a);
			b = sp + 1;
			lb = strlen(b);
		} else if (cJSON_IsArray(x) && cJSON_GetArraySize(x) == 2 &&
		           cJSON_IsString(x->child) && cJSON_IsString(x->child->next)) {
			a = x->child->valuestring;
			la = strlen(a);
			b = x->child->next->valuestring;
			lb = strlen(b);
		} else {
			goto bad;
		}
		if ((ia = jvocab_id(c, a, la, i)) < 0 || (ib = jvocab_id(c, b, lb, i)) < 0)
			goto fail;
		if (lb < m->prefix_len) {
			snprintf(where, sizeof where, "model.merges[%zu]", i);
			jerr(c, where, "\"%s\" is shorter than continuing_subword_prefix", b);
			goto fail;
		}
		cat.len = 0;
		if (tok_buf_add(&cat, a, la) != 0 ||
		    tok_buf_add(&cat, b + m->prefix_len, lb - m->prefix_len) != 0) {
			tok_oom(c->e);
			goto fail;
		}
		if ((ic = jvocab_id(c, cat.p, cat.len, i)) < 0)
			goto fail;
		if (tok_pair_set(&m->merges, ia, ib, rank++, ic) != 0) {
			tok_oom(c->e);
			goto fail;
		}
	}
	tok_buf_free(&cat);
	return 0;
bad:
	snprintf(where, sizeof where, "model.merges[%zu]", i);
	jerr(c, where, "expected \"a b\" or [\"a\", \"b\"], got %s", jtype(x));
fail:
	tok_buf_free(&cat);
	return -1;
}

static int jmodel(jctx *c, const cJSON *model)
{
	tfm_tokenizer *t = c->t;
	tok_bpe *m = &t->bpe;
	const cJSON *vocab, *merges, *x;
	const char *type, *s;
	char where[160], key[16];
	int id, b;

	if (model == NULL)
		return jerr(c, "model", "missing");
	if (jobject(c, model, "model") != 0 || jstr(c, model, "type", "model", 0, &type) != 0)
		return -1;
	if (type != NULL && strcmp(type, "BPE") != 0)
		return jerr(c, "model.type", "\"%s\" is not supported: only BPE models are", type);
	vocab = jget(model, "vocab");
	if (vocab == NULL)
		return jerr(c, "model.vocab", "missing");
	if (jobject(c, vocab, "model.vocab") != 0 || jarray(c, model, "merges", "model", 1, &merges) != 0)
		return -1;
	if (jstr(c, model, "unk_token", "model", 0, &s) != 0 ||
	    (s != NULL && jdup(c, s, strlen(s), &m->unk) != 0))
		return -1;
	if (jstr(c, model, "continuing_subword_prefix", "model", 0, &s) != 0 ||
	    (s != NULL && jdup(c, s, m->prefix_len = strlen(s), &m->prefix) != 0))
		return -1;
	if (jstr(c, model, "end_of_word_suffix", "model", 0, &s) != 0 ||
	    (s != NULL && jdup(c, s, m->suffix_len = strlen(s), &m->suffix) != 0))
		return -1;
	if (jbool(c, model, "fuse_unk", "model", 0, &m->fuse_unk) != 0 ||
	    jbool(c, model, "byte_fallback", "model", 0, &m->byte_fallback) != 0 ||
	    jbool(c, model, "ignore_merges", "model", 0, &m->ignore_merges) != 0)
		return -1;
	x = jget(model, "dropout");
	if (x != NULL && !cJSON_IsNumber(x))
		return jerr(c, "model.dropout", "expected a number, got %s", jtype(x));
	if (tok_map_reserve(&m->vocab, (size_t)cJSON_GetArraySize(vocab)) != 0 ||
	    tok_pair_reserve(&m->merges, (size_t)cJSON_GetArraySize(merges)) != 0)
		return tok_oom(c->e);
	for (x = vocab->child; x != NULL; x = x->next) {
		double v = x->valuedouble;
		if (cJSON_IsNumber(x) && v >= 0 && v <= TOK_MAX_ID && v == (int)v) {
			id = (int)v;
		} else {	/* the message */
			snprintf(where, sizeof where, "model.vocab[\"%.100s\"]", x->string);
			return jint_of(c, x, where, 0, TOK_MAX_ID, &id);
		}
		if (tok_map_set(&m->vocab, x->string, strlen(x->string), id) != 0 ||
		    tok_set_piece(t, id, x->string, strlen(x->string)) != 0)
			return tok_oom(c->e);
	}
	m->n_entries = m->vocab.n;
	m->unk_id = m->unk != NULL ? tok_map_get(&m->vocab, m->unk, strlen(m->unk)) : -1;
	for (b = 0; b < 256; b++) {
		snprintf(key, sizeof key, "<0x%02X>", b);
		m->byte_id[b] = tok_map_get(&m->vocab, key, 6);
	}
	return jmerges(c, merges);
}

/* ---- Normalizers ------------------------------------------------------------ */

static tok_norm *jnew_norm(jctx *c, int type)
{
	tfm_tokenizer *t = c->t;
	tok_norm *p = realloc(t->norm, (size_t)(t->n_norm + 1) * sizeof *p);

	if (p == NULL) {
		tok_oom(c->e);
		return NULL;
	}
	t->norm = p;
	p += t->n_norm++;
	memset(p, 0, sizeof *p);
	p->type = type;
	return p;
}

static int jnormalizer(jctx *c, const cJSON *x, const char *where)
{
	static const struct { const char *name; int type; } simple[] = {
		{ "NFC", TOK_NORM_NFC }, { "NFD", TOK_NORM_NFD }, { "NFKC", TOK_NORM_NFKC },
		{ "NFKD", TOK_NORM_NFKD }, { "Lowercase", TOK_NORM_LOWERCASE },
		{ "StripAccents", TOK_NORM_STRIP_ACCENTS }, { "ByteLevel", TOK_NORM_BYTELEVEL },
	};
	const cJSON *list, *y;
	const char *type, *s;
	char sub[256];
	tok_norm *nm;
	size_t i;

	if (jtypename(c, x, where, &type) != 0)
		return -1;
	for (i = 0; i < sizeof simple / sizeof simple[0]; i++)
		if (strcmp(type, simple[i].name) == 0)
			return jnew_norm(c, simple[i].type) != NULL ? 0 : -1;
	if (strcmp(type, "Sequence") == 0) {
		if (jarray(c, x, "normalizers", where, 1, &list) != 0)
			return -1;
		for (i = 0, y = list->child; y != NULL; y = y->next, i++) {
			snprintf(sub, sizeof sub, "%s.normalizers[%zu]", where, i);
			if (jnormalizer(c, y, sub) != 0)
				return -1;
		}
		return 0;
	}
	if (strcmp(type, "Prepend") == 0) {
		if (jstr(c, x, "prepend", where, 1, &s) != 0 || (nm = jnew_norm(c, TOK_NORM_PREPEND)) == NULL)
			return -1;
		return jdup(c, s, nm->len = strlen(s), &nm->str);
	}
	if (strcmp(type, "Replace") == 0) {
		if (jstr(c, x, "content", where, 1, &s) != 0 || (nm = jnew_norm(c, TOK_NORM_REPLACE)) == NULL)
			return -1;
		if (jdup(c, s, nm->len = strlen(s), &nm->str) != 0)
			return -1;
		return jpattern(c, x, where, &nm->re);
	}
	if (strcmp(type, "Strip") == 0) {
		if ((nm = jnew_norm(c, TOK_NORM_STRIP)) == NULL)
			return -1;
		return jbool(c, x, "strip_left", where, 1, &nm->left) ||
		       jbool(c, x, "strip_right", where, 1, &nm->right) ? -1 : 0;
	}
	return jerr(c, jpath(sub, sizeof sub, where, "type"), "\"%s\" is not supported", type);
}

/* ---- Pre-tokenizers --------------------------------------------------------- */

static tok_pretok *jnew_pre(jctx *c, int type)
{
	tfm_tokenizer *t = c->t;
	tok_pretok *p = realloc(t->pre, (size_t)(t->n_pre + 1) * sizeof *p);

	if (p == NULL) {
		tok_oom(c->e);
		return NULL;
	}
	t->pre = p;
	p += t->n_pre++;
	memset(p, 0, sizeof *p);
	p->type = type;
	return p;
}

static int jbehavior(jctx *c, const cJSON *x, const char *where, int *out)
{
	static const char *const names[] = {
		[TOK_SPLIT_REMOVED] = "Removed", [TOK_SPLIT_ISOLATED] = "Isolated",
		[TOK_SPLIT_MERGED_PREV] = "MergedWithPrevious",
		[TOK_SPLIT_MERGED_NEXT] = "MergedWithNext", [TOK_SPLIT_CONTIGUOUS] = "Contiguous",
	};
	const char *s;
	char p[256];
	int i;

	if (jstr(c, x, "behavior", where, 1, &s) != 0)
		return -1;
	for (i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
		if (strcmp(s, names[i]) == 0) {
			*out = i;
			return 0;
		}
	return jerr(c, jpath(p, sizeof p, where, "behavior"),
	            "\"%s\" is not one of Removed, Isolated, MergedWithPrevious, MergedWithNext, "
	            "Contiguous", s);
}

static int jpretok(jctx *c, const cJSON *x, const char *where)
{
	const cJSON *list, *y;
	const char *type;
	char sub[256], q[300];
	tok_pretok *p;
	size_t i;
	int use_regex;

	if (jtypename(c, x, where, &type) != 0)
		return -1;
	if (strcmp(type, "Sequence") == 0) {
		if (jarray(c, x, "pretokenizers", where, 1, &list) != 0)
			return -1;
		for (i = 0, y = list->child; y != NULL; y = y->next, i++) {
			snprintf(sub, sizeof sub, "%s.pretokenizers[%zu]", where, i);
			if (jpretok(c, y, sub) != 0)
				return -1;
		}
		return 0;
	}
	if (strcmp(type, "Split") == 0) {
		if ((p = jnew_pre(c, TOK_PRE_SPLIT)) == NULL || jbehavior(c, x, where, &p->behavior) != 0 ||
		    jbool(c, x, "invert", where, 0, &p->invert) != 0)
			return -1;
		return jpattern(c, x, where, &p->re);
	}
	if (strcmp(type, "ByteLevel") == 0) {
		if ((p = jnew_pre(c, TOK_PRE_BYTELEVEL)) == NULL ||
		    jbool(c, x, "add_prefix_space", where, 1, &p->add_prefix_space) != 0 ||
		    jbool(c, x, "use_regex", where, 1, &use_regex) != 0)
			return -1;
		snprintf(q, sizeof q, "%s: %s (GPT-2's regex)", c->t->name, where);
		return use_regex ? tok_regex_new(&p->re, tok_gpt2_regex, strlen(tok_gpt2_regex), 0, q, c->e)
		                 : 0;
	}
	if (strcmp(type, "Metaspace") == 0) {
		if ((p = jnew_pre(c, TOK_PRE_METASPACE)) == NULL)
			return -1;
		return jchar(c, x, "replacement", where, 0x2581, &p->repl) ||
		       jprepend(c, x, where, &p->prepend) || jbool(c, x, "split", where, 1, &p->split)
		       ? -1 : 0;
	}
	if (strcmp(type, "Digits") == 0) {
		if ((p = jnew_pre(c, TOK_PRE_DIGITS)) == NULL)
			return -1;
		return jbool(c, x, "individual_digits", where, 0, &p->individual);
	}
	return jerr(c, jpath(sub, sizeof sub, where, "type"), "\"%s\" is not supported", type);
}

/* ---- Decoders ---------------------------------------------------------------- */

static tok_dec *jnew_dec(jctx *c, int type)
{
	tfm_tokenizer *t = c->t;
	tok_dec *p = realloc(t->dec, (size_t)(t->n_dec + 1) * sizeof *p);

	if (p == NULL) {
		tok_oom(c->e);
		return NULL;
	}
	t->dec = p;
	p += t->n_dec++;
	memset(p, 0, sizeof *p);
	p->type = type;
	return p;
}

static int jdecoder(jctx *c, const cJSON *x, const char *where)
{
	const cJSON *list, *y;
	const char *type, *s;
	char sub[256];
	tok_dec *d;
	size_t i;

	if (jtypename(c, x, where, &type) != 0)
		return -1;
	if (strcmp(type, "Sequence") == 0) {
		if (jarray(c, x, "decoders", where, 1, &list) != 0)
			return -1;
		for (i = 0, y = list->child; y != NULL; y = y->next, i++) {
			snprintf(sub, sizeof sub, "%s.decoders[%zu]", where, i);
			if (jdecoder(c, y, sub) != 0)
				return -1;
		}
		return 0;
	}
	if (strcmp(type, "ByteLevel") == 0)
		return jnew_dec(c, TOK_DEC_BYTELEVEL) != NULL ? 0 : -1;
	if (strcmp(type, "ByteFallback") == 0)
		return jnew_dec(c, TOK_DEC_BYTEFALLBACK) != NULL ? 0 : -1;
	if (strcmp(type, "Fuse") == 0)
		return jnew_dec(c, TOK_DEC_FUSE) != NULL ? 0 : -1;
	if (strcmp(type, "Strip") == 0) {
		if ((d = jnew_dec(c, TOK_DEC_STRIP)) == NULL)
			return -1;
		if (jget(x, "content") == NULL)
			return jerr(c, jpath(sub, sizeof sub, where, "content"), "missing");
		return jchar(c, x, "content", where, ' ', &d->ch) ||
		       jint(c, x, "start", where, 0, 0, 1e9, &d->start) ||
		       jint(c, x, "stop", where, 0, 0, 1e9, &d->stop) ? -1 : 0;
	}
	if (strcmp(type, "Replace") == 0) {
		if (jstr(c, x, "content", where, 1, &s) != 0 || (d = jnew_dec(c, TOK_DEC_REPLACE)) == NULL)
			return -1;
		if (jdup(c, s, d->len = strlen(s), &d->str) != 0)
			return -1;
		return jpattern(c, x, where, &d->re);
	}
	if (strcmp(type, "Metaspace") == 0) {
		if ((d = jnew_dec(c, TOK_DEC_METASPACE)) == NULL)
			return -1;
		return jchar(c, x, "replacement", where, 0x2581, &d->ch) ||
		       jprepend(c, x, where, &d->prepend) ? -1 : 0;
	}
	if (strcmp(type, "BPEDecoder") == 0) {
		if (jstr(c, x, "suffix", where, 0, &s) != 0 || (d = jnew_dec(c, TOK_DEC_BPE)) == NULL)
			return -1;
		if (s == NULL)
			s = "</w>";
		return jdup(c, s, d->len = strlen(s), &d->str);
	}
	return jerr(c, jpath(sub, sizeof sub, where, "type"), "\"%s\" is not supported", type);
}

/* ---- Added tokens -------------------------------------------------------------- */

/* As AddedVocabulary::add_tokens: a token's id is the vocabulary's for its
 * content, else max(added ids) + 1 once that reaches the vocabulary's size,
 * else the size (the number of entries, as Hugging Face counts it).  A
 * content added again takes the new flags (and stays special). */
static int jadded(jctx *c, const cJSON *list)
{
	tfm_tokenizer *t = c->t;
	const int V = (int)t->bpe.n_entries;
	const cJSON *x;
	const char *content;
	char where[64], p[96];
	tok_added a, *q;
	int i, max_id = -1, n_special = 0, dummy;
	size_t j = 0, len;

	for (x = list->child; x != NULL; x = x->next, j++) {
		snprintf(where, sizeof where, "added_tokens[%zu]", j);
		memset(&a, 0, sizeof a);
		if (jobject(c, x, where) != 0 || jstr(c, x, "content", where, 1, &content) != 0 ||
		    jint(c, x, "id", where, 0, 0, TOK_MAX_ID, &dummy) != 0 ||
		    jbool(c, x, "single_word", where, 0, &a.single_word) != 0 ||
		    jbool(c, x, "lstrip", where, 0, &a.lstrip) != 0 ||
		    jbool(c, x, "rstrip", where, 0, &a.rstrip) != 0 ||
		    jbool(c, x, "normalized", where, 1, &a.normalized) != 0 ||
		    jbool(c, x, "special", where, 0, &a.special) != 0)
			return -1;
		if (jget(x, "id") == NULL)
			return jerr(c, jpath(p, sizeof p, where, "id"), "missing");
		if ((len = strlen(content)) == 0)
			continue;	/* Hugging Face ignores an empty token */
		for (i = 0; i < t->n_added; i++)
			if (t->added[i].len == len && memcmp(t->added[i].content, content, len) == 0)
				break;
		if (i < t->n_added) {
			a.special |= t->added[i].special;
			a.content = t->added[i].content;
			a.len = len;
			a.id = t->added[i].id;
			t->added[i] = a;
			continue;
		}
		if ((a.id = tok_map_get(&t->bpe.vocab, content, len)) < 0)
			a.id = max_id < 0 ? V : (max_id >= V || V == 0) ? max_id + 1 : V;
		if (a.id > TOK_MAX_ID)
			return jerr(c, where, "too many tokens");
		if (a.id > max_id)
			max_id = a.id;
		if ((q = realloc(t->added, (size_t)(t->n_added + 1) * sizeof *q)) == NULL)
			return tok_oom(c->e);
		t->added = q;
		if (jdup(c, content, len, &a.content) != 0)
			return -1;
		a.len = len;
		t->added[t->n_added++] = a;
		if (tok_map_set(&t->added_ids, content, len, a.id) != 0 ||
		    tok_set_piece(t, a.id, content, len) != 0)
			return tok_oom(c->e);
	}
	/* The special tokens first, each group in its order (a stable split). */
	for (i = 0; i < t->n_added; i++) {
		if (!t->added[i].special)
			continue;
		a = t->added[i];
		memmove(&t->added[n_special + 1], &t->added[n_special],
		        (size_t)(i - n_special) * sizeof a);
		t->added[n_special++] = a;
	}
	return 0;
}

static int jtries(jctx *c)
{
	tfm_tokenizer *t = c->t;
	tok_buf nb = { 0 };
	int i;

	for (i = 0; i < t->n_added; i++) {
		tok_added *a = &t->added[i];
		if (a->special)
			t->special[a->id] = 1;
		if (!a->normalized) {
			if (tok_trie_add(&t->raw_trie, a->content, a->len, i) != 0)
				goto oom;
			continue;
		}
		/* A normalized token is found by its normalized form. */
		if (tok_normalize(t->norm, t->n_norm, a->content, a->len, &nb, c->e) != 0) {
			tok_buf_free(&nb);
			return -1;
		}
		if (tok_trie_add(&t->norm_trie, nb.p, nb.len, i) != 0)
			goto oom;
	}
	tok_buf_free(&nb);
	return 0;
oom:
	tok_buf_free(&nb);
	return tok_oom(c->e);
}

/* ---- Post-processors ------------------------------------------------------------ */

static int jcheck_id(jctx *c, int id, const char *where)
{
	if (id >= c->t->n_vocab || c->t->piece_len[id] == UINT32_MAX)
		return jerr(c, where, "id %d is not in the vocabulary", id);
	return 0;
}

/* TemplateProcessing's single template: the special tokens before $A into
 * pre, those after it into suf. */
static int jtemplate(jctx *c, const cJSON *x, const char *where, tok_ids *pre, tok_ids *suf)
{
	const cJSON *single, *specials, *y, *piece, *st, *ids, *z;
	const char *name;
	char sub[256], sub2[300];
	size_t i, k;
	int seen = 0, id;

	jpath(sub, sizeof sub, where, "single");
	if ((single = jget(x, "single")) == NULL)
		return jerr(c, sub, "missing");
	if (!cJSON_IsArray(single))
		return jerr(c, sub, "expected an array, got %s", jtype(single));
	specials = jget(x, "special_tokens");
	if (specials != NULL && jobject(c, specials, jpath(sub2, sizeof sub2, where, "special_tokens")))
		return -1;
	for (i = 0, y = single->child; y != NULL; y = y->next, i++) {
		snprintf(sub, sizeof sub, "%s.single[%zu]", where, i);
		if (jobject(c, y, sub) != 0)
			return -1;
		if ((piece = jget(y, "Sequence")) != NULL) {
			if (seen++)
				return jerr(c, sub, "a second sequence in the single template");
			continue;
		}
		if ((piece = jget(y, "SpecialToken")) == NULL)
			return jerr(c, sub, "expected {\"SpecialToken\": ...} or {\"Sequence\": ...}");
		snprintf(sub2, sizeof sub2, "%s.SpecialToken", sub);
		if (jobject(c, piece, sub2) != 0 || jstr(c, piece, "id", sub2, 1, &name) != 0)
			return -1;
		st = specials != NULL ? cJSON_GetObjectItemCaseSensitive(specials, name) : NULL;
		if (st == NULL)
			return jerr(c, sub2, "\"%s\" is not in %s.special_tokens", name, where);
		snprintf(sub2, sizeof sub2, "%s.special_tokens[\"%.100s\"]", where, name);
		if (jobject(c, st, sub2) != 0 || jarray(c, st, "ids", sub2, 1, &ids) != 0)
			return -1;
		for (k = 0, z = ids->child; z != NULL; z = z->next, k++) {
			char sub3[340];
			snprintf(sub3, sizeof sub3, "%s.ids[%zu]", sub2, k);
			if (jint_of(c, z, sub3, 0, TOK_MAX_ID, &id) != 0 || jcheck_id(c, id, sub3) != 0)
				return -1;
			if (tok_ids_push(seen ? suf : pre, id) != 0)
				return tok_oom(c->e);
		}
	}
	if (!seen)
		return jerr(c, jpath(sub, sizeof sub, where, "single"), "no {\"Sequence\": ...} in it");
	return 0;
}

/* RobertaProcessing / BertProcessing: cls $A sep, with cls and sep as
 * [token, id] pairs. */
static int jcls_sep(jctx *c, const cJSON *x, const char *where, const char *key, tok_ids *to)
{
	const cJSON *y = jget(x, key);
	char sub[256];
	int id;

	jpath(sub, sizeof sub, where, key);
	if (y == NULL)
		return jerr(c, sub, "missing");
	if (!cJSON_IsArray(y) || cJSON_GetArraySize(y) != 2 || !cJSON_IsString(y->child))
		return jerr(c, sub, "expected [token, id]");
	if (jint_of(c, y->child->next, sub, 0, TOK_MAX_ID, &id) != 0 || jcheck_id(c, id, sub) != 0)
		return -1;
	return tok_ids_push(to, id) != 0 ? tok_oom(c->e) : 0;
}

static int jpost(jctx *c, const cJSON *x, const char *where, tok_ids *pre, tok_ids *suf)
{
	const cJSON *list, *y;
	const char *type;
	char sub[256];
	tok_ids p = { 0 }, s = { 0 };
	size_t i;
	int rc = 0;

	if (jtypename(c, x, where, &type) != 0)
		return -1;
	if (strcmp(type, "ByteLevel") == 0)
		return 0;
	if (strcmp(type, "Sequence") == 0) {
		if (jarray(c, x, "processors", where, 1, &list) != 0)
			return -1;
		for (i = 0, y = list->child; y != NULL && rc == 0; y = y->next, i++) {
			snprintf(sub, sizeof sub, "%s.processors[%zu]", where, i);
			rc = jpost(c, y, sub, pre, suf);
		}
		return rc;
	}
	if (strcmp(type, "TemplateProcessing") == 0)
		rc = jtemplate(c, x, where, &p, &s);
	else if (strcmp(type, "RobertaProcessing") == 0 || strcmp(type, "BertProcessing") == 0)
		rc = jcls_sep(c, x, where, "cls", &p) || jcls_sep(c, x, where, "sep", &s);
	else
		rc = jerr(c, jpath(sub, sizeof sub, where, "type"), "\"%s\" is not supported", type);
	/* Each processor wraps what the ones before produced. */
	if (rc == 0 && (tok_ids_add(&p, pre->p, pre->n) != 0 || tok_ids_add(suf, s.p, s.n) != 0))
		rc = tok_oom(c->e);
	if (rc == 0) {
		pre->n = 0;
		if (tok_ids_add(pre, p.p, p.n) != 0)
			rc = tok_oom(c->e);
	}
	tok_ids_free(&p);
	tok_ids_free(&s);
	return rc;
}

/* ---- The file ------------------------------------------------------------------- */

static int jread(jctx *c, const cJSON *root)
{
	tfm_tokenizer *t = c->t;
	const cJSON *x, *list;
	const char *v;

	/* root is an object: tok_open_memory only sends text starting with '{'. */
	if (jstr(c, root, "version", "", 0, &v) != 0)
		return -1;
	if (v != NULL && strcmp(v, "1.0") != 0)
		return jerr(c, "version", "\"%s\" is not supported (only 1.0)", v);
	if (jmodel(c, jget(root, "model")) != 0)
		return -1;
	if ((x = jget(root, "normalizer")) != NULL && jnormalizer(c, x, "normalizer") != 0)
		return -1;
	if (jarray(c, root, "added_tokens", "", 0, &list) != 0 ||
	    (list != NULL && jadded(c, list) != 0))
		return -1;
	/* Trim the tables to the largest id. */
	while (t->n_vocab > 0 && t->piece_len[t->n_vocab - 1] == UINT32_MAX)
		t->n_vocab--;
	if (t->n_vocab == 0)
		return jerr(c, "model.vocab", "empty");
	if (jtries(c) != 0)
		return -1;
	if ((x = jget(root, "pre_tokenizer")) != NULL && jpretok(c, x, "pre_tokenizer") != 0)
		return -1;
	if ((x = jget(root, "post_processor")) != NULL &&
	    jpost(c, x, "post_processor", &t->prefix, &t->suffix) != 0)
		return -1;
	if ((x = jget(root, "decoder")) != NULL) {
		t->has_decoder = 1;
		if (jdecoder(c, x, "decoder") != 0)
			return -1;
	}
	return 0;
}

int tok_hf_read(tfm_tokenizer *t, const char *json, size_t len, tfm_error *e)
{
	jctx c = { t, e };
	const char *end = NULL;
	size_t bad = tok_utf8_check(json, len), line = 1, i, at;
	cJSON *root;
	int rc;

	if (bad < len)
		return tfm_fail(e, "%s: not UTF-8 at byte %zu", t->name, bad);
	root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
	if (root == NULL) {
		at = end != NULL && end >= json && end <= json + len ? (size_t)(end - json) : 0;
		for (i = 0; i < at; i++)
			line += json[i] == '\n';
		return tfm_fail(e, "%s: not valid JSON: line %zu, byte %zu", t->name, line, at);
	}
	for (i = (size_t)(end - json); i < len && json[i] != '\0' && strchr(" \t\r\n", json[i]); i++)
		;
	if (i < len) {
		cJSON_Delete(root);
		for (line = 1, at = 0; at < i; at++)
			line += json[at] == '\n';
		return tfm_fail(e, "%s: line %zu, byte %zu: text after the JSON", t->name, line, i);
	}
	t->kind = TOK_HF;
	rc = jread(&c, root);
	cJSON_Delete(root);
	return rc;
}
