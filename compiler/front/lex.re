/* lex.re: the lexer, written for re2c.
 *
 * Whitespace (newlines included) only separates tokens; '#' starts a comment
 * that runs to the end of the line.  Any byte that starts no token becomes a
 * TK_ILLEGAL token with a message, so garbage input gets a diagnostic with a
 * place.  The input is NUL-terminated and may contain NUL bytes: re2c's
 * sentinel with bounds checks tells a NUL inside the text from the end. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "lex.h"
#include "parse.h"

void lex_init(Lexer *lx, const Source *src)
{
	lx->src = src;
	lx->cur = src->text;
	lx->lim = src->text + src->len;
	lx->line_start = src->text;
	lx->line = 1;
}

static void newline(Lexer *lx, const char *after)
{
	lx->line++;
	lx->line_start = after;
}

static void number(Token *t, int is_float)
{
	char buf[128];
	int n = t->len < (int)sizeof buf - 1 ? t->len : (int)sizeof buf - 1;

	memcpy(buf, t->text, n);
	buf[n] = 0;
	errno = 0;
	if (is_float) {
		t->type = TK_FLOAT;
		t->fval = strtod(buf, NULL);
		if (errno == ERANGE || t->len >= (int)sizeof buf - 1) {
			t->type = TK_ILLEGAL;
			t->error = "number out of range";
		}
	} else {
		t->type = TK_INT;
		t->ival = strtoll(buf, NULL, 10);
		if (errno == ERANGE || t->len > 18) {
			t->type = TK_ILLEGAL;
			t->error = "integer too large (the limit is 18 digits)";
		}
	}
}

void lex_next(Lexer *lx, Token *t)
{
	const char *YYMARKER;

	memset(t, 0, sizeof *t);
again:
	t->text = lx->cur;
	t->loc.src = lx->src;
	t->loc.line = lx->line;
	t->loc.col = (int)(lx->cur - lx->line_start) + 1;
#define RET(type_) do { t->type = (type_); t->len = (int)(lx->cur - t->text); \
		t->loc.len = t->len; return; } while (0)
	/*!re2c
	re2c:define:YYCTYPE = "unsigned char";
	re2c:define:YYCURSOR = "lx->cur";
	re2c:define:YYLIMIT = "lx->lim";
	re2c:yyfill:enable = 0;
	re2c:eof = 0;
	re2c:flags:tags = 0;

	digits = [0-9]+;
	exp    = [eE] [+-]? digits;

	$                       { t->type = 0; t->len = 0; t->loc.len = 1; return; }
	[ \t\r\f\v]+            { goto again; }
	"\n"                    { newline(lx, lx->cur); goto again; }
	"#" [^\n\x00]*          { goto again; }
	"model"                 { RET(TK_MODEL); }
	"extends"               { RET(TK_EXTENDS); }
	"include"               { RET(TK_INCLUDE); }
	"allow"                 { RET(TK_ALLOW); }
	"weights"               { RET(TK_WEIGHTS); }
	"tokenizer"             { RET(TK_TOKENIZER); }
	[a-zA-Z_][a-zA-Z0-9_]*  { RET(TK_IDENT); }
	digits                  { t->len = (int)(lx->cur - t->text); t->loc.len = t->len; number(t, 0); return; }
	digits "." [0-9]* exp? | "." digits exp? | digits exp
	                        { t->len = (int)(lx->cur - t->text); t->loc.len = t->len; number(t, 1); return; }
	"\"" [^"\n\x00]* "\""   { RET(TK_STRING); }
	"\"" [^"\n\x00]*        { t->error = "missing terminating '\"' character"; RET(TK_ILLEGAL); }
	"="                     { RET(TK_ASSIGN); }
	"+"                     { RET(TK_PLUS); }
	"-"                     { RET(TK_MINUS); }
	"*"                     { RET(TK_STAR); }
	"/"                     { RET(TK_SLASH); }
	"("                     { RET(TK_LPAREN); }
	")"                     { RET(TK_RPAREN); }
	"{"                     { RET(TK_LBRACE); }
	"}"                     { RET(TK_RBRACE); }
	[\x80-\xff][\x80-\xbf]* { t->error = "stray non-ASCII character"; RET(TK_ILLEGAL); }
	*                       { t->error = "stray character"; RET(TK_ILLEGAL); }
	*/
}

const char *lex_token_name(int type)
{
	switch (type) {
	case 0: return "end of file";
	case TK_MODEL: return "'model'";
	case TK_EXTENDS: return "'extends'";
	case TK_INCLUDE: return "'include'";
	case TK_ALLOW: return "'allow'";
	case TK_WEIGHTS: return "'weights'";
	case TK_TOKENIZER: return "'tokenizer'";
	case TK_IDENT: return "a name";
	case TK_INT: return "an integer";
	case TK_FLOAT: return "a number";
	case TK_STRING: return "a string";
	case TK_ASSIGN: return "'='";
	case TK_PLUS: return "'+'";
	case TK_MINUS: return "'-'";
	case TK_STAR: return "'*'";
	case TK_SLASH: return "'/'";
	case TK_LPAREN: return "'('";
	case TK_RPAREN: return "')'";
	case TK_LBRACE: return "'{'";
	case TK_RBRACE: return "'}'";
	default: return "a stray character";
	}
}
