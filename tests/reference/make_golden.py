"""make_golden.py: regenerates tests/golden/ from the NumPy reference.

    /usr/bin/python3 tests/reference/make_golden.py

For each case NAME it writes NAME.tfm (every key explicit), NAME.safetensors
(the weights), NAME.tokens (one line of comma-separated ids) and
NAME.logits.npy (float32 [n_tokens, vocab]), NAME.logits_bf16.npy (the same
with the 2-D tensors rounded to bfloat16, as `--weight-dtype bf16` holds
them), NAME.logits_kvf16.npy (with the keys and values rounded to halves, as
`--kv-dtype f16` caches them), then INDEX (the case names).
Everything is seeded from the case name, so a rerun gives identical bytes.
The logits are computed from the weights as read back from the file, i.e.
after rounding to F16/BF16.

Training (grad_ref.py, section 5): for every case of INDEX and the
training-only cases of TRAIN_CASES it also writes NAME.batch (B = 2 windows
of T+1 ids), NAME.grads.safetensors (the gradient of the loss on that batch,
the loss in __metadata__) and NAME.adamw.safetensors (the weights after
three AdamW steps on that batch, the losses and hyperparameters in
__metadata__), then TRAIN_INDEX (every case with training goldens).  These
draw from their own generator, seeded from "train/" + the case name, so the
files above are the same bytes as before they existed.
"""

import os
import sys
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import grad_ref  # noqa: E402
import ref  # noqa: E402

GOLDEN = os.path.join(HERE, "..", "golden")

# Training keys set in a few cases: accepted and without effect at inference.
TRAINING = dict(z_loss=1e-4, dropout=0.1, weight_decay=0.01)

