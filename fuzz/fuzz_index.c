/* fuzz_index.c: libFuzzer target for the model.safetensors.index.json
 * reader (runtime/formats/hf.c).
 *
 * Each input is taken as an index's text; tfm_hf_index_parse must return
 * the shards and the tensor map, or an error, never crash; every name it
 * returns is read in full so that ASan sees a bad pointer.
 *
 *     make fuzz
 *     build-fuzz/fuzz-index -max_total_time=600 fuzz/corpus-index fuzz/seeds-index
 */
#include <stdint.h>
#include <string.h>

#include "formats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t fz_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tfm_hf_index x;
	tfm_error e;

	if (tfm_hf_index_parse(&x, (const char *)data, size, "index.json", &e) != 0)
		return 0;
	for (int i = 0; i < x.n_names; i++)
		fz_sink += strlen(x.names[i]) + strlen(x.files[x.file_of[i]]);
	tfm_hf_index_free(&x);
	return 0;
}
