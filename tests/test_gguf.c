/* test_gguf.c: the GGUF reader (runtime/formats/gguf.c).
 *
 * The files are written here, byte by byte, by a tiny writer (gw_*): no
 * Python gguf package, no fixtures.  Good files are read back (metadata of
 * every type, F32/F16/BF16 values, the quantized tensors' infos); then each
 * malformed file gets its whole message. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <CUnit/CUnit.h>
#include "formats.h"
#include "testutil.h"

static char dir[TEST_DIR_MAX];

static int setup(void)
{
	return test_dir_open(dir, "gguf");
}

static int teardown(void)
{
	return test_dir_close(dir);
}

/* ---- A GGUF writer -------------------------------------------------------- */

typedef struct gw {
	unsigned char b[8192];
	size_t n;
} gw;

static void gw_le(gw *w, uint64_t x, int n)
{
	for (int i = 0; i < n && w->n < sizeof w->b; i++)
		w->b[w->n++] = (unsigned char)(x >> (8 * i));
}

static void gw_u8(gw *w, unsigned x) { gw_le(w, x, 1); }
static void gw_u32(gw *w, uint32_t x) { gw_le(w, x, 4); }
static void gw_u64(gw *w, uint64_t x) { gw_le(w, x, 8); }

static void gw_f32(gw *w, float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	gw_u32(w, u);
}

static void gw_str(gw *w, const char *s)
{
	gw_u64(w, strlen(s));
	for (; *s; s++)
		gw_u8(w, (unsigned char)*s);
}

/* "GGUF", version, counts. */
static void gw_head(gw *w, uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
	w->n = 0;
	memcpy(w->b, "GGUF", 4);
	w->n = 4;
	gw_u32(w, version);
	gw_u64(w, n_tensors);
	gw_u64(w, n_kv);
}

/* A key and its type (the value follows). */
static void gw_key(gw *w, const char *key, uint32_t type)
{
	gw_str(w, key);
	gw_u32(w, type);
}

/* A tensor info of one or two dims (d1 0: one). */
static void gw_tensor(gw *w, const char *name, uint64_t d0, uint64_t d1, uint32_t type,
                      uint64_t offset)
{
	gw_str(w, name);
	gw_u32(w, d1 ? 2 : 1);
	gw_u64(w, d0);
	if (d1)
		gw_u64(w, d1);
	gw_u32(w, type);
	gw_u64(w, offset);
}

static void gw_pad(gw *w, size_t align)
{
	while (w->n % align)
		gw_u8(w, 0);
}

/* ggml's type numbers */
enum { G_F32 = 0, G_F16 = 1, G_Q4_0 = 2, G_Q8_0 = 8, G_Q4_K = 12, G_Q5_K = 13, G_Q6_K = 14,
       G_BF16 = 30 };

/* Parses w; NULL and the message in e on failure. */
static tfm_gguf *gw_parse(const gw *w, tfm_error *e)
{
	tfm_gguf *g = NULL;
	e->msg[0] = '\0';
	if (tfm_gguf_parse(&g, w->b, w->n, "t.gguf", e) != 0)
		return NULL;
	return g;
}

/* ---- Good files ----------------------------------------------------------- */

/* Metadata of every type, arrays of numbers, strings and arrays of
 * strings; versions 2 and 3. */
