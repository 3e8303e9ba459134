"""Real-data loaders on tiny datasets written in the real on-disk formats, through the whole
pipeline with random-weight miniatures of the real ResNet and ViT CLIP families."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import DEBUG, ROOT, compose_config, read_metrics
from unlearn.data import fakes as fake
from unlearn.data import build_benchmark, build_suite, dataset_catalog
from unlearn.data.tasks import build_task
from unlearn.errors import UnlearnError
from unlearn.models.checkpoint import load_checkpoint
from unlearn.models.factory import create_random, eval_transform

MONKEYS = ["n02490219", "n02492035", "n02493509"]  # marmoset, capuchin, titi
IMAGENET_WNIDS = MONKEYS + ["n01669191", "n01667778", "n01440764"]  # box turtle, terrapin, tench
PACS_STYLES = ["art_painting", "cartoon", "photo", "sketch"]
PACS_CLASSES = ["dog", "elephant", "giraffe", "guitar", "horse", "house", "person"]
NO_WORKERS = "dataset.num_workers=0"


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("datasets")
    fake.write_cifar(root / "cifar10", "cifar10")
    fake.write_cifar(root / "cifar100", "cifar100")
    fake.write_stl10(root / "stl10")
    fake.write_food101(root / "food101")
    fake.write_imagenet(root / "imagenet", IMAGENET_WNIDS)
    fake.write_style_folder(root / "pacs", PACS_STYLES, PACS_CLASSES)
    fake.write_imagenet_r(root / "imagenet_r", ["n01443537", "n02007558"], ["art", "sketch", "toy"])
    dogs = dataset_catalog(compose_config("dataset=stanford_dogs").dataset).classnames
    fake.write_split_json(root / "dogs", "split_StanfordDogs.json", "", dogs[:4] + ["Pekinese", "toy poodle", "Scotch terrier"])
    fake.write_stanford_dogs_official(root / "dogs_official", ["Chihuahua", "Pekinese", "toy poodle", "Scotch terrier"])
    fake.write_class_folder(root / "objectnet", ["air_freshener", "alarm_clock", "banana"])
    return root


@pytest.fixture(scope="module")
def transform():
    return eval_transform(create_random("MiniRN"))


def _bench(data, transform, dataset, root, forget, *extra):
    cfg = compose_config(*DEBUG, f"dataset={dataset}", f"dataset.root={data / root}", f"forget={forget}", *extra)
    bench = build_benchmark(cfg.dataset, transform)
    return bench, build_task(bench, cfg.forget, cfg.task, seed=0)


def test_cifar100_subgroup_is_a_fine_class_inside_its_superclass(data, transform):
    bench, task = _bench(data, transform, "cifar100", "cifar100", "cifar100_subgroup_maple_tree")
    assert len(bench.classnames) == 100 and len(bench.groups) == 20
    assert bench.groups["trees"] == ["maple tree", "oak tree", "palm tree", "pine tree", "willow tree"]
    names = np.asarray(bench.classnames)
    assert set(names[task.forget_train.labels]) == {"maple tree"}
    assert set(names[task.retain_train.labels]) <= {"oak tree", "palm tree", "pine tree", "willow tree"}
    assert set(names[task.test.labels[task.test_masks["retain"]]]) == {"oak tree", "palm tree", "pine tree", "willow tree"}
    image, label = task.forget_train.dataset[0]
    assert image.shape == (3, 32, 32) and bench.classnames[label] == "maple tree"  # loader labels = set labels


def test_train_calib_and_test_are_disjoint_splits(data, transform):
    bench, _ = _bench(data, transform, "cifar10", "cifar10", "cifar10_class_cat")
    assert len(bench.train) + len(bench.calib) == 20 and len(bench.test) == 20
    assert set(np.unique(bench.calib.labels)) == set(range(10))  # a share of every class


def test_imagenet_wnid_folders_map_onto_the_1000_classes(data, transform):
    bench, task = _bench(data, transform, "imagenet1k", "imagenet", "imagenet1k_subgroup_marmoset")
    assert len(bench.classnames) == 1000
    names = np.asarray(bench.classnames)
    assert set(names[task.forget_train.labels]) == {"marmoset"}
    # retain: the other monkeys present (capuchin, titi), never the turtles or the tench
    assert set(names[task.test.labels[task.test_masks["retain"]]]) == {"white-headed capuchin", "titi monkey"}


@pytest.mark.parametrize("forget, retain_styles, retain_classes", [
    ("pacs_style_sketch_dog", {"art_painting", "cartoon", "photo"}, {"dog"}),
    ("pacs_class_in_style_dog_sketch", {"sketch"}, set(PACS_CLASSES) - {"dog"}),
])
def test_style_folder_forget_kinds(data, transform, forget, retain_styles, retain_classes):
    bench, task = _bench(data, transform, "pacs", "pacs", forget)
    forget_set = task.forget_train
    assert set(np.asarray(bench.classnames)[forget_set.labels]) == {"dog"}
    assert set(forget_set.attributes["style"]) == {"sketch"}
    mask = task.test_masks["retain"]
    assert set(task.test.attributes["style"][mask]) == retain_styles
    assert set(np.asarray(bench.classnames)[task.test.labels[mask]]) == retain_classes


def test_style_folder_split_is_seeded_and_per_cell(data, transform):
    a, _ = _bench(data, transform, "pacs", "pacs", "pacs_style_sketch_dog")
    b, _ = _bench(data, transform, "pacs", "pacs", "pacs_style_sketch_dog")
    c, _ = _bench(data, transform, "pacs", "pacs", "pacs_style_sketch_dog", "dataset.split_seed=1")
    assert a.test.dataset.paths == b.test.dataset.paths != c.test.dataset.paths
    assert len(a.test) == len(PACS_STYLES) * len(PACS_CLASSES)  # 1 of the 3 images in every cell


def test_split_json_names_and_calibration_from_val(data, transform):
    bench, task = _bench(data, transform, "stanford_dogs", "dogs", "stanford_dogs_class_multi")
    assert bench.classnames[-3:] == ["Pekinese", "toy poodle", "Scotch terrier"]
    assert len(bench.calib) == len(bench.test) == len(bench.train)  # CoOp's val split is the calibration pool
    assert task.test_masks["forget"].sum() == 6


def test_stanford_dogs_official_split_reads_its_mat_lists(data, transform):
    bench, task = _bench(data, transform, "stanford_dogs", "dogs_official", "stanford_dogs_class_multi",
                         "dataset.split=official")
    names = np.asarray(bench.classnames)
    assert len(names) == 120 and names[0] == "Chihuahua"  # all 120 breeds, in the official label order
    assert set(names[bench.test.labels]) == {"Chihuahua", "Pekinese", "toy poodle", "Scotch terrier"}
    assert len(bench.test) == 8 and len(bench.train) + len(bench.calib) == 12  # calibration carved from train
    assert task.test_masks["forget"].sum() == 6
    image, label = bench.test.dataset[0]
    assert image.shape == (3, 32, 32) and names[label] == "Chihuahua"


def test_stanford_dogs_official_list_with_a_wrong_label_names_it(data, transform, tmp_path):
    from scipy.io import loadmat, savemat

    root = tmp_path / "dogs"
    fake.write_stanford_dogs_official(root, ["Chihuahua", "Pekinese"])
    mat = loadmat(root / "lists" / "test_list.mat")
    mat["labels"][0, 0] = 5
    savemat(root / "lists" / "test_list.mat", {"file_list": mat["file_list"], "labels": mat["labels"]})
    cfg = compose_config("dataset=stanford_dogs", f"dataset.root={root}", "dataset.split=official")
    with pytest.raises(UnlearnError, match="has label 5, whose WordNet id is n02086240"):
        build_benchmark(cfg.dataset, transform)


@pytest.mark.parametrize("dataset, root, n_classes, first", [
    ("stl10", "stl10", 10, "airplane"),
    ("food101", "food101", 3, "apple pie"),
    ("imagenet_r", "imagenet_r", 200, "goldfish"),
    ("objectnet", "objectnet", 3, "air freshener"),
    ("imagenet1k", "imagenet", 1000, "tench"),
    ("cifar10", "cifar10", 10, "airplane"),
])
def test_zero_shot_suites_read_only_the_test_split(data, transform, dataset, root, n_classes, first):
    cfg = compose_config(f"dataset={dataset}", f"dataset.root={data / root}")
    suite = build_suite(cfg.dataset, transform)
    assert len(suite.classnames) == n_classes and suite.classnames[0] == first
    image, label = suite.images.dataset[0]
    assert image.shape == (3, 32, 32) and 0 <= label < n_classes
    assert suite.templates == list(cfg.dataset.templates)


@pytest.mark.parametrize("dataset, root, message", [
    ("cifar10", "nowhere", "dataset root '{root}' does not exist; expected layout root/cifar-10-batches-py/"),
    ("cifar100", "cifar10", "cifar100 files train, test, meta missing under"),
    ("imagenet1k", "pacs", "dataset folder '{root}/val' does not exist; expected layout root/{{train,val}}/<WordNet id"),
    ("stanford_dogs", "pacs", "split file '{root}/split_StanfordDogs.json' does not exist; expected layout root/<split_file>"),
    ("stanford_dogs dataset.split=official", "pacs", "dataset folder '{root}/Images' does not exist; expected layout "
     "root/{{Images/<WordNet id>-<breed>/<image>.jpg, lists/train_list.mat"),
    ("food101", "pacs", "split file '{root}/food-101/meta/train.json' does not exist"),
    ("stl10", "cifar10", "stl10 files test_X.bin, test_y.bin, class_names.txt, train_X.bin, train_y.bin missing"),
])
def test_missing_root_or_wrong_layout_names_the_expected_layout(data, transform, dataset, root, message):
    cfg = compose_config(*f"dataset={dataset}".split(), f"dataset.root={data / root}")
    with pytest.raises(UnlearnError) as err:
        build_benchmark(cfg.dataset, transform)
    assert message.format(root=data / root) in str(err.value) and "\n" not in str(err.value)


def test_non_wnid_folders_are_rejected(data, transform, tmp_path):
    fake.write_style_folder(tmp_path / "val", ["cats"], ["tabby"], per_cell=1)
    cfg = compose_config("dataset=imagenet1k", f"dataset.root={tmp_path}")
    with pytest.raises(UnlearnError, match="folders cats under .* are not ImageNet-1k WordNet ids"):
        build_suite(cfg.dataset, transform)


def test_worker_processes_load_the_same_batches(data, transform):
    bench, _ = _bench(data, transform, "cifar10", "cifar10", "cifar10_class_cat")
    serial = next(iter(bench.test.loader(8, num_workers=0)))
    parallel = next(iter(bench.test.loader(8, num_workers=1)))
    assert torch.equal(serial[0], parallel[0]) and torch.equal(serial[1], parallel[1])


def _cli_ok(proc):
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr


def test_pipeline_cifar_pickles_resnet_with_suites(cli, data):
    """CIFAR-100 pickle batches + STL-10 binaries + Food-101 lists, ModifiedResNet family."""
    proc, run_dir = cli(
        *DEBUG, "backbone=mini_rn", "dataset=cifar100", f"dataset.root={data / 'cifar100'}", NO_WORKERS,
        "forget=cifar100_subgroup_maple_tree", "save_checkpoint=true",
        "+dataset@eval.zeroshot.stl10=stl10", f"eval.zeroshot.stl10.root={data / 'stl10'}", "eval.zeroshot.stl10.num_workers=0",
        "+dataset@eval.zeroshot.food101=food101", f"eval.zeroshot.food101.root={data / 'food101'}",
        "eval.zeroshot.food101.num_workers=0",
    )
    _cli_ok(proc)
    metrics = read_metrics(run_dir)
    for phase in ("before", "after"):
        for key in ("forget/acc", "retain/acc", "others/acc", "zeroshot/stl10/acc", "zeroshot/food101/acc"):
            assert 0.0 <= metrics[phase][key] <= 1.0, (phase, key)
    _, arch, flags = load_checkpoint(run_dir / "model.pt")
    assert arch == "MiniRN" and flags == {"pretrained": None, "quick_gelu": False, "tokenizer": "open_clip"}


def test_pipeline_imagenet_folders_vit_with_objectnet_suite(cli, data):
    # one template: CLIP's 80 over 1000 classes are 80 000 prompts, minutes for a CPU test
    proc, run_dir = cli(
        *DEBUG, "backbone=mini_vit", "dataset=imagenet1k", f"dataset.root={data / 'imagenet'}", NO_WORKERS,
        "dataset.templates=['a photo of a {}.']",
        "forget=imagenet1k_subgroup_marmoset",
        "+dataset@eval.zeroshot.objectnet=objectnet", f"eval.zeroshot.objectnet.root={data / 'objectnet'}",
        "eval.zeroshot.objectnet.num_workers=0",
    )
    _cli_ok(proc)
    assert set(read_metrics(run_dir)["after"]) == {"forget/acc", "retain/acc", "others/acc", "zeroshot/objectnet/acc"}


def test_pipeline_style_folders_vit(cli, data):
    proc, run_dir = cli(*DEBUG, "backbone=mini_vit", "dataset=pacs", f"dataset.root={data / 'pacs'}", NO_WORKERS,
                        "forget=pacs_class_in_style_dog_sketch")
    _cli_ok(proc)
    assert read_metrics(run_dir)["forget"] == "pacs_class_in_style_dog_sketch"


@pytest.mark.parametrize("root, split", [("dogs", "coop"), ("dogs_official", "official")])
def test_pipeline_stanford_dogs_both_splits_resnet(cli, data, root, split):
    proc, run_dir = cli(*DEBUG, "backbone=mini_rn", "dataset=stanford_dogs", f"dataset.root={data / root}",
                        f"dataset.split={split}", NO_WORKERS, "forget=stanford_dogs_class_multi")
    _cli_ok(proc)
    assert 0.0 <= read_metrics(run_dir)["after"]["forget/acc"] <= 1.0


def test_synthetic_cannot_be_a_suite():
    cfg = compose_config(*DEBUG, "+dataset@eval.zeroshot.more=synthetic")
    with pytest.raises(UnlearnError, match="dataset format synthetic cannot be listed under eval.zeroshot"):
        build_suite(cfg.eval.zeroshot.more, None)


def test_config_root_defaults_to_the_data_dir(monkeypatch):
    monkeypatch.setenv("UNLEARN_DATA_DIR", "/datasets")
    assert compose_config("dataset=cifar10").dataset.root == "/datasets/cifar10"
    assert (ROOT / "conf" / "dataset" / "cifar10.yaml").is_file()
