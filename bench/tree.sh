#!/usr/bin/env bash
# Directory trees: bitsfs against httpdirfs and rclone mounting a directory of the same nginx,
# once directly on loopback and once through a proxy that delays every byte by DELAY_MS each way
# (/work/shared/tools/wanproxy.py: a round trip costs 2 × DELAY_MS). Prints markdown tables and
# writes them to bench/RESULTS.md (section "# Directory trees").
#
# The data, generated once per run in tmpfs, sparse (truncate: sizes without bytes, so that
# generation is quick and the server's page cache holds nothing): flat/ with FLAT_FILES files
# (10,000), and tree/ with TREE_DIRS directories (1,000) of FILES_PER_DIR files (100) each.
# Sizes are 0..4095 bytes, a hash of the file's number.
#
# The tools, each on a fresh mount with an empty cache for every step:
#   - bitsfs, JSON: the tree from nginx's `autoindex_format json` (exact sizes and mtimes), at
#     /json/ (a location added to common.sh's nginx for this script);
#   - bitsfs, HTML: the tree from nginx's HTML autoindex (`autoindex_exact_size` on, nginx's
#     default: exact sizes, mtimes to the minute);
#   - httpdirfs and rclone (:http:), configured as in bench/mounts.sh, on the HTML autoindex, the
#     listing they read.
# The steps: `ls -l flat` (10,000 entries); `find tree` (101,001 entries); `du -sb tree` (its total
# checked against the sum of the file sizes); `stat` of one file in a directory never listed
# before (tree/ and the directory are both cold). Each is bounded by CAP seconds and reported as
# "> CAP s" if stopped there; `du` is not run where `find` over the same tree was stopped (it
# needs at least the same listings), unless DU_AFTER_CAP=1. Requests: the HEAD and GET lines of
# nginx's access log from the moment the mount answers (the mount's own requests, e.g. bitsfs's
# check of the root listing, are not counted) to its unmount, so what a tool still sends after
# the command returns is counted in its step. Peak RSS (VmHWM) of the daemon after find and after
# du. Baseline in the same pass: the wall time of `curl -o /dev/null` of the flat/ listing, HTML
# and JSON, a new curl process each time, median of CURL_RUNS (5).
#
# Targets of the issue, checked in each pass: `ls -l` of the 10,000 files ≤ 2 × curl of its
# listing + 50 ms (bitsfs JSON against the JSON listing, bitsfs HTML against the HTML one); zero
# HEAD requests from bitsfs (both listings carry exact sizes); `find` over the tree ≤ 1/10 of the
# better of httpdirfs and rclone; bitsfs's peak RSS after the walk < 100 MiB.
#
# Environment: CAP (300 s), DELAY_MS (25), PASSES ("direct proxy"), TOOLS ("bitsfs-json
# bitsfs-html httpdirfs rclone"), FLAT_FILES, TREE_DIRS, FILES_PER_DIR, CURL_RUNS, DU_AFTER_CAP
# (0), TREE_PORT (8098) and TREE_PROXY_PORT (8099), WANPROXY (the proxy script), BITSFS_FLAGS
# (more bitsfs mount options), RESULTS (bench/RESULTS.md; "-" writes nothing), KEEP (a directory
# to copy nginx's log, the raw figures and the tools' logs into).
# Needs root (FUSE mounts). About 18 minutes on 2 cores, most of it httpdirfs and rclone through
# the proxy.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
script_start=$(date +%s)
say() { echo "tree: $*" >&2; }

"$here/../scripts/setup.sh" httpdirfs rclone >&2

CAP=${CAP:-300}
DELAY_MS=${DELAY_MS:-25}
PASSES=${PASSES:-direct proxy}
FLAT_FILES=${FLAT_FILES:-10000}
TREE_DIRS=${TREE_DIRS:-1000}
FILES_PER_DIR=${FILES_PER_DIR:-100}
CURL_RUNS=${CURL_RUNS:-5}
DU_AFTER_CAP=${DU_AFTER_CAP:-0}
PORT=${TREE_PORT:-8098}
PROXY_PORT=${TREE_PROXY_PORT:-8099}
WANPROXY=${WANPROXY:-/work/shared/tools/wanproxy.py}
SIZE_MIB=0  # common.sh's big.bin: not used here
BENCH_WWW=$(mktemp -d /dev/shm/bitsfs-tree-www.XXXXXX)
trap 'rm -rf "$BENCH_WWW"' EXIT  # until common.sh's cleanup takes over
source "$here/common.sh"  # cd to the repository; BITSFS, WORK, WWW, BASE, seconds, peak_rss_kib
rm -f "$WWW/big.bin"
RESULTS=${RESULTS:-bench/RESULTS.md}
LOG=$WORK/nginx/access.log
RAW=$WORK/raw.tsv
read -r -a TOOLS <<< "${TOOLS:-bitsfs-json bitsfs-html httpdirfs rclone}"
declare -A PID=()
MOUNT_FILES=()
source "$here/mounts.sh"  # is_mounted, start_mount, stop_mount, note_pid, log_mark, ...

