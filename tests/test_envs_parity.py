"""Parity of the pure-JAX classic-control ports (envs/) with Gymnasium 1.4 itself.

Every case drives the real Gymnasium env (``gymnasium.make(id)``, TimeLimit included) and our
port with the same policy for a WHOLE episode and compares observations, rewards, terminated and
truncated flags in two ways:

* step-synced: for every step t of the Gymnasium episode, our ``step`` is applied to our state
  built from Gymnasium's state at t (``state_from_array``) with Gymnasium's action, all steps in
  one vmapped call. Must agree on every step at tight float32 tolerance (SYNC_*).
* free-running: our env runs alone from Gymnasium's initial state under one jitted ``lax.scan``
  with the same policy (a linear feedback ``obs @ W + B[t]``, argmax for discrete actions,
  evaluated in float32 the same way on both sides). Non-chaotic cases must agree on the whole
  episode (FREE_*); for chaotic ones (Pendulum under bang-bang torques, balanced CartPole,
  Acrobot) Gymnasium's float64 and our float32 rounding separate after a while, so they must
  agree for at least ``min_free`` steps, and the time-limit flags for the whole episode.
  The undamped Pendulum drifts linearly instead: >= 80 steps at 1e-5, whole episode at 3e-4.

Step-synced checks also compare our next physical state with Gymnasium's (angles may differ by
2*pi only at +-pi). `test_random_states_one_step` does the same from thousands of random states
covering walls, goals, termination thresholds, speed bounds and angle wrapping, and the reset
tests compare our reset distribution with Gymnasium's (KS test + support per state field).

jit is done once per env for each of: the episode scan, the vmapped step, the vmapped reset.
Measured free-running agreement (steps at 1e-5 / episode length), for the record:
MountainCar(Continuous) all whole episodes; Pendulum bang-bang 200/200 for this seed (other
seeds: 40-120), oscillation 86/200;
CartPole falls/out-of-bounds whole, balanced 103/500, drifting out 90/188;
Acrobot random 203/500, swing-up 99/122, 71/82, 69/96.
"""

from __future__ import annotations

import functools
import math

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import envs

SYNC_RTOL, SYNC_ATOL = 2e-6, 2e-6  # one step from the same state: a few float32 ulps
FREE_RTOL, FREE_ATOL = 1e-5, 1e-5  # whole free-running episodes

# the Gymnasium ports (envs.ENV_NAMES also holds registered envs without one, e.g. pointmaze)
PORTS = tuple(envs.GYM_IDS)
ENVS = {name: envs.make(name) for name in PORTS}
F32 = np.float32


# ---------------------------------------------------------------------------------- policies
def _policy_np(env, obs, W, b):
    """obs @ W + b, accumulated left to right in float32 (same order as `_policy_jax`)."""
    acc = b.astype(F32).copy()
    for i in range(env.observation_size):
        acc = acc + F32(obs[i]) * W[i]
    if env.discrete:
        return int(np.argmax(acc))
    return acc.astype(F32)


def _policy_jax(env, obs, W, b):
    acc = b
    for i in range(env.observation_size):
        acc = acc + obs[i] * W[i]
    if env.discrete:
        return jnp.argmax(acc).astype(jnp.int32)
    return acc


def open_loop(env, actions):
    """(W, B) replaying a fixed action sequence."""
    T = env.max_episode_steps
    W = np.zeros((env.observation_size, env.action_size), F32)
    B = np.zeros((T, env.action_size), F32)
    if env.discrete:
        B[np.arange(len(actions)), np.asarray(actions, int)] = 1.0
    else:
        B[: len(actions)] = np.asarray(actions, F32).reshape(len(actions), -1)
    return W, B


def feedback(env, W, bias=None):
    W = np.asarray(W, F32).reshape(env.observation_size, env.action_size)
    B = np.zeros((env.max_episode_steps, env.action_size), F32)
    if bias is not None:
        B[:] = np.asarray(bias, F32)
    return W, B


