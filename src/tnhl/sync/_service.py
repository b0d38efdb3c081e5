"""The service in one process: intake (uvicorn) + /metrics + the worker pool, over one store."""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import structlog
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from tnhl.highlevel import (
    HighLevelClient,
    RateLimiter,
    RetryPolicy,
)
from tnhl.mapping import MappingConfig
from tnhl.store import FastInbox, SqlStore, StoreUnavailableError
from tnhl.sync._admin import limiter_path, open_settings_store, write_limiter_snapshot
from tnhl.sync._connect import (
    check_secrets,
    highlevel_routes,
    limiter_state,
    talknotes_outs,
    talknotes_routes,
)
from tnhl.sync._dashboard import dashboard_routes
from tnhl.sync._dryrun import DryRuns
from tnhl.sync._errors import SettingsError
from tnhl.sync._executor import Executor
from tnhl.sync._hooks_api import hooks_routes
from tnhl.sync._metrics import SyncMetrics
from tnhl.sync._outbound import OutboundPump, outbound_fold
from tnhl.sync._outcome import Decider
from tnhl.sync._pacing import PacedLimiter
from tnhl.sync._pauses import Pauses
from tnhl.sync._preflight import preflight
from tnhl.sync._readback import CallFn
from tnhl.sync._recipe_actions import RecipeConnection
from tnhl.sync._recipe_engine import RecipeEngine
from tnhl.sync._reconcile import Reconciler, patient
from tnhl.sync._retention import Retention
from tnhl.sync._schedule import RetrySchedule
from tnhl.sync._settings import Settings
from tnhl.sync._switches import switch_recipes
from tnhl.sync._trace import CallTracer
from tnhl.sync._worker import WorkerPool
from tnhl.webhooks import StoredInfo, create_intake_app

__all__ = ["Service"]

log = structlog.get_logger("tnhl.sync")


