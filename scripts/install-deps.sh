#!/bin/sh
# Install the Debian packages a target needs, if any are missing.
# Usage: scripts/install-deps.sh test|demo|bench|fuzz|ci
# As root: apt-get; otherwise via sudo when available; else print the packages and fail.
set -eu
case "${1:-test}" in
  test)  pkgs="gcc make zlib1g-dev libopenblas-dev libstb-dev libutf8proc-dev wordnet-base pkg-config" ;;
  demo)  pkgs="gcc make zlib1g-dev libopenblas-dev libstb-dev libutf8proc-dev wordnet-base pkg-config dataset-fashion-mnist" ;;
  bench) pkgs="gcc make zlib1g-dev libopenblas-dev libstb-dev libutf8proc-dev pkg-config dataset-fashion-mnist python3-torch python3-numpy" ;;
  fuzz)  pkgs="clang libclang-rt-14-dev zlib1g-dev libutf8proc-dev" ;;
  ci)    pkgs="gcc g++ make clang libclang-rt-14-dev zlib1g-dev libopenblas-dev libstb-dev libutf8proc-dev wordnet-base pkg-config dataset-fashion-mnist python3" ;;
  *) echo "install-deps: unknown target '$1' (test|demo|bench|fuzz|ci)" >&2; exit 2 ;;
esac
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing"
if [ "$(id -u)" = 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO="sudo"
else
  echo "install-deps: missing Debian packages:$missing" >&2
  echo "install-deps: run as root:  apt-get install -y$missing" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -q $missing >/dev/null 2>&1 || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q $missing; }