# ---------------------------------------------------------------------------------- jitted ours
@functools.lru_cache(maxsize=None)
def rollout_fn(name):
    """jit(state0, W, B) -> per-step (obs, reward, terminated, truncated, action) for T steps."""
    env = ENVS[name]

    def rollout(state0, W, B):
        def body(carry, b):
            obs, state = carry
            action = _policy_jax(env, obs, W, b)
            obs2, state2, r, te, tr = env.step(state, action)
            return (obs2, state2), (obs2, r, te, tr, action)

        _, out = jax.lax.scan(body, (env.observation(state0), state0), B)
        return out

    return jax.jit(rollout)


@functools.lru_cache(maxsize=None)
def synced_step_fn(name):
    return jax.jit(jax.vmap(ENVS[name].step))


@functools.lru_cache(maxsize=None)
def reset_fn(name):
    return jax.jit(jax.vmap(ENVS[name].reset))


# ---------------------------------------------------------------------------------- gymnasium side
def _gym_obs(u):
    if hasattr(u, "_get_obs"):  # pendulum
        return u._get_obs()
    if hasattr(u, "_get_ob"):  # acrobot
        return u._get_ob()
    return np.array(u.state, dtype=F32)


def gym_episode(name, seed, W, B, init=None):
    """Run Gymnasium until terminated/truncated; returns dict of per-step arrays."""
    env = ENVS[name]
    g = gym.make(env.gym_id)
    u = g.unwrapped
    obs, _ = g.reset(seed=seed)
    if init is not None:
        u.state = np.array(init, dtype=np.float64)
        obs = _gym_obs(u)
    state0 = env.state_from_gym(u, t=0)
    keys = ("state", "next_state", "action", "obs", "reward", "terminated", "truncated")
    rec = {k: [] for k in keys}
    for t in range(env.max_episode_steps):
        action = _policy_np(env, obs, W, B[t])
        rec["state"].append(np.array(u.state, dtype=np.float64))
        obs, reward, terminated, truncated, _ = g.step(action)
        rec["next_state"].append(np.array(u.state, dtype=np.float64))
        rec["action"].append(action)
        rec["obs"].append(np.asarray(obs, F32))
        rec["reward"].append(float(reward))
        rec["terminated"].append(bool(terminated))
        rec["truncated"].append(bool(truncated))
        if terminated or truncated:
            break
    g.close()
    out = {k: np.asarray(v) for k, v in rec.items()}
    out["state0"] = state0
    out["n"] = len(out["reward"])
    return out


def _pad(x, T):
    pad = [(0, T - len(x))] + [(0, 0)] * (x.ndim - 1)
    return np.pad(x, pad, mode="edge")


# ---------------------------------------------------------------------------------- comparisons
ANGLE_FIELDS = {"pendulum": (0,), "acrobot": (0, 1)}  # wrapped to [-pi, pi] in our state


def assert_state_close(name, ours, gym_state, rtol, atol):
    """Our physical state vs Gymnasium's (float64, canonicalised like `state_from_gym`).

    Angles must be wrapped like Gymnasium's; at +-pi itself either end is accepted."""
    env = ENVS[name]
    theirs = env._canonical_gym_state(np.asarray(gym_state, np.float64))
    ours = np.array(ours, np.float64)
    for j in ANGLE_FIELDS.get(name, ()):
        at_pi = np.abs(np.abs(theirs[..., j]) - math.pi) < 1e-5
        d = ours[..., j] - theirs[..., j]
        d_mod = np.mod(d + math.pi, 2 * math.pi) - math.pi
        ours[..., j] = np.where(at_pi, theirs[..., j] + d_mod, ours[..., j])
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, err_msg=f"{name} state")


