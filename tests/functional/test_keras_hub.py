"""keras-hub backbones vendored into standalone snapshots (``intern=["keras_hub"]``).

Each model is built with tiny sizes, its weights randomized after the first
call (a weight left unloaded would show), then loaded in a fresh interpreter
where ``import keras_hub`` fails; outputs must be identical.
"""

from __future__ import annotations

import ast
import functools
import zipfile
from pathlib import Path
from typing import Any

import keras_hub
import numpy as np
import pytest
from keras_hub.src.models.flux.flux_layers import DoubleStreamBlock

import snapshot
from conftest import randomize_weights, round_trip_in_isolation

RNG = np.random.default_rng(5)


def _tokens(*, segments: bool = False) -> dict[str, np.ndarray]:
    inputs = {
        "token_ids": np.array([[1, 2, 3, 4, 0]], "int32"),
        "padding_mask": np.array([[1, 1, 1, 1, 0]], "int32"),
    }
    if segments:
        inputs["segment_ids"] = np.zeros((1, 5), "int32")
    return inputs


def _image(size: int = 16) -> np.ndarray:
    return RNG.normal(size=(1, size, size, 3)).astype("float32")


@functools.cache
def _models() -> dict[str, tuple[Any, Any]]:
    """The models, built once per process (other test modules and the bench share them)."""
    models = keras_hub.models
    tokens = _tokens()
    cases: dict[str, tuple[Any, Any]] = {
        "bert": (
            models.BertBackbone(
                vocabulary_size=10,
                num_layers=2,
                num_heads=2,
                hidden_dim=2,
                intermediate_dim=4,
                max_sequence_length=5,
            ),
            _tokens(segments=True),
        ),
        "gpt2": (
            models.GPT2Backbone(
                vocabulary_size=10,
                num_layers=2,
                num_heads=2,
                hidden_dim=4,
                intermediate_dim=8,
                max_sequence_length=5,
            ),
            tokens,
        ),
        "distilbert": (
            models.DistilBertBackbone(
                vocabulary_size=10,
                num_layers=2,
                num_heads=2,
                hidden_dim=4,
                intermediate_dim=8,
                max_sequence_length=5,
            ),
            tokens,
        ),
        "resnet": (
            models.ResNetBackbone(
                input_conv_filters=[64],
                input_conv_kernel_sizes=[7],
                stackwise_num_filters=[64, 16],
                stackwise_num_blocks=[1, 1],
                stackwise_num_strides=[1, 2],
                image_shape=(None, None, 3),
                block_type="bottleneck_block",
                use_pre_activation=False,
            ),
            _image(),
        ),
        "vit": (
            models.ViTBackbone(
                image_shape=(16, 16, 3),
                patch_size=4,
                num_layers=2,
                num_heads=2,
                hidden_dim=4,
                mlp_dim=8,
            ),
            _image(),
        ),
        "t5": (
            models.T5Backbone(
                vocabulary_size=10,
                num_layers=2,
                num_heads=2,
                hidden_dim=4,
                intermediate_dim=8,
            ),
            {
                "encoder_token_ids": tokens["token_ids"],
                "encoder_padding_mask": tokens["padding_mask"],
                "decoder_token_ids": tokens["token_ids"][:, :4],
                "decoder_padding_mask": tokens["padding_mask"][:, :4],
            },
        ),
        "llama": (
            models.LlamaBackbone(
                vocabulary_size=10,
                num_layers=2,
                num_query_heads=2,
                num_key_value_heads=1,
                hidden_dim=4,
                intermediate_dim=8,
            ),
            tokens,
        ),
        "flux_double_stream_block": (
            DoubleStreamBlock(
                hidden_size=16, num_heads=2, mlp_ratio=2.0, use_bias=True
            ),
            snapshot.CallInputs(
                RNG.normal(size=(1, 4, 16)).astype("float32"),
                RNG.normal(size=(1, 3, 16)).astype("float32"),
                RNG.normal(size=(1, 16)).astype("float32"),
                RNG.normal(size=(1, 7, 4, 2)).astype("float32"),
            ),
        ),
    }
    for model, inputs in cases.values():
        if isinstance(inputs, snapshot.CallInputs):
            model(*inputs.args)
        else:
            model(inputs)
        randomize_weights(model, RNG, low=0.1, high=0.5)
    return cases


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    work = tmp_path_factory.mktemp("keras_hub")
    found = round_trip_in_isolation(
        _models(), work, blocked=("keras_hub",), intern=["keras_hub"]
    )
    return found, work


@pytest.mark.parametrize(
    "name",
    [
        "bert",
        "gpt2",
        "distilbert",
        "resnet",
        "vit",
        "t5",
        "llama",
        "flux_double_stream_block",
    ],
)
def test_backbone_loads_bit_exact_without_keras_hub(
    loaded: tuple[dict[str, Any], Path], name: str
) -> None:
    found, work = loaded
    assert "error" not in found[name], found[name]["error"]
    assert found[name]["count"] == found[name]["expected_count"]
    assert found[name]["diff"] == 0.0
    with zipfile.ZipFile(work / f"{name}.snapshot") as archive:
        module = next(n for n in archive.namelist() if n.endswith("_snapshot.py"))
        text = archive.read(module).decode()
    imported = {
        name.partition(".")[0]
        for node in ast.walk(ast.parse(text))
        for name in (
            [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        )
    }
    assert "keras_hub" not in imported, sorted(imported)
    assert "keras" in imported


def test_preset_machinery_is_left_out_and_visible(
    loaded: tuple[dict[str, Any], Path],
) -> None:
    _, work = loaded
    with zipfile.ZipFile(work / "bert.snapshot") as archive:
        text = archive.read("bert_backbone_snapshot.py").decode()
    assert "class Backbone(keras.Model):" in text
    assert "def from_preset(*args, **kwargs):" in text
    assert (
        'raise NotImplementedError("Backbone.from_preset is not part of this snapshot")'
        in text
    )
    assert "def get_config(self):" in text
    assert "kagglehub" not in text and "huggingface" not in text.lower()
    from snapshot.archive.inspect import describe_archive, summary

    described = describe_archive(work / "bert.snapshot")
    (backbone,) = [d for d in described["definitions"] if d["names"] == ["Backbone"]]
    assert (
        "from_preset" in backbone["left_out"]
        and "save_to_preset" in backbone["left_out"]
    )
    assert "get_config" not in backbone["left_out"]
    assert "(left out: " in summary(described)
