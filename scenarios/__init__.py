"""Bundled teaching scenarios (run `tensorscope list`)."""
