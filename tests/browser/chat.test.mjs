// The web chat app in a real browser: Debian's chromium driven by
// puppeteer-core against the real omtpd (from the build directory) serving
// web/dist on its WebSocket listener. Run by tests/scripts/web_browser.sh
// (ctest: script_web_browser), which sets OMTPD, OMTP_CLI, CHROMIUM,
// WEB_DIST and FAIL_DIR.
//
// Every wait is for a condition on the page (waitForFunction) with a bound,
// never a fixed sleep; a step that fails leaves a screenshot of every open
// page in FAIL_DIR and prints its path.
//
// `node chat.test.mjs --screenshot OUT.png` (no test runner) instead makes
// the picture in docs/: alice and bob chatting, side by side.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import puppeteer from 'puppeteer-core';

const run = promisify(execFile);
const OMTPD = process.env.OMTPD;
const CLI = process.env.OMTP_CLI;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const WEB_DIST = process.env.WEB_DIST;
const FAIL_DIR = process.env.FAIL_DIR || path.join(os.tmpdir(), 'omtp-browser-failures');
const WAIT = 20000; // ms: the bound of one wait on a loaded 2-core box
const SHOT = process.argv.includes('--screenshot') ? process.argv[process.argv.indexOf('--screenshot') + 1] : '';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'omtp-web-'));
const data = path.join(tmp, 'data');
const log = path.join(tmp, 'omtpd.log');
let tcpPort = 0;
let wsPort = 0;
let httpPort = 0; // the HTTP API, for business notifications
const API_KEY = 'browser-test-key';
let server = null; // the omtpd child
let browser = null;
const pages = new Set();
let failedAny = false;
const PW = { alice: 'alice-pw', bob: 'bob-pw', carol: 'carol-pw', dave: 'dave-pw' };
const MAX_FILE = 1024 * 1024; // max_file_size of the test server: the 413 case

/** A real PNG (RGB gradient) of w x h, made here so the test needs no image file. */
function png(w, h) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (b) => {
    let c = 0xffffffff;
    for (const x of b) c = crcTable[(c ^ x) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, body) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(body.length);
    const tb = Buffer.concat([Buffer.from(type, 'ascii'), body]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(tb));
    return Buffer.concat([len, tb, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const o = y * (w * 3 + 1) + 1 + x * 3;
      raw[o] = (x * 255) / w;
      raw[o + 1] = (y * 255) / h;
      raw[o + 2] = 128;
    }
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

/** A WAV file (PCM 8 kHz mono, a 440 Hz tone) of `ms` milliseconds. */
function wav(ms) {
  const n = Math.round((8000 * ms) / 1000);
  const b = Buffer.alloc(44 + n * 2);
  b.write('RIFF', 0);
  b.writeUInt32LE(36 + n * 2, 4);
  b.write('WAVEfmt ', 8);
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20); // PCM
  b.writeUInt16LE(1, 22); // mono
  b.writeUInt32LE(8000, 24);
  b.writeUInt32LE(16000, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36);
  b.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 8000)), 44 + i * 2);
  return b;
}

/** Drops (or pastes) a file made in the page onto the conversation (or the composer). */
function dropFile(p, how, name, type, bytes) {
  return p.evaluate(
    (how, name, type, b64) => {
      const bin = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bin], name, { type }));
      if (how === 'paste') {
        document.querySelector('[data-testid=composer]').dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
      } else {
        const target = document.querySelector('[data-testid=conversation]');
        target.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
        target.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      }
    },
    how,
    name,
    type,
    Buffer.from(bytes).toString('base64'),
  );
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function httpGet(url, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.setTimeout(3000, () => req.destroy(new Error('timeout')));
  });
}

async function until(what, fn, ms = WAIT) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      if (await fn()) return;
    } catch (e) {
      if (e.fatal) throw e;
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ` (${last.message})` : ''}`);
}

async function startServer() {
  const out = fs.openSync(log, 'a');
  server = spawn(
    OMTPD,
    [
      '--data-dir', data,
      '--listen', `127.0.0.1:${tcpPort}`,
      '--ws-listen', `127.0.0.1:${wsPort}`,
      '--web-root', WEB_DIST,
      '--http-listen', `127.0.0.1:${httpPort}`,
      '--api-keys', API_KEY,
      '--max-file-size', String(MAX_FILE),
      '--log-level', 'info',
    ],
    { stdio: ['ignore', out, out] },
  );
  const child = server;
  let exited = null;
  child.once('exit', (code, sig) => (exited = `omtpd exited (${code ?? sig})`));
  await until('omtpd to serve the app at /', async () => {
    if (exited) throw Object.assign(new Error(exited), { fatal: true });
    return (await httpGet(`http://127.0.0.1:${wsPort}/`)) === 200;
  }).catch((e) => {
    throw new Error(`${e.message}\nomtpd log (${log}):\n${fs.readFileSync(log, 'utf8').slice(-2000)}`);
  });
}

async function stopServer() {
  const child = server;
  server = null;
  if (!child || child.exitCode !== null) return;
  const gone = new Promise((r) => child.once('exit', (code, sig) => r(sig ? `signal ${sig}` : code)));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 10000);
  const how = await gone;
  clearTimeout(t);
  // a clean stop exits 0 (under ASan: no leak, no error report)
  if (how !== 0) throw new Error(`omtpd did not stop cleanly (${how}); log ${log}:\n${fs.readFileSync(log, 'utf8').slice(-3000)}`);
}

