/* warnings.h: the one list of named warnings, the field's rules of thumb.
 *
 * WARNING(name, id, on by default, summary, rule)
 *   name     what -Wname, -Wno-name, `allow name` and `tfmc explain name` use
 *   summary  one line for --help and the README
 *   rule     the rule and where it comes from in practice: printed as the
 *            note under the warning and by `tfmc explain`
 * The rules come from the lecture notes in shared/seed-notes.txt and the
 * published shapes of the models they cite.
 */
#define WARNINGS(X) \
X("ffn-ratio", W_FFN_RATIO, 1, \
  "d_ff / d_model more than 10% away from 4 (8/3 for geglu and swiglu)", \
  "the rule of thumb is d_ff = 4*d_model (GPT-2, BERT, most models), scaled by 2/3 to d_ff = 8/3*d_model for GLU variants so the parameter count stays the same (Llama, PaLM); the well-known exception is T5 11B, d_ff = 65536 with d_model = 1024") \
X("head-dim", W_HEAD_DIM, 1, \
  "n_head * head_dim differs from d_model", \
  "the standard is n_head * head_dim = d_model (GPT-2, Llama, T5 nearly everywhere), so the attention output has the width of the residual stream; models that break it (Gemma 7B) do so on purpose") \
X("aspect-ratio", W_ASPECT_RATIO, 1, \
  "d_model / n_layer outside 100-200", \
  "the aspect ratio d_model / n_layer of most well-performing models lies between 100 and 200 (GPT-3 175B: 12288/96 = 128, Llama 2 70B: 8192/80 = 102); the optimum is broad, and systems concerns (parallelism, latency) usually decide the value") \
X("vocab-size", W_VOCAB_SIZE, 1, \
  "vocab in neither 30k-50k nor 100k-250k", \
  "monolingual models use 30k-50k tokens (Llama: 32000, GPT-2: 50257, just above); multilingual and production systems use 100k-250k (GPT-4: 100k, Qwen: 152k; PaLM and Gemma: 256k, just above)") \
X("dropout", W_DROPOUT, 1, \
  "dropout > 0 and outside 0.1-0.3", \
  "when dropout is used at all, 0.1-0.3 is the usual range (the original Transformer: 0.1); most large modern models train with none") \
X("weight-decay", W_WEIGHT_DECAY, 1, \
  "weight_decay outside 0.01-0.1", \
  "AdamW weight decay is usually between 0.01 and 0.1 (GPT-3 and Llama: 0.1); in pre-training it acts on optimisation dynamics more than as a regulariser") \
X("post-norm", W_POST_NORM, 0, \
  "norm_place = post (style, -Wall)", \
  "pre-norm, a norm before each sub-layer with the residual path left clean, is what nearly everyone uses now (GPT-2 onwards); post-norm, as in the original Transformer, needs careful warm-up to train stably") \
X("layernorm", W_LAYERNORM, 0, \
  "norm = layernorm (style, -Wall)", \
  "RMSNorm has fewer operations (no mean to subtract) and fewer parameters (no bias) and does as well as LayerNorm; most recent models (Llama, Gemma, T5) use it") \
X("parallel", W_PARALLEL, 0, \
  "block = parallel (style, -Wall)", \
  "serial blocks are the common choice; parallel blocks (GPT-J, PaLM) fuse the attention and feed-forward matrix products for speed at a small cost in quality at scale") \
X("non-glu", W_NON_GLU, 0, \
  "activation = relu or gelu (style, -Wall)", \
  "gated linear units (SwiGLU in Llama and PaLM, GeGLU in Gemma and T5 v1.1) are generally a little better than plain ReLU or GeLU at the same parameter count")
