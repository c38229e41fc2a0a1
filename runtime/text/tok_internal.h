/* tok_internal.h: what the files of runtime/text/ share: the tokenizer's
 * structures and each file's entry points.  Not part of the public API (the
 * fuzzers include it to open a tokenizer.json from memory).
 *
 * The Hugging Face pipeline, and where each step lives:
 *
 *     text → added tokens on the raw text (added.c)
 *          → normalizer on each remaining piece (normalize.c)
 *          → added tokens on the normalized pieces (added.c)
 *          → pre-tokenizer: pieces into words (pretok.c)
 *          → BPE: each word into ids (bpe.c)
 *          → post-processor: what add_special puts around (tokenizer.c)
 *     ids  → token strings → decoders → text (decode.c)
 *
 * hf_json.c reads tokenizer.json into these structures, hf_config.c the
 * model folder's other files; llama2c_tok.c is llama2.c's tokenizer.bin.
 * Strings are byte strings with a length: the text may hold NUL.
 */
#ifndef TOK_INTERNAL_H
#define TOK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tfm.h"

/* ---- Growable arrays (maps.c) -------------------------------------------- */

typedef struct tok_buf {
	char *p;
	size_t len, cap;
} tok_buf;

typedef struct tok_ids {
	int *p;
	size_t n, cap;
} tok_ids;

int tok_buf_add(tok_buf *b, const void *s, size_t n);	/* 0, or -1 when out of memory */
int tok_buf_reserve(tok_buf *b, size_t extra);
void tok_buf_free(tok_buf *b);
int tok_ids_push(tok_ids *v, int id);
int tok_ids_add(tok_ids *v, const int *ids, size_t n);
void tok_ids_free(tok_ids *v);
/* The message for a failed allocation, with a place. */
int tok_oom(tfm_error *e);

/* ---- Maps (maps.c) ------------------------------------------------------- */

/* Byte string → int (≥ 0), open addressing; keys are copied. */
typedef struct tok_map_slot {
	uint64_t hash;
	size_t off;		/* into keys */
	uint32_t len;
	int val;		/* -1: empty slot */
} tok_map_slot;

typedef struct tok_map {
	tok_map_slot *slot;	/* [cap], cap a power of 2 */
	size_t cap, n;
	tok_buf keys;		/* the keys, back to back */
} tok_map;

/* Sets s → val (replacing an old value); 0 or -1 when out of memory. */
int tok_map_set(tok_map *m, const char *s, size_t len, int val);
/* The value of s, or -1. */
int tok_map_get(const tok_map *m, const char *s, size_t len);
void tok_map_clear(tok_map *m);
/* Room for n more keys without growing; 0 or -1. */
int tok_map_reserve(tok_map *m, size_t n);
void tok_map_free(tok_map *m);

/* (left id, right id) → (rank, merged id): BPE's merges. */
typedef struct tok_pair_slot {
	uint64_t key;
	uint32_t rank;
	int id;			/* -1: empty slot */
} tok_pair_slot;

typedef struct tok_pairmap {
	tok_pair_slot *slot;	/* [cap], a power of 2 */
	size_t cap, n;
} tok_pairmap;

int tok_pair_set(tok_pairmap *m, int a, int b, uint32_t rank, int id);
const tok_pair_slot *tok_pair_get(const tok_pairmap *m, int a, int b);
int tok_pair_reserve(tok_pairmap *m, size_t n);
void tok_pair_free(tok_pairmap *m);

/* ---- UTF-8 and character classes (utf8.c) -------------------------------- */

/* The byte offset of the first invalid UTF-8 sequence, or len when valid. */
size_t tok_utf8_check(const char *s, size_t len);
/* Decodes the character at s[0..len-1] into *cp and returns its length;
 * a byte that starts no valid character is one "character", *cp = -1. */
size_t tok_utf8_next(const char *s, size_t len, int32_t *cp);
/* Appends cp (valid) in UTF-8. */
int tok_utf8_put(tok_buf *b, int32_t cp);
/* Appends s[len] with each maximal invalid sequence replaced by U+FFFD, as
 * Rust's String::from_utf8_lossy does. */
