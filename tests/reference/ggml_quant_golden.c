/* ggml_quant_golden.c: writes tests/golden/ggml_quant.bin, GGML's own
 * quantization of fixed rows, for test_quant.c to hold tfmc's to (the C
 * suites do not link GGML).  Built against the libggml-base.so that
 * tools/llama_cpp.sh fetches (node-llama-cpp 3.22.1, llama.cpp v0.5.0):
 *
 *   sh tools/llama_cpp.sh ~/.cache/tfmc/llama.cpp
 *   cc -O2 -o /tmp/ggml_quant_golden tests/reference/ggml_quant_golden.c ~/.cache/tfmc/llama.cpp/bins/libggml-base.so \
 *      -Wl,-rpath,$HOME/.cache/tfmc/llama.cpp/bins && /tmp/ggml_quant_golden tests/golden/ggml_quant.bin
 *
 * The file, little-endian: for each of Q8_0, Q4_0, Q4_K, Q6_K: int32 ggml
 * type, int32 n (floats), n float32 (8 rows of 256: uniform at scales
 * 0.02, 3 and 1e-4, a shifted one, one of zeros, one with an outlier, one
 * on Q8_0's levels, one of tiny values), int32 bytes, then GGML's blocks
 * (ggml_quantize_chunk without an importance matrix: the reference
 * rounding llama.cpp's quantize tool uses).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

size_t ggml_quantize_chunk(int type, const float *src, void *dst, int64_t start, int64_t nrows,
                           int64_t n_per_row, const float *imatrix);
void ggml_quantize_init(int type);

static uint64_t s = 0x2545f4914f6cdd1dull;

static float uniform(void)
{
	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return (float)((s >> 40) / 16777216.0) * 2.0f - 1.0f;
}

int main(int argc, char **argv)
{
	static const int types[] = { 8, 2, 12, 14 };
	enum { ROWS = 8, COLS = 256, N = ROWS * COLS };
	static float x[N];
	static unsigned char q[N * 2];
	FILE *f = argc > 1 ? fopen(argv[1], "wb") : NULL;

	if (!f) {
		fprintf(stderr, "usage: ggml_quant_golden OUT.bin\n");
		return 2;
	}
	for (int r = 0; r < ROWS; r++)
		for (int i = 0; i < COLS; i++) {
			float v = uniform();
			float *o = &x[r * COLS + i];
			switch (r) {
			case 0: *o = 0.02f * v; break;
			case 1: *o = 3.0f * v; break;
			case 2: *o = 1e-4f * v; break;
			case 3: *o = 0.5f * v + 0.7f; break;
			case 4: *o = 0.0f; break;
			case 5: *o = 0.02f * v + (i == 77 ? 4.0f : 0.0f); break;
			case 6: *o = (float)((i * 37) % 255 - 127) / 8.0f; break;
			default: *o = 1e-30f * v; break;
			}
		}
	for (int t = 0; t < 4; t++) {
		const int32_t type = types[t], n = N;
		ggml_quantize_init(type);
		const int32_t bytes = (int32_t)ggml_quantize_chunk(type, x, q, 0, ROWS, COLS, NULL);
		fwrite(&type, 4, 1, f);
		fwrite(&n, 4, 1, f);
		fwrite(x, sizeof x[0], N, f);
		fwrite(&bytes, 4, 1, f);
		fwrite(q, 1, (size_t)bytes, f);
	}
	return fclose(f) == 0 ? 0 : 1;
}
