"""Checkpointed partition scans over the emulator: resume after a crash, exactly/at least once."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from voucherify_async import AsyncVoucherify, CustomerPartition
from voucherify_async.checkpoints import (
    Checkpoint,
    CheckpointError,
    MemoryCheckpointStore,
    partition_fingerprint,
    scan_partition,
)
from voucherify_async.contrib.redis import RedisCheckpointStore
from voucherify_async.contrib.sqlite import SQLiteSink
from voucherify_async.emulator import Emulator
from voucherify_async.models import Customer

from .redis_server import RedisServer

N = 95  # customers; pages of 10


class Crash(Exception):
    pass


class CrashingSQLiteSink(SQLiteSink):
    """Dies right after committing page number ``crash_at`` of this process (the worst moment
    for a sink whose checkpoint is saved separately)."""

    def __init__(self, path: Path, crash_at: int | None) -> None:
        super().__init__(path)
        self.crash_at = crash_at
        self.pages = 0

    async def write(self, key: str, customers: Sequence[Customer], checkpoint: bytes) -> None:
        self.pages += 1
        await super().write(key, customers, checkpoint)
        if self.pages == self.crash_at:
            raise Crash


class ListSink:
    """An at-least-once sink: a list; `store.save` fails once after page ``crash_at``."""

    def __init__(self) -> None:
        self.got: list[str] = []

    async def write(self, key: str, customers: Sequence[Customer], checkpoint: bytes) -> None:
        self.got.extend(c.id for c in customers)


class FlakyStore(MemoryCheckpointStore):
    def __init__(self, crash_at: int) -> None:
        super().__init__()
        self.saves = 0
        self.crash_at = crash_at

    async def save(self, key: str, checkpoint: bytes) -> None:
        self.saves += 1
        if self.saves == self.crash_at:
            raise Crash
        await super().save(key, checkpoint)


async def parts(client: AsyncVoucherify, emu: Emulator, n: int) -> list[CustomerPartition]:
    await emu.seed_customers(N, same_created_at=3)
    return await client.customers.partition(n)


async def test_crash_mid_partition_resumes_exactly_once(
    voucherify_client: AsyncVoucherify, voucherify_emulator: Emulator, tmp_path: Path
) -> None:
    partitions = await parts(voucherify_client, voucherify_emulator, 2)
    db = tmp_path / "sink.db"
    first = CrashingSQLiteSink(db, crash_at=4)
    with pytest.raises(Crash):
        await scan_partition(voucherify_client, partitions[0], first, limit=10)
    raw = await first.load(f"{partition_fingerprint(partitions[0])}:0")
    assert raw is not None
    saved = Checkpoint.decode(raw, key="k", partition=partition_fingerprint(partitions[0]))
    assert saved.pages == 4 and first.count() == saved.items > 0  # committed together
    again = CrashingSQLiteSink(db, crash_at=None)
    resumed = await scan_partition(voucherify_client, partitions[0], again, limit=10)
    assert resumed.resumed and resumed.pages < 4 + 2  # did not start over
    other = await scan_partition(voucherify_client, partitions[1], again, limit=10)
    assert not other.resumed
    assert again.count() == N
    assert again.rewritten() == 0  # every customer written exactly once
    assert resumed.total_items + other.total_items == N
    # Done partitions cost nothing when run again.
    done = await scan_partition(voucherify_client, partitions[0], again, limit=10)
    assert done.pages == 0 and done.total_items == resumed.total_items


async def test_separate_store_is_at_least_once_at_page_granularity(
    voucherify_client: AsyncVoucherify, voucherify_emulator: Emulator
) -> None:
    (whole,) = await parts(voucherify_client, voucherify_emulator, 1)
    store, sink = FlakyStore(crash_at=3), ListSink()
    with pytest.raises(Crash):  # page 3 reached the sink, its checkpoint was not saved
        await scan_partition(voucherify_client, whole, sink, store=store, key="k", limit=10)
    result = await scan_partition(voucherify_client, whole, sink, store=store, key="k", limit=10)
    assert result.resumed
    assert set(sink.got) == {c.id async for c in voucherify_client.customers.list()}
    repeated = len(sink.got) - len(set(sink.got))
    assert 0 < repeated <= 10  # one page twice, nothing lost


async def test_a_checkpoint_of_another_partition_is_refused(
    voucherify_client: AsyncVoucherify, voucherify_emulator: Emulator, tmp_path: Path
) -> None:
    partitions = await parts(voucherify_client, voucherify_emulator, 2)
    store = MemoryCheckpointStore()
    sink = ListSink()
    with pytest.raises(Crash):
        await scan_partition(
            voucherify_client,
            partitions[0],
            sink,
            store=FlakyStoreAfter(store, 2),
            key="k",
            limit=10,
        )
    saved = store.data["k"]
    for other in (
        partitions[1],  # another window
        CustomerPartition(
            index=0,
            count=1,
            start=partitions[0].start,
            end=partitions[0].end,
            filters={"city": "Warsaw"},
        ),  # another filter
        CustomerPartition(
            index=0,
            count=1,
            start=partitions[0].start,
            end=partitions[0].end,
            filters={"order": "-created_at"},
        ),  # another order
    ):
        with pytest.raises(CheckpointError, match="belongs to another partition"):
            await scan_partition(voucherify_client, other, sink, store=store, key="k")
    assert store.data["k"] == saved  # left as it was: never restarted from zero

    for corrupted, message in (
        (b"\x00garbage", "is not a checkpoint"),
        (b'{"partition": "x", "pages": -1}', "is not a checkpoint"),
        (
            Checkpoint(partition=partition_fingerprint(partitions[0]), position="!!").encode(),
            "no readable scan position",
        ),
    ):
        store.data["bad"] = corrupted
        with pytest.raises(CheckpointError, match=message):
            await scan_partition(voucherify_client, partitions[0], sink, store=store, key="bad")
    # A position past the window's end would skip customers: refused.
    late = await scan_partition_position_of(voucherify_client, partitions[1])
    store.data["ahead"] = Checkpoint(
        partition=partition_fingerprint(partitions[0]), position=late
    ).encode()
    with pytest.raises(CheckpointError, match="refusing to skip ahead"):
        await scan_partition(voucherify_client, partitions[0], sink, store=store, key="ahead")


class FlakyStoreAfter:
    """Saves into ``store``, then fails on save number ``crash_at``."""

    def __init__(self, store: MemoryCheckpointStore, crash_at: int) -> None:
        self.store, self.crash_at, self.saves = store, crash_at, 0

    async def load(self, key: str) -> bytes | None:
        return await self.store.load(key)

    async def save(self, key: str, checkpoint: bytes) -> None:
        self.saves += 1
        if self.saves == self.crash_at:
            raise Crash
        await self.store.save(key, checkpoint)


async def scan_partition_position_of(client: AsyncVoucherify, part: CustomerPartition) -> str:
    pager = client.customers.list(**part.list_arguments(), limit=10)
    async for _ in pager:
        break
    assert pager.position is not None
    return pager.position


async def test_sink_without_a_store_is_refused(
    voucherify_client: AsyncVoucherify, voucherify_emulator: Emulator
) -> None:
    (whole,) = await parts(voucherify_client, voucherify_emulator, 1)
    with pytest.raises(TypeError, match="pass store="):
        await scan_partition(voucherify_client, whole, ListSink())


async def test_redis_checkpoint_store_round_trip(
    voucherify_client: AsyncVoucherify, voucherify_emulator: Emulator, redis_server: RedisServer
) -> None:
    (whole,) = await parts(voucherify_client, voucherify_emulator, 1)
    store, sink = RedisCheckpointStore(redis_server.url), ListSink()
    result = await scan_partition(voucherify_client, whole, sink, store=store, key="r", limit=50)
    assert result.total_items == N and len(sink.got) == N
    raw = await store.load("r")
    assert (
        raw is not None
        and Checkpoint.decode(raw, key="r", partition=partition_fingerprint(whole)).done
    )
    await store.aclose()


async def test_checkpoint_store_down_fails_clearly_before_any_page(
    voucherify_client: AsyncVoucherify, voucherify_emulator: Emulator
) -> None:
    from .redis_server import free_port

    (whole,) = await parts(voucherify_client, voucherify_emulator, 1)
    store = RedisCheckpointStore(f"redis://:secret@127.0.0.1:{free_port()}/0")
    sink = ListSink()
    with pytest.raises(Exception, match="checkpoint store cannot reach Redis") as caught:
        await scan_partition(voucherify_client, whole, sink, store=store, key="k")
    assert "secret" not in str(caught.value) and sink.got == []
    await store.aclose()