@dataclass
class Service:
    """Everything `tnhl run` starts. `start()` the workers, mount `app` in a server, `stop()`."""

    settings: Settings
    store: SqlStore
    executor: Executor
    pool: WorkerPool
    app: Starlette
    metrics: SyncMetrics
    limiter: RateLimiter
    clients: list[HighLevelClient]
    inbox: FastInbox | None
    # HighLevel -> TalkNotes, when a connection has an outbound URL.
    pump: OutboundPump | None = None
    reconciler: Reconciler | None = None
    recipes: RecipeEngine | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        client_call: CallFn | None = None,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        mapping: MappingConfig | None = None,
        intake: bool = True,
    ) -> Service:
        """Build the service (`intake=False`: workers only, for `tnhl worker`); a missing
        setting raises SettingsError naming it."""
        if intake:
            check_secrets(settings)  # before anything opens
        if client_call is None and not settings.connections:
            settings.require_highlevel()  # names the first missing setting, as it always has
        connections = settings.connection_list()
        if not connections:
            raise SettingsError("location_id", "not set (the HighLevel sub-account id)")
        store = open_settings_store(settings)
        # In-memory windows: a SQLite-backed state cost ~9 ms per call under contention (two
        # write transactions per call). One process owns its locations' budgets in embedded
        # mode; `tnhl status` reads the snapshot the sweeper writes (limiter_path).
        limiter = RateLimiter(
            state=limiter_state(settings),
            burst=settings.rate_limit_burst,
            interval=settings.rate_limit_interval,
            # The limiter's skew margin (0.3 s) is 3 % of HighLevel's 10 s window; keep it 3 %
            # when the window is scaled (tests, benchmarks), not 15 % of a 2 s one.
            margin=0.03 * settings.rate_limit_interval,
        )
        paced = PacedLimiter(limiter)
        tracer = CallTracer()
        try:
            routes, clients = highlevel_routes(
                settings,
                connections,
                limiter=paced,
                on_exchange=tracer.observe,
                client_call=client_call,
                mapping=mapping,
                transport=transport,
                retry=retry,
                rng=rng,
            )
        except BaseException:
            store.close()
            raise
        for loc, route in routes.items():
            switch_recipes(route.mapping, store.recipe_switches(loc))  # the dashboard's
        locations = [c.location_id for c in connections]
        outs = talknotes_outs(connections, settings.http_timeout)
        first = routes[locations[0]]
        metrics = SyncMetrics()
        dry_runs = DryRuns(store, [c.location_id for c in connections if c.dry_run], clock=clock)
        margin = 3 * settings.http_timeout + 1
        decider = Decider(
            RetrySchedule(scale=settings.retry_scale, rng=rng or random.Random()),
            crash_limit=settings.crash_limit,
            orphan_timeout=settings.orphan_timeout,
            wait_recheck=min(300.0, settings.orphan_timeout),
        )
        executor = Executor(
            store,
            first.call,
            first.mapping,
            decider,
            limiter=paced,
            clock=clock,
            metrics=metrics,
            lease_margin=margin,
            routes=routes,  # a record only ever goes out with its own location's client
            pauses=Pauses(settings.credentials_pause),
            dry_runs=dry_runs,
            tracer=tracer,
        )

        def refresh_gauges() -> None:
            stats = store.stats(now=clock())
            metrics.queue_lag.set(stats.oldest_unfinished_age or 0.0)
            metrics.pending.set(stats.counts.get("received", 0) + stats.counts.get("pending", 0))

        retention = Retention(store, settings.retention_days, clock=clock)

        def on_sweep() -> None:
            refresh_gauges()
            now = clock()
            paused = executor.pauses.paused(now)
            write_limiter_snapshot(limiter_path(settings), limiter, locations, now, paused)
            retention.sweep()  # last: a store that fails it costs no snapshot

        pool = WorkerPool(
            store,
            executor,
            threads=settings.workers,
            batch_limit=settings.batch_limit,
            lease_seconds=settings.lease_seconds,
            poll_interval=settings.poll_interval,
            sweep_interval=settings.sweep_interval,
            clock=clock,
            on_sweep=on_sweep,
            slot_wait=limiter.wait_for,
            locations=locations,
            fold=outbound_fold(frozenset(outs)),
        )
        pump = None
        if outs:
            pump = OutboundPump(
                store,
                outs,
                RetrySchedule(scale=settings.retry_scale, rng=rng or random.Random()),
                clock=clock,
                poll_interval=settings.poll_interval,
                lease_seconds=settings.lease_seconds,
                settle_delay=settings.outbound_delay,
                profile_interval=settings.profile_interval,
                mappings={loc: routes[loc].mapping for loc in outs},
            )
        reconciler = None
        if outs and settings.reconcile_interval > 0:

            def polled() -> None:
                pool.wake()  # folded, then left pending for the pump
                if pump is not None:
                    pump.wake()

            reconciler = Reconciler(
                store,
                {loc: routes[loc].call for loc in outs},
                interval=settings.reconcile_interval,
                sweep_interval=settings.reconcile_sweep_interval,
                clock=clock,
                on_stored=polled,
            )

        # Recipes and REST hooks: one engine for every connection (hooks come at any time).
        recipe_conns = {
            c.location_id: RecipeConnection(
                c.name,
                c.location_id,
                routes[c.location_id].mapping,
                patient(routes[c.location_id].call),
                outs.get(c.location_id),
            )
            for c in connections
        }
        recipes = RecipeEngine(
            store,
            recipe_conns,
            RetrySchedule(scale=settings.retry_scale, rng=rng or random.Random()),
            clock=clock,
            # Not the workers' poll: each idle turn is a few store statements (one a write),
            # and at 10 ms they cost the workers ~15 % of their throughput (bench e2e).
            interval=min(1.0, max(0.25, settings.poll_interval)),
            poll_interval=settings.recipe_poll_interval,
            settle=min(2.0, settings.outbound_delay),
            lease_seconds=settings.lease_seconds,
            dry_runs=dry_runs,
            tracer=tracer,
            loop_limit=settings.recipe_loop_limit,
        )

        def on_stored(info: StoredInfo) -> None:
            metrics.received.labels(info.source).inc()
            pool.wake()
            if pump is not None and info.source == "highlevel":
                pump.wake()

        def on_duplicate(source: str) -> None:
            metrics.duplicates.labels(source).inc()

        async def metrics_endpoint(_request: Request) -> Response:
            refresh_gauges()
            return Response(metrics.render(), media_type="text/plain; version=0.0.4")

        http: list[BaseRoute] = [Route("/metrics", metrics_endpoint)]
        http += hooks_routes(store, recipes, clock=clock)
        # The dashboard at / (issue 11): no route at all unless admin_password is set.
        http += dashboard_routes(
            store,
            settings,
            {loc: r.mapping for loc, r in routes.items()},
            clock=clock,
            paused=executor.pauses.paused,
            wake=pool.wake,
        )
        inbox: FastInbox | None = None
        if intake:
            # SQLite: insert inline on the event loop (cheaper than a thread hop); a network
            # database: offload to threads and group-commit (see store/_fast_inbox.py).
            inline = store.engine.dialect.name == "sqlite"
            inbox = FastInbox(
                store, inline=inline, on_duplicate=on_duplicate, write_lock=store.write_lock
            )
            plain, named = talknotes_routes(settings, connections, routes, store.key_location)
            intake_app = create_intake_app(
                inbox=inbox,
                talknotes_secret=plain.secret if plain is not None else None,
                location_id=plain.location_id if plain is not None else None,
                check=plain.check if plain is not None else None,
                key_opens=plain.key_opens if plain is not None else None,
                connections=named,
                highlevel_keys=settings.webhook_keys(),
                on_stored=on_stored,
                offload=not inline,
                unavailable=(StoreUnavailableError,),
            )
            http.append(Mount("/", app=intake_app))
        app = Starlette(routes=http)
        return cls(
            settings,
            store,
            executor,
            pool,
            app,
            metrics,
            limiter,
            clients,
            inbox,
            pump,
            reconciler,
            recipes,
        )

    def start(self) -> None:
        self.pool.start()
        if self.pump is not None:
            self.pump.start()
        if self.reconciler is not None:
            self.reconciler.start()
        if self.recipes is not None:
            self.recipes.start()
            # The cheap part of `tnhl verify`, off the start's path: a refused token pauses
            # its connection before its records fail one by one.
            calls = {loc: c.call for loc, c in self.recipes.connections.items()}
            threading.Thread(
                target=preflight,
                args=(calls, self.executor.pauses),
                name="tnhl-preflight",
                daemon=True,
            ).start()

    def stop(self) -> None:
        if self.recipes is not None:
            self.recipes.stop()
        if self.reconciler is not None:
            self.reconciler.stop()
        self.pool.stop()
        if self.pump is not None:
            self.pump.stop()
        if self.inbox is not None:
            self.inbox.close()
        for client in self.clients:
            client.close()
        self.store.close()

    def serve_workers(self) -> None:
        """Run only the workers (`tnhl worker`) until SIGINT/SIGTERM, then stop cleanly."""
        done = threading.Event()
        previous = {
            sig: signal.signal(sig, lambda _s, _f: done.set())
            for sig in (signal.SIGINT, signal.SIGTERM)
        }
        self.start()
        log.info("tnhl workers running", workers=self.settings.workers)
        try:
            done.wait()
        finally:
            log.info("stopping: finishing running batches")
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def serve(self, **uvicorn_options: Any) -> None:
        """Serve until SIGINT/SIGTERM (uvicorn handles both), then stop the workers cleanly."""
        config = uvicorn.Config(
            self.app,
            host=self.settings.host,
            port=self.settings.port,
            log_level="warning",
            access_log=False,
            log_config=None,  # keep configure_logging's redacting handler for uvicorn's lines
            **uvicorn_options,
        )
        server = uvicorn.Server(config)
        self.start()
        log.info(
            "tnhl running",
            url=f"http://{self.settings.host}:{self.settings.port}",
            workers=self.settings.workers,
            store=self.store.engine.dialect.name,
        )
        # uvicorn turns SIGINT/SIGTERM into a graceful server shutdown, then re-raises the
        # signal through the handlers that were installed before it started. Installing a
        # recording handler first lets that re-raise return here, so the workers finish their
        # batches (and the store closes) before the process exits.
        received: list[int] = []
        previous = {
            sig: signal.signal(sig, lambda s, _f: received.append(s))
            for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            server.run()
        finally:
            log.info("stopping: finishing running batches", signals=received)
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
