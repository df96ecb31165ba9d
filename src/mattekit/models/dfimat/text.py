"""ISCN's text side: a sentence -> text prompt tokens P_t (B, T, hidden) and which of them are real (B, T).

Two encoders behind one interface (``forward(texts) -> (tokens, valid)``; ``None`` stands for no sentence):

- ``MiniLMText``: the frozen MiniLM-L6 sentence encoder (all-MiniLM-L6-v2; Wang et al., "MiniLM", NeurIPS 2020,
  arXiv 2002.10957) of ``mattekit.models.text_encoder``; its 384-d token states go through a trainable linear
  projection, as DFIMat (§3.2) feeds the encoder's output into the joint image-text space.
- ``HashedText``: a trainable table of ``vocab`` buckets indexed by a stable hash (CRC-32) of each lower-cased
  word, plus a learned position embedding: no files to read, for tests and CPU examples.

Example:
    >>> tokens, valid = HashedText(hidden=8, vocab=64, length=6)(["the person on the left", None])
    >>> tuple(tokens.shape), valid.sum(1).tolist()
    ((2, 6, 8), [5, 0])
"""

from __future__ import annotations

import re
import zlib

import torch
from torch import nn

from mattekit.errors import UsageError

TEXT_ENCODERS = ("hashed", "minilm")


class HashedText(nn.Module):
    """Words hashed into a trainable embedding table, plus learned positions; at most ``length`` words."""

    def __init__(self, hidden: int, vocab: int, length: int):
        super().__init__()
        self.vocab, self.length = vocab, length
        self.words = nn.Embedding(vocab, hidden)
        self.position = nn.Embedding(length, hidden)

    def ids(self, text: str | None) -> list[int]:
        words = re.findall(r"[a-z0-9]+", (text or "").lower())[: self.length]
        return [zlib.crc32(w.encode()) % self.vocab for w in words]

    def forward(self, texts: list[str | None]) -> tuple[torch.Tensor, torch.Tensor]:
        device = self.words.weight.device
        ids = torch.zeros(len(texts), self.length, dtype=torch.long, device=device)
        valid = torch.zeros(len(texts), self.length, dtype=torch.bool, device=device)
        for b, text in enumerate(texts):
            row = self.ids(text)
            ids[b, : len(row)] = torch.tensor(row, dtype=torch.long)
            valid[b, : len(row)] = True
        positions = self.position.weight[None, : self.length]
        return (self.words(ids) + positions) * valid[..., None], valid


class MiniLMText(nn.Module):
    """The frozen MiniLM-L6 token states, projected to ``hidden`` by a trainable linear map."""

    def __init__(self, hidden: int, length: int):
        super().__init__()
        try:
            from mattekit.models.text_encoder import MiniLM
        except ImportError:
            raise UsageError("the minilm text encoder needs mattekit.models.text_encoder, which this installation "
                             "lacks; use text_encoder: hashed.") from None
        self.length = length
        self.encoder = MiniLM.from_package(frozen=True)  # not saved with ISCN: read from its pinned file
        self.projection = nn.Linear(384, hidden)

    def train(self, mode: bool = True):
        super().train(mode)
        self.encoder.eval()  # frozen: always in inference mode
        return self

    def forward(self, texts: list[str | None]) -> tuple[torch.Tensor, torch.Tensor]:
        device = self.projection.weight.device
        ids, mask = self.encoder.tokenize([t or "" for t in texts])
        ids, mask = ids[:, : self.length].to(device), mask[:, : self.length].to(device).bool()
        with torch.no_grad():
            states = self.encoder.token_states(ids, mask)
        valid = mask & torch.tensor([t is not None for t in texts], device=device)[:, None]
        return self.projection(states) * valid[..., None], valid


def build_text_encoder(kind: str, hidden: int, vocab: int, length: int) -> nn.Module:
    if kind == "hashed":
        return HashedText(hidden, vocab, length)
    if kind == "minilm":
        return MiniLMText(hidden, length)
    raise UsageError(f"unknown text encoder {kind!r}; choose one of: {', '.join(TEXT_ENCODERS)}.")
