/* kernels.c: the runtime's precompiled kernels (norms, attention,
 * activations, and the table of them all), written once and built once per instruction set.
 *
 * The Makefile compiles this file three times, with -DTFM_ISA=scalar, avx2
 * or avx512 and that set's -m flags (and so the training's gemm.c and
 * train.c); every external name gets the set as a suffix (NAME(x) is
 * x_avx2), and each build defines one table, tfm_kernels_<isa>, here at the
 * end, that tfm_kernels_for (kernels_dispatch.c) hands out after checking
 * the CPU.  The code is GNU C vector extensions over a vector type vf of VL
 * floats; an instruction set is a few numbers and hooks (kernels_isa.h):
 * the width, fused multiply-add, loads and stores of a partial vector; the
 * tile shapes are each file's.  "scalar" is the x86-64 baseline: 16-byte
 * vectors, which SSE2 (or any target GCC knows) handles, with a separate
 * multiply and add.
 *
 * The matrix products are matmul.c's (inference) and gemm.c's (training);
 * this file has the rest of inference and the table.
 */
#include "kernels_isa.h"

/* ---- Norms ------------------------------------------------------------------ */

static void NAME(norm)(float *out, const float *in, const float *w, const float *b,
                       int rows, int width, float eps)
{
	for (int r = 0; r < rows; r++) {
		const float *x = in + (size_t)r * width;
		float *o = out + (size_t)r * width;
		float mean = 0.0f, inv;
		int k = 0;

		if (b) {
			mean = row_sum(x, width, 0, 0.0f) / (float)width;
			inv = 1.0f / sqrtf(row_sum(x, width, 1, mean) / (float)width + eps);
			const vf mv = vsplat(mean), iv = vsplat(inv);
			for (; k + VL <= width; k += VL)
				vstore(o + k, vfma((vload(x + k) - mv) * iv, vload(w + k), vload(b + k)));
			for (; k < width; k++)
				o[k] = (x[k] - mean) * inv * w[k] + b[k];
		} else {
			inv = 1.0f / sqrtf(row_sum(x, width, 1, 0.0f) / (float)width + eps);
			const vf iv = vsplat(inv);
			for (; k + VL <= width; k += VL)
				vstore(o + k, vload(x + k) * iv * vload(w + k));
			for (; k < width; k++)
				o[k] = x[k] * inv * w[k];
		}
	}
}

/* ---- Attention ---------------------------------------------------------------- */

/* Attention reads every cached key and value of its key/value head once per
 * query: from memory, for a long context.  So the queries that share a
 * key/value head (the heads of a GQA group, and the tokens of a chunk) go
 * through the cache together, AG at a time, one block of AB keys after
 * another: each block is read from memory once, then from cache.  (A head's
 * rows are n_kv_head * head_dim floats apart in the cache: short pieces far
 * apart, which this machine's memory serves at about a quarter of its
 * sequential bandwidth.)  The softmax
 * is the streaming one: a running maximum and sum per query, the output
 * rescaled when the maximum grows, so no query needs its scores of earlier
 * blocks.  Each query's arithmetic is the same whichever queries share its
 * pass, so results do not depend on the thread count. */
#define AB 64		/* keys per block */
#define AG 8		/* queries per pass */

/* Brings cache rows s0.. (up to AB of them, below end) into L2: the first
 * query of a pass calls it for the next block.  Rows of a few hundred bytes,
 * a power of two apart, are a pattern the hardware prefetchers miss. */
static void att_prefetch(const float *k, const float *v, int s0, int end, int ld, int d)
{
	for (int s = s0; s < end && s < s0 + AB; s++) {
		const float *kr = k + (size_t)s * ld, *vr = v + (size_t)s * ld;
		for (int c = 0; c < d; c += 16) {
			__builtin_prefetch(kr + c, 0, 2);
			__builtin_prefetch(vr + c, 0, 2);
		}
		__builtin_prefetch(kr + d - 1, 0, 2);
		__builtin_prefetch(vr + d - 1, 0, 2);
	}
}

/* o = o * c + sum of p[s] * v[s] for s < len, v's rows ld apart, head_dim d;
 * four keys per pass over o. */
