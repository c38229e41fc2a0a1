/* parse.y: the grammar of .tfm files, for the Lemon parser generator.
 * Actions are one-line calls into the ast_ builders; this file holds only
 * syntax.
 *
 *   file    ::= { item }
 *   item    ::= "include" STRING
 *             | "model" NAME [ "extends" NAME ] "{" { stmt } "}"
 *   stmt    ::= NAME "=" expr
 *             | "allow" WARNING-NAME          (e.g. allow aspect-ratio)
 *             | "weights" STRING              (where the weights are; repeatable)
 *             | "tokenizer" STRING            (where the tokenizer is)
 *   expr    ::= expr ("+"|"-"|"*"|"/") expr | "-" expr | "(" expr ")"
 *             | INTEGER | NUMBER | NAME
 */
%include {
#include <assert.h>
#include <stdlib.h>
#include "ast.h"
}

%name Parse
%token_prefix TK_
%token_type {Token}
%extra_context {ParseCtx *ctx}
%stack_size 256
%stack_overflow { ast_too_deep(ctx); }
%syntax_error { ast_syntax_error(ctx, &yyminor); }

%left PLUS MINUS.
%left STAR SLASH.
%right UMINUS.

%token ILLEGAL.

file ::= items.
items ::= items item.
items ::= .

item ::= INCLUDE STRING(S).                      { ast_include(ctx, &S); }
item ::= header LBRACE stmts RBRACE.             { ast_model_end(ctx); }

header ::= MODEL IDENT(N).                       { ast_model_begin(ctx, &N, NULL); }
header ::= MODEL IDENT(N) EXTENDS IDENT(P).      { ast_model_begin(ctx, &N, &P); }

stmts ::= stmts stmt.
stmts ::= .

stmt ::= IDENT(K) ASSIGN expr(E).                { ast_assign(ctx, &K, E); }
stmt ::= ALLOW wname(W).                         { ast_allow(ctx, &W); }
stmt ::= WEIGHTS STRING(S).                      { ast_weights(ctx, &S); }
stmt ::= TOKENIZER STRING(S).                    { ast_tokenizer(ctx, &S); }

%type wname {Token}
wname(W) ::= IDENT(A).                           { W = A; }
wname(W) ::= wname(A) MINUS IDENT(B).            { W = A; W.len = (int)(B.text + B.len - A.text); W.loc.len = W.len; }

%type expr {Expr *}
expr(E) ::= expr(A) PLUS(O) expr(B).             { E = ast_binary(ctx, &O, A, B); }
expr(E) ::= expr(A) MINUS(O) expr(B).            { E = ast_binary(ctx, &O, A, B); }
expr(E) ::= expr(A) STAR(O) expr(B).             { E = ast_binary(ctx, &O, A, B); }
expr(E) ::= expr(A) SLASH(O) expr(B).            { E = ast_binary(ctx, &O, A, B); }
expr(E) ::= MINUS(O) expr(A). [UMINUS]           { E = ast_unary(ctx, &O, A); }
expr(E) ::= LPAREN expr(A) RPAREN.               { E = A; }
expr(E) ::= INT(T).                              { E = ast_number(ctx, &T); }
expr(E) ::= FLOAT(T).                            { E = ast_number(ctx, &T); }
expr(E) ::= IDENT(T).                            { E = ast_name(ctx, &T); }
