"""GENNES initial output spread: the paper's eq. 9, the authors' constants and the project's init.

For freshly initialised generators (5 x 128 leaky ReLU 0.2, Glorot hidden weights, u ~ U(-2, 2)^p
with p = d) it measures the pre-tanh output's spread over the noise (rms over generators of the
per-generator std), its offset (rms of the mean over u, i.e. how far the initial distribution's
centre sits from G(0)) and the total second moment, for three output-layer scales:

* ``authors``: truncated normal "std 1.0" (actual std 0.88), the authors' code;
* ``paper eq. 9``: lambda^2 = beta^2 / (nu^2 h 0.3^n) for beta = 1;
* ``project``: policysearch.strategies.gennes, init_spread beta = 1 (lambda measured on 512 noise
  draws at init).

    python experiments/gennes_init_spread.py [--dims 10 30 100] [--generators 64]
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from policysearch.cli import ArgumentParser
from policysearch.strategies import GENNES
from policysearch.strategies.gennes import _TRUNC_STD, hidden_apply


def stats(theta, u):
    def pre(th, uu):
        w, b = th[-1]
        return hidden_apply(th[:-1], uu) @ w + b

    z = np.asarray(jax.vmap(pre)(theta, u), np.float64)         # [R, n, d]
    spread = math.sqrt(np.var(z, axis=1).mean())
    offset = math.sqrt(((z.mean(axis=1) - np.asarray(theta[-1][1])[:, None, :][:, 0]) ** 2).mean())
    total = math.sqrt(((z - np.asarray(theta[-1][1])[:, None, :]) ** 2).mean())
    return spread, offset, total


def main(argv=None):
    ap = ArgumentParser(prog="experiments/gennes_init_spread.py", description=__doc__.splitlines()[0])
    ap.add_argument("--dims", type=int, nargs="+", default=[10, 30, 100])
    ap.add_argument("--generators", type=int, default=64)
    ap.add_argument("--noise", type=int, default=2000, help="noise draws per generator")
    a = ap.parse_args(argv)
    if min(a.dims) < 1 or a.generators < 2 or a.noise < 2:
        ap.error("--dims must be >= 1, --generators and --noise >= 2")
    a0, h, n = 2.0, 128, 5
    print("| d | output scale | lambda | spread over u | offset of the mean | total |")
    print("|---|---|---|---|---|---|")
    for d in a.dims:
        s = GENNES(num_particles=a.generators, pop_size=1, dim=d)
        p = s.default_params.replace(lower=-1.0, upper=1.0)
        st = s.init(jax.random.key(0), jnp.zeros((a.generators, d)), p)
        u = jax.random.uniform(jax.random.key(1), (a.generators, a.noise, d), minval=-a0, maxval=a0)
        lam_paper = 1.0 / math.sqrt(a0**2 / 3 * h * 0.3**n)
        lam_project = float(np.sqrt(np.mean(np.square(np.asarray(st.theta[-1][0])))))
        for label, lam in (("authors (trunc. normal 1.0)", _TRUNC_STD), ("paper eq. 9, beta = 1", lam_paper),
                           ("project, init_spread = 1", None)):
            theta = st.theta
            if lam is not None:   # same hidden weights and output directions, rescaled
                w = st.theta[-1][0]
                scale = lam / jnp.sqrt(jnp.mean(jnp.square(w), axis=(1, 2), keepdims=True))
                theta = st.theta[:-1] + [(w * scale, st.theta[-1][1])]
            sp, off, tot = stats(theta, u)
            shown = lam if lam is not None else lam_project
            print(f"| {d} | {label} | {shown:.3f} | {sp:.3f} | {off:.3f} | {tot:.3f} |")


if __name__ == "__main__":
    main()
