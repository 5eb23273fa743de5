#!/usr/bin/env bash
# bench/search/pg_sizes.sh BUILD_DIR [MESSAGES] - the PostgreSQL search
# index's size against the text it indexes: a private PostgreSQL
# (tests/scripts/pg_redis_env.sh), omtpd's schema (omtpd starts on it once,
# running its migrations), MESSAGES (default 200000) text messages of
# bench/search/fixture.py's vocabulary inserted through omtpd's search
# trigger (COPY), then: the GIN pg_trgm index (messages_search_trgm), the
# search_body column (a second copy of the capped text), the
# messages_by_ts index, against the text's bytes. Prints JSON.
set -euo pipefail
B=$(cd "${1:?usage: pg_sizes.sh BUILD_DIR [MESSAGES]}" && pwd)
N=${2:-200000}
HERE=$(cd "$(dirname "$0")" && pwd)
if [ -z "${OMTP_TEST_PG:-}" ]; then
  exec bash "$HERE/../../tests/scripts/pg_redis_env.sh" -- bash "$0" "$B" "$N"
fi
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
"$B/omtpd" --store "$OMTP_TEST_PG" --listen 127.0.0.1:0 --port-file "$W/port" --log-level warn \
  --data-dir "$W/d" 2>"$W/log" &
P=$!
for _ in $(seq 1 300); do [ -s "$W/port" ] && break; sleep 0.1; done
kill "$P"; wait "$P" 2>/dev/null || true
[ -s "$W/port" ] || { cat "$W/log"; exit 1; }
python3 - "$N" >"$W/rows.tsv" <<'PY'
import random, sys
n = int(sys.argv[1]); rnd = random.Random(42)
zh = "会议 项目 评审 上线 发布 北京 上海 深圳 周报 预算 合同 客户 需求 设计 测试 部署 服务器 数据库 明天 下午".split()
en = "meeting project review release deploy budget contract customer design testing server database".split()
v = zh + en
for k in range(n):
    w = [rnd.choice(v) for _ in range(rnd.randint(3, 9))]
    t = " ".join(w) if rnd.random() < 0.5 else "".join(w)
    print(f"SC_su{k % 10000}\t{k}\t14\tfx{k}\tsu{k % 1000}\t\\\\x{t.encode().hex()}\t1\t{k}")
PY
psql -q "$OMTP_TEST_PG" -c "\\copy messages(session_id, seq, type, pack_id, from_id, content, content_type, ts_ms) FROM '$W/rows.tsv'"
psql -q "$OMTP_TEST_PG" -c "VACUUM ANALYZE messages" >/dev/null
psql -At "$OMTP_TEST_PG" -c "SELECT json_build_object(
  'messages', count(*), 'text_bytes', sum(octet_length(content)),
  'search_body_bytes', sum(pg_column_size(search_body)),
  'gin_trgm_bytes', pg_relation_size('messages_search_trgm'),
  'by_ts_bytes', pg_relation_size('messages_by_ts'),
  'gin_over_text', round(pg_relation_size('messages_search_trgm')::numeric / sum(octet_length(content)), 2),
  'index_over_text', round((pg_relation_size('messages_search_trgm') + pg_relation_size('messages_by_ts')
     + sum(pg_column_size(search_body)))::numeric / sum(octet_length(content)), 2))
  FROM messages"
