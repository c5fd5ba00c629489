"""One function per figure: data in, a matplotlib Figure out.

Figures are built with ``matplotlib.figure.Figure`` (see :func:`coupling.figures.bounds.subplots`),
not pyplot, so no backend is selected and no global state changes; ``coupling.outputs.save_figure``
renders them to files.
"""