PROXY_PID=""
cleanup_tree() {
  local status=$?
  if [ -n "$PROXY_PID" ]; then
    kill "$PROXY_PID" 2>/dev/null || true
    wait "$PROXY_PID" 2>/dev/null || true
  fi
  (exit "$status")
  cleanup_mounts
}
trap cleanup_tree EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- The server ------------------------------------------------------------------------------
# common.sh's nginx serves the HTML autoindex at /; this adds the same files as JSON at /json/.
sed -i "s|    location /private/ {|    location /json/ { alias $WWW/; autoindex on; autoindex_format json; }\n&|" \
  "$WORK/nginx/nginx.conf"
/usr/sbin/nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" -s reload
for ((i = 0; i < 100; i++)); do
  [ "$(curl -s --max-time 5 "$BASE/json/" | head -c 1)" = "[" ] && break
  sleep 0.1
done
[ "$(curl -s --max-time 5 "$BASE/json/" | head -c 1)" = "[" ] || { say "nginx does not serve /json/"; exit 1; }

# --- The data --------------------------------------------------------------------------------
say "generating flat/ ($FLAT_FILES files) and tree/ ($TREE_DIRS directories × $FILES_PER_DIR files)"
read -r flat_bytes tree_bytes < <(python3 - "$WWW" "$FLAT_FILES" "$TREE_DIRS" "$FILES_PER_DIR" <<'PY'
import os, sys
root, flat, dirs, per_dir = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
number = 0
def make(path):
    """A sparse file of 0..4095 bytes; returns its size."""
    global number
    number += 1
    size = (number * 2654435761) % 4096
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
    os.ftruncate(fd, size)
    os.close(fd)
    return size
os.mkdir(os.path.join(root, "flat"))
flat_bytes = sum(make(os.path.join(root, "flat", "f%05d" % i)) for i in range(flat))
tree_bytes = 0
for d in range(dirs):
    directory = os.path.join(root, "tree", "d%04d" % d)
    os.makedirs(directory)
    tree_bytes += sum(make(os.path.join(directory, "f%03d" % f)) for f in range(per_dir))
print(flat_bytes, tree_bytes)
PY
)
tree_entries=$((1 + TREE_DIRS + TREE_DIRS * FILES_PER_DIR))  # what find prints: tree/ itself too
cold_file=tree/d$(printf %04d $((TREE_DIRS * 3 / 4)))/f$(printf %03d $((FILES_PER_DIR / 2)))
say "data: flat/ $flat_bytes B in $FLAT_FILES files, tree/ $tree_bytes B in $((TREE_DIRS * FILES_PER_DIR)) files; cold stat of $cold_file"

# --- The proxy -------------------------------------------------------------------------------
# wanproxy.py releases each chunk DELAY_MS after it arrived, in each direction: a request and its
# answer cost 2 × DELAY_MS more than on loopback. Its rate cap is left at its default, 1000
# Mbit/s per connection and direction.
python3 "$WANPROXY" "$PROXY_PORT" "$PORT" --delay-ms "$DELAY_MS" >>"$WORK/wanproxy.log" 2>&1 &
PROXY_PID=$!
PROXY_BASE=http://127.0.0.1:$PROXY_PORT
for ((i = 0; i < 100; i++)); do
  curl -s --max-time 5 -o /dev/null "$PROXY_BASE/" && break
  sleep 0.1
done
curl -s --max-time 5 -o /dev/null "$PROXY_BASE/" || { say "the proxy does not answer"; exit 1; }

# --- Measuring -------------------------------------------------------------------------------
record() { printf '%s\t%s\t%s\t%s\n' "$pass" "$1" "$2" "$3" >> "$RAW"; }
: > "$RAW"

# The URL a tool mounts in a pass.
tool_url() {
  local base=$BASE
  [ "$1" = proxy ] && base=$PROXY_BASE
  case $2 in
    bitsfs-json) echo "$base/json/" ;;
    *) echo "$base/" ;;
  esac
}

