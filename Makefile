# smppgw -- the only entry point: build, test, run, bench, fuzz.
# `make test` and `make run` work on a fresh Debian 12 machine: the `deps`
# step installs any missing Debian package (it needs root, as CI has).

CC       ?= cc
BUILD    := build
PKGS     := luajit libuv libssl libcrypto sqlite3 hiredis
# -Werror in CI (CI=true) and whenever WERROR=1; plain warnings otherwise.
WERROR   ?= $(if $(CI),1,)
CFLAGS   ?= -O2 -g
WARN     := -std=c99 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-unused-parameter \
            $(if $(filter 1,$(WERROR)),-Werror,)
CPPFLAGS += -D_POSIX_C_SOURCE=200809L -Icore -I$(BUILD)/gen
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))
LUAJIT_CFLAGS = $(shell pkg-config --cflags luajit)
LUAJIT_LIBS   = $(shell pkg-config --libs luajit)

# Debian packages the build and the tests need (README.md, "Dependencies").
DEB_PKGS := gcc make pkg-config luajit libluajit-5.1-dev libuv1-dev libhttp-parser-dev libssl-dev lua-cjson \
            lua-busted lua-socket libsqlite3-dev libhiredis-dev redis-server
# Only `make fuzz` needs clang's libFuzzer; only `make test` a browser (the
# dashboard spec drives headless Chromium).
FUZZ_PKGS := clang libclang-rt-14-dev
TEST_PKGS := chromium
# Only the profiles of `make bench` (core/bench/hot.sh: HOT_PERF=1, HOT_STRACE=1).
BENCH_PKGS := linux-perf strace

ifeq ($(V),1)
Q :=
else
Q := @
endif

# The codec alone (pure C), the engine (sans-I/O session + libuv transport),
# and the Lua side on top: the codec as Lua tables (lbridge.c, the
# smpp.codec module) and the runtime (rt_*.c, the smpp.core module).
CODEC_SRC  := core/pdu.c core/pdu_tables.c core/dlr.c core/msgid.c
ENGINE_SRC := core/sess.c core/sess_out.c core/sess_group.c core/sess_text.c core/win.c core/tb.c core/log.c core/net.c \
              core/net_listen.c core/net_connect.c core/tls.c
LOAD_SRC   := core/load.c core/load_opts.c core/load_hist.c core/load_dlr.c
BRIDGE_SRC := core/lbridge.c core/lbridge_check.c core/ldlr.c
LUA_SRC    := core/rt.c core/rt_task.c core/rt_budget.c core/rt_heap.c core/rt_watchdog.c core/rt_timer.c \
              core/rt_sess.c core/rt_sess_answer.c core/rt_send.c core/rt_stats.c core/rt_trace.c core/rt_http.c core/rt_serve.c core/rt_store.c core/rt_acct.c \
              core/rt_outbox.c core/rt_gw.c core/rt_gw_store.c core/rt_gw_answer.c core/rt_fwd.c core/rt_fwd_unrec.c core/rt_gw_decide.c core/rt_gw_held.c core/rt_gw_rcpt.c core/rt_gw_rcpt_hold.c core/rt_gw_origin.c core/rt_gw_wait.c core/rt_block.c core/rt_route.c core/http.c core/http_head.c core/http_auth.c \
              core/http_client.c core/http_nets.c core/lcrypto.c core/lsys.c core/lstring.c core/rt_workers.c core/rt_redis.c core/rt_cluster.c core/redis.c \
              core/rt_gwr.c core/rt_gwr_script.c core/rt_gwr_queue.c core/rt_gwr_fwd.c core/rt_gwr_answer.c core/rt_gwr_decide.c core/rt_gwr_move.c core/rt_gwr_rcpt.c core/rt_gwr_rcpt_sweep.c core/rt_gwr_rx.c
# The embedded store (pure C on SQLite) and its Lua binding.
STORE_SRC  := core/store.c core/store_open.c core/store_msg.c core/store_put.c core/store_queue.c core/store_fwd.c \
              core/store_fwd_key.c \
              core/store_fwd_park.c core/store_lines.c core/store_sticky.c core/store_mem.c
