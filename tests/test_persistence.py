"""ferkit.save / ferkit.load with a trained network: round trips, atomicity, hostile files.

Two tiny networks are trained once for the module; crafted files are copies of their folders.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from ferkit import FacialExpressionClassifier
from ferkit.persistence import _atomic, _format, _keras_io, load, save
from ferkit.preprocessing import ImageReshaper, PixelScaler

keras = pytest.importorskip("keras")

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}


@pytest.fixture(scope="module")
def X(sample3):
    return sample3.data


@pytest.fixture(scope="module")
def clf(sample3, tiny_params):
    """A bare classifier with augmentation layers, tuple and dict parameters."""
    est = FacialExpressionClassifier(
        **tiny_params, augment=True, image_shape=(48, 48),
        class_weight={"angry": 2.0, "happy": 1.0, "sad": 1.5},
    )
    return est.fit(sample3.data / 255.0, sample3.target)


@pytest.fixture(scope="module")
def pipe(sample3, tiny_params):
    """A pipeline of ferkit and scikit-learn transformers with fitted arrays."""
    return Pipeline([
        ("scale", PixelScaler(method="dataset")),
        ("std", StandardScaler()),
        ("minmax", MinMaxScaler()),
        ("reshape", ImageReshaper()),
        ("clf", FacialExpressionClassifier(**{**tiny_params, "dropout": 0.2})),
    ]).fit(sample3.data, sample3.target)


@pytest.fixture(scope="module")
def saved(tmp_path_factory, clf, pipe):
    root = tmp_path_factory.mktemp("saved")
    return {"clf": save(clf, root / "clf"), "pipe": save(pipe, root / "pipe")}


def _plain_params(estimator) -> str:
    """Every non-estimator parameter, deep, with types visible (tuple vs list)."""
    params = estimator.get_params(deep=True)
    return repr(sorted((k, v) for k, v in params.items()
                       if not hasattr(v, "get_params") and k != "steps"))


def _copy(folder: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(folder, tmp_path / folder.name))


def _replace_file(folder: Path, name: str, content: bytes | str) -> None:
    """Rewrite a data file and its manifest checksum, as a deliberate attacker would."""
    path = folder / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    manifest = json.loads((folder / "ferkit.json").read_text())
    manifest["files"][name] = {"bytes": path.stat().st_size, "sha256": _format.sha256(path)}
    (folder / "ferkit.json").write_text(json.dumps(manifest))


def _edit_architecture(folder: Path, edit) -> None:
    config = json.loads((folder / "model.json").read_text())
    edit(config)
    for layer in _layers(config):  # let edited layers take their shapes from the layer before
        layer.pop("build_config", None)
    _replace_file(folder, "model.json", json.dumps(config))


def _layers(config) -> list[dict]:
    return config["config"]["layers"]


# -- round trips -------------------------------------------------------------------------------

def test_round_trip_in_a_fresh_process(saved, clf, pipe, X, tmp_path):
    np.save(tmp_path / "X.npy", X)
    script = textwrap.dedent(f"""
        import json, sys
        import numpy as np
        unpickled = []
        sys.addaudithook(lambda event, args: unpickled.append(args)
                         if event == "pickle.find_class" else None)
        import ferkit
        X = np.load({str(tmp_path / "X.npy")!r})
        out = {{}}
        for name, folder, scale in (("clf", {str(saved["clf"])!r}, 255.0),
                                    ("pipe", {str(saved["pipe"])!r}, 1.0)):
            est = ferkit.load(folder)
            np.save({str(tmp_path)!r} + f"/{{name}}.npy", est.predict_proba(X / scale))
            np.save({str(tmp_path)!r} + f"/{{name}}_small.npy", est.predict_proba(X[:7] / scale))
            params = est.get_params(deep=True)
            out[name] = repr(sorted((k, v) for k, v in params.items()
                                    if not hasattr(v, "get_params") and k != "steps"))
        out["unpickled"] = [repr(a) for a in unpickled]
        out["heavy"] = [m for m in ("optuna", "ferkit.plotting", "ferkit.model_selection")
                        if m in sys.modules]
        print(json.dumps(out))
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=tmp_path, env=ENV, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    for name, est, scale in (("clf", clf, 255.0), ("pipe", pipe, 1.0)):
        assert np.array_equal(np.load(tmp_path / f"{name}.npy"), est.predict_proba(X / scale))
        assert np.array_equal(np.load(tmp_path / f"{name}_small.npy"),
                              est.predict_proba(X[:7] / scale))
        assert out[name] == _plain_params(est)
    assert out["unpickled"] == []  # nothing was unpickled while loading
    assert out["heavy"] == []


