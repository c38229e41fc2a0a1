/* test_quant.c: CUnit suite for GGML's quantized blocks
 * (runtime/formats/quant.c) and the products over them
 * (runtime/kernels/matmul.c's matmul_q).
 *
 *   - half precision: every one of the 65536 halves widens and narrows back
 *     to itself (NaNs stay NaN), and narrowing a float picks the nearest half,
 *     ties to even, checked against its neighbours;
 *   - dequantizing: blocks written here by hand, from their definition in
 *     ggml-common.h (not through the reader), decode to the weights the
 *     definition gives, to the bit;
 *   - quantizing (GGML's reference rounding): GGML's own bytes for fixed rows
 *     (written by llama.cpp's libggml, tests/reference/ggml_quant_golden.c);
 *     it decodes back within each format's step, it is deterministic, zeros
 *     stay zeros, and a block whose values are exactly its levels comes back
 *     exactly;
 *   - matmul_q on every set this CPU runs, decode and prefill, 0-3 threads:
 *     within 1e-5 * max(1, max |ref|) of a double-precision product of the
 *     dequantized weights, the same bits at every thread count, and a
 *     batch the bits of matmul on tfm_dequantize's floats (its panels are
 *     dequantized by the kernels' own vector code).
 *
 * The model-level check (logits of a quantized GGUF model against the NumPy
 * reference, which dequantizes on its own) is test_codegen.c's.
 */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfm_internal.h"
#include "testutil.h"

static const char *const qt_isas[] = { "scalar", "avx2", "avx512" };
#define QT_N_ISAS 3
static const int qt_types[] = { TFM_Q8_0, TFM_Q4_0, TFM_Q4_K, TFM_Q6_K };
#define QT_N_TYPES 4

static tfm_pool *qt_pool[4];	/* NULL, 1, 2, 3 threads */

static int qt_open(void)
{
	for (int i = 1; i < 4; i++)
		if (tfm_pool_open(&qt_pool[i], i, NULL) != 0)
			return -1;
	return 0;
}

static int qt_close(void)
{
	for (int i = 1; i < 4; i++)
		tfm_pool_close(qt_pool[i]);
	return 0;
}

static uint64_t qt_rng = 0x9e3779b97f4a7c15ull;

static uint32_t qt_next(void)
{
	qt_rng ^= qt_rng << 13;
	qt_rng ^= qt_rng >> 7;
	qt_rng ^= qt_rng << 17;
	return (uint32_t)(qt_rng >> 32);
}

static float qt_uniform(float lo, float hi)
{
	return lo + (hi - lo) * (float)((qt_next() >> 8) / 16777216.0);
}

static float qt_bits(uint32_t u)
{
	float x;
	memcpy(&x, &u, sizeof x);
	return x;
}

/* ---- Half precision ----------------------------------------------------------- */

