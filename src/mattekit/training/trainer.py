"""The training loop of every task (``training.tasks``: GFM, DFIMat's ISCN, MRN and interpreter): one process or many
(DDP under ``torchrun``), AMP on GPU, exact resume, logs, validation and best-checkpoint selection.

Run with ``mattekit train CONFIG.yaml [key=value ...] [--resume]``, or on N processes/GPUs with
``torchrun --nproc_per_node N -m mattekit train ...`` (several nodes likewise with torchrun's rendezvous options).
``optim.batch_size`` is the global batch; each process takes its share of every step's samples
(``DistributedSampler`` with the run's seed), and the gradients are averaged. Batch-norm statistics are those
of each process's share unless ``optim.sync_bn`` converts them to SyncBatchNorm (GPU only; the official
DataParallel code also used per-GPU statistics); ``optim.freeze_bn`` keeps batch norm in inference mode.

The run folder holds ``config.yaml``, ``log.csv`` (one row per logged step: epoch, step, loss, every term,
learning rate, images per second), ``val.csv``, ``checkpoints/`` (see ``checkpoints``) and TensorBoard events
(``tensorboard/``) as the ``tensorboard`` setting says: ``null`` (the default) writes them when the ``train`` extra
is installed and says nothing when it is not, since the CSV logs hold the same numbers; ``true`` requires them, so a
run that asks for TensorBoard and could not write it stops before its first step with the sentence naming the
extra, rather than training for days without the logs it was asked for; ``false`` never writes them. ``--resume``
continues from the newest checkpoint exactly: same weights, optimizer moments, random state, and the same remaining
samples of the interrupted epoch.

The learning rate is ``optim.lr`` throughout (``optim.schedule: constant``) or follows a cosine from ``optim.lr``
at the first step to 0 after the last of ``optim.epochs`` (``cosine``; ``optim.max_steps`` stops a run early without
changing it), a function of the step, so a resumed run continues it exactly. The optimiser is Adam
(``optim.optimizer: adam``) or AdamW (``adamw``), with ``optim.weight_decay`` (0 by default).

Example:
    >>> from mattekit.training.config import load_config
    >>> train(load_config("configs/gfm_lite0_shared.yaml"))      # doctest: +SKIP
"""

from __future__ import annotations

import csv
import itertools
import math
import os
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import yaml
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from mattekit.engines.gfm import autocast_dtype, pick_device
from mattekit import kernels
from mattekit.errors import UsageError
from mattekit.extras import require
from mattekit.training import checkpoints
from mattekit.training.tasks import build_task


class SkipSampler(torch.utils.data.Sampler):
    """The indices of ``sampler`` after the first ``skip`` (to resume inside an epoch)."""

    def __init__(self, sampler, skip: int):
        self.sampler, self.skip = sampler, skip

    def __iter__(self):
        return itertools.islice(iter(self.sampler), self.skip, None)

    def __len__(self) -> int:
        return len(self.sampler) - self.skip


