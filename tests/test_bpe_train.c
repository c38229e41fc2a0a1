/* test_bpe_train.c: CUnit suite for the tokenizer trainer
 * (runtime/text/bpe_train.c, tfmc tokenize --train).
 *
 *   text/train   the written tokenizer.json read back by the reader: text
 *                round-trips (multibyte UTF-8, whitespace runs, digits,
 *                text never seen), the same input gives the same bytes (the
 *                library and the command), the reader's ids equal this
 *                file's own application of the merges (in rank order, each
 *                merge over every pre-token word, left to right), the
 *                vocabulary is the size asked for, a text that runs out of
 *                pairs, every bad input's message; and a speed figure on
 *                Debian's fortunes (printed, not asserted)
 */
#include <CUnit/CUnit.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tfm.h"
#include "tok_internal.h"
#include "testutil.h"

#define TR_FORTUNES "/usr/share/games/fortunes"
#define TR_EOT "<|endoftext|>"

static const char *const tr_eot[] = { TR_EOT };

/* An integer and what it should be, both shown when they differ. */
#define TR_EQ(got, want) do { \
	long g_ = (long)(got), w_ = (long)(want); \
	if (g_ != w_) \
		fprintf(stderr, "\n    %s: got %ld, want %ld\n", #got, g_, w_); \
	CU_ASSERT_EQUAL(g_, w_); \
} while (0)

/* ---- Texts ------------------------------------------------------------------ */

static const char *const tr_lines[] = {
	"The quick brown fox jumps over the lazy dog; the dog doesn't mind.\n",
	"I'm sure we'll see they've done what you'd say it's for.\n",
	"naïve café résumé: Zürich, São Paulo, Kraków, Ærøskøbing\n",
	"日本語のテキストと中文文本，还有한국어 텍스트。\n",
	"Ελληνικά και русский текст, עברית ועربية\n",
	"emoji 🎉🎉🎉 👍🏽 👩‍💻 and a flag 🇫🇷\n",
	"    indented\tcode:  x = 42;   y = x * 1000;\n",
	"digits 0123456789 3.14159 2026-12-01 1,000,000 ٣٤٥\n",
	"\n\n\n   \t  \n",
	"trailing spaces   \n\r\nwindows line\r\n",
};

/* A corpus of some 40 KB: the lines over and over, numbered, with
 * <|endoftext|> between the documents; malloc'ed. */
static char *tr_corpus(size_t *len)
{
	tok_buf b = { 0 };
	char num[64];
	size_t i, k;

	for (i = 0; i < 60; i++) {
		for (k = 0; k < sizeof tr_lines / sizeof tr_lines[0]; k++) {
			snprintf(num, sizeof num, "%zu. ", i * 7 + k);
			tok_buf_add(&b, num, strlen(num));
			tok_buf_add(&b, tr_lines[(k + i) % (sizeof tr_lines / sizeof tr_lines[0])],
			            strlen(tr_lines[(k + i) % (sizeof tr_lines / sizeof tr_lines[0])]));
		}
		if (i % 10 == 9)
			tok_buf_add(&b, TR_EOT, strlen(TR_EOT));
	}
	*len = b.len;
	return b.p;
}

static char *tr_read(const char *path, size_t *len)
{
	char *data = NULL;
	int missing;

	return tok_read_file(path, &data, len, &missing, NULL) == 0 ? data : NULL;
}

/* Trains on one text; the JSON or NULL (the message in *e). */
static char *tr_train(const char *text, size_t len, int vocab, const char *const *special,
                      int n_special, size_t *json_len, tfm_bpe_stats *st, tfm_error *e)
{
	tfm_bpe_text t = { "corpus", text, len };
	char *json;

	if (tfm_bpe_train(&t, 1, vocab, special, n_special, &json, json_len, st, e) != 0)
		return NULL;
	return json;
}

static tfm_tokenizer *tr_open(const char *json, size_t len)
{
	tfm_tokenizer *t = NULL;
	tfm_error e;

	if (tok_open_memory(&t, json, len, "trained", &e) != 0)
		fprintf(stderr, "\n    %s\n", e.msg);
	return t;
}

