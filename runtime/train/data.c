/* data.c: the data files a model trains and is evaluated on, and the
 * windows a training step draws from them.
 *
 * Three formats, each read whole and every id checked against the model's
 * vocab (an id out of range is an error naming its position):
 *   - a NumPy .npy (versions 1.0, 2.0, 3.0) holding a 1-D, C-order,
 *     little-endian array of int32 ('<i4'), int64 ('<i8') or uint16 ('<u2');
 *     the header is parsed as the Python dict literal it is, and its three
 *     keys (descr, fortran_order, shape) must all be there, and no other;
 *   - a raw .bin of little-endian uint16 ids, nanoGPT's train.bin;
 *   - UTF-8 text, tokenized by the tokenizer (no special tokens added: the
 *     file is a stream, not one sequence), or without one read as bytes, ids
 *     0-255, which needs a vocab of at least 256.
 *
 * Windows: a step's B windows of T + 1 tokens start at positions drawn
 * uniformly from [0, n - T - 1] by a splitmix64 generator, whose one word
 * of state a checkpoint keeps.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tfm.h"
#include "tfm_internal.h"
#include "train.h"

#define TFM_NPY_MAGIC "\x93NUMPY"

void tfm_data_free(tfm_data *d)
{
	if (d == NULL)
		return;
	free(d->ids);
	memset(d, 0, sizeof *d);
}

static int tfm_ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), k = strlen(tail);

	return n >= k && strcmp(s + n - k, tail) == 0;
}

int tfm_data_format(const char *path, const void *head, size_t size)
{
	if ((size >= 6 && memcmp(head, TFM_NPY_MAGIC, 6) == 0) || tfm_ends_with(path, ".npy"))
		return TFM_DATA_NPY;
	if (tfm_ends_with(path, ".bin"))
		return TFM_DATA_BIN;
	return TFM_DATA_TEXT;
}

/* Fails naming the first id of ids[n] out of [0, vocab), its value as read. */
static int tfm_check_id(long long id, size_t pos, const char *label, int vocab, tfm_error *e)
{
	if (id >= 0 && id < vocab)
		return 0;
	return tfm_fail(e, "%s: token id %lld at position %zu is out of range: the model's vocab is %d "
	                "(ids 0 to %d)", label, id, pos, vocab, vocab - 1);
}

static int tfm_alloc_ids(tfm_data *d, size_t n, const char *label, tfm_error *e)
{
	if (n > SIZE_MAX / sizeof *d->ids || (d->ids = malloc(n * sizeof *d->ids)) == NULL)
		return tfm_fail(e, "%s: out of memory for %zu token ids", label, n);
	d->n = n;
	return 0;
}

/* ---- .npy ------------------------------------------------------------------ */

/* A cursor over the header's dict literal. */
typedef struct tfm_npy_lex {
	const char *p, *end;
} tfm_npy_lex;

static void tfm_npy_space(tfm_npy_lex *x)
{
	while (x->p < x->end && (*x->p == ' ' || *x->p == '\t' || *x->p == '\n' || *x->p == '\r'))
		x->p++;
}

static int tfm_npy_char(tfm_npy_lex *x, char c)
{
	tfm_npy_space(x);
	if (x->p < x->end && *x->p == c) {
		x->p++;
		return 1;
	}
	return 0;
}

/* A quoted string ('...' or "...", no escapes: numpy writes none) into
 * out[cap]; -1 when there is none or it does not fit. */
static int tfm_npy_string(tfm_npy_lex *x, char *out, size_t cap)
{
	const char *s;
	char q;

	tfm_npy_space(x);
	if (x->p >= x->end || (*x->p != '\'' && *x->p != '"'))
		return -1;
	q = *x->p++;
	for (s = x->p; x->p < x->end && *x->p != q; x->p++)
		if (*x->p == '\\' || *x->p == '\n' || *x->p == '\0')
			return -1;
	if (x->p >= x->end || (size_t)(x->p - s) >= cap)
		return -1;
	memcpy(out, s, (size_t)(x->p - s));
	out[x->p - s] = '\0';
	x->p++;
	return 0;
}

/* A word (True, False) into out[cap]. */
static int tfm_npy_word(tfm_npy_lex *x, char *out, size_t cap)
{
	size_t k = 0;

	tfm_npy_space(x);
	while (x->p < x->end && ((*x->p >= 'A' && *x->p <= 'Z') || (*x->p >= 'a' && *x->p <= 'z'))) {
		if (k + 1 >= cap)
			return -1;
		out[k++] = *x->p++;
	}
	out[k] = '\0';
	return k ? 0 : -1;
}

