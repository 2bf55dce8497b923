"""tensorscope's benchmarks: overheads against plain python and the peers, TUI latency, start time, memory."""
