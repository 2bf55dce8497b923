"""The tools tensorscope is compared with, each as a wrapper that runs a script the way that tool would."""
