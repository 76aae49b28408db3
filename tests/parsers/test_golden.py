"""Every hand-written sample file parses to its golden output, through the sniffing door."""

from __future__ import annotations

import pytest
from _parser_golden import FOLDER_FORMAT, check, sample_files

from cashmatch.parsers import parse_file


@pytest.mark.parametrize("sample", sample_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_golden(sample):
    result = parse_file(sample.read_bytes(), source=sample.name)
    expected = FOLDER_FORMAT.get(sample.parent.name)
    if expected is not None:
        assert result.format == expected
    check(sample, result)


def test_every_format_folder_has_samples():
    folders = {p.parent.name for p in sample_files()}
    assert set(FOLDER_FORMAT) <= folders
