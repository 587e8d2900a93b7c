# Thin wrapper over meson: `make demo` and `make test` work on a fresh machine.
BUILD        ?= build
SAN_BUILD    ?= build-san
FUZZ_SECONDS ?= 20
MESON_FLAGS  ?=

.PHONY: all deps build build-san demo test bench install clean

all: build

deps:
	@scripts/install-deps

build: deps
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD) $(MESON_FLAGS)
	@meson compile -C $(BUILD)

# clang with AddressSanitizer and UndefinedBehaviorSanitizer; the fuzz
# targets are built here too.
build-san: deps
	@[ -f $(SAN_BUILD)/build.ninja ] || CC=clang meson setup $(SAN_BUILD) \
		-Dbuildtype=debug -Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args=-fno-sanitize-recover=all -Dfuzzing=enabled $(MESON_FLAGS)
	@meson compile -C $(SAN_BUILD)

demo: build
	@scripts/demo $(BUILD)

test: build build-san
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/run-tests $(BUILD) $(SAN_BUILD)

bench: build
	@scripts/bench $(BUILD)

install: build
	@meson install -C $(BUILD)

clean:
	rm -rf $(BUILD) $(SAN_BUILD)
