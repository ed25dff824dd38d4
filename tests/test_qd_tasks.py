"""QDax's QD-RL tasks through the Brax adapter (envs/brax_adapter.py, docs/qd.md "Tasks").

ONE program with two Brax scans is compiled (a Brax compile costs 15-40 s on CPU): for the same
policies and the same initial state, (a) the project's rollout on ``envs.make("hopper_uni")``
(returns and descriptors) and (b) QDax's own scoring function (``scoring_function_brax_envs``:
QDax's env from ``qdax.tasks.brax.v2.create``, its play-step, mask and
``get_feet_contact_proportion``), whose play-step also records the plain envs' computation of
the contacts (``brax.contact.get`` on the link transforms) next to QDax's state descriptor.
The cheap checks (names, bounds, offsets, errors) need no compilation.
"""

from __future__ import annotations

import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("brax")
qdax_envs = pytest.importorskip("qdax.tasks.brax.v2")

import envs  # noqa: E402
from brax import contact as brax_contact  # noqa: E402
from envs import brax_adapter  # noqa: E402
from policysearch.policy import MLPPolicy  # noqa: E402
from policysearch.rollout import make_population_evaluator  # noqa: E402

T = 30
N = 6


def _ours_and_qdax(env, policy, qenv, play_step, task, flats, key, steps):
    """One compiled program: our rollout and QDax's scoring function (QDax's env `qenv`, its
    `play_step`, the task's descriptor extractor) from the same initial state. Returns (ours,
    QDax fitness, QDax descriptor, (state_desc, next_state_desc) of QDax's transitions)."""
    from qdax.tasks.brax.v2.env_creators import scoring_function_brax_envs

    reset_key = jax.random.split(key, 1)[0]  # the evaluator's reset key for one episode

    @jax.jit
    def everything(flats):
        ours = make_population_evaluator(env, policy)(flats, key)
        fit, desc, extra = scoring_function_brax_envs(
            flats, key, steps, lambda _: qenv.reset(reset_key), play_step, qdax_envs.descriptor_extractor[task])
        tr = extra["transitions"]
        return ours, fit, desc, (tr.state_desc, tr.next_state_desc)

    return jax.device_get(everything(flats))


@pytest.fixture(scope="module")
def runs():
    from qdax.tasks.brax.v2.env_creators import make_policy_network_play_step_fn_brax

    env = envs.make("hopper_uni", backend="spring", episode_length=T)
    policy = MLPPolicy.for_env(env, hidden_sizes=(8,))
    flats = jax.vmap(policy.init_flat)(jax.random.split(jax.random.PRNGKey(0), N))
    flats = flats * jnp.array([0.0, 0.3, 1.0, 2.0, 4.0, 8.0])[:, None]  # still .. falls early
    key = jax.random.PRNGKey(1)
    qenv = qdax_envs.create("hopper_uni", episode_length=T, auto_reset=False, backend="spring")
    net = types.SimpleNamespace(apply=lambda flat, obs: policy.act(flat, obs))
    qdax_step = make_policy_network_play_step_fn_brax(qenv, net)
    feet = env._feet_idx

    def play_step(state, params, k):  # QDax's, plus the plain envs' contacts in next_state_desc
        state, params, k, tr = qdax_step(state, params, k)
        plain = brax_adapter.feet_contact(brax_contact.get(qenv.sys, state.pipeline_state.x), feet)
        return state, params, k, tr.replace(next_state_desc=plain)

    ours, fit, desc, raw = _ours_and_qdax(env, policy, qenv, play_step, "hopper_uni", flats, key, T)
    return dict(env=env, ours=ours, fit=fit, desc=desc, raw=raw)


