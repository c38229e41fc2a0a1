/* test_runtime.c: CUnit suites for the runtime (runtime/): safetensors
 * reading, binding and writing, F16/BF16 conversion, every error path of the
 * reader, sampling, the thread pool, .npy output and the small utilities.
 *
 * add_runtime_suites() registers the suites; tests/test_main.c runs them.
 * Files go to a mkdtemp directory that the suite cleanup removes.
 */
#include <CUnit/CUnit.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tfm.h"
#include "testutil.h"


/* ---- Temporary files ---------------------------------------------------- */

static char rt_dir[TEST_DIR_MAX]; /* the suite's mkdtemp directory */

static int rt_dir_open(void)
{
	return test_dir_open(rt_dir, "rt");
}

static int rt_dir_close(void)
{
	return test_dir_close(rt_dir);
}

/* A path in the temporary directory. */
static const char *rt_path(const char *name)
{
	return test_path(rt_dir, name);
}

static unsigned char *read_all(const char *path, size_t *size)
{
	unsigned char *buf;
	long n;
	FILE *fp = fopen(path, "rb");

	if (fp == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc(n > 0 ? (size_t)n : 1);
	if (buf != NULL && fread(buf, 1, (size_t)n, fp) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(fp);
	*size = (size_t)n;
	return buf;
}

static int write_all(const char *path, const void *data, size_t size)
{
	FILE *fp = fopen(path, "wb");
	int ok;

	if (fp == NULL)
		return -1;
	ok = fwrite(data, 1, size, fp) == size;
	return fclose(fp) == 0 && ok ? 0 : -1;
}

/* ---- Safetensors images made by hand ------------------------------------ */

/* 8-byte little-endian hlen, then json, then dsize bytes of data: malloc'ed. */
static unsigned char *st_image_len(uint64_t hlen, const char *json, const void *data,
                                   size_t dsize, size_t *size)
{
	size_t jlen = strlen(json);
	unsigned char *img = malloc(8 + jlen + dsize + 1);
	int i;

	for (i = 0; i < 8; i++)
		img[i] = (unsigned char)(hlen >> (8 * i));
	memcpy(img + 8, json, jlen);
	if (dsize)
		memcpy(img + 8 + jlen, data, dsize);
	*size = 8 + jlen + dsize;
	return img;
}

static unsigned char *st_image(const char *json, const void *data, size_t dsize, size_t *size)
{
	return st_image_len(strlen(json), json, data, dsize, size);
}

/* Parses json+data with label "m.safetensors"; expects failure, returns the message. */
static const char *open_error(const char *json, const void *data, size_t dsize)
{
	static tfm_error e;
	unsigned char *img;
	tfm_file *f = (tfm_file *)1;
	size_t size;
	int rc;

	img = st_image(json, data, dsize, &size);
	memset(&e, 0, sizeof e);
	rc = tfm_file_from_memory(&f, img, size, "m.safetensors", &e);
	CU_ASSERT_EQUAL(rc, -1);
	CU_ASSERT_PTR_NULL(f);
	if (rc == 0)
		tfm_file_close(f);
	free(img);
	return e.msg;
}

/* Parses json+data (must succeed), binds decl[n]; expects failure, returns the message. */
static const char *bind_error(const char *json, const void *data, size_t dsize,
                              const tfm_tensor_decl *decl, int n)
{
	static tfm_error e;
	void *out[8];
	unsigned char *img;
	tfm_file *f = NULL;
	size_t size;

	img = st_image(json, data, dsize, &size);
	memset(&e, 0, sizeof e);
	CU_ASSERT_EQUAL_FATAL(tfm_file_from_memory(&f, img, size, "m.safetensors", &e), 0);
	CU_ASSERT_EQUAL(tfm_file_bind(f, decl, n, out, &e), -1);
	tfm_file_close(f);
	free(img);
	return e.msg;
}

static uint32_t f32_bits(float x)
{
	uint32_t u;
	memcpy(&u, &x, sizeof u);
	return u;
}

static float bits_f32(uint32_t u)
{
	float x;
	memcpy(&x, &u, sizeof x);
	return x;
}

/* ---- Safetensors: write, open, bind ------------------------------------- */

static const tfm_tensor_decl rt_decl[3] = {
	{ "tok_embeddings.weight", 2, { 5, 3 }, TFM_F32 },
	{ "norm.weight", 1, { 3 }, TFM_F32 },
	{ "output.weight", 2, { 7, 3 }, TFM_F32 },
};

/* Fills the three rt_decl tensors with values, special ones included. */
static void rt_fill(float *a, float *b, float *c)
{
	int i;

	for (i = 0; i < 15; i++)
		a[i] = (float)i * 0.37f - 2.0f;
	a[0] = -0.0f;
	a[1] = INFINITY;
	a[2] = -INFINITY;
	a[3] = bits_f32(0x7fc01234u); /* nan with a payload */
	a[4] = bits_f32(0x00000001u); /* smallest subnormal */
	for (i = 0; i < 3; i++)
		b[i] = 1.0f + (float)i / 3.0f;
	for (i = 0; i < 21; i++)
		c[i] = (float)(i * i) * 1e-3f - 0.1f;
}

static void test_st_roundtrip(void)
{
	float a[15], b[3], c[21]; /* [5, 3], [3], [7, 3] */
	const void *data[3] = { a, b, c };
	const float *want[3] = { a, b, c };
	tfm_tensor_decl rev[3] = { rt_decl[2], rt_decl[0], rt_decl[1] };
	const int rev_of[3] = { 2, 0, 1 };
	const char *path = rt_path("roundtrip.safetensors");
	unsigned char *raw;
	cJSON *hdr, *t;
	tfm_file *f;
	tfm_error e;
	void *out[3], *again[3];
	size_t size, hlen, begin[3];
	int i;

	rt_fill(a, b, c);
	CU_ASSERT_EQUAL_FATAL(tfm_file_write(path, rt_decl, 3, data, &e), 0);

	/* The layout: header padded with spaces to a multiple of 64, the
	 * tensors back to back (the format allows no holes). */
	raw = read_all(path, &size);
	CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
	hlen = 0;
	for (i = 7; i >= 0; i--)
		hlen = hlen << 8 | raw[i];
	CU_ASSERT_EQUAL((8 + hlen) % 64, 0);
	CU_ASSERT_EQUAL(raw[8], '{');
	CU_ASSERT_EQUAL(raw[8 + hlen - 1], ' ');
	hdr = cJSON_ParseWithLength((const char *)raw + 8, hlen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(hdr);
	for (i = 0; i < 3; i++) {
		t = cJSON_GetObjectItemCaseSensitive(hdr, rt_decl[i].name);
		CU_ASSERT_PTR_NOT_NULL_FATAL(t);
		CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItemCaseSensitive(t, "dtype")->valuestring, "F32");
		begin[i] = (size_t)cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(t, "data_offsets"), 0)->valuedouble;
	}
	CU_ASSERT_EQUAL(begin[0], 0);
	CU_ASSERT_EQUAL(begin[1], 60);  /* after 60 bytes */
	CU_ASSERT_EQUAL(begin[2], 72);  /* after 60 + 12 bytes */
	CU_ASSERT_EQUAL(size, 8 + hlen + 72 + 21 * 4);
	cJSON_Delete(hdr);

	/* Bind in another order: bit-exact, in place (spaced as laid out). */
	CU_ASSERT_EQUAL_FATAL(tfm_file_open(&f, path, &e), 0);
	CU_ASSERT_EQUAL_FATAL(tfm_file_bind(f, rev, 3, out, &e), 0);
	for (i = 0; i < 3; i++) {
		size_t n = (size_t)rev[i].shape[0] * (size_t)(rev[i].ndim == 2 ? rev[i].shape[1] : 1);
		CU_ASSERT_EQUAL(memcmp(out[i], want[rev_of[i]], n * sizeof(float)), 0);
	}
	CU_ASSERT_EQUAL((uintptr_t)out[1] % 64, 0);            /* the first is aligned */
	CU_ASSERT_EQUAL((char *)out[2] - (char *)out[1], 60);  /* norm - tok */
	CU_ASSERT_EQUAL((char *)out[0] - (char *)out[1], 72);  /* output - tok */
	CU_ASSERT_EQUAL(f32_bits(((float *)out[1])[3]), 0x7fc01234u);
	CU_ASSERT_EQUAL(f32_bits(((float *)out[1])[0]), 0x80000000u);
	/* Binding again gives the same pointers. */
	CU_ASSERT_EQUAL(tfm_file_bind(f, rev, 3, again, &e), 0);
	CU_ASSERT(memcmp(out, again, sizeof out) == 0);
	tfm_file_close(f);

	/* The same bytes from memory: the pointers lie inside the buffer. */
	CU_ASSERT_EQUAL_FATAL(tfm_file_from_memory(&f, raw, size, "mem", &e), 0);
	CU_ASSERT_EQUAL_FATAL(tfm_file_bind(f, rt_decl, 3, out, &e), 0);
	for (i = 0; i < 3; i++)
		CU_ASSERT_PTR_EQUAL(out[i], (float *)(raw + 8 + hlen + begin[i]));
	tfm_file_close(f);
	free(raw);
}

static void test_st_empty_and_metadata(void)
{
	static const char json[] =
		"{\"__metadata__\": {\"format\": \"pt\"},"
		" \"w\": {\"dtype\": \"F32\", \"shape\": [0, 4], \"data_offsets\": [0, 0]},"
		" \"s\": {\"dtype\": \"F32\", \"shape\": [], \"data_offsets\": [0, 4]}}   \n";
	const float one = 1.0f;
	tfm_tensor_decl decl[2] = { { "w", 2, { 0, 4 }, TFM_F32 }, { "s", 0, { 0, 0 }, TFM_F32 } };
	const char *path = rt_path("empty.safetensors");
	unsigned char *img;
	void *out[2];
	tfm_file *f;
	tfm_error e;
	size_t size;

	/* __metadata__ is skipped, zero-size and scalar tensors bind. */
	img = st_image(json, &one, 4, &size);
	CU_ASSERT_EQUAL_FATAL(tfm_file_from_memory(&f, img, size, "m", &e), 0);
	CU_ASSERT_EQUAL(tfm_file_bind(f, decl, 2, out, &e), 0);
	CU_ASSERT_PTR_NOT_NULL(out[0]);
	CU_ASSERT_EQUAL(*(float *)out[1], 1.0f);
	tfm_file_close(f);
	free(img);

	/* A file of no tensors: written, read, bound with n = 0. */
	CU_ASSERT_EQUAL_FATAL(tfm_file_write(path, NULL, 0, NULL, &e), 0);
	CU_ASSERT_EQUAL_FATAL(tfm_file_open(&f, path, &e), 0);
	CU_ASSERT_EQUAL(tfm_file_bind(f, NULL, 0, NULL, &e), 0);
	tfm_file_close(f);
}

static void test_st_unaligned_f32(void)
{
	/* The data section starts at an odd address: F32 is copied, not mapped. */
	static const char json[] = "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
	char padded[128];
	unsigned char bytes[8], *img;
	tfm_tensor_decl decl = { "x", 1, { 2 }, TFM_F32 };
	void *p;
	float *out;
	tfm_file *f;
	tfm_error e;
	size_t size, len;
	uint32_t u;
	int i;

	len = strlen(json);
	memcpy(padded, json, len);
	while ((8 + len) % 4 != 1)
		padded[len++] = ' ';
	padded[len] = '\0';
	u = f32_bits(1.5f);
	for (i = 0; i < 4; i++)
		bytes[i] = (unsigned char)(u >> (8 * i));
	u = f32_bits(-2.25f);
	for (i = 0; i < 4; i++)
		bytes[4 + i] = (unsigned char)(u >> (8 * i));
	img = st_image(padded, bytes, 8, &size);
	CU_ASSERT_EQUAL_FATAL(tfm_file_from_memory(&f, img, size, "m", &e), 0);
	CU_ASSERT_EQUAL_FATAL(tfm_file_bind(f, &decl, 1, &p, &e), 0);
	out = p;
	CU_ASSERT(out < (float *)img || out >= (float *)(img + size));
	CU_ASSERT_EQUAL((uintptr_t)out % sizeof(float), 0);
	CU_ASSERT_EQUAL(out[0], 1.5f);
	CU_ASSERT_EQUAL(out[1], -2.25f);
	tfm_file_close(f);
	free(img);
}

/* The exact value of an IEEE half, computed with ldexp. */
static float f16_ref(unsigned h)
{
	unsigned exp = (h >> 10) & 0x1f, man = h & 0x3ff;
	float v;

	if (exp == 0x1f)
		v = man ? NAN : INFINITY;
	else if (exp == 0)
		v = (float)ldexp((double)man, -24);
	else
		v = (float)ldexp((double)(man | 0x400), (int)exp - 25);
	return (h & 0x8000) ? -v : v;
}

/* Binds one tensor "h" of 65536 2-byte values 0..65535 of the given dtype
 * as `want` (TFM_F32 or TFM_BF16), and checks the result. */
static void bind_all_halves(const char *dtype, int want, void (*check)(void *out))
{
	char json[128];
	unsigned char *bytes, *img;
	tfm_tensor_decl decl = { "h", 2, { 256, 256 }, want };
	void *out;
	tfm_file *f;
	tfm_error e;
	size_t size;
	unsigned h;

	snprintf(json, sizeof json,
	         "{\"h\": {\"dtype\": \"%s\", \"shape\": [256, 256], \"data_offsets\": [0, 131072]}}",
	         dtype);
	bytes = malloc(131072);
	for (h = 0; h < 65536; h++) {
		bytes[2 * h] = (unsigned char)(h & 0xff);
		bytes[2 * h + 1] = (unsigned char)(h >> 8);
	}
	img = st_image(json, bytes, 131072, &size);
	CU_ASSERT_EQUAL_FATAL(tfm_file_from_memory(&f, img, size, "m", &e), 0);
	CU_ASSERT_EQUAL_FATAL(tfm_file_bind(f, &decl, 1, &out, &e), 0);
	check(out);
	tfm_file_close(f);
	free(img);
	free(bytes);
}

static void check_f16(void *p)
{
	const float *out = p;
	unsigned h, bad = 0;

	CU_ASSERT_EQUAL(out[0x3c00], 1.0f);
	CU_ASSERT_EQUAL(out[0xc000], -2.0f);
	CU_ASSERT_EQUAL(out[0x3555], 0.333251953125f);
	CU_ASSERT_EQUAL(out[0x0001], 5.9604644775390625e-08f);  /* 2^-24, smallest subnormal */
	CU_ASSERT_EQUAL(out[0x03ff], 6.0975551605224609e-05f);  /* largest subnormal */
	CU_ASSERT_EQUAL(out[0x0400], 6.103515625e-05f);         /* smallest normal */
	CU_ASSERT_EQUAL(out[0x7bff], 65504.0f);
	CU_ASSERT(isinf(out[0x7c00]) && out[0x7c00] > 0);
	CU_ASSERT(isinf(out[0xfc00]) && out[0xfc00] < 0);
	CU_ASSERT(isnan(out[0x7e00]));
	CU_ASSERT(isnan(out[0x7c01]));
	CU_ASSERT_EQUAL(f32_bits(out[0x8000]), 0x80000000u);
	CU_ASSERT_EQUAL(f32_bits(out[0x8001]), f32_bits(-5.9604644775390625e-08f));
	for (h = 0; h < 65536; h++) {
		float want = f16_ref(h);
		if (isnan(want) ? !isnan(out[h]) || !!signbit(out[h]) != !!(h & 0x8000)
		                : f32_bits(out[h]) != f32_bits(want))
			bad++;
	}
	CU_ASSERT_EQUAL(bad, 0);
}

static void check_bf16(void *p)
{
	const float *out = p;
	unsigned h, bad = 0;

	CU_ASSERT_EQUAL(out[0x3f80], 1.0f);
	CU_ASSERT_EQUAL(out[0xc000], -2.0f);
	CU_ASSERT_EQUAL(out[0x0001], bits_f32(0x00010000u));
	CU_ASSERT(isinf(out[0x7f80]) && out[0x7f80] > 0);
	CU_ASSERT(isnan(out[0x7fc0]));
	for (h = 0; h < 65536; h++)
		if (f32_bits(out[h]) != (uint32_t)h << 16)
			bad++;
	CU_ASSERT_EQUAL(bad, 0);
}

static void test_st_f16(void)
{
	bind_all_halves("F16", TFM_F32, check_f16);
}

static void test_st_bf16(void)
{
	bind_all_halves("BF16", TFM_F32, check_bf16);
}

/* The bfloat16 nearest to x, ties to even, found the long way: of the two
 * bfloat16 around x, the closer in double arithmetic (exact here). */
static uint16_t bf16_ref(float x)
{
	uint32_t u = f32_bits(x);
	uint16_t lo = (uint16_t)(u >> 16), hi = (uint16_t)(lo + 1);
	double dlo, dhi;

	if (isnan(x))
		return (uint16_t)(lo | 0x40);
	if ((u & 0xffff) == 0)
		return lo;
	dlo = fabs((double)x - bits_f32((uint32_t)lo << 16));
	/* past the largest finite bfloat16 the next one up is infinity */
	dhi = (hi & 0x7f80) == 0x7f80 ? (dlo > ldexp(1.0, 127 - 8) ? 0 : INFINITY)
	                              : fabs((double)x - bits_f32((uint32_t)hi << 16));
	return dlo < dhi ? lo : dhi < dlo ? hi : (lo & 1) ? hi : lo;
}

/* tfm_f32_to_bf16 against bf16_ref over every exponent, with mantissas
 * at, around and between the ties. */
static void test_f32_to_bf16(void)
{
	static const uint32_t low[] = { 0, 1, 0x7fff, 0x8000, 0x8001, 0xffff, 0x4000, 0xc000 };
	uint64_t rng = 42;
	int bad = 0;

	for (uint32_t sign = 0; sign < 2; sign++)
		for (uint32_t exp = 0; exp < 256; exp++)
			for (int k = 0; k < 64; k++) {
				rng = rng * 6364136223846793005ull + 1442695040888963407ull;
				uint32_t top = (uint32_t)(rng >> 40) & 0x7f;	/* 7 stored bits kept */
				uint32_t u = sign << 31 | exp << 23 | top << 16 | low[k % 8];
				if (k >= 8)
					u = (u & 0xffff0000u) | (uint32_t)(rng >> 20 & 0xffff);
				if (top == 0x7f && k % 2)
					u |= 0x7f0000;	/* mantissa all ones: rounds up a binade */
				float x = bits_f32(u);
				if (tfm_f32_to_bf16(x) != bf16_ref(x) && !(isnan(x) && isnan(tfm_bf16_to_f32(tfm_f32_to_bf16(x)))))
					bad++;
			}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(tfm_f32_to_bf16(1.0f), 0x3f80);
	CU_ASSERT_EQUAL(tfm_f32_to_bf16(bits_f32(0x3f808000u)), 0x3f80);	/* tie: to even */
	CU_ASSERT_EQUAL(tfm_f32_to_bf16(bits_f32(0x3f818000u)), 0x3f82);	/* tie: to even, up */
	CU_ASSERT_EQUAL(tfm_f32_to_bf16(bits_f32(0x7f7fffffu)), 0x7f80);	/* FLT_MAX: to inf */
	CU_ASSERT_EQUAL(tfm_f32_to_bf16(INFINITY), 0x7f80);
	CU_ASSERT_EQUAL(tfm_f32_to_bf16(-INFINITY), 0xff80);
	CU_ASSERT(isnan(tfm_bf16_to_f32(tfm_f32_to_bf16(bits_f32(0x7f800001u)))));	/* signalling NaN stays NaN */
	CU_ASSERT_EQUAL(tfm_f32_to_bf16(-0.0f), 0x8000);
}

static void check_f16_as_bf16(void *p)
{
	const tfm_bf16 *out = p;
	int bad = 0;

	for (unsigned h = 0; h < 65536; h++) {
		float want = f16_ref(h);
		if (isnan(want) ? !isnan(tfm_bf16_to_f32(out[h])) : out[h] != tfm_f32_to_bf16(want))
			bad++;
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(out[0x3c00], 0x3f80);	/* 1.0 */
}

static void check_bf16_as_bf16(void *p)
{
	const tfm_bf16 *out = p;
	int bad = 0;

	for (unsigned h = 0; h < 65536; h++)
		bad += out[h] != h;
	CU_ASSERT_EQUAL(bad, 0);
}

/* Binding as bf16: F16 rounded, BF16 as it is. */
static void test_st_as_bf16(void)
{
	bind_all_halves("F16", TFM_BF16, check_f16_as_bf16);
	bind_all_halves("BF16", TFM_BF16, check_bf16_as_bf16);
}

/* BF16 tensors written, read back in place as bf16 and widened as f32;
 * F32 tensors read as bf16 are rounded. */
static void test_st_write_bf16(void)
{
	tfm_tensor_decl decl[2] = { { "m", 2, { 3, 5 }, TFM_BF16 }, { "v", 1, { 5 }, TFM_F32 } };
	tfm_tensor_decl as32[2] = { { "m", 2, { 3, 5 }, TFM_F32 }, { "v", 1, { 5 }, TFM_BF16 } };
	tfm_bf16 m[15];
	float v[5] = { 1.0f, bits_f32(0x3f808000u), bits_f32(0x3f818000u), -3.0f, 1e-3f };
	const void *data[2] = { m, v };
	const char *path = rt_path("bf16.safetensors");
	unsigned char *raw;
	size_t size, hlen = 0;
	void *out[2];
	tfm_file *f;
	tfm_error e;
	cJSON *hdr;
	int i;

	for (i = 0; i < 15; i++)
		m[i] = tfm_f32_to_bf16((float)(i - 7) / 3.0f);
	CU_ASSERT_EQUAL_FATAL(tfm_file_write(path, decl, 2, data, &e), 0);
	raw = read_all(path, &size);
	CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
	for (i = 7; i >= 0; i--)
		hlen = hlen << 8 | raw[i];
	CU_ASSERT_EQUAL(size, 8 + hlen + 15 * 2 + 5 * 4);
	hdr = cJSON_ParseWithLength((const char *)raw + 8, hlen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(hdr);
	CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(hdr, "m"),
	                                                        "dtype")->valuestring, "BF16");
	CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(hdr, "v"),
	                                                        "dtype")->valuestring, "F32");
	cJSON_Delete(hdr);
	free(raw);

	CU_ASSERT_EQUAL_FATAL(tfm_file_open(&f, path, &e), 0);
	CU_ASSERT_EQUAL(tfm_file_dtype(f, "m"), TFM_BF16);
	CU_ASSERT_EQUAL(tfm_file_dtype(f, "v"), TFM_F32);
	CU_ASSERT_EQUAL(tfm_file_dtype(f, "nothing"), -1);
	CU_ASSERT_EQUAL_FATAL(tfm_file_bind(f, decl, 2, out, &e), 0);
	CU_ASSERT_EQUAL(memcmp(out[0], m, sizeof m), 0);
	CU_ASSERT_EQUAL(memcmp(out[1], v, sizeof v), 0);
	CU_ASSERT_EQUAL_FATAL(tfm_file_bind(f, as32, 2, out, &e), 0);
	for (i = 0; i < 15; i++)
		CU_ASSERT_EQUAL(((float *)out[0])[i], tfm_bf16_to_f32(m[i]));
	for (i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(((tfm_bf16 *)out[1])[i], tfm_f32_to_bf16(v[i]));
	CU_ASSERT_EQUAL(((tfm_bf16 *)out[1])[1], 0x3f80);
	CU_ASSERT_EQUAL(((tfm_bf16 *)out[1])[2], 0x3f82);
	/* a declared type the runtime does not hold */
	as32[0].dtype = TFM_F16;
	CU_ASSERT_EQUAL(tfm_file_bind(f, as32, 2, out, &e), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "F32, BF16, or a quantized type for a matrix of whole blocks"));
	tfm_file_close(f);
}

