/* finetune.c: the fine-tuning API of tfm.h (tfm_finetune_*), for a C
 * program that trains the model it embeds.
 *
 * It is a thin shell over the trainer (trainer.c) without its data: the
 * program gives every batch, tfm_trainer_step_on does the step (the loss,
 * clipping, AdamW and the schedule of MODEL_REFERENCE.md section 5), so a
 * step here is a step of `tfmc train` on the same batch, bit for bit.  The
 * options' defaults are `tfmc train`'s.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tfm.h"
#include "train.h"

/* The online CPUs are at most this many threads by default, as in tfmc train. */
#define TFM_FINETUNE_MAX_AUTO_THREADS 64

struct tfm_finetune {
	tfm_trainer tr;		/* no data: tr.ids is NULL */
};

void tfm_finetune_defaults(tfm_finetune_options *o)
{
	*o = (tfm_finetune_options){
		.batch = 16, .seq = 0, .threads = 0, .steps = 1000, .warmup = -1,
		.schedule = TFM_SCHEDULE_COSINE, .lr = 1e-3, .min_lr = -1, .clip = 1.0,
		.beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .seed = 42,
	};
}

/* The options with their derived defaults filled in, checked against the
 * model: 0, or -1 naming the option. */
static int tfm_finetune_settle(tfm_finetune_options *o, const tfm_train_api *api, tfm_error *e)
{
	if (o->seq == 0)
		o->seq = api->max_seq < 256 ? api->max_seq : 256;
	if (o->threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		o->threads = n < 1 ? 1 : n > TFM_FINETUNE_MAX_AUTO_THREADS ? TFM_FINETUNE_MAX_AUTO_THREADS
		                                                           : (int)n;
	}
	if (o->warmup == -1)
		o->warmup = o->steps / 10 < 100 ? o->steps / 10 : 100;
	if (o->min_lr == -1)
		o->min_lr = o->lr / 10;
	if (o->batch < 1)
		return tfm_fail(e, "fine-tuning: batch is %d: at least 1 window per step", o->batch);
	if (o->seq < 1 || o->seq > api->max_seq)
		return tfm_fail(e, "fine-tuning: seq is %d: windows are 1 to %d tokens (the model's max_seq)",
		                o->seq, api->max_seq);
	if (o->threads < 1 || o->threads > TFM_MAX_THREADS)
		return tfm_fail(e, "fine-tuning: threads is %d: 1 to %d, or 0 for the online CPUs",
		                o->threads, TFM_MAX_THREADS);
	if (o->steps < 1)
		return tfm_fail(e, "fine-tuning: steps is %ld: the schedule needs at least 1", o->steps);
	if (o->warmup < 0 || o->warmup > o->steps)
		return tfm_fail(e, "fine-tuning: warmup is %ld: 0 to steps (%ld), or -1 for the default",
		                o->warmup, o->steps);
	if (o->schedule != TFM_SCHEDULE_COSINE && o->schedule != TFM_SCHEDULE_CONSTANT)
		return tfm_fail(e, "fine-tuning: schedule is %d: TFM_SCHEDULE_COSINE or _CONSTANT",
		                o->schedule);
	if (!(o->lr > 0) || !isfinite(o->lr))
		return tfm_fail(e, "fine-tuning: lr is %g: it must be positive", o->lr);
	if (!(o->min_lr >= 0) || o->min_lr > o->lr)
		return tfm_fail(e, "fine-tuning: min_lr is %g: 0 to lr (%g), or -1 for lr / 10", o->min_lr,
		                o->lr);
	if (!(o->clip >= 0) || !isfinite(o->clip))
		return tfm_fail(e, "fine-tuning: clip is %g: a norm, or 0 for no clipping", o->clip);
	if (!(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1))
		return tfm_fail(e, "fine-tuning: beta1 %g and beta2 %g must each be in [0, 1)", o->beta1,
		                o->beta2);
	if (!(o->eps > 0) || !isfinite(o->eps))
		return tfm_fail(e, "fine-tuning: eps is %g: it must be positive", o->eps);
	return 0;
}

