"""``mattekit export-onnx WEIGHTS -o OUT.onnx [--size H W] [--backbone B] [--rosta R] [--maps]`` (GFM, or the MRN
of a DFIMat weight file)."""

from __future__ import annotations

from mattekit.engines import check_onnx_size
from mattekit.weights import local_file


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export-onnx", help="export a GFM checkpoint or DFIMat's MRN to ONNX for one input size",
        description="The graph takes 'image' (1x3xHxW raw 0-255 RGB floats), for MRN also 'mask' (1x1xHxW in "
        "[0, 1]), and gives 'alpha' (1x1xHxW).")
    parser.add_argument("weights", metavar="WEIGHTS", help="a GFM checkpoint (.pth or .safetensors) or a DFIMat "
                        "weight file holding MRN")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.onnx", help="where to write the graph")
    parser.add_argument("--size", nargs=2, type=int, default=(512, 512), metavar=("H", "W"),
                        help="input height and width, multiples of 32 (default 512 512)")
    parser.add_argument("--backbone", help="GFM backbone (default: recognised from the checkpoint)")
    parser.add_argument("--rosta", help="tt, ft, bt or rim (default: recognised from the checkpoint)")
    parser.add_argument("--maps", action="store_true", help="also output the glance and focus maps")
    parser.set_defaults(run=run)


def run(args) -> int:
    check_onnx_size(*args.size)
    local_file(args.weights)  # both before PyTorch is imported
    from mattekit.engines.dfimat_weights import is_dfimat_file
    from mattekit.engines.gfm_export import export_onnx

    if is_dfimat_file(args.weights):
        from mattekit.engines.dfimat_export import export_mrn_onnx
        path = export_mrn_onnx(args.weights, args.output, *args.size)
    else:
        path = export_onnx(args.weights, args.output, *args.size, backbone=args.backbone, rosta=args.rosta,
                           with_maps=args.maps)
    print(f"wrote {path}")
    return 0