/* ---- Safetensors: every error ------------------------------------------- */

static const unsigned char zeros64[64];

static void test_st_missing(void)
{
	static const char json[] = "{\"x\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}";
	tfm_tensor_decl decl[2] = { { "x", 1, { 2 }, TFM_F32 },
	                            { "layers.0.attention.wq.weight", 2, { 32, 16 }, TFM_F32 } };

	ASSERT_MSG(bind_error(json, zeros64, 8, decl, 2),
	           "m.safetensors: missing tensor 'layers.0.attention.wq.weight' (expected shape [32, 16])");
}

static void test_st_wrong_shape(void)
{
	static const char json[] = "{\"x\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 24]}}";
	tfm_tensor_decl d1 = { "x", 2, { 3, 2 }, TFM_F32 };
	tfm_tensor_decl d2 = { "x", 1, { 6 }, TFM_F32 };

	ASSERT_MSG(bind_error(json, zeros64, 24, &d1, 1),
	           "m.safetensors: tensor 'x' has shape [2, 3], expected [3, 2]");
	ASSERT_MSG(bind_error(json, zeros64, 24, &d2, 1),
	           "m.safetensors: tensor 'x' has shape [2, 3], expected [6]");
}

static void test_st_unexpected(void)
{
	static const char json[] =
		"{\"x\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
		" \"rope.freqs\": {\"dtype\": \"BF16\", \"shape\": [1, 2], \"data_offsets\": [8, 12]}}";
	tfm_tensor_decl decl = { "x", 1, { 2 }, TFM_F32 };

	ASSERT_MSG(bind_error(json, zeros64, 12, &decl, 1),
	           "m.safetensors: unexpected tensor 'rope.freqs' [1, 2]: the model does not use it");
}

