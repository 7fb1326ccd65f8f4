"""A bad-input corpus across ferkit's public API, generated with hypothesis.

Every case must end in one of two ways:

- a clear ferkit error: a ValueError, TypeError or one of the file errors, raised by ferkit
  itself (or by scikit-learn's input validation, whose messages follow the house style), with
  a message; never an exception from TensorFlow, Keras, PIL, pandas or h5py, nor one raised
  from deep inside them or the standard library;
- a correct result: the right shape, type and range, checked against what the input should
  give (for example every good row of a CSV and none of the bad ones).

Where an input is unambiguous, the oracle also says *which* of the two it must be: NaN pixels
must be refused, a well-formed face must be predicted. The number of cases tried and how they
ended is tallied per area; ``benchmarks/bench_robustness.py`` runs this corpus with a fixed
number of examples and writes the tally to RESULTS.md (``FERKIT_ROBUSTNESS_TALLY`` names the
JSON file the tally goes to, ``FERKIT_ROBUSTNESS_SCALE`` multiplies the examples per property).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import tempfile
import traceback
import warnings
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from _interrupt import interrupt_when, start_ferkit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ferkit._emotions import EMOTIONS

SCALE = float(os.environ.get("FERKIT_ROBUSTNESS_SCALE", "1"))
#: (area, outcome) -> number of cases; outcomes: correct result, clear error, known issue, failed.
TALLY: Counter = Counter()
KNOWN_ISSUES_HIT: set[str] = set()

#: Exceptions that count as a clear error when ferkit (or scikit-learn's validation) raises them.
CLEAR_ERRORS = (ValueError, TypeError, FileNotFoundError, FileExistsError, IsADirectoryError,
                NotADirectoryError)
#: Where an error may be raised from: ferkit's own checks, scikit-learn's input validation.
_OWN_CODE = (os.sep + "ferkit" + os.sep, os.sep + "sklearn" + os.sep)
#: Packages whose exceptions must never reach the user unexplained.
_FOREIGN = ("tensorflow", "keras", "PIL", "pandas", "h5py", "skimage", "scikeras", "numpy",
            "json", "zipfile", "optuna", "matplotlib")


def examples(n: int):
    """hypothesis settings for a property: ``n`` examples (times the scale), no deadline."""
    return settings(
        max_examples=max(1, round(n * SCALE)), deadline=None, derandomize=True, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.filter_too_much],
    )


def _raised_from(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    return frames[-1].filename if frames else ""


def _bad_call(exc: BaseException) -> bool:
    """Python's own TypeError for a call that does not fit the signature (an unknown keyword,
    too many arguments): raised at the call itself, and as clear as any check."""
    return (type(exc) is TypeError and _raised_from(exc) == __file__
            and ("unexpected keyword argument" in str(exc) or "positional argument" in str(exc)))


def is_clear(exc: BaseException) -> bool:
    """Whether ``exc`` is an error a user can act on, raised on purpose by ferkit."""
    root = type(exc).__module__.split(".")[0]
    return _bad_call(exc) or (
        isinstance(exc, CLEAR_ERRORS)
        and root not in _FOREIGN
        and any(part in _raised_from(exc) for part in _OWN_CODE)
        and len(str(exc).strip()) >= 10
    )


#: Failures already reported to the module's owner, tallied as "known issue" instead of failing
#: the suite: (regular expression matched against the case and the failure, the report).
#: Remove an entry when its fix lands; a case that then passes counts as passed.
KNOWN_ISSUES: list[tuple[str, str]] = []


def _known_issue(text: str) -> str | None:
    for pattern, reason in KNOWN_ISSUES:
        if re.search(pattern, text):
            return reason
    return None


class _KnownIssue(Exception):
    """A failure listed in KNOWN_ISSUES."""


class Case:
    """One call of the corpus: runs it, classifies the outcome, and tallies it.

    ``expect`` is "error", "result" or "either"; ``check`` verifies a result.
    """

    def __init__(self, area: str):
        self.area = area

    def __call__(self, fn, *, expect: str = "either", check=None, what: str = ""):
        try:
            return self._run(fn, expect=expect, check=check, what=what)
        except _KnownIssue as issue:
            return issue

    def _run(self, fn, *, expect, check, what):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                value = fn()
        except Exception as exc:
            if not is_clear(exc):
                self._fail(f"{what}: unclear {type(exc).__name__} raised from "
                           f"{_raised_from(exc)}: {exc}", exc)
            if expect == "result":
                self._fail(f"{what}: refused valid input with {type(exc).__name__}: {exc}", exc)
            TALLY[self.area, "clear error"] += 1
            return exc
        if expect == "error":
            self._fail(f"{what}: accepted invalid input and returned {_short(value)}")
        if check is not None:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    check(value)
            except Exception as exc:
                # A result that cannot be used (e.g. a loaded model that cannot predict) is
                # as wrong as a wrong one.
                self._fail(f"{what}: wrong result: {type(exc).__name__}: {exc}", exc)
        TALLY[self.area, "correct result"] += 1
        return value

    def _fail(self, message: str, cause: BaseException | None = None):
        reason = _known_issue(message)
        if reason:
            TALLY[self.area, "known issue"] += 1
            KNOWN_ISSUES_HIT.add(reason)
            raise _KnownIssue(message)
        TALLY[self.area, "failed"] += 1
        raise AssertionError(message) from cause


def _short(value) -> str:
    shape = getattr(value, "shape", None)
    return f"{type(value).__name__}{'' if shape is None else f' of shape {shape}'}"


@pytest.fixture(scope="module", autouse=True)
def _write_tally():
    yield
    target = os.environ.get("FERKIT_ROBUSTNESS_TALLY")
    if target:
        tally = {f"{area}|{outcome}": n for (area, outcome), n in sorted(TALLY.items())}
        Path(target).write_text(json.dumps(
            {"tally": tally, "known_issues": sorted(KNOWN_ISSUES_HIT)}, indent=1))


# -- pixel arrays: shapes, dtypes, value ranges ------------------------------------------------

#: Per-face shapes a 48x48 model takes, and shapes it must refuse.
GOOD_SHAPES = [(2304,), (48, 48), (48, 48, 1)]
BAD_SHAPES = [(), (2303,), (2305,), (0,), (48, 47), (47, 48), (48, 48, 3), (48, 48, 2),
              (1, 48, 48, 1), (48, 0)]
NUMERIC = ["bool", "int8", "uint8", "int16", "int64", "float16", "float32", "float64"]
ODD = ["complex64", "object-float", "object-str", "str", "datetime64[s]"]
#: Value regimes: 'unit' 0-1 and 'raw' 0-255 are good pixels; the others are not.
REGIMES = ["unit", "raw", "negative", "over255", "huge", "nan", "inf", "-inf", "float32-overflow"]


class Pixels:
    """A generated pixel array and what is known about it."""

    def __init__(self, array, n, shape, dtype, regime, container):
        self.array, self.n, self.shape, self.dtype = array, n, shape, dtype
        self.regime, self.container = regime, container

    @property
    def numeric(self) -> bool:
        return self.dtype in NUMERIC or self.dtype == "object-float"

    @property
    def finite(self) -> bool:
        if self.dtype in ("bool",) or self.dtype.startswith(("int", "uint")):
            return True  # integers cannot hold NaN or infinity
        if self.dtype == "float16" and self.regime in ("huge", "float32-overflow"):
            return False  # overflows to infinity on the way to float16
        if self.dtype in ("float32",) and self.regime == "float32-overflow":
            return False
        return self.regime not in ("nan", "inf", "-inf")

    def values_in(self, low: float, high: float) -> bool:
        values = np.asarray(self.array, dtype=np.float64) if self.numeric else None
        return values is not None and values.size > 0 and bool(
            np.all((values >= low) & (values <= high)))

    def __repr__(self):
        return (f"Pixels(n={self.n}, shape={self.shape}, dtype={self.dtype}, "
                f"regime={self.regime}, container={self.container})")


def _fill(rng, size, regime):
    if regime == "unit":
        return rng.random(size)
    if regime == "raw":
        return rng.integers(0, 256, size).astype(float)
    if regime == "negative":
        return -rng.random(size) * 10 - 1e-3
    if regime == "over255":
        return 255.5 + rng.random(size) * 1e3
    if regime == "huge":
        return rng.random(size) * 1e6
    if regime == "float32-overflow":
        return np.full(size, 1e300)
    values = rng.random(size)
    if values.size:
        values.flat[rng.integers(values.size)] = {"nan": np.nan, "inf": np.inf,
                                                  "-inf": -np.inf}[regime]
    return values


@st.composite
def pixel_arrays(draw, *, good_shapes=GOOD_SHAPES, regimes=REGIMES, containers=True,
                 n_max=3):
    n = draw(st.integers(0, n_max))
    if draw(st.booleans()):  # half the arrays are well-formed faces: valid input gets tried too
        shape = draw(st.sampled_from(good_shapes))
        dtype = draw(st.sampled_from(NUMERIC))
        regime = draw(st.sampled_from([r for r in ("unit", "raw") if r in regimes]))
    else:
        shape = draw(st.sampled_from(good_shapes + BAD_SHAPES))
        dtype = draw(st.sampled_from(NUMERIC + ODD))
        regime = draw(st.sampled_from(regimes))
    container = draw(st.sampled_from(["ndarray", "list", "frame"] if containers else
                                     ["ndarray"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    full = (n, *shape) if shape != () else ()
    values = _fill(rng, full, regime)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dtype == "object-float":
            array = values.astype(object)
        elif dtype == "object-str":
            array = np.vectorize(lambda v: f"{v:.1f}" if rng.random() < 0.7 else "px",
                                 otypes=[object])(values) if values.size else values.astype(
                                     object)
        elif dtype == "str":
            array = values.astype(str)
        elif dtype == "datetime64[s]":
            array = np.nan_to_num(values, posinf=0, neginf=0).astype("int64").astype(dtype)
        else:
            array = values.astype(dtype)
    if container == "list":
        array = array.tolist()
    elif container == "frame" and np.ndim(array) == 2:
        import pandas as pd

        array = pd.DataFrame(array)
    else:
        container = "ndarray"
    return Pixels(array, n, shape, dtype, regime, container)


def well_formed(px: Pixels, good_shapes=GOOD_SHAPES, *, low=None, high=None) -> bool:
    """Whether ``px`` is unambiguously valid input: faces of a good shape, numeric, finite,
    (within ``[low, high]`` when given)."""
    ok = px.n >= 1 and px.shape in good_shapes and px.numeric and px.finite
    if ok and low is not None:
        ok = px.values_in(low, high)
    return ok


def must_refuse(px: Pixels, good_shapes=GOOD_SHAPES) -> bool:
    """Whether ``px`` must be refused whatever the API: empty, wrong shape, NaN/inf,
    complex or dates."""
    return (px.n == 0 or px.shape not in good_shapes or not px.finite
            or px.dtype in ("complex64", "datetime64[s]"))


def expectation(px: Pixels, good_shapes=GOOD_SHAPES, **bounds) -> str:
    if must_refuse(px, good_shapes):
        return "error"
    if well_formed(px, good_shapes, **bounds):
        return "result"
    return "either"


# -- shared fitted objects (tiny, module-wide; never mutated) ------------------------------------

@pytest.fixture(scope="module")
def pipe(fitted_pipeline):
    """Reshape -> scale -> classifier, fitted on raw pixels of angry/happy/sad."""
    return fitted_pipeline


@pytest.fixture(scope="module")
def clf(fitted_pipeline):
    """The fitted classifier inside ``pipe``: takes scaled faces."""
    return fitted_pipeline[-1]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("robustness")


@pytest.fixture(scope="module")
def saved_model(pipe, workdir):
    import ferkit

    return ferkit.save(pipe, workdir / "model")


def _fresh_dir(base: Path) -> Path:
    return Path(tempfile.mkdtemp(dir=base))


def _check_proba(n, n_classes):
    def check(proba):
        proba = np.asarray(proba)
        assert proba.shape == (n, n_classes), f"shape {proba.shape} != {(n, n_classes)}"
        assert np.isfinite(proba).all(), "probabilities are not all finite"
        assert np.allclose(proba.sum(axis=1), 1, atol=1e-5), "rows do not sum to 1"
        assert (proba >= 0).all()
    return check


# -- estimator ---------------------------------------------------------------------------------

@examples(60)
@given(px=pixel_arrays())
def test_classifier_predict_proba(clf, px):
    expect = expectation(px)
    if expect == "result" and not px.values_in(-1e4, 1e4):
        expect = "either"  # extreme scaled values: a clear refusal is as good as a result
    Case("estimator")(lambda: clf.predict_proba(px.array), expect=expect,
                      check=_check_proba(px.n, 3), what=f"predict_proba({px})")


@examples(40)
@given(px=pixel_arrays(regimes=["raw", "unit", "negative", "over255", "nan", "inf"]))
def test_pipeline_predict(pipe, px):
    # The pipeline takes raw 0-255 pixels: PixelScaler refuses anything outside.
    expect = expectation(px, low=0, high=255)
    if px.numeric and px.finite and not px.values_in(0, 255) and px.n >= 1:
        expect = "error"

    def check(labels):
        labels = np.asarray(labels)
        assert labels.shape == (px.n,) and set(labels) <= set(pipe.classes_)

    Case("estimator")(lambda: pipe.predict(px.array), expect=expect, check=check,
                      what=f"pipeline.predict({px})")


@pytest.mark.parametrize("value", [1e39, -1e300, np.finfo(np.float64).max])
def test_values_beyond_float32_are_refused(clf, value):
    """Finite in float64, infinite once cast to the float32 the network computes in."""
    from ferkit.preprocessing import ImageReshaper

    X = np.full((2, 2304), 0.5)
    X[1, 7] = value
    for name, call in [("predict_proba", lambda: clf.predict_proba(X)),
                       ("ImageReshaper", lambda: ImageReshaper().fit_transform(X))]:
        area = "estimator" if name == "predict_proba" else "transformers"
        out = Case(area)(call, expect="error", what=f"{name}(float64 {value:g})")
        assert "row 1" in str(out) and "float32" in str(out), str(out)


BAD_LABELS = st.sampled_from([
    "nan", "none", "one-class", "too-short", "too-long", "2d-column", "2d-wide", "mixed",
    "continuous", "unicode", "ints", "empty-strings",
])


def _labels(kind: str, n: int, rng):
    names = np.array(["angry", "happy", "sad"], dtype=object)[rng.integers(0, 3, n)]
    names[:3] = ["angry", "happy", "sad"][: min(3, n)]
    return {
        "nan": np.where(np.arange(n) == 1, np.nan, 1.0),
        "none": np.array([None] * n, dtype=object),
        "one-class": np.full(n, "happy", dtype=object),
        "too-short": names[:-1],
        "too-long": np.append(names, "sad"),
        "2d-column": names.reshape(-1, 1),
        "2d-wide": np.stack([names, names], axis=1),
        "mixed": np.array([1, "happy", 2.5] + ["sad"] * (n - 3), dtype=object),
        "continuous": rng.random(n),
        "unicode": np.array(["😀 joie", "悲しい", "Ärger"] * (n // 3 + 1), dtype=object)[:n],
        "ints": np.arange(n) % 3,
        "empty-strings": np.array(["", "happy", "sad"] * (n // 3 + 1), dtype=object)[:n],
    }[kind]


@examples(12)
@given(kind=BAD_LABELS, seed=st.integers(0, 2**16))
def test_classifier_fit_labels(tiny_params, kind, seed):
    from ferkit import FacialExpressionClassifier

    rng = np.random.default_rng(seed)
    n = 12
    X = rng.random((n, 2304)).astype(np.float32)
    y = _labels(kind, n, rng)
    # Labels any classifier accepts (distinct values, one per sample): a fitted model whose
    # classes_ are exactly those values. Continuous or NaN targets, a single class, or a
    # length mismatch must be refused.
    expect = {"unicode": "result", "ints": "result", "empty-strings": "result",
              "2d-column": "result", "mixed": "either", "none": "either"}.get(kind, "error")
    params = dict(tiny_params, epochs=1, validation_split=0.0)

    def check(est):
        assert set(est.classes_.tolist()) == set(np.ravel(y).tolist())
        assert est.predict(X[:2]).shape == (2,)

    Case("estimator")(lambda: FacialExpressionClassifier(**params).fit(X, y), expect=expect,
                      check=check, what=f"fit(y={kind})")


BAD_PARAMS = [
    {"filters": (0,)}, {"filters": "abc"}, {"filters": (4.5,)}, {"filters": (True, 4)},
    {"dense_units": (-1,)}, {"kernel_size": 0}, {"convs_per_block": 0}, {"dropout": 1.0},
    {"dropout": -0.1}, {"dropout": "high"}, {"augment": {"spin": 1}}, {"augment": "yes"},
    {"augment": {"flip": -1}}, {"image_shape": (47, 47)}, {"image_shape": (48, -2)},
    {"image_shape": "square"}, {"optimizer": "no-such-optimizer"}, {"optimizer": 3},
    {"learning_rate": 0}, {"learning_rate": float("nan")}, {"lr_schedule": "linear"},
    {"label_smoothing": 1.5}, {"mixup": -1}, {"mixup": 2.0}, {"cutmix": 1.5}, {"epochs": 0},
    {"epochs": 1.5}, {"batch_size": 0},
    {"validation_split": 1.0}, {"early_stopping_patience": 0}, {"class_weight": "even"},
    {"class_weight": {"joy": 2.0}}, {"callbacks": "early"}, {"random_state": "seed"},
    {"verbose": "loud"}, {"warm_start": "no"},
]


@pytest.mark.parametrize("bad", BAD_PARAMS, ids=lambda p: f"{next(iter(p))}={p[next(iter(p))]!r}")
def test_classifier_bad_parameters(tiny_params, sample3, bad):
    from ferkit import FacialExpressionClassifier

    X = sample3.data[::10] / 255.0
    params = {**tiny_params, "epochs": 1, **bad}
    Case("estimator")(lambda: FacialExpressionClassifier(**params).fit(X, sample3.target[::10]),
                      expect="error", what=f"FacialExpressionClassifier({bad}).fit")


def test_unfitted_classifier_and_pipeline_refuse_to_predict(sample3):
    from ferkit import FacialExpressionClassifier, make_fer_pipeline

    for est in (FacialExpressionClassifier(), make_fer_pipeline()):
        Case("estimator")(lambda est=est: est.predict(sample3.data[:2]), expect="error",
                          what=f"unfitted {type(est).__name__}.predict")


# -- transformers ------------------------------------------------------------------------------

def _transformers():
    from ferkit.preprocessing import HistogramEqualizer, ImageReshaper, PixelScaler

    return {
        "ImageReshaper()": (ImageReshaper(), None),
        "ImageReshaper(flatten=True)": (ImageReshaper(flatten=True), None),
        "PixelScaler('unit')": (PixelScaler(), (0, 255)),
        "PixelScaler('image')": (PixelScaler(method="image"), (0, 255)),
        "PixelScaler('dataset')": (PixelScaler(method="dataset"), (0, 255)),
        "HistogramEqualizer()": (HistogramEqualizer(), (0, 255)),
        "HistogramEqualizer('clahe')": (HistogramEqualizer(method="clahe"), (0, 255)),
    }


def _check_transform(name, px):
    def check(out):
        assert isinstance(out, np.ndarray) and out.dtype == np.float32, f"{type(out)}"
        assert len(out) == px.n and np.isfinite(out).all()
        if name.startswith("ImageReshaper"):
            want = (px.n, 2304) if "flatten" in name else (px.n, 48, 48, 1)
            assert out.shape == want, f"shape {out.shape} != {want}"
            flat = np.asarray(px.array, dtype=np.float64).reshape(px.n, -1)
            assert np.allclose(out.reshape(px.n, -1), flat.astype(np.float32))
        else:
            assert out.shape == np.shape(px.array)
        if name == "PixelScaler('unit')":
            assert out.min() >= 0 and out.max() <= 1
        if name.startswith("HistogramEqualizer"):
            assert out.min() >= 0 and out.max() <= 255
    return check


@examples(60)
@given(name=st.sampled_from(sorted(_transformers())), px=pixel_arrays())
def test_transformers(name, px):
    from sklearn.base import clone

    est, bounds = _transformers()[name]
    est = clone(est)
    if bounds is None:  # reshaping only: any finite numbers, 48x48 faces
        expect = expectation(px)
    else:  # raw pixels: any face shape, values in [0, 255]
        shapes = [*GOOD_SHAPES, (2303,), (2305,), (48, 47), (47, 48), (48, 48, 3), (48, 48, 2)]
        expect = expectation(px, shapes, low=bounds[0], high=bounds[1])
        if px.numeric and px.finite and px.n >= 1 and not px.values_in(*bounds):
            expect = "error"
    Case("transformers")(lambda: est.fit_transform(px.array), expect=expect,
                         check=_check_transform(name, px), what=f"{name}.fit_transform({px})")


@examples(25)
@given(px=pixel_arrays(good_shapes=[(48, 48), (48, 48, 3)], containers=False, n_max=2),
       paths=st.booleans())
def test_face_cropper(px, paths, workdir):
    from ferkit.preprocessing import FaceCropper

    cropper = FaceCropper(on_missing="center")
    batch = px.array
    if paths:
        # A batch of file paths, none of them readable as an image: names in any script.
        folder = _fresh_dir(workdir)
        batch = [folder / "visage-😀.png", folder / "顔.jpg"]
        batch[1].write_bytes(b"\x89PNG\r\n\x1a\n broken")
        expect = "error"
    else:
        # Images of any size are fine; these never are.
        expect = "error" if (px.n == 0 or not px.finite or np.ndim(px.array) not in (3, 4)
                             or px.dtype in ("complex64", "datetime64[s]")) else "either"

    def check(out):
        assert out.shape == (len(batch), 48, 48) and out.dtype == np.uint8

    Case("transformers")(lambda: cropper.fit_transform(batch), expect=expect, check=check,
                         what=f"FaceCropper.fit_transform({px if not paths else batch})")


# -- loaders -----------------------------------------------------------------------------------

_GOOD_PIXELS = " ".join(["128"] * 2304)
ROW_EMOTIONS = [("0", True), ("3", True), ("6", True), ("7", False), ("-1", False),
                ("x", False), ("", False)]
ROW_PIXELS = [
    (_GOOD_PIXELS, True),
    (" ".join(str(v % 256) for v in range(2304)), True),
    (" ".join(["1"] * 2303), False),
    (" ".join(["1"] * 2305), False),
    ("", False),
    (" ".join(["12"] * 2303 + ["ab"]), False),
    (" ".join(["256"] + ["0"] * 2303), False),
    (" ".join(["-1"] + ["0"] * 2303), False),
    (" ".join(["1.5"] * 2304), False),
]
ROW_USAGES = [("Training", True), ("PublicTest", True), ("PrivateTest", True),
              ("Validation", False), ("", False)]
#: A path component in any script, as users name their files.
FILE_NAMES = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp"),
                  exclude_characters="/\\\x00"),
    min_size=1, max_size=12,
).filter(lambda s: s.strip(". ") == s and s not in (".", ".."))


@examples(40)
@given(
    rows=st.lists(st.tuples(st.sampled_from(ROW_EMOTIONS), st.sampled_from(ROW_PIXELS),
                            st.sampled_from(ROW_USAGES)), max_size=5),
    on_error=st.sampled_from(["raise", "skip"]),
    name=FILE_NAMES,
)
def test_load_fer2013_csv_rows(rows, on_error, name, workdir):
    from ferkit.datasets import load_fer2013

    path = _fresh_dir(workdir) / f"{name}.csv"
    lines = ["emotion,pixels,Usage"] + [f"{e[0]},{p[0]},{u[0]}" for e, p, u in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    good = [i for i, (e, p, u) in enumerate(rows) if e[1] and p[1] and u[1]]
    n_bad = len(rows) - len(good)
    if not rows:
        expect = "either"  # a header alone: no faces, or an error saying so
    elif on_error == "raise":
        expect = "error" if n_bad else "result"
    else:
        expect = "result" if good else "either"

    def check(faces):
        assert faces.data.shape == (len(good), 2304) and faces.data.dtype == np.uint8
        assert faces.images.shape == (len(good), 48, 48)
        want = [EMOTIONS[int(rows[i][0][0])] for i in good]
        assert faces.target.tolist() == want, (faces.target.tolist(), want)
        assert faces.usage.tolist() == [rows[i][2][0] for i in good]
        for k, i in enumerate(good):
            assert faces.data[k].tolist() == [int(v) for v in rows[i][1][0].split()]

    out = Case("loaders")(lambda: load_fer2013(path, on_error=on_error), expect=expect,
                          check=check, what=f"load_fer2013({lines[1:]!r:.200}, {on_error})")
    if isinstance(out, ValueError) and n_bad and on_error == "raise":
        # The message names the file and the first bad row (spreadsheet numbering).
        first_bad = next(i for i in range(len(rows)) if i not in good)
        assert f"row {first_bad + 2}" in str(out) and path.name in str(out), str(out)


def _png(size=(48, 48), mode="L") -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new(mode, size, 128).save(buf, format="PNG")
    return buf.getvalue()


def _jpeg(size=(48, 48)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, size[::-1], dtype=np.uint8)).save(
        buf, format="JPEG")
    return buf.getvalue()


MEMBERS = [
    ("train/happy/a.jpg", "jpeg", True), ("test/sad/b.jpg", "jpeg", True),
    ("train/angry/c.png", "png", True), ("train/happy/d.jpg", "rgb", True),
    ("train/joy/e.jpg", "jpeg", False), ("train/happy/f.jpg", "garbage", False),
    ("train/sad/g.jpg", "empty", False), ("train/sad/h.png", "small", False),
    ("test/fear/i.jpg", "truncated", False), ("train/neutral/visage-😀.jpg", "jpeg", True),
]


def _member_bytes(kind: str) -> bytes:
    from PIL import Image

    if kind == "rgb":
        buf = io.BytesIO()
        Image.new("RGB", (48, 48), (10, 200, 30)).save(buf, format="JPEG")
        return buf.getvalue()
    return {"jpeg": _jpeg, "png": _png, "garbage": lambda: b"not an image at all",
            "empty": lambda: b"", "small": lambda: _png((47, 48)),
            "truncated": lambda: _jpeg()[:200]}[kind]()


@examples(25)
@given(members=st.lists(st.sampled_from(MEMBERS), max_size=4, unique_by=lambda m: m[0]),
       on_error=st.sampled_from(["raise", "skip"]), as_dir=st.booleans())
def test_load_fer2013_image_folder(members, on_error, as_dir, workdir):
    from ferkit.datasets import load_fer2013

    base = _fresh_dir(workdir)
    if as_dir:
        path = base / "fer-images"
        for name, kind, _ in members:
            (path / name).parent.mkdir(parents=True, exist_ok=True)
            (path / name).write_bytes(_member_bytes(kind))
        path.mkdir(exist_ok=True)
    else:
        path = base / "fer-images.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for name, kind, _ in members:
                archive.writestr(name, _member_bytes(kind))
            if not members:
                archive.writestr("readme.txt", "no faces here")
    good = [m for m in members if m[2]]
    if not good:
        expect = "either" if (on_error == "skip" and members) else "error"
    elif on_error == "raise":
        expect = "error" if len(good) < len(members) else "result"
    else:
        expect = "result"

    def check(faces):
        assert faces.images.shape == (len(good), 48, 48)
        assert sorted(faces.member.tolist()) == sorted(m[0] for m in good)
        want = {m[0]: m[0].split("/")[1] for m in good}
        assert all(want[m] == t for m, t in zip(faces.member, faces.target, strict=True))

    Case("loaders")(lambda: load_fer2013(path, on_error=on_error), expect=expect, check=check,
                    what=f"load_fer2013({'dir' if as_dir else 'zip'} {members}, {on_error})")


FILE_CONTENTS = st.sampled_from([
    b"", b"\x00\x01\x02 binary", b"\x1f\x8b\x08\x00 gzip", b"PK\x03\x04 broken zip",
    b"emotion;pixels;Usage\n0;1 2 3;Training\n", b"a,b,c\n1,2,3\n", b"0,1 2 3,Training\n",
    "emotion,pixels,Usage\n3,\u00e9\u00e8,Training\n".encode("latin-1"), b"\xff\xfe\x00\x00",
    b"pixels\n" + _GOOD_PIXELS.encode() + b"\n",
])


@examples(20)
@given(content=FILE_CONTENTS, name=FILE_NAMES, exists=st.booleans())
def test_load_fer2013_bad_files(content, name, exists, workdir):
    from ferkit.datasets import load_fer2013

    path = _fresh_dir(workdir) / name
    if exists:
        path.write_bytes(content)
    good = exists and content.startswith(b"pixels\n")

    def check(faces):
        assert faces.data.shape == (1, 2304) and faces.target is None

    Case("loaders")(lambda: load_fer2013(path), expect="result" if good else "error",
                    check=check, what=f"load_fer2013({'file' if exists else 'missing'} "
                                      f"{content[:20]!r})")


LOADER_ARGS = st.fixed_dictionaries({}, optional={
    "emotions": st.one_of(st.lists(st.sampled_from([*EMOTIONS, "joy", "", "HAPPY"]),
                                   max_size=3), st.sampled_from(["happy,sad", "joy", 3, None])),
    "usage": st.one_of(st.sampled_from(["Training", "training", "Test", "", 5, None]),
                       st.lists(st.sampled_from(["PublicTest", "Bogus"]), max_size=2)),
    "on_error": st.sampled_from(["raise", "skip", "ignore", None]),
    "as_frame": st.sampled_from([True, False, "yes", 1]),
})


@examples(30)
@given(kwargs=LOADER_ARGS)
def test_loader_arguments(kwargs, workdir):
    from ferkit.datasets import load_fer2013, load_sample

    path = workdir / "two-faces.csv"
    if not path.exists():
        path.write_text(f"emotion,pixels,Usage\n3,{_GOOD_PIXELS},Training\n"
                        f"4,{_GOOD_PIXELS},PublicTest\n")
    Case("loaders")(lambda: load_fer2013(path, **kwargs), what=f"load_fer2013(**{kwargs})")
    sample_kwargs = {k: v for k, v in kwargs.items() if k == "emotions"}
    Case("loaders")(lambda: load_sample(**sample_kwargs), what=f"load_sample(**{sample_kwargs})")


# -- persistence -------------------------------------------------------------------------------

def _not_estimators():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from ferkit import FacialExpressionClassifier, make_fer_pipeline

    X = np.random.default_rng(0).random((6, 4))
    return {
        "None": None, "int": 3, "str": "model", "dict": {"a": 1},
        "unfitted classifier": FacialExpressionClassifier(),
        "unfitted pipeline": make_fer_pipeline(),
        "LogisticRegression": LogisticRegression().fit(X, [0, 1] * 3),
        "FunctionTransformer pipeline": make_pipeline(FunctionTransformer(np.log1p)).fit(X),
    }


SAVE_TARGETS = ["fresh", "unicode", "existing file", "under a file", "non-empty folder",
                "existing model"]


@examples(20)
@given(what=st.sampled_from(["fitted pipeline", *_not_estimators()]),
       where=st.sampled_from(SAVE_TARGETS), overwrite=st.booleans(), name=FILE_NAMES)
def test_save(pipe, saved_model, what, where, overwrite, name, workdir, sample3):
    import ferkit

    base = _fresh_dir(workdir)
    estimator = pipe if what == "fitted pipeline" else _not_estimators()[what]
    target = {"fresh": base / "model", "unicode": base / name / f"modèle-{name}",
              "existing file": base / "file", "under a file": base / "file" / "model",
              "non-empty folder": base / "folder", "existing model": base / "old"}[where]
    (base / "file").write_text("not a folder")
    (base / "folder").mkdir()
    (base / "folder" / "notes.txt").write_text("keep me")
    shutil.copytree(saved_model, base / "old")
    valid_target = where in ("fresh", "unicode") or (where == "existing model" and overwrite)
    expect = "result" if (what == "fitted pipeline" and valid_target) else "error"

    def check(path):
        loaded = ferkit.load(path)
        assert np.array_equal(loaded.predict_proba(sample3.data[:5]),
                              pipe.predict_proba(sample3.data[:5]))

    Case("persistence")(lambda: ferkit.save(estimator, target, overwrite=overwrite),
                        expect=expect, check=check, what=f"save({what}, {where})")
    assert (base / "folder" / "notes.txt").read_text() == "keep me"
    if where == "existing model" and expect == "error":
        assert ferkit.load(base / "old").classes_.tolist() == pipe.classes_.tolist()


LOAD_TARGETS = ["missing", "unicode missing", "file", "empty folder", "folder of junk",
                "manifest is junk", "manifest is a list"]


@examples(12)
@given(where=st.sampled_from(LOAD_TARGETS), name=FILE_NAMES)
def test_load_bad_paths(where, name, workdir):
    import ferkit

    base = _fresh_dir(workdir)
    target = {"missing": base / "nope", "unicode missing": base / f"モデル-{name}",
              "file": base / "file", "empty folder": base / "empty",
              "folder of junk": base / "junk", "manifest is junk": base / "m1",
              "manifest is a list": base / "m2"}[where]
    (base / "file").write_bytes(b"\x00" * 10)
    (base / "empty").mkdir()
    (base / "junk").mkdir()
    (base / "junk" / "model.weights.h5").write_bytes(b"junk")
    (base / "m1").mkdir()
    (base / "m1" / "ferkit.json").write_bytes(b"{not json")
    (base / "m2").mkdir()
    (base / "m2" / "ferkit.json").write_text("[1, 2, 3]")
    Case("persistence")(lambda: ferkit.load(target), expect="error", what=f"load({where})")


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 10**6) | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=6,
)


def _json_paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _json_paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value[:4]):
            yield from _json_paths(item, (*prefix, i))


@examples(25)
@given(data=st.data())
def test_load_tampered_manifest(saved_model, data, workdir, sample3):
    """Any one value of ferkit.json replaced by any JSON value: a clear error or a model that
    still predicts."""
    import ferkit

    folder = _fresh_dir(workdir) / "model"
    shutil.copytree(saved_model, folder)
    manifest = json.loads((folder / "ferkit.json").read_text())
    paths = [p for p in _json_paths(manifest) if p]
    where = data.draw(st.sampled_from(paths), label="path")
    value = data.draw(JSON_VALUES, label="value")
    node = manifest
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    (folder / "ferkit.json").write_text(json.dumps(manifest))

    def check(model):
        proba = model.predict_proba(sample3.data[:3])
        assert proba.shape[0] == 3 and np.isfinite(proba).all()

    Case("persistence")(lambda: ferkit.load(folder), check=check,
                        what=f"load(ferkit.json with {'/'.join(map(str, where))} = {value!r})")


@examples(15)
@given(data=st.data())
def test_load_damaged_files(saved_model, data, workdir):
    """A byte changed, or the file cut short, in any file but the manifest: refused."""
    import ferkit

    folder = _fresh_dir(workdir) / "model"
    shutil.copytree(saved_model, folder)
    files = sorted(p.name for p in folder.iterdir() if p.name != "ferkit.json")
    victim = folder / data.draw(st.sampled_from(files), label="file")
    content = bytearray(victim.read_bytes())
    if data.draw(st.booleans(), label="truncate"):
        content = content[: data.draw(st.integers(0, len(content) - 1), label="keep")]
    else:
        at = data.draw(st.integers(0, len(content) - 1), label="at")
        content[at] = (content[at] + data.draw(st.integers(1, 255), label="delta")) % 256
    victim.write_bytes(bytes(content))
    out = Case("persistence")(lambda: ferkit.load(folder), expect="error",
                              what=f"load(damaged {victim.name})")
    assert victim.name in str(out), str(out)


# -- faces -------------------------------------------------------------------------------------

@examples(40)
@given(px=pixel_arrays(good_shapes=[(48, 48), (40, 64), (48, 48, 3), (48, 48, 4), (48, 48, 2)],
                       containers=False, n_max=1))
def test_faces_arrays(pipe, px):
    from ferkit import detect_faces, predict_image
    from ferkit.faces import to_gray

    image = px.array[0] if (px.n == 1 and np.ndim(px.array) >= 3) else px.array
    shape = np.shape(image)
    good_shape = len(shape) in (2, 3) and min(shape[:2], default=0) > 0 and (
        len(shape) == 2 or shape[2] in (1, 2, 3, 4))
    if not good_shape or not px.finite or px.dtype in ("complex64", "datetime64[s]", "str",
                                                       "object-str"):
        expect = "error"
    elif px.regime in ("unit", "raw") and px.dtype in NUMERIC and px.dtype != "int8":
        expect = "result"
    else:
        expect = "either"  # negative, over-range or odd values: refused or read by the rules

    def gray_ok(gray):
        assert gray.dtype == np.uint8 and gray.shape == shape[:2]

    def table_ok(table):
        assert list(table.columns[:5]) == ["x", "y", "width", "height", "score"]

    def faces_ok(table):
        assert {"face", "emotion", *map(str, pipe.classes_)} <= set(table.columns)

    Case("faces")(lambda: to_gray(image), expect=expect, check=gray_ok, what=f"to_gray({px})")
    Case("faces")(lambda: detect_faces(image), expect=expect, check=table_ok,
                  what=f"detect_faces({px})")
    Case("faces")(lambda: predict_image(pipe, image), expect=expect, check=faces_ok,
                  what=f"predict_image({px})")


IMAGE_FILES = st.sampled_from(["missing", "folder", "empty", "garbage", "truncated png",
                               "text", "good png", "good rgba png", "16-bit png"])


@examples(20)
@given(kind=IMAGE_FILES, name=FILE_NAMES, suffix=st.sampled_from([".png", ".jpg", "", ".txt"]))
def test_faces_files(pipe, kind, name, suffix, workdir):
    from PIL import Image

    from ferkit import detect_faces, predict_image
    from ferkit.faces import read_image

    path = _fresh_dir(workdir) / f"{name}{suffix}"
    if kind == "folder":
        path.mkdir()
    elif kind == "good png":
        Image.new("L", (64, 48), 200).save(path, format="PNG")
    elif kind == "good rgba png":
        Image.new("RGBA", (50, 60), (1, 2, 3, 100)).save(path, format="PNG")
    elif kind == "16-bit png":
        Image.fromarray(np.full((30, 40), 4000, dtype=np.uint16)).save(path, format="PNG")
    elif kind != "missing":
        path.write_bytes({"empty": b"", "garbage": b"\x00garbage\xff" * 10,
                          "truncated png": _png()[:60], "text": b"hello"}[kind])
    expect = "result" if kind.startswith(("good", "16-bit")) else "error"
    Case("faces")(lambda: read_image(path), expect=expect, what=f"read_image({kind})")
    Case("faces")(lambda: detect_faces(path), expect=expect, what=f"detect_faces({kind})")
    Case("faces")(lambda: predict_image(pipe, path), expect=expect,
                  what=f"predict_image({kind})")


DETECTOR_PARAMS = st.dictionaries(
    st.sampled_from(["min_neighbors", "scale_factor", "max_side", "min_side", "min_size",
                     "step_ratio", "min_confidence", "detector", "bogus"]),
    st.sampled_from([0, 1, -3, 1.0, 1.5, 2, 10**9, "3", None, float("nan"), True]),
    max_size=3,
)


@examples(30)
@given(params=DETECTOR_PARAMS, margin=st.sampled_from([0.1, 0, -1, "wide", float("nan"), 5]))
def test_detector_and_prediction_options(pipe, params, margin):
    from skimage.data import astronaut

    from ferkit import detect_faces, predict_image

    image = astronaut()[::4, ::4]
    Case("faces")(lambda: detect_faces(image, **params), what=f"detect_faces(**{params})")
    Case("faces")(lambda: predict_image(pipe, image, margin=margin, detector_params=params),
                  what=f"predict_image(margin={margin!r}, detector_params={params})")


# -- command line ------------------------------------------------------------------------------

def _run_cli(argv) -> tuple[int, str]:
    from ferkit.cli import main

    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's own usage errors
            code = exc.code if isinstance(exc.code, int) else 2
    return code, err.getvalue()


#: Arguments that make a command fail before any training: each generated command line
#: has at least one of them.
CLI_BAD = {
    "train": [["/no/such/fer2013.csv"], ["--sample", "--emotions", "joy"],
              ["--sample", "--usage", "Bogus"], ["--sample", "--param", "dropout=abc"],
              ["--sample", "--param", "nosuch=1"], ["--sample", "--epochs", "-1"],
              ["--sample", "--test-size", "2"], ["--sample", "--param", "filters=0"],
              ["--sample", "--preset", "huge"], ["{garbage}"], ["{unicode_missing}"]],
    "evaluate": [["--sample", "--model", "/no/such/model"], ["{garbage}", "--model", "{model}"],
                 ["--sample", "--model", "{garbage}"], ["--sample", "--pretrained", "nope"],
                 ["--sample", "--model", "{model}", "--emotions", "joy"],
                 ["{unicode_missing}", "--model", "{model}"]],
    "predict": [["{garbage}", "--model", "{model}"], ["{unicode_missing}", "--model", "{model}"],
                ["{empty_dir}", "--model", "{model}"], ["{image}", "--model", "/no/such"],
                ["{image}", "--model", "{model}", "--margin", "-1"],
                ["{image}", "--model", "{model}", "--min-neighbors", "x"],
                ["{image}", "--model", "{model}", "--format", "xml"]],
    "tune": [["--sample", "--trials", "0"], ["--sample", "--cv", "1"],
             ["--sample", "--param", "nosuch=1"], ["/no/such.csv"],
             ["--sample", "--max-samples", "-5"]],
    "demo": [["--emotions", "joy"], ["--epochs", "0"], ["--param", "dropout=2"],
             ["--test-size", "1.5"]],
}


@examples(40)
@given(command=st.sampled_from(sorted(CLI_BAD)), data=st.data())
def test_cli_bad_input(command, data, saved_model, workdir):
    base = _fresh_dir(workdir)
    (base / "garbage.csv").write_bytes(b"\x00\x01 definitely not FER2013")
    (base / "empty").mkdir()
    from PIL import Image

    Image.new("L", (64, 64), 90).save(base / "photo.png")
    fill = {"garbage": str(base / "garbage.csv"), "model": str(saved_model),
            "unicode_missing": str(base / "données-😀" / "fer.csv"),
            "empty_dir": str(base / "empty"), "image": str(base / "photo.png")}
    bad = data.draw(st.sampled_from(CLI_BAD[command]), label="bad")
    argv = [command] + [a.format(**fill) for a in bad]
    if command in ("train", "tune", "demo", "evaluate"):
        argv += ["--out", str(base / "out")]
    code, err = _run_cli(argv)
    if code == 2 and err.strip():
        TALLY["cli", "clear error"] += 1
        assert "Traceback" not in err
        return
    TALLY["cli", "failed"] += 1
    raise AssertionError(f"ferkit {' '.join(argv)} -> exit {code}, stderr: {err[-500:]!r}")


@pytest.mark.parametrize("argv", [
    ["info", "--no-devices"],
    ["predict", "{photo}", "--model", "{model}"],
    ["predict", "{photo}", "{missing}", "--model", "{model}"],
])
def test_cli_good_input(argv, saved_model, workdir):
    """Commands that should work do, even beside a missing file (reported, exit 2)."""
    from PIL import Image

    base = _fresh_dir(workdir)
    photo = base / "visage 😀.png"
    Image.new("L", (64, 64), 90).save(photo)
    fill = {"photo": str(photo), "model": str(saved_model), "missing": str(base / "nope.png")}
    argv = [a.format(**fill) for a in argv]
    code, err = _run_cli(argv)
    want = 2 if "nope.png" in " ".join(argv) else 0
    if code == want and "Traceback" not in err:
        TALLY["cli", "correct result" if want == 0 else "clear error"] += 1
        return
    TALLY["cli", "failed"] += 1
    raise AssertionError(f"ferkit {' '.join(argv)} -> exit {code} (want {want}): {err[-500:]!r}")


# -- crafted model files: bounded memory, depth and numbers (issue #21, class 1) --------------

def _craft(saved_model: Path, base: Path, edit_architecture=None, edit_manifest=None,
           edit_weights=None) -> Path:
    """A copy of ``saved_model`` edited as a hostile person would, checksums made to match."""
    folder = base / "model"
    shutil.copytree(saved_model, folder)
    if edit_architecture is not None:
        text = edit_architecture(json.loads((folder / "model.json").read_text()))
        (folder / "model.json").write_text(text if isinstance(text, str) else json.dumps(text))
    if edit_weights is not None:
        edit_weights(folder / "model.weights.h5")
    from ferkit.persistence import _format

    manifest = json.loads((folder / "ferkit.json").read_text())
    manifest["files"] = _format.file_entries(folder)
    text = edit_manifest(manifest) if edit_manifest is not None else manifest
    (folder / "ferkit.json").write_text(text if isinstance(text, str) else json.dumps(text))
    return folder


#: Units of the crafted output layer: a 8 x 10**8 kernel, 3.2 GB of float32.
_HUGE_UNITS = 10**8


def _huge_output_layer(config):
    config["config"]["layers"][-1]["config"]["units"] = _HUGE_UNITS
    return config


def _huge_weights_without_data(path: Path):
    """The output layer's arrays replaced by datasets of the huge layer's shapes that hold no
    data: the file stays small, its declared shapes match the crafted architecture."""
    import h5py

    with h5py.File(path, "r+") as f:
        shapes = []
        f["layers"].visititems(lambda name, obj: shapes.append((name, obj.shape))
                               if isinstance(obj, h5py.Dataset) else None)
        kernel = next(name for name, shape in shapes if shape == (8, 3))
        bias = kernel.rsplit("/", 1)[0] + "/1"
        for name, shape in ((kernel, (8, _HUGE_UNITS)), (bias, (_HUGE_UNITS,))):
            del f["layers"][name]
            f["layers"].create_dataset(name, shape=shape, dtype="float32")
    assert path.stat().st_size < 10**6


def _nested(depth: int, leaf=0):
    return "[" * depth + json.dumps(leaf) + "]" * depth


def _set_param(manifest, key, raw: str) -> str:
    """The manifest as text with the classifier's parameter ``key`` set to the JSON ``raw``."""
    steps = manifest["estimator"]["steps"]
    steps[-1]["params"][key] = "@@RAW@@"
    return json.dumps(manifest).replace('"@@RAW@@"', raw)