static void test_metadata(void)
{
	for (uint32_t version = 2; version <= 3; version++) {
		gw w;
		tfm_error e;
		tfm_gguf *g;
		tfm_gguf_value v, x, y;
		tfm_gguf_iter it, in;
		uint64_t u;
		double d;
		const char *s;
		size_t len;

		gw_head(&w, version, 0, 18);
		gw_key(&w, "u8", TFM_GGUF_UINT8); gw_u8(&w, 200);
		gw_key(&w, "i8", TFM_GGUF_INT8); gw_u8(&w, 0x80);
		gw_key(&w, "u16", TFM_GGUF_UINT16); gw_le(&w, 65535, 2);
		gw_key(&w, "i16", TFM_GGUF_INT16); gw_le(&w, 0x8000, 2);
		gw_key(&w, "u32", TFM_GGUF_UINT32); gw_u32(&w, 4000000000u);
		gw_key(&w, "i32", TFM_GGUF_INT32); gw_u32(&w, (uint32_t)-7);
		gw_key(&w, "f32", TFM_GGUF_FLOAT32); gw_f32(&w, 1e-5f);
		gw_key(&w, "yes", TFM_GGUF_BOOL); gw_u8(&w, 1);
		gw_key(&w, "no", TFM_GGUF_BOOL); gw_u8(&w, 0);
		gw_key(&w, "general.name", TFM_GGUF_STRING); gw_str(&w, "tiny llama");
		gw_key(&w, "u64", TFM_GGUF_UINT64); gw_u64(&w, UINT64_MAX);
		gw_key(&w, "i64", TFM_GGUF_INT64); gw_u64(&w, (uint64_t)INT64_MIN);
		gw_key(&w, "f64", TFM_GGUF_FLOAT64); {
			double f = -2.5e300;
			uint64_t b;
			memcpy(&b, &f, 8);
			gw_u64(&w, b);
		}
		gw_key(&w, "empty", TFM_GGUF_STRING); gw_str(&w, "");
		gw_key(&w, "scores", TFM_GGUF_ARRAY); gw_u32(&w, TFM_GGUF_FLOAT32); gw_u64(&w, 3);
		gw_f32(&w, 0.5f); gw_f32(&w, -1.0f); gw_f32(&w, 3.0f);
		gw_key(&w, "tokens", TFM_GGUF_ARRAY); gw_u32(&w, TFM_GGUF_STRING); gw_u64(&w, 3);
		gw_str(&w, "<s>"); gw_str(&w, ""); gw_str(&w, "hello");
		gw_key(&w, "nested", TFM_GGUF_ARRAY); gw_u32(&w, TFM_GGUF_ARRAY); gw_u64(&w, 2);
		gw_u32(&w, TFM_GGUF_STRING); gw_u64(&w, 2); gw_str(&w, "a"); gw_str(&w, "bc");
		gw_u32(&w, TFM_GGUF_STRING); gw_u64(&w, 0);
		gw_key(&w, "flags", TFM_GGUF_ARRAY); gw_u32(&w, TFM_GGUF_BOOL); gw_u64(&w, 2);
		gw_u8(&w, 1); gw_u8(&w, 0);

		g = gw_parse(&w, &e);
		CU_ASSERT_PTR_NOT_NULL_FATAL(g);
		CU_ASSERT_EQUAL(tfm_gguf_version(g), version);
		CU_ASSERT_EQUAL(tfm_gguf_alignment(g), 32);
		CU_ASSERT_EQUAL(tfm_gguf_count(g), 18);
		CU_ASSERT_EQUAL(tfm_file_count(tfm_gguf_file(g)), 0);

		CU_ASSERT(tfm_gguf_find(g, "u8", &v) == 0 && v.type == TFM_GGUF_UINT8 && v.u == 200);
		CU_ASSERT(tfm_gguf_find(g, "i8", &v) == 0 && v.type == TFM_GGUF_INT8 && v.i == -128);
		CU_ASSERT(tfm_gguf_find(g, "u16", &v) == 0 && v.type == TFM_GGUF_UINT16 && v.u == 65535);
		CU_ASSERT(tfm_gguf_find(g, "i16", &v) == 0 && v.type == TFM_GGUF_INT16 && v.i == -32768);
		CU_ASSERT(tfm_gguf_find(g, "u32", &v) == 0 && v.type == TFM_GGUF_UINT32 && v.u == 4000000000u);
		CU_ASSERT(tfm_gguf_find(g, "i32", &v) == 0 && v.type == TFM_GGUF_INT32 && v.i == -7);
		CU_ASSERT(tfm_gguf_find(g, "f32", &v) == 0 && v.type == TFM_GGUF_FLOAT32 && v.f == (double)1e-5f);
		CU_ASSERT(tfm_gguf_find(g, "yes", &v) == 0 && v.type == TFM_GGUF_BOOL && v.u == 1);
		CU_ASSERT(tfm_gguf_find(g, "no", &v) == 0 && v.type == TFM_GGUF_BOOL && v.u == 0);
		CU_ASSERT(tfm_gguf_find(g, "u64", &v) == 0 && v.type == TFM_GGUF_UINT64 && v.u == UINT64_MAX);
		CU_ASSERT(tfm_gguf_find(g, "i64", &v) == 0 && v.type == TFM_GGUF_INT64 && v.i == INT64_MIN);
		CU_ASSERT(tfm_gguf_find(g, "f64", &v) == 0 && v.type == TFM_GGUF_FLOAT64 && v.f == -2.5e300);
		CU_ASSERT(tfm_gguf_find(g, "missing", NULL) == -1);
		CU_ASSERT(tfm_gguf_find(g, "u", NULL) == -1);	/* a prefix of keys is not a key */

		/* Strings point into the file, not copied. */
		CU_ASSERT(tfm_gguf_string(g, "general.name", &s, &len) == 0);
		CU_ASSERT(len == 10 && memcmp(s, "tiny llama", 10) == 0);
		CU_ASSERT(s > (const char *)w.b && s < (const char *)w.b + w.n);
		CU_ASSERT(tfm_gguf_string(g, "empty", &s, &len) == 0 && len == 0);
		CU_ASSERT(tfm_gguf_string(g, "u8", &s, &len) == -1);

		/* The typed lookups. */
		CU_ASSERT(tfm_gguf_uint(g, "u32", &u) == 0 && u == 4000000000u);
		CU_ASSERT(tfm_gguf_uint(g, "u8", &u) == 0 && u == 200);
		CU_ASSERT(tfm_gguf_uint(g, "i32", &u) == -1);	/* negative */
		CU_ASSERT(tfm_gguf_uint(g, "f32", &u) == -1);
		CU_ASSERT(tfm_gguf_float(g, "f64", &d) == 0 && d == -2.5e300);
		CU_ASSERT(tfm_gguf_float(g, "u8", &d) == -1);

		/* Pairs in file order. */
		CU_ASSERT(tfm_gguf_kv(g, 9, &s, &len, &v) == 0 && len == 12
		          && memcmp(s, "general.name", 12) == 0 && v.type == TFM_GGUF_STRING);
		CU_ASSERT(tfm_gguf_kv(g, 18, &s, &len, &v) == -1);

		/* Arrays. */
		CU_ASSERT_FATAL(tfm_gguf_find(g, "scores", &v) == 0);
		CU_ASSERT(v.type == TFM_GGUF_ARRAY && v.elem_type == TFM_GGUF_FLOAT32 && v.count == 3
		          && v.bytes == 12);
		tfm_gguf_iter_init(&it, &v);
		CU_ASSERT(tfm_gguf_iter_next(&it, &x) == 1 && x.f == 0.5);
		CU_ASSERT(tfm_gguf_iter_next(&it, &x) == 1 && x.f == -1.0);
		CU_ASSERT(tfm_gguf_iter_next(&it, &x) == 1 && x.f == 3.0);
		CU_ASSERT(tfm_gguf_iter_next(&it, &x) == 0);

		CU_ASSERT_FATAL(tfm_gguf_find(g, "tokens", &v) == 0);
		CU_ASSERT(v.elem_type == TFM_GGUF_STRING && v.count == 3);
		tfm_gguf_iter_init(&it, &v);
		CU_ASSERT(tfm_gguf_iter_next(&it, &x) == 1 && x.len == 3 && memcmp(x.str, "<s>", 3) == 0);
		CU_ASSERT(tfm_gguf_iter_next(&it, &x) == 1 && x.len == 0);
		CU_ASSERT(tfm_gguf_iter_next(&it, &x) == 1 && x.len == 5 && memcmp(x.str, "hello", 5) == 0);
		CU_ASSERT(tfm_gguf_iter_next(&it, &x) == 0);

		CU_ASSERT_FATAL(tfm_gguf_find(g, "nested", &v) == 0);
		CU_ASSERT(v.elem_type == TFM_GGUF_ARRAY && v.count == 2);
		tfm_gguf_iter_init(&it, &v);
		CU_ASSERT_FATAL(tfm_gguf_iter_next(&it, &x) == 1);
		CU_ASSERT(x.type == TFM_GGUF_ARRAY && x.elem_type == TFM_GGUF_STRING && x.count == 2);
		tfm_gguf_iter_init(&in, &x);
		CU_ASSERT(tfm_gguf_iter_next(&in, &y) == 1 && y.len == 1 && y.str[0] == 'a');
		CU_ASSERT(tfm_gguf_iter_next(&in, &y) == 1 && y.len == 2 && memcmp(y.str, "bc", 2) == 0);
		CU_ASSERT(tfm_gguf_iter_next(&in, &y) == 0);
		CU_ASSERT_FATAL(tfm_gguf_iter_next(&it, &x) == 1);
		CU_ASSERT(x.type == TFM_GGUF_ARRAY && x.count == 0);
		CU_ASSERT(tfm_gguf_iter_next(&it, &x) == 0);

		CU_ASSERT_FATAL(tfm_gguf_find(g, "flags", &v) == 0);
		tfm_gguf_iter_init(&it, &v);
		CU_ASSERT(tfm_gguf_iter_next(&it, &x) == 1 && x.type == TFM_GGUF_BOOL && x.u == 1);
		CU_ASSERT(tfm_gguf_iter_next(&it, &x) == 1 && x.u == 0);
		CU_ASSERT(tfm_gguf_iter_next(&it, &x) == 0);

		/* A value that is not an array iterates as an empty one. */
		CU_ASSERT_FATAL(tfm_gguf_find(g, "u8", &v) == 0);
		tfm_gguf_iter_init(&it, &v);
		CU_ASSERT(tfm_gguf_iter_next(&it, &x) == 0);

		CU_ASSERT_STRING_EQUAL(tfm_gguf_type_name(TFM_GGUF_FLOAT64), "float64");
		CU_ASSERT_STRING_EQUAL(tfm_gguf_type_name(13), "?");
		tfm_gguf_close(g);
	}
}

