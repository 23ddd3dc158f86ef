"""`gb-gym`: manage ROMs and try the envs from the command line."""

from __future__ import annotations

import argparse
import sys

from .games import get_spec, installed_games
from .roms import ROM_DIR_ENV, RomError, import_roms, rom_dir, rom_status

EXPECTED_ERRORS = (RomError, ValueError, OSError)  # a bad argument or file: one line, no traceback


def _roms_import(args: argparse.Namespace) -> int:
    games = installed_games()
    report = import_roms(args.dir, games)
    for game, path in report.imported.items():
        print(f"imported  {games[game].display_name:<22} -> {path}")
    for game, path in report.already.items():
        print(f"present   {games[game].display_name:<22} {path}")
    for label, why in report.skipped:
        print(f"skipped   {label}: {why}")
    for label, why in report.unreadable:
        print(f"gb-gym: warning: skipped {label}: {why}", file=sys.stderr)
    found = len(report.imported) + len(report.already)
    print(f"{found} ROM(s) of known games found, {len(report.skipped)} file(s) skipped; ROM folder: {rom_dir()}")
    if not found:
        print(
            f"gb-gym: error: no ROM of a known game in {args.dir}: the files above are skipped with the reason; "
            "`gb-gym roms list` shows the games",
            file=sys.stderr,
        )
        return 1
    return 0


def _roms_list(args: argparse.Namespace) -> int:
    print(f"ROM folder: {rom_dir()}  (set ${ROM_DIR_ENV} to change)")
    for spec, path in rom_status(installed_games()):
        where = "bundled" if spec.rom.bundled else ("present" if path else "missing")
        print(f"{spec.name:<12} {spec.env_id:<24} {spec.display_name:<22} {where:<8} {path or ''}")
    return 0


def _play(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(game=args.game, level=args.level, episodes=args.episodes, seed=args.seed, gif=args.gif)
    return 0


def _states(args: argparse.Namespace) -> int:
    """Save states along episodes of the scripted player (or random play): start states for evaluation."""
    from pathlib import Path

    import gymnasium as gym

    spec = get_spec(args.game)
    env = gym.make(spec.env_id, actions="buttons", level=args.level, max_episode_steps=10**9)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env.reset(seed=args.seed)
    saved, turn = 0, 0
    while saved < args.count:
        buttons = spec.scripted_buttons(env.unwrapped.pyboy)
        _, _, terminated, _, info = env.step(list(buttons) if buttons is not None else env.action_space.sample())
        turn += 1
        if terminated:
            env.reset()
            turn = 0
        elif turn % args.every == 0:
            path = out / f"{spec.name}-{info['level']}-x{info['x_progress']}.state"
            path.write_bytes(env.unwrapped.clone_state())
            print(f"saved {path} (level {info['level']}, x-progress {info['x_progress']})")
            saved += 1
    env.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gb-gym", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    roms = sub.add_parser("roms", help="import and list game ROMs").add_subparsers(dest="roms_command", required=True)
    p = roms.add_parser("import", help="copy the ROMs of known games (by SHA-256, or title for homebrew) into the ROM folder")
    p.add_argument("dir", help="a folder (searched recursively, .zip archives included) or a single file")
    p.set_defaults(func=_roms_import)
    roms.add_parser("list", help="show every game (installed packages' too) and which ROMs are present").set_defaults(func=_roms_list)
    p = sub.add_parser("states", help="save emulator states along scripted play (start states for evaluation)")
    p.add_argument("--game", default="hopland", help="a game's name (`gb-gym roms list`) or package.module:SpecClass")
    p.add_argument("--level", default=None)
    p.add_argument("--count", type=int, default=5)
    p.add_argument("--every", type=int, default=20, help="turns between saved states")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="states")
    p.set_defaults(func=_states)
    p = sub.add_parser("play", help="play episodes with the game's scripted or random agent and write a GIF")
    p.add_argument("--game", default="hopland", help="a game's name (`gb-gym roms list`) or package.module:SpecClass")
    p.add_argument("--level", default=None)
    p.add_argument("--episodes", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--gif", default="gameplay.gif")
    p.set_defaults(func=_play)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except EXPECTED_ERRORS as e:
        print("gb-gym: error: " + " ".join(str(e).split()), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
