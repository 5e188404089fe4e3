#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer + AddressSanitizer) of every parser of outside input:
# response heads, Content-Range, HTTP dates, user-given headers, damaged cache files; and of the
# rules judging a server's answer (an accepted answer is exactly the asked range and version).
# Bounded: FUZZ_SECONDS (default 60) in all. Prints libFuzzer's figures; exits non-zero on a
# crash, leaving the input in .build-fuzz/crashes/ (replay it: .build/debug/bitsfs-fuzz FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
build=.build-fuzz
swift build --product bitsfs-fuzz --build-path "$build" \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING >/dev/null
binary=$build/debug/bitsfs-fuzz
# libFuzzer reports a crash itself; Swift's backtracer would hold the pipes open after it.
export SWIFT_BACKTRACE=enable=no

# Seeds: one well-formed input per parser (the first byte picks the parser).
corpus=$build/corpus
mkdir -p "$corpus" "$build/crashes"
seed() { printf "$2" > "$corpus/seed-$1"; }
seed head '\x00HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-99/1000\r\nContent-Length: 100\r\nETag: "a"\r\n\r\n'
seed headhuge '\x00HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-0/9223372036854775808\r\nContent-Length: 1\r\n'
# Answers to judge: flags, then the size, asked offset and length as 16-bit numbers (see
# FuzzTargets.answer), then the head. A right 206 and 200, and a 206 near the largest size.
validators='ETag: "v"\r\nLast-Modified: Tue, 24 Nov 2026 10:00:00 GMT\r\n'
seed answer206 '\x05\x00\x03\xe8\x00\x64\x00\x63HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 100-199/1000\r\nContent-Length: 100\r\n'"$validators"
seed answer200 '\x05\x00\x03\xe8\x00\x00\x03\xe7HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n'"$validators"
seed answerhuge '\x05\x01\x03\xe8\x00\x64\x00\x63HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 9223372036854710372-9223372036854710471/9223372036854711272\r\n'"$validators"
# A scripted server for the whole path: the size of its body pieces, then its answers (a head,
# an empty line, a body) separated by "\n--\n": the probe of a 300-byte file, then the four
# range requests a read of its first 200 bytes makes (64-byte pieces).
python3 - "$corpus/seed-path" <<'PY'
import sys
head = 'HTTP/1.1 206 Partial Content\r\nContent-Range: bytes %d-%d/300\r\nContent-Length: %d\r\nETag: "v"\r\n\r\n'
body = bytes(range(256)) + bytes(range(44))
answers = [head % (0, 0, 1) + 'x'] + [head % (a, b - 1, b - a) + body[a:b].decode('latin-1')
                                      for a, b in [(0, 64), (64, 128), (128, 192), (192, 208)]]
open(sys.argv[1], 'wb').write(b'\x06\x07' + '\n--\n'.join(answers).encode('latin-1'))
PY
seed storedlisting '\x08BITSLST\x02'
seed listing '\x07text/html\n<html><body><a href="a%20b.txt">a b.txt</a> 12-Nov-2026 10:00 1234\n<a href="../">..</a></body></html>'
seed listingjson '\x07application/json\n[{"name":"x.bin","type":"file","mtime":"Tue, 24 Nov 2026 10:00:00 GMT","size":7}]'
seed date '\x01Sun, 06 Nov 1994 08:49:37 GMT'
seed date850 '\x01Sunday, 06-Nov-94 08:49:37 GMT'
seed dateasc '\x01Sun Nov  6 08:49:37 1994'
seed header '\x02Authorization: Bearer abc'
# A journal: a header record (offset 2^64-1, the epoch) and one range record, checks included.
python3 - "$corpus/seed-journal" <<'PY'
import struct, sys
def fnv(b):
    h = 0xcbf29ce484222325
    for x in b: h = ((h ^ x) * 0x100000001b3) & 0xffffffffffffffff
    return h
def record(offset, length):
    body = struct.pack('<QQ', offset, length)
    return body + struct.pack('<Q', fnv(body))
open(sys.argv[1], 'wb').write(b'\x03' + record(2**64 - 1, 7) + record(0, 4096))
PY
seed meta '\x04{"epoch":7,"format":3,"url":"http://127.0.0.1/fuzz.bin","version":{"size":1048576}}'

# Inputs that once crashed are replayed first, and seed the corpus.
regressions=Tests/fixtures/fuzz-regressions
"$binary" -runs=0 "$regressions"/* >/dev/null 2>"$build/regressions.log" || {
  echo "fuzz: a regression input fails again:" >&2
  tail -n 30 "$build/regressions.log" >&2
  exit 1
}
cp "$regressions"/* "$corpus/"

status=0
"$binary" "$corpus" -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$build/crashes/" -print_final_stats=1 2>"$build/fuzz.log" || status=$?
grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb|INFO: Loaded|.*cov: )' "$build/fuzz.log" | tail -n 4
rm -rf "/tmp/bitsfs-fuzz-"*
if [ "$status" -ne 0 ]; then
  echo "fuzz: a crash; input saved in $build/crashes/:" >&2
  ls "$build/crashes" >&2
  tail -n 30 "$build/fuzz.log" >&2
  exit 1
fi
echo "fuzz: no crash in ${seconds}s"
