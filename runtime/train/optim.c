/* optim.c: the optimizer of MODEL_REFERENCE.md section 5: the learning-rate
 * schedule, gradient clipping and AdamW, over a model's tensors as
 * tfm_params holds them.
 *
 * The arithmetic on the tensors is the kernels' (tfm_kernels: adamw, sumsq,
 * scale, through tfm_kernels_for(NULL)); where a kernel table has no entry
 * yet, the plain C below does the same in the same order.  Either way the
 * same state gives the same bits, which is what makes a resumed run
 * identical to one that never stopped.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tfm.h"
#include "train.h"

#define TFM_PARAM_ALIGN 16 /* floats: 64 bytes */

double tfm_schedule_lr(const tfm_schedule *s, long t)
{
	if (t <= s->warmup && s->warmup > 0)
		return s->lr * (double)t / (double)s->warmup;
	if (s->kind == TFM_SCHEDULE_CONSTANT)
		return s->lr;
	if (t >= s->steps)
		return s->min_lr;
	return s->min_lr + 0.5 * (s->lr - s->min_lr)
	       * (1.0 + cos(M_PI * (double)(t - s->warmup) / (double)(s->steps - s->warmup)));
}

/* ---- The tensors ------------------------------------------------------------ */

void tfm_params_free(tfm_params *p)
{
	if (p == NULL)
		return;
	tfm_free(p->block);
	free(p->nelem);
	free(p->w);
	memset(p, 0, sizeof *p);
}

int tfm_params_alloc(tfm_params *p, const tfm_tensor_decl *decl, int n, int with_optim,
                     tfm_error *e)
{
	size_t padded = 0, sets = with_optim ? 4 : 2, off;
	float *base;
	int i, j;

	memset(p, 0, sizeof *p);
	if (n < 1 || decl == NULL)
		return tfm_fail(e, "the model has no tensors");
	p->decl = decl;
	p->n = n;
	p->nelem = calloc((size_t)n, sizeof *p->nelem);
	p->w = calloc(4 * (size_t)n, sizeof *p->w); /* w, g, m, v side by side */
	if (p->nelem == NULL || p->w == NULL) {
		tfm_params_free(p);
		return tfm_fail(e, "out of memory");
	}
	p->g = p->w + n;
	for (i = 0; i < n; i++) {
		const tfm_tensor_decl *d = &decl[i];
		size_t k = 1;
		if (d->name == NULL || d->ndim < 0 || d->ndim > 2 || d->dtype != TFM_F32) {
			tfm_params_free(p);
			return tfm_fail(e, "tensor %d (%s) of the training code is not an F32 tensor of 0 "
			                "to 2 dimensions", i, d->name ? d->name : "unnamed");
		}
		for (j = 0; j < d->ndim; j++) {
			if (d->shape[j] < 0 || (d->shape[j] > 0 && k > ((size_t)1 << 40) / (size_t)d->shape[j])) {
				tfm_params_free(p);
				return tfm_fail(e, "tensor '%s' has a bad shape", d->name);
			}
			k *= (size_t)d->shape[j];
		}
		p->nelem[i] = k;
		p->total += k;
		padded += (k + TFM_PARAM_ALIGN - 1) / TFM_PARAM_ALIGN * TFM_PARAM_ALIGN;
	}
	if (padded > ((size_t)1 << 40) || (p->block = tfm_alloc(sets * padded * sizeof(float) + 64)) == NULL) {
		tfm_params_free(p);
		return tfm_fail(e, "out of memory for %zu parameters", p->total);
	}
	memset(p->block, 0, sets * padded * sizeof(float));
	base = p->block;
	if (with_optim) {
		p->m = p->w + 2 * n;
		p->v = p->w + 3 * n;
	}
	off = 0;
	for (i = 0; i < n; i++) {
		p->w[i] = base + off;
		p->g[i] = base + padded + off;
		if (with_optim) {
			p->m[i] = base + 2 * padded + off;
			p->v[i] = base + 3 * padded + off;
		}
		off += (p->nelem[i] + TFM_PARAM_ALIGN - 1) / TFM_PARAM_ALIGN * TFM_PARAM_ALIGN;
	}
	return 0;
}

/* ---- Plain C, where the kernel table has no entry yet ------------------------ */

static double tfm_sumsq_c(const float *x, long n)
{
	double s = 0;

	for (long i = 0; i < n; i++)
		s += (double)x[i] * (double)x[i];
	return s;
}

static void tfm_scale_c(float *x, long n, float s)
{
	for (long i = 0; i < n; i++)
		x[i] *= s;
}

static void tfm_adamw_c(float *w, const float *g, float *m, float *v, long n, float lr,
                        float beta1, float beta2, float eps, float wd, float bc1, float bc2)
{
	for (long i = 0; i < n; i++) {
		float mi, vi;
		if (wd > 0)
			w[i] -= lr * wd * w[i];
		mi = m[i] = beta1 * m[i] + (1 - beta1) * g[i];
		vi = v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
		w[i] -= lr * (mi / bc1) / (sqrtf(vi / bc2) + eps);
	}
}

/* ---- Clipping and AdamW -------------------------------------------------------- */

double tfm_grad_norm(const tfm_params *p)
{
	const tfm_kernels *k = tfm_kernels_for(NULL);
	double (*sumsq)(const float *, long) = k && k->sumsq ? k->sumsq : tfm_sumsq_c;
	double s = 0;

	for (int i = 0; i < p->n; i++)
		s += sumsq(p->g[i], (long)p->nelem[i]);
	return sqrt(s);
}

double tfm_grad_clip(tfm_params *p, double norm, double clip)
{
	const tfm_kernels *k = tfm_kernels_for(NULL);
	void (*scale)(float *, long, float) = k && k->scale ? k->scale : tfm_scale_c;
	double f;

	if (!(clip > 0 && norm > clip))
		return 1.0;
	f = clip / (norm + 1e-6);
	for (int i = 0; i < p->n; i++)
		scale(p->g[i], (long)p->nelem[i], (float)f);
	return f;
}

void tfm_adamw_step(tfm_params *p, const tfm_adamw *o, long t, double lr)
{
	const tfm_kernels *k = tfm_kernels_for(NULL);
	void (*adamw)(float *, const float *, float *, float *, long, float, float, float, float,
	              float, float, float) = k && k->adamw ? k->adamw : tfm_adamw_c;
	float bc1 = (float)(1.0 - pow(o->beta1, (double)t));
	float bc2 = (float)(1.0 - pow(o->beta2, (double)t));

	for (int i = 0; i < p->n; i++)
		adamw(p->w[i], p->g[i], p->m[i], p->v[i], (long)p->nelem[i], (float)lr, (float)o->beta1,
		      (float)o->beta2, (float)o->eps, p->decl[i].ndim == 2 ? (float)o->weight_decay : 0.0f,
		      bc1, bc2);
}
