/* fuzz_encode.c: libFuzzer target for encode and decode on arbitrary text,
 * with four small tokenizers built at start-up:
 *
 *   0  byte-level BPE with GPT-2's pre-tokenizer and an added token: decode
 *      must give the text back, byte for byte
 *   1  SentencePiece-style BPE as Llama 2's (Prepend and Replace, byte
 *      fallback, the Strip decoder): the text back when it holds no '▁'
 *      and no special token's string
 *   2  NFKC and Lowercase, a Split regex, Metaspace (first), Digits, added
 *      tokens with lstrip, rstrip, single_word and normalized, a template
 *      with BOS and EOS
 *   3  llama2.c's tokenizer.bin with tokenizer 1's vocabulary: the text
 *      back after BOS when it holds no NUL
 *
 * The first input byte picks the tokenizer (bits 0-1) and add_special (bit
 * 2); the rest is the text.  The same bytes, read as ids, are decoded too.
 *
 *     make fuzz
 *     build-fuzz/fuzz-encode -max_total_time=300 fuzz/corpus-encode fuzz/seeds-encode
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static tfm_tokenizer *fz_tok[4];
static volatile size_t fz_sink;

/* Words whose pieces the merges build, letter by letter; ' ' is the word
 * boundary of each style. */
static const char *const fz_words[] = {
	" the", " a", " and", "in", "er", "an", "re", "on", " t", " w", " s", "ou", " h", "is",
	" c", "  ", "    ", "\n\n", " 1", "00", "ing", " of", "ed", " to", "it", "'s", " Hello",
	" world", "\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac", " \xf0\x9f\x98\x80", "12", "123", "...",
};

/* A JSON string of s[len]. */
static void fz_json_str(tok_buf *b, const char *s, size_t len)
{
	char esc[8];
	size_t i;

	tok_buf_add(b, "\"", 1);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			tok_buf_add(b, esc, 2);
		} else if (c < 0x20) {
			snprintf(esc, sizeof esc, "\\u%04x", c);
			tok_buf_add(b, esc, 6);
		} else {
			tok_buf_add(b, s + i, 1);
		}
	}
	tok_buf_add(b, "\"", 1);
}

static void fz_add(tok_buf *b, const char *s)
{
	tok_buf_add(b, s, strlen(s));
}

/* Adds piece p[len] with the next id, unless it is there. */
static void fz_piece(tok_buf *b, tok_map *vocab, tok_pieces *pieces, int *id, const char *p,
                     size_t len)
{
	char num[16];

	if (tok_map_get(vocab, p, len) >= 0)
		return;
	tok_map_set(vocab, p, len, *id);
	tok_pieces_add(pieces, p, len, 0);
	if (*id > 0)
		fz_add(b, ", ");
	fz_json_str(b, p, len);
	snprintf(num, sizeof num, ": %d", (*id)++);
	fz_add(b, num);
}

/* The vocabulary and merges of one style: byte-level (pieces of byte
 * characters) or SentencePiece (<unk> <s> </s>, <0xXX>, text with ' ' as
 * '▁').  Each word of fz_words is its units (byte characters, or
 * characters) merged left to right.  Appends "vocab": {...}, "merges":
 * [...] to b, and the pieces in id order to pieces (for tokenizer.bin). */
static void fz_vocab(tok_buf *b, int bytelevel, tok_pieces *pieces)
{
	static const char *const ctl[] = { "<unk>", "<s>", "</s>" };
	tok_map vocab = { 0 };
	tok_buf merges = { 0 }, w = { 0 }, u = { 0 };
	int id = 0, n_merges = 0;
	size_t i, j, k, q, wl;
	char name[16];
	int32_t cp;

	fz_add(b, "\"vocab\": {");
	for (i = 0; !bytelevel && i < 3; i++)
		fz_piece(b, &vocab, pieces, &id, ctl[i], strlen(ctl[i]));
	for (i = 0; i < 256; i++) {
		u.len = 0;
		if (bytelevel) {
			tok_utf8_put(&u, tok_byte_char((unsigned)i));
		} else {
			snprintf(name, sizeof name, "<0x%02X>", (unsigned)i);
			tok_buf_add(&u, name, 6);
		}
		fz_piece(b, &vocab, pieces, &id, u.p, u.len);
	}
	for (i = 0; i < sizeof fz_words / sizeof fz_words[0]; i++) {
		const char *s = fz_words[i];
		size_t n = strlen(s);
		w.len = 0;
		for (j = 0; j < n; j += k) {
			k = tok_utf8_next(s + j, n - j, &cp);
			for (q = 0; q < (bytelevel ? k : 1); q++) {
				u.len = 0;
				if (bytelevel)
					tok_utf8_put(&u, tok_byte_char((unsigned char)s[j + q]));
				else if (s[j] == ' ')
					tok_buf_add(&u, "\xe2\x96\x81", 3);
				else
					tok_buf_add(&u, s + j, k);
				fz_piece(b, &vocab, pieces, &id, u.p, u.len);
				wl = w.len;
				tok_buf_add(&w, u.p, u.len);
				if (wl == 0 || tok_map_get(&vocab, w.p, w.len) >= 0)
					continue;
				fz_add(&merges, n_merges++ ? ", [" : "[");
				fz_json_str(&merges, w.p, wl);
				fz_add(&merges, ", ");
				fz_json_str(&merges, u.p, u.len);
				fz_add(&merges, "]");
				fz_piece(b, &vocab, pieces, &id, w.p, w.len);
			}
		}
	}
	fz_add(b, "}, \"merges\": [");
	tok_buf_add(b, merges.p, merges.len);
	fz_add(b, "]");
	tok_map_free(&vocab);
	tok_buf_free(&merges);
	tok_buf_free(&w);
	tok_buf_free(&u);
}

