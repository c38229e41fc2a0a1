/* safetensors.c: reads and writes safetensors weight files.
 *
 * A safetensors file is an 8-byte little-endian header length N, N bytes of
 * JSON mapping each tensor name to {"dtype", "shape", "data_offsets"} (plus an
 * optional "__metadata__" object of strings: kept for tfm_file_meta, members
 * that are not strings ignored), then the data section: raw
 * little-endian tensor data, data_offsets [begin, end) counting from its first
 * byte.  See MODEL_REFERENCE.md section 4.
 *
 * Reading maps the file and checks every header field before any data is
 * touched, so a truncated or malformed file is an error naming the problem,
 * never a crash.  Binding then matches the tensors against the model's
 * declarations: data stored in the type a declaration asks for (F32 or
 * BF16), and aligned for it, is used where it lies; any other is converted
 * into memory owned by the file, once per tensor and type.
 *
 * Writing (F32 and BF16, and a "__metadata__" object of strings when asked)
 * pads the header with spaces so the data section starts at a multiple of 64
 * bytes, then lays the tensors back to back: the format
 * forbids holes in the data section, and the reference safetensors library
 * rejects them ("InvalidOffset").  Tensors whose byte size is a multiple of
 * 64 (most, with real model shapes) then stay 64-byte aligned.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "tfm.h"
#include "tfm_internal.h"

#define TFM_MAX_HEADER  ((uint64_t)100 << 20) /* larger headers are refused */
#define TFM_WRITE_ALIGN 64                     /* data section alignment in written files */
#define TFM_MAX_EXACT   9007199254740992.0     /* 2^53: JSON numbers are doubles */

/* Indexed by TFM_F32, TFM_BF16, TFM_F16, then the types a file may hold
 * but no model reads (from TFM_FOREIGN on: masks, counters, fp8): a file
 * with a BOOL mask buffer still opens, and the buffer is refused only if a
 * model asks for it. */
static const struct {
	const char *name;
	size_t size;  /* bytes per element, or per block */
	size_t block; /* elements per block: 1, or GGML's block of a quantized type */
} tfm_dtypes[] = {
	{ "F32", 4, 1 }, { "BF16", 2, 1 }, { "F16", 2, 1 },
	{ "F64", 8, 1 }, { "I64", 8, 1 }, { "U64", 8, 1 }, { "I32", 4, 1 }, { "U32", 4, 1 },
	{ "I16", 2, 1 }, { "U16", 2, 1 }, { "I8", 1, 1 }, { "U8", 1, 1 }, { "BOOL", 1, 1 },
	{ "F8_E4M3", 1, 1 }, { "F8_E5M2", 1, 1 },
	/* From TFM_QUANT on, GGUF's (ggml-common.h): not safetensors dtypes.
	 * Q8_0: f16 scale, 32 int8; Q4_0: f16 scale, 16 bytes of nibbles;
	 * Q4_K: f16 d, f16 dmin, 12 bytes of 6-bit scales, 128 of nibbles;
	 * Q6_K: 128 bytes of low nibbles, 64 of high bits, 16 int8 scales, f16 d. */
	{ "Q8_0", 34, 32 }, { "Q4_0", 18, 32 }, { "Q4_K", 144, 256 }, { "Q6_K", 210, 256 },
};
#define TFM_N_DTYPES ((int)(sizeof tfm_dtypes / sizeof tfm_dtypes[0]))
_Static_assert(TFM_N_DTYPES == TFM_Q6_K + 1, "tfm_dtypes and tfm_internal.h's TFM_Q* agree");

const char *tfm_dtype_name(int dtype)
{
	return dtype >= 0 && dtype < TFM_N_DTYPES ? tfm_dtypes[dtype].name : "?";
}

int tfm_dtype_block(int dtype, size_t *block, size_t *bytes)
{
	if (dtype < 0 || dtype >= TFM_N_DTYPES)
		return -1;
	*block = tfm_dtypes[dtype].block;
	*bytes = tfm_dtypes[dtype].size;
	return 0;
}

typedef struct tfm_tensor {
	char *name;                 /* as stored in the file */
	char *key;                  /* the section 3 name it binds as (owned when not name) */
	int kind;                   /* TFM_BIND, TFM_IGNORE or TFM_CONVERT */
	const char *why;            /* TFM_CONVERT: what must change, static text */
	int dtype;                  /* TFM_F32, TFM_BF16 or TFM_F16 */
	int ndim;                   /* 0..TFM_MAX_NDIM */
	size_t shape[TFM_MAX_NDIM]; /* [ndim] */
	size_t nelem;               /* product of shape */
	size_t begin, end;          /* byte range in the data section */
	void *conv[TFM_Q6_K + 1];   /* converted to a type a model reads (by TFM_ id); owned, or NULL */
} tfm_tensor;

struct tfm_file {
	char *label;                /* path or caller's label, for messages */
	const unsigned char *base;  /* [size] the whole file */
	size_t size;
	int mapped;                 /* base is an mmap of size bytes */
	const unsigned char *data;  /* [data_size] the data section */
	size_t data_size;
	int n, cap;                 /* number of tensors, and room for */
	tfm_tensor *tensors;        /* [n] in header order */
	tfm_tensor **sorted;        /* [n_bind] those of kind TFM_BIND, sorted by key */
	int n_bind;
	char **meta;                /* [2 * n_meta] "__metadata__" keys and values, owned */
	int n_meta;
};

/* ---- Helpers ------------------------------------------------------------ */

