/* test_front.c: the .tfm language and its checks.  Every error and warning
 * has a spec that triggers it and the exact place and message expected. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <CUnit/CUnit.h>
#include <cjson/cJSON.h>
#include "check.h"
#include "tensors.h"
#include "testutil.h"

static char *diagnose_print(Diags *d, const char *text, const char *flags,
                            void (*print)(const Diags *, FILE *));

/* Runs the front end over text as file "t.tfm" with the given warning
 * options (space-separated), then checks every model when it parsed.
 * Returns the errors and warnings, one per line, without notes. */
static char *diagnose_in(Diags *d, const char *text, const char *flags)
{
	return diagnose_print(d, text, flags, NULL);
}

/* The same; print (may be NULL) then prints the diagnostics to a string
 * while the sources are still alive, and returns that instead. */
static char *diagnose_print(Diags *d, const char *text, const char *flags,
                            void (*print)(const Diags *, FILE *))
{
	Front fe;
	char opts[256], *save = NULL, *buf = calloc(1, 65536);
	size_t used = 0;

	diag_init(d);
	snprintf(opts, sizeof opts, "%s", flags ? flags : "");
	for (char *w = strtok_r(opts, " ", &save); w; w = strtok_r(NULL, " ", &save))
		CU_ASSERT_EQUAL(diag_option(d, w), 0);
	front_init(&fe, d);
	front_load_text(&fe, "t.tfm", text, strlen(text));
	if (d->n_errors == 0)
		check_all(&fe);
	for (const Diag *g = d->head; g; g = g->next) {
		used += diag_format_line(g, buf + used, 65536 - used);
		if (g->next)
			buf[used++] = '\n';
	}
	if (print) {
		size_t len;
		free(buf);
		buf = NULL;
		FILE *f = open_memstream(&buf, &len);
		print(d, f);
		fclose(f);
	}
	front_free(&fe);
	return buf;
}

static char *diagnose(const char *text, const char *flags)
{
	Diags d;
	char *s = diagnose_in(&d, text, flags);
	diag_free(&d);
	return s;
}

/* A clean model on lines 1-6; a case adds lines from line 7 on. */
#define BASE "model m {\n    vocab = 32000\n    d_model = 768\n    n_layer = 6\n" \
             "    n_head = 12\n    max_seq = 64\n"

typedef struct Case {
	const char *text, *flags, *expect;
} Case;

