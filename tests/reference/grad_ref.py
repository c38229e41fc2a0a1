"""grad_ref.py: an independent plain-NumPy reference of tfmc training.

This is section 5 of /work/shared/MODEL_REFERENCE.md ("Training") in executable
form: the loss of a batch, its gradient with respect to every tensor of
section 3, gradient clipping, AdamW and the learning-rate schedule.  The
backward pass is written by hand, op by op, in reverse mode: every forward op
below returns its output and a closure `back(dy) -> dx` that also adds the
op's parameter gradients into G.  No autodiff library, nothing but NumPy, the
standard library and ref.py (for section 1 and 3 facts: has_bias, is_glu,
sine_table, rope_angles).  Everything is float64 unless a caller asks for
another dtype (check_grad.py runs it in float32 to estimate how far an f32
implementation may fall from the goldens).

    loss, grads = loss_and_grads(cfg, weights, batch)
    weights, m, v, t, norm = adamw_step(weights, grads, m, v, t, lr_t, cfg["weight_decay"])
    lr_t = lr_at(t, lr, warmup, schedule, total_steps, min_lr)

A batch is [B, T+1] token ids: window b has inputs batch[b, :T], targets
batch[b, 1:], causal attention within the window, positions 0..T-1.

Readings of the page where it leaves room (check_grad.py checks them):
  * Loss = mean over the B*T positions of CE + z_loss * lse^2, with lse and CE
    both taken on the final logits after the logit soft-cap (the page says
    "logits after the soft-cap"); CE = lse - logit[target].  The z-loss term is
    inside the same mean, so its gradient is 2 * z_loss * lse * softmax / (B*T).
  * Dropout is not modelled: the gradient is the one "asked for as such"
    (p = 0), whatever the spec's `dropout` says.
  * The gradient of a tied tok_embeddings.weight is the sum of the embedding
    scatter-add (times sqrt(d_model) when embed_scale = sqrt) and the output
    head's product.  Rows of pos_embeddings beyond T and rows of
    tok_embeddings of absent tokens get exactly 0.
  * relu'(0) = 0 (the derivative of max(x, 0) is taken as [x > 0]; no golden
    has a pre-activation of exactly 0, so this is not pinned).
  * Clipping: n = sqrt(sum over all tensors of sum g^2) (a tied tensor counted
    once, it is one tensor); if clip > 0 and n > clip, g <- g * clip/(n+1e-6).
    torch's clip_grad_norm_ multiplies by min(1, clip/(n+1e-6)), i.e. also
    when clip - 1e-6 < n <= clip; the page's "if n > clip" is followed here.
  * AdamW: the step counter t is the number of steps already taken (0 at the
    start); a step uses t+1 in the bias corrections and returns t+1, as
    torch's state["step"].  Decay uses lr_t (theta <- theta - lr_t*wd*theta)
    and is applied before the moment update; since the Adam update does not
    read theta the order does not change the result.  The moments see the
    clipped gradient.  Decayed: exactly the 2-D tensors (tok_embeddings,
    pos_embeddings, every linear weight, output.weight); weight_decay = 0
    turns decay off.  Elements with g = 0 at every step move by decay alone
    (m = v = 0 gives 0 / (0 + eps) = 0).
  * Schedule: lr_t = lr * t / W for t <= W (no warm-up when W = 0); then
    constant lr, or cosine min_lr + (lr - min_lr)(1 + cos(pi (t-W)/(S-W)))/2.
    The page defines the cosine only over S steps: t > S is an error here.
"""

import math

import numpy as np

import ref

BETA1, BETA2, EPS, CLIP = 0.9, 0.95, 1e-8, 1.0  # section 5's defaults
CLIP_EPS = 1e-6  # the "n + 1e-6" of the clipping rule


# ---------------------------------------------------------------------------
# Ops: each returns (y, back) with back(dy) -> dx, adding parameter
# gradients into G.  Activations are [B, T, width]; heads [B, T, heads, hd].

