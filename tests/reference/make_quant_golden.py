"""make_quant_golden.py: the quantized goldens, GGUF files with GGML's blocks.

    /usr/bin/python3 tests/reference/make_quant_golden.py

For each case NAME it writes, into tests/golden/:
  NAME.tfm           the spec (every key explicit);
  NAME.gguf          its weights as llama.cpp names and lays them out: the
                     matrices and embeddings in Q8_0, Q4_0, Q4_K and Q6_K
                     (each case mixes all four, a different one per tensor),
                     norms and biases in F32;
  NAME.tokens        one line of comma-separated ids;
  NAME.logits.npy    float32 [n_tokens, vocab]: ref.forward on the weights
                     as this file dequantizes them;
then QUANT_INDEX (the case names).

The blocks are made by a simple quantizer of this file's own (not GGML's
search for the best scales: any valid block will do, since what is checked
is what a block means).  The dequantizer is written here from the layout in
ggml-common.h (block_q8_0, block_q4_0, block_q4_K, block_q6_K and
dequantize_row_*), in NumPy, sharing nothing with the C; the GGUF writer
from llama.cpp's gguf-py layout (version 3, dimensions fastest first, data
aligned to 32).  Everything is seeded from the case name: a rerun gives the
same bytes.
"""

import os
import struct
import sys
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ref  # noqa: E402

GOLDEN = os.path.join(HERE, "..", "golden")

# GGML's type numbers (ggml.h) and block sizes: (elements, bytes).
GGML = {"F32": (0, 1, 4), "Q4_0": (2, 32, 18), "Q8_0": (8, 32, 34),
        "Q4_K": (12, 256, 144), "Q6_K": (14, 256, 210)}
QUANTS = ["Q8_0", "Q4_0", "Q4_K", "Q6_K"]

CASES = [
    dict(name="quant_llama_mixed",
         doc="Llama-style, GQA 4/2, interleaved RoPE (llama GGUFs store q, k for it), untied",
         vocab=96, d_model=256, n_layer=2, n_head=4, n_kv_head=2, d_ff=512, max_seq=16,
         norm="rmsnorm", norm_place="pre", activation="swiglu", position="rope",
         rope_style="interleaved", tie_embeddings=False),
    dict(name="quant_gpt_tied",
         doc="GPT-2-style: layernorm, gelu, learned positions (quantized too), biases, tied",
         vocab=80, d_model=256, n_layer=2, n_head=4, d_ff=512, max_seq=16,
         norm="layernorm", norm_place="pre", activation="gelu", gelu="tanh",
         position="learned", bias=True, tie_embeddings=True),
]

# ---------------------------------------------------------------------------
# Half precision: IEEE binary16, as GGML's ggml_half.

def f16_bytes(x):
    return np.asarray(x, dtype=np.float32).astype(np.float16).view(np.uint16).astype("<u2").tobytes()


def f16_values(raw):
    """float32 of the little-endian halves in raw (a uint8 array [..., 2])."""
    h = raw[..., 0].astype(np.uint16) | (raw[..., 1].astype(np.uint16) << 8)
    return h.view(np.float16).astype(np.float32)

# ---------------------------------------------------------------------------
# Quantizing (simple; any valid block), one row of floats at a time.

def quant_q8_0(x):
    b = x.reshape(-1, 32)
    d = (np.abs(b).max(axis=1) / 127).astype(np.float16).astype(np.float32)
    inv = np.where(d > 0, 1 / np.where(d > 0, d, 1), 0)
    q = np.clip(np.rint(b * inv[:, None]), -127, 127).astype(np.int8)
    out = bytearray()
    for i in range(b.shape[0]):
        out += f16_bytes(d[i]) + q[i].tobytes()
    return bytes(out)


