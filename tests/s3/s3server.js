#!/usr/bin/env node
// A local S3-compatible server for the S3 file store tests: s3rver (pinned in
// package.json / package-lock.json) with two additions it lacks:
//   - it checks AWS Signature Version 4 (s3rver 3.7 accepts any v4
//     signature), so a wrong secret is refused with 403 SignatureDoesNotMatch
//     like AWS, MinIO and Ceph do, and a request libcurl signs wrongly fails;
//   - AbortMultipartUpload (DELETE ?uploadId=), which s3rver answers 405.
// Every request is logged to --log as "METHOD /bucket/key?query STATUS".
// Faults for failure tests: while the file --fault-file holds "part"
// (UploadPart) or "complete" (CompleteMultipartUpload), those requests are
// answered 500 InternalError; while it holds "etag", UploadPart's ETag is 126
// '"' (the part is stored).
//
// Usage: node s3server.js --dir DIR --bucket NAME --port-file FILE --log FILE
//                         [--access-key AK --secret-key SK]
// Listens on 127.0.0.1, a free port written to --port-file once it accepts.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const S3rver = require('s3rver');
const AWSAccount = require('s3rver/lib/models/account');

function arg(name, def) {
  const i = process.argv.indexOf('--' + name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}
const dir = arg('dir');
const bucket = arg('bucket', 'omtp');
const portFile = arg('port-file');
const logFile = arg('log');
const accessKey = arg('access-key', 'S3RVER');
const secretKey = arg('secret-key', 'S3RVER');
const faultFile = arg('fault-file', '');

function fault() {
  try {
    return faultFile ? fs.readFileSync(faultFile, 'utf8').trim() : '';
  } catch (e) {
    return '';
  }
}
if (!dir || !portFile || !logFile) {
  console.error('usage: s3server.js --dir DIR --bucket NAME --port-file FILE --log FILE');
  process.exit(2);
}

const secrets = new Map([[accessKey, secretKey]]);
AWSAccount.DUMMY_ACCOUNT.createKeyPair(accessKey, secretKey);
const log = fs.createWriteStream(logFile, { flags: 'a' });

const sha256 = s => crypto.createHash('sha256').update(s).digest('hex');
const hmac = (k, s) => crypto.createHmac('sha256', k).update(s).digest();
const enc = s =>
  encodeURIComponent(s).replace(/[!'()*]/g, c => '%' + c.charCodeAt(0).toString(16).toUpperCase());

function s3error(ctx, status, code, message) {
  ctx.status = status;
  ctx.type = 'application/xml';
  ctx.body =
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>' + code + '</Code><Message>' +
    message + '</Message></Error>';
}

// The SigV4 check of the Authorization header, as AWS documents it: the
// canonical request (method, URI-encoded path, sorted encoded query, the
// signed headers, the payload hash from x-amz-content-sha256), the string to
// sign, the derived key. Returns null when it matches, else why not.
function checkSigV4(req) {
  const auth = req.headers.authorization || '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, *SignedHeaders=([^,]+), *Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return ['AuthorizationHeaderMalformed', 'not a SigV4 Authorization header'];
  const [, ak, date, region, service, signed, signature] = m;
  const secret = secrets.get(ak);
  if (secret === undefined) return ['InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.'];
  const [rawPath, rawQuery = ''] = req.url.split('?');
  const uri = rawPath.split('/').map(p => enc(decodeURIComponent(p))).join('/');
  const query = rawQuery === '' ? '' : rawQuery.split('&').map(kv => {
    const i = kv.indexOf('=');
    const k = decodeURIComponent(i < 0 ? kv : kv.slice(0, i));
    const v = i < 0 ? '' : decodeURIComponent(kv.slice(i + 1).replace(/\+/g, ' '));
    return [enc(k), enc(v)];
  }).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => k + '=' + v).join('&');
  const names = signed.split(';');
  if (!names.includes('host')) return ['AccessDenied', 'host is not signed'];
  const headers = names.map(h => {
    const v = req.headers[h];
    if (v === undefined) return null;
    return h + ':' + String(v).trim().replace(/ +/g, ' ');
  });
  if (headers.includes(null)) return ['AccessDenied', 'a signed header is missing'];
  const payload = req.headers['x-amz-content-sha256'];
  if (!payload) return ['InvalidRequest', 'Missing required header for this request: x-amz-content-sha256'];
  const creq = [req.method, uri, query, headers.join('\n') + '\n', signed, payload].join('\n');
  const amzDate = req.headers['x-amz-date'] || '';
  const scope = `${date}/${region}/${service}/aws4_request`;
  const sts = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(creq)].join('\n');
  const key = hmac(hmac(hmac(hmac('AWS4' + secret, date), region), service), 'aws4_request');
  const want = crypto.createHmac('sha256', key).update(sts).digest('hex');
  if (want !== signature)
    return ['SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.'];
  return null;
}

const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory: dir,
  configureBuckets: [{ name: bucket }],
});

const uploadsDir = path.join(dir, bucket, '._S3rver_uploads');

server.middleware.unshift(async (ctx, next) => {
  try {
    const bad = checkSigV4(ctx.req);
    if (bad) {
      s3error(ctx, 403, bad[0], bad[1]);
      return;
    }
    const f = fault();
    if ((f === 'part' && ctx.method === 'PUT' && 'partNumber' in ctx.query) ||
        (f === 'complete' && ctx.method === 'POST' && 'uploadId' in ctx.query)) {
      s3error(ctx, 500, 'InternalError', 'We encountered an internal error. Please try again.');
      return;
    }
    if (f === 'etag' && ctx.method === 'PUT' && 'partNumber' in ctx.query) {
      await next(); // a hostile service: the part stored, its ETag all quotes
      if (ctx.status === 200)
        ctx.set('ETag', '"'.repeat(126));
      return;
    }
    if (ctx.method === 'DELETE' && 'uploadId' in ctx.query) {
      const id = String(ctx.query.uploadId);
      const up = path.join(uploadsDir, id);
      if (!/^[0-9a-f]+$/.test(id) || !fs.existsSync(up)) {
        s3error(ctx, 404, 'NoSuchUpload', 'The specified upload does not exist.');
        return;
      }
      fs.rmSync(up, { recursive: true, force: true });
      ctx.status = 204;
      return;
    }
    await next();
  } finally {
    log.write(`${ctx.method} ${ctx.url} ${ctx.status}\n`);
  }
});

server.run().then(addr => {
  fs.writeFileSync(portFile + '.tmp', String(addr.port));
  fs.renameSync(portFile + '.tmp', portFile);
  process.stdout.write(`s3server: listening on 127.0.0.1:${addr.port}, bucket ${bucket}\n`);
}, err => {
  console.error('s3server:', err.message);
  process.exit(1);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
