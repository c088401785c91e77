"""COCO run-length encoding of binary masks (the ``rle`` mask format of the reference).

Written here rather than depending on pycocotools, whose C build is a heavy runtime dependency for
forty lines of logic; the test suite checks the encoding against pycocotools itself.

Example:
    >>> import numpy as np
    >>> mask = np.zeros((2, 3), dtype=bool); mask[1, 1:] = True
    >>> mask_to_rle(mask)
    {'size': [2, 3], 'counts': '3110'}
"""

from __future__ import annotations

import numpy as np


def mask_to_counts(mask: np.ndarray) -> list[int]:
    """Uncompressed COCO counts: run lengths over the column-major mask, starting with zeros."""
    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    if flat.size == 0:
        return [0]
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    boundaries = np.concatenate(([0], changes, [flat.size]))
    runs = np.diff(boundaries).tolist()
    return ([0] + runs) if flat[0] else runs


def counts_to_string(counts: list[int]) -> str:
    """pycocotools' compressed string form (delta-coded, 5-bit groups offset by 48)."""
    out = []
    for index, value in enumerate(counts):
        x = int(value) - (int(counts[index - 2]) if index > 2 else 0)
        more = True
        while more:
            chunk = x & 0x1F
            x >>= 5
            more = x != -1 if chunk & 0x10 else x != 0
            if more:
                chunk |= 0x20
            out.append(chr(chunk + 48))
    return "".join(out)


def mask_to_rle(mask: np.ndarray) -> dict[str, object]:
    """``{"size": [H, W], "counts": "<compressed>"}`` for one mask."""
    height, width = mask.shape
    return {"size": [int(height), int(width)], "counts": counts_to_string(mask_to_counts(mask))}
