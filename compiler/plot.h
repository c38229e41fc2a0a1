/* plot.h: line charts as self-contained SVG files (no scripts, fonts or
 * links outside the file), which a browser or a README shows: what
 * `tfmc compare` draws its loss curves with. */
#ifndef PLOT_H
#define PLOT_H

#include <stdio.h>

/* One line: the points (x[i], y[i]) in order, and around them a band from
 * lo[i] to hi[i] when lo and hi are given (NULL: none).  Points with a
 * value that is not finite are left out. */
typedef struct PlotSeries {
	const char *name;		/* the legend's */
	int n;
	const double *x, *y;		/* [n] */
	const double *lo, *hi;		/* [n] or NULL */
} PlotSeries;

typedef struct Plot {
	const char *title, *x_label, *y_label;
	const char *caption;		/* under the chart, wrapped; may be NULL */
	const PlotSeries *series;	/* [n_series] */
	int n_series;
} Plot;

/* Writes the chart: labelled axes with ticks at round values, one
 * <path class="line"> per series (and a <path class="band"> for each band),
 * a legend, the caption.  0, or -1 when f reports a write error. */
int plot_svg(FILE *f, const Plot *p);

/* A tick's label: v in steps of `step`, with k, M, G, T or P when scale
 * (the largest |tick|) calls for one ("1.5M", "200k", "2.25"). */
void plot_number(char *buf, size_t cap, double v, double step, double scale);

#endif
