// plivo_server.js - an application server written the way a Plivo user
// writes one, for test_app_sign_node: it checks every request's
// X-Plivo-Signature-V3 (and the X-Vobiz- copy) with the Plivo SDK's own
// validateV3Signature and answers documents built with the SDK's XML
// builder. Usage: node plivo_server.js NODE_MODULES_DIR AUTH_TOKEN; prints
// its port on the first line of stdout.
'use strict';
const http = require('http');
const path = require('path');
const querystring = require('querystring');
const plivo = require(path.join(process.argv[2], 'plivo'));
const token = process.argv[3];

function sdkDocument() {
  const r = new plivo.Response();
  const d = r.addDial({
    callerId: '1000',
    callerName: 'Front Desk',
    timeout: '30',
    timeLimit: '600',
    action: 'https://app.example.com/dial',
    method: 'GET',
    redirect: 'false',
    sipHeaders: 'Trace=abc,Tenant=t1',
  });
  d.addUser('sip:bob@sip.example.com');
  d.addNumber('14155551234');
  r.addWait({length: '2'});
  r.addRedirect('https://app.example.com/next?a=1&b=2', {method: 'GET'});
  r.addHangup({reason: 'busy'});
  return r.toXML();
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    // What an Express app's req.protocol, host and originalUrl give.
    const url = 'http://' + req.headers.host + req.url;
    const params = req.method === 'POST' ? querystring.parse(body) : {};
    const check = (prefix) => {
      const sig = req.headers['x-' + prefix + '-signature-v3'];
      const nonce = req.headers['x-' + prefix + '-signature-v3-nonce'];
      return !!sig && !!nonce &&
        plivo.validateV3Signature(req.method, url, nonce, token, sig,
                                  params);
    };
    const ok = check('plivo') && check('vobiz');
    if (!ok) {
      res.writeHead(403, {'Content-Type': 'text/plain'});
      res.end('invalid ' + req.method + ' ' + url + '\n');
    } else if (req.url.startsWith('/doc')) {
      res.writeHead(200, {'Content-Type': 'application/xml'});
      res.end(sdkDocument());
    } else {
      res.writeHead(200, {'Content-Type': 'text/plain'});
      res.end('valid\n');
    }
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(server.address().port + '\n');
});
