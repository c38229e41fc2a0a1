/* test_compare.c: CUnit suite for `tfmc compare` (compiler/compare.c) and
 * its SVG plots (compiler/plot.c).
 *
 *   compare   on tiny byte-level models (d_model 16, one layer) and a small
 *             text, a few steps each: the table (its columns, the cost
 *             model's parameter counts, mean ± sd over two seeds, the
 *             warnings each spec raises), the CSV logs (a row per step, the
 *             validation where measured) and summary.csv; a copy of a model
 *             under another name trains to the same losses (the same
 *             weights and windows for a seed); --tokens as steps; --minutes
 *             runs; --reuse reads back complete logs that agree with the
 *             command and trains the rest; the SVGs
 *             well-formed XML (a small checker below) with one line per
 *             model, a band per model over seeds, axes, ticks, labels, the
 *             legend and the command in the caption; a model whose weight
 *             decay blows up diverges at its step while the other finishes,
 *             and a huge --lr diverges every model, the table printed all
 *             the same; a spec that fails its checks is reported and
 *             skipped, as a file that cannot be read or does not parse;
 *             an empty data file, a budget of zero, two budgets, data
 *             shorter than a window: each message
 *   plot      plot_svg on points with NaNs, an empty series and names to
 *             escape; plot_number's tick labels
 */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot.h"
#include "testutil.h"

static char cmp_dir[TEST_DIR_MAX];
static char cmp_tfmc[4096];	/* ./tfmc's absolute path: the runs are in cmp_dir */

/* tiny, and one-key variants of it. */
static const char cmp_spec[] =
	"model tiny {\n"
	"    vocab = 256\n    d_model = 16\n    n_layer = 1\n    n_head = 2\n    d_ff = 48\n"
	"    max_seq = 32\n    activation = swiglu\n"
	"    allow vocab-size\n    allow aspect-ratio\n    allow ffn-ratio\n"
	"}\n"
	"model tiny_ln extends tiny { norm = layernorm }\n"
	"model tiny_same extends tiny { }\n"
	"model tiny_wd extends tiny { weight_decay = 1000000 }\n";

static int cmp_setup(void)
{
	FILE *f;

	if (realpath("tfmc", cmp_tfmc) == NULL || test_dir_open(cmp_dir, "compare") != 0)
		return -1;
	if ((f = fopen(test_path(cmp_dir, "tiny.tfm"), "w")) == NULL)
		return -1;
	fputs(cmp_spec, f);
	fclose(f);
	if ((f = fopen(test_path(cmp_dir, "bad.tfm"), "w")) == NULL)
		return -1;
	fputs("model bad {\n    vocab = 256\n    d_model = 30\n    n_layer = 1\n    n_head = 4\n"
	      "    d_ff = 48\n    max_seq = 32\n}\n", f);
	fclose(f);
	/* Some 5 KB of text: sentences in a fixed order. */
	if ((f = fopen(test_path(cmp_dir, "text.txt"), "w")) == NULL)
		return -1;
	for (int i = 0; i < 80; i++)
		fprintf(f, "%d: the quick brown fox jumps over the lazy dog, %s.\n", i,
		        i % 3 ? "and runs away" : "then sleeps");
	fclose(f);
	if ((f = fopen(test_path(cmp_dir, "syntax.tfm"), "w")) == NULL)
		return -1;
	fputs("model x {\n    d_model = \n", f);
	fclose(f);
	if ((f = fopen(test_path(cmp_dir, "empty.txt"), "w")) == NULL)
		return -1;
	fclose(f);
	if ((f = fopen(test_path(cmp_dir, "short.txt"), "w")) == NULL)
		return -1;
	fputs("too short", f);
	fclose(f);
	return 0;
}

static int cmp_teardown(void)
{
	test_sh("rm -rf %s", cmp_dir);
	cmp_dir[0] = '\0';
	return 0;
}

/* Runs ./tfmc compare ARGS in the test folder's files, stdout into
 * OUT/stdout and stderr into OUT/stderr; its exit status. */
static int cmp_run(const char *out, const char *args)
{
	return test_sh("cd %s && %s compare %s --out %s > %s.stdout 2> %s.stderr", cmp_dir, cmp_tfmc,
	               args, out, out, out);
}

