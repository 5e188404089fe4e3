#!/usr/bin/env bash
# bitsfs against httpdirfs and rclone, in one run, on the same nginx and the same data, with curl
# and local reads as baselines. Prints markdown tables and writes them to bench/RESULTS.md.
#
# Per tool, each on a fresh mount with an empty cache unless said otherwise:
#   - cold sequential read of the big file (dd bs=1M, after drop_caches), and its ratio to
#     `curl -o /dev/null` of the same file run (also after drop_caches) just before it;
#   - warm re-read on the same mount, twice: the first re-read, and the next in the steady state;
#   - re-read after unmount + drop_caches + remount on the same cache (from the tool's disk cache);
#   - random 4 KiB reads with fio: IOPS, p50/p99 completion latency, server bytes per byte read;
#   - server bytes for one 4 KiB read in the middle of the big file;
#   - `unzip -l` of a zip of 2000 stored members: wall time and server bytes;
#   - an indexed point query in a SQLite database (immutable=1): wall time and server bytes;
#   - time from starting the mount command to the first byte of the big file, twice: after
#     drop_caches (program and libraries read from disk) and then again with them in the page
#     cache; against the whole `curl -r 0-0` command in the same two states, and against curl's
#     time_starttransfer;
#   - the daemon's peak RSS (VmHWM) after the sequential read, and once after a cold read of a
#     (sparse) file RSS_SCALE times as large (bitsfs only); sha256 through the mount.
# Baselines: curl to /dev/null; curl to a file on the caches' disk (what storing the bytes costs
# by itself) and dd with oflag=direct to that disk (its speed past the page cache); 4 KiB range
# requests at random offsets with curl, one at a time on one kept-alive connection (what a random
# read that misses costs at least); `cat` of the origin file from the page cache (for the warm
# re-read); the bitsfs cache data file read directly with dd after drop_caches (for the re-read
# after remount).
#
# "Server bytes" of a step are the body bytes ($body_bytes_sent) of the nginx log lines appended
# during the step. The mount is unmounted before they are added up, so a transfer cut off by the
# unmount is logged, with what it sent, in its own step.
#
# Each figure is the median of RUNS rounds with min..max. The tools take turns going first.
# The origin files are in tmpfs: drop_caches empties the clients' page cache, never the server's.
#
# Environment: SIZE_MIB (big file, default 1024; the zip and the database scale with it: 500 and
# 300 MiB at 1024), RUNS (3), FIO_IOS (random reads per fio run, 300), RSS_SCALE (4; 0 skips
# the peak RSS of the larger file), PORT (8096),
# TIME_LIMIT (seconds, default 1140: a round does not start when it would end after that),
# RESULTS (output file, default bench/RESULTS.md, relative to the repository), KEEP (a directory
# to copy nginx's log, the raw figures and each step's part of the log into), REAL_TOOLS (1: at
# the end, bench/real-tools.sh adds its section to RESULTS, about a minute more; 0 skips it).
# Needs root: drop_caches and FUSE mounts. About 6.5 minutes on 2 cores, without real-tools.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
script_start=$(date +%s)

# httpdirfs, rclone and fio are the tools compared and the random-read driver; the rest are in
# the project's own list (nginx, sqlite3, zip, unzip, attr, curl, python3, fuse3).
"$here/../scripts/setup.sh" httpdirfs rclone fio >&2

RUNS=${RUNS:-3}
FIO_IOS=${FIO_IOS:-300}
TIME_LIMIT=${TIME_LIMIT:-1140}
PORT=${PORT:-8096}
BENCH_WWW=$(mktemp -d /dev/shm/bitsfs-bench-www.XXXXXX)
trap 'rm -rf "$BENCH_WWW"' EXIT  # until common.sh's cleanup takes over
source "$here/common.sh"  # cd to the repository; BITSFS, WORK, WWW, BASE, URL, big.bin, helpers
RESULTS=${RESULTS:-bench/RESULTS.md}
LOG=$WORK/nginx/access.log
RAW=$WORK/raw.tsv
TOOLS=(bitsfs httpdirfs rclone)
declare -A PID=()
MOUNT_FILES=(big.bin data.zip db.sqlite)
source "$here/mounts.sh"  # is_mounted, start_mount, stop_mount, fresh, log_bytes_since, ...
say() { echo "compare: $*" >&2; }

