"""The annotated-frames dataset: PNG frames plus JSON lines, in Hugging Face's imagefolder layout.

    DIR/train/metadata.jsonl, DIR/train/000000.png, ...
    DIR/test/metadata.jsonl, ...     (the held-out frames)
    DIR/DONE.json            written last: the dataset is complete

Each metadata line has `file_name` (the PNG), `text` (the full target
response), `perception`, `reasoning`, `buttons`, `game`, `level`, `episode`,
`turn`, `source` and, when annotated from RAM, `facts` (what the perception
should say). Load it with `datasets.load_dataset("imagefolder", data_dir=DIR)`
or with `load_split` below.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

SPLITS = ("train", "test")  # "test": the held-out frames (a split name `datasets` knows)


@dataclass
class Example:
    frame: np.ndarray  # (H, W, 3) uint8
    text: str
    meta: dict


class DatasetWriter:
    """Starts the dataset over: DONE.json and the split folders go first (so a killed rewrite is never taken
    for complete, and no stale frames linger); other files under root, such as the teacher's reply cache, stay."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.counts = {s: 0 for s in SPLITS}
        self._files = {}
        (self.root / "DONE.json").unlink(missing_ok=True)
        for s in SPLITS:
            shutil.rmtree(self.root / s, ignore_errors=True)
            (self.root / s).mkdir(parents=True)
            self._files[s] = (self.root / s / "metadata.jsonl").open("w")

    def add(self, split: str, frame: np.ndarray, text: str, meta: dict) -> None:
        name = f"{self.counts[split]:06d}.png"
        Image.fromarray(np.asarray(frame, dtype=np.uint8)).save(self.root / split / name, optimize=False)
        self._files[split].write(json.dumps({"file_name": name, "text": text, **meta}) + "\n")
        self.counts[split] += 1

    def close(self, info: dict) -> None:
        self.abort()
        (self.root / "DONE.json").write_text(json.dumps({"counts": self.counts, **info}, indent=1))

    def abort(self) -> None:
        """Close the files without marking the dataset complete."""
        for f in self._files.values():
            f.close()


def is_complete(root: str | Path) -> bool:
    return (Path(root) / "DONE.json").is_file()


def load_split(root: str | Path, split: str = "train") -> list[Example]:
    root = Path(root)
    if not is_complete(root):
        raise FileNotFoundError(
            f"{root} holds no complete annotated dataset (no DONE.json); run the annotate stage "
            "(python -m vlm_rl.annotate ...) or point sft at a finished one"
        )
    out = []
    meta_path = root / split / "metadata.jsonl"
    for i, line in enumerate(meta_path.read_text().splitlines()):
        try:
            meta = json.loads(line)
            frame = np.asarray(Image.open(root / split / meta["file_name"]).convert("RGB"))
        except (json.JSONDecodeError, KeyError, OSError) as e:
            raise ValueError(f"{meta_path}, line {i + 1}: unreadable example ({e}); re-run the annotate stage") from e
        out.append(Example(frame=frame, text=meta.pop("text"), meta=meta))
    return out
