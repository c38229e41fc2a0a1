/* regex.c: the regular expressions of tokenizer.json, with PCRE2.
 *
 * Hugging Face's tokenizers runs them with Oniguruma (Ruby syntax); PCRE2
 * with PCRE2_UTF|PCRE2_UCP agrees on the constructs the files use
 * (alternation tried left to right, greedy loops, look-ahead, \p{..},
 * (?i:..) with Unicode case folding) but for a few escapes, which are
 * rewritten before compiling:
 *
 *   \s  Oniguruma: White_Space.  PCRE2 adds U+180E (MONGOLIAN VOWEL
 *       SEPARATOR), so \s and \S become explicit sets.
 *   \w  Oniguruma: alphabetic (letters, Nl, Other_Alphabetic), marks, Nd, Pc
 *       and the joiners.  PCRE2 10.42: letters, all of N and '_'; rewritten
 *       likewise.
 *   \h  Ruby: a hex digit (PCRE2: horizontal space).
 *
 * Inside a character class \S, \W and \H stay PCRE2's (a set cannot be
 * negated there).  ^ and $ match at line ends, as in Ruby (PCRE2_MULTILINE).
 * A match limit turns a runaway pattern into an error, not a hang.
 *
 * What stays different is the Unicode version: PCRE2 10.42 knows Unicode 14,
 * Hugging Face's Oniguruma 16, so a letter of a newer script (Kawi, the
 * extended hieroglyphs) is \p{L} there and not here.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

#define TOK_MATCH_LIMIT 20000000u
#define TOK_JIT_STACK_MAX (4u << 20)

struct tok_regex {
	pcre2_code *code;
	pcre2_match_data *md;
	pcre2_match_context *mc;
	pcre2_jit_stack *stack;
};

static const char tok_space_set[] =
	"\\x{9}-\\x{D}\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}"
	"\\x{202F}\\x{205F}\\x{3000}";
static const char tok_word_set[] =	/* Other_Alphabetic beyond the marks: circled letters */
	"\\p{L}\\p{M}\\p{Nd}\\p{Nl}\\p{Pc}\\x{200C}\\x{200D}\\x{24B6}-\\x{24E9}\\x{1F130}-\\x{1F149}"
	"\\x{1F150}-\\x{1F169}\\x{1F170}-\\x{1F189}";
static const char tok_hex_set[] = "0-9A-Fa-f";

/* Appends the rewrite of escape d: a set, negated or not, bare in a class. */
static int tok_regex_set(tok_buf *b, int d, int in_class)
{
	const char *set = (d == 's' || d == 'S') ? tok_space_set
	                  : (d == 'w' || d == 'W') ? tok_word_set : tok_hex_set;
	int neg = d == 'S' || d == 'W' || d == 'H';

	if (in_class) {
		if (neg) {
			char esc[2] = { '\\', (char)d };
			return tok_buf_add(b, esc, 2);
		}
		return tok_buf_add(b, set, strlen(set));
	}
	if (tok_buf_add(b, neg ? "[^" : "[", neg ? 2 : 1) != 0 || tok_buf_add(b, set, strlen(set)) != 0)
		return -1;
	return tok_buf_add(b, "]", 1);
}

/* The pattern with \s, \S, \w, \W, \h, \H rewritten (see the top). */
static int tok_regex_rewrite(tok_buf *b, const char *p, size_t n)
{
	size_t i = 0, j;
	int depth = 0;

	while (i < n) {
		char c = p[i];
		if (c == '\\' && i + 1 < n) {
			char d = p[i + 1];
			if (strchr("sSwWhH", d) != NULL) {
				if (tok_regex_set(b, d, depth > 0) != 0)
					return -1;
				i += 2;
				continue;
			}
			j = i + 2;
			if (d == 'Q') {	/* \Q...\E: literal */
				while (j < n && !(p[j] == '\\' && j + 1 < n && p[j + 1] == 'E'))
					j++;
				j = j < n ? j + 2 : n;
			} else if (d == 'c' && j < n) {
				j++;
			}
			if (tok_buf_add(b, p + i, j - i) != 0)
				return -1;
			i = j;
			continue;
		}
		if (c == '[') {
			if (depth > 0 && i + 1 < n && p[i + 1] == ':') {	/* [:alpha:] */
				for (j = i + 2; j + 1 < n && !(p[j] == ':' && p[j + 1] == ']'); j++)
					;
				j = j + 1 < n ? j + 2 : n;
				if (tok_buf_add(b, p + i, j - i) != 0)
					return -1;
				i = j;
				continue;
			}
			depth++;
			j = i + 1;
			if (j < n && p[j] == '^')
				j++;
			if (j < n && p[j] == ']')	/* a leading ] is literal */
				j++;
			if (tok_buf_add(b, p + i, j - i) != 0)
				return -1;
			i = j;
			continue;
		}
		if (c == ']' && depth > 0)
			depth--;
		if (tok_buf_add(b, &c, 1) != 0)
			return -1;
		i++;
	}
	return 0;
}

