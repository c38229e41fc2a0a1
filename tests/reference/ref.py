"""ref.py: an independent plain-NumPy reference of the tfmc forward pass.

This is /work/shared/MODEL_REFERENCE.md in executable form: section 1 (keys and
defaults) is KEYS and resolve_defaults, section 2 (the forward pass) is
forward() and the small functions it calls, section 3 (tensor names and
shapes) is tensor_list(), section 4 (weight files) is read/write_safetensors.
It shares no code with the C implementation and uses nothing but NumPy and the
standard library.  Everything is computed in float64.

Readings of the page where it leaves room (each is pinned by the golden files):
  * head_dim default "d_model / n_head" is exact division: a spec whose d_model
    is not divisible by n_head must give head_dim explicitly (else an error).
  * The sine table for an odd d_model: element j uses exponent (j - j % 2) /
    d_model, sin for even j and cos for odd j; the golden cases only use even
    d_model, so this is not pinned.
  * softcap ("c * tanh(s / c)") on attention scores is applied to the scaled
    score s_t, i.e. after dividing by sqrt(head_dim) and before the causal mask
    and softmax, exactly as the page orders it.
  * qk_norm: the layernorm variant of q_norm/k_norm has a bias ([head_dim]);
    both use norm_eps.
  * In a parallel block N_a is the only pre/post norm (no ffn_norm tensor);
    with norm_place = double its outputs go through P_a (attention_post_norm)
    and P_f (ffn_post_norm).
  * Post-norm models (serial or parallel) have no final norm and no norm.weight.
  * qkv_bias governs the biases of wq, wk and wv alone; bias those of wo,
    w_gate, w_up and w_down (section 3's last sentence).  So Qwen2's
    qkv_bias = true, bias = false has no bias on wo, and bias = true,
    qkv_bias = false has biases everywhere but q, k and v.  qkv_bias left out
    takes the value of bias as resolved.
"""

import json
import math
import re
import struct

import numpy as np

# ---------------------------------------------------------------------------
# Section 1: keys, types and defaults.  None = required; "derived" defaults are
# filled by resolve_defaults.  The order is the page's order and is the order
# in which format_spec writes them.

KEYS = [
    ("vocab", "int", None),
    ("d_model", "int", None),
    ("n_layer", "int", None),
    ("n_head", "int", None),
    ("n_kv_head", "int", "derived"),
    ("head_dim", "int", "derived"),
    ("d_ff", "int", "derived"),
    ("ffn_multiple_of", "int", 256),
    ("max_seq", "int", None),
    ("norm", ("rmsnorm", "layernorm"), "rmsnorm"),
    ("norm_eps", "float", 1e-5),
    ("norm_place", ("pre", "post", "double"), "pre"),
    ("activation", ("relu", "gelu", "geglu", "swiglu"), "swiglu"),
    ("gelu", ("tanh", "erf"), "tanh"),
    ("block", ("serial", "parallel"), "serial"),
    ("position", ("rope", "sine", "learned", "none"), "rope"),
    ("rope_theta", "float", 10000.0),
    ("rope_style", ("half", "interleaved"), "half"),
    ("bias", "bool", False),
    ("qkv_bias", "bool", "derived"),
    ("tie_embeddings", "bool", False),
    ("embed_scale", ("none", "sqrt"), "none"),
    ("qk_norm", "bool", False),
    ("attn_softcap", "float", 0.0),
    ("logit_softcap", "float", 0.0),
    ("z_loss", "float", 0.0),
    ("dropout", "float", 0.0),
    ("weight_decay", "float", 0.1),
]
KEY_TYPES = {name: typ for name, typ, _ in KEYS}


def is_glu(cfg):
    return cfg["activation"] in ("geglu", "swiglu")


def convert_value(key, text):
    """A literal of the spec, converted by the type of its key."""
    typ = KEY_TYPES[key]
    if typ == "int":
        if not re.fullmatch(r"[0-9]+", text):
            raise ValueError(f"{key}: expected an integer, got {text!r}")
        return int(text)
    if typ == "float":
        return float(text)
    if typ == "bool":
        if text not in ("true", "false"):
            raise ValueError(f"{key}: expected true or false, got {text!r}")
        return text == "true"
    if text not in typ:
        raise ValueError(f"{key}: expected one of {'|'.join(typ)}, got {text!r}")
    return text


