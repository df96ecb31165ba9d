"""DFIMat's interpreter loss (Eq. 8) and its Hungarian matching on hand-made cases; the offline prompt generator."""

import itertools
import math

import torch
import torch.nn.functional as F

import pytest

from mattekit.errors import UsageError
from mattekit.models.interpreter import Interpreter, image_loss, interpreter_loss, match
from mattekit.synthesis.prompts import scene_prompt, scene_prompts
from mattekit.training.config import load_config, merge
from mattekit.training.interpreter import InterpreterTask
from mattekit.training.trainer import train


def square(y0, x0, side=4, size=8):
    out = torch.zeros(size, size)
    out[y0:y0 + side, x0:x0 + side] = 1
    return out


def test_matching_pairs_each_instance_with_the_query_that_draws_it():
    targets = torch.stack([square(0, 0), square(4, 4)])
    alphas = torch.stack([torch.zeros(8, 8), square(4, 4), square(0, 0)])
    rows, cols = match(torch.zeros(3), alphas, targets)
    assert dict(zip(rows.tolist(), cols.tolist())) == {1: 1, 2: 0}
    total, bce, l1 = image_loss(torch.zeros(3), alphas, targets)
    assert float(l1) == 0
    assert math.isclose(float(total), 0.1 * math.log(2), rel_tol=1e-6)


def test_loss_by_hand():
    # query 0 draws the one person exactly and is confident; query 1 draws nothing and says "not a person" weakly
    logits = torch.tensor([2.0, -1.0])
    alphas = torch.stack([square(2, 2), torch.zeros(8, 8)])
    total, bce, l1 = image_loss(logits, alphas, square(2, 2)[None])
    expected_bce = (math.log1p(math.exp(-2.0)) + math.log1p(math.exp(-1.0))) / 2
    assert math.isclose(float(bce), expected_bce, rel_tol=1e-6)
    assert float(l1) == 0
    assert math.isclose(float(total), 0.1 * expected_bce, rel_tol=1e-6)


def test_hungarian_matching_minimises_the_loss_over_every_assignment():
    gen = torch.Generator().manual_seed(3)
    logits = torch.randn(4, generator=gen) * 2
    alphas = torch.rand(4, 6, 6, generator=gen)
    targets = (torch.rand(3, 6, 6, generator=gen) > 0.5).float()
    best = math.inf
    for chosen in itertools.permutations(range(4), 3):  # query chosen[j] takes instance j
        labels = torch.zeros(4)
        labels[list(chosen)] = 1
        bce = F.binary_cross_entropy_with_logits(logits, labels)
        l1 = torch.stack([(alphas[q] - targets[j]).abs().mean() for j, q in enumerate(chosen)]).mean()
        best = min(best, float(0.1 * bce + l1))
    assert math.isclose(float(image_loss(logits, alphas, targets)[0]), best, rel_tol=1e-6)


def test_an_image_without_people_asks_every_query_for_no():
    logits = torch.tensor([0.0, 3.0])
    total, bce, l1 = image_loss(logits, torch.rand(2, 4, 4), torch.zeros(0, 4, 4))
    assert float(l1) == 0
    assert math.isclose(float(bce), (math.log(2) + math.log1p(math.exp(3.0))) / 2, rel_tol=1e-6)


def test_loss_covers_every_decoder_layer_and_predictions_are_resized_to_the_targets():
    torch.manual_seed(0)
    net = Interpreter([12, 6], queries=3, width=16, layers=3, heads=2)
    out = net([torch.randn(2, 12, 4, 4), torch.randn(2, 6, 8, 8)])
    assert len(out["aux"]) == 2 and out["alphas"].shape == (2, 3, 8, 8)
    targets = [torch.stack([square(0, 0, 8, 16)]), torch.zeros(0, 16, 16)]
    total, final = interpreter_loss(out, targets)
    by_layer = sum(sum(image_loss(layer["logits"][b], layer["alphas"][b], t)[0] for b, t in enumerate(targets)) / 2
                   for layer in [out] + out["aux"])
    assert math.isclose(float(total.detach()), float(by_layer.detach()), rel_tol=1e-6)
    total.backward()
    assert net.query_feat.weight.grad.abs().sum() > 0


def test_prompt_generator_is_deterministic_under_a_seed():
    first = scene_prompts(20, seed=7)
    assert first == scene_prompts(20, seed=7)
    assert scene_prompts(5, seed=7, start=10) == first[10:15]
    assert scene_prompt(7, 3) == first[3]
    assert first != scene_prompts(20, seed=8)
    assert len(set(first)) == 20


def test_the_shipped_interpreter_config_needs_a_model_and_data_and_reads_eq8_weights():
    with pytest.raises(UsageError, match="the interpreter task needs interpreter.diffusion"):
        train(load_config("configs/interpreter.yaml"))
    with pytest.raises(UsageError, match="the interpreter task needs data.train"):
        InterpreterTask(load_config("configs/interpreter.yaml", ["interpreter.diffusion=/m"]))
    cfg = load_config("configs/interpreter.yaml", ["interpreter.diffusion=/m", "data.train=him2k:/d"])
    assert (cfg["task"], cfg["interpreter"]["class_weight"], cfg["interpreter"]["alpha_weight"]) == (
        "interpreter", 0.1, 1.0)
    assert (cfg["optim"]["optimizer"], cfg["optim"]["weight_decay"], cfg["data"]["output"]) == ("adamw", 0.05, 512)
    with pytest.raises(UsageError, match="the interpreter task has no validation; leave val.dataset unset"):
        InterpreterTask(merge(cfg, {"val": {"dataset": "him2k:/d"}})).check_validation()
    with pytest.raises(UsageError, match="optim.optimizer must be one of adam, adamw, not 'sgd'"):
        load_config("configs/interpreter.yaml", ["optim.optimizer=sgd"])
    with pytest.raises(UsageError, match="optim.weight_decay must be a number of at least 0, not -1"):
        load_config("configs/interpreter.yaml", ["optim.weight_decay=-1"])
    with pytest.raises(UsageError, match="interpreter.queries must be a whole number of at least 1, not 0"):
        load_config("configs/interpreter.yaml", ["interpreter.queries=0"])


def test_train_names_an_unknown_task(tmp_path, capsys):
    from mattekit.cli import main
    (tmp_path / "c.yaml").write_text("task: painter\n")
    assert main(["train", str(tmp_path / "c.yaml")]) == 2
    assert "unknown training task 'painter'" in capsys.readouterr().err
