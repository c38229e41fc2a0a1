/* progress.c: the line a training run shows while it runs, as text; where
 * it goes and how often is tfm_train_main's business.
 *
 *     step 120/1000  loss 2.3456  val 2.4012  5321 tok/s  elapsed 0:01:23  ETA 0:09:45
 */
#include <math.h>
#include <stdio.h>

#include "train.h"

const char *tfm_duration(char *buf, size_t cap, double seconds)
{
	long s = seconds > 0 && seconds < 1e9 ? (long)(seconds + 0.5) : 0;

	snprintf(buf, cap, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
	return buf;
}

size_t tfm_progress_line(char *buf, size_t cap, const tfm_progress *p)
{
	char elapsed[32], eta[48], val[48] = "";
	int k;

	if (!isnan(p->val_loss))
		snprintf(val, sizeof val, "  val %.4f", p->val_loss);
	if (p->eta >= 0)
		snprintf(eta, sizeof eta, "  ETA %s", tfm_duration(elapsed, sizeof elapsed, p->eta));
	else
		eta[0] = '\0';
	k = snprintf(buf, cap, "step %ld/%ld  loss %.4f%s  %.0f tok/s  elapsed %s%s", p->step, p->steps,
	             p->loss, val, p->tok_s, tfm_duration(elapsed, sizeof elapsed, p->elapsed), eta);
	if (k < 0)
		k = 0;
	return (size_t)k < cap ? (size_t)k : cap > 0 ? cap - 1 : 0;
}
