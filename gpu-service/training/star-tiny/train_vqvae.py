"""Stage 1: the multi-scale residual VQVAE learns to reconstruct emoji.

    python3 gpu-service/training/star-tiny/train_vqvae.py [--steps N]

Trains on the generator and VQVAE-only emoji over the named backgrounds and
random flat colours (so it codes any background), reports PSNR on the
held-out emoji (never trained on), and checkpoints to runs/vqvae.pt every
100 steps; run it again to resume. Reproducible from SEED (on one machine:
PyTorch's CPU kernels may differ in the last bits between machines).

At --freeze-at the tokenizer half (encoder, quant_conv, codebook, φ convs)
is frozen and saved to runs/vqvae-tokenizer.pt: from then on the tokens of
every picture are final, so stage 2 can start while the decoder alone goes
on learning to draw them (from cached latents, which is much cheaper)."""
import argparse
import os

import torch
import torch.nn.functional as F

from common import RUNS, Emoji, Log, after_step, configure_cpu, lr_at, manifest, optimizer_step, resume, save_checkpoint, seed_everything
from vqvae import VQVAE, psnr

SEED = 1
BATCH = 16
PEAK_LR = 2e-3
WARMUP = 100
RESTART_EVERY = 100


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--steps', type=int, default=3000)
    parser.add_argument('--stop-at', type=int, help='end early at this step (the schedule still spans --steps)')
    parser.add_argument('--freeze-at', type=int, default=1000)
    args = parser.parse_args()
    configure_cpu()
    seed_everything(SEED)
    m = manifest()
    patch_nums = m['generator']['build_vae_var_args']['patch_nums']
    model = VQVAE(m['vqvae']['args'], patch_nums)
    opt = torch.optim.AdamW(model.parameters(), lr=PEAK_LR, betas=(0.9, 0.95), weight_decay=0.0, foreach=True)
    data = Emoji()
    train = torch.tensor(data.indices('generator', 'vqvae'))
    held_out = torch.tensor(data.indices('held-out'))
    log = Log('vqvae')
    path = os.path.join(RUNS, 'vqvae.pt')
    step = resume(path, model, opt, log)
    log(f'{len(train)} training emoji, {len(held_out)} held out, {sum(p.numel() for p in model.parameters())} parameters')
    latents = None
    last = min(args.steps, args.stop_at or args.steps)
    while step < last:
        model.train()
        if step >= args.freeze_at and latents is None:
            latents = freeze_tokenizer(model, data, train)
            log(f'step {step}: tokenizer frozen, {len(latents[0])} cached latents; decoder only from here')
        for group in opt.param_groups:
            group['lr'] = lr_at(step, args.steps, PEAK_LR, WARMUP)
        if latents is None:
            idx = train[torch.randint(0, len(train), (BATCH,))]
            named = data.backgrounds[torch.randint(0, len(data.backgrounds), (BATCH,))]
            colours = torch.where(torch.rand(BATCH, 1) < 0.5, named, torch.rand(BATCH, 3))
            img = data.composite(idx, colours)
            flip = torch.rand(BATCH) < 0.5
            img[flip] = img[flip].flip(-1)
            x = img * 2 - 1
            rec, vq_loss, _, rests = model(x)
        else:
            pick = torch.randint(0, len(latents[0]), (BATCH,))
            img = latents[1][pick]
            x = img * 2 - 1
            rec, vq_loss = model.decode(latents[0][pick]), torch.zeros(())
        rec_loss = F.mse_loss(rec, x)
        loss = rec_loss + vq_loss
        optimizer_step(opt, loss, model.parameters())
        step += 1
        if latents is None and (step in (20, 50) or (step % RESTART_EVERY == 0 and step <= 0.8 * args.freeze_at)):
            dead = model.quantize.restart_dead_codes(rests, 1)
            log(f'step {step}: restarted {dead} unused codes')
        after_step(
            step, last, path, model, opt, log,
            lambda: f'loss {loss.item():.4f} rec {rec_loss.item():.4f} vq {vq_loss.item():.4f} train psnr {psnr((rec.clamp(-1, 1) + 1) / 2, img):.2f}',
            lambda: f'held-out psnr {evaluate(model, data, held_out):.2f} dB',
        )


@torch.no_grad()
def freeze_tokenizer(model, data, train):
    """Saves and freezes encoder + quantizer; returns (f_hat, image) for every training emoji, named background and flip."""
    model.eval()
    save_checkpoint(os.path.join(RUNS, 'vqvae-tokenizer.pt'), model=model.state_dict())
    for part in (model.encoder, model.quant_conv, model.quantize):
        part.requires_grad_(False)
    f_hats, images = [], []
    for b in range(len(data.backgrounds)):
        img = data.composite(train, data.backgrounds[b].expand(len(train), 3))
        for view in (img, img.flip(-1)):
            f_hats.append(model.quantize(model.encode(view * 2 - 1))[0])
            images.append(view)
    return torch.cat(f_hats), torch.cat(images)


@torch.no_grad()
def evaluate(model, data, held_out):
    """Mean PSNR over the held-out emoji on every named background."""
    model.eval()
    scores = []
    for b in range(len(data.backgrounds)):
        img = data.composite(held_out, data.backgrounds[b].expand(len(held_out), 3))
        rec = model(img * 2 - 1)[0].clamp(-1, 1)
        scores.append(psnr((rec + 1) / 2, img))
    return sum(scores) / len(scores)


if __name__ == '__main__':
    main()
