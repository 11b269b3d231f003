"""VAR's multi-scale residual VQVAE at star-tiny's size, in PyTorch, with the
state-dict names the TypeScript engine reads (STAR-SPEC §5). The decoder and
the quantizer's φ convs follow §5.2/§5.3 step for step; the encoder mirrors
VAR's (only training uses it, but it is exported too, like VAR's file)."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

GROUPS = 32
# The encoder only trains (the engine never runs it), so it may normalise in
# larger groups: GroupNorm with one channel per group (32 groups over 32
# channels) forgets each channel's mean over the picture, which is where a
# flat background's colour lives.
ENCODER_GROUPS = 8
EPS = 1e-6


def norm(c, groups=GROUPS):
    return nn.GroupNorm(groups, c, eps=EPS, affine=True)


class ResnetBlock(nn.Module):
    def __init__(self, cin, cout, groups=GROUPS):
        super().__init__()
        self.norm1 = norm(cin, groups)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = norm(cout, groups)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.nin_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return (x if self.nin_shortcut is None else self.nin_shortcut(x)) + h


class AttnBlock(nn.Module):
    """Single-head attention over positions; one 1×1 conv makes q, k, v (§5.2)."""

    def __init__(self, c, groups=GROUPS):
        super().__init__()
        self.norm = norm(c, groups)
        self.qkv = nn.Conv2d(c, 3 * c, 1)
        self.proj_out = nn.Conv2d(c, c, 1)

    def forward(self, x):
        B, C, H, W = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(B, 3 * C, H * W).chunk(3, dim=1)
        w = torch.softmax(torch.bmm(q.transpose(1, 2), k) * C ** -0.5, dim=-1)  # (B, hw_q, hw_k)
        o = torch.bmm(v, w.transpose(1, 2)).reshape(B, C, H, W)
        return x + self.proj_out(o)


class Downsample(nn.Module):
    """VAR's: pad right and bottom by one, then a stride-2 3×3 conv."""

    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, stride=2)

    def forward(self, x):
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Upsample(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2, mode='nearest'))


class Level(nn.Module):
    """One resolution level: ResnetBlocks (each followed by an AttnBlock when `attn`), then
    the `resample` module under upstream's name for it (downsample or upsample), if any."""

    def __init__(self, block_in, block_out, blocks, attn, groups, resample=None):
        super().__init__()
        self.block = nn.ModuleList()
        self.attn = nn.ModuleList()
        for _ in range(blocks):
            self.block.append(ResnetBlock(block_in, block_out, groups))
            block_in = block_out
            if attn:
                self.attn.append(AttnBlock(block_in, groups))
        self.resample_name = resample[0] if resample else None
        if resample:
            setattr(self, resample[0], resample[1](block_in))

    def forward(self, h):
        for j, block in enumerate(self.block):
            h = block(h)
            if len(self.attn):
                h = self.attn[j](h)
        return getattr(self, self.resample_name)(h) if self.resample_name else h


class Mid(nn.Module):
    def __init__(self, c, attn, groups=GROUPS):
        super().__init__()
        self.block_1 = ResnetBlock(c, c, groups)
        self.attn_1 = AttnBlock(c, groups) if attn else nn.Identity()
        self.block_2 = ResnetBlock(c, c, groups)

    def forward(self, x):
        return self.block_2(self.attn_1(self.block_1(x)))


class Encoder(nn.Module):
    def __init__(self, a):
        super().__init__()
        ch, mult, levels = a['ch'], a['ch_mult'], len(a['ch_mult'])
        self.conv_in = nn.Conv2d(3, ch, 3, padding=1)
        self.down = nn.ModuleList()
        block_in = ch
        for lvl in range(levels):
            block_out = ch * mult[lvl] if a['num_res_blocks'] else block_in
            last = lvl == levels - 1
            self.down.append(Level(block_in, block_out, a['num_res_blocks'], last and a['using_sa'], ENCODER_GROUPS, None if last else ('downsample', Downsample)))
            block_in = block_out
        self.mid = Mid(block_in, a['using_mid_sa'], ENCODER_GROUPS)
        self.norm_out = norm(block_in, ENCODER_GROUPS)
        self.conv_out = nn.Conv2d(block_in, a['z_channels'], 3, padding=1)

    def forward(self, x):
        h = self.conv_in(x)
        for level in self.down:
            h = level(h)
        return self.conv_out(F.silu(self.norm_out(self.mid(h))))


