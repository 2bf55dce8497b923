"""sys.exit(3) from inside a function, through a finally block: status 3."""
import sys


def main():
    try:
        print("working")
        sys.exit(3)
    finally:
        print("finally before exit")


main()
