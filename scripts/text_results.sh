#!/bin/sh
# The TextNAS results table of docs/RESULTS.md: on WordNet glosses, with one retraining budget,
# the architectures found by both searches (ENAS controller, differentiable) against 3 random
# architectures of the space, the paper's published architecture and a simple baseline (one
# conv k=3 layer + a max-pool layer), by test accuracy at the best validation epoch.
#
#   scripts/text_results.sh [OUTDIR]        (default build/text_results; needs make examples)
#
# Environment (defaults in brackets): SEARCH_ARGS [--preset quick --max-len 32], DARTS_ARGS
# [--child-steps 80] (added for the differentiable search, whose steps cost about 4 ENAS steps:
# a relaxed forward runs all 8 ops and every step has an architecture step too), TRAIN_ARGS
# [--hidden 64 --max-len 32 --epochs 2 --steps-per-epoch 250], JOBS [2] runs at a time with
# THREADS [1] threads each. Every run writes its own directory and resumes if interrupted; the
# table goes to OUTDIR/table.md with each row's command.
set -eu
cd "$(dirname "$0")/.."
OUT=${1:-build/text_results}
SEARCH_ARGS=${SEARCH_ARGS:---preset quick --max-len 32}
DARTS_ARGS=${DARTS_ARGS:---child-steps 80}
TRAIN_ARGS=${TRAIN_ARGS:---hidden 64 --max-len 32 --epochs 2 --steps-per-epoch 250}
THREADS=${THREADS:-1}
JOBS=${JOBS:-2}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
mkdir -p "$OUT"

search() {  # search METHOD [EXTRA ARGS]
  m=$1; shift
  resume=""; [ -f "$OUT/search_$m/search.ckpt" ] && resume="--resume"
  # shellcheck disable=SC2086
  ./build/text_search --method "$m" $SEARCH_ARGS "$@" --threads "$THREADS" --out "$OUT/search_$m" $resume > "$OUT/search_$m.log" 2>&1 ||
    echo "text_results: search $m failed (see $OUT/search_$m.log)" >&2
}
search enas &
# shellcheck disable=SC2086
search darts $DARTS_ARGS &
wait

train() {   # train ARCH NAME
  dir="$OUT/train_$2"
  resume=""; [ -f "$dir/train.ckpt" ] && resume="--resume"
  # shellcheck disable=SC2086
  ./build/text_train --arch "$1" $TRAIN_ARGS --threads "$THREADS" --out "$dir" $resume > "$OUT/train_$2.log" 2>&1 ||
    echo "text_results: $2 failed (see $OUT/train_$2.log)" >&2
}
names=""
running=0
for a in "$OUT/search_enas/arch.json" "$OUT/search_darts/arch.json" random:1 random:2 random:3 published baseline; do
  name=$(echo "$a" | sed 's|.*/search_\([a-z]*\)/arch.json|searched_\1|; s|:|_|')
  names="$names $a=$name"
  train "$a" "$name" &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then wait; running=0; fi
done
wait
table="$OUT/table.md"
printf '| architecture | test accuracy | validation accuracy | best epoch | command |\n|---|---|---|---|---|\n' > "$table"
for pair in $names; do
  a=${pair%=*}; name=${pair##*=}
  line=$(grep '^RESULT' "$OUT/train_$name.log" | tail -n 1 || true)
  field() { printf '%s\n' "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
  printf '| %s | %s | %s | %s | `build/text_train --arch %s %s` |\n' "$name" "$(field test_acc)" "$(field valid_acc)" \
    "$(field best_epoch)" "$a" "$TRAIN_ARGS" >> "$table"
done
echo "searches: \`build/text_search --method enas $SEARCH_ARGS --out $OUT/search_enas\`, \`build/text_search --method darts $SEARCH_ARGS $DARTS_ARGS --out $OUT/search_darts\`" >> "$table"
cat "$table"
