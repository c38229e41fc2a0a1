/* normalize.c: the normalizers of tokenizer.json, applied in order to each
 * piece of text between added tokens.
 *
 *   NFC NFD NFKC NFKD   Unicode normalization (utf8proc)
 *   Lowercase           Rust's char::to_lowercase: the full mapping, which
 *                       differs from the simple one only for U+0130
 *   Prepend             the prefix, unless the piece is empty
 *   Replace             each match of a String or Regex pattern
 *   Strip               whitespace at the left and/or right
 *   StripAccents        drops the combining marks (category M)
 *   ByteLevel           each byte as GPT-2's byte character
 */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tok_internal.h"

int tok_replace(tok_regex *re, const char *s, size_t len, const char *with, size_t wlen,
                tok_buf *out, tfm_error *e)
{
	tok_spans sp = { 0 };
	size_t i;
	int rc = 0;

	if (tok_regex_spans(re, s, len, &sp, e) != 0)
		return -1;
	for (i = 0; i < sp.n && rc == 0; i++)
		rc = sp.p[i].match ? tok_buf_add(out, with, wlen)
		                   : tok_buf_add(out, s + sp.p[i].s, sp.p[i].e - sp.p[i].s);
	tok_spans_free(&sp);
	return rc != 0 ? tok_oom(e) : 0;
}

static int tok_unicode(int type, const char *s, size_t len, tok_buf *out, tfm_error *e)
{
	utf8proc_option_t opt = UTF8PROC_STABLE;
	utf8proc_uint8_t *dst = NULL;
	utf8proc_ssize_t n;
	int rc;

	if (len == 0)
		return 0;
	if (type == TOK_NORM_NFC || type == TOK_NORM_NFKC)
		opt |= UTF8PROC_COMPOSE;
	else
		opt |= UTF8PROC_DECOMPOSE;
	if (type == TOK_NORM_NFKC || type == TOK_NORM_NFKD)
		opt |= UTF8PROC_COMPAT;
	n = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &dst, opt);
	if (n < 0)
		return tfm_fail(e, "tokenizer: normalization failed: %s", utf8proc_errmsg(n));
	rc = tok_buf_add(out, dst, (size_t)n);
	free(dst);
	return rc != 0 ? tok_oom(e) : 0;
}

/* NFC leaves a character below U+0300 alone and never joins one to the
 * character before it (none is a combining mark or the second of a
 * composition), so NFC runs only over the stretches from the character
 * before one at or above U+0300 to the next one below it. */
static int tok_nfc(const char *s, size_t len, tok_buf *out, tfm_error *e)
{
	size_t i = 0, j, k, m, c;
	int32_t cp;

	while (i < len) {
		for (j = i; j < len; j += c) {
			if ((unsigned char)s[j] < 0x80) {
				c = 1;
				continue;
			}
			c = tok_utf8_next(s + j, len - j, &cp);
			if (cp >= 0x300)
				break;
		}
		if (j == len)
			return tok_buf_add(out, s + i, len - i) != 0 ? tok_oom(e) : 0;
		k = j;	/* back to the character before, which may take a mark */
		if (k > i)
			do
				k--;
			while (k > i && ((unsigned char)s[k] & 0xc0) == 0x80);
		if (tok_buf_add(out, s + i, k - i) != 0)
			return tok_oom(e);
		for (m = j; m < len; m += c) {
			c = tok_utf8_next(s + m, len - m, &cp);
			if (cp < 0x300)
				break;
		}
		if (tok_unicode(TOK_NORM_NFC, s + k, m - k, out, e) != 0)
			return -1;
		i = m;
	}
	return 0;
}

static int tok_lowercase(const char *s, size_t len, tok_buf *out)
{
	size_t i = 0, k;
	int32_t cp;

	while (i < len) {
		k = tok_utf8_next(s + i, len - i, &cp);
		if (cp < 0) {
			if (tok_buf_add(out, s + i, k) != 0)
				return -1;
		} else if (cp == 0x130) {	/* İ → i + COMBINING DOT ABOVE */
			if (tok_buf_add(out, "i\xcc\x87", 3) != 0)
				return -1;
		} else if (tok_utf8_put(out, cp < 0x80 ? (cp >= 'A' && cp <= 'Z' ? cp + 32 : cp)
		                                      : utf8proc_tolower(cp)) != 0) {
			return -1;
		}
		i += k;
	}
	return 0;
}