# Each case: name, what it covers, the keys that differ from the defaults and
# file options (dtype, tensor order, metadata).  n_layer is 2 throughout.
CASES = [
    # --- the 12 norm x norm_place x block combinations -------------------
    dict(name="pre_serial_rms_swiglu_rope_half",
         doc="Llama-style: d_ff from the GLU default with ffn_multiple_of 16",
         vocab=97, d_model=32, n_head=4, max_seq=16, ffn_multiple_of=16,
         norm="rmsnorm", norm_place="pre", block="serial",
         activation="swiglu", position="rope", rope_style="half"),
    dict(name="pre_serial_ln_gelu_learned_tied_bias",
         doc="GPT-2-style: layernorm, gelu tanh, learned positions, biases, tied",
         vocab=101, d_model=24, n_head=2, max_seq=16, d_ff=96,
         norm="layernorm", norm_place="pre", block="serial",
         activation="gelu", gelu="tanh", position="learned",
         bias=True, tie_embeddings=True, metadata={"format": "pt"}),
    dict(name="pre_parallel_rms_swiglu_rope_interleaved_mqa",
         doc="parallel block, MQA, interleaved RoPE with theta 500, logit soft-cap",
         vocab=89, d_model=32, n_head=4, n_kv_head=1, max_seq=24, d_ff=80,
         norm="rmsnorm", norm_place="pre", block="parallel",
         activation="swiglu", position="rope", rope_style="interleaved",
         rope_theta=500.0, logit_softcap=2.0),
    dict(name="pre_parallel_ln_gelu_erf_rope_half_gqa_bias",
         doc="GPT-J/NeoX-style parallel block, gelu erf, GQA 4/2, biases",
         vocab=113, d_model=32, n_head=4, n_kv_head=2, max_seq=16, d_ff=96,
         norm="layernorm", norm_place="pre", block="parallel",
         activation="gelu", gelu="erf", position="rope", rope_style="half",
         bias=True, order="reversed"),
    dict(name="post_serial_rms_relu_sine_odd",
         doc="post-norm, relu, sine positions, odd sizes (vocab 61, d_model 20, d_ff 100)",
         vocab=61, d_model=20, n_head=2, max_seq=16, d_ff=100,
         norm="rmsnorm", norm_place="post", block="serial",
         activation="relu", position="sine", norm_eps=1e-6),
    dict(name="post_serial_ln_gelu_erf_learned_tied_bias",
         doc="BERT/GPT-1-style post-norm, gelu erf, learned positions, 3 heads, tied",
         vocab=79, d_model=24, n_head=3, max_seq=16, d_ff=72,
         norm="layernorm", norm_place="post", block="serial",
         activation="gelu", gelu="erf", position="learned",
         bias=True, tie_embeddings=True),
    dict(name="post_parallel_rms_geglu_none_gqa3",
         doc="post-norm parallel, geglu tanh, no positions, GQA 6/2 (g(h) = h // 3)",
         vocab=67, d_model=48, n_head=6, n_kv_head=2, max_seq=16, d_ff=64,
         norm="rmsnorm", norm_place="post", block="parallel",
         activation="geglu", gelu="tanh", position="none", **TRAINING),
    dict(name="post_parallel_ln_relu_sine_bias_scaled",
         doc="post-norm parallel layernorm, relu, sine, biases, embed_scale sqrt",
         vocab=131, d_model=16, n_head=2, max_seq=32, d_ff=48,
         norm="layernorm", norm_place="post", block="parallel",
         activation="relu", position="sine", bias=True, embed_scale="sqrt"),
    dict(name="double_serial_rms_geglu_rope_softcaps_tied",
         doc="Gemma-2-style: double norm, geglu tanh, GQA 4/2, both soft-caps, "
             "embed_scale sqrt, tied, eps 1e-6",
         vocab=103, d_model=32, n_head=4, n_kv_head=2, max_seq=16, d_ff=64,
         norm="rmsnorm", norm_place="double", block="serial",
         activation="geglu", gelu="tanh", position="rope", rope_style="half",
         attn_softcap=1.5, logit_softcap=3.0, embed_scale="sqrt",
         tie_embeddings=True, norm_eps=1e-6),
    dict(name="double_serial_ln_swiglu_learned_qkln_bias",
         doc="double norm layernorm, swiglu, learned positions, qk_norm (layernorm), biases",
         vocab=71, d_model=24, n_head=2, max_seq=16, d_ff=56,
         norm="layernorm", norm_place="double", block="serial",
         activation="swiglu", position="learned", qk_norm=True, bias=True,
         **TRAINING),
    dict(name="double_parallel_rms_swiglu_rope_interleaved_qkrms_hd8",
         doc="double norm parallel, qk_norm (rmsnorm), head_dim 8 != d_model/n_head 6, "
             "attention soft-cap",
         vocab=83, d_model=24, n_head=4, head_dim=8, max_seq=16, d_ff=72,
         norm="rmsnorm", norm_place="double", block="parallel",
         activation="swiglu", position="rope", rope_style="interleaved",
         qk_norm=True, attn_softcap=2.0),
    dict(name="double_parallel_ln_gelu_none_mqa_bias",
         doc="double norm parallel layernorm, gelu tanh, no positions, MQA 2/1, biases",
         vocab=73, d_model=20, n_head=2, n_kv_head=1, max_seq=16, d_ff=60,
         norm="layernorm", norm_place="double", block="parallel",
         activation="gelu", gelu="tanh", position="none", bias=True),
    # --- further variants and dtypes -------------------------------------
    dict(name="pre_serial_rms_swiglu_rope_half_gqa_qkrms_f16",
         doc="Qwen-3-style: F16 weights, GQA 4/2, qk_norm (rmsnorm), theta 1e6, tied",
         vocab=97, d_model=32, n_head=4, n_kv_head=2, max_seq=16, ffn_multiple_of=8,
         norm="rmsnorm", norm_place="pre", block="serial",
         activation="swiglu", position="rope", rope_style="half",
         rope_theta=1e6, qk_norm=True, tie_embeddings=True, dtype="F16"),
    dict(name="pre_serial_ln_geglu_erf_rope_interleaved_bf16",
         doc="BF16 weights, layernorm, geglu erf, interleaved RoPE, biases, embed_scale sqrt",
         vocab=97, d_model=16, n_head=2, max_seq=16, d_ff=40,
         norm="layernorm", norm_place="pre", block="serial",
         activation="geglu", gelu="erf", position="rope", rope_style="interleaved",
         bias=True, embed_scale="sqrt", dtype="BF16", metadata={"format": "pt"}),
    dict(name="pre_serial_rms_relu_rope_hd12",
         doc="head_dim 12 > d_model/n_head 10, relu, RoPE half",
         vocab=61, d_model=20, n_head=2, head_dim=12, max_seq=16, d_ff=100,
         norm="rmsnorm", norm_place="pre", block="serial",
         activation="relu", position="rope", rope_style="half"),
    dict(name="pre_serial_rms_gelu_sine_bias_gqa",
         doc="gelu tanh, sine positions, biases, GQA 4/2, training keys set",
         vocab=89, d_model=32, n_head=4, n_kv_head=2, max_seq=24, d_ff=128,
         norm="rmsnorm", norm_place="pre", block="serial",
         activation="gelu", gelu="tanh", position="sine", bias=True, **TRAINING),
    dict(name="pre_parallel_rms_geglu_erf_learned_mqa_bf16",
         doc="BF16, parallel, geglu erf, learned positions, MQA 4/1, attention soft-cap",
         vocab=67, d_model=16, n_head=4, n_kv_head=1, max_seq=16, d_ff=44,
         norm="rmsnorm", norm_place="pre", block="parallel",
         activation="geglu", gelu="erf", position="learned", attn_softcap=1.0,
         dtype="BF16", order="sorted"),
    dict(name="pre_serial_ln_swiglu_rope_half_qkln_softcaps",
         doc="layernorm with qk_norm (layernorm), both soft-caps, odd d_ff 52",
         vocab=127, d_model=24, n_head=4, n_kv_head=2, max_seq=16, d_ff=52,
         norm="layernorm", norm_place="pre", block="serial",
         activation="swiglu", position="rope", rope_style="half",
         qk_norm=True, attn_softcap=1.5, logit_softcap=2.5, norm_eps=1e-6),
    # --- qkv_bias apart from bias -----------------------------------------
    dict(name="pre_serial_rms_swiglu_rope_half_gqa3_qkvbias",
         doc="Qwen-2-style: biases on q, k and v alone (none on wo or the FFN), "
             "GQA 6/2, theta 1e6, eps 1e-6, tied",
         vocab=97, d_model=48, n_head=6, n_kv_head=2, max_seq=16, d_ff=128,
         norm="rmsnorm", norm_place="pre", block="serial",
         activation="swiglu", position="rope", rope_style="half",
         rope_theta=1e6, norm_eps=1e-6, bias=False, qkv_bias=True,
         tie_embeddings=True),
    dict(name="post_serial_ln_geglu_rope_interleaved_gqa_noqkvbias",
         doc="biases on wo, w_gate, w_up and w_down but not on q, k and v; post-norm "
             "layernorm, geglu tanh, interleaved RoPE, GQA 4/2",
         vocab=71, d_model=32, n_head=4, n_kv_head=2, max_seq=16, d_ff=80,
         norm="layernorm", norm_place="post", block="serial",
         activation="geglu", gelu="tanh", position="rope", rope_style="interleaved",
         bias=True, qkv_bias=False, order="sorted"),
]

