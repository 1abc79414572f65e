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
for f in samples_epoch003.png genotype.dot genotype.svg search.csv run.txt; do [ -s "$T/straight/$f" ] || fail "gan_search wrote no $f"; done
# the run record repeats the run: --config DIR/run.txt (with another --out) ends identical
./build/gan_search --config "$T/straight/run.txt" --out "$T/from_config" > "$T/from_config.log" 2>&1 || fail "gan_search --config run.txt (see $T/from_config.log)"
cmp "$T/straight/search.ckpt" "$T/from_config/search.ckpt" || fail "gan_search --config DIR/run.txt did not repeat the run"
grep -q "^# gan_search resumed" "$T/resumed/run.txt" || fail "a resume should add a block to run.txt"
# evaluating the supernet during the search (a 1-epoch feature CNN) logs FID/KID/IS and
# precision/recall on epochs 2 and 3 and leaves the search itself unchanged
./build/fmnist_classifier --epochs 1 --limit 3000 --threads 2 --out "$T/cnn.ckpt" > "$T/cnn.log" 2>&1 || fail "fmnist_classifier (see $T/cnn.log)"
# shellcheck disable=SC2086
./build/gan_search $TINY --epochs 3 --eval-every 2 --fid-net "$T/cnn.ckpt" --eval-n 100 --out "$T/evaluated" > "$T/evaluated.log" 2>&1 || fail "gan_search --eval-every (see $T/evaluated.log)"
cmp "$T/straight/search.ckpt" "$T/evaluated/search.ckpt" || fail "evaluating the supernet changed the search"
[ "$(grep -c "supernet FID" "$T/evaluated.log")" -eq 2 ] || fail "gan_search --eval-every 2 over 3 epochs should evaluate twice"
head -1 "$T/evaluated/search.csv" | grep -q ",fid,kid,kid_std,is,is_std,precision,recall,inception_fid," || fail "search.csv lacks the evaluation columns"
[ "$(sed -n 3p "$T/evaluated/search.csv" | cut -d, -f91)" != "" ] || fail "search.csv: no FID in epoch 2's row"
# the random-search baseline on the finished search (--resume after the last epoch): 3 random
# genotypes ranked, the search's state untouched
cp -r "$T/straight" "$T/baseline"
# shellcheck disable=SC2086
./build/gan_search $TINY --epochs 3 --resume --random-baseline 3 --fid-net "$T/cnn.ckpt" --eval-n 100 --out "$T/baseline" > "$T/baseline.log" 2>&1 || fail "gan_search --random-baseline (see $T/baseline.log)"
[ "$(wc -l < "$T/baseline/random_baseline.csv")" -eq 4 ] && [ -s "$T/baseline/genotype_random_best.json" ] || fail "--random-baseline wrote no ranking"
cmp "$T/straight/search.ckpt" "$T/baseline/search.ckpt" || fail "--random-baseline changed the search's checkpoint"
cmp "$T/straight/genotype.json" "$T/baseline/genotype.json" || fail "--random-baseline changed the searched genotype"
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
# the search's genotype in the reference code's form (genotype.py) retrains the same network
# shellcheck disable=SC2086
./build/gan_train $TT --genotype "$T/straight/genotype.py:searched" --g-steps 6 --ckpt-every 2 --out "$T/train_py" > "$T/train_py.log" 2>&1 || fail "gan_train --genotype genotype.py:searched (see $T/train_py.log)"
cmp "$T/train_straight/train.ckpt" "$T/train_py/train.ckpt" || fail "gan_train: genotype.py and genotype.json train differently"
# the same genotype given as text with double quotes and spaces: its run.txt (quoted, escaped,
# multi-line settings as comments) repeats the run
GT=$(sed 's/^searched = //' "$T/straight/genotype.py" | tr "'" '"')
# shellcheck disable=SC2086
./build/gan_train $TT --genotype "$GT" --g-steps 2 --out "$T/train_text" > "$T/train_text.log" 2>&1 || fail "gan_train --genotype 'Genotype_gen(...)' (see $T/train_text.log)"
./build/gan_train --config "$T/train_text/run.txt" --out "$T/train_text2" > "$T/train_text2.log" 2>&1 || fail "gan_train --config run.txt (see $T/train_text2.log)"
cmp "$T/train_text/train.ckpt" "$T/train_text2/train.ckpt" || fail "gan_train --config run.txt did not repeat the run"

# FID through the Inception (random weights: the real ones cannot be downloaded here) with the
# real statistics in pytorch-fid's .npz format: the first run computes and writes them, the
# second loads them and must report the same FID; numpy must read the file.
./build/bench_gpu_steps_cpu --write-inception "$T/inception.ngck" > /dev/null || fail "writing random Inception weights"
TI="$TT --g-steps 2 --fid-inception $T/inception.ngck --inception-real-n 16 --eval-n 10"
for k in 1 2; do
  # shellcheck disable=SC2086
  ./build/gan_train $TI --inception-stats "$T/real_stats.npz" --out "$T/inc$k" > "$T/inc$k.log" 2>&1 || fail "gan_train with .npz statistics, run $k (see $T/inc$k.log)"
