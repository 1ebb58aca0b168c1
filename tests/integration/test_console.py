"""The supervision console in a real browser: headless Chromium (Debian `chromium`) with the
admin's client certificate, after one month of all 14 cities through the real gateway.

The certificate is in an NSS database under a temporary HOME (certutil, pk12util from
libnss3-tools); Chromium picks it without asking through the AutoSelectCertificateForUrls
policy, which it reads only from /etc/chromium/policies/managed: this test writes its own
file there (named after its pid, so that concurrent runs do not share one) and removes it
when it ends. Root is needed for that. The browser is driven over the DevTools protocol on
a pipe (cdp.py). Screenshots go to build/console/.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "scenarios"))

import cdp                 # noqa: E402
import harness as h        # noqa: E402
import month as S          # noqa: E402

POLICY_DIR = "/etc/chromium/policies/managed"
SHOTS = os.path.join(h.REPO, "build", "console")
FIGURES = ("collected", "remitted", "arrived", "planned", "reviewed", "disbursed", "settled")


def run(*argv):
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def issuer_cn(path):
    out = subprocess.run(["openssl", "x509", "-in", path, "-noout", "-issuer", "-nameopt",
                          "multiline"], check=True, capture_output=True, text=True).stdout
    return re.search(r"commonName\s*=\s*(.+)", out).group(1).strip()


def make_home(who):
    """A HOME whose NSS database trusts the development CA and holds who's certificate
    and key (PKCS#12, as a supervisor would import it)."""
    home = tempfile.mkdtemp(prefix="gw-console-")
    db = os.path.join(home, ".pki", "nssdb")
    os.makedirs(db)
    run("certutil", "-N", "-d", "sql:" + db, "--empty-password")
    run("certutil", "-A", "-d", "sql:" + db, "-n", "gateway dev root", "-t", "C,,",
        "-i", h.ca_file())
    # The gateway sends its certificate without the chain, and Chromium does not look
    # for intermediates in the database: the issuing CA is trusted as it stands.
    run("certutil", "-A", "-d", "sql:" + db, "-n", "gateway dev issuing", "-t", "C,,",
        "-i", os.path.join(h.CERTS, "issuing-ca.crt"))
    p12 = os.path.join(home, who + ".p12")
    run("openssl", "pkcs12", "-export", "-in", h.cert(who), "-inkey", h.key(who),
        "-name", who, "-passout", "pass:", "-out", p12)
    run("pk12util", "-i", p12, "-d", "sql:" + db, "-W", "")
    return home


def yuan_to_fen(text):
    m = re.fullmatch(r"(-?)([\d,]+)\.(\d\d)", text)
    if not m:
        raise AssertionError("not an amount: %r" % text)
    fen = int(m.group(2).replace(",", "")) * 100 + int(m.group(3))
    return -fen if m.group(1) else fen


class Console(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for tool in ("certutil", "pk12util"):
            if shutil.which(tool) is None:
                raise RuntimeError("%s missing: install libnss3-tools (scripts/deps.sh)" % tool)
        if not os.path.exists(cdp.CHROMIUM):
            raise RuntimeError("chromium missing: install it (scripts/deps.sh)")
        if os.geteuid() != 0:
            raise RuntimeError("the console test needs root: Chromium reads its "
                               "client-certificate policy only from " + POLICY_DIR)
        cls.period = S.current_period()
        cls.env = S.start_env()
        cls.addClassCleanup(cls.env.stop)
        cls.month = S.Month(cls.period, tag="CON")
        cls.run_ = S.MonthRun(cls.env, cls.month)
        cls.run_.run()
        cls.fund = S.Fund(cls.env)
        cls.did = cls.month.disbursements[0][0]
        # The page checks the receipt's proof: wait until a checkpoint covers it.
        h.wait_until(lambda: cls.fund.get("/v1/receipts/disbursement/" + cls.did)
                     .json()["proof"], h.IO_TIMEOUT * 2, what="a checkpoint over " + cls.did)
        cls.origin = "https://127.0.0.1:%d" % cls.env.admin_port
        # A registry change awaiting hrss's review.
        change = {"id": "CON-AC1", "action": "change", "account": {
            "name": "jinchang-expenditure", "number": "270362030020009995",
            "cnaps": "102823000124", "holder": "金昌市社会保险事业管理局支出户",
            "role": "city-expenditure", "city_code": "620300", "bank": "bank"},
            "reason": "moved", "effective_date": "2099-01-01", "proposed_by": "王芳",
            "proposed_at": "2026-12-01T09:00:00+08:00"}
        r = cls.env.https("POST", "/v1/accounts/changes", who="finance",
                          body=json.dumps(change, ensure_ascii=False).encode(),
                          headers={"Content-Type": "application/json"})
        assert r.status == 202, r

        os.makedirs(POLICY_DIR, exist_ok=True)
        cls.policy = os.path.join(POLICY_DIR, "gateway-console-test-%d.json" % os.getpid())
        rule = {"pattern": "https://127.0.0.1:*",
                "filter": {"ISSUER": {"CN": issuer_cn(h.cert("admin"))}}}
        with open(cls.policy, "w") as f:
            json.dump({"AutoSelectCertificateForUrls": [json.dumps(rule)]}, f)
        cls.addClassCleanup(os.unlink, cls.policy)
        cls.browsers = {}
        os.makedirs(SHOTS, exist_ok=True)

    @classmethod
    def browser(cls, who):
        """A browser whose only client certificate is who's."""
        if who not in cls.browsers:
            home = make_home(who)
            cls.addClassCleanup(shutil.rmtree, home, True)
            b = cdp.Browser(home)
            cls.addClassCleanup(b.close)
            cls.browsers[who] = b
        return cls.browsers[who]

    def open(self, query, who="admin"):
        page = self.browser(who).new_page()
        self.addCleanup(page.close)
        page.navigate(self.origin + "/" + query)
        page.wait_event_in_page("document.body.dataset.state === 'ready'", "console-ready")
        return page

    def problems(self, page):
        """Console errors, uncaught exceptions and failed loads the page caused."""
        out = []
        for method, p in page.events():
            if method == "Runtime.exceptionThrown":
                out.append("exception: %s" % p["exceptionDetails"].get("text"))
            elif method == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert"):
                out.append("console.%s: %s" % (p["type"], [a.get("value") for a in p["args"]]))
            elif method == "Log.entryAdded" and p["entry"]["level"] == "error":
                e = p["entry"]
                out.append("log: %s %s" % (e.get("text"), e.get("url", "")))
        return out

    def test_month_figures_proof_and_screenshots(self):
        page = self.open("?period=%s&transfer=%s&kind=disbursement" % (self.period, self.did))
        self.assertEqual(self.problems(page), [])

        # Nothing but the gateway: every request the page made went to its origin. (data:
        # URLs leave nothing: Chromium's own icons, such as the month picker's.)
        urls = [p["request"]["url"] for _, p in page.events("Network.requestWillBeSent")
                if not p["request"]["url"].startswith("data:")]
        self.assertTrue(urls)
        self.assertEqual([u for u in urls if not u.startswith(self.origin + "/")], [])

        # The table says what GET /v1/reports/reconciliation says, city by city.
        api = self.fund.report(self.period, who="admin")
        rows = page.eval("""Array.from(document.querySelectorAll('#flow-table tbody tr'))
            .map(tr => ({code: tr.dataset.city, name: tr.querySelector('th').textContent,
                         cells: Object.fromEntries(Array.from(tr.querySelectorAll('td[data-figure]'))
                           .map(td => [td.dataset.figure, td.textContent])),
                         flags: Array.from(tr.querySelectorAll('.flag-tag')).map(s => s.textContent)}))""")
        self.assertEqual(len(rows), 14)
        self.assertEqual([r["code"] for r in rows], [c["city_code"] for c in api["cities"]])
        for row, city in zip(rows, api["cities"]):
            self.assertEqual(row["name"], city["name"])
            self.assertEqual(row["flags"], city["flags"])
            for f in FIGURES:
                self.assertEqual(yuan_to_fen(row["cells"][f]), city[f + "_fen"],
                                 (city["city_code"], f))
        totals = page.eval("""Object.fromEntries(Array.from(document.querySelectorAll(
            '#flow-table tfoot td[data-figure]')).map(td => [td.dataset.figure, td.textContent]))""")
        self.assertEqual({f: yuan_to_fen(totals[f]) for f in FIGURES},
                         {f: api["totals"][f + "_fen"] for f in FIGURES})
        # The month is real: money went all the way through.
        self.assertGreater(api["totals"]["settled_fen"], 0)

        # The disbursement's chain and its proof, checked by the page itself.
        self.assertEqual(page.eval("document.getElementById('proof-result').dataset.result"),
                         "verified", page.eval("document.getElementById('proof').innerText"))
        checks = page.eval("Array.from(document.querySelectorAll('#proof-checks li'))"
                           ".map(li => li.className)")
        self.assertGreaterEqual(len(checks), 6)
        self.assertEqual(set(checks), {"ok"})
        steps = page.eval("document.getElementById('custody-steps').innerText")
        self.assertIn(self.did, steps)
        self.assertIn("settled", steps)

        # The registry change awaiting review, with its proposal's entry.
        self.assertEqual(page.eval("Array.from(document.querySelectorAll("
                                   "'#registry-pending tbody tr')).map(tr => tr.dataset.change)"),
                         ["CON-AC1"])
        self.assertIn("270362030020009995",
                      page.eval("document.getElementById('registry-pending').innerText"))

        # The month's inspection report is a link away, and it is the document.
        href = page.eval("document.getElementById('inspection-link').getAttribute('href')")
        self.assertEqual(href, "/v1/reports/inspection?period=" + self.period)
        doc = self.env.https("GET", href, who="admin", admin=True,
                             headers={"Accept": "text/html"})
        self.assertEqual(doc.status, 200, doc)
        self.assertTrue(doc.header("Content-Type").startswith("text/html"))
        self.assertIn("CON-AC1", doc.body.decode())

        # Alerts and log health are there for the admin.
        self.assertEqual(page.eval("document.getElementById('health').hidden"), False)
        self.assertIn("entries", page.eval("document.getElementById('health-facts').innerText"))

        for width, height, mobile, name in ((1280, 900, False, "desktop"),
                                            (390, 844, True, "phone")):
            page.viewport(width, height, mobile)
            page.wait_for("window.innerWidth === %d" % width, what="the %s width" % name)
            path = os.path.join(SHOTS, "console-%s-%dx%d.png" % (name, width, height))
            page.screenshot(path)
            with open(path, "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        self.assertEqual(self.problems(page), [])

    def test_tampered_proof_fails(self):
        page = self.open("?period=%s&transfer=%s&kind=disbursement&tamper=1"
                         % (self.period, self.did))
        self.assertEqual(page.eval("document.getElementById('proof-result').dataset.result"),
                         "failed")
        self.assertEqual(page.eval("document.getElementById('proof-result').textContent"),
                         "FAILED")
        bad = page.eval("Array.from(document.querySelectorAll('#proof-checks li.bad'))"
                        ".map(li => li.textContent)")
        self.assertTrue(any("root" in b for b in bad), bad)
        self.assertEqual(self.problems(page), [])


    def test_finance_sees_the_fund_not_the_log(self):
        page = self.open("?period=%s&transfer=%s&kind=disbursement" % (self.period, self.did),
                         who="finance")
        self.assertEqual(self.problems(page), [])
        self.assertIn("as finance (finance)", page.eval("document.getElementById('who').innerText"))
        self.assertEqual(page.eval("document.querySelectorAll('#flow-table tbody tr').length"), 14)
        # Log health is not finance's: hidden, and never asked for. Registry changes are:
        # finance proposes and reviews them.
        self.assertEqual(page.eval("[document.getElementById('health').hidden, "
                                   "document.getElementById('registry').hidden]"), [True, False])
        paths = [p["request"]["url"] for _, p in page.events("Network.requestWillBeSent")]
        self.assertEqual([u for u in paths if "/v1/health" in u], [])
        # A party to the disbursement: its proof checks in finance's browser too.
        self.assertEqual(page.eval("document.getElementById('proof-result').dataset.result"),
                         "verified")


class ConsoleServer(unittest.TestCase):
    """What the admin listener serves the console, and to whom (no browser)."""

    @classmethod
    def setUpClass(cls):
        cls.env = h.Env().start()
        cls.addClassCleanup(cls.env.stop)

    def get(self, path, who="admin", headers=None):
        return self.env.https("GET", path, who=who, admin=True, headers=headers)

    def test_files_and_headers(self):
        for path, ctype in (("/", "text/html; charset=utf-8"),
                            ("/console/app.js", "text/javascript; charset=utf-8"),
                            ("/console/app.css", "text/css; charset=utf-8"),
                            ("/console/favicon.svg", "image/svg+xml")):
            with self.subTest(path=path):
                r = self.get(path)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.header("Content-Type"), ctype)
                self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")
                csp = r.header("Content-Security-Policy")
                self.assertEqual(csp, "default-src 'none'; script-src 'self'; style-src 'self'; "
                                 "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
                                 "form-action 'none'; frame-ancestors 'none'")
                with open(os.path.join(h.REPO, "console", path.split("/")[-1] or
                                       "index.html"), "rb") as f:
                    self.assertEqual(r.body, f.read())
                tag = r.header("ETag")
                self.assertRegex(tag, r'^"[0-9a-f]{16}"$')
                again = self.get(path, headers={"If-None-Match": tag})
                self.assertEqual(again.status, 304)
                self.assertEqual(again.body, b"")
        # No inline script or style in the page: the policy would block it.
        page = self.get("/").body.decode()
        self.assertNotRegex(page, r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=")

    def test_who_sees_what(self):
        expect = {
            # path: roles answered 200 (others of the four get 403)
            "/": ("admin", "auditor", "finance", "hrss"),
            "/v1/console": ("admin", "auditor", "finance", "hrss"),
            "/v1/reports/reconciliation?period=2026-01": ("admin", "auditor", "finance", "hrss"),
            "/v1/alerts": ("admin", "auditor", "finance", "hrss"),
            "/audit/checkpoint": ("admin", "auditor", "finance", "hrss"),
            "/v1/health": ("admin", "auditor"),
            "/metrics": ("admin", "auditor"),
            "/healthz": ("admin", "auditor"),
        }
        for path, ok in expect.items():
            for who in ("admin", "auditor", "finance", "hrss", "tax", "bank",
                        "finance-city-620100"):
                with self.subTest(path=path, who=who):
                    r = self.get(path, who=who)
                    self.assertEqual(r.status, 200 if who in ok else 403, r)
        me = self.get("/v1/console", who="finance").json()
        self.assertEqual((me["role"], me["sees"]["health"]), ("finance", False))
        self.assertRegex(me["log"]["vkey"], r"^gateway\.test/audit\+[0-9a-f]{8}\+")
        health = self.get("/v1/health", who="auditor").json()
        for k in ("log", "checkpoint", "cosigned", "wal", "outbox", "witnesses"):
            self.assertIn(k, health)

    def test_reads_through_the_console_are_audited(self):
        # As on the agency listener: a read of the fund's data leaves an audit entry.
        before = self.get("/v1/health").json()["log"]["size"]
        rid = self.get("/v1/alerts", who="finance").header("X-Gateway-Request-Id")

        def entry():
            size = self.get("/v1/health").json()["log"]["size"]
            for i in range(before, size):
                e = self.get("/audit/entries/%d" % i).json()
                if e.get("request_id") == rid:
                    return e
            return None
        e = h.wait_until(entry, h.IO_TIMEOUT, what="the read's audit entry")
        self.assertEqual((e["agency"], e["path"], e["status"]), ("finance", "/v1/alerts", 200))

    def test_writes_stay_off_the_console(self):
        # Instructions go to the agency listener; the admin action stays the admin's.
        r = self.env.https("POST", "/v1/plans", who="hrss", admin=True, body=b"{}",
                           headers=h_json())
        self.assertEqual(r.status, 405, r)
        for who in ("auditor", "finance", "hrss"):
            r = self.env.https("POST", "/admin/outbox/1/retry", who=who, admin=True)
            self.assertEqual(r.status, 403, r)


def h_json():
    return {"Content-Type": "application/json"}


if __name__ == "__main__":
    unittest.main()
