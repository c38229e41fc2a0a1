/* gguf.c: GGUF files (llama.cpp's), read in place.
 *
 * A GGUF file (versions 2 and 3, little-endian; MODEL_REFERENCE.md
 * section 6) is
 *
 *   "GGUF", uint32 version, uint64 tensor count, uint64 metadata count,
 *   metadata: key (a string), uint32 value type, value;
 *   tensor infos: name (a string), uint32 n_dims, uint64 dims[n_dims],
 *                 uint32 ggml type, uint64 offset;
 *   padding to general.alignment (uint32, default 32), then the data
 *   section, each tensor at its offset (a multiple of the alignment).
 *
 * A string is a uint64 length and that many bytes, no NUL; an array is a
 * uint32 element type, a uint64 count and the elements (arrays of arrays
 * too).  Every length, count, dimension and offset is checked against the
 * bytes that are left before anything is allocated or read, so a truncated
 * or malformed file is an error naming the problem, never a crash; counts
 * are compared by division (count > left / size), never multiplied.
 *
 * Dimensions: GGUF lists them fastest-varying first (dims[0] is the length
 * of a row), so a row-major [out, in] matrix is stored as dims {in, out}.
 * The tfm_file's shape is the reverse, section 3's order: shape[k] =
 * dims[n_dims - 1 - k], so that matrix is listed as [out, in].  A
 * quantized type's blocks run along dims[0], which must be a multiple of
 * the block.
 *
 * The tensors keep their GGUF names as stored names and keys;
 * tfm_gguf_take_weights keys them by section 3's names (section 6's table,
 * here, both ways) for binding.  F32, F16 and BF16 tensors are tfm's
 * dtypes, Q8_0, Q4_0, Q4_K and Q6_K its quantized ones (bound in place);
 * any other ggml type is an error at open.  Metadata values point into the
 * map: strings are not copied, arrays are walked with an iterator.
 *
 * Writing (tfm_gguf_write, for tfmc export) is version 3 aligned to 32.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats.h"

#define GG_DEFAULT_ALIGN 32
#define GG_MAX_DIMS      4	/* GGML_MAX_DIMS */
#define GG_MAX_DEPTH     4	/* arrays of arrays of ... */
#define GG_MAX_SHOW      200	/* bytes of a key or name shown in a message */

static const char *const gg_type_names[TFM_GGUF__COUNT] = {
	"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool",
	"string", "array", "uint64", "int64", "float64",
};
/* Bytes of a value of each type; strings and arrays: their least. */
static const size_t gg_type_size[TFM_GGUF__COUNT] = { 1, 1, 2, 2, 4, 4, 4, 1, 8, 12, 8, 8, 8 };

const char *tfm_gguf_type_name(int type)
{
	return type >= 0 && type < TFM_GGUF__COUNT ? gg_type_names[type] : "?";
}

/* ggml's types by number (ggml.h's enum ggml_type), for messages; dtype is
 * tfm's, or -1 for a type tfm does not read. */
static const struct {
	const char *name;
	int dtype;
} gg_ggml_types[] = {
	[0] = { "F32", TFM_F32 },      [1] = { "F16", TFM_F16 },        [2] = { "Q4_0", TFM_Q4_0 },
	[3] = { "Q4_1", -1 },          [6] = { "Q5_0", -1 },            [7] = { "Q5_1", -1 },
	[8] = { "Q8_0", TFM_Q8_0 },    [9] = { "Q8_1", -1 },            [10] = { "Q2_K", -1 },
	[11] = { "Q3_K", -1 },         [12] = { "Q4_K", TFM_Q4_K },     [13] = { "Q5_K", -1 },
	[14] = { "Q6_K", TFM_Q6_K },   [15] = { "Q8_K", -1 },           [16] = { "IQ2_XXS", -1 },
	[17] = { "IQ2_XS", -1 },       [18] = { "IQ3_XXS", -1 },        [19] = { "IQ1_S", -1 },
	[20] = { "IQ4_NL", -1 },       [21] = { "IQ3_S", -1 },          [22] = { "IQ2_S", -1 },
	[23] = { "IQ4_XS", -1 },       [24] = { "I8", -1 },             [25] = { "I16", -1 },
	[26] = { "I32", -1 },          [27] = { "I64", -1 },            [28] = { "F64", -1 },
	[29] = { "IQ1_M", -1 },        [30] = { "BF16", TFM_BF16 },     [34] = { "TQ1_0", -1 },
	[35] = { "TQ2_0", -1 },        [39] = { "MXFP4", -1 },
};
#define GG_N_GGML ((uint32_t)(sizeof gg_ggml_types / sizeof gg_ggml_types[0]))

typedef struct gg_kv {
	const char *key;	/* [key_len] in the map, no NUL */
	size_t key_len;
	tfm_gguf_value v;
} gg_kv;

