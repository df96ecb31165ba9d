"""Leave-one-set-out validation of the default engine's glance rule.

Step 1 (``--measure OUT.jsonl``): for every image of the four sets with ground truth (alphamatting,
portraits-pseudo, animals-pseudo, dim-composites) record the signals a rule may use (IoU of the two masks, each
map's unsure ratio) and the SAD (whole image, /1000) of MODNet alone, U²-Netp alone, each map made sure where it
is sure (``lost_glance_alpha``, the engine's output when the two find no common subject), and of the whole engine
(trimap from the glance, focus, merge) with each candidate glance: MODNet's map, U²-Netp's, and their mean.
Step 2 (``--fit OUT.jsonl``): for each set, fit the rule's parameters on the three other sets (the lowest mean of
per-set mean SADs over a grid) and report the held-out set's SAD beside MODNet alone and U²-Netp alone.

    PYTHONPATH=src .venv/bin/python bench/glance_validation.py --measure glance.jsonl [--data ../shared/data]
    PYTHONPATH=src .venv/bin/python bench/glance_validation.py --fit glance.jsonl
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np

SETS = ("alphamatting", "portraits-pseudo", "animals-pseudo", "dim-composites")
GLANCES = ("modnet", "u2netp", "mean")


def sad(alpha: np.ndarray, truth: np.ndarray) -> float:
    return float(np.abs(alpha.astype(np.float64) - truth).sum() / 1000)


def measure(data: Path, out: Path) -> None:
    from mattekit.data.datasets import open_dataset
    from mattekit.engines.default import DefaultEngine, lost_glance_alpha, mask_iou, unsure_ratio
    from mattekit.matting.focus import solve_focus
    from mattekit.matting.trimap import trimap_from_probability

    engine = DefaultEngine()
    done = {(r["set"], r["name"]) for r in map(json.loads, out.read_text().splitlines())} if out.is_file() else set()
    with open(out, "a") as log:
        for set_name in SETS:
            kind = "alphamatting" if set_name == "alphamatting" else "folder"
            for sample in open_dataset(f"{kind}:{data / set_name}", "trimap1" if kind == "alphamatting" else None):
                if (set_name, sample.name) in done:
                    continue
                probs = {"modnet": engine.modnet.probability(sample.image),
                         "u2netp": engine.u2netp.probability(sample.image)}
                probs["mean"] = (probs["modnet"] + probs["u2netp"]) / 2
                masks = [probs["modnet"] > 0.5, probs["u2netp"] > 0.5]
                iou = mask_iou(*masks)
                doubt = masks[0] != masks[1] if iou >= engine.doubt_iou else None  # as the engine does
                row = {"set": set_name, "name": sample.name, "iou": iou,
                       "lost_modnet": sad(lost_glance_alpha(probs["modnet"]), sample.alpha),
                       "lost_u2netp": sad(lost_glance_alpha(probs["u2netp"]), sample.alpha),
                       "unsure_modnet": unsure_ratio(probs["modnet"]), "unsure_u2netp": unsure_ratio(probs["u2netp"]),
                       "alone_modnet": sad(probs["modnet"], sample.alpha), "alone_u2netp": sad(probs["u2netp"],
                                                                                                sample.alpha)}
                for glance in GLANCES:
                    trimap = trimap_from_probability(probs[glance], engine.band_fraction, doubt=doubt)
                    alpha = solve_focus(sample.image, trimap, engine.glance_work_pixels)
                    row[f"engine_{glance}"] = sad(alpha, sample.alpha)
                log.write(json.dumps(row) + "\n")
                log.flush()
                print(row, flush=True)


def rule_choice(row: dict, rule: tuple) -> str:
    """The glance a rule picks for one image: (agree_iou, prefer_margin, when_agree, otherwise, lost_iou)."""
    agree_iou, margin, when_agree, otherwise, _ = rule
    if row["iou"] >= agree_iou:
        return when_agree
    if row["unsure_u2netp"] < margin * row["unsure_modnet"]:
        return "u2netp"
    return otherwise


def rule_sad(row: dict, rule: tuple) -> float:
    """The SAD of the engine under ``rule``: below ``lost_iou`` the segmenters have not found one subject, and the
    chosen map is the alpha as it is (no trimap and focus, which would only sharpen a guess)."""
    choice = rule_choice(row, rule)
    if row["iou"] < rule[4] and choice != "mean":
        return row[f"lost_{choice}"]
    return row[f"engine_{choice}"]


RULES = list(itertools.product((0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.01), (0.0, 0.5, 0.8, 1.0, 1.25, 1.5, 2.0, 1e9),
                               GLANCES, GLANCES, (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)))


def score(rows: list[dict], rule: tuple) -> float:
    """Mean over sets of the mean engine SAD under ``rule``."""
    by_set: dict[str, list[float]] = {}
    for row in rows:
        by_set.setdefault(row["set"], []).append(rule_sad(row, rule))
    return float(np.mean([np.mean(v) for v in by_set.values()]))


def fit(path: Path) -> None:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    print("| held-out set | images | rule fitted on the other three | default engine | MODNet alone | U²-Netp alone "
          "| engine, MODNet glance | engine, U²-Netp glance | engine, mean glance |")
    print("|---|---|---|---|---|---|---|---|---|")
    for held in SETS:
        train = [r for r in rows if r["set"] != held]
        test = [r for r in rows if r["set"] == held]
        if not test:
            continue
        best = min(RULES, key=lambda rule: (score(train, rule), RULES.index(rule)))
        mean = {key: np.mean([r[key] for r in test]) for key in
                ("alone_modnet", "alone_u2netp", "engine_modnet", "engine_u2netp", "engine_mean")}
        chosen = np.mean([rule_sad(r, best) for r in test])
        print(f"| {held} | {len(test)} | {describe(best)} | {chosen:.2f} | {mean['alone_modnet']:.2f} | "
              f"{mean['alone_u2netp']:.2f} | {mean['engine_modnet']:.2f} | {mean['engine_u2netp']:.2f} | "
              f"{mean['engine_mean']:.2f} |")
    best = min(RULES, key=lambda rule: (score(rows, rule), RULES.index(rule)))
    print(f"\nfitted on all four sets: {describe(best)} (mean of per-set mean SADs {score(rows, best):.2f})")


def describe(rule: tuple) -> str:
    agree_iou, margin, when_agree, otherwise, lost_iou = rule
    return (f"IoU ≥ {agree_iou:g}: {when_agree}; else U²-Netp if its unsure ratio < {margin:g}× MODNet's, else "
            f"{otherwise}; IoU < {lost_iou:g}: that map as the alpha, no focus")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--measure", type=Path, metavar="OUT.jsonl")
    action.add_argument("--fit", type=Path, metavar="OUT.jsonl")
    args = parser.parse_args()
    measure(args.data, args.measure) if args.measure else fit(args.fit)
