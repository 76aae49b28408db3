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
