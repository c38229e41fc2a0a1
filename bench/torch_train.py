"""torch_train.py: the PyTorch side of `make bench`'s training figures.

    /usr/bin/python3 bench/torch_train.py SPEC [--batch 8] [--seq 256]
        [--torch-threads 1] [--blas-threads 1] [--warmup 1] [--steps 3]
        [--budget 60] [--seed 0]

(/usr/bin/python3: Debian's python3-torch; a python3 earlier on PATH may not
see it.)  It builds the model SPEC describes in PyTorch eager, initialises it
as `tfmc init` does (matrices and embeddings N(0, 0.02), norm weights 1; not
the same values), and times full training steps on random token ids: the
forward over batch x seq tokens, the mean cross-entropy of the next token,
the backward, clip_grad_norm_ 1.0 and torch.optim.AdamW (lr 1e-3, betas
(0.9, 0.95), eps 1e-8, weight decay 0.1 on the 2-D tensors only, in a
second parameter group).  The first --warmup steps are not timed; then
--steps timed steps, fewer if they pass --budget seconds (at least one).

It prints one line that bench/bench.c parses:

    torch_train spec=... tok_s=... step_s=... step_min=... step_max=...
      steps=... rss_mb=... blas=openblas|reference|NAME blas_core=...
      torch_threads=...
      blas_threads=... batch=... seq=... loss=... torch=...

step_s is the median step, tok_s = batch * seq / step_s, rss_mb the peak
RSS of this process in MiB (getrusage), blas the BLAS library torch's
sgemm calls reached (read from /proc/self/maps: OpenBLAS when
LD_LIBRARY_PATH points at tools/openblas.sh's folder, else Debian's
reference BLAS).  OpenBLAS reads OPENBLAS_NUM_THREADS when it loads, so
--blas-threads sets it before torch is imported.

The model is the Llama shape of specs/bench/: pre-norm RMSNorm (the spec's
norm_eps), SwiGLU, RoPE (half or interleaved, the spec's rope_theta), the
spec's n_kv_head and head_dim, tied embeddings when it says so, no biases.
Any other spec is refused: this is a benchmark, not a second implementation
(tests/reference/ holds those).
"""

import argparse
import math
import os
import re
import resource
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def parse_args():
    p = argparse.ArgumentParser(description="PyTorch's training step for make bench")
    p.add_argument("spec")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--torch-threads", type=int, default=1)
    p.add_argument("--blas-threads", type=int, default=1)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--budget", type=float, default=60.0,
                   help="stop timing after this many seconds of timed steps (at least one)")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


def read_spec(path):
    """The spec's resolved keys, by ref.py's parser.  `allow NAME` lines
    silence tfmc's warnings and are not model keys: ref.py's parser does not
    know them, so they are dropped first."""
    sys.path.insert(0, os.path.join(HERE, "..", "tests", "reference"))
    import ref  # plain NumPy: the spec's keys and defaults

    with open(path) as f:
        text = "".join(ln for ln in f if not re.match(r"\s*allow\s", ln))
    try:
        return ref.parse_spec_text(text)
    except ValueError as e:
        sys.exit(f"torch_train.py: error: {path}: {e} (tests/reference/ref.py reads one key = literal a line)")


# What the model below computes; a spec that asks for anything else is refused.
LLAMA_SHAPE = {
    "norm": "rmsnorm", "norm_place": "pre", "block": "serial", "activation": "swiglu",
    "position": "rope", "bias": False, "qkv_bias": False, "qk_norm": False,
    "embed_scale": "none", "attn_softcap": 0.0, "logit_softcap": 0.0, "z_loss": 0.0,
    "dropout": 0.0,
}


def check_shape(cfg):
    bad = [f"{k} = {cfg[k]}" for k, v in LLAMA_SHAPE.items() if cfg[k] != v]
    if bad:
        sys.exit(f"torch_train.py: error: {cfg['name']}: only the Llama shape is built here, "
                 f"not {', '.join(bad)}")