/* decode(encode(x)) == x */
static int tr_round_trip(tfm_tokenizer *t, const char *x, size_t len)
{
	int *ids = NULL, ok = 0;
	size_t n, back_len;
	char *back = NULL;
	tfm_error e;

	if (tfm_tokenizer_encode(t, x, len, 0, &ids, &n, &e) == 0 &&
	    tfm_tokenizer_decode(t, ids, n, 0, &back, &back_len, &e) == 0)
		ok = back_len == len && memcmp(back, x, len) == 0;
	if (!ok)
		fprintf(stderr, "\n    no round trip for \"%.60s\"\n", x);
	free(ids);
	free(back);
	return ok;
}

/* ---- The merges applied here, simply ---------------------------------------- */

/* The file read with cJSON: its vocabulary, and per rank the ids of the
 * merge's left, right and result. */
typedef struct tr_model {
	tok_map vocab;
	int (*merge)[3];
	int n_merges, byte_id[256];
} tr_model;

static int tr_model_read(tr_model *m, const char *json)
{
	cJSON *root = cJSON_Parse(json), *model, *x;
	char cat[1024];
	int i = 0, b;

	memset(m, 0, sizeof *m);
	if (root == NULL || (model = cJSON_GetObjectItem(root, "model")) == NULL)
		goto bad;
	for (x = cJSON_GetObjectItem(model, "vocab")->child; x != NULL; x = x->next)
		tok_map_set(&m->vocab, x->string, strlen(x->string), x->valueint);
	x = cJSON_GetObjectItem(model, "merges");
	m->n_merges = cJSON_GetArraySize(x);
	m->merge = calloc((size_t)m->n_merges + 1, sizeof *m->merge);
	for (x = x->child; x != NULL; x = x->next, i++) {
		const char *l = x->child->valuestring, *r = x->child->next->valuestring;
		snprintf(cat, sizeof cat, "%s%s", l, r);
		m->merge[i][0] = tok_map_get(&m->vocab, l, strlen(l));
		m->merge[i][1] = tok_map_get(&m->vocab, r, strlen(r));
		m->merge[i][2] = tok_map_get(&m->vocab, cat, strlen(cat));
		if (m->merge[i][0] < 0 || m->merge[i][1] < 0 || m->merge[i][2] < 0)
			goto bad;
	}
	for (b = 0; b < 256; b++) {
		tok_buf s = { 0 };
		tok_utf8_put(&s, tok_byte_char((unsigned)b));
		m->byte_id[b] = tok_map_get(&m->vocab, s.p, s.len);
		tok_buf_free(&s);
		if (m->byte_id[b] < 0)
			goto bad;
	}
	cJSON_Delete(root);
	return 0;
bad:
	cJSON_Delete(root);
	return -1;
}

static void tr_model_free(tr_model *m)
{
	tok_map_free(&m->vocab);
	free(m->merge);
}

/* One word's ids: its bytes, then each merge in rank order over the whole
 * word, left to right. */
static void tr_word(const tr_model *m, const char *s, size_t len, tok_ids *out)
{
	int *w = malloc((len + 1) * sizeof *w);
	size_t n = len, i, j;
	int r;

	for (i = 0; i < len; i++)
		w[i] = m->byte_id[(unsigned char)s[i]];
	for (r = 0; r < m->n_merges && n > 1; r++) {
		for (i = j = 0; i < n; j++) {
			if (i + 1 < n && w[i] == m->merge[r][0] && w[i + 1] == m->merge[r][1]) {
				w[j] = m->merge[r][2];
				i += 2;
			} else {
				w[j] = w[i++];
			}
		}
		n = j;
	}
	tok_ids_add(out, w, n);
	free(w);
}

/* The ids of a text: <|endoftext|> cut out (eot its id), GPT-2's regex on
 * the rest, tr_word on each word; distinct words cached. */
