"""The customer index built from invoices that repeat their customers' names: each (name,
customer) pair read once, with the same index as when every invoice row is read."""

import numpy as np
import pyarrow as pa
import pytest

from cashmatch.engine import identify as I
from cashmatch.engine import schema as S
from cashmatch.engine.identify import NAME_BLOCK, build_index, index_customers, name_blocks
from cashmatch.engine.normalize import account_key, distinct_name_keys, name_key, string_parts


def _invoices(rows: list[tuple[str, str | None]]) -> pa.Table:
    n = len(rows)
    return S.conform(pa.table({
        "invoice_id": [f"INV-{i}" for i in range(n)],
        "customer_id": [c for c, _ in rows],
        "customer_name": [name for _, name in rows],
        "amount": [100] * n,
        "currency": ["EUR"] * n,
    }), S.INVOICES)


def test_names_from_invoices_first_seen_and_unique_keys():
    rows = [
        ("C2", "Beta GmbH"), ("C1", "Alpha Ltd"), ("C2", "Beta GmbH"), ("C1", "Shared Name"),
        ("C3", "Shared Name"), ("C1", "Alpha Ltd"), ("C3", None), ("C4", "Delta"),
        ("C1", "Shared Name"), ("C4", "Delta Trading"),
    ]
    customers = S.conform(pa.table({"customer_id": ["C5", "C1"], "name": ["Echo", "Alpha"]}),
                          S.CUSTOMERS)
    for master in (None, customers):
        index = build_index(invoices=_invoices(rows), customers=master)
        _, inv_customer = index_customers(invoices=_invoices(rows), customers=master)
        assert inv_customer.tolist() == index.lookup(pa.array([c for c, _ in rows])).tolist()
        ids = index.ids.to_pylist()
        assert ids == (["C5", "C1", "C2", "C3", "C4"] if master else ["C2", "C1", "C3", "C4"])
        by_customer = dict(zip(ids, index.names_by_customer.to_pylist(), strict=True))
        assert by_customer["C2"] == "BETA" and by_customer["C3"] == "SHARED NAME"
        assert by_customer["C1"] == "ALPHA"  # the master's "Alpha", or "Alpha Ltd" first
        assert by_customer["C4"] == "DELTA"
        keys = dict(zip(index.name_keys.column("key").to_pylist(),
                        [ids[c] for c in index.name_keys.column("cust").to_pylist()],
                        strict=True))
        # a name two customers carry names neither; "DELTA TRADING" (a later name) still counts
        assert "SHARED NAME" not in keys
        assert keys["BETA"] == "C2" and keys["DELTA"] == "C4" and keys["DELTA TRADING"] == "C4"
        assert keys["ALPHA"] == "C1"
        order = index.name_keys.column("key").to_pylist()
        assert order.index("BETA") < order.index("DELTA") < order.index("DELTA TRADING")


def test_invoices_read_in_an_order_index_as_the_invoices_taken_in_it():
    """``order``: the same index, and the customer of each invoice in that order, as from the
    invoices taken in that order (the ids first seen first in it, the names read at its rows)."""
    rows = [(f"C{i % 7}", f"Name {i % 5}" if i % 4 else None) for i in range(60)]
    order = np.random.default_rng(3).permutation(len(rows))
    customers = S.conform(pa.table({"customer_id": ["C9", "C3"], "name": ["Nine", "Three"]}),
                          S.CUSTOMERS)
    unknown = [(None if i % 9 == 4 else c, name) for i, (c, name) in enumerate(rows)]
    for master, read in ((None, rows), (customers, rows), (customers, unknown)):
        got, got_cust = index_customers(invoices=_invoices(read), customers=master, order=order)
        want, want_cust = index_customers(
            invoices=_invoices(read).take(pa.array(order)), customers=master)
        np.testing.assert_array_equal(got_cust, want_cust)
        assert got.ids.equals(want.ids) and got.names_by_customer.equals(want.names_by_customer)
        assert got.name_keys.equals(want.name_keys) and got.account_keys.equals(want.account_keys)
        np.testing.assert_array_equal(got.group, want.group)
        assert got.ids.to_pylist() != sorted(got.ids.to_pylist())  # (the order counts here)


