/* plot.c: a line chart as one SVG file.
 *
 * The layout is fixed (PLOT_WIDTH x PLOT_HEIGHT pixels, and a line more
 * per line of caption); the axes run over round values that hold every
 * point and band, with about PLOT_TICKS ticks at steps of 1, 2 or 5 times
 * a power of ten.
 * Colours are the Okabe-Ito palette, which people with colour blindness
 * tell apart; past eight series they repeat, dashed.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "plot.h"

#define PLOT_WIDTH   760
#define PLOT_HEIGHT  460
#define PLOT_LEFT    76	/* the plot area's margins */
#define PLOT_RIGHT   24
#define PLOT_TOP     44
#define PLOT_BOTTOM  64
#define PLOT_TICKS   6
#define PLOT_CAPTION 112	/* characters per line of caption */
#define PLOT_LINE_H  15	/* pixels per line of caption */

static const char *const plot_colors[] = { "#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                           "#E69F00", "#56B4E9", "#000000", "#F0E442" };
#define PLOT_N_COLORS ((int)(sizeof plot_colors / sizeof plot_colors[0]))

/* s with &, <, > and " escaped. */
static void plot_text(FILE *f, const char *s, size_t n)
{
	for (size_t i = 0; i < n && s[i]; i++) {
		switch (s[i]) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(s[i], f); break;
		}
	}
}

/* A step of 1, 2 or 5 times a power of ten near range / PLOT_TICKS. */
static double plot_step(double range)
{
	double raw = range / PLOT_TICKS, p = pow(10, floor(log10(raw))), m = raw / p;

	return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

void plot_number(char *buf, size_t cap, double v, double step, double scale)
{
	static const char suffix[] = " kMGTP";
	char unit[2] = { 0, 0 };
	int k = 0, decimals;

	while (k < 5 && fabs(scale) >= 1000 * pow(1000, k))
		k++;
	v /= pow(1000, k);
	step /= pow(1000, k);
	/* As many decimals as the step needs: 0.25 two, 0.5 one, 5 none. */
	for (decimals = 0; decimals < 6; decimals++) {
		double d = step * pow(10, decimals);
		if (fabs(d - round(d)) < 1e-6 * d)
			break;
	}
	if (fabs(v) < step * 1e-6) {
		snprintf(buf, cap, "0");
		return;
	}
	if (k > 0)
		unit[0] = suffix[k];
	snprintf(buf, cap, "%.*f%s", decimals > 6 ? 6 : decimals, v, unit);
}

/* An axis over [lo, hi]: its round ends and step. */
typedef struct Axis {
	double lo, hi, step;
} Axis;

static Axis plot_axis(double lo, double hi)
{
	Axis a;

	if (!(lo <= hi)) {
		lo = 0;
		hi = 1;
	}
	if (hi - lo < 1e-12 * (fabs(hi) + 1)) {
		double d = fabs(hi) > 0 ? fabs(hi) * 0.05 : 0.5;
		lo -= d;
		hi += d;
	}
	a.step = plot_step(hi - lo);
	a.lo = floor(lo / a.step + 1e-9) * a.step;
	a.hi = ceil(hi / a.step - 1e-9) * a.step;
	return a;
}

/* Where v falls on axis a drawn from pixel p0 (a->lo) to p1 (a->hi). */
static double plot_pos(const Axis *a, double v, double p0, double p1)
{
	return p0 + (v - a->lo) / (a->hi - a->lo) * (p1 - p0);
}

/* The grid lines at a's ticks, across from q0 to q1: vertical lines for
 * the x axis (y 0), horizontal ones for the y axis. */
static void plot_grid(FILE *f, const Axis *a, int y, double p0, double p1, double q0, double q1)
{
	for (int i = 0; a->lo + i * a->step <= a->hi + a->step * 1e-6; i++) {
		double p = plot_pos(a, a->lo + i * a->step, p0, p1);
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", y ? q0 : p,
		        y ? p : q0, y ? q1 : p, y ? p : q1);
	}
}

/* Axis a (the x axis, y 0, at height at; or the y axis at x = at), drawn
 * from pixel p0 to p1: its line, its ticks and their values, its label. */
static void plot_axis_draw(FILE *f, const Axis *a, int y, double p0, double p1, double at,
                           const char *label)
{
	double mid = (p0 + p1) / 2, scale = fmax(fabs(a->lo), fabs(a->hi));
	char num[32];

	fprintf(f, "<g class=\"%s-axis\">\n<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
	        "stroke=\"black\"/>\n", y ? "y" : "x", y ? at : p0, y ? p0 : at, y ? at : p1,
	        y ? p1 : at);
	for (int i = 0; a->lo + i * a->step <= a->hi + a->step * 1e-6; i++) {
		double v = a->lo + i * a->step, p = plot_pos(a, v, p0, p1);
		plot_number(num, sizeof num, v, a->step, scale);
		if (y)
			fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>"
			        "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
			        at - 5, p, at, p, at - 8, p + 4, num);
		else
			fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>"
			        "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
			        p, at, p, at + 5, p, at + 19, num);
	}
	if (y)
		fprintf(f, "<text class=\"label\" x=\"18\" y=\"%.1f\" text-anchor=\"middle\" "
		        "font-size=\"13\" transform=\"rotate(-90 18 %.1f)\">", mid, mid);
	else
		fprintf(f, "<text class=\"label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
		        "font-size=\"13\">", mid, at + 42);
	plot_text(f, label ? label : "", (size_t)-1);
	fputs("</text>\n</g>\n", f);
}