trap cleanup_mounts EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- Data ------------------------------------------------------------------------------------
# big.bin comes from common.sh (SIZE_MIB of random bytes). The zip: 2000 members of random data,
# stored (zip -0), so `unzip -l` reads only the central directory at the end. The database: rows
# of (id, k, payload) with a random 1000-byte payload and an index on k; k is a bijective hash of
# id, so the index order is unrelated to the table order and a point query walks two B-trees.
zip_mib=$((SIZE_MIB * 500 / 1024))
db_mib=$((SIZE_MIB * 300 / 1024))
members=2000
say "generating ${zip_mib} MiB zip and ${db_mib} MiB database"
mkdir -p "$WORK/zip"
head -c $((zip_mib << 20)) /dev/urandom | split -b $(((zip_mib << 20) / members)) -a 4 -d - "$WORK/zip/member-"
(cd "$WORK/zip" && zip -0 -q -r "$WWW/data.zip" .)
rm -rf "$WORK/zip"
rows=$((db_mib * 1024))
sqlite3 "$WWW/db.sqlite" >/dev/null <<SQL
PRAGMA page_size = 4096;
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER NOT NULL, payload BLOB NOT NULL);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $rows)
INSERT INTO t SELECT i, (i * 2654435761) % 4294967296, randomblob(1000) FROM n;
CREATE INDEX t_k ON t (k);
SQL
query_key=$(((rows / 2 * 2654435761) % 4294967296))
sync
big_bytes=$(stat -c %s "$WWW/big.bin")
origin_sum=$(sha256sum < "$WWW/big.bin")
say "data: big.bin $big_bytes B, data.zip $(stat -c %s "$WWW/data.zip") B, db.sqlite $(stat -c %s "$WWW/db.sqlite") B"

# --- Measuring -------------------------------------------------------------------------------
record() { printf '%s\t%s\t%s\t%s\n' "$round" "$1" "$2" "$3" >> "$RAW"; }
now_ns() { date +%s%N; }

# --- Steps (each fails by returning non-zero; the caller records the failure and goes on) -----
# First after drop_caches (a cold start), then again with the program in the page cache.
step_first_byte() {
  local tool=$1 start end state
  for state in cold warm; do
    stop_mount "$tool" || return 1
    empty_cache "$tool"
    [ "$state" = cold ] && drop_caches
    start=$(now_ns)
    start_mount "$tool" || return 1
    timeout 30 head -c 1 "$WORK/mnt-$tool/big.bin" >/dev/null || return 1
    end=$(now_ns)
    note_pid "$tool" || return 1
    record "$tool" "$([ "$state" = cold ] && echo first_byte_cold_s || echo first_byte_s)" \
      "$(awk -v n=$((end - start)) 'BEGIN { printf "%.4f", n / 1e9 }')"
  done
}

step_sequential() {
  local tool=$1 mnt=$WORK/mnt-$1 t
  # curl's cold read of the same file just before: the ratio compares two moments of the same
  # load on this shared machine, not the start of the round with minutes later.
  drop_caches
  t=$(seconds timeout 300 curl -s --max-time 300 -o /dev/null "$URL") || return 1
  record "$tool" curl_cold_s "$t"
  empty_cache "$tool"
  drop_caches
  start_mount "$tool" || return 1
  note_pid "$tool" || return 1
  t=$(seconds timeout 600 dd if="$mnt/big.bin" of=/dev/null bs=1M status=none) || return 1
  record "$tool" cold_s "$t"
  record "$tool" rss_kib "$(peak_rss_kib "${PID[$tool]}")"
  # CPU time (user + system) of the daemon so far: mostly the cold read.
  record "$tool" cpu_s "$(cpu_seconds "${PID[$tool]}")"
  t=$(seconds timeout 300 dd if="$mnt/big.bin" of=/dev/null bs=1M status=none) || return 1
  record "$tool" warm_s "$t"
  # The first re-read of freshly read pages also moves them to the kernel's active list, on any
  # file system; the next one shows the steady state that the page-cache cat is measured in.
  t=$(seconds timeout 300 dd if="$mnt/big.bin" of=/dev/null bs=1M status=none) || return 1
  record "$tool" warm_steady_s "$t"
}

