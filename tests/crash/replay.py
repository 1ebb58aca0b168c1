"""Turns a kill -9 into a power cut: reads the undo journal written by build/powercut.so
(tests/crash/powercut.c) in a folder and undoes a random part of what no sync covered.

What a power cut may do, and so what this does:
  - a write not followed by a sync of its file may be lost, per 512-byte sector, each
    sector independently: a sector holds one of the values it had since the last sync
    (its whole history is undone in reverse up to a random point);
  - the size of such a file goes back to one it had since the last sync;
  - names created, renamed or removed in a folder since its last sync go back to a random
    earlier point of that folder's history (in order);
  - the -shm files (shared memory, never synced) are gone.
A synced write is never undone. The journal, the moved-aside unlinked files and the -shm
files are removed; the folder is then as a reboot would find it.

freeze_at() picks the I/O operation to cut at instead of a moment: the shim stops the
process (before that operation) and the caller kills it. The shim empties the journal
whenever syncs cover every record in it.

Python 3 standard library only. Usage (by tests/faults/test_powercut.py):
    stats = replay.power_cut(folder, random.Random(seed), keep=0.5)
"""

import os
import struct

JOURNAL = "powercut.journal"
FREEZE = "powercut.freeze"      # holds N: the shim stops N records later
FROZEN = "powercut.frozen"      # made by the shim once stopped
HIDDEN = ".powercut-unlinked."
MAGIC = 0x31524350
HDR = struct.Struct("<IIIIQQQQ")
WRITE, TRUNCATE, CREATE, RENAME, UNLINK, SYNC, SYNC_DIR = range(1, 8)
SECTOR = 512


class JournalError(Exception):
    pass


class Rec:
    __slots__ = ("type", "path", "path2", "a", "b", "c", "data", "pending", "keep")

    def __init__(self, typ, path, path2, a, b, c, data):
        self.type, self.path, self.path2 = typ, path, path2
        self.a, self.b, self.c, self.data = a, b, c, data
        self.pending = False
        self.keep = True

    def new_size(self):
        if self.type == WRITE:
            return max(self.c, self.a + self.b)
        return self.a

    def changes_size(self):
        return self.type in (WRITE, TRUNCATE) and self.new_size() != self.c


def read_journal(path):
    """The records; a torn last record (the process died writing it; its operation
    never ran) is dropped."""
    try:
        with open(path, "rb") as f:
            buf = f.read()
    except FileNotFoundError:
        return []
    out, off = [], 0
    while off + HDR.size <= len(buf):
        magic, typ, plen, p2len, a, b, c, dlen = HDR.unpack_from(buf, off)
        if magic != MAGIC or not WRITE <= typ <= SYNC_DIR:
            raise JournalError("bad record at offset %d of %s" % (off, path))
        end = off + HDR.size + plen + p2len + dlen
        if end > len(buf):
            break
        p = off + HDR.size
        out.append(Rec(typ, buf[p:p + plen].decode(), buf[p + plen:p + plen + p2len].decode(),
                       a, b, c, buf[p + plen + p2len:end]))
        off = end
    return out


def mark_pending(recs):
    """Sets .pending on every record no later sync covers."""
    data = {}       # path -> [records since its last sync]
    names = {}      # folder -> [records since its last sync]
    for r in recs:
        if r.type in (WRITE, TRUNCATE):
            data.setdefault(r.path, []).append(r)
        elif r.type == SYNC:
            data.pop(r.path, None)
        elif r.type == SYNC_DIR:
            names.pop(r.path, None)
        else:
            names.setdefault(os.path.dirname(r.path), []).append(r)
            if r.type == RENAME and data.get(r.path):
                # The keeper syncs a file before it renames it; this tool does not
                # follow unsynced bytes across a rename.
                raise JournalError("unsynced writes to %s before its rename" % r.path)
            if r.type in (RENAME, UNLINK):
                data.pop(r.path, None)
            if r.type == RENAME:
                data.pop(r.path2, None)
    for lst in list(data.values()) + list(names.values()):
        for r in lst:
            r.pending = True
    return data, names


