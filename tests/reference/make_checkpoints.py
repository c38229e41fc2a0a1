"""make_checkpoints.py: writes tests/checkpoints/, tiny checkpoints in the layouts
other software writes, with expected logits computed in that software's
conventions.

    /usr/bin/python3 tests/reference/make_checkpoints.py      # or: make checkpoints

For each case it writes the checkpoint exactly as the other software lays it out
(Hugging Face folders: config.json, model.safetensors or shards plus
model.safetensors.index.json; llama2.c: .bin version 0 and 1), a prompt
(tokens.txt) and logits.npy from hf_ref.py, which reads the tensors under the
other software's names and follows its modeling code.  Then it maps every
checkpoint onto MODEL_REFERENCE.md's section-3 names and a spec by the text of
section 6, runs ref.py on that, and fails unless the two agree to 1e-5
(relative to the largest logit).  It also prints, per case, how far the logits
move when one convention is flipped (RoPE pairing, Gemma's 1 + w, the soft-caps,
...), so that a test at ~1e-4 can tell the conventions apart.

Everything is seeded from the case name: a rerun writes identical bytes.
"""

import json
import math
import os
import struct
import sys
import zlib
from collections import Counter

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hf_ref  # noqa: E402
import ref  # noqa: E402

OUT = os.path.normpath(os.path.join(HERE, "..", "checkpoints"))
TOL = 1e-5          # |HF-convention - ref.py| / max|logit|
failures = []
pending = []


def rng_for(name):
    return np.random.default_rng(zlib.crc32(name.encode()))


# ---------------------------------------------------------------------------
# safetensors as the hub writes them: names sorted, data back to back in that
# order, __metadata__ {"format": "pt"} first, the header padded with spaces to a
# multiple of 8.

def stored_bytes(a, dtype):
    a = np.ascontiguousarray(a, dtype=np.float32)
    if dtype == "F32":
        return a.astype("<f4").tobytes()
    if dtype == "F16":
        return a.astype("<f2").tobytes()
    if dtype == "BF16":   # torch's round-to-nearest-even, as a hub file is made
        return torch.from_numpy(a).to(torch.bfloat16).view(torch.int16).numpy().astype("<i2").tobytes()
    raise ValueError(dtype)


def nbytes(shape, dtype):
    return int(np.prod(shape, dtype=np.int64)) * (4 if dtype == "F32" else 2)