static void test_st_bad_dtype(void)
{
	tfm_tensor_decl tok = { "tok", 1, { 1 }, TFM_F32 }, x = { "x", 1, { 1 }, TFM_F32 };

	/* A type no model reads: the file opens, the tensor does not bind. */
	ASSERT_MSG(bind_error("{\"tok\": {\"dtype\": \"I64\", \"shape\": [1], \"data_offsets\": [0, 8]}}",
	                      zeros64, 8, &tok, 1),
	           "m.safetensors: tensor 'tok' has dtype I64: only F32, F16 and BF16 are supported");
	ASSERT_MSG(bind_error("{\"x\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
	                      " \"mask\": {\"dtype\": \"BOOL\", \"shape\": [2, 2], \"data_offsets\": [4, 8]}}",
	                      zeros64, 8, &x, 1),
	           "m.safetensors: unexpected tensor 'mask' [2, 2]: the model does not use it");
	ASSERT_MSG(open_error("{\"tok\": {\"dtype\": \"Q9\", \"shape\": [1], \"data_offsets\": [0, 8]}}",
	                      zeros64, 8),
	           "m.safetensors: tensor 'tok' has dtype Q9, which is not a safetensors dtype");
	ASSERT_MSG(open_error("{\"tok\": {\"shape\": [1], \"data_offsets\": [0, 4]}}", zeros64, 4),
	           "m.safetensors: tensor 'tok': \"dtype\" is missing or not a string");
	ASSERT_MSG(open_error("{\"tok\": {\"dtype\": 7, \"shape\": [1], \"data_offsets\": [0, 4]}}", zeros64, 4),
	           "m.safetensors: tensor 'tok': \"dtype\" is missing or not a string");
}

