"""Writes the trained star-tiny into gpu-service/models/star-tiny (model.json,
var.safetensors, vae.safetensors under upstream's state-dict names, and
text_encoder/ under Hugging Face's CLIP names; the tokenizer there is kept)
and the held-out evidence the quality test reads into eval/heldout.safetensors.

    python3 gpu-service/training/star-tiny/export.py [--out DIR]"""
import argparse
import json
import os
import re
import shutil

import numpy as np
import torch

import safetensors_io
from common import DATA, HERE, RUNS, Emoji, caption, load_checkpoint, manifest
from generator import Generator
from text_encoder import ClipText
from vqvae import VQVAE, exported_args

EVAL_PROMPTS = 48


def numpy_state(state):
    return {k: v.detach().float().numpy() for k, v in state.items()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--out', default=os.path.join(HERE, '../../models/star-tiny'))
    args = parser.parse_args()
    m = manifest()
    gargs = m['generator']['build_vae_var_args']
    vae = VQVAE(m['vqvae']['args'], gargs['patch_nums'])
    vae.load_state_dict(load_checkpoint(os.path.join(RUNS, 'vqvae.pt'))['model'])
    vae.eval()
    gen = Generator(gargs)
    gen_ckpt = load_checkpoint(os.path.join(RUNS, 'generator.pt'))
    gen.load_state_dict(part(gen_ckpt['model'], 'generator.'))
    text_encoder = ClipText.load(os.path.join(DATA, 'initial-text-encoder'), eos_id=None)
    text_encoder.load_state_dict(part(gen_ckpt['model'], 'text_encoder.'))
    data = Emoji()
    source = data.meta['source']
    meta = {'trained_by': 'gpu-service/training/star-tiny', 'data': f"{source['package']}@{source['version']} ({source['license']}, {source['author']})"}
    safetensors_io.write(os.path.join(args.out, m['generator']['weights']), numpy_state(gen.exported_state()), {**meta, 'steps': gen_ckpt['step']})
    safetensors_io.write(os.path.join(args.out, m['vqvae']['weights']), numpy_state(vae.exported_state()), meta)
    text_dir = os.path.join(args.out, m['text_encoder']['dir'])
    shutil.copyfile(os.path.join(DATA, 'initial-text-encoder/config.json'), os.path.join(text_dir, 'config.json'))
    safetensors_io.write(os.path.join(text_dir, 'model.safetensors'), numpy_state(text_encoder.state_dict()), {**meta, 'steps': gen_ckpt['step']})
    exported = {**m, 'vqvae': {**m['vqvae'], 'args': exported_args(m['vqvae']['args'])}}
    with open(os.path.join(args.out, 'model.json'), 'w') as f:
        f.write(manifest_json(exported))
    write_heldout(vae, data)


def part(state, prefix):
    """The entries of a TextToTokens state dict that belong to one of its two models."""
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def manifest_json(m):
    """model.json as the repository keeps it: two-space indents, lists of numbers on one line."""
    text = json.dumps(m, indent=2)
    return re.sub(r'\[([^\[\]{}"]*)\]', lambda x: '[' + ', '.join(v.strip() for v in x.group(1).split(',')) + ']', text) + '\n'


@torch.no_grad()
def heldout_tokens(vae, data):
    """The token pyramid of every held-out emoji on every named background, (E, backgrounds, L)."""
    held = torch.tensor(data.indices('held-out'))
    tokens = []
    for b in range(len(data.backgrounds)):
        img = data.composite(held, data.backgrounds[b].expand(len(held), 3))
        tokens.append(torch.cat(vae.quantize.encode_indices(vae.encode(img * 2 - 1)), 1))
    return torch.stack(tokens, 1)


@torch.no_grad()
def write_heldout(vae, data):
    """The pictures nothing trained on, as the quality test needs them.

    psnr.rgba / psnr.tokens: the held-out emoji and, per named background, the
    token pyramid the trained encoder gives them (the engine has no encoder;
    the test decodes these tokens with the engine and compares to the picture).
    prompts.rgba: the first EVAL_PROMPTS generator emoji, whose captions on
    their held-out background are the held-out caption set."""
    held = torch.tensor(data.indices('held-out'))
    prompts = sorted((e['generatorIndex'], i) for i, e in enumerate(data.entries) if e['role'] == 'generator')[:EVAL_PROMPTS]
    prompt_idx = [i for _, i in prompts]
    rgba = lambda idx: (torch.cat([data.rgb[idx], data.alpha[idx]], 1).permute(0, 2, 3, 1) * 255).round().to(torch.uint8).numpy()
    backgrounds = data.meta['backgrounds']
    evaluation = [{'caption': caption(data.entries[i], data.entries[i]['heldOutBackground'], backgrounds), 'background': data.entries[i]['heldOutBackground']} for i in prompt_idx]
    os.makedirs(os.path.join(HERE, 'eval'), exist_ok=True)
    safetensors_io.write(os.path.join(HERE, 'eval/heldout.safetensors'), {
        'psnr.rgba': rgba(held),
        'psnr.tokens': heldout_tokens(vae, data).to(torch.int32).numpy(),
        'prompts.rgba': rgba(torch.tensor(prompt_idx)),
    })
    with open(os.path.join(HERE, 'eval/heldout.json'), 'w') as f:
        json.dump({'psnr_emoji': [data.entries[i]['name'] for i in held.tolist()], 'prompts': evaluation}, f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
