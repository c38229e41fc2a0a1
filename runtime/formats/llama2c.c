/* llama2c.c: llama2.c checkpoints (.bin), read in place.
 *
 * A llama2.c checkpoint (MODEL_REFERENCE.md section 6) is a header and
 * float32 arrays, each kind of weight stacked over the layers: wq is
 * [n_layers, dim, dim].  Layer i's slice of a stack is a contiguous
 * row-major [rows, cols] matrix in nn.Linear's [out, in] layout, which is
 * section 3's, so every tensor is used where it lies: the file becomes a
 * tfm_file whose tensors bind under section 3's names, and nothing is
 * copied.
 *
 *   version 0: seven int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
 *              vocab_size, seq_len; vocab_size < 0: an untied classifier),
 *              then token_embedding, rms_att, wq, wk, wv, wo, rms_ffn, w1,
 *              w2, w3, rms_final, two RoPE tables [seq_len, head_dim/2]
 *              (not weights), and wcls when untied.
 *   version 1: 256 bytes: uint32 magic 0x616b3432 ("ak42"), int32 1, the
 *              seven int32, uint8 shared_classifier, zeros; then rms_att,
 *              rms_ffn, rms_final, token_embedding, wq, wk, wv, wo, w1, w2,
 *              w3, and wcls when not shared.
 *
 * w1 is the gate, w3 the up and w2 the down projection.  Every size is
 * checked against the file's length before any tensor is listed, so a
 * truncated or foreign file is an error that says what was expected.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "formats.h"

#define L2C_MAGIC   0x616b3432u
#define L2C_HEADER1 256
#define L2C_MAX_DIM (1 << 24)	/* any dimension beyond is a foreign file */

static int32_t l2c_i32(const unsigned char *p)
{
	return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16
	                 | (uint32_t)p[3] << 24);
}

int tfm_llama2c_probe(const void *data, size_t size)
{
	return size >= 4 && l2c_i32(data) == (int32_t)L2C_MAGIC;
}

/* One stacked array: n_layers (1 for a global) slices of [rows, cols]. */
typedef struct l2c_array {
	const char *name;	/* section 3 name, "%d" for the layer */
	int stacked;		/* one slice per layer; -1: not a weight */
	int64_t rows, cols;	/* cols 0: a vector */
} l2c_array;

static int l2c_layout(const tfm_llama2c_config *c, l2c_array *a)
{
	int64_t dim = c->dim, hid = c->hidden_dim, kv = (int64_t)c->n_kv_heads * (dim / c->n_heads);
	int64_t vocab = c->vocab_size, half = dim / c->n_heads / 2;
	int n = 0;
#define A(nm, st, r, co) (a[n++] = (l2c_array){ nm, st, r, co })
	if (c->version == 0) {
		A("tok_embeddings.weight", 0, vocab, dim);
		A("layers.%d.attention_norm.weight", 1, dim, 0);
		A("layers.%d.attention.wq.weight", 1, dim, dim);
		A("layers.%d.attention.wk.weight", 1, kv, dim);
		A("layers.%d.attention.wv.weight", 1, kv, dim);
		A("layers.%d.attention.wo.weight", 1, dim, dim);
		A("layers.%d.ffn_norm.weight", 1, dim, 0);
		A("layers.%d.feed_forward.w_gate.weight", 1, hid, dim);
		A("layers.%d.feed_forward.w_down.weight", 1, dim, hid);
		A("layers.%d.feed_forward.w_up.weight", 1, hid, dim);
		A("norm.weight", 0, dim, 0);
		A("freq_cis_real", -1, c->seq_len, half);
		A("freq_cis_imag", -1, c->seq_len, half);
	} else {
		A("layers.%d.attention_norm.weight", 1, dim, 0);
		A("layers.%d.ffn_norm.weight", 1, dim, 0);
		A("norm.weight", 0, dim, 0);
		A("tok_embeddings.weight", 0, vocab, dim);
		A("layers.%d.attention.wq.weight", 1, dim, dim);
		A("layers.%d.attention.wk.weight", 1, kv, dim);
		A("layers.%d.attention.wv.weight", 1, kv, dim);
		A("layers.%d.attention.wo.weight", 1, dim, dim);
		A("layers.%d.feed_forward.w_gate.weight", 1, hid, dim);
		A("layers.%d.feed_forward.w_down.weight", 1, dim, hid);
		A("layers.%d.feed_forward.w_up.weight", 1, hid, dim);
	}
	if (!c->shared_classifier)
		A("output.weight", 0, vocab, dim);
#undef A
	return n;
}