static void test_st_bad_entry(void)
{
	ASSERT_MSG(open_error("{\"a\": [1, 2]}", NULL, 0),
	           "m.safetensors: tensor 'a': entry is not an object");
	ASSERT_MSG(open_error("{\"a\": {\"dtype\": \"F32\", \"data_offsets\": [0, 4]}}", zeros64, 4),
	           "m.safetensors: tensor 'a': \"shape\" is missing or not an array");
	ASSERT_MSG(open_error("{\"a\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}}", zeros64, 4),
	           "m.safetensors: tensor 'a': shape must be an array of non-negative integers");
	ASSERT_MSG(open_error("{\"a\": {\"dtype\": \"F32\", \"shape\": [1.5], \"data_offsets\": [0, 4]}}", zeros64, 4),
	           "m.safetensors: tensor 'a': shape must be an array of non-negative integers");
	ASSERT_MSG(open_error("{\"a\": {\"dtype\": \"F32\", \"shape\": [\"2\"], \"data_offsets\": [0, 8]}}", zeros64, 8),
	           "m.safetensors: tensor 'a': shape must be an array of non-negative integers");
	ASSERT_MSG(open_error("{\"a\": {\"dtype\": \"F32\", \"shape\": [1,1,1,1,1,1,1,1,1], \"data_offsets\": [0, 4]}}",
	                      zeros64, 4),
	           "m.safetensors: tensor 'a': shape has 9 dimensions, at most 8 are supported");
	ASSERT_MSG(open_error("{\"a\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296, 4294967296],"
	                      " \"data_offsets\": [0, 4]}}", zeros64, 4),
	           "m.safetensors: tensor 'a': shape [4294967296, 4294967296, 4294967296] has too many elements");
	ASSERT_MSG(open_error("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0]}}", zeros64, 4),
	           "m.safetensors: tensor 'a': \"data_offsets\" must be [begin, end], two non-negative integers");
	ASSERT_MSG(open_error("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [-4, 0]}}", zeros64, 4),
	           "m.safetensors: tensor 'a': \"data_offsets\" must be [begin, end], two non-negative integers");
	ASSERT_MSG(open_error("{\"a\": {\"dtype\": \"F32\", \"shape\": [1]}}", zeros64, 4),
	           "m.safetensors: tensor 'a': \"data_offsets\" must be [begin, end], two non-negative integers");
	ASSERT_MSG(open_error("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [8, 4]}}", zeros64, 8),
	           "m.safetensors: tensor 'a': data_offsets [8, 4] end before they begin");
}

