"""Why SV-CMA-ES "collapsed" on ant: the first generations' repulsion step against sigma.

Particles are the RL runner's initial policies (Flax init x ``init_scale``); fitness is random
(ranking noise only), so every generation's CMA mean step has the length of a step under
random selection, ``sigma sqrt(d / mu_eff)``. Printed per generation: the mean particle step
size sigma, the median repulsion step ``|rep_i|`` and its ratio to ``sigma sqrt(d / mu_eff)``,
with the cap off (``repulsion_clip=inf``, the library default) and on (1, the config default).

    python experiments/repulsion_scale.py [--env ant --init-scale 0.1 --sigma 0.05]
"""

from __future__ import annotations

import argparse
import math
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", default="ant")
    ap.add_argument("--hidden", type=int, default=16)
    ap.add_argument("--particles", type=int, default=4)
    ap.add_argument("--offspring", type=int, default=16)
    ap.add_argument("--init-scale", type=float, default=0.1)
    ap.add_argument("--sigma", type=float, default=0.05)
    ap.add_argument("--alpha", type=float, default=16.0)
    ap.add_argument("--generations", type=int, default=6)
    args = ap.parse_args(argv)

    from policysearch import compile_cache

    compile_cache.enable()
    import jax
    import jax.numpy as jnp

    from policysearch.policy import MLPPolicy
    from policysearch.strategies import SVCMAES

    sizes = {"ant": (27, 8), "hopper": (11, 3), "walker2d": (17, 6), "halfcheetah": (17, 6), "mountaincar": (2, 1)}
    o, a = sizes[args.env]
    policy = MLPPolicy(o, a, False, (args.hidden,), action_low=(-1.0,) * a, action_high=(1.0,) * a)
    d = policy.num_params
    x0 = jax.vmap(policy.init_flat)(jax.random.split(jax.random.key(0), args.particles)) * args.init_scale
    print(f"{args.env}: d = {d}, rho = {args.particles}, m = {args.offspring}, init_scale = {args.init_scale}, "
          f"sigma_init = {args.sigma}, alpha = {args.alpha} (linear schedule, median x0.7)")
    for clip in (math.inf, 1.0):
        s = SVCMAES(args.particles, args.offspring, d)
        p = s.default_params.replace(alpha=args.alpha, sigma_init=args.sigma, repulsion_clip=clip,
                                     num_generations=40.0)
        st = s.init(None, x0, p)
        w = jnp.maximum(st.params.cma.weights, 0.0)
        mu_eff = float(jnp.sum(w) ** 2 / jnp.sum(w * w))
        key = jax.random.key(1)
        print(f"repulsion_clip = {clip}")
        for g in range(args.generations):
            key, k1, k2 = jax.random.split(key, 3)
            off, st2 = s.ask(k1, st)
            new = s.tell(off, jax.random.normal(k2, off.shape[:2]), st2)
            step = new.mean - st.mean  # driving + repulsion; the repulsion alone:
            h = float(new.bandwidth)
            y_drive = new.mean - st.mean
            neutral = float(jnp.mean(st.sigma)) * math.sqrt(d / mu_eff)
            from policysearch import kernels

            t = g / 40.0
            gamma = args.alpha * float(kernels.gamma_schedule("linear", t, 40.0))
            rep = (gamma / args.particles) * kernels.repulsion(st.mean, h)
            rep = kernels.clip_repulsion(rep, clip * st.sigma * math.sqrt(d / mu_eff))
            rep_norm = float(jnp.median(jnp.linalg.norm(rep, axis=-1)))
            dist = float(jnp.median(jnp.linalg.norm(st.mean[:, None] - st.mean[None], axis=-1)[jnp.triu_indices(args.particles, 1)]))
            print(f"  gen {g}: sigma {float(jnp.mean(st.sigma)):9.3g}  median pair distance {dist:8.3g}  h {h:8.3g}  "
                  f"|repulsion| {rep_norm:8.3g}  / sigma sqrt(d/mu_eff) {rep_norm / neutral:8.3g}  "
                  f"|step| {float(jnp.median(jnp.linalg.norm(y_drive, axis=-1))):8.3g}")
            st = new


if __name__ == "__main__":
    main()
