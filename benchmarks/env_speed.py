"""Env speed against raw PyBoy, and 2 async envs against 1, measured side by side in one run.

The raw loop ticks the same frames with the same button presses as the env
(`gb_gym.testing.raw_turn`: the turn protocol `gb_gym.actions.TURN`, hold,
release for the last frames, render only the last), from the same saved
state, so the ratio is the cost of everything the env adds: action lookup,
RAM reads, reward, the observation copy, Gymnasium's wrappers.
Rounds alternate between the two to spread machine noise over both.

    python benchmarks/env_speed.py [--turns 400] [--rounds 7]

The headline, printed last: env_vs_raw_pyboy (>= 0.95 means at most 5% overhead).
"""

from __future__ import annotations

import argparse
import io
import statistics
import time

import gymnasium as gym
import numpy as np

import gb_gym  # noqa: F401
from gb_gym.actions import ENGINEERED
from gb_gym.states import unpack_state
from gb_gym.testing import raw_turn

ENV_ID = "GB/Hopland-v0"


def raw_turns(pb, actions) -> float:
    t = time.perf_counter()
    for a in actions:
        raw_turn(pb, ENGINEERED[a])
    return time.perf_counter() - t


def env_turns(env, actions) -> float:
    t = time.perf_counter()
    for a in actions:
        env.step(a)
    return time.perf_counter() - t


def env_vs_raw(turns: int, rounds: int) -> tuple[float, float, float]:
    # terminate_on="game_over" and a wide time limit: no reset inside a timed round
    env = gym.make(ENV_ID, actions="engineered", terminate_on="game_over", max_episode_steps=10**9)
    env.reset(seed=0)
    start = env.unwrapped.clone_state()
    raw_start = unpack_state(start)[0]  # PyBoy's own state, without gb-gym's checksum header
    pb = env.unwrapped.pyboy  # the raw loop ticks the env's own emulator: only the env's work differs
    rng = np.random.default_rng(0)
    # stay near the start and mostly alive: no game over inside a round
    actions = [int(a) for a in rng.choice([0, 3, 1, 4, 7], size=turns, p=[0.25, 0.25, 0.15, 0.15, 0.2])]
    raw_t, env_t, ratios = [], [], []
    for r in range(rounds + 1):  # round 0 warms up both
        if r % 2:
            env.unwrapped.restore_state(start)
            e = env_turns(env, actions)
            pb.load_state(io.BytesIO(raw_start))
            w = raw_turns(pb, actions)
        else:
            pb.load_state(io.BytesIO(raw_start))
            w = raw_turns(pb, actions)
            env.unwrapped.restore_state(start)
            e = env_turns(env, actions)
        if r:
            raw_t.append(w)
            env_t.append(e)
            ratios.append(w / e)
    assert not env.unwrapped.game_state.game_over, "the benchmark's action mix hit game over; reseed it"
    env.close()
    return turns / statistics.median(raw_t), turns / statistics.median(env_t), statistics.median(ratios)


def vector_speedup(turns: int, rounds: int) -> tuple[float, float, float]:
    def make():
        return gym.make(ENV_ID, actions="engineered", terminate_on="game_over")

    one = gym.vector.SyncVectorEnv([make])
    two = gym.vector.AsyncVectorEnv([make, make])
    one.reset(seed=0)
    two.reset(seed=0)
    rng = np.random.default_rng(1)
    acts = rng.choice([0, 3, 1, 4, 7], size=(turns, 2))
    rates1, rates2 = [], []
    for r in range(rounds + 1):
        t = time.perf_counter()
        for a in acts:
            one.step(a[:1])
        t1 = time.perf_counter() - t
        t = time.perf_counter()
        for a in acts:
            two.step(a)
        t2 = time.perf_counter() - t
        if r:
            rates1.append(turns / t1)
            rates2.append(2 * turns / t2)
    one.close()
    two.close()
    s1, s2 = statistics.median(rates1), statistics.median(rates2)
    return s1, s2, s2 / s1


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--turns", type=int, default=400)
    p.add_argument("--rounds", type=int, default=7)
    args = p.parse_args()
    raw, env, ratio = env_vs_raw(args.turns, args.rounds)
    print(f"raw PyBoy: {raw:,.0f} turns/s   env: {env:,.0f} turns/s   (median of {args.rounds} alternating rounds)")
    s1, s2, speedup = vector_speedup(args.turns // 2, max(3, args.rounds // 2))
    print(f"1 env: {s1:,.0f} turns/s   2 async envs: {s2:,.0f} turns/s")
    print(f"async_2_vs_1: {speedup:.2f}")
    print(f"env_vs_raw_pyboy: {ratio:.3f}")


if __name__ == "__main__":
    main()
