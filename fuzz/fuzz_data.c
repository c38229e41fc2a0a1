/* fuzz_data.c: libFuzzer target for the readers of training data
 * (runtime/train/data.c): .npy, raw uint16 .bin, and text as bytes.
 *
 * Each input is read whole in all three formats, against a small vocab and
 * a large one.  A read must give ids, every one in [0, vocab), or an error
 * with a message and no ids; never a crash.  The ids read are then drawn
 * into windows, which must be runs of the data.
 *
 *     make fuzz
 *     build-fuzz/fuzz-data -max_len=4096 -max_total_time=600 fuzz/corpus-data fuzz/seeds-data
 */
#include <stdint.h>
#include <string.h>

#include "train.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int fz_vocabs[] = { 300, 1 << 30 };

static void fz_check(const tfm_data *d, int vocab, const uint8_t *data, size_t size)
{
	int tokens[3 * 9];
	uint64_t rng;
	int seq;

	if (d->n == 0 || d->ids == NULL)
		__builtin_trap();
	for (size_t i = 0; i < d->n; i++)
		if (d->ids[i] < 0 || d->ids[i] >= vocab)
			__builtin_trap();
	if (d->n < 2)
		return;
	seq = d->n - 1 < 8 ? (int)d->n - 1 : 8;
	rng = tfm_windows_seed(size ? data[0] : 0);
	tfm_windows_draw(&rng, d->ids, d->n, 3, seq, tokens);
	for (int b = 0; b < 3; b++) {
		const int *w = tokens + b * (seq + 1);
		size_t s;
		for (s = 0; s + (size_t)seq < d->n; s++)
			if (memcmp(d->ids + s, w, ((size_t)seq + 1) * sizeof *w) == 0)
				break;
		if (s + (size_t)seq >= d->n)
			__builtin_trap(); /* a window that is not a run of the data */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int formats[] = { TFM_DATA_NPY, TFM_DATA_BIN, TFM_DATA_TEXT };
	tfm_data d;
	tfm_error e;

	(void)tfm_data_format("fuzz.npy", data, size);
	for (size_t f = 0; f < sizeof formats / sizeof formats[0]; f++)
		for (size_t v = 0; v < sizeof fz_vocabs / sizeof fz_vocabs[0]; v++) {
			memset(&e, 0, sizeof e);
			if (tfm_data_parse(&d, data, size, formats[f], "fuzz", NULL, fz_vocabs[v], &e) == 0) {
				fz_check(&d, fz_vocabs[v], data, size);
				tfm_data_free(&d);
			} else if (d.ids != NULL || e.msg[0] == '\0'
			           || memchr(e.msg, '\0', sizeof e.msg) == NULL) {
				__builtin_trap(); /* a failure leaves no ids and a message */
			}
		}
	return 0;
}
