/* bench_tokenizer.c: the tokenizers' speed, for `make bench`: the time to
 * open each tokenizer of tests/tokenizers/ and to encode and decode 1 MB of
 * text with it, on text that repeats its words (prose, code, numbers, a
 * little of other scripts, built the same way every run) and on text that
 * is one word of 1 MB (no pre-tokenizer split and no word cache to help:
 * the merge loop alone).  With the fortune package installed, its files are
 * one more text.
 *
 * It prints figures and judges none of them.  Run it from the top of the
 * tree: it unpacks the tokenizer files there with xz(1) into a temporary
 * folder.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tfm.h"

#define MB (1 << 20)
#define RUNS 3

static const char *const names[] = { "gpt2", "llama2", "llama3", "qwen3", "gemma" };
#define N_NAMES (int)(sizeof names / sizeof names[0])

static char workdir[256];

/* ---- Texts ------------------------------------------------------------------ */

static unsigned long long rng_state = 0x9e3779b97f4a7c15ull;

static unsigned rnd(unsigned n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (unsigned)(rng_state >> 33) % n;
}

static const char *const words[] = {
	"the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with", "be",
	"by", "on", "not", "he", "I", "this", "are", "or", "his", "from", "at", "which", "but",
	"have", "an", "had", "they", "you", "were", "their", "one", "all", "we", "can", "her",
	"has", "there", "been", "if", "more", "when", "will", "would", "who", "so", "no",
	"tokenizer", "transformer", "compiler", "attention", "gradient", "embedding", "layer",
	"Hello", "World", "Python", "Linux", "September", "Wednesday", "question", "answer",
	"don't", "it's", "we'll", "they're", "I've", "O'Brien", "naïve", "café", "résumé",
	"straße", "Zürich", "Ελλάδα", "Москва", "日本語", "中文", "한국어", "مرحبا", "שלום",
	"😀", "🚀", "👍🏽", "int", "return", "printf(\"%d\\n\", x);", "x += 1;", "{", "}",
	"def", "self.value", "0x1F", "3.14159", "2024", "1,000,000", "(see below)", "e.g.",
};
#define N_WORDS (sizeof words / sizeof words[0])

/* 1 MB of sentences and paragraphs from the list above, and numbers. */
static char *make_text(size_t size, size_t *len)
{
	char *t = malloc(size + 64);
	size_t n = 0;
	int in_sentence = 0;

	while (n < size) {
		const char *w;
		char num[32];
		unsigned r = rnd(100);
		if (r < 4) {
			snprintf(num, sizeof num, "%u", rnd(1000000));
			w = num;
		} else {
			w = words[rnd(N_WORDS)];
		}
		size_t k = strlen(w);
		if (n + k + 3 > size)
			break;
		if (in_sentence)
			t[n++] = ' ';
		memcpy(t + n, w, k);
		n += k;
		in_sentence = 1;
		if (rnd(12) == 0) {
			t[n++] = rnd(4) ? '.' : (rnd(2) ? '?' : '!');
			if (rnd(6) == 0) {
				t[n++] = '\n';
				if (rnd(2) == 0)
					t[n++] = '\n';
				in_sentence = 0;
			}
		} else if (rnd(15) == 0) {
			t[n++] = ',';
		}
	}
	while (n < size)
		t[n++] = ' ';
	*len = n;
	return t;
}

/* One word of size bytes: letters with no space. */
static char *make_word(size_t size, size_t *len)
{
	char *t = malloc(size);
	size_t i;

	for (i = 0; i < size; i++)
		t[i] = "abcdefghijklmnopqrstuvwxyz"[rnd(26)];
	*len = size;
	return t;
}

/* The fortune files, up to size bytes (NULL when there are none). */
static char *read_fortunes(size_t size, size_t *len)
{
	const char *dir = "/usr/share/games/fortunes";
	struct dirent **list;
	char path[512], *t;
	size_t n = 0;
	int k, i;

	k = scandir(dir, &list, NULL, alphasort);
	if (k <= 0)
		return NULL;
	t = malloc(size);
	for (i = 0; i < k; i++) {
		FILE *fp;
		size_t got;
		snprintf(path, sizeof path, "%s/%s", dir, list[i]->d_name);
		if (strchr(list[i]->d_name, '.') == NULL && n < size && (fp = fopen(path, "rb")) != NULL) {
			got = fread(t + n, 1, size - n, fp);
			n += got;
			fclose(fp);
		}
		free(list[i]);
	}
	free(list);
	/* Only whole UTF-8: the files are meant to be, but cut the last
	 * character if the size cut it. */
	while (n > 0 && ((unsigned char)t[n - 1] & 0xc0) == 0x80)
		n--;
	if (n > 0 && (unsigned char)t[n - 1] >= 0xc0)
		n--;
	if (n < size / 4) {
		free(t);
		return NULL;
	}
	*len = n;
	return t;
}

/* ---- Measuring ---------------------------------------------------------------- */

static int unpack(const char *name, const char *file, char *out, size_t size)
{
	char cmd[1024];

	snprintf(out, size, "%s/%s-%s", workdir, name, file);
	snprintf(cmd, sizeof cmd, "xz -dc tests/tokenizers/%s/%s.xz > '%s'", name, file, out);
	return system(cmd) == 0 ? 0 : -1;
}

