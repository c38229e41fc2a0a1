/* fuzz_safetensors.c: libFuzzer target for the safetensors reader.
 *
 * Each input is taken as a whole file: tfm_file_from_memory parses it and,
 * when it parses, tfm_file_bind matches it against a small fixed model (all
 * of it, then a part, so that both "missing" and "unexpected" are reached),
 * and once more with the matrix held in bf16; every bound tensor is read in
 * full so that ASan sees any bad pointer.
 *
 *     make fuzz
 *     build-fuzz/fuzz-safetensors -max_total_time=300 fuzz/corpus-safetensors fuzz/seeds-safetensors
 */
#include <stdint.h>
#include <string.h>

#include "tfm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const tfm_tensor_decl fz_decl[] = {
	{ "tok_embeddings.weight", 2, { 4, 2 }, TFM_F32 },
	{ "norm.weight", 1, { 2 }, TFM_F32 },
	{ "s", 0, { 0, 0 }, TFM_F32 },
};

static const tfm_tensor_decl fz_decl16[] = {
	{ "tok_embeddings.weight", 2, { 4, 2 }, TFM_BF16 },
	{ "norm.weight", 1, { 2 }, TFM_F32 },
	{ "s", 0, { 0, 0 }, TFM_F32 },
};

#define FZ_N ((int)(sizeof fz_decl / sizeof fz_decl[0]))

static volatile float fz_sink;

static size_t fz_count(const tfm_tensor_decl *d)
{
	size_t n = 1;
	int j;

	for (j = 0; j < d->ndim; j++)
		n *= (size_t)d->shape[j];
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	void *out[FZ_N];
	tfm_file *f;
	tfm_error e;
	size_t k;
	float acc = 0;
	int i;

	memset(&e, 0, sizeof e);
	if (tfm_file_from_memory(&f, data, size, "fuzz", &e) != 0) {
		if (f != NULL || memchr(e.msg, '\0', sizeof e.msg) == NULL || e.msg[0] == '\0')
			__builtin_trap(); /* a failure must leave no file and a message */
		return 0;
	}
	if (tfm_file_bind(f, fz_decl, FZ_N, out, &e) == 0)
		for (i = 0; i < FZ_N; i++)
			for (k = 0; k < fz_count(&fz_decl[i]); k++)
				acc += ((const float *)out[i])[k];
	else if (e.msg[0] == '\0')
		__builtin_trap();
	if (tfm_file_bind(f, fz_decl, 1, out, &e) == 0)
		for (k = 0; k < fz_count(&fz_decl[0]); k++)
			acc += ((const float *)out[0])[k];
	if (tfm_file_bind(f, fz_decl16, FZ_N, out, &e) == 0)
		for (k = 0; k < fz_count(&fz_decl16[0]); k++)
			acc += tfm_bf16_to_f32(((const tfm_bf16 *)out[0])[k]);
	fz_sink = acc;
	tfm_file_close(f);
	return 0;
}