# timed OUT COMMAND...: runs COMMAND in the mount of $tool (its paths relative to it), its output
# to OUT, for at most CAP seconds; prints "SECONDS STATUS" (STATUS: the exit status, "cap" if it
# was stopped at CAP).
timed() {
  local out=$1 start end status=0
  shift
  start=$(date +%s.%N)
  (cd "$WORK/mnt-$tool" && exec timeout -k 5 "$CAP" "$@") > "$out" 2> "$out.err" || status=$?
  end=$(date +%s.%N)
  case $status in 124 | 137) status=cap ;; esac
  awk -v a="$start" -v b="$end" -v s="$status" 'BEGIN { printf "%.3f %s\n", b - a, s }'
}

# HEAD and GET lines of nginx's log since MARK, and the body bytes they sent, once nginx has
# stopped appending.
log_requests_since() {
  local bytes
  bytes=$(log_bytes_since "$1")
  tail -c +$(($1 + 1)) "$LOG" |
    awk -v bytes="$bytes" '$2 == "HEAD" { h++ } $2 == "GET" { g++ } END { print h + 0, g + 0, bytes }'
}

# step STEP COMMAND...: a fresh mount of $tool on an empty cache, COMMAND timed in it, the daemon's
# peak RSS, the unmount, the requests. Records STEP_s, STEP_status, STEP_head, STEP_get,
# STEP_bytes, STEP_rss_kib, mount_s (the mount command, up to its answering), and the output in
# $WORK/out/PASS-TOOL-STEP.
step() {
  local name=$1 out=$WORK/out/$pass-$tool-$1 mount_start result head get bytes
  shift
  empty_cache "$tool"
  mount_start=$(date +%s.%N)
  if ! start_mount "$tool" "$(tool_url "$pass" "$tool")" || ! note_pid "$tool"; then
    say "$tool: mount failed (log: $(tail -n 2 "$WORK/$tool.log" 2>/dev/null | tr '\n' ' '))"
    record "$tool" "${name}_status" "mount failed"
    stop_mount "$tool" || { say "$tool would not unmount"; exit 1; }
    return 1
  fi
  record "$tool" "${name}_mount_s" "$(awk -v a="$mount_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')"
  mark=$(log_mark)
  result=$(timed "$out" "$@")
  record "$tool" "${name}_s" "${result% *}"
  record "$tool" "${name}_status" "${result#* }"
  [ "${result#* }" = 0 ] || say "$tool: $name: ${result#* } ($(head -c 300 "$out.err" | tr '\n' ' '))"
  if [ -n "${PID[$tool]:-}" ] && ! gone "${PID[$tool]}"; then
    record "$tool" "${name}_rss_kib" "$(peak_rss_kib "${PID[$tool]}")"
  fi
  stop_mount "$tool" || { say "$tool would not unmount"; exit 1; }
  read -r head get bytes < <(log_requests_since "$mark")
  record "$tool" "${name}_head" "$head"
  record "$tool" "${name}_get" "$get"
  record "$tool" "${name}_bytes" "$bytes"
}

# The median wall time of CURL_RUNS `curl -o /dev/null URL`, each a new process.
curl_median() {
  local i t times=()
  for ((i = 0; i < CURL_RUNS; i++)); do
    t=$(seconds timeout 60 curl -s --fail --max-time 60 -o /dev/null "$1") || return 1
    times+=("$t")
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)] }'
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for pass in $PASSES; do
  base=$BASE
  [ "$pass" = proxy ] && base=$PROXY_BASE
  pass_start=$(date +%s)
  say "$pass: curl of the flat/ listing"
  record curl-html ls_s "$(curl_median "$base/flat/")"
  record curl-json ls_s "$(curl_median "$base/json/flat/")"
  record curl-html ls_bytes "$(curl -s --max-time 60 "$base/flat/" | wc -c)"
  record curl-json ls_bytes "$(curl -s --max-time 60 "$base/json/flat/" | wc -c)"
  for tool in "${TOOLS[@]}"; do
    say "$pass: $tool ls -l"
    step ls ls -l flat || true
    say "$pass: $tool find"
    find_status=""
    step find find tree && find_status=$(awk -F'\t' -v p="$pass" -v t="$tool" \
      '$1 == p && $2 == t && $3 == "find_status" { s = $4 } END { print s }' "$RAW")
    if [ "$find_status" = cap ] && [ "$DU_AFTER_CAP" != 1 ]; then
      say "$pass: $tool du not run: find over the same tree was stopped at ${CAP}s"
      record "$tool" du_status "not run"
    else
      say "$pass: $tool du -sb"
      step du du -sb tree || true
    fi
    say "$pass: $tool stat of a file in a cold directory"
    step stat stat "$cold_file" || true
    # The outputs checked: lines of ls -l (a "total" line and one per file), of find, du's total.
    pass_tool_out=$WORK/out/$pass-$tool
    [ -f "$pass_tool_out-ls" ] && record "$tool" ls_lines "$(wc -l < "$pass_tool_out-ls")"
    [ -f "$pass_tool_out-find" ] && record "$tool" find_lines "$(wc -l < "$pass_tool_out-find")"
    [ -f "$pass_tool_out-du" ] && record "$tool" du_total "$(awk '{ print $1 }' "$pass_tool_out-du")"
  done
  say "$pass took $(($(date +%s) - pass_start)) s"
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# --- Report ----------------------------------------------------------------------------------
python3 - "$RAW" "${TOOLS[*]}" "$CAP" "$FLAT_FILES" "$tree_entries" "$tree_bytes" "$((1 + TREE_DIRS))" \
  "$DELAY_MS" > "$WORK/tables.md" <<'PY'
