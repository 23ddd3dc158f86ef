"""SFT's batch order: every epoch a fresh permutation, and a resumed run sees exactly the batches it would have."""

import pytest

import vlm_rl.stages.sft as sft_mod
from vlm_rl.cli import compose
from vlm_rl.dataset import load_split
from vlm_rl.runs import RunDir
from vlm_rl.train import train

from .test_train import FAST


def test_each_epoch_is_a_new_permutation_of_full_batches():
    n, bs, seed = 23, 4, 7
    per_epoch = n // bs
    for epoch in range(3):
        batches = [sft_mod.batch_indices(n, bs, seed, epoch * per_epoch + b) for b in range(per_epoch)]
        seen = [i for b in batches for i in b]
        assert all(len(b) == bs for b in batches)
        assert len(set(seen)) == len(seen) == per_epoch * bs  # nobody twice; the 3 left over sit out
    first = [sft_mod.batch_indices(n, bs, seed, b) for b in range(per_epoch)]
    second = [sft_mod.batch_indices(n, bs, seed, per_epoch + b) for b in range(per_epoch)]
    assert first != second
    assert sorted(sft_mod.batch_indices(3, 8, seed, 5)) == [0, 1, 2]  # fewer examples than a batch: one short batch


class _Killed(Exception):
    pass


def test_a_killed_sft_resumes_with_the_batches_it_would_have_seen(tmp_path, monkeypatch):
    opts = FAST + ["sft.epochs=2", "sft.grad_accum=2", "resume=true"]
    train(compose(opts + [f"out_dir={tmp_path}", "stages=[annotate]"]))
    cfg = compose(opts + [f"out_dir={tmp_path}"])
    seen: list[int] = []
    real_indices, real_save = sft_mod.batch_indices, sft_mod.save_checkpoint

    def recording(n, bs, seed, index):
        seen.append(index)
        return real_indices(n, bs, seed, index)

    def save_then_die(root, step, **kw):
        real_save(root, step, **kw)
        raise _Killed(step)

    monkeypatch.setattr(sft_mod, "batch_indices", recording)
    monkeypatch.setattr(sft_mod, "save_checkpoint", save_then_die)
    with pytest.raises(_Killed) as killed:
        sft_mod.sft(cfg)
    step = killed.value.args[0]
    before = list(seen)
    assert before == list(range(2 * step))  # two micro-batches per optimiser step

    monkeypatch.setattr(sft_mod, "save_checkpoint", real_save)
    seen.clear()
    sft_mod.sft(cfg)
    per_epoch = len(load_split(RunDir(cfg.out_dir).data, "train")) // cfg.sft.batch_size
    total = 2 * per_epoch // 2  # epochs × batches per epoch // grad_accum
    assert seen == list(range(2 * step, 2 * total))  # carried on mid-epoch: nothing repeated, nothing skipped
    assert (tmp_path / "sft" / "report.json").is_file()


def test_the_frame_report_scores_each_fact_beside_its_most_common_value():
    from types import SimpleNamespace

    import numpy as np

    from vlm_rl.dataset import Example
    from vlm_rl.parsing import parse_response

    def answer(perception: str) -> str:
        return f"<perception>{perception}</perception><reasoning>r</reasoning><answer>['right']</answer>"

    facts = [{"stance": "ground", "hazard": "no hazard", "enemy": "no enemy"},
             {"stance": "ground", "hazard": "pit near", "enemy": "no enemy"},
             {"stance": "air", "hazard": "wall ahead", "enemy": "enemy near"},
             {"stance": "ground", "hazard": "no hazard", "enemy": "no enemy"}]
    frame = np.zeros((4, 4, 3), np.uint8)
    examples = [Example(frame=frame, text="", meta={"facts": f}) for f in facts]
    # always the most common sentence: right on every frame but the 2nd's hazard and the 3rd's every fact
    said = answer("on ground. no hazard. no enemy.")
    actor = SimpleNamespace(act=lambda frames, greedy: [SimpleNamespace(parsed=parse_response(said))] * len(frames))
    report = sft_mod.frame_report(actor, examples)
    assert report["perception_exact"] == 0.5
    assert (report["perception_stance"], report["perception_hazard"], report["perception_enemy"]) == (0.75, 0.5, 0.75)
    assert (report["perception_stance_majority"], report["perception_hazard_majority"],
            report["perception_enemy_majority"]) == (0.75, 0.5, 0.75)


def test_the_vision_warm_up_teaches_the_tower_a_fact_it_can_see():
    from types import SimpleNamespace

    import numpy as np
    import torch

    from vlm_rl.dataset import Example
    from vlm_rl.models.policy import load_model, make_actor

    torch.manual_seed(0)
    cfg = compose(["+exp=hopland"])
    model, processor, _ = load_model(cfg.model, "cpu")
    actor = make_actor(model, processor, "hopland", cfg.model, cfg.rl)
    examples = []
    for i in range(32):  # a white block high on the screen (air) or low (ground)
        frame = np.zeros((144, 160, 3), np.uint8)
        row = 16 if i % 2 else 96
        frame[row : row + 32, 64:96] = 255
        examples.append(Example(frame=frame, text="", meta={"facts": {"stance": "air" if i % 2 else "ground"}}))
    vision = {n: p.detach().clone() for n, p in model.named_parameters() if ".vision_model." in n}
    text = {n: p.detach().clone() for n, p in model.named_parameters() if ".text_model." in n}
    s = SimpleNamespace(vision_warmup_steps=20, batch_size=8, lr=2e-3)
    acc = sft_mod.warm_up_vision(actor, examples, s, seed=0)
    assert acc["stance"] == 1.0  # the last batch, after 20 steps (chance: 0.5)
    params = dict(model.named_parameters())
    assert all(not torch.equal(params[n], p) for n, p in vision.items() if n.endswith("weight"))
    assert all(torch.equal(params[n], p) for n, p in text.items())  # only the tower (and connector) trains
