#!/usr/bin/env bash
# The local demo: serve a file with nginx on 127.0.0.1, mount it with bitsfs, read a little
# of it, and show with `bitsfs status` what was fetched: only the parts read.
#   ./mount-examples/demo.sh            (after ./scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/bitsfs-demo.XXXXXX)
port=${PORT:-8089}
mountpoint=$work/mnt
cleanup() {
  mountpoint -q "$mountpoint" 2>/dev/null && { .build/release/bitsfs unmount "$mountpoint" || fusermount3 -u -z "$mountpoint"; }
  ./mount-examples/serve.sh stop "$work/nginx"
  rm -rf "$work"
}
trap cleanup EXIT

echo "== building bitsfs (release)"
swift build -c release --static-swift-stdlib --product bitsfs 2>&1 | tail -1
bitsfs=.build/release/bitsfs

echo "== serving a 256 MiB file on 127.0.0.1:$port"
mkdir -p "$work/www" "$mountpoint"
head -c $((256 << 20)) /dev/urandom > "$work/www/big.iso"
url=$(./mount-examples/serve.sh start "$work/www" "$port" "$work/nginx")/big.iso

echo "== bitsfs mount $url $mountpoint"
$bitsfs mount "$url" "$mountpoint" --cache-dir "$work/cache"
ls -l "$mountpoint"
$bitsfs status "$mountpoint"

echo "== reading 4 KiB at 100 MiB, and the last 1 KiB"
dd if="$mountpoint/big.iso" bs=4096 skip=25600 count=1 status=none | sha256sum
dd if="$work/www/big.iso" bs=4096 skip=25600 count=1 status=none | sha256sum
tail -c 1024 "$mountpoint/big.iso" | sha256sum
$bitsfs status "$mountpoint"

echo "== reading the whole file (sha256sum through the mount, then of the original)"
sha256sum "$mountpoint/big.iso" "$work/www/big.iso"
$bitsfs status "$mountpoint"
getfattr -d "$mountpoint/big.iso" 2>/dev/null | grep -v filled || true

echo "== bitsfs unmount"
$bitsfs unmount "$mountpoint"
echo "demo finished"
