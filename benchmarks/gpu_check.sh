#!/usr/bin/env bash
# One short script for a lent GPU machine (the device tool): installs the package with CUDA JAX,
# runs the fit benchmark's engine part and a large batch of single-start fits, prints fits/s and
# the device name. Usage (from the repository root): bash benchmarks/gpu_check.sh [LANES]
set -euo pipefail
python3 -m pip install -q -e . "jax[cuda12]" 2>&1 | tail -2
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
python3 -c "import jax; print('JAX', jax.__version__, jax.devices())"
python3 benchmarks/gpu_check.py "${1:-1000000}"
