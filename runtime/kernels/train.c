/* train.c: the kernels of training other than the matrix product (gemm.c):
 * the backward of every forward kernel, the loss, dropout, the embedding's
 * backward and the optimizer, built once per instruction set like
 * kernels.c (kernels_isa.h).
 *
 * What is split over the pool's threads gives the same bits at any thread
 * count: each output element is computed by one thread in an order fixed by
 * the data alone.  Sums over rows into one vector (a norm's dw and db) are
 * made by threads that split the columns, each running the rows in order;
 * the loss is summed by the calling thread, row after row.
 *
 * No kernel allocates but through the gemm (its packed blocks, taken per
 * call, attention_backward's products included): other working space comes
 * from the caller (attention_backward's scratch) or is a small buffer on the
 * stack.
 */
#include "kernels_isa.h"

/* [lo, hi) of n items, share i of nt, whole units of `unit` (the last may
 * be short). */
static void tr_share(long n, int unit, int i, int nt, long *lo, long *hi)
{
	const long units = (n + unit - 1) / unit;

	*lo = units * i / nt * unit;
	*hi = units * (i + 1) / nt * unit;
	if (*hi > n)
		*hi = n;
	if (*lo > n)
		*lo = n;
}

/* ---- Elementwise ------------------------------------------------------------- */

void NAME(add)(float *y, const float *a, const float *b, long n)
{
	long i = 0;

	for (; i + VL <= n; i += VL)
		vstore(y + i, vload(a + i) + vload(b + i));
	for (; i < n; i++)
		y[i] = a[i] + b[i];
}

void NAME(scale)(float *x, long n, float s)
{
	const vf sv = vbroadcast(s);
	long i = 0;

	for (; i + VL <= n; i += VL)
		vstore(x + i, vload(x + i) * sv);
	for (; i < n; i++)
		x[i] *= s;
}

/* Four accumulators of VL doubles, each float squared exactly (24-bit
 * significands), summed ((a0 + a1) + (a2 + a3)), then the lanes in order,
 * then the tail in order. */
double NAME(sumsq)(const float *x, long n)
{
	typedef double vd __attribute__((vector_size(VL * 8)));
	vd a0 = { 0 }, a1 = { 0 }, a2 = { 0 }, a3 = { 0 };
	double s = 0;
	long i = 0;

	for (; i + 4 * VL <= n; i += 4 * VL) {
		vd x0 = __builtin_convertvector(vload(x + i), vd);
		vd x1 = __builtin_convertvector(vload(x + i + VL), vd);
		vd x2 = __builtin_convertvector(vload(x + i + 2 * VL), vd);
		vd x3 = __builtin_convertvector(vload(x + i + 3 * VL), vd);
		a0 += x0 * x0;
		a1 += x1 * x1;
		a2 += x2 * x2;
		a3 += x3 * x3;
	}
	a0 = (a0 + a1) + (a2 + a3);
	for (int l = 0; l < VL; l++)
		s += a0[l];
	for (; i < n; i++)
		s += (double)x[i] * x[i];
	return s;
}

/* Inverted dropout: the kept elements scaled by 1 / (1 - p), that factor
 * rounded to a float once (as attention does). */
void NAME(dropout)(float *y, const float *x, long n, float p, uint64_t seed)
{
	const float keep = 1.0f / (1.0f - p);

	if (n <= 0)
		return;
	if (p <= 0.0f) {
		if (y != x)
			memmove(y, x, sizeof(float) * (size_t)n);
		return;
	}
	for (long i = 0; i < n; i++)
		y[i] = tfm_dropout_keep(seed, (uint64_t)i, p) ? x[i] * keep : 0.0f;
}

void NAME(dropout_backward)(float *dx, const float *dy, long n, float p, uint64_t seed)
{
	const float keep = 1.0f / (1.0f - p);

	if (p <= 0.0f) {
		NAME(add)(dx, dx, dy, n);
		return;
	}
	for (long i = 0; i < n; i++)
		if (tfm_dropout_keep(seed, (uint64_t)i, p))
			dx[i] += dy[i] * keep;
}

