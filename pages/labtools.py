"""What the lab pages share (Draw's extras, Lab handwriting, Look inside): not a page itself.

Shared, thread-safe objects kept for every visitor with st.cache_resource: the lab drawings
database, saved models loaded by name, and the nearest-image finder over MNIST's training set.
Page scripts import it as `pages.labtools` (see pages/common.py).
"""
from __future__ import annotations

import streamlit as st

from mnistcore.data import resolve_data_dir
from mnistcore.feedback import FeedbackStore, default_db_path
from mnistcore.inside import NearestImages
from mnistcore.models import DigitModel, load_model
from pages.common import mnist, store


# One store per database file (FeedbackStore opens a connection per call, so sharing it is safe).
# The path is the cache key, so tests pointing MNISTLAB_FEEDBACK_DB elsewhere get their own.
@st.cache_resource(show_spinner=False)
def _feedback_at(path: str) -> FeedbackStore:
    return FeedbackStore(path)


def feedback_store() -> FeedbackStore:
    """The lab drawings database: $MNISTLAB_FEEDBACK_DB, else data/lab.db."""
    return _feedback_at(str(default_db_path()))


# Models are only ever read once loaded (predict_proba), so every visitor can share them. The
# file's modification time is part of the key: a model file replaced in place is loaded afresh.
@st.cache_resource(show_spinner=False, max_entries=16)
def _model_at(path: str, modified_ns: int) -> DigitModel:
    return load_model(path)


def saved_model(name: str) -> DigitModel:
    """The model saved under `name` in the model store ("default" or a run); the live one as is.

    Raises what `ModelStore.path_of` and `load_model` raise (ValueError, ModelFileError, OSError).
    Loading a Keras model imports TensorFlow: call this only when the visitor asks for one.
    """
    live = store().live()
    if live is not None and live.name == name:
        return live.model
    path = store().path_of(name)
    return _model_at(str(path), path.stat().st_mtime_ns)


@st.cache_resource(show_spinner="Indexing the 60,000 MNIST training images…")
def _nearest_in(folder: str, _images) -> NearestImages:
    return NearestImages(_images)


def nearest_images() -> tuple[NearestImages, tuple]:
    """The finder over MNIST's training images (built once per server) and (x_train, y_train)."""
    (x_train, y_train), _ = mnist()  # shows what to do and stops the page when MNIST is missing
    return _nearest_in(str(resolve_data_dir()), x_train), (x_train, y_train)
