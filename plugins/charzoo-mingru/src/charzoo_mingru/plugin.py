"""The charzoo plugin: registers the models (entry point ``mingru`` of group ``charzoo``)."""

from charzoo import hookimpl
from charzoo_mingru.model import CharMinGRU, CharMinLSTM


@hookimpl
def charzoo_register_models(register):
    register(CharMinGRU, name="mingru", description="minGRU, Feng et al. 2024 (parallel scan)")
    register(CharMinLSTM, name="minlstm", description="minLSTM, Feng et al. 2024 (parallel scan)")
