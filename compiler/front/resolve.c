/* resolve.c: from a ModelDecl to a Model.
 *
 * A key's value is the assignment nearest to the model in its `extends`
 * chain, or its default from keys.h.  Expressions are evaluated late, in
 * the context of the model being resolved: in
 *     model a { d_model = 512  d_ff = 4 * d_model ... }
 *     model b extends a { d_model = 256 }
 * b.d_ff is 1024.  Integer expressions are exact: an overflow or a division
 * that leaves a remainder is an error, never a silent truncation. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"

enum { UNSEEN, BUSY, DONE, FAILED };

typedef struct Resolver {
	Front *fe;
	Diags *d;
	Resolved *r;
	const ModelDecl *chain[64];	/* the model, its parent, ... */
	int n_chain;
	const Assign *assign[KEY__COUNT];	/* effective assignment, or NULL */
	unsigned char state[KEY__COUNT];
	int missing_reported;
} Resolver;

static int eval_key(Resolver *rs, int k);

/* The value of a name inside an integer expression: another INT key. */
static int name_int(Resolver *rs, const Expr *e, int self, long long *out)
{
	int k = key_lookup(e->name, e->name_len);
	int n = e->name_len > 64 ? 64 : e->name_len;

	if (k < 0) {
		const char *near = key_nearest(e->name, e->name_len);
		Diag *g = diag_error(rs->d, e->loc, "unknown key '%.*s' in the value of '%s'", n, e->name,
		                     key_info[self].name);
		if (near)
			diag_note(g, e->loc, "did you mean '%s'?", near);
		return -1;
	}
	if (k == self) {
		diag_error(rs->d, e->loc, "the value of '%s' refers to itself", key_info[k].name);
		return -1;
	}
	if (key_info[k].type != T_INT) {
		diag_error(rs->d, e->loc, "'%s' is not an integer key and cannot appear in an integer expression",
		           key_info[k].name);
		return -1;
	}
	if (eval_key(rs, k) != 0)
		return -1;
	*out = *model_int(&rs->r->m, k);
	return 0;
}

/* Evaluates an integer expression exactly: + - * / over integers and INT keys. */
static int eval_int(Resolver *rs, const Expr *e, int self, long long *out)
{
	long long a, b;

	switch (e->kind) {
	case E_INT:
		*out = e->ival;
		return 0;
	case E_FLOAT:
		diag_error(rs->d, e->loc, "'%s' takes an integer, not the number %g", key_info[self].name,
		           e->fval);
		return -1;
	case E_NAME:
		return name_int(rs, e, self, out);
	case E_NEG:
		if (eval_int(rs, e->a, self, &a))
			return -1;
		if (a == LLONG_MIN)
			goto overflow;
		*out = -a;
		return 0;
	default:
		break;
	}
	if (eval_int(rs, e->a, self, &a) || eval_int(rs, e->b, self, &b))
		return -1;
	switch (e->kind) {
	case E_ADD:
		if (__builtin_add_overflow(a, b, out))
			goto overflow;
		return 0;
	case E_SUB:
		if (__builtin_sub_overflow(a, b, out))
			goto overflow;
		return 0;
	case E_MUL:
		if (__builtin_mul_overflow(a, b, out))
			goto overflow;
		return 0;
	case E_DIV:
		if (b == 0) {
			diag_error(rs->d, e->loc, "division by zero");
			return -1;
		}
		if (a == LLONG_MIN && b == -1)
			goto overflow;
		if (a % b != 0) {
			Diag *g = diag_error(rs->d, e->loc, "inexact division: %lld / %lld leaves a remainder of %lld",
			                     a, b, a % b);
			diag_note(g, e->loc, "integer keys are exact; %lld or %lld would divide evenly",
			          a - a % b, a - a % b + (a < 0 ? -llabs(b) : llabs(b)));
			return -1;
		}
		*out = a / b;
		return 0;
	default:
		return -1;
	}
overflow:
	diag_error(rs->d, e->loc, "integer overflow in expression");
	return -1;
}

