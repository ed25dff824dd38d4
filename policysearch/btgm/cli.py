"""BTGM from the command line: tune a case's generative model p for one criterion f.

    python -m policysearch.btgm case=gauss2d criterion=linear target_kl=1.0
    python -m policysearch.btgm case=gauss2d criterion=threshold target_kl=0.5   # gradient-free (SMC)
    python -m policysearch.btgm case=gauss2d criterion=quadratic beta=2 btgm=small

Config: configs/btgm.yaml (+ the method-settings group configs/btgm/: default, small, spline). The run directory ``out_dir`` gets

    config.yaml      resolved config
    estimates.json   per beta: theoretical (importance sampling, tempered SMC, closed form when
                     the case has one) and empirical E f, KL, log Z, fit gap, ESS; the search
                     history; the criterion's normalisation and gradient-norm summary
    samples.npz      samples of p and of the tuned q (data space), their f values
    curves.png       E f vs beta, KL vs beta, Pareto front E f vs KL (theory lines, tuned dots)
    samples.png      samples of p and q (the case's drawing: grid / scatter / curves)
    grad_norms.png   distribution of ||grad f_normalised|| under p (differentiable f)
    losses.png       training loss of the flow per beta
    report.md, index.html

Bad input (unknown case / criterion / method, negative beta or target, non-positive sizes,
an unreachable target, NaN from f on samples of p) prints one ``error:`` line and exits 2
before any flow is trained.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time

import numpy as np
from omegaconf import DictConfig, OmegaConf

METHODS = ("auto", "flow", "smc", "sv_cma_es")


from policysearch.cli import UsageError, prepare_out_dir


class BTGMConfigError(UsageError):
    """A bad configuration value (one line, raised before training; the entry point turns it
    into `error: ...` and exit code 2)."""


def _int(cfg, key, minimum=1):
    v = OmegaConf.select(cfg, key)
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
        raise BTGMConfigError(f"{key}={v!r} is invalid: must be an integer >= {minimum}")
    return int(v)


def _num(cfg, key, minimum=None, strict=False, optional=False):
    v = OmegaConf.select(cfg, key)
    if v is None and optional:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise BTGMConfigError(f"{key}={v!r} is invalid: must be a finite number")
    if minimum is not None and (v < minimum or (strict and v == minimum)):
        raise BTGMConfigError(f"{key}={v!r} is invalid: must be {'>' if strict else '>='} "
                              f"{minimum}")
    return float(v)


def validate(cfg: DictConfig) -> dict:
    """Every check that needs no model: returns the parsed settings."""
    from .cases import get_case
    from .flows import FlowConfig
    try:
        case = get_case(str(cfg.case))
    except ValueError as e:
        raise BTGMConfigError(str(e)) from None
    crit = str(cfg.criterion)
    if crit not in case.criteria:
        raise BTGMConfigError(f"criterion={crit!r} is unknown for case {case.name!r}; allowed: "
                              f"{', '.join(case.criteria)}")
    t_kl = _num(cfg, "target_kl", 0.0, optional=True)
    t_mean = _num(cfg, "target_mean", optional=True)
    beta = _num(cfg, "beta", 0.0, optional=True)
    if sum(v is not None for v in (t_kl, t_mean, beta)) != 1:
        raise BTGMConfigError("give exactly one of target_kl, target_mean, beta "
                              f"(got target_kl={t_kl}, target_mean={t_mean}, beta={beta})")
    method = str(cfg.method)
    if method not in METHODS:
        raise BTGMConfigError(f"method={method!r} is invalid; allowed: {', '.join(METHODS)}")
    diff = crit in case.differentiable
    if method == "auto":
        method = "flow" if diff else "smc"
    if method == "flow" and not diff:
        raise BTGMConfigError(f"method=flow needs a differentiable criterion; {crit!r} is not "
                              "(use method=smc or method=sv_cma_es)")
    sup = case.f_sup.get(crit)
    if t_mean is not None and sup is not None and t_mean >= sup:
        raise BTGMConfigError(f"target_mean={t_mean} is unreachable: criterion {crit!r} is "
                              f"bounded by {sup} and E_q f < sup f")
    compare = cfg.get("compare")
    if compare is not None:
        compare = str(compare)
        if compare not in case.criteria or compare == crit or compare not in case.differentiable \
                or not diff:
            ok = [c for c in case.criteria if c in case.differentiable and c != crit]
            raise BTGMConfigError(f"compare={compare!r} is invalid: needs a second differentiable "
                                  f"criterion of {case.name!r} (and a differentiable criterion="
                                  f"); allowed: {', '.join(ok) or 'none'}")
    fl = OmegaConf.to_container(cfg.btgm.flow, resolve=True)
    try:
        flow = FlowConfig(**fl).check()
    except (TypeError, ValueError) as e:
        raise BTGMConfigError(f"flow: {e}") from None
    case_cfg = dict(case.defaults)
    case_cfg.update(OmegaConf.to_container(cfg.case_cfg, resolve=True) or {})
    out = {"case": case, "criterion": crit, "target_kl": t_kl, "target_mean": t_mean,
           "beta": beta, "method": method, "differentiable": diff, "flow": flow,
           "case_cfg": case_cfg, "f_sup": sup, "compare": compare,
           "steps": _int(cfg, "btgm.tune.steps"), "batch": _int(cfg, "btgm.tune.batch"),
           "eval_samples": _int(cfg, "btgm.tune.eval_samples", 2), "chunk": _int(cfg, "btgm.tune.chunk"),
           "lr": _num(cfg, "btgm.tune.learning_rate", 0.0, strict=True),
           "steps_first": None if cfg.btgm.tune.steps_first is None
           else _int(cfg, "btgm.tune.steps_first"),
           "max_iter": _int(cfg, "btgm.search.max_iter"), "tol": _num(cfg, "btgm.search.tol", 0.0),
           "beta_max": _num(cfg, "btgm.search.beta_max", 0.0, strict=True, optional=True),
           "beta0": _num(cfg, "btgm.search.beta0", 0.0, optional=True),
           "curve_points": _int(cfg, "btgm.curve_points", 0), "n_theory": _int(cfg, "btgm.theory.n", 10),
           "smc": bool(cfg.btgm.theory.smc), "smc_n": _int(cfg, "btgm.theory.smc_n", 10),
           "theory_betas": _int(cfg, "btgm.theory.betas", 2), "samples": _int(cfg, "samples", 2),
           "gf_n": _int(cfg, "btgm.gradient_free.n", 2),
           "gf_generations": _int(cfg, "btgm.gradient_free.generations"),
           "gf_pop": _int(cfg, "btgm.gradient_free.pop_size", 2),
           "gf_alpha": _num(cfg, "btgm.gradient_free.alpha", 0.0),
           "seed": _int(cfg, "seed", 0)}
    return out


def _to_raw(e: dict, beta_n: float, m: float, s: float) -> dict:
    """Estimates of the tuning on f_n = (f - m) / s back in f's units (KL, gap, ESS unchanged;
    log Z(beta) of f = beta m + log Z_n(beta_n) with beta = beta_n / s)."""
    out = dict(e)
    scale = {"mean": s, "se": s, "var": s * s, "m3": s ** 3}
    for k, c in scale.items():
        if k in out:
            out[k] = out[k] * c
    if "mean" in out:
        out["mean"] += m
    if "log_z" in out:
        out["log_z"] += beta_n / s * m
    return out


def _jsonable(x):
    """bool / int / str as they are, numbers as floats, non-finite numbers as None."""
    if isinstance(x, (bool, int, str)) or x is None:
        return x
    x = float(x)
    return x if math.isfinite(x) else None


def _progress(enabled: bool, label: str):
    if not enabled:
        return None
    t0 = time.time()

    def cb(step, total, loss):
        print(f"[btgm] {label()} step {step}/{total} loss {loss:.4f} "
              f"({time.time() - t0:.0f}s)", file=sys.stderr, flush=True)
    return cb


def run(cfg: DictConfig) -> dict:
    """The CLI body (callable from Python with a composed config); returns the summary."""
    import jax
    import jax.numpy as jnp

    from . import assess
    from .estimators import smc_curve, tilt_curve
    from .gradient_free import sample_tilted
    from .latent import latent_criterion
    from .search import UnreachableTargetError, find_beta, find_beta_gradient_free

    v = validate(cfg)
    out = str(cfg.out_dir)
    if os.path.exists(os.path.join(out, "estimates.json")):
        raise BTGMConfigError(f"out_dir={out!r} already holds a finished run; choose another")
    key = jax.random.key(v["seed"])
    k_build, k_th, k_search, k_curve, k_smc, k_samp = jax.random.split(key, 6)
    t0 = time.time()
    try:
        model = v["case"].build(k_build, v["case_cfg"])
    except ValueError as e:                 # a bad case_cfg value, reported by the case
        raise BTGMConfigError(f"case {v['case'].name!r}: {e}") from None
    base = model.base
    f_raw = model.criteria[v["criterion"]]
    f_w = f_raw if model.decoder is None else latent_criterion(model.decoder, f_raw)
    xp = base.sample(k_th, v["n_theory"])
    fx = np.asarray(f_w(xp), np.float64)
    bad = int(np.sum(~np.isfinite(fx)))
    if bad:
        raise BTGMConfigError(f"criterion {v['criterion']!r} returned NaN or inf on {bad} of "
                              f"{fx.size} samples of p; it must be finite on the support of p")
    m, s = float(np.mean(fx)), float(np.std(fx))
    if not s > 0:
        raise BTGMConfigError(f"criterion {v['criterion']!r} is constant under p (std 0)")
    if not cfg.normalize:
        m, s = 0.0, 1.0
    f_n = (lambda x: (f_w(x) - m) / s)
    sup = v["f_sup"]
    if v["target_kl"] is not None and sup is not None:
        frac = float(np.mean(fx >= sup - 1e-9 * max(1.0, abs(sup))))
        if frac > 0 and v["target_kl"] >= -math.log(frac):
            raise BTGMConfigError(
                f"target_kl={v['target_kl']} is unreachable: f attains its sup {sup} on "
                f"{100 * frac:.3g}% of p, so KL(q_beta||p) < -log {frac:.4g} = "
                f"{-math.log(frac):.4g} for every beta")
    prepare_out_dir(out)
    with open(os.path.join(out, "config.yaml"), "w") as fh:
        fh.write(OmegaConf.to_yaml(cfg, resolve=True))

    cur = {"beta": 0.0}
    prog = _progress(bool(cfg.progress), lambda: f"beta={cur['beta'] / s:.4g}")
    tgt_kl = v["target_kl"]
    tgt_mean = None if v["target_mean"] is None else (v["target_mean"] - m) / s
    sup_n = None if sup is None else (sup - m) / s
    bmax_n = None if v["beta_max"] is None else v["beta_max"] * s
    beta0_n = None if v["beta0"] is None else v["beta0"] * s
    history = []
    flow_mode = v["method"] == "flow"
    tkw = dict(steps=v["steps"], batch=v["batch"], learning_rate=v["lr"],
               eval_samples=v["eval_samples"], chunk=v["chunk"])
    gkw = dict(method=v["method"], n=v["gf_n"])
    if v["method"] == "sv_cma_es":
        gkw.update(generations=v["gf_generations"], pop_size=v["gf_pop"], alpha=v["gf_alpha"])

    def on_iter(e):
        cur["beta"] = e["beta"]
        if cfg.progress:
            print(f"[btgm] search iter {e['iter']}: beta={e['beta'] / s:.4g} E f="
                  f"{m + s * e['mean']:.4g} KL={e['kl']:.4g} residual={e['residual']:.3g} "
                  f"(tol {e['tolerance']:.3g})", file=sys.stderr, flush=True)

    try:
        if v["beta"] is not None:
            beta_n = v["beta"] * s
            cur["beta"] = beta_n
            if flow_mode:
                from .tuning import tune
                res = tune(k_search, base, f_n, beta_n, flow=v["flow"], progress=prog, **tkw)
            else:
                res = sample_tilted(k_search, base, f_n, beta_n, **gkw)
        elif flow_mode:
            beta_n, res, history = find_beta(
                k_search, base, f_n, target_kl=tgt_kl, target_mean=tgt_mean,
                steps_first=v["steps_first"], max_iter=v["max_iter"], tol=v["tol"],
                f_sup=sup_n, beta_max=bmax_n, beta0=beta0_n, flow=v["flow"],
                n_theory=v["n_theory"],
                progress=prog, on_iter=on_iter, on_train=lambda b: cur.update(beta=b), **tkw)
        else:
            beta_n, res, history = find_beta_gradient_free(
                k_search, base, f_n, target_kl=tgt_kl, target_mean=tgt_mean,
                max_iter=v["max_iter"], tol=v["tol"], f_sup=sup_n, beta_max=bmax_n,
                beta0=beta0_n, n_theory=v["n_theory"], on_iter=on_iter, **gkw)
    except UnreachableTargetError as e:
        raise BTGMConfigError(str(e)) from None

    # ------------------------------------------------------------- models at more betas
    ts = np.linspace(0.0, 1.25, v["curve_points"] + 1) if v["curve_points"] else np.ones(1)
    grid = sorted({float(beta_n * t) for t in ts} | {beta_n})
    models = {}
    for i, (b, k) in enumerate(zip(grid, jax.random.split(k_curve, len(grid)))):
        if b == beta_n:
            models[b] = res
            continue
        cur["beta"] = b
        if flow_mode:
            from .tuning import tune
            models[b] = tune(k, base, f_n, b, init=res, progress=prog, **tkw)
        else:
            models[b] = sample_tilted(k, base, f_n, b, **gkw)

    def emp(r):
        e = r.estimates if flow_mode else r
        keys = ("mean", "var", "m3", "kl", "gap", "log_z", "ess_flow", "ess", "kl_se", "se")
        return {k: float(e[k]) for k in keys if k in e}

    # ------------------------------------------------------------- theoretical curves
    b_hi = max(grid) * 1.2 if max(grid) > 0 else 1.0
    tb = np.unique(np.concatenate([np.linspace(0.0, b_hi, v["theory_betas"]), grid]))
    is_c = {k: np.asarray(a, np.float64) for k, a in tilt_curve((fx - m) / s, tb).items()}
    smc_c = None
    if v["smc"]:
        smc_c = {k: np.asarray(a, np.float64)
                 for k, a in smc_curve(k_smc, base, f_n, tb, n=v["smc_n"]).items()}

    def raw_mean(x):
        return float(m + s * x)

    rows = []
    for b in grid:
        j = int(np.argmin(np.abs(tb - b)))
        e = emp(models[b])
        row = {"beta": b / s, "beta_normalized": b,
               "theory_is": {"mean": raw_mean(is_c["mean"][j]), "kl": float(is_c["kl"][j]),
                             "ess": float(is_c["ess"][j]), "kl_max": float(is_c["kl_max"][j])},
               "empirical": _to_raw(e, b, m, s)}
        if smc_c is not None:
            row["theory_smc"] = {"mean": raw_mean(smc_c["mean"][j]), "kl": float(smc_c["kl"][j]),
                                 "ess": float(smc_c["ess"][j])}
        if model.exact is not None:
            ex = model.exact(v["criterion"], b / s)
            row["exact"] = {k: float(ex[k]) for k in ("mean", "kl", "log_z")}
        rows.append(row)

    # ------------------------------------------------------------- samples + assessment
    final = models[beta_n]
    kq, kp = jax.random.split(k_samp)
    if flow_mode:
        zq = np.asarray(final.sample(kq, v["samples"]))
    else:
        zq = np.asarray(final["samples"])[: v["samples"]]
    zp = np.asarray(base.sample(kp, v["samples"]))
    dec = (lambda z: np.asarray(z)) if model.decoder is None else \
        (lambda z: np.asarray(model.decoder(jnp.asarray(z))))
    xq, xs_p = dec(zq), dec(zp)
    fq_raw, fp_raw = np.asarray(f_raw(jnp.asarray(xq))), np.asarray(f_raw(jnp.asarray(xs_p)))
    np.savez_compressed(os.path.join(out, "samples.npz"), p=xs_p, q=xq, f_p=fp_raw, f_q=fq_raw,
                        **({"z_p": zp, "z_q": zq} if model.decoder is not None else {}))
    grad = None
    if v["differentiable"]:
        norms = assess.gradient_norms(f_n, xp[:4000])
        grad = assess.gradient_summary(norms, 0.01 * float(np.median(norms)))
    comparison = None
    if v["compare"] is not None:
        g_other = model.criteria[v["compare"]]
        g_other = g_other if model.decoder is None else latent_criterion(model.decoder, g_other)
        line, summ = assess.compare_criteria(xp[:4000], {v["criterion"]: f_w,
                                                         v["compare"]: g_other})
        comparison = {"line": line, **{k: {kk: vv for kk, vv in d.items()
                                          if kk not in ("hist", "edges")}
                                      if isinstance(d, dict) else d for k, d in summ.items()}}
        if cfg.progress:
            print(f"[btgm] criteria: {line}", file=sys.stderr, flush=True)
    th_key = "theory_smc" if smc_c is not None else "theory_is"
    fit = assess.fit_report(
        {"beta": [r["beta"] for r in rows], "mean": [r[th_key]["mean"] for r in rows],
         "kl": [r[th_key]["kl"] for r in rows]},
        [{"beta": r["beta"], "mean": r["empirical"]["mean"], "kl": r["empirical"]["kl"]}
         for r in rows])
    fit = {"theory": th_key, "mean_abs_err": fit["mean_abs_err"], "kl_abs_err": fit["kl_abs_err"]}
    conv = history[-1]["converged"] if history else None
    summary = {
        "case": v["case"].name, "criterion": v["criterion"], "method": v["method"],
        "target": {"kl": v["target_kl"], "mean": v["target_mean"], "beta": v["beta"]},
        "beta": beta_n / s, "beta_normalized": beta_n, "converged": conv,
        "normalization": {"shift": m, "scale": s},
        "final": rows[grid.index(beta_n)],
        "rows": rows,
        "search": [{k: _jsonable(x) for k, x in h.items()} for h in history],
        "gradient_norms": None if grad is None else {k: grad[k] for k in grad
                                                      if k not in ("hist", "edges")},
        "comparison": comparison,
        "theory_vs_empirical": fit,
        "latent": model.decoder is not None,
        "samples_f": {"p_mean": float(np.mean(fp_raw)), "q_mean": float(np.mean(fq_raw)),
                      "p_q99": float(np.quantile(fp_raw, 0.99)),
                      "q_quantiles": np.quantile(fq_raw, [0.1, 0.5, 0.9]).tolist()},
        "case_info": model.info, "wall_time_s": round(time.time() - t0, 2)}
    if cfg.figures:
        from . import report
        report.figures(out, summary, tb, is_c, smc_c, s, m, models, flow_mode, model, xs_p, xq,
                       None if grad is None else norms)
    with open(os.path.join(out, "estimates.json"), "w") as fh:
        json.dump(summary, fh, indent=1, default=float)
    from . import report
    report.write(out, summary, bool(cfg.figures))
    return summary


def main_body(cfg: DictConfig) -> float:
    """What ``python -m policysearch.btgm`` runs on the composed config (the Hydra entry
    point is in __main__.py, so Hydra finds configs/ relative to that file like the other
    CLIs)."""
    summary = run(cfg)          # (hydra_app has turned the compile cache on)          # BTGMConfigError (a UsageError) -> one error line, exit 2
    fin = summary["final"]
    print(json.dumps({"case": summary["case"], "criterion": summary["criterion"],
                      "method": summary["method"], "beta": round(summary["beta"], 5),
                      "mean": round(fin["empirical"]["mean"], 5),
                      "kl": round(fin["empirical"]["kl"], 5),
                      "gap": None if "gap" not in fin["empirical"] else
                      round(fin["empirical"]["gap"], 5),
                      "converged": summary["converged"], "out_dir": str(cfg.out_dir)}))
    return float(fin["empirical"]["kl"])