def test_round_trip_in_process(saved, clf, pipe, X):
    loaded_clf, loaded_pipe = load(saved["clf"]), load(saved["pipe"])
    assert np.array_equal(loaded_clf.predict_proba(X / 255.0), clf.predict_proba(X / 255.0))
    assert np.array_equal(loaded_pipe.predict_proba(X), pipe.predict_proba(X))
    assert np.array_equal(loaded_pipe.predict(X), pipe.predict(X))
    assert _plain_params(loaded_clf) == _plain_params(clf)
    assert _plain_params(loaded_pipe) == _plain_params(pipe)
    assert [type(s) for _, s in loaded_pipe.steps] == [type(s) for _, s in pipe.steps]
    for attr in ("classes_", "n_features_in_", "image_shape_", "history_", "n_epochs_"):
        assert repr(getattr(loaded_clf, attr)) == repr(getattr(clf, attr))


def test_folder_layout_and_manifest(saved, clf, pipe):
    assert sorted(p.name for p in saved["clf"].iterdir()) == [
        "ferkit.json", "model.json", "model.weights.h5"]
    assert sorted(p.name for p in saved["pipe"].iterdir()) == [
        "arrays.npz", "ferkit.json", "model.json", "model.weights.h5"]
    manifest = json.loads((saved["clf"] / "ferkit.json").read_text())
    assert manifest["format"] == "ferkit-model" and manifest["format_version"] == 1
    assert manifest["written_by"]["keras"] == keras.__version__
    assert {"ferkit", "tensorflow", "scikit-learn", "numpy"} <= set(manifest["written_by"])
    assert manifest["estimator"]["class"] == "ferkit.FacialExpressionClassifier"
    assert manifest["estimator"]["params"]["filters"] == {"__tuple__": [4, 8]}
    summary = manifest["summary"]
    assert summary["classes"] == clf.classes_.tolist()
    assert summary["input_shape"] == [48, 48, 1]
    assert summary["n_features_in"] == 2304
    assert summary["epochs_run"] == clf.n_epochs_
    assert summary["final_metrics"] == {k: v[-1] for k, v in clf.history_.items()}
    assert manifest["network"]["weights_dtype"] == "float32"
    for name in ("model.json", "model.weights.h5"):
        assert manifest["files"][name]["sha256"] == _format.sha256(saved["clf"] / name)
    architecture = json.loads((saved["clf"] / "model.json").read_text())
    assert architecture == json.loads(clf.model_.to_json())

    steps = json.loads((saved["pipe"] / "ferkit.json").read_text())["estimator"]["steps"]
    assert [s["class"] for s in steps] == [
        "ferkit.preprocessing.PixelScaler", "sklearn.preprocessing.StandardScaler",
        "sklearn.preprocessing.MinMaxScaler", "ferkit.preprocessing.ImageReshaper",
        "ferkit.FacialExpressionClassifier"]
    assert steps[1]["state"]["mean_"] == {"__ndarray__": "a0"}


def test_loaded_classifier_trains_on(saved, sample3):
    loaded = load(saved["clf"])
    iterations = int(loaded.model_.optimizer.iterations.numpy())
    assert iterations > 0  # the optimizer state came back with the weights
    loaded.partial_fit(sample3.data / 255.0, sample3.target)
    assert loaded.n_epochs_ == len(loaded.history_["loss"])
    assert int(loaded.model_.optimizer.iterations.numpy()) > iterations


def test_float16_weights_keep_predictions(clf, X, tmp_path):
    folder = save(clf, tmp_path / "half", weights_dtype="float16")
    with h5py.File(folder / "model.weights.h5") as f:
        dtypes = set()
        f["layers"].visititems(lambda n, o: dtypes.add(o.dtype.name)
                               if isinstance(o, h5py.Dataset) else None)
    assert dtypes == {"float16"}
    full = clf.predict_proba(X / 255.0)
    half = load(folder).predict_proba(X / 255.0)
    assert np.abs(half - full).max() < 1e-2
    assert np.mean(half.argmax(1) == full.argmax(1)) >= 0.98
    assert json.loads((folder / "ferkit.json").read_text())["network"]["weights_dtype"] == \
        "float16"


