/* sample.c: picks the next token from a vector of logits.
 *
 * temperature 0 is greedy: the argmax, the lowest index on ties.  Otherwise
 * the logits are divided by the temperature and turned into probabilities
 * (softmax, maximum subtracted); top-k keeps the k most likely tokens, then
 * top-p keeps, of those, the smallest set of most likely tokens whose
 * probability (renormalised over the top-k set) reaches top_p; the draw is
 * made over what is left, renormalised.  Ranking uses the raw logits with the
 * lowest index first on ties, so top_k = 1 and a tiny top_p both give exactly
 * the greedy token.
 *
 * The random generator is xorshift64*, its state seeded through splitmix64
 * (so seed 0 works): the same seed gives the same tokens.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tfm.h"

typedef struct tfm_cand {
	float key; /* raw logit (NaN -> -inf): the ranking */
	float p;   /* unnormalised probability exp(logit/T - max) */
	int i;     /* token */
} tfm_cand;

static uint64_t tfm_splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t tfm_xorshift64s(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* Uniform in [0, 1), 53 bits. */
static double tfm_uniform(uint64_t *s)
{
	return (double)(tfm_xorshift64s(s) >> 11) * (1.0 / 9007199254740992.0);
}

int tfm_sampler_init(tfm_sampler *s, int vocab, float temperature, int top_k,
                     float top_p, uint64_t seed, tfm_error *e)
{
	memset(s, 0, sizeof *s);
	if (vocab <= 0)
		return tfm_fail(e, "sampler: vocab (%d) must be positive", vocab);
	if (!(temperature >= 0))
		return tfm_fail(e, "sampler: temperature (%g) must be 0 (greedy) or positive",
		                (double)temperature);
	if (top_k < 0)
		return tfm_fail(e, "sampler: top_k (%d) must be 0 (off) or positive", top_k);
	if (!(top_p > 0 && top_p <= 1))
		return tfm_fail(e, "sampler: top_p (%g) must be in (0, 1]; 1 turns it off",
		                (double)top_p);
	s->scratch = malloc((size_t)vocab * sizeof(tfm_cand));
	if (s->scratch == NULL)
		return tfm_fail(e, "sampler: out of memory for vocab %d", vocab);
	s->vocab = vocab;
	s->temperature = temperature;
	s->top_k = top_k;
	s->top_p = top_p;
	s->rng = tfm_splitmix64(seed);
	if (s->rng == 0) /* xorshift must not start at 0 */
		s->rng = 0x9e3779b97f4a7c15ull;
	return 0;
}

void tfm_sampler_free(tfm_sampler *s)
{
	if (s == NULL)
		return;
	free(s->scratch);
	s->scratch = NULL;
}

/* 1 if a ranks before b: larger logit first, then lower index. */
static int tfm_better(const tfm_cand *a, const tfm_cand *b)
{
	return a->key > b->key || (a->key == b->key && a->i < b->i);
}

static int tfm_cmp_cand(const void *a, const void *b)
{
	return tfm_better(b, a) - tfm_better(a, b);
}

/* Restores the min-heap (worst candidate at the root) below c[at]. */
static void tfm_sift_down(tfm_cand *c, int n, int at)
{
	tfm_cand t;
	int k;

	for (;;) {
		k = 2 * at + 1;
		if (k >= n)
			return;
		if (k + 1 < n && tfm_better(&c[k], &c[k + 1]))
			k++;
		if (!tfm_better(&c[at], &c[k]))
			return;
		t = c[at];
		c[at] = c[k];
		c[k] = t;
		at = k;
	}
}

/* Moves the k best of c[0..n) to c[0..k), in rank order. */
static void tfm_top_k(tfm_cand *c, int n, int k)
{
	int j;

	for (j = k / 2 - 1; j >= 0; j--)
		tfm_sift_down(c, k, j);
	for (j = k; j < n; j++)
		if (tfm_better(&c[j], &c[0])) {
			c[0] = c[j];
			tfm_sift_down(c, k, 0);
		}
	qsort(c, (size_t)k, sizeof *c, tfm_cmp_cand);
}

static int tfm_argmax(const float *x, int n)
{
	int i, best = 0;

	for (i = 1; i < n; i++)
		if (x[i] > x[best] || (x[best] != x[best] && x[i] == x[i]))
			best = i;
	return best;
}

int tfm_sample(tfm_sampler *s, float *logits)
{
	tfm_cand *c = s->scratch; /* [vocab] */
	int V = s->vocab, i, n, keep;
	float max = -INFINITY, x;
	double total, mass, cum, r;

	if (s->temperature == 0 || V == 1)
		return tfm_argmax(logits, V);

	/* Divide by T and find the maximum; NaN counts as -inf. */
	for (i = 0; i < V; i++) {
		x = logits[i] == logits[i] ? logits[i] : -INFINITY;
		c[i].key = x;
		c[i].i = i;
		x = isinf(x) ? x : x / s->temperature;
		logits[i] = x;
		if (x > max)
			max = x;
	}
	if (max == -INFINITY || max == INFINITY) {
		/* No distribution (all -inf), or T so small that it overflowed:
		 * the greedy token, ranked by the raw logits. */
		for (n = 0, i = 1; i < V; i++)
			if (tfm_better(&c[i], &c[n]))
				n = i;
		return n;
	}

	total = 0;
	for (i = 0; i < V; i++) {
		c[i].p = expf(logits[i] - max);
		total += c[i].p;
	}

	/* Candidates c[0..n), in rank order when top-k or top-p is on. */
	n = V;
	mass = total;
	if (s->top_k > 0 && s->top_k < V) {
		n = s->top_k;
		tfm_top_k(c, V, n);
		mass = 0;
		for (i = 0; i < n; i++)
			mass += c[i].p;
	} else if (s->top_p < 1) {
		/* A token below (1 - top_p) / (V - 1) of the total cannot be in the
		 * nucleus: all of those together weigh less than 1 - top_p.  The top
		 * token (p = 1) always stays. */
		double cut = (1.0 - s->top_p) / (V - 1) * total;
		if (cut > 1)
			cut = 1;
		n = 0;
		for (i = 0; i < V; i++)
			if (c[i].p >= cut)
				c[n++] = c[i];
		qsort(c, (size_t)n, sizeof *c, tfm_cmp_cand);
	}
	keep = n;
	if (s->top_p < 1) {
		cum = 0;
		for (i = 0; i < n; i++) {
			cum += c[i].p;
			if (cum >= s->top_p * mass) {
				keep = i + 1;
				break;
			}
		}
	}

	mass = 0;
	for (i = 0; i < keep; i++)
		mass += c[i].p;
	r = tfm_uniform(&s->rng) * mass;
	cum = 0;
	for (i = 0; i < keep - 1; i++) {
		cum += c[i].p;
		if (r < cum)
			return c[i].i;
	}
	return c[keep - 1].i;
}