def write_safetensors(path, tensors, dtype, metadata=True):
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {"format": "pt"}
    for name in sorted(tensors):
        raw = stored_bytes(tensors[name], dtype)
        header[name] = {"dtype": dtype, "shape": list(np.shape(tensors[name])),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


def write_json(path, obj, sort_keys=True):
    # transformers: json.dumps(..., indent=2, sort_keys=True) + "\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(obj, indent=2, sort_keys=sort_keys, ensure_ascii=False) + "\n")


def write_tokens(path, tokens):
    with open(path, "w") as f:
        f.write(",".join(map(str, tokens)) + "\n")


def write_npy(path, a):
    np.save(path, np.asarray(a, dtype="<f4"))


# ---------------------------------------------------------------------------
# The Hugging Face cases.  Each has the config.json fields transformers writes for
# that model type (hub-file vintage in the comment), the storage dtype and the
# weight scales.

CASES = [
    dict(name="llama", dtype="BF16", tokenizer="sentencepiece",
         doc="TinyLlama / Llama 2 layout (transformers 4.41 config, no head_dim); "
             "GQA 4/2, untied lm_head, SentencePiece-style tokenizer",
         config={
             "architectures": ["LlamaForCausalLM"], "attention_bias": False,
             "attention_dropout": 0.0, "bos_token_id": 1, "eos_token_id": 2,
             "hidden_act": "silu", "hidden_size": 64, "initializer_range": 0.02,
             "intermediate_size": 160, "max_position_embeddings": 256,
             "mlp_bias": False, "model_type": "llama", "num_attention_heads": 4,
             "num_hidden_layers": 2, "num_key_value_heads": 2, "pretraining_tp": 1,
             "rms_norm_eps": 1e-05, "rope_scaling": None, "rope_theta": 10000.0,
             "tie_word_embeddings": False, "torch_dtype": "bfloat16",
             "transformers_version": "4.41.2", "use_cache": True, "vocab_size": 300}),
    dict(name="llama_sharded", dtype="BF16", shards=3,
         doc="Llama 3 layout (transformers 4.46 config with head_dim, rope_theta 500000); "
             "GQA 8/2, untied, three shards split inside a layer",
         config={
             "architectures": ["LlamaForCausalLM"], "attention_bias": False,
             "attention_dropout": 0.0, "bos_token_id": 126, "eos_token_id": 127,
             "head_dim": 8, "hidden_act": "silu", "hidden_size": 64,
             "initializer_range": 0.02, "intermediate_size": 128,
             "max_position_embeddings": 256, "mlp_bias": False, "model_type": "llama",
             "num_attention_heads": 8, "num_hidden_layers": 2, "num_key_value_heads": 2,
             "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": None,
             "rope_theta": 500000.0, "tie_word_embeddings": False,
             "torch_dtype": "bfloat16", "transformers_version": "4.46.3",
             "use_cache": True, "vocab_size": 128}),
    dict(name="mistral", dtype="F16", metadata=False,
         doc="Mistral 7B v0.3 layout (sliding_window null, rope_theta 1e6); GQA 4/2, "
             "untied, F16, no __metadata__ in the safetensors header",
         config={
             "architectures": ["MistralForCausalLM"], "attention_dropout": 0.0,
             "bos_token_id": 1, "eos_token_id": 2, "head_dim": 12, "hidden_act": "silu",
             "hidden_size": 48, "initializer_range": 0.02, "intermediate_size": 128,
             "max_position_embeddings": 256, "model_type": "mistral",
             "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 2,
             "rms_norm_eps": 1e-05, "rope_theta": 1000000.0, "sliding_window": None,
             "tie_word_embeddings": False, "torch_dtype": "float16",
             "transformers_version": "4.46.3", "use_cache": True, "vocab_size": 160}),
    dict(name="qwen2", dtype="BF16",
         doc="Qwen2.5 0.5B layout: q/k/v biases (no o bias), GQA 6/2 (g(h) = h // 3), "
             "tied, use_sliding_window false with sliding_window = max_position_embeddings",
         config={
             "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0,
             "bos_token_id": 150, "eos_token_id": 150, "hidden_act": "silu",
             "hidden_size": 48, "initializer_range": 0.02, "intermediate_size": 112,
             "max_position_embeddings": 256, "max_window_layers": 2,
             "model_type": "qwen2", "num_attention_heads": 6, "num_hidden_layers": 2,
             "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_scaling": None,
             "rope_theta": 1000000.0, "sliding_window": 256, "tie_word_embeddings": True,
             "torch_dtype": "bfloat16", "transformers_version": "4.43.1",
             "use_cache": True, "use_sliding_window": False, "vocab_size": 151}),
    dict(name="qwen3", dtype="F32",
         doc="Qwen3 0.6B layout: q_norm/k_norm per head before RoPE, head_dim 16 != "
             "hidden/heads = 8, GQA 4/2, tied, rope_theta written as the integer 1000000",
         config={
             "architectures": ["Qwen3ForCausalLM"], "attention_bias": False,
             "attention_dropout": 0.0, "bos_token_id": 198, "eos_token_id": 199,
             "head_dim": 16, "hidden_act": "silu", "hidden_size": 32,
             "initializer_range": 0.02, "intermediate_size": 96,
             "max_position_embeddings": 256, "max_window_layers": 2,
             "model_type": "qwen3", "num_attention_heads": 4, "num_hidden_layers": 2,
             "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_scaling": None,
             "rope_theta": 1000000, "sliding_window": None, "tie_word_embeddings": True,
             "torch_dtype": "float32", "transformers_version": "4.51.0",
             "use_cache": True, "use_sliding_window": False, "vocab_size": 200}),
    dict(name="gemma", dtype="BF16",
         doc="Gemma 1 (2b, as updated on the hub): norms stored as w for (1 + w), "
             "embeddings times sqrt(hidden), hidden_act \"gelu\" beside hidden_activation "
             "\"gelu_pytorch_tanh\" (the tanh one is what runs), MQA, head_dim 16 != 48/4, "
             "tied by the class default (no tie_word_embeddings key)",
         config={
             "architectures": ["GemmaForCausalLM"], "attention_bias": False,
             "attention_dropout": 0.0, "bos_token_id": 2, "eos_token_id": 1,
             "head_dim": 16, "hidden_act": "gelu", "hidden_activation": "gelu_pytorch_tanh",
             "hidden_size": 48, "initializer_range": 0.02, "intermediate_size": 128,
             "max_position_embeddings": 256, "model_type": "gemma",
             "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 1,
             "pad_token_id": 0, "rms_norm_eps": 1e-06, "rope_scaling": None,
             "rope_theta": 10000.0, "torch_dtype": "bfloat16",
             "transformers_version": "4.38.0.dev0", "use_cache": True, "vocab_size": 256}),
    dict(name="gemma2", dtype="F32",
         scale={"embed": 1.0, "q_proj": 0.5, "k_proj": 0.5},
         doc="Gemma 2 (2b layout, float32 as on the hub): four norms per layer (1 + w), "
             "attn/final soft-caps 50/30, query_pre_attn_scalar = head_dim = 16 != 32/4, "
             "GQA 4/2, sliding_window = max_position_embeddings, tied by default",
         config={
             "architectures": ["Gemma2ForCausalLM"], "attention_bias": False,
             "attention_dropout": 0.0, "attn_logit_softcapping": 50.0,
             "bos_token_id": 2, "cache_implementation": "hybrid", "eos_token_id": 1,
             "final_logit_softcapping": 30.0, "head_dim": 16,
             "hidden_act": "gelu_pytorch_tanh", "hidden_activation": "gelu_pytorch_tanh",
             "hidden_size": 32, "initializer_range": 0.02, "intermediate_size": 64,
             "max_position_embeddings": 256, "model_type": "gemma2",
             "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 2,
             "pad_token_id": 0, "query_pre_attn_scalar": 16, "rms_norm_eps": 1e-06,
             "rope_theta": 10000.0, "sliding_window": 256, "torch_dtype": "float32",
             "transformers_version": "4.42.4", "use_cache": True, "vocab_size": 96}),
    dict(name="gpt2", dtype="F32", tokenizer="bytelevel", buffers=True,
         doc="the hub's own gpt2 layout: no transformer. prefix, no lm_head, "
             "h.{i}.attn.bias [1,1,n,n] and h.{i}.attn.masked_bias [] buffers, "
             "Conv1D weights [in, out], fused c_attn; the hub's (old) config key set, "
             "without n_inner or scale_attn_weights; byte-level BPE tokenizer",
         config={
             "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"],
             "attn_pdrop": 0.1, "bos_token_id": 299, "embd_pdrop": 0.1,
             "eos_token_id": 299, "initializer_range": 0.02, "layer_norm_epsilon": 1e-05,
             "model_type": "gpt2", "n_ctx": 64, "n_embd": 32, "n_head": 4, "n_layer": 2,
             "n_positions": 64, "resid_pdrop": 0.1, "summary_activation": None,
             "summary_first_dropout": 0.1, "summary_proj_to_labels": True,
             "summary_type": "cls_index", "summary_use_proj": True,
             "task_specific_params": {"text-generation": {"do_sample": True, "max_length": 50}},
             "vocab_size": 300}),
    dict(name="gpt2_prefixed", dtype="F16", prefix="transformer.",
         doc="GPT2LMHeadModel as transformers 4.46 saves it: transformer. prefix, tied "
             "lm_head.weight left out, no buffers, the full config key set with "
             "n_inner = 80 (not 4 * n_embd), F16",
         config={
             "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"],
             "attn_pdrop": 0.1, "bos_token_id": 99, "embd_pdrop": 0.1,
             "eos_token_id": 99, "initializer_range": 0.02, "layer_norm_epsilon": 1e-05,
             "model_type": "gpt2", "n_ctx": 128, "n_embd": 32, "n_head": 2, "n_inner": 80,
             "n_layer": 2, "n_positions": 128, "reorder_and_upcast_attn": False,
             "resid_pdrop": 0.1, "scale_attn_by_inverse_layer_idx": False,
             "scale_attn_weights": True, "summary_activation": None,
             "summary_first_dropout": 0.1, "summary_proj_to_labels": True,
             "summary_type": "cls_index", "summary_use_proj": True,
             "torch_dtype": "float16", "transformers_version": "4.46.3",
             "use_cache": True, "vocab_size": 100}),
]


