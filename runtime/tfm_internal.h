/* tfm_internal.h: what the runtime's own files share and its users do not
 * see. */
#ifndef TFM_INTERNAL_H
#define TFM_INTERNAL_H

#include <stdio.h>
#include <stddef.h>

/* 1 on a little-endian host. */
int tfm_host_is_le(void);

/* Writes n floats of x to fp as little-endian float32; returns 0 or -1. */
int tfm_write_f32le(FILE *fp, const float *x, size_t n);

#endif