#: Crafted folders, each refused with a ValueError that names the file at fault.
CRAFTED = {
    "model.json: nested 100000 deep": (
        "model.json", dict(edit_architecture=lambda c: _nested(100_000))),
    "model.json: a layer nested 2000 deep": (
        "model.json", dict(edit_architecture=lambda c: json.dumps(c).replace(
            '"units": 3', '"units": ' + _nested(2000, 3)))),
    "model.json: a 5000-digit number of units": (
        "model.json", dict(edit_architecture=lambda c: json.dumps(c).replace(
            '"units": 3', '"units": ' + "9" * 5000))),
    "ferkit.json: nested 100000 deep": (
        "ferkit.json", dict(edit_manifest=lambda m: _nested(100_000))),
    "ferkit.json: a parameter nested 900 deep": (
        "ferkit.json", dict(edit_manifest=lambda m: _set_param(m, "epochs", _nested(900, 2)))),
    "ferkit.json: a 5000-digit parameter": (
        "ferkit.json", dict(edit_manifest=lambda m: _set_param(m, "epochs", "7" * 5000))),
    "ferkit.json: a 5000-digit format version": (
        "ferkit.json", dict(edit_manifest=lambda m: json.dumps(m).replace(
            '"format_version": 1', '"format_version": ' + "1" * 5000))),
    "ferkit.json: a 5000-digit file size": (
        "ferkit.json", dict(edit_manifest=lambda m: json.dumps(m).replace(
            '"bytes": ', '"bytes": ' + "3" * 5000, 1))),
}