typedef struct figures {
	double load_ms, cold_s, warm_s, decode_s;
	size_t tokens;
	int ok;
} figures;

/* Opens path RUNS times (the median time), then encodes text: once on the
 * fresh tokenizer (cold: an empty word cache), then RUNS times (the best),
 * then decodes the ids (the best of RUNS). */
static figures measure(const char *path, const char *text, size_t len, tfm_tokenizer **keep)
{
	figures f = { 0 };
	double t0, loads[RUNS], x;
	tfm_tokenizer *t = NULL;
	tfm_error e;
	int *ids = NULL, r, i, j;
	size_t n = 0, dl;
	char *out;

	for (r = 0; r < RUNS; r++) {
		if (t != NULL)
			tfm_tokenizer_close(t);
		t0 = tfm_now();
		if (tfm_tokenizer_open(&t, path, &e) != 0) {
			fprintf(stderr, "bench_tokenizer: %s\n", e.msg);
			return f;
		}
		loads[r] = (tfm_now() - t0) * 1e3;
	}
	for (i = 0; i < RUNS; i++)
		for (j = i + 1; j < RUNS; j++)
			if (loads[j] < loads[i]) {
				x = loads[i];
				loads[i] = loads[j];
				loads[j] = x;
			}
	f.load_ms = loads[RUNS / 2];
	for (r = 0; r <= RUNS; r++) {
		free(ids);
		t0 = tfm_now();
		if (tfm_tokenizer_encode(t, text, len, 0, &ids, &n, &e) != 0) {
			fprintf(stderr, "bench_tokenizer: %s: %s\n", path, e.msg);
			tfm_tokenizer_close(t);
			return f;
		}
		x = tfm_now() - t0;
		if (r == 0)
			f.cold_s = x;
		else if (r == 1 || x < f.warm_s)
			f.warm_s = x;
	}
	f.tokens = n;
	for (r = 0; r < RUNS; r++) {
		t0 = tfm_now();
		if (tfm_tokenizer_decode(t, ids, n, 0, &out, &dl, &e) != 0) {
			fprintf(stderr, "bench_tokenizer: %s: %s\n", path, e.msg);
			break;
		}
		x = tfm_now() - t0;
		if (r == 0 || x < f.decode_s)
			f.decode_s = x;
		free(out);
	}
	free(ids);
	f.ok = 1;
	if (keep != NULL)
		*keep = t;
	else
		tfm_tokenizer_close(t);
	return f;
}

static void row(const char *name, const char *text_name, size_t len, figures f)
{
	double mb = (double)len / MB;

	if (!f.ok) {
		printf("| %s | %s | failed | | | | |\n", name, text_name);
		return;
	}
	printf("| %s | %s | %.0f ms | %.3f s (%.2f MB/s) | %.3f s (%.2f MB/s) | %zu | %.3f s |\n",
	       name, text_name, f.load_ms, f.cold_s, mb / f.cold_s, f.warm_s, mb / f.warm_s,
	       f.tokens, f.decode_s);
	fflush(stdout);
}

int main(void)
{
	char path[512];
	size_t len, wlen, flen = 0;
	char *text, *word, *fort;
	figures f;
	int i;

	snprintf(workdir, sizeof workdir, "%s/tfmc-bench-tok-XXXXXX",
	         getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(workdir) == NULL) {
		perror("bench_tokenizer: mkdtemp");
		return 1;
	}
	text = make_text(MB, &len);
	word = make_word(MB, &wlen);
	fort = read_fortunes(MB, &flen);
	printf("\n### Tokenizers (runtime/text/)\n\n");
	printf("Open: the median of %d; encode: a fresh tokenizer (cold: an empty word cache), then "
	       "the best of %d (warm); decode: the best of %d, of all the ids.  \"text\" is 1 MB of "
	       "generated prose, code and numbers; \"one word\" is 1 MB of letters without a space.\n\n",
	       RUNS, RUNS, RUNS);
	printf("| tokenizer | text | open | encode, cold | encode, warm | tokens | decode |\n");
	printf("|---|---|---|---|---|---|---|\n");
	for (i = 0; i < N_NAMES; i++) {
		if (unpack(names[i], "tokenizer.json", path, sizeof path) != 0) {
			fprintf(stderr, "bench_tokenizer: cannot unpack %s (is xz installed?)\n", names[i]);
			continue;
		}
		row(names[i], "text", len, measure(path, text, len, NULL));
		if (strcmp(names[i], "gpt2") == 0 || strcmp(names[i], "llama2") == 0 ||
		    strcmp(names[i], "qwen3") == 0)
			row(names[i], "one word", wlen, measure(path, word, wlen, NULL));
		if (fort != NULL && strcmp(names[i], "qwen3") == 0)
			row(names[i], "fortunes", flen, measure(path, fort, flen, NULL));
		unlink(path);
	}
	if (unpack("llama2c", "tokenizer.bin", path, sizeof path) == 0) {
		f = measure(path, text, len, NULL);
		row("llama2.c", "text", len, f);
		row("llama2.c", "one word", wlen, measure(path, word, wlen, NULL));
		unlink(path);
	}
	rmdir(workdir);
	free(text);
	free(word);
	free(fort);
	return 0;
}
