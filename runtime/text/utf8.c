/* utf8.c: UTF-8 for the tokenizer: validation, decoding one character,
 * Rust's lossy conversion (each maximal invalid sequence becomes one U+FFFD,
 * as the Unicode standard recommends), the character classes that Hugging
 * Face's code takes from Rust (char::is_whitespace, regex \w,
 * char::is_numeric), and GPT-2's byte-to-character table. */
#include <utf8proc.h>

#include "tok_internal.h"

/* The length of the character at s (len > 0) when *ok, else the length of
 * the maximal invalid sequence there (at least 1). */
static size_t tok_utf8_seq(const unsigned char *s, size_t len, int *ok)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need, i;

	*ok = 1;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		need = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		need = 4;
	else {
		*ok = 0;
		return 1;
	}
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	for (i = 1; i < need; i++) {
		if (i >= len || s[i] < lo || s[i] > hi) {
			*ok = 0;
			return i;
		}
		lo = 0x80;
		hi = 0xbf;
	}
	return need;
}

size_t tok_utf8_check(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, k;
	int ok;

	while (i < len) {
		if (u[i] < 0x80) {
			i++;
			continue;
		}
		k = tok_utf8_seq(u + i, len - i, &ok);
		if (!ok)
			return i;
		i += k;
	}
	return len;
}

size_t tok_utf8_next(const char *s, size_t len, int32_t *cp)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t k;
	int ok;

	if (u[0] < 0x80) {
		*cp = u[0];
		return 1;
	}
	k = tok_utf8_seq(u, len, &ok);
	if (!ok) {
		*cp = -1;
		return 1;
	}
	if (k == 2)
		*cp = (u[0] & 0x1f) << 6 | (u[1] & 0x3f);
	else if (k == 3)
		*cp = (u[0] & 0x0f) << 12 | (u[1] & 0x3f) << 6 | (u[2] & 0x3f);
	else
		*cp = (u[0] & 0x07) << 18 | (u[1] & 0x3f) << 12 | (u[2] & 0x3f) << 6 | (u[3] & 0x3f);
	return k;
}

int tok_utf8_put(tok_buf *b, int32_t cp)
{
	unsigned char c[4];
	size_t n;

	if (cp < 0x80) {
		c[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		c[0] = (unsigned char)(0xc0 | cp >> 6);
		c[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		c[0] = (unsigned char)(0xe0 | cp >> 12);
		c[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		c[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		c[0] = (unsigned char)(0xf0 | cp >> 18);
		c[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
		c[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		c[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return tok_buf_add(b, c, n);
}

int tok_utf8_lossy(tok_buf *b, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, j = 0, k;
	int ok;

	if (len == 0)	/* s may be NULL */
		return tok_buf_add(b, "", 0);
	while (i < len) {
		if (u[i] < 0x80) {
			i++;
			continue;
		}
		k = tok_utf8_seq(u + i, len - i, &ok);
		if (ok) {
			i += k;
			continue;
		}
		if (tok_buf_add(b, s + j, i - j) != 0 || tok_buf_add(b, "\xef\xbf\xbd", 3) != 0)
			return -1;
		i += k;
		j = i;
	}
	return tok_buf_add(b, s + j, len - j);
}

int tok_is_space(int32_t c)
{
	return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
	       (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
	       c == 0x205f || c == 0x3000;
}

/* Alphabetic is the letters, Nl and Other_Alphabetic; the latter is marks
 * but for the circled and squared Latin letters, listed here. */
int tok_is_word(int32_t c)
{
	if (c < 0)
		return 0;
	if (c < 0x80)
		return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		       c == '_';
	switch (utf8proc_category(c)) {
	case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
	case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
	case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
	case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_PC:
		return 1;
	default:
		break;
	}
	return c == 0x200c || c == 0x200d || (c >= 0x24b6 && c <= 0x24e9) ||
	       (c >= 0x1f130 && c <= 0x1f149) || (c >= 0x1f150 && c <= 0x1f169) ||
	       (c >= 0x1f170 && c <= 0x1f189);
}

int tok_is_numeric(int32_t c)
{
	if (c < 0)
		return 0;
	if (c < 0x80)
		return c >= '0' && c <= '9';
	switch (utf8proc_category(c)) {
	case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
		return 1;
	default:
		return 0;
	}
}

/* bytes_to_unicode: the printable bytes of Latin-1 stand for themselves,
 * the others (0-32, 127-160, 173) for 256, 257, ... in order. */
int tok_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int tok_byte_printable(unsigned b)
{
	return (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
}

/* So 0-32 stand for 256-288, 127-160 for 289-322 and 173 for 323. */
int32_t tok_byte_char(unsigned b)
{
	if (tok_byte_printable(b))
		return (int32_t)b;
	if (b <= 32)
		return (int32_t)(256 + b);
	if (b >= 127 && b <= 160)
		return (int32_t)(162 + b);
	return 323;
}

int tok_char_byte(int32_t cp)
{
	if (cp >= 0 && cp < 256)
		return tok_byte_printable((unsigned)cp) ? cp : -1;
	if (cp <= 288)
		return cp - 256;
	if (cp <= 322)
		return cp - 162;
	return cp == 323 ? 173 : -1;
}
