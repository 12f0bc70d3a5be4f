// Drives a running vigil-server the way Yopass's web client does: the
// OpenPGP messages come from openpgp.js, the library the client encrypts
// with, and the requests have the client's shapes (text: POST /create/secret
// with an armored message in JSON; file: POST /create/file with the binary
// message and X-Yopass-* headers, after a CORS preflight).
//
//   node client.mjs BASE_URL ORIGIN
//
// ORIGIN is the server's cors_origin. Prints one line a check; exits 1 at
// the first failure.
import { randomBytes } from 'node:crypto';
import * as openpgp from 'openpgp';

const [base, origin] = process.argv.slice(2);
if (!base || !origin) {
  console.error('usage: node client.mjs BASE_URL ORIGIN');
  process.exit(2);
}

function check(ok, what) {
  if (!ok) {
    console.error(`FAIL ${what}`);
    process.exit(1);
  }
  console.log(`ok   ${what}`);
}

// Every answer the browser sees must allow the client's origin.
async function call(path, init = {}) {
  const res = await fetch(base + path, {
    ...init,
    headers: { Origin: origin, ...(init.headers || {}) },
  });
  check(
    res.headers.get('access-control-allow-origin') === origin,
    `${init.method || 'GET'} ${path.replace(/[A-Za-z0-9]{22}/, '{id}')}: ${res.status}, Access-Control-Allow-Origin ${res.headers.get('access-control-allow-origin')}`,
  );
  return res;
}

// The password stays in the link's fragment and never reaches the server.
const password = randomBytes(32).toString('base64url');

// A preflight for the file upload, as a browser sends it.
const fileHeaders = ['content-type', 'x-yopass-expiration', 'x-yopass-onetime', 'x-yopass-filename'];
{
  const res = await call('/create/file', {
    method: 'OPTIONS',
    headers: {
      'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': fileHeaders.join(','),
    },
  });
  check(res.status === 204 || res.status === 200, `preflight status ${res.status}`);
  const methods = (res.headers.get('access-control-allow-methods') || '').split(/\s*,\s*/);
  check(methods.includes('POST'), `preflight allows POST (${methods.join(', ')})`);
  const allowed = (res.headers.get('access-control-allow-headers') || '').toLowerCase().split(/\s*,\s*/);
  for (const h of fileHeaders) check(allowed.includes(h), `preflight allows header ${h}`);
}

// A text secret: armored message, JSON body, read once, then gone.
{
  const text = 'a secret from openpgp.js ✓';
  const message = await openpgp.encrypt({
    message: await openpgp.createMessage({ text }),
    passwords: password,
  });
  let res = await call('/create/secret', {
    method: 'POST',
    body: JSON.stringify({ message, expiration: 3600, one_time: true }),
  });
  const created = await res.json();
  check(res.status === 200 && /^[A-Za-z0-9]{22}$/.test(created.message), 'create/secret answers a 22-character id');
  const id = created.message;

  res = await call(`/secret/${id}/status`);
  const status = await res.json();
  check(res.status === 200 && status.oneTime === true, `status says one-time: ${JSON.stringify(status)}`);

  res = await call(`/secret/${id}`);
  check(res.headers.get('cache-control') === 'no-store', 'the read carries Cache-Control: no-store');
  const got = await res.json();
  const plain = await openpgp.decrypt({
    message: await openpgp.readMessage({ armoredMessage: got.message }),
    passwords: password,
    format: 'utf8',
  });
  check(plain.data === text, 'the read decrypts to the text sent');

  res = await call(`/secret/${id}`);
  check(res.status === 404, `a second read is 404 (${res.status})`);
}

// A file: the binary message streamed to /create/file, read back as bytes.
{
  const bytes = new Uint8Array(70000);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + 7) & 255;
  for (const [label, config] of [
    ['SEIPDv1 (openpgp.js default)', {}],
    ['SEIPDv2 with AEAD', { aeadProtect: true }],
  ]) {
    const message = await openpgp.encrypt({
      message: await openpgp.createMessage({ binary: bytes, filename: 'notes.bin', format: 'binary' }),
      passwords: password,
      format: 'binary',
      config,
    });
    let res = await call('/create/file', {
      method: 'POST',
      body: new Blob([message]),
      headers: {
        'Content-Type': 'application/octet-stream',
        'X-Yopass-Expiration': '86400',
        'X-Yopass-OneTime': 'true',
        'X-Yopass-Filename': 'notes.bin',
      },
    });
    const created = await res.json();
    check(res.status === 200 && /^[A-Za-z0-9]{22}$/.test(created.message), `create/file with ${label}`);

    res = await call(`/file/${created.message}`);
    check((res.headers.get('content-type') || '').startsWith('application/octet-stream'), 'the file is read as application/octet-stream');
    const body = new Uint8Array(await res.arrayBuffer());
    const plain = await openpgp.decrypt({
      message: await openpgp.readMessage({ binaryMessage: body }),
      passwords: password,
      format: 'binary',
    });
    check(
      plain.data.length === bytes.length && plain.data.every((b, i) => b === bytes[i]) && plain.filename === 'notes.bin',
      `the file decrypts to the ${bytes.length} bytes sent, named ${plain.filename}`,
    );
    res = await call(`/file/${created.message}`);
    check(res.status === 404, `a second file read is 404 (${res.status})`);
  }
}

// The settings the client reads before it shows its form.
{
  const res = await call('/config');
  const cfg = await res.json();
  check(typeof cfg.MAX_FILE_SIZE !== 'undefined' && typeof cfg.DEFAULT_EXPIRY === 'number', 'config has MAX_FILE_SIZE and DEFAULT_EXPIRY');
}