static void test_st_offsets_out_of_range(void)
{
	ASSERT_MSG(open_error("{\"wq\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}}",
	                      zeros64, 8),
	           "m.safetensors: tensor 'wq': data_offsets [0, 16] run past the end of the data (8 bytes): truncated file?");
	ASSERT_MSG(open_error("{\"wq\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [9007199254740000, 9007199254740016]}}",
	                      zeros64, 8),
	           "m.safetensors: tensor 'wq': data_offsets [9007199254740000, 9007199254740016] run past the end of the data (8 bytes): truncated file?");
}

static void test_st_size_mismatch(void)
{
	ASSERT_MSG(open_error("{\"wk\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}",
	                      zeros64, 8),
	           "m.safetensors: tensor 'wk': data_offsets [0, 8] hold 8 bytes, but F32 [3] needs 12");
	ASSERT_MSG(open_error("{\"wk\": {\"dtype\": \"F16\", \"shape\": [2, 2], \"data_offsets\": [0, 16]}}",
	                      zeros64, 16),
	           "m.safetensors: tensor 'wk': data_offsets [0, 16] hold 16 bytes, but F16 [2, 2] needs 8");
}

static void test_st_duplicate(void)
{
	ASSERT_MSG(open_error("{\"wv\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
	                      " \"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
	                      " \"wv\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}",
	                      zeros64, 8),
	           "m.safetensors: tensor 'wv' appears more than once in the header");
}

static void test_st_bad_json(void)
{
	const char *msg;

	msg = open_error("{\"x\": {\"dtype\": \"F32\",", NULL, 0);
	ASSERT_HAS(msg, "m.safetensors: header is not valid JSON (error at byte ");
	msg = open_error("", NULL, 0);
	ASSERT_MSG(msg, "m.safetensors: header is not valid JSON (error at byte 0 of 0)");
	ASSERT_MSG(open_error("[1, 2]", NULL, 0), "m.safetensors: header is not a JSON object");
	ASSERT_MSG(open_error("\"x\"  ", NULL, 0), "m.safetensors: header is not a JSON object");
	ASSERT_MSG(open_error("{} {}", NULL, 0),
	           "m.safetensors: header has text after the JSON object (at byte 3 of 5)");
}

static void test_st_header_length(void)
{
	tfm_error e;
	tfm_file *f;
	unsigned char *img;
	size_t size;

	/* Absurd: more than 100 MB. */
	img = st_image_len((uint64_t)1 << 40, "{}", NULL, 0, &size);
	CU_ASSERT_EQUAL(tfm_file_from_memory(&f, img, size, "m.safetensors", &e), -1);
	ASSERT_MSG(e.msg, "m.safetensors: header length 1099511627776 is absurd (more than 104857600 bytes): not a safetensors file?");
	free(img);
	img = st_image_len(UINT64_MAX, "{}", NULL, 0, &size);
	CU_ASSERT_EQUAL(tfm_file_from_memory(&f, img, size, "m.safetensors", &e), -1);
	ASSERT_HAS(e.msg, "is absurd");
	free(img);
	/* Plausible but past the end of the file. */
	img = st_image_len(100, "{}", NULL, 0, &size);
	CU_ASSERT_EQUAL(tfm_file_from_memory(&f, img, size, "m.safetensors", &e), -1);
	ASSERT_MSG(e.msg, "m.safetensors: header length 100 runs past the end of the file (10 bytes): truncated file?");
	free(img);
}

static void test_st_short(void)
{
	static const unsigned char five[5] = { 2, 0, 0, 0, 0 };
	const char *p0 = rt_path("empty"), *p3 = rt_path("three");
	char want[1200];
	tfm_error e;
	tfm_file *f;

	CU_ASSERT_EQUAL(tfm_file_from_memory(&f, five, 5, "m.safetensors", &e), -1);
	ASSERT_MSG(e.msg, "m.safetensors: file is 5 bytes long, too short for a safetensors file (at least 8)");
	CU_ASSERT_EQUAL(tfm_file_from_memory(&f, NULL, 0, NULL, &e), -1);
	ASSERT_MSG(e.msg, "<memory>: file is 0 bytes long, too short for a safetensors file (at least 8)");

	CU_ASSERT_EQUAL_FATAL(write_all(p0, "", 0), 0);
	CU_ASSERT_EQUAL(tfm_file_open(&f, p0, &e), -1);
	CU_ASSERT_PTR_NULL(f);
	snprintf(want, sizeof want, "%s: file is empty, not a safetensors file", p0);
	ASSERT_MSG(e.msg, want);
	CU_ASSERT_EQUAL_FATAL(write_all(p3, "abc", 3), 0);
	CU_ASSERT_EQUAL(tfm_file_open(&f, p3, &e), -1);
	snprintf(want, sizeof want, "%s: file is 3 bytes long, too short for a safetensors file (at least 8)", p3);
	ASSERT_MSG(e.msg, want);
}

static void test_st_truncated(void)
{
	float a[15], b[3], c[21];
	const void *data[3] = { a, b, c };
	const char *path = rt_path("truncated.safetensors");
	char want[1200];
	tfm_error e;
	tfm_file *f;
	size_t size;
	unsigned char *raw;

	rt_fill(a, b, c);
	CU_ASSERT_EQUAL_FATAL(tfm_file_write(path, rt_decl, 3, data, &e), 0);
	raw = read_all(path, &size);
	CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
	/* Cut in the last tensor. */
	CU_ASSERT_EQUAL_FATAL(truncate(path, (off_t)size - 4), 0);
	CU_ASSERT_EQUAL(tfm_file_open(&f, path, &e), -1);
	ASSERT_HAS(e.msg, path);
	ASSERT_HAS(e.msg, "tensor 'output.weight': data_offsets [72, 156] run past the end of the data (152 bytes)");
	/* Cut in the header. */
	CU_ASSERT_EQUAL_FATAL(truncate(path, 20), 0);
	CU_ASSERT_EQUAL(tfm_file_open(&f, path, &e), -1);
	snprintf(want, sizeof want,
	         "%s: header length %u runs past the end of the file (20 bytes): truncated file?",
	         path, (unsigned)(raw[0] | raw[1] << 8));
	ASSERT_MSG(e.msg, want);
	free(raw);
}

