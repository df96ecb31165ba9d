"""The interactive core: prompts, their JSON form and errors, the conflict map, sessions, `mattekit interact`."""

import json

import numpy as np
import pytest
from PIL import Image

from mattekit.cli import main
from mattekit.errors import UsageError
from mattekit.interactive import Box, Click, Scribble, Session, Text, conflict_map
from mattekit.interactive.conflict import NO_CONFLICT, WANTS_BACKGROUND, WANTS_FOREGROUND, input_labels
from mattekit.interactive.prompts import check_inside, from_dict, label_masks, parse_rounds, rasterise, to_dict
from mattekit.io import load_alpha, load_image


def test_conflict_map_marks_exactly_where_the_input_contradicts_the_previous_prediction():
    previous = np.zeros((40, 40), np.float32)
    previous[:, 20:] = 1.0  # right half was foreground
    prompts = [Click(5, 5), Click(30, 30, positive=False), Click(25, 5), Click(10, 30, positive=False)]
    conflict = conflict_map(previous, prompts, (40, 40))
    wants_fg = rasterise(Click(5, 5), (40, 40))  # positive on old background
    wants_bg = rasterise(Click(30, 30, positive=False), (40, 40))  # negative on old foreground
    assert np.array_equal(conflict == WANTS_FOREGROUND, wants_fg)
    assert np.array_equal(conflict == WANTS_BACKGROUND, wants_bg)
    assert set(np.unique(conflict).tolist()) == {NO_CONFLICT, WANTS_FOREGROUND, WANTS_BACKGROUND}


def test_conflict_map_of_a_box_scribbles_text_and_the_first_round():
    previous = np.zeros((30, 30), np.float32)
    previous[2:6, 2:6] = 0.9  # foreground outside the coming box
    previous[20:25, 20:25] = 0.6  # foreground inside it
    box = Box(10, 10, 29, 29)
    conflict = conflict_map(previous, [box, Text("the cat")], (30, 30))
    assert (conflict[2:6, 2:6] == WANTS_BACKGROUND).all() and (conflict[20:25, 20:25] == NO_CONFLICT).all()
    assert np.count_nonzero(conflict) == 16
    stroke = Scribble([(0, 15), (29, 15)], positive=True)
    conflict = conflict_map(previous, [stroke], (30, 30))
    assert np.array_equal(conflict == WANTS_FOREGROUND, rasterise(stroke, (30, 30)))
    assert not conflict_map(None, [Click(1, 1)], (30, 30)).any()
    assert (input_labels([Text("x")], (4, 4)) == -1).all()


def test_the_later_of_two_overlapping_prompts_decides_the_input():
    labels = input_labels([Click(10, 10), Click(12, 10, positive=False)], (20, 20))
    assert labels[10, 12] == 0 and labels[10, 6] == 1


def test_prompt_json_round_trip_and_rasterising():
    prompts = [Click(3, 4, positive=False), Scribble([(1, 2), (8, 9)]), Box(0, 1, 10, 12), Text("the dog")]
    assert [from_dict(json.loads(json.dumps(to_dict(p)))) for p in prompts] == prompts
    assert rasterise(Box(2, 3, 4, 5), (10, 10)).sum() == 9  # corners included: 3x3 pixels
    positive, negative = label_masks(prompts, (20, 20))
    assert negative[4, 3] and positive[2, 1] and positive[9, 8] and not positive[15, 15]


@pytest.mark.parametrize("make, message", [
    (lambda: Scribble([]), "a scribble needs at least one point; this one is empty."),
    (lambda: Box(10, 10, 10, 40), "a box needs x1 > x0 and y1 > y0 (at least one pixel each way); got (10, 10) "
                                  "to (10, 40)."),
    (lambda: Text("   "), "a text prompt needs a sentence; this one is empty."),
    (lambda: Click(float("nan"), 3), "a click needs finite numbers for its coordinates, not nan."),
    (lambda: Click(1, 2, positive="yes"), "a click's 'positive' must be true or false."),
    (lambda: Scribble("abc"), "scribble points must be a list of [x, y] pairs."),
    (lambda: check_inside(Click(100, 5), (50, 100)), "a positive click has the point (100, 5) outside the 100x50 "
                                                     "image (x in 0..99, y in 0..49)."),
])
def test_every_bad_prompt_is_one_sentence(make, message):
    with pytest.raises(UsageError) as error:
        make()
    assert str(error.value) == message


@pytest.mark.parametrize("data, message", [
    ([], "the prompts must be a JSON list of rounds, each a list of prompt objects."),
    ([[{"type": "click", "x": 1, "y": 1}], []], "round 2 must be a non-empty list of prompt objects."),
    ([[{"type": "lasso"}]], "round 1, prompt 1: a prompt's 'type' must be one of click, scribble, box, text, "
                            "not 'lasso'."),
    ([[{"type": "text", "text": "a"}, {"type": "box", "x0": 1}]], "round 1, prompt 2: a box prompt needs 'y0', "
                                                                   "'x1', 'y1'."),
    ([[{"type": "click", "x": 1, "y": 1, "colour": "red"}]], "round 1, prompt 1: a click prompt has no field "
                                                              "'colour'; its fields: x, y, positive."),
])
def test_rounds_json_errors_name_the_round_and_prompt(data, message):
    with pytest.raises(UsageError) as error:
        parse_rounds(data)
    assert str(error.value) == message