/* The header: the config and where the arrays start, checked for sense. */
static int l2c_header(tfm_llama2c_config *c, const unsigned char *p, size_t size, size_t *start,
                      const char *L, tfm_error *e)
{
	int32_t h[7];
	static const char *const names[7] = {
		"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"
	};

	memset(c, 0, sizeof *c);
	if (tfm_llama2c_probe(p, size)) {
		if (size < L2C_HEADER1)
			return tfm_fail(e, "%s: llama2.c version 1 header is %d bytes, the file only %zu: truncated file?",
			                L, L2C_HEADER1, size);
		if (l2c_i32(p + 4) != 1)
			return tfm_fail(e, "%s: llama2.c checkpoint of version %d: only versions 0 and 1 are supported",
			                L, (int)l2c_i32(p + 4));
		c->version = 1;
		for (int i = 0; i < 7; i++)
			h[i] = l2c_i32(p + 8 + 4 * i);
		if (p[36] > 1)
			return tfm_fail(e, "%s: llama2.c shared_classifier is %d, expected 0 or 1", L, p[36]);
		c->shared_classifier = p[36];
		*start = L2C_HEADER1;
	} else {
		if (size < 28)
			return tfm_fail(e, "%s: %zu bytes: too short for a llama2.c checkpoint (a 28-byte header)",
			                L, size);
		c->version = 0;
		for (int i = 0; i < 7; i++)
			h[i] = l2c_i32(p + 4 * i);
		c->shared_classifier = h[5] > 0;
		if (h[5] < 0 && h[5] != INT32_MIN)
			h[5] = -h[5];
		*start = 28;
	}
	for (int i = 0; i < 7; i++)
		if (h[i] <= 0 || h[i] > L2C_MAX_DIM)
			return tfm_fail(e, "%s: llama2.c header: %s = %d is not a size (1 to %d): not a llama2.c checkpoint?",
			                L, names[i], (int)h[i], L2C_MAX_DIM);
	c->dim = h[0];
	c->hidden_dim = h[1];
	c->n_layers = h[2];
	c->n_heads = h[3];
	c->n_kv_heads = h[4];
	c->vocab_size = h[5];
	c->seq_len = h[6];
	if (c->dim % c->n_heads != 0)
		return tfm_fail(e, "%s: llama2.c header: dim %d is not divisible by n_heads %d", L, c->dim,
		                c->n_heads);
	if ((c->dim / c->n_heads) % 2 != 0)
		return tfm_fail(e, "%s: llama2.c header: head size %d (dim / n_heads) is odd: RoPE needs pairs",
		                L, c->dim / c->n_heads);
	if (c->n_kv_heads > c->n_heads || c->n_heads % c->n_kv_heads != 0)
		return tfm_fail(e, "%s: llama2.c header: n_kv_heads %d does not divide n_heads %d", L,
		                c->n_kv_heads, c->n_heads);
	return 0;
}

int tfm_llama2c_parse(tfm_file **out, tfm_llama2c_config *c, const void *data, size_t size,
                      const char *label, tfm_error *e)
{
	l2c_array a[16];
	tfm_file *f = NULL;
	size_t start = 0, off;
	uint64_t need;
	char name[96];
	int n;

	*out = NULL;
	if (l2c_header(c, data, size, &start, label, e) != 0)
		return -1;
	n = l2c_layout(c, a);
	/* Sizes: every factor is at most 2^24 and there are few terms, so
	 * 64 bits cannot overflow before the comparison. */
	need = start;
	for (int i = 0; i < n; i++)
		need += (uint64_t)(a[i].stacked > 0 ? c->n_layers : 1) * (uint64_t)a[i].rows
		        * (uint64_t)(a[i].cols ? a[i].cols : 1) * 4;
	if (need != size) {
		if (c->version == 0 && c->shared_classifier
		    && need + (uint64_t)c->vocab_size * (uint64_t)c->dim * 4 == size)
			return tfm_fail(e, "%s: llama2.c version 0 file holds an output classifier but its "
			                "vocab_size is positive (untied is written as negative)", label);
		return tfm_fail(e, "%s: a llama2.c version %d checkpoint with dim %d, hidden_dim %d, "
		                "n_layers %d, n_heads %d, n_kv_heads %d, vocab_size %d, seq_len %d (%s classifier) "
		                "is %llu bytes, but the file is %zu: %s", label, c->version, c->dim,
		                c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads, c->vocab_size, c->seq_len,
		                c->shared_classifier ? "shared" : "own", (unsigned long long)need, size,
		                need > size ? "truncated file?" : "not a llama2.c checkpoint, or not this version?");
	}
	if (tfm_file_new(&f, label, data, size, e) != 0)
		return -1;
	off = start;
	for (int i = 0; i < n; i++) {
		size_t shape[2] = { (size_t)a[i].rows, (size_t)a[i].cols };
		int ndim = a[i].cols ? 2 : 1;
		for (int l = 0; l < (a[i].stacked > 0 ? c->n_layers : 1); l++) {
			snprintf(name, sizeof name, a[i].name, l);
			if (tfm_file_add(f, name, TFM_F32, ndim, shape, off, e) != 0
			    || (a[i].stacked < 0
			        && tfm_file_set_key(f, tfm_file_count(f) - 1, NULL, TFM_IGNORE, NULL, e) != 0))
				goto fail;
			off += shape[0] * (shape[1] ? shape[1] : 1) * 4;
		}
	}
	if (tfm_file_index(f, e) != 0)
		goto fail;
	*out = f;
	return 0;
fail:
	if (f)
		tfm_file_close(f);
	return -1;
}

int tfm_llama2c_open(tfm_file **f, tfm_llama2c_config *c, const char *path, tfm_error *e)
{
	const void *map;
	size_t size;

	*f = NULL;
	if (tfm_file_map(path, &map, &size, e) != 0)
		return -1;
	if (tfm_llama2c_parse(f, c, map, size, path, e) != 0) {
		tfm_file_unmap(map, size);
		return -1;
	}
	tfm_file_take_map(*f);
	return 0;
}