void NAME(softcap)(float *x, long n, float c)
{
	for (long i = 0; i < n; i++)
		x[i] = c * tanhf(x[i] / c);
}

void NAME(softcap_backward)(float *dx, const float *y, const float *dy, long n, float c)
{
	const float ic = 1.0f / c;

	for (long i = 0; i < n; i++) {
		const float t = y[i] * ic;
		dx[i] += dy[i] * (1.0f - t * t);
	}
}

/* ---- Activations' backward ------------------------------------------------------ */

/* act'(x), of act1's formulas. */
INLINE float act_grad1(float x, int act)
{
	switch (act) {
	case TFM_ACT_RELU:
		return x > 0.0f ? 1.0f : 0.0f;
	case TFM_ACT_SILU: {
		const float s = 1.0f / (1.0f + expf(-x));
		return s * (1.0f + x * (1.0f - s));
	}
	case TFM_ACT_GELU_TANH: {
		const float k0 = 0.7978845608028654f, k1 = 0.044715f;
		const float th = tanhf(k0 * (x + k1 * x * x * x));
		return 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * k0 * (1.0f + 3.0f * k1 * x * x);
	}
	case TFM_ACT_GELU_ERF:
		return 0.5f * (1.0f + erff(x * 0.7071067811865476f)) +
		       x * 0.3989422804014327f * expf(-0.5f * x * x);
	}
	return 0.0f;
}

void NAME(glu_backward)(float *dgate, float *dup, const float *gate, const float *up,
                        const float *dh, long n, int act)
{
	/* one loop per function, as glu does */
#define GLU_BACKWARD(A) \
	for (long i = 0; i < n; i++) { \
		const float g = gate[i], d = dh[i]; \
		dgate[i] += d * up[i] * act_grad1(g, A); \
		dup[i] += d * act1(g, A); \
	}
	switch (act) {
	case TFM_ACT_RELU:
		GLU_BACKWARD(TFM_ACT_RELU)
		break;
	case TFM_ACT_SILU: {	/* SwiGLU's: in vectors, e^-x by vexp (libm's expf is a call a float) */
		const vf one = vbroadcast(1.0f);
		for (long i = 0; i < n; i += VL) {
			const int m = n - i < VL ? (int)(n - i) : VL;
			const vf g = m == VL ? vload(gate + i) : vload_part(gate + i, m);
			const vf d = m == VL ? vload(dh + i) : vload_part(dh + i, m);
			const vf u = m == VL ? vload(up + i) : vload_part(up + i, m);
			const vf e = one + vexp(-g), sg = one / e;
			const vf dg = (m == VL ? vload(dgate + i) : vload_part(dgate + i, m))
			              + d * u * (sg * (one + g * (one - sg)));
			const vf du = (m == VL ? vload(dup + i) : vload_part(dup + i, m)) + d * (g / e);
			if (m == VL) {
				vstore(dgate + i, dg);
				vstore(dup + i, du);
			} else {
				vstore_part(dgate + i, dg, m);
				vstore_part(dup + i, du, m);
			}
		}
		break;
	}
	case TFM_ACT_GELU_TANH:
		GLU_BACKWARD(TFM_ACT_GELU_TANH)
		break;
	case TFM_ACT_GELU_ERF:
		GLU_BACKWARD(TFM_ACT_GELU_ERF)
		break;
	}
#undef GLU_BACKWARD
}

void NAME(act_backward)(float *dx, const float *x, const float *dh, long n, int act)
{
#define ACT_BACKWARD(A) \
	for (long i = 0; i < n; i++) \
		dx[i] += dh[i] * act_grad1(x[i], A);
	switch (act) {
	case TFM_ACT_RELU:
		ACT_BACKWARD(TFM_ACT_RELU)
		break;
	case TFM_ACT_SILU:
		ACT_BACKWARD(TFM_ACT_SILU)
		break;
	case TFM_ACT_GELU_TANH:
		ACT_BACKWARD(TFM_ACT_GELU_TANH)
		break;
	case TFM_ACT_GELU_ERF:
		ACT_BACKWARD(TFM_ACT_GELU_ERF)
		break;
	}
#undef ACT_BACKWARD
}

/* ---- Bias, norm -------------------------------------------------------------------- */

