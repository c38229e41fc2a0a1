"""check_grad.py: self-checks of the training reference (grad_ref.py) and of
the training goldens in tests/golden/.

    /usr/bin/python3 tests/reference/check_grad.py [--quick]

Each check prints the largest error it saw and fails (exit 1) past its
tolerance.  The finite differences are taken of a loss built from ref.py's
forward pass (not grad_ref's own), so the hand-written backward is checked
against the independent forward.

  (a) the loss: grad_ref's forward and loss equal ref.forward's logits and the
      mean of CE + z_loss lse^2 computed from them; a batch's loss and gradient
      are the mean over its windows;
  (b) central finite differences, float64, on EVERY element of every tensor of
      a tiny model per golden case (same keys, tiny sizes, z_loss 0.1 where the
      case has z_loss > 0, matrices at twice the golden scale so the soft-caps
      bend); the error of a tensor is max|fd - g| / max|g| over its elements;
  (c) finite differences on the golden cases themselves (their weights as
      stored and their .batch): the largest-|g| element and 3 random elements
      of every tensor, and 3 random unit directions over all tensors;
  (d) clipping, AdamW and the schedule: values worked out by hand, the decayed
      set, and AdamW against a NumPy transcription of torch.optim.AdamW and
      torch.nn.utils.clip_grad_norm_'s code;
  (e) the golden files: .batch, .grads and .adamw recomputed (float32 rounding
      only), their metadata, TRAIN_INDEX;
  (f) OPTIONAL, only if torch imports: torch.optim.AdamW itself, and torch
      autograd gradients on two cases, against grad_ref;
  (g) information, not a check: grad_ref run in float32 (the state kept in
      float32 too) against the float64 goldens, to size a C test's tolerance.

--quick skips (b) but for the first 4 cases.
"""

import math
import os
import re
import sys
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import grad_ref  # noqa: E402
import make_golden  # noqa: E402
import ref  # noqa: E402

GOLDEN = os.path.join(HERE, "..", "golden")
FD_EPS = 1e-5
FD_TOL = 1e-6
failures = []


def report(what, diff, tol):
    ok = diff <= tol
    print(f"{'ok  ' if ok else 'FAIL'} {what}: max {diff:.3e} (tol {tol:.0e})")
    if not ok:
        failures.append(what)


def require(what, cond):
    print(f"{'ok  ' if cond else 'FAIL'} {what}")
    if not cond:
        failures.append(what)


# ---- a loss from ref.py's forward (independent of grad_ref's forward) -------

def ref_loss(cfg, weights, batch):
    """Section 5's loss from ref.forward's logits, one window at a time."""
    total, n = 0.0, 0
    for w in np.asarray(batch):
        logits = ref.forward(cfg, weights, w[:-1])
        mx = logits.max(axis=-1)
        lse = mx + np.log(np.exp(logits - mx[:, None]).sum(axis=-1))
        ce = lse - logits[np.arange(len(w) - 1), w[1:]]
        total += float(np.sum(ce + cfg["z_loss"] * lse * lse))
        n += len(w) - 1
    return total / n


def tensor_error(fd, g, floor=0.0):
    """max |fd - g| / max |g| over a tensor's elements, the scale at least
    `floor` (0 when both vanish)."""
    scale = max(float(np.abs(g).max()), float(np.abs(fd).max()), floor)
    return float(np.abs(fd - g).max()) / scale if scale > 0 else 0.0


def floor_of(grads):
    """1e-3 of the largest |g| of the model: the scale below which a tensor's
    error is measured against the model's, not its own (a tensor whose
    gradient is 0 in theory holds only rounding noise)."""
    return 1e-3 * max(float(np.abs(g).max()) for g in grads.values())


# ---- the cases --------------------------------------------------------------

ALL_CASES = make_golden.CASES + make_golden.TRAIN_CASES
SIZE_KEYS = ("vocab", "d_model", "head_dim", "d_ff", "ffn_multiple_of", "max_seq")


