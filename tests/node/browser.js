// A real browser for sipward's tests: drives Debian's headless Chromium with
// puppeteer-core, in which a page runs JsSIP or SIP.js against sipward over
// WebSocket (ws:// or wss://). Driven line by line over stdin/stdout, so a
// pytest can take it step by step (tests/integ/browser.py does).
//
// Usage: node browser.js [SCENARIO_JSON]
//   The scenario is argv[2], or else the first line of stdin. Then every
//   stdin line is one command, as JSON; every stdout line is one event, as
//   JSON. Console messages of the page, its errors and the harness's own
//   diagnostics go to stderr.
//
// Scenario (every field optional; without ws_url no SIP stack is started,
// for the harness's self-tests):
//   {"stack": "jssip"|"sipjs", "ws_url": "wss://127.0.0.1:PORT",
//    "uri": "sip:user@domain", "username": "user", "password": "secret",
//    "ice_servers": [], "user_agent": "...", "display_name": "...",
//    "register_expires": 600, "debug": false, "timeout": 20,
//    "fake_audio_file": "/path/tone.wav"}
//   timeout bounds every step (seconds): a command, the wait for the
//   WebSocket before REGISTER, the page load. The page loads the stack's
//   library only (both without a stack). fake_audio_file: a WAV
//   (16-bit PCM) the fake microphone plays, looped, instead of its beeps.
//
// Commands: {"cmd": "register"} {"cmd": "unregister"}
//   {"cmd": "call", "target": "sip:..."} {"cmd": "answer"} {"cmd": "hangup"}
//   {"cmd": "stats"} {"cmd": "loopback"} (two RTCPeerConnections of the page
//   connected to each other) {"cmd": "close_ws"} (closes the WebSocket
//   without unregistering) {"cmd": "quit"}
//
// Events: ready (versions, the Chromium pid), connected, disconnected,
//   registered, unregistered, registrationFailed, incoming, progress,
//   accepted, confirmed, ended, ice, stats, loopback, done (a command
//   finished), error, closed (the last line before exit).
//
// It never hangs: every step is bounded; it exits, closing Chromium, on
// "quit", on stdin EOF and on SIGTERM/SIGINT, and removes its profile dir.
'use strict';

const fs = require('fs');
const http = require('http');
const path = require('path');
const {MODULES, stdinLines, emit, setLogTag, log, sleep, bounded, state,
	shutdown, launchChromium} = require('./chromium.js');

setLogTag('browser.js');

// ---------------------------------------------------------------------------
// the page (served on http://127.0.0.1, a secure context for getUserMedia)

// The page loads only the library its stack needs (SIP.js is some 190 ES
// modules, seconds to load on a busy machine); without a stack, both.
function pageHtml(libs)
{
	return `<!doctype html>
<html><head><meta charset="utf-8"><title>sipward browser test</title>
${libs.includes('jssip') ? '<script src="/jssip.min.js"></script>' : ''}
${libs.includes('sipjs') ? `<script type="module">
import * as SIP from '/sipjs/index.js';
window.SIP = SIP;
window.sipjsLoaded = true;
</script>` : ''}
<script src="/harness.js"></script>
</head><body><audio id="remote" autoplay></audio></body></html>
`;
}