async function shootAll(step) {
  fs.mkdirSync(FAIL_DIR, { recursive: true });
  let i = 0;
  for (const p of pages) {
    if (p.isClosed()) continue;
    const file = path.join(FAIL_DIR, `${step.replace(/[^a-z0-9]+/gi, '-')}-${++i}.png`);
    try {
      await p.screenshot({ path: file, fullPage: true });
      console.error(`web_browser: screenshot of the failing step: ${file}`);
    } catch {
      /* page gone */
    }
  }
}

/** Runs a step; on failure keeps screenshots and rethrows. */
async function step(name, fn) {
  try {
    await fn();
  } catch (e) {
    failedAny = true;
    await shootAll(name);
    throw e;
  }
}

async function newPage(ctx, width = 900, height = 640) {
  const p = await ctx.newPage();
  pages.add(p);
  p.on('close', () => pages.delete(p));
  // an exception in the app stops its rendering: say so next to the failing step
  p.on('pageerror', (e) => console.error(`web_browser: page error: ${e.message}`));
  await p.setViewport({ width, height });
  p.setDefaultTimeout(WAIT);
  return p;
}

async function login(ctx, user, opts = {}) {
  const p = await newPage(ctx, opts.width, opts.height);
  await p.goto(`http://127.0.0.1:${wsPort}/`, { waitUntil: 'load' });
  await signIn(p, user);
  return p;
}

/** Fills the sign-in form (the user field may be prefilled) and waits until signed in. */
async function signIn(p, user) {
  await p.waitForSelector('input[name=user]');
  await p.click('input[name=user]', { clickCount: 3 });
  await p.keyboard.press('Backspace');
  await p.type('input[name=user]', user);
  await p.type('input[name=password]', PW[user]);
  await p.keyboard.press('Enter');
  await p.waitForSelector('[data-testid=me]');
}

/** Opens the conversation with `peer` (from the list or by user id). */
async function openChat(p, me, peer) {
  const sid = me < peer ? `SC_${me}_${peer}` : `SC_${peer}_${me}`;
  const item = await p.$(`[data-testid=conv][data-session="${sid}"]`);
  if (item) await item.click();
  else {
    await p.type('[data-testid=start-peer]', peer);
    await p.keyboard.press('Enter');
  }
  await p.waitForFunction((t) => document.querySelector('[data-testid=conv-open-title]')?.textContent?.includes(t), {}, peer);
}

async function send(p, text) {
  await p.focus('[data-testid=composer]');
  await p.keyboard.type(text);
  await p.keyboard.press('Enter');
}

/** Waits until the open conversation shows `text` `n` times (default: at least once). */
function waitText(p, text, what) {
  return p
    .waitForFunction(
      (t) => [...document.querySelectorAll('[data-testid=msg-text]')].some((e) => e.textContent === t),
      { timeout: WAIT },
      text,
    )
    .catch((e) => {
      throw new Error(`${what}: "${text}" did not appear (${e.message})`);
    });
}

/** Waits until my message `text` shows the delivery mark `state`. */
async function waitMark(p, text, state) {
  const get = () =>
    p.evaluate((t) => [...document.querySelectorAll('[data-testid=msg]')].find((m) => m.textContent.includes(t))?.dataset.delivery ?? 'absent', text);
  try {
    await p.waitForFunction(
      (t, st) => [...document.querySelectorAll('[data-testid=msg]')].some((m) => m.textContent.includes(t) && m.dataset.delivery === st),
      { timeout: WAIT },
      text,
      state,
    );
  } catch {
    throw new Error(`"${text}" is not marked ${state} but ${await get()} (page flags ${JSON.stringify(await p.evaluate(() => ({ ...document.documentElement.dataset })))})`);
  }
}

function countText(p, text) {
  return p.evaluate(
    (t) => [...document.querySelectorAll('[data-testid=msg-text]')].filter((e) => e.textContent === t).length,
    text,
  );
}

async function setup() {
  await run(OMTPD, ['init', '--data-dir', data]); // admin commands never create a store
  for (const [u, pw] of Object.entries(PW)) {
    await run(OMTPD, ['user', 'add', u, '--password', pw, '--data-dir', data]);
  }
  tcpPort = await freePort();
  wsPort = await freePort();
  httpPort = await freePort();
  await startServer();
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--no-first-run',
      '--disable-background-timer-throttling',
      '--disable-renderer-backgrounding',
    ],
    protocolTimeout: 60000,
  });
}

async function teardown() {
  try {
    await browser?.close();
  } catch {
    /* already closed */
  }
  let err = null;
  try {
    await stopServer();
  } catch (e) {
    err = e;
  }
  if (!err && !failedAny) fs.rmSync(tmp, { recursive: true, force: true });
  else console.error(`web_browser: omtpd's data and log kept in ${tmp}`);
  if (err) throw err;
}