def start_processes(config: dict) -> tuple[int, int, torch.device]:
    """(rank, world size, device); joins the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, pick_device(config["device"])
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available() and config["device"] in ("auto", "cuda")
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    if cuda:
        torch.cuda.set_device(local)
    return rank, world, torch.device(f"cuda:{local}" if cuda else "cpu")


def set_batch_norm_eval(model: torch.nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.eval()


def summary_writer(wanted: bool | None):
    """TensorBoard's ``SummaryWriter`` class as the ``tensorboard`` setting says, or None: ``True`` requires the
    ``train`` extra (a UsageError naming it), ``None`` uses it when installed, ``False`` never."""
    if wanted is False:
        return None
    try:
        require("train", "tensorboard", "torch.utils.tensorboard", feature="TensorBoard logging (tensorboard: true)")
    except UsageError:
        if wanted:
            raise
        return None
    from torch.utils.tensorboard import SummaryWriter
    return SummaryWriter


class Logs:
    """log.csv, val.csv and TensorBoard (with ``board``, a ``SummaryWriter`` class), written by rank 0; rows past
    ``step`` are dropped."""

    def __init__(self, run_dir: Path, step: int, enabled: bool, board=None):
        self.run_dir, self.enabled, self.writers = run_dir, enabled, {}
        self.board = None
        if not enabled:
            return
        for name in ("log.csv", "val.csv"):
            path = run_dir / name
            if path.is_file():
                rows = list(csv.DictReader(path.open()))
                kept = [r for r in rows if int(r["step"]) <= step]
                if kept != rows:
                    checkpoints.atomic_write(path, lambda tmp: self._rewrite(tmp, rows[0].keys(), kept))
        if board is not None:
            self.board = board(str(run_dir / "tensorboard"), purge_step=step + 1)

    @staticmethod
    def _rewrite(tmp, fields, rows) -> None:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(fields))
            writer.writeheader()
            writer.writerows(rows)

    def row(self, name: str, values: dict) -> None:
        if not self.enabled:
            return
        path = self.run_dir / name
        new = not path.is_file()
        with path.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(values))
            if new:
                writer.writeheader()
            writer.writerow(values)
        if self.board is not None:
            for key, value in values.items():
                if key not in ("epoch", "step") and isinstance(value, float):
                    self.board.add_scalar(f"{name.removesuffix('.csv')}/{key}", value, values["step"])


def learning_rate(optim: dict, step: int, planned: int) -> float:
    """The learning rate of step ``step`` (counted from 0) of a run of ``planned`` steps."""
    if optim["schedule"] == "cosine":
        return optim["lr"] * 0.5 * (1 + math.cos(math.pi * step / planned))
    return optim["lr"]


def train(config: dict, resume: bool = False) -> list[tuple[int, float]]:
    """Train as ``config`` says (see ``mattekit.training.config``); returns this run's (step, loss) pairs."""
    board = summary_writer(config["tensorboard"])  # before any work: a run that asked for TensorBoard gets it
    rank, world, device = start_processes(config)
    optim, run_dir = config["optim"], Path(config["run_dir"])
    if optim["batch_size"] % world:
        raise UsageError(f"optim.batch_size {optim['batch_size']} does not split over {world} processes.")
    per_rank = optim["batch_size"] // world
    task = build_task(config)
    task.check_validation()
    dataset = task.dataset()  # the data is checked before a model is built or weights are fetched
    if config["data"]["workers"]:
        kernels.prepare()  # the workers' colour estimation needs them: compiled here once, not in every worker
    sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=config["seed"],
                                 drop_last=True)
    steps_per_epoch = len(sampler) // per_rank
    if steps_per_epoch == 0:
        raise UsageError(f"{len(dataset)} training samples make no batch of {optim['batch_size']}.")
    last_step = optim["epochs"] * steps_per_epoch
    if optim["max_steps"] is not None:
        last_step = min(last_step, int(optim["max_steps"]))
    torch.manual_seed(config["seed"])
    torch.set_flush_denormal(True)  # denormal floats make CPU training up to 100x slower
    torch.backends.cudnn.deterministic = bool(config["deterministic"])
    torch.backends.cudnn.benchmark = not config["deterministic"]
    marker = checkpoints.check_fresh(run_dir / "checkpoints", resume)

    model = task.build(fresh=marker is None)
    model.to(device)
    kind = torch.optim.AdamW if optim["optimizer"] == "adamw" else torch.optim.Adam
    optimizer = kind([p for p in model.parameters() if p.requires_grad], lr=optim["lr"],
                     weight_decay=optim["weight_decay"])
    dtype = autocast_dtype(device, "auto") if optim["amp"] else None
    scaler = torch.amp.GradScaler(device.type) if dtype == torch.float16 else None
    state = {"epoch": 0, "step": 0, "best": None}
    if marker is not None:
        state = checkpoints.restore(marker, model, optimizer, scaler, task.read_weights)
    net = model
    if world > 1:
        if optim["sync_bn"] and device.type == "cuda":
            net = torch.nn.SyncBatchNorm.convert_sync_batchnorm(net)
        net = torch.nn.parallel.DistributedDataParallel(
            net, device_ids=[device.index] if device.type == "cuda" else None, find_unused_parameters=True)

    if rank == 0:
        run_dir.mkdir(parents=True, exist_ok=True)
        checkpoints.atomic_write(run_dir / "config.yaml", lambda tmp: Path(tmp).write_text(yaml.safe_dump(config)))
    logs = Logs(run_dir, state["step"], rank == 0, board)
    history: list[tuple[int, float]] = []
    step = state["step"]
    bar = tqdm(total=last_step, initial=step, disable=rank != 0 or not config["progress"], unit="step")
    while step < last_step:
        epoch = step // steps_per_epoch
        sampler.set_epoch(epoch)
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)
        workers = config["data"]["workers"]
        # workers start from a fresh interpreter: forking a process whose OpenMP threads are running can hang
        # the colour estimation (numba) in the child
        loader = DataLoader(dataset, batch_size=per_rank, drop_last=True, num_workers=workers,
                            sampler=SkipSampler(sampler, (step % steps_per_epoch) * per_rank),
                            multiprocessing_context="forkserver" if workers else None, collate_fn=task.collate,
                            pin_memory=device.type == "cuda")
        for collated in loader:
            tick = time.perf_counter()
            batch = task.to_batch(collated, device)
            net.train()
            if optim["freeze_bn"]:
                set_batch_norm_eval(net)
            cast = torch.autocast(device.type, dtype=dtype) if dtype else nullcontext()
            lr = learning_rate(optim, step, optim["epochs"] * steps_per_epoch)
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss, terms = task.loss(net, batch, cast)
            optimizer.zero_grad(set_to_none=True)
            (scaler.scale(loss) if scaler else loss).backward()
            if scaler:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            step += 1
            values = torch.stack([loss.detach()] + [t.detach() for t in terms.values()])
            if world > 1:
                dist.all_reduce(values)
                values /= world
            history.append((step, float(values[0])))
            bar.update(1)
            if step % config["log_every"] == 0 or step == last_step:
                seconds = time.perf_counter() - tick
                logs.row("log.csv", {"epoch": epoch, "step": step, "loss": float(values[0]),
                                     **{k: float(v) for k, v in zip(terms, values[1:])}, "lr": lr,
                                     "images_per_s": optim["batch_size"] / seconds, "seconds": seconds})
            end_of_epoch = step % steps_per_epoch == 0
            if (config["checkpoint_every"] and step % config["checkpoint_every"] == 0) or end_of_epoch \
                    or step == last_step:
                state = {"epoch": step // steps_per_epoch, "step": step, "best": state["best"]}
                finish(task, model, optimizer, scaler, state, config, rank, world, device, logs, end_of_epoch)
            if step == last_step:
                break
    bar.close()
    if world > 1:
        dist.barrier()
    return history


def finish(task, model, optimizer, scaler, state: dict, config: dict, rank: int, world: int, device, logs: Logs,
           end_of_epoch: bool) -> None:
    """Checkpoint (rank 0), and after every ``val.every`` epochs validate and keep the best model."""
    folder = Path(config["run_dir"]) / "checkpoints"
    val = config["val"]
    due = end_of_epoch and val["dataset"] and state["epoch"] % val["every"] == 0
    if rank == 0:
        if due:
            scores = task.validate(model, device)
            better = state["best"] is None or scores[val["metric"]] < state["best"]
            if better:
                state["best"] = scores[val["metric"]]
            logs.row("val.csv", {"epoch": state["epoch"], "step": state["step"], **scores, "best": int(better)})
        marker = checkpoints.save(folder, model, optimizer, scaler, state, task.write_weights, config["keep"])
        if due and better:
            checkpoints.save_best(folder, marker, {"step": state["step"], val["metric"]: state["best"]})
    if world > 1:
        dist.barrier()
        shared = [state["best"]]
        dist.broadcast_object_list(shared, src=0)
        state["best"] = shared[0]