def hf_tensor_list(case):
    """[(name, shape, kind)] in the order of the model's state_dict."""
    c, mt = case["config"], case["config"]["model_type"]
    out = []
    if mt == "gpt2":
        pre = case.get("prefix", "")
        d, n_pos = c["n_embd"], c["n_positions"]
        inner = c.get("n_inner") or 4 * d
        out += [(pre + "wte.weight", (c["vocab_size"], d), "embed"),
                (pre + "wpe.weight", (n_pos, d), "pos")]
        for i in range(c["n_layer"]):
            p = f"{pre}h.{i}."
            out += [(p + "ln_1.weight", (d,), "ln_w"), (p + "ln_1.bias", (d,), "bias")]
            if case.get("buffers"):
                out += [(p + "attn.bias", (1, 1, n_pos, n_pos), "tril"),
                        (p + "attn.masked_bias", (), "masked_bias")]
            out += [(p + "attn.c_attn.weight", (d, 3 * d), "linear"),
                    (p + "attn.c_attn.bias", (3 * d,), "bias"),
                    (p + "attn.c_proj.weight", (d, d), "linear"),
                    (p + "attn.c_proj.bias", (d,), "bias"),
                    (p + "ln_2.weight", (d,), "ln_w"), (p + "ln_2.bias", (d,), "bias"),
                    (p + "mlp.c_fc.weight", (d, inner), "linear"),
                    (p + "mlp.c_fc.bias", (inner,), "bias"),
                    (p + "mlp.c_proj.weight", (inner, d), "linear"),
                    (p + "mlp.c_proj.bias", (d,), "bias")]
        out += [(pre + "ln_f.weight", (d,), "ln_w"), (pre + "ln_f.bias", (d,), "bias")]
        return out
    d, ff = c["hidden_size"], c["intermediate_size"]
    nh = c["num_attention_heads"]
    nkv = c.get("num_key_value_heads", nh)
    hd = c.get("head_dim") or d // nh
    norm = "gemma_norm" if mt in ("gemma", "gemma2") else "norm"
    qkv_bias = mt == "qwen2" or c.get("attention_bias", False)
    out.append(("model.embed_tokens.weight", (c["vocab_size"], d), "embed"))
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        for proj, rows in (("q_proj", nh * hd), ("k_proj", nkv * hd), ("v_proj", nkv * hd)):
            out.append((p + f"self_attn.{proj}.weight", (rows, d), "linear"))
            if qkv_bias:
                out.append((p + f"self_attn.{proj}.bias", (rows,), "bias"))
        out.append((p + "self_attn.o_proj.weight", (d, nh * hd), "linear"))
        if mt == "qwen3":
            out += [(p + "self_attn.q_norm.weight", (hd,), norm),
                    (p + "self_attn.k_norm.weight", (hd,), norm)]
        out += [(p + "mlp.gate_proj.weight", (ff, d), "linear"),
                (p + "mlp.up_proj.weight", (ff, d), "linear"),
                (p + "mlp.down_proj.weight", (d, ff), "linear"),
                (p + "input_layernorm.weight", (d,), norm),
                (p + "post_attention_layernorm.weight", (d,), norm)]
        if mt == "gemma2":
            out += [(p + "pre_feedforward_layernorm.weight", (d,), norm),
                    (p + "post_feedforward_layernorm.weight", (d,), norm)]
    out.append(("model.norm.weight", (d,), norm))
    if not c.get("tie_word_embeddings", hf_ref.TIE_DEFAULT[mt]):
        out.append(("lm_head.weight", (c["vocab_size"], d), "linear"))
    return out


def init_tensor(rng, name, shape, kind, scale):
    """Embeddings and matrices N(0, s^2) (s = 0.2 unless the case says otherwise),
    biases 0.1 N(0,1), Llama-style norm weights 1 + 0.1 N(0,1), Gemma's stored norm
    weights 0.1 N(0,1) (the model uses 1 + w), layernorm weights 1 + 0.1 N(0,1)."""
    if kind == "tril":
        return np.tril(np.ones(shape[-2:], dtype=np.float32)).reshape(shape)
    if kind == "masked_bias":
        return np.array(-1e4, dtype=np.float32)
    z = rng.standard_normal(shape)
    if kind in ("norm", "ln_w"):
        return (1.0 + 0.1 * z).astype(np.float32)
    if kind in ("gemma_norm", "bias"):
        return (0.1 * z).astype(np.float32)
    s = 0.2
    for key, v in scale.items():
        if key == kind or key in name:
            s = v
    return (s * z).astype(np.float32)


def case_tokens(rng, vocab):
    """5 to 9 ids including 0 and vocab - 1, in a shuffled order."""
    n = int(rng.integers(5, 10))
    toks = [0, vocab - 1] + [int(t) for t in rng.integers(1, vocab - 1, size=n - 2)]
    rng.shuffle(toks)
    return [int(t) for t in toks]