def choose(data, names, rng, keep):
    """Decides what the cut keeps. Returns {path: final size} for files whose size
    changed since their last sync; sets .keep on namespace records and a per-sector
    plan on data records (r.keep = the sectors of the record to undo)."""
    sizes = {}
    for path, lst in data.items():
        # Sectors: walking back in time, each sector stops at a random write.
        stopped = set()
        for r in reversed(lst):
            lo, hi = (r.a, r.a + r.b) if r.type == WRITE else (r.a, max(r.a, r.c))
            undo = []
            for s in range(lo // SECTOR, (hi + SECTOR - 1) // SECTOR):
                if s in stopped:
                    continue
                if rng.random() < keep:
                    stopped.add(s)
                else:
                    undo.append(s)
            r.keep = undo       # the sectors of this record to undo
        resized = [r for r in lst if r.changes_size()]
        if resized:
            final = resized[0].c
            for r in reversed(resized):
                if rng.random() < keep:
                    final = r.new_size()
                    break
            sizes[path] = final
    for lst in names.values():
        cut = rng.randint(0, len(lst)) if 0.0 < keep < 1.0 else (len(lst) if keep >= 1.0
                                                                 else 0)
        for i, r in enumerate(lst):
            r.keep = i < cut
    return sizes


def _undo_bytes(r, sectors):
    """Writes back the old bytes of the given sectors of a write or truncation."""
    if not os.path.exists(r.path):
        return 0
    lo, hi = (r.a, r.a + r.b) if r.type == WRITE else (r.a, max(r.a, r.c))
    n = 0
    with open(r.path, "r+b") as f:
        for s in sectors:
            a, b = max(lo, s * SECTOR), min(hi, (s + 1) * SECTOR)
            if a >= b:
                continue
            # Old bytes below the old size are in the record; beyond it there were
            # none (zeros, cut again by the final size).
            old = bytearray(b - a)
            have_end = min(b, r.c)
            if a < have_end:
                chunk = r.data[a - lo:have_end - lo]
                old[:len(chunk)] = chunk
            f.seek(a)
            f.write(old)
            n += 1
    return n


def freeze_at(folder, n):
    """Asks the shim to stop right after its nth record from now, before the
    operation it is for."""
    tmp = os.path.join(folder, FREEZE + ".tmp")
    with open(tmp, "w") as f:
        f.write("%d" % n)
    os.rename(tmp, os.path.join(folder, FREEZE))


def frozen(folder):
    return os.path.exists(os.path.join(folder, FROZEN))


def power_cut(folder, rng, keep=None):
    """Applies a random power cut to folder (daemon dead). keep is the chance that an
    unsynced write (per sector) survives; None picks one of 0, 1, 0.5, or any.
    Returns figures for the report."""
    if keep is None:
        keep = rng.choice([0.0, 1.0, 0.5, rng.random()])
    recs = read_journal(os.path.join(folder, JOURNAL))
    data, names = mark_pending(recs)
    sizes = choose(data, names, rng, keep)
    stats = {"keep": round(keep, 3), "records": len(recs), "pending_writes": 0,
             "sectors_undone": 0, "names_undone": 0, "resized": 0}
    for r in reversed(recs):
        if not r.pending:
            continue
        if r.type in (WRITE, TRUNCATE):
            stats["pending_writes"] += 1
            stats["sectors_undone"] += _undo_bytes(r, r.keep)
        elif not r.keep:
            stats["names_undone"] += 1
            if r.type == CREATE and os.path.isfile(r.path):
                os.unlink(r.path)
            elif r.type == RENAME and os.path.exists(r.path2):
                os.rename(r.path2, r.path)
                if r.a:
                    with open(r.path2, "wb") as f:
                        f.write(r.data)
            elif r.type == UNLINK and os.path.exists(r.path2):
                os.rename(r.path2, r.path)
    for path, size in sizes.items():
        if os.path.exists(path) and os.path.getsize(path) != size:
            os.truncate(path, size)
            stats["resized"] += 1
    for name in os.listdir(folder):
        if HIDDEN in name or name.endswith("-shm") or name.startswith("powercut."):
            os.unlink(os.path.join(folder, name))
    return stats
