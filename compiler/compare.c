/* compare.c: `tfmc compare SPEC... --data FILE [budget] [options]`.
 *
 * Trains every model named (all the models of each file, or --model A,B)
 * on the same data for the same budget, with tfmc train's options (the
 * runtime's table, TFM_CMD_COMPARE), in process: each spec is checked,
 * compiled with its training code by the JIT, and driven through the
 * runtime's trainer (tfm_trainer_*), one run per seed.  A seed gives every
 * model the same random stream, so the same windows in the same order.
 *
 * A run that diverges (a loss or gradient that is not finite) is recorded
 * as diverged at its step; a spec that fails its checks, or whose data
 * does not fit its vocabulary, is reported and skipped; the others go on.
 * At the end: a table on stdout, and in --out DIR a CSV log per run,
 * summary.csv and two SVG plots (plot.c) of the validation loss against
 * tokens and against training FLOPs.  With --reuse, a run whose log in
 * DIR is complete and agrees with it (cmp_reuse) is read back instead of
 * trained: a study interrupted, or grown by a model, trains only what it
 * lacks.
 *
 * FLOPs: the training FLOPs per token are 3 times the forward's (the
 * backward costs about twice the forward), the forward's being the cost
 * model's (model_cost: 2 per weight of every matrix product, and 4 per
 * head dimension per attended position) at the mean causal context of a
 * window of T tokens, (T + 1) / 2.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "compare.h"
#include "ir.h"
#include "jit.h"
#include "plot.h"
#include "target.h"
#include "tensors.h"
#include "tfm.h"
#include "train.h"

#define CMP_MAX_FILES   64
#define CMP_MAX_MODELS  64
#define CMP_LOSS_WINDOW 10	/* the final train loss: the mean of as many last steps (as train's) */
#define CMP_PROBE_STEPS 3	/* --minutes: the steps timed to size the run */
#define CMP_EVALS       10	/* the evaluations of a run when --eval-every is not given */
#define CMP_REDRAW      0.1	/* seconds between redraws of the terminal's line */

enum { RUN_PENDING, RUN_DONE, RUN_DIVERGED, RUN_FAILED };

/* One model trained with one seed. */
typedef struct CmpRun {
	uint64_t seed;
	int state;			/* RUN_* */
	long steps;			/* done; RUN_DIVERGED: the step that diverged */
	char why[600];			/* RUN_DIVERGED, RUN_FAILED: what happened */
	double train_loss, val_loss;	/* val_loss: the last evaluation's, NAN: none */
	double tok_s, seconds;		/* training tokens per second of the steps; wall time */
	long *ev_step;			/* [n_ev] the steps evaluated after */
	double *ev_val;			/* [n_ev] their validation losses */
	int n_ev, cap_ev;
} CmpRun;

/* One model: what the compiler knows of it, and its runs. */
typedef struct CmpModel {
	char label[96];			/* its name, or FILE:NAME when two share a name */
	char name[64];
	const char *file;
	int skipped;			/* failed its checks, its compile or its data */
	char why[400];
	Program prog;
	int built;			/* prog holds an IR */
	Cost cost;
	double flops;			/* training FLOPs per token */
	char warnings[320];		/* the design warnings it raises, "a, b" */
	tfm_topts o;			/* the options resolved for it */
	CmpRun *runs;			/* [seeds] */
} CmpModel;

typedef struct Compare {
	tfm_topts o;			/* as given */
	const char *files[CMP_MAX_FILES];
	int n_files;
	const char *model_list;		/* --model A,B */
	const char *target;
	Diags wopts;			/* the -W options (-Wall first) */
	Front fe[CMP_MAX_FILES];
	int n_fe;
	CmpModel m[CMP_MAX_MODELS];
	int n;
	char command[4096];		/* the command line, for the captions */
	const char *out_dir;
	int reuse;			/* --reuse: complete logs in out_dir are read back */
	int tty, line_open;
	double last_draw;
	/* For the overall ETA: the work done and its time, the runs to go. */
	double flops_done, seconds_done;
	int runs_total, runs_done;
} Compare;

/* ---- The command line ------------------------------------------------------ */

static void cmp_usage(FILE *fp)
{
	fputs(
"usage: tfmc compare SPEC... --data FILE [--steps N | --tokens N | --minutes M]\n"
"                    [--seeds N] [--out DIR] [--model A,B] [--reuse]\n"
"                    [train options]\n"
"\n"
"Trains every model of the SPEC files (or those --model names, comma-\n"
"separated) on the same data, in the same window order, for the same budget,\n"
"each with --seeds seeds; prints a table of parameters, FLOPs per token, the\n"
"final train and validation losses (mean +- sd over the seeds), tokens/s,\n"
"wall time and the design warnings each spec raises (as -Wall: -Wno-NAME\n"
"leaves one out); writes to DIR a CSV log per run, summary.csv, and the plots\n"
"val_loss_tokens.svg and val_loss_flops.svg.\n"
"\n"
"  --model A,B           the models to train, each from the first file that\n"
"                        has it (default: every model declared in each file)\n"
"  --target T            the kernels: native (default), scalar, avx2, avx512\n"
"  --reuse               read back the runs whose logs in DIR are complete (or\n"
"                        end where the run diverged) and agree with this\n"
"                        command (steps, tokens, FLOPs and learning rates)\n"
"                        instead of training them again; their wall time is\n"
"                        that of their steps\n"
"  -Wall, -WNAME, -Wno-NAME, -Werror\n"
"                        as for tfmc check; -Werror skips a model that warns\n", fp);
	tfm_topts_usage(fp, TFM_CMD_COMPARE);
	fputs(
"\n"
"A run whose loss or gradient is not finite is reported as diverged at its\n"
"step; the others go on.  A spec that fails its checks is reported and\n"
"skipped.  Progress goes to stderr, the table to stdout.\n"
"Exit status: 0 when every model ran, 1 when one was skipped, 2 on a bad\n"
"command line or data file.\n", fp);
}

static int cmp_usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, "tfmc compare: error: ");
	fprintf(stderr, msg, arg);
	fprintf(stderr, " (see tfmc compare --help)\n");
	return 2;
}

