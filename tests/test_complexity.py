"""Model complexity: counts checked against hand computation, a cross-check with torch's FLOP counter, the CLI."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from mattekit import cli
from mattekit.evaluation import complexity
from mattekit.evaluation.complexity import build_model, count_macs, measure
from mattekit.errors import UsageError


class HandCounted(nn.Module):
    """Every layer kind the counter knows, at a 16x16 input; the numbers in comments are worked by hand."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)  # params 3·8·9+8 = 224; MACs (8·16·16)·3·9 = 55,296
        self.grouped = nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=4)  # 8·2·9+8 = 152; 2048·2·9 = 36,864
        self.down = nn.Conv2d(8, 4, 1, stride=2)  # 8·4+4 = 36; (4·8·8)·8 = 2,048
        self.up = nn.ConvTranspose2d(4, 6, 2, stride=2, groups=2)  # 4·3·4+6 = 54; (4·8·8)·3·4 = 3,072
        self.head = nn.Linear(6, 10)  # 6·10+10 = 70; called on 1x2x6 tokens: 20·6 = 120
        self.line = nn.Conv1d(6, 2, 3)  # 6·2·3+2 = 38; on 1x6x5: (2·3)·6·3 = 108

    def forward(self, x):
        x = self.up(self.down(torch.relu(self.grouped(self.stem(x)))))  # 1x6x16x16
        pooled = nn.functional.adaptive_avg_pool2d(x, (1, 2)).flatten(2).transpose(1, 2)  # 1x2x6
        return self.head(pooled), self.line(x[:, :, 0, :5])


PARAMS = 224 + 152 + 36 + 54 + 70 + 38
MACS = {"Conv2d": 55_296 + 36_864 + 2_048, "ConvTranspose2d": 3_072, "Linear": 120, "Conv1d": 108}


def test_counts_match_hand_computation():
    report = measure(HandCounted(), input_size=(16, 16), runs=0)
    assert report.parameters == report.trainable_parameters == PARAMS
    assert report.macs_by_layer_type == MACS and report.macs == sum(MACS.values())
    assert report.input_shape == (1, 3, 16, 16) and report.latency_ms is None


def test_counts_agree_with_torch_flop_counter_on_a_bigger_net():
    net = nn.Sequential(
        nn.Conv2d(3, 16, 5, stride=2, padding=2), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=2, dilation=2, groups=8), nn.ReLU(),
        nn.ConvTranspose2d(32, 8, 4, stride=2, padding=1, groups=4),
        nn.Conv2d(8, 1, 1),
    )
    x = torch.rand(1, 3, 40, 56)
    with FlopCounterMode(display=False) as counter:
        net(x)
    assert sum(count_macs(net, x).values()) * 2 == counter.get_total_flops()


def test_shared_module_is_counted_each_call():
    layer = nn.Linear(4, 4, bias=False)
    twice = nn.Sequential(layer, layer)
    assert count_macs(twice, torch.rand(3, 4)) == {"Linear": 2 * 3 * 4 * 4}


def test_latency_is_the_median_of_the_timed_runs():
    report = measure(HandCounted(), input_size=(16, 16), runs=5, warmup=1)
    assert len(report.latencies_ms) == 5 and all(t > 0 for t in report.latencies_ms)
    assert report.latency_ms == sorted(report.latencies_ms)[2]


def test_model_specs_resolve_through_registry_and_import_paths(monkeypatch):
    assert isinstance(build_model("torch.nn:Identity"), nn.Identity)
    clamp = build_model("torch.nn:Hardtanh:-2:0.5")  # numbers arrive as numbers
    assert (clamp.min_val, clamp.max_val) == (-2, 0.5) and isinstance(clamp.min_val, int)
    assert build_model("torch.nn:Softmax:1").dim == 1
    monkeypatch.setitem(complexity.MODELS, "hand", f"{__name__}:HandCounted")
    assert isinstance(build_model("hand"), HandCounted)
    with pytest.raises(UsageError, match="is neither a registered model"):
        build_model("nothing")
    with pytest.raises(UsageError, match="module no_such_module cannot be imported"):
        build_model("no_such_module:make")
    with pytest.raises(UsageError, match="module torch.nn has no Nothing"):
        build_model("torch.nn:Nothing")
    with pytest.raises(UsageError, match=r"built a Tensor, not a torch nn\.Module"):
        build_model("torch:zeros:3")


def test_bad_arguments():
    with pytest.raises(UsageError, match="--size must be two positive numbers H W, not 0 8"):
        measure(nn.Identity(), input_size=(0, 8))
    with pytest.raises(UsageError, match="--device 'gpu!' is not a device name"):
        measure(nn.Identity(), input_size=(4, 4), device="gpu!")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown when CUDA is absent")
def test_missing_cuda_is_a_clear_error():
    with pytest.raises(UsageError, match="asks for CUDA, but no CUDA GPU is available"):
        measure(nn.Identity(), input_size=(4, 4), device="cuda")


def test_cli_prints_counts(monkeypatch, capsys):
    monkeypatch.setattr(cli, "VERBS", ("complexity",))
    monkeypatch.setitem(complexity.MODELS, "hand", f"{__name__}:HandCounted")
    assert cli.main(["complexity", "--model", "hand", "--size", "16", "16", "--runs", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"] == "hand" and out["macs"] == sum(MACS.values()) and out["parameters"] == PARAMS
    assert out["runs"] == 2 and out["latency_ms"] > 0
    assert cli.main(["complexity", "--model", "hand", "--size", "16", "16", "--runs", "0"]) == 0
    assert "parameters   0.001 M (574)" in capsys.readouterr().out
    assert cli.main(["complexity", "--model", "nothing"]) == 2
    assert "mattekit: --model 'nothing' is neither a registered model" in capsys.readouterr().err
