/* fuzz_gguf.c: libFuzzer target for the GGUF reader
 * (runtime/formats/gguf.c).
 *
 * Each input is taken as a whole GGUF file: tfm_gguf_parse must list its
 * metadata and tensors in place or give an error, never crash.  When it
 * parses, every metadata value is looked up by its key and every array is
 * walked (nested ones too), every F32/F16/BF16 tensor is read in full and
 * every quantized one's bytes are summed, so that anything reaching past
 * the input shows.  Then what tfmc import reads of it: the model of its
 * metadata (gguf_config.c) and its vocabulary written as a tokenizer
 * folder (gguf_vocab.c), which must open and encode; last, the tensors
 * keyed by section 3's names and bound against a one-tensor model.
 *
 *     make fuzz
 *     build-fuzz/fuzz-gguf -max_len=4096 -max_total_time=620 fuzz/corpus-gguf fuzz/seeds-gguf
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <stdio.h>
#include <unistd.h>

#include "formats.h"
#include "import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile double fz_sink;

static void fz_value(const tfm_gguf_value *v)
{
	tfm_gguf_iter it;
	tfm_gguf_value x;

	fz_sink += (double)v->u + (double)v->i + v->f + (double)v->len;
	for (size_t j = 0; j < v->len; j++)
		fz_sink += (unsigned char)v->str[j];
	if (v->type != TFM_GGUF_ARRAY)
		return;
	tfm_gguf_iter_init(&it, v);
	while (tfm_gguf_iter_next(&it, &x))
		fz_value(&x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const tfm_tensor_decl decl = { "output_norm.weight", 1, { 4 }, TFM_F32 };
	tfm_gguf *g;
	tfm_file *f;
	tfm_error e;
	void *out;

	if (tfm_gguf_parse(&g, data, size, "fuzz.gguf", &e) != 0)
		return 0;
	for (size_t i = 0; i < tfm_gguf_count(g); i++) {
		const char *key;
		size_t len;
		tfm_gguf_value v, w;
		char *k;
		tfm_gguf_kv(g, i, &key, &len, &v);
		fz_value(&v);
		if ((k = malloc(len + 1)) != NULL) {
			memcpy(k, key, len);
			k[len] = '\0';
			if (strlen(k) == len && tfm_gguf_find(g, k, &w) != 0)
				abort();	/* every key is found again */
			free(k);
		}
	}
	f = tfm_gguf_file(g);
	for (int i = 0; i < tfm_file_count(f); i++) {
		tfm_tensor_info t;
		float *x;
		tfm_file_info(f, i, &t);
		for (size_t j = 0; j < t.nbytes; j++)
			fz_sink += ((const unsigned char *)t.data)[j];
		if (t.dtype < TFM_FOREIGN && (x = malloc(t.nelem * sizeof *x)) != NULL) {
			tfm_file_read_f32(f, i, x);
			for (size_t j = 0; j < t.nelem; j++)
				fz_sink += x[j];
			free(x);
		}
	}
	{
		static char dir[64];
		char notes[1024], why[256], tok[96];
		Model m;
		tfm_tokenizer *t;
		if (!dir[0]) {
			snprintf(dir, sizeof dir, "/tmp/fuzz-gguf-XXXXXX");
			if (!mkdtemp(dir))
				abort();
		}
		import_gguf_config(g, "fuzz.gguf", 0, &m, notes, sizeof notes, &e);
		snprintf(tok, sizeof tok, "%s/tok", dir);
		if (import_gguf_tokenizer(g, "fuzz.gguf", tok, why, sizeof why, &e) == 0
		    && tfm_tokenizer_open(&t, tok, &e) == 0) {
			int *ids = NULL;
			size_t n = 0;
			if (tfm_tokenizer_encode(t, "Hello, world! 12 \xe2\x96\x81x", 19, 1, &ids, &n, &e) == 0)
				fz_sink += (double)n;
			free(ids);
			tfm_tokenizer_close(t);
		}
	}
	if (tfm_gguf_take_weights(g, &f, &e) == 0) {
		tfm_file_bind(f, &decl, 1, &out, &e);
		tfm_file_close(f);
	}
	return 0;
}