import sys
from collections import defaultdict
raw_path, tools, cap, flat_files, tree_entries, tree_bytes, dirs, delay = sys.argv[1:9]
tools, cap, flat_files, tree_entries, tree_bytes, dirs = (
    tools.split(), float(cap), int(flat_files), int(tree_entries), int(tree_bytes), int(dirs))
raw = defaultdict(dict)  # pass -> {(tool, metric): value}
passes = []
for line in open(raw_path):
    p, tool, metric, value = line.rstrip("\n").split("\t", 3)
    if p not in passes:
        passes.append(p)
    raw[p][(tool, metric)] = value
names = {"bitsfs-json": "bitsfs (JSON)", "bitsfs-html": "bitsfs (HTML)", "httpdirfs": "httpdirfs", "rclone": "rclone"}
titles = {"direct": "direct (loopback)", "proxy": "through wanproxy.py, %s ms each way (RTT %g ms)" % (delay, 2 * float(delay))}

def seconds(p, tool, step):
    """The step's time, None if not measured, or cap+ if stopped at CAP."""
    r = raw[p]
    status = r.get((tool, step + "_status"))
    if status == "cap":
        return float("inf")
    v = r.get((tool, step + "_s"))
    return float(v) if v not in (None, "") and status in (None, "0") else None

def fmt_s(v, status=None):
    if isinstance(v, str):
        v = float(v) if v else None
    if v == float("inf"):
        return "> %g s" % cap
    if v is None:
        return status or "—"
    return "%.0f ms" % (v * 1000) if v < 1 else "%.1f s" % v

def time_cell(p, tool, step):
    r = raw[p]
    status = r.get((tool, step + "_status"))
    v = seconds(p, tool, step)
    if v is None and status not in (None, "0", "cap"):
        return "failed (%s)" % status if status not in ("not run",) else "not run (find > %g s)" % cap
    return fmt_s(v)

def requests_cell(p, tool, step):
    r = raw[p]
    h, g = r.get((tool, step + "_head")), r.get((tool, step + "_get"))
    if h is None:
        return "—"
    return "%s HEAD, %s GET" % (h, g)

def mib(kib):
    return "%.0f MiB" % (int(kib) / 1024)

def check_lines(p, tool, step, expected):
    v = raw[p].get((tool, step + "_lines"))
    if v is None or raw[p].get((tool, step + "_status")) != "0":
        return ""
    return "" if int(v) == expected else " (**%s of %d lines**)" % (v, expected)

