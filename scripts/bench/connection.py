"""Connection test: `probe.check_both` (what "Test connection and save" runs) against the
IMAP check then the SMTP check, through proxies adding a round-trip time to both servers."""

import statistics
import time

from .proxy import BlackHole, DelayProxy

DEFAULT_TIMEOUT = 10.0  # the add-on's default for mcl_mailbox.connection_timeout


def _timed(function, *args):
    began = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - began, result


def measure(probe, stack, address, password, repeat=5, rtt=0.2, timeout=DEFAULT_TIMEOUT):
    """Medians over `repeat` alternating runs; raises if a check fails (the proxy or stack is broken)."""
    context = probe.make_ssl_context(str(stack.ca_file))
    with DelayProxy(stack.ports["imaps"], rtt) as imap_proxy, DelayProxy(stack.ports["smtps"], rtt) as smtp_proxy:
        imap = probe.Endpoint("localhost", imap_proxy.port, "ssl", address, password)
        smtp = probe.Endpoint("localhost", smtp_proxy.port, "ssl", address, password)

        def both():
            results = probe.check_both(imap, smtp, context, timeout, address)
            failed = {side: diagnosis for side, diagnosis in results.items() if diagnosis}
            if failed:
                raise RuntimeError(f"check_both failed through the proxy: {failed}")

        def sequential():
            imap_time, _ = _timed(probe.check_imap, imap, context, timeout)
            smtp_time, _ = _timed(probe.check_smtp, smtp, context, timeout, address)
            return imap_time, smtp_time

        both_times, sequential_times, imap_times, smtp_times = [], [], [], []
        for _run in range(repeat):
            elapsed, _ = _timed(both)
            both_times.append(elapsed)
            elapsed, (imap_time, smtp_time) = _timed(sequential)
            sequential_times.append(elapsed)
            imap_times.append(imap_time)
            smtp_times.append(smtp_time)
    both_median = statistics.median(both_times)
    sequential_median = statistics.median(sequential_times)
    return {
        "rtt": rtt,
        "repeat": repeat,
        "both": both_median,
        "both_all": both_times,
        "sequential": sequential_median,
        "sequential_all": sequential_times,
        "imap": statistics.median(imap_times),
        "smtp": statistics.median(smtp_times),
        "ratio": both_median / sequential_median,
    }


def measure_unreachable(probe, timeout=DEFAULT_TIMEOUT):
    """Both sides pointed at ports that accept the TCP connection and never say a word."""
    context = probe.make_ssl_context()
    with BlackHole() as imap_hole, BlackHole() as smtp_hole:
        imap = probe.Endpoint("localhost", imap_hole.port, "ssl", "nobody@example.test", "unused")
        smtp = probe.Endpoint("localhost", smtp_hole.port, "ssl", "nobody@example.test", "unused")
        elapsed, results = _timed(probe.check_both, imap, smtp, context, timeout, "nobody@example.test")
    return {
        "timeout": timeout,
        "elapsed": elapsed,
        "codes": {side: diagnosis.code if diagnosis else "ok" for side, diagnosis in results.items()},
    }
