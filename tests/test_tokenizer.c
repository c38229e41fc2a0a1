/* test_tokenizer.c: CUnit suites for the tokenizers (runtime/text/).
 *
 *   text/files    the ids and texts of Hugging Face's `tokenizers` for the
 *                 real tokenizer files of tests/tokenizers/ and the tiny
 *                 hand-written ones (tests/tokenizers/make_goldens.js wrote
 *                 them); llama2.c's tokenizer.bin against a port of run.c,
 *                 where run.c's algorithm parts from Hugging Face's, and
 *                 examples/fortune's SentencePiece ids; model folders
 *                 (tokenizer_config.json, config.json,
 *                 generation_config.json) and EOS without them; raw
 *                 decoding; a long text
 *   text/behave   single behaviours by hand: added-token options, a
 *                 decoder Hugging Face cannot be asked about, NFC's shortcut
 *   text/errors   a bad-input case for every error path
 *
 * The real tokenizer files are xz-compressed in the tree; the suites unpack
 * them into a mkdtemp directory with xz(1).
 */
#include <CUnit/CUnit.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utf8proc.h>

#include "tfm.h"
#include "tok_internal.h"
#include "testutil.h"

#define TK_SRC "tests/tokenizers"

static char tk_dir[TEST_DIR_MAX];

static const char *const tk_real[] = { "gpt2", "llama2", "llama3", "qwen3", "gemma" };
static const char *const tk_tiny[] = {
	"bl_template", "bl_splits", "bl_invert", "sp_metaspace_first", "sp_always_nosplit",
	"sp_unk", "wp_affixes",
};
#define TK_N(a) (sizeof(a) / sizeof((a)[0]))

/* An integer and what it should be, both shown when they differ. */
#define TK_EQ(got, want) do { \
	long g_ = (long)(got), w_ = (long)(want); \
	if (g_ != w_) \
		fprintf(stderr, "\n    %s: got %ld, want %ld\n", #got, g_, w_); \
	CU_ASSERT_EQUAL(g_, w_); \
} while (0)

/* ---- Files ---------------------------------------------------------------- */

static char *tk_read(const char *path, size_t *len)
{
	char *data = NULL;
	int missing;

	if (tok_read_file(path, &data, len, &missing, NULL) != 0)
		return NULL;
	return data;
}

static int tk_write(const char *path, const void *data, size_t len)
{
	FILE *fp = fopen(path, "wb");
	int ok;

	if (fp == NULL)
		return -1;
	ok = fwrite(data, 1, len, fp) == len;
	return fclose(fp) == 0 && ok ? 0 : -1;
}

static int tk_write_str(const char *path, const char *s)
{
	return tk_write(path, s, strlen(s));
}

/* xz -dc src > dst */
static int tk_unxz(const char *src, const char *dst)
{
	char cmd[4 * TEST_DIR_MAX];

	snprintf(cmd, sizeof cmd, "xz -dc '%s' > '%s'", src, dst);
	return system(cmd) == 0 ? 0 : -1;
}

/* Unpacks each real tokenizer into tk_dir/NAME/ (with its
 * tokenizer_config.json) and llama2.c's into tk_dir/llama2c/. */
static int tk_setup(void)
{
	char from[512], to[TEST_DIR_MAX + 128], dir[TEST_DIR_MAX + 64];
	size_t i, len;
	char *cfg;

	if (test_dir_open(tk_dir, "tok") != 0)
		return -1;
	for (i = 0; i < TK_N(tk_real); i++) {
		snprintf(dir, sizeof dir, "%s/%s", tk_dir, tk_real[i]);
		snprintf(from, sizeof from, TK_SRC "/%s/tokenizer.json.xz", tk_real[i]);
		snprintf(to, sizeof to, "%s/tokenizer.json", dir);
		if (mkdir(dir, 0700) != 0 || tk_unxz(from, to) != 0)
			return -1;
		snprintf(from, sizeof from, TK_SRC "/%s/tokenizer_config.json", tk_real[i]);
		if ((cfg = tk_read(from, &len)) != NULL) {
			snprintf(to, sizeof to, "%s/tokenizer_config.json", dir);
			if (tk_write(to, cfg, len) != 0) {
				free(cfg);
				return -1;
			}
			free(cfg);
		}
	}
	snprintf(dir, sizeof dir, "%s/llama2c", tk_dir);
	snprintf(to, sizeof to, "%s/tokenizer.bin", dir);
	if (mkdir(dir, 0700) != 0 || tk_unxz(TK_SRC "/llama2c/tokenizer.bin.xz", to) != 0)
		return -1;
	return 0;
}

/* Removes tk_dir and its subfolders (test_dir_close removes one level). */
static int tk_teardown(void)
{
	char sub[TEST_DIR_MAX + 64];
	size_t i;

	if (tk_dir[0] == '\0')
		return 0;
	for (i = 0; i < TK_N(tk_real) + 2; i++) {
		const char *name = i < TK_N(tk_real) ? tk_real[i] : i == TK_N(tk_real) ? "llama2c" : "folder";
		snprintf(sub, sizeof sub, "%s/%s", tk_dir, name);
		test_dir_close(sub);
	}
	return test_dir_close(tk_dir);
}

static const char *tk_real_path(const char *name, const char *file)
{
	static char buf[4][TEST_DIR_MAX + 128];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof buf[k], "%s/%s%s%s", tk_dir, name, file ? "/" : "", file ? file : "");
	return buf[k];
}

static tfm_tokenizer *tk_open(const char *path)
{
	tfm_tokenizer *t = NULL;
	tfm_error e;

	if (tfm_tokenizer_open(&t, path, &e) != 0) {
		fprintf(stderr, "\n    cannot open %s: %s\n", path, e.msg);
		return NULL;
	}
	return t;
}

/* ---- Golden files ----------------------------------------------------------- */

/* A string field, or its _hex twin: malloc'ed, its length in *len; NULL
 * when the line has neither. */
static char *tk_field(const cJSON *o, const char *key, size_t *len)
{
	char hex[64];
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key), *h;
	char *s;
	size_t i, n;

	if (cJSON_IsString(x)) {
		*len = strlen(x->valuestring);
		s = malloc(*len + 1);
		memcpy(s, x->valuestring, *len + 1);
		return s;
	}
	snprintf(hex, sizeof hex, "%s_hex", key);
	h = cJSON_GetObjectItemCaseSensitive(o, hex);
	if (!cJSON_IsString(h))
		return NULL;
	n = strlen(h->valuestring) / 2;
	s = malloc(n + 1);
	for (i = 0; i < n; i++) {
		unsigned v;
		sscanf(h->valuestring + 2 * i, "%2x", &v);
		s[i] = (char)v;
	}
	s[n] = '\0';
	*len = n;
	return s;
}

/* The ids of an array field into *ids (malloc'ed). */
static size_t tk_ids(const cJSON *o, const char *key, int **ids)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key), *x;
	size_t n = 0;

	*ids = malloc(((size_t)cJSON_GetArraySize(a) + 1) * sizeof **ids);
	for (x = a != NULL ? a->child : NULL; x != NULL; x = x->next)
		(*ids)[n++] = (int)x->valuedouble;
	return n;
}

static int tk_same_ids(const int *a, size_t na, const int *b, size_t nb)
{
	return na == nb && (na == 0 || memcmp(a, b, na * sizeof *a) == 0);
}

static void tk_print_ids(const char *label, const int *ids, size_t n)
{
	size_t i;

	fprintf(stderr, "      %s [", label);
	for (i = 0; i < n && i < 60; i++)
		fprintf(stderr, "%s%d", i ? "," : "", ids[i]);
	fprintf(stderr, "%s] (%zu)\n", n > 60 ? ",..." : "", n);
}

/* The text, JSON-escaped, cut at 120 bytes. */
static void tk_print_text(const char *label, const char *s, size_t len)
{
	char buf[128];
	cJSON *j;
	char *p;

	snprintf(buf, sizeof buf, "%.*s", (int)(len < 120 ? len : 120), s);
	j = cJSON_CreateString(buf);
	p = cJSON_PrintUnformatted(j);
	fprintf(stderr, "      %s %s%s\n", label, p, len > 120 ? "..." : "");
	free(p);
	cJSON_Delete(j);
}

typedef struct tk_tally {
	int lines, bad, shown;
	const char *name;
} tk_tally;

static void tk_bad(tk_tally *y, const char *what, const char *text, size_t tlen)
{
	y->bad++;
	if (y->shown++ < 6) {
		fprintf(stderr, "\n    %s: line %d: %s differs\n", y->name, y->lines, what);
		if (text != NULL)
			tk_print_text("text:", text, tlen);
	}
}

static void tk_check_ids(tk_tally *y, const char *what, const char *text, size_t tlen,
                         const int *got, size_t ng, const int *want, size_t nw)
{
	if (tk_same_ids(got, ng, want, nw))
		return;
	tk_bad(y, what, text, tlen);
	if (y->shown <= 6) {
		tk_print_ids("got: ", got, ng);
		tk_print_ids("want:", want, nw);
	}
}

static void tk_check_decode(tk_tally *y, tfm_tokenizer *t, const char *what, const int *ids,
                            size_t n, int flags, const cJSON *o, const char *key)
{
	size_t wl = 0, gl = 0;
	char *want = tk_field(o, key, &wl), *got = NULL;
	tfm_error e;

	if (want == NULL)
		return;
	if (tfm_tokenizer_decode(t, ids, n, flags, &got, &gl, &e) != 0) {
		tk_bad(y, what, NULL, 0);
		if (y->shown <= 6)
			fprintf(stderr, "      error: %s\n", e.msg);
	} else if (gl != wl || memcmp(got, want, wl) != 0) {
		tk_bad(y, what, NULL, 0);
		if (y->shown <= 6) {
			tk_print_ids("ids: ", ids, n);
			tk_print_text("got: ", got, gl);
			tk_print_text("want:", want, wl);
		}
	}
	free(got);
	free(want);
}

