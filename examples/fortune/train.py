#!/usr/bin/python3
"""Train examples/fortune: a ~0.8M-parameter llama2.c model on Debian's fortunes.

Run with Debian's python (it sees python3-sentencepiece, python3-torch, python3-numpy):

    /usr/bin/python3 examples/fortune/train.py

Writes, next to this file: tokenizer.model (SentencePiece), tokenizer.bin (llama2.c's
tokenizer.py `export` format), fortune.bin (llama2.c export.py `version1_export`),
expected.txt and expected_logits.npy (greedy continuations and logits of this file's own
torch model, for an end-to-end test of tfmc).

Everything is seeded and runs on one CPU thread; the result is reproducible on one
machine with one torch build, but bit-exact reproduction across machines is not promised.

Stages (--stages, all by default; data always runs):
  data       read /usr/share/games/fortunes, clean, dedupe, split off validation
  tokenizer  train the SentencePiece BPE model, export tokenizer.bin
  train      train the model, write fortune.bin
  expected   greedy continuations, logits, checks, from the model read back from fortune.bin
"""
import argparse
import math
import os
import re
import struct
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
FORTUNE_DIR = "/usr/share/games/fortunes"
SEED = 1337
VAL_EVERY = 20          # every 20th (deduplicated) fortune is validation: 5%
PROMPTS = ["Once upon a time", "The meaning of life is", "A computer"]
GEN_TOKENS = 64

# --------------------------------------------------------------------------- data


def fix_mojibake(line):
    """A few lines are UTF-8 that was encoded again as Latin-1 (once or twice): undo."""
    while re.search("[\x80-\xff]", line):
        try:
            fixed = line.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            break
        line = fixed
    return line


def clean(text):
    lines = []
    for line in text.split("\n"):
        # Backspace overstrike ("___\b\b\band" underlines "and"): keep what a terminal shows.
        out = []
        for ch in line:
            if ch == "\b":
                if out:
                    out.pop()
            elif ch != "\a":            # drop bells
                out.append(ch)
        line = fix_mojibake("".join(out))
        line = line.replace("\u2019", "'").replace("\u2018", "'")
        line = line.replace("\u201c", '"').replace("\u201d", '"')
        lines.append(line.rstrip())     # trailing blanks carry nothing
    return "\n".join(lines).strip("\n")


def load_fortunes():
    """All fortune files, sorted by name, one fortune per document, exact duplicates
    dropped (first occurrence kept). Returns (train_docs, val_docs, n_files)."""
    names = sorted(n for n in os.listdir(FORTUNE_DIR)
                   if not n.endswith((".dat", ".u8"))
                   and os.path.isfile(os.path.join(FORTUNE_DIR, n)))
    docs, seen = [], set()
    for name in names:
        with open(os.path.join(FORTUNE_DIR, name), encoding="utf-8") as f:
            text = f.read()
        # fortunes are separated by lines that are exactly "%"
        for raw in re.split(r"^%\n", text, flags=re.M):
            doc = clean(raw)
            if doc.strip() and doc not in seen:
                seen.add(doc)
                docs.append(doc)
    val = [d for i, d in enumerate(docs) if i % VAL_EVERY == 0]
    train = [d for i, d in enumerate(docs) if i % VAL_EVERY != 0]
    return train, val, len(names)

# ---------------------------------------------------------------------- tokenizer


def train_tokenizer(train_docs, vocab_size, prefix):
    """As llama2.c's tinystories.py train_vocab, with Llama's special ids spelled out,
    and remove_extra_whitespaces=False (as Llama's own tokenizer.model has it) so that
    fortunes keep their indentation and run.c's encode, which never normalizes, sees
    the same text SentencePiece does."""
    import sentencepiece as spm
    # Relative names, from inside the output folder: the trainer records its input and
    # model_prefix in tokenizer.model, which is then the same wherever this runs.
    out, name = os.path.split(os.path.abspath(prefix))
    cwd = os.getcwd()
    os.chdir(out)
    try:
        with open("fortunes-train.txt", "w", encoding="utf-8") as f:
            for d in train_docs:
                f.write(d + "\n")     # SentencePiece trains on lines
        spm.SentencePieceTrainer.train(
            input="fortunes-train.txt", model_prefix=name, model_type="bpe",
            vocab_size=vocab_size, self_test_sample_size=0, input_format="text",
            character_coverage=1.0, num_threads=1, split_digits=True,
            allow_whitespace_only_pieces=True, byte_fallback=True,
            unk_surface=r" \342\201\207 ", normalization_rule_name="identity",
            add_dummy_prefix=True, remove_extra_whitespaces=False,
            unk_id=0, bos_id=1, eos_id=2, pad_id=-1, minloglevel=2)
    finally:
        if os.path.exists("fortunes-train.txt"):
            os.remove("fortunes-train.txt")
        os.chdir(cwd)
    if os.path.exists(prefix + ".vocab"):
        os.remove(prefix + ".vocab")


