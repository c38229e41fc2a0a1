/* bpe_train.c: training a byte-level BPE tokenizer on text, written as the
 * Hugging Face tokenizer.json that tfm_tokenizer_open reads back.
 *
 * The text goes through the reader's own pipeline, so the words counted are
 * the words encode will see: the special tokens are cut out of the raw text
 * with added.c's trie (none of them normalized, none single_word or
 * stripping), and each remaining segment is cut by GPT-2's regex through
 * regex.c (PCRE2), which is what the written pre-tokenizer (ByteLevel with
 * use_regex, add_prefix_space false: GPT-2's own) does; every span, match
 * or gap, is a word.  Words are counted once each, with their number of
 * occurrences.
 *
 * Ids 0..255 are the bytes, in byte order (token b is byte b, spelled by
 * ByteLevel's byte-to-unicode map); then one id per merge, in the order
 * learned, which is its rank; then the special tokens, in the order given.
 *
 * A merge step takes the adjacent pair with the highest count (occurrences
 * in all words, each word weighted by its count; overlapping occurrences,
 * as in "aaa", all count), ties broken by the lexicographically smallest
 * pair of byte strings (the left token's raw bytes compared first, a prefix
 * before its extensions, then the right's), and merges every occurrence in
 * every word, left to right, as the encoder's lowest rank first and
 * leftmost first will.  Training stops at the vocabulary size asked for, or
 * earlier when no word has two tokens left.
 *
 * The counts are kept as Hugging Face's trainer keeps them: per pair its
 * count and the words that may hold it (a list with repeats and stale
 * entries, filtered when used), and a max-heap of (count, pair) with lazy
 * entries: a count that fell is corrected when its entry comes to the top,
 * a count that rose is pushed again.  Merging one occurrence changes the
 * counts of its neighbours only, by exact deltas: with x before and y after
 * the pair (a, b) merged into ab, (x, a), (a, b) and (b, y) lose the word's
 * count and (x, ab), (ab, y) gain it, x being what the word already holds
 * after the merges to its left.  So one step costs the words the pair is in,
 * not the whole text.
 *
 * The output is a function of the texts, the size and the special tokens
 * only: the same input gives a byte-identical file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

typedef struct bt_pair {
	int a, b;		/* token ids */
	int64_t count;
	int *where;		/* [n_where] words that may hold the pair */
	size_t n_where, cap_where;
	int last_word;		/* the last word added to where, -1 */
	int touched;		/* the step whose delta last raised the count, -1 */
} bt_pair;

typedef struct bt_ent {
	int64_t count;
	int pair;
} bt_ent;

typedef struct bt_word {
	size_t off;		/* its tokens: sym[off .. off + len - 1] */
	uint32_t len;
	int step;		/* the step that last merged in it, -1 */
	int64_t count;		/* occurrences in the text */
} bt_word;

typedef struct bt_tok {
	size_t off;		/* its raw bytes: tok[off .. off + len - 1] */
	uint32_t len;
} bt_tok;

typedef struct bt {
	tok_map words;		/* a word's bytes → its index in word */
	bt_word *word;
	size_t n_words, cap_words;
	tok_ids sym;
	bt_tok *tk;		/* [n_tok] by id */
	tok_buf tok;
	int n_tok;
	size_t cap_tok;
	/* Pairs and the queue. */
	tok_pairmap pair_of;	/* (a, b) → index in pair (its id field) */
	bt_pair *pair;
	size_t n_pair, cap_pair;
	bt_ent *heap;
	size_t n_heap, cap_heap;
	tok_ids touched;	/* pairs whose count rose in this step */
	/* The merges learned, in rank order. */
	tok_ids merge_a, merge_b;
	size_t specials_seen;	/* special tokens found in the text */
} bt;

/* p[cap] with room for element n: p itself, or p grown (to 2 * cap, at
 * least 64 elements), or NULL when out of memory (p is kept). */
static void *bt_room(void *p, size_t n, size_t *cap, size_t size)
{
	size_t c = *cap ? 2 * *cap : 64;

	if (n < *cap)
		return p;
	if ((p = realloc(p, c * size)) != NULL)
		*cap = c;
	return p;
}

/* ---- Tokens and their order ------------------------------------------------ */

