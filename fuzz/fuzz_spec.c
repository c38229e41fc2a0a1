/* fuzz_spec.c: libFuzzer target for the spec front end: lexer, parser,
 * resolution and checks, over arbitrary bytes.  `make fuzz` builds it. */
#include <stddef.h>
#include <stdint.h>
#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Diags d;
	Front fe;

	diag_init(&d);
	d.enabled[W_POST_NORM] = d.enabled[W_LAYERNORM] = 1;
	front_init(&fe, &d);
	front_load_text(&fe, "fuzz.tfm", (const char *)data, size);
	if (d.n_errors == 0)
		check_all(&fe);
	front_free(&fe);
	diag_free(&d);
	return 0;
}