/* 0, 1 after --help, or 2 after a message. */
static int cmp_parse(Compare *c, int argc, char **argv)
{
	size_t len;
	tfm_error e = { { 0 } };

	tfm_topts_defaults(&c->o);
	c->o.steps = -1;	/* the budget: --steps, --tokens or --minutes, else 1000 steps */
	c->o.eval_every = -1;
	diag_init(&c->wopts);
	diag_option(&c->wopts, "-Wall");
	len = (size_t)snprintf(c->command, sizeof c->command, "tfmc compare");
	for (int i = 1; i < argc; i++)
		tfm_shell_word(c->command, sizeof c->command, &len, argv[i]);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			cmp_usage(stdout);
			return 1;
		}
		if (strcmp(a, "--model") == 0 || strcmp(a, "--target") == 0) {
			if (i + 1 == argc)
				return cmp_usage_error("%s: missing value", a);
			*(a[2] == 'm' ? &c->model_list : &c->target) = argv[++i];
		} else if (strcmp(a, "--reuse") == 0) {
			c->reuse = 1;
		} else if (strncmp(a, "-W", 2) == 0) {
			if (diag_option(&c->wopts, a) != 0)
				return cmp_usage_error("unknown warning option '%s'", a);
		} else if (a[0] != '-' || a[1] == '\0') {
			if (c->n_files == CMP_MAX_FILES)
				return cmp_usage_error("more than %s spec files", "64");
			c->files[c->n_files++] = a;
		} else if (tfm_topts_arg(argc, argv, &i, TFM_CMD_COMPARE, "compare", &c->o, &e) != 0) {
			fprintf(stderr, "tfmc compare: error: %s\n", e.msg);
			return 2;
		}
	}
	if (c->n_files == 0)
		return cmp_usage_error("no spec files: name %s", "one or more, as in tfmc compare a.tfm b.tfm --data FILE");
	if (c->o.data == NULL)
		return cmp_usage_error("%s is required", "--data FILE");
	if ((c->o.steps > 0) + (c->o.budget_tokens > 0) + (c->o.minutes > 0) > 1)
		return cmp_usage_error("%s: give one budget", "--steps, --tokens and --minutes are three budgets");
	if (c->reuse && c->o.minutes > 0)
		return cmp_usage_error("%s: a run of --minutes has no fixed length to check a log against",
		                       "--reuse");
	if (c->o.steps < 0 && c->o.budget_tokens == 0 && c->o.minutes == 0)
		c->o.steps = 1000;
	if (c->o.threads <= 0)
		c->o.threads = tfm_train_threads();
	c->out_dir = c->o.out_dir ? c->o.out_dir : "compare.out";
	return 0;
}

/* An empty or unreadable data file is the command line's problem, found
 * before anything is compiled. */
static int cmp_check_file(const char *opt, const char *path)
{
	struct stat st;

	if (path == NULL)
		return 0;
	if (stat(path, &st) != 0) {
		fprintf(stderr, "tfmc compare: error: %s %s: %s\n", opt, path, strerror(errno));
		return 2;
	}
	if (S_ISREG(st.st_mode) && st.st_size == 0) {
		fprintf(stderr, "tfmc compare: error: %s %s: the file is empty: there are no tokens to "
		        "train on\n", opt, path);
		return 2;
	}
	return 0;
}

/* ---- The models -------------------------------------------------------------- */

/* Whether name is one of the comma-separated list. */
static int cmp_listed(const char *list, const char *name)
{
	size_t k = strlen(name);

	for (const char *p = list; p && *p;) {
		size_t n = strcspn(p, ",");
		if (n == k && strncmp(p, name, k) == 0)
			return 1;
		p += n + (p[n] == ',');
	}
	return 0;
}

/* Adds the model decl of fe (from file) to c: checked with its own
 * diagnostics (printed), its warnings' names kept, its IR built. */
static void cmp_add(Compare *c, Front *fe, const char *file, const ModelDecl *decl)
{
	CmpModel *m;
	Diags d, *saved = fe->diags;
	Resolved r;
	size_t len = 0;
	int failed;

	if (c->n == CMP_MAX_MODELS) {
		fprintf(stderr, "tfmc compare: note: more than %d models: %s (%s) left out\n",
		        CMP_MAX_MODELS, decl->name, file);
		return;
	}
	m = &c->m[c->n++];
	memset(m, 0, sizeof *m);
	snprintf(m->name, sizeof m->name, "%s", decl->name);
	snprintf(m->label, sizeof m->label, "%s", decl->name);
	m->file = file;
	diag_init(&d);
	memcpy(d.enabled, c->wopts.enabled, sizeof d.enabled);
	d.werror = c->wopts.werror;
	fe->diags = &d;
	failed = check_select(fe, decl->loc.src->path, decl->name, &r) != 0 || d.n_errors > 0;
	fe->diags = saved;
	diag_print_text(&d, stderr, isatty(2) && !getenv("NO_COLOR"));
	for (const Diag *g = d.head; g; g = g->next) {
		const char *w;
		if (g->warning < 0 || (g->sev != SEV_WARNING && !g->promoted))
			continue;
		w = warning_info[g->warning].name;
		if (!strstr(m->warnings, w) && len + strlen(w) + 3 < sizeof m->warnings)
			len += (size_t)snprintf(m->warnings + len, sizeof m->warnings - len, "%s%s",
			                        len ? ", " : "", w);
	}
	if (failed) {
		m->skipped = 1;
		snprintf(m->why, sizeof m->why, "fails its checks (%d error%s)", d.n_errors,
		         d.n_errors == 1 ? "" : "s");
	} else if (ir_build(&r.m, DTYPE_F32, &m->prog) != 0
	           || (m->built = 1, ir_set_files(&m->prog, NULL, 0,
	                                          r.tokenizer ? r.tokenizer->path : NULL)) != 0) {
		m->skipped = 1;
		snprintf(m->why, sizeof m->why, "out of memory");
	} else {
		model_cost(&r.m, &m->cost);
	}
	diag_free(&d);
}

