# tfmc: one non-recursive Makefile.  Objects go to build/, dependencies are
# tracked with -MMD -MP, and V=1 shows full command lines.
#
#   make             build ./tfmc
#   make test        build and run the CUnit suites
#   make check-asan  the suites under AddressSanitizer and UBSan
#   make fuzz        build the fuzz targets (clang, libFuzzer)
#   make bench       the speed of the generated code against the machine, of
#                    training beside PyTorch, of the tokenizers and of the
#                    training kernels (bench/)
#   make bench-peers tfmc beside llama.cpp on the same GGUF files (fetches
#                    llama.cpp's CPU build from npm once)
#   make regen       regenerate golden files (needs Debian's python3-numpy)
#   make study       the design rules measured by tfmc compare (hours; see below)
#   make clean

MAKEFLAGS += --no-builtin-rules
.SUFFIXES:

CC      ?= cc
BASE_CFLAGS = -std=c11 -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE
CFLAGS  ?= -O2 -g
override CFLAGS += $(BASE_CFLAGS)
KERNEL_CFLAGS ?= $(CFLAGS)
CPPFLAGS += $(addprefix -I,$(SRC_DIRS)) -Ibuild -MMD -MP
LDLIBS  = -lpcre2-8 -lutf8proc -lcjson -lpthread -lm

# The Debian packages the build needs, checked (and as root installed)
# before anything else, so that the libtcc test below sees the result.
ifeq ($(filter clean,$(MAKECMDGOALS)),)
ifneq ($(shell sh tools/deps.sh 1>&2; echo $$?),0)
$(error missing packages: run the line above)
endif
endif

# libtcc is optional: without it `tfmc run` compiles with the system cc
# into a cache instead of in process.  NO_LIBTCC=1 builds without it.
ifeq ($(NO_LIBTCC),)
ifneq ($(wildcard /usr/include/libtcc.h),)
CPPFLAGS += -DTFM_HAVE_LIBTCC
LDLIBS   := -ltcc -ldl $(LDLIBS)
endif
endif
B       ?= build
# The source folders, one per stage of the pipeline (see the README's map).
SRC_DIRS = compiler $(wildcard compiler/*/) runtime $(wildcard runtime/*/)

ifeq ($(V),1)
Q =
else
Q = @
endif

