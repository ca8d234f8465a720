"""`python -m chaos [--short] [--duration S] [--seed N] [--json PATH]`: the fault campaign: faults under load, then the invariants.

Starts its own PostgreSQL, Valkey, 2 servers and 2–3 workers on loopback,
puts load on them while killing workers, servers, PostgreSQL and Valkey,
then checks the invariants, prints the figures and writes them as JSON.
Exit code 0 when every invariant holds, 1 when one does not, 2 when the
campaign itself could not run, 130 when interrupted. Everything it started
is stopped on the way out, whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import dataclasses
import random
import shutil
import signal
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import FrameType
from typing import Any

from chaos import plan
from chaos.calls import Caller, Clock, Codes, new_channels
from chaos.checks import check
from chaos.faults import Faults, Storm, dsn
from chaos.load import Client, Ledger
from chaos.report import table, write
from chaos.setup import admin_tokens, prepare
from chaos.stack import Stack

RESULTS = Path(__file__).resolve().parent / "results"
ORGANIZATIONS = ["chaos-a", "chaos-b"]
SERVERS = 2
OBSERVERS = 2  # of the clients, these follow instances with WatchInstance
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def say(message: str) -> None:
    print(f"chaos: {message}", file=sys.stderr, flush=True)


def start(stack: Stack, workers: int) -> dict[str, str]:
    """Backends, schema, one admin per organization, servers and workers; the admins' tokens."""
    from server.config import ArtifactSettings
    from server.migrate import migrate

    say(f"starting PostgreSQL and Valkey in {stack.workdir}")
    stack.start_backends()
    migrate(stack.database_url, ArtifactSettings.from_env(stack.env()))
    tokens = admin_tokens(stack.database_url, ORGANIZATIONS)
    with ThreadPoolExecutor(SERVERS + workers) as pool:  # they boot side by side
        started = [pool.submit(stack.start_server, slot) for slot in range(SERVERS)]
        started += [pool.submit(stack.start_worker) for _ in range(workers)]
        for future in started:
            future.result()
    say(f"servers at {', '.join(stack.addresses)}; {workers} workers")
    return tokens


async def campaign(stack: Stack, sizes: plan.Sizes, seed: int, tokens: dict[str, str], out: Path,
                   started: float) -> int:
    rng = random.Random(seed)
    clock = Clock()
    channels = new_channels(stack.addresses)
    faults: Faults | None = None
    codes = Codes(clock, lambda: faults.phase() if faults else "setup")

    def caller(org: str, home: int) -> Caller:
        return Caller(channels, tokens[org], codes, random.Random(rng.getrandbits(64)), home)

    storm = Storm(source=await prepare({org: caller(org, 0) for org in ORGANIZATIONS}))
    faults = Faults(stack, sizes, ORGANIZATIONS, clock, seed, [caller(ORGANIZATIONS[0], h) for h in range(SERVERS)], storm)
    ledger, stop, monitor_stop = Ledger(), asyncio.Event(), asyncio.Event()
    clients = [
        Client(n, ORGANIZATIONS[n % 2], caller(ORGANIZATIONS[n % 2], n % SERVERS), ledger,
               random.Random(rng.getrandbits(64)), stop, observer=n >= sizes.clients - OBSERVERS)
        for n in range(sizes.clients)
    ]
    schedule = plan.schedule(sizes, SERVERS, seed)
    say(f"load: {sizes.clients} clients for {sizes.duration:.0f}s; {len(schedule)} faults (seed {seed});"
        f" setup took {time.monotonic() - started:.0f}s")
    clock.started = time.monotonic()
    load = [asyncio.create_task(client.run()) for client in clients]
    monitor = asyncio.create_task(faults.watch_for_crashes(monitor_stop))
    try:
        await faults.run(schedule)
        await asyncio.sleep(max(0.0, sizes.duration - clock()))
    finally:
        stop.set()
    load_seconds = clock()
    say(f"load stopped after {load_seconds:.0f}s; waiting up to {sizes.drain_seconds:.0f}s for approved work to end")
    drain_seconds = await _drain(stack, load, sizes.drain_seconds)
    client_errors = [t.exception() for t in load if not t.cancelled() and t.exception() is not None]
    for error in client_errors[:3]:
        traceback.print_exception(error)
    monitor_stop.set()
    await monitor
    if storm.approved:
        ledger.approved[storm.rollback_ids[0]] = ORGANIZATIONS[0]
    say("checking the invariants")
    verifiers = {org: caller(org, 0) for org in ORGANIZATIONS}
    logs = {
        "postgres": [stack.postgres_log],
        "server": [p.log for p in stack.processes if p.name.startswith("server")],
        "worker": [p.log for p in stack.processes if p.name == "worker"],
    }
    interrupted = [d for f in faults.done for d in f.get("running", ())]
    result = await check(dsn(stack.database_url), ORGANIZATIONS, ledger, storm, codes, verifiers, logs,
                         faults.crashes, interrupted)
    result.figures["client_errors"] = len(client_errors)
    result.figures["ops"] = dict(sorted(ledger.ops.items()))
    for _, channel in channels:
        await channel.close()
    run: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "seed": seed, "sizes": dataclasses.asdict(sizes),
        "clients": sizes.clients,
        "servers": SERVERS, "workers": sizes.workers, "load_seconds": round(load_seconds, 1),
        "drain_seconds": round(drain_seconds, 1), "seconds": round(time.monotonic() - started, 1),
        "faults": faults.done, "crashes": faults.crashes,
    }
    print(table(run, result))
    write(out, run, result)
    say(f"wrote {out}")
    return 0 if result.passed else 1