static void test_st_bad_path(void)
{
	const char *path = rt_path("no-such-file.safetensors");
	char want[1200];
	tfm_error e;
	tfm_file *f = (tfm_file *)1;

	CU_ASSERT_EQUAL(tfm_file_open(&f, path, &e), -1);
	CU_ASSERT_PTR_NULL(f);
	snprintf(want, sizeof want, "%s: cannot open: %s", path, strerror(ENOENT));
	ASSERT_MSG(e.msg, want);

	CU_ASSERT_EQUAL(tfm_file_open(&f, rt_dir, &e), -1);
	snprintf(want, sizeof want, "%s: not a regular file", rt_dir);
	ASSERT_MSG(e.msg, want);
}

static void test_st_write_errors(void)
{
	float x[2] = { 1, 2 };
	const void *data[2] = { x, x };
	tfm_tensor_decl twice[2] = { { "a", 1, { 2 }, TFM_F32 }, { "a", 1, { 2 }, TFM_F32 } };
	tfm_tensor_decl meta = { "__metadata__", 1, { 2 }, TFM_F32 };
	tfm_tensor_decl neg = { "n", 2, { 2, -1 }, TFM_F32 };
	const char *bad = rt_path("no-such-dir/w.safetensors");
	const char *ok = rt_path("w.safetensors");
	char want[1200];
	tfm_error e;

	CU_ASSERT_EQUAL(tfm_file_write(bad, twice, 1, data, &e), -1);
	snprintf(want, sizeof want, "%s: cannot create: %s", bad, strerror(ENOENT));
	ASSERT_MSG(e.msg, want);
	CU_ASSERT_EQUAL(tfm_file_write(ok, twice, 2, data, &e), -1);
	ASSERT_HAS(e.msg, "tensor 'a' is given twice");
	CU_ASSERT_EQUAL(tfm_file_write(ok, &meta, 1, data, &e), -1);
	ASSERT_HAS(e.msg, "declaration 0 is malformed");
	CU_ASSERT_EQUAL(tfm_file_write(ok, &neg, 1, data, &e), -1);
	ASSERT_HAS(e.msg, "tensor 'n' has a bad shape");
	CU_ASSERT_EQUAL(access(ok, F_OK), -1); /* nothing left behind */
}

/* ---- Sampling ----------------------------------------------------------- */

static void test_sample_init_errors(void)
{
	tfm_sampler s;
	tfm_error e;

	CU_ASSERT_EQUAL(tfm_sampler_init(&s, 0, 1, 0, 1, 1, &e), -1);
	ASSERT_MSG(e.msg, "sampler: vocab (0) must be positive");
	CU_ASSERT_EQUAL(tfm_sampler_init(&s, 8, -0.5f, 0, 1, 1, &e), -1);
	ASSERT_MSG(e.msg, "sampler: temperature (-0.5) must be 0 (greedy) or positive");
	CU_ASSERT_EQUAL(tfm_sampler_init(&s, 8, NAN, 0, 1, 1, &e), -1);
	ASSERT_HAS(e.msg, "temperature");
	CU_ASSERT_EQUAL(tfm_sampler_init(&s, 8, 1, -1, 1, 1, &e), -1);
	ASSERT_MSG(e.msg, "sampler: top_k (-1) must be 0 (off) or positive");
	CU_ASSERT_EQUAL(tfm_sampler_init(&s, 8, 1, 0, 0, 1, &e), -1);
	ASSERT_MSG(e.msg, "sampler: top_p (0) must be in (0, 1]; 1 turns it off");
	CU_ASSERT_EQUAL(tfm_sampler_init(&s, 8, 1, 0, 1.5f, 1, &e), -1);
	ASSERT_MSG(e.msg, "sampler: top_p (1.5) must be in (0, 1]; 1 turns it off");
	tfm_sampler_free(&s); /* safe after a failed init */
}

static void test_sample_greedy(void)
{
	float x[5] = { 1, 3, 2, 3, -1 };
	float y[3] = { NAN, 1, 2 };
	float z[1] = { 0 };
	tfm_sampler s;
	tfm_error e;

	CU_ASSERT_EQUAL_FATAL(tfm_sampler_init(&s, 5, 0, 0, 1, 7, &e), 0);
	CU_ASSERT_EQUAL(tfm_sample(&s, x), 1); /* tie: lowest index */
	tfm_sampler_free(&s);
	CU_ASSERT_EQUAL_FATAL(tfm_sampler_init(&s, 3, 0, 0, 1, 7, &e), 0);
	CU_ASSERT_EQUAL(tfm_sample(&s, y), 2);
	tfm_sampler_free(&s);
	CU_ASSERT_EQUAL_FATAL(tfm_sampler_init(&s, 1, 1, 0, 1, 7, &e), 0);
	CU_ASSERT_EQUAL(tfm_sample(&s, z), 0);
	tfm_sampler_free(&s);
}

/* Deterministic pseudo-random logits in [-4, 4). */
static void fill_logits(float *x, int n, unsigned seed)
{
	int i;

	for (i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		x[i] = (float)((seed >> 8) & 0xffff) / 8192.0f - 4.0f;
	}
}

static int draw(tfm_sampler *s, const float *logits, int n)
{
	float tmp[1024];

	memcpy(tmp, logits, (size_t)n * sizeof *tmp);
	return tfm_sample(s, tmp);
}

static void test_sample_seed(void)
{
	float x[64];
	tfm_sampler a, b, c;
	tfm_error e;
	int i, same = 1, differ = 0, hit[16] = { 0 }, distinct = 0;

	fill_logits(x, 64, 1);
	CU_ASSERT_EQUAL_FATAL(tfm_sampler_init(&a, 64, 0.8f, 0, 1, 42, &e), 0);
	CU_ASSERT_EQUAL_FATAL(tfm_sampler_init(&b, 64, 0.8f, 0, 1, 42, &e), 0);
	CU_ASSERT_EQUAL_FATAL(tfm_sampler_init(&c, 64, 0.8f, 0, 1, 43, &e), 0);
	for (i = 0; i < 1000; i++) {
		int ta = draw(&a, x, 64), tb = draw(&b, x, 64), tc = draw(&c, x, 64);
		same &= ta == tb;
		differ += ta != tc;
		CU_ASSERT(ta >= 0 && ta < 64);
	}
	CU_ASSERT(same);
	CU_ASSERT(differ > 100);
	tfm_sampler_free(&a);
	tfm_sampler_free(&b);
	tfm_sampler_free(&c);

	/* Seed 0 works: uniform logits reach every token. */
	memset(x, 0, sizeof x);
	CU_ASSERT_EQUAL_FATAL(tfm_sampler_init(&a, 16, 1, 0, 1, 0, &e), 0);
	for (i = 0; i < 1000; i++)
		hit[draw(&a, x, 16)]++;
	for (i = 0; i < 16; i++)
		distinct += hit[i] > 0;
	CU_ASSERT_EQUAL(distinct, 16);
	tfm_sampler_free(&a);
}

