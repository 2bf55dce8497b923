"""input() with an empty stdin raises EOFError, which the script catches."""
try:
    answer = input("your name? ")
except EOFError:
    answer = "nobody"
print()
print("hello", answer)
