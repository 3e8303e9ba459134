"""Job folder names (unlearn/rundir.py, job_dirname): every override value readable, unique by hash."""

from __future__ import annotations

from omegaconf import OmegaConf

from unlearn.rundir import READABLE_NAME, job_dirname


def job(overrides: str, seed: int = 0, sweep_dir: str = "/nonexistent"):
    return OmegaConf.create({"seed": seed, "method": {"name": "grad_ascent"},
                             "hydra": {"job": {"override_dirname": overrides}, "sweep": {"dir": sweep_dir}}})


def test_a_short_command_line_is_the_folder_name_with_the_hash():
    name = job_dirname(job("debug=default,method.lr=0.001,seed=1"))
    assert name.startswith("debug=default,method.lr=0.001,seed=1__") and len(name.rsplit("__", 1)[1]) == 8


def test_a_long_command_line_keeps_every_value_and_shortens_the_keys():
    knobs = ",".join(f"method.some_long_knob_{i}=value{i}" for i in range(7))
    names = [job_dirname(job(f"{knobs},method=grad_ascent,seed={seed}", seed)) for seed in (0, 1)]
    assert len(knobs) > READABLE_NAME  # the old rule cut at 80 characters: the seeds differed only by the hash
    for seed, name in enumerate(names):
        readable = name.rsplit("__", 1)[0]
        assert readable == ",".join(f"some_long_knob_{i}=value{i}" for i in range(7)) + f",method=grad_ascent,seed={seed}"


def test_what_cannot_fit_is_cut_and_the_hash_keeps_it_unique():
    names = [job_dirname(job(f"method.note={'y' * 300},seed={seed}", seed)) for seed in (0, 1)]
    assert names[0] != names[1] and all(len(n) == READABLE_NAME + 10 for n in names)


def test_a_folder_an_earlier_version_named_is_found_again(tmp_path):
    knobs = ",".join(f"method.some_long_knob_{i}=value{i}" for i in range(3))
    cfg = job(knobs, sweep_dir=str(tmp_path))
    new = job_dirname(cfg)
    old = f"{knobs[:80]}__{new.rsplit('__', 1)[1]}"  # how versions before named it
    assert new != old
    (tmp_path / old).mkdir()
    assert job_dirname(cfg) == old
