#!/bin/sh
# Concatenate src/ parts into one stb-style header:
#   prologue, every part's declarations, then (under NASGAN_IMPLEMENTATION) every part's
#   implementation, then the license. Usage: scripts/amalgamate.sh [out]  (default nasgan.h)
set -eu
cd "$(dirname "$0")/.."
out=${1:-nasgan.h}
parts=$(grep -v '^#' src/parts.txt | grep -v '^$')
tmp="$out.tmp.$$"
{
  cat src/prologue.h
  for p in $parts; do
    printf '\n/* ---- src/%s.h ---- */\n' "$p"
    cat "src/$p.h"
  done
  cat src/decl_end.h
  for p in $parts; do
    if [ -f "src/$p.c" ]; then
      printf '\n/* ---- src/%s.c ---- */\n' "$p"
      cat "src/$p.c"
    fi
  done
  cat src/epilogue.h
} > "$tmp"
mv "$tmp" "$out"
