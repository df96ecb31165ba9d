"""``mattekit compose FG_DIR BG_DIR -o OUT``: materialise a COMP-Track set (coco, bg20k or the RSSN route), or
multi-person scenes in the HIM2K layout with a sentence per person (``--mode scenes``)."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "compose",
        help="compose foregrounds over backgrounds into a training set (coco, bg20k or RSSN)",
        description="FG_DIR holds image/ and alpha/ matched by name (optionally fg/ with foreground colours; "
        "without it they are estimated once and cached). Writes OUT/image, OUT/alpha, OUT/fg, OUT/bg and "
        "OUT/manifest.jsonl. The same seed gives the same files; a stopped run resumes where it left off. "
        "RSSN needs BM3D copies, which take minutes per HD image: `mattekit denoise FG_DIR BG_DIR` makes them "
        "ahead, and compose makes the ones it needs first. --mode scenes instead pastes --people portraits of "
        "FG_DIR over a background per scene (--count scenes) and writes OUT/images, OUT/alphas/<scene>/00.png... "
        "and OUT/captions.json, which `mattekit eval --dataset synth:OUT` reads.",
    )
    parser.add_argument("fg_dir", metavar="FG_DIR", help="foreground set: image/, alpha/ and optionally fg/")
    parser.add_argument("bg_dir", metavar="BG_DIR", help="folder of background photos")
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder")
    parser.add_argument("--mode", choices=("coco", "bg20k", "rssn", "scenes"), default="rssn",
                        help="coco/bg20k: plain alpha blending; rssn: denoise, blur, noise (default); scenes: "
                        "multi-person scenes for interactive matting")
    parser.add_argument("--count", type=int, default=20, metavar="N", help="scenes: how many (default 20)")
    parser.add_argument("--people", type=int, default=3, metavar="K", help="scenes: people per scene (default 3)")
    parser.add_argument("--side", type=int, default=1080, metavar="PX",
                        help="scenes: longer side of the backgrounds at most PX (default 1080)")
    parser.add_argument("--per-foreground", type=int, default=5, metavar="K",
                        help="backgrounds per foreground (default 5, as the paper)")
    parser.add_argument("--pairing", choices=("random", "fixed"), default="random",
                        help="random: K distinct backgrounds drawn per foreground (paper); fixed: foreground i "
                        "takes sorted background i·K+k (the official code, with K=1)")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="seed of every random choice (default 0)")
    parser.add_argument("--workers", type=int, default=1, metavar="N", help="processes (default 1)")
    parser.add_argument("--foreground", choices=("cf", "ml"), default="cf",
                        help="how missing foreground colours are estimated: cf closed form (paper), ml multi-level")
    parser.add_argument("--bm3d-profile", choices=("np", "lc"), default="np",
                        help="np: the bm3d package's default; lc: its low-complexity profile, about 3x faster")
    parser.add_argument("--cache", metavar="DIR", help="pixel store for BM3D copies and colours "
                        "(default: the mattekit cache folder)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(run=run)


def run(args) -> int:
    if args.mode == "scenes":
        from mattekit.data.scenes import write_scenes

        written = write_scenes(args.fg_dir, args.bg_dir, args.output, args.count, args.seed, args.people, args.side)
        print(f"{args.output}: {written} scenes of {args.people} people with their captions.")
        return 0
    from mattekit.data.comp_writer import compose_set

    counts = compose_set(args.fg_dir, args.bg_dir, args.output, workers=args.workers, progress=not args.quiet,
                         mode=args.mode, per_foreground=args.per_foreground, pairing=args.pairing, seed=args.seed,
                         foreground_method=args.foreground, bm3d_profile=args.bm3d_profile, store=args.cache,
                         decode_once=False)
    print(f"{args.output}: {counts['written']} composed, {counts['skipped']} already there, "
          f"{counts['denoised']} BM3D copies computed.")
    return 0