static uint16_t f16_bits(float x)	/* exact for the values used here */
{
	uint32_t u;
	memcpy(&u, &x, 4);
	if ((u & 0x7fffffff) == 0)
		return (uint16_t)(u >> 16);
	return (uint16_t)((u >> 16 & 0x8000) | (((u >> 23 & 0xff) - 112) << 10) | (u >> 13 & 0x3ff));
}

/* F32, F16, BF16 tensors: shapes reversed, values read back; a file
 * written to disk and opened by path; general.alignment 64. */
static void test_tensors(void)
{
	static const float a[6] = { 1, -2, 0.5f, 3, -0.25f, 8 };	/* [2, 3] row-major */
	static const float h[4] = { 0.5f, -1.5f, 2048, 0 };
	static const float bf[2] = { -3.0f, 0.15625f };
	const char *path = test_path(dir, "t.gguf");
	tfm_tensor_info t;
	tfm_gguf *g;
	tfm_file *f;
	tfm_error e;
	float out[8];
	size_t data;
	FILE *fp;
	gw w;

	gw_head(&w, 3, 3, 2);
	gw_key(&w, "general.architecture", TFM_GGUF_STRING); gw_str(&w, "llama");
	gw_key(&w, "general.alignment", TFM_GGUF_UINT32); gw_u32(&w, 64);
	gw_tensor(&w, "a.weight", 3, 2, G_F32, 0);	/* dims {in 3, out 2}: [2, 3] */
	gw_tensor(&w, "h", 4, 0, G_F16, 64);
	gw_tensor(&w, "bf", 1, 2, G_BF16, 128);	/* dims {1, 2}: [2, 1] */
	gw_pad(&w, 64);
	data = w.n;
	for (int i = 0; i < 6; i++)
		gw_f32(&w, a[i]);
	gw_pad(&w, 64);
	for (int i = 0; i < 4; i++)
		gw_le(&w, f16_bits(h[i]), 2);
	gw_pad(&w, 64);
	for (int i = 0; i < 2; i++) {
		uint32_t u;
		memcpy(&u, &bf[i], 4);
		gw_le(&w, u >> 16, 2);
	}
	fp = fopen(path, "wb");
	CU_ASSERT_FATAL(fp != NULL && fwrite(w.b, 1, w.n, fp) == w.n && fclose(fp) == 0);

	CU_ASSERT_FATAL(tfm_gguf_open(&g, path, &e) == 0);
	f = tfm_gguf_file(g);
	CU_ASSERT_EQUAL(tfm_gguf_alignment(g), 64);
	CU_ASSERT_STRING_EQUAL(tfm_file_label(f), path);
	CU_ASSERT_EQUAL_FATAL(tfm_file_count(f), 3);

	CU_ASSERT(tfm_file_info(f, 0, &t) == 0);
	CU_ASSERT_STRING_EQUAL(t.name, "a.weight");
	CU_ASSERT_STRING_EQUAL(t.key, "a.weight");
	CU_ASSERT(t.kind == TFM_BIND && t.dtype == TFM_F32 && t.ndim == 2);
	CU_ASSERT(t.shape[0] == 2 && t.shape[1] == 3 && t.nelem == 6 && t.nbytes == 24);
	CU_ASSERT(tfm_file_read_f32(f, 0, out) == 0);
	CU_ASSERT(memcmp(out, a, sizeof a) == 0);

	CU_ASSERT(tfm_file_info(f, 1, &t) == 0);
	CU_ASSERT(t.dtype == TFM_F16 && t.ndim == 1 && t.shape[0] == 4 && t.nbytes == 8);
	CU_ASSERT(tfm_file_read_f32(f, 1, out) == 0);
	CU_ASSERT(memcmp(out, h, sizeof h) == 0);

	CU_ASSERT(tfm_file_info(f, 2, &t) == 0);
	CU_ASSERT(t.dtype == TFM_BF16 && t.ndim == 2 && t.shape[0] == 2 && t.shape[1] == 1);
	CU_ASSERT(tfm_file_read_f32(f, 2, out) == 0);
	CU_ASSERT(out[0] == -3.0f && out[1] == 0.15625f);
	CU_ASSERT(tfm_file_lookup(f, "bf") == 2);
	tfm_gguf_close(g);

	/* The same bytes from memory: the data sits where the file says. */
	g = gw_parse(&w, &e);
	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	tfm_file_info(tfm_gguf_file(g), 1, &t);
	CU_ASSERT(t.data == w.b + data + 64);
	CU_ASSERT(tfm_file_holds(tfm_gguf_file(g), t.data));
	tfm_gguf_close(g);

	/* Not a GGUF file at all. */
	CU_ASSERT(tfm_gguf_open(&g, test_path(dir, "none.gguf"), &e) == -1);
	ASSERT_HAS(e.msg, "none.gguf: cannot open: ");
}

