#!/usr/bin/env bash
# Background fill (--prefetch) against curl, and what it costs foreground readers. In one run,
# once on loopback and once through ../shared/tools/wanproxy.py (WAN_DELAY_MS each way,
# WAN_MBIT per connection) when that proxy is there:
#   - `curl -o` of the fill files, one after the other, to the cache's disk;
#   - background fill of the same files on a fresh mount with no reader (mount to all filled);
#   - the same fill with fio reading another file of the mount at random (4 KiB to 64 KiB reads,
#     O_DIRECT, one at a time) for twice the idle fill's time (3 s to LOAD_SECONDS, 30), and the
#     fill's throughput meanwhile (until it ends, or fio does);
#   - the same fio workload on the first fill file itself while it is being filled, against the
#     same on a mount with no fill: a reader of a file that fill is fetching;
#   - the same fio workload for as long on a fresh mount with no fill: its p50/p99 latency next
#     to the one with fill running.
# Targets: fio's p99 with fill running <= 1.5 x without; fill with no reader >= 0.8 x curl.
# The fio pair runs ROUNDS times (3), alternating; the table shows the round of the median ratio.
#   FILL_MIB=2048 over FILES=4 files (WAN_FILL_MIB=256)  FG_MIB=1024  WAN=1 (0: loopback only)
#   RESULTS=bench/RESULTS.md ("-": stdout)  PORT=8300 (the proxy listens on PORT+1)
#   FILL_OPTIONS="--prefetch-rate 200M" (more options of the mounts that fill)
# Needs root (FUSE, drop_caches) and fio (apt-get install -y fio). About 9 minutes on 2 cores.
SIZE_MIB=${SIZE_MIB:-16}  # common.sh's big.bin, unused here
PORT=${PORT:-8300}
source "$(dirname "$0")/common.sh"
fill_mib=${FILL_MIB:-2048}
wan_fill_mib=${WAN_FILL_MIB:-256}
files=${FILES:-4}
fg_mib=${FG_MIB:-1024}
results=${RESULTS:-bench/RESULTS.md}
wanproxy=$PWD/../shared/tools/wanproxy.py
wan_delay=${WAN_DELAY_MS:-25}
wan_mbit=${WAN_MBIT:-200}
mountpoint=$WORK/mnt
mkdir -p "$mountpoint"
command -v fio >/dev/null || { echo "fill.sh needs fio: apt-get install -y fio" >&2; exit 2; }
cleanup() {
  if [ -n "${fio_pid:-}" ]; then kill "$fio_pid" 2>/dev/null || true; fi
  if mountpoint -q "$mountpoint"; then timeout 20 "$BITSFS" unmount "$mountpoint" || fusermount3 -u -z "$mountpoint"; fi
  if [ -n "${proxy:-}" ]; then kill "$proxy" 2>/dev/null || true; fi
  cleanup_common
}
trap cleanup EXIT

mkdir -p "$WWW/fill" "$WWW/wan"
for ((i = 0; i < files; i++)); do
  head -c $((fill_mib / files << 20)) /dev/urandom >"$WWW/fill/f$i.bin"
  head -c $((wan_fill_mib / files << 20)) /dev/urandom >"$WWW/wan/f$i.bin"
done
head -c $((fg_mib << 20)) /dev/urandom >"$WWW/fg.bin"
sync

# mount_fresh BASE [OPTIONS...]: the server's tree mounted on an empty cache.
mount_fresh() {
  local base=$1
  shift
  mountpoint -q "$mountpoint" && timeout 30 "$BITSFS" unmount "$mountpoint"
  rm -rf "$WORK/cache"
  drop_caches
  timeout 60 "$BITSFS" mount "$base/" "$mountpoint" --cache-dir "$WORK/cache" "$@"
}

# wait_filled DIR [SECONDS]: returns once every file below DIR in the mount is wholly filled, or
# SECONDS passed; prints the bytes filled then.
wait_filled() {
  python3 - "$mountpoint/$1" "${2:-1800}" <<'PY'
import os, sys, time
directory, limit = sys.argv[1], float(sys.argv[2])
paths = [os.path.join(directory, name) for name in os.listdir(directory)]
def stats(path):
    return dict(p.split("=", 1) for p in os.getxattr(path, "user.bitsfs.stats").decode().split() if "=" in p)
deadline = time.monotonic() + limit
while True:
    all_stats = [stats(p) for p in paths]
    if all(s["filled"] == s["size"] for s in all_stats) or time.monotonic() > deadline:
        break
    time.sleep(0.02)
print(sum(int(s["filled"]) for s in all_stats))
PY
}

