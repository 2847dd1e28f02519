"""Clicks per send, as the browser tours count them (never guessed: no tour, no number)."""

import re
from pathlib import Path

TOUR = re.compile(r'registry\.category\("web_tour\.tours"\)\.add\(\s*"(?P<name>[^"]+)"(?P<body>.*?)\n\}\);', re.DOTALL)
EXPECTED = re.compile(r"mclClicks\s*!==\s*(\d+)")
CLICK_STEP = re.compile(r'run:\s*"click"')


def from_tours(tour_dir):
    """{tour name: {'clicks': N asserted by the tour, 'click_steps': steps that click, 'file': name}}
    for the tours that count the user's clicks."""
    found = {}
    for path in sorted(Path(tour_dir).glob("*.js")):
        for match in TOUR.finditer(path.read_text()):
            expected = EXPECTED.search(match.group("body"))
            if expected:
                found[match.group("name")] = {
                    "clicks": int(expected.group(1)),
                    "click_steps": len(CLICK_STEP.findall(match.group("body"))),
                    "file": path.name,
                }
    return found


def summary(tour_dir):
    """(one invoice, a selection of N invoices): each a (clicks or None, source) pair."""
    tours = from_tours(tour_dir)
    single = next(((name, data) for name, data in tours.items() if "batch" not in name and "selection" not in name),
                  None)
    batch = next(((name, data) for name, data in tours.items() if "batch" in name or "selection" in name), None)

    def described(entry):
        if not entry:
            return None, "no tour measures it"
        name, data = entry
        return data["clicks"], f"tour {name} ({data['file']}) asserts {data['clicks']}"

    return described(single), described(batch)