# Follows step_sequential: the cache holds the whole big file.
step_remount() {
  local tool=$1 mnt=$WORK/mnt-$1 t data
  stop_mount "$tool" || return 1
  drop_caches
  start_mount "$tool" || return 1
  note_pid "$tool" || return 1
  mark=$(log_mark)
  t=$(seconds timeout 300 dd if="$mnt/big.bin" of=/dev/null bs=1M status=none) || return 1
  record "$tool" remount_s "$t"
  if [ "$round" = 1 ]; then
    if [ "$(timeout 300 sha256sum < "$mnt/big.bin")" = "$origin_sum" ]; then
      record "$tool" sha256 ok
    else
      record "$tool" sha256 DIFFERENT
    fi
  fi
  stop_mount "$tool" || return 1
  record "$tool" remount_bytes "$(log_bytes_since "$mark")"
  if [ "$tool" = bitsfs ]; then
    # Baseline: the same bytes read straight from the cache's data file, equally cold.
    data=$(dirname "$(grep -l '/big.bin"' "$WORK"/cache-bitsfs/*/meta.json)")/data
    drop_caches
    t=$(seconds timeout 300 dd if="$data" of=/dev/null bs=1M status=none) || return 1
    record cachefile remount_s "$t"
  fi
}

step_fio() {
  local tool=$1 out=$WORK/fio-$1.json
  fresh "$tool" || return 1
  # psync, one at a time, through the page cache (direct=0) as applications read; fio's
  # default fadvise(RANDOM) turns kernel read-ahead off. Same seed, same offsets for every tool.
  timeout 300 fio --name=random4k --filename="$WORK/mnt-$tool/big.bin" --readonly \
    --rw=randread --bs=4k --ioengine=psync --iodepth=1 --direct=0 --number_ios="$FIO_IOS" \
    --randrepeat=1 --randseed=1234 --runtime=240 --output-format=json --output="$out" \
    >/dev/null 2>&1 || return 1
  stop_mount "$tool" || return 1
  python3 - "$out" <<'PY' | while read -r metric value; do record "$tool" "$metric" "$value"; done
import json, sys
read = json.load(open(sys.argv[1]))["jobs"][0]["read"]
percentiles = read["clat_ns"]["percentile"]
print("fio_iops", read["iops"])
print("fio_p50_ns", percentiles["50.000000"])
print("fio_p99_ns", percentiles["99.000000"])
print("fio_read_bytes", read["io_bytes"])
PY
  record "$tool" fio_server_bytes "$(log_bytes_since "$mark")"
}

step_one_read() {
  local tool=$1
  fresh "$tool" || return 1
  timeout 30 dd if="$WORK/mnt-$tool/big.bin" of=/dev/null bs=4096 count=1 \
    skip=$((big_bytes / 2 / 4096)) status=none || return 1
  stop_mount "$tool" || return 1
  record "$tool" one_read_bytes "$(log_bytes_since "$mark")"
}

step_unzip() {
  local tool=$1 t
  fresh "$tool" || return 1
  t=$(seconds timeout 120 unzip -l "$WORK/mnt-$tool/data.zip") || return 1
  stop_mount "$tool" || return 1
  record "$tool" unzip_s "$t"
  record "$tool" unzip_bytes "$(log_bytes_since "$mark")"
}

step_sqlite() {
  local tool=$1 start end answer
  fresh "$tool" || return 1
  start=$(now_ns)
  answer=$(timeout 120 sqlite3 "file:$WORK/mnt-$tool/db.sqlite?immutable=1" \
    "select length(payload) from t where k = $query_key") || return 1
  end=$(now_ns)
  [ "$answer" = 1000 ] || return 1
  stop_mount "$tool" || return 1
  record "$tool" sqlite_s "$(awk -v n=$((end - start)) 'BEGIN { printf "%.4f", n / 1e9 }')"
  record "$tool" sqlite_bytes "$(log_bytes_since "$mark")"
}

baselines() {
  local t mark start end
  local TIMEFORMAT='%R %U %S' times
  drop_caches
  times=$({ time timeout 300 curl -s --max-time 300 -o /dev/null "$URL" >/dev/null; } 2>&1) || return 1
  record curl cold_s "$(echo "$times" | awk '{ print $1 }')"
  record curl cpu_s "$(echo "$times" | awk '{ print $2 + $3 }')"
  # The same download into a file on the disk the caches use: the cost of putting the bytes in
  # a local file (its page cache), which any persistent cache pays and curl -o /dev/null does not.
  drop_caches
  t=$(seconds timeout 300 curl -s --max-time 300 -o "$WORK/curl-file.bin" "$URL") || return 1
  rm -f "$WORK/curl-file.bin"
  record curlfile cold_s "$t"
  # The disk itself, past the page cache: the other way a persistent cache could store the bytes.
  t=$(seconds timeout 300 dd if="$WWW/big.bin" of="$WORK/direct.bin" bs=1M oflag=direct status=none) || return 1
  rm -f "$WORK/direct.bin"
  record direct cold_s "$t"
  drop_caches
  start=$(now_ns)
  timeout 30 curl -s --max-time 30 -o /dev/null -r 0-0 "$URL"
  end=$(now_ns)
  record curl first_byte_command_cold_s "$(awk -v n=$((end - start)) 'BEGIN { printf "%.4f", n / 1e9 }')"
  start=$(now_ns)
  record curl first_byte_s "$(timeout 30 curl -s --max-time 30 -o /dev/null -r 0-0 -w '%{time_starttransfer}' "$URL")"
  end=$(now_ns)
  record curl first_byte_command_s "$(awk -v n=$((end - start)) 'BEGIN { printf "%.4f", n / 1e9 }')"
  mark=$(log_mark)
  timeout 30 curl -s --max-time 30 -o /dev/null -r $((big_bytes / 2))-$((big_bytes / 2 + 4095)) "$URL"
  record curl one_read_bytes "$(log_bytes_since "$mark")"
  # The floor of a random read that misses: FIO_IOS 4 KiB range requests at random offsets, one
  # at a time on one kept-alive connection; the median of curl's time_total.
  python3 - "$URL" "$big_bytes" "$FIO_IOS" > "$WORK/random-ranges.curl" <<'PY'
import random, sys
url, size, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
random.seed(1234)
for index in range(count):
    offset = random.randrange(size // 4096) * 4096
    print('%surl = "%s"\nrange = %d-%d\noutput = /dev/null\nwrite-out = "%%{time_total}\\n"'
          % ("next\n" if index else "", url, offset, offset + 4095))
PY
  record curl fio_p50_ns "$(timeout 120 curl -s --max-time 60 -K "$WORK/random-ranges.curl" | sort -n |
    awk '{ t[NR] = $1 } END { if (NR) printf "%.0f", t[int((NR + 1) / 2)] * 1e9 }')"
  t=$(seconds timeout 300 cat "$WWW/big.bin") || return 1
  record pagecache warm_s "$t"
}

# --- Rounds ----------------------------------------------------------------------------------
: > "$RAW"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
rounds_done=0
round_seconds=0
for ((round = 1; round <= RUNS; round++)); do
  elapsed=$(($(date +%s) - script_start))
  if ((round > 1 && elapsed + round_seconds * 11 / 10 > TIME_LIMIT)); then
    say "round $round would end after TIME_LIMIT=${TIME_LIMIT}s; stopping after $rounds_done"
    break
  fi
  round_start=$(date +%s)
  baselines || { say "round $round: a baseline failed"; record curl failed baseline; }
  # The tools take turns going first.
  order=("${TOOLS[@]:$(((round - 1) % 3))}" "${TOOLS[@]:0:$(((round - 1) % 3))}")
  for tool in "${order[@]}"; do
    for step in first_byte sequential remount fio one_read unzip sqlite; do
      say "round $round/$RUNS: $tool $step"
      step_mark=$(log_mark)
      if ! "step_$step" "$tool"; then
        say "$tool: $step failed (log: $(tail -n 2 "$WORK/$tool.log" 2>/dev/null | tr '\n' ' '))"
        record "$tool" "failed" "$step"
      fi
      stop_mount "$tool" || { say "$tool would not unmount"; exit 1; }
      printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$tool" "$step" "$step_mark" "$(log_mark)" >> "$WORK/steps.tsv"
    done
  done
  rounds_done=$round
  round_seconds=$(($(date +%s) - round_start))
  say "round $round took ${round_seconds}s"
done

# --- Peak RSS against file size ---------------------------------------------------------------
# Once, bitsfs alone: the cold read of a file RSS_SCALE times the big one, for the daemon's peak
# RSS next to the rounds' figure. The origin file is sparse (zeros in tmpfs, no memory): what
# the daemon holds does not depend on the bytes.
RSS_SCALE=${RSS_SCALE:-4}
if ((RSS_SCALE > 0 && rounds_done > 0)); then
  round=scale
  say "peak RSS: a cold read of a ${RSS_SCALE}x file"
  truncate -s $((big_bytes * RSS_SCALE)) "$WWW/huge.bin"
  empty_cache bitsfs
  drop_caches
  if start_mount bitsfs "$BASE/huge.bin" && note_pid bitsfs &&
    timeout 900 dd if="$WORK/mnt-bitsfs/huge.bin" of=/dev/null bs=1M status=none; then
    record bitsfs rss_scale_kib "$(peak_rss_kib "${PID[bitsfs]}")"
  else
    record bitsfs failed rss_scale
  fi
  stop_mount bitsfs || { say "bitsfs would not unmount"; exit 1; }
  empty_cache bitsfs
  rm -f "$WWW/huge.bin"
fi

# --- Report ----------------------------------------------------------------------------------
{
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "cpus=$(nproc) ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo))"
  echo "ram=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "kernel=$(uname -r)"
  echo "load=$load_before at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
  echo "bitsfs=$(git rev-parse --short HEAD)"
  echo "httpdirfs=$(httpdirfs --version 2>&1 | awk '/HTTPDirFS version/ { print $3; exit }')"
  echo "rclone=$(rclone version 2>/dev/null | awk 'NR == 1 { print $2 }')"
  echo "fio=$(fio --version)"
  echo "nginx=$(/usr/sbin/nginx -v 2>&1 | sed 's|.*/||')"
  echo "curl=$(curl --version | awk 'NR == 1 { print $2 }')"
  echo "sqlite3=$(sqlite3 --version | awk '{ print $1 }')"
  echo "size_bytes=$big_bytes"
  echo "zip_bytes=$(stat -c %s "$WWW/data.zip")"
  echo "db_bytes=$(stat -c %s "$WWW/db.sqlite")"
  echo "members=$members"
  echo "fio_ios=$FIO_IOS"
  echo "rss_scale=$RSS_SCALE"
  echo "runs=$RUNS"
  echo "rounds=$rounds_done"
  echo "duration=$(($(date +%s) - script_start))"
} > "$WORK/machine.txt"

python3 - "$RAW" "$WORK/machine.txt" > "$WORK/results.md" <<'PY'
import statistics, sys
from collections import defaultdict

values = defaultdict(list)     # (tool, metric) -> values in round order
by_round = defaultdict(dict)   # (round, tool) -> {metric: value}
failed = defaultdict(list)     # tool -> failed steps
for line in open(sys.argv[1]):
    run, tool, metric, value = line.rstrip("\n").split("\t")
    if metric == "failed":
        failed[tool].append(value)
        continue
    values[(tool, metric)].append(value)
    by_round[(run, tool)][metric] = value
machine = dict(line.rstrip("\n").split("=", 1) for line in open(sys.argv[2]))
size = int(machine["size_bytes"])
rounds = int(machine["rounds"])

def numbers(tool, metric, convert=float):
    return [convert(v) for v in values.get((tool, metric), [])]

def mbps(tool, metric):
    return [size / t / 1e6 for t in numbers(tool, metric)]

def cold_ratios(tool, baseline="curl"):
    """Per round: the baseline's cold time over the tool's; against curl, the curl read made
    just before the tool's own (curl_cold_s) where there is one."""
    ratios = []
    for (run, name), metrics in by_round.items():
        if name != tool or "cold_s" not in metrics:
            continue
        if baseline == "curl" and "curl_cold_s" in metrics:
            reference = metrics["curl_cold_s"]
        else:
            reference = by_round.get((run, baseline), {}).get("cold_s")
        if reference is not None:
            ratios.append(float(reference) / float(metrics["cold_s"]))
    return ratios

def human_bytes(n):
    if n < 1024:
        return "%d B" % n
    for unit, scale in (("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30)):
        if n < scale * 1024 or unit == "GiB":
            v = n / scale
            return ("%.1f %s" if v < 100 else "%.0f %s") % (v, unit)

def cell(xs, show):
    if not xs:
        return "—"
    median = statistics.median(xs)
    if len(xs) == 1 or min(xs) == max(xs):
        return show(median)
    return "%s (%s..%s)" % (show(median), show(min(xs)), show(max(xs)))

def med(xs):
    return statistics.median(xs) if xs else None

integer = lambda x: "%.0f" % x
two = lambda x: "%.2f" % x
ms = lambda x: ("%.1f" % x) if x < 100 else ("%.0f" % x)

rows = [("curl -o /dev/null", "curl"), ("curl -o FILE (on the caches' disk)", "curlfile"),
        ("dd oflag=direct of the origin file to the caches' disk", "direct"),
        ("bitsfs", "bitsfs"), ("httpdirfs", "httpdirfs"),
        ("rclone", "rclone"), ("cat of the origin file (page cache)", "pagecache"),
        ("bitsfs cache data file, dd after drop_caches", "cachefile")]

out = []
out.append("| | cold seq MB/s | × curl | curl just before, MB/s | CPU s, cold read | warm MB/s | warm, steady MB/s | re-read after remount MB/s | server bytes, remount re-read | mount → first byte ms | peak RSS MiB | sha256 |")
out.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
for label, tool in rows:
    ratio = cold_ratios(tool) if tool not in ("curl",) else []
    shas = values.get((tool, "sha256"), [])
    out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
        label,
        cell(mbps(tool, "cold_s"), integer),
        "1" if tool == "curl" and values.get(("curl", "cold_s")) else cell(ratio, two),
        cell(mbps(tool, "curl_cold_s"), integer),
        cell(numbers(tool, "cpu_s"), lambda x: "%.1f" % x),
        cell(mbps(tool, "warm_s"), integer),
        cell(mbps(tool, "warm_steady_s" if tool != "pagecache" else "warm_s"), integer),
        cell(mbps(tool, "remount_s"), integer),
        cell(numbers(tool, "remount_bytes"), human_bytes),
        (cell([x * 1000 for x in numbers(tool, "first_byte_s")], ms)
            + (" (cold: %s)" % cell([x * 1000 for x in numbers(tool, "first_byte_cold_s")], ms)
               if numbers(tool, "first_byte_cold_s") else "")
            if tool != "curl" else
            cell([x * 1000 for x in numbers(tool, "first_byte_s")], ms)
            + " (whole command: %s; cold: %s)" % (
                cell([x * 1000 for x in numbers(tool, "first_byte_command_s")], ms),
                cell([x * 1000 for x in numbers(tool, "first_byte_command_cold_s")], ms))),
        cell([x / 1024 for x in numbers(tool, "rss_kib")], integer)
            + (" (%s× file: %s)" % (machine["rss_scale"], cell([x / 1024 for x in numbers(tool, "rss_scale_kib")], integer))
               if numbers(tool, "rss_scale_kib") else ""),
        ", ".join(sorted(set(shas))) if shas else "—"))
out.append("")
out.append("| | fio IOPS | p50 ms | p99 ms | server bytes per byte read | one 4 KiB read: server bytes | unzip -l ms | unzip -l server bytes | sqlite query ms | sqlite server bytes |")
out.append("|---|---|---|---|---|---|---|---|---|---|")
def per_byte(tool):
    return [float(m["fio_server_bytes"]) / float(m["fio_read_bytes"])
            for (run, name), m in by_round.items()
            if name == tool and "fio_server_bytes" in m and float(m.get("fio_read_bytes", 0)) > 0]
for label, tool in [row for row in rows if row[1] in ("curl", "bitsfs", "httpdirfs", "rclone")]:
    out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
        label,
        cell(numbers(tool, "fio_iops"), integer),
        cell([x / 1e6 for x in numbers(tool, "fio_p50_ns")], two),
        cell([x / 1e6 for x in numbers(tool, "fio_p99_ns")], two),
        cell(per_byte(tool), lambda x: "%.1f" % x if x >= 10 else "%.2f" % x),
        cell(numbers(tool, "one_read_bytes"), human_bytes),
        cell([x * 1000 for x in numbers(tool, "unzip_s")], ms),
        cell(numbers(tool, "unzip_bytes"), human_bytes),
        cell([x * 1000 for x in numbers(tool, "sqlite_s")], ms),
        cell(numbers(tool, "sqlite_bytes"), human_bytes)))
