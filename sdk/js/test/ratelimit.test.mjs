// ratelimit.test.mjs - sends refused by omtpd's request rate limit
// (SERVER_REFUSED 7: not executed) are retried by the outbox with the same
// packId until accepted: every message arrives, each exactly once, in order
// of seqId.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { OmtpClient } from '../dist/node.js';
import { Server, sleep, until } from './helpers.mjs';

let srv;
const clients = [];
before(async () => {
    // --req-rate comes after the helper's --req-rate 0 and wins
    srv = new Server(['--req-rate', '4', '--req-burst', '2', '--req-refusals-max', '0']);
    srv.addUser('alice', 'pa');
    srv.addUser('bob', 'pb');
    await srv.start();
});
after(async () => {
    for (const c of clients) c.close();
    await srv.dispose();
});

test('rate-limited sends are retried and arrive exactly once', async () => {
    const a = new OmtpClient({ host: '127.0.0.1', port: srv.port, user: 'alice', password: 'pa', catchup: false });
    const b = new OmtpClient({ host: '127.0.0.1', port: srv.port, user: 'bob', password: 'pb', catchup: false });
    clients.push(a, b);
    const got = [];
    b.on('message', (m) => got.push(m.content));
    await a.connect();
    await b.connect();
    const acks = await Promise.all(Array.from({ length: 6 }, (_, i) => a.sendText('bob', `m${i}`)));
    assert.deepEqual(acks.map((x) => x.seqId).sort((x, y) => x - y), [1, 2, 3, 4, 5, 6]);
    assert.ok(a.stats().resends >= 1, 'some sends were refused and resent');
    await until(() => got.length === 6, 10000, 'six pushes');
    await sleep(300);
    assert.deepEqual([...got].sort(), ['m0', 'm1', 'm2', 'm3', 'm4', 'm5']);
});
