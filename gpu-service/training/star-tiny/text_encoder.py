"""star-tiny's CLIP text model (Hugging Face `CLIPTextModel`, STAR-SPEC §2) in
PyTorch, so stage 2 can train it with the generator. Parameter names are
the shipped file's (`text_model.…`), so export writes the state dict as is
and the engine loads it like SD-2.1's text encoder:

    x = token_embedding[ids] + position_embedding[0..T)
    per layer:  x += attn(LN1(x), causal ∧ padding)   x += fc2(gelu(fc1(LN2(x))))
    hidden = final_layer_norm(x);   pooled[b] = hidden[b, first EOS]"""
import json
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

import safetensors_io


class Layer(nn.Module):
    def __init__(self, D, H, inner, eps):
        super().__init__()
        self.H = H
        self.self_attn = nn.Module()
        for name in ('q_proj', 'k_proj', 'v_proj', 'out_proj'):
            setattr(self.self_attn, name, nn.Linear(D, D))
        self.layer_norm1 = nn.LayerNorm(D, eps=eps)
        self.mlp = nn.Module()
        self.mlp.fc1 = nn.Linear(D, inner)
        self.mlp.fc2 = nn.Linear(inner, D)
        self.layer_norm2 = nn.LayerNorm(D, eps=eps)

    def forward(self, x, bias):
        a = self.self_attn
        y = self.layer_norm1(x)
        heads = lambda t: t.unflatten(-1, (self.H, -1)).transpose(1, 2)
        q, k, v = heads(a.q_proj(y)), heads(a.k_proj(y)), heads(a.v_proj(y))
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]) + bias
        x = x + a.out_proj((scores.softmax(-1) @ v).transpose(1, 2).flatten(2))
        return x + self.mlp.fc2(F.gelu(self.mlp.fc1(self.layer_norm2(x))))


class ClipText(nn.Module):
    def __init__(self, config, eos_id):
        super().__init__()
        D, eps = config['hidden_size'], config['layer_norm_eps']
        self.eos_id = eos_id
        self.text_model = nn.Module()
        self.text_model.embeddings = nn.Module()
        self.text_model.embeddings.token_embedding = nn.Embedding(config['vocab_size'], D)
        self.text_model.embeddings.position_embedding = nn.Embedding(config['max_position_embeddings'], D)
        self.text_model.encoder = nn.Module()
        self.text_model.encoder.layers = nn.ModuleList(
            [Layer(D, config['num_attention_heads'], config['intermediate_size'], eps) for _ in range(config['num_hidden_layers'])])
        self.text_model.final_layer_norm = nn.LayerNorm(D, eps=eps)
        assert config['hidden_act'] == 'gelu', 'star-tiny uses exact GELU'

    @classmethod
    def load(cls, folder, eos_id):
        """The shipped config and weights (model.safetensors) of `folder`."""
        with open(os.path.join(folder, 'config.json')) as f:
            model = cls(json.load(f), eos_id)
        tensors, _ = safetensors_io.read(os.path.join(folder, 'model.safetensors'))
        model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()})
        return model

    def forward(self, ids, mask):
        """ids (B, T) int64, mask (B, T) of 0/1 → hidden (B, T, D), pooled (B, D)."""
        m = self.text_model
        T = ids.shape[1]
        x = m.embeddings.token_embedding(ids) + m.embeddings.position_embedding.weight[:T]
        causal = torch.ones(T, T, dtype=torch.bool).tril()
        visible = causal[None, None] & (mask[:, None, None, :] > 0)
        bias = torch.where(visible, 0.0, torch.finfo(torch.float32).min)
        for layer in m.encoder.layers:
            x = layer(x, bias)
        hidden = m.final_layer_norm(x)
        first_eos = (ids == self.eos_id).int().argmax(1)
        return hidden, hidden[torch.arange(len(ids)), first_eos]
