"""write_once (unlearn/io.py): of jobs that need the same file at once, one writes it and the others
wait for it and then read it."""

from __future__ import annotations

import threading
import time

from unlearn.io import write_once


def test_concurrent_writers_write_a_file_once(tmp_path):
    path, writes = tmp_path / "features.pt", []

    def slow_write(tmp):
        writes.append(threading.current_thread().name)
        time.sleep(0.3)
        tmp.write_text("value")

    threads = [threading.Thread(target=write_once, args=(path, slow_write), name=f"job {i}") for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(writes) == 1 and path.read_text() == "value"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["features.pt", "features.pt.lock"]  # no partial file left
