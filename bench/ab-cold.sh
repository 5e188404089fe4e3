#!/usr/bin/env bash
# Paired cold reads of several builds of bitsfs, to tell a change from the noise of a shared
# machine. Each round drops caches and reads the big file once with curl and once through a fresh
# mount of each build, in turn. Prints, per build, the median time and its ratio to curl's, and
# the medians of the daemon's CPU and of the whole machine's busy CPU during the read, then every
# round's time, so that wins can be counted round by round.
#
#   bench/ab-cold.sh [OTHER-BUILD ...]     the current release build is always measured, last
#
# ROUNDS (default 7) and SIZE_MIB (default 1024) change the run; BITSFS_FLAGS adds mount options
# (split on spaces) to every build's mount; ORIGIN=disk serves the file from the disk the caches
# write to (default tmpfs: drop_caches spares the origin, as for a remote server, whose reads
# never compete with the cache's writes). Needs root: drop_caches, FUSE.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
builds=()
for build in "$@"; do builds+=("$(realpath "$build")"); done
if [ "${ORIGIN:-tmpfs}" = tmpfs ]; then
  BENCH_WWW=$(mktemp -d /dev/shm/bitsfs-ab-www.XXXXXX)
  trap 'rm -rf "$BENCH_WWW"' EXIT  # until common.sh's cleanup takes over
fi
source "$here/common.sh"  # cd to the repository; BITSFS, WORK, WWW, URL, big.bin, helpers
builds+=("$BITSFS")
mnt=$WORK/mnt
mkdir -p "$mnt"
trap 'mountpoint -q "$mnt" && fusermount3 -u -z "$mnt"; cleanup_common' EXIT

busy_seconds() { awk '/^cpu / { print ($2 + $3 + $4 + $7 + $8) / 100 }' /proc/stat; }
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# The median of the numbers on stdin, with their min..max.
spread() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { printf "%s (%s..%s)", v[int((NR + 1) / 2)], v[1], v[NR] }'; }

declare -A times daemon machine
for round in $(seq 1 "${ROUNDS:-7}"); do
  drop_caches
  times[curl]+="$(seconds curl -s -o /dev/null "$URL") "
  for i in "${!builds[@]}"; do
    build=${builds[$i]}
    rm -rf "$WORK/cache"
    drop_caches
    # shellcheck disable=SC2086
    "$build" mount "$URL" "$mnt" --cache-dir "$WORK/cache" ${BITSFS_FLAGS:-}
    pid=$(getfattr --absolute-names --only-values -n user.bitsfs.pid "$mnt")
    before=$(busy_seconds)
    times[$i]+="$(seconds dd if="$mnt/big.bin" of=/dev/null bs=1M status=none) "
    machine[$i]+="$(awk -v a="$before" -v b="$(busy_seconds)" 'BEGIN { print b - a }') "
    daemon[$i]+="$(cpu_seconds "$pid") "
    "$build" unmount "$mnt"
  done
done

curl_median=$(echo "${times[curl]}" | median)
echo "cold read of $SIZE_MIB MiB from ${ORIGIN:-tmpfs}, ${ROUNDS:-7} rounds (medians; seconds per round in brackets)"
echo "  curl -o /dev/null  $curl_median s  [${times[curl]% }]"
for i in "${!builds[@]}"; do
  m=$(echo "${times[$i]}" | median)
  echo "  ${builds[$i]}"
  echo "    $m s, $(ratio "$curl_median" "$m") of curl; daemon CPU $(echo "${daemon[$i]}" | median) s," \
    "machine busy $(echo "${machine[$i]}" | median) CPU s  [${times[$i]% }]"
  echo "    daemon CPU s per round $(echo "${daemon[$i]}" | spread)  [${daemon[$i]% }]"
done
