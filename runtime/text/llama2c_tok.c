/* llama2c_tok.c: llama2.c's tokenizer.bin, encoded and decoded as its run.c
 * does.
 *
 * The file: int32 max_token_length, then per token (ids 0, 1, ... to the end
 * of the file) float32 score, int32 length, the bytes; little-endian.  The
 * pieces hold ' ' where SentencePiece has '▁'; ids 0, 1, 2 are <unk>, <s>,
 * </s>, and 3 + b is the piece of byte b.
 *
 * encode: " " (the dummy prefix) unless the text is empty, then each
 * character's piece, or its bytes as ids 3 + byte when the vocabulary lacks
 * it; then, while some adjacent pair's concatenation is a piece, the pair
 * whose piece scores highest (the leftmost among equals) is merged.  run.c
 * rescans the whole list per merge (quadratic); here a max-heap of (score,
 * position) over the list as a linked list, stale entries skipped: the same
 * choices in O(n log n).  A piece found twice in the file is the lower id
 * (run.c's bsearch over a qsorted list picks either).
 *
 * decode: each id's piece, without its leading space right after BOS (1),
 * "<0x" and one or two hex digits (then anything) as that byte (byte 0 as
 * nothing: run.c's pieces are C strings).
 */
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

#define TOK_L2C_BOS 1
#define TOK_L2C_EOS 2
#define TOK_L2C_MIN_SCORE (-1e10f)	/* run.c's starting best_score */

static uint32_t tok_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int tok_l2c_read(tfm_tokenizer *t, const unsigned char *data, size_t len, tfm_error *e)
{
	size_t off = 4, cap = 0;
	uint32_t u, plen;
	float score, *sc;
	int id = 0, max_len;

	t->kind = TOK_LLAMA2C;
	if (len < 4)
		return tfm_fail(e, "%s: %zu bytes: neither a tokenizer.json (which starts with '{') nor "
		                "a llama2.c tokenizer.bin", t->name, len);
	max_len = (int)tok_le32(data);
	if (max_len <= 0)
		return tfm_fail(e, "%s: max_token_length %d is not positive: not a llama2.c "
		                "tokenizer.bin", t->name, max_len);
	while (off < len) {
		if (len - off < 8)
			return tfm_fail(e, "%s: token %d is cut short at byte %zu", t->name, id, off);
		u = tok_le32(data + off);
		memcpy(&score, &u, sizeof score);
		plen = tok_le32(data + off + 4);
		off += 8;
		if (plen > len - off)
			return tfm_fail(e, "%s: token %d: its length %u runs past the end of the file",
			                t->name, id, plen);
		if (id > TOK_MAX_ID)
			return tfm_fail(e, "%s: more than %d tokens", t->name, TOK_MAX_ID + 1);
		if ((size_t)id >= cap) {
			cap = cap ? cap * 2 : 1024;
			if ((sc = realloc(t->score, cap * sizeof *sc)) == NULL)
				return tok_oom(e);
			t->score = sc;
		}
		t->score[id] = score;
		if (tok_set_piece(t, id, (const char *)data + off, plen) != 0)
			return tok_oom(e);
		if (tok_map_get(&t->l2c_vocab, (const char *)data + off, plen) < 0 &&
		    tok_map_set(&t->l2c_vocab, (const char *)data + off, plen, id) != 0)
			return tok_oom(e);
		off += plen;
		id++;
	}
	if (id < 3)
		return tfm_fail(e, "%s: %d tokens: llama2.c's tokenizer has <unk>, <s> and </s> first",
		                t->name, id);
	t->n_vocab = id;
	t->l2c_space = tok_map_get(&t->l2c_vocab, " ", 1);
	t->special[0] = t->special[TOK_L2C_BOS] = t->special[TOK_L2C_EOS] = 1;
	if (tok_ids_push(&t->prefix, TOK_L2C_BOS) != 0 || tok_ids_push(&t->eos, TOK_L2C_EOS) != 0)
		return tok_oom(e);
	return 0;
}

struct tok_l2c_sym {
	int id, prev, next;
	int alive;
};

struct tok_l2c_ent {
	float score;
	int pos;		/* the left symbol */
	int left, right;	/* the ids of the pair when it was pushed */
	int new_id;
};

typedef struct tok_l2c {
	struct tok_l2c_sym *sym;
	size_t n, cap;
	struct tok_l2c_ent *heap;
	size_t hn, hcap;
	tok_buf cat;
} tok_l2c;

static int tok_l2c_before(const struct tok_l2c_ent *a, const struct tok_l2c_ent *b)
{
	return a->score != b->score ? a->score > b->score : a->pos < b->pos;
}

static int tok_l2c_push_sym(tok_l2c *w, int id)
{
	struct tok_l2c_sym *p;
	size_t cap;

	if (w->n == w->cap) {
		cap = w->cap ? w->cap * 2 : 256;
		if ((p = realloc(w->sym, cap * sizeof *p)) == NULL)
			return -1;
		w->sym = p;
		w->cap = cap;
	}
	w->sym[w->n].id = id;
	w->sym[w->n].prev = (int)w->n - 1;
	w->sym[w->n].next = -1;
	w->sym[w->n].alive = 1;
	if (w->n > 0)
		w->sym[w->n - 1].next = (int)w->n;
	w->n++;
	return 0;
}

/* Pushes the pair starting at symbol pos when its concatenation is a piece
 * that run.c would merge. */
