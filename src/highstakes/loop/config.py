"""The loop's configuration: a TOML file read into dataclasses, every key checked."""

from __future__ import annotations

import tomllib
import types
import typing
from dataclasses import dataclass, field, fields, is_dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from highstakes.filtering.head import HeadConfig
from highstakes.training.config import TrainConfig
from highstakes.training.lat import LatConfig
from highstakes.training.sift import SiftConfig


@dataclass
class RetrainConfig:
    """How rounds after the baseline train: from the previous version (`warm-start`, one
    short pass over all data so far) or from the backbone (`scratch`, as the baseline)."""

    mode: str = "warm-start"
    epochs: int = 1
    learning_rate: float = 3e-5
    # each adversarial example appears this many times per epoch: a few dozen new examples
    # among a thousand old ones barely move one pass of training otherwise
    adversarial_repeat: int = 1
    # weight averaging in the warm-start pass (0: off); one short pass would otherwise
    # stay close to the previous version's weights
    weight_average: float = 0.0
    # for each adversarial example from a label-preserving recipe, this many harmless
    # training snippets get the same number of random edits of the same kinds, labeled
    # no: otherwise every misspelled snippet the model trains on is injurious, and it
    # learns that misspelling means injury
    matched_negatives: int = 0
    # latent adversarial training in these passes (None: as [train] lat).  The settings
    # are [train.lat_config]'s.  LAT only here hardens the adversarial rounds without
    # paying its cost (about 1 + steps times plain training) on the baseline.
    lat: bool | None = None
    # share of the baseline's training split each warm-start pass goes over again beside
    # the adversarial examples (1: all of it): a random share, drawn afresh each round
    replay: float = 1.0
    # each later version's threshold is the lower of the recall rule's and the one at
    # which it flags as many validation snippets as round 0's version did, so no round
    # trades recall for a lower cost than the baseline's (see loop/thresholds.py)
    hold_flag_rate: bool = True


@dataclass
class AttackConfig:
    recipe: str = "typos"
    train_targets: int = 40  # injurious train snippets attacked each round for new data
    eval_targets: int = 40  # fixed injurious test snippets attacked against every version
    budget: int = 200  # classifier queries per target (the same for every version)
    # queries per target of the training attack (default: `budget`).  Most successes come
    # early, so a smaller budget on more targets finds more training data for the time
    train_budget: int | None = None
    # training data kept per successful target: the best result and the next-best distinct
    # ones the search also found under the threshold (more data for no more queries)
    examples_per_target: int = 1
    # targets searched side by side, the snippets their searches ask for at a step scored
    # in one batch (search recipes; 1: one at a time).  On 2 cores, 16 side by side made
    # the typo attack 1.3x and the rewording attack 1.5x as fast, 64 1.5x and 1.8x
    # (benchmarks/lockstep.py); a group is also the unit a rerun redoes, so the default
    # stays small for slow recipes (an LM-guided search takes seconds a target)
    together: int = 16
    options: dict[str, Any] = field(default_factory=dict)  # recipe keyword arguments
    # injurious snippets of the external set that v0 flags, attacked with this recipe in
    # every version like the eval targets, to measure only (0: none; needs `external`):
    # does the robustness hold on text written apart from the training data?
    external_targets: int = 0


@dataclass
class LabelConfig:
    # "kept" (the attacked snippet's label: only for recipes that keep it by construction,
    # typos and rewording), "reference:DIR" (a reference classifier), "llm-judge:URL#MODEL"
    # or "studio" (people)
    labeler: str = "kept"


@dataclass
class StudioConfig:
    enabled: bool = False
    database_url: str = "sqlite:///studio/studio.db"
    min_labeled: int = 20  # labeled human submissions to wait for each round
    poll_seconds: float = 30.0