@pytest.mark.parametrize("what", sorted(CRAFTED))
def test_load_crafted_depth_and_numbers(saved_model, workdir, what):
    """Deep nesting and absurd numbers: a ValueError naming the file, not Python's own
    RecursionError or integer-conversion error."""
    import ferkit

    file, edits = CRAFTED[what]
    folder = _craft(saved_model, _fresh_dir(workdir), **edits)
    out = Case("persistence")(lambda: ferkit.load(folder), expect="error",
                              what=f"load({what})")
    assert file in str(out), str(out)


_LOAD_UNDER_LIMIT = """
import json, resource, sys
import ferkit

def address_space():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status
                    if line.startswith("VmSize:"))

good, allowance, crafted = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
ferkit.load(good)  # TensorFlow, Keras and h5py imported, their threads started: the baseline
baseline = address_space()
resource.setrlimit(resource.RLIMIT_AS, (baseline + allowance, baseline + allowance))
results = {"baseline": baseline, "limit": baseline + allowance}
try:
    ferkit.load(good)
    results["good"] = "loaded"
except BaseException as exc:
    results["good"] = f"{type(exc).__name__}: {exc}"[:300]
for path in crafted:
    try:
        ferkit.load(path)
        results[path] = "loaded"
    except BaseException as exc:
        results[path] = f"{type(exc).__name__}: {exc}"[:600]
    print(json.dumps(results), flush=True)
print(json.dumps(results), flush=True)
"""


