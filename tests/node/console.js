// Drives one page of a real browser for the web console's tests: Debian's
// headless Chromium through puppeteer-core (never a downloaded browser),
// line by line over stdin/stdout, so that a pytest takes it step by step
// (tests/integ/console_browser.py).
//
// Usage: node console.js
//   stdin: one command per line, JSON {"id": N, "cmd": ..., ...}; stdout:
//   one line per answer {"id": N, "ok": true, "result": ...} or {"id": N,
//   "ok": false, "error": "..."}, and events without an id:
//   {"event": "ready", "chromium_pid"}, "console" (type, text),
//   "pageerror", "requestfailed", "response" (status >= 400), "request"
//   (every URL the page asks for), "csp" (a Content-Security-Policy
//   violation), "dialog", "closed".
//
// Commands (every one bounded by its timeout, seconds, default 20):
//   goto {url}; viewport {width, height}; click {sel}; type {sel, text,
//   clear}; select {sel, value}; check {sel, on}; press {key};
//   wait {sel, text?, attr?, value?, prop?, gone?, count?} (until the
//   first element matching sel has text containing `text`, attribute
//   `attr` == `value`, property `prop` == `value`; nonempty: a value or
//   text; gone: no element
//   matches; count: that many match); read {sel, attr?, prop?} (text, an
//   attribute or a property of the first match, null without one);
//   count {sel}; eval {expr} (a JavaScript expression, its JSON value);
//   screenshot {path, full_page}; quit.
//   A wait that times out says what it saw instead (the element's text
//   and attributes, or that nothing matched).
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const readline = require('readline');

const CHROMIUM = process.env.SIPWARD_CHROMIUM || '/usr/bin/chromium';
const MODULES = process.env.SIPWARD_NODE_MODULES ||
	path.join(__dirname, 'node_modules');
const puppeteer = require(path.join(MODULES, 'puppeteer-core'));

function emit(obj)
{
	process.stdout.write(JSON.stringify(obj) + '\n');
}

