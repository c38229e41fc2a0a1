/* weights.c: the weights of a model instance, read from a safetensors file or
 * made up at random.
 *
 * Loading maps the file and binds it to the model's tensor list; every check
 * (missing, extra or misshapen tensors, bad headers) is tfm_file_*'s, whose
 * messages start with the path and name the tensor and both shapes.
 *
 * Random weights are what `tfmc init` writes and what a model program runs
 * on without --weights: N(0, 0.02) for 2-D tensors (linear weights and
 * embeddings), 1 for 1-D tensors whose name ends in "norm.weight", 0 for
 * other 1-D tensors (biases).  They must be the same on every machine, so:
 *
 *   - each 2-D tensor draws from its own splitmix64 stream, started from
 *     splitmix64(seed) XOR the FNV-1a hash of the tensor's name, so that a
 *     tensor's values depend only on the seed, its name and its size, not on
 *     which other tensors the model has (splitmix64's k-th output depends on
 *     the start and k alone, so a tensor could also be filled in parallel
 *     pieces, with the same values);
 *   - two 64-bit draws a, b give u1 = ((a >> 11) + 1) / 2^53 in (0, 1] and
 *     u2 = (b >> 11) / 2^53 in [0, 1) exactly, and one normal value
 *     sqrt(-2 log u1) cos(2 pi u2) (Box-Muller, the cosine half only);
 *   - everything is double arithmetic with products only (no a * b + c that
 *     a compiler could fuse), and the only libm calls are log, sqrt and cos,
 *     which glibc and musl round correctly in practice; the value times 0.02
 *     is rounded to float once (and that float to bfloat16, nearest even,
 *     for a tensor declared TFM_BF16).
 *
 * All tensors share one block, each starting at a multiple of 64 bytes so
 * that SIMD loads are aligned, as they are in files tfm_file_write makes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <math.h>
#include <pthread.h>

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "tfm.h"
#include "formats.h"

#define TFM_WEIGHTS_ALIGN 64                    /* bytes; each tensor starts here */
#define TFM_WEIGHTS_MAX   ((uint64_t)64 << 30) /* 64 GiB in all: more is surely a mistake */
#define TFM_INIT_STD      0.02

static const double tfm_two_pi = 6.283185307179586476925286766559;

void tfm_weights_free(tfm_weights *w)
{
	if (w == NULL)
		return;
	for (int i = 0; i < w->n_files; i++)
		tfm_file_close(w->files[i]);
	free(w->files);
	free(w->data);
	tfm_free(w->owned);
	memset(w, 0, sizeof *w);
}

/* 1 when f's names are Hugging Face's, not section 3's. */
static int tfm_hf_named(const tfm_file *f)
{
	static const char *const prefixes[] = { "model.", "lm_head.", "transformer.", "wte.", "h.0." };

	for (int i = 0; i < tfm_file_count(f); i++) {
		tfm_tensor_info t;
		tfm_file_info(f, i, &t);
		for (size_t k = 0; k < sizeof prefixes / sizeof prefixes[0]; k++)
			if (strncmp(t.name, prefixes[k], strlen(prefixes[k])) == 0)
				return 1;
	}
	return 0;
}

static int tfm_ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), k = strlen(tail);
	return n >= k && strcmp(s + n - k, tail) == 0;
}

/* Opens the files of one path (see tfm_weights_open), appended to w. */
static int tfm_open_source(tfm_weights *w, const char *path, tfm_error *e)
{
	tfm_hf_checkpoint ck;
	struct stat st;
	tfm_file *f = NULL;
	tfm_file **m;
	unsigned char head[4] = { 0 };

	if (stat(path, &st) != 0)
		return tfm_fail(e, "%s: cannot open: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode) && !tfm_ends_with(path, ".json")) {
		FILE *fp = fopen(path, "rb");
		if (fp) {
			if (fread(head, 1, sizeof head, fp) != sizeof head)
				memset(head, 0, sizeof head);
			fclose(fp);
		}
		if (tfm_gguf_probe(head, sizeof head)) {
			/* llama.cpp's names, the tensors in place */
			tfm_gguf *g;
			if (tfm_gguf_open(&g, path, e) != 0)
				return -1;
			if (tfm_gguf_take_weights(g, &f, e) != 0) {
				tfm_gguf_close(g);
				return -1;
			}
		} else if (tfm_llama2c_probe(head, sizeof head) || tfm_ends_with(path, ".bin")) {
			tfm_llama2c_config c;
			if (tfm_llama2c_open(&f, &c, path, e) != 0)
				return -1;
		} else {
			if (tfm_file_open(&f, path, e) != 0)
				return -1;
			if (tfm_hf_named(f)) {
				tfm_file_close(f);
				f = NULL;
			}
		}
	}
	if (f != NULL) {
		if ((m = realloc(w->files, (size_t)(w->n_files + 1) * sizeof *m)) == NULL) {
			tfm_file_close(f);
			return tfm_fail(e, "%s: out of memory", path);
		}
		w->files = m;
		w->files[w->n_files++] = f;
		return 0;
	}
	if (tfm_hf_open(&ck, path, e) != 0)
		return -1;
	if ((m = realloc(w->files, (size_t)(w->n_files + ck.n_files) * sizeof *m)) == NULL) {
		tfm_hf_close(&ck);
		return tfm_fail(e, "%s: out of memory", path);
	}
	w->files = m;
	memcpy(w->files + w->n_files, ck.files, (size_t)ck.n_files * sizeof *m);
	w->n_files += ck.n_files;
	free(ck.files);
	return 0;
}

