#!/usr/bin/env bash
# Installs what bitsfs needs to build, run and test on Debian/Ubuntu: libfuse3, libcurl,
# and the tools the tests and examples use (nginx, python3, curl, attr, sqlite3, zip).
# Safe to run again: it installs only what is missing. Extra package names may be given as
# arguments (bench/compare.sh adds the tools it compares against).
set -euo pipefail

packages=(libfuse3-dev fuse3 libcurl4-openssl-dev pkg-config nginx python3 curl attr sqlite3 zip unzip openssl "$@")
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done

if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# nginx from apt starts a system service on port 80; bitsfs runs private instances instead.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet nginx 2>/dev/null; then
  ${sudo:-} systemctl stop nginx || true
fi

if [ ! -c /dev/fuse ]; then
  echo "setup: /dev/fuse is missing: FUSE mounts cannot work on this machine" >&2
  exit 1
fi
command -v swift >/dev/null || { echo "setup: swift is not on PATH (Swift 6 is needed)" >&2; exit 1; }
echo "setup: ready"