def synced(name, states, actions, t):
    """Our step on a batch of Gymnasium-layout states, in chunks of the jitted batch size."""
    env = ENVS[name]
    T, n = env.max_episode_steps, len(states)
    outs = []
    for i in range(0, n, T):
        k = min(T, n - i)
        s = env.state_from_array(
            _pad(np.asarray(states[i : i + k]), T), t=_pad(np.asarray(t[i : i + k]), T)
        )
        a = _pad(np.asarray(actions[i : i + k]), T)
        a = a.astype(np.int32) if env.discrete else a.astype(F32)
        obs, state, rew, term, trunc = jax.device_get(synced_step_fn(name)(s, a))
        outs.append((obs[:k], env.state_to_array(state)[:k], rew[:k], term[:k], trunc[:k]))
    return [np.concatenate(x) for x in zip(*outs)]


def compare_synced(name, ep):
    n = ep["n"]
    obs, next_state, rew, term, trunc = synced(name, ep["state"], ep["action"], np.arange(n))
    assert_state_close(name, next_state, ep["next_state"], SYNC_RTOL, SYNC_ATOL)
    np.testing.assert_allclose(obs[:n], ep["obs"], rtol=SYNC_RTOL, atol=SYNC_ATOL)
    np.testing.assert_allclose(rew[:n], ep["reward"], rtol=SYNC_RTOL, atol=SYNC_ATOL)
    np.testing.assert_array_equal(term[:n], ep["terminated"])
    np.testing.assert_array_equal(trunc[:n], ep["truncated"])
    assert obs.dtype == np.float32 and rew.dtype == np.float32
    assert term.dtype == np.bool_ and trunc.dtype == np.bool_


def free_horizon(name, ep, W, B):
    """Run ours free; return (number of leading steps that agree, our outputs)."""
    env = ENVS[name]
    n = ep["n"]
    obs, rew, term, trunc, act = jax.device_get(rollout_fn(name)(ep["state0"], W, B))
    ok_obs = np.all(np.isclose(obs[:n], ep["obs"], rtol=FREE_RTOL, atol=FREE_ATOL), axis=1)
    ok_rew = np.isclose(rew[:n], ep["reward"], rtol=FREE_RTOL, atol=FREE_ATOL)
    gym_act = np.asarray(ep["action"])
    if env.discrete:
        ok_act = act[:n] == gym_act
    else:
        ok_act = np.all(np.isclose(act[:n], gym_act, rtol=FREE_RTOL, atol=FREE_ATOL), axis=1)
    ok = ok_obs & ok_rew & ok_act & (term[:n] == ep["terminated"])
    # the time limit does not depend on the physics: it must match on the whole episode
    np.testing.assert_array_equal(trunc[:n], ep["truncated"])
    bad = np.flatnonzero(~ok)
    return (int(bad[0]) if bad.size else n), (obs, rew, term, trunc)


def check_case(name, seed, W, B, init=None, min_free=None, drift_tol=None):
    """Synced on every step + free-running for the whole episode (or >= min_free steps).

    `drift_tol`: for sensitive but non-chaotic cases, the whole free-running episode must also
    agree at this looser tolerance (float32 vs float64 rounding drifts linearly there).
    """
    ep = gym_episode(name, seed, W, B, init)
    compare_synced(name, ep)
    horizon, (obs, rew, _, _) = free_horizon(name, ep, W, B)
    HORIZONS[(name, seed, None if init is None else tuple(init))] = (horizon, ep["n"])
    need = ep["n"] if min_free is None else min(min_free, ep["n"])
    msg = f"{name}: free-running agreed for {horizon}/{ep['n']} steps, need {need}"
    assert horizon >= need, msg
    if drift_tol is not None:
        n = ep["n"]
        np.testing.assert_allclose(obs[:n], ep["obs"], rtol=drift_tol, atol=drift_tol)
        np.testing.assert_allclose(rew[:n], ep["reward"], rtol=drift_tol, atol=drift_tol)
    return ep, horizon


HORIZONS: dict = {}  # (env, seed, init) -> (free-running steps in agreement, episode length)


