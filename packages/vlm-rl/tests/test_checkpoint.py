"""Checkpoint integrity: every file is checked against the SHA-256 manifest, and damage falls back to the previous
checkpoint (naming the damaged file); `latest` is only a hint."""

import hashlib
import json
import logging

import pytest
import torch

from vlm_rl.checkpoint import (
    MANIFEST,
    CheckpointError,
    find_checkpoint,
    manifest_problems,
    restore,
    save_checkpoint,
    verify_manifest,
    write_manifest,
)


def save_policy(p):
    (p / "sub").mkdir(parents=True)
    (p / "adapter.safetensors").write_bytes(bytes(range(256)) * 4)
    (p / "config.json").write_text('{"hidden": 8}')
    (p / "sub" / "tokenizer.json").write_text('{"vocab": {}}')


def trained_optimizer(seed):
    torch.manual_seed(seed)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    for _ in range(seed):
        model(torch.randn(4, 3)).sum().backward()
        opt.step()
    return opt


@pytest.fixture
def ckpts(tmp_path):
    """Steps 1 and 2 under tmp_path, each with its own optimizer state (Adam after 1 and 2 updates)."""
    opts = {step: trained_optimizer(step) for step in (1, 2)}
    for step, opt in opts.items():
        critic = torch.nn.Linear(2, 1)
        torch.nn.init.constant_(critic.weight, float(step))
        save_checkpoint(tmp_path, step, save_policy_fn=save_policy, optimizers={"actor": opt}, critic=critic,
                        extra={"s": step})
    return tmp_path, opts


def assert_restores(found, opt_saved, step):
    fresh = torch.optim.Adam(torch.nn.Linear(3, 2).parameters(), lr=0.1)
    critic = torch.nn.Linear(2, 1)
    got_step, extra = restore(found, {"actor": fresh}, critic=critic)
    assert (got_step, extra) == (step, {"s": step})
    assert torch.equal(critic.weight, torch.full((1, 2), float(step)))
    want, got = opt_saved.state_dict()["state"], fresh.state_dict()["state"]
    assert sorted(got) == sorted(want) == [0, 1]
    for idx in want:
        assert torch.equal(got[idx]["exp_avg"], want[idx]["exp_avg"])
        assert torch.equal(got[idx]["exp_avg_sq"], want[idx]["exp_avg_sq"])
        assert torch.equal(got[idx]["step"], want[idx]["step"])


def test_intact_checkpoints_restore_the_newest_step_and_its_optimizer_state(ckpts):
    root, opts = ckpts
    found = find_checkpoint(root)
    assert found[0].name == "step_000002" and found[2]["step"] == 2
    assert_restores(found, opts[2], 2)
    assert manifest_problems(found[0]) == []
    files = json.loads((found[0] / MANIFEST).read_text())["files"]
    assert sorted(files) == ["critic.safetensors", "policy/adapter.safetensors", "policy/config.json", "policy/sub/tokenizer.json",
                             "trainer.json", "trainer.safetensors"]
    assert files["policy/adapter.safetensors"] == {"size": 1024, "sha256": hashlib.sha256(bytes(range(256)) * 4).hexdigest()}


def flip_byte(f):
    data = bytearray(f.read_bytes())
    data[100] ^= 0x01
    f.write_bytes(bytes(data))


def truncate(f):
    f.write_bytes(f.read_bytes()[:-7])


@pytest.mark.parametrize("damage, rel, what", [
    (flip_byte, "policy/adapter.safetensors", "SHA-256 differs"),
    (truncate, "policy/adapter.safetensors", "1017 bytes, the manifest says 1024"),
    (lambda f: f.unlink(), "policy/config.json", "missing"),
    (lambda f: f.unlink(), "policy/sub/tokenizer.json", "missing"),
    (lambda f: f.unlink(), MANIFEST, "never finished"),
    (lambda f: f.write_text("{"), MANIFEST, "unreadable"),
])
def test_a_damaged_file_in_the_newest_checkpoint_falls_back_to_the_previous_one(ckpts, caplog, damage, rel, what):
    root, opts = ckpts
    damage(root / "step_000002" / rel)
    with caplog.at_level(logging.WARNING, logger="vlm_rl.checkpoint"):
        found = find_checkpoint(root)
    assert found[0].name == "step_000001" and found[2]["step"] == 1
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "step_000002 is damaged" in warned[0] and f"{rel}: " in warned[0]
    assert what in warned[0]
    assert_restores(found, opts[1], 1)


def test_every_checkpoint_damaged_is_an_error_naming_the_files(ckpts):
    root, _ = ckpts
    flip_byte(root / "step_000002" / "policy" / "adapter.safetensors")
    (root / "step_000001" / "trainer.json").unlink()
    with pytest.raises(CheckpointError) as e:
        find_checkpoint(root)
    msg = str(e.value)
    assert "step_000002 is damaged (policy/adapter.safetensors: SHA-256 differs" in msg
    assert "step_000001 is damaged (trainer.json: missing)" in msg
    assert "Delete the damaged ones" in msg


@pytest.mark.parametrize("pointer", [b"\xff\xfe garbage", b"step_000001", b"", b"step_999999"])
def test_the_newest_verified_step_wins_over_the_latest_pointer(ckpts, pointer):
    root, opts = ckpts
    (root / "latest").write_bytes(pointer)
    found = find_checkpoint(root)
    assert found[0].name == "step_000002"
    assert_restores(found, opts[2], 2)


def test_a_step_renamed_but_never_pointed_to_wins(ckpts):
    """A crash between the rename and the `latest` update leaves a complete, newer step: it is used."""
    root, opts = ckpts
    save_checkpoint(root, 3, save_policy_fn=save_policy, optimizers={"actor": opts[1]}, extra={"s": 3},
                    critic=torch.nn.Linear(2, 1))
    (root / "latest").write_text("step_000002")
    (root / "step_000004.tmp").mkdir()  # half-written: ignored
    assert find_checkpoint(root)[0].name == "step_000003"
    assert sorted(p.name for p in root.glob("step_*")) == ["step_000002", "step_000003", "step_000004.tmp"]


def test_steps_sort_by_number_past_six_digits(tmp_path):
    opt = trained_optimizer(1)
    for step in (999_999, 1_000_000):
        save_checkpoint(tmp_path, step, save_policy_fn=save_policy, optimizers={"actor": opt})
    assert find_checkpoint(tmp_path)[2]["step"] == 1_000_000


def test_verify_manifest_on_a_policy_dir(tmp_path, caplog):
    pol = tmp_path / "policy"
    save_policy(pol)
    verify_manifest(pol, required=False)  # no manifest yet: passes, with a warning
    assert "has no vlm_rl_manifest.json" in caplog.text
    with pytest.raises(CheckpointError, match="vlm_rl_manifest.json: missing"):
        verify_manifest(pol)
    write_manifest(pol)
    verify_manifest(pol)
    truncate(pol / "adapter.safetensors")
    with pytest.raises(CheckpointError, match=r"policy is damaged: adapter.safetensors: 1017 bytes.*re-run the stage"):
        verify_manifest(pol, required=False)
