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
 * query: from memory, for a long context, where it is as many bytes per
 * token as the weights at a few thousand positions.  So the cache is laid
 * out a head at a time ([n_kv_head, max_seq, head_dim] per layer: a head's
 * keys are one sequential stream), and the queries that share a key/value
 * head (the heads of a GQA group, and the tokens of a chunk) go through it
 * together, AG at a time, one block of AB keys after another: each block is
 * read from memory once, then from cache.  (The hardware prefetchers follow
 * a head's keys and values as two streams: prefetching the next block by
 * hand gained nothing, blocks of 128 keys ran 5-10% faster than of 64.)
 * The cache holds floats, or halves (kv_dtype TFM_F16) widened as they are
 * loaded.  The softmax is the streaming one: a running maximum and sum per
 * query, the output rescaled when the maximum grows, so no query needs its
 * scores of earlier blocks.  Each query's arithmetic is the same whichever queries share its pass, so
 * results do not depend on the thread count. */
#define AB 128		/* keys per block */
#define AG 8		/* queries per pass */

/* VL elements of the cache at p + i as floats (H: the cache holds halves);
 * _part: the first m only, the others 0. */
INLINE vf kvload(const int H, const void *p, size_t i)
{
	return H ? vload_f16((const uint16_t *)p + i) : vload((const float *)p + i);
}

INLINE vf kvload_part(const int H, const void *p, size_t i, int m)
{
	if (H) {
		uint16_t h[VL] = { 0 };
		memcpy(h, (const uint16_t *)p + i, sizeof h[0] * (size_t)m);
		return vload_f16(h);
	}
	return vload_part((const float *)p + i, m);
}

/* q . k for the four keys at element i, i + st, i + 2 st, i + 3 st of k
 * (head_dim d). */
INLINE v4 att_dot4(const int H, const float *q, const void *k, size_t i, size_t st, int d)
{
	vf a0 = { 0 }, a1 = { 0 }, a2 = { 0 }, a3 = { 0 };
	int c = 0;

	for (; c + VL <= d; c += VL) {
		const vf qv = vload(q + c);
		a0 = vfma(kvload(H, k, i + c), qv, a0);
		a1 = vfma(kvload(H, k, i + st + c), qv, a1);
		a2 = vfma(kvload(H, k, i + 2 * st + c), qv, a2);
		a3 = vfma(kvload(H, k, i + 3 * st + c), qv, a3);
	}
	if (c < d) {
		const vf qv = vload_part(q + c, d - c);
		a0 = vfma(kvload_part(H, k, i + c, d - c), qv, a0);
		a1 = vfma(kvload_part(H, k, i + st + c, d - c), qv, a1);
		a2 = vfma(kvload_part(H, k, i + 2 * st + c, d - c), qv, a2);
		a3 = vfma(kvload_part(H, k, i + 3 * st + c, d - c), qv, a3);
	}
	return reduce4(a0, a1, a2, a3);
}

/* q . k for the eight keys in a row at element i (head_dim d, whole
 * vectors): eight independent chains, the sums as att_dot4's. */
INLINE void att_dot8(const int H, const float *q, const void *k, size_t i, int d, float *s)
{
	vf a[8] = { { 0 } };

	for (int c = 0; c < d; c += VL) {
		const vf qv = vload(q + c);
#pragma GCC unroll 8
		for (int j = 0; j < 8; j++)
			a[j] = vfma(kvload(H, k, i + (size_t)j * d + c), qv, a[j]);
	}
	const v4 lo = reduce4(a[0], a[1], a[2], a[3]), hi = reduce4(a[4], a[5], a[6], a[7]);
	memcpy(s, &lo, sizeof lo);
	memcpy(s + 4, &hi, sizeof hi);
}

/* o[0..NV*VL-1] = o * c + sum of p[s] * v[s] over s < len, the rows of v d
 * apart from element i: the NV vectors of o in registers, each row of v
 * read once, in order (NV independent chains of fused products). */
INLINE void att_acc_vectors(const int H, const int NV, float *o, float c, const float *p, const void *v,
                            size_t i, int len, int d)
{
	vf acc[8];

#pragma GCC unroll 8
	for (int j = 0; j < NV; j++)
		acc[j] = vload(o + j * VL) * vsplat(c);
	for (int s = 0; s < len; s++, i += (size_t)d) {
		const vf ps = vbroadcast(p[s]);
#pragma GCC unroll 8
		for (int j = 0; j < NV; j++)
			acc[j] = vfma(ps, kvload(H, v, i + (size_t)j * VL), acc[j]);
	}
#pragma GCC unroll 8
	for (int j = 0; j < NV; j++)
		vstore(o + j * VL, acc[j]);
}

/* o = o * c + sum of p[s] * v[s] for s < len, the rows of v d apart from
 * element i: up to 8 vectors of o at a time; a head_dim that is not whole
 * vectors a vector at a time, the last one partial. */
