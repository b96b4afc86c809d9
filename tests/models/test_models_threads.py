"""single_torch_thread, the process-wide fallback of run_single_threaded (where torch's
thread setting is not per thread, lic_core.models.threads): the body runs on one torch
thread, and overlapping scopes in several Python threads put the caller's setting back
exactly once. The joint model's own loop and concurrent decodes: test_concurrent_decoding.py."""
import threading

import torch

from lic_core.models.threads import single_torch_thread


def test_the_body_runs_on_one_thread_and_the_setting_comes_back():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with single_torch_thread():
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_overlapping_scopes_keep_one_thread_until_the_last_leaves():
    # A enters, B enters, A leaves while B still runs: B must stay single-threaded, and
    # the caller's 2 threads come back only when B leaves (a save/restore per call gets
    # both wrong: B would run on 2 threads, and 1 would stick afterwards).
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def a():
        with single_torch_thread():
            a_in.set()
            b_in.wait(10)
        a_out.set()

    def b():
        a_in.wait(10)
        with single_torch_thread():
            b_in.set()
            a_out.wait(10)
            seen["b_after_a_left"] = torch.get_num_threads()

    try:
        threads = [threading.Thread(target=a), threading.Thread(target=b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        assert seen["b_after_a_left"] == 1
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_concurrent_joint_coding_gives_the_same_bytes_and_restores_the_thread_count():
    from lic_core.testing import tiny_model
    model = tiny_model("joint")
    torch.manual_seed(0)
    x = torch.rand(1, 3, 70, 90)
    with torch.inference_mode():
        expected = model.compress(x)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    results, errors = [], []

    def work():
        try:
            with torch.inference_mode():
                for _ in range(3):
                    data = model.compress(x)
                    model.decompress(data)
                    results.append(data)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    try:
        threads = [threading.Thread(target=work) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors
        assert len(results) == 9 and all(r == expected for r in results)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
