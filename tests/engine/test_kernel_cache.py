"""Compiled passes loaded from numba's cache ahead of their first call (engine.kernel_cache)."""

import subprocess
import sys

import numpy as np

from cashmatch.engine import kernel_cache, text_kernel


def test_a_called_pass_has_its_signature_in_the_cache():
    values = np.array([3, 1, 2], np.int64)
    text_kernel.decimal_text(values, np.full(3, 2, np.int64))  # (saved to the cache)
    sigs = kernel_cache.cached_signatures(text_kernel.decimal_text)
    assert sigs and all(isinstance(s, tuple) for s in sigs)
    assert any(tuple(s) in text_kernel.decimal_text.overloads for s in sigs)


def test_only_public_passes_of_the_module():
    kernels = kernel_cache.public_kernels("text_kernel")
    names = {k.py_func.__name__ for k in kernels}
    assert "decimal_text" in names
    assert not any(n.startswith("_") for n in names)
    assert all(k.py_func.__module__ == "cashmatch.engine.text_kernel" for k in kernels)


def test_loading_ahead_leaves_nothing_for_the_first_call_to_load():
    """In a fresh interpreter: after load_cached_kernels every cached signature of the module's
    passes is loaded, and a call with those types loads nothing more (and gives what it gives
    without the preload: the same pass)."""
    code = """
import numpy as np
from cashmatch.engine import kernel_cache, text_kernel
kernel = text_kernel.decimal_text
before = len(kernel.overloads)
loaded = kernel_cache.load_cached_kernels(("text_kernel",))
assert before == 0 and loaded >= 1, (before, loaded)
for k in kernel_cache.public_kernels("text_kernel"):
    for sig in kernel_cache.cached_signatures(k):
        assert tuple(sig) in k.overloads, (k, sig)
n = len(kernel.overloads)
text_kernel.decimal_text(np.array([5, -120], np.int64), np.array([2, 0], np.int64))
assert len(kernel.overloads) == n
print("ok")
"""
    # (the cache holds decimal_text's signature: test_a_called_pass... or any match saved it)
    text_kernel.decimal_text(np.array([5, -120], np.int64), np.array([2, 0], np.int64))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_a_thread_loads_them_in_the_background():
    thread = kernel_cache.load_in_background(("output_kernel",))
    thread.join(timeout=120)
    assert not thread.is_alive() and thread.daemon
    for k in kernel_cache.public_kernels("output_kernel"):
        for sig in kernel_cache.cached_signatures(k):
            assert tuple(sig) in k.overloads


def test_processes_compiling_together_never_share_a_data_file(tmp_path, monkeypatch):
    """Two cache writers that read the index before either wrote it (as two processes
    compiling one function do): unlocked, both picked ``.1.nbc`` and the one who wrote its
    data last left the other's signature pointing at its code. Locked, each entry loads
    its own data. (Threads stand in for processes: each opens the lock file itself, and
    ``flock`` locks an open file, so they exclude each other alike.)"""
    import threading
    import time

    from numba.core import caching

    assert getattr(caching.IndexDataCacheFile.save, "locked", False)
    load_index = caching.IndexDataCacheFile._load_index
    save_data = caching.IndexDataCacheFile._save_data

    def slow_load_index(self):
        found = load_index(self)
        time.sleep(0.1)  # (the other writer reads the same index meanwhile, unless locked)
        return found

    def slow_save_data(self, name, data):
        if data == "code of A":
            time.sleep(0.3)  # (A writes its data file last)
        save_data(self, name, data)

    monkeypatch.setattr(caching.IndexDataCacheFile, "_load_index", slow_load_index)
    monkeypatch.setattr(caching.IndexDataCacheFile, "_save_data", slow_save_data)

    def writer(key: str) -> None:
        caching.IndexDataCacheFile(str(tmp_path), "f-1.py311", "stamp").save(key, f"code of {key}")

    threads = [threading.Thread(target=writer, args=(k,)) for k in "AB"]
    for t in threads:
        t.start()
        time.sleep(0.02)
    for t in threads:
        t.join()
    reader = caching.IndexDataCacheFile(str(tmp_path), "f-1.py311", "stamp")
    monkeypatch.undo()
    assert reader.load("A") == "code of A"
    assert reader.load("B") == "code of B"
