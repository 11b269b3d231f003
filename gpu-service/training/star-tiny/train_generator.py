"""Stage 2: next-scale prediction. The frozen VQVAE from stage 1 turns every
(emoji, background) picture into its token pyramid; the generator learns to
predict each scale from the text and the scales before it (teacher forcing:
its inputs are the true earlier scales, STAR-SPEC §3.2/§4.4).

    python3 gpu-service/training/star-tiny/train_generator.py [--steps N]

The text encoder trains with it, starting from star-tiny's seeded random
CLIP (data/initial-text-encoder, written by encode-text.ts): left frozen, it
did not tell the emoji apart in the pooled features (README, the runs).

Classifier-free dropout, 10 % of rows: the row is trained on the empty
prompt, at the start token and in cross-attention alike, so "" is a real
unconditional prediction. The engine serves star-tiny with per-row
cross-attention (model.json "cross_attn"), whose unconditional branch is
exactly that; upstream's routing (STAR-SPEC §6.1) would hand it the prompt's
cross-attention, which the model never saw beside "" at the start token.
Checkpoints to runs/generator.pt every 50 steps; run again to resume."""
import argparse
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

import safetensors_io
from common import DATA, RUNS, Emoji, Log, after_step, caption, configure_cpu, load_checkpoint, lr_at, manifest, optimizer_step, resume, seed_everything
from generator import Generator
from text_encoder import ClipText
from vqvae import VQVAE

SEED = 2
BATCH = 16
PEAK_LR = 2e-3
WARMUP = 50
CFG_DROPOUT = 0.1
COARSE_SCALES = 4
# Features may differ from the engine's by float rounding only (measured: 3e-6).
TEXT_PARITY = 1e-4


class Captions:
    """Every caption's token ids and mask (encode-text.ts), "" first."""

    def __init__(self):
        text, meta = safetensors_io.read(os.path.join(DATA, 'text.safetensors'))
        self.rows = {c: i for i, c in enumerate(json.loads(meta['captions']))}
        self.empty = self.rows['']
        self.eos_id = int(meta['eos_id'])
        self.ids = torch.from_numpy(text['ids']).long()
        self.mask = torch.from_numpy(text['mask'])
        self.engine_hidden = torch.from_numpy(text['hidden'])
        self.engine_pooled = torch.from_numpy(text['pooled'])

    @torch.no_grad()
    def check(self, text_encoder):
        """Fails unless `text_encoder` gives the engine's features for every caption."""
        hidden, pooled = text_encoder(self.ids, self.mask)
        error = max(((hidden - self.engine_hidden) * self.mask[..., None]).abs().max().item(), (pooled - self.engine_pooled).abs().max().item())
        assert error < TEXT_PARITY, f'text encoder: PyTorch and the engine differ by {error}'


class TextToTokens(nn.Module):
    """The text encoder and the generator, trained as one."""

    def __init__(self, gargs, text_encoder):
        super().__init__()
        self.text_encoder = text_encoder
        self.generator = Generator(gargs)

    def forward(self, text, rows, x_next):
        """Logits for captions `rows` (at the start token and in cross-attention)."""
        hidden, pooled = self.text_encoder(text.ids[rows], text.mask[rows])
        return self.generator(pooled, hidden, text.mask[rows], x_next)


