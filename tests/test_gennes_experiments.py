"""GENNES experiments: the GP against scikit-learn, EI against Monte Carlo, repeated L-BFGS-B, the
evosax adapter against evosax itself, and tiny end-to-end runs of experiments/gennes_table1.py
(--quick) and experiments/gennes_bo.py (--quick).

BLAS runs single-threaded here (threadpoolctl): multi-threaded OpenBLAS makes each small float64
Cholesky 100-1000x slower on a loaded 2-core machine (the experiment scripts set
OPENBLAS_NUM_THREADS=1 before numpy loads).
"""

import importlib.util
import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg  # noqa: F401 - load scipy's OpenBLAS before limiting its threads
from threadpoolctl import threadpool_limits

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:  # the experiments' shared code (experiments/gennes/) is not installed
    sys.path.insert(0, ROOT)

from experiments.gennes import gp, lbfgs  # noqa: E402

_BLAS = threadpool_limits(1)


def _load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "experiments", f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def _data(n=12, d=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, d))
    y = np.sin(6 * x).sum(1) + 0.05 * rng.standard_normal(n) + 3.0
    return x, y


def _sklearn(x, y, amp, ls, noise):
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    kernel = ConstantKernel(amp, "fixed") * Matern(ls, "fixed", nu=2.5) + WhiteKernel(noise, "fixed")
    return GaussianProcessRegressor(kernel, optimizer=None, normalize_y=True).fit(x, y)


def test_gp_posterior_and_likelihood_equal_sklearn_for_the_same_hyperparameters():
    x, y = _data()
    xs = np.random.default_rng(1).random((9, 3))
    amp, ls, noise = 1.7, np.array([0.3, 0.5, 1.2]), 0.02
    ref = _sklearn(x, y, amp, ls, noise)
    mean_ref, std_ref = ref.predict(xs, return_std=True)
    hyper = gp.GPHyper(np.log(amp), np.log(noise), np.log(ls))
    for capacity in (12, 40):  # exact fit and a padded buffer give the same posterior
        post = gp.posterior(gp.set_points(gp.empty_data(capacity, 3), x, y), hyper)
        mean, var = gp.predict(post, xs)  # predictive variance includes the noise (sklearn's WhiteKernel)
        np.testing.assert_allclose(mean, mean_ref, rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(var, std_ref**2, rtol=1e-8, atol=1e-12)
        lml = gp.log_marginal_likelihood(gp.set_points(gp.empty_data(capacity, 3), x, y), hyper)
        assert float(lml) == pytest.approx(ref.log_marginal_likelihood_value_, rel=1e-10)
    # the latent variance drops exactly the noise
    _, latent = gp.predict(post, xs, with_noise=False)
    np.testing.assert_allclose(var - latent, noise * np.var(y), rtol=1e-8)


def test_gp_fit_reaches_sklearns_maximum_likelihood():
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    x, y = _data(n=20, d=2, seed=3)
    kernel = ConstantKernel(1.0, (1e-2, 1e2)) * Matern([0.3, 0.3], (1e-3, 1e3), nu=2.5) \
        + WhiteKernel(1e-2, (1e-6, 10.0))
    ref = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=4, random_state=0).fit(x, y)
    data = gp.set_points(gp.empty_data(24, 2), x, y)
    hyper, lml = gp.fit(jax.random.key(0), data, restarts=2)
    assert lml >= ref.log_marginal_likelihood_value_ - 1e-3
    assert float(gp.log_marginal_likelihood(data, hyper)) == pytest.approx(lml, rel=1e-9)
    # and the optimum is a real one: sklearn's likelihood at our hyperparameters agrees
    theta = np.log(np.r_[np.exp(float(hyper.log_amp)), np.exp(np.asarray(hyper.log_ls)), np.exp(float(hyper.log_noise))])
    assert ref.log_marginal_likelihood(theta) == pytest.approx(lml, rel=1e-8)


