"""A loop's project folder: one folder per round, a marker per finished stage.

A stage writes its outputs, then its marker (atomically, by rename); a rerun finds the
marker and skips the stage, so a killed loop resumes at the stage it was in.  Stages
that take long resume inside themselves (training from its epoch checkpoint, attacks
from the targets already written)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

from highstakes.files import write_atomic

T = TypeVar("T")


class Project:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def round_dir(self, round_: int) -> Path:
        return self.root / f"round-{round_}"

    def model_dir(self, round_: int) -> Path:
        return self.round_dir(round_) / "model"

    def rounds(self) -> list[int]:
        """The rounds the folder holds, in order (a copied "round-0.bak" is not one)."""
        found = (round_of(d.name) for d in self.root.glob("round-*"))
        return sorted(r for r in found if r is not None)

    def marker(self, round_: int, stage: str) -> Path:
        return self.round_dir(round_) / f"{stage}.done.json"

    def done(self, round_: int, stage: str) -> dict[str, Any] | None:
        path = self.marker(round_, stage)
        return json.loads(path.read_text()) if path.exists() else None

    def stage(self, round_: int, name: str, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run a stage once: its result is stored and returned on every later call."""
        earlier = self.done(round_, name)
        if earlier is not None:
            return earlier
        result = run()
        write_atomic(self.marker(round_, name), json.dumps(result, indent=2, default=str))
        return result


def append_lines(path: Path, records: Sequence[dict[str, Any]]) -> None:
    """Append JSON lines in one write and make them durable before going on.  Read the file
    back with `read_jsonl(path, missing_ok=True, torn_tail_ok=True)`: a crash mid-write
    leaves whole lines and at most a cut last one, which that drops."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
        f.flush()
        os.fsync(f.fileno())


# settings a resumed run may change: the folder's own name, how many rounds to run (a
# finished loop extended by more rounds resumes where it ended), and where and how often
# the studio's database is read (the people's work moves with it)
RESUMABLE_CHANGES = frozenset({"project", "rounds", "studio.database_url", "studio.poll_seconds"})


def settings_changed(before: dict[str, Any], now: dict[str, Any], prefix: str = "") -> list[str]:
    """The settings (dotted, "train.epochs") that two saved loop configurations both hold
    with different values; a setting only one of them has (added in a later version of
    highstakes) is not counted."""
    changed = []
    for key in sorted(set(before) & set(now)):
        name = prefix + key
        if isinstance(before[key], dict) and isinstance(now[key], dict):
            changed += settings_changed(before[key], now[key], name + ".")
        elif before[key] != now[key] and name not in RESUMABLE_CHANGES:
            changed.append(f"{name} {before[key]!r} -> {now[key]!r}")
    return changed


def settings_of(config: Any) -> dict[str, Any]:
    """A loop configuration as its project folder's config.json keeps it: plain JSON."""
    settings: dict[str, Any] = json.loads(json.dumps(asdict(config), default=str))
    return settings


def round_of(folder_name: str) -> int | None:
    """The round a project's folder is for ("round-2": 2); None for any other name (a
    copied "round-0.bak")."""
    number = folder_name.removeprefix("round-")
    return int(number) if folder_name.startswith("round-") and number.isdigit() else None


def round_version(round_: int) -> str:
    """The name a loop gives its round's classifier: "v0", "v1", ..."""
    return f"v{round_}"


def version_name(folder: Path, metadata: dict[str, Any]) -> str:
    """What to call the classifier saved in `folder`: the version its metadata names, else
    "vN" for a loop's round-N/model, as the loop names it, else the folder's name."""
    if metadata.get("version"):
        return str(metadata["version"])
    if folder.name == "model":
        loop_round = round_of(folder.parent.name)
        return folder.parent.name if loop_round is None else round_version(loop_round)
    return folder.name or str(folder)  # "." has no name


def finished_stages(root: Path) -> list[str]:
    """The stages a project folder holds as finished ("round-0/train"), round by round,
    each round's in the order they finished."""
    project, out = Project(root), []
    for r in project.rounds():
        markers = sorted(project.round_dir(r).glob("*.done.json"), key=lambda m: m.stat().st_mtime)
        out += [f"round-{r}/{m.name.removesuffix('.done.json')}" for m in markers]
    return out


def check_resumable(root: Path, config: dict[str, Any]) -> None:
    """Refuse to resume a project run with other settings: its finished stages would be
    kept and mixed with the new ones."""
    saved = root / "config.json"
    if not saved.exists():
        return
    changed = settings_changed(json.loads(saved.read_text()), config)
    if changed:
        shown = "; ".join(changed[:6]) + ("; ..." if len(changed) > 6 else "")
        raise ValueError(
            f"{root} holds a loop run with other settings ({shown}); resuming it would mix "
            "the stages it finished with the new settings: give another project folder, "
            "or delete this one to start over"
        )
