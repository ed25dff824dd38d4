"""BTGM: Boltzmann tuning of generative models (seed 003; docs/btgm.md).

Given a generative model p and a criterion f (maximised), q_beta(x) ∝ p(x) e^{beta f(x)} is
the distribution maximising E_q f under KL(q || p) <= C_D. Contract (stable, documented):

    from policysearch import btgm
    est = btgm.tilt_estimates(f_values, beta)      # f over samples of p -> log_z, mean, var, m3, kl, ess
    tuned = btgm.tune(key, base, f, beta, steps=...)
    #   base: sample(key, n) -> [n, d], log_prob(x [n, d]) -> [n];  f: [n, d] -> [n]
    #   tuned.sample(key, n), tuned.log_prob(x), tuned.estimates ("mean", "kl", "gap", ...)
    beta, tuned, history = btgm.find_beta(key, base, f, target_kl=C_D)   # or target_mean=C_f

Modules: estimators (IS / SMC theoretical curves), flows (flowjax wrapper), tuning (flow
training in lax.scan), search (beta search), latent (latent-space tuning), assess (criterion
assessment), gradient_free (SMC / SV-CMA-ES sampling of q_beta), closed_forms (exact
references), cases (registry of case studies for the CLI), cli (python -m policysearch.btgm).
"""

from .assess import (assess_criterion, compare_criteria, fit_report, gradient_norms,
                     gradient_summary, normalize_criterion, pareto_front)
from .estimators import sample_moments, smc_curve, smc_estimates, tilt_curve, tilt_estimates
from .flows import FlowConfig
from .gradient_free import GF_METHODS, sample_tilted
from .latent import LatentModel, StandardNormal, data_kl_gaussian_fit, latent_criterion
from .search import (UnreachableTargetError, beta_step, find_beta, find_beta_gradient_free,
                     initial_beta)
from .tuning import TuneConfig, TunedModel, get_tuner, tune

__all__ = [
    "tilt_estimates", "tilt_curve", "smc_estimates", "smc_curve", "sample_moments",
    "tune", "TunedModel", "TuneConfig", "FlowConfig", "get_tuner",
    "find_beta", "find_beta_gradient_free", "beta_step", "initial_beta", "UnreachableTargetError",
    "StandardNormal", "latent_criterion", "LatentModel", "data_kl_gaussian_fit",
    "normalize_criterion", "gradient_norms", "gradient_summary", "compare_criteria",
    "assess_criterion", "pareto_front", "fit_report",
    "sample_tilted", "GF_METHODS",
]