/* Row after row: db[c] = ((db[c] + dy[0, c]) + dy[1, c]) + ... */
void NAME(bias_backward)(float *db, const float *dy, int n, int width)
{
	for (int r = 0; r < n; r++) {
		const float *y = dy + (size_t)r * width;
		int c = 0;
		for (; c + VL <= width; c += VL)
			vstore(db + c, vload(db + c) + vload(y + c));
		for (; c < width; c++)
			db[c] += y[c];
	}
}

/* Rows per pass of norm_backward: each pass computes the rows' statistics
 * (threads split the rows), then adds the rows' shares to dw and db
 * (threads split the columns). */
#define NB_ROWS 512

typedef struct nb_job {
	float *din, *dw, *db;
	const float *dout, *in, *w;
	int rows, width;	/* of this pass: rows r0.. */
	int r0;
	float eps;
	float mean[NB_ROWS], inv[NB_ROWS];	/* per row of the pass; mean 0 for rmsnorm */
} nb_job;

/* din of rows, as norm computes the forward:
 *   xhat = (x - mean) * inv, g = dout * w,
 *   din += inv * (g - mean(g) - xhat * mean(g * xhat))   (layernorm)
 *   din += inv * (g - xhat * mean(g * xhat))             (rmsnorm) */
static void nb_rows(void *ctx, int i, int nt)
{
	nb_job *j = ctx;
	const int width = j->width, ln = j->db != NULL;
	long lo, hi;

	tr_share(j->rows, 1, i, nt, &lo, &hi);
	for (long r = lo; r < hi; r++) {
		const size_t off = (size_t)(j->r0 + r) * width;
		const float *x = j->in + off, *dy = j->dout + off;
		float *dx = j->din + off;
		float mean = 0.0f, inv, sg = 0.0f, sgx = 0.0f;

		if (ln) {
			mean = row_sum(x, width, 0, 0.0f) / (float)width;
			inv = 1.0f / sqrtf(row_sum(x, width, 1, mean) / (float)width + j->eps);
		} else {
			inv = 1.0f / sqrtf(row_sum(x, width, 1, 0.0f) / (float)width + j->eps);
		}
		j->mean[r] = mean;
		j->inv[r] = inv;
		{
			const vf mv = vbroadcast(mean), iv = vbroadcast(inv);
			vf ag = { 0 }, agx = { 0 };
			int c = 0;
			for (; c + VL <= width; c += VL) {
				const vf g = vload(dy + c) * vload(j->w + c);
				const vf xh = (vload(x + c) - mv) * iv;
				ag += g;
				agx = vfma(g, xh, agx);
			}
			if (c < width) {
				const int m = width - c;
				const vf g = vload_part(dy + c, m) * vload_part(j->w + c, m);
				const vf xh = vfirst((vload_part(x + c, m) - mv) * iv, m);
				ag += g;
				agx = vfma(g, xh, agx);
			}
			v4 s = reduce4(ag, agx, ag, agx);
			sg = s[0];
			sgx = s[1];
		}
		const float mg = ln ? sg / (float)width : 0.0f, mgx = sgx / (float)width;
		const vf mv = vbroadcast(mean), iv = vbroadcast(inv);
		const vf mgv = vbroadcast(mg), mgxv = vbroadcast(mgx);
		int c = 0;
		for (; c + VL <= width; c += VL) {
			const vf g = vload(dy + c) * vload(j->w + c);
			const vf xh = (vload(x + c) - mv) * iv;
			vstore(dx + c, vload(dx + c) + iv * ((g - mgv) - xh * mgxv));
		}
		for (; c < width; c++) {
			const float g = dy[c] * j->w[c], xh = (x[c] - mean) * inv;
			dx[c] += inv * ((g - mg) - xh * mgx);
		}
	}
}

/* dw += dout * xhat and db += dout over the pass's rows in order, for
 * this thread's columns. */
