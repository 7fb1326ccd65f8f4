"""Cross-validation and searches in worker processes: joblib's loky backend (``n_jobs=2``) and
a Dask cluster (``joblib.parallel_backend("dask")`` on a ``dask.distributed.LocalCluster`` of
two one-thread worker processes). The results match one process's exactly, for a fixed
``random_state``; each worker's TensorFlow pools are sized to its share of the cores
(``ferkit/_threads.py``). (Sized workers sum in another order than this process's
TensorFlow, so the losses differ in their last bits; with these two-epoch networks no score
moves. docs/scaling.rst says when one can.)
"""

from __future__ import annotations

import logging
import os
import sys

import joblib
import numpy as np
import optuna
import pytest
from optuna.distributions import FloatDistribution
from sklearn.model_selection import GridSearchCV, cross_val_score

from ferkit._threads import size_tensorflow_threads, worker_share
from ferkit.model_selection import OptunaSearchCV

optuna.logging.set_verbosity(optuna.logging.WARNING)

#: A network that trains in well under a second; validation_split gives pruning a val_loss.
TINY_CLF = dict(filters=(4,), dense_units=(8,), epochs=2, batch_size=64, validation_split=0.2,
                random_state=0)
SPACE = {"clf__learning_rate": FloatDistribution(1e-3, 1e-1, log=True),
         "clf__dropout": FloatDistribution(0.0, 0.5)}
GRID = {"clf__dropout": [0.0, 0.3]}


def _pipeline():
    from ferkit import make_fer_pipeline

    return make_fer_pipeline(**TINY_CLF)


def _pruner():
    # Judges from the first trial and the first epoch on, so that some trials are pruned.
    return optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0)


@pytest.fixture(scope="module")
def faces(happy_sad_60):
    return happy_sad_60


def _runs(faces, n_jobs, *, grid=True) -> dict:
    """Cross-validation, grid search (unless ``grid=False``) and Optuna search on ``faces``
    with ``n_jobs``: 2 + 4 + about 5 tiny fits."""
    X, y = faces
    runs = {"cross_val_score": cross_val_score(_pipeline(), X, y, cv=2, n_jobs=n_jobs)}
    if grid:
        runs["grid"] = GridSearchCV(_pipeline(), GRID, cv=2, n_jobs=n_jobs,
                                    refit=False).fit(X, y)
    runs["search"] = OptunaSearchCV(_pipeline(), SPACE, n_trials=3, cv=2, pruning=_pruner(),
                                    refit=False, random_state=0, n_jobs=n_jobs).fit(X, y)
    return runs


@pytest.fixture(scope="module")
def serial(faces):
    """The same runs in this process, one fit after another: what the workers must match."""
    return _runs(faces, n_jobs=1)


def _assert_same_results(parallel: dict, serial: dict) -> None:
    np.testing.assert_array_equal(parallel["cross_val_score"], serial["cross_val_score"])
    if "grid" in parallel:
        grid, grid1 = parallel["grid"].cv_results_, serial["grid"].cv_results_
        for key in ("split0_test_score", "split1_test_score", "mean_test_score",
                    "rank_test_score"):
            np.testing.assert_array_equal(grid[key], grid1[key], err_msg=key)
        assert grid["params"] == grid1["params"]

    search, search1 = parallel["search"], serial["search"]
    results, results1 = search.cv_results_, search1.cv_results_
    assert results["params"] == results1["params"]
    assert results["state"].tolist() == results1["state"].tolist()
    assert "PRUNED" in results1["state"].tolist()  # pruning judged the parallel folds too
    for key in ("split0_test_score", "split1_test_score", "mean_test_score",
                "rank_test_score"):
        np.testing.assert_array_equal(results[key], results1[key], err_msg=key)
    assert search.best_params_ == search1.best_params_
    for trial, trial1 in zip(search.study_.trials, search1.study_.trials, strict=True):
        assert trial.user_attrs.get("ferkit_pruned_at") == trial1.user_attrs.get(
            "ferkit_pruned_at")
        # The losses pruning judged, reported after the fold: the same steps, the same values
        # but for the last bits (a one-thread worker's TensorFlow sums in another order).
        assert sorted(trial.intermediate_values) == sorted(trial1.intermediate_values)
        for step, value in trial1.intermediate_values.items():
            assert trial.intermediate_values[step] == pytest.approx(value, rel=1e-5)


def _tensorflow_pool():
    """In a worker: ``(TF_NUM_INTRAOP_THREADS, threads of TensorFlow's compute pool)``.

    Imports ferkit first, as a worker unpickling a ferkit estimator does, then runs an op so
    that TensorFlow starts its pools, and counts its ``tf_Compute`` threads.
    """
    import importlib
    import os

    importlib.import_module("ferkit")  # before TensorFlow, as in a worker
    tf = importlib.import_module("tensorflow")
    tf.matmul(tf.ones((64, 64)), tf.ones((64, 64)))
    names = []
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/comm") as comm:
                names.append(comm.read().strip())
        except OSError:  # a thread that ended meanwhile
            continue
    return os.environ.get("TF_NUM_INTRAOP_THREADS"), names.count("tf_Compute")