int tok_utf8_lossy(tok_buf *b, const char *s, size_t len);
/* Rust's char::is_whitespace (the White_Space property). */
int tok_is_space(int32_t cp);
/* A word character of Rust's regex \w: alphabetic, marks, Nd, Pc, joiners. */
int tok_is_word(int32_t cp);
/* Rust's char::is_numeric: Nd, Nl, No. */
int tok_is_numeric(int32_t cp);
/* The value of a hexadecimal digit, or -1 (a byte piece's "<0xE2>"). */
int tok_hexval(char c);
/* GPT-2's bytes_to_unicode: the character standing for byte b. */
int32_t tok_byte_char(unsigned b);
/* The byte a byte-level character stands for, or -1. */
int tok_char_byte(int32_t cp);

/* ---- Regular expressions (regex.c) ---------------------------------------- */

/* PCRE2 (UTF, UCP, JIT when available) with \s and \w rewritten to what
 * Oniguruma, the engine of Hugging Face's tokenizers, means by them. */
typedef struct tok_regex tok_regex;

/* literal: the pattern is a plain string (a `String` pattern).  where names
 * the field for the message. */
int tok_regex_new(tok_regex **re, const char *pat, size_t len, int literal, const char *where,
                  tfm_error *e);
void tok_regex_free(tok_regex *re);

/* A piece of a string and whether it is a match (Hugging Face's
 * find_matches: the matches and the gaps between them, in order). */
typedef struct tok_span {
	size_t s, e;
	int match;
} tok_span;

typedef struct tok_spans {
	tok_span *p;
	size_t n, cap;
} tok_spans;

int tok_spans_push(tok_spans *v, size_t s, size_t e, int match);
void tok_spans_free(tok_spans *v);
/* Fills out (cleared first) with the matches of re in s[len] and the gaps,
 * as Hugging Face's Pattern::find_matches does with Oniguruma's find_iter
 * (an empty match right after a match is skipped).  An empty s gives one
 * empty gap. */
int tok_regex_spans(tok_regex *re, const char *s, size_t len, tok_spans *out, tfm_error *e);

/* ---- Pieces: a list of strings in one buffer ------------------------------ */

typedef struct tok_piece {
	size_t off, len;	/* into buf */
	int first;		/* starts at offset 0 of the original text */
} tok_piece;

typedef struct tok_pieces {
	tok_buf buf;
	tok_piece *p;
	size_t n, cap;
} tok_pieces;

int tok_pieces_add(tok_pieces *v, const char *s, size_t len, int first);
/* Starts a new piece at the end of buf (filled with tok_buf_add). */
int tok_pieces_open(tok_pieces *v, int first);
/* Ends the piece tok_pieces_open started: it holds what was added since. */
void tok_pieces_close(tok_pieces *v);
void tok_pieces_clear(tok_pieces *v);
void tok_pieces_free(tok_pieces *v);

/* ---- Normalizers (normalize.c) -------------------------------------------- */

enum {
	TOK_NORM_NFC, TOK_NORM_NFD, TOK_NORM_NFKC, TOK_NORM_NFKD, TOK_NORM_LOWERCASE,
	TOK_NORM_PREPEND, TOK_NORM_REPLACE, TOK_NORM_STRIP, TOK_NORM_STRIP_ACCENTS,
	TOK_NORM_BYTELEVEL
};

typedef struct tok_norm {
	int type;
	char *str;		/* Prepend: the prefix; Replace: the content */
	size_t len;
	tok_regex *re;		/* Replace: the pattern */
	int left, right;	/* Strip */
} tok_norm;

/* Runs the n normalizers over s[len] into out (cleared first). */
int tok_normalize(const tok_norm *norm, int n, const char *s, size_t len, tok_buf *out,
                  tfm_error *e);
/* Replaces each match of re in s[len] by with[wlen], into out (appended). */
int tok_replace(tok_regex *re, const char *s, size_t len, const char *with, size_t wlen,
                tok_buf *out, tfm_error *e);

/* ---- Pre-tokenizers (pretok.c) --------------------------------------------- */

enum { TOK_PRE_SPLIT, TOK_PRE_BYTELEVEL, TOK_PRE_METASPACE, TOK_PRE_DIGITS };
enum {
	TOK_SPLIT_REMOVED, TOK_SPLIT_ISOLATED, TOK_SPLIT_MERGED_PREV, TOK_SPLIT_MERGED_NEXT,
	TOK_SPLIT_CONTIGUOUS
};
enum { TOK_PREPEND_ALWAYS, TOK_PREPEND_FIRST, TOK_PREPEND_NEVER };

