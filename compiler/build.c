/* build.c: compiling generated models with the system C compiler, and the
 * cache that `tfmc run` uses when it has no JIT. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "build.h"
#include "emit.h"

int build_home(char *out, size_t size, tfm_error *e)
{
	const char *env = getenv("TFMC_HOME");
	char exe[PATH_MAX], probe[PATH_MAX + 32];
	ssize_t n;

	if (env && *env) {
		snprintf(out, size, "%s", env);
	} else {
		n = readlink("/proc/self/exe", exe, sizeof exe - 1);
		if (n < 0)
			return tfm_fail(e, "cannot find the tfmc executable: %s", strerror(errno));
		exe[n] = 0;
		/* tfmc sits at the top of the tree; the test programs one level
		 * down (build/, build-asan/). */
		for (int up = 0; up < 2; up++) {
			char *slash = strrchr(exe, '/');
			if (slash)
				*slash = 0;
			snprintf(probe, sizeof probe, "%s/runtime/tfm.h", exe);
			if (access(probe, R_OK) == 0)
				break;
		}
		snprintf(out, size, "%s", exe);
	}
	snprintf(probe, sizeof probe, "%s/runtime/tfm.h", out);
	if (access(probe, R_OK) != 0)
		return tfm_fail(e, "cannot find the runtime in %s (set TFMC_HOME to the tfmc tree)", out);
	return 0;
}

int build_exec(char *const *argv)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		execvp(argv[0], argv);
		fprintf(stderr, "tfmc: error: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int emit_files(const Program *p, const Target *t, const char *spec_path, const char *dir,
                      tfm_error *e)
{
	char c_path[PATH_MAX], h_path[PATH_MAX], h_name[128];
	EmitInfo info = { spec_path, h_name, NULL, 0 };

	snprintf(h_name, sizeof h_name, "%s.h", p->m.name);
	snprintf(c_path, sizeof c_path, "%s/%s.c", dir, p->m.name);
	snprintf(h_path, sizeof h_path, "%s/%s.h", dir, p->m.name);
	FILE *c = fopen(c_path, "w"), *h = fopen(h_path, "w");
	if (!c || !h) {
		if (c)
			fclose(c);
		if (h)
			fclose(h);
		return tfm_fail(e, "cannot write in %s: %s", dir, strerror(errno));
	}
	emit_c(p, t, &info, c, h);
	int bad = ferror(c) || ferror(h);
	bad |= fclose(c) != 0;
	bad |= fclose(h) != 0;
	return bad ? tfm_fail(e, "writing %s failed", c_path) : 0;
}

/* cc -std=... -O2 flags -DTFM_MAIN -I home/runtime dir/name.c home/build/libtfmrt.a -l... -o out */
static int compile(const Program *p, const Target *t, const char *dir, const char *out_path,
                   tfm_error *e)
{
	char home[PATH_MAX], src[PATH_MAX], inc[PATH_MAX + 16], lib[PATH_MAX + 32], std[16];
	char log[PATH_MAX], flags[128], libs[] = TFM_LIBS;
	const char *cc = getenv("CC") && *getenv("CC") ? getenv("CC") : "cc";
	char *argv[32];
	int n = 0;

	if (build_home(home, sizeof home, e))
		return -1;
	snprintf(src, sizeof src, "%s/%s.c", dir, p->m.name);
	snprintf(inc, sizeof inc, "-I%s/runtime", home);
	snprintf(lib, sizeof lib, "%s/build/libtfmrt.a", home);
	if (access(lib, R_OK) != 0)
		return tfm_fail(e, "cannot find the runtime library %s (run make in %s)", lib, home);
	snprintf(std, sizeof std, "-std=%s", t->std);
	snprintf(log, sizeof log, "%s/cc.log", dir);
	snprintf(flags, sizeof flags, "%s", t->cflags);
	argv[n++] = (char *)cc;
	argv[n++] = std;
	argv[n++] = "-O2";
	for (char *f = strtok(flags, " "); f && n < 20; f = strtok(NULL, " "))
		argv[n++] = f;
	argv[n++] = "-DTFM_MAIN";
	argv[n++] = inc;
	argv[n++] = src;
	argv[n++] = lib;
	for (char *l = strtok(libs, " "); l && n < 28; l = strtok(NULL, " "))
		argv[n++] = l;
	argv[n++] = "-o";
	argv[n++] = (char *)out_path;
	argv[n] = NULL;

	/* The compiler's messages go to a log that an error quotes. */
	fflush(stderr);
	int saved = dup(2);
	FILE *lf = fopen(log, "w");
	if (lf) {
		dup2(fileno(lf), 2);
		fclose(lf);
	}
	int rc = build_exec(argv);
	if (saved >= 0) {
		dup2(saved, 2);
		close(saved);
	}
	if (rc != 0) {
		char msg[300] = "";
		FILE *f = fopen(log, "r");
		if (f) {
			size_t k = fread(msg, 1, sizeof msg - 1, f);
			msg[k] = 0;
			fclose(f);
		}
		return tfm_fail(e, "%s failed (exit %d) compiling %s:\n%s", cc, rc, src, msg);
	}
	return 0;
}