for tool, steps in sorted(failed.items()):
    out.append("")
    out.append("**%s failed:** %s" % (tool, ", ".join(steps)))

# bitsfs against its targets, on the medians.
others = ["httpdirfs", "rclone"]
checks = []
def check(name, value, target, ok):
    if value is None or target is None:
        checks.append("| %s | — | — | not measured |" % name)
    else:
        checks.append("| %s | %s | %s | %s |" % (name, value, target, "met" if ok else "**missed**"))
b_cold = med(mbps("bitsfs", "cold_s"))
b_ratio = med(cold_ratios("bitsfs"))
best_other_cold = max([med(mbps(t, "cold_s")) or 0 for t in others])
check("cold seq ≥ 0.9× curl", b_ratio and "%.2f×" % b_ratio, "0.90×", b_ratio and b_ratio >= 0.9)
check("cold seq ≥ 2× the better of httpdirfs/rclone", b_cold and "%.0f MB/s" % b_cold,
      "%.0f MB/s" % (2 * best_other_cold), b_cold and b_cold >= 2 * best_other_cold)
b_warm, cat = med(mbps("bitsfs", "warm_steady_s")), med(mbps("pagecache", "warm_s"))
check("warm (steady) ≥ 0.8× page-cache cat", b_warm and "%.0f MB/s" % b_warm, cat and "%.0f MB/s" % (0.8 * cat),
      b_warm and cat and b_warm >= 0.8 * cat)
