"""Sharded training of the policy (FSDP2, `torch.distributed.fsdp.fully_shard`), for models whose weights,
gradients and optimizer state do not fit on one device.

Launched with accelerate's FSDP config (`accelerate launch --config_file .../conf/accelerate/fsdp.yaml`),
which sets ACCELERATE_USE_FSDP / FSDP_VERSION for every process: that file is the one switch. We apply
torch's `fully_shard` ourselves rather than through `Accelerator.prepare`, because accelerate 1.16 turns
its FSDP plugin off on CPU processes (they come out MULTI_CPU), and the same code then runs on CPU (gloo,
as the tests do) and GPU (NCCL).

Each decoder layer (the model's `_no_split_modules`) and then the whole model becomes one FSDP unit: its
parameters are DTensors sharded over every process, gathered layer by layer in forward and backward,
and their gradients reduce-scattered on the last micro-batch's backward. The CNN critic is not sharded.
Whole weights are needed to generate (each process samples a different number of tokens, so per-layer
gathers could not line up across processes): `full_params` gathers them for that while. To save, rank 0
gets them on its CPU (`full_state_dict`) and writes the same safetensors as an unsharded run.
Optimizer state is saved whole (`WholeOptimizer`), keyed like a plain optimizer's, so a
checkpoint is the same safetensors files sharded or not.
"""

from __future__ import annotations

import contextlib
import os

import torch
from torch import nn

from .config import ConfigError


def fsdp_launched() -> bool:
    """True under `accelerate launch` with an FSDP config; an FSDP version other than 2 is refused."""
    if os.environ.get("ACCELERATE_USE_FSDP", "false").lower() != "true":
        return False
    version = os.environ.get("FSDP_VERSION", "1")
    if version != "2":
        raise ConfigError(
            f"the accelerate config asks for FSDP version {version}; vlm-rl shards with FSDP2 only: set "
            "fsdp_version: 2 in its fsdp_config (see vlm_rl/conf/accelerate/fsdp.yaml)"
        )
    return True


def check_launch(model_cfg) -> None:
    """Refuse, before any model loads, a sharded launch this code cannot run."""
    if not fsdp_launched():
        return
    _mixed_precision()
    if model_cfg.load_in_4bit:
        raise ConfigError("model.load_in_4bit=true under the FSDP config: 4-bit weights cannot be sharded; "
                          "use LoRA over bf16 weights, or launch without --config_file .../fsdp.yaml")


def _mixed_precision() -> object | None:
    """bf16 compute over fp32 sharded weights when the accelerate config says mixed_precision: bf16."""
    from torch.distributed.fsdp import MixedPrecisionPolicy

    mp = os.environ.get("ACCELERATE_MIXED_PRECISION", "no")
    if mp == "no":
        return None
    if mp != "bf16":
        raise ConfigError(f"mixed_precision: {mp} in the accelerate config: FSDP here supports no or bf16")
    return MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)


def _units(model: nn.Module) -> list[nn.Module]:
    """The modules to shard one by one: the layers HF models name in `_no_split_modules` (the outer VLM's
    and each inner model's: Idefics3 names only its vision attention, its Llama text model the decoder layer)."""
    names = {n for m in model.modules() for n in (getattr(m, "_no_split_modules", None) or ())}
    units = [m for m in model.modules() if type(m).__name__ in names]
    if not units:
        raise ValueError(f"{type(model).__name__} names no layers to shard (no _no_split_modules)")
    # nested units (an attention block inside a layer) would only add gathers: keep the outermost
    inner = {id(c) for u in units for c in u.modules() if c is not u}
    return [u for u in units if id(u) not in inner]


def shard(model: nn.Module, device: str, world: int) -> nn.Module:
    """Shard `model` in place over `world` processes on `device` ('cpu' or 'cuda:N'); returns it."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard, register_fsdp_forward_method

    mesh = init_device_mesh(torch.device(device).type, (world,))
    kw = {"mesh": mesh}
    if (mp := _mixed_precision()) is not None:
        kw["mp_policy"] = mp
    for unit in _units(model):
        fully_shard(unit, **kw)
    fully_shard(model, **kw)
    # generate() runs the vision tower before the model's forward: FSDP must see the root enter first
    register_fsdp_forward_method(model, "generate")
    # every loss is already divided by the token count of every process's micro-batches: sum, not average
    for m in model.modules():
        if is_sharded(m):
            m.set_gradient_divide_factor(1.0)
            m.set_force_sum_reduction_for_comms(True)  # a plain SUM: gloo has no pre-multiplied sum
    return model


def is_sharded(model: nn.Module) -> bool:
    from torch.distributed.fsdp import FSDPModule

    return isinstance(model, FSDPModule)


@contextlib.contextmanager
def full_params(model: nn.Module):
    """Every process holds the whole weights (plain tensors) inside the block: to generate, evaluate or
    save. Every process must enter it (it all-gathers). A no-op for an unsharded model."""
    if not is_sharded(model):
        yield
        return
    units = [m for m in model.modules() if is_sharded(m)]
    for m in units:
        m.set_reshard_after_forward(False, recurse=False)  # forwards inside the block must not reshard
        m.unshard()
    try:
        yield
    finally:
        for m in units:
            m.reshard()
            m.set_reshard_after_forward(m is not model, recurse=False)  # fully_shard's defaults


def full_state_dict(model: nn.Module) -> dict[str, torch.Tensor] | None:
    """A sharded model's whole state dict, on process 0's CPU ({} on the others), for `save_policy`; None
    for an unsharded model (it saves its own). A collective: every process calls it."""
    if not is_sharded(model):
        return None
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))


def set_gradient_sync(model: nn.Module, sync: bool) -> None:
    """Accumulate gradients locally (sync=False) until the last micro-batch of an optimizer step."""
    if is_sharded(model):
        model.set_requires_gradient_sync(sync)


class WholeOptimizer:
    """A sharded model's optimizer as checkpoint.py sees a plain one: `state_dict()` is the whole state on
    the CPU, keyed by parameter index as a plain optimizer's is (so checkpoints do not depend on sharding),
    `load_state_dict()` keeps this process's shards of such a state."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer):
        self.model, self.optimizer = model, optimizer

    def state_dict(self) -> dict:
        """A collective: every process calls it (outside `full_params`); process 0 gets the state, the others {}."""
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

        sd = get_optimizer_state_dict(self.model, self.optimizer,
                                      options=StateDictOptions(full_state_dict=True, cpu_offload=True))
        if not sd:
            return {}
        index, groups, n = {}, [], 0
        for g in sd["param_groups"]:
            index.update({name: n + i for i, name in enumerate(g["params"])})
            groups.append({**g, "params": list(range(n, n + len(g["params"])))})
            n += len(g["params"])
        return {"state": {index[name]: s for name, s in sd["state"].items()}, "param_groups": groups}

    def load_state_dict(self, sd: dict) -> None:
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

        by_id = {id(p): name for name, p in self.model.named_parameters()}
        names = [by_id[id(p)] for g in self.optimizer.param_groups for p in g["params"]]
        state = {names[int(i)]: s for i, s in sd["state"].items()}
        groups = [{**g, "params": [names[int(i)] for i in g["params"]]} for g in sd["param_groups"]]
        set_optimizer_state_dict(self.model, self.optimizer, {"state": state, "param_groups": groups},
                                 options=StateDictOptions(full_state_dict=True))
