"""Edge defects found in review: the drain ends every wait even when one is already expiring.
(The raw-socket ones, 431 for a head in one read and the body refusals' headers, are in
test_edge_limits.py beside the bounds they fix.)"""

import asyncio

import pytest

from gateway.edge.drain import Drain


def test_the_drain_ends_live_waits_when_another_is_already_expiring():
    async def scenario() -> None:
        drain = Drain()
        loop = asyncio.get_running_loop()
        expiring_task = asyncio.create_task(drain.within(3600, loop.create_future()))
        await asyncio.sleep(0)
        (expiring,) = drain._waits
        live_task = asyncio.create_task(drain.within(3600, loop.create_future()))
        await asyncio.sleep(0)
        (live,) = drain._waits - {expiring}
        # Its timeout fires on the next turn of the loop; its task resumes only on the one after.
        expiring.reschedule(loop.time())
        await asyncio.sleep(0)
        assert expiring.expired()
        assert not expiring_task.done()

        drain._end()

        assert drain.over
        deadline = live.when()
        assert deadline is not None
        assert deadline <= loop.time()
        for task in (expiring_task, live_task):
            with pytest.raises(TimeoutError):
                await task

    asyncio.run(scenario())
