/* testutil.h: what the test files share. */
#ifndef TESTUTIL_H
#define TESTUTIL_H

int add_front_suites(void);
int add_runtime_suites(void);
int add_model_main_suites(void);
int add_codegen_suites(void);
int add_kernel_suites(void);

#endif