def norm(cfg, W, G, prefix, x):
    """The norm of type `norm` over the last axis (weights prefix.weight/.bias)."""
    w, eps = W[prefix + ".weight"], cfg["norm_eps"]
    lead = tuple(range(x.ndim - 1))  # every axis but the normalised one
    if cfg["norm"] == "rmsnorm":
        # y = x * r * w, r = (mean(x^2) + eps)^(-1/2)
        r = 1.0 / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)
        xh = x * r
    else:
        # y = (x - mu) * r * w + b, r = (var + eps)^(-1/2), biased var
        xc = x - np.mean(x, axis=-1, keepdims=True)
        r = 1.0 / np.sqrt(np.mean(xc * xc, axis=-1, keepdims=True) + eps)
        xh = xc * r
    y = xh * w
    if cfg["norm"] == "layernorm":
        y = y + W[prefix + ".bias"]

    def back(dy):
        G[prefix + ".weight"] += (dy * xh).sum(axis=lead)
        dxh = dy * w
        proj = np.mean(dxh * xh, axis=-1, keepdims=True)
        if cfg["norm"] == "rmsnorm":
            # dr/dx_j = -r^3 x_j / n  =>  dx = r (dxh - xh mean(dxh xh))
            return r * (dxh - xh * proj)
        G[prefix + ".bias"] += dy.sum(axis=lead)
        # the mean's and the variance's paths: dx = r (dxh - mean(dxh) - xh mean(dxh xh))
        return r * (dxh - np.mean(dxh, axis=-1, keepdims=True) - xh * proj)

    return y, back


def linear(cfg, W, G, prefix, x):
    """y = x W^T (+ b), W [out, in]."""
    w = W[prefix + ".weight"]
    bias = ref.has_bias(cfg, prefix)
    y = x @ w.T
    if bias:
        y = y + W[prefix + ".bias"]

    def back(dy):
        dy2 = dy.reshape(-1, w.shape[0])
        G[prefix + ".weight"] += dy2.T @ x.reshape(-1, w.shape[1])
        if bias:
            G[prefix + ".bias"] += dy2.sum(axis=0)
        return dy @ w

    return y, back


def softcap(s, c):
    """c tanh(s / c) (identity when c = 0); d/ds = 1 - tanh^2."""
    if not c > 0:
        return s, lambda dy: dy
    t = np.tanh(s / c)
    return c * t, lambda dy: dy * (1.0 - t * t)


