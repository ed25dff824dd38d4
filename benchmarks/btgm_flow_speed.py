"""BTGM flow tuning: steps/s of our lax.scan training vs flowjax's own fit loop, same loss.

Both sides optimise exactly the same function - ``Tuner.make_loss`` (eq. 9 on a fresh batch
of p per step) - with the same optax optimiser (clip + Adam) from the same identity flow:

* ours: ``Tuner._train`` = ``chunk`` Adam steps inside one ``lax.scan`` (one host sync per
  chunk);
* flowjax 19.1.2: ``flowjax.train.fit_to_key_based_loss`` (a Python loop, one jitted step
  and one ``loss.item()`` host sync per step).

Compile / warm-up excluded on both sides (each runs once before timing); best of ``--reps``.
Prints steps/s of both and their ratio measured in the same run (the machine may be loaded:
compare ratios, not absolute numbers).

    python benchmarks/btgm_flow_speed.py
    python benchmarks/btgm_flow_speed.py --cases 2,2,16 16,4,32 --steps 500 --reps 3
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np


def run_case(dim: int, layers: int, width: int, steps: int, batch: int, reps: int) -> dict:
    from flowjax.train import fit_to_key_based_loss

    from policysearch.btgm import FlowConfig, StandardNormal, TuneConfig, get_tuner
    from policysearch.btgm.flows import split_flow

    base = StandardNormal(dim)
    a = jnp.linspace(1.0, -1.0, dim)

    def f(x):
        return x @ a - 0.1 * jnp.sum(x ** 2, -1)

    tuner = get_tuner(base, f, FlowConfig(layers=layers, width=width),
                      TuneConfig(steps=steps, batch=batch, chunk=steps))
    train0, const, _ = split_flow(tuner.new_flow(jax.random.key(0), jnp.zeros(dim), jnp.ones(dim)))
    beta = jnp.float32(1.0)

    # ours: one lax.scan of `steps` steps
    def ours(key):
        st = tuner.optimizer.init(train0)
        out = tuner._train(train0, const, st, key, beta)
        jax.block_until_ready(out)
        return out

    ours(jax.random.key(1))                                 # compile
    t_ours = []
    for r in range(reps):
        t = time.perf_counter()
        _, _, losses = ours(jax.random.key(2 + r))
        t_ours.append(time.perf_counter() - t)

    # flowjax's fit loop on the same loss and optimiser
    loss = tuner.make_loss(const, beta)

    def theirs(key, n):
        tr, ls = fit_to_key_based_loss(key, train0, loss_fn=loss, steps=n,
                                       optimizer=tuner.optimizer, show_progress=False)
        jax.block_until_ready(tr)
        return ls

    theirs(jax.random.key(1), 2)                            # compile the step
    t_fj = []
    for r in range(reps):
        t = time.perf_counter()
        ls = theirs(jax.random.key(2 + r), steps)
        t_fj.append(time.perf_counter() - t)
    so, sf = steps / min(t_ours), steps / min(t_fj)
    return {"dim": dim, "layers": layers, "width": width, "batch": batch, "steps": steps,
            "ours_steps_per_s": so, "flowjax_steps_per_s": sf, "ratio": so / sf,
            "final_loss_ours": float(np.mean(np.asarray(losses)[-50:])),
            "final_loss_flowjax": float(np.mean(ls[-50:]))}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="*", default=["2,2,16", "8,4,32", "32,4,64"],
                    help="dim,layers,width")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}; batch {args.batch}, "
          f"{args.steps} steps, best of {args.reps}")
    print("| d | layers x width | ours (lax.scan) steps/s | flowjax fit loop steps/s | ratio "
          "| final loss ours / flowjax |")
    print("|---|---|---|---|---|---|")
    for c in args.cases:
        d, layers, width = (int(v) for v in c.split(","))
        r = run_case(d, layers, width, args.steps, args.batch, args.reps)
        print(f"| {d} | {layers} x {width} | {r['ours_steps_per_s']:.0f} | "
              f"{r['flowjax_steps_per_s']:.0f} | {r['ratio']:.2f}x | "
              f"{r['final_loss_ours']:.3f} / {r['final_loss_flowjax']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
