#!/usr/bin/env bash
# Start or stop a private nginx serving a directory on 127.0.0.1.
#   serve.sh start ROOT PORT STATE_DIR   # prints the base URL
#   serve.sh stop STATE_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
case "${1:-}" in
  start)
    root=$(cd "$2" && pwd); port=$3; state=$4
    mkdir -p "$state/tmp"
    sed -e "s|@PREFIX@|$state|g" -e "s|@ROOT@|$root|g" -e "s|@PORT@|$port|g" \
      "$here/nginx.conf.in" > "$state/nginx.conf"
    [ "$(id -u)" = 0 ] && sed -i '1i user root;' "$state/nginx.conf"
    /usr/sbin/nginx -p "$state" -c "$state/nginx.conf" -e "$state/error.log"
    for _ in $(seq 50); do
      curl -s -o /dev/null "http://127.0.0.1:$port/" && break
      sleep 0.1
    done
    echo "http://127.0.0.1:$port"
    ;;
  stop)
    state=$2
    if [ -f "$state/nginx.pid" ]; then kill "$(cat "$state/nginx.pid")" 2>/dev/null || true; fi
    ;;
  *) echo "usage: serve.sh start ROOT PORT STATE_DIR | stop STATE_DIR" >&2; exit 2 ;;
esac
