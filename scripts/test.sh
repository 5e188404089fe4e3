#!/usr/bin/env bash
# Every test: the unit, integration (real nginx, real FUSE mounts) and command-line suites, then
# a bounded run of the fuzzer over the parsers of outside input (FUZZ_SECONDS, default 60).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build
swift test
FUZZ_SECONDS=${FUZZ_SECONDS:-60} ./scripts/fuzz.sh
