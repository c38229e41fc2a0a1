/* build.h: from a Program to a program: the system C compiler, the cache
 * of built models, and random weights for `tfmc init`. */
#ifndef BUILD_H
#define BUILD_H

#include <stdint.h>
#include "ir.h"
#include "target.h"
#include "tfm.h"

/* Where the runtime lives: $TFMC_HOME, else the directory of the tfmc
 * executable (runtime/tfm.h and build/libtfmrt.a under it). */
int build_home(char *out, size_t size, tfm_error *e);

/* Emits p for t and compiles it with $CC (default cc) into the program
 * out_path.  seconds (may be NULL) receives the compile time. */
int build_program(const Program *p, const Target *t, const char *spec_path,
                  const char *out_path, double *seconds, tfm_error *e);

/* The cached program for p and t ($XDG_CACHE_HOME/tfmc or ~/.cache/tfmc,
 * keyed by the generated source), built when missing.  *built says whether
 * it was. */
int build_cached(const Program *p, const Target *t, const char *spec_path,
                 char *path, size_t size, int *built, tfm_error *e);

/* The tensor list of p as the runtime's declarations (malloc'ed). */
tfm_tensor_decl *build_decls(const Program *p);

/* Runs argv[0] with argv, waits, and returns its exit status (or -1). */
int build_exec(char *const *argv);

#endif