def tiny_config(case):
    """The case's keys at tiny sizes: head_dim 4, d_model n_head*4 (n_head*4 - 2
    when the case sets head_dim apart from d_model/n_head), vocab 13, d_ff 10."""
    keys = {k: v for k, v in case.items()
            if k not in make_golden.FILE_OPTIONS and k not in SIZE_KEYS}
    nh, hd = case["n_head"], 4
    keys.update(vocab=13, d_model=nh * hd, d_ff=10, max_seq=8)
    if "head_dim" in case:
        keys.update(head_dim=hd, d_model=nh * hd - 2)
    if case.get("z_loss", 0) > 0:
        keys["z_loss"] = 0.1
    keys["name"] = "tiny_" + case["name"]
    return make_golden.case_config(keys)


def tiny_model(case):
    cfg = tiny_config(case)
    rng = np.random.default_rng(zlib.crc32(cfg["name"].encode()))
    weights = ref.init_weights(cfg, int(rng.integers(2**31)))
    weights = {k: v.astype(np.float64) * (2.0 if v.ndim == 2 else 1.0)
               for k, v in weights.items()}
    T = 5
    batch = rng.integers(0, cfg["vocab"], size=(2, T + 1))
    batch[0, 2], batch[1, 1], batch[1, 3] = 0, cfg["vocab"] - 1, 0
    return cfg, weights, batch


def golden_case(name):
    base = os.path.join(GOLDEN, name)
    cfg = ref.parse_spec(base + ".tfm")
    weights = {k: v.astype(np.float64) for k, v in ref.read_safetensors(base + ".safetensors").items()}
    with open(base + ".batch") as f:
        batch = np.array([[int(t) for t in ln.split(",")] for ln in f.read().split()])
    return cfg, weights, batch


def train_names():
    with open(os.path.join(GOLDEN, "TRAIN_INDEX")) as f:
        return f.read().split()


def short(name, width=56):
    return f"{name:{width}s}"


# ---- (a) the loss -------------------------------------------------------------

def check_loss():
    worst_loss = worst_logits = worst_mean = 0.0
    models = [tiny_model(c) for c in ALL_CASES] + [golden_case(n) for n in train_names()]
    for cfg, weights, batch in models:
        loss, grads, logits = grad_ref.forward_backward(cfg, weights, batch)
        worst_loss = max(worst_loss, abs(loss - ref_loss(cfg, weights, batch)))
        for b, w in enumerate(batch):
            worst_logits = max(worst_logits, float(np.abs(
                ref.forward(cfg, weights, w[:-1]) - logits[b]).max()))
        # two windows of T positions each: the mean of the two single-window runs
        parts = [grad_ref.loss_and_grads(cfg, weights, batch[b:b + 1]) for b in range(2)]
        d = abs(loss - (parts[0][0] + parts[1][0]) / 2)
        for k, g in grads.items():
            d = max(d, tensor_error((parts[0][1][k] + parts[1][1][k]) / 2, g, floor_of(grads)))
        worst_mean = max(worst_mean, d)
    n = len(models)
    report(f"(a) grad_ref logits = ref.forward's, {n} models, every window", worst_logits, 1e-12)
    report(f"(a) grad_ref loss = mean CE + z_loss lse^2 from ref.forward's logits, {n} models",
           worst_loss, 1e-12)
    report("(a) a batch's loss and gradient = the mean of its windows'", worst_mean, 1e-12)


def check_zero_grads(cfg, grads, what):
    """The tensors grad_ref.zero_gradient_tensors names hold noise alone, and
    every other bias of the keys does not (the invariance is no wider)."""
    zero = set(grad_ref.zero_gradient_tensors(cfg))
    big = max(float(np.abs(g).max()) for g in grads.values())
    keys = [n for n in grads if n.endswith(("attention.wk.bias", "attention.k_norm.bias"))]
    if not keys:
        return
    sizes = {n: float(np.abs(grads[n]).max()) / big for n in keys}
    ok = all((sizes[n] < 1e-12) == (n in zero) for n in keys)
    require(f"(b/c) {what}: key-bias gradient 0 in theory exactly for "
            f"{sorted(zero) or 'none'} (sizes {', '.join(f'{v:.0e}' for v in sizes.values())})", ok)


