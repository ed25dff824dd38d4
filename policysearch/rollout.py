"""Fitness of flat policy parameters on an environment: the one rollout path of the project.

`episode` runs one episode under `lax.scan` for the env's full time limit; rewards stop
accumulating after termination or truncation (no auto-reset mid-episode). Everything else
(populations, several episodes, trajectories for reports) is vmap around it.

Behaviour descriptors (docs/qd.md): when asked, `episode` threads the env's descriptor
accumulator (`env.descriptor_init/update/final`, envs/base.py) through the same scan, with the
same alive mask as the rewards, and returns the episode's raw descriptor.
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp

from .policy import MLPPolicy, ObsNormState

WORST_RETURN = -1e10  # used when no return in a batch is finite


@flax.struct.dataclass
class RolloutResult:
    returns: jax.Array  # [N] mean return over episodes, non-finite mapped to the worst value
    nan_count: jax.Array  # int32: how many of the N returns were NaN/inf
    finite: jax.Array  # [N] bool: the return was finite (before the mapping above)
    obs_mean: jax.Array  # [obs] mean of the observations visited (alive steps only)
    obs_var: jax.Array  # [obs]
    obs_count: jax.Array  # number of observations those statistics cover
    episode_length: jax.Array  # [N] mean number of steps before termination/truncation
    descriptors: jax.Array  # [N, D] behaviour descriptor, mean over the episodes (D = 0 when off)


def episode(env, policy: MLPPolicy, flat, reset_key, obs_stats=None, record=False, max_steps=None,
            track_observations=None, descriptor=False):
    """One episode of `policy` (flat params) from `env.reset(reset_key)`.

    Observation sums are gathered when `track_observations` (default: when the policy
    normalises observations; the function-space kernel's probes need them too).

    Returns (total_reward, length, obs_sum, obs_sq_sum, trajectory, descriptor) where trajectory
    is (observations[T, obs], actions[T, ...], alive[T]) when `record` else None, and descriptor
    the env's raw behaviour descriptor float32[D] when `descriptor` else None.
    """
    steps = int(max_steps or env.max_episode_steps)
    obs, state = env.reset(reset_key)
    params = policy.unflatten(flat)  # once per episode, not per step
    track_obs = policy.normalize_observations if track_observations is None else bool(track_observations)
    acc0 = env.descriptor_init(obs, state) if descriptor else None

    def step(carry, _):
        obs, state, total, done, length, osum, osq, acc = carry
        alive = ~done
        action = policy.act_params(params, obs, obs_stats)
        next_obs, next_state, reward, terminated, truncated = env.step(state, action)
        total = total + jnp.where(alive, reward, 0.0)
        length = length + alive.astype(jnp.int32)
        if track_obs:  # statistics for observation normalisation, alive steps only
            seen = jnp.where(alive, obs, 0.0)  # where, not a 0-weight: a NaN after the end stays out
            osum, osq = osum + seen, osq + seen * seen
        if descriptor:
            acc = env.descriptor_update(acc, obs, action, next_obs, next_state, alive)
        done = done | terminated | truncated
        out = (obs, action, alive) if record else None
        return (next_obs, next_state, total, done, length, osum, osq, acc), out

    zeros = jnp.zeros_like(obs, dtype=jnp.float32)
    init = (obs, state, jnp.float32(0.0), jnp.bool_(False), jnp.int32(0), zeros, zeros, acc0)
    (_, _, total, _, length, osum, osq, acc), traj = jax.lax.scan(step, init, None, length=steps)
    desc = jnp.asarray(env.descriptor_final(acc, length), jnp.float32) if descriptor else None
    return total, length, osum, osq, traj, desc


def replace_nonfinite(returns):
    """Map NaN/inf returns to the worst value (1 below the worst finite one); count them."""
    finite = jnp.isfinite(returns)
    worst_finite = jnp.min(jnp.where(finite, returns, jnp.inf))
    worst = jnp.where(jnp.any(finite), worst_finite - 1.0, WORST_RETURN)
    return jnp.where(finite, returns, worst), jnp.sum(~finite).astype(jnp.int32)


def make_population_evaluator(env, policy: MLPPolicy, num_episodes: int = 1, max_steps=None,
                              track_observations=None, descriptors=None):
    """Build `evaluate(flat[N, d], key, obs_stats) -> RolloutResult`.

    `track_observations` (default: `policy.normalize_observations`): gather the visited
    observations' statistics (obs_mean / obs_var / obs_count; zeros and count 0 otherwise).
    `descriptors` (default: when the env defines a behaviour descriptor): `descriptors[N, D]`
    is each policy's raw descriptor averaged over its episodes (the mean, like the return; a
    [N, 0] array when off).

    Common random numbers: all N policies see the same `num_episodes` initial states, drawn
    from `key` (use a fresh key per generation for a fresh draw).
    """
    if int(num_episodes) < 1:
        raise ValueError(f"num_episodes must be >= 1, got {num_episodes}")
    track = policy.normalize_observations if track_observations is None else bool(track_observations)
    with_desc = bool(getattr(env, "descriptor_names", ())) if descriptors is None else bool(descriptors)

    def per_policy(flat, reset_keys, obs_stats):
        def run(k):
            total, length, osum, osq, _, desc = episode(
                env, policy, flat, k, obs_stats, max_steps=max_steps, track_observations=track,
                descriptor=with_desc)
            return total, length, osum, osq, (desc if with_desc else jnp.zeros(0, jnp.float32))

        return jax.vmap(run)(reset_keys)

    def evaluate(flat_params, key, obs_stats: ObsNormState | None = None) -> RolloutResult:
        reset_keys = jax.random.split(key, num_episodes)
        totals, lengths, osum, osq, desc = jax.vmap(per_policy, in_axes=(0, None, None))(
            flat_params, reset_keys, obs_stats
        )
        raw = jnp.mean(totals, axis=1)
        returns, nan_count = replace_nonfinite(raw)
        # observation statistics only exist when the policy normalises observations
        count = jnp.sum(lengths).astype(jnp.float32) * float(track)
        safe = jnp.maximum(count, 1.0)
        mean = jnp.sum(osum, axis=(0, 1)) / safe
        var = jnp.maximum(jnp.sum(osq, axis=(0, 1)) / safe - mean**2, 0.0)
        return RolloutResult(
            returns=returns,
            nan_count=nan_count,
            finite=jnp.isfinite(raw),
            obs_mean=mean,
            obs_var=var,
            obs_count=count,
            episode_length=jnp.mean(lengths.astype(jnp.float32), axis=1),
            descriptors=jnp.mean(desc, axis=1),
        )

    return evaluate


def record_trajectories(env, policy: MLPPolicy, flat_params, reset_keys, obs_stats=None, max_steps=None):
    """Trajectories of several policies from shared initial states (for reports).

    Returns dict of arrays with leading axes [N, E, T]: observations, actions, alive, and
    returns [N, E].
    """

    def one(flat, key):
        total, _, _, _, (obs, act, alive), _ = episode(
            env, policy, flat, key, obs_stats, record=True, max_steps=max_steps
        )
        return total, obs, act, alive

    per_policy = lambda flat: jax.vmap(lambda k: one(flat, k))(reset_keys)
    totals, obs, act, alive = jax.jit(jax.vmap(per_policy))(flat_params)
    return {"returns": totals, "observations": obs, "actions": act, "alive": alive}
