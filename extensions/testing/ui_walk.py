"""Walk LiteLLM's admin UI in headless Chromium the way a person does, recording every call.

A :class:`UiWalker` signs in through Atrium's email-first page and LiteLLM's own login form
(changing an admin-set password when the UI asks for it), reads the left menu the UI renders
for the signed-in role, and opens pages and views. Every response the browser receives while a
view is open is recorded with its body, so a test can check status codes and scan the bodies
and the rendered text for another account's data. Debian's Chromium only (never downloaded).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, Locator, Page, Response
from playwright.sync_api import Error as PlaywrightError

from extensions import litellm

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "Call",
    "NavLink",
    "UiWalker",
    "View",
    "export_pages",
    "found_in",
]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The static export (JS chunks, RSC payloads, prefetches): no account data, hundreds per page.
# Recorded only when they fail, so a broken asset still shows up.
_STATIC_PREFIXES = ("/_next/", "/ui/", "/litellm-asset-prefix/", "/litellm/_next/")
_IDLE_TIMEOUT_MS = 15_000  # a page that never goes idle is recorded as such, not waited on forever
_QUIET_S = 1.0  # no API call in flight for this long: the view has what it asked for
_RENDER_S = 8.0  # a skeleton still there after this is the page's answer (e.g. a refused call)
_LOGIN_TIMEOUT_MS = 90_000  # a loaded CI machine takes a while to build the first page
_MENU_CLICK_TIMEOUT_MS = 10_000


def export_pages() -> list[str]:
    """Every page of the UI's static export, as its route under ``/ui/`` ("" is the root)."""
    root = litellm.ui_export_dir()
    pages = {index.parent.relative_to(root).as_posix() for index in root.rglob("index.html")}
    return sorted("" if page == "." else page for page in pages)


def found_in(text: str, needles: Iterable[str]) -> list[str]:
    return sorted({needle for needle in needles if needle and needle in text})


@dataclass
class Call:
    view: str
    method: str
    url: str
    path: str
    status: int
    resource: str  # the browser's resource type: fetch, xhr, document, ...
    body: str | None  # None when the browser keeps none (redirects, a page navigated away)

    def summary(self, limit: int = 4000) -> dict[str, Any]:
        body = self.body if self.body is None or len(self.body) <= limit else self.body[:limit] + "...(truncated)"
        return {"method": self.method, "url": self.url, "status": self.status, "resource": self.resource, "body": body}


@dataclass
class View:
    """One state of one page: the page itself, a tab of it, a detail drawer."""

    role: str
    page: str  # the page's route under /ui/ (its navigation entry)
    name: str  # the page, or "<page>--<tab>" for a view inside it
    url: str
    screenshot: str
    idle: bool = True
    seconds: float = 0.0
    text: str = ""
    error: str | None = None
    calls: list[Call] = field(default_factory=list)


@dataclass(frozen=True)
class NavLink:
    label: str
    href: str

    @property
    def page(self) -> str | None:
        """The route under /ui/ this entry opens; None for a link out of the UI."""
        parts = urlsplit(self.href)
        if parts.netloc or not parts.path.startswith("/ui"):
            return None
        return parts.path.removeprefix("/ui").strip("/")


def _slug(text: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in text.lower()).split()) or "view"