def test_load_crafted_network_within_a_memory_limit(saved_model, workdir):
    """A network that declares an enormous layer (checksums matching) is refused before
    anything is allocated: ``ferkit.load`` runs under an address-space limit of the baseline
    (interpreter, TensorFlow, one model loaded) plus a small multiple of the folder's size,
    and must end in a ValueError naming the file, not a MemoryError or a killed process."""
    import subprocess
    import sys

    base = _fresh_dir(workdir)
    good = base / "good"
    shutil.copytree(saved_model, good)
    crafted = {
        "model.json": _craft(saved_model, base / "a", edit_architecture=_huge_output_layer),
        "model.weights.h5": _craft(saved_model, base / "b", edit_architecture=_huge_output_layer,
                                   edit_weights=_huge_weights_without_data),
    }
    size = max(sum(p.stat().st_size for p in folder.iterdir())
               for folder in (good, *crafted.values()))
    # A good model must still load under the limit. Measured on the 190 kB test model: it
    # loads again with only 20x its size above the baseline; 32 MiB is headroom for the
    # allocator's growth steps.
    allowance = 20 * size + 32 * 2**20
    proc = subprocess.run(
        [sys.executable, "-c", _LOAD_UNDER_LIMIT, str(good), str(allowance),
         *map(str, crafted.values())],
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    lines = proc.stdout.strip().splitlines()
    results = json.loads(lines[-1]) if lines else {}
    for file, folder in crafted.items():
        outcome = results.get(str(folder), f"process ended ({proc.returncode}) before: "
                                            f"{proc.stderr[-800:]}")
        # Refused by a check of the files, not by an allocation the limit made fail.
        ok = (outcome.startswith("ValueError") and file in outcome
              and not re.search("OOM|alloc|memory", outcome, re.IGNORECASE))
        TALLY["persistence", "clear error" if ok else "failed"] += 1
        assert ok, f"load(crafted {file}) under {results.get('limit')} bytes: {outcome}"
    assert results["good"] == "loaded", results


# -- save(overwrite=True) replaces only ferkit's own files (issue #21, class 4) ---------------

def _plain_model(scale: float):
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MinMaxScaler

    return Pipeline([("mm", MinMaxScaler((0, scale)))]).fit(np.eye(3))


def _entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


#: Folders that ``save(..., overwrite=True)`` must refuse to replace, and the names the error
#: must give; every file in them must survive.
NOT_ONLY_FERKIT = {
    "a ferkit.json that is not a manifest": ({"ferkit.json": "{}", "notes.txt": "mine"},
                                             ["ferkit.json"]),
    "a ferkit.json that is not JSON": ({"ferkit.json": "hello", "notes.txt": "mine"},
                                       ["ferkit.json"]),
    "a model and a file of the user's": ({"notes.txt": "mine"}, ["notes.txt"]),
    "a model and a folder of the user's": ({"photos/a.txt": "mine"}, ["photos"]),
    "a model and two files": ({"notes.txt": "mine", "draft.json": "{}"},
                              ["draft.json", "notes.txt"]),
}


@pytest.mark.parametrize("what", sorted(NOT_ONLY_FERKIT))
def test_save_overwrite_keeps_files_that_are_not_ferkit(workdir, what):
    """overwrite=True replaces a valid model whose folder holds only the files its manifest
    lists; anything else is refused, naming what would have been deleted."""
    import ferkit

    folder = _fresh_dir(workdir) / "model"
    files, named = NOT_ONLY_FERKIT[what]
    if what.startswith("a model"):
        ferkit.save(_plain_model(1.0), folder)
    else:
        folder.mkdir()
    for name, text in files.items():
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_text(text)
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    out = Case("persistence")(lambda: ferkit.save(_plain_model(2.0), folder, overwrite=True),
                              expect="error", what=f"save(overwrite=True) over {what}")
    assert isinstance(out, FileExistsError), repr(out)
    assert all(name in str(out) for name in named), str(out)
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before
    assert _entries(folder.parent) == ["model"]  # no hidden leftovers


@pytest.mark.parametrize("overwrite", [True, False])
def test_save_through_a_symlink_updates_the_model_it_points_to(workdir, overwrite):
    import ferkit

    base = _fresh_dir(workdir)
    real = ferkit.save(_plain_model(1.0), base / "store" / "model")
    (base / "links").mkdir()
    link = base / "links" / "current"
    link.symlink_to(real, target_is_directory=True)
    out = Case("persistence")(lambda: ferkit.save(_plain_model(2.0), link, overwrite=overwrite),
                              expect="result" if overwrite else "error",
                              what=f"save(through a symlink, overwrite={overwrite})")
    assert link.is_symlink() and link.resolve() == real.resolve()
    scale = 2.0 if overwrite else 1.0
    assert ferkit.load(real).transform(np.eye(3)).max() == scale, out
    assert ferkit.load(link).transform(np.eye(3)).max() == scale
    # No hidden temporary folders or links beside the link or the model.
    assert _entries(base / "links") == ["current"]
    assert _entries(base / "store") == ["model"]


def test_save_to_a_dangling_symlink_is_refused(workdir):
    import ferkit

    base = _fresh_dir(workdir)
    link = base / "current"
    link.symlink_to(base / "nowhere", target_is_directory=True)
    for overwrite in (False, True):
        out = Case("persistence")(lambda overwrite=overwrite: ferkit.save(
                                      _plain_model(1.0), link, overwrite=overwrite),
                                  expect="error", what=f"save(dangling symlink, {overwrite})")
        assert "current" in str(out)
    assert _entries(base) == ["current"] and link.is_symlink()


# -- #21, second pass: training that diverges, warm start, image trees, output locations ------

#: Ways to make training diverge: a learning rate far too high for the optimizer, or pixels
#: that are finite but far from scaled (the loss overflows).
DIVERGING = {
    "adam lr=1e12": ({"optimizer": "adam", "learning_rate": 1e12}, "fit", 1.0),
    "sgd lr=1e20": ({"optimizer": "sgd", "learning_rate": 1e20}, "fit", 1.0),
    "rmsprop lr=1e30 partial_fit": ({"optimizer": "rmsprop", "learning_rate": 1e30},
                                    "partial_fit", 1.0),
    "inputs 1e30": ({}, "fit", 1e30),
    "inputs 1e30 warm_start": ({}, "warm_start", 1e30),
}


@pytest.mark.parametrize("name", sorted(DIVERGING))
def test_training_that_diverges_stops_with_a_clear_error(tiny_params, sample3, name, workdir):
    """A non-finite loss stops training and fit raises, saying what to change; nothing
    fitted is left to predict, score or save."""
    import ferkit
    from ferkit import FacialExpressionClassifier

    params, how, factor = DIVERGING[name]
    X, y = sample3.data[::3] / 255.0, sample3.target[::3]
    clf = FacialExpressionClassifier(**{**tiny_params, "epochs": 3, **params})
    if how == "warm_start":
        clf.fit(X, y).set_params(warm_start=True)
    train = {"partial_fit": clf.partial_fit}.get(how, clf.fit)
    out = Case("estimator")(lambda: train(X * factor, y), expect="error",
                            what=f"{how}({name}) that diverges")
    assert "diverged" in str(out) and "learning_rate" in str(out), str(out)
    for what, call in [("predict", lambda: clf.predict(X[:2])),
                       ("score", lambda: clf.score(X, y)),
                       ("save", lambda: ferkit.save(clf, _fresh_dir(workdir) / "m"))]:
        Case("estimator")(call, expect="error", what=f"{what} after {name}")


@pytest.mark.parametrize(("value", "layer", "alone"), [
    (np.nan, 0, False), (np.inf, -1, True), (-np.inf, 0, True), (np.nan, -1, False),
])
def test_save_refuses_a_network_with_non_finite_weights(saved_model, value, layer, alone,
                                                        workdir):
    """Checked before anything is written, naming the step and the weight."""
    import ferkit

    model = ferkit.load(saved_model)
    weight = model[-1].model_.weights[layer]
    values = np.array(weight.numpy())
    values.flat[values.size // 2] = value
    weight.assign(values)
    target = _fresh_dir(workdir) / "model"
    estimator = model[-1] if alone else model
    out = Case("persistence")(lambda: ferkit.save(estimator, target), expect="error",
                              what=f"save(network with a {value} weight)")
    where = "FacialExpressionClassifier" if alone else "Pipeline step 'clf'"
    assert where in str(out) and weight.path in str(out), str(out)
    assert not target.exists() and not list(target.parent.iterdir())


#: Training that continues a fitted network: the labels, and whether the network's classes
#: must be kept ("result") or the call refused ("error").
WARM = {
    "fit on two of three classes": ("fit", ["angry", "happy"], None, "result"),
    "fit on one class": ("fit", ["happy"], None, "result"),
    "fit on all classes": ("fit", ["angry", "happy", "sad"], None, "result"),
    "partial_fit on two classes": ("partial_fit", ["angry", "sad"], None, "result"),
    "partial_fit, classes= the known ones": ("partial_fit", ["sad"],
                                             ["sad", "happy", "angry"], "result"),
    "fit then partial_fit on a subset": ("fit+partial_fit", ["happy", "sad"], None, "result"),
    "fit with a new label": ("fit", ["happy", "fear"], None, "error"),
    "partial_fit with a new label": ("partial_fit", ["surprise"], None, "error"),
    "partial_fit, classes= fewer": ("partial_fit", ["happy"], ["happy", "sad"], "error"),
    "partial_fit, classes= more": ("partial_fit", ["happy"], ["angry", "fear", "happy", "sad"],
                                   "error"),
}


@pytest.mark.parametrize("name", sorted(WARM))
def test_warm_start_keeps_the_classes_of_the_network(tiny_params, sample, name, workdir):
    """The network's outputs are the known classes: they stay classes_, whatever subset of
    them the next call sees; labels or a classes= list outside them are refused, and the
    model stays usable either way (predict, report, save and load)."""
    import ferkit
    from ferkit import FacialExpressionClassifier, make_fer_pipeline, predict_image

    how, labels, classes, expect = WARM[name]
    known = ["angry", "happy", "sad"]
    first = np.isin(sample.target, known)
    pipe = make_fer_pipeline(**{**tiny_params, "epochs": 1})
    pipe.fit(sample.data[first], sample.target[first])
    pipe.set_params(clf__warm_start=True)
    clf = pipe[-1]
    assert isinstance(clf, FacialExpressionClassifier)
    rows = np.isin(sample.target, labels)
    X, y = sample.data[rows], sample.target[rows]

    def train():
        if how.startswith("fit"):
            pipe.fit(X, y)
        if how.endswith("partial_fit"):
            clf.partial_fit(pipe[:-1].transform(X), y, classes=classes)
        return pipe

    def usable(model):
        assert model.classes_.tolist() == known, model.classes_
        assert model.predict_proba(sample.data[:4]).shape == (4, 3)
        assert ferkit.report(model, sample.data[first][:30], sample.target[first][:30])
        assert ferkit.load(ferkit.save(model, _fresh_dir(workdir) / "m")).classes_.tolist() \
            == known
        from skimage.data import astronaut

        assert set(known) <= set(predict_image(model, astronaut()[::2, ::2]).columns)

    Case("estimator")(train, expect=expect, check=usable, what=f"warm start: {name}")
    if expect == "error":  # refused, and the model is as it was
        Case("estimator")(lambda: pipe, expect="result", check=usable,
                          what=f"model after refused warm start: {name}")


def _write_layout(base: Path, names, *, as_zip: bool) -> Path:
    """A tree (or a zip of it) with a 48x48 PNG at each of ``names``."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (48, 48), 100).save(buffer, format="PNG")
    if as_zip:
        path = base / "tree.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for name in names:
                archive.writestr(name, buffer.getvalue())
        return path
    for name in names:
        (base / name).parent.mkdir(parents=True, exist_ok=True)
        (base / name).write_bytes(buffer.getvalue())
    return base


def _layout(root: str, n: int = 1) -> list[str]:
    return [f"{root}{split}/{emotion}/{i}.png" for split in ("train", "test")
            for emotion in ("happy", "sad") for i in range(n)]


#: Trees of folders: the data sets an error must list (None: a result, or another error),
#: and the folder that must be found ("." for the path itself; None: refused).
TREES = {
    "two side by side": (_layout("a/") + _layout("b/"), ["a", "b"], None),
    "two at different depths": (_layout("a/") + _layout("x/y/z/"), ["a", "x/y/z"], None),
    "train and test apart": (["p/train/happy/1.png", "q/test/sad/2.png"], ["p", "q"], None),
    "a copy inside the top one": (_layout("") + _layout("old/copy/"), None, None),
    "one at the top": ([*_layout(""), "README.md"], None, "."),
    "one deep down": ([*_layout("runs/2024/fer/"), "runs/notes.txt"], None, "runs/2024/fer"),
    "one, and a train folder of notes": ([*_layout("fer/"), "code/train/readme.txt"], None,
                                         "fer"),
}


@pytest.mark.parametrize("as_zip", [False, True], ids=["folder", "zip"])
@pytest.mark.parametrize("tree", sorted(TREES))
def test_image_tree_with_several_data_sets_is_refused(tree, as_zip, workdir):
    """One data set is loaded and its location reported; several are listed, none picked."""
    from ferkit.datasets import load_fer2013

    names, listed, expected = TREES[tree]
    path = _write_layout(_fresh_dir(workdir), names, as_zip=as_zip)
    expect = "result" if expected is not None else "error"

    def check(faces):
        where = str(path) if expected == "." else f"{path}/{expected}"
        assert faces.location == where, faces.location
        assert where in faces.DESCR
        assert len(faces.target) == len([n for n in names if n.endswith(".png")])

    out = Case("loaders")(lambda: load_fer2013(path), expect=expect, check=check,
                          what=f"load_fer2013({tree}, {'zip' if as_zip else 'folder'})")
    if listed:
        assert all(repr(f) in str(out) for f in listed), str(out)


def _cli(argv) -> tuple[int, str, str]:
    from ferkit.cli import main

    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def _cli_case(ok: bool, outcome: str, message: str) -> None:
    TALLY["cli", outcome if ok else "failed"] += 1
    assert ok, message


def test_cli_reports_where_the_data_was_found_and_refuses_a_tree_of_several(workdir):
    tiny = ["--epochs", "1", "--param", "filters=4", "--param", "dense_units=8", "--quiet"]
    several = _write_layout(_fresh_dir(workdir), _layout("a/", 3) + _layout("b/c/", 3),
                            as_zip=False)
    code, out, err = _cli(["train", str(several), *tiny, "--out", str(several / "out")])
    _cli_case(code == 2 and "'a'" in err and "'b/c'" in err and "Training" not in out,
              "clear error", f"train on a tree of two data sets: exit {code}, {err!r}")
    one = _write_layout(_fresh_dir(workdir), _layout("x/fer/", 4), as_zip=False)
    code, out, err = _cli(["train", str(one), *tiny, "--out", str(one / "out")])
    _cli_case(code == 0 and f"Found FER2013 in {one}/x/fer" in out, "correct result",
              f"train on a tree of one data set: exit {code}, {out[-500:]!r} {err[-300:]!r}")


@pytest.fixture(scope="module")
def photo_file(workdir):
    from PIL import Image
    from skimage.data import astronaut

    path = workdir / "astronaut.png"
    Image.fromarray(astronaut()[::3, ::3]).save(path)
    return path


#: Commands whose output location cannot be written: they must fail before any work.
UNWRITABLE = {
    "train --out under a file": ["train", "--sample", "--epochs", "1", "--out", "{file}/out"],
    "demo --out under a file": ["demo", "--epochs", "1", "--out", "{file}/out"],
    "evaluate --out under a file": ["evaluate", "--sample", "--model", "{model}", "--out",
                                    "{file}/out"],
    "predict -o under a file": ["predict", "{photo}", "--model", "{model}", "-o",
                                "{file}/x.csv"],
    "predict -o a folder": ["predict", "{photo}", "--model", "{model}", "-o", "{base}"],
    "predict --annotate under a file": ["predict", "{photo}", "--model", "{model}",
                                        "--annotate", "{file}/a.png"],
}


@pytest.mark.parametrize("name", sorted(UNWRITABLE))
def test_cli_output_locations_are_checked_before_the_work(name, saved_model, photo_file,
                                                          workdir, monkeypatch):
    import ferkit.faces

    base = _fresh_dir(workdir)
    (base / "file").write_text("not a folder")
    fill = {"file": str(base / "file"), "model": str(saved_model), "photo": str(photo_file),
            "base": str(base)}
    calls = []
    monkeypatch.setattr(ferkit.faces, "predict_image", lambda *a, **k: calls.append(a))
    code, out, err = _cli([a.format(**fill) for a in UNWRITABLE[name]])
    started = calls or any(w in out for w in ("Training on", "Evaluating", "Loading"))
    _cli_case(code == 2 and not started and str(base) in err, "clear error",
              f"{name}: exit {code}, work started: {bool(started)}, stderr {err[-300:]!r}")


#: Output locations that are fine though odd: missing folders, names that are not UTF-8.
ODD_OUTPUTS = {
    "-o in missing folders, csv": (["-o", "{base}/new/er/faces.csv"], "csv"),
    "-o in missing folders, json": (["--format", "json", "-o", "{base}/new/faces.json"],
                                    "json"),
    "-o named in bytes that are not UTF-8": (["-o", "{base}/{latin1}.csv"], "csv"),
    "photo named in bytes that are not UTF-8, -o csv": (["-o", "{base}/f.csv"], "csv"),
    "photo named in bytes that are not UTF-8, -o json": (["--format", "json", "-o",
                                                          "{base}/f.json"], "json"),
    "photo named in bytes that are not UTF-8, json to stdout": (["--format", "json"], "json"),
}


@pytest.mark.parametrize("name", sorted(ODD_OUTPUTS))
def test_cli_predict_writes_to_odd_output_locations(name, saved_model, photo_file, workdir):
    import csv

    base = _fresh_dir(workdir)
    photo = photo_file
    if name.startswith("photo"):
        photo = Path(os.fsdecode(os.fsencode(base) + b"/caf\xe9 \xff.png"))
        shutil.copy(photo_file, photo)
    extra, fmt = ODD_OUTPUTS[name]
    fill = {"base": str(base), "latin1": os.fsdecode(b"r\xe9sultats")}
    argv = ["predict", str(photo), "--model", str(saved_model),
            *[a.format(**fill) for a in extra]]
    code, out, err = _cli(argv)
    target = Path(argv[-1]) if "-o" in argv else None
    try:
        text = target.read_bytes().decode("utf-8") if target else out
        rows = json.loads(text) if fmt == "json" else list(csv.DictReader(io.StringIO(text)))
        ok = code == 0 and len(rows) >= 1 and not any(
            re.search("[\ud800-\udfff]", r["file"]) for r in rows)
        ok = ok and all(r["file"].endswith(("astronaut.png", "caf\\xe9 \\xff.png"))
                        for r in rows)
    except (OSError, ValueError) as exc:
        ok, text = False, f"{type(exc).__name__}: {exc}"
    _cli_case(ok, "correct result", f"{name}: exit {code}, {text[:300]!r}, {err[-300:]!r}")


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_cli_predict_interrupted_keeps_the_rows_done(fmt, saved_model, photo_file, workdir):
    """Ctrl-C in the middle of a folder: the rows of the photos done are in the file, which
    is well formed, and each annotated picture written is whole."""
    import csv

    from PIL import Image

    base = _fresh_dir(workdir)
    photos = base / "photos"
    photos.mkdir()
    for i in range(400):
        shutil.copy(photo_file, photos / f"p{i:03d}.png")
    target = base / f"faces.{fmt}"
    proc = start_ferkit(["predict", str(photos), "--model", str(saved_model), "--format", fmt,
                         "-o", str(target), "--annotate", str(base / "drawn")])

    def six_rows() -> bool:
        text = target.read_text() if target.exists() else ""
        return text.count('"file"' if fmt == "json" else "\n") >= 6

    running, err = interrupt_when(proc, six_rows, wait=180, drain=120)
    text = target.read_text() if target.exists() else ""
    try:
        rows = json.loads(text) if fmt == "json" else list(csv.DictReader(io.StringIO(text)))
        drawn = sorted((base / "drawn").iterdir()) if (base / "drawn").exists() else []
        for picture in drawn:
            with Image.open(picture) as image:
                image.load()
        ok = (running and proc.returncode == 1 and 5 <= len(rows) < 400
              and all(r["emotion"] for r in rows)
              and all(p.name.endswith(".annotated.png") for p in drawn))
    except (OSError, ValueError, KeyError) as exc:
        ok, err = False, f"{type(exc).__name__}: {exc}; {err}"
    _cli_case(ok, "correct result",
              f"interrupted predict: rows appeared while running: {running}, exit "
              f"{proc.returncode}, file {text[-300:]!r}, stderr {err[-300:]!r}")


# -- tuning: a study refuses a search other than its own ------------------------------------

def _tuning_search(space=None, **pipeline_changes):
    """A fast search (a logistic regression) and its study; ``pipeline_changes`` swap steps
    or set parameters of the searched pipeline."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from ferkit.model_selection import OptunaSearchCV

    steps = {"scale": StandardScaler(), "clf": LogisticRegression()}
    steps.update({k: v for k, v in pipeline_changes.items() if "__" not in k})
    pipe = Pipeline(list(steps.items()))
    pipe.set_params(**{k: v for k, v in pipeline_changes.items() if "__" in k})
    if space is None:
        space = {"clf__C": FloatDistribution(0.1, 10.0, log=True),
                 "clf__solver": CategoricalDistribution(["lbfgs", "liblinear"])}
    return pipe, space, lambda url, n_trials: OptunaSearchCV(
        pipe, space, n_trials=n_trials, cv=2, storage=url, study_name="tuned", pruning=False,
        refit=False, random_state=0)


def _tuning_space(**changes):
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    space = {"clf__C": FloatDistribution(0.1, 10.0, log=True),
             "clf__solver": CategoricalDistribution(["lbfgs", "liblinear"])}
    space.update(changes)
    return {name: dist for name, dist in space.items() if dist is not None}


def _tuning_variations():
    """(id, space, pipeline changes, a name the refusal must mention)."""
    from optuna.distributions import CategoricalDistribution as Cat
    from optuna.distributions import FloatDistribution as Float
    from optuna.distributions import IntDistribution as Int
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    return [
        ("wider range", _tuning_space(clf__C=Float(0.1, 100.0, log=True)), {}, "clf__C"),
        ("linear scale", _tuning_space(clf__C=Float(0.1, 10.0)), {}, "clf__C"),
        ("with a step", _tuning_space(clf__C=Float(0.1, 10.0, step=0.1)), {}, "clf__C"),
        ("int not float", _tuning_space(clf__C=Int(1, 10)), {}, "clf__C"),
        ("one more choice", _tuning_space(clf__solver=Cat(["lbfgs", "liblinear", "saga"])),
         {}, "clf__solver"),
        ("one choice less", _tuning_space(clf__solver=Cat(["lbfgs"])), {}, "clf__solver"),
        ("choices reordered", _tuning_space(clf__solver=Cat(["liblinear", "lbfgs"])), {},
         "clf__solver"),
        ("parameter added", _tuning_space(clf__tol=Float(1e-5, 1e-3, log=True)), {},
         "clf__tol"),
        ("parameter removed", _tuning_space(clf__solver=None), {}, "clf__solver"),
        ("parameter pinned", _tuning_space(clf__solver=None), {"clf__solver": "liblinear"},
         "clf__solver"),
        ("fixed value changed", None, {"clf__max_iter": 50}, "clf__max_iter"),
        ("another step class", None, {"scale": MinMaxScaler()}, "scale"),
        ("step options changed", None, {"scale": StandardScaler(with_mean=False)},
         "scale__with_mean"),
    ]


@pytest.fixture(scope="module")
def tuning_study(tmp_path_factory):
    """The URL of a stored study of two trials, made by ``_tuning_search()``."""
    from sklearn.datasets import make_classification

    url = f"sqlite:///{tmp_path_factory.mktemp('tuning') / 'study.db'}"
    X, y = make_classification(60, 5, random_state=0)
    _, _, search = _tuning_search()
    search(url, 2).fit(X, y)
    return url, X, y


@pytest.mark.parametrize(("space", "changes", "name"),
                         [v[1:] for v in _tuning_variations()],
                         ids=[v[0] for v in _tuning_variations()])
def test_tuning_study_refuses_another_search(tuning_study, space, changes, name):
    """Joining a study with other distributions or another estimator is refused, untrained,
    naming the study, the storage and what differs; the study's trials stay as they were."""
    import optuna

    url, X, y = tuning_study
    before = len(optuna.load_study(study_name="tuned", storage=url).trials)
    _, space, search = _tuning_search(space, **changes)
    what = f"rejoin the study with {name} changed"
    out = Case("tuning")(lambda: search(url, before + 2).fit(X, y), expect="error", what=what)
    if isinstance(out, _KnownIssue):
        return
    for part in ("'tuned'", url, repr(name)):
        assert part in str(out), f"{what}: the refusal does not name {part}: {out}"
    assert len(optuna.load_study(study_name="tuned", storage=url).trials) == before


def test_tuning_study_accepts_its_own_search(tuning_study):
    """The same search joins (incidental options such as verbose may differ) and continues."""
    import optuna

    url, X, y = tuning_study
    before = len(optuna.load_study(study_name="tuned", storage=url).trials)
    _, _, search = _tuning_search(clf__verbose=1, scale__copy=False)

    def check(fitted):
        assert fitted.n_trials_ == before + 1
        assert fitted.cv_results_["trial_number"].tolist() == list(range(before + 1))

    Case("tuning")(lambda: search(url, before + 1).fit(X, y), expect="result", check=check,
                   what="rejoin the study with the same search")


# -- parameters checked at the entry points, no bare errors from below (issue #21, class 7) ---

#: Numbers that are no margin: beyond any use, infinite or not a number.
ABSURD_MARGINS = [float("inf"), 1e308, float("nan"), -float("inf"), 1e6]


@pytest.mark.parametrize("margin", ABSURD_MARGINS, ids=repr)
def test_absurd_margins_are_refused_by_name(pipe, margin):
    """predict_image and FaceCropper name ``margin`` (an OverflowError from deep in the crop,
    or every photo reported unreadable, before)."""
    from skimage.data import astronaut

    from ferkit import predict_image
    from ferkit.preprocessing import FaceCropper

    image = astronaut()[::4, ::4]
    for what, call in [("predict_image", lambda: predict_image(pipe, image, margin=margin)),
                       ("FaceCropper", lambda: FaceCropper(margin=margin).fit_transform([image]))]:
        out = Case("faces")(call, expect="error", what=f"{what}(margin={margin!r})")
        assert "margin" in str(out), str(out)


@pytest.mark.parametrize("option", [{"step_ratio": float("inf")}, {"step_ratio": 1e308},
                                    {"scale_factor": float("inf")}, {"max_side": 10**30},
                                    {"min_size": 2**40}, {"min_neighbors": 10**20}], ids=str)
def test_absurd_detector_options_are_refused_by_name(option):
    """Infinite or enormous detector options are refused, naming the option (an infinite
    step_ratio hung scikit-image's window loop before)."""
    from skimage.data import astronaut

    from ferkit import detect_faces

    image = astronaut()[::4, ::4]
    out = Case("faces")(lambda: detect_faces(image, **option), expect="error",
                        what=f"detect_faces(**{option})")
    assert next(iter(option)) in str(out), str(out)


@pytest.mark.parametrize("labels", [["happy", 3], [0, "sad"], ["happy", 1.5]], ids=str)
def test_labels_mixing_names_and_codes_are_refused_at_fit(tiny_params, sample3, labels):
    """NumPy cannot order names against numbers: a clear TypeError naming y, not NumPy's."""
    from ferkit import FacialExpressionClassifier

    y = np.array(labels * 10, dtype=object)
    clf = FacialExpressionClassifier(**{**tiny_params, "epochs": 1})
    out = Case("estimator")(lambda: clf.fit(sample3.data[:20] / 255.0, y), expect="error",
                            what=f"fit(y mixing {labels})")
    assert "y" in str(out) and "names" in str(out), str(out)


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_truncated_zip_is_reported_as_a_damaged_archive(workdir, keep):
    """A zip cut short (a failed download) is named a damaged archive, not 'not FER2013'."""
    from ferkit.datasets import load_fer2013

    base = _fresh_dir(workdir)
    whole = base / "whole.zip"
    with zipfile.ZipFile(whole, "w") as archive:
        for usage in ("train", "test"):
            for emotion in ("happy", "sad"):
                for i in range(3):
                    archive.writestr(f"{usage}/{emotion}/{i}.png", _png())
    data = whole.read_bytes()
    cut = base / "fer2013.zip"
    cut.write_bytes(data[: int(len(data) * keep)])
    out = Case("loaders")(lambda: load_fer2013(cut), expect="error",
                          what=f"load_fer2013(zip cut to {keep:.0%})")
    assert "truncated zip" in str(out) and "fer2013.zip" in str(out), str(out)


# -- the command line's own output is clean of TensorFlow's start-up lines (issue #21, 9) ----

#: TensorFlow's C++ start-up lines (oneDNN and CPU-feature notices, absl's logging warning).
_TF_NOISE = re.compile(r"oneDNN custom operations|absl::InitializeLog|cpu_feature_guard|"
                       r"rebuild TensorFlow|^[IW]\d{4} ", re.MULTILINE)


@pytest.mark.parametrize("debug", [False, True])
def test_cli_stderr_is_free_of_tensorflow_startup_lines(saved_model, workdir, debug):
    """Run as a person runs it (a fresh process, no TF_CPP_MIN_LOG_LEVEL in the shell): the
    command's own messages only, unless --debug asks for everything."""
    import subprocess
    import sys

    from PIL import Image

    base = _fresh_dir(workdir)
    Image.new("L", (64, 64), 90).save(base / "photo.png")
    argv = ["predict", str(base / "photo.png"), str(base / "nope.png"), "--model",
            str(saved_model), *(["--debug"] if debug else [])]
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from ferkit.cli import main; sys.exit(main())",
         *argv], capture_output=True, text=True, timeout=300, env=env)
    own = [line for line in proc.stderr.splitlines() if line.startswith("ferkit predict:")]
    noise = _TF_NOISE.findall(proc.stderr)
    ok = proc.returncode == 2 and any("nope.png" in line for line in own) and (
        debug or not noise)
    if not debug:
        TALLY["cli", "clear error" if ok else "failed"] += 1
    # Without --debug: nothing but the command's own lines. With it, nothing is hidden.
    assert ok, (proc.returncode, proc.stderr[-1500:])
    if not debug:
        assert proc.stderr.splitlines() == own, proc.stderr