static void att_accumulate(float *o, float c, const float *p, const float *v, int len, int ld, int d)
{
	const vf cv = vsplat(c);
	int k = 0;

	for (; k < d; k += VL) {
		const int m = d - k < VL ? d - k : VL;
		vf acc = (m == VL ? vload(o + k) : vload_part(o + k, m)) * cv;
		int s = 0;
		for (; s + 4 <= len; s += 4) {
			const float *v0 = v + (size_t)s * ld + k;
			if (m == VL) {
				acc = vfma(vsplat(p[s]), vload(v0), acc);
				acc = vfma(vsplat(p[s + 1]), vload(v0 + ld), acc);
				acc = vfma(vsplat(p[s + 2]), vload(v0 + 2 * ld), acc);
				acc = vfma(vsplat(p[s + 3]), vload(v0 + 3 * ld), acc);
			} else {
				acc = vfma(vsplat(p[s]), vload_part(v0, m), acc);
				acc = vfma(vsplat(p[s + 1]), vload_part(v0 + ld, m), acc);
				acc = vfma(vsplat(p[s + 2]), vload_part(v0 + 2 * ld, m), acc);
				acc = vfma(vsplat(p[s + 3]), vload_part(v0 + 3 * ld, m), acc);
			}
		}
		for (; s < len; s++) {
			const float *v0 = v + (size_t)s * ld + k;
			acc = vfma(vsplat(p[s]), m == VL ? vload(v0) : vload_part(v0, m), acc);
		}
		if (m == VL)
			vstore(o + k, acc);
		else
			vstore_part(o + k, acc, m);
	}
}

/* Queries (tokens tt[i], heads hh[i]), i < nq <= AG, all of key/value head
 * g: out = softmax(q . K * scale, soft-capped) V over cache rows
 * 0..pos+tt[i].  With dropout p > 0, each probability is kept with
 * probability 1 - p and scaled by 1 / (1 - p), the mask of key s for query
 * head h at position t being tfm_dropout_keep(seed, att_dropout_row(...) + s,
 * p): the normalizer sums them all, the values only the kept ones. */
static void att_pass(const tfm_attention *a, int g, const int *tt, const int *hh, int nq)
{
	const int d = a->head_dim, kvd = a->n_kv_head * d, qd = a->n_head * d;
	const float *kc = a->k_cache + (size_t)g * d, *vc = a->v_cache + (size_t)g * d;
	float sc[AG][AB], mx[AG], sum[AG], corr[AG];
	int len[AG], maxlen = 0;

	for (int i = 0; i < nq; i++) {
		len[i] = a->pos + tt[i] + 1;
		maxlen = len[i] > maxlen ? len[i] : maxlen;
		mx[i] = -INFINITY;
		sum[i] = 0.0f;
		memset(a->out + (size_t)tt[i] * qd + (size_t)hh[i] * d, 0, (size_t)d * sizeof(float));
	}
	for (int s0 = 0; s0 < maxlen; s0 += AB) {
		const float *kb = kc + (size_t)s0 * kvd, *vb = vc + (size_t)s0 * kvd;

		att_prefetch(kc, vc, s0 + AB, maxlen, kvd, d);

		/* scores, and the new maximum of each query */
		for (int i = 0; i < nq; i++) {
			const float *q = a->q + (size_t)tt[i] * qd + (size_t)hh[i] * d;
			const int bl = len[i] - s0 < AB ? len[i] - s0 : AB;
			float *s = sc[i], m = mx[i];
			int j = 0;
			if (bl <= 0)
				continue;
			for (; j + 4 <= bl; j += 4) {
				const float *k0 = kb + (size_t)j * kvd;
				v4 v = dot4(q, k0, k0 + kvd, k0 + 2 * kvd, k0 + 3 * kvd, d);
				memcpy(s + j, &v, sizeof v);
			}
			for (; j < bl; j++) {
				const float *k0 = kb + (size_t)j * kvd;
				s[j] = dot4(q, k0, k0, k0, k0, d)[0];
			}
			for (j = 0; j < bl; j++) {
				float x = s[j] * a->scale;
				if (a->softcap > 0.0f)
					x = a->softcap * tanhf(x / a->softcap);
				s[j] = x;
				m = x > m ? x : m;
			}
			corr[i] = expf(mx[i] - m);	/* 0 on the first block */
			mx[i] = m;
			float bs = 0.0f;
			for (j = 0; j < bl; j++) {
				s[j] = expf(s[j] - m);
				bs += s[j];
			}
			sum[i] = sum[i] * corr[i] + bs;
			if (a->dropout > 0.0f) {	/* the sum is of all, the values of the kept */
				const uint64_t row = att_dropout_row(hh[i], a->pos + a->n, a->pos + tt[i])
				                     + (uint64_t)s0;
				const float keep = 1.0f / (1.0f - a->dropout);
				for (j = 0; j < bl; j++)
					s[j] = tfm_dropout_keep(a->seed, row + (uint64_t)j, a->dropout)
					       ? s[j] * keep : 0.0f;
			}
		}
		/* the values */
		for (int i = 0; i < nq; i++) {
			const int bl = len[i] - s0 < AB ? len[i] - s0 : AB;
			if (bl > 0)
				att_accumulate(a->out + (size_t)tt[i] * qd + (size_t)hh[i] * d, corr[i],
				               sc[i], vb, bl, kvd, d);
		}
	}
	for (int i = 0; i < nq; i++) {
		float *o = a->out + (size_t)tt[i] * qd + (size_t)hh[i] * d;
		const float inv = 1.0f / sum[i];
		for (int k = 0; k < d; k++)
			o[k] *= inv;
	}
}

