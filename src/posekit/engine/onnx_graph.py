"""ONNX graph rewrites for int8 quantization, and a count of a graph's int8 operators.

`fold_batch_norm` folds an inference-mode ``BatchNormalization`` that follows a ``Gemm`` into
the Gemm's weights and bias; `gemm_to_matmul` rewrites a ``Gemm`` with constant weights as
``MatMul`` (+ ``Add``), the form ONNX Runtime's dynamic quantizer takes; `int8_op_counts`
counts the `INT8_OPS` nodes of a model. The rewrites change an ``onnx.ModelProto`` in place.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["INT8_OPS", "fold_batch_norm", "gemm_to_matmul", "int8_op_counts"]

#: Operators that carry int8 arithmetic in a quantized graph (QDQ, QOperator or dynamic).
INT8_OPS = (
    "DequantizeLinear",
    "QuantizeLinear",
    "DynamicQuantizeLinear",
    "MatMulInteger",
    "QLinearMatMul",
    "QGemm",
    "QLinearAdd",
)


def _attrs(node: Any) -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _remove_unused_initializers(model: Any) -> None:
    graph = model.graph
    used = {name for node in graph.node for name in node.input}
    used |= {o.name for o in graph.output}
    kept = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)


def fold_batch_norm(model: Any) -> int:
    """Fold every inference-mode ``BatchNormalization`` that follows a ``Gemm`` into it, in
    place.

    Folded when the Gemm has constant weights and bias (initializers), ``transA = 0``, its
    output feeds only the BatchNormalization, and the BN's scale, bias, mean and variance are
    constants. Per output unit n: ``s = gamma / sqrt(var + eps)``,
    ``W'[n] = alpha W[n] s``, ``b' = (beta_gemm C - mean) s + beta_bn``.

    Args:
        model: an ``onnx.ModelProto``.

    Returns:
        The number of BatchNormalization nodes folded.
    """
    from onnx import helper, numpy_helper

    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    uses: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            uses[name] = uses.get(name, 0) + 1
    for out in graph.output:
        uses[out.name] = uses.get(out.name, 0) + 1

    replace: dict[int, Any] = {}  # id(gemm) → folded gemm
    drop: set[int] = set()  # id(bn)
    for bn in graph.node:
        if bn.op_type != "BatchNormalization" or len(bn.output) != 1:
            continue
        gemm = producer.get(bn.input[0])
        if gemm is None or gemm.op_type != "Gemm" or uses.get(gemm.output[0], 0) != 1:
            continue
        ga, ba = _attrs(gemm), _attrs(bn)
        if ga.get("transA", 0) or ba.get("training_mode", 0):
            continue
        if gemm.input[1] not in inits or (len(gemm.input) > 2 and gemm.input[2] not in inits):
            continue
        if not all(name in inits for name in bn.input[1:5]):
            continue
        gamma, beta, mean, var = (
            numpy_helper.to_array(inits[n]).astype(np.float64) for n in bn.input[1:5]
        )
        w = numpy_helper.to_array(inits[gemm.input[1]])
        dtype = w.dtype
        trans_b = bool(ga.get("transB", 0))
        w = ga.get("alpha", 1.0) * w.astype(np.float64)  # (N, K) with transB, else (K, N)
        n_out = w.shape[0] if trans_b else w.shape[1]
        if gamma.shape != (n_out,):
            continue
        c = np.zeros(n_out)
        if len(gemm.input) > 2 and gemm.input[2]:
            c_const = numpy_helper.to_array(inits[gemm.input[2]]).astype(np.float64)
            if c_const.size not in (1, n_out):
                continue  # a (M, N) bias: not a per-unit bias
            c = ga.get("beta", 1.0) * np.broadcast_to(c_const.reshape(-1), (n_out,))
        s = gamma / np.sqrt(var + ba.get("epsilon", 1e-5))  # (N,)
        w = w * (s[:, None] if trans_b else s[None, :])
        b = (c - mean) * s + beta
        w_name, b_name = f"{gemm.input[1]}_bn_folded", f"{bn.output[0]}_bn_folded_bias"
        graph.initializer.extend(
            [
                numpy_helper.from_array(w.astype(dtype), w_name),
                numpy_helper.from_array(b.astype(dtype), b_name),
            ]
        )
        replace[id(gemm)] = helper.make_node(
            "Gemm",
            [gemm.input[0], w_name, b_name],
            [bn.output[0]],
            name=gemm.name or bn.name,
            transB=int(trans_b),
        )
        drop.add(id(bn))
    nodes = [replace.get(id(n), n) for n in graph.node if id(n) not in drop]
    del graph.node[:]
    graph.node.extend(nodes)
    _remove_unused_initializers(model)
    return len(drop)


def gemm_to_matmul(model: Any) -> int:
    """Rewrite, in place, every ``Gemm`` with constant weights as ``MatMul`` (+ ``Add`` of its
    bias): the dynamic quantizer quantizes MatMul only.

    Returns:
        The number of Gemm nodes rewritten.
    """
    from onnx import helper, numpy_helper

    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    nodes, count = [], 0
    for node in graph.node:
        a = _attrs(node) if node.op_type == "Gemm" else {}
        if (
            node.op_type != "Gemm"
            or a.get("transA", 0)
            or node.input[1] not in inits
            or (len(node.input) > 2 and node.input[2] and node.input[2] not in inits)
        ):
            nodes.append(node)
            continue
        w = numpy_helper.to_array(inits[node.input[1]])
        w = a.get("alpha", 1.0) * (w.T if a.get("transB", 0) else w)  # (K, N)
        w_name = f"{node.input[1]}_kn"
        graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(w, w.dtype), w_name))
        name = node.name or node.output[0]
        if len(node.input) > 2 and node.input[2]:
            bias = a.get("beta", 1.0) * numpy_helper.to_array(inits[node.input[2]])
            b_name = f"{node.input[2]}_scaled" if a.get("beta", 1.0) != 1.0 else node.input[2]
            if b_name != node.input[2]:
                graph.initializer.append(numpy_helper.from_array(bias, b_name))
            mm = f"{node.output[0]}_matmul"
            nodes.append(helper.make_node("MatMul", [node.input[0], w_name], [mm], name=name))
            nodes.append(
                helper.make_node("Add", [mm, b_name], [node.output[0]], name=f"{name}_bias")
            )
        else:
            nodes.append(
                helper.make_node("MatMul", [node.input[0], w_name], [node.output[0]], name=name)
            )
        count += 1
    del graph.node[:]
    graph.node.extend(nodes)
    _remove_unused_initializers(model)
    return count


def int8_op_counts(path_or_model: Any) -> dict[str, int]:
    """How many nodes of each `INT8_OPS` type a model has (missing types left out)."""
    import onnx

    model = path_or_model
    if not isinstance(model, onnx.ModelProto):
        model = onnx.load_model(str(path_or_model), load_external_data=False)
    counts: dict[str, int] = {}
    for node in model.graph.node:
        if node.op_type in INT8_OPS:
            counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts
