#!/usr/bin/env bash
# Mount a file that needs an Authorization header. The header is sent with every request and
# never written to disk or to the log. serve.sh protects /private/ with "Bearer demo-token".
#   ./mount-examples/auth-header.sh      (after ./scripts/setup.sh and swift build -c release --static-swift-stdlib)
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/bitsfs-auth.XXXXXX)
trap '.build/release/bitsfs unmount "$work/mnt" 2>/dev/null; ./mount-examples/serve.sh stop "$work/nginx"; rm -rf "$work"' EXIT
mkdir -p "$work/www" "$work/mnt"
head -c 1M /dev/urandom > "$work/www/report.bin"
base=$(./mount-examples/serve.sh start "$work/www" "${PORT:-8091}" "$work/nginx")

echo "without the header:"
.build/release/bitsfs mount "$base/private/report.bin" "$work/mnt" --cache-dir "$work/cache" || true
echo "with it:"
.build/release/bitsfs mount --header "Authorization: Bearer demo-token" \
  "$base/private/report.bin" "$work/mnt" --cache-dir "$work/cache"
sha256sum "$work/mnt/report.bin" "$work/www/report.bin"