/* Every line of golden against the tokenizer at path; the counts in *y. */
static void tk_golden(const char *path, const char *golden, const char *name, tk_tally *y)
{
	size_t len, tl, ng, nw, ns;
	char *data = tk_read(golden, &len), *line, *next, *text;
	int *got, *want, *wsp, *dids;
	tfm_tokenizer *t = tk_open(path);
	tfm_error e;
	cJSON *o;

	memset(y, 0, sizeof *y);
	y->name = name;
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	for (line = data; *line != '\0'; line = next) {
		next = strchr(line, '\n');
		next = next != NULL ? (*next = '\0', next + 1) : line + strlen(line);
		if (*line == '\0' || (o = cJSON_Parse(line)) == NULL)
			continue;
		y->lines++;
		if ((text = tk_field(o, "text", &tl)) != NULL) {
			nw = tk_ids(o, "ids", &want);
			ns = tk_ids(o, "ids_special", &wsp);
			if (tfm_tokenizer_encode(t, text, tl, 0, &got, &ng, &e) != 0) {
				tk_bad(y, "encode", text, tl);
				fprintf(stderr, "      error: %s\n", e.msg);
			} else {
				tk_check_ids(y, "ids", text, tl, got, ng, want, nw);
				tk_check_decode(y, t, "decode_plain", got, ng, 0, o, "decode_plain");
				free(got);
			}
			if (tfm_tokenizer_encode(t, text, tl, 1, &got, &ng, &e) != 0) {
				tk_bad(y, "encode with add_special", text, tl);
			} else {
				tk_check_ids(y, "ids_special", text, tl, got, ng, wsp, ns);
				free(got);
			}
			tk_check_decode(y, t, "decode", wsp, ns, 0, o, "decode");
			tk_check_decode(y, t, "decode_skip", wsp, ns, TFM_DECODE_SKIP_SPECIAL, o,
			                "decode_skip");
			free(want);
			free(wsp);
			free(text);
		} else {
			nw = tk_ids(o, "decode_ids", &dids);
			tk_check_decode(y, t, "decode of decode_ids", dids, nw, 0, o, "decode");
			tk_check_decode(y, t, "decode_skip of decode_ids", dids, nw,
			                TFM_DECODE_SKIP_SPECIAL, o, "decode_skip");
			free(dids);
		}
		cJSON_Delete(o);
	}
	if (y->bad > 0 || getenv("TFM_TEST_VERBOSE") != NULL)
		fprintf(stderr, "\n    %s: %d golden lines, %d checks differ\n", name, y->lines, y->bad);
	CU_ASSERT(y->lines > 100);
	CU_ASSERT_EQUAL(y->bad, 0);
	free(data);
	tfm_tokenizer_close(t);
}

static void tk_golden_real(const char *name)
{
	char golden[256];
	tk_tally y;

	snprintf(golden, sizeof golden, TK_SRC "/%s/golden.jsonl", name);
	tk_golden(tk_real_path(name, "tokenizer.json"), golden, name, &y);
}

static void test_golden_gpt2(void) { tk_golden_real("gpt2"); }
static void test_golden_llama2(void) { tk_golden_real("llama2"); }
static void test_golden_llama3(void) { tk_golden_real("llama3"); }
static void test_golden_qwen3(void) { tk_golden_real("qwen3"); }
static void test_golden_gemma(void) { tk_golden_real("gemma"); }

/* Folders named in $TFM_TOKENIZER_GOLDEN (colon-separated), each with a
 * tokenizer.json and golden.jsonl: tokenizers checked at development time
 * that are not in the tree (make_goldens.js --only writes them). */
static void test_golden_extra(void)
{
	const char *env = getenv("TFM_TOKENIZER_GOLDEN");
	char dir[1024], path[1100], golden[1100];
	size_t k;
	tk_tally y;

	while (env != NULL && *env != '\0') {
		k = strcspn(env, ":");
		snprintf(dir, sizeof dir, "%.*s", (int)(k < sizeof dir - 1 ? k : sizeof dir - 1), env);
		env += k + (env[k] == ':');
		if (dir[0] == '\0')
			continue;
		snprintf(path, sizeof path, "%s/tokenizer.json", dir);
		snprintf(golden, sizeof golden, "%s/golden.jsonl", dir);
		tk_golden(path, golden, dir, &y);
		fprintf(stderr, "\n    %s: %d golden lines, %d checks differ\n", dir, y.lines, y.bad);
	}
}

static void test_golden_tiny(void)
{
	char path[256], golden[256];
	tk_tally y;
	size_t i;

	for (i = 0; i < TK_N(tk_tiny); i++) {
		snprintf(path, sizeof path, TK_SRC "/tiny/%s.json", tk_tiny[i]);
		snprintf(golden, sizeof golden, TK_SRC "/tiny/%s.golden.jsonl", tk_tiny[i]);
		tk_golden(path, golden, tk_tiny[i], &y);
	}
}

/* ---- llama2.c ------------------------------------------------------------------ */

/* The C encoder against the port of run.c on every text, and the texts where
 * run.c's ids are not Hugging Face's: those are pinned, with why. */
static void test_golden_llama2c(void)
{
	size_t len, tl, ng, nw, nh;
	char *data = tk_read(TK_SRC "/llama2c/golden.jsonl", &len), *line, *next, *text;
	int *got, *want, *hf, lines = 0, bad = 0, differ = 0;
	tfm_tokenizer *t = tk_open(tk_real_path("llama2c", "tokenizer.bin"));
	tfm_error e;
	tk_tally y = { 0, 0, 0, "llama2c" };
	cJSON *o;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	for (line = data; *line != '\0'; line = next) {
		next = strchr(line, '\n');
		next = next != NULL ? (*next = '\0', next + 1) : line + strlen(line);
		if (*line == '\0' || (o = cJSON_Parse(line)) == NULL)
			continue;
		lines++;
		y.lines = lines;
		text = tk_field(o, "text", &tl);
		nw = tk_ids(o, "ids", &want);
		nh = tk_ids(o, "hf", &hf);
		if (tfm_tokenizer_encode(t, text, tl, 1, &got, &ng, &e) != 0) {
			bad++;
			fprintf(stderr, "\n    llama2c: %s\n", e.msg);
		} else {
			if (!tk_same_ids(got, ng, want, nw))
				bad++;
			tk_check_ids(&y, "run.c's ids", text, tl, got, ng, want, nw);
			tk_check_decode(&y, t, "run.c's decode", got, ng, 0, o, "decode");
			free(got);
		}
		differ += !tk_same_ids(want, nw, hf, nh);
		free(want);
		free(hf);
		free(text);
		cJSON_Delete(o);
	}
	if (bad > 0 || y.bad > 0 || getenv("TFM_TEST_VERBOSE") != NULL)
		fprintf(stderr, "\n    llama2c: %d texts, %d differ from run.c, %d checks bad; "
		        "run.c differs from Hugging Face on %d\n", lines, bad, y.bad, differ);
	CU_ASSERT(lines > 100);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(y.bad, 0);
	free(data);
	tfm_tokenizer_close(t);
}

/* run.c parts from Hugging Face exactly where the text holds a special
 * token's string (Hugging Face finds <s>, </s>, <unk> as added tokens, run.c
 * spells them out) or '▁' (a space to Hugging Face, whose pieces spell it
 * so; run.c's pieces hold ' ' and '▁' falls back to its bytes).  With the
 * scores derived from the merge ranks, the merge order never differs on
 * these texts. */
static int tk_l2c_should_differ(const char *text)
{
	return strstr(text, "<s>") != NULL || strstr(text, "</s>") != NULL ||
	       strstr(text, "<unk>") != NULL || strstr(text, "\xe2\x96\x81") != NULL;
}

static void test_llama2c_vs_hf(void)
{
	size_t len, tl, nw, nh;
	char *data = tk_read(TK_SRC "/llama2c/golden.jsonl", &len), *line, *next, *text;
	int *want, *hf, lines = 0, same = 0, bad = 0, differ;
	cJSON *o;

	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	for (line = data; *line != '\0'; line = next) {
		next = strchr(line, '\n');
		next = next != NULL ? (*next = '\0', next + 1) : line + strlen(line);
		if (*line == '\0' || (o = cJSON_Parse(line)) == NULL)
			continue;
		lines++;
		text = tk_field(o, "text", &tl);
		nw = tk_ids(o, "ids", &want);
		nh = tk_ids(o, "hf", &hf);
		differ = !tk_same_ids(want, nw, hf, nh);
		same += !differ;
		if (differ != tk_l2c_should_differ(text)) {
			bad++;
			fprintf(stderr, "\n    llama2c: run.c and Hugging Face %s on\n",
			        differ ? "differ" : "agree");
			tk_print_text("text:", text, tl);
			tk_print_ids("run.c:", want, nw);
			tk_print_ids("hf:   ", hf, nh);
		}
		free(want);
		free(hf);
		free(text);
		cJSON_Delete(o);
	}
	if (getenv("TFM_TEST_VERBOSE") != NULL)
		fprintf(stderr, "\n    llama2c: %d of %d texts give Hugging Face's ids\n", same, lines);
	CU_ASSERT(lines > 100);
	CU_ASSERT(same > lines / 2);
	CU_ASSERT_EQUAL(bad, 0);
	free(data);
}

