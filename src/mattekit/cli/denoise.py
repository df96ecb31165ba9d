"""``mattekit denoise FOLDER...``: compute the BM3D copies RSSN composes with, once, in parallel."""

from __future__ import annotations

import os


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "denoise",
        help="precompute the BM3D-denoised copies that RSSN composition uses",
        description="Each FOLDER is a foreground set (image/ and alpha/, optionally fg/: its foreground colours "
        "are estimated if needed, then denoised) or a folder of background photos. Copies go to the pixel store, "
        "keyed by content, so `mattekit compose` and training find them; finished ones are skipped.",
    )
    parser.add_argument("folders", nargs="+", metavar="FOLDER")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, metavar="N",
                        help="processes (default: one per CPU core)")
    parser.add_argument("--foreground", choices=("cf", "ml"), default="cf",
                        help="how missing foreground colours are estimated (as for compose)")
    parser.add_argument("--bm3d-profile", choices=("np", "lc"), default="np", help="as for compose")
    parser.add_argument("--cache", metavar="DIR", help="pixel store (default: the mattekit cache folder)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args) -> int:
    from mattekit.data.comp_track import denoise_folders

    computed, total = denoise_folders(args.folders, workers=args.workers, progress=not args.quiet,
                                      foreground_method=args.foreground, bm3d_profile=args.bm3d_profile,
                                      store=args.cache, decode_once=False)
    print(f"{total} BM3D copies in the store ({computed} computed now, {total - computed} there already).")
    return 0
