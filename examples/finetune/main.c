/* main.c: a C program that fine-tunes the model it embeds, on a text file.
 *
 * fortune.h is what `tfmc fortune.tfm -o fortune.c --train` generated: the
 * model (fortune_open, fortune_forward) and its training code
 * (fortune_finetune_open, then the runtime's tfm_finetune_step, _loss,
 * _save and _close).  The program
 *
 *   1. reads the text and tokenizes it as the fortune model was trained:
 *      pieces separated by lines holding only "%", each BOS, text, EOS;
 *   2. writes a greedy continuation of a prompt with the original weights;
 *   3. measures the loss over the whole text, fine-tunes for some steps on
 *      random windows of it (printing the loss), measures it again;
 *   4. saves the weights (F32 safetensors) and writes the same continuation
 *      with the saved file.
 *
 *   usage: finetune [TEXT [STEPS [OUT]]]
 *          (almanac.txt, 100 steps, finetuned.safetensors)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fortune.h"

#define BATCH 8		/* windows per step */
#define SEQ 64		/* tokens per window (the model's max_seq is 256) */
#define MAX_NEW 64	/* tokens a continuation adds at most */
#define PROMPT "The compiler"

/* ---- The text ---------------------------------------------------------------- */

/* The whole of path, NUL-terminated, in *text (malloc'ed). */
static int read_file(const char *path, char **text, size_t *len, tfm_error *err)
{
	FILE *f = fopen(path, "rb");
	long n;

	*text = NULL;
	if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		if (f)
			fclose(f);
		return tfm_fail(err, "%s: cannot read the text", path);
	}
	if (!(*text = malloc((size_t)n + 1)) || fread(*text, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(*text);
		*text = NULL;
		return tfm_fail(err, "%s: cannot read the text", path);
	}
	fclose(f);
	(*text)[n] = 0;
	*len = (size_t)n;
	return 0;
}

/* The tokenizer's first end-of-sequence id, or -1. */
static int eos_id(tfm_tokenizer *tok)
{
	for (int id = 0; id < FORTUNE_VOCAB; id++)
		if (tfm_tokenizer_is_eos(tok, id))
			return id;
	return -1;
}

/* The ids of text[len]: for each piece between lines of "%", BOS, its ids
 * and EOS, appended to *ids[*n]. */
static int tokenize(tfm_tokenizer *tok, const char *text, size_t len, int **ids, size_t *n,
                    tfm_error *err)
{
	int eos = eos_id(tok);
	size_t cap = 0;

	*ids = NULL;
	*n = 0;
	for (const char *p = text, *end = text + len; p < end;) {
		const char *sep = strstr(p, "\n%\n");
		const char *stop = sep ? sep + 1 : end;	/* the piece keeps its last newline */
		int *piece, *room;
		size_t k;

		if (tfm_tokenizer_encode(tok, p, (size_t)(stop - p), 1, &piece, &k, err))
			goto fail;
		if (*n + k + 1 > cap) {
			cap = 2 * (*n + k + 1);
			if (!(room = realloc(*ids, cap * sizeof *room))) {
				free(piece);
				tfm_fail(err, "out of memory");
				goto fail;
			}
			*ids = room;
		}
		memcpy(*ids + *n, piece, k * sizeof *piece);
		*n += k;
		if (eos >= 0)
			(*ids)[(*n)++] = eos;
		free(piece);
		p = sep ? sep + 3 : end;
	}
	return 0;
fail:
	free(*ids);
	*ids = NULL;
	return -1;
}

/* ---- Windows ------------------------------------------------------------------ */

/* splitmix64: the windows' random starts. */
static uint64_t next_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* BATCH windows of SEQ + 1 consecutive ids of ids[n] at random starts. */
static void draw_batch(uint64_t *state, const int *ids, size_t n, int *tokens)
{
	for (int b = 0; b < BATCH; b++) {
		size_t start = (size_t)(next_random(state) % (n - SEQ));
		memcpy(tokens + (size_t)b * (SEQ + 1), ids + start, (SEQ + 1) * sizeof *ids);
	}
}

/* The mean loss over the text's whole batches of windows at 0, SEQ, 2 SEQ, ... */
static int text_loss(tfm_finetune *ft, const int *ids, size_t n, double *mean, tfm_error *err)
{
	size_t windows = (n - 1) / SEQ / BATCH * BATCH, done = 0;
	int tokens[BATCH * (SEQ + 1)];
	double loss, sum = 0;

	for (; done < windows; done += BATCH) {
		for (int b = 0; b < BATCH; b++)
			memcpy(tokens + (size_t)b * (SEQ + 1), ids + (done + (size_t)b) * SEQ,
			       (SEQ + 1) * sizeof *ids);
		if (tfm_finetune_loss(ft, tokens, &loss, err))
			return -1;
		sum += loss;
	}
	*mean = sum / (double)(windows / BATCH);
	return 0;
}