// Runs in the page. window.sipwardEvent (exposed by puppeteer) takes events.
function pageHarness()
{
	const H = {sc: null, ua: null, stack: null, connected: false,
		session: null, registerer: null, pcs: [], loop: []};
	window.harness = H;
	const ev = (obj) => window.sipwardEvent(obj);
	const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
	const media = {audio: true, video: false};

	H.versions = () => ({
		jssip: window.JsSIP ? window.JsSIP.version : null,
		sipjs: window.SIP ? window.SIP.version : null,
		user_agent: navigator.userAgent});

	// Waits (bounded) until the WebSocket is up, or its last attempt to
	// connect failed; true when it is up.
	async function connectedWithin(ms) {
		const end = Date.now() + ms;
		while (!H.connected && !H.connectFailed && Date.now() < end)
			await sleep(50);
		return H.connected;
	}
	const onConnected = () => {
		H.connected = true;
		H.connectFailed = false;
		ev({event: 'connected'});
	};
	const onDisconnected = (error, code, reason) => {
		H.connected = false;
		H.connectFailed = error;
		ev({event: 'disconnected', error: error, code: code,
			reason: reason});
	};

	function hookPc(pc) {
		if (!pc || H.pcs.includes(pc))
			return;
		H.pcs.push(pc);
		pc.addEventListener('iceconnectionstatechange', () =>
			ev({event: 'ice', state: pc.iceConnectionState}));
		pc.addEventListener('track', (e) => {
			const el = document.getElementById('remote');
			el.srcObject = e.streams[0] || new MediaStream([e.track]);
			el.play().catch(() => {});
		});
	}

	async function pcStats(pc) {
		const r = {inbound_packets: 0, outbound_packets: 0,
			inbound_bytes: 0, outbound_bytes: 0,
			ice_state: pc.iceConnectionState,
			connection_state: pc.connectionState};
		const stats = await pc.getStats();
		let pair = null;
		stats.forEach((s) => {
			const kind = s.kind || s.mediaType;
			if (s.type === 'inbound-rtp' && kind === 'audio') {
				r.inbound_packets += s.packetsReceived || 0;
				r.inbound_bytes += s.bytesReceived || 0;
				if (s.totalAudioEnergy !== undefined)
					r.inbound_audio_energy = s.totalAudioEnergy;
			} else if (s.type === 'outbound-rtp' && kind === 'audio') {
				r.outbound_packets += s.packetsSent || 0;
				r.outbound_bytes += s.bytesSent || 0;
			} else if (s.type === 'transport' && s.selectedCandidatePairId) {
				pair = stats.get(s.selectedCandidatePairId);
			}
		});
		if (pair) {
			const l = stats.get(pair.localCandidateId);
			const rm = stats.get(pair.remoteCandidateId);
			r.local = l ? (l.address || l.ip) + ':' + l.port : null;
			r.remote = rm ? (rm.address || rm.ip) + ':' + rm.port : null;
		}
		return r;
	}

	// ---- JsSIP
	function jssipSetup(sc) {
		if (sc.debug)
			JsSIP.debug.enable('JsSIP:*');
		else
			JsSIP.debug.enable('JsSIP:Transport');
		const cfg = {
			sockets: [new JsSIP.WebSocketInterface(sc.ws_url)],
			uri: sc.uri, password: sc.password,
			authorization_user: sc.username || undefined,
			register: false};
		if (sc.user_agent)
			cfg.user_agent = sc.user_agent;
		if (sc.display_name)
			cfg.display_name = sc.display_name;
		if (sc.register_expires)
			cfg.register_expires = sc.register_expires;
		const ua = new JsSIP.UA(cfg);
		ua.on('connected', onConnected);
		ua.on('disconnected', (e) => onDisconnected(!!(e && e.error),
			e ? e.code : null, e ? e.reason : null));
		ua.on('registered', (e) => ev({event: 'registered',
			status: e.response.status_code,
			contact: e.response.getHeader('Contact')}));
		ua.on('unregistered', (e) => ev({event: 'unregistered',
			cause: (e && e.cause) || null,
			status: e && e.response ? e.response.status_code : null}));
		ua.on('registrationFailed', (e) => ev({event: 'registrationFailed',
			cause: e.cause,
			status: e.response ? e.response.status_code : null}));
		ua.on('newRTCSession', (e) => {
			const s = e.session;
			if (H.session && !H.session.isEnded()) {
				// one call at a time: a second one is refused
				if (e.originator === 'remote')
					s.terminate({status_code: 486});
				return;
			}
			H.session = s;
			jssipSession(s);
			if (e.originator === 'remote')
				ev({event: 'incoming',
					from: s.remote_identity.uri.toString(),
					display_name: s.remote_identity.display_name ||
						null});
		});
		ua.start();
		return ua;
	}

	function jssipSession(s) {
		if (s.connection)
			hookPc(s.connection);
		s.on('peerconnection', (e) => hookPc(e.peerconnection));
		s.on('progress', (e) => ev({event: 'progress',
			status: e.response ? e.response.status_code : null}));
		s.on('accepted', () => ev({event: 'accepted'}));
		s.on('confirmed', () => ev({event: 'confirmed'}));
		s.on('ended', (e) => ev({event: 'ended', cause: e.cause,
			originator: e.originator}));
		s.on('failed', (e) => ev({event: 'ended', cause: e.cause,
			originator: e.originator, failed: true,
			status: e.message && e.message.status_code ?
				e.message.status_code : null}));
	}

	// ---- SIP.js
	function sipjsSetup(sc) {
		const opts = {
			uri: SIP.UserAgent.makeURI(sc.uri),
			transportOptions: {server: sc.ws_url,
				connectionTimeout: Math.min(sc.timeout, 10)},
			authorizationUsername: sc.username,
			authorizationPassword: sc.password,
			logLevel: sc.debug ? 'debug' : 'warn',
			sessionDescriptionHandlerFactoryOptions: {
				peerConnectionConfiguration: {
					iceServers: sc.ice_servers || []}},
			delegate: {
				onConnect: onConnected,
				onDisconnect: (err) => onDisconnected(!!err, null,
					err ? err.message : null),
				onInvite: (inv) => {
					if (H.session && H.session.state !==
					    SIP.SessionState.Terminated) {
						inv.reject({statusCode: 486});
						return;
					}
					H.session = inv;
					sipjsSession(inv);
					ev({event: 'incoming',
						from: inv.remoteIdentity.uri.toString(),
						display_name:
							inv.remoteIdentity.displayName || null});
				}}};
		if (!opts.uri)
			throw new Error('bad uri ' + sc.uri);
		if (sc.user_agent)
			opts.userAgentString = sc.user_agent;
		if (sc.display_name)
			opts.displayName = sc.display_name;
		const ua = new SIP.UserAgent(opts);
		const rOpts = {};
		if (sc.register_expires)
			rOpts.expires = sc.register_expires;
		H.registerer = new SIP.Registerer(ua, rOpts);
		// Unregistered also follows a failed first REGISTER: reported
		// only after Registered (the failure has its own event)
		let was = null;
		H.registerer.stateChange.addListener((st) => {
			const R = SIP.RegistererState;
			if (st === R.Registered)
				ev({event: 'registered'});
			else if (st === R.Unregistered && was === R.Registered)
				ev({event: 'unregistered'});
			was = st;
		});
		ua.start().catch((err) => onDisconnected(true, null,
			String(err && err.message || err)));
		return ua;
	}

	function sipjsSession(s) {
		let status = null;
		s.stateChange.addListener((st) => {
			const sdh = s.sessionDescriptionHandler;
			if (sdh && sdh.peerConnection)
				hookPc(sdh.peerConnection);
			if (st === SIP.SessionState.Established)
				ev({event: 'confirmed'});
			else if (st === SIP.SessionState.Terminated)
				ev({event: 'ended', cause: status ?
					String(status) : 'Terminated'});
		});
		s.sipjsSetStatus = (st) => {
			status = st;
		};
	}

	// ---- commands
	H.setup = (sc) => {
		H.sc = sc;
		H.stack = sc.stack || 'jssip';
		if (H.stack === 'jssip')
			H.ua = jssipSetup(sc);
		else if (H.stack === 'sipjs')
			H.ua = sipjsSetup(sc);
		else
			throw new Error('unknown stack ' + H.stack);
	};

	const need = (what) => {
		if (!H[what])
			throw new Error('no ' + what + ' (scenario without ' +
				'ws_url, or nothing to act on)');
		return H[what];
	};

	H.run = async (c) => {
		const ms = H.sc.timeout * 1000;
		switch (c.cmd) {
		case 'register':
			need('ua');
			// a REGISTER before the WebSocket is up fails at once
			// (JsSIP); so wait for it, bounded, and then register
			// anyway: no connection gives a registrationFailed
			await connectedWithin(ms / 2);
			if (H.stack === 'jssip') {
				H.ua.register();
			} else {
				H.registerer.register({requestDelegate: {
					onReject: (r) => ev({
						event: 'registrationFailed',
						cause: r.message.reasonPhrase,
						status: r.message.statusCode})}})
					.catch((err) => ev({
						event: 'registrationFailed',
						cause: String(err.message || err)}));
			}
			return;
		case 'unregister':
			need('ua');
			if (H.stack === 'jssip')
				H.ua.unregister();
			else
				await H.registerer.unregister();
			return;
		case 'call': {
			need('ua');
			if (!c.target)
				throw new Error('call needs a target');
			await connectedWithin(ms / 2);
			const pcConfig = {iceServers: H.sc.ice_servers || []};
			if (H.stack === 'jssip') {
				H.session = null;
				H.ua.call(c.target, {mediaConstraints: media,
					pcConfig: pcConfig});
				return;
			}
			const uri = SIP.UserAgent.makeURI(c.target);
			if (!uri)
				throw new Error('bad target ' + c.target);
			const inv = new SIP.Inviter(H.ua, uri, {
				sessionDescriptionHandlerOptions: {
					constraints: media}});
			H.session = inv;
			sipjsSession(inv);
			await inv.invite({requestDelegate: {
				onProgress: (r) => ev({event: 'progress',
					status: r.message.statusCode}),
				onAccept: () => ev({event: 'accepted'}),
				onReject: (r) => inv.sipjsSetStatus(
					r.message.statusCode + ' ' +
					r.message.reasonPhrase)}});
			return;
		}
		case 'answer': {
			const s = need('session');
			if (H.stack === 'jssip')
				s.answer({mediaConstraints: media,
					pcConfig: {iceServers:
						H.sc.ice_servers || []}});
			else
				await s.accept({sessionDescriptionHandlerOptions:
					{constraints: media}});
			return;
		}
		case 'hangup': {
			const s = need('session');
			if (H.stack === 'jssip') {
				if (!s.isEnded())
					s.terminate();
				return;
			}
			const St = SIP.SessionState;
			if (s.state === St.Established)
				await s.bye();
			else if (s.state === St.Initial ||
			    s.state === St.Establishing)
				await (s instanceof SIP.Inviter ?
					s.cancel() : s.reject());
			return;
		}
		case 'stats': {
			const pc = H.pcs[H.pcs.length - 1];
			if (!pc && !H.loop.length)
				throw new Error('no peer connection yet');
			const r = pc ? await pcStats(pc) : {};
			if (H.loop.length)
				r.peers = await Promise.all(H.loop.map(pcStats));
			ev(Object.assign({event: 'stats'}, r));
			return;
		}
		case 'loopback':
			await loopback(ms);
			return;
		case 'close_ws':
			need('ua');
			if (H.stack === 'jssip')
				H.ua._transport.disconnect();
			else
				await H.ua.transport.disconnect();
			return;
		default:
			throw new Error('unknown command ' + c.cmd);
		}
	};

	// Two peer connections of this page, each sending the fake microphone
	// to the other over loopback; "loopback" once both are connected.
	async function loopback(ms) {
		const cfg = {iceServers: H.sc.ice_servers || []};
		const a = new RTCPeerConnection(cfg);
		const b = new RTCPeerConnection(cfg);
		H.loop = [a, b];
		a.onicecandidate = (e) => e.candidate &&
			b.addIceCandidate(e.candidate);
		b.onicecandidate = (e) => e.candidate &&
			a.addIceCandidate(e.candidate);
		for (const pc of [a, b]) {
			const st = await navigator.mediaDevices.getUserMedia(media);
			st.getTracks().forEach((t) => pc.addTrack(t, st));
		}
		const offer = await a.createOffer();
		await a.setLocalDescription(offer);
		await b.setRemoteDescription(offer);
		const answer = await b.createAnswer();
		await b.setLocalDescription(answer);
		await a.setRemoteDescription(answer);
		const end = Date.now() + ms;
		const up = (pc) => pc.connectionState === 'connected';
		while (!(up(a) && up(b)) && Date.now() < end)
			await sleep(50);
		ev({event: 'loopback', connected: up(a) && up(b),
			states: [a.connectionState, b.connectionState]});
	}

	window.harnessReady = true;
}