@dataclass
class LoopConfig:
    project: str = "runs/loop"
    data: str = "demo"
    # a labeled set written apart from `data` ("external" for the shipped injury set, a
    # file, or none): every version is also measured on it, never trained or tuned on it
    external: str | None = None
    rounds: int = 2  # adversarial rounds after the baseline
    # seeds the loop's draws (evaluation targets, replay, attacks) and, unless [train]
    # sets its own, training (round r trains with seed + r)
    seed: int = 0
    train: TrainConfig = field(default_factory=TrainConfig)
    retrain: RetrainConfig = field(default_factory=RetrainConfig)
    attack: AttackConfig = field(default_factory=AttackConfig)
    heldout: AttackConfig | None = None  # a recipe used only to evaluate, never to train
    label: LabelConfig = field(default_factory=LabelConfig)
    studio: StudioConfig = field(default_factory=StudioConfig)
    # a head on the generator's states, trained and evaluated each round (off by default:
    # it is not part of the demo's budget)
    head: HeadConfig = field(default_factory=HeadConfig)


SECTIONS: dict[str, type] = {
    "train": TrainConfig,
    "retrain": RetrainConfig,
    "attack": AttackConfig,
    "heldout": AttackConfig,
    "label": LabelConfig,
    "studio": StudioConfig,
    "head": HeadConfig,
}


# settings nested in [train], each its own TOML table: [train.sift_config], [train.lat_config]
NESTED: dict[str, type] = {"sift_config": SiftConfig, "lat_config": LatConfig}


def _nested(values: dict[str, Any], where: str) -> dict[str, Any]:
    """[train]'s values with its own tables built into their dataclasses."""
    out = dict(values)
    for key, kind in NESTED.items():
        if key not in out or isinstance(out[key], kind):
            continue
        table = f"{where.removesuffix(']')}.{key}]"  # "x [train]" -> "x [train.lat_config]"
        if not isinstance(out[key], dict):
            raise ValueError(f"{table}: must be a table of settings, got {out[key]!r}")
        out[key] = _build(kind, out[key], table)
    return out


# Bounds on the numeric settings of the loop's own sections, whichever section holds
# them: (lowest, highest, whether the lowest itself is allowed).  [head] and
# [train.lat_config] check their own (`HeadConfig.check`, `LatConfig.check`).  A bad
# value is refused before anything is written.
AT_LEAST_ONE = (
    "epochs", "batch_size", "patience", "budget", "train_budget", "examples_per_target",
    "adversarial_repeat", "together",
)  # fmt: skip
AT_LEAST_ZERO = (
    "rounds", "train_targets", "eval_targets", "external_targets", "matched_negatives",
    "min_labeled", "weight_decay", "grad_clip",
)  # fmt: skip
BOUNDS: dict[str, tuple[float, float | None, bool]] = {
    **dict.fromkeys(AT_LEAST_ONE, (1, None, True)),
    **dict.fromkeys(AT_LEAST_ZERO, (0, None, True)),
    **dict.fromkeys(("learning_rate", "poll_seconds"), (0, None, False)),
    "max_length": (16, None, True),
    "warmup_fraction": (0, 1, True),
    "replay": (0, 1, False),
    "target_recall": (0, 1, False),
}
# open at the top: an average with decay 1 never moves; no bound holds with confidence 1
# (the value is whether 0 itself is allowed)
BELOW_ONE = {"weight_average": True, "recall_confidence": False}


def _type_name(hint: Any) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        arms = [arm for arm in typing.get_args(hint) if arm is not type(None)]
        return " or ".join(_type_name(arm) for arm in arms) + " (or left out)"
    names = {int: "a whole number", float: "a number", str: "text", bool: "true or false"}
    return names.get(hint, "a table" if typing.get_origin(hint) is dict else str(hint))


def _wanted(name: str, hint: Any) -> str:
    """What setting `name` takes, in words: its type and bounds."""
    if name in BELOW_ONE:
        return f"a number in {'[' if BELOW_ONE[name] else '('}0, 1)"
    if name not in BOUNDS:
        return _type_name(hint)
    low, high, low_allowed = BOUNDS[name]
    if high == 1:
        return f"a share in {'[' if low_allowed else '('}{low:g}, 1]"
    number = "a whole number" if int in (hint, *typing.get_args(hint)) else "a number"
    return f"{number} {'>=' if low_allowed else '>'} {low:g}"


