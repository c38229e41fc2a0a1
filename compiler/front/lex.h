/* lex.h: the lexer's interface.  It turns a Source into tokens and knows
 * nothing of the syntax tree; token codes come from the Lemon grammar. */
#ifndef LEX_H
#define LEX_H

#include "diag.h"

typedef struct Token {
	int type;		/* TK_ code from parse.h, or 0 at end of input */
	Loc loc;
	const char *text;	/* into the source; not NUL-terminated */
	int len;
	long long ival;		/* TK_INT */
	double fval;		/* TK_FLOAT */
	const char *error;	/* TK_ILLEGAL: what is wrong */
} Token;

typedef struct Lexer {
	const Source *src;
	const char *cur, *lim, *line_start;
	int line;
} Lexer;

void lex_init(Lexer *lx, const Source *src);
/* The next token; end of input gives type 0. */
void lex_next(Lexer *lx, Token *t);
/* A printable name for a token type ("'='", "a number", "end of file"). */
const char *lex_token_name(int type);

#endif
