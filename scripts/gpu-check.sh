#!/usr/bin/env bash
# GPU check of the `cuda` feature: build here, run on the device machine.
#
#   scripts/gpu-check.sh build    here, on the GPU-less machine (minutes on 2 cores)
#     Sources scripts/cuda-kit.sh and builds in release mode with --features cuda, in
#     target-cuda/, the integration tests (cuda_equivalence among them) and the bench and
#     mnist examples. Fills the
#     ignored folder .gpu/, the only thing to carry (about 25 MB):
#       bin.tar.xz   the three binaries, debug info stripped, packed
#       torch/       the PyTorch anchor scripts/torch_throughput.py (imports torch only)
#       data/mnist/  the full MNIST (.gz), from $MNIST_DIR, else lightlayers' data cache
#                    (fill it with `cargo run --release --example mnist -- --download`)
#       include/     headers for NVRTC: dfdx compiles some kernels (reshape, concat, stack,
#                    to_dtype) at run time, with include paths fixed at build time: the kit's
#                    /tmp/cudaroot/include (cuda_fp16.h) and dfdx's build OUT_DIR (*.cuh)
#       nvrtc-paths  "embedded-path include-subfolder" lines, linked back into place by `run`
#     Prints the size of .gpu and the device call to make.
#
#   scripts/gpu-check.sh train [EPOCHS]   on the device: only MNIST training on the GPU
#     (LightLayers k=3, full data, default 10 epochs) into $OUT/mnist-gpu.log
#
#   scripts/gpu-check.sh run      on the device, from the repo root, with carry [".gpu"]
#     Unpacks the binaries, puts the CUDA 13 libraries of the device's python3 on
#     LD_LIBRARY_PATH, links the embedded include paths to .gpu/include, then runs each step
#     under a timeout capped by an overall deadline (RUN_BUDGET_S, default 390 s); a failing
#     step never stops the next. Writes 7 files to $OUT:
#       summary.txt        machine, library dir, ldd, each step's exit code and seconds
#       equivalence.jsonl  one line per Cuda-vs-Cpu check ($LIGHTLAYERS_REPORT)
#       equivalence.log    the test's output
#       torch.jsonl        torch_throughput.py on the GPU, for the models below
#       throughput.jsonl   bench --device cuda: MNIST and CIFAR-10 (conv, separable, light k=1
#                          and 3) and CIFAR-100 light k=5, IMAGES synthetic images (6400)
#       mnist.log          MNIST light k=3 on the full data, 2 epochs on the GPU then on the
#                          CPU (1 each if the bench saw under 1500 img/s), per-epoch lines
#       stderr.log         the error output of the torch, bench and mnist steps
set -u

