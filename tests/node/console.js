// A real browser on one web page, for the web console's tests and its
// screenshots: drives Debian's headless Chromium (/usr/bin/chromium; never a
// downloaded browser) with puppeteer-core, one command per stdin line, one
// answer or event per stdout line, so that a pytest takes it step by step
// (tests/integ/console_browser.py) and a script takes pictures
// (scripts/console-shots.py). Generic: it knows nothing of the console but
// what the commands name (CSS selectors, URLs).
//
// Usage: node console.js [OPTIONS_JSON]
//   OPTIONS_JSON (argv[2], optional): {"timeout": 20 (the default bound of
//   a command, seconds), "fake_audio_file": "/x.wav" (16-bit PCM WAV the
//   fake microphone plays instead of its beeps), "width": 1280,
//   "height": 800}
//
// Commands: {"id": N, "cmd": NAME, ...args, "timeout": seconds}. The answer
// is {"id": N, "ok": true, "result": ...} or {"id": N, "ok": false,
// "error": "...", "seen": {what the selector matched}}. Every command is
// bounded (its timeout, else the default): none hangs.
//   goto {url}                     loads url (until the load event)
//   reload {}
//   viewport {width, height, mobile}
//   click {sel}                    waits for it visible and enabled, clicks
//   type {sel, text, clear=true}   waits for it enabled, focuses it, empties
//                                  it (clear), types text key by key
//   select {sel, value}            waits for the <option value=...>, picks it
//                                  (input and change events fire)
//   check {sel, on=true}           clicks the checkbox when it is not `on`
//   key {key, sel?}                presses a key (puppeteer's names: "Tab",
//                                  "Enter", "Escape"), in sel if given
//   wait {sel, text?, attr?, value?, prop?, visible?, hidden?, gone?,
//         count?, nonempty?}       until the first match of sel has text
//                                  containing `text`; attribute `attr` ==
//                                  `value` (value null: no such attribute);
//                                  property `prop` == `value`; is visible
//                                  (hidden: is not); gone: nothing matches;
//                                  count: that many match; nonempty: a value
//                                  or text. Conditions combine (all hold).
//                                  The answer is what it saw.
//   text {sel}  attr {sel, name}  prop {sel, name}  count {sel}
//                                  read now (null when nothing matches)
//   probe {sel}                    what the first match looks like (text,
//                                  attributes, value, visible, count)
//   eval {expr}                    a JavaScript expression evaluated in the
//                                  page (through the DevTools protocol, not
//                                  subject to the page's CSP); its JSON value
//   screenshot {path, full_page}   a PNG
//   dialogs {accept, text}         what to do with alert/confirm/prompt
//                                  (default: dismiss); each is an event
//   quit {}
//
// Events (no id): ready {chromium_pid, version, profile}; console {type,
//   text, url} (every console message of the page, and Chromium's own
//   messages about it: a failed load, a CSP refusal); pageerror {text};
//   request {method, url, type} (every request the page makes);
//   websocket {url}; response {status, url, method} (any status >= 400);
//   requestfailed {url, method, error}; csp {directive, blocked, source,
//   line, sample, disposition} (a securitypolicyviolation event of the
//   page); dialog {type, text, action}; error {error} (the driver's own
//   trouble); closed {code} (the last line).
//
// It exits, closing Chromium and removing its profile directory, on "quit",
// on stdin EOF and on SIGTERM/SIGINT, within 10 s whatever happens.
'use strict';

const fs = require('fs');
const path = require('path');
const {stdinLines, emit, setLogTag, log, sleep, bounded, state,
	shutdown, launchChromium} = require('./chromium.js');

setLogTag('console.js');

class StepError extends Error {
	constructor(message, seen)
	{
		super(message);
		this.seen = seen;
	}
}

// ---------------------------------------------------------------------------
// in the page

