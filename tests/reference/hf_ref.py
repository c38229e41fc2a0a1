"""hf_ref.py: checkpoints of other software, run in that software's own conventions.

The expected logits of tests/checkpoints/ come from here.  Nothing in this file
knows MODEL_REFERENCE.md's section-3 names or ref.py: it reads the tensors under
the names the other software writes and follows that software's code.

  * hf_forward(config, tensors, ids): a Hugging Face checkpoint (config.json as a
    dict, {name: tensor} as stored) written the way transformers' modeling files
    are (torch, float64): LlamaRMSNorm / GemmaRMSNorm, rotate_half RoPE with
    inv_freq = 1 / theta^(arange(0, head_dim, 2) / head_dim), repeat_kv, the eager
    attention with its additive causal (and sliding-window) mask, Gemma's
    normalizer sqrt(hidden_size), Gemma 2's four norms, soft-caps and
    query_pre_attn_scalar, Qwen3's per-head q_norm/k_norm, GPT-2's Conv1D
    (x @ W + b), fused c_attn, learned wpe and tied lm_head.
  * llama2c_forward(model, ids): a llama2.c .bin (as parsed by read_llama2c) run the
    way run.c does: token by token with a KV cache, rmsnorm, RoPE on the pairs
    (x[2i], x[2i+1]) of each head, swiglu with w1/w3/w2.
  * Tokenizers: encode/decode of a Hugging Face tokenizer.json (the two kinds the
    fixtures use: GPT-2 byte-level BPE, and SentencePiece-style BPE with byte
    fallback) and run.c's bpe_encode over a llama2.c tokenizer.bin.

Everything is float64 (the checkpoints' F16/BF16 values are widened exactly).
Where transformers would round (RoPE tables in float32, Gemma's normalizer cast
to the weights' dtype, softmax in float32) this file keeps float64: it is the
convention, not one dtype's rounding, that the fixtures pin.
"""

import json
import math
import re
import struct

import numpy as np
import torch
import torch.nn.functional as F

DT = torch.float64

# tie_word_embeddings when config.json does not say: the config class's default.
TIE_DEFAULT = {"llama": False, "mistral": False, "qwen2": False, "qwen3": False,
               "gemma": True, "gemma2": True, "gpt2": True}


# ---------------------------------------------------------------------------
# safetensors and sharded folders, read as the hub writes them

ST_DTYPES = {"F32": (np.dtype("<f4"), 4), "F16": (np.dtype("<f2"), 2),
             "BF16": (np.dtype("<u2"), 2)}


