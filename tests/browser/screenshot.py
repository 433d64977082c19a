"""Take the live page's screenshot for the documentation (docs/live-page.png).

    python -m tests.browser.screenshot [--out docs/live-page.png]

Runs ``agent run`` on the bundled degraded Abilene scenario (a node and a link fail a
few seconds in: both are down from 8 s to 12 s), opens the page in headless Chromium,
waits until the page draws the failure and the recovery plan, saves the screenshot, and
stops both.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.conftest import agent_config, browser_missing, start_agent, start_chromium
from tests.conftest import ROOT
from tests.support.processes import stop_group

SCENARIO = ROOT / "topologies/scenarios/abilene-in3-degraded.yaml"
DEADLINE = 120.0


def failure_drawn(browser: object) -> bool:
    script = (
        "const node = document.querySelector(\"#nodes g.node[data-id='pop9']\");"
        'const link = document.querySelector("#links line.link.down");'
        "return Boolean(node && node.dataset.down === 'true' && link"
        " && window.liveStats.renders.length >= 8);"
    )
    return bool(browser.execute_script(script))  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "docs/live-page.png")
    args = parser.parse_args()
    reason = browser_missing()
    if reason:
        raise SystemExit(f"error: {reason}")
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        agent = start_agent(agent_config(tmp, SCENARIO, interval=1.0), tmp / "agent.log")
        try:
            browser = start_chromium(tmp / "profile", size="1400,1200")
            try:
                browser.get(agent.url)
                WebDriverWait(browser, DEADLINE, poll_frequency=0.2).until(
                    failure_drawn, message="the scenario's failure on the page"
                )
                args.out.parent.mkdir(parents=True, exist_ok=True)
                browser.save_screenshot(str(args.out))
                print(f"{args.out}: saved")
            finally:
                browser.quit()
        finally:
            stop_group(agent.proc)


if __name__ == "__main__":
    main()