# ---- (b) finite differences on tiny models, every element -------------------

def fd_element(cfg, weights, batch, name, j, eps=FD_EPS):
    a = weights[name].reshape(-1)
    x = a[j]
    a[j] = x + eps
    lp = ref_loss(cfg, weights, batch)
    a[j] = x - eps
    lm = ref_loss(cfg, weights, batch)
    a[j] = x
    return (lp - lm) / (2 * eps)


def check_fd_tiny(quick):
    cases = ALL_CASES[:4] if quick else ALL_CASES
    overall = 0.0
    for case in cases:
        cfg, weights, batch = tiny_model(case)
        _, grads = grad_ref.loss_and_grads(cfg, weights, batch)
        worst, where, count, floor = 0.0, "", 0, floor_of(grads)
        for name, g in grads.items():
            fd = np.array([fd_element(cfg, weights, batch, name, j) for j in range(g.size)])
            err = tensor_error(fd.reshape(g.shape), g, floor)
            count += g.size
            if err >= worst:
                worst, where = err, name
        overall = max(overall, worst)
        report(f"(b) FD tiny {short(case['name'])} {count:5d} elements, worst {where}",
               worst, FD_TOL)
        check_zero_grads(cfg, grads, "tiny " + case["name"])
    print(f"     (b) worst over {len(cases)} tiny models: {overall:.3e}")


# ---- (c) finite differences on the golden cases -------------------------------

def check_fd_golden():
    overall = 0.0
    for name in train_names():
        cfg, weights, batch = golden_case(name)
        _, grads = grad_ref.loss_and_grads(cfg, weights, batch)
        rng = np.random.default_rng(zlib.crc32(("fd/" + name).encode()))
        worst, floor = 0.0, floor_of(grads)
        for tname, g in grads.items():
            picks = {int(np.abs(g).argmax())} | set(rng.integers(0, g.size, 3).tolist())
            scale = max(float(np.abs(g).max()), floor)
            for j in sorted(picks):
                fd = fd_element(cfg, weights, batch, tname, j)
                worst = max(worst, abs(fd - g.reshape(-1)[j]) / scale)
        for _ in range(3):  # a unit direction d over every tensor: (g . d) vs FD
            d = {k: rng.standard_normal(g.shape) for k, g in grads.items()}
            norm = math.sqrt(sum(float((x * x).sum()) for x in d.values()))
            d = {k: x / norm for k, x in d.items()}
            lp = ref_loss(cfg, {k: weights[k] + FD_EPS * d[k] for k in d}, batch)
            lm = ref_loss(cfg, {k: weights[k] - FD_EPS * d[k] for k in d}, batch)
            an = sum(float((grads[k] * d[k]).sum()) for k in d)
            worst = max(worst, abs((lp - lm) / (2 * FD_EPS) - an) / grad_ref.global_norm(grads))
        overall = max(overall, worst)
        report(f"(c) FD golden {short(name)}", worst, FD_TOL)
        check_zero_grads(cfg, grads, name)
    print(f"     (c) worst over the golden cases: {overall:.3e}")


# ---- (d) clipping, AdamW, schedule ------------------------------------------------

def torch_like_clip(grads, max_norm):
    """torch.nn.utils.clip_grad_norm_ (norm_type 2), transcribed: total_norm is
    the 2-norm of the per-tensor 2-norms; clip_coef = max_norm / (total_norm +
    1e-6), clamped to at most 1; every grad multiplied by it (always)."""
    total = math.sqrt(sum(float(np.linalg.norm(g.reshape(-1))) ** 2 for g in grads.values()))
    coef = min(max_norm / (total + 1e-6), 1.0)
    return {k: g * coef for k, g in grads.items()}


