"""Both flip repairs of issue 14 on the causal LM backend, with the tiny real GPT-2 the
generative tests use (random weights, a BPE tokenizer trained on the cases): focal distillation
from the production model (a token-level KL term) and old↔new weight interpolation."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fixtures_lm import build_tiny_lm, lm_cases

from repo_store.cases import Case
from tuning import backends, interpolation
from tuning.backends.base import ModelSettings, TrainSettings
from tuning.cases_io import examples_of, passes
from tuning.training import TrainingSet, train_until_pass

if TYPE_CHECKING:  # imported where used: it imports transformers
    from tuning.backends.causal_lm import CausalLMBackend

PAIRS = lm_cases(20)
NEW = [("hello, how are you doing today", "label=greeting; action=answer"),
       ("tell me a joke about dogs", "label=smalltalk; action=refuse"),
       ("hello there", "label=greeting; action=answer")]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def case(case_id: str, text: str, expected: str, split: str) -> Case:
    return Case({"id": case_id, "input": text, "expected": expected, "match": "exact",
                 "created": "2026-01-01T00:00:00Z", "author": "T <t@example.com>"}, split)


BASELINE = [case(f"b-{n}", p, e, "baseline") for n, (p, e) in enumerate(PAIRS)]
NEW_CASES = [case(f"n-{n}", p, e, "new") for n, (p, e) in enumerate(NEW)]


def make(base: Path, source: Path, adapter: str = "none", **train: Any) -> CausalLMBackend:
    from tuning.backends.causal_lm import CausalLMBackend

    settings = {"learning_rate": 2e-3, "batch_size": 8, "weight_decay": 0.0,
                "epochs_per_round": 10, "max_iterations": 4, "replay": "all",
                "new_case_weight": 1, **train}
    backend = backends.create(ModelSettings(backend="causal_lm", base=str(base),
                                            max_new_tokens=16, max_length=64, adapter=adapter),
                              TrainSettings(**settings))
    assert isinstance(backend, CausalLMBackend)
    backend.load(str(source))
    return backend


def learn_baseline(model, tries: int, what: str) -> None:  # noqa: ANN001 - a CausalLMBackend
    """Train on the baseline, 10 epochs per seed, until the model answers every case."""
    examples = examples_of(BASELINE, "causal_lm")
    model.prepare(examples)
    for seed in range(tries):
        model.train(examples, 10, seed=seed)
        if [p.text for p in model.predict([e.input for e in examples])] == [e.target
                                                                             for e in examples]:
            return
    pytest.fail(f"{what} did not learn its baseline")


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(base folder, production model folder): the tiny GPT-2 fully fine-tuned on the 20
    baseline cases until it answers every one."""
    root = tmp_path_factory.mktemp("lm-neigh")
    texts = [t for pair in PAIRS + NEW for t in pair]
    base = build_tiny_lm(root / "gpt2", texts)
    model = make(base, base)
    learn_baseline(model, tries=8, what="the tiny LM")
    (root / "production").mkdir()
    model.save(root / "production")
    return base, root / "production"


def all_pass(b: int, bt: int, n: int, nt: int) -> bool:
    return b == bt and n == nt


def test_lm_distillation_adds_a_token_kl_term_that_changes_the_result(production) -> None:
    """Same production model, seed and data: with distill > 0 the round's loss holds the KL
    term and the trained weights differ; with distill = 0 the teacher is ignored."""
    import torch

    base, prod = production
    data = TrainingSet(BASELINE, NEW_CASES)

    def tuned(distill: float) -> tuple[float, dict[str, Any]]:
        backend = make(base, prod, max_iterations=1, distill=distill, distill_temperature=2.0)
        backend.set_teacher([c.input for c in data.baseline + data.new])
        outcome = train_until_pass(backend, data, backend.train_settings, lambda *a: False)
        return outcome.rounds[0]["loss"], backend.snapshot()

    plain_loss, plain = tuned(0.0)
    again_loss, again = tuned(0.0)
    kl_loss, distilled = tuned(1.0)
    assert plain_loss == again_loss  # deterministic: a difference is the KL term's
    assert all(torch.equal(plain[k], again[k]) for k in plain)
    assert kl_loss != plain_loss
    assert any(not torch.equal(plain[k], distilled[k]) for k in plain
               if plain[k].is_floating_point())


