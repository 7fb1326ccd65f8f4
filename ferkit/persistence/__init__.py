"""Save and load fitted ferkit models as plain files: JSON and HDF5 weights, never pickle.

:func:`save` writes a fitted :class:`~ferkit.FacialExpressionClassifier`, or a fitted
:class:`~sklearn.pipeline.Pipeline` of ferkit and scikit-learn transformers ending in one, to a
folder; :func:`load` reads it back, in any later process, predicting exactly as before. A
:class:`~sklearn.ensemble.VotingClassifier` of classifiers (alone, or as a pipeline's last
step) is saved too, with one network file pair per member. So is a pipeline holding a
:class:`~ferkit.FaceEmbedder` and ending in scikit-learn's ``LogisticRegression`` or
``LinearSVC`` (whose fitted arrays go to ``arrays.npz``): an embedder over a shipped model
is stored by name, with a checksum of that model's files; over any other model, with that
model (its entry under ``model``, its networks in the folder's network files).

Folder layout
-------------
::

    fer-model/
        ferkit.json        manifest: format, versions, estimator, training summary, checksums
        model.json         Keras architecture of the network (``model.to_json()``)
        model.weights.h5   network weights, HDF5 (``model.save_weights``)
        model-2.json       an ensemble's second network (and so on, up to model-16.*);
        model-2.weights.h5 its classifier's entry names them under ``network``
        arrays.npz         NumPy arrays of fitted transformers (StandardScaler means...);
                           only when there are some; written with allow_pickle=False

``ferkit.json`` holds:

- ``format`` (``"ferkit-model"``) and ``format_version`` (an int; this ferkit writes
  ``1`` and refuses newer versions with a message asking to upgrade);
- ``written_by``: versions of ferkit, Python, NumPy, scikit-learn, Keras (and its backend)
  and TensorFlow that wrote the folder;
- ``estimator``: the class name (``"ferkit.FacialExpressionClassifier"``,
  ``"sklearn.ensemble.VotingClassifier"`` or ``"sklearn.pipeline.Pipeline"``), its
  parameters and, for an ensemble, its ``estimators`` (and ``state``: its ``classes``); for
  a pipeline, its ``steps``: each
  with ``name``, ``class`` (e.g. ``"ferkit.preprocessing.PixelScaler"``), ``params`` and
  fitted ``state``. The classifier's state holds ``classes``, the image shape, the training
  ``history``, and the dtypes it was fitted on. Values that JSON cannot express exactly are
  tagged: ``{"__tuple__": [4, 8]}``, ``{"__float__": "nan"}``, ``{"__ndarray__": "a0"}`` (an
  array in ``arrays.npz``), ``{"__npscalar__": ["<f8", 0.5]}``;
- ``summary`` (with a classifier): ``classes``, ``input_shape`` of the network
  (height, width, channels), ``n_features_in``, ``epochs_run`` and ``final_metrics`` (the
  last epoch's loss, accuracy, and validation loss and accuracy when there was validation
  data); for an ensemble, ``epochs_run`` and ``final_metrics`` of each network in a list,
  ``networks``;
- ``network``: file names (of the first network), ``weights_dtype`` (``"float32"`` or
  ``"float16"``), whether the optimizer state is stored, and for an ensemble the ``count``
  of networks;
- ``files``: size and SHA-256 of each other file, checked before anything is read.

Safety
------
Loading executes nothing from the folder. There is no pickle on the load path. Only classes on
an allow-list are built (the classifier, ``Pipeline``, ``VotingClassifier``, ferkit's
preprocessing transformers, ``FaceEmbedder``,
scikit-learn's ``StandardScaler``, ``MinMaxScaler``, ``MaxAbsScaler``, ``RobustScaler`` and
``Normalizer``, and as a pipeline's last step ``LogisticRegression`` and ``LinearSVC``), each
only where it may stand; other steps are refused when saving, and refused by name when
loading, without importing them. A linear classifier's arrays are checked against each other
(shapes, dtypes, finite values, class count) before it is built. A pipeline's ``memory``
(a joblib cache folder, whose files are unpickled when the pipeline is fitted) is refused
when saving and when loading. The Keras architecture may only contain allow-listed Keras
layers and objects (no ``Lambda``, no custom or unknown classes) and is rebuilt in Keras
safe mode.

Saving is atomic: the folder is written beside the target, flushed to disk and moved into
place, so an interrupted or failed save leaves the previous model intact (where the system
cannot swap two folders in one step and a save is killed between its two renames, the next
save or load puts the previous model back).

:mod:`pickle` and :mod:`joblib` also work on fitted ferkit estimators, as the scikit-learn
convention expects, but unpickling runs code from the file: use them only for files you made
yourself, and this format for models you share or keep.
"""

from ferkit.persistence._load import load
from ferkit.persistence._save import save

__all__ = ["load", "save"]
