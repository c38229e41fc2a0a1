/* added.c: finding the added tokens (special or not) in text, as Hugging
 * Face's AddedVocabulary does: the tokens' contents in one automaton
 * matched leftmost-longest (here a byte trie walked from each position, a
 * match resuming the scan after it), then per match:
 *
 *   single_word  the match is dropped unless no word character (regex \w)
 *                touches it on either side
 *   lstrip       the whitespace before it joins the token (never reaching
 *                back into the previous match)
 *   rstrip       the whitespace after it joins the token
 *
 * The text between matches is what goes on to the normalizer (for the raw
 * text) or to the pre-tokenizer (for the normalized pieces).
 */
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

static int tok_trie_node(tok_trie *t, unsigned char byte)
{
	struct tok_trie_node *p;
	int cap;

	if (t->n == t->cap) {
		cap = t->cap ? t->cap * 2 : 256;
		if ((p = realloc(t->node, (size_t)cap * sizeof *p)) == NULL)
			return -1;
		t->node = p;
		t->cap = cap;
	}
	t->node[t->n].child = -1;
	t->node[t->n].sibling = -1;
	t->node[t->n].token = -1;
	t->node[t->n].byte = byte;
	return t->n++;
}

/* The first token added with a content keeps it. */
int tok_trie_add(tok_trie *t, const char *s, size_t len, int token)
{
	const unsigned char *u = (const unsigned char *)s;
	int cur, k, i;
	size_t j;

	if (len == 0)
		return 0;
	if (t->node == NULL)
		for (i = 0; i < 256; i++)
			t->root[i] = -1;
	if ((cur = t->root[u[0]]) < 0) {
		if ((cur = tok_trie_node(t, u[0])) < 0)
			return -1;
		t->root[u[0]] = cur;
	}
	for (j = 1; j < len; j++) {
		for (k = t->node[cur].child; k >= 0 && t->node[k].byte != u[j]; k = t->node[k].sibling)
			;
		if (k < 0) {
			if ((k = tok_trie_node(t, u[j])) < 0)
				return -1;
			t->node[k].sibling = t->node[cur].child;
			t->node[cur].child = k;
		}
		cur = k;
	}
	if (t->node[cur].token < 0)
		t->node[cur].token = token;
	return 0;
}

void tok_trie_free(tok_trie *t)
{
	free(t->node);
	memset(t, 0, sizeof *t);
}

/* The longest token starting at s[0], its length in *n; or -1. */
static int tok_trie_longest(const tok_trie *t, const unsigned char *s, size_t len, size_t *n)
{
	int cur = t->root[s[0]], best = -1;
	size_t k = 1;

	while (cur >= 0) {
		if (t->node[cur].token >= 0) {
			best = t->node[cur].token;
			*n = k;
		}
		if (k >= len)
			break;
		for (cur = t->node[cur].child; cur >= 0 && t->node[cur].byte != s[k];
		     cur = t->node[cur].sibling)
			;
		k++;
	}
	return best;
}

static int tok_segs_push(tok_segs *v, size_t s, size_t e, int id)
{
	tok_seg *p;
	size_t cap;

	if (v->n == v->cap) {
		cap = v->cap ? v->cap * 2 : 16;
		if ((p = realloc(v->p, cap * sizeof *p)) == NULL)
			return -1;
		v->p = p;
		v->cap = cap;
	}
	v->p[v->n].s = s;
	v->p[v->n].e = e;
	v->p[v->n].id = id;
	v->n++;
	return 0;
}

void tok_segs_free(tok_segs *v)
{
	free(v->p);
	memset(v, 0, sizeof *v);
}

/* The character that ends s[0..end-1], or -1 at the start. */
static int32_t tok_char_before(const char *s, size_t end)
{
	size_t c = end;
	int32_t cp = -1;

	if (end == 0)
		return -1;
	do
		c--;
	while (c > 0 && ((unsigned char)s[c] & 0xc0) == 0x80 && end - c < 4);
	tok_utf8_next(s + c, end - c, &cp);
	return cp;
}

int tok_added_split(const tok_trie *t, const tok_added *tokens, const char *s, size_t len,
                    tok_segs *out)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, n = 0, start, stop, from = 0, k;
	const tok_added *a;
	int32_t cp;
	int tok;

	out->n = 0;
	while (t->node != NULL && i < len) {
		if (t->root[u[i]] < 0 || (tok = tok_trie_longest(t, u + i, len - i, &n)) < 0) {
			i++;
			continue;
		}
		start = i;
		stop = i + n;
		i = stop;
		a = &tokens[tok];
		if (a->single_word) {
			int before = start > 0 && tok_is_word(tok_char_before(s, start));
			int after = stop < len && (tok_utf8_next(s + stop, len - stop, &cp), tok_is_word(cp));
			if (before || after)
				continue;
		}
		if (a->lstrip) {
			while (start > from && tok_is_space(tok_char_before(s, start))) {
				k = start;
				do
					k--;
				while (k > 0 && (u[k] & 0xc0) == 0x80);
				start = k;
			}
			if (start < from)
				start = from;
		}
		if (a->rstrip)
			while (stop < len && (k = tok_utf8_next(s + stop, len - stop, &cp), tok_is_space(cp)))
				stop += k;
		if (from < start && tok_segs_push(out, from, start, -1) != 0)
			return -1;
		if (tok_segs_push(out, start, stop, a->id) != 0)
			return -1;
		from = stop;
	}
	if (from < len && tok_segs_push(out, from, len, -1) != 0)
		return -1;
	return 0;
}
