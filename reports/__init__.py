"""Orchestration that writes results: the layer between the computations and the CLI.

``simulate``, ``proofs`` and ``paper_repro`` compute and return data; ``figures`` turns data
into matplotlib Figures; the modules here run those pieces and write their tables, figures,
certificates and reports under an output directory through :mod:`outputs`. The ``coupling``
command calls them and only adds argument parsing, progress bars and printing.
"""