STORE_OBJ  := $(STORE_SRC:core/%.c=$(BUILD)/%.o)
# what the store uses from the codec's objects (ids made from keys, a
# receipt's stat word): linked beside it where the codec is not
STORE_USES := $(BUILD)/msgid.o $(BUILD)/dlr.o
LSTORE_OBJ := $(BUILD)/lstore.o $(BUILD)/lstore_msg.o $(STORE_OBJ)
CODEC_OBJ  := $(CODEC_SRC:core/%.c=$(BUILD)/%.o)
ENGINE_OBJ := $(ENGINE_SRC:core/%.c=$(BUILD)/%.o)
BRIDGE_OBJ := $(BRIDGE_SRC:core/%.c=$(BUILD)/%.o)
LUA_OBJ    := $(LUA_SRC:core/%.c=$(BUILD)/%.o) $(BRIDGE_OBJ)
SESS_TEST_SRC := core/sess.c core/sess_out.c core/sess_group.c core/sess_text.c core/win.c core/tb.c

LUA_MODULE := $(BUILD)/smpp/core.so
STORE_MODULE := $(BUILD)/smpp/store_sqlite.so
CODEC_MODULE := $(BUILD)/smpp/codec.so
BIN        := $(BUILD)/smppgw
TEST_BINS  := $(BUILD)/test_pdu $(BUILD)/test_sess $(BUILD)/test_store $(BUILD)/test_log $(BUILD)/test_dlr \
              $(BUILD)/test_http $(BUILD)/test_loop
BENCH_BIN  := $(BUILD)/bench_pdu
BENCH_STORE := $(BUILD)/bench_store
EXAMPLES   := $(BUILD)/example_server $(BUILD)/example_client

.PHONY: all deps deps-fuzz deps-test deps-bench test valgrind asan-suite test-c test-lua run clean bench fuzz asan corpus docs \
        bench-workers bench-cluster bench-store-redis bench-callgrind cluster

all: deps $(BIN) $(LUA_MODULE) $(CODEC_MODULE) $(STORE_MODULE) $(BUILD)/libsmppcodec.a $(BUILD)/libsmppgw.a $(EXAMPLES)

# -- Dependencies -------------------------------------------------------------
# Silent when everything is installed; otherwise prints the apt command it runs.
define install_missing
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "apt-get install -y$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "deps: run as root, or install:$$missing" >&2; exit 1; fi; \
	  (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
endef

deps:
	$(call install_missing,$(DEB_PKGS))

deps-fuzz: deps
	$(call install_missing,$(FUZZ_PKGS))

deps-test: deps
	$(call install_missing,$(TEST_PKGS))

deps-bench: deps
	$(call install_missing,$(BENCH_PKGS))

# -- Build --------------------------------------------------------------------

# Generated: the session and HTTP defaults, from the schema of lua/smpp/config.lua.
GEN_HDRS := $(BUILD)/gen/sess_defaults.h $(BUILD)/gen/http_defaults.h
$(BUILD)/gen/sess_defaults.h: lua/smpp/config.lua lua/smpp/address.lua core/gen/defaults.lua | deps
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  GEN     $@",true)
	$(Q)LUA_PATH="lua/?.lua;;" luajit core/gen/defaults.lua session SESS_DEFAULT all > $@.tmp && mv $@.tmp $@
$(BUILD)/gen/http_defaults.h: lua/smpp/config.lua lua/smpp/address.lua core/gen/defaults.lua | deps
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  GEN     $@",true)
	$(Q)LUA_PATH="lua/?.lua;;" luajit core/gen/defaults.lua http HTTP_DEFAULT > $@.tmp && mv $@.tmp $@