/* Loads every file and picks its models: 0, or the exit status. */
static int cmp_load(Compare *c)
{
	Loc none = { 0 };

	for (int f = 0; f < c->n_files; f++) {
		Diags *d = malloc(sizeof *d);
		Front *fe = &c->fe[c->n_fe++];
		int n_before = c->n;
		if (d == NULL)
			return 1;
		diag_init(d);
		front_init(fe, d);
		int unreadable = front_load(fe, c->files[f], none) != 0;
		if (unreadable || d->n_errors) {
			diag_print_text(d, stderr, isatty(2) && !getenv("NO_COLOR"));
			fprintf(stderr, "tfmc compare: %s: skipped: %s\n", c->files[f],
			        unreadable ? "it cannot be read" : "it does not parse");
			if (c->n < CMP_MAX_MODELS) {
				CmpModel *m = &c->m[c->n++];
				memset(m, 0, sizeof *m);
				snprintf(m->label, sizeof m->label, "%s", c->files[f]);
				m->file = c->files[f];
				m->skipped = 1;
				snprintf(m->why, sizeof m->why, "%s",
				         unreadable ? "cannot be read" : "does not parse");
			}
			continue;
		}
		for (const ModelDecl *x = fe->models; x; x = x->next) {
			int taken = 0;
			if (c->model_list == NULL) {
				if (strcmp(x->loc.src->path, c->files[f]) != 0)
					continue;
			} else {
				if (!cmp_listed(c->model_list, x->name))
					continue;
				for (int k = 0; k < c->n && !taken; k++)
					taken = strcmp(c->m[k].name, x->name) == 0;
				if (taken)
					continue;	/* the first file that has it */
			}
			cmp_add(c, fe, c->files[f], x);
		}
		if (c->model_list == NULL && c->n == n_before)
			fprintf(stderr, "tfmc compare: note: %s declares no model\n", c->files[f]);
	}
	for (const char *p = c->model_list; p && *p;) {
		size_t n = strcspn(p, ",");
		int found = 0;
		for (int k = 0; k < c->n && !found; k++)
			found = strlen(c->m[k].name) == n && strncmp(c->m[k].name, p, n) == 0;
		if (!found) {
			fprintf(stderr, "tfmc compare: error: --model: no model '%.*s' in %s%s\n", (int)n, p,
			        c->files[0], c->n_files > 1 ? " or the other files" : "");
			return 2;
		}
		p += n + (p[n] == ',');
	}
	/* Labels: FILE:NAME where two files give the same name. */
	for (int i = 0; i < c->n; i++)
		for (int k = 0; k < c->n; k++)
			if (k != i && c->m[i].name[0] && strcmp(c->m[i].name, c->m[k].name) == 0)
				snprintf(c->m[i].label, sizeof c->m[i].label, "%.40s:%.50s", c->m[i].file,
				         c->m[i].name);
	return c->n == 0 ? cmp_usage_error("%s", "the spec files declare no model") : 0;
}

/* ---- Runs -------------------------------------------------------------------- */

/* The model's budget as steps and the options resolved for it; 0, or -1
 * with a message (the model is then skipped). */
static int cmp_resolve(const Compare *c, CmpModel *m, int max_seq, tfm_error *e)
{
	m->o = c->o;
	if (tfm_topts_resolve(&m->o, max_seq, e) != 0)
		return -1;
	if (c->o.budget_tokens > 0) {
		long per = m->o.batch * m->o.seq;
		m->o.steps = (c->o.budget_tokens + per - 1) / per;
	}
	return 0;
}

/* The training FLOPs per token of m at its seq. */
static double cmp_flops(const CmpModel *m)
{
	return 3.0 * ((double)m->cost.flops_linear
	              + (double)m->cost.flops_attn_per_ctx * ((double)m->o.seq + 1) / 2);
}

/* The steps, evaluations and their defaults once the steps are known. */
static int cmp_finish_options(CmpModel *m, int max_seq, tfm_error *e)
{
	if (m->o.eval_every < 0)
		m->o.eval_every = m->o.steps / CMP_EVALS > 0 ? m->o.steps / CMP_EVALS : 1;
	return tfm_topts_resolve(&m->o, max_seq, e);
}

/* A trainer for api's model with o (o->seed: its weights and windows). */
static int cmp_trainer(tfm_trainer *tr, const tfm_topts *o, const tfm_train_api *api,
                       const tfm_split *sp, tfm_error *e)
{
	if (tfm_trainer_init(tr, api, (int)o->batch, (int)o->seq, (int)o->threads, o->seed,
	                     sp->train_ids, sp->n_train, e) != 0)
		return -1;
	tfm_topts_apply(tr, o);
	if (tfm_train_weights(&tr->p, o, NULL, 0, "tfmc compare", e) != 0
	    || tfm_trainer_start(tr, e) != 0) {
		tfm_trainer_free(tr);
		return -1;
	}
	return 0;
}

/* --minutes: m's steps, those that fit in the budget with its evaluations,
 * from CMP_PROBE_STEPS steps timed (after one that warms the caches) on a
 * trainer thrown away; *per_eval the estimated seconds of an evaluation:
 * a forward pass, a third of a step, per batch of validation windows. */
static int cmp_probe(CmpModel *m, const tfm_train_api *api, const tfm_split *sp, double minutes,
                     double *per_eval, tfm_error *e)
{
	tfm_topts po = m->o;
	tfm_trainer tr;
	tfm_step_info info;
	tfm_error se;
	double t0 = 0, per_step, budget = minutes * 60, steps;
	int done = 0;

	po.steps = 1 + CMP_PROBE_STEPS;
	po.warmup = 0;
	if (cmp_trainer(&tr, &po, api, sp, e) != 0)
		return -1;
	for (int i = 0; i <= CMP_PROBE_STEPS; i++, done++) {
		if (i == 1)
			t0 = tfm_now();
		if (tfm_trainer_step(&tr, &info, &se) != 0)
			break;
	}
	per_step = done > 1 ? (tfm_now() - t0) / (done - 1) : budget;
	tfm_trainer_free(&tr);
	*per_eval = ceil((double)sp->n_val / (double)(m->o.batch * m->o.seq)) * per_step / 3;
	if (m->o.eval_every > 0)
		steps = (budget - *per_eval) / (per_step + *per_eval / (double)m->o.eval_every);
	else if (m->o.eval_every == 0)
		steps = (budget - *per_eval) / per_step;
	else
		steps = (budget - (CMP_EVALS + 1) * *per_eval) / per_step;
	m->o.steps = steps >= 1 ? (long)steps : 1;
	return 0;
}

static int cmp_record_eval(CmpRun *run, long step, double val)
{
	if (run->n_ev == run->cap_ev) {
		int cap = run->cap_ev ? 2 * run->cap_ev : 16;
		long *s = realloc(run->ev_step, (size_t)cap * sizeof *s);
		double *v;
		if (s == NULL)
			return -1;
		run->ev_step = s;
		if ((v = realloc(run->ev_val, (size_t)cap * sizeof *v)) == NULL)
			return -1;
		run->ev_val = v;
		run->cap_ev = cap;
	}
	run->ev_step[run->n_ev] = step;
	run->ev_val[run->n_ev++] = val;
	return 0;
}

/* The seconds the runs not yet done will take, estimated: the current one
 * (model mi, seed si, elapsed seconds at step t of steps) and the rest of
 * its model's at its pace, the models after it at the seconds per FLOP
 * seen so far (or their --minutes). */
