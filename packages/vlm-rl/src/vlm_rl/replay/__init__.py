"""Replays: RL steps and evaluations keep their episodes as actions plus per-turn fields (`record`); the
emulator re-makes the frames (`render`); `python -m vlm_rl.replay RUN_DIR` writes RUN_DIR/replay.html, a
self-contained viewer (`page`)."""