/* ---- Samples ------------------------------------------------------------------ */

/* Prints the greedy continuation of PROMPT by the model with the weights at
 * path (NULL: the spec's), indented under a title. */
static int sample(const char *title, const char *path, tfm_tokenizer *tok, tfm_error *err)
{
	fortune *m = NULL;
	int *ids = NULL, *room;
	size_t n = 0, k = 0, len;
	char *text = NULL;
	const float *logits;
	int rc = -1;

	if (fortune_open(&m, path, 2, err) ||
	    tfm_tokenizer_encode(tok, PROMPT, strlen(PROMPT), 1, &ids, &n, err))
		goto done;
	if (!(room = realloc(ids, (n + MAX_NEW) * sizeof *ids))) {
		tfm_fail(err, "out of memory");
		goto done;
	}
	ids = room;
	for (logits = fortune_forward(m, ids, (int)n, 0, 0, err); logits && k < MAX_NEW; k++) {
		int best = 0;
		for (int i = 1; i < FORTUNE_VOCAB; i++)
			best = logits[i] > logits[best] ? i : best;
		if (tfm_tokenizer_is_eos(tok, best))
			break;
		ids[n + k] = best;
		logits = fortune_forward(m, &ids[n + k], 1, (int)(n + k), 0, err);
	}
	if (!logits || tfm_tokenizer_decode(tok, ids, n + k, TFM_DECODE_SKIP_SPECIAL, &text, &len, err))
		goto done;
	while (len > 0 && text[len - 1] == '\n')
		text[--len] = 0;
	printf("%s\n    ", title);
	for (const char *p = text; *p; p++)
		fputs(*p == '\n' ? "\n    " : (char[2]){ *p, 0 }, stdout);
	printf("\n");
	rc = 0;
done:
	free(text);
	free(ids);
	fortune_close(m);
	return rc;
}

/* ---- The program --------------------------------------------------------------- */

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "almanac.txt";
	long steps = argc > 2 ? atol(argv[2]) : 100;
	const char *out = argc > 3 ? argv[3] : "finetuned.safetensors";
	tfm_error err;
	tfm_tokenizer *tok = NULL;
	tfm_finetune *ft = NULL;
	tfm_finetune_options o;
	char *text = NULL;
	int *ids = NULL;
	int tokens[BATCH * (SEQ + 1)];
	size_t len = 0, n = 0;
	uint64_t rng = 7;
	double before, after, loss, sum = 0;
	long count = 0;

	if (fortune_tokenizer_open(&tok, NULL, &err) || read_file(path, &text, &len, &err) ||
	    tokenize(tok, text, len, &ids, &n, &err))
		goto fail;
	if (n < (size_t)BATCH * SEQ + 1) {
		tfm_fail(&err, "%s: %zu tokens, fewer than one batch of %d windows of %d", path, n,
		         BATCH, SEQ + 1);
		goto fail;
	}
	if (steps < 1) {
		tfm_fail(&err, "steps: %s is not a positive number", argv[2]);
		goto fail;
	}
	printf("%s: %zu bytes, %zu tokens\n", path, len, n);
	if (sample("before:", NULL, tok, &err))
		goto fail;

	tfm_finetune_defaults(&o);
	o.batch = BATCH;
	o.seq = SEQ;
	o.threads = 2;
	o.steps = steps;
	o.warmup = steps / 10;
	o.lr = 1e-3;
	o.min_lr = 1e-4;
	if (fortune_finetune_open(&ft, NULL, &o, &err) || text_loss(ft, ids, n, &before, &err))
		goto fail;
	printf("loss over the text: %.4f\n", before);
	for (long s = 1; s <= steps; s++) {
		draw_batch(&rng, ids, n, tokens);
		if (tfm_finetune_step(ft, tokens, &loss, &err))
			goto fail;
		sum += loss;
		count++;
		if (s % 25 == 0 || s == steps) {
			printf("step %4ld/%ld  loss %.4f (the mean of %ld steps)\n", s, steps,
			       sum / (double)count, count);
			sum = 0;
			count = 0;
		}
	}
	if (text_loss(ft, ids, n, &after, &err) || tfm_finetune_save(ft, out, &err))
		goto fail;
	printf("loss over the text: %.4f after %ld steps (%.4f before)\nwrote %s\n", after, steps,
	       before, out);
	tfm_finetune_close(ft);
	ft = NULL;
	if (sample("after:", out, tok, &err))
		goto fail;
	free(ids);
	free(text);
	tfm_tokenizer_close(tok);
	return 0;
fail:
	fprintf(stderr, "finetune: %s\n", err.msg);
	tfm_finetune_close(ft);
	free(ids);
	free(text);
	tfm_tokenizer_close(tok);
	return 1;
}