# Training-only cases (in TRAIN_INDEX, not INDEX, so INDEX stays as it was):
# what the forward cases leave weak or out in training.
TRAIN_CASES = [
    dict(name="pre_serial_rms_swiglu_rope_half_zloss_softcap_nodecay",
         doc="training: z_loss 0.02 (a term the size of the CE) after a logit "
             "soft-cap of 3, weight_decay 0 (decay off), dropout set (and ignored)",
         vocab=53, d_model=16, n_head=2, max_seq=16, d_ff=32,
         norm="rmsnorm", norm_place="pre", block="serial",
         activation="swiglu", position="rope", rope_style="half",
         logit_softcap=3.0, z_loss=0.02, weight_decay=0.0, dropout=0.1),
]

FILE_OPTIONS = ("name", "doc", "dtype", "order", "metadata")


def case_config(case):
    cfg = {k: v for k, v in case.items() if k not in FILE_OPTIONS}
    cfg.setdefault("n_layer", 2)
    for key, typ, _ in ref.KEYS:  # floats as floats, so the spec says 1.0 not 1
        if typ == "float" and key in cfg:
            cfg[key] = float(cfg[key])
    cfg = ref.resolve_defaults(cfg)
    cfg["name"] = case["name"]
    return cfg


def case_tokens(cfg, rng):
    """5 to 9 ids including 0 and vocab-1, the rest random."""
    n = int(rng.integers(5, 10))
    toks = rng.integers(1, cfg["vocab"] - 1, size=n)
    where = rng.choice(n, size=2, replace=False)
    toks[where[0]], toks[where[1]] = 0, cfg["vocab"] - 1
    return [int(t) for t in toks]


