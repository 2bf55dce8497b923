"""`python -m benchmarks` (from the repository's root) runs every benchmark: see run.py."""

from benchmarks.run import main

main()