def rotate(x, theta, style, sign):
    """RoPE of x [B, T, heads, hd] by angle sign * a (sign -1: the inverse)."""
    T, hd = x.shape[1], x.shape[-1]
    a = ref.rope_angles(T, hd, theta)[None, :, None, :].astype(x.dtype)
    cos, sin = np.cos(a), sign * np.sin(a)
    if style == "half":
        u, w = x[..., : hd // 2], x[..., hd // 2:]
    else:
        u, w = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    ru, rw = u * cos - w * sin, u * sin + w * cos
    if style == "half":
        out[..., : hd // 2], out[..., hd // 2:] = ru, rw
    else:
        out[..., 0::2], out[..., 1::2] = ru, rw
    return out


def rope(cfg, x):
    """A rotation is orthogonal: its backward is the rotation by -a."""
    theta, style = cfg["rope_theta"], cfg["rope_style"]
    return rotate(x, theta, style, 1.0), lambda dy: rotate(dy, theta, style, -1.0)


def attention(cfg, W, G, i, x):
    """Causal self-attention within each window of x [B, T, d_model]."""
    p = f"layers.{i}.attention."
    B, T, _ = x.shape
    nh, nkv, hd = cfg["n_head"], cfg["n_kv_head"], cfg["head_dim"]
    group = nh // nkv
    q, back_q = linear(cfg, W, G, p + "wq", x)
    k, back_k = linear(cfg, W, G, p + "wk", x)
    v, back_v = linear(cfg, W, G, p + "wv", x)
    q, k, v = q.reshape(B, T, nh, hd), k.reshape(B, T, nkv, hd), v.reshape(B, T, nkv, hd)
    back_qn = back_kn = back_qr = back_kr = None
    if cfg["qk_norm"]:  # over head_dim, one norm per kind shared by all heads
        q, back_qn = norm(cfg, W, G, p + "q_norm", q)
        k, back_kn = norm(cfg, W, G, p + "k_norm", k)
    if cfg["position"] == "rope":
        q, back_qr = rope(cfg, q)
        k, back_kr = rope(cfg, k)
    scale = 1.0 / math.sqrt(hd)
    future = np.triu(np.ones((T, T), dtype=bool), k=1)
    o = np.empty((B, T, nh, hd), dtype=x.dtype)
    probs, caps = [], []
    for h in range(nh):
        g = h // group  # g(h) = floor(h / (n_head / n_kv_head))
        s = q[:, :, h, :] @ k[:, :, g, :].transpose(0, 2, 1) * scale  # [B, pos, t]
        s, back_cap = softcap(s, cfg["attn_softcap"])
        s = np.where(future, -np.inf, s)
        e = np.exp(s - s.max(axis=-1, keepdims=True))
        pr = e / e.sum(axis=-1, keepdims=True)
        o[:, :, h, :] = pr @ v[:, :, g, :]
        probs.append(pr)
        caps.append(back_cap)
    y, back_o = linear(cfg, W, G, p + "wo", o.reshape(B, T, nh * hd))

    def back(dy):
        do = back_o(dy).reshape(B, T, nh, hd)
        dq, dk, dv = np.zeros_like(q), np.zeros_like(k), np.zeros_like(v)
        for h in range(nh):
            g, pr = h // group, probs[h]
            dv[:, :, g, :] += pr.transpose(0, 2, 1) @ do[:, :, h, :]
            dp = do[:, :, h, :] @ v[:, :, g, :].transpose(0, 2, 1)
            # softmax: ds = p (dp - sum_t p dp); masked entries have p = 0
            ds = pr * (dp - (pr * dp).sum(axis=-1, keepdims=True))
            ds = caps[h](ds) * scale
            dq[:, :, h, :] = ds @ k[:, :, g, :]
            dk[:, :, g, :] += ds.transpose(0, 2, 1) @ q[:, :, h, :]
        if back_qr:
            dq, dk = back_qr(dq), back_kr(dk)
        if back_qn:
            dq, dk = back_qn(dq), back_kn(dk)
        return (back_q(dq.reshape(B, T, nh * hd)) + back_k(dk.reshape(B, T, nkv * hd))
                + back_v(dv.reshape(B, T, nkv * hd)))

    return y, back


def erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x).astype(x.dtype)


def gelu(x, form):
    """gelu and its derivative, tanh or erf form."""
    if form == "tanh":
        c = math.sqrt(2.0 / math.pi)
        t = np.tanh(c * (x + 0.044715 * x**3))
        y = 0.5 * x * (1.0 + t)
        dy = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * c * (1.0 + 3 * 0.044715 * x * x)
        return y, dy
    phi = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)  # the normal density
    cdf = 0.5 * (1.0 + erf(x / math.sqrt(2.0)))
    return x * cdf, cdf + x * phi


def silu(x):
    """silu(x) = x sigmoid(x); d/dx = sigmoid(x) (1 + x (1 - sigmoid(x)))."""
    sg = 1.0 / (1.0 + np.exp(-x))
    return x * sg, sg * (1.0 + x * (1.0 - sg))


def feed_forward(cfg, W, G, i, x):
    p = f"layers.{i}.feed_forward."
    act = cfg["activation"]
    up, back_up = linear(cfg, W, G, p + "w_up", x)
    back_gate = None
    if act == "relu":
        hidden, d_up = np.maximum(up, 0.0), (up > 0).astype(x.dtype)
    elif act == "gelu":
        hidden, d_up = gelu(up, cfg["gelu"])
    else:  # swiglu, geglu: f(gate) * up
        gate, back_gate = linear(cfg, W, G, p + "w_gate", x)
        f, d_f = silu(gate) if act == "swiglu" else gelu(gate, cfg["gelu"])
        hidden = f * up
    y, back_down = linear(cfg, W, G, p + "w_down", hidden)

    def back(dy):
        dh = back_down(dy)
        if back_gate is None:
            return back_up(dh * d_up)
        return back_up(dh * f) + back_gate(dh * up * d_f)

    return y, back


