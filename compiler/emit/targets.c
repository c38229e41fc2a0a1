/* targets.c: the instruction sets tfmc emits code for.  Each spelling is a
 * printf format: the emitter fills in pointers, vectors and counts. */
#include <string.h>
#include "target.h"

static int always(void) { return 1; }

static int has_avx2(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

static int has_avx512(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f");
}

const Target targets[] = {
	{
		"scalar", 1, 4, 1, "c99", "", "",
		"float", "0.0f",
		"(*(%s))", "(*(%s))",
		"tfm_bf16_to_f32(*(%s))", "tfm_bf16_to_f32(*(%s))",
		"(%s)", "((%s) * (%s) + (%s))",
		"(*(%s) = (%s))", "(*(%s) = (%s))",
		"",
		always, 0,
	},
	{
		/* 4 x 3 tiles: 12 accumulators + 3 of x + 1 of w = 16 registers */
		"avx2", 8, 4, 3, "c11", "-mavx2 -mfma", "#include <immintrin.h>",
		"__m256", "_mm256_setzero_ps()",
		"_mm256_loadu_ps(%s)", "load_tail(%s, %d)",
		"load_bf16(%s)", "load_bf16_tail(%s, %d)",
		"_mm256_set1_ps(%s)", "_mm256_fmadd_ps(%s, %s, %s)",
		"_mm256_storeu_ps(%s, %s)", "store_tail(%s, %s, %d)",
		"/* The sum of the 8 lanes of v. */\n"
		"static inline float hsum(__m256 v)\n"
		"{\n"
		"\t__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));\n"
		"\ts = _mm_add_ps(s, _mm_movehl_ps(s, s));\n"
		"\ts = _mm_add_ss(s, _mm_movehdup_ps(s));\n"
		"\treturn _mm_cvtss_f32(s);\n"
		"}\n"
		"\n"
		"/* A mask of the first n lanes, for loads and stores at the end of a row. */\n"
		"static inline __attribute__((unused)) __m256i tail_mask(int n)\n"
		"{\n"
		"\tstatic const int ones[16] = { -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0 };\n"
		"\treturn _mm256_loadu_si256((const __m256i *)(ones + 8 - n));\n"
		"}\n"
		"\n"
		"static inline __attribute__((unused)) __m256 load_tail(const float *p, int n)\n"
		"{\n"
		"\treturn _mm256_maskload_ps(p, tail_mask(n));\n"
		"}\n"
		"\n"
		"static inline __attribute__((unused)) void store_tail(float *p, __m256 v, int n)\n"
		"{\n"
		"\t_mm256_maskstore_ps(p, tail_mask(n), v);\n"
		"}\n"
		"\n"
		"/* 8 bfloat16 widened to floats: each the top half of a float (exact). */\n"
		"static inline __attribute__((unused)) __m256 load_bf16(const tfm_bf16 *p)\n"
		"{\n"
		"\t__m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));\n"
		"\treturn _mm256_castsi256_ps(_mm256_slli_epi32(h, 16));\n"
		"}\n"
		"\n"
		"static inline __attribute__((unused)) __m256 load_bf16_tail(const tfm_bf16 *p, int n)\n"
		"{\n"
		"\ttfm_bf16 h[8] = { 0 };\n"
		"\tmemcpy(h, p, sizeof *p * (size_t)n);\n"
		"\treturn load_bf16(h);\n"
		"}\n",
		has_avx2, 0,
	},
	{
		/* 4 x 6 tiles: 24 accumulators + 6 + 1 of 32 registers */
		"avx512", 16, 4, 6, "c11", "-mavx512f", "#include <immintrin.h>",
		"__m512", "_mm512_setzero_ps()",
		"_mm512_loadu_ps(%s)", "_mm512_maskz_loadu_ps((__mmask16)((1u << %2$d) - 1), %1$s)",
		"load_bf16(%s)", "load_bf16_tail(%s, %d)",
		"_mm512_set1_ps(%s)", "_mm512_fmadd_ps(%s, %s, %s)",
		"_mm512_storeu_ps(%s, %s)", "_mm512_mask_storeu_ps(%1$s, (__mmask16)((1u << %3$d) - 1), %2$s)",
		"/* The sum of the 16 lanes of v. */\n"
		"static inline float hsum(__m512 v)\n"
		"{\n"
		"\treturn _mm512_reduce_add_ps(v);\n"
		"}\n"
		"\n"
		"/* 16 bfloat16 widened to floats: each the top half of a float (exact). */\n"
		"static inline __attribute__((unused)) __m512 load_bf16(const tfm_bf16 *p)\n"
		"{\n"
		"\t__m512i h = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p));\n"
		"\treturn _mm512_castsi512_ps(_mm512_slli_epi32(h, 16));\n"
		"}\n"
		"\n"
		"static inline __attribute__((unused)) __m512 load_bf16_tail(const tfm_bf16 *p, int n)\n"
		"{\n"
		"\ttfm_bf16 h[16] = { 0 };\n"
		"\tmemcpy(h, p, sizeof *p * (size_t)n);\n"
		"\treturn load_bf16(h);\n"
		"}\n",
		has_avx512, 0,
	},
};

const Target target_kernels = {
	"kernels", 1, 1, 1, "c99", "", "",
	"float", "0.0f", "(*(%s))", "(*(%s))", "tfm_bf16_to_f32(*(%s))", "tfm_bf16_to_f32(*(%s))",
	"(%s)", "((%s) * (%s) + (%s))",
	"(*(%s) = (%s))", "(*(%s) = (%s))", "",
	always, 1,
};

const int n_targets = sizeof targets / sizeof targets[0];

const Target *target_native(void)
{
	for (int i = n_targets - 1; i >= 0; i--)
		if (targets[i].supported())
			return &targets[i];
	return &targets[0];
}

const Target *target_find(const char *name)
{
	if (strcmp(name, "native") == 0)
		return target_native();
	for (int i = 0; i < n_targets; i++)
		if (strcmp(targets[i].name, name) == 0)
			return &targets[i];
	if (strcmp(name, target_kernels.name) == 0)
		return &target_kernels;
	return NULL;
}
