"""Case registry of the BTGM CLI (``python -m policysearch.btgm case=<name> ...``).

A :class:`Case` declares, without building anything, its name, its criteria (names, which are
differentiable, known upper bounds) and default settings; ``build(key, cfg) -> CaseModel``
builds (trains, loads) the generative model. Case-study modules live next to this file and
register themselves with :func:`register`; they are imported lazily by :func:`get_case`.

CaseModel fields:
    base       the model p tuned by BTGM: sample(key, n) -> [n, d], log_prob(x [n, d]) -> [n]
               (in latent space when ``decoder`` is given: then p = p(z));
    criteria   {name: f} with f: [n, d_x] -> [n] on the DATA space, maximised;
    decoder    optional z [n, k] -> x [n, d_x] (frozen mean decoder): tuning is done on
               f~(z) = f(decoder(z)) (section 3.3);
    draw       optional draw(ax, x [n, d_x], title) drawing a grid / scatter of samples;
    exact      optional exact(criterion, beta) -> {"mean", "kl", "log_z"} (closed forms);
    info       free-form dict stored in estimates.json.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["Case", "CaseModel", "register", "get_case", "case_names", "help_text", "CASES"]


@dataclasses.dataclass
class CaseModel:
    base: Any
    criteria: dict
    decoder: Callable | None = None
    draw: Callable | None = None
    exact: Callable | None = None
    info: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Any, dict], CaseModel]
    criteria: tuple[str, ...]
    differentiable: frozenset = frozenset()
    f_sup: dict = dataclasses.field(default_factory=dict)    # known sup of f (raw units)
    defaults: dict = dataclasses.field(default_factory=dict)  # case_cfg defaults
    description: str = ""


CASES: dict[str, Case] = {}
# case modules imported on first lookup (the case-study modules register themselves)
_LAZY_MODULES: list[str] = [
    # case studies (experiments/btgm_*.py): digits, digits_adversarial, energy
    "policysearch.btgm.cases.digits",
    "policysearch.btgm.cases.adversarial",
    "policysearch.btgm.cases.energy",
]


def register(case: Case) -> Case:
    CASES[case.name] = case
    return case


def _load_lazy():
    while _LAZY_MODULES:
        importlib.import_module(_LAZY_MODULES.pop(0))


def case_names() -> list[str]:
    _load_lazy()
    return sorted(CASES)


def help_text() -> str:
    """The registered cases and their criteria, for ``python -m policysearch.btgm --help``."""
    _load_lazy()
    lines = ["case / criterion (registered in policysearch/btgm/cases/; `*`: no gradient, "
             "method=auto uses SMC; case settings: +case_cfg.<key>=...):"]
    for name in sorted(CASES):
        c = CASES[name]
        crit = ", ".join(k if k in c.differentiable else f"{k}*" for k in c.criteria)
        lines.append(f"  {name}: {crit}" + (f"  ({c.description})" if c.description else ""))
        if c.defaults:
            lines.append("    case_cfg: " + ", ".join(f"{k}={v}" for k, v in c.defaults.items()))
    from .models import default_cache_dir

    lines.append(f"Trained case models are cached in {default_cache_dir()} "
                 "($POLICYSEARCH_BTGM_CACHE moves it; delete it after changing the training code).")
    return "\n".join(lines)


def get_case(name: str) -> Case:
    """The registered case ``name``; ValueError naming the allowed ones otherwise."""
    _load_lazy()
    if name not in CASES:
        raise ValueError(f"case={name!r} is unknown; allowed: {', '.join(sorted(CASES))}")
    return CASES[name]


# ------------------------------------------------------------------------ built-in: gauss2d
@dataclasses.dataclass(frozen=True, eq=False)
class GaussianMixture2D:
    """p = sum_k w_k N(mu_k, s^2 I_2) (overlapping modes by default)."""
    means: tuple = ((-1.0, 0.0), (1.0, 0.0))
    weights: tuple = (0.5, 0.5)
    std: float = 1.0

    def _params(self):
        return jnp.asarray(self.means, jnp.float32), jnp.asarray(self.weights, jnp.float32)

    def sample(self, key, n):
        mu, w = self._params()
        k1, k2 = jax.random.split(key)
        c = jax.random.choice(k1, mu.shape[0], (n,), p=w / w.sum())
        return mu[c] + self.std * jax.random.normal(k2, (n, mu.shape[1]))

    def log_prob(self, x):
        mu, w = self._params()
        d = x.shape[-1]
        lp = (-0.5 * jnp.sum((x[:, None, :] - mu[None]) ** 2, -1) / self.std ** 2
              - d * jnp.log(self.std) - 0.5 * d * jnp.log(2 * jnp.pi))
        return jax.scipy.special.logsumexp(lp + jnp.log(w / w.sum()), axis=1)


_G2_CENTER = (1.5, 1.0)


def _gauss2d_criteria():
    c = jnp.asarray(_G2_CENTER, jnp.float32)
    return {
        "linear": lambda x: x[:, 0],
        "quadratic": lambda x: -0.5 * jnp.sum((x - c) ** 2, -1),
        "threshold": lambda x: (x[:, 0] > 1.0).astype(jnp.float32),
    }


def _gauss2d_exact(model: GaussianMixture2D):
    """Closed forms on the mixture: each component is tilted exactly (Gaussian x linear /
    quadratic f, or a half-plane indicator); weights ∝ w_k Z_k."""
    from scipy.stats import norm

    from ..closed_forms import gaussian_tilt

    def exact(criterion: str, beta: float) -> dict:
        mu = np.asarray(model.means, np.float64)
        w = np.asarray(model.weights, np.float64)
        w = w / w.sum()
        S = model.std ** 2 * np.eye(2)
        if criterion == "threshold":
            pk = norm.sf((1.0 - mu[:, 0]) / model.std)
            P = float(np.sum(w * pk))
            z = 1.0 + P * np.expm1(beta)
            mean = P * np.exp(beta) / z
            return {"mean": float(mean), "log_z": float(np.log(z)),
                    "kl": float(beta * mean - np.log(z))}
        if criterion == "linear":
            A, b, const = np.zeros((2, 2)), np.array([1.0, 0.0]), 0.0
        else:
            cc = np.asarray(_G2_CENTER)
            A, b, const = np.eye(2), cc, -0.5 * cc @ cc
        comps = [gaussian_tilt(m, S, A, b, beta) for m in mu]
        lz = np.array([c["log_z"] for c in comps]) + beta * const
        log_z = float(np.logaddexp.reduce(np.log(w) + lz))
        wq = np.exp(np.log(w) + lz - log_z)
        mean = float(np.sum(wq * np.array([c["mean"] for c in comps])) + const)
        return {"mean": mean, "log_z": log_z, "kl": float(beta * mean - log_z)}

    return exact


def _gauss2d_draw(ax, x, title=""):
    x = np.asarray(x)
    ax.scatter(x[:, 0], x[:, 1], s=3, alpha=0.4)
    ax.set_xlim(-5, 6)
    ax.set_ylim(-4, 5)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=9)


def _build_gauss2d(key, cfg: dict) -> CaseModel:
    sep = float(cfg.get("separation", 1.0))
    model = GaussianMixture2D(means=((-sep, 0.0), (sep, 0.0)))
    return CaseModel(base=model, criteria=_gauss2d_criteria(), draw=_gauss2d_draw,
                     exact=_gauss2d_exact(model),
                     info={"p": f"0.5 N((-{sep}, 0), I) + 0.5 N(({sep}, 0), I)",
                           "criteria": {"linear": "x1", "quadratic": "-|x - (1.5, 1)|^2 / 2",
                                        "threshold": "1[x1 > 1] (not differentiable)"}})


register(Case(
    name="gauss2d",
    build=_build_gauss2d,
    criteria=("linear", "quadratic", "threshold"),
    differentiable=frozenset({"linear", "quadratic"}),
    f_sup={"quadratic": 0.0, "threshold": 1.0},
    defaults={"separation": 1.0},
    description="2-D mixture of two overlapping unit Gaussians; closed forms for every criterion",
))