# -- every public entry point checks its numbers and options by name (issue #21, class 7) ----

#: Values no numeric parameter takes: infinite, not a number, beyond any use, negative.
ABSURD_NUMBERS = [float("inf"), float("nan"), 1e308, -1, 10**20]


def _entry_point_calls():
    """(id, the argument it must name, bad values, value -> the call)."""
    from skimage.data import astronaut

    gray = astronaut()[::4, ::4, 0].copy()
    y = np.array(["happy", "sad"] * 4)
    proba = np.tile([[0.7, 0.3], [0.4, 0.6]], (4, 1))
    faces = np.zeros((8, 48, 48), np.uint8)

    def crop_face(**kw):
        from ferkit.faces import crop_face
        return crop_face(gray, (10, 10, 30, 30), **kw)

    def ece(n_bins):
        from ferkit.metrics import expected_calibration_error
        return expected_calibration_error(y, proba, ["happy", "sad"], n_bins=n_bins)

    def reliability(n_bins):
        import matplotlib
        matplotlib.use("Agg")
        from ferkit.plotting import ReliabilityDisplay
        return ReliabilityDisplay.from_predictions(y, proba, ["happy", "sad"], n_bins=n_bins)

    def face_grid(**kw):
        import matplotlib
        matplotlib.use("Agg")
        from ferkit.plotting import FaceGridDisplay
        return FaceGridDisplay.from_predictions(faces, y, y[::-1], **kw)

    def transform(estimator):
        return lambda: estimator.fit_transform(np.full((2, 48, 48), 100.0))

    def classifier(**kw):
        from ferkit import FacialExpressionClassifier
        params = {"filters": (2,), "dense_units": (2,), "epochs": 1, **kw}
        return FacialExpressionClassifier(**params).fit(faces / 255.0, y)

    def _embedder(**kw):
        from ferkit import FaceEmbedder
        return FaceEmbedder("fer2013-3", **kw).fit(faces)

    from ferkit.preprocessing import FaceCropper, HistogramEqualizer, PixelScaler

    return [
        ("crop_face margin", "margin", ABSURD_NUMBERS, lambda v: crop_face(margin=v)),
        ("crop_face size", "size", [(10**20, 48), (48, -1), (48, 1.5), (float("inf"), 48)],
         lambda v: crop_face(size=v)),
        ("FaceCropper size", "size", [(10**20, 48), (48, 0)],
         lambda v: FaceCropper(size=v).fit_transform([astronaut()[::4, ::4]])),
        ("expected_calibration_error n_bins", "n_bins", [0, 10**20, 1.5, float("inf")], ece),
        ("ReliabilityDisplay n_bins", "n_bins", [0, 10**20, float("nan")], reliability),
        ("FaceGridDisplay n_faces", "n_faces", [0, -3, 2.5, float("inf")],
         lambda v: face_grid(n_faces=v)),
        ("FaceGridDisplay random_state", "random_state", [10**20, -1, "seed"],
         lambda v: face_grid(random_state=v)),
        ("PixelScaler max_value", "max_value", [float("inf"), float("nan"), -1],
         lambda v: transform(PixelScaler(max_value=v))()),
        ("PixelScaler eps", "eps", [float("inf"), float("nan"), -1],
         lambda v: transform(PixelScaler(method="image", eps=v))()),
        ("HistogramEqualizer nbins", "nbins", [10**20, 1, 2.5],
         lambda v: transform(HistogramEqualizer(nbins=v))()),
        ("HistogramEqualizer max_value", "max_value", [float("inf"), float("nan")],
         lambda v: transform(HistogramEqualizer(max_value=v))()),
        # The network's sizes: 10**20 convolutions per block looped in Keras without end, a
        # batch of 10**20 overflowed a C long, a kernel of 10**20 failed inside TensorFlow.
        ("FacialExpressionClassifier kernel_size", "kernel_size", [10**20, 0, 2.5],
         lambda v: classifier(kernel_size=v)),
        ("FacialExpressionClassifier convs_per_block", "convs_per_block", [10**20, 0],
         lambda v: classifier(convs_per_block=v)),
        ("FacialExpressionClassifier batch_size", "batch_size", [10**20, 0],
         lambda v: classifier(batch_size=v)),
        ("FacialExpressionClassifier epochs", "epochs", [10**20, 0],
         lambda v: classifier(epochs=v)),
        ("FacialExpressionClassifier filters", "filters", [(10**20,), (8,) * 100, (0,)],
         lambda v: classifier(filters=v)),
        ("FacialExpressionClassifier dense_units", "dense_units", [(10**12,), (-4,)],
         lambda v: classifier(dense_units=v)),
        ("FaceEmbedder batch_size", "batch_size", [10**20, 0],
         lambda v: _embedder(batch_size=v)),
    ]


