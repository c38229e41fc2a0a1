/* fuzz_config.c: libFuzzer target for tfmc import's config.json reader.
 *
 * Each input is taken as the text of a config.json: the runtime's reader
 * (architecture and tying) and the import's (every key, with and without a
 * shorter --max-seq) must return a Model or an error, never crash.  When it
 * gives a Model, its tensor list is computed too, so that absurd sizes
 * that got through would show.
 *
 *     make fuzz
 *     build-fuzz/fuzz-config -max_total_time=600 fuzz/corpus-config fuzz/seeds-config
 */
#include <stdint.h>
#include <string.h>

#include "import.h"
#include "tensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long long asks[] = { 0, 64 };
	tfm_hf_config c;
	tfm_error e;
	char notes[512];
	Model m;
	int arch;

	tfm_hf_config_parse(&c, (const char *)data, size, "config.json", &e);
	for (size_t i = 0; i < sizeof asks / sizeof asks[0]; i++)
		if (import_hf_config((const char *)data, size, "config.json", asks[i], &m, &arch, notes,
		                     sizeof notes, &e) == 0 && m.n_layer < 64 && m.head_dim > 0) {
			Cost cost;
			model_tensors(&m, NULL, 0);
			model_cost(&m, &cost);
		}
	return 0;
}
