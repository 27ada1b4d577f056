// build_doc.js - prints an application document built with the Plivo SDK's
// XML builder, as a Plivo user's application would send it, for the call
// tests. Usage: node build_doc.js NODE_MODULES_DIR JSON where JSON is
// {"users": [sip URI, ...], "callerName": ..., "action": URL,
//  "sipHeaders": "a=1,b=2", "timeout": seconds}.
'use strict';
const path = require('path');
const plivo = require(path.join(process.argv[2], 'plivo'));
const spec = JSON.parse(process.argv[3]);

const r = new plivo.Response();
const attrs = {};
for (const k of ['callerName', 'action', 'sipHeaders', 'timeout']) {
  if (spec[k] !== undefined) attrs[k] = String(spec[k]);
}
const d = r.addDial(attrs);
for (const u of spec.users) d.addUser(u);
process.stdout.write(r.toXML());
