"""A scripted Hopland player that reads only the RAM map (``hopland_ram``).

It is also the built-in "teacher": ``bot_decision(mem)`` returns the buttons
for the next turn (at most two) and a short reason in plain words, e.g.
``(("a", "right"), "4-tile wall 9 px ahead; running on meets the wall:
running jump now")``.

How it decides. The bot carries a small model of the cartridge (``_Sim``: the
same integer rules as ``cart/main.c``, fed from the RAM map, which publishes
everything the rules need: sub-pixels, speeds, terrain 8 columns behind and
16 ahead, walkers). With it the bot asks "what happens if I press these
buttons for a turn of the env's turn protocol?". The rules, in order:

1. Not playing (title, dying, level complete, ...): do nothing.
2. In the air: hold RIGHT, unless that lands in a pit or with no way out of a
   walker and letting go, pushing LEFT or a last-moment A+RIGHT does not.
3. On the ground, if running on (B+RIGHT) for two turns stays alive, keeps
   moving and leaves a way out: run. Otherwise something is close (a wall,
   a pit, a walker):
   a. a walker: land on it if some short plan does (now, or after running on,
      waiting or backing off for 1-3 turns; jumping forward, up or back);
   b. jump (A+RIGHT) now if the jump gets past the trouble with a way out
      and the same would no longer be true one turn later (jump late, not
      early: a running jump is longer);
   c. run on if a jump works after more turns of run-up;
   d. otherwise back off (B+LEFT) for a run-up, or stand still / jump back
      if that is what survives.
"A way out" means that from the landing spot running on, jumping, waiting or
backing off survives twice in a row.

A running jump is B+RIGHT turns followed by A+RIGHT: the cartridge keeps the
take-off speed in the air, so two buttons a turn are enough.

Timing: the RAM shows the frame on screen, and the game's logic is two frames
ahead of it (the previous turn's two release frames); the model replays those
two frames before the turn's own (docs/cartridge.md, "Timing"), so the bot
needs no hand-tuned take-off windows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..actions import TURN
from . import hopland_ram as ram

Buttons = tuple[str, ...]

RUN: Buttons = ("b", "right")
JUMP: Buttons = ("a", "right")
RIGHT: Buttons = ("right",)
LEFT: Buttons = ("left",)
BACK_OFF: Buttons = ("b", "left")
JUMP_UP: Buttons = ("a",)
JUMP_BACK: Buttons = ("a", "left")
NOOP: Buttons = ()

NO_KEYS: frozenset[str] = frozenset()
RELEASE_FRAMES = TURN.release
LATENCY_FRAMES = TURN.release  # logic frames already run (the last turn's release) but not yet shown in RAM
PRESS_FRAMES = {True: TURN.jump_frames - TURN.release, False: TURN.frames - TURN.release}  # key: "a" held


def turn_frames(buttons: Buttons) -> list[frozenset[str]]:
    """The keys the game sees on each frame of one turn of the env's protocol."""
    held = frozenset(buttons)
    return [held] * PRESS_FRAMES["a" in held] + [NO_KEYS] * RELEASE_FRAMES


@dataclass
class _Walker:
    x: int
    sub: int  # x sub-pixel fraction
    y: int
    vx: int
    h: int  # ground height it patrols on
    alive: bool = True


