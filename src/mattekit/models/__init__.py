"""Neural networks (``nn.Module`` only; nothing here reads files or parses arguments).

- :class:`mattekit.models.gfm.GFM`: the Glance and Focus Matting network, every backbone and RoSTa form.
- :mod:`mattekit.models.backbones`: ImageNet backbones by name, ImageNet weights applied only when asked.

Example:
    >>> from mattekit.models import GFM
    >>> GFM("efficientnet_lite0", "tt").rosta
    'tt'
"""

from mattekit.models.gfm import GFM, ROSTAS

__all__ = ["GFM", "ROSTAS"]
