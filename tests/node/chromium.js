// What the browser drivers of the tests share (browser.js: a JsSIP or
// SIP.js page; console.js: the web console): the line protocol's output,
// bounded steps, and one headless Debian Chromium per process, launched
// through puppeteer-core (never a downloaded browser) with a throwaway
// profile, and always ended: shutdown() closes it (or kills its process
// group), removes the profile and exits within 10 s whatever happens.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const readline = require('readline');

const CHROMIUM = process.env.SIPWARD_CHROMIUM || '/usr/bin/chromium';
const MODULES = process.env.SIPWARD_NODE_MODULES ||
	path.join(__dirname, 'node_modules');

// The protocol: one JSON object per stdout line.
function emit(obj)
{
	process.stdout.write(JSON.stringify(obj) + '\n');
}

let tag = 'chromium.js';
function setLogTag(t)
{
	tag = t;
}

// Diagnostics: stderr, never stdout.
function log(...args)
{
	process.stderr.write('[' + tag + '] ' + args.join(' ') + '\n');
}

function sleep(ms)
{
	return new Promise((resolve) => setTimeout(resolve, ms));
}

// p, or a rejection after ms saying what timed out.
function bounded(p, ms, what)
{
	let timer;
	const t = new Promise((resolve, reject) => {
		timer = setTimeout(() => reject(new Error(
			what + ' did not finish within ' + ms / 1000 + ' s')), ms);
	});
	return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

// The one Chromium of this process. onClose: what to end with it (e.g. a
// page server), run by shutdown.
const state = {browser: null, pid: null, profile: null, closing: false,
	onClose: []};

function killChromium()
{
	if (!state.pid)
		return;
	// puppeteer starts Chromium as the leader of its own process group:
	// that group (Chromium and its helpers) is killed by its id
	for (const target of [-state.pid, state.pid]) {
		try {
			process.kill(target, 'SIGKILL');
		} catch (e) {
			// already gone
		}
	}
}

function removeProfile()
{
	if (!state.profile)
		return;
	try {
		fs.rmSync(state.profile, {recursive: true, force: true});
	} catch (e) {
		log('could not remove', state.profile + ':', e.message);
	}
	state.profile = null;
}

// Ends Chromium and this process with code (emits "closed" last).
async function shutdown(code, why)
{
	if (state.closing)
		return;
	state.closing = true;
	if (why)
		log('exiting:', why);
	// whatever happens below, the process ends within 10 s
	setTimeout(() => {
		killChromium();
		removeProfile();
		process.exit(code);
	}, 10000).unref();
	if (state.browser) {
		try {
			await bounded(state.browser.close(), 5000,
				'closing Chromium');
		} catch (e) {
			log(e.message, '- killing it');
		}
		killChromium();
		// the profile is removable once Chromium is gone
		const p = state.browser.process();
		if (p && p.exitCode === null && p.signalCode === null)
			await bounded(new Promise((r) => p.once('exit', r)),
				3000, 'Chromium exit').catch(() => {});
	}
	removeProfile();
	for (const fn of state.onClose) {
		try {
			fn();
		} catch (e) {
			log('on close:', e.message);
		}
	}
	emit({event: 'closed', code: code});
	process.stdout.write('', () => process.exit(code));
}

// Starts Chromium and returns its first page, every step bounded by
// opt.timeout seconds. opt: prefix (of the profile directory), timeout,
// args (more command line flags), viewport, fake_audio_file (a WAV the
// fake microphone plays). Chromium going away unasked ends the process.
async function launchChromium(opt)
{
	let puppeteer;
	try {
		puppeteer = require(path.join(MODULES, 'puppeteer-core'));
	} catch (e) {
		throw new Error('puppeteer-core not found under ' + MODULES +
			' (set SIPWARD_NODE_MODULES; scripts/npm-deps.sh ' +
			'installs it): ' + e.message);
	}
	state.profile = fs.mkdtempSync(path.join(os.tmpdir(), opt.prefix));
	const ms = opt.timeout * 1000;
	const t0 = Date.now();
	state.browser = await puppeteer.launch({
		executablePath: CHROMIUM,
		headless: true,
		userDataDir: state.profile,
		timeout: 30000,
		protocolTimeout: Math.max(ms * 2, 30000),
		handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false,
		defaultViewport: opt.viewport,
		args: ['--headless=new', '--no-sandbox',
			'--ignore-certificate-errors',
			'--use-fake-device-for-media-stream',
			'--use-fake-ui-for-media-stream',
			'--allow-loopback-in-peer-connection',
			'--autoplay-policy=no-user-gesture-required',
			'--disable-background-networking',
			'--disable-component-update', '--disable-sync',
			'--disable-quic', '--no-first-run', '--disable-gpu']
			.concat(opt.args || [])
			.concat(opt.fake_audio_file ?
				['--use-file-for-fake-audio-capture=' +
				 opt.fake_audio_file] : [])});
	const proc = state.browser.process();
	state.pid = proc ? proc.pid : null;
	log('Chromium', state.pid, 'up in', Date.now() - t0, 'ms');
	state.browser.on('disconnected', () => {
		if (!state.closing) {
			emit({event: 'error', error: 'Chromium went away'});
			shutdown(1, 'Chromium went away');
		}
	});
	const pages = await state.browser.pages();
	const page = pages[0] || await state.browser.newPage();
	page.setDefaultTimeout(ms);
	return page;
}

// The commands on stdin, one non-empty line at a time: next() resolves
// to the next line, or null at end of input.
function stdinLines()
{
	const rl = readline.createInterface({input: process.stdin});
	const lines = [];
	let wake = null;
	let eof = false;
	rl.on('line', (l) => {
		if (l.trim() === '')
			return;
		lines.push(l);
		if (wake)
			wake();
	});
	rl.on('close', () => {
		eof = true;
		if (wake)
			wake();
	});
	return async () => {
		while (!lines.length && !eof)
			await new Promise((r) => {
				wake = r;
			});
		wake = null;
		return lines.length ? lines.shift() : null;
	};
}

module.exports = {stdinLines, CHROMIUM, MODULES, emit, setLogTag, log, sleep, bounded,
	state, shutdown, launchChromium};
