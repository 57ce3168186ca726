"""Upper bounds on the similarity of a query to every cached vector, from a smaller copy.

Each vector x is kept as its projection x' on the main directions of the vectors (an
orthonormal basis found once from a sample) plus the length of what the projection leaves out,
|x - x'|. For any query q, by Cauchy–Schwarz on the parts left out,

    q·x = q'·x' + (q - q')·(x - x')  ≤  q'·x' + |q - q'| · |x - x'|

so a row whose bound stays below a threshold cannot reach it, and need not be scored in full.
A search for the rows at least as similar as a threshold (a write's duplicate check) scores
exactly only the rows whose bound reaches it: the same answer as scoring every row, for a
quarter of the memory read (on MiniLM vectors at 100k, 96 dimensions leave 1.5 % of the rows
to score at a threshold of 0.6: 13.6 → 3.8 ms).
"""

from __future__ import annotations

import numpy as np

__all__ = ["Sketch"]

# Dimensions of the smaller copy, and rows the basis is found from.
DIMENSIONS = 96
SAMPLE = 4096
# Added to every bound against float32 rounding.
MARGIN = 1e-3


class Sketch:
    """The first `n` rows of a matrix of vectors, projected, with what each leaves out."""

    def __init__(self, dimensions: int = DIMENSIONS) -> None:
        self.dimensions = dimensions
        self.basis: np.ndarray | None = None  # (vector dimension, dimensions), orthonormal
        self.n = 0
        self._reduced = np.zeros((0, dimensions), dtype=np.float32)
        self._rest = np.zeros(0, dtype=np.float32)  # |x - x'| of each row

    @property
    def nbytes(self) -> int:
        return self._reduced.nbytes + self._rest.nbytes

    def cover(self, matrix: np.ndarray, n: int) -> None:
        """Sketch the first `n` rows of `matrix` (the rows already sketched are kept; the basis
        is found from them the first time)."""
        if self.basis is None:
            picked = np.random.default_rng(0).choice(n, min(n, SAMPLE), replace=False)
            _, _, vt = np.linalg.svd(matrix[np.sort(picked)], full_matrices=False)
            self.basis = np.ascontiguousarray(vt[: self.dimensions].T, dtype=np.float32)
        if n > len(self._reduced):
            capacity = max(n, 2 * len(self._reduced))
            reduced = np.zeros((capacity, self.basis.shape[1]), dtype=np.float32)
            reduced[: self.n] = self._reduced[: self.n]
            rest = np.zeros(capacity, dtype=np.float32)
            rest[: self.n] = self._rest[: self.n]
            self._reduced, self._rest = reduced, rest
        if self.n < n:
            self._set(self.n, matrix[self.n : n])
            self.n = n

    def update(self, i: int, vector: np.ndarray) -> None:
        """Row `i` now holds `vector`."""
        if i < self.n:
            self._set(i, np.asarray(vector, dtype=np.float32)[None, :])

    def forget(self) -> None:
        """The rows were renumbered: sketch them again on next use (the basis stays)."""
        self.n = 0

    def bounds(self, query: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
        """An upper bound of `query`'s dot product with each of `rows` (None: every row)."""
        assert self.basis is not None
        projected = query @ self.basis
        left = float(np.sqrt(max(0.0, float(query @ query) - float(projected @ projected))))
        reduced = self._reduced[: self.n] if rows is None else self._reduced[rows]
        rest = self._rest[: self.n] if rows is None else self._rest[rows]
        return reduced @ projected + (left * rest + MARGIN)

    def _set(self, start: int, block: np.ndarray) -> None:
        assert self.basis is not None
        reduced = block @ self.basis
        # In float64: |x|² - |x'|² cancels when the projection keeps nearly all of x.
        kept = np.einsum("ij,ij->i", reduced.astype(np.float64), reduced.astype(np.float64))
        whole = np.einsum("ij,ij->i", block.astype(np.float64), block.astype(np.float64))
        end = start + len(block)
        self._reduced[start:end] = reduced
        self._rest[start:end] = np.sqrt(np.maximum(0.0, whole - kept))
