/* gguf_vocab.c: a GGUF file's vocabulary as a tokenizer folder
 * tfm_tokenizer_open reads (tokenizer.json and tokenizer_config.json).
 *
 * tokenizer.ggml.model "gpt2" is the byte-level BPE of GPT-2, Llama 3,
 * Qwen2 and Qwen3: tokens in their byte-level spelling, merges as "a b".
 * tokenizer.ggml.pre names llama.cpp's pre-tokenizer; each one read here is
 * its regex (llama.cpp's llama-vocab.cpp), with no normalizer, as llama.cpp
 * applies none.
 *
 * tokenizer.ggml.model "llama" is SentencePiece's BPE (Llama 2, Mistral,
 * Gemma): pieces with scores.  llama.cpp merges, again and again, the
 * adjacent pair whose concatenation is the piece of highest score, and
 * spells a character no piece holds as its bytes (<0xXX>).  That is
 * Hugging Face's BPE with byte fallback over merges made from the pieces:
 * every split of a piece into two pieces, ordered by the piece's score
 * (transformers' SentencePieceExtractor does the same), after " " is
 * escaped as U+2581 and one is put before the text (add_space_prefix).
 *
 * Both: token types (3: control, 4: user-defined; added tokens found in the
 * text), BOS and EOS ids, add_bos_token.  Another pre-tokenizer or model
 * is refused by name: the import then goes on without a tokenizer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cjson/cJSON.h>
#include "import.h"

/* llama.cpp's pre-tokenizers by name: the regex, and whether a word that
 * is a whole token skips the merges (Llama 3's ignore_merges). */
static const struct {
	const char *name, *regex;
	int ignore_merges;
} gg_pre[] = {
	{ "default", NULL, 0 },		/* GPT-2's: ByteLevel's own regex */
	{ "gpt-2", NULL, 0 },
	{ "llama-bpe", "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", 1 },
	{ "qwen2", "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", 0 },
};

/* s[len] as a C string in a cJSON string node. */
static cJSON *gg_str(const char *s, size_t len)
{
	char *c = malloc(len + 1);
	cJSON *j;

	if (!c)
		return NULL;
	memcpy(c, s, len);
	c[len] = '\0';
	j = cJSON_CreateString(c);
	free(c);
	return j;
}

static int gg_write(const char *path, cJSON *root, tfm_error *e)
{
	char *text = cJSON_PrintUnformatted(root);
	FILE *f;
	int bad;

	if (!text)
		return tfm_fail(e, "out of memory");
	if (!(f = fopen(path, "w"))) {
		free(text);
		return tfm_fail(e, "cannot write %s: %s", path, strerror(errno));
	}
	bad = fputs(text, f) == EOF;
	bad |= fclose(f) != 0;
	free(text);
	return bad ? tfm_fail(e, "cannot write %s", path) : 0;
}

/* The id of metadata key, or -1. */
static long gg_id(const tfm_gguf *g, const char *key)
{
	uint64_t v;
	return tfm_gguf_uint(g, key, &v) == 0 && v < (1u << 24) ? (long)v : -1;
}

/* ---- SentencePiece's pieces as merges ---------------------------------------- */

typedef struct GgPiece {
	const char *s;
	size_t len;
	float score;
} GgPiece;

typedef struct GgMerge {
	float score;
	int piece, left, right;
} GgMerge;

static uint64_t gg_hash(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
	return h;
}

/* The id of s[n] in the table (open addressing, size a power of two), or -1. */
static int gg_lookup(const int *table, size_t mask, const GgPiece *p, const char *s, size_t n)
{
	for (size_t h = gg_hash(s, n) & mask;; h = (h + 1) & mask) {
		if (table[h] < 0)
			return -1;
		if (p[table[h]].len == n && memcmp(p[table[h]].s, s, n) == 0)
			return table[h];
	}
}

static int gg_merge_cmp(const void *x, const void *y)
{
	const GgMerge *a = x, *b = y;
	if (a->score != b->score)
		return a->score > b->score ? -1 : 1;
	if (a->piece != b->piece)
		return a->piece < b->piece ? -1 : 1;
	if (a->left != b->left)
		return a->left < b->left ? -1 : 1;
	return (a->right > b->right) - (a->right < b->right);
}