def test_expected_improvement_equals_a_monte_carlo_estimate():
    x, y = _data()
    post = gp.posterior(gp.set_points(gp.empty_data(16, 3), x, y), gp.GPHyper(0.2, np.log(0.05), np.log([0.3, 0.4, 0.5])))
    rng = np.random.default_rng(5)
    pts = np.vstack([rng.random((4, 3)), x[:2] + 0.01])
    with jax.enable_x64(True):
        mu, var = map(np.asarray, gp._predict_normalised(post, jnp.asarray(pts)))
        ei = np.array([float(gp.expected_improvement(post, jnp.asarray(p), jitter=0.01)) for p in pts])
        grad = jax.grad(lambda p: gp.expected_improvement(post, p))(jnp.asarray(pts[0]))
        h = 1e-6
        fd = [(float(gp.expected_improvement(post, jnp.asarray(pts[0] + h * e)))
               - float(gp.expected_improvement(post, jnp.asarray(pts[0] - h * e)))) / (2 * h) for e in np.eye(3)]
        grad = np.asarray(grad)
        f_min = float(post.f_min)
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-9)
    z = rng.standard_normal(400_000)
    for k in range(len(pts)):
        samples = np.maximum(f_min - 0.01 - (float(mu[k]) + np.sqrt(float(var[k])) * z), 0.0)
        se = samples.std() / np.sqrt(len(z))
        assert abs(ei[k] - samples.mean()) <= 4 * se + 1e-12, (k, ei[k], samples.mean(), se)
    assert ei.max() > 1e-3  # the points are not all trivially zero
    # the incumbent is GPyOpt's: the smallest posterior mean at the observed points
    with jax.enable_x64(True):
        mu_obs = np.asarray(gp._predict_normalised(post, jnp.asarray(x))[0])
        f_min = float(post.f_min)
    assert f_min == pytest.approx(float(np.min(mu_obs)))


def test_repeated_lbfgs_counts_evaluations_and_finds_the_global_well():
    calls = []

    def fun(x):  # two wells, the global one at x = +2 (f = -1), the local one at -2 (f = 0)
        calls.append(1)
        f = np.sum((x**2 - 4.0) ** 2) / 16.0 - 0.5 * np.tanh(x).sum() / len(x) - 0.5 + 0.5 * np.tanh(2.0)
        g = x * (x**2 - 4.0) / 4.0 - 0.5 * (1 - np.tanh(x) ** 2) / len(x)
        return f, g

    res = lbfgs.budgeted(fun, -3.0, 3.0, 500, np.random.default_rng(0), dim=2)
    assert res["best"].shape == (500,) and np.all(np.diff(res["best"]) <= 0)
    assert len(calls) >= 500 and res["runs"] > 1
    assert np.all(np.abs(res["best_x"] - 2.0) < 0.05)
    calls.clear()
    out = lbfgs.multistart(fun, -3.0, 3.0, 8, np.random.default_rng(1), dim=2)
    assert out["nfev"] == len(calls) and np.all(np.abs(out["x"] - 2.0) < 0.02)


@pytest.fixture(scope="module")
def table1():
    return _load("gennes_table1")


def test_evosax_adapter_gives_evosax_numbers(table1):
    from evosax.algorithms import SNES

    dim, key = 3, jax.random.key(4)
    s = table1.EvosaxStrategy("SNES", 20, dim)
    params = s.default_params.replace(std_init=1.5)
    x0 = jnp.array([[0.5, -1.0, 2.0]])
    sphere = lambda x: jnp.sum(x**2, -1)  # noqa: E731
    st = s.init(key, x0, params)
    es = SNES(population_size=20, solution=jnp.zeros(dim))
    ref = es.init(key, x0[0], params)
    for k in jax.random.split(jax.random.key(9), 5):
        x, st = s.ask(k, st)
        st = s.tell(x, sphere(x), st)
        xr, ref = es.ask(k, ref, params)
        ref, _ = es.tell(k, xr, sphere(xr), ref, params)
    np.testing.assert_array_equal(np.asarray(s.means(st)[0]), np.asarray(ref.mean))
    assert float(st.best_fitness) == float(ref.best_fitness)


