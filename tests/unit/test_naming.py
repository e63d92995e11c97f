"""Names in the generated module: file names, collision renames, one name per key."""

from __future__ import annotations

import pytest

from snapshot.analysis.naming import (
    NameTable,
    identifiers_in,
    import_key,
    renamed_candidate,
    snake_case,
)
from snapshot.emit.render import module_file_name
from snapshot.model import ImportItem, SymbolRef


@pytest.mark.parametrize(
    ("name", "snake"),
    [
        ("MyModel", "my_model"),
        ("MLP", "mlp"),
        ("ViT", "vit"),
        ("ViTDistilled", "vit_distilled"),
        ("CaiT", "cait"),
        ("DeiTBackbone", "deit_backbone"),
        ("GPT2CausalLM", "gpt2_causal_lm"),
        ("MLPMixer", "mlp_mixer"),
        ("XLMRoberta", "xlm_roberta"),
        ("ResNetV2Backbone", "res_net_v2_backbone"),
        ("Conv2DBlock", "conv2d_block"),
        ("My_Model", "my_model"),
        ("net", "net"),
    ],
)
def test_snake_case_keeps_acronyms_whole(name: str, snake: str) -> None:
    assert snake_case(name) == snake


def test_module_file_name() -> None:
    assert module_file_name("ViTDistilled") == "vit_distilled_snapshot.py"
    assert module_file_name("Classifier") == "classifier_snapshot.py"


def test_first_claimant_keeps_its_name_and_later_ones_are_renamed() -> None:
    table = NameTable(identifiers_in_use=set())
    blocks = SymbolRef("zoo.blocks.encoder", "Encoder")
    layers = SymbolRef("zoo.layers.encoder", "Encoder")
    assert table.claim(layers, renamed_candidate(layers)) == "Encoder"
    assert table.claim(blocks, renamed_candidate(blocks)) == "Encoder_blocks"
    # A key claims once; asking again gives the same name.
    assert table.claim(blocks, "anything") == "Encoder_blocks"
    assert table.assigned() == {layers: "Encoder", blocks: "Encoder_blocks"}


def test_a_new_name_never_captures_an_identifier_in_use() -> None:
    table = NameTable(identifiers_in(["def f(Encoder_blocks): return Encoder_blocks"]))
    table.claim("Encoder", "Encoder")
    second = SymbolRef("zoo.blocks.encoder", "Encoder")
    assert table.claim(second, renamed_candidate(second)) == "Encoder_blocks_2"


def test_reserved_words_and_imports_share_one_namespace() -> None:
    table = NameTable(identifiers_in_use=set())
    table.claim("load_model", "load_model")
    mine = SymbolRef("pkg.io", "load_model")
    assert table.claim(mine, renamed_candidate(mine)) == "load_model_io"
    keras = import_key(ImportItem("keras.layers"))
    assert keras == ImportItem("keras")
    assert table.claim(keras, "keras") == "keras"
    assert table.claim(ImportItem("tf_keras", alias="keras"), "keras") == "keras_2"


def test_renamed_candidate_skips_a_module_part_that_repeats_the_name() -> None:
    assert renamed_candidate(SymbolRef("zoo.layers.encoder", "Encoder")) == (
        "Encoder_layers"
    )
    assert renamed_candidate(SymbolRef("__main__", "Net")) == "Net_module"