static tfm_tokenizer *fz_open(const char *json, size_t len)
{
	tfm_tokenizer *t = NULL;
	tfm_error e;

	if (tok_open_memory(&t, json, len, "fuzz", &e) != 0) {
		fprintf(stderr, "fuzz_encode: a built-in tokenizer does not open: %s\n", e.msg);
		abort();
	}
	return t;
}

static void fz_setup(void)
{
	tok_buf b = { 0 }, bin = { 0 };
	tok_pieces pieces = { 0 };
	size_t i;
	int32_t n;

	/* 0: byte-level */
	fz_add(&b, "{\"model\": {\"type\": \"BPE\", ");
	fz_vocab(&b, 1, &pieces);
	fz_add(&b, "}, \"added_tokens\": [{\"id\": 0, \"content\": \"<|endoftext|>\", \"special\": true, "
	           "\"normalized\": false}], \"pre_tokenizer\": {\"type\": \"ByteLevel\", "
	           "\"add_prefix_space\": false, \"use_regex\": true}, \"decoder\": {\"type\": \"ByteLevel\"}}");
	fz_tok[0] = fz_open(b.p, b.len);
	/* 1: SentencePiece-style, as Llama 2 */
	b.len = 0;
	tok_pieces_clear(&pieces);
	fz_add(&b, "{\"model\": {\"type\": \"BPE\", \"unk_token\": \"<unk>\", \"fuse_unk\": true, "
	           "\"byte_fallback\": true, ");
	fz_vocab(&b, 0, &pieces);
	fz_add(&b, "}, \"added_tokens\": [{\"id\": 0, \"content\": \"<unk>\", \"special\": true, "
	           "\"normalized\": false}, {\"id\": 1, \"content\": \"<s>\", \"special\": true, "
	           "\"normalized\": false}, {\"id\": 2, \"content\": \"</s>\", \"special\": true, "
	           "\"normalized\": false}], \"normalizer\": {\"type\": \"Sequence\", \"normalizers\": ["
	           "{\"type\": \"Prepend\", \"prepend\": \"\xe2\x96\x81\"}, {\"type\": \"Replace\", "
	           "\"pattern\": {\"String\": \" \"}, \"content\": \"\xe2\x96\x81\"}]}, "
	           "\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": "
	           "{\"id\": \"<s>\"}}, {\"Sequence\": {\"id\": \"A\"}}], \"special_tokens\": {\"<s>\": "
	           "{\"ids\": [1]}}}, \"decoder\": {\"type\": \"Sequence\", \"decoders\": [{\"type\": "
	           "\"Replace\", \"pattern\": {\"String\": \"\xe2\x96\x81\"}, \"content\": \" \"}, "
	           "{\"type\": \"ByteFallback\"}, {\"type\": \"Fuse\"}, {\"type\": \"Strip\", "
	           "\"content\": \" \", \"start\": 1, \"stop\": 0}]}}");
	fz_tok[1] = fz_open(b.p, b.len);
	/* 3: the same pieces as a tokenizer.bin, ▁ as ' ', scores by id */
	n = 16;
	tok_buf_add(&bin, &n, 4);
	for (i = 0; i < pieces.n; i++) {
		tok_buf r = { 0 };
		const char *p = pieces.buf.p + pieces.p[i].off;
		size_t j, len = pieces.p[i].len;
		float score = i < 259 ? -1e10f : -(float)i;
		for (j = 0; j < len; j++) {
			if (j + 3 <= len && memcmp(p + j, "\xe2\x96\x81", 3) == 0) {
				tok_buf_add(&r, " ", 1);
				j += 2;
			} else {
				tok_buf_add(&r, p + j, 1);
			}
		}
		n = (int32_t)r.len;
		tok_buf_add(&bin, &score, 4);
		tok_buf_add(&bin, &n, 4);
		tok_buf_add(&bin, r.p, r.len);
		tok_buf_free(&r);
	}
	fz_tok[3] = fz_open(bin.p, bin.len);
	/* 2: normalizers, pre-tokenizers and added-token options together */
	b.len = 0;
	tok_pieces_clear(&pieces);
	fz_add(&b, "{\"model\": {\"type\": \"BPE\", \"byte_fallback\": true, \"ignore_merges\": true, ");
	fz_vocab(&b, 0, &pieces);
	fz_add(&b, "}, \"added_tokens\": [{\"id\": 1, \"content\": \"<s>\", \"special\": true, "
	           "\"normalized\": false}, {\"id\": 2, \"content\": \"</s>\", \"special\": true, "
	           "\"normalized\": false, \"rstrip\": true}, {\"id\": 0, \"content\": \"<mask>\", "
	           "\"lstrip\": true, \"special\": true, \"normalized\": false}, {\"id\": 0, \"content\": "
	           "\"hello\", \"single_word\": true, \"normalized\": true}, {\"id\": 0, \"content\": "
	           "\"\xef\xac\x81x\", \"normalized\": true, \"lstrip\": true, \"rstrip\": true}], "
	           "\"normalizer\": {\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"NFKC\"}, "
	           "{\"type\": \"Lowercase\"}, {\"type\": \"Replace\", \"pattern\": {\"Regex\": "
	           "\"\\\\s{3,}\"}, \"content\": \"  \"}]}, \"pre_tokenizer\": {\"type\": \"Sequence\", "
	           "\"pretokenizers\": [{\"type\": \"Split\", \"pattern\": {\"Regex\": "
	           "\"(?i:'s|'t)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|"
	           "\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"}, \"behavior\": \"Isolated\"}, {\"type\": "
	           "\"Metaspace\", \"prepend_scheme\": \"first\", \"split\": true}, {\"type\": \"Digits\", "
	           "\"individual_digits\": true}]}, \"post_processor\": {\"type\": \"TemplateProcessing\", "
	           "\"single\": [{\"SpecialToken\": {\"id\": \"<s>\"}}, {\"Sequence\": {\"id\": \"A\"}}, "
	           "{\"SpecialToken\": {\"id\": \"</s>\"}}], \"special_tokens\": {\"<s>\": {\"ids\": [1]}, "
	           "\"</s>\": {\"ids\": [2]}}}, \"decoder\": {\"type\": \"Sequence\", \"decoders\": [{\"type\": "
	           "\"ByteFallback\"}, {\"type\": \"Metaspace\", \"prepend_scheme\": \"first\"}, {\"type\": "
	           "\"Strip\", \"content\": \"x\", \"start\": 2, \"stop\": 2}]}}");
	fz_tok[2] = fz_open(b.p, b.len);
	tok_buf_free(&b);
	tok_buf_free(&bin);
	tok_pieces_free(&pieces);
}