static void test_f16(void)
{
	int bad = 0;

	for (uint32_t h = 0; h < 65536; h++) {
		const float x = tfm_f16_to_f32((uint16_t)h);
		const uint16_t back = tfm_f32_to_f16(x);
		if (isnan(x) ? !((back & 0x7c00) == 0x7c00 && (back & 0x3ff)) : back != h)
			bad++;
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(tfm_f16_to_f32(0x3c00), 1.0f);
	CU_ASSERT_EQUAL(tfm_f16_to_f32(0x0001), ldexpf(1.0f, -24));
	CU_ASSERT_EQUAL(tfm_f16_to_f32(0x7bff), 65504.0f);
	CU_ASSERT_EQUAL(tfm_f32_to_f16(65519.0f), 0x7bff);
	CU_ASSERT_EQUAL(tfm_f32_to_f16(65520.0f), 0x7c00);
	CU_ASSERT_EQUAL(tfm_f32_to_f16(-1e9f), 0xfc00);
	CU_ASSERT_EQUAL(tfm_f32_to_f16(ldexpf(1.0f, -25)), 0x0000);	/* a tie: to even, 0 */
	CU_ASSERT_EQUAL(tfm_f32_to_f16(ldexpf(1.5f, -25)), 0x0001);
	CU_ASSERT_EQUAL(tfm_f32_to_f16(ldexpf(3.0f, -25)), 0x0002);	/* 1.5 units: to even */
	/* Random floats over the half range: the nearest half, ties to even. */
	bad = 0;
	for (int i = 0; i < 200000; i++) {
		const float x = qt_bits((qt_next() & 0x80000000u) | (0x30000000u + qt_next() % 0x17800000u));
		const uint16_t h = tfm_f32_to_f16(x);
		const double d = fabs((double)tfm_f16_to_f32(h) - x);
		if ((h & 0x7fff) == 0x7c00) {	/* inf: IEEE overflows from 65520 (65504 + half a step) */
			bad += fabsf(x) < 65520.0f;
			continue;
		}
		for (int s = -1; s <= 1; s += 2) {
			const uint16_t o = (uint16_t)(h + s);
			if ((o & 0x7fff) >= 0x7c00 || ((o ^ h) & 0x8000))
				continue;
			const double od = fabs((double)tfm_f16_to_f32(o) - x);
			if (od < d || (od == d && (h & 1))) {
				if (bad++ < 5)
					printf("\n    %a -> %04x (%a), but %04x (%a) is nearer", x, h, tfm_f16_to_f32(h), o,
					       tfm_f16_to_f32(o));
			}
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
}

/* ---- Blocks by hand ------------------------------------------------------------ */

static void put16(unsigned char *p, uint16_t h)
{
	p[0] = (unsigned char)h;
	p[1] = (unsigned char)(h >> 8);
}

/* A block of each type with random contents, and the weights ggml-common.h's
 * layout gives, computed here element by element. */
static void qt_block(int type, unsigned char *b, float *w)
{
	const float d = tfm_f16_to_f32((uint16_t)(0x2000 + qt_next() % 0x1000));	/* ~1e-3 .. 1e-2 */
	const float dmin = tfm_f16_to_f32((uint16_t)(0x2000 + qt_next() % 0x1000));

	switch (type) {
	case TFM_Q8_0:
		put16(b, tfm_f32_to_f16(d));
		for (int j = 0; j < 32; j++) {
			b[2 + j] = (unsigned char)qt_next();
			w[j] = d * (float)(signed char)b[2 + j];
		}
		break;
	case TFM_Q4_0:
		put16(b, tfm_f32_to_f16(d));
		for (int j = 0; j < 32; j++) {
			const int q = (int)(qt_next() % 16);
			if (j < 16)
				b[2 + j] = (unsigned char)q;
			else
				b[2 + j - 16] |= (unsigned char)(q << 4);
			w[j] = d * (float)(q - 8);
		}
		break;
	case TFM_Q4_K: {
		int sc[8], mn[8];
		put16(b, tfm_f32_to_f16(d));
		put16(b + 2, tfm_f32_to_f16(dmin));
		memset(b + 4, 0, 12);
		for (int s = 0; s < 8; s++) {
			sc[s] = (int)(qt_next() % 64);
			mn[s] = (int)(qt_next() % 64);
			/* sub-blocks 0-3: 6 bits in bytes s and s + 4; 4-7: low 4 bits
			 * in byte s + 4's nibbles, top 2 in bytes s - 4 and s */
			if (s < 4) {
				b[4 + s] |= (unsigned char)sc[s];
				b[4 + s + 4] |= (unsigned char)mn[s];
			} else {
				b[4 + s + 4] |= (unsigned char)((sc[s] & 15) | (mn[s] & 15) << 4);
				b[4 + s - 4] |= (unsigned char)((sc[s] >> 4) << 6);
				b[4 + s] |= (unsigned char)((mn[s] >> 4) << 6);
			}
		}
		for (int j = 0; j < 256; j++) {
			const int q = (int)(qt_next() % 16), s = j / 32, byte = 16 + (j / 64) * 32 + j % 32;
			if (j % 64 < 32)
				b[byte] = (unsigned char)q;
			else
				b[byte] |= (unsigned char)(q << 4);
			w[j] = (d * (float)sc[s]) * (float)q - dmin * (float)mn[s];
		}
		break;
	}
	case TFM_Q6_K: {
		signed char sc[16];
		for (int s = 0; s < 16; s++) {
			sc[s] = (signed char)(qt_next() % 256);
			b[192 + s] = (unsigned char)sc[s];
		}
		put16(b + 208, tfm_f32_to_f16(d));
		memset(b, 0, 192);
		for (int j = 0; j < 256; j++) {
			/* weight j: half h = j / 128, l = j % 32, group g = (j % 128) / 32:
			 * low nibble in ql[64 h + l + 32 (g & 1)] (low for g < 2), high
			 * bits in qh[32 h + l] at 2 g */
			const int q = (int)(qt_next() % 64), h = j / 128, l = j % 32, g = (j % 128) / 32;
			const int qlb = 64 * h + l + 32 * (g & 1);
			b[qlb] |= (unsigned char)((q & 15) << (g < 2 ? 0 : 4));
			b[128 + 32 * h + l] |= (unsigned char)((q >> 4) << (2 * g));
			w[j] = (d * (float)sc[j / 16]) * (float)(q - 32);
		}
		break;
	}
	}
}

static void test_dequantize(void)
{
	unsigned char b[4][210];
	float want[4 * 256], got[4 * 256];

	for (int t = 0; t < QT_N_TYPES; t++) {
		size_t block, bytes;
		int bad = 0;
		CU_ASSERT_FATAL(tfm_dtype_block(qt_types[t], &block, &bytes) == 0);
		for (int trial = 0; trial < 200; trial++) {
			unsigned char row[4 * 210];
			for (int i = 0; i < 4; i++) {
				qt_block(qt_types[t], b[i], want + i * block);
				memcpy(row + i * bytes, b[i], bytes);
			}
			CU_ASSERT(tfm_dequantize(qt_types[t], row, got, 4 * block) == 0);
			bad += memcmp(got, want, sizeof(float) * 4 * block) != 0;
		}
		if (bad)
			printf("\n    %s: %d rows decode to other weights", tfm_dtype_name(qt_types[t]), bad);
		CU_ASSERT_EQUAL(bad, 0);
		CU_ASSERT_EQUAL(tfm_dtype_row_bytes(qt_types[t], 4 * block), 4 * bytes);
		CU_ASSERT_EQUAL(tfm_dtype_row_bytes(qt_types[t], block + 1), 0);
		CU_ASSERT(tfm_dequantize(qt_types[t], b[0], got, block / 2) == -1);
	}
	CU_ASSERT(tfm_dequantize(TFM_F32, b[0], got, 32) == -1);
}

/* ---- Quantizing ------------------------------------------------------------------ */

static void test_quantize(void)
{
	enum { N = 1024 };
	static float x[N], y[N];
	static unsigned char q[2][N / 32 * 34 + 256];

	for (int t = 0; t < QT_N_TYPES; t++) {
		const int type = qt_types[t];
		size_t block, bytes;
		double worst = 0;
		tfm_dtype_block(type, &block, &bytes);
		for (int trial = 0; trial < 20; trial++) {
			const float scale = trial % 2 ? 0.02f : 3.0f;
			for (int i = 0; i < N; i++)
				x[i] = qt_uniform(-scale, scale) + (trial % 4 == 3 ? scale : 0.0f);
			CU_ASSERT_FATAL(tfm_quantize(type, x, q[0], N) == 0);
			CU_ASSERT_FATAL(tfm_quantize(type, x, q[1], N) == 0);
			CU_ASSERT(memcmp(q[0], q[1], N / block * bytes) == 0);
			CU_ASSERT_FATAL(tfm_dequantize(type, q[0], y, N) == 0);
			/* Each block within its step: the range over the levels (2^bits - 1
			 * steps), and a margin for the scales' own 6- or 8-bit rounding. */
			for (size_t b0 = 0; b0 < N; b0 += block) {
				float lo = x[b0], hi = x[b0];
				double err = 0;
				for (size_t i = b0; i < b0 + block; i++) {
					lo = fminf(lo, x[i]);
					hi = fmaxf(hi, x[i]);
					err = fmax(err, fabs((double)y[i] - x[i]));
				}
				const double range = fmax(fabs(lo), fabs(hi)) * 2;
				const double step = type == TFM_Q8_0 ? range / 254 : type == TFM_Q6_K ? range / 63
				                                                                      : range / 15;
				worst = fmax(worst, err / step);
			}
		}
		printf("\n    %-5s worst |x - dequant(quant(x))| = %.2f steps", tfm_dtype_name(type), worst);
		/* Q8_0 and Q6_K round to the nearest level (plus d's own rounding to a
		 * half); Q4_0's levels -8..7 d leave the far side a step short; Q4_K
		 * shifts by a rounded min. */
		CU_ASSERT(worst <= (type == TFM_Q8_0 ? 0.6 : type == TFM_Q4_0 ? 1.1 : type == TFM_Q6_K ? 0.75 : 1.0));
		/* zeros stay zeros */
		memset(x, 0, sizeof x);
		tfm_quantize(type, x, q[0], N);
		tfm_dequantize(type, q[0], y, N);
		CU_ASSERT(test_max_abs(y, N) == 0);
	}
	/* Values on Q8_0's levels come back exactly: d = 1/8 (amax 127/8). */
	for (int i = 0; i < 32; i++)
		x[i] = (float)((i * 37) % 255 - 127) / 8.0f;
	x[5] = 127.0f / 8.0f;
	tfm_quantize(TFM_Q8_0, x, q[0], 32);
	tfm_dequantize(TFM_Q8_0, q[0], y, 32);
	CU_ASSERT(memcmp(x, y, 32 * sizeof(float)) == 0);
	CU_ASSERT(tfm_quantize(TFM_Q4_K, x, q[0], 32) == -1);
	printf("\n");
}

/* GGML's own quantization of fixed rows (tests/golden/ggml_quant.bin, written by
 * tests/reference/ggml_quant_golden.c against llama.cpp's libggml): tfmc's
 * blocks are its bytes, and dequantize to the floats its blocks mean. */
static void test_ggml_bytes(void)
{
	static const struct { int32_t ggml; int dtype; } map[] = {
		{ 8, TFM_Q8_0 }, { 2, TFM_Q4_0 }, { 12, TFM_Q4_K }, { 14, TFM_Q6_K },
	};
	FILE *f = fopen("tests/golden/ggml_quant.bin", "rb");
	int32_t type, n, bytes;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	for (int t = 0; t < 4; t++) {
		CU_ASSERT_FATAL(fread(&type, 4, 1, f) == 1 && fread(&n, 4, 1, f) == 1 && n > 0 && n <= 1 << 16);
		float *x = malloc(sizeof(float) * (size_t)n);
		CU_ASSERT_FATAL(x && fread(x, sizeof(float), (size_t)n, f) == (size_t)n);
		CU_ASSERT_FATAL(fread(&bytes, 4, 1, f) == 1 && bytes > 0 && bytes <= 4 * n);
		unsigned char *want = malloc((size_t)bytes), *got = malloc((size_t)bytes);
		CU_ASSERT_FATAL(want && got && fread(want, 1, (size_t)bytes, f) == (size_t)bytes);
		CU_ASSERT_EQUAL(type, map[t].ggml);
		CU_ASSERT_EQUAL((size_t)bytes, tfm_dtype_row_bytes(map[t].dtype, (size_t)n));
		CU_ASSERT(tfm_quantize(map[t].dtype, x, got, (size_t)n) == 0);
		int differ = 0;
		for (int i = 0; i < bytes; i++)
			differ += got[i] != want[i];
		printf("\n    %-5s %d of %d bytes differ from GGML's", tfm_dtype_name(map[t].dtype), differ, bytes);
		CU_ASSERT_EQUAL(differ, 0);
		free(x);
		free(want);
		free(got);
	}
	fclose(f);
	printf("\n");
}

/* ---- matmul_q ---------------------------------------------------------------------- */

static double qt_worst[QT_N_ISAS][QT_N_TYPES];

static void qt_matmul_case(int ti, int n, int rows, int cols, int bias)
{
	const int type = qt_types[ti];
	const size_t rb = tfm_dtype_row_bytes(type, (size_t)cols);
	unsigned char *w = malloc(rb * (size_t)rows + 1);
	float *wf = malloc(sizeof(float) * (size_t)rows * cols), *tmp = malloc(sizeof(float) * (size_t)cols);
	float *x = malloc(sizeof(float) * (size_t)n * cols), *b = malloc(sizeof(float) * (size_t)rows);
	float *y = malloc(sizeof(float) * (size_t)n * rows), *y0 = malloc(sizeof(float) * (size_t)n * rows);
	double *ref = malloc(sizeof(double) * (size_t)n * rows);

	CU_ASSERT_FATAL(w && wf && tmp && x && b && y && y0 && ref && rb);
	for (int r = 0; r < rows; r++) {
		for (int k = 0; k < cols; k++)
			tmp[k] = qt_uniform(-1, 1);
		tfm_quantize(type, tmp, w + (size_t)r * rb, (size_t)cols);
		tfm_dequantize(type, w + (size_t)r * rb, wf + (size_t)r * cols, (size_t)cols);
		b[r] = qt_uniform(-1, 1);
	}
	for (size_t i = 0; i < (size_t)n * cols; i++)
		x[i] = qt_uniform(-1, 1);
	for (int t = 0; t < n; t++)
		for (int r = 0; r < rows; r++) {
			double s = bias ? b[r] : 0;
			for (int k = 0; k < cols; k++)
				s += (double)wf[(size_t)r * cols + k] * x[(size_t)t * cols + k];
			ref[(size_t)t * rows + r] = s;
		}
	for (int i = 0; i < QT_N_ISAS; i++) {
		const tfm_kernels *k = tfm_kernels_for(qt_isas[i]);
		if (!k)
			continue;
		for (int p = 0; p < 4; p++) {
			/* the whole batch, then each token alone (decode) */
			for (int one = 0; one < 2; one++) {
				memset(y, 0xff, sizeof(float) * (size_t)n * rows);
				if (one)
					for (int t = 0; t < n; t++)
						k->matmul_q(qt_pool[p], y + (size_t)t * rows, x + (size_t)t * cols, w, type,
						            bias ? b : NULL, 1, rows, cols);
				else
					k->matmul_q(qt_pool[p], y, x, w, type, bias ? b : NULL, n, rows, cols);
				double d = 0, scale = 1;
				for (size_t j = 0; j < (size_t)n * rows; j++) {
					d = fmax(d, fabs(y[j] - ref[j]));
					scale = fmax(scale, fabs(ref[j]));
				}
				d = isnan(d) ? INFINITY : d / scale;
				qt_worst[i][ti] = fmax(qt_worst[i][ti], d);
				if (!(d <= 1e-5))
					printf("\n    matmul_q %s %s n %d rows %d cols %d %s pool %d: %.2e", qt_isas[i],
					       tfm_dtype_name(type), n, rows, cols, one ? "decode" : "batch", p, d);
				CU_ASSERT(d <= 1e-5);
				/* A batch multiplies a dequantized panel with the float tiles:
				 * the bits of matmul on tfm_dequantize's weights. */
				if (!one && n > 1) {
					float *yf = malloc(sizeof(float) * (size_t)n * rows);
					CU_ASSERT_FATAL(yf != NULL);
					k->matmul(qt_pool[p], yf, x, wf, bias ? b : NULL, n, rows, cols);
					CU_ASSERT(memcmp(yf, y, sizeof(float) * (size_t)n * rows) == 0);
					free(yf);
				}
				if (p == 0 && one == (n == 1))
					memcpy(y0, y, sizeof(float) * (size_t)n * rows);
				else if (one == (n == 1))
					CU_ASSERT(memcmp(y0, y, sizeof(float) * (size_t)n * rows) == 0);
			}
		}
	}
	free(w);
	free(wf);
	free(tmp);
	free(x);
	free(b);
	free(y);
	free(y0);
	free(ref);
}

/* The int8 mode: a token's x rounded as llama.cpp rounds it (here on its
 * own: Q8_0 blocks of 32 with d = amax / 127 as a half, q = x * (127 / amax)
 * to the nearest, ties to even, for Q8_0 and Q4_0 weights; Q8_K blocks of
 * 256 with s = -127 / (the first x of largest magnitude), q = min(127,
 * rint(s x)), d = 1 / s, for Q4_K and Q6_K), the dequantized weights times
 * that rounded x in double: matmul_qi8 within 1e-5 of it on every set, the
 * same bits at every thread count; a batch is matmul_q's.  What the
 * rounding costs is printed: the relative rms difference from the f32 mode. */
static void qt_round_x(int type, const float *x, float *xr, int cols)
{
	if (type == TFM_Q8_0 || type == TFM_Q4_0)
		for (int b = 0; b < cols / 32; b++) {
			float amax = 0;
			for (int j = 0; j < 32; j++)
				amax = fmaxf(amax, fabsf(x[32 * b + j]));
			const float d = (float)(_Float16)(amax / 127.0f), id = amax ? 127.0f / amax : 0.0f;
			for (int j = 0; j < 32; j++)
				xr[32 * b + j] = rintf(x[32 * b + j] * id) * d;
		}
	else
		for (int b = 0; b < cols / 256; b++) {
			float amax = 0, max = 0;
			for (int j = 0; j < 256; j++)
				if (fabsf(x[256 * b + j]) > amax) {
					amax = fabsf(x[256 * b + j]);
					max = x[256 * b + j];
				}
			const float s = amax ? -127.0f / max : 0.0f, d = amax ? 1.0f / s : 0.0f;
			for (int j = 0; j < 256; j++)
				xr[256 * b + j] = fminf(127.0f, rintf(s * x[256 * b + j])) * d;
		}
}

static void test_matmul_qi8(void)
{
	static const int types[] = { TFM_Q8_0, TFM_Q4_0, TFM_Q4_K, TFM_Q6_K };
	/* 288 and 352 columns: Q4_0's pairs of blocks with one left over, after
	 * an even and an odd count of pairs (the K types need whole 256s);
	 * 10016 and 10240: x's rounding on the heap, not the stack.  Odd
	 * shapes hold rows of random bytes instead (Q8_0's -128, any Q4_K
	 * scale and min), their block scales set to 2^-6, and a bias. */
	static const int shapes[][2] = { { 1, 256 }, { 17, 512 }, { 100, 1280 }, { 300, 256 }, { 9, 288 },
	                                  { 5, 352 }, { 3, 10016 }, { 2, 10240 } };
	double worst[QT_N_ISAS][4] = { { 0 } }, e2s[4] = { 0 }, r2s[4] = { 0 };

	for (int ti = 0; ti < 4; ti++)
		for (int si = 0; si < 8; si++) {
			const int type = types[ti], rows = shapes[si][0], cols = shapes[si][1], raw = si % 2;
			if ((type == TFM_Q4_K || type == TFM_Q6_K) && cols % 256)
				continue;
			const size_t rb = tfm_dtype_row_bytes(type, (size_t)cols);
			unsigned char *w = malloc(rb * (size_t)rows);
			float *wf = malloc(sizeof(float) * (size_t)rows * cols), *x = malloc(sizeof(float) * (size_t)cols * 3);
			float *xr = malloc(sizeof(float) * (size_t)cols), *y = malloc(sizeof(float) * (size_t)rows * 3);
			float *y0 = malloc(sizeof(float) * (size_t)rows * 3);
			double *ref = malloc(sizeof(double) * (size_t)rows);
			CU_ASSERT_FATAL(w && wf && x && xr && y && y0 && ref);
			float *bias = malloc(sizeof(float) * (size_t)rows);
			CU_ASSERT_FATAL(bias != NULL);
			for (int r = 0; r < rows; r++) {
				unsigned char *row = w + (size_t)r * rb;
				for (int k = 0; k < cols; k++)
					xr[k] = qt_uniform(-1, 1);
				tfm_quantize(type, xr, row, (size_t)cols);
				if (raw) {
					const size_t bs = type == TFM_Q8_0 ? 34 : type == TFM_Q4_0 ? 18 : type == TFM_Q4_K ? 144 : 210;
					const size_t at = type == TFM_Q6_K ? 208 : 0;	/* the block's d */
					for (size_t j = 0; j < rb; j++)
						row[j] = (unsigned char)(qt_uniform(0, 256));
					for (size_t j = 0; j < rb; j += bs) {
						row[j + at] = 0x00, row[j + at + 1] = 0x24;	/* 2^-6 */
						if (type == TFM_Q4_K)	/* dmin */
							row[j + 2] = 0x00, row[j + 3] = 0x20;	/* 2^-7 */
					}
				}
				tfm_dequantize(type, row, wf + (size_t)r * cols, (size_t)cols);
				bias[r] = raw ? qt_uniform(-1, 1) : 0.0f;
			}
			for (int k = 0; k < 3 * cols; k++)
				x[k] = k >= 32 && k < 64 ? 0.0f : qt_uniform(-2, 2);	/* a block of zeros */
			qt_round_x(type, x, xr, cols);
			for (int r = 0; r < rows; r++) {
				double acc = bias[r];
				for (int k = 0; k < cols; k++)
					acc += (double)wf[(size_t)r * cols + k] * xr[k];
				ref[r] = acc;
			}
			for (int i = 0; i < QT_N_ISAS; i++) {
				const tfm_kernels *k = tfm_kernels_for(qt_isas[i]);
				if (!k)
					continue;
				for (int p = 0; p < 4; p++) {
					k->matmul_qi8(qt_pool[p], y, x, w, type, raw ? bias : NULL, 1, rows, cols);
					double dmax = 0, scale = 1;
					for (int r = 0; r < rows; r++) {
						dmax = fmax(dmax, fabs(y[r] - ref[r]));
						scale = fmax(scale, fabs(ref[r]));
					}
					worst[i][ti] = fmax(worst[i][ti], dmax / scale);
					CU_ASSERT(dmax / scale <= 1e-5);
					if (p == 0)
						memcpy(y0, y, sizeof(float) * (size_t)rows);
					else
						CU_ASSERT(memcmp(y0, y, sizeof(float) * (size_t)rows) == 0);
				}
				/* what rounding x costs: against the f32 mode's product, over
				 * every row of quantized weights (random bytes cancel more) */
				k->matmul_qi8(qt_pool[0], y, x, w, type, NULL, 1, rows, cols);
				k->matmul_q(qt_pool[0], y0, x, w, type, NULL, 1, rows, cols);
				double e2 = 0, r2 = 0;
				for (int r = 0; r < rows; r++) {
					e2 += ((double)y[r] - y0[r]) * ((double)y[r] - y0[r]);
					r2 += (double)y0[r] * y0[r];
				}
				if (!raw && i == 0) {
					e2s[ti] += e2;
					r2s[ti] += r2;
				}
				k->matmul_qi8(qt_pool[1], y, x, w, type, NULL, 3, rows, cols);
				k->matmul_q(qt_pool[1], y0, x, w, type, NULL, 3, rows, cols);
				CU_ASSERT(memcmp(y0, y, sizeof(float) * (size_t)rows * 3) == 0);
				/* a NaN or an infinity in x shows in every row, as in the f32 mode */
				for (int bad = 0; bad < 2; bad++) {
					const float keep = x[cols / 2];
					x[cols / 2] = bad ? INFINITY : NAN;
					k->matmul_qi8(qt_pool[1], y, x, w, type, NULL, 1, rows, cols);
					for (int r = 0; r < rows; r++)
						CU_ASSERT(isnan(y[r]));
					x[cols / 2] = keep;
				}
			}
			free(bias);
			free(w);
			free(wf);
			free(x);
			free(xr);
			free(y);
			free(y0);
			free(ref);
		}
	for (int i = 0; i < QT_N_ISAS; i++)
		if (tfm_kernels_for(qt_isas[i]))
			for (int t = 0; t < 4; t++)
				printf("\n    matmul_qi8 %-7s %-5s against rounded x: %.2e", qt_isas[i], tfm_dtype_name(types[t]),
				       worst[i][t]);
	for (int t = 0; t < 4; t++) {
		printf("\n    the int8 mode against the f32 one, %-5s: relative rms difference %.2e", tfm_dtype_name(types[t]),
		       sqrt(e2s[t] / r2s[t]));
		CU_ASSERT(e2s[t] <= 1e-4 * r2s[t]);
	}
	printf("\n");
}

static void test_matmul_q(void)
{
	static const int rows[] = { 1, 3, 17, 100 };
	static const int ns[] = { 1, 2, 7, 130 };
	static const int cols32[] = { 32, 64, 288, 800 }, cols256[] = { 256, 512, 1280 };
	int c = 0;

	for (int t = 0; t < QT_N_TYPES; t++) {
		const int k_quant = qt_types[t] == TFM_Q4_K || qt_types[t] == TFM_Q6_K;
		const int *cols = k_quant ? cols256 : cols32, nc = k_quant ? 3 : 4;
		for (int a = 0; a < 4; a++)
			for (int j = 0; j < nc; j++)
				for (int m = 0; m < 4; m++, c++)
					if (!(ns[m] == 130 && rows[a] == 100))
						qt_matmul_case(t, ns[m], rows[a], cols[j], c % 2);
		qt_matmul_case(t, 40, 300, cols[nc - 1], 1);	/* several panels of rows */
	}
	for (int i = 0; i < QT_N_ISAS; i++)
		if (tfm_kernels_for(qt_isas[i]))
			for (int t = 0; t < QT_N_TYPES; t++)
				printf("\n    matmul_q %-7s %-5s max |diff| / max(1, max |ref|) = %.2e", qt_isas[i],
				       tfm_dtype_name(qt_types[t]), qt_worst[i][t]);
	printf("\n");
}

/* ---- Quantizing at load, end to end --------------------------------------------- */

/* A model on random f32 weights run with --weight-dtype T (each matrix
 * quantized as it loads) gives the logits the f32 program gives on the
 * weights T's blocks stand for (the same file quantized and dequantized
 * here, written as f32): the same model, two paths. */
static void test_quantize_at_load(void)
{
	static const char *const names[] = { "q8_0", "q4_0", "q4_K", "q6_K" };
	char dir[TEST_DIR_MAX];
	tfm_error e;

	CU_ASSERT_FATAL(test_dir_open(dir, "quant") == 0);
	FILE *f = fopen(test_path(dir, "m.tfm"), "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("model qload {\n vocab = 64  d_model = 256  n_layer = 2  n_head = 4  n_kv_head = 2\n"
	      " d_ff = 512  max_seq = 16  activation = swiglu  position = rope\n}\n", f);
	fclose(f);
	CU_ASSERT_FATAL(test_sh("./tfmc init %s -o %s --seed 7 2>/dev/null", test_path(dir, "m.tfm"),
	                        test_path(dir, "w.safetensors")) == 0);
	for (int t = 0; t < QT_N_TYPES; t++) {
		tfm_file *src;
		CU_ASSERT_FATAL(tfm_file_open(&src, test_path(dir, "w.safetensors"), &e) == 0);
		const int n = tfm_file_count(src);
		tfm_tensor_decl *decl = calloc((size_t)n, sizeof *decl);
		void **data = calloc((size_t)n, sizeof *data);
		float **deq = calloc((size_t)n, sizeof *deq);
		CU_ASSERT_FATAL(decl && data && deq);
		for (int i = 0; i < n; i++) {
			tfm_tensor_info ti;
			tfm_file_info(src, i, &ti);
			decl[i] = (tfm_tensor_decl){ ti.name, ti.ndim, { (long)ti.shape[0], ti.ndim > 1 ? (long)ti.shape[1] : 0 },
			                             TFM_F32 };
		}
		CU_ASSERT_FATAL(tfm_file_bind(src, decl, n, data, &e) == 0);
		for (int i = 0; i < n; i++) {
			size_t nel = (size_t)decl[i].shape[0] * (decl[i].ndim > 1 ? (size_t)decl[i].shape[1] : 1);
			deq[i] = malloc(sizeof(float) * nel);
			memcpy(deq[i], data[i], sizeof(float) * nel);
			if (decl[i].ndim == 2) {
				unsigned char *blocks = malloc(tfm_dtype_row_bytes(qt_types[t], nel));
				tfm_quantize(qt_types[t], deq[i], blocks, nel);
				tfm_dequantize(qt_types[t], blocks, deq[i], nel);
				free(blocks);
			}
		}
		CU_ASSERT(tfm_file_write(test_path(dir, "deq.safetensors"), decl, n, (const void *const *)deq, &e) == 0);
		tfm_file_close(src);
		for (int i = 0; i < n; i++)
			free(deq[i]);
		free(deq);
		free(data);
		free(decl);
		CU_ASSERT(test_sh("./tfmc run %s --weights %s --weight-dtype %s --tokens 1,5,9,33,2,63 -n 1 --logits %s "
		                  ">/dev/null 2>&1", test_path(dir, "m.tfm"), test_path(dir, "w.safetensors"), names[t],
		                  test_path(dir, "q.npy")) == 0);
		CU_ASSERT(test_sh("./tfmc run %s --weights %s --tokens 1,5,9,33,2,63 -n 1 --logits %s >/dev/null 2>&1",
		                  test_path(dir, "m.tfm"), test_path(dir, "deq.safetensors"), test_path(dir, "f.npy")) == 0);
		long r1, c1, r2, c2;
		float *a = test_npy_read(test_path(dir, "q.npy"), &r1, &c1);
		float *b = test_npy_read(test_path(dir, "f.npy"), &r2, &c2);
		CU_ASSERT_FATAL(a && b && r1 == r2 && c1 == c2);
		const double d = test_max_diff(a, b, r1 * c1), tol = 1e-4 * fmax(1.0, test_max_abs(b, r1 * c1));
		printf("\n    --weight-dtype %-5s vs f32 on its dequantized weights: max |diff| %.2e (bound %.1e)",
		       names[t], d, tol);
		CU_ASSERT(d <= tol);
		free(a);
		free(b);
	}
	/* random weights (no --weights) quantize too; init refuses to write blocks */
	CU_ASSERT(test_sh("./tfmc run %s --weight-dtype q4_K --tokens 1,2 -n 2 >/dev/null 2>&1", test_path(dir, "m.tfm")) == 0);
	CU_ASSERT(test_sh("./tfmc init %s --weight-dtype q8_0 -o %s 2>/dev/null", test_path(dir, "m.tfm"),
	                  test_path(dir, "x.safetensors")) != 0);
	/* init writes blocks into a GGUF file, used in place once imported */
	{
		char gguf[TEST_DIR_MAX + 16], spec[TEST_DIR_MAX + 16];	/* test_path's buffers rotate */
		snprintf(gguf, sizeof gguf, "%s", test_path(dir, "r.gguf"));
		snprintf(spec, sizeof spec, "%s", test_path(dir, "r.tfm"));
		CU_ASSERT(test_sh("./tfmc init %s --weight-dtype q4_0 -o %s 2>/dev/null && ./tfmc import %s -o %s 2>/dev/null && "
		                  "./tfmc run %s --tokens 1,2 -n 2 --timings 2>&1 | grep -q ', 0 converted'",
		                  test_path(dir, "m.tfm"), gguf, gguf, spec, spec) == 0);
	}
	/* rows that are not whole blocks: an error naming the tensor */
	f = fopen(test_path(dir, "odd.tfm"), "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("model odd {\n vocab = 64  d_model = 288  n_layer = 1  n_head = 4  max_seq = 16\n}\n", f);
	fclose(f);
	CU_ASSERT(test_sh("./tfmc run %s --weight-dtype q4_K --tokens 1 2>&1 | grep -q \"tensor 'tok_embeddings.weight' has rows of 288, not whole q4_K blocks of 256\"",
	                  test_path(dir, "odd.tfm")) == 0);
	CU_ASSERT(test_sh("./tfmc run %s --weight-dtype q5_K --tokens 1 2>&1 | grep -q \"expected f32, bf16, q8_0, q4_0, q4_K or q6_K, got 'q5_K'\"",
	                  test_path(dir, "odd.tfm")) == 0);
	CU_ASSERT(test_sh("./tfmc run %s --weight-dtype q8_0 --tokens 1,2 -n 2 >/dev/null 2>&1", test_path(dir, "odd.tfm")) == 0);
	test_dir_close(dir);
	printf("\n");
}

int add_quant_suites(void)
{
	CU_pSuite s = CU_add_suite("runtime/formats/quant", qt_open, qt_close);

	if (!s || !CU_add_test(s, "half precision: exact, nearest even", test_f16)
	    || !CU_add_test(s, "dequantize: blocks built by hand", test_dequantize)
	    || !CU_add_test(s, "quantize: GGML's reference rounding", test_quantize)
	    || !CU_add_test(s, "quantize: GGML's own bytes", test_ggml_bytes)
	    || !CU_add_test(s, "matmul_q: every type and set, 0-3 threads", test_matmul_q)
	    || !CU_add_test(s, "matmul_qi8: the int8 mode's decode", test_matmul_qi8)
	    || !CU_add_test(s, "--weight-dtype: quantized at load, the same model", test_quantize_at_load))
		return -1;
	return 0;
}
