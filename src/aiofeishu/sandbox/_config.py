"""What a sandbox is told: demo credentials, determinism, token TTL, time scale, faults."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Faults:
    """Injected failures, for testing one's own retry handling. Probabilities are per call
    (token calls excluded) and drawn from the sandbox's seeded generator."""

    rate_limit: float = 0.0
    """Answer 429 (10429 / 99991400) although the quota has room."""
    server_error: float = 0.0
    """Answer 500 before doing anything."""
    drop_after_commit: float = 0.0
    """Carry out a write, then close the connection without answering."""
    latency: float = 0.0
    """Seconds added before every answer."""

    def __post_init__(self) -> None:
        for name in ("rate_limit", "server_error", "drop_after_commit"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"Faults.{name} is a probability, got {value!r}")
        if self.latency < 0:
            raise ValueError(f"Faults.latency must be >= 0, got {self.latency!r}")


@dataclass
class SandboxConfig:
    """Everything about a sandbox that a test may want to pin down."""

    plugin_id: str = "MII_SANDBOX"
    plugin_secret: str = field(default="sandbox-plugin-secret", repr=False)
    user_key: str = "sandbox-user"
    app_id: str = "cli_sandbox"
    app_secret: str = field(default="sandbox-app-secret", repr=False)
    project_key: str = "sandbox"
    seed: int = 0
    """Seeds ids, log ids and fault draws: the same calls give the same answers."""
    token_ttl: int = 7200
    """Seconds a plugin / tenant / user token stays valid (the docs: 7200)."""
    rate_limits: bool = True
    """Enforce the docs' per-token, per-endpoint sliding windows."""
    time_scale: float = 1.0
    """Divide every rate-limit window by this (4 → 15 per 0.25 s): a faster sandbox whose
    quota is still exact. Clients from ``Sandbox.project_client()`` get the same windows."""
    faults: Faults = field(default_factory=Faults)

    def __post_init__(self) -> None:
        if self.time_scale <= 0:
            raise ValueError(f"time_scale must be > 0, got {self.time_scale!r}")
        if self.token_ttl <= 0:
            raise ValueError(f"token_ttl must be > 0, got {self.token_ttl!r}")

    def scaled(self, windows: Any) -> tuple[tuple[int, float], ...]:
        return tuple((limit, period / self.time_scale) for limit, period in windows)