def read_safetensors(path):
    """{name: float64 torch tensor}; BF16 widened by shifting the bits."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        np_dtype, size = ST_DTYPES[info["dtype"]]
        begin, end = info["data_offsets"]
        count = int(np.prod(info["shape"], dtype=np.int64))
        assert end - begin == count * size, name
        raw = np.frombuffer(data[begin:end], dtype=np_dtype)
        if info["dtype"] == "BF16":
            raw = (raw.astype(np.uint32) << 16).view("<f4")
        a = raw.astype(np.float64).reshape(info["shape"])
        out[name] = torch.from_numpy(a.copy())
    return out


def read_hf_folder(folder):
    """config dict and {name: tensor} from model.safetensors or its shards."""
    import os
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    index = os.path.join(folder, "model.safetensors.index.json")
    tensors = {}
    if os.path.exists(index):
        with open(index) as f:
            weight_map = json.load(f)["weight_map"]
        for shard in sorted(set(weight_map.values())):
            part = read_safetensors(os.path.join(folder, shard))
            for name in part:
                assert weight_map[name] == shard, name
            tensors.update(part)
        assert set(tensors) == set(weight_map)
    else:
        tensors = read_safetensors(os.path.join(folder, "model.safetensors"))
    return config, tensors


# ---------------------------------------------------------------------------
# Hugging Face: the Llama family (llama, mistral, qwen2, qwen3, gemma, gemma2)

def llama_rms_norm(x, weight, eps):
    # LlamaRMSNorm: weight * (x * rsqrt(mean(x^2) + eps))
    return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def gemma_rms_norm(x, weight, eps):
    # GemmaRMSNorm: (x * rsqrt(mean(x^2) + eps)) * (1 + weight)
    return (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)) * (1.0 + weight)


def gelu_new(x):
    # NewGELUActivation (GPT-2's "gelu_new")
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


ACT2FN = {
    "silu": F.silu,
    "swish": F.silu,
    "gelu": lambda x: F.gelu(x),                      # erf form
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_new": gelu_new,
    "relu": F.relu,
}


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def rotary_cos_sin(head_dim, theta, n_pos):
    # LlamaRotaryEmbedding (default rope_type), in float64
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).to(DT) / head_dim))
    position_ids = torch.arange(n_pos, dtype=DT)
    freqs = torch.outer(position_ids, inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def apply_rotary_pos_emb(q, k, cos, sin):
    # q, k: [heads, T, head_dim]; cos, sin: [T, head_dim]
    return (q * cos) + (rotate_half(q) * sin), (k * cos) + (rotate_half(k) * sin)


def repeat_kv(x, n_rep):
    # [kv_heads, T, hd] -> [kv_heads * n_rep, T, hd]: query head h reads kv head h // n_rep
    kv, T, hd = x.shape
    if n_rep == 1:
        return x
    return x[:, None, :, :].expand(kv, n_rep, T, hd).reshape(kv * n_rep, T, hd)


def linear(x, W, name, bias):
    # nn.Linear: x @ W^T + b; W is [out, in]
    y = x @ W[name + ".weight"].T
    if bias:
        y = y + W[name + ".bias"]
    return y


def additive_mask(T, sliding_window):
    """0 where query i may see key j (j <= i and, with a window w, i - j < w),
    the dtype's minimum elsewhere (transformers' eager mask)."""
    i = torch.arange(T)[:, None]
    j = torch.arange(T)[None, :]
    allowed = j <= i
    if sliding_window is not None:
        allowed = allowed & (j > i - sliding_window)
    return torch.where(allowed, torch.tensor(0.0, dtype=DT), torch.tensor(torch.finfo(DT).min, dtype=DT))


class Used(dict):
    """A tensor dict that remembers which names the forward read (so that a
    fixture holding a tensor the model never uses is caught)."""

    def __init__(self, tensors):
        super().__init__(tensors)
        self.read = set()

    def __getitem__(self, name):
        self.read.add(name)
        return dict.__getitem__(self, name)


def layer_sliding_window(config, mt, i):
    """The sliding window transformers applies to layer i, or None."""
    w = config.get("sliding_window")
    if w is None:
        return None
    if mt == "mistral":
        return w
    if mt in ("qwen2", "qwen3"):
        if config.get("use_sliding_window", False) and i >= config.get("max_window_layers", 0):
            return w
        return None
    if mt == "gemma2":
        return w if i % 2 == 0 else None      # even layers slide, odd layers are global
    raise ValueError(f"{mt}: unexpected sliding_window")


def decoder_forward(config, tensors, ids):
    mt = config["model_type"]
    W = Used(tensors)
    ids = torch.as_tensor(ids, dtype=torch.int64)
    T = len(ids)
    d = config["hidden_size"]
    nh = config["num_attention_heads"]
    nkv = config.get("num_key_value_heads") or nh
    hd = config.get("head_dim") or d // nh
    eps = config["rms_norm_eps"]
    gemma = mt in ("gemma", "gemma2")
    norm = (lambda x, n: gemma_rms_norm(x, W[n + ".weight"], eps)) if gemma else \
           (lambda x, n: llama_rms_norm(x, W[n + ".weight"], eps))
    if config.get("rope_scaling") is not None:
        raise ValueError("rope_scaling is not modelled here")
    theta = float(config.get("rope_theta", 10000.0))

    # which projections carry biases, as the modeling files build them
    attn_bias = config.get("attention_bias", False)
    qkv_bias, o_bias = attn_bias, attn_bias
    if mt == "qwen2":
        qkv_bias, o_bias = True, False
    if mt == "mistral":
        qkv_bias = o_bias = False
    mlp_bias = config.get("mlp_bias", False) if mt == "llama" else False
    if gemma:
        act = ACT2FN[config.get("hidden_activation") or "gelu_pytorch_tanh"]
    else:
        act = ACT2FN[config["hidden_act"]]
    scaling = (config["query_pre_attn_scalar"] ** -0.5) if mt == "gemma2" else hd ** -0.5
    attn_cap = config.get("attn_logit_softcapping") if mt == "gemma2" else None
    final_cap = config.get("final_logit_softcapping") if mt == "gemma2" else None

    h = W["model.embed_tokens.weight"][ids]
    if gemma:
        h = h * torch.tensor(d ** 0.5, dtype=h.dtype)       # the normalizer
    cos, sin = rotary_cos_sin(hd, theta, T)

    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        # --- self-attention
        residual = h
        x = norm(h, p + "input_layernorm")
        q = linear(x, W, p + "self_attn.q_proj", qkv_bias).view(T, nh, hd)
        k = linear(x, W, p + "self_attn.k_proj", qkv_bias).view(T, nkv, hd)
        v = linear(x, W, p + "self_attn.v_proj", qkv_bias).view(T, nkv, hd)
        if mt == "qwen3":                                    # per head, before RoPE
            q = llama_rms_norm(q, W[p + "self_attn.q_norm.weight"], eps)
            k = llama_rms_norm(k, W[p + "self_attn.k_norm.weight"], eps)
        q, k, v = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)   # [heads, T, hd]
        q, k = apply_rotary_pos_emb(q, k, cos, sin)
        k = repeat_kv(k, nh // nkv)
        v = repeat_kv(v, nh // nkv)
        attn = torch.matmul(q, k.transpose(1, 2)) * scaling
        if attn_cap is not None:
            attn = torch.tanh(attn / attn_cap) * attn_cap
        attn = attn + additive_mask(T, layer_sliding_window(config, mt, i))
        attn = torch.softmax(attn, dim=-1)
        o = torch.matmul(attn, v).transpose(0, 1).reshape(T, nh * hd)
        x = linear(o, W, p + "self_attn.o_proj", o_bias)
        if mt == "gemma2":
            x = norm(x, p + "post_attention_layernorm")
        h = residual + x
        # --- MLP
        residual = h
        if mt == "gemma2":
            x = norm(h, p + "pre_feedforward_layernorm")
        else:
            x = norm(h, p + "post_attention_layernorm")
        x = linear(act(linear(x, W, p + "mlp.gate_proj", mlp_bias)) * linear(x, W, p + "mlp.up_proj", mlp_bias),
                   W, p + "mlp.down_proj", mlp_bias)
        if mt == "gemma2":
            x = norm(x, p + "post_feedforward_layernorm")
        h = residual + x

    h = norm(h, "model.norm")
    tied = config.get("tie_word_embeddings", TIE_DEFAULT[mt])
    lm_head = W["model.embed_tokens.weight"] if tied else W["lm_head.weight"]
    logits = h @ lm_head.T
    if final_cap is not None:
        logits = torch.tanh(logits / final_cap) * final_cap
    return logits, W.read


# ---------------------------------------------------------------------------
# Hugging Face: GPT-2

def conv1d(x, W, name):
    # transformers' Conv1D: weight [in, out]; addmm(bias, x, weight)
    return torch.addmm(W[name + ".bias"], x, W[name + ".weight"])


def gpt2_forward(config, tensors, ids):
    W = Used(tensors)
    pre = "transformer." if "transformer.wte.weight" in tensors else ""
    ids = torch.as_tensor(ids, dtype=torch.int64)
    T = len(ids)
    d = config["n_embd"]
    nh = config["n_head"]
    hd = d // nh
    eps = config.get("layer_norm_epsilon", 1e-5)
    act = ACT2FN[config.get("activation_function", "gelu_new")]
    if config.get("reorder_and_upcast_attn", False):
        pass  # a dtype matter only; same math in float64
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    h = W[pre + "wte.weight"][ids] + W[pre + "wpe.weight"][torch.arange(T)]
    for i in range(config["n_layer"]):
        p = f"{pre}h.{i}."
        residual = h
        x = F.layer_norm(h, (d,), W[p + "ln_1.weight"], W[p + "ln_1.bias"], eps)
        query, key, value = conv1d(x, W, p + "attn.c_attn").split(d, dim=-1)
        query, key, value = (t.view(T, nh, hd).transpose(0, 1) for t in (query, key, value))
        attn = torch.matmul(query, key.transpose(-1, -2))
        if config.get("scale_attn_weights", True):
            attn = attn / torch.full([], value.size(-1) ** 0.5, dtype=DT)
        if config.get("scale_attn_by_inverse_layer_idx", False):
            attn = attn / float(i + 1)
        attn = torch.where(causal, attn, torch.tensor(torch.finfo(DT).min, dtype=DT))
        attn = torch.softmax(attn, dim=-1)
        o = torch.matmul(attn, value).transpose(0, 1).reshape(T, d)
        h = residual + conv1d(o, W, p + "attn.c_proj")
        residual = h
        x = F.layer_norm(h, (d,), W[p + "ln_2.weight"], W[p + "ln_2.bias"], eps)
        x = conv1d(act(conv1d(x, W, p + "mlp.c_fc")), W, p + "mlp.c_proj")
        h = residual + x
    h = F.layer_norm(h, (d,), W[pre + "ln_f.weight"], W[pre + "ln_f.bias"], eps)
    logits = h @ W[pre + "wte.weight"].T                      # lm_head tied to wte
    # the causal-mask buffers the hub's files carry are not weights
    buffers = {n for n in tensors if n.endswith(".attn.bias") or n.endswith(".attn.masked_bias")}
    return logits, W.read | buffers


def hf_forward(config, tensors, ids):
    """Logits [T, vocab] (numpy float64): row t after ids[0..t].  Fails if the
    checkpoint holds a tensor the model does not read."""
    with torch.no_grad():
        if config["model_type"] == "gpt2":
            logits, read = gpt2_forward(config, tensors, ids)
        else:
            logits, read = decoder_forward(config, tensors, ids)
    unused = set(tensors) - read
    if unused:
        raise ValueError(f"tensors the model does not use: {sorted(unused)}")
    return logits.numpy()


# ---------------------------------------------------------------------------
# llama2.c

def read_llama2c(path):
    """Parses a version-0 or version-1 .bin into a dict of float64 arrays."""
    with open(path, "rb") as f:
        blob = f.read()
    (magic,) = struct.unpack_from("<I", blob, 0)
    if magic == 0x616B3432:
        version, = struct.unpack_from("<i", blob, 4)
        assert version == 1
        dim, hidden, L, nh, nkv, vocab, seq = struct.unpack_from("<7i", blob, 8)
        shared = blob[36] != 0
        assert all(b == 0 for b in blob[37:256])
        off = 256
    else:
        version = 0
        dim, hidden, L, nh, nkv, vocab, seq = struct.unpack_from("<7i", blob, 0)
        shared = vocab > 0
        vocab = abs(vocab)
        off = 28
    hs = dim // nh
    kv_dim = nkv * hs
    floats = np.frombuffer(blob, dtype="<f4", offset=off).astype(np.float64)
    pos = [0]

    def take(*shape):
        n = int(np.prod(shape))
        a = floats[pos[0]:pos[0] + n].reshape(shape)
        pos[0] += n
        return a

    m = dict(version=version, dim=dim, hidden_dim=hidden, n_layers=L, n_heads=nh,
             n_kv_heads=nkv, vocab_size=vocab, seq_len=seq, shared=shared)
    if version == 0:
        m["token_embedding"] = take(vocab, dim)
        m["rms_att"] = take(L, dim)
        m["wq"] = take(L, dim, dim)
        m["wk"] = take(L, kv_dim, dim)
        m["wv"] = take(L, kv_dim, dim)
        m["wo"] = take(L, dim, dim)
        m["rms_ffn"] = take(L, dim)
        m["w1"] = take(L, hidden, dim)
        m["w2"] = take(L, dim, hidden)
        m["w3"] = take(L, hidden, dim)
        m["rms_final"] = take(dim)
        m["freq_cis_real"] = take(seq, hs // 2)
        m["freq_cis_imag"] = take(seq, hs // 2)
    else:
        m["rms_att"] = take(L, dim)
        m["rms_ffn"] = take(L, dim)
        m["rms_final"] = take(dim)
        m["token_embedding"] = take(vocab, dim)
        m["wq"] = take(L, dim, dim)
        m["wk"] = take(L, kv_dim, dim)
        m["wv"] = take(L, kv_dim, dim)
        m["wo"] = take(L, dim, dim)
        m["w1"] = take(L, hidden, dim)
        m["w2"] = take(L, dim, hidden)
        m["w3"] = take(L, hidden, dim)
    m["wcls"] = m["token_embedding"] if shared else take(vocab, dim)
    if pos[0] != len(floats):
        raise ValueError(f"{path}: {len(floats) - pos[0]} floats left over")
    return m


def llama2c_forward(m, ids):
    """run.c's forward, one token at a time with a KV cache, in float64."""
    dim, hidden, nh, nkv = m["dim"], m["hidden_dim"], m["n_heads"], m["n_kv_heads"]
    hs = dim // nh
    kv_dim = nkv * hs
    kv_mul = nh // nkv
    L = m["n_layers"]

    def rmsnorm(x, w):
        ss = np.dot(x, x) / len(x) + 1e-5
        return w * (x / math.sqrt(ss))

    key_cache = np.zeros((L, len(ids), kv_dim))
    value_cache = np.zeros((L, len(ids), kv_dim))
    out = []
    for pos, token in enumerate(ids):
        x = m["token_embedding"][token].copy()
        for l in range(L):
            xb = rmsnorm(x, m["rms_att"][l])
            q = m["wq"][l] @ xb
            k = m["wk"][l] @ xb
            v = m["wv"][l] @ xb
            # RoPE: rotate each pair (i, i+1) with the head-relative frequency
            for i in range(0, dim, 2):
                head_dim = i % hs
                freq = 1.0 / 10000.0 ** (head_dim / hs)
                val = pos * freq
                fcr, fci = math.cos(val), math.sin(val)
                vecs = (q, k) if i < kv_dim else (q,)
                for vec in vecs:
                    v0, v1 = vec[i], vec[i + 1]
                    vec[i] = v0 * fcr - v1 * fci
                    vec[i + 1] = v0 * fci + v1 * fcr
            key_cache[l, pos] = k
            value_cache[l, pos] = v
            xb = np.zeros(dim)
            for h in range(nh):
                qh = q[h * hs:(h + 1) * hs]
                g = h // kv_mul
                att = np.array([np.dot(qh, key_cache[l, t, g * hs:(g + 1) * hs]) / math.sqrt(hs)
                                for t in range(pos + 1)])
                att = np.exp(att - att.max())
                att /= att.sum()
                for t in range(pos + 1):
                    xb[h * hs:(h + 1) * hs] += att[t] * value_cache[l, t, g * hs:(g + 1) * hs]
            x = x + m["wo"][l] @ xb
            xb = rmsnorm(x, m["rms_ffn"][l])
            hb = m["w1"][l] @ xb
            hb2 = m["w3"][l] @ xb
            hb = hb * (1.0 / (1.0 + np.exp(-hb)))
            x = x + m["w2"][l] @ (hb * hb2)
        x = rmsnorm(x, m["rms_final"])
        out.append(m["wcls"] @ x)
    return np.array(out)