def test_order_given_by_a_call_indexes_as_the_order_itself():
    """``order`` as a call (prepare_ledger's: the sort's answer, waited for): called once, the
    same index and customers as with the order itself."""
    rows = [(f"C{i % 11}", f"Name {i % 3}" if i % 5 else "Other") for i in range(70)]
    order = np.random.default_rng(9).permutation(len(rows))
    calls = []

    def sorted_rows() -> np.ndarray:
        calls.append(1)
        return order

    got, got_cust = index_customers(invoices=_invoices(rows), customers=None, order=sorted_rows)
    want, want_cust = index_customers(invoices=_invoices(rows), customers=None, order=order)
    assert calls == [1]
    np.testing.assert_array_equal(got_cust, want_cust)
    assert got.ids.equals(want.ids) and got.names_by_customer.equals(want.names_by_customer)
    assert got.name_keys.equals(want.name_keys)


def test_name_blocks_order_the_keys_of_words_as_numpy_sorts_their_blocks():
    """The keys of two words or more, by their leading ``NAME_BLOCK`` bytes (ties in key
    order), as ``np.argsort`` of those bytes gives: short keys, shared blocks, and enough keys
    for the radix sort."""
    rng = np.random.default_rng(7)
    letters = np.array(list("AB Z9"))
    for n in (12, 150_000):
        words = ["".join(rng.choice(letters, int(rng.integers(0, 9)))).strip() for _ in range(n)]
        keys = pa.table({"key": pa.array(words + ["A B", "A", "", "ZZZZZZ Z", "A B"]),
                         "cust": pa.array(np.arange(n + 5))})
        got_keys, order, blocks = name_blocks(keys)
        k_block = got_keys.astype(f"S{NAME_BLOCK}")
        rows = np.flatnonzero(np.char.find(got_keys, b" ") >= 0)
        want = rows[np.argsort(k_block[rows], kind="stable")]
        np.testing.assert_array_equal(order, want)
        np.testing.assert_array_equal(blocks, k_block[want])
        assert len(np.unique(blocks)) < len(blocks)  # (ties)


def test_account_codes_the_same_whether_distinct_accounts_are_keyed_first(monkeypatch):
    """A small batch's every account keyed and encoded at once, a large one's distinct
    accounts keyed first: the same keys, in first-seen order, and the same codes, with
    nulls and empty accounts, accounts of one key written differently, and repeats."""
    rng = np.random.default_rng(7)
    forms = ["DE89 3704 0044 0532 0130 00", "de89370400440532013000", "GB29-NWBK-6016",
             "gb29nwbk6016", "", None, " ", "FR14 2004", "fr142004 ", "NL91ABNA0417164300"]
    for n in (0, 1, 5, 40, 300):
        accounts = pa.chunked_array([[forms[i] for i in rng.integers(0, len(forms), n)]],
                                    pa.string())
        seen = account_key(pa.array(
            ["" if a is None else a for a in accounts.to_pylist()], pa.string())).to_pylist()
        expected_keys = list(dict.fromkeys(seen))
        got = []
        for first in (0, 10**9):  # the distinct accounts keyed first; every one at once
            monkeypatch.setattr(I, "DISTINCT_ACCOUNTS_FIRST", first)
            codes = I._AccountCodes.of(accounts)
            assert codes.keys.to_pylist() == expected_keys
            assert [expected_keys[c] for c in codes.code] == seen
            assert codes.given.tolist() == [k != "" for k in seen]
            assert codes.n == len(expected_keys)
            got.append((codes.keys.to_pylist(), codes.code.tolist(), codes.given.tolist()))
        assert got[0] == got[1]


