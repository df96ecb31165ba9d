"""``mattekit train CONFIG.yaml [key=value ...] [--resume]``: train the task the file names with ``task:`` (GFM by
default; DFIMat's ``iscn`` and ``mrn`` stages and its diffusion-feature ``interpreter``) with the shared trainer,
in one process or under torchrun for DDP."""

from __future__ import annotations

import os


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="train GFM (or the task a file names: iscn, mrn, interpreter) from a YAML configuration",
        description="Settings not in CONFIG keep their defaults (the paper's); KEY=VALUE pairs override both, "
        "e.g. optim.lr=1e-4 data.train=am2k:/data/AM-2k. Run on N GPUs with "
        "`torchrun --nproc_per_node N -m mattekit train CONFIG ...`.")
    parser.add_argument("config", metavar="CONFIG.yaml", help="training configuration (see configs/)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="settings overriding the file")
    parser.add_argument("--resume", action="store_true", help="continue from the run folder's newest checkpoint")
    parser.set_defaults(run=run)


def run(args) -> int:
    from mattekit.training.config import check_sources, load_config

    config = load_config(args.config, args.overrides)
    check_sources(config)  # before PyTorch is imported
    from mattekit.training.trainer import train

    history = train(config, resume=args.resume)
    if history and os.environ.get("RANK", "0") == "0":
        print(f"trained to step {history[-1][0]}, last loss {history[-1][1]:.4f}")
    return 0
