#!/usr/bin/env bash
# --cache-limit at 1/4 of the data: the cache directory's size over time (sampled every 20 ms),
# its overshoot (largest seen minus the limit), the hit ratio of a skewed (Zipf-like) random-read
# workload against LRU and the ideal (Belady's MIN) for that cache size, and what eviction costs:
# the same workload, and a cold sequential read of all the data, with and without the limit, in
# the same run.
#   DATA_MIB=256 (over FILES=4 files)  READS=20000  ZIPF_S=1.0  RESULTS=bench/RESULTS.md ("-": stdout)
SIZE_MIB=${SIZE_MIB:-16}  # common.sh's big.bin, unused here
source "$(dirname "$0")/common.sh"
data_mib=${DATA_MIB:-256}
files=${FILES:-4}
reads=${READS:-20000}
zipf_s=${ZIPF_S:-1.0}
limit_mib=$((data_mib / 4))
results=${RESULTS:-bench/RESULTS.md}
mountpoint=$WORK/mnt
mkdir -p "$mountpoint"
cleanup() {
  mountpoint -q "$mountpoint" && { timeout 20 "$BITSFS" unmount "$mountpoint" || fusermount3 -u -z "$mountpoint"; }
  [ -n "${sampler:-}" ] && kill "$sampler" 2>/dev/null
  cleanup_common
}
trap cleanup EXIT

urls=()
for ((i = 0; i < files; i++)); do
  head -c $((data_mib / files << 20)) /dev/urandom >"$WWW/d$i.bin"
  urls+=("$BASE/d$i.bin")
done
sync

# mount_fresh [OPTIONS...]: a mount of every file on an empty cache.
mount_fresh() {
  mountpoint -q "$mountpoint" && timeout 20 "$BITSFS" unmount "$mountpoint"
  rm -rf "$WORK/cache"
  timeout 60 "$BITSFS" mount "${urls[@]}" "$mountpoint" --cache-dir "$WORK/cache" "$@"
}