# The foreground workload: fio's random reads of fg.bin, one at a time.
fio_arguments=(--name=foreground --rw=randread --bsrange=4k-64k --ioengine=psync --iodepth=1 --direct=1
  --randseed=7 --time_based --output-format=json)

# fio_reading FILE SECONDS: the foreground workload on FILE of the mount, for SECONDS; prints
# "p50_ms p99_ms reads".
fio_reading() {
  fio "${fio_arguments[@]}" --filename="$mountpoint/$1" --runtime="$2" --output="$WORK/fio.json" \
    >/dev/null 2>"$WORK/fio.err" || { cat "$WORK/fio.err" >&2; return 1; }
  latency
}

# latency: "p50_ms p99_ms reads" of the last fio run.
latency() {
  python3 - "$WORK/fio.json" <<'PY'
import json, sys
read = json.load(open(sys.argv[1]))["jobs"][0]["read"]
p = read["clat_ns"]["percentile"]
print(f'{p["50.000000"] / 1e6:.2f} {p["99.000000"] / 1e6:.2f} {read["total_ios"]}')
PY
}

# measure LABEL BASE DIR MIB: one row of the table, for the fill files in DIR (MIB in all).
measure() {
  local label=$1 base=$2 dir=$3 mib=$4 curl_s idle_s load_s load_bytes run_s start args=()
  for ((i = 0; i < files; i++)); do args+=(-o "$WORK/out/f$i.bin" "$base/$dir/f$i.bin"); done
  drop_caches
  curl_s=$(seconds curl -sf "${args[@]}")
  rm -f "$WORK/out"/f*.bin

  start=$(date +%s.%N)
  mount_fresh "$base" --prefetch "$dir/*" ${FILL_OPTIONS:-}
  wait_filled "$dir" >/dev/null
  idle_s=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')

  # Fill with fio reading for twice the idle fill's time (3 s to LOAD_SECONDS): the fill's
  # throughput until it ends (or fio does), and fio's latency over the whole run; then the same
  # workload for as long with no fill. ROUNDS pairs, alternating, since other load on the
  # machine moves a p99 more than fill does; the row shows the round of the median ratio.
  run_s=$(awk -v t="$idle_s" -v m="${LOAD_SECONDS:-30}" 'BEGIN { r = int(2 * t + 0.5); printf "%d", (r < 3 ? 3 : r > m ? m : r) }')
  : >"$WORK/rounds.txt"
  for ((round = 0; round < ${ROUNDS:-3}; round++)); do
    start=$(date +%s.%N)
    mount_fresh "$base" --prefetch "$dir/*" ${FILL_OPTIONS:-}
    fio "${fio_arguments[@]}" --filename="$mountpoint/fg.bin" --runtime="$run_s" --output="$WORK/fio.json" \
      >/dev/null 2>"$WORK/fio.err" &
    fio_pid=$!
    load_bytes=$(wait_filled "$dir" "$run_s")
    load_s=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
    wait "$fio_pid" || { cat "$WORK/fio.err" >&2; return 1; }
    fio_pid=
    read -r with_p50 with_p99 with_reads < <(latency)

    mount_fresh "$base"
    read -r alone_p50 alone_p99 alone_reads < <(fio_reading fg.bin "$run_s")
    timeout 30 "$BITSFS" unmount "$mountpoint"
    echo "$(ratio "$with_p99" "$alone_p99") $load_bytes $load_s $with_p50 $with_p99 $with_reads $alone_p50 $alone_p99 $alone_reads" \
      >>"$WORK/rounds.txt"
  done
  local ratios
  ratios=$(awk '{ print $1 }' "$WORK/rounds.txt" | sort -n | paste -sd' ')
  read -r _ load_bytes load_s with_p50 with_p99 with_reads alone_p50 alone_p99 alone_reads \
    < <(sort -n "$WORK/rounds.txt" | sed -n "$(( (${ROUNDS:-3} + 1) / 2 ))p")

  # A reader of a file being filled: fio on the first fill file, with its fill running, and on a
  # mount with no fill; ROUNDS pairs as above.
  : >"$WORK/same.txt"
  for ((round = 0; round < ${ROUNDS:-3}; round++)); do
    mount_fresh "$base" --prefetch "$dir/*" ${FILL_OPTIONS:-}
    read -r same_with_p50 same_with_p99 same_with_reads < <(fio_reading "$dir/f0.bin" "$run_s")
    mount_fresh "$base"
    read -r same_alone_p50 same_alone_p99 same_alone_reads < <(fio_reading "$dir/f0.bin" "$run_s")
    timeout 30 "$BITSFS" unmount "$mountpoint"
    echo "$(ratio "$same_with_p99" "$same_alone_p99") $same_with_p50 $same_with_p99 $same_with_reads $same_alone_p50 $same_alone_p99 $same_alone_reads" \
      >>"$WORK/same.txt"
  done
  local same_ratios
  same_ratios=$(awk '{ print $1 }' "$WORK/same.txt" | sort -n | paste -sd' ')
  read -r same_ratio same_with_p50 same_with_p99 same_with_reads same_alone_p50 same_alone_p99 same_alone_reads \
    < <(sort -n "$WORK/same.txt" | sed -n "$(( (${ROUNDS:-3} + 1) / 2 ))p")
  printf '| %s | %s / %s ms (%s reads) | %s / %s ms (%s reads) | %s× (of %s) |\n' "$label" \
    "$same_alone_p50" "$same_alone_p99" "$same_alone_reads" "$same_with_p50" "$same_with_p99" "$same_with_reads" \
    "$same_ratio" "$same_ratios" >>"$WORK/same-rows.md"

  local curl_rate idle_rate load_rate
  curl_rate=$(awk -v m="$mib" -v t="$curl_s" 'BEGIN { printf "%.0f", m / t }')
  idle_rate=$(awk -v m="$mib" -v t="$idle_s" 'BEGIN { printf "%.0f", m / t }')
  load_rate=$(awk -v b="$load_bytes" -v t="$load_s" 'BEGIN { printf "%.0f", b / 1048576 / t }')
  printf '| %s | %s MiB | %s MiB/s | %s MiB/s (%s× curl) | %s MiB/s | %s of %s s | %s / %s ms (%s reads) | %s / %s ms (%s reads) | %s× |\n' \
    "$label" "$mib" "$curl_rate" "$idle_rate" "$(ratio "$idle_rate" "$curl_rate")" "$load_rate" "$load_s" "$run_s" \
    "$alone_p50" "$alone_p99" "$alone_reads" "$with_p50" "$with_p99" "$with_reads" \
    "$(ratio "$with_p99" "$alone_p99") (of $ratios)" >>"$WORK/rows.md"
  echo "$label: fill idle $(ratio "$idle_rate" "$curl_rate")x curl (target >= 0.8); fio p99 with fill $(ratio "$with_p99" "$alone_p99")x without, median of ${ROUNDS:-3} rounds (target <= 1.5)" >>"$WORK/verdicts.txt"
}

