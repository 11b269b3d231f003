"""What both training stages share: paths, the model config, the emoji data,
CPU settings, seeding, checkpoints and the learning-rate schedule."""
import ctypes
import ctypes.util
import json
import math
import os
import random
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, 'data')
RUNS = os.environ.get('STAR_TINY_RUNS', os.path.join(HERE, 'runs'))
MANIFEST = os.path.join(HERE, 'model.json')
LOG_EVERY = 25
CHECKPOINT_EVERY = 50
# mallopt(3) parameters, from glibc's malloc.h.
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4


def manifest():
    with open(MANIFEST) as f:
        return json.load(f)


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def configure_cpu():
    """Threads, denormals and the allocator, set once before training."""
    torch.set_num_threads(int(os.environ.get('STAR_TRAIN_THREADS', '1')))
    # Adam's second moments drift into denormals, which make its sqrt crawl on x86.
    torch.set_flush_denormal(True)
    keep_freed_memory()


def keep_freed_memory():
    """glibc hands every block over 32 MB back to the kernel when freed (and, with
    gpu-service/bench's MALLOC_ENV, every block over 128 KiB), and PyTorch's next step
    page-faults all of it in again: a sixth of a full generator step (its 40 MB logits and
    their gradients), half or more of a released-size VQVAE decode. Keep freed memory in the heap."""
    libc = ctypes.CDLL(ctypes.util.find_library('c'))
    libc.mallopt(M_MMAP_MAX, 0)
    libc.mallopt(M_TRIM_THRESHOLD, 2 ** 31 - 1)


class Emoji:
    """data.ts's output: RGBA emoji and their roles, composited on demand."""

    def __init__(self):
        with open(os.path.join(DATA, 'dataset.json')) as f:
            self.meta = json.load(f)
        side = self.meta['side']
        raw = np.fromfile(os.path.join(DATA, 'emoji.rgba'), dtype=np.uint8)
        rgba = torch.from_numpy(raw.reshape(-1, side, side, 4).copy()).permute(0, 3, 1, 2).float() / 255
        self.rgb = rgba[:, :3]
        self.alpha = rgba[:, 3:]
        colours = lambda backgrounds: torch.tensor([b['rgb'] for b in backgrounds], dtype=torch.float32) / 255
        self.backgrounds = colours(self.meta['backgrounds'])
        # backgrounds first, same indices, then the colours only the generator trains on.
        self.generator_backgrounds = colours(self.meta['generatorBackgrounds'])
        self.entries = self.meta['emoji']

    def indices(self, *roles):
        return [i for i, e in enumerate(self.entries) if e['role'] in roles]

    def composite(self, idx, colours):
        """idx (B,) emoji, colours (B, 3) in [0, 1] → images in [0, 1], (B, 3, H, W); rounded to uint8 like dataset.ts."""
        a = self.alpha[idx]
        img = self.rgb[idx] * a + colours[:, :, None, None] * (1 - a)
        return torch.round(img * 255) / 255


def caption(entry, background, backgrounds):
    """dataset.ts's captionOf."""
    colour = backgrounds[background]['name']
    return f"{entry['caption']} on a {colour} background" if colour else entry['caption']


def lr_at(step, total, peak, warmup):
    """Linear warm-up, then cosine down to 10 % of the peak."""
    if step < warmup:
        return peak * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))


def optimizer_step(opt, loss, params, max_norm=2.0):
    """One update of both stages: backward, gradient norm clipped to max_norm, step."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, max_norm)
    opt.step()


def save_checkpoint(path, **state):
    tmp = path + '.tmp'
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path):
    return torch.load(path) if os.path.exists(path) else None


def save_state(path, model, opt, step):
    """What resume() reads back: model, optimiser, RNG and step."""
    save_checkpoint(path, model=model.state_dict(), opt=opt.state_dict(), rng=torch.get_rng_state(), step=step)


def after_step(step, last, path, model, opt, log, progress, held_out):
    """The end of a step in both stages: `progress()` logged every LOG_EVERY steps; every
    CHECKPOINT_EVERY steps and at the last, a checkpoint and `held_out()` (the held-out figure)."""
    if step % LOG_EVERY == 0:
        log(f'step {step} {progress()}')
    if step % CHECKPOINT_EVERY == 0 or step == last:
        save_state(path, model, opt, step)
        log(f'step {step}: {held_out()}')


def resume(path, model, opt, log):
    """Loads model, optimiser and RNG from `path` when it exists; returns the step to go on from."""
    ckpt = load_checkpoint(path)
    if not ckpt:
        return 0
    if 'opt' not in ckpt:
        raise SystemExit(f'{path}: no optimiser state to resume from (import_vqvae.py wrote it); delete it to train anew')
    model.load_state_dict(ckpt['model'])
    opt.load_state_dict(ckpt['opt'])
    torch.set_rng_state(ckpt['rng'])
    log(f"resumed at step {ckpt['step']}")
    return ckpt['step']


class Log:
    def __init__(self, name):
        os.makedirs(RUNS, exist_ok=True)
        self.file = open(os.path.join(RUNS, name + '.log'), 'a')
        self.start = time.time()

    def __call__(self, *parts):
        line = f"[{time.strftime('%H:%M:%S')} +{time.time() - self.start:6.0f}s] " + ' '.join(str(p) for p in parts)
        print(line, flush=True)
        self.file.write(line + '\n')
        self.file.flush()