/* Evaluates a float expression in double: numbers and INT or FLOAT keys. */
static int eval_float(Resolver *rs, const Expr *e, int self, double *out)
{
	double a, b;
	int k;

	switch (e->kind) {
	case E_INT:
	case E_FLOAT:
		*out = e->fval;
		return 0;
	case E_NAME:
		k = key_lookup(e->name, e->name_len);
		if (k >= 0 && key_info[k].type == T_FLOAT && k != self) {
			if (eval_key(rs, k))
				return -1;
			*out = *model_float(&rs->r->m, k);
			return 0;
		} else {
			long long v;
			if (name_int(rs, e, self, &v))
				return -1;
			*out = (double)v;
			return 0;
		}
	case E_NEG:
		if (eval_float(rs, e->a, self, &a))
			return -1;
		*out = -a;
		return 0;
	default:
		break;
	}
	if (eval_float(rs, e->a, self, &a) || eval_float(rs, e->b, self, &b))
		return -1;
	switch (e->kind) {
	case E_ADD: *out = a + b; break;
	case E_SUB: *out = a - b; break;
	case E_MUL: *out = a * b; break;
	case E_DIV:
		if (b == 0) {
			diag_error(rs->d, e->loc, "division by zero");
			return -1;
		}
		*out = a / b;
		break;
	default:
		return -1;
	}
	if (!isfinite(*out)) {
		diag_error(rs->d, e->loc, "number out of range");
		return -1;
	}
	return 0;
}

/* A word: an enum choice or a boolean. */
static int eval_word(Resolver *rs, const Expr *e, int k, int *out)
{
	const KeyInfo *ki = &key_info[k];
	char expected[256] = "";
	const char *names[CHOICE__COUNT];
	int n = 0;

	if (ki->type == T_BOOL) {
		if (e->kind == E_NAME && e->name_len == 4 && !memcmp(e->name, "true", 4)) {
			*out = 1;
			return 0;
		}
		if (e->kind == E_NAME && e->name_len == 5 && !memcmp(e->name, "false", 5)) {
			*out = 0;
			return 0;
		}
		snprintf(expected, sizeof expected, "true or false");
	} else {
		if (e->kind == E_NAME && (*out = choice_lookup(k, e->name, e->name_len)) >= 0)
			return 0;
		for (int i = 0; i < CHOICE__COUNT; i++)
			if (choice_info[i].key == k)
				names[n++] = choice_info[i].word;
		for (int i = 0; i < n; i++) {
			size_t l = strlen(expected);
			snprintf(expected + l, sizeof expected - l, "%s%s", i == 0 ? "" : i == n - 1 ? " or " : ", ",
			         names[i]);
		}
	}
	if (e->kind == E_NAME) {
		int len = e->name_len > 64 ? 64 : e->name_len;
		Diag *g = diag_error(rs->d, e->loc, "invalid value '%.*s' for '%s'; expected %s", len,
		                     e->name, ki->name, expected);
		const char *near = ki->type == T_ENUM ? nearest_name(e->name, e->name_len, names, n) : NULL;
		if (near)
			diag_note(g, e->loc, "did you mean '%s'?", near);
	} else {
		diag_error(rs->d, e->loc, "'%s' takes %s, not a number", ki->name, expected);
	}
	return -1;
}

#define SIZE_LIMIT 2147483647LL	/* sizes fit an int32: the runtime indexes with int */

/* The domain of each key, checked as soon as it has a value. */
static int check_domain(Resolver *rs, int k, Loc loc)
{
	Model *m = &rs->r->m;
	const char *name = key_info[k].name;

	if (!loc.line)
		loc = rs->r->loc;
	if (key_info[k].type == T_INT) {
		long long v = *model_int(m, k);
		if (v <= 0) {
			diag_error(rs->d, loc, "'%s' must be positive, not %lld", name, v);
			return -1;
		}
		if (v > SIZE_LIMIT) {
			diag_error(rs->d, loc, "'%s' = %lld is too large (the limit is %lld)", name, v,
			           SIZE_LIMIT);
			return -1;
		}
	} else if (key_info[k].type == T_FLOAT) {
		double v = *model_float(m, k);
		int bad = 0;
		const char *want = "";
		switch (k) {
		case K_norm_eps:
		case K_rope_theta:
			bad = !(v > 0), want = "must be greater than 0";
			break;
		case K_dropout:
			bad = !(v >= 0 && v < 1), want = "is a probability and must be in [0, 1)";
			break;
		default:	/* soft-caps, z_loss, weight_decay */
			bad = !(v >= 0), want = "must not be negative";
			break;
		}
		if (bad) {
			diag_error(rs->d, loc, "'%s' %s, not %g", name, want, v);
			return -1;
		}
	}
	return 0;
}

