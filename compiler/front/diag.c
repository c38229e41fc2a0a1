/* diag.c: collecting and printing diagnostics (gcc's layout, or JSON). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "diag.h"

void diag_init(Diags *d)
{
	memset(d, 0, sizeof *d);
	d->tail = &d->head;
	for (int i = 0; i < WARNING__COUNT; i++)
		d->enabled[i] = (unsigned char)warning_info[i].on;
}

static void free_list(Diag *g)
{
	while (g) {
		Diag *next = g->next;
		free_list(g->notes);
		free(g->msg);
		free(g);
		g = next;
	}
}

void diag_free(Diags *d)
{
	free_list(d->head);
	diag_init(d);
}

static Diag *make(Severity sev, Loc loc, int warning, const char *fmt, va_list ap)
{
	Diag *g = calloc(1, sizeof *g);
	char buf[1024];

	if (!g)
		abort();
	vsnprintf(buf, sizeof buf, fmt, ap);
	g->sev = sev;
	g->loc = loc;
	g->warning = warning;
	g->msg = strdup(buf);
	if (!g->msg)
		abort();
	return g;
}

/* Adds g unless the same message is already there at the same place (a
 * model and the one extending it can share an error).  Past DIAG_MAX
 * diagnostics it keeps only the count.  Returns 1 if g counts (kept or
 * dropped for the cap); 0 if it was a repeat.  *kept is g or NULL. */
static int append(Diags *d, Diag *g, Diag **kept)
{
	*kept = NULL;
	for (Diag *o = d->head; o; o = o->next)
		if (o->loc.src == g->loc.src && o->loc.line == g->loc.line &&
		    o->loc.col == g->loc.col && strcmp(o->msg, g->msg) == 0) {
			free_list(g);
			return 0;
		}
	if (d->n_errors + d->n_warnings >= DIAG_MAX) {
		d->n_dropped++;
		free_list(g);
		return 1;
	}
	*d->tail = g;
	d->tail = &g->next;
	*kept = g;
	return 1;
}

Diag *diag_error(Diags *d, Loc loc, const char *fmt, ...)
{
	va_list ap;
	Diag *kept;

	va_start(ap, fmt);
	Diag *g = make(SEV_ERROR, loc, -1, fmt, ap);
	va_end(ap);
	if (append(d, g, &kept))
		d->n_errors++;
	return kept;
}

Diag *diag_warning(Diags *d, Loc loc, int warning, const char *fmt, ...)
{
	va_list ap;
	Diag *kept;

	if (!d->enabled[warning])
		return NULL;
	va_start(ap, fmt);
	Diag *g = make(d->werror ? SEV_ERROR : SEV_WARNING, loc, warning, fmt, ap);
	va_end(ap);
	g->promoted = d->werror;
	if (append(d, g, &kept)) {
		if (d->werror)
			d->n_errors++;
		else
			d->n_warnings++;
	}
	return kept;
}

void diag_note(Diag *parent, Loc loc, const char *fmt, ...)
{
	va_list ap;
	Diag **p;

	if (!parent)
		return;
	va_start(ap, fmt);
	Diag *g = make(SEV_NOTE, loc, -1, fmt, ap);
	va_end(ap);
	for (p = &parent->notes; *p; p = &(*p)->next)
		;
	*p = g;
}

int diag_option(Diags *d, const char *arg)
{
	const char *name = arg + 2;
	int on = 1, w;

	if (strncmp(arg, "-W", 2) != 0)
		return -1;
	if (strcmp(name, "all") == 0) {
		memset(d->enabled, 1, sizeof d->enabled);
		return 0;
	}
	if (strcmp(name, "error") == 0) {
		d->werror = 1;
		return 0;
	}
	if (strncmp(name, "no-", 3) == 0) {
		name += 3;
		on = 0;
	}
	w = warning_lookup(name, (int)strlen(name));
	if (w < 0)
		return -1;
	d->enabled[w] = (unsigned char)on;
	return 0;
}

static const char *sev_name(Severity s)
{
	return s == SEV_ERROR ? "error" : s == SEV_WARNING ? "warning" : "note";
}

static void option_text(const Diag *g, char *buf, size_t size)
{
	buf[0] = 0;
	if (g->warning >= 0)
		snprintf(buf, size, g->promoted ? " [-Werror=%s]" : " [-W%s]",
		         warning_info[g->warning].name);
}

int diag_format_line(const Diag *g, char *buf, size_t size)
{
	char opt[64];

	option_text(g, opt, sizeof opt);
	if (g->loc.line > 0)
		return snprintf(buf, size, "%s:%d:%d: %s: %s%s", g->loc.src->path,
		                g->loc.line, g->loc.col, sev_name(g->sev), g->msg, opt);
	return snprintf(buf, size, "tfmc: %s: %s%s", sev_name(g->sev), g->msg, opt);
}

/* ---- Text ----------------------------------------------------------------- */

#define SHOW_MAX 120	/* widest stretch of a source line shown */

typedef struct Style {
	const char *bold, *sev[3], *caret, *reset;
} Style;

