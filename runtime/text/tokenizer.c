/* tokenizer.c: the public tokenizer API of tfm.h: opening a file or a model
 * folder, encode and decode (Hugging Face's pipeline, see tok_internal.h;
 * llama2.c's in llama2c_tok.c), BOS and EOS.
 *
 * A tokenizer holds scratch buffers and a word cache: one encode or decode
 * at a time per tokenizer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tfm_internal.h"
#include "tok_internal.h"

#define TOK_FILE_MAX ((size_t)1 << 30)

int tok_read_file(const char *path, char **data, size_t *len, int *missing, tfm_error *e)
{
	*missing = access(path, F_OK) != 0 && errno == ENOENT;
	return tfm_read_text(path, TOK_FILE_MAX, "a tokenizer has", data, len, e);
}

int tok_open_memory(tfm_tokenizer **out, const char *data, size_t len, const char *name,
                    tfm_error *e)
{
	tfm_tokenizer *t;
	size_t i = 0;
	int rc;

	*out = NULL;
	if ((t = calloc(1, sizeof *t)) == NULL || (t->name = malloc(strlen(name) + 1)) == NULL) {
		free(t);
		return tok_oom(e);
	}
	strcpy(t->name, name);
	t->l2c_space = -1;
	while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r'))
		i++;
	/* '{' then NUL would be a tokenizer.bin whose max_token_length is 123. */
	if (i < len && data[i] == '{' && (i + 1 == len || data[i + 1] != '\0')) {
		rc = tok_hf_read(t, data, len, e);
		if (rc == 0)
			rc = tok_default_eos_ids(t, e);
	} else {
		rc = tok_l2c_read(t, (const unsigned char *)data, len, e);
	}
	if (rc != 0) {
		tfm_tokenizer_close(t);
		return -1;
	}
	*out = t;
	return 0;
}

int tfm_tokenizer_open(tfm_tokenizer **out, const char *path, tfm_error *e)
{
	char file[4096];
	struct stat st;
	char *data;
	size_t len;
	int missing, is_dir, rc;

	*out = NULL;
	if (stat(path, &st) != 0)
		return tfm_fail(e, "%s: %s", path, strerror(errno));
	is_dir = S_ISDIR(st.st_mode);
	if (is_dir) {
		snprintf(file, sizeof file, "%s/tokenizer.json", path);
		if (stat(file, &st) != 0) {
			snprintf(file, sizeof file, "%s/tokenizer.bin", path);
			if (stat(file, &st) != 0)
				return tfm_fail(e, "%s: no tokenizer.json or tokenizer.bin in this folder",
				                path);
		}
	} else {
		snprintf(file, sizeof file, "%s", path);
	}
	if (tok_read_file(file, &data, &len, &missing, e) != 0)
		return -1;
	rc = tok_open_memory(out, data, len, file, e);
	free(data);
	if (rc == 0 && is_dir && (*out)->kind == TOK_HF && tok_hf_config(*out, path, e) != 0) {
		tfm_tokenizer_close(*out);
		*out = NULL;
		return -1;
	}
	return rc;
}

void tfm_tokenizer_close(tfm_tokenizer *t)
{
	int i;

	if (t == NULL)
		return;
	free(t->name);
	tok_buf_free(&t->pieces);
	free(t->piece_off);
	free(t->piece_len);
	free(t->special);
	tok_bpe_free(&t->bpe);
	for (i = 0; i < t->n_norm; i++) {
		free(t->norm[i].str);
		tok_regex_free(t->norm[i].re);
	}
	free(t->norm);
	for (i = 0; i < t->n_pre; i++)
		tok_regex_free(t->pre[i].re);
	free(t->pre);
	for (i = 0; i < t->n_dec; i++) {
		free(t->dec[i].str);
		tok_regex_free(t->dec[i].re);
	}
	free(t->dec);
	for (i = 0; i < t->n_added; i++)
		free(t->added[i].content);
	free(t->added);
	tok_map_free(&t->added_ids);
	tok_trie_free(&t->raw_trie);
	tok_trie_free(&t->norm_trie);
	tok_ids_free(&t->prefix);
	tok_ids_free(&t->suffix);
	tok_ids_free(&t->eos);
	free(t->score);
	tok_map_free(&t->l2c_vocab);
	tok_buf_free(&t->norm_buf);
	tok_segs_free(&t->segs);
	tok_segs_free(&t->nsegs);
	tok_pieces_free(&t->pa);
	tok_pieces_free(&t->pb);
	free(t);
}

int tfm_tokenizer_vocab(const tfm_tokenizer *t)
{
	return t->n_vocab;
}

int tfm_tokenizer_bos(const tfm_tokenizer *t)
{
	return t->prefix.n > 0 ? t->prefix.p[0] : -1;
}

int tfm_tokenizer_is_eos(const tfm_tokenizer *t, int id)
{
	size_t i;

	for (i = 0; i < t->eos.n; i++)
		if (t->eos.p[i] == id)
			return 1;
	return 0;
}

/* Added tokens in the raw text; the normalizer on the rest; added tokens in
 * the normalized pieces; the pre-tokenizer on the rest; BPE on each word. */
