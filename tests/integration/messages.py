"""Wire messages of DESIGN.md section 2 for the transfer tests: tax collections (XML),
finance and HRSS JSON, and a bank's pain.002 / camt.054, built from small arguments."""

import json
import os

TAX_NS = "urn:gateway:tax:collection:1"
PAIN002_NS = "urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"
CAMT054_NS = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"

# Registered in config/accounts.conf (development data).
PROVINCE_SPECIAL = "270362000010000017"
LANZHOU_SPECIAL = "270362010010000115"
LANZHOU_EXPENDITURE = "270362010020000113"

ITEMS = (
    ("91620100MA71AB12C4", "兰州市第一建筑工程有限公司", 120, "12345.67"),
    ("91620102224331102U", "甘肃陇原物流有限责任公司", 35, "2000.00"),
    ("12620000438000123F", "兰州大学第二医院", 800, "80000.33"),
)


def yuan_sum(amounts):
    fen = sum(int(a.replace(".", "")) for a in amounts)
    return "%d.%02d" % divmod(fen, 100)


def collection(batch, city="620100", period="2024-05", items=ITEMS, total=None, count=None,
               encoding="UTF-8", extra="", declare=True):
    """A PremiumCollection as bytes in encoding (the XML declaration says so)."""
    total = total if total is not None else yuan_sum(i[3] for i in items)
    count = count if count is not None else len(items)
    x = []
    if declare:
        x.append('<?xml version="1.0" encoding="%s"?>' % encoding)
    x.append('<PremiumCollection xmlns="%s">%s' % (TAX_NS, extra))
    x.append("<BatchId>%s</BatchId><CityCode>%s</CityCode><Period>%s</Period>"
             % (batch, city, period))
    x.append("<CollectedAt>2024-06-03T09:30:00+08:00</CollectedAt><Currency>CNY</Currency>")
    x.append("<TotalAmount>%s</TotalAmount><Count>%s</Count>" % (total, count))
    for eid, name, insured, amount in items:
        x.append("<Item><EmployerId>%s</EmployerId><EmployerName>%s</EmployerName>"
                 "<Insured>%d</Insured><Amount>%s</Amount></Item>"
                 % (eid, name, insured, amount))
    x.append("</PremiumCollection>")
    return "\n".join(x).encode(encoding)


def remittance(rid, city="620100", amount=9434600, period="2024-05",
               from_account=LANZHOU_SPECIAL, to_account=PROVINCE_SPECIAL, **extra):
    m = {"remittance_id": rid, "city_code": city, "period": period, "amount_fen": amount,
         "from_account": from_account, "to_account": to_account,
         "value_date": "2024-06-05"}
    m.update(extra)
    return json.dumps(m, ensure_ascii=False).encode()


def plan(pid, city="620100", period="2024-06", items=(("medical", 500000),
                                                       ("funeral", 120000)), total=None,
         **extra):
    m = {"plan_id": pid, "city_code": city, "period": period,
         "items": [{"benefit": b, "amount_fen": a} for b, a in items],
         "total_fen": total if total is not None else sum(a for _, a in items),
         "approved_by": "甘肃省社会保险事业管理局", "approved_at": "2024-06-01T10:00:00+08:00"}
    m.update(extra)
    return json.dumps(m, ensure_ascii=False).encode()


def review(approved=True, total=None, **extra):
    m = {"decision": "approved" if approved else "rejected",
         "reviewed_by": "甘肃省财政厅社会保障处", "reviewed_at": "2024-06-02T10:00:00+08:00"}
    if approved:
        m["approved_total_fen"] = total
    m.update(extra)
    return json.dumps(m, ensure_ascii=False).encode()


def disbursement(did, lines, **extra):
    m = {"disbursement_id": did, "requested_execution_date": "2024-06-05",
         "lines": [{"plan_id": p, "amount_fen": a} for p, a in lines]}
    m.update(extra)
    return json.dumps(m, ensure_ascii=False).encode()