// What the first element matching c.sel looks like, and whether c's
// condition holds. Runs in the page (serialised by puppeteer).
function probeInPage(c)
{
	let els;
	try {
		els = document.querySelectorAll(c.sel);
	} catch (e) {
		return {ok: false, bad: 'bad selector ' + c.sel + ': ' + e.message,
			seen: {count: 0}};
	}
	const el = els[0];
	const visible = (e) => {
		if (!e.isConnected || !e.checkVisibility({visibilityProperty: true,
			opacityProperty: true}))
			return false;
		const r = e.getBoundingClientRect();
		return r.width > 0 && r.height > 0;
	};
	let seen = {count: els.length};
	if (el) {
		const text = (el.textContent || '').replace(/\s+/g, ' ').trim();
		seen = {
			count: els.length,
			tag: el.tagName.toLowerCase(),
			text: text.length > 400 ? text.slice(0, 400) + '…' : text,
			attrs: Object.fromEntries([...el.attributes].map((a) =>
				[a.name, a.value.length > 200 ? a.value.slice(0, 200) +
					'…' : a.value])),
			visible: visible(el),
		};
		if ('value' in el && typeof el.value === 'string')
			seen.value = el.value;
		if ('checked' in el)
			seen.checked = el.checked;
		if ('disabled' in el)
			seen.disabled = el.disabled;
		if (c.prop && !(c.prop in seen))
			seen[c.prop] = el[c.prop] === undefined ? null : el[c.prop];
	}
	const has = (k) => c[k] !== undefined && c[k] !== null;
	let ok = true;
	if (c.gone)
		ok = els.length === 0;
	if (ok && has('count'))
		ok = els.length === c.count;
	if (ok && !c.gone && !has('count') && !el)
		ok = false;
	if (ok && el) {
		if (c.attr)
			ok = el.getAttribute(c.attr) === (c.value === undefined ?
				null : c.value);
		if (ok && c.prop)
			ok = el[c.prop] === c.value;
		if (ok && has('text'))
			ok = (el.textContent || '').replace(/\s+/g, ' ')
				.includes(c.text);
		if (ok && c.nonempty)
			ok = !!('value' in el && typeof el.value === 'string' ?
				el.value : (el.textContent || '').trim());
		if (ok && c.visible)
			ok = visible(el);
		if (ok && c.hidden)
			ok = !visible(el);
		if (ok && c.enabled)
			ok = !el.disabled && !el.closest('fieldset[disabled]') &&
				el.getAttribute('aria-disabled') !== 'true';
	}
	return {ok, seen};
}

// The page's Content-Security-Policy violations, reported to the driver.
function cspListener()
{
	const report = (e) => {
		try {
			window.sipwardCsp({directive: e.effectiveDirective ||
				e.violatedDirective, blocked: e.blockedURI,
			source: e.sourceFile, line: e.lineNumber,
			sample: e.sample, disposition: e.disposition});
		} catch (err) {
			/* the binding is not there yet: Chromium logs it too */
		}
	};
	document.addEventListener('securitypolicyviolation', report, true);
}

// ---------------------------------------------------------------------------
// lifecycle (chromium.js)

// How the page's next alert/confirm/prompt is answered (dialogs command).
const dialogOpt = {accept: false, text: undefined};

async function launch(opt)
{
	const page = await launchChromium({prefix: 'sipward-console-',
		timeout: opt.timeout,
		viewport: {width: opt.width || 1280, height: opt.height || 800,
			deviceScaleFactor: 1},
		args: ['--hide-scrollbars', '--font-render-hinting=none',
			'--lang=en-US'],
		fake_audio_file: opt.fake_audio_file});
	page.setDefaultNavigationTimeout(opt.timeout * 1000);

	await page.exposeFunction('sipwardCsp', (v) =>
		emit(Object.assign({event: 'csp'}, v)));
	await page.evaluateOnNewDocument(cspListener);
	page.on('console', (m) => {
		const loc = m.location ? m.location() : {};
		emit({event: 'console', type: m.type(),
			text: m.text().replace(/%c/g, ''),
			url: loc && loc.url || null});
	});
	page.on('pageerror', (e) => emit({event: 'pageerror',
		text: String(e && (e.stack || e.message) || e)}));
	page.on('request', (r) => emit({event: 'request', method: r.method(),
		url: r.url(), type: r.resourceType()}));
	page.on('response', (r) => {
		if (r.status() >= 400)
			emit({event: 'response', status: r.status(), url: r.url(),
				method: r.request().method()});
	});
	page.on('requestfailed', (r) => emit({event: 'requestfailed',
		url: r.url(), method: r.method(),
		error: r.failure() ? r.failure().errorText : null}));
	page.on('dialog', async (d) => {
		const accept = dialogOpt.accept;
		emit({event: 'dialog', type: d.type(), text: d.message(),
			action: accept ? 'accept' : 'dismiss'});
		try {
			if (accept)
				await d.accept(dialogOpt.text);
			else
				await d.dismiss();
		} catch (e) {
			log('dialog:', e.message);
		}
	});
	// WebSocket URLs (puppeteer's request event does not see them)
	const cdp = await page.createCDPSession();
	await cdp.send('Network.enable');
	cdp.on('Network.webSocketCreated', (e) => emit({event: 'websocket',
		url: e.url}));
	emit({event: 'ready', chromium_pid: state.pid, profile: state.profile,
		version: await state.browser.version()});
	return page;
}