/* A tuple of non-negative integers "(a, b)" into dims[*ndim] (at most 8):
 * "()", "(3,)", "(2, 3)", "(2, 3,)"; "(3)" is an int in Python, not a tuple. */
static int tfm_npy_tuple(tfm_npy_lex *x, uint64_t *dims, int *ndim)
{
	int comma = 0;

	*ndim = 0;
	if (!tfm_npy_char(x, '('))
		return -1;
	for (;;) {
		uint64_t v = 0;
		int digits = 0;

		if (tfm_npy_char(x, ')'))
			return *ndim == 1 && !comma ? -1 : 0;
		if (*ndim > 0 && !comma)
			return -1;
		tfm_npy_space(x);
		while (x->p < x->end && *x->p >= '0' && *x->p <= '9') {
			if (v > (UINT64_MAX - 9) / 10)
				return -1;
			v = v * 10 + (uint64_t)(*x->p++ - '0');
			digits++;
		}
		if (digits > 0 && x->p < x->end && *x->p == 'L') /* Python 2 wrote 3L */
			x->p++;
		if (digits == 0 || *ndim == 8)
			return -1;
		dims[(*ndim)++] = v;
		comma = tfm_npy_char(x, ',');
	}
}

static int tfm_parse_npy(tfm_data *d, const unsigned char *b, size_t size, const char *label,
                         int vocab, tfm_error *e)
{
	char key[32], descr[32], word[16];
	uint64_t dims[8], hlen;
	size_t start, esize = 0, n, i;
	int ndim = 0, major, have_descr = 0, have_order = 0, have_shape = 0, kind = 0;
	tfm_npy_lex x;

	if (size < 10 || memcmp(b, TFM_NPY_MAGIC, 6) != 0)
		return tfm_fail(e, "%s: not a .npy file (it does not begin with \\x93NUMPY)", label);
	major = b[6];
	if (major == 1) {
		hlen = (uint64_t)b[8] | (uint64_t)b[9] << 8;
		start = 10;
	} else if (major == 2 || major == 3) {
		if (size < 12)
			return tfm_fail(e, "%s: truncated .npy header", label);
		hlen = (uint64_t)b[8] | (uint64_t)b[9] << 8 | (uint64_t)b[10] << 16
		       | (uint64_t)b[11] << 24;
		start = 12;
	} else {
		return tfm_fail(e, "%s: .npy version %d.%d is not one this reads (1.0, 2.0, 3.0)", label,
		                b[6], b[7]);
	}
	if (hlen > size - start)
		return tfm_fail(e, "%s: the .npy header (%llu bytes) runs past the end of the file "
		                "(%zu bytes): truncated file?", label, (unsigned long long)hlen, size);

	x.p = (const char *)b + start;
	x.end = x.p + hlen;
	if (!tfm_npy_char(&x, '{'))
		return tfm_fail(e, "%s: the .npy header is not a dict literal", label);
	while (!tfm_npy_char(&x, '}')) {
		if (tfm_npy_string(&x, key, sizeof key) != 0 || !tfm_npy_char(&x, ':'))
			return tfm_fail(e, "%s: the .npy header is not a dict literal of quoted keys",
			                label);
		if (strcmp(key, "descr") == 0 && !have_descr) {
			if (tfm_npy_string(&x, descr, sizeof descr) != 0)
				return tfm_fail(e, "%s: the .npy header's 'descr' is not a string "
				                "(a structured dtype?)", label);
			have_descr = 1;
		} else if (strcmp(key, "fortran_order") == 0 && !have_order) {
			if (tfm_npy_word(&x, word, sizeof word) != 0
			    || (strcmp(word, "False") != 0 && strcmp(word, "True") != 0))
				return tfm_fail(e, "%s: the .npy header's 'fortran_order' is not True or False",
				                label);
			if (strcmp(word, "True") == 0)
				return tfm_fail(e, "%s: the .npy array is in Fortran order: save it in C order",
				                label);
			have_order = 1;
		} else if (strcmp(key, "shape") == 0 && !have_shape) {
			if (tfm_npy_tuple(&x, dims, &ndim) != 0)
				return tfm_fail(e, "%s: the .npy header's 'shape' is not a tuple of integers",
				                label);
			have_shape = 1;
		} else {
			return tfm_fail(e, "%s: the .npy header has %s key '%.31s'", label,
			                strcmp(key, "descr") == 0 || strcmp(key, "fortran_order") == 0
			                || strcmp(key, "shape") == 0 ? "a second" : "an unknown", key);
		}
		if (!tfm_npy_char(&x, ',')) {
			if (!tfm_npy_char(&x, '}'))
				return tfm_fail(e, "%s: the .npy header is not a dict literal", label);
			break;
		}
	}
	tfm_npy_space(&x);
	if (x.p != x.end)
		return tfm_fail(e, "%s: the .npy header has text after its dict", label);
	if (!have_descr || !have_order || !have_shape)
		return tfm_fail(e, "%s: the .npy header lacks '%s'", label,
		                !have_descr ? "descr" : !have_order ? "fortran_order" : "shape");

	if (strcmp(descr, "<i4") == 0)
		kind = 4, esize = 4;
	else if (strcmp(descr, "<i8") == 0)
		kind = 8, esize = 8;
	else if (strcmp(descr, "<u2") == 0)
		kind = 2, esize = 2;
	else if (descr[0] == '>' && (strcmp(descr + 1, "i4") == 0 || strcmp(descr + 1, "i8") == 0
	                             || strcmp(descr + 1, "u2") == 0))
		return tfm_fail(e, "%s: the .npy array is big-endian ('%s'): save it little-endian", label,
		                descr);
	else
		return tfm_fail(e, "%s: the .npy array has dtype '%.31s'; token ids must be int32 ('<i4'), "
		                "int64 ('<i8') or uint16 ('<u2')", label, descr);
	if (ndim != 1) {
		if (ndim == 0)
			return tfm_fail(e, "%s: the .npy array is a scalar (shape ()): token ids are a 1-D "
			                "array", label);
		return tfm_fail(e, "%s: the .npy array has %d dimensions: token ids are a 1-D array "
		                "(flatten it)", label, ndim);
	}
	if (dims[0] == 0)
		return tfm_fail(e, "%s: the .npy array is empty: there are no tokens", label);
	start += (size_t)hlen;
	if (dims[0] > (size - start) / esize)
		return tfm_fail(e, "%s: the .npy array of %llu ids needs %llu bytes of data, the file has "
		                "%zu: truncated file?", label, (unsigned long long)dims[0],
		                dims[0] > UINT64_MAX / esize ? 0ull
		                : (unsigned long long)(dims[0] * esize), size - start);
	n = (size_t)dims[0];
	if (size - start != n * esize)
		return tfm_fail(e, "%s: the .npy file has %zu bytes after its %zu ids", label,
		                size - start - n * esize, n);
	if (tfm_alloc_ids(d, n, label, e) != 0)
		return -1;
	b += start;
	for (i = 0; i < n; i++) {
		long long v;
		if (kind == 2) {
			v = (long long)(b[2 * i] | b[2 * i + 1] << 8);
		} else if (kind == 4) {
			uint32_t u = (uint32_t)b[4 * i] | (uint32_t)b[4 * i + 1] << 8
			             | (uint32_t)b[4 * i + 2] << 16 | (uint32_t)b[4 * i + 3] << 24;
			v = (long long)(int32_t)u;
		} else {
			uint64_t u = 0;
			for (int k = 7; k >= 0; k--)
				u = u << 8 | b[8 * i + (size_t)k];
			v = (long long)(int64_t)u;
		}
		if (tfm_check_id(v, i, label, vocab, e) != 0) {
			tfm_data_free(d);
			return -1;
		}
		d->ids[i] = (int)v;
	}
	d->format = TFM_DATA_NPY;
	return 0;
}