static int tok_l2c_pair(tfm_tokenizer *t, tok_l2c *w, int pos)
{
	struct tok_l2c_ent x, *h;
	int a, b, id;
	size_t i, cap;

	if (pos < 0 || w->sym[pos].next < 0)
		return 0;
	a = w->sym[pos].id;
	b = w->sym[w->sym[pos].next].id;
	w->cat.len = 0;
	if (tok_buf_add(&w->cat, t->pieces.p + t->piece_off[a], t->piece_len[a]) != 0 ||
	    tok_buf_add(&w->cat, t->pieces.p + t->piece_off[b], t->piece_len[b]) != 0)
		return -1;
	id = tok_map_get(&t->l2c_vocab, w->cat.p, w->cat.len);
	if (id < 0 || !(t->score[id] > TOK_L2C_MIN_SCORE))
		return 0;
	if (w->hn == w->hcap) {
		cap = w->hcap ? w->hcap * 2 : 256;
		if ((h = realloc(w->heap, cap * sizeof *h)) == NULL)
			return -1;
		w->heap = h;
		w->hcap = cap;
	}
	x.score = t->score[id];
	x.pos = pos;
	x.left = a;
	x.right = b;
	x.new_id = id;
	h = w->heap;
	for (i = w->hn++; i > 0 && tok_l2c_before(&x, &h[(i - 1) / 2]); i = (i - 1) / 2)
		h[i] = h[(i - 1) / 2];
	h[i] = x;
	return 0;
}

static struct tok_l2c_ent tok_l2c_pop(tok_l2c *w)
{
	struct tok_l2c_ent *h = w->heap, top = h[0], x = h[--w->hn];
	size_t i = 0, c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= w->hn)
			break;
		if (c + 1 < w->hn && tok_l2c_before(&h[c + 1], &h[c]))
			c++;
		if (!tok_l2c_before(&h[c], &x))
			break;
		h[i] = h[c];
		i = c;
	}
	if (w->hn > 0)
		h[i] = x;
	return top;
}

static int tok_l2c_run(tfm_tokenizer *t, tok_l2c *w, const char *text, size_t len, tok_ids *out,
                       tfm_error *e)
{
	size_t i = 0, k, j;
	int32_t cp;
	int id;

	if (len > 0 && t->l2c_space >= 0 && tok_l2c_push_sym(w, t->l2c_space) != 0)
		return tok_oom(e);
	while (i < len) {
		k = tok_utf8_next(text + i, len - i, &cp);
		if ((id = tok_map_get(&t->l2c_vocab, text + i, k)) >= 0) {
			if (tok_l2c_push_sym(w, id) != 0)
				return tok_oom(e);
		} else {
			for (j = 0; j < k; j++) {
				id = (unsigned char)text[i + j] + 3;
				if (id >= t->n_vocab)
					return tfm_fail(e, "tokenizer: byte 0x%02X falls back to id %d, outside "
					                "the vocabulary (%d ids)",
					                (unsigned char)text[i + j], id, t->n_vocab);
				if (tok_l2c_push_sym(w, id) != 0)
					return tok_oom(e);
			}
		}
		i += k;
	}
	for (i = 0; i + 1 < w->n; i++)
		if (tok_l2c_pair(t, w, (int)i) != 0)
			return tok_oom(e);
	while (w->hn > 0) {
		struct tok_l2c_ent top = tok_l2c_pop(w);
		struct tok_l2c_sym *s = &w->sym[top.pos];
		int r = s->next;
		if (!s->alive || r < 0 || s->id != top.left || w->sym[r].id != top.right)
			continue;	/* stale */
		s->id = top.new_id;
		s->next = w->sym[r].next;
		if (s->next >= 0)
			w->sym[s->next].prev = top.pos;
		w->sym[r].alive = 0;
		if (tok_l2c_pair(t, w, s->prev) != 0 || tok_l2c_pair(t, w, top.pos) != 0)
			return tok_oom(e);
	}
	for (i = 0; i < w->n; i++)
		if (w->sym[i].alive && tok_ids_push(out, w->sym[i].id) != 0)
			return tok_oom(e);
	return 0;
}

int tok_l2c_encode(tfm_tokenizer *t, const char *text, size_t len, tok_ids *out, tfm_error *e)
{
	tok_l2c w = { 0 };
	int rc;

	if (len > (size_t)TOK_MAX_ID * 64)
		return tfm_fail(e, "tokenizer: %zu bytes of text is too long", len);
	rc = tok_l2c_run(t, &w, text, len, out, e);
	free(w.sym);
	free(w.heap);
	tok_buf_free(&w.cat);
	return rc;
}

int tok_l2c_decode(tfm_tokenizer *t, const int *ids, size_t n, int flags, tok_buf *out,
                   tfm_error *e)
{
	tok_buf raw = { 0 };
	size_t i, len;
	int rc = 0;

	out->len = 0;
	for (i = 0; i < n && rc == 0; i++) {
		const char *p = t->pieces.p + t->piece_off[ids[i]];
		len = t->piece_len[ids[i]];
		if ((flags & TFM_DECODE_SKIP_SPECIAL) && t->special[ids[i]])
			continue;
		if (i > 0 && ids[i - 1] == TOK_L2C_BOS && len > 0 && p[0] == ' ') {
			p++;
			len--;
		}
		if (len >= 4 && memcmp(p, "<0x", 3) == 0 && tok_hexval(p[3]) >= 0) {
			int b = tok_hexval(p[3]);
			if (len >= 5 && tok_hexval(p[4]) >= 0)
				b = b * 16 + tok_hexval(p[4]);
			if (b != 0) {
				unsigned char c = (unsigned char)b;
				rc = tok_buf_add(&raw, &c, 1);
			}
			continue;
		}
		rc = tok_buf_add(&raw, p, len);
	}
	if (rc == 0)
		rc = (flags & TFM_DECODE_RAW) ? tok_buf_add(out, raw.p, raw.len)
		                              : tok_utf8_lossy(out, raw.p, raw.len);
	tok_buf_free(&raw);
	return rc != 0 ? tok_oom(e) : 0;
}