static void nb_cols(void *ctx, int i, int nt)
{
	nb_job *j = ctx;
	const int width = j->width;
	long lo, hi;

	tr_share(width, 16, i, nt, &lo, &hi);
	for (int r = 0; r < j->rows; r++) {
		const size_t off = (size_t)(j->r0 + r) * width;
		const float *x = j->in + off, *dy = j->dout + off;
		const float mean = j->mean[r], inv = j->inv[r];
		const vf mv = vbroadcast(mean), iv = vbroadcast(inv);
		long c = lo;
		for (; c < hi; c += VL) {
			const int m = hi - c < VL ? (int)(hi - c) : VL;
			const vf g = m == VL ? vload(dy + c) : vload_part(dy + c, m);
			const vf xv = m == VL ? vload(x + c) : vload_part(x + c, m);
			const vf dw = m == VL ? vload(j->dw + c) : vload_part(j->dw + c, m);
			const vf nw = vfma(g, (xv - mv) * iv, dw);
			if (m == VL)
				vstore(j->dw + c, nw);
			else
				vstore_part(j->dw + c, nw, m);
			if (j->db) {
				const vf db = (m == VL ? vload(j->db + c) : vload_part(j->db + c, m)) + g;
				if (m == VL)
					vstore(j->db + c, db);
				else
					vstore_part(j->db + c, db, m);
			}
		}
	}
}

void NAME(norm_backward)(tfm_pool *pool, float *din, float *dw, float *db, const float *dout,
                         const float *in, const float *w, int rows, int width, float eps)
{
	nb_job j;

	if (rows <= 0 || width <= 0)
		return;
	j.din = din;
	j.dw = dw;
	j.db = db;
	j.dout = dout;
	j.in = in;
	j.w = w;
	j.width = width;
	j.eps = eps;
	for (int r0 = 0; r0 < rows; r0 += NB_ROWS) {
		j.r0 = r0;
		j.rows = rows - r0 < NB_ROWS ? rows - r0 : NB_ROWS;
		tfm_pool_run(pool, nb_rows, &j);
		tfm_pool_run(pool, nb_cols, &j);
	}
}

/* ---- RoPE ---------------------------------------------------------------------------- */

/* (u, w) -> (u c - w s, u s + w c), or with s negated (inverse). */
void NAME(rope)(float *x, int n, int ld, int heads, int head_dim, const float *cos,
                const float *sin, int interleaved, int inverse)
{
	const int half = head_dim / 2;

	for (int t = 0; t < n; t++) {
		const float *ct = cos + (size_t)t * half, *st = sin + (size_t)t * half;
		for (int h = 0; h < heads; h++) {
			float *xh = x + (size_t)t * ld + (size_t)h * head_dim;
			if (interleaved) {
				for (int i = 0; i < half; i++) {
					const float u = xh[2 * i], w = xh[2 * i + 1];
					const float c = ct[i], s = inverse ? -st[i] : st[i];
					xh[2 * i] = u * c - w * s;
					xh[2 * i + 1] = u * s + w * c;
				}
				continue;
			}
			int i = 0;
			for (; i + VL <= half; i += VL) {
				const vf u = vload(xh + i), w = vload(xh + half + i), c = vload(ct + i);
				const vf s = inverse ? -vload(st + i) : vload(st + i);
				vstore(xh + i, u * c - w * s);
				vstore(xh + half + i, u * s + w * c);
			}
			for (; i < half; i++) {
				const float u = xh[i], w = xh[half + i];
				const float c = ct[i], s = inverse ? -st[i] : st[i];
				xh[i] = u * c - w * s;
				xh[half + i] = u * s + w * c;
			}
		}
	}
}

/* ---- Attention's backward ---------------------------------------------------------- */

/* A window's causal attention, query head h reading key/value head g, by
 * blocks of AQB queries t0..t0+qb-1, each with the L = t0 + qb keys it can
 * see, as gemm products over the block (the probabilities recomputed from
 * q and k, nothing of size n^2 kept):
 *
 *   S = scale q k^T (soft-capped), p = e^(S - lse) with lse = log sum e^S
 *   over s <= t (p = 0 past t), dP = dout v^T, D = dout . out per query,
 *   dS = scale p (dP keep / (1 - p_drop) - D) (1 - (S/cap)^2),
 *   P~ = p keep / (1 - p_drop), and then
 *   dq[block] += dS k,  dk[0..L) += dS^T q[block],  dv[0..L) += P~^T dout[block].
 *
 * The products of q k^T and dout v^T read k^T and v^T, made once per key/value
 * head in the thread's scratch, so that every product packs its operands
 * by plain copies.  A thread takes whole key/value heads (g = i, i + nt,
 * ...) and runs their query heads and blocks in order: each of dq, dk and dv
 * is summed by one thread in an order fixed by the shapes, whatever the
 * thread count.  The gemm is called without a pool (this runs inside one). */
