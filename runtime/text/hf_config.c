/* hf_config.c: the conventions a model folder adds to its tokenizer.json:
 * BOS, EOS, and what add_special puts around the text.
 *
 *   tokenizer_config.json  add_bos_token, add_eos_token (where present they
 *                          replace that side of the post-processor's
 *                          template, as transformers' Llama and Gemma
 *                          tokenizers rebuild it), bos_token, eos_token
 *                          (a string or an AddedToken object)
 *   generation_config.json eos_token_id (an int or a list), bos_token_id
 *   config.json            the same
 *
 * The end-of-sequence ids are all of these together; the first of them
 * (tokenizer_config.json's, then config.json's) is what add_eos_token adds.  When none of them
 * names one (a bare tokenizer.json, or a folder whose files are silent), the
 * added tokens named </s>, <|endoftext|>, <eos>, <|end_of_text|>,
 * <|im_end|>, <|eot_id|>, <|eom_id|>, <end_of_turn> or <|end|> are the
 * end-of-sequence tokens: every family's convention, and none of them a
 * word of text.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

static const char *const tok_default_eos[] = {
	"</s>", "<|endoftext|>", "<eos>", "<|end_of_text|>", "<|im_end|>", "<|eot_id|>",
	"<|eom_id|>", "<end_of_turn>", "<|end|>",
};

int tok_default_eos_ids(tfm_tokenizer *t, tfm_error *e)
{
	size_t k;
	int i;

	for (i = 0; i < t->n_added; i++)
		for (k = 0; k < sizeof tok_default_eos / sizeof tok_default_eos[0]; k++)
			if (t->added[i].len == strlen(tok_default_eos[k]) &&
			    memcmp(t->added[i].content, tok_default_eos[k], t->added[i].len) == 0 &&
			    tok_ids_push(&t->eos, t->added[i].id) != 0)
				return tok_oom(e);
	return 0;
}

/* text[len] parsed into *root (NULL text: no file); path names it. */
static int tok_json_text(const char *path, const char *text, size_t len, cJSON **root,
                         tfm_error *e)
{
	size_t bad;

	*root = NULL;
	if (text == NULL)
		return 0;
	bad = tok_utf8_check(text, len);
	if (bad < len)
		return tfm_fail(e, "%s: not UTF-8 at byte %zu", path, bad);
	*root = cJSON_ParseWithLength(text, len);
	if (*root == NULL || !cJSON_IsObject(*root)) {
		cJSON_Delete(*root);
		*root = NULL;
		return tfm_fail(e, "%s: not a JSON object", path);
	}
	return 0;
}

static const cJSON *tok_field(const cJSON *root, const char *key)
{
	const cJSON *x = root != NULL ? cJSON_GetObjectItemCaseSensitive(root, key) : NULL;
	return cJSON_IsNull(x) ? NULL : x;
}

static int tok_id_of(const cJSON *x, const char *path, const char *key, int *id, tfm_error *e)
{
	double v = x->valuedouble;

	if (!cJSON_IsNumber(x) || !isfinite(v) || v != floor(v) || v < 0 || v > TOK_MAX_ID)
		return tfm_fail(e, "%s: %s: expected a token id (an integer in [0, %d])", path, key,
		                TOK_MAX_ID);
	*id = (int)v;
	return 0;
}

/* eos_token_id: an id or a list of ids, appended to out. */
static int tok_id_list(const cJSON *root, const char *key, const char *path, tok_ids *out,
                       tfm_error *e)
{
	const cJSON *x = tok_field(root, key), *y;
	int id;

	if (x == NULL)
		return 0;
	if (!cJSON_IsArray(x)) {
		if (tok_id_of(x, path, key, &id, e) != 0)
			return -1;
		return tok_ids_push(out, id) != 0 ? tok_oom(e) : 0;
	}
	for (y = x->child; y != NULL; y = y->next) {
		if (tok_id_of(y, path, key, &id, e) != 0)
			return -1;
		if (tok_ids_push(out, id) != 0)
			return tok_oom(e);
	}
	return 0;
}

/* bos_token / eos_token of tokenizer_config.json: a string, or an object
 * with "content"; its id into *id (-1 when absent). */
static int tok_named(tfm_tokenizer *t, const cJSON *root, const char *key, const char *path,
                     int *id, tfm_error *e)
{
	const cJSON *x = tok_field(root, key);
	const char *s = NULL;

	*id = -1;
	if (x == NULL)
		return 0;
	if (cJSON_IsString(x))
		s = x->valuestring;
	else if (cJSON_IsObject(x) && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(x, "content")))
		s = cJSON_GetObjectItemCaseSensitive(x, "content")->valuestring;
	else
		return tfm_fail(e, "%s: %s: expected a string or {\"content\": ...}", path, key);
	if ((*id = tok_token_id(t, s, strlen(s))) < 0)
		return tfm_fail(e, "%s: %s: \"%s\" is not a token of the tokenizer", path, key, s);
	return 0;
}