# ====================================================================== MountainCarContinuous
def test_mountaincar_continuous_random_big_actions_truncates_at_999():
    env = ENVS["mountaincar"]
    rng = np.random.default_rng(0)
    actions = rng.uniform(-3.0, 3.0, size=(env.max_episode_steps, 1)).astype(F32)
    ep, _ = check_case("mountaincar", 0, *open_loop(env, actions))
    assert ep["n"] == 999 and ep["truncated"][-1] and not ep["truncated"][:-1].any()
    assert not ep["terminated"].any()
    assert np.abs(ep["action"]).max() > 2.0  # clipping exercised


def test_mountaincar_continuous_wall_hit_then_goal():
    # a = 100 v (clipped to [-1, 1]): drives into the left wall, then pumps up to the goal
    env = ENVS["mountaincar"]
    W, B = feedback(env, [[0.0], [100.0]])
    ep, _ = check_case("mountaincar", 1, W, B, init=[-1.0, -0.07])
    x, v = ep["obs"][:, 0], ep["obs"][:, 1]
    prev_v = np.concatenate([[-0.07], v[:-1]])
    wall = (x == F32(-1.2)) & (v == 0.0) & (prev_v < 0)
    assert wall.any(), "the episode must hit the left wall with negative velocity"
    assert ep["terminated"][-1] and ep["reward"][-1] > 90.0 and x[-1] >= F32(0.45)
    assert ep["n"] < 999


def test_mountaincar_continuous_goal_from_reset():
    env = ENVS["mountaincar"]
    W, B = feedback(env, [[0.0], [100.0]])
    for seed in (2, 3):
        ep, _ = check_case("mountaincar", seed, W, B)
        assert ep["terminated"][-1] and ep["reward"][-1] > 90.0
        assert np.abs(ep["action"]).max() > 2.0  # penalty on the unclipped action


# ====================================================================== MountainCar (discrete)
def test_mountaincar_discrete_random_truncates_at_200():
    env = ENVS["mountaincar_discrete"]
    actions = np.random.default_rng(1).integers(0, 3, size=env.max_episode_steps)
    ep, _ = check_case("mountaincar_discrete", 4, *open_loop(env, actions))
    assert ep["n"] == 200 and ep["truncated"][-1] and not ep["terminated"].any()


def test_mountaincar_discrete_wall_hit_then_goal():
    env = ENVS["mountaincar_discrete"]
    # logits (-v, 0, v): push along the velocity (energy pumping)
    W, B = feedback(env, [[0.0, 0.0, 0.0], [-1.0, 0.0, 1.0]])
    ep, _ = check_case("mountaincar_discrete", 5, W, B, init=[-1.1, -0.06])
    x, v = ep["obs"][:, 0], ep["obs"][:, 1]
    assert ((x == F32(-1.2)) & (v == 0.0)).any(), "must hit the left wall"
    assert ep["terminated"][-1] and x[-1] >= 0.5 and ep["n"] < 200
    ep, _ = check_case("mountaincar_discrete", 6, W, B)
    assert ep["terminated"][-1]


# ====================================================================== Pendulum
def test_pendulum_random_torques_truncates_at_200():
    # bang-bang torques (|a| up to 5, clipped to 2) repeatedly swing the pendulum through the
    # unstable top: float64 vs float32 rounding gets amplified there, so free-running is only
    # required to agree for a while; step-synced must agree on all 200 steps.
    env = ENVS["pendulum"]
    actions = np.random.default_rng(2).uniform(-5.0, 5.0, size=(env.max_episode_steps, 1))
    ep, _ = check_case("pendulum", 7, *open_loop(env, actions), min_free=30)
    assert ep["n"] == 200 and ep["truncated"][-1] and not ep["terminated"].any()