/* Every split of a piece into two pieces, at a character boundary, as a
 * merge ([left, right]); the highest-scoring piece's first, then by id. */
static int gg_spm_merges(const tfm_gguf_value *toks, const tfm_gguf_value *scores, cJSON *out, const char *label,
                         tfm_error *e)
{
	const size_t n = (size_t)toks->count;
	size_t size = 1, n_merges = 0, cap = 0;
	GgPiece *p = calloc(n ? n : 1, sizeof *p);
	GgMerge *mg = NULL;
	int *table = NULL, rc = -1;
	tfm_gguf_iter it, sit;
	tfm_gguf_value v, sv;

	while (size < 2 * n + 2)
		size *= 2;
	if (!p || !(table = malloc(size * sizeof *table)))
		goto done;
	memset(table, 0xff, size * sizeof *table);
	tfm_gguf_iter_init(&it, toks);
	tfm_gguf_iter_init(&sit, scores);
	for (size_t i = 0; i < n && tfm_gguf_iter_next(&it, &v) == 1 && tfm_gguf_iter_next(&sit, &sv) == 1; i++) {
		p[i] = (GgPiece){ v.str, v.len, (float)sv.f };
		if (gg_lookup(table, size - 1, p, v.str, v.len) >= 0)
			continue;	/* a repeat: the first id */
		size_t h = gg_hash(v.str, v.len) & (size - 1);
		while (table[h] >= 0)
			h = (h + 1) & (size - 1);
		table[h] = (int)i;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t k = 1; k < p[i].len; k++) {
			if (((unsigned char)p[i].s[k] & 0xc0) == 0x80)
				continue;	/* inside a character */
			int l = gg_lookup(table, size - 1, p, p[i].s, k);
			int r = l < 0 ? -1 : gg_lookup(table, size - 1, p, p[i].s + k, p[i].len - k);
			if (r < 0)
				continue;
			if (n_merges == cap) {
				GgMerge *m2 = realloc(mg, (cap = cap ? 2 * cap : 65536) * sizeof *mg);
				if (!m2)
					goto done;
				mg = m2;
			}
			mg[n_merges++] = (GgMerge){ p[i].score, (int)i, l, r };
		}
	if (n_merges)	/* qsort(NULL, 0) is undefined */
		qsort(mg, n_merges, sizeof *mg, gg_merge_cmp);
	for (size_t i = 0; i < n_merges; i++) {
		cJSON *pair = cJSON_CreateArray();
		if (!pair)
			goto done;
		cJSON_AddItemToArray(pair, gg_str(p[mg[i].left].s, p[mg[i].left].len));
		cJSON_AddItemToArray(pair, gg_str(p[mg[i].right].s, p[mg[i].right].len));
		cJSON_AddItemToArray(out, pair);
	}
	rc = 0;
done:
	if (rc)
		tfm_fail(e, "%s: out of memory making the vocabulary's merges", label);
	free(p);
	free(mg);
	free(table);
	return rc;
}

