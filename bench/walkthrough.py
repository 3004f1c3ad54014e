"""The operator walkthrough, counted: sign in (not counted), create a 100,000-code batch
with store rules and a weekly time window, watch it generate, find a claimed voucher by
its code. Prints the clicks, the fields typed and the seconds it took.

    make run                                   # in another terminal (demo data loaded)
    .venv/bin/python bench/walkthrough.py --key <partner key printed by make run>

It drives Debian's Chromium (zh-CN) the way an operator would, against the server at
--url with the demo operator's login. What counts:
- a click: a click on a link or button, ticking a box, choosing from a list, pressing
  Enter in a box, and a page reload the operator needs because the page did not move by
  itself (the script reloads every --reload-every seconds while the page looks stale);
- a field: a box the operator types into;
- seconds: from the console home page to the found voucher's page, waiting included.
The member's claim in the middle goes through the partner API (it is not the operator's
work and is not counted); the operator then has the code, as when a member reads it out.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import urllib.request

from playwright.sync_api import Page, sync_playwright


class Counted:
    """The page actions of the walkthrough, each one counted."""

    def __init__(self, page: Page):
        self.page = page
        self.clicks = 0
        self.fields = 0
        self.log: list[str] = []

    def click(self, selector: str, why: str) -> None:
        self.page.locator(selector).first.click()
        self._count("click", why)

    def choose(self, selector: str, value: str, why: str) -> None:
        self.page.select_option(selector, value)
        self._count("click", why)

    def type(self, selector: str, text: str, why: str) -> None:
        self.page.fill(selector, text)
        self.fields += 1
        self.log.append(f"field  {why}")

    def press_enter(self, selector: str, why: str) -> None:
        self.page.press(selector, "Enter")
        self._count("click", why)

    def reload(self, why: str) -> None:
        self.page.reload()
        self._count("click", why)

    def _count(self, kind: str, why: str) -> None:
        self.clicks += 1
        self.log.append(f"{kind:6} {why}")


def claim(url: str, key: str, batch: str, member: str) -> str:
    request = urllib.request.Request(  # noqa: S310 (http to --url only)
        f"{url}/api/v1/batches/{batch}/claims",
        data=json.dumps({"member": member}).encode(),
        headers={"Authorization": f"Api-Key {key}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:  # noqa: S310 (http to --url only)
        return json.load(response)["code"]


def generation_finished(page: Page, quantity: int) -> bool:
    """What the operator reads on the batch page: finished, with the full count."""
    text = page.locator("#content").inner_text()
    count = f"{quantity:,}" in text or str(quantity) in text
    status = re.search(r"状态[:：]?\s*(\S+)", text)
    status_ok = status is None or status.group(1) not in {"草稿", "生成中"}
    waiting = "等待" in text
    return count and ("已完成" in text or "已生效" in text) and status_ok and not waiting


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--key", required=True, help="a partner API key (make run prints one)")
    parser.add_argument("--user", default="operator")
    parser.add_argument("--password", default="quanyi-operator")
    parser.add_argument("--quantity", type=int, default=100_000)
    parser.add_argument("--member", default="M0001")
    parser.add_argument("--reload-every", type=float, default=10.0)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--window", default="周一至周五 10:00-22:00；周六,周日 09:00-18:00")
    parser.add_argument(
        "--find-with",
        choices=["searchbar", "find-box"],
        default="searchbar",
        help="where the operator pastes the code: the list's search box, or the older "
        "separate find-by-code box (before issue 11)",
    )
    parser.add_argument("--screenshots", default="", help="folder for a screenshot per step")
    args = parser.parse_args()
    code = f"WALK{int(time.time()) % 1_000_000}"

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        context = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(f"{args.url}/admin/")
        page.fill("#id_username", args.user)
        page.fill("#id_password", args.password)
        page.click("input[type=submit]")
        page.wait_for_url(f"{args.url}/admin/")

        op = Counted(page)
        shot = (
            (lambda name: page.screenshot(path=f"{args.screenshots}/{name}.png", full_page=True))
            if args.screenshots
            else (lambda name: None)
        )
        started = time.monotonic()

        # 1. the batch, with its store rule and time window
        op.click("a[href='/admin/vouchers/voucherbatch/add/']", "home: add a voucher batch")
        op.type("#id_code", code, "batch code")
        op.type("#id_name", "门店午市券", "batch name")
        op.type("#id_quantity", str(args.quantity), "quantity")
        op.type("#id_face_value", "20", "face value")
        op.click(".inline-group .add-row a, .inline-group a.addlink", "add the redemption rule")
        op.choose("#id_redemption_rule-0-store_scope", "listed", "where: listed stores")
        page.locator("#id_redemption_rule-0-stores_from option").first.click()
        op._count("click", "pick a store in the picker")
        op.click("#id_redemption_rule-0-stores_add", "move it to the chosen stores")
        op.type("#id_redemption_rule-0-windows_text", args.window, "weekly time window")
        shot("1-form")
        op.click("input[name=_continue]", "save and keep editing (to watch it)")
        shot("2-saved")

        # 2. watch it generate
        deadline = time.monotonic() + args.timeout
        last_reload = time.monotonic()
        while not generation_finished(page, args.quantity):
            if time.monotonic() > deadline:
                print("timed out waiting for the batch page to show it finished", file=sys.stderr)
                return 1
            if time.monotonic() - last_reload > args.reload_every:
                op.reload("reload: the page still shows it generating")
                last_reload = time.monotonic()
            page.wait_for_timeout(500)
        generated_at = time.monotonic()
        shot("3-generated")

        # 3. a member claims one; the operator finds it by the code they read out
        claimed_code = claim(args.url, args.key, code, args.member)
        claimed_at = time.monotonic()
        op.click("a[href='/admin/vouchers/voucher/']", "sidebar: vouchers")
        with_searchbar = args.find_with == "searchbar"
        search = "#searchbar" if with_searchbar else "#id_code"
        op.type(search, claimed_code, "paste the code")
        if with_searchbar:
            op.press_enter(search, "search")
        else:
            op.click("#find-by-code input[type=submit]", "find")
        page.wait_for_load_state()
        found = claimed_code not in page.url and code in page.locator("#content").inner_text()
        finished = time.monotonic()
        shot("4-found")
        browser.close()

    print("\n".join(op.log))
    print(
        f"walkthrough: {op.clicks} clicks, {op.fields} fields, "
        f"{finished - started - (claimed_at - generated_at):.1f} s "
        f"(of which watching the generation: {generated_at - started:.1f} s from the home "
        f"page); voucher found: {'yes' if found else 'NO'}"
    )
    return 0 if found else 1


if __name__ == "__main__":
    sys.exit(main())
