#!/bin/sh
# The alphaGAN results table of docs/RESULTS.md: on Fashion-MNIST, with one retraining budget,
# the searched genotype against 3 random genotypes of the same space and the two published
# ones, by FID/KID/IS in the Fashion-MNIST CNN's feature space.
#
#   scripts/gan_results.sh [OUTDIR]        (default build/gan_results; needs make examples)
#
# Environment (defaults in brackets): SEARCH_ARGS [--preset quick], TRAIN_ARGS
# [--gf 32 --df 32 --d-batch 32 --g-batch 64 --g-steps 300 --ema-decay 0.99 --eval-n 10000], JOBS [2]
# retrainings at a time with THREADS [1] threads each (on 2 cores this beats one run on 2 threads).
# Every run writes its own directory; the table goes to OUTDIR/table.md with each row's command.
set -eu
cd "$(dirname "$0")/.."
OUT=${1:-build/gan_results}
SEARCH_ARGS=${SEARCH_ARGS:---preset quick}
TRAIN_ARGS=${TRAIN_ARGS:---gf 32 --df 32 --d-batch 32 --g-batch 64 --g-steps 300 --ema-decay 0.99 --eval-n 10000}
THREADS=${THREADS:-1}
JOBS=${JOBS:-2}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
mkdir -p "$OUT"
[ -f build/fmnist_cnn.ckpt ] || ./build/fmnist_classifier --epochs 2 --out build/fmnist_cnn.ckpt --threads "$THREADS"

# resume an interrupted search instead of starting over
resume=""; [ -f "$OUT/search/search.ckpt" ] && resume="--resume"
# shellcheck disable=SC2086
./build/gan_search $SEARCH_ARGS --threads "$THREADS" --out "$OUT/search" $resume > "$OUT/search.log"

table="$OUT/table.md"
names=""
train() {   # train GENOTYPE NAME: one retraining, resumed if interrupted
  dir="$OUT/train_$2"
  resume=""; [ -f "$dir/train.ckpt" ] && resume="--resume"
  # shellcheck disable=SC2086
  ./build/gan_train --genotype "$1" $TRAIN_ARGS --threads "$THREADS" --out "$dir" $resume > "$OUT/train_$2.log" 2>&1 ||
    echo "gan_results: $2 failed (see $OUT/train_$2.log)" >&2
}
running=0
for g in "$OUT/search/genotype.json" random:1 random:2 random:3 alphaGAN_l alphaGAN_s; do
  name=$(echo "$g" | sed 's|.*/search/genotype.json|searched|; s|:|_|')
  names="$names $g=$name"
  train "$g" "$name" &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then wait; running=0; fi
done
wait
printf '| genotype | FID | KID | IS | precision | recall | command |\n|---|---|---|---|---|---|---|\n' > "$table"
for pair in $names; do
  g=${pair%=*}; name=${pair##*=}
  line=$(grep '^RESULT' "$OUT/train_$name.log" | tail -n 1)
  field() { printf '%s\n' "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
  printf '| %s | %s | %s +- %s | %s +- %s | %s | %s | `build/gan_train --genotype %s %s` |\n' "$name" "$(field fid)" "$(field kid)" \
    "$(field kid_std)" "$(field is)" "$(field is_std)" "$(field precision)" "$(field recall)" "$g" "$TRAIN_ARGS" >> "$table"
done
echo "search: \`build/gan_search $SEARCH_ARGS --out $OUT/search\`" >> "$table"
cat "$table"
