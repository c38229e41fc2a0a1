/* quant.c: GGML's block-quantized formats, element by element.
 *
 * Q8_0, Q4_0, Q4_K and Q6_K, bit for bit as ggml-common.h lays them out,
 * so that a GGUF file's tensors are used where they lie.  A row of a matrix
 * is a whole number of blocks; each block holds its own scales:
 *
 *   Q8_0  32 weights in 34 bytes: f16 d, int8 q[32];        w = d q
 *   Q4_0  32 in 18: f16 d, 16 bytes of nibbles (weight j in the low nibble
 *         of byte j, weight 16 + j in the high one);         w = d (q - 8)
 *   Q4_K  256 in 144: f16 d, f16 dmin, 12 bytes of eight 6-bit scales and
 *         eight 6-bit mins, 128 bytes of nibbles (weights 64i + j and
 *         64i + 32 + j in the low and high nibble of byte 32i + j);
 *         sub-block s of 32: w = (d sc_s) q - (dmin m_s)
 *   Q6_K  256 in 210: 128 bytes of low nibbles, 64 of high 2-bit pairs,
 *         16 int8 scales, f16 d; sub-block s of 16: w = (d sc_s) (q - 32)
 *
 * Dequantizing computes each weight as GGML's dequantize_row_* does, in
 * float and in the same order, so the weights are those every GGML
 * program reads.  Quantizing is GGML's reference rounding (the
 * quantize_row_*_ref functions, which llama.cpp's quantize tool uses
 * without an importance matrix): the same search for the scales in the
 * same float arithmetic, so the same f32 input gives the same bytes.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "tfm_internal.h"

#define QK 32		/* weights per block of Q8_0 and Q4_0 */
#define QK_K 256	/* weights per super-block of Q4_K and Q6_K */

static float bits_f32(uint32_t u)
{
	float x;
	memcpy(&x, &u, sizeof x);
	return x;
}

static uint32_t f32_bits(float x)
{
	uint32_t u;
	memcpy(&u, &x, sizeof u);
	return u;
}

float tfm_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	uint32_t exp = (h >> 10) & 0x1f;
	uint32_t man = h & 0x3ff;

	if (exp == 0x1f)                /* inf or nan */
		return bits_f32(sign | 0x7f800000u | man << 13);
	if (exp != 0)                   /* normal: rebias 15 -> 127 */
		return bits_f32(sign | (exp + 112) << 23 | man << 13);
	if (man == 0)                   /* signed zero */
		return bits_f32(sign);
	exp = 113;                      /* subnormal: man * 2^-24, normalise */
	while (!(man & 0x400)) {
		man <<= 1;
		exp--;
	}
	return bits_f32(sign | exp << 23 | (man & 0x3ff) << 13);
}

uint16_t tfm_f32_to_f16(float x)
{
	const uint32_t u = f32_bits(x), sign = (u >> 16) & 0x8000;
	const uint32_t a = u & 0x7fffffff;
	uint32_t m, e, r;

	if (a > 0x7f800000u)		/* nan: quiet, keep the top of the payload */
		return (uint16_t)(sign | 0x7e00 | ((a >> 13) & 0x1ff));
	if (a >= 0x477ff000u)		/* rounds to 65520 or more: inf */
		return (uint16_t)(sign | 0x7c00);
	if (a < 0x38800000u) {		/* below 2^-14: a subnormal half (or 0) */
		if (a < 0x33000000u)	/* below 2^-25: rounds to 0 */
			return (uint16_t)sign;
		e = a >> 23;
		m = (a & 0x7fffff) | 0x800000;
		const uint32_t shift = 126 - e;	/* 14..24 + ... : m >> shift is the half's mantissa */
		r = m >> shift;
		const uint32_t rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
		if (rem > half || (rem == half && (r & 1)))
			r++;
		return (uint16_t)(sign | r);
	}
	/* normal: rebias 127 -> 15 and round the 13 dropped bits to nearest even */
	r = ((a >> 13) - (112u << 10));
	m = a & 0x1fff;
	if (m > 0x1000 || (m == 0x1000 && (r & 1)))
		r++;
	return (uint16_t)(sign | r);
}

/* Every half's float, made once: the kernels read a block's scale from
 * here (a load, where a conversion would take the vector ports). */
static float f16_table[65536];
static pthread_once_t f16_once = PTHREAD_ONCE_INIT;

static void f16_fill(void)
{
	for (uint32_t h = 0; h < 65536; h++)
		f16_table[h] = tfm_f16_to_f32((uint16_t)h);
}

const float *tfm_f16_table(void)
{
	pthread_once(&f16_once, f16_fill);
	return f16_table;
}

static float f16(const unsigned char *p)
{
	return tfm_f16_to_f32((uint16_t)(p[0] | p[1] << 8));
}

static void put_f16(unsigned char *p, float x)
{
	uint16_t h = tfm_f32_to_f16(x);
	p[0] = (unsigned char)h;
	p[1] = (unsigned char)(h >> 8);
}

/* ---- Dequantizing --------------------------------------------------------- */

static void dequant_q8_0(const unsigned char *b, float *y)
{
	const float d = f16(b);

	for (int j = 0; j < QK; j++)
		y[j] = (float)(int8_t)b[2 + j] * d;
}

static void dequant_q4_0(const unsigned char *b, float *y)
{
	const float d = f16(b);

	for (int j = 0; j < QK / 2; j++) {
		y[j] = (float)((b[2 + j] & 0xf) - 8) * d;
		y[j + QK / 2] = (float)((b[2 + j] >> 4) - 8) * d;
	}
}

static void dequant_q4_k(const unsigned char *b, float *y)
{
	const float d = f16(b), min = f16(b + 2);
	const unsigned char *sc = b + 4, *q = b + 16;

	for (int i = 0; i < 4; i++, q += 32, y += 64) {
		int s0, m0, s1, m1;
		tfm_q4k_scale_min(2 * i, sc, &s0, &m0);
		tfm_q4k_scale_min(2 * i + 1, sc, &s1, &m1);
		const float d0 = d * (float)s0, c0 = min * (float)m0;
		const float d1 = d * (float)s1, c1 = min * (float)m1;
		for (int l = 0; l < 32; l++) {
			y[l] = d0 * (float)(q[l] & 0xf) - c0;
			y[l + 32] = d1 * (float)(q[l] >> 4) - c1;
		}
	}
}

