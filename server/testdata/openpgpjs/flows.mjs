// What Yopass's web client does against the server, shared by client.mjs
// (node) and browser.html (headless Chromium): the OpenPGP messages come
// from openpgp.js, the library the client encrypts with, and the requests
// have the client's shapes (text: POST /create/secret with an armored
// message in JSON; file: POST /create/file with the binary message and the
// X-Yopass-* headers).
//
// openpgp is the openpgp.js module; call(path, init) sends a request to the
// server and returns the Response; check(ok, what) records a check and
// throws when ok is false.
export async function run(openpgp, call, check) {
  // The password stays in the link's fragment and never reaches the server.
  const password = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));

  // A text secret: read once, then gone.
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
  check(res.status === 200 && /^[A-Za-z0-9]{22}$/.test(created.message), `create/secret: ${res.status}, a 22-character id`);
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
  check(res.status === 404, `a second read: ${res.status}, "${(await res.json()).message}"`);

  // A file, streamed as a binary message, read back as bytes; with and
  // without AEAD (SEIPDv2), which openpgp.js writes when asked.
  const bytes = new Uint8Array(70000);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + 7) & 255;
  for (const [label, config] of [
    ['SEIPDv1 (the openpgp.js default)', {}],
    ['SEIPDv2 with AEAD', { aeadProtect: true }],
  ]) {
    const binary = await openpgp.encrypt({
      message: await openpgp.createMessage({ binary: bytes, filename: 'notes.bin', format: 'binary' }),
      passwords: password,
      format: 'binary',
      config,
    });
    res = await call('/create/file', {
      method: 'POST',
      body: new Blob([binary]),
      headers: {
        'Content-Type': 'application/octet-stream',
        'X-Yopass-Expiration': '86400',
        'X-Yopass-OneTime': 'true',
        'X-Yopass-Filename': 'notes.bin',
      },
    });
    const file = await res.json();
    check(res.status === 200 && /^[A-Za-z0-9]{22}$/.test(file.message), `create/file with ${label}: ${res.status}`);

    res = await call(`/file/${file.message}`);
    check((res.headers.get('content-type') || '').startsWith('application/octet-stream'), 'the file is read as application/octet-stream');
    const body = new Uint8Array(await res.arrayBuffer());
    const out = await openpgp.decrypt({
      message: await openpgp.readMessage({ binaryMessage: body }),
      passwords: password,
      format: 'binary',
    });
    check(
      out.data.length === bytes.length && out.data.every((b, i) => b === bytes[i]) && out.filename === 'notes.bin',
      `the file decrypts to the ${bytes.length} bytes sent, named ${out.filename}`,
    );
    res = await call(`/file/${file.message}`);
    check(res.status === 404, `a second file read: ${res.status}`);
  }

  // The settings the client reads before it shows its form.
  res = await call('/config');
  const cfg = await res.json();
  check(res.status === 200 && 'MAX_FILE_SIZE' in cfg && typeof cfg.DEFAULT_EXPIRY === 'number', 'config has MAX_FILE_SIZE and DEFAULT_EXPIRY');
}