# -- thread sizing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "written"),
    [({"OMP_NUM_THREADS": "2"},
      {"TF_NUM_INTRAOP_THREADS": "2", "TF_NUM_INTEROP_THREADS": "2"}),
     ({"OMP_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "4"}, {"TF_NUM_INTEROP_THREADS": "1"}),
     ({}, {}), ({"OMP_NUM_THREADS": "0"}, {}), ({"OMP_NUM_THREADS": "many"}, {})],
    ids=["share", "user-set-kept", "unset", "zero", "not-a-number"],
)
def test_tensorflow_threads_follow_the_workers_share(environ, written):
    before = dict(environ)
    assert size_tensorflow_threads(environ) == written
    assert environ == {**before, **written}  # a variable already set is never changed
    assert worker_share(environ) == (int(before["OMP_NUM_THREADS"]) if written else None)


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc")
def test_loky_workers_size_tensorflow_pools():
    """joblib gives each of n_jobs loky workers cpu_count() // n_jobs threads; TensorFlow's
    compute pool in the worker has that many, not one per core."""
    share = max(1, joblib.cpu_count() // 2)
    pools = joblib.Parallel(n_jobs=2)(joblib.delayed(_tensorflow_pool)() for _ in range(2))
    assert pools == [(str(share), share)] * 2


# -- loky (scikit-learn's n_jobs) -------------------------------------------------------------


@pytest.mark.slow
def test_loky_workers_match_one_process(faces, serial):
    """cross_val_score and OptunaSearchCV with n_jobs=2 give the results of n_jobs=1: same
    scores, same best parameters, same pruned trials. (GridSearchCV fits its candidates in
    parallel exactly as cross_val_score fits its folds; it is run on the Dask cluster.)"""
    _assert_same_results(_runs(faces, n_jobs=2, grid=False), serial)


# -- Dask ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dask_client():
    """A LocalCluster of two worker processes with one thread each, and its client."""
    distributed = pytest.importorskip(
        "distributed", reason="Dask is not installed (pip install 'ferkit[dask]')")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=logging.ERROR)
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.mark.slow
def test_dask_workers_match_one_process(faces, serial, dask_client):
    """The same runs on the Dask cluster, through joblib's "dask" backend: the fits ran in
    the cluster's workers, whose TensorFlow pools have one thread each, and the results are
    those of one process."""
    with joblib.parallel_backend("dask"):
        parallel = _runs(faces, n_jobs=2)
    _assert_same_results(parallel, serial)
    # The fits ran in both workers (each loaded TensorFlow), one TensorFlow thread each.
    loaded = dask_client.run(lambda: "tensorflow" in sys.modules)
    assert list(loaded.values()) == [True, True]
    if os.path.isdir("/proc/self/task"):
        assert list(dask_client.run(_tensorflow_pool).values()) == [("1", 1)] * 2


# -- batch prediction ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Six 640x480 scenes with two faces each, as PNG files."""
    from _scenes import make_scene
    from PIL import Image

    folder = tmp_path_factory.mktemp("photos")
    for i in range(6):
        Image.fromarray(make_scene(i, n_faces=2)[0]).save(folder / f"scene-{i}.png")
    return folder


@pytest.fixture(scope="module")
def model_folder(faces, tmp_path_factory):
    """A tiny fitted pipeline, and the folder it is saved in."""
    from ferkit import make_fer_pipeline, save

    model = make_fer_pipeline(filters=(4,), dense_units=(8,), epochs=1,
                              random_state=0).fit(*faces)
    folder = tmp_path_factory.mktemp("model") / "tiny"
    save(model, folder)
    return model, folder


@pytest.fixture(scope="module")
def photo_rows(model_folder, photos):
    """The photos' rows predicted in this process, file after file, newest name first."""
    from ferkit import predict_image

    files = sorted(photos.iterdir(), reverse=True)
    return files, predict_image(model_folder[0], files, detector="lbp")


def _load_count(model, item):
    """In a worker: its process id and how many models it has loaded so far."""
    from ferkit._workers import _loaded

    return os.getpid(), _loaded.cache_info().misses


def test_workers_predict_photos_in_input_order(model_folder, photo_rows):
    """predict_image(n_jobs=2) over a list of photos gives the rows of n_jobs=1, in the
    list's order (not the files' sorted order), from a model in memory or a saved folder;
    the probabilities agree to the last bits (one-thread workers sum in another order)."""
    import pandas as pd

    from ferkit import predict_image

    files, serial = photo_rows
    assert serial["image"].unique().tolist() == [str(f) for f in files]
    assert len(serial) >= len(files)  # faces found, so probabilities are compared
    for model in model_folder:
        table = predict_image(model, files, detector="lbp", n_jobs=2)
        pd.testing.assert_frame_equal(table, serial, rtol=1e-5)


def test_each_worker_loads_the_model_once(model_folder):
    """Every chunk a worker runs uses the model it loaded at its first chunk, and a second
    call with the same folder loads nothing again."""
    from ferkit._workers import map_in_workers

    calls = [[row for chunk in map_in_workers(_load_count, model_folder[1], range(32),
                                              n_jobs=2) for row in chunk]
             for _ in range(2)]
    loads: dict[int, set[int]] = {}
    for pid, loaded in calls[0] + calls[1]:
        loads.setdefault(pid, set()).add(loaded)
    assert len(calls[0]) == 32
    assert all(len(counts) == 1 for counts in loads.values()), loads


def test_workers_need_a_model_that_can_be_saved(faces, photo_rows):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from ferkit import predict_image

    X, y = faces
    model = make_pipeline(FunctionTransformer(), LogisticRegression()).fit(X, y)
    with pytest.raises(TypeError, match=r"n_jobs needs a model that ferkit\.save can write"):
        predict_image(model, photo_rows[0], detector="lbp", n_jobs=2)


@pytest.mark.slow
def test_dask_workers_predict_photos(model_folder, photo_rows, dask_client):
    """The same call on the Dask cluster: each worker loaded the model from its folder."""
    import pandas as pd

    from ferkit import predict_image

    files, serial = photo_rows
    with joblib.parallel_backend("dask"):
        table = predict_image(model_folder[1], files, detector="lbp", n_jobs=2)
    pd.testing.assert_frame_equal(table, serial, rtol=1e-5)
    loaded = dask_client.run(lambda: __import__("ferkit._workers")._workers._loaded
                             .cache_info().currsize)
    assert sorted(loaded.values()) == [1, 1]


def test_ferkit_predict_with_workers(model_folder, photos, tmp_path, capsys):
    """`ferkit predict --n-jobs 2` writes the rows of `--n-jobs 1`, in the photos' order; an
    unreadable photo is reported and the others still predicted (exit 2)."""
    import pandas as pd

    from ferkit.cli import main

    folder = tmp_path / "photos"
    folder.mkdir()
    for photo in sorted(photos.iterdir())[:4]:
        (folder / photo.name).write_bytes(photo.read_bytes())
    (folder / "scene-2.png").write_bytes(b"not a png")
    tables = {}
    for n_jobs in ("1", "2"):
        out = tmp_path / f"rows-{n_jobs}.csv"
        status = main(["predict", str(folder), "--model", str(model_folder[1]), "--detector",
                       "lbp", "-o", str(out), "--n-jobs", n_jobs])
        assert status == 2
        assert "scene-2.png" in capsys.readouterr().err
        tables[n_jobs] = pd.read_csv(out)
    pd.testing.assert_frame_equal(tables["2"], tables["1"], atol=1e-4)
    assert tables["2"]["file"].unique().tolist() == [
        str(folder / f"scene-{i}.png") for i in (0, 1, 3)]
    assert main(["predict", str(folder), "--n-jobs", "0"]) == 2
    assert "--n-jobs must be" in capsys.readouterr().err


def _clip(path, shift: int, n: int = 6):
    """A short clip of the astronaut's face moving ``shift`` pixels a frame (0: no face)."""
    from skimage.data import astronaut

    from ferkit.video import write_video

    face = astronaut()[20:180, 140:300]
    frames = []
    for i in range(n):
        frame = np.full((160, 224, 3), 90, np.uint8)
        if shift:
            x = (4 if shift > 0 else 60) + shift * i
            frame[:, x:x + 160] = face
        frames.append(frame)
    write_video(path, frames, fps=25)
    return path


def test_workers_predict_clips_in_input_order(model_folder, tmp_path):
    """predict_video(n_jobs=2) over a list of clips: one clip per worker task, the rows of
    n_jobs=1 in the list's order, each clip tracked on its own (ids start at 0 in each)."""
    import pandas as pd

    from ferkit import predict_video

    pytest.importorskip("av")
    clips = [_clip(tmp_path / "right.mp4", 4), _clip(tmp_path / "blank.mp4", 0),
             _clip(tmp_path / "left.mkv", -4)]
    serial = predict_video(model_folder[0], clips, detector="lbp", every=2)
    assert serial["video"].unique().tolist() == [str(clips[0]), str(clips[2])]
    assert serial.groupby("video")["face"].min().tolist() == [0, 0]
    table = predict_video(model_folder[1], clips, detector="lbp", every=2, n_jobs=2)
    pd.testing.assert_frame_equal(table, serial, rtol=1e-5)
    with pytest.raises(TypeError, match="A camera is read on its own"):
        predict_video(model_folder[0], [clips[0], 0], n_jobs=2)
