"""BTGM vs rejection sampling for p's top rho fraction: cost ratio at rho = 1e-2, 1e-3, 1e-4.

    python benchmarks/btgm_rejection.py               # energy case, f = weekly peak (~6 min)
    python benchmarks/btgm_rejection.py --quick       # smoke run
    python benchmarks/btgm_rejection.py --criterion wednesday

The paper calls BTGM "an affordable alternative to rejection sampling" (abstract, section 4.3).
Both are measured here in the same run, on the energy VAE p (SYNTHETIC curves) in latent space:

* rejection: keep the best N of N / rho draws of p (policysearch.btgm.cases.rejection): cost
  = N / rho draws (sample z, decode, evaluate f), compiled once for all rho (a warm-up run);
* BTGM: beta search to C_D = -log rho (find_beta, warm-started flows; the tuner is compiled
  before timing), then N draws of q_beta (flow, decode, f).

Reported per rho: wall-clock seconds of each for N accepted samples, their ratio, the p-draws
each consumed (BTGM's training draws each carry a forward and a backward pass), the crossover
N* = T_train / (T_rej / N - c_q) beyond which BTGM is cheaper (T_rej / N: rejection's measured
seconds per accepted sample in the same row, c_q: seconds per draw of q_beta), and what each
set contains: E f, f quantiles and the fraction of q_beta's
samples above the top-rho threshold (q_beta is a soft tilt with the same KL, not a truncation).
Absolute seconds depend on the machine and its load; the ratios are the result.
"""

from __future__ import annotations

import math
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def main(argv=None):
    from policysearch.btgm.cases import study

    def extra(ap):
        ap.add_argument("--criterion", default="peak")
        ap.add_argument("--rhos", default="1e-2,1e-3,1e-4")
        ap.add_argument("--n-accept", type=int, default=1000)

    args, log = study.experiment_setup(__doc__, "experiments_out/btgm_rejection", argv, extra)
    q = args.quick
    try:
        rhos = [float(r) for r in args.rhos.split(",") if r]
    except ValueError:
        rhos = [float("nan")]
    if not rhos or not all(0 < r < 1 for r in rhos) or args.n_accept < 1:
        print(f"error: --rhos must be numbers in (0, 1) and --n-accept >= 1, got "
              f"{args.rhos!r}, {args.n_accept}", file=sys.stderr)
        return 2

    import jax
    import numpy as np

    from policysearch.btgm.cases import energy, rejection
    from policysearch.btgm.search import find_beta
    from policysearch.btgm.tuning import tune

    if args.criterion not in energy.CRITERIA or args.criterion == "hours_above":
        print(f"error: --criterion {args.criterion!r} is invalid; allowed: "
              f"{', '.join(c for c in energy.CRITERIA if c != 'hours_above')}", file=sys.stderr)
        return 2
    key = jax.random.key(args.seed)
    vae = energy.vae()
    prob = study.latent_problem(jax.random.fold_in(key, 1), vae.decode, vae.latent_dim,
                                energy.criterion(args.criterion), n_normalise=20000)
    n_acc = 100 if q else args.n_accept
    chunk = 10000 if q else 50000
    steps_first, steps, batch, evn = (250, 250, 256, 2048) if q else (1500, 750, 256, 8192)
    tune_kw = dict(batch=batch, eval_samples=evn, chunk=250)

    # warm-up: compile the rejection loop, the tuner and the q sampler; then p's throughput
    rejection.top_fraction(jax.random.fold_in(key, 2), prob.base, prob.f, 1.0,
                           n_accept=n_acc, chunk=chunk)
    warm = tune(jax.random.fold_in(key, 3), prob.base, prob.f, 0.5, steps=250, **tune_kw)
    sample_q = jax.jit(lambda k, t=warm: prob.f(warm.tuner._sample(*t._parts(), k, n_acc)[1]))
    jax.block_until_ready(sample_q(key))
    n_thr = 4 if q else 20
    t0 = time.perf_counter()
    rejection.top_fraction(jax.random.fold_in(key, 4), prob.base, prob.f,
                           n_acc / (n_thr * chunk), n_accept=n_acc, chunk=chunk)
    c_p = (time.perf_counter() - t0) / (n_thr * chunk)
    log(f"p: {1 / c_p:,.0f} draws/s (z, decode, f)")

    rows = []
    for i, rho in enumerate(rhos):
        c_d = -math.log(rho)
        t0 = time.perf_counter()
        rej = rejection.top_fraction(jax.random.fold_in(key, 10 + i), prob.base, prob.f, rho,
                                     n_accept=n_acc, chunk=chunk)
        t_rej = time.perf_counter() - t0
        t0 = time.perf_counter()
        beta, tuned, hist = find_beta(jax.random.fold_in(key, 20 + i), prob.base, prob.f,
                                      target_kl=c_d, steps=steps, steps_first=steps_first,
                                      max_iter=3 if q else 8, **tune_kw)
        t_train = time.perf_counter() - t0
        kq = jax.random.fold_in(key, 30 + i)
        sample_q = jax.jit(lambda k, t=tuned: tuned.tuner._sample(*t._parts(), k, n_acc)[1])
        jax.block_until_ready(prob.f(sample_q(kq)))           # compile outside the timing
        t0 = time.perf_counter()
        zq = jax.block_until_ready(sample_q(kq))
        fq = np.asarray(jax.block_until_ready(prob.f(zq)))
        t_q = time.perf_counter() - t0
        c_q = t_q / n_acc
        train_steps = sum(steps_first if j == 0 else steps for j in range(len(hist)))
        train_draws = train_steps * batch + len(hist) * evn + 20000     # + find_beta's n_theory
        per_acc = t_rej / n_acc                  # rejection's measured seconds per sample
        cross = t_train / (per_acc - c_q) if per_acc > c_q else math.inf
        fr = np.asarray(rej["f"])
        raw = prob.raw_of_normalised
        row = {"rho": rho, "target_kl": c_d, "n_accept": n_acc,
               "rejection_s": t_rej, "rejection_draws": rej["draws"],
               "btgm_train_s": t_train, "btgm_sample_s": t_q, "btgm_s": t_train + t_q,
               "btgm_train_draws": train_draws, "train_steps": train_steps,
               "ratio_rej_over_btgm": t_rej / (t_train + t_q),
               "crossover_n": cross, "beta": beta, "iterations": len(hist),
               "converged": hist[-1]["converged"], "kl": tuned.estimates["kl"],
               "gap": tuned.estimates["gap"],
               "mean_f_rej": float(raw(fr.mean())), "mean_f_q": float(raw(fq.mean())),
               "threshold": float(raw(rej["threshold"])),
               "q_above_threshold": float(np.mean(fq >= rej["threshold"])),
               "f_q_quantiles": raw(np.quantile(fq, [0.05, 0.5, 0.95])).tolist(),
               "f_rej_quantiles": raw(np.quantile(fr, [0.05, 0.5, 0.95])).tolist()}
        rows.append(row)
        log(f"rho={rho:g}: rejection {t_rej:.1f}s ({rej['draws']:,} draws) | BTGM "
              f"{t_train:.1f}s train ({len(hist)} it, beta {beta:.3f}, KL "
              f"{row['kl']:.2f}/{c_d:.2f}) + {t_q:.3f}s sampling | ratio "
              f"{row['ratio_rej_over_btgm']:.3g} | crossover N* = {cross:,.0f} | "
              f"above threshold {100 * row['q_above_threshold']:.0f} %")

    res = {"criterion": args.criterion, "p_draws_per_s": 1 / c_p, "rows": rows,
           "note": study.SYNTHETIC_NOTE, "quick": q}
    study.write_results(args.out, res, _markdown(res), stem=f"results_{args.criterion}")
    return 0