done
grep -q "real statistics from $T/real_stats.npz" "$T/inc2.log" || fail "the second run did not load the .npz statistics"
fid1=$(grep -o 'inception_fid=[0-9.]*' "$T/inc1.log") && fid2=$(grep -o 'inception_fid=[0-9.]*' "$T/inc2.log") || fail "no Inception FID reported"
[ "$fid1" = "$fid2" ] || fail "FID against computed ($fid1) and .npz-loaded ($fid2) statistics differ"
grep -q "n_real=unknown" "$T/inc2.log" || fail "statistics from .npz should report N as unknown"
if python3 -c "import numpy" 2>/dev/null; then
  python3 -c "import numpy as np; z = np.load('$T/real_stats.npz'); assert z['mu'].shape == (2048,) and z['sigma'].shape == (2048, 2048)" \
    || fail "numpy cannot read the .npz statistics gan_train wrote"
fi

# ---- TextNAS: tiny TSV data (3 classes, a few scripts), both searches and the retraining ----
awk 'BEGIN { split("red green blue fast slow big small ночь день λόγος 東京 café naïve", w, " ");
             for (s = 0; s < 3; s++) { f = s == 0 ? "train" : s == 1 ? "valid" : "test"; n = s == 0 ? 240 : 60;
               for (i = 0; i < n; i++) { c = (i * 7 + s) % 3; line = c "\t";
                 for (k = 0; k <= (i % 9); k++) line = line w[1 + (c * 4 + k * (i % 5 + 1)) % 13] " ";
                 print line > ("'"$T"'/" f ".tsv") } } }'
TD="--dataset tsv --train $T/train.tsv --valid $T/valid.tsv --test $T/test.tsv --max-len 12 --min-count 1 --threads 2"
for m in enas darts; do
  TS="$TD --method $m --hidden 8 --layers 4 --batch 8 --child-steps 4 --ctrl-steps 2 --export 2 --eval-limit 40"
  # shellcheck disable=SC2086
  ./build/text_search $TS --epochs 3 --out "$T/ts_$m" > "$T/ts_$m.log" 2>&1 || fail "text_search $m (see $T/ts_$m.log)"
  # shellcheck disable=SC2086
  ./build/text_search $TS --epochs 3 --stop-after 1 --out "$T/ts_${m}_r" > "$T/ts_${m}_r1.log" 2>&1 || fail "text_search $m, first part"
  # shellcheck disable=SC2086
  ./build/text_search $TS --epochs 3 --resume --out "$T/ts_${m}_r" > "$T/ts_${m}_r2.log" 2>&1 || fail "text_search $m --resume"
  cmp "$T/ts_$m/search.ckpt" "$T/ts_${m}_r/search.ckpt" || fail "text_search $m: resumed checkpoint differs from the uninterrupted run"
  cmp "$T/ts_$m/arch.json" "$T/ts_${m}_r/arch.json" || fail "text_search $m: architectures differ"
  [ "$(wc -l < "$T/ts_${m}_r/search.csv")" -eq 4 ] || fail "text_search $m: the resumed log should hold a header and 3 epochs"
  for f in arch.dot arch.svg run.txt; do [ -s "$T/ts_$m/$f" ] || fail "text_search $m wrote no $f"; done
  # shellcheck disable=SC2086
  if ./build/text_search $TS --epochs 3 --hidden 12 --resume --out "$T/ts_${m}_r" > "$T/ts_mismatch.log" 2>&1; then fail "text_search: resume with another width was accepted"; fi
  grep -q "other settings" "$T/ts_mismatch.log" || fail "text_search: no clear message for mismatched settings"
