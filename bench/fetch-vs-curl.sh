#!/usr/bin/env bash
# `bitsfs fetch` of a 1 GiB file against `curl -o` of the same file from the same nginx, in
# one run (RUNS alternating rounds, median reported), then the interval-map figures.
# SIZE_MIB=… and RUNS=… change the file size and the number of rounds.
source "$(dirname "$0")/common.sh"
swift build -c release --product bitsfs-bench >/dev/null
runs=${RUNS:-3}

median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

cat "$WWW/big.bin" >/dev/null  # the server reads from its page cache in every round
curl_times=() fetch_times=()
for _ in $(seq "$runs"); do
  curl_times+=("$(seconds curl -s -o "$WORK/out/curl.bin" "$URL")")
  rm -f "$WORK/out/curl.bin"
  fetch_times+=("$(seconds "$BITSFS" fetch -q "$URL" "$WORK/out/fetch.bin")")
  cmp -s "$WORK/out/fetch.bin" "$WWW/big.bin" || { echo "fetch produced different bytes" >&2; exit 1; }
  rm -f "$WORK/out/fetch.bin"
done
curl_time=$(median "${curl_times[@]}")
fetch_time=$(median "${fetch_times[@]}")

echo "file: $SIZE_MIB MiB from nginx on 127.0.0.1, median of $runs alternating rounds"
printf "  %-22s %8s s  %-11s (rounds: %s)\n" "curl -o (baseline)" "$curl_time" "$(rate "$curl_time")" "${curl_times[*]}"
printf "  %-22s %8s s  %-11s (rounds: %s)\n" "bitsfs fetch" "$fetch_time" "$(rate "$fetch_time")" "${fetch_times[*]}"
echo "  bitsfs fetch throughput / curl throughput: $(ratio "$curl_time" "$fetch_time")"
echo
.build/release/bitsfs-bench
