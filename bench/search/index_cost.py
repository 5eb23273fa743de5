#!/usr/bin/env python3
"""bench/search/index_cost.py [--messages N] [--runs R] [--size BYTES] LABEL=OMTPD ...

What search indexing adds to storing a message, in SQLite alone: for each
LABEL=OMTPD (an omtpd binary: its `init` makes the store, so the schema and
triggers are that omtpd's), and once with the triggers dropped (`off`),
stores N single-chat text messages the way omtpd's executor does (batches
of 100, each message in its own SAVEPOINT, the search flush before COMMIT:
every commit for a schema before 10, once 2,048 entries wait from schema
10 on, sq_search_commit) and prints the process CPU per message. Runs are
interleaved (off, A, B, off, A, B, ...). Texts: random words of a mixed
Chinese/English vocabulary padded to BYTES (default 64, as
bench/search.sh's throughput part sends). Prints the machine and load.

Example (old main against this tree):
  python3 bench/search/index_cost.py --runs 3 main=/work/main/build/omtpd new=build/omtpd
"""
import argparse, os, random, shutil, sqlite3, subprocess, sys, tempfile, time

ap = argparse.ArgumentParser()
ap.add_argument("--messages", type=int, default=50000)
ap.add_argument("--runs", type=int, default=3)
ap.add_argument("--size", type=int, default=64)
ap.add_argument("servers", nargs="+")
a = ap.parse_args()
rnd = random.Random(7)
vocab = ("会议 项目 评审 上线 发布 北京 上海 服务器 数据库 明天 下午 合同 客户 "
         "meeting project review release deploy budget contract customer server latency").split()
texts = []
for _ in range(a.messages):
    t = ""
    while len(t.encode()) < a.size:
        t += rnd.choice(vocab) + " "
    texts.append(t.encode()[:a.size].decode(errors="ignore"))
work = tempfile.mkdtemp(prefix="idxcost-", dir=os.environ.get("TMPDIR", "/var/tmp"))
seeds = {}
for spec in a.servers:
    label, binary = spec.split("=", 1)
    d = os.path.join(work, "seed-" + label)
    subprocess.run([binary, "init", "--data-dir", d], check=True, stdout=subprocess.DEVNULL)
    seeds[label] = d
first = a.servers[0].split("=", 1)[0]
modes = [("off", seeds[first])] + [(l, seeds[l]) for l in seeds]
print(f"machine: {os.cpu_count()} cores, load {open('/proc/loadavg').read().split()[:3]}; "
      f"sqlite {sqlite3.sqlite_version}; {a.messages} messages of {a.size} bytes")


def run(label, seed):
    d = os.path.join(work, "run")
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(seed, d)
    c = sqlite3.connect(os.path.join(d, "omtp.db"), isolation_level=None)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("PRAGMA synchronous=OFF")  # the disk is not what is measured
    if label == "off":
        for t in ("search_ai", "search_au", "search_ad"):
            c.execute("DROP TRIGGER IF EXISTS " + t)
    cols = [r[1] for r in c.execute("PRAGMA table_info(messages)")]
    deferred = "search_id" in cols
    c.execute("INSERT INTO sessions(session_id, type, last_seq, changed_us, party_a, party_b) "
              "VALUES ('SC_a_b', 14, 0, 1, 'a', 'b')")
    t0 = time.process_time()
    seq = 0
    for i in range(0, a.messages, 100):
        c.execute("BEGIN")
        for t in texts[i:i + 100]:
            seq += 1
            c.execute("SAVEPOINT w")
            c.execute("INSERT INTO messages(session_id, seq, type, flags, pack_id, from_id, to_id, "
                      "push_info, content_type, content, status, ts_ms) "
                      "VALUES ('SC_a_b', ?, 14, 0, ?, 'a', 'b', '', 1, ?, 0, ?)",
                      (seq, f"p{seq}", t, seq))
            c.execute("RELEASE w")
        if label != "off":
            flush = True
            if deferred:
                n = c.execute("SELECT (SELECT max(id) FROM search_pending) - "
                              "(SELECT min(id) FROM search_pending) + 1").fetchone()[0] or 0
                flush = n >= 2048
            if flush:
                c.execute("INSERT INTO search_fts(rowid, body) SELECT id, body FROM search_pending")
                c.execute("DELETE FROM search_pending")
        c.execute("COMMIT")
    cpu = time.process_time() - t0
    c.close()
    return cpu * 1e6 / a.messages


res = {m: [] for m, _ in modes}
for r in range(a.runs):
    for label, seed in modes:
        us = run(label, seed)
        res[label].append(us)
        print(f"run {r + 1} {label}: {us:.1f} us/msg", flush=True)
base = sorted(res["off"])[len(res["off"]) // 2]
for label in res:
    med = sorted(res[label])[len(res[label]) // 2]
    print(f"{label}: median {med:.1f} us/msg, indexing adds {med - base:.1f} us/msg")
shutil.rmtree(work, ignore_errors=True)
