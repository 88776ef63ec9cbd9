"""What one running service holds: the knowledge base, keys, jobs, metrics and a write lock."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from fastapi import Request

from ragkit.settings import Settings
from ragkit.storage.keys import KeyStore
from service import fork_guard, staging
from service.jobs import JobRunner, JobStore
from service.metrics import ServiceMetrics
from service.upload_plan import SYNC_BUDGET_S, IngestPace

if TYPE_CHECKING:
    from ragkit.collection import Collection
    from ragkit.knowledge_base import KnowledgeBase

log = logging.getLogger("ragkit.service")


class ServiceState:
    """Created in the app's lifespan; routes reach it through `state(request)`."""

    def __init__(self, settings: Settings, *, auth: bool, address: str, metrics: ServiceMetrics):
        from ragkit.knowledge_base import KnowledgeBase

        self.settings = settings
        self.auth = auth
        self.address = address
        self.kb: KnowledgeBase = KnowledgeBase(settings)
        self._guard_generator()
        self.keys = KeyStore(self.kb.layout.keys)
        self.jobs = JobRunner(JobStore(self.kb.layout.jobs), on_finish=self._job_finished)
        self.metrics = metrics
        # one writer at a time (uploads, deletes, fine-tunes); reads run alongside
        self.write_lock = threading.Lock()
        self.ready = threading.Event()
        self.warmup_error: str | None = None
        self.pace = IngestPace()  # seconds of ingest work per chunk here: decides sync uploads vs jobs
        self.skipped_collections: dict[str, str] = {}  # name -> why warm-up could not open it
        self._collections: dict[str, Collection] = {}
        self._guard = threading.Lock()

    def start(self) -> None:
        """Hold the home (embedded mode), record what a restart interrupted, warm up in the background."""
        fork_guard.install()  # before the parser processes are first forked
        self.kb.lock_for_writing(
            f"ragkit serve on {self.address}",
            hint=f"While it runs, upload files through its API (POST {self.address}/v1/collections/<c>/documents), "
            "or run a Chroma server (RAGKIT_CHROMA_URL) so several processes can write.",
        )
        interrupted = self.jobs.store.interrupt_unfinished()
        if interrupted:
            log.warning("%d job(s) were interrupted by the last shutdown", interrupted)
        staging.sweep(self.kb.layout)  # uploads and eval sets staged for requests or jobs that died with the last run
        threading.Thread(target=self._warm_up, name="ragkit-warmup", daemon=True).start()

    def _guard_generator(self) -> None:
        """Route every generation through GuardedGenerator, so a generator that dies answers 502 naming
        it; one whose model would run in this process runs in a child process instead."""
        from ragkit.generation import make_generator
        from service.generator_guard import GuardedGenerator, describe_generator
        from service.generator_host import GeneratorProcess, host_target

        description = describe_generator(self.settings)
        target = host_target(self.settings.generator)
        if target is None:
            factory = lambda: make_generator(self.settings)  # noqa: E731
        else:
            factory = lambda: GeneratorProcess(target, self.settings, description)  # noqa: E731
        # the knowledge base creates its generator lazily into this slot; filling it first, with a
        # guard that creates the real one on first use, changes nothing else about when it loads
        self.kb._generator = GuardedGenerator(factory, description)

    def _warm_up(self) -> None:
        """Load the embedder, then open each collection; one that cannot be opened is logged and skipped."""
        try:
            self.kb.embedder.embed_query("warm up")
            pace = self.pace.probe(self.kb.embedder)
            log.info("ingest pace estimated at %.3f s per chunk (uploads expected to take over %.0f s become jobs)", pace, SYNC_BUDGET_S)
        except Exception as e:  # readiness reports it; the server keeps answering what it can
            log.exception("warm-up failed: the embedding model did not load")
            self.warmup_error = f"{type(e).__name__}: {e}"
        try:
            names = self.kb.collections()
        except Exception:
            log.exception("warm-up: the collections could not be listed")
            names = []
        for name in names:
            try:
                self.kb.store(name)
            except Exception as e:  # a bad row (a name no longer valid, a broken index) must not keep the service from ready
                self.skipped_collections[name] = f"{type(e).__name__}: {getattr(e, 'message', e)}"
                log.error("warm-up: collection %r skipped: %s", name, self.skipped_collections[name])
        self.ready.set()

    def collection(self, name: str) -> "Collection":
        """One Collection object per name, so prepared methods are shared by requests."""
        with self._guard:
            if name not in self._collections:
                self._collections[name] = self.kb.collection(name)
            return self._collections[name]

    def forget(self, name: str) -> None:
        with self._guard:
            self._collections.pop(name, None)

    def _job_finished(self, job: dict) -> None:
        self.metrics.jobs.labels(kind=job["kind"], state=job["state"]).inc()
        if job["kind"] == "ingest" and job["result"]:
            self.metrics.count_ingest(job["result"])

    def close(self) -> None:
        self.jobs.shutdown()
        self.kb._generator.close()
        self.jobs.store.close()
        self.keys.close()
        self.kb.close()


def state(request: Request) -> ServiceState:
    return request.app.state.ragkit
