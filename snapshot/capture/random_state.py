"""The state of a model's random generators, which Keras' weights file leaves out.

A ``keras.random.SeedGenerator`` (Dropout's, the random augmentation layers')
keeps its seed and a counter in a variable that ``model.variables`` lists and
``model.weights`` does not, so ``save_weights`` drops it: training resumed
from a ``.weights.h5`` or ``.keras`` file draws other dropout masks than
training that never stopped. A snapshot stores these variables in the
weights file under :data:`RANDOM_STATE_GROUP`, where Keras' loading does not
look, and the generated module puts them back.
"""

from __future__ import annotations

from typing import Any

#: Group of the weights file holding the generators' states, in
#: ``model.variables`` order, as datasets ``0``, ``1``, ... of
#: :data:`RANDOM_STATE_PATH` (Keras' store adds ``/vars``, as for a layer).
# Not a Python identifier: Keras' walk names groups after attributes, so no
# attribute of a model can give a group of this name.
RANDOM_STATE_GROUP = "snapshot:random_state"
RANDOM_STATE_PATH = f"{RANDOM_STATE_GROUP}/vars"


def random_state_variables(model: Any) -> list[Any]:
    """The variables of ``model.variables`` that are not weights: its generators' states.

    Each once, in first-listed order (``Layer.variables`` lists a generator
    shared with a sub-layer twice).
    """
    weights = {id(variable) for variable in model.weights}
    found = {id(v): v for v in model.variables if id(v) not in weights}
    return list(found.values())


def random_state_operations(model: Any) -> list[tuple[str, Any, Any]]:
    """Weights-file operations (see ``keras_compat.weights_operations``) storing them."""
    variables = random_state_variables(model)
    if not variables:
        return []
    return [
        ("make", RANDOM_STATE_GROUP, None),
        *(("set", str(index), variable) for index, variable in enumerate(variables)),
    ]