def du_check(p, tool):
    v = raw[p].get((tool, "du_total"))
    if v is None or raw[p].get((tool, "du_status")) != "0":
        return "—"
    v = int(v)
    if v == tree_bytes:
        return "%d = the files' sum" % v
    extra = v - tree_bytes
    if extra > 0 and extra % dirs == 0:
        return "%d = the files' sum + %d directories × %d B" % (v, dirs, extra // dirs)
    return "%d: **differs from the files' sum by %d B**" % (v, extra)

def ratio(a, b):
    if a is None or b is None:
        return "—"
    if a == float("inf") and b == float("inf"):
        return "—"
    if b == float("inf"):
        return "< %.3f" % (a / cap)
    if a == float("inf"):
        return "> %.0f" % (cap / b)
    return "%.3f" % (a / b) if a / b < 0.1 else "%.2f" % (a / b)

out = []
for p in passes:
    out.append("**%s**" % titles.get(p, p))
    out.append("")
    out.append("| | %s | curl of the listing |" % " | ".join(names.get(t, t) for t in tools))
    out.append("|---|%s---|" % ("---|" * len(tools)))
    r = raw[p]
    curl_html, curl_json = r.get(("curl-html", "ls_s")), r.get(("curl-json", "ls_s"))
    rows = [
        ("`ls -l flat/` (%d files)" % flat_files,
         [time_cell(p, t, "ls") + check_lines(p, t, "ls", flat_files + 1) for t in tools],
         "HTML %s (%s B), JSON %s (%s B)" % (fmt_s(curl_html), r.get(("curl-html", "ls_bytes")),
                                            fmt_s(curl_json), r.get(("curl-json", "ls_bytes")))),
        ("  requests", [requests_cell(p, t, "ls") for t in tools], "1 GET"),
        ("`find tree/` (%d entries)" % tree_entries,
         [time_cell(p, t, "find") + check_lines(p, t, "find", tree_entries) for t in tools], ""),
        ("  requests", [requests_cell(p, t, "find") for t in tools], ""),
        ("`du -sb tree/`", [time_cell(p, t, "du") for t in tools], ""),
        ("  total (files: %d B)" % tree_bytes, [du_check(p, t) for t in tools], ""),
        ("  requests", [requests_cell(p, t, "du") for t in tools], ""),
        ("`stat` of a file in a cold directory", [time_cell(p, t, "stat") for t in tools], ""),
        ("  requests", [requests_cell(p, t, "stat") for t in tools], ""),
        ("peak RSS after find / du",
         [" / ".join(mib(r[(t, s + "_rss_kib")]) if (t, s + "_rss_kib") in r else "—" for s in ("find", "du"))
          for t in tools], ""),
        ("mount command (before ls)", [fmt_s(r[(t, "ls_mount_s")]) if (t, "ls_mount_s") in r else "—"
                                       for t in tools], ""),
    ]
    for label, cells, extra in rows:
        out.append("| %s | %s | %s |" % (label, " | ".join(cells), extra))
    out.append("")
    # Ratios: each tool's time over bitsfs (JSON)'s in the same pass.
    if "bitsfs-json" in tools:
        others = [t for t in tools if t != "bitsfs-json"]
        out.append("| ÷ bitsfs (JSON), same pass | %s |" % " | ".join(names.get(t, t) for t in others))
        out.append("|---|%s" % ("---|" * len(others)))
        for step, label in (("ls", "`ls -l`"), ("find", "`find`"), ("du", "`du -sb`"), ("stat", "`stat`, cold directory")):
            b = seconds(p, "bitsfs-json", step)
            out.append("| %s | %s |" % (label, " | ".join(ratio(seconds(p, t, step), b) for t in others)))
        out.append("")

# The targets, per pass.
out.append("**Targets** (issue 14)")
out.append("")
out.append("| target | pass | bitsfs | limit | |")
out.append("|---|---|---|---|---|")
verdicts = {True: "met", False: "**missed**", None: "not measured"}
for p in passes:
    r = raw[p]
    for t, listing in (("bitsfs-json", "curl-json"), ("bitsfs-html", "curl-html")):
        if t not in tools:
            continue
        b, c = seconds(p, t, "ls"), r.get((listing, "ls_s"))
        limit = 2 * float(c) + 0.05 if c else None  # an empty c: curl failed
        ok = None if b is None or limit is None else b <= limit
        out.append("| `ls -l` of %d files ≤ 2 × curl of its listing + 50 ms (%s) | %s | %s | %s | %s |" % (
            flat_files, names[t], p, fmt_s(b), fmt_s(limit), verdicts[ok]))
    for t in ("bitsfs-json", "bitsfs-html"):
        if t not in tools:
            continue
        heads = [int(r[(t, s + "_head")]) for s in ("ls", "find", "du", "stat") if (t, s + "_head") in r]
        ok = None if not heads else sum(heads) == 0
        out.append("| zero HEAD requests, all steps (%s) | %s | %d | 0 | %s |" % (names[t], p, sum(heads), verdicts[ok]))
    others = [seconds(p, t, "find") for t in ("httpdirfs", "rclone") if t in tools]
    others = [v for v in others if v is not None]
    best = min(others) if others else None
    for t in ("bitsfs-json", "bitsfs-html"):
        if t not in tools:
            continue
        b = seconds(p, t, "find")
        if b is None or best is None:
            ok, limit = None, "—"
        elif best == float("inf"):
            ok, limit = b <= cap / 10, "> %s (both others > %g s)" % (fmt_s(cap / 10), cap)
        else:
            ok, limit = b <= best / 10, fmt_s(best / 10)
        out.append("| `find` over %d entries ≤ 1/10 of the better of httpdirfs and rclone (%s) | %s | %s | %s | %s |" % (
            tree_entries, names[t], p, fmt_s(b), limit, verdicts[ok]))
    for t in ("bitsfs-json", "bitsfs-html"):
        if t not in tools:
            continue
        rss = [int(r[(t, s + "_rss_kib")]) for s in ("find", "du") if (t, s + "_rss_kib") in r]
        ok = None if not rss else max(rss) < 100 * 1024
        out.append("| daemon peak RSS after the %d-entry walk < 100 MiB (%s) | %s | %s | 100 MiB | %s |" % (
            tree_entries, names[t], p, mib(max(rss)) if rss else "—", verdicts[ok]))
print("\n".join(out))
PY

versions="bitsfs $(git log -1 --format=%h -- Sources)$(git diff --quiet HEAD -- Sources || echo '+changes')"
versions+=", httpdirfs $(httpdirfs --version 2>&1 | awk '/HTTPDirFS version/ { print $3; exit }')"
versions+=", rclone $(rclone version 2>/dev/null | awk 'NR == 1 { print $2 }')"
versions+=", nginx $(/usr/sbin/nginx -v 2>&1 | sed 's|.*/||'), curl $(curl --version | awk 'NR == 1 { print $2 }')"
{
  echo "# Directory trees: listing, walking and stat'ing a mounted directory"
  echo
  echo "Written by \`bench/tree.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), $(($(date +%s) - script_start)) s in all" \
    "(CAP=${CAP} s, DELAY_MS=$DELAY_MS${BITSFS_FLAGS:+, BITSFS_FLAGS=\"$BITSFS_FLAGS\"})."
  echo "Machine: $(nproc) CPUs, kernel $(uname -r), shared; load average (1/5/15 min) $load_start at the start, $load_end at the end."
  echo "Versions: $versions."
  echo "Data (sparse files in tmpfs): flat/ $FLAT_FILES files, $flat_bytes B; tree/ $TREE_DIRS directories of" \
    "$FILES_PER_DIR files, $tree_bytes B; the cold \`stat\` is of $cold_file."
  echo
  cat "$WORK/tables.md"
  echo
  echo "Every step is a single run on a fresh mount with an empty cache: the mount command, then the"
  echo "command timed (wall time). bitsfs (JSON) mounts nginx's \`autoindex_format json\` listing, the"
  echo "other three its HTML autoindex (exact sizes). *requests*: HEAD and GET lines of nginx's log from"
  echo "the moment the mount answered to its unmount (the mount's own requests are not counted; bitsfs"
  echo "reads the root listing before it mounts). *curl of the listing*: \`curl -o /dev/null\` of the"
  echo "flat/ listing, a new process each time, median of $CURL_RUNS, with its size. A step stopped at"
  echo "CAP reads \"> CAP\", and \`du\` is not run where \`find\` was stopped. *÷ bitsfs (JSON)*: a tool's"
  echo "time over bitsfs (JSON)'s in the same pass. *lines*: a line count short of the entries;"
  echo "httpdirfs leaves out files of 0 bytes (flat/ has $(find "$WWW/flat" -size 0 | wc -l)). The proxy:"
  echo "\`wanproxy.py LISTEN UPSTREAM --delay-ms $DELAY_MS\` delays each chunk by $DELAY_MS ms in each"
  echo "direction (a round trip costs $((2 * DELAY_MS)) ms more than loopback), rate cap at its default of"
  echo "1000 Mbit/s per connection."
} > "$WORK/report.md"
cat "$WORK/report.md"
if [ "$RESULTS" != - ]; then
  replace_section "$RESULTS" "# Directory trees" "$WORK/report.md"
  say "wrote its section of $RESULTS"
fi
if [ -n "${KEEP:-}" ]; then
  mkdir -p "$KEEP"
  cp "$LOG" "$RAW" "$WORK"/*.log "$KEEP"/ 2>/dev/null || true
  cp -r "$WORK/out" "$KEEP"/ 2>/dev/null || true
  say "kept the logs and raw figures in $KEEP"
fi
