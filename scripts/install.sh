#!/usr/bin/env bash
# Builds the static release binary and installs it with its man page and shell completions,
# both generated from the command line's own definition (swift-argument-parser):
#   PREFIX/bin/bitsfs                                   (PREFIX defaults to /usr/local)
#   PREFIX/share/man/man1/bitsfs.1
#   PREFIX/share/bash-completion/completions/bitsfs
#   PREFIX/share/zsh/site-functions/_bitsfs
#   PREFIX/share/fish/vendor_completions.d/bitsfs.fish
# DESTDIR is put before every path (for packaging). NO_BUILD=1 installs the release binary already
# built instead of building it, with the man page made by the generate-manual already built
# (MANUAL_GENERATOR, default .build/release/generate-manual; a debug one makes the same page, as
# it reads the release binary's options). mount(8) runs fstab mounts (fuse.bitsfs) with a PATH
# of its own, which has /usr/local/bin and /usr/bin.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${PREFIX:-/usr/local}
destination=${DESTDIR:-}$prefix
binary=.build/release/bitsfs
generator=${MANUAL_GENERATOR:-.build/release/generate-manual}
if [ "${NO_BUILD:-0}" = 1 ]; then
  for program in "$binary" "$generator"; do
    [ -x "$program" ] || { echo "install: NO_BUILD=1, but $program is not built" >&2; exit 1; }
  done
else
  swift build -c release --static-swift-stdlib --product bitsfs
  # The man page generator reads the release build's own description of its options.
  swift build -c release --product generate-manual
fi
pages=$(mktemp -d "${TMPDIR:-/tmp}/bitsfs-man-XXXXXX")
trap 'rm -rf "$pages"' EXIT
"$generator" "$binary" --output-directory "$pages"

install -D -m 0755 "$binary" "$destination/bin/bitsfs"
install -D -m 0644 "$pages/bitsfs.1" "$destination/share/man/man1/bitsfs.1"
"$binary" --generate-completion-script bash > "$pages/bash"
"$binary" --generate-completion-script zsh > "$pages/zsh"
"$binary" --generate-completion-script fish > "$pages/fish"
install -D -m 0644 "$pages/bash" "$destination/share/bash-completion/completions/bitsfs"
install -D -m 0644 "$pages/zsh" "$destination/share/zsh/site-functions/_bitsfs"
install -D -m 0644 "$pages/fish" "$destination/share/fish/vendor_completions.d/bitsfs.fish"
echo "install: $("$binary" --version) in $destination"