static void tk_expect_ids(tfm_tokenizer *t, const char *text, size_t len, int add_special,
                          const int *want, size_t nw)
{
	int *got = NULL;
	size_t ng = 0;
	tfm_error e;

	if (tfm_tokenizer_encode(t, text, len, add_special, &got, &ng, &e) != 0) {
		fprintf(stderr, "\n    encode failed: %s\n", e.msg);
		CU_FAIL("encode");
		return;
	}
	if (!tk_same_ids(got, ng, want, nw)) {
		tk_print_text("text:", text, len);
		tk_print_ids("got: ", got, ng);
		tk_print_ids("want:", want, nw);
	}
	CU_ASSERT(tk_same_ids(got, ng, want, nw));
	free(got);
}

static void tk_expect_text(tfm_tokenizer *t, const int *ids, size_t n, int flags,
                           const char *want, size_t wl)
{
	char *got = NULL;
	size_t gl = 0;
	tfm_error e;

	if (tfm_tokenizer_decode(t, ids, n, flags, &got, &gl, &e) != 0) {
		fprintf(stderr, "\n    decode failed: %s\n", e.msg);
		CU_FAIL("decode");
		return;
	}
	if (gl != wl || memcmp(got, want, wl) != 0) {
		tk_print_ids("ids: ", ids, n);
		tk_print_text("got: ", got, gl);
		tk_print_text("want:", want, wl);
	}
	CU_ASSERT(gl == wl && memcmp(got, want, wl) == 0);
	CU_ASSERT_EQUAL(got[gl], '\0');
	free(got);
}

/* The two differences by hand, and run.c's decode. */
static void test_llama2c_pinned(void)
{
	tfm_tokenizer *t = tk_open(tk_real_path("llama2c", "tokenizer.bin"));
	tfm_tokenizer *h = tk_open(tk_real_path("llama2", "tokenizer.json"));
	static const int s_l2c[] = { 1, 523, 28713, 28767 }, s_hf[] = { 1, 1 };
	static const int m_l2c[] = { 1, 264, 229, 153, 132, 28726 }, m_hf[] = { 1, 264, 287 };
	static const int hello[] = { 1, 22557 }, empty[] = { 1 };
	static const int dec[] = { 1, 22557, 3 + 0x0a, 3, 2, 13 };

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	tk_expect_ids(t, "<s>", 3, 1, s_l2c, 4);	/* " <" "s" ">" */
	tk_expect_ids(h, "<s>", 3, 1, s_hf, 2);		/* the BOS token */
	tk_expect_ids(t, "a\xe2\x96\x81" "b", 5, 1, m_l2c, 6);	/* "▁" as bytes */
	tk_expect_ids(h, "a\xe2\x96\x81" "b", 5, 1, m_hf, 3);	/* "▁" as the space */
	tk_expect_ids(t, "Hello", 5, 1, hello, 2);
	tk_expect_ids(h, "Hello", 5, 1, hello, 2);
	tk_expect_ids(t, "", 0, 1, empty, 1);
	tk_expect_ids(t, "", 0, 0, empty, 0);
	TK_EQ(tfm_tokenizer_bos(t), 1);
	TK_EQ(tfm_tokenizer_is_eos(t, 2), 1);
	TK_EQ(tfm_tokenizer_is_eos(t, 1), 0);
	TK_EQ(tfm_tokenizer_vocab(t), 32000);
	/* No space after BOS; <0x0A> is the byte; <unk> (3 - 3 = 0: byte 0) is
	 * nothing; BOS and EOS are run.c's "\n<s>\n" and "\n</s>\n". */
	tk_expect_text(t, dec, 6, 0, "\n<s>\nHello\n\n</s>\n\n", 18);
	tk_expect_text(t, dec, 6, TFM_DECODE_SKIP_SPECIAL, "Hello\n\n", 7);
	tk_expect_text(t, dec + 1, 1, 0, " Hello", 6);
	tfm_tokenizer_close(t);
	tfm_tokenizer_close(h);
	/* A folder with a tokenizer.bin. */
	CU_ASSERT_PTR_NOT_NULL_FATAL(t = tk_open(tk_real_path("llama2c", NULL)));
	tk_expect_ids(t, "Hello", 5, 1, hello, 2);
	tfm_tokenizer_close(t);
}

/* A C-escaped line (\\, \n, \t, \xHH) into buf; its length. */
static size_t tk_unescape(const char *s, char *buf, size_t cap)
{
	size_t n = 0;
	unsigned v;

	for (; *s != '\0' && n + 1 < cap; s++) {
		if (*s != '\\' || s[1] == '\0') {
			buf[n++] = *s;
			continue;
		}
		s++;
		if (*s == 'n')
			buf[n++] = '\n';
		else if (*s == 't')
			buf[n++] = '\t';
		else if (*s == 'x' && sscanf(s + 1, "%2x", &v) == 1) {
			buf[n++] = (char)v;
			s += 2;
		} else
			buf[n++] = *s;
	}
	buf[n] = '\0';
	return n;
}

static size_t tk_parse_ids(const char *s, int *ids, size_t cap)
{
	size_t n = 0;
	char *end;

	while (*s != '\0' && n < cap) {
		ids[n++] = (int)strtol(s, &end, 10);
		if (end == s)
			break;
		s = *end == ',' ? end + 1 : end;
	}
	return n;
}

/* examples/fortune's tokenizer.bin, which tokenizer.py exported from a real
 * SentencePiece model, with SentencePiece's ids and decode of its prompts
 * (expected.txt): skipped when the example is not there. */
static void test_llama2c_fortune(void)
{
	size_t len, n_in, n_gen, tl;
	char *data = tk_read("examples/fortune/expected.txt", &len), *line[4], *p, text[4096];
	int in[256], all[512], groups = 0, k;
	tfm_tokenizer *t;

	if (data == NULL) {
		fprintf(stderr, "\n    (examples/fortune is not there: skipped)\n");
		return;
	}
	CU_ASSERT_PTR_NOT_NULL_FATAL(t = tk_open("examples/fortune/tokenizer.bin"));
	for (p = data; *p != '\0';) {
		for (k = 0; k < 4 && *p != '\0'; k++) {
			line[k] = p;
			p += strcspn(p, "\n");
			if (*p == '\n')
				*p++ = '\0';
		}
		if (k < 4)
			break;
		groups++;
		tl = tk_unescape(line[0], text, sizeof text);
		n_in = tk_parse_ids(line[1], in, 256);
		tk_expect_ids(t, text, tl, 1, in, n_in);
		memcpy(all, in, n_in * sizeof *in);
		n_gen = tk_parse_ids(line[2], all + n_in, 256);
		tl = tk_unescape(line[3], text, sizeof text);
		tk_expect_text(t, all, n_in + n_gen, TFM_DECODE_SKIP_SPECIAL, text, tl);
	}
	TK_EQ(groups, 3);
	tfm_tokenizer_close(t);
	free(data);
}

/* ---- Model folders -------------------------------------------------------------------- */

static void tk_expect_eos(const char *path, const int *eos, int n_eos, const int *not_eos,
                          int n_not, int bos)
{
	tfm_tokenizer *t = tk_open(path);
	int i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	for (i = 0; i < n_eos; i++) {
		if (!tfm_tokenizer_is_eos(t, eos[i]))
			fprintf(stderr, "\n    %s: %d should end a generation\n", path, eos[i]);
		CU_ASSERT(tfm_tokenizer_is_eos(t, eos[i]));
	}
	for (i = 0; i < n_not; i++) {
		if (tfm_tokenizer_is_eos(t, not_eos[i]))
			fprintf(stderr, "\n    %s: %d should not end a generation\n", path, not_eos[i]);
		CU_ASSERT(!tfm_tokenizer_is_eos(t, not_eos[i]));
	}
	if (tfm_tokenizer_bos(t) != bos)
		fprintf(stderr, "\n    %s: bos %d, want %d\n", path, tfm_tokenizer_bos(t), bos);
	CU_ASSERT_EQUAL(tfm_tokenizer_bos(t), bos);
	tfm_tokenizer_close(t);
}

/* A bare tokenizer.json: the added tokens with an end-of-sequence name. */
static void test_eos_bare(void)
{
	static const int gpt2[] = { 50256 }, llama2[] = { 2 }, llama2_not[] = { 0, 1, 29889 };
	static const int llama3[] = { 128001, 128009 }, llama3_not[] = { 128000, 128002 };
	static const int qwen3[] = { 151643, 151645 }, qwen3_not[] = { 151644, 128247 };
	static const int gemma[] = { 1 }, gemma_not[] = { 2, 107, 213 };

	tk_expect_eos(tk_real_path("gpt2", "tokenizer.json"), gpt2, 1, NULL, 0, -1);
	tk_expect_eos(tk_real_path("llama2", "tokenizer.json"), llama2, 1, llama2_not, 3, 1);
	tk_expect_eos(tk_real_path("llama3", "tokenizer.json"), llama3, 2, llama3_not, 2, -1);
	tk_expect_eos(tk_real_path("qwen3", "tokenizer.json"), qwen3, 2, qwen3_not, 2, -1);
	tk_expect_eos(tk_real_path("gemma", "tokenizer.json"), gemma, 1, gemma_not, 3, 2);
}

/* The packages' folders: tokenizer_config.json names the EOS token. */
static void test_eos_folder(void)
{
	static const int llama2[] = { 2 }, qwen3[] = { 151645 }, qwen3_not[] = { 151643 };
	static const int gpt2[] = { 50256 }, gemma[] = { 1 };

	tk_expect_eos(tk_real_path("llama2", NULL), llama2, 1, NULL, 0, 1);
	tk_expect_eos(tk_real_path("qwen3", NULL), qwen3, 1, qwen3_not, 1, -1);
	tk_expect_eos(tk_real_path("gpt2", NULL), gpt2, 1, NULL, 0, -1);
	tk_expect_eos(tk_real_path("gemma", NULL), gemma, 1, NULL, 0, 2);
}

/* tk_dir/folder/ with llama2's tokenizer.json and the given files (NULL:
 * none). */