#define AQB 64	/* queries per block: as tfm_attention_grad_scratch counts them */

INLINE vf atb_load(const float *p, int m)
{
	return m >= VL ? vload(p) : vload_part(p, m);
}

INLINE void atb_store(float *p, vf v, int m)
{
	if (m >= VL)
		vstore(p, v);
	else
		vstore_part(p, v, m);
}

/* t[c, s] = x[s, c] for s < n, c < d: a head's rows (ld apart) as [d, n]. */
static void atb_transpose(float *t, const float *x, int n, int ld, int d)
{
	for (int s = 0; s < n; s++)
		for (int c = 0; c < d; c++)
			t[(size_t)c * n + s] = x[(size_t)s * ld + c];
}

/* The raw scores sc[0..len) times scale, soft-capped when cap > 0, in
 * place; returns their maximum. */
static float atb_scores(float *sc, int len, float scale, float cap)
{
	vf mv = vbroadcast(-INFINITY);
	float mx;
	int s;

	for (s = 0; s < len; s++) {
		float x = sc[s] * scale;
		if (cap > 0.0f)
			x = cap * tanhf(x / cap);
		sc[s] = x;
	}
	for (s = 0; s + VL <= len; s += VL)
		mv = vmax(mv, vload(sc + s));
	mx = mv[0];
	for (int l = 1; l < VL; l++)
		mx = mv[l] > mx ? mv[l] : mx;
	for (; s < len; s++)
		mx = sc[s] > mx ? sc[s] : mx;
	return mx;
}

/* One row of a block, query t of head h seeing keys 0..len-1: sc holds its
 * raw scores q . k[s] (row of S), dp its dout . v[s], for s < L (len <= L);
 * out: sc = dS (zero past len), dp = P~ (zero past len). */
static void atb_row(const tfm_attention_grad *a, float *sc, float *dp, int len, int L, float D,
                    uint64_t row)
{
	const float cap = a->softcap, ic = cap > 0.0f ? 1.0f / cap : 0.0f;
	const int drop = a->dropout > 0.0f;
	const float keep = drop ? 1.0f / (1.0f - a->dropout) : 1.0f;
	const vf dv = vbroadcast(D), sv = vbroadcast(a->scale);
	const float mx = atb_scores(sc, len, a->scale, cap);
	vf sum = { 0 };
	float lse;
	int s;

	for (s = 0; s < len; s += VL) {
		const int m = len - s < VL ? len - s : VL;
		sum += vfirst(vexp(atb_load(sc + s, m) - vbroadcast(mx)), m);
	}
	lse = mx + logf(reduce4(sum, sum, sum, sum)[0]);
	for (s = 0; s < len; s += VL) {
		const int m = len - s < VL ? len - s : VL;
		const vf cv = atb_load(sc + s, m);
		const vf p = vexp(cv - vbroadcast(lse));
		vf kv = vbroadcast(keep);
		if (drop)
			for (int l = 0; l < m; l++)
				kv[l] = tfm_dropout_keep(a->seed, row + (uint64_t)(s + l), a->dropout)
				        ? keep : 0.0f;
		vf ds = p * (atb_load(dp + s, m) * kv - dv);
		if (cap > 0.0f) {
			const vf y = cv * vbroadcast(ic);
			ds = ds * (vbroadcast(1.0f) - y * y);
		}
		atb_store(sc + s, ds * sv, m);
		atb_store(dp + s, p * kv, m);
	}
	for (s = len; s < L; s++)
		sc[s] = dp[s] = 0.0f;
}

/* Thread i's key/value heads.  Its scratch: S and dP [AQB, n], k^T and
 * v^T [head_dim, n]. */
