#!/bin/sh
# Prints the linker flags for cuBLAS and the CUDA runtime (the Makefile's CUDA_LIBS) on a
# machine whose CUDA libraries may not sit in $CUDA_HOME/lib64: a toolkit in lib/ or
# targets/x86_64-linux/lib, or libraries from Python wheels (site-packages/nvidia/*/lib), which
# ship only versioned names (libcublas.so.13) and are then linked by file name (-l:NAME).
# Prints nothing, and exits 1, when either library is not found.
#   bench/find_cuda_libs.sh [CUDA_HOME]        (default: the folder above nvcc's bin/)
home=${1:-}
if [ -z "$home" ]; then
    nv=$(command -v nvcc || { [ -x /usr/local/cuda/bin/nvcc ] && echo /usr/local/cuda/bin/nvcc; })
    [ -n "$nv" ] && home=$(dirname "$(dirname "$(readlink -f "$nv")")")
fi
dirs=""
[ -n "$home" ] && dirs="$home/lib64 $home/lib $home/targets/x86_64-linux/lib"
for py in python3 /usr/bin/python3; do
    command -v "$py" >/dev/null 2>&1 || continue
    dirs="$dirs $("$py" -c 'import glob, os, site
paths = site.getsitepackages() + [site.getusersitepackages()]
print(" ".join(d for p in paths for d in glob.glob(os.path.join(p, "nvidia", "*", "lib"))))' 2>/dev/null)"
done
# flag for library $1 (cublas, cudart) from the first folder holding it: -L, rpath and -l
find_lib() {
    for d in $dirs; do
        [ -d "$d" ] || continue
        if [ -e "$d/lib$1.so" ]; then printf -- '-L%s -Wl,-rpath,%s -l%s' "$d" "$d" "$1"; return 0; fi
        v=$(ls "$d"/lib"$1".so.[0-9]* 2>/dev/null | sort | tail -1)
        if [ -n "$v" ]; then printf -- '-L%s -Wl,-rpath,%s -l:%s' "$d" "$d" "$(basename "$v")"; return 0; fi
    done
    return 1
}
blas=$(find_lib cublas) && rt=$(find_lib cudart) || exit 1
echo "$blas $rt -lstdc++"
