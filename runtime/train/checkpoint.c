/* checkpoint.c: a training run's whole state in one safetensors file, and
 * files written atomically.
 *
 * A checkpoint holds, for every tensor NAME of the model (in the model's
 * order), three F32 tensors of its shape:
 *     NAME          the weights
 *     adam.m.NAME   AdamW's first moment
 *     adam.v.NAME   AdamW's second moment
 * and in "__metadata__" (strings, numbers in decimal, doubles with %.17g so
 * that they read back exactly):
 *     format         "tfmc-train-checkpoint"      format_version  "1"
 *     model          the model's name             vocab, max_seq  its sizes
 *     dropout, z_loss, weight_decay               the spec's training keys
 *     step           t, the steps done
 *     windows_rng    the window generator's state (a uint64_t)
 * followed by what the caller adds: the run's settings (tfm_train_main
 * writes its options there, and the data's size and hash).
 *
 * Files are written whole into PATH.tmp, flushed to disk, then renamed over
 * PATH: a crash or a full disk leaves the old file, never half of a new one.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tfm.h"
#include "tfm_internal.h"
#include "train.h"

#define TFM_CKPT_FIXED 11 /* pairs of metadata the checkpoint writes itself */

/* path + suffix, malloc'ed. */
static char *tfm_path_plus(const char *path, const char *suffix)
{
	size_t n = strlen(path), k = strlen(suffix);
	char *s = malloc(n + k + 1);

	if (s != NULL) {
		memcpy(s, path, n);
		memcpy(s + n, suffix, k + 1);
	}
	return s;
}

/* Syncs the folder that holds path, so that a rename in it is on disk too.
 * Failures are ignored: some file systems refuse to sync a folder. */
static void tfm_sync_folder(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd;

	if (slash == NULL)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (dir == NULL)
		return;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(dir);
}