def tensor_order(weights, how):
    names = list(weights)
    if how == "reversed":
        return names[::-1]
    if how == "sorted":
        return sorted(names)
    return names


def write_case(case):
    name = case["name"]
    cfg = case_config(case)
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    weights = ref.init_weights(cfg, int(rng.integers(2**31)))
    tokens = case_tokens(cfg, rng)
    base = os.path.join(GOLDEN, name)

    comment = (f"Generated by tests/reference/make_golden.py: do not edit.\n"
               f"{case['doc']}.")
    with open(base + ".tfm", "w") as f:
        f.write(ref.format_spec(cfg, comment))
    ref.write_safetensors(base + ".safetensors", weights, case.get("dtype", "F32"),
                          order=tensor_order(weights, case.get("order")),
                          metadata=case.get("metadata"))
    with open(base + ".tokens", "w") as f:
        f.write(",".join(map(str, tokens)) + "\n")

    # Compute from the spec and weights exactly as stored.
    stored_cfg = ref.parse_spec(base + ".tfm")
    assert stored_cfg == cfg, name
    stored = ref.read_safetensors(base + ".safetensors")
    logits = ref.forward(stored_cfg, stored, tokens)
    ref.write_npy(base + ".logits.npy", logits)

    # And from the weights as `--weight-dtype bf16` holds them: matrices and
    # embeddings (the 2-D tensors) rounded to bfloat16, vectors unchanged.
    rounded = {k: ref.bf16_bits_to_f32(ref.f32_to_bf16_bits(v)).reshape(v.shape)
               if v.ndim == 2 else v for k, v in stored.items()}
    ref.write_npy(base + ".logits_bf16.npy", ref.forward(stored_cfg, rounded, tokens))

    # And with the keys and values in a cache of halves (`--kv-dtype f16`).
    ref.write_npy(base + ".logits_kvf16.npy", ref.forward(stored_cfg, stored, tokens, kv_f16=True))
    return cfg, logits


# ---- training: batch, gradients and three AdamW steps (grad_ref.py) --------

# The AdamW goldens: peak lr 1e-2, 2 warm-up steps (lr_1 = lr/2), then by the
# case's place k in TRAIN_INDEX: cosine to 1e-3 over 5 steps (k even) or
# constant (k odd); clip 1.0 (k % 3 == 0; the gradient norms of these models
# are 0.9 to 10, so it clips every step), 5.0 (k % 3 == 1: some steps clipped,
# some not) or 0 = off (k % 3 == 2); betas and eps the defaults.
ADAMW = dict(lr=1e-2, warmup=2, min_lr=1e-3, total_steps=5, steps=3)
CLIPS = (grad_ref.CLIP, 5.0, 0.0)
BATCH_WINDOWS = 2


def train_settings(k):
    return dict(ADAMW, schedule="cosine" if k % 2 == 0 else "constant", clip=CLIPS[k % 3])


