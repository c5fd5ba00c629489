"""Drafter-invariant speculative decoding on a real language model (issue 4)."""
