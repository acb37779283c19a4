"""What a page reported that a person would count as broken."""

from __future__ import annotations

from dataclasses import dataclass, field

from playwright.sync_api import ConsoleMessage, Dialog, Page, Request, Response


@dataclass
class PageProblems:
    """Everything a page reported that a person would count as broken."""

    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.console_errors.append(str(error)))
        page.on("requestfailed", self._request_failed)
        page.on("response", self._response)
        page.on("dialog", self._dialog)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def _response(self, response: Response) -> None:
        if response.status >= 400:
            self.failed_requests.append(f"{response.url} answered {response.status}")

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _request_failed(self, request: Request) -> None:
        # ERR_ABORTED is the browser cancelling a request because the page moved
        # on (a click during the favicon's load), not a request that failed.
        if request.failure != "net::ERR_ABORTED":
            self.failed_requests.append(f"{request.url} {request.failure}")

    def assert_none(self) -> None:
        assert self.console_errors == [], self.console_errors
        assert self.failed_requests == [], self.failed_requests
        assert self.dialogs == [], self.dialogs