static const Style plain = { "", { "", "", "" }, "", "" };
static const Style colored = {
	"\033[1m", { "\033[1;31m", "\033[1;35m", "\033[1;36m" }, "\033[1;32m", "\033[0m"
};

/* The line `line` of src: its start and length. */
static const char *line_at(const Source *src, int line, int *len)
{
	const char *p = src->text, *end = src->text + src->len;

	for (int l = 1; l < line && p < end; p++)
		if (*p == '\n')
			l++;
	const char *q = p;
	while (q < end && *q != '\n')
		q++;
	*len = (int)(q - p);
	return p;
}

/* Prints the source line under a diagnostic and a caret under its token.
 * Long lines are cut to a window around the caret; bytes that are not
 * printable ASCII are shown as '?', so garbage input cannot upset a terminal. */
static void print_excerpt(FILE *f, const Loc *loc, const Style *s)
{
	int len, from = 0, to, col = loc->col - 1, width = loc->len > 0 ? loc->len : 1;
	const char *line = line_at(loc->src, loc->line, &len);

	if (col > len)
		col = len;
	if (len > SHOW_MAX && col > SHOW_MAX / 2)
		from = col - SHOW_MAX / 2;
	to = from + SHOW_MAX < len ? from + SHOW_MAX : len;
	if (width > to - col)
		width = to - col > 0 ? to - col : 1;
	fprintf(f, " %5d | %s", loc->line, from > 0 ? "..." : "");
	for (int i = from; i < to; i++) {
		unsigned char c = (unsigned char)line[i];
		fputc(c == '\t' || (c >= 32 && c < 127) ? c : '?', f);
	}
	fprintf(f, "%s\n       | %s", to < len ? "..." : "", from > 0 ? "   " : "");
	for (int i = from; i < col; i++)
		fputc(line[i] == '\t' ? '\t' : ' ', f);
	fprintf(f, "%s^", s->caret);
	for (int i = 1; i < width; i++)
		fputc('~', f);
	fprintf(f, "%s\n", s->reset);
}

static void print_one(FILE *f, const Diag *g, const Style *s, const Loc *parent)
{
	char opt[64];

	option_text(g, opt, sizeof opt);
	if (g->loc.line > 0)
		fprintf(f, "%s%s:%d:%d:%s ", s->bold, g->loc.src->path, g->loc.line,
		        g->loc.col, s->reset);
	else
		fprintf(f, "%stfmc:%s ", s->bold, s->reset);
	fprintf(f, "%s%s:%s %s%s\n", s->sev[g->sev], sev_name(g->sev), s->reset,
	        g->msg, opt);
	/* A note at its parent's place repeats no excerpt. */
	if (g->loc.line > 0 && !(parent && parent->src == g->loc.src &&
	                         parent->line == g->loc.line && parent->col == g->loc.col))
		print_excerpt(f, &g->loc, s);
}

void diag_print_text(const Diags *d, FILE *f, int color)
{
	const Style *s = color ? &colored : &plain;

	for (const Diag *g = d->head; g; g = g->next) {
		print_one(f, g, s, NULL);
		for (const Diag *n = g->notes; n; n = n->next)
			print_one(f, n, s, &g->loc);
	}
	if (d->n_dropped)
		fprintf(f, "tfmc: %d more diagnostics not shown\n", d->n_dropped);
	if (d->n_errors || d->n_warnings) {
		if (d->n_warnings)
			fprintf(f, "%d warning%s", d->n_warnings, d->n_warnings == 1 ? "" : "s");
		if (d->n_warnings && d->n_errors)
			fprintf(f, " and ");
		if (d->n_errors)
			fprintf(f, "%d error%s", d->n_errors, d->n_errors == 1 ? "" : "s");
		fprintf(f, " generated.\n");
	}
}

/* ---- JSON ----------------------------------------------------------------- */

static cJSON *json_of(const Diag *g)
{
	cJSON *o = cJSON_CreateObject();

	if (g->loc.line > 0) {
		cJSON_AddStringToObject(o, "file", g->loc.src->path);
		cJSON_AddNumberToObject(o, "line", g->loc.line);
		cJSON_AddNumberToObject(o, "column", g->loc.col);
		cJSON_AddNumberToObject(o, "end_column", g->loc.col + (g->loc.len > 0 ? g->loc.len : 1));
	}
	cJSON_AddStringToObject(o, "severity", sev_name(g->sev));
	cJSON_AddStringToObject(o, "message", g->msg);
	if (g->warning >= 0)
		cJSON_AddStringToObject(o, "option", warning_info[g->warning].name);
	if (g->sev != SEV_NOTE) {
		cJSON *notes = cJSON_AddArrayToObject(o, "notes");
		for (const Diag *n = g->notes; n; n = n->next)
			cJSON_AddItemToArray(notes, json_of(n));
	}
	return o;
}

void diag_print_json(const Diags *d, FILE *f)
{
	cJSON *arr = cJSON_CreateArray();

	for (const Diag *g = d->head; g; g = g->next)
		cJSON_AddItemToArray(arr, json_of(g));
	char *s = cJSON_Print(arr);
	if (s) {
		fprintf(f, "%s\n", s);
		free(s);
	}
	cJSON_Delete(arr);
}
