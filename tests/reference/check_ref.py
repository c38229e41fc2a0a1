"""check_ref.py: self-checks of the NumPy reference (ref.py) and tests/golden/.

    /usr/bin/python3 tests/reference/check_ref.py

Each check prints the largest difference it saw and fails (exit 1) past its
tolerance.  The tiny hand-written model below uses Python loops, math and a
token-at-a-time KV cache, sharing nothing with the vectorised forward pass.
"""

import json
import math
import os
import struct
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ref  # noqa: E402

GOLDEN = os.path.join(HERE, "..", "golden")
failures = []


def report(what, diff, tol):
    ok = diff <= tol
    print(f"{'ok  ' if ok else 'FAIL'} {what}: max diff {diff:.3e} (tol {tol:.0e})")
    if not ok:
        failures.append(what)


def require(what, cond):
    print(f"{'ok  ' if cond else 'FAIL'} {what}")
    if not cond:
        failures.append(what)


def load_case(name):
    base = os.path.join(GOLDEN, name)
    cfg = ref.parse_spec(base + ".tfm")
    weights = ref.read_safetensors(base + ".safetensors")
    with open(base + ".tokens") as f:
        tokens = [int(t) for t in f.read().strip().split(",")]
    return cfg, weights, tokens, np.load(base + ".logits.npy")


def case_names():
    with open(os.path.join(GOLDEN, "INDEX")) as f:
        return f.read().split()


# ---- (a) causality ---------------------------------------------------------

def check_causality():
    """forward(tokens[:k]) gives the first k rows of forward(tokens)."""
    worst = 0.0
    for name in case_names():
        cfg, weights, tokens, _ = load_case(name)
        full = ref.forward(cfg, weights, tokens)
        for k in range(1, len(tokens)):
            part = ref.forward(cfg, weights, tokens[:k])
            worst = max(worst, float(np.abs(part - full[:k]).max()))
    report("(a) causality: prefix rows equal, every golden case and prefix", worst, 1e-12)


# ---- (b) a tiny model by hand ----------------------------------------------

def loop_norm(cfg, x, w, b):
    n = len(x)
    if cfg["norm"] == "rmsnorm":
        r = math.sqrt(sum(v * v for v in x) / n + cfg["norm_eps"])
        return [x[j] / r * w[j] for j in range(n)]
    mu = sum(x) / n
    var = sum((v - mu) ** 2 for v in x) / n
    r = math.sqrt(var + cfg["norm_eps"])
    return [(x[j] - mu) / r * w[j] + b[j] for j in range(n)]


def loop_linear(cfg, W, prefix, x):
    m = W[prefix + ".weight"]
    y = [sum(float(m[o][j]) * x[j] for j in range(len(x))) for o in range(len(m))]
    # section 3: q, k and v biases when qkv_bias, all the others when bias
    qkv = prefix.endswith((".wq", ".wk", ".wv"))
    if cfg["qkv_bias"] if qkv else cfg["bias"]:
        y = [y[o] + float(W[prefix + ".bias"][o]) for o in range(len(y))]
    return y