static int fz_has(const char *s, size_t n, const char *what)
{
	size_t k = strlen(what), i;

	for (i = 0; i + k <= n; i++)
		if (memcmp(s + i, what, k) == 0)
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data + 1;
	size_t len = size > 0 ? size - 1 : 0, n, dl, i;
	int which, sp, *ids, rc, v, back;
	tfm_tokenizer *t;
	tfm_error e;
	char *out;

	if (fz_tok[0] == NULL)
		fz_setup();
	if (size == 0)
		return 0;
	which = data[0] & 3;
	sp = (data[0] >> 2) & 1;
	t = fz_tok[which];
	v = tfm_tokenizer_vocab(t);
	memset(&e, 0, sizeof e);
	rc = tfm_tokenizer_encode(t, text, len, sp, &ids, &n, &e);
	if (rc != 0) {
		if (e.msg[0] == '\0')
			__builtin_trap();
	} else {
		for (i = 0; i < n; i++)
			if (ids[i] < 0 || ids[i] >= v)
				__builtin_trap();
		/* The text back, where the tokenizer keeps it. */
		back = which == 0 || (which == 1 && !fz_has(text, len, "\xe2\x96\x81") &&
		                      !fz_has(text, len, "<s>") && !fz_has(text, len, "</s>") &&
		                      !fz_has(text, len, "<unk>")) ||
		       (which == 3 && sp && memchr(text, '\0', len) == NULL);
		if (tfm_tokenizer_decode(t, ids, n, which == 0 ? 0 : TFM_DECODE_SKIP_SPECIAL, &out, &dl,
		                         &e) != 0)
			__builtin_trap();	/* ids from encode always decode */
		if (back && (dl != len || memcmp(out, text, len) != 0))
			__builtin_trap();
		free(out);
		if (tfm_tokenizer_decode(t, ids, n, TFM_DECODE_RAW | TFM_DECODE_SKIP_SPECIAL, &out, &dl,
		                         &e) != 0)
			__builtin_trap();
		free(out);
		free(ids);
	}
	/* The bytes as ids, some of them out of range. */
	n = len / 2;
	if ((ids = malloc((n + 1) * sizeof *ids)) == NULL)
		return 0;
	for (i = 0; i < n; i++)
		ids[i] = (int)((unsigned)(uint8_t)text[2 * i] << 8 | (uint8_t)text[2 * i + 1]) % (v + 2) - 1;
	rc = tfm_tokenizer_decode(t, ids, n, data[0] >> 3 & 3, &out, &dl, &e);
	if (rc == 0) {
		fz_sink += dl;
		free(out);
	} else if (e.msg[0] == '\0') {
		__builtin_trap();
	}
	free(ids);
	return 0;
}
