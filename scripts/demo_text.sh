#!/bin/sh
# `make demo-text`: TextNAS end to end on the embedded default, WordNet gloss supersense
# classification (Debian's wordnet-base: 45 classes, 94,349 / 11,703 / 11,607 glosses), in
# about 6.5 minutes on 2 cores (measured 6 min 22 s, build included; test accuracy 62.6%):
#   1. architecture search, --method enas, quick preset (hidden 32, 24 layers, 3 epochs of 150
#      child + 50 controller steps): arch.json (NNI layout), arch.dot/.png, search.csv
#   2. retraining of the found architecture from scratch (hidden 64, 3 epochs x 300 steps of
#      batch 128, the spec's optimiser), validation/test accuracy per epoch, confusion matrix
# Texts are cut to 32 tokens here (WordNet glosses are short; the programs default to 64).
# Outputs in build/demo_text/ (DEMO_OUT overrides).
set -eu
cd "$(dirname "$0")/.."
OUT=${DEMO_OUT:-build/demo_text}
mkdir -p "$OUT"
t0=$(date +%s)
echo "== 1/2 TextNAS search (ENAS controller + shared weights, quick preset)"
./build/text_search --method enas --preset quick --max-len 32 --out "$OUT/search"
echo "== 2/2 retrain the found architecture from scratch and test it"
./build/text_train --arch "$OUT/search/arch.json" --hidden 64 --max-len 32 --epochs 3 --steps-per-epoch 300 \
  --out "$OUT/train"
echo "demo-text finished in $(( $(date +%s) - t0 )) s; see $OUT/search (arch.json, arch.png, search.csv) and $OUT/train (train.csv, confusion.csv)"
