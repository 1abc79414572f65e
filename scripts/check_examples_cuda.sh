#!/bin/sh
# `--device cuda` of every example program, checked without a GPU (run by CI): each program is
# built against the fake device of tests/cuda_fake.h (build/fake_cuda/, `make
# check-examples-cuda`), whose device memory is unreadable to host code outside the kernels
# and whose kernels are the CPU ones. So a run with --device cuda must end with the same
# checkpoint, byte for byte, as the same run with --device cpu: any host code that touches
# device memory crashes, and any state that fails to travel (optimizer moments, BN
# statistics, RNG, checkpoint contents) shows as a difference. Also: a checkpoint written on
# the device resumes on the CPU to the same end state. Tiny sizes, one thread (each kernel
# call changes the fake memory's protection, which is slow, more so with threads).
set -eu
cd "$(dirname "$0")/.."
T=build/check_examples_cuda
rm -rf "$T"
mkdir -p "$T"
fail() { echo "check_examples_cuda: FAIL: $*" >&2; exit 1; }
# run NAME PROGRAM ARGS...: the CPU build with --device cpu into $T/NAME_cpu, the fake-device
# build with --device cuda into $T/NAME_cuda
run() {
  name=$1 prog=$2; shift 2
  "./build/$prog" --device cpu "$@" --out "$T/${name}_cpu" > "$T/${name}_cpu.log" 2>&1 || fail "$prog --device cpu (see $T/${name}_cpu.log)"
  "./build/fake_cuda/$prog" --device cuda "$@" --out "$T/${name}_cuda" > "$T/${name}_cuda.log" 2>&1 || fail "$prog --device cuda (see $T/${name}_cuda.log)"
}
same() { cmp "$1" "$2" > /dev/null || fail "$3: $1 and $2 differ"; }

GS="--gf 8 --df 8 --latent 16 --limit 128 --batch 4 --inner-steps 1 --worst-steps 1 --arch-steps 1 --samples 4 --threads 1"
# shellcheck disable=SC2086
run gs gan_search $GS --epochs 2
same "$T/gs_cpu/search.ckpt" "$T/gs_cuda/search.ckpt" "gan_search"
same "$T/gs_cpu/genotype.json" "$T/gs_cuda/genotype.json" "gan_search"
grep -q "^device: fake device" "$T/gs_cuda.log" || fail "gan_search --device cuda did not report the device"
# a device checkpoint resumes on the CPU
# shellcheck disable=SC2086
./build/fake_cuda/gan_search --device cuda $GS --epochs 1 --out "$T/gs_mixed" > "$T/gs_mixed1.log" 2>&1 || fail "gan_search epoch 1 on the device"
# shellcheck disable=SC2086
./build/gan_search $GS --epochs 2 --resume --out "$T/gs_mixed" > "$T/gs_mixed2.log" 2>&1 || fail "gan_search resumed on the CPU"
same "$T/gs_cpu/search.ckpt" "$T/gs_mixed/search.ckpt" "gan_search resumed across devices"

# fmnist_classifier and quickstart write fixed file names: run them in their own folders
mkdir -p "$T/fc_cpu" "$T/fc_cuda" "$T/qs_cpu" "$T/qs_cuda"
FC="--limit 64 --epochs 1 --batch 32 --threads 1"
# shellcheck disable=SC2086
./build/fmnist_classifier --device cpu $FC --out "$T/fc_cpu/cnn.ckpt" > "$T/fc_cpu.log" 2>&1 || fail "fmnist_classifier --device cpu (see $T/fc_cpu.log)"
# shellcheck disable=SC2086
./build/fake_cuda/fmnist_classifier --device cuda $FC --out "$T/fc_cuda/cnn.ckpt" > "$T/fc_cuda.log" 2>&1 || fail "fmnist_classifier --device cuda (see $T/fc_cuda.log)"
same "$T/fc_cpu/cnn.ckpt" "$T/fc_cuda/cnn.ckpt" "fmnist_classifier"
# shellcheck disable=SC2086
run gt gan_train --genotype "$T/gs_cpu/genotype.json" --gf 8 --df 8 --latent 16 --limit 128 --d-batch 4 --g-batch 4 \
  --samples 4 --threads 1 --fid-net "$T/fc_cpu/cnn.ckpt" --eval-n 16 --eval-every 1 --g-steps 2 --ckpt-every 1
same "$T/gt_cpu/train.ckpt" "$T/gt_cuda/train.ckpt" "gan_train"
same "$T/gt_cpu/generator.ckpt" "$T/gt_cuda/generator.ckpt" "gan_train (EMA generator)"
# the log's losses and FID/KID/IS of the EMA generator (column 3, seconds, aside)
cut -d, -f1,2,4- "$T/gt_cpu/train.csv" > "$T/gt_cpu.csv"; cut -d, -f1,2,4- "$T/gt_cuda/train.csv" > "$T/gt_cuda.csv"
same "$T/gt_cpu.csv" "$T/gt_cuda.csv" "gan_train's log"
grep -q "^2,.*,[1-9]" "$T/gt_cpu.csv" || fail "gan_train: no FID in the log at G step 2"

awk 'BEGIN { split("red green blue fast slow big small night day word city cafe tree", w, " ");
             for (s = 0; s < 3; s++) { f = s == 0 ? "train" : s == 1 ? "valid" : "test"; n = s == 0 ? 48 : 16;
               for (i = 0; i < n; i++) { c = (i * 7 + s) % 3; line = c "\t";
                 for (k = 0; k <= (i % 7); k++) line = line w[1 + (c * 4 + k * (i % 5 + 1)) % 13] " ";
                 print line > ("'"$T"'/" f ".tsv") } } }'
TD="--dataset tsv --train $T/train.tsv --valid $T/valid.tsv --test $T/test.tsv --max-len 8 --min-count 1 --threads 1"
for m in enas darts; do
  # shellcheck disable=SC2086
  run "ts_$m" text_search $TD --method $m --hidden 4 --layers 3 --batch 4 --child-steps 2 --ctrl-steps 1 --export 1 \
    --eval-limit 8 --epochs 1
  same "$T/ts_${m}_cpu/search.ckpt" "$T/ts_${m}_cuda/search.ckpt" "text_search $m"
  same "$T/ts_${m}_cpu/arch.json" "$T/ts_${m}_cuda/arch.json" "text_search $m"
done
# shellcheck disable=SC2086
run tt text_train $TD --arch "$T/ts_enas_cpu/arch.json" --hidden 4 --batch 4 --steps-per-epoch 2 --epochs 2
same "$T/tt_cpu/train.ckpt" "$T/tt_cuda/train.ckpt" "text_train"
same "$T/tt_cpu/confusion.csv" "$T/tt_cuda/confusion.csv" "text_train"

(cd "$T/qs_cpu" && ../../quickstart --device cpu > ../qs_cpu.log 2>&1) || fail "quickstart --device cpu"
(cd "$T/qs_cuda" && ../../fake_cuda/quickstart --device cuda > ../qs_cuda.log 2>&1) || fail "quickstart --device cuda"
same "$T/qs_cpu/quickstart.ckpt" "$T/qs_cuda/quickstart.ckpt" "quickstart"
echo "check_examples_cuda: gan_search (also resumed across devices), gan_train, text_search (enas, darts), text_train, fmnist_classifier and quickstart: --device cuda on the fake device = --device cpu, bit for bit"
