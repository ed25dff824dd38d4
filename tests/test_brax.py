"""Brax adapter (envs/brax_adapter.py): contract, truncation, termination masking.

Brax programs take 15-40 s to compile on CPU, so this file builds ONE env and compiles ONE
program (module fixture `runs`): raw jit(vmap(scan(env.step))) trajectories and the project's
population evaluator, side by side, for the same two policies and the same reset key.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("brax")

import envs  # noqa: E402
from envs.base import Env  # noqa: E402
from policysearch.policy import MLPPolicy  # noqa: E402
from policysearch.rollout import make_population_evaluator  # noqa: E402

EPISODE_LENGTH = 20
RAW_STEPS = 25  # a few steps past the time limit: truncated stays true, t keeps counting


@pytest.fixture(scope="module")
def env():
    return envs.make("hopper", backend="spring", episode_length=EPISODE_LENGTH)


@pytest.fixture(scope="module")
def policy(env):
    # normalize_observations: as recommended for Brax; also makes the rollout track obs stats
    return MLPPolicy.for_env(env, hidden_sizes=(2,), normalize_observations=True)


def constant_action_params(policy, bias):
    """Flat params whose action is low + (tanh(bias) + 1)/2 (high - low), whatever the obs."""
    tree = policy.unflatten(jnp.zeros(policy.num_params, jnp.float32))
    last = sorted(tree["params"])[-1]
    tree["params"][last]["bias"] = jnp.full(policy.action_size, bias, jnp.float32)
    return policy.flatten(tree)


@pytest.fixture(scope="module")
def runs(env, policy):
    # row 0: action 0 (hopper stands for > 20 steps); row 1: action -1 (falls at step 8);
    # row 2: row 1's actions times 10 -> clipped in env.step to the same -1.
    zero = jnp.zeros(policy.num_params, jnp.float32)
    fall = constant_action_params(policy, -20.0)
    flats = jnp.stack([zero, fall, fall])
    scales = jnp.array([1.0, 1.0, 10.0], jnp.float32)
    evaluate = make_population_evaluator(env, policy, num_episodes=1)
    key = jax.random.PRNGKey(3)

    def raw(flat, scale):
        obs, state = env.reset(jax.random.split(key, 1)[0])  # the evaluator's reset key

        def body(carry, _):
            obs, state = carry
            action = policy.act(flat, obs) * scale
            nobs, state, r, term, trunc = env.step(state, action)
            return (nobs, state), (obs, r, term, trunc, state.t)

        return jax.lax.scan(body, (obs, state), None, length=RAW_STEPS)[1]

    @jax.jit
    def both(flats, scales):
        return jax.vmap(raw)(flats, scales), evaluate(flats[:2], key, None)

    (obs, rew, term, trunc, t), result = both(flats, scales)
    return dict(obs=np.asarray(obs), rew=np.asarray(rew), term=np.asarray(term),
                trunc=np.asarray(trunc), t=np.asarray(t), result=jax.device_get(result))


def test_static_contract(env, policy):
    assert isinstance(env, Env)
    assert (env.name, env.gym_id, env.discrete, env.backend) == ("hopper", None, False, "spring")
    assert env.max_episode_steps == EPISODE_LENGTH == env.episode_length
    assert (env.observation_size, env.action_size) == (11, 3)
    for bound, value in ((env.action_low, -1.0), (env.action_high, 1.0)):
        assert bound.dtype == np.float32 and bound.shape == (3,) and np.all(bound == value)
    assert policy.action_low == (-1.0,) * 3 and policy.action_high == (1.0,) * 3
    # shapes and dtypes of reset/step, traced only (no compilation)
    obs, state = jax.eval_shape(env.reset, jax.random.PRNGKey(0))
    assert (obs.shape, obs.dtype, state.t.shape, state.t.dtype) == ((11,), jnp.float32, (), jnp.int32)
    out = jax.eval_shape(env.step, state, jax.ShapeDtypeStruct((3,), jnp.float32))
    obs2, state2, reward, terminated, truncated = out
    assert (obs2.shape, obs2.dtype) == ((11,), jnp.float32)
    assert jax.tree.structure(state2) == jax.tree.structure(state)
    assert (reward.shape, reward.dtype) == ((), jnp.float32)
    assert (terminated.shape, terminated.dtype) == ((), jnp.bool_)
    assert (truncated.shape, truncated.dtype) == ((), jnp.bool_)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"^unknown brax backend 'warp'; allowed: spring, "
                                         r"positional, generalized, mjx$"):
        envs.make("hopper", backend="warp")
    with pytest.raises(ValueError, match="episode_length"):
        envs.make("hopper", episode_length=0)
    with pytest.raises(ValueError, match="does not|Unsupported backend"):
        envs.make("swimmer", backend="spring")  # brax's swimmer is 'generalized' only


def test_scan_truncation_and_termination(runs):
    steps = np.arange(1, RAW_STEPS + 1)
    assert runs["obs"].shape == (3, RAW_STEPS, 11) and np.isfinite(runs["obs"]).all()
    np.testing.assert_array_equal(runs["t"], np.broadcast_to(steps, (3, RAW_STEPS)))
    # truncation: exactly from step EPISODE_LENGTH on, whatever happens to the hopper
    np.testing.assert_array_equal(runs["trunc"], np.broadcast_to(steps >= EPISODE_LENGTH, (3, RAW_STEPS)))
    # termination from brax's done: zero action stands, full -1 torque falls early
    assert not runs["term"][0, :EPISODE_LENGTH].any()
    assert runs["term"][1, :EPISODE_LENGTH].any()
    # actions outside [-1, 1] are clipped inside step
    np.testing.assert_allclose(runs["obs"][2], runs["obs"][1], rtol=1e-5, atol=1e-5)


def test_rollout_masks_rewards_after_termination(runs):
    res = runs["result"]
    first_done = int(np.argmax(runs["term"][1]))  # index of the terminating step
    assert 0 < first_done < EPISODE_LENGTH - 1
    expected = [runs["rew"][0, :EPISODE_LENGTH].sum(), runs["rew"][1, : first_done + 1].sum()]
    np.testing.assert_allclose(res.returns, expected, rtol=1e-5, atol=1e-4)
    # the terminating step's reward counts, none after it; unmasked sum would differ
    assert abs(runs["rew"][1, :EPISODE_LENGTH].sum() - expected[1]) > 1.0
    np.testing.assert_array_equal(res.episode_length, [EPISODE_LENGTH, first_done + 1])
    # observation statistics cover alive steps only (for obs normalisation)
    visited = np.concatenate([runs["obs"][0, :EPISODE_LENGTH], runs["obs"][1, : first_done + 1]])
    assert res.obs_count == len(visited) and res.nan_count == 0
    np.testing.assert_allclose(res.obs_mean, visited.mean(0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(res.obs_var, visited.var(0), rtol=1e-3, atol=1e-4)


def test_main_job_on_hopper_end_to_end(tmp_path):
    """train (sv_cma_es with the action kernel, tiny) -> run directory with report and policies ->
    evaluate --backend jax. The action kernel here covers the Brax env family through the CLI."""
    import json
    import os

    from helpers import cli

    out = tmp_path / "hopper"
    r = cli("policysearch.train", [
        "env=hopper", "strategy=sv_cma_es", "env.kwargs.episode_length=10", "seeds=1",
        "generations=2", "chunk=2", "episodes=1", "validation_episodes=2",
        "strategy.num_particles=2", "strategy.pop_size=4", "policy.hidden_sizes=[2]",
        "strategy.kernel_space=actions", "strategy.num_probes=4", "progress=false", f"out_dir={out}"])
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(np.isfinite(row["repulsion_ratio"]) for row in rows)
    assert rows[0]["repulsion_ratio"] > 0  # the action kernel pushes
    for name in ("summary.json", "metrics.jsonl", "policies/seed_0.npz", "report/index.html"):
        assert os.path.exists(out / name), name
    meta = json.loads((out / "policies" / "policy.json").read_text())
    assert meta["env_kwargs"]["episode_length"] == 10 and meta["policy"]["normalize_observations"]
    stats = np.load(out / "policies" / "seed_0.npz")
    assert float(stats["obs_count"]) > 0 and np.all(np.asarray(stats["obs_var"]) > 0)
    r = cli("policysearch.evaluate", [str(out), "--episodes", "3", "--backend", "jax"])
    assert r.returncode == 0, r.stderr[-2000:]
    result = json.loads(r.stdout)
    assert result["env"] == "hopper" and np.isfinite(result["seeds"][0]["mean"])
