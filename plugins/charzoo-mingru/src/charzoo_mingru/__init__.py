"""minGRU and minLSTM ("Were RNNs All We Needed?", Feng et al. 2024) for charzoo."""

from charzoo_mingru.model import CharMinGRU, CharMinLSTM, MinRNNModule, parallel_scan_log

__version__ = "0.1.0"
__all__ = ["CharMinGRU", "CharMinLSTM", "MinRNNModule", "parallel_scan_log"]