def export_tokenizer(sp, path):
    """llama2.c tokenizer.py export, byte for byte."""
    tokens, scores = [], []
    for i in range(sp.get_piece_size()):
        t = sp.id_to_piece(i)
        s = sp.get_score(i)
        if i == sp.bos_id():
            t = "\n<s>\n"
        elif i == sp.eos_id():
            t = "\n</s>\n"
        t = t.replace("\u2581", " ")
        tokens.append(t.encode("utf-8"))
        scores.append(s)
    max_token_length = max(len(t) for t in tokens)
    with open(path, "wb") as f:
        f.write(struct.pack("I", max_token_length))
        for b, s in zip(tokens, scores):
            f.write(struct.pack("fI", s, len(b)))
            f.write(b)


def read_tokenizer_bin(path, vocab_size):
    with open(path, "rb") as f:
        data = f.read()
    (max_len,) = struct.unpack_from("i", data, 0)
    off, vocab, scores = 4, [], []
    for _ in range(vocab_size):
        s, n = struct.unpack_from("fi", data, off)
        off += 8
        vocab.append(data[off:off + n])
        scores.append(s)
        off += n
    assert off == len(data)
    return vocab, scores, max_len


def llama2c_encode(text, vocab, scores, bos=True, eos=False):
    """run.c's encode(), transcribed: dummy prefix " ", one token per UTF-8 codepoint
    (byte fallback id = byte + 3 when the codepoint is not a token), then merge the
    best-scoring adjacent pair, leftmost on ties, until no pair is a token."""
    lookup = {}
    for i, t in enumerate(vocab):
        lookup.setdefault(t, i)        # run.c's bsearch over sorted pieces; no dups here
    ids = [1] if bos else []
    raw = text.encode("utf-8")
    if raw:
        ids.append(lookup[b" "])
    i = 0
    while i < len(raw):
        j = i + 1
        while j < len(raw) and (raw[j] & 0xC0) == 0x80 and j - i < 4:
            j += 1
        cp = raw[i:j]
        if cp in lookup:
            ids.append(lookup[cp])
        else:
            ids.extend(b + 3 for b in cp)
        i = j
    while True:
        best, best_id, best_idx = -1e10, -1, -1
        for k in range(len(ids) - 1):
            m = lookup.get(vocab[ids[k]] + vocab[ids[k + 1]])
            if m is not None and scores[m] > best:
                best, best_id, best_idx = scores[m], m, k
        if best_idx == -1:
            break
        ids[best_idx:best_idx + 2] = [best_id]
    if eos:
        ids.append(2)
    return ids

# -------------------------------------------------------------------------- model


