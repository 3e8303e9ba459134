"""Dataclass schemas for every config group.

They are stored in Hydra's ConfigStore under `schema/<group>/<name>`; each YAML option lists
its schema first in its defaults, so a typo'd key or a wrong type fails at composition with
one line naming the key and the schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


@dataclass
class PretrainConfig:
    """Contrastive pretraining of a tiny CLIP on the synthetic world."""

    steps: int = 1500
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 0.1
    warmup_steps: int = 100
    seed: int = 0


@dataclass
class BackboneConfig:
    name: str = MISSING
    arch: str = MISSING  # open_clip architecture name
    # open_clip tag (e.g. openai), a checkpoint path, `synthetic` (pretrained here on the
    # embedded world, cached), or null for random weights
    pretrained: Optional[str] = None
    tokenizer: str = "open_clip"  # open_clip | synthetic
    quick_gelu: bool = False
    cache_dir: Optional[str] = None
    pretrain: Optional[PretrainConfig] = None


@dataclass
class ForgetConfig:
    name: str = MISSING
    kind: str = MISSING  # subgroup | class | style | class_in_style (see unlearn/data/tasks.py)
    classes: list[str] = MISSING
    # attribute -> value selecting the subgroup/style inside `classes` (empty: whole classes)
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class DatasetConfig:
    name: str = MISSING
    format: str = MISSING  # which loader builds it: synthetic | image_folder | ...
    templates: list[str] = MISSING  # evaluation prompt templates
    train_templates: list[str] = field(default_factory=list)  # for methods that train on prompts
    forget_train_size: int = 256
    retain_train_size: int = 256
    calib_size: int = 128
    batch_size: int = 256
    # at most this many images in each evaluation set (forget/retain/others/suite); null: all
    eval_cap: Optional[int] = None
    num_workers: int = 0  # image-decoding loader processes (real datasets)


@dataclass
class SyntheticDatasetConfig(DatasetConfig):
    world_seed: int = 1234
    image_size: int = 32
    train_per_combo: int = 8
    calib_per_combo: int = 2
    test_per_combo: int = 16
    suite_per_combo: int = 8
    zeroshot_suites: list[str] = field(default_factory=lambda: ["heldout_pairs", "heldout_style", "heldout_colours"])


@dataclass
class ImageFolderDatasetConfig(DatasetConfig):
    root: str = MISSING  # root/{train,val}/<class>/<image>
    train_split: str = "train"
    test_split: str = "val"


@dataclass
class RealDatasetConfig(DatasetConfig):
    """Image datasets on disk (unlearn/data/): where they are and how splits are drawn."""

    root: str = MISSING
    calib_fraction: float = 0.05  # share of each training class kept apart as the calibration pool
    split_seed: int = 0  # seeds the splits made here (calibration pool, style datasets' train/test)


@dataclass
class DownloadableDatasetConfig(RealDatasetConfig):  # cifar10 | cifar100 | stl10 | food101
    download: bool = False  # fetch into root with torchvision when missing (needs network)


@dataclass
class ImageNetDatasetConfig(RealDatasetConfig):  # root/{train,val}/<wnid>/
    train_split: str = "train"
    test_split: str = "val"


@dataclass
class StyleDatasetConfig(RealDatasetConfig):  # style_folder | imagenet_r
    test_fraction: float = 0.3  # of every class x style cell, seeded by split_seed
    classes: list[str] = field(default_factory=list)  # expected class folders, in label order; empty: as found
    styles: list[str] = field(default_factory=list)  # expected styles; empty: as found


@dataclass
class SplitJsonDatasetConfig(RealDatasetConfig):  # CoOp-style split JSON
    split_file: str = MISSING  # relative to root
    image_dir: str = ""  # image paths in the split file are relative to root/image_dir
    class_list: Optional[str] = None  # metadata list that names the classes without the data


@dataclass
class ClassFolderDatasetConfig(RealDatasetConfig):  # root/<class>/<image>, evaluation only (ObjectNet)
    label_map: Optional[str] = None  # JSON object folder -> class name


@dataclass
class MethodConfig:
    name: str = MISSING
    towers: str = "image"  # which towers train: image | text | both
    max_steps: Optional[int] = None  # caps every optimisation loop (the debug preset sets it)


@dataclass
class LoggerConfig:
    name: str = MISSING  # wandb | none
    project: str = "unlearn"
    entity: Optional[str] = None
    mode: str = "offline"  # offline | online | disabled
    group: Optional[str] = None
    job_type: Optional[str] = None
    tags: list[str] = field(default_factory=list)


@dataclass
class EvalConfig:
    batch_size: int = 512
    # autocast dtype on CUDA: auto (bf16, or fp16 where bf16 is unsupported) | fp32 | bf16 | fp16; CPU runs fp32
    precision: str = "auto"
    # extra zero-shot suites, name -> any dataset config (its test split is used), e.g.
    # `+dataset@eval.zeroshot.cifar10=cifar10`; the synthetic dataset keeps its built-in suites too
    zeroshot: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunConfig:
    dataset: Any = MISSING
    backbone: BackboneConfig = MISSING
    method: Any = MISSING
    forget: ForgetConfig = MISSING
    logger: LoggerConfig = MISSING
    eval: EvalConfig = field(default_factory=EvalConfig)
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    # CPU threads; 1 avoids the thread wake-up cost that dominates tiny models on CPU
    num_threads: Optional[int] = 1
    # skip the job when its folder already holds a complete metrics.json of the same config
    resume: bool = True
    save_checkpoint: bool = False
    experiment: Optional[str] = None  # name of the experiment preset, used as W&B group
    debug: bool = False


def register_schemas() -> None:
    cs = ConfigStore.instance()
    cs.store(name="run_schema", node=RunConfig)
    cs.store(group="schema/backbone", name="backbone", node=BackboneConfig)
    cs.store(group="schema/forget", name="forget", node=ForgetConfig)
    cs.store(group="schema/logger", name="logger", node=LoggerConfig)
    cs.store(group="schema/dataset", name="synthetic", node=SyntheticDatasetConfig)
    cs.store(group="schema/dataset", name="image_folder", node=ImageFolderDatasetConfig)
    for fmt, node in (("cifar10", DownloadableDatasetConfig), ("cifar100", DownloadableDatasetConfig),
                      ("stl10", DownloadableDatasetConfig), ("food101", DownloadableDatasetConfig),
                      ("imagenet", ImageNetDatasetConfig), ("style_folder", StyleDatasetConfig),
                      ("imagenet_r", StyleDatasetConfig), ("split_json", SplitJsonDatasetConfig),
                      ("class_folder", ClassFolderDatasetConfig)):
        cs.store(group="schema/dataset", name=fmt, node=node)
    from unlearn.methods import METHODS

    for name, method in METHODS.items():
        cs.store(group="schema/method", name=name, node=method.config_class)