/* A new token: the bytes of x then those of y (y -1: x's alone, x -1: the
 * byte b). */
static int bt_tok_add(bt *t, int x, int y, unsigned char b)
{
	size_t lx = x >= 0 ? t->tk[x].len : 1, ly = y >= 0 ? t->tk[y].len : 0;
	bt_tok *tk = bt_room(t->tk, (size_t)t->n_tok, &t->cap_tok, sizeof *tk);
	char *d;

	if (tk == NULL)
		return -1;
	t->tk = tk;
	if (tok_buf_reserve(&t->tok, lx + ly + 1) != 0)
		return -1;
	d = t->tok.p + t->tok.len;
	if (x >= 0)
		memcpy(d, t->tok.p + tk[x].off, lx);
	else
		d[0] = (char)b;
	if (y >= 0)
		memcpy(d + lx, t->tok.p + tk[y].off, ly);
	tk[t->n_tok].off = t->tok.len;
	tk[t->n_tok].len = (uint32_t)(lx + ly);
	t->tok.len += lx + ly;
	t->n_tok++;
	return 0;
}

static int bt_tok_cmp(const bt *t, int x, int y)
{
	size_t lx = t->tk[x].len, ly = t->tk[y].len;
	int c = memcmp(t->tok.p + t->tk[x].off, t->tok.p + t->tk[y].off, lx < ly ? lx : ly);
	return c != 0 ? c : lx < ly ? -1 : lx > ly;
}

/* The order of the queue: the higher count first, then the smaller pair of
 * byte strings. */
static int bt_before(const bt *t, const bt_ent *x, const bt_ent *y)
{
	const bt_pair *p = &t->pair[x->pair], *q = &t->pair[y->pair];
	int c;

	if (x->count != y->count)
		return x->count > y->count;
	if ((c = bt_tok_cmp(t, p->a, q->a)) != 0)
		return c < 0;
	return bt_tok_cmp(t, p->b, q->b) < 0;
}

/* ---- The queue: a binary max-heap in bt_before's order ---------------------- */

