"""Stage 1: frames annotated by a teacher with `<perception>`, `<reasoning>` and `<answer>`.

Frames come from env rollouts (the game's scripted player with some random
actions, random play, or a saved policy; from the configured levels and saved
states) or are sampled evenly from gameplay videos. The teacher is the
offline RAM teacher (`teacher=ram`), an OpenAI-compatible endpoint
(`teacher=openai`) or a local VLM answering greedily (`teacher=model`).

    python -m vlm_rl.train stages=[annotate] annotate.frames=3000 annotate.teacher=ram
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from gb_gym.actions import ORIGINAL

from ..config import Config
from ..dataset import DatasetWriter
from ..envs import make_env
from ..models.policy import load_model, make_actor, pick_device
from ..perception import scene_facts
from ..rollout import Job, run_episodes
from ..runs import RunDir
from .teachers import Annotation, OpenAITeacher, RamTeacher

log = logging.getLogger(__name__)


def _jobs(cfg: Config, n: int, offset: int) -> list[Job]:
    a = cfg.annotate
    states = [Path(p).read_bytes() for p in a.states]
    levels = [str(lv) for lv in a.levels]
    jobs = []
    for i in range(offset, offset + n):
        state = states[i % len(states)] if states else None
        jobs.append(Job(level=levels[i % len(levels)], seed=int(cfg.seed) * 1_000_003 + i, group=i, state=state))
    return jobs


class _RolloutPolicy:
    """Chooses the played action: the game's scripted player (from the env's info) with epsilon-random
    actions, random play, or a VLM."""

    def __init__(self, kind: str, epsilon: float, rng: np.random.Generator, actor):
        self.kind, self.epsilon, self.rng, self.actor = kind, epsilon, rng, actor

    def _random(self) -> tuple[str, ...]:
        return ORIGINAL[int(self.rng.integers(len(ORIGINAL)))]

    def __call__(self, frames, infos):
        vlm = self.actor.act(frames) if self.actor is not None else None
        out = []
        for k, info in enumerate(infos):
            if vlm is not None:
                played = vlm[k].parsed.buttons if vlm[k].parsed.buttons is not None else self._random()
            elif self.kind == "random" or self.rng.random() < self.epsilon:
                played = self._random()
            else:
                played = info["scripted"][0]
            out.append((list(played), None))
        return out


def rollout_frames(cfg: Config, actor=None) -> Iterator[tuple[np.ndarray, Any, Any, dict]]:
    """(frame, scene, scripted decision, meta) for every turn of annotation rollouts, episode by episode."""
    a = cfg.annotate
    kind = "vlm" if actor is not None else a.policy
    envs = [make_env(cfg.env, ram_info=True) for _ in range(4)]
    spec = envs[0].unwrapped.spec_game  # the config's check made sure it has what the teacher and policy need
    policy = _RolloutPolicy(kind, a.epsilon, np.random.default_rng(cfg.seed), actor)
    episode = 0
    try:
        while True:
            jobs = _jobs(cfg, len(envs), episode)
            for ep in run_episodes(envs, policy, jobs, max_turns=a.max_turns):
                for t, step in enumerate(ep.steps):
                    meta = {"game": spec.name, "level": ep.job.level, "episode": episode, "turn": t, "source": kind}
                    yield step.frame, step.scene, step.scripted, meta
                episode += 1
    finally:
        for e in envs:
            e.close()


def video_frames(paths: list[str], per_video: int) -> Iterator[tuple[np.ndarray, None, None, dict]]:
    """Frames spread evenly over each video, resized to the Game Boy's 160x144."""
    import imageio.v3 as iio
    from PIL import Image

    for v, path in enumerate(paths):
        try:
            total = sum(1 for _ in iio.imiter(path))
        except Exception as e:  # imageio raises plugin-specific errors
            raise ValueError(f"cannot read video {path}: {e}. For MP4 and similar, pip install av") from e
        keep = set(np.linspace(0, total - 1, min(per_video, total)).round().astype(int).tolist())
        for i, frame in enumerate(iio.imiter(path)):
            if i in keep:
                img = Image.fromarray(np.asarray(frame)[..., :3]).resize((160, 144), Image.BILINEAR)
                yield np.asarray(img), None, None, {"episode": v, "turn": i, "source": f"video:{Path(path).name}"}


