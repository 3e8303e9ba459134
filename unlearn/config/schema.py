"""Dataclass schemas of the config groups that every job has, and the choices they share.

Every default value lives here or in the dataclass of its method / dataset format (the
`config` of its registry entry); a YAML option names its schema in `defaults:` and sets only
what makes it that option. Choice fields are enums, so a bad choice fails at composition with
the list of valid ones; numeric fields declare their valid range (unlearn/config/ranges.py).
`unlearn.config.setup()` stores the schemas in Hydra's ConfigStore as `schema/<group>/<name>`
(and `run_schema`, `pretrain_schema`). This module imports neither torch nor a registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any, Optional

from omegaconf import MISSING

from unlearn.config.ranges import at_least, fraction, positive, ranged

SEED_MAX = 2**32 - 1  # the largest seed every library here takes (numpy's global seeding, np.random.seed)


class Objective(StrEnum):
    """The score a sweep or a rule maximises (both higher-is-better scores, unlearn/metrics/formulas.py)."""

    score = "score"
    paper_score = "paper_score"


class Towers(StrEnum):
    """Which CLIP towers a method trains (or ranks, for three-stage's layer selection)."""

    image = "image"
    text = "text"
    both = "both"


# what a forget spec selects; semantics: unlearn/data/tasks.py (`class` is a keyword, hence this form)
ForgetKind = StrEnum("ForgetKind", {k: k for k in ("subgroup", "class", "style", "class_in_style")})


class RequestMode(StrEnum):
    """How a job with `requests` honours them (unlearn/requests.py)."""

    sequential = "sequential"  # the method once per request, in order, each on the model the last one left
    batch = "batch"  # the method once, on every request's images at once


class Precision(StrEnum):
    """Autocast dtype on CUDA: auto (bf16, or fp16 where bf16 is unsupported); CPU runs fp32."""

    auto = "auto"
    fp32 = "fp32"
    bf16 = "bf16"
    fp16 = "fp16"


class TokenizerKind(StrEnum):
    open_clip = "open_clip"  # the architecture's own (BPE for the real CLIPs)
    synthetic = "synthetic"  # the embedded world's word-level tokenizer (tiny CLIPs)


class FileCheck(StrEnum):
    """How the data caches tell that an image file changed (`cache.verify`, unlearn/data/cache.py)."""

    stat = "stat"  # its size and modification time in nanoseconds
    content = "content"  # a digest of its bytes (reads every file once per job)


class LoggerName(StrEnum):
    wandb = "wandb"
    none = "none"


class LoggerMode(StrEnum):
    offline = "offline"
    online = "online"
    disabled = "disabled"


@dataclass
class PretrainConfig:
    """Contrastive pretraining of a tiny CLIP on the synthetic world (`python -m unlearn.pretrain`)."""

    steps: int = at_least(1, 1500)
    batch_size: int = at_least(1, 256)
    lr: float = positive(2e-3)
    weight_decay: float = at_least(0, 0.1)
    warmup_steps: int = at_least(0, 100)
    seed: int = ranged(0, low=0, high=SEED_MAX)
    # null: learned from CLIP's 1/0.07 and capped at 100 (the tiny CLIPs end near 24-30, so their
    # cosine gaps are large); a number fixes it, e.g. 100 as OpenAI CLIP ends, which trains the model
    # towards real CLIP's geometry: the same logit gaps from much smaller cosine gaps
    logit_scale: Optional[float] = positive(None)
    # images never shown in pretraining: {classes: [...], attributes: {colour: red, ...}} (the forget
    # spec of a retrained reference model, unlearn/audit.py), or a list of them (deletion requests);
    # null: the whole pretraining world
    leave_out: Optional[Any] = None


@dataclass
class BackboneConfig:
    name: str = MISSING
    arch: str = MISSING  # open_clip architecture name
    # open_clip tag (e.g. openai), a checkpoint path, `synthetic` (pretrained here on the
    # embedded world, cached), or null for random weights
    pretrained: Optional[str] = None
    tokenizer: TokenizerKind = TokenizerKind.open_clip
    quick_gelu: bool = False
    cache_dir: Optional[str] = None
    pretrain: Optional[PretrainConfig] = None  # the recipe of `pretrained: synthetic`


@dataclass
class ForgetConfig:
    name: str = MISSING
    kind: ForgetKind = MISSING
    classes: list[str] = MISSING
    # attribute -> value selecting the subgroup/style inside `classes` (empty: whole classes)
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class DatasetConfig:
    """What every dataset format has; each format's schema extends it (unlearn/data/formats/)."""

    name: str = MISSING
    format: str = MISSING  # the registered format that loads it: synthetic | image_folder | cifar10 | ...
    templates: list[str] = MISSING  # evaluation prompt templates
    train_templates: list[str] = field(default_factory=list)  # for methods that train on prompts
    num_workers: int = at_least(0, 0)  # image-decoding loader processes (real datasets)
    # an image that cannot be decoded: false fails naming it; true leaves it out (one extra decoding
    # pass over the task's images) and counts it in metrics.json (`data/undecodable/<set>`)
    skip_bad_images: bool = False
    # near-neighbour class names for methods that preserve names (space adaptation): the name of a
    # list shipped in unlearn/data/metadata/preserve_names/ (stanford_dogs, ...); null: none
    preserve_names: Optional[str] = None
    # the audit's paraphrase prompt sets (name -> templates), disjoint from `templates` and
    # `train_templates` (unlearn/metrics/prompts.py)
    audit_prompts: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class RealDatasetConfig(DatasetConfig):
    """Image datasets on disk: where they are and how the splits made here are drawn."""

    root: str = MISSING
    # prompts for methods that train on text: disjoint from every dataset's CLIP evaluation templates
    train_templates: list[str] = field(default_factory=lambda: ["a {}.", "an image of a {}."])
    num_workers: int = at_least(0, 8)
    # phrasings CLIP's prompt sets do not use: the bare name, and two plain sentences
    audit_prompts: dict[str, list[str]] = field(default_factory=lambda: {
        "bare": ["{}"], "sentence": ["this is a {}.", "an example of a {}."]})
    # share of each training class kept apart as the calibration pool
    calib_fraction: float = fraction(0.05, low_open=True, high_open=True)
    split_seed: int = at_least(0, 0)  # seeds the splits made here (calibration pool, style datasets' train/test)


@dataclass
class TaskConfig:
    """How many images the unlearning task draws from the dataset's pools (unlearn/data/tasks.py)."""

    forget_train_size: int = at_least(1, 256)
    retain_train_size: int = at_least(1, 256)
    calib_size: int = at_least(1, 128)  # of each of the calibration forget and retain sets
    # at most this many images in each evaluation set (forget/retain/others/suite); null: all
    eval_cap: Optional[int] = at_least(1, None)


@dataclass
class MethodConfig:
    """What every method has; each method's schema extends it (unlearn/methods/)."""

    name: str = MISSING
    towers: Towers = Towers.image  # which towers train
    max_steps: Optional[int] = at_least(1, None)  # caps every optimisation loop (the debug preset sets it)


@dataclass
class LoopConfig(MethodConfig):
    """The fine-tuning baselines' one optimisation loop."""

    lr: float = positive(1e-5)
    steps: int = at_least(1, 60)
    batch_size: int = at_least(1, 64)


@dataclass
class MetricConfig:
    """What every metric has; each metric's schema extends it (unlearn/metrics/)."""

    name: str = MISSING


@dataclass
class AuditConfig:
    """How deep the forgetting goes (unlearn/audit.py): `audit=none` (default) or `standard`."""

    name: str = MISSING
    metrics: dict[str, Any] = field(default_factory=dict)  # name -> metric config (conf/metric/)
    # the model the unlearned one should resemble: null (none), `retrain` (the tiny CLIP pretrained
    # again without the forget spec's images, cached; embedded benchmark only) or a checkpoint path
    reference: Optional[str] = None
    # below this |original − reference| (a share) a measure's depth is undefined (unlearn/audit.py)
    min_gap: float = fraction(0.05)


@dataclass
class LoggerConfig:
    name: LoggerName = MISSING
    project: str = "unlearn"
    entity: Optional[str] = None
    mode: LoggerMode = "${oc.env:WANDB_MODE,offline}"  # $WANDB_MODE, else offline
    group: Optional[str] = None
    job_type: Optional[str] = None
    tags: list[str] = field(default_factory=list)


@dataclass
class EvalConfig:
    batch_size: int = at_least(1, 512)
    precision: Precision = Precision.auto
    # extra zero-shot suites, name -> any dataset config (its test split is used), e.g.
    # `+dataset@eval.zeroshot.cifar10=cifar10`; the synthetic dataset keeps its built-in suites too
    zeroshot: dict[str, Any] = field(default_factory=dict)
    # name -> metric config measured before and after unlearning (conf/config.yaml: zeroshot, scores)
    metrics: dict[str, Any] = field(default_factory=dict)
    # a method's intermediate states (three-stage's stages) are measured on forget and retain whole,
    # others and each suite at most this many images (a fixed draw, the same for every seed);
    # before/after always on the full sets; null: stages on the full sets too. 5000 leaves the
    # embedded benchmark whole (others 4032) and cuts ImageNet's ~143k evaluation images to ~26k
    stage_cap: Optional[int] = at_least(1, 5000)


@dataclass
class CacheConfig:
    """What a job reuses instead of recomputing (unlearn/data/cache.py, unlearn/feature_store.py,
    unlearn/data/file_index.py).
    Every cache is exact: a run's metrics are the same with any of them off; switch one off to
    compare its cost (`make bench`)."""

    # the original model's image features and class heads, on disk, keyed by the weights, architecture,
    # preprocessing, precision, device and the image set's files and labels: shared by every job of a
    # sweep, and by the after-evaluation of a method that leaves a tower unchanged
    features: bool = True
    # evaluation images decoded once, as uint8 at the model's input size, on disk (memory-mapped):
    # shared by every job and backbone with the same preprocessing (~150 KB per 224 px image)
    images: bool = True
    # the small training and calibration sets decoded once per job and kept in memory (Fisher,
    # every training epoch and every soup point reuse them)
    train_sets: bool = True
    # image folder listings (ImageNet's 1.28M training files) kept on disk, each subfolder listed
    # again when its modification time changes (unlearn/data/file_index.py)
    file_index: bool = True
    # how a cached value knows that an image file changed: stat (size and modification time in
    # nanoseconds, every file) or content (a digest of every file's bytes: also catches a rewrite
    # that restores the time, at the price of reading every file once per job)
    verify: FileCheck = FileCheck.stat
    dir: Optional[str] = None  # null: $UNLEARN_DATA_CACHE_DIR, else $UNLEARN_CACHE_DIR/data, else ~/.cache/unlearn/data


# every cache off, and stages measured on the full sets: what the defaults' cost and metrics are
# compared with (`make bench`, tests/test_cost.py)
CACHES_OFF = (*(f"cache.{f.name}=false" for f in fields(CacheConfig) if f.type == "bool"), "eval.stage_cap=null")


@dataclass
class RunConfig:
    dataset: Any = MISSING
    backbone: BackboneConfig = MISSING
    method: Any = MISSING
    forget: ForgetConfig = MISSING
    logger: LoggerConfig = MISSING
    audit: AuditConfig = MISSING
    task: TaskConfig = field(default_factory=TaskConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)
    seed: int = ranged(0, low=0, high=SEED_MAX)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    # CPU threads; 1 avoids the thread wake-up cost that dominates tiny models on CPU; null: torch's default
    num_threads: Optional[int] = at_least(1, 1)
    # hydra/launcher=local: at most this many jobs of a sweep work at once on this machine (the others
    # wait, unlearn/job_slots.py); null: one per visible GPU, or without a GPU one per num_threads cores
    local_parallelism: Optional[int] = at_least(1, None)
    # skip the job when its folder already holds a complete metrics.json of the same config
    resume: bool = True
    save_checkpoint: bool = False
    # deletion requests, in the order they arrive: `forget` presets by name (e.g.
    # requests=[synthetic_class_arrow,synthetic_subgroup_red_circle]) or forget nodes; they replace
    # `forget` (unlearn/requests.py); empty: one forget spec, `forget`
    requests: list[Any] = field(default_factory=list)
    mode: RequestMode = RequestMode.sequential  # how `requests` are honoured
    experiment: Optional[str] = None  # name of the experiment preset, used as W&B group
    # the value a job returns to Hydra: what an Optuna sweep maximises (unlearn/metrics/formulas.py)
    objective: Objective = Objective.score


@dataclass
class PretrainRunConfig:
    """`conf/pretrain.yaml`: pretrain one tiny backbone."""

    backbone: BackboneConfig = MISSING
    num_threads: Optional[int] = at_least(1, 1)
    out_dir: Optional[str] = None  # default: $UNLEARN_CACHE_DIR or ~/.cache/unlearn