static int literal_default(Resolver *rs, int k)
{
	const KeyInfo *ki = &key_info[k];
	Model *m = &rs->r->m;

	switch (ki->type) {
	case T_INT: *model_int(m, k) = atoll(ki->deftext); break;
	case T_FLOAT: *model_float(m, k) = strtod(ki->deftext, NULL); break;
	case T_BOOL: *model_enum(m, k) = strcmp(ki->deftext, "true") == 0; break;
	case T_ENUM: *model_enum(m, k) = choice_lookup(k, ki->deftext, (int)strlen(ki->deftext)); break;
	}
	return 0;
}

/* The defaults that depend on other keys (MODEL_REFERENCE.md section 1). */
static int computed_default(Resolver *rs, int k)
{
	Model *m = &rs->r->m;

	switch (k) {
	case K_n_kv_head:
		if (eval_key(rs, K_n_head))
			return -1;
		m->n_kv_head = m->n_head;
		return 0;
	case K_qkv_bias:
		/* "the value of bias": the resolved one, so a child that sets
		 * bias = true gives its q, k and v biases too. */
		if (eval_key(rs, K_bias))
			return -1;
		m->qkv_bias = m->bias;
		return 0;
	case K_head_dim:
		if (eval_key(rs, K_d_model) || eval_key(rs, K_n_head))
			return -1;
		if (m->d_model % m->n_head) {
			long long lo = m->d_model - m->d_model % m->n_head, hi = lo + m->n_head;
			Loc at = rs->r->key_loc[K_d_model].line ? rs->r->key_loc[K_d_model] : rs->r->loc;
			Diag *g;
			if (lo > 0)
				g = diag_error(rs->d, at, "d_model (%lld) is not divisible by n_head (%lld); %lld or %lld would be",
				               m->d_model, m->n_head, lo, hi);
			else
				g = diag_error(rs->d, at, "d_model (%lld) is not divisible by n_head (%lld); %lld would be",
				               m->d_model, m->n_head, hi);
			diag_note(g, at, "head_dim defaults to d_model / n_head; set head_dim to choose the width of a head");
			return -1;
		}
		m->head_dim = m->d_model / m->n_head;
		return 0;
	case K_d_ff:
		if (eval_key(rs, K_d_model) || eval_key(rs, K_activation))
			return -1;
		if (model_is_glu(m)) {
			long long mult;
			if (eval_key(rs, K_ffn_multiple_of))
				return -1;
			mult = m->ffn_multiple_of;
			/* mult * ceil(8*d_model / (3*mult)) in exact integers; no overflow:
			 * both factors are at most 2^31. */
			m->d_ff = mult * ((8 * m->d_model + 3 * mult - 1) / (3 * mult));
		} else {
			m->d_ff = 4 * m->d_model;
		}
		return 0;
	}
	return -1;
}