class Pairs:
    """Every (generator emoji, background) picture as tokens, teacher inputs and a caption row."""

    def __init__(self, vae, data, captions, emoji_limit, random_backgrounds):
        rows = captions.rows
        named = data.generator_backgrounds
        names = data.meta['generatorBackgrounds']
        # Flat colours drawn at random, each captioned by its nearest named colour: every emoji
        # on about a hundred backgrounds, so that drawing it on a colour it never met with its
        # own name is the same skill as on one it did. Never the held-out name's colours.
        draw = torch.Generator().manual_seed(SEED)
        emoji, colours, caps, held, mirrored = [], [], [], [], []
        generator_emoji = [i for i, e in enumerate(data.entries) if e['role'] == 'generator'][:emoji_limit]
        # Every training picture also mirrored: twice the pictures of each emoji on each
        # background, so the cheapest fit is less often a memorised (emoji, background) pair.
        for flip in (False, True):
            for i in generator_emoji:
                e = data.entries[i]
                drawn = torch.randint(0, 256, (random_backgrounds, 3), generator=draw) / 255
                nearest = torch.cdist(drawn, named).argmin(1).tolist()
                pictures = [(named[b], b, True) for b in range(len(named))] + [(c, b, False) for c, b in zip(drawn, nearest)]
                for colour, b, is_named in pictures:
                    held_out = b == e['heldOutBackground']
                    if held_out and (flip or not is_named):
                        continue
                    emoji.append(i)
                    colours.append(colour)
                    caps.append(rows[caption(e, b, names)])
                    held.append(held_out)
                    mirrored.append(flip)
        self.caption = torch.tensor(caps)
        held = torch.tensor(held)
        self.train = (~held).nonzero().flatten()
        self.held_out = held.nonzero().flatten()
        img = data.composite(torch.tensor(emoji), torch.stack(colours))
        flip = torch.tensor(mirrored)
        img[flip] = img[flip].flip(-1)
        N = vae.latent_side(img.shape[-1])
        with torch.no_grad():
            parts = [vae.quantize.encode_indices(vae.encode(chunk * 2 - 1)) for chunk in img.split(64)]
            indices = [torch.cat([p[s] for p in parts]) for s in range(len(parts[0]))]
            self.x_next = torch.cat([vae.quantize.teacher_inputs([i[k:k + 64] for i in indices], N) for k in range(0, len(img), 64)])
        self.tokens = torch.cat(indices, 1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--steps', type=int, default=4800)
    parser.add_argument('--stop-at', type=int, help='end early at this step (the schedule still spans --steps)')
    parser.add_argument('--emoji', type=int, default=192, help='train on the first N generator emoji (the quality test prompts are the first 48)')
    parser.add_argument('--random-backgrounds', type=int, default=36, help='random flat colours per emoji and mirror side, beside the named ones')
    parser.add_argument('--full-every', type=int, default=2, help='every Nth step trains all scales, the others the first COARSE_SCALES')
    args = parser.parse_args()
    configure_cpu()
    seed_everything(SEED)
    m = manifest()
    gargs = m['generator']['build_vae_var_args']
    vae = VQVAE(m['vqvae']['args'], gargs['patch_nums'])
    # The frozen tokenizer of stage 1 (train_vqvae.py --freeze-at): its tokens never change again.
    vae.load_state_dict(load_checkpoint(os.path.join(RUNS, 'vqvae-tokenizer.pt'))['model'])
    vae.eval()
    log = Log('generator')
    captions = Captions()
    pairs = Pairs(vae, Emoji(), captions, args.emoji, args.random_backgrounds)
    log(f'{len(pairs.train)} training pictures, {len(pairs.held_out)} held-out captions, {pairs.tokens.shape[1]} tokens each')
    text_encoder = ClipText.load(os.path.join(DATA, 'initial-text-encoder'), captions.eos_id)
    captions.check(text_encoder)
    model = TextToTokens(gargs, text_encoder)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=PEAK_LR, betas=(0.9, 0.95), weight_decay=0.05, foreach=True)
    path = os.path.join(RUNS, 'generator.pt')
    step = resume(path, model, opt, log)
    log(f'{sum(p.numel() for p in params)} trained parameters')
    last = min(args.steps, args.stop_at or args.steps)
    while step < last:
        model.train()
        for group in opt.param_groups:
            group['lr'] = lr_at(step, args.steps, PEAK_LR, WARMUP)
        rows = pairs.train[torch.randint(0, len(pairs.train), (BATCH,))]
        cap = pairs.caption[rows]
        cap = torch.where(torch.rand(BATCH) < CFG_DROPOUT, torch.full_like(cap, captions.empty), cap)
        # Most steps train the first COARSE_SCALES scales alone (a quarter of the compute):
        # they decide the layout and colours, and CPU time is what runs out.
        n = pairs.tokens.shape[1] if step % args.full_every == 0 else sum(pn * pn for pn in gargs['patch_nums'][:COARSE_SCALES])
        logits = model(captions, cap, pairs.x_next[rows, :n - 1])
        loss = F.cross_entropy(logits.flatten(0, 1), pairs.tokens[rows, :n].flatten())
        optimizer_step(opt, loss, params)
        step += 1
        after_step(
            step, last, path, model, opt, log,
            lambda: f'loss {loss.item():.4f} ({n} tokens)',
            lambda: f'held-out captions, teacher-forced: {evaluate(model, captions, pairs)}',
        )


@torch.no_grad()
def evaluate(model, captions, pairs):
    """Loss and token accuracy per scale on 48 of the held-out captions (teacher-forced)."""
    model.eval()
    rows = pairs.held_out[:48]
    cap = pairs.caption[rows]
    logits = model(captions, cap, pairs.x_next[rows])
    target = pairs.tokens[rows]
    loss = F.cross_entropy(logits.flatten(0, 1), target.flatten()).item()
    hit = (logits.argmax(-1) == target).float()
    acc, at = [], 0
    for pn in model.generator.patch_nums:
        acc.append(f'{hit[:, at:at + pn * pn].mean().item():.2f}')
        at += pn * pn
    return f'loss {loss:.3f}, accuracy per scale {" ".join(acc)}'


if __name__ == '__main__':
    main()
