/* fuzz_tokenizer.c: libFuzzer target for the tokenizer file readers: each
 * input is a whole file, a tokenizer.json or a llama2.c tokenizer.bin (as
 * tok_open_memory tells them apart).  When it opens, a few texts are
 * encoded with and without the special tokens and decoded every way, and
 * ids around the vocabulary's ends are decoded, so that whatever the file
 * set up (regexes, normalizers, templates, decoders) runs under ASan.  The
 * same input is read as each config file of a model folder too
 * (tokenizer_config.json's fields sit beside tokenizer.json's).
 *
 *     make fuzz
 *     build-fuzz/fuzz-tokenizer -max_total_time=300 -dict=fuzz/tokenizer.dict \
 *         fuzz/corpus-tokenizer fuzz/seeds-tokenizer
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fz_texts[] = {
	"Hello, world! It's 2024.", "  spaces\tand\nlines\r\n", "<s>special</s> <|endoftext|>",
	"caf\xc3\xa9 cafe\xcc\x81 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80", "", "\xe2\x96\x81x",
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", "\xff",
};

static volatile size_t fz_sink;

/* A failure must leave a message. */
static void fz_check(int rc, const tfm_error *e)
{
	if (rc != 0 && (memchr(e->msg, '\0', sizeof e->msg) == NULL || e->msg[0] == '\0'))
		__builtin_trap();
}

static void fz_decode(tfm_tokenizer *t, const int *ids, size_t n)
{
	static const int flags[] = { 0, TFM_DECODE_SKIP_SPECIAL, TFM_DECODE_RAW,
		                     TFM_DECODE_SKIP_SPECIAL | TFM_DECODE_RAW };
	tfm_error e;
	size_t k, len;
	char *text;
	int rc;

	for (k = 0; k < 4; k++) {
		memset(&e, 0, sizeof e);
		rc = tfm_tokenizer_decode(t, ids, n, flags[k], &text, &len, &e);
		fz_check(rc, &e);
		if (rc == 0) {
			if (text[len] != '\0')
				__builtin_trap();
			fz_sink += len;
			free(text);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tfm_tokenizer *t = NULL;
	tfm_error e;
	size_t i, n;
	int *ids, v, probe[6], rc;

	memset(&e, 0, sizeof e);
	rc = tok_open_memory(&t, (const char *)data, size, "fuzz.json", &e);
	fz_check(rc, &e);
	if (rc != 0) {
		if (t != NULL)
			__builtin_trap();
		return 0;
	}
	/* The same bytes as a model folder's config files: whatever they set,
	 * encode below must still give ids it can decode. */
	for (i = 0; i < 3; i++) {
		static const char *const paths[3] = { "tc.json", "gc.json", "c.json" };
		const char *texts[3] = { NULL, NULL, NULL };
		size_t lens[3] = { 0, 0, 0 };
		texts[i] = (const char *)data;
		lens[i] = size;
		memset(&e, 0, sizeof e);
		fz_check(tok_hf_config_text(t, paths, texts, lens, &e), &e);
	}
	v = tfm_tokenizer_vocab(t);
	fz_sink += (size_t)tfm_tokenizer_bos(t) + (size_t)tfm_tokenizer_is_eos(t, 0);
	for (i = 0; i < sizeof fz_texts / sizeof fz_texts[0]; i++) {
		int sp;
		for (sp = 0; sp < 2; sp++) {
			memset(&e, 0, sizeof e);
			rc = tfm_tokenizer_encode(t, fz_texts[i], strlen(fz_texts[i]), sp, &ids, &n, &e);
			fz_check(rc, &e);
			if (rc != 0)
				continue;
			for (size_t k = 0; k < n; k++)	/* encode gives only ids it can decode */
				if (ids[k] < 0 || ids[k] >= v || t->piece_len[ids[k]] == UINT32_MAX)
					__builtin_trap();
			fz_decode(t, ids, n);
			free(ids);
		}
	}
	probe[0] = 0;
	probe[1] = v - 1;
	probe[2] = v / 2;
	probe[3] = v;
	probe[4] = -1;
	probe[5] = 1 < v ? 1 : 0;
	fz_decode(t, probe, 3);
	fz_decode(t, probe + 3, 1);
	fz_decode(t, probe + 4, 2);
	tfm_tokenizer_close(t);
	return 0;
}