static const Case cases[] = {
	/* clean */
	{ BASE "}\n", NULL, "" },
	{ "model m { vocab = 32000 d_model = 768 n_layer = 6 n_head = 12 max_seq = 64 }", NULL, "" },
	{ BASE "    dropout = 0.2\n    weight_decay = 0.01\n}\n", NULL, "" },
	/* errors: keys */
	{ "model m {\n    d_model = 768\n    n_layer = 6\n    n_head = 12\n    max_seq = 64\n}\n", NULL,
	  "t.tfm:1:7: error: model 'm' does not set required key 'vocab' (vocabulary size)" },
	{ BASE "    n_heads = 4\n}\n", NULL,
	  "t.tfm:7:5: error: unknown key 'n_heads'; did you mean 'n_head'?" },
	{ BASE "    colour = 4\n}\n", NULL, "t.tfm:7:5: error: unknown key 'colour'" },
	{ BASE "    vocab = 50000\n}\n", NULL, "t.tfm:7:5: error: duplicate key 'vocab' in model 'm'" },
	/* errors: types and domains */
	{ BASE "    d_ff = 1.5\n}\n", NULL, "t.tfm:7:12: error: 'd_ff' takes an integer, not the number 1.5" },
	{ BASE "    bias = 1\n}\n", NULL, "t.tfm:7:12: error: 'bias' takes true or false, not a number" },
	{ BASE "    qkv_bias = 3\n}\n", NULL, "t.tfm:7:16: error: 'qkv_bias' takes true or false, not a number" },
	{ BASE "    qkv_bias = yes\n}\n", NULL,
	  "t.tfm:7:16: error: invalid value 'yes' for 'qkv_bias'; expected true or false" },
	{ BASE "    qkv_bias = bias\n}\n", NULL,
	  "t.tfm:7:16: error: invalid value 'bias' for 'qkv_bias'; expected true or false" },
	{ BASE "    norm = rmsnrm\n}\n", NULL,
	  "t.tfm:7:12: error: invalid value 'rmsnrm' for 'norm'; expected rmsnorm or layernorm" },
	{ BASE "    position = absolute\n}\n", NULL,
	  "t.tfm:7:16: error: invalid value 'absolute' for 'position'; expected rope, sine, learned or none" },
	{ BASE "    norm_eps = layernorm\n}\n", NULL,
	  "t.tfm:7:16: error: unknown key 'layernorm' in the value of 'norm_eps'" },
	{ BASE "    d_ff = 0\n}\n", NULL, "t.tfm:7:5: error: 'd_ff' must be positive, not 0" },
	{ BASE "    n_kv_head = 2 - 4\n}\n", NULL, "t.tfm:7:5: error: 'n_kv_head' must be positive, not -2" },
	{ BASE "    d_ff = 4000000000\n}\n", NULL,
	  "t.tfm:7:5: error: 'd_ff' = 4000000000 is too large (the limit is 2147483647)" },
	{ BASE "    norm_eps = 0\n}\n", NULL, "t.tfm:7:5: error: 'norm_eps' must be greater than 0, not 0" },
	{ BASE "    rope_theta = -1\n}\n", NULL, "t.tfm:7:5: error: 'rope_theta' must be greater than 0, not -1" },
	{ BASE "    dropout = 1\n}\n", NULL,
	  "t.tfm:7:5: error: 'dropout' is a probability and must be in [0, 1), not 1" },
	{ BASE "    dropout = -0.1\n}\n", NULL,
	  "t.tfm:7:5: error: 'dropout' is a probability and must be in [0, 1), not -0.1" },
	{ BASE "    attn_softcap = -1\n}\n", NULL, "t.tfm:7:5: error: 'attn_softcap' must not be negative, not -1" },
	{ BASE "    weight_decay = -0.5\n}\n", NULL, "t.tfm:7:5: error: 'weight_decay' must not be negative, not -0.5" },
	/* errors: the shape of the model */
	{ BASE "    n_kv_head = 5\n}\n", NULL, "t.tfm:7:5: error: n_head (12) is not a multiple of n_kv_head (5)" },
	{ BASE "    n_kv_head = 24\n}\n", NULL, "t.tfm:7:5: error: n_head (12) is not a multiple of n_kv_head (24)" },
	{ "model m {\n    vocab = 32000\n    d_model = 500\n    n_layer = 4\n    n_head = 12\n    max_seq = 64\n}\n",
	  NULL, "t.tfm:3:5: error: d_model (500) is not divisible by n_head (12); 492 or 504 would be" },
	{ BASE "    head_dim = 63\n}\n", NULL,
	  "t.tfm:7:5: error: head_dim (63) is odd, but RoPE needs it even\n"
	  "t.tfm:7:5: warning: n_head * head_dim = 12 * 63 = 756 differs from d_model (768) [-Whead-dim]" },
	{ "model m {\n    vocab = 32000\n    d_model = 765\n    n_layer = 6\n    n_head = 9\n    max_seq = 64\n"
	  "    position = sine\n}\n", NULL, "t.tfm:3:5: error: d_model (765) is odd, but sine positions need it even" },
	{ "model m {\n    vocab = 32000\n    d_model = 765\n    n_layer = 6\n    n_head = 9\n    max_seq = 64\n"
	  "    position = none\n}\n", NULL, "" },
	{ "model m {\n    vocab = 100000000\n    d_model = 2000000000\n    n_layer = 2000000000\n"
	  "    n_head = 1\n    max_seq = 64\n    d_ff = 1000\n    allow ffn-ratio\n    allow aspect-ratio\n    allow vocab-size\n}\n", NULL,
	  "t.tfm:1:7: error: model 'm' has about 3.2e+28 parameters, more than tfmc handles (2^50)" },
	/* errors: extends */
	{ "model b extends a {\n}\n", NULL, "t.tfm:1:17: error: model 'b' extends unknown model 'a'" },
	{ BASE "}\nmodel b extends n {\n}\n", NULL, "t.tfm:8:17: error: model 'b' extends unknown model 'n'" },
	{ "model a extends b {\n}\nmodel b extends a {\n}\n", NULL,
	  "t.tfm:3:17: error: model 'a' extends itself through a cycle\n"
	  "t.tfm:1:17: error: model 'b' extends itself through a cycle" },
	{ "model a extends a {\n}\n", NULL, "t.tfm:1:17: error: model 'a' extends itself through a cycle" },
	{ BASE "}\nmodel m {\n}\n", NULL, "t.tfm:8:7: error: redefinition of model 'm'" },
	{ "model int {\n}\n", NULL,
	  "t.tfm:1:7: error: model name 'int' is a C keyword or a name the generated code defines; "
	  "it prefixes every symbol of the generated C" },
	{ "model tfm_x {\n}\n", NULL,
	  "t.tfm:1:7: error: model name 'tfm_x' starts with 'tfm', the runtime's prefix; "
	  "it prefixes every symbol of the generated C" },
	/* errors: expressions */
	{ BASE "    d_ff = d_ff * 2\n}\n", NULL, "t.tfm:7:12: error: the value of 'd_ff' refers to itself" },
	{ "model m {\n    vocab = 32000\n    d_model = d_ff / 4\n    d_ff = 4 * d_model\n    n_layer = 6\n"
	  "    n_head = 12\n    max_seq = 64\n}\n", NULL, "t.tfm:3:5: error: the value of 'd_model' refers to itself" },
	{ BASE "    d_ff = 8 * d_model / 5\n}\n", NULL,
	  "t.tfm:7:24: error: inexact division: 6144 / 5 leaves a remainder of 4" },
	{ BASE "    d_ff = d_model / (n_head - 12)\n}\n", NULL, "t.tfm:7:20: error: division by zero" },
	{ BASE "    d_ff = 999999999999 * 999999999\n}\n", NULL, "t.tfm:7:25: error: integer overflow in expression" },
	{ BASE "    d_ff = 99999999999999999999\n}\n", NULL, "t.tfm:7:12: error: integer too large (the limit is 18 digits)" },
	{ BASE "    d_ff = 4 * d_modl\n}\n", NULL, "t.tfm:7:16: error: unknown key 'd_modl' in the value of 'd_ff'" },
	{ BASE "    d_ff = 4 * norm_eps\n}\n", NULL,
	  "t.tfm:7:16: error: 'norm_eps' is not an integer key and cannot appear in an integer expression" },
	{ BASE "    norm_eps = 1 / 0\n}\n", NULL, "t.tfm:7:18: error: division by zero" },
	{ BASE "    rope_theta = 1e999\n}\n", NULL, "t.tfm:7:18: error: number out of range" },
	/* errors: syntax */
	{ BASE "    d_ff 1024\n}\n", NULL, "t.tfm:7:10: error: expected '=' after 'd_ff', found '1024'" },
	{ BASE "    d_ff = \n}\n", NULL, "t.tfm:8:1: error: expected a value after '=', found '}'" },
	{ BASE "    d_ff = 2 * (3 + 4\n}\n", NULL, "t.tfm:8:1: error: expected a key or '}' in model 'm', found '}'" },
	{ "model m {\n    vocab = 32000\n", NULL, "t.tfm:3:1: error: expected '}' at end of file to close model 'm'" },
	{ "model {\n}\n", NULL, "t.tfm:1:7: error: expected a model name after 'model', found '{'" },
	{ "model m\n", NULL, "t.tfm:2:1: error: expected '{' after 'm', found end of file" },
	{ "vocab = 3\n", NULL, "t.tfm:1:1: error: expected 'model' or 'include', found 'vocab'" },
	{ "model m extends {\n}\n", NULL, "t.tfm:1:17: error: expected the name of a model after 'extends', found '{'" },
	{ BASE "    d_ff = 1024 @\n}\n", NULL, "t.tfm:7:17: error: stray '@' in spec" },
	{ BASE "    d_ff = 1024 \xc3\xa9\n}\n", NULL, "t.tfm:7:17: error: stray non-ASCII character" },
	{ "include \"abc\n", NULL, "t.tfm:1:9: error: missing terminating '\"' character" },
	{ "include abc\n", NULL, "t.tfm:1:9: error: expected a file name in double quotes after 'include', found 'abc'" },
	{ "include \"\"\n", NULL, "t.tfm:1:9: error: empty file name in include" },
	{ "include \"no/such/file.tfm\"\n", NULL,
	  "t.tfm:1:9: error: cannot read 'no/such/file.tfm': No such file or directory" },
	{ BASE "    allow aspect-ration\n}\n", NULL,
	  "t.tfm:7:11: error: unknown warning 'aspect-ration'; did you mean 'aspect-ratio'?" },
	{ BASE "    allow\n}\n", NULL, "t.tfm:8:1: error: expected a warning name after 'allow', found '}'" },
	{ BASE "    weights w.safetensors\n}\n", NULL,
	  "t.tfm:7:13: error: expected a file name in double quotes after 'weights', found 'w'" },
	{ BASE "    tokenizer = \"t.json\"\n}\n", NULL,
	  "t.tfm:7:15: error: expected a file name in double quotes after 'tokenizer', found '='" },
	{ BASE "    weights \"\"\n}\n", NULL, "t.tfm:7:13: error: empty file name in weights" },
	{ BASE "    tokenizer \"a.json\"\n    tokenizer \"b.json\"\n}\n", NULL,
	  "t.tfm:8:15: error: model 'm' names its tokenizer twice" },
	{ BASE "    weights \"1\" weights \"2\" weights \"3\" weights \"4\" weights \"5\"\n"
	  "    weights \"6\" weights \"7\" weights \"8\" weights \"9\"\n}\n", NULL,
	  "t.tfm:8:49: error: model 'm' names more than 8 weights files" },
	/* warnings */
	{ BASE "    d_ff = 4096\n}\n", NULL,
	  "t.tfm:7:5: warning: d_ff / d_model = 4096 / 768 = 5.33, more than 10% away from 8/3 for swiglu [-Wffn-ratio]" },
	{ BASE "    activation = gelu\n    d_ff = 2048\n}\n", NULL,
	  "t.tfm:8:5: warning: d_ff / d_model = 2048 / 768 = 2.67, more than 10% away from 4 for gelu [-Wffn-ratio]" },
	{ BASE "    activation = gelu\n    d_ff = 3000\n}\n", NULL, "" },
	{ "model m {\n    vocab = 32000\n    d_model = 512\n    n_layer = 4\n    n_head = 8\n    max_seq = 64\n}\n",
	  NULL, "t.tfm:1:7: warning: d_ff / d_model = 1536 / 512 = 3.00, more than 10% away from 8/3 for swiglu [-Wffn-ratio]" },
	{ BASE "    head_dim = 32\n}\n", NULL,
	  "t.tfm:7:5: warning: n_head * head_dim = 12 * 32 = 384 differs from d_model (768) [-Whead-dim]" },
	{ "model m {\n    vocab = 32000\n    d_model = 768\n    n_layer = 24\n    n_head = 12\n    max_seq = 64\n}\n",
	  NULL, "t.tfm:4:5: warning: d_model / n_layer = 768 / 24 = 32.0 is outside 100-200 [-Waspect-ratio]" },
	{ "model m {\n    vocab = 64000\n    d_model = 768\n    n_layer = 6\n    n_head = 12\n    max_seq = 64\n}\n",
	  NULL, "t.tfm:2:5: warning: vocab (64000) is in neither 30k-50k (monolingual) nor 100k-250k (multilingual) [-Wvocab-size]" },
	{ "model m {\n    vocab = 128000\n    d_model = 768\n    n_layer = 6\n    n_head = 12\n    max_seq = 64\n}\n",
	  NULL, "" },
	{ BASE "    dropout = 0.5\n}\n", NULL, "t.tfm:7:5: warning: dropout (0.5) is outside 0.1-0.3 [-Wdropout]" },
	{ BASE "    dropout = 0.05\n}\n", NULL, "t.tfm:7:5: warning: dropout (0.05) is outside 0.1-0.3 [-Wdropout]" },
	{ BASE "    weight_decay = 0.5\n}\n", NULL,
	  "t.tfm:7:5: warning: weight_decay (0.5) is outside 0.01-0.1 [-Wweight-decay]" },
	{ BASE "    weight_decay = 0\n}\n", NULL, "t.tfm:7:5: warning: weight_decay (0) is outside 0.01-0.1 [-Wweight-decay]" },
	/* the style group: off by default, on with -Wall or by name */
	{ BASE "    norm_place = post\n}\n", NULL, "" },
	{ BASE "    norm_place = post\n}\n", "-Wall",
	  "t.tfm:7:5: warning: post-norm: the norm sits after the residual sum [-Wpost-norm]" },
	{ BASE "    norm = layernorm\n}\n", "-Wlayernorm",
	  "t.tfm:7:5: warning: LayerNorm where RMSNorm would do [-Wlayernorm]" },
	{ BASE "    block = parallel\n}\n", "-Wall",
	  "t.tfm:7:5: warning: parallel attention and feed-forward branches [-Wparallel]" },
	{ BASE "    activation = relu\n    d_ff = 3072\n}\n", "-Wall",
	  "t.tfm:7:5: warning: relu is not a gated linear unit [-Wnon-glu]" },
	/* silencing and promoting */
	{ BASE "    d_ff = 4096\n    allow ffn-ratio\n}\n", NULL, "" },
	{ BASE "    d_ff = 4096\n}\n", "-Wno-ffn-ratio", "" },
	{ BASE "    norm_place = post\n}\n", "-Wall -Wno-post-norm", "" },
	{ BASE "    d_ff = 4096\n}\n", "-Werror",
	  "t.tfm:7:5: error: d_ff / d_model = 4096 / 768 = 5.33, more than 10% away from 8/3 for swiglu [-Werror=ffn-ratio]" },
	{ BASE "    d_ff = 4096\n    allow ffn-ratio\n}\nmodel c extends m {\n    d_ff = 8192\n}\n", NULL, "" },
	{ BASE "    d_ff = 4096\n}\nmodel c extends m {\n    allow ffn-ratio\n}\n", NULL,
	  "t.tfm:7:5: warning: d_ff / d_model = 4096 / 768 = 5.33, more than 10% away from 8/3 for swiglu [-Wffn-ratio]" },
};

