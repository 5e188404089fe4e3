#!/usr/bin/env bash
# Every test: the unit, integration (real nginx, real FUSE mounts) and command-line suites, then
# a bounded run of the fuzzer over the parsers of outside input (FUZZ_SECONDS, default 60).
# The tests are bounded too (TEST_TIMEOUT seconds, default 1800): a hung test ends the run with
# its name rather than hanging it. Arguments go to `swift test` (e.g. --filter MountFaultTests).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
# The man page generator, for the tests of the generated manual.
swift build --product generate-manual
# The static release binary, which the Debian package test packs with the man page of the
# generator above (scripts/build-deb.sh with NO_BUILD=1: no build runs while the tests hold .build).
swift build -c release --static-swift-stdlib --product bitsfs
log=$(mktemp "${TMPDIR:-/tmp}/bitsfs-test-XXXXXX")
trap 'rm -f "$log"' EXIT
limit=${TEST_TIMEOUT:-1800}
status=0
# SIGINT, which swift test passes on to the test process; line-buffered, so the log is current.
# The suite is XCTest only; Swift Testing would add a closing line about a run of no tests.
timeout --signal=INT --kill-after=30 "$limit" stdbuf -oL -eL swift test --skip-build --disable-swift-testing "$@" 2>&1 \
  | tee "$log" || status=$?
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
  # Tests run one at a time: the last one started is the one that hung.
  running=$(grep -o "Test Case '[^']*' started" "$log" | tail -n 1 | cut -d "'" -f 2 || true)
  echo "scripts/test.sh: the tests did not finish within $limit s; hung in ${running:-no test (before the first)}" >&2
  exit 124
fi
[ "$status" -eq 0 ] || exit "$status"
# XCTest's own summary of the whole run, repeated as the run's last line once the fuzzing is done.
# XCTest says "with N tests skipped and M failures" when it skipped some.
summary=$(grep -oE "Executed [0-9]+ tests?, with ([0-9]+ tests? skipped and )?[0-9]+ failures?" "$log" | tail -n 1 || true)
FUZZ_SECONDS=${FUZZ_SECONDS:-60} ./scripts/fuzz.sh
executed=$(echo "$summary" | awk '{ print $2 }')
skipped=$(echo "$summary" | grep -oE "[0-9]+ tests? skipped" | awk '{ print $1 }' || true)
skipped=${skipped:-0}
failures=$(echo "$summary" | grep -oE "[0-9]+ failures?$" | awk '{ print $1 }')
echo "tests: $((executed - failures - skipped)) passed, $failures failed, $skipped skipped"