def _fits(value: Any, hint: Any) -> bool:
    """Whether a TOML value can stand for a setting annotated `hint`."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, arm) for arm in typing.get_args(hint))
    if hint is Any or (isinstance(hint, type) and is_dataclass(hint)):
        return True  # built (and checked) on its own
    if hint is float:  # TOML writes 1 and 1.0 alike
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, origin or hint)


def _within(name: str, value: Any) -> bool:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return True  # not a number (None, text): nothing to bound
    if name in BELOW_ONE:
        return (value >= 0 if BELOW_ONE[name] else value > 0) and value < 1
    low, high, low_allowed = BOUNDS.get(name, (-float("inf"), None, True))
    above = value >= low if low_allowed else value > low
    return above and (high is None or value <= high)


def check_values(kind: type, values: dict[str, Any], where: str) -> None:
    """Each value given is of its setting's type and, in the loop's own sections, within
    its bounds (`BOUNDS`)."""
    hints = typing.get_type_hints(kind)
    bounded = kind in (LoopConfig, TrainConfig, RetrainConfig, AttackConfig, StudioConfig)
    for name, value in values.items():
        if not (_fits(value, hints[name]) and (not bounded or _within(name, value))):
            raise ValueError(f"{where}: {name} must be {_wanted(name, hints[name])}, got {value!r}")


def _build(kind: type, values: dict[str, Any], where: str) -> Any:
    if kind is TrainConfig:
        values = _nested(values, where)
    known = {f.name for f in fields(kind)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {sorted(known)}")
    check_values(kind, values, where)
    try:
        return kind(**values)
    except (TypeError, ValueError) as exc:  # a missing or unknown argument, a bad value
        raise ValueError(f"{where}: {exc}") from None


def parse_config(values: dict[str, Any], where: str = "config") -> LoopConfig:
    top = {k: v for k, v in values.items() if k not in SECTIONS}
    if "seed" in top and isinstance(values.get("train", {}), dict):  # [train] seed: its own
        values = {**values, "train": {"seed": top["seed"], **values.get("train", {})}}
    for k, v in values.items():
        if k in SECTIONS and not isinstance(v, dict):
            raise ValueError(f"{where}: {k} must be a table ([{k}] and its settings), got {v!r}")
    sections = {
        k: _build(SECTIONS[k], v, f"{where} [{k}]") for k, v in values.items() if k in SECTIONS
    }
    config: LoopConfig = _build(LoopConfig, {**top, **sections}, where)
    for section, spec in (("attack", config.attack), ("heldout", config.heldout)):
        if spec is not None and spec.external_targets and not config.external:
            raise ValueError(
                f"{where} [{section}]: external_targets needs an external set (external = ...)"
            )
    if config.retrain.mode not in ("warm-start", "scratch"):
        raise ValueError(f"{where} [retrain]: mode must be warm-start or scratch")
    try:
        config.train.lat_config.check()
    except ValueError as exc:
        raise ValueError(f"{where} [train.lat_config]: {exc}") from None
    try:
        config.head.check()
    except ValueError as exc:
        raise ValueError(f"{where} [head]: {exc}") from None
    check_labeler(config, where)
    return config


def check_labeler(config: LoopConfig, where: str = "config") -> None:
    """`kept` reads nothing, so it may only label recipes that keep the label by
    construction; refuse the others before any training starts."""
    from highstakes.attacks.recipes import require_label_preserving

    if config.label.labeler != "kept":
        return
    for section, spec in (("attack", config.attack), ("heldout", config.heldout)):
        if spec is None:
            continue
        try:
            require_label_preserving(spec.recipe, "kept")
        except ValueError as exc:
            raise ValueError(f"{where} [{section}]: {exc}") from None


def load_config(path: str | Path) -> LoopConfig:
    path = Path(path)
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from None
    return parse_config(values, str(path))


DEMO_TOML = files("highstakes.loop").joinpath("demo.toml")


def demo_config() -> LoopConfig:
    """The configuration `highstakes demo` runs (shipped as highstakes/loop/demo.toml)."""
    text = DEMO_TOML.read_text(encoding="utf-8")
    return parse_config(tomllib.loads(text), "demo.toml")


def read_config(name: str | Path) -> LoopConfig:
    """'demo' for the demo's configuration, else a TOML file's (`load_config`)."""
    return demo_config() if str(name) == "demo" else load_config(name)
