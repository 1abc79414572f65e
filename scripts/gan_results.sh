#!/bin/sh
# The alphaGAN results table of docs/RESULTS.md: on Fashion-MNIST, with one retraining budget,
# the searched genotype against 3 random genotypes of the same space and the two published
# ones, by FID/KID/IS in the Fashion-MNIST CNN's feature space.
#
#   scripts/gan_results.sh [OUTDIR]        (default build/gan_results; needs make examples)
#
# Environment (defaults in brackets): SEARCH_ARGS [--preset quick], TRAIN_ARGS
# [--gf 32 --df 32 --d-batch 32 --g-batch 64 --g-steps 400 --ema-decay 0.99 --eval-n 10000], THREADS [2]. Every run writes its own
# directory; the table goes to OUTDIR/table.md with the command of every row.
set -eu
cd "$(dirname "$0")/.."
OUT=${1:-build/gan_results}
SEARCH_ARGS=${SEARCH_ARGS:---preset quick}
TRAIN_ARGS=${TRAIN_ARGS:---gf 32 --df 32 --d-batch 32 --g-batch 64 --g-steps 400 --ema-decay 0.99 --eval-n 10000}
THREADS=${THREADS:-2}
mkdir -p "$OUT"
[ -f build/fmnist_cnn.ckpt ] || ./build/fmnist_classifier --epochs 2 --out build/fmnist_cnn.ckpt --threads "$THREADS"

# resume an interrupted search instead of starting over
resume=""; [ -f "$OUT/search/search.ckpt" ] && resume="--resume"
# shellcheck disable=SC2086
./build/gan_search $SEARCH_ARGS --threads "$THREADS" --out "$OUT/search" $resume > "$OUT/search.log"

table="$OUT/table.md"
printf '| genotype | FID | KID | IS | command |\n|---|---|---|---|---|\n' > "$table"
for g in "$OUT/search/genotype.json" random:1 random:2 random:3 alphaGAN_l alphaGAN_s; do
  name=$(echo "$g" | sed 's|.*/search/genotype.json|searched|; s|:|_|')
  dir="$OUT/train_$name"
  cmd="build/gan_train --genotype $g $TRAIN_ARGS --out $dir"
  resume=""; [ -f "$dir/train.ckpt" ] && resume="--resume"
  # shellcheck disable=SC2086
  ./build/gan_train --genotype "$g" $TRAIN_ARGS --threads "$THREADS" --out "$dir" $resume > "$OUT/train_$name.log" 2>&1
  line=$(grep '^RESULT' "$OUT/train_$name.log" | tail -n 1)
  field() { printf '%s\n' "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
  printf '| %s | %s | %s +- %s | %s +- %s | `%s` |\n' "$name" "$(field fid)" "$(field kid)" "$(field kid_std)" \
    "$(field is)" "$(field is_std)" "$cmd" >> "$table"
  echo "$name: $line"
done
echo "search: build/gan_search $SEARCH_ARGS --out $OUT/search" >> "$table"
cat "$table"