COMPILER_SRC = $(wildcard compiler/*.c compiler/*/*.c)
# The kernels (kernels.c, matmul.c, and the training's gemm.c and train.c) are built
# once per instruction set, with its own -m flags; the rest of the tree is
# built for the baseline x86-64, so it runs anywhere.
KERNEL_SRC   = $(addprefix runtime/kernels/,kernels.c matmul.c matmul_i8.c gemm.c train.c)
RUNTIME_SRC  = $(filter-out $(KERNEL_SRC),$(wildcard runtime/*.c runtime/*/*.c))
KERNEL_ISAS  = scalar avx2 avx512
KERNEL_FLAGS_scalar =
KERNEL_FLAGS_avx2   = -mavx2 -mfma -mf16c
KERNEL_FLAGS_avx512 = -mavx512f -mavx512bw -mavx512vl -mfma -mf16c
TEST_SRC     = $(wildcard tests/*.c)
GEN_SRC      = $(B)/lex.c $(B)/parse.c

COMPILER_OBJ = $(COMPILER_SRC:%.c=$(B)/%.o) $(B)/lex.o $(B)/parse.o
LIB_OBJ      = $(filter-out $(B)/compiler/main.o,$(COMPILER_OBJ))
KERNEL_OBJ   = $(foreach f,$(KERNEL_SRC:%.c=$(B)/%),$(KERNEL_ISAS:%=$(f)_%.o))
RUNTIME_OBJ  = $(RUNTIME_SRC:%.c=$(B)/%.o) $(KERNEL_OBJ)
TEST_OBJ     = $(TEST_SRC:%.c=$(B)/%.o)

all: tfmc

$(B)/.deps: tools/deps.sh
	$(Q)sh tools/deps.sh
	$(Q)mkdir -p $(B) && touch $@

tfmc: $(COMPILER_OBJ) $(B)/libtfmrt.a
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $(COMPILER_OBJ) $(B)/libtfmrt.a $(LDLIBS)

$(B)/libtfmrt.a: $(RUNTIME_OBJ)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(B)/%.o: %.c | $(B)/.deps
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# One pattern rule per instruction set: build/runtime/kernels/F_ISA.o from F.c.
define KERNEL_RULE
$(B)/runtime/kernels/%_$(1).o: runtime/kernels/%.c | $(B)/.deps
	@mkdir -p $$(dir $$@)
	@echo "  CC      $$< ($(1))"
	$(Q)$$(CC) $$(CPPFLAGS) $$(KERNEL_CFLAGS) $$(KERNEL_FLAGS_$(1)) -DTFM_ISA=$(1) -c -o $$@ $$<
endef
$(foreach i,$(KERNEL_ISAS),$(eval $(call KERNEL_RULE,$(i))))

$(B)/lex.o: $(B)/lex.c
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/parse.o: $(B)/parse.c
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-unused-variable -c -o $@ $<

# re2c without dates or versions, so the output is reproducible.
$(B)/lex.c: compiler/front/lex.re $(B)/parse.c | $(B)/.deps
	@echo "  RE2C    $<"
	$(Q)re2c -W --no-generation-date --no-version -o $@ $<

$(B)/parse.c: compiler/front/parse.y | $(B)/.deps
	@echo "  LEMON   $<"
	$(Q)mkdir -p $(B) && cp compiler/front/parse.y $(B)/parse.y
	$(Q)lemon -q -T/usr/share/lemon/lempar.c -d$(B) $(B)/parse.y

$(COMPILER_OBJ): $(B)/parse.c

$(B)/tfmc-test: $(TEST_OBJ) $(LIB_OBJ) $(B)/libtfmrt.a
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -rdynamic -o $@ $(TEST_OBJ) $(LIB_OBJ) -Wl,--whole-archive $(B)/libtfmrt.a \
		-Wl,--no-whole-archive -lcunit -ldl $(LDLIBS)

test: tfmc $(B)/tfmc-test
	$(Q)$(B)/tfmc-test

# The suites under the sanitizers.  The tests also run ./tfmc as a command;
# that one stays the plain build (the sanitized tfmc-test covers the code
# in process), so this target never leaves a sanitized ./tfmc behind.
check-asan: tfmc
	$(MAKE) B=build-asan CC=gcc CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" LDFLAGS="-fsanitize=address,undefined" build-asan/tfmc-test
	build-asan/tfmc-test

# The kernels are not what the fuzzers feed (check-asan runs them under the
# sanitizers), and clang takes minutes over their sanitized inlined tiles.
# One target per reader of outside input: fuzz/fuzz_NAME.c, seeds in
# fuzz/seeds-NAME/.
FUZZERS = spec safetensors tokenizer encode config index llama2c data gguf
fuzz: | $(B)/.deps
	$(MAKE) B=build-fuzz CC=clang CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined" \
		KERNEL_CFLAGS="-O1 -g $(BASE_CFLAGS)" $(FUZZERS:%=build-fuzz/fuzz-%)

# (-MMD makes each fuzzer depend on its headers too: only sources and objects
# go to the compiler.)
build-fuzz/fuzz-%: fuzz/fuzz_%.c $(LIB_OBJ) $(B)/libtfmrt.a
	$(CC) $(CPPFLAGS) $(CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $(filter %.c %.o %.a,$^) $(LDLIBS)

regen:
	/usr/bin/python3 tests/reference/make_golden.py

checkpoints:
	/usr/bin/python3 tests/reference/make_checkpoints.py

clean:
	rm -rf build build-asan build-fuzz tfmc

.PHONY: all test check-asan fuzz regen clean
-include $(shell find $(B) -name '*.d' 2>/dev/null)

# make bench: the speed of the generated code against the machine's limits
# (bench/bench.c), run from the top of the tree; BENCH_ARGS passes options
# (--json, --runs N, --no-jit, --no-train, SPEC...).  Without a SPEC it ends
# with training: `tfmc train` beside PyTorch (bench/torch_train.py, Debian's
# python3-torch, OpenBLAS from tools/openblas.sh); `make bench-train` runs
# that part alone.  The kernels of the machine figures
# get their own -m flags, and run only where the CPU has them.
BENCH_SRC   = bench/bench.c bench/machine.c
BENCH_ISAS  = avx2 avx512
BENCH_FLAGS_avx2   = -mavx2 -mfma
BENCH_FLAGS_avx512 = -mavx512f -mfma
BENCH_OBJ   = $(BENCH_SRC:%.c=$(B)/%.o) $(BENCH_ISAS:%=$(B)/bench/machine_%.o)

$(BENCH_ISAS:%=$(B)/bench/machine_%.o): $(B)/bench/machine_%.o: bench/machine_%.c | $(B)/.deps
	@mkdir -p $(dir $@)
	@echo "  CC      $< ($*)"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(BENCH_FLAGS_$*) -c -o $@ $<

$(B)/tfmc-bench: $(BENCH_OBJ)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $(BENCH_OBJ) -lpthread -lm

# The tokenizers' speed (bench/bench_tokenizer.c), after the models unless
# BENCH_ARGS asks for JSON; `make bench-tokenizer` runs it alone.
$(B)/tfmc-bench-tokenizer: $(B)/bench/bench_tokenizer.o $(B)/libtfmrt.a
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The training kernels' speed (bench/bench_kernels.c: the gemm against the
# FMA peak), after the tokenizers unless BENCH_ARGS asks for JSON;
# `make bench-kernels` runs it alone.
$(B)/tfmc-bench-kernels: $(B)/bench/bench_kernels.o $(B)/bench/machine.o \
		$(BENCH_ISAS:%=$(B)/bench/machine_%.o) $(B)/libtfmrt.a
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The decode kernels' speed (bench/bench_decode.c: each weight format's
# products over s110's matrices, and attention at long contexts, against a
# plain read of the same bytes), after the training kernels unless
# BENCH_ARGS asks for JSON; `make bench-decode` runs it alone.
$(B)/tfmc-bench-decode: $(B)/bench/bench_decode.o $(B)/bench/machine.o \
		$(BENCH_ISAS:%=$(B)/bench/machine_%.o) $(B)/libtfmrt.a
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# make bench-peers: tfmc and llama.cpp side by side on the same GGUF files
# (bench/peers.c).  llama.cpp is node-llama-cpp's CPU build from the npm
# registry, fetched once into PEERS_CACHE (tools/llama_cpp.sh, which also
# builds bench/peer_llama.c against it); not part of make test.
# PEERS_ARGS passes options (--runs N, --threads 1,2, --formats q8_0,q4_K,
# SPEC...).
PEERS_CACHE ?= $(HOME)/.cache/tfmc/llama.cpp
$(B)/tfmc-bench-peers: $(B)/bench/peers.o $(B)/bench/machine.o $(BENCH_ISAS:%=$(B)/bench/machine_%.o)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lpthread -lm

bench-peers: tfmc $(B)/tfmc-bench-peers
	$(Q)sh tools/llama_cpp.sh $(PEERS_CACHE)
	$(Q)$(B)/tfmc-bench-peers --peer $(PEERS_CACHE) $(PEERS_ARGS)

bench: tfmc $(B)/tfmc-bench $(B)/tfmc-bench-tokenizer $(B)/tfmc-bench-kernels $(B)/tfmc-bench-decode
	$(Q)$(B)/tfmc-bench $(BENCH_ARGS)
	$(if $(findstring --json,$(BENCH_ARGS)),,$(Q)$(B)/tfmc-bench-tokenizer)
	$(if $(findstring --json,$(BENCH_ARGS)),,$(Q)$(B)/tfmc-bench-kernels)
	$(if $(findstring --json,$(BENCH_ARGS)),,$(Q)$(B)/tfmc-bench-decode)

bench-kernels: $(B)/tfmc-bench-kernels
	$(Q)$(B)/tfmc-bench-kernels

bench-decode: $(B)/tfmc-bench-decode
	$(Q)$(B)/tfmc-bench-decode

bench-tokenizer: $(B)/tfmc-bench-tokenizer
	$(Q)$(B)/tfmc-bench-tokenizer

bench-train: tfmc $(B)/tfmc-bench
	$(Q)$(B)/tfmc-bench --train-only $(BENCH_ARGS)

.PHONY: bench bench-tokenizer bench-train bench-kernels bench-decode bench-peers

# make study: the design rules measured (README, Studies).  Each group is a
# file of specs/ablations/ trained by tfmc compare on Debian's fortunes
# (tools/study_corpus.sh: the text, its train and validation split) with a
# 4096-id tokenizer trained on the training part; the tables, CSV logs and
# plots go to docs/study/GROUP/.  Not part of make test: it takes hours.
#   make study STUDY=norm           one group (or several, space-separated)
#   make study-smoke                every group for 5 steps, one seed, small
#                                   windows, into build/study/smoke/
#   STUDY_STEPS, STUDY_SEEDS, STUDY_BATCH, STUDY_SEQ, STUDY_LR, STUDY_OUT
#   override the budget; STUDY_ARGS adds options of tfmc compare.
# STUDY_LR is the best of 1e-3, 3e-3, 1e-2, 3e-2 and 1e-1 on 60 short steps;
# the stability group runs at STUDY_LR_stability, where base's loss spikes
# (specs/ablations/stability.tfm says how it was found).
STUDY_GROUPS = norm activation block position sine_scaled attention ffn_ratio aspect dropout weight_decay stability
STUDY       ?= $(STUDY_GROUPS)
STUDY_STEPS ?= 200
STUDY_SEEDS ?= 3
STUDY_BATCH ?= 16
STUDY_SEQ   ?= 256
STUDY_LR    ?= 3e-3
STUDY_LR_stability ?= 1e-1
STUDY_OUT   ?= docs/study
STUDY_DIR    = $(B)/study
STUDY_VAL   ?= $(STUDY_DIR)/val.txt
STUDY_VOCAB  = 4096
# The time estimate: measured on this machine's two cores with little else
# running (base.tfm, 16 x 256 windows): 125 us per training token (8,100
# tokens/s), 16 us per byte of validation text per evaluation (4 s for
# val.txt), 2 s to compile a model and read the data.  A test suite sharing
# the cores doubles it.
STUDY_US_PER_TOKEN    = 125
STUDY_US_PER_VAL_BYTE = 16

$(STUDY_DIR)/train.txt $(STUDY_DIR)/val.txt &: tools/study_corpus.sh | $(B)/.deps
	$(Q)sh tools/study_corpus.sh $(STUDY_DIR)

$(STUDY_DIR)/tokenizer.json: $(STUDY_DIR)/train.txt tfmc
	$(Q)./tfmc tokenize --train $(STUDY_DIR)/train.txt --vocab $(STUDY_VOCAB) -o $@

# The smoke run's validation text: the first 16 KB of val.txt, so that its
# evaluations take a moment.
$(STUDY_DIR)/val_smoke.txt: $(STUDY_DIR)/val.txt
	$(Q)head -c 16384 $< > $@

study: tfmc $(STUDY_DIR)/tokenizer.json $(STUDY_VAL)
	$(Q)every=$$(( $(STUDY_STEPS) / 5 )); [ $$every -ge 1 ] || every=1; \
	runs=0; for g in $(STUDY); do \
		[ -f specs/ablations/$$g.tfm ] || { echo "make study: no group $$g (specs/ablations/$$g.tfm); the groups: $(STUDY_GROUPS)" >&2; exit 2; }; \
		runs=$$(( runs + $$(grep -c '^model ' specs/ablations/$$g.tfm) * $(STUDY_SEEDS) )); done; \
	per=$$(( $(STUDY_STEPS) * $(STUDY_BATCH) * $(STUDY_SEQ) * $(STUDY_US_PER_TOKEN) / 1000000 \
		+ ($(STUDY_STEPS) + every - 1) / every * $$(wc -c < $(STUDY_VAL)) * $(STUDY_US_PER_VAL_BYTE) / 1000000 + 2 )); \
	echo "make study: $(STUDY): $$runs runs of $(STUDY_STEPS) steps of $(STUDY_BATCH) x $(STUDY_SEQ) tokens, about $$per s each: expect $$(( runs * per / 3600 )) h $$(( runs * per % 3600 / 60 )) min"; \
	st=0; for g in $(STUDY); do \
		lr=$(STUDY_LR); [ $$g = stability ] && lr=$(STUDY_LR_stability); \
		mkdir -p $(STUDY_OUT)/$$g; \
		set -- ./tfmc compare specs/ablations/$$g.tfm --data $(STUDY_DIR)/train.txt --val $(STUDY_VAL) \
			--tokenizer $(STUDY_DIR)/tokenizer.json --steps $(STUDY_STEPS) --seeds $(STUDY_SEEDS) \
			--batch $(STUDY_BATCH) --seq $(STUDY_SEQ) --lr $$lr --eval-every $$every $(STUDY_ARGS) \
			--out $(STUDY_OUT)/$$g; \
		echo "make study: $$g: $$(grep -c '^model ' specs/ablations/$$g.tfm) models x $(STUDY_SEEDS) seeds, into $(STUDY_OUT)/$$g/"; \
		{ echo "$$*"; echo; } > $(STUDY_OUT)/$$g/table.txt; \
		"$$@" >> $(STUDY_OUT)/$$g/table.txt || st=1; \
		cat $(STUDY_OUT)/$$g/table.txt; \
	done; exit $$st

study-smoke: tfmc $(STUDY_DIR)/val_smoke.txt
	$(Q)$(MAKE) --no-print-directory study STUDY_STEPS=5 STUDY_SEEDS=1 STUDY_BATCH=2 STUDY_SEQ=32 \
		STUDY_VAL=$(STUDY_DIR)/val_smoke.txt STUDY_OUT=$(STUDY_DIR)/smoke

.PHONY: study study-smoke