/* ---- .bin, text ----------------------------------------------------------- */

static int tfm_parse_bin(tfm_data *d, const unsigned char *b, size_t size, const char *label,
                         int vocab, tfm_error *e)
{
	size_t i;

	if (size == 0)
		return tfm_fail(e, "%s: the file is empty: there are no tokens", label);
	if (size % 2 != 0)
		return tfm_fail(e, "%s: %zu bytes are not a whole number of uint16 token ids "
		                "(a .bin holds raw little-endian uint16)", label, size);
	if (tfm_alloc_ids(d, size / 2, label, e) != 0)
		return -1;
	for (i = 0; i < d->n; i++) {
		int v = b[2 * i] | b[2 * i + 1] << 8;
		if (tfm_check_id(v, i, label, vocab, e) != 0) {
			tfm_data_free(d);
			return -1;
		}
		d->ids[i] = v;
	}
	d->format = TFM_DATA_BIN;
	return 0;
}

static int tfm_parse_text(tfm_data *d, const unsigned char *b, size_t size, const char *label,
                          tfm_tokenizer *tok, int vocab, tfm_error *e)
{
	tfm_error te = { { 0 } };
	size_t i, n;
	int *ids;

	if (size == 0)
		return tfm_fail(e, "%s: the file is empty: there are no tokens", label);
	if (tok == NULL) {
		if (vocab < 256)
			return tfm_fail(e, "%s: text without a tokenizer is read as bytes (ids 0-255), but "
			                "the model's vocab is %d: give a tokenizer, or train a model with "
			                "vocab >= 256", label, vocab);
		if (tfm_alloc_ids(d, size, label, e) != 0)
			return -1;
		for (i = 0; i < size; i++)
			d->ids[i] = b[i];
		d->format = TFM_DATA_BYTES;
		d->bytes = size;
		return 0;
	}
	if (tfm_tokenizer_encode(tok, (const char *)b, size, 0, &ids, &n, &te) != 0)
		return tfm_fail(e, "%s: %s", label, te.msg);
	if (n == 0) {
		free(ids);
		return tfm_fail(e, "%s: the text encodes to no tokens", label);
	}
	for (i = 0; i < n; i++)
		if (tfm_check_id(ids[i], i, label, vocab, e) != 0) {
			free(ids);
			return -1;
		}
	d->ids = ids;
	d->n = n;
	d->format = TFM_DATA_TEXT;
	d->bytes = size;
	return 0;
}