static const char *tk_folder(const char *tokenizer_config, const char *config,
                             const char *generation_config)
{
	static char dir[TEST_DIR_MAX + 64];
	char file[TEST_DIR_MAX + 128];
	const char *names[3] = { "tokenizer_config.json", "config.json", "generation_config.json" };
	const char *texts[3] = { tokenizer_config, config, generation_config };
	int i;

	snprintf(dir, sizeof dir, "%s/folder", tk_dir);
	mkdir(dir, 0700);
	snprintf(file, sizeof file, "%s/tokenizer.json", dir);
	unlink(file);
	if (symlink(tk_real_path("llama2", "tokenizer.json"), file) != 0)
		return NULL;
	for (i = 0; i < 3; i++) {
		snprintf(file, sizeof file, "%s/%s", dir, names[i]);
		unlink(file);
		if (texts[i] != NULL && tk_write_str(file, texts[i]) != 0)
			return NULL;
	}
	return dir;
}

static void test_folder_add_bos_eos(void)
{
	static const int hi[] = { 15359 }, hi_eos[] = { 15359, 2 }, hi_both[] = { 1, 15359, 2 };
	static const int eos[] = { 2, 7, 9 }, not_eos[] = { 1, 8 };
	const char *dir;
	tfm_tokenizer *t;

	/* add_bos_token false, add_eos_token true: the template's BOS goes. */
	dir = tk_folder("{\"add_bos_token\": false, \"add_eos_token\": true, "
	                "\"eos_token\": {\"__type\": \"AddedToken\", \"content\": \"</s>\"}}", NULL, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t = tk_open(dir));
	tk_expect_ids(t, "Hi", 2, 1, hi_eos, 2);
	tk_expect_ids(t, "Hi", 2, 0, hi, 1);
	TK_EQ(tfm_tokenizer_bos(t), -1);
	tfm_tokenizer_close(t);
	/* Both, the BOS from config.json; EOS from all three files. */
	dir = tk_folder("{\"add_bos_token\": true, \"add_eos_token\": true}",
	                "{\"bos_token_id\": 1, \"eos_token_id\": 2}",
	                "{\"eos_token_id\": [7, 9]}");
	CU_ASSERT_PTR_NOT_NULL_FATAL(t = tk_open(dir));
	tk_expect_ids(t, "Hi", 2, 1, hi_both, 3);
	TK_EQ(tfm_tokenizer_bos(t), 1);
	tfm_tokenizer_close(t);
	tk_expect_eos(dir, eos, 3, not_eos, 2, 1);
	/* Files that say nothing: the template and the default EOS rule. */
	dir = tk_folder("{\"model_max_length\": 4096}", "{\"hidden_size\": 8}", NULL);
	tk_expect_eos(dir, eos, 1, not_eos, 2, 1);
}

/* ---- Behaviours by hand -------------------------------------------------------------- */

static tfm_tokenizer *tk_mem(const char *json)
{
	tfm_tokenizer *t = NULL;
	tfm_error e;

	if (tok_open_memory(&t, json, strlen(json), "t.json", &e) != 0) {
		fprintf(stderr, "\n    cannot open: %s\n", e.msg);
		return NULL;
	}
	return t;
}

/* The Strip decoder's stop side, which Hugging Face panics on when the
 * cuts cross or the token is short: the rest is cut as its code reads. */
static void test_strip_stop(void)
{
	tfm_tokenizer *t = tk_mem(
		"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"x\": 0, \"xa\": 1, \"a\": 2, \"axx\": 3}, "
		"\"merges\": []}, \"decoder\": {\"type\": \"Strip\", \"content\": \"x\", \"start\": 1, "
		"\"stop\": 2}}");
	static const int ids[] = { 0, 1, 2, 3 };

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	/* "x" → "" (the cuts cross), "xa" → "a", "a" → "a", "axx" → "a" */
	tk_expect_text(t, ids, 4, 0, "aaa", 3);
	tfm_tokenizer_close(t);
}

/* Byte-level tokens of a broken character: U+FFFD unless raw, and raw
 * pieces that join into the text. */
static void test_decode_raw(void)
{
	tfm_tokenizer *t = tk_open(tk_real_path("gpt2", "tokenizer.json"));
	tfm_tokenizer *l = tk_open(tk_real_path("llama2", "tokenizer.json"));
	int *ids = NULL, seq[6];
	size_t n = 0, i, len, total = 0;
	char *txt, joined[64];
	tok_buf u = { 0 };
	tfm_error e;
	/* F0 9F 98 (a cut 4-byte character), 'A', C0, 80: Rust's lossy gives
	 * one U+FFFD for the first three and one each for the last two. */
	static const unsigned char bytes[] = { 0xf0, 0x9f, 0x98, 'A', 0xc0, 0x80 };
	static const int lb[] = { 0xe6 + 3, 0x97 + 3, 22557 };	/* "▁Hello" */

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	CU_ASSERT_EQUAL_FATAL(tfm_tokenizer_encode(t, "日本語😀", 13, 0, &ids, &n, &e), 0);
	for (i = 0; i < n; i++) {
		CU_ASSERT_EQUAL_FATAL(tfm_tokenizer_decode(t, ids + i, 1, TFM_DECODE_RAW, &txt, &len,
		                                           &e), 0);
		CU_ASSERT_FATAL(total + len < sizeof joined);
		memcpy(joined + total, txt, len);
		total += len;
		free(txt);
	}
	CU_ASSERT(total == 13 && memcmp(joined, "日本語😀", 13) == 0);
	free(ids);
	for (i = 0; i < 6; i++) {
		u.len = 0;
		CU_ASSERT_EQUAL_FATAL(tok_utf8_put(&u, tok_byte_char(bytes[i])), 0);
		seq[i] = tok_token_id(t, u.p, u.len);
		CU_ASSERT_FATAL(seq[i] >= 0);
	}
	tk_expect_text(t, seq, 6, 0, "\xef\xbf\xbd" "A\xef\xbf\xbd\xef\xbf\xbd", 10);
	tk_expect_text(t, seq, 6, TFM_DECODE_RAW, (const char *)bytes, 6);
	tok_buf_free(&u);
	/* ByteFallback: bytes that are not UTF-8 are one U+FFFD each. */
	tk_expect_text(l, lb, 3, 0, "\xef\xbf\xbd\xef\xbf\xbd Hello", 12);
	tk_expect_text(l, lb, 3, TFM_DECODE_RAW, "\xe6\x97 Hello", 8);
	tk_expect_text(l, lb, 2, 0, "\xef\xbf\xbd\xef\xbf\xbd", 6);
	tfm_tokenizer_close(t);
	tfm_tokenizer_close(l);
}

/* A long text encodes and decodes back (no normalizer to change it), and
 * the empty text and NUL bytes are text like any other. */
static void test_long_and_odd(void)
{
	static const char *words[] = { "the ", "quick ", "brown ", "fox ", "jumps\n", "über ",
		                       "日本 ", "12345 ", "😀 ", "don't ", "\t", "  " };
	tfm_tokenizer *g = tk_open(tk_real_path("gpt2", "tokenizer.json"));
	tfm_tokenizer *l = tk_open(tk_real_path("llama2", "tokenizer.json"));
	size_t len = 0, n, dl, i;
	char *text = malloc(300000), *back;
	int *ids;
	tfm_error e;
	unsigned r = 1;

	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	CU_ASSERT_PTR_NOT_NULL_FATAL(l);
	text[len++] = 'A';
	while (len < 200000) {
		const char *w = words[(r = r * 1103515245u + 12345u) >> 16 & 7 ? (r >> 20) % 12 : 0];
		memcpy(text + len, w, strlen(w));
		len += strlen(w);
	}
	for (i = 0; i < 2; i++) {
		tfm_tokenizer *t = i ? l : g;
		CU_ASSERT_EQUAL_FATAL(tfm_tokenizer_encode(t, text, len, 0, &ids, &n, &e), 0);
		if (!(n > len / 8 && n < len))
			fprintf(stderr, "\n    %zu bytes gave %zu ids\n", len, n);
		CU_ASSERT(n > len / 8 && n < len);
		CU_ASSERT_EQUAL_FATAL(tfm_tokenizer_decode(t, ids, n, 0, &back, &dl, &e), 0);
		if (dl != len || memcmp(back, text, len) != 0)
			fprintf(stderr, "\n    %s: a %zu-byte text came back as %zu bytes\n",
			        i ? "llama2" : "gpt2", len, dl);
		CU_ASSERT(dl == len && memcmp(back, text, len) == 0);
		free(back);
		free(ids);
	}
	/* Empty: no ids, a valid pointer; decoding none is "". */
	CU_ASSERT_EQUAL(tfm_tokenizer_encode(g, "", 0, 1, &ids, &n, &e), 0);
	TK_EQ(n, 0);
	CU_ASSERT_PTR_NOT_NULL(ids);
	tk_expect_text(g, ids, 0, 0, "", 0);
	free(ids);
	/* NUL is a character. */
	CU_ASSERT_EQUAL(tfm_tokenizer_encode(g, "a\0b", 3, 0, &ids, &n, &e), 0);
	TK_EQ(n, 3);
	tk_expect_text(g, ids, n, 0, "a\0b", 3);
	free(ids);
	TK_EQ(tfm_tokenizer_vocab(g), 50257);
	TK_EQ(tfm_tokenizer_vocab(l), 32000);
	free(text);
	tfm_tokenizer_close(g);
	tfm_tokenizer_close(l);
}

/* Added tokens found as Hugging Face finds them, by hand: leftmost-longest,
 * single_word against word characters, lstrip and rstrip taking whitespace,
 * a match's end where the next search resumes; the ids of added tokens
 * that are not in the vocabulary (the next free ones, not the file's). */
