"""Env-steps/s of our population rollout vs Gymnasium and vs our bare simulator, in one run.

    python benchmarks/rollout_throughput.py [--env mountaincar --policies 512 --steps 999]

(a) our rollout: MLP policies (2-16-1) evaluated by policysearch.rollout, jit + vmap + scan;
(b) real Gymnasium SyncVectorEnv(64) with the same MLP in numpy;
(c) the simulator limit: our env.step alone under jit(vmap(scan)) with precomputed actions.
Goals: (a) >= 100x (b) and (a) >= 0.5x (c). Times are medians over repeats after compilation.
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

import envs
from policysearch.policy import MLPPolicy
from policysearch.rollout import make_population_evaluator


def _median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def ours(env, policy, n, repeats):
    evaluate = jax.jit(make_population_evaluator(env, policy, num_episodes=1))
    flat = jax.vmap(policy.init_flat)(jax.random.split(jax.random.key(0), n))
    key = jax.random.PRNGKey(1)
    jax.block_until_ready(evaluate(flat, key))
    return n * env.max_episode_steps / _median_time(lambda: evaluate(flat, key).returns, repeats)


def bare_sim(env, n, repeats):
    steps = env.max_episode_steps
    if env.discrete:
        actions = jax.random.randint(jax.random.key(2), (steps, n), 0, env.action_size)
    else:
        actions = jax.random.uniform(jax.random.key(2), (steps, n, env.action_size), minval=-1, maxval=1)

    @jax.jit
    def run(keys, actions):
        _, states = jax.vmap(env.reset)(keys)

        def body(s, a):
            obs, s, r, term, trunc = jax.vmap(env.step)(s, a)
            return s, r

        return jax.lax.scan(body, states, actions)[1]

    keys = jax.random.split(jax.random.key(3), n)
    jax.block_until_ready(run(keys, actions))
    return n * steps / _median_time(lambda: run(keys, actions), repeats)


def gymnasium_vec(env, policy, num_envs, steps):
    import gymnasium as gym

    params = jax.tree.map(np.asarray, policy.unflatten(policy.init_flat(jax.random.key(0))))["params"]
    layers = [params[f"Dense_{i}"] for i in range(len(params))]
    low, high = np.asarray(policy.action_low), np.asarray(policy.action_high)

    def act(obs):
        h = obs
        for layer in layers[:-1]:
            h = np.tanh(h @ layer["kernel"] + layer["bias"])
        out = h @ layers[-1]["kernel"] + layers[-1]["bias"]
        return np.argmax(out, -1) if policy.discrete else low + (np.tanh(out) + 1) * 0.5 * (high - low)

    vec = gym.vector.SyncVectorEnv([lambda: gym.make(env.gym_id) for _ in range(num_envs)])
    obs, _ = vec.reset(seed=0)
    t = time.perf_counter()
    for _ in range(steps):
        obs, *_ = vec.step(act(obs))
    dt = time.perf_counter() - t
    vec.close()
    return num_envs * steps / dt


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--env", default="mountaincar")
    p.add_argument("--policies", type=int, default=512)
    p.add_argument("--gym-envs", type=int, default=64)
    p.add_argument("--gym-steps", type=int, default=2000)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    env = envs.make(args.env)
    policy = MLPPolicy.for_env(env, hidden_sizes=(16,))
    a = ours(env, policy, args.policies, args.repeats)
    c = bare_sim(env, args.policies, args.repeats)
    b = gymnasium_vec(env, policy, args.gym_envs, args.gym_steps)
    print(f"device: {jax.devices()[0].platform}, env {env.gym_id}, {args.policies} policies x {env.max_episode_steps} steps")
    print(f"(a) ours, MLP {policy.num_params} params:   {a / 1e6:8.2f} M steps/s")
    print(f"(b) gymnasium SyncVectorEnv({args.gym_envs}):    {b / 1e6:8.3f} M steps/s")
    print(f"(c) bare env.step scan+vmap:       {c / 1e6:8.2f} M steps/s")
    print(f"ratio (a)/(b) = {a / b:7.1f}x   (goal >= 100x)")
    print(f"ratio (a)/(c) = {a / c:7.2f}x   (goal >= 0.5x)")
    return {"ours": a, "gymnasium": b, "bare": c}


if __name__ == "__main__":
    main()