b_first = med(mbps("bitsfs", "warm_s"))
check("the same for the first re-read", b_first and "%.0f MB/s" % b_first, cat and "%.0f MB/s" % (0.8 * cat),
      b_first and cat and b_first >= 0.8 * cat)
b_re, direct = med(mbps("bitsfs", "remount_s")), med(mbps("cachefile", "remount_s"))
check("remount re-read ≥ 0.8× direct cache-file read", b_re and "%.0f MB/s" % b_re,
      direct and "%.0f MB/s" % (0.8 * direct), b_re and direct and b_re >= 0.8 * direct)
one = med(numbers("bitsfs", "one_read_bytes"))
check("one 4 KiB read fetches ≤ 512 KiB", one is not None and human_bytes(one), "512 KiB",
      one is not None and one <= 512 * 1024)
b_pb = med(per_byte("bitsfs"))
other_pb = [med(per_byte(t)) for t in others if per_byte(t)]
check("fio bytes per byte ≤ 1/8 of the better other", b_pb and "%.2f" % b_pb,
      other_pb and "%.2f" % (min(other_pb) / 8), b_pb and other_pb and b_pb <= min(other_pb) / 8)
b_p50 = med(numbers("bitsfs", "fio_p50_ns"))
other_p50 = [med(numbers(t, "fio_p50_ns")) for t in others if numbers(t, "fio_p50_ns")]
check("fio p50 ≤ theirs", b_p50 and "%.2f ms" % (b_p50 / 1e6),
      other_p50 and "%.2f ms" % (min(other_p50) / 1e6), b_p50 and other_p50 and b_p50 <= min(other_p50))
