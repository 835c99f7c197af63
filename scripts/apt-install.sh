#!/usr/bin/env bash
# Install Debian/Ubuntu packages when we can (root, or passwordless sudo); fail quietly otherwise so the
# caller can print what to do instead.
set -eu
if ! command -v apt-get >/dev/null 2>&1; then
  echo "apt-get not found: install $* with your system's package manager" >&2
  exit 1
fi
if [ "$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
  echo "not root and no passwordless sudo: run 'sudo apt-get install $*'" >&2
  exit 1
fi
echo "installing $* with apt-get"
$SUDO apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
