"""The local driver (docs/drivers.md, ADR 011): a bundle's commands and runtime instances as processes on this host.

Provision and decommission run the bundle's command in a fresh folder with
the bundle unpacked, and report its lines as progress. A runtime instance is
the bundle's `serve` command on a free 127.0.0.1 port, HEALTHY once its
health check passes; it outlives the worker, and any worker on this host
(`ROLLOUT_HOST_ID`, the same data dir) can check or stop it later.
"""

from __future__ import annotations

import asyncio
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

from server.app import bundles
from server.config import Settings
from server.domain.bundles import Command, Health, Manifest
from server.domain.errors import InvalidArgument
from server.domain.models import Release, RuntimeInstance
from workers.drivers import local_commands, local_inputs, local_serve
from workers.drivers.base import DriverError, Started, Step


def _manifest(release: Release | None) -> Manifest | None:
    return Manifest.from_json(release.manifest) if release is not None and release.manifest else None


class LocalDriver:
    def __init__(self, data_dir: Path, host_id: str, stop_grace_seconds: float = 10.0) -> None:
        self.root = data_dir.absolute() / "local"
        self.host_id = host_id
        self.grace = stop_grace_seconds
        # Runtime instances this worker started: polled so that one that exits is collected, not a zombie.
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalDriver:
        return cls(settings.data_dir, settings.host_id, settings.stop_grace_seconds)

    async def provision(self, step: Step) -> None:
        await self._run("provision", step)

    async def decommission(self, step: Step) -> None:
        await self._run("decommission", step)

    async def _run(self, name: str, step: Step) -> None:
        manifest = _manifest(step.release)
        command = manifest.step(name) if manifest else None
        if command is None or step.release is None:
            return  # a plain artifact, or a bundle without this step: nothing to run
        (self.root / "steps").mkdir(mode=0o700, parents=True, exist_ok=True)
        where = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.root / "steps"))
        try:
            await self._unpack(step, where / "bundle")
            snapshot = where / "snapshot.json"
            local_inputs.write_snapshot(snapshot, local_inputs.snapshot(step, name))
            env = local_inputs.environment(step, name, where, snapshot)
            await step.progress(f"{name}: {shlex.join(command.argv)}")
            await local_commands.run(
                name,
                command.argv,
                cwd=where / "bundle",
                env=env,
                stdin=snapshot,
                timeout=command.timeout_seconds,
                grace=self.grace,
                progress=step.progress,
                secrets=step.secrets.values(),
            )
        finally:
            await asyncio.shield(asyncio.to_thread(shutil.rmtree, where, True))

    async def _unpack(self, step: Step, into: Path) -> None:
        release = step.release
        assert release is not None
        try:
            if not await bundles.unpack(step.artifacts, release.artifact_uri, into):
                raise DriverError(f"the artifact of release v{release.version} is not a bundle (.tar.gz)")
        except FileNotFoundError:
            raise DriverError(f"ARTIFACT_GONE: the artifact of release v{release.version} is gone from storage") from None
        except InvalidArgument as exc:
            raise DriverError(f"the artifact of release v{release.version} cannot be unpacked: {exc.violations[0].description}") from None

    def _serve(self, step: Step) -> tuple[Command, Health]:
        manifest = _manifest(step.release)
        if manifest is None or manifest.serve is None or manifest.health is None:
            version = step.release.version if step.release else "?"
            raise DriverError(f"RELEASE_NOT_SERVABLE: release v{version} has no [serve] step")
        return manifest.serve, manifest.health

    async def start_runtime_instance(self, runtime: RuntimeInstance, step: Step) -> Started:
        serve, health = self._serve(step)
        self._collect()
        try:
            record = local_serve.read(self.root, runtime.id)
            if record is None or not record.alive():
                record = await self._launch(runtime, step, serve, health)
            # else a repeat (the worker that started it died while it booted): the same process, not a second one
            await local_serve.until_healthy(self.root, record, serve, step.secrets.values())
            return record.started()
        except BaseException:
            # Failed, timed out or cancelled: nothing of this attempt may keep running.
            await asyncio.shield(local_serve.stop(self.root, runtime.id, runtime.pid, runtime.pid_start, 0))
            self._collect()
            raise

    async def _launch(self, runtime: RuntimeInstance, step: Step, serve: Command, health: Health) -> local_serve.Record:
        """A fresh folder with the bundle unpacked, and the serve command started in it on a free port."""
        await local_serve.stop(self.root, runtime.id, runtime.pid, runtime.pid_start, self.grace)  # leftovers
        where = local_serve.folder(self.root, runtime.id)
        await self._unpack(step, where / "bundle")
        (where / "tmp").mkdir(mode=0o700)
        snapshot = where / "snapshot.json"
        local_inputs.write_snapshot(snapshot, local_inputs.snapshot(step, "serve", runtime.id))
        port = local_serve.free_port()
        env = local_inputs.environment(
            step, "serve", where / "tmp", snapshot, PORT=str(port), ROLLOUT_RUNTIME_INSTANCE_ID=runtime.id
        )
        child = local_serve.launch(where, serve.argv, env, snapshot)
        self._children[child.pid] = child
        return local_serve.record_started(self.root, runtime.id, self.host_id, port, child.pid, health)

    async def healthy(self, runtime: RuntimeInstance) -> bool:
        self._collect()
        return await local_serve.healthy(self.root, runtime.id)

    async def stop_runtime_instance(self, runtime: RuntimeInstance) -> None:
        await local_serve.stop(self.root, runtime.id, runtime.pid, runtime.pid_start, self.grace)
        self._collect()

    def reaches(self, runtime: RuntimeInstance) -> bool:
        # Not yet located (still STARTING): if it runs at all, its folder says so on the host that started it.
        return runtime.host in ("", self.host_id)

    async def inventory(self) -> list[str]:
        self._collect()
        return local_serve.inventory(self.root)

    def _collect(self) -> None:
        for pid, child in list(self._children.items()):
            if child.poll() is not None:
                del self._children[pid]
