"""Every bad config value fails while composing, before any work, with a message that names the key.

The cases reconstruct the reliability probe's bad overrides (values that used to fail late or be
silently accepted) and more; each must fail in `compose` with the key in the message.
"""

import time

import pytest
from hydra.errors import ConfigCompositionException

from gb_gym import GameSpec, RomInfo
from vlm_rl.cli import check_overrides, compose
from vlm_rl.config import ConfigError, changed_keys, to_yaml

BASE = ["+exp=hopland"]

BAD = [
    # silently accepted before, some harmfully
    "sft.max_grad_norm=-1", "sft.epochs=0.5", "rl.steps=2.5", "rl.eval_every=-1", "resume=maybe",
    "sft.warmup_ratio=2", "annotate.epsilon=2", "+rl.lrr=1e-4", "rl.lrr=1e-4",
    # failed only after work had started
    "rl.checkpoint_every=0", "eval.levels=[9]", "eval.decoding=beam", "sft.log_every=0", "algo.clip_low=1.5",
    "algo.clip_low=-0.1", "algo.clip_high=-1", "algo.dual_clip=0.5", "rl.drop_last_turns=-1",
    "rl.weight_decay=-1", "rl.lr=inf", "sft.lr=nan", "rl.critic.lr=inf", "sft.scheduler=linear",
    "model.dtype=fp8", "annotate.levels=[7]", "env.levels=[0]", "env.eval_levels=[5]", "seed=abc",
    # types
    "rl.lr=abc", "sft.batch_size=big", "rl.trajectories=1.5", "eval.video=sometimes", "threads=-1",
    "env.max_turns=0", "rl.envs=0", "rl.top_p=1.5", "rl.top_p=0", "rl.temperature=0", "algo.gamma=0",
    "algo.gamma=1.5", "algo.lam=2", "algo.kl_coef=-1", "rl.max_new_tokens=0", "rl.minibatch_size=0",
    "rl.micro_batch_size=0", "rl.epochs=0", "rl.critic.minibatch_size=0", "rl.critic.warmup_steps=-1",
    "rl.critic.value_scale=0", "sft.grad_accum=0", "sft.eval_frames=-1", "sft.weight_decay=-0.1",
    "annotate.frames=0", "annotate.heldout=1", "annotate.heldout=-0.5", "annotate.max_turns=0",
    "annotate.teacher=gpt", "annotate.policy=smart", "annotate.openai.timeout=0", "annotate.openai.retries=-1",
    "rl.curriculum=random", "env.reward_per=second", "env.terminate_on=never", "env.death_penalty=-5",
    "env.reward_scale=0", "env.frame_skip=[5]", "env.frame_skip=[0,15]", "env.game=tetris", "model.family=llama",
    "model.upscale=0", "model.lora_r=0", "device=tpu", "stages=[train]", "eval.policies=[best]",
    "eval.episodes=0", "algo.advantage=nope", "algo.loss=nope", "rl.curriculm=uniform", "+sft.epoch=3",
    "annotate.openai.modle=x", "rl.perception_coef=-0.1", "rl.perception_frames=0", "rl.perception_coef=nan",
]

# the key each message must name, where it is not simply the override's key
NAMED = {"+rl.lrr=1e-4": "rl.lr", "rl.lrr=1e-4": "rl.lr", "rl.curriculm=uniform": "rl.curriculum",
         "+sft.epoch=3": "sft.epochs", "annotate.openai.modle=x": "annotate.openai.model", "stages=[train]": "stages"}


def _message(e: BaseException) -> str:
    parts = []
    while e is not None:
        parts.append(str(e))
        e = e.__cause__ or e.__context__
    return " | ".join(parts)


@pytest.mark.parametrize("override", BAD)
def test_a_bad_value_fails_before_any_work_naming_the_key(override):
    key = NAMED.get(override, override.split("=")[0].lstrip("+"))
    t0 = time.perf_counter()
    with pytest.raises((ConfigError, ConfigCompositionException)) as e:
        compose(BASE + [override])
    assert time.perf_counter() - t0 < 5  # composing only: no model, no env
    assert key in _message(e.value), _message(e.value)


def test_cross_field_rules_name_both_keys():
    with pytest.raises(ConfigError, match="rl.micro_batch_size=32 exceeds rl.minibatch_size=16"):
        compose(BASE + ["rl.minibatch_size=16", "rl.micro_batch_size=32"])
    with pytest.raises(ConfigError, match="model.lora and model.full_finetune"):
        compose(BASE + ["model.lora=true"])
    with pytest.raises(ConfigError, match="algo.kl_coef > 0 needs a LoRA policy"):
        compose(BASE + ["algo.kl_coef=0.1"])
    with pytest.raises(ConfigError, match="annotate.teacher=openai needs annotate.openai.model"):
        compose(BASE + ["annotate.teacher=openai"])


@pytest.mark.parametrize("game", ["mario", "kirby"])
def test_the_ram_teacher_composes_for_the_commercial_games(game):
    cfg = compose([f"+exp={game}", "stages=[annotate]", "annotate.teacher=ram"])
    assert (cfg.env.game, cfg.stages, cfg.annotate.teacher) == (game, ["annotate"], "ram")


def test_the_ram_teacher_is_refused_for_a_game_without_a_scene(monkeypatch):
    import gb_gym
    from gb_gym.spec import GameSpec

    monkeypatch.setattr(type(gb_gym.get_spec("kirby")), "scene", GameSpec.scene)  # as before it had one
    with pytest.raises(ConfigError, match="Kirby's Dream Land has no RAM scene description.*annotate.teacher=ram"):
        compose(["+exp=kirby", "stages=[annotate]", "annotate.teacher=ram"])
    compose(["+exp=kirby", "stages=[sft]", "annotate.teacher=ram"])  # no annotate stage: nothing to refuse


