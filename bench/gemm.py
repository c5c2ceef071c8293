"""Is there a faster fp32 matrix product on this CPU than the one onnxruntime uses? (issue 4)

The analysis is bound by MiniLM's fp32 forward pass, and 78% of that is matrix products of the shapes below (a
batch of 512 tokens through the attention projections and the feed-forward layers). This measures, on one thread,
GFLOP/s of the same product through onnxruntime's MLAS (the product's path), numpy's BLAS (OpenBLAS in the
numpy wheels), BLIS (the ``blis`` package spaCy installs) and, when given the path of its library, Intel MKL
(``pip install mkl`` in any environment, then ``--mkl .../lib/libmkl_rt.so.3``).

    python bench/gemm.py [--mkl PATH] [--json]

Best of 5 runs of 20 products per library and shape; the libraries alternate shape by shape.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads OpenBLAS
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from messages import machine  # noqa: E402

SHAPES = [(512, 384, 1152), (512, 384, 384), (512, 384, 1536), (512, 1536, 384)]  # tokens x in x out


def _mlas(w: np.ndarray):
    from onnx import TensorProto, helper, numpy_helper

    from nlp.onnx_embedder import load_onnxruntime  # with its telemetry off, as the product runs it

    ort = load_onnxruntime()

    k, n = w.shape
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "matmul",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, k])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, n])],
                              [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return lambda x, out: session.run(None, {"x": x})


def _mkl(path: str):
    lib = ctypes.CDLL(path)
    lib.MKL_Set_Num_Threads(1)
    sgemm = lib.cblas_sgemm
    p, i = ctypes.c_void_p, ctypes.c_int
    sgemm.argtypes = [i, i, i, i, i, i, ctypes.c_float, p, i, p, i, ctypes.c_float, p, i]

    def product(w: np.ndarray):
        k, n = w.shape
        # row-major (101), no transposes (111)
        return lambda x, out: sgemm(101, 111, 111, len(x), n, k, 1.0, x.ctypes.data, k, w.ctypes.data, n, 0.0,
                                    out.ctypes.data, n)
    return product


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mkl", help="path of libmkl_rt.so from the `mkl` wheel, to compare it too")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    libraries = {"onnxruntime MLAS": _mlas, "numpy BLAS": lambda w: lambda x, out: np.matmul(x, w, out=out)}
    try:
        import blis.py

        libraries["BLIS"] = lambda w: lambda x, out: blis.py.gemm(x, w, out=out, beta=0.0)
    except ImportError:
        pass
    if args.mkl:
        libraries["MKL"] = _mkl(args.mkl)
    rng = np.random.default_rng(0)
    rows = []
    for m, k, n in SHAPES:
        x = rng.standard_normal((m, k)).astype(np.float32)
        w = rng.standard_normal((k, n)).astype(np.float32)
        out = np.empty((m, n), dtype=np.float32)
        row = {"shape": f"{m}x{k}x{n}"}
        for name, make in libraries.items():
            product = make(w)
            product(x, out)
            best = min(_timed(product, x, out) for _ in range(5))
            row[name] = round(2 * m * k * n / best / 1e9, 1)
        rows.append(row)
    result = {"gflops_one_thread": rows, "machine": machine()}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print("GFLOP/s on one thread, best of 5 x 20 products")
    for row in rows:
        print(f"  {row['shape']:>14}: " + ", ".join(f"{name} {v}" for name, v in row.items() if name != "shape"))
    print(f"  machine {result['machine']}")


def _timed(product, x, out, repeats: int = 20) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        product(x, out)
    return (time.perf_counter() - start) / repeats


if __name__ == "__main__":
    main()