INLINE void att_accumulate(const int H, float *o, float c, const float *p, const void *v, size_t i,
                           int len, int d)
{
	int k = 0;

	if (d % VL == 0)
		for (; k < d; k += 8 * VL) {
			switch ((d - k) / VL < 8 ? (d - k) / VL : 8) {
#define ACC(nv) case nv: att_acc_vectors(H, nv, o + k, c, p, v, i + (size_t)k, len, d); break;
			ACC(1) ACC(2) ACC(3) ACC(4) ACC(5) ACC(6) ACC(7) ACC(8)
#undef ACC
			}
		}
	for (; k < d; k += VL) {
		const int m = d - k < VL ? d - k : VL;
		vf acc = (m == VL ? vload(o + k) : vload_part(o + k, m)) * vsplat(c);
		for (int s = 0; s < len; s++) {
			const size_t at = i + (size_t)s * d + (size_t)k;
			acc = vfma(vsplat(p[s]), m == VL ? kvload(H, v, at) : kvload_part(H, v, at, m), acc);
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
 * p): the normalizer sums them all, the values only the kept ones.  H: the
 * cache holds halves. */
INLINE void att_pass(const int H, const tfm_attention *a, int g, const int *tt, const int *hh, int nq)
{
	const int d = a->head_dim, qd = a->n_head * d;
	const size_t head = (size_t)g * a->max_seq * d;	/* head g's first element */
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
		const size_t at = head + (size_t)s0 * d;

		/* scores, and the new maximum of each query */
		for (int i = 0; i < nq; i++) {
			const float *q = a->q + (size_t)tt[i] * qd + (size_t)hh[i] * d;
			const int bl = len[i] - s0 < AB ? len[i] - s0 : AB;
			float *s = sc[i];
			int j = 0;
			if (bl <= 0)
				continue;
			if (d % VL == 0)
				for (; j + 8 <= bl; j += 8)
					att_dot8(H, q, a->k_cache, at + (size_t)j * d, d, s + j);
			for (; j + 4 <= bl; j += 4) {
				v4 v = att_dot4(H, q, a->k_cache, at + (size_t)j * d, (size_t)d, d);
				memcpy(s + j, &v, sizeof v);
			}
			for (; j < bl; j++)
				s[j] = att_dot4(H, q, a->k_cache, at + (size_t)j * d, 0, d)[0];
			/* scaled, soft-capped; their maximum, the lanes past bl -inf */
			vf m = vbroadcast(mx[i]);
			for (j = 0; j < bl; j += VL) {
				typedef int vm __attribute__((vector_size(VL * 4)));
				const int l = bl - j < VL ? bl - j : VL;
				vf x = (l == VL ? vload(s + j) : vload_part(s + j, l)) * vbroadcast(a->scale);
				if (a->softcap > 0.0f)
					for (int k = 0; k < l; k++)
						x[k] = a->softcap * tanhf(x[k] / a->softcap);
				if (l == VL)
					vstore(s + j, x);
				else
					vstore_part(s + j, x, l);
				const vm in = (vm){ VL_IOTA } < l;
				m = vmax(m, (vf)(((vm)x & in) | ((vm)vbroadcast(-INFINITY) & ~in)));
			}
			float mxi = m[0];
			for (int k = 1; k < VL; k++)
				mxi = m[k] > mxi ? m[k] : mxi;
			corr[i] = expf(mx[i] - mxi);	/* 0 on the first block */
			mx[i] = mxi;
			vf bs = { 0 };
			for (j = 0; j < bl; j += VL) {
				const int l = bl - j < VL ? bl - j : VL;
				const vf e = vfirst(vexp((l == VL ? vload(s + j) : vload_part(s + j, l)) - vbroadcast(mxi)), l);
				if (l == VL)
					vstore(s + j, e);
				else
					vstore_part(s + j, e, l);
				bs += e;
			}
			sum[i] = sum[i] * corr[i] + reduce4(bs, bs, bs, bs)[0];
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
				att_accumulate(H, a->out + (size_t)tt[i] * qd + (size_t)hh[i] * d, corr[i],
				               sc[i], a->v_cache, at, bl, d);
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
	const int group = a->n_head / a->n_kv_head, half = a->kv_dtype == TFM_F16;
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
		if (half)
			att_pass(1, a, g, tt, hh, nq);
		else
			att_pass(0, a, g, tt, hh, nq);
	}
}

static void NAME(attention)(tfm_pool *pool, const tfm_attention *a)
{
	if (a->n <= 0 || a->n_head <= 0)
		return;
	tfm_pool_run(pool, attention_part, (void *)a);
}

static void NAME(kv_store)(void *k_cache, void *v_cache, const float *k, const float *v, int n, int pos,
                           int n_kv_head, int head_dim, int max_seq, int dtype)
{
	const int kvd = n_kv_head * head_dim;

	for (int t = 0; t < n; t++)
		for (int g = 0; g < n_kv_head; g++) {
			const size_t at = ((size_t)g * max_seq + (size_t)(pos + t)) * head_dim;
			const float *ks = k + (size_t)t * kvd + (size_t)g * head_dim;
			const float *vs = v + (size_t)t * kvd + (size_t)g * head_dim;
			if (dtype != TFM_F16) {
				memcpy((float *)k_cache + at, ks, sizeof(float) * (size_t)head_dim);
				memcpy((float *)v_cache + at, vs, sizeof(float) * (size_t)head_dim);
				continue;
			}
			uint16_t *kd = (uint16_t *)k_cache + at, *vd = (uint16_t *)v_cache + at;
			int c = 0;
			for (; c + VL <= head_dim; c += VL) {
				vstore_f16(kd + c, vload(ks + c));
				vstore_f16(vd + c, vload(vs + c));
			}
			for (; c < head_dim; c++) {
				kd[c] = tfm_f32_to_f16(ks[c]);
				vd[c] = tfm_f32_to_f16(vs[c]);
			}
		}
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
	.kv_store = NAME(kv_store),
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
