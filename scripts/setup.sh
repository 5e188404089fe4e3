#!/usr/bin/env bash
# Installs what bitsfs needs to build, run and test on Debian/Ubuntu: libfuse3, libcurl,
# and the tools the tests and examples use (nginx, Apache, lighttpd and Caddy for the directory
# listings, python3, curl, attr, sqlite3, zip, and zsh, fish and groff to check the generated
# completions and man page), and from PyPI, into .build/test-venv, moto's S3 server for the
# bucket listings.
# Safe to run again: it installs only what is missing. Extra package names may be given as
# arguments (bench/compare.sh adds the tools it compares against).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libfuse3-dev fuse3 libcurl4-openssl-dev pkg-config nginx python3 python3-venv curl attr sqlite3 zip unzip
  openssl apache2 lighttpd caddy zsh fish groff-base "$@")
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

# The web servers from apt may start system services on port 80; the tests run private
# instances instead (the listing tests start Apache, lighttpd and Caddy too).
for service in nginx apache2 lighttpd caddy; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$service" 2>/dev/null; then
    ${sudo:-} systemctl stop "$service" || true
  fi
done

# moto's S3 server, for the tests of bucket listings (bounded: PyPI may be slow or away).
venv=.build/test-venv
if [ ! -x "$venv/bin/moto_server" ]; then
  echo "setup: installing moto[server] into $venv"
  mkdir -p .build
  python3 -m venv "$venv"
  timeout 600 "$venv/bin/pip" install -q --disable-pip-version-check 'moto[server]==5.*'
fi

if [ ! -c /dev/fuse ]; then
  echo "setup: /dev/fuse is missing: FUSE mounts cannot work on this machine" >&2
  exit 1
fi
command -v swift >/dev/null || { echo "setup: swift is not on PATH (Swift 6 is needed)" >&2; exit 1; }
echo "setup: ready"