: >"$WORK/rows.md"
: >"$WORK/same-rows.md"
: >"$WORK/verdicts.txt"
measure loopback "$BASE" fill "$fill_mib"
if [ "${WAN:-1}" = 1 ] && [ -f "$wanproxy" ]; then
  python3 "$wanproxy" "$((PORT + 1))" "$PORT" --delay-ms "$wan_delay" --rate-mbit "$wan_mbit" &
  proxy=$!
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$((PORT + 1))/" && break; sleep 0.1; done
  measure "${wan_delay} ms each way, ${wan_mbit} Mbit/s a connection" "http://127.0.0.1:$((PORT + 1))" wan "$wan_fill_mib"
fi

{
  echo "# Background fill (bench/fill.sh)"
  echo
  echo "Written by \`bench/fill.sh\` on $(date -u +%Y-%m-%d) at $(git rev-parse --short HEAD); $(nproc) cores, shared."
  echo "Fill: \`--prefetch\` of $files files at the default priority (low), timed from the mount to the last byte."
  echo "Foreground: fio random reads of 4 KiB to 64 KiB of another file of the mount, O_DIRECT, one at a"
  echo "time, for twice the idle fill's time (3 to ${LOAD_SECONDS:-30} s) from the mount with the fill, and as long on a fresh"
  echo "mount with no fill; \"fill, with fio\" is its throughput until it ended (or fio did), \"fill ran\" that time."
  echo "The pair runs ${ROUNDS:-3} times, alternating; the row shows the round of the median p99 ratio, and all ratios."
  echo
  echo "| link | fill | curl -o | fill, no reader | fill, with fio | fill ran | fio p50 / p99 alone | fio p50 / p99 with fill | p99 ratio |"
  echo "|---|---|---|---|---|---|---|---|---|"
  cat "$WORK/rows.md"
  echo
  echo "A reader of a file being filled: the same fio workload on the first fill file, with its fill"
  echo "running, and on a mount with no fill (median of ${ROUNDS:-3} rounds)."
  echo
  echo "| link | fio p50 / p99, no fill | fio p50 / p99, the file being filled | p99 ratio |"
  echo "|---|---|---|---|"
  cat "$WORK/same-rows.md"
  echo
  sed 's/^/- /' "$WORK/verdicts.txt"
} >"$WORK/section.md"
if [ "$results" = - ]; then cat "$WORK/section.md"; else replace_section "$results" "# Background fill" "$WORK/section.md"; fi
cat "$WORK/verdicts.txt"
