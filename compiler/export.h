/* export.h: `tfmc export`, a model as a GGUF file llama.cpp runs (export.c). */
#ifndef EXPORT_H
#define EXPORT_H

#include <stdint.h>
#include <stdio.h>
#include "ir.h"
#include "formats.h"

/* Writes p's model with the weights at weights[n_weights], each 2-D tensor
 * as p holds it (its dtype), and tokenizer's vocabulary when it is a
 * byte-level BPE tokenizer.json (tokenizer may be NULL), to out.  What it
 * did goes to log. */
int export_gguf(const Program *p, const char *const *weights, int n_weights, const char *tokenizer, const char *out,
                FILE *log, tfm_error *e);

/* The same with random weights as `tfmc init` makes them (seed), the 2-D
 * tensors in p's types: tfmc init -o model.gguf. */
int export_gguf_random(const Program *p, uint64_t seed, const char *out, FILE *log, tfm_error *e);

#endif