def layer(cfg, W, G, i, h):
    """One block by `block` and `norm_place` (section 2's table), and its backward."""
    p = f"layers.{i}."
    N = lambda name, x: norm(cfg, W, G, p + name, x)
    Attn = lambda x: attention(cfg, W, G, i, x)
    FFN = lambda x: feed_forward(cfg, W, G, i, x)
    place = cfg["norm_place"]
    if cfg["block"] == "serial":
        if place == "pre":  # h1 = h + Attn(N_a(h)); h2 = h1 + FFN(N_f(h1))
            n1, b_n1 = N("attention_norm", h)
            a, b_a = Attn(n1)
            h1 = h + a
            n2, b_n2 = N("ffn_norm", h1)
            f, b_f = FFN(n2)

            def back(d):
                d1 = d + b_n2(b_f(d))
                return d1 + b_n1(b_a(d1))
            return h1 + f, back
        if place == "post":  # h1 = N_a(h + Attn(h)); h2 = N_f(h1 + FFN(h1))
            a, b_a = Attn(h)
            h1, b_n1 = N("attention_norm", h + a)
            f, b_f = FFN(h1)
            h2, b_n2 = N("ffn_norm", h1 + f)

            def back(d):
                du2 = b_n2(d)
                d1 = du2 + b_f(du2)
                du1 = b_n1(d1)
                return du1 + b_a(du1)
            return h2, back
        # double: h1 = h + P_a(Attn(N_a(h))); h2 = h1 + P_f(FFN(N_f(h1)))
        n1, b_n1 = N("attention_norm", h)
        a, b_a = Attn(n1)
        pa, b_pa = N("attention_post_norm", a)
        h1 = h + pa
        n2, b_n2 = N("ffn_norm", h1)
        f, b_f = FFN(n2)
        pf, b_pf = N("ffn_post_norm", f)

        def back(d):
            d1 = d + b_n2(b_f(b_pf(d)))
            return d1 + b_n1(b_a(b_pa(d1)))
        return h1 + pf, back
    # parallel: one norm N_a shared by both branches
    if place == "pre":  # n = N_a(h); h + Attn(n) + FFN(n)
        n, b_n = N("attention_norm", h)
        a, b_a = Attn(n)
        f, b_f = FFN(n)
        return h + a + f, lambda d: d + b_n(b_a(d) + b_f(d))
    if place == "post":  # N_a(h + Attn(h) + FFN(h))
        a, b_a = Attn(h)
        f, b_f = FFN(h)
        y, b_n = N("attention_norm", h + a + f)

        def back(d):
            du = b_n(d)
            return du + b_a(du) + b_f(du)
        return y, back
    # double: n = N_a(h); h + P_a(Attn(n)) + P_f(FFN(n))
    n, b_n = N("attention_norm", h)
    a, b_a = Attn(n)
    pa, b_pa = N("attention_post_norm", a)
    f, b_f = FFN(n)
    pf, b_pf = N("ffn_post_norm", f)
    return h + pa + pf, lambda d: d + b_n(b_a(b_pa(d)) + b_f(b_pf(d)))


def embed(cfg, W, G, tokens):
    """h = E[token] (* sqrt(d_model)) (+ P[pos] or S(pos)); tokens [B, T]."""
    T, d = tokens.shape[1], cfg["d_model"]
    s = math.sqrt(d) if cfg["embed_scale"] == "sqrt" else 1.0
    h = W["tok_embeddings.weight"][tokens] * s
    if cfg["position"] == "learned":
        h = h + W["pos_embeddings.weight"][:T]
    elif cfg["position"] == "sine":
        h = h + ref.sine_table(T, d).astype(h.dtype)

    def back(dh):
        # scatter-add: a token seen k times gets the sum of its k rows
        np.add.at(G["tok_embeddings.weight"], tokens.reshape(-1), dh.reshape(-1, d) * s)
        if cfg["position"] == "learned":
            G["pos_embeddings.weight"][:T] += dh.sum(axis=0)

    return h, back