int tfm_check_writable(const char *path, tfm_error *e)
{
	struct stat st;
	char *tmp;
	int fd, err;

	if (path == NULL || *path == '\0')
		return tfm_fail(e, "empty file name");
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return tfm_fail(e, "%s: is a folder, not a file name", path);
	if ((tmp = tfm_path_plus(path, ".tmp")) == NULL)
		return tfm_fail(e, "out of memory");
	fd = open(tmp, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	err = errno;
	if (fd < 0) {
		free(tmp);
		return tfm_fail(e, "%s: cannot be written: %s", path, strerror(err));
	}
	close(fd);
	unlink(tmp);
	free(tmp);
	return 0;
}

int tfm_write_atomic(const char *path, const tfm_tensor_decl *decl, int n,
                     const void *const *data, const char *const *meta, tfm_error *e)
{
	char *tmp = tfm_path_plus(path, ".tmp");
	int fd, rc = -1;

	if (tmp == NULL)
		return tfm_fail(e, "%s: out of memory", path);
	if (tfm_file_write_meta(tmp, decl, n, data, meta, e) != 0)
		goto done;
	fd = open(tmp, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0) {
		tfm_fail(e, "%s: cannot flush it to disk: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		goto done;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		tfm_fail(e, "%s: cannot rename %s to it: %s", path, tmp, strerror(errno));
		unlink(tmp);
		goto done;
	}
	tfm_sync_folder(path);
	rc = 0;
done:
	free(tmp);
	return rc;
}

/* ---- Writing ---------------------------------------------------------------- */

int tfm_checkpoint_write(const char *path, const tfm_trainer *tr, const char *const *extra,
                         tfm_error *e)
{
	const tfm_params *p = &tr->p;
	const tfm_train_api *api = tr->api;
	char num[8][40];
	const char **meta = NULL;
	tfm_tensor_decl *decl = NULL;	/* [3n] */
	const void **data = NULL;	/* [3n] */
	char **names = NULL;		/* [2n] the moments' names */
	int n = p->n, i, k, n_extra = 0, rc = -1;

	while (extra != NULL && extra[2 * n_extra] != NULL)
		n_extra++;
	decl = calloc(3 * (size_t)n, sizeof *decl);
	data = calloc(3 * (size_t)n, sizeof *data);
	names = calloc(2 * (size_t)n, sizeof *names);
	meta = calloc(2 * (size_t)(TFM_CKPT_FIXED + n_extra) + 1, sizeof *meta);
	if (decl == NULL || data == NULL || names == NULL || meta == NULL) {
		tfm_fail(e, "%s: out of memory", path);
		goto done;
	}
	for (i = 0; i < n; i++) {
		names[i] = tfm_path_plus("adam.m.", p->decl[i].name);
		names[n + i] = tfm_path_plus("adam.v.", p->decl[i].name);
		if (names[i] == NULL || names[n + i] == NULL) {
			tfm_fail(e, "%s: out of memory", path);
			goto done;
		}
		decl[i] = decl[n + i] = decl[2 * n + i] = p->decl[i];
		decl[i].dtype = decl[n + i].dtype = decl[2 * n + i].dtype = TFM_F32;
		decl[n + i].name = names[i];
		decl[2 * n + i].name = names[n + i];
		data[i] = p->w[i];
		data[n + i] = p->m[i];
		data[2 * n + i] = p->v[i];
	}
	snprintf(num[0], sizeof num[0], "%d", api->vocab);
	snprintf(num[1], sizeof num[1], "%d", api->max_seq);
	snprintf(num[2], sizeof num[2], "%.17g", api->dropout);
	snprintf(num[3], sizeof num[3], "%.17g", api->z_loss);
	snprintf(num[4], sizeof num[4], "%.17g", api->weight_decay);
	snprintf(num[5], sizeof num[5], "%ld", tr->t);
	snprintf(num[6], sizeof num[6], "%" PRIu64, tr->rng);
	k = 0;
	meta[k++] = "format", meta[k++] = TFM_CKPT_FORMAT;
	meta[k++] = "format_version", meta[k++] = TFM_CKPT_VERSION;
	meta[k++] = "model", meta[k++] = api->name ? api->name : "";
	meta[k++] = "vocab", meta[k++] = num[0];
	meta[k++] = "max_seq", meta[k++] = num[1];
	meta[k++] = "dropout", meta[k++] = num[2];
	meta[k++] = "z_loss", meta[k++] = num[3];
	meta[k++] = "weight_decay", meta[k++] = num[4];
	meta[k++] = "step", meta[k++] = num[5];
	meta[k++] = "windows_rng", meta[k++] = num[6];
	for (i = 0; i < 2 * n_extra; i++)
		meta[k++] = extra[i];
	meta[k] = NULL;
	rc = tfm_write_atomic(path, decl, 3 * n, data, meta, e);
done:
	if (names != NULL)
		for (i = 0; i < 2 * n; i++)
			free(names[i]);
	free(names);
	free(decl);
	free(data);
	free(meta);
	return rc;
}

/* ---- Reading ---------------------------------------------------------------- */

/* The metadata value of key as an unsigned integer, the whole string. */
static int tfm_meta_u64(tfm_file *f, const char *key, uint64_t *out, tfm_error *e)
{
	const char *s = tfm_file_meta(f, key);
	unsigned long long v;
	char *end;

	if (s == NULL)
		return tfm_fail(e, "%s: the checkpoint has no \"%s\" in its metadata", tfm_file_label(f),
		                key);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno == ERANGE)
		return tfm_fail(e, "%s: the checkpoint's \"%s\" is '%.60s', not an integer",
		                tfm_file_label(f), key, s);
	*out = (uint64_t)v;
	return 0;
}

static int tfm_meta_double(tfm_file *f, const char *key, double *out, tfm_error *e)
{
	const char *s = tfm_file_meta(f, key);
	char *end;

	if (s == NULL)
		return tfm_fail(e, "%s: the checkpoint has no \"%s\" in its metadata", tfm_file_label(f),
		                key);
	*out = strtod(s, &end);
	if (end == s || *end != '\0')
		return tfm_fail(e, "%s: the checkpoint's \"%s\" is '%.60s', not a number",
		                tfm_file_label(f), key, s);
	return 0;
}

int tfm_checkpoint_open(tfm_file **out, const char *path, const tfm_train_api *api, tfm_error *e)
{
	static const char *const keys[3] = { "dropout", "z_loss", "weight_decay" };
	const double want[3] = { api->dropout, api->z_loss, api->weight_decay };
	const char *s;
	uint64_t u;
	double d = 0;
	tfm_file *f;

	*out = NULL;
	if (tfm_file_open(&f, path, e) != 0)
		return -1;
	s = tfm_file_meta(f, "format");
	if (s == NULL || strcmp(s, TFM_CKPT_FORMAT) != 0) {
		tfm_file_close(f);
		return tfm_fail(e, "%s: not a tfmc training checkpoint (its metadata has no \"format\": "
		                "\"%s\"); weights to start from go in --weights", path, TFM_CKPT_FORMAT);
	}
	s = tfm_file_meta(f, "format_version");
	if (s == NULL || strcmp(s, TFM_CKPT_VERSION) != 0) {
		tfm_fail(e, "%s: checkpoint format version %.20s, this runtime reads version %s", path,
		         s ? s : "(none)", TFM_CKPT_VERSION);
		goto fail;
	}
	s = tfm_file_meta(f, "model");
	if (s == NULL || strcmp(s, api->name ? api->name : "") != 0) {
		tfm_fail(e, "%s: a checkpoint of the model '%.100s', not of '%s'", path, s ? s : "?",
		         api->name ? api->name : "");
		goto fail;
	}
	if (tfm_meta_u64(f, "vocab", &u, e) != 0)
		goto fail;
	if (u != (uint64_t)api->vocab) {
		tfm_fail(e, "%s: a checkpoint of a model of vocab %" PRIu64 ", this one has %d", path, u,
		         api->vocab);
		goto fail;
	}
	if (tfm_meta_u64(f, "max_seq", &u, e) != 0)
		goto fail;
	if (u != (uint64_t)api->max_seq) {
		tfm_fail(e, "%s: a checkpoint of a model of max_seq %" PRIu64 ", this one has %d", path,
		         u, api->max_seq);
		goto fail;
	}
	for (int i = 0; i < 3; i++) {
		if (tfm_meta_double(f, keys[i], &d, e) != 0)
			goto fail;
		if (d != want[i]) {
			tfm_fail(e, "%s: the checkpoint was trained with %s %.17g, the model's spec says "
			         "%.17g: is it the same model?", path, keys[i], d, want[i]);
			goto fail;
		}
	}
	*out = f;
	return 0;
fail:
	tfm_file_close(f);
	return -1;
}

int tfm_checkpoint_load(tfm_file *f, tfm_trainer *tr, tfm_error *e)
{
	tfm_params *p = &tr->p;
	tfm_tensor_decl *decl = NULL;	/* [3n] */
	void **ptr = NULL;		/* [3n] */
	char **names = NULL;		/* [2n] */
	uint64_t step, rng;
	int n = p->n, i, rc = -1;

	decl = calloc(3 * (size_t)n, sizeof *decl);
	ptr = calloc(3 * (size_t)n, sizeof *ptr);
	names = calloc(2 * (size_t)n, sizeof *names);
	if (decl == NULL || ptr == NULL || names == NULL) {
		tfm_fail(e, "out of memory");
		goto done;
	}
	for (i = 0; i < n; i++) {
		names[i] = tfm_path_plus("adam.m.", p->decl[i].name);
		names[n + i] = tfm_path_plus("adam.v.", p->decl[i].name);
		if (names[i] == NULL || names[n + i] == NULL) {
			tfm_fail(e, "out of memory");
			goto done;
		}
		decl[i] = decl[n + i] = decl[2 * n + i] = p->decl[i];
		decl[n + i].name = names[i];
		decl[2 * n + i].name = names[n + i];
	}
	for (i = 0; i < 3 * n; i++) {
		int dt = tfm_file_dtype(f, decl[i].name);
		if (dt >= 0 && dt != TFM_F32) {
			tfm_fail(e, "%s: tensor '%s' is stored as %s: a checkpoint holds F32 only",
			         tfm_file_label(f), decl[i].name, tfm_dtype_name(dt));
			goto done;
		}
	}
	if (tfm_file_bind(f, decl, 3 * n, ptr, e) != 0)
		goto done;
	if (tfm_meta_u64(f, "step", &step, e) != 0 || tfm_meta_u64(f, "windows_rng", &rng, e) != 0)
		goto done;
	if (step > LONG_MAX) {
		tfm_fail(e, "%s: the checkpoint's step %" PRIu64 " is absurd", tfm_file_label(f), step);
		goto done;
	}
	for (i = 0; i < n; i++) {
		memcpy(p->w[i], ptr[i], p->nelem[i] * sizeof(float));
		memcpy(p->m[i], ptr[n + i], p->nelem[i] * sizeof(float));
		memcpy(p->v[i], ptr[2 * n + i], p->nelem[i] * sizeof(float));
	}
	tr->t = (long)step;
	tr->rng = rng;
	rc = 0;
done:
	if (names != NULL)
		for (i = 0; i < 2 * n; i++)
			free(names[i]);
	free(names);
	free(decl);
	free(ptr);
	return rc;
}
