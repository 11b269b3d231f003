"""The VQVAE decoder as upstream runs it, for vqvae-decoder.ts --upstream: PyTorch, fp32,
inference mode, random weights at the shapes given. The layers are the star-tiny training
tool's (gpu-service/training/star-tiny/vqvae.py): VAR's decoder, module for module.

    python3 upstream-decoder.py '{"args": {...upstream VQVAE args}, "side": 16, "batch": 1, "threads": 2}'

Prints "ready", then answers every line on stdin with the milliseconds of one decode, so the
caller can interleave these runs with its own under the same load."""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '../training/star-tiny'))
from common import keep_freed_memory  # noqa: E402
from vqvae import Decoder  # noqa: E402

# Upstream as PyTorch runs best here; the measured cost of not doing so is in the engine
# README, "VQVAE decoder (CPU)".
keep_freed_memory()
spec = json.loads(sys.argv[1])
torch.set_num_threads(spec['threads'])
torch.manual_seed(0)
decoder = Decoder(spec['args']).eval()
f_hat = torch.randn(spec['batch'], spec['args']['z_channels'], spec['side'], spec['side'])
with torch.inference_mode():
    decoder(f_hat)  # warm-up
    print('ready', torch.__version__, flush=True)
    for _ in sys.stdin:
        started = time.perf_counter()
        decoder(f_hat)
        print(f'{(time.perf_counter() - started) * 1000:.3f}', flush=True)