def case_batch(cfg, rng):
    """B windows of T+1 ids, T in 3..6: 0 twice (once in each window) and
    vocab-1 once, all at inner places, so each is an input and a target and 0's
    embedding row gathers two rows of the scatter-add."""
    T = int(rng.integers(3, 7))
    batch = rng.integers(1, cfg["vocab"] - 1, size=(BATCH_WINDOWS, T + 1))
    a, b = rng.choice(np.arange(1, T), size=2, replace=False)
    batch[0, rng.integers(1, T)] = 0
    batch[1, a], batch[1, b] = 0, cfg["vocab"] - 1
    return batch


def f32(tensors):
    return {k: np.asarray(v, dtype=np.float64).astype(np.float32) for k, v in tensors.items()}


def write_training(case, cfg, k):
    """NAME.batch, NAME.grads.safetensors and NAME.adamw.safetensors."""
    name = case["name"]
    base = os.path.join(GOLDEN, name)
    rng = np.random.default_rng(zlib.crc32(("train/" + name).encode()))
    batch = case_batch(cfg, rng)
    with open(base + ".batch", "w") as f:
        f.write("".join(",".join(map(str, w)) + "\n" for w in batch))

    # From the spec, weights and batch exactly as stored (F16/BF16 widened).
    stored_cfg = ref.parse_spec(base + ".tfm")
    stored = ref.read_safetensors(base + ".safetensors")
    with open(base + ".batch") as f:
        stored_batch = np.array([[int(t) for t in ln.split(",")] for ln in f.read().split()])
    assert (stored_batch == batch).all(), name
    order = [n for n, _ in ref.tensor_list(stored_cfg)]
    loss, grads = grad_ref.loss_and_grads(stored_cfg, stored, stored_batch)
    ref.write_safetensors(base + ".grads.safetensors", f32(grads), "F32", order=order,
                          metadata={"loss": repr(loss)})

    hp = train_settings(k)
    w, losses, lrs, norms = grad_ref.train(
        stored_cfg, stored, stored_batch, hp["steps"], hp["lr"], hp["warmup"],
        hp["schedule"], hp["total_steps"], hp["min_lr"], hp["clip"])
    assert losses[0] == loss, name
    meta = {"losses": ",".join(map(repr, losses)), "lrs": ",".join(map(repr, lrs)),
            "grad_norms": ",".join(map(repr, norms)),
            "steps": str(hp["steps"]), "lr": repr(hp["lr"]), "warmup": str(hp["warmup"]),
            "schedule": hp["schedule"], "total_steps": str(hp["total_steps"]),
            "min_lr": repr(hp["min_lr"]), "clip": repr(hp["clip"]),
            "beta1": repr(grad_ref.BETA1), "beta2": repr(grad_ref.BETA2),
            "eps": repr(grad_ref.EPS), "weight_decay": repr(stored_cfg["weight_decay"]),
            "zero_grad_tensors": ",".join(grad_ref.zero_gradient_tensors(stored_cfg))}
    ref.write_safetensors(base + ".adamw.safetensors", f32(w), "F32", order=order,
                          metadata=meta)
    clipped = [hp["clip"] > 0 and n > hp["clip"] for n in norms]
    return dict(hp, batch=batch, loss=loss, losses=losses, norms=norms, clipped=clipped)


def training_features(cfg, case, run):
    out = features(cfg, case)
    out.add("z_loss>0" if cfg["z_loss"] > 0 else "z_loss=0")
    out.add("weight_decay>0" if cfg["weight_decay"] > 0 else "weight_decay=0")
    out.add(f"schedule={run['schedule']}")
    out.add("clip=off" if run["clip"] == 0 else "clip=on")
    if any(run["clipped"]):
        out.add("a clipped step")
    if run["clip"] > 0 and not all(run["clipped"]):
        out.add("a step under clip")
    if cfg["z_loss"] > 0 and cfg["logit_softcap"] > 0:
        out.add("z_loss after logit_softcap")
    if cfg["dropout"] > 0:
        out.add("dropout set (ignored)")
    return out


