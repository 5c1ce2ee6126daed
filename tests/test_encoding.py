"""LLMTIME codec: examples, round-trip properties, tolerance of garbage."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lmcast.core.codec import encoding


def test_reference_example():
    x = np.array([[0.25, 1.5], [0.27, 1.47]])
    assert encoding.encode(x, alpha=1.0, precision=2) == "0.25,1.50;0.27,1.47"


def test_alpha_scales_and_negative_sign_kept():
    x = np.array([[-2.0, 4.0]])
    assert encoding.encode(x, alpha=2.0, precision=1) == "-1.0,2.0"
    assert encoding.encode(np.array([[-0.001, 0.0]]), precision=2) == "0.00,0.00"


def test_decode_exact_inverse_example():
    res = encoding.decode("0.25,1.50;0.27,1.47", n_vars=2)
    assert res.n_steps == 2 and res.n_malformed == 0
    np.testing.assert_array_equal(res.values, [[0.25, 1.5], [0.27, 1.47]])


@pytest.mark.parametrize(
    ("text", "steps", "malformed"),
    [
        ("1.00,2.00;3.00,4.0", 2, 0),  # truncated decimals still parse
        ("1.00,2.00;3.00,", 1, 1),  # missing field
        ("1.00,2.00;3.00,4.00,5.00", 2, 0),  # extra field ignored
        ("1.00,2.00;x3.00,4.00;5,6", 1, 2),  # stray character stops parsing
        ("1.00,2.00;", 1, 0),
        ("", 0, 0),
        (";;;", 0, 0),
        ("abc", 0, 1),
        ("1 . 0 0 , 2 . 0 0", 1, 0),  # white space ignored
    ],
)
def test_decode_tolerant(text, steps, malformed):
    res = encoding.decode(text, n_vars=2)
    assert (res.n_steps, res.n_malformed) == (steps, malformed)
    assert res.values.shape == (steps, 2)


def test_decode_max_steps():
    assert encoding.decode("1,2;3,4;5,6", max_steps=2).n_steps == 2


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(
    x=arrays(np.float64, st.tuples(st.integers(1, 12), st.integers(1, 4)), elements=finite),
    precision=st.integers(0, 5),
    alpha=st.floats(min_value=0.01, max_value=100.0),
)
def test_roundtrip_property(x, precision, alpha):
    text = encoding.encode(x, alpha=alpha, precision=precision)
    res = encoding.decode(text, n_vars=x.shape[1])
    assert res.n_steps == x.shape[0] and res.n_malformed == 0
    np.testing.assert_array_equal(res.values, scaled_round(x, alpha, precision))


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(
        alphabet=st.sampled_from(list("0123456789.,;- ax\n")) | st.characters(), max_size=80
    ),
    n_vars=st.integers(1, 4),
)
def test_decode_never_raises(text, n_vars):
    res = encoding.decode(text, n_vars=n_vars)
    assert res.values.shape == (res.n_steps, n_vars)
    assert np.all(np.isfinite(res.values))


def test_auto_alpha_puts_99_percent_in_range():
    rng = np.random.default_rng(0)
    x = rng.lognormal(0, 1, size=(200, 50, 2))
    alpha = encoding.auto_alpha(x)
    scaled = x / alpha
    assert 0.985 <= np.mean(scaled <= 10) <= 1.0
    assert encoding.auto_alpha(np.zeros(5)) == 1.0


def test_encode_rejects_bad_arguments():
    with pytest.raises(ValueError):
        encoding.encode(np.ones((2, 2)), alpha=0)
    with pytest.raises(ValueError):
        encoding.encode(np.array([[np.nan, 1.0]]))


def scaled_round(x: np.ndarray, alpha: float, precision: int) -> np.ndarray:
    """``x / alpha`` rounded as :func:`lmcast.core.codec.encoding.encode` writes it (the codec's
    fixed point), with Python's correctly rounded :func:`round` per element."""
    scaled = np.asarray(x, dtype=np.float64) / alpha
    flat = [round(float(v), precision) + 0.0 for v in scaled.ravel()]
    return np.asarray(flat, dtype=np.float64).reshape(scaled.shape)