static void test_cases(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *got = diagnose(cases[i].text, cases[i].flags);
		if (strcmp(got, cases[i].expect) != 0)
			printf("\ncase %zu:\n  expected: %s\n  got:      %s\n", i, cases[i].expect, got);
		CU_ASSERT_STRING_EQUAL(got, cases[i].expect);
		free(got);
	}
}

/* Every warning of warnings.h has a case above that triggers it. */
static void test_every_warning_tested(void)
{
	for (int w = 0; w < WARNING__COUNT; w++) {
		char needle[64];
		int found = 0;
		snprintf(needle, sizeof needle, "[-W%s]", warning_info[w].name);
		for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
			found |= strstr(cases[i].expect, needle) != NULL;
		if (!found)
			printf("\nno case triggers -W%s\n", warning_info[w].name);
		CU_ASSERT(found);
	}
}

static int resolve_text(const char *text, const char *name, Model *out)
{
	Diags d;
	Front fe;
	Resolved r;
	int rc;

	diag_init(&d);
	front_init(&fe, &d);
	front_load_text(&fe, "t.tfm", text, strlen(text));
	rc = d.n_errors ? -1 : check_select(&fe, "t.tfm", name, &r);
	if (rc == 0)
		*out = r.m;
	front_free(&fe);
	diag_free(&d);
	return rc;
}