def test_lm_token_kl_is_zero_against_itself_and_weights_the_right_examples_up() -> None:
    import torch

    from tuning.backends.lm_distill import token_kl

    logits = torch.randn(2, 5, 7)
    labels = torch.tensor([[-100, -100, 0, 0, 0], [-100, -100, -100, 0, 0]])
    labels[0, 2:] = logits[0, 1:4].argmax(dim=-1)  # row 0: the teacher predicts every target
    labels[1, 3:] = (logits[1, 2:4].argmax(dim=-1) + 1) % 7  # row 1: it gets them wrong
    kl, weight = token_kl(logits, logits, labels, 2.0)
    assert torch.allclose(kl, torch.zeros(2), atol=1e-6)
    assert weight.tolist() == [5.0, 1.0]
    other, _ = token_kl(torch.randn(2, 5, 7), logits, labels, 2.0)
    assert (other > 0).all()


def test_lm_interpolation_keeps_a_lambda_below_1_that_spares_a_watch_case(production) -> None:
    """Watch cases near the baseline that production answers right; a batch of near neighbours
    with other answers; fully trained, the model breaks some of them; interpolated, it keeps
    passing every baseline and new case with fewer broken. Which seed breaks a watch case
    depends on the CPU's float kernels, so a few seeds are tried; every one must follow the
    rule (the fewest watch flips among passing λ, then the smallest), and at least one must
    keep a λ below 1 that spares a case θ(1) breaks."""
    base, prod = production
    texts = [(p + "?", e) for p, e in PAIRS] + [(p.replace("my", "the"), e) for p, e in PAIRS
                                                 if "my" in p]
    said = [p.text for p in make(base, prod).predict([t for t, _ in texts])]
    watch = [case(f"w-{n}", t, e, "watch") for n, ((t, e), s) in enumerate(zip(texts, said,
                                                                                 strict=True))
             if s == e]
    assert len(watch) >= 3, "production must answer some watch cases right"
    data = TrainingSet(BASELINE, NEW_CASES, watch)
    spared, breaking = [], 0
    for seed in range(6):
        model = make(base, prod, seed=seed, max_iterations=8)
        old = model.snapshot()
        outcome = train_until_pass(model, data, model.train_settings, all_pass)
        if not outcome.passed:
            continue
        chosen = interpolation.interpolate(model, old, data, outcome.validation, all_pass,
                                           [True] * len(watch))
        tried = {t["lambda"]: t for t in chosen.tried}
        passing = [(t["watch_negative_flips"], t["lambda"]) for t in chosen.tried if t["passed"]]
        assert (tried[chosen.lam]["watch_negative_flips"], chosen.lam) == min(passing)
        # the backend holds θ(λ): predicting afresh gives the chosen validation's answers
        now = [p.text for p in model.predict([c.input for c in data.cases])]
        assert now == [p.text for p in chosen.validation.predictions]
        assert all(passes(c, p) for c, p in zip(data.baseline + data.new, now, strict=False))
        if tried[1.0]["watch_negative_flips"] >= 1:  # θ_new breaks a watch case
            breaking += 1
            if tried[chosen.lam]["watch_negative_flips"] < tried[1.0]["watch_negative_flips"]:
                assert chosen.lam < 1.0
                spared.append(seed)
                break
    assert breaking >= 1, "no seed's fully trained model broke a watch case"
    assert spared, "no seed kept a λ below 1 with fewer watch flips than θ(1)"


