/* model.c: the tables generated from keys.h and warnings.h, and lookups. */
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include "model.h"

const KeyInfo key_info[KEY__COUNT] = {
#define X(name, type, defkind, deftext, meaning) \
	{ #name, T_##type, D_##defkind, deftext, meaning, offsetof(Model, name) },
	KEYS(X)
#undef X
};

const ChoiceInfo choice_info[CHOICE__COUNT] = {
#define X(key, constant, word) { K_##key, #word, #constant },
	CHOICES(X)
#undef X
};

const WarningInfo warning_info[WARNING__COUNT] = {
#define X(name, id, on, summary, rule) { name, on, summary, rule },
	WARNINGS(X)
#undef X
};

static int same(const char *a, const char *s, int len)
{
	return (int)strlen(a) == len && memcmp(a, s, len) == 0;
}

int key_lookup(const char *name, int len)
{
	for (int i = 0; i < KEY__COUNT; i++)
		if (same(key_info[i].name, name, len))
			return i;
	return -1;
}

int choice_lookup(int key, const char *word, int len)
{
	for (int i = 0; i < CHOICE__COUNT; i++)
		if (choice_info[i].key == key && same(choice_info[i].word, word, len))
			return i;
	return -1;
}

int warning_lookup(const char *name, int len)
{
	for (int i = 0; i < WARNING__COUNT; i++)
		if (same(warning_info[i].name, name, len))
			return i;
	return -1;
}

const char *choice_word(int choice)
{
	return choice >= 0 && choice < CHOICE__COUNT ? choice_info[choice].word : "?";
}

/* Levenshtein distance, capped: names are short, so a small table will do. */
static int distance(const char *a, int la, const char *b, int lb)
{
	int row[64], i, j;

	if (la > 63 || lb > 63)
		return 99;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		int diag = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			int up = row[j];
			int best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

const char *nearest_name(const char *s, int len, const char *const *names, int n)
{
	const char *best = NULL;
	int bestd = 99;

	for (int i = 0; i < n; i++) {
		int d = distance(s, len, names[i], (int)strlen(names[i]));
		if (d < bestd) {
			bestd = d;
			best = names[i];
		}
	}
	/* Close enough to be a typo: at most a third of the word wrong. */
	return best && bestd <= 1 + len / 3 ? best : NULL;
}

const char *key_nearest(const char *s, int len)
{
	const char *names[KEY__COUNT];
	for (int i = 0; i < KEY__COUNT; i++)
		names[i] = key_info[i].name;
	return nearest_name(s, len, names, KEY__COUNT);
}

const char *warning_nearest(const char *s, int len)
{
	const char *names[WARNING__COUNT];
	for (int i = 0; i < WARNING__COUNT; i++)
		names[i] = warning_info[i].name;
	return nearest_name(s, len, names, WARNING__COUNT);
}

long long *model_int(Model *m, int key)
{
	return (long long *)((char *)m + key_info[key].offset);
}

double *model_float(Model *m, int key)
{
	return (double *)((char *)m + key_info[key].offset);
}

int *model_enum(Model *m, int key)
{
	return (int *)((char *)m + key_info[key].offset);
}

const char *model_float_text(double v, char buf[32])
{
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, 32, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	/* Keep it a float literal: 10000 -> 10000.0 */
	if (!strpbrk(buf, ".eEn"))
		strcat(buf, ".0");
	return buf;
}

void model_write_tfm(const Model *m, FILE *f, const char *indent)
{
	Model *mm = (Model *)m;
	char num[32];

	fprintf(f, "%smodel %s {\n", indent, m->name);
	for (int k = 0; k < KEY__COUNT; k++) {
		fprintf(f, "%s    %-16s = ", indent, key_info[k].name);
		switch (key_info[k].type) {
		case T_INT: fprintf(f, "%lld", *model_int(mm, k)); break;
		case T_FLOAT: fprintf(f, "%s", model_float_text(*model_float(mm, k), num)); break;
		case T_BOOL: fprintf(f, "%s", *model_enum(mm, k) ? "true" : "false"); break;
		case T_ENUM: fprintf(f, "%s", choice_word(*model_enum(mm, k))); break;
		}
		fprintf(f, "\n");
	}
	fprintf(f, "%s}\n", indent);
}

/* Names a model may not have: C keywords, and the names the generated code
 * defines at file scope (a model's name prefixes its symbols and names its
 * type, so it must not collide with either). */
static const char *const reserved[] = {
	"auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else",
	"enum", "extern", "float", "for", "goto", "if", "inline", "int", "long", "register",
	"restrict", "return", "short", "signed", "sizeof", "static", "struct", "switch", "typedef",
	"union", "unsigned", "void", "volatile", "while", "main", "add", "hsum", "tail_mask",
	"load_tail", "store_tail", "silu", "gelu_tanh", "gelu_erf", "matmul", "matmul_fn",
	"matmul_job", "matmul_worker", "dot_head", "axpy_head", "rope", "attention_job",
	"attention_worker", "forward_chunk", "tensors", "api_open", "api_close", "api_reset",
	"api_forward", "default_weights",
};

const char *model_name_problem(const char *name, int len)
{
	for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
		if ((int)strlen(reserved[i]) == len && memcmp(reserved[i], name, len) == 0)
			return "is a C keyword or a name the generated code defines";
	if (len >= 3 && memcmp(name, "tfm", 3) == 0)
		return "starts with 'tfm', the runtime's prefix";
	if (len >= 1 && name[0] == '_')
		return "starts with '_', which C reserves";
	static const char *const prefixes[] = { "matmul_", "rmsnorm_", "layernorm_", "api_" };
	for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
		size_t l = strlen(prefixes[i]);
		if ((size_t)len >= l && memcmp(name, prefixes[i], l) == 0)
			return "starts like a kernel of the generated code";
	}
	return NULL;
}
