/* model.h: the resolved model, the one thing later stages read.
 *
 * The front end turns a spec into a Model: every key a plain value, every
 * default and expression filled in.  The IR, the emitter and `tfmc show`
 * read a Model and never the syntax tree.  Its fields come from keys.h.
 */
#ifndef MODEL_H
#define MODEL_H

#include <stdio.h>
#include "keys.h"
#include "warnings.h"

enum {
#define X(key, constant, word) constant,
	CHOICES(X)
#undef X
	CHOICE__COUNT
};

enum {
#define X(name, type, defkind, deftext, meaning) K_##name,
	KEYS(X)
#undef X
	KEY__COUNT
};

enum {
#define X(name, id, on, summary, rule) id,
	WARNINGS(X)
#undef X
	WARNING__COUNT
};

typedef enum { T_INT, T_FLOAT, T_BOOL, T_ENUM } KeyType;
typedef enum { D_REQUIRED, D_LITERAL, D_COMPUTED } DefaultKind;

#define MODEL_TYPE_INT   long long
#define MODEL_TYPE_FLOAT double
#define MODEL_TYPE_BOOL  int
#define MODEL_TYPE_ENUM  int	/* a CHOICES constant */

typedef struct Model {
	char name[64];
#define X(name, type, defkind, deftext, meaning) MODEL_TYPE_##type name;
	KEYS(X)
#undef X
} Model;

/* The key table, generated from KEYS. */
typedef struct KeyInfo {
	const char *name;
	KeyType type;
	DefaultKind defkind;
	const char *deftext;
	const char *meaning;
	unsigned offset;	/* of the field in Model */
} KeyInfo;

typedef struct ChoiceInfo {
	int key;		/* K_ id of the ENUM key */
	const char *word;
	const char *constant;
} ChoiceInfo;

typedef struct WarningInfo {
	const char *name;
	int on;			/* on by default (else only with -Wall) */
	const char *summary;
	const char *rule;
} WarningInfo;

extern const KeyInfo key_info[KEY__COUNT];
extern const ChoiceInfo choice_info[CHOICE__COUNT];
extern const WarningInfo warning_info[WARNING__COUNT];

int key_lookup(const char *name, int len);	/* K_ id or -1 */
int choice_lookup(int key, const char *word, int len);	/* constant or -1 */
int warning_lookup(const char *name, int len);	/* W_ id or -1 */
const char *choice_word(int choice);
/* Closest of n names to s by edit distance, or NULL if none is close. */
const char *nearest_name(const char *s, int len, const char *const *names, int n);
const char *key_nearest(const char *s, int len);
const char *warning_nearest(const char *s, int len);

/* Why name cannot name a model (its generated C would not compile), or
 * NULL when it can. */
const char *model_name_problem(const char *name, int len);

/* Field access by key id. */
long long *model_int(Model *m, int key);
double *model_float(Model *m, int key);
int *model_enum(Model *m, int key);	/* ENUM and BOOL */

/* The shortest text that reads back as v, always with a '.' or exponent. */
const char *model_float_text(double v, char buf[32]);
/* Writes m as a .tfm model block with every key spelled out (floats in
 * full precision, so the text reads back to the same model). */
void model_write_tfm(const Model *m, FILE *f, const char *indent);

/* Derived facts every later stage asks about. */
static inline int model_is_glu(const Model *m)
{
	return m->activation == ACT_GEGLU || m->activation == ACT_SWIGLU;
}

#endif
