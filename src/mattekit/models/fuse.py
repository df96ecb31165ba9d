"""Fold inference-mode batch normalisation into the convolution before it (a faster network, same outputs).

For a convolution followed directly by batch norm (in a ``Sequential``, or as the ``conv/bn`` pairs of ResNet
and EfficientNet blocks), y = γ (conv(x) − μ) / sqrt(σ² + ε) + β is one convolution with weights scaled by
γ / sqrt(σ² + ε) and a new bias; the batch norm becomes an identity. Only for inference: the folded model can
no longer learn batch statistics, and its state_dict no longer matches a checkpoint.

Example:
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)).eval()
    >>> x = torch.rand(1, 3, 8, 8)
    >>> before = net(x); _ = fold_batch_norm(net); bool(torch.allclose(before, net(x), atol=1e-6))
    True
"""

from __future__ import annotations

import torch
from torch import nn

BLOCK_PAIRS = (("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3"),
               ("_expand_conv", "_bn0"), ("_depthwise_conv", "_bn1"), ("_project_conv", "_bn2"))


@torch.no_grad()
def fold(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    """Fold ``bn`` (inference statistics) into ``conv`` in place."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    conv.weight.mul_(scale.reshape(-1, 1, 1, 1))
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    new_bias = (bias - bn.running_mean) * scale + bn.bias
    conv.bias = nn.Parameter(new_bias)


def fold_batch_norm(model: nn.Module) -> nn.Module:
    """Fold every conv -> batch-norm pair of ``model`` in place (call in eval mode); returns ``model``.

    A pair reachable twice (GFM's encoder stages alias the backbone's modules) is folded once, and the batch
    norm is replaced by an identity wherever it is referenced."""
    folded: dict[int, nn.Module] = {}  # id of a folded batch norm -> its conv

    def pair(conv, bn) -> bool:
        if not (isinstance(conv, nn.Conv2d) and type(bn) is nn.BatchNorm2d):
            return False
        if id(bn) not in folded:
            fold(conv, bn)
            folded[id(bn)] = conv
        return folded[id(bn)] is conv

    for module in list(model.modules()):
        if isinstance(module, nn.Sequential):
            names = list(module._modules)
            for first, second in zip(names, names[1:]):
                if pair(module._modules[first], module._modules[second]):
                    module._modules[second] = nn.Identity()
        for conv_name, bn_name in BLOCK_PAIRS:
            if pair(getattr(module, conv_name, None), getattr(module, bn_name, None)):
                setattr(module, bn_name, nn.Identity())
    return model
