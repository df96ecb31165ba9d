"""Pretrained segmenters that give the default engine its glance: a soft foreground probability per pixel.

Both run with ONNX Runtime on the CPU from weights fetched through ``mattekit.weights``:
- ``Modnet``: MODNet portrait matting, strong on people (input short side about 512, long side at most 1024,
  multiples of 32, so a panorama or a 4000x2 strip costs no more than a 2:1 photo).
- ``U2Netp``: U²-Netp salient object segmentation, strong on animals and objects (input 320x320).

Example:
    >>> from skimage.data import chelsea                      # doctest: +SKIP
    >>> U2Netp().probability(chelsea()).shape                 # doctest: +SKIP
    (300, 451)
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from mattekit import weights

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


def _session(path):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    options.log_severity_level = 3
    # Idle worker threads sleep instead of spinning: on a shared machine spinning only burns CPU (about 30% of
    # these networks' CPU time on 2 busy cores).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _resize(array: np.ndarray, width: int, height: int) -> np.ndarray:
    shrinking = width * height < array.shape[0] * array.shape[1]
    return cv2.resize(array, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


class _OnnxSegmenter:
    """An ONNX Runtime session on the weights named ``name`` (or a local file); subclasses add ``probability``."""

    name: str

    def __init__(self, weights_path: str | None = None):
        self.session = _session(weights.resolve(self.name, weights_path))
        self.input_name = self.session.get_inputs()[0].name

    def run(self, x: np.ndarray) -> np.ndarray:
        """The first output's first map for one HxWx3 float32 input."""
        return self.session.run(None, {self.input_name: x.transpose(2, 0, 1)[None]})[0][0, 0]


class Modnet(_OnnxSegmenter):
    """MODNet portrait matting; ``probability`` returns its alpha at the image's size."""

    name = "modnet"
    short_side, long_side = 512, 1024

    @classmethod
    def input_size(cls, height: int, width: int) -> tuple[int, int]:
        """(H, W) of the network input: short side about 512 and long side at most 1024 (extreme aspect ratios are
        stretched, not tiled), both multiples of 32 and at least 32.

        >>> Modnet.input_size(2, 4000), Modnet.input_size(1080, 1620)
        ((32, 1024), (512, 768))
        """
        scale = min(cls.short_side / min(height, width), cls.long_side / max(height, width))
        return (max(32, round(height * scale / 32) * 32), max(32, round(width * scale / 32) * 32))

    def probability(self, image: np.ndarray) -> np.ndarray:
        height, width = image.shape[:2]
        in_h, in_w = self.input_size(height, width)
        x = (_resize(image, in_w, in_h).astype(np.float32) - 127.5) / 127.5
        return np.clip(_resize(self.run(x), width, height), 0.0, 1.0)


class U2Netp(_OnnxSegmenter):
    """U²-Netp salient object segmentation; ``probability`` returns its min-max normalised map at the image's size."""

    name = "u2netp"
    size = 320

    def probability(self, image: np.ndarray) -> np.ndarray:
        height, width = image.shape[:2]
        x = _resize(image, self.size, self.size).astype(np.float32)
        x = (x / max(float(x.max()), 1e-6) - IMAGENET_MEAN) / IMAGENET_STD
        out = self.run(x)
        out = (out - out.min()) / max(float(out.max() - out.min()), 1e-6)
        return np.clip(_resize(out, width, height), 0.0, 1.0)