static void tr_ids(const tr_model *m, const char *text, size_t len, int eot, tok_ids *out)
{
	tok_regex *re = NULL;
	tok_spans sp = { 0 };
	tok_map cache = { 0 };
	tok_ids store = { 0 };
	size_t at = 0, end, k, i;
	const char *hit;
	tfm_error e;

	CU_ASSERT_FATAL(tok_regex_new(&re, tok_gpt2_regex, strlen(tok_gpt2_regex), 0, "test", &e) == 0);
	while (at < len) {
		hit = strstr(text + at, TR_EOT);
		end = hit != NULL && (size_t)(hit - text) < len ? (size_t)(hit - text) : len;
		if (end > at) {
			CU_ASSERT_FATAL(tok_regex_spans(re, text + at, end - at, &sp, &e) == 0);
			for (k = 0; k < sp.n; k++) {
				const char *s = text + at + sp.p[k].s;
				size_t n = sp.p[k].e - sp.p[k].s;
				int c;
				if (n == 0)
					continue;
				if ((c = tok_map_get(&cache, s, n)) < 0) {
					c = (int)store.n;
					tok_ids_push(&store, 0);
					tr_word(m, s, n, &store);
					store.p[c] = (int)(store.n - (size_t)c - 1);
					tok_map_set(&cache, s, n, c);
				}
				for (i = 0; i < (size_t)store.p[c]; i++)
					tok_ids_push(out, store.p[c + 1 + i]);
			}
		}
		if (end == len)
			break;
		tok_ids_push(out, eot);
		at = end + strlen(TR_EOT);
	}
	tok_regex_free(re);
	tok_spans_free(&sp);
	tok_map_free(&cache);
	tok_ids_free(&store);
}

/* The reader's ids for text against tr_ids, and their count against the
 * trainer's. */
static void tr_check_ids(const char *json, size_t json_len, const char *text, size_t len,
                         const tfm_bpe_stats *st)
{
	tfm_tokenizer *t = tr_open(json, json_len);
	tok_ids mine = { 0 };
	tr_model m;
	int *ids = NULL;
	size_t n = 0, i, first = (size_t)-1;
	tfm_error e;

	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_FATAL(tr_model_read(&m, json) == 0);
	CU_ASSERT_FATAL(tfm_tokenizer_encode(t, text, len, 0, &ids, &n, &e) == 0);
	tr_ids(&m, text, len, tfm_tokenizer_vocab(t) - 1, &mine);
	TR_EQ(n, mine.n);
	TR_EQ(n, st->tokens);
	for (i = 0; i < n && i < mine.n && first == (size_t)-1; i++)
		if (ids[i] != mine.p[i])
			first = i;
	if (first != (size_t)-1)
		fprintf(stderr, "\n    first difference at token %zu: %d, here %d\n", first, ids[first],
		        mine.p[first]);
	CU_ASSERT(first == (size_t)-1);
	tr_model_free(&m);
	tok_ids_free(&mine);
	free(ids);
	tfm_tokenizer_close(t);
}

/* ---- Tests -------------------------------------------------------------------- */

static void test_round_trip(void)
{
	static const char *const unseen[] = {
		"", " ", "\n", "x", "   leading and trailing   ", "tabs\t\t\tand\n\n\nnewlines\r\n",
		"Ünïcödé 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ∑∫∂ 🧪🧬 ‍ zero width joiner", "Ελληνικά ქართული हिन्दी ไทย",
		"0 00 000 0000 123456789012345678901234567890", "text with " TR_EOT " inside it" TR_EOT,
		"I'd've thought y'all'd've", "\xc2\xa0nbsp and\xe2\x80\x83" "em space",
	};
	size_t len, jl, i;
	char *text = tr_corpus(&len), *json;
	tfm_bpe_stats st;
	tfm_tokenizer *t;
	tfm_error e;

	json = tr_train(text, len, 600, tr_eot, 1, &jl, &st, &e);
	CU_ASSERT_FATAL(json != NULL);
	CU_ASSERT_FATAL((t = tr_open(json, jl)) != NULL);
	CU_ASSERT(tr_round_trip(t, text, len));
	for (i = 0; i < sizeof tr_lines / sizeof tr_lines[0]; i++)
		CU_ASSERT(tr_round_trip(t, tr_lines[i], strlen(tr_lines[i])));
	for (i = 0; i < sizeof unseen / sizeof unseen[0]; i++)
		CU_ASSERT(tr_round_trip(t, unseen[i], strlen(unseen[i])));
	tfm_tokenizer_close(t);
	free(json);
	free(text);
}

