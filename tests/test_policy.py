import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from policysearch.policy import MLPPolicy, ObsNormState, flatten, num_params, unflatten


@pytest.mark.parametrize("hidden", [(16,), (8, 4), ()])
def test_flatten_unflatten_round_trip(hidden):
    env = envs.make("mountaincar")
    policy = MLPPolicy.for_env(env, hidden_sizes=hidden)
    params = policy.init_params(jax.random.key(3))
    flat = flatten(params)
    assert flat.shape == (policy.num_params,) == (num_params(params),)
    back = unflatten(flat, params)
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(back)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(flatten(policy.unflatten(flat)), flat)
    # MLP 2-16-1 of the source documents has 65 parameters
    if hidden == (16,):
        assert policy.num_params == 65


def test_continuous_actions_respect_bounds():
    env = envs.make("pendulum")
    policy = MLPPolicy.for_env(env, hidden_sizes=(8,))
    flat = policy.init_flat(jax.random.key(0)) * 100.0  # saturating weights
    obs = jax.random.normal(jax.random.key(1), (64, env.observation_size)) * 10
    acts = jax.vmap(lambda o: policy.act(flat, o))(obs)
    assert acts.shape == (64, 1)
    assert float(acts.min()) >= -2.0 and float(acts.max()) <= 2.0
    assert float(acts.max()) > 1.9  # squashing reaches the bounds


def test_discrete_actions_are_argmax_ints():
    env = envs.make("cartpole")
    policy = MLPPolicy.for_env(env, hidden_sizes=(4,), activation="relu")
    flat = policy.init_flat(jax.random.key(0))
    obs = jnp.ones(env.observation_size)
    a = policy.act(flat, obs)
    assert a.dtype == jnp.int32 and a.shape == ()
    logits = policy.module.apply(policy.unflatten(flat), obs)
    assert int(a) == int(jnp.argmax(logits))


def test_bad_activation_is_one_clear_error():
    with pytest.raises(ValueError, match="unknown activation 'nope'; allowed: tanh"):
        MLPPolicy(observation_size=2, action_size=1, discrete=True, activation="nope")


def test_obs_normalisation_merges_batches_exactly():
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(1000, 3)).astype(np.float32)
    s = ObsNormState.create(3)
    assert np.allclose(s.normalize(jnp.asarray(x[0])), x[0])  # identity before any update
    for chunk in np.split(x, 4):
        s = s.update(chunk.mean(0), chunk.var(0), float(len(chunk)))
    np.testing.assert_allclose(s.mean, x.mean(0), rtol=1e-5)
    np.testing.assert_allclose(s.var, x.var(0), rtol=1e-4)
    z = s.normalize(jnp.asarray(x))
    np.testing.assert_allclose(np.asarray(z).mean(0), 0.0, atol=1e-4)