static void test_added_tokens(void)
{
	tfm_tokenizer *t = tk_mem(
		"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \" \": 2, \"<\": 3, \">\": 4, "
		"\"c\": 5}, \"merges\": []}, \"added_tokens\": ["
		"{\"id\": 99, \"content\": \"<a>\", \"special\": true, \"normalized\": false},"
		"{\"id\": 98, \"content\": \"<ab>\", \"special\": true, \"normalized\": false, \"lstrip\": true},"
		"{\"id\": 97, \"content\": \"ab\", \"single_word\": true, \"normalized\": false},"
		"{\"id\": 96, \"content\": \"c\", \"rstrip\": true, \"normalized\": true}]}");
	static const int w1[] = { 6, 7, 2 };		/* lstrip takes the space before <ab> */
	static const int w2[] = { 0, 1, 2, 8 };		/* single_word: xab is not, ab is; x is dropped */
	static const int w3[] = { 5, 0 };		/* rstrip takes the spaces; c is the vocab's */
	static const int w4[] = { 3, 0, 7 };		/* <a< is no token, <ab> is */
	static const int w5[] = { 8, 7, 5, 8 };

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	TK_EQ(tfm_tokenizer_vocab(t), 9);	/* <a> 6, <ab> 7, ab 8: not 96-99 */
	tk_expect_ids(t, "<a> <ab> ", 9, 0, w1, 3);
	tk_expect_ids(t, "xab ab", 6, 0, w2, 4);
	tk_expect_ids(t, "c  a", 4, 0, w3, 2);
	tk_expect_ids(t, "<a<ab>", 6, 0, w4, 3);
	tk_expect_ids(t, "ab  <ab>c ab", 12, 0, w5, 4);
	tfm_tokenizer_close(t);
}

/* NFC skips the text below U+0300 (normalize.c): the same as utf8proc on
 * the whole, on strings thick with marks, jamo and characters NFC maps. */
static void test_nfc_shortcut(void)
{
	static const int32_t pool[] = {
		'a', 'e', 'o', 'A', ' ', 0xe9, 0xc5, 0x1a0, 0x2ff, 0x300, 0x301, 0x323, 0x327, 0x340,
		0x344, 0x37e, 0x387, 0x1100, 0x1161, 0x11a8, 0xac00, 0x212b, 0x2126, 0xfb2c, 0x1d15e,
		0x0d3b, 0x093c, 0x0915, 0x0f73, 0x3099, 0x304b,
	};
	tok_norm nfc = { TOK_NORM_NFC, NULL, 0, NULL, 0, 0 };
	tok_buf in = { 0 }, out = { 0 };
	utf8proc_uint8_t *ref;
	utf8proc_ssize_t rn;
	unsigned r = 7;
	int i, j, bad = 0;
	tfm_error e;

	for (i = 0; i < 3000; i++) {
		in.len = 0;
		for (j = 0, r = r * 1103515245u + 12345u; j < (int)(r >> 16) % 12 + 1; j++) {
			r = r * 1103515245u + 12345u;
			tok_utf8_put(&in, pool[(r >> 16) % (sizeof pool / sizeof pool[0])]);
		}
		CU_ASSERT_EQUAL_FATAL(tok_normalize(&nfc, 1, in.p, in.len, &out, &e), 0);
		rn = utf8proc_map((const utf8proc_uint8_t *)in.p, (utf8proc_ssize_t)in.len, &ref,
		                  UTF8PROC_STABLE | UTF8PROC_COMPOSE);
		CU_ASSERT_FATAL(rn >= 0);
		if ((size_t)rn != out.len || memcmp(ref, out.p, out.len) != 0) {
			if (bad++ < 3) {
				tk_print_text("input:", in.p, in.len);
				tk_print_text("got:  ", out.p, out.len);
				tk_print_text("want: ", (const char *)ref, (size_t)rn);
			}
		}
		free(ref);
	}
	CU_ASSERT_EQUAL(bad, 0);
	tok_buf_free(&in);
	tok_buf_free(&out);
}

/* ---- Errors ------------------------------------------------------------------------- */

/* A tokenizer.json around a small BPE: model fields, then top-level ones. */
#define TK_JSON(model, rest) \
	"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2, \"<s>\": 3}, " \
	"\"merges\": [\"a b\"]" model "}" rest "}"
#define TK_MODEL(fields) "{\"model\": {" fields "}}"

typedef struct tk_bad_case {
	const char *json, *msg;
} tk_bad_case;

