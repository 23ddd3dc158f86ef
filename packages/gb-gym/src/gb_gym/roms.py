"""Finding, importing and checking ROMs.

Commercial ROMs never ship: users import their own dumps, matched by SHA-256
against the registered games (or, for a game that lists no SHA-256, such as a
homebrew cartridge in development, by header title) and copied into a per-user
folder (`$GB_GYM_ROM_DIR`, else `$XDG_DATA_HOME/gb-gym/roms`, else
`~/.local/share/gb-gym/roms`). Our own cartridge ships inside the package; a game
of another package may ship its ROM the same way (`RomInfo(bundled=True, package=...)`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import warnings
import zipfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .spec import GameSpec, RomInfo

ROM_DIR_ENV = "GB_GYM_ROM_DIR"
HEADER_END = 0x150
BANK_SIZE = 0x4000
MAX_ROM_SIZE = 8 * 1024 * 1024
ROM_SUFFIXES = (".gb", ".gbc", ".sgb", ".bin", ".rom")
CART_TYPE, RAM_SIZE = 0x147, 0x149
# PyBoy 2.x's CARTRIDGE_TABLE and EXTERNAL_RAM_TABLE (pyboy/core/cartridge/cartridge.py): anything else
# fails inside PyBoy with a bare KeyError or "Catridge type invalid".
CART_TYPES: dict[int, str] = {
    0x00: "ROM", 0x01: "MBC1", 0x02: "MBC1+RAM", 0x03: "MBC1+RAM+BATT", 0x05: "MBC2", 0x06: "MBC2+BATT",
    0x08: "ROM+RAM", 0x09: "ROM+RAM+BATT", 0x0F: "MBC3+TIMER+BATT", 0x10: "MBC3+TIMER+RAM+BATT", 0x11: "MBC3",
    0x12: "MBC3+RAM", 0x13: "MBC3+RAM+BATT", 0x19: "MBC5", 0x1A: "MBC5+RAM", 0x1B: "MBC5+RAM+BATT",
    0x1C: "MBC5+RUMBLE", 0x1D: "MBC5+RUMBLE+RAM", 0x1E: "MBC5+RUMBLE+RAM+BATT",
}
RAM_SIZES = range(0x00, 0x06)


class RomError(Exception):
    """A ROM is missing or is not the file it should be."""


class RomNotFoundError(RomError, FileNotFoundError):
    pass


def rom_dir() -> Path:
    if os.environ.get(ROM_DIR_ENV):
        return Path(os.environ[ROM_DIR_ENV]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "gb-gym" / "roms"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def header_title(data: bytes) -> str:
    raw = data[0x134:0x144]
    return raw.split(b"\0", 1)[0].decode("ascii", errors="replace").rstrip()


def check_rom_bytes(data: bytes, source: str) -> None:
    """Reject what PyBoy would choke on, with a message that says what is wrong."""
    if len(data) < HEADER_END:
        raise RomError(f"{source} is {len(data)} bytes, too short to be a Game Boy ROM (a header alone is 336 bytes)")
    if len(data) % BANK_SIZE:
        raise RomError(
            f"{source} is {len(data)} bytes, not a multiple of 16 KiB: it is truncated or not a Game Boy ROM"
        )
    checksum = 0
    for b in data[0x134:0x14D]:
        checksum = (checksum - b - 1) & 0xFF
    if checksum != data[0x14D]:
        raise RomError(
            f"{source} has a bad header checksum (0x{data[0x14D]:02X}, expected 0x{checksum:02X}): "
            "it is corrupt or not a Game Boy ROM"
        )
    if data[CART_TYPE] not in CART_TYPES:
        supported = ", ".join(f"0x{t:02X} {name}" for t, name in CART_TYPES.items())
        raise RomError(
            f"{source} has cartridge type 0x{data[CART_TYPE]:02X} (header byte 0x147), which PyBoy cannot "
            f"emulate; supported types: {supported}"
        )
    if data[RAM_SIZE] not in RAM_SIZES:
        raise RomError(
            f"{source} has RAM size code 0x{data[RAM_SIZE]:02X} (header byte 0x149), which PyBoy cannot "
            "emulate (valid codes: 0x00-0x05): it is corrupt or not a Game Boy ROM"
        )


def _bundled_path(info: RomInfo) -> Path:
    return Path(str(resources.files(info.package) / "roms" / info.filename))


def import_command() -> str:
    return "gb-gym roms import DIR"


def find_rom(spec: GameSpec, path: str | os.PathLike | None = None) -> Path:
    """The checked ROM file for `spec`: `path` if given, else the bundled or imported copy."""
    info = spec.rom
    if path is None:
        candidate = _bundled_path(info) if info.bundled else rom_dir() / info.filename
        if not candidate.is_file():
            if info.bundled:
                raise RomNotFoundError(
                    f"the ROM {candidate} that ships with the {info.package} package is missing: the install is "
                    f"broken; reinstall {info.package}, or pass rom_path=... to gym.make"
                )
            match = "matched by SHA-256" if info.sha256 else f"matched by its header title {info.title!r}"
            raise RomNotFoundError(
                f"{spec.display_name} ROM not found in {rom_dir()} (as {info.filename}); it does not ship with "
                f"its package. Import your copy with `{import_command()}` ({match}), or set ${ROM_DIR_ENV}, "
                "or pass rom_path=... to gym.make."
            )
    else:
        candidate = Path(path).expanduser()
        if not candidate.is_file():
            raise RomNotFoundError(f"rom_path {candidate} does not exist or is not a file")
    data = candidate.read_bytes()
    check_rom_bytes(data, str(candidate))
    title = header_title(data)
    if title != info.title:
        raise RomError(
            f"{candidate} is the ROM of {title!r}, not {spec.display_name} (header title {info.title!r}); "
            "pass the right file"
        )
    if info.sha256 and sha256(data) not in info.sha256:
        warnings.warn(
            f"{candidate} has the title of {spec.display_name} but an unknown SHA-256; it may be another "
            "revision whose RAM addresses differ, so rewards may be wrong",
            stacklevel=2,
        )
    return candidate


@dataclass
class ImportReport:
    imported: dict[str, Path] = field(default_factory=dict)  # game name -> where it was copied
    already: dict[str, Path] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (file, the OS error): also in skipped


def _candidates(src: Path):
    """(label, bytes) of every ROM-like file under src, looking inside .zip archives too; bytes is None
    for a file that is not ROM-like, an OSError for one that could not be read."""
    paths = [src] if src.is_file() else sorted(p for p in src.rglob("*") if p.is_file())
    for p in paths:
        try:
            if p.suffix.lower() == ".zip":
                try:
                    with zipfile.ZipFile(p) as zf:
                        for member in zf.infolist():
                            if not member.is_dir() and member.file_size <= MAX_ROM_SIZE:
                                yield f"{p}:{member.filename}", zf.read(member)
                except zipfile.BadZipFile:
                    yield str(p), None
            elif p.suffix.lower() in ROM_SUFFIXES and p.stat().st_size <= MAX_ROM_SIZE:
                yield str(p), p.read_bytes()
            else:
                yield str(p), None
        except OSError as e:  # permissions, a file vanishing mid-scan, a bad disk: skip it, go on
            yield str(p), e


def import_roms(src: str | os.PathLike, games: dict[str, GameSpec], dest: Path | None = None) -> ImportReport:
    """Copy every file under `src` that is the ROM of one of `games` into the ROM folder: matched by SHA-256,
    or by header title for a game that lists no SHA-256 and does not ship its ROM (homebrew in development)."""
    src = Path(src).expanduser()
    if not src.exists():
        raise FileNotFoundError(f"{src} does not exist; pass a folder (or file) holding your ROM dumps")
    dest = dest or rom_dir()
    by_hash = {h: spec for spec in games.values() for h in spec.rom.sha256}
    by_title = {s.rom.title: s for s in games.values() if not s.rom.sha256 and not s.rom.bundled}
    report = ImportReport()
    for label, data in _candidates(src):
        if data is None:
            report.skipped.append((label, "not a ROM file (by extension or size)"))
            continue
        if isinstance(data, OSError):
            why = f"unreadable: {data.strerror or data}"
            report.skipped.append((label, why))
            report.unreadable.append((label, why))
            continue
        spec = by_hash.get(sha256(data))
        if spec is None and len(data) >= HEADER_END:
            spec = by_title.get(header_title(data))
        if spec is None:
            why = "unknown SHA-256"
            if len(data) >= HEADER_END:
                why += f" (header title {header_title(data)!r})"
            report.skipped.append((label, why))
            continue
        target = dest / spec.rom.filename
        if target.is_file() and sha256(target.read_bytes()) == sha256(data):
            report.already[spec.name] = target
            continue
        dest.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".part")
        tmp.write_bytes(data)
        shutil.move(tmp, target)
        report.imported[spec.name] = target
    return report


def rom_status(games: dict[str, GameSpec]) -> list[tuple[GameSpec, Path | None]]:
    """Each game with the path of its usable ROM, or None when it is missing."""
    rows = []
    for spec in games.values():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rows.append((spec, find_rom(spec)))
        except RomError:
            rows.append((spec, None))
    return rows
