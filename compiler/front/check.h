/* check.h: from a declared model to a checked Model.
 *
 * resolve.c follows `extends`, fills in defaults and evaluates expressions;
 * check.c applies the design rules: errors for models that cannot work,
 * named warnings for the field's rules of thumb. */
#ifndef CHECK_H
#define CHECK_H

#include "ast.h"
#include "model.h"

typedef struct Resolved {
	Model m;
	const ModelDecl *decl;
	Loc loc;			/* the model's name */
	Loc key_loc[KEY__COUNT];	/* where each key was set; line 0: a default */
	const ModelDecl *key_from[KEY__COUNT];	/* which model of the chain set it */
	unsigned char allowed[WARNING__COUNT];	/* silenced by `allow` */
	const FileRef *weights;		/* the files it reads, from the nearest model naming them */
	const FileRef *tokenizer;
} Resolved;

/* Resolves decl into r.  Returns 0, or -1 after adding diagnostics. */
int resolve_model(Front *fe, const ModelDecl *decl, Resolved *r);

/* Applies the design rules to a resolved model.  Returns the number of
 * errors added. */
int check_model(Diags *d, const Resolved *r);

/* Resolves and checks every model of fe (the whole job of `tfmc check`). */
int check_all(Front *fe);

/* Finds, resolves and checks one model: the one called name, or when name
 * is NULL the first model declared in the file path.  Returns 0 or -1. */
int check_select(Front *fe, const char *path, const char *name, Resolved *r);

#endif