class UiWalker:
    """One signed-in browser tab of one role; :meth:`open` and :meth:`act` record views."""

    def __init__(self, context: BrowserContext, base_url: str, out_dir: Path, role: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.out_dir = out_dir / role
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.role = role
        self.page: Page = context.new_page()
        self.views: list[View] = []
        self._current: View | None = None
        self._in_flight: set[int] = set()
        self._last_api = self._started = time.monotonic()
        self.page.on("request", self._on_request)
        self.page.on("requestfinished", self._on_done)
        self.page.on("requestfailed", self._on_done)
        self.page.on("response", self._on_response)

    # --- recording -----------------------------------------------------------------------

    def _is_api(self, url: str) -> bool:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}" == self.base_url and not parts.path.startswith(_STATIC_PREFIXES)

    def _on_request(self, request: Any) -> None:
        if self._is_api(request.url):
            self._in_flight.add(id(request))
            self._last_api = time.monotonic()

    def _on_done(self, request: Any) -> None:
        if id(request) in self._in_flight:
            self._in_flight.discard(id(request))
            self._last_api = time.monotonic()

    def _on_response(self, response: Response) -> None:
        view = self._current
        parts = urlsplit(response.url)
        if view is None or f"{parts.scheme}://{parts.netloc}" != self.base_url:
            return
        api = self._is_api(response.url)
        if not api and response.status < 400:
            return
        body: str | None = None
        if api and not 300 <= response.status < 400:
            try:
                body = response.text()
            except PlaywrightError:
                body = None  # the page navigated on before the body was read
        request = response.request
        view.calls.append(
            Call(view.name, request.method, response.url, parts.path, response.status, request.resource_type, body)
        )

    def _settle(self, *, load: bool) -> bool:
        """Wait for network idle after a navigation (Playwright's), then until no API call has
        been in flight for a moment: the UI sends some calls only after the first ones answer."""
        idle = True
        if load:
            try:
                self.page.wait_for_load_state("networkidle", timeout=_IDLE_TIMEOUT_MS)
            except PlaywrightError:
                idle = False  # a prefetch or a poll kept the network busy; the API calls still settle below
        deadline = time.monotonic() + _IDLE_TIMEOUT_MS / 1000
        while time.monotonic() < deadline:
            if not self._in_flight and time.monotonic() - self._last_api >= _QUIET_S:
                return idle
            self.page.wait_for_timeout(100)
        return False

    def _finish(self, view: View) -> View:
        self._wait_for_render()
        try:
            view.text = self.page.inner_text("body")
            self.page.screenshot(path=view.screenshot, full_page=True)
        except PlaywrightError as exc:
            view.error = view.error or f"could not capture the page: {exc.message}"
        view.seconds = round(time.monotonic() - self._started, 1)
        return view

    def _wait_for_render(self) -> None:
        """The answers are in; give the page a moment to draw them (its loading skeletons go away)."""
        deadline = time.monotonic() + _RENDER_S
        skeletons = self.page.locator("[data-slot=skeleton]:visible, .animate-pulse:visible")
        while time.monotonic() < deadline:
            try:
                if skeletons.count() == 0:
                    return
            except PlaywrightError:
                return
            self.page.wait_for_timeout(200)

    def _start(self, page: str, name: str) -> View:
        view = View(self.role, page, name, self.page.url, str(self.out_dir / f"{_slug(name)}.png"))
        self.views.append(view)
        self._current = view
        self._started = time.monotonic()
        # The quiet period counts from here, so a view whose calls have not started yet is not "settled".
        self._last_api = time.monotonic()
        return view

    # --- navigation ----------------------------------------------------------------------

    def sign_in(self, email: str, password: str, *, new_password: str) -> str:
        """Email-first page -> LiteLLM's login form -> the UI; returns the password now valid.

        An admin-set password must be changed at the first sign-in (LiteLLM refuses the session
        until then): the walk does it in the UI's own form and signs in again, as a person would.
        """
        view = self._start("login", "login")
        self._login_form(email, password)
        if "/change-password" in self.page.url:
            # What the first session saw is the change-password page (LiteLLM refuses the session
            # everything else until the password is changed); the second sign-in is the login.
            view.page = view.name = "change-password"
            for call in view.calls:
                call.view = view.name
            view.screenshot = str(self.out_dir / "change-password.png")
            self._finish(view)
            view = self._start("login", "login")
            self.page.fill("input[name=currentPassword]", password)
            self.page.fill("input[name=newPassword]", new_password)
            self.page.fill("input[name=confirmNewPassword]", new_password)
            self.page.locator("form button[type=submit]").click()
            self.page.wait_for_url(
                lambda url: "/change-password" not in url, timeout=_LOGIN_TIMEOUT_MS, wait_until="commit"
            )
            password = new_password
            self._login_form(email, password)
        view.url = self.page.url
        self._finish(view)
        return password

    def _login_form(self, email: str, password: str) -> None:
        self.page.goto(f"{self.base_url}/atrium/login")
        self.page.fill("#email", email)
        self.page.click("#continue")
        self.page.wait_for_selector("input[name=password]", timeout=_LOGIN_TIMEOUT_MS)
        self.page.fill("input[name=username]", email)
        self.page.fill("input[name=password]", password)
        self.page.get_by_role("button", name="Login", exact=True).click()
        self.page.wait_for_url(lambda url: "/ui/login" not in url, timeout=_LOGIN_TIMEOUT_MS, wait_until="commit")
        self.page.wait_for_selector('[data-slot="sidebar-menu-item"]', timeout=_LOGIN_TIMEOUT_MS)
        self._settle(load=True)

    def navigation(self) -> list[NavLink]:
        """The left menu the UI renders for this role, every collapsed group opened."""
        for _ in range(5):  # groups can nest; each pass opens the ones now visible
            closed = self.page.locator('button[data-slot="sidebar-menu-button"][aria-expanded="false"]')
            if closed.count() == 0:
                break
            for index in reversed(range(closed.count())):
                closed.nth(index).click()
        links: list[NavLink] = []
        for anchor in self.page.locator('[data-slot*="sidebar-menu"] a[href]').all():
            link = NavLink(" ".join(anchor.inner_text().split()), anchor.get_attribute("href") or "")
            if link not in links:
                links.append(link)
        return links

    def open(self, page: str) -> View:
        """Open ``/ui/<page>/`` by its menu entry, as a person does (the UI routes in the browser);
        a page without a menu entry is loaded like a bookmark."""
        view = self._start(page, page or "index")
        path = f"/ui/{page}/" if page else "/ui/"
        try:
            link = self.page.locator(f'[data-slot*="sidebar-menu"] a[href="{path}"]')
            if link.count() and self._click_menu_entry(link):
                self.page.wait_for_url(lambda url: urlsplit(url).path == path, timeout=_LOGIN_TIMEOUT_MS)
                view.idle = self._settle(load=False)
            else:
                self.page.goto(f"{self.base_url}{path}", wait_until="commit")
                view.idle = self._settle(load=True)
        except PlaywrightError as exc:
            view.error = f"opening the page failed: {exc.message}"
        view.url = self.page.url
        return self._finish(view)

    def _click_menu_entry(self, link: Locator) -> bool:
        """Click the menu entry; False if a popup of the previous view still holds the page (the
        page is then opened from the address bar, as a person stuck with it would)."""
        self._dismiss_popups()
        try:
            link.first.click(timeout=_MENU_CLICK_TIMEOUT_MS)
        except PlaywrightError:
            return False
        return True

    def _dismiss_popups(self) -> None:
        """Close a menu or popover left open by the previous view: it makes the rest of the page
        inert (Base UI's backdrop takes the clicks). Escape first, then a click on the backdrop,
        as a person clicks away."""
        backdrop = self.page.locator("[data-base-ui-inert]")
        for step in ("escape", "click away"):
            if not backdrop.count():
                return
            if step == "escape":
                self.page.keyboard.press("Escape")
            else:
                self.page.mouse.click(1, 1)
            with contextlib.suppress(PlaywrightError):
                backdrop.first.wait_for(state="detached", timeout=2000)

    def act(self, page: str, name: str, action: Callable[[Page], None]) -> View:
        """A view reached from the current page by ``action`` (a click on a tab, a row, ...)."""
        view = self._start(page, f"{page}--{name}")
        try:
            action(self.page)
            view.idle = self._settle(load=False)
        except (PlaywrightError, LookupError) as exc:
            view.error = f"{name}: {exc}"
        view.url = self.page.url
        return self._finish(view)

    def tabs(self) -> list[str]:
        """The names of the tabs the current page shows."""
        names = [" ".join(tab.inner_text().split()) for tab in self.page.get_by_role("tab").all()]
        return [name for name in dict.fromkeys(names) if name]

    def click_tab(self, name: str) -> None:
        """Click the tab :meth:`tabs` called ``name`` (its text, badges included, whitespace folded)."""
        for tab in self.page.get_by_role("tab").all():
            if " ".join(tab.inner_text().split()) == name:
                tab.click()
                return
        raise LookupError(f"no tab {name!r} on {self.page.url}")