@pytest.mark.parametrize(
    "init,torque", [([3.0, 7.0], 5.0), ([-50.0, -7.5], -2.0), ([100.0, 0.5], 0.0)]
)
def test_pendulum_spinning_angle_wrapping(init, torque):
    # many revolutions: Gymnasium's theta grows unbounded (float64), ours is kept wrapped.
    # Not chaotic, but an undamped oscillator: float32 rounding shifts the phase a little every
    # step (linear drift, ~1e-7/step), so free-running must agree at 1e-5 for >= 80 steps and
    # at drift_tol for the whole 200.
    env = ENVS["pendulum"]
    W, B = feedback(env, np.zeros((3, 1)), bias=[torque])
    ep, _ = check_case("pendulum", 8, W, B, init=init, min_free=80, drift_tol=3e-4)
    assert ep["n"] == 200 and ep["truncated"][-1]
    theta = ep["state"][:, 0]
    if torque != 0.0:
        assert np.abs(theta[-1] - theta[0]) > 6 * math.pi, "must spin several revolutions"
    if abs(torque) > 2.0:
        assert (np.abs(ep["state"][:, 1]) == 8.0).any(), "speed clip must be exercised"


# ====================================================================== CartPole
def test_cartpole_pole_falls():
    env = ENVS["cartpole"]
    for seed in (9, 10, 11):
        actions = np.random.default_rng(seed).integers(0, 2, size=env.max_episode_steps)
        ep, _ = check_case("cartpole", seed, *open_loop(env, actions))
        assert ep["terminated"][-1] and ep["n"] < 100
        theta = ep["obs"][-1, 2]
        assert abs(theta) > env.theta_threshold_radians and abs(ep["obs"][-1, 0]) <= 2.4
        assert np.all(ep["reward"] == 1.0)


def test_cartpole_cart_out_of_bounds():
    env = ENVS["cartpole"]
    W, B = feedback(env, [[0.0, 0.0], [0.0, 0.0], [0.0, 1.0], [0.0, 0.5]])  # balance the pole
    ep, _ = check_case("cartpole", 12, W, B, init=[2.2, 1.0, 0.0, 0.0])
    assert ep["terminated"][-1] and ep["obs"][-1, 0] > 2.4
    assert abs(ep["obs"][-1, 2]) < env.theta_threshold_radians
    # slow drift to the edge while balancing: chaotic bang-bang control, synced + >= 60 free
    ep, h = check_case("cartpole", 1, *feedback(env, W, bias=[0.0, -0.05]), min_free=60)
    assert ep["terminated"][-1] and abs(ep["obs"][-1, 0]) > 2.4 and ep["n"] > 100


def test_cartpole_balanced_truncates_at_500():
    env = ENVS["cartpole"]
    W, B = feedback(env, [[0.0, 0.05], [0.0, 0.0], [0.0, 1.0], [0.0, 0.5]])
    ep, _ = check_case("cartpole", 13, W, B, min_free=60)
    assert ep["n"] == 500 and ep["truncated"][-1] and not ep["terminated"].any()


# ====================================================================== Acrobot
def test_acrobot_random_truncates_at_500():
    env = ENVS["acrobot"]
    actions = np.random.default_rng(14).integers(0, 3, size=env.max_episode_steps)
    ep, _ = check_case("acrobot", 14, *open_loop(env, actions), min_free=100)
    assert ep["n"] == 500 and ep["truncated"][-1]


def test_acrobot_swing_up_terminates_with_wrapping():
    # torque along dtheta2 pumps energy: terminates in ~60-130 steps with several wraps.
    # Chaotic and energetic: free-running float32 vs float64 agree at 1e-5 for ~65-100 steps.
    env = ENVS["acrobot"]
    W, B = feedback(env, np.r_[np.zeros((5, 3)), [[-1.0, 0.0, 1.0]]])
    wraps = 0
    for seed in (0, 3, 4):
        ep, _ = check_case("acrobot", seed, W, B, min_free=60)
        assert ep["terminated"][-1] and ep["reward"][-1] == 0.0
        assert np.all(ep["reward"][:-1] == -1.0)
        wraps += int((np.abs(np.diff(ep["state"][:, :2], axis=0)) > math.pi).sum())
    assert wraps > 0, "angle wrapping must be exercised"


