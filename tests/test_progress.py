import logging

import unlearn.progress as progress_module
from unlearn.progress import progress


def test_off_a_terminal_long_loops_log_their_progress(monkeypatch, caplog):
    monkeypatch.setattr(progress_module, "LOG_EVERY_S", 0.0)  # every loop counts as long
    with caplog.at_level(logging.INFO, logger="unlearn.progress"):
        assert list(progress(range(5), "stage 1 forget", unit="step")) == list(range(5))
    lines = [r.getMessage() for r in caplog.records]
    assert lines and all(line.startswith("stage 1 forget") for line in lines)
    assert "5/5" in lines[-1] and "step" in lines[-1]  # the count and the rate's unit


def test_off_a_terminal_short_loops_stay_silent(caplog):
    with caplog.at_level(logging.INFO, logger="unlearn.progress"):
        assert sum(progress(range(100), "features test")) == sum(range(100))
    assert caplog.records == []