int tok_hf_encode(tfm_tokenizer *t, const char *text, size_t len, tok_ids *out, tfm_error *e)
{
	size_t i, j, k;

	if (tok_added_split(&t->raw_trie, t->added, text, len, &t->segs) != 0)
		return tok_oom(e);
	for (i = 0; i < t->segs.n; i++) {
		const tok_seg *sg = &t->segs.p[i];
		if (sg->id >= 0) {
			if (tok_ids_push(out, sg->id) != 0)
				return tok_oom(e);
			continue;
		}
		if (tok_normalize(t->norm, t->n_norm, text + sg->s, sg->e - sg->s, &t->norm_buf, e) != 0)
			return -1;
		if (tok_added_split(&t->norm_trie, t->added, t->norm_buf.p, t->norm_buf.len,
		                    &t->nsegs) != 0)
			return tok_oom(e);
		for (j = 0; j < t->nsegs.n; j++) {
			const tok_seg *ns = &t->nsegs.p[j];
			if (ns->id >= 0) {
				if (tok_ids_push(out, ns->id) != 0)
					return tok_oom(e);
				continue;
			}
			tok_pieces_clear(&t->pa);
			if (tok_pieces_add(&t->pa, t->norm_buf.p + ns->s, ns->e - ns->s,
			                   sg->s == 0 && ns->s == 0) != 0)
				return tok_oom(e);
			if (tok_pretokenize(t->pre, t->n_pre, &t->pa, &t->pb, e) != 0)
				return -1;
			for (k = 0; k < t->pa.n; k++)
				if (tok_bpe_word(&t->bpe, t->pa.buf.p + t->pa.p[k].off, t->pa.p[k].len, out,
				                 e) != 0)
					return -1;
		}
	}
	return 0;
}

int tok_hf_decode(tfm_tokenizer *t, const int *ids, size_t n, int flags, tok_buf *out,
                  tfm_error *e)
{
	size_t i;

	tok_pieces_clear(&t->pa);
	for (i = 0; i < n; i++) {
		int id = ids[i];
		if ((flags & TFM_DECODE_SKIP_SPECIAL) && t->special[id])
			continue;
		if (tok_pieces_add(&t->pa, t->pieces.p + t->piece_off[id], t->piece_len[id], 0) != 0)
			return tok_oom(e);
	}
	if (t->has_decoder)
		return tok_decode_chain(t->dec, t->n_dec, &t->pa, &t->pb, flags & TFM_DECODE_RAW, out, e);
	out->len = 0;	/* no decoder: Hugging Face joins the tokens with spaces */
	for (i = 0; i < t->pa.n; i++)
		if ((i > 0 && tok_buf_add(out, " ", 1) != 0) ||
		    tok_buf_add(out, t->pa.buf.p + t->pa.p[i].off, t->pa.p[i].len) != 0)
			return tok_oom(e);
	return tok_buf_add(out, "", 0) != 0 ? tok_oom(e) : 0;
}

int tfm_tokenizer_encode(tfm_tokenizer *t, const char *text, size_t len, int add_special,
                         int **ids, size_t *n, tfm_error *e)
{
	tok_ids v = { 0 };
	size_t bad = tok_utf8_check(text, len);
	int rc;

	*ids = NULL;
	*n = 0;
	if (bad < len)
		return tfm_fail(e, "tokenizer: the text is not UTF-8 at byte %zu", bad);
	if (add_special && tok_ids_add(&v, t->prefix.p, t->prefix.n) != 0)
		return tok_oom(e);
	rc = t->kind == TOK_HF ? tok_hf_encode(t, text, len, &v, e) : tok_l2c_encode(t, text, len, &v, e);
	if (rc == 0 && add_special && tok_ids_add(&v, t->suffix.p, t->suffix.n) != 0)
		rc = tok_oom(e);
	if (rc == 0 && v.p == NULL && (v.p = malloc(sizeof *v.p)) == NULL)
		rc = tok_oom(e);
	if (rc != 0) {
		tok_ids_free(&v);
		return -1;
	}
	*ids = v.p;
	*n = v.n;
	return 0;
}

int tfm_tokenizer_decode(tfm_tokenizer *t, const int *ids, size_t n, int flags, char **text,
                         size_t *len, tfm_error *e)
{
	tok_buf out = { 0 };
	size_t i;
	int rc;

	*text = NULL;
	*len = 0;
	for (i = 0; i < n; i++)
		if (ids[i] < 0 || ids[i] >= t->n_vocab || t->piece_len[ids[i]] == UINT32_MAX)
			return tfm_fail(e, "tokenizer: id %d (at %zu) is not in the vocabulary (%d ids)",
			                ids[i], i, t->n_vocab);
	rc = t->kind == TOK_HF ? tok_hf_decode(t, ids, n, flags, &out, e)
	                       : tok_l2c_decode(t, ids, n, flags, &out, e);
	if (rc == 0 && tok_buf_add(&out, "", 0) != 0)
		rc = tok_oom(e);
	if (rc != 0) {
		tok_buf_free(&out);
		return -1;
	}
	*text = out.p;
	*len = out.len;
	return 0;
}
