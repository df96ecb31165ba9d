"""Backbones: torchvision's names and sizes, legacy key renaming, ImageNet loading, TF-style padding."""

from pathlib import Path

import numpy as np
import pytest
import torch

from mattekit import weights
from mattekit.errors import UsageError, WeightsError
from mattekit.models.backbones import BACKBONES, create_backbone, load_imagenet
from mattekit.models.backbones.densenet import rename_legacy_keys
from mattekit.models.backbones.efficientnet_lite import SameConv2d

KEYS = Path(__file__).resolve().parent / "data" / "gfm-checkpoint-keys"  # key lists of the released GFM checkpoints
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def reference_keys(filename: str, prefix: str) -> dict[str, tuple]:
    out = {}
    for line in (KEYS / filename).read_text().splitlines():
        key, shape = line.split("\t")
        if key.startswith(prefix):
            out[key[len(prefix):]] = eval(shape)
    return out


@pytest.mark.parametrize("name,params", [("resnet34", 21797672), ("resnet101", 44549160),
                                         ("densenet121", 7978856)])
def test_parameter_count_equals_torchvision(name, params):
    # torchvision's published num_params of the IMAGENET1K_V1 weights
    with torch.device("meta"):
        net = create_backbone(name)
    assert sum(p.numel() for p in net.parameters()) == params


@pytest.mark.parametrize("name,filename,prefix", [("resnet34", "keys_r34_TT.txt", "resnet."),
                                                  ("resnet101", "keys_r101_TT.txt", "resnet."),
                                                  ("densenet121", "keys_d121_TT.txt", "densenet.")])
def test_state_dict_names_equal_the_torchvision_model_inside_gfm_checkpoints(name, filename, prefix):
    with torch.device("meta"):
        got = {k: tuple(v.shape) for k, v in create_backbone(name).state_dict().items()}
    assert got == reference_keys(filename, prefix)


def test_legacy_densenet_keys_are_renamed_and_others_kept():
    renamed = rename_legacy_keys({"features.denseblock2.denselayer7.conv.2.weight": 1,
                                  "features.denseblock2.denselayer7.norm.1.running_var": 2,
                                  "features.transition1.norm.weight": 3})
    assert list(renamed) == ["features.denseblock2.denselayer7.conv2.weight",
                             "features.denseblock2.denselayer7.norm1.running_var",
                             "features.transition1.norm.weight"]


def test_imagenet_weight_sources_pin_torchvision_hash_prefixes():
    assert weights.SOURCES["resnet34-imagenet"].url == "https://download.pytorch.org/models/resnet34-b627a593.pth"
    assert weights.SOURCES["resnet34-imagenet"].sha256 == "b627a593"
    assert weights.hash_matches("b627a593" + "0" * 56, "b627a593")
    assert not weights.hash_matches("b627a594" + "0" * 56, "b627a593")
    assert not weights.hash_matches("b627" + "0" * 60, "b627")  # shorter than 8 digits is no pin


def test_construction_downloads_nothing(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("construction tried to fetch weights")
    monkeypatch.setattr(weights, "resolve", refuse)
    with torch.device("meta"):
        for name in BACKBONES:
            create_backbone(name)


def test_unknown_backbone_and_wrong_file_are_one_sentence_errors(tmp_path):
    with pytest.raises(UsageError, match="unknown backbone 'vgg'"):
        create_backbone("vgg")
    wrong = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(1)}, wrong)
    with pytest.raises(WeightsError, match="does not hold efficientnet_lite0 ImageNet weights"):
        load_imagenet(create_backbone("efficientnet_lite0"), "efficientnet_lite0", override=str(wrong))


@pytest.mark.parametrize("size,stride,kernel", [(64, 2, 3), (65, 2, 5), (33, 1, 5)])
def test_same_padding_gives_ceil_of_size_over_stride(size, stride, kernel):
    conv = SameConv2d(1, 1, kernel, stride=stride, bias=False)
    assert conv(torch.zeros(1, 1, size, size)).shape[-1] == -(-size // stride)


def test_efficientnet_lite0_imagenet_weights_load_strictly_and_recognise_a_lion():
    if not (DATA / "animals-pseudo" / "image" / "sample6.jpg").is_file():
        pytest.skip("../shared/data/animals-pseudo is absent")
    try:
        path = weights.resolve("efficientnet-lite0-imagenet")
    except WeightsError as e:
        pytest.skip(f"EfficientNet-Lite0 weights unavailable: {e}")
    import cv2
    from mattekit.io import load_image
    net = create_backbone("efficientnet_lite0").eval()
    load_imagenet(net, "efficientnet_lite0", override=str(path))
    image = cv2.resize(load_image(DATA / "animals-pseudo" / "image" / "sample6.jpg"), (224, 224),
                       interpolation=cv2.INTER_AREA).astype(np.float32)
    x = (torch.from_numpy(image).permute(2, 0, 1)[None] - 127.0) / 128.0
    with torch.no_grad():
        probabilities = net(x).softmax(1)[0]
    assert probabilities.argmax().item() == 291  # ImageNet class 291: lion
    assert probabilities.max().item() > 0.5
