"""Reading numbers out of Arrow without ``to_numpy`` (which imports pandas): nulls, offsets,
several chunks, integer and boolean columns; and the engine package's lazy names."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

import engine
from engine.samples import arrow_numbers, categorical_sample, numeric_sample


def test_nulls_offsets_and_chunks_match_to_numpy() -> None:
    first = pa.array([1.5, None, 3.0, 4.0, None, 6.0]).slice(1)  # an offset into its buffers
    column = pa.chunked_array([first, pa.array([7, 8, None], type=pa.float64())])
    got = arrow_numbers(column)
    expected = column.to_numpy(zero_copy_only=False).astype(np.float64)
    assert np.array_equal(got, expected, equal_nan=True)
    assert [math.isnan(v) for v in got] == [True, False, False, True, False, False, False, True]


def test_integers_and_booleans_become_floats() -> None:
    ints = pa.chunked_array([pa.array([1, 2, None], type=pa.int32())])
    assert np.array_equal(arrow_numbers(ints), [1.0, 2.0, np.nan], equal_nan=True)
    flags = pa.array([True, False, True])
    assert list(arrow_numbers(flags)) == [1.0, 0.0, 1.0]
    assert arrow_numbers(pa.chunked_array([], type=pa.float64())).shape == (0,)
    assert list(arrow_numbers(pa.array([3, 4], type=pa.int64()), np.int64)) == [3, 4]


def test_samples_from_an_arrow_table() -> None:
    table = pa.table(
        {
            "x": pa.chunked_array([[3.0, None], [1.0, float("inf"), 2.0]]),
            "c": pa.array(["a", "b", None, "a", "1"]).dictionary_encode(),
        }
    )
    sample = numeric_sample(table, "x")
    assert list(sample.sorted_values) == [1.0, 2.0, 3.0]
    assert (sample.n_missing, sample.n_infinite) == (1, 1)
    cats = categorical_sample(table, "c")
    assert dict(zip(cats.categories.tolist(), cats.counts.tolist(), strict=True)) == {
        "a": 2,
        "b": 1,
        "1": 1,
    }
    assert cats.n_missing == 1


def test_every_exported_engine_name_resolves() -> None:
    for name in engine.__all__:
        assert getattr(engine, name) is not None, name


def _counts(sample) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return dict(zip(sample.categories.tolist(), sample.counts.tolist(), strict=True))


def test_dictionary_columns_are_counted_like_plain_text() -> None:
    """Parquet text columns are read dictionary-encoded and counted by their codes: the same
    categories, counts and missing values as counting the plain strings, across chunks with
    their own dictionaries, slices (offsets), nulls, unused entries and small index types."""
    rng = np.random.default_rng(3)
    words = ["a", "b", "c", "d", "e"]
    values = [None if rng.random() < 0.1 else words[rng.integers(0, 4)] for _ in range(3000)]
    plain = pa.chunked_array([pa.array(values[:1000]), pa.array(values[1000:])])
    first = pa.DictionaryArray.from_arrays(
        pa.array([None if v is None else words.index(v) for v in values[:1000]], pa.int8()),
        pa.array(words),
    )
    # A second chunk with its own dictionary: an unused entry, another order, int8 codes.
    dictionary = pa.array(["e", "d", "c", "b", "a"])
    codes = pa.array([None if v is None else 4 - words.index(v) for v in values[1000:]], pa.int8())
    second = pa.DictionaryArray.from_arrays(codes, dictionary)
    encoded = pa.chunked_array([first, second], type=pa.dictionary(pa.int8(), pa.string()))
    for name, column in (("whole", encoded), ("slice", encoded.slice(700, 1500))):
        expected_column = plain if name == "whole" else plain.slice(700, 1500)
        got = categorical_sample(pa.table({"x": column}), "x")
        expected = categorical_sample(pa.table({"x": expected_column}), "x")
        assert _counts(got) == _counts(expected), name
        assert "e" not in _counts(got)  # an entry no row uses is no category
        assert (got.n_rows, got.n_missing) == (expected.n_rows, expected.n_missing)