/* *r = a * b; returns -1 on overflow. */
static int tfm_mul(size_t a, size_t b, size_t *r)
{
	if (a != 0 && b > SIZE_MAX / a)
		return -1;
	*r = a * b;
	return 0;
}

/* Formats a shape as "[32, 16]" ("[]" for a scalar) into buf[cap]. */
static const char *tfm_shape_str(char *buf, size_t cap, const size_t *shape, int ndim)
{
	size_t len = 0;
	int i, k;

	buf[0] = '\0';
	k = snprintf(buf, cap, "[");
	for (i = 0; i < ndim && k >= 0 && (len += (size_t)k) < cap; i++)
		k = snprintf(buf + len, cap - len, i ? ", %zu" : "%zu", shape[i]);
	if (k >= 0 && (len += (size_t)k) < cap)
		snprintf(buf + len, cap - len, "]");
	return buf;
}

/* A JSON number that is an integer in [0, 2^53], as a size_t. */
static int tfm_json_size(const cJSON *j, size_t *out)
{
	double d;

	if (!cJSON_IsNumber(j))
		return -1;
	d = j->valuedouble;
	if (!(d >= 0 && d <= TFM_MAX_EXACT) || (double)(uint64_t)d != d)
		return -1;
	if ((uint64_t)d > SIZE_MAX)
		return -1;
	*out = (size_t)(uint64_t)d;
	return 0;
}

static float tfm_bits_f32(uint32_t u)
{
	float x;
	memcpy(&x, &u, sizeof x);
	return x;
}


static int tfm_cmp_tensor(const void *a, const void *b)
{
	const tfm_tensor *x = *(const tfm_tensor *const *)a;
	const tfm_tensor *y = *(const tfm_tensor *const *)b;
	return strcmp(x->key, y->key);
}

static int tfm_cmp_key(const void *key, const void *elem)
{
	return strcmp((const char *)key, (*(const tfm_tensor *const *)elem)->key);
}

static tfm_tensor *tfm_find(const tfm_file *f, const char *name)
{
	tfm_tensor **t;

	if (f->n_bind == 0)
		return NULL;
	t = bsearch(name, f->sorted, (size_t)f->n_bind, sizeof *f->sorted, tfm_cmp_key);
	return t ? *t : NULL;
}

/* ---- Reading ------------------------------------------------------------ */

void tfm_file_close(tfm_file *f)
{
	int i;

	if (f == NULL)
		return;
	for (i = 0; i < f->n; i++) {
		if (f->tensors[i].key != f->tensors[i].name)
			free(f->tensors[i].key);
		free(f->tensors[i].name);
		for (int k = 0; k <= TFM_Q6_K; k++)
			free(f->tensors[i].conv[k]);
	}
	free(f->tensors);
	free(f->sorted);
	for (i = 0; i < 2 * f->n_meta; i++)
		free(f->meta[i]);
	free(f->meta);
	free(f->label);
	if (f->mapped)
		tfm_file_unmap(f->base, f->size);
	free(f);
}

/* Checks one header entry "name": {...} and fills t. */
static int tfm_parse_entry(tfm_file *f, const cJSON *item, tfm_tensor *t, tfm_error *e)
{
	const char *L = f->label, *name = item->string;
	const cJSON *dtype, *shape, *offs, *d;
	char sbuf[256];
	size_t esize, nbytes;
	int i;

	if (!cJSON_IsObject(item))
		return tfm_fail(e, "%s: tensor '%.200s': entry is not an object", L, name);

	dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
	if (!cJSON_IsString(dtype))
		return tfm_fail(e, "%s: tensor '%.200s': \"dtype\" is missing or not a string",
		                L, name);
	for (i = 0; i < TFM_QUANT; i++)
		if (strcmp(dtype->valuestring, tfm_dtypes[i].name) == 0)
			break;
	if (i == TFM_QUANT)
		return tfm_fail(e, "%s: tensor '%.200s' has dtype %.40s, which is not a safetensors dtype",
		                L, name, dtype->valuestring);
	t->dtype = i;
	esize = tfm_dtypes[i].size;

	shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
	if (!cJSON_IsArray(shape))
		return tfm_fail(e, "%s: tensor '%.200s': \"shape\" is missing or not an array",
		                L, name);
	t->ndim = 0;
	cJSON_ArrayForEach(d, shape) {
		if (t->ndim == TFM_MAX_NDIM)
			return tfm_fail(e, "%s: tensor '%.200s': shape has %d dimensions, at most %d are supported",
			                L, name, cJSON_GetArraySize(shape), TFM_MAX_NDIM);
		if (tfm_json_size(d, &t->shape[t->ndim]) != 0)
			return tfm_fail(e, "%s: tensor '%.200s': shape must be an array of non-negative integers",
			                L, name);
		t->ndim++;
	}
	t->nelem = 1;
	for (i = 0; i < t->ndim; i++)
		if (t->shape[i] == 0)
			t->nelem = 0;
	for (i = 0; i < t->ndim && t->nelem != 0; i++)
		if (tfm_mul(t->nelem, t->shape[i], &t->nelem) != 0)
			return tfm_fail(e, "%s: tensor '%.200s': shape %s has too many elements",
			                L, name, tfm_shape_str(sbuf, sizeof sbuf, t->shape, t->ndim));
	if (tfm_mul(t->nelem, esize, &nbytes) != 0)
		return tfm_fail(e, "%s: tensor '%.200s': shape %s has too many elements",
		                L, name, tfm_shape_str(sbuf, sizeof sbuf, t->shape, t->ndim));

	offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
	if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2
	    || tfm_json_size(cJSON_GetArrayItem(offs, 0), &t->begin) != 0
	    || tfm_json_size(cJSON_GetArrayItem(offs, 1), &t->end) != 0)
		return tfm_fail(e, "%s: tensor '%.200s': \"data_offsets\" must be [begin, end], two non-negative integers",
		                L, name);
	if (t->begin > t->end)
		return tfm_fail(e, "%s: tensor '%.200s': data_offsets [%zu, %zu] end before they begin",
		                L, name, t->begin, t->end);
	if (t->end > f->data_size)
		return tfm_fail(e, "%s: tensor '%.200s': data_offsets [%zu, %zu] run past the end of the data (%zu bytes): truncated file?",
		                L, name, t->begin, t->end, f->data_size);
	if (t->end - t->begin != nbytes)
		return tfm_fail(e, "%s: tensor '%.200s': data_offsets [%zu, %zu] hold %zu bytes, but %s %s needs %zu",
		                L, name, t->begin, t->end, t->end - t->begin,
		                tfm_dtypes[t->dtype].name,
		                tfm_shape_str(sbuf, sizeof sbuf, t->shape, t->ndim), nbytes);
	t->name = t->key = strdup(name);
	if (t->name == NULL)
		return tfm_fail(e, "%s: out of memory", L);
	return 0;
}