/* Q8_0, Q4_0, Q4_K, Q6_K: names, block sizes and byte sizes; not read as
 * floats by tfm_file_read_f32; bound in place, or converted. */
static void test_quantized(void)
{
	static const struct { int ggml, dtype; const char *name; uint64_t d0, d1; size_t nbytes; } q[] = {
		{ G_Q8_0, TFM_Q8_0, "Q8_0", 64, 2, 4 * 34 },
		{ G_Q4_0, TFM_Q4_0, "Q4_0", 32, 0, 18 },
		{ G_Q4_K, TFM_Q4_K, "Q4_K", 256, 3, 3 * 144 },
		{ G_Q6_K, TFM_Q6_K, "Q6_K", 512, 0, 2 * 210 },
	};
	char name[4][8];
	size_t off = 0, block, bytes;
	tfm_tensor_info t;
	tfm_gguf *g;
	tfm_file *f;
	tfm_error e;
	float x[4];
	void *ptr[1];
	gw w;

	gw_head(&w, 3, 5, 0);
	for (int i = 0; i < 4; i++) {
		snprintf(name[i], sizeof name[i], "q%d", i);
		gw_tensor(&w, name[i], q[i].d0, q[i].d1, (uint32_t)q[i].ggml, off);
		off += (q[i].nbytes + 31) / 32 * 32;
	}
	gw_tensor(&w, "norm", 4, 0, G_F32, off);
	off += 16;
	gw_pad(&w, 32);
	for (size_t i = 0; i < off; i++)
		gw_u8(&w, 0);
	g = gw_parse(&w, &e);
	if (g == NULL)
		fprintf(stderr, "\n    %s\n", e.msg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	f = tfm_gguf_file(g);
	for (int i = 0; i < 4; i++) {
		CU_ASSERT(tfm_file_info(f, i, &t) == 0);
		CU_ASSERT_EQUAL(t.dtype, q[i].dtype);
		CU_ASSERT_STRING_EQUAL(tfm_dtype_name(t.dtype), q[i].name);
		CU_ASSERT_EQUAL(t.ndim, q[i].d1 ? 2 : 1);
		CU_ASSERT_EQUAL(t.shape[0], q[i].d1 ? q[i].d1 : q[i].d0);
		CU_ASSERT_EQUAL(t.nelem, q[i].d0 * (q[i].d1 ? q[i].d1 : 1));
		CU_ASSERT_EQUAL(t.nbytes, q[i].nbytes);
		CU_ASSERT(tfm_file_read_f32(f, i, x) == -1);
	}
	CU_ASSERT(tfm_dtype_block(TFM_Q8_0, &block, &bytes) == 0 && block == 32 && bytes == 34);
	CU_ASSERT(tfm_dtype_block(TFM_Q4_0, &block, &bytes) == 0 && block == 32 && bytes == 18);
	CU_ASSERT(tfm_dtype_block(TFM_Q4_K, &block, &bytes) == 0 && block == 256 && bytes == 144);
	CU_ASSERT(tfm_dtype_block(TFM_Q6_K, &block, &bytes) == 0 && block == 256 && bytes == 210);
	CU_ASSERT(tfm_dtype_block(TFM_F16, &block, &bytes) == 0 && block == 1 && bytes == 2);
	CU_ASSERT(tfm_dtype_block(99, &block, &bytes) == -1);

	{
		/* Every tensor binds as stored, in place (the matrices); a vector
		 * of blocks binds as floats, dequantized; asked for alone, the F32
		 * one is told of the others. */
		tfm_tensor_decl d[5] = { { "q0", 2, { 2, 64 }, TFM_Q8_0 }, { "q1", 1, { 32 }, TFM_F32 },
		                         { "q2", 2, { 3, 256 }, TFM_Q4_K }, { "q3", 1, { 512 }, TFM_F32 },
		                         { "norm", 1, { 4 }, TFM_F32 } };
		void *out[5];
		CU_ASSERT(tfm_file_bind(f, d + 4, 1, NULL, &e) == -1);
		ASSERT_HAS(e.msg, "unexpected tensor");
		CU_ASSERT(tfm_file_bind(f, d, 5, out, &e) == 0);
		CU_ASSERT(tfm_file_holds(f, out[0]) && tfm_file_holds(f, out[2]) && !tfm_file_holds(f, out[1]));
		d[2].dtype = TFM_Q6_K;	/* Q4_K requantized as Q6_K (from its floats) */
		CU_ASSERT(tfm_file_bind(f, d, 5, out, &e) == 0);
		d[0].shape[1] = 48;	/* not whole blocks */
		CU_ASSERT(tfm_file_bind(f, d, 5, out, &e) == -1);
	}
	tfm_gguf_close(g);

	/* A file of one F32 tensor binds in place. */
	gw_head(&w, 3, 1, 0);
	gw_tensor(&w, "norm", 4, 0, G_F32, 0);
	gw_pad(&w, 32);
	for (int i = 0; i < 4; i++)
		gw_f32(&w, (float)i);
	g = gw_parse(&w, &e);
	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	{
		tfm_tensor_decl d = { "norm", 1, { 4 }, TFM_F32 };
		CU_ASSERT(tfm_file_bind(tfm_gguf_file(g), &d, 1, ptr, &e) == 0);
		CU_ASSERT(ptr[0] == w.b + w.n - 16);
	}
	tfm_gguf_close(g);
}

/* ---- Malformed files ---------------------------------------------------- */

/* Expects w to fail with exactly msg. */
#define BAD(w, want_) do { \
	tfm_error e_; \
	tfm_gguf *g_ = gw_parse(&(w), &e_); \
	CU_ASSERT_PTR_NULL(g_); \
	tfm_gguf_close(g_); \
	ASSERT_MSG(e_.msg, want_); \
} while (0)

