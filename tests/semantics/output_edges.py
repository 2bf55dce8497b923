"""Output without a final newline, carriage returns, unicode, and stdout/stderr writes mixed."""
import sys

sys.stdout.write("no newline yet")
sys.stdout.write(" ... now\n")
print("progress 1/2", end="\r")
print("progress 2/2")
print("unicode: ∑ ≤ 中文 ✓")
sys.stderr.write("partial stderr ")
sys.stderr.write("line\n")
print("a", "b", sep="-", end="!")
print(file=sys.stderr)
sys.stdout.write("tail without newline")
