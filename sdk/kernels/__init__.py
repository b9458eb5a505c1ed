"""Kernels for the mesh, each a module that keeps its PE program, layout, host flow and decode
together, written against the SDK like any user kernel:

    gemm     distributed GEMM (SUMMA with the host as panel owner), f16 -> f32 and f32
    gemv     sparse GEMV: only the nonzeros of x travel, each one starts an fmacs
    mathlib  device-code routines (exp, rcp, rsqrt; f32/f16) as lines or as an includable macro library
    row_echo every wavelet into a row comes back + 1 from every PE: the front-door smoke program
    decode   the transformer decode (decode_model: its shapes, fit and cost model)
    common   what the kernels share: KernelError, operand checks, test matrices

Not kernels, and so elsewhere: the GEMM / GEMV runs with test data (sdk/cases.py), their pictures
and energy (sdk/observe.py), the PGO training workload (sdk/pgo_training.py), the decode's wafer
projection (bench/decode_projection.py).
"""