static double cmp_eta(const Compare *c, int mi, int si, double elapsed, long t, long steps)
{
	const CmpModel *cur = &c->m[mi];
	double per_run = t > 0 ? elapsed / (double)t * (double)steps : 0;
	double flops_now = (double)t * (double)(cur->o.batch * cur->o.seq) * cur->flops;
	double rate = (c->seconds_done + elapsed) / (c->flops_done + flops_now + 1e-30);
	double eta = per_run - elapsed + per_run * (double)(c->o.seeds - 1 - si);

	for (int k = mi + 1; k < c->n; k++) {
		const CmpModel *m = &c->m[k];
		if (m->skipped)
			continue;
		if (c->o.minutes > 0)
			eta += c->o.minutes * 60 * (double)c->o.seeds;
		else
			eta += rate * (double)m->o.steps * (double)(m->o.batch * m->o.seq) * m->flops
			       * (double)c->o.seeds;
	}
	return eta > 0 ? eta : 0;
}

/* The progress line of model mi's run si after step info->t: rewritten in
 * place on a terminal, else a line at each evaluation and at the ends. */
static void cmp_progress(Compare *c, int mi, int si, const tfm_step_info *info, double val,
                         double elapsed, double tok_s, int evaluated, int last)
{
	const CmpModel *m = &c->m[mi];
	tfm_progress p = { info->t, m->o.steps, info->loss, val, tok_s, elapsed, 0 };
	char line[256], all[32];
	double now = tfm_now();

	if (c->tty && !evaluated && !last && c->last_draw >= 0 && now - c->last_draw < CMP_REDRAW)
		return;
	if (!c->tty && !evaluated && !last && info->t != 1)
		return;
	p.eta = elapsed / (double)info->t * (double)(m->o.steps - info->t);
	tfm_progress_line(line, sizeof line, &p);
	tfm_duration(all, sizeof all, cmp_eta(c, mi, si, elapsed, info->t, m->o.steps));
	fprintf(stderr, "%s[%d/%d] %s seed %" PRIu64 ": %s  all ETA %s%s", c->tty ? "\r" : "",
	        c->runs_done + 1, c->runs_total, m->label, m->runs[si].seed, line, all,
	        c->tty ? "\033[K" : "\n");
	fflush(stderr);
	c->line_open = c->tty;
	c->last_draw = now;
}

static void cmp_newline(Compare *c)
{
	if (c->line_open)
		fputc('\n', stderr);
	c->line_open = 0;
}

/* The first line of a run's log. */
static const char cmp_log_head[] = "step,tokens,flops,lr,train_loss,grad_norm,tokens_per_s,val_loss\n";

/* label made safe for a file name (letters, digits, '.', '_', '-'), with
 * the seed: "NAME.seedS.csv". */
static void cmp_log_name(char *buf, size_t cap, const char *label, uint64_t seed)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
	char safe[96];
	size_t i;

	for (i = 0; label[i] && i + 1 < sizeof safe; i++)
		safe[i] = strchr(ok, label[i]) ? label[i] : '_';
	safe[i] = '\0';
	snprintf(buf, cap, "%s.seed%" PRIu64 ".csv", safe, seed);
}

/* Evaluates after step t into *val and the run's points; 0 or -1. */
static int cmp_validate(CmpRun *run, const tfm_trainer *tr, const tfm_split *sp, double *val,
                        tfm_error *e)
{
	double nats;
	size_t count;

	if (tfm_evaluate(tr->api, tr->inst, tr->p.w, tr->p.g, tr->batch, tr->seq, tr->threads,
	                 sp->val_ids, sp->n_val, &nats, &count, e) != 0)
		return -1;
	*val = nats / (double)count;
	if (cmp_record_eval(run, tr->t, *val) != 0)
		return tfm_fail(e, "out of memory");
	return 0;
}

/* The last steps' mean loss. */
static double cmp_last_loss(const double *losses, long n)
{
	long k = n < CMP_LOSS_WINDOW ? n : CMP_LOSS_WINDOW;
	double sum = 0;

	for (long i = 0; i < k; i++)
		sum += losses[i];
	return k > 0 ? sum / (double)k : NAN;
}

/* The line that says how model mi's run si ended; from: the log it was
 * read back from, or NULL. */
static void cmp_report(Compare *c, int mi, int si, const char *from)
{
	const CmpModel *m = &c->m[mi];
	const CmpRun *run = &m->runs[si];
	char took[32];

	c->runs_done++;
	cmp_newline(c);
	fprintf(stderr, "[%d/%d] %s seed %" PRIu64 ": ", c->runs_done, c->runs_total, m->label,
	        run->seed);
	if (from)
		fprintf(stderr, "read back from %s: ", from);
	if (run->state == RUN_DONE) {
		fprintf(stderr, "%ld steps in %s, %.0f tok/s, train loss %.4f", run->steps,
		        tfm_duration(took, sizeof took, run->seconds), run->tok_s, run->train_loss);
		if (isfinite(run->val_loss))
			fprintf(stderr, ", val loss %.4f", run->val_loss);
		fputc('\n', stderr);
	} else {
		const char *why = run->why;
		if (strncmp(why, "step ", 5) == 0 && strstr(why, ": ") != NULL)
			why = strstr(why, ": ") + 2;	/* the step is said already */
		fprintf(stderr, "%s at step %ld: %s\n", run->state == RUN_DIVERGED ? "diverged" : "failed",
		        run->steps, why);
	}
}

/* A row of a run's log after step t: its tokens and FLOPs, the learning
 * rate, the loss and the gradient's norm (NaN: not measured), tokens/s;
 * the validation loss, when there is one, the caller's to add. */
static void cmp_log_row(FILE *log, const CmpModel *m, long t, double lr, double loss, double norm,
                        double tok_s)
{
	double tokens = (double)(m->o.batch * m->o.seq) * (double)t;

	loss = isnan(loss) ? NAN : loss;	/* "nan", not "-nan" */
	norm = isnan(norm) ? NAN : norm;
	fprintf(log, "%ld,%.0f,%.6g,%.9g,%.9g,%.9g,%.1f,", t, tokens, tokens * m->flops, lr, loss, norm,
	        tok_s);
}

/* --reuse: model mi's run si read back from its log in the out folder,
 * when the log is whole and agrees with the run this command would train:
 * a row for every step, each with the tokens, FLOPs and learning rate
 * (the schedule's) of its step, and the last evaluated when there is
 * validation data; or a run that diverged, its last row the step whose
 * loss, gradient or validation loss is not finite (cmp_run writes it).
 * The run's wall time is then the sum of its steps' (the log does not
 * time the evaluations).  1 when it was read back; 0 when it is to be
 * trained (its log is then written anew). */