uz = med(numbers("bitsfs", "unzip_bytes"))
check("unzip -l fetches ≤ 256 KiB", uz is not None and human_bytes(uz), "256 KiB",
      uz is not None and uz <= 256 * 1024)
sq = med(numbers("bitsfs", "sqlite_bytes"))
check("sqlite query fetches ≤ 512 KiB", sq is not None and human_bytes(sq), "512 KiB",
      sq is not None and sq <= 512 * 1024)
fb, cfb = med(numbers("bitsfs", "first_byte_s")), med(numbers("curl", "first_byte_s"))
ccmd = med(numbers("curl", "first_byte_command_s"))
fb_cold, ccmd_cold = med(numbers("bitsfs", "first_byte_cold_s")), med(numbers("curl", "first_byte_command_cold_s"))
# Both sides start a process: the mount command against the whole curl command, both with their
# program in the page cache and both after drop_caches. Against curl's time_starttransfer alone
# (a process already running), the stricter reading follows.
check("mount → first byte ≤ 1.5× curl command + 20 ms", fb and "%.1f ms" % (fb * 1000),
      ccmd and "%.1f ms" % ((1.5 * ccmd + 0.020) * 1000), fb and ccmd and fb <= 1.5 * ccmd + 0.020)
check("the same, both after drop_caches", fb_cold and "%.1f ms" % (fb_cold * 1000),
      ccmd_cold and "%.1f ms" % ((1.5 * ccmd_cold + 0.020) * 1000),
      fb_cold and ccmd_cold and fb_cold <= 1.5 * ccmd_cold + 0.020)
