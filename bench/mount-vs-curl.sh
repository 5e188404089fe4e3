#!/usr/bin/env bash
# Reads through a bitsfs mount against curl on the same nginx, in one run:
#   cold sequential read of a 1 GiB file (dd bs=1M) vs curl -o /dev/null, warm re-read,
#   random 4 KiB reads (latency, bytes fetched per byte read), and the daemon's peak memory.
# SIZE_MIB=… changes the file size, READS=… the number of random reads.
source "$(dirname "$0")/common.sh"
reads=${READS:-300}
mountpoint=$WORK/mnt
mkdir -p "$mountpoint"
cleanup() {
  mountpoint -q "$mountpoint" && { "$BITSFS" unmount "$mountpoint" || fusermount3 -u -z "$mountpoint"; }
  sleep 0.5
  cleanup_common
}
trap cleanup EXIT

mount_fresh() {
  mountpoint -q "$mountpoint" && "$BITSFS" unmount "$mountpoint"
  rm -rf "$WORK/cache"
  "$BITSFS" mount "$URL" "$mountpoint" --cache-dir "$WORK/cache"
}
daemon_pid() { getfattr --absolute-names --only-values -n user.bitsfs.pid "$mountpoint"; }

cat "$WWW/big.bin" >/dev/null
curl_time=$(seconds curl -s -o /dev/null "$URL")
# A client that keeps what it downloads writes it to disk too, as the mount's cache does.
curl_file_time=$(seconds curl -s -o "$WORK/out/curl.bin" "$URL")
rm -f "$WORK/out/curl.bin"
mount_fresh
cold_time=$(seconds dd if="$mountpoint/big.bin" of=/dev/null bs=1M status=none)
warm_time=$(seconds dd if="$mountpoint/big.bin" of=/dev/null bs=1M status=none)
sum_mount=$(sha256sum < "$mountpoint/big.bin")
sum_origin=$(sha256sum < "$WWW/big.bin")
[ "$sum_mount" = "$sum_origin" ] || { echo "the mount gave different bytes" >&2; exit 1; }
peak_sequential=$(peak_rss_kib "$(daemon_pid)")

# Random 4 KiB reads on a cold mount: latency of each, and what they cost on the wire.
mount_fresh
random_report=$(python3 - "$mountpoint/big.bin" "$reads" <<'PY'
import os, random, sys, time
path, count = sys.argv[1], int(sys.argv[2])
size = os.path.getsize(path)
rng = random.Random(1)
fd = os.open(path, os.O_RDONLY)
latencies = []
for _ in range(count):
    offset = rng.randrange(0, size - 4096) // 4096 * 4096
    start = time.perf_counter()
    assert len(os.pread(fd, 4096, offset)) == 4096
    latencies.append((time.perf_counter() - start) * 1000)
latencies.sort()
print("%.2f %.2f %.2f" % (latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)], sum(latencies) / len(latencies)))
PY
)
stats=$(getfattr --absolute-names --only-values -n user.bitsfs.stats "$mountpoint/big.bin")
fetched=$(echo "$stats" | tr ' ' '\n' | awk -F= '$1 == "fetched" { print $2 }')
requests=$(echo "$stats" | tr ' ' '\n' | awk -F= '$1 == "requests" { print $2 }')
peak_random=$(peak_rss_kib "$(daemon_pid)")
read -r p50 p99 mean <<<"$random_report"

echo "file: $SIZE_MIB MiB from nginx on 127.0.0.1"
printf "  %-36s %8s s  %s\n" "curl -o /dev/null (baseline)" "$curl_time" "$(rate "$curl_time")"
printf "  %-36s %8s s  %s\n" "curl -o FILE (baseline, keeps a copy)" "$curl_file_time" "$(rate "$curl_file_time")"
printf "  %-36s %8s s  %s\n" "cold sequential read, dd bs=1M" "$cold_time" "$(rate "$cold_time")"
printf "  %-36s %8s s  %s\n" "warm re-read, dd bs=1M" "$warm_time" "$(rate "$warm_time")"
echo "  cold mount read throughput / curl -o /dev/null: $(ratio "$curl_time" "$cold_time")," \
  "/ curl -o FILE: $(ratio "$curl_file_time" "$cold_time")"
echo "random 4 KiB reads on a cold mount ($reads reads)"
echo "  latency: median $p50 ms, p99 $p99 ms, mean $mean ms"
echo "  fetched $fetched bytes in $requests requests for $((reads * 4096)) bytes read:" \
  "$(ratio "$fetched" "$((reads * 4096))") bytes fetched per byte read"
echo "daemon peak resident memory: $((peak_sequential / 1024)) MiB after the sequential reads," \
  "$((peak_random / 1024)) MiB after the random reads"
