"""The game registry: one `GameSpec` per game name, each with its Gymnasium id.

Built in: Hopland, Super Mario Land, Kirby's Dream Land. A game outside this
package needs no change to it (docs/adding-a-game.md):

- `register_game(spec)` adds it in this process (and registers its env id);
- an installed package declares it in the `gb_gym.games` entry point group
  (`name = "package.module:SpecClass"`), and `get_spec(name)` loads it on first use;
- `get_spec("package.module:SpecClass")` imports and registers it, so a game
  named this way resolves in any process that can import the module.
"""

from __future__ import annotations

import importlib
import warnings
from importlib.metadata import entry_points
from typing import Any

import gymnasium as gym

from ..spec import GameSpec
from .hopland import Hopland
from .kirby import KirbyDreamLand
from .mario import SuperMarioLand

ENTRY_POINT_GROUP = "gb_gym.games"

GAMES: dict[str, GameSpec] = {}  # every game registered in this process, by name


def register_game(spec: GameSpec | type[GameSpec]) -> GameSpec:
    """Add a game (a `GameSpec` instance, or a subclass to instantiate) to the registry and register its
    Gymnasium id, so `get_spec(spec.name)`, `GameBoyEnv(game=spec.name)` and `gym.make(spec.env_id)` work.
    Registering the same class again returns the registered spec; another class under a taken name or env
    id is an error. Returns the registered spec."""
    if isinstance(spec, type) and issubclass(spec, GameSpec):
        spec = spec()
    if not isinstance(spec, GameSpec):
        raise TypeError(f"register_game expects a GameSpec instance or subclass, got {spec!r}")
    missing = [a for a in ("name", "env_id", "display_name", "rom", "levels", "default_level", "max_episode_steps")
               if not hasattr(spec, a)]
    if missing:
        raise ValueError(f"{_origin(spec)} does not set {', '.join(missing)}: a GameSpec sets every class attribute")
    spec.check_level(spec.default_level)
    if not isinstance(spec.max_buttons, int) or not 1 <= spec.max_buttons <= 6:
        raise ValueError(f"{_origin(spec)} has max_buttons={spec.max_buttons!r}: expected an int from 1 to 6")
    old = GAMES.get(spec.name)
    if old is not None:
        if type(old) is type(spec):
            return old
        raise ValueError(f"game name {spec.name!r} of {_origin(spec)} is taken by {_origin(old)}: choose another name")
    for other in GAMES.values():
        if other.env_id == spec.env_id:
            raise ValueError(f"env id {spec.env_id!r} of {_origin(spec)} is taken by {_origin(other)}")
    env = dict(entry_point="gb_gym.env:GameBoyEnv", kwargs={"game": spec.name}, max_episode_steps=spec.max_episode_steps)
    if spec.env_id in gym.registry:
        theirs = gym.registry[spec.env_id]
        if (theirs.entry_point, theirs.kwargs) != (env["entry_point"], env["kwargs"]):  # not ours from a reimport
            raise ValueError(f"env id {spec.env_id!r} of {_origin(spec)} is already a Gymnasium env: choose another")
    else:
        gym.register(id=spec.env_id, **env)
    GAMES[spec.name] = spec
    return spec


def get_spec(game: str | GameSpec) -> GameSpec:
    """The spec of a game: a registered name, an installed game's name (entry point group `gb_gym.games`),
    or `"package.module:SpecClass"` (imported and registered). A spec instance is returned as is."""
    if isinstance(game, GameSpec):
        return game
    if not isinstance(game, str):
        raise TypeError(f"game must be a name or a GameSpec, got {type(game).__name__}")
    if game in GAMES:
        return GAMES[game]
    if ":" in game:
        return register_game(_import_spec(game))
    found = entry_points(group=ENTRY_POINT_GROUP, name=game)
    if found:
        return _load_entry_point(next(iter(found)))
    raise ValueError(
        f"unknown game {game!r}; games: {', '.join(installed_games())}. A game of your own: register it with "
        f"gb_gym.register_game(spec), declare it in the {ENTRY_POINT_GROUP!r} entry point group of an installed "
        "package, or name it as 'package.module:SpecClass'"
    )


def installed_games() -> dict[str, GameSpec]:
    """Every game: the registered ones and those of installed packages (all entry points loaded). A package
    whose game fails to load is skipped with a warning, so one broken plugin does not hide the others."""
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in GAMES:
            try:
                _load_entry_point(ep)
            except ValueError as e:  # a third party's bug: say which package, carry on
                warnings.warn(f"skipped: {e}", stacklevel=2)
    return GAMES


def _load_entry_point(ep: Any) -> GameSpec:
    try:
        obj = ep.load()
    except Exception as e:  # the installed package's own error, named with the package's entry point
        raise ValueError(f"cannot load game {ep.name!r} ({ep.value}, entry point group {ENTRY_POINT_GROUP!r}): "
                         f"{type(e).__name__}: {e}") from e
    spec = _as_spec(obj, f"entry point {ep.name} = {ep.value}")
    if spec.name != ep.name:
        raise ValueError(
            f"entry point {ep.name!r} ({ep.value}) in group {ENTRY_POINT_GROUP!r} loads a game named "
            f"{spec.name!r}: the entry point's name must be the game's name"
        )
    return register_game(spec)


def _import_spec(ref: str) -> GameSpec:
    module, _, attr = ref.partition(":")
    try:
        obj = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"cannot load game {ref!r} ('package.module:SpecClass'): {type(e).__name__}: {e}") from e
    return _as_spec(obj, ref)


def _as_spec(obj: Any, where: str) -> GameSpec:
    if isinstance(obj, type) and issubclass(obj, GameSpec):
        return obj()
    if isinstance(obj, GameSpec):
        return obj
    raise ValueError(f"{where} is {obj!r}, not a GameSpec subclass or instance")


def _origin(spec: GameSpec) -> str:
    return f"{type(spec).__module__}.{type(spec).__qualname__}"


for _builtin in (Hopland, SuperMarioLand, KirbyDreamLand):
    register_game(_builtin)