int build_program(const Program *p, const Target *t, const char *spec_path, const char *out_path,
                  double *seconds, tfm_error *e)
{
	char dir[] = "/tmp/tfmc-build-XXXXXX", cmd[64];
	double t0 = tfm_now();
	int rc;

	if (!mkdtemp(dir))
		return tfm_fail(e, "cannot make a temporary directory: %s", strerror(errno));
	rc = emit_files(p, t, spec_path, dir, e);
	if (rc == 0)
		rc = compile(p, t, dir, out_path, e);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		rc = rc ? rc : tfm_fail(e, "cannot remove %s", dir);
	if (seconds)
		*seconds = tfm_now() - t0;
	return rc;
}

static uint64_t fnv1a_file(const char *path, uint64_t h)
{
	FILE *f = fopen(path, "rb");
	int c;
	if (!f)
		return h;
	while ((c = fgetc(f)) != EOF)
		h = (h ^ (unsigned char)c) * 0x100000001b3ULL;
	fclose(f);
	return h;
}

static int mkdirs(char *path)
{
	for (char *s = path + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			mkdir(path, 0777);
			*s = '/';
		}
	return mkdir(path, 0777) == 0 || errno == EEXIST ? 0 : -1;
}

int build_cached(const Program *p, const Target *t, const char *spec_path, char *path, size_t size,
                 int *built, tfm_error *e)
{
	char dir[] = "/tmp/tfmc-run-XXXXXX", src[PATH_MAX + 32], cache[PATH_MAX], home[PATH_MAX], cmd[64];
	const char *xdg = getenv("XDG_CACHE_HOME"), *user = getenv("HOME");
	uint64_t h = 0xcbf29ce484222325ULL;
	int rc;

	*built = 0;
	if (build_home(home, sizeof home, e))
		return -1;
	if (!mkdtemp(dir))
		return tfm_fail(e, "cannot make a temporary directory: %s", strerror(errno));
	if ((rc = emit_files(p, t, spec_path, dir, e)) == 0) {
		/* The key: the generated source and the runtime it links. */
		snprintf(src, sizeof src, "%s/%s.c", dir, p->m.name);
		h = fnv1a_file(src, h);
		snprintf(src, sizeof src, "%s/build/libtfmrt.a", home);
		h = fnv1a_file(src, h);
		if (xdg && *xdg)
			snprintf(cache, sizeof cache, "%s/tfmc", xdg);
		else
			snprintf(cache, sizeof cache, "%s/.cache/tfmc", user && *user ? user : "/tmp");
		if (mkdirs(cache) != 0) {
			rc = tfm_fail(e, "cannot make the cache directory %s: %s", cache, strerror(errno));
		} else {
			snprintf(path, size, "%s/%s-%s-%016llx", cache, p->m.name, t->name, (unsigned long long)h);
			if (access(path, X_OK) != 0) {
				char tmp[PATH_MAX + 8];
				snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid());
				rc = compile(p, t, dir, tmp, e);
				if (rc == 0 && rename(tmp, path) != 0)
					rc = tfm_fail(e, "cannot write %s: %s", path, strerror(errno));
				*built = rc == 0;
			}
		}
	}
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0 && rc == 0)
		rc = tfm_fail(e, "cannot remove %s", dir);
	return rc;
}

_Static_assert((int)DTYPE_F32 == (int)TFM_F32 && (int)DTYPE_BF16 == (int)TFM_BF16
               && (int)DTYPE_Q8_0 == (int)TFM_Q8_0 && (int)DTYPE_Q4_0 == (int)TFM_Q4_0
               && (int)DTYPE_Q4_K == (int)TFM_Q4_K && (int)DTYPE_Q6_K == (int)TFM_Q6_K,
               "DTYPE_ numbers are tfm.h's");

tfm_tensor_decl *build_decls(const Program *p)
{
	tfm_tensor_decl *d = calloc((size_t)p->n_tensors, sizeof *d);
	if (!d)
		return NULL;
	for (int i = 0; i < p->n_tensors; i++) {
		d[i].name = p->tensors[i].name;
		d[i].ndim = p->tensors[i].ndim;
		d[i].shape[0] = p->tensors[i].shape[0];
		d[i].shape[1] = p->tensors[i].shape[1];
		d[i].dtype = p->tensors[i].dtype;	/* DTYPE_ numbers are the runtime's */
	}
	return d;
}