def quant_q4_0(x):
    b = x.reshape(-1, 32)
    idx = np.abs(b).argmax(axis=1)
    mx = b[np.arange(b.shape[0]), idx]
    d = (mx / -8).astype(np.float16).astype(np.float32)
    inv = np.where(d != 0, 1 / np.where(d != 0, d, 1), 0)
    q = np.clip(np.floor(b * inv[:, None] + 8.5), 0, 15).astype(np.uint8)
    out = bytearray()
    for i in range(b.shape[0]):
        out += f16_bytes(d[i]) + (q[i, :16] | (q[i, 16:] << 4)).astype(np.uint8).tobytes()
    return bytes(out)


def quant_q4_k(x):
    out = bytearray()
    for sb in x.reshape(-1, 256):
        s = sb.reshape(8, 32)
        lo = np.minimum(s.min(axis=1), 0)
        scale = (s.max(axis=1) - lo) / 15
        d = np.float32(np.float16(scale.max() / 63))
        dmin = np.float32(np.float16((-lo).max() / 63))
        sc = np.clip(np.rint(scale / d), 0, 63).astype(np.int64) if d > 0 else np.zeros(8, np.int64)
        mn = np.clip(np.rint(-lo / dmin), 0, 63).astype(np.int64) if dmin > 0 else np.zeros(8, np.int64)
        packed = np.zeros(12, dtype=np.uint8)
        for j in range(8):
            if j < 4:
                packed[j] |= sc[j]
                packed[j + 4] |= mn[j]
            else:
                packed[j + 4] |= (sc[j] & 15) | ((mn[j] & 15) << 4)
                packed[j - 4] |= (sc[j] >> 4) << 6
                packed[j] |= (mn[j] >> 4) << 6
        q = np.zeros((8, 32), dtype=np.int64)
        for j in range(8):
            step = np.float32(d * np.float32(sc[j]))
            if step > 0:
                q[j] = np.clip(np.rint((s[j] + dmin * np.float32(mn[j])) / step), 0, 15)
        qs = np.zeros(128, dtype=np.uint8)
        for i in range(4):
            qs[32 * i:32 * i + 32] = q[2 * i] | (q[2 * i + 1] << 4)
        out += f16_bytes(d) + f16_bytes(dmin) + packed.tobytes() + qs.tobytes()
    return bytes(out)


def quant_q6_k(x):
    out = bytearray()
    for sb in x.reshape(-1, 256):
        s = sb.reshape(16, 16)
        idx = np.abs(s).argmax(axis=1)
        scale = s[np.arange(16), idx] / -32
        big = np.abs(scale).argmax()
        d = np.float32(np.float16(scale[big] / -128)) if scale[big] != 0 else np.float32(0)
        sc = np.clip(np.rint(scale / d), -128, 127).astype(np.int64) if d != 0 else np.zeros(16, np.int64)
        L = np.full(256, 32, dtype=np.int64)
        for g in range(16):
            step = np.float32(d * np.float32(sc[g]))
            if step != 0:
                L[16 * g:16 * g + 16] = np.clip(np.rint(s[g] / step), -32, 31) + 32
        ql = np.zeros(128, dtype=np.uint8)
        qh = np.zeros(64, dtype=np.uint8)
        for h in range(2):
            for l in range(32):
                q1, q2, q3, q4 = (L[128 * h + l + 32 * k] for k in range(4))
                ql[64 * h + l] = (q1 & 15) | ((q3 & 15) << 4)
                ql[64 * h + l + 32] = (q2 & 15) | ((q4 & 15) << 4)
                qh[32 * h + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6)
        out += ql.tobytes() + qh.tobytes() + sc.astype(np.int8).tobytes() + f16_bytes(d)
    return bytes(out)


QUANTIZE = {"Q8_0": quant_q8_0, "Q4_0": quant_q4_0, "Q4_K": quant_q4_k, "Q6_K": quant_q6_k}

# ---------------------------------------------------------------------------
# Dequantizing: ggml-common.h's layouts, each weight in float32 as GGML's
# dequantize_row_* computes it.