static int tok_strip(const tok_norm *nm, const char *s, size_t len, tok_buf *out)
{
	size_t a = 0, b = len, k;
	int32_t cp;

	if (nm->left)
		while (a < b && (k = tok_utf8_next(s + a, b - a, &cp), tok_is_space(cp)))
			a += k;
	if (nm->right)
		while (b > a) {
			size_t c = b - 1;
			while (c > a && ((unsigned char)s[c] & 0xc0) == 0x80)
				c--;
			tok_utf8_next(s + c, b - c, &cp);
			if (!tok_is_space(cp))
				break;
			b = c;
		}
	return tok_buf_add(out, s + a, b - a);
}

static int tok_strip_accents(const char *s, size_t len, tok_buf *out)
{
	size_t i = 0, k;
	int32_t cp;
	int cat;

	while (i < len) {
		k = tok_utf8_next(s + i, len - i, &cp);
		cat = cp >= 0x80 ? utf8proc_category(cp) : 0;
		if (cat != UTF8PROC_CATEGORY_MN && cat != UTF8PROC_CATEGORY_MC &&
		    cat != UTF8PROC_CATEGORY_ME && tok_buf_add(out, s + i, k) != 0)
			return -1;
		i += k;
	}
	return 0;
}

static int tok_bytelevel(const char *s, size_t len, tok_buf *out)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (tok_utf8_put(out, tok_byte_char((unsigned char)s[i])) != 0)
			return -1;
	return 0;
}

/* One normalizer, s[len] appended to out. */
static int tok_norm_one(const tok_norm *nm, const char *s, size_t len, tok_buf *out, tfm_error *e)
{
	int rc = 0;

	switch (nm->type) {
	case TOK_NORM_NFC:
		return tok_nfc(s, len, out, e);
	case TOK_NORM_NFD: case TOK_NORM_NFKC: case TOK_NORM_NFKD:
		return tok_unicode(nm->type, s, len, out, e);
	case TOK_NORM_LOWERCASE:
		rc = tok_lowercase(s, len, out);
		break;
	case TOK_NORM_PREPEND:
		if (len > 0)
			rc = tok_buf_add(out, nm->str, nm->len) || tok_buf_add(out, s, len);
		break;
	case TOK_NORM_REPLACE:
		return tok_replace(nm->re, s, len, nm->str, nm->len, out, e);
	case TOK_NORM_STRIP:
		rc = tok_strip(nm, s, len, out);
		break;
	case TOK_NORM_STRIP_ACCENTS:
		rc = tok_strip_accents(s, len, out);
		break;
	case TOK_NORM_BYTELEVEL:
		rc = tok_bytelevel(s, len, out);
		break;
	}
	return rc != 0 ? tok_oom(e) : 0;
}

int tok_normalize(const tok_norm *norm, int n, const char *s, size_t len, tok_buf *out,
                  tfm_error *e)
{
	tok_buf tmp = { 0 }, *a = out, *b = &tmp, *t;
	int i, rc = 0;

	out->len = 0;
	if (tok_buf_add(out, s, len) != 0)
		return tok_oom(e);
	for (i = 0; i < n && rc == 0; i++) {
		b->len = 0;
		if ((rc = tok_buf_add(b, "", 0)) != 0) {	/* b->p is never NULL */
			rc = tok_oom(e);
			break;
		}
		rc = tok_norm_one(&norm[i], a->p, a->len, b, e);
		t = a;
		a = b;
		b = t;
	}
	if (rc == 0 && a != out) {
		out->len = 0;
		if (tok_buf_add(out, a->p, a->len) != 0)
			rc = tok_oom(e);
	}
	tok_buf_free(&tmp);
	return rc;
}
