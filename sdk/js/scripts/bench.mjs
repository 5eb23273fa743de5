#!/usr/bin/env node
// bench.mjs - chat throughput of the TypeScript SDK against a real omtpd,
// TCP and WebSocket interleaved (bench/sdk_js.sh; results in
// bench/RESULTS.md). alice sends N text messages to bob with at most W
// unacknowledged; a round ends when every ack and every push arrived. Per
// round: messages/s, omtpd CPU per message (utime+stime from
// /proc/PID/stat), and the Node process's CPU per message (both clients).
//
// usage: node scripts/bench.mjs --omtpd PATH [--n 3000] [--window 64] [--rounds 3]
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { OmtpClient } from '../dist/node.js';
import { Server, hasWs, until } from '../test/helpers.mjs';

const arg = (k, d) => {
    const i = process.argv.indexOf('--' + k);
    return i > 0 ? process.argv[i + 1] : d;
};
if (arg('omtpd')) process.env.OMTPD = arg('omtpd');
const N = Number(arg('n', 3000));
const W = Number(arg('window', 64));
const ROUNDS = Number(arg('rounds', 3));
const TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

const srvCpu = (pid) => {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1e6) / TCK; // us
};

const srv = new Server();
srv.addUser('alice', 'pa');
srv.addUser('bob', 'pb');
await srv.start();
const transports = hasWs() ? ['tcp', 'ws'] : ['tcp'];
const rows = [];
let dev = 0;
for (let r = 1; r <= ROUNDS; r++) {
    for (const t of transports) {
        const where = t === 'ws' ? { url: srv.wsUrl } : { host: '127.0.0.1', port: srv.port };
        const dt = (dev++ % 5) + 1;
        const a = new OmtpClient({ ...where, user: 'alice', password: 'pa', deviceType: dt, catchup: false, keepaliveMs: 0, requestTimeoutMs: 30000 });
        const b = new OmtpClient({ ...where, user: 'bob', password: 'pb', deviceType: dt, catchup: false, keepaliveMs: 0 });
        let got = 0;
        b.on('message', () => got++);
        await a.connect();
        await b.connect();
        const text = 'x'.repeat(100);
        const c0 = srvCpu(srv.proc.pid);
        const p0 = process.cpuUsage();
        const t0 = process.hrtime.bigint();
        let sent = 0;
        let acked = 0;
        await new Promise((resolve, reject) => {
            const pump = () => {
                while (sent < N && sent - acked < W) {
                    sent++;
                    a.sendText('bob', text).then(() => {
                        acked++;
                        if (acked === N) resolve();
                        else pump();
                    }, reject);
                }
            };
            pump();
        });
        await until(() => got === N, 60000, 'every push');
        const secs = Number(process.hrtime.bigint() - t0) / 1e9;
        const pc = process.cpuUsage(p0);
        const c1 = srvCpu(srv.proc.pid);
        rows.push({ round: r, transport: t, rate: N / secs, srvUs: (c1 - c0) / N, nodeUs: (pc.user + pc.system) / N });
        a.close();
        b.close();
    }
}
await srv.dispose();
console.log(`N=${N} window=${W} rounds=${ROUNDS} (100-byte texts, alice -> bob, ack + push)`);
console.log('| round | transport | msgs/s | omtpd CPU us/msg | Node CPU us/msg (both clients) |');
console.log('|---:|---|---:|---:|---:|');
for (const x of rows) console.log(`| ${x.round} | ${x.transport} | ${Math.round(x.rate)} | ${x.srvUs.toFixed(1)} | ${x.nodeUs.toFixed(1)} |`);
const med = (t, k) => {
    const v = rows.filter((x) => x.transport === t).map((x) => x[k]).sort((p, q) => p - q);
    return v[Math.floor(v.length / 2)];
};
for (const t of transports) console.log(`median ${t}: ${Math.round(med(t, 'rate'))} msgs/s, omtpd ${med(t, 'srvUs').toFixed(1)} us/msg, Node ${med(t, 'nodeUs').toFixed(1)} us/msg`);
