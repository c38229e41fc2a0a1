/* bpe.c: the BPE model: one word (a piece the pre-tokenizer left) into ids,
 * as Hugging Face's BPE::merge_word and Word::merge_all do it.
 *
 * The word starts as its characters, each looked up in the vocabulary (with
 * continuing_subword_prefix on all but the first, end_of_word_suffix on the
 * last); a character that is not there becomes its bytes' <0xXX> tokens
 * (byte_fallback, when all of them exist), else unk_token (consecutive ones
 * fused into one with fuse_unk), else nothing.  Then the adjacent pair of
 * lowest merge rank is merged, the leftmost first among equals, until no
 * pair has a merge: a min-heap of (rank, position) over the symbols kept as
 * a linked list, with stale entries skipped when popped: O(n log n), so a
 * whole text that is one word (SentencePiece style, no pre-tokenizer) costs
 * no more than its pieces would.
 *
 * Words shorter than 256 bytes are cached (text repeats its words), up to
 * 128k words or 8 MB, when the cache starts again.
 * ignore_merges: a word that is itself in the vocabulary is that token.
 * BPE dropout is ignored (the ids are those of dropout 0).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

#define TOK_CACHE_WORD_MAX 256
#define TOK_CACHE_ENTRIES (1u << 17)
#define TOK_CACHE_BYTES ((size_t)8 << 20)	/* keys and ids: then it starts again */

struct tok_sym {
	int id;
	int prev, next;		/* neighbours in the list, -1 at the ends */
	size_t len;		/* bytes; 0: merged into its left neighbour */
};

struct tok_heap_ent {
	uint32_t rank;
	uint32_t pos;		/* the left symbol of the pair */
	int new_id;
};

