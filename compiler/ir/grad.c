/* grad.c: the training program: the forward of a batch over values, its
 * backward (each operation's vector-Jacobian product, emitted in reverse by
 * emit_train.c), and where every activation and gradient lives (grad.h).
 *
 * What each backward reads, which decides what the forward keeps:
 *   MATMUL  y = W x + b     dX += dY W, dW += dY^T X, db += sum dY     needs x
 *   NORM    y = norm(x)     the norm's backward                        needs x
 *   ROPE    y = R x         dX = R^T dY, in place                      nothing
 *   ATTENTION               recomputes the softmax                     needs q, k, v, y
 *   GLU     y = act(g) u    dg += dY u act'(g), du += dY act(g)        needs g, u
 *   ACT     y = act(x)      dX += dY act'(x)                           needs x
 *   SOFTCAP y = c tanh(x/c) dX += dY (1 - (y/c)^2)                     needs y
 *   ADD     y = x + a       dX += dY, dA += dY                         nothing
 *   DROPOUT y = x m/(1-p)   dX += dY m/(1-p), m regenerated            nothing
 *   EMBED, POS_ADD          dE[token] += dY scale, dP[pos] += dY        nothing
 *   LOSS                    writes the logits' gradient in the forward  nothing
 */
#include <stdlib.h>
#include <string.h>
#include "grad.h"

/* Time: forward op i at i, its backward at 2n - 1 - i. */
#define FWD(i) (i)
#define BWD(tp, i) (2 * (tp)->n_ops - 1 - (i))

static int new_value(TrainProgram *tp, int cap, long long width, const char *name, int def)
{
	Value *v;

	if (tp->n_values == cap)
		return -1;
	v = &tp->values[tp->n_values];
	memset(v, 0, sizeof *v);
	v->width = width;
	v->act = v->grad = -1;
	v->def = def;
	v->zero_at = -1;
	snprintf(v->name, sizeof v->name, "%s", name);
	return tp->n_values++;
}

static TOp *new_op(TrainProgram *tp, int kind, const Op *op, const char *label)
{
	TOp *t = &tp->ops[tp->n_ops++];

	memset(t, 0, sizeof *t);
	t->kind = kind;
	t->op = op;
	t->out = -1;
	t->in[0] = t->in[1] = t->in[2] = -1;
	snprintf(t->label, sizeof t->label, "%s", label);
	return t;
}

/* Which inputs a kind's backward reads the activation of (bit k: in[k]),
 * and whether it reads its output's. */
static unsigned needs_inputs(int kind)
{
	switch (kind) {
	case OP_MATMUL: case OP_NORM: case OP_ACT: return 1;
	case OP_GLU: return 3;
	case OP_ATTENTION: return 7;
	default: return 0;
	}
}

static int needs_output(int kind)
{
	return kind == OP_ATTENTION || kind == OP_SOFTCAP;
}

/* May the kernel write the output over in[0]? */
static int can_overwrite(int kind)
{
	return kind == OP_ROPE || kind == OP_SOFTCAP || kind == TOP_DROPOUT || kind == OP_ADD;
}

/* ---- The forward over values ------------------------------------------------ */

static int build_ops(const Program *p, TrainProgram *tp, int cap)
{
	int cur[BUF__COUNT];	/* the value each buffer holds now */
	int layer_of_x = 0;
	char name[16];

	for (int b = 0; b < BUF__COUNT; b++)
		cur[b] = -1;
#define VAL(buf, nm) (snprintf(name, sizeof name, "%s", nm), \
	new_value(tp, cap, p->width[buf], name, tp->n_ops - 1))
	for (int i = 0; i < p->n_ops; i++) {
		const Op *op = &p->ops[i];
		TOp *t;
		if (op->kind == OP_KV_STORE)
			continue;	/* training attends to the window's own keys and values */
		if (op->kind == OP_ADD && tp->dropout) {
			/* the sub-layer's output is dropped out before it joins the residual */
			t = new_op(tp, TOP_DROPOUT, NULL, "dropout of the sub-layer's output");
			t->in[0] = cur[op->a];
			t->site = tp->n_ops;
			if ((t->out = VAL(op->a, buffer_name[op->a])) < 0)
				return -1;
			cur[op->a] = t->out;
		}
		t = new_op(tp, op->kind, op, op->label);
		t->site = tp->n_ops;
		switch (op->kind) {
		case OP_EMBED:
			t->out = VAL(op->out, "x0");
			break;
		case OP_POS_ADD:
			t->out = t->in[0] = cur[B_X_];	/* in place: its gradient passes through */
			break;
		case OP_ATTENTION:
			t->in[0] = cur[B_Q];
			t->in[1] = cur[B_K];
			t->in[2] = cur[B_V];
			t->out = VAL(op->out, buffer_name[op->out]);
			break;
		case OP_GLU:
			t->in[0] = cur[B_HU];	/* up */
			t->in[1] = cur[op->a];	/* gate */
			t->out = VAL(op->out, "h");
			break;
		case OP_ADD:
			t->in[0] = cur[op->out];
			t->in[1] = cur[op->a];
			if (op->out == B_X_)
				layer_of_x++;
			snprintf(name, sizeof name, "x%d", layer_of_x);
			t->out = new_value(tp, cap, p->width[op->out], name, tp->n_ops - 1);
			break;
		default:	/* MATMUL, NORM, ROPE, ACT, SOFTCAP: out = f(a), or f(out) */
			t->in[0] = cur[op->kind == OP_ROPE || op->kind == OP_ACT || op->kind == OP_SOFTCAP
			               ? op->out : op->a];
			t->out = VAL(op->out, buffer_name[op->out]);
			break;
		}
		if (t->out < 0)
			return -1;
		cur[op->kind == OP_GLU ? B_HU : op->out] = t->out;
	}
	TOp *t = new_op(tp, TOP_LOSS, NULL, "loss: cross-entropy (+ z-loss) of the logits; their gradient");
	t->in[0] = cur[B_LOGITS];
	return t->in[0] < 0 ? -1 : 0;