int import_gguf_tokenizer(const tfm_gguf *g, const char *label, const char *dir, char *why, size_t why_size,
                          tfm_error *e)
{
	const char *model, *pre = "default";
	size_t mlen, plen = 7;
	tfm_gguf_value toks, merges, types;
	tfm_gguf_iter it;
	tfm_gguf_value v;
	size_t k;
	int rc = -1;

	why[0] = '\0';
	if (tfm_gguf_string(g, "tokenizer.ggml.model", &model, &mlen) != 0) {
		snprintf(why, why_size, "no tokenizer.ggml.model in it");
		return 1;
	}
	const int spm = mlen == 5 && memcmp(model, "llama", 5) == 0;
	if (!spm && !(mlen == 4 && memcmp(model, "gpt2", 4) == 0)) {
		snprintf(why, why_size, "its vocabulary is tokenizer.ggml.model '%.*s'; tfmc reads 'gpt2' (byte-level "
		         "BPE) and 'llama' (SentencePiece)", (int)(mlen < 40 ? mlen : 40), model);
		return 1;
	}
	tfm_gguf_string(g, "tokenizer.ggml.pre", &pre, &plen);
	for (k = 0; k < sizeof gg_pre / sizeof gg_pre[0]; k++)
		if (strlen(gg_pre[k].name) == plen && memcmp(gg_pre[k].name, pre, plen) == 0)
			break;
	if (spm)
		k = 0;	/* no pre-tokenizer: the normalizer below */
	else if (k == sizeof gg_pre / sizeof gg_pre[0]) {
		snprintf(why, why_size, "its pre-tokenizer tokenizer.ggml.pre '%.*s' is not one tfmc has (default, gpt-2, "
		         "llama-bpe, qwen2)", (int)(plen < 40 ? plen : 40), pre);
		return 1;
	}
	if (tfm_gguf_find(g, "tokenizer.ggml.tokens", &toks) != 0 || toks.type != TFM_GGUF_ARRAY
	    || toks.elem_type != TFM_GGUF_STRING)
		return tfm_fail(e, "%s: tokenizer.ggml.tokens must be an array of strings", label);
	tfm_gguf_value scores;
	if (spm && (tfm_gguf_find(g, "tokenizer.ggml.scores", &scores) != 0 || scores.type != TFM_GGUF_ARRAY
	            || scores.elem_type != TFM_GGUF_FLOAT32 || scores.count != toks.count))
		return tfm_fail(e, "%s: a llama vocabulary needs tokenizer.ggml.scores, a float32 per token", label);
	if (!spm && (tfm_gguf_find(g, "tokenizer.ggml.merges", &merges) != 0 || merges.type != TFM_GGUF_ARRAY
	             || merges.elem_type != TFM_GGUF_STRING))
		return tfm_fail(e, "%s: a gpt2 vocabulary needs tokenizer.ggml.merges, an array of strings", label);
	int have_types = tfm_gguf_find(g, "tokenizer.ggml.token_type", &types) == 0 && types.type == TFM_GGUF_ARRAY
	                 && types.count == toks.count
	                 && (types.elem_type == TFM_GGUF_INT32 || types.elem_type == TFM_GGUF_UINT32);

	cJSON *root = cJSON_CreateObject(), *m = cJSON_CreateObject(), *vocab = cJSON_CreateObject();
	cJSON *mlist = cJSON_CreateArray(), *added = cJSON_CreateArray(), *cfg = cJSON_CreateObject();
	char **names = calloc(toks.count ? (size_t)toks.count : 1, sizeof *names);
	if (!root || !m || !vocab || !mlist || !added || !cfg || !names) {
		tfm_fail(e, "out of memory");
		goto done;
	}
	cJSON_AddItemToObject(root, "added_tokens", added);
	if (spm) {
		tfm_gguf_value asp;
		const int prefix = !(tfm_gguf_find(g, "tokenizer.ggml.add_space_prefix", &asp) == 0 && asp.type == TFM_GGUF_BOOL
		                     && !asp.u);
		cJSON *norm = cJSON_AddObjectToObject(root, "normalizer"), *list, *n;
		cJSON_AddStringToObject(norm, "type", "Sequence");
		list = cJSON_AddArrayToObject(norm, "normalizers");
		if (prefix) {
			n = cJSON_CreateObject();
			cJSON_AddStringToObject(n, "type", "Prepend");
			cJSON_AddStringToObject(n, "prepend", "\xe2\x96\x81");
			cJSON_AddItemToArray(list, n);
		}
		n = cJSON_CreateObject();
		cJSON_AddStringToObject(n, "type", "Replace");
		cJSON_AddStringToObject(cJSON_AddObjectToObject(n, "pattern"), "String", " ");
		cJSON_AddStringToObject(n, "content", "\xe2\x96\x81");
		cJSON_AddItemToArray(list, n);
		cJSON_AddNullToObject(root, "pre_tokenizer");
	} else {
		cJSON_AddNullToObject(root, "normalizer");
	}
	if (spm) {
		/* nothing: SentencePiece has no pre-tokenizer */
	} else if (gg_pre[k].regex) {
		cJSON *seq = cJSON_AddObjectToObject(root, "pre_tokenizer"), *list, *split, *pat, *bl;
		cJSON_AddStringToObject(seq, "type", "Sequence");
		list = cJSON_AddArrayToObject(seq, "pretokenizers");
		split = cJSON_CreateObject();
		cJSON_AddStringToObject(split, "type", "Split");
		pat = cJSON_AddObjectToObject(split, "pattern");
		cJSON_AddStringToObject(pat, "Regex", gg_pre[k].regex);
		cJSON_AddStringToObject(split, "behavior", "Isolated");
		cJSON_AddFalseToObject(split, "invert");
		cJSON_AddItemToArray(list, split);
		bl = cJSON_CreateObject();
		cJSON_AddStringToObject(bl, "type", "ByteLevel");
		cJSON_AddFalseToObject(bl, "add_prefix_space");
		cJSON_AddFalseToObject(bl, "trim_offsets");
		cJSON_AddFalseToObject(bl, "use_regex");
		cJSON_AddItemToArray(list, bl);
	} else {
		cJSON *bl = cJSON_AddObjectToObject(root, "pre_tokenizer");
		cJSON_AddStringToObject(bl, "type", "ByteLevel");
		cJSON_AddFalseToObject(bl, "add_prefix_space");
		cJSON_AddFalseToObject(bl, "trim_offsets");
		cJSON_AddTrueToObject(bl, "use_regex");
	}
	cJSON *dec = cJSON_AddObjectToObject(root, "decoder");
	if (spm) {	/* U+2581 back to " ", bytes fused, the prefix space off */
		cJSON *list = cJSON_AddArrayToObject(dec, "decoders"), *d;
		cJSON_AddStringToObject(dec, "type", "Sequence");
		d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "type", "Replace");
		cJSON_AddStringToObject(cJSON_AddObjectToObject(d, "pattern"), "String", "\xe2\x96\x81");
		cJSON_AddStringToObject(d, "content", " ");
		cJSON_AddItemToArray(list, d);
		d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "type", "ByteFallback");
		cJSON_AddItemToArray(list, d);
		d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "type", "Fuse");
		cJSON_AddItemToArray(list, d);
		d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "type", "Strip");
		cJSON_AddStringToObject(d, "content", " ");
		cJSON_AddNumberToObject(d, "start", 1);
		cJSON_AddNumberToObject(d, "stop", 0);
		cJSON_AddItemToArray(list, d);
	} else {
		cJSON_AddStringToObject(dec, "type", "ByteLevel");
	}
	cJSON_AddItemToObject(root, "model", m);
	cJSON_AddStringToObject(m, "type", "BPE");
	cJSON_AddBoolToObject(m, "ignore_merges", gg_pre[k].ignore_merges);
	if (spm) {
		long unk = gg_id(g, "tokenizer.ggml.unknown_token_id");
		cJSON_AddBoolToObject(m, "byte_fallback", 1);
		cJSON_AddBoolToObject(m, "fuse_unk", 1);
		if (unk >= 0 && (uint64_t)unk < toks.count) {
			tfm_gguf_iter_init(&it, &toks);
			for (long i = 0; tfm_gguf_iter_next(&it, &v) == 1; i++)
				if (i == unk) {
					cJSON_AddItemToObject(m, "unk_token", gg_str(v.str, v.len));
					break;
				}
		}
	}
	cJSON_AddItemToObject(m, "vocab", vocab);
	cJSON_AddItemToObject(m, "merges", mlist);

	/* The tokens: each spelling once (a repeat keeps its first id, as a
	 * JSON object can hold it once); control and user-defined ones added. */
	tfm_gguf_iter_init(&it, &toks);
	tfm_gguf_iter type_it;
	if (have_types)
		tfm_gguf_iter_init(&type_it, &types);
	for (uint64_t id = 0; tfm_gguf_iter_next(&it, &v) == 1; id++) {
		tfm_gguf_value tv;
		long type = 1;
		if (have_types && tfm_gguf_iter_next(&type_it, &tv) == 1)
			type = tv.type == TFM_GGUF_INT32 ? (long)tv.i : (long)tv.u;
		cJSON *s = gg_str(v.str, v.len);
		if (!s || !(names[id] = strdup(s->valuestring))) {
			cJSON_Delete(s);
			tfm_fail(e, "out of memory");
			goto done;
		}
		if (!cJSON_GetObjectItemCaseSensitive(vocab, s->valuestring))
			cJSON_AddNumberToObject(vocab, s->valuestring, (double)id);
		if (type == 3 || type == 4) {
			cJSON *a = cJSON_CreateObject();
			cJSON_AddNumberToObject(a, "id", (double)id);
			cJSON_AddStringToObject(a, "content", s->valuestring);
			cJSON_AddFalseToObject(a, "single_word");
			cJSON_AddFalseToObject(a, "lstrip");
			cJSON_AddFalseToObject(a, "rstrip");
			cJSON_AddFalseToObject(a, "normalized");
			cJSON_AddBoolToObject(a, "special", type == 3);
			cJSON_AddItemToArray(added, a);
		}
		cJSON_Delete(s);
	}
	if (spm) {
		if (gg_spm_merges(&toks, &scores, mlist, label, e))
			goto done;
	} else {
		tfm_gguf_iter_init(&it, &merges);
		while (tfm_gguf_iter_next(&it, &v) == 1) {
			cJSON *s = gg_str(v.str, v.len);
			if (!s) {
				tfm_fail(e, "out of memory");
				goto done;
			}
			cJSON_AddItemToArray(mlist, s);
		}
	}

	/* BOS and EOS, and whether a sequence starts with BOS. */
	long bos = gg_id(g, "tokenizer.ggml.bos_token_id"), eos = gg_id(g, "tokenizer.ggml.eos_token_id");
	tfm_gguf_value ab;
	int add_bos = tfm_gguf_find(g, "tokenizer.ggml.add_bos_token", &ab) == 0 && ab.type == TFM_GGUF_BOOL && ab.u;
	if (bos >= (long)toks.count || eos >= (long)toks.count) {
		tfm_fail(e, "%s: tokenizer.ggml.bos_token_id or eos_token_id is past the vocabulary", label);
		goto done;
	}
	if (bos >= 0)
		cJSON_AddStringToObject(cfg, "bos_token", names[bos]);
	if (eos >= 0)
		cJSON_AddStringToObject(cfg, "eos_token", names[eos]);
	cJSON_AddBoolToObject(cfg, "add_bos_token", add_bos && bos >= 0);
	if (add_bos && bos >= 0) {	/* as transformers' TemplateProcessing puts it */
		cJSON *pp = cJSON_AddObjectToObject(root, "post_processor"), *single, *st, *tok, *sp, *entry;
		cJSON_AddStringToObject(pp, "type", "TemplateProcessing");
		single = cJSON_AddArrayToObject(pp, "single");
		st = cJSON_CreateObject();
		tok = cJSON_AddObjectToObject(st, "SpecialToken");
		cJSON_AddStringToObject(tok, "id", names[bos]);
		cJSON_AddNumberToObject(tok, "type_id", 0);
		cJSON_AddItemToArray(single, st);
		st = cJSON_CreateObject();
		tok = cJSON_AddObjectToObject(st, "Sequence");
		cJSON_AddStringToObject(tok, "id", "A");
		cJSON_AddNumberToObject(tok, "type_id", 0);
		cJSON_AddItemToArray(single, st);
		cJSON_AddItemReferenceToObject(pp, "pair", single);
		sp = cJSON_AddObjectToObject(pp, "special_tokens");
		entry = cJSON_AddObjectToObject(sp, names[bos]);
		cJSON_AddStringToObject(entry, "id", names[bos]);
		cJSON_AddItemToObject(entry, "ids", cJSON_CreateIntArray((int[]){ (int)bos }, 1));
		cJSON_AddItemToObject(entry, "tokens", cJSON_CreateStringArray((const char *const[]){ names[bos] }, 1));
	}

	char path[4200];
	if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
		tfm_fail(e, "cannot make %s: %s", dir, strerror(errno));
		goto done;
	}
	snprintf(path, sizeof path, "%s/tokenizer.json", dir);
	if (gg_write(path, root, e))
		goto done;
	snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
	if (gg_write(path, cfg, e))
		goto done;
	rc = 0;
done:
	for (uint64_t i = 0; names && i < toks.count; i++)
		free(names[i]);
	free(names);
	cJSON_Delete(root);
	cJSON_Delete(cfg);
	return rc;
}