async def _interruptible(stack: Stack, campaign: Any) -> int:
    """Run the campaign; SIGINT, SIGTERM or SIGHUP cancel it (and raise KeyboardInterrupt here).

    A signal the parent ignores (a background job's SIGINT) stays ignored.
    """
    loop = asyncio.get_running_loop()
    task: asyncio.Task[int] = asyncio.ensure_future(campaign)
    got: list[int] = []

    def stop(sig: int) -> None:
        got.append(sig)
        stack.stopping = True
        task.cancel()

    handled = [sig for sig in _STOP_SIGNALS if signal.getsignal(sig) is not signal.SIG_IGN]
    for sig in handled:
        loop.add_signal_handler(sig, stop, sig)
    try:
        return await task
    except asyncio.CancelledError:
        if got:
            raise KeyboardInterrupt from None
        raise
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)


async def _drain(stack: Stack, load: list[asyncio.Task[None]], seconds: float) -> float:
    """Let clients finish what they were doing and the workers what was approved; seconds it took."""
    import asyncpg

    loop = asyncio.get_running_loop()
    begun = loop.time()
    deadline = begun + seconds
    await asyncio.wait(load, timeout=seconds)
    while loop.time() < deadline:
        try:
            conn = await asyncpg.connect(dsn(stack.database_url), timeout=5)
            try:
                active = await conn.fetchval(
                    "SELECT count(*) FROM deployments WHERE status IN ('PENDING', 'RUNNING')"
                    " AND organization_id = ANY($1::text[])", ORGANIZATIONS)
            finally:
                await conn.close()
        except (OSError, asyncpg.PostgresError, TimeoutError):
            active = -1
        if active == 0:
            break
        await asyncio.sleep(0.5)
    for task in load:
        task.cancel()
    await asyncio.gather(*load, return_exceptions=True)
    return loop.time() - begun


def _copy_logs(stack: Stack, out: Path) -> None:
    """The process logs and PostgreSQL's, next to the JSON: the evidence outlives the stack."""
    target = out.parent / f"{out.stem}-logs"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for process in stack.processes:
        if process.log.exists():
            shutil.copy(process.log, target / process.log.name)
    if stack.pg is not None and stack.postgres_log.exists():
        shutil.copy(stack.postgres_log, target / "postgres.log")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true", help="the CI version: under a minute, fewer faults")
    parser.add_argument("--duration", type=float, help="seconds of load (default 180; 20 with --short)")
    parser.add_argument("--seed", type=int, help="seed of the schedule and the load (default: random, printed)")
    parser.add_argument("--json", type=Path, default=RESULTS / "latest.json", help="where to write the figures")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (data and logs) at the end")
    args = parser.parse_args()
    sizes = plan.SHORT if args.short else plan.FULL
    if args.duration:
        sizes = dataclasses.replace(sizes, duration=args.duration)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 1_000_000)
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="rollout-chaos-"))
    workdir.chmod(0o755)  # as root, PostgreSQL runs as nobody and keeps its data in here
    stack = Stack(workdir, servers=SERVERS)
    atexit.register(stack.stop_all)

    def interrupt(signum: int, frame: FrameType | None) -> None:
        stack.stopping = True  # threads starting processes give up
        raise KeyboardInterrupt

    for sig in _STOP_SIGNALS:
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, interrupt)  # while setting up; the campaign installs its own
    code = 2
    try:
        tokens = start(stack, sizes.workers)
        code = asyncio.run(_interruptible(stack, campaign(stack, sizes, seed, tokens, args.json, started)))
    except KeyboardInterrupt:
        say("interrupted; stopping everything")
        code = 130
    except Exception:
        traceback.print_exc()
        say("the campaign could not run to its end (exit code 2)")
    finally:
        for sig in _STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not leave a server behind
        stack.stop_all()
        try:
            _copy_logs(stack, args.json)
        except OSError as exc:
            say(f"could not copy the logs: {exc}")
        if args.keep:
            say(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
