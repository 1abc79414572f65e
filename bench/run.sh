#!/bin/sh
# Run every benchmark case of nasgan and of its PyTorch twin side by side and print one table.
#
#   bench/run.sh [SUBSTRING]      (normally through `make bench`, which builds build/bench_* first)
#
# For every bench/X.c with a bench/ref/X.py, for every case that build/bench_X --list prints
# (and that contains SUBSTRING, if given): run nasgan's case and torch's case, each in a process
# of its own so that peak memory is per case. Each program prints
#   BENCH key=CASE ms=<best of runs> peak_mb=<peak RSS, MiB> [gflops=<x>]
# The table (also written to build/bench_results.md) has: case, nasgan ms, torch ms,
# ratio = nasgan ms / torch ms (below 1: nasgan faster), both peak RSS, and GFLOP/s where given.
# For every pair of cases NAME_builtin / NAME_openblas it also prints the built-in kernel's speed
# as a percentage of OpenBLAS's (OpenBLAS ms / built-in ms).
#
# Environment: BENCH_THREADS (default 2) threads for both sides: OMP_NUM_THREADS for nasgan,
# torch.set_num_threads for PyTorch, which runs with OPENBLAS_NUM_THREADS=1 (Debian's torch calls
# OpenBLAS, whose own threads on top of torch's make it slower; docs/design.md section 9).
# BENCH_PYTHON (default /usr/bin/python3, Debian's python3-torch). BENCH_REPEAT (default 1): run
# each side that many times, alternating, and keep each side's fastest (for busy machines).
set -u
cd "$(dirname "$0")/.." || exit 1
THREADS=${BENCH_THREADS:-2}
REPEAT=${BENCH_REPEAT:-1}
PY=${BENCH_PYTHON:-/usr/bin/python3}
FILTER=${1:-}
OUT=build/bench_results.md
mkdir -p build
rows=$(mktemp) || exit 1
trap 'rm -f "$rows"' EXIT INT TERM
status=0

# field KEY LINE: the value of KEY=... in a BENCH line ("-" when absent)
field() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1 | grep . || echo -; }
# faster LINE1 LINE2: the BENCH line with the smaller ms (either may be empty)
faster() {
  if [ -z "$1" ]; then echo "$2"; elif [ -z "$2" ]; then echo "$1"
  elif awk -v a="$(field ms "$1")" -v b="$(field ms "$2")" 'BEGIN { exit !(b + 0 < a + 0) }'; then echo "$2"
  else echo "$1"; fi
}

for src in bench/*.c; do
  [ -f "$src" ] || continue
  name=$(basename "$src" .c)
  bin=build/bench_$name
  ref=bench/ref/$name.py
  if [ ! -f "$ref" ]; then echo "run.sh: $name: no $ref, skipped" >&2; continue; fi
  if [ ! -x "$bin" ]; then echo "run.sh: $bin is missing (run make bench)" >&2; status=1; continue; fi
  for c in $("$bin" --list); do
    case "$c" in *"$FILTER"*) ;; *) continue ;; esac
    echo "run.sh: $name $c" >&2
    ng="" th=""
    r=0
    while [ $r -lt "$REPEAT" ]; do # alternate the two sides; keep each side's fastest run
      line=$(OMP_NUM_THREADS=$THREADS "$bin" "$c" | grep '^BENCH ' | tail -n 1)
      [ -n "$line" ] || { echo "run.sh: $bin $c failed" >&2; status=1; }
      ng=$(faster "$ng" "$line")
      line=$(OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=1 "$PY" "$ref" "$c" | grep '^BENCH ' | tail -n 1)
      [ -n "$line" ] || echo "run.sh: $ref $c gave no result" >&2
      th=$(faster "$th" "$line")
      r=$((r + 1))
    done
    printf '%s|%s|%s|%s|%s|%s|%s\n' "$c" "$(field ms "$ng")" "$(field ms "$th")" \
      "$(field peak_mb "$ng")" "$(field peak_mb "$th")" "$(field gflops "$ng")" "$(field gflops "$th")" >> "$rows"
  done
done

{
  echo "# nasgan vs PyTorch benchmarks"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'), command: \`make bench\` (bench/run.sh${FILTER:+ $FILTER})"
  echo "- machine: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1), $(nproc) CPUs;" \
       "threads: $THREADS (nasgan OMP_NUM_THREADS=$THREADS; torch set_num_threads($THREADS), OPENBLAS_NUM_THREADS=1)"
  echo "- torch: $("$PY" -c 'import torch; print(torch.__version__)' 2>/dev/null || echo unavailable)"
  echo "- ms: best of repeated runs (BENCH_REPEAT=$REPEAT processes per side); ratio = nasgan ms / torch ms (below 1: nasgan faster); peak MB: peak RSS of the process (MiB)"
  echo
  printf '| %-28s | %10s | %10s | %7s | %9s | %9s | %12s | %12s |\n' case "nasgan ms" "torch ms" ratio \
    "nasgan MB" "torch MB" "nasgan GF/s" "torch GF/s"
  echo "|------------------------------|-----------:|-----------:|--------:|----------:|----------:|-------------:|-------------:|"
  while IFS='|' read -r c nms tms nmb tmb ngf tgf; do
    ratio=$(awk -v a="$nms" -v b="$tms" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else printf "-" }')
    printf '| %-28s | %10s | %10s | %7s | %9s | %9s | %12s | %12s |\n' "$c" "$nms" "$tms" "$ratio" "$nmb" "$tmb" "$ngf" "$tgf"
  done < "$rows"
  # built-in kernel as a percentage of OpenBLAS, for every NAME_builtin / NAME_openblas pair
  first=1
  while IFS='|' read -r c nms _rest; do
    case "$c" in *_builtin) ;; *) continue ;; esac
    base=${c%_builtin}
    obl=$(awk -F'|' -v k="${base}_openblas" '$1 == k { print $2 }' "$rows")
    [ -n "$obl" ] || continue
    [ $first = 1 ] && { echo; first=0; }
    awk -v b="$nms" -v o="$obl" -v n="$base" \
      'BEGIN { if (b + 0 > 0 && o + 0 > 0) printf "- %s: built-in kernel = %.0f%% of OpenBLAS (%s ms vs %s ms)\n", n, 100 * o / b, b, o }'
  done < "$rows"
} > "$OUT"
cat "$OUT"
exit $status
