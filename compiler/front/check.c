/* check.c: the design rules.  Errors are models that cannot work as
 * MODEL_REFERENCE.md defines them; warnings are the field's rules of thumb,
 * each named in warnings.h, with the rule as a note. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "check.h"

/* Where to point for key k: its assignment, or the model's name when the
 * key kept its default. */
static Loc where(const Resolved *r, int k)
{
	return r->key_loc[k].line ? r->key_loc[k] : r->loc;
}

/* A warning of rule w about key k, unless the model allows it.  The rule
 * goes in a note, and a second note says when the key was inherited. */
static Diag *warn(Diags *d, const Resolved *r, int w, int k, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static Diag *warn(Diags *d, const Resolved *r, int w, int k, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	Diag *g;

	if (r->allowed[w])
		return NULL;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	g = diag_warning(d, where(r, k), w, "%s", msg);
	diag_note(g, where(r, k), "%s", warning_info[w].rule);
	if (g && r->key_from[k] && r->key_from[k] != r->decl)
		diag_note(g, r->loc, "in model '%s', which inherits '%s' from '%s'", r->m.name,
		          key_info[k].name, r->key_from[k]->name);
	if (g)
		diag_note(g, where(r, k), "silence it for this model with 'allow %s', or everywhere with -Wno-%s",
		          warning_info[w].name, warning_info[w].name);
	return g;
}

static void check_errors(Diags *d, const Resolved *r)
{
	const Model *m = &r->m;
	/* Parameters, roughly, in double: beyond 2^50 the exact counts of
	 * tensors.c could overflow, and no machine holds such a model anyway. */
	double dm = (double)m->d_model, hd = (double)m->head_dim;
	double params = 2 * (double)m->vocab * dm + (double)m->max_seq * dm +
	                (double)m->n_layer * (2 * dm * hd * (double)(m->n_head + m->n_kv_head) +
	                                      3 * dm * (double)m->d_ff + 8 * dm);

	if (params > 1125899906842624.0) {	/* 2^50 */
		diag_error(d, r->loc, "model '%s' has about %.3g parameters, more than tfmc handles (2^50)",
		           m->name, params);
		return;
	}

	/* "query head h reads key/value head g(h) = floor(h / (n_head / n_kv_head))" */
	if (m->n_head % m->n_kv_head) {
		char fits[128] = "";
		int n = 0;
		for (long long i = 1; i <= m->n_head && n < 6; i++)
			if (m->n_head % i == 0) {
				size_t l = strlen(fits);
				snprintf(fits + l, sizeof fits - l, "%s%lld", n ? ", " : "", i);
				n++;
			}
		Diag *g = diag_error(d, where(r, K_n_kv_head),
		                     "n_head (%lld) is not a multiple of n_kv_head (%lld)",
		                     m->n_head, m->n_kv_head);
		diag_note(g, where(r, K_n_kv_head),
		          "each key/value head serves n_head / n_kv_head query heads; n_kv_head = %s%s would work",
		          fits, n == 6 ? ", ..." : "");
	}
	if (m->position == POS_ROPE && m->head_dim % 2) {
		Diag *g = diag_error(d, where(r, K_head_dim), "head_dim (%lld) is odd, but RoPE needs it even",
		                     m->head_dim);
		diag_note(g, where(r, K_position), "RoPE rotates pairs of dimensions of every head");
	}
	if (m->position == POS_SINE && m->d_model % 2) {
		Diag *g = diag_error(d, where(r, K_d_model), "d_model (%lld) is odd, but sine positions need it even",
		                     m->d_model);
		diag_note(g, where(r, K_position), "sine positions fill pairs of dimensions with sin and cos");
	}
}

/* d_ff / d_model close to 4, or 8/3 for GLU variants. */
static void check_ffn_ratio(Diags *d, const Resolved *r)
{
	const Model *m = &r->m;
	double target = model_is_glu(m) ? 8.0 / 3.0 : 4.0;
	double ratio = (double)m->d_ff / (double)m->d_model;

	if (fabs(ratio / target - 1) <= 0.10)
		return;
	Diag *g = warn(d, r, W_FFN_RATIO, K_d_ff,
	               "d_ff / d_model = %lld / %lld = %.2f, more than 10%% away from %s for %s",
	               m->d_ff, m->d_model, ratio, model_is_glu(m) ? "8/3" : "4",
	               choice_word(m->activation));
	if (g && !r->key_loc[K_d_ff].line)
		diag_note(g, r->loc, "d_ff was left to its default, %s", key_info[K_d_ff].deftext);
	if (g)
		diag_note(g, where(r, K_d_ff), "d_ff = %lld would fit the rule",
		          model_is_glu(m) ? (8 * m->d_model + 1) / 3 : 4 * m->d_model);
}

static void check_warnings(Diags *d, const Resolved *r)
{
	const Model *m = &r->m;

	check_ffn_ratio(d, r);
	if (m->n_head * m->head_dim != m->d_model)
		warn(d, r, W_HEAD_DIM, K_head_dim, "n_head * head_dim = %lld * %lld = %lld differs from d_model (%lld)",
		     m->n_head, m->head_dim, m->n_head * m->head_dim, m->d_model);
	double aspect = (double)m->d_model / (double)m->n_layer;
	if (aspect < 100 || aspect > 200)
		warn(d, r, W_ASPECT_RATIO, K_n_layer, "d_model / n_layer = %lld / %lld = %.1f is outside 100-200",
		     m->d_model, m->n_layer, aspect);
	if (!(m->vocab >= 30000 && m->vocab <= 50000) && !(m->vocab >= 100000 && m->vocab <= 250000))
		warn(d, r, W_VOCAB_SIZE, K_vocab, "vocab (%lld) is in neither 30k-50k (monolingual) nor 100k-250k (multilingual)",
		     m->vocab);
	if (m->dropout > 0 && (m->dropout < 0.1 || m->dropout > 0.3))
		warn(d, r, W_DROPOUT, K_dropout, "dropout (%g) is outside 0.1-0.3", m->dropout);
	if (m->weight_decay < 0.01 || m->weight_decay > 0.1)
		warn(d, r, W_WEIGHT_DECAY, K_weight_decay, "weight_decay (%g) is outside 0.01-0.1",
		     m->weight_decay);
	if (m->norm_place == PLACE_POST)
		warn(d, r, W_POST_NORM, K_norm_place, "post-norm: the norm sits after the residual sum");
	if (m->norm == NORM_LAYERNORM)
		warn(d, r, W_LAYERNORM, K_norm, "LayerNorm where RMSNorm would do");
	if (m->block == BLOCK_PARALLEL)
		warn(d, r, W_PARALLEL, K_block, "parallel attention and feed-forward branches");
	if (m->activation == ACT_RELU || m->activation == ACT_GELU)
		warn(d, r, W_NON_GLU, K_activation, "%s is not a gated linear unit", choice_word(m->activation));
}

int check_model(Diags *d, const Resolved *r)
{
	int before = d->n_errors;

	check_errors(d, r);
	check_warnings(d, r);
	return d->n_errors - before;
}

int check_all(Front *fe)
{
	int failed = 0;

	for (const ModelDecl *m = fe->models; m; m = m->next) {
		Resolved r;
		if (resolve_model(fe, m, &r) || check_model(fe->diags, &r))
			failed = 1;
	}
	return failed ? -1 : 0;
}

int check_select(Front *fe, const char *path, const char *name, Resolved *r)
{
	const ModelDecl *m = NULL;
	Loc none = { 0 };

	for (const ModelDecl *x = fe->models; x && !m; x = x->next)
		if (name ? strcmp(x->name, name) == 0 : strcmp(x->loc.src->path, path) == 0)
			m = x;
	if (!m) {
		if (name)
			diag_error(fe->diags, none, "no model '%s' in %s", name, path);
		else
			diag_error(fe->diags, none, "%s declares no model", path);
		return -1;
	}
	if (resolve_model(fe, m, r) || check_model(fe->diags, r))
		return -1;
	return 0;
}
