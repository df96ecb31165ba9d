"""ISCN's decoder (DFIMat, Jiao et al., ACCV 2024, arXiv 2410.09788, §3.2, Eq. 2-5) with the structure of X-Decoder
and SEEM (Zou et al., CVPR 2023, arXiv 2212.11270; NeurIPS 2023, arXiv 2304.06718).

Queries: object queries Q_o (learned), text queries Q_t (learned, plus the mean text token), visual queries Q_v
(``visual_queries`` per visual prompt: learned, plus the prompt's pooled vector) and memory queries Q_m (learned;
SEEM's spatial memories). Each layer does, in order (Eq. 3):

1. masked cross-attention from every query to the image features of level ``layer % 3`` (1/32, 1/16, 1/8): a
   query sees only the pixels its previous prediction calls foreground (Mask2Former's rule: sigmoid >= 0.5; all
   pixels when that leaves none); memory queries see the pixels of the previous round's mask, which is how the
   previous prediction takes part in the prompt self-attention block (§3.2);
2. prompt self-attention over the queries and the prompt tokens (P_t, P_v of that level), with SEEM's structure
   (``prompt_attention_mask``): object queries see only object queries; text queries see the text tokens; the
   visual queries of a prompt see only that prompt's tokens; the text, visual and memory queries of the target see
   each other (they describe the same person); padded queries and tokens are invisible;
3. an FFN. Post-norm, no dropout.

Heads (Eq. 4-5, shared by all layers, applied to the initial queries and after every layer): LayerNorm, then the
mask embedding O^m (a 3-layer MLP) whose dot product with the 1/4 mask features is the MaskPredictor, and the class
embedding O^c (linear) whose ConceptClassifier gives (not a person, person) logits. The target's mask M is the mask
of the prompt query (text or visual) with the highest person score; its class is C.

Example:
    >>> kinds = torch.tensor([OBJECT, TEXT, VISUAL, VISUAL, MEMORY])
    >>> owner = torch.tensor([-1, -1, 0, 1, -1])
    >>> block = prompt_attention_mask(kinds, owner, torch.ones(1, 5, dtype=torch.bool),
    ...     token_owner=torch.tensor([[-1, 0, 1]]), token_valid=torch.ones(1, 3, dtype=torch.bool))
    >>> for row in (~block[0]).int().tolist():  # columns: the 5 queries, a text token, two visual tokens
    ...     print(row)
    [1, 0, 0, 0, 0, 0, 0, 0]
    [0, 1, 1, 1, 1, 1, 0, 0]
    [0, 1, 1, 1, 1, 0, 1, 0]
    [0, 1, 1, 1, 1, 0, 0, 1]
    [0, 1, 1, 1, 1, 0, 0, 0]
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

OBJECT, TEXT, VISUAL, MEMORY = 0, 1, 2, 3


def prompt_attention_mask(kinds: torch.Tensor, owner: torch.Tensor, valid: torch.Tensor, token_owner: torch.Tensor,
                          token_valid: torch.Tensor) -> torch.Tensor:
    """The self-attention block mask (True = may not attend), (B, Q, Q + T).

    ``kinds`` (Q,) and ``owner`` (Q,) say what each query is and, for a visual query, its prompt's index;
    ``valid`` (B, Q) which queries exist; ``token_owner`` (B, T) is -1 for a text token and the prompt index for a
    visual token, ``token_valid`` (B, T) which tokens exist."""
    batch, queries = valid.shape
    prompt_side = (kinds == TEXT) | (kinds == VISUAL) | (kinds == MEMORY)
    seen_query = torch.zeros(batch, queries, queries, dtype=torch.bool, device=valid.device)
    objects = kinds == OBJECT
    seen_query |= (objects[:, None] & objects[None, :])[None]
    seen_query |= (prompt_side[:, None] & prompt_side[None, :])[None] & valid[:, None, :]
    text_tokens = (kinds == TEXT)[None, :, None] & (token_owner == -1)[:, None, :]
    own_tokens = (kinds == VISUAL)[None, :, None] & (owner[None, :, None] == token_owner[:, None, :])
    seen_token = (text_tokens | own_tokens) & token_valid[:, None, :]
    seen = torch.cat([seen_query, seen_token], 2) & valid[:, :, None]
    seen[:, torch.arange(queries), torch.arange(queries)] = True  # every query sees itself (no empty row)
    return ~seen


def cross_attention_mask(masks: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Mask2Former's rule: (B, Q, h·w) True where the resized mask logit says background; rows that would block
    everything are cleared."""
    block = F.interpolate(masks, size=size, mode="bilinear", align_corners=False).flatten(2) < 0
    block[block.all(-1)] = False
    return block


