"""Software prefetch for compiled passes bound by random reads.

A pass over a million pairs that reads each pair's invoice from arrays of millions of rows
misses the cache once a pair per array read: the core waits for memory (at a million
payments the scoring's relations ran at ~6x the time of the same pairs sorted by invoice).
:func:`prefetch` asks for a row's cache line ``PREFETCH_AHEAD`` pairs before the pass reads
it (LLVM's ``llvm.prefetch``, a hint: no fault, no effect on what is read), so that many
misses are under way at once. Nothing here decides anything.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

#: how many items ahead of the one read a pass prefetches (the relations on 3.35M random
#: pairs of 2.5M invoices, score20-tools/pf.py: none 238 ms, 8: 86, 16: 63, 32: 57)
PREFETCH_AHEAD = 32


@intrinsic
def prefetch(typingctx: object, array: types.Array, index: types.Integer) -> tuple:
    """``prefetch(array, i)`` in a compiled pass: the cache line of ``array[i]`` requested for
    reading (kept in every cache level), ``i`` not checked (a hint never faults)."""
    def codegen(context, builder, signature, args):  # noqa: ANN001, ANN202 (numba's API)
        array_type = signature.args[0]
        rows = context.make_array(array_type)(context, builder, args[0])
        at = cgutils.get_item_pointer(context, builder, array_type, rows, [args[1]],
                                      wraparound=False)
        byte_ptr, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        hint = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte_ptr, i32, i32, i32]),
            "llvm.prefetch.p0i8")
        # (read, locality 3: all cache levels, data cache)
        builder.call(hint, [builder.bitcast(at, byte_ptr), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(array, index), codegen
