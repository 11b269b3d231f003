"""Stage 1 without its 30 minutes: turns the shipped VQVAE (gpu-service/models/star-tiny/
vae.safetensors, written by export.py) back into the checkpoints stage 1 leaves in runs/ —
vqvae-tokenizer.pt, which stage 2 reads, and vqvae.pt, which export.py reads — so that the
generator can be retrained on the tokens the shipped decoder knows.

    python3 gpu-service/training/star-tiny/import_vqvae.py

It checks its own work: exporting the imported model gives the shipped tensors bit for bit,
and it tokenizes the held-out emoji exactly as eval/heldout.safetensors records. Stage 1
cannot resume from these checkpoints (no optimiser state: train_vqvae.py says so and stops)."""
import os

import numpy as np
import torch

import safetensors_io
from common import HERE, RUNS, Emoji, manifest, save_checkpoint
from export import heldout_tokens
from vqvae import VQVAE, phi_index

SHIPPED = os.path.join(HERE, '../../models/star-tiny/vae.safetensors')


def main():
    m = manifest()
    vae = VQVAE(m['vqvae']['args'], m['generator']['build_vae_var_args']['patch_nums'])
    shipped, _ = safetensors_io.read(SHIPPED)
    vae.load_state_dict(trained_state(vae, shipped))
    vae.eval()
    exported = {k: v.numpy() for k, v in vae.exported_state().items()}
    assert exported.keys() == shipped.keys() and all(np.array_equal(exported[k], shipped[k]) for k in shipped), 'export of the import differs'
    check_tokens(vae)
    os.makedirs(RUNS, exist_ok=True)
    save_checkpoint(os.path.join(RUNS, 'vqvae-tokenizer.pt'), model=vae.state_dict())
    save_checkpoint(os.path.join(RUNS, 'vqvae.pt'), model=vae.state_dict(), step='imported')
    print(f'{SHIPPED} → {RUNS}/vqvae-tokenizer.pt, vqvae.pt')


def trained_state(vae, shipped):
    """exported_state inverted: the shared φ k is the one every scale with phi_index k carries."""
    scales, shared = len(vae.quantize.patch_nums), 'quantize.quant_resi.qresi_ls.'
    state = {k: torch.from_numpy(v) for k, v in shipped.items() if not k.startswith('quantize.quant_resi.')}
    for si in range(scales):
        for name in ('weight', 'bias'):
            state.setdefault(f'{shared}{phi_index(si, scales)}.{name}', torch.from_numpy(shipped[f'quantize.quant_resi.{si}.{name}']))
    state['quantize.hits'] = torch.zeros_like(vae.quantize.hits)
    return state


def check_tokens(vae):
    recorded = safetensors_io.read(os.path.join(HERE, 'eval/heldout.safetensors'))[0]['psnr.tokens']
    assert torch.equal(heldout_tokens(vae, Emoji()), torch.from_numpy(recorded).long()), 'held-out tokens differ from eval/heldout.safetensors'


if __name__ == '__main__':
    main()