static int tfm_open_sources(tfm_weights *w, const char *const *paths, int n_paths, tfm_error *e)
{
	memset(w, 0, sizeof *w);
	if (n_paths < 1 || paths == NULL)
		return tfm_fail(e, "weights: no file given");
	for (int i = 0; i < n_paths; i++)
		if (tfm_open_source(w, paths[i], e) != 0) {
			tfm_weights_free(w);
			return -1;
		}
	return 0;
}

/* Reads a byte of every page of p[0..bytes-1]: a tensor used in place, from
 * a file's mapping, is then mapped before the first forward, which would
 * otherwise take a fault per page (a cold prefill at half its speed).
 * llama.cpp maps its files with MAP_POPULATE to the same end. */
static void tfm_prefault(const void *p, size_t bytes)
{
	const volatile unsigned char *c = p;
	unsigned char sink = 0;

	for (size_t i = 0; i < bytes; i += 4096)
		sink ^= c[i];
	if (bytes)
		sink ^= c[bytes - 1];
	(void)sink;
}

int tfm_weights_open(tfm_weights *w, const char *const *paths, int n_paths,
                     const tfm_tensor_decl *decl, int n, tfm_error *e)
{
	if (tfm_open_sources(w, paths, n_paths, e) != 0)
		return -1;
	if (n < 0 || (w->data = calloc(n ? (size_t)n : 1, sizeof *w->data)) == NULL) {
		tfm_weights_free(w);
		return tfm_fail(e, "%s: out of memory", paths[0]);
	}
	/* tfm_file_* messages already start with the path. */
	if (tfm_files_bind(w->files, w->n_files, decl, n, w->data, e) != 0) {
		tfm_weights_free(w);
		return -1;
	}
	w->n = n;
	for (int i = 0; i < n; i++) {
		size_t bytes = tfm_dtype_row_bytes(decl[i].dtype, decl[i].ndim ? (size_t)decl[i].shape[decl[i].ndim - 1] : 1);
		int in_place = 0;
		if (decl[i].ndim == 2)
			bytes *= (size_t)decl[i].shape[0];
		for (int k = 0; k < w->n_files && !in_place; k++)
			in_place = tfm_file_holds(w->files[k], w->data[i]);
		*(in_place ? &w->bytes_in_place : &w->bytes_converted) += bytes;
		if (in_place)
			tfm_prefault(w->data[i], bytes);
	}
	return 0;
}

int tfm_weights_check(const char *const *paths, int n_paths, const tfm_tensor_decl *decl,
                      int n, tfm_error *e)
{
	tfm_weights w;
	int rc;

	if (tfm_open_sources(&w, paths, n_paths, e) != 0)
		return -1;
	rc = tfm_files_bind(w.files, w.n_files, decl, n, NULL, e);
	tfm_weights_free(&w);
	return rc;
}

int tfm_weights_stored_dtypes(const char *const *paths, int n_paths,
                              const tfm_tensor_decl *decl, int n, int *dtypes, tfm_error *e)
{
	tfm_weights w;

	if (tfm_open_sources(&w, paths, n_paths, e) != 0)
		return -1;
	for (int i = 0; i < n; i++) {
		dtypes[i] = -1;
		for (int k = 0; k < w.n_files && dtypes[i] < 0; k++)
			dtypes[i] = tfm_file_dtype(w.files[k], decl[i].name);
	}
	tfm_weights_free(&w);
	return 0;
}

int tfm_weights_load(tfm_weights *w, const tfm_model_api *api, const char *path,
                     tfm_error *e)
{
	if (api->n_tensors < 0)
		return tfm_fail(e, "%s: model %s declares %d tensors", path,
		                api->name ? api->name : "?", api->n_tensors);
	return tfm_weights_open(w, &path, 1, api->tensors, api->n_tensors, e);
}

