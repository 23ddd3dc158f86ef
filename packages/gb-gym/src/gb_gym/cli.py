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


def _turn_list(text: str) -> list[int]:
    try:
        return sorted({int(t) for t in text.replace(" ", "").split(",") if t})
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected turn numbers separated by commas, e.g. 56,140; got {text!r}") from None


def _ram_record(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .ram.play import record, turn_gif

    script = args.script
    if args.script_file:
        script = Path(args.script_file).read_text()
    rec = record(game=args.game, rom=args.rom, level=args.level, seed=args.seed, script=script,
                 interactive=args.interactive, max_turns=args.max_turns)
    print(f"recorded {rec.turns} turns -> {rec.save(args.out)}")
    if args.gif:
        print(f"wrote {turn_gif(rec, args.gif)} (turn numbers on every frame)")
    return 0


def _ram_find(args: argparse.Namespace) -> int:
    from .ram.find import find
    from .ram.recording import Recording
    from .ram.report import format_findings
    from .ram.skeleton import write_skeleton

    rec = Recording.load(args.recording)
    found = find(rec, deaths=args.deaths, levels=args.levels, window=args.window, max_step=args.max_step, top=args.top)
    print(format_findings(rec, found, args.deaths, args.levels))
    if args.skeleton:
        print(f"wrote {write_skeleton(args.skeleton, rec, found, name=args.name, source=args.recording)}")
    return 0


def _ram_check(args: argparse.Namespace) -> int:
    from .games import get_spec
    from .ram.check import check_spec
    from .ram.recording import Recording

    rec = Recording.load(args.recording)
    spec = get_spec(args.spec) if args.spec else None
    result = check_spec(rec, spec, args.formula, deaths=args.deaths, levels=args.levels, window=args.window,
                        max_step=args.max_step)
    print("\n".join(result.lines))
    print(f"{len(result.problems)} problem(s)" if result.problems else "no problem found")
    return 1 if result.problems else 0


def _add_ram(sub) -> None:
    ram = sub.add_parser("ram", help="find a game's RAM addresses from play; check a spec against a recording")
    ram = ram.add_subparsers(dest="ram_command", required=True)
    p = ram.add_parser("record", help="play (button script or keyboard) and record RAM, frame and buttons every turn")
    p.add_argument("--game", default=None, help="a registered game (gb-gym roms list): start from its first playable frame")
    p.add_argument("--rom", default=None, help="a ROM file: with --game, that game's ROM; alone, any ROM from power-on")
    p.add_argument("--level", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--script", default=None, help="button script, e.g. 'right*20, a+right*3, left*8, bot*100'")
    p.add_argument("--script-file", default=None, help="a file holding the button script")
    p.add_argument("--interactive", action="store_true", help="play in a window (arrows, a, s, Return, Backspace)")
    p.add_argument("--max-turns", type=int, default=2000, help="with --interactive")
    p.add_argument("--gif", default=None, help="also write a GIF with the turn number on every frame")
    p.add_argument("--out", required=True, help="the recording (.npz)")
    p.set_defaults(func=_ram_record)
    for name, func, what in (("find", _ram_find, "list candidate addresses with their evidence"),
                             ("check", _ram_check, "check a spec's (or a formula's) RAM reading against a recording")):
        p = ram.add_parser(name, help=what)
        p.add_argument("recording")
        p.add_argument("--deaths", type=_turn_list, default=[], help="turns where a life was lost, e.g. 56,140")
        p.add_argument("--levels", type=_turn_list, default=[], help="turns where a level was completed")
        p.add_argument("--window", type=int, default=3, help="how many turns a marked event may be off")
        p.add_argument("--max-step", type=int, default=64, help="largest x-progress change in one turn")
        p.set_defaults(func=func)
        if name == "find":
            p.add_argument("--top", type=int, default=5)
            p.add_argument("--skeleton", default=None, help="write a GameSpec skeleton (.py) with the best candidates")
            p.add_argument("--name", default=None, help="class name for the skeleton (default: from the ROM title)")
        else:
            p.add_argument("--spec", default=None, help="the registered game whose spec to check")
            p.add_argument("--formula", default=None,
                           help="an x-progress formula over mem[ADDR], e.g. 'mem[0xD053]*16 + mem[0xD05C]'")


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
    _add_ram(sub)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except EXPECTED_ERRORS as e:
        print("gb-gym: error: " + " ".join(str(e).split()), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
