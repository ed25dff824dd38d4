"""Mode coverage on a 2-D mixture of 4 unit-variance Gaussians at (±3, ±3).

Setting (fixed by the issue): minimise f(x) = -log p(x); particles start N(0, I) (one draw per
seed); 8 particles x 8 offspring; initial sigma 1; 200 generations; 50 seeds. A seed "covers all
modes" when each of the 4 modes is the nearest mode of at least one final particle mean. Also
reported: mean distance of particle means to their nearest mode (over particles and seeds).

Every method runs as one compiled program: lax.scan over generations, vmap over seeds.

    python experiments/gmm_coverage.py                 # the table for RESULTS.md (seeds 0..49)
    python experiments/gmm_coverage.py --sweep         # default selection sweep on held-out seeds
    python experiments/gmm_coverage.py --seeds 50 --generations 200 --seed-offset 0

Budget: SV-CMA-ES / CMA-ES / SVGD-es evaluate 8 x 8 points per generation; SVGD-autodiff
evaluates 8 gradients per generation (it needs the analytic gradient, the others do not).
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from policysearch.strategies import make

MODES = jnp.array([[3.0, 3.0], [3.0, -3.0], [-3.0, 3.0], [-3.0, -3.0]], dtype=jnp.float32)
NUM_PARTICLES = 8
POP_SIZE = 8
DIM = 2
SIGMA_INIT = 1.0


def neg_log_p(x: jax.Array) -> jax.Array:
    """f(x) = -log p(x) for x [..., 2] (equal weights, unit covariance; constants kept)."""
    sq = jnp.sum(jnp.square(x[..., None, :] - MODES), axis=-1)
    return -(jax.scipy.special.logsumexp(-0.5 * sq, axis=-1) - jnp.log(4.0) - jnp.log(2 * jnp.pi))


def coverage(means: np.ndarray) -> tuple[int, float, np.ndarray]:
    """means [seeds, particles, 2] -> (#seeds covering all 4 modes, mean nearest-mode distance, per-seed #modes)."""
    d = np.linalg.norm(means[:, :, None, :] - np.asarray(MODES)[None, None], axis=-1)  # [S, P, 4]
    nearest = d.argmin(-1)
    modes_hit = np.array([len(set(row.tolist())) for row in nearest])
    return int((modes_hit == 4).sum()), float(d.min(-1).mean()), modes_hit


def initial_particles(seed_keys: jax.Array) -> jax.Array:
    return jax.vmap(lambda k: jax.random.normal(jax.random.fold_in(k, 0), (NUM_PARTICLES, DIM)))(seed_keys)


def run_ours(strategy, params, seed_keys: jax.Array, generations: int) -> np.ndarray:
    x0 = initial_particles(seed_keys)

    def one_seed(key, x0):
        state = strategy.init(key, x0, params)

        def step(state, k):
            off, state = strategy.ask(k, state)
            state = strategy.tell(off, neg_log_p(off), state)
            return state, None

        keys = jax.random.split(jax.random.fold_in(key, 1), generations)
        state, _ = jax.lax.scan(step, state, keys)
        return strategy.means(state)

    return np.asarray(jax.jit(jax.vmap(one_seed))(seed_keys, x0))


def run_evosax(seed_keys: jax.Array, generations: int, alpha: float = 1.0, kernel_std: float = 1.0) -> np.ndarray:
    from evosax.algorithms import SV_CMA_ES

    es = SV_CMA_ES(population_size=POP_SIZE, num_populations=NUM_PARTICLES, solution=jnp.zeros(DIM))
    ep = es.default_params.replace(std_init=SIGMA_INIT, alpha=alpha, kernel_std=kernel_std)
    x0 = initial_particles(seed_keys)

    def one_seed(key, x0):
        state = es.init(key, x0, ep)

        def step(state, k):
            k1, k2 = jax.random.split(k)
            pop, state = es.ask(k1, state, ep)
            state, _ = es.tell(k2, pop, neg_log_p(pop), state, ep)
            return state, None

        keys = jax.random.split(jax.random.fold_in(key, 1), generations)
        state, _ = jax.lax.scan(step, state, keys)
        return state.mean

    return np.asarray(jax.jit(jax.vmap(one_seed))(seed_keys, x0))


def sv_cma_es(generations, schedule=None, bandwidth=None, alpha=None, kernel_std=None, bandwidth_scale=None):
    static = {}
    if schedule is not None:
        static["schedule"] = schedule
    if bandwidth is not None:
        static["bandwidth"] = bandwidth
    s = make("sv_cma_es", NUM_PARTICLES, POP_SIZE, DIM, **static)
    p = s.default_params.replace(sigma_init=SIGMA_INIT, num_generations=float(generations))
    if alpha is not None:
        p = p.replace(alpha=alpha)
    if kernel_std is not None:
        p = p.replace(kernel_std=kernel_std)
    if bandwidth_scale is not None:
        p = p.replace(bandwidth_scale=bandwidth_scale)
    return s, p


def methods(generations: int):
    """name -> callable(seed_keys) -> final means [S, P, 2]."""
    g = generations
    s_def, p_def = sv_cma_es(g)
    mp = make("mp_cma_es", NUM_PARTICLES, POP_SIZE, DIM)
    p_mp = mp.default_params.replace(sigma_init=SIGMA_INIT)
    sv_auto = make("svgd", NUM_PARTICLES, 1, DIM, source="autodiff", objective=neg_log_p)
    sv_es = make("svgd", NUM_PARTICLES, POP_SIZE, DIM, source="es")
    sv_gf = make("svgd", NUM_PARTICLES, 1, DIM, source="surrogate")
    return {
        "SV-CMA-ES (ours, defaults: linear, median x0.7, alpha=16)": lambda k: run_ours(s_def, p_def, k, g),
        "SV-CMA-ES (ours) linear, median x1 (Liu & Wang), alpha=16": lambda k: run_ours(
            *sv_cma_es(g, bandwidth_scale=1.0), k, g
        ),
        "evosax SV_CMA_ES (defaults: alpha=1, kernel_std=1)": lambda k: run_evosax(k, g),
        "evosax SV_CMA_ES alpha=0": lambda k: run_evosax(k, g, alpha=0.0),
        "MP-CMA-ES (ours, gamma=0)": lambda k: run_ours(mp, p_mp, k, g),
        "SV-CMA-ES (ours) constant, fixed h=1, alpha=1 (evosax's setting)": lambda k: run_ours(
            *sv_cma_es(g, "constant", "fixed", 1.0, 1.0), k, g
        ),
        "SV-CMA-ES (ours) log, median x1, alpha=4": lambda k: run_ours(
            *sv_cma_es(g, "log", "median", 4.0, bandwidth_scale=1.0), k, g
        ),
        "SV-CMA-ES (ours) constant, median x1, alpha=8": lambda k: run_ours(
            *sv_cma_es(g, "constant", "median", 8.0, bandwidth_scale=1.0), k, g
        ),
        "SVGD autodiff (defaults: adagrad-momentum, lr=0.1)": lambda k: run_ours(
            sv_auto, sv_auto.default_params, k, g
        ),
        "SVGD es (defaults: sigma=1, lr=0.1)": lambda k: run_ours(sv_es, sv_es.default_params, k, g),
        "SVGD es (sigma=1, lr=1)": lambda k: run_ours(sv_es, sv_es.default_params.replace(learning_rate=1.0), k, g),
        "SVGD surrogate / GF-SVGD (defaults)": lambda k: run_ours(sv_gf, sv_gf.default_params, k, g),
    }


def sweep(seed_keys, generations):
    """The selection sweep behind the SV-CMA-ES defaults (run on held-out seeds)."""
    configs = [(sch, "median", a, 1.0) for sch in ("constant", "inverse", "log", "linear") for a in (1.0, 2.0, 4.0, 8.0, 16.0)]
    configs += [(sch, "fixed", a, 1.0) for sch in ("constant", "log", "linear") for a in (1.0, 4.0)]
    configs += [(sch, "median", a, 0.7) for sch in ("constant", "inverse", "log") for a in (2.0, 4.0, 8.0)]
    configs += [("linear", "median", a, c) for c in (0.5, 0.6, 0.7, 0.8, 1.0) for a in (8.0, 12.0, 16.0, 24.0)]
    configs = list(dict.fromkeys(configs))
    rows = []
    for schedule, bw, alpha, scale in configs:
        s, p = sv_cma_es(generations, schedule, bw, alpha, 1.0, scale)
        t0 = time.perf_counter()
        means = run_ours(s, p, seed_keys, generations)
        n, dist, _ = coverage(means)
        rows.append((n, -dist, schedule, bw, alpha, scale))
        scale_s = f"{scale:g}" if bw == "median" else "-"
        print(f"| {schedule} | {bw} | {scale_s} | {alpha:g} | {n}/{len(seed_keys)} | {dist:.3f} | {time.perf_counter() - t0:.1f} |",
              flush=True)
    rows.sort(reverse=True)
    print("best (coverage, -distance, schedule, bandwidth, alpha, bandwidth_scale):", rows[:5])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=50)
    ap.add_argument("--seed-offset", type=int, default=0)
    ap.add_argument("--generations", type=int, default=200)
    ap.add_argument("--sweep", action="store_true", help="selection sweep (use held-out seeds, e.g. --seed-offset 1000)")
    args = ap.parse_args()
    seed_keys = jax.vmap(jax.random.key)(jnp.arange(args.seed_offset, args.seed_offset + args.seeds))
    print(f"# jax {jax.__version__} on {jax.devices()[0].platform}; seeds {args.seed_offset}..{args.seed_offset + args.seeds - 1}; "
          f"{args.generations} generations; {NUM_PARTICLES} particles x {POP_SIZE} offspring; sigma_init {SIGMA_INIT}")
    if args.sweep:
        print("| schedule | bandwidth | bandwidth_scale | alpha | seeds covering all 4 modes | mean distance to nearest mode | time (s) |")
        print("|---|---|---|---|---|---|---|")
        sweep(seed_keys, args.generations)
        return
    print(f"| method | seeds covering all 4 modes | mean distance to nearest mode | time (s) |")
    print(f"|---|---|---|---|")
    for name, fn in methods(args.generations).items():
        t0 = time.perf_counter()
        means = fn(seed_keys)
        n, dist, _ = coverage(means)
        print(f"| {name} | {n}/{args.seeds} | {dist:.3f} | {time.perf_counter() - t0:.1f} |", flush=True)


if __name__ == "__main__":
    main()