#undef VAL
}

/* ---- Where everything lives ------------------------------------------------- */

typedef struct Item {
	int start, end;		/* times, inclusive */
	long long width;
	long long col;		/* assigned */
} Item;

static int by_start(const void *a, const void *b)
{
	const Item *x = *(Item *const *)a, *y = *(Item *const *)b;
	return x->start != y->start ? x->start - y->start : (x < y ? -1 : x > y);
}

static int by_col(const void *a, const void *b)
{
	const Item *x = *(Item *const *)a, *y = *(Item *const *)b;
	return x->col < y->col ? -1 : x->col > y->col;
}

/* First fit over time: each item the lowest column range that no item live
 * at the same time holds.  Returns the columns used. */
static long long allocate(Item *items, int n)
{
	Item **order = malloc(sizeof *order * (size_t)(n ? n : 1));
	Item **live = malloc(sizeof *live * (size_t)(n ? n : 1));
	long long top = 0;
	int n_live = 0;

	if (!order || !live)
		abort();
	for (int i = 0; i < n; i++)
		order[i] = &items[i];
	qsort(order, (size_t)n, sizeof *order, by_start);
	for (int i = 0; i < n; i++) {
		Item *it = order[i];
		int k = 0;
		for (int j = 0; j < n_live; j++)
			if (live[j]->end >= it->start)
				live[k++] = live[j];
		n_live = k;
		qsort(live, (size_t)n_live, sizeof *live, by_col);
		long long col = 0;
		for (int j = 0; j < n_live; j++) {
			if (live[j]->col - col >= it->width)
				break;
			if (live[j]->col + live[j]->width > col)
				col = live[j]->col + live[j]->width;
		}
		it->col = col;
		live[n_live++] = it;
		if (col + it->width > top)
			top = col + it->width;
	}
	free(order);
	free(live);
	return top;
}

/* The live times of every activation and gradient, with the values that
 * share a place (an output written over its input, a gradient passed on in
 * place), then their columns. */