/* ---- Random weights ---------------------------------------------------- */

static uint64_t tfm_splitmix_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t tfm_fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

/* One N(0, 1) value from the stream s. */
static double tfm_normal(uint64_t *s)
{
	const double ulp = 1.0 / 9007199254740992.0; /* 2^-53 */
	double u1 = (double)((tfm_splitmix_next(s) >> 11) + 1) * ulp; /* (0, 1] */
	double u2 = (double)(tfm_splitmix_next(s) >> 11) * ulp;       /* [0, 1) */
	double r = sqrt(-2.0 * log(u1));
	double c = cos(tfm_two_pi * u2);

	return r * c;
}

/* The matrices' share of the random weights, split over the online CPUs.
 * Value j of a tensor draws outputs 2j+1 and 2j+2 of its splitmix64 stream,
 * whose state after k outputs is start + k * gamma: each part starts its
 * stream there, so the values do not depend on how the work is split. */
typedef struct tfm_fill {
	const tfm_tensor_decl *decl;
	void *const *data;
	const size_t *nelem;
	int n, part, parts;
	uint64_t base;
} tfm_fill;

static void *tfm_fill_part(void *arg)
{
	const tfm_fill *f = arg;

	for (int i = 0; i < f->n; i++) {
		if (f->decl[i].ndim != 2)
			continue;
		size_t j0 = f->nelem[i] / (size_t)f->parts * (size_t)f->part;
		size_t j1 = f->part + 1 == f->parts ? f->nelem[i] : f->nelem[i] / (size_t)f->parts * (size_t)(f->part + 1);
		uint64_t s = (f->base ^ tfm_fnv1a(f->decl[i].name)) + 2 * (uint64_t)j0 * 0x9e3779b97f4a7c15ull;
		if (f->decl[i].dtype == TFM_BF16) {
			tfm_bf16 *x = f->data[i];
			for (size_t j = j0; j < j1; j++)
				x[j] = tfm_f32_to_bf16((float)(tfm_normal(&s) * TFM_INIT_STD));
		} else {
			float *x = f->data[i];
			for (size_t j = j0; j < j1; j++)
				x[j] = (float)(tfm_normal(&s) * TFM_INIT_STD);
		}
	}
	return NULL;
}

static void tfm_fill_normal(const tfm_tensor_decl *decl, void *const *data, const size_t *nelem,
                            int n, uint64_t base)
{
	enum { MAX_PARTS = 8 };
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int parts = cpus < 1 ? 1 : cpus > MAX_PARTS ? MAX_PARTS : (int)cpus;
	tfm_fill f[MAX_PARTS];
	pthread_t th[MAX_PARTS];
	int started[MAX_PARTS] = { 0 };

	for (int p = 0; p < parts; p++) {
		f[p] = (tfm_fill){ decl, data, nelem, n, p, parts, base };
		/* Part 0 runs here; a part whose thread cannot start runs here too. */
		if (p > 0)
			started[p] = pthread_create(&th[p], NULL, tfm_fill_part, &f[p]) == 0;
	}
	tfm_fill_part(&f[0]);
	for (int p = 1; p < parts; p++) {
		if (started[p])
			pthread_join(th[p], NULL);
		else
			tfm_fill_part(&f[p]);
	}
}

/* 1 if name ends in "norm.weight". */
static int tfm_is_norm_weight(const char *name)
{
	static const char suffix[] = "norm.weight";
	size_t n = strlen(name), k = sizeof suffix - 1;

	return n >= k && strcmp(name + n - k, suffix) == 0;
}