build() {
  set -eo pipefail
  cd "$(dirname "$0")/.."
  # shellcheck source=/dev/null
  . scripts/cuda-kit.sh
  export CARGO_TARGET_DIR=target-cuda
  local json=target-cuda/gpu-check-build.jsonl bin=target-cuda/gpu-bin name exe out
  cargo test --release --features cuda --test integration --no-run \
    --message-format=json-render-diagnostics >"$json"
  cargo build --release --features cuda --example bench --example mnist \
    --message-format=json-render-diagnostics >>"$json"
  rm -rf .gpu "$bin" && mkdir -p .gpu/torch .gpu/data/mnist .gpu/include "$bin"
  for name in integration bench mnist; do
    exe=$(jq -r --arg n "$name" 'select(.reason == "compiler-artifact"
      and .target.name == $n and .executable != null) | .executable' "$json" | tail -1)
    [ -x "$exe" ] || { echo "no executable for $name in $json" >&2; return 1; }
    objcopy --strip-debug "$exe" "$bin/$name"
    echo "$name needs: $(ldd "$bin/$name" | awk '/cuda|cublas|curand|nvrtc/ {print $1}' | xargs)"
  done
  echo "packing the binaries (xz -9, about 30 s)"
  tar -C "$bin" -cf - integration bench mnist | xz -9 -T0 >.gpu/bin.tar.xz
  cp scripts/torch_throughput.py .gpu/torch/
  cp "${MNIST_DIR:-${LIGHTLAYERS_DATA:-${XDG_CACHE_HOME:-$HOME/.cache}/lightlayers}/mnist}"/*.gz .gpu/data/mnist/

  # the NVRTC include paths compiled into the binaries, with the headers they must hold
  : >.gpu/nvrtc-paths
  if grep -qaF "$CUDA_ROOT/include" "$bin"/*; then
    mkdir -p .gpu/include/cuda
    cp "$CUDA_ROOT"/include/cuda_fp16.h "$CUDA_ROOT"/include/cuda_fp16.hpp .gpu/include/cuda/
    echo "$CUDA_ROOT/include cuda" >>.gpu/nvrtc-paths
  fi
  for out in $(jq -r 'select(.reason == "build-script-executed"
      and (.package_id | test("dfdx"))) | .out_dir' "$json" | sort -u); do
    grep -qaF "$out" "$bin"/* || continue
    name=$(basename "$(dirname "$out")")
    mkdir -p ".gpu/include/$name" && cp "$out"/*.cuh ".gpu/include/$name/"
    echo "$out $name" >>.gpu/nvrtc-paths
  done
  echo "NVRTC include paths in the binaries (recreated by 'run'):"
  cat .gpu/nvrtc-paths
  echo "travels: $(du -sh .gpu | cut -f1) in .gpu, $(git ls-files -coz --exclude-standard |
    du -ch --files0-from=- | tail -1 | cut -f1) in the working tree (limit 64 MiB together)"
  cat <<'EOF'
device call (the `run` tool): command "bash scripts/gpu-check.sh run", carry [".gpu"],
timeout_s 450 (the steps stop by RUN_BUDGET_S=390 s)
EOF
}

# step NAME LIMIT_S CMD...: CMD under a timeout of min(LIMIT_S, time left); the exit code and
# seconds go to summary.txt and to the console (fd 3), CMD's output wherever the caller sends it
step() {
  local name=$1 limit=$2 left t0 rc
  shift 2
  left=$((START + RUN_BUDGET_S - $(date +%s)))
  [ "$left" -lt "$limit" ] && limit=$left
  if [ "$limit" -lt 5 ]; then
    echo "$name: skipped, no time left" | tee -a "$OUT/summary.txt" >&3
    return
  fi
  echo "== $name (timeout ${limit}s)" | tee -a "$OUT/stderr.log" >&3
  t0=$(date +%s)
  timeout -k 5 "$limit" "$@"
  rc=$?
  echo "$name: rc=$rc $(($(date +%s) - t0))s" | tee -a "$OUT/summary.txt" >&3
}

# Unpacks the binaries, sets LD_LIBRARY_PATH, recreates the NVRTC include paths and records
# the machine in $OUT/summary.txt (shared by `run` and `train`).
setup() {
  : "${OUT:?OUT must name the folder for the results}"
  local py=${PYTHON:-python3} lib path sub
  cd "$(dirname "$0")/.." || exit 1
  mkdir -p "$OUT" .gpu/bin
  exec 3>&1
  tar -C .gpu/bin -xJf .gpu/bin.tar.xz || "$py" -m tarfile -e .gpu/bin.tar.xz .gpu/bin
  # the pip wheels' CUDA 13 (cuBLAS, NVRTC); the driver's libcuda.so.1 from the system
  lib=$("$py" -c 'import nvidia,os;print(next((p for p in nvidia.__path__
    if os.path.isdir(p+"/cu13/lib")), nvidia.__path__[0]))')/cu13/lib
  export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
    [ -d "$d" ] && LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$d"
  done
  {
    date -u
    nvidia-smi -L
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    echo "CPU: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
    echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
    ls "$lib"
    for b in .gpu/bin/*; do echo "$b:" && ldd "$b" | grep -E 'cuda|cublas|nvrtc|not found'; done
    while read -r path sub; do
      [ -e "$path" ] || { mkdir -p "$(dirname "$path")" && ln -s "$PWD/.gpu/include/$sub" "$path"; }
      echo "NVRTC include path $path: $(cd "$path" && echo *)"
    done <.gpu/nvrtc-paths
  } >"$OUT/summary.txt" 2>&1
  cat "$OUT/summary.txt"
}

run() {
  START=$(date +%s) RUN_BUDGET_S=${RUN_BUDGET_S:-390}
  local images=${IMAGES:-6400} py=${PYTHON:-python3} line family variant k rate b
  setup

  step equivalence 120 env LIGHTLAYERS_REPORT="$OUT/equivalence.jsonl" \
    .gpu/bin/integration cuda_equivalence:: --test-threads 1 >"$OUT/equivalence.log" 2>&1

  local models=(
    "mnist conv 0" "mnist separable 0" "mnist light 1" "mnist light 3"
    "cifar10 conv 0" "cifar10 separable 0" "cifar10 light 1" "cifar10 light 3"
    "cifar100 light 5")
  # SKIP_THROUGHPUT=1 leaves out the torch and bench steps (to rerun only the checks)
  [ -n "${SKIP_THROUGHPUT:-}" ] && models=()
  for line in "${models[@]}"; do
    read -r family variant k <<<"$line"
    step "torch $line" 30 "$py" .gpu/torch/torch_throughput.py "$family" "$variant" "$k" \
      --device cuda --images "$images" >>"$OUT/torch.jsonl" 2>>"$OUT/stderr.log"
  done
  for line in "${models[@]}"; do
    read -r family variant k <<<"$line"
    step "bench $line" 45 .gpu/bin/bench --device cuda --family "$family" \
      --variant "$variant" --k "$((k > 0 ? k : 1))" --images "$images" \
      >>"$OUT/throughput.jsonl" 2>>"$OUT/stderr.log"
  done

  # how a GPU step scales with the batch: a time per step that hardly grows with the batch
  # is fixed per-operation cost (kernel launches), not arithmetic
  for b in 64 256 1024; do
    step "bench batch $b" 45 .gpu/bin/bench --device cuda --family mnist --variant light \
      --k 3 --images 12800 --batch-size "$b" >>"$OUT/throughput.jsonl" 2>>"$OUT/stderr.log"
  done

  # 2 epochs on the GPU, 1 if the bench measured under 1500 images/s for this model; the
  # per-epoch lines (the progress display off a terminal) go to mnist.log too
  local mnist=(.gpu/bin/mnist --variant light --k 3 --data-dir .gpu/data/mnist) epochs=2
  rate=$(grep -sF '"family":"mnist","variant":"light","k":3,' "$OUT/throughput.jsonl" |
    grep -oE '"train_img_per_s":[0-9]+' | head -1 | cut -d: -f2)
  [ -n "$rate" ] && [ "$rate" -lt 1500 ] && epochs=1
  echo "== GPU, $epochs epochs" >>"$OUT/mnist.log"
  step "mnist cuda" 120 "${mnist[@]}" --device cuda --epochs "$epochs" >>"$OUT/mnist.log" 2>&1
  printf '\n== CPU (%s cores), %s epochs\n' "$(nproc)" "$epochs" >>"$OUT/mnist.log"
  step "mnist cpu" 90 "${mnist[@]}" --device cpu --epochs "$epochs" >>"$OUT/mnist.log" 2>&1
  echo "total: $(($(date +%s) - START))s" >>"$OUT/summary.txt"

  # the results once more, for the console
  echo "== results"
  grep -E '^[a-z].*: (rc|skipped)|^total' "$OUT/summary.txt"
  grep -hE '^test result|^failures:|panicked' "$OUT/equivalence.log"
  local pass fail
  pass=$(grep -v informational "$OUT/equivalence.jsonl" | grep -sc '"pass":true')
  fail=$(grep -v informational "$OUT/equivalence.jsonl" | grep -sc '"pass":false')
  echo "equivalence checks passed: ${pass:-0}, failed: ${fail:-0}"
  grep -F informational "$OUT/equivalence.jsonl" | grep -F '"pass":false' | head -20
  cat "$OUT/throughput.jsonl" "$OUT/torch.jsonl"
  grep -E '^== |^\| MNIST|^epoch [0-9]+/[0-9]+:' "$OUT/mnist.log"
}

# A full MNIST training run on the GPU (LightLayers k=3, the paper's settings, full data).
train() {
  START=$(date +%s) RUN_BUDGET_S=${RUN_BUDGET_S:-390}
  setup
  step "mnist cuda ${1:-10} epochs" $((RUN_BUDGET_S - 10)) .gpu/bin/mnist --device cuda \
    --data-dir .gpu/data/mnist --epochs "${1:-10}" >"$OUT/mnist-gpu.log" 2>&1
  grep -E '^epoch [0-9]+/[0-9]+:|^\| MNIST' "$OUT/mnist-gpu.log"
}

case "${1:-}" in
  build) build ;;
  run) run ;;
  train) train "${2:-10}" ;;
  *) echo "usage: $0 build | run | train [EPOCHS]" >&2; exit 2 ;;
esac
