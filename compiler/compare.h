/* compare.h: `tfmc compare`, several models trained for one budget on the
 * same data, side by side. */
#ifndef COMPARE_H
#define COMPARE_H

/* The command line after "tfmc": argv[0] is "compare", then specs and
 * options (compare --help lists them).  Prints the table to stdout and the
 * progress to stderr, writes the logs and plots, and returns the exit
 * status: 0 when every model ran (a run that diverged is a result), 1 when
 * a spec failed its checks, could not be compiled or its data was bad (the
 * others still run), 2 on a bad command line or data file. */
int compare_main(int argc, char **argv);

#endif