static void test_sample_degenerate_top(void)
{
	float x[1000];
	tfm_sampler k1, p0, g;
	tfm_error e;
	int i, want, bad = 0;

	for (i = 0; i < 20; i++) {
		fill_logits(x, 1000, (unsigned)i + 100);
		x[(i * 37) % 1000] = 4.5f; /* one clear winner... */
		x[(i * 91) % 1000] = 4.5f; /* ...or a tie: the lower index */
		CU_ASSERT_EQUAL_FATAL(tfm_sampler_init(&g, 1000, 0, 0, 1, 1, &e), 0);
		CU_ASSERT_EQUAL_FATAL(tfm_sampler_init(&k1, 1000, 1.3f, 1, 1, (uint64_t)i, &e), 0);
		CU_ASSERT_EQUAL_FATAL(tfm_sampler_init(&p0, 1000, 0.7f, 0, 1e-6f, (uint64_t)i, &e), 0);
		want = draw(&g, x, 1000);
		CU_ASSERT_EQUAL(want, (i * 37) % 1000 < (i * 91) % 1000 ? (i * 37) % 1000 : (i * 91) % 1000);
		for (int j = 0; j < 50; j++) {
			bad += draw(&k1, x, 1000) != want;
			bad += draw(&p0, x, 1000) != want;
		}
		tfm_sampler_free(&g);
		tfm_sampler_free(&k1);
		tfm_sampler_free(&p0);
	}
	CU_ASSERT_EQUAL(bad, 0);
}

/* Frequencies of 20000 draws over [log .5, log .25, log .25]. */
static void freq3(int top_k, float top_p, double f[3])
{
	float x[3] = { logf(0.5f), logf(0.25f), logf(0.25f) };
	int i, n[3] = { 0, 0, 0 };
	tfm_sampler s;
	tfm_error e;

	CU_ASSERT_EQUAL_FATAL(tfm_sampler_init(&s, 3, 1, top_k, top_p, 2024, &e), 0);
	for (i = 0; i < 20000; i++)
		n[draw(&s, x, 3)]++;
	for (i = 0; i < 3; i++)
		f[i] = n[i] / 20000.0;
	tfm_sampler_free(&s);
}

static void test_sample_frequencies(void)
{
	double f[3];

	freq3(0, 1, f);
	printf("\n    T=1 frequencies %.4f %.4f %.4f (want .5 .25 .25) ", f[0], f[1], f[2]);
	CU_ASSERT(fabs(f[0] - 0.5) < 0.02);
	CU_ASSERT(fabs(f[1] - 0.25) < 0.02);
	CU_ASSERT(fabs(f[2] - 0.25) < 0.02);
	/* top_k = 2 keeps 0 and 1 (the tie goes to the lower index): 2/3, 1/3. */
	freq3(2, 1, f);
	CU_ASSERT(fabs(f[0] - 2.0 / 3) < 0.02);
	CU_ASSERT(fabs(f[1] - 1.0 / 3) < 0.02);
	CU_ASSERT_EQUAL(f[2], 0);
	/* top_p = 0.7: .5 is not enough, .5 + .25 is: the same set. */
	freq3(0, 0.7f, f);
	CU_ASSERT(fabs(f[0] - 2.0 / 3) < 0.02);
	CU_ASSERT(fabs(f[1] - 1.0 / 3) < 0.02);
	CU_ASSERT_EQUAL(f[2], 0);
	/* top_k = 2 then top_p = 0.6 of the renormalised 2/3, 1/3: token 0 only. */
	freq3(2, 0.6f, f);
	CU_ASSERT_EQUAL(f[0], 1);
}

static int cmp_desc(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x < y) - (x > y);
}

static void test_sample_nucleus(void)
{
	/* Over 1000 tokens, top_p = 0.9 draws only inside the nucleus, found
	 * here by sorting everything. */
	float x[1000], p[1000], sorted[1000], cut;
	double sum = 0, cum = 0;
	int i, bad = 0;
	tfm_sampler s;
	tfm_error e;

	fill_logits(x, 1000, 5);
	for (i = 0; i < 1000; i++) {
		x[i] *= 2.0f;
		sum += p[i] = expf(x[i]);
	}
	memcpy(sorted, p, sizeof p);
	qsort(sorted, 1000, sizeof *sorted, cmp_desc);
	for (i = 0; i < 1000; i++) {
		cum += sorted[i];
		if (cum >= 0.9 * sum)
			break;
	}
	cut = sorted[i];
	CU_ASSERT(i > 10 && i < 900);
	CU_ASSERT_EQUAL_FATAL(tfm_sampler_init(&s, 1000, 1, 0, 0.9f, 3, &e), 0);
	for (i = 0; i < 5000; i++) {
		int t = draw(&s, x, 1000);
		bad += p[t] < cut;
	}
	CU_ASSERT_EQUAL(bad, 0);
	tfm_sampler_free(&s);
}

/* ---- Thread pool -------------------------------------------------------- */

typedef struct sum_job {
	uint64_t n;           /* sum 1..n */
	uint64_t partial[8];  /* [n_threads] */
	int calls[8];         /* [n_threads] */
	int seen_n;           /* the n each call was given (must all agree) */
	int bad_n;
} sum_job;

static void sum_share(void *ctx, int i, int n)
{
	sum_job *j = ctx;
	uint64_t lo = j->n * (uint64_t)i / (uint64_t)n + 1;
	uint64_t hi = j->n * (uint64_t)(i + 1) / (uint64_t)n;
	uint64_t k, s = 0;

	for (k = lo; k <= hi; k++)
		s += k;
	j->partial[i] = s;
	j->calls[i]++;
	if (n != j->seen_n)
		j->bad_n = 1;
}

static void pool_sums(int n_threads)
{
	tfm_pool *p;
	tfm_error e;
	sum_job job;
	int run, i, bad = 0;
	double t0;

	CU_ASSERT_EQUAL_FATAL(tfm_pool_open(&p, n_threads, &e), 0);
	CU_ASSERT_EQUAL(tfm_pool_threads(p), n_threads);
	memset(&job, 0, sizeof job);
	job.seen_n = n_threads;
	t0 = tfm_now();
	for (run = 0; run < 10000; run++) {
		uint64_t total = 0;
		job.n = 1000 + (uint64_t)run; /* a new job each run */
		tfm_pool_run(p, sum_share, &job);
		for (i = 0; i < n_threads; i++)
			total += job.partial[i];
		bad += total != job.n * (job.n + 1) / 2;
	}
	printf("\n    %d threads: 10000 runs in %.3f s ", n_threads, tfm_now() - t0);
	CU_ASSERT_EQUAL(bad, 0);
	for (i = 0; i < n_threads; i++)
		CU_ASSERT_EQUAL(job.calls[i], 10000);
	CU_ASSERT_EQUAL(job.bad_n, 0);
	tfm_pool_close(p);
}

static void test_pool_2(void)
{
	pool_sums(2);
}

static void test_pool_4(void)
{
	pool_sums(4);
}

static void test_pool_single(void)
{
	sum_job job;
	tfm_pool *p;
	tfm_error e;

	memset(&job, 0, sizeof job);
	job.n = 100;
	job.seen_n = 1;
	tfm_pool_run(NULL, sum_share, &job);
	CU_ASSERT_EQUAL(job.partial[0], 5050);
	CU_ASSERT_EQUAL(job.calls[0], 1);
	CU_ASSERT_EQUAL(tfm_pool_threads(NULL), 1);
	CU_ASSERT_EQUAL_FATAL(tfm_pool_open(&p, 1, &e), 0);
	tfm_pool_run(p, sum_share, &job);
	CU_ASSERT_EQUAL(job.calls[0], 2);
	CU_ASSERT_EQUAL(job.bad_n, 0);
	tfm_pool_close(p);
	tfm_pool_close(NULL);
}