/* Keeps the string members of the "__metadata__" object meta (the format
 * allows no others; files that hold them anyway still open, as before). */
static int tfm_parse_meta(tfm_file *f, const cJSON *meta, tfm_error *e)
{
	const cJSON *item;
	int n = 0;

	if (!cJSON_IsObject(meta))
		return 0;
	cJSON_ArrayForEach(item, meta)
		n += cJSON_IsString(item);
	if (n == 0 || f->meta != NULL)
		return 0;
	if ((f->meta = calloc(2 * (size_t)n, sizeof *f->meta)) == NULL)
		return tfm_fail(e, "%s: out of memory", f->label);
	cJSON_ArrayForEach(item, meta) {
		if (!cJSON_IsString(item))
			continue;
		f->meta[2 * f->n_meta] = strdup(item->string);
		f->meta[2 * f->n_meta + 1] = strdup(item->valuestring);
		f->n_meta++;
		if (f->meta[2 * f->n_meta - 2] == NULL || f->meta[2 * f->n_meta - 1] == NULL)
			return tfm_fail(e, "%s: out of memory", f->label);
	}
	return 0;
}

const char *tfm_file_meta(const tfm_file *f, const char *key)
{
	for (int i = 0; i < f->n_meta; i++)
		if (strcmp(f->meta[2 * i], key) == 0)
			return f->meta[2 * i + 1];
	return NULL;
}

/* Parses the header of the size bytes at base into a new file. */
static int tfm_file_parse(tfm_file **out, const unsigned char *base, size_t size,
                          const char *label, tfm_error *e)
{
	const char *hdr, *end = NULL;
	const cJSON *item;
	cJSON *root = NULL;
	tfm_file *f;
	uint64_t hlen = 0;
	size_t k;
	int i, n;

	f = calloc(1, sizeof *f);
	if (f == NULL || (f->label = strdup(label)) == NULL) {
		free(f);
		return tfm_fail(e, "%s: out of memory", label);
	}
	f->base = base;
	f->size = size;

	if (size < 8) {
		tfm_fail(e, "%s: file is %zu bytes long, too short for a safetensors file (at least 8)",
		         label, size);
		goto fail;
	}
	for (i = 7; i >= 0; i--)
		hlen = hlen << 8 | base[i];
	if (hlen > TFM_MAX_HEADER) {
		tfm_fail(e, "%s: header length %llu is absurd (more than %llu bytes): not a safetensors file?",
		         label, (unsigned long long)hlen, (unsigned long long)TFM_MAX_HEADER);
		goto fail;
	}
	if (hlen > size - 8) {
		tfm_fail(e, "%s: header length %llu runs past the end of the file (%zu bytes): truncated file?",
		         label, (unsigned long long)hlen, size);
		goto fail;
	}
	hdr = (const char *)base + 8;
	f->data = base + 8 + hlen;
	f->data_size = size - 8 - (size_t)hlen;

	root = cJSON_ParseWithLengthOpts(hdr, (size_t)hlen, &end, 0);
	if (root == NULL) {
		k = end != NULL && end >= hdr && end <= hdr + hlen ? (size_t)(end - hdr) : 0;
		tfm_fail(e, "%s: header is not valid JSON (error at byte %zu of %llu)",
		         label, k, (unsigned long long)hlen);
		goto fail;
	}
	for (k = (size_t)(end - hdr); k < hlen; k++)
		if (!strchr(" \t\r\n", hdr[k]) || hdr[k] == '\0') {
			tfm_fail(e, "%s: header has text after the JSON object (at byte %zu of %llu)",
			         label, k, (unsigned long long)hlen);
			goto fail;
		}
	if (!cJSON_IsObject(root)) {
		tfm_fail(e, "%s: header is not a JSON object", label);
		goto fail;
	}

	n = 0;
	cJSON_ArrayForEach(item, root)
		if (strcmp(item->string, "__metadata__") != 0)
			n++;
		else if (tfm_parse_meta(f, item, e) != 0)
			goto fail;
	f->tensors = calloc(n ? (size_t)n : 1, sizeof *f->tensors);
	if (f->tensors == NULL) {
		tfm_fail(e, "%s: out of memory", label);
		goto fail;
	}
	f->cap = n;
	cJSON_ArrayForEach(item, root) {
		if (strcmp(item->string, "__metadata__") == 0)
			continue;
		if (tfm_parse_entry(f, item, &f->tensors[f->n], e) != 0)
			goto fail;
		f->n++;
	}
	cJSON_Delete(root);
	root = NULL;
	if (tfm_file_index(f, e) != 0)
		goto fail;
	*out = f;
	return 0;

fail:
	cJSON_Delete(root);
	tfm_file_close(f);
	return -1;
}

