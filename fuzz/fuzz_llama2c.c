/* fuzz_llama2c.c: libFuzzer target for the llama2.c .bin reader
 * (runtime/formats/llama2c.c).
 *
 * Each input is taken as a whole checkpoint: tfm_llama2c_parse must list
 * its tensors in place or give an error, never crash; every tensor it
 * lists is read in full, so that one reaching past the input would show.
 *
 *     make fuzz
 *     build-fuzz/fuzz-llama2c -max_len=4096 -max_total_time=600 fuzz/corpus-llama2c fuzz/seeds-llama2c
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile float fz_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tfm_llama2c_config c;
	tfm_file *f;
	tfm_error e;

	if (tfm_llama2c_parse(&f, &c, data, size, "fuzz.bin", &e) != 0)
		return 0;
	for (int i = 0; i < tfm_file_count(f); i++) {
		tfm_tensor_info t;
		float *x;
		tfm_file_info(f, i, &t);
		if ((x = malloc(t.nelem ? t.nelem * sizeof *x : 1)) != NULL) {
			tfm_file_read_f32(f, i, x);
			for (size_t j = 0; j < t.nelem; j++)
				fz_sink += x[j];
			free(x);
		}
	}
	tfm_file_close(f);
	return 0;
}
