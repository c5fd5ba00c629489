"""Long computations cut into pieces of about a quarter second, so that progress is reported
and Ctrl-C (KeyboardInterrupt, which Python sees only between compiled calls) is seen between
pieces however large the job. Whoever runs the pieces makes its result independent of where
the cuts fall (the Monte Carlo engines' counter-based keys, the list coupling's fixed
summation rows), so the timing that sizes them never changes a number.
"""

import time

#: Target wall time of one piece.
PIECE_SECONDS = 0.25
#: A piece is at most this many times the one before.
PIECE_GROWTH = 8


def pieces(total, first, align=None):
    """Yield ``(start, size)`` covering [0, total) in order: the first piece ``first`` units
    (at least 1), each next one sized to take about ``PIECE_SECONDS`` at the rate the caller
    just showed on the previous one (the time between two yields). ``align(start, end)``, if
    given, moves the end of the piece starting at ``start`` to a boundary at or after it
    (units of work that cannot be cut, such as the quadrature nodes of uneven cost of the list
    coupling, or a piece that must keep every thread busy).

    Examples
    --------
    >>> [size for _, size in pieces(10, 4)][0]
    4
    >>> next(pieces(10, 4, align=lambda start, end: 6))
    (0, 6)
    """
    done = 0
    piece = max(1, first)
    while done < total:
        piece = min(piece, total - done)
        if align is not None:
            piece = align(done, done + piece) - done
        start = time.perf_counter()
        yield done, piece
        done += piece
        seconds = max(time.perf_counter() - start, 1e-6)
        piece = max(1, min(PIECE_GROWTH * piece, int(piece * PIECE_SECONDS / seconds)))