def build_model(torch, cfg):
    nn, F = torch.nn, torch.nn.functional
    d, nh, nkv, hd, ff = (cfg["d_model"], cfg["n_head"], cfg["n_kv_head"], cfg["head_dim"],
                          cfg["d_ff"])
    eps = cfg["norm_eps"]

    class RMSNorm(nn.Module):
        def __init__(self, width):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(width))

        def forward(self, x):
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * self.weight

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.attention_norm, self.ffn_norm = RMSNorm(d), RMSNorm(d)
            self.wq = nn.Linear(d, nh * hd, bias=False)
            self.wk = nn.Linear(d, nkv * hd, bias=False)
            self.wv = nn.Linear(d, nkv * hd, bias=False)
            self.wo = nn.Linear(nh * hd, d, bias=False)
            self.w_gate = nn.Linear(d, ff, bias=False)
            self.w_up = nn.Linear(d, ff, bias=False)
            self.w_down = nn.Linear(ff, d, bias=False)

        def attention(self, x, cos, sin, mask):
            B, T, _ = x.shape
            q = self.wq(x).view(B, T, nh, hd).transpose(1, 2)  # [B, nh, T, hd]
            k = self.wk(x).view(B, T, nkv, hd).transpose(1, 2)
            v = self.wv(x).view(B, T, nkv, hd).transpose(1, 2)
            q, k = rope(q, cos, sin), rope(k, cos, sin)
            if nkv != nh:
                k = k.repeat_interleave(nh // nkv, 1)
                v = v.repeat_interleave(nh // nkv, 1)
            s = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
            s = s.masked_fill(mask, float("-inf"))
            o = torch.softmax(s, -1) @ v  # [B, nh, T, hd]
            return self.wo(o.transpose(1, 2).reshape(B, T, nh * hd))

        def forward(self, h, cos, sin, mask):
            h = h + self.attention(self.attention_norm(h), cos, sin, mask)
            x = self.ffn_norm(h)
            return h + self.w_down(F.silu(self.w_gate(x)) * self.w_up(x))

    def rope(x, cos, sin):  # x [B, heads, T, hd]; cos, sin [T, hd/2]
        if cfg["rope_style"] == "half":
            u, w = x[..., : hd // 2], x[..., hd // 2:]
            return torch.cat([u * cos - w * sin, u * sin + w * cos], -1)
        u, w = x[..., 0::2], x[..., 1::2]
        return torch.stack([u * cos - w * sin, u * sin + w * cos], -1).flatten(-2)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok_embeddings = nn.Embedding(cfg["vocab"], d)
            self.layers = nn.ModuleList(Block() for _ in range(cfg["n_layer"]))
            self.norm = RMSNorm(d)
            if not cfg["tie_embeddings"]:
                self.output = nn.Linear(d, cfg["vocab"], bias=False)

        def forward(self, tokens, targets):
            T = tokens.shape[1]
            f = cfg["rope_theta"] ** (-2.0 * torch.arange(hd // 2, dtype=torch.float64) / hd)
            a = torch.arange(T, dtype=torch.float64)[:, None] * f[None, :]
            cos, sin = torch.cos(a).float(), torch.sin(a).float()
            mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
            h = self.tok_embeddings(tokens)
            for blk in self.layers:
                h = blk(h, cos, sin, mask)
            h = self.norm(h)
            w = self.tok_embeddings.weight if cfg["tie_embeddings"] else self.output.weight
            logits = h @ w.t()
            return F.cross_entropy(logits.view(-1, cfg["vocab"]), targets.reshape(-1))

    m = Model()
    with torch.no_grad():  # as `tfmc init`: N(0, 0.02), norm weights 1
        for name, p in m.named_parameters():
            if p.dim() == 2:
                p.normal_(0.0, 0.02)
            else:
                p.fill_(1.0)
    return m


def blas_loaded():
    """openblas, reference, or the file name of the BLAS this process mapped."""
    libs = set()
    with open("/proc/self/maps") as f:
        for ln in f:
            path = ln.split()[-1] if len(ln.split()) >= 6 else ""
            base = os.path.basename(path)
            if "blas" in base:
                libs.add(path)
    if any("openblas" in p for p in libs):
        return "openblas"
    if any(os.path.realpath(p).startswith("/usr/lib/x86_64-linux-gnu/blas/") or "/blas/" in p
           for p in libs):
        return "reference"
    return ",".join(sorted(os.path.basename(p) for p in libs)) or "none"


def openblas_core():
    """The kernels OpenBLAS picked for this CPU (its DYNAMIC_ARCH build), or "?"."""
    try:
        import ctypes

        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return lib.openblas_get_corename().decode() or "?"
    except (OSError, AttributeError):
        return "?"


def main():
    a = parse_args()
    # Before torch loads the BLAS: OpenBLAS sizes its pool when it loads.
    os.environ["OPENBLAS_NUM_THREADS"] = str(a.blas_threads)
    os.environ["OMP_NUM_THREADS"] = str(a.torch_threads)
    cfg = read_spec(a.spec)
    check_shape(cfg)
    if a.seq > cfg["max_seq"]:
        sys.exit(f"torch_train.py: error: --seq {a.seq} is more than max_seq ({cfg['max_seq']})")

    import torch

    torch.set_num_threads(a.torch_threads)
    torch.manual_seed(a.seed)
    model = build_model(torch, cfg)
    decay = [p for p in model.parameters() if p.dim() == 2]
    other = [p for p in model.parameters() if p.dim() != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": other, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.95), eps=1e-8)
    g = torch.Generator().manual_seed(a.seed + 1)
    batch = torch.randint(0, cfg["vocab"], (a.batch, a.seq + 1), generator=g)
    inputs, targets = batch[:, :-1].contiguous(), batch[:, 1:].contiguous()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = model(inputs, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return float(loss)

    for _ in range(a.warmup):
        loss = step()
    times, spent = [], 0.0
    while len(times) < max(a.steps, 1) and (not times or spent < a.budget):
        t0 = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - t0)
        spent += times[-1]
    med = statistics.median(times)
    blas = blas_loaded()
    core = openblas_core() if blas == "openblas" else "-"
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"torch_train spec={a.spec} tok_s={a.batch * a.seq / med:.1f} step_s={med:.4f} "
          f"step_min={min(times):.4f} step_max={max(times):.4f} steps={len(times)} "
          f"rss_mb={rss_mb:.0f} blas={blas} blas_core={core} torch_threads={torch.get_num_threads()} "
          f"blas_threads={a.blas_threads} batch={a.batch} seq={a.seq} loss={loss:.4f} "
          f"torch={torch.__version__}", flush=True)


if __name__ == "__main__":
    main()
