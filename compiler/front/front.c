/* front.c: reading .tfm files, driving the lexer and parser, and the ast_
 * builders the grammar calls.  Every allocation of a run hangs off the
 * Front and is freed with it. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ast.h"
#include "parse.h"

#define MAX_FILE_SIZE (64u << 20)	/* a spec larger than this is not a spec */
#define MAX_INCLUDE_DEPTH 16

typedef struct Block {
	struct Block *next;
	max_align_t data[];
} Block;

static void *fe_alloc(Front *fe, size_t size)
{
	Block *b = calloc(1, sizeof *b + size);
	if (!b)
		abort();
	b->next = fe->blocks;
	fe->blocks = b;
	return b->data;
}

static char *fe_strndup(Front *fe, const char *s, size_t n)
{
	char *p = fe_alloc(fe, n + 1);
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

void front_init(Front *fe, Diags *d)
{
	memset(fe, 0, sizeof *fe);
	fe->diags = d;
	fe->models_tail = &fe->models;
}

void front_free(Front *fe)
{
	for (Block *b = fe->blocks, *next; b; b = next) {
		next = b->next;
		free(b);
	}
	memset(fe, 0, sizeof *fe);
}

ModelDecl *front_find(Front *fe, const char *name)
{
	for (ModelDecl *m = fe->models; m; m = m->next)
		if (strcmp(m->name, name) == 0)
			return m;
	return NULL;
}

/* ---- Driving the parser ------------------------------------------------- */

static void parse_source(Front *fe, const Source *src)
{
	ParseCtx ctx = { fe, src, NULL, { 0 }, 0, 0 };
	Lexer lx;
	Token t;
	void *p = ParseAlloc(malloc, &ctx);

	if (!p)
		abort();
	lex_init(&lx, src);
	do {
		lex_next(&lx, &t);
		if (t.type == TK_ILLEGAL) {
			if (t.error[0] == 's' && t.len == 1) /* stray character */
				diag_error(fe->diags, t.loc, "stray '%s' in spec",
				           (unsigned char)t.text[0] >= 32 && (unsigned char)t.text[0] < 127
				           ? (char[]){ t.text[0], 0 } : "\\x??");
			else
				diag_error(fe->diags, t.loc, "%s", t.error);
			break;
		}
		Parse(p, t.type, t);
		if (t.type == TK_LBRACE || t.type == TK_RBRACE)
			ctx.open = t.type == TK_LBRACE;
		ctx.prev = t;
	} while (t.type != 0 && !ctx.failed);
	ParseFree(p, free);
}

void front_load_text(Front *fe, const char *path, const char *text, size_t len)
{
	Source *src = fe_alloc(fe, sizeof *src);

	src->path = fe_strndup(fe, path, strlen(path));
	src->text = fe_strndup(fe, text, len);
	src->len = len;
	src->next = fe->sources;
	fe->sources = src;
	parse_source(fe, src);
}

/* Reads a whole file into memory; NULL and errno on failure. */
static char *read_file(const char *path, size_t *len)
{
	/* O_NONBLOCK: opening a FIFO must not wait for a writer. */
	int fd = open(path, O_RDONLY | O_NONBLOCK);
	struct stat st;
	char *buf;
	FILE *f;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode) || S_ISFIFO(st.st_mode) ||
	    S_ISSOCK(st.st_mode)) {
		close(fd);
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		return NULL;
	}
	if (!(f = fdopen(fd, "rb"))) {
		close(fd);
		return NULL;
	}
	if (st.st_size > (off_t)MAX_FILE_SIZE) {
		fclose(f);
		errno = EFBIG;
		return NULL;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		abort();
	*len = fread(buf, 1, (size_t)st.st_size, f);
	if (ferror(f)) {
		int err = errno;
		free(buf);
		fclose(f);
		errno = err;
		return NULL;
	}
	buf[*len] = 0;
	fclose(f);
	return buf;
}

int front_load(Front *fe, const char *path, Loc from)
{
	char real[PATH_MAX];
	size_t len = 0;

	/* A file already read (included twice, say) is not read again. */
	if (realpath(path, real)) {
		for (int i = 0; i < fe->include_depth; i++)
			if (strcmp(fe->including[i], real) == 0) {
				diag_error(fe->diags, from, "'%s' includes itself", path);
				return -1;
			}
		for (Source *s = fe->sources; s; s = s->next) {
			char other[PATH_MAX];
			if (realpath(s->path, other) && strcmp(other, real) == 0)
				return 0;
		}
	}
	char *text = read_file(path, &len);
	if (!text) {
		diag_error(fe->diags, from, "cannot read '%s': %s", path,
		           errno == EFBIG ? "file too large (the limit is 64 MiB)" : strerror(errno));
		return -1;
	}
	if (fe->include_depth >= MAX_INCLUDE_DEPTH) {
		free(text);
		diag_error(fe->diags, from, "includes nested too deeply (the limit is %d)",
		           MAX_INCLUDE_DEPTH);
		return -1;
	}
	fe->including[fe->include_depth++] = fe_strndup(fe, real, strlen(real));
	front_load_text(fe, path, text, len);
	fe->include_depth--;
	free(text);
	return 0;
}