typedef struct tok_pretok {
	int type;
	tok_regex *re;		/* Split: the pattern; ByteLevel: GPT-2's regex, or NULL */
	int behavior, invert;	/* Split */
	int add_prefix_space;	/* ByteLevel */
	int32_t repl;		/* Metaspace: the replacement character */
	int prepend, split;	/* Metaspace: TOK_PREPEND_*, split on repl */
	int individual;		/* Digits: each digit alone */
} tok_pretok;

/* Runs the n pre-tokenizers over the pieces in *io; tmp is scratch.  The
 * result is in *io. */
int tok_pretokenize(const tok_pretok *pre, int n, tok_pieces *io, tok_pieces *tmp, tfm_error *e);
/* GPT-2's pre-tokenizer regex, which ByteLevel uses. */
extern const char tok_gpt2_regex[];

/* ---- Added tokens (added.c) ------------------------------------------------ */

typedef struct tok_added {
	char *content;
	size_t len;
	int id;
	int single_word, lstrip, rstrip, normalized, special;
} tok_added;

/* A byte trie over the contents of some added tokens: leftmost-longest. */
typedef struct tok_trie {
	struct tok_trie_node {
		int child, sibling;	/* first child, next sibling: node indices or -1 */
		int token;		/* the tok_added index ending here, or -1 */
		unsigned char byte;
	} *node;
	int n, cap;
	int root[256];		/* the root's children by byte, or -1 */
} tok_trie;

int tok_trie_add(tok_trie *t, const char *s, size_t len, int token);
void tok_trie_free(tok_trie *t);

/* A segment of a string: an added token (id ≥ 0) or text (id -1). */
typedef struct tok_seg {
	size_t s, e;
	int id;
} tok_seg;

typedef struct tok_segs {
	tok_seg *p;
	size_t n, cap;
} tok_segs;

/* Splits s[len] into segments at the matches of the trie's tokens, as
 * AddedVocabulary::find_matches does (single_word, lstrip, rstrip), into out
 * (cleared first); empty text segments are left out. */
int tok_added_split(const tok_trie *t, const tok_added *tokens, const char *s, size_t len,
                    tok_segs *out);
void tok_segs_free(tok_segs *v);

/* ---- BPE (bpe.c) ------------------------------------------------------------ */

typedef struct tok_sym tok_sym;
typedef struct tok_heap_ent tok_heap_ent;

typedef struct tok_bpe {
	tok_map vocab;		/* token → id */
	size_t n_entries;	/* entries in the vocab (Hugging Face's vocab size) */
	tok_pairmap merges;
	int unk_id;		/* -1: no unk_token */
	char *unk;		/* its name, for the message when it is not in the vocab */
	int fuse_unk, byte_fallback, ignore_merges;
	char *prefix, *suffix;	/* continuing_subword_prefix, end_of_word_suffix, or NULL */
	size_t prefix_len, suffix_len;
	int byte_id[256];	/* the id of "<0xXX>", or -1 */
	/* The word cache: a word → [n, ids...] in cache_ids. */
	tok_map cache;
	tok_ids cache_ids;
	/* Scratch for one word. */
	tok_sym *sym;
	size_t sym_cap;
	tok_heap_ent *heap;
	size_t heap_cap;
	tok_buf tmp;
} tok_bpe;

/* Appends the ids of one word to out. */
int tok_bpe_word(tok_bpe *m, const char *s, size_t len, tok_ids *out, tfm_error *e);
void tok_bpe_free(tok_bpe *m);

/* ---- Decoders (decode.c) ------------------------------------------------------ */

enum {
	TOK_DEC_BYTELEVEL, TOK_DEC_BYTEFALLBACK, TOK_DEC_FUSE, TOK_DEC_STRIP, TOK_DEC_REPLACE,
	TOK_DEC_METASPACE, TOK_DEC_BPE
};

typedef struct tok_dec {
	int type;
	char *str;		/* Replace: the content; BPEDecoder: the suffix */
	size_t len;
	tok_regex *re;		/* Replace: the pattern */
	int32_t ch;		/* Strip: the character; Metaspace: the replacement */
	int start, stop;	/* Strip */
	int prepend;		/* Metaspace: TOK_PREPEND_* */
} tok_dec;