static int plot_ok(const PlotSeries *s, int i)
{
	return isfinite(s->x[i]) && isfinite(s->y[i]);
}

static int plot_band_ok(const PlotSeries *s, int i)
{
	return s->lo && s->hi && isfinite(s->x[i]) && isfinite(s->lo[i]) && isfinite(s->hi[i]);
}

/* The lines of the caption: its words, at most PLOT_CAPTION characters a
 * line; returns how many, and their starts and lengths in at[], len[]. */
static int plot_wrap(const char *s, const char **at, size_t *len, int max)
{
	int n = 0;

	while (s && *s && n < max) {
		size_t k = strlen(s), cut = k;
		if (k > PLOT_CAPTION) {
			cut = PLOT_CAPTION;
			while (cut > 0 && s[cut] != ' ')
				cut--;
			if (cut == 0)
				cut = PLOT_CAPTION;
		}
		at[n] = s;
		len[n++] = cut;
		s += cut;
		while (*s == ' ')
			s++;
	}
	return n;
}

/* How much of the lines (points along each segment, 16 to a segment)
 * falls in the box [bx0, bx1] x [by0, by1], in the plot's pixels. */
static int plot_hits(const Plot *p, const Axis *ax, const Axis *ay, double x0, double x1, double y0,
                     double y1, double bx0, double bx1, double by0, double by1)
{
	int hits = 0;

	for (int s = 0; s < p->n_series; s++) {
		const PlotSeries *r = &p->series[s];
		int prev = -1;
		for (int i = 0; i < r->n; i++) {
			if (!plot_ok(r, i))
				continue;
			for (int k = prev < 0 ? 16 : 0; k <= 16; k++) {
				int a = prev < 0 ? i : prev;
				double t = k / 16.0;
				double x = plot_pos(ax, r->x[a] + t * (r->x[i] - r->x[a]), x0, x1);
				double y = plot_pos(ay, r->y[a] + t * (r->y[i] - r->y[a]), y1, y0);
				hits += x >= bx0 && x <= bx1 && y >= by0 && y <= by1;
			}
			prev = i;
		}
	}
	return hits;
}

