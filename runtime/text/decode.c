/* decode.c: the decoders of tokenizer.json, which turn the list of token
 * strings back into text, as Hugging Face's decode_chain does: each decoder
 * maps the list to a new list, and the last list is joined.
 *
 *   ByteLevel     every token's byte characters back to bytes (a token with
 *                 another character stays as it is), all tokens as one
 *                 string, invalid UTF-8 as U+FFFD (String::from_utf8_lossy)
 *   ByteFallback  runs of <0xXX> tokens back to bytes: one token when they
 *                 are UTF-8, else one U+FFFD per byte
 *   Fuse          all tokens as one
 *   Strip         up to start copies of a character off the front of each
 *                 token, up to stop off the back
 *   Replace       each match of a String or Regex pattern, in each token
 *   Metaspace     the replacement → ' ', but dropped in the first token
 *                 unless prepend_scheme is never
 *   BPEDecoder    the suffix → ' ' (→ nothing in the last token)
 *
 * Without a decoder the tokens are joined with spaces.  With raw set, bytes
 * that are not UTF-8 stay as they are (for streaming one token at a time).
 */
#include <string.h>

#include "tok_internal.h"

#define TOK_FFFD "\xef\xbf\xbd"

/* "<0xXX>" → the byte, or -1; the two characters as Rust's
 * u8::from_str_radix(.., 16) reads them ("+F" too). */
