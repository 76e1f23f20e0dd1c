"""Fixtures: one real Confab server per test module, and a factory of recorded Socket.IO clients
that are always closed after the test."""

import os

import pytest

from confab_harness import ConfabServer, NativeClient, SioClient


def pytest_configure(config):
    if not os.environ.get("CONFAB_BIN"):
        raise pytest.UsageError("set CONFAB_BIN to the confab server binary")


def start_server(**kw):
    return ConfabServer(**kw).start()


@pytest.fixture(scope="module")
def server():
    s = start_server()
    yield s
    s.cleanup()


@pytest.fixture
def clients(server):
    """clients(name, auth="token"|"cookie"|None, **SioClient options) -> connected SioClient.

    auth="token": a guest session from POST /api/guest, sent in the handshake `auth`.
    auth="cookie": the same, sent as the confab_session cookie.
    auth=None: no identity; the first join_room/send_message names it with its `user`."""
    made = []

    def make(name, auth="token", srv=None, **kw):
        srv = srv or server
        if auth == "token":
            token, _, _ = srv.guest(name)
            c = SioClient(srv, name=name, token=token, **kw)
        elif auth == "cookie":
            _, _, cookie = srv.guest(name)
            assert cookie, "POST /api/guest set no confab_session cookie"
            c = SioClient(srv, name=name, cookie=cookie, **kw)
        else:
            c = SioClient(srv, name=name, **kw)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture
def natives(server):
    made = []

    def make(name, srv=None):
        srv = srv or server
        token, _, _ = srv.guest(name)
        n = NativeClient(srv, token)
        made.append(n)
        return n

    yield make
    for n in made:
        n.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        srv = item.funcargs.get("server") if hasattr(item, "funcargs") else None
        if srv is not None:
            report.sections.append(("confab server log (tail)", srv.log_tail()))
