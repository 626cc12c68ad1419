# softvm: plain `make` builds, `make check` runs every test.
CC ?= cc
CFLAGS ?= -O2 -g
override CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -fno-strict-aliasing -MMD -MP -I.
LDLIBS += -lZydis -llzma -lz -lm -lpthread
# User-mode networking (net/slirp.c) links libslirp (scripts/install-deps.sh installs libslirp-dev).
LDLIBS += $(shell pkg-config --libs slirp 2>/dev/null || echo -lslirp)

BUILD := build
CPU_SRC := $(wildcard cpu/*.c)
CPU_OBJ := $(CPU_SRC:%.c=$(BUILD)/%.o)
CPU_LIB := $(BUILD)/libsoftvm-cpu.a
# Everything above the CPU: the machine, devices, loaders.
VM_SRC := $(wildcard machine/*.c dev/*.c boot/*.c block/*.c)
VM_SRC += $(wildcard net/*.c)
# virtio core, transport and devices.
VM_SRC += $(wildcard virtio/*.c)
VM_OBJ := $(VM_SRC:%.c=$(BUILD)/%.o)
VM_LIB := $(BUILD)/libsoftvm-vm.a

TEST_SRC := $(wildcard tests/cpu/*.c tests/dev/*.c tests/machine/*.c tests/boot/*.c tests/block/*.c)
TEST_SRC += $(wildcard tests/net/*.c)
TEST_SRC += $(wildcard tests/virtio/*.c)
TEST_COMMON := $(filter tests/cpu/native%.c tests/cpu/harness%.c,$(TEST_SRC))
TEST_MAIN := $(filter-out $(TEST_COMMON),$(TEST_SRC))
TEST_COMMON_OBJ := $(TEST_COMMON:%.c=$(BUILD)/%.o) $(patsubst %.S,$(BUILD)/%.S.o,$(wildcard tests/cpu/native*.S))
TEST_BIN := $(TEST_MAIN:%.c=$(BUILD)/%)
# Guest tests boot the default guest (scripts/guest-image.sh) through the softvm binary; each links
# tests/guest/session.c (the console driver) and the CPU library (for CPUID expectations).
GUEST_TEST_SRC := $(filter-out tests/guest/session.c,$(wildcard tests/guest/*.c))
GUEST_TEST_BIN := $(GUEST_TEST_SRC:%.c=$(BUILD)/%)
GUEST_SESSION_OBJ := $(BUILD)/tests/guest/session.o

CLI_SRC := $(wildcard cli/*.c)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
SOFTVM := softvm

BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:%.c=$(BUILD)/%)

DEPS_STAMP := $(BUILD)/.deps

.PHONY: all check deps bench asan clean run guest fuzz
# Keep every object: test objects are intermediate files make would otherwise delete and rebuild.
.SECONDARY:
all: $(SOFTVM) $(CPU_LIB) $(VM_LIB) $(TEST_BIN) $(GUEST_TEST_BIN) $(BENCH_BIN)

deps: $(DEPS_STAMP)
$(DEPS_STAMP): scripts/install-deps.sh
	@mkdir -p $(BUILD)
	@sh scripts/install-deps.sh
	@touch $@

$(BUILD)/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# Archives are built aside and renamed, so a concurrent link never sees a half-written one.
$(CPU_LIB): $(CPU_OBJ)
	@rm -f $@.$$$$ && ar rcs $@.$$$$ $^ && mv $@.$$$$ $@

$(VM_LIB): $(VM_OBJ)
	@rm -f $@.$$$$ && ar rcs $@.$$$$ $^ && mv $@.$$$$ $@

$(SOFTVM): $(CLI_OBJ) $(VM_LIB) $(CPU_LIB)
	$(CC) $(CFLAGS) -o $@ $(filter %.o %.a,$^) $(LDLIBS)

# A test binary tests/cpu/X links tests/cpu/X.S too when it exists (differential-test snippets).
.SECONDEXPANSION:
$(BUILD)/tests/cpu/%: $(BUILD)/tests/cpu/%.o $$(addprefix $(BUILD)/,$$(addsuffix .o,$$(wildcard tests/cpu/$$*.S))) $(TEST_COMMON_OBJ) $(CPU_LIB)
	$(CC) $(CFLAGS) -o $@ $(filter %.o %.a,$^) $(LDLIBS)

# Device, machine and loader tests link the VM library over the CPU library.
$(BUILD)/tests/dev/%: $(BUILD)/tests/dev/%.o $(VM_LIB) $(CPU_LIB)
	$(CC) $(CFLAGS) -o $@ $(filter %.o %.a,$^) $(LDLIBS)

$(BUILD)/tests/machine/%: $(BUILD)/tests/machine/%.o $(VM_LIB) $(CPU_LIB)
	$(CC) $(CFLAGS) -o $@ $(filter %.o %.a,$^) $(LDLIBS)

$(BUILD)/tests/boot/%: $(BUILD)/tests/boot/%.o $(VM_LIB) $(CPU_LIB)
	$(CC) $(CFLAGS) -o $@ $(filter %.o %.a,$^) $(LDLIBS)

$(BUILD)/tests/block/%: $(BUILD)/tests/block/%.o $(VM_LIB) $(CPU_LIB)
	$(CC) $(CFLAGS) -o $@ $(filter %.o %.a,$^) $(LDLIBS)

$(BUILD)/tests/net/%: $(BUILD)/tests/net/%.o $(VM_LIB) $(CPU_LIB)
	$(CC) $(CFLAGS) -o $@ $(filter %.o %.a,$^) $(LDLIBS)

$(BUILD)/tests/virtio/%: $(BUILD)/tests/virtio/%.o $(VM_LIB) $(CPU_LIB)
	$(CC) $(CFLAGS) -o $@ $(filter %.o %.a,$^) $(LDLIBS)

$(BUILD)/tests/guest/%: $(BUILD)/tests/guest/%.o $(GUEST_SESSION_OBJ) $(CPU_LIB)
	$(CC) $(CFLAGS) -o $@ $(filter %.o %.a,$^) $(LDLIBS)

$(BUILD)/%.S.o: %.S | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/cpu -c -o $@ $<

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(VM_LIB) $(CPU_LIB)
	$(CC) $(CFLAGS) -o $@ $(filter %.o %.a,$^) $(LDLIBS)

# bench/boot drives softvm and QEMU through the guest test's console driver.
$(BUILD)/bench/boot: $(GUEST_SESSION_OBJ)
$(BUILD)/bench/net: $(GUEST_SESSION_OBJ)
$(BUILD)/bench/debian: $(GUEST_SESSION_OBJ)
# bench/disk also carries bench/guest/iobench, a static program for the guest, on a raw drive.
$(BUILD)/bench/disk: $(GUEST_SESSION_OBJ) $(BUILD)/bench/iobench
$(BUILD)/bench/iobench: bench/guest/iobench.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -O2 -static -Wall -Wextra -Werror -o $@ $<

# The default guest (Debian's kernel and busybox, downloaded once into guest/) for the guest tests.
guest: | $(DEPS_STAMP)
	@sh scripts/guest-image.sh

# Fuzzers first (bounded time), so the test totals stay the last line of the output.
check: all guest
	@if command -v clang >/dev/null 2>&1; then $(MAKE) --no-print-directory fuzz; fi
	@sh scripts/run-tests.sh $(TEST_BIN) $(filter-out $(GUEST_SLOW_BIN),$(GUEST_TEST_BIN))

# Sets everything up on a fresh Debian machine and boots the default guest on this terminal.
run: all guest
	./softvm run

# The full Debian guest (scripts/debian-image.sh: debootstrap from the Debian archive into
# guest/debian.qcow2; needs root and network) booted to login with systemd and reached by ssh
# (tests/guest/debian_full): minutes, so in check-slow rather than check.
GUEST_SLOW_BIN := $(BUILD)/tests/guest/debian_full
.PHONY: check-slow debian-guest
debian-guest: $(SOFTVM) | $(DEPS_STAMP)
	@sh scripts/debian-image.sh

check-slow: all debian-guest
	@sh scripts/run-tests.sh $(GUEST_SLOW_BIN)

# qcow2 fuzz target (libFuzzer from clang, which scripts/install-deps.sh installs), run for a
# bounded time; a crash, sanitizer report or leak fails it and leaves the input in $(BUILD)/fuzz.
FUZZ_TIME ?= 20
FUZZ_BIN := $(BUILD)/fuzz/fuzz_qcow2
$(FUZZ_BIN): fuzz/fuzz_qcow2.c $(wildcard block/*.c block/*.h) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	clang -g -O1 -std=gnu11 -I. -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -o $@ fuzz/fuzz_qcow2.c $(wildcard block/*.c) -lz -lpthread

fuzz: $(FUZZ_BIN)
	@mkdir -p $(BUILD)/fuzz/corpus-qcow2
	@cd $(BUILD)/fuzz && ./fuzz_qcow2 -max_total_time=$(FUZZ_TIME) -rss_limit_mb=2048 -timeout=10 \
		corpus-qcow2 $(CURDIR)/fuzz/corpus/qcow2 > fuzz_qcow2.log 2>&1 \
		&& echo "fuzz_qcow2: $$(grep -o 'Done [0-9]* runs' fuzz_qcow2.log), no crash" \
		|| { tail -40 fuzz_qcow2.log; echo "FAIL: fuzz_qcow2 (log: $(BUILD)/fuzz/fuzz_qcow2.log)"; exit 1; }

# virtqueue fuzz target (fuzz/virtqueue_fuzz.c): guest memory and a device action script against
# the split virtqueue code; run for FUZZ_TIME seconds as part of `make fuzz`.
FUZZ_VQ_SRC := virtio/core.c virtio/virtqueue.c machine/ram.c
FUZZ_VQ_BIN := $(BUILD)/fuzz/virtqueue_fuzz
$(FUZZ_VQ_BIN): fuzz/virtqueue_fuzz.c $(FUZZ_VQ_SRC) $(wildcard virtio/*.h) machine/ram.h | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	clang -g -O1 -std=gnu11 -I. -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -o $@ fuzz/virtqueue_fuzz.c $(FUZZ_VQ_SRC) -lpthread

.PHONY: fuzz-virtqueue
fuzz: fuzz-virtqueue
fuzz-virtqueue: $(FUZZ_VQ_BIN)
	@mkdir -p $(BUILD)/fuzz/corpus-virtqueue
	@cd $(BUILD)/fuzz && ./virtqueue_fuzz -max_total_time=$(FUZZ_TIME) -rss_limit_mb=2048 -timeout=10 \
		-max_len=8192 corpus-virtqueue $(CURDIR)/fuzz/corpus/virtqueue > virtqueue_fuzz.log 2>&1 \
		&& echo "virtqueue_fuzz: $$(grep -o 'Done [0-9]* runs' virtqueue_fuzz.log), no crash" \
		|| { tail -40 virtqueue_fuzz.log; echo "FAIL: virtqueue_fuzz (log: $(BUILD)/fuzz/virtqueue_fuzz.log)"; exit 1; }

# Device fuzz target (fuzz/fuzz_devices.c): the whole PC without its CPU (tests/machine/hostile.h)
# under lists of port, MMIO, PCI configuration, guest RAM and virtio operations, with resets. Its
# objects are built with clang and the sanitizers in $(BUILD)/fuzz/obj (net/slirp.c left out: the
# target brings an echo backend, so no guest frame reaches the host's network). Run for FUZZ_TIME
# seconds as part of `make fuzz`.
FUZZ_DEV_SRC := $(filter-out net/slirp.c,$(VM_SRC)) $(CPU_SRC)
FUZZ_DEV_OBJ := $(FUZZ_DEV_SRC:%.c=$(BUILD)/fuzz/obj/%.o)
FUZZ_DEV_BIN := $(BUILD)/fuzz/fuzz_devices
FUZZ_DEV_CFLAGS := -g -O1 -std=gnu11 -I. -fsanitize=address,undefined -fno-sanitize-recover=undefined
$(BUILD)/fuzz/obj/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	clang $(FUZZ_DEV_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_DEV_BIN): fuzz/fuzz_devices.c tests/machine/hostile.h $(FUZZ_DEV_OBJ)
	clang $(FUZZ_DEV_CFLAGS) -fsanitize=fuzzer -o $@ fuzz/fuzz_devices.c $(FUZZ_DEV_OBJ) -lZydis -llzma -lz -lm -lpthread

.PHONY: fuzz-devices
fuzz: fuzz-devices
fuzz-devices: $(FUZZ_DEV_BIN)
	@mkdir -p $(BUILD)/fuzz/corpus-devices
	@cd $(BUILD)/fuzz && ./fuzz_devices -max_total_time=$(FUZZ_TIME) -rss_limit_mb=2048 -timeout=10 \
		-max_len=4096 corpus-devices $(CURDIR)/fuzz/corpus/devices > fuzz_devices.log 2>&1 \
		&& echo "fuzz_devices: $$(grep -o 'Done [0-9]* runs' fuzz_devices.log), no crash" \
		|| { tail -40 fuzz_devices.log; echo "FAIL: fuzz_devices (log: $(BUILD)/fuzz/fuzz_devices.log)"; exit 1; }

bench: all guest
	@sh scripts/install-deps.sh --bench
	@for b in $(BENCH_BIN); do $$b; done

# The sanitized softvm goes to build-asan/ so it never replaces ./softvm.
asan:
	$(MAKE) BUILD=build-asan SOFTVM=build-asan/softvm CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" check

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