static int cmp_reuse(Compare *c, int mi, int si, const tfm_split *sp)
{
	CmpModel *m = &c->m[mi];
	CmpRun *run = &m->runs[si];
	const tfm_topts *o = &m->o;
	tfm_schedule sched = { (int)o->schedule, o->lr, o->min_lr, o->warmup, o->steps };
	double per = (double)(o->batch * o->seq), losses[CMP_LOSS_WINDOW], t_steps = 0, val = NAN;
	char name[160], path[4096], line[512];
	long t = 0, timed = 0, diverged = 0;
	int ok;
	FILE *f;

	cmp_log_name(name, sizeof name, m->label, run->seed);
	snprintf(path, sizeof path, "%s/%s", c->out_dir, name);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	ok = fgets(line, sizeof line, f) != NULL && strcmp(line, cmp_log_head) == 0;
	while (ok && fgets(line, sizeof line, f) != NULL) {
		double tokens, flops, lr, loss, norm, tok_s, v = NAN, want = tfm_schedule_lr(&sched, t + 1);
		long step;
		int n = 0, evaluated;
		char *end;
		ok = diverged == 0
		     && sscanf(line, "%ld,%lf,%lf,%lf,%lf,%lf,%lf,%n", &step, &tokens, &flops, &lr, &loss,
		               &norm, &tok_s, &n) == 7 && n > 0
		     && step == t + 1 && step <= o->steps && tokens == per * (double)step
		     && fabs(flops - per * (double)step * m->flops) <= 1e-5 * flops
		     && fabs(lr - want) <= 1e-7 * fabs(want) && tok_s >= 0;
		evaluated = ok && line[n] != '\n';
		if (evaluated) {
			v = strtod(line + n, &end);
			ok = end != line + n && *end == '\n' && cmp_record_eval(run, step, v) == 0;
			val = v;
		}
		if (!ok)
			break;
		t = step;
		if (!isfinite(loss) || !isfinite(norm) || (evaluated && !isfinite(v))) {
			diverged = step;	/* trainer.c's messages, and cmp_run's */
			if (!isfinite(loss))
				snprintf(run->why, sizeof run->why, "step %ld: the loss is %s", step,
				         isnan(loss) ? "NaN" : "infinite");
			else if (!isfinite(norm))
				snprintf(run->why, sizeof run->why, "step %ld: the gradient is not finite "
				         "(its norm is %s; the loss %.6g)", step, isnan(norm) ? "NaN" : "infinite",
				         loss);
			else
				snprintf(run->why, sizeof run->why, "step %ld: the validation loss is %s", step,
				         isnan(v) ? "NaN" : "infinite");
			if (!isfinite(loss) || !isfinite(norm))
				continue;	/* a step not taken */
		}
		losses[timed % CMP_LOSS_WINDOW] = loss;
		t_steps += tok_s > 0 ? per / tok_s : 0;
		timed++;
	}
	ok = ok && !ferror(f)
	     && (diverged > 0 || (t == o->steps && (sp->n_val == 0 || (run->n_ev > 0 && run->ev_step[run->n_ev - 1] == t))));
	fclose(f);
	if (!ok) {
		run->n_ev = 0;
		run->why[0] = '\0';
		return 0;
	}
	run->state = diverged > 0 ? RUN_DIVERGED : RUN_DONE;
	run->steps = t;
	if (diverged == 0) {
		run->train_loss = cmp_last_loss(losses, t);
		run->val_loss = sp->n_val > 0 ? val : NAN;
		snprintf(run->why, sizeof run->why, "read back from its log");
	}
	run->tok_s = t_steps > 0 ? per * (double)timed / t_steps : 0;
	run->seconds = t_steps;
	c->flops_done += per * (double)timed * m->flops;
	c->seconds_done += t_steps;
	cmp_report(c, mi, si, path);
	return 1;
}

/* Model mi's run si: its steps, evaluations, log and progress; the result
 * in its CmpRun. */
static void cmp_run(Compare *c, int mi, int si, const tfm_train_api *api, const tfm_split *sp,
                    double per_eval)
{
	CmpModel *m = &c->m[mi];
	CmpRun *run = &m->runs[si];
	tfm_topts o = m->o;
	tfm_trainer tr;
	tfm_error e = { { 0 } };
	double t_start = tfm_now(), t_steps = 0, losses[CMP_LOSS_WINDOW], val = NAN;
	double per = (double)(o.batch * o.seq), budget = c->o.minutes * 60;
	long n_losses = 0;
	char name[160], path[4096];
	FILE *log;

	o.seed = run->seed;
	cmp_log_name(name, sizeof name, m->label, run->seed);
	snprintf(path, sizeof path, "%s/%s", c->out_dir, name);
	run->state = RUN_FAILED;
	if ((log = fopen(path, "w")) == NULL) {
		snprintf(run->why, sizeof run->why, "%.200s: cannot create: %.30s", path, strerror(errno));
		goto report;
	}
	fputs(cmp_log_head, log);
	if (cmp_trainer(&tr, &o, api, sp, &e) != 0) {
		snprintf(run->why, sizeof run->why, "%s", e.msg);
		fclose(log);
		goto report;
	}
	run->state = RUN_PENDING;
	while (tr.t < o.steps && run->state == RUN_PENDING) {
		tfm_step_info info;
		int evaluated = 0, stop;
		if (tfm_trainer_step(&tr, &info, &e) != 0) {
			run->state = isfinite(info.loss) && isfinite(info.norm) ? RUN_FAILED : RUN_DIVERGED;
			run->steps = info.t;
			snprintf(run->why, sizeof run->why, "%s", e.msg);
			if (run->state == RUN_DIVERGED) {	/* the step it diverged at, for --reuse */
				cmp_log_row(log, m, info.t, tfm_schedule_lr(&tr.sched, info.t), info.loss,
				            isfinite(info.loss) ? info.norm : NAN, 0);
				fputc('\n', log);
			}
			break;
		}
		t_steps += info.seconds;
		losses[n_losses++ % CMP_LOSS_WINDOW] = info.loss;
		stop = budget > 0 && tfm_now() - t_start + per_eval >= budget;
		if (sp->n_val > 0 && ((o.eval_every > 0 && info.t % o.eval_every == 0)
		                      || info.t == o.steps || stop)) {
			if (cmp_validate(run, &tr, sp, &val, &e) != 0) {
				run->state = RUN_FAILED;
				run->steps = info.t;
				snprintf(run->why, sizeof run->why, "evaluation: %s", e.msg);
				break;
			}
			evaluated = 1;
			if (!isfinite(val)) {
				run->state = RUN_DIVERGED;
				run->steps = info.t;
				snprintf(run->why, sizeof run->why, "step %ld: the validation loss is %s",
				         info.t, isnan(val) ? "NaN" : "infinite");
			}
		}
		cmp_log_row(log, m, info.t, info.lr, info.loss, info.norm,
		            info.seconds > 0 ? per / info.seconds : 0.0);
		if (evaluated)
			fprintf(log, "%.9g", isnan(val) ? NAN : val);
		fputc('\n', log);
		cmp_progress(c, mi, si, &info, val, tfm_now() - t_start,
		             t_steps > 0 ? per * (double)tr.t / t_steps : 0, evaluated,
		             info.t == o.steps || stop);
		if (stop)
			break;
	}
	if (run->state == RUN_PENDING) {
		run->state = RUN_DONE;
		run->steps = tr.t;
		run->train_loss = cmp_last_loss(losses, n_losses);
		run->val_loss = val;
	}
	run->tok_s = t_steps > 0 ? per * (double)tr.t / t_steps : 0;
	run->seconds = tfm_now() - t_start;
	if ((ferror(log) | fclose(log)) != 0 && run->state == RUN_DONE) {
		run->state = RUN_FAILED;
		snprintf(run->why, sizeof run->why, "%.200s: write failed", path);
	}
	c->flops_done += per * (double)tr.t * m->flops;
	c->seconds_done += run->seconds;
	tfm_trainer_free(&tr);
report:
	cmp_report(c, mi, si, NULL);
}