def shard(tensors_in_order, dtype, n_shards):
    """huggingface_hub's split: fill shards in state_dict order up to a size limit
    (chosen here so that there are n_shards and a layer is split)."""
    total = sum(nbytes(np.shape(a), dtype) for _, a in tensors_in_order)

    def split(limit):
        shards, cur, cur_size = [], [], 0
        for name, a in tensors_in_order:
            size = nbytes(np.shape(a), dtype)
            if cur and cur_size + size > limit:
                shards.append(cur)
                cur, cur_size = [], 0
            cur.append((name, a))
            cur_size += size
        return shards + [cur]

    limit = -(-total // n_shards)
    while len(split(limit)) > n_shards:
        limit += 256
    return split(limit), total


def write_hf_case(case):
    name = case["name"]
    folder = os.path.join(OUT, name)
    os.makedirs(folder, exist_ok=True)
    rng = rng_for(name)
    dtype = case["dtype"]
    plan = hf_tensor_list(case)
    weights = [(n, init_tensor(rng, n, shape, kind, case.get("scale", {}))) for n, shape, kind in plan]
    write_json(os.path.join(folder, "config.json"), case["config"])
    metadata = case.get("metadata", True)
    if case.get("shards"):
        shards, total = shard(weights, dtype, case["shards"])
        n = len(shards)
        weight_map = {}
        for k, part in enumerate(shards, 1):
            fname = f"model-{k:05d}-of-{n:05d}.safetensors"
            write_safetensors(os.path.join(folder, fname), dict(part), dtype, metadata)
            weight_map.update({t: fname for t, _ in part})
        write_json(os.path.join(folder, "model.safetensors.index.json"),
                   {"metadata": {"total_size": total}, "weight_map": weight_map})
    else:
        write_safetensors(os.path.join(folder, "model.safetensors"), dict(weights), dtype, metadata)
    tokens = case_tokens(rng_for(name + ":tokens"), case["config"]["vocab_size"])
    write_tokens(os.path.join(folder, "tokens.txt"), tokens)
    # the logits from the files as written (the weights after rounding)
    config, stored = hf_ref.read_hf_folder(folder)
    logits = hf_ref.hf_forward(config, stored, tokens)
    write_npy(os.path.join(folder, "logits.npy"), logits)
    return folder, config, stored, tokens, logits


# ---------------------------------------------------------------------------
# Section 6, as written: a Hugging Face checkpoint as a spec and section-3 tensors

def section6_hf(config, tensors):
    mt = config["model_type"]
    W = {n: t.numpy() for n, t in tensors.items()}
    if mt == "gpt2":
        return section6_gpt2(config, W)
    d = config["hidden_size"]
    nh = config["num_attention_heads"]
    # "head_dim when given (Qwen3, Gemma), else hidden_size / num_attention_heads"
    hd = config["head_dim"] if mt in ("qwen3", "gemma", "gemma2") else d // nh
    tied = "lm_head.weight" not in W     # "lm_head.weight (absent when tie_word_embeddings)"
    cfg = dict(vocab=config["vocab_size"], d_model=d, n_layer=config["num_hidden_layers"],
               n_head=nh, n_kv_head=config["num_key_value_heads"], head_dim=hd,
               d_ff=config["intermediate_size"], max_seq=config["max_position_embeddings"],
               norm="rmsnorm", norm_eps=config["rms_norm_eps"], position="rope",
               rope_style="half", rope_theta=float(config["rope_theta"]),
               activation="swiglu", tie_embeddings=tied)
    if mt == "qwen2":
        cfg.update(qkv_bias=True, bias=False)
    if mt == "qwen3":
        cfg.update(qk_norm=True)
    if mt in ("gemma", "gemma2"):
        cfg.update(embed_scale="sqrt", activation="geglu", gelu="tanh")
    if mt == "gemma2":
        cfg.update(norm_place="double", attn_softcap=float(config["attn_logit_softcapping"]),
                   logit_softcap=float(config["final_logit_softcapping"]))
        assert config["query_pre_attn_scalar"] == hd, "query_pre_attn_scalar must equal head_dim"
    rename = {"input_layernorm": "attention_norm",
              "post_attention_layernorm": "attention_post_norm" if mt == "gemma2" else "ffn_norm",
              "pre_feedforward_layernorm": "ffn_norm",
              "post_feedforward_layernorm": "ffn_post_norm",
              "self_attn.q_proj": "attention.wq", "self_attn.k_proj": "attention.wk",
              "self_attn.v_proj": "attention.wv", "self_attn.o_proj": "attention.wo",
              "self_attn.q_norm": "attention.q_norm", "self_attn.k_norm": "attention.k_norm",
              "mlp.gate_proj": "feed_forward.w_gate", "mlp.up_proj": "feed_forward.w_up",
              "mlp.down_proj": "feed_forward.w_down"}
    out = {}
    for name, a in W.items():
        if name == "model.embed_tokens.weight":
            new = "tok_embeddings.weight"
        elif name == "model.norm.weight":
            new = "norm.weight"
        elif name == "lm_head.weight":
            new = "output.weight"
        else:
            parts = name.split(".")            # model.layers.{i}.<module...>.{weight,bias}
            assert parts[:2] == ["model", "layers"], name
            module = ".".join(parts[3:-1])
            new = f"layers.{parts[2]}.{rename[module]}.{parts[-1]}"
        if mt in ("gemma", "gemma2") and "norm" in new:
            a = a + 1.0                        # "every stored norm weight w means (1 + w)"
        out[new] = a
    return cfg, out


def section6_gpt2(config, W):
    pre = "transformer." if "transformer.wte.weight" in W else ""
    d = config["n_embd"]
    cfg = dict(vocab=config["vocab_size"], d_model=d, n_layer=config["n_layer"],
               n_head=config["n_head"], max_seq=config["n_positions"], norm="layernorm",
               norm_eps=config["layer_norm_epsilon"], position="learned",
               activation="gelu", gelu="tanh", bias=True, tie_embeddings=True)
    if config.get("n_inner") is not None:
        cfg["d_ff"] = config["n_inner"]         # not in section 6: see the README
    out = {"tok_embeddings.weight": W[pre + "wte.weight"],
           "pos_embeddings.weight": W[pre + "wpe.weight"],
           "norm.weight": W[pre + "ln_f.weight"], "norm.bias": W[pre + "ln_f.bias"]}
    for i in range(config["n_layer"]):
        p, q = f"{pre}h.{i}.", f"layers.{i}."
        for hf, s3 in (("ln_1", "attention_norm"), ("ln_2", "ffn_norm")):
            out[q + s3 + ".weight"] = W[p + hf + ".weight"]
            out[q + s3 + ".bias"] = W[p + hf + ".bias"]
        w, b = W[p + "attn.c_attn.weight"], W[p + "attn.c_attn.bias"]   # [d, 3d], [3d]
        for k, s3 in enumerate(("wq", "wk", "wv")):                     # q, k, v in that order
            out[q + f"attention.{s3}.weight"] = w[:, k * d:(k + 1) * d].T
            out[q + f"attention.{s3}.bias"] = b[k * d:(k + 1) * d]
        for hf, s3 in (("attn.c_proj", "attention.wo"), ("mlp.c_fc", "feed_forward.w_up"),
                       ("mlp.c_proj", "feed_forward.w_down")):
            out[q + s3 + ".weight"] = W[p + hf + ".weight"].T               # Conv1D [in, out]
            out[q + s3 + ".bias"] = W[p + hf + ".bias"]
    return cfg, out


def section6_llama2c(m):
    cfg = dict(vocab=m["vocab_size"], d_model=m["dim"], n_layer=m["n_layers"],
               n_head=m["n_heads"], n_kv_head=m["n_kv_heads"], d_ff=m["hidden_dim"],
               max_seq=m["seq_len"], norm="rmsnorm", norm_eps=1e-5, activation="swiglu",
               position="rope", rope_style="interleaved", rope_theta=10000.0,
               tie_embeddings=m["shared"])
    out = {"tok_embeddings.weight": m["token_embedding"], "norm.weight": m["rms_final"]}
    if not m["shared"]:
        out["output.weight"] = m["wcls"]
    for l in range(m["n_layers"]):
        q = f"layers.{l}."
        out[q + "attention_norm.weight"] = m["rms_att"][l]
        out[q + "ffn_norm.weight"] = m["rms_ffn"][l]
        for k in ("wq", "wk", "wv", "wo"):
            out[q + f"attention.{k}.weight"] = m[k][l]
        out[q + "feed_forward.w_gate.weight"] = m["w1"][l]
        out[q + "feed_forward.w_up.weight"] = m["w3"][l]
        out[q + "feed_forward.w_down.weight"] = m["w2"][l]
    return cfg, out


# ---------------------------------------------------------------------------
# Cross-check against ref.py, and how much each convention moves the logits

def ref_supports(cfg):
    return all(k in ref.KEY_TYPES for k in cfg)


def run_ref(cfg, W, tokens):
    cfg = ref.resolve_defaults(dict(cfg))
    cfg["name"] = "x"
    names = {n for n, _ in ref.tensor_list(cfg)}
    if names != set(W):
        raise ValueError(f"section-3 names differ: missing {sorted(names - set(W))}, "
                         f"extra {sorted(set(W) - names)}")
    for n, shape in ref.tensor_list(cfg):
        assert tuple(np.shape(W[n])) == tuple(shape), (n, np.shape(W[n]), shape)
    return ref.forward(cfg, W, tokens)


def permute_gqa_tile(cfg, W):
    """The weights under which ref.py's g(h) = h // (n_head / n_kv_head) computes
    what the other mapping, g(h) = h % n_kv_head, would compute on the originals."""
    c = ref.resolve_defaults(dict(cfg))
    nh, nkv, hd = c["n_head"], c["n_kv_head"], c["head_dim"]
    r = nh // nkv
    order = [0] * nh
    for h in range(nh):
        order[(h % nkv) * r + h // nkv] = h
    W = dict(W)
    for i in range(c["n_layer"]):
        p = f"layers.{i}.attention."
        wq = W[p + "wq.weight"].reshape(nh, hd, -1)
        W[p + "wq.weight"] = wq[order].reshape(nh * hd, -1)
        if p + "wq.bias" in W:
            W[p + "wq.bias"] = W[p + "wq.bias"].reshape(nh, hd)[order].reshape(-1)
        wo = W[p + "wo.weight"].reshape(-1, nh, hd)
        W[p + "wo.weight"] = wo[:, order].reshape(-1, nh * hd)
    return W


def variants(cfg, W):
    """(what, cfg', W') with one convention flipped."""
    out = []
    if cfg.get("position") == "rope":
        other = "interleaved" if cfg.get("rope_style") == "half" else "half"
        out.append((f"rope_style {other}", dict(cfg, rope_style=other), W))
    c = ref.resolve_defaults(dict(cfg))
    if 1 < c["n_kv_head"] < c["n_head"]:
        out.append(("kv head h % n_kv (tiled, not repeat_kv)", cfg, permute_gqa_tile(cfg, W)))
    if cfg.get("embed_scale") == "sqrt":
        out.append(("norm weights w, not 1 + w", cfg,
                    {n: (a - 1.0 if "norm" in n else a) for n, a in W.items()}))
        out.append(("no sqrt(d_model) embed scale", dict(cfg, embed_scale="none"), W))
    if cfg.get("activation") in ("gelu", "geglu"):
        out.append(("gelu erf", dict(cfg, gelu="erf"), W))
    if cfg.get("attn_softcap"):
        out.append(("no attention soft-cap", dict(cfg, attn_softcap=0.0), W))
    if cfg.get("logit_softcap"):
        out.append(("no final soft-cap", dict(cfg, logit_softcap=0.0), W))
    if cfg.get("norm_place") == "double":
        swapped = dict(W)
        for i in range(cfg["n_layer"]):
            a, b = f"layers.{i}.attention_post_norm.weight", f"layers.{i}.ffn_norm.weight"
            swapped[a], swapped[b] = W[b], W[a]
        out.append(("post_attention_layernorm as ffn_norm", cfg, swapped))
    if cfg.get("qk_norm"):
        out.append(("no q/k norm", dict(cfg, qk_norm=False),
                    {n: a for n, a in W.items() if n.split(".")[-2] not in ("q_norm", "k_norm")}))
    if cfg.get("qkv_bias"):
        out.append(("no q/k/v biases", dict(cfg, qkv_bias=False),
                    {n: a for n, a in W.items() if not n.endswith(("wq.bias", "wk.bias", "wv.bias"))}))
    return out


def cross_check(name, cfg, W, tokens, expected):
    if not ref_supports(cfg):
        missing = [k for k in cfg if k not in ref.KEY_TYPES]
        print(f"PEND {name}: ref.py has no key {', '.join(missing)} yet: cross-check not run")
        pending.append(name)
        return None
    got = run_ref(cfg, W, tokens)
    scale = np.max(np.abs(expected))
    diff = np.max(np.abs(got - expected))
    ok = diff <= TOL * scale
    print(f"{'ok  ' if ok else 'FAIL'} {name:14s} max |HF-convention - ref.py| = {diff:.2e} "
          f"(max |logit| {scale:.2f})")
    if not ok:
        failures.append(name)
    sens = []
    for what, c2, W2 in variants(cfg, W):
        if not ref_supports(c2):
            continue
        sens.append((np.max(np.abs(run_ref(c2, W2, tokens) - expected)), what))
    for d, what in sorted(sens):
        print(f"       {what:42s} moves the logits by {d:.2e}")
    return diff, sens


# ---------------------------------------------------------------------------
# Tokenizers: trained on a fixed text, byte-level BPE (GPT-2) and SentencePiece-style
# BPE with byte fallback (Llama), plus the llama2.c tokenizer.bin of the latter.

CORPUS = (
    "the quick brown fox jumps over the lazy dog. the cat sat on the mat and the dog "
    "sat on the log. a small model reads the text, then it writes the next word. the "
    "weights are tiny, the tests are fast, and the logits must match to the last digit. "
    "there is a tree near the river and the sun sets over the hills in the evening. "
    "The end of the story is near; the reader turns the page and starts another one."
)
LLAMA_PROMPT = "the cat sat on the quiet mat, café!"
GPT2_PROMPT = "The cat sat on the mat, café!<|endoftext|>"
SP_N_CHARS = 21        # characters with their own piece (the rest fall back to bytes)
SPACE = "\u2581"       # ▁


def train_bytelevel(n_merges):
    b2u = hf_ref.bytes_to_unicode()
    words = Counter(tuple(b2u[b] for b in w.encode("utf-8")) for w in hf_ref.GPT2_SPLIT.findall(CORPUS))
    vocab = {u: i for i, u in enumerate(b2u.values())}      # GPT-2's byte order
    merges = []
    while len(merges) < n_merges:
        pairs = Counter()
        for w, c in words.items():
            for a, b in zip(w, w[1:]):
                if a + b not in vocab:
                    pairs[(a, b)] += c
        (a, b), _ = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))
        merges.append((a, b))
        vocab[a + b] = len(vocab)
        new = Counter()
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i < len(w) - 1 and (w[i], w[i + 1]) == (a, b):
                    out.append(a + b)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new[tuple(out)] += c
        words = new
    return vocab, merges


