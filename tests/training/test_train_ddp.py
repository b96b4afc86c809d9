"""Data-parallel training: ``torchrun --nproc_per_node 2`` runs ``lic train``
(lic_core.cli.train) unchanged on CPU (gloo), and the replicas stay bit-identical."""
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from lic_core import zoo


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("arch,rate", [("factorized", ["--quality", "2"]),
                                       ("hyperprior", ["--qualities", "2,7"])],
                         ids=["one-quality", "variable-rate"])
def test_two_cpu_processes_train_in_lockstep_and_export(tmp_path, arch, rate):
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        img = rng.integers(0, 256, (72, 80, 3), dtype=np.uint8)
        Image.fromarray(img).save(data / f"{i}.png")
    # a variable-rate run writes one file per quality: --out names them with {q}
    out = tmp_path / (f"{arch}-q{{q}}.safetensors" if "--qualities" in rate else f"{arch}-q2.safetensors")
    log = tmp_path / "log.jsonl"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_addr", "127.0.0.1", "--master_port", str(_free_port()),
           "-m", "lic_core.cli.train", "--arch", arch, *rate, "--N", "8", "--M", "8",
           "--data", str(data), "--no-val", "--crop", "64", "--batch", "2", "--steps", "3",
           "--warmup", "1", "--threads", "1", "--quiet", "--out", str(out), "--log-file", str(log)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = [json.loads(line) for line in log.read_text().splitlines()]
    sync = [r for r in records if "replicas_identical" in r]
    assert sync and sync[-1]["replicas_identical"] is True and sync[-1]["world_size"] == 2
    meta = zoo.read_metadata(str(out).replace("{q}", "2"))
    assert meta["world_size"] == "2" and meta["batch"] == "4" and meta["steps"] == "3"
