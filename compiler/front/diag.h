/* diag.h: diagnostics, collected as the front end runs and printed once at
 * the end, as text like a C compiler's or as JSON.  Library code only adds
 * diagnostics; main.c prints them and chooses the exit status. */
#ifndef DIAG_H
#define DIAG_H

#include <stdio.h>
#include <stddef.h>
#include "model.h"

/* A source file held in memory, NUL-terminated. */
typedef struct Source {
	char *path;
	char *text;
	size_t len;
	struct Source *next;
} Source;

/* A place in a source: line and col count from 1 (col in bytes); line 0
 * means no place (a problem with the command line, say). */
typedef struct Loc {
	const Source *src;
	int line, col, len;
} Loc;

typedef enum { SEV_ERROR, SEV_WARNING, SEV_NOTE } Severity;

typedef struct Diag {
	Severity sev;
	Loc loc;
	int warning;		/* W_ id for warnings, else -1 */
	int promoted;		/* a warning made an error by -Werror */
	char *msg;
	struct Diag *notes;	/* attached notes, in order */
	struct Diag *next;
} Diag;

#define DIAG_MAX 100

typedef struct Diags {
	Diag *head, **tail;
	int n_errors, n_warnings;
	int n_dropped;		/* past DIAG_MAX, counted but not kept */
	unsigned char enabled[WARNING__COUNT];	/* -W / -Wno- / -Wall */
	int werror;
} Diags;

void diag_init(Diags *d);
void diag_free(Diags *d);

Diag *diag_error(Diags *d, Loc loc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Adds a warning unless the option is disabled; returns NULL then. */
Diag *diag_warning(Diags *d, Loc loc, int warning, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Attaches a note to parent; does nothing when parent is NULL. */
void diag_note(Diag *parent, Loc loc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Applies a warning option: -Wall, -Werror, -WNAME or -Wno-NAME.
 * Returns 0, or -1 for an option it does not know. */
int diag_option(Diags *d, const char *arg);

void diag_print_text(const Diags *d, FILE *f, int color);
void diag_print_json(const Diags *d, FILE *f);
/* One diagnostic as a single "file:line:col: severity: message" line, no
 * source excerpt: what the tests compare. */
int diag_format_line(const Diag *g, char *buf, size_t size);

#endif
