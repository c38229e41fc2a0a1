/* peer_llama.c: llama.cpp's side of `make bench-peers`, against its own
 * libllama (node-llama-cpp's CPU build; tools/bench_peers.sh fetches it).
 *
 *   peer_llama MODEL.gguf decode|prefill THREADS [BACKEND_DIR [PROMPT_IDS]]
 *
 * decode:  token 1 (or the comma-separated PROMPT_IDS, in one batch), then
 *          255 greedy tokens, one llama_decode each; prints the tokens/s of
 *          those 255 and the ids (for the greedy check);
 * prefill: one batch of 128 ids (7 i mod vocab), one llama_decode; prints
 *          its tokens/s.
 * n_ctx 1024, flash attention off, the given threads for both phases:
 * what tfmc's programs are timed doing (tfm_main's --tokens and -n).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "llama.h"
#include "ggml-backend.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

static void quiet(enum ggml_log_level level, const char *text, void *user)
{
	(void)user;
	if (level >= GGML_LOG_LEVEL_ERROR)
		fputs(text, stderr);
}

static int argmax(const float *x, int n)
{
	int best = 0;
	for (int i = 1; i < n; i++)
		if (x[i] > x[best])
			best = i;
	return best;
}

int main(int argc, char **argv)
{
	if (argc < 4 || (strcmp(argv[2], "decode") != 0 && strcmp(argv[2], "prefill") != 0)) {
		fprintf(stderr, "usage: peer_llama MODEL.gguf decode|prefill THREADS [BACKEND_DIR]\n");
		return 2;
	}
	const int threads = atoi(argv[3]), decode = strcmp(argv[2], "decode") == 0;
	llama_log_set(quiet, NULL);
	if (argc > 4)
		ggml_backend_load_all_from_path(argv[4]);
	else
		ggml_backend_load_all();
	llama_backend_init();

	struct llama_model_params mp = llama_model_default_params();
	mp.n_gpu_layers = 0;
	struct llama_model *model = llama_model_load_from_file(argv[1], mp);
	if (!model) {
		fprintf(stderr, "peer_llama: %s: llama.cpp cannot load it\n", argv[1]);
		return 1;
	}
	struct llama_context_params cp = llama_context_default_params();
	cp.n_ctx = 1024;
	cp.n_batch = 512;
	cp.n_ubatch = 512;
	cp.n_threads = threads;
	cp.n_threads_batch = threads;
	cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
	cp.no_perf = 1;
	struct llama_context *ctx = llama_init_from_model(model, cp);
	if (!ctx) {
		fprintf(stderr, "peer_llama: cannot make a context\n");
		return 1;
	}
	const int vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
	if (decode) {
		llama_token tok = 1, prompt[512];
		int ids[256], n_prompt = 0;
		for (const char *p = argc > 5 ? argv[5] : "1"; *p && n_prompt < 512; p += *p == ',')
			prompt[n_prompt++] = (llama_token)strtol(p, (char **)&p, 10);
		struct llama_batch b = llama_batch_get_one(prompt, n_prompt);
		if (llama_decode(ctx, b) != 0)
			return 1;
		double t0 = now();
		for (int i = 0; i < 255; i++) {
			tok = argmax(llama_get_logits_ith(ctx, -1), vocab);
			ids[i] = tok;
			b = llama_batch_get_one(&tok, 1);
			if (llama_decode(ctx, b) != 0)
				return 1;
		}
		double dt = now() - t0;
		printf("decode %.2f tok/s\nids", 255 / dt);
		for (int i = 0; i < 255; i++)
			printf("%s%d", i ? "," : " ", ids[i]);
		printf("\n");
	} else {
		llama_token toks[128];
		for (int i = 0; i < 128; i++)
			toks[i] = (llama_token)((7 * i) % vocab);
		struct llama_batch b = llama_batch_get_one(toks, 128);
		double t0 = now();
		if (llama_decode(ctx, b) != 0)
			return 1;
		llama_synchronize(ctx);
		printf("prefill %.2f tok/s\n", 128 / (now() - t0));
	}
	llama_free(ctx);
	llama_model_free(model);
	llama_backend_free();
	return 0;
}