static int layout(TrainProgram *tp)
{
	int nv = tp->n_values, n = tp->n_ops;
	int *act_end = malloc(sizeof *act_end * (size_t)nv);
	int *act_of = malloc(sizeof *act_of * (size_t)nv);	/* the value whose place it takes */
	int *grad_of = malloc(sizeof *grad_of * (size_t)nv);
	int *gstart = malloc(sizeof *gstart * (size_t)nv), *gend = malloc(sizeof *gend * (size_t)nv);
	int *users = calloc((size_t)nv, sizeof *users);
	Item *items = malloc(sizeof *items * (size_t)(2 * nv));
	int n_items = 0;

	if (!act_end || !act_of || !grad_of || !gstart || !gend || !users || !items)
		return -1;
	for (int v = 0; v < nv; v++) {
		act_end[v] = FWD(tp->values[v].def);
		act_of[v] = grad_of[v] = v;
		gstart[v] = 1 << 30;
		gend[v] = -1;
	}
	/* Activations: read by a later forward op, and by backward ops. */
	for (int i = 0; i < n; i++) {
		const TOp *t = &tp->ops[i];
		for (int k = 0; k < 3; k++) {
			int v = t->in[k];
			if (v < 0)
				continue;
			users[v]++;
			int end = needs_inputs(t->kind) >> k & 1 ? BWD(tp, i) : FWD(i);
			if (end > act_end[v])
				act_end[v] = end;
		}
		if (t->out >= 0 && needs_output(t->kind) && BWD(tp, i) > act_end[t->out])
			act_end[t->out] = BWD(tp, i);
	}
	/* Gradients: from the first backward op adding to it (its last forward
	 * reader's) to its writer's backward.  POS_ADD works in place: no new
	 * value.  The loss writes the logits' gradient in the forward. */
	for (int i = 0; i < n; i++) {
		const TOp *t = &tp->ops[i];
		for (int k = 0; k < 3; k++) {
			int v = t->in[k];
			if (v < 0 || (t->kind == OP_POS_ADD))
				continue;
			int at = t->kind == TOP_LOSS ? FWD(i) : BWD(tp, i);
			if (at < gstart[v]) {
				gstart[v] = at;
				tp->values[v].zero_at = t->kind == TOP_LOSS ? -1 : i;
			}
		}
	}
	for (int v = 0; v < nv; v++) {
		const Value *x = &tp->values[v];
		gend[v] = BWD(tp, x->def);
		if (gstart[v] > gend[v]) {	/* read by nothing that has a gradient: zeros */
			gstart[v] = gend[v];
			tp->values[v].zero_at = x->def;
		}
	}
	/* The logits' gradient is written by the loss. */
	{
		int v = tp->ops[n - 1].in[0];
		tp->values[v].grad_written = 1;
		tp->values[v].zero_at = -1;
		/* ... over the logits themselves when no backward reads them. */
		if (act_end[v] <= FWD(n - 1)) {
			grad_of[v] = -2;
			act_end[v] = gend[v];	/* the place stays taken until the gradient is used */
		}
	}
	/* Outputs written over inputs that nothing reads afterwards; a RoPE's
	 * gradient rotated in place when the RoPE is its input's one reader. */
	for (int i = 0; i < n; i++) {
		const TOp *t = &tp->ops[i];
		int in = t->in[0], out = t->out;
		if (in < 0 || out < 0 || in == out || !can_overwrite(t->kind))
			continue;
		int root = in;
		while (act_of[root] != root)
			root = act_of[root];
		if (act_end[root] == FWD(i) && tp->values[in].width == tp->values[out].width) {
			act_of[out] = root;
			if (act_end[out] > act_end[root])
				act_end[root] = act_end[out];
		}
		if (t->kind == OP_ROPE && users[in] == 1) {
			grad_of[in] = out;
			tp->values[in].zero_at = -1;
			if (gend[in] > gend[out])
				gend[out] = gend[in];
		}
	}
	for (int v = 0; v < nv; v++) {
		if (act_of[v] == v)
			items[n_items++] = (Item){ FWD(tp->values[v].def), act_end[v], tp->values[v].width, 0 };
		else
			items[n_items++] = (Item){ 0, -1, 0, 0 };	/* placeholder, keeps indices */
	}
	for (int v = 0; v < nv; v++) {
		if (grad_of[v] == v)
			items[n_items++] = (Item){ gstart[v], gend[v], tp->values[v].width, 0 };
		else
			items[n_items++] = (Item){ 0, -1, 0, 0 };
	}
	tp->cols = allocate(items, n_items);
	for (int v = 0; v < nv; v++) {
		int root = v;
		while (act_of[root] != root)
			root = act_of[root];
		tp->values[v].act = items[root].col;
	}
	for (int v = 0; v < nv; v++) {
		int g = v;
		while (grad_of[g] >= 0 && grad_of[g] != g)
			g = grad_of[g];
		tp->values[v].grad = grad_of[g] == -2 ? tp->values[g].act : items[nv + g].col;
	}
	free(act_end);
	free(act_of);
	free(grad_of);
	free(gstart);
	free(gend);
	free(users);
	free(items);
	return 0;
}

int train_build(const Program *p, TrainProgram *tp)
{
	int cap = 4 * p->n_ops + 16;

	memset(tp, 0, sizeof *tp);
	tp->p = p;
	tp->dropout = p->m.dropout > 0;
	tp->values = calloc((size_t)cap, sizeof *tp->values);
	tp->ops = calloc((size_t)cap, sizeof *tp->ops);
	if (!tp->values || !tp->ops || build_ops(p, tp, cap) || layout(tp)) {
		train_free(tp);
		return -1;
	}
	return 0;
}

void train_free(TrainProgram *tp)
{
	free(tp->values);
	free(tp->ops);
	memset(tp, 0, sizeof *tp);
}

void train_print(const TrainProgram *tp, FILE *f)
{
	static const char *const extra[] = { "dropout", "loss" };

	for (int i = 0; i < tp->n_ops; i++) {
		const TOp *t = &tp->ops[i];
		fprintf(f, "%4d  %-10s", i, t->kind < OP__COUNT ? op_name[t->kind] : extra[t->kind - OP__COUNT]);
		if (t->out >= 0)
			fprintf(f, " %s@%lld", tp->values[t->out].name, tp->values[t->out].act);
		for (int k = 0; k < 3; k++)
			if (t->in[k] >= 0)
				fprintf(f, " %s%s@%lld", k ? "" : "<- ", tp->values[t->in[k]].name,
				        tp->values[t->in[k]].act);
		fprintf(f, "   # %s\n", t->label);
	}
	fprintf(f, "arena: %lld columns\n", tp->cols);
}