_CALLS = {name: (arg, values, call) for name, arg, values, call in _entry_point_calls()}


@pytest.mark.parametrize(("name", "value"),
                         [(n, v) for n, (_, values, _) in _CALLS.items() for v in values],
                         ids=repr)
def test_entry_points_refuse_absurd_parameters_by_name(name, value):
    """inf, nan, 1e308, negatives, 10**20, wrong types: a clear error naming the argument
    (NumPy's 'array is too big', an OverflowError or a silent all-zero result, before)."""
    arg, _, call = _CALLS[name]
    out = Case("parameters")(lambda: call(value), expect="error", what=f"{name}={value!r}")
    if not isinstance(out, _KnownIssue):
        assert repr(arg) in str(out) or f"{arg} " in str(out), str(out)


def test_save_figures_checks_its_parameters_before_drawing(pipe, sample3, workdir):
    """A bad n_bins or dpi is refused by name before any picture is written (it failed only
    at the picture that uses it, after the others were saved)."""
    import matplotlib

    matplotlib.use("Agg")
    from ferkit.plotting import save_figures

    for arg, value in [("n_bins", 10**20), ("n_bins", 0), ("dpi", float("inf")),
                       ("dpi", float("nan")), ("dpi", 10**20), ("n_faces", 0),
                       ("random_state", 10**20)]:
        folder = _fresh_dir(workdir) / "figures"
        out = Case("parameters")(
            lambda folder=folder, kw={arg: value}: save_figures(
                pipe, sample3.data[:30], sample3.target[:30], folder,
                figures=("confusion_matrix", "reliability_diagram", "faces"), **kw),
            expect="error", what=f"save_figures({arg}={value!r})")
        if not isinstance(out, _KnownIssue):
            assert repr(arg) in str(out), str(out)
            assert not folder.exists() or not any(folder.iterdir())


@pytest.mark.parametrize("labels", [["happy", 3], [0, "sad"], ["happy", 1.5]], ids=str)
@pytest.mark.parametrize("container", ["object array", "list"])
def test_labels_mixing_names_and_codes_are_refused_at_score(pipe, sample3, labels, container):
    """score, like fit: ferkit's TypeError naming y (a scikeras error before; a list was
    silently read as names, "3" a class never seen)."""
    y = labels * 10
    if container == "object array":
        y = np.array(y, dtype=object)
    for what, model in [("classifier", pipe[-1]), ("pipeline", pipe)]:
        X = sample3.data[:20] if model is pipe else pipe[:-1].transform(sample3.data[:20])
        out = Case("estimator")(lambda model=model, X=X: model.score(X, y), expect="error",
                                what=f"{what}.score(y mixing {labels}, {container})")
        assert "y" in str(out) and "names" in str(out), str(out)
