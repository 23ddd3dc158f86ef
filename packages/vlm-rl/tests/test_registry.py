"""The registries' metadata (needs_values, inputs, options) agree with the functions and drive the config checks."""

import dataclasses
import inspect

import pytest
import torch

from vlm_rl.algos import available_advantages, available_losses, get_advantage_entry, get_loss_entry
from vlm_rl.algos.registry import _ADVANTAGES, BATCH_INPUTS, register_advantage
from vlm_rl.cli import compose
from vlm_rl.config import AlgoCfg, ConfigError

R = torch.tensor([1.0, 0.0, 2.0, 3.0])
TRAJ = torch.tensor([0, 0, 1, 1])
INPUTS = {
    "terminated": torch.tensor([False, True, False, False]),
    "truncated": torch.tensor([False, False, False, True]),
    "next_values": torch.tensor([0.5, 0.0, 1.0, 2.0]),
}
ALGO_FIELDS = {f.name for f in dataclasses.fields(AlgoCfg)}
# the package's own estimators (other tests may register more for a while)
BUILTIN = ["gae", "grpo_outcome", "grpo_outcome_pos", "grpo_process", "grpo_process_pos", "ppo", "ppo_pos",
           "reinforce_pp"]


@pytest.mark.parametrize("name", available_advantages())
def test_needs_values_matches_whether_the_estimator_raises_without_values(name):
    entry = get_advantage_entry(name)
    extra = {k: INPUTS[k] for k in entry.inputs}
    call = lambda values: entry.fn(R, TRAJ, None, values, 0.9, **extra, **entry.kwargs(AlgoCfg()))  # noqa: E731
    if entry.needs_values:
        with pytest.raises(ValueError, match="values"):
            call(None)
    else:
        out = call(None)
        # and values make no difference to an estimator that does not need them
        with_values = call(torch.tensor([100.0, -100.0, 7.0, 3.0]))
        assert torch.equal(out.advantages, with_values.advantages) and torch.equal(out.returns, with_values.returns)
    assert torch.isfinite(call(torch.zeros(4)).advantages).all()


def test_needs_values_flags():
    assert set(BUILTIN) <= set(available_advantages())
    flags = {n: get_advantage_entry(n).needs_values for n in BUILTIN}
    assert flags == {"ppo": True, "ppo_pos": True, "gae": True, "grpo_outcome": False, "grpo_outcome_pos": False,
                     "grpo_process": False, "grpo_process_pos": False, "reinforce_pp": False}


@pytest.mark.parametrize("name", available_advantages())
def test_an_estimators_inputs_and_options_are_keyword_arguments_and_config_fields(name):
    entry = get_advantage_entry(name)
    params = inspect.signature(entry.fn).parameters
    assert set(entry.inputs) <= set(BATCH_INPUTS) and set(entry.inputs) <= set(params)
    assert set(entry.options) <= set(params)
    assert set(entry.options.values()) <= ALGO_FIELDS


@pytest.mark.parametrize("name", available_losses())
def test_a_losss_options_are_keyword_arguments_and_config_fields(name):
    entry = get_loss_entry(name)
    assert set(entry.options) <= set(inspect.signature(entry.fn).parameters)
    assert set(entry.options.values()) <= ALGO_FIELDS


def test_estimator_options_from_the_algo_config():
    algo = AlgoCfg(scope="batch", lam=0.5)
    got = {n: get_advantage_entry(n).kwargs(algo) for n in BUILTIN}
    assert got == {
        "grpo_outcome": {"scope": "batch"}, "grpo_outcome_pos": {"scope": "batch"},
        "grpo_process": {"scope": "batch"}, "grpo_process_pos": {"scope": "batch"},
        "gae": {"lam": 0.5}, "ppo": {}, "ppo_pos": {}, "reinforce_pp": {},
    }
    assert get_advantage_entry("gae").inputs == ("terminated", "next_values")


def test_ppo_clip_options_from_the_algo_config():
    algo = AlgoCfg(clip_low=0.1, clip_high=0.3, dual_clip=5.0, kl_coef=0.02)
    entry = get_loss_entry("ppo_clip")
    assert entry.options == {"eps_low": "clip_low", "eps_high": "clip_high", "dual_clip": "dual_clip",
                             "kl_coef": "kl_coef"}
    assert entry.kwargs(algo) == {"eps_low": 0.1, "eps_high": 0.3, "dual_clip": 5.0, "kl_coef": 0.02}
    assert entry.kwargs(AlgoCfg(dual_clip=None))["dual_clip"] is None


def test_grpo_preset_turns_the_critic_off():
    cfg = compose(["+exp=hopland", "algo=grpo_outcome"])
    assert (cfg.algo.advantage, cfg.algo.critic, cfg.algo.group_size) == ("grpo_outcome", False, 4)


def test_an_estimator_that_needs_values_refuses_a_run_without_critic():
    with pytest.raises(ConfigError, match=r"algo\.advantage=ppo needs critic values: set algo\.critic=true"):
        compose(["+exp=hopland", "algo.advantage=ppo", "algo.critic=false"])


@pytest.fixture
def registered():
    """Register estimators under unique test names, and take them out of the table afterwards."""
    names = []

    def reg(name, **meta):
        def fn(rewards, traj_id, group_id=None, values=None, gamma=1.0):
            raise AssertionError("never called while composing")

        register_advantage(name, **meta)(fn)
        names.append(name)
        return name

    yield reg
    for n in names:
        _ADVANTAGES.pop(n, None)


def test_a_newly_registered_estimator_that_needs_values_demands_the_critic(registered):
    name = registered("test_registry_needs_values", needs_values=True)
    with pytest.raises(ConfigError, match=f"algo.advantage={name} needs critic values"):
        compose(["+exp=hopland", f"algo.advantage={name}", "algo.critic=false"])
    cfg = compose(["+exp=hopland", f"algo.advantage={name}", "algo.critic=true"])
    assert cfg.algo.advantage == name
    # one that needs no values composes without the critic
    free = registered("test_registry_no_values")
    assert compose(["+exp=hopland", f"algo.advantage={free}", "algo.critic=false"]).algo.critic is False


def test_registering_an_unknown_batch_input_is_refused():
    with pytest.raises(ValueError, match="unknown batch inputs \\['rewards_squared'\\]"):
        register_advantage("test_registry_bad_input", inputs=("rewards_squared",))
    assert "test_registry_bad_input" not in available_advantages()
