"""Threads started by the script: results joined, the script itself is the main thread."""
import threading

import torch

results = {}
lock = threading.Lock()


def work(i):
    value = torch.full((2,), float(i)).sum().item()
    with lock:
        results[i] = value


threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(sorted(results.items()))
print(threading.current_thread() is threading.main_thread(), threading.active_count())