def torch_like_adamw(params, grads, state, lr, weight_decay, decayed,
                     beta1=0.9, beta2=0.95, eps=1e-8):
    """torch.optim.AdamW's single-tensor update (amsgrad off, maximize off),
    transcribed: step += 1; param *= 1 - lr*wd; exp_avg.lerp_(grad, 1-beta1);
    exp_avg_sq = exp_avg_sq*beta2 + (1-beta2)*grad*grad; bias_correction1 =
    1 - beta1**step; bias_correction2 = 1 - beta2**step; step_size = lr /
    bias_correction1; denom = sqrt(exp_avg_sq)/sqrt(bias_correction2) + eps;
    param += -step_size * exp_avg / denom.  Decay per group: wd for the 2-D."""
    out = {}
    for name, p in params.items():
        st = state.setdefault(name, {"step": 0, "exp_avg": np.zeros_like(p),
                                     "exp_avg_sq": np.zeros_like(p)})
        g = grads[name]
        st["step"] += 1
        p = p * (1 - lr * (weight_decay if name in decayed else 0.0))
        st["exp_avg"] = st["exp_avg"] + (g - st["exp_avg"]) * (1 - beta1)  # lerp
        st["exp_avg_sq"] = st["exp_avg_sq"] * beta2 + (1 - beta2) * g * g
        bc1 = 1 - beta1 ** st["step"]
        bc2 = 1 - beta2 ** st["step"]
        denom = np.sqrt(st["exp_avg_sq"]) / math.sqrt(bc2) + eps
        out[name] = p + (-lr / bc1) * st["exp_avg"] / denom
    return out


def check_optimizer():
    # schedule: lr 1e-2, W 2, S 5, min 1e-3, by hand
    want_cos = [5e-3, 1e-2, 1e-3 + 0.5 * 9e-3 * 1.5, 1e-3 + 0.5 * 9e-3 * 0.5, 1e-3]
    got_cos = [grad_ref.lr_at(t, 1e-2, 2, "cosine", 5, 1e-3) for t in range(1, 6)]
    got_const = [grad_ref.lr_at(t, 1e-2, 2, "constant") for t in range(1, 6)]
    pairs = list(zip(got_cos + got_const, want_cos + [5e-3] + [1e-2] * 4))
    pairs += [(grad_ref.lr_at(1, 0.1, 0, "cosine", 4, 0.0), 0.05 * (1 + math.cos(math.pi / 4))),
              (grad_ref.lr_at(1, 0.1, 0, "constant"), 0.1)]
    d = max(abs(a - b) / b for a, b in pairs)
    report("(d) lr schedule: warm-up t/W, cosine (5e-3 1e-2 7.75e-3 3.25e-3 1e-3), constant, "
           "W = 0, by hand, relative", d, 1e-15)
    try:
        grad_ref.lr_at(6, 1e-2, 2, "cosine", 5, 1e-3)
        past_end = False
    except ValueError:
        past_end = True
    require("(d) cosine past its S steps is refused", past_end)

    # clipping: g = (3, 4), n = 5
    g = {"a": np.array([3.0]), "b": np.array([[4.0]])}
    c1, n1 = grad_ref.clip_grads(g, 1.0)
    c5, _ = grad_ref.clip_grads(g, 5.0)
    c0, _ = grad_ref.clip_grads(g, 0.0)
    s = 1.0 / (5.0 + 1e-6)
    d = max(abs(n1 - 5.0), abs(c1["a"][0] - 3 * s), abs(c1["b"][0, 0] - 4 * s))
    report("(d) clip 1 at n = 5: g * 1/(5 + 1e-6)", d, 1e-15)
    require("(d) clip 5 at n = 5 (n > clip false) and clip 0 leave g alone",
            c5["a"][0] == 3 and c5["b"][0, 0] == 4 and c0["a"][0] == 3 and c0["b"][0, 0] == 4)
    tc = torch_like_clip(g, 5.0)
    require(f"(d) torch would scale at n = clip by {tc['a'][0] / 3:.9f}; the page does not",
            tc["a"][0] < 3 and c5["a"][0] == 3)

    # AdamW step 1 by hand: theta 1 (2-D, decayed) and 1 (1-D), g 0.5, lr 0.1, wd 0.1
    w = {"m2": np.array([[1.0]]), "v1": np.array([1.0])}
    gr = {"m2": np.array([[0.5]]), "v1": np.array([0.5])}
    w1, m1, v1, t1, _ = grad_ref.adamw_step(w, gr, None, None, 0, 0.1, 0.1, clip=0.0)
    upd = 0.1 * 0.5 / (math.sqrt(0.25) + 1e-8)  # m^ = 0.5, v^ = 0.25
    d = max(abs(w1["m2"][0, 0] - (0.99 - upd)), abs(w1["v1"][0] - (1.0 - upd)),
            abs(m1["m2"][0, 0] - 0.05), abs(v1["m2"][0, 0] - 0.05 * 0.25), abs(t1 - 1))
    report("(d) AdamW step 1 by hand (decay 1 - lr*wd on the 2-D tensor only)", d, 1e-16)

    # the decayed set of a model: every 2-D tensor, nothing else
    cfg = make_golden.case_config(dict(make_golden.CASES[9]))  # learned, qk_norm, biases, double
    names = [n for n, shape in ref.tensor_list(cfg) if grad_ref.is_decayed(n, shape)]
    want = [n for n, _ in ref.tensor_list(cfg)
            if n in ("tok_embeddings.weight", "pos_embeddings.weight", "output.weight")
            or re.search(r"\.w(q|k|v|o|_gate|_up|_down)\.weight$", n)]
    require(f"(d) decayed: embeddings, linear weights, output ({len(names)} of "
            f"{len(ref.tensor_list(cfg))}); no norm weight, bias, q/k norm", names == want)

    # AdamW against the torch transcription: 4 steps, a real model's tensors
    cfg, weights, batch = golden_case("pre_serial_rms_swiglu_rope_half_gqa_qkrms_f16")
    decayed = {n for n, s in ref.tensor_list(cfg) if len(s) == 2}
    rng = np.random.default_rng(5)
    a = {k: v.copy() for k, v in weights.items()}
    b = {k: v.copy() for k, v in weights.items()}
    m = v = None
    t, state, worst = 0, {}, 0.0
    for step in range(1, 5):
        grads = {k: rng.standard_normal(x.shape) * (0.01 if step == 3 else 1.0) for k, x in a.items()}
        grads["layers.0.attention.wq.weight"][0, :] = 0.0  # zero gradients: decay only
        lr_t = grad_ref.lr_at(step, 1e-2, 2, "cosine", 4, 1e-3)
        a, m, v, t, _ = grad_ref.adamw_step(a, grads, m, v, t, lr_t, 0.1, clip=1.0)
        b = torch_like_adamw(b, torch_like_clip(grads, 1.0), state, lr_t, 0.1, decayed)
        worst = max(worst, max(float(np.abs(a[k] - b[k]).max()) for k in a) / lr_t)
    report("(d) AdamW + clip vs the transcription of torch's code, 4 steps, |diff| / lr", worst, 1e-12)


