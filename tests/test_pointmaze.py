"""PointMaze (envs/pointmaze.py), the port of QDax's deceptive maze.

Expected values are derived BY HAND from QDax's formulas (qdax/tasks/brax/v1/envs/pointmaze.py,
qdax 0.5.0), written out in the comments. Defaults: box [-1, 1]^2, step = clip(a, -1, 1) / 10,
goal centre (-0.5, 0.8), zone half-width 0.05, wall thickness 0.01, wall width 2 * 0.75 = 1.5:

* lower wall, line y = -0.5, on the wall when the step's crossing point of that line
  x_c = x_old + (-0.5 - y_old) / (y - y_old) * (x - x_old) satisfies x_c >= 1 - 1.5 = -0.5;
  from below (y_old <= -0.5 < y) the point stops at y = -0.5; from above
  (y < -0.49 <= y_old < 0.2) at y = -0.49;
* upper wall, line y = 0.2, on the wall when x_c <= -1 + 1.5 = 0.5; from above
  (y_old >= 0.21 > y) the point stops at y = 0.21; from below (y > 0.2 >= y_old > -0.5) at 0.2;
* then x, y are clipped to the box; reward = -|(x, y) - (-0.5, 0.8)|; terminated iff
  -0.55 <= x <= -0.45 and 0.75 <= y <= 0.85.

One more test runs QDax's own source file (its brax.v1 imports replaced by jax.numpy, the
functions brax.v1's jumpy calls under jit) side by side with the port: same results, bit for bit.
"""

from __future__ import annotations

import importlib.util
import math
import os
import types

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs.pointmaze import PointMaze
from policysearch.policy import MLPPolicy
from policysearch.rollout import make_population_evaluator, record_trajectories

ENV = envs.make("pointmaze")


def dist(dx, dy):
    return math.sqrt(dx * dx + dy * dy)


# (x_old, y_old), action -> (x, y), reward, terminated; the derivation follows each case
CASES = [
    # lower wall from below: step (0.03, 0.1) -> (0.03, -0.45); x_c = 0 + 0.05/0.1 * 0.03 = 0.015
    # >= -0.5 and -0.55 <= -0.5 < -0.45 -> y = -0.5 (upper wall: no condition holds)
    ((0.0, -0.55), (0.3, 1.0), (0.03, -0.5), -dist(0.53, 1.3), False),
    # lower wall from above: -> (0.2, -0.55); x_c = 0.2 >= -0.5; -0.55 < -0.49 <= -0.45 < 0.2
    # -> y = -0.49
    ((0.2, -0.45), (0.0, -1.0), (0.2, -0.49), -dist(0.7, 1.29), False),
    # the lower wall's gap: -> (-0.7, -0.45); x_c = -0.7 < -0.5 -> passes
    ((-0.7, -0.55), (0.0, 1.0), (-0.7, -0.45), -dist(0.2, 1.25), False),
    # upper wall from below: -> (0, 0.25); x_c = 0 <= 0.5; 0.25 > 0.2 >= 0.15 > -0.5 -> y = 0.2
    ((0.0, 0.15), (0.0, 1.0), (0.0, 0.2), -dist(0.5, 0.6), False),
    # upper wall from above: step (0.05, -0.1) -> (-0.25, 0.15); x_c = -0.3 + (-0.05/-0.1) * 0.05
    # = -0.275 <= 0.5; 0.25 >= 0.21 > 0.15 -> y = 0.21
    ((-0.3, 0.25), (0.5, -1.0), (-0.25, 0.21), -dist(0.25, 0.59), False),
    # the upper wall's end is judged at the crossing point: the step starts under the wall
    # (x_old = 0.48 <= 0.5) but x_c = 0.48 + 0.5 * 0.1 = 0.53 > 0.5 -> passes to (0.58, 0.25)
    ((0.48, 0.15), (1.0, 1.0), (0.58, 0.25), -dist(1.08, 0.55), False),
    # action clipped to the box, then the border: a -> (1, -1) / 10 -> (1.05, -1.05) -> (1, -1);
    # the farthest point from the goal: reward -sqrt(1.5^2 + 1.8^2) = -2.3431 (QDax's offset)
    ((0.95, -0.95), (5.0, -3.0), (1.0, -1.0), -dist(1.5, 1.8), False),
    # top-left border: -> (-1.03, 1.06) -> (-1, 1) (upper wall: 0.21 > 1.06 and 0.2 >= 0.97 fail)
    ((-0.98, 0.97), (-0.5, 0.9), (-1.0, 1.0), -dist(0.5, 0.2), False),
    # into the goal's centre: reward 0, terminated
    ((-0.5, 0.7), (0.0, 1.0), (-0.5, 0.8), 0.0, True),
    # just outside the zone: x = -0.56 < -0.55
    ((-0.6, 0.8), (0.4, 0.0), (-0.56, 0.8), -0.06, False),
    # inside near the corner: (-0.54, 0.84), -0.55 <= -0.54 <= -0.45 and 0.75 <= 0.84 <= 0.85
    ((-0.6, 0.9), (0.6, -0.6), (-0.54, 0.84), -dist(0.04, 0.04), True),
]


