"""Concurrent decodes give the serial result (issue 21 point 23): the joint model's float
loop runs on one torch thread without switching any other thread's setting or the
process default (lic_core.models.threads), so g_s in every thread runs with the thread
count it would have alone. Before, 56 of 610 concurrent decodes differed by a level."""
import threading

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import lic_core  # noqa: E402
from lic_core import zoo  # noqa: E402
from lic_core.models import threads  # noqa: E402

THREADS = 4
ROUNDS = 3


@pytest.fixture(autouse=True)
def shipped_zoo(monkeypatch):
    monkeypatch.delenv("LIC_WEIGHTS_DIR", raising=False)


@pytest.fixture(scope="module")
def files():
    """A float-path joint model (zoo-v3: its files decode through the torch loop) and four
    small images' files with their serial decodes."""
    model = zoo.load("joint", 3, release="zoo-v3")
    assert model.integer is None
    rng = np.random.default_rng(23)
    out = []
    for k in range(THREADS):
        base = rng.integers(0, 256, (6, 8, 3)).astype(np.uint8)
        image = np.kron(base, np.ones((8, 8, 1), np.uint8))[:40 + k, :56]
        data = lic_core.compress(image, model)
        out.append((data, lic_core.decompress(data, model=model)))
    return model, out


def test_four_threads_sharing_a_joint_model_decode_what_one_thread_does(files):
    model, cases = files
    default = torch.get_num_threads()
    seen_counts, results, errors = set(), [], []
    record = model.g_s.register_forward_pre_hook(
        lambda module, args: seen_counts.add(torch.get_num_threads()))
    start = threading.Barrier(THREADS + 1)
    stop = threading.Event()
    fresh = []

    def decode(offset):
        try:
            torch.get_num_threads()  # this thread's torch starts from the process default
            start.wait()
            for r in range(ROUNDS):
                for k in range(len(cases)):
                    data, expected = cases[(k + offset + r) % len(cases)]
                    results.append(np.array_equal(lic_core.decompress(data, model=model), expected))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def probe():
        # threads that start while loops run must still start from the process default
        start.wait()
        while not stop.is_set():
            t = threading.Thread(target=lambda: fresh.append(torch.get_num_threads()))
            t.start()
            t.join()

    try:
        workers = [threading.Thread(target=decode, args=(i,)) for i in range(THREADS)]
        prober = threading.Thread(target=probe)
        for t in workers + [prober]:
            t.start()
        for t in workers:
            t.join(120)
        stop.set()
        prober.join(20)
    finally:
        record.remove()
    assert not errors, errors
    assert len(results) == THREADS * ROUNDS * len(cases) and all(results)
    assert seen_counts == {default}, "g_s ran with another thread count than the caller's"
    assert set(fresh) <= {default}
    assert torch.get_num_threads() == default


def test_the_loop_runs_on_one_torch_thread_and_hands_back_results_and_errors():
    caller = torch.get_num_threads()

    def inside(x):
        return torch.get_num_threads(), torch.is_grad_enabled(), torch.is_inference_mode_enabled(), x

    assert threads.run_single_threaded(inside, 5) == (1, True, False, 5)
    with torch.no_grad():
        assert threads.run_single_threaded(inside, 6)[1:3] == (False, False)
    with torch.inference_mode():
        assert threads.run_single_threaded(inside, 7)[2] is True
    assert torch.get_num_threads() == caller

    class Mine(Exception):
        pass

    def fail():
        raise Mine("from the loop")
    with pytest.raises(Mine, match="from the loop"):
        threads.run_single_threaded(fail)
