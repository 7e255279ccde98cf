"""The metrics `emcomm analyze` computes, on numpy arrays (the C++ functions of metrics/, see
docs/metrics.md). Messages are [N, L] int arrays with -1 after the end (the run file's form);
`length` may be omitted when the padding is -1. Values are in bits."""
from ._emcomm import metrics as _m

messages_as_symbols = _m.messages_as_symbols
rows_as_symbols = _m.rows_as_symbols
entropy = _m.entropy
mutual_information = _m.mutual_information
speaker_consistency = _m.speaker_consistency
instantaneous_coordination = _m.instantaneous_coordination
context_independence = _m.context_independence
topsim = _m.topsim
posdis = _m.posdis
bosdis = _m.bosdis
mean_length = _m.mean_length
symbols_used = _m.symbols_used
accuracy = _m.accuracy
target_accuracy = _m.target_accuracy
sc = speaker_consistency
ic = instantaneous_coordination
ci = context_independence


def cic(p_message, p_action, skip_unprobed=True):
    """Mean one-step CIC (bits) from the probe tables of `Run.cic()`: p_message [n, m],
    p_action [n, m, k] or [n, m, a, v] (factorised: mean over the a factors). Rows without a
    probe (NaN in p_message) are left out first, as `emcomm analyze` does; None when no row
    has a probe."""
    import numpy as np
    pm = np.asarray(p_message, dtype=np.float32)
    pa = np.asarray(p_action, dtype=np.float32)
    if skip_unprobed and pm.ndim == 2:
        keep = ~np.isnan(pm).any(axis=1)
        if not keep.any():
            return None
        pm, pa = pm[keep], pa[keep]
    return _m.cic(pm, pa)


__all__ = ["messages_as_symbols", "rows_as_symbols", "entropy", "mutual_information", "speaker_consistency",
           "instantaneous_coordination", "context_independence", "cic", "topsim", "posdis", "bosdis",
           "mean_length", "symbols_used", "accuracy", "target_accuracy", "sc", "ic", "ci"]