static void test_pool_errors(void)
{
	tfm_pool *p = (tfm_pool *)1;
	tfm_error e;

	CU_ASSERT_EQUAL(tfm_pool_open(&p, 0, &e), -1);
	CU_ASSERT_PTR_NULL(p);
	ASSERT_MSG(e.msg, "thread pool: 0 threads requested, must be 1..256");
	CU_ASSERT_EQUAL(tfm_pool_open(&p, 257, &e), -1);
	ASSERT_MSG(e.msg, "thread pool: 257 threads requested, must be 1..256");
}

static void test_pool_open_close(void)
{
	tfm_pool *p;
	tfm_error e;
	int i;

	/* Pools opened and closed at once, or after one run. */
	for (i = 0; i < 50; i++) {
		sum_job job;
		CU_ASSERT_EQUAL_FATAL(tfm_pool_open(&p, 1 + i % 4, &e), 0);
		if (i % 2) {
			memset(&job, 0, sizeof job);
			job.n = 10;
			job.seen_n = 1 + i % 4;
			tfm_pool_run(p, sum_share, &job);
			CU_ASSERT_EQUAL(job.bad_n, 0);
		}
		tfm_pool_close(p);
	}
}

/* ---- .npy and utilities ------------------------------------------------- */

static void test_npy(void)
{
	static const char dict[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
	float x[6] = { 1, -2, 3.5f, 0, -0.0f, 1e-30f }; /* [2, 3] */
	const char *path = rt_path("x.npy");
	unsigned char *raw;
	size_t size, hlen, k;
	tfm_error e;

	CU_ASSERT_EQUAL_FATAL(tfm_npy_write(path, x, 2, 3, &e), 0);
	raw = read_all(path, &size);
	CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
	CU_ASSERT_EQUAL(memcmp(raw, "\x93NUMPY\x01\x00", 8), 0);
	hlen = raw[8] | (size_t)raw[9] << 8;
	CU_ASSERT_EQUAL((10 + hlen) % 64, 0);
	CU_ASSERT_EQUAL(size, 10 + hlen + sizeof x);
	CU_ASSERT_EQUAL(memcmp(raw + 10, dict, strlen(dict)), 0);
	for (k = 10 + strlen(dict); k < 10 + hlen - 1; k++)
		CU_ASSERT_EQUAL(raw[k], ' ');
	CU_ASSERT_EQUAL(raw[10 + hlen - 1], '\n');
	CU_ASSERT_EQUAL(memcmp(raw + 10 + hlen, x, sizeof x), 0);
	free(raw);

	/* An empty array. */
	CU_ASSERT_EQUAL(tfm_npy_write(path, NULL, 0, 5, &e), 0);
	raw = read_all(path, &size);
	CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
	CU_ASSERT_EQUAL(size, 128); /* the header alone */
	CU_ASSERT_PTR_NOT_NULL(memmem(raw, size, "'shape': (0, 5), }", 18));
	free(raw);
}

static void test_npy_errors(void)
{
	const char *bad = rt_path("no-such-dir/x.npy");
	float x[1] = { 0 };
	char want[1200];
	tfm_error e;

	CU_ASSERT_EQUAL(tfm_npy_write(bad, x, 1, 1, &e), -1);
	snprintf(want, sizeof want, "%s: cannot create: %s", bad, strerror(ENOENT));
	ASSERT_MSG(e.msg, want);
	CU_ASSERT_EQUAL(tfm_npy_write(rt_path("n.npy"), x, -1, 1, &e), -1);
	ASSERT_HAS(e.msg, "cannot write an array of shape [-1, 1]");
}

static void test_fail_and_now(void)
{
	tfm_error e;
	char big[600];
	double t0, t1;

	CU_ASSERT_EQUAL(tfm_fail(&e, "%s has %d", "x", 3), -1);
	ASSERT_MSG(e.msg, "x has 3");
	CU_ASSERT_EQUAL(tfm_fail(NULL, "ignored %d", 1), -1);
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	CU_ASSERT_EQUAL(tfm_fail(&e, "%s", big), -1);
	CU_ASSERT_EQUAL(strlen(e.msg), sizeof e.msg - 1);
	t0 = tfm_now();
	t1 = tfm_now();
	CU_ASSERT(t1 >= t0 && t0 > 0);
}

/* ---- Registration ------------------------------------------------------- */

typedef struct rt_test {
	const char *name;
	void (*fn)(void);
} rt_test;

static const rt_test rt_safetensors_tests[] = {
	{ "write, open, bind round trip", test_st_roundtrip },
	{ "metadata, empty and scalar tensors", test_st_empty_and_metadata },
	{ "unaligned F32 is copied", test_st_unaligned_f32 },
	{ "F16 conversion, all 65536 values", test_st_f16 },
	{ "BF16 conversion, all 65536 values", test_st_bf16 },
	{ "f32 to bf16 rounding", test_f32_to_bf16 },
	{ "bind as bf16: F16 rounded, BF16 in place", test_st_as_bf16 },
	{ "BF16 write and read back", test_st_write_bf16 },
	{ "missing tensor", test_st_missing },
	{ "wrong shape", test_st_wrong_shape },
	{ "unexpected tensor", test_st_unexpected },
	{ "bad dtype", test_st_bad_dtype },
	{ "bad entries", test_st_bad_entry },
	{ "offsets out of range", test_st_offsets_out_of_range },
	{ "size mismatch", test_st_size_mismatch },
	{ "duplicate names", test_st_duplicate },
	{ "malformed JSON", test_st_bad_json },
	{ "header length", test_st_header_length },
	{ "shorter than 8 bytes", test_st_short },
	{ "truncated file", test_st_truncated },
	{ "nonexistent path", test_st_bad_path },
	{ "write errors", test_st_write_errors },
	{ NULL, NULL },
};

static const rt_test rt_sample_tests[] = {
	{ "init errors", test_sample_init_errors },
	{ "greedy", test_sample_greedy },
	{ "seeds", test_sample_seed },
	{ "top_k 1 and tiny top_p are greedy", test_sample_degenerate_top },
	{ "frequencies", test_sample_frequencies },
	{ "nucleus", test_sample_nucleus },
	{ NULL, NULL },
};

static const rt_test rt_pool_tests[] = {
	{ "errors", test_pool_errors },
	{ "single thread and NULL pool", test_pool_single },
	{ "open and close", test_pool_open_close },
	{ "sums, 2 threads, 10000 runs", test_pool_2 },
	{ "sums, 4 threads, 10000 runs", test_pool_4 },
	{ NULL, NULL },
};

static const rt_test rt_util_tests[] = {
	{ "npy round trip", test_npy },
	{ "npy errors", test_npy_errors },
	{ "tfm_fail and tfm_now", test_fail_and_now },
	{ NULL, NULL },
};

static int rt_add(const char *name, CU_InitializeFunc init, CU_CleanupFunc cleanup,
                  const rt_test *t)
{
	CU_pSuite s = CU_add_suite(name, init, cleanup);

	if (s == NULL)
		return -1;
	for (; t->name != NULL; t++)
		if (CU_add_test(s, t->name, t->fn) == NULL)
			return -1;
	return 0;
}

int add_runtime_suites(void)
{
	if (rt_add("runtime/safetensors", rt_dir_open, rt_dir_close, rt_safetensors_tests) != 0
	    || rt_add("runtime/sample", NULL, NULL, rt_sample_tests) != 0
	    || rt_add("runtime/pool", NULL, NULL, rt_pool_tests) != 0
	    || rt_add("runtime/util", rt_dir_open, rt_dir_close, rt_util_tests) != 0)
		return -1;
	return 0;
}