def annotate(cfg: Config, actor=None) -> Path:
    """Write the annotated dataset to RUN/data (skipped if complete there and resume is on)."""
    a = cfg.annotate
    run = RunDir(cfg.out_dir)
    out = run.data
    if cfg.resume and run.done("annotate"):
        log.info("annotate: %s is complete, skipping", out)
        return out
    if actor is None and a.policy not in ("scripted", "random"):
        model, processor, _ = load_model(cfg.model, pick_device(cfg.device), checkpoint=a.policy)
        actor = make_actor(model, processor, cfg.env.game, cfg.model, cfg.rl)

    sources = video_frames(list(a.videos), int(a.video_frames)) if a.videos else rollout_frames(cfg, actor=actor)
    every = round(1 / a.heldout) if a.heldout > 0 else 0
    writer = DatasetWriter(out)
    n, skipped = a.frames, 0
    bar = tqdm(total=n, desc="annotate", unit="frame")
    if a.teacher == "ram":
        teacher = RamTeacher()
        for frame, scene, decision, meta in sources:
            ann = teacher.annotate(scene, *decision)
            split = "test" if every and meta["episode"] % every == every - 1 else "train"
            writer.add(split, frame, ann.text,
                       {**meta, **_fields(ann), "facts": scene_facts(scene), "bot_reason": decision[1]})
            bar.update(1)
            if sum(writer.counts.values()) >= n:
                break
    else:
        batch = []
        for item in sources:
            batch.append(item)
            if len(batch) >= n:
                break
        for (frame, scene, _, meta), (text, parsed) in zip(batch, _teacher_replies(cfg, [b[0] for b in batch]), strict=True):
            bar.update(1)
            if parsed.buttons is None:
                skipped += 1
                continue
            ann = Annotation(parsed.perception or "", parsed.reasoning or "", parsed.buttons)
            split = "test" if every and meta["episode"] % every == every - 1 else "train"
            extra = {"facts": scene_facts(scene)} if scene is not None else {}
            writer.add(split, frame, ann.text, {**meta, **_fields(ann), "teacher_raw": text, **extra})
    bar.close()
    if every and not writer.counts["test"]:
        log.warning("annotate: no held-out frames (every %d-th episode is held out, and the frames ran out first); "
                    "lower annotate.max_turns or raise annotate.frames", every)
    if not sum(writer.counts.values()):
        writer.abort()  # not complete: a restart must not skip this stage
        if skipped:
            cause = (f"all {skipped} teacher replies were unparsable (no <answer> with valid buttons); check that "
                     "the teacher model follows the prompt's format"
                     + (f" (its raw replies are in {run.teacher_cache})" if a.teacher == "openai" else ""))
        else:
            cause = "no frames came from " + (f"annotate.videos {list(a.videos)}" if a.videos else "the rollouts")
        raise RuntimeError(f"annotate: the dataset in {out} has no frames: {cause}")
    writer.close({"teacher": str(a.teacher), "policy": str(a.policy), "skipped_unparsable": skipped})
    log.info("annotate: %s train / %s held-out frames in %s (%d teacher replies unparsable)",
             writer.counts["train"], writer.counts["test"], out, skipped)
    return out


def _teacher_replies(cfg: Config, frames: list[np.ndarray]) -> Iterator[tuple[str, Any]]:
    """(raw text, parse) per frame from the openai endpoint or a local VLM (greedy)."""
    a, game = cfg.annotate, cfg.env.game
    if a.teacher == "openai":
        o = a.openai
        # the cache survives DatasetWriter's restart (it clears only the splits), so resuming is free
        teacher = OpenAITeacher(o.base_url, o.model, o.api_key_env, upscale=o.upscale, timeout=o.timeout,
                                retries=o.retries, backoff=o.backoff, cache=RunDir(cfg.out_dir).teacher_cache)
        with ThreadPoolExecutor(max_workers=4) as pool:
            yield from pool.map(lambda f: teacher.annotate_frame(f, game), frames)
        log.info("annotate: %d of %d teacher replies came from the cache %s (delete it to ask again)",
                 teacher.cache_hits, len(frames), teacher.cache)
        return
    from ..models import load_policy

    model, processor = load_policy(a.teacher_model, lora=False, dtype="auto", device=pick_device(cfg.device))
    actor = make_actor(model, processor, game, cfg.model, max_new_tokens=a.teacher_max_new_tokens)
    for i in range(0, len(frames), 8):
        for turn in actor.act(frames[i : i + 8], greedy=True):
            yield turn.text, turn.parsed


def _fields(ann: Annotation) -> dict:
    return {"perception": ann.perception, "reasoning": ann.reasoning, "buttons": list(ann.buttons)}
