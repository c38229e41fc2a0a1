/* peers.c: `make bench-peers`, tfmc and llama.cpp side by side on the same
 * GGUF files.
 *
 *   tfmc-bench-peers --peer DIR [--runs N] [--threads 1,2] [--formats f32,q8_0,...] [SPEC...]
 *
 * For each spec (default specs/bench/s110.tfm and g213.tfm) it makes random
 * weights (tfmc init), then for each format exports them (tfmc export
 * --weight-dtype T), imports the file back (a spec reading it in place) and
 * builds that spec (tfmc build, native).  Both engines then run the same
 * file, interleaved run by run (tfmc, llama.cpp, tfmc, ...), with a
 * bandwidth probe of a buffer the size of the weights beside each pair:
 *   decode   token 1 then 255 greedy tokens, one at a time;
 *   prefill  one batch of 128 ids.
 * tfmc's program runs its --bench protocol, which times both after an
 * untimed first token, as llama.cpp's driver times them after its load has
 * mapped the weights and cleared its buffers; its greedy ids come from a
 * plain run (--tokens 1 -n 256) once per model, format and thread count.
 * It prints medians of tokens/s, tfmc / llama.cpp, decode as a share of the
 * roofline (weight bytes per token x tokens/s / the probe's best read
 * bandwidth at that thread count), and how many of the 255 greedy tokens
 * the engines agree on before they first differ.  --activations int8
 * builds tfmc's int8 mode (decode with 8-bit activations, as llama.cpp
 * multiplies).  DIR is where
 * tools/llama_cpp.sh put llama.cpp (its bins/ and peer_llama).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "machine.h"

#define MAX_RUNS 15

typedef struct opts {
	const char *peer, *tfmc, *work;
	int runs, threads[4], n_threads;
	const char *formats[8];
	int n_formats;
	int int8;		/* --activations int8: tfmc's int8 mode */
	const char *specs[8];
	int n_specs;
} opts;

static int sh(const char *cmd)
{
	int rc = system(cmd);
	return rc == -1 ? -1 : WEXITSTATUS(rc);
}

/* Runs cmd and returns its output (stdout and stderr), malloc'ed. */
static char *capture(const char *cmd)
{
	char full[16400], *buf = NULL;
	size_t len = 0, cap = 0;
	FILE *p;

	snprintf(full, sizeof full, "%s 2>&1", cmd);
	if (!(p = popen(full, "r")))
		return NULL;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *b = realloc(buf, cap = cap ? 2 * cap : 65536);
			if (!b)
				break;
			buf = b;
		}
		size_t n = fread(buf + len, 1, 4096, p);
		if (n == 0)
			break;
		len += n;
	}
	pclose(p);
	if (buf)
		buf[len] = '\0';
	return buf;
}

/* The number after `key` in text (tfmc's "(123.4 tok/s)" or peer's
 * "decode 123.4 tok/s"), or -1. */
static double after(const char *text, const char *key, const char *unit)
{
	const char *p = text ? strstr(text, key) : NULL;
	const char *u = p ? strstr(p, unit) : NULL;

	if (!u)
		return -1;
	while (u > p && (u[-1] == ' ' || u[-1] == '('))
		u--;
	while (u > p && (u[-1] == '.' || (u[-1] >= '0' && u[-1] <= '9')))
		u--;
	return atof(u);
}

/* Greedy ids: tfmc's program prints them space-separated on the first
 * line; peer_llama after "ids ".  How many agree from the start. */
static int agree(const char *tfmc_out, const char *peer_out)
{
	const char *a = tfmc_out, *b = peer_out ? strstr(peer_out, "ids ") : NULL;
	int n = 0;

	if (!a || !b)
		return -1;
	b += 4;
	/* tfmc's first generated token is the prefill's; llama's list starts
	 * with the token after BOS too */
	while (*a && *b) {
		char *ea, *eb;
		long x = strtol(a, &ea, 10), y = strtol(b, &eb, 10);
		if (ea == a || eb == b || x != y)
			break;
		n++;
		a = ea + strspn(ea, " ,");
		b = eb + strspn(eb, " ,");
	}
	return n;
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return a < b ? -1 : a > b;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n ? (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2) : -1;
}