class MLP(nn.Sequential):
    def __init__(self, width: int, layers: int):
        parts = []
        for i in range(layers):
            parts.append(nn.Linear(width, width))
            if i < layers - 1:
                parts.append(nn.ReLU(inplace=True))
        super().__init__(*parts)


class DecoderLayer(nn.Module):
    """Masked cross-attention to one image level, prompt self-attention, FFN (each with residual + LayerNorm)."""

    def __init__(self, hidden: int, heads: int, ffn: int):
        super().__init__()
        self.cross = nn.MultiheadAttention(hidden, heads, batch_first=True)
        self.prompt_attention = nn.MultiheadAttention(hidden, heads, batch_first=True)
        self.ffn = nn.Sequential(nn.Linear(hidden, ffn), nn.ReLU(inplace=True), nn.Linear(ffn, hidden))
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(3))

    def forward(self, q, q_pos, image, image_pos, cross_block, tokens, token_pos, self_block):
        heads = self.cross.num_heads
        attended = self.cross(q + q_pos, image + image_pos, image, need_weights=False,
                              attn_mask=cross_block.repeat_interleave(heads, 0))[0]
        q = self.norms[0](q + attended)
        keys, key_pos = torch.cat([q, tokens], 1), torch.cat([q_pos, token_pos], 1)
        attended = self.prompt_attention(q + q_pos, keys + key_pos, keys, need_weights=False,
                                         attn_mask=self_block.repeat_interleave(heads, 0))[0]
        q = self.norms[1](q + attended)
        return self.norms[2](q + self.ffn(q))