# ---------------------------------------------------------------------------
# Tokenizers

def bytes_to_unicode():
    """GPT-2's table: printable bytes map to themselves, the rest to 256 + n."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


# GPT-2's pre-tokenizer pattern; \p{L} as [^\W\d_] and \p{N} as \d (exact for the
# ASCII and Latin-1 letters the fixtures use).
GPT2_SPLIT = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+""")


def bpe_merge(symbols, ranks):
    """transformers/tokenizers BPE: repeatedly merge the adjacent pair of lowest
    merge rank (all its occurrences, left to right) until none is left."""
    word = list(symbols)
    while len(word) > 1:
        pairs = {(word[i], word[i + 1]) for i in range(len(word) - 1)}
        best = min(pairs, key=lambda pr: ranks.get(pr, math.inf))
        if best not in ranks:
            break
        merged, i = [], 0
        while i < len(word):
            if i < len(word) - 1 and (word[i], word[i + 1]) == best:
                merged.append(word[i] + word[i + 1])
                i += 2
            else:
                merged.append(word[i])
                i += 1
        word = merged
    return word


def parse_merges(merges):
    out = []
    for m in merges:
        a, b = m.split(" ") if isinstance(m, str) else m
        out.append((a, b))
    return {pr: r for r, pr in enumerate(out)}