static const tk_bad_case tk_bad_json[] = {
	{ "", "t.json: 0 bytes: neither a tokenizer.json (which starts with '{') nor a llama2.c "
	      "tokenizer.bin" },
	{ "{", "t.json: not valid JSON: line 1, byte 0" },
	{ "{\"model\": 1,\n \"x\": }", "t.json: not valid JSON: line 2, byte 19" },
	{ "{} {}", "t.json: line 1, byte 3: text after the JSON" },
	{ "{\"model\": \"\xff\"}", "t.json: not UTF-8 at byte 11" },
	{ TK_JSON("", ", \"version\": \"2.0\""), "t.json: version: \"2.0\" is not supported (only 1.0)" },
	{ TK_JSON("", ", \"version\": 1"), "t.json: version: expected a string, got a number" },
	{ "{}", "t.json: model: missing" },
	{ "{\"model\": []}", "t.json: model: expected an object, got an array" },
	{ TK_MODEL("\"type\": \"WordPiece\", \"vocab\": {}"),
	  "t.json: model.type: \"WordPiece\" is not supported: only BPE models are" },
	{ TK_MODEL("\"type\": \"Unigram\", \"vocab\": []"),
	  "t.json: model.type: \"Unigram\" is not supported: only BPE models are" },
	{ TK_MODEL("\"type\": 3"), "t.json: model.type: expected a string, got a number" },
	{ TK_MODEL("\"type\": \"BPE\", \"merges\": []"), "t.json: model.vocab: missing" },
	{ TK_MODEL("\"vocab\": [], \"merges\": []"), "t.json: model.vocab: expected an object, got an array" },
	{ TK_MODEL("\"vocab\": {\"a\": 0}"), "t.json: model.merges: missing" },
	{ TK_MODEL("\"vocab\": {\"a\": 0}, \"merges\": {}"),
	  "t.json: model.merges: expected an array, got an object" },
	{ TK_MODEL("\"vocab\": {\"a\": \"0\"}, \"merges\": []"),
	  "t.json: model.vocab[\"a\"]: expected an integer, got a string" },
	{ TK_MODEL("\"vocab\": {\"a\": -1}, \"merges\": []"),
	  "t.json: model.vocab[\"a\"]: -1 is outside [0, 4194303]" },
	{ TK_MODEL("\"vocab\": {\"a\": 1.5}, \"merges\": []"),
	  "t.json: model.vocab[\"a\"]: expected an integer, got 1.5" },
	{ TK_MODEL("\"vocab\": {\"a\": 1e9}, \"merges\": []"),
	  "t.json: model.vocab[\"a\"]: 1000000000 is outside [0, 4194303]" },
	{ TK_MODEL("\"vocab\": {}, \"merges\": []"), "t.json: model.vocab: empty" },
	{ TK_MODEL("\"vocab\": {\"a\": 0}, \"merges\": [1]"),
	  "t.json: model.merges[0]: expected \"a b\" or [\"a\", \"b\"], got a number" },
	{ TK_MODEL("\"vocab\": {\"a\": 0}, \"merges\": [\"a a a\"]"),
	  "t.json: model.merges[0]: expected \"a b\" or [\"a\", \"b\"], got a string" },
	{ TK_MODEL("\"vocab\": {\"a\": 0}, \"merges\": [\"#version: 0.2\", \"aa\"]"),
	  "t.json: model.merges[1]: expected \"a b\" or [\"a\", \"b\"], got a string" },
	{ TK_MODEL("\"vocab\": {\"a\": 0}, \"merges\": [[\"a\"]]"),
	  "t.json: model.merges[0]: expected \"a b\" or [\"a\", \"b\"], got an array" },
	{ TK_MODEL("\"vocab\": {\"a\": 0}, \"merges\": [[\"a\", 1]]"),
	  "t.json: model.merges[0]: expected \"a b\" or [\"a\", \"b\"], got an array" },
	{ TK_MODEL("\"vocab\": {\"a\": 0}, \"merges\": [\"a x\"]"),
	  "t.json: model.merges[0]: \"x\" is not in the vocabulary" },
	{ TK_MODEL("\"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a b\", [\"b\", \"a\"]]"),
	  "t.json: model.merges[0]: \"ab\" is not in the vocabulary" },
	{ TK_JSON(", \"continuing_subword_prefix\": \"##\"", ""),
	  "t.json: model.merges[0]: \"b\" is shorter than continuing_subword_prefix" },
	{ TK_JSON(", \"unk_token\": 5", ""), "t.json: model.unk_token: expected a string, got a number" },
	{ TK_JSON(", \"end_of_word_suffix\": []", ""),
	  "t.json: model.end_of_word_suffix: expected a string, got an array" },
	{ TK_JSON(", \"fuse_unk\": \"yes\"", ""), "t.json: model.fuse_unk: expected true or false, got a string" },
	{ TK_JSON(", \"dropout\": \"x\"", ""), "t.json: model.dropout: expected a number, got a string" },
	/* added tokens */
	{ TK_JSON("", ", \"added_tokens\": {}"), "t.json: added_tokens: expected an array, got an object" },
	{ TK_JSON("", ", \"added_tokens\": [1]"), "t.json: added_tokens[0]: expected an object, got a number" },
	{ TK_JSON("", ", \"added_tokens\": [{\"id\": 5}]"), "t.json: added_tokens[0].content: missing" },
	{ TK_JSON("", ", \"added_tokens\": [{\"content\": \"x\"}]"), "t.json: added_tokens[0].id: missing" },
	{ TK_JSON("", ", \"added_tokens\": [{\"content\": 7, \"id\": 1}]"),
	  "t.json: added_tokens[0].content: expected a string, got a number" },
	{ TK_JSON("", ", \"added_tokens\": [{\"content\": \"x\", \"id\": -2}]"),
	  "t.json: added_tokens[0].id: -2 is outside [0, 4194303]" },
	{ TK_JSON("", ", \"added_tokens\": [{\"content\": \"x\", \"id\": 4, \"special\": \"yes\"}]"),
	  "t.json: added_tokens[0].special: expected true or false, got a string" },
	{ TK_MODEL("\"vocab\": {\"a\": 4194303}, \"merges\": []") , NULL },
	/* normalizers */
	{ TK_JSON("", ", \"normalizer\": 5"), "t.json: normalizer: expected an object, got a number" },
	{ TK_JSON("", ", \"normalizer\": {}"), "t.json: normalizer.type: missing" },
	{ TK_JSON("", ", \"normalizer\": {\"type\": \"Precompiled\"}"),
	  "t.json: normalizer.type: \"Precompiled\" is not supported" },
	{ TK_JSON("", ", \"normalizer\": {\"type\": \"Sequence\"}"), "t.json: normalizer.normalizers: missing" },
	{ TK_JSON("", ", \"normalizer\": {\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"NFC\"}, "
	              "{\"type\": \"BertNormalizer\"}]}"),
	  "t.json: normalizer.normalizers[1].type: \"BertNormalizer\" is not supported" },
	{ TK_JSON("", ", \"normalizer\": {\"type\": \"Prepend\"}"), "t.json: normalizer.prepend: missing" },
	{ TK_JSON("", ", \"normalizer\": {\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}}"),
	  "t.json: normalizer.content: missing" },
	{ TK_JSON("", ", \"normalizer\": {\"type\": \"Replace\", \"content\": \"x\"}"),
	  "t.json: normalizer.pattern: missing" },
	{ TK_JSON("", ", \"normalizer\": {\"type\": \"Replace\", \"content\": \"x\", \"pattern\": \"y\"}"),
	  "t.json: normalizer.pattern: expected an object, got a string" },
	{ TK_JSON("", ", \"normalizer\": {\"type\": \"Replace\", \"content\": \"x\", \"pattern\": {\"Foo\": 1}}"),
	  "t.json: normalizer.pattern: expected {\"String\": ...} or {\"Regex\": ...}" },
	{ TK_JSON("", ", \"normalizer\": {\"type\": \"Replace\", \"content\": \"x\", \"pattern\": {\"String\": 1}}"),
	  "t.json: normalizer.pattern.String: expected a string, got a number" },
	{ TK_JSON("", ", \"normalizer\": {\"type\": \"Replace\", \"content\": \"x\", \"pattern\": {\"Regex\": \"(\"}}"),
	  "t.json: normalizer.pattern.Regex: bad regex \"(\": missing closing parenthesis" },
	{ TK_JSON("", ", \"normalizer\": {\"type\": \"Strip\", \"strip_left\": 1}"),
	  "t.json: normalizer.strip_left: expected true or false, got a number" },
	/* pre-tokenizers */
	{ TK_JSON("", ", \"pre_tokenizer\": {\"type\": \"Whitespace\"}"),
	  "t.json: pre_tokenizer.type: \"Whitespace\" is not supported" },
	{ TK_JSON("", ", \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": 5}"),
	  "t.json: pre_tokenizer.pretokenizers: expected an array, got a number" },
	{ TK_JSON("", ", \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", "
	              "\"pattern\": {\"String\": \" \"}}]}"),
	  "t.json: pre_tokenizer.pretokenizers[0].behavior: missing" },
	{ TK_JSON("", ", \"pre_tokenizer\": {\"type\": \"Split\", \"behavior\": \"Merged\", "
	              "\"pattern\": {\"String\": \" \"}}"),
	  "t.json: pre_tokenizer.behavior: \"Merged\" is not one of Removed, Isolated, MergedWithPrevious, "
	  "MergedWithNext, Contiguous" },
	{ TK_JSON("", ", \"pre_tokenizer\": {\"type\": \"Split\", \"behavior\": \"Removed\", \"invert\": 0, "
	              "\"pattern\": {\"String\": \" \"}}"),
	  "t.json: pre_tokenizer.invert: expected true or false, got a number" },
	{ TK_JSON("", ", \"pre_tokenizer\": {\"type\": \"Split\", \"behavior\": \"Removed\", "
	              "\"pattern\": {\"Regex\": \"[a-\"}}"),
	  "t.json: pre_tokenizer.pattern.Regex: bad regex \"[a-\": missing terminating ] for character class" },
	{ TK_JSON("", ", \"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": \"ab\"}"),
	  "t.json: pre_tokenizer.replacement: expected one character, got \"ab\"" },
	{ TK_JSON("", ", \"pre_tokenizer\": {\"type\": \"Metaspace\", \"prepend_scheme\": \"sometimes\"}"),
	  "t.json: pre_tokenizer.prepend_scheme: \"sometimes\" is not one of always, first, never" },
	{ TK_JSON("", ", \"pre_tokenizer\": {\"type\": \"Metaspace\", \"add_prefix_space\": null, \"split\": 1}"),
	  "t.json: pre_tokenizer.split: expected true or false, got a number" },
	{ TK_JSON("", ", \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"use_regex\": \"no\"}"),
	  "t.json: pre_tokenizer.use_regex: expected true or false, got a string" },
	{ TK_JSON("", ", \"pre_tokenizer\": {\"type\": \"Digits\", \"individual_digits\": 1}"),
	  "t.json: pre_tokenizer.individual_digits: expected true or false, got a number" },
	/* decoders */
	{ TK_JSON("", ", \"decoder\": {\"type\": \"WordPiece\"}"), "t.json: decoder.type: \"WordPiece\" is not supported" },
	{ TK_JSON("", ", \"decoder\": {\"type\": \"Sequence\"}"), "t.json: decoder.decoders: missing" },
	{ TK_JSON("", ", \"decoder\": {\"type\": \"Sequence\", \"decoders\": [{\"type\": \"Fuse\"}, 3]}"),
	  "t.json: decoder.decoders[1]: expected an object, got a number" },
	{ TK_JSON("", ", \"decoder\": {\"type\": \"Strip\", \"start\": 1}"), "t.json: decoder.content: missing" },
	{ TK_JSON("", ", \"decoder\": {\"type\": \"Strip\", \"content\": \" \", \"start\": -1}"),
	  "t.json: decoder.start: -1 is outside [0, 1000000000]" },
	{ TK_JSON("", ", \"decoder\": {\"type\": \"Strip\", \"content\": \" \", \"stop\": \"1\"}"),
	  "t.json: decoder.stop: expected an integer, got a string" },
	{ TK_JSON("", ", \"decoder\": {\"type\": \"Replace\", \"pattern\": {\"String\": \"x\"}}"),
	  "t.json: decoder.content: missing" },
	{ TK_JSON("", ", \"decoder\": {\"type\": \"Replace\", \"content\": \"\", \"pattern\": {\"Regex\": \"*\"}}"),
	  "t.json: decoder.pattern.Regex: bad regex \"*\": quantifier does not follow a repeatable item" },
	{ TK_JSON("", ", \"decoder\": {\"type\": \"Metaspace\", \"replacement\": \"\"}"),
	  "t.json: decoder.replacement: expected one character, got \"\"" },
	{ TK_JSON("", ", \"decoder\": {\"type\": \"Metaspace\", \"prepend_scheme\": 2}"),
	  "t.json: decoder.prepend_scheme: expected a string, got a number" },
	{ TK_JSON("", ", \"decoder\": {\"type\": \"BPEDecoder\", \"suffix\": 3}"),
	  "t.json: decoder.suffix: expected a string, got a number" },
	/* post-processors */
	{ TK_JSON("", ", \"post_processor\": {\"type\": \"Foo\"}"), "t.json: post_processor.type: \"Foo\" is not supported" },
	{ TK_JSON("", ", \"post_processor\": {\"type\": \"Sequence\"}"), "t.json: post_processor.processors: missing" },
	{ TK_JSON("", ", \"post_processor\": {\"type\": \"TemplateProcessing\"}"),
	  "t.json: post_processor.single: missing" },
	{ TK_JSON("", ", \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": \"$A\"}"),
	  "t.json: post_processor.single: expected an array, got a string" },
	{ TK_JSON("", ", \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [5]}"),
	  "t.json: post_processor.single[0]: expected an object, got a number" },
	{ TK_JSON("", ", \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"X\": 1}]}"),
	  "t.json: post_processor.single[0]: expected {\"SpecialToken\": ...} or {\"Sequence\": ...}" },
	{ TK_JSON("", ", \"post_processor\": {\"type\": \"TemplateProcessing\", \"special_tokens\": [], "
	              "\"single\": []}"),
	  "t.json: post_processor.special_tokens: expected an object, got an array" },
	{ TK_JSON("", ", \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": "
	              "[{\"SpecialToken\": {\"id\": \"<s>\"}}, {\"Sequence\": {\"id\": \"A\"}}]}"),
	  "t.json: post_processor.single[0].SpecialToken: \"<s>\" is not in post_processor.special_tokens" },
	{ TK_JSON("", ", \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": "
	              "[{\"SpecialToken\": {\"type_id\": 0}}]}"),
	  "t.json: post_processor.single[0].SpecialToken.id: missing" },
	{ TK_JSON("", ", \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": "
	              "[{\"SpecialToken\": {\"id\": \"<s>\"}}], \"special_tokens\": {\"<s>\": {\"id\": \"<s>\"}}}"),
	  "t.json: post_processor.special_tokens[\"<s>\"].ids: missing" },
	{ TK_JSON("", ", \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": "
	              "[{\"SpecialToken\": {\"id\": \"<s>\"}}], \"special_tokens\": {\"<s>\": {\"ids\": [99]}}}"),
	  "t.json: post_processor.special_tokens[\"<s>\"].ids[0]: id 99 is not in the vocabulary" },
	{ TK_JSON("", ", \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": "
	              "[{\"SpecialToken\": {\"id\": \"<s>\"}}], \"special_tokens\": {\"<s>\": {\"ids\": [3]}}}"),
	  "t.json: post_processor.single: no {\"Sequence\": ...} in it" },
	{ TK_JSON("", ", \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": "
	              "[{\"Sequence\": {\"id\": \"A\"}}, {\"Sequence\": {\"id\": \"B\"}}]}"),
	  "t.json: post_processor.single[1]: a second sequence in the single template" },
	{ TK_JSON("", ", \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": "
	              "[{\"SpecialToken\": {\"id\": \"<s>\"}}], \"special_tokens\": {\"<s>\": 5}}"),
	  "t.json: post_processor.special_tokens[\"<s>\"]: expected an object, got a number" },
	{ TK_JSON("", ", \"post_processor\": {\"type\": \"RobertaProcessing\", \"sep\": [\"<s>\", 3]}"),
	  "t.json: post_processor.cls: missing" },
	{ TK_JSON("", ", \"post_processor\": {\"type\": \"BertProcessing\", \"cls\": \"<s>\"}"),
	  "t.json: post_processor.cls: expected [token, id]" },
	{ TK_JSON("", ", \"post_processor\": {\"type\": \"RobertaProcessing\", \"cls\": [\"<s>\", 99]}"),
	  "t.json: post_processor.cls: id 99 is not in the vocabulary" },
	{ TK_JSON("", ", \"post_processor\": {\"type\": \"RobertaProcessing\", \"cls\": [\"<s>\", 3], "
	              "\"sep\": [\"<s>\", \"3\"]}"),
	  "t.json: post_processor.sep: expected an integer, got a string" },
	{ NULL, NULL },
};