if (SHOT) {
  // the picture for docs/: two browsers chatting, side by side
  try {
    await setup();
    const a = await login(await browser.createBrowserContext(), 'alice', { width: 760, height: 500 });
    const b = await login(await browser.createBrowserContext(), 'bob', { width: 760, height: 500 });
    await openChat(a, 'alice', 'bob');
    await send(a, 'Hi Bob! Lunch at noon?');
    await waitText(a, 'Hi Bob! Lunch at noon?', 'alice');
    await b.waitForSelector('[data-testid=conv]');
    await openChat(b, 'bob', 'alice');
    await send(b, 'Sure, see you at the usual place.');
    await waitText(a, 'Sure, see you at the usual place.', 'alice');
    await send(a, 'Great, see you there.');
    await waitText(b, 'Great, see you there.', 'bob');
    await b.waitForFunction(() => !document.querySelector('[data-testid=unread]'));
    const left = (await a.screenshot({ encoding: 'base64' })).toString();
    const right = (await b.screenshot({ encoding: 'base64' })).toString();
    const c = await newPage(await browser.createBrowserContext(), 1580, 540);
    await c.setContent(
      `<body style="margin:0;background:#8a94a6;display:flex;gap:20px;padding:20px">` +
        `<img src="data:image/png;base64,${left}" style="border-radius:8px"><img src="data:image/png;base64,${right}" style="border-radius:8px"></body>`,
    );
    await c.screenshot({ path: SHOT });
    console.log(`wrote ${SHOT}`);
  } finally {
    await teardown();
  }
} else {
  let ctxA, ctxB, alice, bob;
  let fa, fb; // the media tests' pages

  before(setup);
  after(teardown);

  test('two pages log in as alice and bob and chat both ways', async () => {
    await step('chat-both-ways', async () => {
      ctxA = await browser.createBrowserContext();
      ctxB = await browser.createBrowserContext();
      alice = await login(ctxA, 'alice');
      bob = await login(ctxB, 'bob');
      await openChat(alice, 'alice', 'bob');
      await send(alice, 'hello bob');
      // alice's own copy: acked (sent), not left pending
      await alice.waitForFunction(
        () => [...document.querySelectorAll('[data-testid=msg]')].some((m) => m.textContent.includes('hello bob') && /^(sent|delivered|read)$/.test(m.dataset.delivery)),
      );
      // bob sees the new conversation live, with an unread badge
      await bob.waitForSelector('[data-testid=conv][data-session="SC_alice_bob"] [data-testid=unread]');
      await openChat(bob, 'bob', 'alice');
      await waitText(bob, 'hello bob', 'bob');
      await send(bob, 'hi alice');
      await waitText(alice, 'hi alice', 'alice');
      // Shift+Enter is a newline, not a send
      await bob.focus('[data-testid=composer]');
      await bob.keyboard.type('two');
      await bob.keyboard.down('Shift');
      await bob.keyboard.press('Enter');
      await bob.keyboard.up('Shift');
      await bob.keyboard.type('lines');
      await bob.keyboard.press('Enter');
      await waitText(alice, 'two\nlines', 'alice');
    });
  });

  test("bob's unread badge counts the messages sent while his page was closed", async () => {
    await step('unread-badge', async () => {
      await bob.close();
      for (const t of ['while away 1', 'while away 2', 'while away 3']) await send(alice, t);
      await alice.waitForFunction(
        () => [...document.querySelectorAll('[data-testid=msg]')].filter((m) => m.textContent.includes('while away') && /^(sent|delivered|read)$/.test(m.dataset.delivery)).length === 3,
      );
      bob = await newPage(ctxB);
      await bob.goto(`http://127.0.0.1:${wsPort}/`, { waitUntil: 'load' });
      // the form remembers who signed in last on this browser
      assert.equal(await bob.$eval('input[name=user]', (e) => e.value), 'bob');
      await signIn(bob, 'bob');
      const badge = await bob.waitForSelector('[data-testid=conv][data-session="SC_alice_bob"] [data-testid=unread]');
      assert.equal(await badge.evaluate((e) => e.textContent.trim()), '3');
      const last = await bob.$eval('[data-testid=conv][data-session="SC_alice_bob"] [data-testid=conv-last]', (e) => e.textContent);
      assert.match(last, /while away 3/);
      await openChat(bob, 'bob', 'alice');
      await waitText(bob, 'while away 3', 'bob');
      await bob.waitForFunction(() => !document.querySelector('[data-testid=conv][data-session="SC_alice_bob"] [data-testid=unread]'));
    });
  });

  test('a revoke shows on the other page', async () => {
    await step('revoke', async () => {
      await send(alice, 'oops, wrong chat');
      await waitText(bob, 'oops, wrong chat', 'bob');
      const seq = await alice.waitForFunction(() => {
        const m = [...document.querySelectorAll('[data-testid=msg]')].find((x) => x.textContent.includes('oops, wrong chat') && /^(sent|delivered|read)$/.test(x.dataset.delivery));
        return m ? m.dataset.seq : null;
      });
      const seqId = await seq.jsonValue();
      // the message's menu, by keyboard: focus the button, Enter opens, arrows move
      await alice.focus(`[data-testid=msg][data-seq="${seqId}"] [data-testid=msg-menu]`);
      await alice.keyboard.press('Enter');
      await alice.waitForSelector(`[data-testid=msg][data-seq="${seqId}"] [role=menu]`);
      await alice.waitForFunction(() => document.activeElement?.getAttribute('role') === 'menuitem');
      // items: Edit, Revoke, Delete; the first has the focus
      await alice.keyboard.press('ArrowDown');
      assert.equal(await alice.evaluate(() => document.activeElement.textContent), 'Revoke');
      await alice.keyboard.press('Enter');
      await bob.waitForFunction(
        (s) => document.querySelector(`[data-testid=msg][data-seq="${s}"] [data-testid=msg-text]`)?.textContent === 'Message revoked',
        {},
        seqId,
      );
      assert.equal(await countText(bob, 'oops, wrong chat'), 0);
    });
  });

  test('a message sent by the C omtp CLI appears in the page', async () => {
    await step('cli', async () => {
      // alice in a terminal too: another device type than her browser's
      // (headless chromium on Linux logs in as linux; one login per type)
      await run(CLI, ['send', 'bob', 'sent from the terminal', '--server', `127.0.0.1:${tcpPort}`, '--user', 'alice', '--password', PW.alice, '--device', 'android'], { timeout: WAIT });
      await waitText(bob, 'sent from the terminal', 'bob (open conversation)');
      // and from a user bob has no conversation with yet: a new list entry
      await run(CLI, ['send', 'bob', 'carol here', '--server', `127.0.0.1:${tcpPort}`, '--user', 'carol', '--password', PW.carol], { timeout: WAIT });
      const item = await bob.waitForSelector('[data-testid=conv][data-session="SC_bob_carol"]');
      assert.match(await item.evaluate((e) => e.textContent), /carol here/);
      assert.match(await item.evaluate((e) => e.querySelector('[data-testid=unread]')?.textContent ?? ''), /^1$/);
    });
  });

  test('after omtpd restarts the pages reconnect and a message typed meanwhile arrives exactly once', async () => {
    await step('restart', async () => {
      await stopServer();
      await alice.waitForSelector('[data-testid=banner]');
      await bob.waitForSelector('[data-testid=banner]');
      await send(alice, 'typed while the server was down');
      await alice.waitForFunction(
        () => [...document.querySelectorAll('[data-testid=msg]')].some((m) => m.textContent.includes('typed while the server was down') && m.dataset.delivery === 'pending'),
      );
      await startServer();
      await alice.waitForFunction(() => !document.querySelector('[data-testid=banner]'), { timeout: 60000 });
      await bob.waitForFunction(() => !document.querySelector('[data-testid=banner]'), { timeout: 60000 });
      await waitText(bob, 'typed while the server was down', 'bob after the restart');
      await alice.waitForFunction(
        () => [...document.querySelectorAll('[data-testid=msg]')].some((m) => m.textContent.includes('typed while the server was down') && /^(sent|delivered|read)$/.test(m.dataset.delivery)),
      );
      // one more message after it: when it is shown, anything duplicated
      // would have been shown too
      await send(alice, 'after the restart');
      await waitText(bob, 'after the restart', 'bob');
      assert.equal(await countText(bob, 'typed while the server was down'), 1, 'bob shows the message once');
      assert.equal(await countText(alice, 'typed while the server was down'), 1, 'alice shows the message once');
      // and the server stored it once: bob's history, read by the CLI
      // (another device type, so the pages stay signed in)
      const { stdout } = await run(CLI, ['history', 'alice', '--json', '--server', `127.0.0.1:${tcpPort}`, '--user', 'bob', '--password', PW.bob, '--device', 'android'], { timeout: WAIT });
      assert.match(stdout, /after the restart/, 'the CLI reads the history');
      assert.equal(stdout.split('typed while the server was down').length - 1, 1, 'history holds the message once');
    });
  });

  test('a page from a foreign Origin is refused', async () => {
    await step('foreign-origin', async () => {
      // a page served from another origin (another port) tries the socket
      const page = `<!doctype html><script>
        window.result = new Promise((resolve) => {
          const ws = new WebSocket('ws://127.0.0.1:${wsPort}/ws', 'omtp');
          ws.onopen = () => resolve('open');
          ws.onerror = () => resolve('refused');
          ws.onclose = (e) => resolve('closed ' + e.code);
        });
      </script>`;
      const foreign = http.createServer((_, res) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end(page);
      });
      await new Promise((r) => foreign.listen(0, '127.0.0.1', r));
      try {
        const p = await newPage(await browser.createBrowserContext());
        await p.goto(`http://127.0.0.1:${foreign.address().port}/`);
        const r = await p.evaluate(() => window.result);
        assert.notEqual(r, 'open', 'the foreign page got a socket');
        // what the browser sent, spelled out: 403 for that Origin
        const status = await new Promise((resolve, reject) => {
          const req = http.get(`http://127.0.0.1:${wsPort}/ws`, {
            headers: {
              Connection: 'Upgrade',
              Upgrade: 'websocket',
              'Sec-WebSocket-Version': '13',
              'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
              'Sec-WebSocket-Protocol': 'omtp',
              Origin: `http://127.0.0.1:${foreign.address().port}`,
            },
          });
          req.on('response', (res) => {
            res.resume();
            resolve(res.statusCode);
          });
          req.on('upgrade', (res, sock) => {
            sock.destroy();
            resolve(res.statusCode);
          });
          req.on('error', reject);
        });
        assert.equal(status, 403);
        // the app's own pages are still chatting
        await send(bob, 'still here');
        await waitText(alice, 'still here', 'alice');
        await p.close();
      } finally {
        foreign.close();
      }
    });
  });

  test('my messages are marked read once the peer has read them (read-receipt extension)', async (t) => {
    await step('read-marks', async () => {
      // bob has the conversation open: he reads it as it arrives
      await send(alice, 'did you read this?');
      await waitText(bob, 'did you read this?', 'bob');
      const state = await (
        await alice.waitForFunction(
          () => {
            const flag = document.documentElement.dataset.readers;
            if (flag === 'off') return 'off';
            const m = [...document.querySelectorAll('[data-testid=msg]')].find((x) => x.textContent.includes('did you read this?'));
            return m && m.dataset.delivery === 'read' ? 'read' : null;
          },
          { timeout: 30000 },
        )
      ).jsonValue();
      if (state === 'off') t.skip('this omtpd answers PT_MSG_READERS with PROTOCOL: the extension is not in this build');
    });
  });

  test('a message to a user who is offline is sent, then delivered when they come online (presence extension)', async (t) => {
    await step('delivered', async () => {
      const presence = await (await alice.waitForFunction(() => document.documentElement.dataset.presence || null)).jsonValue();
      if (presence === 'off') return t.skip('this omtpd answers PT_PRESENCE_SUB with PROTOCOL: the extension is not in this build');
      await openChat(alice, 'alice', 'dave');
      try {
        await send(alice, 'ping dave');
        await waitMark(alice, 'ping dave', 'sent');
        const d = await login(await browser.createBrowserContext(), 'dave');
        await waitMark(alice, 'ping dave', 'delivered');
        await d.close();
      } finally {
        await openChat(alice, 'alice', 'bob');
      }
    });
  });

  test('a business notification is a conversation of its own, read-only', async () => {
    await step('business', async () => {
      const body = JSON.stringify({ appId: 'shop', to: ['bob'], id: 'order-42', content: 'Your order 42 shipped', contentType: 1 });
      const status = await new Promise((resolve, reject) => {
        const req = http.request(
          `http://127.0.0.1:${httpPort}/v1/notify`,
          { method: 'POST', headers: { Authorization: `Bearer ${API_KEY}`, 'Content-Type': 'application/json' } },
          (res) => {
            res.resume();
            resolve(res.statusCode);
          },
        );
        req.on('error', reject);
        req.end(body);
      });
      assert.ok(status >= 200 && status < 300, `POST /v1/notify answered ${status}`);
      const item = await bob.waitForSelector('[data-testid=conv][data-session="BM_shop_bob"]');
      assert.equal(await item.evaluate((e) => e.querySelector('[data-testid=conv-title]').textContent), 'shop');
      assert.match(await item.evaluate((e) => e.getAttribute('aria-label')), /notifications.*1 unread/);
      await item.click();
      await waitText(bob, 'Your order 42 shipped', 'bob');
      assert.equal(await bob.$('[data-testid=composer]'), null, 'no composer in a notifications conversation');
      await openChat(bob, 'bob', 'alice');
    });
  });

  test('an edit shows on the other page, marked edited', async () => {
    await step('edit', async () => {
      await send(alice, 'see you at 12');
      await waitText(bob, 'see you at 12', 'bob');
      const seqId = await (
        await alice.waitForFunction(() => {
          const m = [...document.querySelectorAll('[data-testid=msg]')].find((x) => x.textContent.includes('see you at 12') && /^(sent|delivered|read)$/.test(x.dataset.delivery));
          return m ? m.dataset.seq : null;
        })
      ).jsonValue();
      await alice.click(`[data-testid=msg][data-seq="${seqId}"] [data-testid=msg-menu]`);
      await alice.click(`[data-testid=msg][data-seq="${seqId}"] [data-testid=menu-edit]`);
      // the composer holds the text; replace it and press Enter
      await alice.waitForFunction(() => document.querySelector('[data-testid=composer]').value === 'see you at 12');
      await alice.click('[data-testid=composer]', { clickCount: 3 });
      await alice.keyboard.down('Control');
      await alice.keyboard.press('a');
      await alice.keyboard.up('Control');
      await alice.keyboard.type('see you at 1');
      await alice.keyboard.press('Enter');
      await bob.waitForFunction(
        (s) => {
          const m = document.querySelector(`[data-testid=msg][data-seq="${s}"]`);
          return m && m.querySelector('[data-testid=msg-text]').textContent === 'see you at 1' && m.textContent.includes('edited');
        },
        {},
        seqId,
      );
    });
  });

  // ---- issue #19: presence, typing, reactions, replies, mentions, search ----

  /** The seqId of the stored message showing `text` on page p. */
  async function seqOf(p, text) {
    const h = await p.waitForFunction(
      (t) => {
        const m = [...document.querySelectorAll('[data-testid=msg]')].find((x) => x.querySelector('[data-testid=msg-text]')?.textContent === t && Number(x.dataset.seq) > 0);
        return m ? m.dataset.seq : null;
      },
      { timeout: WAIT },
      text,
    );
    return h.jsonValue();
  }

  test("bob sees alice's presence dot go online, offline when her page closes, online again", async () => {
    await step('presence', async () => {
      const dot = (st) =>
        bob.waitForSelector(`[data-testid=conv][data-session="SC_alice_bob"] [data-testid=presence][data-user=alice][data-state=${st}]`, { timeout: WAIT });
      await dot('online');
      // the open conversation's header has it too
      await bob.waitForSelector('[data-testid=conversation] .bar [data-testid=presence][data-user=alice][data-state=online]', { timeout: WAIT });
      await alice.close();
      await dot('offline');
      alice = await login(ctxA, 'alice');
      await openChat(alice, 'alice', 'bob');
      await dot('online');
    });
  });

  test('typing: bob sees "alice is typing…" while she types, gone when she clears it', async () => {
    await step('typing', async () => {
      const typing = (t) => bob.waitForFunction((x) => document.querySelector('[data-testid=typing]')?.textContent === x, { timeout: WAIT }, t);
      await alice.focus('[data-testid=composer]');
      await alice.keyboard.type('abc');
      await typing('alice is typing…');
      for (let i = 0; i < 3; i++) await alice.keyboard.press('Backspace');
      await typing('');
    });
  });

  test('a reaction added on one page shows on the other, with who; a click toggles mine', async () => {
    await step('reaction', async () => {
      await send(alice, 'react to me');
      const seq = await seqOf(bob, 'react to me');
      const msg = `[data-testid=msg][data-seq="${seq}"]`;
      await bob.click(`${msg} [data-testid=msg-menu]`);
      await bob.click(`${msg} [data-testid=menu-react][data-label="React 👍"]`);
      const r = await alice.waitForSelector(`${msg} [data-testid=reaction][data-emoji="👍"][data-count="1"]`, { timeout: WAIT });
      assert.equal(await r.evaluate((e) => e.getAttribute('title')), 'bob');
      assert.equal(await r.evaluate((e) => e.getAttribute('aria-pressed')), 'false');
      await r.click(); // alice adds hers
      await bob.waitForSelector(`${msg} [data-testid=reaction][data-emoji="👍"][data-count="2"][title="you, alice"]`, { timeout: WAIT });
      await bob.click(`${msg} [data-testid=reaction][data-emoji="👍"]`); // bob takes his back
      await alice.waitForSelector(`${msg} [data-testid=reaction][data-emoji="👍"][data-count="1"][title="you"]`, { timeout: WAIT });
    });
  });

  test('a reply shows the quoted message above the input and in the message on the other page', async () => {
    await step('reply', async () => {
      const seq = await seqOf(bob, 'react to me');
      await bob.click(`[data-testid=msg][data-seq="${seq}"] [data-testid=msg-menu]`);
      await bob.click(`[data-testid=msg][data-seq="${seq}"] [data-testid=menu-reply]`);
      const q = await bob.waitForSelector('[data-testid=replying] [data-testid=quote]', { timeout: WAIT });
      assert.match(await q.evaluate((e) => e.textContent), /react to me/);
      await send(bob, 'this is my reply');
      await bob.waitForFunction(() => !document.querySelector('[data-testid=replying]'), { timeout: WAIT });
      await alice.waitForFunction(
        (s) =>
          [...document.querySelectorAll('[data-testid=msg]')].some(
            (m) => m.querySelector('[data-testid=msg-text]')?.textContent === 'this is my reply' && m.querySelector(`[data-testid=quote][data-reply-to="${s}"]`)?.textContent.includes('react to me'),
          ),
        { timeout: WAIT },
        seq,
      );
    });
  });

  test('an @mention is highlighted, and badges the conversation while it is not open', async () => {
    await step('mention', async () => {
      // alice looks at another conversation
      await alice.type('[data-testid=start-peer]', 'carol');
      await alice.keyboard.press('Enter');
      await alice.waitForFunction(() => document.querySelector('[data-testid=conv-open-title]')?.textContent?.includes('carol'), { timeout: WAIT });
      await send(bob, 'lunch @alice?');
      await alice.waitForSelector('[data-testid=conv][data-session="SC_alice_bob"] [data-testid=mention-badge]', { timeout: WAIT });
      await openChat(alice, 'alice', 'bob');
      await alice.waitForFunction(
        () => [...document.querySelectorAll('[data-testid=msg]')].some((m) => m.querySelector('mark.mention.me')?.textContent === '@alice'),
        { timeout: WAIT },
      );
      await alice.waitForFunction(() => !document.querySelector('[data-testid=mention-badge]'), { timeout: WAIT });
    });
  });

  test('search finds a sent message; its result opens the conversation', async () => {
    await step('search', async () => {
      await send(bob, 'the pineapple pizza place');
      await waitText(alice, 'the pineapple pizza place', 'alice');
      await alice.type('[data-testid=start-peer]', 'carol');
      await alice.keyboard.press('Enter');
      await alice.waitForFunction(() => document.querySelector('[data-testid=conv-open-title]')?.textContent?.includes('carol'), { timeout: WAIT });
      // opening a conversation focuses its composer: type in the search box after that
      await alice.waitForFunction(() => document.activeElement?.dataset.testid === 'composer', { timeout: WAIT });
      await alice.type('[data-testid=search]', 'pineapple');
      await alice.keyboard.press('Enter');
      const hit = await alice.waitForSelector('[data-testid=search-result][data-session="SC_alice_bob"]', { timeout: WAIT });
      assert.match(await hit.evaluate((e) => e.textContent), /pineapple pizza/);
      await hit.click();
      await alice.waitForFunction(() => document.querySelector('[data-testid=conv-open-title]')?.textContent?.includes('bob'), { timeout: WAIT });
      await waitText(alice, 'the pineapple pizza place', 'alice after the search');
    });
  });

  test('a group made in the page shows its name on the members\' pages, and chat in it', async () => {
    await step('group', async () => {
      await alice.click('[data-testid=new-group]');
      await alice.waitForSelector('[data-testid=group-dialog] input');
      const inputs = await alice.$$('[data-testid=group-dialog] input');
      await inputs[0].type('Lunch crew');
      await inputs[1].type('bob');
      await alice.keyboard.press('Enter');
      await alice.waitForFunction(() => document.querySelector('[data-testid=conv-open-title]')?.textContent === 'Lunch crew');
      await send(alice, 'pizza or sushi?');
      // the list names the group, not its id (the name comes with the group sync)
      const item = await bob
        .waitForFunction(() =>
          [...document.querySelectorAll('[data-testid=conv]')].find(
            (c) => c.dataset.session.startsWith('GC_') && c.textContent.includes('pizza or sushi?') && c.querySelector('[data-testid=conv-title]').textContent === 'Lunch crew',
          ),
        )
        .catch(async (e) => {
          const titles = await bob.$$eval('[data-testid=conv-title]', (l) => l.map((x) => x.textContent));
          throw new Error(`bob's list has no "Lunch crew" with the message (titles: ${titles.join(', ')}): ${e.message}`);
        });
      await item.click();
      await waitText(bob, 'pizza or sushi?', 'bob in the group');
      await send(bob, 'sushi');
      await waitText(alice, 'sushi', 'alice in the group');
      // carol joins through the members dialog
      await alice.click('[data-testid=add-members]');
      await alice.waitForSelector('[data-testid=group-dialog] input');
      await alice.type('[data-testid=group-dialog] input', 'carol');
      await alice.keyboard.press('Enter');
      await alice.waitForFunction(() => !document.querySelector('[data-testid=group-dialog]'));
      await send(alice, 'welcome carol');
      await waitText(bob, 'welcome carol', 'bob in the group');
    });
  });

  test('older history loads as you scroll up, with a day separator', async () => {
    await step('history', async () => {
      const p = await login(await browser.createBrowserContext(), 'carol', { width: 900, height: 500 });
      await openChat(p, 'carol', 'bob');
      for (let i = 1; i <= 45; i++) await send(p, `count ${i}`);
      await p.waitForFunction(
        () => [...document.querySelectorAll('[data-testid=msg]')].filter((m) => m.textContent.includes('count ') && /^(sent|delivered|read)$/.test(m.dataset.delivery)).length === 45,
        { timeout: 60000 },
      );
      // a new page of carol's (the app remembers nothing of the messages)
      await p.reload({ waitUntil: 'load' });
      await signIn(p, 'carol');
      await openChat(p, 'carol', 'bob');
      await waitText(p, 'count 45', 'carol');
      assert.equal(await countText(p, 'count 1'), 0, 'the first page holds only the newest messages');
      await p.waitForFunction(
        () => {
          const s = document.querySelector('.scroller');
          s.scrollTop = 0;
          s.dispatchEvent(new Event('scroll'));
          return [...document.querySelectorAll('[data-testid=msg-text]')].some((e) => e.textContent === 'count 1');
        },
        { polling: 200, timeout: WAIT },
      );
      assert.ok(await p.$('[data-testid=day]'), 'a day separator');
      const order = await p.$$eval('[data-testid=msg-text]', (l) => l.map((e) => e.textContent).filter((t) => t.startsWith('count ')));
      assert.deepEqual(order, Array.from({ length: 45 }, (_, i) => `count ${i + 1}`), 'every message once, in order');
      await p.close();
    });
  });

  test('alice sends an image by the file picker; bob sees its thumbnail inline and opens the full image', async () => {
    await step('image-picker', async () => {
      // fresh pages: earlier tests closed or replaced theirs
      fa = await login(await browser.createBrowserContext(), 'alice');
      fb = await login(await browser.createBrowserContext(), 'bob');
      const file = path.join(tmp, 'sunset.png');
      fs.writeFileSync(file, png(640, 480));
      await openChat(fa, 'alice', 'bob');
      const before = await fb.$$eval('[data-testid=msg-image]', (l) => l.length);
      const input = await fa.$('[data-testid=file-input]');
      await input.uploadFile(file);
      // alice's own copy is acked; bob's page shows the thumbnail, decoded
      await fa.waitForFunction(() => [...document.querySelectorAll('[data-testid=msg]')].some((m) => m.querySelector('[data-testid=msg-image]') && /^(sent|delivered|read)$/.test(m.dataset.delivery)));
      await openChat(fb, 'bob', 'alice');
      await fb.waitForFunction((n) => {
        const imgs = [...document.querySelectorAll('[data-testid=msg-image]')];
        return imgs.length > n && imgs.at(-1).complete && imgs.at(-1).naturalWidth > 0;
      }, {}, before);
      const thumb = await fb.$$eval('[data-testid=msg-image]', (l) => ({ w: l.at(-1).naturalWidth, h: l.at(-1).naturalHeight, src: l.at(-1).src }));
      assert.ok(thumb.w <= 320 && thumb.h <= 320, `the inline image is the thumbnail (<= 320 px), got ${thumb.w}x${thumb.h}`);
      assert.match(thumb.src, /\/thumb/);
      // a click opens the full image
      const opens = await fb.$$('[data-testid=msg-image-open]');
      await opens.at(-1).click();
      await fb.waitForFunction(() => {
        const i = document.querySelector('[data-testid=viewer-image]');
        return i && i.complete && i.naturalWidth > 0;
      });
      assert.equal(await fb.$eval('[data-testid=viewer-image]', (i) => i.naturalWidth), 640);
      assert.equal(await fb.$eval('[data-testid=viewer-image]', (i) => i.naturalHeight), 480);
      await fb.keyboard.press('Escape');
      await fb.waitForFunction(() => !document.querySelector('[data-testid=viewer]'));
    });
  });

  test('an image pasted into the composer is sent too', async () => {
    await step('image-paste', async () => {
      await openChat(fa, 'alice', 'bob');
      const before = await fb.$$eval('[data-testid=msg-image]', (l) => l.length);
      await dropFile(fa, 'paste', 'pasted.png', 'image/png', png(100, 50));
      await fb.waitForFunction((n) => {
        const imgs = [...document.querySelectorAll('[data-testid=msg-image]')];
        return imgs.length > n && imgs.at(-1).complete && imgs.at(-1).naturalWidth > 0;
      }, {}, before);
    });
  });

  test('a dropped file shows its name and size, and its download link returns the bytes', async () => {
    await step('file-drop', async () => {
      const text = 'quarterly numbers\n'.repeat(100); // 1800 bytes
      await openChat(fa, 'alice', 'bob');
      await dropFile(fa, 'drop', 'report.txt', 'text/plain', Buffer.from(text));
      await fb.waitForFunction(() => [...document.querySelectorAll('[data-testid=msg-file-link]')].some((a) => a.textContent === 'report.txt'));
      const got = await fb.evaluate(async () => {
        const link = [...document.querySelectorAll('[data-testid=msg-file-link]')].find((a) => a.textContent === 'report.txt');
        const size = link.parentElement.querySelector('[data-testid=msg-file-size]').textContent;
        const r = await fetch(link.href);
        return { status: r.status, body: await r.text(), size, download: link.getAttribute('download') };
      });
      assert.equal(got.status, 200);
      assert.equal(got.body, text);
      assert.equal(got.size, '1.8 KB');
      assert.equal(got.download, 'report.txt');
      // the list shows what it is
      await fb.waitForFunction(() => [...document.querySelectorAll('[data-testid=conv-last]')].some((e) => e.textContent.includes('[file report.txt]')));
    });
  });

  test("a voice message plays in the browser's own player (its URL answers Range)", async () => {
    await step('voice', async () => {
      const file = path.join(tmp, 'hello.wav');
      fs.writeFileSync(file, wav(1500));
      await openChat(fa, 'alice', 'bob');
      const input = await fa.$('[data-testid=file-input]');
      await input.uploadFile(file);
      // bob's <audio> loads its metadata from the file URL: the duration is the file's
      await fb.waitForFunction(() => {
        const a = [...document.querySelectorAll('[data-testid=msg-audio]')].at(-1);
        return a && a.readyState >= 1 && Math.abs(a.duration - 1.5) < 0.1;
      });
      assert.ok(await fb.$eval('[data-testid=msg-audio]', (a) => a.controls), 'the browser player with its controls');
    });
  });

  test('a file larger than max_file_size is refused with a message that says so', async () => {
    await step('file-too-big', async () => {
      const file = path.join(tmp, 'huge.bin');
      fs.writeFileSync(file, Buffer.alloc(2 * MAX_FILE, 7));
      await openChat(fa, 'alice', 'bob');
      const input = await fa.$('[data-testid=file-input]');
      await input.uploadFile(file);
      const notice = await fa.waitForSelector('[data-testid=notice]');
      assert.match(await notice.evaluate((e) => e.textContent), /huge\.bin.*file is larger than 1 MB/);
      // and the page still sends
      await send(fa, 'after the big one');
      await waitText(fb, 'after the big one', 'bob');
      await fa.close();
      await fb.close();
    });
  });

  test('a wrong password is refused with a message that says so, and the form stays usable', async () => {
    await step('wrong-password', async () => {
      const p = await newPage(await browser.createBrowserContext());
      await p.goto(`http://127.0.0.1:${wsPort}/`, { waitUntil: 'load' });
      await p.type('input[name=user]', 'carol');
      await p.type('input[name=password]', 'not-her-password');
      await p.keyboard.press('Enter');
      const err = await p.waitForSelector('[data-testid=login-error]');
      assert.match(await err.evaluate((e) => e.textContent), /Wrong user or password/);
      assert.equal(await err.evaluate((e) => e.getAttribute('role')), 'alert');
      await p.click('input[name=password]', { clickCount: 3 });
      await p.keyboard.press('Backspace');
      await p.type('input[name=password]', PW.carol);
      await p.keyboard.press('Enter');
      await p.waitForSelector('[data-testid=me]');
      await p.close();
    });
  });

  test('usable at phone width: the list, then the conversation with a way back', async () => {
    await step('phone', async () => {
      const p = await login(await browser.createBrowserContext(), 'carol', { width: 375, height: 700 });
      await p.waitForSelector('[data-testid=conv][data-session="SC_bob_carol"]');
      const mainHidden = await p.$eval('.main', (e) => getComputedStyle(e).display === 'none');
      assert.ok(mainHidden, 'at phone width the list fills the screen');
      await p.click('[data-testid=conv][data-session="SC_bob_carol"]');
      await waitText(p, 'count 45', 'carol');
      const sideHidden = await p.$eval('.side', (e) => getComputedStyle(e).display === 'none');
      assert.ok(sideHidden, 'the open conversation fills the screen');
      const overflow = await p.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
      assert.ok(!overflow, 'nothing wider than the phone');
      await p.click('button.back');
      await p.waitForSelector('[data-testid=conv-list]', { visible: true });
      await p.close();
    });
  });
}