def bytelevel_tokenizer_json(vocab_size):
    vocab, merges = train_bytelevel(vocab_size - 257)
    eot = len(vocab)
    assert eot == vocab_size - 1
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": eot, "content": "<|endoftext|>", "single_word": False,
                          "lstrip": False, "rstrip": False, "normalized": True, "special": True}],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                          "use_regex": True},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False,
                           "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": "", "end_of_word_suffix": "", "fuse_unk": False,
                  "byte_fallback": False, "vocab": vocab,
                  "merges": [f"{a} {b}" for a, b in merges]},
    }


def train_sentencepiece(vocab_size):
    """Pieces as SentencePiece's BPE makes them (words start with ▁, merges never
    cross a word), in Llama's id order: <unk> <s> </s>, <0x00>..<0xFF>, the merged
    pieces by rank, then the single characters."""
    text = SPACE + CORPUS.replace(" ", SPACE)
    counts = Counter(text)
    chars = [c for c, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))][:SP_N_CHARS]
    n_pieces = vocab_size - 3 - 256 - len(chars)
    words = Counter()
    for w in text.split(SPACE)[1:]:
        words[tuple(c if c in chars else None for c in SPACE + w)] += 1
    pieces = []
    known = set(chars)
    while len(pieces) < n_pieces:
        pairs = Counter()
        for w, c in words.items():
            for a, b in zip(w, w[1:]):
                if a is not None and b is not None and a + b not in known:
                    pairs[(a, b)] += c
        (a, b), _ = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))
        pieces.append(a + b)
        known.add(a + b)
        new = Counter()
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i < len(w) - 1 and (w[i], w[i + 1]) == (a, b):
                    out.append(a + b)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new[tuple(out)] += c
        words = new
    vocab = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + pieces + chars
    assert len(vocab) == vocab_size
    # SentencePiece BPE scores: 0 for the control and byte pieces, then -1, -2, ...
    scores = [0.0] * 259 + [-float(i + 1) for i in range(len(pieces) + len(chars))]
    return vocab, scores


