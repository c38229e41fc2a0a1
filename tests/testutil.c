/* testutil.c: what the test suites share: temporary directories, shell
 * commands, files and .npy arrays. */
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <CUnit/CUnit.h>
#include "testutil.h"

int test_dir_open(char dir[TEST_DIR_MAX], const char *tag)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, TEST_DIR_MAX, "%s/tfmc-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", tag);
	return mkdtemp(dir) ? 0 : -1;
}

int test_dir_close(char dir[TEST_DIR_MAX])
{
	char path[TEST_DIR_MAX + 256];
	struct dirent *d;
	DIR *dp;
	int rc;

	if (dir[0] == '\0')
		return 0;
	if ((dp = opendir(dir)) == NULL)
		return -1;
	while ((d = readdir(dp)) != NULL) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, d->d_name);
		if (rmdir(path) != 0)
			unlink(path);
	}
	closedir(dp);
	rc = rmdir(dir);
	dir[0] = '\0';
	return rc;
}

const char *test_path(const char *dir, const char *name)
{
	static char buf[4][TEST_DIR_MAX + 256];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
	return buf[k];
}

int test_sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

const char *test_slurp(const char *path)
{
	static char buf[65536];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
	}
	buf[n] = 0;
	return buf;
}

static void test_read_into(const char *path, char *buf, size_t cap)
{
	FILE *fp = fopen(path, "rb");
	size_t n = 0;

	if (fp != NULL) {
		n = fread(buf, 1, cap - 1, fp);
		fclose(fp);
	}
	buf[n] = '\0';
}

int test_capture_begin(test_capture *c, const char *dir)
{
	int fd_out, fd_err;

	snprintf(c->out_path, sizeof c->out_path, "%s/stdout", dir);
	snprintf(c->err_path, sizeof c->err_path, "%s/stderr", dir);
	fflush(stdout);
	fflush(stderr);
	fd_out = open(c->out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	fd_err = open(c->err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	c->save_out = dup(1);
	c->save_err = dup(2);
	if (fd_out < 0 || fd_err < 0 || c->save_out < 0 || c->save_err < 0) {
		CU_FAIL("cannot redirect stdout and stderr");
		return -1;
	}
	dup2(fd_out, 1);
	dup2(fd_err, 2);
	close(fd_out);
	close(fd_err);
	return 0;
}

void test_capture_end(test_capture *c, char *out, size_t ocap, char *err, size_t ecap)
{
	fflush(stdout);
	fflush(stderr);
	dup2(c->save_out, 1);
	dup2(c->save_err, 2);
	close(c->save_out);
	close(c->save_err);
	test_read_into(c->out_path, out, ocap);
	test_read_into(c->err_path, err, ecap);
}

int test_train_index(char names[][128], int max)
{
	FILE *f = fopen("tests/golden/TRAIN_INDEX", "r");
	int n = 0;

	if (!f)
		return 0;
	while (n < max && fgets(names[n], 128, f)) {
		names[n][strcspn(names[n], "\n")] = 0;
		if (names[n][0])
			n++;
	}
	fclose(f);
	return n;
}

float *test_npy_read(const char *path, long *rows, long *cols)
{
	FILE *f = fopen(path, "rb");
	unsigned char pre[10];
	char hdr[1024];
	float *data = NULL;

	if (!f)
		return NULL;
	if (fread(pre, 1, 10, f) == 10 && memcmp(pre, "\x93NUMPY", 6) == 0) {
		size_t hlen = pre[8] | pre[9] << 8;
		if (hlen < sizeof hdr && fread(hdr, 1, hlen, f) == hlen) {
			hdr[hlen] = 0;
			char *s = strstr(hdr, "'shape': (");
			if (strstr(hdr, "'<f4'") && s && sscanf(s, "'shape': (%ld, %ld)", rows, cols) == 2) {
				data = malloc(sizeof *data * (size_t)(*rows * *cols));
				if (fread(data, sizeof *data, (size_t)(*rows * *cols), f) != (size_t)(*rows * *cols)) {
					free(data);
					data = NULL;
				}
			}
		}
	}
	fclose(f);
	return data;
}

double test_max_abs(const float *a, long n)
{
	double m = 0;

	for (long i = 0; i < n; i++)
		m = fmax(m, fabs(a[i]));
	return m;
}

double test_max_diff(const float *a, const float *b, long n)
{
	double m = 0;

	for (long i = 0; i < n; i++)
		m = fmax(m, fabs((double)a[i] - b[i]));
	return isnan(m) ? INFINITY : m;
}