def test_descriptor_and_return_match_qdax_scoring(runs):
    ours, env = runs["ours"], runs["env"]
    assert ours.descriptors.shape == (N, 1)
    np.testing.assert_allclose(ours.returns, runs["fit"], rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(ours.descriptors, runs["desc"], rtol=0, atol=1e-6)
    d = ours.descriptors
    assert np.all((d >= env.descriptor_low) & (d <= env.descriptor_high))
    lengths = ours.episode_length
    assert lengths.min() < T and lengths.max() == T  # terminations are masked the same way
    assert len(np.unique(d.round(4))) > 2  # not a constant descriptor


def test_plain_env_computes_qdax_state_descriptor(runs):
    qdax_sd, plain_next = runs["raw"]  # QDax's before each step; ours after each step
    assert qdax_sd.shape == (N, T, 1)
    np.testing.assert_array_equal(plain_next[:, :-1], qdax_sd[:, 1:])
    assert 0 < qdax_sd.mean() < 1  # feet on and off the ground


def test_names_bounds_offsets_without_compiling():
    assert set(brax_adapter.QDAX_TASKS) <= set(envs.BRAX_NAMES)
    # plain envs' offsets are QDax's for the task with the same reward
    for plain, task in (("hopper", "hopper_uni"), ("walker2d", "walker2d_uni"),
                        ("halfcheetah", "halfcheetah_uni"), ("ant", "ant_uni"), ("humanoid", "humanoid_uni")):
        assert brax_adapter.PLAIN_REWARD_OFFSET[plain] == qdax_envs.reward_offset[task]
    from qdax.tasks.brax.v2.wrappers.locomotion_wrappers import FEET_NAMES

    for name, feet in brax_adapter.FEET_NAMES.items():
        assert list(feet) == FEET_NAMES[name]
    expected = {  # name: (descriptor names, low, high, QDax reward offset)
        "hopper_uni": (("foot_contact",), 0.0, 1.0, 0.9),
        "walker2d_uni": (("foot_contact", "foot_left_contact"), 0.0, 1.0, 1.413),
        "halfcheetah_uni": (("bfoot_contact", "ffoot_contact"), 0.0, 1.0, 9.231),
        "ant_omni": (("x_pos", "y_pos"), -30.0, 30.0, 3.0),
        "ant": (("x_pos", "y_pos"), -30.0, 30.0, 3.24),
        "walker2d": (("foot_contact", "foot_left_contact"), 0.0, 1.0, 1.413),
    }
    for name, (names, low, high, offset) in expected.items():
        env = envs.make(name, episode_length=50)
        assert env.descriptor_names == names, name
        assert env.descriptor_low.dtype == np.float32 and np.all(env.descriptor_low == low)
        assert np.all(env.descriptor_high == high) and env.descriptor_low.shape == (len(names),)
        assert env.qd_offset == pytest.approx(offset * 50)
    # ant_omni: QDax's reward without the forward term (its NoForwardRewardWrapper)
    assert type(envs.make("ant_omni").brax_env).__name__ == "NoForwardRewardWrapper"
    with pytest.raises(NotImplementedError, match="reacher"):
        envs.make("reacher", episode_length=5).descriptor_init(None, None)


class _ClipShim:
    """jax.numpy with the `jnp.clip(x, a_min=, a_max=)` keywords jax 0.10 removed (QDax 0.5.0's
    XYPositionWrapper still passes them); everything else is jax.numpy itself."""

    def __getattr__(self, name):
        return getattr(jnp, name)

    @staticmethod
    def clip(x, a_min=None, a_max=None, **kw):
        return jnp.clip(x, kw.get("min", a_min), kw.get("max", a_max))


@pytest.fixture(scope="module")
def ant_runs():
    """ant_omni: our rollout against QDax's own task (its XYPositionWrapper, made runnable with a
    clip shim) and its scoring function with `get_final_xy_position`, in one compiled program."""
    from qdax.tasks.brax.v2.env_creators import make_policy_network_play_step_fn_brax
    from qdax.tasks.brax.v2.wrappers import locomotion_wrappers

    t = 20
    env = envs.make("ant_omni", backend="spring", episode_length=t)
    policy = MLPPolicy.for_env(env, hidden_sizes=(4,))
    flats = jax.vmap(policy.init_flat)(jax.random.split(jax.random.PRNGKey(2), 4))
    flats = flats * jnp.array([0.0, 1.0, 4.0, 16.0])[:, None]
    key = jax.random.PRNGKey(3)
    saved = locomotion_wrappers.jnp
    locomotion_wrappers.jnp = _ClipShim()
    try:
        qenv = qdax_envs.create("ant_omni", episode_length=t, auto_reset=False, backend="spring")
        net = types.SimpleNamespace(apply=lambda flat, obs: policy.act(flat, obs))
        play_step = make_policy_network_play_step_fn_brax(qenv, net)
        ours, fit, desc, _ = _ours_and_qdax(env, policy, qenv, play_step, "ant_omni", flats, key, t)
    finally:
        locomotion_wrappers.jnp = saved
    return dict(env=env, ours=ours, fit=fit, desc=desc)


def test_ant_omni_final_xy_and_return_match_qdax(ant_runs):
    ours = ant_runs["ours"]
    assert ours.descriptors.shape == (4, 2)
    np.testing.assert_allclose(ours.returns, ant_runs["fit"], rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(ours.descriptors, ant_runs["desc"], rtol=0, atol=1e-5)
    moved = np.linalg.norm(ours.descriptors - ours.descriptors[0], axis=1)
    assert moved[1:].max() > 1e-3  # the policies end in different places (not a constant descriptor)