def pain002(msg_id, original, txs=(), group=None):
    """txs: [(end_to_end_id, status, reason or None)]."""
    grp = "<GrpSts>%s</GrpSts>" % group if group else ""
    x = ['<?xml version="1.0" encoding="UTF-8"?>',
         '<Document xmlns="%s"><CstmrPmtStsRpt>' % PAIN002_NS,
         "<GrpHdr><MsgId>%s</MsgId><CreDtTm>2024-06-05T16:00:00+08:00</CreDtTm></GrpHdr>"
         % msg_id,
         "<OrgnlGrpInfAndSts><OrgnlMsgId>%s</OrgnlMsgId>"
         "<OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId>%s</OrgnlGrpInfAndSts>" % (original, grp)]
    if txs:
        x.append("<OrgnlPmtInfAndSts><OrgnlPmtInfId>%s</OrgnlPmtInfId>" % original)
        for e2e, sts, reason in txs:
            r = "<StsRsnInf><Rsn><Cd>%s</Cd></Rsn></StsRsnInf>" % reason if reason else ""
            x.append("<TxInfAndSts><OrgnlEndToEndId>%s</OrgnlEndToEndId><TxSts>%s</TxSts>"
                     "%s<AcctSvcrRef>BK%s</AcctSvcrRef></TxInfAndSts>" % (e2e, sts, r, e2e[-6:]))
        x.append("</OrgnlPmtInfAndSts>")
    x.append("</CstmrPmtStsRpt></Document>")
    return "\n".join(x).encode()


def json_headers():
    return {"Content-Type": "application/json"}


def xml_headers(charset=None):
    return {"Content-Type": "application/xml" + ("; charset=%s" % charset if charset else "")}


# ---------------------------------------------------------------------------
# every city's accounts (config/accounts.conf) and the bank's camt.054

ACCOUNTS_CONF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                             "config", "accounts.conf")


def accounts(path=ACCOUNTS_CONF):
    """The registry as {(role, city): number}, parsed from accounts.conf (INI:
    [account NAME] sections of key = value, ';' after a blank starts a comment)."""
    out, cur = {}, None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split(" ;", 1)[0].strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                cur = {} if line.startswith("[account ") else None
                continue
            if cur is None or "=" not in line:
                continue
            k, v = (s.strip() for s in line.split("=", 1))
            cur[k] = v
            if all(x in cur for x in ("number", "role", "city")):
                out[(cur["role"], cur["city"])] = cur["number"]
    return out


def account(role, city="620000"):
    """The number of the registry's account of role for city (620000: the province)."""
    return accounts()[(role, city)]


def fen_to_yuan(fen):
    return "%d.%02d" % divmod(fen, 100)


def camt054(msg_id, acct, entries, created="2024-06-12T18:00:00+08:00"):
    """A camt.054.001.08 notification for account acct (registry number).

    entries: [(amount_fen, "CRDT" or "DBIT", booking_date, end_to_end_id or None,
    ustrd or None)], one booked Ntry each."""
    x = ['<?xml version="1.0" encoding="UTF-8"?>',
         '<Document xmlns="%s"><BkToCstmrDbtCdtNtfctn>' % CAMT054_NS,
         "<GrpHdr><MsgId>%s</MsgId><CreDtTm>%s</CreDtTm></GrpHdr>" % (msg_id, created),
         "<Ntfctn><Id>%s-N</Id><Acct><Id><Othr><Id>%s</Id><SchmeNm><Cd>BBAN</Cd>"
         "</SchmeNm></Othr></Id><Ccy>CNY</Ccy></Acct>" % (msg_id[:30], acct)]
    for fen, ind, date, e2e, ustrd in entries:
        dtls = ""
        if e2e or ustrd:
            dtls = "<NtryDtls><TxDtls>%s%s</TxDtls></NtryDtls>" % (
                "<Refs><EndToEndId>%s</EndToEndId></Refs>" % e2e if e2e else "",
                "<RmtInf><Ustrd>%s</Ustrd></RmtInf>" % ustrd if ustrd else "")
        x.append('<Ntry><Amt Ccy="CNY">%s</Amt><CdtDbtInd>%s</CdtDbtInd>'
                 "<Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>%s</Dt></BookgDt>"
                 "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>DMCT"
                 "</SubFmlyCd></Fmly></Domn></BkTxCd>%s</Ntry>"
                 % (fen_to_yuan(fen), ind, date, dtls))
    x.append("</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>")
    return "\n".join(x).encode()