static void test_bad_header(void)
{
	gw w;

	w.n = 2;
	memcpy(w.b, "GG", 2);
	BAD(w, "t.gguf: 2 bytes: too short for a GGUF file");
	gw_head(&w, 3, 0, 0);
	memcpy(w.b, "GGML", 4);
	BAD(w, "t.gguf: not a GGUF file: it starts with bytes 47 47 4d 4c, not \"GGUF\"");
	gw_head(&w, 1, 0, 0);
	BAD(w, "t.gguf: GGUF version 1 is not supported: only versions 2 and 3 are (version 1 had 32-bit counts)");
	gw_head(&w, 4, 0, 0);
	BAD(w, "t.gguf: GGUF version 4 is not supported: only versions 2 and 3 are");
	gw_head(&w, 0x03000000, 0, 0);
	BAD(w, "t.gguf: GGUF version 50331648 (0x03000000): a big-endian file? only little-endian versions 2 and 3 are supported");
	gw_head(&w, 3, 0, 0);
	w.n = 6;
	BAD(w, "t.gguf: GGUF header: the version at byte 4 needs 4 bytes, only 2 are left: truncated file?");
	w.n = 20;
	BAD(w, "t.gguf: GGUF header: the metadata count at byte 16 needs 8 bytes, only 4 are left: truncated file?");
	gw_head(&w, 3, 0, 2);
	gw_key(&w, "a", TFM_GGUF_UINT8);
	gw_u8(&w, 1);
	BAD(w, "t.gguf: GGUF header: 2 metadata pairs cannot fit in the 14 bytes left: truncated file?");
	gw_head(&w, 3, 1, 0);
	BAD(w, "t.gguf: GGUF header: 1 tensor infos cannot fit in the 0 bytes left: truncated file?");
	gw_head(&w, 3, UINT64_MAX, UINT64_MAX);
	BAD(w, "t.gguf: GGUF header: 18446744073709551615 metadata pairs cannot fit in the 0 bytes left: truncated file?");
}

