#!/usr/bin/env python3
"""bench/search/fixture.py DB USERS PREFIX MESSAGES - fills an omtpd SQLite
store (made by `omtpd init` then `omtpd user bulk`, so it has omtpd's schema, search index
triggers included) with MESSAGES single-chat text messages by direct store
inserts: USERS users PREFIX0.., each in 20 conversations (with the users
1..10 places on either side), messages spread evenly over them, ~6 words of
a mixed Chinese/English vocabulary each, timestamps ascending over the past
100 days. The inserts go through the same triggers as omtpd's appends, so
the index is built as it would be (one flush into the FTS5 index at the
end, as omtpd's commit does). Prints JSON: rows, seconds, text bytes.
Deterministic (seeded)."""
import json, random, sqlite3, sys, time

db, users, prefix, total = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
rnd = random.Random(42)
zh = ("会议 项目 评审 上线 发布 北京 上海 深圳 周报 预算 合同 客户 需求 设计 测试 部署 服务器 数据库 "
      "明天 下午 今天 晚上 周末 午饭 咖啡 报表 季度 年度 目标 计划 进度 风险 问题 方案 文档 接口 性能 "
      "优化 监控 告警 故障 恢复 备份 迁移 升级 版本 分支 合并 代码 提交 审核 同事 经理 团队 部门 出差 "
      "机票 酒店 报销 发票 预约 电话 视频 链接 地址 照片 文件 表格 演示 培训 面试 招聘 简历 工资 假期").split()
en = ("meeting project review release deploy budget contract customer design testing server database "
      "tomorrow afternoon tonight weekend lunch coffee report quarter target schedule progress risk issue "
      "document interface latency monitor alert outage restore backup migrate upgrade version branch merge "
      "commit approve colleague manager team travel ticket hotel invoice booking phone video link address "
      "photo spreadsheet slides training interview salary holiday please thanks sure okay").split()
vocab = zh + en
con = sqlite3.connect(db)
con.execute("PRAGMA journal_mode=WAL")
con.execute("PRAGMA synchronous=OFF")
names = [f"{prefix}{i}" for i in range(users)]
pairs = []
for i in range(users):
    for d in range(1, 11):
        a, b = names[i], names[(i + d) % users]
        lo, hi = (a, b) if a < b else (b, a)
        pairs.append((f"SC_{lo}_{hi}", lo, hi))
pairs = sorted(set(pairs))
now_ms = int(time.time() * 1000)
t0 = time.time()
cur = con.cursor()
cur.execute("BEGIN")
us = now_ms * 1000
for sid, lo, hi in pairs:
    cur.execute("INSERT INTO sessions(session_id, type, last_seq, changed_us, party_a, party_b) "
                "VALUES (?, 14, 0, ?, ?, ?)", (sid, us, lo, hi))
    for u in (lo, hi):
        cur.execute("INSERT OR IGNORE INTO members(user_id, session_id, read_seq, changed_us, joined_ms) "
                    "VALUES (?, ?, 0, ?, ?)", (u, sid, us, now_ms))
seq = {sid: 0 for sid, _, _ in pairs}
start_ms = now_ms - 100 * 86400 * 1000
step = (100 * 86400 * 1000) / total
text_bytes = 0
batch = []
for k in range(total):
    sid, lo, hi = pairs[rnd.randrange(len(pairs))]
    seq[sid] += 1
    frm, to = (lo, hi) if rnd.random() < 0.5 else (hi, lo)
    words = [rnd.choice(vocab) for _ in range(rnd.randint(3, 9))]
    text = " ".join(words) if rnd.random() < 0.5 else "".join(words)
    text_bytes += len(text.encode())
    batch.append((sid, seq[sid], 14, 0, f"fx{k}", frm, to, "", 1, text, 0, int(start_ms + k * step)))
    if len(batch) == 20000:
        cur.executemany("INSERT INTO messages(session_id, seq, type, flags, pack_id, from_id, to_id, "
                        "push_info, content_type, content, status, ts_ms) "
                        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", batch)
        batch = []
        if k % 200000 < 20000:
            print(f"fixture: {k + 1} messages, {time.time() - t0:.0f} s", file=sys.stderr)
if batch:
    cur.executemany("INSERT INTO messages(session_id, seq, type, flags, pack_id, from_id, to_id, "
                    "push_info, content_type, content, status, ts_ms) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", batch)
# what omtpd does before every COMMIT (sq_search_flush): pending entries into the index
cur.execute("INSERT INTO search_fts(rowid, body) SELECT id, body FROM search_pending")
cur.execute("DELETE FROM search_pending")
for sid, n in seq.items():
    cur.execute("UPDATE sessions SET last_seq = ? WHERE session_id = ?", (n, sid))
cur.execute("COMMIT")
con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
print(json.dumps({"rows": total, "sessions": len(pairs), "seconds": round(time.time() - t0, 1),
                  "text_bytes": text_bytes}))