def _markdown(res) -> str:
    lines = [f"Energy VAE p (SYNTHETIC curves), f = {res['criterion']} (kW), latent space; "
             f"p throughput {res['p_draws_per_s']:,.0f} draws/s (z, decode, f).", "",
             "| rho | C_D | N | rejection: p-draws / s | BTGM: training p-draws (fwd+bwd) / "
             "train s + sample s | ratio rejection / BTGM: draws, time | crossover N* | "
             "beta (it) | KL tuned | E f top-rho / q_beta | q_beta above threshold | "
             "f q_beta 5/50/95 % | f top-rho 5/50/95 % |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in res["rows"]:
        lines.append(
            f"| {r['rho']:g} | {r['target_kl']:.2f} | {r['n_accept']} | "
            f"{r['rejection_draws']:,} / {r['rejection_s']:.1f} | "
            f"{r['btgm_train_draws']:,} / {r['btgm_train_s']:.1f} + {r['btgm_sample_s']:.3f} | "
            f"{r['rejection_draws'] / r['btgm_train_draws']:.3g}, "
            f"{r['ratio_rej_over_btgm']:.3g} | {r['crossover_n']:,.0f} | "
            f"{r['beta']:.2f} ({r['iterations']}) | {r['kl']:.2f} | {r['mean_f_rej']:.2f} / "
            f"{r['mean_f_q']:.2f} | {100 * r['q_above_threshold']:.0f} % | "
            + " ".join(f"{v:.1f}" for v in r["f_q_quantiles"]) + " | "
            + " ".join(f"{v:.1f}" for v in r["f_rej_quantiles"]) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
