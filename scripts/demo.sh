#!/bin/sh
# `make demo`: alphaGAN end to end on Fashion-MNIST (Debian's dataset-fashion-mnist), about
# 10 minutes on 2 cores:
#   1. the Fashion-MNIST CNN, the feature network of the offline FID/KID/IS (skipped when
#      build/fmnist_cnn.ckpt exists)
#   2. architecture search, quick preset: genotype.json / .py / .svg / .dot (/ .png), search.csv,
#      sample grids, run.txt
#   3. retraining of the derived genotype, briefly, then FID/KID/IS, precision/recall and a
#      sample grid
# Outputs in build/demo/ (DEMO_OUT overrides). The numbers live in the CNN's feature space and
# are not comparable to Inception-based FID/IS (docs/metrics.md).
set -eu
cd "$(dirname "$0")/.."
OUT=${DEMO_OUT:-build/demo}
mkdir -p "$OUT"
t0=$(date +%s)
if [ ! -f build/fmnist_cnn.ckpt ]; then
  echo "== 1/3 feature network: Fashion-MNIST CNN (2 epochs)"
  ./build/fmnist_classifier --epochs 2 --out build/fmnist_cnn.ckpt
fi
echo "== 2/3 alphaGAN search (quick preset: width 32, 10 epochs)"
./build/gan_search --preset quick --out "$OUT/search"
echo "== 3/3 retrain the derived genotype (width 32, 300 G steps) and evaluate"
./build/gan_train --genotype "$OUT/search/genotype.json" --gf 32 --df 32 --d-batch 32 --g-batch 64 \
  --g-steps 300 --ema-decay 0.99 --eval-n 5000 --out "$OUT/train"
echo "demo finished in $(( $(date +%s) - t0 )) s; see $OUT/search (genotype, search.csv, samples) and $OUT/train"
