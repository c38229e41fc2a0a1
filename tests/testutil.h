/* testutil.h: what the test files share. */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <stddef.h>

int add_front_suites(void);
int add_runtime_suites(void);
int add_model_main_suites(void);
int add_codegen_suites(void);
int add_kernel_suites(void);
int add_tokenizer_suites(void);
int add_bpe_train_suites(void);
int add_import_suites(void);
int add_grad_suites(void);
int add_train_suites(void);
int add_train_model_suites(void);
int add_finetune_suites(void);
int add_compare_suites(void);
int add_gguf_suites(void);
int add_quant_suites(void);

/* Compares a whole message, and shows both on a mismatch. */
#define ASSERT_MSG(got, want) do { \
	if (strcmp((got), (want)) != 0) \
		fprintf(stderr, "\n    got:  %s\n    want: %s\n", (got), (want)); \
	CU_ASSERT_STRING_EQUAL((got), (want)); \
} while (0)

/* Checks that a message contains a piece, and shows both if not. */
#define ASSERT_HAS(got, piece) do { \
	if (strstr((got), (piece)) == NULL) \
		fprintf(stderr, "\n    got:  %s\n    lacks: %s\n", (got), (piece)); \
	CU_ASSERT_PTR_NOT_NULL(strstr((got), (piece))); \
} while (0)

#define TEST_DIR_MAX 512

/* A new temporary directory under $TMPDIR (or /tmp), named after tag, into
 * dir; 0 or -1. */
int test_dir_open(char dir[TEST_DIR_MAX], const char *tag);
/* Removes dir, its files and its empty subdirectories; clears dir. */
int test_dir_close(char dir[TEST_DIR_MAX]);
/* dir/name, in one of four rotating buffers. */
const char *test_path(const char *dir, const char *name);

/* Runs a shell command; its exit status, or -1 when it did not exit. */
int test_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A whole small file (at most 64 KB), in a static buffer; "" when unreadable. */
const char *test_slurp(const char *path);
/* stdout and stderr into files of dir until test_capture_end, which puts
 * them back and reads what was written into out[cap] and err[cap]. */
typedef struct test_capture {
	int save_out, save_err;
	char out_path[1024], err_path[1024];
} test_capture;
int test_capture_begin(test_capture *c, const char *dir);
void test_capture_end(test_capture *c, char *out, size_t ocap, char *err, size_t ecap);
/* The golden training cases' names (tests/golden/TRAIN_INDEX) into
 * names[max]; how many. */
int test_train_index(char names[][128], int max);
/* A float32 .npy of two dimensions, malloc'ed; NULL when unreadable. */
float *test_npy_read(const char *path, long *rows, long *cols);
double test_max_abs(const float *a, long n);
/* max |a - b|, infinite when there is a NaN. */
double test_max_diff(const float *a, const float *b, long n);

#endif