struct tfm_gguf {
	tfm_file *file;		/* the tensors; owns the map when opened by path */
	uint32_t version;	/* 2 or 3 */
	uint32_t alignment;
	size_t data_offset;	/* where the data section starts */
	gg_kv *kv;		/* [n_kv] in file order */
	gg_kv **sorted;		/* [n_kv] into kv, by key */
	size_t n_kv;
};

/* ---- Reading bytes ------------------------------------------------------- */

/* A position in the size bytes at base, and what is being read there (for
 * messages: "metadata 'general.name'", "tensor 3 'output.weight'"). */
typedef struct gg_cur {
	const unsigned char *base;
	size_t size, pos;
	const char *L;
	char what[GG_MAX_SHOW + 64];
	tfm_error *e;
} gg_cur;

static uint64_t gg_le(const unsigned char *p, int n)
{
	uint64_t x = 0;
	for (int i = n - 1; i >= 0; i--)
		x = x << 8 | p[i];
	return x;
}

/* n more bytes, or a message saying whose. */
static int gg_need(gg_cur *c, size_t n, const char *field)
{
	if (n <= c->size - c->pos)
		return 0;
	return tfm_fail(c->e, "%s: %s: %s at byte %zu needs %zu bytes, only %zu are left: truncated file?",
	                c->L, c->what, field, c->pos, n, c->size - c->pos);
}

static int gg_u32(gg_cur *c, uint32_t *x, const char *field)
{
	if (gg_need(c, 4, field) != 0)
		return -1;
	*x = (uint32_t)gg_le(c->base + c->pos, 4);
	c->pos += 4;
	return 0;
}

static int gg_u64(gg_cur *c, uint64_t *x, const char *field)
{
	if (gg_need(c, 8, field) != 0)
		return -1;
	*x = gg_le(c->base + c->pos, 8);
	c->pos += 8;
	return 0;
}

/* A string: *s points into the map, [*len] bytes. */
static int gg_string(gg_cur *c, const char **s, size_t *len, const char *field)
{
	uint64_t n;
	size_t at = c->pos;

	if (gg_u64(c, &n, field) != 0)
		return -1;
	if (n > c->size - c->pos)
		return tfm_fail(c->e, "%s: %s: %s at byte %zu is %" PRIu64 " bytes long, past the end of the file (%zu bytes): truncated file?",
		                c->L, c->what, field, at, n, c->size);
	*s = (const char *)c->base + c->pos;
	*len = (size_t)n;
	c->pos += (size_t)n;
	return 0;
}

/* One value of type at the cursor into v (arrays: their elements checked,
 * depth levels deep at most). */
static int gg_value(gg_cur *c, int type, int depth, tfm_gguf_value *v)
{
	const unsigned char *p;
	size_t at = c->pos;

	memset(v, 0, sizeof *v);
	v->type = type;
	if (type == TFM_GGUF_STRING)
		return gg_string(c, &v->str, &v->len, "the string");
	if (type == TFM_GGUF_ARRAY) {
		uint32_t et;
		uint64_t n;
		if (gg_u32(c, &et, "the array's type") != 0 || gg_u64(c, &n, "the array's count") != 0)
			return -1;
		if (et >= TFM_GGUF__COUNT)
			return tfm_fail(c->e, "%s: %s: the array at byte %zu has elements of type %" PRIu32 ", which is not a GGUF type",
			                c->L, c->what, at, et);
		if (et == TFM_GGUF_ARRAY && depth >= GG_MAX_DEPTH)
			return tfm_fail(c->e, "%s: %s: arrays nested more than %d deep at byte %zu", c->L, c->what,
			                GG_MAX_DEPTH, at);
		if (n > (c->size - c->pos) / gg_type_size[et])
			return tfm_fail(c->e, "%s: %s: an array of %" PRIu64 " %s at byte %zu runs past the end of the file (%zu bytes): truncated file?",
			                c->L, c->what, n, gg_type_names[et], at, c->size);
		v->elem_type = (int)et;
		v->count = n;
		v->items = c->base + c->pos;
		if (et != TFM_GGUF_STRING && et != TFM_GGUF_ARRAY && et != TFM_GGUF_BOOL) {
			c->pos += (size_t)n * gg_type_size[et];	/* n * size fits: checked above */
		} else {
			tfm_gguf_value x;
			for (uint64_t i = 0; i < n; i++)
				if (gg_value(c, (int)et, depth + 1, &x) != 0)
					return -1;
		}
		v->bytes = (size_t)(c->base + c->pos - v->items);
		return 0;
	}
	if (type < 0 || type >= TFM_GGUF__COUNT)
		return tfm_fail(c->e, "%s: %s: value type %d at byte %zu is not a GGUF type", c->L, c->what,
		                type, at);
	if (gg_need(c, gg_type_size[type], "the value") != 0)
		return -1;
	p = c->base + c->pos;
	c->pos += gg_type_size[type];
	switch (type) {
	case TFM_GGUF_UINT8: case TFM_GGUF_UINT16: case TFM_GGUF_UINT32: case TFM_GGUF_UINT64:
		v->u = gg_le(p, (int)gg_type_size[type]);
		break;
	case TFM_GGUF_INT8:
		v->i = (int8_t)p[0];
		break;
	case TFM_GGUF_INT16:
		v->i = (int16_t)(uint16_t)gg_le(p, 2);
		break;
	case TFM_GGUF_INT32:
		v->i = (int32_t)(uint32_t)gg_le(p, 4);
		break;
	case TFM_GGUF_INT64:
		v->i = (int64_t)gg_le(p, 8);
		break;
	case TFM_GGUF_BOOL:
		if (p[0] > 1)
			return tfm_fail(c->e, "%s: %s: bool at byte %zu is %d, not 0 or 1", c->L, c->what, at, p[0]);
		v->u = p[0];
		break;
	case TFM_GGUF_FLOAT32: {
		uint32_t u = (uint32_t)gg_le(p, 4);
		float f;
		memcpy(&f, &u, sizeof f);
		v->f = f;
		break;
	}
	default: {		/* FLOAT64 */
		uint64_t u = gg_le(p, 8);
		double d;
		memcpy(&d, &u, sizeof d);
		v->f = d;
		break;
	}
	}
	return 0;
}