// ---------------------------------------------------------------------------
// commands

async function probe(page, c)
{
	try {
		return await page.evaluate(probeInPage, c);
	} catch (e) {
		// a navigation in progress destroys the context: try again
		return {ok: false, seen: {navigating: e.message}};
	}
}

// Polls until c's condition holds (every 50 ms), or fails at the deadline
// with what it saw.
async function waitFor(page, c, ms, what)
{
	const end = Date.now() + ms;
	let last;
	for (;;) {
		last = await probe(page, c);
		if (last.bad)
			throw new StepError(last.bad, last.seen);
		if (last.ok)
			return last.seen;
		if (Date.now() >= end)
			throw new StepError((what || 'waited') + ' ' + ms / 1000 +
				' s for ' + describe(c) + '; saw ' +
				JSON.stringify(last.seen), last.seen);
		await sleep(50);
	}
}

function describe(c)
{
	const o = Object.assign({}, c);
	delete o.id;
	delete o.cmd;
	delete o.timeout;
	return JSON.stringify(o);
}

// The element c.sel names, once visible and enabled.
async function actionable(page, c, ms, what)
{
	await waitFor(page, {sel: c.sel, visible: true, enabled: true}, ms,
		what + ': waited');
	const el = await page.$(c.sel);
	if (!el)
		throw new StepError(c.sel + ' vanished', {count: 0});
	return el;
}