int tfm_weights_random(tfm_weights *w, const tfm_tensor_decl *decl, int n,
                       uint64_t seed, tfm_error *e)
{
	size_t *begin = NULL; /* [n] offset of each tensor in bytes */
	size_t *nelem = NULL; /* [n] */
	uint64_t off = 0, bytes, base;
	size_t j;
	int i, k;

	memset(w, 0, sizeof *w);
	if (n < 0 || (n > 0 && decl == NULL))
		return tfm_fail(e, "random weights: bad arguments (%d tensors)", n);
	begin = calloc(n ? (size_t)n : 1, sizeof *begin);
	nelem = calloc(n ? (size_t)n : 1, sizeof *nelem);
	w->data = calloc(n ? (size_t)n : 1, sizeof *w->data);
	if (begin == NULL || nelem == NULL || w->data == NULL) {
		tfm_fail(e, "random weights: out of memory");
		goto fail;
	}

	/* Lay out, in bytes, checked against TFM_WEIGHTS_MAX at every step:
	 * that keeps every sum and product far from overflowing. */
	for (i = 0; i < n; i++) {
		const tfm_tensor_decl *d = &decl[i];
		if (d->name == NULL || d->ndim < 0 || d->ndim > 2
		    || (d->dtype != TFM_F32 && d->dtype != TFM_BF16
		        && !(tfm_dtype_is_quant(d->dtype) && d->ndim == 2 && d->shape[1] >= 0
		             && tfm_dtype_row_bytes(d->dtype, (size_t)d->shape[1]) > 0))) {
			tfm_fail(e, "random weights: declaration %d is malformed (name, ndim 0..2, F32, BF16, "
			         "or a quantized matrix of whole blocks)", i);
			goto fail;
		}
		bytes = d->dtype == TFM_BF16 ? sizeof(tfm_bf16) : sizeof(float);
		for (k = 0; k < d->ndim; k++) {
			if (d->shape[k] < 0) {
				tfm_fail(e, "random weights: tensor '%.200s' has a negative dimension (%ld)",
				         d->name, d->shape[k]);
				goto fail;
			}
			if (d->shape[k] != 0 && bytes > TFM_WEIGHTS_MAX / (uint64_t)d->shape[k])
				goto too_large;
			bytes *= (uint64_t)d->shape[k];
		}
		off = (off + TFM_WEIGHTS_ALIGN - 1) / TFM_WEIGHTS_ALIGN * TFM_WEIGHTS_ALIGN;
		if (bytes > TFM_WEIGHTS_MAX - off)
			goto too_large;
		nelem[i] = (size_t)(bytes / (d->dtype == TFM_BF16 ? sizeof(tfm_bf16) : sizeof(float)));
		begin[i] = (size_t)off;
		/* a quantized matrix: laid out as f32 for now, its blocks written
		 * over the start of that space once it is filled */
		off += bytes;
	}
	off = (off + TFM_WEIGHTS_ALIGN - 1) / TFM_WEIGHTS_ALIGN * TFM_WEIGHTS_ALIGN;
	/* tfm_alloc aligns to 64 bytes, TFM_WEIGHTS_ALIGN. */
	if (off > SIZE_MAX || (w->owned = tfm_alloc((size_t)off)) == NULL) {
		tfm_fail(e, "random weights: out of memory for %llu bytes",
		         (unsigned long long)off);
		goto fail;
	}

	base = seed;
	base = tfm_splitmix_next(&base);
	for (i = 0; i < n; i++) {
		w->data[i] = (char *)w->owned + begin[i];
		if (decl[i].ndim != 2) {
			float v = tfm_is_norm_weight(decl[i].name) ? 1.0f : 0.0f;
			for (j = 0; j < nelem[i]; j++) {
				if (decl[i].dtype == TFM_BF16)
					((tfm_bf16 *)w->data[i])[j] = tfm_f32_to_bf16(v);
				else
					((float *)w->data[i])[j] = v;
			}
		}
	}
	/* Quantized matrices draw the f32 values, then quantize them in place
	 * (GGML's reference rounding): a block never takes more bytes than the
	 * floats it is made of, and is written after they are read. */
	{
		tfm_tensor_decl *as_f32 = malloc(sizeof *as_f32 * (n ? (size_t)n : 1));
		if (as_f32 == NULL) {
			tfm_fail(e, "random weights: out of memory");
			goto fail;
		}
		for (i = 0; i < n; i++) {
			as_f32[i] = decl[i];
			if (tfm_dtype_is_quant(decl[i].dtype))
				as_f32[i].dtype = TFM_F32;
		}
		tfm_fill_normal(as_f32, w->data, nelem, n, base);
		free(as_f32);
	}
	for (i = 0; i < n; i++)
		if (tfm_dtype_is_quant(decl[i].dtype)) {
			const size_t cols = (size_t)decl[i].shape[1], rb = tfm_dtype_row_bytes(decl[i].dtype, cols);
			float *row = malloc(sizeof *row * (cols ? cols : 1));
			if (row == NULL) {
				tfm_fail(e, "random weights: out of memory");
				goto fail;
			}
			for (size_t r = 0; r < (size_t)decl[i].shape[0]; r++) {
				memcpy(row, (float *)w->data[i] + r * cols, sizeof *row * cols);
				tfm_quantize(decl[i].dtype, row, (char *)w->data[i] + r * rb, cols);
			}
			free(row);
		}
	w->n = n;
	free(begin);
	free(nelem);
	return 0;

too_large:
	tfm_fail(e, "random weights: more than %llu GiB in all, reached at tensor '%.200s': "
	         "is a dimension wrong?", (unsigned long long)(TFM_WEIGHTS_MAX >> 30),
	         decl[i].name);
fail:
	free(begin);
	free(nelem);
	tfm_weights_free(w);
	return -1;
}