def test_without_optimizer_state(clf, saved, X, tmp_path):
    folder = save(clf, tmp_path / "lean", include_optimizer=False)
    with h5py.File(folder / "model.weights.h5") as f:
        assert "optimizer" not in f and "layers" in f
    assert (folder / "model.weights.h5").stat().st_size < \
        0.7 * (saved["clf"] / "model.weights.h5").stat().st_size
    loaded = load(folder)
    assert np.array_equal(loaded.predict_proba(X / 255.0), clf.predict_proba(X / 255.0))
    assert loaded.model_.compiled  # further training starts with a fresh optimizer
    assert int(loaded.model_.optimizer.iterations.numpy()) == 0


def test_pickle_joblib_and_clone_still_work(clf, pipe, saved, X, tmp_path):
    # Pickle documented as for trusted files only; it must still work on loaded models too.
    again = pickle.loads(pickle.dumps(load(saved["clf"])))
    assert np.array_equal(again.predict_proba(X / 255.0), clf.predict_proba(X / 255.0))
    for est in (clf, again):
        fresh = clone(est)
        assert not fresh.initialized_
        assert _plain_params(fresh) == _plain_params(clf)
    joblib.dump(pipe, tmp_path / "pipe.joblib")
    assert np.array_equal(joblib.load(tmp_path / "pipe.joblib").predict_proba(X),
                          pipe.predict_proba(X))


def test_save_refuses_callbacks_and_unfitted(clf, tmp_path):
    with_callbacks = clone(clf).set_params(callbacks=[keras.callbacks.TerminateOnNaN()])
    vars(with_callbacks).update({k: v for k, v in vars(clf).items() if k.endswith("_")})
    with pytest.raises(TypeError, match=r"'callbacks'.*set_params\(callbacks=None\)"):
        save(with_callbacks, tmp_path / "m")
    with pytest.raises(Exception, match="not fitted"):
        save(clone(clf), tmp_path / "m")
    assert list(tmp_path.iterdir()) == []


# -- atomicity ---------------------------------------------------------------------------------

def _half_written(path) -> None:
    Path(path).write_bytes(b"\x89HDF half of a file")


def _second_call(real):
    """``real``, raising from its second call on (the target check repeated before the move)."""
    calls = []

    def check(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise FileExistsError("another process took the target meanwhile")
        return real(*args, **kwargs)
    return check


# Every step of a save over an existing model, in order: (module, function, what it does before
# it fails). Those that write leave a half-written file, as a full disk would.
SAVE_STEPS = {
    "architecture": (_keras_io, "write_architecture", lambda path, text: _half_written(path)),
    "weights": (_keras_io, "write_weights", lambda model, path, **kw: _half_written(path)),
    "arrays": (np, "savez", lambda file, *a, **kw: file.write(b"PK\x03\x04 half")),
    "checksums": (_format, "file_entries", lambda folder: None),
    "manifest": (_format, "write_manifest",
                 lambda folder, manifest: _half_written(folder / "ferkit.json")),
    "fsync": (_atomic, "_fsync_tree", lambda folder: None),
    "target-recheck": (_atomic, "_check_target", None),
    "exchange": (_atomic, "_exchange", lambda a, b: None),
    "move": (_atomic, "_move_into_place", lambda tmp, target: None),
}


@pytest.mark.parametrize("step", list(SAVE_STEPS))
def test_failed_save_keeps_the_previous_model(saved, clf, pipe, X, tmp_path, monkeypatch,
                                              step):
    target = _copy(saved["clf"], tmp_path)
    before = clf.predict_proba(X / 255.0)
    module, name, partial = SAVE_STEPS[step]
    if partial is None:
        monkeypatch.setattr(module, name, _second_call(getattr(module, name)))
    else:
        def broken(*args, **kwargs):
            partial(*args, **kwargs)
            raise OSError("No space left on device")
        monkeypatch.setattr(module, name, broken)

    with pytest.raises(OSError, match=r"No space left|took the target"):
        save(pipe, target, overwrite=True)  # a pipeline: it has an arrays file too
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]  # no leftover
    previous = load(target)
    assert type(previous) is FacialExpressionClassifier
    assert np.array_equal(previous.predict_proba(X / 255.0), before)