/* Model mi's runs: its training code compiled, its data read (a model
 * that cannot is skipped), then one run per seed. */
static void cmp_model(Compare *c, int mi, const char *isa)
{
	CmpModel *m = &c->m[mi];
	tfm_tokenizer *tok = NULL;
	tfm_split sp;
	tfm_error e = { { 0 } };
	char note[600], prefix[160];
	double per_eval = 0;
	Jit j;

	memset(&sp, 0, sizeof sp);
	if (jit_compile_train(&m->prog, m->file, isa, &j, &e) != 0) {
		m->skipped = 1;
		snprintf(m->why, sizeof m->why, "does not compile: %.360s", e.msg);
	} else {
		snprintf(prefix, sizeof prefix, "tfmc compare: %s", m->label);
		if (tfm_train_tokenizer(&tok, &m->o, j.api, &e) != 0
		    || tfm_split_read(&sp, &m->o, tok, j.train_api->vocab, prefix, note, sizeof note, &e) != 0
		    || (c->o.minutes > 0 && cmp_probe(m, j.train_api, &sp, c->o.minutes, &per_eval, &e) != 0)
		    || cmp_finish_options(m, j.train_api->max_seq, &e) != 0) {
			m->skipped = 1;
			snprintf(m->why, sizeof m->why, "%.390s", e.msg);
		} else {
			fputs(note, stderr);
			fprintf(stderr, "tfmc compare: %s: %lld parameters; %zu training tokens, %zu "
			        "validation; %ld steps of %ld x %ld tokens\n", m->label, m->cost.params,
			        sp.n_train, sp.n_val, m->o.steps, m->o.batch, m->o.seq);
			for (int s = 0; s < c->o.seeds; s++)
				if (!c->reuse || !cmp_reuse(c, mi, s, &sp))
					cmp_run(c, mi, s, j.train_api, &sp, per_eval);
		}
		tfm_split_free(&sp);
		tfm_tokenizer_close(tok);
		jit_free(&j);
	}
	if (m->skipped) {
		fprintf(stderr, "tfmc compare: %s: skipped: %s\n", m->label, m->why);
		c->runs_total -= (int)c->o.seeds;
	}
}

/* ---- Results ------------------------------------------------------------------ */

/* The mean of the finite v[n] and their sample standard deviation (0 for
 * one); *k how many there were. */
static double cmp_mean(const double *v, int n, double *sd, int *k)
{
	double sum = 0, ss = 0, mean;

	*k = 0;
	for (int i = 0; i < n; i++)
		if (isfinite(v[i])) {
			sum += v[i];
			++*k;
		}
	mean = *k ? sum / *k : NAN;
	for (int i = 0; i < n; i++)
		if (isfinite(v[i]))
			ss += (v[i] - mean) * (v[i] - mean);
	*sd = *k > 1 ? sqrt(ss / (*k - 1)) : 0;
	return mean;
}

/* "2.3456 ± 0.0123" (or "2.3456" of one value) of the finite v[n]; "-" of none. */
static void cmp_pm(char *buf, size_t cap, const double *v, int n)
{
	double sd, mean;
	int k;

	mean = cmp_mean(v, n, &sd, &k);
	if (k == 0)
		snprintf(buf, cap, "-");
	else if (k == 1)
		snprintf(buf, cap, "%.4f", mean);
	else
		snprintf(buf, cap, "%.4f ± %.4f", mean, sd);
}

/* 1234567 -> "1,234,567" */
static void cmp_commas(char *buf, size_t cap, long long v)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof tmp, "%lld", v);
	size_t j = 0;

	for (int i = 0; i < n && j + 2 < cap; i++) {
		if (i > 0 && tmp[i - 1] != '-' && (n - i) % 3 == 0)
			buf[j++] = ',';
		buf[j++] = tmp[i];
	}
	buf[j] = '\0';
}