@settings(max_examples=60, deadline=None)
@given(
    x=arrays(np.float64, (5, 2), elements=st.floats(-50, 50, allow_nan=False)),
    precision=st.integers(0, 3),
    means=st.lists(st.floats(0, 9), min_size=10, max_size=10),
)
def test_refine_last_digits_moves_each_number_by_its_mean_minus_its_digit(x, precision, means):
    """The expected-digit readout: each number moves by (mean − last digit) units of its last
    place, away from zero for a negative number's magnitude, and nothing else changes."""
    text = encoding.encode(x, 1.0, precision)
    raw = encoding.decode(text).values.ravel()
    refined = encoding.decode(encoding.refine_last_digits(text, means)).values.ravel()
    numbers = text.replace(";", ",").split(",")
    for k, num in enumerate(numbers):
        sign = -1.0 if num.startswith("-") else 1.0
        shift = sign * (means[k] - int(num[-1])) * 10.0**-precision
        assert refined[k] == pytest.approx(raw[k] + shift, abs=10.0 ** -(precision + 3))
    same = [float(n[-1]) for n in numbers]
    assert encoding.decode(encoding.refine_last_digits(text, same)).values.ravel() == (
        pytest.approx(raw, abs=1e-12)
    )
    nan = [float("nan")] * len(numbers)
    assert encoding.refine_last_digits(text, nan) == text


def test_auto_alpha_of_values_near_zero_is_one():
    """Round 4: a series of subnormal values (1e-322) crashed encode (ZeroDivisionError) and
    forecast (math domain error); such values are written as zeros at scale 1."""
    for tiny in (1e-322, 5e-324, 1e-305):
        assert encoding.auto_alpha(np.full(10, tiny)) == 1.0
        assert encoding.auto_alpha(np.full(10, tiny), target=100.0) == 1.0
    assert encoding.auto_alpha(np.full(10, 1e-290)) == pytest.approx(1e-291)


# -- the Encoding value (issue 43) ----------------------------------------------------------

from lmcast.core.codec.scheme import Encoding  # noqa: E402


@settings(max_examples=150, deadline=None)
@given(
    precision=st.integers(0, 8),
    point=st.booleans(),
    alpha=st.one_of(st.none(), st.floats(1e-6, 1e6)),
    target=st.one_of(st.none(), st.floats(1.0, 1e9)),
)
def test_an_encoding_round_trips_through_its_record(precision, point, alpha, target):
    enc = Encoding(precision, point, alpha, target, rule="r")
    back = Encoding.from_record(enc.to_record())
    assert back.precision == precision and back.decimal_point == point and back.alpha == alpha
    assert back.target == enc.target and back.digits == enc.digits and back.rule == "r"


def test_old_records_still_read():
    """Records written before ``decimals`` / ``decimal_point`` / ``scale_target`` / ``scaling``
    existed: written with the point, target 10, one scale."""
    enc = Encoding.from_record({"alpha": 0.5, "precision": 3})
    assert (enc.precision, enc.decimal_point, enc.alpha, enc.target) == (3, True, 0.5, 10.0)
    no_point = Encoding.from_record(
        {"alpha": 0.05, "precision": 0, "decimals": 1, "decimal_point": False, "scale_target": 100}
    )
    assert (no_point.precision, no_point.digits, no_point.given_alpha) == (1, 0, "0.5")
    assert no_point.words() == "1 decimal, no point"
    series = Encoding.from_record({"alpha": 1.0, "precision": 2, "scaling": "series"})
    assert series.alpha is None and series.given_alpha is None


def test_the_encoding_answers_scale_text_and_grammar():
    enc = Encoding(1, decimal_point=False).written(0.5)  # writes x / 0.05 as an integer
    x = np.array([[0.25, 1.5], [0.3, 1.45]])
    assert enc.encode(x, enc.alpha) == "5,30;6,29"
    assert enc.prompts([x], [enc.alpha]) == ["5,30;6,29;"]
    assert enc.alphas([x, x], "adapter") == [0.05, 0.05]
    assert enc.alphas([x], "series") == [encoding.auto_alpha(x, target=100.0)]
    g = enc.grammar([x], [enc.alpha])
    assert (g.n_vars, g.precision, g.max_int_digits) == (2, 0, 3)
    res = enc.decode("5,30;6,29", n_vars=2)
    np.testing.assert_allclose(res.values * enc.alpha, [[0.25, 1.5], [0.3, 1.45]])


def test_prepare_without_the_point_writes_integers(tmp_path, lv_file):
    """``lmcast data prepare --no-decimal-point`` wrote the codec's alpha (alpha / 10^p) with
    p decimals ("25.00" for 0.25 at precision 2) while the record said integers; the texts
    now come from the record's own Encoding."""
    from lmcast.core.codec.prepare import prepare

    meta = prepare(lv_file, tmp_path / "p", precision=2, decimal_point=False)
    line = (tmp_path / "p" / "train_texts.txt").read_text().splitlines()[0]
    assert "." not in line and meta["precision"] == 0 and meta["decimals"] == 2