def test_string_codes_compiled_as_arrows_dictionary_encoding(monkeypatch):
    """``_string_codes``: the compiled pass (``text_kernel.packed_codes``) gives Arrow's codes
    and the first row of each, in one hash partition or several, at the 8- and 16-byte edges
    of the words, with an offset into the buffers; strings it cannot pack (over 16 bytes, a
    zero byte) and nulls by Arrow, coded the same."""
    from cashmatch.engine import text_kernel

    rng = np.random.default_rng(11)
    alphabet = np.array(list("0A9Zé-"))
    values = ["".join(rng.choice(alphabet, rng.choice([0, 1, 7, 8, 9, 15, 16])))
              for _ in range(3 * text_kernel.PART_ROWS)]
    values = [v for v in values if len(v.encode()) <= 16]
    values = [values[i] for i in rng.integers(0, len(values) // 20, len(values))]  # repeats
    monkeypatch.setattr(I, "CODES_COMPILED_MIN", 0)
    sliced = pa.array(values).slice(5)
    assert len(text_kernel.packed_codes(*string_parts(sliced))[0]) == len(sliced)  # compiled
    for arr in (sliced, pa.array(values[:50]), pa.array(["C1"]),
                pa.array(values[:99] + ["A" * 17]), pa.array(values[:99] + ["A\x00"]),
                pa.array(values[:99] + [None] + values[:3]), pa.array([], pa.string())):
        code, firsts = I._string_codes(arr)
        enc = arr.dictionary_encode()
        assert np.asarray(code).tolist() == enc.indices.fill_null(-1).to_pylist()
        assert arr.take(pa.array(firsts, pa.int64())).equals(enc.dictionary)
        assert np.array_equal(firsts, [np.flatnonzero(np.asarray(code) == c)[0]
                                       for c in range(len(firsts))])
    code, firsts = text_kernel.packed_codes(*string_parts(pa.array(values)))
    assert len(code) == len(values) and 100 < len(firsts) < len(values) // 10  # repeats
    assert len(text_kernel.packed_codes(*string_parts(pa.array(["A" * 17])))[0]) == 0


def test_customer_index_the_same_with_ids_coded_compiled(monkeypatch):
    """The index and each invoice's customer the same whether the customer ids are coded by
    the compiled pass or by Arrow (ids of one or several bytes; a master; an order)."""
    rows = [(f"C{i % 13}" if i % 3 else f"CUST-{i % 5}", f"Name {i % 6}") for i in range(90)]
    order = np.random.default_rng(5).permutation(len(rows))
    customers = S.conform(pa.table({"customer_id": ["C9", "Z", "CUST-2"],
                                    "name": ["Nine", "Zed", "Two"]}), S.CUSTOMERS)
    built = []
    for use_kernel in (False, True):  # (whatever the process has compiled already)
        monkeypatch.setattr(I, "compiled", lambda rows, least, kernel, use=use_kernel: use)
        built.append(index_customers(invoices=_invoices(rows), customers=customers, order=order))
    (a, a_cust), (b, b_cust) = built
    np.testing.assert_array_equal(a_cust, b_cust)
    assert a.ids.equals(b.ids) and a.names_by_customer.equals(b.names_by_customer)
    assert a.name_keys.equals(b.name_keys) and a.account_keys.equals(b.account_keys)
    np.testing.assert_array_equal(a.group, b.group)


@pytest.mark.parametrize("n_master", [0, 1, 37])
def test_first_seen_codes_compiled_as_numpys(n_master: int):
    """``text_kernel.first_seen_codes`` against ``identify._first_seen_codes`` (numpy): codes
    renumbered by where each is first read (the master's rows, then the others in an order),
    rows of no code (-1), a code read only in the master's rows or only once; no rows."""
    from cashmatch.engine import text_kernel

    rng = np.random.default_rng(n_master)
    n_codes = 50
    raw = np.concatenate([rng.permutation(n_codes), rng.integers(-1, n_codes, 400)])
    raw = rng.permutation(raw)
    for codes in (raw.astype(np.int32), raw):
        for order in (rng.permutation(len(raw) - n_master), np.arange(len(raw) - n_master)):
            got = text_kernel.first_seen_codes(codes, n_master, order, n_codes)
            want = I._first_seen_codes(codes, n_master, order, n_codes)
            for g, w in zip(got, want, strict=True):
                np.testing.assert_array_equal(g, w)
    none = np.zeros(0, np.int64)
    assert all(len(a) == 0 for a in text_kernel.first_seen_codes(none, 0, none, 0))


def test_customer_index_the_same_with_names_compared_compiled(monkeypatch):
    """The names read of the invoices (their customers' first names, the name keys and their
    order) the same whether only the customers whose invoices carry several names have their
    names compared (``text_kernel.mixed_strings`` finds them) or every customer's: customers of
    one name, of several, of a null name beside an empty one; a master; an order."""
    rng = np.random.default_rng(7)
    rows = []
    for _ in range(400):
        c = int(rng.integers(40))
        name = f"Name {c}" if c % 4 else rng.choice([f"Name {c}", f"Other {c}", "", None])
        rows.append((f"C{c}", name))
    order = rng.permutation(len(rows))
    customers = S.conform(pa.table({"customer_id": ["C7", "Z"], "name": ["Seven", "Zed"]}),
                          S.CUSTOMERS)
    for master in (None, customers):
        built = []
        for use_kernel in (False, True):
            monkeypatch.setattr(I, "compiled", lambda rows, least, kernel, use=use_kernel: use)
            built.append(index_customers(invoices=_invoices(rows), customers=master,
                                         order=order))
        (a, a_cust), (b, b_cust) = built
        np.testing.assert_array_equal(a_cust, b_cust)
        assert a.ids.equals(b.ids) and a.names_by_customer.equals(b.names_by_customer)
        assert a.name_keys.equals(b.name_keys) and a.account_keys.equals(b.account_keys)
        assert len(a.name_keys) > 45  # (several names of a customer read)


def test_payer_names_looked_up_once_each_as_every_payment():
    """identify looks up the distinct payer names (``distinct_name_keys``): the keys taken back
    to the payments are ``name_key``'s, and each payment finds what its own key finds (nulls,
    repeats, names of one key written differently, chunks)."""
    index = build_index(invoices=_invoices([("C1", "Alpha Ltd"), ("C2", "Beta GmbH"),
                                            ("C3", "Gamma & Sons")]), customers=None)
    forms = ["Alpha Ltd", "ALPHA LTD.", None, "", "Beta  GmbH", "Nobody", "gamma & sons", "Beta"]
    rng = np.random.default_rng(2)
    payers = pa.chunked_array([[forms[i] for i in rng.integers(0, len(forms), 40)],
                               [forms[i] for i in rng.integers(0, len(forms), 25)]])
    keys, at = distinct_name_keys(payers)
    names = name_key(payers)
    assert keys.take(at).equals(names) and len(keys) < len(names)
    hit = index.names.index_in(keys)[np.asarray(at, np.int64)]
    np.testing.assert_array_equal(hit, index.names.index_in(names))
    assert (hit >= 0).sum() > 10 and (hit < 0).sum() > 10
    got = I.identify(payments=pa.table({"payer_name": payers,
                                        "payer_account": pa.nulls(len(names), pa.string())}),
                     index=index, name_cutoff=88.0)
    assert got.names.equals(names)
    np.testing.assert_array_equal(got.customer[got.method == I.BY_NAME],
                                  np.asarray(index.name_keys.column("cust"))[hit[hit >= 0]])


def test_account_codes_compiled_as_arrows_encoding_of_the_keys(monkeypatch):
    """``normalize.account_codes`` (one compiled pass, :func:`text_kernel.account_codes`) gives
    the keys and codes of Arrow's ``account_key`` then ``dictionary_encode``
    (``_arrow_account_codes``, its reference): in one hash partition or several, at the 8-,
    16- and 24-byte edges of the packed words, lower case and separators, an offset into the
    buffers; None for a key over 24 bytes or a non-ASCII account (left to Arrow), and
    ``_AccountCodes.of`` the same either way."""
    from cashmatch.engine import normalize as N
    from cashmatch.engine import text_kernel

    monkeypatch.setattr(N, "ACCOUNT_CODES_COMPILED_MIN", 0)
    rng = np.random.default_rng(5)
    alphabet = np.array(list("0A9Zaz -/."))
    values = ["".join(rng.choice(alphabet, rng.choice([0, 1, 7, 8, 9, 15, 16, 17, 23, 24, 25])))
              for _ in range(3 * text_kernel.PART_ROWS)]
    values = [v for v in values if len(account_key(pa.array([v]))[0].as_py()) <= 24]
    values = [values[i] for i in rng.integers(0, len(values) // 20, len(values))]  # repeats
    sliced = pa.array(values).slice(7)
    for arr in (sliced, pa.array(values[:50]), pa.array(["de89 3704"]), pa.array([""] * 3),
                pa.array([], pa.string())):
        keys, code = N.account_codes(arr)
        want_keys, want_code = I._arrow_account_codes(arr)
        assert keys.equals(want_keys)
        assert code.tolist() == want_code.tolist()
    for other in ("A" * 25, "DE 89-" + "1" * 21, "ıban 12", "DÉ89"):
        arr = pa.array(values[:99] + [other])
        assert N.account_codes(arr) is None
        codes = I._AccountCodes.of(arr)
        want_keys, want_code = I._arrow_account_codes(arr)
        assert codes.keys.equals(want_keys) and codes.code.tolist() == want_code.tolist()