static int eval_key(Resolver *rs, int k)
{
	const Assign *a = rs->assign[k];
	Model *m = &rs->r->m;
	int rc = 0;

	if (rs->state[k] == DONE)
		return 0;
	if (rs->state[k] == FAILED)
		return -1;
	if (rs->state[k] == BUSY) {
		/* Reached again while being evaluated: a cycle through other keys. */
		diag_error(rs->d, a ? a->loc : rs->r->loc, "the value of '%s' refers to itself",
		           key_info[k].name);
		rs->state[k] = FAILED;
		return -1;
	}
	rs->state[k] = BUSY;
	if (a) {
		switch (key_info[k].type) {
		case T_INT: rc = eval_int(rs, a->value, k, model_int(m, k)); break;
		case T_FLOAT: rc = eval_float(rs, a->value, k, model_float(m, k)); break;
		default: rc = eval_word(rs, a->value, k, model_enum(m, k)); break;
		}
	} else if (key_info[k].defkind == D_REQUIRED) {
		diag_error(rs->d, rs->r->loc, "model '%s' does not set required key '%s' (%s)",
		           rs->r->decl->name, key_info[k].name, key_info[k].meaning);
		rc = -1;
	} else if (key_info[k].defkind == D_LITERAL) {
		rc = literal_default(rs, k);
	} else {
		rc = computed_default(rs, k);
	}
	if (rc == 0)
		rc = check_domain(rs, k, a ? a->loc : rs->r->loc);
	if (rs->state[k] == BUSY)
		rs->state[k] = rc ? FAILED : DONE;
	return rs->state[k] == DONE ? 0 : -1;
}

/* Walks the extends chain from decl upwards; -1 on an unknown parent or a cycle. */
static int build_chain(Resolver *rs, const ModelDecl *decl)
{
	const ModelDecl *m = decl;

	while (m) {
		for (int i = 0; i < rs->n_chain; i++)
			if (rs->chain[i] == m) {
				Diag *g = diag_error(rs->d, rs->chain[rs->n_chain - 1]->parent_loc,
				                     "model '%s' extends itself through a cycle", m->name);
				for (int j = 0; j < rs->n_chain; j++)
					diag_note(g, rs->chain[j]->parent_loc, "'%s' extends '%s'",
					          rs->chain[j]->name, rs->chain[j]->parent);
				return -1;
			}
		if (rs->n_chain == (int)(sizeof rs->chain / sizeof rs->chain[0])) {
			diag_error(rs->d, decl->loc, "model '%s' extends a chain of more than 64 models",
			           decl->name);
			return -1;
		}
		rs->chain[rs->n_chain++] = m;
		if (!m->parent)
			break;
		const ModelDecl *p = front_find(rs->fe, m->parent);
		if (!p) {
			const char *names[256];
			int n = 0;
			for (const ModelDecl *x = rs->fe->models; x && n < 256; x = x->next)
				names[n++] = x->name;
			const char *near = nearest_name(m->parent, (int)strlen(m->parent), names, n);
			Diag *g = diag_error(rs->d, m->parent_loc, "model '%s' extends unknown model '%s'",
			                     m->name, m->parent);
			if (near)
				diag_note(g, m->parent_loc, "did you mean '%s'?", near);
			return -1;
		}
		m = p;
	}
	return 0;
}

int resolve_model(Front *fe, const ModelDecl *decl, Resolved *r)
{
	Resolver rs;
	int errors = 0;

	memset(&rs, 0, sizeof rs);
	memset(r, 0, sizeof *r);
	rs.fe = fe;
	rs.d = fe->diags;
	rs.r = r;
	r->decl = decl;
	r->loc = decl->loc;
	snprintf(r->m.name, sizeof r->m.name, "%s", decl->name);
	if (build_chain(&rs, decl))
		return -1;
	/* The nearest assignment wins; allows accumulate down the chain. */
	for (int i = rs.n_chain - 1; i >= 0; i--) {
		for (const Assign *a = rs.chain[i]->assigns; a; a = a->next) {
			rs.assign[a->key] = a;
			r->key_loc[a->key] = a->loc;
			r->key_from[a->key] = rs.chain[i];
		}
		for (const Allow *w = rs.chain[i]->allows; w; w = w->next)
			r->allowed[w->warning] = 1;
		/* The files too: the nearest model that names them. */
		if (rs.chain[i]->weights)
			r->weights = rs.chain[i]->weights;
		if (rs.chain[i]->tokenizer)
			r->tokenizer = rs.chain[i]->tokenizer;
	}
	for (int k = 0; k < KEY__COUNT; k++)
		if (eval_key(&rs, k))
			errors++;
	return errors ? -1 : 0;
}
