// helpers.mjs - start a real omtpd for the SDK tests (node --test).
//
// The binary comes from $OMTPD, else ../../build/omtpd (the repo's build dir,
// relative to sdk/js). Each server gets a temp data dir and a free port
// (--listen 127.0.0.1:0 --port-file), a WebSocket listener when the binary
// has --ws-listen, and no request rate limit. Everything is bounded in time.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(here, '..', '..', '..');
export const OMTPD = process.env.OMTPD || join(ROOT, 'build', 'omtpd');
export const OMTP = process.env.OMTP_CLI || join(ROOT, 'build', 'omtp');

let wsSupport = null;
/** Whether this omtpd has the WebSocket listener (--ws-listen). */
export function hasWs() {
    if (wsSupport === null) {
        const r = spawnSync(OMTPD, ['--help'], { encoding: 'utf8' });
        wsSupport = /--ws-listen/.test((r.stdout || '') + (r.stderr || ''));
    }
    return wsSupport;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFile(path, ms) {
    const end = Date.now() + ms;
    while (Date.now() < end) {
        if (existsSync(path)) {
            const s = readFileSync(path, 'utf8').trim();
            if (s) return s;
        }
        await sleep(50);
    }
    throw new Error(`omtpd did not write ${path} within ${ms} ms`);
}

export class Server {
    /** opts.http: also the HTTP API (api key `test-key`), for business notices. */
    constructor(extra = [], opts = {}) {
        if (!existsSync(OMTPD)) throw new Error(`${OMTPD} not found: build first (make build) or set OMTPD`);
        this.dir = mkdtempSync(join(tmpdir(), 'omtp-sdk-'));
        this.extra = extra;
        this.http = !!opts.http;
        this.httpPort = 0;
        this.port = 0;
        this.wsPort = 0;
        this.proc = null;
        this.log = '';
    }
    admin(...args) {
        const r = spawnSync(OMTPD, [...args, '--data-dir', this.dir], { encoding: 'utf8', timeout: 20000 });
        if (r.status !== 0) throw new Error(`omtpd ${args.join(' ')}: ${r.stderr || r.stdout}`);
        return r.stdout;
    }
    addUser(id, password = 'pw-' + id, role) {
        // admin commands never create a store: init does (nothing if it exists)
        this.admin('init');
        this.admin('user', 'add', id, '--password', password, ...(role ? ['--role', role] : []));
        return password;
    }
    /** Starts (or restarts on the same ports) and waits for the port files. */
    async start() {
        const pf = join(this.dir, `port.${Date.now()}`);
        const args = ['--listen', `127.0.0.1:${this.port}`, '--port-file', pf, '--data-dir', this.dir, '--req-rate', '0', '--log-level', 'info', ...this.extra];
        let wpf = null;
        if (hasWs()) {
            wpf = join(this.dir, `wsport.${Date.now()}`);
            args.push('--ws-listen', `127.0.0.1:${this.wsPort}`);
            if (spawnSync(OMTPD, ['--help'], { encoding: 'utf8' }).stdout.includes('--ws-port-file')) args.push('--ws-port-file', wpf);
            else wpf = null;
        }
        let hpf = null;
        if (this.http) {
            hpf = join(this.dir, `httpport.${Date.now()}`);
            args.push('--http-listen', `127.0.0.1:${this.httpPort}`, '--http-port-file', hpf, '--api-keys', 'test-key');
        }
        this.proc = spawn(OMTPD, args, { stdio: ['ignore', 'pipe', 'pipe'] });
        this.proc.stdout.on('data', (b) => (this.log += b));
        this.proc.stderr.on('data', (b) => (this.log += b));
        const exited = new Promise((r) => this.proc.once('exit', (c) => r(c)));
        this.exited = exited;
        const port = await Promise.race([waitFile(pf, 15000), exited.then((c) => Promise.reject(new Error(`omtpd exited with ${c}:\n${this.log}`)))]);
        this.port = Number(port);
        if (wpf) this.wsPort = Number(await waitFile(wpf, 15000));
        if (hpf) this.httpPort = Number(await waitFile(hpf, 15000));
        return this;
    }
    /** POST to the HTTP API; resolves with {status, body}. */
    async api(path, body) {
        const r = await fetch(`http://127.0.0.1:${this.httpPort}${path}`, {
            method: 'POST',
            headers: { Authorization: 'Bearer test-key', 'Content-Type': 'application/json' },
            body: JSON.stringify(body),
            signal: AbortSignal.timeout(10000),
        });
        return { status: r.status, body: await r.json().catch(() => null) };
    }
    /** A counter of /metrics (needs opts.http). */
    async metric(name) {
        const r = await fetch(`http://127.0.0.1:${this.httpPort}/metrics`, { signal: AbortSignal.timeout(10000) });
        const line = (await r.text()).split('\n').find((l) => l.startsWith(name + ' '));
        return line ? Number(line.split(' ')[1]) : 0;
    }
    get wsUrl() {
        return this.wsPort ? `ws://127.0.0.1:${this.wsPort}/ws` : null;
    }
    /**
     * Stops omtpd (SIGTERM) and checks that it shut down cleanly: exit status
     * 0, so that an ASan build's leak or error report fails the test.
     */
    async stop(signal = 'SIGTERM') {
        if (!this.proc) return;
        const p = this.proc;
        this.proc = null;
        p.kill('SIGCONT');
        if (p.exitCode === null && p.signalCode === null) {
            p.kill(signal);
            const t = setTimeout(() => p.kill('SIGKILL'), 20000);
            await this.exited;
            clearTimeout(t);
        }
        if (signal === 'SIGTERM' && p.exitCode !== 0)
            throw new Error(`omtpd did not stop cleanly (exit ${p.exitCode}, signal ${p.signalCode}):\n${this.log.slice(-4000)}`);
    }
    pause() {
        this.proc.kill('SIGSTOP');
    }
    resume() {
        this.proc.kill('SIGCONT');
    }
    async dispose() {
        try {
            await this.stop();
        } finally {
            rmSync(this.dir, { recursive: true, force: true });
        }
    }
}

/** Resolves when `pred()` is true (polled), or rejects after `ms`. */
export async function until(pred, ms = 10000, what = 'condition') {
    const end = Date.now() + ms;
    while (Date.now() < end) {
        if (await pred()) return;
        await sleep(20);
    }
    throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

export { sleep };
