"""keras-hub task models with their preprocessor and tokenizer, without keras_hub.

The tokenizer's vocabulary is an asset: it comes back from the archive, so
``predict`` on raw strings gives the same outputs where ``import keras_hub``
fails. Weights are randomized after the first call.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import keras_hub
import numpy as np
import pytest

import snapshot
from conftest import randomize_weights, run_isolated

RNG = np.random.default_rng(31)
WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "quick", "brown", "fox"]
#: Byte-pair vocabulary and merges small enough to write out ("Ġ" starts a word).
PIECES = ["<|endoftext|>", "t", "h", "e", "th", "the", "Ġ", "q", "u", "i", "c", "k"]
MERGES = ["t h", "th e"]
TEXTS = np.array(["the quick fox", "brown fox jumps"])


def _bert(folder: Path) -> Any:
    # A vocabulary file, as a preset gives: the snapshot must not read it again.
    vocabulary = folder / "vocab.txt"
    vocabulary.write_text("\n".join(WORDS) + "\n")
    models = keras_hub.models
    return models.BertTextClassifier(
        backbone=models.BertBackbone(
            vocabulary_size=len(WORDS),
            num_layers=1,
            num_heads=2,
            hidden_dim=4,
            intermediate_dim=8,
            max_sequence_length=8,
        ),
        num_classes=2,
        preprocessor=models.BertTextClassifierPreprocessor(
            tokenizer=models.BertTokenizer(vocabulary=str(vocabulary)),
            sequence_length=8,
        ),
    )


def _gpt2() -> Any:
    models = keras_hub.models
    vocabulary = {piece: index for index, piece in enumerate(PIECES)}
    return models.GPT2CausalLM(
        backbone=models.GPT2Backbone(
            vocabulary_size=len(PIECES),
            num_layers=1,
            num_heads=2,
            hidden_dim=4,
            intermediate_dim=8,
            max_sequence_length=8,
        ),
        preprocessor=models.GPT2CausalLMPreprocessor(
            tokenizer=models.GPT2Tokenizer(vocabulary=vocabulary, merges=MERGES),
            sequence_length=8,
        ),
    )


@pytest.fixture(scope="module")
def predicted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("tasks")
    vocabulary_folder = work / "vocabulary"
    vocabulary_folder.mkdir()
    tasks = {"bert_classifier": _bert(vocabulary_folder), "gpt2_causal_lm": _gpt2()}
    jobs = {}
    for name, task in tasks.items():
        task.predict(TEXTS, verbose=0)
        randomize_weights(task, RNG, low=0.1, high=0.5)
        expected = task.predict(TEXTS, verbose=0)
        np.save(work / f"{name}.npy", expected)
        archive = snapshot.save(
            task,
            work / f"{name}.snapshot",
            intern=["keras_hub"],
            verify=name == "bert_classifier",
        )
        jobs[name] = {"archive": str(archive), "expected": str(work / f"{name}.npy")}
    # Gone before loading, as on another machine.
    (vocabulary_folder / "vocab.txt").unlink()
    found = run_isolated(
        f"""
        import json, sys
        import numpy as np
        import snapshot
        jobs = {jobs!r}
        texts = np.array({TEXTS.tolist()!r})
        result = {{}}
        for name, job in jobs.items():
            model = snapshot.load(job["archive"])
            got = model.predict(texts, verbose=0)
            result[name] = float(np.abs(got - np.load(job["expected"])).max())
        result["keras_hub_imported"] = "keras_hub" in sys.modules
        print(json.dumps(result))
        """,
        blocked=("keras_hub",),
        workdir=work / "empty",
    )
    return {"found": found, "work": work}


def test_tasks_predict_on_raw_strings_without_keras_hub(
    predicted: dict[str, Any],
) -> None:
    assert predicted["found"] == {
        "bert_classifier": 0.0,
        "gpt2_causal_lm": 0.0,
        "keras_hub_imported": False,
    }


def test_the_tokenizer_vocabulary_is_an_asset_not_a_file_path(
    predicted: dict[str, Any],
) -> None:
    archive = predicted["work"] / "bert_classifier.snapshot"
    with zipfile.ZipFile(archive) as opened:
        manifest = json.loads(opened.read("snapshot.json"))
        text = opened.read(manifest["module"]).decode()
    assert manifest["assets"] == {
        "member": "assets.npz",
        "layers": {"model.preprocessor.tokenizer": ["vocabulary.txt"]},
    }
    assert manifest["verification"]["max_abs_diff"] == 0.0
    assert "tokenizer=BertTokenizer.from_config(" in text
    assert "vocab.txt" not in text
    assert (
        '    load_assets({"model.preprocessor.tokenizer": model.preprocessor.tokenizer})\n'
        in text
    )