def _split_added(text, added):
    """Splits text on the added tokens' contents (longest first)."""
    if not added:
        return [(text, None)]
    pat = re.compile("|".join(re.escape(a) for a in sorted(added, key=len, reverse=True)))
    out, pos = [], 0
    for m in pat.finditer(text):
        if m.start() > pos:
            out.append((text[pos:m.start()], None))
        out.append((m.group(0), added[m.group(0)]))
        pos = m.end()
    if pos < len(text):
        out.append((text[pos:], None))
    return out


def hf_encode(tok, text):
    """Encodes text with a tokenizer.json (dict) of the two kinds the fixtures
    use, including its post-processor's special tokens."""
    model = tok["model"]
    assert model["type"] == "BPE"
    vocab = model["vocab"]
    ranks = parse_merges(model["merges"])
    added = {a["content"]: a["id"] for a in tok["added_tokens"]}
    ids = []
    for piece, special in _split_added(text, added):
        if special is not None:
            ids.append(special)
            continue
        ids += _encode_plain(tok, piece, vocab, ranks)
    post = tok.get("post_processor")
    if post and post["type"] == "TemplateProcessing":
        out = []
        for item in post["single"]:
            if "SpecialToken" in item:
                out += post["special_tokens"][item["SpecialToken"]["id"]]["ids"]
            else:
                out += ids
        ids = out
    return ids