/* The queries are numbered key/value head first, then token, then head
 * within the group; thread i takes a contiguous share and goes through
 * it in passes of up to AG queries of one key/value head. */
static void attention_part(void *ctx, int i, int nt)
{
	const tfm_attention *a = ctx;
	const int group = a->n_head / a->n_kv_head;
	const long per_g = (long)a->n * group, total = per_g * a->n_kv_head;
	const long j1 = total * (i + 1) / nt;
	int tt[AG], hh[AG];

	for (long j = total * i / nt; j < j1;) {
		const int g = (int)(j / per_g);
		int nq = 0;
		for (; nq < AG && j < j1 && j / per_g == g; nq++, j++) {
			tt[nq] = (int)(j % per_g / group);
			hh[nq] = g * group + (int)(j % group);
		}
		att_pass(a, g, tt, hh, nq);
	}
}

static void NAME(attention)(tfm_pool *pool, const tfm_attention *a)
{
	if (a->n <= 0 || a->n_head <= 0)
		return;
	tfm_pool_run(pool, attention_part, (void *)a);
}

/* ---- Activations ---------------------------------------------------------------- */

static void NAME(glu)(float *h, const float *gate, long n, int act)
{
	/* One loop per function, so each is a plain loop the compiler can see. */
	switch (act) {
	case TFM_ACT_SILU:
		for (long i = 0; i < n; i++)
			h[i] *= act1(gate[i], TFM_ACT_SILU);
		break;
	case TFM_ACT_GELU_TANH:
		for (long i = 0; i < n; i++)
			h[i] *= act1(gate[i], TFM_ACT_GELU_TANH);
		break;
	case TFM_ACT_GELU_ERF:
		for (long i = 0; i < n; i++)
			h[i] *= act1(gate[i], TFM_ACT_GELU_ERF);
		break;
	}
}

static void NAME(act)(float *h, long n, int act)
{
	switch (act) {
	case TFM_ACT_RELU:
		for (long i = 0; i < n; i++)
			h[i] = act1(h[i], TFM_ACT_RELU);
		break;
	case TFM_ACT_SILU:
		for (long i = 0; i < n; i++)
			h[i] = act1(h[i], TFM_ACT_SILU);
		break;
	case TFM_ACT_GELU_TANH:
		for (long i = 0; i < n; i++)
			h[i] = act1(h[i], TFM_ACT_GELU_TANH);
		break;
	case TFM_ACT_GELU_ERF:
		for (long i = 0; i < n; i++)
			h[i] = act1(h[i], TFM_ACT_GELU_ERF);
		break;
	}
}

/* ---- The table ---------------------------------------------------------------- */

extern const tfm_kernels NAME(tfm_kernels);

const tfm_kernels NAME(tfm_kernels) = {
	.isa = STR(TFM_ISA),
	.matmul = NAME(matmul),
	.matmul_bf16 = NAME(matmul_bf16),
	.matmul_q = NAME(matmul_q),
	.matmul_qi8 = NAME(matmul_qi8),
	.norm = NAME(norm),
	.attention = NAME(attention),
	.glu = NAME(glu),
	.act = NAME(act),
	/* training: gemm.c and train.c */
	.gemm = NAME(gemm),
	.bias_backward = NAME(bias_backward),
	.norm_backward = NAME(norm_backward),
	.rope = NAME(rope),
	.attention_backward = NAME(attention_backward),
	.attention_window = NAME(attention_window),
	.glu_backward = NAME(glu_backward),
	.act_backward = NAME(act_backward),
	.softcap = NAME(softcap),
	.softcap_backward = NAME(softcap_backward),
	.add = NAME(add),
	.dropout = NAME(dropout),
	.dropout_backward = NAME(dropout_backward),
	.cross_entropy = NAME(cross_entropy),
	.embed_backward = NAME(embed_backward),
	.adamw = NAME(adamw),
	.sumsq = NAME(sumsq),
	.scale = NAME(scale),
};
