/* tfm_internal.h: what the runtime's own files share and its users do not
 * see. */
#ifndef TFM_INTERNAL_H
#define TFM_INTERNAL_H

#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* 1 on a little-endian host. */
int tfm_host_is_le(void);

/* Writes n elements of `size` bytes (2 or 4) of x to fp, little-endian;
 * returns 0 or -1. */
int tfm_write_le(FILE *fp, const void *x, size_t n, size_t size);

/* Reads the whole regular file path into *text[*len], NUL-terminated: a
 * config.json, an index, a tokenizer.  A file of more than max bytes is
 * refused: "PATH: N bytes is more than <what>". */
struct tfm_error;
int tfm_read_text(const char *path, size_t max, const char *what, char **text, size_t *len,
                  struct tfm_error *e);

/* ---- Tensor files (runtime/formats/) ------------------------------------
 *
 * A tfm_file is a mapped file and the tensors in it.  Each tensor has the
 * name it is stored under and the name it binds as (MODEL_REFERENCE.md
 * section 3): the same for a tfmc safetensors file, a translation for files
 * of other software (Hugging Face, llama2.c).  Its kind says whether it
 * binds in place, is not a weight at all (a causal-mask buffer), or holds a
 * weight that must be converted first (tfmc import does that). */

#include "tfm.h"

#define TFM_MAX_NDIM 8

enum { TFM_BIND, TFM_IGNORE, TFM_CONVERT };

/* Stored element types beyond tfm.h's TFM_F32, TFM_BF16 and TFM_F16 start
 * here: a file may hold them (a BOOL mask), no model reads them. */
#define TFM_FOREIGN 3
/* GGML's block-quantized types (tfm.h's TFM_Q8_0 ...) start here. */
#define TFM_QUANT TFM_Q8_0
const char *tfm_dtype_name(int dtype);

/* ---- GGML's quantized blocks (runtime/formats/quant.c; tfm.h has the rest) ---- */

/* IEEE half <-> single: exact one way, rounded to nearest even the other. */
float tfm_f16_to_f32(uint16_t h);
uint16_t tfm_f32_to_f16(float x);
/* tfm_f16_to_f32 of every half, a table of 65536 floats. */
const float *tfm_f16_table(void);
/* Q4_K's 6-bit scale and min of sub-block j (0..7) from its 12 bytes q:
 * j < 4 in the low 6 bits of bytes j and j + 4, the others split between
 * the low or high nibble of byte j + 4 and the top 2 bits of bytes j - 4
 * and j.  Inline: the decode kernels call it per sub-block. */
static inline void tfm_q4k_scale_min(int j, const unsigned char *q, int *sc, int *m)
{
	if (j < 4) {
		*sc = q[j] & 63;
		*m = q[j + 4] & 63;
	} else {
		*sc = (q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4);
		*m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
	}
}
/* All eight at once, a byte each: scales in u[0..1], mins in u[2..3]
 * (bytes in memory order), by 32-bit operations (llama.cpp's way). */
static inline void tfm_q4k_scales(const unsigned char *q, uint32_t u[4])
{
	const uint32_t m6 = 0x3f3f3f3f, m4 = 0x0f0f0f0f, m2 = 0x03030303;

	memcpy(u, q, 12);
	u[3] = ((u[2] >> 4) & m4) | (((u[1] >> 6) & m2) << 4);
	const uint32_t mins = u[1] & m6;
	u[1] = (u[2] & m4) | (((u[0] >> 6) & m2) << 4);
	u[2] = mins;
	u[0] &= m6;
}
/* Elements per block (1 for a plain type) and bytes per block; -1 for a
 * dtype that is not one. */
int tfm_dtype_block(int dtype, size_t *block, size_t *bytes);

typedef struct tfm_tensor_info {
	const char *name, *key;
	int kind, dtype, ndim;
	size_t shape[TFM_MAX_NDIM];
	size_t nelem;
	const void *data;	/* [nbytes] as stored, little-endian */
	size_t nbytes;
} tfm_tensor_info;

/* Maps path read-only (2 MiB aligned, huge pages asked for); an empty
 * file gives base NULL, size 0. */
int tfm_file_map(const char *path, const void **base, size_t *size, tfm_error *e);
void tfm_file_unmap(const void *base, size_t size);

/* A file whose tensors a reader lists by hand: tfm_file_new over size
 * bytes at base, tfm_file_add for each tensor (begin: its byte offset from
 * base), then tfm_file_index.  tfm_file_take_map: base is a tfm_file_map
 * mapping that tfm_file_close unmaps. */
int tfm_file_new(tfm_file **f, const char *label, const void *base, size_t size,
                 tfm_error *e);
void tfm_file_take_map(tfm_file *f);
int tfm_file_add(tfm_file *f, const char *name, int dtype, int ndim, const size_t *shape,
                 size_t begin, tfm_error *e);
/* Sorts the tensors for lookup by key; fails on a name stored twice or two
 * tensors with one key.  Again after any tfm_file_set_key. */
int tfm_file_index(tfm_file *f, tfm_error *e);
/* Sets what tensor i binds as (key), its kind and, for TFM_CONVERT, why
 * (static text, for messages). */
int tfm_file_set_key(tfm_file *f, int i, const char *key, int kind, const char *why,
                     tfm_error *e);

int tfm_file_count(const tfm_file *f);
int tfm_file_info(const tfm_file *f, int i, tfm_tensor_info *info);
/* The index of the tensor stored as stored_name, or -1. */
int tfm_file_lookup(const tfm_file *f, const char *stored_name);
const char *tfm_file_label(const tfm_file *f);
/* 1 when p points into f's bytes (a tensor used in place). */
int tfm_file_holds(const tfm_file *f, const void *p);
/* Tensor i as floats into out[nelem] (exact for F32, F16, BF16). */
int tfm_file_read_f32(const tfm_file *f, int i, float *out);

/* 1 if the command-line argument arg is the option name, alone (its value
 * in the next argument) or as --name=value for a long option, with
 * *inline_value then set (else NULL). */
int tfm_is_opt(const char *arg, const char *name, const char **inline_value);

/* The value of key in the file's "__metadata__" (its string members), or
 * NULL when there is none. */
const char *tfm_file_meta(const tfm_file *f, const char *key);
/* tfm_file_write, with a "__metadata__" object of the string pairs meta[0],
 * meta[1], meta[2], ... up to a NULL key; meta NULL writes none (as
 * tfm_file_write). */
int tfm_file_write_meta(const char *path, const tfm_tensor_decl *decl, int n,
                        const void *const *data, const char *const *meta, tfm_error *e);

/* Binds decl[n] over files[nf]: each tensor from the first file whose
 * tensors bind as its name (an earlier file overrides a later one), every
 * other tensor that binds must be one an earlier file overrode; messages
 * name the file, the tensor and both shapes.  As tfm_file_bind otherwise;
 * out NULL checks all that and converts nothing. */
int tfm_files_bind(tfm_file *const *files, int nf, const tfm_tensor_decl *decl, int n,
                   void **out, tfm_error *e);

#endif
