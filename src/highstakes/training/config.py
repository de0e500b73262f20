"""What a training run is told: `TrainConfig`, one field per setting, each odd default
commented.  `trainer.train` reads it; a loop config's [train] and [retrain] sections fill it."""

from __future__ import annotations

from dataclasses import dataclass, field

from highstakes.training.lat import LatConfig
from highstakes.training.sift import SiftConfig

SELECT = ("auroc", "high_recall_auroc")  # validation figures that can pick the kept epoch


@dataclass
class TrainConfig:
    model: str = "embedded-minilm"  # alias, local folder or hub id
    # a generous maximum: training stops earlier once the validation figure `select` has
    # stopped improving for `patience` epochs, and the best epoch is kept
    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 5e-5  # a usual BERT fine-tuning rate (Devlin et al., 2019)
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    # learning-rate decay after warmup, over `epochs`: "linear", "cosine" or "constant"
    schedule: str = "linear"
    # decay of an exponential moving average of the weights, evaluated and saved instead of
    # the raw weights (0: off).  0.99 averages over about the last 100 steps.
    weight_average: float = 0.0
    # average only the trained weights, not the starting ones (`averaging.WeightAverage`);
    # a retrained version in the loop always keeps its anchor.  Tried on the demo's round
    # 0 with 5 epochs and not adopted (docs/classifier.md, weight averaging)
    weight_average_debias: bool = False
    max_length: int = 160  # three sentences + one: the demo set's longest pair is ~130 tokens
    grad_clip: float = 1.0
    class_weighting: bool = True  # weight classes by inverse frequency: positives are rare
    # focal loss (Lin et al., 2017): each example's loss times (1 - p_true)^gamma, so the
    # examples already classified well count less; 0: plain cross-entropy.  Only the
    # clean term: SiFT's and LAT's terms keep cross-entropy.  Tried on the demo and not
    # adopted (docs/classifier.md, focal loss)
    focal_gamma: float = 0.0
    patience: int = 2  # epochs without a better validation figure before stopping
    # the validation figure that picks the kept epoch: "auroc" (the whole ROC curve) or
    # "high_recall_auroc" (only its part at recall >= 0.9, where a filter operates)
    select: str = "auroc"
    target_recall: float = 0.95  # the saved threshold flags this share of validation positives
    # with a confidence, the threshold must show `target_recall` as an exact one-sided
    # lower bound on validation recall (fewer positives, a lower threshold); None: the
    # point estimate, which a small validation split overstates
    recall_confidence: float | None = None
    sift: bool = False
    sift_config: SiftConfig = field(default_factory=SiftConfig)
    # latent adversarial training: also train under the worst perturbation of hidden
    # states found by a few ascent steps (training/lat.py; about 1 + steps times the cost)
    lat: bool = False
    lat_config: LatConfig = field(default_factory=LatConfig)
    seed: int = 0
    device: str | None = None  # None: cuda when available, else cpu
    # bf16 autocast: "auto" where bf16 matmuls are native (bf16 GPUs, AVX512-BF16/AMX
    # CPUs: 1.6x faster on a 2-core AVX512-BF16 CPU, MiniLM at batch 32), "on" or "off".
    # Weights and optimizer state stay fp32.
    bf16: str = "auto"

    def __post_init__(self) -> None:
        if self.focal_gamma < 0:
            raise ValueError(f"focal_gamma must be 0 or more, got {self.focal_gamma}")
        if self.select not in SELECT:
            raise ValueError(f"select must be one of {', '.join(SELECT)}, got {self.select!r}")