def cross_entropy(logits, targets, z_loss):
    """mean over positions of lse - logit[target] + z_loss lse^2, and d/dlogits."""
    n = targets.size
    mx = logits.max(axis=-1, keepdims=True)
    e = np.exp(logits - mx)
    sum_e = e.sum(axis=-1, keepdims=True)
    lse = mx + np.log(sum_e)  # [B, T, 1]
    picked = np.take_along_axis(logits, targets[..., None], axis=-1)
    loss = np.sum(lse - picked + z_loss * lse * lse) / n
    # d lse / d logit = softmax; d(z lse^2) = 2 z lse softmax
    dlogits = (e / sum_e) * (1.0 + 2.0 * z_loss * lse)
    np.put_along_axis(dlogits, targets[..., None],
                      np.take_along_axis(dlogits, targets[..., None], axis=-1) - 1.0, axis=-1)
    return loss, dlogits / n


def forward_backward(cfg, weights, batch, dtype=np.float64):
    """(loss, grads, logits [B, T, vocab]) for batch [B, T+1] of token ids."""
    batch = np.asarray(batch, dtype=np.int64)
    if batch.ndim != 2 or batch.shape[1] < 2:
        raise ValueError("a batch is [B, T+1] token ids, T >= 1")
    if batch.shape[1] - 1 > cfg["max_seq"] or batch.min() < 0 or batch.max() >= cfg["vocab"]:
        raise ValueError("batch out of range")
    want = dict(ref.tensor_list(cfg))
    if {k: tuple(np.shape(v)) for k, v in weights.items()} != want:
        raise ValueError("weights are not section 3's tensors")
    W = {name: np.asarray(w, dtype=dtype) for name, w in weights.items()}
    G = {name: np.zeros_like(w) for name, w in W.items()}
    inputs, targets = batch[:, :-1], batch[:, 1:]

    h, back_embed = embed(cfg, W, G, inputs)
    backs = []
    for i in range(cfg["n_layer"]):
        h, b = layer(cfg, W, G, i, h)
        backs.append(b)
    back_final = None
    if cfg["norm_place"] != "post":  # post-norm models have no final norm
        h, back_final = norm(cfg, W, G, "norm", h)
    out = "tok_embeddings.weight" if cfg["tie_embeddings"] else "output.weight"
    raw = h @ W[out].T
    logits, back_cap = softcap(raw, cfg["logit_softcap"])
    loss, dlogits = cross_entropy(logits, targets, cfg["z_loss"])

    draw = back_cap(dlogits)
    G[out] += draw.reshape(-1, cfg["vocab"]).T @ h.reshape(-1, cfg["d_model"])  # tied: 2nd use
    dh = draw @ W[out]
    if back_final:
        dh = back_final(dh)
    for b in reversed(backs):
        dh = b(dh)
    back_embed(dh)
    return float(loss), G, logits


def loss_and_grads(cfg, weights, batch, dtype=np.float64):
    """Section 5's loss on batch [B, T+1] and its gradient {name: array}."""
    loss, grads, _ = forward_backward(cfg, weights, batch, dtype)
    return loss, grads


def zero_gradient_tensors(cfg):
    """Tensors whose gradient is 0 in exact arithmetic: whatever adds one
    vector b to every key of a head adds q.b to all of a query's scores, and
    softmax ignores that - unless RoPE rotates b differently at each position
    or the attention soft-cap bends the sum.  That is wk.bias without qk_norm,
    or k_norm.bias (layernorm) with it.  Computed, they hold rounding noise
    (~1e-18 here, far more in f32), which Adam scales up to steps of ~lr."""
    if cfg["position"] == "rope" or cfg["attn_softcap"] > 0:
        return []
    if cfg["qk_norm"]:
        name = "attention.k_norm.bias" if cfg["norm"] == "layernorm" else None
    else:
        name = "attention.wk.bias" if cfg["qkv_bias"] else None
    return [f"layers.{i}.{name}" for i in range(cfg["n_layer"])] if name else []


