/* test_import.c: tfmc import, and the weight readers of other formats.
 *
 * tests/checkpoints/ holds tiny checkpoints in the layouts the Hugging Face
 * hub and llama2.c write, with logits computed by an independent torch
 * implementation in their own conventions (tests/reference/hf_ref.py).
 * Every one is imported, then run through the JIT and through `tfmc
 * build`; the logits must be within 1e-4 * max(1, max |ref|).  Then the bad
 * cases: each broken checkpoint or config gets an error naming the file,
 * the tensor or field, and what was expected. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <CUnit/CUnit.h>
#include <cjson/cJSON.h>
#include "import.h"
#include "tfm_internal.h"
#include "testutil.h"

#define CK "tests/checkpoints"

static char dir[TEST_DIR_MAX];

/* How far out.npy in dir is from the reference, in units of the tolerance
 * (1e-4 * max(1, max |ref|)); infinite when unreadable or misshapen. */
static double distance(const char *out, const char *ref, const char *what)
{
	long r1, c1, r2, c2;
	float *got = test_npy_read(test_path(dir, out), &r1, &c1);
	float *want = test_npy_read(ref, &r2, &c2);
	double d = INFINITY, diff = INFINITY;

	if (got && want && r1 == r2 && c1 == c2) {
		diff = test_max_diff(got, want, r1 * c1);
		d = diff / (1e-4 * fmax(1, test_max_abs(want, r1 * c1)));
	}
	printf("\n    %-14s %-22s max |diff| %.3g (%.3g x the tolerance)", what, out, diff, d);
	free(got);
	free(want);
	return d;
}

/* The files of case c: its source, tokens and logits. */
static void case_files(const char *c, char *src, char *tokens, char *logits, size_t size)
{
	if (strncmp(c, "llama2c", 7) == 0) {
		snprintf(src, size, CK "/%s.bin", c);
		snprintf(tokens, size, CK "/%s.tokens.txt", c);
		snprintf(logits, size, CK "/%s.logits.npy", c);
	} else {
		snprintf(src, size, CK "/%s", c);
		snprintf(tokens, size, CK "/%s/tokens.txt", c);
		snprintf(logits, size, CK "/%s/logits.npy", c);
	}
}

/* Every case of the index, imported, run by the JIT and by a built program. */
static void test_fixtures(void)
{
	char line[128], src[512], tokens[512], logits[512];
	FILE *f = fopen(CK "/INDEX", "r");
	int n = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		if (!line[0])
			continue;
		n++;
		case_files(line, src, tokens, logits, sizeof src);
		CU_ASSERT_EQUAL(test_sh("./tfmc import %s -o %s/%s.tfm 2>%s/err.txt", src, dir, line, dir), 0);
		CU_ASSERT_EQUAL(test_sh("./tfmc run %s/%s.tfm --tokens $(cat %s) --logits %s/jit.npy -n 0 2>>%s/err.txt",
		                        dir, line, tokens, dir, dir), 0);
		CU_ASSERT(distance("jit.npy", logits, line) <= 1);
		CU_ASSERT_EQUAL(test_sh("./tfmc build %s/%s.tfm -o %s/prog 2>>%s/err.txt && "
		                        "%s/prog --tokens $(cat %s) --logits %s/aot.npy -n 0 --threads 2 2>>%s/err.txt",
		                        dir, line, dir, dir, dir, tokens, dir, dir), 0);
		CU_ASSERT(distance("aot.npy", logits, line) <= 1);
		/* And the spec is a spec like any other. */
		CU_ASSERT_EQUAL(test_sh("./tfmc show %s/%s.tfm >/dev/null 2>>%s/err.txt && "
		                        "./tfmc check %s/%s.tfm 2>>%s/err.txt && "
		                        "./tfmc %s/%s.tfm -o %s/m.c 2>>%s/err.txt", dir, line, dir, dir, line, dir,
		                        dir, line, dir, dir), 0);
		if (strstr(test_slurp(test_path(dir, "err.txt")), "error:"))
			printf("\n    %s: %s", line, test_slurp(test_path(dir, "err.txt")));
		test_sh("rm -f %s/prog %s/*.npy %s/m.c %s/m.h", dir, dir, dir, dir);
	}
	fclose(f);
	CU_ASSERT(n >= 11);
}

/* A sharded BF16 Llama: the import writes no weights, the run maps the
 * shards and keeps the matrices in bf16. */
static void test_in_place(void)
{
	const char *err = test_path(dir, "err.txt");

	CU_ASSERT_EQUAL(test_sh("mkdir -p %s/sh && ./tfmc import " CK "/llama_sharded -o %s/sh/m.tfm 2>%s",
	                        dir, dir, err), 0);
	CU_ASSERT_EQUAL(test_sh("test \"$(ls %s/sh)\" = m.tfm", dir), 0);
	CU_ASSERT_EQUAL(test_sh("grep -q 'weights   \".*/tests/checkpoints/llama_sharded\"' %s/sh/m.tfm", dir), 0);
	CU_ASSERT_EQUAL(test_sh("./tfmc run %s/sh/m.tfm -n 2 --timings 2>%s", dir, err), 0);
	const char *t = test_slurp(err);
	ASSERT_HAS(t, "matrices bf16");
	ASSERT_HAS(t, "3 files mapped");
	/* Only the norm vectors (2 layers x 2 + 1 of d_model 64, BF16 to f32). */
	ASSERT_HAS(t, ", 1280 converted");
	test_sh("rm -rf %s/sh", dir);
}

/* Text in: the prompt's ids from the recorded tokenizer, BOS included,
 * give the reference's logits; text out starts with the prompt. */
