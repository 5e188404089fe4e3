# Mounting the compared tools and counting what the server sent, shared by bench/compare.sh,
# bench/real-tools.sh and bench/tree.sh. Source after common.sh, with LOG (nginx's access log), an
# associative array PID (declare -A PID=()), TOOLS, `say` and MOUNT_FILES (the names under $BASE
# that bitsfs mounts and `fresh` looks up) set. A tool named bitsfs-SOMETHING is bitsfs too, on
# its own mount point and cache (bench/tree.sh mounts two kinds of listing side by side).

# The exit trap: unmounts every tool's mount, then cleans up as common.sh does; a mount that
# will not go leaves $WORK in place and says so.
cleanup_mounts() {
  local status=$? tool
  trap - EXIT INT TERM
  for tool in "${TOOLS[@]}"; do stop_mount "$tool" || true; done
  for tool in "${TOOLS[@]}"; do
    if is_mounted "$WORK/mnt-$tool"; then
      say "$WORK/mnt-$tool is still mounted; $WORK is left in place"
      ./mount-examples/serve.sh stop "$WORK/nginx"
      exit "$status"
    fi
  done
  cleanup_common
  exit "$status"
}

is_bitsfs() { [[ $1 == bitsfs || $1 == bitsfs-* ]]; }
is_mounted() { awk -v m="$1" '$2 == m { found = 1 } END { exit !found }' /proc/mounts; }
# A process that has exited; a child of this script stays a zombie until waited for.
gone() { [ ! -e "/proc/$1" ] || [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = Z ]; }
wait_gone() {  # PID TENTHS
  local i
  for ((i = 0; i < $2; i++)); do gone "$1" && return 0; sleep 0.1; done
  return 1
}

log_mark() { stat -c %s "$LOG"; }
# Body bytes of the log lines appended since MARK, once nginx has stopped appending.
log_bytes_since() {
  local size last=-1 i
  for ((i = 0; i < 25; i++)); do
    size=$(stat -c %s "$LOG")
    [ "$size" = "$last" ] && break
    last=$size
    sleep 0.2
  done
  tail -c +$(($1 + 1)) "$LOG" | awk '{ sum += $5 } END { print sum + 0 }'
}

# --- The tools -------------------------------------------------------------------------------
# Each mounts MOUNT_FILES (bitsfs: their URLs; the others: the directory, from nginx's
# autoindex listing) read-only on $WORK/mnt-TOOL with a persistent cache in $WORK/cache-TOOL.
# Everything not named here is each tool's default. `start_mount TOOL URL...` mounts the URLs
# given instead (bitsfs: any number; httpdirfs and rclone: one directory URL, ending in /).
start_mount() {
  local tool=$1 mnt=$WORK/mnt-$1 cache=$WORK/cache-$1 i
  mkdir -p "$mnt" "$cache"
  case $tool in
    bitsfs | bitsfs-*)
      # Defaults: 64 KiB blocks, read-ahead earned by sequential reading up to 64 MiB,
      # persistent cache. The command daemonizes and returns once the mount answers.
      local urls=("${@:2}")
      ((${#urls[@]})) || urls=("${MOUNT_FILES[@]/#/$BASE/}")
      # BITSFS_FLAGS: more mount options, split on spaces (e.g. "--block-size 16384").
      # shellcheck disable=SC2086
      timeout 60 "$BITSFS" mount "${urls[@]}" "$mnt" --cache-dir "$cache" ${BITSFS_FLAGS:-} >>"$WORK/$tool.log" 2>&1 || return 1
      return 0
      ;;
    httpdirfs)
      # -f: stays in the foreground, so this script owns its pid and can end it.
      # --cache --cache-location: its persistent disk cache (off by default), like bitsfs's.
      # --no-range-check: httpdirfs 1.2.5 looks for "Accept-Ranges: bytes" in the answer to its
      #   first range request; nginx sends that header on 200 answers only, not on 206, so
      #   without the flag every open fails with "This web server does not support HTTP range
      #   requests" although nginx serves ranges.
      # Defaults kept: 8 MiB download segments (--dl-seg-size), 10 connections (--max-conns).
      httpdirfs -f --cache --cache-location "$cache" --no-range-check "${2:-$BASE/}" "$mnt" \
        >>"$WORK/$tool.log" 2>&1 &
      PID[$tool]=$!
      ;;
    rclone)
      # :http: with --http-url: an on-the-fly remote for nginx's listing; --config /dev/null:
      #   no config file is read or written.
      # --vfs-cache-mode full: reads go through a sparse on-disk cache that keeps only the
      #   ranges read, persistent across mounts: the mode that does what bitsfs's cache does.
      # --cache-dir: its own cache directory, emptied for each cold mount.
      # --read-only: like the other two.
      # Defaults kept: --vfs-read-chunk-size 128M (doubling), --buffer-size 16M,
      #   --vfs-read-ahead 0, --attr-timeout 1s, --dir-cache-time 5m.
      rclone mount :http: "$mnt" --http-url "${2:-$BASE/}" --config /dev/null \
        --vfs-cache-mode full --cache-dir "$cache" --read-only \
        >>"$WORK/$tool.log" 2>&1 &
      PID[$tool]=$!
      ;;
  esac
  for ((i = 0; i < 4000; i++)); do  # at most ~20 s
    is_mounted "$mnt" && return 0
    gone "${PID[$tool]}" && return 1
    sleep 0.005
  done
  return 1
}

# After start_mount, outside the timed part: the pid of bitsfs's daemon.
note_pid() {
  is_bitsfs "$1" || return 0
  PID[$1]=$(timeout 10 getfattr --absolute-names --only-values -n user.bitsfs.pid "$WORK/mnt-$1")
}

# Unmounts (fusermount3 -u -z if a plain unmount fails) and waits for the daemon to exit,
# ending it by its pid if it does not.
stop_mount() {
  local tool=$1 mnt=$WORK/mnt-$1 pid=${PID[$1]:-}
  if is_mounted "$mnt"; then
    if is_bitsfs "$tool"; then
      timeout 20 "$BITSFS" unmount "$mnt" >/dev/null 2>&1 || timeout 10 fusermount3 -u -z "$mnt" || true
    else
      timeout 20 fusermount3 -u "$mnt" 2>/dev/null || timeout 10 fusermount3 -u -z "$mnt" || true
    fi
  fi
  if [ -n "$pid" ]; then
    if ! wait_gone "$pid" 300; then
      say "$tool (pid $pid) did not exit after unmounting; ending it"
      kill "$pid" 2>/dev/null || true
      wait_gone "$pid" 50 || kill -9 "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true  # reaps a child of this script; nothing for bitsfs's daemon
  fi
  PID[$tool]=""
  ! is_mounted "$mnt"
}

empty_cache() { rm -rf "$WORK/cache-$1"; }

# fresh TOOL: a new mount on an empty cache, its lookups done, and the log mark after them.
fresh() {
  empty_cache "$1"
  start_mount "$1" || return 1
  note_pid "$1" || return 1
  timeout 30 stat "${MOUNT_FILES[@]/#/$WORK/mnt-$1/}" >/dev/null || return 1
  mark=$(log_mark)
}
