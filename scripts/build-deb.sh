#!/usr/bin/env bash
# Builds a Debian package of bitsfs with dpkg-deb, offline: the static release binary (from
# scripts/install.sh, PREFIX=/usr), its man page, the bash, zsh and fish completions, the systemd
# unit bitsfs@.service (one mount per /etc/bitsfs/NAME.env), examples of an fstab line and of an
# instance's settings, and the copyright from LICENSE. Depends names the Debian packages of the
# libraries the binary links (dpkg-shlibdeps), and fuse3 (mount.fuse3, fusermount3), so that
# `mount -t fuse.bitsfs` and fstab lines of type fuse.bitsfs work once installed.
#   scripts/build-deb.sh                 # writes .build/deb/bitsfs_VERSION_ARCH.deb, prints its path
#   OUTPUT_DIR=DIR NO_BUILD=1 scripts/build-deb.sh    # into DIR, from the release build already made
#                                                     # (and MANUAL_GENERATOR: see scripts/install.sh)
# Install with `apt install ./bitsfs_VERSION_ARCH.deb`, remove with `apt remove bitsfs`.
set -euo pipefail
cd "$(dirname "$0")/.."
umask 022
output=${OUTPUT_DIR:-.build/deb}
version=$(sed -n 's/^let version = "\(.*\)"$/\1/p' Sources/bitsfs/BitsFS.swift)
[ -n "$version" ] || { echo "build-deb: no version in Sources/bitsfs/BitsFS.swift" >&2; exit 1; }
architecture=$(dpkg --print-architecture)
stage=$(mktemp -d "${TMPDIR:-/tmp}/bitsfs-deb-XXXXXX")
trap 'rm -rf "$stage"' EXIT
# dpkg-shlibdeps wants the tree of a source package: debian/control, the package in debian/bitsfs.
root=$stage/debian/bitsfs
mkdir -p -m 0755 "$root/DEBIAN"

DESTDIR=$root PREFIX=/usr ./scripts/install.sh >/dev/null
# Debian's places: zsh's completions of packages, and man pages compressed.
mkdir -p "$root/usr/share/zsh/vendor-completions"
mv "$root/usr/share/zsh/site-functions/_bitsfs" "$root/usr/share/zsh/vendor-completions/_bitsfs"
rmdir "$root/usr/share/zsh/site-functions"
gzip -9n "$root/usr/share/man/man1/bitsfs.1"

install -D -m 0644 packaging/bitsfs@.service "$root/usr/lib/systemd/system/bitsfs@.service"
docs=$root/usr/share/doc/bitsfs
install -D -m 0644 LICENSE "$docs/copyright"
install -D -m 0644 mount-examples/fstab.txt "$docs/examples/fstab"
install -D -m 0644 packaging/bitsfs.env.example "$docs/examples/bitsfs.env"
install -D -m 0644 README.md "$docs/README.md"
gzip -9n "$docs/README.md"

# The packages of the shared libraries the binary links, with the versions their symbols need.
printf 'Source: bitsfs\n\nPackage: bitsfs\nArchitecture: any\n' > "$stage/debian/control"
libraries=$(cd "$stage" && dpkg-shlibdeps -O debian/bitsfs/usr/bin/bitsfs | sed -n 's/^shlibs:Depends=//p')
[ -n "$libraries" ] || { echo "build-deb: dpkg-shlibdeps named no library packages" >&2; exit 1; }

cat > "$root/DEBIAN/control" <<CONTROL
Package: bitsfs
Version: $version
Architecture: $architecture
Maintainer: The bitsfs authors <bitsfs@localhost>
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f 1)
Depends: $libraries, fuse3
Section: utils
Priority: optional
Description: use remote HTTP(S) files as if they were local
 bitsfs mounts remote HTTP(S) files as a read-only FUSE file system; nothing is
 downloaded up front. Reads become HTTP range requests, the bytes land in a
 persistent on-disk cache, and bytes already fetched are never fetched twice.
 Underneath is a download-job engine modelled on Microsoft BITS.
CONTROL

mkdir -p "$output"
package=$output/bitsfs_${version}_${architecture}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$package" >/dev/null
echo "$package"