static long long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static void split(const char *arg, const char **out, int *n, int max)
{
	char *s = strdup(arg), *save = NULL;
	for (char *t = strtok_r(s, ",", &save); t && *n < max; t = strtok_r(NULL, ",", &save))
		out[(*n)++] = t;
}

int main(int argc, char **argv)
{
	opts o = { .tfmc = "./tfmc", .work = "build/peers", .runs = 3, .threads = { 1, 2 }, .n_threads = 2 };
	machine_cpu cpu;
	char cmd[16384], peer_bins[1024];

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--peer") == 0 && i + 1 < argc)
			o.peer = argv[++i];
		else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
			o.runs = atoi(argv[++i]);
		else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
			const char *t[4];
			int n = 0;
			split(argv[++i], t, &n, 4);
			o.n_threads = n;
			for (int k = 0; k < n; k++)
				o.threads[k] = atoi(t[k]);
		} else if (strcmp(argv[i], "--activations") == 0 && i + 1 < argc)
			o.int8 = strcmp(argv[++i], "int8") == 0;
		else if (strcmp(argv[i], "--formats") == 0 && i + 1 < argc)
			split(argv[++i], o.formats, &o.n_formats, 8);
		else if (argv[i][0] != '-' && o.n_specs < 8)
			o.specs[o.n_specs++] = argv[i];
		else {
			fprintf(stderr, "usage: tfmc-bench-peers --peer DIR [--runs N] [--threads 1,2] "
			        "[--formats f32,bf16,q8_0,q4_0,q4_K,q6_K] [--activations int8] [SPEC...]\n");
			return 2;
		}
	}
	if (!o.peer || o.runs < 1 || o.runs > MAX_RUNS || o.n_threads < 1) {
		fprintf(stderr, "tfmc-bench-peers: --peer DIR is needed (tools/llama_cpp.sh makes it); 1..%d runs\n",
		        MAX_RUNS);
		return 2;
	}
	if (!o.n_formats) {
		static const char *all[] = { "f32", "bf16", "q8_0", "q4_0", "q4_K", "q6_K" };
		memcpy(o.formats, all, sizeof all);
		o.n_formats = 6;
	}
	if (!o.n_specs) {
		o.specs[o.n_specs++] = "specs/bench/s110.tfm";
		o.specs[o.n_specs++] = "specs/bench/g213.tfm";
	}
	snprintf(peer_bins, sizeof peer_bins, "%s/bins", o.peer);
	machine_cpu_probe(&cpu);
	snprintf(cmd, sizeof cmd, "mkdir -p %s", o.work);
	sh(cmd);
	printf("tfmc and llama.cpp on the same GGUF files: %s, %d CPUs; medians of %d interleaved runs\n\n",
	       cpu.model, cpu.cpus, o.runs);
	printf("| model | format | threads | tfmc decode tok/s | llama.cpp | tfmc / llama.cpp | tfmc %% of roofline "
	       "| llama.cpp %% | tfmc prefill-128 tok/s | llama.cpp | tfmc / llama.cpp | greedy tokens agreeing |\n");
	printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
	fflush(stdout);

	char prompt[1024];
	size_t used = 0;
	for (int i = 0; i < 128; i++)
		used += (size_t)snprintf(prompt + used, sizeof prompt - used, "%s%d", i ? "," : "", (7 * i) % 32000);

	for (int s = 0; s < o.n_specs; s++) {
		const char *spec = o.specs[s], *base = strrchr(spec, '/') ? strrchr(spec, '/') + 1 : spec;
		char name[64], weights[1100];
		snprintf(name, sizeof name, "%.*s", (int)(strcspn(base, ".")), base);
		snprintf(weights, sizeof weights, "%s/%s.safetensors", o.work, name);
		snprintf(cmd, sizeof cmd, "%s init %s -o %s >/dev/null 2>&1", o.tfmc, spec, weights);
		if (sh(cmd) != 0) {
			fprintf(stderr, "tfmc-bench-peers: %s failed\n", cmd);
			return 1;
		}
		for (int f = 0; f < o.n_formats; f++) {
			const char *fmt = o.formats[f];
			char gguf[1200], imp[1200], bin[1200];
			snprintf(gguf, sizeof gguf, "%s/%s_%s.gguf", o.work, name, fmt);
			snprintf(imp, sizeof imp, "%s/%s_%s.tfm", o.work, name, fmt);
			snprintf(bin, sizeof bin, "%s/%s_%s", o.work, name, fmt);
			snprintf(cmd, sizeof cmd, "%s export %s --weights %s --weight-dtype %s -o %s >/dev/null 2>&1 && "
			         "%s import %s -o %s >/dev/null 2>&1 && %s build %s -o %s%s >/dev/null 2>&1",
			         o.tfmc, spec, weights, fmt, gguf, o.tfmc, gguf, imp, o.tfmc, imp, bin,
			         o.int8 ? " --activations int8" : "");
			if (sh(cmd) != 0) {
				printf("| %s | %s | | export, import or build failed | | | | | | | | |\n", name, fmt);
				continue;
			}
			const long long bytes = file_size(gguf);
			const size_t probe = ((size_t)bytes + 255) / 256 * 256;
			float *buf = aligned_alloc(64, probe);
			if (!buf)
				return 1;
			memset(buf, 0, probe);
			for (int t = 0; t < o.n_threads; t++) {
				const int th = o.threads[t];
				double td[MAX_RUNS], ld[MAX_RUNS], tp[MAX_RUNS], lp[MAX_RUNS], bw = 0;
				int agreeing = -1;
				for (int r = 0; r < o.runs; r++) {
					int passes;
					double med, b = machine_read_bw(&cpu, buf, probe, th, 0.5, &passes, &med);
					if (b > bw)
						bw = b;
					/* tfmc: its programs' --bench protocol, the same two
					 * timings after a warm-up token (as llama.cpp's load
					 * has mapped and cleared its buffers before it decodes) */
					snprintf(cmd, sizeof cmd, "%s --bench --threads %d", bin, th);
					char *a = capture(cmd);
					snprintf(cmd, sizeof cmd, "%s/peer_llama %s decode %d %s", o.peer, gguf, th, peer_bins);
					char *p = capture(cmd);
					td[r] = after(a, "decode_tok_s=", " ");
					tp[r] = after(a, "prefill_tok_s=", " ");
					ld[r] = after(p, "decode", "tok/s");
					if (r == 0) {	/* the greedy ids, from a plain run */
						snprintf(cmd, sizeof cmd, "%s --tokens 1 -n 256 --threads %d", bin, th);
						char *ids = capture(cmd);
						agreeing = agree(ids, p);
						free(ids);
					}
					if (td[r] < 0 || tp[r] < 0 || ld[r] < 0)
						fprintf(stderr, "tfmc-bench-peers: %s %s: a run failed:\n%s\n%s\n", name, fmt,
						        a ? a : "", p ? p : "");
					free(a);
					free(p);
					snprintf(cmd, sizeof cmd, "%s/peer_llama %s prefill %d %s", o.peer, gguf, th, peer_bins);
					p = capture(cmd);
					lp[r] = after(p, "prefill", "tok/s");
					free(p);
				}
				const double mtd = median(td, o.runs), mld = median(ld, o.runs);
				const double mtp = median(tp, o.runs), mlp = median(lp, o.runs);
				printf("| %s | %s%s | %d | %.1f | %.1f | %.2f | %.0f%% | %.0f%% | %.0f | %.0f | %.2f | %d of 255 |\n",
				       name, fmt, o.int8 ? " int8" : "", th, mtd, mld, mtd / mld, 100 * bytes * mtd / bw, 100 * bytes * mld / bw, mtp,
				       mlp, mtp / mlp, agreeing);
				fflush(stdout);
			}
			free(buf);
		}
	}
	printf("\nroofline: the GGUF file's bytes (every weight, read once per token) x tokens/s / the best read "
	       "bandwidth of a buffer that size at that thread count, probed beside each run\n");
	return 0;
}
