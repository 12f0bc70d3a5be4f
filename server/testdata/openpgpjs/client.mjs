// Runs flows.mjs in node against a running vigil-server, after a CORS
// preflight for the file upload as a browser sends it, and checks that
// every answer allows the client's origin.
//
//   node client.mjs BASE_URL ORIGIN
//
// ORIGIN is the server's cors_origin. Prints one line a check; exits 1 at
// the first failure.
import { webcrypto } from 'node:crypto';
import * as openpgp from 'openpgp';
import { run } from './flows.mjs';

// Node 18, Debian's, has WebCrypto only as a module.
globalThis.crypto ??= webcrypto;

const [base, origin] = process.argv.slice(2);
if (!base || !origin) {
  console.error('usage: node client.mjs BASE_URL ORIGIN');
  process.exit(2);
}

function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) throw new Error(what);
}

// Every answer the browser sees must allow the client's origin.
async function call(path, init = {}) {
  const res = await fetch(base + path, {
    ...init,
    headers: { Origin: origin, ...(init.headers || {}) },
  });
  const allowed = res.headers.get('access-control-allow-origin');
  check(allowed === origin,
    `${init.method || 'GET'} ${path.replace(/[A-Za-z0-9]{22}/, '{id}')}: ${res.status}, Access-Control-Allow-Origin ${allowed}`);
  return res;
}

try {
  const fileHeaders = ['content-type', 'x-yopass-expiration', 'x-yopass-onetime', 'x-yopass-filename'];
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

  await run(openpgp, call, check);
} catch (e) {
  console.error(`ERROR ${e}`);
  process.exit(1);
}