class Decoder(nn.Module):
    def __init__(self, a):
        super().__init__()
        ch, mult, levels = a['ch'], a['ch_mult'], len(a['ch_mult'])
        block_in = ch * mult[-1]
        self.conv_in = nn.Conv2d(a['z_channels'], block_in, 3, padding=1)
        self.mid = Mid(block_in, a['using_mid_sa'])
        up = []
        for lvl in reversed(range(levels)):
            block_out = ch * mult[lvl]
            up.insert(0, Level(block_in, block_out, a['num_res_blocks'] + 1, lvl == levels - 1 and a['using_sa'], GROUPS, ('upsample', Upsample) if lvl else None))
            block_in = block_out
        self.up = nn.ModuleList(up)  # up[lvl], as upstream names it
        self.norm_out = norm(block_in)
        self.conv_out = nn.Conv2d(block_in, 3, 3, padding=1)

    def forward(self, z):
        h = self.mid(self.conv_in(z))
        for lvl in reversed(range(len(self.up))):
            h = self.up[lvl](h)
        return self.conv_out(F.silu(self.norm_out(h)))


def phi_index(si, scales, count=4):
    """STAR-SPEC §1.3: argmin_k |tick_k − si/(S−1)|, ticks = linspace(1/12, 11/12, 4)."""
    ticks = [1 / 3 / count + k * (1 - 2 / 3 / count) / (count - 1) for k in range(count)]
    at = si / (scales - 1)
    return min(range(count), key=lambda k: (abs(ticks[k] - at), k))


class Phi(nn.Conv2d):
    def __init__(self, c, resi):
        super().__init__(c, c, 3, padding=1)
        self.resi = resi

    def forward(self, x):
        return x * (1 - self.resi) + super().forward(x) * self.resi


class QuantResi(nn.Module):
    def __init__(self, c, resi, count):
        super().__init__()
        self.qresi_ls = nn.ModuleList([Phi(c, resi) for _ in range(count)])


class MultiScaleQuantizer(nn.Module):
    """The residual quantizer over patch_nums (STAR-SPEC §5.3; VAR's VectorQuantizer2)."""

    def __init__(self, a, patch_nums, beta=0.25):
        super().__init__()
        self.patch_nums = patch_nums
        self.beta = beta
        self.embedding = nn.Embedding(a['vocab_size'], a['z_channels'])
        nn.init.uniform_(self.embedding.weight, -1 / a['vocab_size'], 1 / a['vocab_size'])
        self.quant_resi = QuantResi(a['z_channels'], a['quant_resi'], a['share_quant_resi'])
        self.register_buffer('hits', torch.zeros(a['vocab_size']))

    def phi(self, si, h):
        return self.quant_resi.qresi_ls[phi_index(si, len(self.patch_nums))](h)

    def nearest(self, rest):
        """rest (N, C) → code indices (N,) by L2 distance."""
        e = self.embedding.weight
        d = rest.pow(2).sum(1, keepdim=True) + e.pow(2).sum(1) - 2 * rest @ e.t()
        return d.argmin(1)

    def up(self, h, side):
        return h if h.shape[-1] == side else F.interpolate(h, size=(side, side), mode='bicubic', align_corners=False)

    def forward(self, f):
        """f (B, C, N, N) → (f_hat with a straight-through gradient, vq loss, indices per scale, residuals)."""
        B, C, N, _ = f.shape
        f_no_grad = f.detach()
        f_rest = f_no_grad.clone()
        f_hat = torch.zeros_like(f)
        loss = 0.0
        indices = []
        rests = []
        for si, pn in enumerate(self.patch_nums):
            z = F.interpolate(f_rest, size=(pn, pn), mode='area') if pn != N else f_rest
            rest = z.permute(0, 2, 3, 1).reshape(-1, C)
            idx = self.nearest(rest)
            rests.append(rest)
            indices.append(idx.view(B, pn * pn))
            self.hits.index_add_(0, idx, torch.ones_like(idx, dtype=self.hits.dtype))
            h = self.embedding(idx).view(B, pn, pn, C).permute(0, 3, 1, 2)
            h = self.phi(si, self.up(h, N))
            f_hat = f_hat + h
            f_rest = f_rest - h.detach()
            loss = loss + F.mse_loss(f_hat.detach(), f) * self.beta + F.mse_loss(f_hat, f_no_grad)
        f_hat = (f_hat.detach() - f_no_grad) + f
        return f_hat, loss / len(self.patch_nums), indices, rests

    @torch.no_grad()
    def encode_indices(self, f):
        """f → indices per scale, exactly as forward's (no losses)."""
        return self.forward(f)[2]

    def embed_scale(self, si, idx, N):
        """φ(Up(codebook[idx])) for scale si: idx (B, pn²) → (B, C, N, N)."""
        pn = self.patch_nums[si]
        h = self.embedding(idx).view(idx.shape[0], pn, pn, -1).permute(0, 3, 1, 2)
        return self.phi(si, self.up(h, N))

    def teacher_inputs(self, indices, N):
        """The generator's inputs for scales 1..S−1: area-downsampled cumulative f_hat (§4.4), (B, L−1, C)."""
        f_hat = None
        out = []
        for si in range(len(self.patch_nums) - 1):
            h = self.embed_scale(si, indices[si], N)
            f_hat = h if f_hat is None else f_hat + h
            nxt = self.patch_nums[si + 1]
            out.append(F.interpolate(f_hat, size=(nxt, nxt), mode='area').flatten(2).transpose(1, 2))
        return torch.cat(out, 1)

    def f_hat_of(self, indices, N):
        f_hat = 0
        for si in range(len(self.patch_nums)):
            f_hat = f_hat + self.embed_scale(si, indices[si], N)
        return f_hat

    @torch.no_grad()
    def restart_dead_codes(self, rests, min_hits):
        """Codes hit fewer than min_hits times since the last call move onto random recent residuals."""
        dead = (self.hits < min_hits).nonzero().flatten()
        pool = torch.cat(rests, 0)
        if len(dead):
            pick = torch.randint(0, pool.shape[0], (len(dead),))
            self.embedding.weight.data[dead] = pool[pick] + 1e-3 * torch.randn_like(pool[pick])
        self.hits.zero_()
        return len(dead)