static void test_bad_json(void)
{
	tfm_tokenizer *t;
	tfm_error e;
	int i;

	for (i = 0; tk_bad_json[i].json != NULL; i++) {
		const char *want = tk_bad_json[i].msg;
		t = NULL;
		memset(&e, 0, sizeof e);
		if (want == NULL) {	/* the id after 4194303: no room */
			char big[256];
			snprintf(big, sizeof big, "%.*s, \"added_tokens\": [{\"id\": 0, \"content\": \"a\"}, "
			         "{\"id\": 0, \"content\": \"x\"}]}",
			         (int)strlen(tk_bad_json[i].json) - 1, tk_bad_json[i].json);
			CU_ASSERT_EQUAL(tok_open_memory(&t, big, strlen(big), "t.json", &e), -1);
			ASSERT_MSG(e.msg, "t.json: added_tokens[1]: too many tokens");
			continue;
		}
		CU_ASSERT_EQUAL(tok_open_memory(&t, tk_bad_json[i].json, strlen(tk_bad_json[i].json),
		                                "t.json", &e), -1);
		CU_ASSERT_PTR_NULL(t);
		ASSERT_MSG(e.msg, want);
	}
}

/* Errors of encode and decode. */
static void test_bad_use(void)
{
	tfm_tokenizer *t = tk_mem(TK_JSON(", \"unk_token\": \"<unk>\"", ""));
	tfm_tokenizer *h = tk_mem(TK_MODEL("\"vocab\": {\"a\": 0, \"c\": 2}, \"merges\": []"));
	tfm_tokenizer *r = tk_mem(TK_JSON("", ", \"pre_tokenizer\": {\"type\": \"Split\", "
	                                  "\"behavior\": \"Isolated\", \"pattern\": {\"Regex\": \"(a+)+$\"}}"));
	static const int bad1[] = { 0, 99 }, bad2[] = { -1 }, hole[] = { 1 };
	char aaa[64];
	int *ids;
	size_t n;
	char *txt;
	tfm_error e;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	/* unk_token is read, but only an unknown character needs it. */
	CU_ASSERT_EQUAL(tfm_tokenizer_encode(t, "ab", 2, 0, &ids, &n, &e), 0);
	free(ids);
	CU_ASSERT_EQUAL(tfm_tokenizer_encode(t, "abc", 3, 0, &ids, &n, &e), -1);
	ASSERT_MSG(e.msg, "tokenizer: model.unk_token \"<unk>\" is not in the vocabulary");
	CU_ASSERT_PTR_NULL(ids);
	CU_ASSERT_EQUAL(tfm_tokenizer_encode(t, "ab\xff", 3, 0, &ids, &n, &e), -1);
	ASSERT_MSG(e.msg, "tokenizer: the text is not UTF-8 at byte 2");
	CU_ASSERT_EQUAL(tfm_tokenizer_encode(t, "\xe6\x97", 2, 0, &ids, &n, &e), -1);
	ASSERT_MSG(e.msg, "tokenizer: the text is not UTF-8 at byte 0");
	CU_ASSERT_EQUAL(tfm_tokenizer_encode(t, "a\xc0\x80", 3, 0, &ids, &n, &e), -1);
	ASSERT_MSG(e.msg, "tokenizer: the text is not UTF-8 at byte 1");
	CU_ASSERT_EQUAL(tfm_tokenizer_encode(t, "a\xed\xa0\x80", 4, 0, &ids, &n, &e), -1);	/* a surrogate */
	ASSERT_MSG(e.msg, "tokenizer: the text is not UTF-8 at byte 1");
	CU_ASSERT_EQUAL(tfm_tokenizer_decode(t, bad1, 2, 0, &txt, &n, &e), -1);
	ASSERT_MSG(e.msg, "tokenizer: id 99 (at 1) is not in the vocabulary (4 ids)");
	CU_ASSERT_PTR_NULL(txt);
	CU_ASSERT_EQUAL(tfm_tokenizer_decode(t, bad2, 1, TFM_DECODE_SKIP_SPECIAL, &txt, &n, &e), -1);
	ASSERT_MSG(e.msg, "tokenizer: id -1 (at 0) is not in the vocabulary (4 ids)");
	CU_ASSERT_EQUAL(tfm_tokenizer_decode(h, hole, 1, 0, &txt, &n, &e), -1);
	ASSERT_MSG(e.msg, "tokenizer: id 1 (at 0) is not in the vocabulary (3 ids)");
	/* A runaway pattern stops at PCRE2's match limit. */
	memset(aaa, 'a', 40);
	aaa[40] = '!';
	CU_ASSERT_EQUAL(tfm_tokenizer_encode(r, aaa, 41, 0, &ids, &n, &e), -1);
	ASSERT_MSG(e.msg, "tokenizer: regex match failed: match limit exceeded");
	tfm_tokenizer_close(t);
	tfm_tokenizer_close(h);
	tfm_tokenizer_close(r);
}

static char tk_err_dir[TEST_DIR_MAX];

static int tk_err_setup(void)
{
	return test_dir_open(tk_err_dir, "tokerr");
}

static int tk_err_teardown(void)
{
	char sub[TEST_DIR_MAX + 16];

	snprintf(sub, sizeof sub, "%s/sub", tk_err_dir);
	test_dir_close(sub);
	snprintf(sub, sizeof sub, "%s/dir", tk_err_dir);
	test_dir_close(sub);
	return test_dir_close(tk_err_dir);
}

static void tk_expect_open_error(const char *path, const char *want)
{
	tfm_tokenizer *t = NULL;
	tfm_error e;

	memset(&e, 0, sizeof e);
	CU_ASSERT_EQUAL(tfm_tokenizer_open(&t, path, &e), -1);
	CU_ASSERT_PTR_NULL(t);
	ASSERT_MSG(e.msg, want);
}