# ---------------------------------------------------------------------------
# Clipping, AdamW, schedule.

def is_decayed(name, shape):
    """Section 5: the 2-D tensors (linear weights, embeddings, output.weight)."""
    return len(shape) == 2


def global_norm(grads):
    return math.sqrt(sum(float(np.sum(np.asarray(g, dtype=np.float64) ** 2))
                         for g in grads.values()))


def clip_grads(grads, clip):
    """(clipped grads, n): g * clip/(n + 1e-6) when clip > 0 and n > clip."""
    n = global_norm(grads)
    if clip > 0 and n > clip:
        s = clip / (n + CLIP_EPS)
        return {k: g * s for k, g in grads.items()}, n
    return dict(grads), n


def adamw_step(weights, grads, m, v, t, lr_t, weight_decay,
               clip=CLIP, beta1=BETA1, beta2=BETA2, eps=EPS):
    """One step: t = steps taken so far (0 at first); m, v = None at first.
    Returns (weights, m, v, t + 1, n) with n the gradient norm before clipping."""
    grads, n = clip_grads(grads, clip)
    t += 1
    bc1, bc2 = 1.0 - beta1**t, 1.0 - beta2**t
    new_w, new_m, new_v = {}, {}, {}
    for name, theta in weights.items():
        theta = np.asarray(theta, dtype=np.float64)
        g = np.asarray(grads[name], dtype=np.float64)
        if is_decayed(name, theta.shape):
            theta = theta - lr_t * weight_decay * theta
        mm = (beta1 * m[name] if m else 0.0) + (1.0 - beta1) * g
        vv = (beta2 * v[name] if v else 0.0) + (1.0 - beta2) * g * g
        new_w[name] = theta - lr_t * (mm / bc1) / (np.sqrt(vv / bc2) + eps)
        new_m[name], new_v[name] = mm, vv
    return new_w, new_m, new_v, t, n


def lr_at(t, lr, warmup, schedule="constant", total_steps=None, min_lr=0.0):
    """Section 5's lr_t at step t = 1, 2, ..."""
    if t < 1:
        raise ValueError("steps count from 1")
    if t <= warmup:
        return lr * t / warmup
    if schedule == "constant":
        return lr
    if schedule != "cosine":
        raise ValueError(f"unknown schedule {schedule!r}")
    if total_steps is None or t > total_steps:
        raise ValueError("cosine is defined for t <= total_steps")
    return min_lr + 0.5 * (lr - min_lr) * (1.0 + math.cos(math.pi * (t - warmup) / (total_steps - warmup)))


def train(cfg, weights, batch, steps, lr, warmup, schedule="constant", total_steps=None,
          min_lr=0.0, clip=CLIP, dtype=np.float64):
    """`steps` AdamW steps on one fixed batch from fresh state (m = v = 0, t = 0).
    Returns (weights, losses, lrs, norms): losses[k] is the loss before step k+1."""
    w, m, v, t = dict(weights), None, None, 0
    losses, lrs, norms = [], [], []
    for _ in range(steps):
        loss, grads = loss_and_grads(cfg, w, batch, dtype)
        lr_t = lr_at(t + 1, lr, warmup, schedule, total_steps, min_lr)
        w, m, v, t, n = adamw_step(w, grads, m, v, t, lr_t, cfg["weight_decay"], clip)
        if dtype != np.float64:  # an implementation that keeps its state in dtype
            w = {k: x.astype(dtype) for k, x in w.items()}
            m = {k: x.astype(dtype) for k, x in m.items()}
            v = {k: x.astype(dtype) for k, x in v.items()}
        losses.append(loss)
        lrs.append(lr_t)
        norms.append(n)
    return w, losses, lrs, norms