int tfm_file_from_memory(tfm_file **f, const void *data, size_t size,
                         const char *label, tfm_error *e)
{
	*f = NULL;
	if (label == NULL)
		label = "<memory>";
	if (data == NULL && size != 0)
		return tfm_fail(e, "%s: no data", label);
	return tfm_file_parse(f, data, size, label, e);
}

/* Maps fd read-only at an address aligned to 2 MiB, and asks for huge
 * pages: file offsets and addresses then agree modulo 2 MiB, so the kernel
 * can map the page cache's large folios with one TLB entry per 2 MiB
 * instead of 512.  Decode streams every weight once per token, so this is
 * worth about a tenth of its speed.  Falls back to a plain mapping. */
static void *tfm_map_aligned(int fd, size_t size)
{
	const size_t huge = (size_t)2 << 20;
	void *map = MAP_FAILED;

	if (size >= huge && size <= SIZE_MAX - huge) {
		char *area = mmap(NULL, size + huge, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (area != MAP_FAILED) {
			char *at = (char *)(((uintptr_t)area + huge - 1) & ~(uintptr_t)(huge - 1));
			map = mmap(at, size, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0);
			/* Return the unused head and tail of the reservation. */
			if (at > area)
				munmap(area, (size_t)(at - area));
			munmap(at + size, (size_t)(area + size + huge - (at + size)));
			if (map == MAP_FAILED)
				munmap(at, size);
#ifdef MADV_HUGEPAGE
			else
				madvise(map, size, MADV_HUGEPAGE);
#endif
		}
	}
	if (map == MAP_FAILED)
		map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	return map;
}

int tfm_file_map(const char *path, const void **base, size_t *size, tfm_error *e)
{
	struct stat st;
	void *map;
	int fd;

	*base = NULL;
	*size = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return tfm_fail(e, "%s: cannot open: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0) {
		int err = errno;
		close(fd);
		return tfm_fail(e, "%s: cannot stat: %s", path, strerror(err));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return tfm_fail(e, "%s: not a regular file", path);
	}
	if ((uint64_t)st.st_size > SIZE_MAX) {
		close(fd);
		return tfm_fail(e, "%s: file is too large to map", path);
	}
	if (st.st_size == 0) {
		close(fd);
		return 0;
	}
	map = tfm_map_aligned(fd, (size_t)st.st_size);
	if (map == MAP_FAILED) {
		int err = errno;
		close(fd);
		return tfm_fail(e, "%s: cannot map: %s", path, strerror(err));
	}
	close(fd);
	*base = map;
	*size = (size_t)st.st_size;
	return 0;
}

void tfm_file_unmap(const void *base, size_t size)
{
	if (base != NULL)
		munmap((void *)(uintptr_t)base, size);
}

int tfm_file_open(tfm_file **f, const char *path, tfm_error *e)
{
	const void *map;
	size_t size;

	*f = NULL;
	if (tfm_file_map(path, &map, &size, e) != 0)
		return -1;
	if (size < 8) {
		tfm_file_unmap(map, size);
		if (size == 0)
			return tfm_fail(e, "%s: file is empty, not a safetensors file", path);
		return tfm_fail(e, "%s: file is %zu bytes long, too short for a safetensors file (at least 8)",
		                path, size);
	}
	if (tfm_file_parse(f, map, size, path, e) != 0) {
		tfm_file_unmap(map, size);
		return -1;
	}
	(*f)->mapped = 1;
	return 0;
}

/* Element i of t's data as a float (exact for every stored type). */
static float tfm_elem_f32(const unsigned char *src, int dtype, size_t i)
{
	switch (dtype) {
	case TFM_F32:
		return tfm_bits_f32((uint32_t)src[4 * i] | (uint32_t)src[4 * i + 1] << 8
		                    | (uint32_t)src[4 * i + 2] << 16 | (uint32_t)src[4 * i + 3] << 24);
	case TFM_BF16:
		return tfm_bits_f32((uint32_t)src[2 * i] << 16 | (uint32_t)src[2 * i + 1] << 24);
	default:
		return tfm_f16_to_f32((uint16_t)(src[2 * i] | src[2 * i + 1] << 8));
	}
}

/* t's data as floats into out[nelem]: exact for every type a file holds
 * that a model reads (quantized blocks as GGML decodes them). */
static void tfm_tensor_f32(const tfm_file *f, const tfm_tensor *t, float *out)
{
	const unsigned char *src = f->data + t->begin;

	if (tfm_dtype_is_quant(t->dtype))
		tfm_dequantize(t->dtype, src, out, t->nelem);
	else
		for (size_t i = 0; i < t->nelem; i++)
			out[i] = tfm_elem_f32(src, t->dtype, i);
}

/* Returns t's data as `want` (TFM_F32, TFM_BF16 or a quantized type): in
 * place when it is stored so, else converted into t->conv[want]: widened
 * exactly to f32, rounded to nearest even to bf16, quantized by GGML's
 * reference rounding a row at a time (from the f32 values, so a tensor
 * stored in another quantized type is quantized again: lossy twice). */
static void *tfm_tensor_as(tfm_file *f, tfm_tensor *t, int want, tfm_error *e)
{
	const unsigned char *src = f->data + t->begin; /* [end - begin] */
	size_t i, block = 1, esize = 4, nbytes;
	const int quant = tfm_dtype_is_quant(want);
	float *tmp = NULL;

	tfm_dtype_block(want, &block, &esize);
	if (t->dtype == want && tfm_host_is_le() && (quant || (uintptr_t)src % esize == 0))
		return (void *)(uintptr_t)src; /* read-only: the map is PROT_READ */
	if (t->conv[want] != NULL)
		return t->conv[want];
	const size_t row = t->ndim ? t->shape[t->ndim - 1] : 1;
	if (quant && row % block != 0) {
		tfm_fail(e, "%s: tensor '%.200s': rows of %zu cannot be %s blocks of %zu", f->label, t->name,
		         row, tfm_dtypes[want].name, block);
		return NULL;
	}
	if (tfm_mul(t->nelem ? t->nelem : 1, esize, &nbytes) != 0
	    || (t->conv[want] = malloc(nbytes / block + 1)) == NULL
	    || (want != TFM_F32 && (t->dtype != TFM_BF16 || quant)
	        && (tmp = malloc(sizeof(float) * (t->nelem ? t->nelem : 1))) == NULL)) {
		free(t->conv[want]);
		t->conv[want] = NULL;
		tfm_fail(e, "%s: out of memory converting tensor '%.200s'", f->label, t->name);
		return NULL;
	}
	if (want == TFM_F32) {
		tfm_tensor_f32(f, t, t->conv[want]);
	} else if (!quant) {
		tfm_bf16 *out = t->conv[want];
		if (tmp)
			tfm_tensor_f32(f, t, tmp);
		for (i = 0; i < t->nelem; i++)
			out[i] = tmp ? tfm_f32_to_bf16(tmp[i]) : (tfm_bf16)(src[2 * i] | src[2 * i + 1] << 8);
	} else {
		tfm_tensor_f32(f, t, tmp);
		tfm_quantize(want, tmp, t->conv[want], t->nelem);
	}
	free(tmp);
	return t->conv[want];
}

int tfm_file_dtype(const tfm_file *f, const char *name)
{
	const tfm_tensor *t = tfm_find(f, name);

	return t ? t->dtype : -1;
}

/* The first tensor of the kind TFM_CONVERT that would bind as name, in any
 * of files[nf], or NULL: what a missing tensor's message names. */
static const tfm_tensor *tfm_find_convert(tfm_file *const *files, int nf, const char *name,
                                          const tfm_file **in)
{
	for (int k = 0; k < nf; k++)
		for (int j = 0; j < files[k]->n; j++) {
			const tfm_tensor *t = &files[k]->tensors[j];
			if (t->kind == TFM_CONVERT && strcmp(t->key, name) == 0) {
				*in = files[k];
				return t;
			}
		}
	return NULL;
}

static int tfm_bad_decl(const tfm_tensor_decl *d)
{
	size_t block, bytes;

	if (d->name == NULL || d->ndim < 0 || d->ndim > 2
	    || (d->ndim > 0 && d->shape[0] < 0) || (d->ndim > 1 && d->shape[1] < 0))
		return 1;
	if (d->dtype == TFM_F32 || d->dtype == TFM_BF16)
		return 0;
	/* quantized: matrices whose rows are whole blocks */
	return !tfm_dtype_is_quant(d->dtype) || d->ndim != 2 || tfm_dtype_block(d->dtype, &block, &bytes) != 0
	       || d->shape[1] % (long)block != 0;
}

int tfm_files_bind(tfm_file *const *files, int nf, const tfm_tensor_decl *decl, int n,
                   void **out, tfm_error *e)
{
	tfm_tensor **found = NULL;     /* [n] the tensor each decl names */
	tfm_file **from = NULL;        /* [n] the file it is in */
	const char *L = nf > 0 ? files[0]->label : "weights";
	char want[64], have[256];
	size_t shape[2];
	tfm_tensor *t = NULL;
	int i, j, k, rc = -1;

	if (nf < 1 || n < 0 || (n > 0 && decl == NULL))
		return tfm_fail(e, "%s: bad arguments to tfm_files_bind", L);
	found = calloc(n ? (size_t)n : 1, sizeof *found);
	from = calloc(n ? (size_t)n : 1, sizeof *from);
	if (found == NULL || from == NULL) {
		tfm_fail(e, "%s: out of memory", L);
		goto done;
	}
	for (i = 0; i < n; i++) {
		const tfm_tensor_decl *d = &decl[i];
		if (tfm_bad_decl(d)) {
			tfm_fail(e, "%s: declaration %d is malformed (name, ndim 0..2, non-negative shape, "
			         "F32, BF16, or a quantized type for a matrix of whole blocks)", L, i);
			goto done;
		}
		for (j = 0; j < d->ndim; j++)
			shape[j] = (size_t)d->shape[j];
		tfm_shape_str(want, sizeof want, shape, d->ndim);
		/* The first file that has it: an earlier file overrides a later one. */
		for (k = 0, t = NULL; k < nf && t == NULL; k++)
			if ((t = tfm_find(files[k], d->name)) != NULL)
				from[i] = files[k];
		if (t == NULL) {
			const tfm_file *in = NULL;
			const tfm_tensor *c = tfm_find_convert(files, nf, d->name, &in);
			if (c != NULL)
				tfm_fail(e, "%s: tensor '%.200s' (for '%.200s') cannot be used as stored: %s; "
				         "`tfmc import` converts it", in->label, c->name, d->name, c->why);
			else
				tfm_fail(e, "%s: missing tensor '%.200s' (expected shape %s)", L, d->name, want);
			goto done;
		}
		for (j = 0; j < d->ndim && t->ndim == d->ndim; j++)
			if (t->shape[j] != shape[j])
				break;
		if (t->ndim != d->ndim || j < d->ndim) {
			tfm_fail(e, "%s: tensor '%.200s' has shape %s, expected %s", from[i]->label,
			         t->name, tfm_shape_str(have, sizeof have, t->shape, t->ndim), want);
			goto done;
		}
		if (t->dtype >= TFM_FOREIGN && t->dtype < TFM_QUANT) {
			tfm_fail(e, "%s: tensor '%.200s' has dtype %s: only F32, F16 and BF16 are supported",
			         from[i]->label, t->name, tfm_dtypes[t->dtype].name);
			goto done;
		}
		found[i] = t;
	}
	/* Every tensor that binds must be one the model uses, or one an
	 * earlier file already gave. */
	for (k = 0; k < nf; k++)
		for (j = 0; j < files[k]->n; j++) {
			tfm_tensor *u = &files[k]->tensors[j];
			int used = u->kind != TFM_BIND;
			for (i = 0; i < n && !used; i++)
				used = found[i] == u || strcmp(decl[i].name, u->key) == 0;
			if (!used) {
				if (strcmp(u->key, u->name) != 0)
					tfm_fail(e, "%s: unexpected tensor '%.200s' %s (as '%.200s'): the model does not use it",
					         files[k]->label, u->name,
					         tfm_shape_str(have, sizeof have, u->shape, u->ndim), u->key);
				else
					tfm_fail(e, "%s: unexpected tensor '%.200s' %s: the model does not use it",
					         files[k]->label, u->name,
					         tfm_shape_str(have, sizeof have, u->shape, u->ndim));
				goto done;
			}
		}
	for (i = 0; i < n && out != NULL; i++)
		if ((out[i] = tfm_tensor_as(from[i], found[i], decl[i].dtype, e)) == NULL)
			goto done;
	rc = 0;
done:
	free(found);
	free(from);
	return rc;
}

int tfm_file_bind(tfm_file *f, const tfm_tensor_decl *decl, int n,
                  void **out, tfm_error *e)
{
	return tfm_files_bind(&f, 1, decl, n, out, e);
}

/* ---- Files made by other readers ---------------------------------------- */

int tfm_file_new(tfm_file **out, const char *label, const void *base, size_t size,
                 tfm_error *e)
{
	tfm_file *f = calloc(1, sizeof *f);

	*out = NULL;
	if (f == NULL || (f->label = strdup(label)) == NULL) {
		free(f);
		return tfm_fail(e, "%s: out of memory", label);
	}
	f->base = f->data = base;
	f->size = f->data_size = size;
	*out = f;
	return 0;
}

void tfm_file_take_map(tfm_file *f)
{
	f->mapped = 1;
}

int tfm_file_add(tfm_file *f, const char *name, int dtype, int ndim, const size_t *shape,
                 size_t begin, tfm_error *e)
{
	tfm_tensor *t;
	size_t nbytes;
	int i;

	if (ndim < 0 || ndim > TFM_MAX_NDIM || dtype < TFM_F32 || dtype >= TFM_N_DTYPES)
		return tfm_fail(e, "%s: tensor '%.200s': bad declaration", f->label, name);
	if (f->n == f->cap) {
		int cap = f->cap ? 2 * f->cap : 16;
		tfm_tensor *m = realloc(f->tensors, (size_t)cap * sizeof *m);
		if (m == NULL)
			return tfm_fail(e, "%s: out of memory", f->label);
		f->tensors = m;
		f->cap = cap;
	}
	t = &f->tensors[f->n];
	memset(t, 0, sizeof *t);
	t->dtype = dtype;
	t->ndim = ndim;
	t->nelem = 1;
	for (i = 0; i < ndim; i++) {
		t->shape[i] = shape[i];
		if (tfm_mul(t->nelem, shape[i], &t->nelem) != 0)
			return tfm_fail(e, "%s: tensor '%.200s' has too many elements", f->label, name);
	}
	if (t->nelem % tfm_dtypes[dtype].block != 0)
		return tfm_fail(e, "%s: tensor '%.200s': %zu elements are not whole %s blocks of %zu",
		                f->label, name, t->nelem, tfm_dtypes[dtype].name, tfm_dtypes[dtype].block);
	if (tfm_mul(t->nelem / tfm_dtypes[dtype].block, tfm_dtypes[dtype].size, &nbytes) != 0
	    || begin > f->data_size
	    || nbytes > f->data_size - begin)
		return tfm_fail(e, "%s: tensor '%.200s' runs past the end of the file (%zu bytes): truncated file?",
		                f->label, name, f->data_size);
	t->begin = begin;
	t->end = begin + nbytes;
	if ((t->name = t->key = strdup(name)) == NULL)
		return tfm_fail(e, "%s: out of memory", f->label);
	f->n++;
	return 0;
}

static int tfm_cmp_stored(const void *a, const void *b)
{
	const tfm_tensor *x = *(const tfm_tensor *const *)a;
	const tfm_tensor *y = *(const tfm_tensor *const *)b;
	return strcmp(x->name, y->name);
}

int tfm_file_index(tfm_file *f, tfm_error *e)
{
	int i, m = 0;

	free(f->sorted);
	f->sorted = calloc(f->n ? (size_t)f->n : 1, sizeof *f->sorted);
	if (f->sorted == NULL)
		return tfm_fail(e, "%s: out of memory", f->label);
	/* cJSON keeps duplicate keys as separate items: find them by sorting. */
	for (i = 0; i < f->n; i++)
		f->sorted[i] = &f->tensors[i];
	qsort(f->sorted, (size_t)f->n, sizeof *f->sorted, tfm_cmp_stored);
	for (i = 1; i < f->n; i++)
		if (strcmp(f->sorted[i - 1]->name, f->sorted[i]->name) == 0)
			return tfm_fail(e, "%s: tensor '%.200s' appears more than once in the header",
			                f->label, f->sorted[i]->name);
	for (i = 0; i < f->n; i++)
		if (f->tensors[i].kind == TFM_BIND)
			f->sorted[m++] = &f->tensors[i];
	qsort(f->sorted, (size_t)m, sizeof *f->sorted, tfm_cmp_tensor);
	for (i = 1; i < m; i++)
		if (strcmp(f->sorted[i - 1]->key, f->sorted[i]->key) == 0)
			return tfm_fail(e, "%s: tensors '%.200s' and '%.200s' are both '%.200s'", f->label,
			                f->sorted[i - 1]->name, f->sorted[i]->name, f->sorted[i]->key);
	f->n_bind = m;
	return 0;
}

int tfm_file_set_key(tfm_file *f, int i, const char *key, int kind, const char *why,
                     tfm_error *e)
{
	tfm_tensor *t = &f->tensors[i];
	char *k = key && strcmp(key, t->name) != 0 ? strdup(key) : t->name;

	if (k == NULL)
		return tfm_fail(e, "%s: out of memory", f->label);
	if (t->key != t->name)
		free(t->key);
	t->key = k;
	t->kind = kind;
	t->why = why;
	return 0;
}

int tfm_file_count(const tfm_file *f)
{
	return f->n;
}

int tfm_file_info(const tfm_file *f, int i, tfm_tensor_info *info)
{
	const tfm_tensor *t;

	if (i < 0 || i >= f->n)
		return -1;
	t = &f->tensors[i];
	info->name = t->name;
	info->key = t->key;
	info->kind = t->kind;
	info->dtype = t->dtype;
	info->ndim = t->ndim;
	for (int j = 0; j < TFM_MAX_NDIM; j++)
		info->shape[j] = j < t->ndim ? t->shape[j] : 0;
	info->nelem = t->nelem;
	info->data = f->data + t->begin;
	info->nbytes = t->end - t->begin;
	return 0;
}

int tfm_file_lookup(const tfm_file *f, const char *stored_name)
{
	for (int i = 0; i < f->n; i++)
		if (strcmp(f->tensors[i].name, stored_name) == 0)
			return i;
	return -1;
}

const char *tfm_file_label(const tfm_file *f)
{
	return f->label;
}

int tfm_file_holds(const tfm_file *f, const void *p)
{
	const unsigned char *c = p;
	return c >= f->base && c < f->base + f->size;
}

int tfm_file_read_f32(const tfm_file *f, int i, float *out)
{
	const tfm_tensor *t = &f->tensors[i];
	const unsigned char *src = f->data + t->begin;

	if (t->dtype >= TFM_FOREIGN)
		return -1;
	for (size_t j = 0; j < t->nelem; j++)
		out[j] = tfm_elem_f32(src, t->dtype, j);
	return 0;
}

/* ---- Writing ------------------------------------------------------------ */

/* Appends the number x to the JSON array arr. */
static int tfm_json_push(cJSON *arr, double x)
{
	cJSON *num = cJSON_CreateNumber(x);

	if (num == NULL || !cJSON_AddItemToArray(arr, num)) {
		cJSON_Delete(num);
		return -1;
	}
	return 0;
}

/* Adds "name": {"dtype": "F32", "shape": [...], "data_offsets": [b, e]}
 * (or "BF16"). */
static int tfm_json_entry(cJSON *root, const tfm_tensor_decl *d, size_t begin, size_t end)
{
	cJSON *obj, *shape, *offs;
	int j;

	obj = cJSON_CreateObject();
	if (obj == NULL || !cJSON_AddItemToObject(root, d->name, obj)) {
		cJSON_Delete(obj);
		return -1;
	}
	/* From here obj belongs to root, and each Add* attaches or fails cleanly. */
	if (cJSON_AddStringToObject(obj, "dtype", tfm_dtypes[d->dtype].name) == NULL
	    || (shape = cJSON_AddArrayToObject(obj, "shape")) == NULL
	    || (offs = cJSON_AddArrayToObject(obj, "data_offsets")) == NULL)
		return -1;
	for (j = 0; j < d->ndim; j++)
		if (tfm_json_push(shape, (double)d->shape[j]) != 0)
			return -1;
	if (tfm_json_push(offs, (double)begin) != 0 || tfm_json_push(offs, (double)end) != 0)
		return -1;
	return 0;
}

static int tfm_write_zeros(FILE *fp, size_t n)
{
	static const unsigned char zeros[TFM_WRITE_ALIGN];
	return n <= sizeof zeros && fwrite(zeros, 1, n, fp) == n ? 0 : -1;
}

int tfm_file_write(const char *path, const tfm_tensor_decl *decl, int n,
                   const void *const *data, tfm_error *e)
{
	return tfm_file_write_meta(path, decl, n, data, NULL, e);
}

int tfm_file_write_meta(const char *path, const tfm_tensor_decl *decl, int n,
                        const void *const *data, const char *const *meta, tfm_error *e)
{
	size_t *begin = NULL; /* [n + 1] data offset of each tensor, then the end */
	size_t *nelem = NULL; /* [n] */
	size_t hlen, pad, off, nbytes;
	unsigned char len8[8];
	cJSON *root = NULL;
	char *text = NULL;
	FILE *fp = NULL;
	int i, j, rc = -1, err;

	if (n < 0 || (n > 0 && (decl == NULL || data == NULL)))
		return tfm_fail(e, "%s: bad arguments to tfm_file_write", path);
	begin = calloc((size_t)n + 1, sizeof *begin);
	nelem = calloc(n ? (size_t)n : 1, sizeof *nelem);
	root = cJSON_CreateObject();
	if (begin == NULL || nelem == NULL || root == NULL) {
		tfm_fail(e, "%s: out of memory", path);
		goto done;
	}
	if (meta != NULL && meta[0] != NULL) {
		cJSON *obj = cJSON_AddObjectToObject(root, "__metadata__");
		if (obj == NULL) {
			tfm_fail(e, "%s: out of memory", path);
			goto done;
		}
		for (i = 0; meta[i] != NULL; i += 2) {
			if (meta[i + 1] == NULL) {
				tfm_fail(e, "%s: metadata key '%.200s' has no value", path, meta[i]);
				goto done;
			}
			if (cJSON_AddStringToObject(obj, meta[i], meta[i + 1]) == NULL) {
				tfm_fail(e, "%s: out of memory", path);
				goto done;
			}
		}
	}

	/* Lay the tensors out back to back. */
	off = 0;
	for (i = 0; i < n; i++) {
		const tfm_tensor_decl *d = &decl[i];
		if (d->name == NULL || strcmp(d->name, "__metadata__") == 0
		    || d->ndim < 0 || d->ndim > 2 || d->dtype < TFM_F32 || d->dtype > TFM_F16) {
			tfm_fail(e, "%s: declaration %d is malformed (name, ndim 0..2, F32, BF16 or F16)", path, i);
			goto done;
		}
		for (j = 0; j < i; j++)
			if (strcmp(decl[j].name, d->name) == 0) {
				tfm_fail(e, "%s: tensor '%.200s' is given twice", path, d->name);
				goto done;
			}
		nelem[i] = 1;
		for (j = 0; j < d->ndim; j++)
			if (d->shape[j] < 0 || tfm_mul(nelem[i], (size_t)d->shape[j], &nelem[i]) != 0) {
				tfm_fail(e, "%s: tensor '%.200s' has a bad shape", path, d->name);
				goto done;
			}
		if (nelem[i] != 0 && data[i] == NULL) {
			tfm_fail(e, "%s: tensor '%.200s' has no data", path, d->name);
			goto done;
		}
		if (tfm_mul(nelem[i], tfm_dtypes[d->dtype].size, &nbytes) != 0) {
			tfm_fail(e, "%s: tensors too large", path);
			goto done;
		}
		begin[i] = off;
		if (nbytes > SIZE_MAX - begin[i] || (double)(begin[i] + nbytes) > TFM_MAX_EXACT) {
			tfm_fail(e, "%s: tensors too large", path);
			goto done;
		}
		off = begin[i] + nbytes;
		if (tfm_json_entry(root, d, begin[i], off) != 0) {
			tfm_fail(e, "%s: out of memory", path);
			goto done;
		}
	}
	begin[n] = off;

	text = cJSON_PrintUnformatted(root);
	if (text == NULL) {
		tfm_fail(e, "%s: out of memory", path);
		goto done;
	}
	hlen = strlen(text);
	pad = (TFM_WRITE_ALIGN - (8 + hlen) % TFM_WRITE_ALIGN) % TFM_WRITE_ALIGN;
	for (i = 0; i < 8; i++)
		len8[i] = (unsigned char)((uint64_t)(hlen + pad) >> (8 * i));

	fp = fopen(path, "wb");
	if (fp == NULL) {
		tfm_fail(e, "%s: cannot create: %s", path, strerror(errno));
		goto done;
	}
	if (fwrite(len8, 1, 8, fp) != 8 || fwrite(text, 1, hlen, fp) != hlen)
		goto write_error;
	for (off = 0; off < pad; off++)
		if (fputc(' ', fp) == EOF)
			goto write_error;
	off = 0;
	for (i = 0; i < n; i++) {
		if (tfm_write_zeros(fp, begin[i] - off) != 0
		    || tfm_write_le(fp, data[i], nelem[i], tfm_dtypes[decl[i].dtype].size) != 0)
			goto write_error;
		off = begin[i] + nelem[i] * tfm_dtypes[decl[i].dtype].size;
	}
	err = fclose(fp);
	fp = NULL;
	if (err != 0)
		goto write_error;
	rc = 0;
	goto done;

write_error:
	err = errno;
	if (fp != NULL)
		fclose(fp);
	remove(path);
	tfm_fail(e, "%s: write failed: %s", path, strerror(err));
done:
	cJSON_free(text);
	cJSON_Delete(root);
	free(begin);
	free(nelem);
	return rc;
}