def dequant(kind, raw, n):
    raw = np.frombuffer(raw, dtype=np.uint8)
    _, block, size = GGML[kind]
    b = raw.reshape(n // block, size)
    if kind == "Q8_0":
        d = f16_values(b[:, 0:2])
        q = b[:, 2:].view(np.int8).astype(np.float32)
        return (q * d[:, None]).astype(np.float32).reshape(-1)
    if kind == "Q4_0":
        d = f16_values(b[:, 0:2])
        qs = b[:, 2:]
        q = np.concatenate([(qs & 15), (qs >> 4)], axis=1).astype(np.float32) - 8
        return (q * d[:, None]).astype(np.float32).reshape(-1)
    if kind == "Q4_K":
        d = f16_values(b[:, 0:2])
        dmin = f16_values(b[:, 2:4])
        s = b[:, 4:16].astype(np.int64)
        qs = b[:, 16:].reshape(-1, 4, 32)
        sc = np.zeros((b.shape[0], 8), np.int64)
        mn = np.zeros((b.shape[0], 8), np.int64)
        for j in range(8):
            if j < 4:
                sc[:, j] = s[:, j] & 63
                mn[:, j] = s[:, j + 4] & 63
            else:
                sc[:, j] = (s[:, j + 4] & 15) | ((s[:, j - 4] >> 6) << 4)
                mn[:, j] = (s[:, j + 4] >> 4) | ((s[:, j] >> 6) << 4)
        out = np.zeros((b.shape[0], 256), np.float32)
        for i in range(4):
            for half in range(2):
                j = 2 * i + half
                q = ((qs[:, i] >> (4 * half)) & 15).astype(np.float32)
                step = (d * sc[:, j].astype(np.float32)).astype(np.float32)
                low = (dmin * mn[:, j].astype(np.float32)).astype(np.float32)
                out[:, 64 * i + 32 * half:64 * i + 32 * half + 32] = step[:, None] * q - low[:, None]
        return out.reshape(-1)
    # Q6_K: ql[128], qh[64], scales[16] int8, d
    ql = b[:, 0:128].astype(np.int64)
    qh = b[:, 128:192].astype(np.int64)
    sc = b[:, 192:208].view(np.int8).astype(np.float32)
    d = f16_values(b[:, 208:210])
    out = np.zeros((b.shape[0], 256), np.float32)
    for h in range(2):
        for g in range(4):
            low = ql[:, 64 * h + 32 * (g & 1):64 * h + 32 * (g & 1) + 32]
            low = (low >> 4) if g >= 2 else (low & 15)
            high = (qh[:, 32 * h:32 * h + 32] >> (2 * g)) & 3
            q = ((low | (high << 4)) - 32).astype(np.float32)
            for l0 in (0, 16):
                s = (d * sc[:, 8 * h + 2 * g + l0 // 16]).astype(np.float32)
                col = 128 * h + 32 * g + l0
                out[:, col:col + 16] = s[:, None] * q[:, l0:l0 + 16]
    return out.reshape(-1)

# ---------------------------------------------------------------------------
# GGUF (version 3).

GGUF_NAMES = [("tok_embeddings", "token_embd"), ("pos_embeddings", "position_embd"),
              ("norm", "output_norm"), ("output", "output")]
GGUF_LAYER = [("attention_norm", "attn_norm"), ("attention.wq", "attn_q"), ("attention.wk", "attn_k"),
              ("attention.wv", "attn_v"), ("attention.wo", "attn_output"),
              ("attention.q_norm", "attn_q_norm"), ("attention.k_norm", "attn_k_norm"),
              ("attention_post_norm", "post_attention_norm"), ("ffn_norm", "ffn_norm"),
              ("feed_forward.w_gate", "ffn_gate"), ("feed_forward.w_up", "ffn_up"),
              ("feed_forward.w_down", "ffn_down"), ("ffn_post_norm", "post_ffw_norm")]


def gguf_name(name):
    base, suffix = name.rsplit(".", 1)
    if base.startswith("layers."):
        _, i, rest = base.split(".", 2)
        return "blk.%s.%s.%s" % (i, dict(GGUF_LAYER)[rest], suffix)
    return "%s.%s" % (dict(GGUF_NAMES)[base], suffix)


def gguf_string(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def write_gguf(path, tensors, meta):
    """tensors: [(name, kind, shape in section 3's order, bytes)]; meta: {key: str or int}."""
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(meta)))
    for k, v in meta.items():
        out += gguf_string(k)
        if isinstance(v, str):
            out += struct.pack("<I", 8) + gguf_string(v)
        elif isinstance(v, float):
            out += struct.pack("<If", 6, v)  # float32
        else:
            out += struct.pack("<II", 4, v)  # uint32
    offset = 0
    for name, kind, shape, data in tensors:
        out += gguf_string(name) + struct.pack("<I", len(shape))
        for dim in reversed(shape):  # fastest first
            out += struct.pack("<Q", dim)
        out += struct.pack("<IQ", GGML[kind][0], offset)
        offset += (len(data) + 31) // 32 * 32
    out += b"\0" * ((32 - len(out) % 32) % 32)
    for _, _, _, data in tensors:
        out += data + b"\0" * ((32 - len(data) % 32) % 32)
    with open(path, "wb") as f:
        f.write(out)

# ---------------------------------------------------------------------------

def gguf_meta(cfg):
    """The metadata llama.cpp reads: a llama model's hyperparameters; the
    GPT-2-style case is named gpt2, which tfmc does not import."""
    arch = "llama" if cfg["norm"] == "rmsnorm" else "gpt2"
    meta = {"general.architecture": arch, "general.name": cfg["name"], "general.alignment": 32}
    if arch == "llama":
        meta.update({"llama.context_length": cfg["max_seq"], "llama.embedding_length": cfg["d_model"],
                     "llama.block_count": cfg["n_layer"], "llama.feed_forward_length": cfg["d_ff"],
                     "llama.attention.head_count": cfg["n_head"],
                     "llama.attention.head_count_kv": cfg["n_kv_head"],
                     "llama.attention.layer_norm_rms_epsilon": float(cfg["norm_eps"]),
                     "llama.rope.freq_base": float(cfg["rope_theta"]),
                     "llama.rope.dimension_count": cfg["head_dim"]})
    return meta


def write_case(case, k):
    seed = zlib.crc32(case["name"].encode())
    rng = np.random.default_rng(seed)
    keys = {key: v for key, v in case.items() if key not in ("name", "doc")}
    cfg = ref.resolve_defaults(dict(keys))
    cfg["name"] = case["name"]
    base = os.path.join(GOLDEN, case["name"])
    with open(base + ".tfm", "w") as f:
        f.write(ref.format_spec(cfg, "%s: %s (make_quant_golden.py)" % (case["name"], case["doc"])))
    weights = ref.init_weights(cfg, seed)
    used, tensors = {}, []
    for j, (name, shape) in enumerate(ref.tensor_list(cfg)):
        w = weights[name].astype(np.float32)
        if len(shape) == 2:
            kind = QUANTS[(j + k) % 4]
            if shape[1] % GGML[kind][1]:
                kind = "Q8_0"
            data = b"".join(QUANTIZE[kind](row) for row in w.reshape(shape[0], shape[1]))
            used[name] = dequant(kind, data, shape[0] * shape[1]).reshape(shape)
        else:
            kind, data = "F32", w.astype("<f4").tobytes()
            used[name] = w
        tensors.append((gguf_name(name), kind, list(shape), data))
    write_gguf(base + ".gguf", tensors, gguf_meta(cfg))
    tokens = [int(t) for t in rng.integers(0, cfg["vocab"], size=cfg["max_seq"] - 3)]
    with open(base + ".tokens", "w") as f:
        f.write(",".join(map(str, tokens)) + "\n")
    ref.write_npy(base + ".logits.npy", ref.forward(cfg, used, tokens).astype(np.float32))
    kinds = sorted({t[1] for t in tensors})
    print("%s: %d tensors (%s), %d tokens" % (case["name"], len(tensors), ", ".join(kinds), len(tokens)))


def main():
    for k, case in enumerate(CASES):
        write_case(case, k)
    with open(os.path.join(GOLDEN, "QUANT_INDEX"), "w") as f:
        f.write("".join(c["name"] + "\n" for c in CASES))


if __name__ == "__main__":
    main()