# ---- (e) the golden files -----------------------------------------------------------

def read_meta(path):
    import json
    import struct
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n)).get("__metadata__", {})


def check_golden_files():
    names = train_names()
    require(f"(e) TRAIN_INDEX: the {len(make_golden.CASES)} cases of INDEX then "
            f"{len(make_golden.TRAIN_CASES)} training-only", names == [c["name"] for c in ALL_CASES])
    worst_g = worst_w = worst_loss = 0.0
    for k, name in enumerate(names):
        cfg, weights, batch = golden_case(name)
        base = os.path.join(GOLDEN, name)
        T = batch.shape[1] - 1
        inner = batch[:, 1:-1]
        require(f"(e) {short(name)} batch {batch.shape[0]}x{T + 1}: 0 and vocab-1 inside "
                f"(input and target), T <= max_seq",
                batch.shape[0] == 2 and 3 <= T <= cfg["max_seq"] and (inner == 0).sum() >= 2
                and (inner == cfg["vocab"] - 1).any())
        loss, grads = grad_ref.loss_and_grads(cfg, weights, batch)
        gold = ref.read_safetensors(base + ".grads.safetensors")
        meta = read_meta(base + ".grads.safetensors")
        shapes = {n: s for n, s in ref.tensor_list(cfg)}
        require(f"(e) {short(name)} grads: section 3's {len(shapes)} tensors, F32, loss in metadata",
                {n: g.shape for n, g in gold.items()} == shapes and set(meta) == {"loss"})
        worst_loss = max(worst_loss, abs(float(meta["loss"]) - loss))
        worst_g = max(worst_g, max(tensor_error(gold[n], grads[n]) for n in grads))

        hp = make_golden.train_settings(k)
        w, losses, lrs, norms = grad_ref.train(cfg, weights, batch, hp["steps"], hp["lr"],
                                               hp["warmup"], hp["schedule"], hp["total_steps"],
                                               hp["min_lr"], hp["clip"])
        gold = ref.read_safetensors(base + ".adamw.safetensors")
        meta = read_meta(base + ".adamw.safetensors")
        got = [float(x) for x in meta["losses"].split(",")]
        require(f"(e) {short(name)} adamw: {meta['schedule']}, clip {meta['clip']}, "
                f"wd {meta['weight_decay']}, losses fall {got[0]:.3f} > {got[-1]:.3f}",
                {n: x.shape for n, x in gold.items()} == shapes and len(got) == 3
                and got[0] > got[1] > got[2] and float(meta["lr"]) == hp["lr"]
                and int(meta["warmup"]) == hp["warmup"] and float(meta["clip"]) == hp["clip"]
                and meta["schedule"] == hp["schedule"]
                and float(meta["weight_decay"]) == cfg["weight_decay"]
                and [float(x) for x in meta["lrs"].split(",")] == lrs)
        worst_loss = max(worst_loss, max(abs(a - b) for a, b in zip(got, losses)),
                         abs(got[0] - loss))
        # |w - gold| against f32's half ulp of the weight
        worst_w = max(worst_w, max(float((np.abs(gold[n] - w[n]) / np.maximum(np.abs(w[n]), 1e-30)).max())
                                   for n in w))
    report("(e) golden grads recomputed: max |diff| / max |g| per tensor (f32 rounding, 2^-24, doubled for another BLAS)", worst_g, 2**-23)
    report("(e) golden losses (metadata) recomputed", worst_loss, 1e-12)
    report("(e) golden AdamW weights recomputed: relative (f32 rounding)", worst_w, 2**-23)