/* Paths and model folders. */
static void test_bad_files(void)
{
	char want[TEST_DIR_MAX * 2], dir[TEST_DIR_MAX + 16], big[TEST_DIR_MAX + 16];
	const char *tj;
	FILE *fp;

	tk_expect_open_error("/nonexistent/tokenizer.json",
	                     "/nonexistent/tokenizer.json: No such file or directory");
	snprintf(want, sizeof want, "%s: no tokenizer.json or tokenizer.bin in this folder", tk_err_dir);
	tk_expect_open_error(tk_err_dir, want);
	/* tokenizer.json that is a folder */
	snprintf(dir, sizeof dir, "%s/dir", tk_err_dir);
	CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0700), 0);
	CU_ASSERT_EQUAL_FATAL(mkdir(test_path(dir, "tokenizer.json"), 0700), 0);
	snprintf(want, sizeof want, "%s/tokenizer.json: not a regular file", dir);
	tk_expect_open_error(dir, want);
	CU_ASSERT_EQUAL(rmdir(test_path(dir, "tokenizer.json")), 0);
	/* more than a tokenizer has: a sparse file of 1 GB + 1 */
	snprintf(big, sizeof big, "%s/big.json", tk_err_dir);
	fp = fopen(big, "wb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	CU_ASSERT_EQUAL(ftruncate(fileno(fp), (1 << 30) + 1), 0);
	fclose(fp);
	snprintf(want, sizeof want, "%s: 1073741825 bytes is more than a tokenizer has", big);
	tk_expect_open_error(big, want);
	unlink(big);
	/* the folder's other files */
	tj = test_path(dir, "tokenizer.json");
	CU_ASSERT_EQUAL_FATAL(tk_write_str(tj, TK_JSON("", ", \"added_tokens\": [{\"id\": 3, "
	                                   "\"content\": \"<s>\", \"special\": true}]")), 0);
	CU_ASSERT_EQUAL_FATAL(tk_write_str(test_path(dir, "tokenizer_config.json"), "{\"a\": "), 0);
	snprintf(want, sizeof want, "%s/tokenizer_config.json: not a JSON object", dir);
	tk_expect_open_error(dir, want);
	CU_ASSERT_EQUAL_FATAL(tk_write_str(test_path(dir, "tokenizer_config.json"), "[]"), 0);
	tk_expect_open_error(dir, want);
	CU_ASSERT_EQUAL_FATAL(tk_write_str(test_path(dir, "tokenizer_config.json"), "{\"x\": \"\xc3\"}"), 0);
	snprintf(want, sizeof want, "%s/tokenizer_config.json: not UTF-8 at byte 7", dir);
	tk_expect_open_error(dir, want);
	CU_ASSERT_EQUAL_FATAL(tk_write_str(test_path(dir, "tokenizer_config.json"), "{\"eos_token\": 5}"), 0);
	snprintf(want, sizeof want, "%s/tokenizer_config.json: eos_token: expected a string or "
	         "{\"content\": ...}", dir);
	tk_expect_open_error(dir, want);
	CU_ASSERT_EQUAL_FATAL(tk_write_str(test_path(dir, "tokenizer_config.json"),
	                                   "{\"bos_token\": \"<nope>\"}"), 0);
	snprintf(want, sizeof want, "%s/tokenizer_config.json: bos_token: \"<nope>\" is not a token of "
	         "the tokenizer", dir);
	tk_expect_open_error(dir, want);
	CU_ASSERT_EQUAL_FATAL(tk_write_str(test_path(dir, "tokenizer_config.json"),
	                                   "{\"add_bos_token\": \"yes\"}"), 0);
	snprintf(want, sizeof want, "%s/tokenizer_config.json: add_bos_token: expected true or false", dir);
	tk_expect_open_error(dir, want);
	CU_ASSERT_EQUAL_FATAL(tk_write_str(test_path(dir, "tokenizer_config.json"),
	                                   "{\"add_bos_token\": true}"), 0);
	snprintf(want, sizeof want, "%s/tokenizer_config.json: add_bos_token is true, but no file names "
	         "the BOS token", dir);
	tk_expect_open_error(dir, want);
	CU_ASSERT_EQUAL_FATAL(tk_write_str(test_path(dir, "tokenizer_config.json"),
	                                   "{\"add_eos_token\": true}"), 0);
	snprintf(want, sizeof want, "%s/tokenizer_config.json: add_eos_token is true, but no file names "
	         "an EOS token of the vocabulary", dir);
	tk_expect_open_error(dir, want);
	CU_ASSERT_EQUAL_FATAL(tk_write_str(test_path(dir, "config.json"), "{\"bos_token_id\": 99}"), 0);
	CU_ASSERT_EQUAL_FATAL(tk_write_str(test_path(dir, "tokenizer_config.json"),
	                                   "{\"add_bos_token\": true}"), 0);
	snprintf(want, sizeof want, "%s/tokenizer_config.json: the BOS id 99 is not in the vocabulary "
	         "(4 ids)", dir);
	tk_expect_open_error(dir, want);
	CU_ASSERT_EQUAL_FATAL(tk_write_str(test_path(dir, "config.json"), "{\"eos_token_id\": \"2\"}"), 0);
	snprintf(want, sizeof want, "%s/config.json: eos_token_id: expected a token id (an integer in "
	         "[0, 4194303])", dir);
	tk_expect_open_error(dir, want);
	CU_ASSERT_EQUAL_FATAL(tk_write_str(test_path(dir, "config.json"), "{}"), 0);
	CU_ASSERT_EQUAL_FATAL(tk_write_str(test_path(dir, "generation_config.json"),
	                                   "{\"eos_token_id\": [1, -3]}"), 0);
	snprintf(want, sizeof want, "%s/generation_config.json: eos_token_id: expected a token id (an "
	         "integer in [0, 4194303])", dir);
	tk_expect_open_error(dir, want);
	unlink(test_path(dir, "generation_config.json"));
	unlink(test_path(dir, "config.json"));
	unlink(test_path(dir, "tokenizer_config.json"));
	unlink(tj);
}

/* A tokenizer.bin image: max_token_length then n pieces, each score 0. */
static size_t tk_l2c_image(unsigned char *buf, int max_len, const char *const *pieces, int n)
{
	size_t off = 0;
	int i, len;
	float score = 0;

	memcpy(buf, &max_len, 4);
	off = 4;
	for (i = 0; i < n; i++) {
		len = (int)strlen(pieces[i]);
		memcpy(buf + off, &score, 4);
		memcpy(buf + off + 4, &len, 4);
		memcpy(buf + off + 8, pieces[i], (size_t)len);
		off += 8 + (size_t)len;
	}
	return off;
}

static void tk_expect_l2c_error(const unsigned char *img, size_t len, const char *want)
{
	tfm_tokenizer *t = NULL;
	tfm_error e;

	memset(&e, 0, sizeof e);
	CU_ASSERT_EQUAL(tok_open_memory(&t, (const char *)img, len, "t.bin", &e), -1);
	CU_ASSERT_PTR_NULL(t);
	ASSERT_MSG(e.msg, want);
}

static void test_bad_llama2c(void)
{
	static const char *const three[] = { "<unk>", "\n<s>\n", "\n</s>\n" };
	unsigned char img[256], *huge;
	tfm_tokenizer *t = NULL;
	size_t n, i;
	int *ids;
	tfm_error e;

	tk_expect_l2c_error((const unsigned char *)"abc", 3, "t.bin: 3 bytes: neither a tokenizer.json "
	                    "(which starts with '{') nor a llama2.c tokenizer.bin");
	n = tk_l2c_image(img, 0, three, 3);
	tk_expect_l2c_error(img, n, "t.bin: max_token_length 0 is not positive: not a llama2.c "
	                    "tokenizer.bin");
	n = tk_l2c_image(img, 6, three, 3);
	tk_expect_l2c_error(img, n - 8, "t.bin: token 2 is cut short at byte 30");
	tk_expect_l2c_error(img, n - 2, "t.bin: token 2: its length 6 runs past the end of the file");
	n = tk_l2c_image(img, 6, three, 2);
	tk_expect_l2c_error(img, n, "t.bin: 2 tokens: llama2.c's tokenizer has <unk>, <s> and </s> "
	                    "first");
	/* '{' then NUL is max_token_length 123, not JSON. */
	n = tk_l2c_image(img, 123, three, 3);
	CU_ASSERT_EQUAL_FATAL(tok_open_memory(&t, (const char *)img, n, "t.bin", &e), 0);
	CU_ASSERT_EQUAL(tfm_tokenizer_encode(t, "a", 1, 0, &ids, &n, &e), -1);
	ASSERT_MSG(e.msg, "tokenizer: byte 0x61 falls back to id 100, outside the vocabulary (3 ids)");
	tfm_tokenizer_close(t);
	/* More ids than the tables take: 4194305 empty pieces. */
	n = 4 + (size_t)(TOK_MAX_ID + 2) * 8;
	huge = calloc(1, n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(huge);
	huge[0] = 1;
	for (i = 4; i < n; i += 8)
		huge[i + 3] = 0x3f;	/* score 0.5 */
	tk_expect_l2c_error(huge, n, "t.bin: more than 4194304 tokens");
	free(huge);
}

/* ---- Registration ----------------------------------------------------------------- */

typedef struct tk_test {
	const char *name;
	void (*fn)(void);
} tk_test;

static const tk_test tk_golden_tests[] = {
	{ "gpt2 against Hugging Face", test_golden_gpt2 },
	{ "llama2 against Hugging Face", test_golden_llama2 },
	{ "llama3 against Hugging Face", test_golden_llama3 },
	{ "qwen3 against Hugging Face", test_golden_qwen3 },
	{ "gemma against Hugging Face", test_golden_gemma },
	{ "tiny tokenizers against Hugging Face", test_golden_tiny },
	{ "$TFM_TOKENIZER_GOLDEN against Hugging Face", test_golden_extra },
	{ "llama2.c against run.c", test_golden_llama2c },
	{ "llama2.c against Hugging Face: where they part", test_llama2c_vs_hf },
	{ "llama2.c: the differences and decode by hand", test_llama2c_pinned },
	{ "llama2.c: examples/fortune's SentencePiece ids", test_llama2c_fortune },
	{ "EOS of a bare tokenizer.json", test_eos_bare },
	{ "EOS of the packages' folders", test_eos_folder },
	{ "add_bos_token, add_eos_token, config files", test_folder_add_bos_eos },
	{ "decode raw and U+FFFD", test_decode_raw },
	{ "a long text, the empty text, NUL", test_long_and_odd },
	{ NULL, NULL },
};

static const tk_test tk_error_tests[] = {
	{ "tokenizer.json", test_bad_json },
	{ "encode and decode", test_bad_use },
	{ "paths and model folders", test_bad_files },
	{ "llama2.c tokenizer.bin", test_bad_llama2c },
	{ NULL, NULL },
};

static const tk_test tk_behave_tests[] = {
	{ "Strip decoder's stop", test_strip_stop },
	{ "added tokens", test_added_tokens },
	{ "NFC's shortcut below U+0300", test_nfc_shortcut },
	{ NULL, NULL },
};

static int tk_add(const char *name, CU_InitializeFunc init, CU_CleanupFunc cleanup,
                  const tk_test *t)
{
	CU_pSuite s = CU_add_suite(name, init, cleanup);

	if (s == NULL)
		return -1;
	for (; t->name != NULL; t++)
		if (CU_add_test(s, t->name, t->fn) == NULL)
			return -1;
	return 0;
}

int add_tokenizer_suites(void)
{
	return tk_add("text/files", tk_setup, tk_teardown, tk_golden_tests) ||
	       tk_add("text/behave", NULL, NULL, tk_behave_tests) ||
	       tk_add("text/errors", tk_err_setup, tk_err_teardown, tk_error_tests);
}