def required_training_features():
    return required_features() | {
        "z_loss>0", "z_loss=0", "weight_decay>0", "weight_decay=0", "schedule=cosine",
        "schedule=constant", "clip=off", "clip=on", "a clipped step", "a step under clip",
        "z_loss after logit_softcap", "dropout set (ignored)"}


# ---- coverage: every value of every key the forward pass reads -------------

def features(cfg, case):
    """What a case exercises; `gelu` and `rope_style` count only where they act."""
    inert = set()
    if cfg["activation"] not in ("gelu", "geglu"):
        inert.add("gelu")
    if cfg["position"] != "rope":
        inert.add("rope_style")
    out = {f"{k}={ref.format_literal(cfg[k])}" for k, typ, _ in ref.KEYS
           if (isinstance(typ, tuple) or typ == "bool") and k not in inert}
    nh, nkv = cfg["n_head"], cfg["n_kv_head"]
    out.add("attn=MHA" if nkv == nh else "attn=MQA" if nkv == 1 else "attn=GQA")
    if cfg["qk_norm"]:
        out.add(f"qk_norm+{cfg['norm']}")
    if cfg["head_dim"] * nh != cfg["d_model"]:
        out.add("head_dim!=d_model/n_head")
    if cfg["qkv_bias"] != cfg["bias"]:
        out.add("qkv_bias only" if cfg["qkv_bias"] else "bias without qkv_bias")
    out.add(f"dtype={case.get('dtype', 'F32')}")
    for k in ("attn_softcap", "logit_softcap"):
        if cfg[k] > 0:
            out.add(k)
    return out


def required_features():
    req = {f"{k}={ref.format_literal(v)}" for k, typ, _ in ref.KEYS
           for v in (typ if isinstance(typ, tuple) else (True, False) if typ == "bool" else ())}
    req |= {"attn=MHA", "attn=GQA", "attn=MQA", "qk_norm+rmsnorm", "qk_norm+layernorm",
            "head_dim!=d_model/n_head", "dtype=F32", "dtype=F16", "dtype=BF16",
            "attn_softcap", "logit_softcap", "qkv_bias only", "bias without qkv_bias"}
    return req


def main():
    os.makedirs(GOLDEN, exist_ok=True)
    covered, combos, train_covered, train_combos = set(), set(), set(), set()
    for k, case in enumerate(CASES + TRAIN_CASES):
        cfg, logits = write_case(case)
        run = write_training(case, cfg, k)
        if k < len(CASES):
            covered |= features(cfg, case)
            combos.add((cfg["norm"], cfg["norm_place"], cfg["block"]))
        train_covered |= training_features(cfg, case, run)
        train_combos.add((cfg["norm"], cfg["norm_place"], cfg["block"]))
        print(f"{case['name']:55s} tokens {logits.shape[0]}  "
              f"max|logit| {np.abs(logits).max():.3f}  batch {run['batch'].shape[0]}x"
              f"{run['batch'].shape[1]}  loss {run['loss']:.4f}  {run['schedule']:8s} "
              f"clip {run['clip']}  |g| " + " ".join(
                  f"{n:.3f}{'*' if c else ''}" for n, c in zip(run["norms"], run["clipped"])))
    with open(os.path.join(GOLDEN, "INDEX"), "w") as f:
        f.write("".join(c["name"] + "\n" for c in CASES))
    with open(os.path.join(GOLDEN, "TRAIN_INDEX"), "w") as f:
        f.write("".join(c["name"] + "\n" for c in CASES + TRAIN_CASES))
    missing = required_features() - covered
    assert not missing, f"not covered: {sorted(missing)}"
    assert len(combos) == 12, f"only {len(combos)} norm x place x block combinations"
    missing = required_training_features() - train_covered
    assert not missing, f"not covered in training: {sorted(missing)}"
    assert len(train_combos) == 12
    names = [c["name"] for c in CASES + TRAIN_CASES]
    assert len(set(names)) == len(names)
    print(f"{len(CASES)} cases, every key value covered, all 12 combinations; "
          f"{len(names)} with training goldens (* = a clipped step), every value covered")


if __name__ == "__main__":
    main()