/* The example of the issue, exactly as written, and late binding. */
static void test_resolve(void)
{
	Model m;
	Diags d;
	Front fe;

	diag_init(&d);
	front_init(&fe, &d);
	CU_ASSERT_EQUAL(front_load(&fe, "specs/llama_small.tfm", (Loc){ 0 }), 0);
	CU_ASSERT_EQUAL(d.n_errors, 0);
	Resolved r;
	CU_ASSERT_EQUAL(check_select(&fe, "specs/llama_small.tfm", "llama_small_gqa", &r), 0);
	CU_ASSERT_EQUAL(r.m.n_kv_head, 2);
	CU_ASSERT_EQUAL(r.m.d_ff, 768);
	CU_ASSERT_EQUAL(r.m.n_head, 6);
	CU_ASSERT_EQUAL(r.m.head_dim, 48);
	CU_ASSERT_EQUAL(r.m.tie_embeddings, 1);
	CU_ASSERT_DOUBLE_EQUAL(r.m.norm_eps, 1e-5, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(r.m.rope_theta, 10000.0, 0);
	front_free(&fe);
	diag_free(&d);

	/* Expressions bind late: b's d_ff follows b's d_model. */
	CU_ASSERT_EQUAL(resolve_text("model a { vocab = 32000 d_model = 512 n_layer = 4 n_head = 8 max_seq = 64"
	                             " d_ff = 4 * d_model activation = gelu }\n"
	                             "model b extends a { d_model = 768 n_layer = 6 }", "b", &m), 0);
	CU_ASSERT_EQUAL(m.d_ff, 3072);
	CU_ASSERT_EQUAL(m.activation, ACT_GELU);
	/* Defaults: GLU d_ff = ffn_multiple_of * ceil(8 d_model / (3 ffn_multiple_of)). */
	CU_ASSERT_EQUAL(resolve_text("model a { vocab = 32000 d_model = 4096 n_layer = 32 n_head = 32 max_seq = 64 }",
	                             NULL, &m), 0);
	CU_ASSERT_EQUAL(m.d_ff, 11008);
	CU_ASSERT_EQUAL(m.n_kv_head, 32);
	CU_ASSERT_EQUAL(m.head_dim, 128);
	CU_ASSERT_EQUAL(m.norm, NORM_RMSNORM);
	CU_ASSERT_EQUAL(m.position, POS_ROPE);
	CU_ASSERT_DOUBLE_EQUAL(m.weight_decay, 0.1, 0);
	CU_ASSERT_EQUAL(resolve_text("model a { vocab = 32000 d_model = 768 n_layer = 6 n_head = 12 max_seq = 64"
	                             " activation = relu allow ffn-ratio }", NULL, &m), 0);
	CU_ASSERT_EQUAL(m.d_ff, 3072);
	/* Precedence and parentheses; unary minus. */
	CU_ASSERT_EQUAL(resolve_text("model a { vocab = 32000 d_model = 768 n_layer = 6 n_head = 12 max_seq = 64"
	                             " d_ff = (2 + 2) * d_model - -0 * 5 - 3 * 4 / 6 + 2 allow ffn-ratio }",
	                             NULL, &m), 0);
	CU_ASSERT_EQUAL(m.d_ff, 3072);
}

/* qkv_bias defaults to the resolved bias, through extends; set, it alone
 * decides the q, k and v biases, and bias the others (section 3). */
static void test_qkv_bias(void)
{
#define QKV_BASE "model a { vocab = 32000 d_model = 768 n_layer = 6 n_head = 12 max_seq = 64"
	static const struct { const char *text, *model; int bias, qkv_bias; } cases[] = {
		{ QKV_BASE " }", NULL, 0, 0 },
		{ QKV_BASE " bias = true }", NULL, 1, 1 },
		{ QKV_BASE " qkv_bias = true }", NULL, 0, 1 },	/* Qwen2 */
		{ QKV_BASE " bias = true qkv_bias = false }", NULL, 1, 0 },
		/* the default follows the parent's bias, and a child's own */
		{ QKV_BASE " bias = true }\nmodel b extends a { }", "b", 1, 1 },
		{ QKV_BASE " bias = true }\nmodel b extends a { bias = false }", "b", 0, 0 },
		{ QKV_BASE " }\nmodel b extends a { bias = true }", "b", 1, 1 },
		/* an explicit qkv_bias is inherited as it stands */
		{ QKV_BASE " qkv_bias = true }\nmodel b extends a { bias = false }", "b", 0, 1 },
		{ QKV_BASE " qkv_bias = false }\nmodel b extends a { bias = true }", "b", 1, 0 },
		{ QKV_BASE " bias = true }\nmodel b extends a { qkv_bias = false }", "b", 1, 0 },
	};
	static const int qkv[] = { T_BQ, T_BK, T_BV }, others[] = { T_BO, T_B_GATE, T_B_UP, T_B_DOWN };
	Model m;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		CU_ASSERT_EQUAL_FATAL(resolve_text(cases[i].text, cases[i].model, &m), 0);
		if (m.bias != cases[i].bias || m.qkv_bias != cases[i].qkv_bias)
			printf("\ncase %zu: bias %d qkv_bias %d, expected %d %d", i, m.bias, m.qkv_bias,
			       cases[i].bias, cases[i].qkv_bias);
		CU_ASSERT_EQUAL(m.bias, cases[i].bias);
		CU_ASSERT_EQUAL(m.qkv_bias, cases[i].qkv_bias);
		for (int j = 0; j < 3; j++)
			CU_ASSERT_EQUAL(model_tensor_index(&m, qkv[j], 5) >= 0, cases[i].qkv_bias);
		for (int j = 0; j < 4; j++)
			CU_ASSERT_EQUAL(model_tensor_index(&m, others[j], 5) >= 0, cases[i].bias);
	}
#undef QKV_BASE
}