def _encode_plain(tok, text, vocab, ranks):
    norm = tok.get("normalizer")
    if norm is not None:
        steps = norm["normalizers"] if norm["type"] == "Sequence" else [norm]
        for s in steps:
            if s["type"] == "Prepend":
                text = s["prepend"] + text if text else text
            elif s["type"] == "Replace":
                text = text.replace(s["pattern"]["String"], s["content"])
            else:
                raise ValueError(s["type"])
    pre = tok.get("pre_tokenizer")
    if pre is None:
        words = [list(text)]
    elif pre["type"] == "ByteLevel":
        assert not pre["add_prefix_space"] and pre["use_regex"]
        b2u = bytes_to_unicode()
        words = [[b2u[b] for b in w.encode("utf-8")] for w in GPT2_SPLIT.findall(text)]
    else:
        raise ValueError(pre["type"])
    ids = []
    for symbols in words:
        # characters outside the vocabulary: byte fallback, else unk
        init = []
        for c in symbols:
            if c in vocab:
                init.append(c)
            elif tok["model"].get("byte_fallback"):
                init += [f"<0x{b:02X}>" for b in c.encode("utf-8")]
            else:
                init.append(tok["model"]["unk_token"])
        ids += [vocab[s] for s in bpe_merge(init, ranks)]
    return ids


