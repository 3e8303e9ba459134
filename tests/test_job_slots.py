"""Job slots (unlearn/job_slots.py): a job waits while every slot of its sweep is held."""

from __future__ import annotations

import threading
import time

from omegaconf import OmegaConf

from unlearn.job_slots import holding_one_of, slots_for


def test_a_job_waits_for_a_free_slot(tmp_path):
    order, release = [], threading.Event()

    def first():
        with holding_one_of(tmp_path, 1):
            order.append("first starts")
            release.wait(10)
            order.append("first ends")

    def second():
        with holding_one_of(tmp_path, 1, poll_s=0.05):
            order.append("second starts")

    a = threading.Thread(target=first)
    a.start()
    while not order:
        time.sleep(0.01)
    b = threading.Thread(target=second)
    b.start()
    time.sleep(0.3)
    assert order == ["first starts"]  # the second job waits
    release.set()
    a.join(5), b.join(5)
    assert order == ["first starts", "first ends", "second starts"]


def test_two_slots_let_two_jobs_work_at_once(tmp_path):
    with holding_one_of(tmp_path, 2) as one, holding_one_of(tmp_path, 2, poll_s=0.05) as other:
        assert {one, other} == {0, 1}


def test_the_default_is_one_job_per_gpu_or_per_num_threads_cores(monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert slots_for(OmegaConf.create({"local_parallelism": None, "num_threads": 4})) == 4
    assert slots_for(OmegaConf.create({"local_parallelism": 3, "num_threads": 4})) == 3
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    monkeypatch.setattr("torch.cuda.device_count", lambda: 2)
    assert slots_for(OmegaConf.create({"local_parallelism": None, "num_threads": 1})) == 2