int tfm_data_parse(tfm_data *d, const void *bytes, size_t size, int format, const char *label,
                   tfm_tokenizer *tok, int vocab, tfm_error *e)
{
	memset(d, 0, sizeof *d);
	if (label == NULL)
		label = "<data>";
	if (size > 0 && bytes == NULL)
		return tfm_fail(e, "%s: no data", label);
	if (vocab < 1)
		return tfm_fail(e, "%s: the model's vocab is %d", label, vocab);
	switch (format) {
	case TFM_DATA_NPY:
		if (size == 0)
			return tfm_fail(e, "%s: the file is empty: there are no tokens", label);
		return tfm_parse_npy(d, bytes, size, label, vocab, e);
	case TFM_DATA_BIN:
		return tfm_parse_bin(d, bytes, size, label, vocab, e);
	case TFM_DATA_TEXT:
		return tfm_parse_text(d, bytes, size, label, tok, vocab, e);
	}
	return tfm_fail(e, "%s: unknown data format %d", label, format);
}

int tfm_data_read(tfm_data *d, const char *path, tfm_tokenizer *tok, int vocab, tfm_error *e)
{
	const void *base;
	size_t size;
	int rc;

	memset(d, 0, sizeof *d);
	if (tfm_file_map(path, &base, &size, e) != 0)
		return -1;
	rc = tfm_data_parse(d, base, size, tfm_data_format(path, base, size), path, tok, vocab, e);
	tfm_file_unmap(base, size);
	return rc;
}

uint64_t tfm_data_hash(const int *ids, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < 4; k++)
			h = (h ^ (((uint32_t)ids[i] >> (8 * k)) & 0xff)) * 0x100000001b3ull;
	return h;
}

/* ---- Windows --------------------------------------------------------------- */

static uint64_t tfm_splitmix(uint64_t *s)
{
	return tfm_mix64(*s += 0x9e3779b97f4a7c15ull);
}

uint64_t tfm_windows_seed(uint64_t seed)
{
	return tfm_mix64(seed ^ 0x77696e646f777321ull); /* "windows!" */
}

uint64_t tfm_rng_below(uint64_t *state, uint64_t n)
{
	uint64_t floor = (0 - n) % n; /* 2^64 mod n: draws below it are refused */
	uint64_t r;

	do
		r = tfm_splitmix(state);
	while (r < floor);
	return r % n;
}

void tfm_windows_draw(uint64_t *state, const int *ids, size_t n, int batch, int seq, int *tokens)
{
	uint64_t starts = (uint64_t)(n - (size_t)seq); /* n - (seq + 1) + 1 */

	for (int b = 0; b < batch; b++) {
		size_t s = (size_t)tfm_rng_below(state, starts);
		memcpy(tokens + (size_t)b * ((size_t)seq + 1), ids + s, ((size_t)seq + 1) * sizeof *ids);
	}
}
