/* tfm_internal.h: what the runtime's own files share and its users do not
 * see. */
#ifndef TFM_INTERNAL_H
#define TFM_INTERNAL_H

#include <stdio.h>
#include <stddef.h>

/* 1 on a little-endian host. */
int tfm_host_is_le(void);

/* Writes n elements of `size` bytes (2 or 4) of x to fp, little-endian;
 * returns 0 or -1. */
int tfm_write_le(FILE *fp, const void *x, size_t n, size_t size);

#endif
