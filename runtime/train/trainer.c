/* trainer.c: one training step and evaluation, over a model's training
 * code (tfm_train_api).
 *
 * A step (MODEL_REFERENCE.md section 5) reads exactly the state that a
 * checkpoint keeps: the weights, AdamW's m and v, the step counter t and
 * the window generator.  Its dropout masks come from the run's seed and t
 * alone, so they need no state of their own.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tfm.h"
#include "train.h"

uint64_t tfm_step_seed(uint64_t seed, long t)
{
	return tfm_mix64(tfm_mix64(seed ^ 0x64726f706f757421ull) + (uint64_t)t); /* "dropout!" */
}

int tfm_trainer_init(tfm_trainer *tr, const tfm_train_api *api, int batch, int seq, int threads,
                     uint64_t seed, const int *ids, size_t n_ids, tfm_error *e)
{
	memset(tr, 0, sizeof *tr);
	if (batch < 1 || seq < 1 || seq > api->max_seq)
		return tfm_fail(e, "a batch of %d windows of %d tokens: the model's max_seq is %d", batch,
		                seq, api->max_seq);
	if (ids != NULL && n_ids < (size_t)seq + 1)
		return tfm_fail(e, "%zu tokens of training data are fewer than one window (%d)", n_ids,
		                seq + 1);
	if ((size_t)batch > ((size_t)1 << 40) / ((size_t)seq + 1))
		return tfm_fail(e, "a batch of %d windows of %d tokens is too large", batch, seq);
	tr->api = api;
	tr->batch = batch;
	tr->seq = seq;
	tr->threads = threads;
	tr->seed = seed;
	tr->rng = tfm_windows_seed(seed);
	tr->ids = ids;
	tr->n_ids = n_ids;
	tr->tokens = malloc((size_t)batch * ((size_t)seq + 1) * sizeof *tr->tokens);
	if (tr->tokens == NULL)
		return tfm_fail(e, "out of memory");
	if (tfm_params_alloc(&tr->p, api->tensors, api->n_tensors, 1, e) != 0) {
		free(tr->tokens);
		tr->tokens = NULL;
		return -1;
	}
	return 0;
}

int tfm_trainer_start(tfm_trainer *tr, tfm_error *e)
{
	if (tr->api->open(&tr->inst, tr->p.w, tr->p.g, tr->batch, tr->seq, tr->threads, e) != 0) {
		tr->inst = NULL;
		return -1;
	}
	return 0;
}

void tfm_trainer_free(tfm_trainer *tr)
{
	if (tr == NULL)
		return;
	if (tr->inst != NULL)
		tr->api->close(tr->inst);
	tfm_params_free(&tr->p);
	free(tr->tokens);
	memset(tr, 0, sizeof *tr);
}

int tfm_trainer_step(tfm_trainer *tr, tfm_step_info *info, tfm_error *e)
{
	if (tr->ids == NULL)
		return tfm_fail(e, "the trainer has no data: give its batches to tfm_trainer_step_on");
	tfm_windows_draw(&tr->rng, tr->ids, tr->n_ids, tr->batch, tr->seq, tr->tokens);
	return tfm_trainer_step_on(tr, tr->tokens, info, e);
}

int tfm_trainer_step_on(tfm_trainer *tr, const int *tokens, tfm_step_info *info, tfm_error *e)
{
	long t = tr->t + 1;
	int dropout = tr->api->dropout > 0;
	double loss = 0, norm, t0 = tfm_now();
	tfm_error se = { { 0 } };

	memset(info, 0, sizeof *info);
	info->t = t;
	if (tr->api->step(tr->inst, tokens, 1, dropout, dropout ? tfm_step_seed(tr->seed, t) : 0,
	                  &loss, &se) != 0)
		return tfm_fail(e, "step %ld: %s", t, se.msg);
	info->loss = loss;
	if (!isfinite(loss))
		return tfm_fail(e, "step %ld: the loss is %s", t, isnan(loss) ? "NaN" : "infinite");
	norm = tfm_grad_norm(&tr->p);
	info->norm = norm;
	if (!isfinite(norm))
		return tfm_fail(e, "step %ld: the gradient is not finite (its norm is %s; the loss %.6g)",
		                t, isnan(norm) ? "NaN" : "infinite", loss);
	tfm_grad_clip(&tr->p, norm, tr->clip);
	info->lr = tfm_schedule_lr(&tr->sched, t);
	tfm_adamw_step(&tr->p, &tr->adam, t, info->lr);
	tr->t = t;
	info->seconds = tfm_now() - t0;
	return 0;
}