static void test_deterministic(void)
{
	char dir[TEST_DIR_MAX], *text, *j1, *j2, *file;
	size_t len, l1, l2, fl;
	tfm_bpe_stats st;
	tfm_error e;
	FILE *f;

	text = tr_corpus(&len);
	j1 = tr_train(text, len, 700, tr_eot, 1, &l1, &st, &e);
	j2 = tr_train(text, len, 700, tr_eot, 1, &l2, &st, &e);
	CU_ASSERT_FATAL(j1 != NULL && j2 != NULL);
	CU_ASSERT(l1 == l2 && memcmp(j1, j2, l1) == 0);
	/* The command writes what the library returns, each time. */
	CU_ASSERT_FATAL(test_dir_open(dir, "bpe-det") == 0);
	CU_ASSERT_FATAL((f = fopen(test_path(dir, "corpus"), "wb")) != NULL);
	CU_ASSERT(fwrite(text, 1, len, f) == len);
	fclose(f);
	TR_EQ(test_sh("./tfmc tokenize --train %s --vocab 700 -o %s 2>/dev/null", test_path(dir, "corpus"),
	              test_path(dir, "a.json")), 0);
	TR_EQ(test_sh("./tfmc tokenize --train %s --vocab 700 -o %s 2>/dev/null", test_path(dir, "corpus"),
	              test_path(dir, "b.json")), 0);
	TR_EQ(test_sh("cmp -s %s %s", test_path(dir, "a.json"), test_path(dir, "b.json")), 0);
	CU_ASSERT_FATAL((file = tr_read(test_path(dir, "a.json"), &fl)) != NULL);
	CU_ASSERT(fl == l1 && memcmp(file, j1, l1) == 0);
	free(file);
	test_dir_close(dir);
	free(j1);
	free(j2);
	free(text);
}

static void test_reader_ids(void)
{
	size_t len, jl;
	char *text = tr_corpus(&len), *json;
	tfm_bpe_stats st;
	tfm_error e;

	json = tr_train(text, len, 800, tr_eot, 1, &jl, &st, &e);
	CU_ASSERT_FATAL(json != NULL);
	tr_check_ids(json, jl, text, len, &st);
	free(json);
	free(text);
	/* A real text: a fortunes file, with 1791 merges. */
	text = tr_read(TR_FORTUNES "/computers", &len);
	if (text == NULL) {
		CU_FAIL("no " TR_FORTUNES "/computers: the Debian package fortunes (make installs it)");
		return;
	}
	json = tr_train(text, len, 2048, tr_eot, 1, &jl, &st, &e);
	CU_ASSERT_FATAL(json != NULL);
	tr_check_ids(json, jl, text, len, &st);
	free(json);
	free(text);
}

/* The number of merges in a file. */
static int tr_n_merges(const char *json)
{
	cJSON *root = cJSON_Parse(json);
	int n = cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "model"), "merges"));
	cJSON_Delete(root);
	return n;
}

static void test_vocab_size(void)
{
	static const char *const three[] = { "<|endoftext|>", "<|pad|>", "<s>" };
	static const int sizes[] = { 257, 300, 1000 };
	size_t len, jl, i, n;
	char *text = tr_corpus(&len), *json;
	tfm_bpe_stats st;
	tfm_tokenizer *t;
	tfm_error e;
	int *ids;

	for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		json = tr_train(text, len, sizes[i], tr_eot, 1, &jl, &st, &e);
		CU_ASSERT_FATAL(json != NULL);
		TR_EQ(st.vocab, sizes[i]);
		TR_EQ(st.merges, sizes[i] - 257);
		TR_EQ(tr_n_merges(json), sizes[i] - 257);
		CU_ASSERT_FATAL((t = tr_open(json, jl)) != NULL);
		TR_EQ(tfm_tokenizer_vocab(t), sizes[i]);
		CU_ASSERT(tfm_tokenizer_is_eos(t, sizes[i] - 1));
		tfm_tokenizer_close(t);
		free(json);
	}
	/* Three special tokens: the last three ids, in order, found in text. */
	json = tr_train(text, len, 512, three, 3, &jl, &st, &e);
	CU_ASSERT_FATAL(json != NULL);
	TR_EQ(st.merges, 512 - 259);
	CU_ASSERT_FATAL((t = tr_open(json, jl)) != NULL);
	TR_EQ(tfm_tokenizer_vocab(t), 512);
	CU_ASSERT_FATAL(tfm_tokenizer_encode(t, "<s>a<|pad|><|endoftext|>", 24, 0, &ids, &n, &e) == 0);
	TR_EQ(n, 4);
	if (n == 4) {
		TR_EQ(ids[0], 511);
		TR_EQ(ids[2], 510);
		TR_EQ(ids[3], 509);
	}
	free(ids);
	tfm_tokenizer_close(t);
	free(json);
	free(text);
}

