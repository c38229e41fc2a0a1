/* pretok.c: the pre-tokenizers of tokenizer.json, which cut a normalized
 * piece of text into the words BPE sees, as Hugging Face's do:
 *
 *   Split      the matches of a String or Regex pattern (invert: the gaps),
 *              kept by behavior: Removed, Isolated, MergedWithPrevious,
 *              MergedWithNext, Contiguous
 *   ByteLevel  a space in front (add_prefix_space), GPT-2's regex
 *              (use_regex), then each byte as its byte character
 *   Metaspace  ' ' → the replacement, which is put in front (prepend_scheme
 *              always, or first: only on the piece at the start of the text),
 *              then split before each replacement (split)
 *   Digits     the digits (Rust's is_numeric) alone, or in runs
 *
 * A Sequence is flattened into a list when read; each pre-tokenizer runs
 * over every piece the one before left, and empty pieces are dropped.
 */
#include <string.h>

#include "tok_internal.h"

const char tok_gpt2_regex[] =
	"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/* Hugging Face's Pattern for a predicate on characters: each matching
 * character is a match of its own. */
static int tok_char_spans(const char *s, size_t len, int (*pred)(int32_t, int32_t), int32_t arg,
                          tok_spans *out)
{
	size_t i = 0, k, last = 0;
	int32_t cp;

	out->n = 0;
	if (len == 0)
		return tok_spans_push(out, 0, 0, 0);
	while (i < len) {
		k = tok_utf8_next(s + i, len - i, &cp);
		if (pred(cp, arg)) {
			if (last < i && tok_spans_push(out, last, i, 0) != 0)
				return -1;
			if (tok_spans_push(out, i, i + k, 1) != 0)
				return -1;
			last = i + k;
		}
		i += k;
	}
	if (len > last && tok_spans_push(out, last, len, 0) != 0)
		return -1;
	return 0;
}

static int tok_is_char(int32_t cp, int32_t c)
{
	return cp == c;
}

static int tok_is_digit(int32_t cp, int32_t unused)
{
	(void)unused;
	return tok_is_numeric(cp);
}

/* NormalizedString::split: folds the spans by behavior (in place) and adds
 * the pieces that are kept and not empty. */
static int tok_split_by(const char *s, tok_spans *sp, int behavior, int first, tok_pieces *out)
{
	size_t i, n = 0, a, b;
	tok_span *v = sp->p, t;
	int prev = 0, m;

	switch (behavior) {
	case TOK_SPLIT_ISOLATED:
		for (i = 0; i < sp->n; i++)
			v[i].match = 0;
		n = sp->n;
		break;
	case TOK_SPLIT_REMOVED:
		n = sp->n;
		break;
	case TOK_SPLIT_CONTIGUOUS:
	case TOK_SPLIT_MERGED_PREV:
		for (i = 0; i < sp->n; i++) {
			m = v[i].match;
			if (n > 0 && (behavior == TOK_SPLIT_CONTIGUOUS ? m == prev : m && !prev)) {
				v[n - 1].e = v[i].e;
			} else {
				v[n] = v[i];
				v[n].match = 0;
				n++;
			}
			prev = m;
		}
		break;
	case TOK_SPLIT_MERGED_NEXT:
		/* From the right, merging a match into the piece after it. */
		for (i = sp->n; i-- > 0;) {
			m = v[i].match;
			t = v[i];
			if (n > 0 && m && !prev) {
				v[sp->n - n].s = t.s;
			} else {
				n++;
				v[sp->n - n] = t;
				v[sp->n - n].match = 0;
			}
			prev = m;
		}
		memmove(v, v + sp->n - n, n * sizeof *v);
		break;
	}
	for (i = 0; i < n; i++) {
		if (v[i].match)
			continue;
		a = v[i].s;
		b = v[i].e;
		if (b > a && tok_pieces_add(out, s + a, b - a, first && a == 0) != 0)
			return -1;
	}
	return 0;
}

static int tok_pre_split(const tok_pretok *p, const char *s, size_t len, int first,
                         tok_pieces *out, tok_spans *sp, tfm_error *e)
{
	size_t i;

	if (tok_regex_spans(p->re, s, len, sp, e) != 0)
		return -1;
	if (p->invert)
		for (i = 0; i < sp->n; i++)
			sp->p[i].match = !sp->p[i].match;
	return tok_split_by(s, sp, p->behavior, first, out) != 0 ? tok_oom(e) : 0;
}

/* Adds s[len] with each byte as its byte character, as one piece. */
static int tok_add_bytelevel(tok_pieces *out, const char *s, size_t len, int first)
{
	size_t i;

	if (len == 0)
		return 0;
	if (tok_pieces_open(out, first) != 0)
		return -1;
	for (i = 0; i < len; i++)
		if (tok_utf8_put(&out->buf, tok_byte_char((unsigned char)s[i])) != 0)
			return -1;
	tok_pieces_close(out);
	return 0;
}