static void test_bad_metadata(void)
{
	gw w;

	/* A key's length past the end. */
	gw_head(&w, 3, 0, 1);
	gw_u64(&w, 100);
	gw_u32(&w, 0); gw_u8(&w, 0); gw_u8(&w, 0);
	BAD(w, "t.gguf: metadata pair 0: the key at byte 24 is 100 bytes long, past the end of the file (38 bytes): truncated file?");
	/* An empty key. */
	gw_head(&w, 3, 0, 1);
	gw_key(&w, "", TFM_GGUF_UINT8); gw_u8(&w, 1); gw_u8(&w, 1);
	BAD(w, "t.gguf: metadata pair 0 has an empty key");
	/* A string value of 2^63 bytes: no overflow in pos + len. */
	gw_head(&w, 3, 0, 1);
	gw_key(&w, "general.name", TFM_GGUF_STRING); gw_u64(&w, (uint64_t)1 << 63);
	BAD(w, "t.gguf: metadata 'general.name': the string at byte 48 is 9223372036854775808 bytes long, past the end of the file (56 bytes): truncated file?");
	/* A value cut short. */
	gw_head(&w, 3, 0, 1);
	gw_key(&w, "n", TFM_GGUF_UINT64); gw_u32(&w, 7); gw_u8(&w, 0);
	BAD(w, "t.gguf: metadata 'n': the value at byte 37 needs 8 bytes, only 5 are left: truncated file?");
	/* An unknown value type. */
	gw_head(&w, 3, 0, 1);
	gw_key(&w, "n", 13); gw_u8(&w, 0); gw_u8(&w, 0);
	BAD(w, "t.gguf: metadata 'n': value type 13 at byte 33 is not a GGUF type");
	/* A bool that is neither. */
	gw_head(&w, 3, 0, 1);
	gw_key(&w, "b", TFM_GGUF_BOOL); gw_u8(&w, 2); gw_u8(&w, 0);
	BAD(w, "t.gguf: metadata 'b': bool at byte 37 is 2, not 0 or 1");
	/* Arrays: 2^62 uint32 (count * 4 would wrap to 0), strings past the
	 * end, an unknown element type, nesting too deep. */
	gw_head(&w, 3, 0, 1);
	gw_key(&w, "a", TFM_GGUF_ARRAY); gw_u32(&w, TFM_GGUF_UINT32); gw_u64(&w, (uint64_t)1 << 62);
	BAD(w, "t.gguf: metadata 'a': an array of 4611686018427387904 uint32 at byte 37 runs past the end of the file (49 bytes): truncated file?");
	gw_head(&w, 3, 0, 1);
	gw_key(&w, "tokens", TFM_GGUF_ARRAY); gw_u32(&w, TFM_GGUF_STRING); gw_u64(&w, 2);
	gw_str(&w, "ab"); gw_u64(&w, 5); gw_u8(&w, 'c');
	BAD(w, "t.gguf: metadata 'tokens': the string at byte 64 is 5 bytes long, past the end of the file (73 bytes): truncated file?");
	gw_head(&w, 3, 0, 1);
	gw_key(&w, "tokens", TFM_GGUF_ARRAY); gw_u32(&w, TFM_GGUF_STRING); gw_u64(&w, 3);
	gw_str(&w, "ab"); gw_u64(&w, 0);
	BAD(w, "t.gguf: metadata 'tokens': an array of 3 string at byte 42 runs past the end of the file (72 bytes): truncated file?");
	gw_head(&w, 3, 0, 1);
	gw_key(&w, "a", TFM_GGUF_ARRAY); gw_u32(&w, 99); gw_u64(&w, 0); gw_u8(&w, 0); gw_u8(&w, 0);
	BAD(w, "t.gguf: metadata 'a': the array at byte 37 has elements of type 99, which is not a GGUF type");
	gw_head(&w, 3, 0, 1);
	gw_key(&w, "a", TFM_GGUF_ARRAY);
	for (int i = 0; i < 4; i++) {
		gw_u32(&w, TFM_GGUF_ARRAY);
		gw_u64(&w, 1);
	}
	gw_u32(&w, TFM_GGUF_UINT8); gw_u64(&w, 0);
	BAD(w, "t.gguf: metadata 'a': arrays nested more than 4 deep at byte 73");
	/* A key twice. */
	gw_head(&w, 3, 0, 2);
	gw_key(&w, "k", TFM_GGUF_UINT8); gw_u8(&w, 1);
	gw_key(&w, "k", TFM_GGUF_UINT8); gw_u8(&w, 2);
	BAD(w, "t.gguf: metadata key 'k' appears more than once");
	/* general.alignment: a uint32 power of two. */
	gw_head(&w, 3, 0, 1);
	gw_key(&w, "general.alignment", TFM_GGUF_UINT64); gw_u64(&w, 64);
	BAD(w, "t.gguf: general.alignment is a uint64, expected a uint32");
	gw_head(&w, 3, 0, 1);
	gw_key(&w, "general.alignment", TFM_GGUF_UINT32); gw_u32(&w, 48); gw_u8(&w, 0); gw_u8(&w, 0);
	BAD(w, "t.gguf: general.alignment 48 is not a power of two");
	gw_head(&w, 3, 0, 1);
	gw_key(&w, "general.alignment", TFM_GGUF_UINT32); gw_u32(&w, 0); gw_u8(&w, 0); gw_u8(&w, 0);
	BAD(w, "t.gguf: general.alignment 0 is not a power of two");
}

/* A file of one tensor info (two dims unless d1 is 0) and data bytes
 * after the aligned start. */
