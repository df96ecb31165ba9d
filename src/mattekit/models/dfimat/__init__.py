"""DFIMat's networks (Jiao et al., "DFIMat: Decoupled Flexible Interactive Matting in Multi-Person Scenarios", ACCV
2024, arXiv 2410.09788, §3): ``ISCN`` (semantic capture, with the CRM) and ``MRN`` (refinement), their sizes in
``settings`` (presets ``dfimat``, ``dfimat-s``, ``tiny``), and ``make_target`` (a round's prompts as tensors).

Modules: ``encoder`` (backbone + pixel decoder), ``prompts`` (targets, visual sampler), ``text`` (text encoders),
``decoder`` (queries, attention structure, heads), ``iscn``, ``global_branch`` (MRN's transformer), ``mrn``.

Example:
    >>> from mattekit.models.dfimat import ISCN, MRN, iscn_settings, mrn_settings
    >>> type(ISCN(iscn_settings("tiny"))).__name__, type(MRN(mrn_settings("tiny"))).__name__
    ('ISCN', 'MRN')
"""

from mattekit.models.dfimat.iscn import ISCN
from mattekit.models.dfimat.mrn import MRN
from mattekit.models.dfimat.prompts import Target, make_target
from mattekit.models.dfimat.settings import ISCNSettings, MRNSettings, iscn_settings, mrn_settings

__all__ = ["ISCN", "ISCNSettings", "MRN", "MRNSettings", "Target", "iscn_settings", "make_target", "mrn_settings"]