static void atb_part(void *ctx, int i, int nt)
{
	const tfm_attention_grad *a = ctx;
	const int n = a->n, d = a->head_dim, kvd = a->n_kv_head * d, qd = a->n_head * d;
	const int group = a->n_head / a->n_kv_head;
	float *S = a->scratch + (size_t)i * (2 * ((size_t)AQB + d) * n + 64);
	float *dP = S + (size_t)AQB * n, *kt = dP + (size_t)AQB * n, *vt = kt + (size_t)d * n;

	for (int g = i; g < a->n_kv_head; g += nt) {
		const float *k = a->k + (size_t)g * d;
		atb_transpose(kt, k, n, kvd, d);
		atb_transpose(vt, a->v + (size_t)g * d, n, kvd, d);
		for (int h = g * group; h < (g + 1) * group; h++)
			for (int t0 = 0; t0 < n; t0 += AQB) {
				const int qb = n - t0 < AQB ? n - t0 : AQB, L = t0 + qb;
				const size_t qo = (size_t)t0 * qd + (size_t)h * d;
				NAME(gemm)(NULL, 0, 0, qb, L, d, a->q + qo, qd, kt, n, S, n, 0);
				NAME(gemm)(NULL, 0, 0, qb, L, d, a->dout + qo, qd, vt, n, dP, n, 0);
				for (int r = 0; r < qb; r++) {
					const size_t o = qo + (size_t)r * qd;
					const float D = dot4(a->dout + o, a->out + o, a->out + o, a->out + o,
					                     a->out + o, d)[0];
					atb_row(a, S + (size_t)r * n, dP + (size_t)r * n, t0 + r + 1, L, D,
					        att_dropout_row(h, n, t0 + r));
				}
				NAME(gemm)(NULL, 0, 0, qb, d, L, S, n, k, kvd, a->dq + qo, qd, 1);
				NAME(gemm)(NULL, 1, 0, L, d, qb, S, n, a->q + qo, qd, a->dk + (size_t)g * d, kvd, 1);
				NAME(gemm)(NULL, 1, 0, L, d, qb, dP, n, a->dout + qo, qd, a->dv + (size_t)g * d,
				           kvd, 1);
			}
	}
}

/* The forward of a window (attention_window), by the same blocks: S = q k^T
 * (scaled, soft-capped), each row's softmax over s <= t (the normalizer of
 * all, the dropout's mask and 1 / (1 - p) on the kept), then out[block] =
 * P v.  Thread i's scratch (a->scores) as atb_part's: S, then k^T. */
static void atw_part(void *ctx, int i, int nt)
{
	const tfm_attention *a = ctx;
	const int n = a->n, d = a->head_dim, kvd = a->n_kv_head * d, qd = a->n_head * d;
	const int group = a->n_head / a->n_kv_head;
	float *S = a->scores + (size_t)i * (2 * ((size_t)AQB + d) * n + 64);
	float *kt = S + 2 * (size_t)AQB * n;
	const float cap = a->softcap;
	const int drop = a->dropout > 0.0f;
	const float keep = drop ? 1.0f / (1.0f - a->dropout) : 1.0f;

	for (int g = i; g < a->n_kv_head; g += nt) {
		const float *v = (const float *)a->v_cache + (size_t)g * d;
		atb_transpose(kt, (const float *)a->k_cache + (size_t)g * d, n, kvd, d);
		for (int h = g * group; h < (g + 1) * group; h++)
			for (int t0 = 0; t0 < n; t0 += AQB) {
				const int qb = n - t0 < AQB ? n - t0 : AQB, L = t0 + qb;
				const size_t qo = (size_t)t0 * qd + (size_t)h * d;
				NAME(gemm)(NULL, 0, 0, qb, L, d, a->q + qo, qd, kt, n, S, n, 0);
				for (int r = 0; r < qb; r++) {
					float *sc = S + (size_t)r * n;
					const int len = t0 + r + 1;
					const uint64_t row = att_dropout_row(h, a->pos + n, a->pos + t0 + r);
					const float mx = atb_scores(sc, len, a->scale, cap);
					vf sum = { 0 };
					int j;
					for (j = 0; j < len; j += VL) {
						const int m = len - j < VL ? len - j : VL;
						const vf e = vfirst(vexp(atb_load(sc + j, m) - vbroadcast(mx)), m);
						atb_store(sc + j, e, m);
						sum += e;
					}
					const vf inv = vbroadcast(keep / reduce4(sum, sum, sum, sum)[0]);
					for (j = 0; j < len; j += VL) {
						const int m = len - j < VL ? len - j : VL;
						vf pv = atb_load(sc + j, m) * inv;
						if (drop)
							for (int l = 0; l < m; l++)
								if (!tfm_dropout_keep(a->seed, row + (uint64_t)(j + l), a->dropout))
									pv[l] = 0.0f;
						atb_store(sc + j, pv, m);
					}
					for (j = len; j < L; j++)
						sc[j] = 0.0f;
				}
				NAME(gemm)(NULL, 0, 0, qb, d, L, S, n, v, kvd, a->out + qo, qd, 0);
			}
	}
}