class VQVAE(nn.Module):
    def __init__(self, a, patch_nums):
        super().__init__()
        self.args = a
        self.encoder = Encoder(a)
        self.quant_conv = nn.Conv2d(a['z_channels'], a['z_channels'], 3, padding=1)
        self.quantize = MultiScaleQuantizer(a, patch_nums)
        self.post_quant_conv = nn.Conv2d(a['z_channels'], a['z_channels'], 3, padding=1)
        self.decoder = Decoder(a)

    def latent_side(self, image_side):
        return image_side // 2 ** (len(self.args['ch_mult']) - 1)

    def encode(self, img):
        return self.quant_conv(self.encoder(img))

    def decode(self, f_hat):
        return self.decoder(self.post_quant_conv(f_hat))

    def forward(self, img):
        f_hat, vq_loss, indices, rests = self.quantize(self.encode(img))
        return self.decode(f_hat), vq_loss, indices, rests

    def exported_state(self):
        """The state dict under upstream's names, with one φ per scale (upstream's non-shared
        layout, `share_quant_resi` 0: see exported_args); hits is training bookkeeping."""
        full, shared, scales = self.state_dict(), 'quantize.quant_resi.qresi_ls.', len(self.quantize.patch_nums)
        state = {k: v for k, v in full.items() if k != 'quantize.hits' and not k.startswith(shared)}
        for si in range(scales):
            for name in ('weight', 'bias'):
                state[f'quantize.quant_resi.{si}.{name}'] = full[f'{shared}{phi_index(si, scales)}.{name}']
        return state


def exported_args(args):
    """The VQVAE args of the exported weights. Upstream picks a shared φ by the nearest of
    float ticks, and with 7 scales scale 3 sits on a tie between φ1 and φ2 that numpy's
    rounding breaks the other way from phi_index; writing the φ each scale trained with
    (non-shared) makes the engine run exactly the trained function, whatever the tie-break."""
    return {**args, 'share_quant_resi': 0}


def psnr(a, b):
    """a, b in [0, 1]; mean PSNR over the batch in dB."""
    mse = (a - b).pow(2).flatten(1).mean(1).clamp_min(1e-10)
    return (10 * torch.log10(1 / mse)).mean().item()


assert math.isclose(phi_index(0, 10), 0) and phi_index(9, 10) == 3 and phi_index(5, 10) == 2
