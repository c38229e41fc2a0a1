/* main.c: a model inside a C program, text in and text out.
 *
 * fortune.h is what `tfmc fortune.tfm -o fortune.c` generated from the spec
 * that `tfmc import` wrote for examples/fortune/fortune.bin; the spec
 * records where the weights and the tokenizer are, so fortune_open and
 * fortune_tokenizer_open need no path.  The prompt is encoded with the BOS
 * the tokenizer adds, forwarded in one call, then continued greedily, one
 * token at a time, until the end-of-sequence token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fortune.h"

#define MAX_NEW 64

static int argmax(const float *v, int n)
{
	int best = 0;
	for (int i = 1; i < n; i++)
		if (v[i] > v[best])
			best = i;
	return best;
}

int main(int argc, char **argv)
{
	const char *prompt = argc > 1 ? argv[1] : "Once upon a time";
	tfm_error err;
	fortune *m = NULL;
	tfm_tokenizer *tok = NULL;
	int *ids = NULL;	/* [n + MAX_NEW] the prompt, then what the model adds */
	size_t n = 0, k = 0, len;
	char *text = NULL;
	const float *logits = NULL;

	if (fortune_open(&m, NULL, 2, &err) || fortune_tokenizer_open(&tok, NULL, &err) ||
	    tfm_tokenizer_encode(tok, prompt, strlen(prompt), 1, &ids, &n, &err))
		goto fail;
	if (n + MAX_NEW > FORTUNE_MAX_SEQ) {
		snprintf(err.msg, sizeof err.msg, "the prompt is %zu tokens: at most %d fit before %d new ones",
		         n, FORTUNE_MAX_SEQ - MAX_NEW, MAX_NEW);
		goto fail;
	}
	int *room = realloc(ids, sizeof *ids * (n + MAX_NEW));
	if (!room) {
		snprintf(err.msg, sizeof err.msg, "out of memory");
		goto fail;
	}
	ids = room;
	logits = fortune_forward(m, ids, (int)n, 0, 0, &err);
	for (; logits && k < MAX_NEW; k++) {
		int next = argmax(logits, FORTUNE_VOCAB);
		if (tfm_tokenizer_is_eos(tok, next))
			break;
		ids[n + k] = next;
		logits = fortune_forward(m, &next, 1, (int)(n + k), 0, &err);
	}
	if (!logits || tfm_tokenizer_decode(tok, ids, n + k, TFM_DECODE_SKIP_SPECIAL, &text, &len, &err))
		goto fail;
	printf("%s\n", text);
	free(text);
	free(ids);
	tfm_tokenizer_close(tok);
	fortune_close(m);
	return 0;
fail:
	fprintf(stderr, "chat: %s\n", err.msg);
	free(ids);
	tfm_tokenizer_close(tok);
	fortune_close(m);
	return 1;
}