static void dequant_q6_k(const unsigned char *b, float *y)
{
	const unsigned char *ql = b, *qh = b + 128;
	const signed char *sc = (const signed char *)(b + 192);
	const float d = f16(b + 208);

	for (int half = 0; half < 2; half++, ql += 64, qh += 32, sc += 8, y += 128)
		for (int l = 0; l < 32; l++) {
			const int s = l / 16;
			const int q1 = ((ql[l] & 0xf) | ((qh[l] & 3) << 4)) - 32;
			const int q2 = ((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32;
			const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
			const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
			y[l] = d * (float)sc[s] * (float)q1;
			y[l + 32] = d * (float)sc[s + 2] * (float)q2;
			y[l + 64] = d * (float)sc[s + 4] * (float)q3;
			y[l + 96] = d * (float)sc[s + 6] * (float)q4;
		}
}

/* ---- Quantizing: GGML's reference rounding ----------------------------------- */

/* Round to nearest, ties to even, for |x| < 2^22: GGML's nearest_int. */
static int nearest_int(float x)
{
	const float v = x + 12582912.0f;
	return (int)(f32_bits(v) & 0x007fffff) - 0x00400000;
}

static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }

static void quant_q8_0(const float *x, unsigned char *b)
{
	float amax = 0.0f;

	for (int j = 0; j < QK; j++)
		amax = fmaxf(amax, fabsf(x[j]));
	const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
	put_f16(b, d);
	for (int j = 0; j < QK; j++)
		b[2 + j] = (unsigned char)(int8_t)roundf(x[j] * id);
}

static void quant_q4_0(const float *x, unsigned char *b)
{
	float amax = 0.0f, max = 0.0f;

	for (int j = 0; j < QK; j++)
		if (amax < fabsf(x[j])) {
			amax = fabsf(x[j]);
			max = x[j];
		}
	const float d = max / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
	put_f16(b, d);
	for (int j = 0; j < QK / 2; j++) {
		const int q0 = imin(15, (int8_t)(x[j] * id + 8.5f));
		const int q1 = imin(15, (int8_t)(x[j + QK / 2] * id + 8.5f));
		b[2 + j] = (unsigned char)(q0 | q1 << 4);
	}
}

/* The scale and min of n weights x as nmax + 1 levels, L[i] the level of
 * each: weighted least squares over nstep + 1 trial scales around the
 * range's (GGML's make_qkx2_quants).  Returns the scale; *neg_min = -min. */
static float scale_min_search(int n, int nmax, const float *x, const float *w, unsigned char *L,
                              float *neg_min, unsigned char *Laux, float rmin, float rdelta, int nstep)
{
	float min = x[0], max = x[0], sum_w = w[0], sum_x = sum_w * x[0];

	for (int i = 1; i < n; i++) {
		if (x[i] < min)
			min = x[i];
		if (x[i] > max)
			max = x[i];
		sum_w += w[i];
		sum_x += w[i] * x[i];
	}
	if (min > 0)
		min = 0;
	if (max == min) {
		memset(L, 0, (size_t)n);
		*neg_min = -min;
		return 0.0f;
	}
	float iscale = (float)nmax / (max - min), scale = 1 / iscale, best = 0;
	for (int i = 0; i < n; i++) {
		L[i] = (unsigned char)imax(0, imin(nmax, nearest_int(iscale * (x[i] - min))));
		const float diff = scale * L[i] + min - x[i];
		best += w[i] * (diff * diff);
	}
	for (int is = 0; is <= nstep; is++) {
		float sum_l = 0, sum_l2 = 0, sum_xl = 0;
		iscale = (rmin + rdelta * (float)is + (float)nmax) / (max - min);
		for (int i = 0; i < n; i++) {
			const int l = imax(0, imin(nmax, nearest_int(iscale * (x[i] - min))));
			Laux[i] = (unsigned char)l;
			sum_l += w[i] * (float)l;
			sum_l2 += w[i] * (float)l * (float)l;
			sum_xl += w[i] * (float)l * x[i];
		}
		const float D = sum_w * sum_l2 - sum_l * sum_l;
		if (D > 0) {
			float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
			float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
			float err = 0;
			if (this_min > 0) {
				this_min = 0;
				this_scale = sum_xl / sum_l2;
			}
			for (int i = 0; i < n; i++) {
				const float diff = this_scale * Laux[i] + this_min - x[i];
				err += w[i] * (diff * diff);
			}
			if (err < best) {
				memcpy(L, Laux, (size_t)n);
				best = err;
				scale = this_scale;
				min = this_min;
			}
		}
	}
	*neg_min = -min;
	return scale;
}

static void quant_q4_k(const float *x, unsigned char *b)
{
	unsigned char L[QK_K], Laux[32], *sc = b + 4, *q = b + 16;
	float w[32], mins[8], scales[8], max_scale = 0, max_min = 0;

	for (int j = 0; j < 8; j++) {
		float sum_x2 = 0;
		for (int l = 0; l < 32; l++)
			sum_x2 += x[32 * j + l] * x[32 * j + l];
		const float av_x = sqrtf(sum_x2 / 32);
		for (int l = 0; l < 32; l++)
			w[l] = av_x + fabsf(x[32 * j + l]);
		scales[j] = scale_min_search(32, 15, x + 32 * j, w, L + 32 * j, &mins[j], Laux, -1.0f, 0.1f, 20);
		if (scales[j] > max_scale)
			max_scale = scales[j];
		if (mins[j] > max_min)
			max_min = mins[j];
	}
	const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
	const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
	memset(sc, 0, 12);
	for (int j = 0; j < 8; j++) {
		const int ls = imin(63, (unsigned char)nearest_int(inv_scale * scales[j]));
		const int lm = imin(63, (unsigned char)nearest_int(inv_min * mins[j]));
		if (j < 4) {
			sc[j] = (unsigned char)ls;
			sc[j + 4] = (unsigned char)lm;
		} else {
			sc[j + 4] = (unsigned char)((ls & 0xf) | (lm & 0xf) << 4);
			sc[j - 4] |= (unsigned char)((ls >> 4) << 6);
			sc[j] |= (unsigned char)((lm >> 4) << 6);
		}
	}
	put_f16(b, max_scale / 63.0f);
	put_f16(b + 2, max_min / 63.0f);
	for (int j = 0; j < 8; j++) {
		int s, m;
		tfm_q4k_scale_min(j, sc, &s, &m);
		const float d = f16(b) * (float)s;
		if (d == 0.0f)
			continue;
		const float dm = f16(b + 2) * (float)m;
		for (int i = 0; i < 32; i++)
			L[32 * j + i] = (unsigned char)imax(0, imin(15, nearest_int((x[32 * j + i] + dm) / d)));
	}
	for (int j = 0; j < QK_K; j += 64, q += 32)
		for (int l = 0; l < 32; l++)
			q[l] = (unsigned char)(L[j + l] | L[j + l + 32] << 4);
}

/* A scale for n weights x as signed levels -nmax..nmax-1 (L[i] + nmax
 * stored), weighted by x^2, the best of 19 trials around the largest
 * magnitude's (GGML's make_qx_quants with rmse_type 1). */
static float scale_search(int n, int nmax, const float *x, signed char *L)
{
	float max = 0, amax = 0;

	for (int i = 0; i < n; i++)
		if (fabsf(x[i]) > amax) {
			amax = fabsf(x[i]);
			max = x[i];
		}
	if (amax < 1e-15f) {
		memset(L, 0, (size_t)n);
		return 0.0f;
	}
	float iscale = -(float)nmax / max, sumlx = 0, suml2 = 0;
	for (int i = 0; i < n; i++) {
		const int l = imax(-nmax, imin(nmax - 1, nearest_int(iscale * x[i])));
		const float w = x[i] * x[i];
		L[i] = (signed char)(l + nmax);
		sumlx += w * x[i] * (float)l;
		suml2 += w * (float)l * (float)l;
	}
	float scale = suml2 != 0 ? sumlx / suml2 : 0.0f, best = scale * sumlx;
	for (int is = -9; is <= 9; is++) {
		if (is == 0)
			continue;
		iscale = -((float)nmax + 0.1f * (float)is) / max;
		sumlx = suml2 = 0;
		for (int i = 0; i < n; i++) {
			const int l = imax(-nmax, imin(nmax - 1, nearest_int(iscale * x[i])));
			const float w = x[i] * x[i];
			sumlx += w * x[i] * (float)l;
			suml2 += w * (float)l * (float)l;
		}
		if (suml2 > 0 && sumlx * sumlx > best * suml2) {
			for (int i = 0; i < n; i++)
				L[i] = (signed char)(nmax + imax(-nmax, imin(nmax - 1, nearest_int(iscale * x[i]))));
			scale = sumlx / suml2;
			best = scale * sumlx;
		}
	}
	return scale;
}

static void quant_q6_k(const float *x, unsigned char *b)
{
	signed char L[QK_K], *sc = (signed char *)(b + 192);
	unsigned char *ql = b, *qh = b + 128;
	float scales[16], max_scale = 0, max_abs = 0;

	for (int s = 0; s < 16; s++) {
		scales[s] = scale_search(16, 32, x + 16 * s, L + 16 * s);
		if (fabsf(scales[s]) > max_abs) {
			max_abs = fabsf(scales[s]);
			max_scale = scales[s];
		}
	}
	if (max_abs < 1e-15f) {
		memset(b, 0, 210);
		return;
	}
	const float iscale = -128.0f / max_scale;
	put_f16(b + 208, 1 / iscale);
	for (int s = 0; s < 16; s++)
		sc[s] = (signed char)imin(127, nearest_int(iscale * scales[s]));
	for (int s = 0; s < 16; s++) {
		const float d = f16(b + 208) * (float)sc[s];
		if (d == 0.0f)
			continue;
		for (int i = 0; i < 16; i++)
			L[16 * s + i] = (signed char)(imax(-32, imin(31, nearest_int(x[16 * s + i] / d))) + 32);
	}
	for (int j = 0; j < QK_K; j += 128, ql += 64, qh += 32)
		for (int l = 0; l < 32; l++) {
			const int q1 = L[j + l], q2 = L[j + l + 32], q3 = L[j + l + 64], q4 = L[j + l + 96];
			ql[l] = (unsigned char)((q1 & 0xf) | (q3 & 0xf) << 4);
			ql[l + 32] = (unsigned char)((q2 & 0xf) | (q4 & 0xf) << 4);
			qh[l] = (unsigned char)((q1 >> 4) | (q2 >> 4) << 2 | (q3 >> 4) << 4 | (q4 >> 4) << 6);
		}
}

/* ---- Rows ------------------------------------------------------------------------ */

/* One entry per quantized type, from TFM_QUANT on. */
static const struct {
	void (*dequant)(const unsigned char *block, float *y);
	void (*quant)(const float *x, unsigned char *block);
} quant_types[] = {
	{ dequant_q8_0, quant_q8_0 },	/* TFM_Q8_0 */
	{ dequant_q4_0, quant_q4_0 },	/* TFM_Q4_0 */
	{ dequant_q4_k, quant_q4_k },	/* TFM_Q4_K */
	{ dequant_q6_k, quant_q6_k },	/* TFM_Q6_K */
};
_Static_assert(sizeof quant_types / sizeof quant_types[0] == TFM_Q6_K - TFM_QUANT + 1,
               "a quant_types entry for every TFM_Q type");

int tfm_dtype_is_quant(int dtype)
{
	return dtype >= TFM_QUANT && dtype <= TFM_Q6_K;
}

size_t tfm_dtype_row_bytes(int dtype, size_t n)
{
	size_t block, bytes;

	if (tfm_dtype_block(dtype, &block, &bytes) != 0 || n % block != 0)
		return 0;
	return n / block * bytes;
}

int tfm_dequantize(int dtype, const void *src, float *dst, size_t n)
{
	size_t block, bytes;
	const unsigned char *p = src;

	if (!tfm_dtype_is_quant(dtype) || tfm_dtype_block(dtype, &block, &bytes) != 0 || n % block)
		return -1;
	for (size_t i = 0; i < n; i += block, p += bytes)
		quant_types[dtype - TFM_QUANT].dequant(p, dst + i);
	return 0;
}

int tfm_quantize(int dtype, const float *src, void *dst, size_t n)
{
	size_t block, bytes;
	unsigned char *p = dst;

	if (!tfm_dtype_is_quant(dtype) || tfm_dtype_block(dtype, &block, &bytes) != 0 || n % block)
		return -1;
	for (size_t i = 0; i < n; i += block, p += bytes)
		quant_types[dtype - TFM_QUANT].quant(src + i, p);
	return 0;
}