int tok_regex_new(tok_regex **out, const char *pat, size_t len, int literal, const char *where,
                  tfm_error *e)
{
	uint32_t opt = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE erroff;
	tok_buf b = { 0 };
	tok_regex *re;
	int err;

	*out = NULL;
	if ((re = calloc(1, sizeof *re)) == NULL)
		return tok_oom(e);
	if (literal) {
		opt |= PCRE2_LITERAL;
		if (tok_buf_add(&b, pat, len) != 0)
			goto oom;
	} else {
		opt |= PCRE2_UCP | PCRE2_MULTILINE;
		if (tok_regex_rewrite(&b, pat, len) != 0 || tok_buf_add(&b, "", 0) != 0)
			goto oom;
	}
	re->code = pcre2_compile((PCRE2_SPTR)b.p, b.len, opt, &err, &erroff, NULL);
	if (re->code == NULL) {
		pcre2_get_error_message(err, msg, sizeof msg);
		tfm_fail(e, "%s: bad regex \"%.*s\": %s", where, (int)(len > 200 ? 200 : len), pat,
		         (const char *)msg);
		tok_buf_free(&b);
		tok_regex_free(re);
		return -1;
	}
	tok_buf_free(&b);
	if ((re->md = pcre2_match_data_create_from_pattern(re->code, NULL)) == NULL ||
	    (re->mc = pcre2_match_context_create(NULL)) == NULL)
		goto oom;
	pcre2_set_match_limit(re->mc, TOK_MATCH_LIMIT);
	if (pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE) == 0) {
		re->stack = pcre2_jit_stack_create(32 * 1024, TOK_JIT_STACK_MAX, NULL);
		if (re->stack != NULL)
			pcre2_jit_stack_assign(re->mc, NULL, re->stack);
	}
	*out = re;
	return 0;
oom:
	tok_buf_free(&b);
	tok_regex_free(re);
	return tok_oom(e);
}

void tok_regex_free(tok_regex *re)
{
	if (re == NULL)
		return;
	pcre2_jit_stack_free(re->stack);
	pcre2_match_context_free(re->mc);
	pcre2_match_data_free(re->md);
	pcre2_code_free(re->code);
	free(re);
}

int tok_spans_push(tok_spans *v, size_t s, size_t e, int match)
{
	tok_span *p;
	size_t cap;

	if (v->n == v->cap) {
		cap = v->cap ? v->cap * 2 : 64;
		if ((p = realloc(v->p, cap * sizeof *p)) == NULL)
			return -1;
		v->p = p;
		v->cap = cap;
	}
	v->p[v->n].s = s;
	v->p[v->n].e = e;
	v->p[v->n].match = match;
	v->n++;
	return 0;
}

void tok_spans_free(tok_spans *v)
{
	free(v->p);
	memset(v, 0, sizeof *v);
}

/* One search from start: 1 with the match in *ms, *me; 0 for none; -1. */
static int tok_regex_find(tok_regex *re, const char *s, size_t len, size_t start, size_t *ms,
                          size_t *me, tfm_error *e)
{
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE *ov;
	int rc;

	rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, start, 0, re->md, re->mc);
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	if (rc < 0) {
		pcre2_get_error_message(rc, msg, sizeof msg);
		return tfm_fail(e, "tokenizer: regex match failed: %s", (const char *)msg);
	}
	ov = pcre2_get_ovector_pointer(re->md);
	*ms = ov[0];
	*me = ov[1];
	if (*me < *ms)	/* \K in a look-ahead can do this */
		*me = *ms;
	return 1;
}

int tok_regex_spans(tok_regex *re, const char *s, size_t len, tok_spans *out, tfm_error *e)
{
	size_t at = 0, prev = 0, ms, me, last_end = 0, k;
	int have_last = 0, rc;
	int32_t cp;

	out->n = 0;
	if (len == 0)
		return tok_spans_push(out, 0, 0, 0) != 0 ? tok_oom(e) : 0;
	while (at <= len) {
		if ((rc = tok_regex_find(re, s, len, at, &ms, &me, e)) < 0)
			return -1;
		if (rc == 0)
			break;
		/* Oniguruma's find_iter: no empty match right after the last one. */
		if (ms == me && have_last && last_end == me) {
			k = at < len ? tok_utf8_next(s + at, len - at, &cp) : 1;
			at += k;
			continue;
		}
		at = me;
		last_end = me;
		have_last = 1;
		if (prev != ms && tok_spans_push(out, prev, ms, 0) != 0)
			return tok_oom(e);
		if (tok_spans_push(out, ms, me, 1) != 0)
			return tok_oom(e);
		prev = me;
	}
	if (prev != len && tok_spans_push(out, prev, len, 0) != 0)
		return tok_oom(e);
	return 0;
}
