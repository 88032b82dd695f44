"""Stream every customer once with several worker processes, one partition each.

Run it with the credentials (and, for the emulator, the URL) in the environment:
VOUCHERIFY_APP_ID, VOUCHERIFY_APP_TOKEN, VOUCHERIFY_BASE_URL.
"""

import asyncio
import sys
from concurrent.futures import ProcessPoolExecutor

from voucherify_async import AsyncVoucherify, CustomerPartition


def count_partition(data: bytes) -> int:
    """Runs in a worker process: stream one partition and count its customers."""

    async def run() -> int:
        part = CustomerPartition.loads(data)
        count = 0
        async with AsyncVoucherify() as client:  # credentials from the environment
            async for _customer in part.stream(client):
                count += 1  # the real work on each customer goes here
        return count

    return asyncio.run(run())


async def main(workers: int) -> None:
    async with AsyncVoucherify() as client:
        parts = await client.customers.partition(workers)
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        counts = await asyncio.gather(
            *(loop.run_in_executor(pool, count_partition, part.dumps()) for part in parts)
        )
    for part, count in zip(parts, counts, strict=True):
        print(f"partition {part.index}: {count} customers")
    print(f"total: {sum(counts)} customers")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3))
