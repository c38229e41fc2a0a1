/* main.c: drives a generated model through its own API (llama_small.h):
 * open, forward a prompt, then greedy decoding, one token at a time. */
#include <stdio.h>
#include <stdlib.h>
#include "llama_small.h"

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
	tfm_error err;
	llama_small *m;
	tfm_weights w;
	int prompt[] = { 1, 450, 4996 };
	int n = sizeof prompt / sizeof prompt[0];

	if (argc > 1) {
		if (llama_small_open(&m, argv[1], 2, &err)) {
			fprintf(stderr, "chat: %s\n", err.msg);
			return 1;
		}
	} else {
		/* No checkpoint: the same random weights as `tfmc init`. */
		if (tfm_weights_random(&w, llama_small_api.tensors, llama_small_api.n_tensors, 42, &err) ||
		    llama_small_open_tensors(&m, w.data, 2, &err)) {
			fprintf(stderr, "chat: %s\n", err.msg);
			return 1;
		}
	}
	const float *logits = llama_small_forward(m, prompt, n, 0, 0, &err);
	for (int pos = n; logits && pos < n + 16; pos++) {
		int next = argmax(logits, LLAMA_SMALL_VOCAB);
		printf("%d ", next);
		logits = llama_small_forward(m, &next, 1, pos, 0, &err);
	}
	printf("\n");
	if (!logits)
		fprintf(stderr, "chat: %s\n", err.msg);
	llama_small_close(m);
	if (argc <= 1)
		tfm_weights_free(&w);
	return logits ? 0 : 1;
}