def sentencepiece_merges(vocab, scores):
    """transformers' SentencePieceExtractor: every split of a piece into two
    pieces of the vocabulary, by the piece's score, then by the halves' ids."""
    ids = {p: i for i, p in enumerate(vocab)}
    merges = []
    for piece, score in zip(vocab, scores):
        local = [(piece[:k], piece[k:], score) for k in range(1, len(piece))
                 if piece[:k] in ids and piece[k:] in ids]
        merges += sorted(local, key=lambda m: (ids[m[0]], ids[m[1]]))
    merges.sort(key=lambda m: m[2], reverse=True)     # stable: keeps the order above
    return [(a, b) for a, b, _ in merges]


def sentencepiece_tokenizer_json(vocab, scores):
    special = lambda i, s: {"id": i, "content": s, "single_word": False, "lstrip": False,
                            "rstrip": False, "normalized": False, "special": True}
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [special(0, "<unk>"), special(1, "<s>"), special(2, "</s>")],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": SPACE},
            {"type": "Replace", "pattern": {"String": " "}, "content": SPACE}]},
        "pre_tokenizer": None,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<s>", "type_id": 1}},
                     {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": SPACE}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>",
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": True, "byte_fallback": True,
                  "vocab": {p: i for i, p in enumerate(vocab)},
                  "merges": [f"{a} {b}" for a, b in sentencepiece_merges(vocab, scores)]},
    }