class Decoder(nn.Module):
    """Queries, ``layers`` decoder layers and the MaskPredictor / ConceptClassifier heads."""

    def __init__(self, hidden: int, heads: int, ffn: int, layers: int, object_queries: int, text_queries: int,
                 visual_queries: int, memory_tokens: int, levels: int = 3):
        super().__init__()
        self.counts = {OBJECT: object_queries, TEXT: text_queries, VISUAL: visual_queries, MEMORY: memory_tokens}
        self.content = nn.ParameterDict({str(k): nn.Parameter(torch.randn(n, hidden) * 0.02)
                                         for k, n in self.counts.items()})
        self.position = nn.ParameterDict({str(k): nn.Parameter(torch.randn(n, hidden) * 0.02)
                                          for k, n in self.counts.items()})
        self.level_embedding = nn.Embedding(levels, hidden)
        self.layers = nn.ModuleList(DecoderLayer(hidden, heads, ffn) for _ in range(layers))
        self.head_norm = nn.LayerNorm(hidden)
        self.mask_embedding = MLP(hidden, 3)  # O^m
        self.class_embedding = nn.Linear(hidden, hidden)  # O^c
        self.concept_classifier = nn.Linear(hidden, 2)  # (not a person, person)

    def predict(self, q: torch.Tensor, mask_features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mask logits (B, Q, h4, w4) by the MaskPredictor, class logits (B, Q, 2) by the ConceptClassifier)."""
        x = self.head_norm(q)
        masks = torch.einsum("bqc,bchw->bqhw", self.mask_embedding(x), mask_features)
        return masks, self.concept_classifier(self.class_embedding(x))

    def queries(self, batch: int, prompts: int, text_pooled: torch.Tensor, prompt_pooled: torch.Tensor):
        """(content (B, Q, C), position (B, Q, C), kinds (Q,), owner (Q,))."""
        parts, positions, kinds, owner = [], [], [], []
        for kind, copies in ((OBJECT, 1), (TEXT, 1), (VISUAL, prompts), (MEMORY, 1)):
            n = self.counts[kind]
            content = self.content[str(kind)][None].expand(batch, -1, -1)
            position = self.position[str(kind)]
            if kind == TEXT:
                content = content + text_pooled[:, None]
            if kind == VISUAL:
                content = (content[:, None] + prompt_pooled[:, :, None]).reshape(batch, prompts * n, content.shape[-1])
                position = position.repeat(prompts, 1)
            parts.append(content)
            positions.append(position[None].expand(batch, -1, -1))
            kinds.append(torch.full((n * copies,), kind, dtype=torch.long))
            owner.append(torch.arange(prompts).repeat_interleave(n) if kind == VISUAL else torch.full((n,), -1))
        device = text_pooled.device
        return (torch.cat(parts, 1), torch.cat(positions, 1), torch.cat(kinds).to(device),
                torch.cat(owner).to(device))

    def forward(self, levels, level_pos, mask_features, visual, text, previous):
        """``levels``/``level_pos``: 3 maps (B, C, h, w); ``visual``: the VisualSampler's output; ``text``: (tokens
        (B, T, C), valid (B, T)); ``previous``: (B, H, W) alpha of the last round or None per row (a list)."""
        tokens_v, pos_v, pooled_v, prompt_valid, token_owner_v = visual
        tokens_t, valid_t = text
        batch, prompts = prompt_valid.shape
        has_text = valid_t.any(1)
        text_pooled = (tokens_t * valid_t[..., None]).sum(1) / valid_t.sum(1, keepdim=True).clamp_min(1)
        q, q_pos, kinds, owner = self.queries(batch, prompts, text_pooled, pooled_v)
        has_previous = torch.tensor([p is not None for p in previous], device=q.device)
        valid = torch.ones(batch, len(kinds), dtype=torch.bool, device=q.device)
        valid[:, kinds == TEXT] = has_text[:, None]
        valid[:, kinds == MEMORY] = has_previous[:, None]
        valid[:, kinds == VISUAL] = prompt_valid.repeat_interleave(self.counts[VISUAL], 1)
        token_owner = torch.cat([torch.full_like(valid_t, -1, dtype=torch.long), token_owner_v], 1)
        token_valid = torch.cat([valid_t, prompt_valid.repeat_interleave(tokens_v[0].shape[1] // max(prompts, 1), 1)
                                 if prompts else prompt_valid], 1)
        self_block = prompt_attention_mask(kinds, owner, valid, token_owner, token_valid)
        images = [(x + self.level_embedding.weight[i][:, None, None]).flatten(2).transpose(1, 2)
                  for i, x in enumerate(levels)]
        image_pos = [p.flatten(1).T[None].expand(batch, -1, -1) for p in level_pos]
        memory_masks = [self.memory_mask(previous, x.shape[-2:], x) for x in levels]
        predictions = [self.predict(q, mask_features)]
        for i, layer in enumerate(self.layers):
            level = i % len(levels)
            cross_block = cross_attention_mask(predictions[-1][0], levels[level].shape[-2:])
            cross_block[:, kinds == MEMORY] = memory_masks[level][:, None]
            cross_block[~valid] = False
            tokens = torch.cat([tokens_t, tokens_v[level]], 1)
            token_pos = torch.cat([torch.zeros_like(tokens_t), pos_v[level]], 1)
            q = layer(q, q_pos, images[level], image_pos[level], cross_block, tokens, token_pos, self_block)
            predictions.append(self.predict(q, mask_features))
        return self.select(predictions, kinds, owner, valid)

    @staticmethod
    def memory_mask(previous, size, like) -> torch.Tensor:
        """(B, h·w): True where the previous round's mask is background (nothing blocked without one)."""
        rows = []
        for p in previous:
            if p is None:
                rows.append(torch.zeros(size[0] * size[1], dtype=torch.bool, device=like.device))
                continue
            small = F.interpolate(p[None, None].to(like), size=size, mode="area").flatten() <= 0.5
            rows.append(small & ~small.all())
        return torch.stack(rows)

    @staticmethod
    def select(predictions, kinds, owner, valid) -> dict:
        """The outputs: every query's masks and classes (last layer and the earlier ones), and the target's."""
        masks, classes = predictions[-1]
        prompt_query = ((kinds == TEXT) | (kinds == VISUAL))[None] & valid
        score = (classes[..., 1] - classes[..., 0]).masked_fill(~prompt_query, float("-inf"))
        chosen = score.argmax(1)
        rows = torch.arange(masks.shape[0], device=masks.device)
        return {"masks": masks, "classes": classes, "kinds": kinds, "owner": owner, "valid": valid,
                "aux": predictions[:-1], "chosen": chosen, "mask": masks[rows, chosen],
                "class": classes[rows, chosen]}
