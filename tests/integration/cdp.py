"""A headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe:
JSON messages ending in NUL, commands on fd 3, answers and events on fd 4).

Python 3 standard library only: a pipe needs no websocket client. Used by test_console.py.
"""

import base64
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"

# The switches the brief of the console test names, plus the pipe; nothing goes out but
# what the page asks for.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--no-default-browser-check",
         "--disable-features=Translate,MediaRouter,OptimizationHints",
         "--remote-debugging-pipe")


def _onto_3_and_4(cmd, out):
    # Copies first: either may already be 3 or 4.
    a, b = os.dup(cmd), os.dup(out)
    os.dup2(a, 3)
    os.dup2(b, 4)


class CDPError(RuntimeError):
    pass


class Browser:
    """One Chromium process with a profile of its own under `home` (HOME, so that the NSS
    database in home/.pki/nssdb is the one it reads). Every event is kept in self.events,
    in arrival order, as (session_id, method, params)."""

    def __init__(self, home, timeout=60.0):
        self.home = home
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="profile-", dir=home)
        self.events = []
        self._answers = {}
        self._cond = threading.Condition()
        self._next = 0
        self._closed = False
        cmd_r, cmd_w = os.pipe()
        out_r, out_w = os.pipe()
        env = dict(os.environ, HOME=home)
        # Chromium's own processes must not inherit our ends of the pipes.
        self.stderr = open(os.path.join(home, "chromium.stderr"), "wb")
        self.proc = subprocess.Popen(
            [CHROMIUM] + list(FLAGS) + ["--user-data-dir=" + self.profile, "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.stderr,
            env=env, pass_fds=(cmd_r, out_w, 3, 4), start_new_session=True,
            preexec_fn=lambda: _onto_3_and_4(cmd_r, out_w))
        os.close(cmd_r)
        os.close(out_w)
        self._w = os.fdopen(cmd_w, "wb", buffering=0)
        self._r = os.fdopen(out_r, "rb", buffering=0)
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    def _read_loop(self):
        buf = b""
        while True:
            chunk = self._r.read(65536)
            if not chunk:
                break
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                with self._cond:
                    if "id" in msg:
                        self._answers[msg["id"]] = msg
                    else:
                        self.events.append((msg.get("sessionId"), msg.get("method"),
                                            msg.get("params", {})))
                    self._cond.notify_all()
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def send(self, method, params=None, session=None):
        """Sends a command and returns its result; CDPError for an error answer."""
        with self._cond:
            self._next += 1
            mid = self._next
        msg = {"id": mid, "method": method, "params": params or {}}
        if session is not None:
            msg["sessionId"] = session
        self._w.write(json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        with self._cond:
            while mid not in self._answers:
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    raise CDPError("no answer to %s (browser %s)" % (
                        method, "gone" if self._closed else "silent"))
                self._cond.wait(left)
            ans = self._answers.pop(mid)
        if "error" in ans:
            raise CDPError("%s: %s" % (method, ans["error"]))
        return ans.get("result", {})

    def wait_event(self, method, session=None, pred=None, timeout=None, start=0):
        """The first event `method` (of session, matching pred) from index start on."""
        deadline = time.monotonic() + (timeout or self.timeout)
        with self._cond:
            i = start
            while True:
                while i < len(self.events):
                    s, m, p = self.events[i]
                    i += 1
                    if m == method and (session is None or s == session) and \
                            (pred is None or pred(p)):
                        return p
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    raise CDPError("no %s event" % method)
                self._cond.wait(left)

    def new_page(self):
        """A new tab with the domains the test watches enabled; returns its Page."""
        tid = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        sid = self.send("Target.attachToTarget", {"targetId": tid, "flatten": True})["sessionId"]
        page = Page(self, sid, tid)
        for domain in ("Page", "Runtime", "Log", "Network"):
            page.send(domain + ".enable")
        return page

    def close(self):
        try:
            if self.proc.poll() is None:
                try:
                    self.send("Browser.close")
                except CDPError:
                    pass
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    pass
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()
            self._w.close()
            self._reader.join(5)
            self._r.close()
            self.stderr.close()


class Page:
    def __init__(self, browser, session, target):
        self.b = browser
        self.session = session
        self.target = target

    def close(self):
        self.b.send("Target.closeTarget", {"targetId": self.target})

    def send(self, method, params=None):
        return self.b.send(method, params, session=self.session)

    def events(self, method=None):
        with self.b._cond:
            return [(m, p) for s, m, p in self.b.events
                    if s == self.session and (method is None or m == method)]

    def navigate(self, url):
        """Loads url and waits for its load event."""
        start = len(self.b.events)
        res = self.send("Page.navigate", {"url": url})
        if res.get("errorText"):
            raise CDPError("navigate %s: %s" % (url, res["errorText"]))
        self.b.wait_event("Page.loadEventFired", self.session, start=start)

    def eval(self, expr):
        """The value of a JavaScript expression (promises awaited)."""
        res = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                             "awaitPromise": True})
        if "exceptionDetails" in res:
            raise CDPError("%s: %s" % (expr, res["exceptionDetails"]))
        return res["result"].get("value")

    def wait_event_in_page(self, ready, event):
        """Waits until the page's expression ready is true or, if not yet, until the page
        dispatches event on its document (no polling)."""
        return self.eval("(%s) || new Promise(r => document.addEventListener(%s, "
                         "() => r(true), {once: true}))" % (ready, json.dumps(event)))

    def wait_for(self, expr, timeout=None, what=None):
        """Waits until expr is truthy in the page; returns its value. The page says when
        it is done (an attribute it sets), so this waits for a condition, not a time."""
        deadline = time.monotonic() + (timeout or self.b.timeout)
        while True:
            v = self.eval(expr)
            if v:
                return v
            if time.monotonic() > deadline:
                raise CDPError("timed out waiting for %s" % (what or expr))
            # The page changes only on network answers: poll the condition.
            time.sleep(0.05)

    def viewport(self, width, height, mobile=False):
        self.send("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})

    def screenshot(self, path, full_page=True):
        params = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
            m = self.send("Page.getLayoutMetrics")["cssContentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": m["width"], "height": m["height"],
                              "scale": 1}
        data = self.send("Page.captureScreenshot", params)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
