/* test_main.c: the CUnit runner.  Each tests/test_*.c registers its suites
 * through an add_*_suites function; this runs them all, or those whose
 * names contain one of the arguments (tfmc-test quant gguf), and prints
 * CUnit's summary.  Run from the top of the tree (make test does). */
#include <stdio.h>
#include <string.h>
#include <CUnit/Basic.h>
#include "testutil.h"

int main(int argc, char **argv)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	if (add_front_suites() || add_runtime_suites() || add_model_main_suites() ||
	    add_kernel_suites() || add_codegen_suites() || add_tokenizer_suites() ||
	    add_bpe_train_suites() || add_import_suites() || add_grad_suites() ||
	    add_train_suites() || add_train_model_suites() || add_finetune_suites() ||
	    add_compare_suites() || add_gguf_suites() || add_quant_suites()) {
		fprintf(stderr, "cannot register suites: %s\n", CU_get_error_msg());
		CU_cleanup_registry();
		return 2;
	}
	if (argc > 1)
		for (CU_pSuite s = CU_get_registry()->pSuite; s; s = s->pNext) {
			int wanted = 0;
			for (int i = 1; i < argc; i++)
				wanted |= strstr(s->pName, argv[i]) != NULL;
			CU_set_suite_active(s, wanted ? CU_TRUE : CU_FALSE);
		}
	CU_basic_set_mode(CU_BRM_NORMAL);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures();
	unsigned asserts_failed = CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failed || asserts_failed ? 1 : 0;
}