/* ---- Evaluation ----------------------------------------------------------- */

/* The windows of seq tokens at starts first, first + seq, ... (count of
 * them), `batch` at a time through inst, added to *nats and *n. */
static int tfm_eval_run(const tfm_train_api *api, void *inst, int batch, int seq,
                        const int *ids, size_t first, size_t count, int *tokens, double *nats,
                        size_t *n, tfm_error *e)
{
	double loss;

	for (size_t w = 0; w < count; w += (size_t)batch) {
		for (int b = 0; b < batch; b++)
			memcpy(tokens + (size_t)b * ((size_t)seq + 1),
			       ids + first + (w + (size_t)b) * (size_t)seq, ((size_t)seq + 1) * sizeof *ids);
		if (api->step(inst, tokens, 0, 0, 0, &loss, e) != 0)
			return -1;
		*nats += loss * (double)batch * (double)seq;
		*n += (size_t)batch * (size_t)seq;
	}
	return 0;
}

/* Opens an instance for [batch, seq], runs count windows through it from
 * first, and closes it. */
static int tfm_eval_part(const tfm_train_api *api, float *const *w, float *const *g, int batch,
                         int seq, int threads, const int *ids, size_t first, size_t count,
                         int *tokens, double *nats, size_t *n, tfm_error *e)
{
	void *inst;
	int rc;

	if (api->open(&inst, w, g, batch, seq, threads, e) != 0)
		return -1;
	rc = tfm_eval_run(api, inst, batch, seq, ids, first, count, tokens, nats, n, e);
	api->close(inst);
	return rc;
}

int tfm_evaluate(const tfm_train_api *api, void *inst, float *const *w, float *const *g, int batch,
                 int seq, int threads, const int *ids, size_t n, double *nats, size_t *count,
                 tfm_error *e)
{
	size_t windows, full, rest, tail;
	int *tokens;
	int rc = -1;

	*nats = 0;
	*count = 0;
	if (n < 2)
		return tfm_fail(e, "%zu tokens: evaluation needs at least 2", n);
	if (seq < 1 || batch < 1)
		return tfm_fail(e, "evaluation in windows of %d tokens, %d at a time", seq, batch);
	windows = (n - 1) / (size_t)seq;		/* whole windows of seq targets */
	full = windows / (size_t)batch * (size_t)batch;	/* of them, in whole batches */
	rest = windows - full;				/* then one smaller batch */
	tail = (n - 1) - windows * (size_t)seq;		/* then one shorter window */
	tokens = malloc((size_t)batch * ((size_t)seq + 1) * sizeof *tokens);
	if (tokens == NULL)
		return tfm_fail(e, "out of memory");
	if (full > 0) {
		if (inst != NULL)
			rc = tfm_eval_run(api, inst, batch, seq, ids, 0, full, tokens, nats, count, e);
		else
			rc = tfm_eval_part(api, w, g, batch, seq, threads, ids, 0, full, tokens, nats,
			                   count, e);
		if (rc != 0)
			goto done;
	}
	if (rest > 0 && tfm_eval_part(api, w, g, (int)rest, seq, threads, ids, full * (size_t)seq,
	                              rest, tokens, nats, count, e) != 0)
		goto done;
	if (tail > 0 && tfm_eval_part(api, w, g, 1, (int)tail, threads, ids, windows * (size_t)seq,
	                              1, tokens, nats, count, e) != 0)
		goto done;
	rc = 0;
done:
	free(tokens);
	return rc;
}