# The network is loaded before the patch: the save itself is what gets killed.
_KILL_IN_WEIGHTS = """
    from ferkit.persistence import _keras_io
    estimator = ferkit.load({pipe!r})
    real_write = _keras_io.write_weights
    def slow_write(model, path, **kwargs):
        real_write(model, path, **kwargs)
        print("stopped", flush=True)
        time.sleep(300)
    _keras_io.write_weights = slow_write
"""
# The folder is complete (manifest too), not yet moved; no network needed to get there.
_KILL_BEFORE_MOVE = """
    import numpy as np
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from ferkit.persistence import _atomic
    estimator = Pipeline([("std", StandardScaler())]).fit(np.eye(3))
    def stop(tmp, target):
        print("stopped", flush=True)
        time.sleep(300)
    _atomic._move_into_place = stop
"""


@pytest.mark.parametrize("setup, complete", [(_KILL_IN_WEIGHTS, False),
                                             (_KILL_BEFORE_MOVE, True)],
                         ids=["in-weights", "before-move"])
def test_killed_save_keeps_the_previous_model(saved, clf, pipe, X, tmp_path, setup, complete,
                                              kill_when_printed):
    target = _copy(saved["clf"], tmp_path)
    script = "import time\nimport ferkit\n" + textwrap.dedent(setup).format(
        pipe=str(saved["pipe"])) + f"ferkit.save(estimator, {str(target)!r}, overwrite=True)\n"
    kill_when_printed([sys.executable, "-c", script], "stopped", stderr=subprocess.DEVNULL,
                      cwd=tmp_path, env=ENV)

    visible = [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")]
    assert visible == [target.name]
    leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert len(leftovers) == 1 and leftovers[0].name.startswith(".clf.ferkit-tmp-")
    if complete:  # hidden, and removed below all the same
        assert (leftovers[0] / "ferkit.json").exists()
    else:
        assert (leftovers[0] / "model.weights.h5").exists()
        assert not (leftovers[0] / "ferkit.json").exists()
        with pytest.raises(FileNotFoundError, match=r"ferkit.json is missing"):
            load(leftovers[0])
    previous = load(target)
    assert type(previous) is FacialExpressionClassifier
    assert np.array_equal(previous.predict_proba(X / 255.0), clf.predict_proba(X / 255.0))

    save(pipe, target, overwrite=True)  # the next save clears the dead process's leftover
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]
    assert np.array_equal(load(target).predict_proba(X), pipe.predict_proba(X))


# -- hostile files -----------------------------------------------------------------------------

def _hostile_lambda_config(marker: Path) -> dict:
    # Written as source so that the marshalled bytecode holds the marker path as a constant.
    code = eval(f"lambda x: (__import__('pathlib').Path({str(marker)!r}).touch(), x)[1]")
    model = keras.Sequential([keras.Input((48, 48, 1)), keras.layers.Lambda(code)])
    marker.unlink()  # building the model above ran the code once, here, on purpose
    return _layers(json.loads(model.to_json()))[-1]


def test_lambda_layer_with_code_is_refused_and_never_runs(saved, tmp_path):
    marker = tmp_path / "code-ran"
    lambda_layer = _hostile_lambda_config(marker)
    assert lambda_layer["config"]["function"]["class_name"] == "__lambda__"
    folder = _copy(saved["clf"], tmp_path)
    _edit_architecture(folder, lambda c: _layers(c).insert(1, lambda_layer))

    # The file is genuinely hostile: Keras with safe mode off runs its code.
    config = json.loads((folder / "model.json").read_text())
    keras.saving.deserialize_keras_object(config, safe_mode=False)
    assert marker.exists()
    marker.unlink()

    with pytest.raises(ValueError, match=r"model.json contains Python code: 'Lambda'"):
        load(folder)
    assert not marker.exists()


def test_safe_mode_holds_even_if_unsafe_deserialization_was_enabled(tmp_path):
    from keras.src.saving.serialization_lib import SafeModeScope

    marker = tmp_path / "code-ran"
    config = {"module": "keras", "class_name": "Sequential", "registered_name": None,
              "config": {"name": "s", "layers": [
                  {"module": "keras.layers", "class_name": "InputLayer",
                   "registered_name": None, "config": {"batch_shape": [None, 48, 48, 1]}},
                  _hostile_lambda_config(marker)]}}
    with SafeModeScope(False):  # what keras.config.enable_unsafe_deserialization() sets
        with pytest.raises(ValueError, match=r"model.json.*lambda"):
            _keras_io.deserialize_architecture(config, file="model.json")
    assert not marker.exists()


