"""One function per figure: data in, a matplotlib Figure out (Agg backend)."""