static int tok_flag(const cJSON *root, const char *key, const char *path, int *out, tfm_error *e)
{
	const cJSON *x = tok_field(root, key);

	*out = -1;
	if (x == NULL)
		return 0;
	if (!cJSON_IsBool(x))
		return tfm_fail(e, "%s: %s: expected true or false", path, key);
	*out = cJSON_IsTrue(x);
	return 0;
}

int tok_hf_config(tfm_tokenizer *t, const char *dir, tfm_error *e)
{
	static const char *const names[3] = {
		"tokenizer_config.json", "generation_config.json", "config.json"
	};
	char path[3][4096], *text[3] = { NULL, NULL, NULL };
	const char *paths[3];
	size_t len[3] = { 0, 0, 0 };
	int i, missing, rc = 0;

	for (i = 0; i < 3 && rc == 0; i++) {
		snprintf(path[i], sizeof path[i], "%s/%s", dir, names[i]);
		paths[i] = path[i];
		if (tok_read_file(path[i], &text[i], &len[i], &missing, e) != 0 && !missing)
			rc = -1;
	}
	if (rc == 0)
		rc = tok_hf_config_text(t, paths, (const char *const *)text, len, e);
	for (i = 0; i < 3; i++)
		free(text[i]);
	return rc;
}

int tok_hf_config_text(tfm_tokenizer *t, const char *const path[3], const char *const text[3],
                       const size_t len[3], tfm_error *e)
{
	const char *tc_path = path[0], *gc_path = path[1], *c_path = path[2];
	cJSON *tc = NULL, *gc = NULL, *cf = NULL;
	tok_ids bos = { 0 };
	int add_bos, add_eos, bos_tc, eos_tc, rc = -1;

	if (tok_json_text(tc_path, text[0], len[0], &tc, e) != 0 ||
	    tok_json_text(gc_path, text[1], len[1], &gc, e) != 0 ||
	    tok_json_text(c_path, text[2], len[2], &cf, e) != 0)
		goto out;
	if (tok_flag(tc, "add_bos_token", tc_path, &add_bos, e) != 0 ||
	    tok_flag(tc, "add_eos_token", tc_path, &add_eos, e) != 0 ||
	    tok_named(t, tc, "bos_token", tc_path, &bos_tc, e) != 0 ||
	    tok_named(t, tc, "eos_token", tc_path, &eos_tc, e) != 0)
		goto out;
	/* End of sequence: everything the files name. */
	t->eos.n = 0;
	if (eos_tc >= 0 && tok_ids_push(&t->eos, eos_tc) != 0) {
		tok_oom(e);
		goto out;
	}
	if (tok_id_list(cf, "eos_token_id", c_path, &t->eos, e) != 0 ||
	    tok_id_list(gc, "eos_token_id", gc_path, &t->eos, e) != 0)
		goto out;
	if (t->eos.n == 0 && tok_default_eos_ids(t, e) != 0)
		goto out;
	/* Beginning of sequence, where tokenizer_config.json decides it. */
	if (bos_tc >= 0 && tok_ids_push(&bos, bos_tc) != 0) {
		tok_oom(e);
		goto out;
	}
	if (tok_id_list(cf, "bos_token_id", c_path, &bos, e) != 0 ||
	    tok_id_list(gc, "bos_token_id", gc_path, &bos, e) != 0)
		goto out;
	if (add_bos >= 0) {
		t->prefix.n = 0;
		if (add_bos) {
			if (bos.n == 0) {
				tfm_fail(e, "%s: add_bos_token is true, but no file names the BOS token",
				         tc_path);
				goto out;
			}
			if (bos.p[0] >= t->n_vocab) {
				tfm_fail(e, "%s: the BOS id %d is not in the vocabulary (%d ids)", tc_path,
				         bos.p[0], t->n_vocab);
				goto out;
			}
			if (tok_ids_push(&t->prefix, bos.p[0]) != 0) {
				tok_oom(e);
				goto out;
			}
		}
	}
	if (add_eos >= 0) {
		t->suffix.n = 0;
		if (add_eos) {
			int id = eos_tc >= 0 ? eos_tc : -1;
			size_t k;
			for (k = 0; id < 0 && k < t->eos.n; k++)
				id = t->eos.p[k];
			if (id < 0 || id >= t->n_vocab) {
				tfm_fail(e, "%s: add_eos_token is true, but no file names an EOS token of the "
				         "vocabulary", tc_path);
				goto out;
			}
			if (tok_ids_push(&t->suffix, id) != 0) {
				tok_oom(e);
				goto out;
			}
		}
	}
	rc = 0;
out:
	tok_ids_free(&bos);
	cJSON_Delete(tc);
	cJSON_Delete(gc);
	cJSON_Delete(cf);
	return rc;
}