@pytest.fixture(scope="module")
def lora_production(production, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(base folder, production adapter folder): a LoRA adapter on the tiny GPT-2 trained on
    the baseline until it answers every case."""
    base, _ = production
    model = make(base, base, adapter="lora", learning_rate=3e-3)
    learn_baseline(model, tries=15, what="the tiny LM's adapter")
    folder = tmp_path_factory.mktemp("lm-lora") / "production"
    folder.mkdir()
    model.save(folder)
    return base, folder


def test_lm_lora_interpolation_scales_the_adapter_delta(lora_production) -> None:
    """With LoRA only the adapter moves: θ(λ) = θ_old + λ·Δ over the adapter's parameters, the
    frozen base untouched; the kept λ is the smallest that still passes (no watch case here).
    Whether some λ below 1 passes depends on the seed and the CPU's float kernels, so a few
    seeds are tried: each must follow the rule, and one must keep a λ below 1."""
    import torch

    base, prod = lora_production
    data = TrainingSet([], NEW_CASES, [])
    below_1 = False
    for seed in range(6):
        model = make(base, prod, adapter="lora", learning_rate=3e-3, seed=seed)
        frozen = {n: p.detach().clone() for n, p in model.model.named_parameters()
                  if not p.requires_grad}
        old = model.snapshot()
        assert old and all("lora_" in name for name in old)  # the snapshot is the adapter only
        outcome = train_until_pass(model, data, model.train_settings, all_pass)
        if not outcome.passed:
            continue
        new = model.snapshot()
        chosen = interpolation.interpolate(model, old, data, outcome.validation, all_pass, [])
        assert chosen.lam == min(t["lambda"] for t in chosen.tried if t["passed"])
        now = model.snapshot()
        for name, was in old.items():
            assert torch.allclose(now[name], was + chosen.lam * (new[name] - was),
                                  atol=1e-6), name
        assert all(torch.equal(p, frozen[n]) for n, p in model.model.named_parameters()
                   if not p.requires_grad)
        assert [p.text for p in model.predict([c.input for c in data.cases])] == [
            p.text for p in chosen.validation.predictions]
        if chosen.lam < 1.0:  # production's adapter plus part of the change already passes
            below_1 = True
            break
    assert below_1, "no seed kept a λ below 1"


def test_a_causal_lm_tune_from_production_distils_interpolates_and_records_both(
        production, tmp_path: Path) -> None:
    """Through `tune_batch`: production is batch 1's model (models.lock); batch 2 tunes with
    [train] distill and interpolate on; the report records both settings, every λ tried, and
    the flips against production, and passes the schema."""
    import subprocess

    from test_causal_lm import case_repo_for

    from repo_store import batches, curation, lockfile, schemas
    from repo_store.repo import open_case_repo
    from tuning.tune import tune_batch

    base, _ = production
    repo = case_repo_for(tmp_path, base, learning_rate=2e-3)
    first = batches.create_batch(repo, all_pending=True)
    report = tune_batch(repo, first.id)
    assert report["summary"]["passed"], report["rounds"]
    lockfile.commit_lock(repo, {"model": report["model"]["hash"], "backend": "causal_lm",
                                "base": report["model"]["base"], "batch": first.id,
                                "promoted": "2026-11-02T00:00:00Z", "reason": "merge"}, "promote")
    for n, (text, expected) in enumerate(NEW):
        curation.add_case(repo, input=text, expected=expected, match="exact",
                          case_id=f"c-20261102-{n:08x}", created=f"2026-11-02T00:00:{n:02d}Z")
    curation.add_case(repo, split="watch", input=PAIRS[0][0] + "?", expected=PAIRS[0][1],
                      match="exact", case_id="c-20261103-00000000")
    with open(repo.root / "straw.toml", "a", encoding="utf-8") as fh:
        fh.write("interpolate = true\ndistill = 0.1\ndistill_temperature = 2.0\n")
    subprocess.run(["git", "commit", "-qam", "repairs on"], cwd=repo.root, check=True)
    repo = open_case_repo(repo.root)
    second = batches.create_batch(repo, [f"c-20261102-{n:08x}" for n in range(len(NEW))],
                                  allow_small=True)
    tuned = tune_batch(repo, second.id)
    schemas.check("report", tuned, "report")
    hyper = tuned["hyperparameters"]
    assert hyper["distill"] == 0.1 and hyper["distill_temperature"] == 2.0
    assert hyper["interpolate"] is True
    assert tuned["summary"]["passed"], tuned["rounds"]
    assert tuned["interpolation"]["grid"] == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert tuned["interpolation"]["lambda"] in tuned["interpolation"]["grid"]
    assert tuned["flips"]["production"] == report["model"]["hash"]
    assert tuned["flips"]["watch"]["cases"] == 1