static int tok_byte_token(const char *s, size_t len)
{
	int a, b;

	if (len != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>')
		return -1;
	b = tok_hexval(s[4]);
	if (s[3] == '+')
		return b;
	a = tok_hexval(s[3]);
	return a < 0 || b < 0 ? -1 : a * 16 + b;
}

static int tok_dec_bytelevel(tok_pieces *in, tok_pieces *out, int raw)
{
	tok_buf bytes = { 0 };
	size_t i, j, k;
	int32_t cp;
	int rc = 0, all, b;

	for (i = 0; i < in->n && rc == 0; i++) {
		const char *s = in->buf.p + in->p[i].off;
		size_t len = in->p[i].len, at = bytes.len;
		for (j = 0, all = 1; j < len && all; j += k) {
			k = tok_utf8_next(s + j, len - j, &cp);
			if ((b = tok_char_byte(cp)) < 0) {
				all = 0;
			} else {
				unsigned char c = (unsigned char)b;
				rc = tok_buf_add(&bytes, &c, 1);
			}
		}
		if (!all) {
			bytes.len = at;
			rc = tok_buf_add(&bytes, s, len);
		}
	}
	if (rc == 0 && tok_pieces_open(out, 0) == 0) {
		rc = raw ? tok_buf_add(&out->buf, bytes.p, bytes.len)
		         : tok_utf8_lossy(&out->buf, bytes.p, bytes.len);
		tok_pieces_close(out);
	} else {
		rc = -1;
	}
	tok_buf_free(&bytes);
	return rc;
}

/* Ends a run of byte tokens held in run. */
static int tok_flush_bytes(tok_buf *run, tok_pieces *out, int raw)
{
	size_t i;

	if (run->len == 0)
		return 0;
	if (raw || tok_utf8_check(run->p, run->len) == run->len) {
		if (tok_pieces_add(out, run->p, run->len, 0) != 0)
			return -1;
	} else {
		for (i = 0; i < run->len; i++)
			if (tok_pieces_add(out, TOK_FFFD, 3, 0) != 0)
				return -1;
	}
	run->len = 0;
	return 0;
}

static int tok_dec_bytefallback(tok_pieces *in, tok_pieces *out, int raw)
{
	tok_buf run = { 0 };
	size_t i;
	int b, rc = 0;

	for (i = 0; i < in->n && rc == 0; i++) {
		const char *s = in->buf.p + in->p[i].off;
		if ((b = tok_byte_token(s, in->p[i].len)) >= 0) {
			unsigned char c = (unsigned char)b;
			rc = tok_buf_add(&run, &c, 1);
		} else {
			rc = tok_flush_bytes(&run, out, raw) || tok_pieces_add(out, s, in->p[i].len, 0);
		}
	}
	if (rc == 0)
		rc = tok_flush_bytes(&run, out, raw);
	tok_buf_free(&run);
	return rc;
}

static int tok_dec_fuse(tok_pieces *in, tok_pieces *out)
{
	size_t i;

	if (tok_pieces_open(out, 0) != 0)
		return -1;
	for (i = 0; i < in->n; i++)
		if (tok_buf_add(&out->buf, in->buf.p + in->p[i].off, in->p[i].len) != 0)
			return -1;
	tok_pieces_close(out);
	return 0;
}

/* The start of the character before s[end] (end > 0). */
static size_t tok_prev_char(const char *s, size_t end)
{
	size_t c = end - 1;

	while (c > 0 && ((unsigned char)s[c] & 0xc0) == 0x80 && end - c < 4)
		c--;
	return c;
}

static int tok_dec_strip(const tok_dec *d, const char *s, size_t len, tok_pieces *out)
{
	size_t a = 0, b = len, k, c;
	int32_t cp;
	int i;

	for (i = 0; i < d->start && a < len; i++) {
		k = tok_utf8_next(s + a, len - a, &cp);
		if (cp != d->ch)
			break;
		a += k;
	}
	for (i = 0; i < d->stop && b > 0; i++) {
		c = tok_prev_char(s, b);
		tok_utf8_next(s + c, b - c, &cp);
		if (cp != d->ch)
			break;
		b = c;
	}
	/* Hugging Face would panic where the cuts cross ("▁" with start and
	 * stop 1): nothing is left. */
	return tok_pieces_add(out, s + a, b > a ? b - a : 0, 0);
}

static int tok_dec_metaspace(const tok_dec *d, size_t idx, const char *s, size_t len,
                             tok_pieces *out)
{
	size_t i = 0, k;
	int32_t cp;

	if (tok_pieces_open(out, 0) != 0)
		return -1;
	while (i < len) {
		k = tok_utf8_next(s + i, len - i, &cp);
		if (cp != d->ch) {
			if (tok_buf_add(&out->buf, s + i, k) != 0)
				return -1;
		} else if (!(idx == 0 && d->prepend != TOK_PREPEND_NEVER) &&
		           tok_buf_add(&out->buf, " ", 1) != 0) {
			return -1;
		}
		i += k;
	}
	tok_pieces_close(out);
	return 0;
}

static int tok_dec_bpe(const tok_dec *d, int last, const char *s, size_t len, tok_pieces *out)
{
	size_t i = 0;

	if (tok_pieces_open(out, 0) != 0)
		return -1;
	while (i < len) {
		if (d->len > 0 && len - i >= d->len && memcmp(s + i, d->str, d->len) == 0) {
			if (!last && tok_buf_add(&out->buf, " ", 1) != 0)
				return -1;
			i += d->len;
		} else {
			if (tok_buf_add(&out->buf, s + i, 1) != 0)
				return -1;
			i++;
		}
	}
	tok_pieces_close(out);
	return 0;
}

static int tok_dec_one(const tok_dec *d, tok_pieces *in, tok_pieces *out, int raw, tfm_error *e)
{
	size_t i;
	int rc = 0;

	switch (d->type) {
	case TOK_DEC_BYTELEVEL:
		rc = tok_dec_bytelevel(in, out, raw);
		break;
	case TOK_DEC_BYTEFALLBACK:
		rc = tok_dec_bytefallback(in, out, raw);
		break;
	case TOK_DEC_FUSE:
		rc = tok_dec_fuse(in, out);
		break;
	default:
		for (i = 0; i < in->n && rc == 0; i++) {
			const char *s = in->buf.p + in->p[i].off;
			size_t len = in->p[i].len;
			if (d->type == TOK_DEC_STRIP) {
				rc = tok_dec_strip(d, s, len, out);
			} else if (d->type == TOK_DEC_METASPACE) {
				rc = tok_dec_metaspace(d, i, s, len, out);
			} else if (d->type == TOK_DEC_BPE) {
				rc = tok_dec_bpe(d, i + 1 == in->n, s, len, out);
			} else {	/* Replace */
				if (tok_pieces_open(out, 0) != 0)
					return tok_oom(e);
				if (tok_replace(d->re, s, len, d->str, d->len, &out->buf, e) != 0)
					return -1;
				tok_pieces_close(out);
			}
		}
		break;
	}
	return rc != 0 ? tok_oom(e) : 0;
}

int tok_decode_chain(const tok_dec *dec, int n, tok_pieces *io, tok_pieces *tmp, int raw,
                     tok_buf *out, tfm_error *e)
{
	tok_pieces t;
	size_t i;
	int j;

	for (j = 0; j < n; j++) {
		tok_pieces_clear(tmp);
		if (tok_dec_one(&dec[j], io, tmp, raw, e) != 0)
			return -1;
		t = *io;
		*io = *tmp;
		*tmp = t;
	}
	out->len = 0;
	for (i = 0; i < io->n; i++)
		if (tok_buf_add(out, io->buf.p + io->p[i].off, io->p[i].len) != 0)
			return tok_oom(e);
	return tok_buf_add(out, "", 0) != 0 ? tok_oom(e) : 0;
}