@pytest.mark.parametrize("layer, message", [
    ({"module": "mypackage.layers", "class_name": "Dense", "registered_name": "Custom>Dense",
      "config": {"units": 3}}, r"module 'mypackage.layers'.*only objects from Keras"),
    ({"module": "os", "class_name": "system", "config": {"command": "touch x"}},
     r"module 'os'"),
    ({"module": "keras.layers", "class_name": "TFSMLayer",
      "config": {"filepath": "/tmp/model"}}, r"'TFSMLayer'.*not on ferkit's list"),
    ({"module": "keras.layers", "class_name": "Dense", "registered_name": "evil>Dense",
      "config": {"units": 3}}, r"not on ferkit's list"),
    ({"class_name": "Dense", "config": {"units": 3}}, r"module None"),
    ({"module": "keras.layers", "class_name": "Activation",
      "config": {"activation": {"module": "builtins", "class_name": "function",
                                "config": "eval"}}}, r"Python code: 'function'"),
], ids=["custom-module", "os-module", "unknown-layer", "registered-name", "no-module",
        "function"])
def test_unknown_or_custom_layers_are_refused(saved, tmp_path, layer, message):
    folder = _copy(saved["clf"], tmp_path)
    _edit_architecture(folder, lambda c: _layers(c).insert(2, layer))
    with pytest.raises(ValueError, match=f"model.json.*{message}"):
        load(folder)


@pytest.mark.parametrize("optimizer, branches", [
    ("adam", 1), ("adamw", 1), ("sgd", 1), ("rmsprop", 1), ("nadam", 1), ("adam", 2),
])
def test_every_network_ferkit_builds_is_allowed(optimizer, branches):
    # Guards the allow-list against build_cnn growing a layer it does not know; two branches
    # make the Functional network of a fine-tuned vote.
    from ferkit._network import DEFAULT_AUGMENTATION, build_cnn

    model = build_cnn((12, 12, 1), 3, filters=(2,), dense_units=(2,), convs_per_block=2,
                      augment=dict(DEFAULT_AUGMENTATION, erasing=0.5), seed=0,
                      branches=branches)
    model.compile(optimizer=keras.optimizers.get(optimizer),
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1),
                  metrics=["accuracy"])
    config = json.loads(_keras_io.architecture_json(model, file="model.json"))
    layers = {layer["class_name"] for layer in _layers(config)}
    assert {"RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation",
            "RandomContrast", "RandomErasing", "BatchNormalization", "Dropout"} <= layers
    assert config["compile_config"]["optimizer"]["module"] == "keras.optimizers"
    rebuilt = _keras_io.deserialize_architecture(config, file="model.json")
    assert [layer.name for layer in rebuilt.layers] == [layer.name for layer in model.layers]


@pytest.mark.parametrize("class_name, module", [
    ("Functional", "keras"), ("Model", "keras"), ("Functional", "mypackage.models"),
])
def test_networks_other_than_sequential_or_functional_are_refused(saved, tmp_path, class_name,
                                                                   module):
    folder = _copy(saved["clf"], tmp_path)
    _replace_file(folder, "model.json", json.dumps({"class_name": class_name,
                                                    "module": module, "config": {}}))
    with pytest.raises(ValueError, match=r"model.json does not describe a Keras Sequential "
                                         r"or Functional network"):
        load(folder)


def test_a_functional_networks_layer_references_carry_nothing_else():
    # A branch's input names another layer's output: allowed as plain data, but an object
    # dressed as such a reference (extra keys, say a module to import) is refused.
    from ferkit._network import build_cnn

    config = json.loads(build_cnn((8, 8, 1), 2, filters=(2,), dense_units=(2,),
                                  branches=2).to_json())
    _keras_io.check_architecture(config, file="model.json")
    reference = config["config"]["layers"][1]["inbound_nodes"][0]["args"][0]
    assert reference["class_name"] == "__keras_tensor__"
    reference["module"] = "os"
    with pytest.raises(ValueError, match=r"model.json refers to '__keras_tensor__' \(module "
                                         r"'os'\)"):
        _keras_io.check_architecture(config, file="model.json")