static void one_tensor(gw *w, const char *name, uint64_t d0, uint64_t d1, uint32_t type,
                       uint64_t offset, size_t data)
{
	gw_head(w, 3, 1, 0);
	gw_tensor(w, name, d0, d1, type, offset);
	gw_pad(w, 32);
	for (size_t i = 0; i < data; i++)
		gw_u8(w, 0);
}

static void test_bad_tensors(void)
{
	gw w;

	one_tensor(&w, "", 4, 0, G_F32, 0, 16);
	BAD(w, "t.gguf: tensor info 0 has an empty name");
	gw_head(&w, 3, 1, 0);
	gw_u64(&w, 3); gw_u8(&w, 'a'); gw_u8(&w, 0); gw_u8(&w, 'b');
	gw_u32(&w, 1); gw_u64(&w, 4); gw_u32(&w, G_F32); gw_u64(&w, 0);
	gw_pad(&w, 32);
	for (int i = 0; i < 16; i++)
		gw_u8(&w, 0);
	BAD(w, "t.gguf: tensor info 0: its name holds a NUL byte");
	gw_head(&w, 3, 1, 0);
	gw_str(&w, "w"); gw_u32(&w, 0); gw_u32(&w, G_F32); gw_u64(&w, 0); gw_u64(&w, 0); gw_u64(&w, 0);
	BAD(w, "t.gguf: tensor 'w' has 0 dimensions, expected 1 to 4");
	gw_head(&w, 3, 1, 0);
	gw_str(&w, "w"); gw_u32(&w, 5);
	for (int i = 0; i < 6; i++)
		gw_u64(&w, 1);
	BAD(w, "t.gguf: tensor 'w' has 5 dimensions, expected 1 to 4");
	/* A tensor info cut short. */
	gw_head(&w, 3, 1, 0);
	gw_str(&w, "w"); gw_u32(&w, 2); gw_u64(&w, 4); gw_u64(&w, 4); gw_u32(&w, G_F32); gw_u32(&w, 0);
	BAD(w, "t.gguf: tensor 'w': the offset at byte 57 needs 8 bytes, only 4 are left: truncated file?");
	one_tensor(&w, "w", 4, 0, G_F32, 0, 0);
	w.n -= 3;	/* the padding cut: the data section would start past the end */
	BAD(w, "t.gguf: the data section would start at byte 64 (the tensor infos end at 57, aligned to 32), past the end of the file (61 bytes): truncated file?");
	one_tensor(&w, "w", 4, 0, 0, 0, 16);
	w.b[45] = 99;	/* the ggml type */
	BAD(w, "t.gguf: tensor 'w' has ggml type 99, which is not a GGML type");
	one_tensor(&w, "w", 4, 0, 4, 0, 16);	/* Q4_2: removed from GGML */
	BAD(w, "t.gguf: tensor 'w' has ggml type 4, which is not a GGML type");
	one_tensor(&w, "w", 256, 0, G_Q5_K, 0, 176);
	BAD(w, "t.gguf: tensor 'w' has ggml type Q5_K (13): not supported (F32, F16, BF16, Q8_0, Q4_0, Q4_K and Q6_K are)");
	one_tensor(&w, "w", 4, 0, G_F32, 0, 16);
	w.b[37] = 0;	/* dims[0] = 0 */
	BAD(w, "t.gguf: tensor 'w': dimension 0 is 0");
	gw_head(&w, 3, 1, 0);
	gw_tensor(&w, "w", (uint64_t)1 << 32, (uint64_t)1 << 32, G_F32, 0);
	gw_pad(&w, 32);
	BAD(w, "t.gguf: tensor 'w': dimensions of more than 2^63 elements");
	gw_head(&w, 3, 1, 0);
	gw_tensor(&w, "w", (uint64_t)1 << 31, (uint64_t)1 << 31, G_F32, 0);
	gw_pad(&w, 32);
	BAD(w, "t.gguf: tensor 'w': 4611686018427387904 elements of F32 take more than 2^64 bytes");
	gw_head(&w, 3, 1, 0);
	gw_tensor(&w, "w", (uint64_t)1 << 30, (uint64_t)1 << 30, G_F32, 0);
	gw_pad(&w, 32);
	BAD(w, "t.gguf: tensor 'w': 4611686018427387904 bytes at offset 0 run past the end of the data section (0 bytes): truncated file?");
	one_tensor(&w, "w", 33, 2, G_Q8_0, 0, 68);
	BAD(w, "t.gguf: tensor 'w': a row of 33 elements is not whole Q8_0 blocks of 32");
	one_tensor(&w, "w", 4, 0, G_F32, 16, 32);
	BAD(w, "t.gguf: tensor 'w': offset 16 is not a multiple of the alignment (32)");
	one_tensor(&w, "w", 4, 0, G_F32, 0, 15);
	BAD(w, "t.gguf: tensor 'w': 16 bytes at offset 0 run past the end of the data section (15 bytes): truncated file?");
	one_tensor(&w, "w", 4, 0, G_F32, (uint64_t)1 << 63, 16);
	BAD(w, "t.gguf: tensor 'w': 16 bytes at offset 9223372036854775808 run past the end of the data section (16 bytes): truncated file?");
	/* A name twice. */
	gw_head(&w, 3, 2, 0);
	gw_tensor(&w, "w", 4, 0, G_F32, 0);
	gw_tensor(&w, "w", 4, 0, G_F32, 32);
	gw_pad(&w, 32);
	for (int i = 0; i < 48; i++)
		gw_u8(&w, 0);
	BAD(w, "t.gguf: tensor 'w' appears more than once in the header");
}