/* ---- Builders --------------------------------------------------------------- */

static Expr *new_expr(ParseCtx *c, ExprKind kind, const Token *t)
{
	Expr *e = fe_alloc(c->fe, sizeof *e);
	e->kind = kind;
	e->loc = t->loc;
	return e;
}

Expr *ast_number(ParseCtx *c, const Token *t)
{
	Expr *e = new_expr(c, t->type == TK_INT ? E_INT : E_FLOAT, t);
	e->ival = t->ival;
	e->fval = t->type == TK_INT ? (double)t->ival : t->fval;
	return e;
}

Expr *ast_name(ParseCtx *c, const Token *t)
{
	Expr *e = new_expr(c, E_NAME, t);
	e->name = t->text;
	e->name_len = t->len;
	return e;
}

Expr *ast_unary(ParseCtx *c, const Token *op, Expr *a)
{
	Expr *e = new_expr(c, E_NEG, op);
	e->a = a;
	return e;
}

Expr *ast_binary(ParseCtx *c, const Token *op, Expr *a, Expr *b)
{
	static const ExprKind kinds[] = {
		[TK_PLUS] = E_ADD, [TK_MINUS] = E_SUB, [TK_STAR] = E_MUL, [TK_SLASH] = E_DIV,
	};
	Expr *e = new_expr(c, kinds[op->type], op);
	e->a = a;
	e->b = b;
	return e;
}

/* model NAME [extends PARENT] {  -- a second model of the same name is an error. */
void ast_model_begin(ParseCtx *c, const Token *name, const Token *parent)
{
	ModelDecl *m = fe_alloc(c->fe, sizeof *m);
	char *s = fe_strndup(c->fe, name->text, name->len);
	ModelDecl *old = front_find(c->fe, s);

	m->name = s;
	m->loc = name->loc;
	m->assigns_tail = &m->assigns;
	m->weights_tail = &m->weights;
	if (parent) {
		m->parent = fe_strndup(c->fe, parent->text, parent->len);
		m->parent_loc = parent->loc;
	}
	const char *problem = model_name_problem(name->text, name->len);
	if (name->len > 63) {
		diag_error(c->fe->diags, name->loc, "model name is %d characters long; the limit is 63",
		           name->len);
	} else if (problem) {
		diag_error(c->fe->diags, name->loc, "model name '%s' %s; it prefixes every symbol of the "
		           "generated C", s, problem);
	} else if (old) {
		Diag *g = diag_error(c->fe->diags, name->loc, "redefinition of model '%s'", s);
		diag_note(g, old->loc, "previous definition of '%s' is here", s);
	} else {
		*c->fe->models_tail = m;
		c->fe->models_tail = &m->next;
	}
	c->cur = m;
}

void ast_model_end(ParseCtx *c)
{
	c->cur = NULL;
}

/* key = value: the key must be one of keys.h, once per block. */
void ast_assign(ParseCtx *c, const Token *key, Expr *value)
{
	int k = key_lookup(key->text, key->len);
	Diags *d = c->fe->diags;

	if (k < 0) {
		const char *near = key_nearest(key->text, key->len);
		if (near)
			diag_error(d, key->loc, "unknown key '%.*s'; did you mean '%s'?",
			           key->len > 64 ? 64 : key->len, key->text, near);
		else
			diag_error(d, key->loc, "unknown key '%.*s'", key->len > 64 ? 64 : key->len,
			           key->text);
		return;
	}
	for (Assign *a = c->cur->assigns; a; a = a->next)
		if (a->key == k) {
			Diag *g = diag_error(d, key->loc, "duplicate key '%s' in model '%s'",
			                     key_info[k].name, c->cur->name);
			diag_note(g, a->loc, "'%s' was first set here", key_info[k].name);
			return;
		}
	Assign *a = fe_alloc(c->fe, sizeof *a);
	a->key = k;
	a->loc = key->loc;
	a->value = value;
	*c->cur->assigns_tail = a;
	c->cur->assigns_tail = &a->next;
}

/* allow NAME: silences warning NAME for this model and its descendants. */
void ast_allow(ParseCtx *c, const Token *name)
{
	int w = warning_lookup(name->text, name->len);

	if (w < 0) {
		const char *near = warning_nearest(name->text, name->len);
		int n = name->len > 64 ? 64 : name->len;
		if (near)
			diag_error(c->fe->diags, name->loc, "unknown warning '%.*s'; did you mean '%s'?",
			           n, name->text, near);
		else
			diag_error(c->fe->diags, name->loc, "unknown warning '%.*s'", n, name->text);
		return;
	}
	Allow *a = fe_alloc(c->fe, sizeof *a);
	a->warning = w;
	a->loc = name->loc;
	a->next = c->cur->allows;
	c->cur->allows = a;
}

/* A quoted path token as a path relative to the directory of the file it
 * is in (absolute paths stay as they are), or NULL after an error. */
