/* keys.h: the one list of model keys, and of the words an enum key takes.
 *
 * Everything that knows about keys is generated from these two tables: the
 * Model struct's fields, the parser's key lookup, defaults, `tfmc show`,
 * `--help` and the README's key table.  The meaning of every key is fixed by
 * MODEL_REFERENCE.md section 1; this table follows it in order.
 *
 * KEY(name, type, default kind, default text, meaning)
 *   type:          INT, FLOAT, BOOL or ENUM
 *   default kind:  REQUIRED, LITERAL (default text is the value, in .tfm
 *                  syntax) or COMPUTED (resolve.c derives it; the text says how)
 */
#define KEYS(X) \
X(vocab,           INT,   REQUIRED, "required", "vocabulary size") \
X(d_model,         INT,   REQUIRED, "required", "residual stream width") \
X(n_layer,         INT,   REQUIRED, "required", "number of transformer blocks") \
X(n_head,          INT,   REQUIRED, "required", "query heads") \
X(n_kv_head,       INT,   COMPUTED, "n_head", "key/value heads: n_head = MHA, 1 = MQA, otherwise GQA") \
X(head_dim,        INT,   COMPUTED, "d_model / n_head", "width of one head") \
X(d_ff,            INT,   COMPUTED, "4*d_model; GLU: ffn_multiple_of * ceil(8*d_model / (3*ffn_multiple_of))", "hidden width of the feed-forward block") \
X(ffn_multiple_of, INT,   LITERAL,  "256", "rounding of the GLU default of d_ff") \
X(max_seq,         INT,   REQUIRED, "required", "longest context (KV cache, learned and sine tables)") \
X(norm,            ENUM,  LITERAL,  "rmsnorm", "normalisation") \
X(norm_eps,        FLOAT, LITERAL,  "1e-5", "epsilon inside the norm") \
X(norm_place,      ENUM,  LITERAL,  "pre", "where norms sit around each sub-layer") \
X(activation,      ENUM,  LITERAL,  "swiglu", "feed-forward non-linearity") \
X(gelu,            ENUM,  LITERAL,  "tanh", "which GeLU formula (gelu, geglu)") \
X(block,           ENUM,  LITERAL,  "serial", "sub-layer arrangement") \
X(position,        ENUM,  LITERAL,  "rope", "position information") \
X(rope_theta,      FLOAT, LITERAL,  "10000", "RoPE base") \
X(rope_style,      ENUM,  LITERAL,  "half", "which dimensions RoPE pairs") \
X(bias,            BOOL,  LITERAL,  "false", "biases on the o, gate, up and down projections; on q, k and v too unless qkv_bias says otherwise") \
X(qkv_bias,        BOOL,  COMPUTED, "bias", "biases on the q, k and v projections (Qwen2 has these alone)") \
X(tie_embeddings,  BOOL,  LITERAL,  "false", "output head reuses the token embedding") \
X(embed_scale,     ENUM,  LITERAL,  "none", "multiply token embeddings by sqrt(d_model)") \
X(qk_norm,         BOOL,  LITERAL,  "false", "normalise q and k per head before RoPE") \
X(attn_softcap,    FLOAT, LITERAL,  "0", "soft-cap on attention scores; 0 = off") \
X(logit_softcap,   FLOAT, LITERAL,  "0", "soft-cap on output logits; 0 = off") \
X(z_loss,          FLOAT, LITERAL,  "0", "weight of the z-loss term (training)") \
X(dropout,         FLOAT, LITERAL,  "0", "dropout probability (training)") \
X(weight_decay,    FLOAT, LITERAL,  "0.1", "AdamW decoupled weight decay (training)")

/* CHOICE(key, constant, word): the words of each ENUM key, in order. */
#define CHOICES(X) \
X(norm,        NORM_RMSNORM,     rmsnorm) \
X(norm,        NORM_LAYERNORM,   layernorm) \
X(norm_place,  PLACE_PRE,        pre) \
X(norm_place,  PLACE_POST,       post) \
X(norm_place,  PLACE_DOUBLE,     double) \
X(activation,  ACT_RELU,         relu) \
X(activation,  ACT_GELU,         gelu) \
X(activation,  ACT_GEGLU,        geglu) \
X(activation,  ACT_SWIGLU,       swiglu) \
X(gelu,        GELU_TANH,        tanh) \
X(gelu,        GELU_ERF,         erf) \
X(block,       BLOCK_SERIAL,     serial) \
X(block,       BLOCK_PARALLEL,   parallel) \
X(position,    POS_ROPE,         rope) \
X(position,    POS_SINE,         sine) \
X(position,    POS_LEARNED,      learned) \
X(position,    POS_NONE,         none) \
X(rope_style,  ROPE_HALF,        half) \
X(rope_style,  ROPE_INTERLEAVED, interleaved) \
X(embed_scale, SCALE_NONE,       none) \
X(embed_scale, SCALE_SQRT,       sqrt)