def loop_rope(cfg, x, pos):
    hd, out = len(x), list(x)
    for i in range(hd // 2):
        a = pos * cfg["rope_theta"] ** (-2.0 * i / hd)
        j, k = (i, i + hd // 2) if cfg["rope_style"] == "half" else (2 * i, 2 * i + 1)
        out[j] = x[j] * math.cos(a) - x[k] * math.sin(a)
        out[k] = x[j] * math.sin(a) + x[k] * math.cos(a)
    return out


def loop_forward(cfg, W, tokens):
    """1 layer, 1 head, pre-norm serial, swiglu, RoPE; one token at a time."""
    def norm(prefix, x):
        bias = W.get(prefix + ".bias")
        return loop_norm(cfg, x, W[prefix + ".weight"], bias)

    keys, values, rows = [], [], []
    for pos, tok in enumerate(tokens):
        x = [float(v) for v in W["tok_embeddings.weight"][tok]]
        a = norm("layers.0.attention_norm", x)
        q = loop_rope(cfg, loop_linear(cfg, W, "layers.0.attention.wq", a), pos)
        keys.append(loop_rope(cfg, loop_linear(cfg, W, "layers.0.attention.wk", a), pos))
        values.append(loop_linear(cfg, W, "layers.0.attention.wv", a))
        s = [sum(qj * kj for qj, kj in zip(q, k)) / math.sqrt(len(q)) for k in keys]
        e = [math.exp(v - max(s)) for v in s]
        p = [v / sum(e) for v in e]
        o = [sum(p[t] * values[t][j] for t in range(len(p))) for j in range(len(q))]
        x = [xi + yi for xi, yi in zip(x, loop_linear(cfg, W, "layers.0.attention.wo", o))]
        f = norm("layers.0.ffn_norm", x)
        g = loop_linear(cfg, W, "layers.0.feed_forward.w_gate", f)
        u = loop_linear(cfg, W, "layers.0.feed_forward.w_up", f)
        hidden = [gi / (1.0 + math.exp(-gi)) * ui for gi, ui in zip(g, u)]
        x = [xi + yi for xi, yi in zip(x, loop_linear(cfg, W, "layers.0.feed_forward.w_down", hidden))]
        x = norm("norm", x)
        rows.append([sum(float(w) * xj for w, xj in zip(wrow, x))
                     for wrow in W["output.weight"]])
    return np.array(rows)


def tiny_config(**keys):
    cfg = dict(vocab=7, d_model=4, n_layer=1, n_head=1, d_ff=6, max_seq=8,
               activation="swiglu", position="rope", **keys)
    cfg = ref.resolve_defaults(cfg)
    cfg["name"] = "tiny"
    return cfg


def check_known_values():
    """Values worked out on paper."""
    # rmsnorm([1,2,3,4]) with w = 1, eps = 0: divide by sqrt((1+4+9+16)/4) = sqrt(7.5)
    got = ref.rmsnorm(np.array([1.0, 2.0, 3.0, 4.0]), np.ones(4), 0.0)
    want = np.array([1.0, 2.0, 3.0, 4.0]) / math.sqrt(7.5)
    report("(b) rmsnorm([1,2,3,4]) = x/sqrt(7.5)", float(np.abs(got - want).max()), 1e-15)
    # RoPE at pos 1, head_dim 4, theta 100: f_0 = 1, f_1 = 100^(-1/2) = 0.1.
    # half pairs (x0,x2),(x1,x3); interleaved pairs (x0,x1),(x2,x3).
    x = np.array([1.0, 2.0, 3.0, 4.0])
    c1, s1, c2, s2 = math.cos(1), math.sin(1), math.cos(0.1), math.sin(0.1)
    want_half = [1 * c1 - 3 * s1, 2 * c2 - 4 * s2, 1 * s1 + 3 * c1, 2 * s2 + 4 * c2]
    want_inter = [1 * c1 - 2 * s1, 1 * s1 + 2 * c1, 3 * c2 - 4 * s2, 3 * s2 + 4 * c2]
    for style, want in (("half", want_half), ("interleaved", want_inter)):
        xs = np.tile(x, (2, 1, 1))  # positions 0 and 1, one head
        got = ref.rope(xs, 100.0, style)
        diff = max(np.abs(got[0, 0] - x).max(), np.abs(got[1, 0] - want).max())
        report(f"(b) rope {style} at pos 0 and 1 by hand", float(diff), 1e-15)


def check_tiny_models():
    tokens = [3, 0, 6, 1, 3, 5]
    styles = {}
    for norm in ("rmsnorm", "layernorm"):
        for style in ("half", "interleaved"):
            for bias, qkv_bias in ((False, False), (True, True), (False, True), (True, False)):
                cfg = tiny_config(norm=norm, rope_style=style, bias=bias, qkv_bias=qkv_bias,
                                  rope_theta=100.0)
                W = ref.init_weights(cfg, seed=7)
                got = ref.forward(cfg, W, tokens)
                want = loop_forward(cfg, W, tokens)
                report(f"(b) tiny model {norm} rope {style} bias {bias} qkv_bias {qkv_bias}: "
                       "vectorised vs loops", float(np.abs(got - want).max()), 1e-10)
                styles[(norm, bias, qkv_bias, style)] = got
    gap = float(np.abs(styles[("rmsnorm", False, False, "half")]
                       - styles[("rmsnorm", False, False, "interleaved")]).max())
    require(f"(b) rope half and interleaved differ on the tiny model ({gap:.3f})", gap > 1e-2)


# ---- (c) safetensors -------------------------------------------------------

def raw_header(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    return json.loads(blob[8 : 8 + n]), 8 + n, len(blob) - 8 - n


def check_layout(path, what):
    header, data_start, data_len = raw_header(path)
    spans = sorted(v["data_offsets"] for k, v in header.items() if k != "__metadata__")
    contiguous = spans[0][0] == 0 and spans[-1][1] == data_len and all(
        a[1] == b[0] for a, b in zip(spans, spans[1:]))
    require(f"(c) {what}: data starts at {data_start} (a multiple of 8), offsets without holes",
            data_start % 8 == 0 and contiguous)


def check_safetensors():
    rng = np.random.default_rng(1)
    tensors = {"a": rng.standard_normal((3, 5)).astype(np.float32),
               "b.weight": rng.standard_normal((7,)).astype(np.float32),
               "c": (rng.standard_normal((2, 9)) * 1e3).astype(np.float32)}
    with tempfile.TemporaryDirectory() as tmp:
        for dtype in ("F32", "F16", "BF16"):
            path = os.path.join(tmp, f"t_{dtype}.safetensors")
            ref.write_safetensors(path, tensors, dtype, order=["c", "a", "b.weight"],
                                  metadata={"format": "pt"})
            back = ref.read_safetensors(path)
            require(f"(c) {dtype}: same names and shapes back",
                    {k: v.shape for k, v in back.items()} == {k: v.shape for k, v in tensors.items()})
            if dtype == "BF16":  # 8 significant bits: |error| <= half an ulp <= 2^-8 |x|
                diff = max(float((np.abs(back[k] - v) / np.abs(v)).max()) for k, v in tensors.items())
                report("(c) BF16 round trip, relative error", diff, 2.0 ** -8)
            else:  # F32 exact; F16 exactly numpy's float16 rounding
                cast = np.float32 if dtype == "F32" else np.float16
                diff = max(float(np.abs(back[k] - v.astype(cast)).max()) for k, v in tensors.items())
                report(f"(c) {dtype} round trip", diff, 0.0)
            check_layout(path, dtype)
        # bf16 round-to-nearest-even: 1 + 2^-8 is halfway between 1 and
        # 1 + 2^-7 and goes to the even 1; 1 + 3*2^-8 goes to 1 + 2^-6;
        # 1 + 2^-8 + 2^-20 is past halfway and goes up to 1 + 2^-7.
        x = np.array([1 + 2**-8, 1 + 3 * 2**-8, 1 + 2**-8 + 2**-20, -2.5], dtype=np.float32)
        want = np.array([1.0, 1 + 2**-6, 1 + 2**-7, -2.5], dtype=np.float32)
        path = os.path.join(tmp, "rne.safetensors")
        ref.write_safetensors(path, {"x": x}, "BF16")
        got = ref.read_safetensors(path)["x"]
        report("(c) BF16 rounds to nearest even", float(np.abs(got - want).max()), 0.0)


# ---- (d) the golden files themselves ----------------------------------------

def check_golden():
    worst = 0.0
    for name in case_names():
        cfg, weights, tokens, logits = load_case(name)
        path = os.path.join(GOLDEN, name + ".safetensors")
        header, _, _ = raw_header(path)
        want = dict(ref.tensor_list(cfg))
        got = {k: tuple(v.shape) for k, v in weights.items()}
        dtypes = sorted({v["dtype"] for k, v in header.items() if k != "__metadata__"})
        with open(os.path.join(GOLDEN, name + ".tfm")) as f:
            text = f.read()
        require(f"(d) {name}: {len(want)} tensors exactly as section 3 ({'/'.join(dtypes)}), "
                f"{len(tokens)} tokens with 0 and vocab-1, every key written",
                got == want and cfg["name"] == name and 5 <= len(tokens) <= 9
                and 0 in tokens and cfg["vocab"] - 1 in tokens
                and logits.shape == (len(tokens), cfg["vocab"])
                and ref.format_spec(cfg) in text and all(f" {k} " in text for k, _, _ in ref.KEYS))
        check_layout(path, name)
        worst = max(worst, float(np.abs(ref.forward(cfg, weights, tokens) - logits).max()))
    report("(d) golden logits recomputed (float32 rounding only)", worst, 1e-6)


def check_defaults():
    cfg = ref.parse_spec_text("model m {\n vocab = 32000\n d_model = 4096\n"
                              " n_layer = 32 # a comment\n n_head = 32\n max_seq = 2048\n}\n")
    require("(d) defaults: Llama-7B d_ff 11008, head_dim 128, n_kv_head 32, swiglu, rope",
            (cfg["d_ff"], cfg["head_dim"], cfg["n_kv_head"], cfg["activation"], cfg["position"])
            == (11008, 128, 32, "swiglu", "rope"))
    cfg = ref.parse_spec_text("model m {\n vocab = 50\n d_model = 20\n n_layer = 1\n"
                              " n_head = 2\n max_seq = 8\n activation = gelu\n}\n")
    require("(d) defaults: non-GLU d_ff = 4*d_model", cfg["d_ff"] == 80)
    base = "model m {\n vocab = 50\n d_model = 20\n n_layer = 1\n n_head = 2\n max_seq = 8\n"
    got = [(cfg["bias"], cfg["qkv_bias"], sum(n.endswith(".bias") for n, _ in ref.tensor_list(cfg)))
           for cfg in (ref.parse_spec_text(base + extra + "}\n")
                       for extra in ("", " bias = true\n", " qkv_bias = true\n",
                                     " bias = true\n qkv_bias = false\n"))]
    # 4 linear biases per layer with swiglu (wo, w_gate, w_up, w_down), 3 for q, k, v
    require("(d) defaults: qkv_bias follows bias; either alone gives only its biases",
            got == [(False, False, 0), (True, True, 7), (False, True, 3), (True, False, 4)])


def main():
    check_causality()
    check_known_values()
    check_tiny_models()
    check_safetensors()
    check_golden()
    check_defaults()
    if failures:
        print(f"{len(failures)} check(s) FAILED")
        sys.exit(1)
    print("all reference checks passed")


if __name__ == "__main__":
    main()