done
# --pf-dropout (darts; its rate follows the epoch): also resumes bit for bit
TS="$TD --method darts --hidden 8 --layers 4 --batch 8 --child-steps 4 --eval-limit 40 --pf-dropout 0.5"
# shellcheck disable=SC2086
./build/text_search $TS --epochs 3 --out "$T/ts_pf" > "$T/ts_pf.log" 2>&1 || fail "text_search --pf-dropout (see $T/ts_pf.log)"
# shellcheck disable=SC2086
./build/text_search $TS --epochs 3 --stop-after 2 --out "$T/ts_pf_r" > "$T/ts_pf_r1.log" 2>&1 || fail "text_search --pf-dropout, first part"
# shellcheck disable=SC2086
./build/text_search $TS --epochs 3 --resume --out "$T/ts_pf_r" > "$T/ts_pf_r2.log" 2>&1 || fail "text_search --pf-dropout --resume"
cmp "$T/ts_pf/search.ckpt" "$T/ts_pf_r/search.ckpt" || fail "text_search --pf-dropout: resumed checkpoint differs from the uninterrupted run"
grep -q "pools' dropout this epoch 0.500" "$T/ts_pf.log" || fail "text_search --pf-dropout: no rate reported for epoch 1"
TR="$TD --arch $T/ts_enas/arch.json --hidden 8 --batch 8 --steps-per-epoch 5"
# shellcheck disable=SC2086
./build/text_train $TR --epochs 3 --out "$T/tt" > "$T/tt.log" 2>&1 || fail "text_train (see $T/tt.log)"
# shellcheck disable=SC2086
./build/text_train $TR --epochs 3 --stop-after 2 --out "$T/tt_r" > "$T/tt_r1.log" 2>&1 || fail "text_train first part"
# shellcheck disable=SC2086
./build/text_train $TR --epochs 3 --resume --out "$T/tt_r" > "$T/tt_r2.log" 2>&1 || fail "text_train --resume"
cmp "$T/tt/train.ckpt" "$T/tt_r/train.ckpt" || fail "text_train: resumed state differs from the uninterrupted run"
cmp "$T/tt/best.ckpt" "$T/tt_r/best.ckpt" || fail "text_train: best weights differ"
grep -q "^RESULT " "$T/tt_r/../tt_r2.log" || fail "text_train printed no RESULT line"
[ -s "$T/tt/confusion.csv" ] || fail "text_train wrote no confusion.csv"
cp "$T/tt/train.ckpt" "$T/tt_corrupt.ckpt"
printf 'X' | dd of="$T/tt_corrupt.ckpt" bs=1 seek=500 conv=notrunc 2>/dev/null
mkdir -p "$T/tt_c" && cp "$T/tt_corrupt.ckpt" "$T/tt_c/train.ckpt"
# shellcheck disable=SC2086
if ./build/text_train $TR --epochs 4 --resume --out "$T/tt_c" > "$T/tt_c.log" 2>&1; then fail "text_train: a corrupt checkpoint was accepted"; fi
grep -q "tt_c/train.ckpt" "$T/tt_c.log" || fail "text_train: the corrupt checkpoint's error does not name the file"
printf '{"LayerChoice1": [true, true]}' > "$T/bad_arch.json"
# shellcheck disable=SC2086
if ./build/text_train $TD --arch "$T/bad_arch.json" --out "$T/tt_bad" > "$T/tt_bad.log" 2>&1; then fail "text_train: a bad architecture file was accepted"; fi
grep -q "bad_arch.json" "$T/tt_bad.log" || fail "text_train: the architecture error does not name the file"

# the other readers end to end: SST trees (fine and binary) and AG News CSV, one tiny epoch each
mkdir -p "$T/sst" "$T/ag"
for f in train dev test; do
  printf '%s\n' "(3 (2 (2 The) (2 film)) (3 (3 is) (4 (4 great) (2 .))))" "(1 (2 A) (1 (1 dull) (2 (2 slow) (1 mess))))" \
    "(0 (1 (1 Truly) (0 awful)) (2 .))" "(4 (3 (3 A) (4 gem)) (3 (2 of) (3 (2 a) (3 movie))))" > "$T/sst/$f.txt"
done
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
  printf '"%d","Title %d","Body \\ of story %d, with ""quotes"""\n' $(( i % 4 + 1 )) "$i" "$i"
done > "$T/ag/train.csv"
head -n 4 "$T/ag/train.csv" > "$T/ag/test.csv"
TX="--arch baseline --hidden 8 --batch 4 --epochs 1 --steps-per-epoch 2 --max-len 8 --threads 2"
# shellcheck disable=SC2086
./build/text_train $TX --dataset sst --data-dir "$T/sst" --out "$T/tt_sst" > "$T/tt_sst.log" 2>&1 || fail "text_train on SST trees (see $T/tt_sst.log)"
grep -q "5 classes" "$T/tt_sst.log" || fail "text_train: SST should have 5 classes"
# shellcheck disable=SC2086
./build/text_train $TX --dataset sst --sst-binary --data-dir "$T/sst" --out "$T/tt_sst2" > "$T/tt_sst2.log" 2>&1 || fail "text_train on SST-2"
grep -q "2 classes" "$T/tt_sst2.log" || fail "text_train: SST-2 should have 2 classes"
# shellcheck disable=SC2086
./build/text_train $TX --dataset agnews --data-dir "$T/ag" --min-count 1 --out "$T/tt_ag" > "$T/tt_ag.log" 2>&1 || fail "text_train on AG News CSV (see $T/tt_ag.log)"
grep -q "4 classes" "$T/tt_ag.log" || fail "text_train: AG News should have 4 classes"
echo "check_examples: gan_search, gan_train, text_search (enas, darts) and text_train resume bit for bit; mismatched and corrupt checkpoints refused; Inception FID against .npz statistics; SST and AG News read end to end"