def llama_tokenizer_config():
    tok = lambda s: {"content": s, "lstrip": False, "normalized": False, "rstrip": False,
                     "single_word": False, "special": True}
    return {
        "add_bos_token": True, "add_eos_token": False,
        "added_tokens_decoder": {"0": tok("<unk>"), "1": tok("<s>"), "2": tok("</s>")},
        "bos_token": "<s>", "clean_up_tokenization_spaces": False, "eos_token": "</s>",
        "legacy": False, "model_max_length": 1000000000000000019884624838656,
        "pad_token": None, "padding_side": "right", "sp_model_kwargs": {},
        "tokenizer_class": "LlamaTokenizer", "unk_token": "<unk>",
        "use_default_system_prompt": False,
    }


def gpt2_tokenizer_config():
    return {
        "add_bos_token": False, "add_prefix_space": False,
        "added_tokens_decoder": {"299": {"content": "<|endoftext|>", "lstrip": False,
                                         "normalized": True, "rstrip": False,
                                         "single_word": False, "special": True}},
        "bos_token": "<|endoftext|>", "clean_up_tokenization_spaces": False,
        "eos_token": "<|endoftext|>", "errors": "replace", "model_max_length": 1024,
        "pad_token": None, "tokenizer_class": "GPT2Tokenizer", "unk_token": "<|endoftext|>",
    }


def write_llama2c_tokenizer(path, vocab, scores):
    """llama2.c's tokenizer.bin as its export writes it: ▁ as a space, <s> and
    </s> as "\\n<s>\\n" and "\\n</s>\\n", byte pieces spelled <0xXX>."""
    pieces = []
    for i, p in enumerate(vocab):
        if i == 1:
            p = "\n<s>\n"
        elif i == 2:
            p = "\n</s>\n"
        pieces.append(p.replace(SPACE, " ").encode("utf-8"))
    with open(path, "wb") as f:
        f.write(struct.pack("<I", max(len(p) for p in pieces)))
        for p, s in zip(pieces, scores):
            f.write(struct.pack("<fI", s, len(p)))
            f.write(p)


def write_prompt(folder, tok, text, config, stored, prefix=""):
    """prompt.txt (the text, no newline), prompt_tokens.txt (its ids as the
    tokenizer gives them) and prompt_logits.npy."""
    ids = hf_ref.hf_encode(tok, text)
    back = hf_ref.hf_decode(tok, ids)
    assert back == text.replace("<|endoftext|>", ""), (back, text)
    with open(os.path.join(folder, prefix + "prompt.txt"), "w", encoding="utf-8") as f:
        f.write(text)
    write_tokens(os.path.join(folder, prefix + "prompt_tokens.txt"), ids)
    write_npy(os.path.join(folder, prefix + "prompt_logits.npy"), hf_ref.hf_forward(config, stored, ids))
    return ids


# ---------------------------------------------------------------------------
# llama2.c

LLAMA2C = [
    dict(name="llama2c_v0", version=0, dim=48, hidden_dim=128, n_layers=2, n_heads=4,
         n_kv_heads=4, vocab_size=300, seq_len=64, shared=False,
         doc="legacy version 0: seven int32, vocab_size written negative (untied, wcls "
             "at the end), MHA, the two freq_cis tables"),
    dict(name="llama2c_v1", version=1, dim=32, hidden_dim=96, n_layers=2, n_heads=4,
         n_kv_heads=2, vocab_size=300, seq_len=64, shared=True,
         doc="version 1: 256-byte header (magic, version, seven int32, shared_classifier = 1), "
             "GQA 4/2, tied"),
]