/* weights and tokenizer: relative to the spec's directory, in order, and
 * inherited from the nearest model of the chain that names them. */
static void test_files(void)
{
	static const char text[] =
		"model a { vocab = 32000 d_model = 768 n_layer = 6 n_head = 12 max_seq = 64\n"
		"    weights \"converted.safetensors\"\n    weights \"/abs/hf\"\n"
		"    tokenizer \"hf/tokenizer.json\" }\n"
		"model b extends a { }\n"
		"model c extends a { weights \"own.bin\" }\n";
	Diags d;
	Front fe;
	Resolved r;

	diag_init(&d);
	front_init(&fe, &d);
	front_load_text(&fe, "some/dir/t.tfm", text, strlen(text));
	CU_ASSERT_EQUAL_FATAL(d.n_errors, 0);
	CU_ASSERT_EQUAL_FATAL(check_select(&fe, "some/dir/t.tfm", "b", &r), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r.weights);
	ASSERT_MSG(r.weights->path, "some/dir/converted.safetensors");
	CU_ASSERT_PTR_NOT_NULL_FATAL(r.weights->next);
	ASSERT_MSG(r.weights->next->path, "/abs/hf");
	CU_ASSERT_PTR_NULL(r.weights->next->next);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r.tokenizer);
	ASSERT_MSG(r.tokenizer->path, "some/dir/hf/tokenizer.json");
	CU_ASSERT_EQUAL_FATAL(check_select(&fe, "some/dir/t.tfm", "c", &r), 0);
	ASSERT_MSG(r.weights->path, "some/dir/own.bin");
	CU_ASSERT_PTR_NULL(r.weights->next);
	ASSERT_MSG(r.tokenizer->path, "some/dir/hf/tokenizer.json");
	front_free(&fe);
	diag_free(&d);
}