/* The file name in the test folder, read (a copy to free). */
static char *cmp_read(const char *name)
{
	return strdup(test_slurp(test_path(cmp_dir, name)));
}

static int cmp_count(const char *s, const char *piece)
{
	int n = 0;

	for (const char *p = s; (p = strstr(p, piece)) != NULL; p += strlen(piece))
		n++;
	return n;
}

/* The line of s that begins with start, into buf[cap]; "" when none. */
static const char *cmp_line(const char *s, const char *start, char *buf, size_t cap)
{
	size_t k = strlen(start);

	buf[0] = '\0';
	for (const char *p = s; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, start, k) == 0) {
			size_t n = strcspn(p, "\n");
			snprintf(buf, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
			break;
		}
	return buf;
}

/* ---- A small XML checker ------------------------------------------------------ */

/* Whether the entity at s ("&...;") is one XML knows; its length in *n. */
static int xml_entity(const char *s, size_t *n)
{
	static const char *const named[] = { "&amp;", "&lt;", "&gt;", "&quot;", "&apos;" };

	for (int i = 0; i < 5; i++)
		if (strncmp(s, named[i], strlen(named[i])) == 0)
			return (*n = strlen(named[i])), 1;
	if (s[1] == '#') {
		size_t k = 2;
		int hex = s[2] == 'x';
		k += (size_t)hex;
		while (hex ? strchr("0123456789abcdefABCDEF", s[k]) && s[k] : s[k] >= '0' && s[k] <= '9')
			k++;
		if (k > 2u + (size_t)hex && s[k] == ';')
			return (*n = k + 1), 1;
	}
	return 0;
}