// ---------------------------------------------------------------------------
// the static server

function startServer(libs)
{
	const files = {
		'/jssip.min.js': path.join(MODULES, 'jssip', 'dist',
			'jssip.min.js')};
	const sipjsLib = path.join(MODULES, 'sip.js', 'lib');
	const harness = '(' + pageHarness.toString() + ')();\n';
	const srv = http.createServer((req, res) => {
		const url = new URL(req.url, 'http://127.0.0.1');
		const p = url.pathname;
		const send = (code, type, body) => {
			res.writeHead(code, {'Content-Type': type,
				'Cache-Control': 'no-store'});
			res.end(body);
		};
		if (p === '/')
			return send(200, 'text/html; charset=utf-8',
				pageHtml(libs));
		if (p === '/favicon.ico')
			return send(204, 'text/plain', '');
		if (p === '/harness.js')
			return send(200, 'text/javascript', harness);
		let file = files[p];
		if (!file && p.startsWith('/sipjs/')) {
			file = path.normalize(path.join(sipjsLib,
				p.slice('/sipjs/'.length)));
			if (!file.startsWith(sipjsLib + path.sep))
				file = null;
		}
		if (!file)
			return send(404, 'text/plain', 'not found\n');
		fs.readFile(file, (err, data) => {
			if (err)
				send(404, 'text/plain', 'not found\n');
			else
				send(200, 'text/javascript', data);
		});
	});
	return new Promise((resolve, reject) => {
		srv.once('error', reject);
		srv.listen(0, '127.0.0.1', () => resolve(srv));
	});
}