/* The columns a UTF-8 string takes. */
static int cmp_width(const char *s)
{
	int w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

enum { COL_MODEL, COL_PARAMS, COL_NONEMB, COL_FLOPS, COL_TRAIN, COL_VAL, COL_TOKS, COL_WALL,
       COL_WARN, COL_NOTES, COL__COUNT };
#define CMP_CELL 400

/* Model m's row of the table. */
static void cmp_row(const Compare *c, const CmpModel *m, char (*row)[CMP_CELL])
{
	double train[1000], val[1000], toks[1000], wall[1000], sd, mean;
	int n = 0, k;
	size_t len = 0;

	snprintf(row[COL_MODEL], CMP_CELL, "%s", m->label);
	for (k = 1; k < COL__COUNT; k++)
		snprintf(row[k], CMP_CELL, "-");
	if (m->built) {
		cmp_commas(row[COL_PARAMS], CMP_CELL, m->cost.params);
		cmp_commas(row[COL_NONEMB], CMP_CELL, m->cost.params_other);
		if (m->flops > 0)
			plot_number(row[COL_FLOPS], CMP_CELL, m->flops,	/* three digits */
			            pow(10, floor(log10(m->flops)) - 2), m->flops);
	}
	if (m->warnings[0])
		snprintf(row[COL_WARN], CMP_CELL, "%s", m->warnings);
	if (m->skipped) {
		snprintf(row[COL_NOTES], CMP_CELL, "skipped: %.380s", m->why);
		return;
	}
	for (int s = 0; s < c->o.seeds && n < 1000; s++, n++) {
		const CmpRun *r = &m->runs[s];
		int done = r->state == RUN_DONE;
		train[n] = done ? r->train_loss : NAN;
		val[n] = done ? r->val_loss : NAN;
		toks[n] = r->state != RUN_FAILED && r->steps > 0 ? r->tok_s : NAN;
		wall[n] = done ? r->seconds : NAN;
		if (!done && len + 1 < CMP_CELL)
			len += (size_t)snprintf(row[COL_NOTES] + len, CMP_CELL - len,
			                        "%sseed %" PRIu64 " %s at step %ld", len ? "; " : "", r->seed,
			                        r->state == RUN_DIVERGED ? "diverged" : "failed", r->steps);
	}
	cmp_pm(row[COL_TRAIN], CMP_CELL, train, n);
	cmp_pm(row[COL_VAL], CMP_CELL, val, n);
	if (strcmp(row[COL_TRAIN], "-") == 0 && len > 0)
		snprintf(row[COL_TRAIN], CMP_CELL, "diverged");
	mean = cmp_mean(toks, n, &sd, &k);
	if (k > 0)
		snprintf(row[COL_TOKS], CMP_CELL, "%.0f", mean);
	mean = cmp_mean(wall, n, &sd, &k);
	if (k > 0)
		tfm_duration(row[COL_WALL], CMP_CELL, mean);
}

/* The table: a row per model, each column as wide as its widest cell,
 * the numbers to the right. */
static void cmp_table(const Compare *c, FILE *f)
{
	static const char *const head[COL__COUNT] = { "model", "params", "non-emb", "FLOPs/tok",
	                                              "train loss", "val loss", "tok/s", "wall/run",
	                                              "warnings", "notes" };
	static const int right[COL__COUNT] = { 0, 1, 1, 1, 1, 1, 1, 1, 0, 0 };
	char (*cells)[COL__COUNT][CMP_CELL] = calloc((size_t)c->n + 1, sizeof *cells);
	int width[COL__COUNT] = { 0 };

	if (cells == NULL)
		return;
	for (int k = 0; k < COL__COUNT; k++)
		snprintf(cells[0][k], CMP_CELL, "%s", head[k]);
	for (int i = 0; i < c->n; i++)
		cmp_row(c, &c->m[i], cells[i + 1]);
	for (int i = 0; i <= c->n; i++)
		for (int k = 0; k < COL__COUNT; k++)
			if (cmp_width(cells[i][k]) > width[k])
				width[k] = cmp_width(cells[i][k]);
	for (int i = 0; i <= c->n; i++) {
		for (int k = 0; k < COL__COUNT; k++) {
			int pad = width[k] - cmp_width(cells[i][k]);
			if (k == COL__COUNT - 1)
				fprintf(f, "%s\n", cells[i][k]);
			else if (right[k])
				fprintf(f, "%*s%s  ", pad, "", cells[i][k]);
			else
				fprintf(f, "%s%*s  ", cells[i][k], pad, "");
		}
	}
	free(cells);
}

/* summary.csv: a row per run (and per skipped model). */
static int cmp_summary(const Compare *c, const char *path)
{
	FILE *f = fopen(path, "w");
	static const char *const state[] = { "not run", "done", "diverged", "failed" };

	if (f == NULL)
		return -1;
	fputs("model,file,seed,status,steps,tokens,train_loss,val_loss,tokens_per_s,seconds,params,"
	      "non_embedding_params,train_flops_per_token,warnings,note\n", f);
	for (int i = 0; i < c->n; i++) {
		const CmpModel *m = &c->m[i];
		for (int s = 0; s < (m->skipped ? 1 : c->o.seeds); s++) {
			const CmpRun *r = m->skipped ? NULL : &m->runs[s];
			const char *why = r ? r->why : m->why;
			fprintf(f, "%s,%s,", m->label, m->file);
			if (r)
				fprintf(f, "%" PRIu64 ",%s,%ld,%.0f,%.9g,%.9g,%.1f,%.3f,", r->seed,
				        state[r->state], r->steps,
				        (double)r->steps * (double)(m->o.batch * m->o.seq), r->train_loss,
				        r->val_loss, r->tok_s, r->seconds);
			else
				fputs(",skipped,,,,,,,", f);
			fprintf(f, "%lld,%lld,%.6g,\"%s\",\"", m->cost.params, m->cost.params_other,
			        m->flops, m->warnings);
			for (const char *p = why; *p; p++) {
				if (*p == '"')
					fputc('"', f);	/* CSV doubles a quote */
				fputc(*p, f);
			}
			fputs("\"\n", f);
		}
	}
	return (ferror(f) | fclose(f)) != 0 ? -1 : 0;
}

/* The plot of the validation loss of every model that ran, against
 * tokens (x_flops 0) or training FLOPs: at each step some run evaluated
 * after, the mean over the runs that did and a band of ± one sd. */
static int cmp_plot(const Compare *c, const char *path, int x_flops)
{
	PlotSeries series[CMP_MAX_MODELS];
	char names[CMP_MAX_MODELS][160];
	double *mem[CMP_MAX_MODELS] = { 0 };
	char caption[4600];
	int n = 0, rc = -1;
	FILE *f;

	for (int i = 0; i < c->n; i++) {
		const CmpModel *m = &c->m[i];
		int cap = 0, k = 0;
		double *x, *y, *lo, *hi;
		if (m->skipped)
			continue;
		for (int s = 0; s < c->o.seeds; s++)
			cap += m->runs[s].n_ev;
		if ((mem[n] = malloc(4 * (size_t)(cap + 1) * sizeof(double))) == NULL)
			goto done;
		x = mem[n], y = x + cap + 1, lo = y + cap + 1, hi = lo + cap + 1;
		/* The steps evaluated, in order: each the least above the last. */
		for (long last = 0;; k++) {
			long next = -1;
			double v[1000], sd;
			int nv = 0, have;
			for (int s = 0; s < c->o.seeds; s++)
				for (int e = 0; e < m->runs[s].n_ev; e++)
					if (m->runs[s].ev_step[e] > last && (next < 0 || m->runs[s].ev_step[e] < next))
						next = m->runs[s].ev_step[e];
			if (next < 0)
				break;
			for (int s = 0; s < c->o.seeds && nv < 1000; s++)
				for (int e = 0; e < m->runs[s].n_ev; e++)
					if (m->runs[s].ev_step[e] == next)
						v[nv++] = m->runs[s].ev_val[e];
			x[k] = (double)next * (double)(m->o.batch * m->o.seq) * (x_flops ? m->flops : 1);
			y[k] = cmp_mean(v, nv, &sd, &have);
			lo[k] = have > 1 ? y[k] - sd : NAN;
			hi[k] = have > 1 ? y[k] + sd : NAN;
			last = next;
		}
		{
			int bad = 0;
			for (int s = 0; s < c->o.seeds; s++)
				bad += m->runs[s].state != RUN_DONE;
			if (bad == 0)
				snprintf(names[n], sizeof names[n], "%s", m->label);
			else
				snprintf(names[n], sizeof names[n], "%s (%d of %ld runs diverged or failed)",
				         m->label, bad, c->o.seeds);
		}
		series[n] = (PlotSeries){ names[n], k, x, y, c->o.seeds > 1 ? lo : NULL,
		                          c->o.seeds > 1 ? hi : NULL };
		n++;
	}
	snprintf(caption, sizeof caption, "%s   (lines: the mean over %ld seed%s%s; training FLOPs: "
	         "3 x the forward's per token)", c->command, c->o.seeds, c->o.seeds == 1 ? "" : "s",
	         c->o.seeds > 1 ? ", bands: ± 1 sd" : "");
	if ((f = fopen(path, "w")) == NULL)
		goto done;
	rc = plot_svg(f, &(Plot){ x_flops ? "Validation loss against training compute"
	                                  : "Validation loss against training tokens",
	                          x_flops ? "training FLOPs" : "training tokens",
	                          "validation loss (nats/token)", caption, series, n });
	if (fclose(f) != 0)
		rc = -1;
done:
	for (int i = 0; i < n + 1 && i < CMP_MAX_MODELS; i++)
		free(mem[i]);
	return rc;
}

/* ---- The command ---------------------------------------------------------------- */

static void cmp_free(Compare *c)
{
	for (int i = 0; i < c->n; i++) {
		CmpModel *m = &c->m[i];
		for (int s = 0; m->runs && s < c->o.seeds; s++) {
			free(m->runs[s].ev_step);
			free(m->runs[s].ev_val);
		}
		free(m->runs);
		if (m->built)
			ir_free(&m->prog);
	}
	for (int i = 0; i < c->n_fe; i++) {
		Diags *d = c->fe[i].diags;
		front_free(&c->fe[i]);
		diag_free(d);
		free(d);
	}
	diag_free(&c->wopts);
}

int compare_main(int argc, char **argv)
{
	Compare *c = calloc(1, sizeof *c);
	const char *isa = NULL;
	const tfm_kernels *k = tfm_kernels_for(NULL);
	tfm_error e = { { 0 } };
	char path[4096], budget[80];
	int rc, skipped = 0;

	if (c == NULL)
		return 1;
	if ((rc = cmp_parse(c, argc, argv)) != 0) {
		rc = rc == 1 ? 0 : rc;
		goto done;
	}
	if (c->target && strcmp(c->target, "native") != 0) {
		const Target *t = target_find(c->target);
		if (t == NULL) {
			rc = cmp_usage_error("unknown target '%s' (native, scalar, avx2 or avx512)", c->target);
			goto done;
		}
		isa = t->name;
	}
	if (!jit_available()) {
		fprintf(stderr, "tfmc compare: error: compare needs the JIT: this tfmc was built without "
		        "libtcc\n");
		rc = 1;
		goto done;
	}
	if ((rc = cmp_check_file("--data", c->o.data)) != 0 || (rc = cmp_check_file("--val", c->o.val)) != 0)
		goto done;
	if (mkdir(c->out_dir, 0777) != 0 && errno != EEXIST) {
		fprintf(stderr, "tfmc compare: error: --out %s: cannot create: %s\n", c->out_dir,
		        strerror(errno));
		rc = 2;
		goto done;
	}
	if ((rc = cmp_load(c)) != 0)
		goto done;
	for (int i = 0; i < c->n; i++) {
		CmpModel *m = &c->m[i];
		if (m->skipped)
			continue;
		if (cmp_resolve(c, m, (int)m->prog.m.max_seq, &e) != 0) {
			m->skipped = 1;
			snprintf(m->why, sizeof m->why, "%.390s", e.msg);
			continue;
		}
		m->flops = cmp_flops(m);
		if ((m->runs = calloc((size_t)c->o.seeds, sizeof *m->runs)) == NULL) {
			rc = 1;
			goto done;
		}
		for (int s = 0; s < c->o.seeds; s++) {
			m->runs[s].seed = c->o.seed + (uint64_t)s;
			m->runs[s].val_loss = m->runs[s].train_loss = NAN;
		}
		c->runs_total += (int)c->o.seeds;
	}
	c->tty = isatty(2);
	c->last_draw = -1;
	if (c->o.minutes > 0)
		snprintf(budget, sizeof budget, "%g minutes of wall time per run", c->o.minutes);
	else if (c->o.budget_tokens > 0)
		snprintf(budget, sizeof budget, "%ld training tokens per run", c->o.budget_tokens);
	else
		snprintf(budget, sizeof budget, "%ld steps per run", c->o.steps);
	fprintf(stderr, "tfmc compare: %d model%s x %ld seed%s, %s; %ld thread%s, kernels %s; "
	        "logs and plots in %s/\n", c->runs_total / (int)c->o.seeds,
	        c->runs_total == c->o.seeds ? "" : "s", c->o.seeds,
	        c->o.seeds == 1 ? "" : "s", budget, c->o.threads, c->o.threads == 1 ? "" : "s",
	        isa ? isa : k ? k->isa : "?", c->out_dir);
	for (int i = 0; i < c->n; i++)
		if (!c->m[i].skipped)
			cmp_model(c, i, isa);

	fflush(stderr);
	cmp_table(c, stdout);
	for (int i = 0; i < c->n; i++)
		skipped += c->m[i].skipped;
	snprintf(path, sizeof path, "%s/summary.csv", c->out_dir);
	if (cmp_summary(c, path) != 0)
		fprintf(stderr, "tfmc compare: error: %s: cannot write\n", path), skipped++;
	snprintf(path, sizeof path, "%s/val_loss_tokens.svg", c->out_dir);
	if (cmp_plot(c, path, 0) != 0)
		fprintf(stderr, "tfmc compare: error: %s: cannot write\n", path), skipped++;
	snprintf(path, sizeof path, "%s/val_loss_flops.svg", c->out_dir);
	if (cmp_plot(c, path, 1) != 0)
		fprintf(stderr, "tfmc compare: error: %s: cannot write\n", path), skipped++;
	printf("logs and plots: %s/ (summary.csv, MODEL.seedS.csv, val_loss_tokens.svg, "
	       "val_loss_flops.svg)\n", c->out_dir);
	rc = fflush(stdout) != 0 || skipped > 0;
done:
	cmp_free(c);
	free(c);
	return rc;
}