def resolve_defaults(cfg):
    """Fills every absent key with its section-1 default, in dependency order."""
    for key, _, default in KEYS:
        if default is None and key not in cfg:
            raise ValueError(f"missing required key {key}")
        if default not in (None, "derived"):
            cfg.setdefault(key, default)
    cfg.setdefault("n_kv_head", cfg["n_head"])
    cfg.setdefault("qkv_bias", cfg["bias"])  # "the value of bias"
    if "head_dim" not in cfg:
        # head_dim = d_model / n_head (read as exact division).
        if cfg["d_model"] % cfg["n_head"]:
            raise ValueError("d_model is not divisible by n_head: give head_dim")
        cfg["head_dim"] = cfg["d_model"] // cfg["n_head"]
    if "d_ff" not in cfg:
        cfg["d_ff"] = default_d_ff(cfg)
    check_config(cfg)
    return cfg


def default_d_ff(cfg):
    """4*d_model; GLU: ffn_multiple_of * ceil(8*d_model / (3*ffn_multiple_of))."""
    if not is_glu(cfg):
        return 4 * cfg["d_model"]
    m = cfg["ffn_multiple_of"]
    return m * -(-(8 * cfg["d_model"]) // (3 * m))  # exact integer ceil


def check_config(cfg):
    if cfg["n_head"] % cfg["n_kv_head"]:
        raise ValueError("n_head must be a multiple of n_kv_head")
    if cfg["position"] == "rope" and cfg["head_dim"] % 2:
        raise ValueError("RoPE needs an even head_dim")


def parse_spec_text(text):
    """Parses `model NAME { key = value ... }` (one key per line, # comments)."""
    lines = [ln.split("#", 1)[0].strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln]
    head = re.fullmatch(r"model\s+([A-Za-z_][A-Za-z0-9_]*)\s*\{", lines[0])
    if not head or lines[-1] != "}":
        raise ValueError("expected `model NAME {` ... `}`")
    cfg = {}
    for ln in lines[1:-1]:
        m = re.fullmatch(r"([a-z_]+)\s*=\s*(\S+)", ln)
        if not m or m.group(1) not in KEY_TYPES:
            raise ValueError(f"bad line {ln!r}")
        if m.group(1) in cfg:
            raise ValueError(f"duplicate key {m.group(1)}")
        cfg[m.group(1)] = convert_value(m.group(1), m.group(2))
    cfg = resolve_defaults(cfg)
    cfg["name"] = head.group(1)
    return cfg


def parse_spec(path):
    with open(path) as f:
        return parse_spec_text(f.read())


def format_literal(value):
    """A plain literal: true/false, an int, a float always with '.' or 'e'."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        s = repr(value)  # shortest round-trip form: '1e-05', '10000.0'
        if "e" in s:
            mant, exp = s.split("e")
            s = f"{mant}e{int(exp)}"  # '1e-5', not '1e-05'
        return s
    return value


def format_spec(cfg, comment=""):
    """The spec with every key written explicitly, in section-1 order."""
    out = [f"# {ln}" for ln in comment.splitlines()]
    out.append(f"model {cfg['name']} {{")
    width = max(len(k) for k, _, _ in KEYS)
    for key, typ, _ in KEYS:
        value = cfg[key]
        if typ == "float":
            value = float(value)
        out.append(f"    {key:<{width}} = {format_literal(value)}")
    out.append("}")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------
# Section 3: tensors, in the page's order.

def norm_tensors(cfg, prefix, width):
    out = [(f"{prefix}.weight", (width,))]
    if cfg["norm"] == "layernorm":
        out.append((f"{prefix}.bias", (width,)))
    return out


def has_bias(cfg, prefix):
    """Section 3: wq, wk, wv have a bias when qkv_bias; every other linear
    (wo, w_gate, w_up, w_down) when bias."""
    if prefix.rsplit(".", 1)[-1] in ("wq", "wk", "wv"):
        return cfg["qkv_bias"]
    return cfg["bias"]


def linear_tensors(cfg, prefix, n_out, n_in):
    out = [(f"{prefix}.weight", (n_out, n_in))]
    if has_bias(cfg, prefix):
        out.append((f"{prefix}.bias", (n_out,)))
    return out


def layer_tensors(cfg, i):
    d, hd, ff = cfg["d_model"], cfg["head_dim"], cfg["d_ff"]
    q_width, kv_width = cfg["n_head"] * hd, cfg["n_kv_head"] * hd
    p = f"layers.{i}."
    double = cfg["norm_place"] == "double"
    out = norm_tensors(cfg, p + "attention_norm", d)
    if double:
        out += norm_tensors(cfg, p + "attention_post_norm", d)
    if cfg["block"] == "serial":
        out += norm_tensors(cfg, p + "ffn_norm", d)
    if double:
        out += norm_tensors(cfg, p + "ffn_post_norm", d)
    out += linear_tensors(cfg, p + "attention.wq", q_width, d)
    out += linear_tensors(cfg, p + "attention.wk", kv_width, d)
    out += linear_tensors(cfg, p + "attention.wv", kv_width, d)
    out += linear_tensors(cfg, p + "attention.wo", d, q_width)
    if cfg["qk_norm"]:
        out += norm_tensors(cfg, p + "attention.q_norm", hd)
        out += norm_tensors(cfg, p + "attention.k_norm", hd)
    if is_glu(cfg):
        out += linear_tensors(cfg, p + "feed_forward.w_gate", ff, d)
    out += linear_tensors(cfg, p + "feed_forward.w_up", ff, d)
    out += linear_tensors(cfg, p + "feed_forward.w_down", d, ff)
    return out


def tensor_list(cfg):
    """Ordered [(name, shape)] of every tensor the model uses (section 3)."""
    d = cfg["d_model"]
    out = [("tok_embeddings.weight", (cfg["vocab"], d))]
    if cfg["position"] == "learned":
        out.append(("pos_embeddings.weight", (cfg["max_seq"], d)))
    for i in range(cfg["n_layer"]):
        out += layer_tensors(cfg, i)
    if cfg["norm_place"] != "post":
        out += norm_tensors(cfg, "norm", d)
    if not cfg["tie_embeddings"]:
        out.append(("output.weight", (cfg["vocab"], d)))
    return out


def init_weights(cfg, seed):
    """Random weights: matrices and embeddings N(0, 0.2^2); norm weights
    1 + 0.1*N(0,1); norm and linear biases 0.1*N(0,1)."""
    rng = np.random.default_rng(seed)
    weights = {}
    for name, shape in tensor_list(cfg):
        z = rng.standard_normal(shape)
        if name.endswith("norm.weight"):
            w = 1.0 + 0.1 * z
        elif name.endswith(".bias"):
            w = 0.1 * z
        else:
            w = 0.2 * z
        weights[name] = w.astype(np.float32)
    return weights


# ---------------------------------------------------------------------------
# Section 2: the forward pass.  Activations are [T, width] (one row per token);
# attention heads are [T, heads, head_dim].

def rmsnorm(x, w, eps):
    # rmsnorm(x) = x / sqrt(mean(x^2) + eps) * w
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def layernorm(x, w, b, eps):
    # layernorm(x) = (x - mean(x)) / sqrt(var(x) + eps) * w + b   (biased var)
    mu = np.mean(x, axis=-1, keepdims=True)
    var = np.mean((x - mu) ** 2, axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def apply_norm(cfg, W, prefix, x):
    """The norm of type `norm` whose tensors are prefix.weight (and .bias)."""
    if cfg["norm"] == "rmsnorm":
        return rmsnorm(x, W[prefix + ".weight"], cfg["norm_eps"])
    return layernorm(x, W[prefix + ".weight"], W[prefix + ".bias"], cfg["norm_eps"])


def linear(cfg, W, prefix, x):
    # y = W x (+ b); W is [out, in] (nn.Linear layout), x rows are tokens.
    y = x @ W[prefix + ".weight"].T
    if has_bias(cfg, prefix):
        y = y + W[prefix + ".bias"]
    return y


def softcap(s, c):
    # c * tanh(s / c), off when c = 0
    return c * np.tanh(s / c) if c > 0 else s


def sine_table(n_pos, d_model):
    # S(pos)[2i] = sin(pos / 10000^(2i/d_model)), S(pos)[2i+1] = cos(same)
    pos = np.arange(n_pos, dtype=np.float64)[:, None]
    j = np.arange(d_model)
    angle = pos / 10000.0 ** ((j - j % 2) / d_model)
    return np.where(j % 2 == 0, np.sin(angle), np.cos(angle))


def embed(cfg, W, tokens):
    h = W["tok_embeddings.weight"][tokens]  # h = E[token]
    if cfg["embed_scale"] == "sqrt":
        h = h * math.sqrt(cfg["d_model"])
    if cfg["position"] == "learned":
        h = h + W["pos_embeddings.weight"][: len(tokens)]  # h + P[pos]
    elif cfg["position"] == "sine":
        h = h + sine_table(len(tokens), cfg["d_model"])
    return h


def rope_angles(n_pos, head_dim, theta):
    # f_i = theta^(-2i/head_dim), a = pos * f_i, for i in 0 .. head_dim/2 - 1
    i = np.arange(head_dim // 2)
    f = theta ** (-2.0 * i / head_dim)
    return np.arange(n_pos, dtype=np.float64)[:, None] * f[None, :]  # [T, hd/2]


def rope(x, theta, style):
    """Rotates every head of x [T, heads, hd]: (u, w) -> (u cos a - w sin a,
    u sin a + w cos a); half pairs (x[i], x[i+hd/2]), interleaved (x[2i], x[2i+1])."""
    T, _, hd = x.shape
    a = rope_angles(T, hd, theta)[:, None, :]  # broadcast over heads
    cos, sin = np.cos(a), np.sin(a)
    if style == "half":
        u, w = x[..., : hd // 2], x[..., hd // 2 :]
    else:
        u, w = x[..., 0::2], x[..., 1::2]
    ru, rw = u * cos - w * sin, u * sin + w * cos
    out = np.empty_like(x)
    if style == "half":
        out[..., : hd // 2], out[..., hd // 2 :] = ru, rw
    else:
        out[..., 0::2], out[..., 1::2] = ru, rw
    return out


def heads(x, n, hd):
    return x.reshape(x.shape[0], n, hd)


def attention(cfg, W, i, x, kv_f16=False):
    """Causal self-attention over all rows of x (row t sees rows 0..t); with
    kv_f16, the keys and values as a cache of halves holds them (their f32
    values rounded to nearest even)."""
    p = f"layers.{i}.attention."
    T = x.shape[0]
    nh, nkv, hd = cfg["n_head"], cfg["n_kv_head"], cfg["head_dim"]
    q = heads(linear(cfg, W, p + "wq", x), nh, hd)
    k = heads(linear(cfg, W, p + "wk", x), nkv, hd)
    v = heads(linear(cfg, W, p + "wv", x), nkv, hd)
    if cfg["qk_norm"]:  # after the bias, before RoPE, shared by all heads
        q = apply_norm(cfg, W, p + "q_norm", q)
        k = apply_norm(cfg, W, p + "k_norm", k)
    if cfg["position"] == "rope":
        q = rope(q, cfg["rope_theta"], cfg["rope_style"])
        k = rope(k, cfg["rope_theta"], cfg["rope_style"])
    if kv_f16:
        k = k.astype(np.float32).astype(np.float16).astype(np.float64)
        v = v.astype(np.float32).astype(np.float16).astype(np.float64)
    future = np.triu(np.ones((T, T), dtype=bool), k=1)
    o = np.empty((T, nh, hd))
    for h in range(nh):
        g = h // (nh // nkv)  # g(h) = floor(h / (n_head / n_kv_head))
        s = q[:, h, :] @ k[:, g, :].T / math.sqrt(hd)  # s[pos, t]
        s = softcap(s, cfg["attn_softcap"])
        s = np.where(future, -np.inf, s)
        e = np.exp(s - s.max(axis=-1, keepdims=True))
        o[:, h, :] = (e / e.sum(axis=-1, keepdims=True)) @ v[:, g, :]
    return linear(cfg, W, p + "wo", o.reshape(T, nh * hd))


def gelu(x, form):
    if form == "tanh":
        # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))
    # 0.5 x (1 + erf(x / sqrt(2)))
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def silu(x):
    return x / (1.0 + np.exp(-x))  # x * sigmoid(x)


def feed_forward(cfg, W, i, x):
    p = f"layers.{i}.feed_forward."
    act = cfg["activation"]
    up = linear(cfg, W, p + "w_up", x)
    if act == "relu":
        hidden = np.maximum(up, 0.0)
    elif act == "gelu":
        hidden = gelu(up, cfg["gelu"])
    elif act == "swiglu":
        hidden = silu(linear(cfg, W, p + "w_gate", x)) * up
    else:  # geglu
        hidden = gelu(linear(cfg, W, p + "w_gate", x), cfg["gelu"]) * up
    return linear(cfg, W, p + "w_down", hidden)


def layer(cfg, W, i, h, kv_f16=False):
    """One block, by `block` and `norm_place` (the table of section 2)."""
    p = f"layers.{i}."
    N_a = lambda x: apply_norm(cfg, W, p + "attention_norm", x)
    N_f = lambda x: apply_norm(cfg, W, p + "ffn_norm", x)
    P_a = lambda x: apply_norm(cfg, W, p + "attention_post_norm", x)
    P_f = lambda x: apply_norm(cfg, W, p + "ffn_post_norm", x)
    Attn = lambda x: attention(cfg, W, i, x, kv_f16)
    FFN = lambda x: feed_forward(cfg, W, i, x)
    place = cfg["norm_place"]
    if cfg["block"] == "serial":
        if place == "pre":
            h = h + Attn(N_a(h))
            return h + FFN(N_f(h))
        if place == "post":
            h = N_a(h + Attn(h))
            return N_f(h + FFN(h))
        h = h + P_a(Attn(N_a(h)))  # double
        return h + P_f(FFN(N_f(h)))
    if place == "pre":  # parallel: one norm N_a shared by both branches
        n = N_a(h)
        return h + Attn(n) + FFN(n)
    if place == "post":
        return N_a(h + Attn(h) + FFN(h))
    n = N_a(h)  # double
    return h + P_a(Attn(n)) + P_f(FFN(n))


def forward(cfg, weights, tokens, kv_f16=False):
    """Logits [len(tokens), vocab]: row t after tokens 0..t, token t at position t
    (kv_f16: with a KV cache of halves, as `--kv-dtype f16` runs it)."""
    tokens = np.asarray(tokens, dtype=np.int64)
    if len(tokens) > cfg["max_seq"] or tokens.min() < 0 or tokens.max() >= cfg["vocab"]:
        raise ValueError("tokens out of range")
    W = {name: np.asarray(w, dtype=np.float64) for name, w in weights.items()}
    h = embed(cfg, W, tokens)
    for i in range(cfg["n_layer"]):
        h = layer(cfg, W, i, h, kv_f16)
    if cfg["norm_place"] != "post":  # post-norm models have no final norm
        h = apply_norm(cfg, W, "norm", h)
    W_out = W["tok_embeddings.weight" if cfg["tie_embeddings"] else "output.weight"]
    logits = h @ W_out.T
    return softcap(logits, cfg["logit_softcap"])


# ---------------------------------------------------------------------------
# Section 4: safetensors (8-byte LE header length, JSON header, raw LE data).

ST_ALIGN = 8  # data starts at a multiple of 8 (header padded with spaces)


def f32_to_bf16_bits(x):
    """Round-to-nearest-even of the f32 bits to the upper 16 (finite values)."""
    bits = np.ascontiguousarray(x, dtype="<f4").view("<u4").astype(np.uint64)
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return bits.astype("<u2")


def bf16_bits_to_f32(bits):
    return (np.asarray(bits, dtype=np.uint32) << 16).astype("<u4").view("<f4")


def encode(array, dtype):
    if dtype == "F32":
        return np.ascontiguousarray(array, dtype="<f4").tobytes()
    if dtype == "F16":
        return np.ascontiguousarray(array, dtype="<f2").tobytes()
    if dtype == "BF16":
        return f32_to_bf16_bits(array).tobytes()
    raise ValueError(f"unsupported dtype {dtype}")


def decode(raw, dtype, shape):
    if dtype == "F32":
        a = np.frombuffer(raw, dtype="<f4")
    elif dtype == "F16":
        a = np.frombuffer(raw, dtype="<f2").astype(np.float32)
    elif dtype == "BF16":
        a = bf16_bits_to_f32(np.frombuffer(raw, dtype="<u2"))
    else:
        raise ValueError(f"unsupported dtype {dtype}")
    return a.reshape(shape).astype(np.float32)


def write_safetensors(path, tensors, dtype="F32", order=None, metadata=None):
    """Writes {name: array} as dtype; order = list of names (default: dict order)."""
    names = list(order) if order is not None else list(tensors)
    header, blobs, offset = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name in names:
        raw = encode(tensors[name], dtype)
        shape = [int(n) for n in np.shape(tensors[name])]
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-(8 + len(text)) % ST_ALIGN)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


def read_safetensors(path):
    """Returns {name: float32 array} (F16/BF16 widened exactly to f32)."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n])
    data = blob[8 + n :]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        if end > len(data):
            raise ValueError(f"{name}: data past the end of the file")
        out[name] = decode(data[begin:end], info["dtype"], tuple(info["shape"]))
    return out


def write_npy(path, array):
    np.save(path, np.asarray(array, dtype=np.float32))