/* ---- Metadata ------------------------------------------------------------ */

static int gg_keycmp(const char *a, size_t na, const char *b, size_t nb)
{
	int r = memcmp(a, b, na < nb ? na : nb);
	return r ? r : (na > nb) - (na < nb);
}

static int gg_cmp_kv(const void *x, const void *y)
{
	const gg_kv *a = *(const gg_kv *const *)x, *b = *(const gg_kv *const *)y;
	int r = gg_keycmp(a->key, a->key_len, b->key, b->key_len);
	/* Equal keys in file order, so that the message names the second. */
	return r ? r : (a > b) - (a < b);
}

static int gg_show(size_t len)
{
	return len < GG_MAX_SHOW ? (int)len : GG_MAX_SHOW;
}

int tfm_gguf_find(const tfm_gguf *g, const char *key, tfm_gguf_value *v)
{
	size_t lo = 0, hi = g->n_kv, n = strlen(key);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const gg_kv *kv = g->sorted[mid];
		int r = gg_keycmp(kv->key, kv->key_len, key, n);
		if (r == 0) {
			if (v)
				*v = kv->v;
			return 0;
		}
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

size_t tfm_gguf_count(const tfm_gguf *g)
{
	return g->n_kv;
}

int tfm_gguf_kv(const tfm_gguf *g, size_t i, const char **key, size_t *key_len, tfm_gguf_value *v)
{
	if (i >= g->n_kv)
		return -1;
	*key = g->kv[i].key;
	*key_len = g->kv[i].key_len;
	*v = g->kv[i].v;
	return 0;
}

int tfm_gguf_uint(const tfm_gguf *g, const char *key, uint64_t *x)
{
	tfm_gguf_value v;

	if (tfm_gguf_find(g, key, &v) != 0)
		return -1;
	switch (v.type) {
	case TFM_GGUF_UINT8: case TFM_GGUF_UINT16: case TFM_GGUF_UINT32: case TFM_GGUF_UINT64:
		*x = v.u;
		return 0;
	case TFM_GGUF_INT8: case TFM_GGUF_INT16: case TFM_GGUF_INT32: case TFM_GGUF_INT64:
		if (v.i < 0)
			return -1;
		*x = (uint64_t)v.i;
		return 0;
	default:
		return -1;
	}
}

int tfm_gguf_float(const tfm_gguf *g, const char *key, double *x)
{
	tfm_gguf_value v;

	if (tfm_gguf_find(g, key, &v) != 0 || (v.type != TFM_GGUF_FLOAT32 && v.type != TFM_GGUF_FLOAT64))
		return -1;
	*x = v.f;
	return 0;
}

int tfm_gguf_string(const tfm_gguf *g, const char *key, const char **s, size_t *len)
{
	tfm_gguf_value v;

	if (tfm_gguf_find(g, key, &v) != 0 || v.type != TFM_GGUF_STRING)
		return -1;
	*s = v.str;
	*len = v.len;
	return 0;
}

void tfm_gguf_iter_init(tfm_gguf_iter *it, const tfm_gguf_value *array)
{
	int is_array = array->type == TFM_GGUF_ARRAY && array->items != NULL;

	it->type = array->elem_type;
	it->left = is_array ? array->count : 0;
	it->p = is_array ? array->items : NULL;
	it->end = is_array ? array->items + array->bytes : NULL;
}

int tfm_gguf_iter_next(tfm_gguf_iter *it, tfm_gguf_value *v)
{
	gg_cur c = { .base = it->p, .size = (size_t)(it->end - it->p), .L = "", .what = "" };
	tfm_error e;

	if (it->left == 0)
		return 0;
	c.e = &e;
	/* Checked at open: this cannot fail, but stops cleanly if it did. */
	if (gg_value(&c, it->type, 0, v) != 0) {
		it->left = 0;
		return 0;
	}
	it->p += c.pos;
	it->left--;
	return 1;
}

/* ---- The file -------------------------------------------------------------- */

tfm_file *tfm_gguf_file(const tfm_gguf *g)
{
	return g->file;
}

uint32_t tfm_gguf_version(const tfm_gguf *g)
{
	return g->version;
}

uint32_t tfm_gguf_alignment(const tfm_gguf *g)
{
	return g->alignment;
}

int tfm_gguf_probe(const void *data, size_t size)
{
	return size >= 4 && memcmp(data, "GGUF", 4) == 0;
}

void tfm_gguf_close(tfm_gguf *g)
{
	if (g == NULL)
		return;
	tfm_file_close(g->file);
	free(g->kv);
	free(g->sorted);
	free(g);
}

/* The header: magic, version, the two counts. */
static int gg_header(gg_cur *c, tfm_gguf *g, uint64_t *n_tensors, uint64_t *n_kv)
{
	const unsigned char *p = c->base;

	if (c->size < 4)
		return tfm_fail(c->e, "%s: %zu bytes: too short for a GGUF file", c->L, c->size);
	if (!tfm_gguf_probe(p, c->size))
		return tfm_fail(c->e, "%s: not a GGUF file: it starts with bytes %02x %02x %02x %02x, not \"GGUF\"",
		                c->L, p[0], p[1], p[2], p[3]);
	c->pos = 4;
	snprintf(c->what, sizeof c->what, "GGUF header");
	if (gg_u32(c, &g->version, "the version") != 0)
		return -1;
	if (g->version != 2 && g->version != 3) {
		if (g->version != 0 && (g->version & 0xffff) == 0)
			return tfm_fail(c->e, "%s: GGUF version %" PRIu32 " (0x%08" PRIx32 "): a big-endian file? only little-endian versions 2 and 3 are supported",
			                c->L, g->version, g->version);
		return tfm_fail(c->e, "%s: GGUF version %" PRIu32 " is not supported: only versions 2 and 3 are%s",
		                c->L, g->version, g->version == 1 ? " (version 1 had 32-bit counts)" : "");
	}
	if (gg_u64(c, n_tensors, "the tensor count") != 0 || gg_u64(c, n_kv, "the metadata count") != 0)
		return -1;
	/* The least a pair takes: a 1-byte key (8 + 1), its type (4), a
	 * 1-byte value; a tensor info: a 1-byte name, n_dims, one dim, its
	 * type and offset. */
	if (*n_kv > (c->size - c->pos) / 14)
		return tfm_fail(c->e, "%s: GGUF header: %" PRIu64 " metadata pairs cannot fit in the %zu bytes left: truncated file?",
		                c->L, *n_kv, c->size - c->pos);
	if (*n_tensors > (c->size - c->pos) / 33)
		return tfm_fail(c->e, "%s: GGUF header: %" PRIu64 " tensor infos cannot fit in the %zu bytes left: truncated file?",
		                c->L, *n_tensors, c->size - c->pos);
	return 0;
}

/* The metadata pairs, sorted for lookup; general.alignment read. */
static int gg_metadata(gg_cur *c, tfm_gguf *g, uint64_t n_kv)
{
	g->alignment = GG_DEFAULT_ALIGN;
	g->kv = calloc(n_kv ? (size_t)n_kv : 1, sizeof *g->kv);
	g->sorted = calloc(n_kv ? (size_t)n_kv : 1, sizeof *g->sorted);
	if (g->kv == NULL || g->sorted == NULL)
		return tfm_fail(c->e, "%s: out of memory", c->L);
	for (size_t i = 0; i < n_kv; i++) {
		gg_kv *kv = &g->kv[i];
		uint32_t type;
		snprintf(c->what, sizeof c->what, "metadata pair %zu", i);
		if (gg_string(c, &kv->key, &kv->key_len, "the key") != 0)
			return -1;
		if (kv->key_len == 0)
			return tfm_fail(c->e, "%s: metadata pair %zu has an empty key", c->L, i);
		snprintf(c->what, sizeof c->what, "metadata '%.*s'", gg_show(kv->key_len), kv->key);
		if (gg_u32(c, &type, "the value type") != 0)
			return -1;
		if (type >= TFM_GGUF__COUNT)
			return tfm_fail(c->e, "%s: %s: value type %" PRIu32 " at byte %zu is not a GGUF type",
			                c->L, c->what, type, c->pos - 4);
		if (gg_value(c, (int)type, 1, &kv->v) != 0)
			return -1;
		g->sorted[i] = kv;
		g->n_kv++;
	}
	qsort(g->sorted, g->n_kv, sizeof *g->sorted, gg_cmp_kv);
	for (size_t i = 1; i < g->n_kv; i++) {
		const gg_kv *a = g->sorted[i - 1], *b = g->sorted[i];
		if (gg_keycmp(a->key, a->key_len, b->key, b->key_len) == 0)
			return tfm_fail(c->e, "%s: metadata key '%.*s' appears more than once", c->L,
			                gg_show(b->key_len), b->key);
	}
	{
		tfm_gguf_value v;
		if (tfm_gguf_find(g, "general.alignment", &v) == 0) {
			if (v.type != TFM_GGUF_UINT32)
				return tfm_fail(c->e, "%s: general.alignment is a %s, expected a uint32", c->L,
				                gg_type_names[v.type]);
			if (v.u == 0 || (v.u & (v.u - 1)) != 0)
				return tfm_fail(c->e, "%s: general.alignment %" PRIu64 " is not a power of two", c->L, v.u);
			g->alignment = (uint32_t)v.u;
		}
	}
	return 0;
}

/* One tensor info as stored. */
typedef struct gg_tensor {
	const char *name;	/* [name_len] in the map */
	size_t name_len;
	uint32_t n_dims, ggml_type;
	uint64_t dims[GG_MAX_DIMS];
	uint64_t offset;
} gg_tensor;

static int gg_tensor_info(gg_cur *c, size_t i, gg_tensor *t)
{
	snprintf(c->what, sizeof c->what, "tensor info %zu", i);
	if (gg_string(c, &t->name, &t->name_len, "the name") != 0)
		return -1;
	if (t->name_len == 0)
		return tfm_fail(c->e, "%s: tensor info %zu has an empty name", c->L, i);
	if (memchr(t->name, '\0', t->name_len) != NULL)
		return tfm_fail(c->e, "%s: tensor info %zu: its name holds a NUL byte", c->L, i);
	snprintf(c->what, sizeof c->what, "tensor '%.*s'", gg_show(t->name_len), t->name);
	if (gg_u32(c, &t->n_dims, "the number of dimensions") != 0)
		return -1;
	if (t->n_dims == 0 || t->n_dims > GG_MAX_DIMS)
		return tfm_fail(c->e, "%s: %s has %" PRIu32 " dimensions, expected 1 to %d", c->L, c->what,
		                t->n_dims, GG_MAX_DIMS);
	for (uint32_t d = 0; d < t->n_dims; d++)
		if (gg_u64(c, &t->dims[d], "a dimension") != 0)
			return -1;
	if (gg_u32(c, &t->ggml_type, "the ggml type") != 0 || gg_u64(c, &t->offset, "the offset") != 0)
		return -1;
	return 0;
}

/* Checks tensor t against the data section [data_size] and adds it to f. */
static int gg_add(gg_cur *c, tfm_gguf *g, const gg_tensor *t, size_t data_size)
{
	const char *what = c->what;	/* "tensor 'NAME'" */
	size_t shape[GG_MAX_DIMS], block, bsize, nelem = 1, nbytes;
	char *name;
	int dtype, rc;

	snprintf(c->what, sizeof c->what, "tensor '%.*s'", gg_show(t->name_len), t->name);
	if (t->ggml_type >= GG_N_GGML || gg_ggml_types[t->ggml_type].name == NULL)
		return tfm_fail(c->e, "%s: %s has ggml type %" PRIu32 ", which is not a GGML type", c->L, what,
		                t->ggml_type);
	dtype = gg_ggml_types[t->ggml_type].dtype;
	if (dtype < 0)
		return tfm_fail(c->e, "%s: %s has ggml type %s (%" PRIu32 "): not supported (F32, F16, BF16, Q8_0, Q4_0, Q4_K and Q6_K are)",
		                c->L, what, gg_ggml_types[t->ggml_type].name, t->ggml_type);
	tfm_dtype_block(dtype, &block, &bsize);
	for (uint32_t d = 0; d < t->n_dims; d++) {
		if (t->dims[d] == 0)
			return tfm_fail(c->e, "%s: %s: dimension %" PRIu32 " is 0", c->L, what, d);
		/* ggml's limit: counts are int64 (and here size_t) */
		if (t->dims[d] > (uint64_t)(SIZE_MAX < INT64_MAX ? SIZE_MAX : INT64_MAX) / nelem)
			return tfm_fail(c->e, "%s: %s: dimensions of more than 2^63 elements", c->L, what);
		nelem *= (size_t)t->dims[d];
		shape[t->n_dims - 1 - d] = (size_t)t->dims[d];	/* fastest-first to section 3's order */
	}
	if (t->dims[0] % block != 0)
		return tfm_fail(c->e, "%s: %s: a row of %" PRIu64 " elements is not whole %s blocks of %zu",
		                c->L, what, t->dims[0], gg_ggml_types[t->ggml_type].name, block);
	if (nelem / block > SIZE_MAX / bsize)
		return tfm_fail(c->e, "%s: %s: %zu elements of %s take more than 2^64 bytes", c->L, what,
		                nelem, gg_ggml_types[t->ggml_type].name);
	nbytes = nelem / block * bsize;
	if (t->offset % g->alignment != 0)
		return tfm_fail(c->e, "%s: %s: offset %" PRIu64 " is not a multiple of the alignment (%" PRIu32 ")",
		                c->L, what, t->offset, g->alignment);
	if (t->offset > data_size || nbytes > data_size - t->offset)
		return tfm_fail(c->e, "%s: %s: %zu bytes at offset %" PRIu64 " run past the end of the data section (%zu bytes): truncated file?",
		                c->L, what, nbytes, t->offset, data_size);
	/* tfm_file_add wants a C string. */
	if ((name = malloc(t->name_len + 1)) == NULL)
		return tfm_fail(c->e, "%s: out of memory", c->L);
	memcpy(name, t->name, t->name_len);
	name[t->name_len] = '\0';
	rc = tfm_file_add(g->file, name, dtype, (int)t->n_dims, shape, g->data_offset + (size_t)t->offset,
	                  c->e);
	free(name);
	return rc;
}

int tfm_gguf_parse(tfm_gguf **out, const void *data, size_t size, const char *label, tfm_error *e)
{
	gg_cur c = { .base = data, .size = size, .L = label, .e = e };
	gg_tensor *ts = NULL;	/* [n_tensors] */
	uint64_t n_tensors, n_kv;
	tfm_gguf *g;

	*out = NULL;
	if ((g = calloc(1, sizeof *g)) == NULL)
		return tfm_fail(e, "%s: out of memory", label);
	if (data == NULL && size != 0) {
		tfm_fail(e, "%s: no data", label);
		goto fail;
	}
	if (gg_header(&c, g, &n_tensors, &n_kv) != 0 || gg_metadata(&c, g, n_kv) != 0)
		goto fail;
	if ((ts = calloc(n_tensors ? (size_t)n_tensors : 1, sizeof *ts)) == NULL) {
		tfm_fail(e, "%s: out of memory", label);
		goto fail;
	}
	for (size_t i = 0; i < n_tensors; i++)
		if (gg_tensor_info(&c, i, &ts[i]) != 0)
			goto fail;
	/* The data section starts at the next multiple of the alignment; a
	 * file without tensors (a vocabulary) may end before it. */
	g->data_offset = c.pos + (g->alignment - c.pos % g->alignment) % g->alignment;
	if (n_tensors > 0 && (g->data_offset < c.pos || g->data_offset > size)) {
		tfm_fail(e, "%s: the data section would start at byte %zu (the tensor infos end at %zu, aligned to %" PRIu32 "), past the end of the file (%zu bytes): truncated file?",
		         label, g->data_offset, c.pos, g->alignment, size);
		goto fail;
	}
	if (g->data_offset > size)
		g->data_offset = size;
	if (tfm_file_new(&g->file, label, data, size, e) != 0)
		goto fail;
	for (size_t i = 0; i < n_tensors; i++)
		if (gg_add(&c, g, &ts[i], size - g->data_offset) != 0)
			goto fail;
	if (tfm_file_index(g->file, e) != 0)
		goto fail;
	free(ts);
	*out = g;
	return 0;
fail:
	free(ts);
	tfm_gguf_close(g);
	return -1;
}

int tfm_gguf_open(tfm_gguf **g, const char *path, tfm_error *e)
{
	const void *map;
	size_t size;

	*g = NULL;
	if (tfm_file_map(path, &map, &size, e) != 0)
		return -1;
	if (tfm_gguf_parse(g, map, size, path, e) != 0) {
		tfm_file_unmap(map, size);
		return -1;
	}
	tfm_file_take_map((*g)->file);
	return 0;
}

/* ---- Binding: GGUF's names as section 3's ------------------------------------ */

/* llama.cpp's tensor names (its gguf-py/gguf/constants.py), global then
 * per block, beside MODEL_REFERENCE.md section 3's: [0] GGUF's, [1] ours.
 * The suffix (".weight", ".bias") carries over. */
static const char *const gg_global_names[][2] = {
	{ "token_embd", "tok_embeddings" }, { "position_embd", "pos_embeddings" },
	{ "output_norm", "norm" }, { "output", "output" },
};
static const char *const gg_block_names[][2] = {
	{ "attn_norm", "attention_norm" }, { "attn_q", "attention.wq" }, { "attn_k", "attention.wk" },
	{ "attn_v", "attention.wv" }, { "attn_output", "attention.wo" },
	{ "attn_q_norm", "attention.q_norm" }, { "attn_k_norm", "attention.k_norm" },
	{ "post_attention_norm", "attention_post_norm" }, { "ffn_norm", "ffn_norm" },
	{ "ffn_gate", "feed_forward.w_gate" }, { "ffn_up", "feed_forward.w_up" },
	{ "ffn_down", "feed_forward.w_down" }, { "post_ffw_norm", "ffn_post_norm" },
};

/* name in one naming (from: 0 GGUF's, 1 section 3's) as the other's: a
 * block's tensors are "blk.N." or "layers.N." then the stem, every name
 * ends in its suffix.  0, or -1 for a name that is not in the tables. */
static int gg_rename(const char *name, int from, char *out, size_t cap)
{
	static const char *const prefix[2] = { "blk.", "layers." };
	const size_t pl = strlen(prefix[from]);
	const char *suffix = strrchr(name, '.'), *stem = name;
	long layer = -1;

	if (strncmp(name, prefix[from], pl) == 0) {
		char *end;
		layer = strtol(name + pl, &end, 10);
		if (end == name + pl || *end != '.' || layer < 0 || layer > 1000000)
			return -1;
		stem = end + 1;
	}
	if (!suffix || suffix < stem)
		return -1;
	const size_t n = (size_t)(suffix - stem);
	const char *const(*table)[2] = layer >= 0 ? gg_block_names : gg_global_names;
	const size_t count = layer >= 0 ? sizeof gg_block_names / sizeof gg_block_names[0]
	                                : sizeof gg_global_names / sizeof gg_global_names[0];
	for (size_t i = 0; i < count; i++)
		if (strlen(table[i][from]) == n && strncmp(stem, table[i][from], n) == 0) {
			int k = layer >= 0 ? snprintf(out, cap, "%s%ld.%s%s", prefix[!from], layer, table[i][!from], suffix)
			                   : snprintf(out, cap, "%s%s", table[i][!from], suffix);
			return k >= 0 && (size_t)k < cap ? 0 : -1;
		}
	return -1;
}

int tfm_gguf_map_name(const char *name, char *key, size_t cap)
{
	return gg_rename(name, 0, key, cap);
}

int tfm_gguf_name_of(const char *key, char *name, size_t cap)
{
	return gg_rename(key, 1, name, cap);
}

int tfm_gguf_take_weights(tfm_gguf *g, tfm_file **out, tfm_error *e)
{
	tfm_file *f = g->file;
	char key[256];

	*out = NULL;
	for (int i = 0; i < tfm_file_count(f); i++) {
		tfm_tensor_info t;
		tfm_file_info(f, i, &t);
		if (tfm_gguf_map_name(t.name, key, sizeof key) == 0
		    && tfm_file_set_key(f, i, key, TFM_BIND, NULL, e) != 0)
			return -1;
	}
	if (tfm_file_index(f, e) != 0)
		return -1;
	g->file = NULL;
	tfm_gguf_close(g);
	*out = f;
	return 0;
}

/* ---- Writing ------------------------------------------------------------------ */

/* ggml's number of a tfm dtype, or -1. */
static int gg_ggml_of(int dtype)
{
	for (uint32_t i = 0; i < GG_N_GGML; i++)
		if (gg_ggml_types[i].name && gg_ggml_types[i].dtype == dtype)
			return (int)i;
	return -1;
}

typedef struct gg_out {
	FILE *f;
	int bad;
} gg_out;

static void gg_put(gg_out *o, const void *p, size_t n)
{
	if (n && fwrite(p, 1, n, o->f) != n)
		o->bad = 1;
}

static void gg_put_le(gg_out *o, uint64_t x, int n)
{
	unsigned char b[8];
	for (int i = 0; i < n; i++)
		b[i] = (unsigned char)(x >> (8 * i));
	gg_put(o, b, (size_t)n);
}

static void gg_put_str(gg_out *o, const char *s, size_t len)
{
	gg_put_le(o, len, 8);
	gg_put(o, s, len);
}

static void gg_put_scalar(gg_out *o, int type, uint64_t u, int64_t i, double f)
{
	switch (type) {
	case TFM_GGUF_UINT8: case TFM_GGUF_BOOL: gg_put_le(o, u, 1); break;
	case TFM_GGUF_INT8: gg_put_le(o, (uint64_t)i, 1); break;
	case TFM_GGUF_UINT16: gg_put_le(o, u, 2); break;
	case TFM_GGUF_INT16: gg_put_le(o, (uint64_t)i, 2); break;
	case TFM_GGUF_UINT32: gg_put_le(o, u, 4); break;
	case TFM_GGUF_INT32: gg_put_le(o, (uint64_t)i, 4); break;
	case TFM_GGUF_UINT64: gg_put_le(o, u, 8); break;
	case TFM_GGUF_INT64: gg_put_le(o, (uint64_t)i, 8); break;
	case TFM_GGUF_FLOAT32: {
		float x = (float)f;
		uint32_t b;
		memcpy(&b, &x, 4);
		gg_put_le(o, b, 4);
		break;
	}
	case TFM_GGUF_FLOAT64: {
		uint64_t b;
		memcpy(&b, &f, 8);
		gg_put_le(o, b, 8);
		break;
	}
	}
}

int tfm_gguf_write(const char *path, const tfm_gguf_out_kv *kv, size_t n_kv, const tfm_gguf_out_tensor *t,
                   size_t n_t, tfm_error *e)
{
	char tmp[4096 + 32];
	gg_out o = { NULL, 0 };
	uint64_t offset = 0;
	long pos;

	if (!tfm_host_is_le())
		return tfm_fail(e, "%s: GGUF is written little-endian, on little-endian hosts only", path);
	for (size_t i = 0; i < n_t; i++) {
		size_t block, bytes;
		if (gg_ggml_of(t[i].dtype) < 0 || tfm_dtype_block(t[i].dtype, &block, &bytes) != 0
		    || t[i].ndim < 1 || t[i].ndim > 2 || t[i].shape[t[i].ndim - 1] % block != 0)
			return tfm_fail(e, "%s: tensor '%s' cannot be written as %s", path, t[i].name,
			                tfm_dtype_name(t[i].dtype));
	}
	snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid());
	if (!(o.f = fopen(tmp, "wb")))
		return tfm_fail(e, "cannot write %s: %s", path, strerror(errno));
	gg_put(&o, "GGUF", 4);
	gg_put_le(&o, 3, 4);
	gg_put_le(&o, n_t, 8);
	gg_put_le(&o, n_kv, 8);
	for (size_t i = 0; i < n_kv; i++) {
		gg_put_str(&o, kv[i].key, strlen(kv[i].key));
		gg_put_le(&o, (uint64_t)kv[i].type, 4);
		if (kv[i].type == TFM_GGUF_STRING) {
			gg_put_str(&o, kv[i].str, strlen(kv[i].str));
		} else if (kv[i].type == TFM_GGUF_ARRAY) {
			gg_put_le(&o, (uint64_t)kv[i].elem_type, 4);
			gg_put_le(&o, kv[i].count, 8);
			for (size_t j = 0; j < kv[i].count; j++) {
				if (kv[i].elem_type == TFM_GGUF_STRING) {
					const char *sj = ((const char *const *)kv[i].items)[j];
					gg_put_str(&o, sj, strlen(sj));
				} else if (kv[i].elem_type == TFM_GGUF_FLOAT32) {
					gg_put_scalar(&o, TFM_GGUF_FLOAT32, 0, 0, ((const float *)kv[i].items)[j]);
				} else {
					gg_put_scalar(&o, kv[i].elem_type, (uint64_t)((const int32_t *)kv[i].items)[j],
					              ((const int32_t *)kv[i].items)[j], 0);
				}
			}
		} else {
			gg_put_scalar(&o, kv[i].type, kv[i].u, kv[i].i, kv[i].f);
		}
	}
	for (size_t i = 0; i < n_t; i++) {
		const size_t cols = t[i].shape[t[i].ndim - 1], rows = t[i].ndim == 2 ? t[i].shape[0] : 1;
		gg_put_str(&o, t[i].name, strlen(t[i].name));
		gg_put_le(&o, (uint64_t)t[i].ndim, 4);
		gg_put_le(&o, cols, 8);			/* fastest first */
		if (t[i].ndim == 2)
			gg_put_le(&o, rows, 8);
		gg_put_le(&o, (uint64_t)gg_ggml_of(t[i].dtype), 4);
		gg_put_le(&o, offset, 8);
		offset += (tfm_dtype_row_bytes(t[i].dtype, cols) * rows + GG_DEFAULT_ALIGN - 1) / GG_DEFAULT_ALIGN
		          * GG_DEFAULT_ALIGN;
	}
	static const unsigned char zeros[GG_DEFAULT_ALIGN];
	pos = ftell(o.f);
	gg_put(&o, zeros, (size_t)((GG_DEFAULT_ALIGN - pos % GG_DEFAULT_ALIGN) % GG_DEFAULT_ALIGN));
	for (size_t i = 0; i < n_t; i++) {
		const size_t cols = t[i].shape[t[i].ndim - 1], rows = t[i].ndim == 2 ? t[i].shape[0] : 1;
		const size_t bytes = tfm_dtype_row_bytes(t[i].dtype, cols) * rows;
		gg_put(&o, t[i].data, bytes);
		gg_put(&o, zeros, (GG_DEFAULT_ALIGN - bytes % GG_DEFAULT_ALIGN) % GG_DEFAULT_ALIGN);
	}
	o.bad |= fflush(o.f) != 0 || fsync(fileno(o.f)) != 0;
	o.bad |= fclose(o.f) != 0;
	if (o.bad || rename(tmp, path) != 0) {
		remove(tmp);
		return tfm_fail(e, "cannot write %s: %s", path, strerror(errno));
	}
	return 0;
}
