"""FloatGraph + HwConfig → FixedGraph + QuantReport, installed as ``neuroport.quantization``."""