void NAME(attention_window)(tfm_pool *pool, const tfm_attention *a)
{
	if (a->n <= 0 || a->n_head <= 0 || a->head_dim <= 0)
		return;
	tfm_pool_run(pool, atw_part, (void *)a);
}

void NAME(attention_backward)(tfm_pool *pool, const tfm_attention_grad *a)
{
	if (a->n <= 0 || a->n_head <= 0 || a->head_dim <= 0)
		return;
	tfm_pool_run(pool, atb_part, (void *)a);
}

/* ---- The loss ---------------------------------------------------------------------- */

/* Rows per pass: the threads compute the rows' losses into loss[], then
 * the caller adds them in order. */
#define CE_ROWS 1024

typedef struct ce_job {
	const float *logits;
	float *dlogits;
	const int *targets;
	int r0, rows, vocab;	/* this pass: rows r0..r0+rows-1 */
	float z_loss, scale;
	double loss[CE_ROWS];
} ce_job;

/* One row: m = max, e[j] = e^(l[j] - m) (into dl when there is one),
 * lse = m + log sum e, loss = lse - l[target] + z lse^2, and
 * dl = scale (softmax (1 + 2 z lse) - onehot(target)). */
static double ce_row(const float *l, float *dl, int target, int vocab, float z, float scale)
{
	const float lt = l[target];
	vf m0 = vbroadcast(-INFINITY), m1 = m0, a0 = { 0 }, a1 = { 0 };
	float m;
	int j = 0;

	for (; j + 2 * VL <= vocab; j += 2 * VL) {
		m0 = vmax(m0, vload(l + j));
		m1 = vmax(m1, vload(l + j + VL));
	}
	m0 = vmax(m0, m1);
	m = m0[0];
	for (int k = 1; k < VL; k++)
		m = m0[k] > m ? m0[k] : m;
	for (; j < vocab; j++)
		m = l[j] > m ? l[j] : m;
	const vf mv = vbroadcast(m);
	for (j = 0; j + 2 * VL <= vocab; j += 2 * VL) {
		const vf e0 = vexp(vload(l + j) - mv), e1 = vexp(vload(l + j + VL) - mv);
		a0 += e0;
		a1 += e1;
		if (dl) {
			vstore(dl + j, e0);
			vstore(dl + j + VL, e1);
		}
	}
	for (; j < vocab; j += VL) {
		const int k = vocab - j < VL ? vocab - j : VL;
		const vf e = vfirst(vexp(atb_load(l + j, k) - mv), k);
		a0 += e;
		if (dl)
			atb_store(dl + j, e, k);
	}
	v4 s4 = reduce4(a0, a1, a0, a1);
	const float sum = s4[0] + s4[1];
	const double lse = (double)m + log((double)sum);
	if (dl) {
		const vf cv = vbroadcast((float)(scale * (1.0 + 2.0 * z * lse) / sum));
		for (j = 0; j < vocab; j += VL) {
			const int k = vocab - j < VL ? vocab - j : VL;
			atb_store(dl + j, atb_load(dl + j, k) * cv, k);
		}
		dl[target] -= scale;
	}
	return lse - lt + (double)z * lse * lse;
}

