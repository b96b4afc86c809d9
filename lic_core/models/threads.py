"""One torch intra-op thread for a sequential coding loop, without changing any other
thread's setting.

The joint model's float autoregressive loop (zoo-v3 files, CompressAI checkpoints, any
joint model without integer networks) runs hundreds of tiny GEMMs (a wavefront holds at
most min(h, ⌈w/3⌉) positions). Threads buy nothing there and, on a busy machine, their
synchronisation costs about 20× the work; one thread also keeps σ, μ and the table
indexes independent of the caller's thread count, so an encoder and a decoder with other
counts agree.

Why not ``torch.set_num_threads(1)`` around the loop: it is not a per-thread switch. It
sets the calling thread's own pool size *and* the process default that every thread
not yet running torch code starts from. Setting it around the loop (or in a ref-counted
scope shared by overlapping loops) therefore changed what other Python threads computed:
the first loop in set its own thread to 1, the last out restored its own, so one thread
could keep 1 for good, and threads starting meanwhile began at 1. g_s's floats depend on
the thread count, and 56 of 610 concurrent decodes differed from the serial result by a
level (issue 21 point 23).

What :func:`run_single_threaded` does instead. With torch's OpenMP backend (the official
CPU builds) a thread's setting, once it has run torch code, is its own. So the loop runs
in one of a few worker threads, started once per process, that set themselves to one
thread and never change it again; the thread that starts them puts the process default
back at once. The caller's setting, every other thread's and the default are then never
touched on the coding path: concurrent decodes give the serial result
(tests/models/test_concurrent_decoding.py). The price: one hand-over to a worker per loop
(tens of microseconds), and, once per process while the workers start (under this
module's lock, before the first loop runs), a moment in which the default reads 1: a
thread that begins torch work in exactly that moment keeps 1. The default is put back
by a short-lived thread of its own, so the starting thread's setting is not touched
either.

Other backends (torch's native thread pool, one pool for the whole process): a worker
cannot keep a count of its own, which the start checks; the loop then runs in the
caller under :func:`single_torch_thread`, the ref-counted process-wide scope (the first
loop in saves the setting and sets 1, the last out restores it). There, while any loop
runs, other torch work in the process runs on one thread too: slower, and g_s's pixels
may differ by a level from a serial run (docs/models.md §9).

The worker runs the loop with the caller's autograd mode (``no_grad``/``inference_mode``,
which torch keeps per thread), and hands back its result or exception.
"""
from __future__ import annotations

import contextlib
import os
import queue
import threading
from concurrent.futures import Future

import torch

__all__ = ["run_single_threaded", "single_torch_thread", "WORKERS"]

#: worker threads: as many loops may run at once (they hold the GIL between torch calls,
#: so more would mostly wait)
WORKERS = max(1, min(4, os.cpu_count() or 1))

_lock = threading.Lock()
_active = 0
_saved: int | None = None
#: the started workers (None before the first loop), or False where this torch's thread
#: setting is process-wide (the fallback)
_pool: "_Workers | bool | None" = None


@contextlib.contextmanager
def single_torch_thread():
    """Run the body with torch's intra-op pool at one thread, process-wide and
    ref-counted (the fallback of :func:`run_single_threaded`; see the module docstring):
    the first scope in saves the caller's setting and sets 1, the last out restores it."""
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


class _Workers:
    """Daemon threads that run torch on one thread each, for good.

    Started in three steps, each waited for: every worker first reads torch's count
    (its first torch call, so it starts from the process default: that reads the
    default), then sets its own to 1 (which sets the default to 1 too); a short-lived
    thread then puts the default back, so the starting thread's own setting is never
    touched; last, every worker checks that it kept 1 (false where the setting is
    process-wide)."""

    def __init__(self, count: int):
        self.tasks: queue.SimpleQueue = queue.SimpleQueue()
        self.ids: set[int] = set()
        self.defaults: list[int] = []
        self.counts: list[int] = []
        steps = [[threading.Event() for _ in range(count)] for _ in range(3)]
        go = [threading.Event() for _ in range(2)]
        self.threads = [threading.Thread(target=self._serve, args=([e[i] for e in steps], go),
                                         name=f"lic-one-torch-thread-{i}", daemon=True)
                        for i in range(count)]
        for t in self.threads:
            t.start()
        for e in steps[0]:
            e.wait()
        go[0].set()
        for e in steps[1]:
            e.wait()
        default = max(self.defaults)
        restore = threading.Thread(target=torch.set_num_threads, args=(default,),
                                   name="lic-restore-torch-threads")
        restore.start()
        restore.join()
        go[1].set()
        for e in steps[2]:
            e.wait()
        #: whether each worker kept its one thread after the default was put back
        self.per_thread = all(c == 1 for c in self.counts)

    def _serve(self, steps, go):
        self.ids.add(threading.get_ident())
        self.defaults.append(torch.get_num_threads())
        steps[0].set()
        go[0].wait()
        torch.set_num_threads(1)
        steps[1].set()
        go[1].wait()
        self.counts.append(torch.get_num_threads())
        steps[2].set()
        while True:
            fn, args, kwargs, grad, inference, future = self.tasks.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                with torch.inference_mode(inference), torch.set_grad_enabled(grad):
                    result = fn(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                future.set_exception(exc)
            else:
                future.set_result(result)
            del fn, args, kwargs, future

    def run(self, fn, args, kwargs):
        future: Future = Future()
        self.tasks.put((fn, args, kwargs, torch.is_grad_enabled(),
                        torch.is_inference_mode_enabled(), future))
        return future.result()


def _workers():
    global _pool
    with _lock:
        if _pool is None:
            workers = _Workers(WORKERS)
            _pool = workers if workers.per_thread else False
        return _pool


def run_single_threaded(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` with torch on one intra-op thread, leaving every other
    thread's setting (the caller's included) and the process default as they are (see
    the module docstring); returns what ``fn`` returns, raises what it raises."""
    pool = _workers()
    if pool is False:
        with single_torch_thread():
            return fn(*args, **kwargs)
    if threading.get_ident() in pool.ids:  # already on a worker: already one thread
        return fn(*args, **kwargs)
    return pool.run(fn, args, kwargs)


def _forget_workers_after_fork():
    # threads do not survive fork: the child starts its own workers when it needs them
    global _pool, _lock, _active, _saved
    _pool, _lock, _active, _saved = None, threading.Lock(), 0, None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_workers_after_fork)
