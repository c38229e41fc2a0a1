/* import.h: `tfmc import`: checkpoints of other software as specs.
 *
 * A Hugging Face config.json or a llama2.c header becomes a Model with
 * every key set (MODEL_REFERENCE.md section 6); anything in the source
 * that changes the math and has no key stops the import with an error that
 * names it.  import_run then writes the spec, and beside it the few
 * tensors that cannot be read as stored. */
#ifndef IMPORT_H
#define IMPORT_H

#include <stddef.h>
#include <stdio.h>
#include "model.h"
#include "formats.h"

/* Every key of m at its literal default (keys.h), the required and
 * computed ones zero: what an import starts from. */
void import_defaults(Model *m);

/* The Model a Hugging Face config.json's text[len] describes, its
 * architecture (TFM_HF_) in *arch.  max_seq > 0 asks for that context, at
 * most the config's.  Fields tfmc does not know are listed, one per line,
 * in notes[size] (the caller says they were assumed harmless). */
int import_hf_config(const char *text, size_t len, const char *label, long long max_seq,
                     Model *m, int *arch, char *notes, size_t size, tfm_error *e);

/* The Model of a llama2.c checkpoint's header. */
int import_llama2c_config(const tfm_llama2c_config *c, const char *label, long long max_seq,
                          Model *m, tfm_error *e);

/* The Model a GGUF file's metadata describes (gguf_config.c); its
 * {arch}. keys tfmc does not know, one per line, in notes[size]. */
int import_gguf_config(const tfm_gguf *g, const char *label, long long max_seq, Model *m, char *notes,
                       size_t size, tfm_error *e);

/* Writes g's vocabulary as a tokenizer folder dir (tokenizer.json,
 * tokenizer_config.json) when it is a byte-level BPE one tfmc reads
 * (gguf_vocab.c): 0; 1 with why[why_size] saying why it wrote none; -1 on
 * an error. */
int import_gguf_tokenizer(const tfm_gguf *g, const char *label, const char *dir, char *why, size_t why_size,
                          tfm_error *e);

typedef struct ImportOptions {
	const char *src;	/* a llama2.c .bin, a GGUF file or a Hugging Face folder */
	const char *out;	/* NAME.tfm */
	long long max_seq;	/* 0: the source's */
	const char *tokenizer;	/* NULL: the one beside the source, if any */
} ImportOptions;

/* Imports o->src into o->out (and, when tensors must change, NAME.safetensors
 * beside it), then reads the spec back and binds every tensor to check
 * that it runs.  What it did goes to log, one line each. */
int import_run(const ImportOptions *o, FILE *log, tfm_error *e);

#endif
