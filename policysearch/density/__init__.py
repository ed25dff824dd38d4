"""Synthetic-density sampling: targets, verified ground truth, MMD / KSD, reference samplers.

See docs/density.md. Quick use::

    from policysearch.density import make_target, ground_truth, mmd
    t = make_target("double_banana")
    gt = ground_truth(t, n=2000, seed=0)          # cached, verified (gt.diagnostics)
    res = mmd(particles, gt.samples)               # res.mmd2, res.bandwidth
"""

from .benchmarks import BENCHMARK_NAMES, BenchmarkFunction
from .ground_truth import GroundTruth, default_cache_dir, ground_truth, grid_sample
from .logreg import BayesianLogisticRegression, load_dataset, load_dataset_file
from .metrics import (MMDToReference, ess_from_log_weights, ksd, ksd2_unbiased, median_bandwidth,
                      mmd, mmd2_unbiased, mode_stats)
from .motion_planning import MotionPlanning
from .samplers import (grid_inverse_cdf, importance_sample, inverse_cdf_sample, rejection_sample,
                       run_mcmc, snis_expectation, tempered_smc)
from .targets import (TARGET_NAMES, DoubleBanana, Funnel, GaussianMixture, Rings, Target,
                      make_target)

__all__ = [
    "Target", "BenchmarkFunction", "BENCHMARK_NAMES", "GaussianMixture", "DoubleBanana", "Funnel", "Rings", "MotionPlanning",
    "BayesianLogisticRegression", "make_target", "TARGET_NAMES", "load_dataset",
    "load_dataset_file",
    "GroundTruth", "ground_truth", "grid_sample", "default_cache_dir",
    "mmd", "mmd2_unbiased", "median_bandwidth", "MMDToReference", "ksd", "ksd2_unbiased",
    "mode_stats", "ess_from_log_weights",
    "inverse_cdf_sample", "grid_inverse_cdf", "rejection_sample", "importance_sample",
    "snis_expectation", "run_mcmc", "tempered_smc",
]