def test_a_typo_gets_the_nearest_key():
    with pytest.raises(ConfigError, match=r"unknown config key 'rl.stepz'.*did you mean rl.steps\?"):
        check_overrides(["+rl.stepz=3"])
    check_overrides(["+exp=hopland", "algo=gae", "hydra.run.dir=x", "rl.critic.lr=1e-3"])  # real keys and groups


def test_good_values_compose_to_typed_values():
    cfg = compose(BASE + ["rl.lr=3e-4", "env.levels=[1,3]", "algo=gae", "algo.lam=0.9"])
    assert cfg.rl.lr == pytest.approx(3e-4) and isinstance(cfg.rl.lr, float)
    assert cfg.env.levels == ["1", "3"] and cfg.eval.levels == ["1", "3"]  # interpolated from env.levels
    assert (cfg.algo.advantage, cfg.algo.lam, cfg.algo.critic) == ("gae", 0.9, True)


def test_resuming_with_other_training_settings_is_named():
    saved = to_yaml(compose(BASE))
    assert changed_keys(saved, compose(BASE + ["resume=true", "rl.steps=40", "eval.episodes=8"])) == []
    assert changed_keys(saved, compose(BASE + ["algo=reinforce_pp", "seed=5", "rl.lr=0.01"])) == [
        "algo.advantage", "algo.critic", "algo.name", "rl.lr", "seed"]
    # a run saved before rl.perception_coef existed trained without it: resuming with the schema's default (0,
    # which +exp=hopland overrides) changes nothing, and with the term on it is named
    off = BASE + ["rl.perception_coef=0"]
    older = to_yaml(compose(off)).replace("  perception_coef: 0.0\n", "")
    assert older != to_yaml(compose(off)) and changed_keys(older, compose(off)) == []
    assert changed_keys(older, compose(BASE + ["rl.perception_coef=0.5"])) == ["rl.perception_coef"]


def test_any_game_by_name_or_module_gets_its_defaults_from_the_spec():
    rl = ["stages=[rl,eval]", "rl.init=base"]  # Mario and Kirby have no RAM teacher to annotate with
    cfg = compose(["env.game=mario", *rl])  # conf/env/default.yaml: the game's default level, not Hopland's levels
    assert (cfg.env.game, cfg.env.levels, cfg.eval.levels, cfg.annotate.levels) == ("mario", ["1-1"], ["1-1"], ["1-1"])
    assert cfg.name == "mario-tiny-ppo_pos"
    cfg = compose(["env.game=gb_gym.games.kirby:KirbyDreamLand", *rl])
    assert cfg.env.game == "gb_gym.games.kirby:KirbyDreamLand" and cfg.env.levels == ["1"]
    assert cfg.name == "kirby-tiny-ppo_pos"  # the run is named for the game, not the module path
    sb3 = compose(["env.game=mario"], config_name="sb3")
    assert sb3.env.levels == ["1-1"] and sb3.name == "mario-sb3-engineered"
    with pytest.raises(ConfigError, match=r"invalid env.game='no_such_pkg.mod:Game': cannot load game"):
        compose(["env.game=no_such_pkg.mod:Game"])
    with pytest.raises(ConfigError, match=r"invalid env.levels=\['1'\]: Super Mario Land has levels"):
        compose(["env.game=mario", "env.levels=[1]"], config_name="sb3")


def test_a_null_rom_path_leaves_the_games_own_rom():
    from vlm_rl.config import EnvCfg
    from vlm_rl.envs import env_kwargs

    assert "rom_path" not in env_kwargs(EnvCfg())  # a rom_path given at registration is not overridden
    assert env_kwargs(EnvCfg(rom_path="/my/build/game.gb"))["rom_path"] == "/my/build/game.gb"


class _NoRamDescription(GameSpec):  # a new game with only the required methods
    name, env_id, display_name = "plain", "GB/Plain-v0", "Plain"
    rom = RomInfo(title="HOPLAND", filename="hopland.gb", bundled=True)
    levels, default_level, max_episode_steps = ("1",), "1", 10

    def start(self, session, level, seed): ...

    def read(self, gb): ...


def test_a_game_without_ram_description_is_told_how_to_train_before_any_work():
    game = f"env.game={__name__}:_NoRamDescription"
    with pytest.raises(ConfigError, match=r"Plain has no RAM scene description .* stages=\[rl,eval\] rl.init=base"):
        compose([game])
    with pytest.raises(ConfigError, match="Plain has no RAM scene description"):
        compose([game, "annotate.teacher=openai", "annotate.openai.model=m"])  # the scripted rollout policy
    assert compose([game, "stages=[rl,eval]", "rl.init=base", "eval.policies=[base,rl]"]).env.levels == ["1"]
    assert compose([game, "annotate.teacher=openai", "annotate.openai.model=m", "annotate.policy=random"])


def test_rl_perception_supervision_is_refused_for_a_game_without_a_scene():
    game = f"env.game={__name__}:_NoRamDescription"
    rl_only = ["stages=[rl,eval]", "rl.init=base", "eval.policies=[base,rl]"]
    with pytest.raises(ConfigError, match=r"rl.perception_coef=0.5 needs the RAM teacher.*Plain has no RAM scene "
                                          r"description.*set rl.perception_coef=0"):
        compose([game, *rl_only, "rl.perception_coef=0.5"])
    assert compose([game, *rl_only]).rl.perception_coef == 0  # off by default
    assert compose(["+exp=hopland", "rl.perception_coef=0.5", "rl.perception_frames=8"]).rl.perception_frames == 8