# ---- (f) optional: torch ---------------------------------------------------------------

def torch_forward(torch, cfg, W, tokens):
    """Section 2 in torch (float64), one window: logits [T, vocab]."""
    F = torch.nn.functional
    T, d, nh, nkv, hd = len(tokens), cfg["d_model"], cfg["n_head"], cfg["n_kv_head"], cfg["head_dim"]

    def N(p, x):
        if cfg["norm"] == "rmsnorm":
            return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + cfg["norm_eps"]) * W[p + ".weight"]
        return F.layer_norm(x, x.shape[-1:], W[p + ".weight"], W[p + ".bias"], cfg["norm_eps"])

    def lin(p, x):
        return F.linear(x, W[p + ".weight"], W[p + ".bias"] if ref.has_bias(cfg, p) else None)

    def cap(x, c):
        return c * torch.tanh(x / c) if c > 0 else x

    def rot(x):  # [heads, T, hd]
        ang = torch.from_numpy(ref.rope_angles(T, hd, cfg["rope_theta"]))
        c, s = torch.cos(ang), torch.sin(ang)
        if cfg["rope_style"] == "half":
            u, w = x[..., : hd // 2], x[..., hd // 2:]
            return torch.cat([u * c - w * s, u * s + w * c], -1)
        u, w = x[..., 0::2], x[..., 1::2]
        return torch.stack([u * c - w * s, u * s + w * c], -1).flatten(-2)

    def attn(i, x):
        p = f"layers.{i}.attention."
        q = lin(p + "wq", x).view(T, nh, hd).transpose(0, 1)
        k = lin(p + "wk", x).view(T, nkv, hd).transpose(0, 1)
        v = lin(p + "wv", x).view(T, nkv, hd).transpose(0, 1)
        if cfg["qk_norm"]:
            q, k = N(p + "q_norm", q), N(p + "k_norm", k)
        if cfg["position"] == "rope":
            q, k = rot(q), rot(k)
        k, v = k.repeat_interleave(nh // nkv, 0), v.repeat_interleave(nh // nkv, 0)
        s = cap(q @ k.transpose(1, 2) / math.sqrt(hd), cfg["attn_softcap"])
        s = s.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
        o = torch.softmax(s, -1) @ v
        return lin(p + "wo", o.transpose(0, 1).reshape(T, nh * hd))

    def ffn(i, x):
        p = f"layers.{i}.feed_forward."
        g = "tanh" if cfg["gelu"] == "tanh" else "none"
        up, act = lin(p + "w_up", x), cfg["activation"]
        if act == "relu":
            hid = torch.relu(up)
        elif act == "gelu":
            hid = F.gelu(up, approximate=g)
        elif act == "swiglu":
            hid = F.silu(lin(p + "w_gate", x)) * up
        else:
            hid = F.gelu(lin(p + "w_gate", x), approximate=g) * up
        return lin(p + "w_down", hid)

    tok = torch.tensor(tokens)
    h = W["tok_embeddings.weight"][tok] * (math.sqrt(d) if cfg["embed_scale"] == "sqrt" else 1.0)
    if cfg["position"] == "learned":
        h = h + W["pos_embeddings.weight"][:T]
    elif cfg["position"] == "sine":
        h = h + torch.from_numpy(ref.sine_table(T, d))
    for i in range(cfg["n_layer"]):
        pre, place = f"layers.{i}.", cfg["norm_place"]
        A, Fn = (lambda x: attn(i, x)), (lambda x: ffn(i, x))
        if cfg["block"] == "serial":
            if place == "pre":
                h = h + A(N(pre + "attention_norm", h))
                h = h + Fn(N(pre + "ffn_norm", h))
            elif place == "post":
                h = N(pre + "attention_norm", h + A(h))
                h = N(pre + "ffn_norm", h + Fn(h))
            else:
                h = h + N(pre + "attention_post_norm", A(N(pre + "attention_norm", h)))
                h = h + N(pre + "ffn_post_norm", Fn(N(pre + "ffn_norm", h)))
        elif place == "pre":
            n = N(pre + "attention_norm", h)
            h = h + A(n) + Fn(n)
        elif place == "post":
            h = N(pre + "attention_norm", h + A(h) + Fn(h))
        else:
            n = N(pre + "attention_norm", h)
            h = h + N(pre + "attention_post_norm", A(n)) + N(pre + "ffn_post_norm", Fn(n))
    if cfg["norm_place"] != "post":
        h = N("norm", h)
    out = W["tok_embeddings.weight" if cfg["tie_embeddings"] else "output.weight"]
    return cap(h @ out.T, cfg["logit_softcap"])


TORCH_GRAD_CASES = ("double_serial_rms_geglu_rope_softcaps_tied",
                    "pre_serial_rms_swiglu_rope_half_zloss_softcap_nodecay")


def check_torch():
    try:
        import torch
    except ImportError:
        print("skip (f) optional torch cross-checks: torch does not import")
        return
    torch.set_default_dtype(torch.float64)
    print(f"     (f) optional cross-checks with torch {torch.__version__}")
    for name in TORCH_GRAD_CASES:
        cfg, weights, batch = golden_case(name)
        W = {k: torch.tensor(v, requires_grad=True) for k, v in weights.items()}
        total, n = 0.0, 0
        for w in batch:
            logits = torch_forward(torch, cfg, W, w[:-1].tolist())
            lse = torch.logsumexp(logits, -1)
            ce = torch.nn.functional.cross_entropy(logits, torch.tensor(w[1:]), reduction="sum")
            total = total + ce + cfg["z_loss"] * (lse * lse).sum()
            n += len(w) - 1
        loss_t = total / n
        loss_t.backward()
        loss, grads = grad_ref.loss_and_grads(cfg, weights, batch)
        err = max(tensor_error(W[k].grad.numpy(), g, floor_of(grads)) for k, g in grads.items())
        report(f"(f) torch autograd {short(name)} grads (max rel per tensor)", err, 1e-12)
        report(f"(f) torch autograd {short(name)} loss", abs(loss_t.item() - loss), 1e-12)

    # torch.optim.AdamW + clip_grad_norm_ on a golden model, 3 real steps
    name = "pre_serial_ln_gelu_learned_tied_bias"
    cfg, weights, batch = golden_case(name)
    params = {k: torch.tensor(v, requires_grad=True) for k, v in weights.items()}
    groups = [{"params": [p for k, p in params.items() if p.dim() == 2], "weight_decay": cfg["weight_decay"]},
              {"params": [p for k, p in params.items() if p.dim() != 2], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=1e-2, betas=(0.9, 0.95), eps=1e-8)
    w, m, v, t, worst = dict(weights), None, None, 0, 0.0
    for step in range(1, 4):  # both get the gradient at grad_ref's weights
        lr_t = grad_ref.lr_at(step, 1e-2, 2, "cosine", 5, 1e-3)
        _, g = grad_ref.loss_and_grads(cfg, w, batch)
        for k, p in params.items():
            p.grad = torch.tensor(g[k])
        torch.nn.utils.clip_grad_norm_(list(params.values()), 1.0)
        for gr in opt.param_groups:
            gr["lr"] = lr_t
        opt.step()
        w, m, v, t, _ = grad_ref.adamw_step(w, g, m, v, t, lr_t, cfg["weight_decay"], clip=1.0)
        worst = max(worst, max(float(np.abs(params[k].detach().numpy() - w[k]).max()) for k in w) / lr_t)
    report(f"(f) torch.optim.AdamW + clip_grad_norm_ {name}, 3 steps, |diff| / lr", worst, 1e-12)


# ---- (g) information: an f32 implementation against the goldens --------------------

def f32_sensitivity():
    print("     (g) grad_ref in float32 (state in float32) against the float64 goldens: grads as")
    print("     max |diff| / max(max |g| of the tensor, 1e-3 max |g| of the model); AdamW as")
    print("     max |diff| / lr, apart from and then over the zero_grad_tensors of the metadata")
    print(f"     {'case':56s} {'grads':>8s} {'loss':>8s} {'adamw':>8s} {'zero-g':>8s}")
    worst = [0.0, 0.0, 0.0, 0.0]
    for k, name in enumerate(train_names()):
        cfg, weights, batch = golden_case(name)
        base = os.path.join(GOLDEN, name)
        loss32, g32 = grad_ref.loss_and_grads(cfg, weights, batch, np.float32)
        gold = {n: x.astype(np.float64) for n, x in ref.read_safetensors(base + ".grads.safetensors").items()}
        floor = floor_of(gold)
        gerr = max(tensor_error(g32[n].astype(np.float64), gold[n], floor) for n in gold)
        lerr = abs(loss32 - float(read_meta(base + ".grads.safetensors")["loss"]))
        hp = make_golden.train_settings(k)
        w32, _, _, _ = grad_ref.train(cfg, weights, batch, hp["steps"], hp["lr"], hp["warmup"],
                                      hp["schedule"], hp["total_steps"], hp["min_lr"], hp["clip"],
                                      dtype=np.float32)
        gold = ref.read_safetensors(base + ".adamw.safetensors")
        zero = set(filter(None, read_meta(base + ".adamw.safetensors")["zero_grad_tensors"].split(",")))
        d = {n: float(np.abs(w32[n].astype(np.float64) - gold[n]).max()) / hp["lr"] for n in gold}
        rest = max(v for n, v in d.items() if n not in zero)
        zg = max([d[n] for n in zero], default=0.0)
        row = [gerr, lerr, rest, zg]
        worst = [max(a, b) for a, b in zip(worst, row)]
        print(f"     {name:56s} " + " ".join(f"{x:8.1e}" for x in row))
    print(f"     {'worst':56s} " + " ".join(f"{x:8.1e}" for x in worst))


def main():
    quick = "--quick" in sys.argv[1:]
    check_loss()
    check_fd_tiny(quick)
    check_fd_golden()
    check_optimizer()
    check_golden_files()
    check_torch()
    f32_sensitivity()
    if failures:
        print(f"{len(failures)} check(s) FAILED")
        sys.exit(1)
    print("all training reference checks passed")


if __name__ == "__main__":
    main()