check("mount → first byte ≤ 1.5× curl time_starttransfer + 20 ms", fb and "%.1f ms" % (fb * 1000),
      cfb and "%.1f ms" % ((1.5 * cfb + 0.020) * 1000), fb and cfb and fb <= 1.5 * cfb + 0.020)
rss = med(numbers("bitsfs", "rss_kib"))
check("peak RSS ≤ 48 MiB", rss and "%.0f MiB" % (rss / 1024), "48 MiB", rss and rss <= 48 * 1024)
# Flat in file size: the bigger file's peak within 10% (and 2 MiB, for rounding) of the big one's.
rss_scaled = med(numbers("bitsfs", "rss_scale_kib"))
rss_flat_limit = rss and min(48 * 1024, max(rss * 1.1, rss + 2048))
check("peak RSS flat in file size (%s× file)" % machine["rss_scale"], rss_scaled and "%.0f MiB" % (rss_scaled / 1024),
      rss_flat_limit and "%.0f MiB" % (rss_flat_limit / 1024), rss_scaled and rss_flat_limit and rss_scaled <= rss_flat_limit)

print("\n".join(out))
print()
print("**bitsfs against its targets** (medians)")
print()
print("| target | bitsfs | limit | |")
print("|---|---|---|---|")
print("\n".join(checks))
to_file = med(cold_ratios("bitsfs", "curlfile"))
if to_file:
    print()
    print("For scale: bitsfs's cold read ran at %.2f× the speed of `curl -o FILE` writing the same"
          " bytes to the caches' disk in the same round (median)." % to_file)
curl_p50 = med(numbers("curl", "fio_p50_ns"))
if curl_p50:
    print()
    print("For scale: one 4 KiB range request on a kept-alive connection, with curl, took %.2f ms"
          " (median of %s at random offsets; curl row of the fio columns). A read that misses"
          " costs at least that." % (curl_p50 / 1e6, machine["fio_ios"]))
PY