/* A state with its moments zeroed and its weights to be filled. */
static int tfm_finetune_alloc(tfm_finetune **out, const tfm_train_api *api,
                              const tfm_finetune_options *opt, tfm_error *e)
{
	tfm_finetune_options o;
	tfm_finetune *ft;

	*out = NULL;
	if (api == NULL)
		return tfm_fail(e, "fine-tuning: no training code (a NAME_train_api, from tfmc --train)");
	if (opt != NULL)
		o = *opt;
	else
		tfm_finetune_defaults(&o);
	if (tfm_finetune_settle(&o, api, e) != 0)
		return -1;
	if ((ft = calloc(1, sizeof *ft)) == NULL)
		return tfm_fail(e, "out of memory");
	if (tfm_trainer_init(&ft->tr, api, o.batch, o.seq, o.threads, o.seed, NULL, 0, e) != 0) {
		free(ft);
		return -1;
	}
	ft->tr.sched = (tfm_schedule){ o.schedule, o.lr, o.min_lr, o.warmup, o.steps };
	ft->tr.adam = (tfm_adamw){ o.beta1, o.beta2, o.eps, api->weight_decay };
	ft->tr.clip = o.clip;
	*out = ft;
	return 0;
}

/* Copies weights into ft and opens the training code's instance; on an
 * error the caller closes ft. */
static int tfm_finetune_start(tfm_finetune *ft, const float *const *weights, tfm_error *e)
{
	for (int i = 0; i < ft->tr.p.n; i++)
		memcpy(ft->tr.p.w[i], weights[i], ft->tr.p.nelem[i] * sizeof(float));
	return tfm_trainer_start(&ft->tr, e);
}

int tfm_finetune_open_tensors(tfm_finetune **out, const tfm_train_api *api,
                              const float *const *weights, const tfm_finetune_options *o,
                              tfm_error *e)
{
	if (tfm_finetune_alloc(out, api, o, e) != 0)
		return -1;
	if (tfm_finetune_start(*out, weights, e) != 0) {
		tfm_finetune_close(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

int tfm_finetune_open(tfm_finetune **out, const tfm_train_api *api, const char *weights_path,
                      const tfm_finetune_options *o, tfm_error *e)
{
	tfm_weights w;
	int rc;

	if (tfm_finetune_alloc(out, api, o, e) != 0)
		return -1;
	if (weights_path != NULL)
		rc = tfm_weights_open(&w, &weights_path, 1, api->tensors, api->n_tensors, e);
	else
		rc = tfm_weights_random(&w, api->tensors, api->n_tensors, (*out)->tr.seed, e);
	if (rc == 0) {
		rc = tfm_finetune_start(*out, (const float *const *)w.data, e);
		tfm_weights_free(&w);
	}
	if (rc != 0) {
		tfm_finetune_close(*out);
		*out = NULL;
	}
	return rc;
}

int tfm_finetune_step(tfm_finetune *ft, const int *tokens, double *loss, tfm_error *e)
{
	tfm_step_info info;
	int rc = tfm_trainer_step_on(&ft->tr, tokens, &info, e);

	*loss = info.loss;
	return rc;
}

int tfm_finetune_loss(tfm_finetune *ft, const int *tokens, double *loss, tfm_error *e)
{
	*loss = 0;
	return ft->tr.api->step(ft->tr.inst, tokens, 0, 0, 0, loss, e);
}

long tfm_finetune_steps_done(const tfm_finetune *ft)
{
	return ft->tr.t;
}

int tfm_finetune_save(tfm_finetune *ft, const char *path, tfm_error *e)
{
	char step[24];
	const char *meta[] = { "model", ft->tr.api->name ? ft->tr.api->name : "", "step", step, NULL };

	snprintf(step, sizeof step, "%ld", ft->tr.t);
	return tfm_write_atomic(path, ft->tr.p.decl, ft->tr.p.n, (const void *const *)ft->tr.p.w, meta,
	                        e);
}

void tfm_finetune_close(tfm_finetune *ft)
{
	if (ft == NULL)
		return;
	tfm_trainer_free(&ft->tr);
	free(ft);
}