class Config:
    dim = 128
    n_layers = 4
    n_heads = 4
    n_kv_heads = 2
    vocab_size = 512
    multiple_of = 32
    max_seq_len = 256
    norm_eps = 1e-5

    @property
    def hidden_dim(self):       # llama2.c model.py's rule
        h = 4 * self.dim
        h = int(2 * h / 3)
        return self.multiple_of * ((h + self.multiple_of - 1) // self.multiple_of)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(head_dim, end, theta=10000.0):
    freqs = 1.0 / (theta ** (torch.arange(0, head_dim, 2)[: head_dim // 2].float() / head_dim))
    f = torch.outer(torch.arange(end).float(), freqs)
    return torch.cos(f), torch.sin(f)


def apply_rope(x, cos, sin):
    """x: [B, T, H, hd]; rotates the pairs (x[2i], x[2i+1]) as llama2.c does."""
    xr, xi = x[..., 0::2], x[..., 1::2]
    c = cos[None, :, None, :]
    s = sin[None, :, None, :]
    return torch.stack([xr * c - xi * s, xr * s + xi * c], dim=-1).flatten(-2)


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.nh, self.nkv = cfg.n_heads, cfg.n_kv_heads
        self.hd = cfg.dim // cfg.n_heads
        self.wq = nn.Linear(cfg.dim, self.nh * self.hd, bias=False)
        self.wk = nn.Linear(cfg.dim, self.nkv * self.hd, bias=False)
        self.wv = nn.Linear(cfg.dim, self.nkv * self.hd, bias=False)
        self.wo = nn.Linear(self.nh * self.hd, cfg.dim, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        q = apply_rope(self.wq(x).view(B, T, self.nh, self.hd), cos, sin)
        k = apply_rope(self.wk(x).view(B, T, self.nkv, self.hd), cos, sin)
        v = self.wv(x).view(B, T, self.nkv, self.hd)
        if self.nkv != self.nh:     # query head h reads kv head h // (nh / nkv)
            rep = self.nh // self.nkv
            k = k.repeat_interleave(rep, dim=2)
            v = v.repeat_interleave(rep, dim=2)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        att = (q * (1.0 / math.sqrt(self.hd))) @ k.transpose(-2, -1) + mask[:T, :T]
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, self.nh * self.hd)
        return self.wo(y)


class FeedForward(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.w1 = nn.Linear(cfg.dim, cfg.hidden_dim, bias=False)   # gate
        self.w2 = nn.Linear(cfg.hidden_dim, cfg.dim, bias=False)   # down
        self.w3 = nn.Linear(cfg.dim, cfg.hidden_dim, bias=False)   # up

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.attention_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.attention = Attention(cfg)
        self.ffn_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.feed_forward = FeedForward(cfg)

    def forward(self, x, cos, sin, mask):
        h = x + self.attention(self.attention_norm(x), cos, sin, mask)
        return h + self.feed_forward(self.ffn_norm(h))


class Transformer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.tok_embeddings = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.output = nn.Linear(cfg.dim, cfg.vocab_size, bias=False)
        self.output.weight = self.tok_embeddings.weight        # tied
        cos, sin = rope_tables(cfg.dim // cfg.n_heads, cfg.max_seq_len)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        mask = torch.full((cfg.max_seq_len, cfg.max_seq_len), float("-inf")).triu(1)
        self.register_buffer("mask", mask, persistent=False)
        # init as llama2.c's model.py: N(0, 0.02), residual projections scaled down
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02
                if name.endswith(("wo.weight", "w2.weight")):
                    std = 0.02 / math.sqrt(2 * cfg.n_layers)
                nn.init.normal_(p, mean=0.0, std=std)

    def forward(self, tokens):
        T = tokens.shape[1]
        h = self.tok_embeddings(tokens)
        cos, sin = self.cos[:T], self.sin[:T]
        for layer in self.layers:
            h = layer(h, cos, sin, self.mask)
        return self.output(self.norm(h))


def export_version1(model, path):
    """llama2.c export.py version1_export."""
    cfg = model.cfg
    with open(path, "wb") as f:
        f.write(struct.pack("I", 0x616B3432))
        f.write(struct.pack("i", 1))
        f.write(struct.pack("iiiiiii", cfg.dim, cfg.hidden_dim, cfg.n_layers, cfg.n_heads,
                            cfg.n_kv_heads, cfg.vocab_size, cfg.max_seq_len))
        shared = torch.equal(model.tok_embeddings.weight, model.output.weight)
        f.write(struct.pack("B", int(shared)))
        f.write(b"\0" * (256 - f.tell()))
        L = model.layers
        weights = [
            *[l.attention_norm.weight for l in L],
            *[l.ffn_norm.weight for l in L],
            model.norm.weight,
            model.tok_embeddings.weight,
            *[l.attention.wq.weight for l in L],
            *[l.attention.wk.weight for l in L],
            *[l.attention.wv.weight for l in L],
            *[l.attention.wo.weight for l in L],
            *[l.feed_forward.w1.weight for l in L],
            *[l.feed_forward.w2.weight for l in L],
            *[l.feed_forward.w3.weight for l in L],
        ]
        if not shared:
            weights.append(model.output.weight)
        for w in weights:
            f.write(w.detach().cpu().view(-1).to(torch.float32).numpy().tobytes())

def load_version1(path):
    """fortune.bin back into a Transformer (the expected stage runs on what was shipped)."""
    with open(path, "rb") as f:
        data = f.read()
    magic, version = struct.unpack_from("Ii", data, 0)
    assert magic == 0x616B3432 and version == 1
    cfg = Config()
    dims = struct.unpack_from("7i", data, 8)
    assert dims == (cfg.dim, cfg.hidden_dim, cfg.n_layers, cfg.n_heads, cfg.n_kv_heads,
                    cfg.vocab_size, cfg.max_seq_len), dims
    assert data[36] == 1        # shared classifier
    w = torch.from_numpy(np.frombuffer(data, dtype=np.float32, offset=256).copy())
    model = Transformer(cfg)
    L = model.layers
    params = [
        *[l.attention_norm.weight for l in L],
        *[l.ffn_norm.weight for l in L],
        model.norm.weight,
        model.tok_embeddings.weight,
        *[l.attention.wq.weight for l in L],
        *[l.attention.wk.weight for l in L],
        *[l.attention.wv.weight for l in L],
        *[l.attention.wo.weight for l in L],
        *[l.feed_forward.w1.weight for l in L],
        *[l.feed_forward.w2.weight for l in L],
        *[l.feed_forward.w3.weight for l in L],
    ]
    off = 0
    with torch.no_grad():
        for p in params:
            p.copy_(w[off:off + p.numel()].view_as(p))
            off += p.numel()
    assert off == w.numel()
    model.eval()
    return model


# ------------------------------------------------------------- run.c-style check


def runc_forward_all(path, ids):
    """An independent reading of fortune.bin: run.c's forward() in numpy (float64),
    one token at a time with a KV cache. Returns logits [len(ids), vocab]."""
    with open(path, "rb") as f:
        data = f.read()
    magic, version = struct.unpack_from("Ii", data, 0)
    assert magic == 0x616B3432 and version == 1
    dim, hidden, L, nh, nkv, V, S = struct.unpack_from("7i", data, 8)
    shared = data[36]
    w = np.frombuffer(data, dtype=np.float32, offset=256).astype(np.float64)
    hd, kvd = dim // nh, (dim // nh) * nkv
    off = 0

    def take(*shape):
        nonlocal off
        n = int(np.prod(shape))
        a = w[off:off + n].reshape(shape)
        off += n
        return a
    rms_att, rms_ffn, rms_final = take(L, dim), take(L, dim), take(dim)
    emb = take(V, dim)
    wq, wk, wv, wo = take(L, dim, dim), take(L, kvd, dim), take(L, kvd, dim), take(L, dim, dim)
    w1, w2, w3 = take(L, hidden, dim), take(L, dim, hidden), take(L, hidden, dim)
    wcls = emb if shared else take(V, dim)
    assert off == len(w), (off, len(w))

    def rms(x, g):
        return x / np.sqrt(np.mean(x * x) + 1e-5) * g
    kc = np.zeros((L, S, kvd))
    vc = np.zeros((L, S, kvd))
    out = []
    for pos, tok in enumerate(ids):
        x = emb[tok].copy()
        for l in range(L):
            xb = rms(x, rms_att[l])
            q, k, v = wq[l] @ xb, wk[l] @ xb, wv[l] @ xb
            for vec in (q, k):
                for i in range(0, vec.shape[0], 2):
                    freq = 1.0 / 10000.0 ** ((i % hd) / hd)
                    c, s = math.cos(pos * freq), math.sin(pos * freq)
                    a, b = vec[i], vec[i + 1]
                    vec[i], vec[i + 1] = a * c - b * s, a * s + b * c
            kc[l, pos], vc[l, pos] = k, v
            att_out = np.zeros(dim)
            for h in range(nh):
                kh = h // (nh // nkv)
                qh = q[h * hd:(h + 1) * hd]
                sc = kc[l, :pos + 1, kh * hd:(kh + 1) * hd] @ qh / math.sqrt(hd)
                sc = np.exp(sc - sc.max())
                sc /= sc.sum()
                att_out[h * hd:(h + 1) * hd] = sc @ vc[l, :pos + 1, kh * hd:(kh + 1) * hd]
            x = x + wo[l] @ att_out
            xb = rms(x, rms_ffn[l])
            g, u = w1[l] @ xb, w3[l] @ xb
            x = x + w2[l] @ (g / (1 + np.exp(-g)) * u)
        out.append(wcls @ rms(x, rms_final))
    return np.array(out)

# ----------------------------------------------------------------------- training


def get_lr(it, cfg):
    if it < cfg.warmup:
        return cfg.lr * (it + 1) / cfg.warmup
    r = (it - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.min_lr + 0.5 * (1 + math.cos(math.pi * min(r, 1.0))) * (cfg.lr - cfg.min_lr)


@torch.no_grad()
def eval_loss(model, stream, T, n_chunks=None, batch=32):
    """Mean next-token loss over consecutive non-overlapping windows of stream."""
    n = (len(stream) - 1) // T
    if n_chunks is not None:
        n = min(n, n_chunks)
    model.eval()
    tot, cnt = 0.0, 0
    for b in range(0, n, batch):
        idx = range(b, min(n, b + batch))
        x = torch.stack([torch.from_numpy(stream[i * T:i * T + T].astype(np.int64)) for i in idx])
        y = torch.stack([torch.from_numpy(stream[i * T + 1:i * T + T + 1].astype(np.int64)) for i in idx])
        logits = model(x)
        tot += F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1), reduction="sum").item()
        cnt += y.numel()
    model.train()
    return tot / cnt


def train(args, train_ids, val_ids):
    cfg = Config()
    torch.manual_seed(SEED)
    model = Transformer(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: dim {cfg.dim}, hidden {cfg.hidden_dim}, layers {cfg.n_layers}, heads "
          f"{cfg.n_heads}, kv heads {cfg.n_kv_heads}, vocab {cfg.vocab_size}, seq "
          f"{cfg.max_seq_len}: {n_params:,} parameters", flush=True)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    T, B = cfg.max_seq_len, args.batch
    gen = torch.Generator().manual_seed(SEED)
    data = torch.from_numpy(train_ids.astype(np.int64))
    hp = argparse.Namespace(lr=args.lr, min_lr=args.lr * 0.1, warmup=args.warmup, steps=args.steps)
    t0 = time.time()
    running = None
    for it in range(args.steps + 1):
        if it % args.eval_every == 0 or it == args.steps:
            vl = eval_loss(model, val_ids, T)
            print(f"step {it:5d}  train {running if running else float('nan'):.4f}  "
                  f"val {vl:.4f}  lr {get_lr(it, hp):.2e}  {time.time() - t0:7.1f}s", flush=True)
        if it == args.steps:
            break
        for g in opt.param_groups:
            g["lr"] = get_lr(it, hp)
        ix = torch.randint(len(data) - T - 1, (B,), generator=gen)
        x = torch.stack([data[i:i + T] for i in ix])
        y = torch.stack([data[i + 1:i + T + 1] for i in ix])
        logits = model(x)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
    minutes = (time.time() - t0) / 60
    tl = eval_loss(model, train_ids, T)
    vl = eval_loss(model, val_ids, T)
    print(f"done: {args.steps} steps of {B}x{T} tokens in {minutes:.1f} min; "
          f"train loss {tl:.4f}, val loss {vl:.4f}", flush=True)
    return model, dict(minutes=minutes, train_loss=tl, val_loss=vl, params=n_params)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--eval-every", type=int, default=200)
    ap.add_argument("--stages", default="data,tokenizer,train,expected")
    args = ap.parse_args()
    stages = args.stages.split(",")
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    os.makedirs(args.out, exist_ok=True)
    import sentencepiece as spm

    train_docs, val_docs, n_files = load_fortunes()
    print(f"data: {n_files} files, {len(train_docs) + len(val_docs)} distinct fortunes: "
          f"{len(train_docs)} train, {len(val_docs)} val", flush=True)

    prefix = os.path.join(args.out, "tokenizer")
    if "tokenizer" in stages:
        train_tokenizer(train_docs, Config.vocab_size, prefix)
        sp = spm.SentencePieceProcessor(model_file=prefix + ".model")
        export_tokenizer(sp, prefix + ".bin")
    sp = spm.SentencePieceProcessor(model_file=prefix + ".model")
    assert sp.get_piece_size() == Config.vocab_size
    assert (sp.unk_id(), sp.bos_id(), sp.eos_id(), sp.pad_id()) == (0, 1, 2, -1)

    def tokenize(docs):
        out = []
        for ids in sp.encode(docs):
            out.extend([sp.bos_id()] + ids + [sp.eos_id()])
        return np.array(out, dtype=np.uint16)
    train_ids, val_ids = tokenize(train_docs), tokenize(val_docs)
    n_chars = sum(len(d) for d in train_docs)
    print(f"tokens: {len(train_ids):,} train ({n_chars / len(train_ids):.2f} chars/token), "
          f"{len(val_ids):,} val", flush=True)

    if "train" in stages:
        model, _ = train(args, train_ids, val_ids)
        export_version1(model, os.path.join(args.out, "fortune.bin"))
    if "expected" in stages:
        write_expected(args.out, sp, load_version1(os.path.join(args.out, "fortune.bin")))


def escape(text):
    """One line: backslash, newline, tab and other control characters C-escaped."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append("\\x%02x" % ord(ch))
        else:
            out.append(ch)
    return "".join(out)


def write_expected(out, sp, model):
    """expected.txt: four lines per prompt: the prompt; its ids (BOS, then SentencePiece's
    encode, as run.c feeds it); the greedy ids after it (argmax of float32 logits, up to
    64, ending with EOS = 2 when the model chose it); the SentencePiece decode of all of
    them. Prompt and text are escaped to one line each (see escape()).
    expected_logits.npy: float32 [n, vocab], the logits at every position of prompt 1."""
    vocab, scores, _ = read_tokenizer_bin(os.path.join(out, "tokenizer.bin"), Config.vocab_size)

    lines, margins = [], []
    for n, prompt in enumerate(PROMPTS):
        ids = [sp.bos_id()] + sp.encode(prompt)
        l2c = llama2c_encode(prompt, vocab, scores)
        print(f"encode {prompt!r}: sentencepiece {ids}, llama2.c {l2c}: "
              f"{'same' if ids == l2c else 'DIFFERENT'}", flush=True)
        gen = []
        with torch.no_grad():
            if n == 0:
                logits = model(torch.tensor([ids]))[0].float().numpy()
                np.save(os.path.join(out, "expected_logits.npy"), logits.astype(np.float32))
                ref = runc_forward_all(os.path.join(out, "fortune.bin"), ids)
                print(f"fortune.bin read back as run.c does (float64, KV cache): max |logit "
                      f"diff| vs torch {np.abs(ref - logits).max():.2e}", flush=True)
            for _ in range(GEN_TOKENS):
                logits = model(torch.tensor([ids + gen]))[0, -1].float()
                top2 = torch.topk(logits, 2).values
                margins.append((top2[0] - top2[1]).item())
                nxt = int(torch.argmax(logits))
                gen.append(nxt)
                if nxt == sp.eos_id():
                    break
        text = sp.decode(ids + gen)
        lines += [escape(prompt), ",".join(map(str, ids)), ",".join(map(str, gen)), escape(text)]
        print(f"--- {prompt!r} ({len(gen)} tokens{', the last EOS' if gen[-1] == 2 else ''})"
              f"\n{text}\n", flush=True)
    print(f"smallest top-1/top-2 logit gap on the greedy paths: {min(margins):.2e}")
    with open(os.path.join(out, "expected.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")

    # run.c's encode against SentencePiece's on every validation fortune
    train_docs, val_docs, _ = load_fortunes()
    diff = [d for d in val_docs
            if [1] + sp.encode(d) != llama2c_encode(d, vocab, scores)]
    print(f"llama2.c encode vs SentencePiece on {len(val_docs)} val fortunes: "
          f"{len(diff)} differ", flush=True)
    for d in diff[:5]:
        print(f"  e.g. {d[:80]!r}")


if __name__ == "__main__":
    main()
