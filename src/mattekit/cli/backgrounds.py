"""``mattekit backgrounds curate SRC DST``: keep large, unique background photos without a salient subject."""

from __future__ import annotations

from collections import Counter


def register(subparsers) -> None:
    parser = subparsers.add_parser("backgrounds", help="tools for background photos (composition)")
    verbs = parser.add_subparsers(dest="backgrounds_verb", required=True, metavar="ACTION")
    curate = verbs.add_parser(
        "curate",
        help="keep large, unique photos without a salient subject, resized to the minimum short side",
        description="Photos of SRC whose shorter side reaches --min-short-side are resized to it; near-duplicates "
        "(perceptual hash) and photos with a salient subject (U2-Netp) are dropped. Kept photos go to DST as "
        "PNG; DST/curation-report.csv says what was dropped and why. A stopped run resumes.",
    )
    curate.add_argument("src", metavar="SRC", help="folder of photos")
    curate.add_argument("dst", metavar="DST", help="output folder")
    curate.add_argument("--min-short-side", type=int, default=1080, metavar="PX",
                        help="shortest shorter side kept, and the size it is resized to (default 1080, as BG-20k)")
    curate.add_argument("--max-distance", type=int, default=8, metavar="BITS",
                        help="pHash bits two photos may differ by and still count as duplicates (default 8 of 64)")
    curate.add_argument("--salient-threshold", type=float, default=0.08, metavar="F",
                        help="largest fraction of the photo a salient subject may cover (default 0.08)")
    curate.add_argument("--weights", metavar="W", help="U2-Netp ONNX file overriding the named weights")
    curate.add_argument("--quiet", action="store_true", help="no progress bar")
    curate.set_defaults(run=run_curate)


def run_curate(args) -> int:
    from mattekit.data.backgrounds import REPORT, curate

    verdicts = curate(args.src, args.dst, args.min_short_side, args.max_distance, args.salient_threshold,
                      weights=args.weights, progress=not args.quiet)
    kept = sum(v.kept for v in verdicts)
    reasons = Counter(v.reason.split(":")[0].split(" (")[0] for v in verdicts if not v.kept)
    dropped = ", ".join(f"{n} {why}" for why, n in sorted(reasons.items())) or "none"
    print(f"{kept} of {len(verdicts)} photos kept in {args.dst}; dropped: {dropped}. "
          f"Details: {args.dst}/{REPORT}")
    return 0