/* include is relative to the including file; cycles are errors. */
static void test_include(void)
{
	char dir[] = "/tmp/tfmc-test-XXXXXX", path[256];
	FILE *f;
	Diags d;
	Front fe;
	Resolved r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/sub", dir);
	mkdir(path, 0777);
	snprintf(path, sizeof path, "%s/sub/base.tfm", dir);
	f = fopen(path, "w");
	fputs("model base { vocab = 32000 d_model = 768 n_layer = 6 n_head = 12 max_seq = 64 }\n", f);
	fclose(f);
	snprintf(path, sizeof path, "%s/main.tfm", dir);
	f = fopen(path, "w");
	fputs("include \"sub/base.tfm\"\ninclude \"sub/base.tfm\"\nmodel top extends base { n_kv_head = 4 }\n", f);
	fclose(f);
	diag_init(&d);
	front_init(&fe, &d);
	CU_ASSERT_EQUAL(front_load(&fe, path, (Loc){ 0 }), 0);
	CU_ASSERT_EQUAL(d.n_errors, 0);
	CU_ASSERT_EQUAL(check_select(&fe, path, NULL, &r), 0);
	CU_ASSERT_STRING_EQUAL(r.m.name, "top");
	CU_ASSERT_EQUAL(r.m.n_kv_head, 4);
	CU_ASSERT_EQUAL(r.m.d_model, 768);
	front_free(&fe);
	diag_free(&d);

	/* a.tfm includes b.tfm includes a.tfm */
	snprintf(path, sizeof path, "%s/a.tfm", dir);
	f = fopen(path, "w");
	fputs("include \"b.tfm\"\n", f);
	fclose(f);
	snprintf(path, sizeof path, "%s/b.tfm", dir);
	f = fopen(path, "w");
	fputs("\n  include \"a.tfm\"\n", f);
	fclose(f);
	snprintf(path, sizeof path, "%s/a.tfm", dir);
	diag_init(&d);
	front_init(&fe, &d);
	front_load(&fe, path, (Loc){ 0 });
	CU_ASSERT_EQUAL(d.n_errors, 1);
	if (d.head) {
		char line[512], want[512];
		diag_format_line(d.head, line, sizeof line);
		snprintf(want, sizeof want, "%s/b.tfm:2:11: error: '%s/a.tfm' includes itself", dir, dir);
		CU_ASSERT_STRING_EQUAL(line, want);
	}
	front_free(&fe);
	diag_free(&d);
	/* A directory is not a spec. */
	diag_init(&d);
	front_init(&fe, &d);
	CU_ASSERT_EQUAL(front_load(&fe, dir, (Loc){ 0 }), -1);
	CU_ASSERT_PTR_NOT_NULL(d.head && strstr(d.head->msg, "Is a directory") ? d.head : NULL);
	front_free(&fe);
	diag_free(&d);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	CU_ASSERT_EQUAL(system(cmd), 0);
}

/* Malformed input of every kind gets a diagnostic, not a crash or a hang. */
static void test_hostile_input(void)
{
	size_t n = 10u << 20;
	char *big = malloc(n + 64);
	Diags d;

	/* a 10 MB line of one name */
	memcpy(big, "model m { vocab = ", 18);
	memset(big + 18, 'a', n - 18);
	big[n] = 0;
	char *s = diagnose_in(&d, big, NULL);
	CU_ASSERT_EQUAL(d.n_errors, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "t.tfm:1:"));
	free(s);
	diag_free(&d);
	/* deep nesting */
	strcpy(big, "model m { vocab = ");
	memset(big + 18, '(', 100000);
	strcpy(big + 100018, "1");
	s = diagnose_in(&d, big, NULL);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "error: expression nested too deeply"));
	free(s);
	diag_free(&d);
	/* binary garbage, NUL bytes included */
	unsigned x = 12345;
	for (size_t i = 0; i < 4096; i++) {
		x = x * 1103515245 + 12345;
		big[i] = (char)(x >> 16);
	}
	Front fe;
	diag_init(&d);
	front_init(&fe, &d);
	front_load_text(&fe, "t.tfm", big, 4096);
	CU_ASSERT(d.n_errors >= 1);
	front_free(&fe);
	diag_free(&d);
	/* many errors: the list is capped, the count is not */
	big[0] = 0;
	strcat(big, "model m {");
	for (int i = 0; i < 500; i++)
		strcat(big, " zz = 1");
	strcat(big, " }");
	s = diagnose_in(&d, big, NULL);
	CU_ASSERT_EQUAL(d.n_errors, 500);
	CU_ASSERT_EQUAL(d.n_dropped, 500 - DIAG_MAX);
	free(s);
	diag_free(&d);
	free(big);
}