static int tok_pre_bytelevel(const tok_pretok *p, const char *s, size_t len, int first,
                             tok_pieces *out, tok_spans *sp, tok_buf *tmp, tfm_error *e)
{
	size_t i;

	if (p->add_prefix_space && (len == 0 || s[0] != ' ')) {
		tmp->len = 0;
		if (tok_buf_add(tmp, " ", 1) != 0 || tok_buf_add(tmp, s, len) != 0)
			return tok_oom(e);
		s = tmp->p;
		len = tmp->len;
	}
	if (p->re == NULL)
		return tok_add_bytelevel(out, s, len, first) != 0 ? tok_oom(e) : 0;
	if (tok_regex_spans(p->re, s, len, sp, e) != 0)
		return -1;
	for (i = 0; i < sp->n; i++)
		if (tok_add_bytelevel(out, s + sp->p[i].s, sp->p[i].e - sp->p[i].s,
		                      first && sp->p[i].s == 0) != 0)
			return tok_oom(e);
	return 0;
}

static int tok_pre_metaspace(const tok_pretok *p, const char *s, size_t len, int first,
                             tok_pieces *out, tok_spans *sp, tok_buf *tmp, tfm_error *e)
{
	tok_buf r = { 0 };
	size_t i, rl;
	int32_t cp;
	int rc = 0;

	tmp->len = 0;
	if (tok_utf8_put(&r, p->repl) != 0)
		return tok_oom(e);
	rl = r.len;
	/* ' ' → the replacement, then the replacement in front. */
	if (tok_buf_add(tmp, "", 0) != 0)
		goto oom;
	for (i = 0; i < len; i++)
		if (s[i] == ' ' ? tok_buf_add(tmp, r.p, rl) : tok_buf_add(tmp, s + i, 1))
			goto oom;
	if (p->prepend == TOK_PREPEND_ALWAYS || (p->prepend == TOK_PREPEND_FIRST && first)) {
		int starts = tmp->len > 0 && (tok_utf8_next(tmp->p, tmp->len, &cp), cp == p->repl);
		if (!starts) {
			if (tok_buf_add(&r, tmp->p, tmp->len) != 0)
				goto oom;
			tmp->len = 0;
			if (tok_buf_add(tmp, r.p, r.len) != 0)
				goto oom;
		}
	}
	if (!p->split) {
		if (tmp->len > 0 && tok_pieces_add(out, tmp->p, tmp->len, first) != 0)
			goto oom;
	} else if (tok_char_spans(tmp->p, tmp->len, tok_is_char, p->repl, sp) != 0 ||
	           tok_split_by(tmp->p, sp, TOK_SPLIT_MERGED_NEXT, first, out) != 0) {
		goto oom;
	}
	tok_buf_free(&r);
	return rc;
oom:
	tok_buf_free(&r);
	return tok_oom(e);
}

static int tok_pre_digits(const tok_pretok *p, const char *s, size_t len, int first,
                          tok_pieces *out, tok_spans *sp, tfm_error *e)
{
	if (tok_char_spans(s, len, tok_is_digit, 0, sp) != 0 ||
	    tok_split_by(s, sp, p->individual ? TOK_SPLIT_ISOLATED : TOK_SPLIT_CONTIGUOUS, first,
	                 out) != 0)
		return tok_oom(e);
	return 0;
}

int tok_pretokenize(const tok_pretok *pre, int n, tok_pieces *io, tok_pieces *tmp, tfm_error *e)
{
	tok_spans sp = { 0 };
	tok_buf scratch = { 0 };
	tok_pieces t;
	size_t j;
	int i, rc = 0;

	for (i = 0; i < n && rc == 0; i++) {
		tok_pieces_clear(tmp);
		for (j = 0; j < io->n && rc == 0; j++) {
			const char *s = io->buf.p + io->p[j].off;
			size_t len = io->p[j].len;
			int first = io->p[j].first;
			switch (pre[i].type) {
			case TOK_PRE_SPLIT:
				rc = tok_pre_split(&pre[i], s, len, first, tmp, &sp, e);
				break;
			case TOK_PRE_BYTELEVEL:
				rc = tok_pre_bytelevel(&pre[i], s, len, first, tmp, &sp, &scratch, e);
				break;
			case TOK_PRE_METASPACE:
				rc = tok_pre_metaspace(&pre[i], s, len, first, tmp, &sp, &scratch, e);
				break;
			case TOK_PRE_DIGITS:
				rc = tok_pre_digits(&pre[i], s, len, first, tmp, &sp, e);
				break;
			}
		}
		t = *io;
		*io = *tmp;
		*tmp = t;
	}
	tok_spans_free(&sp);
	tok_buf_free(&scratch);
	return rc;
}
