#!/bin/bash
# Build kit for dfdx's `cuda` feature on a machine with no CUDA toolkit and no GPU:
# CUDA 13.0 (the device machines' driver level) from PyPI wheels, a stub libcuda for linking,
# and a stand-in nvidia-smi for dfdx's build script. Source it, then `cargo build --features cuda`.
#   . scripts/cuda-kit.sh [COMPUTE_CAP]      (default 90: H100/H200)
# Needs pip (the wheels go to /tmp/cudakit, about 3 GB) and gcc; scripts/gpu-check.sh uses it.
# The binary then needs, on the GPU machine, the real driver and CUDA 13 libraries:
#   LD_LIBRARY_PATH=$(python3 -c 'import nvidia,os;print(os.path.dirname(nvidia.__path__[0]))')/nvidia/cu13/lib
cap=${1:-90}
kit=/tmp/cudakit
root=/tmp/cudaroot
if [ ! -x $kit/nvidia/cu13/bin/nvcc ]; then
  pip install -q --target $kit nvidia-cuda-nvcc==13.0.88 nvidia-cuda-runtime==13.0.96 \
    nvidia-cuda-crt==13.0.88 nvidia-nvvm==13.0.88 nvidia-cuda-nvrtc==13.0.88 \
    nvidia-curand==10.4.0.35 nvidia-cublas==13.0.2.14 >/dev/null 2>&1 || { echo "cuda kit: pip failed"; return 1; }
  # pip --target skips folders that exist already, so the headers of CCCL (nv/target, cub, ...)
  # go in apart and are merged
  pip install -q --target $kit-cccl --no-deps nvidia-cuda-cccl==13.0.85 >/dev/null 2>&1 &&
    cp -rn $kit-cccl/nvidia/cu13/include/* $kit/nvidia/cu13/include/ || { echo "cuda kit: cccl failed"; return 1; }
fi
k=$kit/nvidia/cu13
mkdir -p $root/lib64 $root/bin
ln -sfn $k/include $root/include
for l in cublas:13 cublasLt:13 curand:10 nvrtc:13 cudart:13; do
  ln -sf $k/lib/lib${l%%:*}.so.${l##*:} $root/lib64/lib${l%%:*}.so
done
if [ ! -f $root/lib64/libcuda.so ]; then
  sys=$(ls -d ~/.cargo/registry/src/*/cudarc-0.9.*/src/driver/sys.rs 2>/dev/null | head -1)
  [ -n "$sys" ] || { echo "cuda kit: fetch cudarc first (cargo fetch)"; return 1; }
  grep -oE "pub fn cu[A-Za-z0-9_]+" "$sys" | sort -u | awk '{print "int " $3 "(void){return 999;}"}' > $root/stub.c
  gcc -shared -fPIC -o $root/lib64/libcuda.so -Wl,-soname,libcuda.so.1 $root/stub.c
fi
cat > $root/bin/nvidia-smi <<EOS
#!/bin/sh
echo compute_cap
echo ${cap%?}.${cap#?}
EOS
chmod +x $root/bin/nvidia-smi
export PATH=$root/bin:$k/bin:$PATH CUDA_ROOT=$root CUDA_COMPUTE_CAP=$cap
echo "cuda kit ready: nvcc $(nvcc --version | tail -1), CUDA_ROOT=$root, sm_$cap"
