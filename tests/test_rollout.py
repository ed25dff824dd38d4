import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from policysearch.policy import MLPPolicy
from policysearch.rollout import make_population_evaluator, replace_nonfinite


@flax.struct.dataclass
class CountState:
    x: jax.Array
    t: jax.Array


class CountdownEnv:
    """Reward 1 per step forever; terminates at step `stop` (but keeps paying if stepped on)."""

    observation_size, action_size, discrete = 1, 1, False
    action_low, action_high = np.array([-1.0], np.float32), np.array([1.0], np.float32)

    def __init__(self, stop, max_episode_steps=20):
        self.stop, self.max_episode_steps = stop, max_episode_steps

    def reset(self, key):
        x = jax.random.uniform(key, (1,))
        return x, CountState(x=x, t=jnp.int32(0))

    def step(self, state, action):
        t = state.t + 1
        return state.x, CountState(x=state.x, t=t), jnp.float32(1.0), t >= self.stop, t >= self.max_episode_steps


def _policy(env):
    return MLPPolicy.for_env(env, hidden_sizes=(4,))


def test_rewards_stop_after_termination():
    env = CountdownEnv(stop=5)
    ev = jax.jit(make_population_evaluator(env, _policy(env), num_episodes=3))
    flat = jnp.zeros((2, _policy(env).num_params))
    res = ev(flat, jax.random.PRNGKey(0))
    np.testing.assert_array_equal(res.returns, [5.0, 5.0])
    np.testing.assert_array_equal(res.episode_length, [5.0, 5.0])


def test_rewards_stop_at_truncation():
    env = CountdownEnv(stop=10**6, max_episode_steps=7)
    res = make_population_evaluator(env, _policy(env))(jnp.zeros((1, _policy(env).num_params)), jax.random.PRNGKey(0))
    assert float(res.returns[0]) == 7.0


def test_common_random_numbers_across_population():
    env = envs.make("mountaincar")
    policy = _policy(env)
    ev = jax.jit(make_population_evaluator(env, policy, num_episodes=2))
    p = policy.init_flat(jax.random.key(1))
    q = policy.init_flat(jax.random.key(2))
    pop = jnp.stack([p, q, p, q])
    r1 = ev(pop, jax.random.PRNGKey(7)).returns
    # identical policies in one generation see identical initial states -> identical returns
    assert float(r1[0]) == float(r1[2]) and float(r1[1]) == float(r1[3])
    # the draw is a function of the key: same key same numbers, new key new numbers
    np.testing.assert_array_equal(r1, ev(pop, jax.random.PRNGKey(7)).returns)
    assert not np.array_equal(np.asarray(r1), np.asarray(ev(pop, jax.random.PRNGKey(8)).returns))
    # and the return of a policy does not depend on which other policies are evaluated beside it
    alone = ev(pop[:1], jax.random.PRNGKey(7)).returns
    np.testing.assert_allclose(alone[0], r1[0], rtol=1e-6)


def test_nan_returns_are_worst_and_counted():
    env = envs.make("mountaincar")
    policy = _policy(env)
    ev = jax.jit(make_population_evaluator(env, policy, num_episodes=1))
    good = jnp.stack([policy.init_flat(jax.random.key(i)) for i in range(3)])
    bad = jnp.full((1, policy.num_params), jnp.nan)
    res = ev(jnp.concatenate([good, bad]), jax.random.PRNGKey(0))
    assert int(res.nan_count) == 1
    assert np.all(np.isfinite(res.returns))
    assert float(res.returns[3]) == pytest.approx(float(jnp.min(res.returns[:3])) - 1.0)


def test_replace_nonfinite_all_bad():
    r, n = replace_nonfinite(jnp.array([jnp.nan, jnp.inf, -jnp.inf]))
    assert int(n) == 3 and np.all(r == -1e10)


def test_zero_episodes_rejected():
    env = envs.make("mountaincar")
    with pytest.raises(ValueError, match="num_episodes must be >= 1"):
        make_population_evaluator(env, _policy(env), num_episodes=0)
