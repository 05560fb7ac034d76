"""Plugin module named by the ``charzoo`` entry point in pyproject.toml.

charzoo imports this module at start-up and calls its hook with a ``register`` function.
"""

from charzoo import hookimpl
from charzoo_template.model import CharTinyCNN


@hookimpl
def charzoo_register_models(register):
    register(CharTinyCNN, name="tinycnn", description="Tiny 1-D convolution over the context")
