"""GENNES: generator-network evolution strategy for differentiable objectives (Faury et al. 2018).

Each "particle" is a generator network G_theta mapping noise u ~ U(-a, a)^p to a point
x = c + w * tanh(MLP_theta(u)) of the box domain [lower, upper] (c its centre, w its half-width).
Every generation a generator draws N = ``pop_size`` offspring x_i = G(u_i), the objective's
gradients g_i = grad f(x_i) come back, and theta follows Adam on the reparameterised estimate of
grad_theta E_u f(G_theta(u)) (paper eq. 7):

    Delta J = (1/N) sum_i (dx_i / dtheta)^T g_i        (one vector-Jacobian product per generator)

then the noise support shrinks, a <- alpha a (noise annealing, app. C). R = ``num_particles``
generators run independently (vmapped). Strategies MINIMISE f.

Use::

    from policysearch import strategies
    s = strategies.make("gennes", num_particles=1, pop_size=20, dim=10)
    params = s.default_params.replace(lower=-3.0, upper=3.0)     # the search domain (traced)
    state = s.init(key, x0, params)          # x0 [R, d]: G(0) = x0 at init (e.g. the centre)
    x, state = s.ask(key, state)             # [R, N, d]; the noise u is kept in the state
    f, g = jax.vmap(jax.vmap(jax.value_and_grad(fun)))(x)          # fun(x [d]) -> scalar
    state = s.tell(x, f, state, gradients=g) # gradients [R, N, d] = grad f at the offspring
    s.means(state)                           # [R, d] G_theta(0); state.best_solution / _fitness

Gradients reach ``tell`` explicitly (``gradients=``: e.g. an objective whose data, such as a
per-fold translation, is traced, so a new translation never recompiles) or by autodiff of a static
``objective`` (``gennes(objective=f)``, f on one point ``[d] -> scalar``, as svgd's "autodiff"
source). Each offspring costs one function and one gradient evaluation; the project counts the
pair as one evaluation (as the paper does).

Architecture and initialisation (the authors' code, REFERENCE.md sec. 8): ``depth`` = 5 hidden
layers of ``width`` = 128 units, leaky ReLU (slope 0.2), Glorot-uniform hidden weights, zero
biases; the output layer's weights are truncated normal (at 2 std) with the std lambda of the safe
initialisation below; its bias is atanh((x0 - c) / w), so that G(0) = x0 exactly (u = 0 gives zero
hidden activations).

Safe initialisation (app. B, corrected; docs/gennes.md has the numbers): lambda is chosen so that
the pre-tanh output of a freshly initialised generator has standard deviation beta =
``params.init_spread`` over the noise u ~ U(-a0, a0)^p. For output weights with iid entries of
variance lambda^2, E_w Var_u(w . h(u)) = lambda^2 sum_j Var_u h_j(u), where h is the last hidden
layer; the sum is measured on ``INIT_PROBES`` noise draws at init (one forward pass), so

    lambda^2 = beta^2 / sum_j Var_u h_j(u).

The paper's eq. 9, lambda^2 nu^2 = beta^2 / (h 0.3^n) (nu^2 = a0^2 / 3), does not depend on p, but
the spread does (Glorot's first layer has variance 2 / (p + h), not the 1/p the derivation
assumes; 0.3 is a plain ReLU's variance where a leaky ReLU's second moment, 0.52, belongs):
measured by experiments/gennes_init_spread.py for beta = 1, eq. 9 gives a spread over u of 1.00
at p = 10 (the errors cancel), 1.62 at p = 30 and 2.45 at p = 100; the measured lambda gives
1.00 at every p. The rectified activations also have a non-zero mean over u, so the initial
distribution's centre sits at a random offset from G(0) of about 1.2 beta per pre-tanh
coordinate (the authors' generators have it too). Default beta = 1: the outputs' std is then
about half the domain's half-width, like the baselines' initial std of a quarter of the
domain's width; the authors' constants (output weights "std 1.0" truncated, a0 = 2) give a
spread of 0.57 at d = 10 and 0.92 at d = 30 (``init_spread`` reproduces either).

``means(state)`` is G_theta(0), the image of the noise's centre: at init it is exactly x0, and as
the noise is annealed (a -> 0) every output converges to it (early on, the offspring's centroid
can sit away from it, see the offset above).
The best point seen is ``state.best_solution`` (what the paper returns), per generator
``state.particle_best_solution``. Non-finite gradients are replaced by 0 (and NaN fitness by
+inf, as for every strategy).

Numeric hyperparameters (traced, :class:`GENNESParams`): learning_rate (Adam, 1e-4: the authors'
code; the paper gives none), noise_init a0 (2), anneal alpha (0.99: app. A.2 and the authors'
code), init_spread beta (1), lower / upper (domain, scalars or [d]; default [-1, 1]).

Budget-aware annealing: a config may give ``anneal: budget``; :meth:`GENNES.resolve_config`
replaces it by :func:`budget_anneal` of the run's generations (a reaches 1 % of a0 at the end of
the budget; 0.99 reaches it after ~460 generations, which stalls longer runs: RESULTS.md, "GENNES:
annealing sensitivity"). The value is still an ordinary traced alpha.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from policysearch.strategies import base

__all__ = ["GENNES", "GENNESParams", "GENNESState", "budget_anneal", "generator_apply", "hidden_apply"]

#: noise draws per generator used at init to set the output-layer scale (safe initialisation)
INIT_PROBES = 512

_TRUNC_STD = 0.8796256610342398  # std of a standard normal truncated at +-2

#: ``anneal: budget``: the noise half-width reaches this fraction of a0 at the end of the run
BUDGET_ANNEAL_FLOOR = 0.01


def budget_anneal(generations: int, floor: float = BUDGET_ANNEAL_FLOOR) -> float:
    """alpha = floor^(1 / generations): a0 alpha^generations = floor a0 at the end of the budget."""
    if isinstance(generations, bool) or not isinstance(generations, (int, np.integer)) or generations < 1:
        raise ValueError(f"generations={generations!r} is invalid: must be an integer >= 1")
    return float(floor ** (1.0 / generations))


@struct.dataclass
class GENNESParams:
    """Numeric hyperparameters (traced: other values reuse the compiled program).

    learning_rate: Adam step size. noise_init: a0, the initial noise half-width.
    anneal: alpha in a <- alpha a (every tell). init_spread: beta, std over u of the initial
    pre-tanh output. lower, upper: the domain (scalars or [d]; [d] in the state).
    """

    learning_rate: jax.Array
    noise_init: jax.Array
    anneal: jax.Array
    init_spread: jax.Array
    lower: jax.Array
    upper: jax.Array


@struct.dataclass
class GENNESState:
    """R generators, their Adam state, the last noise draw and the best-so-far record."""

    theta: Any              # generator weights, every leaf with a leading [R] axis
    opt_state: Any          # Adam state (elementwise, shares theta's layout)
    noise: jax.Array        # [R, N, p] the u of the last ask
    noise_scale: jax.Array  # a: current half-width of the noise support
    generation: jax.Array
    best_solution: jax.Array
    best_fitness: jax.Array
    particle_best_solution: jax.Array
    particle_best_fitness: jax.Array
    params: GENNESParams


def hidden_apply(hidden, u, negative_slope: float = 0.2):
    """The hidden leaky-ReLU layers ``[(W, b), ...]`` on ``u [..., p]`` -> ``[..., width]``."""
    h = u
    for w, b in hidden:
        h = jax.nn.leaky_relu(h @ w + b, negative_slope)
    return h


def generator_apply(theta, u, lower, upper, negative_slope: float = 0.2):
    """One generator on noise ``u [..., p]`` -> points ``[..., d]`` in [lower, upper]."""
    h = hidden_apply(theta[:-1], u, negative_slope)
    w, b = theta[-1]
    c, hw = (upper + lower) / 2, (upper - lower) / 2
    return c + hw * jnp.tanh(h @ w + b)


@dataclasses.dataclass(frozen=True)
class GENNES:
    """GENNES on flat vectors (see module docstring). Static sizes and choices only.

    Args:
      num_particles: R >= 1 independent generators.
      pop_size: N >= 1 offspring per generator per generation (20 in the paper).
      dim: d >= 1.
      noise_dim: p, the noise dimension (None: p = d, the paper's advice).
      depth: number of hidden leaky-ReLU layers (5).
      width: hidden width h (128).
      negative_slope: leaky-ReLU slope (0.2).
      objective: optional differentiable f on one point ``[d] -> scalar``; used by ``tell`` when
        no ``gradients`` are given.
    """

    num_particles: int
    pop_size: int
    dim: int
    noise_dim: int | None = None
    depth: int = 5
    width: int = 128
    negative_slope: float = 0.2
    objective: Callable | None = None

    #: tell needs grad f at the offspring (given or by autodiff of ``objective``)
    needs_gradients = True

    def __post_init__(self):
        base.check_int("num_particles", self.num_particles, 1)
        base.check_int("pop_size", self.pop_size, 1)
        base.check_int("dim", self.dim, 1)
        if self.noise_dim is not None:
            base.check_int("noise_dim", self.noise_dim, 1)
        base.check_int("depth", self.depth, 1)
        base.check_int("width", self.width, 1)
        s = self.negative_slope
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not math.isfinite(s) or not 0 <= s < 1:
            raise ValueError(f"negative_slope={s!r} is invalid: must be a number in [0, 1)")
        if self.objective is not None and not callable(self.objective):
            raise ValueError("gennes objective must be a callable f: [dim] -> scalar (or None)")

    @property
    def p(self) -> int:
        return self.dim if self.noise_dim is None else self.noise_dim

    # ------------------------------------------------------------------ protocol
    @property
    def default_params(self) -> GENNESParams:
        f32 = lambda v: jnp.asarray(float(v))  # noqa: E731 - weakly typed, like Python floats
        return GENNESParams(
            learning_rate=f32(1e-4),
            noise_init=f32(2.0),
            # 0.99: app. A.2 and the authors' code (a strategy does not know the run's length; the
            # optimize CLI's default is `anneal: budget`, RESULTS.md "GENNES: annealing sensitivity")
            anneal=f32(0.99),
            init_spread=f32(1.0),
            lower=f32(-1.0),
            upper=f32(1.0),
        )

    def resolve_config(self, values: dict, generations: int | None) -> dict:
        """Config values -> numeric params: ``anneal: budget`` becomes :func:`budget_anneal` of the
        run's ``generations`` (config.make_strategy calls this before any check)."""
        a = values.get("anneal")
        if not isinstance(a, str):
            return values
        if a != "budget":
            raise ValueError(f"anneal={a!r} is invalid: must be a number in (0, 1] or 'budget'")
        if generations is None:
            raise ValueError("anneal='budget' needs the run's number of generations; give a number in (0, 1]")
        return {**values, "anneal": budget_anneal(generations)}

    def check_params(self, params: GENNESParams) -> None:
        base.check_params_positive(params, ("learning_rate", "noise_init", "anneal", "init_spread"))
        a = base._concrete(params.anneal)
        if a is not None and np.any(a > 1):
            raise ValueError(f"anneal={a.tolist()!r} is invalid: must be in (0, 1]")
        lo, hi = base._concrete(params.lower), base._concrete(params.upper)
        if lo is None or hi is None:
            return
        if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
            raise ValueError(f"lower={lo.tolist()!r}, upper={hi.tolist()!r} are invalid: must be finite")
        try:
            ok = np.all(np.broadcast_to(lo, (self.dim,)) < np.broadcast_to(hi, (self.dim,)))
        except ValueError:
            raise ValueError(f"lower / upper have shapes {lo.shape} / {hi.shape}; must be scalars "
                             f"or ({self.dim},)") from None
        if not ok:
            raise ValueError(f"lower={lo.tolist()!r} must be < upper={hi.tolist()!r} in every coordinate")

    def init(self, key: jax.Array, x0: jax.Array, params: GENNESParams | None = None) -> GENNESState:
        """``x0``: [num_particles, dim] inside the domain (clipped into it): G(0) = x0."""
        params = self.default_params if params is None else params
        self.check_params(params)
        x0 = base.prepare_x0(x0, self.num_particles, self.dim)
        return self._init(key, x0, params)

    @functools.partial(jax.jit, static_argnums=0)
    def _init(self, key, x0, params: GENNESParams) -> GENNESState:
        params = jax.tree.map(lambda v: jnp.asarray(v, dtype=jnp.float32), params)
        params = params.replace(lower=jnp.broadcast_to(params.lower, (self.dim,)),
                                upper=jnp.broadcast_to(params.upper, (self.dim,)))
        c, hw = (params.upper + params.lower) / 2, (params.upper - params.lower) / 2
        bias = jnp.arctanh(jnp.clip((x0 - c) / hw, -1 + 1e-6, 1 - 1e-6))  # [R, d]: G(0) = x0
        keys = jax.random.split(key, self.num_particles)
        theta = jax.vmap(lambda k, b: self._init_generator(k, b, params))(keys, bias)
        return GENNESState(
            theta=theta,
            opt_state=optax.scale_by_adam().init(theta),
            noise=jnp.zeros((self.num_particles, self.pop_size, self.p), jnp.float32),
            noise_scale=params.noise_init,
            generation=jnp.asarray(0, jnp.int32),
            params=params,
            **base.init_best(self.num_particles, self.dim),
        )

    def _init_generator(self, key, out_bias, params):
        """Glorot-uniform hidden layers, zero biases; output weights truncated normal with the std
        lambda that gives the pre-tanh output a spread ``init_spread`` over the noise (measured on
        ``INIT_PROBES`` noise draws: lambda^2 = beta^2 / sum_j Var_u h_j(u))."""
        sizes = [self.p] + [self.width] * self.depth
        k_layers, k_out, k_probe = jax.random.split(key, 3)
        hidden = []
        for k, fan_in, fan_out in zip(jax.random.split(k_layers, self.depth), sizes[:-1], sizes[1:]):
            lim = math.sqrt(6.0 / (fan_in + fan_out))
            hidden.append((jax.random.uniform(k, (fan_in, fan_out), minval=-lim, maxval=lim),
                           jnp.zeros((fan_out,))))
        a0 = params.noise_init
        u = jax.random.uniform(k_probe, (INIT_PROBES, self.p), minval=-a0, maxval=a0)
        spread2 = jnp.sum(jnp.var(hidden_apply(hidden, u, self.negative_slope), axis=0))
        lam = params.init_spread / jnp.sqrt(jnp.maximum(spread2, 1e-30))
        w = jax.random.truncated_normal(k_out, -2.0, 2.0, (self.width, self.dim)) * (lam / _TRUNC_STD)
        return hidden + [(w, out_bias)]

    @functools.partial(jax.jit, static_argnums=0)
    def ask(self, key: jax.Array, state: GENNESState) -> tuple[jax.Array, GENNESState]:
        a = state.noise_scale
        u = jax.random.uniform(key, (self.num_particles, self.pop_size, self.p), minval=-a, maxval=a)
        x = jax.vmap(self._apply, in_axes=(0, 0, None))(state.theta, u, state.params)
        return x, state.replace(noise=u)

    @functools.partial(jax.jit, static_argnums=0)
    def tell(self, offspring: jax.Array, fitness: jax.Array, state: GENNESState,
             gradients: jax.Array | None = None) -> GENNESState:
        """``gradients``: grad f at the offspring [R, N, d]; None: autodiff of ``objective``."""
        rho, m, d = self.num_particles, self.pop_size, self.dim
        offspring, fitness = base.prepare_tell(offspring, fitness, rho, m, d)
        if gradients is None:
            if self.objective is None:
                raise ValueError("gennes tell needs gradients: pass tell(..., gradients=grad f at the "
                                 "offspring [R, N, d]) or build the strategy with objective=f")
            gradients = jax.vmap(jax.vmap(jax.grad(self.objective)))(offspring)
        gradients = jnp.asarray(gradients, jnp.float32)
        if gradients.shape != (rho, m, d):
            raise ValueError(f"gradients has shape {gradients.shape}; expected {(rho, m, d)}")
        gradients = jnp.where(jnp.isfinite(gradients), gradients, 0.0)
        best = base.update_best(state, offspring, fitness)
        params = state.params

        def estimate(theta, u, g):
            _, vjp = jax.vjp(lambda th: self._apply(th, u, params), theta)
            return vjp(g / m)[0]  # (1/N) sum_i (dx_i/dtheta)^T g_i

        grad_theta = jax.vmap(estimate)(state.theta, state.noise, gradients)
        direction, opt_state = optax.scale_by_adam().update(grad_theta, state.opt_state, state.theta)
        theta = jax.tree.map(lambda t, s: t - params.learning_rate * s, state.theta, direction)
        return state.replace(
            theta=theta,
            opt_state=opt_state,
            noise_scale=state.noise_scale * params.anneal,
            generation=state.generation + 1,
            **best,
        )

    def means(self, state: GENNESState) -> jax.Array:
        """G_theta(0) per generator: [R, d]."""
        u0 = jnp.zeros((self.num_particles, self.p), jnp.float32)
        return jax.vmap(self._apply, in_axes=(0, 0, None))(state.theta, u0, state.params)

    def sigmas(self, state: GENNESState) -> jax.Array:
        """The noise half-width a of every generator: [R] (the annealed quantity, for logging;
        not a step size in x units)."""
        return jnp.broadcast_to(state.noise_scale, (self.num_particles,))

    def sample(self, key: jax.Array, state: GENNESState, n: int) -> jax.Array:
        """``n`` points of every generator at the current noise scale: [R, n, d] (no state change)."""
        u = jax.random.uniform(key, (self.num_particles, n, self.p), minval=-state.noise_scale,
                               maxval=state.noise_scale)
        return jax.vmap(self._apply, in_axes=(0, 0, None))(state.theta, u, state.params)

    # ------------------------------------------------------------------ internals
    def _apply(self, theta, u, params):
        return generator_apply(theta, u, params.lower, params.upper, self.negative_slope)