# ====================================================================== random states
def _random_states(name, rng, n):
    """(states, actions): float32-representable Gymnasium-layout states incl. walls, goals,
    termination thresholds and speed bounds."""
    env = ENVS[name]
    u = lambda lo, hi, size=n: rng.uniform(lo, hi, size)  # noqa: E731
    if name in ("mountaincar", "mountaincar_discrete"):
        goal = env.goal_position
        x, v = u(-1.2, 0.6), u(-0.07, 0.07)
        m = n // 5
        x[:m], v[:m] = -1.2, u(-0.07, 0.01, m)  # at the left wall
        x[m : 2 * m], v[m : 2 * m] = u(goal - 0.02, goal + 0.02, m), u(-0.01, 0.01, m)  # goal
        x[2 * m : 3 * m], v[2 * m : 3 * m] = u(-1.2, -1.13, m), u(-0.07, -0.03, m)  # into the wall
        states = np.stack([x, v], -1)
        actions = rng.integers(0, 3, n) if env.discrete else u(-3.0, 3.0).reshape(n, 1)
    elif name == "pendulum":
        states = np.stack([u(-20.0, 20.0), u(-8.0, 8.0)], -1)
        actions = u(-4.0, 4.0).reshape(n, 1)
    elif name == "cartpole":
        states = np.stack([u(-2.6, 2.6), u(-3.0, 3.0), u(-0.25, 0.25), u(-3.0, 3.0)], -1)
        actions = rng.integers(0, 2, n)
    elif name == "acrobot":
        v1, v2 = 4 * math.pi, 9 * math.pi
        states = np.stack([u(-math.pi, math.pi), u(-math.pi, math.pi), u(-v1, v1), u(-v2, v2)], -1)
        actions = rng.integers(0, 3, n)
    else:  # pragma: no cover
        raise AssertionError(name)
    states = states.astype(F32).astype(np.float64)
    actions = actions.astype(np.int64) if env.discrete else actions.astype(F32)
    return states, actions


# Acrobot's RK4 step over 0.2 s at the largest allowed speeds (|dtheta2| up to 9 pi) is badly
# conditioned: moving the float64 input by ONE float32 ulp moves Gymnasium's own next state by
# more than 2e-6 relative for ~5% of uniformly drawn states (up to ~7e-5). Tolerance to match.
RANDOM_STATE_TOL = {"acrobot": 2e-4}


@pytest.mark.parametrize("name", PORTS)
def test_random_states_one_step(name):
    """One step from many states covering walls, goals, thresholds, speed bounds and wrapping."""
    env = ENVS[name]
    tol = RANDOM_STATE_TOL.get(name, SYNC_RTOL)
    T = env.max_episode_steps
    n = 2 * T if T >= 500 else 4 * T
    rng = np.random.default_rng(100 + PORTS.index(name))
    states, actions = _random_states(name, rng, n)
    t = rng.integers(0, T, n)
    t[: n // 10] = T - 1
    u = gym.make(env.gym_id).unwrapped
    u.reset(seed=0)
    rec = {k: [] for k in ("obs", "reward", "terminated", "next_state")}
    for s, a in zip(states, actions):
        # MountainCarContinuous keeps its state in float32 after the first step
        u.state = s.astype(F32) if name == "mountaincar" else s.copy()
        if name == "cartpole":
            u.steps_beyond_terminated = None
        obs, reward, terminated, _, _ = u.step(int(a) if env.discrete else a)
        rec["obs"].append(obs)
        rec["reward"].append(float(reward))
        rec["terminated"].append(terminated)
        rec["next_state"].append(np.array(u.state, np.float64))
    obs, next_state, rew, term, trunc = synced(name, states, actions, t)
    assert_state_close(name, next_state, np.asarray(rec["next_state"]), tol, tol)
    np.testing.assert_allclose(obs, np.asarray(rec["obs"]), rtol=tol, atol=tol)
    np.testing.assert_allclose(rew, rec["reward"], rtol=tol, atol=tol)
    np.testing.assert_array_equal(term, rec["terminated"])
    np.testing.assert_array_equal(trunc, t + 1 >= T)
    if name in ("mountaincar", "mountaincar_discrete", "cartpole", "acrobot"):
        assert 0 < np.sum(term) < n  # both outcomes occur


# ====================================================================== resets
@pytest.mark.parametrize("name", PORTS)
def test_reset_distribution_matches_gymnasium(name):
    env = ENVS[name]
    n = 1000
    obs, state = reset_fn(name)(jax.random.split(jax.random.PRNGKey(42), n))
    ours = env.state_to_array(jax.device_get(state))
    assert obs.shape == (n, env.observation_size) and obs.dtype == jnp.float32
    assert np.all(np.asarray(state.t) == 0)
    g = gym.make(env.gym_id)
    g.reset(seed=7)
    theirs = []
    for _ in range(n):
        g.reset()
        theirs.append(np.array(g.unwrapped.state, dtype=np.float64))
    theirs = np.asarray(theirs)
    if name == "pendulum":  # our theta is stored wrapped; the reset range is within [-pi, pi]
        theirs = env._canonical_gym_state(theirs)
    for j, field in enumerate(env.STATE_FIELDS):
        a, b = ours[:, j], theirs[:, j]
        if np.ptp(b) == 0.0:
            np.testing.assert_array_equal(a, b, err_msg=f"{name}.{field}")
            continue
        # same support: extremes of 1000 uniform samples lie within ~0.5% of the range ends
        assert abs(a.min() - b.min()) < 0.02 * np.ptp(b), f"{name}.{field} min"
        assert abs(a.max() - b.max()) < 0.02 * np.ptp(b), f"{name}.{field} max"
        p = stats.ks_2samp(a, b).pvalue
        assert p > 1e-3, f"{name}.{field}: KS p={p:.2e}"
    np.testing.assert_allclose(
        np.asarray(obs), np.asarray(jax.vmap(env.observation)(state)), rtol=0, atol=0
    )


# ====================================================================== JAX transforms
@pytest.mark.parametrize("name", PORTS)
def test_jit_vmap_scan(name):
    """reset under jit+vmap (reset_fn), then a vmapped lax.scan episode under jit."""
    env = envs.make(name, max_episode_steps=20)
    steps, batch = 25, 4
    obs0, state0 = reset_fn(name)(jax.random.split(jax.random.PRNGKey(0), 1000))
    state0 = jax.tree.map(lambda x: x[:batch], state0)
    rng = np.random.default_rng(0)
    if env.discrete:
        actions = rng.integers(0, env.action_size, (batch, steps)).astype(np.int32)
    else:
        actions = rng.uniform(-3.0, 3.0, (batch, steps, env.action_size)).astype(F32)

    def episode(state, actions):
        def body(state, a):
            obs, state, r, te, tr = env.step(state, a)
            return state, (obs, r, te, tr)

        return jax.lax.scan(body, state, actions)

    state, (obs, rew, term, trunc) = jax.jit(jax.vmap(episode))(state0, actions)
    assert obs0.shape == (1000, env.observation_size) and obs0.dtype == jnp.float32
    assert obs.shape == (batch, steps, env.observation_size) and obs.dtype == jnp.float32
    assert rew.shape == (batch, steps) and rew.dtype == jnp.float32
    assert term.shape == trunc.shape == (batch, steps)
    assert term.dtype == jnp.bool_ and trunc.dtype == jnp.bool_
    assert state.t.dtype == jnp.int32 and np.all(np.asarray(state.t) == steps)
    assert np.all(np.isfinite(np.asarray(obs))) and np.all(np.isfinite(np.asarray(rew)))
    expected = np.arange(1, steps + 1) >= 20
    np.testing.assert_array_equal(np.asarray(trunc), np.broadcast_to(expected, (batch, steps)))
    # same results as stepping one env at a time without transformations
    s1 = jax.tree.map(lambda x: x[1], state0)
    for k in range(3):
        o, s1, r, te, tr = env.step(s1, actions[1, k])
        np.testing.assert_allclose(np.asarray(o), np.asarray(obs[1, k]), rtol=1e-6, atol=1e-6)


# ====================================================================== registry / API
def test_make_names_and_ids():
    names = ("mountaincar", "mountaincar_discrete", "pendulum", "cartpole", "acrobot")
    assert PORTS == names and envs.ENV_NAMES == names + ("pointmaze",)
    assert envs.GYM_IDS == {
        "mountaincar": "MountainCarContinuous-v0",
        "mountaincar_discrete": "MountainCar-v0",
        "pendulum": "Pendulum-v1",
        "cartpole": "CartPole-v1",
        "acrobot": "Acrobot-v1",
    }
    expected = {  # (obs size, action size, discrete, max steps)
        "mountaincar": (2, 1, False, 999),
        "mountaincar_discrete": (2, 3, True, 200),
        "pendulum": (3, 1, False, 200),
        "cartpole": (4, 2, True, 500),
        "acrobot": (6, 3, True, 500),
    }
    for name, gym_id in envs.GYM_IDS.items():
        a, b = envs.make(name), envs.make(gym_id)
        assert type(a) is type(b) and a.name == name and a.gym_id == gym_id
        sizes = (a.observation_size, a.action_size, a.discrete, a.max_episode_steps)
        assert sizes == expected[name]
        g = gym.make(gym_id)
        assert g.spec.max_episode_steps == a.max_episode_steps
        assert g.observation_space.shape == (a.observation_size,)
        if a.discrete:
            assert g.action_space.n == a.action_size and a.action_low is None
        else:
            assert a.action_low.dtype == np.float32 and a.action_high.dtype == np.float32
            np.testing.assert_array_equal(a.action_low, g.action_space.low)
            np.testing.assert_array_equal(a.action_high, g.action_space.high)
    assert envs.make("pendulum", g=9.81).g == 9.81
    assert envs.make("cartpole", max_episode_steps=7).max_episode_steps == 7


def test_unknown_name_raises_one_line_value_error():
    with pytest.raises(ValueError, match=r"^unknown env 'x'; valid names: mountaincar, ") as err:
        envs.make("x")
    msg = str(err.value)
    assert "\n" not in msg
    for name in list(envs.ENV_NAMES) + list(envs.GYM_IDS.values()):
        assert name in msg


def test_brax_names_are_delegated(monkeypatch):
    assert "halfcheetah" in envs.BRAX_NAMES and "hopper" in envs.BRAX_NAMES
    sentinel = object()
    monkeypatch.setattr(envs, "_brax_factory", lambda name, **kw: (sentinel, name, kw))
    assert envs.make("hopper", x=1) == (sentinel, "hopper", {"x": 1})
    with pytest.raises(ValueError, match="unknown env"):
        envs.make("HalfCheetah-v5")


def test_brax_missing_gives_install_hint(monkeypatch):
    import sys

    monkeypatch.setattr(envs, "_brax_factory", None)
    monkeypatch.delitem(sys.modules, "envs.brax_adapter", raising=False)
    monkeypatch.setitem(sys.modules, "brax", None)  # makes `import brax...` fail
    monkeypatch.setitem(sys.modules, "brax.envs", None)
    with pytest.raises(ImportError, match=r"brax.*pip install -e \.\[brax\]") as err:
        envs.make("halfcheetah")
    assert "\n" not in str(err.value)
