"""Training (GFM, DFIMat's ISCN, MRN and interpreter): losses (``losses``), configuration (``config``), data
(``data``), checkpoints (``checkpoints``), the tasks (``tasks``) and the loop with DDP, AMP and exact resume
(``trainer``); ``mattekit train`` drives it.

Example:
    >>> from mattekit.training.config import load_config                       # doctest: +SKIP
    >>> from mattekit.training.trainer import train                            # doctest: +SKIP
    >>> train(load_config("configs/gfm_lite0_shared.yaml", ["optim.epochs=2"]))  # doctest: +SKIP
"""
