"""STAR's generator (VAR with text cross-attention) in PyTorch for training,
with the state-dict names and shapes of STAR-SPEC §3.1 so the TypeScript
engine loads the exported file like a released checkpoint. The forward is
the teacher-forced one: all scales at once under a block-causal mask (§3.4),
and each row's own text in cross-attention (the "corrected" routing; the
engine's per-request routing gives the conditional row the same thing)."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

HEAD_DIM = 64
NUM_CLASSES = 1000
LN_EPS = 1e-6
MAX_SCALE_MUL = math.log(100)


def ln(x):
    """The affine-free LayerNorm every block and the logit norm use (§3.6, §3.7)."""
    return F.layer_norm(x, x.shape[-1:], eps=LN_EPS)


def rope_table(patch_nums, theta, norm):
    """(L, 32) complex angles as cos and sin, STAR-SPEC §3.3."""
    per_axis = HEAD_DIM // 4
    omega = 1.0 / theta ** (torch.arange(per_axis, dtype=torch.float32) * 4 / HEAD_DIM)
    angles = []
    for pn in patch_nums:
        l = torch.arange(pn * pn)
        tx, ty = (l % pn).float(), (l // pn).float()
        if pn > 1:
            tx, ty = tx / (pn - 1) * norm, ty / (pn - 1) * norm
        angles.append(torch.cat([tx[:, None] * omega, ty[:, None] * omega], 1))
    a = torch.cat(angles, 0)
    return torch.cos(a), torch.sin(a)


def apply_rope(x, cos, sin):
    """x (B, L, H, 64): pairs (2m, 2m+1) rotated by angle m."""
    xr = x.reshape(*x.shape[:-1], HEAD_DIM // 2, 2)
    re, im = xr[..., 0], xr[..., 1]
    c, s = cos[None, :, None, :], sin[None, :, None, :]
    return torch.stack([re * c - im * s, re * s + im * c], -1).flatten(-2)


class L2NormAttention(nn.Module):
    """What both attentions hold (§3.4, §3.5): q/v biases (k's is a zero buffer), the
    per-head log scale that replaces 1/√d after L2-normalising q and k, the output proj."""

    def __init__(self, C, H):
        super().__init__()
        self.H = H
        self.q_bias = nn.Parameter(torch.zeros(C))
        self.v_bias = nn.Parameter(torch.zeros(C))
        self.register_buffer('zero_k_bias', torch.zeros(C))
        self.scale_mul_1H11 = nn.Parameter(torch.full((1, H, 1, 1), math.log(4.0)))
        self.proj = nn.Linear(C, C)

    def attend(self, q, k, v, bias):
        """q, k, v (B, H, n, 64) → proj(softmax(q̂·k̂ᵀ·σ + bias)·v), heads concatenated."""
        scale = self.scale_mul_1H11.clamp(max=MAX_SCALE_MUL).exp()
        a = torch.softmax(F.normalize(q, dim=-1) * scale @ F.normalize(k, dim=-1).transpose(-1, -2) + bias, -1)
        o = a @ v
        return self.proj(o.transpose(1, 2).reshape(o.shape[0], o.shape[2], -1))


class SelfAttention(L2NormAttention):
    def __init__(self, C, H):
        super().__init__(C, H)
        self.mat_qkv = nn.Linear(C, 3 * C, bias=False)

    def forward(self, y, cos, sin, mask):
        B, L, C = y.shape
        qkv = F.linear(y, self.mat_qkv.weight, torch.cat([self.q_bias, self.zero_k_bias, self.v_bias]))
        q, k, v = qkv.view(B, L, 3, self.H, HEAD_DIM).unbind(2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        return self.attend(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), mask)


class CrossAttention(L2NormAttention):
    def __init__(self, C, H, D):
        super().__init__(C, H)
        self.mat_q = nn.Linear(C, C, bias=False)
        self.mat_kv = nn.Linear(D, 2 * C, bias=False)

    def forward(self, y, text, text_bias):
        B, L, C = y.shape
        T = text.shape[1]
        q = F.linear(y, self.mat_q.weight, self.q_bias).view(B, L, self.H, HEAD_DIM).transpose(1, 2)
        kv = F.linear(text, self.mat_kv.weight, torch.cat([self.zero_k_bias, self.v_bias]))
        k, v = kv.view(B, T, 2, self.H, HEAD_DIM).permute(2, 0, 3, 1, 4).unbind(0)
        return self.attend(q, k, v, text_bias)


class FFN(nn.Module):
    def __init__(self, C):
        super().__init__()
        self.fc1 = nn.Linear(C, 4 * C)
        self.fc2 = nn.Linear(4 * C, C)

    def forward(self, y):
        return self.fc2(F.gelu(self.fc1(y), approximate='tanh'))


class Block(nn.Module):
    def __init__(self, C, H, D):
        super().__init__()
        self.attn = SelfAttention(C, H)
        self.cross_attn = CrossAttention(C, H, D)
        self.ffn = FFN(C)

    def forward(self, x, cos, sin, mask, text, text_bias):
        x = x + self.attn(ln(x), cos, sin, mask)
        x = self.cross_attn(ln(x), text, text_bias) + x
        return x + self.ffn(ln(x))


class Generator(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.patch_nums = a['patch_nums']
        S = len(self.patch_nums)
        C = HEAD_DIM * a['depth']
        H = a['depth']
        D = a['in_dim_cross']
        self.word_embed = nn.Linear(a['Cvae'], C)
        self.encoder_proj = nn.Linear(D, C)
        self.pos_start = nn.Parameter(torch.randn(1, 1, C) * 0.02)
        self.lvl_embed = nn.Embedding(S, C)
        nn.init.normal_(self.lvl_embed.weight, std=0.02)
        # Present in every STAR checkpoint, never used (STAR-SPEC §3.1).
        self.class_emb = nn.Embedding(NUM_CLASSES + 1, C)
        self.class_emb.weight.requires_grad_(False)
        self.blocks = nn.ModuleList([Block(C, H, D) for _ in range(a['depth'])])
        self.head_logits = nn.Linear(C, a['V'])
        levels = torch.cat([torch.full((pn * pn,), s) for s, pn in enumerate(self.patch_nums)])
        self.register_buffer('levels', levels, persistent=False)
        self.register_buffer('mask', torch.where(levels[None, :] <= levels[:, None], 0.0, -math.inf), persistent=False)
        cos, sin = rope_table(self.patch_nums, a['rope_theta'], a['rope_norm'])
        self.register_buffer('cos', cos, persistent=False)
        self.register_buffer('sin', sin, persistent=False)
        for block in self.blocks:  # small residual branches at the start, as VAR initialises them
            for proj in (block.attn.proj, block.cross_attn.proj, block.ffn.fc2):
                proj.weight.data.mul_(0.5 / math.sqrt(2 * a['depth']))

    def forward(self, pooled, text, text_mask, x_next):
        """pooled (B, D), text (B, T, D), text_mask (B, T) of 0/1, x_next (B, n−1, Cvae) → logits (B, n, V).

        n may stop short of L at a scale boundary: the first scales alone are
        the same computation, since no token attends to later scales."""
        n = 1 + x_next.shape[1]
        sos = self.encoder_proj(pooled)[:, None] + self.pos_start
        x = torch.cat([sos, self.word_embed(x_next)], 1) + self.lvl_embed(self.levels[:n])[None]
        text_bias = torch.where(text_mask > 0, 0.0, -math.inf)[:, None, None, :]
        for block in self.blocks:
            x = block(x, self.cos[:n], self.sin[:n], self.mask[:n, :n], text, text_bias)
        return self.head_logits(ln(x))

    def exported_state(self):
        return dict(self.state_dict())
