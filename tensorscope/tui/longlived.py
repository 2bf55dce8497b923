"""The cyclic garbage collector and a growing history: a full collection walks every object that is alive,
so with thousands of kept Steps (and their tensors' views) its pause grows to tens of milliseconds, on a key
press. What the app keeps is frozen out of the collector's way (`gc.freeze`) once a pause has been shown:
Steps are plain acyclic records, freed by reference counting as ever when the history drops them. A new run
and the app's end unfreeze everything, so what became cyclic garbage meanwhile is collected then.
"""

from __future__ import annotations

import gc


def settle() -> None:
    """After the app kept new Steps: the young garbage is collected, and what is alive now is frozen."""
    gc.collect(1)
    gc.freeze()


def release() -> None:
    """A run is over (restart, the app's end): everything frozen goes back to the collector."""
    gc.unfreeze()
