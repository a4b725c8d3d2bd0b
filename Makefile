# quayside — top-level build.
#
# Everything is discovered by directory, so adding a module, a service, an emulator or a test
# never needs an edit here:
#   libshared/src/*.c            -> build/<variant>/libshared.a
#   services/<svc>/*.c           -> build/<variant>/bin/<svc>        (only when main.c exists)
#   services/<svc>/*.c but main.c -> build/<variant>/libsvc_<svc>.a   (every service directory)
#   tests/emulators/<emu>/*.c    -> build/<variant>/bin/<emu>-emulator (+ tests/emulators/common/*.c)
#   tests/tools/*.c              -> build/<variant>/bin/<tool>        (one binary per file)
#   tests/unit/test_*.c          -> build/<variant>/tests/test_*      (criterion, one per file)
#   tests/integration/test_*.c   -> build/<variant>/tests/itest_*     (criterion, need the stack)
# VARIANT=release (default) or asan (ASan+UBSan).

VARIANT ?= release
B       := build/$(VARIANT)
CC      ?= cc
PKGS    := libmicrohttpd libcurl jansson libzip hiredis yaml-0.1 libcrypto zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
CRIT_LIBS  := $(shell pkg-config --libs criterion 2>/dev/null || echo -lcriterion)

WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral -Wstrict-prototypes -Wmissing-prototypes
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) -Ilibshared/include $(PKG_CFLAGS) -MMD -MP
ifeq ($(VARIANT),asan)
  OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
  LDOPT := -fsanitize=address,undefined
else
  OPT := -O2 -g
  LDOPT :=
endif
CFLAGS_ALL := $(BASE_CFLAGS) $(OPT) $(CFLAGS)

LIB_SRC  := $(wildcard libshared/src/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(B)/obj/%.o)
LIB      := $(B)/libshared.a

# A service directory becomes a binary once it has a main.c; its other modules form
# libsvc_<svc>.a from the start, so a service's logic can be unit-tested before main.c exists.
SERVICES  := $(notdir $(patsubst %/,%,$(dir $(wildcard services/*/main.c))))
SVC_DIRS  := $(sort $(notdir $(patsubst %/,%,$(dir $(wildcard services/*/*.c)))))
EMULATORS := $(notdir $(patsubst %/,%,$(dir $(wildcard tests/emulators/*/main.c))))
TOOLS     := $(notdir $(basename $(wildcard tests/tools/*.c)))
UNIT      := $(notdir $(basename $(wildcard tests/unit/test_*.c)))
ITEST     := $(patsubst test_%,itest_%,$(notdir $(basename $(wildcard tests/integration/test_*.c))))

SVC_BINS  := $(SERVICES:%=$(B)/bin/%)
# Each service's modules except main.c also form a library, so unit tests can test them.
SVC_LIBS  := $(SVC_DIRS:%=$(B)/libsvc_%.a)
EMU_BINS  := $(EMULATORS:%=$(B)/bin/%-emulator)
TOOL_BINS := $(TOOLS:%=$(B)/bin/%)
UNIT_BINS := $(UNIT:%=$(B)/tests/%)
ITEST_BINS:= $(ITEST:%=$(B)/tests/%)

.PHONY: all deps test test-unit test-integration test-e2e asan valgrind run stop bench format lint check-static clean
all: $(LIB) $(SVC_BINS) $(EMU_BINS) $(TOOL_BINS) $(UNIT_BINS) $(ITEST_BINS)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/emulators/common -Iservices -c $< -o $@

.SECONDARY:
# '%' inside secondary expansion would be replaced by the stem; $(PCT) survives.
PCT := %
.SECONDEXPANSION:
$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(B)/libsvc_%.a: $$(patsubst $$(PCT).c,$(B)/obj/$$(PCT).o,$$(filter-out services/$$*/main.c,$$(wildcard services/$$*/*.c)))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# services/<svc>/*.c -> one binary (static pattern rules: a service rule never claims an
# emulator or a tool binary).
$(SVC_BINS): $(B)/bin/%: $$(patsubst $$(PCT).c,$(B)/obj/$$(PCT).o,$$(wildcard services/$$*/*.c)) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDOPT) -o $@ $(filter %.o,$^) $(LIB) $(PKG_LIBS)

EMU_COMMON_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(wildcard tests/emulators/common/*.c))
$(EMU_BINS): $(B)/bin/%-emulator: $$(patsubst $$(PCT).c,$(B)/obj/$$(PCT).o,$$(wildcard tests/emulators/$$*/*.c)) $(EMU_COMMON_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDOPT) -o $@ $(filter %.o,$^) $(LIB) $(PKG_LIBS)

$(TOOL_BINS): $(B)/bin/%: $(B)/obj/tests/tools/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDOPT) -o $@ $< $(LIB) $(PKG_LIBS)

$(UNIT_BINS): $(B)/tests/%: $(B)/obj/tests/unit/%.o $(SVC_LIBS) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDOPT) -o $@ $< $(SVC_LIBS) $(LIB) $(CRIT_LIBS) $(PKG_LIBS)

$(ITEST_BINS): $(B)/tests/itest_%: $(B)/obj/tests/integration/test_%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDOPT) -o $@ $< $(LIB) $(CRIT_LIBS) $(PKG_LIBS)

deps:
	@scripts/deps.sh

# The README's test command: release build, all suites; then the same suites under ASan+UBSan.
test: deps
	@tests/run.sh

test-unit: all
	@tests/run.sh --only unit

asan:
	@tests/run.sh --variant asan

# Unit tests under valgrind memcheck (definite leaks and memory errors fail).
valgrind: all
	@scripts/valgrind.sh $(UNIT_BINS)

run: deps all
	@tests/stack/run-demo.sh

stop:
	@tests/stack/run-demo.sh --stop

bench: deps all
	@tests/bench/run.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

lint:
	@scripts/lint.sh

check-static:
	@scripts/check-static.sh

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
