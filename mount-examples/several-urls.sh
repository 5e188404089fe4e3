#!/usr/bin/env bash
# Mount several URLs in one mount point: each appears under its last path segment.
#   ./mount-examples/several-urls.sh     (after ./scripts/setup.sh and swift build -c release --static-swift-stdlib)
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/bitsfs-several.XXXXXX)
trap '.build/release/bitsfs unmount "$work/mnt" 2>/dev/null; ./mount-examples/serve.sh stop "$work/nginx"; rm -rf "$work"' EXIT
mkdir -p "$work/www" "$work/mnt"
head -c 10M /dev/urandom > "$work/www/disk.img"
python3 -c "import zipfile; z=zipfile.ZipFile('$work/www/bundle.zip','w'); [z.writestr(f'doc{i}.txt', 'x'*100000) for i in range(50)]; z.close()"
base=$(./mount-examples/serve.sh start "$work/www" "${PORT:-8090}" "$work/nginx")

.build/release/bitsfs mount "$base/disk.img" "$base/bundle.zip" "$work/mnt" --cache-dir "$work/cache"
ls -l "$work/mnt"
unzip -l "$work/mnt/bundle.zip" | tail -3
.build/release/bitsfs status "$work/mnt"