static void test_json(void)
{
	Diags d;
	char *buf = diagnose_print(&d, BASE "    d_ff = 4096\n}\n", NULL, diag_print_json);
	cJSON *j = cJSON_Parse(buf);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(j), 1);
	cJSON *o = cJSON_GetArrayItem(j, 0);
	CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(o, "file")->valuestring, "t.tfm");
	CU_ASSERT_EQUAL(cJSON_GetObjectItem(o, "line")->valueint, 7);
	CU_ASSERT_EQUAL(cJSON_GetObjectItem(o, "column")->valueint, 5);
	CU_ASSERT_EQUAL(cJSON_GetObjectItem(o, "end_column")->valueint, 9);
	CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(o, "severity")->valuestring, "warning");
	CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(o, "option")->valuestring, "ffn-ratio");
	CU_ASSERT(cJSON_GetArraySize(cJSON_GetObjectItem(o, "notes")) >= 1);
	cJSON_Delete(j);
	free(buf);
	diag_free(&d);
}

static void print_plain(const Diags *d, FILE *f)
{
	diag_print_text(d, f, 0);
}

/* The text layout: source line, caret under the token. */
static void test_text_layout(void)
{
	Diags d;
	char *buf = diagnose_print(&d, BASE "    d_ff = 4096\n}\n", NULL, print_plain);
	const char *want =
		"t.tfm:7:5: warning: d_ff / d_model = 4096 / 768 = 5.33, more than 10% away from 8/3 for swiglu [-Wffn-ratio]\n"
		"     7 |     d_ff = 4096\n"
		"       |     ^~~~\n";
	CU_ASSERT_NSTRING_EQUAL(buf, want, strlen(want));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "1 warning generated.\n"));
	CU_ASSERT_PTR_NULL(strchr(buf, '\033'));
	free(buf);
	diag_free(&d);
}

/* Shipped specs: their parameter counts against the published figures, and
 * the tensor list summing to the count. */
static void test_shipped_specs(void)
{
	static const struct { const char *file, *model; long long params; } specs[] = {
		{ "specs/llama_small.tfm", "llama_small", 15191712LL },	/* stories15M */
		{ "specs/gpt2_small.tfm", "gpt2_small", 124439808LL },	/* GPT-2 small, tied */
		{ "specs/gemma2_2b.tfm", "gemma2_2b", 2614341888LL },	/* Gemma 2 2B */
		{ "specs/falcon_7b.tfm", "falcon_7b", 6921720704LL },	/* Falcon 7B: MQA, parallel */
		{ "specs/qwen3_0_6b.tfm", "qwen3_0_6b", 596049920LL },	/* Qwen3 0.6B: qk_norm */
		{ "specs/palm_8b.tfm", "palm_8b", 8632012800LL },	/* PaLM 8B: 8.63B in the paper */
		/* No published decoder-only figure; counted by hand:
		 * 37000*512 + 6*(4*(512*512+512) + 2*512*2048 + 2048 + 512 + 4*512) */
		{ "specs/transformer_base.tfm", "transformer_base", 37000LL * 512 +
		  6 * (4 * (512 * 512 + 512) + 2 * 512 * 2048 + 2048 + 512 + 4 * 512) },
	};
	for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
		Diags d;
		Front fe;
		Resolved r;
		Cost c;

		diag_init(&d);
		front_init(&fe, &d);
		CU_ASSERT_EQUAL(front_load(&fe, specs[i].file, (Loc){ 0 }), 0);
		CU_ASSERT_EQUAL(check_all(&fe), 0);
		CU_ASSERT_EQUAL(d.n_warnings + d.n_errors, 0);	/* shipped specs are quiet */
		if (check_select(&fe, specs[i].file, specs[i].model, &r) == 0) {
			int n = model_tensors(&r.m, NULL, 0);
			Tensor *t = malloc(sizeof *t * n);
			long long sum = 0;
			model_tensors(&r.m, t, n);
			for (int j = 0; j < n; j++)
				sum += t[j].shape[0] * (t[j].ndim == 2 ? t[j].shape[1] : 1);
			model_cost(&r.m, &c);
			if (c.params != specs[i].params)
				printf("\n%s: %lld parameters, expected %lld\n", specs[i].model, c.params,
				       specs[i].params);
			CU_ASSERT_EQUAL(c.params, specs[i].params);
			CU_ASSERT_EQUAL(sum, c.params);
			for (int j = 0; j < n; j++)
				CU_ASSERT_EQUAL(model_tensor_index(&r.m, t[j].role, t[j].layer), j);
			free(t);
		} else {
			CU_FAIL("shipped spec does not resolve");
		}
		front_free(&fe);
		diag_free(&d);
	}
}

/* The README documents every key and every warning of the tables (a row
 * of its key table and of its warning table each). */