static int tok_heap_less(const tok_heap_ent *a, const tok_heap_ent *b)
{
	return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

/* A 4-ary min-heap: half the levels of a binary one, which matters once a
 * long word's heap outgrows the cache. */
#define TOK_HEAP_D 4

static void tok_heap_down(tok_heap_ent *h, size_t n, size_t i)
{
	tok_heap_ent x = h[i];
	size_t c, k, best;

	for (;;) {
		c = TOK_HEAP_D * i + 1;
		if (c >= n)
			break;
		best = c;
		for (k = c + 1; k < c + TOK_HEAP_D && k < n; k++)
			if (tok_heap_less(&h[k], &h[best]))
				best = k;
		if (!tok_heap_less(&h[best], &x))
			break;
		h[i] = h[best];
		i = best;
	}
	h[i] = x;
}

static int tok_heap_reserve(tok_bpe *m, size_t n)
{
	tok_heap_ent *h;
	size_t cap;

	if (n <= m->heap_cap)
		return 0;
	cap = m->heap_cap ? m->heap_cap : 256;
	while (cap < n)
		cap *= 2;
	if ((h = realloc(m->heap, cap * sizeof *h)) == NULL)
		return -1;
	m->heap = h;
	m->heap_cap = cap;
	return 0;
}

static int tok_heap_push(tok_bpe *m, size_t *n, uint32_t rank, uint32_t pos, int new_id)
{
	tok_heap_ent *h, x = { rank, pos, new_id };
	size_t i;

	if (tok_heap_reserve(m, *n + 1) != 0)
		return -1;
	h = m->heap;
	for (i = (*n)++; i > 0 && tok_heap_less(&x, &h[(i - 1) / TOK_HEAP_D]); i = (i - 1) / TOK_HEAP_D)
		h[i] = h[(i - 1) / TOK_HEAP_D];
	h[i] = x;
	return 0;
}

static tok_heap_ent tok_heap_pop(tok_bpe *m, size_t *n)
{
	tok_heap_ent *h = m->heap, top = h[0];

	h[0] = h[--*n];
	if (*n > 0)
		tok_heap_down(h, *n, 0);
	return top;
}

static int tok_sym_add(tok_bpe *m, size_t *n, int id, size_t len)
{
	tok_sym *s;
	size_t cap;

	if (*n == m->sym_cap) {
		cap = m->sym_cap ? m->sym_cap * 2 : 256;
		if ((s = realloc(m->sym, cap * sizeof *s)) == NULL)
			return -1;
		m->sym = s;
		m->sym_cap = cap;
	}
	s = &m->sym[*n];
	s->id = id;
	s->len = len;
	s->prev = *n > 0 ? (int)*n - 1 : -1;
	s->next = -1;
	if (*n > 0)
		m->sym[*n - 1].next = (int)*n;
	(*n)++;
	return 0;
}

/* Word::merge_all. */
static int tok_merge_all(tok_bpe *m, size_t n)
{
	const tok_pair_slot *pr;
	size_t hn = 0, i;
	tok_sym *s = m->sym;

	/* The pairs there are, then heapified at once (O(n)). */
	if (n > 1 && tok_heap_reserve(m, n - 1) != 0)
		return -1;
	for (i = 0; i + 1 < n; i++)
		if ((pr = tok_pair_get(&m->merges, s[i].id, s[i + 1].id)) != NULL) {
			tok_heap_ent x = { pr->rank, (uint32_t)i, pr->id };
			m->heap[hn++] = x;
		}
	for (i = hn / TOK_HEAP_D + 1; i-- > 0;)
		if (i < hn)
			tok_heap_down(m->heap, hn, i);
	while (hn > 0) {
		tok_heap_ent top = tok_heap_pop(m, &hn);
		tok_sym *cur = &s[top.pos], right;
		if (cur->len == 0 || cur->next < 0)
			continue;
		right = s[cur->next];
		pr = tok_pair_get(&m->merges, cur->id, right.id);
		if (pr == NULL || pr->id != top.new_id)
			continue;	/* stale */
		s[cur->next].len = 0;
		cur->id = top.new_id;
		cur->len += right.len;
		cur->next = right.next;
		if (right.next >= 0)
			s[right.next].prev = (int)top.pos;
		if (cur->prev >= 0 && (pr = tok_pair_get(&m->merges, s[cur->prev].id, cur->id)) != NULL &&
		    tok_heap_push(m, &hn, pr->rank, (uint32_t)cur->prev, pr->id) != 0)
			return -1;
		if (cur->next >= 0 && (pr = tok_pair_get(&m->merges, cur->id, s[cur->next].id)) != NULL &&
		    tok_heap_push(m, &hn, pr->rank, top.pos, pr->id) != 0)
			return -1;
	}
	return 0;
}

/* The vocabulary id of one character of the word, with the prefix and
 * suffix that its place gives it; the key used is left in m->tmp. */
static int tok_char_id(tok_bpe *m, const char *c, size_t k, int is_first, int is_last)
{
	int pre = !is_first && m->prefix != NULL, suf = is_last && m->suffix != NULL;

	m->tmp.len = 0;
	if ((pre && tok_buf_add(&m->tmp, m->prefix, m->prefix_len) != 0) ||
	    tok_buf_add(&m->tmp, c, k) != 0 ||
	    (suf && tok_buf_add(&m->tmp, m->suffix, m->suffix_len) != 0))
		return -2;
	return tok_map_get(&m->vocab, m->tmp.p, m->tmp.len);
}

/* BPE::merge_word: the symbols of s[len], merged; their count in *n. */
static int tok_merge_word(tok_bpe *m, const char *s, size_t len, size_t *n, tfm_error *e)
{
	size_t i = 0, k, j, unk_len = 0;
	int id, unk = -1, all;
	int32_t cp;

	*n = 0;
	while (i < len) {
		k = tok_utf8_next(s + i, len - i, &cp);
		if ((id = tok_char_id(m, s + i, k, i == 0, i + k == len)) == -2)
			return tok_oom(e);
		if (id >= 0) {
			if (unk >= 0 && tok_sym_add(m, n, unk, unk_len) != 0)
				return tok_oom(e);
			unk = -1;
			if (tok_sym_add(m, n, id, k) != 0)
				return tok_oom(e);
			i += k;
			continue;
		}
		if (m->byte_fallback) {
			/* The bytes of the key, prefix and suffix included, as in
			 * Hugging Face; a pending unk stays pending. */
			for (j = 0, all = 1; j < m->tmp.len && all; j++)
				all = m->byte_id[(unsigned char)m->tmp.p[j]] >= 0;
			if (all) {
				for (j = 0; j < m->tmp.len; j++)
					if (tok_sym_add(m, n, m->byte_id[(unsigned char)m->tmp.p[j]], 1) != 0)
						return tok_oom(e);
				i += k;
				continue;
			}
		}
		if (m->unk != NULL) {
			if (m->unk_id < 0)
				return tfm_fail(e, "tokenizer: model.unk_token \"%s\" is not in the vocabulary",
				                m->unk);
			if (unk >= 0 && m->fuse_unk) {
				unk_len += k;
			} else {
				if (unk >= 0 && tok_sym_add(m, n, unk, unk_len) != 0)
					return tok_oom(e);
				unk = m->unk_id;
				unk_len = k;
			}
		}
		i += k;
	}
	if (unk >= 0 && tok_sym_add(m, n, unk, unk_len) != 0)
		return tok_oom(e);
	return tok_merge_all(m, *n) != 0 ? tok_oom(e) : 0;
}

int tok_bpe_word(tok_bpe *m, const char *s, size_t len, tok_ids *out, tfm_error *e)
{
	size_t n, i, at;
	int id;

	if (len == 0)
		return 0;
	if (len > UINT32_MAX / 2)
		return tfm_fail(e, "tokenizer: a word of %zu bytes is too long", len);
	if (m->ignore_merges && (id = tok_map_get(&m->vocab, s, len)) >= 0)
		return tok_ids_push(out, id) != 0 ? tok_oom(e) : 0;
	if (len < TOK_CACHE_WORD_MAX && (id = tok_map_get(&m->cache, s, len)) >= 0)
		return tok_ids_add(out, m->cache_ids.p + id + 1, (size_t)m->cache_ids.p[id]) != 0
		       ? tok_oom(e) : 0;
	if (tok_merge_word(m, s, len, &n, e) != 0)
		return -1;
	at = out->n;
	for (i = 0; i < n; i++)
		if (m->sym[i].len != 0 && tok_ids_push(out, m->sym[i].id) != 0)
			return tok_oom(e);
	if (len < TOK_CACHE_WORD_MAX) {
		if (m->cache.n >= TOK_CACHE_ENTRIES ||
		    m->cache.keys.len + m->cache_ids.n * sizeof(int) > TOK_CACHE_BYTES) {
			tok_map_clear(&m->cache);
			m->cache_ids.n = 0;
		}
		id = (int)m->cache_ids.n;
		if (tok_ids_push(&m->cache_ids, (int)(out->n - at)) != 0 ||
		    (out->n > at && tok_ids_add(&m->cache_ids, out->p + at, out->n - at) != 0) ||
		    tok_map_set(&m->cache, s, len, id) != 0)
			return tok_oom(e);
	}
	return 0;
}

void tok_bpe_free(tok_bpe *m)
{
	tok_map_free(&m->vocab);
	tok_pair_free(&m->merges);
	tok_map_free(&m->cache);
	tok_ids_free(&m->cache_ids);
	free(m->unk);
	free(m->prefix);
	free(m->suffix);
	free(m->sym);
	free(m->heap);
	tok_buf_free(&m->tmp);
	memset(m, 0, sizeof *m);
}