$(BUILD)/%.o: core/%.c | deps $(GEN_HDRS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<",true)
	$(Q)$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -fPIC $(PKG_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libsmppcodec.a: $(CODEC_OBJ)
	$(Q)ar rcs $@ $^

# The codec and the session engine, for C programs without Lua.
$(BUILD)/libsmppgw.a: $(CODEC_OBJ) $(ENGINE_OBJ)
	$(Q)ar rcs $@ $^

# The Lua C modules that `require "smpp.core"` (the runtime) and
# `require "smpp.codec"` (the codec alone: no libuv, OpenSSL or
# http-parser) load from plain luajit/busted.
$(LUA_MODULE): $(LUA_OBJ) $(LSTORE_OBJ) $(ENGINE_OBJ) $(CODEC_OBJ)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@",true)
	$(Q)$(CC) -shared -o $@ $^ $(shell pkg-config --libs libuv libssl libcrypto hiredis) -lhttp_parser -lsqlite3 -lm

# `require "smpp.store_sqlite"` from plain luajit/busted; smppgw links it in.
$(STORE_MODULE): $(LSTORE_OBJ) $(STORE_USES)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@",true)
	$(Q)$(CC) -shared -o $@ $^ -lsqlite3 -lm

$(CODEC_MODULE): $(BRIDGE_OBJ) $(CODEC_OBJ)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@",true)
	$(Q)$(CC) -shared -o $@ $^

# The program; -Wl,-E so that C modules loaded by scripts see its symbols.
$(BIN): $(BUILD)/main.o $(LOAD_SRC:core/%.c=$(BUILD)/%.o) $(LUA_OBJ) $(LSTORE_OBJ) $(ENGINE_OBJ) $(CODEC_OBJ)
	@$(if $(Q),echo "  LD      $@",true)
	$(Q)$(CC) -o $@ $^ -Wl,-E $(PKG_LIBS) -lhttp_parser -lm

$(BUILD)/example_%: $(BUILD)/examples/%.o $(ENGINE_OBJ) $(CODEC_OBJ)
	$(Q)$(CC) -o $@ $^ $(PKG_LIBS)

$(BUILD)/test_pdu: $(BUILD)/test/test_pdu.o $(CODEC_OBJ)
	$(Q)$(CC) -o $@ $^

$(BUILD)/test_sess: $(BUILD)/test/test_sess.o $(SESS_TEST_SRC:core/%.c=$(BUILD)/%.o) $(CODEC_OBJ)
	$(Q)$(CC) -o $@ $^

$(BUILD)/test_store: $(BUILD)/test/test_store.o $(STORE_OBJ) $(STORE_USES)
	$(Q)$(CC) -o $@ $^ -lsqlite3 -lm

$(BUILD)/test_log: $(BUILD)/test/test_log.o $(BUILD)/log.o
	$(Q)$(CC) -o $@ $^

$(BUILD)/test_dlr: $(BUILD)/test/test_dlr.o $(BUILD)/dlr.o $(BUILD)/msgid.o
	$(Q)$(CC) -o $@ $^

$(BUILD)/test_loop: $(BUILD)/test/test_loop.o
	$(Q)$(CC) -o $@ $^ $(PKG_LIBS)

$(BUILD)/test_http: $(BUILD)/test/test_http.o $(BUILD)/http_head.o $(BUILD)/http_nets.o $(BUILD)/http_auth.o
	$(Q)$(CC) -o $@ $^ -lm

$(BENCH_BIN): $(BUILD)/bench/bench_pdu.o $(CODEC_OBJ)
	$(Q)$(CC) -o $@ $^

$(BENCH_STORE): $(BUILD)/bench/bench_store.o $(STORE_OBJ) $(STORE_USES)
	$(Q)$(CC) -o $@ $^ -lsqlite3 -lm

$(BUILD)/test/%.o: core/test/%.c | deps $(GEN_HDRS)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/examples/%.o: core/examples/%.c | deps $(GEN_HDRS)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/bench/%.o: core/bench/%.c | deps $(GEN_HDRS)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -MMD -MP -c $< -o $@

.SECONDARY:
-include $(wildcard $(BUILD)/*.d $(BUILD)/*/*.d)

# -- Test ---------------------------------------------------------------------
# Every suite runs; spec/summary.sh adds their counts into the one closing
# line "N passed, N failed" and fails if any suite failed.

LUA_ENV := LUA_PATH="lua/?.lua;lua/?/init.lua;spec/?.lua;;" LUA_CPATH="$(BUILD)/?.so;;" \
           SMPPGW_BIN=$(abspath $(BIN))

# The busted suite runs through spec/run.sh: spec files in parallel
# (SPEC_JOBS: TEST_JOBS below), one TAP stream, a failure for any process or
# temporary file a spec left behind.
# Spec files at once: most of a spec's time is waiting for servers it
# started, so 4 per core keep the cores busy (asan-suite runs 4: its
# builds are CPU-bound).
TEST_JOBS ?= $(shell echo $$(( $$(nproc) * 4 )))

test: deps-test all $(TEST_BINS)
	@rm -f $(BUILD)/results; mkdir -p $(BUILD)
	@for t in $(TEST_BINS); do $$t; echo "c $$?" >> $(BUILD)/results; done | tee $(BUILD)/test-c.out
	@{ $(LUA_ENV) SPEC_JOBS=$(TEST_JOBS) sh spec/run.sh $(BUILD)/spec; echo "lua $$?" >> $(BUILD)/results; } | tee $(BUILD)/test-lua.out
	@sh spec/summary.sh $(BUILD)

test-c: $(TEST_BINS)
	@for t in $(TEST_BINS); do $$t || exit 1; done

test-lua: all
	$(LUA_ENV) luajit /usr/bin/busted spec

# -- Docs ---------------------------------------------------------------------

# docs/operations.md's table of configuration keys, rewritten from the schema
# of lua/smpp/config.lua; spec/docs_spec.lua fails while it is out of date,
# and checks that every relative link in README.md and docs/ resolves.
docs: deps
	LUA_PATH="lua/?.lua;;" luajit core/gen/config_keys.lua docs/operations.md

# -- Run ----------------------------------------------------------------------

run: all
	$(BIN) run conf/smppgw.lua

# A local cluster to try (conf/cluster/run.sh): Redis, the reference SMSC and
# two gateway nodes sharing account limits; Ctrl-C stops it.
cluster: all
	@sh conf/cluster/run.sh

# -- Bench (never part of test) -------------------------------------------------

bench: all $(BENCH_BIN) $(BENCH_STORE)
	@echo "== C codec ($(BENCH_BIN))"
	@$(BENCH_BIN)
	@echo "== Store ($(BENCH_STORE) and core/bench/bench_store.lua)"
	@$(BENCH_STORE) $(BUILD)/bench-store
	@$(LUA_ENV) luajit core/bench/bench_store.lua $(BUILD)/bench-store
	@echo "== Lua table conversion (core/bench/bench_lua.lua)"
	@$(LUA_ENV) luajit core/bench/bench_lua.lua
	@sh core/bench/sessions.sh
	@sh core/bench/hot.sh
	@sh core/bench/smsc.sh
	@sh core/bench/runstore.sh
	@sh core/bench/gateway.sh
	@sh core/bench/receipts.sh
	@sh core/bench/tools.sh
	@sh core/bench/binds.sh
	@sh core/bench/workers.sh
	@sh core/bench/cluster.sh
	@sh core/bench/store_redis.sh

# The workers' and the cluster's benches alone (docs/cluster.md, docs/benchmarks.md).
bench-workers: all
	@sh core/bench/workers.sh

bench-cluster: all
	@sh core/bench/cluster.sh

bench-store-redis: all
	@sh core/bench/store_redis.sh

# Instructions a gateway message costs (valgrind's callgrind; compares builds).
bench-callgrind: all
	@sh core/bench/gateway_cg.sh

# -- Sanitizers and fuzzing ------------------------------------------------------

ASAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all

asan: deps corpus $(GEN_HDRS)
	@mkdir -p $(BUILD)/asan
	$(Q)$(CC) $(CPPFLAGS) $(WARN) $(ASAN_FLAGS) -o $(BUILD)/asan/test_pdu \
	  core/test/test_pdu.c $(CODEC_SRC)
	$(Q)$(CC) $(CPPFLAGS) $(WARN) $(ASAN_FLAGS) -o $(BUILD)/asan/test_sess \
	  core/test/test_sess.c $(SESS_TEST_SRC) $(CODEC_SRC)
	$(Q)$(CC) $(CPPFLAGS) $(WARN) $(ASAN_FLAGS) -o $(BUILD)/asan/test_store \
	  core/test/test_store.c $(STORE_SRC) core/msgid.c core/dlr.c -lsqlite3 -lm
	$(Q)$(CC) $(CPPFLAGS) $(WARN) $(ASAN_FLAGS) -o $(BUILD)/asan/test_log core/test/test_log.c core/log.c
	$(Q)$(CC) $(CPPFLAGS) $(WARN) $(ASAN_FLAGS) -o $(BUILD)/asan/test_dlr core/test/test_dlr.c core/dlr.c core/msgid.c
	$(Q)$(CC) $(CPPFLAGS) $(WARN) $(ASAN_FLAGS) $(PKG_CFLAGS) -o $(BUILD)/asan/test_http core/test/test_http.c core/http_head.c core/http_nets.c core/http_auth.c -lm
	$(Q)$(CC) $(CPPFLAGS) $(WARN) $(ASAN_FLAGS) $(PKG_CFLAGS) -o $(BUILD)/asan/test_loop core/test/test_loop.c $(PKG_LIBS)
	$(Q)$(CC) $(CPPFLAGS) $(WARN) $(ASAN_FLAGS) -o $(BUILD)/asan/fuzz_replay \
	  core/fuzz/fuzz_decode.c core/fuzz/replay.c $(CODEC_SRC)
	$(Q)$(CC) $(CPPFLAGS) $(WARN) $(ASAN_FLAGS) -o $(BUILD)/asan/fuzz_sess_replay \
	  core/fuzz/fuzz_sess.c core/fuzz/replay.c $(SESS_TEST_SRC) $(CODEC_SRC)
	$(Q)$(CC) $(CPPFLAGS) $(WARN) $(ASAN_FLAGS) $(LUAJIT_CFLAGS) -o $(BUILD)/asan/fuzz_lbridge_replay \
	  core/fuzz/fuzz_lbridge.c core/fuzz/replay.c $(BRIDGE_SRC) $(CODEC_SRC) $(LUAJIT_LIBS)
	@{ $(BUILD)/asan/test_pdu; $(BUILD)/asan/test_sess; $(BUILD)/asan/test_store; $(BUILD)/asan/test_log; \
	   $(BUILD)/asan/test_dlr; $(BUILD)/asan/test_http; $(BUILD)/asan/test_loop; } > $(BUILD)/asan/out 2>&1; \
	  cat $(BUILD)/asan/out; sh spec/summary.sh --c-only $(BUILD)/asan/out
	$(BUILD)/asan/fuzz_replay $(BUILD)/corpus
	$(BUILD)/asan/fuzz_sess_replay $(BUILD)/corpus
	$(BUILD)/asan/fuzz_lbridge_replay $(BUILD)/corpus

# The whole busted suite against smppgw built with ASan/UBSan (leak check
# at exit included): every report lands in $(BUILD)/asan-suite/reports and
# any report fails the run. The #rss case is left out: ASan's quarantine
# keeps freed memory, so RSS cannot come back to its baseline. Timeouts and
# the few bounds on elapsed time are tripled (SPEC_TIME_SCALE): the
# sanitizers slow the binary down, and speed is not what this run checks.
ASAN_SUITE := $(BUILD)/asan-suite
asan-suite: deps-test all
	@$(MAKE) -s BUILD=$(ASAN_SUITE) CC="$(CC) -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  $(ASAN_SUITE)/smppgw
	@rm -rf $(ASAN_SUITE)/reports; mkdir -p $(ASAN_SUITE)/reports
	@ASAN_OPTIONS=detect_leaks=1:log_path=$(abspath $(ASAN_SUITE))/reports/asan \
	  UBSAN_OPTIONS=print_stacktrace=1:log_path=$(abspath $(ASAN_SUITE))/reports/ubsan \
	  LUA_PATH="lua/?.lua;lua/?/init.lua;spec/?.lua;;" LUA_CPATH="$(BUILD)/?.so;;" \
	  SPEC_JOBS=4 SPEC_TIME_SCALE=3 SMPPGW_BIN=$(abspath $(ASAN_SUITE))/smppgw sh spec/run.sh $(ASAN_SUITE)/spec --exclude-tags=rss \
	  > $(ASAN_SUITE)/out 2>&1; rc=$$?; grep -aE '^not ok' -A6 $(ASAN_SUITE)/out; \
	  p=$$(grep -aE '^ok [0-9]+' $(ASAN_SUITE)/out | grep -acv '# SKIP'); f=$$(grep -acE '^not ok [0-9]+' $(ASAN_SUITE)/out); \
	  r=$$(ls $(ASAN_SUITE)/reports | wc -l); [ "$$r" -eq 0 ] || head -60 $(ASAN_SUITE)/reports/*; \
	  [ "$$rc" -eq 0 ] || [ "$$f" -gt 0 ] || f=$$((f + 1)); f=$$((f + r)); \
	  echo "sanitizer reports: $$r"; echo "$$p passed, $$f failed"; [ "$$f" -eq 0 ]

# The C tests, and the C example server through a client session and a
# clean shutdown, under valgrind: no error and no leak allowed.
VALGRIND := valgrind -q --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=1

valgrind: all $(TEST_BINS)
	@command -v valgrind >/dev/null || $(MAKE) -s deps DEB_PKGS=valgrind
	@for t in $(TEST_BINS); do $(VALGRIND) $$t > $(BUILD)/valgrind.out 2>&1 || { cat $(BUILD)/valgrind.out; exit 1; }; \
	  tail -1 $(BUILD)/valgrind.out; done
	@$(VALGRIND) $(BUILD)/example_server 0 > $(BUILD)/valgrind-server.out 2>&1 & pid=$$!; \
	  for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do \
	    port=$$(sed -n 's/listening on 127.0.0.1://p' $(BUILD)/valgrind-server.out); [ -n "$$port" ] && break; sleep 0.5; done; \
	  $(VALGRIND) $(BUILD)/example_client 127.0.0.1 $$port 50 > $(BUILD)/valgrind-client.out 2>&1; crc=$$?; \
	  kill -INT $$pid; wait $$pid; src=$$?; cat $(BUILD)/valgrind-client.out | tail -1; \
	  if [ $$crc -ne 0 ] || [ $$src -ne 0 ]; then cat $(BUILD)/valgrind-server.out $(BUILD)/valgrind-client.out; exit 1; fi; \
	  echo "valgrind: engine server and client clean"

FUZZ_TIME ?= 60

# Seed corpus: the golden vectors, one file per PDU.
corpus: all
	@$(LUA_ENV) luajit spec/vectors/write_corpus.lua $(BUILD)/corpus

# Three targets, each for FUZZ_TIME seconds: the decoder, the session
# engine fed a hostile byte stream (core/fuzz/fuzz_sess.c), and the Lua
# bridge's PDU tables (core/fuzz/fuzz_lbridge.c: decode, push, check, encode).
fuzz: deps-fuzz corpus $(GEN_HDRS)
	@mkdir -p $(BUILD)/fuzz/corpus $(BUILD)/fuzz/corpus_sess $(BUILD)/fuzz/corpus_lbridge
	$(Q)clang $(CPPFLAGS) -g -O1 -fsanitize=fuzzer,address,undefined -o $(BUILD)/fuzz/fuzz_decode \
	  core/fuzz/fuzz_decode.c $(CODEC_SRC)
	$(Q)clang $(CPPFLAGS) -g -O1 -fsanitize=fuzzer,address,undefined -o $(BUILD)/fuzz/fuzz_sess \
	  core/fuzz/fuzz_sess.c $(SESS_TEST_SRC) $(CODEC_SRC)
	$(Q)clang $(CPPFLAGS) -g -O1 -fsanitize=fuzzer,address,undefined $(LUAJIT_CFLAGS) -o $(BUILD)/fuzz/fuzz_lbridge \
	  core/fuzz/fuzz_lbridge.c $(BRIDGE_SRC) $(CODEC_SRC) $(LUAJIT_LIBS)
	$(BUILD)/fuzz/fuzz_decode -max_total_time=$(FUZZ_TIME) -max_len=70000 \
	  -print_final_stats=1 $(BUILD)/fuzz/corpus $(BUILD)/corpus
	$(BUILD)/fuzz/fuzz_sess -max_total_time=$(FUZZ_TIME) -max_len=8192 \
	  -print_final_stats=1 $(BUILD)/fuzz/corpus_sess $(BUILD)/corpus
	$(BUILD)/fuzz/fuzz_lbridge -max_total_time=$(FUZZ_TIME) -max_len=70000 \
	  -print_final_stats=1 $(BUILD)/fuzz/corpus_lbridge $(BUILD)/corpus

clean:
	rm -rf $(BUILD)