static void ce_part(void *ctx, int i, int nt)
{
	ce_job *j = ctx;
	long lo, hi;

	tr_share(j->rows, 1, i, nt, &lo, &hi);
	for (long r = lo; r < hi; r++) {
		const size_t off = (size_t)(j->r0 + r) * j->vocab;
		j->loss[r] = ce_row(j->logits + off, j->dlogits ? j->dlogits + off : NULL,
		                    j->targets[j->r0 + r], j->vocab, j->z_loss, j->scale);
	}
}

double NAME(cross_entropy)(tfm_pool *pool, const float *logits, float *dlogits, const int *targets,
                           int rows, int vocab, float z_loss, float scale)
{
	ce_job j;
	double sum = 0;

	if (rows <= 0 || vocab <= 0)
		return 0;
	j.logits = logits;
	j.dlogits = dlogits;
	j.targets = targets;
	j.vocab = vocab;
	j.z_loss = z_loss;
	j.scale = scale;
	for (int r0 = 0; r0 < rows; r0 += CE_ROWS) {
		j.r0 = r0;
		j.rows = rows - r0 < CE_ROWS ? rows - r0 : CE_ROWS;
		tfm_pool_run(pool, ce_part, &j);
		for (int r = 0; r < j.rows; r++)
			sum += j.loss[r];
	}
	return sum;
}

/* ---- The embedding's backward ------------------------------------------------------ */

typedef struct eb_job {
	float *dE;
	const float *dx;
	const int *ids;
	int n, d;
	float scale;
} eb_job;

/* This thread's columns of every row of dE, the tokens in order. */
static void eb_part(void *ctx, int i, int nt)
{
	const eb_job *j = ctx;
	const vf sv = vbroadcast(j->scale);
	long lo, hi;

	tr_share(j->d, 16, i, nt, &lo, &hi);
	for (int t = 0; t < j->n; t++) {
		float *e = j->dE + (size_t)j->ids[t] * j->d;
		const float *x = j->dx + (size_t)t * j->d;
		for (long c = lo; c < hi; c += VL) {
			const int m = hi - c < VL ? (int)(hi - c) : VL;
			atb_store(e + c, vfma(sv, atb_load(x + c, m), atb_load(e + c, m)), m);
		}
	}
}

void NAME(embed_backward)(tfm_pool *pool, float *dE, const float *dx, const int *ids, int n, int d,
                          float scale)
{
	eb_job j = { dE, dx, ids, n, d, scale };

	if (n <= 0 || d <= 0)
		return;
	tfm_pool_run(pool, eb_part, &j);
}

/* ---- AdamW ------------------------------------------------------------------------- */

/* torch.optim.AdamW's arithmetic, for float tensors: w *= 1 - lr wd;
 * m = beta1 m + (1 - beta1) g; v = beta2 v + (1 - beta2) g^2;
 * w -= (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps), the scalars rounded to
 * float from double. */
void NAME(adamw)(float *w, const float *g, float *m, float *v, long n, float lr, float beta1,
                 float beta2, float eps, float wd, float bc1, float bc2)
{
	const vf decay = vbroadcast((float)(1.0 - (double)lr * wd));
	const vf b1 = vbroadcast(beta1), c1 = vbroadcast((float)(1.0 - (double)beta1));
	const vf b2 = vbroadcast(beta2), c2 = vbroadcast((float)(1.0 - (double)beta2));
	const vf step = vbroadcast((float)((double)lr / bc1));
	const vf sbc2 = vbroadcast((float)sqrt((double)bc2)), ev = vbroadcast(eps);

	for (long i = 0; i < n; i += VL) {
		const int k = n - i < VL ? (int)(n - i) : VL;
		vf wv = atb_load(w + i, k), gv = atb_load(g + i, k);
		if (wd > 0.0f)
			wv = wv * decay;
		const vf mv = b1 * atb_load(m + i, k) + c1 * gv;
		const vf vv = b2 * atb_load(v + i, k) + c2 * (gv * gv);
		wv = wv - step * mv / (vsqrt(vv) / sbc2 + ev);
		atb_store(w + i, wv, k);
		atb_store(m + i, mv, k);
		atb_store(v + i, vv, k);
	}
}
