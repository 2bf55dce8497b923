"""multiprocessing as the script sees it: python's default start method, the main process, a worker pool."""
import multiprocessing as mp


def square(x: int) -> int:
    return x * x


if __name__ == "__main__":
    print(mp.get_start_method(), mp.current_process().name, mp.parent_process())
    with mp.Pool(2) as pool:
        print(pool.map(square, range(5)))
