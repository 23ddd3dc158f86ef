"""`GameBoyEnv`: one Gymnasium env for every Game Boy game that has a `GameSpec`."""

from __future__ import annotations

import dataclasses
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypedDict

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from .actions import ACTION_KINDS, TURN, Buttons, TurnProtocol, discrete_index, make_action_space, parse_buttons
from .games import get_spec
from .outcome import turn_outcome
from .roms import find_rom
from .spec import GameSpec, GameState, Scene
from .states import pack_state, unpack_state

OBS_TYPES = ("rgb", "grayscale")
REWARD_PER = ("turn", "frame")
TERMINATE_ON = ("life", "game_over")
SCREEN_SHAPE = (144, 160)
PYBOY_BUTTONS = ("a", "b", "start", "select", "up", "down", "left", "right")


class RamInfo(TypedDict, total=False):
    """Only with `ram_info=True`; both about the frame returned as the observation."""

    scene: Scene | None  # the game's RAM description of the screen (None where the game gives none)
    scripted: tuple[Buttons, str] | None  # the game's scripted player's (buttons, reason)


class StepInfo(RamInfo):
    x_progress: int
    max_x: int
    level: str
    lives: int
    dying: bool
    level_complete: bool
    game_over: bool
    frames: int  # frames emulated since reset
    turn_frames: int  # frames emulated by this step
    died: bool  # this step showed a death's first sign (charged once, as `death_penalty` is)
    buttons: Buttons


class _Session:
    """PyBoy instances (one per key) and saved snapshots, owned by one env."""

    def __init__(self, rom_path: Path, window: str, sound: bool):
        self.rom_path, self.window, self.sound = rom_path, window, sound
        self._pyboys: dict[str, Any] = {}
        self.snapshots: dict[str, bytes] = {}

    def pyboy(self, key: str, setup: Callable[[Any], None] | None = None) -> Any:
        if key not in self._pyboys:
            from pyboy import PyBoy

            pb = PyBoy(str(self.rom_path), window=self.window, sound_emulated=self.sound, log_level="ERROR")
            if self.window == "null":
                pb.set_emulation_speed(0)
            if setup is not None:
                setup(pb)
            self._prime_renderer(pb)
            self._pyboys[key] = pb
        return self._pyboys[key]

    def _prime_renderer(self, pb: Any) -> None:
        """PyBoy's window-layer line counter is not in save states and starts one line off until the first
        rendered frame ends, so a fresh PyBoy's first frame drew the HUD window one line off. Render one
        frame and undo it: every later frame is drawn as by a PyBoy that has rendered before."""
        state = self.save(pb)
        pb.tick(1, True)
        self.load(pb, state)

    @staticmethod
    def save(pb: Any) -> bytes:
        buf = io.BytesIO()
        pb.save_state(buf)
        return buf.getvalue()

    @staticmethod
    def load(pb: Any, state: bytes) -> None:
        pb.load_state(io.BytesIO(state))

    def close(self) -> None:
        for pb in self._pyboys.values():
            pb.stop(save=False)
        self._pyboys.clear()


