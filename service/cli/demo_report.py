"""What a demo run reports: its result (`DemoResult`), the summary of it, the spillover answer as a sentence, and
that question warmed on the server the demo starts."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import typer

from service.cli.demo_data import HORIZON, MODEL_NAME, SOURCE, TARGET
from service.cli.formatting import gate_text, number


@dataclass
class DemoResult:
    """What the demo did: the model, its fitted version and gate verdict, the spillover answer and the URL."""

    model: str
    version: int | None
    promoted: bool
    gate: dict
    diagnostics: dict
    fit_seconds: float
    spillover: dict | None
    url: str
    total_seconds: float
    threshold: int | None = None
    """The threshold of the spillover question (Iran's suggested 75th percentile), asked or not."""
    reused: str | None = None
    """Why the served version was reused instead of fitting again (None: this run fitted a new version)."""

    def to_dict(self) -> dict:
        """Return the result as a JSON-ready dict."""
        return asdict(self)


def describe(result: DemoResult) -> str:
    """Return the demo's human-readable summary: verdict, the spillover answer and the page URL."""
    d = result.diagnostics
    gate = d.get("gate") or {}
    judged = f"{gate.get('name', 'gate')} ({gate_text(gate)})"
    lines = [f"{result.model} v{result.version}: "
             + ("served again, not refitted (same data and configuration)" if result.reused
                else f"fitted in {result.fit_seconds:.0f} s")
             + f"; R-hat max {d.get('rhat_max', float('nan')):.3f}, "
             f"bulk ESS min {d.get('ess_bulk_min', float('nan')):.0f}, "
             f"{d.get('divergences', '?')} divergences; {judged}: "
             f"{'passed, serving' if result.promoted else 'failed: ' + '; '.join(result.gate.get('reasons', []))}"]
    if result.spillover:
        lines.append(answer_line(result.spillover))
    lines.append(f"page: {result.url}")
    lines.append(f"demo finished in {result.total_seconds:.0f} s")
    return "\n".join(lines)


def answer_line(s: dict) -> str:
    """Return the Iraq -> Iran spillover answer (the demo's or the server's JSON) as one sentence."""
    low, high = s["attributable_interval"]
    mc_error = s["mc_standard_error"]["attributable"]
    channel = ("" if s.get("channel_probability") is None else
               f"; P(the channel adds > {100 * s['channel_min_effect']:.0f} point) = {s['channel_probability']:.0%}")
    return (f"P(Iran >= {number(s['threshold'])} conflict deaths in some month of the next {s['horizon']}) = "
            f"{s['probability']:.1%}; without Iraq's channel {s['probability_without_source']:.1%}; "
            f"attributable to Iraq {100 * s['attributable']:+.1f} points (90% credible interval {100 * low:+.1f} "
            f"to {100 * high:+.1f}; Monte Carlo error +-{100 * mc_error:.1f}){channel}; Iraq's share of Iran's "
            f"expected level {s['channel_share']:.1%}")


def warm_first_question(base_url: str, threshold: int, *, echo: Callable[[str], None], page: str,
                        timeout_seconds: float = 600.0) -> float | None:
    """Return the seconds the served README question (Iraq -> Iran spillover) took once the server at `base_url`
    answers, after asking it there so that the first reader's question is served warm; None when not answered.

    Waits for the server to listen, then POSTs the question, echoing progress every 5 s; prints the answer, then
    "ready" and the page URL (also when the question could not be warmed, saying why).
    """
    import httpx

    began = time.monotonic()
    body = {"source": SOURCE, "target": TARGET, "threshold": threshold, "horizon": HORIZON}
    done = threading.Event()
    phase = ["starting the server"]

    def report() -> None:
        while not done.wait(5.0):
            echo(f"demo: {phase[0]}, {time.monotonic() - began:.0f} s ...")

    threading.Thread(target=report, name="demo-warm-report", daemon=True).start()
    try:
        with httpx.Client(base_url=base_url, timeout=timeout_seconds) as http:
            while True:
                try:
                    http.get("/healthz", timeout=2.0)
                    break
                except httpx.TransportError:
                    if time.monotonic() - began > 60:
                        raise
                    time.sleep(0.2)
            asked = time.monotonic()
            phase[0] = (f"warming the first question on the server ({SOURCE} -> {TARGET}, threshold {threshold}, "
                        f"{HORIZON} months)")
            response = http.post(f"/v1/models/{MODEL_NAME}/spillover", json=body)
        seconds = time.monotonic() - asked
    except httpx.HTTPError as exc:
        done.set()
        echo(f"demo: could not warm the first question ({exc}); ready: {page}")
        return None
    done.set()
    if response.status_code != 200:
        echo(f"demo: the server answered the first question with {response.status_code} (not warmed); "
             f"ready: {page}")
        return None
    typer.echo(answer_line(response.json()))
    echo(f"ready: {page}  (first question answered and cached on the server in {seconds:.1f} s; Ctrl-C stops)")
    return seconds