/* A text with fewer pairs than the vocabulary asks for stops early. */
static void test_runs_out(void)
{
	tfm_bpe_stats st;
	tfm_tokenizer *t;
	tfm_error e;
	size_t jl;
	char *json = tr_train("ab ab", 5, 1000, tr_eot, 1, &jl, &st, &e);

	CU_ASSERT_FATAL(json != NULL);
	TR_EQ(st.merges, 2);	/* "a b", then " ab" */
	TR_EQ(st.vocab, 259);
	TR_EQ(st.words, 2);
	TR_EQ(st.distinct, 2);
	TR_EQ(st.tokens, 2);
	CU_ASSERT_FATAL((t = tr_open(json, jl)) != NULL);
	TR_EQ(tfm_tokenizer_vocab(t), 259);
	tfm_tokenizer_close(t);
	free(json);
}

static void test_speed(void)
{
	static const char *const files[] = { "computers", "cookie", "people" };
	tfm_bpe_text texts[3];
	tfm_bpe_stats st;
	struct timespec t0, t1;
	char path[256], *json = NULL;
	size_t jl;
	tfm_error e;
	int i;

	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof path, TR_FORTUNES "/%s", files[i]);
		texts[i].name = files[i];
		if ((texts[i].data = tr_read(path, &texts[i].len)) == NULL) {
			CU_FAIL("no " TR_FORTUNES ": the Debian package fortunes (make installs it)");
			while (i-- > 0)
				free((char *)texts[i].data);
			return;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CU_ASSERT(tfm_bpe_train(texts, 3, 4096, tr_eot, 1, &json, &jl, &st, &e) == 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	TR_EQ(st.vocab, 4096);
	printf("\n    fortunes computers+cookie+people, %zu bytes, vocab 4096: %.3f s, "
	       "%.4f tokens per byte ", st.bytes,
	       (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec),
	       (double)st.tokens / (double)st.bytes);
	free(json);
	for (i = 0; i < 3; i++)
		free((char *)texts[i].data);
}

/* The message of a training that must fail. */
static const char *tr_fail(const tfm_bpe_text *texts, int n, int vocab, const char *const *special,
                           int n_special)
{
	static tfm_error e;
	tfm_bpe_stats st;
	char *json = NULL;
	size_t jl;

	e.msg[0] = 0;
	CU_ASSERT(tfm_bpe_train(texts, n, vocab, special, n_special, &json, &jl, &st, &e) == -1);
	CU_ASSERT(json == NULL);
	free(json);
	return e.msg;
}

static void test_bad_input(void)
{
	static const char *const empty[] = { "" }, *const twice[] = { "<a>", "<b>", "<a>" };
	static const char *const clash[] = { "\xc4\xa0" };	/* Ġ: how the byte ' ' is spelled */
	tfm_bpe_text ok = { "ok.txt", "hello hello", 11 };
	tfm_bpe_text none = { "empty.txt", "", 0 };
	tfm_bpe_text bad[2] = { { "ok.txt", "fine", 4 }, { "bad.txt", "line 1\nline \xff 2\n", 16 } };
	char dir[TEST_DIR_MAX];

	ASSERT_MSG(tr_fail(&ok, 1, 256, tr_eot, 1),
	           "tokenizer training: a vocabulary of 256 is too small: it holds the 256 bytes and "
	           "1 special token, so 257 at least");
	ASSERT_MSG(tr_fail(&ok, 1, 258, twice, 3),
	           "tokenizer training: special token \"<a>\" is given twice");
	ASSERT_MSG(tr_fail(&ok, 1, 300, empty, 1), "tokenizer training: special token 1 is empty");
	ASSERT_MSG(tr_fail(&ok, 1, 300, clash, 1),
	           "tokenizer training: the special token \"\xc4\xa0\" is also the spelling of token 32");
	ASSERT_MSG(tr_fail(&ok, 0, 300, tr_eot, 1), "tokenizer training: no text");
	ASSERT_MSG(tr_fail(&none, 1, 300, tr_eot, 1), "empty.txt: empty: nothing to train on");
	ASSERT_MSG(tr_fail(bad, 2, 300, tr_eot, 1), "bad.txt:2: not UTF-8 at byte 12 (0xff)");

	/* The command: its messages and exit codes. */
	CU_ASSERT_FATAL(test_dir_open(dir, "bpe-bad") == 0);
	test_sh("printf 'some text, some text' > %s", test_path(dir, "t.txt"));
	test_sh("printf 'ok\\n\\377\\n' > %s", test_path(dir, "bad.txt"));
	TR_EQ(test_sh("./tfmc tokenize --train %s --vocab 256 -o %s 2>%s", test_path(dir, "t.txt"),
	              test_path(dir, "o.json"), test_path(dir, "err")), 2);
	ASSERT_MSG(test_slurp(test_path(dir, "err")),
	           "tfmc: error: --vocab 256 is too small: the 256 bytes and 1 special token need 257 "
	           "ids\n(see tfmc --help)\n");
	TR_EQ(test_sh("./tfmc tokenize --train %s/missing.txt --vocab 300 -o %s 2>%s", dir,
	              test_path(dir, "o.json"), test_path(dir, "err")), 2);
	ASSERT_HAS(test_slurp(test_path(dir, "err")), "missing.txt: No such file or directory");
	TR_EQ(test_sh("./tfmc tokenize --train %s --vocab 300 -o %s/no/such/dir.json 2>%s",
	              test_path(dir, "t.txt"), dir, test_path(dir, "err")), 2);
	ASSERT_HAS(test_slurp(test_path(dir, "err")), "/no/such/dir.json': No such file or directory");
	TR_EQ(test_sh("./tfmc tokenize --train %s --vocab 300 -o %s 2>%s", test_path(dir, "bad.txt"),
	              test_path(dir, "o.json"), test_path(dir, "err")), 1);
	ASSERT_HAS(test_slurp(test_path(dir, "err")), "bad.txt:2: not UTF-8 at byte 3 (0xff)\n");
	TR_EQ(test_sh("./tfmc tokenize --train %s -o %s 2>/dev/null", test_path(dir, "t.txt"),
	              test_path(dir, "o.json")), 2);
	TR_EQ(test_sh("./tfmc tokenize --train %s --vocab 3x -o %s 2>/dev/null", test_path(dir, "t.txt"),
	              test_path(dir, "o.json")), 2);
	/* And one that works: the summary, then the file in use. */
	TR_EQ(test_sh("./tfmc tokenize --train %s --vocab 300 --special '<eos>' -o %s 2>%s",
	              test_path(dir, "t.txt"), test_path(dir, "o.json"), test_path(dir, "err")), 0);
	/* "some", " text", ",", " some", " text": 3 + 4 + 1 merges make each
	 * word one token. */
	ASSERT_HAS(test_slurp(test_path(dir, "err")), "vocab 265 (256 bytes, 8 merges, 1 special), "
	           "from 20 bytes of text (5 words, 4 distinct) in ");
	ASSERT_HAS(test_slurp(test_path(dir, "err")), " s; 0.2500 tokens per byte on it\n"
	           "tfmc: note: the text has no more pairs to merge: vocab 265, not 300\n");
	TR_EQ(test_sh("./tfmc tokenize %s %s > %s", test_path(dir, "o.json"), test_path(dir, "t.txt"),
	              test_path(dir, "ids")), 0);
	TR_EQ(test_sh("./tfmc tokenize %s --decode %s | cmp -s - %s", test_path(dir, "o.json"),
	              test_path(dir, "ids"), test_path(dir, "t.txt")), 0);
	test_dir_close(dir);
}

int add_bpe_train_suites(void)
{
	static const struct {
		const char *name;
		CU_TestFunc fn;
	} tests[] = {
		{ "round trip", test_round_trip },
		{ "deterministic", test_deterministic },
		{ "the reader's ids are the merges'", test_reader_ids },
		{ "vocabulary size and special tokens", test_vocab_size },
		{ "a text that runs out of pairs", test_runs_out },
		{ "bad input", test_bad_input },
		{ "speed on fortunes", test_speed },
	};
	CU_pSuite s = CU_add_suite("text/train", NULL, NULL);
	size_t i;

	if (s == NULL)
		return -1;
	for (i = 0; i < sizeof tests / sizeof tests[0]; i++)
		if (CU_add_test(s, tests[i].name, tests[i].fn) == NULL)
			return -1;
	return 0;
}