int plot_svg(FILE *f, const Plot *p)
{
	double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
	const char *lines[16];
	size_t lens[16];
	int n_cap = plot_wrap(p->caption, lines, lens, 16);
	int h = PLOT_HEIGHT + n_cap * PLOT_LINE_H, any = 0;
	double x0 = PLOT_LEFT, x1 = PLOT_WIDTH - PLOT_RIGHT, y0 = PLOT_TOP, y1 = PLOT_HEIGHT - PLOT_BOTTOM;
	Axis ax, ay;

	for (int s = 0; s < p->n_series; s++) {
		const PlotSeries *r = &p->series[s];
		for (int i = 0; i < r->n; i++) {
			if (plot_ok(r, i)) {
				xlo = fmin(xlo, r->x[i]), xhi = fmax(xhi, r->x[i]);
				ylo = fmin(ylo, r->y[i]), yhi = fmax(yhi, r->y[i]);
				any = 1;
			}
			if (plot_band_ok(r, i)) {
				ylo = fmin(ylo, r->lo[i]);
				yhi = fmax(yhi, r->hi[i]);
			}
		}
	}
	if (any && xlo >= 0)
		xlo = 0;	/* tokens and FLOPs: from the start */
	ax = plot_axis(any ? xlo : 0, any ? xhi : 1);
	ay = plot_axis(any ? ylo : 0, any ? yhi : 1);
#define PX(v) plot_pos(&ax, (v), x0, x1)
#define PY(v) plot_pos(&ay, (v), y1, y0)

	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
	        "viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" "
	        "font-size=\"12\">\n", PLOT_WIDTH, h, PLOT_WIDTH, h);
	fputs("<title>", f);
	plot_text(f, p->title ? p->title : "", (size_t)-1);
	fputs("</title>\n", f);
	fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"white\"/>\n", PLOT_WIDTH, h);
	fprintf(f, "<text class=\"title\" x=\"%d\" y=\"24\" text-anchor=\"middle\" font-size=\"15\" "
	        "font-weight=\"bold\">", PLOT_WIDTH / 2);
	plot_text(f, p->title ? p->title : "", (size_t)-1);
	fputs("</text>\n", f);

	/* The grid, the axes, their ticks and labels. */
	fputs("<g class=\"grid\" stroke=\"#dddddd\" stroke-width=\"1\">\n", f);
	plot_grid(f, &ax, 0, x0, x1, y0, y1);
	plot_grid(f, &ay, 1, y1, y0, x0, x1);
	fputs("</g>\n", f);
	plot_axis_draw(f, &ax, 0, x0, x1, y1, p->x_label);
	plot_axis_draw(f, &ay, 1, y1, y0, x0, p->y_label);

	/* The bands, then the lines and their points over them. */
	for (int s = 0; s < p->n_series; s++) {
		const PlotSeries *r = &p->series[s];
		const char *color = plot_colors[s % PLOT_N_COLORS];
		int n = 0;
		for (int i = 0; i < r->n; i++)
			n += plot_band_ok(r, i);
		if (n < 2)
			continue;
		fprintf(f, "<path class=\"band\" fill=\"%s\" fill-opacity=\"0.18\" stroke=\"none\" d=\"", color);
		n = 0;
		for (int i = 0; i < r->n; i++)
			if (plot_band_ok(r, i))
				fprintf(f, "%s%.1f %.1f", n++ ? " L" : "M", PX(r->x[i]), PY(r->hi[i]));
		for (int i = r->n - 1; i >= 0; i--)
			if (plot_band_ok(r, i))
				fprintf(f, " L%.1f %.1f", PX(r->x[i]), PY(r->lo[i]));
		fputs(" Z\"/>\n", f);
	}
	for (int s = 0; s < p->n_series; s++) {
		const PlotSeries *r = &p->series[s];
		const char *color = plot_colors[s % PLOT_N_COLORS];
		int n = 0;
		fprintf(f, "<g class=\"series\">\n<path class=\"line\" fill=\"none\" stroke=\"%s\" "
		        "stroke-width=\"2\"%s d=\"", color,
		        s >= PLOT_N_COLORS ? " stroke-dasharray=\"6 3\"" : "");
		for (int i = 0; i < r->n; i++)
			if (plot_ok(r, i))
				fprintf(f, "%s%.1f %.1f", n++ ? " L" : "M", PX(r->x[i]), PY(r->y[i]));
		if (n == 0)
			fprintf(f, "M%.1f %.1f", x0, y1);	/* nothing measured: an empty line */
		fputs("\"/>\n", f);
		for (int i = 0; i < r->n; i++)
			if (plot_ok(r, i))
				fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n",
				        PX(r->x[i]), PY(r->y[i]), color);
		fputs("</g>\n", f);
	}

	/* The legend, in the corner where the lines cross it least: top right
	 * first (loss curves fall from the left), then bottom left, bottom
	 * right, top left. */
	if (p->n_series > 0) {
		size_t longest = 0;
		for (int s = 0; s < p->n_series; s++)
			if (p->series[s].name && strlen(p->series[s].name) > longest)
				longest = strlen(p->series[s].name);
		double w = 40 + 7.2 * (double)(longest > 48 ? 48 : longest), bh = 8 + 18 * p->n_series;
		double lx = x1 - w - 8, ly = y0 + 8;
		int best = -1;
		for (int c = 0; c < 4; c++) {
			double cx = c == 0 || c == 2 ? x1 - w - 8 : x0 + 8;
			double cy = c == 0 || c == 3 ? y0 + 8 : y1 - bh - 8;
			int hits = plot_hits(p, &ax, &ay, x0, x1, y0, y1, cx, cx + w, cy, cy + bh);
			if (best < 0 || hits < best)
				best = hits, lx = cx, ly = cy;
		}
		fprintf(f, "<g class=\"legend\">\n<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
		        "height=\"%.0f\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#999999\"/>\n", lx, ly,
		        w, bh);
		for (int s = 0; s < p->n_series; s++) {
			double y = ly + 16 + 18 * s;
			fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
			        "stroke-width=\"2\"%s/><text x=\"%.1f\" y=\"%.1f\">", lx + 8, y - 4, lx + 30,
			        y - 4, plot_colors[s % PLOT_N_COLORS],
			        s >= PLOT_N_COLORS ? " stroke-dasharray=\"6 3\"" : "", lx + 36, y);
			plot_text(f, p->series[s].name ? p->series[s].name : "", 48);
			fputs("</text>\n", f);
		}
		fputs("</g>\n", f);
	}
	if (n_cap > 0) {
		fprintf(f, "<text class=\"caption\" x=\"12\" y=\"%d\" font-family=\"DejaVu Sans Mono, "
		        "monospace\" font-size=\"11\" fill=\"#333333\">", PLOT_HEIGHT - 4);
		for (int i = 0; i < n_cap; i++) {
			fprintf(f, "<tspan x=\"12\" dy=\"%d\">", i ? PLOT_LINE_H : 0);
			plot_text(f, lines[i], lens[i]);
			fputs("</tspan>", f);
		}
		fputs("</text>\n", f);
	}
	fputs("</svg>\n", f);
#undef PX
#undef PY
	return ferror(f) ? -1 : 0;
}
