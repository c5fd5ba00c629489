r"""Quantized self-drafters: the target with its decoder weights rounded to fewer bits.

Weight-only group quantization, simulated by quantize-dequantize: each row of a linear layer's
weight is cut into groups of ``group`` consecutive inputs, and every group is rounded to
:math:`2^b` evenly spaced levels between its minimum and maximum (asymmetric min-max, the scheme
of GGUF's Q4_1):

.. math:: \hat w = \ell + s \cdot \operatorname{round}((w - \ell) / s), \qquad
          s = (h - \ell) / (2^b - 1), \ \ell = \min_{\text{group}} w, \ h = \max_{\text{group}} w

A group whose entries are all equal is kept as is. Only the linear layers of the decoder blocks
are rounded; the embedding (tied to the output head in SmolLM2) stays as loaded. The result is
an ordinary float model of the target's dtype whose logits differ from the target's by the
rounding, which is how a cheaper quantized copy of the target would draft.

:func:`int8_dynamic` is the other kind: torch's dynamic int8 quantization of the decoder's
linear layers (per-tensor weights, activations quantized on the fly), which also runs faster
on a CPU.
"""

import copy

__all__ = ["int8_dynamic", "quantize_dequantize", "quantize_weights"]


def _check_bits_group(bits, group):
    for name, value, low in (("bits", bits, 1), ("group", group, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    if bits > 16:
        raise ValueError(f"bits must be at most 16, got {bits}")


def quantize_dequantize(weight, bits, group):
    """The rounded copy :math:`\\hat w` of a 2-D weight tensor (same shape and dtype).

    ``weight.shape[1]`` must be a multiple of ``group``. Rounding happens in float32 (float64
    input stays float64).

    Examples
    --------
    >>> import torch
    >>> quantize_dequantize(torch.tensor([[0.0, 0.1, 0.7, 1.0]]), 1, 4).tolist()
    [[0.0, 0.0, 1.0, 1.0]]
    """
    import torch

    _check_bits_group(bits, group)
    if weight.ndim != 2:
        raise ValueError(f"weight must be 2-D, got shape {tuple(weight.shape)}")
    rows, cols = weight.shape
    if cols % group:
        raise ValueError(f"input width {cols} is not a multiple of the group size {group}")
    work = weight.to(torch.float64 if weight.dtype == torch.float64 else torch.float32)
    g = work.reshape(rows, cols // group, group)
    low = g.amin(-1, keepdim=True)
    step = (g.amax(-1, keepdim=True) - low) / (2**bits - 1)
    flat = step == 0  # a constant group: keep it (no division by zero)
    step = torch.where(flat, torch.ones_like(step), step)
    levels = torch.clamp(torch.round((g - low) / step), 0, 2**bits - 1)
    out = torch.where(flat, g, low + step * levels)
    return out.reshape(rows, cols).to(weight.dtype)


def _decoder_linears(model):
    import torch

    layers = getattr(getattr(model, "model", None), "layers", None)
    if layers is None:
        raise TypeError(f"quantized drafters need a decoder with .model.layers; got {type(model)}")
    return [m for m in layers.modules() if isinstance(m, torch.nn.Linear)]


def quantize_weights(model, bits, group=32):
    """A copy of ``model`` whose decoder linear weights are :func:`quantize_dequantize`-d.

    The copy shares nothing with ``model`` (a deep copy); ``model`` is not changed.
    """
    import torch

    _check_bits_group(bits, group)
    draft = copy.deepcopy(model)
    with torch.no_grad():
        for linear in _decoder_linears(draft):
            linear.weight.copy_(quantize_dequantize(linear.weight, bits, group))
    draft.eval()
    return draft


def int8_dynamic(model):
    """A copy of ``model`` with the decoder's linear layers in torch's dynamic int8
    quantization (the embedding and output head stay float, as in :func:`quantize_weights`).

    Needs a float32 CPU model (torch's quantized kernels are CPU-only).
    """
    import warnings

    import torch

    _decoder_linears(model)
    if model.dtype != torch.float32 or model.device.type != "cpu":
        raise ValueError(
            f"int8 dynamic quantization needs a float32 model on the CPU, "
            f"got {model.dtype} on {model.device}"
        )
    draft = copy.deepcopy(model)
    with warnings.catch_warnings():  # torch marks the API deprecated (moving to torchao)
        warnings.simplefilter("ignore")
        torch.ao.quantization.quantize_dynamic(
            draft.model.layers, {torch.nn.Linear}, dtype=torch.qint8, inplace=True
        )
    draft.eval()
    return draft