{
  echo "# bitsfs, httpdirfs and rclone on the same nginx"
  echo
  echo "Written by \`bench/compare.sh\` on $(sed -n 's/^date=//p' "$WORK/machine.txt")."
  echo "Machine: $(sed -n 's/^cpus=//p' "$WORK/machine.txt") CPUs, $(sed -n 's/^ram=//p' "$WORK/machine.txt") RAM," \
    "kernel $(uname -r), load average (1/5/15 min) $(sed -n 's/^load=//p' "$WORK/machine.txt")."
  echo "Versions: bitsfs $(sed -n 's/^bitsfs=//p' "$WORK/machine.txt"), httpdirfs $(sed -n 's/^httpdirfs=//p' "$WORK/machine.txt")," \
    "rclone $(sed -n 's/^rclone=//p' "$WORK/machine.txt"), $(sed -n 's/^fio=//p' "$WORK/machine.txt"), nginx $(sed -n 's/^nginx=//p' "$WORK/machine.txt")," \
    "curl $(sed -n 's/^curl=//p' "$WORK/machine.txt"), sqlite3 $(sed -n 's/^sqlite3=//p' "$WORK/machine.txt")."
  echo "Data: big.bin $big_bytes bytes; data.zip $(stat -c %s "$WWW/data.zip") bytes, $members stored members;" \
    "db.sqlite $(stat -c %s "$WWW/db.sqlite") bytes, $rows rows with a 1000-byte payload, indexed integer key."
  echo "Median of $rounds_done round(s) (min..max), $(($(date +%s) - script_start)) s in all. Each tool's cold," \
    "random and small reads start on a fresh mount with an empty cache; the machine is shared, so absolute" \
    "figures are noisy and the ratios (measured in the same round) are the figures to compare."
  echo
  cat "$WORK/results.md"
  echo
  echo "Columns: MB/s are 10^6 bytes per second through \`dd bs=1M\`. *× curl*: cold throughput over"
  echo "\`curl -o /dev/null\` of the same file run just before it (*curl just before*; the curl row is"
  echo "its run at the start of the round); every cold figure, curl's too, starts right after"
  echo "drop_caches. *CPU s*: user + system time of the"
  echo "daemon (of curl) up to the end of the cold read. *warm*: a second dd on the same mount, the"
  echo "first re-read, which also moves the pages to the kernel's active list (on any file system);"
  echo "*warm, steady*: a third dd, in the state the page-cache cat of the origin file is measured in."
  echo "*re-read after remount*: unmount, drop_caches, mount again on the same cache, dd. *server bytes*:"
  echo "body bytes nginx logged during the step. fio: $FIO_IOS random 4 KiB psync reads, iodepth 1,"
  echo "buffered, fixed seed; latency is fio's completion latency. *one 4 KiB read*: dd of 4 KiB in the"
  echo "middle of big.bin. *unzip -l* and the sqlite query (\`immutable=1\`, \`where k = …\` on the index)"
  echo "are wall times of the commands. *mount → first byte*: from starting the mount command to \`head -c 1\`"
  echo "returning, with the program in the page cache; *cold*: the same right after drop_caches, so the"
  echo "program and its libraries are read from disk (curl: \`time_starttransfer\` of \`curl -r 0-0\`, and"
  echo "the whole command in both states). Peak RSS: VmHWM of the daemon after"
  echo "the cold sequential read; for bitsfs also, once, after a cold read of a file $RSS_SCALE times as"
  echo "large (sparse on the server: zeros). *dd oflag=direct*: the origin file written to the caches'"
  echo "disk past the page cache, the disk's own speed. Configurations and the reason for each flag: comments in \`bench/compare.sh\`."
} > "$WORK/report.md"
cp "$WORK/report.md" "$RESULTS"
if [ -n "${KEEP:-}" ]; then
  # The evidence: nginx's log, the raw figures, each step's byte range of the log, the tools' logs.
  mkdir -p "$KEEP"
  cp "$LOG" "$RAW" "$WORK/steps.tsv" "$WORK"/*.log "$KEEP"/
  say "kept the logs and raw figures in $KEEP"
fi
cat "$WORK/report.md"
say "wrote $RESULTS"

# Real programs (GDAL, DuckDB, pyarrow, ffmpeg, unzip, tar, sqlite3, mmap) through the same
# tools: bench/real-tools.sh, with its own nginx, data and port, adds its section to RESULTS.
if [ "${REAL_TOOLS:-1}" != 0 ]; then
  say "running bench/real-tools.sh (REAL_TOOLS=0 skips it)"
  RESULTS=$RESULTS KEEP=${KEEP:+$KEEP/real-tools} "$here/real-tools.sh" || say "bench/real-tools.sh failed"
fi