@pytest.fixture(scope="module")
def photo(shared_data):
    image = load_image(shared_data / "alphamatting" / "image" / "GT04.png")
    gt = load_alpha(shared_data / "alphamatting" / "alpha" / "GT04.png")
    step = 3  # a small copy keeps the module quick
    return np.ascontiguousarray(image[::step, ::step]), gt[::step, ::step]


def test_session_rounds_undo_and_instances(photo):
    image, gt = photo
    ys, xs = np.nonzero(gt > 0.5)
    session = Session(image)
    first = session.round([Box(xs.min(), ys.min(), xs.max(), ys.max())])
    assert not session.conflict.any()
    corner = Click(0, 0, positive=True)  # the image corner is background in GT04: a contradiction
    second = session.round([corner])
    assert session.conflict[0, 0] == WANTS_FOREGROUND
    assert len(session.rounds()) == 2
    restored = session.undo()
    assert np.array_equal(restored.alpha, first.alpha) and np.array_equal(session.matte().alpha, first.alpha)
    assert not session.conflict.any() and not np.array_equal(second.alpha, first.alpha)
    session.round([Click(xs[0], ys[0])], instance=3)
    alphas = session.instances()
    assert sorted(alphas) == [0, 3] and alphas[0].dtype == np.float32
    assert (alphas[0] + alphas[3]).max() <= 1.0 + 1e-6
    assert session.undo(instance=3) is None and sorted(session.instances()) == [0]


def test_session_refuses_bad_rounds_without_changing_state(photo):
    image, _ = photo
    session = Session(image)
    height, width = image.shape[:2]
    with pytest.raises(UsageError, match=r"^prompt 2: a box has the point"):
        session.round([Click(1, 1), Box(0, 0, width, 10)])
    with pytest.raises(UsageError, match="a round needs a non-empty list of prompts"):
        session.round([])
    with pytest.raises(UsageError, match="an instance is a whole number from 0, not -1."):
        session.round([Click(1, 1)], instance=-1)
    with pytest.raises(UsageError, match="instance 0 has no round to undo."):
        session.undo()
    with pytest.raises(UsageError, match="the default engine does not serve interactive sessions"):
        Session(image, "default")
    assert session.rounds() == [] and session.instances() == {}


def test_interact_cli_end_to_end(photo, tmp_path, capsys):
    image, gt = photo
    Image.fromarray(image).save(tmp_path / "photo.png")
    ys, xs = np.nonzero(gt > 0.5)
    rounds = [[{"type": "box", "x0": int(xs.min()), "y0": int(ys.min()), "x1": int(xs.max()), "y1": int(ys.max())}],
              [{"type": "click", "x": 0, "y": 0, "positive": False}]]
    (tmp_path / "rounds.json").write_text(json.dumps(rounds))
    out = tmp_path / "out"
    assert main(["interact", str(tmp_path / "photo.png"), "--prompts", str(tmp_path / "rounds.json"), "-o", str(out),
                 "--every-round"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"photo.round{r}.{kind}.png" for r in (1, 2) for kind in ("alpha", "conflict", "cutout")]
    session = Session(image)  # the same rounds through the Python API give the same matte
    for prompts in parse_rounds(rounds):
        expected = session.round(prompts)
    assert np.array_equal(load_alpha(out / "photo.round2.alpha.png"), np.round(expected.alpha * 255) / 255)
    assert np.array_equal(np.asarray(Image.open(out / "photo.round2.conflict.png")), session.conflict)


def test_interact_cli_errors_name_the_round_and_write_nothing(photo, tmp_path, capsys):
    image, _ = photo
    Image.fromarray(image).save(tmp_path / "photo.png")
    height, width = image.shape[:2]
    cases = {
        "[[{\"type\": \"click\", \"x\": 1, \"y\": 1}], [{\"type\": \"click\", \"x\": 1, \"y\": 99999}]]":
            f"round 2, prompt 1: a positive click has the point (1, 99999) outside the {width}x{height} image",
        "[[{\"type\": \"click\", \"x\": 1,": "rounds.json is not valid JSON (line 1, column",
        "[[{\"type\": \"scribble\", \"points\": []}]]": "round 1, prompt 1: a scribble needs at least one point",
    }
    for text, message in cases.items():
        (tmp_path / "rounds.json").write_text(text)
        code = main(["interact", str(tmp_path / "photo.png"), "--prompts", str(tmp_path / "rounds.json"),
                     "-o", str(tmp_path / "out")])
        err = capsys.readouterr().err
        assert code != 0 and message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_matte_with_prompts_is_one_round_of_a_session(photo):
    import mattekit

    image, gt = photo
    ys, xs = np.nonzero(gt > 0.5)
    prompts = [Box(xs.min(), ys.min(), xs.max(), ys.max()), Click(xs[0], ys[0])]
    assert np.array_equal(mattekit.matte(image, prompts=prompts).alpha, Session(image).round(prompts).alpha)
    with pytest.raises(UsageError, match="give either a trimap or prompts, not both."):
        mattekit.matte(image, trimap=np.zeros(gt.shape, np.uint8), prompts=prompts)