# -- damaged files -----------------------------------------------------------------------------

def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _set_units(config, name: str, units: int) -> None:
    for layer in _layers(config):
        if layer["config"].get("name") == name:
            layer["config"]["units"] = units


@pytest.mark.parametrize("damage, error, message", [
    (lambda f: (f / "model.weights.h5").unlink(), FileNotFoundError,
     r"model.weights.h5 is missing"),
    (lambda f: (f / "model.json").unlink(), FileNotFoundError, r"model.json is missing"),
    (lambda f: _truncate(f / "model.weights.h5"), ValueError,
     r"model.weights.h5 is truncated or corrupted \(\d+ bytes instead of \d+"),
    (lambda f: _replace_file(f, "model.weights.h5",
                             (f / "model.weights.h5").read_bytes()[:5000]),
     ValueError, r"model.weights.h5 is corrupted or truncated and cannot be read"),
    (lambda f: _replace_file(f, "model.json", '{"class_name": "Sequential", '), ValueError,
     r"model.json is not valid JSON"),
    (lambda f: (f / "ferkit.json").write_text((f / "ferkit.json").read_text()[:-30]),
     ValueError, r"ferkit.json is not valid JSON"),
    (lambda f: _edit_architecture(f, lambda c: _set_units(c, "dense1", 9)), ValueError,
     r"model.weights.h5 does not match the network in .*model.json"),
    # Keras alone would load this silently, ignoring the weights it has no layer for.
    (lambda f: _edit_architecture(f, lambda c: c["config"].update(
        layers=[la for la in _layers(c) if la["config"]["name"] != "dense1_bn"])),
     ValueError, r"model.weights.h5 does not match .*holds \d+ weight arrays.*network has \d+ of"),
    (lambda f: _edit_architecture(f, lambda c: _set_units(c, "emotion", 4)), ValueError,
     r"model.weights.h5 does not match"),
], ids=["no-weights", "no-architecture", "cut-weights", "cut-weights-rechecksummed",
        "bad-architecture-json", "bad-manifest-json", "wider-layer", "fewer-layers",
        "more-outputs"])
def test_damaged_model_errors_name_the_file(saved, tmp_path, damage, error, message):
    folder = _copy(saved["clf"], tmp_path)
    damage(folder)
    with pytest.raises(error, match=message):
        load(folder)