/* Runs the n decoders over the token strings in *io (tmp is scratch) and
 * joins the result into out; raw: keep invalid UTF-8 as it is. */
int tok_decode_chain(const tok_dec *dec, int n, tok_pieces *io, tok_pieces *tmp, int raw,
                     tok_buf *out, tfm_error *e);

/* ---- The tokenizer ------------------------------------------------------------- */

enum { TOK_HF, TOK_LLAMA2C };

struct tfm_tokenizer {
	int kind;
	char *name;		/* the file, for messages */
	int n_vocab;		/* the largest id + 1 */
	/* id → token string (an added token's content where there is one) */
	tok_buf pieces;
	size_t *piece_off;	/* [n_vocab] */
	uint32_t *piece_len;	/* [n_vocab], UINT32_MAX: no token has this id */
	unsigned char *special;	/* [n_vocab]: left out by TFM_DECODE_SKIP_SPECIAL */

	/* Hugging Face */
	tok_bpe bpe;
	tok_norm *norm;
	int n_norm;
	tok_pretok *pre;
	int n_pre;
	tok_dec *dec;
	int n_dec, has_decoder;	/* no decoder: tokens joined by spaces */
	tok_added *added;	/* the special ones first, as Hugging Face orders them */
	int n_added;
	tok_map added_ids;	/* an added token's content → its id */
	tok_trie raw_trie, norm_trie;	/* non-normalized, normalized added tokens */
	tok_ids prefix, suffix;	/* what add_special puts around the text */
	tok_ids eos;		/* the ids that end a generation */

	/* llama2.c */
	float *score;		/* [n_vocab] */
	tok_map l2c_vocab;	/* piece → the lowest id with it */
	int l2c_space;		/* the id of " ", or -1 */

	/* Scratch for encode and decode. */
	tok_buf norm_buf;
	tok_segs segs, nsegs;
	tok_pieces pa, pb;
};

/* Reads a tokenizer.json held in memory into t (allocated, zeroed and with
 * name set by the caller); name heads the messages. */
int tok_hf_read(tfm_tokenizer *t, const char *json, size_t len, tfm_error *e);
/* Reads the model folder's configuration files (each optional) and settles
 * BOS, EOS and what add_special adds. */
int tok_hf_config(tfm_tokenizer *t, const char *dir, tfm_error *e);
/* The same from the texts of tokenizer_config.json, generation_config.json
 * and config.json (each NULL when there is no such file); path[i] names
 * text[i] in messages. */
int tok_hf_config_text(tfm_tokenizer *t, const char *const path[3], const char *const text[3],
                       const size_t len[3], tfm_error *e);
/* The EOS rule without configuration: the special added tokens named in
 * tok_default_eos. */
int tok_default_eos_ids(tfm_tokenizer *t, tfm_error *e);
int tok_hf_encode(tfm_tokenizer *t, const char *text, size_t len, tok_ids *out, tfm_error *e);
int tok_hf_decode(tfm_tokenizer *t, const int *ids, size_t n, int flags, tok_buf *out,
                  tfm_error *e);

int tok_l2c_read(tfm_tokenizer *t, const unsigned char *data, size_t len, tfm_error *e);
int tok_l2c_encode(tfm_tokenizer *t, const char *text, size_t len, tok_ids *out, tfm_error *e);
int tok_l2c_decode(tfm_tokenizer *t, const int *ids, size_t n, int flags, tok_buf *out,
                   tfm_error *e);

/* The largest id a file may give (the tables are indexed by id). */
#define TOK_MAX_ID ((1 << 22) - 1)

/* Sets id's token string (grows the tables); 0 or -1. */
int tok_set_piece(tfm_tokenizer *t, int id, const char *s, size_t len);
/* The id of a token string: an added token, else the vocabulary; or -1. */
int tok_token_id(const tfm_tokenizer *t, const char *s, size_t len);

/* Reads a whole file into *data (malloc'ed, NUL after the end); on failure
 * *missing tells whether the file does not exist. */
int tok_read_file(const char *path, char **data, size_t *len, int *missing, tfm_error *e);

/* Opens a tokenizer from memory: a tokenizer.json (first non-blank byte
 * '{') or a llama2.c tokenizer.bin; name heads the messages. */
int tok_open_memory(tfm_tokenizer **t, const char *data, size_t len, const char *name,
                    tfm_error *e);

#endif