const commands = {
	async goto(page, c, ms) {
		const r = await page.goto(c.url, {waitUntil: c.wait_until || 'load',
			timeout: ms});
		return r ? {status: r.status(), url: r.url()} : null;
	},
	async reload(page, c, ms) {
		const r = await page.reload({waitUntil: 'load', timeout: ms});
		return r ? {status: r.status()} : null;
	},
	async viewport(page, c) {
		await page.setViewport({width: c.width, height: c.height,
			deviceScaleFactor: c.scale || 1, isMobile: !!c.mobile,
			hasTouch: !!c.mobile});
	},
	async click(page, c, ms) {
		const el = await actionable(page, c, ms, 'click ' + c.sel);
		await el.click();
		await el.dispose();
	},
	async type(page, c, ms) {
		const el = await actionable(page, c, ms, 'type in ' + c.sel);
		if (c.clear !== false) {
			await el.evaluate((e) => {
				e.focus();
				e.value = '';
				e.dispatchEvent(new Event('input', {bubbles: true}));
			});
		} else {
			await el.focus();
		}
		if (c.text)
			await el.type(String(c.text));
		await el.dispose();
	},
	async select(page, c, ms) {
		const want = String(c.value);
		await waitFor(page, {sel: c.sel, enabled: true}, ms,
			'select in ' + c.sel + ': waited');
		const end = Date.now() + ms;
		for (;;) {
			const opts = await page.$$eval(c.sel + ' option', (os) =>
				os.map((o) => o.value)).catch(() => []);
			if (opts.includes(want))
				break;
			if (Date.now() >= end)
				throw new StepError('no option ' + JSON.stringify(want) +
					' in ' + c.sel + ' within ' + ms / 1000 + ' s; ' +
					'options: ' + JSON.stringify(opts), {options: opts});
			await sleep(50);
		}
		const got = await page.select(c.sel, want);
		if (!got.includes(want))
			throw new StepError('could not select ' + want + ' in ' + c.sel,
				(await probe(page, {sel: c.sel})).seen);
	},
	async check(page, c, ms) {
		const el = await actionable(page, c, ms, 'check ' + c.sel);
		const on = c.on === undefined ? true : !!c.on;
		if (await el.evaluate((e) => e.checked) !== on)
			await el.click();
		const now = await el.evaluate((e) => e.checked);
		await el.dispose();
		if (now !== on)
			throw new StepError(c.sel + ' did not become ' +
				(on ? 'checked' : 'unchecked'), {checked: now});
	},
	async key(page, c, ms) {
		if (c.sel) {
			const el = await actionable(page, c, ms, 'key in ' + c.sel);
			await el.press(c.key);
			await el.dispose();
		} else {
			await page.keyboard.press(c.key);
		}
	},
	async wait(page, c, ms) {
		return waitFor(page, c, ms, 'waited');
	},
	async text(page, c) {
		return page.evaluate((s) => {
			const e = document.querySelector(s);
			return e ? (e.textContent || '').replace(/\s+/g, ' ').trim() :
				null;
		}, c.sel);
	},
	async attr(page, c) {
		return page.evaluate((s, n) => {
			const e = document.querySelector(s);
			return e ? e.getAttribute(n) : null;
		}, c.sel, c.name);
	},
	async prop(page, c) {
		return page.evaluate((s, n) => {
			const e = document.querySelector(s);
			if (!e)
				return null;
			const v = e[n];
			return v === undefined ? null : JSON.parse(JSON.stringify(v));
		}, c.sel, c.name);
	},
	async count(page, c) {
		return page.evaluate((s) => document.querySelectorAll(s).length,
			c.sel);
	},
	async probe(page, c) {
		const r = await probe(page, {sel: c.sel});
		if (r.bad)
			throw new StepError(r.bad, r.seen);
		return r.seen;
	},
	async eval(page, c) {
		const v = await page.evaluate(c.expr);
		return v === undefined ? null : v;
	},
	async screenshot(page, c) {
		fs.mkdirSync(path.dirname(path.resolve(c.path)), {recursive: true});
		await page.screenshot({path: c.path, fullPage: !!c.full_page,
			type: 'png', captureBeyondViewport: !!c.full_page});
		return {bytes: fs.statSync(c.path).size};
	},
	async dialogs(page, c) {
		dialogOpt.accept = !!c.accept;
		dialogOpt.text = c.text;
	},
};

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
	let opt = {};
	try {
		if (process.argv[2])
			opt = JSON.parse(process.argv[2]);
	} catch (e) {
		emit({event: 'error', error: 'bad options: ' + e.message});
		return shutdown(2, 'bad options');
	}
	opt.timeout = Number(opt.timeout) > 0 ? Number(opt.timeout) : 20;

	const next = stdinLines();

	let page;
	try {
		page = await bounded(launch(opt), 60000, 'starting Chromium');
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
			if (!c || typeof c !== 'object')
				throw new Error('not an object');
		} catch (e) {
			emit({event: 'error', error: 'bad command: ' +
				line.slice(0, 200)});
			continue;
		}
		if (c.cmd === 'quit') {
			emit({id: c.id, ok: true, result: null});
			return shutdown(0);
		}
		const fn = commands[c.cmd];
		if (!fn) {
			emit({id: c.id, ok: false, error: 'unknown command ' + c.cmd});
			continue;
		}
		const ms = (Number(c.timeout) > 0 ? Number(c.timeout) :
			opt.timeout) * 1000;
		try {
			// the command's own waits end at ms; this bound catches
			// anything else (a hung protocol call)
			const result = await bounded(fn(page, c, ms), ms + 5000,
				c.cmd + ' ' + describe(c));
			emit({id: c.id, ok: true, result: result === undefined ?
				null : result});
		} catch (e) {
			const a = {id: c.id, ok: false,
				error: String(e && e.message || e)};
			if (e instanceof StepError)
				a.seen = e.seen;
			else if (c.sel)
				a.seen = (await bounded(probe(page, {sel: c.sel}), 3000,
					'probe').catch(() => ({seen: null}))).seen;
			emit(a);
		}
	}
}

main();
