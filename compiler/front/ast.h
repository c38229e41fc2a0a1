/* ast.h: the syntax tree of .tfm files, and the front end that builds it.
 *
 * A Front holds every file read in one run (the ones named and the ones they
 * include) and every model they declare.  Grammar actions call the ast_
 * builders below; resolve.c turns a declared model into a Model. */
#ifndef AST_H
#define AST_H

#include "diag.h"
#include "lex.h"

typedef enum { E_INT, E_FLOAT, E_NAME, E_NEG, E_ADD, E_SUB, E_MUL, E_DIV } ExprKind;

typedef struct Expr {
	ExprKind kind;
	Loc loc;		/* the token; for operators, the operator */
	long long ival;
	double fval;
	const char *name;	/* E_NAME: into the source */
	int name_len;
	struct Expr *a, *b;
} Expr;

/* key = value, one statement of a model block. */
typedef struct Assign {
	int key;		/* K_ id */
	Loc loc;		/* of the key */
	Expr *value;
	struct Assign *next;
} Assign;

/* allow NAME: a warning silenced for this model (and those extending it). */
typedef struct Allow {
	int warning;
	Loc loc;
	struct Allow *next;
} Allow;

/* weights "path", tokenizer "path": a file the model reads, its path
 * relative to the spec's directory made relative to the working directory. */
typedef struct FileRef {
	const char *path;
	Loc loc;
	struct FileRef *next;
} FileRef;

#define MAX_WEIGHT_FILES 8

typedef struct ModelDecl {
	char *name;
	Loc loc;
	char *parent;		/* extends, or NULL */
	Loc parent_loc;
	Assign *assigns, **assigns_tail;
	Allow *allows;
	FileRef *weights, **weights_tail;	/* in the order given: the first wins */
	int n_weights;
	FileRef *tokenizer;
	struct ModelDecl *next;
} ModelDecl;

typedef struct Front {
	Diags *diags;
	struct Block *blocks;	/* every allocation of the run, freed together */
	Source *sources;	/* every file read, newest first */
	ModelDecl *models, **models_tail;
	int include_depth;
	const char *including[32];	/* the include chain, to find cycles */
} Front;

/* State the parser carries (Lemon's %extra_context). */
typedef struct ParseCtx {
	Front *fe;
	const Source *src;
	ModelDecl *cur;		/* the model whose block is open */
	Token prev;		/* the token before the one being parsed */
	int open;		/* inside a model's braces */
	int failed;		/* a syntax error ended this file */
} ParseCtx;

void front_init(Front *fe, Diags *d);
void front_free(Front *fe);
/* Reads and parses a file and the files it includes.  Returns 0, or -1
 * when the file cannot be read (a diagnostic says why); syntax errors are
 * diagnostics and do not stop the other files. */
int front_load(Front *fe, const char *path, Loc from);
/* Parses source text held in memory (for tests and the fuzzer). */
void front_load_text(Front *fe, const char *path, const char *text, size_t len);
ModelDecl *front_find(Front *fe, const char *name);

/* Builders called from grammar actions. */
Expr *ast_number(ParseCtx *c, const Token *t);
Expr *ast_name(ParseCtx *c, const Token *t);
Expr *ast_unary(ParseCtx *c, const Token *op, Expr *a);
Expr *ast_binary(ParseCtx *c, const Token *op, Expr *a, Expr *b);
void ast_model_begin(ParseCtx *c, const Token *name, const Token *parent);
void ast_model_end(ParseCtx *c);
void ast_assign(ParseCtx *c, const Token *key, Expr *value);
void ast_allow(ParseCtx *c, const Token *name);
void ast_include(ParseCtx *c, const Token *path);
void ast_weights(ParseCtx *c, const Token *path);
void ast_tokenizer(ParseCtx *c, const Token *path);
void ast_syntax_error(ParseCtx *c, const Token *t);
void ast_too_deep(ParseCtx *c);

/* The Lemon parser (parse.c). */
void *ParseAlloc(void *(*alloc)(size_t), ParseCtx *c);
void Parse(void *p, int type, Token tok);
void ParseFree(void *p, void (*dealloc)(void *));

#endif