@dataclass
class _Sim:
    """Hopland's player and walker rules, frame by frame (mirror of cart/main.c)."""

    x: int  # world px
    xs: int  # sub-pixel
    y: int  # screen px, top of the sprite
    ys: int
    vx: int
    vy: int
    ground: bool
    cam: int
    cam_max: int
    level_px: int
    col0: int
    terrain: list[int]  # columns col0 - 8 .. col0 + 15
    walkers: list[_Walker] = field(default_factory=list)
    prev: frozenset[str] = NO_KEYS  # keys of the last frame (the turn protocol always ends released)
    dead: str = ""  # "", "pit" or "enemy"
    stomps: int = 0

    @classmethod
    def from_ram(cls, mem: ram.Memory) -> _Sim:
        x = ram.x_progress(mem)
        vx, vy = ram.velocity(mem)
        sub = mem[ram.SUBPIXELS]
        walkers = []
        for o in ram.objects(mem):
            if o.kind == ram.KIND_WALKER:
                walkers.append(_Walker(o.x, o.sub, o.y, o.vx, (ram.GROUND_BOTTOM - o.y - ram.ENEMY_H) // ram.TILE))
        return cls(
            x=x,
            xs=sub & 15,
            y=mem[ram.PLAYER_Y],
            ys=sub >> 4,
            vx=vx,
            vy=vy,
            ground=ram.on_ground(mem),
            cam=ram.camera_x(mem),
            cam_max=ram.u16(mem, ram.LEVEL_LENGTH) - 160,
            level_px=ram.u16(mem, ram.LEVEL_LENGTH),
            col0=x // ram.TILE,
            terrain=ram.terrain_behind(mem) + ram.terrain_ahead(mem),
            walkers=walkers,
        )

    def copy(self) -> _Sim:
        return _Sim(**{**self.__dict__, "walkers": [_Walker(**w.__dict__) for w in self.walkers]})

    # terrain: known for 8 columns behind col0 and 16 from it; assume it
    # continues flat beyond
    def height(self, col: int) -> int:
        i = col - self.col0 + ram.N_TERRAIN_BEHIND
        return self.terrain[min(max(i, 0), len(self.terrain) - 1)]

    def top(self, col: int) -> int:
        h = self.height(col)
        return ram.GROUND_BOTTOM - ram.TILE * h if h else 0xFF

    def step(self, keys: frozenset[str]) -> None:
        if self.dead:
            return
        pressed, self.prev = keys - self.prev, keys
        self._speed(keys)
        if self.ground and "a" in pressed:
            self.vy = -(ram.RUN_JUMP_VY if abs(self.vx) >= ram.RUN_JUMP_MIN_VX else ram.WALK_JUMP_VY)
            self.ground = False
            self.ys = 0
        self._move_x()
        self._move_y()
        if self.x > self.cam + ram.CAMERA_LEAD:
            self.cam = min(self.x - ram.CAMERA_LEAD, self.cam_max)
        self._walkers()

    def _speed(self, keys: frozenset[str]) -> None:
        d = 1 if "right" in keys else -1 if "left" in keys else 0
        if d == 0:
            if self.ground and self.vx:
                self.vx -= ram.FRICTION if self.vx > 0 else -ram.FRICTION
            return
        if d * self.vx < 0:
            self.vx += d * (ram.TURN_DECEL if self.ground else ram.AIR_DECEL)
            return
        target = ram.RUN_MAX if "b" in keys else ram.WALK_MAX
        speed = abs(self.vx)
        if speed < target:
            speed = min(target, speed + (ram.WALK_ACCEL if speed < ram.WALK_MAX else ram.RUN_ACCEL))
        elif speed > target and self.ground:
            speed -= ram.FRICTION
        self.vx = d * speed

    def _move_x(self) -> None:
        t = self.xs + self.vx
        dx, self.xs = t >> 4, t & 15
        if dx == 0:
            return
        feet = self.y + ram.PLAYER_H
        if dx > 0:
            nx = min(self.x + dx, self.level_px - 8)
            lead = (nx + 6) >> 3
            if self.top(lead) < feet:  # a wall
                nx, self.xs = lead * 8 - 7, 0
                if self.ground:
                    self.vx = 0
        else:
            if self.x < self.cam - dx:
                nx, self.vx, self.xs = self.cam, 0, 0
            else:
                nx = self.x + dx
            lead = (nx + 1) >> 3
            if self.top(lead) < feet:
                nx, self.xs = lead * 8 + 7, 15
                if self.ground:
                    self.vx = 0
        self.x = nx

    def _move_y(self) -> None:
        top = min(self.top((self.x + 1) >> 3), self.top((self.x + 6) >> 3))
        if self.ground:
            if self.y + ram.PLAYER_H == top:
                return
            self.ground, self.vy, self.ys = False, 0, 0
        vy_before = self.vy
        t = self.ys + self.vy
        dy, self.ys = t >> 4, t & 15
        old_feet = self.y + ram.PLAYER_H
        self.y += dy
        self.vy = self.vy + ram.GRAVITY if self.vy < ram.MAX_FALL - ram.GRAVITY else ram.MAX_FALL
        if vy_before >= 0 and old_feet <= top <= self.y + ram.PLAYER_H and top != 0xFF:
            self.y, self.ys, self.vy, self.ground = top - ram.PLAYER_H, 0, 0, True
        if ram.PIT_DEATH_Y < self.y < 200:
            self.dead = "pit"

    def _walkers(self) -> None:
        for w in self.walkers:
            if not w.alive:
                continue
            t = w.sub + w.vx
            dx, w.sub = t >> 4, t & 15
            if dx:
                nx = w.x + dx
                lead = (nx + 7) >> 3 if dx > 0 else nx >> 3
                if self.height(lead) != w.h or nx < 8:
                    w.vx = -w.vx
                else:
                    w.x = nx
            if self.dead:
                continue
            # boxes: player x+1..x+6, y+3..y+15; walker x+1..x+6, y+2..y+7
            if abs(w.x - self.x) > 5 or self.y > w.y + 4 or w.y > self.y + 13:
                continue
            if self.vy > 0 and self.y + ram.PLAYER_H <= w.y + 6:
                w.alive = False
                self.vy, self.ground = -ram.STOMP_BOUNCE_VY, False
                self.stomps += 1
            else:
                self.dead = "enemy"

    def run(self, frames: list[frozenset[str]]) -> _Sim:
        for keys in frames:
            self.step(keys)
        return self


# ---- planning with the model ------------------------------------------------
# A state straight from RAM still has LATENCY_FRAMES of the previous turn's
# release to run; states the planner produces sit exactly at a turn boundary.


def _after(sim: _Sim, buttons: Buttons) -> _Sim:
    """The state the RAM will show after one more turn of ``buttons``."""
    held = frozenset(buttons)
    return sim.copy().run([NO_KEYS] * LATENCY_FRAMES + [held] * PRESS_FRAMES["a" in held])


def _follow_fall(s: _Sim, then: Buttons = RIGHT, max_turns: int = 8) -> _Sim:
    """Turns of ``then`` until on the ground (or dead)."""
    for _ in range(max_turns):
        if s.dead or s.ground:
            break
        s.run(turn_frames(then))
    return s


ESCAPES: tuple[tuple[Buttons, ...], ...] = ((RUN, RUN), (JUMP,), (NOOP, NOOP), (BACK_OFF, BACK_OFF))


def _has_way_out(s: _Sim, depth: int = 2) -> bool:
    """Standing at a turn boundary: does running on, jumping, waiting or backing
    off survive, with a way out again after that (``depth`` levels)?

    This is what makes a landing "safe": landing right in front of a walker,
    or between a walker and a pit, is not.
    """
    if s.dead or not s.ground:
        return False
    for plan in ESCAPES:
        t = s.copy()
        for buttons in plan:
            t.run(turn_frames(buttons))
        _follow_fall(t)
        if not t.dead and (depth <= 1 or _has_way_out(t, depth - 1)):
            return True
    return False


def _landing(sim: _Sim, first: Buttons, then: Buttons) -> _Sim:
    """From a RAM state: press ``first`` for a turn, then ``then`` until landed."""
    return _follow_fall(sim.copy().run([NO_KEYS] * LATENCY_FRAMES + turn_frames(first)), then)


AIR_CONTROLS: tuple[tuple[Buttons, str], ...] = ((RIGHT, "keep holding right"), (NOOP, "let go"), (LEFT, "push left"))


def _run_ahead(sim: _Sim, turns: int) -> tuple[str, int]:
    """Run on (B+RIGHT) for ``turns`` turns from a RAM state, following any fall.

    Returns (trouble, x): trouble is "" (fine), "wall" (stopped at x), "pit" or
    "walker" (dies, or ends up with no way out of a walker).
    """
    s = sim.copy().run([NO_KEYS] * LATENCY_FRAMES)
    for _ in range(turns):
        x0, vx0 = s.x, s.vx
        s.run(turn_frames(RUN))
        if s.dead:
            break
        if s.x <= x0 and vx0 >= 0:  # a wall stopped us (slowing down from going left does not count)
            return "wall", s.x
    _follow_fall(s)
    if s.dead:
        return ("walker" if s.dead == "enemy" else "pit"), s.x
    if not _has_way_out(s):
        return "walker", s.x
    return "", s.x


def _jump_works(sim: _Sim, beyond: int) -> bool:
    """A jump from this RAM state lands past x = ``beyond`` (or on a walker) with a way out."""
    for then, _ in AIR_CONTROLS:
        s = _landing(sim, JUMP, then)
        if (s.x > beyond or s.stomps) and _has_way_out(s):
            return True
    return False


def _jump_plan(sim: _Sim, beyond: int, max_run: int = 5) -> int | None:
    """The fewest B+RIGHT turns after which a jump works (None: not within max_run)."""
    s = sim
    for k in range(max_run + 1):
        if _jump_works(s, beyond):
            return k
        s = _after(s, RUN)
        if s.dead:
            return None
    return None


def _stomp_plan(sim: _Sim) -> tuple[Buttons, str] | None:
    """A way to land on a walker: now, or after 1-3 turns of running on, waiting
    or backing off; jumping forward, straight up or backward."""
    prefixes: list[tuple[Buttons, int]] = [(NOOP, 0)] + [(b, k) for b in (RUN, NOOP, BACK_OFF) for k in (1, 2, 3)]
    for pre, k in prefixes:
        s = sim
        for _ in range(k):
            s = _after(s, pre)
        if s.dead:
            continue
        for jump in (JUMP, JUMP_UP, JUMP_BACK):
            for then, _ in AIR_CONTROLS:
                t = _landing(s, jump, then)
                if t.stomps and _has_way_out(t):
                    if k == 0:
                        return jump, "jump onto it now"
                    verb = {RUN: "run on", NOOP: "wait", BACK_OFF: "back off"}[pre]
                    return pre, f"{verb} {k} turn{'s' if k > 1 else ''}, then jump onto it"
    return None


FALLBACKS: tuple[tuple[Buttons, str], ...] = (
    (BACK_OFF, "back off for a run-up"),
    (NOOP, "stand still"),
    (JUMP_BACK, "jump back"),
    (JUMP_UP, "jump straight up"),
)


def _describe(mem: ram.Memory) -> str:
    """What is ahead, in words: the first pit / rise in the terrain and the nearest walker."""
    x = ram.x_progress(mem)
    terrain = ram.terrain_ahead(mem)
    ref = mem[ram.GROUND_HEIGHT] or terrain[0]
    parts = []
    for i in range(1, ram.N_TERRAIN_AHEAD):
        h = terrain[i]
        dist = (x // ram.TILE + i) * ram.TILE - (x + ram.PLAYER_W)
        if h == 0:
            width = 0
            while i + width < ram.N_TERRAIN_AHEAD and terrain[i + width] == 0:
                width += 1
            parts.append(f"{width}-tile pit {max(dist, 0)} px ahead")
            break
        if h > ref:
            parts.append(f"{h - ref}-tile {'step' if h - ref < 3 else 'wall'} {max(dist, 0)} px ahead")
            break
        ref = h
    walkers = [o.x - x for o in ram.objects(mem) if o.kind == ram.KIND_WALKER and o.x + ram.ENEMY_W > x]
    if walkers:
        parts.append(f"walker {min(walkers)} px ahead")
    return ", ".join(parts) or "clear ground"


def bot_decision(mem: ram.Memory) -> tuple[Buttons, str]:
    """The buttons for the next turn (at most two) and the reason, from RAM alone."""
    if mem[ram.STATE] != ram.STATE_PLAYING:
        return NOOP, "not playing: wait"
    sim = _Sim.from_ram(mem)

    if not sim.ground:
        # A+RIGHT in the air only jumps if we land before the press is seen
        # (the RAM lags two frames): a last-moment hop over a walker.
        for buttons, how in AIR_CONTROLS + ((JUMP, "jump as soon as we land"),):
            if any(_has_way_out(_landing(sim, buttons, then)) for then, _ in AIR_CONTROLS):
                return buttons, f"in the air: {how}"
        return RIGHT, "in the air: no safe landing in reach, keep holding right"

    what = _describe(mem)
    backing_off = sim.vx < 0
    trouble, x_stop = _run_ahead(sim, 6 if backing_off else 2)
    if not trouble:
        return RUN, f"{what}: run right"
    # a jump must get past where running on stops (wall) or dies (pit); past a
    # walker it only needs to land alive with a way out
    beyond = sim.x if trouble == "walker" else x_stop
    if trouble == "walker":
        stomp = _stomp_plan(sim)
        if stomp is not None:
            return stomp[0], f"{what}; running on meets the walker: {stomp[1]}"
    k = _jump_plan(sim, beyond)
    if k is None:
        for buttons, how in FALLBACKS:
            t = sim.copy().run([NO_KEYS] * LATENCY_FRAMES + turn_frames(buttons))
            if _has_way_out(_follow_fall(t)):
                return buttons, f"{what}; no jump from here gets past the {trouble}: {how}"
        return BACK_OFF, f"{what}; no jump from here gets past the {trouble}: back off for a run-up"
    if k == 0:
        after_run = _after(sim, RUN)
        if backing_off or after_run.x <= sim.x or after_run.dead or not _jump_works(after_run, beyond):
            kind = "running" if abs(sim.vx) >= ram.RUN_JUMP_MIN_VX + 2 else "walking"
            return JUMP, f"{what}; running on meets the {trouble}: {kind} jump now"
        return RUN, f"{what}; a jump clears the {trouble} from here and from one turn on: run on"
    if backing_off:
        return RUN, f"{what}; enough run-up for the {trouble} now: run right"
    return RUN, f"{what}; a jump does not clear the {trouble} yet: run on"


def bot_buttons(mem: ram.Memory) -> Buttons:
    """Just the buttons of ``bot_decision``."""
    return bot_decision(mem)[0]
