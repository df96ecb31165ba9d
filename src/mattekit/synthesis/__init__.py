"""Diffusion synthesis of multi-person matting data (DFIMat, Jiao et al., ACCV 2024, arXiv 2410.09788, §4):
``diffusion`` (a local Stable Diffusion model, its sampler and features), ``interpret`` (interpreter files and the
people it finds), ``prompts`` (the offline sentence generator) and ``pipeline`` (generated sets on disk).
Everything but ``prompts`` needs the ``synth`` extra. See docs/synthesis.md.
"""