static void test_prompt(void)
{
	static const struct { const char *src, *prompt, *logits; } cases[] = {
		{ CK "/llama", CK "/llama/prompt.txt", CK "/llama/prompt_logits.npy" },
		{ CK "/gpt2", CK "/gpt2/prompt.txt", CK "/gpt2/prompt_logits.npy" },
		{ CK "/llama2c_v1.bin", CK "/llama2c_prompt.txt", CK "/llama2c_v1.prompt_logits.npy" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		CU_ASSERT_EQUAL(test_sh("./tfmc import %s -o %s/p.tfm 2>/dev/null", cases[i].src, dir), 0);
		CU_ASSERT_EQUAL(test_sh("./tfmc run %s/p.tfm --prompt \"$(cat %s)\" --logits %s/p.npy -n 0 >/dev/null 2>&1",
		                        dir, cases[i].prompt, dir), 0);
		CU_ASSERT(distance("p.npy", cases[i].logits, "--prompt") <= 1);
		CU_ASSERT_EQUAL(test_sh("./tfmc run %s/p.tfm --prompt \"$(cat %s)\" -n 8 >%s/out.txt 2>/dev/null && "
		                        "head -c $(wc -c <%s) %s/out.txt | cmp -s - %s", dir, cases[i].prompt, dir,
		                        cases[i].prompt, dir, cases[i].prompt), 0);
		test_sh("rm -f %s/p.* %s/out.txt", dir, dir);
	}
	/* No tokenizer: a clear error. */
	CU_ASSERT_EQUAL(test_sh("./tfmc import " CK "/qwen3 -o %s/q.tfm 2>/dev/null", dir), 0);
	CU_ASSERT_EQUAL(test_sh("./tfmc run %s/q.tfm --prompt hello 2>%s/err.txt", dir, dir), 2);
	ASSERT_HAS(test_slurp(test_path(dir, "err.txt")), "--prompt needs a tokenizer: give --tokenizer PATH");
	CU_ASSERT_EQUAL(test_sh("./tfmc run %s/q.tfm --prompt hello --tokens 1 2>%s/err.txt", dir, dir), 2);
	ASSERT_HAS(test_slurp(test_path(dir, "err.txt")), "--prompt and --tokens both give the prompt");
	/* A tokenizer whose ids the model does not have. */
	CU_ASSERT_EQUAL(test_sh("./tfmc run %s/q.tfm --tokenizer " CK "/gpt2 --prompt 'hello <|endoftext|>' "
	                        "2>%s/err.txt", dir, dir), 1);
	ASSERT_HAS(test_slurp(test_path(dir, "err.txt")), "but the model's vocab is 200: is it the model's tokenizer?");
	/* A model vocabulary larger than the tokenizer's (Qwen pads its own):
	 * ids with no text are left out of the text, as Hugging Face does. */
	CU_ASSERT_EQUAL(test_sh("printf 'model pad { vocab = 320 d_model = 32 n_layer = 1 n_head = 2 max_seq = 256 "
	                        "allow aspect-ratio allow vocab-size allow ffn-ratio }' >%s/pad.tfm && "
	                        "./tfmc run %s/pad.tfm --tokenizer " CK "/gpt2 --prompt hi -n 200 --temperature 20 "
	                        ">/dev/null 2>%s/err.txt", dir, dir, dir), 0);
	test_sh("rm -f %s/q.* %s/pad.tfm", dir, dir);
}

/* A real model trained by examples/fortune/train.py: its prompt logits, and
 * the greedy text of each prompt of expected.txt (prompt, its ids, the
 * generated ids, the text escaped), as its own torch model gives them. */
static void test_fortune(void)
{
	FILE *f = fopen("examples/fortune/expected.txt", "r");
	char lines[4][2048], *text;
	int n = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(test_sh("./tfmc import examples/fortune/fortune.bin -o %s/fortune.tfm 2>/dev/null", dir), 0);
	while (fgets(lines[0], sizeof lines[0], f) && fgets(lines[1], sizeof lines[1], f) &&
	       fgets(lines[2], sizeof lines[2], f) && fgets(lines[3], sizeof lines[3], f)) {
		for (int i = 0; i < 4; i++)
			lines[i][strcspn(lines[i], "\n")] = 0;
		if (n++ == 0) {
			CU_ASSERT_EQUAL(test_sh("./tfmc run %s/fortune.tfm --prompt '%s' --logits %s/f.npy -n 0 "
			                        ">/dev/null 2>&1", dir, lines[0], dir), 0);
			CU_ASSERT(distance("f.npy", "examples/fortune/expected_logits.npy", "fortune") <= 1);
		}
		/* The ids: the prompt's, then the greedy ones up to EOS. */
		CU_ASSERT_EQUAL(test_sh("printf '%%s' '%s' | ./tfmc tokenize examples/fortune/tokenizer.bin --add-special "
		                        ">%s/ids.txt", lines[0], dir), 0);
		text = strdup(test_slurp(test_path(dir, "ids.txt")));
		text[strcspn(text, "\n")] = 0;
		ASSERT_MSG(text, lines[1]);
		free(text);
		/* The text, unescaped, after the prompt as given. */
		for (char *p = lines[3]; (p = strchr(p, '\\')) != NULL; p++) {
			*p = p[1] == 'n' ? '\n' : p[1] == 't' ? '\t' : p[1];
			memmove(p + 1, p + 2, strlen(p + 2) + 1);
		}
		strcat(lines[3], "\n");
		CU_ASSERT_EQUAL(test_sh("./tfmc run %s/fortune.tfm --prompt '%s' -n 64 >%s/out.txt 2>/dev/null",
		                        dir, lines[0], dir), 0);
		ASSERT_MSG(test_slurp(test_path(dir, "out.txt")), lines[3]);
	}
	fclose(f);
	CU_ASSERT_EQUAL(n, 3);
	test_sh("rm -f %s/fortune.tfm %s/f.npy %s/out.txt %s/ids.txt", dir, dir, dir, dir);
}

/* ---- config.json, field by field ----------------------------------------- */

#define LLAMA_CFG(extra) "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 64, " \
	"\"intermediate_size\": 176, \"num_hidden_layers\": 2, \"num_attention_heads\": 4, " \
	"\"num_key_value_heads\": 2, \"max_position_embeddings\": 4096, \"vocab_size\": 300" extra "}"

static const char *config_error(const char *json, long long max_seq)
{
	static tfm_error e;
	Model m;
	int arch;
	char notes[256];

	e.msg[0] = 0;
	if (import_hf_config(json, strlen(json), "config.json", max_seq, &m, &arch, notes, sizeof notes, &e) == 0)
		snprintf(e.msg, sizeof e.msg, "(no error)");
	return e.msg;
}

static void test_config_errors(void)
{
	static const struct { const char *json; long long max_seq; const char *want; } cases[] = {
		{ "{\"architectures\": [\"BertModel\"]}", 0,
		  "config.json: architecture 'BertModel' is not one tfmc reads (LlamaForCausalLM, MistralForCausalLM, "
		  "Qwen2ForCausalLM, Qwen3ForCausalLM, GemmaForCausalLM, Gemma2ForCausalLM, GPT2LMHeadModel)" },
		{ "{\"hidden_size\": 3}", 0,
		  "config.json: \"architectures\" must be a list of one name, as in [\"LlamaForCausalLM\"]" },
		{ "{\"architectures\": [\"LlamaForCausalLM\"], \"vocab_size\": 300}", 0,
		  "config.json: the field \"hidden_size\" is missing" },
		{ LLAMA_CFG(", \"hidden_size\": \"64\""), 0, "(no error)" },	/* the first of a duplicate key wins */
		{ "{\"architectures\": [\"LlamaForCausalLM\"], \"vocab_size\": 300.5}", 0,
		  "config.json: \"vocab_size\" must be an integer from 1 to 16777216" },
		{ LLAMA_CFG(", \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0}"), 0,
		  "config.json: \"rope_scaling\" of type 'llama3' rescales RoPE's frequencies, and tfmc has no key for it" },
		{ LLAMA_CFG(", \"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}"), 0,
		  "config.json: \"rope_scaling\" of type 'linear' rescales RoPE's frequencies, and tfmc has no key for it" },
		{ LLAMA_CFG(", \"partial_rotary_factor\": 0.5"), 0,
		  "config.json: \"partial_rotary_factor\" is 0.5: RoPE on part of each head has no key (tfmc rotates whole heads)" },
		{ LLAMA_CFG(", \"attention_bias\": true"), 0,
		  "config.json: \"attention_bias\" is true and \"mlp_bias\" false: tfmc has biases on every linear layer "
		  "(bias) or on q, k and v alone (qkv_bias), not on the attention alone" },
		{ LLAMA_CFG(", \"hidden_act\": \"gelu\""), 0,
		  "config.json: \"hidden_act\" 'gelu' in a gated feed-forward: tfmc has silu (swiglu) here" },
		{ LLAMA_CFG(""), 8192, "config.json: --max-seq 8192 is longer than the model's context (max_position_embeddings = 4096)" },
		{ "{\"architectures\": [\"MistralForCausalLM\"], \"hidden_size\": 64, \"intermediate_size\": 176, "
		  "\"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"max_position_embeddings\": 32768, "
		  "\"vocab_size\": 300, \"sliding_window\": 4096}", 0,
		  "config.json: \"sliding_window\" is 4096, shorter than the context (max_seq 32768): tfmc has no key for "
		  "windowed attention; import with --max-seq 4096 or less" },
		{ "{\"architectures\": [\"MistralForCausalLM\"], \"hidden_size\": 64, \"intermediate_size\": 176, "
		  "\"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"max_position_embeddings\": 32768, "
		  "\"vocab_size\": 300, \"sliding_window\": 4096}", 4096, "(no error)" },
		{ "{\"architectures\": [\"Gemma2ForCausalLM\"], \"hidden_size\": 64, \"intermediate_size\": 128, "
		  "\"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"head_dim\": 32, \"max_position_embeddings\": 256, "
		  "\"vocab_size\": 300, \"query_pre_attn_scalar\": 16}", 0,
		  "config.json: \"query_pre_attn_scalar\" is 16, not head_dim (32): the attention scale would be "
		  "1/sqrt(16), and tfmc scales by 1/sqrt(head_dim)" },
		{ "{\"architectures\": [\"GPT2LMHeadModel\"], \"vocab_size\": 300, \"n_embd\": 32, \"n_layer\": 2, "
		  "\"n_head\": 4, \"n_positions\": 64, \"scale_attn_by_inverse_layer_idx\": true}", 0,
		  "config.json: \"scale_attn_by_inverse_layer_idx\" scales each layer's attention differently, and tfmc "
		  "has no key for it" },
		{ "{\"architectures\": [\"GPT2LMHeadModel\"], \"vocab_size\": 300, \"n_embd\": 32, \"n_layer\": 2, "
		  "\"n_head\": 4, \"n_positions\": 64, \"activation_function\": \"quick_gelu\"}", 0,
		  "config.json: \"activation_function\" 'quick_gelu' is not one tfmc has (gelu_new, gelu, relu)" },
		{ "[1, 2]", 0, "config.json: not a JSON object" },
		{ "{\"architectures\": [\"LlamaForCausalLM\"], \"vocab_size\": 300, \"hidden_size\": true}", 0,
		  "config.json: \"hidden_size\" must be an integer from 1 to 1048576" },
		{ "{\"architectures\": [\"LlamaForCausalLM\"", 0, "config.json: not valid JSON" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		ASSERT_MSG(config_error(cases[i].json, cases[i].max_seq), cases[i].want);
}

/* What the fields map to, where transformers' reading is the rule. */
static void test_config_keys(void)
{
	Model m;
	int arch;
	char notes[256];
	tfm_error e;
	const char *gemma = "{\"architectures\": [\"GemmaForCausalLM\"], \"hidden_size\": 48, "
		"\"intermediate_size\": 128, \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"head_dim\": 16, "
		"\"max_position_embeddings\": 256, \"vocab_size\": 256, \"hidden_act\": \"gelu\", \"new_thing\": 1}";
	const char *qwen2 = "{\"architectures\": [\"Qwen2ForCausalLM\"], \"hidden_size\": 64, "
		"\"intermediate_size\": 176, \"num_hidden_layers\": 2, \"num_attention_heads\": 4, "
		"\"num_key_value_heads\": 2, \"max_position_embeddings\": 4096, \"vocab_size\": 300, "
		"\"use_sliding_window\": false, \"sliding_window\": 1024, \"rope_theta\": 1000000}";
	const char *gpt2 = "{\"architectures\": [\"GPT2LMHeadModel\"], \"vocab_size\": 300, \"n_embd\": 32, "
		"\"n_layer\": 2, \"n_head\": 4, \"n_positions\": 64, \"activation_function\": \"gelu\"}";

	/* Gemma runs hidden_activation, by default the tanh GeLU, whatever
	 * hidden_act says; it is tied unless told otherwise. */
	CU_ASSERT_EQUAL_FATAL(import_hf_config(gemma, strlen(gemma), "c", 0, &m, &arch, notes, sizeof notes, &e), 0);
	CU_ASSERT_EQUAL(arch, TFM_HF_GEMMA);
	CU_ASSERT_EQUAL(m.activation, ACT_GEGLU);
	CU_ASSERT_EQUAL(m.gelu, GELU_TANH);
	CU_ASSERT_EQUAL(m.embed_scale, SCALE_SQRT);
	CU_ASSERT_EQUAL(m.tie_embeddings, 1);
	CU_ASSERT_EQUAL(m.head_dim, 16);
	CU_ASSERT_EQUAL(m.n_kv_head, 4);
	ASSERT_MSG(notes, "new_thing\n");
	/* Qwen2: q, k and v biases alone; a window that is not used is no window. */
	CU_ASSERT_EQUAL_FATAL(import_hf_config(qwen2, strlen(qwen2), "c", 0, &m, &arch, notes, sizeof notes, &e), 0);
	CU_ASSERT_EQUAL(m.qkv_bias, 1);
	CU_ASSERT_EQUAL(m.bias, 0);
	CU_ASSERT_EQUAL(m.max_seq, 4096);
	CU_ASSERT_EQUAL(m.tie_embeddings, 0);
	CU_ASSERT_DOUBLE_EQUAL(m.rope_theta, 1e6, 0);
	CU_ASSERT_DOUBLE_EQUAL(m.norm_eps, 1e-6, 0);
	ASSERT_MSG(notes, "");
	/* GPT-2's "gelu" is the erf form; n_inner defaults to 4 n_embd. */
	CU_ASSERT_EQUAL_FATAL(import_hf_config(gpt2, strlen(gpt2), "c", 16, &m, &arch, notes, sizeof notes, &e), 0);
	CU_ASSERT_EQUAL(m.activation, ACT_GELU);
	CU_ASSERT_EQUAL(m.gelu, GELU_ERF);
	CU_ASSERT_EQUAL(m.d_ff, 128);
	CU_ASSERT_EQUAL(m.max_seq, 16);
	CU_ASSERT_EQUAL(m.position, POS_LEARNED);
	CU_ASSERT_EQUAL(m.norm, NORM_LAYERNORM);
	CU_ASSERT_EQUAL(m.bias, 1);
}

/* ---- Broken checkpoints ----------------------------------------------------- */

/* Runs tfmc import on src into dir/x.tfm; its exit status, stderr in err. */
static int import_err(const char *src, const char **err)
{
	int rc = test_sh("./tfmc import %s -o %s/x.tfm 2>%s/err.txt", src, dir, dir);
	*err = test_slurp(test_path(dir, "err.txt"));
	return rc;
}

/* Rewrites the safetensors file path with tensor `name` removed, renamed
 * to `rename`, given dtype `dtype`, or (swap) its shape changed. */
static int rewrite(const char *path, const char *name, const char *rename, const char *dtype, int swap)
{
	FILE *f = fopen(path, "rb");
	unsigned char len8[8];
	unsigned long long hlen = 0;
	char *hdr, *out;
	size_t size;
	long total;
	unsigned char *data;

	if (!f || fread(len8, 1, 8, f) != 8)
		return -1;
	for (int i = 7; i >= 0; i--)
		hlen = hlen << 8 | len8[i];
	fseek(f, 0, SEEK_END);
	total = ftell(f);
	fseek(f, 8, SEEK_SET);
	hdr = calloc(1, hlen + 1);
	size = (size_t)total - 8 - hlen;
	data = malloc(size + 1);
	if (fread(hdr, 1, hlen, f) != hlen || fread(data, 1, size, f) != size)
		return -1;
	fclose(f);
	cJSON *root = cJSON_Parse(hdr);
	cJSON *t = cJSON_GetObjectItemCaseSensitive(root, name);
	if (!t)
		return -1;
	if (rename)
		cJSON_SetValuestring(cJSON_GetObjectItemCaseSensitive(t, "dtype"), "F32"),
		cJSON_AddItemToObject(root, rename, cJSON_Duplicate(t, 1)), cJSON_DeleteItemFromObject(root, name);
	else if (dtype)
		cJSON_SetValuestring(cJSON_GetObjectItemCaseSensitive(t, "dtype"), dtype);
	else if (swap) {
		/* [a, b] becomes [b, a]; a vector [a] becomes [1, a]. */
		cJSON *shape = cJSON_GetObjectItemCaseSensitive(t, "shape");
		if (cJSON_GetArraySize(shape) == 1) {
			cJSON_InsertItemInArray(shape, 0, cJSON_CreateNumber(1));
		} else {
			double a = cJSON_GetArrayItem(shape, 0)->valuedouble, b = cJSON_GetArrayItem(shape, 1)->valuedouble;
			cJSON_ReplaceItemInArray(shape, 0, cJSON_CreateNumber(b));
			cJSON_ReplaceItemInArray(shape, 1, cJSON_CreateNumber(a));
		}
	} else
		cJSON_DeleteItemFromObject(root, name);
	out = cJSON_PrintUnformatted(root);
	hlen = strlen(out);
	for (int i = 0; i < 8; i++)
		len8[i] = (unsigned char)(hlen >> (8 * i));
	f = fopen(path, "wb");
	int bad = !f || fwrite(len8, 1, 8, f) != 8 || fwrite(out, 1, hlen, f) != hlen || fwrite(data, 1, size, f) != size;
	if (f)
		fclose(f);
	cJSON_free(out);
	cJSON_Delete(root);
	free(hdr);
	free(data);
	return bad ? -1 : 0;
}

/* A fresh copy of fixture c in dir/c. */
static const char *copy(const char *c)
{
	static char path[TEST_DIR_MAX + 64];

	snprintf(path, sizeof path, "%s/%s", dir, c);
	test_sh("rm -rf %s && cp -r " CK "/%s %s", path, c, path);
	return path;
}

static void test_bad_checkpoints(void)
{
	const char *err, *p;
	char file[TEST_DIR_MAX + 128];

	/* config.json: an unknown architecture, a missing field, none at all. */
	p = copy("qwen3");
	test_sh("sed -i 's/Qwen3ForCausalLM/Qwen9ForCausalLM/' %s/config.json", p);
	CU_ASSERT_EQUAL(import_err(p, &err), 1);
	ASSERT_HAS(err, "config.json: architecture 'Qwen9ForCausalLM' is not one tfmc reads");
	p = copy("qwen3");
	test_sh("sed -i '/\"intermediate_size\"/d' %s/config.json", p);
	CU_ASSERT_EQUAL(import_err(p, &err), 1);
	ASSERT_HAS(err, "qwen3/config.json: the field \"intermediate_size\" is missing");
	p = copy("qwen3");
	test_sh("rm %s/config.json", p);
	CU_ASSERT_EQUAL(import_err(p, &err), 1);
	ASSERT_HAS(err, "qwen3: not a llama2.c .bin, and no config.json in it: not a Hugging Face checkpoint folder");

	/* A tensor missing, misshapen, of a type no model reads, or unknown. */
	p = copy("qwen3");
	snprintf(file, sizeof file, "%s/model.safetensors", p);
	CU_ASSERT_EQUAL_FATAL(rewrite(file, "model.layers.1.mlp.up_proj.weight", NULL, NULL, 0), 0);
	CU_ASSERT_EQUAL(import_err(p, &err), 1);
	ASSERT_HAS(err, "model.safetensors: missing tensor 'layers.1.feed_forward.w_up.weight' (expected shape [96, 32])");
	p = copy("qwen3");
	CU_ASSERT_EQUAL_FATAL(rewrite(file, "model.layers.0.self_attn.o_proj.weight", NULL, NULL, 1), 0);
	CU_ASSERT_EQUAL(import_err(p, &err), 1);
	ASSERT_HAS(err, "model.safetensors: tensor 'model.layers.0.self_attn.o_proj.weight' has shape [64, 32], expected [32, 64]");
	p = copy("qwen3");
	CU_ASSERT_EQUAL_FATAL(rewrite(file, "model.norm.weight", NULL, "I32", 0), 0);
	CU_ASSERT_EQUAL(import_err(p, &err), 1);
	ASSERT_HAS(err, "model.safetensors: tensor 'model.norm.weight' has dtype I32: only F32, F16 and BF16 are supported");
	p = copy("qwen3");
	CU_ASSERT_EQUAL_FATAL(rewrite(file, "model.norm.weight", "model.final_norm.weight", NULL, 0), 0);
	CU_ASSERT_EQUAL(import_err(p, &err), 1);
	ASSERT_HAS(err, "missing tensor 'norm.weight' (expected shape [32])");
	p = copy("gemma");
	snprintf(file, sizeof file, "%s/model.safetensors", p);
	CU_ASSERT_EQUAL_FATAL(rewrite(file, "model.layers.0.input_layernorm.weight", NULL, NULL, 1), 0);
	CU_ASSERT_EQUAL(import_err(p, &err), 1);
	ASSERT_HAS(err, "model.safetensors: tensor 'model.layers.0.input_layernorm.weight' has 2 dimensions, expected a vector");

	/* Shards: one gone, an index naming a file that is not there, a
	 * tensor in a shard the index does not put it in. */
	p = copy("llama_sharded");
	test_sh("rm %s/model-00002-of-00003.safetensors", p);
	CU_ASSERT_EQUAL(import_err(p, &err), 1);
	ASSERT_HAS(err, "model.safetensors.index.json names shard 'model-00002-of-00003.safetensors', which is not there");
	p = copy("llama_sharded");
	test_sh("sed -i '0,/model-00003-of-00003/s//model-00009-of-00009/' %s/model.safetensors.index.json", p);
	CU_ASSERT_EQUAL(import_err(p, &err), 1);
	ASSERT_HAS(err, "names shard 'model-00009-of-00009.safetensors', which is not there");
	p = copy("llama_sharded");
	test_sh("sed -i 's#\"model.norm.weight\": \"model-0000[0-9]-of-00003#\"model.norm.weight\": \"model-00001-of-00003#' "
	        "%s/model.safetensors.index.json", p);
	if (import_err(p, &err) == 1)
		ASSERT_HAS(err, "tensor 'model.norm.weight' is");
	p = copy("llama_sharded");
	test_sh("sed -i 's/weight_map/weights/' %s/model.safetensors.index.json", p);
	CU_ASSERT_EQUAL(import_err(p, &err), 1);
	ASSERT_HAS(err, "model.safetensors.index.json: no \"weight_map\" object: not a model.safetensors.index.json?");

	/* llama2.c: truncated, a header that is not one. */
	test_sh("head -c 100000 " CK "/llama2c_v1.bin > %s/t.bin", dir);
	snprintf(file, sizeof file, "%s/t.bin", dir);
	CU_ASSERT_EQUAL(import_err(file, &err), 1);
	ASSERT_HAS(err, "t.bin: a llama2.c version 1 checkpoint with dim 32, hidden_dim 96, n_layers 2, n_heads 4, "
	           "n_kv_heads 2, vocab_size 300, seq_len 64 (shared classifier) is");
	ASSERT_HAS(err, "but the file is 100000: truncated file?");
	test_sh("printf 'not a checkpoint at all, not one bit of it' > %s/t.bin", dir);
	CU_ASSERT_EQUAL(import_err(file, &err), 1);
	ASSERT_HAS(err, "t.bin: llama2.c header: dim = 544501614 is not a size (1 to 16777216): not a llama2.c checkpoint?");
	test_sh("head -c 20 " CK "/llama2c_v0.bin > %s/t.bin", dir);
	CU_ASSERT_EQUAL(import_err(file, &err), 1);
	ASSERT_HAS(err, "t.bin: 20 bytes: too short for a llama2.c checkpoint (a 28-byte header)");

	/* Command lines. */
	CU_ASSERT_EQUAL(test_sh("./tfmc import " CK "/qwen3 -o %s/x.json 2>%s/err.txt", dir, dir), 1);
	ASSERT_HAS(test_slurp(test_path(dir, "err.txt")), "the spec must be a .tfm file");
	CU_ASSERT_EQUAL(test_sh("./tfmc import " CK "/qwen3 -o %s/int.tfm 2>%s/err.txt", dir, dir), 1);
	ASSERT_HAS(test_slurp(test_path(dir, "err.txt")), "the model would be called 'int', which is a C keyword");
	CU_ASSERT_EQUAL(test_sh("./tfmc import " CK "/qwen3 -o %s/x.tfm --max-seq 0 2>%s/err.txt", dir, dir), 2);
	CU_ASSERT_EQUAL(test_sh("./tfmc import " CK "/qwen3 -o %s/x.tfm --max-seq 1000 2>%s/err.txt", dir, dir), 1);
	ASSERT_HAS(test_slurp(test_path(dir, "err.txt")), "--max-seq 1000 is longer than the model's context");
	CU_ASSERT_EQUAL(test_sh("./tfmc import " CK "/qwen3 -o %s/x.tfm --tokenizer " CK "/gpt2 2>%s/err.txt", dir, dir), 1);
	ASSERT_HAS(test_slurp(test_path(dir, "err.txt")), "the tokenizer has 300 ids, more than the model's vocab (200)");
	CU_ASSERT_EQUAL(test_sh("test -e %s/x.tfm", dir), 1);
	CU_ASSERT_EQUAL(test_sh("./tfmc import %s/none -o %s/x.tfm 2>%s/err.txt", dir, dir, dir), 1);
	ASSERT_HAS(test_slurp(test_path(dir, "err.txt")), "none: No such file or directory");
	test_sh("rm -rf %s/qwen3 %s/gemma %s/llama_sharded %s/x.* %s/t.bin", dir, dir, dir, dir, dir);
}

/* The run refuses checkpoint tensors that need converting, by name. */
static void test_refused_raw(void)
{
	CU_ASSERT_EQUAL(test_sh("./tfmc import " CK "/gemma -o %s/g.tfm 2>/dev/null && "
	                        "./tfmc run %s/g.tfm --weights " CK "/gemma -n 1 2>%s/err.txt", dir, dir, dir), 1);
	ASSERT_HAS(test_slurp(test_path(dir, "err.txt")),
	           "tensor 'model.layers.0.input_layernorm.weight' (for 'layers.0.attention_norm.weight') cannot be used "
	           "as stored: Gemma stores a norm weight w that means 1 + w; `tfmc import` converts it");
	CU_ASSERT_EQUAL(test_sh("./tfmc import " CK "/gpt2 -o %s/g.tfm 2>/dev/null && "
	                        "./tfmc run %s/g.tfm --weights " CK "/gpt2 -n 1 2>%s/err.txt", dir, dir, dir), 1);
	ASSERT_HAS(test_slurp(test_path(dir, "err.txt")), "GPT-2 stores");
	test_sh("rm -f %s/g.*", dir);
}

/* ---- tfmc tokenize ------------------------------------------------------------ */

/* The command over the fixtures' tokenizers: the ids their generator
 * wrote, the text back, and a message for each kind of bad input. */
static void test_tokenize(void)
{
	const char *err = test_path(dir, "err.txt"), *ids = test_path(dir, "ids.txt");
	char want[4096];

	snprintf(want, sizeof want, "%s", test_slurp(CK "/gpt2/prompt_tokens.txt"));
	CU_ASSERT_EQUAL(test_sh("./tfmc tokenize " CK "/gpt2 " CK "/gpt2/prompt.txt >%s", ids), 0);
	ASSERT_MSG(test_slurp(ids), want);
	CU_ASSERT_EQUAL(test_sh("./tfmc tokenize " CK "/gpt2/tokenizer.json --decode %s | cmp -s - " CK "/gpt2/prompt.txt",
	                        ids), 0);
	/* With the special tokens its configuration adds (Llama's BOS), from stdin. */
	snprintf(want, sizeof want, "%s", test_slurp(CK "/llama/prompt_tokens.txt"));
	CU_ASSERT_EQUAL(test_sh("./tfmc tokenize " CK "/llama --add-special <" CK "/llama/prompt.txt >%s", ids), 0);
	ASSERT_MSG(test_slurp(ids), want);
	CU_ASSERT_EQUAL(test_sh("./tfmc tokenize " CK "/llama --decode --skip-special %s | cmp -s - " CK "/llama/prompt.txt",
	                        ids), 0);
	/* llama2.c's tokenizer.bin. */
	CU_ASSERT_EQUAL(test_sh("./tfmc tokenize " CK "/tokenizer.bin --add-special " CK "/llama2c_prompt.txt >%s", ids), 0);
	snprintf(want, sizeof want, "%s", test_slurp(CK "/llama2c_prompt_tokens.txt"));
	ASSERT_MSG(test_slurp(ids), want);

	CU_ASSERT_EQUAL(test_sh("printf 'ok \\377 no' | ./tfmc tokenize " CK "/gpt2 2>%s", err), 1);
	ASSERT_HAS(test_slurp(err), "not UTF-8 at byte 3");
	CU_ASSERT_EQUAL(test_sh("echo 5,300 | ./tfmc tokenize " CK "/gpt2 --decode 2>%s", err), 1);
	ASSERT_HAS(test_slurp(err), "id 300");
	CU_ASSERT_EQUAL(test_sh("echo '5,,6' | ./tfmc tokenize " CK "/gpt2 --decode 2>%s", err), 1);
	ASSERT_HAS(test_slurp(err), "standard input: item 1 ('') is not a token id");
	CU_ASSERT_EQUAL(test_sh("echo '5 6' | ./tfmc tokenize " CK "/gpt2 --decode 2>%s", err), 1);
	ASSERT_HAS(test_slurp(err), "standard input: expected ',' after item 0, found '6'");
	CU_ASSERT_EQUAL(test_sh("echo '{\"model\": 3}' >%s/bad.json && echo hi | ./tfmc tokenize %s/bad.json 2>%s",
	                        dir, dir, err), 1);
	ASSERT_HAS(test_slurp(err), "bad.json");
	CU_ASSERT_EQUAL(test_sh("./tfmc tokenize %s/none.json </dev/null 2>%s", dir, err), 1);
	ASSERT_HAS(test_slurp(err), "none.json");
	CU_ASSERT_EQUAL(test_sh("./tfmc tokenize " CK "/gpt2 %s/none.txt 2>%s", dir, err), 2);
	ASSERT_HAS(test_slurp(err), "cannot read");
	CU_ASSERT_EQUAL(test_sh("./tfmc tokenize 2>%s", err), 2);
	test_sh("rm -f %s %s/bad.json", ids, dir);
}

/* ---- GGUF: import, export, and the two together ------------------------------ */

/* A GGUF file at path with the quantized golden's llama metadata, changed by
 * one pair (key, value: a string, or an integer when it parses as one;
 * key NULL: none), and its token embedding. */
static int gguf_variant(const char *path, const char *key, const char *value, int rope_freqs)
{
	static float emb[96 * 256], freqs[32];
	tfm_gguf_out_kv kv[16];
	tfm_gguf_out_tensor t[2] = { { "token_embd.weight", TFM_F32, 2, { 96, 256 }, emb },
	                             { "rope_freqs.weight", TFM_F32, 1, { 32, 0 }, freqs } };
	static const struct { const char *key; long v; } ints[] = {
		{ "llama.context_length", 16 }, { "llama.embedding_length", 256 }, { "llama.block_count", 2 },
		{ "llama.feed_forward_length", 512 }, { "llama.attention.head_count", 4 },
		{ "llama.attention.head_count_kv", 2 },
	};
	size_t n = 0;
	tfm_error e;

	kv[n++] = (tfm_gguf_out_kv){ .key = "general.architecture", .type = TFM_GGUF_STRING, .str = "llama" };
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
		if (!key || strcmp(key, ints[i].key) != 0)
			kv[n++] = (tfm_gguf_out_kv){ .key = ints[i].key, .type = TFM_GGUF_UINT32, .u = (uint64_t)ints[i].v };
	if (key && strcmp(key, "general.architecture") == 0)
		kv[0].str = value;
	else if (key && value) {
		char *end;
		long v = strtol(value, &end, 10);
		kv[n++] = *end ? (tfm_gguf_out_kv){ .key = key, .type = TFM_GGUF_STRING, .str = value }
		               : (tfm_gguf_out_kv){ .key = key, .type = TFM_GGUF_UINT32, .u = (uint64_t)v };
	}
	return tfm_gguf_write(path, kv, n, t, rope_freqs ? 2 : 1, &e);
}

static void test_gguf(void)
{
	char err[TEST_DIR_MAX + 16], toks[256];	/* err: test_path's buffers rotate */

	snprintf(err, sizeof err, "%s", test_path(dir, "err.txt"));
	/* The quantized golden: imported, run in place, its logits. */
	snprintf(toks, sizeof toks, "%s", test_slurp("tests/golden/quant_llama_mixed.tokens"));
	toks[strcspn(toks, "\n")] = '\0';
	CU_ASSERT_EQUAL(test_sh("./tfmc import tests/golden/quant_llama_mixed.gguf -o %s 2>%s",
	                        test_path(dir, "qm.tfm"), err), 0);
	ASSERT_HAS(test_slurp(err), "no tokenizer recorded");
	ASSERT_HAS(test_slurp(test_path(dir, "qm.tfm")), "rope_style       = interleaved");
	ASSERT_HAS(test_slurp(test_path(dir, "qm.tfm")), "n_kv_head        = 2");
	ASSERT_HAS(test_slurp(test_path(dir, "qm.tfm")), "norm_eps         = 1e-05");
	CU_ASSERT_EQUAL(test_sh("./tfmc run %s --tokens %s -n 1 --logits %s >/dev/null 2>&1", test_path(dir, "qm.tfm"),
	                        toks, test_path(dir, "qm.npy")), 0);
	CU_ASSERT(distance("qm.npy", "tests/golden/quant_llama_mixed.logits.npy", "gguf import") <= 1);

	/* Export, import back: the same model (a half-style one, its q and k
	 * rows permuted for llama's RoPE on the way), f32 and quantized. */
	FILE *f = fopen(test_path(dir, "h.tfm"), "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("model h {\n vocab = 64  d_model = 256  n_layer = 2  n_head = 4  n_kv_head = 2  d_ff = 768\n"
	      " max_seq = 32  rope_style = half  allow vocab-size\n}\n", f);
	fclose(f);
	CU_ASSERT_EQUAL(test_sh("./tfmc init %s -o %s 2>/dev/null", test_path(dir, "h.tfm"), test_path(dir, "h.st")), 0);
	static const char *const types[] = { "f32", "q8_0", "q4_K" };
	for (int i = 0; i < 3; i++) {
		char what[32];
		CU_ASSERT_EQUAL(test_sh("./tfmc export %s --weights %s --weight-dtype %s -o %s 2>%s", test_path(dir, "h.tfm"),
		                        test_path(dir, "h.st"), types[i], test_path(dir, "h.gguf"), err), 0);
		ASSERT_HAS(test_slurp(err), "llama architecture");
		ASSERT_HAS(test_slurp(err), "q and k rows permuted");
		CU_ASSERT_EQUAL(test_sh("./tfmc import %s -o %s 2>/dev/null", test_path(dir, "h.gguf"),
		                        test_path(dir, "h2.tfm")), 0);
		CU_ASSERT_EQUAL(test_sh("./tfmc run %s --weights %s --weight-dtype %s --tokens 1,7,3,60,5 -n 1 --logits %s "
		                        ">/dev/null 2>&1", test_path(dir, "h.tfm"), test_path(dir, "h.st"), types[i],
		                        test_path(dir, "h_ref.npy")), 0);
		CU_ASSERT_EQUAL(test_sh("./tfmc run %s --tokens 1,7,3,60,5 -n 1 --logits %s >/dev/null 2>&1",
		                        test_path(dir, "h2.tfm"), test_path(dir, "h_gguf.npy")), 0);
		snprintf(what, sizeof what, "export %s", types[i]);
		CU_ASSERT(distance("h_gguf.npy", test_path(dir, "h_ref.npy"), what) <= 1);
	}
	/* What llama.cpp has no architecture for is refused, naming the key. */
	f = fopen(test_path(dir, "ln.tfm"), "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("model ln {\n vocab = 64  d_model = 64  n_layer = 1  n_head = 2  max_seq = 16  norm = layernorm\n}\n", f);
	fclose(f);
	CU_ASSERT_EQUAL(test_sh("./tfmc init %s -o %s 2>/dev/null && ./tfmc export %s --weights %s -o %s 2>%s",
	                        test_path(dir, "ln.tfm"), test_path(dir, "ln.st"), test_path(dir, "ln.tfm"),
	                        test_path(dir, "ln.st"), test_path(dir, "ln.gguf"), err), 1);
	ASSERT_HAS(test_slurp(err), "no llama.cpp architecture computes norm = layernorm");
	CU_ASSERT_EQUAL(test_sh("./tfmc export %s -o %s 2>%s", test_path(dir, "ln.tfm"), test_path(dir, "ln.gguf"), err), 1);

	/* Metadata that changes the math, refused by name. */
	static const struct { const char *key, *value, *want; int freqs; } bad[] = {
		{ "general.architecture", "mamba", "architecture 'mamba' is not one tfmc imports", 0 },
		{ "llama.rope.scaling.type", "linear", "'llama.rope.scaling.type' is 'linear'", 0 },
		{ "llama.expert_count", "8", "a mixture of experts", 0 },
		{ "llama.embedding_length", NULL, "no metadata 'llama.embedding_length'", 0 },
		{ "llama.rope.dimension_count", "32", "RoPE on part of each head", 0 },
		{ "llama.attention.sliding_window", "8", "import with --max-seq 8 or less", 0 },
		{ NULL, NULL, "tensor 'rope_freqs.weight' rescales RoPE", 1 },
		{ "llama.vocab_size", "95", "'token_embd.weight' has 96 rows, and the vocabulary 95 ids", 0 },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CU_ASSERT_EQUAL_FATAL(gguf_variant(test_path(dir, "bad.gguf"), bad[i].key, bad[i].value, bad[i].freqs), 0);
		CU_ASSERT_EQUAL(test_sh("./tfmc import %s -o %s 2>%s", test_path(dir, "bad.gguf"), test_path(dir, "bad.tfm"),
		                        err), 1);
		ASSERT_HAS(test_slurp(err), bad[i].want);
	}
	/* A vocabulary alone, with --max-seq too long */
	CU_ASSERT_EQUAL_FATAL(gguf_variant(test_path(dir, "bad.gguf"), NULL, NULL, 0), 0);
	CU_ASSERT_EQUAL(test_sh("./tfmc import %s --max-seq 17 -o %s 2>%s", test_path(dir, "bad.gguf"),
	                        test_path(dir, "bad.tfm"), err), 1);
	ASSERT_HAS(test_slurp(err), "--max-seq 17 is longer than the model's context");
}

/* Llama 3's vocabulary through a GGUF file: exported with the model,
 * imported back as a tokenizer folder, the same ids for every golden text
 * (with and without BOS) as the tokenizer.json it came from. */
static void test_gguf_vocab(void)
{
	char tk[TEST_DIR_MAX + 16];
	FILE *f;

	snprintf(tk, sizeof tk, "%s/l3", dir);
	CU_ASSERT_EQUAL_FATAL(test_sh("mkdir -p %s && xz -dc tests/tokenizers/llama3/tokenizer.json.xz >%s/tokenizer.json"
	                              " && cp tests/tokenizers/llama3/tokenizer_config.json %s/", tk, tk, tk), 0);
	f = fopen(test_path(dir, "v.tfm"), "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("model v {\n vocab = 128256  d_model = 32  n_layer = 1  n_head = 2  d_ff = 64  max_seq = 16\n"
	      " rope_style = interleaved\n}\n", f);
	fclose(f);
	CU_ASSERT_EQUAL(test_sh("./tfmc init %s -o %s 2>/dev/null", test_path(dir, "v.tfm"), test_path(dir, "v.st")), 0);
	CU_ASSERT_EQUAL(test_sh("./tfmc export %s --weights %s --tokenizer %s --weight-dtype q8_0 -o %s 2>/dev/null",
	                        test_path(dir, "v.tfm"), test_path(dir, "v.st"), tk, test_path(dir, "v.gguf")), 0);
	CU_ASSERT_EQUAL(test_sh("./tfmc import %s -o %s 2>/dev/null", test_path(dir, "v.gguf"), test_path(dir, "v2.tfm")), 0);
	ASSERT_HAS(test_slurp(test_path(dir, "v2.tfm")), "tokenizer \"v2.tokenizer\"");

	tfm_tokenizer *a, *b;
	tfm_error e;
	CU_ASSERT_FATAL(tfm_tokenizer_open(&a, tk, &e) == 0);
	CU_ASSERT_FATAL(tfm_tokenizer_open(&b, test_path(dir, "v2.tokenizer"), &e) == 0);
	CU_ASSERT_EQUAL(tfm_tokenizer_bos(a), tfm_tokenizer_bos(b));
	f = fopen("tests/tokenizers/llama3/golden.jsonl", "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	char line[65536];
	int texts = 0, same = 0;
	while (fgets(line, sizeof line, f)) {
		cJSON *j = cJSON_Parse(line);
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "text");
		if (cJSON_IsString(t))
			for (int special = 0; special < 2; special++) {
				int *ia = NULL, *ib = NULL;
				size_t na = 0, nb = 0;
				const size_t len = strlen(t->valuestring);
				if (tfm_tokenizer_encode(a, t->valuestring, len, special, &ia, &na, &e) == 0
				    && tfm_tokenizer_encode(b, t->valuestring, len, special, &ib, &nb, &e) == 0) {
					texts++;
					same += na == nb && memcmp(ia, ib, na * sizeof *ia) == 0;
				}
				free(ia);
				free(ib);
			}
		cJSON_Delete(j);
	}
	fclose(f);
	printf("\n    Llama 3's vocabulary through GGUF: %d of %d encodings the same", same, texts);
	CU_ASSERT(texts > 20);
	CU_ASSERT_EQUAL(same, texts);
	tfm_tokenizer_close(a);
	tfm_tokenizer_close(b);
}

/* A SentencePiece vocabulary through GGUF: llama2.c's tokenizer.bin (the
 * Llama 2 pieces and scores, ' ' for U+2581) written as a GGUF file's
 * tokenizer.ggml.* of model "llama", then imported: every golden text
 * encodes as run.c's greedy merges of the highest-scoring pair do (which
 * is what llama.cpp's SentencePiece tokenizer does; on llama.cpp's own
 * test vocabularies, not in this tree, the import gave its ids for all 46
 * texts of each), but for texts holding U+2581 itself, which SentencePiece
 * reads as a space and llama2.c as three bytes. */
static void test_gguf_spm(void)
{
	char bin[TEST_DIR_MAX + 32], gguf[TEST_DIR_MAX + 32], tok[TEST_DIR_MAX + 32], why[256];
	size_t len = 0;
	tfm_error e;

	snprintf(bin, sizeof bin, "%s/l2c.bin", dir);
	snprintf(gguf, sizeof gguf, "%s/spm.gguf", dir);
	snprintf(tok, sizeof tok, "%s/spm.tokenizer", dir);
	CU_ASSERT_EQUAL_FATAL(test_sh("xz -dc tests/tokenizers/llama2c/tokenizer.bin.xz >%s", bin), 0);
	FILE *f = fopen(bin, "rb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	unsigned char *raw = malloc(1 << 20);
	CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
	len = fread(raw, 1, 1 << 20, f);
	fclose(f);
	enum { N = 32000 };
	static char *pieces[N];
	static float scores[N];
	static int32_t types[N];
	size_t off = 4;
	int n = 0;
	for (; n < N && off + 8 <= len; n++) {
		int32_t l;
		memcpy(&scores[n], raw + off, 4);
		memcpy(&l, raw + off + 4, 4);
		off += 8;
		CU_ASSERT_FATAL(l >= 0 && off + (size_t)l <= len);
		pieces[n] = malloc(3 * (size_t)l + 1);
		size_t k = 0;
		for (int i = 0; i < l; i++)
			if (raw[off + i] == ' ')
				pieces[n][k++] = (char)0xe2, pieces[n][k++] = (char)0x96, pieces[n][k++] = (char)0x81;
			else
				pieces[n][k++] = (char)raw[off + i];
		pieces[n][k] = '\0';
		off += (size_t)l;
		types[n] = n == 0 ? 2 : n < 3 ? 3 : strncmp(pieces[n], "<0x", 3) == 0 && strlen(pieces[n]) == 6 ? 6 : 1;
	}
	free(raw);
	CU_ASSERT_EQUAL_FATAL(n, N);
	tfm_gguf_out_kv kv[] = {
		{ .key = "general.architecture", .type = TFM_GGUF_STRING, .str = "llama" },
		{ .key = "tokenizer.ggml.model", .type = TFM_GGUF_STRING, .str = "llama" },
		{ .key = "tokenizer.ggml.tokens", .type = TFM_GGUF_ARRAY, .elem_type = TFM_GGUF_STRING, .count = N, .items = pieces },
		{ .key = "tokenizer.ggml.scores", .type = TFM_GGUF_ARRAY, .elem_type = TFM_GGUF_FLOAT32, .count = N, .items = scores },
		{ .key = "tokenizer.ggml.token_type", .type = TFM_GGUF_ARRAY, .elem_type = TFM_GGUF_INT32, .count = N, .items = types },
		{ .key = "tokenizer.ggml.bos_token_id", .type = TFM_GGUF_UINT32, .u = 1 },
		{ .key = "tokenizer.ggml.eos_token_id", .type = TFM_GGUF_UINT32, .u = 2 },
		{ .key = "tokenizer.ggml.unknown_token_id", .type = TFM_GGUF_UINT32, .u = 0 },
		{ .key = "tokenizer.ggml.add_bos_token", .type = TFM_GGUF_BOOL, .u = 1 },
	};
	CU_ASSERT_EQUAL_FATAL(tfm_gguf_write(gguf, kv, sizeof kv / sizeof kv[0], NULL, 0, &e), 0);
	for (int i = 0; i < N; i++)
		free(pieces[i]);
	tfm_gguf *g;
	CU_ASSERT_EQUAL_FATAL(tfm_gguf_open(&g, gguf, &e), 0);
	CU_ASSERT_EQUAL(import_gguf_tokenizer(g, gguf, tok, why, sizeof why, &e), 0);
	tfm_gguf_close(g);

	tfm_tokenizer *a, *b;
	CU_ASSERT_FATAL(tfm_tokenizer_open(&a, bin, &e) == 0);
	CU_ASSERT_FATAL(tfm_tokenizer_open(&b, tok, &e) == 0);
	f = fopen("tests/tokenizers/llama2c/golden.jsonl", "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	char line[65536];
	int texts = 0, same = 0, round = 0, skipped = 0;
	while (fgets(line, sizeof line, f)) {
		cJSON *j = cJSON_Parse(line);
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "text");
		/* U+2581 in the text is SentencePiece's space, and llama2.c's
		 * pieces hold ' ' for it: those texts are not compared */
		if (cJSON_IsString(t) && strstr(t->valuestring, "\xe2\x96\x81"))
			skipped++;
		else if (cJSON_IsString(t))
			for (int special = 0; special < 2; special++) {
				int *ia = NULL, *ib = NULL;
				size_t na = 0, nb = 0, tl;
				char *text = NULL;
				const size_t n_in = strlen(t->valuestring);
				if (tfm_tokenizer_encode(a, t->valuestring, n_in, special, &ia, &na, &e) == 0
				    && tfm_tokenizer_encode(b, t->valuestring, n_in, special, &ib, &nb, &e) == 0) {
					texts++;
					same += na == nb && memcmp(ia, ib, na * sizeof *ia) == 0;
					if (!special && tfm_tokenizer_decode(b, ib, nb, 0, &text, &tl, &e) == 0)
						round += tl == n_in && memcmp(text, t->valuestring, tl) == 0;
				}
				free(text);
				free(ia);
				free(ib);
			}
		cJSON_Delete(j);
	}
	fclose(f);
	printf("\n    a SentencePiece vocabulary through GGUF: %d of %d encodings as llama2.c's (%d texts with U+2581 "
	       "left out); %d of %d decode back", same, texts, skipped, round, texts / 2);
	CU_ASSERT(texts > 20);
	CU_ASSERT_EQUAL(same, texts);
	tfm_tokenizer_close(a);
	tfm_tokenizer_close(b);
}

static int setup(void)
{
	return test_dir_open(dir, "import");
}

static int teardown(void)
{
	test_sh("rm -rf %s", dir);
	dir[0] = 0;
	return 0;
}

int add_import_suites(void)
{
	CU_pSuite s = CU_add_suite("compiler/import", setup, teardown);

	if (!s ||
	    !CU_add_test(s, "every fixture: import, JIT and build against its logits", test_fixtures) ||
	    !CU_add_test(s, "a sharded BF16 folder read in place", test_in_place) ||
	    !CU_add_test(s, "--prompt with the recorded tokenizer", test_prompt) ||
	    !CU_add_test(s, "a trained llama2.c model writes its torch model's text", test_fortune) ||
	    !CU_add_test(s, "config.json: every refused field by name", test_config_errors) ||
	    !CU_add_test(s, "config.json: what the fields map to", test_config_keys) ||
	    !CU_add_test(s, "broken checkpoints", test_bad_checkpoints) ||
	    !CU_add_test(s, "tensors that need converting are refused raw", test_refused_raw) ||
	    !CU_add_test(s, "GGUF: import in place, export and back, refused metadata", test_gguf) ||
	    !CU_add_test(s, "GGUF: Llama 3's vocabulary exported and imported back", test_gguf_vocab) ||
	    !CU_add_test(s, "GGUF: a SentencePiece vocabulary imported", test_gguf_spm))
		return -1;
	/* The tokenizer's command: a suite of its own, in this file for its fixtures. */
	s = CU_add_suite("compiler/tokenize", setup, teardown);
	if (!s || !CU_add_test(s, "tfmc tokenize: ids, text back, bad input", test_tokenize))
		return -1;
	return 0;
}