def test_steps_against_hand_derived_values():
    start = np.array([c[0] for c in CASES], np.float32)
    actions = jnp.array([c[1] for c in CASES], jnp.float32)
    t = jnp.zeros(len(CASES), jnp.int32)
    states = ENV.State(x=jnp.asarray(start[:, 0]), y=jnp.asarray(start[:, 1]), t=t)
    obs, nxt, reward, term, trunc = jax.jit(jax.vmap(ENV.step))(states, actions)
    np.testing.assert_allclose(obs, [c[2] for c in CASES], rtol=0, atol=1e-6)
    np.testing.assert_allclose(reward, [c[3] for c in CASES], rtol=0, atol=1e-6)
    np.testing.assert_array_equal(term, [c[4] for c in CASES])
    assert not np.any(trunc) and np.all(np.asarray(nxt.t) == 1)
    # walls stop a step exactly on the line (from below) or on its top (from above)
    assert float(obs[0, 1]) == np.float32(-0.5) and float(obs[1, 1]) == np.float32(-0.49)
    assert float(obs[3, 1]) == np.float32(0.2) and float(obs[4, 1]) == np.float32(0.21)


def test_contract_and_qd_attributes():
    assert isinstance(ENV, PointMaze) and ENV.name == "pointmaze" and ENV.gym_id is None
    assert (ENV.observation_size, ENV.action_size, ENV.discrete) == (2, 2, False)
    assert ENV.max_episode_steps == 100  # QDax's pointmaze tests and runs use 100 steps
    for bound, value in ((ENV.action_low, -1.0), (ENV.action_high, 1.0),
                         (ENV.descriptor_low, -1.0), (ENV.descriptor_high, 1.0)):
        assert bound.dtype == np.float32 and bound.shape == (2,) and np.all(bound == value)
    assert ENV.descriptor_names == ("x_pos", "y_pos")  # QDax's names
    # QDax's reward offset (>= the largest distance to the goal, sqrt(5.49) = 2.34307) x steps
    assert ENV.qd_offset == pytest.approx(2.3431 * 100) and 2.3431 >= math.sqrt(5.49)
    assert envs.make("pointmaze", max_episode_steps=7).max_episode_steps == 7
    assert "pointmaze" in envs.ENV_NAMES and "pointmaze" not in envs.GYM_IDS


def test_time_limit_truncates():
    state = ENV.State(x=jnp.float32(0.0), y=jnp.float32(-0.9), t=jnp.int32(99))
    *_, term, trunc = ENV.step(state, jnp.zeros(2))
    assert bool(trunc) and not bool(term)


def test_reset_ranges():
    # QDax: x = U(-1, 1) / 10, y = U(-1, -0.7)
    obs, state = jax.jit(jax.vmap(ENV.reset))(jax.random.split(jax.random.PRNGKey(0), 2000))
    x, y = np.asarray(obs).T
    np.testing.assert_array_equal(np.asarray(obs), np.stack([state.x, state.y], -1))
    assert np.all(np.asarray(state.t) == 0)
    assert -0.1 <= x.min() < -0.099 and 0.099 < x.max() < 0.1
    assert -1.0 <= y.min() < -0.999 and -0.701 < y.max() < -0.7
    assert abs(x.mean()) < 0.005 and abs(y.mean() + 0.85) < 0.01


def test_random_policies_through_the_rollout_stay_in_bounds():
    """(64, 64) MLPs (QDax's examples' size) through the project's one rollout path."""
    policy = MLPPolicy.for_env(ENV, hidden_sizes=(64, 64))
    flats = jax.vmap(policy.init_flat)(jax.random.split(jax.random.PRNGKey(1), 64))
    flats = flats * jnp.linspace(0.5, 8.0, 64)[:, None]  # small to saturated actions
    key = jax.random.PRNGKey(2)
    res = jax.jit(make_population_evaluator(ENV, policy, num_episodes=1))(flats, key)
    desc, ret = np.asarray(res.descriptors), np.asarray(res.returns)
    assert desc.shape == (64, 2) and np.all((desc >= -1.0) & (desc <= 1.0))
    assert np.all(ret <= 0.0) and np.all(ret + ENV.qd_offset >= 0.0)
    assert np.unique(desc.round(3), axis=0).shape[0] > 32  # policies end in different places
    # QDax's get_final_xy_position: the state descriptor recorded BEFORE the last alive step
    traj = record_trajectories(ENV, policy, flats, jax.random.split(key, 1))
    alive = np.asarray(traj["alive"])[:, 0]
    last = alive.sum(axis=1) - 1
    expected = np.asarray(traj["observations"])[np.arange(64), 0, last]
    np.testing.assert_array_equal(desc, expected)
    assert np.all((np.asarray(traj["observations"]) >= -1) & (np.asarray(traj["observations"]) <= 1))


