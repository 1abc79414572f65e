#!/bin/sh
# End-to-end checks of the example programs on the embedded Fashion-MNIST data (run by CI after
# `make examples`): an interrupted and resumed run ends with the same checkpoint, byte for
# byte, as an uninterrupted one; a resume with other settings or a corrupt checkpoint is
# refused. Tiny sizes: seconds, not minutes.
set -eu
cd "$(dirname "$0")/.."
T=build/check_examples
rm -rf "$T"
mkdir -p "$T"
fail() { echo "check_examples: FAIL: $*" >&2; exit 1; }

TINY="--gf 8 --df 8 --latent 16 --limit 512 --batch 8 --inner-steps 2 --worst-steps 2 --arch-steps 2 --samples 16 --threads 2"
# shellcheck disable=SC2086
./build/gan_search $TINY --epochs 3 --out "$T/straight" > "$T/straight.log" 2>&1 || fail "gan_search (see $T/straight.log)"
# shellcheck disable=SC2086
./build/gan_search $TINY --epochs 1 --out "$T/resumed" > "$T/resumed1.log" 2>&1 || fail "gan_search epoch 1"
# shellcheck disable=SC2086
./build/gan_search $TINY --epochs 3 --out "$T/resumed" --resume > "$T/resumed2.log" 2>&1 || fail "gan_search --resume"
cmp "$T/straight/search.ckpt" "$T/resumed/search.ckpt" || fail "gan_search: resumed checkpoint differs from the uninterrupted run"
cmp "$T/straight/genotype.json" "$T/resumed/genotype.json" || fail "gan_search: genotypes differ"
[ "$(wc -l < "$T/resumed/search.csv")" -eq 4 ] || fail "gan_search: the resumed log should hold a header and 3 epochs"
for f in samples_epoch003.png genotype.dot search.csv; do [ -s "$T/straight/$f" ] || fail "gan_search wrote no $f"; done
# other settings: refused, and the checkpoint is left as it was
# shellcheck disable=SC2086
if ./build/gan_search $TINY --gf 16 --epochs 4 --out "$T/resumed" --resume > "$T/mismatch.log" 2>&1; then fail "resume with another width was accepted"; fi
grep -q "other settings" "$T/mismatch.log" || fail "no clear message for mismatched settings"
cmp "$T/straight/search.ckpt" "$T/resumed/search.ckpt" || fail "a refused resume changed the checkpoint"
# a corrupt checkpoint: refused with the file named
cp "$T/straight/search.ckpt" "$T/corrupt.ckpt"
printf 'X' | dd of="$T/corrupt.ckpt" bs=1 seek=1000 conv=notrunc 2>/dev/null
mkdir -p "$T/corrupt" && cp "$T/corrupt.ckpt" "$T/corrupt/search.ckpt"
# shellcheck disable=SC2086
if ./build/gan_search $TINY --epochs 4 --out "$T/corrupt" --resume > "$T/corrupt.log" 2>&1; then fail "a corrupt checkpoint was accepted"; fi
grep -q "corrupt/search.ckpt" "$T/corrupt.log" || fail "the corrupt checkpoint's error does not name the file"

TT="--genotype $T/straight/genotype.json --gf 8 --df 8 --latent 16 --limit 512 --d-batch 8 --g-batch 8 --samples 16 --threads 2 --fid-net none"
# shellcheck disable=SC2086
./build/gan_train $TT --g-steps 6 --ckpt-every 2 --out "$T/train_straight" > "$T/train_straight.log" 2>&1 || fail "gan_train (see $T/train_straight.log)"
# shellcheck disable=SC2086
./build/gan_train $TT --g-steps 2 --ckpt-every 2 --out "$T/train_resumed" > "$T/train_resumed1.log" 2>&1 || fail "gan_train first part"
# shellcheck disable=SC2086
./build/gan_train $TT --g-steps 6 --ckpt-every 2 --out "$T/train_resumed" --resume > "$T/train_resumed2.log" 2>&1 || fail "gan_train --resume"
cmp "$T/train_straight/train.ckpt" "$T/train_resumed/train.ckpt" || fail "gan_train: resumed state differs from the uninterrupted run"
cmp "$T/train_straight/generator.ckpt" "$T/train_resumed/generator.ckpt" || fail "gan_train: final generators differ"
echo "check_examples: gan_search and gan_train resume bit for bit; mismatched and corrupt checkpoints refused"
