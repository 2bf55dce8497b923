"""KeyboardInterrupt raised in the script: caught once, then uncaught (python dies of SIGINT)."""
# flags: script-error
try:
    raise KeyboardInterrupt
except KeyboardInterrupt:
    print("caught Ctrl+C")
print("then again, uncaught", flush=True)
raise KeyboardInterrupt
