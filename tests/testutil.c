/* testutil.c: temporary directories for the test suites. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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
