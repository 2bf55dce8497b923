"""asyncio.run of a small coroutine: gather, an async generator and async with."""
import asyncio

import torch


class Resource:
    async def __aenter__(self):
        print("open")
        return self

    async def __aexit__(self, *exc):
        print("close")


async def ticks(n):
    for i in range(n):
        await asyncio.sleep(0)
        yield i


async def double(t):
    await asyncio.sleep(0)
    return t * 2


async def main():
    async with Resource():
        got = [i async for i in ticks(3)]
    results = await asyncio.gather(double(torch.ones(1)), double(torch.ones(2)))
    return got, [r.tolist() for r in results]


print(asyncio.run(main()))