static void test_readme_tables(void)
{
	FILE *f = fopen("README.md", "r");
	static char text[1 << 20];
	size_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	n = fread(text, 1, sizeof text - 1, f);
	text[n] = 0;
	fclose(f);
	for (int k = 0; k < KEY__COUNT; k++) {
		char row[64];
		snprintf(row, sizeof row, "| `%s` |", key_info[k].name);
		if (!strstr(text, row))
			printf("\nREADME.md has no row for key %s", key_info[k].name);
		CU_ASSERT_PTR_NOT_NULL(strstr(text, row));
	}
	for (int w = 0; w < WARNING__COUNT; w++) {
		char row[64];
		snprintf(row, sizeof row, "| `%s` |", warning_info[w].name);
		if (!strstr(text, row))
			printf("\nREADME.md has no row for warning %s", warning_info[w].name);
		CU_ASSERT_PTR_NOT_NULL(strstr(text, row));
	}
}

/* The command line: exit statuses and the commands' output. */
static int run(const char *cmd)
{
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_cli(void)
{
	CU_ASSERT_EQUAL(run("./tfmc check specs/*.tfm >/dev/null 2>&1"), 0);
	CU_ASSERT_EQUAL(run("./tfmc --help >/dev/null"), 0);
	CU_ASSERT_EQUAL(run("./tfmc --version >/dev/null"), 0);
	CU_ASSERT_EQUAL(run("./tfmc >/dev/null 2>&1"), 2);
	CU_ASSERT_EQUAL(run("./tfmc check >/dev/null 2>&1"), 2);
	CU_ASSERT_EQUAL(run("./tfmc frobnicate x >/dev/null 2>&1"), 2);
	CU_ASSERT_EQUAL(run("./tfmc check --bogus x >/dev/null 2>&1"), 2);
	CU_ASSERT_EQUAL(run("./tfmc check -Wno-such specs/llama_small.tfm >/dev/null 2>&1"), 2);
	CU_ASSERT_EQUAL(run("./tfmc check no/such.tfm >/dev/null 2>&1"), 2);
	CU_ASSERT_EQUAL(run("./tfmc check /dev/null >/dev/null 2>&1"), 0);
	CU_ASSERT_EQUAL(run("printf 'model m { vocab = 1 }' > /tmp/tfmc-cli.tfm && "
	                    "./tfmc check /tmp/tfmc-cli.tfm >/dev/null 2>&1"), 1);
	CU_ASSERT_EQUAL(run("./tfmc check --diagnostics-format=json /tmp/tfmc-cli.tfm 2>&1 | "
	                    "grep -q '\"severity\":' "), 0);
	CU_ASSERT_EQUAL(run("printf 'model m { vocab = 32000 d_model = 768 n_layer = 6 n_head = 12 max_seq = 64"
	                    " d_ff = 4096 }' > /tmp/tfmc-cli.tfm && ./tfmc check /tmp/tfmc-cli.tfm 2>/dev/null"), 0);
	CU_ASSERT_EQUAL(run("./tfmc check -Werror /tmp/tfmc-cli.tfm 2>/dev/null"), 1);
	CU_ASSERT_EQUAL(run("./tfmc check -Werror -Wno-ffn-ratio /tmp/tfmc-cli.tfm 2>/dev/null"), 0);
	CU_ASSERT_EQUAL(run("./tfmc explain ffn-ratio | grep -q T5"), 0);
	CU_ASSERT_EQUAL(run("./tfmc explain d_ff | grep -q 'ffn_multiple_of'"), 0);
	CU_ASSERT_EQUAL(run("./tfmc explain nothing >/dev/null 2>&1"), 2);
	CU_ASSERT_EQUAL(run("./tfmc explain qkv_bias | grep -q '^default: bias$'"), 0);
	CU_ASSERT_EQUAL(run("./tfmc show specs/gpt2_small.tfm | grep -q '124,439,808'"), 0);
	CU_ASSERT_EQUAL(run("./tfmc show --model llama_small_gqa specs/llama_small.tfm | grep -q 'n_kv_head *= 2'"), 0);
	CU_ASSERT_EQUAL(run("./tfmc show --model nope specs/llama_small.tfm >/dev/null 2>&1"), 1);
	CU_ASSERT_EQUAL(run("./tfmc show specs/gpt2_small.tfm | grep -q 'qkv_bias *= true    # default: bias'"), 0);
	remove("/tmp/tfmc-cli.tfm");
}

int add_front_suites(void)
{
	CU_pSuite s = CU_add_suite("front", NULL, NULL);
	if (!s ||
	    !CU_add_test(s, "diagnostics of every rule, at line:col", test_cases) ||
	    !CU_add_test(s, "every warning has a case", test_every_warning_tested) ||
	    !CU_add_test(s, "resolution: defaults, extends, expressions", test_resolve) ||
	    !CU_add_test(s, "qkv_bias: default, extends, tensors", test_qkv_bias) ||
	    !CU_add_test(s, "weights and tokenizer: paths and inheritance", test_files) ||
	    !CU_add_test(s, "include", test_include) ||
	    !CU_add_test(s, "hostile input", test_hostile_input) ||
	    !CU_add_test(s, "JSON diagnostics", test_json) ||
	    !CU_add_test(s, "text layout", test_text_layout) ||
	    !CU_add_test(s, "shipped specs and parameter counts", test_shipped_specs) ||
	    !CU_add_test(s, "README documents every key and warning", test_readme_tables) ||
	    !CU_add_test(s, "command line", test_cli))
		return -1;
	return 0;
}