def test_early_termination_descriptor_is_the_position_before_the_last_step():
    # walls moved out of the box and a goal zone covering y in [-0.2, 1.8], x in [-1.5, 0.5]:
    # a policy going straight up (action (0, 1): +0.1 per step) from y0 in [-1, -0.7] enters
    # the zone at step k = the first k with y0 + 0.1 k >= -0.2, and its descriptor is the
    # position before that step, (x0, y0 + 0.1 (k - 1)), with y < -0.2.
    env = PointMaze(zone_width=2.0, lower_wall_height_offset=-2.0, upper_wall_height_offset=2.0)
    policy = MLPPolicy.for_env(env, hidden_sizes=(2,))
    tree = policy.unflatten(jnp.zeros(policy.num_params, jnp.float32))
    last = sorted(tree["params"])[-1]
    tree["params"][last]["bias"] = jnp.array([0.0, 20.0], jnp.float32)  # tanh -> (0, 1)
    flat = policy.flatten(tree)[None]
    key = jax.random.PRNGKey(5)
    res = make_population_evaluator(env, policy)(flat, key)
    x0, y0 = np.asarray(env.reset(jax.random.split(key, 1)[0])[0], np.float64)
    k = int(np.ceil((-0.2 - y0) / 0.1 - 1e-6))
    assert 5 <= k <= 8 and float(res.episode_length[0]) == k
    np.testing.assert_allclose(res.descriptors[0], [x0, y0 + 0.1 * (k - 1)], atol=1e-5)
    assert float(res.descriptors[0, 1]) < -0.2


# ---------------------------------------------------------------------------- QDax's own code
def _load_qdax_pointmaze():
    """QDax's PointMaze class, its brax.v1 imports replaced by a jax.numpy shim."""
    spec = importlib.util.find_spec("qdax")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("qdax is not installed")
    path = os.path.join(spec.submodule_search_locations[0], "tasks", "brax", "v1", "envs", "pointmaze.py")
    src = open(path).read()
    imports = ("import brax.v1 as brax\nfrom brax.v1 import jumpy as jp\n"
               "from brax.v1.envs import Env, State\n")
    assert imports in src, "QDax's pointmaze.py changed its imports"

    @flax.struct.dataclass
    class State:  # brax.v1.envs.State's fields
        qp: object
        obs: jax.Array
        reward: jax.Array
        done: jax.Array
        metrics: dict
        info: dict

    class Env:
        def __init__(self, config, **kwargs):
            pass

    jp = types.SimpleNamespace(  # what brax.v1.jumpy does with jax arrays (under jit)
        ndarray=jnp.ndarray, float32=np.float32, array=jnp.array, zeros=jnp.zeros, clip=jnp.clip,
        where=jnp.where, norm=lambda x, axis=None: jnp.linalg.norm(x, axis=axis),
        random_split=lambda rng, num=2: jax.random.split(rng, num),
        random_uniform=lambda rng, shape=(), low=0.0, high=1.0: jax.random.uniform(
            rng, shape=shape, minval=low, maxval=high),
    )
    brax = types.SimpleNamespace(QP=types.SimpleNamespace(zero=lambda: None))
    namespace = {"jp": jp, "brax": brax, "Env": Env, "State": State, "__name__": "qdax_pointmaze"}
    exec(compile(src.replace(imports, ""), path, "exec"), namespace)
    return namespace["PointMaze"]


def test_bitwise_equal_to_qdax_source():
    theirs = _load_qdax_pointmaze()()
    keys = jax.random.split(jax.random.PRNGKey(7), 512)
    their_reset = jax.jit(jax.vmap(lambda k: theirs.reset(k).obs))(keys)
    our_reset = jax.jit(jax.vmap(lambda k: ENV.reset(k)[0]))(keys)
    np.testing.assert_array_equal(our_reset, their_reset)

    rng = np.random.default_rng(0)
    n = 20000
    xy = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
    # half of the states within 0.15 of a wall's line or top, where collisions happen
    lines = np.array([-0.5, -0.49, 0.2, 0.21], np.float32)
    xy[: n // 2, 1] = rng.choice(lines, n // 2) + rng.uniform(-0.15, 0.15, n // 2).astype(np.float32)
    actions = rng.uniform(-1.5, 1.5, (n, 2)).astype(np.float32)

    def their_step(p, a):
        s = theirs.step(theirs.reset(jax.random.PRNGKey(0)).replace(obs=p), a)
        return s.obs, s.reward, s.done

    def our_step(p, a):
        obs, _, r, term, _ = ENV.step(ENV.State(x=p[0], y=p[1], t=jnp.int32(0)), a)
        return obs, r, term.astype(jnp.float32)

    a = jax.jit(jax.vmap(their_step))(xy, actions)
    b = jax.jit(jax.vmap(our_step))(xy, actions)
    for mine, ref in zip(b, a):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(ref))
    moved = np.asarray(b[0])[:, 1] - (xy[:, 1] + np.clip(actions[:, 1], -1, 1) / 10)
    assert np.sum(np.abs(moved) > 1e-6) > 500  # walls and borders did act
    assert 0 < np.sum(np.asarray(b[2])) < n  # some steps end in the zone
