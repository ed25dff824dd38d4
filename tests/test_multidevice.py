"""Multi-device runs (4 forced host devices) equal the single-device run for the same seeds."""

import json
import os

import numpy as np
import pytest

from helpers import TINY, cli

ARGS = [o for o in TINY if not o.startswith("seeds=")]


def _metrics(run_dir):
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


def _run(out, seeds, devices):
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
    r = cli("policysearch.train", ARGS + [f"seeds={seeds}", f"out_dir={out}"], env=env)
    assert r.returncode == 0, r.stderr
    return r.stderr


@pytest.mark.parametrize("seeds, layout", [(4, "seeds"), (2, "population")])
def test_four_devices_equal_one_device(tmp_path, seeds, layout):
    _run(tmp_path / "one", seeds, 1)
    log = _run(tmp_path / "four", seeds, 4)
    assert f"devices: 4 x cpu, sharding: {layout}" in log
    one, four = _metrics(tmp_path / "one"), _metrics(tmp_path / "four")
    assert [(r["seed"], r["generation"]) for r in one] == [(r["seed"], r["generation"]) for r in four]
    for a, b in zip(one, four):
        for k in ("best_return", "mean_return", "best_so_far", "sigma_mean", "diversity_mean_pairwise"):
            np.testing.assert_allclose(a[k], b[k], rtol=1e-4, atol=1e-4, err_msg=k)
    for s in range(seeds):
        pa = np.load(tmp_path / "one" / "policies" / f"seed_{s}.npz")["particles"]
        pb = np.load(tmp_path / "four" / "policies" / f"seed_{s}.npz")["particles"]
        np.testing.assert_allclose(pa, pb, rtol=1e-4, atol=1e-4)