static int xml_name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static int xml_name_char(char c)
{
	return xml_name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

/* Well-formed XML: one root element, every tag closed in order, names and
 * quoted attributes as XML has them, entities known, no '<' in text or
 * values, no stray '&'.  0, or -1 with what is wrong in err[cap]; the
 * elements counted in *elements. */
static int xml_check(const char *s, int *elements, char *err, size_t cap)
{
	char stack[64][48];
	int depth = 0, roots = 0;
	const char *p = s;
	size_t n;

	*elements = 0;
	if (strncmp(p, "<?xml", 5) == 0) {
		if ((p = strstr(p, "?>")) == NULL)
			return snprintf(err, cap, "an unclosed <?xml"), -1;
		p += 2;
	}
	while (*p) {
		if (*p != '<') {
			if (depth == 0 && !strchr(" \t\r\n", *p))
				return snprintf(err, cap, "text outside the root at %ld", (long)(p - s)), -1;
			if (*p == '&') {
				if (!xml_entity(p, &n))
					return snprintf(err, cap, "a bad entity at %ld", (long)(p - s)), -1;
				p += n;
			} else {
				p++;
			}
			continue;
		}
		if (strncmp(p, "<!--", 4) == 0) {
			if ((p = strstr(p + 4, "-->")) == NULL)
				return snprintf(err, cap, "an unclosed comment"), -1;
			p += 3;
		} else if (p[1] == '/') {
			const char *q = p + 2;
			size_t k;
			while (xml_name_char(*q))
				q++;
			k = (size_t)(q - (p + 2));
			while (*q == ' ' || *q == '\n')
				q++;
			if (*q != '>' || depth == 0 || strlen(stack[depth - 1]) != k
			    || strncmp(stack[depth - 1], p + 2, k) != 0)
				return snprintf(err, cap, "</%.*s> does not close <%s> at %ld", (int)k, p + 2,
				                depth ? stack[depth - 1] : "(nothing)", (long)(p - s)), -1;
			depth--;
			p = q + 1;
		} else {
			const char *q = p + 1, *name = q;
			if (!xml_name_start(*q))
				return snprintf(err, cap, "a bad tag name at %ld", (long)(p - s)), -1;
			while (xml_name_char(*q))
				q++;
			if (depth == 0 && ++roots > 1)
				return snprintf(err, cap, "a second root element at %ld", (long)(p - s)), -1;
			if (depth == 64 || q - name >= 48)
				return snprintf(err, cap, "too deep"), -1;
			snprintf(stack[depth], sizeof stack[depth], "%.*s", (int)(q - name), name);
			++*elements;
			for (;;) {
				int space = 0;
				while (*q == ' ' || *q == '\n' || *q == '\t')
					q++, space = 1;
				if (*q == '>' || (q[0] == '/' && q[1] == '>'))
					break;
				if (!space || !xml_name_start(*q))
					return snprintf(err, cap, "a bad attribute in <%s> at %ld", stack[depth],
					                (long)(q - s)), -1;
				while (xml_name_char(*q))
					q++;
				if (*q != '=' || (q[1] != '"' && q[1] != '\''))
					return snprintf(err, cap, "an unquoted attribute in <%s> at %ld",
					                stack[depth], (long)(q - s)), -1;
				{
					char quote = q[1];
					for (q += 2; *q && *q != quote; q++) {
						if (*q == '<')
							return snprintf(err, cap, "'<' in a value at %ld", (long)(q - s)), -1;
						if (*q == '&' && !xml_entity(q, &n))
							return snprintf(err, cap, "a bad entity in a value at %ld",
							                (long)(q - s)), -1;
					}
					if (*q != quote)
						return snprintf(err, cap, "an unclosed value"), -1;
					q++;
				}
			}
			if (*q == '/')
				q += 2;
			else {
				depth++;
				q++;
			}
			p = q;
		}
	}
	if (depth != 0)
		return snprintf(err, cap, "<%s> is never closed", stack[depth - 1]), -1;
	if (roots != 1)
		return snprintf(err, cap, "no root element"), -1;
	return 0;
}

/* ---- compare --------------------------------------------------------------------- */

/* Two tiny models, two seeds, four steps each. */
static void test_table_and_logs(void)
{
	char line[1024], *out, *err, *log, *summary;
	int rc;

	rc = cmp_run("t1", "tiny.tfm --model tiny,tiny_ln --data text.txt --steps 4 --batch 2 "
	                   "--seq 16 --seeds 2 --eval-every 2 --threads 1");
	out = cmp_read("t1.stdout");
	err = cmp_read("t1.stderr");
	if (rc != 0)
		fprintf(stderr, "\n%s\n%s\n", out, err);
	CU_ASSERT_EQUAL(rc, 0);
	cmp_line(out, "model ", line, sizeof line);
	ASSERT_HAS(line, "params");
	ASSERT_HAS(line, "non-emb");
	ASSERT_HAS(line, "FLOPs/tok");
	ASSERT_HAS(line, "train loss");
	ASSERT_HAS(line, "val loss");
	ASSERT_HAS(line, "tok/s");
	ASSERT_HAS(line, "wall/run");
	ASSERT_HAS(line, "warnings");
	/* tfmc show's counts: 11,568 parameters, 3,376 outside the embedding. */
	cmp_line(out, "tiny ", line, sizeof line);
	ASSERT_HAS(line, "11,568");
	ASSERT_HAS(line, "3,376");
	ASSERT_HAS(line, "46.2k");	/* 3 x (2 x 3,328 + 2 x 4,096 + 64 x 17 / 2) */
	CU_ASSERT_EQUAL(cmp_count(line, "±"), 2);
	cmp_line(out, "tiny_ln ", line, sizeof line);
	ASSERT_HAS(line, "11,616");
	ASSERT_HAS(line, "layernorm");
	CU_ASSERT_EQUAL(cmp_count(line, "±"), 2);
	ASSERT_HAS(err, "[1/4] tiny seed 42: ");
	ASSERT_HAS(err, "[4/4] tiny_ln seed 43: 4 steps in ");
	ASSERT_HAS(err, "all ETA ");
	ASSERT_HAS(err, "warning: LayerNorm where RMSNorm would do [-Wlayernorm]");

	log = cmp_read("t1/tiny_ln.seed43.csv");
	ASSERT_HAS(log, "step,tokens,flops,lr,train_loss,grad_norm,tokens_per_s,val_loss\n1,32,");
	CU_ASSERT_EQUAL(cmp_count(log, "\n"), 5);
	ASSERT_HAS(log, "\n4,128,");
	CU_ASSERT_EQUAL(log[strlen(log) - 2] == ',', 0);	/* step 4 has its val_loss */
	CU_ASSERT_PTR_NOT_NULL(strstr(log, "\n1,32,") && strstr(strstr(log, "\n1,32,") + 1, ",\n2,"));
	free(log);
	summary = cmp_read("t1/summary.csv");
	ASSERT_HAS(summary, "model,file,seed,status,steps,tokens,train_loss,val_loss,");
	CU_ASSERT_EQUAL(cmp_count(summary, ",done,4,128,"), 4);
	ASSERT_HAS(summary, "tiny,tiny.tfm,43,done,");
	free(summary);
	free(out);
	free(err);
}

/* The losses of a CSV log: the train_loss column, joined. */
static void cmp_losses(const char *log, char *buf, size_t cap)
{
	size_t len = 0;

	buf[0] = '\0';
	for (const char *p = strchr(log, '\n'); p && p[1]; p = strchr(p + 1, '\n')) {
		const char *f = p + 1;
		for (int k = 0; k < 4 && f; k++)
			f = strchr(f, ',') ? strchr(f, ',') + 1 : NULL;
		if (f && len + 1 < cap)
			len += (size_t)snprintf(buf + len, cap - len, "%.*s;", (int)strcspn(f, ","), f);
	}
}

/* tiny_same is tiny under another name: a seed gives both the same weights
 * and the same windows, so the same losses, bit for bit; another seed not. */
static void test_same_windows(void)
{
	char a[4096], b[4096], c[4096];
	int rc = cmp_run("t2", "tiny.tfm --model tiny,tiny_same --data text.txt --tokens 100 "
	                       "--batch 2 --seq 16 --seeds 2 --threads 1");
	char *log;

	CU_ASSERT_EQUAL(rc, 0);
	log = cmp_read("t2/tiny.seed42.csv");
	CU_ASSERT_EQUAL(cmp_count(log, "\n"), 5);	/* 100 tokens: 4 steps of 32 */
	cmp_losses(log, a, sizeof a);
	free(log);
	log = cmp_read("t2/tiny_same.seed42.csv");
	cmp_losses(log, b, sizeof b);
	free(log);
	log = cmp_read("t2/tiny.seed43.csv");
	cmp_losses(log, c, sizeof c);
	free(log);
	CU_ASSERT_EQUAL(cmp_count(a, ";"), 4);
	ASSERT_MSG(b, a);
	CU_ASSERT_NOT_EQUAL(strcmp(a, c), 0);
}

/* --minutes: the steps that fit, each run done (no time asserted). */
static void test_minutes(void)
{
	char *err, *summary;
	int rc = cmp_run("t5", "tiny.tfm --model tiny --data text.txt --minutes 0.005 --batch 2 "
	                       "--seq 16 --threads 1");

	err = cmp_read("t5.stderr");
	CU_ASSERT_EQUAL(rc, 0);
	ASSERT_HAS(err, "0.005 minutes of wall time per run");
	ASSERT_HAS(err, "[1/1] tiny seed 42: ");
	free(err);
	summary = cmp_read("t5/summary.csv");
	ASSERT_HAS(summary, "\ntiny,tiny.tfm,42,done,");
	free(summary);
}

/* A table's line cut to its train and validation loss cells, "a ± b  c ± d". */
static void cmp_loss_cells(char *line)
{
	char *p = strstr(line, "±"), *q = p ? strstr(p + 1, "±") : NULL;
	size_t len;

	if (p == NULL || q == NULL || p - line < 7 || strlen(q) < 9) {
		line[0] = '\0';
		return;
	}
	len = (size_t)(q + 9 - (p - 7));	/* "5.1234 ± 0.0123  5.2345 ± 0.0234" */
	memmove(line, p - 7, len);
	line[len] = '\0';
}

/* --reuse: complete logs that agree with the command are read back (the
 * same table as when they were trained), a log cut short is trained again,
 * and a command with another learning rate reads none back. */
static void test_reuse(void)
{
	static const char args[] = "tiny.tfm --data text.txt --steps 4 --batch 2 --seq 16 --seeds 2 "
	                           "--eval-every 2 --threads 1";
	char cmd[512], first[1024], again[1024], *out, *err, *summary;
	int rc;

	snprintf(cmd, sizeof cmd, "%s --model tiny", args);
	rc = cmp_run("t6", cmd);
	CU_ASSERT_EQUAL(rc, 0);
	out = cmp_read("t6.stdout");
	cmp_line(out, "tiny ", first, sizeof first);
	free(out);
	/* seed 43's log loses its last step. */
	CU_ASSERT_EQUAL(test_sh("cd %s/t6 && head -n 4 tiny.seed43.csv > cut && mv cut tiny.seed43.csv",
	                        cmp_dir), 0);
	snprintf(cmd, sizeof cmd, "%s --model tiny,tiny_ln --reuse", args);
	rc = cmp_run("t6", cmd);
	CU_ASSERT_EQUAL(rc, 0);
	out = cmp_read("t6.stdout");
	err = cmp_read("t6.stderr");
	cmp_line(out, "tiny ", again, sizeof again);
	ASSERT_HAS(err, "[1/4] tiny seed 42: read back from t6/tiny.seed42.csv: 4 steps in ");
	ASSERT_HAS(err, "[2/4] tiny seed 43: 4 steps in ");
	ASSERT_HAS(err, "[4/4] tiny_ln seed 43: 4 steps in ");
	CU_ASSERT_EQUAL(cmp_count(err, "read back"), 1);
	/* The same losses (seed 43 retrained to the same bits): the same train
	 * and validation cells. */
	cmp_loss_cells(first);
	cmp_loss_cells(again);
	CU_ASSERT_EQUAL(cmp_count(first, "±"), 2);
	ASSERT_MSG(again, first);
	summary = cmp_read("t6/summary.csv");
	CU_ASSERT_EQUAL(cmp_count(summary, ",done,4,128,"), 4);
	CU_ASSERT_EQUAL(cmp_count(summary, "read back from its log"), 1);
	free(summary);
	free(out);
	free(err);
	/* Another learning rate: every log disagrees. */
	snprintf(cmd, sizeof cmd, "%s --model tiny --reuse --lr 2e-3", args);
	rc = cmp_run("t6", cmd);
	CU_ASSERT_EQUAL(rc, 0);
	err = cmp_read("t6.stderr");
	CU_ASSERT_EQUAL(cmp_count(err, "read back"), 0);
	ASSERT_HAS(err, "[2/2] tiny seed 43: 4 steps in ");
	free(err);
	/* And --minutes has no length to check against. */
	rc = cmp_run("t6", "tiny.tfm --data text.txt --minutes 1 --reuse");
	CU_ASSERT_EQUAL(rc, 2);
	err = cmp_read("t6.stderr");
	ASSERT_HAS(err, "--reuse: a run of --minutes has no fixed length to check a log against");
	free(err);
}

/* The plots of test_table_and_logs's run. */
static void test_svg(void)
{
	static const char *const files[] = { "t1/val_loss_tokens.svg", "t1/val_loss_flops.svg" };
	char err[200];

	for (int i = 0; i < 2; i++) {
		char *svg = cmp_read(files[i]);
		int elements = 0, rc = xml_check(svg, &elements, err, sizeof err);
		if (rc != 0)
			fprintf(stderr, "\n    %s: %s\n", files[i], err);
		CU_ASSERT_EQUAL(rc, 0);
		CU_ASSERT(elements > 30);
		ASSERT_HAS(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"");
		CU_ASSERT_EQUAL(cmp_count(svg, "<path class=\"line\""), 2);
		CU_ASSERT_EQUAL(cmp_count(svg, "<path class=\"band\""), 2);
		ASSERT_HAS(svg, "<g class=\"x-axis\">");
		ASSERT_HAS(svg, "<g class=\"y-axis\">");
		CU_ASSERT(cmp_count(svg, "<text class=\"tick\"") >= 6);
		ASSERT_HAS(svg, i ? ">training FLOPs</text>" : ">training tokens</text>");
		ASSERT_HAS(svg, ">validation loss (nats/token)</text>");
		ASSERT_HAS(svg, "<g class=\"legend\">");
		ASSERT_HAS(svg, ">tiny</text>");
		ASSERT_HAS(svg, ">tiny_ln</text>");
		ASSERT_HAS(svg, "<text class=\"caption\"");
		ASSERT_HAS(svg, "tfmc compare tiny.tfm --model tiny,tiny_ln --data text.txt --steps 4");
		free(svg);
	}
}

/* tiny_wd's weight decay multiplies its weights by -999 a step: its loss
 * is NaN within some 15 steps, while tiny trains on. */
static void test_diverged(void)
{
	char line[1024], *out, *err, *log;
	int rc = cmp_run("t3", "tiny.tfm --model tiny,tiny_wd --data text.txt --steps 30 --batch 2 "
	                       "--seq 16 --warmup 0 --threads 1");

	out = cmp_read("t3.stdout");
	err = cmp_read("t3.stderr");
	CU_ASSERT_EQUAL(rc, 0);
	cmp_line(out, "tiny_wd ", line, sizeof line);
	ASSERT_HAS(line, " diverged ");
	ASSERT_HAS(line, "weight-decay");
	ASSERT_HAS(line, "seed 42 diverged at step ");
	cmp_line(out, "tiny ", line, sizeof line);
	CU_ASSERT_PTR_NULL(strstr(line, "diverged"));
	ASSERT_HAS(line, " 5.");	/* a loss near ln 256 = 5.545 after 30 steps */
	ASSERT_HAS(err, "[1/2] tiny seed 42: 30 steps in ");
	ASSERT_HAS(err, "[2/2] tiny_wd seed 42: diverged at step ");
	ASSERT_HAS(err, ": the loss is NaN");
	log = cmp_read("t3/summary.csv");
	ASSERT_HAS(log, "tiny,tiny.tfm,42,done,30,960,");
	ASSERT_HAS(log, "tiny_wd,tiny.tfm,42,diverged,");
	free(log);
	/* The log ends with the step that diverged, its loss NaN... */
	log = cmp_read("t3/tiny_wd.seed42.csv");
	ASSERT_HAS(log, ",nan,nan,0.0,\n");
	free(log);
	/* ...so --reuse reads the divergence back, at the same step. */
	cmp_line(out, "tiny_wd ", line, sizeof line);
	rc = cmp_run("t3", "tiny.tfm --model tiny,tiny_wd --data text.txt --steps 30 --batch 2 "
	                   "--seq 16 --warmup 0 --threads 1 --reuse");
	CU_ASSERT_EQUAL(rc, 0);
	free(out);
	free(err);
	out = cmp_read("t3.stdout");
	err = cmp_read("t3.stderr");
	CU_ASSERT_EQUAL(cmp_count(err, "read back from t3/"), 2);
	ASSERT_HAS(err, "[2/2] tiny_wd seed 42: read back from t3/tiny_wd.seed42.csv: diverged at step ");
	ASSERT_HAS(err, ": the loss is NaN");
	{
		char again[1024];
		cmp_line(out, "tiny_wd ", again, sizeof again);
		ASSERT_MSG(strstr(again, "seed 42 diverged"), strstr(line, "seed 42 diverged"));
	}
	free(out);
	free(err);

	/* A huge learning rate: every model diverges, the table comes all the same. */
	rc = cmp_run("t4", "tiny.tfm --model tiny --data text.txt --steps 10 --batch 2 --seq 16 "
	                   "--lr 1e9 --warmup 0 --threads 1");
	out = cmp_read("t4.stdout");
	CU_ASSERT_EQUAL(rc, 0);
	cmp_line(out, "tiny ", line, sizeof line);
	ASSERT_HAS(line, "seed 42 diverged at step ");
	free(out);
}

/* Bad input: each is an error that says what is wrong. */
static void test_bad_input(void)
{
	static const struct {
		const char *args, *msg;
		int rc;
	} cases[] = {
		{ "tiny.tfm --data empty.txt --steps 2",
		  "tfmc compare: error: --data empty.txt: the file is empty: there are no tokens to "
		  "train on\n", 2 },
		{ "tiny.tfm --data text.txt --steps 0",
		  "tfmc compare: error: --steps: expected a count of steps (1 or more), got '0'\n", 2 },
		{ "tiny.tfm --data text.txt --tokens 0",
		  "tfmc compare: error: --tokens: expected a count of tokens (1 or more), got '0'\n", 2 },
		{ "tiny.tfm --data text.txt --minutes 0",
		  "tfmc compare: error: --minutes: expected a number of minutes > 0, got '0'\n", 2 },
		{ "tiny.tfm --data text.txt --steps 3 --minutes 1",
		  "tfmc compare: error: --steps, --tokens and --minutes are three budgets: give one "
		  "budget (see tfmc compare --help)\n", 2 },
		{ "tiny.tfm --steps 3",
		  "tfmc compare: error: --data FILE is required (see tfmc compare --help)\n", 2 },
		{ "tiny.tfm --data text.txt --model nope",
		  "tfmc compare: error: --model: no model 'nope' in tiny.tfm\n", 2 },
		{ "tiny.tfm --data text.txt -o x.safetensors",
		  "tfmc compare: error: -o is not an option of compare (see --help)\n", 2 },
		{ "tiny.tfm --data text.txt --seeds 0",
		  "tfmc compare: error: --seeds: expected a count of seeds from 1 to 1000, got '0'\n", 2 },
	};
	char name[32], *err, line[1024];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(name, sizeof name, "b%zu", i);
		CU_ASSERT_EQUAL(cmp_run(name, cases[i].args), cases[i].rc);
		snprintf(name, sizeof name, "b%zu.stderr", i);
		err = cmp_read(name);
		ASSERT_MSG(err, cases[i].msg);
		free(err);
	}

	/* A spec that fails its checks is reported and skipped; the other runs. */
	CU_ASSERT_EQUAL(cmp_run("b_checks", "bad.tfm tiny.tfm --model bad,tiny --data text.txt "
	                                    "--steps 2 --batch 2 --seq 16 --threads 1"), 1);
	err = cmp_read("b_checks.stderr");
	ASSERT_HAS(err, "bad.tfm:3:");
	ASSERT_HAS(err, "error: d_model (30) is not divisible by n_head (4)");
	ASSERT_HAS(err, "[1/1] tiny seed 42: 2 steps in ");
	free(err);
	err = cmp_read("b_checks.stdout");
	cmp_line(err, "bad ", line, sizeof line);
	ASSERT_HAS(line, "skipped: fails its checks (1 error)");
	cmp_line(err, "tiny ", line, sizeof line);
	ASSERT_HAS(line, "11,568");
	CU_ASSERT_PTR_NULL(strstr(line, "skipped"));
	free(err);

	/* A file that cannot be read, one that does not parse: reported in the
	 * table, the rest run. */
	CU_ASSERT_EQUAL(cmp_run("b_files", "nofile.tfm syntax.tfm tiny.tfm --model tiny --data text.txt "
	                                   "--steps 2 --batch 2 --seq 16 --threads 1"), 1);
	err = cmp_read("b_files.stderr");
	ASSERT_HAS(err, "tfmc compare: nofile.tfm: skipped: it cannot be read");
	ASSERT_HAS(err, "tfmc compare: syntax.tfm: skipped: it does not parse");
	ASSERT_HAS(err, "tfmc compare: 1 model x 1 seed, 2 steps per run; 1 thread");
	free(err);
	err = cmp_read("b_files.stdout");
	cmp_line(err, "nofile.tfm ", line, sizeof line);
	ASSERT_HAS(line, "skipped: cannot be read");
	cmp_line(err, "syntax.tfm ", line, sizeof line);
	ASSERT_HAS(line, "skipped: does not parse");
	cmp_line(err, "tiny ", line, sizeof line);
	ASSERT_HAS(line, "11,568");
	free(err);

	/* Data shorter than a window: the model is skipped with the reader's message. */
	CU_ASSERT_EQUAL(cmp_run("b_short", "tiny.tfm --model tiny --data short.txt --steps 2 --seq 16"), 1);
	err = cmp_read("b_short.stdout");
	cmp_line(err, "tiny ", line, sizeof line);
	ASSERT_HAS(line, "skipped: short.txt: 9 tokens are fewer than one window of --seq 16 (17 "
	                 "tokens): give a smaller --seq");
	free(err);

	CU_ASSERT_EQUAL(cmp_run("b_help", "--help"), 0);
	err = cmp_read("b_help.stdout");
	ASSERT_HAS(err, "usage: tfmc compare SPEC... --data FILE");
	ASSERT_HAS(err, "  --seeds N ");
	ASSERT_HAS(err, "  --minutes M ");
	ASSERT_HAS(err, "  --lr LR ");
	CU_ASSERT_PTR_NULL(strstr(err, "--resume"));
	free(err);
}

