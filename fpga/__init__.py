"""Tessera on FPGAs: UART, host bridge, board tops and bitstream builds (docs/fpga.md)."""