# The workload, and the simulations of LRU and Belady's MIN on the same trace: random 4 KiB
# reads, each in a 64 KiB block drawn with Zipf-like weights 1/rank^s over every block of the
# data (ranks shuffled over the files). The kernel's page cache is dropped for each range read,
# so every read reaches the mount. A read is a hit when no byte was fetched for it.
workload() {  # LIMIT_BLOCKS: prints "seconds hits reads lru_hits min_hits fetched_bytes"
  python3 - "$mountpoint" "$files" "$reads" "$zipf_s" "$1" <<'PY'
import bisect, os, random, sys, time
mountpoint, files, reads, s, capacity = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
paths = [f"{mountpoint}/d{i}.bin" for i in range(files)]
block = 64 << 10
blocks = [(f, b) for f, p in enumerate(paths) for b in range(os.path.getsize(p) // block)]
rng = random.Random(7)
rng.shuffle(blocks)
weights = [1 / (rank + 1) ** s for rank in range(len(blocks))]
cumulative = []
total = 0.0
for w in weights:
    total += w
    cumulative.append(total)
trace = [blocks[bisect.bisect(cumulative, rng.random() * total)] for _ in range(reads)]
offsets = [rng.randrange(0, block // 4096) * 4096 for _ in range(reads)]

def fetched():
    return sum(int(dict(p.split("=") for p in os.getxattr(path, "user.bitsfs.stats").decode().split() if "=" in p)["fetched"]) for path in paths)

fds = [os.open(p, os.O_RDONLY) for p in paths]
for fd in fds:
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
hits = 0
start_fetched = fetched()
last = start_fetched
start = time.perf_counter()
for (f, b), offset in zip(trace, offsets):
    position = b * block + offset
    assert len(os.pread(fds[f], 4096, position)) == 4096
    os.posix_fadvise(fds[f], position, 4096, os.POSIX_FADV_DONTNEED)
    now = fetched()
    hits += now == last
    last = now
elapsed = time.perf_counter() - start

# LRU of `capacity` blocks.
from collections import OrderedDict
lru, lru_hits = OrderedDict(), 0
for key in trace:
    if key in lru:
        lru_hits += 1
        lru.move_to_end(key)
    else:
        lru[key] = True
        if len(lru) > capacity:
            lru.popitem(last=False)
# Belady's MIN: evict the block used furthest in the future.
import heapq
next_use = [0] * len(trace)
seen = {}
for i in range(len(trace) - 1, -1, -1):
    next_use[i] = seen.get(trace[i], float("inf"))
    seen[trace[i]] = i
cached, heap, min_hits = {}, [], 0
for i, key in enumerate(trace):
    if key in cached:
        min_hits += 1
    elif len(cached) >= capacity:
        while True:
            use, victim = heapq.heappop(heap)
            if cached.get(victim) == -use:
                del cached[victim]
                break
    cached[key] = next_use[i]
    heapq.heappush(heap, (-next_use[i], key))
print(f"{elapsed:.3f} {hits} {reads} {lru_hits} {min_hits} {last - start_fetched}")
PY
}

# Samples the cache directory's size (du -B1 -s) every 20 ms into FILE until killed.
sample_sizes() {  # FILE
  local start
  start=$(date +%s.%N)
  while :; do
    printf "%s %s\n" "$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')" \
      "$(du -s -B1 "$WORK/cache" 2>/dev/null | cut -f1)" >>"$1"
    sleep 0.02
  done
}

limit_bytes=$((limit_mib << 20))
capacity=$((limit_bytes / (64 << 10)))
report=$WORK/report.txt
{
  echo "Written by \`bench/cache-limit.sh\` on $(date -u '+%Y-%m-%d %H:%M') UTC, bitsfs $(git rev-parse --short HEAD)."
  echo "Machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start. Data: $files files," \
    "$data_mib MiB in all, from nginx on 127.0.0.1; limit $limit_mib MiB (1/4), 64 KiB blocks."
  echo
} >"$report"

# 1. The skewed workload with the limit, the cache's size sampled throughout.
mount_fresh --cache-limit "${limit_mib}M"
sample_sizes "$WORK/sizes" &
sampler=$!
read -r limited_s limited_hits _ lru_hits min_hits limited_fetched <<<"$(workload "$capacity")"
# 2. A cold sequential read of all the data through the same limit.
drop_caches
limited_seq=$(seconds cat "${urls[@]/#$BASE/$mountpoint}")
kill "$sampler"
sampler=
for ((i = 0; i < files; i++)); do
  cmp -s "$mountpoint/d$i.bin" "$WWW/d$i.bin" || { echo "d$i.bin differs through the limited mount" >&2; exit 1; }
done
largest=$(awk '$2 > max { max = $2 } END { print max + 0 }' "$WORK/sizes")

# 3. The same without any limit (nor a free-space floor).
mount_fresh --cache-min-free 0
read -r free_s free_hits _ _ _ free_fetched <<<"$(workload "$capacity")"
drop_caches
free_seq=$(seconds cat "${urls[@]/#$BASE/$mountpoint}")
unlimited_size=$(du -s -B1 "$WORK/cache" | cut -f1)

mibps() { awk -v s="$data_mib" -v t="$1" 'BEGIN { printf "%.0f MiB/s", s / t }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
percent() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f%%", 100 * a / b }'; }
{
  echo "Cache directory size during the skewed reads and the sequential read (du every 20 ms; limit $limit_mib MiB):"
  echo
  echo "| t (s) | MiB |"
  echo "|---|---|"
  awk -v rows=12 '{ t[NR] = $1; s[NR] = $2 } END { step = NR / rows; if (step < 1) step = 1;
    for (i = 1; i <= NR; i += step) printf "| %s | %.1f |\n", t[int(i)], s[int(i)] / 1048576;
    printf "| %s | %.1f |\n", t[NR], s[NR] / 1048576 }' "$WORK/sizes"
  echo
  echo "Largest seen: $(mib "$largest") MiB; overshoot (largest minus limit): $(mib $((largest - limit_bytes))) MiB." \
    "Without the limit the cache ends at $(mib "$unlimited_size") MiB."
  echo
  echo "| $reads random 4 KiB reads, Zipf s=$zipf_s over $((data_mib << 4)) blocks | hit ratio | reads/s | MiB fetched |"
  echo "|---|---|---|---|"
  echo "| bitsfs, --cache-limit ${limit_mib}M | $(percent "$limited_hits" "$reads") | $(awk -v n="$reads" -v t="$limited_s" 'BEGIN { printf "%.0f", n / t }') | $(mib "$limited_fetched") |"
  echo "| LRU of $capacity blocks (simulated) | $(percent "$lru_hits" "$reads") | — | — |"
  echo "| ideal for $capacity blocks (Belady's MIN, simulated) | $(percent "$min_hits" "$reads") | — | — |"
  echo "| bitsfs, no limit | $(percent "$free_hits" "$reads") | $(awk -v n="$reads" -v t="$free_s" 'BEGIN { printf "%.0f", n / t }') | $(mib "$free_fetched") |"
  echo
  echo "Cold sequential read of all $data_mib MiB (cat, after drop_caches): with the limit" \
    "$limited_seq s ($(mibps "$limited_seq")), without $free_seq s ($(mibps "$free_seq"))."
  echo
  echo "One run on a shared machine: the hit ratios follow from the seeded trace, the throughputs are noisy" \
    "(compare the two in the same run). The simulations hold $capacity blocks; bitsfs holds between 7/8 of" \
    "the limit and all of it, its metadata included, and counts a read as a hit only when nothing was fetched for it."
} >>"$report"

cat "$report"
if [ "$results" != - ]; then
  { echo "# Cache limit: size over time, hit ratio, cost of eviction"; echo; cat "$report"; } > "$report.md"
  replace_section "$results" "# Cache limit" "$report.md"
fi