def write_llama2c(case):
    rng = rng_for(case["name"])
    dim, hid, L = case["dim"], case["hidden_dim"], case["n_layers"]
    nh, nkv, V, seq = case["n_heads"], case["n_kv_heads"], case["vocab_size"], case["seq_len"]
    hs = dim // nh
    kv = nkv * hs
    g = lambda *shape, s=0.2: (s * rng.standard_normal(shape)).astype(np.float32)
    w = dict(token_embedding=g(V, dim),
             rms_att=(1 + g(L, dim, s=0.1)), wq=g(L, dim, dim), wk=g(L, kv, dim),
             wv=g(L, kv, dim), wo=g(L, dim, dim), rms_ffn=(1 + g(L, dim, s=0.1)),
             w1=g(L, hid, dim), w2=g(L, dim, hid), w3=g(L, hid, dim),
             rms_final=(1 + g(dim, s=0.1)))
    if not case["shared"]:
        w["wcls"] = g(V, dim)
    # model.py's precompute_freqs_cis(head_dim, seq_len), float32
    freqs = 1.0 / (10000.0 ** (np.arange(0, hs, 2)[: hs // 2].astype(np.float32) / hs))
    ang = np.outer(np.arange(seq, dtype=np.float32), freqs.astype(np.float32)).astype(np.float32)
    path = os.path.join(OUT, case["name"] + ".bin")
    with open(path, "wb") as f:
        if case["version"] == 0:
            f.write(struct.pack("<7i", dim, hid, L, nh, nkv, V if case["shared"] else -V, seq))
            order = ["token_embedding", "rms_att", "wq", "wk", "wv", "wo", "rms_ffn",
                     "w1", "w2", "w3", "rms_final"]
            for k in order:
                f.write(w[k].astype("<f4").tobytes())
            f.write(np.cos(ang).astype("<f4").tobytes())
            f.write(np.sin(ang).astype("<f4").tobytes())
        else:
            head = struct.pack("<Ii7iB", 0x616B3432, 1, dim, hid, L, nh, nkv, V, seq,
                               int(case["shared"]))
            f.write(head + b"\0" * (256 - len(head)))
            order = ["rms_att", "rms_ffn", "rms_final", "token_embedding", "wq", "wk",
                     "wv", "wo", "w1", "w2", "w3"]
            for k in order:
                f.write(w[k].astype("<f4").tobytes())
        if not case["shared"]:
            f.write(w["wcls"].astype("<f4").tobytes())
    m = hf_ref.read_llama2c(path)
    tokens = case_tokens(rng_for(case["name"] + ":tokens"), V)
    write_tokens(os.path.join(OUT, case["name"] + ".tokens.txt"), tokens)
    logits = hf_ref.llama2c_forward(m, tokens)
    write_npy(os.path.join(OUT, case["name"] + ".logits.npy"), logits)
    return m, tokens, logits


# ---------------------------------------------------------------------------

def folder_size(path):
    total = 0
    for root, _, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total


def clean():
    """Removes what an earlier run wrote (everything but README.md)."""
    import shutil
    os.makedirs(OUT, exist_ok=True)
    for entry in os.listdir(OUT):
        path = os.path.join(OUT, entry)
        if entry == "README.md":
            continue
        if os.path.isdir(path):
            shutil.rmtree(path)
        else:
            os.remove(path)


def main():
    clean()
    report = []
    sp_vocab, sp_scores = train_sentencepiece(300)
    sp_tok = sentencepiece_tokenizer_json(sp_vocab, sp_scores)

    for case in CASES:
        folder, config, stored, tokens, logits = write_hf_case(case)
        kind = case.get("tokenizer")
        prompt_ids = None
        if kind == "sentencepiece":
            assert config["vocab_size"] == len(sp_vocab)
            write_json(os.path.join(folder, "tokenizer.json"), sp_tok, sort_keys=False)
            write_json(os.path.join(folder, "tokenizer_config.json"), llama_tokenizer_config())
            write_json(os.path.join(folder, "special_tokens_map.json"), {
                "bos_token": {"content": "<s>", "lstrip": False, "normalized": False,
                              "rstrip": False, "single_word": False},
                "eos_token": {"content": "</s>", "lstrip": False, "normalized": False,
                              "rstrip": False, "single_word": False},
                "unk_token": {"content": "<unk>", "lstrip": False, "normalized": False,
                              "rstrip": False, "single_word": False}})
            prompt_ids = write_prompt(folder, sp_tok, LLAMA_PROMPT, config, stored)
        elif kind == "bytelevel":
            tok = bytelevel_tokenizer_json(config["vocab_size"])
            write_json(os.path.join(folder, "tokenizer.json"), tok, sort_keys=False)
            write_json(os.path.join(folder, "tokenizer_config.json"), gpt2_tokenizer_config())
            prompt_ids = write_prompt(folder, tok, GPT2_PROMPT, config, stored)
        cfg, W = section6_hf(config, stored)
        res = cross_check(case["name"], cfg, W, tokens, logits)
        if res is not None and prompt_ids is not None:
            got = run_ref(cfg, W, prompt_ids)
            want = hf_ref.hf_forward(config, stored, prompt_ids)
            d = np.max(np.abs(got - want))
            print(f"       prompt ({len(prompt_ids)} tokens): max diff {d:.2e}")
            if d > TOL * np.max(np.abs(want)):
                failures.append(case["name"] + " prompt")
        report.append((case["name"], case["config"]["architectures"][0], case["dtype"],
                       folder_size(folder), res))

    # llama2.c: the tokenizer of the Llama folder, as tokenizer.bin
    tok_path = os.path.join(OUT, "tokenizer.bin")
    write_llama2c_tokenizer(tok_path, sp_vocab, sp_scores)
    lv, ls, _ = hf_ref.read_llama2c_tokenizer(tok_path, len(sp_vocab))
    l2c_ids = hf_ref.llama2c_encode(lv, ls, LLAMA_PROMPT, bos=True)
    hf_ids = hf_ref.hf_encode(sp_tok, LLAMA_PROMPT)
    if l2c_ids != hf_ids:
        print(f"FAIL run.c encode {l2c_ids} != tokenizer.json encode {hf_ids}")
        failures.append("llama2c tokenizer")
    with open(os.path.join(OUT, "llama2c_prompt.txt"), "w", encoding="utf-8") as f:
        f.write(LLAMA_PROMPT)
    write_tokens(os.path.join(OUT, "llama2c_prompt_tokens.txt"), l2c_ids)
    for case in LLAMA2C:
        m, tokens, logits = write_llama2c(case)
        write_npy(os.path.join(OUT, case["name"] + ".prompt_logits.npy"),
                  hf_ref.llama2c_forward(m, l2c_ids))
        cfg, W = section6_llama2c(m)
        res = cross_check(case["name"], cfg, W, tokens, logits)
        size = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT)
                   if f.startswith(case["name"] + "."))
        report.append((case["name"], f"llama2.c v{case['version']}", "F32", size, res))

    with open(os.path.join(OUT, "INDEX"), "w") as f:
        for case in CASES:
            f.write(case["name"] + "\n")
        for case in LLAMA2C:
            f.write(case["name"] + "\n")

    print()
    for name, arch, dtype, size, res in report:
        d = "pending" if res is None else f"{res[0]:.1e}"
        s = "" if res is None or not res[1] else f"  smallest convention effect {min(res[1])[0]:.1e}"
        print(f"{name:14s} {arch:20s} {dtype:5s} {size / 1024:7.1f} KiB  |HF - ref| {d}{s}")
    total = folder_size(OUT)
    print(f"tests/checkpoints: {total / 1024:.1f} KiB")
    if total > 3 * 1024 * 1024:
        failures.append("size")
    if pending:
        print(f"pending (ref.py lacks a key): {', '.join(pending)}")
    if failures:
        print(f"FAILED: {', '.join(failures)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