def hf_decode(tok, ids, skip_special=True):
    inv = {i: s for s, i in tok["model"]["vocab"].items()}
    specials = {a["id"]: a["content"] for a in tok["added_tokens"]}
    pieces = []
    for i in ids:
        if i in specials:
            if not skip_special:
                pieces.append(specials[i])
            continue
        pieces.append(inv[i])
    dec = tok["decoder"]
    if dec["type"] == "ByteLevel":
        u2b = {u: b for b, u in bytes_to_unicode().items()}
        return bytes(u2b[c] for c in "".join(pieces)).decode("utf-8", errors="replace")
    assert dec["type"] == "Sequence"
    for step in dec["decoders"]:
        t = step["type"]
        if t == "Replace":
            pieces = [p.replace(step["pattern"]["String"], step["content"]) for p in pieces]
        elif t == "ByteFallback":
            out, pending = [], b""
            for p in pieces:
                m = re.fullmatch(r"<0x([0-9A-F]{2})>", p)
                if m:
                    pending += bytes([int(m.group(1), 16)])
                    continue
                if pending:
                    out.append(pending.decode("utf-8", errors="replace"))
                    pending = b""
                out.append(p)
            if pending:
                out.append(pending.decode("utf-8", errors="replace"))
            pieces = out
        elif t == "Fuse":
            pieces = ["".join(pieces)]
        elif t == "Strip":
            s = "".join(pieces)
            for _ in range(step["start"]):
                if s.startswith(step["content"]):
                    s = s[len(step["content"]):]
            pieces = [s]
        else:
            raise ValueError(t)
    return "".join(pieces)


def read_llama2c_tokenizer(path, vocab_size):
    with open(path, "rb") as f:
        blob = f.read()
    (max_len,) = struct.unpack_from("<i", blob, 0)
    off, vocab, scores = 4, [], []
    for _ in range(vocab_size):
        score, n = struct.unpack_from("<fi", blob, off)
        off += 8
        vocab.append(blob[off:off + n])
        scores.append(score)
        off += n
    assert off == len(blob) and max_len == max(len(v) for v in vocab)
    return vocab, scores, max_len


def llama2c_encode(vocab, scores, text, bos=True, eos=False):
    """run.c's encode(): dummy prefix " ", UTF-8 code points looked up whole,
    byte fallback to id byte + 3, then merge the best-scoring pair until none."""
    lookup = {}
    for i, v in enumerate(vocab):
        lookup.setdefault(v, i)
    tokens = [1] if bos else []
    if text:
        tokens.append(lookup[b" "])
    for c in text:
        b = c.encode("utf-8")
        if b in lookup:
            tokens.append(lookup[b])
        else:
            tokens += [x + 3 for x in b]
    while True:
        best_score, best_id, best_idx = -1e10, -1, -1
        for i in range(len(tokens) - 1):
            j = lookup.get(vocab[tokens[i]] + vocab[tokens[i + 1]], -1)
            if j != -1 and scores[j] > best_score:
                best_score, best_id, best_idx = scores[j], j, i
        if best_idx == -1:
            break
        tokens[best_idx:best_idx + 2] = [best_id]
    if eos:
        tokens.append(2)
    return tokens
