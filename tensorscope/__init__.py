"""tensorscope: a terminal step-debugger for PyTorch training loops."""

__version__ = "0.1.0"
