"""The engine below the repository: backend registry, the classifier backend on a tiny real model
(train, predict, determinism, head growth, truncation, cancellation), the model store, the
prediction cache."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from repo_store.cases import Case
from repo_store.errors import StrawError
from tuning import backends
from tuning.backends.base import Example, ModelSettings, TrainHooks, TrainSettings
from tuning.errors import Cancelled, ModelError
from tuning.model_store import ModelStore

if TYPE_CHECKING:  # imported where used: it imports torch
    from tuning.backends.classifier import ClassifierBackend

ROOT = Path(__file__).resolve().parents[1]

TEXTS = {
    "refund": ["please refund my order", "I want my money back", "refund the charge now",
               "give me a refund for this", "return my payment please", "money back for order"],
    "shipping": ["where is my parcel", "my package has not arrived", "track my delivery",
                 "when will the box ship", "delivery is late again", "parcel tracking number"],
}


def examples(labels=("refund", "shipping")) -> list[Example]:
    return [Example(text, label) for label in labels for text in TEXTS[label]]


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tuning.testing import build_tiny_classifier

    return build_tiny_classifier(tmp_path_factory.mktemp("tiny") / "model")


def make_backend(tiny_model: Path, **train) -> ClassifierBackend:
    from tuning.backends.classifier import ClassifierBackend

    settings = {"learning_rate": 5e-3, "batch_size": 8, "seed": 0, **train}
    backend = backends.create(ModelSettings(base=str(tiny_model), max_length=32),
                              TrainSettings(**settings))
    assert isinstance(backend, ClassifierBackend)  # the default backend
    backend.load(str(tiny_model))
    return backend


def weights(backend) -> dict:
    return {k: v.clone() for k, v in backend.model.state_dict().items()}


# -- registry -----------------------------------------------------------------------------------

def test_registry_lists_names_and_names_them_on_a_failed_lookup() -> None:
    assert {"classifier", "causal_lm"} <= set(backends.names())
    with pytest.raises(ModelError, match="known: causal_lm, classifier"):
        backends.get_backend_class("nope")


def test_light_modules_do_not_import_torch() -> None:
    code = ("import sys; import tuning.tune, tuning.evaluate, tuning.backends, tuning.progress, "
            "straw.commands.engine, repo_store.repo; "
            "bad = [m for m in ('torch', 'transformers', 'textual') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -- loading ------------------------------------------------------------------------------------

def test_missing_model_folder_is_named(tmp_path: Path) -> None:
    backend = backends.create(ModelSettings(), TrainSettings())
    with pytest.raises(ModelError, match=str(tmp_path / "absent")):
        backend.load(str(tmp_path / "absent"))


def test_corrupt_model_folder_is_named(tmp_path: Path, tiny_model: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in tiny_model.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    (broken / "model.safetensors").write_bytes(b"\0garbage" * 10)
    backend = backends.create(ModelSettings(), TrainSettings())
    with pytest.raises(ModelError, match="broken: cannot load model"):
        backend.load(str(broken))


def test_embedded_model_resolves_offline() -> None:
    from tuning.backends.classifier import embedded_model_dir

    folder = embedded_model_dir()
    assert (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()


# -- training and prediction -------------------------------------------------------------------

def test_trains_to_fit_and_reports_steps(tiny_model: Path) -> None:
    backend = make_backend(tiny_model)
    data = examples()
    backend.prepare(data)
    assert backend.labels == ["refund", "shipping"]
    steps: list[tuple[int, int, float | None]] = []
    loss = backend.train(data, epochs=15, hooks=TrainHooks(on_step=lambda *a: steps.append(a)))
    assert loss is not None and loss > 0
    assert steps[-1][0] == steps[-1][1] == 15 * 2  # 12 examples, batch 8 → 2 steps an epoch
    preds = backend.predict([e.input for e in data])
    assert [p.text for p in preds] == [e.target for e in data]


def test_same_seed_same_data_same_predictions_and_weights(tiny_model: Path, tmp_path: Path) -> None:
    data = examples()
    runs = []
    for _ in range(2):
        backend = make_backend(tiny_model)
        backend.prepare(data)
        backend.train(data, epochs=3)
        preds = backend.predict([e.input for e in data] + ["something else entirely"])
        runs.append(([p.text for p in preds], ModelStore(tmp_path / "store").save(backend, {})))
    assert runs[0] == runs[1]


def test_new_label_grows_the_head_keeping_old_rows(tiny_model: Path) -> None:
    backend = make_backend(tiny_model)
    backend.prepare(examples())
    backend.train(examples(), epochs=2)
    head = backend.model.classifier
    before_w, before_b = head.weight.detach().clone(), head.bias.detach().clone()
    TEXTS["account"] = ["reset my password", "cannot log in to my account"]
    try:
        backend.prepare(examples(("refund", "shipping", "account")))
    finally:
        del TEXTS["account"]
    head = backend.model.classifier
    assert backend.labels == ["refund", "shipping", "account"]
    assert head.weight.shape[0] == 3 and backend.model.config.num_labels == 3
    assert backend.model.config.id2label[2] == "account"
    assert (head.weight[:2] == before_w).all() and (head.bias[:2] == before_b).all()


def test_unknown_label_at_training_time_is_refused_not_crashed(tiny_model: Path) -> None:
    backend = make_backend(tiny_model)
    backend.prepare(examples())
    backend.train([Example("reset my password", "account")] + examples(), epochs=1)
    assert "account" in backend.labels


def test_long_input_is_truncated_and_flagged(tiny_model: Path) -> None:
    backend = make_backend(tiny_model)
    backend.prepare(examples())
    preds = backend.predict(["short one", "word " * 200])
    assert [p.truncated for p in preds] == [False, True]


def test_cancel_event_stops_training_cleanly(tiny_model: Path) -> None:
    backend = make_backend(tiny_model)
    cancel = threading.Event()
    seen: list[int] = []

    def on_step(step: int, total: int, loss: float | None) -> None:
        seen.append(step)
        if step == 3:
            cancel.set()

    with pytest.raises(Cancelled):
        backend.train(examples(), epochs=50, hooks=TrainHooks(on_step=on_step, cancel=cancel))
    assert max(seen) <= 4


def test_classifier_refuses_generative_match_rules() -> None:
    from tuning.cases_io import target_of

    case = Case({"id": "c1", "input": "x", "expected": "a.*", "match": "regex",
                 "created": "2026-01-01T00:00:00Z", "author": "a <a@b>"}, "baseline")
    with pytest.raises(ModelError, match="cases/baseline/c1.json: match rule 'regex'"):
        target_of(case, "classifier")


# -- model store --------------------------------------------------------------------------------

def test_store_round_trip_is_content_addressed(tiny_model: Path, tmp_path: Path) -> None:
    backend = make_backend(tiny_model)
    backend.prepare(examples())
    backend.train(examples(), epochs=2)
    store = ModelStore(tmp_path / "store")
    model_hash = store.save(backend, {"base": "tiny"})
    assert model_hash.startswith("sha256:") and len(model_hash) == 71
    folder = store.load(model_hash)
    names = {p.name for p in folder.iterdir()}
    assert "model.safetensors" in names and not any(n.endswith((".bin", ".pt", ".pkl")) for n in names)
    assert store.save(backend, {"base": "tiny"}) == model_hash  # same weights: same entry
    assert store.hashes() == [model_hash]
    again = make_backend(tiny_model)
    again.load(folder)
    inputs = [e.input for e in examples()]
    assert [p.text for p in again.predict(inputs)] == [p.text for p in backend.predict(inputs)]


def test_store_hash_differs_when_only_labels_differ(tiny_model: Path, tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "store")
    a, b = make_backend(tiny_model), make_backend(tiny_model)
    a.set_labels(["x", "y"])
    b.set_labels(["x", "z"])
    assert store.save(a, {}) != store.save(b, {})


def test_missing_model_names_the_hash(tmp_path: Path) -> None:
    with pytest.raises(StrawError, match="sha256:" + "ab" * 32):
        ModelStore(tmp_path).load("sha256:" + "ab" * 32)


@pytest.mark.parametrize("failure", [OSError(errno.ENOSPC, "No space left on device"),
                                     KeyboardInterrupt()])
def test_failed_save_leaves_no_partial_model(tiny_model: Path, tmp_path: Path, failure) -> None:
    backend = make_backend(tiny_model)
    backend.prepare(examples())
    real_save = backend.save

    def failing_save(folder: Path):
        real_save(folder)
        raise failure

    backend.save = failing_save  # type: ignore[method-assign]
    store = ModelStore(tmp_path / "store")
    expected = StrawError if isinstance(failure, OSError) else KeyboardInterrupt
    with pytest.raises(expected, match="out of disk space" if expected is StrawError else None):
        store.save(backend, {})
    assert list((tmp_path / "store").iterdir()) == []


def test_stale_temp_folders_of_dead_processes_are_swept(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True)
    dead = tmp_path / f".tmp-{proc.stdout.strip()}-abc"
    dead.mkdir()
    mine = tmp_path / f".tmp-{os.getpid()}-abc"
    mine.mkdir()
    store.sweep()
    assert not dead.exists() and mine.exists()


# -- prediction cache ---------------------------------------------------------------------------

def test_prediction_cache_skips_known_inputs(tiny_model: Path, tmp_path: Path) -> None:
    from tuning.cases_io import PredictionCache, predict_cases

    backend = make_backend(tiny_model)
    backend.prepare(examples())
    store = ModelStore(tmp_path / "store")
    model_hash = store.save(backend, {})
    cases = [Case({"id": f"c{i}", "input": e.input, "expected": e.target, "match": "label",
                   "created": "2026-01-01T00:00:00Z", "author": "a <a@b>"}, "baseline")
             for i, e in enumerate(examples())]
    loads: list[int] = []

    def loader():
        loads.append(1)
        return backend

    first, computed = predict_cases(cases, 32, PredictionCache(store, model_hash), loader)
    assert computed == len(cases) and loads == [1]
    again, computed = predict_cases(cases, 32, PredictionCache(store, model_hash), loader)
    assert computed == 0 and loads == [1] and again == first
    edited = [cases[0]] + [Case({**cases[1].data, "input": "a brand new input"}, "baseline")]
    _, computed = predict_cases(edited, 32, PredictionCache(store, model_hash), loader)
    assert computed == 1


# ---- one source for settings: these fail when a copy drifts from its definition ------------


def test_settings_dataclasses_match_the_config_defaults_schema_and_template() -> None:
    from dataclasses import asdict, fields

    from repo_store import config, schemas
    from tuning.backends.base import ModelSettings, TrainSettings

    props = schemas.load_schema("config")["properties"]
    for section, cls in (("model", ModelSettings), ("train", TrainSettings)):
        names = {f.name for f in fields(cls)}
        assert names == set(props[section]["properties"]), section
        defaults = {k: v for k, v in asdict(cls()).items() if v is not None}
        assert defaults == config.DEFAULTS[section], section
        for f in fields(cls):
            assert f.metadata["help"], f"{section}.{f.name} has no help text"
            assert f.metadata["help"] == props[section]["properties"][f.name]["description"]
    assert config.parse(config.TEMPLATE) == config.DEFAULTS  # the template shows the defaults
    helps = config.setting_help()
    assert helps["train"]["replay"].startswith("Which baseline cases")


def test_backend_names_and_match_rules_have_one_definition() -> None:
    from repo_store import matching, schemas
    from tuning import backends

    model = schemas.load_schema("config")["properties"]["model"]["properties"]
    assert sorted(model["backend"]["enum"]) == backends.names()
    case = schemas.load_schema("case")["properties"]
    assert tuple(case["match"]["enum"]) == matching.RULES