class GameBoyEnv(gym.Env[np.ndarray, Any]):
    """A Game Boy game on PyBoy, with progress rewards.

    ## Description
    The agent plays one level of a Game Boy game. The game is described by a
    `GameSpec` (RAM map, how to start a level, progress, death, level complete);
    see `gb_gym.games`.

    ## Action Space
    `actions="original"`: `Discrete(22)`, noop and every set of one or two of a, b,
    up, down, left, right. `"engineered"`: `Discrete(8)`, RIGHT, RIGHT+A, RIGHT+A+B,
    LEFT, LEFT+A, RIGHT+B, LEFT+B, A. `"buttons"`: a list of up to the game's
    `max_buttons` (2 unless its `GameSpec` says otherwise) button names (from a, b,
    up, down, left, right, noop), for agents that answer in text.

    Each step is one turn (`gb_gym.actions.TURN`): the buttons are held for
    `frame_skip[1]` frames (15) if they include `a`, else `frame_skip[0]` (5), and
    released for the last `release_frames` (2) frames so the next turn's press registers.

    ## Observation Space
    The last frame of the turn: `Box(0, 255, (144, 160, 3), uint8)` RGB, or
    `(144, 160, 1)` with `obs_type="grayscale"`.

    ## Rewards
    `reward_scale` × the change of the game's x-progress over the turn, or divided
    by the frames of the turn with `reward_per="frame"` (a 15-frame jump turn
    otherwise earns about 3× a 5-frame turn). A death pays `-death_penalty` (0, as in
    the paper) once, on its first turn; its turns and the respawn turn after them pay
    no progress (`gb_gym.outcome.turn_outcome`).

    ## Starting State
    The first playable frame of `level` (the game's own level names), with the
    game's randomness drawn from the reset seed; or a saved state passed as
    `reset(options={"state": bytes_or_path})`.

    ## Episode End
    Terminates on level complete, on game over, and on losing a life when
    `terminate_on="life"` (default). Truncation is left to `TimeLimit`
    (`gym.make` adds one with the game's default `max_episode_steps`).

    ## Arguments
    `game` (a game's name, an installed package's game included, `"package.module:SpecClass"`,
    or a `GameSpec` instance; see `gb_gym.games`), `level`, `actions`, `obs_type`, `frame_skip`, `release_frames`,
    `reward_scale`, `reward_per`, `death_penalty`, `terminate_on`, `render_mode`
    ("rgb_array" or "human"), `rom_path`, `sound`, `ram_info` (True: every info also
    carries `scene`, the game's RAM description of the returned frame, and
    `scripted`, its scripted player's (buttons, reason) there; None where the game
    has none).

    ## Version History
    v0: first release.
    """

    metadata = {"render_modes": ["rgb_array", "human"], "render_fps": 12}

    def __init__(
        self,
        game: str | GameSpec = "hopland",
        level: str | int | None = None,
        actions: str = "engineered",
        obs_type: str = "rgb",
        frame_skip: int | tuple[int, int] = (TURN.frames, TURN.jump_frames),
        release_frames: int = TURN.release,
        reward_scale: float = 1.0,
        reward_per: str = "turn",
        death_penalty: float = 0.0,
        terminate_on: str = "life",
        render_mode: str | None = None,
        rom_path: str | os.PathLike | None = None,
        sound: bool = False,
        ram_info: bool = False,
    ):
        self.spec_game: GameSpec = get_spec(game)
        self.level = self.spec_game.check_level(self.spec_game.default_level if level is None else level)
        if actions not in ACTION_KINDS:
            raise ValueError(f"invalid actions={actions!r}: expected one of {', '.join(ACTION_KINDS)}")
        if obs_type not in OBS_TYPES:
            raise ValueError(f"invalid obs_type={obs_type!r}: expected one of {', '.join(OBS_TYPES)}")
        if reward_per not in REWARD_PER:
            raise ValueError(f"invalid reward_per={reward_per!r}: expected one of {', '.join(REWARD_PER)}")
        if terminate_on not in TERMINATE_ON:
            raise ValueError(f"invalid terminate_on={terminate_on!r}: expected one of {', '.join(TERMINATE_ON)}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"invalid render_mode={render_mode!r}: expected one of rgb_array, human or None")
        skip = (frame_skip, frame_skip) if isinstance(frame_skip, int) else tuple(frame_skip)
        if len(skip) != 2 or min(skip) < 1:
            raise ValueError(f"invalid frame_skip={frame_skip!r}: expected a positive int or (frames, jump_frames)")
        if not 0 <= release_frames < min(skip):
            raise ValueError(
                f"invalid release_frames={release_frames}: must be >= 0 and below the shortest turn ({min(skip)} frames)"
            )
        self.frame_skip, self.release_frames = (int(skip[0]), int(skip[1])), int(release_frames)
        self.turn = TurnProtocol(self.frame_skip[0], self.frame_skip[1], self.release_frames)
        self.actions, self.obs_type, self.reward_per, self.terminate_on = actions, obs_type, reward_per, terminate_on
        self.reward_scale, self.death_penalty = float(reward_scale), float(death_penalty)
        self.render_mode = render_mode
        self.ram_info = bool(ram_info)

        self.action_space, self._action_table = make_action_space(actions, self.spec_game.max_buttons)
        channels = 3 if obs_type == "rgb" else 1
        self.observation_space = spaces.Box(0, 255, (*SCREEN_SHAPE, channels), np.uint8)

        # Checks the ROM now, before any emulator work, so a missing or wrong file fails here.
        self.rom_path = find_rom(self.spec_game, rom_path)
        self._session = _Session(self.rom_path, "SDL2" if render_mode == "human" else "null", sound)
        self._pyboy: Any = None
        self._state: GameState | None = None
        self._x_base = self._max_x = self._frames = 0
        self._in_death = False
        self._needs_reset = True

    # --- Gymnasium API -------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = set(options) - {"level", "state"}
        if unknown:
            raise ValueError(f"unknown reset option(s) {sorted(unknown)}; known: level, state")
        level = self.spec_game.check_level(options.get("level", self.level))
        emu_seed = int(self.np_random.integers(2**32))
        if options.get("state") is not None:
            if self._pyboy is None:
                self._pyboy = self.spec_game.start(self._session, level, emu_seed)
            self._load(options["state"])  # a state restores the screen too: no frame to tick
            self._frames = 0
        else:
            self._pyboy = self.spec_game.start(self._session, level, emu_seed)
            self._pyboy.tick(1, True)  # render the first playable frame
            self._frames = 1
        self._state = self.spec_game.read(self._pyboy)
        self._x_base = self._max_x = self._state.x_progress
        self._in_death = self._state.dying
        self._needs_reset = False
        if self.render_mode == "human":
            self.render()
        return self._obs(), self._info((), 1, False)

    def step(self, action: Any):
        if self._needs_reset:
            raise RuntimeError("call reset() before step(): the episode has ended or never started")
        buttons = self._buttons(action)
        n = self.turn.frames_for(buttons)
        pb, render_all = self._pyboy, self.render_mode == "human"
        for b in buttons:
            pb.button_press(b)
        if self.release_frames:
            pb.tick(n - self.release_frames, render_all)
            for b in buttons:
                pb.button_release(b)
            pb.tick(self.release_frames, True)
        else:
            pb.tick(n, True)
            for b in buttons:
                pb.button_release(b)
        self._frames += n

        prev, st = self._state, self.spec_game.read(pb)
        complete = self.spec_game.level_complete(prev, st)
        if complete != st.level_complete:
            st = dataclasses.replace(st, level_complete=complete)
        self._state = st
        out = turn_outcome(
            prev, st, x_base=self._x_base, in_death=self._in_death, frames=n, reward_scale=self.reward_scale,
            reward_per=self.reward_per, death_penalty=self.death_penalty, terminate_on=self.terminate_on,
        )
        self._x_base, self._in_death = out.x_base, out.in_death
        if out.paid_progress:
            self._max_x = max(self._max_x, st.x_progress)
        self._needs_reset = out.terminated
        return self._obs(), out.reward, out.terminated, False, self._info(buttons, n, out.died)

    def render(self):
        if self.render_mode == "rgb_array":
            return self._rgb()
        return None  # "human": PyBoy's own window shows every frame

    def close(self):
        self._session.close()
        self._pyboy = None

    # --- states ----------------------------------------------------------------------------------

    def clone_state(self) -> bytes:
        """The emulator's full state, to restore or to start episodes from: PyBoy's save state behind a
        header with its SHA-256 and the game's name (`gb_gym.states`), so a corrupt copy is caught."""
        if self._pyboy is None:
            raise RuntimeError("call reset() before clone_state()")
        return pack_state(self._session.save(self._pyboy), self.spec_game.name)

    def restore_state(self, state: bytes | str | os.PathLike) -> None:
        """Continue the current episode from a state made by `clone_state` (or a file holding one)."""
        if self._pyboy is None:
            raise RuntimeError("call reset() before restore_state(); or pass the state as reset(options={'state': ...})")
        self._load(state)
        self._state = self.spec_game.read(self._pyboy)
        self._x_base = self._state.x_progress
        self._max_x = max(self._max_x, self._x_base)
        self._in_death = self._state.dying
        self._needs_reset = False

    def _load(self, state: bytes | str | os.PathLike) -> None:
        source = "the saved state"
        if isinstance(state, (str, os.PathLike)):
            path = Path(state)
            if not path.is_file():
                raise FileNotFoundError(f"state file {path} does not exist")
            source, state = f"the state file {path}", path.read_bytes()
        if not isinstance(state, (bytes, bytearray)):
            raise TypeError(f"a state must be bytes from clone_state() or a file path, got {type(state).__name__}")
        payload, _ = unpack_state(state, self.spec_game.name, source)  # raw PyBoy states load unchecked
        backup = self._session.save(self._pyboy)
        try:
            self._session.load(self._pyboy, payload)
            self.spec_game.read(self._pyboy)
        except Exception as e:  # PyBoy raises assorted errors on bad input; keep the emulator usable
            self._session.load(self._pyboy, backup)
            raise ValueError(
                f"could not load {source} ({len(state)} bytes): {type(e).__name__}: {e}. It is corrupt, "
                f"truncated, or was saved by another game or PyBoy version; save a new one with clone_state()"
            ) from e
        # a state saved mid-press holds its buttons, and PyBoy keeps them held (PyBoy issue #170):
        # released before the next frame, so every episode or restore starts with no button down
        for b in PYBOY_BUTTONS:
            self._pyboy.button_release(b)

    # --- helpers ---------------------------------------------------------------------------------

    @property
    def pyboy(self) -> Any:
        """The PyBoy instance being played (None before the first reset)."""
        return self._pyboy

    @property
    def game_state(self) -> GameState | None:
        return self._state

    def buttons_of(self, action: Any) -> Buttons:
        return self._buttons(action)

    def _buttons(self, action: Any) -> Buttons:
        if self._action_table is None:
            return parse_buttons(action, self.spec_game.max_buttons)
        try:
            return self._action_table[discrete_index(action, len(self._action_table))]
        except ValueError as e:
            raise ValueError(f"{e} for actions={self.actions!r}") from None

    def _rgb(self) -> np.ndarray:
        return np.array(self._pyboy.screen.ndarray)[:, :, :3]

    def _obs(self) -> np.ndarray:
        rgba = np.array(self._pyboy.screen.ndarray)
        if self.obs_type == "rgb":
            return rgba[:, :, :3]
        # ITU-R 601 luma in integer arithmetic
        rgb = rgba[:, :, :3].astype(np.uint16)
        gray = (rgb[:, :, 0] * 77 + rgb[:, :, 1] * 150 + rgb[:, :, 2] * 29) >> 8
        return gray.astype(np.uint8)[:, :, None]

    def _info(self, buttons: Buttons, turn_frames: int, died: bool) -> StepInfo:
        st = self._state
        info = StepInfo(
            x_progress=st.x_progress,
            max_x=self._max_x,
            level=st.level,
            lives=st.lives,
            dying=st.dying,
            level_complete=st.level_complete,
            game_over=st.game_over,
            frames=self._frames,
            turn_frames=turn_frames,
            died=died,
            buttons=buttons,
        )
        if self.ram_info:
            g = self.spec_game
            info["scene"] = g.scene(self._pyboy) if g.has_scene else None
            info["scripted"] = g.scripted_decision(self._pyboy) if g.has_scripted_player else None
        return info
