"""charzoo-template: the smallest complete charzoo plugin (copy it to start your own)."""

from charzoo_template.model import CharTinyCNN

__version__ = "0.1.0"
__all__ = ["CharTinyCNN"]