def test_classes_must_match_the_network(saved, tmp_path):
    folder = _copy(saved["clf"], tmp_path)
    manifest = json.loads((folder / "ferkit.json").read_text())
    manifest["estimator"]["state"]["classes"].append("surprise")
    (folder / "ferkit.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=r"model.json has 3 outputs but .*ferkit.json lists 4"):
        load(folder)


@pytest.mark.parametrize("step, key, value", [
    (4, "X_shape", []),  # the classifier
    (4, "X_shape", [None, None, 48]),
    (4, "n_features_in", 100),
    (3, "image_shape_", []),  # ImageReshaper
    (3, "image_shape_", None),
    (3, "image_shape_", [48, 47, 1]),
    (0, "_sample_shape", [0, 48]),  # PixelScaler
    (3, None, None),  # the whole state dropped
    (1, None, None),  # ... of a scikit-learn step
])
def test_inconsistent_restored_state_is_refused_at_load(saved, tmp_path, step, key, value):
    """A state that would only fail at the first prediction (in NumPy or scikeras) fails here."""
    folder = _copy(saved["pipe"], tmp_path)
    manifest = json.loads((folder / "ferkit.json").read_text())
    entry = manifest["estimator"]["steps"][step]
    if key is None:
        entry["state"] = {}
    else:
        entry["state"][key] = value
    (folder / "ferkit.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=rf"ferkit\.json: estimator\.steps\[{step}\]\.state is"):
        load(folder)


def test_binary_classifier_with_routed_parameters_round_trips(tmp_path, sample3):
    """Two classes (scikeras' binary target type) and scikeras' routed parameters
    (fit__verbose) are saved and loaded; the loaded model predicts the same."""
    two = np.isin(sample3.target, ["happy", "sad"])
    X, y = sample3.data[two] / 255.0, sample3.target[two]
    clf = FacialExpressionClassifier(filters=(4,), dense_units=(4,), epochs=1, random_state=0,
                                     fit__verbose=0).fit(X, y)
    loaded = load(save(clf, tmp_path / "m"))
    assert loaded.get_params()["fit__verbose"] == 0
    assert loaded.classes_.tolist() == ["happy", "sad"]
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_declared_weight_shapes_match_keras_for_every_allowed_layer():
    """The shapes load compares before building, computed without allocating, are the ones
    Keras builds, for every layer on the allow-list; nothing is left for Keras to initialise."""
    import keras
    from keras import layers
    from keras.src.backend.common import global_state

    from ferkit._network import build_cnn

    networks = [
        keras.Sequential([
            layers.Input((16, 16, 3)), layers.Rescaling(1 / 255), layers.RandomBrightness(0.1),
            layers.RandomContrast(0.1), layers.RandomFlip(), layers.RandomRotation(0.1),
            layers.RandomZoom(0.1), layers.RandomTranslation(0.1, 0.1), layers.RandomErasing(),
            layers.ZeroPadding2D(1),
            layers.Cropping2D(1), layers.SeparableConv2D(5, 3, depth_multiplier=2),
            layers.DepthwiseConv2D(3, depth_multiplier=3), layers.Conv2D(4, 3),
            layers.LayerNormalization(), layers.PReLU(), layers.LeakyReLU(), layers.ELU(),
            layers.ReLU(), layers.SpatialDropout2D(0.1), layers.GaussianNoise(0.1),
            layers.GaussianDropout(0.1), layers.AveragePooling2D(2),
            layers.BatchNormalization(), layers.Reshape((-1, 4)), layers.Reshape((2, 2, -1)),
            layers.GlobalMaxPooling2D(), layers.Dense(7), layers.Softmax(),
        ]),
        keras.Sequential([
            layers.Input((8, 8, 1)), layers.Conv2D(2, 3), layers.MaxPooling2D(),
            layers.Activation("relu"), layers.Dropout(0.2), layers.Flatten(), layers.Dense(3),
        ]),
        keras.Sequential([layers.Input((8, 8, 1)), layers.GlobalAveragePooling2D(),
                          layers.Dense(3)]),
        build_cnn((8, 8, 1), 3, filters=(2,), dense_units=(2,), branches=2),  # Concatenate
    ]
    used = set()
    for network in networks:
        network.compile(optimizer="adam", loss="categorical_crossentropy")
        config = json.loads(network.to_json())
        _keras_io.check_architecture(config, file="model.json")
        used |= {layer["class_name"] for layer in config["config"]["layers"]}
        assert _keras_io.declared_weight_shapes(config, file="model.json") == [
            tuple(v.shape) for v in network.weights]
    assert _keras_io.ALLOWED_LAYERS <= used
    assert not global_state.get_global_attribute("uninitialized_variables")


def _crafted_npz(tmp_path: Path, *, declared: tuple, compressed: bool) -> bytes:
    """An arrays.npz whose one member declares ``declared`` float64s but holds 8 bytes."""
    import io
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": declared})
    out = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED
    with zipfile.ZipFile(out, "w", compression=method) as archive:
        archive.writestr("a0.npy", header.getvalue() + b"\0" * 8)
    return out.getvalue()


@pytest.mark.parametrize("declared, compressed, message", [
    ((10**12,), False, r"declares 8000000000000 bytes of array data but holds"),
    ((10**6, 10**6), False, r"declares 8000000000000 bytes"),
    ((1,), True, r"is compressed; ferkit writes its arrays uncompressed"),
])
def test_arrays_larger_than_the_file_are_refused_before_allocation(
        saved, tmp_path, declared, compressed, message):
    """#21: a crafted arrays.npz (checksums updated) cannot make load allocate what its
    bytes do not hold: NumPy would allocate the declared shape before reading."""
    folder = _copy(saved["pipe"], tmp_path)
    assert (folder / "arrays.npz").exists()
    _replace_file(folder, "arrays.npz", _crafted_npz(tmp_path, declared=declared,
                                                     compressed=compressed))
    with pytest.raises(ValueError, match=r"arrays\.npz: a0\.npy " if not compressed
                       else r"arrays\.npz: a0\.npy is compressed") as caught:
        load(folder)
    assert re.search(message, str(caught.value))