static char *relative_path(ParseCtx *c, const Token *path, const char *what)
{
	const char *base = c->src->path, *slash = strrchr(base, '/');
	int dirlen = slash ? (int)(slash - base) + 1 : 0;
	int n = path->len - 2;
	char *full;

	if (n <= 0) {
		diag_error(c->fe->diags, path->loc, "empty file name in %s", what);
		return NULL;
	}
	if (path->text[1] == '/')
		dirlen = 0;
	full = fe_alloc(c->fe, (size_t)dirlen + n + 1);
	memcpy(full, base, dirlen);
	memcpy(full + dirlen, path->text + 1, n);
	full[dirlen + n] = 0;
	return full;
}

/* include "path": relative to the directory of the including file. */
void ast_include(ParseCtx *c, const Token *path)
{
	char *full = relative_path(c, path, "include");

	if (full)
		front_load(c->fe, full, path->loc);
}

static FileRef *file_ref(ParseCtx *c, const Token *path, const char *what)
{
	char *full = relative_path(c, path, what);
	FileRef *f;

	if (!full)
		return NULL;
	f = fe_alloc(c->fe, sizeof *f);
	f->path = full;
	f->loc = path->loc;
	f->next = NULL;
	return f;
}

/* weights "path": one of the files the weights are read from, the first
 * given first (a file of converted tensors before the checkpoint). */
void ast_weights(ParseCtx *c, const Token *path)
{
	FileRef *f;

	if (c->cur->n_weights == MAX_WEIGHT_FILES) {
		diag_error(c->fe->diags, path->loc, "model '%s' names more than %d weights files",
		           c->cur->name, MAX_WEIGHT_FILES);
		return;
	}
	if (!(f = file_ref(c, path, "weights")))
		return;
	*c->cur->weights_tail = f;
	c->cur->weights_tail = &f->next;
	c->cur->n_weights++;
}

/* tokenizer "path": a tokenizer.json, a llama2.c tokenizer.bin or a model
 * folder; once per model. */
void ast_tokenizer(ParseCtx *c, const Token *path)
{
	FileRef *f;

	if (c->cur->tokenizer) {
		Diag *g = diag_error(c->fe->diags, path->loc, "model '%s' names its tokenizer twice",
		                     c->cur->name);
		diag_note(g, c->cur->tokenizer->loc, "the first is here");
		return;
	}
	if ((f = file_ref(c, path, "tokenizer")))
		c->cur->tokenizer = f;
}

static const char *describe(const Token *t, char *buf, size_t size)
{
	if (t->type == TK_IDENT || t->type == TK_INT || t->type == TK_FLOAT || t->type == TK_STRING)
		snprintf(buf, size, "'%.*s'", t->len > 40 ? 40 : t->len, t->text);
	else
		snprintf(buf, size, "%s", lex_token_name(t->type));
	return buf;
}

/* A syntax error names what was expected from the token before it. */
void ast_syntax_error(ParseCtx *c, const Token *t)
{
	Diags *d = c->fe->diags;
	char got[64], prev[64];
	int p = c->prev.type;
	Diag *g;

	if (c->failed)
		return;
	c->failed = 1;
	describe(t, got, sizeof got);
	describe(&c->prev, prev, sizeof prev);
	if (t->type == 0 && c->open) {
		g = diag_error(d, t->loc, "expected '}' at end of file to close model '%s'", c->cur->name);
		diag_note(g, c->cur->loc, "model '%s' starts here", c->cur->name);
	} else if (p == TK_ASSIGN || p == TK_PLUS || p == TK_MINUS || p == TK_STAR ||
	           p == TK_SLASH || p == TK_LPAREN) {
		diag_error(d, t->loc, "expected a value after %s, found %s", lex_token_name(p), got);
	} else if (p == TK_MODEL) {
		diag_error(d, t->loc, "expected a model name after 'model', found %s", got);
	} else if (p == TK_EXTENDS) {
		diag_error(d, t->loc, "expected the name of a model after 'extends', found %s", got);
	} else if (p == TK_INCLUDE) {
		diag_error(d, t->loc, "expected a file name in double quotes after 'include', found %s", got);
	} else if (p == TK_ALLOW) {
		diag_error(d, t->loc, "expected a warning name after 'allow', found %s", got);
	} else if (p == TK_WEIGHTS || p == TK_TOKENIZER) {
		diag_error(d, t->loc, "expected a file name in double quotes after %s, found %s",
		           lex_token_name(p), got);
	} else if (c->open && p == TK_IDENT && t->type != TK_ASSIGN) {
		diag_error(d, t->loc, "expected '=' after %s, found %s", prev, got);
	} else if (!c->open && p == TK_IDENT) {
		diag_error(d, t->loc, "expected '{' after %s, found %s", prev, got);
	} else if (c->open) {
		diag_error(d, t->loc, "expected a key or '}' in model '%s', found %s", c->cur->name, got);
	} else {
		diag_error(d, t->loc, "expected 'model' or 'include', found %s", got);
	}
}

void ast_too_deep(ParseCtx *c)
{
	if (!c->failed)
		diag_error(c->fe->diags, c->prev.loc, "expression nested too deeply");
	c->failed = 1;
}
