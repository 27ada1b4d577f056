// validate.js - checks recorded webhook requests with the Plivo SDK's own
// validateV3Signature (X-Plivo-Signature-V3 and the X-Vobiz- copy), for the
// integration tests. Usage: node validate.js NODE_MODULES_DIR AUTH_TOKEN
// with a JSON array of {method, url, params, headers} on stdin; prints
// "valid" or "invalid METHOD URL" per request, exits 1 if any is invalid.
'use strict';
const path = require('path');
const plivo = require(path.join(process.argv[2], 'plivo'));
const token = process.argv[3];

let input = '';
process.stdin.on('data', (c) => { input += c; });
process.stdin.on('end', () => {
  let bad = 0;
  for (const r of JSON.parse(input)) {
    const check = (prefix) => {
      const sig = r.headers['x-' + prefix + '-signature-v3'];
      const nonce = r.headers['x-' + prefix + '-signature-v3-nonce'];
      return !!sig && !!nonce &&
        plivo.validateV3Signature(r.method, r.url, nonce, token, sig,
                                  r.params);
    };
    if (check('plivo') && check('vobiz')) {
      console.log('valid');
    } else {
      bad++;
      console.log('invalid ' + r.method + ' ' + r.url);
    }
  }
  process.exit(bad ? 1 : 0);
});