static void bt_heap_down(bt *t, size_t i)
{
	bt_ent *h = t->heap, x = h[i];
	size_t c, n = t->n_heap;

	while ((c = 2 * i + 1) < n) {
		if (c + 1 < n && bt_before(t, &h[c + 1], &h[c]))
			c++;
		if (!bt_before(t, &h[c], &x))
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = x;
}

static int bt_heap_push(bt *t, int64_t count, int pair)
{
	bt_ent x = { count, pair }, *h = bt_room(t->heap, t->n_heap, &t->cap_heap, sizeof *h);
	size_t i;

	if (h == NULL)
		return -1;
	t->heap = h;
	for (i = t->n_heap++; i > 0 && bt_before(t, &x, &h[(i - 1) / 2]); i = (i - 1) / 2)
		h[i] = h[(i - 1) / 2];
	h[i] = x;
	return 0;
}

static bt_ent bt_heap_pop(bt *t)
{
	bt_ent top = t->heap[0];

	t->heap[0] = t->heap[--t->n_heap];
	if (t->n_heap > 0)
		bt_heap_down(t, 0);
	return top;
}

/* ---- Pairs --------------------------------------------------------------------- */

/* The index of pair (a, b), made when new; -1 when out of memory. */
static int bt_pair_index(bt *t, int a, int b)
{
	const tok_pair_slot *s = tok_pair_get(&t->pair_of, a, b);
	bt_pair *p;

	if (s != NULL)
		return s->id;
	if ((p = bt_room(t->pair, t->n_pair, &t->cap_pair, sizeof *p)) == NULL)
		return -1;
	t->pair = p;
	p = &t->pair[t->n_pair];
	memset(p, 0, sizeof *p);
	p->a = a;
	p->b = b;
	p->last_word = -1;
	p->touched = -1;
	if (tok_pair_set(&t->pair_of, a, b, 0, (int)t->n_pair) != 0)
		return -1;
	return (int)t->n_pair++;
}

/* count(a, b) += d for word w at step; a rise records w and the pair. */
static int bt_delta(bt *t, int a, int b, int64_t d, int w, int step)
{
	int k = bt_pair_index(t, a, b);
	bt_pair *p;

	if (k < 0)
		return -1;
	p = &t->pair[k];
	p->count += d;
	if (d <= 0)
		return 0;
	if (p->last_word != w) {
		int *v = bt_room(p->where, p->n_where, &p->cap_where, sizeof *v);
		if (v == NULL)
			return -1;
		p->where = v;
		p->where[p->n_where++] = w;
		p->last_word = w;
	}
	if (p->touched != step) {
		p->touched = step;
		if (tok_ids_push(&t->touched, k) != 0)
			return -1;
	}
	return 0;
}

/* ---- Words --------------------------------------------------------------------- */

static int bt_add_word(bt *t, const char *s, size_t len)
{
	int w = tok_map_get(&t->words, s, len);
	bt_word *v;
	size_t i;

	if (len == 0)
		return 0;
	if (w >= 0) {
		t->word[w].count++;
		return 0;
	}
	if (len > UINT32_MAX / 2 || t->n_words >= INT32_MAX)
		return -1;
	if ((v = bt_room(t->word, t->n_words, &t->cap_words, sizeof *v)) == NULL)
		return -1;
	t->word = v;
	w = (int)t->n_words++;
	v[w].off = t->sym.n;
	v[w].len = (uint32_t)len;
	v[w].step = -1;
	v[w].count = 1;
	for (i = 0; i < len; i++)
		if (tok_ids_push(&t->sym, (unsigned char)s[i]) != 0)
			return -1;
	return tok_map_set(&t->words, s, len, w);
}

/* The words of one text: the special tokens out, GPT-2's regex on the rest. */
static int bt_count(bt *t, tok_regex *re, const tok_trie *trie, const tok_added *added,
                    const char *s, size_t len, tfm_error *e)
{
	tok_segs segs = { 0 };
	tok_spans sp = { 0 };
	size_t i, j;
	int rc = 0;

	if (tok_added_split(trie, added, s, len, &segs) != 0)
		rc = tok_oom(e);
	for (i = 0; i < segs.n && rc == 0; i++) {
		const char *g = s + segs.p[i].s;
		if (segs.p[i].id >= 0) {
			t->specials_seen++;
			continue;
		}
		if ((rc = tok_regex_spans(re, g, segs.p[i].e - segs.p[i].s, &sp, e)) != 0)
			break;
		for (j = 0; j < sp.n && rc == 0; j++)
			if (bt_add_word(t, g + sp.p[j].s, sp.p[j].e - sp.p[j].s) != 0)
				rc = tok_oom(e);
	}
	tok_segs_free(&segs);
	tok_spans_free(&sp);
	return rc;
}

/* ---- Training ------------------------------------------------------------------ */

/* Merges (a, b) into id in word w, with the deltas of each occurrence. */
static int bt_merge_word(bt *t, int w, int a, int b, int id, int step)
{
	int *s = t->sym.p + t->word[w].off;
	uint32_t n = t->word[w].len, r = 0, j = 0;
	int64_t c = t->word[w].count;

	while (r < n) {
		if (r + 1 < n && s[r] == a && s[r + 1] == b) {
			if (bt_delta(t, a, b, -c, w, step) != 0)
				return -1;
			if (j > 0 && (bt_delta(t, s[j - 1], a, -c, w, step) != 0 ||
			              bt_delta(t, s[j - 1], id, c, w, step) != 0))
				return -1;
			if (r + 2 < n && (bt_delta(t, b, s[r + 2], -c, w, step) != 0 ||
			                  bt_delta(t, id, s[r + 2], c, w, step) != 0))
				return -1;
			s[j++] = id;
			r += 2;
		} else {
			s[j++] = s[r++];
		}
	}
	t->word[w].len = j;
	return 0;
}

/* One merge: the best pair, merged in every word that holds it.  0, 1 when
 * no pair is left, -1 when out of memory. */
static int bt_step(bt *t, int step)
{
	bt_ent top;
	bt_pair *p;
	int *where, a, b, id = t->n_tok, k;
	size_t n, i, q;

	for (;;) {
		if (t->n_heap == 0)
			return 1;
		top = bt_heap_pop(t);
		p = &t->pair[top.pair];
		if (top.count == p->count)
			break;
		if (p->count > 0 && bt_heap_push(t, p->count, top.pair) != 0)
			return -1;
	}
	k = top.pair;
	a = p->a;
	b = p->b;
	if (bt_tok_add(t, a, b, 0) != 0 || tok_ids_push(&t->merge_a, a) != 0 ||
	    tok_ids_push(&t->merge_b, b) != 0)
		return -1;
	/* The pair's own list is not added to while it is walked: every pair
	 * a merge makes holds the new id. */
	where = p->where;
	n = p->n_where;
	t->touched.n = 0;
	for (i = 0; i < n; i++) {
		int w = where[i];
		if (t->word[w].step == step)
			continue;
		t->word[w].step = step;
		if (bt_merge_word(t, w, a, b, id, step) != 0)
			return -1;
	}
	p = &t->pair[k];
	free(p->where);
	p->where = NULL;
	p->n_where = p->cap_where = 0;
	for (q = 0; q < t->touched.n; q++) {
		bt_pair *r = &t->pair[t->touched.p[q]];
		if (r->count > 0 && bt_heap_push(t, r->count, t->touched.p[q]) != 0)
			return -1;
	}
	return 0;
}

/* ---- The file ------------------------------------------------------------------ */

/* s[len] as a JSON string, as serde_json writes it. */
static int bt_json_str(tok_buf *o, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;
	int rc = tok_buf_add(o, "\"", 1);

	for (i = 0; i < len && rc == 0; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
		if (c == '"' || c == '\\') {
			esc[1] = (char)c;
			rc = tok_buf_add(o, esc, 2);
		} else if (c == '\n' || c == '\t' || c == '\r' || c == '\b' || c == '\f') {
			esc[1] = c == '\n' ? 'n' : c == '\t' ? 't' : c == '\r' ? 'r' : c == '\b' ? 'b' : 'f';
			rc = tok_buf_add(o, esc, 2);
		} else if (c < 0x20) {
			rc = tok_buf_add(o, esc, 6);
		} else {
			rc = tok_buf_add(o, s + i, 1);
		}
	}
	return rc || tok_buf_add(o, "\"", 1);
}

/* Token id's byte-level spelling, into o (cleared first). */
static int bt_spell(const bt *t, int id, tok_buf *o)
{
	const unsigned char *s = (const unsigned char *)t->tok.p + t->tk[id].off;
	uint32_t i;

	o->len = 0;
	for (i = 0; i < t->tk[id].len; i++)
		if (tok_utf8_put(o, tok_byte_char(s[i])) != 0)
			return -1;
	return tok_buf_add(o, "", 0);
}

static int bt_puts(tok_buf *o, const char *s)
{
	return tok_buf_add(o, s, strlen(s));
}

static const char bt_bytelevel[] =
	"\"add_prefix_space\": false,\n    \"trim_offsets\": true,\n    \"use_regex\": true\n  },\n";

/* The tokenizer.json: GPT-2's layout and settings, our vocabulary. */
static int bt_write(const bt *t, const char *const *special, int n_special, tok_buf *o)
{
	tok_buf sp = { 0 }, sp2 = { 0 };
	char num[64];
	size_t m;
	int i, rc = 0;

	rc |= bt_puts(o, "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n"
	                 "  \"added_tokens\": [");
	for (i = 0; i < n_special; i++) {
		snprintf(num, sizeof num, "%s\n    {\n      \"id\": %d,\n      \"content\": ",
		         i ? "," : "", t->n_tok + i);
		rc |= bt_puts(o, num);
		rc |= bt_json_str(o, special[i], strlen(special[i]));
		rc |= bt_puts(o, ",\n      \"single_word\": false,\n      \"lstrip\": false,\n"
		                 "      \"rstrip\": false,\n      \"normalized\": false,\n"
		                 "      \"special\": true\n    }");
	}
	rc |= bt_puts(o, n_special ? "\n  ],\n" : "],\n");
	rc |= bt_puts(o, "  \"normalizer\": null,\n  \"pre_tokenizer\": {\n    \"type\": \"ByteLevel\",\n    ");
	rc |= bt_puts(o, bt_bytelevel);
	rc |= bt_puts(o, "  \"post_processor\": {\n    \"type\": \"ByteLevel\",\n    ");
	rc |= bt_puts(o, bt_bytelevel);
	rc |= bt_puts(o, "  \"decoder\": {\n    \"type\": \"ByteLevel\",\n    ");
	rc |= bt_puts(o, bt_bytelevel);
	rc |= bt_puts(o, "  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n"
	                 "    \"unk_token\": null,\n    \"continuing_subword_prefix\": null,\n"
	                 "    \"end_of_word_suffix\": null,\n    \"fuse_unk\": false,\n"
	                 "    \"byte_fallback\": false,\n    \"ignore_merges\": false,\n"
	                 "    \"vocab\": {");
	for (i = 0; i < t->n_tok + n_special && rc == 0; i++) {
		rc |= bt_puts(o, i ? ",\n      " : "\n      ");
		if (i < t->n_tok) {
			rc |= bt_spell(t, i, &sp);
			rc |= bt_json_str(o, sp.p, sp.len);
		} else {
			rc |= bt_json_str(o, special[i - t->n_tok], strlen(special[i - t->n_tok]));
		}
		snprintf(num, sizeof num, ": %d", i);
		rc |= bt_puts(o, num);
	}
	rc |= bt_puts(o, "\n    },\n    \"merges\": [");
	for (m = 0; m < t->merge_a.n && rc == 0; m++) {
		rc |= bt_puts(o, m ? ",\n      [" : "\n      [");
		rc |= bt_spell(t, t->merge_a.p[m], &sp) || bt_spell(t, t->merge_b.p[m], &sp2);
		rc |= bt_json_str(o, sp.p, sp.len);
		rc |= bt_puts(o, ", ");
		rc |= bt_json_str(o, sp2.p, sp2.len);
		rc |= bt_puts(o, "]");
	}
	rc |= bt_puts(o, t->merge_a.n ? "\n    ]\n  }\n}\n" : "]\n  }\n}\n");
	tok_buf_free(&sp);
	tok_buf_free(&sp2);
	return rc ? -1 : 0;
}

/* ---- The entry point ------------------------------------------------------------ */

static void bt_free(bt *t)
{
	size_t i;

	tok_map_free(&t->words);
	tok_ids_free(&t->sym);
	free(t->word);
	tok_buf_free(&t->tok);
	free(t->tk);
	tok_pair_free(&t->pair_of);
	for (i = 0; i < t->n_pair; i++)
		free(t->pair[i].where);
	free(t->pair);
	free(t->heap);
	tok_ids_free(&t->touched);
	tok_ids_free(&t->merge_a);
	tok_ids_free(&t->merge_b);
}

/* The checks on the arguments, each with its message. */
static int bt_check(const tfm_bpe_text *texts, int n_texts, int vocab, const char *const *special,
                    int n_special, tfm_error *e)
{
	size_t bad, line, k;
	int i, j;

	if (n_texts < 1)
		return tfm_fail(e, "tokenizer training: no text");
	for (i = 0; i < n_special; i++) {
		size_t len = strlen(special[i]);
		if (len == 0)
			return tfm_fail(e, "tokenizer training: special token %d is empty", i + 1);
		if ((bad = tok_utf8_check(special[i], len)) < len)
			return tfm_fail(e, "tokenizer training: special token %d is not UTF-8 at byte %zu",
			                i + 1, bad);
		for (j = 0; j < i; j++)
			if (strcmp(special[i], special[j]) == 0)
				return tfm_fail(e, "tokenizer training: special token \"%s\" is given twice",
				                special[i]);
	}
	if (vocab < 256 + n_special)
		return tfm_fail(e, "tokenizer training: a vocabulary of %d is too small: it holds the 256 "
		                "bytes and %d special token%s, so %d at least", vocab, n_special,
		                n_special == 1 ? "" : "s", 256 + n_special);
	if (vocab > TOK_MAX_ID + 1)
		return tfm_fail(e, "tokenizer training: a vocabulary of %d is too large (%d at most)",
		                vocab, TOK_MAX_ID + 1);
	for (i = 0; i < n_texts; i++) {
		const char *name = texts[i].name != NULL ? texts[i].name : "the text";
		if (texts[i].len == 0)
			return tfm_fail(e, "%s: empty: nothing to train on", name);
		if ((bad = tok_utf8_check(texts[i].data, texts[i].len)) < texts[i].len) {
			for (line = 1, k = 0; k < bad; k++)
				line += texts[i].data[k] == '\n';
			return tfm_fail(e, "%s:%zu: not UTF-8 at byte %zu (0x%02x)", name, line, bad,
			                (unsigned char)texts[i].data[bad]);
		}
	}
	return 0;
}

int tfm_bpe_train(const tfm_bpe_text *texts, int n_texts, int vocab, const char *const *special,
                  int n_special, char **json, size_t *json_len, tfm_bpe_stats *st, tfm_error *e)
{
	bt t;
	tok_regex *re = NULL;
	tok_trie trie = { 0 };
	tok_added *added = NULL;
	tok_buf out = { 0 };
	size_t w, p;
	int i, step, rc = -1, r;

	*json = NULL;
	*json_len = 0;
	memset(st, 0, sizeof *st);
	memset(&t, 0, sizeof t);
	if (bt_check(texts, n_texts, vocab, special, n_special, e) != 0)
		return -1;
	if (tok_regex_new(&re, tok_gpt2_regex, strlen(tok_gpt2_regex), 0,
	                  "tokenizer training: GPT-2's regex", e) != 0)
		return -1;
	if (n_special > 0 && (added = calloc((size_t)n_special, sizeof *added)) == NULL)
		goto oom;
	for (i = 0; i < n_special; i++) {
		added[i].content = (char *)special[i];
		added[i].len = strlen(special[i]);
		added[i].id = i;
		added[i].special = 1;
		if (tok_trie_add(&trie, special[i], added[i].len, i) != 0)
			goto oom;
	}
	/* Words. */
	for (i = 0; i < n_texts; i++) {
		st->bytes += texts[i].len;
		if (bt_count(&t, re, &trie, added, texts[i].data, texts[i].len, e) != 0)
			goto out;
	}
	for (i = 0; i < 256; i++)
		if (bt_tok_add(&t, -1, -1, (unsigned char)i) != 0)
			goto oom;
	/* Pairs, counted and queued. */
	for (w = 0; w < t.n_words; w++) {
		const int *s = t.sym.p + t.word[w].off;
		uint32_t k;
		st->words += (size_t)t.word[w].count;
		for (k = 0; k + 1 < t.word[w].len; k++)
			if (bt_delta(&t, s[k], s[k + 1], t.word[w].count, (int)w, -1) != 0)
				goto oom;
	}
	for (p = 0; p < t.n_pair; p++)
		if (bt_heap_push(&t, t.pair[p].count, (int)p) != 0)
			goto oom;
	/* Merges. */
	for (step = 0; t.n_tok + n_special < vocab; step++) {
		if ((r = bt_step(&t, step)) < 0)
			goto oom;
		if (r > 0)
			break;
	}
	/* A special token spelled as a learned token would have two ids. */
	for (i = 0; i < n_special; i++) {
		tok_buf sp = { 0 };
		int id, clash = 0;
		for (id = 0; id < t.n_tok && !clash; id++) {
			if (bt_spell(&t, id, &sp) != 0) {
				tok_buf_free(&sp);
				goto oom;
			}
			clash = sp.len == strlen(special[i]) && memcmp(sp.p, special[i], sp.len) == 0;
		}
		tok_buf_free(&sp);
		if (clash) {
			tfm_fail(e, "tokenizer training: the special token \"%s\" is also the spelling of "
			         "token %d", special[i], id - 1);
			goto out;
		}
	}
	st->merges = (int)t.merge_a.n;
	st->vocab = t.n_tok + n_special;
	st->distinct = t.n_words;
	st->tokens = t.specials_seen;
	for (w = 0; w < t.n_words; w++)
		st->tokens += (size_t)t.word[w].count * t.word[w].len;
	if (bt_write(&t, special, n_special, &out) != 0)
		goto oom;
	*json = out.p;
	*json_len = out.len;
	out.p = NULL;
	rc = 0;
	goto out;
oom:
	tok_oom(e);
out:
	tok_buf_free(&out);
	free(added);
	tok_trie_free(&trie);
	tok_regex_free(re);
	bt_free(&t);
	return rc;
}