/* llama.cpp's names and section 3's, both ways (section 6's table). */
static void test_names(void)
{
	static const char *const pairs[][2] = {
		{ "blk.3.attn_q.weight", "layers.3.attention.wq.weight" },
		{ "blk.0.attn_q.bias", "layers.0.attention.wq.bias" },
		{ "blk.11.post_ffw_norm.weight", "layers.11.ffn_post_norm.weight" },
		{ "blk.2.attn_k_norm.weight", "layers.2.attention.k_norm.weight" },
		{ "output_norm.bias", "norm.bias" }, { "token_embd.weight", "tok_embeddings.weight" },
		{ "position_embd.weight", "pos_embeddings.weight" }, { "output.weight", "output.weight" },
	};
	static const char *const bad[] = { "blk.x.attn_q.weight", "blk.3.weight", "blk.3.attn_z.weight",
	                                   "rope_freqs.weight", "token_embd", "blk.-1.attn_q.weight", "" };
	char out[128];

	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
		CU_ASSERT(tfm_gguf_map_name(pairs[i][0], out, sizeof out) == 0);
		CU_ASSERT_STRING_EQUAL(out, pairs[i][1]);
		CU_ASSERT(tfm_gguf_name_of(pairs[i][1], out, sizeof out) == 0);
		CU_ASSERT_STRING_EQUAL(out, pairs[i][0]);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CU_ASSERT(tfm_gguf_map_name(bad[i], out, sizeof out) == -1);
	CU_ASSERT(tfm_gguf_name_of("layers.3.attention.wq", out, sizeof out) == -1);	/* no suffix */
	CU_ASSERT(tfm_gguf_map_name("blk.3.attn_q.weight", out, 8) == -1);	/* too long for out */
}

/* tfmc import and --weights on a GGUF file: a malformed one says what is
 * wrong; one without metadata binds, and is not a model to import. */
static void test_not_yet(void)
{
	char good_[TEST_DIR_MAX + 16], bad_[TEST_DIR_MAX + 16], out[TEST_DIR_MAX + 16], err[TEST_DIR_MAX + 16];
	const char *good = good_, *bad = bad_;
	tfm_tensor_decl d = { "norm.weight", 1, { 4 }, TFM_F32 };
	tfm_weights wt;
	tfm_error e;
	FILE *fp;
	gw w;

	snprintf(good_, sizeof good_, "%s/ok.gguf", dir);
	snprintf(bad_, sizeof bad_, "%s/bad.gguf", dir);
	snprintf(out, sizeof out, "%s/x.tfm", dir);
	snprintf(err, sizeof err, "%s/err.txt", dir);
	gw_head(&w, 3, 1, 0);
	gw_tensor(&w, "output_norm.weight", 4, 0, G_F32, 0);
	gw_pad(&w, 32);
	for (int i = 0; i < 4; i++)
		gw_f32(&w, 1.0f);
	fp = fopen(good, "wb");
	CU_ASSERT_FATAL(fp != NULL && fwrite(w.b, 1, w.n, fp) == w.n && fclose(fp) == 0);
	fp = fopen(bad, "wb");
	CU_ASSERT_FATAL(fp != NULL && fwrite(w.b, 1, w.n - 1, fp) == w.n - 1 && fclose(fp) == 0);

	/* Bound under section 3's name, in place. */
	CU_ASSERT(tfm_weights_open(&wt, &good, 1, &d, 1, &e) == 0);
	CU_ASSERT(wt.bytes_in_place == 16 && wt.bytes_converted == 0);
	CU_ASSERT(wt.data && ((const float *)wt.data[0])[3] == 1.0f);
	tfm_weights_free(&wt);
	CU_ASSERT(tfm_weights_open(&wt, &bad, 1, &d, 1, &e) == -1);
	ASSERT_HAS(e.msg, "bad.gguf: tensor 'output_norm.weight': 16 bytes at offset 0 run past the end of the data section (15 bytes): truncated file?");

	CU_ASSERT_EQUAL(test_sh("./tfmc import %s -o %s 2>%s", good, out, err), 1);
	ASSERT_HAS(test_slurp(err), "ok.gguf: no string 'general.architecture': not a model GGUF file");
	CU_ASSERT_EQUAL(test_sh("./tfmc import %s -o %s 2>%s", bad, out, err), 1);
	ASSERT_HAS(test_slurp(err), "bad.gguf: tensor 'output_norm.weight': 16 bytes at offset 0 run past the end");
}

int add_gguf_suites(void)
{
	CU_pSuite s = CU_add_suite("runtime/gguf", setup, teardown);

	if (!s ||
	    !CU_add_test(s, "metadata of every type, arrays of strings and of arrays", test_metadata) ||
	    !CU_add_test(s, "F32, F16, BF16 tensors read back, shapes reversed", test_tensors) ||
	    !CU_add_test(s, "Q8_0, Q4_0, Q4_K, Q6_K listed, bound in place or converted", test_quantized) ||
	    !CU_add_test(s, "malformed headers", test_bad_header) ||
	    !CU_add_test(s, "malformed metadata", test_bad_metadata) ||
	    !CU_add_test(s, "malformed tensor infos", test_bad_tensors) ||
	    !CU_add_test(s, "tfmc import and --weights on a file of no model", test_not_yet) ||
	    !CU_add_test(s, "tensor names, llama.cpp's and section 3's", test_names))
		return -1;
	return 0;
}
