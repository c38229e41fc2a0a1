/* maps.c: the tokenizer's containers: growable byte and id arrays, a hash
 * map from byte strings to ints (the vocabulary, the word cache) and one from
 * id pairs to merges.  Open addressing with linear probing, a power-of-two
 * table kept at most half full. */
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

int tok_oom(tfm_error *e)
{
	return tfm_fail(e, "tokenizer: out of memory");
}

int tok_buf_reserve(tok_buf *b, size_t extra)
{
	size_t cap;
	char *p;

	if (b->len + extra <= b->cap && b->p != NULL)
		return 0;
	if (extra > ((size_t)-1) / 2 - b->len)
		return -1;
	cap = b->cap ? b->cap : 64;
	while (cap < b->len + extra + 1)
		cap *= 2;
	if ((p = realloc(b->p, cap)) == NULL)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

/* Keeps one spare byte, so that p[len] may hold a NUL. */
int tok_buf_add(tok_buf *b, const void *s, size_t n)
{
	if (tok_buf_reserve(b, n + 1) != 0)
		return -1;
	if (n > 0)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

void tok_buf_free(tok_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

int tok_ids_add(tok_ids *v, const int *ids, size_t n)
{
	size_t cap;
	int *p;

	if (v->n + n > v->cap) {
		cap = v->cap ? v->cap : 64;
		while (cap < v->n + n)
			cap *= 2;
		if ((p = realloc(v->p, cap * sizeof *p)) == NULL)
			return -1;
		v->p = p;
		v->cap = cap;
	}
	if (n > 0)
		memcpy(v->p + v->n, ids, n * sizeof *ids);
	v->n += n;
	return 0;
}

int tok_ids_push(tok_ids *v, int id)
{
	return tok_ids_add(v, &id, 1);
}

void tok_ids_free(tok_ids *v)
{
	free(v->p);
	memset(v, 0, sizeof *v);
}

/* ---- Byte string → int ---------------------------------------------------- */

static uint64_t tok_hash(const char *s, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ (n * 0xff51afd7ed558ccdull), w;

	while (n >= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
		h ^= h >> 31;
		s += 8;
		n -= 8;
	}
	w = 0;
	memcpy(&w, s, n);
	h = (h ^ w) * 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 29;
	return h;
}

static int tok_map_grow_to(tok_map *m, size_t cap)
{
	size_t i, j;
	tok_map_slot *slot = malloc(cap * sizeof *slot);

	if (slot == NULL)
		return -1;
	for (i = 0; i < cap; i++)
		slot[i].val = -1;
	for (i = 0; i < m->cap; i++) {
		if (m->slot[i].val < 0)
			continue;
		for (j = m->slot[i].hash & (cap - 1); slot[j].val >= 0; j = (j + 1) & (cap - 1))
			;
		slot[j] = m->slot[i];
	}
	free(m->slot);
	m->slot = slot;
	m->cap = cap;
	return 0;
}

static size_t tok_map_find(const tok_map *m, const char *s, size_t len, uint64_t h)
{
	size_t i;

	for (i = h & (m->cap - 1); m->slot[i].val >= 0; i = (i + 1) & (m->cap - 1)) {
		const tok_map_slot *x = &m->slot[i];
		if (x->hash == h && x->len == len && memcmp(m->keys.p + x->off, s, len) == 0)
			break;
	}
	return i;
}

static int tok_map_grow(tok_map *m)
{
	return tok_map_grow_to(m, m->cap ? m->cap * 2 : 64);
}

int tok_map_reserve(tok_map *m, size_t n)
{
	size_t cap = m->cap ? m->cap : 64;

	while (cap < 2 * (m->n + n))
		cap *= 2;
	return cap > m->cap ? tok_map_grow_to(m, cap) : 0;
}

int tok_map_set(tok_map *m, const char *s, size_t len, int val)
{
	uint64_t h = tok_hash(s, len);
	size_t i;

	if (len > UINT32_MAX)
		return -1;
	if ((m->n + 1) * 2 > m->cap && tok_map_grow(m) != 0)
		return -1;
	i = tok_map_find(m, s, len, h);
	if (m->slot[i].val >= 0) {
		m->slot[i].val = val;
		return 0;
	}
	m->slot[i].hash = h;
	m->slot[i].off = m->keys.len;
	m->slot[i].len = (uint32_t)len;
	if (tok_buf_add(&m->keys, s, len) != 0)
		return -1;
	m->slot[i].val = val;
	m->n++;
	return 0;
}

int tok_map_get(const tok_map *m, const char *s, size_t len)
{
	if (m->n == 0)
		return -1;
	return m->slot[tok_map_find(m, s, len, tok_hash(s, len))].val;
}

void tok_map_clear(tok_map *m)
{
	size_t i;

	for (i = 0; i < m->cap; i++)
		m->slot[i].val = -1;
	m->n = 0;
	m->keys.len = 0;
}

void tok_map_free(tok_map *m)
{
	free(m->slot);
	tok_buf_free(&m->keys);
	memset(m, 0, sizeof *m);
}

/* ---- (id, id) → merge ------------------------------------------------------ */

static uint64_t tok_pair_hash(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ull;
	k ^= k >> 33;
	return k;
}

static uint64_t tok_pair_key(int a, int b)
{
	return (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
}

static int tok_pair_grow_to(tok_pairmap *m, size_t cap)
{
	size_t i, j;
	tok_pair_slot *slot = malloc(cap * sizeof *slot);

	if (slot == NULL)
		return -1;
	for (i = 0; i < cap; i++)
		slot[i].id = -1;
	for (i = 0; i < m->cap; i++) {
		if (m->slot[i].id < 0)
			continue;
		for (j = tok_pair_hash(m->slot[i].key) & (cap - 1); slot[j].id >= 0;
		     j = (j + 1) & (cap - 1))
			;
		slot[j] = m->slot[i];
	}
	free(m->slot);
	m->slot = slot;
	m->cap = cap;
	return 0;
}

static int tok_pair_grow(tok_pairmap *m)
{
	return tok_pair_grow_to(m, m->cap ? m->cap * 2 : 64);
}

int tok_pair_reserve(tok_pairmap *m, size_t n)
{
	size_t cap = m->cap ? m->cap : 64;

	while (cap < 2 * (m->n + n))
		cap *= 2;
	return cap > m->cap ? tok_pair_grow_to(m, cap) : 0;
}

/* A pair set twice keeps the last rank, as the HashMap that Hugging Face
 * collects its merges into does. */
int tok_pair_set(tok_pairmap *m, int a, int b, uint32_t rank, int id)
{
	uint64_t k = tok_pair_key(a, b);
	size_t i;

	if ((m->n + 1) * 2 > m->cap && tok_pair_grow(m) != 0)
		return -1;
	for (i = tok_pair_hash(k) & (m->cap - 1); m->slot[i].id >= 0 && m->slot[i].key != k;
	     i = (i + 1) & (m->cap - 1))
		;
	if (m->slot[i].id < 0)
		m->n++;
	m->slot[i].key = k;
	m->slot[i].rank = rank;
	m->slot[i].id = id;
	return 0;
}

const tok_pair_slot *tok_pair_get(const tok_pairmap *m, int a, int b)
{
	uint64_t k = tok_pair_key(a, b);
	size_t i;

	if (m->n == 0)
		return NULL;
	for (i = tok_pair_hash(k) & (m->cap - 1); m->slot[i].id >= 0; i = (i + 1) & (m->cap - 1))
		if (m->slot[i].key == k)
			return &m->slot[i];
	return NULL;
}

void tok_pair_free(tok_pairmap *m)
{
	free(m->slot);
	memset(m, 0, sizeof *m);
}

/* ---- Pieces ---------------------------------------------------------------- */

/* buf.p is never NULL once a piece is open, even an empty one. */
int tok_pieces_open(tok_pieces *v, int first)
{
	tok_piece *p;
	size_t cap;

	if (tok_buf_reserve(&v->buf, 1) != 0)
		return -1;
	if (v->n == v->cap) {
		cap = v->cap ? v->cap * 2 : 64;
		if ((p = realloc(v->p, cap * sizeof *p)) == NULL)
			return -1;
		v->p = p;
		v->cap = cap;
	}
	v->p[v->n].off = v->buf.len;
	v->p[v->n].len = 0;
	v->p[v->n].first = first;
	v->n++;
	return 0;
}

void tok_pieces_close(tok_pieces *v)
{
	v->p[v->n - 1].len = v->buf.len - v->p[v->n - 1].off;
}

int tok_pieces_add(tok_pieces *v, const char *s, size_t len, int first)
{
	if (tok_pieces_open(v, first) != 0 || tok_buf_add(&v->buf, s, len) != 0)
		return -1;
	v->p[v->n - 1].len = len;
	return 0;
}

void tok_pieces_clear(tok_pieces *v)
{
	v->n = 0;
	v->buf.len = 0;
}

void tok_pieces_free(tok_pieces *v)
{
	tok_buf_free(&v->buf);
	free(v->p);
	memset(v, 0, sizeof *v);
}