/* ---- plot ---------------------------------------------------------------------------- */

static void test_plot(void)
{
	double x[] = { 100, 200, 300, 400 }, y[] = { 3.0, NAN, 2.5, 2.25 };
	double lo[] = { 2.9, 2.8, NAN, 2.2 }, hi[] = { 3.1, 3.0, NAN, 2.3 };
	double one = 5, none = NAN;
	PlotSeries s[] = { { "a <&> \"b\"", 4, x, y, lo, hi }, { "one", 1, &one, &one, NULL, NULL },
	                   { "none", 1, &none, &none, NULL, NULL } };
	Plot p = { "a title & more", "x", "y", "the caption, which is long enough to be wrapped over "
	           "two lines of the picture since it has far more than a hundred and twelve "
	           "characters in it, so: <wrapped>", s, 3 };
	char path[TEST_DIR_MAX + 32], err[200], buf[32];
	FILE *f;
	char *svg;
	int elements;

	snprintf(path, sizeof path, "%s/plot.svg", cmp_dir);
	CU_ASSERT_FATAL((f = fopen(path, "w")) != NULL);
	CU_ASSERT_EQUAL(plot_svg(f, &p), 0);
	fclose(f);
	svg = strdup(test_slurp(path));
	CU_ASSERT_EQUAL(xml_check(svg, &elements, err, sizeof err), 0);
	CU_ASSERT_EQUAL(cmp_count(svg, "<path class=\"line\""), 3);
	CU_ASSERT_EQUAL(cmp_count(svg, "<path class=\"band\""), 1);
	ASSERT_HAS(svg, ">a &lt;&amp;&gt; &quot;b&quot;</text>");
	ASSERT_HAS(svg, ">a title &amp; more</text>");
	CU_ASSERT_EQUAL(cmp_count(svg, "<tspan"), 2);
	ASSERT_HAS(svg, "&lt;wrapped&gt;</tspan>");
	CU_ASSERT_EQUAL(cmp_count(svg, "<circle"), 4);	/* three of a, one of one, none of none */
	free(svg);

	/* The checker itself refuses what is not XML. */
	CU_ASSERT_EQUAL(xml_check("<a><b></a></b>", &elements, err, sizeof err), -1);
	CU_ASSERT_EQUAL(xml_check("<a x=1/>", &elements, err, sizeof err), -1);
	CU_ASSERT_EQUAL(xml_check("<a>&nope;</a>", &elements, err, sizeof err), -1);
	CU_ASSERT_EQUAL(xml_check("<a/><b/>", &elements, err, sizeof err), -1);
	CU_ASSERT_EQUAL(xml_check("<a x=\"1\"><b/>&amp;&#38;</a>", &elements, err, sizeof err), 0);
	CU_ASSERT_EQUAL(elements, 2);

	plot_number(buf, sizeof buf, 0, 50000, 150000);
	ASSERT_MSG(buf, "0");
	plot_number(buf, sizeof buf, 150000, 50000, 150000);
	ASSERT_MSG(buf, "150k");
	plot_number(buf, sizeof buf, 2.25, 0.25, 3);
	ASSERT_MSG(buf, "2.25");
	plot_number(buf, sizeof buf, 1.5e12, 5e11, 2e12);
	ASSERT_MSG(buf, "1.5T");
	plot_number(buf, sizeof buf, 4, 1, 8);
	ASSERT_MSG(buf, "4");
}

int add_compare_suites(void)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} tests[] = {
		{ "the table, the logs and summary.csv", test_table_and_logs },
		{ "a seed: the same weights and windows for every model", test_same_windows },
		{ "the plots are well-formed SVG", test_svg },
		{ "--minutes", test_minutes },
		{ "--reuse reads back the complete logs", test_reuse },
		{ "a run that diverges, and the others", test_diverged },
		{ "bad input", test_bad_input },
		{ "plot_svg and plot_number", test_plot },
	};
	CU_pSuite s = CU_add_suite("compare", cmp_setup, cmp_teardown);

	if (s == NULL)
		return -1;
	for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
		if (CU_add_test(s, tests[i].name, tests[i].fn) == NULL)
			return -1;
	return 0;
}
