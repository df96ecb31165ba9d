"""Parameters and MACs of the seven released GFM variants at 800x800, against the official figures.

MACs are counted by ``mattekit.evaluation.complexity.count_macs`` (forward hooks on convolutions and linear
layers) on the meta device, so nothing is computed and the run takes seconds. Shared tensors (the encoder stages
alias the backbone) are counted once.

    .venv/bin/python bench/gfm_complexity.py
"""

from __future__ import annotations

import torch

from mattekit.evaluation.complexity import count_macs
from mattekit.models.gfm import GFM

# (backbone, rosta): (parameters in M, GMACs at 800x800) from the issue / official-code notes §1.5
OFFICIAL = {("r34", "tt"): (55.29, 131.8), ("r34", "ft"): (55.29, 131.7), ("r34", "bt"): (55.29, 131.7),
            ("r34_2b", "tt"): (125.88, 1522.8), ("d121", "tt"): (46.96, 241.3), ("r101", "tt"): (497.26, 751.2),
            ("d121", "rim"): (47.41, 312.7)}


def main() -> None:
    print("| variant | parameters (M) | official | diff | GMACs @800² | official | diff |")
    print("|---|---|---|---|---|---|---|")
    for (backbone, rosta), (params_ref, macs_ref) in OFFICIAL.items():
        with torch.device("meta"):
            model = GFM(backbone, rosta).eval()
            params = sum(p.numel() for p in model.parameters()) / 1e6
            macs = sum(count_macs(model, torch.empty(1, 3, 800, 800)).values()) / 1e9
        print(f"| GFM-{rosta.upper()}({backbone}) | {params:.2f} | {params_ref:.2f} | "
              f"{100 * (params / params_ref - 1):+.2f}% | {macs:.1f} | {macs_ref:.1f} | "
              f"{100 * (macs / macs_ref - 1):+.2f}% |")


if __name__ == "__main__":
    main()