function bounded(p, ms, what)
{
	let timer;
	const t = new Promise((resolve, reject) => {
		timer = setTimeout(() => reject(new Error(
			what + ' did not finish within ' + ms / 1000 + ' s')), ms);
	});
	return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

// Runs in the page: whether the condition holds, and what is there.
function probe(c)
{
	const els = document.querySelectorAll(c.sel);
	const el = els[0];
	const seen = el ? {
		text: (el.textContent || '').trim().slice(0, 300),
		attrs: Object.fromEntries([...el.attributes].map((a) =>
			[a.name, a.value])),
		value: 'value' in el ? el.value : undefined,
		count: els.length,
	} : {count: 0};
	let ok;
	if (c.gone)
		ok = els.length === 0;
	else if (c.count !== undefined && c.count !== null)
		ok = els.length === c.count;
	else if (!el)
		ok = false;
	else if (c.attr)
		ok = el.getAttribute(c.attr) === c.value;
	else if (c.prop)
		ok = el[c.prop] === c.value;
	else if (c.text !== undefined && c.text !== null)
		ok = (el.textContent || '').includes(c.text);
	else if (c.nonempty)
		ok = !!('value' in el ? el.value : el.textContent);
	else
		ok = true;
	return {ok, seen};
}

async function main()
{
	const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-console-'));
	const browser = await puppeteer.launch({
		executablePath: CHROMIUM,
		headless: true,
		userDataDir: profile,
		args: ['--no-sandbox', '--use-fake-ui-for-media-stream',
			'--use-fake-device-for-media-stream',
			'--autoplay-policy=no-user-gesture-required',
			'--ignore-certificate-errors', '--no-first-run',
			'--disable-background-networking'],
	});
	let closing = false;
	const close = async (code) => {
		if (closing)
			return;
		closing = true;
		try {
			await bounded(browser.close(), 10000, 'closing Chromium');
		} catch (e) {
			try {
				process.kill(browser.process().pid, 'SIGKILL');
			} catch (e2) {
				/* gone */
			}
		}
		fs.rmSync(profile, {recursive: true, force: true});
		emit({event: 'closed'});
		process.exit(code);
	};
	process.on('SIGTERM', () => close(0));
	process.on('SIGINT', () => close(0));

	const page = await browser.newPage();
	page.setDefaultTimeout(20000);
	await page.exposeFunction('sipwardCsp', (v) => emit({event: 'csp', ...v}));
	await page.evaluateOnNewDocument(() => {
		document.addEventListener('securitypolicyviolation', (e) =>
			window.sipwardCsp({directive: e.violatedDirective,
				blocked: e.blockedURI, source: e.sourceFile,
				line: e.lineNumber}));
	});
	page.on('console', (m) => emit({event: 'console', type: m.type(),
		text: m.text()}));
	page.on('pageerror', (e) => emit({event: 'pageerror',
		text: String(e && e.message || e)}));
	page.on('requestfailed', (r) => emit({event: 'requestfailed',
		url: r.url(), error: r.failure() && r.failure().errorText}));
	page.on('request', (r) => emit({event: 'request', method: r.method(),
		url: r.url()}));
	page.on('response', (r) => {
		if (r.status() >= 400)
			emit({event: 'response', status: r.status(), url: r.url()});
	});
	page.on('dialog', (d) => {
		emit({event: 'dialog', type: d.type(), text: d.message()});
		d.dismiss().catch(() => {});
	});

	const cmds = {
		async goto(c) {
			await page.goto(c.url, {waitUntil: 'load'});
		},
		async viewport(c) {
			await page.setViewport({width: c.width, height: c.height});
		},
		async click(c) {
			const el = await page.waitForSelector(c.sel, {visible: true});
			await el.click();
		},
		async type(c) {
			const el = await page.waitForSelector(c.sel, {visible: true});
			if (c.clear !== false)
				await el.evaluate((e) => {
					e.value = '';
				});
			await el.type(c.text);
		},
		async select(c) {
			await page.waitForSelector(c.sel + ' option[value="' +
				String(c.value).replace(/"/g, '\\"') + '"]');
			await page.select(c.sel, c.value);
		},
		async check(c) {
			const el = await page.waitForSelector(c.sel);
			const on = await el.evaluate((e) => e.checked);
			if (on !== !!c.on)
				await el.click();
		},
		async press(c) {
			await page.keyboard.press(c.key);
		},
		async wait(c, ms) {
			const end = Date.now() + ms;
			let last = null;
			for (;;) {
				try {
					last = await page.evaluate(probe, c);
				} catch (e) {
					last = {ok: false, seen: 'navigating: ' + e.message};
				}
				if (last.ok)
					return last.seen;
				if (Date.now() >= end)
					throw new Error('waited ' + ms / 1000 + ' s for ' +
						JSON.stringify(c) + '; saw ' +
						JSON.stringify(last.seen));
				await new Promise((r) => setTimeout(r, 100));
			}
		},
		async read(c) {
			return page.evaluate((c) => {
				const el = document.querySelector(c.sel);
				if (!el)
					return null;
				if (c.attr)
					return el.getAttribute(c.attr);
				if (c.prop)
					return el[c.prop];
				return (el.textContent || '').trim();
			}, c);
		},
		async count(c) {
			return page.evaluate((s) => document.querySelectorAll(s).length,
				c.sel);
		},
		async eval(c) {
			return page.evaluate(c.expr);
		},
		async screenshot(c) {
			await page.screenshot({path: c.path, fullPage: !!c.full_page});
		},
	};

	emit({event: 'ready', chromium_pid: browser.process().pid,
		version: await browser.version()});
	const rl = readline.createInterface({input: process.stdin});
	for await (const line of rl) {
		if (!line.trim())
			continue;
		let c;
		try {
			c = JSON.parse(line);
		} catch (e) {
			emit({ok: false, error: 'not JSON: ' + line.slice(0, 100)});
			continue;
		}
		if (c.cmd === 'quit')
			break;
		const fn = cmds[c.cmd];
		const ms = (c.timeout || 20) * 1000;
		if (!fn) {
			emit({id: c.id, ok: false, error: 'unknown command ' + c.cmd});
			continue;
		}
		try {
			const result = await bounded(fn(c, ms), ms + 5000, c.cmd);
			emit({id: c.id, ok: true, result: result === undefined ?
				null : result});
		} catch (e) {
			emit({id: c.id, ok: false, error: String(e && e.message || e)});
		}
	}
	await close(0);
}

main().catch((e) => {
	emit({event: 'fatal', error: String(e && e.stack || e)});
	process.exit(1);
});
