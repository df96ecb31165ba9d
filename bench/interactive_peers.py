"""The offline interactive engine against two classical peers under the same simulated users, in one run.

On ``../shared/data/alphamatting`` (real hand-made alphas), ``dim-composites`` and synthesized three-person scenes
(``mattekit.data.scenes.write_scenes`` over ``portraits-pseudo`` and ``backgrounds``), every engine (default:
``interactive``, ``grabcut-cf``, ``levin-scribbles``) is played by every simulated user (``ritm``, ``click``,
``scribble``, ``box``, ``mixed``; ``mattekit.interactive.simulate``) through ``mattekit eval --interaction``'s
runner. Then the median seconds per round at 1080p: the click user on ``--timing-scenes`` scenes at their full
size (backgrounds 1080 rows). Prints a markdown section (NoC@85/90 under RITM, SAD and IoU after rounds 1-5,
seconds), and appends it to ``docs/benchmarks.md`` with ``--docs``. Reports are kept in ``--out`` and reused:
a rerun with a larger ``--limit`` only plays the new images.

    PYTHONPATH=src .venv/bin/python bench/interactive_peers.py --limit 2 --side 320 --scenes 4   # smoke run
    PYTHONPATH=src .venv/bin/python bench/interactive_peers.py --docs                              # full run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from mattekit.data.scenes import write_scenes
from mattekit.evaluation.interactive_runner import interactive_benchmark

ENGINES = ("interactive", "grabcut-cf", "levin-scribbles")
INTERACTIONS = ("ritm", "click", "scribble", "box", "mixed")


def _reports(args, spec: str) -> Path:
    """The folder of one set's reports: by image size and by the set's folder, so that another ``--side`` or
    another scene set never meets a report of different settings."""
    return args.out / f"side-{args.side or 'full'}" / Path(spec.split(":", 1)[1]).name


def run_all(args, sets: dict[str, str]) -> dict:
    """{(set, engine, interaction): summary} for every combination."""
    results = {}
    for set_name, spec in sets.items():
        for engine in args.engines:
            for interaction in args.interactions:
                report = _reports(args, spec) / engine / interaction
                start = time.perf_counter()
                results[set_name, engine, interaction] = interactive_benchmark(
                    spec, report, engine, interaction, seed=args.seed, max_side=args.side, limit=args.limit,
                    progress=False)
                print(f"{set_name} {engine} {interaction}: {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return results


def timing(args, scenes: Path) -> dict:
    """{engine: seconds summary} of the click user on ``--timing-scenes`` scenes at full size."""
    found = {}
    for engine in args.engines:
        report = args.out / f"timing-1080p-{scenes.name}" / engine
        summary = interactive_benchmark(f"synth:{scenes}", report, engine, "click", seed=args.seed,
                                        limit=args.timing_scenes, progress=False)
        found[engine] = summary["seconds"]
    return found


def _cell(value, digits=3) -> str:
    return "–" if value is None else f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def render(args, sets, results, seconds, command: str) -> str:
    """The markdown section for ``docs/benchmarks.md``."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()
    lines = [f"## Interactive engines under simulated users ({stamp})", "",
             f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, **shared** (load "
             f"average {load[0]:.1f} at the end of the run), so wall times are inflated; CPU times count the work "
             "of this process.", "", "```", command, "```", ""]
    limit = f"the first {args.limit} images of each set" if args.limit else "every image of each set"
    side = f", scaled to at most {args.side} px a side" if args.side else " at full size"
    lines += [f"Images: {limit}{side}; {args.scenes} synthesized three-person scenes (seed {args.seed}); every "
              "metric under the gfm protocol (whole image, SAD ÷ 1000), IoU at alpha > 0.5; users seeded "
              f"{args.seed}. Protocols: `src/mattekit/interactive/simulate.py`.", ""]
    if "ritm" in args.interactions:
        lines += ["### NoC (RITM user: one click a round at the padded-distance maximum, cap 20)", "",
                  "| set | engine | images | NoC@85 | NoC@90 | ≥20@90 |", "|---|---|---|---|---|---|"]
        for set_name in sets:
            for engine in args.engines:
                s = results[set_name, engine, "ritm"]
                noc = s.get("noc", {})
                lines.append(f"| {set_name} | {engine} | {s['samples']} | {_cell(noc.get('noc@85'))} | "
                             f"{_cell(noc.get('noc@90'))} | {_cell(noc.get('nof@90'))} |")
        lines.append("")
    for interaction in [i for i in args.interactions if i != "ritm"]:
        rounds = 1 if interaction == "box" else 5
        header = " | ".join(f"SAD r{r} | IoU r{r}" for r in range(1, rounds + 1))
        lines += [f"### {interaction}", "", f"| set | engine | samples | {header} |",
                  "|---|---|---|" + "---|---|" * rounds]
        for set_name in sets:
            for engine in args.engines:
                s = results[set_name, engine, interaction]
                values = " | ".join(f"{_cell(r['sad'])} | {_cell(r['iou'])}" for r in s["per_round"][:rounds])
                lines.append(f"| {set_name} | {engine} | {s['samples']} | {values} |")
        lines.append("")
    if seconds:
        lines += [f"### Seconds per round at 1080p (click user, {args.timing_scenes} scenes at full size, median)",
                  "", "| engine | round 1 wall | round 1 CPU | later rounds wall | later rounds CPU |",
                  "|---|---|---|---|---|"]
        for engine, s in seconds.items():
            lines.append(f"| {engine} | {_cell(s['first_round_seconds'])} | {_cell(s['first_round_cpu_seconds'])} | "
                         f"{_cell(s['later_rounds_seconds'])} | {_cell(s['later_rounds_cpu_seconds'])} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--out", type=Path, default=Path("bench-out/interactive"), help="report folders")
    parser.add_argument("--engines", type=lambda s: s.split(","), default=list(ENGINES))
    parser.add_argument("--interactions", type=lambda s: s.split(","), default=list(INTERACTIONS))
    parser.add_argument("--limit", type=int, help="images per set (default: all)")
    parser.add_argument("--side", type=int, help="scale images to at most this many pixels a side (default: none)")
    parser.add_argument("--scenes", type=int, default=20, help="synthesized three-person scenes (default 20)")
    parser.add_argument("--timing-scenes", type=int, default=3, help="1080p scenes timed (0: no timing)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--docs", action="store_true", help="append the section to docs/benchmarks.md")
    args = parser.parse_args()
    command = "PYTHONPATH=src .venv/bin/python bench/interactive_peers.py " + " ".join(sys.argv[1:])
    scenes = args.out / f"scenes-{args.scenes}-seed{args.seed}"
    if not (scenes / "captions.json").is_file():
        write_scenes(args.data / "portraits-pseudo", args.data / "backgrounds", scenes, args.scenes, args.seed)
    sets = {"alphamatting": f"alphamatting:{args.data / 'alphamatting'}",
            "dim-composites": f"folder:{args.data / 'dim-composites'}", "scenes": f"synth:{scenes}"}
    results = run_all(args, sets)
    seconds = timing(args, scenes) if args.timing_scenes else {}
    section = render(args, sets, results, seconds, command)
    print(section)
    (args.out / "results.json").write_text(json.dumps({"/".join(k): v for k, v in results.items()}, default=str))
    if args.docs:
        docs = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
        docs.write_text(docs.read_text().rstrip("\n") + "\n\n" + section)


if __name__ == "__main__":
    main()
