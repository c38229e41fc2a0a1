/* util.c: the runtime's small services: error messages (tfm_fail), float32
 * NumPy .npy output (tfm_npy_write) and a monotonic clock (tfm_now).
 *
 * The .npy format, version 1.0: the magic "\x93NUMPY", the version bytes 1 0,
 * a little-endian uint16 header length, then a Python dict literal
 *
 *     {'descr': '<f4', 'fortran_order': False, 'shape': (rows, cols), }
 *
 * padded with spaces and ended by '\n' so that the data starts at a multiple
 * of 64 bytes, then the data, row-major little-endian float32.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tfm.h"
#include "tfm_internal.h"

#define TFM_NPY_ALIGN 64

int tfm_fail(tfm_error *e, const char *fmt, ...)
{
	va_list ap;

	if (e != NULL) {
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof e->msg, fmt, ap);
		va_end(ap);
	}
	return -1;
}

int tfm_host_is_le(void)
{
	const uint16_t one = 1;
	return *(const unsigned char *)&one == 1;
}

/* Writes n elements of `size` bytes (2 or 4) of x to fp, little-endian;
 * returns 0 or -1. */
int tfm_write_le(FILE *fp, const void *x, size_t n, size_t size)
{
	unsigned char buf[4096], *src = (unsigned char *)(uintptr_t)x;
	size_t i, j, k, m, per = sizeof buf / size;

	if (n == 0)
		return 0; /* x may be NULL */
	if (tfm_host_is_le())
		return fwrite(x, size, n, fp) == n ? 0 : -1;
	for (i = 0; i < n; i += m) {
		m = n - i < per ? n - i : per;
		for (j = 0; j < m; j++)
			for (k = 0; k < size; k++)
				buf[j * size + k] = src[(i + j) * size + size - 1 - k];
		if (fwrite(buf, size, m, fp) != m)
			return -1;
	}
	return 0;
}

tfm_bf16 tfm_f32_to_bf16(float x)
{
	uint32_t u;

	memcpy(&u, &x, sizeof u);
	if ((u & 0x7fffffffu) > 0x7f800000u)	/* NaN: keep the sign, make it quiet */
		return (tfm_bf16)(u >> 16 | 0x40);
	u += 0x7fffu + (u >> 16 & 1);		/* to nearest, ties to even; may carry to inf */
	return (tfm_bf16)(u >> 16);
}

int tfm_npy_write(const char *path, const float *data, long rows, long cols,
                  tfm_error *e)
{
	char head[256]; /* magic, version, length, dict, padding, '\n' */
	size_t len, total, n;
	FILE *fp;
	int k;

	if (rows < 0 || cols < 0)
		return tfm_fail(e, "%s: cannot write an array of shape [%ld, %ld]",
		                path, rows, cols);
	if (cols != 0 && (size_t)rows > SIZE_MAX / sizeof(float) / (size_t)cols)
		return tfm_fail(e, "%s: array of shape [%ld, %ld] is too large",
		                path, rows, cols);
	n = (size_t)rows * (size_t)cols;
	if (n != 0 && data == NULL)
		return tfm_fail(e, "%s: no data for an array of shape [%ld, %ld]",
		                path, rows, cols);

	memcpy(head, "\x93NUMPY\x01\x00", 8);
	k = snprintf(head + 10, sizeof head - 10,
	             "{'descr': '<f4', 'fortran_order': False, 'shape': (%ld, %ld), }",
	             rows, cols);
	len = 10 + (size_t)k + 1; /* + the final '\n' */
	total = (len + TFM_NPY_ALIGN - 1) / TFM_NPY_ALIGN * TFM_NPY_ALIGN;
	memset(head + 10 + k, ' ', total - 10 - (size_t)k);
	head[total - 1] = '\n';
	head[8] = (char)((total - 10) & 0xff);
	head[9] = (char)((total - 10) >> 8);

	fp = fopen(path, "wb");
	if (fp == NULL)
		return tfm_fail(e, "%s: cannot create: %s", path, strerror(errno));
	if (fwrite(head, 1, total, fp) != total || tfm_write_le(fp, data, n, sizeof *data) != 0) {
		int err = errno;
		fclose(fp);
		remove(path);
		return tfm_fail(e, "%s: write failed: %s", path, strerror(err));
	}
	if (fclose(fp) != 0) {
		int err = errno;
		remove(path);
		return tfm_fail(e, "%s: write failed: %s", path, strerror(err));
	}
	return 0;
}

double tfm_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int tfm_read_text(const char *path, size_t max, const char *what, char **text, size_t *len,
                  tfm_error *e)
{
	struct stat st;
	FILE *fp;
	char *p;
	size_t n;

	*text = NULL;
	*len = 0;
	if ((fp = fopen(path, "rb")) == NULL)
		return tfm_fail(e, "%s: %s", path, strerror(errno));
	if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
		fclose(fp);
		return tfm_fail(e, "%s: not a regular file", path);
	}
	if ((unsigned long long)st.st_size > max) {
		fclose(fp);
		return tfm_fail(e, "%s: %lld bytes is more than %s", path, (long long)st.st_size, what);
	}
	n = (size_t)st.st_size;
	if ((p = malloc(n + 1)) == NULL) {
		fclose(fp);
		return tfm_fail(e, "%s: out of memory", path);
	}
	if (fread(p, 1, n, fp) != n) {
		free(p);
		fclose(fp);
		return tfm_fail(e, "%s: cannot read it", path);
	}
	fclose(fp);
	p[n] = '\0';
	*text = p;
	*len = n;
	return 0;
}
