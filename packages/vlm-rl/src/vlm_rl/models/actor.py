"""The VLM actor: batched turns with the exact token ids and log-probs, and their re-scoring for PPO.

One turn = one fresh single-turn prompt (text, then the frame) and one sampled response. A `Turn`
keeps the processor's prompt ids and the sampled response ids, never re-tokenised text, so the
PPO update scores exactly what was sampled. Pixels are not stored: `collate` re-runs the
(deterministic) processor on the turn's raw frames, which costs far less memory than pixel tensors
(an upscaled frame through SmolVLM's processor is ~30 MB of floats, the raw frame 69 KB).

Sampling uses top_k=0 and the log-probs are those of softmax((logits with never-sampled tokens
masked) / temperature), the same function `logprobs` applies when re-scoring. With top_p < 1 the
sampler truncates that distribution while the stored log-probs do not (as verl and TRL do).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

import gb_gym
from vlm_rl.parsing import ParsedResponse, parse_response
from vlm_rl.prompts import build_messages

_TURN_END_TOKENS = ("<end_of_utterance>", "<|im_end|>")
_MARK = "\x00RESPONSE\x00"
# Processor outputs with one entry per token (Qwen-VL's M-RoPE needs the modality of each token).
_TOKEN_ALIGNED = ("mm_token_type_ids", "token_type_ids")


@dataclass
class Turn:
    frames: np.ndarray  # (n_history + 1, H, W, 3) uint8, oldest first, as observed (before upscaling)
    prompt_ids: torch.Tensor  # (P,) int64: the processor's ids, no padding
    response_ids: torch.Tensor  # (R,) int64: sampled ids, ending with the stop token unless truncated
    logprobs: torch.Tensor  # (R,) float32: log-prob of each response token under the sampling policy
    text: str = ""
    parsed: ParsedResponse | None = None
    truncated: bool = False  # hit max_new_tokens before a stop token


@dataclass
class Batch:
    """Turns laid out as [left pad][prompt][response][right pad]; responses start at column `prompt_len`."""

    input_ids: torch.Tensor  # (B, P + R)
    attention_mask: torch.Tensor  # (B, P + R)
    response_ids: torch.Tensor  # (B, R), pad where response_mask is False
    response_mask: torch.Tensor  # (B, R) bool
    old_logprobs: torch.Tensor  # (B, R), 0 where masked
    prompt_len: int
    # Token-aligned extras (e.g. Qwen's mm_token_type_ids, (B, P + R)) and pixel inputs.
    extras: dict[str, torch.Tensor] = field(default_factory=dict)
    images: dict[str, torch.Tensor] = field(default_factory=dict)

    def to(self, device) -> Batch:
        move = lambda d: {k: v.to(device) for k, v in d.items()}  # noqa: E731
        return Batch(self.input_ids.to(device), self.attention_mask.to(device), self.response_ids.to(device),
                     self.response_mask.to(device), self.old_logprobs.to(device), self.prompt_len,
                     move(self.extras), move(self.images))

    def model_inputs(self) -> dict[str, torch.Tensor]:
        inputs = {"input_ids": self.input_ids, "attention_mask": self.attention_mask, **self.extras, **self.images}
        # Positions as `generate` makes them for left-padded rows. M-RoPE models (image_grid_thw)
        # derive theirs from the attention mask and mm_token_type_ids themselves.
        if "image_grid_thw" not in self.images:
            inputs["position_ids"] = (self.attention_mask.long().cumsum(-1) - 1).clamp(min=0)
        return inputs


def _hf_model(model):
    return model.get_base_model() if hasattr(model, "get_base_model") else model


@contextlib.contextmanager
def _sampling_state(model):
    """Eval mode, and a generation_config with token ids only so that hub defaults
    (Qwen3-VL ships top_k=20, top_p=0.8, temperature=0.7) cannot leak into sampling."""
    from transformers import GenerationConfig

    hf = _hf_model(model)
    saved, was_training = hf.generation_config, model.training
    ids = {k: getattr(saved, k) for k in ("bos_token_id", "eos_token_id", "pad_token_id")}
    hf.generation_config = GenerationConfig(**ids)
    model.eval()
    try:
        yield
    finally:
        hf.generation_config = saved
        model.train(was_training)


class VLMActor:
    def __init__(self, model, processor, game: str, *, upscale: int = 1, n_history: int = 0,
                 max_new_tokens: int = 256, temperature: float = 1.0, top_p: float = 1.0, share_prefix: bool = True,
                 prompt_style: str = "paper"):
        if not isinstance(upscale, int) or upscale < 1:
            raise ValueError(f"Invalid upscale: {upscale!r}. Expecting an integer >= 1.")
        if temperature <= 0:
            raise ValueError(f"Invalid temperature: {temperature}. Expecting > 0 (use act(greedy=True) for argmax).")
        if not 0 < top_p <= 1:
            raise ValueError(f"Invalid top_p: {top_p}. Expecting 0 < top_p <= 1.")
        if n_history < 0 or max_new_tokens < 1:
            raise ValueError(f"Invalid n_history={n_history} / max_new_tokens={max_new_tokens}.")
        self.model, self.processor, self.game = model, processor, game
        self.upscale, self.n_history = upscale, n_history
        # The prompt text is the same every turn and comes before the image: its KV cache is computed once per
        # batch instead of once per row (several times faster for short answers on long prompts).
        self.share_prefix = share_prefix
        self.image_token_id = getattr(_hf_model(model).config, "image_token_id", None)
        self.max_new_tokens, self.temperature, self.top_p = max_new_tokens, temperature, top_p
        self.tokenizer = tok = processor.tokenizer
        tok.padding_side = "left"
        self.max_buttons = gb_gym.get_spec(game).max_buttons  # the game's cap: what the prompt says and parsing checks
        messages = build_messages(game, n_history, prompt_style)
        self.prompt = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        self.response_prefix = self._response_prefix(messages)

        self.stop_ids = self._stop_ids()
        self.pad_id = tok.pad_token_id if tok.pad_token_id is not None else self.stop_ids[0]
        vocab = _hf_model(model).get_output_embeddings().weight.shape[0]
        allowed = torch.ones(vocab, dtype=torch.bool)
        special = {t for t, added in tok.added_tokens_decoder.items() if added.special}
        # Special tokens (image, pad, bos, ...) other than the stop tokens would break the next
        # forward or the parse; rows past the tokenizer's vocabulary are untrained padding.
        self.suppress_ids = sorted((special - set(self.stop_ids)) | set(range(len(tok), vocab)))
        allowed[[i for i in self.suppress_ids if i < vocab]] = False
        self.allowed = allowed

    # ---- inputs -------------------------------------------------------------------------------
    def _stop_ids(self) -> list[int]:
        eos = _hf_model(self.model).generation_config.eos_token_id
        ids = list(eos) if isinstance(eos, (list, tuple)) else ([eos] if eos is not None else [])
        vocab = self.tokenizer.get_vocab()
        extra = [self.tokenizer.eos_token_id] + [vocab.get(t) for t in _TURN_END_TOKENS]
        ids += [i for i in extra if i is not None and i not in ids]
        if not ids:
            raise ValueError("The model has no eos_token_id and the tokenizer no end-of-turn token: cannot stop.")
        return ids

    def _response_prefix(self, messages) -> str:
        """What the chat template puts between the generation prompt and an assistant reply (' ' for SmolVLM)."""
        reply = {"role": "assistant", "content": [{"type": "text", "text": _MARK}]}
        try:
            full = self.processor.apply_chat_template([*messages, reply], tokenize=False)
        except Exception:  # a template without assistant turns: assume nothing in between
            return ""
        if not full.startswith(self.prompt) or _MARK not in full:
            return ""
        return full[len(self.prompt) : full.index(_MARK)]

    def _frames(self, obs) -> np.ndarray:
        arr = np.asarray(obs)
        if arr.ndim == 3:
            arr = arr[None]
        k = self.n_history + 1
        if arr.ndim != 4 or arr.shape[0] != k or arr.shape[-1] != 3 or arr.dtype != np.uint8:
            raise ValueError(
                f"Invalid frames: shape {arr.shape}, dtype {arr.dtype}. Expecting uint8 "
                f"{'(H, W, 3)' if k == 1 else ''} or ({k}, H, W, 3) (n_history={self.n_history}, oldest first)."
            )
        return arr

    def _images(self, frames: np.ndarray) -> list[Image.Image]:
        images = [Image.fromarray(f) for f in frames]
        if self.upscale > 1:
            images = [im.resize((im.width * self.upscale, im.height * self.upscale), Image.LANCZOS) for im in images]
        return images

    def prepare(self, frames: Sequence[np.ndarray]):
        """Processor inputs for one turn per env: the prompt text then its image(s), left-padded."""
        if len(frames) == 0:
            raise ValueError("prepare() needs at least one env's frames.")
        images = [self._images(self._frames(f)) for f in frames]
        return self.processor(text=[self.prompt] * len(images), images=images, padding=True, return_tensors="pt")

    # ---- log-probs ----------------------------------------------------------------------------
    def _token_logprobs(self, logits: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor,
                        entropy: bool = False):
        """log softmax(masked logits / T)[ids] for (B, R, V) logits; 0 where mask is False."""
        logits = logits.float() / self.temperature
        logits = logits.masked_fill(~self.allowed.to(logits.device), torch.finfo(logits.dtype).min)
        ids = torch.where(mask, ids, self.stop_ids[0])  # pad ids may be suppressed tokens
        norm = torch.logsumexp(logits, dim=-1)
        lp = torch.where(mask, logits.gather(-1, ids.unsqueeze(-1)).squeeze(-1) - norm, 0.0)
        if not entropy:
            return lp
        probs = torch.softmax(logits, dim=-1)
        ent = torch.where(mask, norm - (probs * logits).sum(-1), 0.0)
        return lp, ent

    # ---- shared prompt prefix ------------------------------------------------------------------
    def _shared_prefix(self, inputs: dict[str, torch.Tensor]) -> int:
        """Length of the token prefix every row shares and no image changes: the prompt text before the
        first image token. Zero (no sharing) with left padding or M-RoPE positions (Qwen-VL)."""
        if not self.share_prefix or "image_grid_thw" in inputs or self.image_token_id is None:
            return 0
        ids, mask = inputs["input_ids"], inputs["attention_mask"]
        hits = (ids[0] == self.image_token_id).nonzero()
        if len(hits) == 0:
            return 0
        p0 = int(hits[0])
        if p0 < 8 or not bool(mask[:, :p0].all()) or not bool((ids[:, :p0] == ids[:1, :p0]).all()):
            return 0
        return p0

    def _prefix_cache(self, inputs: dict[str, torch.Tensor], p0: int):
        """The KV cache of the shared prefix, computed once (batch 1) and repeated over the batch.
        Gradients flow back through the repeat, so training may use it too."""
        out = self.model(
            input_ids=inputs["input_ids"][:1, :p0], attention_mask=inputs["attention_mask"][:1, :p0],
            position_ids=torch.arange(p0, device=inputs["input_ids"].device)[None], use_cache=True, logits_to_keep=1,
        )
        cache = out.past_key_values
        cache.batch_repeat_interleave(inputs["input_ids"].shape[0])
        return cache

    def logprobs(self, batch: Batch, *, return_entropy: bool = False):
        """Per-token log-probs (B, R) of batch.response_ids under the current model (with grad).
        With return_entropy, also the per-token entropy of the same distribution."""
        n_resp = batch.response_ids.shape[1]
        if n_resp == 0:
            empty = batch.old_logprobs.new_zeros(batch.old_logprobs.shape)
            return (empty, empty) if return_entropy else empty
        batch = batch.to(self.device)
        inputs = batch.model_inputs()
        p0 = self._shared_prefix(inputs)
        if p0:
            cache = self._prefix_cache(inputs, p0)
            inputs = {k: (v[:, p0:] if k in ("input_ids", "position_ids") else v) for k, v in inputs.items()}
            inputs["past_key_values"] = cache
        out = self.model(**inputs, use_cache=False, logits_to_keep=n_resp + 1)
        logits = out.logits[:, :-1]  # position t predicts token t + 1
        return self._token_logprobs(logits, batch.response_ids, batch.response_mask, return_entropy)

    @torch.no_grad()
    def reference_logprobs(self, batch: Batch) -> torch.Tensor:
        """Log-probs under the base model (LoRA adapter disabled), e.g. for a KL term."""
        if not hasattr(self.model, "disable_adapter"):
            raise TypeError("reference_logprobs needs a LoRA (peft) policy; for full fine-tuning keep a frozen copy.")
        with self.model.disable_adapter():
            return self.logprobs(batch)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    # ---- acting -------------------------------------------------------------------------------
    @torch.no_grad()
    def act(self, frames: Sequence[np.ndarray], *, greedy: bool = False) -> list[Turn]:
        """One turn for each env's frames (batched generation)."""
        from transformers import GenerationConfig

        frames = [self._frames(f) for f in frames]
        enc = self.prepare(frames).to(self.device)
        sampling = {"do_sample": False} if greedy else {
            "do_sample": True, "temperature": self.temperature, "top_p": self.top_p, "top_k": 0}
        config = GenerationConfig(
            max_new_tokens=self.max_new_tokens, eos_token_id=self.stop_ids, pad_token_id=self.pad_id,
            suppress_tokens=self.suppress_ids, return_dict_in_generate=True, output_logits=True, **sampling,
        )
        with _sampling_state(self.model):
            p0 = self._shared_prefix(enc)
            extra = {"past_key_values": self._prefix_cache(enc, p0)} if p0 else {}
            out = self.model.generate(**enc, generation_config=config, **extra)
        new = out.sequences[:, enc["input_ids"].shape[1] :]
        is_stop = torch.isin(new, torch.tensor(self.stop_ids, device=new.device))
        first_stop = torch.where(is_stop.any(1), is_stop.float().argmax(1), new.shape[1] - 1)
        lengths = first_stop + 1
        mask = torch.arange(new.shape[1], device=new.device)[None] < lengths[:, None]
        logprobs = self._token_logprobs(torch.stack(out.logits, 1), new, mask).cpu()

        turns = []
        for i, n in enumerate(lengths.tolist()):
            ids = new[i, :n].cpu()
            text = self.tokenizer.decode(ids, skip_special_tokens=True)
            turns.append(Turn(
                frames=frames[i], prompt_ids=enc["input_ids"][i][enc["attention_mask"][i].bool()].cpu(),
                response_ids=ids, logprobs=logprobs[i, :n], text=text, parsed=parse_response(text, self.max_buttons),
                truncated=not bool(is_stop[i].any()),
            ))
        return turns

    def teacher_turns(self, frames: Sequence[np.ndarray], texts: Sequence[str], *, stop: bool = True) -> list[Turn]:
        """Turns whose responses are given texts (SFT targets, evaluation): same layout as sampled turns.
        The response is encoded as the chat template would place it, then the stop token; `stop=False`
        leaves the stop token out, for a text that only opens a response (RL's perception targets)."""
        if len(frames) != len(texts):
            raise ValueError(f"{len(frames)} frames but {len(texts)} texts.")
        frames = [self._frames(f) for f in frames]
        enc = self.prepare(frames)
        turns = []
        for i, text in enumerate(texts):
            ids = self.tokenizer(self.response_prefix + text, add_special_tokens=False)["input_ids"]
            ids = torch.tensor([*ids, self.stop_ids[0]] if stop else ids, dtype=torch.long)
            turns.append(Turn(frames=frames[i], prompt_ids=enc["input_ids"][i][enc["attention_mask"][i].bool()],
                              response_ids=ids, logprobs=torch.zeros(len(ids)), text=text,
                              parsed=parse_response(text, self.max_buttons)))
        return turns

    # ---- batching -----------------------------------------------------------------------------
    def collate(self, turns: Sequence[Turn]) -> Batch:
        """Re-batch turns (from any envs and steps) into one padded `Batch` on the CPU."""
        enc = self.prepare([t.frames for t in turns])
        ids, attn = enc["input_ids"], enc["attention_mask"]
        for i, t in enumerate(turns):
            if not torch.equal(ids[i][attn[i].bool()], t.prompt_ids.cpu()):
                raise ValueError(f"Turn {i}: its prompt ids differ from what this actor's processor makes now "
                                 "(another game, prompt or processor made it).")
        n, width = len(turns), max(len(t.response_ids) for t in turns)
        response = torch.full((n, width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((n, width), dtype=torch.bool)
        old = torch.zeros((n, width), dtype=torch.float32)
        for i, t in enumerate(turns):
            r = len(t.response_ids)
            response[i, :r], mask[i, :r], old[i, :r] = t.response_ids, True, t.logprobs
        extras, images = {}, {}
        for key, value in enc.items():
            if key in ("input_ids", "attention_mask"):
                continue
            if key in _TOKEN_ALIGNED:  # responses are plain text: type 0
                extras[key] = torch.cat([value, value.new_zeros((n, width))], 1)
            else:
                images[key] = value
        return Batch(
            input_ids=torch.cat([ids, response], 1), attention_mask=torch.cat([attn, mask.long()], 1),
            response_ids=response, response_mask=mask, old_logprobs=old, prompt_len=ids.shape[1],
            extras=extras, images=images,
        )
