"""One torch intra-op thread while a sequential coding loop runs, safe under concurrency.

The joint model's autoregressive loop runs hundreds of tiny GEMMs (a wavefront holds at
most min(h, ⌈w/3⌉) positions). Threads buy nothing there and, on a busy machine, their
synchronisation costs about 20× the work; one thread also keeps σ, μ and the table
indexes independent of the caller's thread count.

torch has no per-thread setting: ``torch.set_num_threads`` changes the whole process. A
save/set/restore around each call is therefore wrong as soon as two calls overlap (the
first to leave restores its count while the second still runs, and the last to leave
restores 1 for good). :func:`single_torch_thread` counts the loops inside it under a
lock: the first to enter saves the caller's setting and sets 1, the last to leave puts
the saved setting back. While any loop runs, other torch work in the process runs on
one thread too: slower, never different.
"""
from __future__ import annotations

import contextlib
import threading

import torch

_lock = threading.Lock()
_active = 0
_saved: int | None = None


@contextlib.contextmanager
def single_torch_thread():
    """Run the body with torch's intra-op pool at one thread (see the module docstring)."""
    global _active, _saved
    with _lock:
        if _active == 0:
            _saved = torch.get_num_threads()
            if _saved != 1:
                torch.set_num_threads(1)
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                if _saved is not None and _saved != 1:
                    torch.set_num_threads(_saved)
                _saved = None