// ---------------------------------------------------------------------------
// lifecycle (chromium.js)

async function launch(sc)
{
	const libs = sc.stack ? [sc.stack] : ['jssip', 'sipjs'];
	const server = await startServer(libs);
	state.onClose.push(() => server.close());
	const port = server.address().port;
	const ms = sc.timeout * 1000;
	const t0 = Date.now();
	const page = await launchChromium({prefix: 'sipward-chromium-',
		timeout: sc.timeout, fake_audio_file: sc.fake_audio_file});
	// JsSIP's debug lines carry %c colour directives: dropped
	page.on('console', (m) => process.stderr.write('[console.' +
		m.type() + '] ' + m.text().replace(/%c/g, '')
		.replace(/( color: (#[0-9A-Fa-f]{6}|inherit))+$/, '') + '\n'));
	page.on('pageerror', (e) => process.stderr.write('[pageerror] ' +
		(e && e.stack || e) + '\n'));
	page.on('requestfailed', (r) => process.stderr.write(
		'[requestfailed] ' + r.url() + ' ' +
		(r.failure() ? r.failure().errorText : '') + '\n'));
	await page.exposeFunction('sipwardEvent', (obj) => emit(obj));
	await page.goto('http://127.0.0.1:' + port + '/',
		{waitUntil: 'load', timeout: ms});
	await page.waitForFunction((l) => window.harnessReady &&
		(!l.includes('jssip') || window.JsSIP) &&
		(!l.includes('sipjs') || window.sipjsLoaded), {timeout: ms}, libs);
	log('page loaded in', Date.now() - t0, 'ms');
	const versions = await page.evaluate(() => window.harness.versions());
	await page.evaluate((s) => {
		window.harness.sc = s;
	}, sc);
	if (sc.ws_url)
		await page.evaluate((s) => window.harness.setup(s), sc);
	emit(Object.assign({event: 'ready', chromium_pid: state.pid,
		profile: state.profile,
		chromium: await state.browser.version()}, versions));
	return page;
}

async function main()
{
	process.on('SIGTERM', () => shutdown(143, 'SIGTERM'));
	process.on('SIGINT', () => shutdown(130, 'SIGINT'));
	process.on('uncaughtException', (e) => {
		emit({event: 'error', error: String(e && e.stack || e)});
		shutdown(1, 'uncaught exception');
	});
	process.on('unhandledRejection', (e) => {
		emit({event: 'error', error: String(e && e.stack || e)});
	});
	const next = stdinLines();

	let sc;
	try {
		const text = process.argv[2] || await next();
		if (text === null)
			return shutdown(2, 'no scenario on stdin');
		sc = JSON.parse(text);
	} catch (e) {
		emit({event: 'error', error: 'bad scenario: ' + e.message});
		return shutdown(2, 'bad scenario');
	}
	sc.timeout = Number(sc.timeout) > 0 ? Number(sc.timeout) : 20;
	if (sc.ice_servers === undefined)
		sc.ice_servers = [];

	let page;
	try {
		page = await launch(sc);
	} catch (e) {
		emit({event: 'error', error: String(e && e.message || e)});
		return shutdown(1, 'start failed');
	}

	for (;;) {
		const line = await next();
		if (line === null)
			return shutdown(0, 'stdin closed');
		if (state.closing)
			return;
		let c;
		try {
			c = JSON.parse(line);
		} catch (e) {
			emit({event: 'error', error: 'bad command: ' + line});
			continue;
		}
		if (c.cmd === 'quit')
			return shutdown(0);
		try {
			await bounded(page.evaluate((cmd) =>
				window.harness.run(cmd), c), sc.timeout * 1000,
			'command ' + c.cmd);
			emit({event: 'done', cmd: c.cmd});
		} catch (e) {
			emit({event: 'error', cmd: c.cmd,
				error: String(e && e.message || e)});
		}
	}
}

main();
