# Shared by the benchmark scripts: a release build, a private nginx on loopback, a test file.
# BENCH_WWW=DIR serves the files from DIR instead of $WORK/www (compare.sh uses tmpfs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
swift build -c release --static-swift-stdlib --product bitsfs >/dev/null
BITSFS=$PWD/.build/release/bitsfs
WORK=$(mktemp -d /tmp/bitsfs-bench.XXXXXX)
WWW=${BENCH_WWW:-$WORK/www}
SIZE_MIB=${SIZE_MIB:-1024}
mkdir -p "$WWW" "$WORK/out"
BASE=$(./mount-examples/serve.sh start "$WWW" "${PORT:-8095}" "$WORK/nginx")
cleanup_common() {
  ./mount-examples/serve.sh stop "$WORK/nginx"
  rm -rf "$WORK" "$WWW"
}
trap cleanup_common EXIT
head -c $((SIZE_MIB << 20)) /dev/urandom > "$WWW/big.bin"
sync  # no writeback of the test file competes with the measurements
URL=$BASE/big.bin

# seconds COMMAND...: wall time of a command, in seconds with milliseconds; fails if it fails.
seconds() {
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null || return
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }'
}

# drop_caches: writes back dirty pages (bounded), then empties the page cache. Needs root.
drop_caches() { timeout 120 sync || true; echo 3 > /proc/sys/vm/drop_caches; }

# cpu_seconds PID: the user + system CPU time of a running process so far, in seconds.
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"; }

# peak_rss_kib PID: the peak resident memory (VmHWM) of a running process so far, in KiB.
peak_rss_kib() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status"; }

rate() { awk -v size="$SIZE_MIB" -v t="$1" 'BEGIN { printf "%.0f MiB/s", size / t }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# replace_section FILE PREFIX REPORT: the section of FILE (markdown) whose top-level heading starts
# with PREFIX, up to the next top-level heading, becomes REPORT (which begins with its own
# heading), in its place; appended when FILE has none.
replace_section() {
  python3 - "$1" "$2" "$3" <<'PY'
import os, sys
path, prefix, section = sys.argv[1], sys.argv[2], open(sys.argv[3]).read().rstrip("\n")
lines = (open(path).read() if os.path.exists(path) else "").split("\n")
out, placed, skipping = [], False, False
for line in lines:
    if line.startswith("# "):
        skipping = line.startswith(prefix)
        if skipping and not placed:
            out += [section, ""]
            placed = True
    if not skipping:
        out.append(line)
text = "\n".join(out).rstrip("\n")
if not placed:
    text = (text + "\n\n" if text else "") + section
open(path, "w").write(text + "\n")
PY
}