def test_table1_quick_end_to_end(table1, tmp_path):
    out = tmp_path / "t1"
    rc = table1.main(["--quick", "--functions", "rastrigin", "--dims", "2", "--evaluations", "200",
                      "--methods", "gennes,lbfgs,snes,acma_es", "--out", str(out), "--figures", str(out / "fig")])
    assert rc == 0
    md = (out / "table1.md").read_text()
    for label in ("GENNES", "L-BFGS", "sNES", "aCMA-ES"):
        assert f"| Rastrigin-2 | {label} |" in md
    assert (out / "fig" / "table1_regret.png").stat().st_size > 1000
    recs = {m: json.loads((out / "runs" / "rastrigin-2" / f"{m}.json").read_text())
            for m in ("gennes", "lbfgs", "snes", "acma_es")}
    for m, rec in recs.items():
        r = np.asarray(rec["regret_at"]["100"])
        assert r.shape == (2,) and np.all(r >= 0) and np.all(np.isfinite(r)), m
        curve = np.asarray(rec["curve"]["per_fold"])
        assert np.all(np.diff(curve, axis=1) <= 1e-9), m  # best so far never gets worse
    assert recs["lbfgs"]["float64"] and not recs["gennes"]["float64"]
    assert recs["gennes"]["init"] == "center" and recs["acma_es"]["init"] == "uniform"
    assert recs["gennes"]["settings"]["anneal"] == "budget"   # the optimize default
    # a second invocation reuses every finished run made with today's settings, reruns the others
    # (here a GENNES run saved with another anneal) and adds an annealing variant to the table
    stale = {**recs["gennes"], "settings": {**recs["gennes"]["settings"], "anneal": 0.5}}
    (out / "runs" / "rastrigin-2" / "gennes.json").write_text(json.dumps(stale))
    assert table1.main(["--quick", "--functions", "rastrigin", "--dims", "2", "--evaluations", "200",
                        "--methods", "lbfgs,gennes,gennes@0.9", "--out", str(out), "--figures",
                        str(out / "fig")]) == 0
    assert json.loads((out / "runs" / "rastrigin-2" / "lbfgs.json").read_text()) == recs["lbfgs"]
    rerun = json.loads((out / "runs" / "rastrigin-2" / "gennes.json").read_text())
    assert rerun["settings"] == recs["gennes"]["settings"] and rerun["regret_at"] == recs["gennes"]["regret_at"]
    variant = json.loads((out / "runs" / "rastrigin-2" / "gennes@0.9.json").read_text())
    assert variant["settings"]["anneal"] == 0.9 and variant["regret_at"] != recs["gennes"]["regret_at"]
    md = (out / "table1.md").read_text()
    assert "| Rastrigin-2 | sNES |" in md and "| Rastrigin-2 | GENNES (anneal 0.9) |" in md
    ranks = json.loads((out / "table1.json").read_text())["mean_rank"]   # 5 methods on 1 problem
    assert sorted(r[0] for r in ranks.values()) == [1, 2, 3, 4, 5] and "Mean rank" in md
    assert (out / "fig" / "table1_regret_anneal.png").stat().st_size > 1000


def test_bo_quick_end_to_end(tmp_path):
    bo = _load("gennes_bo")
    out = tmp_path / "bo"
    assert bo.main(["--quick", "--out", str(out), "--figures", str(out / "fig")]) == 0
    task = bo.QUICK_TASK
    for m in bo.METHODS:
        rec = json.loads((out / "runs" / task.name / f"{m}_fold0.json").read_text())
        rows = rec["rows"]
        assert len(rows) == 3
        best = [r["best"] for r in rows]
        assert np.all(np.diff(best) <= 0) and best[0] <= rec["init_best"]
        assert all(r["ei"] >= 0 and np.isfinite(r["y"]) for r in rows)
        if m == "gennes":
            assert all(r["queries"] == bo.GENNES_POPULATION * task.gennes_iterations for r in rows)
        else:
            assert all(r["queries"] >= task.lbfgs_starts for r in rows)
    assert "| GENNES (N = 10) |" in (out / "bo.md").read_text()


@pytest.mark.parametrize("script,argv,needle", [
    ("gennes_table1", ["--methods", "gennes,nope"], "unknown method 'nope'"),
    ("gennes_table1", ["--methods", "gennes@fast"], "strategy.anneal='fast' is invalid"),
    ("gennes_table1", ["--dims", "0"], "unknown dimension '0'"),
    ("gennes_table1", ["--functions", "step"], "unknown function 'step'"),
    ("gennes_bo", ["--tasks", "mnist"], "unknown task 'mnist'"),
    ("gennes_bo", ["--steps", "0"], "--steps=0 is invalid"),
])
def test_bad_input_is_one_error_line(script, argv, needle, capsys):
    mod = _load(script)
    with pytest.raises(SystemExit) as exc:
        mod.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and needle in err and "\n" not in err
